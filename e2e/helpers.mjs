// Shared set-up for the end-to-end tests: the built site served on 127.0.0.1
// under a sub-path, and Debian's Chromium driven by playwright-core.
import { chromium } from 'playwright-core';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DATA = resolve(ROOT, '..', 'shared', 'data');
export const SHOTS = join(ROOT, 'target', 'screenshots');
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
