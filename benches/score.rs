//! Benchmark of the hot path "load + rule-based factors + factor scores +
//! 1000-resample bootstrap", with a naive baseline measured beside it in the
//! same run. See `benches/README.md` for how to run it and what the numbers mean.
//!
//! Every measurement runs in a child process (this binary re-executed with a
//! hidden mode argument), so each one gets its own peak RSS (`VmHWM`). The
//! parent checks that the naive baseline computes the same counts and
//! intervals as the library, prints a table, and judges the targets.

#[path = "gen.rs"]
mod generator;
#[path = "util.rs"]
mod util;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use profile::analysis::{
    human_joint, human_scores_collecting, score_report, DatasetInfo, ScoreConfig,
};
use profile::data::{load_reader_with, Format, FormatOptions};
use profile::factors::rules::{RuleExtractor, RuleFeed};
use profile::factors::{Factor, Task};
use profile::stats::{
    fit_joint, BootstrapConfig, ClusterTable, Covariate, JointConfig, JointPairs, Outcome, Rng,
    FACTOR_TIE_TOLERANCE,
};
use serde::{Deserialize, Serialize};
use util::{fmt_ms, loadavg, mb, peak_rss_bytes, sched, warm, CHILD_ARG};

/// The rule factors of the summarization preset.
const FACTORS: [Factor; 2] = [Factor::Length, Factor::NovelWords];
/// Bootstrap settings: the CLI defaults (1000 resamples, seed 42).
const BOOTSTRAP: BootstrapConfig = BootstrapConfig {
    resamples: 1000,
    seed: 42,
};
/// Seed of the generated workload.
const GEN_SEED: u64 = 0x5EED_2024;

/// Targets (timing thresholds live here, never in tests).
const TARGET_CLI_MS: f64 = 150.0;
/// Issue 16: the 1M file's load + `score_report` under 5 s and 400 MB (the
/// peak RSS of that path, read in its child before the stages timed apart).
const TARGET_MILLION_S: f64 = 5.0;
const TARGET_MILLION_BYTES: f64 = 400e6;

const SUMMEVAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/summeval/summeval.jsonl"
);

// ---------------------------------------------------------------- results

/// One factor's counts and interval, as both implementations report them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct FactorResult {
    id: String,
    concordant: u64,
    discordant: u64,
    ties: u64,
    dropped: u64,
    score: Option<f64>,
    ci95: Option<[f64; 2]>,
}

/// One measurement, printed by a child as a JSON line.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Measurement {
    /// `workload/implementation`.
    name: String,
    workload: String,
    implementation: String,
    input: String,
    file_bytes: u64,
    /// Non-blank records (lines) read.
    records: u64,
    /// Pairs scored (human ties dropped).
    pairs: u64,
    /// Resampling units (inputs).
    clusters: u64,
    /// Distinct texts held (the optimized loader interns them).
    unique_texts: Option<u64>,
    unique_text_bytes: Option<u64>,
    load_s: f64,
    factors_s: f64,
    bootstrap_s: f64,
    /// The human joint model alone (fit + 1000-resample bootstrap) on the
    /// rule factors' differences; part of `total_s` for the library rows, 0
    /// for the naive baseline (which has no joint model).
    #[serde(default)]
    joint_s: f64,
    /// The same with 10 factors (the 2 rule factors, novel_words_count and 7
    /// synthetic ones), SummEval only: the size of a full model-based run.
    #[serde(default)]
    joint10_s: Option<f64>,
    /// The same two fits with the earlier covariate (differences scaled by
    /// their root mean square, `Covariate::Scaled`) in the same run, for the
    /// ratio: the sign covariate's rows repeat and are merged.
    #[serde(default)]
    joint_scaled_s: Option<f64>,
    #[serde(default)]
    joint10_scaled_s: Option<f64>,
    total_s: f64,
    /// CPU time of the measured path (`/proc/self/schedstat`), and the time
    /// it waited for a CPU (contention from other processes on the machine).
    cpu_s: f64,
    runqueue_wait_s: f64,
    pairs_per_s: f64,
    peak_rss_bytes: u64,
    /// The peak RSS at the end of the timed path (load + `score_report`),
    /// before the separately timed stages that follow in the same child
    /// (optimized rows only).
    #[serde(default)]
    path_peak_rss_bytes: Option<u64>,
    factors: Vec<FactorResult>,
    note: Option<String>,
}

// ------------------------------------------------------------------ child

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn child(args: &[String]) -> ExitCode {
    let [implementation, workload, path] = args else {
        eprintln!("usage: {CHILD_ARG} optimized|naive WORKLOAD FILE");
        return ExitCode::from(2);
    };
    let path = Path::new(path);
    let mut m = match implementation.as_str() {
        "optimized" => optimized(path),
        "naive" => naive::run(path),
        other => {
            eprintln!("unknown implementation {other}");
            return ExitCode::from(2);
        }
    };
    m.workload = workload.clone();
    m.implementation = implementation.clone();
    m.name = format!("{workload}/{implementation}");
    m.input = path.display().to_string();
    m.file_bytes = std::fs::metadata(path).map_or(0, |md| md.len());
    m.pairs_per_s = m.pairs as f64 / m.total_s;
    m.peak_rss_bytes = peak_rss_bytes();
    util::emit(&m);
    ExitCode::SUCCESS
}

