//! The root component: one reducible state, actions from the UI and the
//! worker, and the effects that talk to the worker and the URL.

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use super::alignment::{AlignmentPanel, SummaryText};
use super::bridge::Bridge;
use super::components::{
    ChartView, Controls, DiagnosticsPanel, ExportPanel, FactorTable, ProgressPanel, Summary,
    UploadPanel,
};
use super::model::{EstimateView, LlmUi, ModelAction, ModelPanel};
use crate::data::{Diagnostic, Format, FormatOptions, SummEvalLabel};
use crate::factors::Factor;
use crate::protocol::{FromWorker, Input, ScoreRequest, ToWorker};
use crate::report::Report;
use crate::view::ViewState;

/// What the app is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Idle,
    Loading {
        name: String,
        bytes: u64,
        total_bytes: u64,
        records: u64,
    },
    Ready,
    Failed(String),
}

/// The whole UI state.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub status: Status,
    pub report: Option<Rc<Report>>,
    pub diagnostics: Rc<Vec<Diagnostic>>,
    pub view: ViewState,
    pub options: FormatOptions,
    pub elapsed_ms: Option<f64>,
    pub notice: Option<String>,
    pub llm: LlmUi,
}

pub enum Action {
    StartLoading {
        name: String,
        total_bytes: u64,
        /// Reloading the previous input after a cancel: keep the notice.
        restoring: bool,
    },
    /// A message from the worker.
    Worker(Box<FromWorker>),
    Cancelled,
    SetView(ViewState),
    SetFormat(Option<Format>),
    SetLabel(SummEvalLabel),
    /// The record-size limit for the next load, in MiB.
    SetMaxRecord(u32),
    /// A model run was started (or estimate asked, or import sent).
    LlmStarted,
    LlmPaused(bool),
    /// The model values were removed from the report.
    LlmCleared,
}

impl State {
    /// Folds a worker message into the state.
    fn apply_worker(&mut self, msg: FromWorker) {
        match msg {
            FromWorker::Ready => {}
            FromWorker::Progress {
                bytes,
                total_bytes,
                records,
            } => {
                if let Status::Loading { name, .. } = &self.status {
                    self.status = Status::Loading {
                        name: name.clone(),
                        bytes,
                        total_bytes,
                        records,
                    };
                }
            }
            FromWorker::Loaded {
                report,
                diagnostics,
                elapsed_ms,
            } => {
                self.report = Some(Rc::new(report));
                self.diagnostics = Rc::new(diagnostics);
                // A new dataset: its model values start empty.
                self.llm = LlmUi {
                    running: self.llm.running,
                    ..LlmUi::default()
                };
                self.elapsed_ms = Some(elapsed_ms);
                self.status = Status::Ready;
            }
            FromWorker::Scored { report } => {
                self.report = Some(Rc::new(report));
                if !matches!(self.status, Status::Loading { .. }) {
                    self.status = Status::Ready;
                }
            }
            FromWorker::Failed { message } => self.status = Status::Failed(message),
            FromWorker::LlmEstimate {
                estimate,
                questions,
                pairs,
                unique_responses,
                unique_sources,
            } => {
                self.llm.error = None;
                self.llm.estimate = Some(EstimateView {
                    estimate,
                    questions,
                    pairs,
                    unique_responses,
                    unique_sources,
                });
            }
            FromWorker::LlmProgress {
                stats,
                cost_usd,
                paused,
            } => {
                self.llm.progress = Some((stats, cost_usd));
                self.llm.paused = paused;
            }
            FromWorker::LlmFinished { report, warning } => {
                self.llm.running = false;
                self.llm.paused = false;
                self.llm.has_values = true;
                self.llm.info = warning;
                self.report = Some(Rc::new(report));
            }
            FromWorker::LlmFailed { message } => {
                self.llm.running = false;
                self.llm.paused = false;
                self.llm.error = Some(message);
            }
            FromWorker::CacheExported { jsonl, entries } => {
                super::download::save_text(
                    "profile-answer-cache.jsonl",
                    "application/x-ndjson",
                    &jsonl,
                );
                self.llm.info = Some(format!("Exported {entries} cached answers."));
            }
            FromWorker::Imported {
                what,
                added,
                problems,
                report,
            } => {
                let mut info = format!("Imported {added} {what} entries.");
                if !problems.is_empty() {
                    info += &format!(
                        " {} lines were skipped: {}",
                        problems.len(),
                        problems
                            .iter()
                            .take(3)
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    );
                }
                self.llm.info = Some(info);
                self.llm.error = None;
                if let Some(r) = report {
                    self.llm.has_values = true;
                    self.report = Some(Rc::new(r));
                }
            }
        }
    }
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::Worker(msg) => s.apply_worker(*msg),
            Action::StartLoading {
                name,
                total_bytes,
                restoring,
            } => {
                s.status = Status::Loading {
                    name,
                    bytes: 0,
                    total_bytes,
                    records: 0,
                };
                if !restoring {
                    s.notice = None;
                }
            }
            Action::Cancelled => {
                s.status = if s.report.is_some() {
                    Status::Ready
                } else {
                    Status::Idle
                };
                s.notice =
                    Some("Loading was cancelled; the previous report is still shown.".into());
            }
            Action::SetView(v) => s.view = v,
            Action::SetFormat(f) => s.options.format = f,
            Action::SetLabel(l) => s.options.summeval_label = l,
            Action::SetMaxRecord(n) => s.options.max_record_mb = n,
            Action::LlmStarted => {
                s.llm.running = true;
                s.llm.paused = false;
                s.llm.error = None;
                s.llm.info = None;
                s.llm.progress = None;
            }
            Action::LlmPaused(p) => s.llm.paused = p,
            Action::LlmCleared => {
                s.llm = LlmUi {
                    running: s.llm.running,
                    ..LlmUi::default()
                }
            }
        }
        Rc::new(s)
    }
}

