//! Batch runs through the `profile` binary, with the project's mock LLM
//! server (tests/mock_llm) standing in for the providers' batch backends:
//! every exported request body is POSTed to the mock and its reply wrapped
//! in the provider's batch result line.
//!
//! * OpenAI: export stage 1 → results with one error line and one garbage
//!   line → import → export again asks only the failed request → … → stage 2
//!   → … → "nothing to export" → `profile score` against an address where
//!   nothing listens succeeds with 0 calls, all from the cache.
//! * Anthropic: stage 1 with errored and expired results, exported again
//!   until stage 2 begins.
//! * No key appears in any batch file or in the cache.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::MockServer;
use serde_json::{json, Value};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www/example/example.jsonl");
/// The key in the environment of every command; it must never be written.
const KEY: &str = "sk-batch-test-NEVER-WRITTEN-4242";
/// Nothing listens on the discard port: any call to it fails.
const DEAD: &str = "http://127.0.0.1:9";

fn profile(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_profile"))
        .args(args)
        .env("OPENAI_API_KEY", KEY)
        .env("ANTHROPIC_API_KEY", KEY)
        .env("PROFILE_API_KEY", KEY)
        .output()
        .expect("run the profile binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

use common::tempdir;

/// One study: the data, provider, model and cache every command shares.
struct Study {
    dir: PathBuf,
    provider: &'static str,
    base_url: String,
}

impl Study {
    fn flags(&self, cmd: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        v.extend(
            [
                DATA,
                "--provider",
                self.provider,
                "--model",
                "mock-model",
                "--base-url",
                self.base_url.as_str(),
                "--limit",
                "3",
                "--cache-dir",
            ]
            .map(String::from),
        );
        v.push(self.dir.join("cache").to_string_lossy().into_owned());
        v
    }

    /// Runs a command that must succeed: (stdout, stderr).
    fn ok(&self, args: &[String]) -> (String, String) {
        let o = profile(args);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        assert!(o.status.success(), "profile {args:?} failed: {err}\n{out}");
        (out, err)
    }

    /// `batch export` into `name`: the request lines (empty when nothing
    /// was written) and stderr.
    fn export(&self, name: &str) -> (Vec<Value>, String) {
        let out = self.dir.join(name);
        let mut args = self.flags(&["batch", "export"]);
        args.extend(["--out".into(), out.to_string_lossy().into_owned()]);
        args.extend(["--price-in", "1", "--price-out", "2"].map(String::from));
        let (stdout, err) = self.ok(&args);
        assert!(stdout.is_empty());
        let lines = match std::fs::read_to_string(&out) {
            Ok(t) => {
                assert!(!t.contains(KEY), "the key is in {name}");
                t.lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        (lines, err)
    }

    /// `batch import` of result lines written to `name`: stdout.
    fn import(&self, name: &str, lines: &[String]) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let mut args = vec!["batch".into(), "import".into()];
        args.push(path.to_string_lossy().into_owned());
        args.extend(self.flags(&[]));
        self.ok(&args).0
    }
}

/// POSTs a body to the mock and returns (status, reply JSON).
fn post(mock: &MockServer, path: &str, body: &Value) -> (u16, Value) {
    let resp = match ureq::post(&mock.url(path))
        .set("content-type", "application/json")
        .set("anthropic-version", "2023-06-01")
        .send_string(&body.to_string())
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("mock unreachable: {e}"),
    };
    let status = resp.status();
    (
        status,
        serde_json::from_str(&resp.into_string().unwrap()).unwrap(),
    )
}

/// The OpenAI Batch API result line for a request, answered by the mock.
fn openai_result(mock: &MockServer, i: usize, request: &Value) -> String {
    assert_eq!(request["method"], "POST");
    assert_eq!(request["url"], "/v1/chat/completions");
    let (status, body) = post(mock, "/v1/chat/completions", &request["body"]);
    assert_eq!(status, 200, "the mock rejected an exported body: {body}");
    json!({"id": format!("batch_req_{i}"), "custom_id": request["custom_id"],
           "response": {"status_code": status, "request_id": format!("req_{i}"), "body": body},
           "error": null})
    .to_string()
}

/// The Anthropic Message Batches result line for a request, answered by the mock.
fn anthropic_result(mock: &MockServer, request: &Value) -> String {
    let (status, message) = post(mock, "/v1/messages", &request["params"]);
    assert_eq!(status, 200, "the mock rejected exported params: {message}");
    json!({"custom_id": request["custom_id"], "result": {"type": "succeeded", "message": message}})
        .to_string()
}

fn ids(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["custom_id"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_no_key_under(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            assert_no_key_under(&p);
        } else {
            // Bytes: the stage memos in the cache directory are binary.
            let t = std::fs::read(&p).unwrap();
            assert!(
                !t.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
                "the key is in {}",
                p.display()
            );
        }
    }
}

#[test]
fn openai_batch_study_resumes_to_the_end_then_score_makes_no_call() {
    let mock = MockServer::start();
    let s = Study {
        dir: tempdir("openai"),
        provider: "openai",
        base_url: format!("{DEAD}/v1"),
    };

    // Stage 1; the first request fails in the batch, and a garbage line follows.
    let (stage1, err) = s.export("requests-1.jsonl");
    assert!(err.contains("stage 1 of 2"), "{err}");
    assert!(err.contains("50% batch discount"), "{err}");
    assert!(stage1.len() >= 5, "{err}");
    let mut results = vec![json!({"id": "batch_req_0", "custom_id": stage1[0]["custom_id"], "response": null,
        "error": {"code": "batch_expired", "message": "not executed before the completion window expired"}})
    .to_string()];
    for (i, r) in stage1.iter().enumerate().skip(1) {
        results.push(openai_result(&mock, i, r));
    }
    results.push("{garbage".into());
    let out = s.import("results-1.jsonl", &results);
    let n = stage1.len();
    assert!(
        out.contains(&format!("{} new answers added", n - 1)),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{} lines: {} answered, 0 already answered, 2 failed, 0 unknown",
            n + 1,
            n - 1
        )),
        "{out}"
    );
    assert!(
        out.contains("line 1: field `error`: the batch reported an error: batch_expired"),
        "{out}"
    );
    assert!(out.contains(&format!("line {}: not JSON", n + 1)), "{out}");

    // Resumable: only the failed request is exported again.
    let (again, err) = s.export("requests-1b.jsonl");
    assert!(err.contains("stage 1 of 2"), "{err}");
    assert!(err.contains(&format!("{} already cached", n - 1)), "{err}");
    assert_eq!(ids(&again), ids(&stage1[..1]));
    let out = s.import("results-1b.jsonl", &[openai_result(&mock, 0, &again[0])]);
    assert!(out.contains("1 new answers added"), "{out}");
    // The same results again: nothing new, nothing unknown.
    let out = s.import("results-1c.jsonl", &[openai_result(&mock, 0, &again[0])]);
    assert!(
        out.contains("0 new answers added") && out.contains("1 already answered"),
        "{out}"
    );

    // Stage 2: the fact checks, which quote the imported facts.
    let (stage2, err) = s.export("requests-2.jsonl");
    assert!(err.contains("stage 2 of 2"), "{err}");
    assert!(!stage2.is_empty());
    assert!(stage2
        .iter()
        .all(|r| r["body"]["response_format"]["json_schema"]["name"] == "fact_checks"));
    let results: Vec<String> = stage2
        .iter()
        .enumerate()
        .map(|(i, r)| openai_result(&mock, i, r))
        .collect();
    let out = s.import("results-2.jsonl", &results);
    assert!(
        out.contains(&format!("{} new answers added", stage2.len())),
        "{out}"
    );
    assert!(out.contains("0 failed, 0 unknown"), "{out}");

    // Done.
    let (none, err) = s.export("requests-3.jsonl");
    assert!(none.is_empty() && !s.dir.join("requests-3.jsonl").exists());
    assert!(
        err.contains("nothing to export: every question is answered"),
        "{err}"
    );

    // Score reads every answer from the cache: a call to the dead address
    // would fail and show in the report.
    let mut args = s.flags(&["score"]);
    args.extend(["--json".into(), "--timeout".into(), "2".into()]);
    let (report, err) = s.ok(&args);
    let v: Value = serde_json::from_str(&report).unwrap();
    let llm = &v["llm"];
    assert_eq!(llm["calls"], 0, "{err}");
    assert_eq!(llm["failed"], 0, "{}", llm["failures"]);
    assert!(llm["cache_hits"].as_u64().unwrap() >= (n + stage2.len()) as u64);
    assert!(
        v["skipped_factors"].as_array().unwrap().is_empty(),
        "{}",
        v["skipped_factors"]
    );
    assert!(v["agents"][0]["factor_scores"]["hallucination"]["n_pairs"].as_u64() > Some(0));
    assert_no_key_under(&s.dir);
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[test]
fn anthropic_batch_stage_one_with_errored_and_expired_results() {
    let mock = MockServer::start();
    let s = Study {
        dir: tempdir("anthropic"),
        provider: "anthropic",
        base_url: DEAD.into(),
    };
    // Without --out the requests go to standard output.
    let (stdout, err) = s.ok(&s.flags(&["batch", "export"]));
    assert!(
        err.contains("stage 1 of 2") && err.contains("Anthropic Message Batches"),
        "{err}"
    );
    assert!(!stdout.contains(KEY));
    let stage1: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(stage1.len() >= 3);
    for r in &stage1 {
        let id = r["custom_id"].as_str().unwrap();
        assert!(
            id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        );
        assert_eq!(
            r.as_object().unwrap().len(),
            2,
            "custom_id and params only: {r}"
        );
    }
    let mut results = vec![
        json!({"custom_id": stage1[0]["custom_id"], "result": {"type": "errored",
               "error": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}}})
        .to_string(),
        json!({"custom_id": stage1[1]["custom_id"], "result": {"type": "expired"}}).to_string(),
        json!({"custom_id": "not-from-this-plan", "result": {"type": "canceled"}}).to_string(),
    ];
    for r in &stage1[2..] {
        results.push(anthropic_result(&mock, r));
    }
    let out = s.import("results-1.jsonl", &results);
    let n = stage1.len();
    assert!(
        out.contains(&format!("{} new answers added", n - 2)),
        "{out}"
    );
    assert!(out.contains("2 failed, 1 unknown"), "{out}");
    assert!(
        out.contains("overloaded_error: Overloaded") && out.contains("expired"),
        "{out}"
    );

    let (again, err) = s.export("requests-1b.jsonl");
    assert!(err.contains("stage 1 of 2"), "{err}");
    assert_eq!(ids(&again), ids(&stage1[..2]));
    let results: Vec<String> = again.iter().map(|r| anthropic_result(&mock, r)).collect();
    let out = s.import("results-1b.jsonl", &results);
    assert!(out.contains("2 new answers added"), "{out}");
    let (stage2, err) = s.export("requests-2.jsonl");
    assert!(err.contains("stage 2 of 2"), "{err}");
    assert!(stage2
        .iter()
        .all(|r| r["params"]["tool_choice"]["name"] == "fact_checks"));
    assert_no_key_under(&s.dir);
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[test]
fn batch_usage_errors() {
    let run = |args: &[&str]| profile(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let o = run(&[
        "batch",
        "export",
        DATA,
        "--provider",
        "gemini",
        "--model",
        "g",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("Gemini batch mode is not supported"));
    let o = run(&[
        "batch",
        "export",
        DATA,
        "--provider",
        "openai",
        "--model",
        "m",
        "--stage",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[
        "batch",
        "import",
        DATA,
        "--provider",
        "openai",
        "--model",
        "m",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("results file(s), then the data FILE"));
    let o = run(&["batch", "send"]);
    assert_eq!(o.status.code(), Some(2));
    // Results of another plan: nothing matches, and it says why.
    let dir = tempdir("usage");
    let results = dir.join("r.jsonl");
    std::fs::write(
        &results,
        r#"{"custom_id": "x", "result": {"type": "canceled"}}"#,
    )
    .unwrap();
    let cache = dir.join("cache");
    let o = run(&[
        "batch",
        "import",
        results.to_str().unwrap(),
        DATA,
        "--provider",
        "anthropic",
        "--model",
        "m",
        "--limit",
        "2",
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("none of the 1 result lines belongs to this plan"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Judge and writer requests go through batches too: after importing their
/// results, `profile judge` / `profile generate` with the same flags make no call.
#[test]
fn judge_and_writer_batches_then_runs_make_no_call() {
    let mock = MockServer::start();
    let dir = tempdir("judge");
    let study = Study {
        dir: dir.clone(),
        provider: "openai",
        base_url: mock.url("/v1"),
    };
    let selection = ["--factors", "length,novel_words"];
    for (run, expected) in [("judge", 6), ("writer", 1)] {
        let out = dir.join(format!("{run}-requests.jsonl"));
        let mut args = study.flags(&["batch", "export"]);
        args.extend(["--run", run, "--out", out.to_str().unwrap()].map(String::from));
        args.extend(selection.map(String::from));
        study.ok(&args);
        let lines: Vec<Value> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // --limit 3: 3 pairs × 2 orders for the judge; the 3 pairs share one input for the writer.
        assert_eq!(lines.len(), expected, "{run}");
        let results: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| openai_result(&mock, i, l))
            .collect();
        let path = dir.join(format!("{run}-results.jsonl"));
        std::fs::write(&path, results.join("\n") + "\n").unwrap();
        let mut args: Vec<String> = vec![
            "batch".into(),
            "import".into(),
            path.to_string_lossy().into_owned(),
        ];
        args.extend(study.flags(&[]));
        args.extend(["--run", run].map(String::from));
        args.extend(selection.map(String::from));
        let (out, _) = study.ok(&args);
        assert!(out.contains(&format!("{expected} new answers")), "{out}");
    }
    // The runs themselves (same base URL: it is part of the cache key) make no call.
    post(&mock, "/__reset", &json!({}));
    for cmd in ["judge", "generate"] {
        let mut args = study.flags(&[cmd]);
        args.extend(selection.map(String::from));
        args.extend(["--json", "--quiet"].map(String::from));
        let (out, _) = study.ok(&args);
        let r: Value = serde_json::from_str(&out).unwrap();
        let run = &r["agents"][1]["run"];
        assert_eq!(run["calls"], 0, "{cmd}: {run}");
        assert!(run["cache_hits"].as_u64().unwrap() > 0);
    }
    let stats: Value = mock.stats();
    assert_eq!(stats["total"], 0, "no request reached the server");
}