/// The library as the CLI uses it: `load_reader_with` on the file (with
/// the rule values computed on a second thread while it loads,
/// `RuleFeed::watch`), then `score_report` (summarization preset
/// restricted to the rule factors, 1000 resamples). `total_s` = load +
/// `score_report`. The two middle stages are then timed separately:
/// `score_report` without resamples and without the values computed while
/// loading (factor values and C/D/T counts, cold caches), and
/// `ClusterTable::scores` with 1000 resamples on a table of the same
/// outcomes (the bootstrap alone).
fn optimized(path: &Path) -> Measurement {
    let sched0 = sched();
    let t = Instant::now();
    let file = std::fs::File::open(path).expect("open the input");
    let mut ds =
        load_reader_with(file, FormatOptions::default(), RuleFeed::watch).expect("the input loads");
    let load_s = secs(t.elapsed());

    let cfg = ScoreConfig {
        task: Task::Summarization,
        factors: Some(FACTORS.to_vec()),
        bootstrap: BOOTSTRAP,
    };
    let info = DatasetInfo {
        name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        label: (ds.format == Some(Format::SummEval)).then(|| "mean".to_owned()),
        sample: None,
    };
    let t = Instant::now();
    let report = score_report(&ds, &cfg, &info);
    let report_s = secs(t.elapsed());
    let sched1 = sched();
    let path_peak = peak_rss_bytes();
    let human = report.agent("human").expect("a human agent");
    let factors: Vec<FactorResult> = FACTORS
        .iter()
        .map(|f| {
            let e = &human.factor_scores[f.id()];
            FactorResult {
                id: f.id().to_owned(),
                concordant: e.concordant,
                discordant: e.discordant,
                ties: e.ties,
                dropped: e.dropped,
                score: e.score,
                ci95: e.ci95,
            }
        })
        .collect();

    // Stage breakdown. Factors: `score_report` again without resamples (it
    // makes a fresh `RuleExtractor`, so caches are cold). Bootstrap: the
    // library's `ClusterTable::scores` alone, on a table of the same outcomes.
    // Without the values computed while loading, so that every value is
    // computed here.
    ds.derived = None;
    let no_boot = ScoreConfig {
        bootstrap: BootstrapConfig {
            resamples: 0,
            ..BOOTSTRAP
        },
        ..cfg.clone()
    };
    let t = Instant::now();
    let counted = score_report(&ds, &no_boot, &info);
    let factors_s = secs(t.elapsed());
    let mut rules = RuleExtractor::new();
    let mut table = ClusterTable::new(FACTORS.len(), ds.n_clusters as usize);
    for pair in &ds.pairs {
        let p = pair.preference.sign();
        for (fi, &f) in FACTORS.iter().enumerate() {
            let va = rules.value(f, &ds.texts, pair.a, pair.context());
            let vb = rules.value(f, &ds.texts, pair.b, pair.context());
            // The human setting (METHOD.md §2): factor ties are dropped.
            let outcome = match (va, vb) {
                (Some(a), Some(b)) if (a - b).abs() >= FACTOR_TIE_TOLERANCE => {
                    if p == 0 {
                        Outcome::Tie
                    } else if (a > b) == (p > 0) {
                        Outcome::Concordant
                    } else {
                        Outcome::Discordant
                    }
                }
                _ => Outcome::Dropped,
            };
            table.add(fi, pair.cluster, outcome);
        }
    }
    drop(rules);
    let repeats = if ds.pairs.len() < 200_000 { 5 } else { 1 };
    let mut bootstrap_s = f64::INFINITY;
    let mut booted = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        booted = table.scores(BOOTSTRAP);
        bootstrap_s = bootstrap_s.min(secs(t.elapsed()));
    }
    // The joint model alone, on the differences `score_report` collects.
    let mut differences = Vec::new();
    human_scores_collecting(
        &ds,
        &FACTORS,
        no_boot.bootstrap,
        &mut RuleExtractor::new(),
        None,
        Some(&mut differences),
    );
    let mut joint_s = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        let joint = human_joint(&ds, &FACTORS, &differences, BOOTSTRAP);
        joint_s = joint_s.min(secs(t.elapsed()));
        assert_eq!(
            Some(&joint),
            human.joint.as_ref(),
            "the joint model alone disagrees with score_report's"
        );
    }
    let joint_scaled_s = Some(time_scaled_joint(&ds, FACTORS.len(), &differences, repeats));
    let joint10_s = (ds.format == Some(Format::SummEval)).then(|| {
        let ten = joint10_differences(&ds, &differences);
        let ids = [
            Factor::Length,
            Factor::NovelWords,
            Factor::NovelWordsCount,
            Factor::NFacts,
            Factor::Fluency,
            Factor::Coherence,
            Factor::Hallucination,
            Factor::SrcCoverage,
            Factor::OffFocus,
            Factor::IntentAlignment,
        ];
        let mut best = f64::INFINITY;
        for _ in 0..repeats {
            let t = Instant::now();
            let j = human_joint(&ds, &ids, &ten, BOOTSTRAP);
            best = best.min(secs(t.elapsed()));
            assert!(j.converged && j.bootstrap_failed == 0);
        }
        (best, time_scaled_joint(&ds, ids.len(), &ten, repeats))
    });
    let (joint10_s, joint10_scaled_s) = match joint10_s {
        Some((a, b)) => (Some(a), Some(b)),
        None => (None, None),
    };
    let counted = &counted.agent("human").expect("a human agent").factor_scores;
    for (i, r) in factors.iter().enumerate() {
        let (c, b) = (&counted[&r.id], &booted[i]);
        assert_eq!(
            (c.concordant, c.discordant, c.ties, c.dropped),
            (r.concordant, r.discordant, r.ties, r.dropped),
            "score_report without resamples disagrees with score_report"
        );
        assert_eq!(
            (b.counts.concordant, b.counts.discordant, b.ci95),
            (r.concordant, r.discordant, r.ci95),
            "the bootstrap table disagrees with score_report"
        );
    }

    Measurement {
        name: String::new(),
        workload: String::new(),
        implementation: String::new(),
        input: String::new(),
        file_bytes: 0,
        records: ds.stats.records_read,
        pairs: ds.pairs.len() as u64,
        clusters: ds.n_clusters as u64,
        unique_texts: Some(ds.texts.len() as u64),
        unique_text_bytes: Some(ds.texts.total_bytes() as u64),
        load_s,
        factors_s,
        bootstrap_s,
        joint_s,
        joint10_s,
        joint_scaled_s,
        joint10_scaled_s,
        total_s: load_s + report_s,
        cpu_s: sched1.0 - sched0.0,
        runqueue_wait_s: sched1.1 - sched0.1,
        pairs_per_s: 0.0,
        peak_rss_bytes: 0,
        path_peak_rss_bytes: Some(path_peak),
        factors,
        note: Some(format!(
            "total = load + score_report ({:.1} ms); factors and bootstrap timed separately",
            report_s * 1e3
        )),
    }
}

