// Hostile servers against the app's model runs (issue 10), in the worker:
// a Retry-After of 300 digits or of eleven days, a refused key, a reply over
// the 10 MiB cap, and settings out of range. Each must end the run with the
// item listed and its reason (never a hung run, a dead worker or paid
// retries), as the CLI does (tests/hostile_llm.rs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, newPage, waitForReport, startMock, openModels } from './helpers.mjs';

let env;
let mock;
before(async () => {
  env = await setup();
  mock = await startMock();
});
after(async () => {
  await mock.close();
  await env.close();
});

/** A fresh page with the example loaded and the form pointed at the mock,
 * one call at a time, a model name of its own (so no cache is shared). */
async function ready(model, { attempts = '3' } = {}) {
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await openModels(page);
  await page.selectOption('#llm-provider', 'openai');
  await page.fill('#llm-model', model);
  await page.fill('#llm-base-url', `${mock.url}/v1`);
  await page.fill('#llm-key', 'sk-hostile');
  await page.fill('#llm-sample', '1');
  if (!(await page.$eval('.advanced', (d) => d.open))) await page.click('.advanced summary');
  await page.fill('#llm-attempts', attempts);
  await page.fill('#llm-timeout', '20');
  await page.fill('#llm-concurrency', '1');
  return page;
}

async function run(page, limitMs = 60_000) {
  await page.click('#llm-run');
  await page.waitForSelector('#llm-progress[data-state="finished"], #llm-progress[data-state="cancelled"], #llm-error', { timeout: limitMs });
}

async function failures(page) {
  await page.click('#llm-failures summary');
  return page.$$eval('#llm-failures li.failure', (ls) => ls.map((l) => l.textContent));
}

for (const [name, wait] of [['300 digits', '1' + '0'.repeat(300)], ['eleven days', '1000000']]) {
  test(`a Retry-After of ${name} fails the item with the wait named; the run finishes`, async () => {
    await mock.reset();
    await mock.faults({ sequence: ['429'], retry_after: wait });
    const page = await ready(`ra-${wait.length}`);
    await run(page, 30_000);
    const listed = await failures(page);
    assert.ok(listed.some((f) => f.includes('600 s') && f.includes('line ')), listed.join('\n'));
    const stats = await mock.stats();
    assert.equal(stats.faulted['429'], 1, 'not retried');
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
}

test('a refused key stops the run at the first answer, and says so', async () => {
  await mock.reset();
  await mock.faults({ rate: 1.0, kinds: ['401'] });
  const page = await ready('auth');
  await run(page);
  assert.equal((await mock.stats()).total, 1, 'one call, not one per question');
  assert.match(await page.textContent('#llm-stopped'), /HTTP 401/);
  const listed = await failures(page);
  assert.ok(listed.some((f) => f.includes('not asked: the run stopped')), listed.join('\n'));
  await page.context().close();
});

test('a reply over 10 MiB fails its item once, not read and not retried', async () => {
  await mock.reset();
  await mock.faults({ sequence: ['huge'] });
  const page = await ready('huge');
  await run(page);
  assert.equal((await mock.stats()).faulted.huge, 1);
  const listed = await failures(page);
  assert.ok(listed.some((f) => f.includes('10 MiB')), listed.join('\n'));
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('settings out of range are refused before anything is sent', async () => {
  await mock.reset();
  const page = await ready('ranges');
  await page.fill('#llm-concurrency', '100000000');
  await page.fill('#llm-timeout', '0');
  await page.fill('#llm-attempts', '1.5');
  await page.click('#llm-run');
  await page.waitForSelector('#llm-errors');
  const errors = await page.textContent('#llm-errors');
  assert.match(errors, /concurrency: must be a whole number from 1 to 64/);
  assert.match(errors, /timeout: must be/);
  assert.match(errors, /attempts: must be a whole number/);
  assert.equal((await mock.stats()).total, 0);
  await page.context().close();
});
