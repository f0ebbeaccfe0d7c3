//! The spending cap (`--max-cost`, the app's cost cap) on the mock LLM
//! server, through both drivers of the one engine rule: the CLI's threads
//! and the worker's async path (`protocol::run_model` under `block_on`).
//! A run stops at the cap with what it spent at most the cap, every paid
//! answer stored; a re-run with a higher cap pays only for the rest.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::cell::RefCell;

use common::MockServer as Mock;
use profile::data::{FormatOptions, Loader};
use profile::factors::Factor;
use profile::llm::cache::CacheEntry;
use profile::llm::drive::{Control, MemoryStore, Store};
use profile::llm::engine::{CostCap, RunSettings};
use profile::llm::pricing::Price;
use profile::llm::provider::{ModelConfig, Provider};
use profile::llm::settings::ModelChoice;
use profile::llm::threads::{block_on, BlockingHttp};
use profile::protocol::{run_model, FromWorker, LlmRequest, ModelKind, ScoreRequest, Session};
use profile::stats::BootstrapConfig;

/// $100 per million tokens each way: a call of the mock costs a few cents,
/// its worst case (every byte a token, 1024 output tokens) about $0.35.
const PRICE: Price = Price {
    input_per_m: 100.0,
    output_per_m: 100.0,
};

/// 30 inputs, 2 pairs each over 3 distinct responses: 90 facts questions.
fn dataset() -> String {
    let mut lines = Vec::new();
    for i in 0..30 {
        let r = |k: usize| format!("Answer {k} to question {i}. It has {k} parts. Item {i}.");
        for (a, b, p) in [(0, 1, "a"), (1, 2, "b")] {
            lines.push(
                serde_json::json!({"input": format!("Question {i}?"), "response_a": r(a), "response_b": r(b), "preference": p})
                    .to_string(),
            );
        }
    }
    lines.join("\n")
}

fn requests(mock: &Mock) -> (u64, u64) {
    let s = mock.stats();
    (
        s["total"].as_u64().unwrap(),
        s["repeated_successes"].as_u64().unwrap(),
    )
}

/// What the stored answers cost at [`PRICE`] (their recorded usage).
fn cost(entries: &[CacheEntry]) -> f64 {
    entries
        .iter()
        .map(|e| PRICE.cost(e.input_tokens as f64, e.output_tokens as f64))
        .sum()
}