/// The best of `repeats` joint fits (+ the bootstrap) with the earlier,
/// scaled covariate on the same differences.
fn time_scaled_joint(
    ds: &profile::data::Dataset,
    k: usize,
    differences: &[f64],
    repeats: usize,
) -> f64 {
    let preferences: Vec<i8> = ds.pairs.iter().map(|p| p.preference.sign()).collect();
    let clusters: Vec<u32> = ds.pairs.iter().map(|p| p.cluster).collect();
    let pairs = JointPairs {
        n_factors: k,
        differences,
        preferences: &preferences,
        clusters: &clusters,
        n_clusters: ds.n_clusters,
    };
    let cfg = JointConfig {
        covariate: Covariate::Scaled,
        ..JointConfig::with_bootstrap(BOOTSTRAP)
    };
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        let f = fit_joint(&pairs, &cfg);
        best = best.min(secs(t.elapsed()));
        assert!(f.converged);
    }
    best
}

/// Ten columns of differences for the joint-model timing: the two rule
/// factors, `novel_words_count`, and seven synthetic factors, each a
/// deterministic function of the response texts' ids mixed with the length
/// difference (so that they are correlated with it, as model-based factors are).
fn joint10_differences(ds: &profile::data::Dataset, two: &[f64]) -> Vec<f64> {
    let mut rules = RuleExtractor::new();
    let mut out = Vec::with_capacity(ds.pairs.len() * 10);
    let noise = |t: u32, j: u64| {
        let mut r = Rng::new((u64::from(t) << 8) ^ j);
        r.unit() - 0.5
    };
    for (i, p) in ds.pairs.iter().enumerate() {
        let mut count = |t| {
            rules
                .value(Factor::NovelWordsCount, &ds.texts, t, p.context())
                .unwrap_or(f64::NAN)
        };
        let nwc = count(p.a) - count(p.b);
        out.extend_from_slice(&two[i * 2..i * 2 + 2]);
        out.push(nwc);
        let len = two[i * 2];
        for j in 0..7u64 {
            let w = 0.02 * (j as f64 + 1.0);
            out.push(w * len + noise(p.a.0, j) - noise(p.b.0, j));
        }
    }
    out
}

/// The naive baseline, written the straightforward way: the whole file in a
/// `String`, a `serde_json::Value` per line, owned `String`s per pair (no
/// interning), words and stems recomputed for each side of each pair for each
/// factor (no caching), and a bootstrap that recounts outcomes pair by pair
/// in every resample. It follows METHOD.md §2 and §5 directly, independently
/// of the library (it shares only the seeded `Rng`, so the resamples are the
/// same draws and the intervals can be compared exactly).
mod naive {
    use super::*;
    use rust_stemmers::{Algorithm, Stemmer};
    use serde_json::Value;

    struct Pair {
        cluster: u32,
        input: Option<String>,
        source: Option<String>,
        a: String,
        b: String,
        /// +1 A preferred, −1 B preferred.
        p: i8,
    }

    struct Data {
        records: u64,
        pairs: Vec<Pair>,
        n_clusters: u32,
    }

    fn string(v: &Value, key: &str) -> Option<String> {
        v.get(key).and_then(Value::as_str).map(str::to_owned)
    }

    fn number(v: &Value, key: &str) -> f64 {
        match v.get(key) {
            Some(Value::Number(n)) => n.as_f64().expect("a number"),
            Some(Value::String(s)) => s.trim().parse().expect("a number"),
            _ => panic!("{key} is missing"),
        }
    }

    fn load(path: &Path) -> Data {
        let text = std::fs::read_to_string(path).expect("read the input");
        let mut records = 0;
        let mut pairs = Vec::new();
        // Canonical pairs: clusters are distinct (input, source).
        let mut clusters: HashMap<(Option<String>, Option<String>), u32> = HashMap::new();
        let mut next_cluster = 0u32;
        // SummEval: rated summaries grouped by article, paired at the end.
        // (article, [(summary, mean rating)])
        type Group = (Option<String>, Vec<(String, f64)>);
        let mut groups: Vec<Group> = Vec::new();
        let mut group_of: HashMap<String, usize> = HashMap::new();
        for line in text.lines() {
            if line.trim().is_empty() {
                continue;
            }
            records += 1;
            let v: Value = serde_json::from_str(line).expect("valid JSON");
            if v.get("response_a").is_some() {
                let p = match v.get("preference") {
                    Some(Value::String(s)) if s == "a" => 1,
                    Some(Value::String(s)) if s == "b" => -1,
                    Some(Value::String(s)) if s == "tie" => continue,
                    other => panic!("unexpected preference {other:?}"),
                };
                let input = string(&v, "input");
                let source = string(&v, "source");
                let cluster = if input.is_none() && source.is_none() {
                    next_cluster += 1;
                    next_cluster - 1
                } else {
                    let key = (input.clone(), source.clone());
                    *clusters.entry(key).or_insert_with(|| {
                        next_cluster += 1;
                        next_cluster - 1
                    })
                };
                pairs.push(Pair {
                    cluster,
                    input,
                    source,
                    a: string(&v, "response_a").expect("response_a"),
                    b: string(&v, "response_b").expect("response_b"),
                    p,
                });
            } else {
                let id = match v.get("article_id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => panic!("no article_id"),
                };
                let score = ["coherence", "consistency", "fluency", "relevance"]
                    .iter()
                    .map(|k| number(&v, k))
                    .fold(0.0, |acc, x| acc + x)
                    / 4.0;
                let g = *group_of.entry(id).or_insert_with(|| {
                    groups.push((string(&v, "article"), Vec::new()));
                    groups.len() - 1
                });
                groups[g]
                    .1
                    .push((string(&v, "summary").expect("summary"), score));
            }
        }
        for (g, (article, items)) in groups.iter().enumerate() {
            for i in 0..items.len() {
                for j in i + 1..items.len() {
                    let d = items[i].1 - items[j].1;
                    if d.abs() < 1e-6 {
                        continue;
                    }
                    pairs.push(Pair {
                        cluster: g as u32,
                        input: None,
                        source: article.clone(),
                        a: items[i].0.clone(),
                        b: items[j].0.clone(),
                        p: if d > 0.0 { 1 } else { -1 },
                    });
                }
            }
        }
        // Dense cluster ids in order of first appearance among the kept pairs.
        let mut renumber: HashMap<u32, u32> = HashMap::new();
        for p in &mut pairs {
            let next = renumber.len() as u32;
            p.cluster = *renumber.entry(p.cluster).or_insert(next);
        }
        Data {
            records,
            n_clusters: renumber.len() as u32,
            pairs,
        }
    }

