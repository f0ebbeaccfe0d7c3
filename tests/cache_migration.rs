//! Caches written before version-2 keys (issue 12 item 9) keep answering.
//!
//! A legacy cache is made here the way the code before version 2 made it:
//! every question's prompt rendered and keyed with `engine::question_key`
//! (the legacy key, pinned by `tests/fixtures/cache_keys.txt`). A run over
//! it must answer every question with no call; the answers it finds under
//! legacy keys are re-stored under their version-2 keys, so the next run
//! answers everything under version-2 keys and computes no legacy key. A
//! batch result file exported with legacy `custom_id`s still imports.

#![cfg(not(target_arch = "wasm32"))]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use profile::data::{load_bytes, Dataset, FormatOptions, Task};
use profile::factors::Factor;
use profile::llm::ask::prompt;
use profile::llm::batch::{custom_id, import_results, pending, BatchFormat, StageChoice};
use profile::llm::cache::{is_legacy_key, CacheEntry, MemoryCache};
use profile::llm::drive::{execute, Clock, Control, Driver, Store, Transport};
use profile::llm::engine::{question_key, AnswerCache, Run, RunSettings, RunStats};
use profile::llm::extract::{
    Answer, Answers, ExtractOptions, FactChecks, FactorQuestion, Judgements, Plan, Question,
};
use profile::llm::provider::{CallError, Completion, HttpRequest, ModelConfig, Provider};
use profile::llm::roles::{generate_plan, judge_plan, JudgeOrder, Verdict};
use profile::llm::threads::{block_on, run_plan, DiskCache, Llm};
use profile::llm::Prompt;

mod common;

/// A dataset with pairs that have an input and a source, only one of them,
/// or neither.
fn mixed() -> Dataset {
    let rows = [
        (
            Some("How do I boil an egg?"),
            None,
            "Boil it for 8 minutes.",
            "Ask a chef.",
        ),
        (
            None,
            Some("The river flooded the town on Monday. Two bridges closed."),
            "The town flooded.",
            "Bridges closed after a flood.",
        ),
        (None, None, "Hello there.", "Good morning to you."),
    ];
    let mut lines = String::new();
    for (input, source, a, b) in rows {
        let mut v = serde_json::json!({"response_a": a, "response_b": b, "preference": "a"});
        if let Some(i) = input {
            v["input"] = i.into();
        }
        if let Some(s) = source {
            v["source"] = s.into();
        }
        lines.push_str(&v.to_string());
        lines.push('\n');
    }
    load_bytes(lines.as_bytes(), FormatOptions::default()).expect("the mixed dataset loads")
}

fn config(logprobs: bool) -> ModelConfig {
    let mut cfg = ModelConfig::new(Provider::OpenAi, "gpt-4o-mini");
    cfg.logprobs = logprobs;
    cfg
}

/// The plans of every family: factor presets with and without
/// log-probabilities, every LLM factor, judges, writers.
fn cases() -> Vec<(String, Dataset, Plan, ExtractOptions)> {
    let llm_factors: Vec<Factor> = Factor::ALL
        .into_iter()
        .filter(|f| f.needs_model())
        .collect();
    let mut out = Vec::new();
    for (name, ds) in [("council", common::council_dataset(3)), ("mixed", mixed())] {
        for logprobs in [false, true] {
            let opts = ExtractOptions {
                logprobs,
                summaries: true,
            };
            for task in Task::ALL {
                out.push((
                    format!("{name} {task:?} preset lp={logprobs}"),
                    ds.clone(),
                    Plan::new(&ds, task.factors(), opts),
                    opts,
                ));
            }
            out.push((
                format!("{name} all lp={logprobs}"),
                ds.clone(),
                Plan::new(&ds, &llm_factors, opts),
                opts,
            ));
        }
        let opts = ExtractOptions::default();
        out.push((
            format!("{name} judge"),
            ds.clone(),
            judge_plan(&ds, Task::Summarization, JudgeOrder::Both),
            opts,
        ));
        out.push((
            format!("{name} judge qa"),
            ds.clone(),
            judge_plan(&ds, Task::DocQa, JudgeOrder::Single { seed: 3 }),
            opts,
        ));
        out.push((
            format!("{name} writer"),
            ds.clone(),
            generate_plan(&ds, Task::Helpful, None),
            opts,
        ));
    }
    out
}

