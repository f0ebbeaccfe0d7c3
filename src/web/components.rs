//! The report view's panels. Each renders its props and emits callbacks; all
//! text from data and models is inserted as text nodes, never as markup.

use std::rc::Rc;

use crate::stats::MIN_INPUTS_FOR_INTERVALS;

use web_sys::{DragEvent, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::app::selected_factors;
use super::download::{save_svg_as_png, save_text};
use super::worker_hook::LoadSpec;
use crate::chart::{factor_chart, to_svg, Chart, ChartOptions};
use crate::data::{Diagnostic, Format, FormatOptions, SummEvalLabel};
use crate::factors::{Factor, Task};
use crate::protocol::Input;
use crate::report::{FactorScoreEntry, Report};
use crate::view::{SortKey, ViewState};

use crate::chart::fmt_score_opt as fmt3;

fn human_bytes(b: u64) -> String {
    const U: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < 3 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

fn stem_of(name: &str) -> String {
    let base = name.split(" (").next().unwrap_or(name);
    let base = base.rsplit_once('.').map_or(base, |(b, _)| b);
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "profile".into()
    } else {
        clean
    }
}

// ---------------------------------------------------------------- upload

#[derive(Properties, PartialEq)]
pub struct UploadProps {
    pub on_load: Callback<LoadSpec>,
    pub options: FormatOptions,
    pub on_format: Callback<Option<Format>>,
    pub on_label: Callback<SummEvalLabel>,
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
                <p>{"Drop a JSONL or JSON file here (gzip works too), or "}
                    <label class="filebtn">{"choose a file"}
                        <input type="file" id="file-input" accept=".jsonl,.json,.gz,.txt,application/json" onchange={on_change} disabled={p.disabled} />
                    </label>
                    {" · "}<button type="button" class="linkish" onclick={on_example} disabled={p.disabled}>{"show the example"}</button>
                </p>
                <p class="hint">{"Pairs as {\"input\", \"source\", \"response_a\", \"response_b\", \"preference\": \"a\"|\"b\"|\"tie\"}, or SummEval, LLMBar, HH-RLHF, SHP, WebGPT, TL;DR files as distributed."}</p>
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
                <label title="a line or array element longer than this is skipped with a diagnostic, without being held in memory">{"Largest record (MB) "}
                    <input type="number" id="max-record-mb" min="1" max={crate::data::MAX_RECORD_MB_LIMIT.to_string()} step="1"
                        value={p.options.max_record_mb.to_string()} onchange={on_max_record} disabled={p.disabled} />
                </label>
            </div>
        </section>
    }
}

// ---------------------------------------------------------------- progress

#[derive(Properties, PartialEq)]
pub struct ProgressProps {
    pub name: String,
    pub bytes: u64,
    pub total_bytes: u64,
    pub records: u64,
    pub on_cancel: Callback<()>,
}

#[function_component(ProgressPanel)]
pub fn progress_panel(p: &ProgressProps) -> Html {
    let on_cancel = p.on_cancel.reform(|_: MouseEvent| ());
    let pct = if p.total_bytes > 0 {
        (p.bytes as f64 / p.total_bytes as f64 * 100.0).round()
    } else {
        0.0
    };
    html! {
        <section class="panel progress" aria-live="polite" id="progress">
            <p>{format!("Reading {} …", p.name)}</p>
            <progress max="100" value={pct.to_string()} aria-label="bytes read"></progress>
            <p class="muted" id="progress-text">{
                if p.total_bytes > 0 {
                    format!("{} of {} ({pct}%) · {} records", human_bytes(p.bytes), human_bytes(p.total_bytes), p.records)
                } else {
                    "parsing …".to_string()
                }
            }</p>
            <button type="button" id="cancel" onclick={on_cancel}>{"Cancel"}</button>
        </section>
    }
}

// ---------------------------------------------------------------- summary

#[derive(Properties, PartialEq)]
pub struct SummaryProps {
    pub report: Rc<Report>,
    pub elapsed_ms: Option<f64>,
    pub format_chosen: bool,
}