    /// METHOD.md §5: delete characters that are neither word characters nor
    /// whitespace, then split on whitespace.
    fn words(text: &str) -> Vec<String> {
        let kept: String = text
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '_' || c.is_whitespace())
            .collect();
        kept.split_whitespace().map(str::to_owned).collect()
    }

    fn stems(stemmer: &Stemmer, text: &str) -> HashSet<String> {
        words(text)
            .iter()
            .map(|w| stemmer.stem(&w.to_lowercase()).into_owned())
            .collect()
    }

    fn novel_words(stemmer: &Stemmer, response: &str, context: Option<&str>) -> f64 {
        let r = stems(stemmer, response);
        if r.is_empty() {
            return 0.0;
        }
        let c = context.map(|c| stems(stemmer, c)).unwrap_or_default();
        r.iter().filter(|s| !c.contains(*s)).count() as f64 / r.len() as f64
    }

    fn value(stemmer: &Stemmer, factor: Factor, pair: &Pair, response: &str) -> f64 {
        match factor {
            Factor::Length => words(response).len() as f64,
            Factor::NovelWords => {
                let ctx = pair.source.as_deref().or(pair.input.as_deref());
                novel_words(stemmer, response, ctx)
            }
            _ => unreachable!("only rule factors are benchmarked"),
        }
    }

    /// 0 concordant, 1 discordant, 2 tie, 3 dropped (human setting: the
    /// label never ties, factor ties are dropped).
    fn outcome(p: i8, va: f64, vb: f64) -> u8 {
        let d = va - vb;
        let m = if d.abs() < 1e-9 {
            0
        } else if d > 0.0 {
            1
        } else {
            -1
        };
        if m == 0 {
            3
        } else if p == 0 {
            2
        } else if p == m {
            0
        } else {
            1
        }
    }

    fn score(c: u64, d: u64, t: u64) -> Option<f64> {
        let n = c + d + t;
        (n > 0).then(|| (c as f64 - d as f64) / n as f64)
    }

    fn percentile(sorted: &[f64], q: f64) -> f64 {
        let pos = q * (sorted.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
    }

    pub fn run(path: &Path) -> Measurement {
        let sched0 = sched();
        let t = Instant::now();
        let data = load(path);
        let load_s = secs(t.elapsed());

        let t = Instant::now();
        let stemmer = Stemmer::create(Algorithm::English);
        let nf = FACTORS.len();
        let mut outcomes: Vec<Vec<u8>> = Vec::with_capacity(data.pairs.len());
        let mut counts = vec![[0u64; 4]; nf];
        for pair in &data.pairs {
            let mut row = Vec::with_capacity(nf);
            for (fi, &f) in FACTORS.iter().enumerate() {
                let va = value(&stemmer, f, pair, &pair.a);
                let vb = value(&stemmer, f, pair, &pair.b);
                let o = outcome(pair.p, va, vb);
                counts[fi][o as usize] += 1;
                row.push(o);
            }
            outcomes.push(row);
        }
        let factors_s = secs(t.elapsed());

        let t = Instant::now();
        let n = data.n_clusters as usize;
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, p) in data.pairs.iter().enumerate() {
            members[p.cluster as usize].push(i);
        }
        let mut rng = Rng::new(BOOTSTRAP.seed);
        let mut replicates: Vec<Vec<f64>> = vec![Vec::new(); nf];
        for _ in 0..BOOTSTRAP.resamples {
            let mut sums = vec![[0u64; 4]; nf];
            for _ in 0..n {
                let c = rng.below(n as u64) as usize;
                for &i in &members[c] {
                    for (fi, s) in sums.iter_mut().enumerate() {
                        s[outcomes[i][fi] as usize] += 1;
                    }
                }
            }
            for (fi, s) in sums.iter().enumerate() {
                if let Some(x) = score(s[0], s[1], s[2]) {
                    replicates[fi].push(x);
                }
            }
        }
        let factors: Vec<FactorResult> = FACTORS
            .iter()
            .enumerate()
            .map(|(fi, f)| {
                let [c, d, t, dropped] = counts[fi];
                let s = score(c, d, t);
                let reps = &mut replicates[fi];
                reps.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
                let ci95 = (s.is_some() && !reps.is_empty())
                    .then(|| [percentile(reps, 0.025), percentile(reps, 0.975)]);
                FactorResult {
                    id: f.id().to_owned(),
                    concordant: c,
                    discordant: d,
                    ties: t,
                    dropped,
                    score: s,
                    ci95,
                }
            })
            .collect();
        let bootstrap_s = secs(t.elapsed());
        let sched1 = sched();

        Measurement {
            name: String::new(),
            workload: String::new(),
            implementation: String::new(),
            input: String::new(),
            file_bytes: 0,
            records: data.records,
            pairs: data.pairs.len() as u64,
            clusters: data.n_clusters as u64,
            unique_texts: None,
            unique_text_bytes: None,
            load_s,
            factors_s,
            bootstrap_s,
            joint_s: 0.0,
            joint10_s: None,
            joint_scaled_s: None,
            joint10_scaled_s: None,
            total_s: load_s + factors_s + bootstrap_s,
            cpu_s: sched1.0 - sched0.0,
            runqueue_wait_s: sched1.1 - sched0.1,
            pairs_per_s: 0.0,
            peak_rss_bytes: 0,
            path_peak_rss_bytes: None,
            factors,
            note: None,
        }
    }
}

// ----------------------------------------------------------------- parent

struct Opts {
    quick: bool,
    json: bool,
    strict: bool,
    regen: bool,
    clean: bool,
    filters: Vec<String>,
    pairs: u64,
    naive_pairs: u64,
    cli_runs: usize,
    cli_bin: Option<PathBuf>,
    /// Score only the first lines of SummEval (smoke runs).
    summeval_lines: Option<usize>,
}

const HELP: &str = "\
cargo bench --bench score [-- [FILTER...] [OPTIONS]]

FILTER       run only benchmarks whose name contains one of these words:
             summeval/optimized summeval/naive summeval/cli
             million/optimized million-prefix/optimized million-prefix/naive
             (e.g. `summeval`, `million`, `naive`, `cli`)
