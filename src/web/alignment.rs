//! The alignment report: every model agent (judge or writer) beside the
//! humans — a table of rank correlations and judge statistics, the factor
//! rankings side by side with lines joining the same factor, and a factor ×
//! agent heatmap. Layout comes from the pure `chart` module; every text is a
//! text node.

use std::rc::Rc;

use yew::prelude::*;

use crate::chart::{heatmap, ranking_chart, Heatmap, RankingChart};
use crate::report::{Agent, Alignment, Report};

#[derive(Properties, PartialEq)]
pub struct AlignmentProps {
    pub report: Rc<Report>,
    /// Open the pairs behind a number: (factor, agent, kind).
    #[prop_or_default]
    pub on_drill: Callback<(Option<String>, String, String)>,
}

use crate::chart::fmt_score_opt;

fn pct(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| format!("{:.0}%", v * 100.0))
}

fn with_ci(x: Option<f64>, ci: Option<[f64; 2]>, p: Option<f64>) -> String {
    let mut s = fmt_score_opt(x);
    if let Some([lo, hi]) = ci {
        s += &format!(
            " [{}, {}]",
            fmt_score_opt(Some(lo)),
            fmt_score_opt(Some(hi))
        );
    }
    if let Some(p) = p {
        s += &if p < 0.001 {
            " p<0.001".to_owned()
        } else {
            format!(" p={p:.3}")
        };
    }
    s
}

fn row(
    a: &Agent,
    al: Option<&Alignment>,
    on_drill: &Callback<(Option<String>, String, String)>,
) -> Html {
    let run = a.run.as_ref();
    let judge = a.setting == crate::stats::Setting::Evaluation;
    let both = judge && run.is_some_and(|r| r.both_orders);
    let items = run.map_or("—".into(), |r| {
        format!(
            "{} / {} {}",
            r.items,
            r.items_planned,
            if judge { "pairs" } else { "inputs" }
        )
    });
    html! {
        <>
        <tr data-agent={a.name.clone()}>
            <th scope="row">{a.name.clone()}</th>
            <td>{ if judge { "judge" } else { "writer" } }</td>
            <td class="num tau">{with_ci(al.and_then(|x| x.kendall_tau), al.and_then(|x| x.kendall_tau_ci95), al.and_then(|x| x.kendall_tau_p))}</td>
            <td class="num">{with_ci(al.and_then(|x| x.spearman_rho), al.and_then(|x| x.spearman_rho_ci95), al.and_then(|x| x.spearman_rho_p))}</td>
            <td class="num">{with_ci(al.and_then(|x| x.pearson_r), al.and_then(|x| x.pearson_r_ci95), al.and_then(|x| x.pearson_r_p))}</td>
            <td class="num">{al.map_or(0, |x| x.n_factors)}</td>
            <td class="num agreement" title={agreement_title(run)}>{ if judge { pct(run.and_then(|r| r.agreement_order_averaged.or(r.agreement))) } else { "—".into() } }</td>
            <td class="drill">
                if judge {
                    <button type="button" class="drill-link" data-drill="disagrees" onclick={{
                        let (cb, name) = (on_drill.clone(), a.name.clone());
                        Callback::from(move |_: MouseEvent| cb.emit((None, name.clone(), "disagrees".to_owned())))
                    }}>{"disagreements"}</button>
                }
            </td>
            <td class="num strict">{ if both { pct(run.and_then(|r| r.agreement)) } else { "—".into() } }</td>
            <td class="num ties">{ if judge { pct(run.and_then(|r| r.tie_rate)) } else { "—".into() } }</td>
            <td class="num flips">{ if both { pct(run.and_then(|r| r.flipped_share)) } else { "—".into() } }</td>
            <td class="num consistency">{ if both { pct(run.and_then(|r| r.position_consistency)) } else { "—".into() } }</td>
            <td class="num">{items}</td>
            <td class="num">{run.map_or(0, |r| r.failed)}</td>
        </tr>
        if let Some(reference) = al.and_then(|x| x.reference_scores.as_ref()) {
            <tr class="reference-scores" data-agent={a.name.clone()}>
                <td colspan="13" class="muted small">
                    {format!("Ran on a sample{}: compared with the human scores on those pairs — {}.",
                        run.and_then(|r| r.pairs_covered.as_deref()).map_or(String::new(), |l| format!(" (lines {l})")),
                        reference.iter().map(|(f, s)| format!("{} {}", crate::factors::display_name(f), fmt_score_opt(*s))).collect::<Vec<_>>().join(", "))}
                </td>
            </tr>
        }
        </>
    }
}

