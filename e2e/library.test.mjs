// Tests of the JavaScript library (the npm package in pkg/, built by
// `bash build/npm-package.sh`) from Node: it loads the ES module as a user
// would, and checks that it gives the CLI's numbers, checks untrusted
// reports, renders escaped SVG and HTML, and round-trips embed fragments.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { cliReport, ROOT, DATA } from './helpers.mjs';

const PKG = join(ROOT, 'pkg');
const EXAMPLE = join(ROOT, 'www', 'example', 'example.jsonl');
const SUMMEVAL = join(DATA, 'summeval', 'summeval.jsonl');
const HH = join(DATA, 'hh-rlhf-harmless-base', 'test.jsonl.gz');
const BROKEN = join(ROOT, 'tests', 'fixtures', 'broken.jsonl');
const AGENTS = join(ROOT, 'tests', 'fixtures', 'agents.json');
const CLI = join(ROOT, 'target', 'release', 'profile');

let profile;
before(async () => {
  assert.ok(existsSync(join(PKG, 'profile.js')), 'build the package first: bash build/npm-package.sh');
  profile = await import(join(PKG, 'profile.js'));
  // Node has no fetch for file URLs: the module takes the Wasm bytes.
  await profile.default({ module_or_path: readFileSync(join(PKG, 'profile_bg.wasm')) });
});

/** The CLI's report without what only a run on a file knows. */
function comparable(r) {
  return { ...r, dataset: { ...r.dataset, bytes_read: 0 } };
}

test('load, score and the report equal the CLI for JSONL, a gzipped file and options', () => {
  const ds = profile.loadRecords(readFileSync(EXAMPLE, 'utf8'), { name: 'example.jsonl' });
  assert.equal(ds.format, 'profile');
  assert.equal(ds.pairs, 45);
  assert.equal(ds.humanTiesDropped, 3);
  const report = profile.score(ds);
  assert.deepEqual(comparable(report), comparable(cliReport(EXAMPLE)));
  const helpful = profile.score(ds, { task: 'helpful', factors: ['length', 'novel_words_count'], bootstrap: 200, seed: 7 });
  assert.deepEqual(comparable(helpful),
    comparable(cliReport(EXAMPLE, ['--task', 'helpful', '--factors', 'length,novel_words_count', '--bootstrap', '200', '--seed', '7'])));
  ds.free();

  const hh = profile.loadRecords(new Uint8Array(readFileSync(HH)), { name: 'test.jsonl.gz' });
  assert.deepEqual(comparable(profile.score(hh, { bootstrap: 100 })), comparable(cliReport(HH, ['--bootstrap', '100'])));
  hh.free();

  const se = profile.loadRecords(readFileSync(SUMMEVAL), { name: 'summeval.jsonl', label: 'relevance' });
  assert.equal(se.format, 'summeval');
  assert.deepEqual(comparable(profile.score(se, { bootstrap: 50 })),
    comparable(cliReport(SUMMEVAL, ['--label', 'relevance', '--bootstrap', '50'])));
  se.free();
});

test('skipped records are listed by line, as the CLI lists them', () => {
  const ds = profile.loadRecords(readFileSync(BROKEN), { name: 'broken.jsonl' });
  const cli = cliReport(BROKEN);
  assert.deepEqual(ds.diagnostics(), cli.dataset.diagnostics);
  assert.equal(ds.recordsRead, ds.recordsParsed + ds.recordsSkipped);
  ds.free();
});

test('rule-based factors of a text and of every pair', () => {
  assert.deepEqual(profile.ruleFactors("State-of-the-art models don't hallucinate!"),
    { length: 4, novel_words: 1, novel_words_count: 4 });
  const v = profile.ruleFactors('The cats are running home', 'A cat runs.');
  assert.equal(v.length, 5);
  assert.equal(v.novel_words_count, 3); // the, are, home; cat and run are in the context
  assert.equal(v.novel_words, 3 / 5);
  const ds = profile.loadRecords(readFileSync(EXAMPLE, 'utf8'));
  const { a, b } = ds.factorValues('length');
  assert.ok(a instanceof Float64Array && a.length === ds.pairs && b.length === ds.pairs);
  const first = JSON.parse(readFileSync(EXAMPLE, 'utf8').split('\n')[0]);
  assert.equal(a[0], profile.ruleFactors(first.response_a).length);
  assert.throws(() => ds.factorValues('hallucination'), /needs a language model/);
  assert.throws(() => ds.factorValues('nope'), /unknown factor `nope`/);
  ds.free();
});

