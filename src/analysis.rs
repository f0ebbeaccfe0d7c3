//! From a loaded dataset to a report: rule-based factor values, factor scores
//! with bootstrap intervals for the human agent, and the report around them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::{Dataset, Diagnostic};
use crate::factors::rules::RuleExtractor;
use crate::factors::{Factor, Task};
use crate::report::{
    ranking, Agent, DatasetSummary, FactorMeta, FactorScoreEntry, JointModel, Report, RunConfig,
    SampleInfo, SkippedFactor, MAX_REPORT_DIAGNOSTICS, SCHEMA,
};
use crate::stats::{
    classify, compare, fit_joint, BootstrapConfig, ClusterTable, JointConfig, JointPairs, Outcome,
    Setting, FACTOR_TIE_TOLERANCE,
};

/// What to compute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreConfig {
    /// The task preset (also the default factor set).
    pub task: Task,
    /// The factors to report; `None` = the task preset.
    pub factors: Option<Vec<Factor>>,
    pub bootstrap: BootstrapConfig,
}

impl ScoreConfig {
    /// The preset for `task` with default bootstrap settings.
    pub fn for_task(task: Task) -> Self {
        ScoreConfig {
            task,
            factors: None,
            bootstrap: BootstrapConfig::default(),
        }
    }

    /// The requested factors, in order, without duplicates.
    pub fn requested(&self) -> Vec<Factor> {
        let mut out: Vec<Factor> = Vec::new();
        for &f in self.factors.as_deref().unwrap_or(self.task.factors()) {
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }
}

/// Extra facts about the input for the report's dataset summary.
#[derive(Clone, Debug, Default)]
pub struct DatasetInfo {
    pub name: Option<String>,
    pub label: Option<String>,
    /// How the pairs were chosen, when they are part of the loaded data.
    pub sample: Option<SampleInfo>,
}

/// Which pairs of a loaded dataset a run covers. The CLI (`--sample`,
/// `--limit`) and the app's sample field both go through [`Selection::apply`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Selection {
    /// Every pair.
    #[default]
    All,
    /// The first `n` pairs in file order (`--limit`). On grouped data this
    /// is a handful of inputs (SummEval's first 500 pairs are 5 articles),
    /// biased toward whatever the file lists first.
    FirstPairs { n: usize },
    /// `n` inputs drawn uniformly without replacement with `seed`, with all
    /// the pairs of each (`--sample`): the resampling unit of the bootstrap,
    /// so intervals stay honest.
    Inputs { n: usize, seed: u64 },
}

/// Keeps the sample draw apart from the bootstrap's draws of the same seed.
const SAMPLE_STREAM: u64 = 0x5341_4d50_4c45_494e;

impl Selection {
    /// Reduces `ds` to the selected pairs (cluster ids dense again) and says
    /// how they were chosen; `None` when every pair is kept.
    pub fn apply(self, ds: &mut Dataset) -> Option<SampleInfo> {
        let (inputs_loaded, pairs_loaded) = (u64::from(ds.n_clusters), ds.pairs.len() as u64);
        let (method, requested, seed) = match self {
            Selection::All => return None,
            Selection::FirstPairs { n } => {
                if n >= ds.pairs.len() {
                    return None;
                }
                ds.truncate_pairs(n);
                ("first_pairs", n, None)
            }
            Selection::Inputs { n, seed } => {
                if n >= ds.n_clusters as usize {
                    return None;
                }
                let mut rng = crate::stats::Rng::new(seed ^ SAMPLE_STREAM);
                let mut keep = vec![false; ds.n_clusters as usize];
                for c in rng.sample_indices(keep.len(), n) {
                    keep[c] = true;
                }
                ds.keep_clusters(&keep);
                ("inputs", n, Some(seed))
            }
        };
        Some(SampleInfo {
            method: method.into(),
            requested: requested as u64,
            inputs_loaded,
            pairs_loaded,
            seed,
        })
    }
}

/// The reason a factor is skipped when no model is configured.
pub fn no_model_reason(f: Factor) -> String {
    format!(
        "needs a language model ({}); no model is configured",
        f.info().extraction.label()
    )
}

