//! The versioned report: the one contract shared by the CLI, the web app,
//! exports and widgets.
//!
//! `schema` is `"profile-report/1"`. Readers must reject other major versions;
//! fields may be added within a version, never renamed or removed. Numbers that
//! cannot be computed (no countable pair, a constant vector) are `null`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Diagnostic;
use crate::stats::{
    alignment_intervals, kendall_tau_b, pearson_r, permutation_test, spearman_rho, Agreement,
    BootstrapConfig, ClusterMismatch, ClusterTable, Covariate, FactorScore, JointFit,
    PermutationConfig, Refit, Setting,
};

/// The schema identifier of reports this crate writes.
pub const SCHEMA: &str = "profile-report/1";

/// At most this many diagnostics are written into a report; the total is kept.
pub const MAX_REPORT_DIAGNOSTICS: usize = 1000;

/// A PROFILE report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The program that wrote it, e.g. `profile 0.1.0`.
    pub generator: String,
    pub dataset: DatasetSummary,
    pub config: RunConfig,
    /// Taxonomy entries of the factors requested (scored or skipped), in request order.
    pub factors: Vec<FactorMeta>,
    /// Requested factors that could not be computed, with the reason.
    pub skipped_factors: Vec<SkippedFactor>,
    pub agents: Vec<Agent>,
    pub alignments: Vec<Alignment>,
    /// The LLM extraction run behind model-based factors, if one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmRun>,
    /// The human factor scores per group of pairs (`--group-by FIELD`, the
    /// app's group selector), if asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Groups>,
    /// Guided judging (METHOD.md §8, `profile guide`): the factors chosen and
    /// the judges' agreement with the humans per condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<GuidanceSection>,
    /// Feedback-driven improvement (METHOD.md §8, `profile improve`): each
    /// condition's alignment with the humans and with the evaluator, and the
    /// texts of every input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub improvement: Option<ImprovementSection>,
}

/// The human factor scores per group of pairs: the pairs whose record has
/// `field` = a value (in rated formats, where a pair joins two records, a
/// pair belongs to the group of each of its two responses), each group
/// scored alone, and each compared with the rest of the pairs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Groups {
    /// The record field grouped by.
    pub field: String,
    /// Pairs whose records lack the field (in no group).
    pub pairs_without: u64,
    /// Groups left out, the smallest first, beyond [`Groups::MAX_SHOWN`].
    #[serde(default)]
    pub groups_omitted: u64,
    /// The groups, largest (most pairs) first, ties by value.
    pub groups: Vec<Group>,
}

impl Groups {
    /// The most groups a report holds.
    pub const MAX_SHOWN: usize = 50;
}

/// One group of pairs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The field's value.
    pub value: String,
    pub pairs: u64,
    /// Inputs (clusters) the group's pairs come from.
    pub inputs: u64,
    /// The group's pairs scored alone (as if they were the whole file),
    /// by factor id.
    pub factor_scores: BTreeMap<String, FactorScoreEntry>,
    /// Group − rest by factor id.
    pub differences: BTreeMap<String, GroupDifference>,
}

/// How a group's factor score differs from the rest of the pairs'.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupDifference {
    /// The group's score minus the rest's; `None` when either has no
    /// countable pair.
    pub difference: Option<f64>,
    /// 95% percentile interval of the difference, from a cluster bootstrap
    /// that resamples the inputs of the whole file (group and rest drawn
    /// together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95: Option<[f64; 2]>,
    /// `higher` or `lower` (the interval excludes 0), `no clear difference`,
    /// or `too few inputs` (the group or the rest has fewer than
    /// [`MIN_INPUTS_FOR_INTERVALS`](crate::stats::MIN_INPUTS_FOR_INTERVALS)
    /// inputs with a countable pair: not graded).
    pub verdict: String,
}

/// A feedback-driven improvement experiment (METHOD.md §8).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImprovementSection {
    /// The writing model.
    pub writer: String,
    /// The evaluator's judge agent in this report (its factor scores are the
    /// evaluator's side of each condition's alignment).
    pub evaluator: String,
    pub inputs_planned: u64,
    /// Inputs with both first responses (the others have no pair).
    pub inputs: u64,
    /// The experiment's questions per input planned, and its calls: the
    /// writer's (two first responses in one call, then one improved
    /// response per condition, two for `single`) and the evaluator's
    /// feedback; neither the evaluator's judging of the dataset nor the
    /// factor extraction of the written texts. Calls are what this run
    /// sent: 0 when every answer was cached.
    pub questions_per_input: Option<f64>,
    pub calls: u64,
    pub cache_hits: u64,
    pub failed: u64,
    /// The evaluator's calls judging the dataset's pairs in this run (0 when
    /// an earlier `profile judge` answered them from the cache).
    #[serde(default)]
    pub judge_calls: u64,
    /// Fewer inputs than `stats::MIN_INPUTS_FOR_INTERVALS`, or fewer than 5
    /// factors correlated: the τ values and their intervals mean little.
    #[serde(default)]
    pub too_few: bool,
    /// `feedback`, `both`, `single`.
    pub conditions: Vec<ImprovementCondition>,
    /// What each input got: its first responses, the feedback and the
    /// improved responses.
    pub items: Vec<ImprovementItem>,
    /// The experiment's failed questions, the writer's and the evaluator's
    /// feedback (question, template, reason, raw reply), as in a run record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<serde_json::Value>,
}

