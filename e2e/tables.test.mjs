// End-to-end tests of CSV/TSV files in the built app (dist/), issue 15: a
// dropped .csv is read by its header row and scores as the same records in
// JSONL; a table whose columns match no format says which fields are missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, newPage, waitForReport, tableScores, shot, DATA } from './helpers.mjs';

const SUMMEVAL = join(DATA, 'summeval', 'summeval.jsonl');

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env.close();
});

function cell(v) {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** SummEval written as CSV from the JSONL: every column, numbers as text. */
function summevalCsv(dir) {
  const recs = readFileSync(SUMMEVAL, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const cols = Object.keys(recs[0]);
  const rows = [cols.join(','), ...recs.map((r) => cols.map((c) => cell(r[c])).join(','))];
  const file = join(dir, 'summeval.csv');
  writeFileSync(file, rows.join('\r\n') + '\r\n');
  return file;
}

test('a dropped SummEval CSV scores as the JSONL; unknown columns name the missing fields', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'profile-tables-'));
  const page = await newPage(env.browser, { viewport: { width: 1200, height: 900 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.setInputFiles('#file-input', SUMMEVAL);
  await waitForReport(page, 'summeval.jsonl');
  const json = await tableScores(page);
  await page.setInputFiles('#file-input', summevalCsv(dir));
  await waitForReport(page, 'summeval.csv');
  assert.deepEqual(await tableScores(page), json);
  await shot(page, '45-summeval-csv');
  const bad = join(dir, 'pairs.tsv');
  writeFileSync(bad, 'question\tfirst\tsecond\nq\ta\tb\n');
  await page.setInputFiles('#file-input', bad);
  await page.waitForSelector('.error[role=alert]');
  const err = await page.textContent('.error[role=alert]');
  assert.match(err, /question, first, second/);
  assert.match(err, /response_a, response_b, preference are missing/);
  assert.deepEqual(page.problems, []);
});
