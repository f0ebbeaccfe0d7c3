// LLM factors defined by a question (issue 15 §1) in the app: a factor pack
// with `llm_yes_no` and `llm_rating` factors loads from a file (listed as
// needing a model until one runs), the language-model panel estimates and
// runs exactly their questions against the mock server (one call per factor
// and unique response: these questions see the response only), the table
// and the export get their scores — the CLI's on the same sample — and a
// re-run makes no call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, newPage, waitForReport, tableScores, cliReport, fmt, shot, startMock, openModels, ROOT } from './helpers.mjs';

const EXAMPLE = join(ROOT, 'www', 'example', 'example.jsonl');
const KEY = 'sk-test-pack-llm';
const PACK = {
  version: 1,
  factors: [
    { id: 'mentions_money', name: 'mentions money', kind: 'llm_yes_no', question: 'Does the response mention an amount of money?' },
    { id: 'tone_rating', name: 'tone', kind: 'llm_rating', question: 'How neutral is the tone of the response?' },
  ],
};
const FACTORS = 'length,mentions_money,tone_rating';

let env;
let mock;
let packFile;
before(async () => {
  env = await setup();
  mock = await startMock();
  const dir = mkdtempSync(join(tmpdir(), 'profile-pack-llm-'));
  packFile = join(dir, 'pack-llm.json');
  writeFileSync(packFile, JSON.stringify(PACK));
});
after(async () => {
  await mock.close();
  await env.close();
});

/**
 * The mock's scripted answers (the first match wins): the rating by how the
 * response begins (it follows the question's block), else 2; yes when the
 * response mentions pounds, else no.
 */
async function script() {
  await mock.replies([
    { match: `${PACK.factors[1].question}\nQUESTION>>>\n\n<<<RESPONSE\nThe`, text: '4' },
    { match: 'Answer with one digit from 1 to 5.', text: '2' },
    { match: '£', text: 'yes' },
    { match: 'Answer yes or no.', text: 'no' },
  ]);
}

function numberAfter(text, label) {
  const m = text.match(new RegExp(`(\\d+) ${label}`));
  assert.ok(m, `no "${label}" in: ${text}`);
  return Number(m[1]);
}

test('custom LLM factors: loaded from a pack, estimated, run by the model panel, scored as the CLI does', async () => {
  await mock.reset();
  await script();
  // The pack file is accepted; without a model its factors wait for one.
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.setInputFiles('#pack-file', packFile);
  await page.waitForSelector('.pack-loaded');
  assert.equal((await page.$$('.pack-errors li')).length, 0);
  await page.waitForFunction(() => (document.querySelector('#skipped-factors')?.textContent || '').includes('mentions money'), null, { timeout: 60_000 });
  assert.equal(await page.$$eval('.factor-picker label.custom .badge', (b) => b.length), 2);

  // The link with only these factors; the model panel runs them.
  const url = page.url().replace(/&factors=[^&]*/, '') + `&factors=${FACTORS}`;
  await page.context().close();
  const p2 = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await p2.goto(url);
  await waitForReport(p2, 'example');
  await openModels(p2);
  await p2.selectOption('#llm-provider', 'openai');
  await p2.fill('#llm-base-url', `${mock.url}/v1`);
  await p2.fill('#llm-key', KEY);
  await p2.fill('#llm-sample', '2');
  await p2.click('#llm-estimate');
  await p2.waitForSelector('#llm-estimate-text');
  const est = await p2.textContent('#llm-estimate-text');
  const questions = numberAfter(est, 'questions for');
  const responses = numberAfter(est, 'unique responses');
  // Two custom factors that see the response only: one call each per unique response.
  assert.equal(questions, 2 * responses, est);
  assert.match(est, /; 0 cached/);

  await p2.click('#llm-run');
  await p2.waitForSelector('#llm-progress[data-state="finished"], #llm-error', { timeout: 120_000 });
  const summary = await p2.textContent('#llm-summary');
  await shot(p2, '60-pack-llm-run');
  assert.equal(numberAfter(summary, 'calls,'), questions, summary);
  assert.equal(numberAfter(summary, 'failed;'), 0, summary);
  assert.equal((await mock.stats()).total, questions, 'the mock answered exactly the estimated calls');
  await p2.waitForSelector('#factor-table tbody tr[data-factor="mentions_money"]', { timeout: 60_000 });
  const shown = await tableScores(p2);
  // Both factors have a score (the scripted values differ within some pairs).
  assert.ok(shown.tone_rating && shown.tone_rating !== '—', JSON.stringify(shown));
  assert.ok(shown.mentions_money && shown.mentions_money !== '—', JSON.stringify(shown));

  // The export records the pack and the scores.
  const [dl] = await Promise.all([p2.waitForEvent('download'), p2.click('#export-json')]);
  const exported = JSON.parse(readFileSync(await dl.path(), 'utf8'));
  assert.equal(exported.config.factor_pack.factors[0].question, PACK.factors[0].question);
  const human = exported.agents.find((a) => a.name === 'human');
  assert.ok(human.factor_scores.mentions_money && human.factor_scores.tone_rating, JSON.stringify(human.factor_scores));
  assert.ok(exported.factors.find((m) => m.id === 'tone_rating').custom);

  // A re-run is answered from the browser's cache.
  const before = (await mock.stats()).total;
  await p2.click('#llm-run');
  await p2.waitForFunction(() => /(^|\D)0 calls,/.test(document.querySelector('#llm-summary')?.textContent || ''), null, { timeout: 60_000 });
  assert.equal((await mock.stats()).total, before, 'zero new calls');

  // The CLI on the same sample gives the same scores.
  process.env.OPENAI_API_KEY = KEY;
  const cli = cliReport(EXAMPLE, ['--factor-pack', packFile, '--factors', FACTORS, '--provider', 'openai',
    '--model', exported.llm.model, '--base-url', `${mock.url}/v1`, '--sample', '2', '--quiet',
    '--cache-dir', mkdtempSync(join(tmpdir(), 'profile-pack-llm-cache-'))]);
  const cliHuman = cli.agents.find((a) => a.name === 'human');
  for (const f of ['mentions_money', 'tone_rating']) {
    assert.equal(shown[f], fmt(cliHuman.factor_scores[f].score), f);
    assert.deepEqual(human.factor_scores[f], cliHuman.factor_scores[f], f);
  }
  assert.deepEqual(p2.problems.filter((p) => !/Failed to load resource/.test(p)), []);
  await p2.context().close();
});
