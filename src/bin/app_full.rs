//! The web app's full module (`app-full_bg.wasm`, built by
//! `build/app-full.sh` after Trunk): the same app with the model engine
//! (providers, the run driver, the IndexedDB answer cache), the model panels
//! and the Embed panel. `boot.js` loads it on first use of those panels and
//! calls `start_full` with what the first-load app showed; its worker
//! (`worker.js?full`) loads it too and calls `worker_entry`.

/// Nothing starts on load: `boot.js` calls `start_full`.
#[cfg(target_arch = "wasm32")]
fn main() {}

/// Renders the full app, continuing from the first-load app's hand-over.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn start_full(handover: wasm_bindgen::JsValue) {
    profile::web::start_full(&handover);
}

/// Called by `worker.js?full` after it has initialised this module.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_entry() {
    profile::web::worker::run(
        profile::protocol::ToWorker::from_json,
        profile::protocol::FromWorker::to_json,
        Some(profile::web::worker::handle_llm),
    );
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the web app runs in a browser: build it with `trunk build --release`");
}
