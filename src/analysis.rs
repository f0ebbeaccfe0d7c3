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

/// The factors to score when custom factors are loaded: without an explicit
/// list, the task preset's factors and then the custom ones; an explicit
/// list stays as given. The one rule of the CLI's `--factor-pack`, the
/// worker's and the JavaScript library's `factorPack`.
pub fn with_custom(
    task: Task,
    factors: Option<Vec<Factor>>,
    custom: &[Factor],
) -> Option<Vec<Factor>> {
    match factors {
        None if !custom.is_empty() => Some(
            task.factors()
                .iter()
                .copied()
                .chain(custom.iter().copied())
                .collect(),
        ),
        factors => factors,
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
    differences: Option<&mut Vec<f64>>,
) -> (Vec<Factor>, ClusterTable) {
    let tables = PairsTable {
        ds,
        pairs: &ds.pairs,
        n_clusters: ds.n_clusters,
    };
    tables.agent_table(factors, rules, llm, setting, prefs, differences, None)
}

/// The value of factor `f` for response `t` of `pair`: a model's (imported
/// values first, then a run's answers) or the rule's. `None`: no value.
/// The one lookup of the scoring and of the drill-down.
#[inline]
pub fn factor_value(
    ds: &Dataset,
    f: Factor,
    pair: &crate::data::Pair,
    t: crate::data::TextId,
    rules: &mut RuleExtractor,
    llm: Option<&LlmValues>,
) -> Option<f64> {
    match (f.needs_model(), llm) {
        (true, Some(l)) => l
            .imported
            .get(ds.text(t), f)
            .or_else(|| l.answers.value(f, pair, t, l.options)),
        _ => rules.value(f, &ds.texts, t, pair.context()),
    }
}

/// Every pair's outcome for `factors` under an agent's preferences (as
/// [`agent_table`]: `prefs` = `None` for the human labels), pair-major: the
/// outcomes the agent's scores count, from the same code path. Returns the
/// factors that can be scored (in order) with the outcomes.
pub fn pair_outcomes(
    ds: &Dataset,
    factors: &[Factor],
    rules: &mut RuleExtractor,
    llm: Option<&LlmValues>,
    setting: Setting,
    prefs: Option<&[Option<crate::data::Preference>]>,
) -> (Vec<Factor>, Vec<Outcome>) {
    let mut outcomes = Vec::with_capacity(ds.pairs.len() * factors.len());
    let (scored, _) = PairsTable {
        ds,
        pairs: &ds.pairs,
        n_clusters: ds.n_clusters,
    }
    .agent_table(
        factors,
        rules,
        llm,
        setting,
        prefs,
        None,
        Some(&mut outcomes),
    );
    (scored, outcomes)
}

/// Some pairs of a dataset (with their cluster ids below `n_clusters`), to
/// count outcomes on: the whole file, or a group of its pairs.
struct PairsTable<'a> {
    ds: &'a Dataset,
    pairs: &'a [crate::data::Pair],
    n_clusters: u32,
}

impl PairsTable<'_> {
    #[allow(clippy::too_many_arguments)]
    fn agent_table(
        &self,
        factors: &[Factor],
        rules: &mut RuleExtractor,
        llm: Option<&LlmValues>,
        setting: Setting,
        prefs: Option<&[Option<crate::data::Preference>]>,
        mut differences: Option<&mut Vec<f64>>,
        mut outcomes: Option<&mut Vec<crate::stats::Outcome>>,
    ) -> (Vec<Factor>, ClusterTable) {
        let ds = self.ds;
        let scored: Vec<Factor> = factors
            .iter()
            .copied()
            .filter(|f| !f.needs_model() || llm.is_some_and(|l| l.covers(*f)))
            .collect();
        let mut table = ClusterTable::new(scored.len(), self.n_clusters as usize);
        if let Some(d) = differences.as_deref_mut() {
            d.reserve(self.pairs.len() * scored.len());
        }
        // Every rule value the loop below asks for, computed up front (on all
        // cores natively); the loop then only looks them up.
        rules.prepare(
            &ds.texts,
            &scored,
            self.pairs
                .iter()
                .flat_map(|p| [(p.a, p.context()), (p.b, p.context())]),
        );
        for (i, pair) in self.pairs.iter().enumerate() {
            let p = match prefs {
                None => Some(pair.preference.sign()),
                Some(ps) => ps.get(i).copied().flatten().map(|p| p.sign()),
            };
            for (fi, &f) in scored.iter().enumerate() {
                // A value the model could not give (a failed item), or a missing
                // verdict, makes the pair missing: counted apart from factor ties.
                let va = factor_value(ds, f, pair, pair.a, rules, llm).unwrap_or(f64::NAN);
                let vb = factor_value(ds, f, pair, pair.b, rules, llm).unwrap_or(f64::NAN);
                if let Some(d) = differences.as_deref_mut() {
                    d.push(va - vb);
                }
                let outcome = match (p, compare(va, vb)) {
                    (Some(p), Some(m)) => classify(setting, p, m),
                    _ => Outcome::Missing,
                };
                table.add(fi, pair.cluster, outcome);
                if let Some(o) = outcomes.as_deref_mut() {
                    o.push(outcome);
                }
            }
        }
        (scored, table)
    }
}

