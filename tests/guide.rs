//! Guided judging (`profile guide`, METHOD.md §8) against the mock LLM
//! server, scripted so that guidance changes specific verdicts:
//!
//! - 12 inputs with one pair each: a LONG response (longer, fewer novel
//!   words) and a short one; people prefer the LONG one on pairs 6..12 only.
//!   The plain judge always prefers LONG (agreement 6/12). Told that length
//!   is not what makes a response better (GuideMis), it prefers the short
//!   one on pairs 0..4 (10/12); told the same of novel words (GuideRand), it
//!   prefers the short one on pair 6 and follows the position on pair 7
//!   (4/12).
//! - The factors chosen, the agreements, their intervals and p-values are
//!   checked against a computation in the test (the same seeded draws of
//!   inputs, the percentile interval by hand, all 2^12 sign patterns).
//! - An earlier `profile judge` makes the unguided condition free; a re-run
//!   makes no call; nothing qualifying stops with rc 1 before any call; a
//!   fault-injected run resumes without repeating a successful call.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::long_short::{self, input, long, short};
use common::{MockRun as Setup, MockServer as Mock};
use profile::factors::{Factor, Task};
use profile::llm::prompts;
use profile::llm::question::Guidance;

const N: usize = 12;

/// People prefer the LONG response on pairs 6..12.
fn human_long(i: usize) -> bool {
    i >= 6
}

fn dataset(dir: &std::path::Path) -> String {
    long_short::write(dir, N, human_long)
}

const MIS: Guidance = Guidance {
    factor: Factor::Length,
    over: true,
};
const RAND: Guidance = Guidance {
    factor: Factor::NovelWordsCount,
    over: true,
};

/// What the mock sees of a guided question: system + "\n" + user.
fn haystack(g: Guidance, i: usize, long_first: bool) -> String {
    let (r1, r2) = if long_first {
        (long(i), short(i))
    } else {
        (short(i), long(i))
    };
    let p = prompts::judge_guided(Task::Helpful, &g.sentence(), &input(i), &r1, &r2);
    format!("{}\n{}", p.system, p.user)
}

fn verdict(better: &str) -> serde_json::Value {
    serde_json::json!({"better": better, "justification": "scripted"})
}

/// The judge's replies: guided exceptions first, then LONG always.
fn script(mock: &Mock) {
    let mut replies = Vec::new();
    for i in 0..4 {
        for long_first in [true, false] {
            // GuideMis: the short response, in both orders.
            let short_pos = if long_first { "2" } else { "1" };
            replies.push(serde_json::json!({"match": haystack(MIS, i, long_first), "json": verdict(short_pos)}));
        }
    }
    for long_first in [true, false] {
        let short_pos = if long_first { "2" } else { "1" };
        replies.push(
            serde_json::json!({"match": haystack(RAND, 6, long_first), "json": verdict(short_pos)}),
        );
        // Pair 7: "1" in both orders (a position flip).
        replies.push(
            serde_json::json!({"match": haystack(RAND, 7, long_first), "json": verdict("1")}),
        );
    }
    replies.extend(long_short::judge_prefers_long());
    mock.script(&serde_json::Value::Array(replies));
}

const SEED: u64 = 7;
const FACTORS: &str = "length,novel_words_count";
const RESAMPLES: u32 = 300;

fn setup(name: &str) -> Setup {
    Setup::start(name, script, dataset)
}

fn cli(s: &Setup, cmd: &str, extra: &[&str]) -> (i32, String, String) {
    let seed = SEED.to_string();
    let resamples = RESAMPLES.to_string();
    let mut a = vec![
        "--factors",
        FACTORS,
        "--bootstrap",
        resamples.as_str(),
        "--seed",
        seed.as_str(),
        "--quiet",
    ];
    a.extend(extra);
    s.run(&[cmd], &a)
}

/// Per input: does each condition agree with people (none, mis, rand)?
fn agreements() -> Vec<[bool; 3]> {
    (0..N)
        .map(|i| {
            let none = human_long(i);
            let mis = if i < 4 { true } else { none };
            let rand = if i == 6 || i == 7 { false } else { none };
            [none, mis, rand]
        })
        .collect()
}

