//! Feedback-driven improvement (METHOD.md §8, the paper's RQ3): for each
//! input the writer writes two responses, the evaluator picks the better one
//! (or a tie) and justifies it, and the writer writes an improved response
//! from both and the feedback. Baselines: improved from both without
//! feedback (`both`), and each response improved alone without feedback
//! (`single`, two improved responses).
//!
//! Each condition becomes an agent in the **improvement setting** (METHOD.md
//! §1–2): every (initial, improved) pair with the improved response
//! preferred, factor ties counted in T. Its factor scores are correlated
//! (Kendall τ_b, paired cluster-bootstrap interval over the inputs) with the
//! humans' and with the evaluator's, whose judge agent on the dataset is run
//! in the same workflow (`workflow::Kind::Improve`; cached when `profile
//! judge` ran before).
//!
//! Pure: [`improvement_report`] turns a finished run ([`Improved`]) into the
//! agents and the report's `improvement` section, for the CLI and the worker.

use crate::agents::{improvement_agent, judge_agent, judge_side, HumanSide};
use crate::analysis::{LlmValues, ScoreConfig};
use crate::data::Dataset;
use crate::llm::roles::{Condition, Improvement};
use crate::report::{Agent, Alignment, ImprovementCondition, ImprovementItem, ImprovementSection};
use crate::stats::MIN_INPUTS_FOR_INTERVALS;
use crate::workflow::Improved;

/// Below this many factors correlated, a τ means little.
pub const MIN_FACTORS_FOR_TAU: usize = 5;

/// What an improvement run adds to a report.
pub struct ImproveResult {
    /// The evaluator as a judge of the dataset's pairs (added to the report
    /// when it has no agent of that name).
    pub judge: (Agent, Alignment),
    /// One agent per condition with pairs, with its alignment with the humans.
    pub agents: Vec<(Agent, Alignment)>,
    pub section: ImprovementSection,
}

/// The name of a condition's agent.
pub fn agent_name(writer: &str, c: Condition) -> String {
    format!("{writer} (improved, {})", c.id())
}

/// The questions the experiment asks per input (first responses, feedback,
/// improved responses), as the run went: 1 for an input without first
/// responses, else 6 (5 when the evaluator gave no verdict).
pub fn questions(improvement: &Improvement) -> u64 {
    improvement
        .inputs
        .iter()
        .map(|i| match i.drafts {
            None => 1,
            Some(_) => 5 + u64::from(i.feedback.is_some()),
        })
        .sum()
}

/// The agents and the `improvement` section of a finished run on `ds`
/// (`values`: the model-based factors of `ds`, for the human and judge
/// sides).
///
/// # Errors
/// The evaluator's verdicts on the dataset are missing (a cancelled run).
pub fn improvement_report(
    ds: &Dataset,
    cfg: &ScoreConfig,
    values: Option<&LlmValues>,
    run: &Improved,
    human: &HumanSide,
) -> Result<ImproveResult, String> {
    let Some((outcome, record)) = &run.judge else {
        return Err("the evaluator did not judge the dataset's pairs".into());
    };
    let judge = judge_agent(ds, cfg, values, outcome, record.clone(), human);
    let evaluator_name = judge.0.name.clone();
    let evaluator = judge_side(ds, cfg, values, outcome);
    let writer = run.writer.model.clone();
    let mut agents = Vec::new();
    let mut conditions = Vec::new();
    for c in Condition::ALL {
        let pairs = run.pairs.of(c);
        if pairs.pairs.is_empty() {
            continue;
        }
        let mut inputs: Vec<u32> = pairs.pairs.iter().map(|p| p.cluster).collect();
        inputs.dedup();
        let mut rec = run.writer.clone();
        rec.kind = "improve".into();
        rec.items = inputs.len() as u64;
        rec.items_planned = run.planned;
        rec.generated_pairs = Some(pairs.pairs.len() as u64);
        rec.extraction = run.values.as_ref().and_then(|v| v.run.clone());
        let (agent, alignment, vs_evaluator) = improvement_agent(
            agent_name(&writer, c),
            &pairs,
            &run.pairs.source_clusters,
            ds.n_clusters,
            cfg,
            run.values.as_ref(),
            rec,
            human,
            &evaluator,
            &evaluator_name,
        );
        conditions.push(ImprovementCondition {
            condition: c.id().into(),
            agent: agent.name.clone(),
            inputs: inputs.len() as u64,
            pairs: pairs.pairs.len() as u64,
            kendall_tau_human: alignment.kendall_tau,
            kendall_tau_human_ci95: alignment.kendall_tau_ci95,
            n_factors_human: alignment.n_factors,
            kendall_tau_evaluator: vs_evaluator.kendall_tau,
            kendall_tau_evaluator_ci95: vs_evaluator.kendall_tau_ci95,
            n_factors_evaluator: vs_evaluator.n_factors,
            evaluator_alignment: vs_evaluator,
        });
        agents.push((agent, alignment));
    }
    let inputs = run.pairs.source_clusters.len() as u64;
    let too_few = inputs < MIN_INPUTS_FOR_INTERVALS
        || conditions
            .iter()
            .any(|c| c.n_factors_human.min(c.n_factors_evaluator) < MIN_FACTORS_FOR_TAU);
    let questions_per_input =
        (run.planned > 0).then(|| questions(&run.improvement) as f64 / run.planned as f64);
    let section = ImprovementSection {
        writer,
        evaluator: evaluator_name,
        inputs_planned: run.planned,
        inputs,
        questions_per_input,
        calls: run.writer.calls + run.evaluator.calls,
        cache_hits: run.writer.cache_hits + run.evaluator.cache_hits,
        failed: run.writer.failed + run.evaluator.failed,
        judge_calls: record.calls,
        too_few: too_few || conditions.is_empty(),
        conditions,
        items: items(ds, &run.improvement),
    };
    Ok(ImproveResult {
        judge,
        agents,
        section,
    })
}

