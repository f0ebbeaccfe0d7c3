// Starts the app: loads the first-load WebAssembly module built by Trunk (its
// `main` renders the UI). The model tools (model panels, their worker engine,
// the Embed panel) are a second module, app-full, loaded on first use: the
// first-load app calls profileLoadFull with what it shows, and the full app
// takes over from it (see ARCHITECTURE.md, "The web app's shape").
import init, { stop_app } from './app.js';

let full = null;
window.profileLoadFull = async (handover) => {
  full ??= import('./app-full.js').then(async (m) => {
    await m.default({ module_or_path: new URL('./app-full_bg.wasm', import.meta.url) });
    return m;
  });
  let m;
  try {
    m = await full;
  } catch (err) {
    full = null; // a later click tries again
    throw err;
  }
  stop_app();
  m.start_full(handover);
};

init({ module_or_path: new URL('./app_bg.wasm', import.meta.url) }).catch((err) => {
  const el = document.getElementById('boot');
  if (el) el.textContent = 'PROFILE could not start: ' + err;
});
