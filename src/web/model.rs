//! The language-model panel: settings, the API key, estimate, run with live
//! progress, failures with their raw replies, and cache/annotation sharing.
//!
//! The key lives in this component's memory. Only when the user ticks
//! "remember on this device" is it written to `localStorage` (under the
//! provider's name), and "forget" removes it. It is never put in the URL, a
//! report, an export or a log; it goes to the worker only inside a run
//! request, which signs calls to the chosen provider with it.

use std::rc::Rc;

use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::llm::engine::RunStats;
use crate::llm::provider::Provider;
use crate::llm::settings::ModelForm;
use crate::protocol::{LlmRequest, ModelKind, ScoreRequest, Secret};
use crate::report::Report;
use crate::state::{GuideForm, LlmUi, Panel};

use super::components::{GuideAction, GuidePanel};

const FORM_KEY: &str = "profile.model-form";

fn key_slot(provider: &str) -> String {
    format!("profile.api-key.{provider}")
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn stored(name: &str) -> Option<String> {
    storage()?.get_item(name).ok()?
}

fn store(name: &str, value: Option<&str>) {
    if let Some(s) = storage() {
        let _ = match value {
            Some(v) => s.set_item(name, v),
            None => s.remove_item(name),
        };
    }
}

/// What the panel asks the app to do.
pub enum ModelAction {
    /// An estimate, asked from a panel.
    Estimate(LlmRequest, Panel),
    /// A run, started from a panel (its progress is shown there).
    Run(LlmRequest, Secret, Panel),
    Pause,
    Resume,
    Cancel,
    Clear,
    ExportCache,
    ImportCache(String),
    ImportAnnotations(String),
}

#[derive(Properties, PartialEq)]
pub struct ModelProps {
    pub report: Rc<Report>,
    pub llm: LlmUi,
    pub score: ScoreRequest,
    pub on_action: Callback<ModelAction>,
    /// The "Improve alignment" panel's factors.
    pub guide: GuideForm,
    pub on_guide: Callback<GuideForm>,
}

fn text_input(
    id: &'static str,
    label: &'static str,
    value: &str,
    kind: &'static str,
    placeholder: &str,
    on: Callback<String>,
) -> Html {
    let oninput = Callback::from(move |e: InputEvent| {
        on.emit(e.target_unchecked_into::<HtmlInputElement>().value())
    });
    html! {
        <label class="field" for={id}>
            <span>{label}</span>
            <input id={id} type={kind} value={value.to_owned()} placeholder={placeholder.to_owned()} {oninput} autocomplete="off" spellcheck="false" />
        </label>
    }
}

fn read_file_then(input: &HtmlInputElement, then: impl FnOnce(String) + 'static) {
    let Some(file) = input.files().and_then(|f| f.get(0)) else {
        return;
    };
    input.set_value("");
    wasm_bindgen_futures::spawn_local(async move {
        if let Ok(v) = JsFuture::from(file.text()).await {
            then(v.as_string().unwrap_or_default());
        }
    });
}

pub(crate) fn fmt_tokens(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

pub(crate) fn fmt_cost(c: Option<f64>) -> String {
    match c {
        Some(c) if c < 0.01 && c > 0.0 => format!("${c:.4}"),
        Some(c) => format!("${c:.2}"),
        None => "cost unknown (enter prices)".into(),
    }
}

#[function_component(ModelPanel)]
pub fn model_panel(p: &ModelProps) -> Html {
    let form = use_state(|| {
        stored(FORM_KEY)
            .and_then(|s| serde_json::from_str::<ModelForm>(&s).ok())
            .unwrap_or_default()
    });
    let key = use_state(|| stored(&key_slot(&form.provider)).unwrap_or_default());
    let remember = use_state(|| stored(&key_slot(&form.provider)).is_some());
    let errors = use_state(Vec::<String>::new);

    let set_form = {
        let form = form.clone();
        move |f: ModelForm| {
            if let Ok(s) = serde_json::to_string(&f) {
                store(FORM_KEY, Some(&s));
            }
            form.set(f);
        }
    };
    let field = |apply: fn(&mut ModelForm, String)| {
        let (form, set_form) = (form.clone(), set_form.clone());
        Callback::from(move |v: String| {
            let mut f = (*form).clone();
            apply(&mut f, v);
            set_form(f);
        })
    };

    let on_provider = {
        let (form, set_form, key, remember) = (
            form.clone(),
            set_form.clone(),
            key.clone(),
            remember.clone(),
        );
        Callback::from(move |e: Event| {
            let id = e.target_unchecked_into::<HtmlSelectElement>().value();
            if let Some(pv) = Provider::from_id(&id) {
                let saved = stored(&key_slot(pv.id()));
                remember.set(saved.is_some());
                key.set(saved.unwrap_or_default());
                set_form(form.with_provider(pv));
            }
        })
    };
    let on_model = {
        let (form, set_form) = (form.clone(), set_form.clone());
        Callback::from(move |v: String| {
            let mut f = (*form).clone();
            f.model = v;
            f.prefill_price();
            set_form(f);
        })
    };
    let on_key = {
        let (key, remember, form) = (key.clone(), remember.clone(), form.clone());
        Callback::from(move |v: String| {
            if *remember {
                store(&key_slot(&form.provider), Some(&v));
            }
            key.set(v);
        })
    };
    let on_remember = {
        let (key, remember, form) = (key.clone(), remember.clone(), form.clone());
        Callback::from(move |e: Event| {
            let on = e.target_unchecked_into::<HtmlInputElement>().checked();
            store(&key_slot(&form.provider), on.then_some(key.as_str()));
            remember.set(on);
        })
    };
    let on_forget = {
        let (key, remember, form) = (key.clone(), remember.clone(), form.clone());
        Callback::from(move |_: MouseEvent| {
            store(&key_slot(&form.provider), None);
            remember.set(false);
            key.set(String::new());
        })
    };
    let on_logprobs = {
        let (form, set_form) = (form.clone(), set_form.clone());
        Callback::from(move |e: Event| {
            let mut f = (*form).clone();
            f.logprobs = e.target_unchecked_into::<HtmlInputElement>().checked();
            set_form(f);
        })
    };

    let provider = form.provider();
    let needs_key = provider != Some(Provider::OpenAiCompatible);
    let request = {
        let (form, errors, score) = (form.clone(), errors.clone(), p.score.clone());
        move |given: Option<ModelKind>| {
            let kind = match (given, form.run.as_str()) {
                (Some(k), _) => Ok(k),
                (None, run) => match run {
                    "judge" => Ok(ModelKind::Judge {
                        single_order: !form.both_orders,
                    }),
                    "writer" => match form.inputs.trim() {
                        "" => Ok(ModelKind::Writer { inputs: None }),
                        t => match t.parse::<usize>() {
                            Ok(n) if n > 0 => Ok(ModelKind::Writer { inputs: Some(n) }),
                            _ => Err(
                                "inputs: a whole number of inputs to write for, or empty for all"
                                    .to_owned(),
                            ),
                        },
                    },
                    _ => Ok(ModelKind::Extract),
                },
            };
            match (form.validate(), kind) {
                (Ok(choice), Ok(kind)) => {
                    errors.set(Vec::new());
                    Some(LlmRequest {
                        choice,
                        score: score.clone(),
                        run: kind,
                    })
                }
                (c, k) => {
                    let mut e = c.err().unwrap_or_default();
                    e.extend(k.err());
                    errors.set(e);
                    None
                }
            }
        }
    };
    let on_run_kind = {
        let (form, set_form) = (form.clone(), set_form.clone());
        Callback::from(move |e: Event| {
            let mut f = (*form).clone();
            f.run = e.target_unchecked_into::<HtmlInputElement>().value();
            set_form(f);
        })
    };
    let on_both_orders = {
        let (form, set_form) = (form.clone(), set_form.clone());
        Callback::from(move |e: Event| {
            let mut f = (*form).clone();
            f.both_orders = e.target_unchecked_into::<HtmlInputElement>().checked();
            set_form(f);
        })
    };
    let on_estimate = {
        let (request, on) = (request.clone(), p.on_action.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(r) = request(None) {
                on.emit(ModelAction::Estimate(r, Panel::Model));
            }
        })
    };
    let on_run = {
        let (request, on, key, errors) = (
            request.clone(),
            p.on_action.clone(),
            key.clone(),
            errors.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            if needs_key && key.trim().is_empty() {
                errors.set(vec!["API key: enter your key for this provider".into()]);
                return;
            }
            if let Some(r) = request(None) {
                on.emit(ModelAction::Run(
                    r,
                    Secret(key.trim().to_owned()),
                    Panel::Model,
                ));
            }
        })
    };
    let on_guide_action = {
        let (request, on, key, errors, on_guide, guide) = (
            request.clone(),
            p.on_action.clone(),
            key.clone(),
            errors.clone(),
            p.on_guide.clone(),
            p.guide,
        );
        Callback::from(move |a: GuideAction| {
            let guided = ModelKind::Guide {
                factor: guide.factor,
                rand_factor: guide.rand_factor,
            };
            let run = |kind: ModelKind, panel: Panel| {
                if needs_key && key.trim().is_empty() {
                    errors.set(vec![
                        "API key: enter your key for this provider (language-model panel)".into(),
                    ]);
                    return;
                }
                if let Some(r) = request(Some(kind)) {
                    on.emit(ModelAction::Run(r, Secret(key.trim().to_owned()), panel));
                }
            };
            match a {
                GuideAction::Estimate => {
                    if let Some(r) = request(Some(guided)) {
                        on.emit(ModelAction::Estimate(r, Panel::Guide));
                    }
                }
                GuideAction::Run => run(guided, Panel::Guide),
                // As `profile guide` judges first: both orders.
                GuideAction::Judge => run(
                    ModelKind::Judge {
                        single_order: false,
                    },
                    Panel::Guide,
                ),
                GuideAction::ImproveEstimate(kind) => {
                    if let Some(r) = request(Some(kind)) {
                        on.emit(ModelAction::Estimate(r, Panel::Improve));
                    }
                }
                GuideAction::ImproveRun(kind) => run(kind, Panel::Improve),
                GuideAction::Pause => on.emit(ModelAction::Pause),
                GuideAction::Resume => on.emit(ModelAction::Resume),
                GuideAction::Cancel => on.emit(ModelAction::Cancel),
                GuideAction::Set(g) => on_guide.emit(g),
            }
        })
    };
    let emit = |a: fn() -> ModelAction| {
        let on = p.on_action.clone();
        Callback::from(move |_: MouseEvent| on.emit(a()))
    };
    let on_import = |wrap: fn(String) -> ModelAction| {
        let on = p.on_action.clone();
        Callback::from(move |e: Event| {
            let on = on.clone();
            read_file_then(&e.target_unchecked_into::<HtmlInputElement>(), move |t| {
                on.emit(wrap(t))
            });
        })
    };

    let llm = &p.llm;
    let mine = llm.panel == Panel::Model;
    let missing: Vec<String> = p
        .report
        .skipped_factors
        .iter()
        .map(|s| crate::factors::display_name(&s.id))
        .collect();
    let run = p.report.llm.as_ref();
    let guide_progress = match llm.progress.as_ref() {
        Some((s, cost)) if llm.panel == Panel::Guide => {
            progress_view("guide-progress", s, *cost, llm.running, llm.paused)
        }
        Some((s, cost)) if llm.panel == Panel::Improve => {
            progress_view("improve-progress", s, *cost, llm.running, llm.paused)
        }
        _ => html! {},
    };
    html! {
        <>
        <section class="panel" id="model-settings" aria-labelledby="model-h">
            <h2 id="model-h">{"Language model"}</h2>
            if !missing.is_empty() {
                <p>{"Not scored yet: these factors need a language model, and nothing is guessed."}</p>
                <ul id="skipped-factors" class="inline-list">
                    { for p.report.skipped_factors.iter().zip(&missing).map(|(s, name)| html! {
                        <li data-factor={s.id.clone()}>{name.clone()}</li>
                    }) }
                </ul>
            }
            <p class="muted small">{"Your browser calls the provider directly with your own key. The key stays in this page's memory unless you tick “remember”; it is never put in reports, exports, links or logs. Every answer is cached in this browser, so a reload or a re-run never pays twice."}</p>
            <div class="model-form">
                <label class="field" for="llm-provider">
                    <span>{"Provider"}</span>
                    <select id="llm-provider" onchange={on_provider}>
                        { for Provider::ALL.iter().map(|pv| html! {
                            <option value={pv.id()} selected={form.provider == pv.id()}>{pv.name()}</option>
                        }) }
                    </select>
                </label>
                { text_input("llm-model", "Model", &form.model, "text", "", on_model) }
                { text_input("llm-base-url", "Base URL", &form.base_url, "url",
                    provider.map_or("", |pv| pv.default_base_url()), field(|f, v| f.base_url = v)) }
                <div class="field">
                    <label for="llm-key">{ if needs_key { "API key" } else { "API key (if the server needs one)" } }</label>
                    <input id="llm-key" type="password" value={(*key).clone()} oninput={Callback::from(move |e: InputEvent| on_key.emit(e.target_unchecked_into::<HtmlInputElement>().value()))} autocomplete="off" spellcheck="false" />
                    <span class="key-options">
                        <label><input id="llm-remember" type="checkbox" checked={*remember} onchange={on_remember} />{" remember on this device"}</label>
                        <button id="llm-forget" class="linkish" onclick={on_forget}>{"forget key"}</button>
                    </span>
                </div>
                { text_input("llm-sample", "Sample (N inputs, seeded)", &form.sample, "number", "all", field(|f, v| f.sample = v)) }
                { text_input("llm-max-cost", "Cost cap (USD)", &form.max_cost, "number", "none", field(|f, v| f.max_cost = v)) }
                { text_input("llm-price-in", "$ / M input tokens", &form.price_in, "number", "unknown", field(|f, v| f.price_in = v)) }
                { text_input("llm-price-out", "$ / M output tokens", &form.price_out, "number", "unknown", field(|f, v| f.price_out = v)) }
            </div>
            <details class="advanced">
                <summary>{"Decoding, pacing and retries"}</summary>
                <div class="model-form">
                    { text_input("llm-temperature", "Temperature", &form.temperature, "number", "", field(|f, v| f.temperature = v)) }
                    { text_input("llm-top-p", "top_p", &form.top_p, "number", "", field(|f, v| f.top_p = v)) }
                    { text_input("llm-max-tokens", "Max tokens", &form.max_tokens, "number", "", field(|f, v| f.max_tokens = v)) }
                    { text_input("llm-concurrency", "Concurrent calls", &form.concurrency, "number", "", field(|f, v| f.concurrency = v)) }
                    { text_input("llm-rpm", "Requests / minute", &form.rpm, "number", "unlimited", field(|f, v| f.rpm = v)) }
                    { text_input("llm-tpm", "Tokens / minute", &form.tpm, "number", "unlimited", field(|f, v| f.tpm = v)) }
                    { text_input("llm-timeout", "Timeout (s)", &form.timeout_s, "number", "", field(|f, v| f.timeout_s = v)) }
                    { text_input("llm-attempts", "Attempts per call", &form.max_attempts, "number", "", field(|f, v| f.max_attempts = v)) }
                    <label class="field"><span>{"Fluency & coherence"}</span>
                        <span><input id="llm-logprobs" type="checkbox" checked={form.logprobs} onchange={on_logprobs} disabled={provider == Some(Provider::Anthropic)} />{" P(yes) from log-probabilities (else a 1–5 rating)"}</span>
                    </label>
                </div>
            </details>
            <fieldset class="run-kind">
                <legend>{"Run"}</legend>
                { for [("extract", "Extract factors", "the model-based factors of the dataset's responses"),
                       ("judge", "Model as judge", "the model picks the better response of every pair"),
                       ("writer", "Model as writer", "the model writes responses for scores 1–5 per input")]
                    .into_iter().map(|(v, label, hint)| html! {
                    <label class="kind" title={hint}>
                        <input type="radio" name="llm-run-kind" id={format!("llm-kind-{v}")} value={v} checked={form.run == v || (v == "extract" && !["judge", "writer"].contains(&form.run.as_str()))} onchange={on_run_kind.clone()} />
                        {format!(" {label}")}
                    </label>
                }) }
                if form.run == "judge" {
                    <label class="kind"><input id="llm-both-orders" type="checkbox" checked={form.both_orders} onchange={on_both_orders} />{" both orders (position-bias control)"}</label>
                }
                if form.run == "writer" {
                    { text_input("llm-inputs", "Inputs to write for", &form.inputs, "number", "all", field(|f, v| f.inputs = v)) }
                }
            </fieldset>
            if !errors.is_empty() {
                <ul class="error" role="alert" id="llm-errors">
                    { for errors.iter().map(|e| html! { <li>{e.clone()}</li> }) }
                </ul>
            }
            <div class="row buttons">
                <button id="llm-estimate" onclick={on_estimate} disabled={llm.running}>{"Estimate cost"}</button>
                <button id="llm-run" class="primary" onclick={on_run.clone()} disabled={llm.running}>{ if run.is_some_and(|r| r.failed > 0) { "Run again (retry failed)" } else { "Run" } }</button>
                if llm.running && mine {
                    if llm.paused {
                        <button id="llm-resume" onclick={emit(|| ModelAction::Resume)}>{"Resume"}</button>
                    } else {
                        <button id="llm-pause" onclick={emit(|| ModelAction::Pause)}>{"Pause"}</button>
                    }
                    <button id="llm-cancel" onclick={emit(|| ModelAction::Cancel)}>{"Cancel"}</button>
                }
            </div>
            if let Some(e) = llm.error.as_ref().filter(|_| mine) {
                <div class="error" role="alert" id="llm-error"><pre>{e.clone()}</pre></div>
            }
            if let Some(i) = &llm.info {
                <div class="notice" role="status" id="llm-info">{i.clone()}</div>
            }
            if let Some(e) = llm.estimate.as_ref().filter(|_| llm.estimate_panel == Panel::Model) {
                <p id="llm-estimate-text" class="estimate">
                    {format!("{} pairs: {} questions{}; {} cached; about {} calls, {} input + {} output tokens, {}.",
                        e.pairs, e.questions,
                        if e.unique_responses + e.unique_sources > 0 { format!(" for {} unique responses and {} sources", e.unique_responses, e.unique_sources) } else { String::new() },
                        e.estimate.cached, e.estimate.calls,
                        fmt_tokens(e.estimate.input_tokens), fmt_tokens(e.estimate.output_tokens), fmt_cost(e.estimate.cost_usd))}
                </p>
            }
            if let Some((e, cap)) = llm.estimate.as_ref().filter(|_| mine).and_then(|e| e.cap_usd.map(|c| (e, c))) {
                <p id="llm-cap-note" class={if e.sample_first.is_some() { "notice" } else { "muted small" }}>
                    { match (e.estimate.cost_usd, e.sample_first) {
                        (Some(c), Some(_)) if c > cap => format!("The estimate ({}) is over the cost cap (${cap:.2}): the run stops at the cap, keeping what it answered. See a result first on a seeded sample of the {} inputs:", fmt_cost(Some(c)), e.inputs),
                        (Some(c), _) if c > cap => format!("The estimate ({}) is over the cost cap (${cap:.2}): the run stops at the cap, keeping what it answered.", fmt_cost(Some(c))),
                        _ => format!("Cost cap ${cap:.2}: no call starts that could take the run past it."),
                    } }
                    if let Some(n) = e.sample_first {
                        {" "}<button id="llm-sample-first" onclick={
                            let (form, set_form) = (form.clone(), set_form.clone());
                            Callback::from(move |_: MouseEvent| {
                                let mut f = (*form).clone();
                                f.sample = n.to_string();
                                set_form(f);
                            })
                        }>{format!("Use a sample of {n} input{}", if n == 1 { "" } else { "s" })}</button>
                    }
                </p>
            }
            if let Some((s, cost)) = llm.progress.as_ref().filter(|_| mine) {
                { progress_view("llm-progress", s, *cost, llm.running, llm.paused) }
            }
            if let Some(r) = run {
                <div id="llm-summary" class="llm-summary">
                    <p>{format!("{} · {} at {}: {} questions on {} pairs — {} calls, {} from the cache, {} retries, {} repairs, {} failed; {} tokens. {:.1} questions per unique response (naive plan: {:.0} calls). Fluency/coherence: {}.",
                        r.provider, r.model, r.base_url, r.questions, r.pairs, r.calls, r.cache_hits, r.retries, r.repairs, r.failed,
                        r.input_tokens + r.output_tokens, r.calls_per_unique_response, r.naive_calls,
                        if r.logprobs { "P(yes) from log-probabilities" } else { "1–5 rating" })}</p>
                    if !r.failures.is_empty() {
                        <details id="llm-failures">
                            <summary>{format!("{} failed items (reason and raw reply)", r.failures.len())}</summary>
                            <ol>
                                { for r.failures.iter().take(200).map(failure_view) }
                            </ol>
                            if r.failures.len() > 200 { <p class="muted">{format!("… and {} more in the exported report.", r.failures.len() - 200)}</p> }
                        </details>
                    }
                </div>
            }
            <div class="row share">
                <button id="llm-export-cache" onclick={emit(|| ModelAction::ExportCache)}>{"Export answer cache"}</button>
                <label class="filebtn"><span class="button">{"Import answer cache"}</span>
                    <input id="llm-import-cache" type="file" accept=".jsonl,.json,.txt" onchange={on_import(ModelAction::ImportCache)} /></label>
                <label class="filebtn"><span class="button">{"Import annotations"}</span>
                    <input id="llm-import-annotations" type="file" accept=".jsonl,.json,.txt" onchange={on_import(ModelAction::ImportAnnotations)} /></label>
                if run.is_some() || llm.has_values {
                    <button id="llm-clear" class="linkish" onclick={emit(|| ModelAction::Clear)}>{"Remove model values from the report"}</button>
                }
            </div>
        </section>
        <GuidePanel report={p.report.clone()} llm={llm.clone()} form={p.guide} model={form.model.clone()}
            seed={p.score.bootstrap.seed} errors={(*errors).clone()} on_action={on_guide_action} progress={guide_progress} />
        </>
    }
}

