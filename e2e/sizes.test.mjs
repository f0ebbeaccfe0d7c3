// The site's download budgets, from the built site (run after `trunk build
// --release`): the first load (the first-load module, its bindings, boot.js,
// worker.js and reader.js) within 450 KB gzipped, the widget within 250 KB, and the
// model tools in their own module, loaded on first use only. Sizes, never
// timings: e2e/measure.mjs prints the numbers.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.mjs';
import { siteSizes, uncounted, KB } from './sizes.mjs';

const DIST = join(ROOT, 'dist');

test('the built site is there', () => {
  assert.ok(existsSync(join(DIST, 'index.html')), 'run `trunk build --release` first');
});

test('first load ≤ 450 KB gzipped; widget ≤ 250 KB; model tools in their own module', () => {
  const s = siteSizes(DIST);
  const kb = (b) => `${(b / KB).toFixed(1)} KB`;
  assert.ok(s.first_load.pass, `first load is ${kb(s.first_load.total_gzip)} gzipped, over its budget of ${kb(s.first_load.target_bytes)}`);
  assert.ok(s.widget.pass, `widget is ${kb(s.widget.total_gzip)} gzipped, over its budget of ${kb(s.widget.target_bytes)}`);
  // The full module is a module of its own, and the first load does not carry it.
  assert.ok(s.model_tools.total_gzip > s.first_load.total_gzip / 2, 'app-full_bg.wasm looks empty');
  assert.deepEqual(uncounted(DIST), [], 'a .js or .wasm file in dist/ that no size group counts');
});

test('the page loads only the first-load module; the full module is loaded by boot.js on demand', () => {
  const index = readFileSync(join(DIST, 'index.html'), 'utf8');
  assert.match(index, /src="\.\/boot\.js"/);
  assert.doesNotMatch(index, /app-full/, 'index.html must not preload the full module');
  const boot = readFileSync(join(DIST, 'boot.js'), 'utf8');
  assert.match(boot, /import\('\.\/app-full\.js'\)/, 'boot.js loads the full module with a dynamic import');
  assert.doesNotMatch(boot, /^import .*app-full/m, 'boot.js must not import the full module statically');
});
