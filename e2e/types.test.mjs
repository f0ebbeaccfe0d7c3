// The npm package's TypeScript types cannot go stale: reports the CLI writes
// with every part populated (a model's extraction run, a judge in both orders
// and in single order, a writer, guided judges and the guidance section,
// improvement agents and the improvement section,
// alignments with intervals, joint models, a sample, load diagnostics) are type-checked by `tsc --strict` against
// pkg/profile.d.ts as object literals, so a field the Rust report has and the
// types lack (or a wrong type, or `null` where the types say `number`) fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startMock } from './helpers.mjs';

const BIN = join(ROOT, 'target', 'release', 'profile');
const PKG = join(ROOT, 'pkg');
const EXAMPLE = join(ROOT, 'www', 'example', 'example.jsonl');
const BROKEN = join(ROOT, 'tests', 'fixtures', 'broken.jsonl');
const PACK = join(ROOT, 'www', 'example', 'pack.json');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');

let mock;
let dir;
before(async () => {
  mock = await startMock();
  dir = mkdtempSync(join(tmpdir(), 'profile-types-'));
});
after(async () => {
  await mock.close();
  rmSync(dir, { recursive: true, force: true });
});

function profile(args) {
  const env = { ...process.env };
  delete env.OPENAI_API_KEY;
  delete env.PROFILE_API_KEY;
  return execFileSync(BIN, args, { env, maxBuffer: 1 << 28 }).toString();
}

/** Every key path of a JSON value, array elements as `[]`. */
function paths(v, at = '', out = new Set()) {
  if (Array.isArray(v)) v.forEach((x) => paths(x, `${at}[]`, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.add(`${at}.${k}`);
      paths(x, `${at}.${k}`, out);
    }
  }
  return out;
}

test('reports with every part populated type-check against the npm package types', () => {
  const model = ['--provider', 'openai-compatible', '--model', 'mock', '--base-url', `${mock.url}/v1`,
    '--cache-dir', join(dir, 'cache'), '--bootstrap', '50', '--quiet'];
  const merged = join(dir, 'report.json');
  // Humans with the model's factors (an extraction run) and a seeded sample.
  writeFileSync(merged, profile(['score', EXAMPLE, '--json', '--sample', '4', '--group-by', 'task', ...model]));
  profile(['judge', EXAMPLE, '--into', merged, '--json', '--sample', '4', ...model]);
  profile(['judge', EXAMPLE, '--single-order', '--into', merged, '--json', '--sample', '4', ...model, '--model', 'mock-once']);
  profile(['generate', EXAMPLE, '--inputs', '4', '--into', merged, '--json', '--sample', '4', ...model]);
  // Guided judging: three guided agents and the report's guidance section.
  profile(['guide', EXAMPLE, '--factor', 'length', '--rand-factor', 'novel_words', '--into', merged, '--json', '--sample', '4', ...model]);
  // Feedback-driven improvement: three improvement agents and the report's improvement section.
  profile(['improve', EXAMPLE, '--inputs', '2', '--into', merged, '--json', '--sample', '4', ...model]);
  const reports = {
    full: JSON.parse(readFileSync(merged, 'utf8')),
    // Load diagnostics, and custom factors from a factor pack.
    diagnostics: JSON.parse(profile(['score', BROKEN, '--json', '--bootstrap', '50', '--factor-pack', PACK])),
  };

  // The check below is only as strong as what the reports hold: make sure
  // the parts that once went missing from the types are there.
  const seen = new Set(Object.values(reports).flatMap((r) => [...paths(r)]));
  for (const p of ['.llm.calls', '.agents[].run.items', '.agents[].run.agreement', '.agents[].joint',
    '.alignments[].kendall_tau', '.dataset.sample.seed', '.dataset.diagnostics[].line', '.agents[].run.generated_pairs',
    '.groups.groups[].factor_scores', '.groups.groups[].differences', '.dataset.group_fields',
    '.agents[].guidance.factor', '.agents[].run.pairs_covered', '.alignments[].reference_scores', '.guidance.conditions[].difference_ci95', '.guidance.rand.sentence', '.guidance.evidence[].ci95',
    '.improvement.conditions[].kendall_tau_human_ci95', '.improvement.conditions[].evaluator_alignment.kendall_tau',
    '.improvement.items[].improved_single', '.improvement.items[].justification',
    '.config.factor_pack.factors[].pattern', '.config.factor_pack.factors[].words', '.factors[].custom']) {
    assert.ok([...seen].some((s) => s.startsWith(p)), `no report holds ${p}: the check would not cover it`);
  }
  const full = reports.full;
  assert.deepEqual(full.agents.map((a) => a.setting),
    ['human', 'evaluation', 'evaluation', 'generation', 'evaluation', 'evaluation', 'evaluation',
      'improvement', 'improvement', 'improvement']);

  copyFileSync(join(PKG, 'profile.d.ts'), join(dir, 'profile.d.ts'));
  const lines = ['import type { Report } from "./profile";'];
  for (const [name, r] of Object.entries(reports)) {
    lines.push(`export const ${name}: Report = ${JSON.stringify(r, null, 1)};`);
  }
  writeFileSync(join(dir, 'reports.ts'), lines.join('\n'));
  const tsc = spawnSync(TSC, ['--strict', '--noEmit', '--exactOptionalPropertyTypes', '--target', 'esnext',
    '--module', 'esnext', '--moduleResolution', 'bundler', '--skipLibCheck', 'false', join(dir, 'reports.ts')],
  { encoding: 'utf8' });
  assert.equal(tsc.status, 0, `the report types in src/bin/profile_js.rs disagree with the reports the CLI writes:\n${tsc.stdout}${tsc.stderr}`);
});

test('the type check fails on a field the types do not declare', () => {
  // Guards the guard: an unknown field inside an agent must be an error.
  const r = JSON.parse(profile(['score', EXAMPLE, '--json', '--bootstrap', '50']));
  r.agents[0].not_in_the_types = 1;
  copyFileSync(join(PKG, 'profile.d.ts'), join(dir, 'profile.d.ts'));
  writeFileSync(join(dir, 'stale.ts'), `import type { Report } from "./profile";\nexport const r: Report = ${JSON.stringify(r)};`);
  const tsc = spawnSync(TSC, ['--strict', '--noEmit', '--target', 'esnext', '--module', 'esnext',
    '--moduleResolution', 'bundler', join(dir, 'stale.ts')], { encoding: 'utf8' });
  assert.notEqual(tsc.status, 0);
  assert.match(tsc.stdout, /not_in_the_types/);
});