/// Human factor scores for the rule-based factors among those requested
/// (and the model-based ones `llm` has values for).
///
/// Returns the scored factors in request order and their scores.
pub fn human_scores(
    ds: &Dataset,
    factors: &[Factor],
    bootstrap: BootstrapConfig,
    rules: &mut RuleExtractor,
    llm: Option<&LlmValues>,
) -> Vec<(Factor, FactorScoreEntry)> {
    human_scores_collecting(ds, factors, bootstrap, rules, llm, None)
}

/// As [`human_scores`]; with `differences`, also appends every pair's factor
/// differences v(a) − v(b) for the scored factors, pair-major in pair order
/// (`NaN` where a value is missing), for [`human_joint`].
pub fn human_scores_collecting(
    ds: &Dataset,
    factors: &[Factor],
    bootstrap: BootstrapConfig,
    rules: &mut RuleExtractor,
    llm: Option<&LlmValues>,
    differences: Option<&mut Vec<f64>>,
) -> Vec<(Factor, FactorScoreEntry)> {
    let (scored, table) = human_table(ds, factors, rules, llm, differences);
    scored_entries(scored, &table, bootstrap)
}

fn scored_entries(
    scored: Vec<Factor>,
    table: &ClusterTable,
    bootstrap: BootstrapConfig,
) -> Vec<(Factor, FactorScoreEntry)> {
    let scores = table.scores(bootstrap);
    scored
        .into_iter()
        .zip(scores.iter().map(FactorScoreEntry::from))
        .collect()
}

/// The human agent's per-input outcome counts for the factors that can be
/// scored (returned with the table, in column order): what its factor
/// scores are computed from, and the reference side of
/// [`Alignment::between_with_bootstrap`](crate::report::Alignment::between_with_bootstrap)
/// (cluster ids are the dataset's input ids). With `differences`, also
/// appends every pair's differences as [`human_scores_collecting`] does.
pub fn human_table(
    ds: &Dataset,
    factors: &[Factor],
    rules: &mut RuleExtractor,
    llm: Option<&LlmValues>,
    differences: Option<&mut Vec<f64>>,
) -> (Vec<Factor>, ClusterTable) {
    agent_table(ds, factors, rules, llm, Setting::Human, None, differences)
}

/// An agent's factor scores on `ds`: the human labels (`prefs` = `None`) or
/// another agent's preference per pair (`None` for a pair: no verdict, the
/// pair is dropped), counted with `setting`'s tie policy.
pub fn agent_scores(
    ds: &Dataset,
    factors: &[Factor],
    bootstrap: BootstrapConfig,
    rules: &mut RuleExtractor,
    llm: Option<&LlmValues>,
    setting: Setting,
    prefs: Option<&[Option<crate::data::Preference>]>,
) -> Vec<(Factor, FactorScoreEntry)> {
    let (scored, table) = agent_table(ds, factors, rules, llm, setting, prefs, None);
    scored_entries(scored, &table, bootstrap)
}

/// The per-input outcome table of an agent (see [`agent_scores`]), with the
/// factors it scores in column order; with `differences`, also every pair's
/// factor differences, pair-major (`NaN` where a value is missing).
pub fn agent_table(
    ds: &Dataset,
    factors: &[Factor],
    rules: &mut RuleExtractor,
    llm: Option<&LlmValues>,
    setting: Setting,
    prefs: Option<&[Option<crate::data::Preference>]>,
    mut differences: Option<&mut Vec<f64>>,
) -> (Vec<Factor>, ClusterTable) {
    let scored: Vec<Factor> = factors
        .iter()
        .copied()
        .filter(|f| !f.needs_model() || llm.is_some_and(|l| l.covers(*f)))
        .collect();
    let mut table = ClusterTable::new(scored.len(), ds.n_clusters as usize);
    if let Some(d) = differences.as_deref_mut() {
        d.reserve(ds.pairs.len() * scored.len());
    }
    for (i, pair) in ds.pairs.iter().enumerate() {
        let ctx = pair.context();
        let p = match prefs {
            None => Some(pair.preference.sign()),
            Some(ps) => ps.get(i).copied().flatten().map(|p| p.sign()),
        };
        for (fi, &f) in scored.iter().enumerate() {
            let mut value = |t| match (f.needs_model(), llm) {
                (true, Some(l)) => l
                    .imported
                    .get(ds.text(t), f)
                    .or_else(|| l.answers.value(f, pair, t, l.options)),
                _ => rules.value(f, &ds.texts, t, ctx),
            };
            // A value the model could not give (a failed item), or a missing
            // verdict, makes the pair missing: counted apart from factor ties.
            let va = value(pair.a).unwrap_or(f64::NAN);
            let vb = value(pair.b).unwrap_or(f64::NAN);
            if let Some(d) = differences.as_deref_mut() {
                d.push(va - vb);
            }
            let outcome = match (p, compare(va, vb)) {
                (Some(p), Some(m)) => classify(setting, p, m),
                _ => Outcome::Missing,
            };
            table.add(fi, pair.cluster, outcome);
        }
    }
    (scored, table)
}