#[function_component(Summary)]
pub fn summary(p: &SummaryProps) -> Html {
    let d = &p.report.dataset;
    let item = |k: &str, v: String, id: &str| html! { <div><dt>{k.to_string()}</dt><dd id={id.to_string()}>{v}</dd></div> };
    html! {
        <section class="panel" aria-labelledby="sum-h">
            <h2 id="sum-h">{"Dataset: "}<span id="dataset-name">{d.name.clone().unwrap_or_default()}</span></h2>
            if let Some(why) = d.nothing_usable() {
                <div class="error" id="nothing-usable" role="alert"><strong>{"Nothing to score: "}</strong>{why}{" (see the problems below)"}</div>
            }
            <dl class="stats">
                { item("format", format!("{}{}", d.format, if p.format_chosen { " (chosen)" } else { " (detected)" }), "stat-format") }
                if let Some(l) = &d.label { { item("label", l.clone(), "stat-label") } }
                { item("records", format!("{} read · {} parsed · {} skipped", d.records_read, d.records_parsed, d.records_skipped), "stat-records") }
                { item("pairs scored", d.pairs.to_string(), "stat-pairs") }
                { item("human ties dropped", d.human_ties_dropped.to_string(), "stat-ties") }
                if d.pairs_dropped_other > 0 { { item("dropped by format rule", format!("{} — {}", d.pairs_dropped_other, d.pairs_dropped_reason.clone().unwrap_or_default()), "stat-dropped") } }
                { item("inputs (resampling units)", d.inputs.to_string(), "stat-inputs") }
                if let Some(sm) = &d.sample {
                    { item("sample", match sm.seed {
                        Some(seed) => format!("{} of {} inputs drawn with seed {seed}, all their pairs ({} of {} pairs)", d.inputs, sm.inputs_loaded, d.pairs, sm.pairs_loaded),
                        None => format!("the first {} of {} pairs", d.pairs, sm.pairs_loaded),
                    }, "stat-sample") }
                }
                { item("unique texts", d.unique_texts.to_string(), "stat-texts") }
                if let Some(ms) = p.elapsed_ms { { item("computed in", format!("{ms:.0} ms"), "stat-time") } }
            </dl>
        </section>
    }
}

// ---------------------------------------------------------------- controls

#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    pub report: Rc<Report>,
    pub view: ViewState,
    pub on_view: Callback<ViewState>,
}

#[function_component(Controls)]
pub fn controls(p: &ControlsProps) -> Html {
    let selected = selected_factors(&p.report, &p.view);
    let on_task = {
        let (view, cb) = (p.view.clone(), p.on_view.clone());
        Callback::from(move |e: Event| {
            let s: HtmlSelectElement = e.target_unchecked_into();
            let mut v = view.clone();
            v.task = Task::from_id(&s.value());
            v.factors = None;
            cb.emit(v);
        })
    };
    let toggle = |f: Factor| {
        let (view, cb, selected) = (p.view.clone(), p.on_view.clone(), selected.clone());
        Callback::from(move |_: Event| {
            let mut fs = selected.clone();
            if let Some(i) = fs.iter().position(|x| *x == f) {
                fs.remove(i);
            } else {
                fs.push(f);
            }
            let mut v = view.clone();
            v.factors = Some(fs);
            cb.emit(v);
        })
    };
    let reset = {
        let (view, cb) = (p.view.clone(), p.on_view.clone());
        Callback::from(move |_: MouseEvent| {
            let mut v = view.clone();
            v.factors = None;
            cb.emit(v);
        })
    };
    let task = p.report.config.task.clone();
    html! {
        <section class="panel controls" aria-labelledby="ctl-h">
            <h2 id="ctl-h">{"Task and factors"}</h2>
            <label>{"Task preset "}
                <select id="task-select" onchange={on_task}>
                    { for Task::ALL.iter().map(|t| html! { <option value={t.id()} selected={t.id() == task}>{t.name()}</option> }) }
                </select>
            </label>
            <fieldset class="factor-picker">
                <legend>{"Factors "}<button type="button" class="linkish" onclick={reset}>{"reset to preset"}</button></legend>
                { for Factor::ALL.iter().map(|&f| {
                    let info = f.info();
                    html! {
                        <label class={classes!("chip", f.needs_model().then_some("needs-model"))} title={format!("{} · {} · {}", info.level2, info.level3, info.value)}>
                            <input type="checkbox" checked={selected.contains(&f)} onchange={toggle(f)} data-factor={f.id()} />
                            {info.name}
                            if f.needs_model() { <span class="badge">{"model"}</span> }
                        </label>
                    }
                }) }
            </fieldset>
        </section>
    }
}

