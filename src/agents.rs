//! Model agents in a report: a judge's or writer's factor scores, the record
//! of its run, and its alignment with the humans (METHOD.md §2–3, §7).
//! Several agents live side by side in one report; adding one with the name
//! of an existing agent replaces it.

use std::collections::BTreeMap;

use crate::analysis::{agent_table, human_table, joint_model, LlmValues, ScoreConfig};
use crate::data::Dataset;
use crate::factors::rules::RuleExtractor;
use crate::llm::engine::{FailedItem, RunStats};
use crate::llm::provider::ModelConfig;
use crate::llm::roles::{JudgeOrder, JudgeOutcome};
use crate::report::{
    ranking, Agent, AgentRun, AgentTable, Alignment, AlignmentConfig, FactorScoreEntry, JointModel,
    LlmRun, Report,
};
use crate::stats::{ClusterTable, PermutationConfig, Setting};

/// What a model run was and did.
pub struct RunInfo<'a> {
    pub model: &'a ModelConfig,
    pub stats: &'a RunStats,
    pub failures: &'a [FailedItem],
}

impl RunInfo<'_> {
    /// The run's record, before the agent-specific fields are filled.
    pub fn record(&self, kind: &str) -> AgentRun {
        AgentRun {
            kind: kind.into(),
            provider: self.model.provider.id().into(),
            model: self.model.model.clone(),
            base_url: crate::llm::provider::redact_url(self.model.effective_base_url()),
            calls: self.stats.calls,
            cache_hits: self.stats.cache_hits,
            failed: self.stats.failed,
            input_tokens: self.stats.input_tokens,
            output_tokens: self.stats.output_tokens,
            failures: self
                .failures
                .iter()
                .map(|f| serde_json::to_value(f).expect("serialisable"))
                .collect(),
            ..Default::default()
        }
    }
}

/// The human side of every model agent's alignment: the human agent's
/// per-input table on the dataset the models ran on.
pub struct HumanSide {
    pub factors: Vec<String>,
    pub table: ClusterTable,
}

/// The human agent's table for `cfg`'s factors on `ds`.
pub fn human_side(ds: &Dataset, cfg: &ScoreConfig, llm: Option<&LlmValues>) -> HumanSide {
    let mut rules = RuleExtractor::new();
    let (factors, table) = human_table(ds, &cfg.requested(), &mut rules, llm, None);
    HumanSide {
        factors: factors.iter().map(|f| f.id().to_owned()).collect(),
        table,
    }
}

/// An agent in `setting` from its table, with its joint model and its
/// alignment with the humans (bootstrap intervals over inputs when the
/// tables share the dataset's input ids, permutation p-values always).
#[allow(clippy::too_many_arguments)]
fn agent(
    name: String,
    setting: Setting,
    cfg: &ScoreConfig,
    scored: Vec<crate::factors::Factor>,
    table: &ClusterTable,
    paired: Option<&ClusterTable>,
    joint: Option<JointModel>,
    run: AgentRun,
    human: &HumanSide,
) -> (Agent, Alignment) {
    let scores = table.scores(cfg.bootstrap);
    let factor_scores: BTreeMap<String, FactorScoreEntry> = scored
        .iter()
        .zip(scores.iter().map(FactorScoreEntry::from))
        .map(|(f, s)| (f.id().to_owned(), s))
        .collect();
    let ids: Vec<String> = scored.iter().map(|f| f.id().to_owned()).collect();
    let align_cfg = AlignmentConfig {
        bootstrap: cfg.bootstrap,
        permutation: PermutationConfig::default(),
    };
    let label = name.clone();
    let me = AgentTable {
        name: &label,
        factors: &ids,
        table: paired.unwrap_or(table),
    };
    let reference = AgentTable {
        name: "human",
        factors: &human.factors,
        table: &human.table,
    };
    let agent = Agent {
        tie_policy: setting.tie_policy().into(),
        ranking: ranking(&factor_scores),
        factor_scores,
        run: Some(run),
        joint,
        name,
        setting,
        guidance: None,
    };
    let mut alignment = Alignment::between_with_bootstrap(&me, &reference, &align_cfg)
        .unwrap_or_else(|_| {
            Alignment::between_tested(
                &agent.name,
                &agent.score_map(),
                "human",
                &human
                    .factors
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.clone(), human.table.totals(i).score()))
                    .collect(),
                align_cfg.permutation,
            )
        });
    if let Some(run) = &agent.run {
        alignment.position_consistency = run.position_consistency;
        alignment.flipped_share = run.flipped_share;
    }
    (agent, alignment)
}

