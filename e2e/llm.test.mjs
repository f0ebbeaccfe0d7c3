// End-to-end tests of model runs in the app against the project's mock LLM
// server (tests/mock_llm/server.py): settings, the key's handling, estimate,
// a run with injected faults, failures with raw replies, retry, pause and
// cancel, reload → zero new calls, cache and annotation sharing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, newPage, waitForReport, shot, startMock, cliReport, tableScores, fmt, openModels } from './helpers.mjs';

const EXAMPLE = join(process.cwd(), 'www', 'example', 'example.jsonl');

const KEY = 'sk-test-e2e-5f1b2c';

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

/** Fills the model form: OpenAI wire format pointed at the mock. */
async function configure(page, { provider = 'openai', sample = '2', attempts = '3', timeout = '2', key = KEY, model, url = mock.url } = {}) {
  await openModels(page);
  await page.selectOption('#llm-provider', provider);
  if (model) await page.fill('#llm-model', model);
  await page.fill('#llm-base-url', provider === 'openai' || provider === 'openai-compatible' ? `${url}/v1` : url);
  await page.fill('#llm-key', key);
  await page.fill('#llm-sample', sample);
  if (!(await page.$eval('.advanced', (d) => d.open))) await page.click('.advanced summary');
  await page.fill('#llm-attempts', attempts);
  await page.fill('#llm-timeout', timeout);
}

async function runAndWait(page, button = '#llm-run') {
  await page.click(button);
  await page.waitForSelector('#llm-progress[data-state="finished"], #llm-progress[data-state="cancelled"], #llm-error', { timeout: 120_000 });
  return page.textContent('#llm-summary');
}

function numberAfter(text, label) {
  const m = text.match(new RegExp(`(\\d+) ${label}`));
  assert.ok(m, `no "${label}" in: ${text}`);
  return Number(m[1]);
}

test('a model run with 30% injected faults: every item done or listed, retry completes it, a reload makes zero calls, the key never leaks', async () => {
  await mock.reset();
  await mock.faults({ rate: 0.3, seed: 11, retry_after: 0.2, timeout_s: 4, kinds: ['429', '500', 'timeout', 'malformed', 'truncated', 'wrong_shape', 'prose_fences'] });
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  assert.ok((await page.$$('#skipped-factors li')).length > 0);
  await configure(page, { attempts: '2' });

  await page.click('#llm-estimate');
  await page.waitForSelector('#llm-estimate-text');
  const est = await page.textContent('#llm-estimate-text');
  // A sample of 2 inputs (of 8), with all their pairs.
  assert.match(est, /^1[0-2] pairs: \d+ questions for \d+ unique responses and \d+ sources; 0 cached/);

  const summary = await runAndWait(page);
  await shot(page, '20-llm-fault-run');
  const questions = numberAfter(summary, 'questions on');
  const failed = numberAfter(summary, 'failed;');
  const calls = numberAfter(summary, 'calls,');
  assert.ok(questions > 0 && calls >= questions - failed, summary);
  const stats1 = await mock.stats();
  assert.equal(stats1.repeated_successes, 0);
  assert.ok(stats1.faulted_total > 0, 'faults were injected');
  // Every failed item is listed with its reason (raw replies where there were any).
  if (failed > 0) {
    await page.click('#llm-failures summary');
    assert.equal((await page.$$('#llm-failures li.failure')).length, Math.min(failed, 200));
  }
  // Model factors now have scores in the table.
  const rows = await page.$$eval('#factor-table tbody tr', (rs) => rs.map((r) => r.dataset.factor));
  assert.ok(rows.includes('hallucination') && rows.includes('intent_alignment'), rows.join());

  // Retry without faults: only the failed items are asked again.
  await mock.faults({});
  const summary2 = await runAndWait(page);
  assert.equal(numberAfter(summary2, 'failed;'), 0, summary2);
  const stats2 = await mock.stats();
  assert.equal(stats2.repeated_successes, 0, 'no successful call was repeated');

  // The key is in memory only: not in storage, the URL or the exported report.
  const stored = await page.evaluate(() => JSON.stringify(Object.entries(localStorage)));
  assert.ok(!stored.includes(KEY), 'key not stored without "remember"');
  assert.ok(!page.url().includes(KEY));
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const exported = readFileSync(await dl.path(), 'utf8');
  assert.ok(!exported.includes(KEY), 'key not in the report');
  const report = JSON.parse(exported);
  assert.equal(report.llm.failed, 0);
  assert.ok(report.agents[0].factor_scores.hallucination, 'LLM factor scored in the export');

  // Reload: settings come back (not the key); a re-run is answered from the browser cache.
  await page.reload();
  await waitForReport(page, 'example');
  await openModels(page);
  assert.equal(await page.inputValue('#llm-key'), '');
  assert.equal(await page.inputValue('#llm-sample'), '2');
  await page.fill('#llm-key', KEY);
  const before = (await mock.stats()).total;
  const summary3 = await runAndWait(page);
  assert.equal((await mock.stats()).total, before, 'zero new calls after a reload');
  assert.equal(numberAfter(summary3, 'calls,'), 0, summary3);
  assert.equal(numberAfter(summary3, 'failed;'), 0, summary3);
  assert.ok(numberAfter(summary3, 'from the cache,') > 0, summary3);

  // "Remember" stores the key on this device; "forget" removes it.
  await page.check('#llm-remember');
  assert.ok((await page.evaluate(() => JSON.stringify(Object.entries(localStorage)))).includes(KEY));
  await page.click('#llm-forget');
  assert.ok(!(await page.evaluate(() => JSON.stringify(Object.entries(localStorage)))).includes(KEY));
  assert.equal(await page.inputValue('#llm-key'), '');
  assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/.test(p)), []);
  await page.context().close();
});