test('align gives what `profile align` gives; withAlignments fills a report', () => {
  const agents = JSON.parse(readFileSync(AGENTS, 'utf8'));
  const cli = JSON.parse(execFileSync(CLI, ['align', AGENTS, '--json']).toString());
  assert.deepEqual(profile.align(agents), cli);
  assert.throws(() => profile.align({ judge: {} }), /no agent `human`/);
  const report = cliReport(EXAMPLE);
  const judge = structuredClone(report.agents[0]);
  judge.name = 'judge';
  judge.setting = 'evaluation';
  judge.factor_scores.length.score = -0.5;
  judge.ranking = ['novel_words', 'length'];
  const aligned = profile.withAlignments({ ...report, agents: [...report.agents, judge] });
  assert.equal(aligned.alignments.length, 1);
  assert.equal(aligned.alignments[0].agent, 'judge');
  assert.equal(aligned.alignments[0].kendall_tau, -1);
});

test('untrusted reports: parseReport throws a ReportError with located problems, checkReport lists them', () => {
  const report = cliReport(EXAMPLE);
  assert.deepEqual(profile.parseReport(JSON.stringify(report)), report);
  assert.deepEqual(profile.checkReport(report), []);
  const bad = structuredClone(report);
  bad.agents[0].factor_scores.length.score = 'NaN';
  delete bad.dataset.pairs;
  const problems = profile.checkReport(bad);
  assert.deepEqual(problems, [
    { path: 'dataset.pairs', message: 'is missing (expected a whole number ≥ 0)' },
    { path: 'agents[0].factor_scores.length.score', message: 'expected a number or null, found the string "NaN"' },
  ]);
  assert.throws(() => profile.parseReport(bad), (e) => {
    assert.equal(e.name, 'ReportError');
    assert.deepEqual(e.problems, problems);
    assert.match(e.message, /^not a valid PROFILE report:\ndataset.pairs: is missing/);
    return true;
  });
  assert.match(profile.checkReport('<html>')[0].message, /not valid JSON/);
  assert.match(profile.checkReport('[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[')[0].message, /recursion limit/);
});

test('renderSvg and renderHtml escape report text; toCsv writes one row per agent and factor', () => {
  const report = cliReport(EXAMPLE);
  const evil = '<script>alert(1)</script>"onload="x';
  const r = { ...report, dataset: { ...report.dataset, name: evil }, generator: evil };
  const svg = profile.renderSvg(r, { width: 500 });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 500 /);
  assert.ok(!svg.includes('<script') && svg.includes('&lt;script&gt;'));
  for (const view of ['factors', 'alignment', 'rankings']) {
    const html = profile.renderHtml(r, { view, theme: 'dark', width: 480 });
    assert.match(html, new RegExp(`^<div class="pr-card pr-theme-dark pr-view-${view}" data-state="ready">`));
    assert.ok(!html.includes('<script') && html.includes('&lt;script&gt;'), view);
    assert.ok(!/\son\w+=/.test(html.replaceAll('&quot;onload=&quot;', '')), view);
  }
  assert.throws(() => profile.renderHtml(r, { view: 'pie' }), /unknown view `pie`/);
  assert.throws(() => profile.renderHtml(r, { veiw: 'factors' }), /unknown field `veiw`/);
  assert.throws(() => profile.renderSvg(r, { agent: 'nobody' }), /no agent `nobody`/);
  const csv = profile.toCsv(report).trim().split('\n');
  assert.equal(csv[0], 'agent,setting,factor,score,ci95_low,ci95_high,concordant,discordant,ties,dropped,missing,n_pairs');
  assert.equal(csv.length - 1, Object.keys(report.agents[0].factor_scores).length);
});

