//! The drill-down panel: the pairs behind a factor score (or a judge's
//! verdicts against people), filterable by kind and agent, as a virtualised
//! list (only the rows in view are in the DOM; the worker sends pages of
//! rows without texts), and one pair's two responses side by side with the
//! evidence: novel words highlighted, factor values, label and verdict.
//! Every dataset or model text is a text node.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use yew::prelude::*;

use crate::protocol::{DrillRequest, DrillRow, ToWorker};
use crate::report::Report;
use crate::state::{Action, DrillUi, EvidenceView};

/// Row height in px (fixed: the list positions rows by index; `.drill-row`
/// in style.css).
const ROW_H: f64 = 30.0;
/// The list's visible height in px (`.drill-list` in style.css).
const VIEW_H: f64 = 420.0;
/// Rows rendered beyond the visible ones on each side.
const OVERSCAN: u64 = 6;
/// Rows per request.
const PAGE: u64 = 200;

#[derive(Properties, PartialEq)]
pub struct DrillProps {
    pub drill: DrillUi,
    pub report: Rc<Report>,
    pub dispatch: Callback<Action>,
    pub send: Callback<ToWorker>,
    /// The module's edition; its `model_evidence` draws a response's model
    /// answers (the first-load module has no model values, so it links
    /// none of that view).
    pub edition: super::Edition,
}

/// How a response's model answers are drawn: [`model_evidence`], or
/// [`no_model_evidence`] in the first-load module.
pub type ModelEvidenceView = fn(
    &crate::drill::ModelEvidence,
    crate::drill::Side,
    &DrillUi,
    &str,
    &Callback<Action>,
    &Callback<ToWorker>,
) -> Html;

/// The first-load module's [`ModelEvidenceView`]: model values exist only
/// after a run or an import, both in the model tools.
pub fn no_model_evidence(
    _: &crate::drill::ModelEvidence,
    _: crate::drill::Side,
    _: &DrillUi,
    _: &str,
    _: &Callback<Action>,
    _: &Callback<ToWorker>,
) -> Html {
    html! {}
}

fn side(s: Option<i8>) -> &'static str {
    match s {
        Some(1) => "A",
        Some(-1) => "B",
        Some(_) => "tie",
        None => "none",
    }
}

fn value(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.3}"),
    }
}

fn kind_label(k: &str) -> &str {
    match k {
        "disagrees" => "disagrees with people",
        "agrees" => "agrees with people",
        "no_verdict" => "no verdict",
        "followed_position" => "followed the position",
        k => k,
    }
}