/// The human factor scores per group of pairs by the record field `field`
/// (see [`Groups`](crate::report::Groups)): each group's pairs scored alone
/// — cluster ids made dense in order of first appearance, as loading only
/// the group's records would make them, so the scores and intervals are
/// those of that file — and each group's score minus the rest's, with a
/// paired cluster bootstrap over the whole file's inputs (the draws of
/// [`ClusterTable::bootstrap_paired`]). A difference is graded only when
/// both sides have at least
/// [`MIN_INPUTS_FOR_INTERVALS`](crate::stats::MIN_INPUTS_FOR_INTERVALS)
/// inputs with a countable pair; else it says `too few inputs`.
///
/// # Errors
/// Why `field` cannot group the pairs (no such field, or its values are
/// texts or too many), with the fields that can.
pub fn group_scores(
    ds: &Dataset,
    cfg: &ScoreConfig,
    llm: Option<&LlmValues>,
    field: &str,
) -> Result<crate::report::Groups, String> {
    use crate::report::{Group, GroupDifference, Groups};
    use crate::stats::{cell_of, percentile_interval, Counts, MIN_INPUTS_FOR_INTERVALS};
    let values = ds.fields.field(field)?;
    let mut index: rustc_hash::FxHashMap<&str, usize> = Default::default();
    let mut members: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut without = 0u64;
    for (i, p) in ds.pairs.iter().enumerate() {
        let (a, b) = (values.get(p.rows[0]), values.get(p.rows[1]));
        let both = [a, b.filter(|v| Some(*v) != a)];
        if both.iter().all(Option::is_none) {
            without += 1;
        }
        for v in both.into_iter().flatten() {
            let g = *index.entry(v).or_insert_with(|| {
                members.push((v, Vec::new()));
                members.len() - 1
            });
            members[g].1.push(i);
        }
    }
    crate::data::sort::sort_by(&mut members, |x, y| {
        y.1.len().cmp(&x.1.len()).then(x.0.cmp(y.0))
    });
    let omitted = members.len().saturating_sub(Groups::MAX_SHOWN) as u64;
    members.truncate(Groups::MAX_SHOWN);
    // Every pair's outcome once (pair-major), and the whole file's table.
    let mut rules = RuleExtractor::new();
    let mut outcomes = Vec::new();
    let (scored, total) = PairsTable {
        ds,
        pairs: &ds.pairs,
        n_clusters: ds.n_clusters,
    }
    .agent_table(
        &cfg.requested(),
        &mut rules,
        llm,
        Setting::Human,
        None,
        None,
        Some(&mut outcomes),
    );
    let nf = scored.len();
    let outcome = |i: usize, f: usize| outcomes[i * nf + f];
    // Per group: its table alone (clusters dense in order of first
    // appearance) and its cells over the whole file's clusters.
    let mut alone_tables = Vec::new();
    let mut sparse: Vec<crate::stats::SparseCells> = Vec::new();
    let mut group_counts: Vec<Vec<Counts>> = Vec::new();
    for (_, idxs) in &members {
        let mut dense: rustc_hash::FxHashMap<u32, u32> = Default::default();
        for &i in idxs {
            let next = dense.len() as u32;
            dense.entry(ds.pairs[i].cluster).or_insert(next);
        }
        let mut alone = ClusterTable::new(nf, dense.len());
        let mut rows: Vec<(u32, Vec<[u32; 3]>)> = Vec::new();
        let mut at: rustc_hash::FxHashMap<u32, usize> = Default::default();
        let mut counts = vec![Counts::default(); nf];
        for &i in idxs {
            let c = ds.pairs[i].cluster;
            let r = *at.entry(c).or_insert_with(|| {
                rows.push((c, vec![[0; 3]; nf]));
                rows.len() - 1
            });
            for (f, count) in counts.iter_mut().enumerate() {
                let o = outcome(i, f);
                alone.add(f, dense[&c], o);
                count.add(o);
                if let Some(k) = cell_of(o) {
                    rows[r].1[f][k] += 1;
                }
            }
        }
        alone_tables.push(alone);
        sparse.push(rows);
        group_counts.push(counts);
    }
    let reps = (cfg.bootstrap.resamples > 0)
        .then(|| total.bootstrap_group_differences(&sparse, cfg.bootstrap));
    let mut groups = Vec::new();
    for (g, (value, idxs)) in members.iter().enumerate() {
        let factor_scores: BTreeMap<String, FactorScoreEntry> =
            scored_entries(scored.clone(), &alone_tables[g], cfg.bootstrap)
                .into_iter()
                .map(|(f, s)| (f.id().to_owned(), s))
                .collect();
        // Inputs with a countable pair, in the group and in the rest.
        let mut inputs = vec![(0u64, 0u64); nf];
        let mut in_group = vec![false; ds.n_clusters as usize];
        for (c, row) in &sparse[g] {
            in_group[*c as usize] = true;
            for (f, cell) in row.iter().enumerate() {
                let rest = (0..3).any(|k| total.row(*c as usize)[f][k] > cell[k]);
                inputs[f].0 += u64::from(cell.iter().any(|&x| x > 0));
                inputs[f].1 += u64::from(rest);
            }
        }
        for (c, _) in in_group.iter().enumerate().filter(|(_, &x)| !x) {
            for (f, cell) in total.row(c).iter().enumerate() {
                inputs[f].1 += u64::from(cell.iter().any(|&x| x > 0));
            }
        }
        let differences = scored
            .iter()
            .enumerate()
            .map(|(f, factor)| {
                let gc = group_counts[g][f];
                let tc = total.totals(f);
                let rest = [
                    tc.concordant - gc.concordant,
                    tc.discordant - gc.discordant,
                    tc.ties - gc.ties,
                ];
                let rest_n = rest[0] + rest[1] + rest[2];
                let rest_score =
                    (rest_n > 0).then(|| (rest[0] as f64 - rest[1] as f64) / rest_n as f64);
                let difference = gc.score().zip(rest_score).map(|(a, b)| a - b);
                let ci95 = difference.and(reps.as_ref()).and_then(|r| {
                    let mut d = r[g][f].clone();
                    percentile_interval(&mut d, 0.95)
                });
                let few = inputs[f].0 < MIN_INPUTS_FOR_INTERVALS
                    || inputs[f].1 < MIN_INPUTS_FOR_INTERVALS;
                let verdict = match ci95 {
                    _ if few || difference.is_none() => "too few inputs",
                    Some([lo, _]) if lo > 0.0 => "higher",
                    Some([_, hi]) if hi < 0.0 => "lower",
                    Some(_) => "no clear difference",
                    None => "not tested (no bootstrap)",
                };
                (
                    factor.id().to_owned(),
                    GroupDifference {
                        difference,
                        ci95,
                        verdict: verdict.to_owned(),
                    },
                )
            })
            .collect();
        groups.push(Group {
            value: (*value).to_owned(),
            pairs: idxs.len() as u64,
            inputs: alone_tables[g].n_clusters() as u64,
            factor_scores,
            differences,
        });
    }
    Ok(Groups {
        field: field.to_owned(),
        pairs_without: without,
        groups_omitted: omitted,
        groups,
    })
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
        group_fields: ds.fields.names().into_iter().map(str::to_owned).collect(),
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
    /// The model the answers came from (its configuration keys the cache
    /// entries that hold the raw replies; no key is in it). `None`: no run.
    pub model: Option<crate::llm::provider::ModelConfig>,
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
    score_report_marked(ds, cfg, info, llm, &mut |_| {})
}

