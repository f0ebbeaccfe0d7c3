// End-to-end test of guided judging in the app (issue 13, part 3) against
// the project's mock LLM server: the "Improve alignment" panel offers to run
// the judge, shows the evidence and the GuideMis / GuideRand choice, lets the
// user override both factors, estimates before any call, runs with progress
// and pause, and draws the agreement per condition; a reload resumes from the
// browser cache with no repeated successful call (the mock counts them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newPage, waitForReport, shot, SHOTS, openModels, mockSuite, useMock, waitCalls, pauseRun } from './helpers.mjs';

const KEY = 'sk-test-e2e-guide-7d2a';

// Slow enough to pause part-way through a condition.
const suite = mockSuite(['--require-key', KEY, '--latency-ms', '60']);
const configure = (page) => useMock(page, suite.mock, { model: 'gpt-4o-mini-guide-test', key: KEY });

async function chooseFactors(page) {
  await page.selectOption('#guide-factor', 'length');
  const others = await page.$$eval('#guide-rand-factor option', (os) => os.map((o) => o.value).filter((v) => v && v !== 'length'));
  assert.ok(others.length > 0, 'another factor for GuideRand');
  await page.selectOption('#guide-rand-factor', others[0]);
  return others[0];
}

const finished = '#guide-progress[data-state="finished"], #guide-progress[data-state="cancelled"], #guide-error';

