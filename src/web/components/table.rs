//! The factor-score table, sortable, with the joint model and the few-inputs flags.

use std::rc::Rc;

use crate::stats::MIN_INPUTS_FOR_INTERVALS;

use yew::prelude::*;

use crate::report::{FactorScoreEntry, Report};
use crate::view::{SortKey, ViewState};

use crate::chart::fmt_score_opt;

#[derive(Properties, PartialEq)]
pub struct TableProps {
    pub report: Rc<Report>,
    pub view: ViewState,
    pub on_view: Callback<ViewState>,
    /// Open the pairs behind a number: (factor, agent, kind).
    #[prop_or_default]
    pub on_drill: Callback<(Option<String>, String, String)>,
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
    crate::data::sort::sort_by(&mut rows, |a, b| {
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
    // A number that opens the pairs behind it.
    let drill = |id: &str, kind: &'static str, text: String| {
        let cb = p.on_drill.clone();
        let id = id.to_owned();
        let title = format!("show the {kind} pairs of {id}");
        let onclick = Callback::from(move |_: MouseEvent| {
            cb.emit((Some(id.clone()), "human".to_owned(), kind.to_owned()))
        });
        html! { <button type="button" class="drill-link" data-drill={kind} {title} {onclick}>{text}</button> }
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
                            <td class="num score">{ drill(id, "discordant", fmt_score_opt(e.score)) }</td>
                            <td class="num">{fmt_score_opt(e.ci95.map(|c| c[0]))}</td>
                            <td class="num ci-high" title={e.few_inputs.then(|| format!("interval from {} inputs, fewer than {}: its coverage is well below 95%", e.inputs.unwrap_or(0), MIN_INPUTS_FOR_INTERVALS))}>{fmt_score_opt(e.ci95.map(|c| c[1]))}{ if e.few_inputs { "!" } else { "" } }</td>
                            <td class="num">{ drill(id, "concordant", e.concordant.to_string()) }</td>
                            <td class="num">{ drill(id, "discordant", e.discordant.to_string()) }</td>
                            <td class="num">{ drill(id, "tied", e.ties.to_string()) }</td>
                            <td class="num">{ drill(id, "dropped", e.dropped.to_string()) }</td>
                            <td class="num missing">{ drill(id, "missing", e.missing.to_string()) }</td>
                            <td class="num">{e.n_pairs}</td>
                            if let Some(j) = &agent.joint {
                                <td class="num joint">{
                                    match j.coefficients.get(id.as_str()) {
                                        Some(c) => format!("{} {}{}", fmt_score_opt(c.coefficient), c.ci95.map_or(String::new(), |[lo, hi]| format!("[{}, {}]", fmt_score_opt(Some(lo)), fmt_score_opt(Some(hi)))), if c.ci95.is_some() && j.few_inputs { "!" } else { "" }),
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