// ---------------------------------------------------------------- chart

#[derive(Properties, PartialEq)]
pub struct ChartProps {
    pub report: Rc<Report>,
}

fn chart_width() -> f64 {
    web_sys::window()
        .and_then(|w| w.inner_width().ok())
        .and_then(|v| v.as_f64())
        .map_or(720.0, |w| (w - 48.0).clamp(300.0, 760.0))
}

pub fn human_chart(report: &Report, width: f64) -> Option<Chart> {
    let agent = report.agent("human")?;
    Some(factor_chart(
        agent,
        &ChartOptions {
            width,
            title: format!(
                "Human factor scores — {}",
                report.dataset.name.as_deref().unwrap_or("dataset")
            ),
            ..Default::default()
        },
    ))
}

#[function_component(ChartView)]
pub fn chart_view(p: &ChartProps) -> Html {
    let Some(c) = human_chart(&p.report, chart_width()) else {
        return html! {};
    };
    html! {
        <section class="panel" aria-labelledby="chart-h">
            <h2 id="chart-h">{"Which factors go with human preference"}</h2>
            <p class="muted">{"Bars: factor score (C − D)/(C + D + T); whiskers: 95% bootstrap interval over inputs. Right of zero: preferred responses have more of the factor."}</p>
            <figure>
                <svg id="factor-chart" viewBox={format!("0 0 {} {}", c.width, c.height)} role="img" aria-labelledby="chart-title chart-desc" class="chart">
                    <title id="chart-title">{c.title.clone()}</title>
                    <desc id="chart-desc">{c.summary.clone()}</desc>
                    { for c.ticks.iter().map(|t| html! {
                        <g class="tick">
                            <line x1={t.x.to_string()} x2={t.x.to_string()} y1={(c.plot_top - 4.0).to_string()} y2={c.plot_bottom.to_string()} class={if t.label == "0" { "axis0" } else { "grid" }} />
                            <text x={t.x.to_string()} y={(c.plot_bottom + 16.0).to_string()} text-anchor="middle">{t.label.clone()}</text>
                        </g>
                    }) }
                    { for c.rows.iter().map(|r| {
                        let mid = r.y + r.bar_height / 2.0;
                        html! {
                            <g class="bar-row" tabindex="0" role="listitem" aria-label={r.description.clone()} data-factor={r.factor.clone()}>
                                <title>{r.description.clone()}</title>
                                <text x={c.label_x.to_string()} y={mid.to_string()} text-anchor="end" dominant-baseline="middle" class="label">{r.label.clone()}</text>
                                <rect x={r.bar_x.to_string()} y={r.y.to_string()} width={r.bar_width.max(0.5).to_string()} height={r.bar_height.to_string()} rx="2" class={if r.positive { "pos" } else { "neg" }} />
                                if let Some([lo, hi]) = r.whisker {
                                    <path d={format!("M{lo:.1} {:.1}V{:.1}M{lo:.1} {mid:.1}H{hi:.1}M{hi:.1} {:.1}V{:.1}", mid - 5.0, mid + 5.0, mid - 5.0, mid + 5.0)} class="whisker" />
                                }
                                <text x={r.value_x.to_string()} y={mid.to_string()} dominant-baseline="middle" class="value">{r.value_text.clone()}</text>
                            </g>
                        }
                    }) }
                </svg>
                if !c.unscored.is_empty() {
                    <figcaption class="muted">{format!("Not scored: {}.", c.unscored.join(", "))}</figcaption>
                }
            </figure>
        </section>
    }
}