fn disk_entries(dir: &std::path::Path) -> Vec<CacheEntry> {
    std::fs::read_to_string(dir.join("cache.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `$Y spent` in a cap message.
fn spent_in(message: &str) -> f64 {
    let before = message.split(" spent").next().unwrap();
    before.rsplit('$').next().unwrap().parse().unwrap()
}

fn cli(file: &str, base: &str, cache: &str, extra: &[&str]) -> (i32, String, String) {
    let mut a = vec![
        "score",
        file,
        "--provider",
        "openai-compatible",
        "--model",
        "mock",
        "--base-url",
        base,
        "--cache-dir",
        cache,
        "--factors",
        "length,n_facts",
        "--bootstrap",
        "50",
        "--quiet",
        "--json",
    ];
    a.extend(extra);
    common::run_cli(&a)
}

#[test]
fn the_cli_stops_at_the_cap_keeps_every_paid_answer_and_a_rerun_pays_only_the_rest() {
    let dir = common::tempdir("cost-cap-cli");
    let file = dir.join("pairs.jsonl");
    std::fs::write(&file, dataset()).unwrap();
    let file = file.to_string_lossy().into_owned();
    let cache_dir = dir.join("cache");
    let cache = cache_dir.to_string_lossy().into_owned();
    let mock = Mock::start();
    let base = mock.url("/v1");
    let prices = ["--price-in", "100", "--price-out", "100"];

    // Bad caps are usage errors naming the flag; a cap without prices on a
    // compatible server is refused before any call.
    for bad in ["-1", "abc", "NaN", "1e9"] {
        let (code, _, err) = cli(&file, &base, &cache, &["--max-cost", bad]);
        assert_eq!(code, 2, "--max-cost {bad}: {err}");
        assert!(err.contains("--max-cost"), "{err}");
    }
    let (code, _, err) = cli(&file, &base, &cache, &["--max-cost", "1"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--price-in and --price-out") && err.contains("not known"),
        "{err}"
    );
    assert_eq!(requests(&mock).0, 0, "nothing is sent before the run");

    // --estimate says the run is over the cap.
    let mut args = vec!["--max-cost", "1", "--estimate"];
    args.extend(prices);
    let (code, out, err) = cli(&file, &base, &cache, &args);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("cost cap $1.00 (the estimate is over it"),
        "{out}"
    );

    // The capped run: stops, exit 1, says how far it got.
    let mut args = vec!["--max-cost", "1"];
    args.extend(prices);
    let (code, out, err) = cli(&file, &base, &cache, &args);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "no report from a stopped run: {out}");
    assert!(err.contains("stopped at the cost cap $1.00: "), "{err}");
    assert!(err.contains("re-run with a higher --max-cost"), "{err}");
    let entries = disk_entries(&cache_dir);
    let (sent, _) = requests(&mock);
    assert!(sent > 3 && sent < 90, "{sent} calls");
    assert_eq!(entries.len() as u64, sent, "every paid answer is stored");
    let paid = cost(&entries);
    assert!(paid <= 1.0, "spent {paid}");
    assert!((spent_in(&err) - paid).abs() < 0.006, "{err} vs {paid}");
    let answered = format!("{} of 90 questions answered", entries.len());
    assert!(err.contains(&answered), "{err}");
    eprintln!("capped CLI run: {sent} calls, ${paid:.4} spent of $1.00");

    // A higher cap finishes, paying only for the questions not stored.
    let mut args = vec!["--max-cost", "100"];
    args.extend(prices);
    let (code, out, err) = cli(&file, &base, &cache, &args);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["llm"]["cache_hits"].as_u64(), Some(sent));
    let (total, repeated) = requests(&mock);
    assert_eq!(total, 90, "the re-run asked only the {} left", 90 - sent);
    assert_eq!(repeated, 0, "no paid answer was asked again");
    assert_eq!(disk_entries(&cache_dir).len(), 90);
}

/// The worker's path: the same stop, the answers in its store, the report
/// kept with a warning saying how far it got.
#[test]
fn the_worker_stops_at_the_cap_and_a_higher_cap_pays_only_the_rest() {
    let data = dataset();
    let score = ScoreRequest {
        factor_pack: None,
        task: None,
        factors: Some(vec![Factor::Length, Factor::NFacts]),
        bootstrap: BootstrapConfig {
            resamples: 50,
            seed: 1,
        },
        group_by: None,
    };
    let session = RefCell::new(Session::new());
    let mut loader = Loader::new(FormatOptions::default());
    loader.push(data.as_bytes());
    let loaded = session.borrow_mut().finish_load(
        "pairs.jsonl".into(),
        loader,
        Default::default(),
        &score,
        || 0.0,
    );
    assert!(matches!(loaded, FromWorker::Loaded { .. }));
    let mock = Mock::start();
    let mut model = ModelConfig::new(Provider::OpenAiCompatible, "mock");
    model.base_url = Some(mock.url("/v1"));
    let transport = BlockingHttp::new(&model, std::time::Duration::from_secs(30));
    let store = MemoryStore::default();
    let run = |max_usd: f64| {
        let req = LlmRequest {
            choice: ModelChoice {
                settings: RunSettings {
                    cap: Some(CostCap {
                        max_usd,
                        price: PRICE,
                    }),
                    ..RunSettings::default()
                },
                model: model.clone(),
                price: Some(PRICE),
                sample: None,
            },
            score: score.clone(),
            run: ModelKind::Extract,
        };
        block_on(run_model(
            &session,
            &req,
            "",
            &transport,
            &transport,
            &store,
            &Control::default(),
            &|_| {},
        ))
    };
    let FromWorker::LlmFinished { warning, report } = run(1.0) else {
        panic!("the capped run gives its report")
    };
    let warning = warning.expect("a capped run says so");
    assert!(
        warning.contains("stopped at the cost cap $1.00: "),
        "{warning}"
    );
    let entries: Vec<CacheEntry> = store.memory().borrow().entries().cloned().collect();
    let (sent, _) = requests(&mock);
    assert!(sent > 3 && sent < 90, "{sent} calls");
    assert_eq!(entries.len() as u64, sent, "every paid answer is stored");
    let paid = cost(&entries);
    assert!(paid <= 1.0, "spent {paid}");
    assert!((spent_in(&warning) - paid).abs() < 0.006, "{warning}");
    let llm = report.llm.expect("the run's record");
    assert_eq!(llm.calls, sent);
    eprintln!("capped worker run: {sent} calls, ${paid:.4} spent of $1.00");

    let FromWorker::LlmFinished { warning, report } = run(100.0) else {
        panic!("the second run finishes")
    };
    assert_eq!(warning, None);
    assert_eq!(report.llm.unwrap().cache_hits, sent);
    let (total, repeated) = requests(&mock);
    assert_eq!((total, repeated), (90, 0));
}

/// `profile judge` runs the factor extraction, then the judge: one cap for
/// both. The extraction fits; the judge stops at what is left of the cap.
#[test]
fn one_cap_covers_every_stage_of_a_command() {
    let dir = common::tempdir("cost-cap-judge");
    let file = dir.join("pairs.jsonl");
    std::fs::write(&file, dataset()).unwrap();
    let file = file.to_string_lossy().into_owned();
    let cache_dir = dir.join("cache");
    let cache = cache_dir.to_string_lossy().into_owned();
    let mock = Mock::start();
    let base = mock.url("/v1");
    let mut a = vec![
        "judge",
        file.as_str(),
        "--provider",
        "openai-compatible",
        "--model",
        "mock",
        "--base-url",
        base.as_str(),
        "--cache-dir",
        cache.as_str(),
        "--factors",
        "length,n_facts",
        "--quiet",
        "--price-in",
        "100",
        "--price-out",
        "100",
        "--max-cost",
    ];
    // The 90 extraction calls cost about $3.7; the judge's 120 about $5.
    a.push("6");
    let (code, _, err) = common::run_cli(&a);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("judge: stopped at the cost cap $6.00: "),
        "{err}"
    );
    let entries = disk_entries(&cache_dir);
    let facts = entries
        .iter()
        .filter(|e| e.template.starts_with("atomic_facts"))
        .count();
    assert_eq!(facts, 90, "the extraction finished");
    assert!(entries.len() > 90, "the judge answered some");
    let paid = cost(&entries);
    assert!(paid <= 6.0, "the command spent {paid} under a $6 cap");
    assert!((spent_in(&err) - paid).abs() < 0.006, "{err} vs {paid}");
    eprintln!(
        "judge under $6: {} extraction + {} judge calls, ${paid:.4}",
        facts,
        entries.len() - facts
    );
}