/// The human agent's joint model over `factors` (the scored ones, in the
/// order of `differences`' columns), from the per-pair differences
/// [`human_scores_collecting`] gathered; bootstrap settings as the factor scores'.
pub fn human_joint(
    ds: &Dataset,
    factors: &[Factor],
    differences: &[f64],
    bootstrap: BootstrapConfig,
) -> JointModel {
    let preferences: Vec<i8> = ds.pairs.iter().map(|p| p.preference.sign()).collect();
    joint_model(ds, factors, differences, &preferences, bootstrap)
}

/// An agent's joint model: `preferences[i]` is its sign on pair `i` (0: a tie
/// or no verdict, left out of the fit).
pub fn joint_model(
    ds: &Dataset,
    factors: &[Factor],
    differences: &[f64],
    preferences: &[i8],
    bootstrap: BootstrapConfig,
) -> JointModel {
    let clusters: Vec<u32> = ds.pairs.iter().map(|p| p.cluster).collect();
    let fit = fit_joint(
        &JointPairs {
            n_factors: factors.len(),
            differences,
            preferences,
            clusters: &clusters,
            n_clusters: ds.n_clusters,
        },
        &JointConfig::with_bootstrap(bootstrap),
    );
    let ids: Vec<&str> = factors.iter().map(|f| f.id()).collect();
    JointModel::from_fit(&ids, &fit)
}

/// The dataset part of a report.
pub fn dataset_summary(ds: &Dataset, info: &DatasetInfo) -> DatasetSummary {
    let st = &ds.stats;
    DatasetSummary {
        name: info.name.clone(),
        format: ds.format.map_or("unknown", |f| f.name()).to_owned(),
        label: info.label.clone(),
        records_read: st.records_read,
        records_parsed: st.records_parsed,
        records_skipped: st.records_skipped,
        pairs: ds.pairs.len() as u64,
        human_ties_dropped: st.human_ties_dropped,
        pairs_dropped_other: st.pairs_dropped_other,
        pairs_dropped_reason: st.pairs_dropped_reason.clone(),
        inputs: ds.n_clusters as u64,
        unique_texts: ds.texts.len() as u64,
        bytes_read: st.bytes_read,
        diagnostics: ds
            .diagnostics
            .iter()
            .take(MAX_REPORT_DIAGNOSTICS)
            .cloned()
            .collect::<Vec<Diagnostic>>(),
        diagnostics_total: ds.diagnostics.len() as u64,
        sample: info.sample.clone(),
    }
}

/// Builds the report for the human agent: rule-based factors scored, factors
/// that need a model listed as skipped.
pub fn score_report(ds: &Dataset, cfg: &ScoreConfig, info: &DatasetInfo) -> Report {
    score_report_with(ds, cfg, info, None)
}

/// Values for model-based factors: answers of an LLM run and/or imported
/// annotations (imported values win where both exist).
#[derive(Default)]
pub struct LlmValues {
    pub answers: crate::llm::extract::Answers,
    pub options: crate::llm::extract::ExtractOptions,
    /// What the run did, for the report (`None`: no model was called).
    pub run: Option<crate::report::LlmRun>,
    pub imported: crate::llm::annotations::Annotations,
}

impl LlmValues {
    /// Whether these values can give factor `f` at all.
    pub fn covers(&self, f: Factor) -> bool {
        self.run.is_some() || self.imported.factors().contains(&f)
    }
}