#[function_component(DrillPanel)]
pub fn drill_panel(p: &DrillProps) -> Html {
    let d = &p.drill;
    let open = |factor: Option<String>, agent: String, filter: String| {
        let dispatch = p.dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            dispatch.emit(Action::OpenDrill {
                factor: factor.clone(),
                agent: agent.clone(),
                filter: filter.clone(),
            })
        })
    };
    let close = p.dispatch.reform(|_: MouseEvent| Action::CloseDrill);
    let agents: Vec<(String, bool)> = p
        .report
        .agents
        .iter()
        .map(|a| {
            (
                a.name.clone(),
                a.setting == crate::stats::Setting::Evaluation,
            )
        })
        .collect();
    let is_judge = agents.iter().any(|(n, j)| *j && *n == d.agent);
    let on_agent = {
        let (dispatch, factor, filter) = (p.dispatch.clone(), d.factor.clone(), d.filter.clone());
        Callback::from(move |e: Event| {
            let sel: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let agent = sel.value();
            // Verdicts against people exist for judges only.
            let factor = factor.clone().or_else(|| Some("length".into()));
            let filter = if factor.is_some()
                && ["disagrees", "agrees", "no_verdict", "followed_position"]
                    .contains(&filter.as_str())
            {
                "discordant".to_owned()
            } else {
                filter.clone()
            };
            dispatch.emit(Action::OpenDrill {
                factor,
                agent,
                filter,
            });
        })
    };
    let title = match &d.factor {
        Some(f) => format!(
            "Pairs behind {} for {}",
            crate::factors::display_name(f),
            d.agent
        ),
        None => format!("{}: verdicts against people", d.agent),
    };
    let filters: Vec<(String, Option<u64>)> = if d.counts.is_empty() {
        let ids: &[&str] = if d.factor.is_some() {
            &["concordant", "discordant", "tied", "dropped", "missing"]
        } else {
            &["disagrees", "agrees", "no_verdict", "followed_position"]
        };
        ids.iter().map(|k| ((*k).to_owned(), None)).collect()
    } else {
        d.counts
            .iter()
            .map(|(k, n)| (k.clone(), Some(*n)))
            .collect()
    };
    let list_key = format!("{:?}|{}|{}", d.factor, d.agent, d.filter);
    html! {
        <section class="panel drill" id="drill" aria-labelledby="drill-h">
            <div class="drill-head">
                <h2 id="drill-h">{title}</h2>
                <button type="button" id="drill-close" onclick={close}>{"Close"}</button>
            </div>
            <div class="drill-filters">
                <label>{"Agent "}
                    <select id="drill-agent" onchange={on_agent}>
                        { for agents.iter().map(|(n, _)| html! {
                            <option value={n.clone()} selected={*n == d.agent}>{n.clone()}</option>
                        }) }
                    </select>
                </label>
                <span class="drill-kinds" role="group" aria-label="which pairs">
                    { for filters.iter().map(|(k, n)| {
                        let pressed = *k == d.filter;
                        html! {
                            <button type="button" class={classes!("kind", pressed.then_some("on"))} aria-pressed={pressed.to_string()} data-kind={k.clone()}
                                onclick={open(d.factor.clone(), d.agent.clone(), k.clone())}>
                                {kind_label(k).to_owned()}{ n.map(|n| format!(" ({n})")).unwrap_or_default() }
                            </button>
                        }
                    }) }
                    if is_judge && d.factor.is_some() {
                        <button type="button" class="kind" id="drill-verdicts" onclick={open(None, d.agent.clone(), "disagrees".into())}>{"verdicts vs people"}</button>
                    }
                </span>
            </div>
            if let Some(e) = &d.error {
                <p class="error" role="alert">{e.clone()}</p>
            }
            <p class="muted small" id="drill-count">{
                match d.matching {
                    None => "loading…".to_owned(),
                    Some(m) => format!("{m} of {} pairs {}. Pick one to see both responses.", d.pairs, kind_label(&d.filter)),
                }
            }</p>
            <div class="drill-body">
                <DrillList key={list_key} drill={d.clone()} dispatch={p.dispatch.clone()} send={p.send.clone()} />
                <EvidencePanel drill={d.clone()} dispatch={p.dispatch.clone()} send={p.send.clone()} edition={p.edition} />
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ListProps {
    drill: DrillUi,
    dispatch: Callback<Action>,
    send: Callback<ToWorker>,
}

/// The virtualised list: a spacer as tall as every row, and only the rows in
/// view (plus a few) positioned inside it.
#[function_component(DrillList)]
fn drill_list(p: &ListProps) -> Html {
    let d = &p.drill;
    let top = use_state(|| 0.0f64);
    let requested: Rc<RefCell<BTreeSet<u64>>> = use_mut_ref(BTreeSet::new);
    let n = d.matching.unwrap_or(PAGE);
    let first = ((*top / ROW_H) as u64).saturating_sub(OVERSCAN);
    let last = (((*top + VIEW_H) / ROW_H).ceil() as u64 + OVERSCAN).min(n);
    // Ask for the pages of the rows in view that have not come yet.
    {
        let (send, req) = (p.send.clone(), requested.clone());
        let (factor, agent, filter) = (d.factor.clone(), d.agent.clone(), d.filter.clone());
        use_effect_with((first, last), move |&(first, last)| {
            let mut r = req.borrow_mut();
            let mut page = first / PAGE;
            while page * PAGE < last.max(1) {
                if r.insert(page) {
                    send.emit(ToWorker::Drill(DrillRequest {
                        factor: factor.clone(),
                        agent: agent.clone(),
                        filter: filter.clone(),
                        offset: page * PAGE,
                        count: PAGE,
                    }));
                }
                page += 1;
            }
        });
    }
    let onscroll = {
        let top = top.clone();
        Callback::from(move |e: Event| {
            let el: web_sys::Element = e.target_unchecked_into();
            top.set(f64::from(el.scroll_top()));
        })
    };
    // The page's CSP forbids style attributes: the spacer's height and the
    // window's offset are set through the CSSOM after each render.
    let list = use_node_ref();
    let spacer = use_node_ref();
    let window = use_node_ref();
    {
        let (list, spacer, window) = (list.clone(), spacer.clone(), window.clone());
        use_effect_with((n, first), move |&(n, first)| {
            let set = |r: &NodeRef, k: &str, v: String| {
                if let Some(el) = r.cast::<web_sys::HtmlElement>() {
                    let _ = el.style().set_property(k, &v);
                }
            };
            set(&spacer, "height", format!("{}px", n as f64 * ROW_H));
            // A short list takes only its rows' height.
            set(
                &list,
                "height",
                format!("{}px", (n as f64 * ROW_H).clamp(ROW_H, VIEW_H) + 2.0),
            );
            set(
                &window,
                "transform",
                format!("translateY({}px)", first as f64 * ROW_H),
            );
        });
    }
    let row = |i: u64, r: Option<&DrillRow>| {
        let index = i.to_string();
        match r {
            None => html! { <div class="drill-row pending" data-index={index}>{"…"}</div> },
            Some(r) => {
                let pair = r.pair;
                let (dispatch, send) = (p.dispatch.clone(), p.send.clone());
                let (factor, agent) = (d.factor.clone(), d.agent.clone());
                let onclick = Callback::from(move |_: MouseEvent| {
                    dispatch.emit(Action::SelectPair(pair));
                    send.emit(ToWorker::Evidence {
                        factor: factor.clone(),
                        agent: agent.clone(),
                        pair,
                    });
                });
                let selected = d.selected == Some(pair);
                let values = if d.factor.is_some() {
                    format!(" · A {} vs B {}", value(r.value_a), value(r.value_b))
                } else {
                    String::new()
                };
                let position = r
                    .position
                    .as_deref()
                    .map(|at| format!(" · named the response shown {at} in both orders"))
                    .unwrap_or_default();
                html! {
                    <button type="button" class={classes!("drill-row", selected.then_some("selected"))} data-index={index} data-pair={pair.to_string()} {onclick}>
                        <span class={classes!("tag", r.kind.clone())}>{kind_label(&r.kind).to_owned()}</span>
                        {format!(" pair {} · people: {}{}{values} · line {}", pair, side(Some(r.label)), if d.agent == "human" { String::new() } else { format!(" · agent: {}", side(r.agent)) }, r.line)}{position}
                    </button>
                }
            }
        }
    };
    html! {
        <div class="drill-list" id="drill-list" ref={list} {onscroll} role="list">
            <div class="drill-spacer" ref={spacer}>
                <div class="drill-window" ref={window}>
                    { for (first..last).map(|i| row(i, d.rows.get(&i))) }
                </div>
            </div>
        </div>
    }
}

/// `text` with the byte ranges `spans` in `<mark>`, all as text nodes.
fn highlighted(text: &str, spans: &[[usize; 2]]) -> Html {
    let mut parts = Vec::new();
    let mut at = 0;
    for &[s, e] in spans {
        let (Some(before), Some(word)) = (text.get(at..s), text.get(s..e)) else {
            continue;
        };
        parts.push(html! { {before.to_owned()} });
        parts.push(html! { <mark class="novel">{word.to_owned()}</mark> });
        at = e;
    }
    parts.push(html! { {text.get(at..).unwrap_or_default().to_owned()} });
    parts.into_iter().collect::<Html>()
}

#[derive(Properties, PartialEq)]
struct EvidenceProps {
    drill: DrillUi,
    dispatch: Callback<Action>,
    send: Callback<ToWorker>,
    edition: super::Edition,
}

/// The class of a check's verdict: whether it counts against the response.
fn verdict_class(label: &str) -> &'static str {
    match label {
        "hallucinated" | "off-focus" | "misinformation" | "not covered" => "verdict bad",
        "supported" | "on focus" | "covered" | "helpful extra" => "verdict good",
        _ => "verdict",
    }
}