/// How a judge's agreement figure was counted (the cell's tooltip).
fn agreement_title(run: Option<&crate::report::AgentRun>) -> String {
    match run {
        Some(r) if r.both_orders => "order-averaged: each verdict on its own, so a position flip counts one half; comparable with single-order judges".into(),
        Some(r) => match r.order_seed {
            Some(seed) => format!("one order per pair, chosen by a coin flip (seed {seed}); comparable with the order-averaged agreement of both-order judges"),
            None => "one order per pair".into(),
        },
        None => String::new(),
    }
}

fn summary_list(r: &Report) -> Html {
    let lines = crate::summary::summarize(r);
    if lines.is_empty() {
        return html! {};
    }
    html! {
        <ul id="plain-summary" class="plain-summary">
            { for lines.into_iter().map(|l| html! { <li>{l}</li> }) }
        </ul>
    }
}

/// The plain-language summary alone, for reports with only the human agent.
#[function_component(SummaryText)]
pub fn summary_text(p: &AlignmentProps) -> Html {
    if p.report.agents.len() > 1 {
        return html! {};
    }
    let lines = crate::summary::summarize(&p.report);
    if lines.is_empty() {
        return html! {};
    }
    html! {
        <section class="panel" aria-label="In plain words">
            <ul id="plain-summary" class="plain-summary">
                { for lines.into_iter().map(|l| html! { <li>{l}</li> }) }
            </ul>
        </section>
    }
}

#[function_component(AlignmentPanel)]
pub fn alignment_panel(p: &AlignmentProps) -> Html {
    let r = &p.report;
    if r.agents.len() < 2 {
        return html! {};
    }
    let models: Vec<&Agent> = r
        .agents
        .iter()
        .filter(|a| a.setting != crate::stats::Setting::Human)
        .collect();
    let rank = ranking_chart(&r.agents, 180.0, 26.0);
    let heat = heatmap(&r.agents, 150.0, 26.0);
    html! {
        <section class="panel" id="alignment" aria-labelledby="align-h">
            <h2 id="align-h">{"Humans and models, factor by factor"}</h2>
            { summary_list(r) }
            if r.config.bootstrap_resamples > 0 && r.dataset.inputs < crate::stats::MIN_INPUTS_FOR_INTERVALS {
                <p class="muted small few-inputs">{format!("! {} inputs, fewer than {}: the intervals below cover well below 95%.", r.dataset.inputs, crate::stats::MIN_INPUTS_FOR_INTERVALS)}</p>
            }
            <p class="muted">{"Alignment = correlation between a model's factor scores and the humans' over the factors both scored (Kendall τ_b, Spearman ρ, Pearson r). Judges: agreement with the human label (a judge tie counts as disagreement). For a judge shown both orders, “agreement” is order-averaged — each verdict on its own, so a position flip (the same position named in both orders) counts one half — and is the figure comparable with a single-order judge's; “strict” counts a flip as a disagreement. Ties are genuine ties (a tie in both orders), apart from position flips; “same both orders” is the share of pairs with the same verdict in both orders. A single-order judge sees each pair in an order picked by a seeded coin flip, never the dataset's order."}</p>
            <div class="table-wrap">
                <table id="alignment-table">
                    <thead><tr>
                        <th scope="col">{"model"}</th><th scope="col">{"as"}</th>
                        <th scope="col" title="Kendall τ_b [95% bootstrap CI over inputs] and permutation p-value">{"τ_b"}</th><th scope="col">{"ρ"}</th><th scope="col">{"r"}</th><th scope="col">{"factors"}</th>
                        <th scope="col" title="order-averaged for judges shown both orders (a position flip counts one half): comparable across judges">{"agreement"}</th><th scope="col" title="the pairs where the judge's verdict is not the people's label, listed">{"pairs"}</th><th scope="col" title="both orders: a position flip counts as a disagreement">{"strict"}</th><th scope="col" title="the judge said tie (in both orders)">{"ties"}</th><th scope="col" title="both orders: the same position named both times">{"position flips"}</th><th scope="col">{"same both orders"}</th>
                        <th scope="col">{"covered"}</th><th scope="col">{"failed"}</th>
                    </tr></thead>
                    <tbody>
                        { for models.iter().map(|a| row(a, r.alignments.iter().find(|al| al.agent == a.name), &p.on_drill)) }
                    </tbody>
                </table>
            </div>
            <h3>{"Factor rankings"}</h3>
            { ranking_figure(&rank) }
            <h3>{"Factor scores by agent"}</h3>
            { heatmap_figure(&heat) }
        </section>
    }
}

