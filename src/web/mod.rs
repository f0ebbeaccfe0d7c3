//! The browser edge: the Yew app, its worker, downloads. Only compiled for
//! `wasm32`; everything it shows is computed by the core.
//!
//! The app is built as two Wasm modules from the same code (see
//! ARCHITECTURE.md, "The web app's shape"): `app` (bin `app`, the first
//! load: loading, scoring, drawing, the drill-down) and `app-full` (bin
//! `app-full`: everything, with the language-model engine, its panels and the
//! Embed panel), loaded on first use of those panels. An [`Edition`] says
//! which panels and which worker a module has; the lite edition never names
//! the model code, so the linker leaves it out of `app_bg.wasm`.

pub mod alignment;
pub mod app;
mod bridge;
pub mod components;
mod download;
pub mod drill;
pub mod embed;
pub mod idb;
pub mod lite;
pub mod llm;
pub mod model;
pub mod worker;
pub mod worker_hook;

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use crate::report::Report;

/// Which panel the user asked for when the model tools were loaded.
pub const PANEL_MODEL: &str = "model";
/// The Embed panel.
pub const PANEL_EMBED: &str = "embed";
/// The hand-over's panel for "the paper's study".
pub const PANEL_STUDY: &str = "study";

/// A stand-in panel's request for the model tools: the panel asked for →
/// the hand-over (`None` while nothing has been loaded).
pub type OnTools = Callback<&'static str, Option<lite::Handover>>;

/// What differs between the app's two modules: the worker script (and so
/// the module the worker loads) and the panels that need the model tools.
#[derive(Clone, Copy)]
pub struct Edition {
    /// The worker's script address, relative to the page.
    pub worker: &'static str,
    /// How the page reads the worker's messages: the first-load module
    /// reads only those its worker sends (`protocol::lite`), so the model
    /// tools' message types stay out of it.
    pub parse: fn(&str) -> Result<crate::protocol::FromWorker, String>,
    /// The language-model panels ("Language model", "Improve alignment"), or
    /// a stand-in that loads them; the callback asks for the full module.
    pub model_panel: fn(model::ModelProps, OnTools) -> Html,
    /// The Embed panel (open or not), or its stand-in.
    pub embed_panel: fn(Rc<Report>, bool, OnTools) -> Html,
    /// A response's model answers in the Pairs panel (none in the first load).
    pub model_evidence: drill::ModelEvidenceView,
    /// Opens the published study ("the paper's study"): the full module
    /// fetches and shows it; the first-load module hands over to the full
    /// module, which opens it (its view is not part of the first load).
    pub open_study: fn(Callback<crate::state::Action>, OnTools),
    /// The published study's panel, or nothing (the first-load module).
    pub study_panel: fn(components::StudyProps) -> Html,
    /// The alignment of the model agents with the humans, or nothing (the
    /// first-load module, whose reports have no model agent: its page
    /// refuses a report with one, see `protocol::lite`).
    pub alignment_panel: fn(alignment::AlignmentProps) -> Html,
    /// The report's JSON for the Export panel: `Report::to_json_pretty`, or
    /// the first-load module's writing of it (`protocol::lite`, the same
    /// bytes without linking the model tools' report parts).
    pub report_json: fn(&Report) -> String,
}

impl PartialEq for Edition {
    fn eq(&self, other: &Edition) -> bool {
        self.worker == other.worker
    }
}

/// The first-load module: the model panels and the Embed panel are
/// stand-ins whose buttons load the full module ([`lite`]).
pub const LITE: Edition = Edition {
    worker: "./worker.js",
    parse: crate::protocol::lite::from_worker,
    model_panel: lite::model_stub,
    embed_panel: lite::embed_stub,
    model_evidence: drill::no_model_evidence,
    open_study: lite::study_handover,
    study_panel: |_| html! {},
    alignment_panel: |_| html! {},
    report_json: crate::protocol::lite::report_json_pretty,
};

/// The full module: every panel, and a worker with the model engine.
pub const FULL: Edition = Edition {
    worker: "./worker.js?full",
    parse: crate::protocol::FromWorker::from_json,
    model_panel: |p, _| html! { <model::ModelPanel ..p /> },
    embed_panel: |report, open, _| html! { <embed::EmbedPanel {report} {open} /> },
    model_evidence: drill::model_evidence,
    open_study: app::open_study,
    study_panel: |p| html! { <components::StudyPanel ..p /> },
    alignment_panel: |p| html! { <alignment::AlignmentPanel ..p /> },
    report_json: Report::to_json_pretty,
};

thread_local! {
    static MOUNTED: RefCell<Option<yew::AppHandle<app::App>>> = const { RefCell::new(None) };
}

fn mount(props: app::AppProps) {
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
    let handle = yew::Renderer::<app::App>::with_root_and_props(root, props).render();
    MOUNTED.with(|m| *m.borrow_mut() = Some(handle));
}

/// Renders the first-load app into the page. Does nothing outside a window
/// (in the worker, which loads the same module).
pub fn start() {
    mount(app::AppProps {
        edition: LITE,
        handover: None,
    });
}

/// Removes the app from the page (its worker is terminated), before the full
/// module takes over.
pub fn stop() {
    if let Some(h) = MOUNTED.with(|m| m.borrow_mut().take()) {
        h.destroy();
    }
}

/// Renders the full app, continuing from what the first-load app showed
/// (`handover`, built by [`lite`]: the input to load again, its format
/// options and the panel asked for).
pub fn start_full(handover: &wasm_bindgen::JsValue) {
    mount(app::AppProps {
        edition: FULL,
        handover: lite::Handover::from_js(handover).map(Rc::new),
    });
}
