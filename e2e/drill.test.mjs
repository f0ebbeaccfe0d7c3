// End-to-end tests of the drill-down: a user opens the discordant pairs of
// `length` on SummEval from the factor table and sees both responses with
// the novel words highlighted; opens a judge's disagreements after a judge
// run against the mock LLM server. The list is virtualised: only the rows
// in view are in the DOM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setup, newPage, waitForReport, shot, startMock, DATA, openModels } from './helpers.mjs';

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