--quick      smoke run: 20k generated pairs (naive on 5k), SummEval's first
             320 lines, 3 CLI runs (without --bench, e.g. under `cargo test`:
             4k pairs, naive on 1k, 64 lines, 1 CLI run)
--json       print the results as one JSON document on stdout
--strict     exit with status 1 when a target fails
--pairs N    pairs in the generated file (default 1000000)
--naive-pairs N
             pairs of the prefix the naive baseline runs on (default 100000)
--cli-runs N runs of the CLI process (default 10)
--cli-bin PATH
             the `profile` binary to time (default: target/release/profile,
             else the bench-profile build cargo made for this bench)
--regen      regenerate the generated files even if cached in the temp dir
--clean      delete the generated files at the end
";

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let bench = args.iter().any(|a| a == "--bench");
    let mut o = Opts {
        // Without `--bench` (e.g. `cargo test --benches`) run the smoke size.
        quick: !bench,
        json: false,
        strict: false,
        regen: false,
        clean: false,
        filters: Vec::new(),
        pairs: 0,
        naive_pairs: 0,
        cli_runs: 0,
        cli_bin: None,
        summeval_lines: None,
    };
    let (mut pairs, mut naive_pairs, mut cli_runs) = (None, None, None);
    let mut it = args.iter();
    let num = util::number::<u64>;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bench" => {}
            "--quick" => o.quick = true,
            "--json" => o.json = true,
            "--strict" => o.strict = true,
            "--regen" => o.regen = true,
            "--clean" => o.clean = true,
            "--pairs" => pairs = Some(num(&mut it, a)?),
            "--naive-pairs" => naive_pairs = Some(num(&mut it, a)?),
            "--cli-runs" => cli_runs = Some(num(&mut it, a)? as usize),
            "--cli-bin" => {
                o.cli_bin = Some(PathBuf::from(it.next().ok_or("--cli-bin takes a path")?))
            }
            "-h" | "--help" => return Err(HELP.to_owned()),
            f if f.starts_with('-') => return Err(format!("unknown option {f}\n\n{HELP}")),
            f => o.filters.push(f.to_owned()),
        }
    }
    // Sizes: full, `--quick`, and smaller still when run as a test (no
    // `--bench`; `cargo test --all-targets` builds it unoptimized).
    let (def_pairs, def_naive, def_cli, lines) = match (o.quick, bench) {
        (false, _) => (1_000_000, 100_000, 10, None),
        (true, true) => (20_000, 5_000, 3, Some(320)),
        (true, false) => (4_000, 1_000, 1, Some(64)),
    };
    o.pairs = pairs.unwrap_or(def_pairs);
    o.naive_pairs = naive_pairs.unwrap_or(def_naive).min(o.pairs);
    o.cli_runs = cli_runs.unwrap_or(def_cli).max(1);
    o.summeval_lines = lines;
    Ok(o)
}

fn selected(o: &Opts, name: &str) -> bool {
    util::selected(&o.filters, name)
}

fn measure(implementation: &str, workload: &str, path: &Path) -> Measurement {
    let name = format!("{workload}/{implementation}");
    eprintln!("  running {name} on {} …", path.display());
    let m: Measurement = util::run_child(
        &name,
        &[implementation.as_ref(), workload.as_ref(), path.as_os_str()],
    );
    eprintln!(
        "    {:.3} s, {:.0} pairs/s, peak {:.1} MB",
        m.total_s,
        m.pairs_per_s,
        mb(m.peak_rss_bytes)
    );
    m
}

/// The CLI process measurement.
#[derive(Clone, Debug, Serialize)]
struct CliRun {
    binary: String,
    note: Option<String>,
    runs: usize,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
    /// Whether the CLI's counts and intervals equal the library measurement's.
    matches_library: Option<bool>,
}

fn newest_mtime(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        let t = if p.is_dir() {
            newest_mtime(&p)
        } else {
            e.metadata().ok().and_then(|m| m.modified().ok())
        };
        if t > newest {
            newest = t;
        }
    }
    newest
}

fn cli_bench(o: &Opts, library: Option<&Measurement>) -> Option<CliRun> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let release = root.join("target/release/profile");
    let (bin, mut note) = if let Some(bin) = &o.cli_bin {
        (bin.clone(), None)
    } else if release.exists() {
        let stale = match (
            release.metadata().and_then(|m| m.modified()).ok(),
            newest_mtime(&root.join("src")),
        ) {
            (Some(b), Some(s)) => b < s,
            _ => false,
        };
        let note = stale.then(|| {
            "target/release/profile is older than src/; rebuild with `cargo build --release`"
                .to_owned()
        });
        (release, note)
    } else {
        // Built by this very `cargo bench` (bench profile: release + thin LTO); nothing is built here.
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_profile"));
        (
            bin,
            Some(
                "target/release/profile not found; measured the bench-profile build cargo made for this bench"
                    .to_owned(),
            ),
        )
    };
    if !bin.exists() {
        eprintln!("  skipping summeval/cli: no profile binary");
        return None;
    }
    eprintln!("  running summeval/cli: {} score … --json", bin.display());
    let run = |capture: bool| {
        let t = Instant::now();
        let out = Command::new(&bin)
            .args(["score", SUMMEVAL, "--json"])
            .stdin(Stdio::null())
            .stdout(if capture {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::inherit())
            .output()
            .expect("spawn profile");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(out.status.success(), "profile score failed: {}", out.status);
        (ms, out.stdout)
    };
    // A warm-up run whose output is checked against the library measurement.
    let (_, stdout) = run(true);
    let matches_library = library.map(|m| {
        let v: serde_json::Value = serde_json::from_slice(&stdout).expect("--json output");
        let scores = &v["agents"][0]["factor_scores"];
        let cli: Vec<FactorResult> = m
            .factors
            .iter()
            .map(|f| {
                let e = &scores[&f.id];
                FactorResult {
                    id: f.id.clone(),
                    concordant: e["concordant"].as_u64().unwrap_or(u64::MAX),
                    discordant: e["discordant"].as_u64().unwrap_or(u64::MAX),
                    ties: e["ties"].as_u64().unwrap_or(u64::MAX),
                    dropped: e["dropped"].as_u64().unwrap_or(u64::MAX),
                    score: e["score"].as_f64(),
                    ci95: serde_json::from_value(e["ci95"].clone()).unwrap_or(None),
                }
            })
            .collect();
        same_results(&cli, &m.factors)
    });
    if matches_library == Some(false) {
        note = Some(format!(
            "{}the CLI's counts differ from the library's",
            note.map(|n| n + "; ").unwrap_or_default()
        ));
    }
    let mut times: Vec<f64> = (0..o.cli_runs).map(|_| run(false).0).collect();
    times.sort_by(f64::total_cmp);
    let median = if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        (times[times.len() / 2 - 1] + times[times.len() / 2]) / 2.0
    };
    eprintln!("    median {median:.1} ms over {} runs", times.len());
    Some(CliRun {
        binary: bin.display().to_string(),
        note,
        runs: times.len(),
        median_ms: median,
        min_ms: times[0],
        max_ms: times[times.len() - 1],
        matches_library,
    })
}