/// One condition of the improvement experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImprovementCondition {
    /// `feedback` (from both first responses and the evaluator's feedback),
    /// `both` (from both, no feedback), `single` (from each alone, no
    /// feedback).
    pub condition: String,
    /// The agent of this condition (improvement setting).
    pub agent: String,
    /// Inputs and (initial, improved) pairs of this condition.
    pub inputs: u64,
    pub pairs: u64,
    /// Kendall τ_b of the condition's factor scores with the humans' and
    /// with the evaluator's, with 95% paired cluster-bootstrap intervals,
    /// over `n_factors_*` factors.
    pub kendall_tau_human: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kendall_tau_human_ci95: Option<[f64; 2]>,
    pub n_factors_human: usize,
    pub kendall_tau_evaluator: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kendall_tau_evaluator_ci95: Option<[f64; 2]>,
    pub n_factors_evaluator: usize,
    /// The whole alignment with the evaluator (the one with the humans is in
    /// the report's `alignments`).
    pub evaluator_alignment: Alignment,
}

/// One input of the improvement experiment and the texts written for it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImprovementItem {
    /// The file line of the input's first pair.
    pub line: u64,
    /// The writer's two first responses (absent: the call failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<String>,
    /// The evaluator's choice: `1`, `2` or `tie`, and its justification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub better: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The improved responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub improved_feedback: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub improved_both: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub improved_single: Vec<Option<String>>,
}

/// The guidance a guided judge was given (`strategy`: `none`, the plain
/// judge of the experiment; `mis`, the factor it over-weights most compared
/// with people; `rand`, a factor drawn among those it weighs as people do).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentGuidance {
    pub strategy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<String>,
    /// `over` ("… is not what makes a response better here") or `under`
    /// ("pay attention to …").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
}

/// A guided-judging experiment: the evidence behind the factors chosen,
/// and each condition's agreement with the humans on the same pairs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuidanceSection {
    /// The judging model.
    pub model: String,
    /// Agent whose factor-score differences chose the factors.
    pub evidence_from: String,
    /// Per factor: judge − human factor score with its paired-bootstrap interval.
    pub evidence: Vec<GuidanceEvidence>,
    /// GuideMis: the factor the judge over-weights most (or, when none is
    /// over-weighted, under-weights most) compared with people.
    pub mis: GuidanceChoice,
    /// GuideRand: a factor drawn with the seed among those whose interval
    /// contains 0 (`None`: no such factor and none given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rand: Option<GuidanceChoice>,
    /// Pairs judged in every condition (the pairs compared) and their inputs.
    pub pairs: u64,
    pub inputs: u64,
    /// Fewer inputs than `stats::MIN_INPUTS_FOR_INTERVALS`: intervals and
    /// p-values mean little.
    #[serde(default)]
    pub few_inputs: bool,
    pub bootstrap_resamples: u32,
    /// Sign flips per input behind the p-values, and whether all were enumerated.
    pub permutations: u64,
    pub permutation_exact: bool,
    /// No guidance, GuideMis, GuideRand.
    pub conditions: Vec<GuidanceCondition>,
}

/// One factor's evidence for the choice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuidanceEvidence {
    pub factor: String,
    pub judge: Option<f64>,
    pub human: Option<f64>,
    pub difference: f64,
    pub ci95: Option<[f64; 2]>,
}

/// A factor chosen for guidance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuidanceChoice {
    pub factor: String,
    pub direction: String,
    /// The sentence the judge was given.
    pub sentence: String,
    /// `evidence`, or `user` (`--factor` / `--rand-factor`).
    pub chosen_by: String,
    /// Judge − human factor score and its interval, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95: Option<[f64; 2]>,
}

/// One condition of the experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuidanceCondition {
    /// `none`, `mis` or `rand`.
    pub strategy: String,
    /// The agent of this condition.
    pub agent: String,
    /// Strict agreement with the humans on the pairs compared: the judge's
    /// preference (a tie when its two orders' verdicts differ) equals the
    /// human label; a tie or a position flip disagrees.
    pub agreement: Option<f64>,
    /// Agreement − the unguided judge's on the same pairs, its 95% paired
    /// cluster-bootstrap interval and its paired permutation p-value (signs
    /// of the per-input differences flipped); absent for `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference_ci95: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// The condition's factor scores (all its pairs), by factor id.
    pub factor_scores: BTreeMap<String, Option<f64>>,
}