/// A well-formed answer for the `i`-th distinct question (every third
/// facts answer empty, so that some checks have nothing to ask).
fn answer_for(q: &Question, i: usize) -> Answer {
    match q {
        Question::Factor(FactorQuestion::Facts(_)) => Answer::Facts(match i % 3 {
            2 => vec![],
            _ => vec![format!("Fact {i} holds."), "A second fact.".into()],
        }),
        Question::Factor(FactorQuestion::Checks { .. } | FactorQuestion::SourceCoverage { .. }) => {
            Answer::FactChecks {
                fact_checks: Box::new(FactChecks {
                    covered: Some(vec![true]),
                    ..Default::default()
                }),
            }
        }
        Question::Factor(_) => Answer::Judgements {
            judgements: Box::new(Judgements {
                fluency: Some(0.5),
                ..Default::default()
            }),
        },
        Question::Judge(_) => Answer::Verdict {
            verdict: Verdict {
                better: ["1", "2", "tie"][i % 3].into(),
                justification: format!("Reason {i}."),
            },
        },
        Question::Generate(_) | Question::Improve(_) => Answer::Generations {
            generations: (1..=5).map(|k| format!("Response {k} ({i}).")).collect(),
        },
    }
}

fn entry(key: String, p: &Prompt, cfg: &ModelConfig, a: &Answer) -> CacheEntry {
    let value = serde_json::to_value(a).unwrap();
    CacheEntry {
        key,
        template: p.template_id(),
        provider: cfg.provider.id().into(),
        model: cfg.model.clone(),
        decoding: cfg.decoding,
        reply: value.to_string(),
        value,
        input_tokens: 1,
        output_tokens: 1,
    }
}

/// The cache a finished run of the code before version-2 keys left: every
/// question with something to ask, rendered and keyed with the legacy key.
fn legacy_cache(ds: &Dataset, plan: &Plan, opts: ExtractOptions, cfg: &ModelConfig) -> MemoryCache {
    let mut cache = MemoryCache::new();
    let mut answers = Answers::default();
    let mut by_key: HashMap<String, Answer> = HashMap::new();
    for stage in [&plan.first, &plan.second] {
        let mut found = Vec::new();
        for q in stage {
            let Some(p) = prompt(q, ds, &answers, opts) else {
                continue;
            };
            let key = question_key(cfg, q, &p, ds, &answers);
            assert!(is_legacy_key(&key));
            let n = by_key.len();
            let a = by_key
                .entry(key.clone())
                .or_insert_with(|| answer_for(q, n))
                .clone();
            cache.put(entry(key, &p, cfg, &a));
            found.push((*q, a));
        }
        for (q, a) in found {
            answers.insert(q, a);
        }
    }
    cache
}

/// A cache that counts lookups under legacy keys.
struct Counting<'a> {
    inner: &'a MemoryCache,
    legacy_lookups: Cell<usize>,
}

impl AnswerCache for Counting<'_> {
    fn answer(&self, key: &str) -> Option<Answer> {
        if is_legacy_key(key) {
            self.legacy_lookups.set(self.legacy_lookups.get() + 1);
        }
        self.inner.answer(key)
    }
    fn has_legacy(&self) -> bool {
        self.inner.has_legacy()
    }
    fn entry(&self, key: &str) -> Option<CacheEntry> {
        self.inner.entry(key)
    }
}

/// Runs every stage over `cache`; returns the run, its counts, the jobs
/// made, the entries re-keyed and the lookups under legacy keys.
fn run_over(
    ds: &Dataset,
    plan: &Plan,
    opts: ExtractOptions,
    cfg: &ModelConfig,
    cache: &MemoryCache,
) -> (Run, RunStats, usize, Vec<CacheEntry>, usize) {
    let counting = Counting {
        inner: cache,
        legacy_lookups: Cell::new(0),
    };
    let mut stats = RunStats::default();
    let mut run = Run::new(plan.clone(), opts, cfg.clone(), &mut stats);
    let (mut jobs, mut migrated) = (0, Vec::new());
    while let Some(stage) = run.next_stage(ds, &counting, &mut stats) {
        jobs += stage.len();
        migrated.extend(run.take_migrated());
    }
    (run, stats, jobs, migrated, counting.legacy_lookups.get())
}

