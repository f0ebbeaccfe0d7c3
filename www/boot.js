// Starts the app: loads the WebAssembly module built by Trunk (its `main` renders the UI).
import init from './app.js';

init({ module_or_path: new URL('./app_bg.wasm', import.meta.url) }).catch((err) => {
  const el = document.getElementById('boot');
  if (el) el.textContent = 'PROFILE could not start: ' + err;
});