// ---------------------------------------------------------------- table

#[derive(Properties, PartialEq)]
pub struct TableProps {
    pub report: Rc<Report>,
    pub view: ViewState,
    pub on_view: Callback<ViewState>,
}

fn sort_value(k: SortKey, id: &str, e: &FactorScoreEntry) -> (f64, String) {
    let v = match k {
        SortKey::Score => e.score.unwrap_or(f64::NEG_INFINITY),
        SortKey::Factor => 0.0,
        SortKey::CiLow => e.ci95.map_or(f64::NEG_INFINITY, |c| c[0]),
        SortKey::CiHigh => e.ci95.map_or(f64::NEG_INFINITY, |c| c[1]),
        SortKey::Concordant => e.concordant as f64,
        SortKey::Discordant => e.discordant as f64,
        SortKey::Ties => e.ties as f64,
        SortKey::Pairs => e.n_pairs as f64,
    };
    (v, id.to_owned())
}

/// " n_facts lost 3 pairs to failed extraction, …" for the table's caption.
fn missing_note(agent: &crate::report::Agent) -> String {
    let lost: Vec<String> = agent
        .ranking
        .iter()
        .filter_map(|id| {
            let m = agent.factor_scores.get(id)?.missing;
            let name = crate::factors::display_name(id);
            (m > 0).then(|| format!("{name} {m}"))
        })
        .collect();
    if lost.is_empty() {
        String::new()
    } else {
        format!(
            " Pairs lost to failed extraction (missing, apart from factor ties): {}.",
            lost.join(", ")
        )
    }
}

