//! What a widget shows, as plain values: a checked report and the embed
//! options in, a header, one view (factor scores, alignment or rankings) and
//! a footer out. Layout is numbers; text is report text, cut to a readable
//! length, which the renderer inserts as text only.

use crate::chart::fmt_score_opt as fmt_opt;
use crate::chart::{factor_chart, fmt_score, nice_extent, Chart, ChartOptions, Tick};
use crate::report::{Agent, Alignment, Report};

use super::{EmbedOptions, Theme, WidgetView};

/// At most this many factors are drawn or listed; the rest are counted.
pub const MAX_ROWS: usize = 40;
/// At most this many agents are compared beside the reference.
pub const MAX_AGENTS: usize = 5;
/// Longest names (dataset, agents, factors) shown, in characters.
pub const MAX_NAME: usize = 60;
/// A generous width of one character of chart text (12px), in CSS pixels:
/// labels are cut to what fits left of the plot.
const CHAR_W: f64 = 7.0;

/// A whole widget.
#[derive(Clone, Debug, PartialEq)]
pub struct Widget {
    pub view: WidgetView,
    pub theme: Theme,
    pub title: String,
    pub subtitle: String,
    pub body: Body,
    /// Which schema and program produced the report.
    pub footer: String,
}

/// The view's content.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Factors(FactorsModel),
    Alignment(AlignmentModel),
    Rankings(RankingsModel),
    /// Nothing to draw, and why.
    Message(String),
}

/// One agent's factor scores as the ranked bar chart.
#[derive(Clone, Debug, PartialEq)]
pub struct FactorsModel {
    pub agent: String,
    pub chart: Chart,
    /// Scored factors left out beyond [`MAX_ROWS`].
    pub hidden: usize,
    /// Requested factors the report could not score (they need a model), by name.
    pub skipped: Vec<String>,
    /// Factors that lost pairs to a missing value (failed extraction, or a
    /// judge's missing verdict), by name, with the number of pairs.
    pub missing: Vec<(String, u64)>,
    /// Factors whose interval comes from fewer than
    /// [`MIN_INPUTS_FOR_INTERVALS`](crate::stats::MIN_INPUTS_FOR_INTERVALS)
    /// inputs (`few_inputs`), by name.
    pub few_inputs: Vec<String>,
}

/// Agents compared with a reference: correlations and the scores side by side.
#[derive(Clone, Debug, PartialEq)]
pub struct AlignmentModel {
    pub reference: String,
    /// One row per alignment, as in the report (or computed, see `computed`).
    pub rows: Vec<AlignmentRow>,
    /// The report had no alignments; these were computed from its agents.
    pub computed: bool,
    pub chart: DotChart,
    /// For each judge among the agents: its agreement with the human labels
    /// in words, saying which figure compares across judges.
    pub agreements: Vec<String>,
    /// The report's guided-judging experiment, when it has one.
    pub guidance: Option<GuidanceModel>,
    /// The report's improvement experiment, when it has one.
    pub improvement: Option<Box<ImprovementModel>>,
}

/// A feedback-driven improvement experiment (the report's `improvement`
/// section): τ with the humans and with the evaluator per condition (the
/// paper's Table 3).
#[derive(Clone, Debug, PartialEq)]
pub struct ImprovementModel {
    pub title: String,
    /// Condition, pairs, τ with the humans, τ with the evaluator (with
    /// their intervals).
    pub rows: Vec<[String; 4]>,
    /// Says when the numbers are too few to mean much.
    pub note: Option<String>,
}

/// A guided-judging experiment (the report's `guidance` section): its
/// agreement chart and one sentence per guided condition
/// ([`summary::guidance`](crate::summary::guidance)).
#[derive(Clone, Debug, PartialEq)]
pub struct GuidanceModel {
    pub title: String,
    pub chart: crate::chart::GuidanceChart,
    pub lines: Vec<String>,
}

/// One alignment, with its numbers formatted.
#[derive(Clone, Debug, PartialEq)]
pub struct AlignmentRow {
    pub agent: String,
    pub reference: String,
    pub n_factors: usize,
    pub kendall_tau: String,
    pub spearman_rho: String,
    pub pearson_r: String,
}

