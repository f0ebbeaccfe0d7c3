// Measures the web app's speed and size (numbers for the closing note; the
// thresholds live here, never in tests):
//   - SummEval (4 MB, 11,342 pairs): from the file input's change event to the
//     rendered chart, in headless Chromium; median of 7 runs.
//   - the app's .wasm + JS, gzipped (budget 600 KB).
//   - the embeddable widget's own .wasm + JS, gzipped (budget 250 KB): what a
//     blog post with <profile-report> downloads (widget.js, its Wasm module
//     and bindings); the iframe page adds embed.js.
// Run after `trunk build --release`:  node e2e/measure.mjs [--json] [--sizes-only]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { setup, newPage, waitForReport, ROOT, DATA } from './helpers.mjs';

const SUMMEVAL = join(DATA, 'summeval', 'summeval.jsonl');
const RUNS = 7;

const WIDGET_FILES = ['widget.js', 'embed.js', 'profile-widget.js', 'profile-widget_bg.wasm'];

/** Raw and gzipped sizes of the app's files (default) or of the given ones. */
function sizes(only) {
  const dist = join(ROOT, 'dist');
  const files = only ?? readdirSync(dist).filter((f) => /\.(wasm|js)$/.test(f) && !WIDGET_FILES.includes(f));
  const rows = files.map((f) => {
    const raw = readFileSync(join(dist, f));
    return { file: f, bytes: raw.length, gzip: gzipSync(raw, { level: 9 }).length };
  });
  return { rows, total_gzip: rows.reduce((a, r) => a + r.gzip, 0) };
}

async function dropToChart(env) {
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 900 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    await page.evaluate(() => {
      window.__t0 = null;
      window.__t1 = null;
      document.getElementById('file-input').addEventListener('change', () => { window.__t0 = performance.now(); }, { capture: true, once: true });
      const obs = new MutationObserver(() => {
        const name = document.getElementById('dataset-name');
        if (window.__t0 && name && name.textContent.includes('summeval') && document.querySelector('#factor-chart g.bar-row')) {
          window.__t1 = performance.now();
          obs.disconnect();
        }
      });
      obs.observe(document.body, { childList: true, subtree: true, characterData: true });
    });
    await page.setInputFiles('#file-input', SUMMEVAL);
    await page.waitForFunction(() => window.__t1 !== null, null, { timeout: 60_000 });
    times.push(await page.evaluate(() => window.__t1 - window.__t0));
    // Back to the example so the next run renders a new report.
    await page.click('button.linkish');
    await waitForReport(page, 'example');
  }
  await page.context().close();
  times.sort((a, b) => a - b);
  return { runs_ms: times.map((t) => Math.round(t)), median_ms: Math.round(times[Math.floor(times.length / 2)]) };
}

function printSizes(title, size, budget) {
  for (const r of size.rows) console.log(`  ${r.file.padEnd(24)} ${String(r.bytes).padStart(9)} B raw  ${String(r.gzip).padStart(8)} B gzip`);
  console.log(`${title} .wasm + JS gzipped: ${(size.total_gzip / 1024).toFixed(1)} KB; budget ${budget / 1024} KB: ${size.total_gzip < budget ? 'PASS' : 'FAIL'}`);
}

const sizesOnly = process.argv.includes('--sizes-only');
const env = sizesOnly ? null : await setup();
try {
  const speed = env ? await dropToChart(env) : null;
  const size = sizes();
  const widget = sizes(['widget.js', 'profile-widget.js', 'profile-widget_bg.wasm']);
  const result = {
    ...(speed && { summeval_drop_to_chart: { ...speed, target_ms: 1000, pass: speed.median_ms < 1000 } }),
    bundle: { ...size, target_bytes: 600 * 1024, pass: size.total_gzip < 600 * 1024 },
    widget: { ...widget, target_bytes: 250 * 1024, pass: widget.total_gzip < 250 * 1024 },
  };
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result, null, 1));
  } else {
    if (speed) console.log(`SummEval drop → chart: median ${speed.median_ms} ms over ${RUNS} runs (${speed.runs_ms.join(', ')}); target < 1000 ms: ${result.summeval_drop_to_chart.pass ? 'PASS' : 'FAIL'}`);
    printSizes('app', size, 600 * 1024);
    printSizes('widget (<profile-report>)', widget, 250 * 1024);
  }
} finally {
  await env?.close();
}