/// As [`score_report`], with LLM-based factors scored from `llm`'s answers.
pub fn score_report_with(
    ds: &Dataset,
    cfg: &ScoreConfig,
    info: &DatasetInfo,
    llm: Option<&LlmValues>,
) -> Report {
    let requested = cfg.requested();
    let mut rules = RuleExtractor::new();
    let mut differences = Vec::new();
    let scores = human_scores_collecting(
        ds,
        &requested,
        cfg.bootstrap,
        &mut rules,
        llm,
        Some(&mut differences),
    );
    let scored: Vec<Factor> = scores.iter().map(|(f, _)| *f).collect();
    let joint = (!scored.is_empty()).then(|| human_joint(ds, &scored, &differences, cfg.bootstrap));
    drop(differences);
    let factor_scores: BTreeMap<String, FactorScoreEntry> = scores
        .iter()
        .map(|(f, s)| (f.id().to_owned(), *s))
        .collect();
    let human = Agent {
        name: "human".into(),
        setting: Setting::Human,
        tie_policy: Setting::Human.tie_policy().into(),
        ranking: ranking(&factor_scores),
        factor_scores,
        run: None,
        joint,
        guidance: None,
    };
    Report {
        schema: SCHEMA.into(),
        generator: concat!("profile ", env!("CARGO_PKG_VERSION")).into(),
        dataset: dataset_summary(ds, info),
        config: RunConfig {
            task: cfg.task.id().into(),
            factors: requested.iter().map(|f| f.id().to_owned()).collect(),
            bootstrap_resamples: cfg.bootstrap.resamples,
            seed: cfg.bootstrap.seed,
            ci_level: 0.95,
            resampling_unit: "input (all pairs of one input move together)".into(),
            factor_tie_tolerance: FACTOR_TIE_TOLERANCE,
        },
        factors: requested.iter().map(|f| factor_meta(*f)).collect(),
        skipped_factors: requested
            .iter()
            .filter(|f| f.needs_model() && !llm.is_some_and(|l| l.covers(**f)))
            .map(|&f| SkippedFactor {
                id: f.id().into(),
                reason: no_model_reason(f),
            })
            .collect(),
        agents: vec![human],
        alignments: Vec::new(),
        llm: llm.and_then(|l| l.run.clone()),
        guidance: None,
        improvement: None,
    }
}

/// The taxonomy entry of a factor, as written in reports.
pub fn factor_meta(f: Factor) -> FactorMeta {
    let i = f.info();
    FactorMeta {
        id: f.id().into(),
        name: i.name.into(),
        level2: i.level2.into(),
        level3: i.level3.into(),
        extraction: i.extraction.label().into(),
        value: i.value.into(),
    }
}

/// The report's record of an LLM extraction run over `ds`.
#[allow(clippy::too_many_arguments)]
pub fn llm_run_record(
    ds: &Dataset,
    factors: &[Factor],
    plan: &crate::llm::extract::Plan,
    cfg: &crate::llm::provider::ModelConfig,
    opts: crate::llm::extract::ExtractOptions,
    stats: &crate::llm::engine::RunStats,
    failures: &[crate::llm::engine::FailedItem],
    answers: &crate::llm::extract::Answers,
) -> crate::report::LlmRun {
    let known: Vec<usize> = ds
        .texts
        .iter()
        .filter_map(|(t, _)| answers.facts(t).map(<[String]>::len))
        .collect();
    let mean = if known.is_empty() {
        0.0
    } else {
        known.iter().sum::<usize>() as f64 / known.len() as f64
    };
    crate::report::LlmRun {
        provider: cfg.provider.id().into(),
        model: cfg.model.clone(),
        base_url: crate::llm::provider::redact_url(cfg.effective_base_url()),
        templates: stats.templates.iter().cloned().collect(),
        pairs: ds.pairs.len() as u64,
        unique_responses: plan.unique_responses as u64,
        unique_sources: plan.unique_sources as u64,
        questions: stats.questions,
        calls: stats.calls,
        cache_hits: stats.cache_hits,
        retries: stats.retries,
        repairs: stats.repairs,
        failed: stats.failed,
        input_tokens: stats.input_tokens,
        output_tokens: stats.output_tokens,
        calls_per_unique_response: plan.calls_per_unique_response().per_unique_response,
        naive_calls: crate::llm::extract::naive_calls(ds, factors, opts, answers, mean),
        logprobs: opts.logprobs,
        failures: failures
            .iter()
            .map(|x| serde_json::to_value(x).expect("serialisable"))
            .collect(),
    }
}