fn progress_view(
    id: &'static str,
    s: &RunStats,
    cost: Option<f64>,
    running: bool,
    paused: bool,
) -> Html {
    let done = s.settled();
    let state = if paused {
        "paused"
    } else if running {
        "running"
    } else if s.cancelled {
        "cancelled"
    } else if s.cap_reached {
        "stopped at the cost cap"
    } else {
        "finished"
    };
    html! {
        <div id={id} class="llm-progress" role="status" data-state={state}>
            <progress max={s.questions.max(1).to_string()} value={done.to_string()}></progress>
            <p>{format!("{state}: {} of {} questions — {} answered, {} from the cache, {} failed, {} remaining · {} calls ({} retries) · {} tokens · {}",
                done, s.questions, s.succeeded + s.skipped_empty, s.cache_hits, s.failed, s.remaining(), s.calls, s.retries,
                fmt_tokens((s.input_tokens + s.output_tokens) as f64), fmt_cost(cost))}
                if s.waited_s >= 1.0 { {format!(" · waited {:.0} s to retry", s.waited_s)} }</p>
            if s.cap_reached {
                <p id="llm-capped" class="notice" role="status">{"Stopped at the cost cap: every answer received is kept; raise the cap and run again to continue (cached answers are not paid again)."}</p>
            } else if let Some(why) = &s.stopped {
                <p id="llm-stopped" class="error" role="alert">{why.clone()}
                    if !s.not_stored.is_empty() { {format!(" — {} answers could not be stored and will be asked again.", s.not_stored.len())} }</p>
            }
        </div>
    }
}

pub(crate) fn failure_view(f: &serde_json::Value) -> Html {
    let get = |k: &str| f.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let raw = get("raw_reply");
    html! {
        <li class="failure">
            <code>{get("question")}</code>{" "}<span class="muted">{get("template")}</span>
            <div>{get("reason")}</div>
            if !raw.is_empty() { <pre class="raw">{raw}</pre> }
        </li>
    }
}