test('pause stops new calls, resume continues, cancel keeps the answers so far', async () => {
  const slow = await startMock(['--require-key', KEY, '--latency-ms', '400']);
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  // A fresh cache: another model name, so nothing is cached yet.
  await configure(page, { sample: '4', model: 'gpt-4o-mini-pause-test', url: slow.url });
  await page.fill('#llm-concurrency', '2');
  await page.click('#llm-run');
  await page.waitForFunction(() => /[1-9]\d* calls/.test(document.querySelector('#llm-progress')?.textContent || ''));
  await page.click('#llm-pause');
  await page.waitForSelector('#llm-progress[data-state="paused"]');
  await page.waitForTimeout(1200); // calls in flight finish
  const paused = (await slow.stats()).total;
  await page.waitForTimeout(1500);
  assert.equal((await slow.stats()).total, paused, 'no calls while paused');
  await shot(page, '21-llm-paused');
  await page.click('#llm-resume');
  await page.waitForFunction((n) => {
    const m = (document.querySelector('#llm-progress')?.textContent || '').match(/(\d+) calls/);
    return m && Number(m[1]) > n;
  }, paused);
  await page.click('#llm-cancel');
  await page.waitForSelector('#llm-progress[data-state="cancelled"]', { timeout: 30_000 });
  const summary = await page.textContent('#llm-summary');
  assert.match(summary, /questions on 2\d pairs/);
  // Resume by running again: what was answered comes from the cache.
  const done = await runAndWait(page);
  assert.ok(numberAfter(done, 'from the cache,') > 0, done);
  assert.equal(numberAfter(done, 'failed;'), 0, done);
  assert.equal((await slow.stats()).repeated_successes, 0);
  await page.context().close();
  await slow.close();
});

test('Anthropic and Gemini wire formats from the browser, and clear errors for a wrong key', async () => {
  await mock.reset();
  await mock.faults({});
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  for (const provider of ['anthropic', 'gemini']) {
    await configure(page, { provider, sample: '1' });
    const s = await runAndWait(page);
    assert.match(s, new RegExp(`^${provider} · `), s);
    assert.equal(numberAfter(s, 'failed;'), 0, s);
  }
  const stats = await mock.stats();
  assert.ok(stats.by_format.anthropic > 0 && stats.by_format.gemini > 0, JSON.stringify(stats));
  // A wrong key: the calls fail with an authentication error, listed per item.
  await configure(page, { provider: 'openai', sample: '1', key: 'sk-wrong', model: 'gpt-4o-mini-wrong-key' });
  const s = await runAndWait(page);
  assert.ok(numberAfter(s, 'failed;') > 0);
  await page.click('#llm-failures summary');
  assert.match(await page.textContent('#llm-failures'), /401|key|auth/i);
  // A missing key is caught before any call.
  await page.fill('#llm-key', '');
  await page.click('#llm-run');
  await page.waitForSelector('#llm-errors');
  assert.match(await page.textContent('#llm-errors'), /API key/);
  await page.context().close();
});

