// End-to-end test of feedback-driven improvement in the app (issue 13,
// part 3) against the project's mock LLM server: the "Improve alignment"
// panel estimates every stage before any call (the later stages bounded),
// runs the experiment in the worker with progress and pause, a reload
// resumes from the browser cache with no repeated successful call (the mock
// counts them), a cached re-run makes no call, and the result shows τ with
// the humans and with the evaluator per condition, the failures with their
// raw replies, and each input's texts as text; it exports with the report
// and the widget draws it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { newPage, waitForReport, shot, SHOTS, openModels, mockSuite, useMock, waitCalls, pauseRun, startMock, exportedReport } from './helpers.mjs';

const KEY = 'sk-test-e2e-improve-5c1e';
const INPUTS = 3;
// Markup in a model's reply must stay text.
const DRAFTS = ['<b id="evil">bold</b> first draft. It has two sentences.', '<img src="x" id="evil2"> second draft.'];

// Slow enough to pause part-way through the run.
const suite = mockSuite(['--require-key', KEY, '--latency-ms', '60']);

async function configure(page) {
  await useMock(page, suite.mock, { model: 'gpt-4o-mini-improve-test', key: KEY });
  await page.fill('#improve-inputs', String(INPUTS));
}

/** A fresh page on the example, the mock scripted with `draft` for the first responses, the panel configured. */
async function start(draft) {
  const { env, mock } = suite;
  await mock.reset();
  await mock.replies([{ match: 'Write two different responses.', ...draft }]);
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await configure(page);
  return page;
}

const finished = '#improve-progress[data-state="finished"], #improve-progress[data-state="cancelled"], #improve-error';