#[test]
fn a_legacy_cache_answers_every_question_with_no_call_and_the_next_run_uses_version_2_keys() {
    for (label, ds, plan, opts) in cases() {
        let cfg = config(opts.logprobs);
        let mut cache = legacy_cache(&ds, &plan, opts, &cfg);
        assert!(cache.has_legacy(), "{label}");
        let legacy_entries = cache.len();
        let (run1, s1, jobs1, migrated, legacy1) = run_over(&ds, &plan, opts, &cfg, &cache);
        assert_eq!(jobs1, 0, "{label}: a legacy cache answers everything");
        assert_eq!(s1.failed, 0, "{label}");
        assert_eq!(
            s1.cache_hits + s1.skipped_empty,
            plan.len() as u64,
            "{label}"
        );
        assert!(s1.cache_hits > 0 && legacy1 > 0, "{label}");
        // Every entry found is re-stored under its version-2 key (twins
        // share one).
        assert!(migrated.iter().all(|e| !is_legacy_key(&e.key)), "{label}");
        for e in migrated {
            cache.put(e);
        }
        assert_eq!(
            cache.len(),
            2 * legacy_entries,
            "{label}: one version-2 entry per legacy one"
        );
        let (run2, s2, jobs2, migrated2, legacy2) = run_over(&ds, &plan, opts, &cfg, &cache);
        assert_eq!((jobs2, s2.cache_hits), (0, s1.cache_hits), "{label}");
        assert_eq!(
            legacy2, 0,
            "{label}: the second re-run computes no legacy key"
        );
        assert!(migrated2.is_empty(), "{label}");
        assert_eq!(s2.templates, s1.templates, "{label}");
        for q in plan.first.iter().chain(&plan.second) {
            assert_eq!(run2.answers.get(q), run1.answers.get(q), "{label}: {q:?}");
        }
        // A cache of version-2 entries only never computes a legacy key,
        // also for the questions it misses.
        let mut v2_only = MemoryCache::new();
        for e in cache.entries().filter(|e| !is_legacy_key(&e.key)).skip(1) {
            v2_only.put(e.clone());
        }
        assert!(!v2_only.has_legacy());
        let (_, s3, jobs3, _, legacy3) = run_over(&ds, &plan, opts, &cfg, &v2_only);
        assert!(jobs3 >= 1 && s3.cache_hits < s1.cache_hits, "{label}");
        assert_eq!(legacy3, 0, "{label}");
    }
}

/// Answers nothing; counts the calls.
struct NoCalls(ModelConfig, AtomicUsize);

impl Llm for NoCalls {
    fn complete(&self, _: &Prompt) -> Result<Completion, CallError> {
        self.1.fetch_add(1, Ordering::Relaxed);
        Err(CallError::Timeout)
    }
    fn config(&self) -> &ModelConfig {
        &self.0
    }
}

#[test]
fn a_legacy_cache_file_answers_with_no_call_and_gains_version_2_lines_once() {
    let ds = common::council_dataset(3);
    let opts = ExtractOptions {
        logprobs: false,
        summaries: true,
    };
    let plan = Plan::new(&ds, Task::Summarization.factors(), opts);
    let cfg = config(false);
    let legacy = legacy_cache(&ds, &plan, opts, &cfg);
    let dir = common::tempdir("legacy-cache-file");
    std::fs::write(dir.join("cache.jsonl"), legacy.to_jsonl()).unwrap();
    let lines = || {
        std::fs::read_to_string(dir.join("cache.jsonl"))
            .unwrap()
            .lines()
            .count()
    };
    let llm = NoCalls(cfg, AtomicUsize::new(0));
    let go = || {
        let (mut cache, problems) = DiskCache::open(&dir).unwrap();
        assert!(problems.is_empty());
        let (_, stats, failures) = run_plan(
            &plan,
            &ds,
            opts,
            &llm,
            &mut cache,
            &RunSettings::default(),
            &AtomicBool::new(false),
            &|_| {},
        );
        assert!(failures.is_empty(), "{failures:?}");
        stats
    };
    let s1 = go();
    assert_eq!((s1.calls, llm.1.load(Ordering::Relaxed)), (0, 0));
    assert_eq!(s1.cache_hits + s1.skipped_empty, plan.len() as u64);
    assert_eq!(
        lines(),
        2 * legacy.len(),
        "every legacy entry gains its version-2 line"
    );
    let s2 = go();
    assert_eq!((s2.calls, s2.cache_hits), (0, s1.cache_hits));
    assert_eq!(lines(), 2 * legacy.len(), "nothing more is written");
}

/// OpenAI result lines answering every request of `p`, under the ids
/// `id` gives.
fn results(
    p: &profile::llm::batch::Pending,
    id: impl Fn(&profile::llm::batch::BatchRequest) -> String,
) -> String {
    let mut lines = String::new();
    for (i, r) in p.requests.iter().enumerate() {
        let body = serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("{{\"facts\": [\"Fact {i}.\"]}}")}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 7}});
        lines.push_str(
            &serde_json::json!({"id": format!("batch_req_{i}"), "custom_id": id(r),
            "response": {"status_code": 200, "request_id": "req", "body": body}, "error": null})
            .to_string(),
        );
        lines.push('\n');
    }
    lines
}