/// Factor scores of several agents on one axis: a dot per agent, a line
/// spanning them per factor.
#[derive(Clone, Debug, PartialEq)]
pub struct DotChart {
    pub width: f64,
    pub height: f64,
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_top: f64,
    pub plot_bottom: f64,
    pub zero_x: f64,
    pub label_x: f64,
    pub ticks: Vec<Tick>,
    /// Agent names; series 0 is the reference.
    pub series: Vec<String>,
    pub rows: Vec<DotRow>,
    /// Factors of the reference left out beyond [`MAX_ROWS`].
    pub hidden: usize,
    pub summary: String,
}

/// One factor in a [`DotChart`].
#[derive(Clone, Debug, PartialEq)]
pub struct DotRow {
    pub factor: String,
    pub label: String,
    /// Centre line.
    pub y: f64,
    /// (series, x) for every agent with a score.
    pub dots: Vec<(usize, f64)>,
    /// Leftmost and rightmost dot.
    pub span: [f64; 2],
    pub description: String,
}

/// Every agent's rank of every factor.
#[derive(Clone, Debug, PartialEq)]
pub struct RankingsModel {
    /// Column heads; the first is the reference.
    pub agents: Vec<String>,
    pub rows: Vec<RankingRow>,
    /// Factors left out beyond [`MAX_ROWS`].
    pub hidden: usize,
}

/// One factor's ranks.
#[derive(Clone, Debug, PartialEq)]
pub struct RankingRow {
    pub factor: String,
    pub label: String,
    pub cells: Vec<RankCell>,
}

/// One agent's rank of a factor.
#[derive(Clone, Debug, PartialEq)]
pub struct RankCell {
    /// 1-based among the agent's scored factors; `None` if unscored.
    pub rank: Option<usize>,
    pub score: String,
    /// Places above (+) or below (−) the reference's rank.
    pub shift: Option<i64>,
}

/// Cuts text to `max` characters, with an ellipsis.
pub fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The display name of a factor id: the taxonomy's name, else the id.
pub fn factor_label(id: &str) -> String {
    short(&crate::factors::display_name(id), MAX_NAME)
}

/// On a narrow plot, keeps only the axis ends and zero, so labels never overlap.
fn thin_ticks(ticks: &mut Vec<Tick>, plot_width: f64) {
    if plot_width < 260.0 && ticks.len() == 5 {
        ticks.remove(3);
        ticks.remove(1);
    }
}

/// The reference agent: `human` if there is one, else the first.
pub fn reference(report: &Report) -> Option<&Agent> {
    report.agent("human").or(report.agents.first())
}

/// Lays out the widget for a checked report at a width in CSS pixels.
pub fn widget(report: &Report, opts: &EmbedOptions, width: f64) -> Widget {
    let width = if width.is_finite() {
        width.clamp(280.0, 1200.0)
    } else {
        640.0
    };
    let d = &report.dataset;
    let name = d.name.as_deref().filter(|n| !n.is_empty());
    let what = match opts.view {
        WidgetView::Factors => "Factor scores",
        WidgetView::Alignment => "Factor-level alignment",
        WidgetView::Rankings => "Factor rankings",
    };
    let title = match name {
        Some(n) => format!("{what} — {}", short(n, MAX_NAME)),
        None => what.to_owned(),
    };
    let mut sub = vec![
        format!("{} pairs", d.pairs),
        format!("{} inputs", d.inputs),
        format!("task {}", short(&report.config.task, 30)),
    ];
    if report.config.bootstrap_resamples > 0 {
        sub.push(format!(
            "95% intervals from {} resamples",
            report.config.bootstrap_resamples
        ));
        if d.inputs < crate::stats::MIN_INPUTS_FOR_INTERVALS {
            sub.push(format!(
                "! fewer than {} inputs: intervals cover well below 95%",
                crate::stats::MIN_INPUTS_FOR_INTERVALS
            ));
        }
    }
    if d.records_skipped > 0 {
        sub.push(format!("{} records skipped", d.records_skipped));
    }
    let body = if report.agents.is_empty() {
        Body::Message("This report has no agents, so there are no factor scores to show.".into())
    } else {
        match opts.view {
            WidgetView::Factors => factors(report, opts.agent.as_deref(), width),
            WidgetView::Alignment => alignment(report, width),
            WidgetView::Rankings => rankings(report),
        }
    };
    Widget {
        view: opts.view,
        theme: opts.theme,
        title,
        subtitle: sub.join(" · "),
        body,
        footer: format!(
            "PROFILE · {} · {}",
            short(&report.schema, 30),
            short(&report.generator, 40)
        ),
    }
}