test('improvement: estimate of every stage, run with pause, a reload resumes with no repeated successful call, τ per condition, texts as text, export and widget', async () => {
  const { mock } = suite;
  const page = await start({ json: { responses: DRAFTS } });

  // The estimate: every stage, the ones quoting replies not received yet as
  // bounds; no call.
  await page.click('#improve-estimate');
  await page.waitForSelector('#improve-estimate-text li');
  const lines = await page.$$eval('#improve-estimate-text li', (ls) => ls.map((l) => l.textContent));
  const stage = (what) => lines.find((l) => l.startsWith(what)) ?? assert.fail(`no ${what} in ${lines.join('\n')}`);
  const judgeQ = Number(stage('evaluator, judge (evaluator)').match(/^evaluator, judge \(evaluator\): (\d+) questions with known prompts, 0 cached/)[1]);
  assert.ok(judgeQ > 0);
  assert.match(stage('writer, first responses (writer)'), new RegExp(`: ${INPUTS} questions with known prompts, 0 cached, ~${INPUTS} calls`));
  assert.match(stage('evaluator, feedback'), new RegExp(`then at most ${INPUTS} questions on replies not received yet: ≤ ${INPUTS} calls`));
  assert.match(stage('writer, improved responses'), new RegExp(`then at most ${4 * INPUTS} questions on replies not received yet: ≤ ${4 * INPUTS} calls`));
  assert.match(stage('total:'), /^total: 0 cached, (at most |~)\d+ calls/);
  assert.equal((await mock.stats()).total, 0, 'an estimate makes no call');
  await page.locator('#improve-experiment').screenshot({ path: join(SHOTS, '46-improve-estimate.png') });

  // Run, pause part-way: no calls while paused.
  // Past the evaluator's judging and the first responses: the pause and
  // the reload fall in the writer's and the evaluator's stages.
  await page.click('#improve-run');
  await waitCalls(mock, judgeQ + INPUTS + 2);
  const paused = await pauseRun(page, mock, 'improve');
  await shot(page, '47-improve-paused');

  // Reload: the answered questions come from the browser cache.
  await page.reload();
  await waitForReport(page, 'example');
  await openModels(page);
  await page.fill('#llm-key', KEY);
  await page.fill('#improve-inputs', String(INPUTS));
  await page.click('#improve-run');
  await page.waitForSelector(finished, { timeout: 180_000 });
  assert.equal(await page.$('#improve-error'), null, 'the run finished');
  const stats = await mock.stats();
  assert.ok(stats.total > paused, 'the rest was asked after the reload');
  assert.equal(stats.repeated_successes, 0, 'no successful call repeated');
  const calls = stats.total;

  // The result: τ with the humans and with the evaluator per condition.
  await page.waitForSelector('#improve-conditions tbody tr');
  assert.deepEqual(await page.$$eval('#improve-conditions tbody tr', (rs) => rs.map((r) => r.dataset.condition)), ['feedback', 'both', 'single']);
  const taus = await page.$$eval('#improve-conditions tbody tr', (rs) => rs.map((r) => [r.querySelector('.tau-human').textContent, r.querySelector('.tau-evaluator').textContent]));
  for (const [h, e] of taus) {
    assert.match(h, /^([+−]\d\.\d{3} (\[[+−]\d\.\d{3}, [+−]\d\.\d{3}\]|no interval)|—) .*\d+ factors\)?$/, h);
    assert.match(e, /^([+−]\d\.\d{3} (\[[+−]\d\.\d{3}, [+−]\d\.\d{3}\]|no interval)|—) .*\d+ factors\)?$/, e);
  }
  const conclusion = await page.textContent('#improve-conclusion');
  // The experiment's questions answered before the reload came from the cache.
  const resumed = conclusion.match(/(\d+) calls this run, (\d+) cached, 0 failed \(and 0 calls of the evaluator judging the pairs\)/);
  assert.ok(resumed, conclusion);
  assert.equal(Number(resumed[1]) + Number(resumed[2]), 6 * INPUTS, conclusion);
  assert.ok(Number(resumed[2]) >= INPUTS, `the first responses came from the cache: ${conclusion}`);
  console.log(`improve in the app: ${calls} calls in all (judge ${judgeQ}, experiment ${6 * INPUTS}, then the factors of the written texts); paused at ${paused}; after the reload ${resumed[1]} experiment calls, ${resumed[2]} from the cache`);
  assert.match(conclusion, new RegExp(`${INPUTS} of ${INPUTS} inputs with two first responses; 6\\.0 questions per input`));
  assert.match(conclusion, /Too few to mean much/);

  // Each input's texts, as text: the markup in the replies is not markup.
  await page.click('#improve-items summary');
  assert.equal(await page.$$eval('#improve-items .improve-item', (x) => x.length), INPUTS);
  assert.equal(await page.$('#improve-items #evil, #improve-items #evil2, #improve-items b, #improve-items img'), null);
  const first = await page.textContent('#improve-items .improve-item');
  assert.ok(first.includes(DRAFTS[0]) && first.includes(DRAFTS[1]), first);
  assert.match(first, /Evaluator: (response [12] is better|a tie)/);
  assert.match(first, /Improved with feedback/);
  await page.locator('#improve-experiment').screenshot({ path: join(SHOTS, '48-improve-result.png') });

  // A cached re-run makes no call.
  await page.click('#improve-run');
  await page.waitForSelector('#improve-progress[data-state="running"], #improve-progress[data-state="finished"]');
  await page.waitForSelector(finished, { timeout: 60_000 });
  assert.equal((await mock.stats()).total, calls, 'a cached re-run makes 0 calls');
  assert.match(await page.textContent('#improve-conclusion'), /0 calls this run/);

  // The conditions and the evaluator's judge export with the report.
  const report = await exportedReport(page);
  assert.deepEqual(report.improvement.conditions.map((c) => c.condition), ['feedback', 'both', 'single']);
  assert.equal(report.improvement.items.length, INPUTS);
  assert.equal(report.improvement.items[0].responses[0], DRAFTS[0]);
  assert.ok(report.agents.some((a) => a.name === 'gpt-4o-mini-improve-test (judge)'));
  for (const c of report.improvement.conditions) {
    assert.ok(report.agents.some((a) => a.name === c.agent && a.setting === 'improvement'), c.agent);
  }
  assert.ok(!JSON.stringify(report).includes(KEY));

  // The widget (the Embed panel's live preview): the alignment view shows
  // τ per condition.
  await page.click('#embed-open');
  await page.selectOption('#embed-view', 'alignment');
  const preview = await (await page.$('#embed-preview')).contentFrame();
  await preview.waitForFunction(() => document.querySelector('profile-report')?.shadowRoot?.querySelector('.pr-improvement'), null, { timeout: 60_000 });
  const rows = await preview.$eval('profile-report', (el) => [...el.shadowRoot.querySelectorAll('.pr-improvement tbody tr')].map((r) => r.dataset.condition));
  assert.deepEqual(rows, ['feedback', 'both', 'single']);
  await page.locator('#embed-preview').screenshot({ path: join(SHOTS, '49-improve-widget.png') });

  assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/.test(p)), []);
  await mock.replies([]);
  await page.context().close();
});