test('the answer cache exports and imports; annotations score model factors without a model', async () => {
  await mock.reset();
  await mock.faults({});
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await configure(page, { sample: '1' });
  await runAndWait(page);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#llm-export-cache')]);
  const jsonl = readFileSync(await dl.path(), 'utf8');
  const lines = jsonl.trim().split('\n');
  assert.ok(lines.length > 0);
  assert.ok(!jsonl.includes(KEY), 'no key in the cache export');
  const entry = JSON.parse(lines[0]);
  assert.ok(entry.key && entry.template && entry.reply !== undefined);

  // A second browser profile (empty cache) imports it, with one bad line listed.
  const other = await newPage(env.browser);
  await other.goto(env.url);
  await waitForReport(other, 'example');
  await openModels(other);
  const file = join(tmpdir(), 'profile-cache-import.jsonl');
  writeFileSync(file, jsonl + 'not json\n');
  await other.setInputFiles('#llm-import-cache', file);
  await other.waitForSelector('#llm-info');
  assert.match(await other.textContent('#llm-info'), new RegExp(`Imported ${lines.length} cache entries\\. 1 lines were skipped`));

  // Annotations: hallucination values for every response of the example.
  const example = readFileSync(join(process.cwd(), 'www', 'example', 'example.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const texts = [...new Set(example.flatMap((r) => [r.response_a, r.response_b]))];
  const ann = texts.map((t, i) => JSON.stringify({ text: t, factors: { hallucination: (i % 5) / 10 } })).join('\n') + '\n';
  const annFile = join(tmpdir(), 'profile-annotations.jsonl');
  writeFileSync(annFile, ann);
  await other.setInputFiles('#llm-import-annotations', annFile);
  await other.waitForFunction(() => document.querySelector('#factor-table tbody tr[data-factor="hallucination"] td.score'));
  assert.match(await other.textContent('#llm-info'), /Imported \d+ annotations entries/);
  await shot(other, '22-llm-annotations');
  await other.click('#llm-clear');
  await other.waitForFunction(() => !document.querySelector('#factor-table tbody tr[data-factor="hallucination"]'));
  await page.context().close();
  await other.context().close();
});

test('models as judge and as writer join the report: alignment table, ranking chart and heatmap', async () => {
  await mock.reset();
  await mock.faults({});
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  // The sample field draws whole inputs with the report's seed: the same
  // pairs as `profile score --sample 1` (one core function).
  await configure(page, { sample: '1' });
  await page.check('#llm-kind-judge');
  assert.ok(await page.isChecked('#llm-both-orders'));
  await page.click('#llm-estimate');
  await page.waitForSelector('#llm-estimate-text');
  const cli = cliReport(EXAMPLE, ['--sample', '1']);
  const n = cli.dataset.pairs;
  assert.ok(n >= 5 && n <= 6, `one input has 5 or 6 pairs: ${n}`);
  assert.equal(await page.textContent('#llm-estimate-text').then((t) => t.match(/^(\d+) pairs: (\d+) questions/).slice(1).join()), `${n},${2 * n}`);
  await page.click('#llm-run');
  await page.waitForSelector('#alignment-table tr[data-agent="gpt-4o-mini (judge)"]', { timeout: 60_000 });
  assert.equal(await page.textContent('#stat-sample'), `1 of 8 inputs drawn with seed 42, all their pairs (${n} of 45 pairs)`);
  assert.equal((await tableScores(page)).length, fmt(cli.agents[0].factor_scores.length.score), 'the CLI sample scores the same pairs');
  // The mock always answers "1": its verdicts follow the position in both
  // orders. Those are position flips, not ties; its order-averaged agreement
  // is one half, its strict agreement 0.
  const judgeRow = '#alignment-table tr[data-agent="gpt-4o-mini (judge)"]';
  assert.match(await page.textContent(judgeRow), /judge/);
  const cell = async (c) => (await page.textContent(`${judgeRow} td.${c}`)).trim();
  assert.deepEqual(
    { agreement: await cell('agreement'), strict: await cell('strict'), ties: await cell('ties'), flips: await cell('flips'), same: await cell('consistency') },
    { agreement: '50%', strict: '0%', ties: '0%', flips: '100%', same: '0%' },
  );
  assert.match(await page.getAttribute(`${judgeRow} td.agreement`, 'title'), /order-averaged.*comparable with single-order judges/);
  const plain = await page.textContent('#plain-summary');
  assert.match(plain, /As a judge, gpt-4o-mini \(judge\) follows the position of the responses, not their content: on 100% of the pairs/);
  assert.doesNotMatch(plain, /much as people do/);
  await shot(page, '24-llm-judge-position');

  // Single order ("both orders" unticked): each pair once, in the order of a
  // seeded coin flip — the same core plan as `profile judge --single-order`.
  await page.uncheck('#llm-both-orders');
  await page.click('#llm-run');
  await page.waitForFunction((sel) => document.querySelector(`${sel} td.strict`)?.textContent.trim() === '—', judgeRow, { timeout: 60_000 });
  const [dlSingle] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const single = JSON.parse(readFileSync(await dlSingle.path(), 'utf8')).agents[1].run;
  const cache = mkdtempSync(join(tmpdir(), 'profile-e2e-judge-'));
  const cliJudge = JSON.parse(execFileSync(join(process.cwd(), 'target', 'release', 'profile'), [
    'judge', EXAMPLE, '--sample', '1', '--single-order', '--provider', 'openai', '--model', 'gpt-4o-mini',
    '--base-url', `${mock.url}/v1`, '--cache-dir', cache, '--quiet', '--json',
  ], { env: { ...process.env, OPENAI_API_KEY: KEY } }).toString()).agents[1].run;
  for (const k of ['both_orders', 'order_seed', 'swapped', 'items', 'agreement', 'tie_rate', 'first_position_share']) {
    assert.deepEqual(single[k], cliJudge[k], `${k}: app ${JSON.stringify(single)} vs CLI ${JSON.stringify(cliJudge)}`);
  }
  assert.equal(single.order_seed, 42);
  assert.ok(single.swapped > 0 && single.swapped < single.items, JSON.stringify(single));
  await page.check('#llm-both-orders');

  await page.check('#llm-kind-writer');
  await page.fill('#llm-inputs', '1');
  await page.click('#llm-run');
  await page.waitForSelector('#alignment-table tr[data-agent="gpt-4o-mini (writer)"]', { timeout: 60_000 });
  assert.equal((await page.$$('#alignment-table tbody tr')).length, 2);
  const cols = await page.$$eval('#ranking-chart g.rank-head', (g) => g.length);
  assert.equal(cols, 3, 'people, judge and writer columns');
  assert.ok((await page.$$('#ranking-chart line.link')).length > 0, 'lines join the same factor');
  const cells = await page.$$eval('#heatmap g.cell', (g) => g.map((x) => x.dataset.agent));
  assert.equal(new Set(cells).size, 3);
  // The writer's longer texts for higher scores: length is its top factor.
  const writerLength = await page.textContent('#heatmap g.cell[data-agent="gpt-4o-mini (writer)"][data-factor="length"] text');
  assert.equal(writerLength, '+1.000');
  await shot(page, '23-llm-alignment');
  // The agents stay when the factor set changes.
  await page.click('.factor-picker input[data-factor="novel_words"]');
  await page.waitForTimeout(500);
  assert.equal((await page.$$('#alignment-table tbody tr')).length, 2);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const report = JSON.parse(readFileSync(await dl.path(), 'utf8'));
  assert.deepEqual(report.agents.map((a) => a.name), ['human', 'gpt-4o-mini (judge)', 'gpt-4o-mini (writer)']);
  assert.equal(report.agents[1].run.kind, 'judge');
  assert.equal(report.agents[2].run.generated_pairs, 10);
  assert.equal(report.alignments.length, 2);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a failed extraction is counted as missing in the factor table, apart from factor ties', async () => {
  await mock.reset();
  await mock.faults({});
  // The atomic facts of one response (in 3 pairs of the first input) never parse.
  await mock.replies([{ match: '<<<TEXT\nOn Tuesday night, after a three-hour meeting', text: 'These are not facts.' }]);
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await configure(page, { sample: '', attempts: '1', model: 'gpt-4o-mini-missing' });
  const summary = await runAndWait(page);
  assert.ok(numberAfter(summary, 'failed;') > 0, summary);
  const headers = await page.$$eval('#factor-table thead th', (t) => t.map((x) => x.textContent.trim()));
  assert.ok(headers.includes('missing') && headers.includes('dropped'), headers.join());
  const row = (f) => page.$$eval(`#factor-table tbody tr[data-factor="${f}"] td`, (t) => t.map((x) => x.textContent.trim()));
  const [nFacts, length] = [await row('n_facts'), await row('length')];
  // columns: score, CI low, CI high, C, D, T, dropped, missing, n
  assert.equal(nFacts[7], '3', `n_facts lost the 3 pairs of that response: ${nFacts}`);
  assert.equal(length[7], '0', 'a rule factor never misses a value');
  assert.equal(Number(nFacts[8]), Number(length[8]), 'missing pairs stay counted in n');
  assert.match(await page.textContent('#factor-table caption'), /Pairs lost to failed extraction \(missing, apart from factor ties\): # facts 3/);
  await shot(page, '25-llm-missing');
  await mock.replies([]);
  await page.context().close();
});
