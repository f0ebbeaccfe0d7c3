//! The upload panel: drop or choose a file, paste JSONL, the built-in example, and the load options.

use wasm_bindgen::JsCast;
use web_sys::{DragEvent, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::super::worker_hook::LoadSpec;
use crate::data::{Format, FormatOptions, PkuLabel, SummEvalLabel, MAPPABLE};
use crate::protocol::Input;

/// The published study the page names (`<meta name="profile-study">`,
/// written by build/paper.sh when the build has the paper's scores).
pub fn study_url() -> Option<String> {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector("meta[name=profile-study]").ok().flatten())
        .and_then(|m| m.get_attribute("content"))
        .filter(|u| !u.is_empty())
}

#[derive(Properties, PartialEq)]
pub struct UploadProps {
    pub on_load: Callback<LoadSpec>,
    pub options: FormatOptions,
    pub on_format: Callback<Option<Format>>,
    pub on_label: Callback<SummEvalLabel>,
    pub on_pku_label: Callback<PkuLabel>,
    /// A new column mapping for CSV/TSV files (field, column).
    pub on_column_map: Callback<Vec<(String, String)>>,
    /// Open the published study at this URL ("the paper's study").
    pub on_study: Callback<String>,
    /// The largest record (MiB) for the next load.
    pub on_max_record: Callback<u32>,
    pub disabled: bool,
}