/// A response's model evidence: the facts with the checks' verdicts, the
/// judgements, and each question's raw reply one click away (a text node
/// in a bounded box).
pub fn model_evidence(
    m: &crate::drill::ModelEvidence,
    side: crate::drill::Side,
    d: &DrillUi,
    factor: &str,
    dispatch: &Callback<Action>,
    send: &Callback<ToWorker>,
) -> Html {
    if m.imported {
        return html! {
            <div class="model-evidence"><p class="small muted">{"The value is an imported annotation: no model answer is behind it."}</p></div>
        };
    }
    let j = m.judgements.as_ref().map(|j| {
        [
            ("intent alignment", j.intent_alignment),
            ("formality alignment", j.formality_alignment),
            ("receptiveness", j.receptiveness),
            ("fluency", j.fluency),
            ("coherence", j.coherence),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| format!("{n}: {}", value(Some(v)))))
        .collect::<Vec<_>>()
        .join(" · ")
    });
    let raw = d
        .raw
        .as_deref()
        .filter(|(s, _, _)| *s == side)
        .map(|(_, q, r)| (*q, r));
    let pair = d.selected.unwrap_or_default();
    let side_id = if side == crate::drill::Side::A {
        "a"
    } else {
        "b"
    };
    html! {
        <div class="model-evidence" data-side={side_id}>
            <p class="small muted">{format!("Model answers behind the value{}", m.model.as_deref().map(|x| format!(" ({x})")).unwrap_or_default())}</p>
            if let Some(of) = &m.facts_of {
                <p class="small"><strong>{format!("{} atomic facts of the {of}", m.facts.len())}</strong></p>
                <ol class="checked-facts">
                    { for m.facts.iter().map(|f| html! {
                        <li class="fact">
                            <span class="fact-text">{f.text.clone()}</span>
                            { for f.verdicts.iter().map(|v| html! { <span class={verdict_class(&v.label)} data-check={v.check.clone()}>{v.label.clone()}</span> }) }
                            if f.repeat { <span class="small muted">{" repeat: counted once"}</span> }
                        </li>
                    }) }
                </ol>
            }
            if let Some(j) = j {
                <p class="small judgements">{format!("Judgements: {j}")}</p>
            }
            <p class="raw-links small">
                { for m.replies.iter().enumerate().map(|(i, r)| {
                    let (send, factor, agent) = (send.clone(), factor.to_owned(), d.agent.clone());
                    let onclick = Callback::from(move |_: MouseEvent| send.emit(ToWorker::RawReply {
                        factor: factor.clone(),
                        agent: agent.clone(),
                        pair,
                        side,
                        question: i as u32,
                    }));
                    html! { <button type="button" class="raw-open" data-question={i.to_string()} {onclick}>{format!("Raw reply: {r}")}</button> }
                }) }
            </p>
            if let Some((q, r)) = raw {
                <div class="raw-reply" data-question={q.to_string()}>
                    <div class="raw-head small">
                        <span>{format!("Raw reply: {}{}", r.question, if r.text.is_some() { format!(" · {} bytes{}", r.bytes, if r.truncated { format!(", first {} characters shown", crate::drill::MAX_RAW_REPLY_CHARS) } else { String::new() }) } else { String::new() })}</span>
                        <button type="button" class="raw-close" onclick={dispatch.reform(|_: MouseEvent| Action::HideRawReply)}>{"Hide"}</button>
                    </div>
                    if let Some(t) = &r.text {
                        <pre class="raw-text">{t.clone()}</pre>
                    }
                    if let Some(n) = &r.note {
                        <p class="small muted">{n.clone()}</p>
                    }
                </div>
            }
        </div>
    }
}

