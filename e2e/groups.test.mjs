// End-to-end tests of issue 14's subgroups and spending cap in the built
// app (dist/): a person groups a file by a record field and reads the
// factor × group heatmap (the CLI's numbers); a model run under a cost cap
// stops at it, keeps its answers, and the estimate offers a sample first.
// Screenshots go to target/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, newPage, waitForReport, shot, startMock, cliReport, fmt, DATA, openModels } from './helpers.mjs';

const SUBSETS = [
  ['Natural', join(DATA, 'llmbar', 'LLMBar', 'Natural', 'dataset.json')],
  ['FairEval', join(DATA, 'llmbar', 'Processed', 'FairEval', 'dataset.json')],
  ['LLMEval2', join(DATA, 'llmbar', 'Processed', 'LLMEval2', 'dataset.json')],
  ['MT-Bench', join(DATA, 'llmbar', 'Processed', 'MT-Bench', 'dataset.json')],
];

let env;
let mock;
before(async () => {
  env = await setup();
  mock = await startMock();
});
after(async () => {
  await mock.close();
  await env.close();
});

/** LLMBar's four human-preference files as one PROFILE file with a `subset` field. */
function mergedLlmbar() {
  const dir = mkdtempSync(join(tmpdir(), 'profile-groups-'));
  const lines = [];
  for (const [subset, path] of SUBSETS) {
    for (const it of JSON.parse(readFileSync(path, 'utf8'))) {
      lines.push(JSON.stringify({ subset, input: it.input, response_a: it.output_1, response_b: it.output_2, preference: it.label === 1 ? 'a' : 'b' }));
    }
  }
  const file = join(dir, 'llmbar-subsets.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

test('grouping a file by a field shows a factor × group heatmap with the CLI numbers', async () => {
  const file = mergedLlmbar();
  const page = await newPage(env.browser, { viewport: { width: 1200, height: 900 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.setInputFiles('#file-input', file);
  await waitForReport(page, 'llmbar-subsets.jsonl');
  const fields = await page.$$eval('#group-by option', (os) => os.map((o) => o.value));
  assert.deepEqual(fields, ['', 'subset']);
  await page.selectOption('#group-by', 'subset');
  await page.waitForSelector('#group-heatmap g.cell');
  const cli = cliReport(file, ['--group-by', 'subset']);
  const groups = cli.groups.groups;
  assert.equal(groups.length, 4);
  const heads = await page.$$eval('#group-heatmap g > text.label', (ts) => ts.map((t) => t.textContent));
  for (const g of groups) assert.ok(heads.includes(g.value), `${g.value} in ${heads}`);
  let marked = 0;
  for (const g of groups) {
    for (const [factor, e] of Object.entries(g.factor_scores)) {
      const verdict = g.differences[factor].verdict;
      const mark = verdict === 'higher' ? '▲' : verdict === 'lower' ? '▼' : '';
      marked += mark ? 1 : 0;
      const cell = await page.textContent(`#group-heatmap g.cell[data-group="${g.value}"][data-factor="${factor}"] text`);
      assert.equal(cell, fmt(e.score) + mark, `${g.value} × ${factor}`);
    }
  }
  // The differences in words: one line per marked cell.
  const lines = marked ? await page.$$eval('#groups-differ li', (ls) => ls.length) : 0;
  assert.equal(lines, marked);
  if (!marked) assert.ok(await page.$('#groups-differ-none'));
  await page.$eval('#groups', (el) => el.scrollIntoView());
  await shot(page, '40-groups-llmbar-by-subset');
  // No grouping: the heatmap goes.
  await page.selectOption('#group-by', '');
  await page.waitForSelector('#group-heatmap', { state: 'detached' });
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('SummEval grouped by summary: 16 columns with the CLI numbers and the marks', async () => {
  const file = join(DATA, 'summeval', 'summeval.jsonl');
  const page = await newPage(env.browser, { viewport: { width: 1200, height: 900 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.setInputFiles('#file-input', file);
  await waitForReport(page, 'summeval.jsonl');
  assert.deepEqual(await page.$$eval('#group-by option', (os) => os.map((o) => o.value)), ['', 'article_id', 'summary_id']);
  await page.selectOption('#group-by', 'summary_id');
  await page.waitForSelector('#group-heatmap g.cell');
  const cli = cliReport(file, ['--group-by', 'summary_id']);
  assert.equal(cli.groups.groups.length, 16);
  const cells = await page.$$eval('#group-heatmap g.cell', (cs) => cs.map((c) => [c.dataset.group, c.dataset.factor, c.querySelector('text').textContent]));
  const want = [];
  for (const f of cli.agents[0].ranking) {
    for (const g of cli.groups.groups) {
      const v = g.differences[f].verdict;
      want.push([g.value, f, fmt(g.factor_scores[f].score) + (v === 'higher' ? '▲' : v === 'lower' ? '▼' : '')]);
    }
  }
  assert.deepEqual(cells, want);
  assert.ok(cells.some(([, , t]) => /[▲▼]$/.test(t)), 'some summaries differ from the rest');
  const panel = await page.$('#groups');
  await panel.scrollIntoViewIfNeeded();
  await panel.screenshot({ path: join(process.cwd(), 'target', 'screenshots', '42-groups-summeval-by-summary.png') });
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a model run under a cost cap stops at it, keeps its answers and offers a sample first', async () => {
  await mock.reset();
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await openModels(page);
  await page.selectOption('#llm-provider', 'openai');
  await page.fill('#llm-base-url', `${mock.url}/v1`);
  await page.fill('#llm-key', 'sk-e2e');
  await page.fill('#llm-sample', '');
  await page.fill('#llm-price-in', '100');
  await page.fill('#llm-price-out', '100');
  await page.fill('#llm-max-cost', '3');
  await page.click('#llm-estimate');
  await page.waitForSelector('#llm-cap-note');
  assert.match(await page.textContent('#llm-cap-note'), /is over the cost cap \(\$3\.00\)/);
  await page.click('#llm-sample-first');
  const n = Number(await page.inputValue('#llm-sample'));
  assert.ok(n >= 1 && n < 8, `a sample of ${n} of the 8 inputs`);
  // Run on everything anyway: the run stops at the cap.
  await page.fill('#llm-sample', '');
  await page.click('#llm-run');
  await page.waitForSelector('#llm-info', { timeout: 120_000 });
  const info = await page.textContent('#llm-info');
  const m = info.match(/stopped at the cost cap \$3\.00: (\d+) of (\d+) questions answered, \$([\d.]+) spent/);
  assert.ok(m, info);
  assert.ok(Number(m[3]) <= 3, info);
  assert.ok(Number(m[1]) > 0 && Number(m[1]) < Number(m[2]), info);
  assert.ok(await page.$('#llm-capped'));
  assert.equal(await page.getAttribute('#llm-progress', 'data-state'), 'stopped at the cost cap');
  const stats = await mock.stats();
  assert.ok(stats.total > 0 && stats.total <= Number(m[1]) + 4, `${stats.total} calls for ${m[1]} answers`);
  await shot(page, '41-cost-cap-stopped');
  // A higher cap finishes, asking only what was not answered.
  await page.fill('#llm-max-cost', '1000');
  const before = (await mock.stats()).total;
  await page.click('#llm-run');
  await page.waitForSelector('#llm-progress[data-state="finished"]', { timeout: 120_000 });
  await page.waitForFunction(() => !document.getElementById('llm-info'));
  const after2 = await mock.stats();
  assert.equal(after2.repeated_successes, 0, 'no paid answer asked again');
  assert.ok(after2.total > before);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