test('improvement: failed questions are listed with their raw replies, and “Run again” asks only those', async () => {
  const { mock } = suite;
  // The first responses come back as prose: every draft question fails.
  const page = await start({ text: 'Sure, here are two responses: one and two.' });
  await page.fill('#llm-model', 'gpt-4o-mini-improve-failing');
  await page.fill('#improve-inputs', '1');
  await page.click('.advanced summary');
  await page.fill('#llm-attempts', '1');
  await page.click('#improve-run');
  await page.waitForSelector(finished, { timeout: 120_000 });
  assert.equal(await page.$('#improve-error'), null);
  const first = (await mock.stats()).total;
  const conclusion = await page.textContent('#improve-conclusion');
  assert.match(conclusion, /0 of 1 inputs with two first responses/);
  assert.match(conclusion, /No condition has an \(initial, improved\) pair/);
  assert.equal(await page.$('#improve-conditions'), null, 'no empty table');
  // The stage whose questions all failed is named, with its model and counts.
  assert.deepEqual(
    await page.$$eval('#improve-stopped li', (ls) => ls.map((l) => l.textContent.replace(/ — \d+ failed,/, ' — N failed,'))),
    ['writer gpt-4o-mini-improve-failing, first responses: every question failed — N failed, none of the 1 inputs got two first responses, so nothing was improved or scored; the reasons and raw replies are listed below'],
  );
  await page.click('#improve-failures summary');
  const failures = await page.$$eval('#improve-failures li.failure', (ls) => ls.map((l) => ({ reason: l.querySelector('div').textContent, raw: l.querySelector('pre.raw')?.textContent ?? '' })));
  assert.ok(failures.length >= 1, 'the failed draft is listed');
  for (const f of failures) assert.ok(f.reason.trim().length > 0, JSON.stringify(f));
  assert.ok(failures.some((f) => f.raw.includes('Sure, here are two responses')), JSON.stringify(failures));
  assert.equal(await page.textContent('#improve-run'), 'Run again (retry failed)');
  await page.locator('#improve-experiment').screenshot({ path: join(SHOTS, '49-improve-failures.png') });

  // The model now answers: the run again asks the failed question and what
  // follows it; the evaluator's judging comes from the cache.
  await mock.replies([]);
  await page.click('#improve-run');
  await page.waitForSelector('#improve-conditions tbody tr', { timeout: 120_000 });
  await page.waitForSelector(finished, { timeout: 120_000 });
  const stats = await mock.stats();
  // The failed drafts came back as HTTP 200 (the mock counts them as
  // successes): they, and nothing else, were asked again.
  assert.equal(stats.repeated_successes, failures.length, 'only the failed questions asked again');
  assert.match(await page.textContent('#improve-conclusion'), /1 of 1 inputs with two first responses; 6\.0 questions per input, 6 calls this run, 0 cached, 0 failed \(and 0 calls of the evaluator judging the pairs\)/);
  assert.ok(stats.total > first);
  assert.equal(await page.$('#improve-failures'), null, 'nothing failed this time');
  assert.equal(await page.$('#improve-stopped'), null, 'no stage failed whole');
  await page.context().close();
});

