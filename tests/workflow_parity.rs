//! One workflow, two edges: the same judge and writer runs (with the human
//! factor extraction before them and the writer's second extraction) through
//! the CLI binary (threads over a blocking client, the disk cache) and
//! through the worker's path (`protocol::run_model`: the async driver over a
//! `Transport` and a `Clock`, here the blocking client under `block_on`, and
//! an in-memory store) give the same agents, the same run records and the same number of
//! calls to the mock server, stage by stage.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::cell::RefCell;

use common::MockServer as Mock;
use profile::data::{FormatOptions, Loader};
use profile::factors::Factor;
use profile::llm::drive::{Control, MemoryStore};
use profile::llm::engine::RunSettings;
use profile::llm::provider::{ModelConfig, Provider};
use profile::llm::settings::ModelChoice;
use profile::llm::threads::{block_on, BlockingHttp};
use profile::protocol::{run_model, FromWorker, LlmRequest, ModelKind, ScoreRequest, Session};
use profile::stats::BootstrapConfig;
use serde_json::Value;

const SEED: u64 = 7;

/// Six pairs: in five one response is marked (the scripted judge prefers
/// it; the humans do too but in pair 3), the last is unmarked (the mock's
/// default verdict in both orders: a flip).
fn dataset() -> String {
    let pair = |i: usize, marked_first: bool, human: &str| {
        let good = format!("GOOD answer {i}. It explains the steps. It adds a tip.");
        let plain = format!("plain answer {i}.");
        let (a, b) = if marked_first {
            (good, plain)
        } else {
            (plain, good)
        };
        serde_json::json!({"input": format!("Question {i}?"), "response_a": a, "response_b": b, "preference": human})
            .to_string()
    };
    let mut lines: Vec<String> = [
        (true, "a"),
        (false, "b"),
        (true, "a"),
        (false, "a"),
        (true, "a"),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(first, human))| pair(i, first, human))
    .collect();
    lines.push(serde_json::json!({"input": "Question 5?", "response_a": "first plain.", "response_b": "second plain, longer.", "preference": "b"}).to_string());
    lines.join("\n")
}

fn requests(mock: &Mock) -> u64 {
    let stats = mock.stats();
    stats["total"].as_u64().unwrap()
}

fn script(mock: &Mock) {
    mock.script(&serde_json::json!([
        {"match": "<<<RESPONSE_1\nGOOD", "json": {"better": "1", "justification": "marked"}},
        {"match": "<<<RESPONSE_2\nGOOD", "json": {"better": "2", "justification": "marked"}},
    ]));
}

/// What both edges must agree on: the agents (names, settings, factor
/// scores, run records) and the human extraction's record. Nothing in them
/// measures time.
fn comparable(report: &Value) -> Value {
    serde_json::json!({
        "agents": report["agents"],
        "alignments": report["alignments"],
        "llm": report["llm"],
    })
}

/// `profile judge` then `profile generate --into`: the report and the calls
/// each command made.
fn through_cli(file: &str, dir: &std::path::Path, base: &str, mock: &Mock) -> (Value, [u64; 2]) {
    let report = dir.join("report.json").to_string_lossy().into_owned();
    let cache = dir.join("cache").to_string_lossy().into_owned();
    let seed = SEED.to_string();
    let common = [
        "--provider",
        "openai-compatible",
        "--model",
        "mock",
        "--base-url",
        base,
        "--cache-dir",
        cache.as_str(),
        "--factors",
        "length,n_facts",
        "--bootstrap",
        "100",
        "--seed",
        seed.as_str(),
        "--quiet",
        "--into",
        report.as_str(),
        "--json",
    ];
    let mut calls = [0; 2];
    let mut out = String::new();
    for (i, cmd) in ["judge", "generate"].into_iter().enumerate() {
        let before = requests(mock);
        let mut a = vec![cmd, file];
        if cmd == "generate" {
            a.extend(["--inputs", "4"]);
        }
        a.extend(common);
        let (code, o, err) = common::run_cli(&a);
        assert_eq!(code, 0, "{cmd}: {err}");
        calls[i] = requests(mock) - before;
        out = o;
    }
    (serde_json::from_str(&out).unwrap(), calls)
}

