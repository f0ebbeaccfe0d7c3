//! The browser edge: the Yew app, its worker, downloads. Only compiled for
//! `wasm32`; everything it shows is computed by the core.

pub mod alignment;
pub mod app;
mod bridge;
pub mod components;
mod download;
pub mod drill;
pub mod embed;
pub mod idb;
pub mod llm;
pub mod model;
pub mod worker;
pub mod worker_hook;

/// Renders the app into the page. Does nothing outside a window (in the
/// worker, which loads the same module).
pub fn start() {
    if web_sys::window().is_none() {
        return;
    }
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"))
    else {
        return;
    };
    root.set_inner_html("");
    yew::Renderer::<app::App>::with_root(root).render();
}