test('guided judging: judge first, the choice with its evidence, estimate, run with pause, a reload resumes with no repeated successful call, the chart and export', async () => {
  const { env, mock } = suite;
  await mock.reset();
  // The guided judge names Response 2; the unguided one (the mock's
  // default) Response 1.
  await mock.replies([{ match: '---- GUIDANCE ----', json: { better: '2', justification: 'guided' } }]);
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await configure(page);

  // No judge of the model yet: the panel offers to run one.
  await page.waitForSelector('#guide-needs-judge');
  assert.match(await page.textContent('#guide-needs-judge'), /gpt-4o-mini-guide-test \(judge\)/);
  await page.click('#guide-run-judge');
  await page.waitForSelector(finished, { timeout: 120_000 });
  assert.equal(await page.$('#guide-error'), null, 'the judge ran');
  const judgeCalls = (await mock.stats()).total;
  assert.ok(judgeCalls > 0);

  // The evidence and the choice (or why there is none), before any guided call.
  await page.waitForSelector('#guide-evidence tbody tr');
  await page.waitForSelector('#guide-choice, #guide-none');
  const evidenceRows = (await page.$$('#guide-evidence tbody tr')).length;
  assert.ok(evidenceRows > 1, `${evidenceRows} evidence rows`);
  await page.locator('#improve').screenshot({ path: join(SHOTS, '40-guide-choice.png') });
  const rand = await chooseFactors(page);
  const choice = await page.textContent('#guide-choice');
  assert.match(choice, /GuideMis: length \((over|under), .*chosen by user\)/);
  assert.ok(choice.includes(`GuideRand: ${rand} (`), choice);

  // The estimate: every condition in both orders, the unguided one cached; no call.
  await page.click('#guide-estimate');
  await page.waitForSelector('#guide-estimate-text');
  const est = await page.textContent('#guide-estimate-text');
  const m = est.match(/^(\d+) pairs, every condition in both orders: (\d+) questions; (\d+) cached; about (\d+) calls/);
  assert.ok(m, est);
  const [pairs, questions, cached, calls] = m.slice(1).map(Number);
  assert.equal(questions, 3 * 2 * pairs, est);
  assert.equal(cached, 2 * pairs, est);
  assert.equal(calls, 2 * 2 * pairs, est);
  assert.equal((await mock.stats()).total, judgeCalls, 'an estimate makes no call');

  // Run, pause part-way: no calls while paused.
  await page.click('#guide-run');
  await waitCalls(mock, judgeCalls + 10);
  const paused = await pauseRun(page, mock, 'guide');
  assert.ok(paused < judgeCalls + calls, 'paused before the end');
  await shot(page, '41-guide-paused');

  // Reload: the report starts afresh; the judge and the answered guided
  // questions come from the browser cache.
  await page.reload();
  await waitForReport(page, 'example');
  await openModels(page);
  await page.fill('#llm-key', KEY);
  await page.click('#guide-run-judge');
  await page.waitForSelector(finished, { timeout: 120_000 });
  assert.equal((await mock.stats()).total, paused, 'the judge again: all from the cache');
  await page.waitForSelector('#guide-evidence tbody tr');
  assert.equal(await chooseFactors(page), rand);
  await page.click('#guide-run');
  await page.waitForSelector(finished, { timeout: 120_000 });
  assert.equal(await page.$('#guide-error'), null);
  const stats = await mock.stats();
  assert.equal(stats.repeated_successes, 0, 'no successful call repeated');
  assert.equal(stats.total, judgeCalls + calls, 'every guided question asked once in all');

  // The result: one row per condition, the chart, the sentences.
  await page.waitForSelector('#guide-chart g.guide-row');
  assert.deepEqual(await page.$$eval('#guide-chart g.guide-row', (gs) => gs.map((g) => g.dataset.strategy)), ['none', 'mis', 'rand']);
  assert.deepEqual(await page.$$eval('#guide-conditions tbody tr', (rs) => rs.map((r) => r.dataset.strategy)), ['none', 'mis', 'rand']);
  const conclusion = await page.textContent('#guide-conclusion');
  // 4 inputs: too few to call any change.
  assert.match(conclusion, /GuideMis \(length (over|under)\).*with 4 inputs \(fewer than 10\) this is a trial run, not a result\./);
  assert.ok(!/raised|lowered/.test(conclusion), conclusion);
  // Text from the report is text: the SVG holds no markup from data.
  assert.equal(await page.$$eval('#guide-chart foreignObject, #guide-chart script', (x) => x.length), 0);
  await page.locator('#improve').screenshot({ path: join(SHOTS, '42-guide-result.png') });
  await shot(page, '43-guide-page');

  // The guided agents and the section export with the report.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const report = JSON.parse(readFileSync(await dl.path(), 'utf8'));
  assert.deepEqual(report.guidance.conditions.map((c) => c.strategy), ['none', 'mis', 'rand']);
  assert.equal(report.guidance.mis.factor, 'length');
  assert.equal(report.guidance.mis.chosen_by, 'user');
  const guided = report.agents.filter((a) => a.guidance);
  assert.equal(guided.length, 3);
  for (const c of report.guidance.conditions) {
    assert.ok(report.agents.some((a) => a.name === c.agent && a.guidance.strategy === c.strategy), c.agent);
  }
  assert.ok(!JSON.stringify(report).includes(KEY));

  // Another judge on all the pairs: the report now covers them all, and the
  // agents that ran on the sample are shown with the human scores on its pairs.
  await page.fill('#llm-sample', '');
  await page.fill('#llm-model', 'gpt-4o-mini-all-pairs');
  await page.check('#llm-kind-judge');
  await page.click('#llm-run');
  await page.waitForSelector('#llm-progress[data-state="finished"]', { timeout: 120_000 });
  const sampled = await page.textContent('#alignment-table tr.reference-scores[data-agent="gpt-4o-mini-guide-test (judge)"]');
  assert.match(sampled, /^Ran on a sample \(lines [\d,-]+\): compared with the human scores on those pairs — .*length [+−]\d\.\d{3}/);
  assert.equal(await page.$('#alignment-table tr.reference-scores[data-agent="gpt-4o-mini-all-pairs (judge)"]'), null);
  const [dl2] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const full = JSON.parse(readFileSync(await dl2.path(), 'utf8'));
  const al = full.alignments.find((a) => a.agent === 'gpt-4o-mini-guide-test (judge)');
  assert.ok(al.reference_scores && typeof al.reference_scores.length === 'number', JSON.stringify(al));
  assert.notEqual(al.reference_scores.length, full.agents.find((a) => a.name === 'human').factor_scores.length.score);
  await page.locator('#alignment-table').screenshot({ path: join(SHOTS, '44-guide-sampled-agents.png') });
  // The widget (the Embed panel's live preview): the alignment view draws
  // the guidance chart and its sentences.
  await page.click('#embed-open');
  await page.selectOption('#embed-view', 'alignment');
  const preview = await (await page.$('#embed-preview')).contentFrame();
  await preview.waitForFunction(() => document.querySelector('profile-report')?.shadowRoot?.querySelector('.pr-guidance'), null, { timeout: 60_000 });
  const widget = await preview.$eval('profile-report', (el) => ({
    rows: [...el.shadowRoot.querySelectorAll('.pr-guidance .pr-row')].map((r) => r.dataset.strategy),
    lines: [...el.shadowRoot.querySelectorAll('.pr-guidance-line')].map((l) => l.textContent),
  }));
  assert.deepEqual(widget.rows, ['none', 'mis', 'rand']);
  assert.equal(widget.lines.length, 2);
  assert.match(widget.lines[0], /^GuideMis \(length (over|under)\).*trial run, not a result\.$/);
  await page.locator('#embed-preview').screenshot({ path: join(SHOTS, '45-guide-widget.png') });

  assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/.test(p)), []);
  await mock.replies([]);
  await page.context().close();
});
