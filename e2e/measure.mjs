// Measures the web app's speed and size (numbers for the closing note; the
// thresholds live here, never in tests):
//   - SummEval (4 MB, 11,342 pairs): from the file input's change event to the
//     rendered chart, in headless Chromium; median of 7 runs.
//   - the app's .wasm + JS, gzipped (budget 600 KB).
// Run after `trunk build --release`:  node e2e/measure.mjs [--json]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { setup, newPage, waitForReport, ROOT, DATA } from './helpers.mjs';

const SUMMEVAL = join(DATA, 'summeval', 'summeval.jsonl');
const RUNS = 7;

function sizes() {
  const dist = join(ROOT, 'dist');
  const files = readdirSync(dist).filter((f) => /\.(wasm|js)$/.test(f));
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

const env = await setup();
try {
  const speed = await dropToChart(env);
  const size = sizes();
  const result = {
    summeval_drop_to_chart: { ...speed, target_ms: 1000, pass: speed.median_ms < 1000 },
    bundle: { ...size, target_bytes: 600 * 1024, pass: size.total_gzip < 600 * 1024 },
  };
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result, null, 1));
  } else {
    console.log(`SummEval drop → chart: median ${speed.median_ms} ms over ${RUNS} runs (${speed.runs_ms.join(', ')}); target < 1000 ms: ${result.summeval_drop_to_chart.pass ? 'PASS' : 'FAIL'}`);
    for (const r of size.rows) console.log(`  ${r.file.padEnd(16)} ${String(r.bytes).padStart(9)} B raw  ${String(r.gzip).padStart(8)} B gzip`);
    console.log(`.wasm + JS gzipped: ${(size.total_gzip / 1024).toFixed(1)} KB; budget 600 KB: ${result.bundle.pass ? 'PASS' : 'FAIL'}`);
  }
} finally {
  await env.close();
}