/// numpy.percentile's linear interpolation.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The 95% paired cluster-bootstrap interval of condition `k` − none: the
/// inputs drawn as every interval of the report draws them (the seeded
/// generator, one input per draw), the agreement recomputed per resample.
fn interval(k: usize) -> [f64; 2] {
    let a = agreements();
    let mut rng = profile::stats::Rng::new(SEED);
    let mut diffs: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let (mut base, mut cond) = (0.0, 0.0);
            for _ in 0..N {
                let c = rng.below(N as u64) as usize;
                base += f64::from(u8::from(a[c][0]));
                cond += f64::from(u8::from(a[c][k]));
            }
            (cond - base) / N as f64
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    [percentile(&diffs, 0.025), percentile(&diffs, 0.975)]
}

/// The exact paired permutation p-value: every sign pattern of the
/// per-input differences.
fn p_value(k: usize) -> f64 {
    let d: Vec<i32> = agreements()
        .iter()
        .map(|x| i32::from(x[k]) - i32::from(x[0]))
        .collect();
    let observed: i32 = d.iter().sum::<i32>().abs();
    let hits = (0..1u32 << N)
        .filter(|m| {
            let s: i32 = d
                .iter()
                .enumerate()
                .map(|(i, x)| if m >> i & 1 == 1 { -x } else { *x })
                .sum();
            s.abs() >= observed
        })
        .count();
    hits as f64 / f64::from(1u32 << N)
}

fn close(a: &serde_json::Value, b: f64) {
    let a = a.as_f64().unwrap_or_else(|| panic!("not a number: {a}"));
    assert!((a - b).abs() < 1e-9, "{a} vs {b}");
}

fn check_conditions(g: &serde_json::Value) {
    let conds = g["conditions"].as_array().unwrap();
    let strategies: Vec<&str> = conds
        .iter()
        .map(|c| c["strategy"].as_str().unwrap())
        .collect();
    assert_eq!(strategies, ["none", "mis", "rand"]);
    close(&conds[0]["agreement"], 6.0 / 12.0);
    close(&conds[1]["agreement"], 10.0 / 12.0);
    close(&conds[2]["agreement"], 4.0 / 12.0);
    assert!(conds[0].get("difference").is_none());
    close(&conds[1]["difference"], 4.0 / 12.0);
    close(&conds[2]["difference"], -2.0 / 12.0);
    for k in [1, 2] {
        let [lo, hi] = interval(k);
        close(&conds[k]["difference_ci95"][0], lo);
        close(&conds[k]["difference_ci95"][1], hi);
        close(&conds[k]["p_value"], p_value(k));
    }
    // 4 inputs moved by GuideMis: 2 of the 16 sign patterns of those inputs.
    close(&conds[1]["p_value"], 0.125);
    assert_eq!(
        (g["pairs"].as_u64(), g["inputs"].as_u64()),
        (Some(12), Some(12))
    );
    assert_eq!(g["few_inputs"], false);
    assert_eq!(
        (g["permutations"].as_u64(), g["permutation_exact"].as_bool()),
        (Some(4096), Some(true))
    );
    // The guided factor moved: the plain judge always prefers the longer
    // response; told length is not what counts, less so.
    close(&conds[0]["factor_scores"]["length"], 1.0);
    close(&conds[1]["factor_scores"]["length"], 4.0 / 12.0);
}

