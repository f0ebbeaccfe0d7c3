//! The web app's entry points. The same module runs in the page (where `main`
//! renders the app) and in the worker (where `worker_entry` starts the worker
//! loop and `main` does nothing).

#[cfg(target_arch = "wasm32")]
fn main() {
    profile::web::start();
}

/// Called by `worker.js` after it has initialised this module.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_entry() {
    profile::web::worker::run();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the web app runs in a browser: build it with `trunk build --release`");
}