/// The worker's runs on one session: the factor extraction, the judge, the
/// writer; the report and the calls of (extraction + judge) and the writer.
fn through_worker(data: &str, base: &str, mock: &Mock) -> (Value, [u64; 2]) {
    let score = ScoreRequest {
        factor_pack: None,
        task: None,
        factors: Some(vec![Factor::Length, Factor::NFacts]),
        bootstrap: BootstrapConfig {
            resamples: 100,
            seed: SEED,
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
    let mut model = ModelConfig::new(Provider::OpenAiCompatible, "mock");
    model.base_url = Some(base.to_owned());
    let choice = ModelChoice {
        settings: RunSettings {
            seed: SEED,
            ..RunSettings::default()
        },
        model,
        price: None,
        sample: None,
    };
    let transport = BlockingHttp::new(&choice.model, std::time::Duration::from_secs(30));
    let store = MemoryStore::default();
    let control = Control::default();
    let mut report = Value::Null;
    let mut calls = [0; 2];
    let runs = [
        ModelKind::Extract,
        ModelKind::Judge {
            single_order: false,
        },
        ModelKind::Writer { inputs: Some(4) },
    ];
    for (i, run) in runs.into_iter().enumerate() {
        let before = requests(mock);
        let req = LlmRequest {
            choice: choice.clone(),
            score: score.clone(),
            run: run.clone(),
        };
        let msg = block_on(run_model(
            &session,
            &req,
            "",
            &transport,
            &transport,
            &store,
            &control,
            &|_| {},
        ));
        let FromWorker::LlmFinished { report: r, warning } = msg else {
            panic!("{run:?}: {msg:?}")
        };
        assert_eq!(warning, None);
        calls[i.saturating_sub(1)] += requests(mock) - before;
        report = serde_json::to_value(&r).unwrap();
    }
    (report, calls)
}

#[test]
fn the_cli_and_the_worker_give_the_same_report_and_the_same_calls() {
    let dir = common::tempdir("workflow-parity");
    let data = dataset();
    let file = dir.join("pairs.jsonl");
    std::fs::write(&file, &data).unwrap();

    let mock = Mock::start();
    script(&mock);
    let base = mock.url("/v1");
    let (cli, cli_calls) = through_cli(&file.to_string_lossy(), &dir, &base, &mock);
    // The same server (replies depend on the request alone); the worker's
    // store starts empty, so it asks everything again.
    let (worker, worker_calls) = through_worker(&data, &base, &mock);

    let names = common::agent_names(&cli);
    assert_eq!(names, ["human", "mock (judge)", "mock (writer)"]);
    // Something was asked at every stage: extraction, judge, writer, and the
    // writer's second extraction.
    assert!(cli["llm"]["calls"].as_u64().unwrap() > 0);
    assert!(cli["agents"][1]["run"]["calls"].as_u64().unwrap() > 0);
    assert!(cli["agents"][2]["run"]["calls"].as_u64().unwrap() > 0);
    assert!(
        cli["agents"][2]["run"]["extraction"]["calls"]
            .as_u64()
            .unwrap()
            > 0
    );
    eprintln!(
        "calls: CLI {cli_calls:?}, worker {worker_calls:?}; judge items {}, writer pairs {}",
        cli["agents"][1]["run"]["items"], cli["agents"][2]["run"]["generated_pairs"]
    );
    assert_eq!(cli_calls, worker_calls, "calls per command");
    assert_eq!(comparable(&cli), comparable(&worker));
}

/// The worker's drill-down evidence of an LLM factor is the answers its
/// values came from, and each raw reply is the stored entry of that answer.
#[test]
fn the_worker_shows_the_answers_behind_an_llm_factor_and_their_raw_replies() {
    let mock = Mock::start();
    mock.script(&serde_json::json!([
        {"match": "[1] GOOD answer 0.", "json": {"response_facts": [
            {"id": 1, "supported": "no"}, {"id": 2, "supported": "yes"},
            {"id": 3, "supported": "yes"}, {"id": 4, "supported": "yes"}]}},
    ]));
    let score = ScoreRequest {
        factor_pack: None,
        task: None,
        factors: Some(vec![Factor::Hallucination]),
        bootstrap: BootstrapConfig {
            resamples: 0,
            seed: SEED,
        },
        group_by: None,
    };
    let session = RefCell::new(Session::new());
    let mut loader = Loader::new(FormatOptions::default());
    loader.push(dataset().as_bytes());
    let loaded = session.borrow_mut().finish_load(
        "pairs.jsonl".into(),
        loader,
        Default::default(),
        &score,
        || 0.0,
    );
    assert!(matches!(loaded, FromWorker::Loaded { .. }));
    let mut model = ModelConfig::new(Provider::OpenAiCompatible, "mock");
    model.base_url = Some(mock.url("/v1"));
    let choice = ModelChoice {
        settings: RunSettings {
            seed: SEED,
            ..RunSettings::default()
        },
        model,
        price: None,
        sample: None,
    };
    let transport = BlockingHttp::new(&choice.model, std::time::Duration::from_secs(30));
    let store = MemoryStore::default();
    let req = LlmRequest {
        choice: choice.clone(),
        score: score.clone(),
        run: ModelKind::Extract,
    };
    let msg = block_on(run_model(
        &session,
        &req,
        "sk-never-shown",
        &transport,
        &transport,
        &store,
        &Control::default(),
        &|_| {},
    ));
    assert!(matches!(msg, FromWorker::LlmFinished { .. }), "{msg:?}");
    let mut hallucinated = 0;
    for pair in 0..6u32 {
        let FromWorker::Evidence {
            evidence: Some(e), ..
        } = session
            .borrow_mut()
            .evidence(Some("hallucination"), "human", pair)
        else {
            panic!("no evidence for pair {pair}")
        };
        for (side, r) in [
            (profile::drill::Side::A, &e.a),
            (profile::drill::Side::B, &e.b),
        ] {
            let m = r.model.as_ref().expect("model evidence");
            assert_eq!(m.replies.len(), 2, "facts and checks: {m:?}");
            let mem = store.0.borrow();
            let refs: Vec<_> = (0..2u32)
                .map(|i| {
                    session
                        .borrow()
                        .reply_ref("hallucination", "human", pair, side, i)
                        .unwrap()
                })
                .collect();
            let entry = |i: usize| mem.get(refs[i].0.key.as_deref().unwrap()).unwrap();
            // The facts are the stored facts answer; the verdicts the stored checks.
            let facts: Vec<String> = serde_json::from_value(entry(0).value.clone()).unwrap();
            assert_eq!(
                m.facts.iter().map(|f| f.text.clone()).collect::<Vec<_>>(),
                facts
            );
            let supported: Vec<bool> =
                serde_json::from_value(entry(1).value["fact_checks"]["supported"].clone()).unwrap();
            let labels: Vec<&str> = m
                .facts
                .iter()
                .map(|f| f.verdicts[0].label.as_str())
                .collect();
            let want: Vec<&str> = supported
                .iter()
                .map(|&y| if y { "supported" } else { "hallucinated" })
                .collect();
            assert_eq!(labels, want);
            hallucinated += labels.iter().filter(|l| **l == "hallucinated").count();
            let n = m.facts.iter().filter(|f| !f.repeat).count() as f64;
            let bad = m
                .facts
                .iter()
                .filter(|f| !f.repeat && f.verdicts[0].label == "hallucinated")
                .count() as f64;
            assert_eq!(r.value, Some(bad / n));
            // Each raw reply: the stored entry's reply, no key in it.
            for (i, (rr, answer)) in refs.iter().enumerate() {
                assert_eq!(rr.question, m.replies[i]);
                let shown = profile::drill::raw_reply(rr, answer, Some(entry(i)));
                assert_eq!(shown.text.as_deref(), Some(entry(i).reply.as_str()));
                assert!(!shown.text.unwrap().contains("sk-never-shown"));
            }
        }
    }
    assert_eq!(hallucinated, 1, "the scripted unsupported fact");
}