/// Every input's texts, for reading.
fn items(ds: &Dataset, imp: &Improvement) -> Vec<ImprovementItem> {
    let text = |t| imp.dataset.text(t).to_owned();
    imp.inputs
        .iter()
        .map(|i| ImprovementItem {
            line: ds
                .pairs
                .iter()
                .find(|p| p.cluster == i.cluster)
                .map_or(0, |p| p.line),
            responses: i.drafts.map(|d| d.map(text).to_vec()).unwrap_or_default(),
            better: i.feedback.map(|f| {
                match f.better {
                    1 => "1",
                    2 => "2",
                    _ => "tie",
                }
                .to_owned()
            }),
            justification: i.feedback.map(|f| text(f.justification)),
            improved_feedback: i.with_feedback.map(text),
            improved_both: i.from_both.map(text),
            improved_single: if i.drafts.is_some() {
                i.from_single.iter().map(|t| t.map(text)).collect()
            } else {
                Vec::new()
            },
        })
        .collect()
}

/// Plain-language lines on the result (true of the numbers beside them,
/// also on too few inputs or factors).
pub fn describe(section: &ImprovementSection) -> Vec<String> {
    let mut out = vec![format!(
        "Feedback-driven improvement, writer {}, evaluator {}: {} of {} inputs with two first \
responses; {:.1} questions per input, {} calls this run, {} cached, {} failed (and {} calls \
of the evaluator judging the pairs)",
        section.writer,
        section.evaluator,
        section.inputs,
        section.inputs_planned,
        section.questions_per_input.unwrap_or(0.0),
        section.calls,
        section.cache_hits,
        section.failed,
        section.judge_calls
    )];
    let tau = |t: Option<f64>, ci: Option<[f64; 2]>, n: usize| match (t, ci) {
        (Some(t), Some([lo, hi])) => format!("{t:+.3} [{lo:+.3}, {hi:+.3}] over {n} factors"),
        (Some(t), None) => format!("{t:+.3} (no interval) over {n} factors"),
        (None, _) => format!("none ({n} factors scored by both)"),
    };
    for c in &section.conditions {
        out.push(format!(
            "  {:<8} τ with humans {}; with the evaluator {}  ({} pairs, {} inputs; {})",
            c.condition,
            tau(
                c.kendall_tau_human,
                c.kendall_tau_human_ci95,
                c.n_factors_human
            ),
            tau(
                c.kendall_tau_evaluator,
                c.kendall_tau_evaluator_ci95,
                c.n_factors_evaluator
            ),
            c.pairs,
            c.inputs,
            c.agent
        ));
    }
    if section.conditions.is_empty() {
        out.push("  No condition has an (initial, improved) pair: nothing to score.".into());
    } else if section.too_few {
        out.push(format!(
            "  Too few to mean much ({} inputs, fewer than {MIN_INPUTS_FOR_INTERVALS}, or fewer \
than {MIN_FACTORS_FOR_TAU} factors correlated): read the τ values as a trial run, not a result.",
            section.inputs
        ));
    }
    out
}