fn factors(report: &Report, agent: Option<&str>, width: f64) -> Body {
    let a = match agent {
        Some(name) => match report.agent(name) {
            Some(a) => a,
            None => {
                return Body::Message(format!(
                    "This report has no agent named “{}”; it has {}.",
                    short(name, MAX_NAME),
                    agent_list(report)
                ))
            }
        },
        None => match reference(report) {
            Some(a) => a,
            None => return Body::Message("This report has no agents.".into()),
        },
    };
    let scored: Vec<&String> = a
        .ranking
        .iter()
        .filter(|id| a.factor_scores.get(*id).is_some_and(|e| e.score.is_some()))
        .collect();
    let hidden = scored.len().saturating_sub(MAX_ROWS);
    let shown = if hidden > 0 {
        let keep: Vec<String> = scored.iter().take(MAX_ROWS).map(|s| (*s).clone()).collect();
        Agent {
            factor_scores: a
                .factor_scores
                .iter()
                .filter(|(k, _)| keep.contains(k))
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            ranking: keep,
            ..a.clone()
        }
    } else {
        a.clone()
    };
    let mut chart = factor_chart(
        &shown,
        &ChartOptions {
            width,
            row_height: 28.0,
            title: format!("Factor scores of {}", short(&a.name, MAX_NAME)),
        },
    );
    let fit = ((chart.label_x - 4.0) / CHAR_W).floor().max(4.0) as usize;
    for r in &mut chart.rows {
        r.label = short(&r.label, fit.min(28));
    }
    thin_ticks(&mut chart.ticks, chart.plot_right - chart.plot_left);
    chart.unscored = chart.unscored.iter().map(|id| factor_label(id)).collect();
    Body::Factors(FactorsModel {
        agent: short(&a.name, MAX_NAME),
        chart,
        hidden,
        skipped: report
            .skipped_factors
            .iter()
            .take(MAX_ROWS)
            .map(|s| short(&factor_label(&s.id), 28))
            .collect(),
        missing: a
            .ranking
            .iter()
            .filter_map(|id| {
                let m = a.factor_scores.get(id)?.missing;
                (m > 0).then(|| (short(&factor_label(id), 28), m))
            })
            .take(MAX_ROWS)
            .collect(),
        few_inputs: a
            .ranking
            .iter()
            .filter(|id| a.factor_scores.get(*id).is_some_and(|e| e.few_inputs))
            .take(MAX_ROWS)
            .map(|id| short(&factor_label(id), 28))
            .collect(),
    })
}

/// A judge's agreement with the human labels in words: in both orders the
/// order-averaged figure first (each verdict on its own, a position flip one
/// half; the one comparable across judges), then the strict one, genuine ties
/// and position flips; in single order the one figure and the ties. `None`
/// for agents that are not judges or have no agreement.
pub fn agreement_text(agent: &Agent) -> Option<String> {
    let run = agent.run.as_ref().filter(|r| r.kind == "judge")?;
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    let name = short(&agent.name, MAX_NAME);
    if run.both_orders {
        let avg = run.agreement_order_averaged?;
        Some(format!(
            "{name}: agreement with the human labels {} order-averaged (each verdict on its own, a position flip counts one half; comparable across judges), {} strict; position flips {}, ties {}.",
            pct(avg),
            run.agreement.map_or("—".into(), pct),
            run.flipped_share.map_or("—".into(), pct),
            run.tie_rate.map_or("—".into(), pct),
        ))
    } else {
        Some(format!(
            "{name}: agreement with the human labels {} (one order per pair, chosen at random; comparable with other judges' order-averaged agreement); ties {}.",
            pct(run.agreement?),
            run.tie_rate.map_or("—".into(), pct),
        ))
    }
}

