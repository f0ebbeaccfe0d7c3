// The app's worker: the same WebAssembly module as the page, entered through
// `worker_entry` (its `main` sees no window and does nothing here).
import init, { worker_entry } from './app.js';

await init({ module_or_path: new URL('./app_bg.wasm', import.meta.url) });
worker_entry();