/// What an LLM extraction run did (calls, cache hits, failures, tokens).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmRun {
    pub provider: String,
    pub model: String,
    pub base_url: String,
    /// `name@version` of every template used.
    pub templates: Vec<String>,
    /// Pairs the run covered (all, or the `--sample`/`--limit` selection).
    pub pairs: u64,
    pub unique_responses: u64,
    pub unique_sources: u64,
    pub questions: u64,
    /// HTTP calls made, retries and repairs included.
    pub calls: u64,
    pub cache_hits: u64,
    pub retries: u64,
    pub repairs: u64,
    pub failed: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Questions (cached or called) per unique response, not counting those that
    /// only extract a source's facts (a source that is also a response counts
    /// with the responses): `Plan::calls_per_unique_response`.
    pub calls_per_unique_response: f64,
    /// Calls the naive plan (per pair side, one call per fact per factor) would make.
    pub naive_calls: f64,
    /// Whether fluency and coherence used P(yes) from log-probabilities.
    pub logprobs: bool,
    /// Items that failed, with the reason and the raw reply.
    pub failures: Vec<serde_json::Value>,
}

/// What was loaded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// File name, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Detected or chosen format.
    pub format: String,
    /// The label used for rated formats (e.g. the SummEval aspect), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub records_read: u64,
    pub records_parsed: u64,
    pub records_skipped: u64,
    /// Pairs with a strict human preference (the pairs scored).
    pub pairs: u64,
    /// Human-tie pairs dropped at load (METHOD.md §1).
    pub human_ties_dropped: u64,
    /// Pairs dropped by a format rule (see `pairs_dropped_reason`).
    pub pairs_dropped_other: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs_dropped_reason: Option<String>,
    /// Distinct inputs (the bootstrap's resampling units).
    pub inputs: u64,
    pub unique_texts: u64,
    pub bytes_read: u64,
    /// The first [`MAX_REPORT_DIAGNOSTICS`] problems.
    pub diagnostics: Vec<Diagnostic>,
    pub diagnostics_total: u64,
    /// When the report covers part of the loaded pairs (`--sample`,
    /// `--limit`, the app's sample field): how they were chosen. `pairs` and
    /// `inputs` above are then the sample's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleInfo>,
    /// The records' short string fields the pairs can be grouped by
    /// (`--group-by`, the app's group selector).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_fields: Vec<String>,
}

impl DatasetSummary {
    /// Why the dataset gave nothing to score (no pair with a strict human
    /// preference), in words; `None` when there is something.
    pub fn nothing_usable(&self) -> Option<String> {
        let stats = crate::data::LoadStats {
            records_read: self.records_read,
            records_parsed: self.records_parsed,
            records_skipped: self.records_skipped,
            human_ties_dropped: self.human_ties_dropped,
            pairs_dropped_other: self.pairs_dropped_other,
            pairs_dropped_reason: self.pairs_dropped_reason.clone(),
            bytes_read: self.bytes_read,
        };
        crate::data::nothing_usable_reason(&stats, self.pairs)
    }
}

/// How a report's pairs were chosen from the loaded data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleInfo {
    /// `inputs`: a seeded sample of inputs with all the pairs of each
    /// (`--sample N`); `first_pairs`: the first N pairs in file order
    /// (`--limit N`).
    pub method: String,
    /// The N asked for (inputs or pairs).
    pub requested: u64,
    /// Inputs and pairs loaded, before the selection.
    pub inputs_loaded: u64,
    pub pairs_loaded: u64,
    /// The seed of the draw (`inputs` only): the same seed draws the same inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// How the report was computed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub task: String,
    /// Requested factor ids.
    pub factors: Vec<String>,
    pub bootstrap_resamples: u32,
    pub seed: u64,
    pub ci_level: f64,
    /// What the bootstrap resamples.
    pub resampling_unit: String,
    /// Factor values closer than this tie.
    pub factor_tie_tolerance: f64,
    /// The definitions of the custom factors among `factors` (a factor
    /// pack), so that the report can be reproduced from the data and the
    /// report alone. Absent when only built-in factors were asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_pack: Option<crate::factors::pack::FactorPack>,
}

/// Taxonomy entry of a factor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactorMeta {
    pub id: String,
    pub name: String,
    pub level2: String,
    pub level3: String,
    pub extraction: String,
    pub value: String,
    /// A custom factor (from the report's `config.factor_pack`), not one of
    /// the taxonomy's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom: bool,
}

/// A requested factor that was not computed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkippedFactor {
    pub id: String,
    pub reason: String,
}

