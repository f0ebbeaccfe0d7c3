//! Model agents in a report: a judge's or writer's factor scores, the record
//! of its run, and its alignment with the humans (METHOD.md §2–3, §7).
//! Several agents live side by side in one report; adding one with the name
//! of an existing agent replaces it.

use std::collections::BTreeMap;

use crate::analysis::{agent_scores, LlmValues, ScoreConfig};
use crate::data::{Dataset, Preference};
use crate::factors::rules::RuleExtractor;
use crate::llm::engine::{FailedItem, RunStats};
use crate::llm::provider::ModelConfig;
use crate::llm::runs::JudgeOutcome;
use crate::report::{ranking, Agent, AgentRun, Alignment, FactorScoreEntry, LlmRun, Report};
use crate::stats::{agreement, Setting};

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
            base_url: self.model.effective_base_url().into(),
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

fn agent(
    name: String,
    setting: Setting,
    scores: Vec<(crate::factors::Factor, FactorScoreEntry)>,
    run: AgentRun,
) -> Agent {
    let factor_scores: BTreeMap<String, FactorScoreEntry> = scores
        .into_iter()
        .map(|(f, s)| (f.id().to_owned(), s))
        .collect();
    Agent {
        name,
        setting,
        tie_policy: setting.tie_policy().into(),
        ranking: ranking(&factor_scores),
        factor_scores,
        run: Some(run),
    }
}

/// A judge as an agent (evaluation setting) on the dataset it judged.
pub fn judge_agent(
    ds: &Dataset,
    cfg: &ScoreConfig,
    llm: Option<&LlmValues>,
    outcome: &JudgeOutcome,
    single_order: bool,
    base: AgentRun,
) -> Agent {
    let requested = cfg.requested();
    let mut rules = RuleExtractor::new();
    let scores = agent_scores(
        ds,
        &requested,
        cfg.bootstrap,
        &mut rules,
        llm,
        Setting::Evaluation,
        Some(&outcome.preferences),
    );
    // Agreement over the pairs with a verdict.
    let (human, judge): (Vec<Preference>, Vec<Preference>) = ds
        .pairs
        .iter()
        .zip(&outcome.preferences)
        .filter_map(|(p, j)| j.map(|j| (p.preference, j)))
        .unzip();
    let ag = agreement(&human, &judge);
    let name = format!("{} (judge)", base.model);
    let mut run = base;
    run.items = outcome.judged;
    run.items_planned = ds.pairs.len() as u64;
    run.both_orders = !single_order;
    run.agreement = ag.rate;
    run.tie_rate = ag.tie_rate;
    if !single_order {
        run.position_consistency = outcome.position_consistency();
        run.flipped_share = outcome.flipped_share();
    }
    agent(name, Setting::Evaluation, scores, run)
}

/// A writer as an agent (generation setting) on the dataset it generated.
pub fn writer_agent(
    generated: &Dataset,
    cfg: &ScoreConfig,
    llm: Option<&LlmValues>,
    inputs_planned: u64,
    base: AgentRun,
    extraction: Option<LlmRun>,
) -> Agent {
    let requested = cfg.requested();
    let mut rules = RuleExtractor::new();
    let scores = agent_scores(
        generated,
        &requested,
        cfg.bootstrap,
        &mut rules,
        llm,
        Setting::Generation,
        None,
    );
    let name = format!("{} (writer)", base.model);
    let mut run = base;
    run.items = u64::from(generated.n_clusters);
    run.items_planned = inputs_planned;
    run.generated_pairs = Some(generated.pairs.len() as u64);
    run.extraction = extraction;
    agent(name, Setting::Generation, scores, run)
}

/// Adds (or replaces, by name) a model agent and recomputes every model
/// agent's alignment with the humans.
pub fn add_agent(report: &mut Report, agent: Agent) {
    match report.agents.iter_mut().find(|a| a.name == agent.name) {
        Some(slot) => *slot = agent,
        None => report.agents.push(agent),
    }
    refresh_alignments(report);
}

/// The alignment of every model agent with the human agent.
pub fn refresh_alignments(report: &mut Report) {
    let Some(human) = report.agents.iter().find(|a| a.setting == Setting::Human) else {
        return;
    };
    let reference = human.score_map();
    let name = human.name.clone();
    report.alignments = report
        .agents
        .iter()
        .filter(|a| a.setting != Setting::Human)
        .map(|a| Alignment::between(&a.name, &a.score_map(), &name, &reference))
        .collect();
}

/// Why a report cannot take another report's agents: a different dataset or
/// factor set would make the comparison meaningless.
pub fn compatible(into: &Report, from: &Report) -> Result<(), String> {
    let d = (&into.dataset, &from.dataset);
    if d.0.pairs != d.1.pairs || d.0.format != d.1.format || d.0.unique_texts != d.1.unique_texts {
        return Err(format!(
            "the reports are about different data ({} pairs of {} vs {} pairs of {})",
            d.0.pairs, d.0.format, d.1.pairs, d.1.format
        ));
    }
    if into.config.factors != from.config.factors {
        return Err(format!(
            "the reports use different factors ({} vs {}); use the same --task/--factors",
            into.config.factors.join(","),
            from.config.factors.join(",")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{score_report, DatasetInfo};
    use crate::data::{load_bytes, FormatOptions};
    use crate::factors::{Factor, Task};
    use crate::llm::provider::Provider;

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
        // A judge that always prefers the longer response (A), with one tie and one missing verdict.
        let mut prefs = vec![Some(Preference::A); 12];
        prefs[1] = Some(Preference::Tie);
        prefs[2] = None;
        let outcome = JudgeOutcome {
            preferences: prefs,
            judged: 11,
            consistent: 10,
            flipped: 1,
        };
        let judge = judge_agent(&d, &cfg, None, &outcome, false, info.record("judge"));
        assert_eq!(judge.name, "m (judge)");
        let len = judge.factor_scores["length"];
        // 10 concordant, 1 judge tie (T), the missing verdict dropped.
        assert_eq!(
            (len.concordant, len.discordant, len.ties, len.dropped),
            (10, 0, 1, 1)
        );
        let run = judge.run.as_ref().unwrap();
        assert_eq!(run.items, 11);
        // Of the 11 judged pairs, humans chose A on 8; the judge said A on 7
        // of those (its tie counts as disagreement).
        assert_eq!(run.agreement, Some(7.0 / 11.0));
        assert_eq!(run.tie_rate, Some(1.0 / 11.0));
        add_agent(&mut report, judge.clone());
        add_agent(&mut report, judge);
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
    }
}