#[function_component(UploadPanel)]
pub fn upload_panel(p: &UploadProps) -> Html {
    let dragging = use_state(|| false);
    let paste = use_node_ref();
    let load_file = {
        let on_load = p.on_load.clone();
        Callback::from(move |f: web_sys::File| {
            on_load.emit(LoadSpec {
                name: f.name(),
                input: Input::File,
                file: Some(f),
                restoring: false,
            })
        })
    };
    let on_change = {
        let load_file = load_file.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Some(f) = input.files().and_then(|fs| fs.get(0)) {
                load_file.emit(f);
            }
            input.set_value("");
        })
    };
    let on_drop = {
        let (load_file, dragging) = (load_file.clone(), dragging.clone());
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            dragging.set(false);
            if let Some(f) = e
                .data_transfer()
                .and_then(|d| d.files())
                .and_then(|fs| fs.get(0))
            {
                load_file.emit(f);
            }
        })
    };
    let on_dragover = {
        let dragging = dragging.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            dragging.set(true);
        })
    };
    let on_dragleave = {
        let dragging = dragging.clone();
        Callback::from(move |_| dragging.set(false))
    };
    let on_paste = {
        let (paste, on_load) = (paste.clone(), p.on_load.clone());
        Callback::from(move |_| {
            if let Some(t) = paste.cast::<HtmlTextAreaElement>() {
                let text = t.value();
                if !text.trim().is_empty() {
                    on_load.emit(LoadSpec {
                        name: "pasted text".into(),
                        input: Input::Text(text),
                        file: None,
                        restoring: false,
                    });
                }
            }
        })
    };
    let on_example = {
        let on_load = p.on_load.clone();
        Callback::from(move |_| {
            on_load.emit(LoadSpec {
                name: "example".into(),
                input: Input::Example,
                file: None,
                restoring: false,
            })
        })
    };
    // The build puts the paper's published scores beside the app when it
    // has them (build/paper.sh) and says so in a meta tag.
    let study_url = use_memo((), |_| study_url());
    let on_study = {
        let (cb, url) = (p.on_study.clone(), study_url.clone());
        Callback::from(move |_| {
            if let Some(u) = url.as_ref() {
                cb.emit(u.clone());
            }
        })
    };
    let on_format = {
        let cb = p.on_format.clone();
        Callback::from(move |e: Event| {
            let s: HtmlSelectElement = e.target_unchecked_into();
            cb.emit(Format::from_name(&s.value()));
        })
    };
    let on_label = {
        let cb = p.on_label.clone();
        Callback::from(move |e: Event| {
            let s: HtmlSelectElement = e.target_unchecked_into();
            cb.emit(SummEvalLabel::from_name(&s.value()).unwrap_or_default());
        })
    };
    let on_pku_label = {
        let cb = p.on_pku_label.clone();
        Callback::from(move |e: Event| {
            let s: HtmlSelectElement = e.target_unchecked_into();
            cb.emit(PkuLabel::from_name(&s.value()).unwrap_or_default());
        })
    };
    // The mapping form: one column name per PROFILE field; empty = the
    // column of that name, as without a mapping.
    let map_form = use_node_ref();
    let on_map_apply = {
        let (cb, form) = (p.on_column_map.clone(), map_form.clone());
        Callback::from(move |_| {
            let Some(form) = form.cast::<web_sys::Element>() else {
                return;
            };
            let map = MAPPABLE
                .iter()
                .filter_map(|field| {
                    let input: HtmlInputElement = form
                        .query_selector(&format!("#map-{field}"))
                        .ok()??
                        .dyn_into()
                        .ok()?;
                    let column = input.value().trim().to_owned();
                    (!column.is_empty()).then(|| ((*field).to_owned(), column))
                })
                .collect();
            cb.emit(map);
        })
    };
    let mapped = |field: &str| {
        p.options
            .column_map
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    };
    let on_max_record = {
        let cb = p.on_max_record.clone();
        Callback::from(move |e: Event| {
            let i: HtmlInputElement = e.target_unchecked_into();
            // One rule for the app and the CLI's --max-record-mb; out of
            // range falls back to the default.
            cb.emit(
                FormatOptions::parse_max_record_mb(&i.value())
                    .unwrap_or(crate::data::DEFAULT_MAX_RECORD_MB),
            );
        })
    };
    let chosen = p.options.format.map(|f| f.name());
    html! {
        <section class="panel upload" aria-labelledby="upload-h">
            <h2 id="upload-h">{"Your data"}</h2>
            <div class={classes!("dropzone", dragging.then_some("dragging"))}
                 ondrop={on_drop} ondragover={on_dragover} ondragleave={on_dragleave}>
                <p>{"Drop a JSONL, JSON, CSV, TSV or Parquet file here (gzip works too), or "}
                    <label class="filebtn">{"choose a file"}
                        <input type="file" id="file-input" accept=".jsonl,.json,.gz,.txt,.csv,.tsv,.parquet,application/json,text/csv,text/tab-separated-values" onchange={on_change} disabled={p.disabled} />
                    </label>
                    {" · "}<button type="button" class="linkish" onclick={on_example} disabled={p.disabled}>{"show the example"}</button>
                    if study_url.is_some() {
                        {" · "}<button type="button" class="linkish" id="study-open" onclick={on_study} disabled={p.disabled} title="the factor scores the PROFILE paper publishes for people and eight models (no pairs)">{"the paper's study"}</button>
                    }
                </p>
                <p class="hint">{"Pairs as {\"input\", \"source\", \"response_a\", \"response_b\", \"preference\": \"a\"|\"b\"|\"tie\"}, or SummEval, LLMBar, HH-RLHF, SHP, WebGPT, TL;DR, Chatbot Arena, UltraFeedback, PKU-SafeRLHF, HelpSteer2, MultiPref files as distributed. A CSV/TSV header row names the fields (response_a, response_b, preference, …)."}</p>
            </div>
            <details class="paste">
                <summary>{"Paste JSONL instead"}</summary>
                <textarea ref={paste} id="paste-input" rows="6" placeholder="{\"response_a\": \"…\", \"response_b\": \"…\", \"preference\": \"a\"}" />
                <button type="button" id="paste-go" onclick={on_paste} disabled={p.disabled}>{"Analyze pasted text"}</button>
            </details>
            <div class="row">
                <label>{"Format "}
                    <select id="format-select" onchange={on_format} disabled={p.disabled}>
                        <option value="auto" selected={chosen.is_none()}>{"detect automatically"}</option>
                        { for Format::ALL.iter().map(|f| html! {
                            <option value={f.name()} selected={chosen == Some(f.name())} title={f.description()}>{f.name()}</option>
                        }) }
                    </select>
                </label>
                <label>{"SummEval label "}
                    <select id="label-select" onchange={on_label} disabled={p.disabled}>
                        { for std::iter::once(SummEvalLabel::Mean).chain(SummEvalLabel::ASPECTS).map(|l| html! {
                            <option value={l.name()} selected={p.options.summeval_label == l}>{ if l == SummEvalLabel::Mean { "mean of 4 aspects" } else { l.name() } }</option>
                        }) }
                    </select>
                </label>
                <label title="PKU-SafeRLHF rates each pair twice: which response is better, and which is safer">{"PKU-SafeRLHF label "}
                    <select id="pku-label-select" onchange={on_pku_label} disabled={p.disabled}>
                        { for [PkuLabel::Better, PkuLabel::Safer].into_iter().map(|l| html! {
                            <option value={l.name()} selected={p.options.pku_label == l}>{l.name()}</option>
                        }) }
                    </select>
                </label>
                <label title="a line or array element longer than this is skipped with a diagnostic, without being held in memory">{"Largest record (MB) "}
                    <input type="number" id="max-record-mb" min="1" max={crate::data::MAX_RECORD_MB_LIMIT.to_string()} step="1"
                        value={p.options.max_record_mb.to_string()} onchange={on_max_record} disabled={p.disabled} />
                </label>
            </div>
            <details class="columns" id="columns" open={!p.options.column_map.is_empty()}>
                <summary>{"CSV/TSV columns"}{ if p.options.column_map.is_empty() { "" } else { " (mapped)" } }</summary>
                <p class="hint">{"Name the column of your table that holds each field (leave a field empty when its column already has that name). The file is read again with this mapping."}</p>
                <div class="row" ref={map_form}>
                    { for MAPPABLE.iter().map(|field| html! {
                        <label>{*field}{" "}
                            <input type="text" id={format!("map-{field}")} value={mapped(field)} size="12" disabled={p.disabled} />
                        </label>
                    }) }
                    <button type="button" id="map-apply" onclick={on_map_apply} disabled={p.disabled}>{"Read with these columns"}</button>
                </div>
            </details>
        </section>
    }
}