#[test]
fn guide_after_judge_chooses_from_the_report_and_moves_the_agreement() {
    let s = setup("guide-report");
    let report = s.dir.join("report.json").to_string_lossy().into_owned();
    let (code, _, err) = cli(&s, "judge", &["--into", &report]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.mock.total(), 24, "12 pairs in both orders");
    // The report's evidence as a study could hold it: the judge weighs
    // novel words as people do (an interval containing 0).
    let mut r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let judge_alignment = r["alignments"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["agent"] == "mock (judge)")
        .unwrap();
    let length = judge_alignment["score_differences"]["length"].clone();
    assert!(length["ci95"][0].as_f64().unwrap() > 0.0, "{length}");
    judge_alignment["score_differences"]["novel_words_count"] =
        serde_json::json!({"estimate": 0.05, "ci95": [-0.3, 0.4]});
    std::fs::write(&report, r.to_string()).unwrap();

    let (code, out, err) = cli(&s, "guide", &["--into", &report, "--json"]);
    assert_eq!(code, 0, "{err}");
    // The unguided condition was free: only the guided ones were asked.
    assert_eq!(
        s.mock.total(),
        24 + 48,
        "2 guided conditions × 24 questions"
    );
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let g = &r["guidance"];
    assert_eq!(g["evidence_from"], "mock (judge)");
    assert_eq!(g["mis"]["factor"], "length");
    assert_eq!(g["mis"]["direction"], "over");
    assert_eq!(g["mis"]["chosen_by"], "evidence");
    assert_eq!(g["mis"]["difference"], length["estimate"]);
    assert_eq!(
        g["mis"]["sentence"],
        "The length of the response is not what makes a response better here."
    );
    // The only factor whose interval contains 0; same direction as GuideMis.
    assert_eq!(g["rand"]["factor"], "novel_words_count");
    assert_eq!(g["rand"]["direction"], "over");
    assert_eq!(g["rand"]["ci95"], serde_json::json!([-0.3, 0.4]));
    check_conditions(g);
    assert_eq!(
        common::agent_names(&r),
        [
            "human",
            "mock (judge)",
            "mock (judge, no guidance)",
            "mock (judge, GuideMis: length over)",
            "mock (judge, GuideRand: novel_words_count over)"
        ]
    );
    let guided = &r["agents"][3];
    assert_eq!(guided["setting"], "evaluation");
    assert_eq!(
        guided["guidance"],
        serde_json::json!({"strategy": "mis", "factor": "length", "direction": "over"})
    );
    assert_eq!(
        r["agents"][2]["guidance"],
        serde_json::json!({"strategy": "none"})
    );
    // Calls per condition: none from the cache, the guided ones asked.
    let run = |k: usize| &r["agents"][k]["run"];
    assert_eq!(
        (run(2)["calls"].as_u64(), run(2)["cache_hits"].as_u64()),
        (Some(0), Some(24))
    );
    assert_eq!(
        (run(3)["calls"].as_u64(), run(4)["calls"].as_u64()),
        (Some(24), Some(24))
    );

    // A re-run (the report read back through the checker) makes no call.
    let (code, out2, err) = cli(&s, "guide", &["--into", &report, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.mock.total(), 72, "a cached re-run makes no call");
    let r2: serde_json::Value = serde_json::from_str(&out2).unwrap();
    assert_eq!(r2["guidance"], r["guidance"]);
    assert_eq!(
        common::agent_names(&r2).len(),
        5,
        "the guided agents are replaced, not added"
    );
    // The text output says what the numbers say.
    let (code, text, _) = cli(&s, "guide", &["--into", &report]);
    assert_eq!(code, 0);
    assert!(text.contains("GuideMis: length (over"), "{text}");
    assert!(
        text.contains("mis   agreement 0.833, vs none +0.333"),
        "{text}"
    );
}

#[test]
fn guide_without_a_judge_runs_it_first_and_stops_when_nothing_qualifies() {
    let s = setup("guide-fresh");
    let report = s.dir.join("report.json").to_string_lossy().into_owned();
    // No report: the judge is run first (24 calls), its verdicts reused by
    // the unguided condition. Novel words: the judge prefers fewer (−1),
    // people are indifferent (0): under-weighted, not a GuideRand candidate,
    // so GuideRand is given.
    let (code, out, err) = cli(
        &s,
        "guide",
        &[
            "--rand-factor",
            "novel_words_count",
            "--into",
            &report,
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.mock.total(), 72);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let g = &r["guidance"];
    assert_eq!(
        (g["mis"]["factor"].as_str(), g["mis"]["chosen_by"].as_str()),
        (Some("length"), Some("evidence"))
    );
    assert_eq!(
        (
            g["rand"]["factor"].as_str(),
            g["rand"]["chosen_by"].as_str()
        ),
        (Some("novel_words_count"), Some("user"))
    );
    close(&g["rand"]["difference"], -1.0);
    check_conditions(g);
    assert_eq!(common::agent_names(&r)[1], "mock (judge)");

    // Without --rand-factor nothing qualifies for GuideRand: GuideMis alone.
    let (code, out, err) = cli(&s, "guide", &["--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.mock.total(), 72, "all cached");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(r["guidance"].get("rand").is_none());
    assert_eq!(r["guidance"]["conditions"].as_array().unwrap().len(), 2);

    // Evidence where every interval contains 0: no guessed guidance, no call.
    let mut rep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for a in rep["alignments"].as_array_mut().unwrap() {
        if a["agent"] == "mock (judge)" {
            for f in ["length", "novel_words_count"] {
                a["score_differences"][f] =
                    serde_json::json!({"estimate": 0.1, "ci95": [-0.2, 0.4]});
            }
        }
    }
    std::fs::write(&report, rep.to_string()).unwrap();
    let (code, _, err) = cli(&s, "guide", &["--into", &report]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no factor qualifies for GuideMis"), "{err}");
    assert_eq!(s.mock.total(), 72);
    // An unknown factor is a usage error.
    let (code, _, err) = cli(&s, "guide", &["--factor", "nonsense"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_guide_run_with_faults_resumes_without_repeating_a_success() {
    let s = setup("guide-faults");
    s.mock
        .faults(r#"{"rate": 0.3, "seed": 5, "retry_after": 0, "kinds": ["429", "500"]}"#);
    let args = [
        "--rand-factor",
        "novel_words_count",
        "--attempts",
        "1",
        "--json",
    ];
    let (code, _, err) = cli(&s, "guide", &args);
    let faulted = s.mock.stats()["faulted_total"].as_u64().unwrap();
    assert!(faulted > 0, "faults were injected");
    // Failed verdicts leave pairs out (or the judge run stops); either way
    // nothing successful is asked again once the faults stop.
    assert!(code == 0 || code == 1, "rc {code}: {err}");
    s.mock.faults("{}");
    let (code, out, err) = cli(&s, "guide", &args);
    assert_eq!(code, 0, "{err}");
    let st = s.mock.stats();
    assert_eq!(st["repeated_successes"].as_u64(), Some(0), "{st}");
    // Every question answered exactly once: 24 per condition.
    assert_eq!(
        st["total"].as_u64().unwrap() - st["faulted_total"].as_u64().unwrap(),
        72,
        "{st}"
    );
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    check_conditions(&r["guidance"]);
}

#[test]
fn a_judge_on_a_sample_joins_the_report_of_the_whole_data() {
    let s = setup("guide-sample");
    let full = s.dir.join("full.json").to_string_lossy().into_owned();
    let (code, _, err) = common::run_cli(&[
        "score",
        &s.file,
        "--task",
        "helpful",
        "--factors",
        "length,novel_words_count",
        "--bootstrap",
        "300",
        "--seed",
        "7",
        "--out",
        &full,
    ]);
    assert_eq!(code, 0, "{err}");
    // The same sample alone, for comparison.
    let (code, alone, err) = cli(&s, "judge", &["--limit", "8", "--json"]);
    assert_eq!(code, 0, "{err}");
    let alone: serde_json::Value = serde_json::from_str(&alone).unwrap();
    let (code, out, err) = cli(&s, "judge", &["--limit", "8", "--into", &full, "--json"]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The report stays the report of all 12 pairs …
    assert_eq!(r["dataset"]["pairs"], 12);
    assert!(r["dataset"].get("sample").is_none());
    assert_eq!(r["agents"][0]["factor_scores"]["length"]["n_pairs"], 12);
    // … and the judge records the pairs it covered (file lines 1 to 8) …
    let judge = &r["agents"][1];
    assert_eq!(judge["run"]["pairs_covered"], "1-8");
    assert_eq!(judge["run"]["sample"]["method"], "first_pairs");
    assert_eq!(judge["run"]["items"], 8);
    // … and its alignment is the one computed on those 8 pairs alone: the
    // human scores restricted to them beside it, the paired bootstrap over
    // the sampled inputs.
    assert_eq!(r["alignments"][0], alone["alignments"][0]);
    let restricted = &r["alignments"][0]["reference_scores"];
    // People prefer LONG on pairs 6 and 7 of the first 8: length (6 − 2)/8 against.
    close(&restricted["length"], -0.5);
    close(&r["agents"][0]["factor_scores"]["length"]["score"], 0.0);
    let d = &r["alignments"][0]["score_differences"]["length"];
    close(&d["estimate"], 1.0 - -0.5);
    // Guided judging on the sample joins it too, compared on the same pairs.
    let (code, out, err) = cli(
        &s,
        "guide",
        &[
            "--limit",
            "8",
            "--rand-factor",
            "novel_words_count",
            "--into",
            &full,
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["guidance"]["pairs"], 8);
    assert_eq!(r["guidance"]["evidence"][0]["human"], -0.5);
    assert_eq!(r["agents"][3]["run"]["pairs_covered"], "1-8");
    // The text table marks the agents compared on their sample.
    let (code, text, err) = cli(&s, "judge", &["--limit", "8", "--into", &full]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("  mock (judge) *"), "{text}");
    assert!(text.contains("* ran on a sample of the pairs"), "{text}");
    // Other data is still refused, with the reason.
    let other = s.dir.join("other.jsonl");
    let text = std::fs::read_to_string(&s.file).unwrap();
    let fewer: Vec<&str> = text.lines().take(10).collect();
    std::fs::write(&other, fewer.join("\n")).unwrap();
    let other = other.to_string_lossy().into_owned();
    let mut a = vec![
        "judge",
        other.as_str(),
        "--limit",
        "8",
        "--into",
        full.as_str(),
    ];
    a.extend(s.model_flags());
    a.extend(["--factors", FACTORS, "--quiet"]);
    let (code, _, err) = common::run_cli(&a);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("different data (the sample was drawn from 10 pairs"),
        "{err}"
    );
}

#[test]
fn batch_export_of_a_guide_run_asks_what_the_live_run_asks() {
    let s = setup("guide-batch");
    let report = s.dir.join("report.json").to_string_lossy().into_owned();
    let (code, _, err) = cli(&s, "judge", &["--into", &report]);
    assert_eq!(code, 0, "{err}");
    let batch = |extra: &[&str]| {
        let mut a = vec!["--factors", FACTORS, "--seed", "7", "--run", "guide"];
        a.extend(extra);
        s.run(&["batch", "export"], &a)
    };
    // Without a judge in a report and without --factor: refused, with what to do.
    let (code, _, err) = batch(&[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("judge the pairs first"), "{err}");
    // From the report's judge: GuideMis and GuideRand as `profile guide`
    // chooses them (novel words has no interval containing 0 here, so
    // GuideRand is given); the unguided verdicts are cached.
    let (code, out, err) = batch(&["--into", &report, "--rand-factor", "novel_words_count"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("GuideMis: length (over"), "{err}");
    assert_eq!(
        out.lines().count(),
        48,
        "2 guided conditions × 12 pairs × 2 orders"
    );
    // The live run asks the same questions: after it, nothing is left.
    let before = s.mock.total();
    let (code, _, err) = cli(
        &s,
        "guide",
        &["--into", &report, "--rand-factor", "novel_words_count"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.mock.total() - before, 48);
    let (code, out, err) = batch(&["--into", &report, "--rand-factor", "novel_words_count"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty() && err.contains("nothing to export"), "{err}");
}

#[test]
fn guide_estimates_without_calls_and_says_when_inputs_are_too_few() {
    let s = setup("guide-few");
    let report = s.dir.join("report.json").to_string_lossy().into_owned();
    let (code, _, err) = cli(&s, "judge", &["--into", &report]);
    assert_eq!(code, 0, "{err}");
    // --estimate: the choice and each condition's estimate, no call.
    let (code, out, err) = cli(
        &s,
        "guide",
        &[
            "--into",
            &report,
            "--rand-factor",
            "novel_words_count",
            "--estimate",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.mock.total(), 24);
    assert!(out.contains("GuideMis: length (over"), "{out}");
    for what in [
        "judge, no guidance estimate: 24 questions, 24 cached",
        "judge, GuideMis estimate: 24 questions, 0 cached",
        "judge, GuideRand estimate: 24 questions, 0 cached",
    ] {
        assert!(out.contains(what), "{what}\n{out}");
    }
    // Three inputs: the numbers are given, and flagged as too few.
    let (code, out, err) = cli(
        &s,
        "guide",
        &[
            "--limit",
            "3",
            "--factor",
            "length",
            "--rand-factor",
            "novel_words_count",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Too few inputs (3 < 10)"), "{out}");
    assert!(
        out.contains("3 pairs of 3 inputs judged in every condition"),
        "{out}"
    );
    let (code, out, _) = cli(
        &s,
        "guide",
        &[
            "--limit",
            "3",
            "--factor",
            "length",
            "--rand-factor",
            "novel_words_count",
            "--json",
        ],
    );
    assert_eq!(code, 0);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["guidance"]["few_inputs"], true);
    assert_eq!(r["guidance"]["mis"]["chosen_by"], "user");
    // Pairs 0..2: GuideMis turns pairs 0, 1 and 2 to the short response,
    // which people prefer there: 0/3 → 3/3.
    close(&r["guidance"]["conditions"][0]["agreement"], 0.0);
    close(&r["guidance"]["conditions"][1]["agreement"], 1.0);
    // Without bootstrap resamples there is no interval to choose from.
    let (code, _, err) = cli(&s, "guide", &["--limit", "3", "--bootstrap", "0"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no factor has an interval"), "{err}");
}