/// Optimized vs naive on the same input.
#[derive(Clone, Debug, Serialize)]
struct Comparison {
    workload: String,
    pairs: u64,
    /// Whether C, D, T, dropped, scores and intervals are equal.
    results_equal: bool,
    /// optimized total time / naive total time.
    time_ratio: f64,
    /// optimized CPU time / naive CPU time.
    cpu_ratio: f64,
    /// optimized pairs/s / naive pairs/s.
    throughput_ratio: f64,
    /// optimized peak RSS / naive peak RSS.
    rss_ratio: f64,
}

#[derive(Clone, Debug, Serialize)]
struct Target {
    name: String,
    threshold: String,
    measured: Option<String>,
    /// PASS, FAIL, or why it was not judged.
    status: String,
}

#[derive(Serialize)]
struct Output<'a> {
    schema: &'static str,
    quick: bool,
    cpus: usize,
    loadavg_start: String,
    loadavg_end: String,
    bootstrap_resamples: u32,
    factors: Vec<&'static str>,
    generated: Option<GenInfo>,
    measurements: &'a [Measurement],
    comparisons: &'a [Comparison],
    cli: Option<&'a CliRun>,
    targets: &'a [Target],
    notes: &'a [String],
}

#[derive(Clone, Debug, Serialize)]
struct GenInfo {
    path: String,
    pairs: u64,
    bytes: u64,
    prefix_path: Option<String>,
    prefix_pairs: u64,
    seed: u64,
    generated_s: Option<f64>,
}

fn gen_paths(o: &Opts) -> (PathBuf, Option<PathBuf>) {
    let dir = std::env::temp_dir();
    let name = |n: u64| {
        dir.join(format!(
            "profile-bench-v{}-s{:x}-{n}.jsonl",
            generator::GEN_VERSION,
            GEN_SEED
        ))
    };
    let prefix = (o.naive_pairs < o.pairs).then(|| name(o.naive_pairs));
    (name(o.pairs), prefix)
}

fn ensure_generated(o: &Opts, path: &Path, prefix: Option<&Path>) -> GenInfo {
    let have = path.exists() && prefix.iter().all(|p| p.exists());
    let mut generated_s = None;
    if o.regen || !have {
        eprintln!(
            "generating {} pairs (seed {GEN_SEED:#x}) → {}",
            o.pairs,
            path.display()
        );
        let t = Instant::now();
        let st = generator::generate(path, prefix.map(|p| (p, o.naive_pairs)), o.pairs, GEN_SEED)
            .expect("write the generated file");
        generated_s = Some(t.elapsed().as_secs_f64());
        eprintln!(
            "  {} pairs ({} human ties), {} inputs, {} responses, {:.0} MB in {:.1} s",
            st.pairs,
            st.human_ties,
            st.inputs,
            st.responses,
            mb(st.bytes),
            generated_s.unwrap_or(0.0)
        );
    } else {
        eprintln!("reusing {} (--regen to rewrite)", path.display());
    }
    GenInfo {
        path: path.display().to_string(),
        pairs: o.pairs,
        bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
        prefix_path: prefix.map(|p| p.display().to_string()),
        prefix_pairs: if prefix.is_some() {
            o.naive_pairs
        } else {
            o.pairs
        },
        seed: GEN_SEED,
        generated_s,
    }
}

/// Counts must be equal; scores and interval ends may differ in the last
/// bits (the library computes the percentile position as `(1 − 0.95) / 2`).
fn same_results(a: &[FactorResult], b: &[FactorResult]) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(1.0);
    let close_opt = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => close(x, y),
        (None, None) => true,
        _ => false,
    };
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            (x.id.as_str(), x.concordant, x.discordant, x.ties, x.dropped)
                == (y.id.as_str(), y.concordant, y.discordant, y.ties, y.dropped)
                && close_opt(x.score, y.score)
                && close_opt(x.ci95.map(|c| c[0]), y.ci95.map(|c| c[0]))
                && close_opt(x.ci95.map(|c| c[1]), y.ci95.map(|c| c[1]))
        })
}

fn compare_impls(ms: &[Measurement], workload: &str) -> Option<Comparison> {
    let opt = ms
        .iter()
        .find(|m| m.workload == workload && m.implementation == "optimized")?;
    let nai = ms
        .iter()
        .find(|m| m.workload == workload && m.implementation == "naive")?;
    Some(Comparison {
        workload: workload.to_owned(),
        pairs: opt.pairs,
        results_equal: opt.pairs == nai.pairs
            && opt.clusters == nai.clusters
            && same_results(&opt.factors, &nai.factors),
        time_ratio: opt.total_s / nai.total_s,
        cpu_ratio: opt.cpu_s / nai.cpu_s,
        throughput_ratio: opt.pairs_per_s / nai.pairs_per_s,
        rss_ratio: opt.peak_rss_bytes as f64 / nai.peak_rss_bytes as f64,
    })
}

