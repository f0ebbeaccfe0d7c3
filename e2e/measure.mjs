// Measures the web app's speed and size (numbers for the closing note; the
// thresholds live here, never in timing tests; e2e/sizes.test.mjs holds the
// size budgets):
//   - SummEval (4 MB, 11,342 pairs): from the file input's change event to the
//     rendered chart, in headless Chromium; median of 7 runs.
//   - the first load, gzipped (budget 530 KB, goal 450 KB): boot.js, the
//     first-load module (app.js, app_bg.wasm) and worker.js.
//   - the model tools, gzipped: the full module (app-full.js,
//     app-full_bg.wasm), loaded on first use of the model or Embed panels.
//   - the drill-down list (virtualised): the discordant pairs of `length` on
//     SummEval and on a generated 100k-pair file; per scroll frame, the time
//     from a scroll step to the second animation frame after it (target
//     < 100 ms), and for jumps the time until every row in view is filled
//     from the worker's pages.
//   - the embeddable widget's own .wasm + JS, gzipped (budget 250 KB): what a
//     blog post with <profile-report> downloads (widget.js, its Wasm module
//     and bindings); the iframe page adds embed.js.
// Run after `trunk build --release`:  node e2e/measure.mjs [--json] [--sizes-only]
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { siteSizes } from './sizes.mjs';
import { setup, newPage, waitForReport, ROOT, DATA } from './helpers.mjs';

const SUMMEVAL = join(DATA, 'summeval', 'summeval.jsonl');
const RUNS = 7;

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

/** A pairwise file of `n` pairs (10 per input) with responses of varied length. */
function bigFile(n) {
  const words = 'the a model answer cat dog runs quickly because data shows results clearly many few long short text words source new old'.split(' ');
  let seed = 7;
  const rnd = (k) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % k; };
  const text = (len) => Array.from({ length: len }, () => words[rnd(words.length)]).join(' ');
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({ input: `question ${Math.floor(i / 10)} ${text(8)}`, response_a: text(5 + rnd(60)), response_b: text(5 + rnd(60)), preference: rnd(2) ? 'a' : 'b' }));
  }
  const dir = mkdtempSync(join(tmpdir(), 'profile-measure-'));
  const path = join(dir, 'pairs-100k.jsonl');
  writeFileSync(path, lines.join('\n'));
  return path;
}

/** Opens the discordant pairs of `length` for `file` and times scrolling the list. */
async function drillScroll(env, file, name) {
  const page = await newPage(env.browser, { viewport: { width: 1200, height: 1000 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.setInputFiles('#file-input', file);
  await waitForReport(page, name);
  const t0 = Date.now();
  await page.click('#factor-table tr[data-factor="length"] td:nth-of-type(5) button');
  await page.waitForSelector('#drill-list button.drill-row[data-pair]');
  const open_ms = Date.now() - t0;
  const r = await page.evaluate(async () => {
    const el = document.getElementById('drill-list');
    const raf = () => new Promise((ok) => requestAnimationFrame(() => ok()));
    const filled = () => !el.querySelector('.drill-row.pending');
    await raf();
    const steps = [];
    for (let i = 0; i < 120; i++) {
      const t = performance.now();
      el.scrollTop += 240; // 8 rows a frame: a fast wheel
      await raf();
      await raf();
      steps.push(performance.now() - t);
    }
    const jumps = [];
    for (let i = 1; i <= 10; i++) {
      const t = performance.now();
      el.scrollTop = (el.scrollHeight * i) / 11;
      await raf();
      while (!filled()) await raf();
      jumps.push(performance.now() - t);
    }
    return { steps, jumps, dom_rows: el.querySelectorAll('.drill-row').length, rows: parseFloat(el.firstChild.style.height) / 30 };
  });
  await page.context().close();
  const sorted = (xs) => [...xs].sort((a, b) => a - b);
  const s = sorted(r.steps);
  const j = sorted(r.jumps);
  return {
    rows: r.rows,
    rows_in_dom: r.dom_rows,
    open_ms,
    frame_median_ms: Math.round(s[Math.floor(s.length / 2)]),
    frame_max_ms: Math.round(s[s.length - 1]),
    jump_fill_median_ms: Math.round(j[Math.floor(j.length / 2)]),
    jump_fill_max_ms: Math.round(j[j.length - 1]),
    target_ms: 100,
    pass: s[s.length - 1] < 100,
  };
}

function printSizes(title, size) {
  for (const r of size.rows) console.log(`  ${r.file.padEnd(24)} ${String(r.bytes).padStart(9)} B raw  ${String(r.gzip).padStart(8)} B gzip`);
  const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
  let line = `${title} .wasm + JS gzipped: ${kb(size.total_gzip)}`;
  if (size.target_bytes) line += `; budget ${kb(size.target_bytes)}: ${size.pass ? 'PASS' : 'FAIL'}`;
  if (size.goal_bytes) line += `; goal ${kb(size.goal_bytes)}: ${size.goal_reached ? 'reached' : 'not reached'}`;
  console.log(line);
}

const sizesOnly = process.argv.includes('--sizes-only');
const env = sizesOnly ? null : await setup();
try {
  const speed = env ? await dropToChart(env) : null;
  const drill = env
    ? { summeval: await drillScroll(env, SUMMEVAL, 'summeval'), pairs_100k: await drillScroll(env, bigFile(100_000), 'pairs-100k') }
    : null;
  const size = siteSizes(join(ROOT, 'dist'));
  const result = {
    ...(speed && { summeval_drop_to_chart: { ...speed, target_ms: 1000, pass: speed.median_ms < 1000 } }),
    ...(drill && { drill_scroll: drill }),
    ...size,
  };
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result, null, 1));
  } else {
    if (speed) console.log(`SummEval drop → chart: median ${speed.median_ms} ms over ${RUNS} runs (${speed.runs_ms.join(', ')}); target < 1000 ms: ${result.summeval_drop_to_chart.pass ? 'PASS' : 'FAIL'}`);
    if (drill) {
      for (const [k, d] of Object.entries(drill)) {
        console.log(`drill-down (${k}, ${d.rows} discordant pairs of length, ${d.rows_in_dom} rows in the DOM): opened in ${d.open_ms} ms; scroll frame median ${d.frame_median_ms} ms, max ${d.frame_max_ms} ms; jump until filled median ${d.jump_fill_median_ms} ms, max ${d.jump_fill_max_ms} ms; target < 100 ms per frame: ${d.pass ? 'PASS' : 'FAIL'}`);
      }
    }
    printSizes('app, first load (boot.js, app module, worker.js)', size.first_load);
    printSizes('app, model tools (full module, loaded on first use)', size.model_tools);
    printSizes('Parquet reader (loaded when a Parquet file is dropped)', size.parquet);
    printSizes('widget (<profile-report>)', size.widget);
  }
} finally {
  await env?.close();
}
