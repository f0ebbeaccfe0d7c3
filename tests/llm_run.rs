//! Extraction runs against the project's mock LLM server (tests/mock_llm):
//! a clean run, a re-run served wholly from the cache, and a fault run with
//! 30% injected failures that ends with every item done or listed, then
//! resumes to completion without repeating a successful call.

#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use profile::data::Dataset;
use profile::factors::Factor;
use profile::llm::extract::{ExtractOptions, Plan};
use profile::llm::provider::{ModelConfig, Provider};
use profile::llm::schedule::RetryPolicy;
use profile::llm::threads::{run_plan, DiskCache, HttpLlm, RunSettings, RunStats};

mod common;

use common::MockServer as Mock;

fn post(mock: &Mock, path: &str, body: &str) {
    ureq::post(&mock.url(path))
        .set("content-type", "application/json")
        .send_string(body)
        .expect("mock control call");
}

/// 200 pairs over 50 inputs; responses repeat across pairs as in real data.
fn dataset() -> Dataset {
    common::council_dataset(50)
}

fn llm(mock: &Mock) -> HttpLlm {
    let mut cfg = ModelConfig::new(Provider::OpenAi, "mock-model");
    cfg.base_url = Some(mock.url("/v1"));
    HttpLlm::new(cfg, "sk-test".into(), Duration::from_millis(1500))
}

fn settings(max_attempts: u32) -> RunSettings {
    RunSettings {
        concurrency: 4,
        retry: RetryPolicy {
            max_attempts,
            base_s: 0.01,
            max_s: 0.05,
            timeout_s: 1.5,
            ..Default::default()
        },
        ..Default::default()
    }
}

const FACTORS: [Factor; 3] = [Factor::NFacts, Factor::Hallucination, Factor::Fluency];

fn run(
    mock: &Mock,
    ds: &Dataset,
    cache_dir: &std::path::Path,
    attempts: u32,
) -> (
    usize,
    RunStats,
    Vec<profile::llm::threads::FailedItem>,
    Plan,
) {
    let opts = ExtractOptions {
        logprobs: true,
        summaries: true,
    };
    let plan = Plan::new(ds, &FACTORS, opts);
    let (mut cache, bad) = DiskCache::open(cache_dir).unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    let (answers, stats, failures) = run_plan(
        &plan,
        ds,
        opts,
        &llm(mock),
        &mut cache,
        &settings(attempts),
        &AtomicBool::new(false),
        &|_| {},
    );
    (answers.len(), stats, failures, plan)
}

#[test]
fn clean_run_then_rerun_from_cache() {
    let mock = Mock::start();
    let ds = dataset();
    let dir = tempdir("clean");
    let (answered, stats, failures, plan) = run(&mock, &ds, &dir, 3);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(answered as u64 + stats.skipped_empty, plan.len() as u64);
    // Calls scale with unique texts: 50 sources × 4 distinct responses, not 400 pair sides.
    assert_eq!(plan.unique_responses, 200);
    assert_eq!(stats.calls, plan.len() as u64 - stats.skipped_empty);
    let before = mock.stats()["total"].as_u64().unwrap();
    let (answered2, stats2, failures2, _) = run(&mock, &ds, &dir, 3);
    assert_eq!((answered2, failures2.len()), (answered, 0));
    assert_eq!(stats2.calls, 0, "a re-run must not repeat a paid call");
    assert_eq!(stats2.cache_hits as usize, answered);
    assert_eq!(mock.stats()["total"].as_u64().unwrap(), before);
    assert_eq!(
        mock.stats()["repeated_successes"].as_u64().unwrap(),
        0,
        "identical prompts are asked once"
    );
}

#[test]
fn fault_run_lists_every_failure_and_resume_completes_without_repeats() {
    let mock = Mock::start();
    post(
        &mock,
        "/__faults",
        r#"{"rate": 0.3, "seed": 3, "retry_after": 0, "timeout_s": 4, "kinds": ["429", "500", "503", "timeout", "malformed", "truncated", "wrong_shape", "prose_fences"]}"#,
    );
    let ds = dataset();
    let dir = tempdir("faults");
    let (answered, stats, failures, plan) = run(&mock, &ds, &dir, 2);
    let faulted = mock.stats()["faulted_total"].as_u64().unwrap();
    assert!(faulted > 50, "faults were injected ({faulted})");
    // Every item is either done or listed as failed, with a reason.
    assert_eq!(
        answered as u64 + failures.len() as u64 + stats.skipped_empty,
        plan.len() as u64
    );
    assert!(!failures.is_empty(), "with 2 attempts some items must fail");
    assert!(failures.iter().all(|f| !f.reason.is_empty()));
    assert!(stats.retries > 0 && stats.repairs > 0, "{stats:?}");
    // A reply that did not parse keeps its raw text.
    assert!(
        failures.iter().any(|f| f.raw_reply.is_some())
            || failures.iter().all(|f| !f.reason.contains("did not parse"))
    );
    // Resume without faults: everything completes, nothing successful is asked again.
    post(&mock, "/__faults", "{}");
    let (answered2, stats2, failures2, _) = run(&mock, &ds, &dir, 3);
    assert!(failures2.is_empty(), "{failures2:?}");
    assert_eq!(answered2 as u64 + stats2.skipped_empty, plan.len() as u64);
    // Every earlier success came from the cache (questions with the same
    // prompt share one call and one cache entry).
    assert_eq!(
        stats2.cache_hits as usize, answered,
        "every earlier success came from the cache"
    );
    assert_eq!(
        stats2.calls,
        plan.len() as u64 - stats2.skipped_empty - stats2.cache_hits,
        "only the missing items were asked"
    );
    assert_eq!(
        mock.stats()["repeated_successes"].as_u64().unwrap(),
        0,
        "no successful call was repeated"
    );
}