/// One agent's factor-level preferences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// `human`, or a model run's name.
    pub name: String,
    pub setting: Setting,
    /// How ties counted for this agent's setting.
    pub tie_policy: String,
    pub factor_scores: BTreeMap<String, FactorScoreEntry>,
    /// Factor ids by descending score (factors without a score last).
    pub ranking: Vec<String>,
    /// For a model agent: the run behind it (judge or writer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<AgentRun>,
    /// The joint model of preference on all factor differences, if fitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joint: Option<JointModel>,
    /// A judge of a guided-judging experiment: the guidance it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<AgentGuidance>,
}

/// A model's run as a judge (evaluation setting) or writer (generation
/// setting): what it was, what it did, and how it went.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentRun {
    /// `judge` or `writer`.
    pub kind: String,
    pub provider: String,
    pub model: String,
    pub base_url: String,
    /// Dataset pairs judged (with every verdict), or inputs written for.
    pub items: u64,
    /// Items asked about (judged or not).
    pub items_planned: u64,
    /// Judges: both orders shown (position-bias control).
    #[serde(default)]
    pub both_orders: bool,
    /// Judges in single order: the seed of the coin flip per pair that picks
    /// which response is shown first (never the dataset's order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_seed: Option<u64>,
    /// Judges in single order: judged pairs shown with response B first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swapped: Option<u64>,
    /// Judges: share of pairs where the judge's preference equals the human
    /// label (a judge tie counts as disagreement; in both orders so does a
    /// pair whose two verdicts differ, a position flip included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<f64>,
    /// Judges: agreement with every verdict counted on its own, averaged over
    /// the orders shown (a position flip counts one half). The agreement that
    /// is comparable between single-order and both-order judges; in single
    /// order it equals `agreement`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_order_averaged: Option<f64>,
    /// Judges: share of pairs the judge called a tie (in both orders: in
    /// both). Position flips are not ties: see `flipped_share`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie_rate: Option<f64>,
    /// Judges (both orders): share of pairs with the same verdict in both orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_consistency: Option<f64>,
    /// Judges (both orders): share of pairs whose verdict followed the
    /// position (response 1 both times, or response 2 both times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flipped_share: Option<f64>,
    /// Judges (both orders): share of pairs called a tie in one order only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_tie_share: Option<f64>,
    /// Judges: share of the non-tie verdicts that named the response shown
    /// first (about one half for a judge that reads the content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_position_share: Option<f64>,
    /// Writers: pairs of the generated dataset (10 per input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_pairs: Option<u64>,
    pub calls: u64,
    pub cache_hits: u64,
    pub failed: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Items that failed, with the reason and the raw reply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<serde_json::Value>,
    /// Writers: the factor extraction run over the generated responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction: Option<LlmRun>,
    /// A run on a sample of the report's data (`--sample`/`--limit`): how
    /// the sample was drawn, and the pairs it covered as their file lines
    /// in ranges (`"1-8"`, `"3,7,10-12"`). Its alignment with the humans is
    /// computed on those pairs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs_covered: Option<String>,
}

/// The joint model of an agent's preferences on all its factors' differences
/// (see [`crate::stats::joint`] for the method and its choices).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointModel {
    /// What was fitted, in words.
    pub method: String,
    /// λ of the L2 penalty on the standardised coefficients.
    pub penalty: f64,
    /// How each factor's differences were scaled, in words.
    pub scaling: String,
    pub n_pairs_used: u64,
    /// Pairs the agent called a tie (not used).
    pub n_pairs_dropped_tie: u64,
    /// Pairs with some factor value missing (not used).
    pub n_pairs_dropped_missing: u64,
    /// Unpenalised log-likelihood at the fit; `null` without pairs.
    pub log_likelihood: Option<f64>,
    pub converged: bool,
    pub iterations: u32,
    pub bootstrap_resamples: u32,
    /// Resamples left out of the intervals (no usable pair, or no convergence).
    pub bootstrap_failed: u32,
    /// Resamples behind the intervals (`bootstrap_resamples − bootstrap_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_resamples_used: Option<u32>,
    /// Inputs with a pair used: what the intervals were resampled from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<u64>,
    /// The intervals come from fewer than
    /// [`MIN_INPUTS_FOR_INTERVALS`](crate::stats::MIN_INPUTS_FOR_INTERVALS) inputs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub few_inputs: bool,
    /// How resamples were refitted.
    pub bootstrap_refit: Refit,
    /// Resamples refitted to convergence (the others kept the first step from the fit).
    pub bootstrap_refitted: u32,
    /// One entry per factor in the model, by factor id.
    pub coefficients: BTreeMap<String, JointCoefficient>,
    /// What each factor entered the model as: `sign` (the sign of its
    /// difference, the default) or `scaled`. Older reports: scaled.
    #[serde(default = "scaled_covariate")]
    pub covariate: Covariate,
    /// Joint Wald tests (cluster-robust covariance) of the pairs of fitted
    /// factors whose covariates correlate by at least 0.7 in absolute value:
    /// the model cannot tell such factors apart, but can test them together.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pair_tests: Vec<JointPairTest>,
    /// Why the model could not be estimated (every pair tied on every factor,
    /// no usable pair, no factor); absent when it was fitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_estimable: Option<String>,
}

