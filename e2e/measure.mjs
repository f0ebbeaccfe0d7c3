// Measures the web app's speed and size (numbers for the closing note; the
// thresholds live here, never in timing tests; e2e/sizes.test.mjs holds the
// size budgets):
//   - SummEval (4 MB, 11,342 pairs): from the file input's change event to the
//     rendered chart, in headless Chromium; median of 7 runs.
//   - the first load, gzipped (budget and goal 450 KB): boot.js, the
//     first-load module (app.js, app_bg.wasm), worker.js and reader.js.
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
//   - a big file (issue 16): the first 140,000 pairs of the benchmark's
//     generated 1M-pair file (benches/gen.rs, with sources; ~218 MB), from
//     drop to rendered chart in headless Chromium, alternating with the
//     native release CLI (`target/release/profile score FILE --json`, the
//     same factors as the app's default) on the same file; 3 runs each,
//     the ratio of the medians (goal ≤ 1.5). The worker posts its phases
//     (read slices, copy into Wasm, parse, finish, factors, scores, joint,
//     report, serialize, post) and the size of its Wasm memory after the
//     load; the page's side is the time from the report's message to the
//     chart, and the UI thread's longest task
//     (PerformanceObserver 'longtask', which sees tasks ≥ 50 ms; goal:
//     none) and longest gap between animation frames during the load.
//     The file is generated once into the temp dir by
//     `cargo bench --bench score -- million/optimized --pairs 140000`.
// Run after `trunk build --release` and `cargo build --release`:
//   node e2e/measure.mjs [--json] [--sizes-only] [--big-only] [--big-pairs N] [--big-runs N] [--no-big] [--dist DIR]
//   node e2e/measure.mjs --against BASE_DIST [--rounds N] [--dist DIR]   (drop → chart, alternating)
import { writeFileSync, mkdtempSync, existsSync, statSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync, execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { siteSizes } from './sizes.mjs';
import { setup, newPage, waitForReport, cliReport, fmt, tableScores, ROOT, DATA } from './helpers.mjs';

const SUMMEVAL = join(DATA, 'summeval', 'summeval.jsonl');
const RUNS = 7;

async function dropToChart(env, runs = RUNS) {
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 900 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  const times = [];
  for (let i = 0; i < runs; i++) {
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

const argValue = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

/**
 * The benchmark's generated file of `pairs` pairs (the first `pairs` pairs
 * of its 1M-pair file: the generator is seeded and writes input by input),
 * generated by the score bench when not in the temp dir yet.
 */
function benchFile(pairs) {
  const path = join(tmpdir(), `profile-bench-v2-s5eed2024-${pairs}.jsonl`);
  if (!existsSync(path)) {
    console.error(`generating ${path} with the score bench …`);
    const r = spawnSync('cargo', ['bench', '--bench', 'score', '--', 'million/optimized', '--pairs', String(pairs), '--naive-pairs', String(pairs)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0 || !existsSync(path)) throw new Error(`the score bench did not write ${path}`);
  }
  return path;
}

/** One run of the native CLI on `file`: wall and CPU times (ms), peak RSS (MB). */
function cliRun(file) {
  const bin = join(ROOT, 'target', 'release', 'profile');
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', bin, 'score', file, '--json'], { maxBuffer: 1 << 28 });
  const wall = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`profile score failed: ${r.stderr}`);
  const [user, sys, kb] = r.stderr.toString().trim().split('\n').pop().split(' ').map(Number);
  return { wall_ms: Math.round(wall), cpu_ms: Math.round((user + sys) * 1000), peak_mb: Math.round(kb / 1024) };
}

/**
 * CPU time (ms) of this process's descendants (the browser's processes),
 * with what their exited children used (Linux /proc; null elsewhere).
 */
function browserCpuMs() {
  try {
    const tick = 100; // USER_HZ: the clock ticks of /proc/PID/stat
    const procs = new Map();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const f = readFileSync(`/proc/${d}/stat`, 'utf8');
        const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
        // Fields 4 (ppid), 14–17 (utime, stime, cutime, cstime), from field 3 on.
        const t = [11, 12, 13, 14].reduce((a, i) => a + Number(rest[i]), 0);
        procs.set(Number(d), { ppid: Number(rest[1]), t });
      } catch {}
    }
    const mine = (pid) => {
      for (let p = pid, n = 0; p > 1 && n < 64; p = procs.get(p)?.ppid ?? 0, n++) if (p === process.pid) return true;
      return false;
    };
    let t = 0;
    for (const [pid, p] of procs) if (pid !== process.pid && mine(pid)) t += p.t;
    return (t * 1000) / tick;
  } catch {
    return null;
  }
}

/** Records, from before the app starts: the worker's phase message, when the report's message arrives, long tasks and animation-frame gaps. */
function instrument() {
  window.__longtasks = [];
  try {
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch (e) {
    window.__longtasks = null;
  }
  const W = window.Worker;
  window.Worker = class extends W {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        const d = e.data;
        if (typeof d === 'string') {
          if (d.startsWith('{"kind":"loaded"')) {
            window.__loadedAt = performance.now();
            window.__loadedChars = d.length;
          }
        } else if (d && d.profile_phases) {
          window.__phases = d;
        }
      });
    }
  };
  // The longest gap between animation frames while a load is timed.
  window.__maxGap = 0;
  let last = null;
  const frame = (t) => {
    if (window.__t0 && !window.__t1) {
      if (last !== null && last >= window.__t0) window.__maxGap = Math.max(window.__maxGap, t - last);
      last = t;
    } else {
      last = null;
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

/** Drops `file` on the app and times it to the rendered chart, with the worker's phases. */
async function bigDrop(env, file, name) {
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 900 } });
  await page.addInitScript(instrument);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.evaluate((n) => {
    window.__t0 = null;
    window.__t1 = null;
    window.__loadedAt = null;
    window.__phases = null;
    window.__maxGap = 0;
    document.getElementById('file-input').addEventListener('change', () => { window.__t0 = performance.now(); }, { capture: true, once: true });
    const obs = new MutationObserver(() => {
      const el = document.getElementById('dataset-name');
      if (window.__t0 && el && el.textContent.includes(n) && document.querySelector('#factor-chart g.bar-row')) {
        window.__t1 = performance.now();
        obs.disconnect();
      }
    });
    obs.observe(document.body, { childList: true, subtree: true, characterData: true });
  }, name);
  const cpu0 = browserCpuMs();
  await page.setInputFiles('#file-input', file);
  await page.waitForFunction(() => window.__t1 !== null, null, { timeout: 600_000 });
  const cpu1 = browserCpuMs();
  // Let the tasks that finish the render end (and be observed).
  await page.waitForTimeout(500);
  const r = await page.evaluate(() => {
    const t0 = window.__t0;
    const t1 = window.__t1;
    const origin = performance.timeOrigin;
    const long = (window.__longtasks || []).filter((e) => e.start + e.duration >= t0);
    const p = window.__phases;
    return {
      total_ms: t1 - t0,
      worker_phases: p && p.profile_phases,
      // Page clock: from the drop to the worker's first phase, and from its last to the report's arrival.
      before_worker_ms: p ? p.start - origin - t0 : null,
      message_ms: p && window.__loadedAt ? window.__loadedAt - (p.end - origin) : null,
      page_ms: window.__loadedAt ? t1 - window.__loadedAt : null,
      message_chars: window.__loadedChars,
      memory_mb: p && p.memory ? Math.round(p.memory / 1048576) : null,
      longtask_observed: window.__longtasks !== null,
      longtasks_ms: long.map((e) => Math.round(e.duration)),
      max_frame_gap_ms: Math.round(window.__maxGap),
    };
  });
  const scores = await tableScores(page);
  const pairs = await page.textContent('#stat-pairs');
  await page.context().close();
  return { ...r, scores, pairs, cpu_ms: cpu0 === null || cpu1 === null ? null : Math.round(cpu1 - cpu0) };
}

