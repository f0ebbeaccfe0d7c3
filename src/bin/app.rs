//! The web app's first-load module (`app_bg.wasm`, built by Trunk from
//! `index.html`): loading, scoring, drawing and the drill-down. The same
//! module runs in the page (where `main` renders the app) and in the worker
//! (where `worker_entry` starts the worker loop and `main` does nothing). It
//! carries neither the model engine nor the model and Embed panels: their
//! stand-ins load the full module (`src/bin/app_full.rs`) on first use.

#[cfg(target_arch = "wasm32")]
fn main() {
    profile::web::start();
}

/// Called by `worker.js` after it has initialised this module.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_entry() {
    profile::web::worker::run(
        profile::protocol::lite::to_worker,
        profile::protocol::lite::write_from_worker,
        None,
    );
}

/// Called by `boot.js` once the full module is ready: removes this app (and
/// terminates its worker) before the full app takes over.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn stop_app() {
    profile::web::stop();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the web app runs in a browser: build it with `trunk build --release`");
}