use common::tempdir;

/// The CLI with a provider: LLM factors are scored, the report records the
/// run, the key stays out of the report, and a second run makes no call.
#[test]
fn cli_scores_llm_factors_and_caches() {
    let mock = Mock::start();
    let dir = tempdir("cli");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/www/example/example.jsonl");
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_profile"))
            .args([
                "score",
                example,
                "--provider",
                "openai-compatible",
                "--model",
                "local",
                "--limit",
                "12",
                "--bootstrap",
                "50",
                "--json",
            ])
            .args([
                "--base-url",
                &mock.url("/v1"),
                "--cache-dir",
                dir.to_str().unwrap(),
            ])
            .env("PROFILE_API_KEY", "sk-secret-key-123")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text.contains("sk-secret-key-123"),
            "the key must never reach the report"
        );
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let r = run();
    let llm = &r["llm"];
    assert_eq!(llm["provider"], "openai-compatible");
    assert_eq!(llm["failed"], 0);
    assert!(llm["calls"].as_u64().unwrap() > 0);
    assert!(r["skipped_factors"].as_array().unwrap().is_empty());
    assert!(
        r["agents"][0]["factor_scores"]["n_facts"]["n_pairs"]
            .as_u64()
            .unwrap()
            == 12
    );
    assert!(
        std::fs::read_to_string(dir.join("cache.jsonl"))
            .unwrap()
            .lines()
            .count()
            > 0
    );
    assert!(!std::fs::read_to_string(dir.join("cache.jsonl"))
        .unwrap()
        .contains("sk-secret"));
    let r2 = run();
    assert_eq!(r2["llm"]["calls"], 0);
    assert_eq!(r2["llm"]["cache_hits"], llm["calls"]);
    assert_eq!(r2["agents"], r["agents"]);
}

/// Imported factor values (bring your own annotations) are scored without a
/// model; an exported cache imported elsewhere serves a run with no call.
#[test]
fn annotations_and_cache_sharing() {
    let dir = tempdir("share");
    std::fs::create_dir_all(&dir).unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/www/example/example.jsonl");
    // n_facts := the response's word count, so its score must equal length's.
    let mut ann = String::new();
    for line in std::fs::read_to_string(example).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for k in ["response_a", "response_b"] {
            let t = v[k].as_str().unwrap();
            let n = profile::factors::rules::word_count(t);
            ann.push_str(&serde_json::json!({"text": t, "factors": {"n_facts": n}}).to_string());
            ann.push('\n');
        }
    }
    ann.push_str("{\"text\": \"x\", \"factors\": {\"nope\": 1}}\n");
    let ann_path = dir.join("ann.jsonl");
    std::fs::write(&ann_path, ann).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_profile"))
        .args([
            "score",
            example,
            "--json",
            "--bootstrap",
            "100",
            "--annotations",
            ann_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("factors.nope"),
        "bad annotation lines are reported"
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fs = &r["agents"][0]["factor_scores"];
    assert_eq!(fs["n_facts"], fs["length"]);
    assert!(r.get("llm").is_none(), "no model was called");
    assert!(!r["skipped_factors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == "n_facts"));

    // Cache sharing: fill a cache from the mock, export it, import it elsewhere.
    let mock = Mock::start();
    let (a, b) = (dir.join("cache-a"), dir.join("cache-b"));
    let score = |cache: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_profile"))
            .args([
                "score",
                example,
                "--provider",
                "openai-compatible",
                "--model",
                "m",
                "--limit",
                "6",
                "--json",
                "--quiet",
            ])
            .args([
                "--factors",
                "n_facts,hallucination",
                "--base-url",
                &mock.url("/v1"),
                "--cache-dir",
                cache.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = score(&a);
    assert!(first["llm"]["calls"].as_u64().unwrap() > 0);
    let export = Command::new(env!("CARGO_BIN_EXE_profile"))
        .args(["cache", "export", "--cache-dir", a.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(export.status.success());
    let shared = dir.join("shared.jsonl");
    std::fs::write(&shared, &export.stdout).unwrap();
    let import = Command::new(env!("CARGO_BIN_EXE_profile"))
        .args([
            "cache",
            "import",
            shared.to_str().unwrap(),
            "--cache-dir",
            b.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&import.stdout)
        .starts_with(&format!("{} new entries", first["llm"]["calls"])));
    let second = score(&b);
    assert_eq!(second["llm"]["calls"], 0);
    assert_eq!(second["agents"], first["agents"]);
}