fn scaled_covariate() -> Covariate {
    Covariate::Scaled
}

/// A joint test of two factors the joint model cannot tell apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointPairTest {
    /// The two factor ids.
    pub factors: [String; 2],
    /// The correlation of their covariates.
    pub correlation: f64,
    /// Wald statistic of "both coefficients are 0".
    pub wald: f64,
    /// Its degrees of freedom (2; 1 when the covariates coincide and only
    /// their combined effect is identified).
    pub df: u32,
    pub p_value: f64,
}

/// One factor's coefficient in the joint model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointCoefficient {
    /// β: with the sign covariate, the change in the log-odds of preferring a
    /// over b associated with this factor favouring a, given the signs of the
    /// other factors (an association in a possibly misspecified model, not
    /// the effect of changing the factor with the others held fixed); `null`
    /// when the factor is not estimable (see `not_estimable`).
    pub coefficient: Option<f64>,
    /// Cluster-robust (sandwich) standard error, clustered by input.
    /// Reports written before it existed carry the penalised-Hessian one.
    pub se: Option<f64>,
    /// 95% cluster-bootstrap percentile interval.
    pub ci95: Option<[f64; 2]>,
    /// What the factor's difference was divided by: 1 for the sign
    /// covariate; for the scaled one its root mean square over the pairs
    /// used (β / s is then the effect per unit); 0 when not fitted.
    pub scale: f64,
    /// Why the factor has no coefficient, when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_estimable: Option<String>,
    /// How this factor's differences go together with the other factors'
    /// (uncentred correlation over the pairs used, by factor id): what the
    /// joint model has to tell apart.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub correlations: BTreeMap<String, f64>,
}

impl JointModel {
    /// The report form of a fit; `ids[i]` names factor `i` of the fit.
    pub fn from_fit(ids: &[&str], fit: &JointFit) -> JointModel {
        let correlations = |f: &crate::stats::JointFactor| -> BTreeMap<String, f64> {
            ids.iter()
                .zip(&f.correlations)
                .filter_map(|(id, c)| Some(((*id).to_owned(), (*c)?)))
                .collect()
        };
        assert_eq!(ids.len(), fit.factors.len(), "one id per factor");
        let (method, scaling) = match fit.covariate {
            Covariate::Sign => (
                "Bradley–Terry (logistic regression without intercept) on the signs of the factor differences, L2-penalised, Newton/IRLS; cluster-robust standard errors by input",
                "each factor enters as the sign (−1, 0, +1) of its difference v(a) − v(b); differences below the tie tolerance count as 0",
            ),
            Covariate::Scaled => (
                "Bradley–Terry (logistic regression without intercept) on standardised factor differences, L2-penalised, Newton/IRLS; cluster-robust standard errors by input",
                "each factor's difference v(a) − v(b) divided by its root mean square over the pairs used; differences below the tie tolerance count as 0",
            ),
        };
        JointModel {
            method: method.into(),
            penalty: fit.penalty,
            scaling: scaling.into(),
            covariate: fit.covariate,
            pair_tests: fit
                .pair_tests
                .iter()
                .map(|t| JointPairTest {
                    factors: [ids[t.factors[0]].to_owned(), ids[t.factors[1]].to_owned()],
                    correlation: t.correlation,
                    wald: t.wald,
                    df: t.df,
                    p_value: t.p_value,
                })
                .collect(),
            not_estimable: fit.not_estimable.clone(),
            n_pairs_used: fit.n_pairs_used,
            n_pairs_dropped_tie: fit.n_pairs_dropped_tie,
            n_pairs_dropped_missing: fit.n_pairs_dropped_missing,
            log_likelihood: fit.log_likelihood,
            converged: fit.converged,
            iterations: fit.iterations,
            bootstrap_resamples: fit.bootstrap_resamples,
            bootstrap_failed: fit.bootstrap_failed,
            bootstrap_resamples_used: (fit.bootstrap_resamples > 0)
                .then(|| fit.bootstrap_resamples - fit.bootstrap_failed),
            inputs: Some(fit.n_inputs_used),
            few_inputs: fit.bootstrap_resamples > 0
                && fit.n_inputs_used < crate::stats::MIN_INPUTS_FOR_INTERVALS,
            bootstrap_refit: fit.refit,
            bootstrap_refitted: fit.bootstrap_refitted,
            coefficients: ids
                .iter()
                .zip(&fit.factors)
                .map(|(id, f)| {
                    (
                        (*id).to_owned(),
                        JointCoefficient {
                            coefficient: f.coefficient,
                            se: f.se,
                            ci95: f.ci95,
                            scale: f.scale,
                            not_estimable: f.not_estimable.clone(),
                            correlations: correlations(f)
                                .into_iter()
                                .filter(|(other, _)| other != id)
                                .collect(),
                        },
                    )
                })
                .collect(),
        }
    }
}