fn print_table(
    ms: &[Measurement],
    cmps: &[Comparison],
    cli: Option<&CliRun>,
    gen: Option<&GenInfo>,
    targets: &[Target],
    o: &Opts,
    load_start: &str,
) {
    println!();
    println!(
        "PROFILE hot path: load + rule factors (length, novel_words) + factor scores + {}-resample bootstrap{}",
        BOOTSTRAP.resamples,
        if o.quick { "  [--quick]" } else { "" }
    );
    println!(
        "machine: {} CPUs, load average {} at start, {} at end; one child process per row (peak RSS = its VmHWM); times in ms",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_start,
        loadavg()
    );
    if let Some(g) = gen {
        println!(
            "generated: {} ({} pairs, {:.0} MB){}",
            g.path,
            g.pairs,
            mb(g.bytes),
            g.prefix_path
                .as_ref()
                .map(|p| format!("; naive-baseline prefix: {p} ({} pairs)", g.prefix_pairs))
                .unwrap_or_default()
        );
    }
    println!();
    let row = |cells: [&str; 13]| {
        println!(
            "{:<24} {:>8} {:>6} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>7} {:>9} {:>8}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            cells[7],
            cells[8],
            cells[9],
            cells[10],
            cells[11],
            cells[12]
        )
    };
    row([
        "benchmark",
        "pairs",
        "inputs",
        "file MB",
        "load",
        "factors",
        "bootstrap",
        "joint",
        "total",
        "cpu",
        "wait",
        "pairs/s",
        "peak MB",
    ]);
    for m in ms {
        row([
            &m.name,
            &m.pairs.to_string(),
            &m.clusters.to_string(),
            &format!("{:.1}", mb(m.file_bytes)),
            &fmt_ms(m.load_s),
            &fmt_ms(m.factors_s),
            &fmt_ms(m.bootstrap_s),
            &if m.implementation == "naive" {
                "—".to_owned()
            } else {
                fmt_ms(m.joint_s)
            },
            &fmt_ms(m.total_s),
            &fmt_ms(m.cpu_s),
            &fmt_ms(m.runqueue_wait_s),
            &format!("{:.0}", m.pairs_per_s),
            &format!("{:.1}", mb(m.peak_rss_bytes)),
        ]);
    }
    if let Some(c) = cli {
        row([
            "summeval/cli (median)",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            &format!("{:.1}", c.median_ms),
            "",
            "",
            "",
            "",
        ]);
    }
    println!();
    for m in ms.iter().filter(|m| m.unique_texts.is_some()) {
        println!(
            "{:<24} holds {} unique texts ({:.1} MB of text) for {:.1} MB of input; peak RSS {:.1} MB{}",
            m.name,
            m.unique_texts.unwrap_or(0),
            mb(m.unique_text_bytes.unwrap_or(0)),
            mb(m.file_bytes),
            mb(m.peak_rss_bytes),
            m.path_peak_rss_bytes.map_or(String::new(), |b| format!(
                " ({:.1} MB at the end of load + score_report, before the stages timed apart)",
                mb(b)
            ))
        );
    }
    for m in ms {
        if let (Some(old), true) = (m.joint_scaled_s, m.joint_s > 0.0) {
            println!(
                "{:<24} joint model with 2 factors, fit + {} resamples: sign {} ms, scaled (earlier) {} ms, ratio sign/scaled {:.2}",
                m.name,
                BOOTSTRAP.resamples,
                fmt_ms(m.joint_s),
                fmt_ms(old),
                m.joint_s / old
            );
        }
        if let Some(t) = m.joint10_s {
            println!(
                "{:<24} joint model with 10 factors (3 rule + 7 synthetic), fit + {} resamples: sign {} ms{}",
                m.name,
                BOOTSTRAP.resamples,
                fmt_ms(t),
                m.joint10_scaled_s.map_or(String::new(), |old| format!(
                    ", scaled (earlier) {} ms, ratio sign/scaled {:.2}",
                    fmt_ms(old),
                    t / old
                ))
            );
        }
    }
    if !cmps.is_empty() {
        println!();
        println!("optimized / naive on the same input:");
        for c in cmps {
            println!(
                "  {:<16} {:>9} pairs: time {:.4} ({:.1}x faster; CPU {:.4}), pairs/s {:.1}x, peak RSS {:.2}; results {}",
                c.workload,
                c.pairs,
                c.time_ratio,
                1.0 / c.time_ratio,
                c.cpu_ratio,
                c.throughput_ratio,
                c.rss_ratio,
                if c.results_equal { "identical (C, D, T, dropped, scores, 95% CIs)" } else { "DIFFER" }
            );
        }
    }
    for m in ms.iter().filter(|m| m.implementation == "naive") {
        if let Some(g) = gen {
            if m.workload == "million-prefix" {
                println!(
                    "  naive baseline ran on the first {} pairs of the generated file; at {:.0} pairs/s the full {} would take ~{:.0} s",
                    g.prefix_pairs,
                    m.pairs_per_s,
                    g.pairs,
                    g.pairs as f64 * (m.pairs as f64 / g.prefix_pairs as f64) / m.pairs_per_s
                );
            }
        }
    }
    if let Some(c) = cli {
        println!();
        println!(
            "summeval/cli: `{} score summeval.jsonl --json`, {} runs: median {:.1} ms (min {:.1}, max {:.1}); output {}",
            c.binary,
            c.runs,
            c.median_ms,
            c.min_ms,
            c.max_ms,
            match c.matches_library {
                Some(true) => "matches the library run",
                Some(false) => "DIFFERS from the library run",
                None => "not compared",
            }
        );
        if let Some(n) = &c.note {
            println!("  note: {n}");
        }
    }
    println!();
    let summary: Vec<String> = targets
        .iter()
        .map(|t| {
            format!(
                "{} {}: {} {}",
                t.name,
                t.threshold,
                t.measured.as_deref().unwrap_or("—"),
                t.status
            )
        })
        .collect();
    println!("targets: {}", summary.join(" | "));
}

