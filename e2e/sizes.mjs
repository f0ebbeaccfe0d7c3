// The site's download sizes, gzipped (level 9), from the built site in dist/:
//   - first load: what the page downloads to show a report (index.html's
//     boot.js, the first-load module app.js + app_bg.wasm, worker.js,
//     whose worker loads the same module, and reader.js, the worker of its
//     own that reads a dropped file's slices, which the worker starts once
//     it is ready). Budget 450 KB, issue 16's goal
//     (it was 596.4 KB before the first-load module read only its own
//     messages, 528.5 KB before it read and wrote reports without the model
//     tools' parts).
//   - model tools: the full module (app-full.js + app-full_bg.wasm), loaded
//     on first use of the model panels or the Embed panel, by the page and
//     by its worker (one download, from the HTTP cache the second time).
//   - Parquet reader: profile-parquet.js + profile-parquet_bg.wasm, loaded by
//     the worker the first time a Parquet file is dropped.
//   - widget: what a blog post with <profile-report> downloads (widget.js,
//     its Wasm module and bindings). Budget 250 KB.
// Used by e2e/measure.mjs (the numbers) and e2e/sizes.test.mjs (the budgets).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const KB = 1024;

export const GROUPS = {
  first_load: { files: ['boot.js', 'app.js', 'app_bg.wasm', 'worker.js', 'reader.js'], budget: 450 * KB, goal: 450 * KB },
  model_tools: { files: ['app-full.js', 'app-full_bg.wasm'], budget: null },
  parquet: { files: ['profile-parquet.js', 'profile-parquet_bg.wasm'], budget: null },
  widget: { files: ['widget.js', 'profile-widget.js', 'profile-widget_bg.wasm'], budget: 250 * KB },
};

/** Raw and gzipped sizes of `files` in `dist`. */
export function sizes(dist, files) {
  const rows = files.map((f) => {
    const raw = readFileSync(join(dist, f));
    return { file: f, bytes: raw.length, gzip: gzipSync(raw, { level: 9 }).length };
  });
  return { rows, total_gzip: rows.reduce((a, r) => a + r.gzip, 0) };
}

/** Every group's sizes, with its budget and whether it is within it. */
export function siteSizes(dist) {
  const out = {};
  for (const [name, g] of Object.entries(GROUPS)) {
    const s = sizes(dist, g.files);
    out[name] = {
      ...s,
      ...(g.budget && { target_bytes: g.budget, pass: s.total_gzip <= g.budget }),
      ...(g.goal && { goal_bytes: g.goal, goal_reached: s.total_gzip <= g.goal }),
    };
  }
  return out;
}

/** The .wasm and .js files in `dist` that no group counts (a new module should be counted). */
export function uncounted(dist) {
  const counted = new Set(Object.values(GROUPS).flatMap((g) => g.files));
  return readdirSync(dist).filter((f) => /\.(wasm|js)$/.test(f) && !counted.has(f) && f !== 'embed.js');
}