/// One factor score with its counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FactorScoreEntry {
    pub score: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub concordant: u64,
    pub discordant: u64,
    pub ties: u64,
    /// Pairs the tie policy leaves out: factor ties (human and evaluation
    /// settings). Reports written before `missing` existed count missing
    /// values here too.
    pub dropped: u64,
    /// Pairs that could not be compared because a value is missing: a
    /// factor value whose extraction failed (the pairs the factor lost to
    /// failed extraction) or, for a judge, a missing verdict. Optional: older
    /// reports have none.
    #[serde(default)]
    pub missing: u64,
    /// All pairs considered: C + D + T + dropped + missing.
    pub n_pairs: u64,
    /// Inputs with at least one countable pair (C, D or T) for this factor:
    /// what the interval was resampled from. Optional: older reports have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<u64>,
    /// Bootstrap resamples behind the interval: those with a countable pair
    /// (a resample that drew none is left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_resamples_used: Option<u32>,
    /// The interval comes from fewer than
    /// [`MIN_INPUTS_FOR_INTERVALS`](crate::stats::MIN_INPUTS_FOR_INTERVALS)
    /// inputs: its coverage is well below 95%.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub few_inputs: bool,
}

impl From<&FactorScore> for FactorScoreEntry {
    fn from(s: &FactorScore) -> Self {
        FactorScoreEntry {
            score: s.score,
            ci95: s.ci95,
            concordant: s.counts.concordant,
            discordant: s.counts.discordant,
            ties: s.counts.ties,
            dropped: s.counts.dropped,
            missing: s.counts.missing,
            n_pairs: s.counts.n_pairs(),
            inputs: Some(s.inputs),
            bootstrap_resamples_used: s.ci95.map(|_| s.resamples_used),
            few_inputs: s.ci95.is_some() && s.inputs < crate::stats::MIN_INPUTS_FOR_INTERVALS,
        }
    }
}

/// Factor-level alignment of one agent with a reference agent (METHOD.md §3).
#[derive(Clone, Default, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alignment {
    pub agent: String,
    pub reference: String,
    /// Factors scored for both, in the order correlated.
    pub factors: Vec<String>,
    pub n_factors: usize,
    pub kendall_tau: Option<f64>,
    pub spearman_rho: Option<f64>,
    pub pearson_r: Option<f64>,
    /// 95% paired cluster-bootstrap intervals (both agents' inputs drawn together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kendall_tau_ci95: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spearman_rho_ci95: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pearson_r_ci95: Option<[f64; 2]>,
    /// Resamples of the paired bootstrap, and how many had every factor scored for both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_resamples: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_resamples_used: Option<u32>,
    /// Two-sided permutation p-values (the agent's factor labels shuffled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kendall_tau_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spearman_rho_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pearson_r_p: Option<f64>,
    /// Permutations behind the p-values, and whether all were enumerated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permutations: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permutation_exact: Option<bool>,
    /// For a judge: agreement with the human labels on the same pairs (with its tie rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Agreement>,
    /// For a judge run in both orders: share of pairs with the same verdict
    /// (the same response, or a tie both times) in both orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_consistency: Option<f64>,
    /// For a judge run in both orders: share of pairs whose verdict named the
    /// other response once the order was swapped (it followed the position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flipped_share: Option<f64>,
    /// Per factor (by id): agent − reference factor score with its 95%
    /// paired cluster-bootstrap interval (both agents' inputs drawn
    /// together). The summary names a gap only where the interval excludes 0.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub score_differences: BTreeMap<String, ScoreDifference>,
    /// For an agent run on a sample of the report's data: the reference's
    /// factor scores on the same pairs (what the correlations and
    /// differences compare with; the reference agent's own scores cover all
    /// pairs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_scores: Option<BTreeMap<String, Option<f64>>>,
}

/// One factor's model − human score difference.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreDifference {
    pub estimate: f64,
    pub ci95: Option<[f64; 2]>,
}

/// One agent's factor scores as the cluster table they were computed from,
/// for alignment intervals.
#[derive(Clone, Copy, Debug)]
pub struct AgentTable<'a> {
    pub name: &'a str,
    /// The factor id of each table column.
    pub factors: &'a [String],
    /// Per-input outcome counts; cluster ids must be the dataset's input ids.
    pub table: &'a ClusterTable,
}

/// How alignment intervals and p-values are computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlignmentConfig {
    pub bootstrap: BootstrapConfig,
    pub permutation: PermutationConfig,
}