/// The factor rankings side by side, lines joining the same factor.
pub fn ranking_figure(rank: &RankingChart) -> Html {
    html! {
        <>
        if rank.columns.len() < 2 || rank.items.is_empty() {
            <p class="muted" id="ranking-empty">{"No factor is scored by the humans and a model yet, so there is no ranking to compare."}</p>
        } else {
        <figure class="chart-scroll">
            <svg id="ranking-chart" viewBox={format!("0 0 {} {}", rank.width, rank.height)} width={rank.width.to_string()} role="img" aria-labelledby="rank-title rank-desc" class="chart ranking">
                <title id="rank-title">{"Factor rankings of people and models"}</title>
                <desc id="rank-desc">{rank.summary.clone()}</desc>
                { for rank.columns.iter().map(|c| html! {
                    <g class="rank-head">
                        <text x={c.x.to_string()} y="16" text-anchor="middle" class="label">{c.agent.clone()}</text>
                        <text x={c.x.to_string()} y="32" text-anchor="middle" class="muted-text">{c.role.clone()}</text>
                    </g>
                }) }
                { for rank.links.iter().map(|l| html! {
                    <line x1={l.x1.to_string()} y1={l.y1.to_string()} x2={l.x2.to_string()} y2={l.y2.to_string()} class={if l.up { "link up" } else { "link down" }} data-factor={l.factor.clone()} />
                }) }
                { for rank.items.iter().map(|i| html! {
                    <g class="rank-item" tabindex="0" aria-label={i.description.clone()} data-factor={i.factor.clone()} data-column={i.column.to_string()}>
                        <title>{i.description.clone()}</title>
                        <text x={i.x.to_string()} y={i.y.to_string()} text-anchor="middle" dominant-baseline="middle">{format!("{}. {}", i.rank, i.label)}</text>
                    </g>
                }) }
            </svg>
        </figure>
        }
        </>
    }
}

/// The factor × agent heatmap.
pub fn heatmap_figure(heat: &Heatmap) -> Html {
    html! {
        <figure class="chart-scroll">
            <svg id="heatmap" viewBox={format!("0 0 {} {}", heat.width, heat.height)} width={heat.width.to_string()} role="img" aria-label="Factor scores of every agent: blue when the agent prefers more of the factor, red when less" class="chart heatmap">
                { for heat.cols.iter().map(|(name, role, x)| html! {
                    <g>
                        <text x={x.to_string()} y="16" text-anchor="middle" class="label">{name.clone()}</text>
                        <text x={x.to_string()} y="32" text-anchor="middle" class="muted-text">{role.clone()}</text>
                    </g>
                }) }
                { for heat.rows.iter().map(|(_, label, y)| html! {
                    <text x={(heat.label_width - 8.0).to_string()} y={y.to_string()} text-anchor="end" dominant-baseline="middle" class="label">{label.clone()}</text>
                }) }
                { for heat.cells.iter().map(|c| html! {
                    <g class="cell" data-factor={c.factor.clone()} data-agent={c.agent.clone()}>
                        <title>{format!("{} — {}: {}", c.agent, c.factor, c.text)}</title>
                        <rect x={c.x.to_string()} y={c.y.to_string()} width={(heat.cell_width - 2.0).to_string()} height={(heat.cell_height - 2.0).to_string()} fill={c.fill.clone()} rx="3" />
                        <text x={(c.x + heat.cell_width / 2.0).to_string()} y={(c.y + heat.cell_height / 2.0).to_string()} text-anchor="middle" dominant-baseline="middle" class={if c.dark_text { "cell-text" } else { "cell-text light" }}>{c.text.clone()}</text>
                    </g>
                }) }
            </svg>
        </figure>
    }
}
