//! The first-load module's stand-ins for the panels that need the model
//! tools, and the hand-over to the full module.
//!
//! The "Language model" and "Embed" panels of the first-load module (`app`)
//! are a heading, a sentence and a button. The button asks `boot.js` to load
//! the full module (`app-full`: the same app with the model engine, its
//! panels and the Embed panel) through `window.profileLoadFull`; `boot.js`
//! then stops this app (its worker is terminated) and starts the full one
//! with a [`Handover`]: the input shown (the `File` itself, pasted text or
//! the example) with its format options, loaded again by the full app's
//! worker, and the panel asked for. The view (task, factors, sort, groups)
//! is in the URL fragment, which the full app reads as it starts.

use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use super::model::ModelProps;
use super::worker_hook::LoadSpec;
use super::{OnTools, PANEL_EMBED, PANEL_MODEL, PANEL_STUDY};
use crate::data::FormatOptions;
use crate::protocol::Input;
use crate::report::Report;

/// What the full app continues from.
#[derive(Clone, PartialEq)]
pub struct Handover {
    /// The input to load again.
    pub spec: LoadSpec,
    /// Its format options (format, SummEval label, record limit).
    pub options: FormatOptions,
    /// The panel asked for: [`PANEL_MODEL`] or [`PANEL_EMBED`].
    pub panel: String,
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap_or(JsValue::UNDEFINED)
}

impl Handover {
    /// As a plain JavaScript object (the input and options as JSON, the
    /// `File` as itself).
    pub fn to_js(&self) -> JsValue {
        let o = Object::new();
        let set = |k: &str, v: &JsValue| {
            let _ = Reflect::set(&o, &k.into(), v);
        };
        set("name", &self.spec.name.as_str().into());
        set(
            "input",
            &serde_json::to_string(&self.spec.input)
                .unwrap_or_default()
                .into(),
        );
        set(
            "options",
            &serde_json::to_string(&self.options)
                .unwrap_or_default()
                .into(),
        );
        if let Some(f) = &self.spec.file {
            set("file", f);
        }
        set("panel", &self.panel.as_str().into());
        o.into()
    }

    /// Reads [`Handover::to_js`]'s object; `None` when it is not one.
    pub fn from_js(v: &JsValue) -> Option<Handover> {
        let input: Input = serde_json::from_str(&get(v, "input").as_string()?).ok()?;
        let options: FormatOptions = serde_json::from_str(&get(v, "options").as_string()?).ok()?;
        let file = get(v, "file").dyn_into::<web_sys::File>().ok();
        if matches!(input, Input::File) && file.is_none() {
            return None;
        }
        Some(Handover {
            spec: LoadSpec {
                name: get(v, "name").as_string().unwrap_or_default(),
                input,
                file,
                restoring: false,
            },
            options,
            panel: get(v, "panel").as_string().unwrap_or_default(),
        })
    }
}

/// Asks `boot.js` to load the full module and hand over to it.
async fn load_full(handover: &Handover) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let f: Function = Reflect::get(&window, &"profileLoadFull".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or("the page's boot script is missing")?;
    let p: Promise = f
        .call1(&JsValue::NULL, &handover.to_js())
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "the boot script did not start loading".to_owned())?;
    JsFuture::from(p).await.map(drop).map_err(|e| {
        e.as_string()
            .or_else(|| Reflect::get(&e, &"message".into()).ok()?.as_string())
            .unwrap_or_else(|| "unknown error".into())
    })
}

/// The first-load module's "the paper's study": hands over to the full
/// module, which opens the study.
pub fn study_handover(dispatch: Callback<crate::state::Action>, on_open: OnTools) {
    use crate::state::Action;
    let Some(h) = on_open.emit(PANEL_STUDY) else {
        dispatch.emit(Action::StudyFailed(
            "wait for the data shown to load first".into(),
        ));
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = load_full(&h).await {
            dispatch.emit(Action::StudyFailed(format!(
                "cannot load the app's full module: {e}"
            )));
        }
    });
}

#[derive(Properties, PartialEq)]
struct StubProps {
    panel: &'static str,
    /// Builds the hand-over for a panel (the app knows the input shown).
    on_open: OnTools,
}

/// The button that loads the model tools, with its loading and error states.
#[function_component(ToolsButton)]
fn tools_button(p: &StubProps) -> Html {
    let status = use_state(|| None::<Result<(), String>>);
    let onclick = {
        let (status, on_open, panel) = (status.clone(), p.on_open.clone(), p.panel);
        Callback::from(move |_: MouseEvent| {
            let Some(h) = on_open.emit(panel) else {
                status.set(Some(Err(
                    "nothing to hand over yet: wait for the data to load".into(),
                )));
                return;
            };
            status.set(Some(Ok(())));
            let status = status.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = load_full(&h).await {
                    status.set(Some(Err(e)));
                }
            });
        })
    };
    let loading = matches!(*status, Some(Ok(())));
    let (id, label) = if p.panel == PANEL_EMBED {
        ("embed-open", "Embed")
    } else {
        ("llm-open", "Use a language model")
    };
    html! {
        <>
            <button type="button" id={id} class={if p.panel == PANEL_MODEL { "primary" } else { "" }} onclick={onclick} disabled={loading} aria-describedby={(p.panel == PANEL_MODEL).then_some(AttrValue::Static("tools-note"))}>
                { if loading { "Loading the model tools…" } else { label } }
            </button>
            if let Some(Err(e)) = &*status {
                <p class="error" role="alert" id="tools-error">{format!("Could not load the model tools: {e}")}</p>
            }
        </>
    }
}

/// The "Language model" panel's stand-in.
pub fn model_stub(p: ModelProps, on_open: OnTools) -> Html {
    let skipped = &p.report.skipped_factors;
    html! {
        <section class="panel" id="model-tools" aria-labelledby="model-h">
            <h2 id="model-h">{"Language model"}</h2>
            if !skipped.is_empty() {
                <p>{"Not scored yet: these factors need a language model, and nothing is guessed."}</p>
                <ul id="skipped-factors" class="inline-list">
                    { for skipped.iter().map(|s| html! {
                        <li data-factor={s.id.clone()}>{crate::factors::display_name(&s.id)}</li>
                    }) }
                </ul>
            }
            <p class="muted" id="tools-note">{"Score those factors, judge or write with a model of your choice, and improve a judge's alignment (guided judging, feedback-driven improvement). The model tools load on first use; the data shown is loaded again with them."}</p>
            <ToolsButton panel={PANEL_MODEL} {on_open} />
        </section>
    }
}

/// The Embed panel's stand-in: the same heading and button as the closed panel.
pub fn embed_stub(_report: Rc<Report>, _open: bool, on_open: OnTools) -> Html {
    html! {
        <section class="panel embed" aria-labelledby="embed-h">
            <h2 id="embed-h">{"Embed in a blog post"}</h2>
            <p class="muted">{"A widget for your own pages: the factor scores, the alignment or the rankings of this report, drawn from the report alone (no data, no server)."}</p>
            <ToolsButton panel={PANEL_EMBED} {on_open} />
        </section>
    }
}