#[function_component(EvidencePanel)]
fn evidence_panel(p: &EvidenceProps) -> Html {
    let d = &p.drill;
    let Some(pair) = d.selected else {
        return html! { <div class="drill-evidence muted">{"No pair picked."}</div> };
    };
    let Some(view) = d.evidence.as_deref() else {
        return html! { <div class="drill-evidence muted">{format!("Loading pair {pair}…")}</div> };
    };
    let EvidenceView {
        evidence,
        verdict,
        note,
        agent,
    } = view;
    let Some(e) = evidence else {
        return html! { <div class="drill-evidence muted">{"This pair is not in the data."}</div> };
    };
    let factor = d.factor.as_deref().map_or(
        "novel words (count)".to_owned(),
        crate::factors::display_name,
    );
    let factor_id = d.factor.clone().unwrap_or_default();
    let response = |name: &str, s: i8, r: &crate::drill::ResponseEvidence| {
        let preferred = e.label == s;
        let side = if s == 1 {
            crate::drill::Side::A
        } else {
            crate::drill::Side::B
        };
        html! {
            <div class={classes!("response", preferred.then_some("preferred"))} data-side={name.to_owned()}>
                <h3>{format!("Response {name}")}{ if preferred { " — preferred by people" } else { "" } }</h3>
                <p class="small">{format!("{factor}: {} · {} distinct novel stems (their words highlighted)", value(r.value), r.novel_count)}</p>
                <p class="text">{ highlighted(&r.text, &r.novel) }</p>
                if let Some(m) = &r.model {
                    { (p.edition.model_evidence)(m, side, d, &factor_id, &p.dispatch, &p.send) }
                } else if let Some(facts) = &r.facts {
                    <details class="facts"><summary>{format!("{} atomic facts (model)", facts.len())}</summary>
                        <ol>{ for facts.iter().map(|f| html! { <li>{f.clone()}</li> }) }</ol>
                    </details>
                }
            </div>
        }
    };
    html! {
        <div class="drill-evidence" id="drill-evidence" data-pair={pair.to_string()}>
            <p class="small">{format!("Pair {} (line {}) · people prefer {}", e.pair, e.line, side(Some(e.label)))}
                { if agent != "human" { format!(" · {agent}: {}", side(*verdict)) } else { String::new() } }
            </p>
            if let Some(input) = &e.input {
                <details><summary>{"Input"}</summary><p class="text">{input.clone()}</p></details>
            }
            if let Some(ctx) = e.context.as_ref().filter(|c| Some(*c) != e.input.as_ref()) {
                <details><summary>{"Source (novel words are measured against it)"}</summary><p class="text">{ctx.clone()}</p></details>
            }
            <div class="side-by-side">
                { response("A", 1, &e.a) }
                { response("B", -1, &e.b) }
            </div>
            if let Some(n) = note {
                <p class="muted small">{n.clone()}</p>
            }
        </div>
    }
}