test('embed fragments round-trip, inflate with any raw-deflate decoder, and snippets name the site', () => {
  const report = cliReport(BROKEN);
  assert.ok(report.dataset.diagnostics.length > 0);
  const fragment = profile.encodeEmbed(report, { view: 'rankings', theme: 'light', agent: 'human' });
  assert.match(fragment, /^view=rankings&theme=light&agent=human&r=[A-Za-z0-9_-]+$/);
  const inflated = JSON.parse(inflateRawSync(Buffer.from(fragment.split('&r=')[1], 'base64url')).toString());
  assert.deepEqual(inflated.dataset.diagnostics, [], 'the embedded copy drops the list of skipped records');
  assert.equal(inflated.dataset.diagnostics_total, report.dataset.diagnostics_total);
  const back = profile.decodeEmbed(`#${fragment}`);
  assert.deepEqual(back.options, { view: 'rankings', theme: 'light', agent: 'human' });
  assert.deepEqual(back.report, inflated);
  assert.throws(() => profile.decodeEmbed('view=factors'), /has no report in it/);
  const s = profile.embedSnippets('https://example.org/profile', report, { view: 'alignment', reportFile: 'r.json' });
  assert.equal(s.script, '<script type="module" src="https://example.org/profile/widget.js"></script>\n<profile-report src="r.json" view="alignment" theme="auto"></profile-report>');
  assert.ok(s.embedUrl.startsWith('https://example.org/profile/embed.html#view=alignment&theme=auto&r='));
  assert.equal(s.fragmentLength, s.embedUrl.split('#')[1].length);
  assert.ok(s.height >= 120);
});

test('the taxonomy, presets and formats; errors name what is wrong', () => {
  assert.equal(profile.version(), '0.1.0');
  const fs = profile.factors();
  assert.equal(fs.length, 14);
  assert.deepEqual(fs.filter((f) => !f.needs_model).map((f) => f.id), ['length', 'novel_words', 'novel_words_count']);
  assert.deepEqual(profile.tasks().map((t) => t.id), ['summarization', 'helpful', 'doc_qa']);
  assert.ok(profile.formats().some((f) => f.name === 'hh-rlhf'));
  assert.throws(() => profile.loadRecords('{"x": 1}'), /unknown format/);
  assert.throws(() => profile.loadRecords('', { format: 'csv' }), /unknown format `csv`/);
  assert.throws(() => profile.loadRecords(42), /a string or a Uint8Array/);
  const ds = profile.loadRecords(readFileSync(EXAMPLE, 'utf8'));
  assert.throws(() => profile.score(ds, { task: 'poetry' }), /unknown task `poetry`/);
  assert.throws(() => profile.score(ds, { boostrap: 10 }), /unknown field `boostrap`/);
  ds.free();
});

test('the package layout: npm pack lists the module, its Wasm, types, styles and README', () => {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: PKG, stdio: ['ignore', 'pipe', 'ignore'] }).toString());
  assert.equal(packed.name, 'profile-preferences');
  assert.deepEqual(packed.files.map((f) => f.path).sort(),
    ['README.md', 'package.json', 'profile.d.ts', 'profile.js', 'profile_bg.wasm', 'profile_bg.wasm.d.ts', 'widget.css']);
  const types = readFileSync(join(PKG, 'profile.d.ts'), 'utf8');
  assert.match(types, /export function score\(dataset: Dataset, options\?: ScoreOptions\): Report;/);
  assert.match(types, /export interface Report \{/);
  assert.match(types, /export function parseReport\(input: Report \| string\): Report;/);
  console.log(`# npm package: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.files.length} files`);
});

