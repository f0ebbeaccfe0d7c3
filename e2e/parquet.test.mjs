// Parquet in the browser: a person drops SummEval written as Parquet by an
// independent writer (pyarrow: several row groups, Snappy and gzip) and sees
// the report the JSONL gives; the Parquet reader, a Wasm module of its own,
// is fetched only then. A damaged file is a located message. The load times
// of the JSONL and the Parquet file are printed side by side.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, newPage, waitForReport, tableScores, cliReport, fmt, shot, ROOT, DATA } from './helpers.mjs';

const SUMMEVAL = join(DATA, 'summeval', 'summeval.jsonl');

let env;
let dir;
before(async () => {
  env = await setup();
  dir = mkdtempSync(join(tmpdir(), 'profile-parquet-'));
});
after(async () => {
  await env.close();
});

function toParquet(compression) {
  const out = join(dir, `summeval-${compression}.parquet`);
  execFileSync('python3', [join(ROOT, 'e2e', 'to_parquet.py'), SUMMEVAL, out, compression, '500']);
  return out;
}

function humanScores(report) {
  const human = report.agents.find((a) => a.name === 'human');
  return Object.fromEntries(Object.entries(human.factor_scores).map(([k, v]) => [k, fmt(v.score)]));
}

async function computedMs(page) {
  return Number((await page.textContent('#stat-time')).replace(/[^0-9.]/g, ''));
}

test('SummEval as Parquet loads as the JSONL does; the reader comes only with the file', async () => {
  const jsonl = cliReport(SUMMEVAL);
  const page = await newPage(env.browser);
  const fetched = [];
  page.on('request', (r) => fetched.push(r.url()));
  await page.goto(env.url);
  await waitForReport(page, 'example');

  // The JSONL first, for the timing beside it.
  await page.setInputFiles('#file-input', SUMMEVAL);
  await waitForReport(page, 'summeval.jsonl');
  const jsonlMs = await computedMs(page);
  assert.ok(!fetched.some((u) => u.includes('profile-parquet')), 'no Parquet reader before a Parquet file');

  for (const compression of ['snappy', 'gzip']) {
    const file = toParquet(compression);
    // The CLI reads the same file as the JSONL.
    assert.deepEqual(humanScores(cliReport(file)), humanScores(jsonl));
    const name = `summeval-${compression}.parquet`;
    await page.setInputFiles('#file-input', file);
    await waitForReport(page, name);
    assert.equal(await page.textContent('#stat-pairs'), String(jsonl.dataset.pairs));
    assert.match(await page.textContent('#stat-format'), /^summeval/);
    assert.deepEqual(await tableScores(page), humanScores(jsonl));
    const parquetMs = await computedMs(page);
    console.log(`# SummEval drop → report: JSONL ${statSync(SUMMEVAL).size} B ${jsonlMs} ms; Parquet (${compression}) ${statSync(file).size} B ${parquetMs} ms`);
    await shot(page, `64-parquet-${compression}`);
  }
  const wasm = fetched.filter((u) => u.endsWith('profile-parquet_bg.wasm'));
  assert.equal(wasm.length, 1, `the Parquet reader is fetched once: ${wasm}`);

  // A damaged file: its footer cut off.
  const bytes = readFileSync(join(dir, 'summeval-snappy.parquet'));
  const cut = join(dir, 'cut.parquet');
  writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
  await page.setInputFiles('#file-input', cut);
  await page.waitForFunction(() => /cut\.parquet: not a readable Parquet file/.test(document.body.textContent) && !document.getElementById('progress'));
  await shot(page, '65-parquet-damaged');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a Parquet reader that could not be fetched is fetched again for the next file', async () => {
  const jsonl = cliReport(SUMMEVAL);
  const page = await newPage(env.browser);
  let asked = 0;
  // The first request for the reader's module fails (the network dropped
  // after the page loaded); the later ones succeed.
  await page.context().route('**/profile-parquet.js', (route) => (++asked === 1 ? route.abort() : route.continue()));
  await page.goto(env.url);
  await waitForReport(page, 'example');
  const file = toParquet('snappy');
  await page.setInputFiles('#file-input', file);
  // The first drop fails with a message that says why (not `{}`), and the
  // page is not left loading.
  await page.waitForFunction(() => !document.getElementById('progress') && /cannot load the Parquet reader: \w*Error: .*profile-parquet\.js/.test(document.body.textContent));
  await page.setInputFiles('#file-input', SUMMEVAL);
  await waitForReport(page, 'summeval.jsonl');
  await page.setInputFiles('#file-input', file);
  await waitForReport(page, 'summeval-snappy.parquet');
  assert.equal(await page.textContent('#stat-pairs'), String(jsonl.dataset.pairs));
  assert.deepEqual(await tableScores(page), humanScores(jsonl));
  assert.equal(asked, 2, 'the module was asked for again');
  assert.deepEqual(page.problems.filter((p) => !/profile-parquet|net::ERR_FAILED|Failed to load resource/.test(p)), []);
  await page.context().close();
});
