// End-to-end tests of the drill-down: a user opens the discordant pairs of
// `length` on SummEval from the factor table and sees both responses with
// the novel words highlighted; opens a judge's disagreements after a judge
// run against the mock LLM server. The list is virtualised: only the rows
// in view are in the DOM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setup, newPage, waitForReport, shot, startMock, DATA, SHOTS, openModels } from './helpers.mjs';

const SUMMEVAL = join(DATA, 'summeval', 'summeval.jsonl');
const KEY = 'sk-test-e2e-drill';

let env;
let mock;
before(async () => {
  env = await setup();
  mock = await startMock(['--require-key', KEY]);
});
after(async () => {
  await mock.close();
  await env.close();
});

test('the discordant pairs of length on SummEval: counts as in the table, a virtualised list, novel words highlighted', async () => {
  const page = await newPage(env.browser, { viewport: { width: 1200, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.setInputFiles('#file-input', SUMMEVAL);
  await waitForReport(page, 'summeval');
  const row = '#factor-table tr[data-factor="length"]';
  const cells = await page.$$eval(`${row} td button[data-drill]`, (bs) => bs.map((b) => [b.dataset.drill, b.textContent.trim()]));
  const discordant = cells.filter(([k]) => k === 'discordant').map(([, t]) => t).find((t) => /^\d+$/.test(t));
  assert.ok(discordant && Number(discordant) > 1000, `D of length: ${JSON.stringify(cells)}`);
  // The score opens the discordant pairs too; use the D cell.
  await page.click(`${row} td:nth-of-type(5) button`);
  await page.waitForSelector('#drill');
  await page.waitForFunction(() => /^\d+ of \d+ pairs discordant/.test(document.getElementById('drill-count')?.textContent ?? ''));
  const count = await page.textContent('#drill-count');
  assert.match(count, new RegExp(`^${discordant} of 11342 pairs discordant`));
  assert.match(await page.textContent('#drill-h'), /^Pairs behind length for human$/i);
  assert.match(await page.textContent('.drill-kinds button[data-kind="discordant"]'), new RegExp(`\\(${discordant}\\)`));
  // Virtualised: thousands of pairs, a few dozen rows in the DOM.
  await page.waitForSelector('#drill-list button.drill-row[data-pair]');
  const inDom = await page.$$eval('#drill-list .drill-row', (r) => r.length);
  assert.ok(inDom > 5 && inDom < 40, `rows in the DOM: ${inDom}`);
  const spacer = await page.$eval('#drill-list .drill-spacer', (s) => parseFloat(s.style.height));
  assert.equal(spacer, Number(discordant) * 30);
  // Scroll to the end: the last rows come from the worker, still few in the DOM.
  await page.$eval('#drill-list', (el) => { el.scrollTop = el.scrollHeight; });
  await page.waitForFunction((n) => document.querySelector(`#drill-list .drill-row[data-index="${n - 1}"][data-pair]`), Number(discordant));
  assert.ok((await page.$$eval('#drill-list .drill-row', (r) => r.length)) < 40);
  await page.$eval('#drill-list', (el) => { el.scrollTop = 0; });
  await page.waitForSelector('#drill-list .drill-row[data-index="0"][data-pair]');
  // Every row listed is discordant: the preferred response is the shorter one.
  const first = await page.$$eval('#drill-list button.drill-row[data-pair]', (rs) => rs.slice(0, 5).map((r) => r.textContent));
  for (const t of first) {
    assert.match(t, /^discordant pair \d+/);
    const m = t.match(/people: (A|B) · A (\d+) vs B (\d+)/);
    assert.ok(m, t);
    const [a, b] = [Number(m[2]), Number(m[3])];
    assert.ok(m[1] === 'A' ? a < b : b < a, `discordant: ${t}`);
  }
  // A pair: both responses, the preferred one marked, novel words highlighted.
  await page.click('#drill-list button.drill-row[data-pair]');
  await page.waitForSelector('#drill-evidence .response[data-side="B"]');
  const marks = await page.$$eval('#drill-evidence mark.novel', (ms) => ms.map((m) => m.textContent));
  assert.ok(marks.length > 0, 'novel words highlighted');
  assert.ok(marks.every((m) => m.trim() === m && m.length > 0 && !m.includes(' ')), JSON.stringify(marks));
  const sideA = await page.textContent('#drill-evidence .response[data-side="A"] p.small');
  const nA = Number(sideA.match(/(\d+) distinct novel stems/)[1]);
  assert.ok(nA > 0);
  assert.equal(await page.$$eval('#drill-evidence .response.preferred', (x) => x.length), 1);
  assert.match(await page.textContent('#drill-evidence'), /no model answers for this data in this page: atomic facts, fact-check verdicts and response-level judgements are not available/);
  // Another factor's list: novel words of the same file, counts from the table.
  const nwD = await page.textContent('#factor-table tr[data-factor="novel_words"] td:nth-of-type(5) button');
  await page.click('#factor-table tr[data-factor="novel_words"] td:nth-of-type(5) button');
  await page.waitForFunction((n) => (document.getElementById('drill-count')?.textContent ?? '').startsWith(`${n} of 11342 pairs discordant`), nwD.trim());
  await page.click('#drill-list button.drill-row[data-pair]');
  await page.waitForSelector('#drill-evidence mark.novel');
  await page.$eval('#drill', (el) => el.scrollIntoView());
  await shot(page, '40-drill-summeval-novel-words');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("a judge's disagreements with people, and its factor pairs, after a run against the mock", async () => {
  await mock.reset();
  await mock.faults({});
  const page = await newPage(env.browser, { viewport: { width: 1200, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await openModels(page);
  await page.selectOption('#llm-provider', 'openai');
  await page.fill('#llm-base-url', `${mock.url}/v1`);
  await page.fill('#llm-key', KEY);
  await page.fill('#llm-sample', '1');
  await page.check('#llm-kind-judge');
  await page.click('#llm-run');
  const judge = '#alignment-table tr[data-agent="gpt-4o-mini (judge)"]';
  await page.waitForSelector(judge, { timeout: 60_000 });
  const covered = await page.textContent(`${judge} td:nth-last-of-type(2)`);
  const n = Number(covered.match(/^(\d+) \//)[1]);
  assert.ok(n >= 5, covered);
  // The mock answers "1" in both orders: every verdict is a position flip (a
  // tie), so the judge disagrees with people on every pair.
  await page.click(`${judge} button[data-drill="disagrees"]`);
  await page.waitForFunction(() => /^\d+ of \d+ pairs disagrees with people/.test(document.getElementById('drill-count')?.textContent ?? ''));
  assert.equal(await page.textContent('#drill-count'), `${n} of ${n} pairs disagrees with people. Pick one to see both responses.`);
  assert.equal(await page.textContent('#drill-h'), 'gpt-4o-mini (judge): verdicts against people');
  assert.match(await page.textContent('.drill-kinds button[data-kind="agrees"]'), /\(0\)/);
  // Every one of them named the response shown first in both orders.
  assert.match(await page.textContent('.drill-kinds button[data-kind="followed_position"]'), new RegExp(`followed the position \\(${n}\\)`));
  await page.click('.drill-kinds button[data-kind="followed_position"]');
  await page.waitForFunction(() => /^\d+ of \d+ pairs followed the position/.test(document.getElementById('drill-count')?.textContent ?? ''));
  assert.equal(await page.textContent('#drill-count'), `${n} of ${n} pairs followed the position. Pick one to see both responses.`);
  assert.match(await page.textContent('#drill-list button.drill-row[data-pair]'), /named the response shown first in both orders/);
  await page.$eval('#drill', (el) => el.scrollIntoView());
  await shot(page, '42-drill-followed-position');
  await page.click('.drill-kinds button[data-kind="disagrees"]');
  await page.waitForFunction(() => /^\d+ of \d+ pairs disagrees with people/.test(document.getElementById('drill-count')?.textContent ?? ''));
  await page.click('#drill-list button.drill-row[data-pair]');
  await page.waitForSelector('#drill-evidence .response[data-side="A"]');
  assert.match(await page.textContent('#drill-evidence p.small'), /people prefer (A|B) · gpt-4o-mini \(judge\): tie/);
  assert.match(await page.textContent('#drill-evidence'), /the judge's raw replies are in this browser's answer cache/);
  // The judge's pairs for length: its ties are T when the lengths differ.
  await page.selectOption('#drill-agent', 'gpt-4o-mini (judge)');
  await page.waitForFunction(() => /^Pairs behind length for gpt-4o-mini \(judge\)$/i.test(document.getElementById('drill-h')?.textContent ?? ''));
  await page.click('.drill-kinds button[data-kind="tied"]');
  await page.waitForFunction(() => /^\d+ of \d+ pairs tied/.test(document.getElementById('drill-count')?.textContent ?? ''));
  const tied = Number((await page.textContent('#drill-count')).match(/^(\d+)/)[1]);
  // As the alignment's heatmap counts them: the judge agent's T for length.
  assert.ok(tied > 0 && tied <= n, `tied ${tied} of ${n}`);
  await page.$eval('#drill', (el) => el.scrollIntoView());
  await shot(page, '41-drill-judge-disagreements');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('an LLM factor from the chart: the facts with verdicts the run gave, the raw reply one click away, as text', async () => {
  await mock.reset();
  await mock.faults({});
  // The atomic facts of response A of the first pair, one of them markup.
  const HOSTILE = 'The council met <img src=x onerror="window.__pwned=1"> on Tuesday.';
  const FACTS = [HOSTILE, 'The vote was 9-4.'];
  await mock.replies([{ match: '<<<TEXT\nOn Tuesday night, after a three-hour meeting', json: { facts: FACTS } }]);
  const page = await newPage(env.browser, { viewport: { width: 1200, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await openModels(page);
  await page.selectOption('#llm-provider', 'openai');
  await page.fill('#llm-base-url', `${mock.url}/v1`);
  await page.fill('#llm-key', KEY);
  await page.fill('#llm-sample', '');
  await page.check('#llm-kind-extract');
  await page.click('#llm-run');
  await page.waitForSelector('#llm-progress[data-state="finished"]', { timeout: 120_000 });
  // Pair 0 of the open list, in whichever kind it is.
  const pickPairZero = async () => {
    for (const kind of ['concordant', 'discordant', 'tied', 'dropped', 'missing']) {
      await page.click(`.drill-kinds button[data-kind="${kind}"]`);
      await page.waitForFunction((k) => new RegExp(`^\\d+ of \\d+ pairs ${k}`).test(document.getElementById('drill-count')?.textContent ?? ''), kind);
      if (await page.$('#drill-list button.drill-row[data-pair="0"]')) {
        await page.click('#drill-list button.drill-row[data-pair="0"]');
        return;
      }
    }
    assert.fail('pair 0 is listed under none of the kinds');
  };
  const side = '#drill-evidence .response[data-side="A"] .model-evidence';
  // A bar of the chart opens the pairs behind its score: # facts, the
  // facts of the run, without checks.
  await page.click('#factor-chart g.bar-row[data-factor="n_facts"] text.label');
  await page.waitForFunction(() => /^Pairs behind # facts for human$/i.test(document.getElementById('drill-h')?.textContent ?? ''));
  assert.equal(await page.getAttribute('.drill-kinds button[data-kind="discordant"]', 'aria-pressed'), 'true');
  await pickPairZero();
  await page.waitForSelector(`${side} .checked-facts li`);
  assert.deepEqual(await page.$$eval(`${side} .checked-facts .fact-text`, (x) => x.map((e) => e.textContent)), FACTS);
  assert.equal(await page.$$eval(`${side} .verdict`, (x) => x.length), 0);
  assert.match(await page.textContent('#drill-evidence .response[data-side="A"] p.small'), /^# facts: 2 ·/i);
  // Hallucination, from the table: the facts with the checks' verdicts.
  await page.click('#factor-table tr[data-factor="hallucination"] button[data-drill]');
  await page.waitForFunction(() => /^Pairs behind hallucination for human$/i.test(document.getElementById('drill-h')?.textContent ?? ''));
  await pickPairZero();
  await page.waitForSelector(`${side} .checked-facts li`);
  // The facts are the run's answer, as text: the markup is not an element.
  assert.deepEqual(await page.$$eval(`${side} .checked-facts .fact-text`, (x) => x.map((e) => e.textContent)), FACTS);
  assert.equal(await page.$$eval('#drill-evidence img', (x) => x.length), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  // Each fact has the verdicts of the checks asked (the mock answers yes).
  const verdicts = await page.$$eval(`${side} .checked-facts li`, (li) => li.map((l) => [...l.querySelectorAll('.verdict')].map((v) => `${v.dataset.check}:${v.textContent}`)));
  for (const v of verdicts) assert.deepEqual(v, ['supported:supported', 'main_focus:on focus'], JSON.stringify(verdicts));
  // The value shown is the share of facts found hallucinated.
  assert.match(await page.textContent('#drill-evidence .response[data-side="A"] p.small'), /^hallucination: 0 ·/i);
  // The raw replies: the facts answer, then the checks.
  const links = await page.$$eval(`${side} .raw-open`, (b) => b.map((x) => x.textContent));
  assert.deepEqual(links, ['Raw reply: atomic facts of the response', 'Raw reply: fact checks']);
  await page.click(`${side} .raw-open[data-question="0"]`);
  await page.waitForSelector(`${side} .raw-reply pre.raw-text`);
  const raw = await page.$eval(`${side} .raw-reply pre.raw-text`, (p) => ({ text: p.textContent, children: p.childElementCount, max: getComputedStyle(p).maxHeight, overflow: getComputedStyle(p).overflowY }));
  assert.deepEqual(JSON.parse(raw.text), { facts: FACTS });
  assert.equal(raw.children, 0, 'the reply is one text node');
  assert.equal(raw.overflow, 'auto');
  assert.ok(parseFloat(raw.max) > 0 && parseFloat(raw.max) <= 300, raw.max);
  assert.equal(await page.$$eval('#drill-evidence img', (x) => x.length), 0);
  assert.ok(!(await page.textContent('#drill')).includes(KEY), 'no key in the panel');
  await page.$eval(`${side} .raw-reply`, (el) => el.scrollIntoView({ block: 'center' }));
  await shot(page, '43-drill-llm-evidence');
  await page.locator('#drill-evidence').screenshot({ path: join(SHOTS, '43-drill-llm-evidence-panel.png') });
  await page.click(`${side} .raw-open[data-question="1"]`);
  await page.waitForFunction((s) => /response_facts/.test(document.querySelector(`${s} .raw-reply pre.raw-text`)?.textContent ?? ''), side);
  await page.click(`${side} .raw-close`);
  await page.waitForSelector(`${side} .raw-reply`, { state: 'detached' });
  await mock.replies([]);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