/// A judge as an agent (evaluation setting) on the dataset it judged, with
/// its alignment with the humans. The run record says how the pairs were
/// shown and gives agreement strict and order-averaged, genuine ties and
/// position flips apart; the agent's tie policy says how flips count.
pub fn judge_agent(
    ds: &Dataset,
    cfg: &ScoreConfig,
    llm: Option<&LlmValues>,
    outcome: &JudgeOutcome,
    base: AgentRun,
    human: &HumanSide,
) -> (Agent, Alignment) {
    let requested = cfg.requested();
    let mut rules = RuleExtractor::new();
    let mut differences = Vec::new();
    let (scored, table) = agent_table(
        ds,
        &requested,
        &mut rules,
        llm,
        Setting::Evaluation,
        Some(&outcome.preferences),
        Some(&mut differences),
    );
    let ag = outcome.agreement();
    let name = format!("{} (judge)", base.model);
    let mut run = base;
    run.items = outcome.judged;
    run.items_planned = ds.pairs.len() as u64;
    run.both_orders = !outcome.order.is_single();
    run.agreement = ag.rate;
    run.agreement_order_averaged = ag.order_averaged;
    run.tie_rate = ag.tie_rate;
    run.first_position_share = outcome.first_position_share();
    match outcome.order {
        JudgeOrder::Both => {
            run.position_consistency = outcome.position_consistency();
            run.flipped_share = outcome.flipped_share();
            run.half_tie_share = ag.half_tie_rate;
        }
        JudgeOrder::Single { seed } => {
            run.order_seed = Some(seed);
            run.swapped = Some(outcome.swapped);
        }
    }
    let signs: Vec<i8> = outcome
        .preferences
        .iter()
        .map(|p| p.map_or(0, |p| p.sign()))
        .collect();
    let joint =
        (!scored.is_empty()).then(|| joint_model(ds, &scored, &differences, &signs, cfg.bootstrap));
    let (mut agent, mut alignment) = agent(
        name,
        Setting::Evaluation,
        cfg,
        scored,
        &table,
        None,
        joint,
        run,
        human,
    );
    agent.tie_policy = judge_tie_policy(outcome.order);
    alignment.agreement = Some(ag);
    (agent, alignment)
}

/// The tie policy of a judge, with how the order(s) it saw count.
pub fn judge_tie_policy(order: JudgeOrder) -> String {
    let base = Setting::Evaluation.tie_policy();
    match order {
        JudgeOrder::Both => format!(
            "{base}. Each pair was shown in both orders: when the two verdicts differ (a position \
flip, or a tie in one order only) the judge's preference is a tie (P = 0), which for a flip equals \
averaging the two orders. Agreement is given strict (such a pair disagrees) and order-averaged (each \
verdict on its own: a flip counts one half); only the order-averaged agreement is comparable with a \
single-order judge's. Genuine ties (a tie in both orders) and position flips are counted apart."
        ),
        JudgeOrder::Single { seed } => format!(
            "{base}. Each pair was shown once, in an order picked by a coin flip per pair (seed \
{seed}), never the dataset's order; its agreement is comparable with a both-order judge's \
order-averaged agreement."
        ),
    }
}

/// A writer as an agent (generation setting) on the dataset it generated.
/// `source_clusters[c]` is the input (cluster of the human dataset, which has
/// `n_source_clusters`) that generated cluster `c` was written for: the
/// alignment's bootstrap resamples those inputs for both sides.
#[allow(clippy::too_many_arguments)]
pub fn writer_agent(
    generated: &Dataset,
    source_clusters: &[u32],
    n_source_clusters: u32,
    cfg: &ScoreConfig,
    llm: Option<&LlmValues>,
    inputs_planned: u64,
    base: AgentRun,
    extraction: Option<LlmRun>,
    human: &HumanSide,
) -> (Agent, Alignment) {
    let name = format!("{} (writer)", base.model);
    let mut run = base;
    run.items = u64::from(generated.n_clusters);
    run.items_planned = inputs_planned;
    run.generated_pairs = Some(generated.pairs.len() as u64);
    run.extraction = extraction;
    let w = written_agent(
        name,
        Setting::Generation,
        generated,
        source_clusters,
        n_source_clusters,
        cfg,
        llm,
        run,
        human,
    );
    (w.agent, w.alignment)
}