fn agent_list(report: &Report) -> String {
    let names: Vec<String> = report
        .agents
        .iter()
        .take(5)
        .map(|a| format!("“{}”", short(&a.name, 30)))
        .collect();
    let more = report.agents.len().saturating_sub(5);
    if more > 0 {
        format!("{} and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}

fn alignment(report: &Report, width: f64) -> Body {
    let Some(reference) = reference(report) else {
        return Body::Message("This report has no agents.".into());
    };
    let others: Vec<&Agent> = report
        .agents
        .iter()
        .filter(|a| !std::ptr::eq(*a, reference))
        .collect();
    if others.is_empty() && report.alignments.is_empty() {
        return Body::Message(format!(
            "This report has one agent (“{}”). Alignment compares the factor scores of two agents, for example human annotators and a model as judge; this report has nothing to compare.",
            short(&reference.name, MAX_NAME)
        ));
    }
    let computed = report.alignments.is_empty();
    let alignments: Vec<Alignment> = if computed {
        let reference_scores = reference.score_map();
        others
            .iter()
            .map(|a| {
                Alignment::between(&a.name, &a.score_map(), &reference.name, &reference_scores)
            })
            .collect()
    } else {
        report.alignments.clone()
    };
    let rows = alignments
        .iter()
        .take(MAX_ROWS)
        .map(|a| AlignmentRow {
            agent: short(&a.agent, MAX_NAME),
            reference: short(&a.reference, MAX_NAME),
            n_factors: a.n_factors,
            kendall_tau: fmt_opt(a.kendall_tau),
            spearman_rho: fmt_opt(a.spearman_rho),
            pearson_r: fmt_opt(a.pearson_r),
        })
        .collect();
    let mut series = vec![reference];
    series.extend(others.iter().take(MAX_AGENTS));
    Body::Alignment(AlignmentModel {
        reference: short(&reference.name, MAX_NAME),
        rows,
        computed,
        chart: dot_chart(&series, width),
        agreements: others
            .iter()
            .take(MAX_ROWS)
            .filter_map(|a| agreement_text(a))
            .collect(),
        improvement: report.improvement.as_ref().map(|s| {
            let tau = |t: Option<f64>, ci: Option<[f64; 2]>| match (t, ci) {
                (Some(t), Some([lo, hi])) => {
                    format!("{} [{}, {}]", fmt_score(t), fmt_score(lo), fmt_score(hi))
                }
                (t, _) => fmt_opt(t),
            };
            Box::new(ImprovementModel {
                title: format!(
                    "Feedback-driven improvement, writer {}, evaluator {}: {} of {} inputs",
                    short(&s.writer, MAX_NAME),
                    short(&s.evaluator, MAX_NAME),
                    s.inputs,
                    s.inputs_planned
                ),
                rows: s
                    .conditions
                    .iter()
                    .take(MAX_ROWS)
                    .map(|c| {
                        [
                            short(&c.condition, MAX_NAME),
                            c.pairs.to_string(),
                            tau(c.kendall_tau_human, c.kendall_tau_human_ci95),
                            tau(c.kendall_tau_evaluator, c.kendall_tau_evaluator_ci95),
                        ]
                    })
                    .collect(),
                note: s.too_few.then(|| {
                    "Too few inputs or factors to mean much: a trial run, not a result.".into()
                }),
            })
        }),
        guidance: report.guidance.as_ref().map(|g| {
            let mut chart = crate::chart::guidance_chart(g, width, 28.0);
            let fit = ((chart.label_x - 4.0) / CHAR_W).floor().max(4.0) as usize;
            for r in &mut chart.rows {
                r.label = short(&r.label, fit.min(40));
            }
            GuidanceModel {
                title: format!(
                    "Guided judging, {}: agreement with people on {} pairs of {} inputs",
                    short(&g.model, MAX_NAME),
                    g.pairs,
                    g.inputs
                ),
                chart,
                lines: crate::summary::guidance(g),
            }
        }),
    })
}

/// Lays out the dot chart of several agents' scores, factors in the first
/// agent's ranking order.
pub fn dot_chart(agents: &[&Agent], width: f64) -> DotChart {
    let reference = agents[0];
    let factors: Vec<&String> = reference
        .ranking
        .iter()
        .filter(|id| {
            reference
                .factor_scores
                .get(*id)
                .is_some_and(|e| e.score.is_some())
        })
        .collect();
    let hidden = factors.len().saturating_sub(MAX_ROWS);
    let factors = &factors[..factors.len() - hidden];
    let score = |a: &Agent, id: &str| a.factor_scores.get(id).and_then(|e| e.score);
    let max_abs = factors
        .iter()
        .flat_map(|id| agents.iter().filter_map(|a| score(a, id)))
        .fold(0.0f64, |m, s| m.max(s.abs()));
    let extent = nice_extent(max_abs);
    // Room for the longest label, up to 28 characters and 42% of the width.
    let longest = factors
        .iter()
        .map(|id| factor_label(id).chars().count().min(28))
        .max()
        .unwrap_or(4) as f64;
    let label_w = (longest * CHAR_W + 6.0).clamp(60.0, (width * 0.42).max(60.0));
    let fit = ((label_w - 4.0) / CHAR_W).floor().max(4.0) as usize;
    let plot_left = label_w + 8.0;
    let plot_right = width - 16.0;
    let top = 8.0;
    let rh = 26.0;
    let plot_bottom = top + rh * factors.len().max(1) as f64;
    let to_x = |v: f64| {
        plot_left + (v.clamp(-extent, extent) + extent) / (2.0 * extent) * (plot_right - plot_left)
    };
    let rows = factors
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let dots: Vec<(usize, f64)> = agents
                .iter()
                .enumerate()
                .filter_map(|(si, a)| Some((si, to_x(score(a, id)?))))
                .collect();
            let lo = dots.iter().map(|d| d.1).fold(f64::INFINITY, f64::min);
            let hi = dots.iter().map(|d| d.1).fold(f64::NEG_INFINITY, f64::max);
            let label = factor_label(id);
            let parts: Vec<String> = agents
                .iter()
                .map(|a| format!("{} {}", short(&a.name, MAX_NAME), fmt_opt(score(a, id))))
                .collect();
            DotRow {
                factor: (*id).clone(),
                description: format!("{label}: {}", parts.join(", ")),
                label: short(&label, fit),
                y: top + rh * i as f64 + rh / 2.0,
                dots,
                span: [lo, hi],
            }
        })
        .collect::<Vec<_>>();
    let ticks = [-1.0, -0.5, 0.0, 0.5, 1.0]
        .into_iter()
        .map(|t| Tick {
            x: to_x(t * extent),
            label: if t == 0.0 {
                "0".into()
            } else {
                fmt_score(t * extent).trim_start_matches('+').to_owned()
            },
        })
        .collect::<Vec<_>>();
    let mut ticks = ticks;
    thin_ticks(&mut ticks, plot_right - plot_left);
    let series: Vec<String> = agents.iter().map(|a| short(&a.name, MAX_NAME)).collect();
    let summary = format!(
        "Factor scores of {} on {} factors, in the order of {}'s ranking.",
        series.join(", "),
        rows.len(),
        series[0]
    );
    DotChart {
        width,
        height: plot_bottom + 28.0,
        plot_left,
        plot_right,
        plot_top: top,
        plot_bottom,
        zero_x: to_x(0.0),
        label_x: label_w,
        ticks,
        series,
        rows,
        hidden,
        summary,
    }
}

fn rankings(report: &Report) -> Body {
    let Some(reference) = reference(report) else {
        return Body::Message("This report has no agents.".into());
    };
    let mut agents = vec![reference];
    agents.extend(
        report
            .agents
            .iter()
            .filter(|a| !std::ptr::eq(*a, reference))
            .take(MAX_AGENTS),
    );
    // Ranks among scored factors, per agent.
    let ranks: Vec<Vec<&String>> = agents
        .iter()
        .map(|a| {
            a.ranking
                .iter()
                .filter(|id| a.factor_scores.get(*id).is_some_and(|e| e.score.is_some()))
                .collect()
        })
        .collect();
    let rank_of = |ai: usize, id: &str| ranks[ai].iter().position(|x| *x == id).map(|p| p + 1);
    // Factors: the reference's ranking, then what others add.
    let mut factors: Vec<&String> = Vec::new();
    for a in &agents {
        for id in &a.ranking {
            if !factors.contains(&id) {
                factors.push(id);
            }
        }
    }
    let hidden = factors.len().saturating_sub(MAX_ROWS);
    factors.truncate(MAX_ROWS);
    let rows = factors
        .iter()
        .map(|id| {
            let reference_rank = rank_of(0, id);
            RankingRow {
                factor: (*id).clone(),
                label: short(&factor_label(id), 28),
                cells: agents
                    .iter()
                    .enumerate()
                    .map(|(ai, a)| {
                        let rank = rank_of(ai, id);
                        RankCell {
                            rank,
                            score: fmt_opt(a.factor_scores.get(*id).and_then(|e| e.score)),
                            shift: match (ai, rank, reference_rank) {
                                (0, _, _) => None,
                                (_, Some(r), Some(h)) => Some(h as i64 - r as i64),
                                _ => None,
                            },
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    Body::Rankings(RankingsModel {
        agents: agents.iter().map(|a| short(&a.name, MAX_NAME)).collect(),
        rows,
        hidden,
    })
}

/// A height in CSS pixels that shows the whole widget without scrolling (for
/// an iframe, which cannot size itself to its content).
pub fn suggested_height(w: &Widget) -> u32 {
    // Card padding and border, title, subtitle, footer, and some slack for
    // fonts wider than the layout's estimate.
    let chrome = 24.0 + 26.0 + 40.0 + 28.0 + 12.0;
    let body = match &w.body {
        Body::Factors(f) => {
            let svg = f.chart.height - (f.chart.plot_top - 8.0);
            svg + if f.chart.unscored.is_empty() && f.hidden == 0 {
                0.0
            } else {
                44.0
            } + if f.missing.is_empty() { 0.0 } else { 44.0 }
        }
        Body::Alignment(a) => {
            let chart = a.chart.height + 30.0 + if a.chart.hidden > 0 { 22.0 } else { 0.0 };
            // The guidance chart, its title and caption, and its sentences
            // (up to three lines each).
            let guidance = a.guidance.as_ref().map_or(0.0, |g| {
                g.chart.height + 40.0 + 40.0 + 66.0 * g.lines.len() as f64
            });
            let improvement = a.improvement.as_ref().map_or(0.0, |m| {
                40.0 + 36.0 + 34.0 * m.rows.len() as f64 + if m.note.is_some() { 44.0 } else { 0.0 }
            });
            chart
                + improvement
                + 36.0
                + 34.0 * a.rows.len() as f64
                + 30.0
                + 66.0 * a.agreements.len() as f64
                + guidance
        }
        Body::Rankings(r) => 40.0 + 34.0 * r.rows.len() as f64 + 30.0,
        Body::Message(m) => 40.0 + 22.0 * (m.len() as f64 / 60.0).ceil(),
    };
    (chrome + body).ceil().clamp(120.0, 4000.0) as u32
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::FactorScoreEntry;
    use crate::stats::Setting;

    pub(crate) fn example() -> Report {
        let ds = crate::data::load_bytes(
            include_bytes!("../../www/example/example.jsonl"),
            Default::default(),
        )
        .unwrap();
        let cfg = crate::analysis::ScoreConfig::for_task(crate::factors::Task::Summarization);
        crate::analysis::score_report(
            &ds,
            &cfg,
            &crate::analysis::DatasetInfo {
                name: Some("example.jsonl".into()),
                label: None,
                sample: None,
            },
        )
    }

    /// The example with a second agent whose scores are shifted.
    pub(crate) fn two_agents() -> Report {
        let mut r = example();
        let mut judge = r.agents[0].clone();
        judge.name = "judge <b>".into();
        judge.setting = Setting::Evaluation;
        for (i, e) in judge.factor_scores.values_mut().enumerate() {
            e.score = e
                .score
                .map(|s| (s * 0.5 + 0.3 - 0.2 * i as f64).clamp(-1.0, 1.0));
        }
        judge.ranking = crate::report::ranking(&judge.factor_scores);
        r.agents.push(judge);
        r
    }

    fn opts(view: WidgetView) -> EmbedOptions {
        EmbedOptions {
            view,
            ..Default::default()
        }
    }

    #[test]
    fn factors_view_is_the_reference_agents_chart() {
        let r = example();
        let w = widget(&r, &opts(WidgetView::Factors), 600.0);
        assert_eq!(w.title, "Factor scores — example.jsonl");
        assert!(w.subtitle.starts_with("45 pairs · "), "{}", w.subtitle);
        let Body::Factors(f) = &w.body else {
            panic!("{:?}", w.body)
        };
        let scored = r.agents[0]
            .factor_scores
            .values()
            .filter(|e| e.score.is_some())
            .count();
        assert_eq!(f.chart.rows.len(), scored);
        assert_eq!(f.chart.width, 600.0);
        assert_eq!(f.skipped.len(), r.skipped_factors.len());
        assert!(f.skipped.contains(&"# facts".to_owned()));
        assert_eq!(w.footer, "PROFILE · profile-report/1 · profile 0.1.0");
        let h = suggested_height(&w);
        assert!((200..600).contains(&h), "{h}");
    }

    #[test]
    fn factors_view_of_a_named_agent_or_a_message() {
        let r = two_agents();
        let mut o = opts(WidgetView::Factors);
        o.agent = Some("judge <b>".into());
        let Body::Factors(f) = widget(&r, &o, 500.0).body else {
            panic!()
        };
        assert_eq!(f.agent, "judge <b>");
        o.agent = Some("nobody".into());
        let Body::Message(m) = widget(&r, &o, 500.0).body else {
            panic!()
        };
        assert_eq!(
            m,
            "This report has no agent named “nobody”; it has “human”, “judge <b>”."
        );
    }

    #[test]
    fn alignment_is_computed_from_agents_when_the_report_has_none() {
        let r = two_agents();
        let Body::Alignment(a) = widget(&r, &opts(WidgetView::Alignment), 640.0).body else {
            panic!()
        };
        assert!(a.computed);
        assert_eq!(a.reference, "human");
        assert_eq!(a.rows.len(), 1);
        assert_eq!(a.rows[0].agent, "judge <b>");
        let expected = Alignment::between(
            "judge <b>",
            &r.agents[1].score_map(),
            "human",
            &r.agents[0].score_map(),
        );
        assert_eq!(a.rows[0].kendall_tau, fmt_opt(expected.kendall_tau));
        assert_eq!(a.chart.series, ["human", "judge <b>"]);
        let row = &a.chart.rows[0];
        assert_eq!(row.dots.len(), 2);
        assert!(row.span[0] <= row.span[1]);
        assert!(row
            .dots
            .iter()
            .all(|d| (a.chart.plot_left..=a.chart.plot_right).contains(&d.1)));
        // On a phone, labels are cut to fit left of the plot.
        let Body::Alignment(narrow) = widget(&r, &opts(WidgetView::Alignment), 300.0).body else {
            panic!()
        };
        assert!(narrow
            .chart
            .rows
            .iter()
            .all(|row| row.label.chars().count() as f64 * CHAR_W <= narrow.chart.label_x));
        // One agent: a message, not an empty chart.
        let Body::Message(m) = widget(&example(), &opts(WidgetView::Alignment), 640.0).body else {
            panic!()
        };
        assert!(m.starts_with("This report has one agent (“human”)"), "{m}");
    }

    #[test]
    fn alignments_in_the_report_are_shown_as_they_are() {
        let mut r = two_agents();
        r.alignments = vec![Alignment {
            agent: "judge <b>".into(),
            reference: "human".into(),
            factors: vec![],
            n_factors: 7,
            kendall_tau: Some(0.5),
            spearman_rho: None,
            pearson_r: Some(-0.25),
            ..Default::default()
        }];
        let Body::Alignment(a) = widget(&r, &opts(WidgetView::Alignment), 640.0).body else {
            panic!()
        };
        assert!(!a.computed);
        assert_eq!(
            (
                a.rows[0].n_factors,
                a.rows[0].kendall_tau.as_str(),
                a.rows[0].spearman_rho.as_str(),
                a.rows[0].pearson_r.as_str()
            ),
            (7, "+0.500", "—", "−0.250")
        );
    }

    #[test]
    fn judges_agreement_and_missing_values_are_shown() {
        let mut r = two_agents();
        r.agents[1].run = Some(crate::report::AgentRun {
            kind: "judge".into(),
            both_orders: true,
            agreement: Some(0.0),
            agreement_order_averaged: Some(0.5),
            tie_rate: Some(0.0),
            flipped_share: Some(1.0),
            ..Default::default()
        });
        let Body::Alignment(a) = widget(&r, &opts(WidgetView::Alignment), 640.0).body else {
            panic!()
        };
        assert_eq!(
            a.agreements,
            ["judge <b>: agreement with the human labels 50% order-averaged (each verdict on its own, a position flip counts one half; comparable across judges), 0% strict; position flips 100%, ties 0%."]
        );
        let run = r.agents[1].run.as_mut().unwrap();
        run.both_orders = false;
        run.agreement = Some(0.55);
        let Body::Alignment(a) = widget(&r, &opts(WidgetView::Alignment), 640.0).body else {
            panic!()
        };
        assert!(a.agreements[0].starts_with("judge <b>: agreement with the human labels 55% (one order per pair, chosen at random;"), "{:?}", a.agreements);
        // A factor that lost pairs to failed extraction says how many.
        let e = r.agents[0].factor_scores.get_mut("length").unwrap();
        e.missing = 3;
        let Body::Factors(f) = widget(&r, &opts(WidgetView::Factors), 640.0).body else {
            panic!()
        };
        assert_eq!(f.missing, [("length".to_owned(), 3)]);
        let row = f.chart.rows.iter().find(|x| x.factor == "length").unwrap();
        assert!(
            row.description
                .contains(", 3 missing (a value could not be obtained) of"),
            "{}",
            row.description
        );
        let text = crate::embed::dom::render(&widget(&r, &opts(WidgetView::Factors), 640.0))
            .text_content();
        assert!(
            text.contains("Pairs not compared because a value is missing"),
            "{text}"
        );
    }

    #[test]
    fn rankings_show_every_agents_rank_and_the_shift() {
        let r = two_agents();
        let Body::Rankings(k) = widget(&r, &opts(WidgetView::Rankings), 640.0).body else {
            panic!()
        };
        assert_eq!(k.agents, ["human", "judge <b>"]);
        let first = &k.rows[0];
        assert_eq!(first.factor, r.agents[0].ranking[0]);
        assert_eq!(first.cells[0].rank, Some(1));
        assert_eq!(first.cells[0].shift, None);
        let judge_rank = r.agents[1]
            .ranking
            .iter()
            .position(|f| *f == first.factor)
            .unwrap()
            + 1;
        assert_eq!(first.cells[1].rank, Some(judge_rank));
        assert_eq!(first.cells[1].shift, Some(1 - judge_rank as i64));
    }

    #[test]
    fn huge_reports_are_cut_and_counted() {
        let mut r = example();
        let a = &mut r.agents[0];
        for i in 0..100 {
            a.factor_scores.insert(
                format!("custom_{i:03}_{}", "x".repeat(100)),
                FactorScoreEntry {
                    score: Some(i as f64 / 100.0),
                    ci95: None,
                    concordant: 1,
                    discordant: 0,
                    ties: 0,
                    dropped: 0,
                    missing: 0,
                    n_pairs: 1,
                    ..Default::default()
                },
            );
        }
        a.ranking = crate::report::ranking(&a.factor_scores);
        r.dataset.name = Some("n".repeat(500));
        for v in WidgetView::ALL {
            let w = widget(&r, &opts(v), 320.0);
            assert!(w.title.chars().count() < 100);
            match &w.body {
                Body::Factors(f) => {
                    assert_eq!(f.chart.rows.len(), MAX_ROWS);
                    assert_eq!(
                        f.chart
                            .ticks
                            .iter()
                            .map(|t| t.label.as_str())
                            .collect::<Vec<_>>(),
                        ["−1.000", "0", "1.000"]
                    );
                    assert!(f.hidden > 60);
                    assert!(f.chart.rows.iter().all(|r| r.label.chars().count() <= 28));
                }
                Body::Rankings(k) => assert_eq!(k.rows.len(), MAX_ROWS),
                Body::Message(_) => assert_eq!(v, WidgetView::Alignment),
                Body::Alignment(_) => panic!("one agent"),
            }
            assert!(suggested_height(&w) <= 4000);
        }
    }

    #[test]
    fn no_agents_or_odd_widths_never_panic() {
        let mut r = example();
        r.agents.clear();
        for v in WidgetView::ALL {
            for width in [f64::NAN, -5.0, 0.0, 1e9] {
                let w = widget(&r, &opts(v), width);
                assert!(matches!(w.body, Body::Message(_)));
            }
        }
        let mut r = example();
        r.agents[0].ranking.clear();
        for v in WidgetView::ALL {
            let _ = widget(&r, &opts(v), 300.0);
        }
    }
}
