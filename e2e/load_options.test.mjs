// Load options a person sets in the upload panel before (or after) dropping
// a file: the PKU-SafeRLHF label (better or safer) and the column mapping of
// a CSV/TSV table whose header does not use PROFILE's field names. Each is
// checked against the CLI on the same file with the same option.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, newPage, waitForReport, tableScores, cliReport, fmt, shot, ROOT } from './helpers.mjs';

const PKU = join(ROOT, 'tests', 'fixtures', 'pku_saferlhf.jsonl');

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env.close();
});

function humanScores(report) {
  const human = report.agents.find((a) => a.name === 'human');
  return Object.fromEntries(Object.entries(human.factor_scores).map(([k, v]) => [k, fmt(v.score)]));
}

test('the PKU-SafeRLHF label can be switched from better to safer', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.setInputFiles('#file-input', PKU);
  await waitForReport(page, 'pku_saferlhf.jsonl');
  const better = cliReport(PKU);
  const safer = cliReport(PKU, ['--label', 'safer']);
  // The fixture's two labels disagree, so the switch must show.
  assert.notDeepEqual(humanScores(better), humanScores(safer));
  assert.equal(await page.textContent('#stat-label'), 'better');
  assert.deepEqual(await tableScores(page), humanScores(better));
  await page.selectOption('#pku-label-select', 'safer');
  await page.waitForFunction(() => document.getElementById('stat-label')?.textContent === 'safer' && !document.getElementById('progress'));
  assert.deepEqual(await tableScores(page), humanScores(safer));
  await shot(page, '60-pku-safer');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a table with its own column names is read through the mapping form', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'profile-columns-'));
  const file = join(dir, 'ratings.csv');
  let text = 'question,first,second,winner,judge_model\n';
  for (let i = 0; i < 12; i++) {
    text += `q${i},short,"a much longer answer, number ${i}",${i % 3 === 0 ? 'a' : 'b'},m${i % 2}\n`;
  }
  writeFileSync(file, text);
  const map = 'input=question,response_a=first,response_b=second,preference=winner';
  const cli = cliReport(file, ['--map', map]);
  assert.equal(cli.dataset.pairs, 12);

  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.setInputFiles('#file-input', file);
  // Unmapped, the columns match no format: the message names them.
  await page.waitForFunction(() => /question, first, second, winner, judge_model/.test(document.body.textContent) && !document.getElementById('progress'));
  await shot(page, '61-columns-unmapped');
  await page.click('#columns summary');
  await page.fill('#map-input', 'question');
  await page.fill('#map-response_a', 'first');
  await page.fill('#map-response_b', 'second');
  await page.fill('#map-preference', 'winner');
  await page.click('#map-apply');
  await waitForReport(page, 'ratings.csv');
  assert.equal(await page.textContent('#stat-pairs'), '12');
  assert.deepEqual(await tableScores(page), humanScores(cli));
  assert.match(await page.textContent('#columns summary'), /mapped/);
  await shot(page, '62-columns-mapped');

  // A mapped column the header lacks is a located message, not a crash.
  await page.fill('#map-response_b', 'nope');
  await page.click('#map-apply');
  await page.waitForFunction(() => /no column `nope`/.test(document.body.textContent) && !document.getElementById('progress'));
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