impl Alignment {
    /// As [`Alignment::between`], with permutation p-values.
    pub fn between_tested(
        agent: &str,
        scores: &BTreeMap<String, Option<f64>>,
        reference: &str,
        reference_scores: &BTreeMap<String, Option<f64>>,
        permutation: PermutationConfig,
    ) -> Alignment {
        let (factors, x, y) = shared_scores(scores, reference_scores);
        let mut a = Alignment::between(agent, scores, reference, reference_scores);
        debug_assert_eq!(a.factors, factors);
        a.set_permutation_test(&x, &y, permutation);
        a
    }

    /// Alignment of `agent` with `reference` from their cluster tables: the
    /// factor scores (factors scored by both, as in [`Alignment::between`]),
    /// the correlations, their 95% paired cluster-bootstrap intervals and
    /// permutation p-values.
    ///
    /// # Errors
    /// [`ClusterMismatch`] when the tables do not have the same clusters:
    /// both must be indexed by the dataset's input ids.
    pub fn between_with_bootstrap(
        agent: &AgentTable<'_>,
        reference: &AgentTable<'_>,
        cfg: &AlignmentConfig,
    ) -> Result<Alignment, ClusterMismatch> {
        let scores = |t: &AgentTable<'_>| -> BTreeMap<String, (usize, Option<f64>)> {
            t.factors
                .iter()
                .enumerate()
                .map(|(i, f)| (f.clone(), (i, t.table.totals(i).score())))
                .collect()
        };
        let (sa, sr) = (scores(agent), scores(reference));
        let plain = |m: &BTreeMap<String, (usize, Option<f64>)>| {
            m.iter().map(|(k, v)| (k.clone(), v.1)).collect()
        };
        let mut a = Alignment::between_tested(
            agent.name,
            &plain(&sa),
            reference.name,
            &plain(&sr),
            cfg.permutation,
        );
        let cols_a: Vec<usize> = a.factors.iter().map(|f| sa[f].0).collect();
        let cols_r: Vec<usize> = a.factors.iter().map(|f| sr[f].0).collect();
        let iv = alignment_intervals(
            agent.table,
            &cols_a,
            reference.table,
            &cols_r,
            cfg.bootstrap,
        )?;
        if cfg.bootstrap.resamples > 0 {
            a.kendall_tau_ci95 = a.kendall_tau.and(iv.kendall_tau);
            a.spearman_rho_ci95 = a.spearman_rho.and(iv.spearman_rho);
            a.pearson_r_ci95 = a.pearson_r.and(iv.pearson_r);
            a.bootstrap_resamples = Some(iv.resamples);
            a.bootstrap_resamples_used = Some(iv.resamples_used);
        }
        for (i, f) in a.factors.iter().enumerate() {
            if let (Some(x), Some(y)) = (sa[f].1, sr[f].1) {
                a.score_differences.insert(
                    f.clone(),
                    ScoreDifference {
                        estimate: x - y,
                        ci95: if cfg.bootstrap.resamples > 0 {
                            iv.score_differences[i]
                        } else {
                            None
                        },
                    },
                );
            }
        }
        Ok(a)
    }

    fn set_permutation_test(&mut self, x: &[f64], y: &[f64], cfg: PermutationConfig) {
        if cfg.permutations == 0 {
            return;
        }
        let t = permutation_test(x, y, cfg);
        self.kendall_tau_p = t.kendall_tau;
        self.spearman_rho_p = t.spearman_rho;
        self.pearson_r_p = t.pearson_r;
        self.permutations = Some(t.permutations);
        self.permutation_exact = Some(t.exact);
    }

    /// Correlates the factor scores two agents share (factors scored by both).
    pub fn between(
        agent: &str,
        scores: &BTreeMap<String, Option<f64>>,
        reference: &str,
        reference_scores: &BTreeMap<String, Option<f64>>,
    ) -> Alignment {
        let (factors, x, y) = shared_scores(scores, reference_scores);
        Alignment {
            agent: agent.to_owned(),
            reference: reference.to_owned(),
            n_factors: factors.len(),
            factors,
            kendall_tau: kendall_tau_b(&x, &y),
            spearman_rho: spearman_rho(&x, &y),
            pearson_r: pearson_r(&x, &y),
            kendall_tau_ci95: None,
            spearman_rho_ci95: None,
            pearson_r_ci95: None,
            bootstrap_resamples: None,
            bootstrap_resamples_used: None,
            kendall_tau_p: None,
            spearman_rho_p: None,
            pearson_r_p: None,
            permutations: None,
            permutation_exact: None,
            agreement: None,
            position_consistency: None,
            flipped_share: None,
            score_differences: BTreeMap::new(),
            reference_scores: None,
        }
    }
}

/// The factors scored by both agents (in id order) with the agent's scores
/// (x) and the reference's (y).
fn shared_scores(
    scores: &BTreeMap<String, Option<f64>>,
    reference_scores: &BTreeMap<String, Option<f64>>,
) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    let (mut factors, mut x, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for (f, s) in reference_scores {
        if let (Some(r), Some(Some(a))) = (s, scores.get(f)) {
            factors.push(f.clone());
            y.push(*r);
            x.push(*a);
        }
    }
    (factors, x, y)
}