#[function_component(FactorTable)]
pub fn factor_table(p: &TableProps) -> Html {
    let Some(agent) = p.report.agent("human") else {
        return html! {};
    };
    let mut rows: Vec<(&String, &FactorScoreEntry)> = agent.factor_scores.iter().collect();
    let (key, asc) = (p.view.sort, p.view.ascending);
    rows.sort_by(|a, b| {
        let (va, ia) = sort_value(key, a.0, a.1);
        let (vb, ib) = sort_value(key, b.0, b.1);
        let o = if key == SortKey::Factor {
            ia.cmp(&ib)
        } else {
            va.total_cmp(&vb).then_with(|| ib.cmp(&ia))
        };
        if asc {
            o
        } else {
            o.reverse()
        }
    });
    let header = |k: SortKey, label: &str, abbr: &str| {
        let (view, cb) = (p.view.clone(), p.on_view.clone());
        let active = view.sort == k;
        let onclick = Callback::from(move |_: MouseEvent| {
            let mut v = view.clone();
            if v.sort == k {
                v.ascending = !v.ascending;
            } else {
                v.sort = k;
                v.ascending = k == SortKey::Factor;
            }
            cb.emit(v);
        });
        let aria = if !active {
            "none"
        } else if asc {
            "ascending"
        } else {
            "descending"
        };
        html! {
            <th scope="col" aria-sort={aria} class={(k != SortKey::Factor).then_some("num")}>
                <button type="button" class="sort" {onclick} title={label.to_string()} data-sort={k.id()}>
                    {abbr.to_string()}{ if active { if asc { " ▲" } else { " ▼" } } else { "" } }
                </button>
            </th>
        }
    };
    html! {
        <section class="panel" aria-labelledby="tbl-h">
            <h2 id="tbl-h">{"Factor scores"}</h2>
            if let Some(why) = agent.joint.as_ref().and_then(|j| j.not_estimable.clone()) {
                <p class="notice" id="joint-not-estimable" role="status"><strong>{"Joint model not estimable: "}</strong>{why}</p>
            }
            if agent.joint.is_some() {
                <p class="muted small">{"Factor score: how often the preferred response has more of the factor, one factor at a time. Joint β: all factors in one preference model (Bradley–Terry on the signs of the differences): the change in log-odds of preference when the factor favours a response, given the other factors' signs. An association, not an effect with the others held fixed; an interval that covers 0 is not evidence of no effect, and strongly correlated factors cannot be told apart."}</p>
            }
            <div class="table-wrap">
            <table id="factor-table">
                <caption class="muted">{format!("Human setting: {}.{}", agent.tie_policy, missing_note(agent))}</caption>
                <thead><tr>
                    { header(SortKey::Factor, "factor", "factor") }
                    { header(SortKey::Score, "factor score", "score") }
                    { header(SortKey::CiLow, "95% CI lower bound", "CI low") }
                    { header(SortKey::CiHigh, "95% CI upper bound", "CI high") }
                    { header(SortKey::Concordant, "concordant pairs", "C") }
                    { header(SortKey::Discordant, "discordant pairs", "D") }
                    { header(SortKey::Ties, "agent ties with a factor difference", "T") }
                    <th scope="col" class="num" title="pairs with a factor tie (dropped)">{"dropped"}</th>
                    <th scope="col" class="num" title="pairs not compared because a value is missing: the factor could not be extracted for a response (counted apart from factor ties)">{"missing"}</th>
                    { header(SortKey::Pairs, "pairs considered", "n") }
                    if agent.joint.is_some() {
                        <th scope="col" class="num" title="joint model: Bradley–Terry coefficient on the signs of the factor differences, all factors at once, with its 95% bootstrap interval">{"joint β [95% CI]"}</th>
                    }
                </tr></thead>
                <tbody>
                { for rows.iter().map(|(id, e)| {
                    let name = crate::factors::display_name(id);
                    html! {
                        <tr data-factor={id.to_string()}>
                            <th scope="row">{name}<span class="muted small">{format!(" {id}")}</span></th>
                            <td class="num score">{fmt3(e.score)}</td>
                            <td class="num">{fmt3(e.ci95.map(|c| c[0]))}</td>
                            <td class="num ci-high" title={e.few_inputs.then(|| format!("interval from {} inputs, fewer than {}: its coverage is well below 95%", e.inputs.unwrap_or(0), MIN_INPUTS_FOR_INTERVALS))}>{fmt3(e.ci95.map(|c| c[1]))}{ if e.few_inputs { "!" } else { "" } }</td>
                            <td class="num">{e.concordant}</td>
                            <td class="num">{e.discordant}</td>
                            <td class="num">{e.ties}</td>
                            <td class="num">{e.dropped}</td>
                            <td class="num missing">{e.missing}</td>
                            <td class="num">{e.n_pairs}</td>
                            if let Some(j) = &agent.joint {
                                <td class="num joint">{
                                    match j.coefficients.get(id.as_str()) {
                                        Some(c) => format!("{} {}{}", fmt3(c.coefficient), c.ci95.map_or(String::new(), |[lo, hi]| format!("[{}, {}]", fmt3(Some(lo)), fmt3(Some(hi)))), if c.ci95.is_some() && j.few_inputs { "!" } else { "" }),
                                        None => "—".into(),
                                    }
                                }</td>
                            }
                        </tr>
                    }
                }) }
                </tbody>
            </table>
            </div>
            if agent.factor_scores.values().any(|e| e.few_inputs) || agent.joint.as_ref().is_some_and(|j| j.few_inputs) {
                <p class="muted small few-inputs">{format!("! interval from fewer than {MIN_INPUTS_FOR_INTERVALS} inputs: its coverage is well below 95% (on SummEval about 51% with 2 inputs, 84% with 5).")}</p>
            }
        </section>
    }
}

// ---------------------------------------------------------------- model factors

#[derive(Properties, PartialEq)]
pub struct ReportProps {
    pub report: Rc<Report>,
}

// ---------------------------------------------------------------- export

