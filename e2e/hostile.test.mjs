// Hostile uploads in the app (issue 10, data side): a file whose pairs tie on
// every factor, a gzip bomb whose one line decompresses to hundreds of MB,
// duplicate keys, an empty file, and a record over a lowered size limit. The
// tab must survive each (no Wasm abort, no console error) and show what
// happened: "not estimable" with its reason, "Nothing to score", and located
// diagnostics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { setup, newPage, waitForReport, shot } from './helpers.mjs';

const TIED = '{"response_a":"cat","response_b":"dog","preference":"a"}';
const GOOD = '{"response_a":"a long and careful answer","response_b":"short","preference":"a"}';
const dir = mkdtempSync(join(tmpdir(), 'profile-hostile-'));

function file(name, bytes) {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/**
 * A gzip bomb: one JSONL line whose response is `mb` MB of spaces, then good
 * lines. Built from gzip members (the loader reads any number of them), so
 * making it costs a few KB of compression, not `mb` MB.
 */
function bomb(mb) {
  const chunk = gzipSync(Buffer.alloc(16 << 20, 0x20), { level: 9 });
  const parts = [gzipSync(Buffer.from('{"response_a":"'))];
  for (let i = 0; i < mb / 16; i++) parts.push(chunk);
  parts.push(gzipSync(Buffer.from(`","response_b":"b","preference":"a"}\n${GOOD}\n${GOOD}\n`)));
  return Buffer.concat(parts);
}

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env.close();
});

async function load(page, path, name) {
  await page.setInputFiles('#file-input', path);
  await waitForReport(page, name);
}

async function diagnostics(page) {
  return page.$$eval('#diagnostics tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
}

test('pairs tied on every factor: the joint model is "not estimable", with the reason', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await load(page, file('tied.jsonl', Array(12).fill(TIED).join('\n')), 'tied.jsonl');
  const note = await page.textContent('#joint-not-estimable');
  assert.match(note, /not estimable/);
  assert.match(note, /no factor differs/);
  assert.deepEqual(page.problems, []);
  await shot(page, 'hostile-01-tied');
  await page.context().close();
});

test('a gzip bomb: the tab survives and lists the record over 8 MiB by its line', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  // PROFILE_BOMB_MB=4096 reproduces the 4 GB line (about 25 s).
  const path = file('bomb.jsonl.gz', bomb(Number(process.env.PROFILE_BOMB_MB || 512)));
  await page.setInputFiles('#file-input', path);
  await page.waitForFunction(
    () => document.getElementById('dataset-name')?.textContent.includes('bomb.jsonl.gz') && !document.getElementById('progress'),
    null,
    { timeout: 300_000 },
  );
  const rows = await diagnostics(page);
  assert.equal(rows[0][0], '1');
  assert.match(rows[0][2], /record over 8 MiB/);
  assert.equal(await page.textContent('#stat-pairs'), '2');
  assert.deepEqual(page.problems, []);
  await shot(page, 'hostile-02-bomb');
  await page.context().close();
});

test('duplicate keys: the record is skipped with its line and the key', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  const dup = '{"response_a":"x y z","response_b":"x","preference":"a","preference":"b"}';
  await load(page, file('dup.jsonl', `${GOOD}\n${dup}\n${GOOD}\n`), 'dup.jsonl');
  const rows = await diagnostics(page);
  assert.equal(rows.length, 1);
  assert.equal(rows[0][0], '2');
  assert.match(rows[0][2], /duplicate key `preference`/);
  assert.equal(await page.textContent('#stat-pairs'), '2');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('an empty file and a file of duplicate keys only: "Nothing to score", with why', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await load(page, file('empty.jsonl', ''), 'empty.jsonl');
  assert.match(await page.textContent('#nothing-usable'), /Nothing to score.*0 records/);
  // A forced format under which no record parses: a report, with why.
  await page.selectOption('#format-select', 'summeval');
  await load(page, file('wrong_format.jsonl', `${GOOD}\n${GOOD}\n`), 'wrong_format.jsonl');
  assert.match(await page.textContent('#nothing-usable'), /0 of 2 records parsed/);
  assert.equal((await diagnostics(page)).length, 2);
  // Records that are not readable objects at all (every one has a key twice):
  // the format cannot be detected, and the error names the line and the key.
  await page.selectOption('#format-select', 'auto');
  const dup = '{"response_a":"x","response_b":"y","preference":"a","preference":"b"}';
  await page.setInputFiles('#file-input', file('only_dup.jsonl', `${dup}\n${dup}\n`));
  await page.waitForSelector('.error[role=alert]');
  const err = await page.textContent('.error[role=alert]');
  assert.match(err, /line 1: invalid JSON at column \d+: duplicate key `preference`/);
  assert.deepEqual(page.problems, []);
  await shot(page, 'hostile-03-nothing');
  await page.context().close();
});

test('the "largest record (MB)" field lowers the limit for the next load', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.fill('#max-record-mb', '1');
  await page.dispatchEvent('#max-record-mb', 'change');
  const big = `{"response_a":"${'w '.repeat(600_000)}","response_b":"b","preference":"a"}`;
  await load(page, file('big.json', `[${GOOD},\n${big}, ${GOOD}]`), 'big.json');
  const rows = await diagnostics(page);
  assert.equal(rows.length, 1);
  assert.equal(rows[0][0], '2, element 2');
  assert.match(rows[0][2], /record over 1 MiB/);
  assert.equal(await page.textContent('#stat-pairs'), '2');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