impl Agent {
    /// The factor scores as a plain map, for alignment.
    pub fn score_map(&self) -> BTreeMap<String, Option<f64>> {
        self.factor_scores
            .iter()
            .map(|(k, v)| (k.clone(), v.score))
            .collect()
    }
}

/// Factor ids ordered by descending score, unscored last, ties by id.
pub fn ranking(scores: &BTreeMap<String, FactorScoreEntry>) -> Vec<String> {
    let mut ids: Vec<(&String, Option<f64>)> = scores.iter().map(|(k, v)| (k, v.score)).collect();
    crate::data::sort::sort_by(&mut ids, |(ia, a), (ib, b)| match (a, b) {
        (Some(a), Some(b)) => b.total_cmp(a).then_with(|| ia.cmp(ib)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => ia.cmp(ib),
    });
    ids.into_iter().map(|(k, _)| k.clone()).collect()
}

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportError {
    /// Not JSON, or not the report's shape.
    Invalid(String),
    /// A `schema` this version does not read.
    UnsupportedSchema(String),
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::Invalid(e) => write!(f, "not a PROFILE report: {e}"),
            ReportError::UnsupportedSchema(s) => {
                write!(
                    f,
                    "unsupported report schema {s:?} (this version reads {SCHEMA:?})"
                )
            }
        }
    }
}

impl std::error::Error for ReportError {}

/// Compact JSON text (as `serde_json::to_string` writes it: no whitespace
/// outside strings) indented as `serde_json::to_string_pretty` indents it:
/// two spaces a level, `": "` after a key, empty arrays and objects as
/// `[]` and `{}`.
pub fn pretty_json(compact: &str) -> String {
    fn newline(out: &mut String, depth: usize) {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
    let b = compact.as_bytes();
    let mut out = String::with_capacity(b.len() + b.len() / 2);
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // A string, escapes included; every byte that ends or
                // escapes it is ASCII, so the cuts are on char boundaries.
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(b.len());
                out.push_str(&compact[start..i]);
                continue;
            }
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                out.push(char::from(open));
                if b.get(i + 1) == Some(&close) {
                    out.push(char::from(close));
                    i += 2;
                    continue;
                }
                depth += 1;
                newline(&mut out, depth);
            }
            close @ (b'}' | b']') => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(char::from(close));
            }
            b',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            b':' => out.push_str(": "),
            _ => {
                let start = i;
                while i < b.len() && !matches!(b[i], b'"' | b'{' | b'[' | b'}' | b']' | b',' | b':')
                {
                    i += 1;
                }
                out.push_str(&compact[start..i]);
                continue;
            }
        }
        i += 1;
    }
    out
}

impl Report {
    /// Parses and checks a report.
    ///
    /// # Errors
    /// [`ReportError`] when the text is not a report of a supported schema.
    pub fn from_json(text: &str) -> Result<Report, ReportError> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ReportError::Invalid(e.to_string()))?;
        match v.get("schema").and_then(|s| s.as_str()) {
            Some(SCHEMA) => {}
            Some(other) => return Err(ReportError::UnsupportedSchema(other.to_owned())),
            None => return Err(ReportError::Invalid("no \"schema\" field".into())),
        }
        serde_json::from_value(v).map_err(|e| ReportError::Invalid(e.to_string()))
    }

    /// The report as pretty JSON.
    ///
    /// The compact JSON, indented by [`pretty_json`] (exactly
    /// `serde_json::to_string_pretty`'s text): the web app's first-load
    /// module then links the report's serialisation once, the compact one
    /// its worker sends the report with.
    pub fn to_json_pretty(&self) -> String {
        pretty_json(&serde_json::to_string(self).expect("a report always serialises"))
    }

    /// The agent with this name.
    pub fn agent(&self, name: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// CSV of all factor scores: one row per agent and factor.
    pub fn factor_scores_csv(&self) -> String {
        let mut out = String::from("agent,setting,factor,score,ci95_low,ci95_high,concordant,discordant,ties,dropped,missing,n_pairs\n");
        let num = |x: Option<f64>| x.map(|v| format!("{v}")).unwrap_or_default();
        for a in &self.agents {
            for id in &a.ranking {
                let s = &a.factor_scores[id];
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    csv_field(&a.name),
                    a.setting.id(),
                    id,
                    num(s.score),
                    num(s.ci95.map(|c| c[0])),
                    num(s.ci95.map(|c| c[1])),
                    s.concordant,
                    s.discordant,
                    s.ties,
                    s.dropped,
                    s.missing,
                    s.n_pairs
                ));
            }
        }
        out
    }
}

/// Quotes a CSV field when needed (RFC 4180), and defuses leading formula characters.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}
