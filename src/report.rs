//! The versioned report: the one contract shared by the CLI, the web app,
//! exports and widgets.
//!
//! `schema` is `"profile-report/1"`. Readers must reject other major versions;
//! fields may be added within a version, never renamed or removed. Numbers that
//! cannot be computed (no countable pair, a constant vector) are `null`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Diagnostic;
use crate::stats::{kendall_tau_b, pearson_r, spearman_rho, FactorScore, Setting};

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
}

/// What an LLM extraction run did (calls, cache hits, failures, tokens).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmRun {
    pub provider: String,
    pub model: String,
    pub base_url: String,
    /// `name@version` of every template used.
    pub templates: Vec<String>,
    /// Pairs the run covered (`--limit`).
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
    /// Questions (cached or called) per unique response, sources excluded.
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
    /// Judges: share of pairs where the verdict equals the human label (a
    /// judge tie counts as disagreement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie_rate: Option<f64>,
    /// Judges (both orders): share of pairs with the same verdict in both orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_consistency: Option<f64>,
    /// Judges (both orders): share of pairs whose verdict followed the position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flipped_share: Option<f64>,
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
}

/// One factor score with its counts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactorScoreEntry {
    pub score: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub concordant: u64,
    pub discordant: u64,
    pub ties: u64,
    pub dropped: u64,
    pub n_pairs: u64,
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
            n_pairs: s.counts.n_pairs(),
        }
    }
}

/// Factor-level alignment of one agent with a reference agent (METHOD.md §3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alignment {
    pub agent: String,
    pub reference: String,
    /// Factors scored for both, in the order correlated.
    pub factors: Vec<String>,
    pub n_factors: usize,
    pub kendall_tau: Option<f64>,
    pub spearman_rho: Option<f64>,
    pub pearson_r: Option<f64>,
}

impl Alignment {
    /// Correlates the factor scores two agents share (factors scored by both).
    pub fn between(
        agent: &str,
        scores: &BTreeMap<String, Option<f64>>,
        reference: &str,
        reference_scores: &BTreeMap<String, Option<f64>>,
    ) -> Alignment {
        let (mut factors, mut x, mut y) = (Vec::new(), Vec::new(), Vec::new());
        for (f, s) in reference_scores {
            if let (Some(r), Some(Some(a))) = (s, scores.get(f)) {
                factors.push(f.clone());
                y.push(*r);
                x.push(*a);
            }
        }
        Alignment {
            agent: agent.to_owned(),
            reference: reference.to_owned(),
            n_factors: factors.len(),
            factors,
            kendall_tau: kendall_tau_b(&x, &y),
            spearman_rho: spearman_rho(&x, &y),
            pearson_r: pearson_r(&x, &y),
        }
    }
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
    ids.sort_by(|(ia, a), (ib, b)| match (a, b) {
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
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// The agent with this name.
    pub fn agent(&self, name: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// CSV of all factor scores: one row per agent and factor.
    pub fn factor_scores_csv(&self) -> String {
        let mut out = String::from("agent,setting,factor,score,ci95_low,ci95_high,concordant,discordant,ties,dropped,n_pairs\n");
        let num = |x: Option<f64>| x.map(|v| format!("{v}")).unwrap_or_default();
        for a in &self.agents {
            for id in &a.ranking {
                let s = &a.factor_scores[id];
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{},{},{}\n",
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