test('hostile input: a record over maxRecordMb is skipped by line, duplicate keys are refused, bootstrap is bounded', () => {
  const good = '{"response_a":"a long and careful answer","response_b":"short","preference":"a"}';
  const big = `{"response_a":"${'w '.repeat(600_000)}","response_b":"b","preference":"a"}`;
  const dup = '{"response_a":"x y","response_b":"x","preference":"a","preference":"b"}';
  const ds = profile.loadRecords(`${good}\n${big}\n${dup}\n${good}\n`, { maxRecordMb: 1 });
  const diags = ds.diagnostics();
  assert.equal(diags.length, 2);
  assert.equal(diags[0].line, 2);
  assert.match(diags[0].reason, /record over 1 MiB/);
  assert.equal(diags[1].line, 3);
  assert.match(diags[1].reason, /duplicate key `preference`/);
  assert.throws(() => profile.loadRecords(good, { maxRecordMb: 0 }), /1 to 1024/);
  assert.throws(() => profile.score(ds, { bootstrap: 100_001 }), /at most 100000/);
  const arr = profile.loadRecords(`[${good}, {"response_a": 3}, ${good}]`);
  assert.equal(arr.diagnostics()[0].element, 2);
});

test('a factor pack: its factors score as the CLI scores them, and a bad pack is a PackError with located problems', () => {
  const PACK = join(ROOT, 'www', 'example', 'pack.json');
  const text = readFileSync(PACK, 'utf8');
  const ds = profile.loadRecords(readFileSync(EXAMPLE, 'utf8'), { name: 'example.jsonl' });
  // As text and as an object; without `factors`: the preset's and the pack's.
  for (const factorPack of [text, JSON.parse(text)]) {
    const report = profile.score(ds, { factorPack, bootstrap: 100 });
    assert.deepEqual(comparable(report), comparable(cliReport(EXAMPLE, ['--factor-pack', PACK, '--bootstrap', '100'])));
    assert.deepEqual(report.config.factor_pack.factors.map((f) => f.id), ['words_re', 'hedges', 'numbers_per_word']);
    assert.ok(report.factors.find((m) => m.id === 'words_re').custom);
  }
  assert.deepEqual(profile.loadFactorPack(text), ['words_re', 'hedges', 'numbers_per_word']);
  const { a } = ds.factorValues('words_re');
  const first = JSON.parse(readFileSync(EXAMPLE, 'utf8').split('\n')[0]);
  assert.equal(a[0], (first.response_a.match(/[A-Za-z0-9_]+/g) || []).length);
  const bad = { factors: [{ id: 'length', name: '<b>x</b>', kind: 'regex_count', pattern: '(' }] };
  assert.throws(() => profile.score(ds, { factorPack: bad }), (e) => {
    assert.equal(e.name, 'PackError');
    assert.deepEqual(e.problems.map((p) => [p.factor, p.field]), [[0, 'id'], [0, 'name'], [0, 'pattern']]);
    return true;
  });
  assert.throws(() => profile.score(ds, { factors: ['length', 'nope_custom'] }), /unknown factor `nope_custom`/);
  ds.free();
});

test('a pack with questions for a language model: they load, score lists them as skipped, factorValues refuses them', () => {
  const PACK = join(ROOT, 'www', 'example', 'pack-llm.json');
  const text = readFileSync(PACK, 'utf8');
  const ds = profile.loadRecords(readFileSync(EXAMPLE, 'utf8'), { name: 'example.jsonl' });
  assert.deepEqual(profile.loadFactorPack(text), ['cites_sources', 'empathy']);
  const report = profile.score(ds, { factorPack: text, factors: ['length', 'cites_sources', 'empathy'], bootstrap: 0 });
  assert.deepEqual(report.skipped_factors.map((s) => s.id), ['cites_sources', 'empathy']);
  assert.match(report.skipped_factors[0].reason, /needs a language model/);
  assert.equal(report.config.factor_pack.factors[0].question, JSON.parse(text).factors[0].question);
  assert.deepEqual(comparable(report), comparable(cliReport(EXAMPLE, ['--factor-pack', PACK, '--factors', 'length,cites_sources,empathy', '--bootstrap', '0'])));
  assert.throws(() => ds.factorValues('cites_sources'), /needs a language model/);
  const bad = { factors: [{ id: 'q', name: 'q', kind: 'llm_rating', question: '', sees: ['response'] }] };
  assert.throws(() => profile.loadFactorPack(bad), (e) => {
    assert.equal(e.name, 'PackError');
    assert.deepEqual(e.problems.map((p) => [p.factor, p.field]), [[0, 'question'], [0, 'sees[0]']]);
    return true;
  });
  ds.free();
});