/// Batch files keep the ids of earlier versions (the legacy keys), so a
/// result file imports whichever version exported it; the answers are
/// stored under version-2 keys. Ids made of version-2 keys import too.
#[test]
fn a_batch_exported_with_legacy_ids_still_imports() {
    let ds = common::council_dataset(2);
    let opts = ExtractOptions::default();
    let plan = Plan::new(&ds, &[Factor::NFacts, Factor::Hallucination], opts);
    let cfg = config(false);
    let empty = MemoryCache::new();
    let p = pending(&plan, &ds, opts, &cfg, &empty, StageChoice::Next);
    assert!(!p.requests.is_empty());
    for r in &p.requests {
        // The id the export before version-2 keys wrote.
        let legacy = question_key(&cfg, &r.question, &r.prompt, &ds, &Answers::default());
        assert_eq!((&r.key, &r.custom_id), (&legacy, &custom_id(&legacy)));
        assert!(!is_legacy_key(&r.stored_key));
    }
    let mut want: Vec<&str> = p.requests.iter().map(|r| r.stored_key.as_str()).collect();
    want.sort_unstable();
    for lines in [
        results(&p, |r| r.custom_id.clone()),
        results(&p, |r| custom_id(&r.stored_key)),
    ] {
        let imported = import_results(&lines, BatchFormat::OpenAi, &plan, &ds, opts, &cfg, &empty);
        assert_eq!(
            (imported.unknown, imported.failed),
            (0, 0),
            "{:?}",
            imported.problems
        );
        assert_eq!(imported.entries.len(), p.requests.len());
        let mut got: Vec<&str> = imported.entries.iter().map(|e| e.key.as_str()).collect();
        got.sort_unstable();
        assert_eq!(got, want, "stored under their version-2 keys");
        // The same file again, over the imported answers: already answered.
        let mut cache = MemoryCache::new();
        for e in imported.entries {
            cache.put(e);
        }
        let again = import_results(&lines, BatchFormat::OpenAi, &plan, &ds, opts, &cfg, &cache);
        assert_eq!(
            (again.unknown, again.already_answered),
            (0, p.requests.len() as u64)
        );
    }
}

/// Fails every call; counts them.
struct NoTransport(Cell<usize>);

impl Transport for NoTransport {
    async fn send(&self, _: Provider, _: &HttpRequest, _: f64) -> Result<Completion, CallError> {
        self.0.set(self.0.get() + 1);
        Err(CallError::Timeout)
    }
}

struct NoClock;

impl Clock for NoClock {
    async fn sleep_s(&self, _: f64) {}
    fn now_s(&self) -> f64 {
        0.0
    }
}

/// An in-memory store that records what it commits (as the worker's
/// IndexedDB store would persist it).
struct Recording(RefCell<MemoryCache>, RefCell<Vec<CacheEntry>>);

impl Store for Recording {
    fn memory(&self) -> &RefCell<MemoryCache> {
        &self.0
    }
    async fn commit(&self, entry: &CacheEntry) -> Result<(), String> {
        self.1.borrow_mut().push(entry.clone());
        Ok(())
    }
}

#[test]
fn the_async_driver_answers_from_a_legacy_store_and_commits_the_version_2_entries() {
    let ds = common::council_dataset(2);
    let opts = ExtractOptions::default();
    let plan = Plan::new(&ds, Task::Summarization.factors(), opts);
    let cfg = config(false);
    let legacy = legacy_cache(&ds, &plan, opts, &cfg);
    let store = Recording(RefCell::new(legacy.clone()), RefCell::new(Vec::new()));
    let transport = NoTransport(Cell::new(0));
    let settings = RunSettings::default();
    let control = Control::default();
    let go = || {
        let d = Driver {
            model: &cfg,
            settings: &settings,
            key: "",
            transport: &transport,
            clock: &NoClock,
            store: &store,
            control: &control,
            progress: &|_, _| {},
        };
        block_on(execute(&d, plan.clone(), &ds, opts)).1
    };
    let s1 = go();
    assert_eq!((s1.calls, transport.0.get()), (0, 0));
    assert_eq!(s1.cache_hits + s1.skipped_empty, plan.len() as u64);
    let committed = store.1.borrow().len();
    assert_eq!(
        committed,
        legacy.len(),
        "every legacy entry committed under its version-2 key"
    );
    assert!(store.1.borrow().iter().all(|e| !is_legacy_key(&e.key)));
    let s2 = go();
    assert_eq!((s2.calls, s2.cache_hits), (0, s1.cache_hits));
    assert_eq!(store.1.borrow().len(), committed, "nothing more to commit");
}
