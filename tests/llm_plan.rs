//! The extraction plan's size and the combined templates end to end:
//!
//! * on the real SummEval file the summarization preset plans at most 4 calls
//!   per unique response plus 1 per unique source, beside the naive plan;
//! * against the mock LLM server (tests/mock_llm), every LLM factor of every
//!   task preset gets a value from the combined calls, with and without
//!   log-probabilities, one call per planned question.
//!
//! Kept apart from `llm_run.rs` so that its timing-sensitive fault test does
//! not share the machine with these runs.

#![cfg(not(target_arch = "wasm32"))]

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use profile::data::Dataset;
use profile::factors::{Factor, Task};
use profile::llm::extract::{naive_calls, Answers, ExtractOptions, Plan};
use profile::llm::provider::{ModelConfig, Provider};
use profile::llm::schedule::RetryPolicy;
use profile::llm::threads::{run_plan, DiskCache, HttpLlm, RunSettings};

mod common;

use common::MockServer as Mock;

/// 24 pairs over 6 summarised reports, each with an input and a source;
/// responses repeat across pairs.
fn dataset() -> Dataset {
    common::council_dataset(6)
}

fn llm(mock: &Mock) -> HttpLlm {
    let mut cfg = ModelConfig::new(Provider::OpenAi, "mock-model");
    cfg.base_url = Some(mock.url("/v1"));
    HttpLlm::new(cfg, "sk-test".into(), Duration::from_secs(5))
}

fn settings() -> RunSettings {
    RunSettings {
        concurrency: 4,
        retry: RetryPolicy {
            max_attempts: 3,
            base_s: 0.01,
            max_s: 0.05,
            timeout_s: 5.0,
            ..Default::default()
        },
        ..Default::default()
    }
}

use common::tempdir;

/// Every LLM factor of every preset gets a value from the mock's replies to
/// the combined templates, with and without log-probabilities, and the calls
/// made match the plan (at most 4 per unique response plus 1 per source).
#[test]
fn every_preset_factor_gets_a_value_from_the_combined_calls() {
    let mock = Mock::start();
    let ds = dataset();
    for task in [Task::Summarization, Task::Helpful, Task::DocQa] {
        for logprobs in [false, true] {
            let opts = ExtractOptions {
                logprobs,
                summaries: task == Task::Summarization,
            };
            let plan = Plan::new(&ds, task.factors(), opts);
            let c = plan.calls_per_unique_response();
            assert!(c.per_unique_response <= 4.0, "{task:?} {logprobs}: {c:?}");
            assert!(c.per_unique_source <= 1.0, "{task:?} {logprobs}: {c:?}");
            let dir = tempdir(&format!("preset-{task:?}-{logprobs}"));
            let (mut cache, _) = DiskCache::open(&dir).unwrap();
            let (answers, stats, failures) = run_plan(
                &plan,
                &ds,
                opts,
                &llm(&mock),
                &mut cache,
                &settings(),
                &AtomicBool::new(false),
                &|_| {},
            );
            assert!(failures.is_empty(), "{task:?}: {failures:?}");
            assert_eq!(
                stats.calls + stats.skipped_empty,
                plan.len() as u64,
                "{task:?}: one call per planned question"
            );
            assert_eq!(stats.repairs, 0, "{task:?}: every reply parses");
            for p in &ds.pairs {
                for f in task.factors().iter().filter(|f| f.needs_model()) {
                    let v = answers.value(*f, p, p.a, opts);
                    assert!(
                        v.is_some(),
                        "{task:?} logprobs={logprobs}: no value for {f:?}"
                    );
                }
            }
            let p = &ds.pairs[0];
            if logprobs {
                // The mock answers "Yes No": fluency yes, coherence no.
                let fl = answers.value(Factor::Fluency, p, p.a, opts).unwrap();
                let co = answers.value(Factor::Coherence, p, p.a, opts).unwrap();
                assert!((fl - 0.915 / 0.995).abs() < 1e-9, "{fl}");
                assert!((co - 0.08 / 0.995).abs() < 1e-9, "{co}");
            }
            assert_eq!(
                answers.value(Factor::Hallucination, p, p.a, opts),
                Some(0.0)
            );
        }
    }
}

/// The target on the real SummEval file (1,600 summaries of 100
/// articles): the summarization preset asks at most 4 calls per unique
/// response plus 1 per unique source (it used to ask 8), against hundreds
/// per response in the naive plan.
#[test]
fn summeval_summarization_plan_stays_within_four_calls_per_response() {
    let ds = common::load_default(common::SUMMEVAL);
    let factors = Task::Summarization.factors();
    for (logprobs, want) in [(false, 3.0), (true, 4.0)] {
        let opts = ExtractOptions {
            logprobs,
            summaries: true,
        };
        let plan = Plan::new(&ds, factors, opts);
        let c = plan.calls_per_unique_response();
        let naive = naive_calls(&ds, factors, opts, &Answers::default(), 10.0);
        eprintln!(
            "SummEval, summarization, logprobs={logprobs}: {} questions, {} unique responses, \
             {} unique sources; {:.2} calls per unique response + {} source-fact calls \
             ({:.2} per source); naive (10 facts per text): {naive:.0} calls, {:.1} per unique response",
            plan.len(),
            plan.unique_responses,
            plan.unique_sources,
            c.per_unique_response,
            c.source_fact_calls,
            c.per_unique_source,
            naive / plan.unique_responses as f64
        );
        assert_eq!((plan.unique_responses, plan.unique_sources), (1548, 100));
        assert_eq!(c.source_fact_calls, 100);
        assert_eq!(c.per_unique_source, 1.0);
        assert!(c.per_unique_response <= 4.0);
        assert_eq!(c.per_unique_response, want);
        assert!(naive > 100.0 * plan.len() as f64);
    }
}

/// The report's calls per unique response is the plan's own measure, also
/// when a source is also a response (its facts question is a response's).
#[test]
fn the_report_and_the_plan_agree_on_calls_per_unique_response() {
    let line = |src: &str, a: &str, b: &str| {
        serde_json::json!({"input": "Summarize.", "source": src, "response_a": a, "response_b": b, "preference": "a"})
            .to_string()
    };
    let shared = "The council met. It approved the budget.";
    let text = [
        line(shared, "The council approved it.", shared),
        line(
            "The mayor spoke. Roads are fixed.",
            "Roads are fixed.",
            "The mayor spoke.",
        ),
    ]
    .join("\n");
    let ds = profile::data::load_bytes(text.as_bytes(), Default::default()).unwrap();
    let factors = [Factor::SrcCoverage, Factor::NFacts];
    let opts = ExtractOptions {
        logprobs: false,
        summaries: true,
    };
    let plan = Plan::new(&ds, &factors, opts);
    assert_eq!(plan.unique_sources, 2);
    assert_eq!(plan.source_fact_calls, 1, "one source is also a response");
    let cfg = ModelConfig::new(Provider::OpenAi, "m");
    let record = profile::analysis::llm_run_record(
        &ds,
        &factors,
        &plan,
        &cfg,
        opts,
        &Default::default(),
        &[],
        &Default::default(),
    );
    assert_eq!(
        record.calls_per_unique_response,
        plan.calls_per_unique_response().per_unique_response
    );
}