/** The big file: browser runs alternating with CLI runs; the ratio of the medians. */
async function bigCase(env, pairs, runs) {
  const file = benchFile(pairs);
  const name = file.split('/').pop();
  const cli = cliReport(file);
  const expected = Object.fromEntries(Object.entries(cli.agents[0].factor_scores).map(([f, e]) => [f, fmt(e.score)]));
  const web = [];
  const native = [];
  for (let i = 0; i < runs; i++) {
    const w = await bigDrop(env, file, name);
    if (w.pairs !== String(cli.dataset.pairs) || JSON.stringify(w.scores) !== JSON.stringify(expected)) {
      throw new Error(`the app's report differs from the CLI's: ${w.pairs} pairs, ${JSON.stringify(w.scores)} against ${cli.dataset.pairs}, ${JSON.stringify(expected)}`);
    }
    web.push(w);
    native.push(cliRun(file));
    console.error(`  big run ${i + 1}: browser ${Math.round(w.total_ms)} ms, native ${native[i].wall_ms} ms wall (${native[i].cpu_ms} ms CPU)`);
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const phases = {};
  for (const k of Object.keys(web[0].worker_phases || {})) phases[k] = Math.round(med(web.map((w) => w.worker_phases[k] || 0)));
  const browser_ms = Math.round(med(web.map((w) => w.total_ms)));
  const native_ms = med(native.map((n) => n.wall_ms));
  const longest = Math.max(0, ...web.flatMap((w) => w.longtasks_ms));
  return {
    file,
    bytes: statSync(file).size,
    pairs: cli.dataset.pairs,
    browser_runs_ms: web.map((w) => Math.round(w.total_ms)),
    browser_cpu_ms: web.map((w) => w.cpu_ms),
    native_runs: native,
    browser_median_ms: browser_ms,
    native_median_ms: native_ms,
    native_cpu_median_ms: med(native.map((n) => n.cpu_ms)),
    ratio: Math.round((browser_ms / native_ms) * 100) / 100,
    ratio_goal: 1.5,
    worker_phases_median_ms: phases,
    before_worker_ms: web.map((w) => Math.round(w.before_worker_ms)),
    message_ms: web.map((w) => Math.round(w.message_ms)),
    page_ms: web.map((w) => Math.round(w.page_ms)),
    message_chars: web[0].message_chars,
    worker_memory_mb: web.map((w) => w.memory_mb),
    longtask_observed: web.every((w) => w.longtask_observed),
    longtasks_ms: web.map((w) => w.longtasks_ms),
    longest_task_ms: longest,
    max_frame_gap_ms: web.map((w) => w.max_frame_gap_ms),
    stall_goal_ms: 50,
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
const bigOnly = process.argv.includes('--big-only');
// --dist DIR: measure another build of the site (e.g. a baseline's copy).
const distArg = process.argv.indexOf('--dist');
const DIST = distArg >= 0 ? process.argv[distArg + 1] : join(ROOT, 'dist');
// --against DIR [--rounds N]: SummEval drop → chart only, this build and
// DIR's (e.g. main's) alternating in one session, 3 drops per page per
// round, the order swapped every round; prints both medians.
const againstArg = process.argv.indexOf('--against');
if (againstArg >= 0) {
  const envs = { base: await setup({ dir: process.argv[againstArg + 1] }), new: await setup({ dir: DIST }) };
  const all = { base: [], new: [] };
  const rounds = argValue('--rounds', 10);
  for (let r = 0; r < rounds; r++) {
    for (const k of r % 2 ? ['new', 'base'] : ['base', 'new']) all[k].push(...(await dropToChart(envs[k], 3)).runs_ms);
  }
  for (const k of ['base', 'new']) {
    const t = all[k].sort((a, b) => a - b);
    console.log(`SummEval drop → chart, ${k}: median ${t[Math.floor(t.length / 2)]} ms over ${t.length} runs (${t.join(', ')})`);
  }
  for (const e of Object.values(envs)) await e.close();
  process.exit(0);
}
const env = sizesOnly ? null : await setup({ dir: DIST });
try {
  const speed = env && !bigOnly ? await dropToChart(env) : null;
  const drill = env && !bigOnly
    ? { summeval: await drillScroll(env, SUMMEVAL, 'summeval'), pairs_100k: await drillScroll(env, bigFile(100_000), 'pairs-100k') }
    : null;
  const big = env && !process.argv.includes('--no-big') ? await bigCase(env, argValue('--big-pairs', 140_000), argValue('--big-runs', 3)) : null;
  // --big-only measures a site that may hold only the first-load module.
  const size = bigOnly ? null : siteSizes(DIST);
  const result = {
    ...(speed && { summeval_drop_to_chart: { ...speed, target_ms: 1000, pass: speed.median_ms < 1000 } }),
    ...(drill && { drill_scroll: drill }),
    ...(big && { big_file: big }),
    ...(size || {}),
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
    if (big) {
      console.log(`big file (${big.pairs} pairs, ${(big.bytes / 1e6).toFixed(0)} MB) drop → chart: browser median ${big.browser_median_ms} ms (${big.browser_runs_ms.join(', ')}), native CLI median ${big.native_median_ms} ms wall, ${big.native_cpu_median_ms} ms CPU (${big.native_runs.map((n) => n.wall_ms).join(', ')}); ratio ${big.ratio} (goal ≤ ${big.ratio_goal}: ${big.ratio <= big.ratio_goal ? 'PASS' : 'FAIL'})`);
      console.log(`  the browser's CPU time from drop to chart (all its processes): ${big.browser_cpu_ms.join('/')} ms; the CLI's: ${big.native_runs.map((n) => n.cpu_ms).join('/')} ms`);
      console.log(`  worker phases (median ms): ${Object.entries(big.worker_phases_median_ms).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      console.log(`  the worker's Wasm memory after the load: ${big.worker_memory_mb.join('/')} MB`);
      console.log(`  drop → worker ${big.before_worker_ms.join('/')} ms; worker → page message ${big.message_ms.join('/')} ms (${big.message_chars} chars); message → chart ${big.page_ms.join('/')} ms`);
      console.log(`  UI thread: longest task ${big.longest_task_ms} ms (tasks ≥ 50 ms: ${JSON.stringify(big.longtasks_ms)}${big.longtask_observed ? '' : ', longtask not observable'}), longest frame gap ${big.max_frame_gap_ms.join('/')} ms; goal < ${big.stall_goal_ms} ms: ${big.longest_task_ms < big.stall_goal_ms ? 'PASS' : 'FAIL'}`);
    }
    if (size) {
      printSizes('app, first load (boot.js, app module, worker.js, reader.js)', size.first_load);
      printSizes('app, model tools (full module, loaded on first use)', size.model_tools);
      printSizes('Parquet reader (loaded when a Parquet file is dropped)', size.parquet);
      printSizes('widget (<profile-report>)', size.widget);
    }
  }
} finally {
  await env?.close();
}
