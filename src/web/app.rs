//! The root component: one reducible state, actions from the UI and the
//! worker, and the effects that talk to the worker and the URL.

use std::rc::Rc;

use yew::prelude::*;

use super::alignment::{AlignmentProps, SummaryText};
use super::components::{
    ChartView, Controls, DiagnosticsPanel, ExportPanel, FactorTable, GroupsPanel, ProgressPanel,
    StudyProps, Summary, UploadPanel,
};
use super::lite::Handover;
use super::model::{ModelAction, ModelProps};
use super::worker_hook::{score_request, use_worker, LoadSpec};
use super::{Edition, PANEL_EMBED};
use crate::data::{Format, PkuLabel, SummEvalLabel};
use crate::factors::Factor;
use crate::protocol::ToWorker;
use crate::report::Report;
use crate::state::{Action, State, Status};
use crate::view::ViewState;

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        Rc::new(State::reduce(&self, action))
    }
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

/// Which module the app runs in, and what the first-load module handed over.
#[derive(Properties, PartialEq)]
pub struct AppProps {
    pub edition: Edition,
    /// Set when the full module takes over from the first-load one.
    pub handover: Option<Rc<Handover>>,
}

#[function_component(App)]
pub fn app(props: &AppProps) -> Html {
    let edition = props.edition;
    let handover = props.handover.clone();
    let state = {
        let handover = handover.clone();
        use_reducer(move || {
            let mut s = State::new(read_hash());
            if let Some(h) = &handover {
                s.options = h.options.clone();
            }
            s
        })
    };
    let worker = use_worker(&state, edition);
    let load = worker.load.clone();

    // First visit: the built-in example; after a hand-over, what was shown.
    {
        let (load, handover) = (load.clone(), handover.clone());
        use_effect_with((), move |_| {
            load.emit(handover.map_or_else(LoadSpec::example, |h| h.spec.clone()));
        });
    }

    // After a hand-over to the model tools, bring the panel asked for into
    // view once (the page was rebuilt from the top; the Embed panel's
    // preview is a lazy iframe that loads only near the viewport).
    {
        let wanted = handover.as_ref().and_then(|h| {
            if h.panel == PANEL_EMBED {
                Some("embed-h")
            } else if h.panel == super::PANEL_STUDY {
                None
            } else {
                Some("model-settings")
            }
        });
        let done = use_mut_ref(|| false);
        use_effect_with(state.report.is_some(), move |has_report| {
            if !*has_report || done.replace(true) {
                return;
            }
            if let Some(id) = wanted {
                if let Some(el) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.get_element_by_id(id))
                {
                    el.scroll_into_view();
                }
            }
        });
    }

    // The first-load module's stand-in panels ask for the hand-over.
    let on_tools = {
        let (state, shown) = (state.clone(), worker.shown.clone());
        Callback::from(move |panel: &'static str| {
            shown.emit(()).map(|spec| Handover {
                spec,
                options: state.options.clone(),
                panel: panel.to_owned(),
            })
        })
    };
    let embed_open = handover.as_ref().is_some_and(|h| h.panel == PANEL_EMBED);

    // Keep the URL fragment in step with the view, and rescore when the factor set changes.
    {
        let send = worker.send.clone();
        let has_report = state.report.is_some();
        use_effect_with(state.view.clone(), move |view| {
            write_hash(view);
            if has_report {
                send.emit(ToWorker::Score(score_request(view)));
            }
        });
    }

    // Files the reducer asks to save (e.g. the exported answer cache).
    use_effect_with(state.download.clone(), |download| {
        if let Some(d) = download {
            super::download::save_text(&d.name, &d.mime, &d.content);
        }
    });

    let on_cancel = worker.cancel.reform(|_| ());

    let on_format = {
        let (state, reload) = (state.clone(), worker.reload.clone());
        Callback::from(move |f: Option<Format>| {
            state.dispatch(Action::SetFormat(f));
            reload.emit(());
        })
    };
    let on_label = {
        let (state, reload) = (state.clone(), worker.reload.clone());
        Callback::from(move |l: SummEvalLabel| {
            state.dispatch(Action::SetLabel(l));
            reload.emit(());
        })
    };
    let on_pku_label = {
        let (state, reload) = (state.clone(), worker.reload.clone());
        Callback::from(move |l: PkuLabel| {
            state.dispatch(Action::SetPkuLabel(l));
            reload.emit(());
        })
    };
    let on_column_map = {
        let (state, reload) = (state.clone(), worker.reload.clone());
        Callback::from(move |m: Vec<(String, String)>| {
            state.dispatch(Action::SetColumnMap(m));
            reload.emit(());
        })
    };
    let on_study = {
        let (dispatch, on_tools, open) = (state.dispatcher(), on_tools.clone(), edition.open_study);
        Callback::from(move |_url: String| {
            let dispatch = dispatch.clone();
            open(
                Callback::from(move |a| dispatch.dispatch(a)),
                on_tools.clone(),
            );
        })
    };
    // Handed over to open the study: open it.
    {
        let (dispatch, open, on_tools) = (state.dispatcher(), edition.open_study, on_tools.clone());
        let asked = handover
            .as_ref()
            .is_some_and(|h| h.panel == super::PANEL_STUDY);
        use_effect_with((), move |_| {
            if asked {
                open(Callback::from(move |a| dispatch.dispatch(a)), on_tools);
            }
        });
    }
    let on_study_task = {
        let state = state.clone();
        Callback::from(move |t: String| state.dispatch(Action::SetStudyTask(t)))
    };
    let on_study_close = {
        let state = state.clone();
        Callback::from(move |()| state.dispatch(Action::CloseStudy))
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
        let (state, send) = (state.clone(), worker.send.clone());
        Callback::from(move |a: ModelAction| {
            let score = score_request(&state.view);
            let msg = match a {
                ModelAction::Estimate(r, panel) => {
                    state.dispatch(Action::LlmEstimating(panel));
                    ToWorker::EstimateLlm(r)
                }
                ModelAction::Run(request, key, panel) => {
                    state.dispatch(Action::LlmStarted(panel));
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
            send.emit(msg);
        })
    };

    let dispatch = {
        let state = state.clone();
        Callback::from(move |a: Action| state.dispatch(a))
    };
    let on_drill = {
        let state = state.clone();
        Callback::from(
            move |(factor, agent, filter): (Option<String>, String, String)| {
                state.dispatch(Action::OpenDrill {
                    factor,
                    agent,
                    filter,
                });
                // Bring the list into view.
                if let Some(el) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.get_element_by_id("drill"))
                {
                    el.scroll_into_view();
                }
            },
        )
    };
    let on_guide = {
        let state = state.clone();
        Callback::from(move |g: crate::state::GuideForm| state.dispatch(Action::SetGuide(g)))
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
            <UploadPanel on_load={load.clone()} options={state.options.clone()} on_format={on_format} on_label={on_label} on_pku_label={on_pku_label} on_column_map={on_column_map} on_study={on_study} on_max_record={on_max_record} disabled={loading} />
            if let Status::Loading { name, bytes, total_bytes, records } = &state.status {
                <ProgressPanel name={name.clone()} bytes={*bytes} total_bytes={*total_bytes} records={*records} on_cancel={on_cancel} />
            }
            if let Status::Failed(msg) = &state.status {
                <div class="error" role="alert"><strong>{"Could not load the data. "}</strong><pre>{msg.clone()}</pre></div>
            }
            if let Some(n) = &state.notice {
                <div class="notice" role="status">{n.clone()}</div>
            }
            if let Some(study) = &state.study {
                { (edition.study_panel)(StudyProps { study: study.clone(), on_task: on_study_task, on_close: on_study_close, back_to: report.as_ref().and_then(|r| r.dataset.name.clone()) }) }
            } else if let Some(report) = report {
                <Summary report={report.clone()} elapsed_ms={state.elapsed_ms} format_chosen={state.options.format.is_some()} />
                <Controls report={report.clone()} view={state.view.clone()} on_view={on_view.clone()} />
                <ChartView report={report.clone()} on_drill={on_drill.clone()} />
                <SummaryText report={report.clone()} />
                { (edition.alignment_panel)(AlignmentProps { report: report.clone(), on_drill: on_drill.clone() }) }
                <FactorTable report={report.clone()} view={state.view.clone()} on_view={on_view.clone()} on_drill={on_drill.clone()} />
                if let Some(d) = &state.drill {
                    <super::drill::DrillPanel drill={d.clone()} report={report.clone()} dispatch={dispatch.clone()} send={worker.send.clone()} edition={edition} />
                }
                <GroupsPanel report={report.clone()} view={state.view.clone()} on_view={on_view} />
                { (edition.model_panel)(ModelProps { report: report.clone(), llm: state.llm.clone(), score: score_request(&state.view), on_action: on_model, guide: state.guide, on_guide }, on_tools.clone()) }
                <ExportPanel report={report.clone()} {edition} />
                { (edition.embed_panel)(report.clone(), embed_open, on_tools) }
                <DiagnosticsPanel diagnostics={state.diagnostics.clone()} total={report.dataset.diagnostics_total} records_read={report.dataset.records_read} records_parsed={report.dataset.records_parsed} />
            }
        </main>
        <footer>
            <p>{"PROFILE implements Oh, Kim et al. (2024), “Uncovering Factor Level Preferences to Improve Human-Model Alignment”. Score = (C − D) / (C + D + T) over pairs; intervals resample inputs. Factors needing a language model are listed, not guessed."}</p>
        </footer>
        </>
    }
}