/// An agent of written texts with its table keyed by the human dataset's
/// inputs (for other alignments).
struct Written {
    agent: Agent,
    alignment: Alignment,
    factors: Vec<String>,
    paired: ClusterTable,
}

#[allow(clippy::too_many_arguments)]
fn written_agent(
    name: String,
    setting: Setting,
    generated: &Dataset,
    source_clusters: &[u32],
    n_source_clusters: u32,
    cfg: &ScoreConfig,
    llm: Option<&LlmValues>,
    run: AgentRun,
    human: &HumanSide,
) -> Written {
    let requested = cfg.requested();
    let mut rules = RuleExtractor::new();
    let mut differences = Vec::new();
    let (scored, table) = agent_table(
        generated,
        &requested,
        &mut rules,
        llm,
        setting,
        None,
        Some(&mut differences),
    );
    // The same outcomes keyed by the human dataset's input ids.
    let mut on_inputs = generated.clone();
    on_inputs.n_clusters = n_source_clusters;
    for p in &mut on_inputs.pairs {
        p.cluster = source_clusters[p.cluster as usize];
    }
    let (_, paired) = agent_table(&on_inputs, &scored, &mut rules, llm, setting, None, None);
    let signs: Vec<i8> = generated
        .pairs
        .iter()
        .map(|p| p.preference.sign())
        .collect();
    let joint = (!scored.is_empty() && !generated.pairs.is_empty())
        .then(|| joint_model(generated, &scored, &differences, &signs, cfg.bootstrap));
    let factors = scored.iter().map(|f| f.id().to_owned()).collect();
    let (agent, alignment) = agent(
        name,
        setting,
        cfg,
        scored,
        &table,
        Some(&paired),
        joint,
        run,
        human,
    );
    Written {
        agent,
        alignment,
        factors,
        paired,
    }
}

/// A judge's side of an alignment: its table on the dataset it judged (the
/// improvement experiment's evaluator, compared with the improved writer).
pub fn judge_side(
    ds: &Dataset,
    cfg: &ScoreConfig,
    llm: Option<&LlmValues>,
    outcome: &JudgeOutcome,
) -> HumanSide {
    let mut rules = RuleExtractor::new();
    let (factors, table) = agent_table(
        ds,
        &cfg.requested(),
        &mut rules,
        llm,
        Setting::Evaluation,
        Some(&outcome.preferences),
        None,
    );
    HumanSide {
        factors: factors.iter().map(|f| f.id().to_owned()).collect(),
        table,
    }
}

/// One condition of the improvement experiment as an agent (improvement
/// setting: each (initial, improved) pair with the improved response
/// preferred, factor ties counted in T) on its pairs, with its alignment
/// with the humans and with the evaluator (`evaluator`, named
/// `evaluator_name`), both with paired bootstrap intervals over the inputs
/// (`source_clusters[c]`: the human dataset's input of cluster `c`).
#[allow(clippy::too_many_arguments)]
pub fn improvement_agent(
    name: String,
    pairs: &Dataset,
    source_clusters: &[u32],
    n_source_clusters: u32,
    cfg: &ScoreConfig,
    llm: Option<&LlmValues>,
    run: AgentRun,
    human: &HumanSide,
    evaluator: &HumanSide,
    evaluator_name: &str,
) -> (Agent, Alignment, Alignment) {
    let w = written_agent(
        name,
        Setting::Improvement,
        pairs,
        source_clusters,
        n_source_clusters,
        cfg,
        llm,
        run,
        human,
    );
    let align_cfg = AlignmentConfig {
        bootstrap: cfg.bootstrap,
        permutation: PermutationConfig::default(),
    };
    let me = AgentTable {
        name: &w.agent.name,
        factors: &w.factors,
        table: &w.paired,
    };
    let reference = AgentTable {
        name: evaluator_name,
        factors: &evaluator.factors,
        table: &evaluator.table,
    };
    let vs_evaluator = Alignment::between_with_bootstrap(&me, &reference, &align_cfg)
        .unwrap_or_else(|_| {
            Alignment::between_tested(
                &w.agent.name,
                &w.agent.score_map(),
                evaluator_name,
                &evaluator
                    .factors
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.clone(), evaluator.table.totals(i).score()))
                    .collect(),
                align_cfg.permutation,
            )
        });
    (w.agent, w.alignment, vs_evaluator)
}