/// Something that can be loaded: kept so that a cancel or a change of format
/// can load it again.
#[derive(Clone)]
pub struct LoadSpec {
    pub name: String,
    pub input: Input,
    pub file: Option<web_sys::File>,
    /// Reloading the previous input after a cancel (keeps the cancel notice).
    pub restoring: bool,
}

fn read_hash() -> ViewState {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .map(|h| ViewState::from_hash(&h))
        .unwrap_or_default()
}

fn write_hash(v: &ViewState) {
    let Some(w) = web_sys::window() else { return };
    let hash = v.to_hash();
    let url = if hash.is_empty() {
        w.location().pathname().unwrap_or_default() + &w.location().search().unwrap_or_default()
    } else {
        format!("#{hash}")
    };
    if let Ok(h) = w.history() {
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

fn score_request(v: &ViewState) -> ScoreRequest {
    ScoreRequest {
        task: v.task,
        factors: v.factors.clone(),
        bootstrap: Default::default(),
    }
}

fn new_bridge(dispatcher: UseReducerDispatcher<State>) -> Option<Bridge> {
    let r = Bridge::new(move |msg| dispatcher.dispatch(Action::Worker(Box::new(msg))));
    match r {
        Ok(b) => Some(b),
        Err(e) => {
            web_sys::console::error_2(&"cannot start the worker".into(), &e);
            None
        }
    }
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(|| State {
        status: Status::Idle,
        report: None,
        diagnostics: Rc::default(),
        view: read_hash(),
        options: FormatOptions::default(),
        elapsed_ms: None,
        notice: None,
        llm: LlmUi::default(),
    });
    let bridge: Rc<RefCell<Option<Bridge>>> = use_mut_ref(|| None);
    // The input being loaded, and the last one that loaded.
    let current: Rc<RefCell<Option<LoadSpec>>> = use_mut_ref(|| None);
    let previous: Rc<RefCell<Option<LoadSpec>>> = use_mut_ref(|| None);

    let load = {
        let (state, bridge, current, previous) = (
            state.clone(),
            bridge.clone(),
            current.clone(),
            previous.clone(),
        );
        Callback::from(move |mut spec: LoadSpec| {
            if bridge.borrow().is_none() {
                *bridge.borrow_mut() = new_bridge(state.dispatcher());
            }
            let total = spec.file.as_ref().map_or(0, |f| f.size() as u64);
            state.dispatch(Action::StartLoading {
                name: spec.name.clone(),
                total_bytes: total,
                restoring: spec.restoring,
            });
            spec.restoring = false;
            if let Some(done) = current.borrow_mut().take() {
                *previous.borrow_mut() = Some(done);
            }
            if let Some(b) = bridge.borrow().as_ref() {
                b.send(
                    &ToWorker::Load {
                        name: spec.name.clone(),
                        input: spec.input.clone(),
                        options: state.options.clone(),
                        score: score_request(&state.view),
                    },
                    spec.file.as_ref(),
                );
            }
            *current.borrow_mut() = Some(spec);
        })
    };

    // First visit: the built-in example.
    {
        let load = load.clone();
        use_effect_with((), move |_| {
            load.emit(LoadSpec {
                name: "example".into(),
                input: Input::Example,
                file: None,
                restoring: false,
            });
        });
    }

    // Keep the URL fragment in step with the view, and rescore when the factor set changes.
    {
        let bridge = bridge.clone();
        let has_report = state.report.is_some();
        use_effect_with(state.view.clone(), move |view| {
            write_hash(view);
            if has_report {
                if let Some(b) = bridge.borrow().as_ref() {
                    b.send(&ToWorker::Score(score_request(view)), None);
                }
            }
        });
    }

    let on_cancel = {
        let (state, bridge, current, previous, load) = (
            state.clone(),
            bridge.clone(),
            current.clone(),
            previous.clone(),
            load.clone(),
        );
        Callback::from(move |_| {
            // Terminating the worker is the only way to stop a synchronous parse.
            *bridge.borrow_mut() = None;
            current.borrow_mut().take();
            state.dispatch(Action::Cancelled);
            // The new worker needs the previous dataset for rescoring.
            if let Some(mut prev) = previous.borrow_mut().take() {
                prev.restoring = true;
                load.emit(prev);
            }
        })
    };

    let reload_with = {
        let (current, previous, load) = (current.clone(), previous.clone(), load.clone());
        move || {
            let spec = current
                .borrow()
                .clone()
                .or_else(|| previous.borrow().clone());
            if let Some(spec) = spec {
                current.borrow_mut().take();
                load.emit(spec);
            }
        }
    };
    let on_format = {
        let state = state.clone();
        let reload = reload_with.clone();
        Callback::from(move |f: Option<Format>| {
            state.dispatch(Action::SetFormat(f));
            reload();
        })
    };
    let on_label = {
        let state = state.clone();
        Callback::from(move |l: SummEvalLabel| {
            state.dispatch(Action::SetLabel(l));
            reload_with();
        })
    };
    let on_view = {
        let state = state.clone();
        Callback::from(move |v: ViewState| state.dispatch(Action::SetView(v)))
    };
    let on_max_record = {
        let state = state.clone();
        Callback::from(move |n: u32| state.dispatch(Action::SetMaxRecord(n)))
    };

    let on_model = {
        let (state, bridge) = (state.clone(), bridge.clone());
        Callback::from(move |a: ModelAction| {
            let b = bridge.borrow();
            let Some(b) = b.as_ref() else { return };
            let score = score_request(&state.view);
            let msg = match a {
                ModelAction::Estimate(r) => ToWorker::EstimateLlm(r),
                ModelAction::Run(request, key) => {
                    state.dispatch(Action::LlmStarted);
                    ToWorker::RunLlm { request, key }
                }
                ModelAction::Pause => {
                    state.dispatch(Action::LlmPaused(true));
                    ToWorker::PauseLlm
                }
                ModelAction::Resume => {
                    state.dispatch(Action::LlmPaused(false));
                    ToWorker::ResumeLlm
                }
                ModelAction::Cancel => ToWorker::CancelLlm,
                ModelAction::Clear => {
                    state.dispatch(Action::LlmCleared);
                    ToWorker::ClearLlm { score }
                }
                ModelAction::ExportCache => ToWorker::ExportCache,
                ModelAction::ImportCache(text) => ToWorker::ImportCache { text },
                ModelAction::ImportAnnotations(text) => ToWorker::ImportAnnotations { text, score },
            };
            b.send(&msg, None);
        })
    };

    let loading = matches!(state.status, Status::Loading { .. });
    let report = state.report.clone();
    html! {
        <>
        <header class="top">
            <h1>{"PROFILE"}</h1>
            <p class="tagline">{"Why do people prefer one response over another? Factor by factor, with confidence intervals. Your data never leaves this browser."}</p>
        </header>
        <main>
            <UploadPanel on_load={load.clone()} options={state.options.clone()} on_format={on_format} on_label={on_label} on_max_record={on_max_record} disabled={loading} />
            if let Status::Loading { name, bytes, total_bytes, records } = &state.status {
                <ProgressPanel name={name.clone()} bytes={*bytes} total_bytes={*total_bytes} records={*records} on_cancel={on_cancel} />
            }
            if let Status::Failed(msg) = &state.status {
                <div class="error" role="alert"><strong>{"Could not load the data. "}</strong><pre>{msg.clone()}</pre></div>
            }
            if let Some(n) = &state.notice {
                <div class="notice" role="status">{n.clone()}</div>
            }
            if let Some(report) = report {
                <Summary report={report.clone()} elapsed_ms={state.elapsed_ms} format_chosen={state.options.format.is_some()} />
                <Controls report={report.clone()} view={state.view.clone()} on_view={on_view.clone()} />
                <ChartView report={report.clone()} />
                <SummaryText report={report.clone()} />
                <AlignmentPanel report={report.clone()} />
                <FactorTable report={report.clone()} view={state.view.clone()} on_view={on_view} />
                <ModelPanel report={report.clone()} llm={state.llm.clone()} score={score_request(&state.view)} on_action={on_model} />
                <ExportPanel report={report.clone()} />
                <super::embed::EmbedPanel report={report.clone()} />
                <DiagnosticsPanel diagnostics={state.diagnostics.clone()} total={report.dataset.diagnostics_total} records_read={report.dataset.records_read} records_parsed={report.dataset.records_parsed} />
            }
        </main>
        <footer>
            <p>{"PROFILE implements Oh, Kim et al. (2024), “Uncovering Factor Level Preferences to Improve Human-Model Alignment”. Score = (C − D) / (C + D + T) over pairs; intervals resample inputs. Factors needing a language model are listed, not guessed."}</p>
        </footer>
        </>
    }
}

/// The factors the view selects for a report (explicit selection or the report's request).
pub fn selected_factors(report: &Report, view: &ViewState) -> Vec<Factor> {
    match &view.factors {
        Some(f) => f.clone(),
        None => report
            .config
            .factors
            .iter()
            .filter_map(|id| Factor::from_id(id))
            .collect(),
    }
}
