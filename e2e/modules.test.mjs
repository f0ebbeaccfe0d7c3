// The app's two Wasm modules, in headless Chromium: the page shows a report
// with the first-load module alone; the first use of the model panel or of
// the Embed panel loads the full module, which takes over with the data
// shown (loaded again by its worker) and the panel asked for; a failed
// download of the full module is reported and leaves the app working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setup, newPage, waitForReport, tableScores, shot, DATA } from './helpers.mjs';

const LLMBAR = join(DATA, 'llmbar', 'Processed', 'MT-Bench', 'dataset.json');

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env.close();
});

/** A page that records the file names it requests (page and worker). */
async function tracked(opts = {}) {
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 1000 }, ...opts });
  page.requested = [];
  page.context().on('request', (r) => page.requested.push(new URL(r.url()).pathname.split('/').pop()));
  return page;
}

test('the first load is the first-load module only; the model panel loads the full module with the data shown', async () => {
  const page = await tracked();
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.setInputFiles('#file-input', LLMBAR);
  await waitForReport(page, 'dataset.json');
  const scores = await tableScores(page);
  assert.ok(page.requested.includes('app_bg.wasm'), page.requested.join(' '));
  assert.deepEqual(page.requested.filter((f) => f.startsWith('app-full')), [], 'the full module is not loaded up front');
  assert.equal(await page.$('#llm-provider'), null, 'no model form before the model tools are loaded');
  assert.ok((await page.$$('#skipped-factors li')).length > 0, 'the factors that need a model are listed');
  await shot(page, '70-modules-first-load');

  await page.click('#llm-open');
  await page.waitForSelector('#llm-provider', { timeout: 60_000 });
  await waitForReport(page, 'dataset.json');
  assert.ok(page.requested.includes('app-full_bg.wasm'), page.requested.join(' '));
  assert.deepEqual(await tableScores(page), scores, 'the same data, scored the same, after the hand-over');
  assert.equal(await page.$('#llm-open'), null);
  // The full app's worker has the model engine: an estimate is answered.
  await page.selectOption('#llm-provider', 'openai');
  await page.fill('#llm-sample', '2');
  await page.click('#llm-estimate');
  await page.waitForSelector('#llm-estimate-text, #llm-error, #llm-errors', { timeout: 60_000 });
  assert.equal(await page.$('#llm-error'), null, await page.textContent('#llm-error').catch(() => ''));
  assert.equal(await page.$('#llm-errors'), null, await page.textContent('#llm-errors').catch(() => ''));
  assert.match(await page.textContent('#llm-estimate-text'), /\d/);
  await shot(page, '71-modules-model-tools');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the Embed button loads the full module and opens the Embed panel', async () => {
  const page = await tracked();
  await page.goto(`${env.url}#task=helpful`);
  await waitForReport(page, 'example');
  await page.click('#embed-open');
  await page.waitForSelector('#embed-script', { timeout: 60_000 });
  assert.match(await page.inputValue('#embed-script'), /<profile-report src="profile-report.json"/);
  assert.equal(await page.getAttribute('#embed-open', 'aria-expanded'), 'true');
  assert.match(page.url(), /#task=helpful/, 'the view is kept');
  // The panel is brought into view, so its lazy preview iframe loads and draws.
  const preview = await (await page.$('#embed-preview')).contentFrame();
  await preview.waitForFunction(() => document.querySelector('profile-report')?.state === 'ready', null, { timeout: 30_000 });
  await shot(page, '72-modules-embed');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a failed download of the full module is reported, and the app keeps working', async () => {
  const page = await tracked();
  await page.route(/app-full_bg\.wasm$/, (route) => route.abort());
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.click('#llm-open');
  await page.waitForSelector('#tools-error', { timeout: 60_000 });
  assert.match(await page.textContent('#tools-error'), /Could not load the model tools/);
  // Still the first-load app, still working: another file loads and scores.
  await page.setInputFiles('#file-input', LLMBAR);
  await waitForReport(page, 'dataset.json');
  assert.ok(await page.$('#llm-open'), 'the button is there to try again');
  await page.context().close();
});