fn judge(o: &Opts, ms: &[Measurement], cli: Option<&CliRun>, cmps: &[Comparison]) -> Vec<Target> {
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" }.to_owned();
    let mut t = Vec::new();
    t.push(match cli {
        Some(c) => Target {
            name: "summeval CLI".into(),
            threshold: format!("< {TARGET_CLI_MS} ms"),
            measured: Some(format!("{:.1} ms", c.median_ms)),
            status: verdict(c.median_ms < TARGET_CLI_MS),
        },
        None => Target {
            name: "summeval CLI".into(),
            threshold: format!("< {TARGET_CLI_MS} ms"),
            measured: None,
            status: "not run".into(),
        },
    });
    let million = ms
        .iter()
        .find(|m| m.workload == "million" && m.implementation == "optimized");
    // The 1M targets are judged only at the full size.
    let status = |ok: fn(&Measurement) -> bool| match million {
        None => "not run".to_owned(),
        Some(_) if o.pairs != 1_000_000 => format!("n/a ({} pairs)", o.pairs),
        Some(m) => verdict(ok(m)),
    };
    t.push(Target {
        name: "1M pairs time".into(),
        threshold: format!("< {TARGET_MILLION_S} s"),
        measured: million.map(|m| format!("{:.2} s", m.total_s)),
        status: status(|m| m.total_s < TARGET_MILLION_S),
    });
    let path_peak = |m: &Measurement| m.path_peak_rss_bytes.unwrap_or(m.peak_rss_bytes);
    t.push(Target {
        name: "1M pairs peak RSS (load + score_report)".into(),
        threshold: format!("< {:.0} MB", TARGET_MILLION_BYTES / 1e6),
        measured: million.map(|m| format!("{:.0} MB", mb(path_peak(m)))),
        status: status(|m| {
            (m.path_peak_rss_bytes.unwrap_or(m.peak_rss_bytes) as f64) < TARGET_MILLION_BYTES
        }),
    });
    let equal =
        cmps.iter().all(|c| c.results_equal) && cli.and_then(|c| c.matches_library) != Some(false);
    t.push(Target {
        name: "naive = optimized".into(),
        threshold: "identical counts and CIs".into(),
        measured: Some(format!("{} comparison(s)", cmps.len())),
        status: if cmps.is_empty() {
            "not run".into()
        } else {
            verdict(equal)
        },
    });
    t
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(CHILD_ARG) {
        return child(&args[1..]);
    }
    let o = match parse_opts(&args) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };

    let load_start = loadavg();
    let mut ms: Vec<Measurement> = Vec::new();
    let summeval = Path::new(SUMMEVAL);
    let mut notes: Vec<String> = Vec::new();
    let any_summeval = ["summeval/optimized", "summeval/naive", "summeval/cli"]
        .iter()
        .any(|n| selected(&o, n));
    if any_summeval && !summeval.exists() {
        notes.push(format!("{SUMMEVAL} not found: SummEval skipped"));
    } else if any_summeval {
        // Smoke runs score the first articles only (16 lines each).
        let input = if let Some(n) = o.summeval_lines {
            let sub = std::env::temp_dir().join(format!("profile-bench-summeval-{n}.jsonl"));
            let text = std::fs::read_to_string(summeval).expect("read SummEval");
            let head: String = text.lines().take(n).map(|l| format!("{l}\n")).collect();
            std::fs::write(&sub, head).expect("write the SummEval subset");
            notes.push(format!(
                "smoke run: summeval/optimized and summeval/naive ran on the first {n} lines ({})",
                sub.display()
            ));
            sub
        } else {
            summeval.to_path_buf()
        };
        warm(&input);
        for imp in ["optimized", "naive"] {
            if selected(&o, &format!("summeval/{imp}")) {
                ms.push(measure(imp, "summeval", &input));
            }
        }
    }
    let cli = if summeval.exists() && selected(&o, "summeval/cli") {
        let lib = ms
            .iter()
            .find(|m| m.name == "summeval/optimized")
            .filter(|_| !o.quick);
        cli_bench(&o, lib)
    } else {
        None
    };

    let mut gen = None;
    let (path, prefix) = gen_paths(&o);
    let jobs: Vec<(&str, &str, &Path)> = match prefix.as_deref() {
        Some(pre) => vec![
            ("optimized", "million", path.as_path()),
            ("optimized", "million-prefix", pre),
            ("naive", "million-prefix", pre),
        ],
        None => vec![
            ("optimized", "million", path.as_path()),
            ("naive", "million", path.as_path()),
        ],
    }
    .into_iter()
    .filter(|(imp, w, _)| selected(&o, &format!("{w}/{imp}")))
    .collect();
    if !jobs.is_empty() {
        gen = Some(ensure_generated(&o, &path, prefix.as_deref()));
        for (imp, w, p) in jobs {
            warm(p);
            ms.push(measure(imp, w, p));
        }
    }

    let cmps: Vec<Comparison> = ["summeval", "million-prefix", "million"]
        .iter()
        .filter_map(|w| compare_impls(&ms, w))
        .collect();
    let targets = judge(&o, &ms, cli.as_ref(), &cmps);

    if o.json {
        let out = Output {
            schema: "profile-bench/1",
            quick: o.quick,
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            loadavg_start: load_start.clone(),
            loadavg_end: loadavg(),
            bootstrap_resamples: BOOTSTRAP.resamples,
            factors: FACTORS.iter().map(|f| f.id()).collect(),
            generated: gen.clone(),
            measurements: &ms,
            comparisons: &cmps,
            cli: cli.as_ref(),
            targets: &targets,
            notes: &notes,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("serialisable")
        );
    } else {
        print_table(
            &ms,
            &cmps,
            cli.as_ref(),
            gen.as_ref(),
            &targets,
            &o,
            &load_start,
        );
    }
    if !o.json {
        for n in &notes {
            println!("note: {n}");
        }
    }
    if let (true, Some(n)) = (o.clean, o.summeval_lines) {
        let _ = std::fs::remove_file(
            std::env::temp_dir().join(format!("profile-bench-summeval-{n}.jsonl")),
        );
    }
    if o.clean {
        for p in std::iter::once(path).chain(prefix) {
            let _ = std::fs::remove_file(p);
        }
    }

    for c in &cmps {
        if !c.results_equal {
            let opt = ms
                .iter()
                .find(|m| m.workload == c.workload && m.implementation == "optimized");
            let nai = ms
                .iter()
                .find(|m| m.workload == c.workload && m.implementation == "naive");
            eprintln!(
                "error: {}: the naive baseline and the library disagree\n  optimized: {:?}\n  naive:     {:?}",
                c.workload,
                opt.map(|m| &m.factors),
                nai.map(|m| &m.factors)
            );
            return ExitCode::FAILURE;
        }
    }
    if cli.as_ref().and_then(|c| c.matches_library) == Some(false) {
        eprintln!("error: the CLI's output differs from the library run");
        return ExitCode::FAILURE;
    }
    if o.strict && targets.iter().any(|t| t.status == "FAIL") {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
