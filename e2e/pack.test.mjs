// A user loads a factor pack (www/example/pack.json) in the app: its custom
// factors join the table and the chart with the CLI's numbers (`profile
// score --factor-pack`), the exported report records the pack, the link
// (`#pack=…`) reopens with the same factors, and a bad pack shows its
// problems with their places.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, newPage, waitForReport, tableScores, cliReport, fmt, shot, ROOT } from './helpers.mjs';

const EXAMPLE = join(ROOT, 'www', 'example', 'example.jsonl');
const PACK = join(ROOT, 'www', 'example', 'pack.json');

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env.close();
});

function expectedScores(report) {
  const human = report.agents.find((a) => a.name === 'human');
  return Object.fromEntries(Object.entries(human.factor_scores).map(([k, v]) => [k, fmt(v.score)]));
}

test('a factor pack: custom factors in the table, the chart, the export and the link', async () => {
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 900 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.setInputFiles('#pack-file', PACK);
  await page.waitForSelector('#factor-table tbody tr[data-factor="words_re"]', { timeout: 60_000 });
  const cli = cliReport(EXAMPLE, ['--factor-pack', PACK]);
  assert.deepEqual(await tableScores(page), expectedScores(cli));
  // The chart names the custom factors; the chips mark them.
  const chart = await page.textContent('#factor-chart');
  for (const name of ['words (regex)', 'hedges', 'numbers per word']) assert.ok(chart.includes(name), name);
  assert.equal(await page.$$eval('.factor-picker label.custom .badge', (b) => b.length), 3);
  await shot(page, 'pack-01-loaded');
  // The export records the pack and marks the factors.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const exported = JSON.parse(readFileSync(await dl.path(), 'utf8'));
  assert.deepEqual(exported.config.factor_pack, cli.config.factor_pack);
  assert.deepEqual(exported.agents, cli.agents);
  assert.ok(exported.factors.find((m) => m.id === 'hedges').custom);
  const [csvDl] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  const csv = readFileSync(await csvDl.path(), 'utf8');
  assert.ok(csv.split('\n').some((l) => l.startsWith('human,human,words_re,')), 'CSV row of the custom factor');
  // The link carries the pack: a fresh page opens with the same factors.
  const url = page.url();
  assert.match(url, /#pack=%7B/);
  const other = await newPage(env.browser, { viewport: { width: 1100, height: 900 } });
  await other.goto(url);
  await waitForReport(other, 'example');
  await other.waitForSelector('#factor-table tbody tr[data-factor="numbers_per_word"]', { timeout: 60_000 });
  assert.deepEqual(await tableScores(other), expectedScores(cli));
  assert.deepEqual(page.problems, []);
  assert.deepEqual(other.problems, []);
  await other.context().close();
  await page.context().close();
});

test('a bad factor pack shows every problem with its place and changes nothing', async () => {
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 900 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  const before = await tableScores(page);
  const dir = mkdtempSync(join(tmpdir(), 'profile-pack-'));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ factors: [
    { id: 'length', name: 'l', kind: 'regex_count', pattern: 'x' },
    { id: 'xss', name: '<img src=x onerror=alert(1)>', kind: 'regex_count', pattern: '(' },
  ] }));
  await page.setInputFiles('#pack-file', bad);
  await page.waitForSelector('.pack-errors li');
  const items = await page.$$eval('.pack-errors li', (li) => li.map((l) => l.textContent));
  assert.deepEqual(items.map((t) => t.split(':').slice(0, 2).join(':')), [
    'bad.json: factor 0 (`length`), field `id`',
    'bad.json: factor 1 (`xss`), field `name`',
    'bad.json: factor 1 (`xss`), field `pattern`',
  ]);
  assert.equal(await page.$('.pack-errors img'), null, 'names are text, never markup');
  assert.deepEqual(await tableScores(page), before);
  assert.doesNotMatch(page.url(), /pack=/);
  await shot(page, 'pack-02-errors');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