/// As [`score_report_with`], calling `mark` at the end of each phase
/// (`"factors"`, `"scores"`, `"joint"`): the web worker times its phases
/// with it.
pub fn score_report_marked(
    ds: &Dataset,
    cfg: &ScoreConfig,
    info: &DatasetInfo,
    llm: Option<&LlmValues>,
    mark: &mut dyn FnMut(&'static str),
) -> Report {
    let requested = cfg.requested();
    let mut rules = RuleExtractor::new();
    rules.absorb_dataset(ds);
    let mut differences = Vec::new();
    let (scored, table) = human_table(ds, &requested, &mut rules, llm, Some(&mut differences));
    mark("factors");
    let scores = scored_entries(scored, &table, cfg.bootstrap);
    drop(table);
    mark("scores");
    // The rule values are all in `differences` now; free them before the joint model.
    drop(rules);
    let scored: Vec<Factor> = scores.iter().map(|(f, _)| *f).collect();
    let joint = (!scored.is_empty()).then(|| human_joint(ds, &scored, &differences, cfg.bootstrap));
    drop(differences);
    mark("joint");
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
            factor_pack: crate::factors::pack::pack_of(&requested),
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
        groups: None,
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
        extraction: if f.is_custom() && f.needs_model() {
            "LLM question (factor pack)".into()
        } else if f.is_custom() {
            "rule (factor pack)".into()
        } else {
            i.extraction.label().into()
        },
        value: i.value.into(),
        custom: f.is_custom(),
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
    let naive = crate::llm::extract::naive_calls(ds, factors, opts, answers, mean);
    llm_run_record_of(ds, plan.shape(), cfg, opts, stats, failures, naive)
}

/// As [`llm_run_record`], from the plan's counts and the naive plan's
/// call count (`naive_calls`) already known: a run memo keeps them.
pub fn llm_run_record_of(
    ds: &Dataset,
    plan: crate::llm::extract::PlanShape,
    cfg: &crate::llm::provider::ModelConfig,
    opts: crate::llm::extract::ExtractOptions,
    stats: &crate::llm::engine::RunStats,
    failures: &[crate::llm::engine::FailedItem],
    naive_calls: f64,
) -> crate::report::LlmRun {
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
        naive_calls,
        logprobs: opts.logprobs,
        failures: failures
            .iter()
            .map(|x| serde_json::to_value(x).expect("serialisable"))
            .collect(),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::data::{load_reader_with, FormatOptions};

    /// A report from a dataset whose rule values were computed while it
    /// loaded is the report computed without them, byte for byte.
    #[test]
    fn reports_with_loaded_rule_values_are_unchanged() {
        let mut lines = Vec::new();
        for i in 0..600usize {
            let q = i / 6;
            let words = |k: usize| {
                (0..(5 + (i * k) % 17))
                    .map(|j| {
                        [
                            "The",
                            "cats",
                            "ran,",
                            "running",
                            "state-of-the-art",
                            "café",
                            "naïve",
                            "3.5",
                            "q",
                        ][(i + j * k) % 9]
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let mut rec = serde_json::json!({
                "input": format!("Question {q}?"),
                "response_a": format!("{} {i}", words(3)),
                "response_b": format!("{} {}", words(5), i % 40),
                "preference": if i % 3 == 0 { "b" } else { "a" },
            });
            if q % 3 == 0 {
                rec["source"] = format!("Source {q}: {}", words(7)).into();
            }
            lines.push(rec.to_string());
        }
        let ds = load_reader_with(
            lines.join("\n").as_bytes(),
            FormatOptions::default(),
            crate::factors::rules::RuleFeed::watch,
        )
        .unwrap();
        let fed = ds
            .derived
            .as_deref()
            .and_then(|d| d.downcast_ref::<crate::factors::rules::RuleValues>())
            .map_or(0, crate::factors::rules::RuleValues::len);
        // The first batch handed over always finds the queue empty; later
        // ones may be dropped when the worker is busy.
        assert!(fed > 0);
        let mut without = ds.clone();
        without.derived = None;
        let info = DatasetInfo::default();
        for task in [Task::Summarization, Task::Helpful] {
            let cfg = ScoreConfig::for_task(task);
            assert_eq!(
                score_report(&ds, &cfg, &info).to_json_pretty(),
                score_report(&without, &cfg, &info).to_json_pretty()
            );
        }
    }
}