/// The file lines of `ds`'s pairs as ranges: `"1-8"`, `"3,7,10-12"`.
pub fn line_ranges(ds: &Dataset) -> String {
    let mut lines: Vec<u64> = ds.pairs.iter().map(|p| p.line).collect();
    crate::data::sort::sort(&mut lines);
    lines.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        while j + 1 < lines.len() && lines[j + 1] == lines[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            lines[i].to_string()
        } else {
            format!("{}-{}", lines[i], lines[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// A model agent run on a sample (`sample`) of the data: the run records
/// the sample and the pairs it covered, and its alignment the human
/// scores on those pairs (what it was compared with), so it can join the
/// report of the whole data.
pub fn mark_sample(
    agent: &mut Agent,
    alignment: &mut Alignment,
    ds: &Dataset,
    sample: &crate::report::SampleInfo,
    human: &HumanSide,
) {
    if let Some(run) = agent.run.as_mut() {
        run.sample = Some(sample.clone());
        run.pairs_covered = Some(line_ranges(ds));
    }
    alignment.reference_scores = Some(
        human
            .factors
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), human.table.totals(i).score()))
            .collect(),
    );
}

/// Adds (or replaces, by name) a model agent with its alignment.
pub fn add_agent(report: &mut Report, agent: Agent, alignment: Alignment) {
    match report.agents.iter_mut().find(|a| a.name == agent.name) {
        Some(slot) => *slot = agent,
        None => report.agents.push(agent),
    }
    match report
        .alignments
        .iter_mut()
        .find(|a| a.agent == alignment.agent)
    {
        Some(slot) => *slot = alignment,
        None => report.alignments.push(alignment),
    }
}

/// Why a report cannot take another report's agents: a different dataset or
/// factor set would make the comparison meaningless.
pub fn compatible(into: &Report, from: &Report) -> Result<(), String> {
    let d = (&into.dataset, &from.dataset);
    // A run on a sample of the data `into` covers whole joins it.
    let sample_of_into = match (&d.0.sample, &d.1.sample) {
        (None, Some(s)) => {
            d.0.format == d.1.format
                && s.pairs_loaded == d.0.pairs
                && s.inputs_loaded == d.0.inputs
                && d.0.records_read == d.1.records_read
        }
        _ => false,
    };
    if !sample_of_into
        && (d.0.pairs != d.1.pairs
            || d.0.format != d.1.format
            || d.0.unique_texts != d.1.unique_texts)
    {
        return Err(match &d.1.sample {
            Some(s) if d.0.sample.is_none() => format!(
                "the reports are about different data (the sample was drawn from {} pairs of {} \
over {} inputs and {} records; the report covers {} pairs of {} over {} inputs and {} records)",
                s.pairs_loaded,
                d.1.format,
                s.inputs_loaded,
                d.1.records_read,
                d.0.pairs,
                d.0.format,
                d.0.inputs,
                d.0.records_read
            ),
            _ => format!(
                "the reports are about different data ({} pairs of {} vs {} pairs of {})",
                d.0.pairs, d.0.format, d.1.pairs, d.1.format
            ),
        });
    }
    if let (Some(a), Some(b)) = (&d.0.sample, &d.1.sample) {
        if a != b {
            return Err(format!(
                "the reports cover different samples of the data ({} {} seed {:?} vs {} {} seed {:?}); use the same --sample/--limit and --seed",
                a.method, a.requested, a.seed, b.method, b.requested, b.seed
            ));
        }
    }
    if into.config.factors != from.config.factors {
        return Err(format!(
            "the reports use different factors ({} vs {}); use the same --task/--factors",
            into.config.factors.join(","),
            from.config.factors.join(",")
        ));
    }
    if into.config.factor_pack != from.config.factor_pack {
        return Err(
            "the reports define their custom factors differently (config.factor_pack); use the same --factor-pack"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{score_report, DatasetInfo};
    use crate::data::{load_bytes, FormatOptions};
    use crate::factors::{Factor, Task};
    use crate::llm::extract::{Answer, Answers};
    use crate::llm::provider::Provider;
    use crate::llm::roles::{judge_outcome, judge_plan, Verdict};

    fn ds() -> Dataset {
        let rows: Vec<String> = (0..12)
            .map(|i| {
                let long = "word ".repeat(5 + i);
                serde_json::json!({"input": format!("q{}", i / 3), "response_a": long, "response_b": "word", "preference": if i % 4 == 0 { "b" } else { "a" }})
                    .to_string()
            })
            .collect();
        load_bytes(rows.join("\n").as_bytes(), FormatOptions::default()).unwrap()
    }

    #[test]
    fn judges_and_writers_join_the_report_and_align_with_humans() {
        let d = ds();
        let mut cfg = ScoreConfig::for_task(Task::Helpful);
        cfg.factors = Some(vec![Factor::Length, Factor::NovelWordsCount]);
        let mut report = score_report(&d, &cfg, &DatasetInfo::default());
        let model = ModelConfig::new(Provider::OpenAi, "m");
        let stats = RunStats {
            calls: 24,
            ..Default::default()
        };
        let info = RunInfo {
            model: &model,
            stats: &stats,
            failures: &[],
        };
        // A judge that prefers the longer response (A) in both orders, except
        // on pair 1, where it follows the position ("1" both times), and on
        // pair 2, where the verdict of the second order is missing.
        let plan = judge_plan(&d, Task::Helpful, JudgeOrder::Both);
        let mut answers = Answers::default();
        for (i, q) in plan.first.iter().enumerate() {
            let (pair, forward) = (i / 2, i % 2 == 0);
            let better = match pair {
                1 => "1",
                2 if !forward => continue,
                _ if forward => "1",
                _ => "2",
            };
            answers.insert(
                *q,
                Answer::Verdict {
                    verdict: Verdict {
                        better: better.into(),
                        justification: String::new(),
                    },
                },
            );
        }
        let outcome = judge_outcome(&d, Task::Helpful, JudgeOrder::Both, &answers);
        let human = human_side(&d, &cfg, None);
        let (judge, alignment) =
            judge_agent(&d, &cfg, None, &outcome, info.record("judge"), &human);
        let ag = alignment.agreement.unwrap();
        // Of the 11 judged pairs, humans chose A on 8; the judge kept A in
        // both orders on 7 of those (the flip counts as a disagreement).
        assert_eq!(ag.rate, Some(7.0 / 11.0));
        // Verdict by verdict: 14 on those 7 pairs, and one of the flip's two.
        assert_eq!(ag.order_averaged, Some(15.0 / 22.0));
        assert_eq!((ag.tie_rate, ag.flip_rate), (Some(0.0), Some(1.0 / 11.0)));
        assert_eq!(alignment.position_consistency, Some(10.0 / 11.0));
        assert_eq!(
            alignment.bootstrap_resamples,
            Some(1000),
            "paired bootstrap over inputs"
        );
        assert_eq!(judge.name, "m (judge)");
        assert!(
            judge.tie_policy.contains("position flip"),
            "{}",
            judge.tie_policy
        );
        let len = judge.factor_scores["length"];
        // 10 concordant, the flip a judge tie (T), the pair without both
        // verdicts missing (not a factor tie).
        assert_eq!(
            (
                len.concordant,
                len.discordant,
                len.ties,
                len.dropped,
                len.missing
            ),
            (10, 0, 1, 0, 1)
        );
        let run = judge.run.as_ref().unwrap();
        assert_eq!(run.items, 11);
        assert_eq!(run.agreement, Some(7.0 / 11.0));
        assert_eq!(run.agreement_order_averaged, Some(15.0 / 22.0));
        assert_eq!(run.tie_rate, Some(0.0));
        assert_eq!(run.flipped_share, Some(1.0 / 11.0));
        assert_eq!(run.order_seed, None);
        add_agent(&mut report, judge.clone(), alignment.clone());
        add_agent(&mut report, judge, alignment);
        assert_eq!(report.agents.len(), 2, "same name replaces");
        assert_eq!(report.alignments.len(), 1);
        assert_eq!(report.alignments[0].agent, "m (judge)");
        let json = report.to_json_pretty();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
        assert!(compatible(&report, &back).is_ok());
        let mut other = back.clone();
        other.config.factors.pop();
        assert!(compatible(&report, &other).is_err());
        // Two samples of the same size drawn with different seeds differ.
        let sample = |seed| {
            Some(crate::report::SampleInfo {
                method: "inputs".into(),
                requested: 2,
                inputs_loaded: 4,
                pairs_loaded: 12,
                seed: Some(seed),
            })
        };
        let (mut a, mut b) = (back.clone(), back);
        a.dataset.sample = sample(1);
        b.dataset.sample = sample(2);
        assert!(compatible(&a, &b)
            .unwrap_err()
            .contains("different samples"));
        b.dataset.sample = sample(1);
        assert!(compatible(&a, &b).is_ok());
    }
}