test('improvement in single order: the evaluator judges each pair once (seeded order), as `profile improve --single-order`', async () => {
  const { mock } = suite;
  const page = await start({ json: { responses: DRAFTS } });
  await page.fill('#llm-model', 'gpt-4o-mini-improve-single');
  await page.fill('#improve-inputs', '1');
  const judgeQuestions = async () => {
    await page.click('#improve-estimate');
    await page.waitForSelector('#improve-estimate-text li');
    const line = await page.$$eval('#improve-estimate-text li', (ls) => ls.map((l) => l.textContent).find((l) => l.startsWith('evaluator, judge')));
    return Number(line.match(/^evaluator, judge \(evaluator\): (\d+) questions/)[1]);
  };
  const both = await judgeQuestions();
  await page.check('#improve-single-order');
  await page.waitForFunction(() => !document.querySelector('#improve-estimate')?.disabled);
  const single = await judgeQuestions();
  assert.ok(single > 0 && both === 2 * single, `both orders ${both}, single order ${single}`);
  assert.equal((await mock.stats()).total, 0, 'an estimate makes no call');

  await page.click('#improve-run');
  await page.waitForSelector(finished, { timeout: 120_000 });
  assert.equal(await page.$('#improve-error'), null);
  await page.waitForSelector('#improve-conditions tbody tr');
  const report = await exportedReport(page);
  const judge = report.agents.find((a) => a.name === 'gpt-4o-mini-improve-single (judge)');
  assert.equal(judge.run.both_orders, false);
  assert.equal(typeof judge.run.order_seed, 'number');
  assert.equal(judge.run.calls, single);
  assert.equal(report.improvement.judge_calls, single);
  // Each pair judged once, 6 questions for the input, then the factors of
  // the written texts (the example's model-based factors).
  assert.equal(report.improvement.calls, 6);
  const written = report.agents.filter((a) => a.setting === 'improvement')[0].run.extraction?.calls ?? 0;
  assert.equal((await mock.stats()).total, single + 6 + written, 'the calls the mock got');
  assert.deepEqual(report.improvement.conditions.map((c) => c.condition), ['feedback', 'both', 'single']);
  await page.locator('#improve-experiment').screenshot({ path: join(SHOTS, '49-improve-single-order.png') });
  assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/.test(p)), []);
  await mock.replies([]);
  await page.context().close();
});

test('improvement with an evaluator at its own address (as --evaluator-base-url): its judging and feedback go there, the writing to the panel\'s', async () => {
  const { mock } = suite;
  const evaluator = await startMock(['--require-key', KEY]);
  try {
    const page = await start({ json: { responses: DRAFTS } });
    await page.fill('#improve-inputs', '1');
    // An address without a model is refused before any call, as the CLI does.
    await page.fill('#improve-evaluator-base-url', `${evaluator.url}/v1`);
    await page.click('#improve-run');
    await page.waitForSelector('#improve-errors');
    assert.match(await page.textContent('#improve-errors'), /evaluator address: give the evaluator model too/);
    await page.fill('#improve-evaluator', 'gpt-4o-mini-evaluator');
    await page.click('#improve-estimate');
    await page.waitForSelector('#improve-estimate-text li');
    const line = await page.$$eval('#improve-estimate-text li', (ls) => ls.map((l) => l.textContent).find((l) => l.startsWith('evaluator, judge')));
    const judgeQ = Number(line.match(/^evaluator, judge \(evaluator\): (\d+) questions/)[1]);
    await page.click('#improve-run');
    await page.waitForSelector(finished, { timeout: 120_000 });
    assert.equal(await page.$('#improve-error'), null);
    await page.waitForSelector('#improve-conditions tbody tr');
    assert.equal((await evaluator.stats()).total, judgeQ + 1, 'the evaluator judged the pairs and gave the feedback at its address');
    const report = await exportedReport(page);
    assert.equal(report.improvement.evaluator, 'gpt-4o-mini-evaluator (judge)');
    const judge = report.agents.find((a) => a.name === 'gpt-4o-mini-evaluator (judge)');
    assert.equal(judge.run.base_url, `${evaluator.url}/v1`);
    // The writer's 5 questions (and the written texts' factors) at the panel's address.
    const written = report.agents.filter((a) => a.setting === 'improvement')[0].run.extraction?.calls ?? 0;
    assert.equal((await mock.stats()).total, 5 + written);
    assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/.test(p)), []);
    await page.context().close();
  } finally {
    await mock.replies([]);
    await evaluator.close();
  }
});