#[function_component(ExportPanel)]
pub fn export_panel(p: &ReportProps) -> Html {
    let stem = stem_of(p.report.dataset.name.as_deref().unwrap_or("profile"));
    let json = {
        let (r, stem) = (p.report.clone(), stem.clone());
        Callback::from(move |_: MouseEvent| {
            save_text(
                &format!("{stem}.profile-report.json"),
                "application/json",
                &r.to_json_pretty(),
            )
        })
    };
    let csv = {
        let (r, stem) = (p.report.clone(), stem.clone());
        Callback::from(move |_: MouseEvent| {
            save_text(
                &format!("{stem}.factor-scores.csv"),
                "text/csv",
                &r.factor_scores_csv(),
            )
        })
    };
    let svg = {
        let (r, stem) = (p.report.clone(), stem.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(c) = human_chart(&r, 720.0) {
                save_text(
                    &format!("{stem}.factor-chart.svg"),
                    "image/svg+xml",
                    &to_svg(&c),
                );
            }
        })
    };
    let png = {
        let (r, stem) = (p.report.clone(), stem.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(c) = human_chart(&r, 720.0) {
                save_svg_as_png(
                    &format!("{stem}.factor-chart.png"),
                    &to_svg(&c),
                    c.width,
                    c.height,
                );
            }
        })
    };
    html! {
        <section class="panel" aria-labelledby="exp-h">
            <h2 id="exp-h">{"Export"}</h2>
            <div class="row">
                <button type="button" id="export-json" onclick={json}>{"Report (JSON)"}</button>
                <button type="button" id="export-csv" onclick={csv}>{"Factor scores (CSV)"}</button>
                <button type="button" id="export-svg" onclick={svg}>{"Chart (SVG)"}</button>
                <button type="button" id="export-png" onclick={png}>{"Chart (PNG)"}</button>
            </div>
            <p class="muted">{"The report follows the versioned schema profile-report/1, the same the profile CLI writes. The view (task, factors, sort) is in the page address; the data never is."}</p>
        </section>
    }
}

// ---------------------------------------------------------------- diagnostics

#[derive(Properties, PartialEq)]
pub struct DiagnosticsProps {
    pub diagnostics: Rc<Vec<Diagnostic>>,
    pub total: u64,
    pub records_read: u64,
    pub records_parsed: u64,
}

const SHOWN: usize = 200;

#[function_component(DiagnosticsPanel)]
pub fn diagnostics_panel(p: &DiagnosticsProps) -> Html {
    if p.diagnostics.is_empty() {
        return html! {};
    }
    let download = {
        let d = p.diagnostics.clone();
        Callback::from(move |_: MouseEvent| {
            let text: String = d
                .iter()
                .map(|x| serde_json::to_string(x).unwrap_or_default() + "\n")
                .collect();
            save_text("diagnostics.jsonl", "application/x-ndjson", &text);
        })
    };
    html! {
        <section class="panel diagnostics" aria-labelledby="diag-h" id="diagnostics">
            <h2 id="diag-h">{format!("Problems in the file ({})", p.diagnostics.len())}</h2>
            <p>{format!("{} of {} records were used; each skipped one is listed with its line (and element, in a JSON array) and reason.", p.records_parsed, p.records_read)}</p>
            <button type="button" id="diagnostics-download" onclick={download}>{"Download all (JSONL)"}</button>
            <table class="diag">
                <thead><tr><th scope="col">{"line"}</th><th scope="col">{"field"}</th><th scope="col">{"reason"}</th></tr></thead>
                <tbody>
                { for p.diagnostics.iter().take(SHOWN).map(|d| html! {
                    <tr><td class="num">{d.line}{d.element.map(|e| format!(", element {e}")).unwrap_or_default()}</td><td><code>{d.field.clone().unwrap_or_default()}</code></td><td>{d.reason.clone()}</td></tr>
                }) }
                </tbody>
            </table>
            if p.diagnostics.len() > SHOWN {
                <p class="muted">{format!("… and {} more in the download.", p.diagnostics.len() - SHOWN)}</p>
            }
        </section>
    }
}