/// The full module's "the paper's study": fetches the published study the
/// page names (`<meta name="profile-study">`, see build/paper.sh) and shows it.
pub fn open_study(dispatch: Callback<Action>, _: super::OnTools) {
    let Some(url) = super::components::study_url() else {
        dispatch.emit(Action::StudyFailed(
            "this site was built without the paper's scores".into(),
        ));
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        match fetch_text(&url).await {
            Ok(text) => match crate::published::Published::parse(&text) {
                Ok(study) => dispatch.emit(Action::ShowStudy(Rc::new(study))),
                Err(e) => dispatch.emit(Action::StudyFailed(format!("{url}: {e}"))),
            },
            Err(e) => dispatch.emit(Action::StudyFailed(format!("{url}: {e}"))),
        }
    });
}

/// The text at `url` (same origin), or why not.
async fn fetch_text(url: &str) -> Result<String, String> {
    use wasm_bindgen::JsCast;
    let js = |e: wasm_bindgen::JsValue| e.as_string().unwrap_or_else(|| format!("{e:?}"));
    let window = web_sys::window().ok_or("no window")?;
    let resp: web_sys::Response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(js)?
        .dyn_into()
        .map_err(js)?;
    if !resp.ok() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let text = wasm_bindgen_futures::JsFuture::from(resp.text().map_err(js)?)
        .await
        .map_err(js)?;
    text.as_string().ok_or_else(|| "not text".to_owned())
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
