//! Batch runs: the unanswered requests of an extraction plan as the input
//! file of a provider's batch service, and the service's result file back
//! into the answer cache.
//!
//! Two formats are written and read:
//!
//! | [`BatchFormat`] | providers | request line | result line |
//! |---|---|---|---|
//! | OpenAI Batch API | `openai`, `openai-compatible` (e.g. vLLM's `run_batch`) | `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}` | `{"id", "custom_id", "response": {"status_code", "body"}, "error"}` |
//! | Anthropic Message Batches | `anthropic` | `{"custom_id", "params"}` | `{"custom_id", "result": {"type": "succeeded", "message"} \| {"type": "errored", "error"} \| {"type": "canceled"} \| {"type": "expired"}}` |
//!
//! `body` and `params` are exactly the bodies [`build_request`] makes for a
//! live call, so a batch answer is the answer a live call would have had;
//! they never hold a key (keys travel in headers, and batch files have none).
//! Gemini's batch mode is not supported ([`Unsupported`]).
//!
//! The line formats, service names and limits belong to the provider modules
//! ([`openai::batch_request_line`], [`openai::batch_result`] and their
//! [`anthropic`] namesakes); this module only maps jobs to lines and lines
//! back to cache entries.
//!
//! # Which requests
//!
//! [`pending`] asks the engine ([`Run::next_stage`]) for the jobs of the
//! first stage, exactly as a live run would: questions answered by the cache
//! are left out, and questions whose prompt is the same as an earlier one's
//! share its request. Once every first-stage question is answered, the second
//! stage's jobs follow (their prompts quote the first-stage answers). Nothing
//! here names a kind of [`Question`]: whatever the
//! plan holds is exported.
//!
//! # Finding a result's question again
//!
//! A request's `custom_id` is its question's legacy (version-1) cache key
//! ([`custom_id`]: 32 hex digits, within Anthropic's
//! `^[a-zA-Z0-9_-]{1,64}$`), the id every version has exported, so a result
//! file imports whichever version exported it. [`import_results`]
//! recomputes the plan's pending jobs from the same dataset, settings and
//! cache, and maps each result line to its job by that id (or by the job's
//! version-2 key); it then hands the reply to the engine
//! ([`Job::on_result`]), which makes the [`CacheEntry`] a live call would
//! have made (same version-2 key, template, provider, model, decoding,
//! reply, value and tokens). A line that fails (an HTTP error, a canceled or expired
//! request, a reply that does not parse, an unknown id, bad JSON) is reported
//! with its line number and skipped. Replies are not repaired in batch mode:
//! a failed question stays unanswered, so the next export asks it again.
//!
//! Everything here is pure: text in, text and values out.

use std::cell::RefCell;
use std::fmt;

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Value;

use super::ask::parse_reply;
use super::cache::{stable_hash, CacheEntry};
use super::engine::{estimate, AnswerCache, Estimate, Job, Run, RunStats, Step};
use super::extract::ExtractOptions;
use super::pricing::Price;
use super::provider::{
    anthropic, batch_excerpt as excerpt, build_request, openai, BatchService, ModelConfig, Provider,
};
use super::question::{Answer, Plan, Question};
use super::schedule::RetryPolicy;
use super::Prompt;
use crate::data::{Dataset, Diagnostic};

/// The share of the list price the batch services bill: OpenAI's Batch API
/// and Anthropic's Message Batches both advertise a 50% discount.
pub const BATCH_PRICE_FACTOR: f64 = 0.5;

/// A provider's batch file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchFormat {
    /// OpenAI Batch API over Chat Completions (`/v1/chat/completions`).
    OpenAi,
    /// Anthropic Message Batches.
    Anthropic,
}

/// A provider without a supported batch format (Gemini).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsupported(pub Provider);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} batch mode is not supported: batch files are written for the OpenAI Batch API \
             (openai, openai-compatible) and Anthropic Message Batches (anthropic); \
             run `profile score --provider {}` to call it live instead",
            self.0.name(),
            self.0.id()
        )
    }
}

impl std::error::Error for Unsupported {}

/// How much one batch file may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    /// Requests per file.
    pub max_requests: usize,
    /// Bytes per file (the JSONL text, newlines included).
    pub max_bytes: usize,
}

impl BatchFormat {
    /// The batch format of a provider's wire format.
    ///
    /// # Errors
    /// [`Unsupported`] for Gemini.
    pub fn of(provider: Provider) -> Result<BatchFormat, Unsupported> {
        match provider {
            Provider::OpenAi | Provider::OpenAiCompatible => Ok(BatchFormat::OpenAi),
            Provider::Anthropic => Ok(BatchFormat::Anthropic),
            Provider::Gemini => Err(Unsupported(provider)),
        }
    }

    /// The provider module's description of the service.
    fn service(self) -> BatchService {
        match self {
            BatchFormat::OpenAi => openai::BATCH,
            BatchFormat::Anthropic => anthropic::BATCH,
        }
    }

    /// The service's name, for messages.
    pub fn name(self) -> &'static str {
        self.service().name
    }

    /// The most one batch may hold: OpenAI 50,000 requests and 100 MB per
    /// input file (the lower of the sizes OpenAI has published); Anthropic
    /// 100,000 requests and 256 MB per batch, less a little room for the
    /// `{"requests": […]}` the lines are wrapped in when submitted
    /// ([`openai::BATCH`], [`anthropic::BATCH`]).
    pub fn limits(self) -> BatchLimits {
        let s = self.service();
        BatchLimits {
            max_requests: s.max_requests,
            max_bytes: s.max_bytes,
        }
    }
}

/// The `custom_id` of the request with cache key `key`: the key itself when
/// it fits Anthropic's `^[a-zA-Z0-9_-]{1,64}$` (cache keys are 32 hex
/// digits), else a hash of it. Either way it is recomputed from the plan on
/// import, never stored.
pub fn custom_id(key: &str) -> String {
    let fits = !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if fits {
        key.to_owned()
    } else {
        stable_hash(&[key])
    }
}

/// Which stage [`pending`] exports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StageChoice {
    /// The first stage while any of its questions is unanswered, else the
    /// second.
    #[default]
    Next,
    /// The second stage now, for the questions whose first-stage answers are
    /// known (when some first-stage questions keep failing).
    Second,
}

/// One request of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchRequest {
    /// The line's `custom_id` ([`custom_id`] of `key`).
    pub custom_id: String,
    /// The question's legacy (version-1) cache key, the id batch files
    /// have always carried.
    pub key: String,
    /// The (version-2) cache key its answer is stored under.
    pub stored_key: String,
    /// The question asked (questions sharing the prompt share the request).
    pub question: Question,
    pub prompt: Prompt,
}

/// The requests of a plan that still need an answer, from one stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    /// The stage the requests belong to: 1 or 2.
    pub stage: u8,
    /// One per unique prompt not answered yet, in plan order.
    pub requests: Vec<BatchRequest>,
    /// Questions of the stage.
    pub questions: u64,
    /// Questions answered by the cache.
    pub cached: u64,
    /// Questions that share a request with an earlier question (same prompt).
    pub shared: u64,
    /// Questions that need no call (a fact check with no facts to check).
    pub no_call: u64,
    /// Questions that cannot be asked yet: the first-stage answers they
    /// quote are not known.
    pub waiting: u64,
}

impl Pending {
    /// Whether every question of the plan is answered (nothing to export and
    /// nothing waiting).
    pub fn is_done(&self) -> bool {
        self.requests.is_empty() && self.waiting == 0
    }
}

/// The requests of the next stage of `plan` that the cache does not answer:
/// exactly the jobs a live run ([`Run::next_stage`]) would call, one per
/// unique prompt. With [`StageChoice::Next`], the first stage while it has
/// any, else the second; with [`StageChoice::Second`], the second stage's
/// requests for the questions whose first-stage answers are cached.
pub fn pending(
    plan: &Plan,
    ds: &Dataset,
    opts: ExtractOptions,
    cfg: &ModelConfig,
    cache: &dyn AnswerCache,
    choice: StageChoice,
) -> Pending {
    let mut stats = RunStats::default();
    let mut run = Run::new(plan.clone(), opts, cfg.clone(), &mut stats);
    run.record_legacy_keys();
    let first = run.next_stage(ds, cache, &mut stats).unwrap_or_default();
    if choice == StageChoice::Next && !first.is_empty() {
        let ids = legacy_keys(&run);
        return stage_pending(
            1,
            plan.first.len(),
            first,
            &RunStats::default(),
            &stats,
            &ids,
        );
    }
    let before = stats.clone();
    let second = run.next_stage(ds, cache, &mut stats).unwrap_or_default();
    let ids = legacy_keys(&run);
    stage_pending(2, plan.second.len(), second, &before, &stats, &ids)
}

/// The legacy key of every version-2 key the run asked.
fn legacy_keys(run: &Run) -> FxHashMap<String, String> {
    run.legacy_aliases()
        .iter()
        .map(|(legacy, key)| (key.clone(), legacy.clone()))
        .collect()
}

/// A stage's jobs and counts (`after` − `before`).
fn stage_pending(
    stage: u8,
    questions: usize,
    jobs: Vec<Job>,
    before: &RunStats,
    after: &RunStats,
    legacy: &FxHashMap<String, String>,
) -> Pending {
    let cached = after.cache_hits - before.cache_hits;
    let no_call = after.skipped_empty - before.skipped_empty;
    let waiting = after.failed - before.failed;
    let questions = questions as u64;
    let requests: Vec<BatchRequest> = jobs
        .into_iter()
        .map(|j| {
            let key = legacy.get(&j.key).cloned().unwrap_or_else(|| j.key.clone());
            BatchRequest {
                custom_id: custom_id(&key),
                prompt: j.prompt().clone(),
                question: j.question,
                key,
                stored_key: j.key,
            }
        })
        .collect();
    let shared = questions.saturating_sub(cached + no_call + waiting + requests.len() as u64);
    Pending {
        stage,
        requests,
        questions,
        cached,
        shared,
        no_call,
        waiting,
    }
}

/// One line of a batch input file (without the newline): `custom_id`
/// first, then the body exactly as [`build_request`] makes it for a live
/// call (built without a key).
pub fn request_line(format: BatchFormat, cfg: &ModelConfig, r: &BatchRequest) -> String {
    let body = build_request(cfg, "", &r.prompt).body;
    match format {
        BatchFormat::OpenAi => openai::batch_request_line(&r.custom_id, &body),
        BatchFormat::Anthropic => anthropic::batch_request_line(&r.custom_id, &body),
    }
}

/// The requests as batch input files (JSONL, one line per request), split so
/// that no file exceeds `limits`. No requests, no files.
pub fn request_files(
    format: BatchFormat,
    cfg: &ModelConfig,
    requests: &[BatchRequest],
    limits: BatchLimits,
) -> Vec<String> {
    let mut files = Vec::new();
    let (mut file, mut n) = (String::new(), 0usize);
    for r in requests {
        let line = request_line(format, cfg, r) + "\n";
        if n > 0 && (n >= limits.max_requests || file.len() + line.len() > limits.max_bytes) {
            files.push(std::mem::take(&mut file));
            n = 0;
        }
        file.push_str(&line);
        n += 1;
    }
    if n > 0 {
        files.push(file);
    }
    files
}

/// Calls, tokens and cost of a batch of requests, by [`estimate`] at list
/// prices (multiply by [`BATCH_PRICE_FACTOR`] for the batch price).
pub fn estimate_requests(
    p: &Pending,
    ds: &Dataset,
    opts: ExtractOptions,
    cfg: &ModelConfig,
    price: Option<Price>,
) -> Estimate {
    let questions: Vec<Question> = p.requests.iter().map(|r| r.question).collect();
    let mut sub = Plan::default();
    if p.stage == 1 {
        sub.first = questions;
    } else {
        sub.second = questions;
    }
    estimate(&sub, ds, opts, cfg, &NoCache, price)
}

/// A cache that answers nothing.
struct NoCache;

impl AnswerCache for NoCache {
    fn answer(&self, _key: &str) -> Option<Answer> {
        None
    }
}

/// A cache that remembers which keys it answered.
struct Recording<'a> {
    inner: &'a dyn AnswerCache,
    hits: RefCell<FxHashSet<String>>,
}

impl AnswerCache for Recording<'_> {
    fn answer(&self, key: &str) -> Option<Answer> {
        let a = self.inner.answer(key);
        if a.is_some() {
            self.hits.borrow_mut().insert(key.to_owned());
        }
        a
    }
    fn has_legacy(&self) -> bool {
        self.inner.has_legacy()
    }
    fn entry(&self, key: &str) -> Option<CacheEntry> {
        self.inner.entry(key)
    }
}

/// What [`import_results`] found in a result file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Imported {
    /// New cache entries, one per answered request, as a live call makes them.
    pub entries: Vec<CacheEntry>,
    /// Non-blank lines read.
    pub lines: u64,
    /// Lines for questions already answered (by the cache, or by an earlier
    /// line of the file).
    pub already_answered: u64,
    /// Lines that did not give an answer: bad JSON, an error, a canceled or
    /// expired request, a reply that does not parse.
    pub failed: u64,
    /// Lines whose `custom_id` is no question of the plan.
    pub unknown: u64,
    /// Why each failed or unknown line was skipped, in line order.
    pub problems: Vec<Diagnostic>,
}

impl Imported {
    fn fail(&mut self, line: u64, field: Option<&str>, reason: String) {
        self.failed += 1;
        self.problems.push(Diagnostic::new(line, field, reason));
    }
}

/// Reads a batch result file of `format` for `plan` (the same dataset,
/// factors, model settings and cache as the export) and turns every
/// successful line into the [`CacheEntry`] a live call would have made.
/// Lines that fail are counted and listed in [`Imported::problems`] and
/// skipped; their questions stay unanswered, so the next export asks them
/// again. Never panics on input.
pub fn import_results(
    text: &str,
    format: BatchFormat,
    plan: &Plan,
    ds: &Dataset,
    opts: ExtractOptions,
    cfg: &ModelConfig,
    cache: &dyn AnswerCache,
) -> Imported {
    // Every job of both stages, by custom_id: the second stage's jobs for the
    // questions whose first-stage answers are cached.
    let recording = Recording {
        inner: cache,
        hits: RefCell::new(FxHashSet::default()),
    };
    let mut stats = RunStats::default();
    let mut run = Run::new(plan.clone(), opts, cfg.clone(), &mut stats);
    // Files exported before version-2 keys carry legacy ids: every
    // question's legacy id names the same question as its key's id.
    run.record_legacy_keys();
    let mut jobs: FxHashMap<String, Job> = FxHashMap::default();
    while let Some(stage) = run.next_stage(ds, &recording, &mut stats) {
        for j in stage {
            jobs.insert(custom_id(&j.key), j);
        }
    }
    let legacy_ids: FxHashMap<String, String> = run
        .legacy_aliases()
        .iter()
        .map(|(legacy, key)| (custom_id(legacy), custom_id(key)))
        .collect();
    let same =
        |id: &str| -> String { legacy_ids.get(id).cloned().unwrap_or_else(|| id.to_owned()) };
    let mut answered: FxHashSet<String> = recording
        .hits
        .into_inner()
        .iter()
        .map(|k| same(&custom_id(k)))
        .collect();
    let retry = RetryPolicy::default();
    let cx = run.context(&retry);
    let mut out = Imported::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() {
            continue;
        }
        out.lines += 1;
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                out.fail(line_no, None, format!("not JSON: {e}"));
                continue;
            }
        };
        let Some(line_id) = v.get("custom_id").and_then(Value::as_str) else {
            out.fail(line_no, Some("custom_id"), "no custom_id".into());
            continue;
        };
        let id = same(line_id);
        let id = id.as_str();
        let Some(job) = jobs.get(id) else {
            if answered.contains(id) {
                out.already_answered += 1;
            } else {
                out.unknown += 1;
                out.problems.push(Diagnostic::new(
                    line_no,
                    Some("custom_id"),
                    format!(
                        "`{}` is no pending question of this plan (exported with other settings, or for other data?)",
                        excerpt(line_id)
                    ),
                ));
            }
            continue;
        };
        let completion = match format {
            BatchFormat::OpenAi => openai::batch_result(&v, cfg.provider),
            BatchFormat::Anthropic => anthropic::batch_result(&v),
        };
        let c = match completion {
            Ok(c) => c,
            Err((field, reason)) => {
                out.fail(line_no, Some(field), reason);
                continue;
            }
        };
        match job.clone().on_result(Ok(c.clone()), &cx, 0.0, &mut stats) {
            Step::Done(_, entry) => {
                out.entries.push(*entry);
                answered.insert(id.to_owned());
                jobs.remove(id);
            }
            _ => {
                let why = parse_reply(&job.question, &c, &run.answers, opts)
                    .err()
                    .map_or_else(|| "no answer".to_owned(), |e| e.to_string());
                out.fail(
                    line_no,
                    None,
                    format!(
                        "the reply did not parse ({why}); batch mode does not repair replies, \
                         the next export asks again"
                    ),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_bytes, FormatOptions};
    use crate::factors::Factor;
    use crate::llm::cache::MemoryCache;
    use crate::llm::provider::{parse_response, schema_name};
    use serde_json::json;

    const SECRET: &str = "sk-batch-secret-0123";

    /// Three unique responses; "The town met!" has the same facts as "The
    /// town met.", so their fact checks share a prompt.
    fn ds() -> Dataset {
        let line = |a: &str, b: &str| {
            json!({"input": "Summarize.", "source": "The town met. It voted.", "response_a": a, "response_b": b, "preference": "a"})
                .to_string()
        };
        let text = [
            line("The town met.", "It voted."),
            line("The town met!", "It voted."),
        ]
        .join("\n");
        load_bytes(text.as_bytes(), FormatOptions::default()).unwrap()
    }

    const FACTORS: [Factor; 2] = [Factor::NFacts, Factor::Hallucination];

    fn plan(d: &Dataset) -> Plan {
        Plan::new(d, &FACTORS, ExtractOptions::default())
    }

    /// A stand-in model: one fact per text, "yes" to every check (one entry
    /// per list the schema asks for).
    fn reply(p: &Prompt) -> Value {
        match p.template.as_str() {
            "atomic_facts" if p.user.contains("It voted.") => json!({"facts": ["It voted."]}),
            "atomic_facts" => json!({"facts": ["The town met."]}),
            _ => {
                let props = &p.schema.as_ref().unwrap()["properties"];
                let mut out = serde_json::Map::new();
                for (list, s) in props.as_object().unwrap() {
                    let mut entry = serde_json::Map::new();
                    for k in s["items"]["properties"].as_object().unwrap().keys() {
                        let v = if k == "id" { json!(1) } else { json!("yes") };
                        entry.insert(k.clone(), v);
                    }
                    out.insert(list.clone(), json!([entry]));
                }
                Value::Object(out)
            }
        }
    }

    fn chat_completion(content: &str) -> Value {
        json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "m-2025",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 40, "completion_tokens": 7}})
    }

    fn claude_message(p: &Prompt, input: Value) -> Value {
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
               "content": [{"type": "tool_use", "id": "toolu_1", "name": schema_name(p), "input": input}],
               "stop_reason": "tool_use", "usage": {"input_tokens": 40, "output_tokens": 7}})
    }

    /// OpenAI result lines answering every request with the stand-in model.
    fn openai_results(p: &Pending) -> String {
        p.requests
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let body = chat_completion(&reply(&r.prompt).to_string());
                json!({"id": format!("batch_req_{i}"), "custom_id": r.custom_id,
                       "response": {"status_code": 200, "request_id": "req_1", "body": body},
                       "error": null})
                .to_string()
                    + "\n"
            })
            .collect()
    }

    /// The entries a live run makes for the same replies.
    fn live_entries(
        d: &Dataset,
        cfg: &ModelConfig,
        cache: &MemoryCache,
        stage: usize,
        body: impl Fn(&Prompt) -> Value,
    ) -> Vec<CacheEntry> {
        let mut stats = RunStats::default();
        let mut run = Run::new(plan(d), ExtractOptions::default(), cfg.clone(), &mut stats);
        let mut jobs = Vec::new();
        for _ in 0..stage {
            jobs = run.next_stage(d, cache, &mut stats).unwrap();
        }
        let retry = RetryPolicy::default();
        let cx = run.context(&retry);
        let mut out: Vec<CacheEntry> = jobs
            .into_iter()
            .map(|mut j| {
                let b = body(j.prompt()).to_string();
                let c = parse_response(cfg.provider, 200, &[], &b);
                match j.on_result(c, &cx, 0.0, &mut stats) {
                    Step::Done(_, e) => *e,
                    other => panic!("live job not done: {other:?}"),
                }
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    fn sorted(mut e: Vec<CacheEntry>) -> Vec<CacheEntry> {
        e.sort_by(|a, b| a.key.cmp(&b.key));
        e
    }

    #[test]
    fn openai_export_import_round_trip_gives_the_entries_of_a_live_run() {
        let d = ds();
        let cfg = ModelConfig::new(Provider::OpenAi, "m");
        let opts = ExtractOptions::default();
        let fmt = BatchFormat::of(cfg.provider).unwrap();
        let mut cache = MemoryCache::new();

        // Stage 1: the facts of the three unique responses.
        let p1 = pending(&plan(&d), &d, opts, &cfg, &cache, StageChoice::Next);
        assert_eq!((p1.stage, p1.requests.len(), p1.questions), (1, 3, 3));
        assert_eq!((p1.cached, p1.shared, p1.waiting), (0, 0, 0));
        let files = request_files(fmt, &cfg, &p1.requests, fmt.limits());
        assert_eq!(files.len(), 1);
        for (line, r) in files[0].lines().zip(&p1.requests) {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["custom_id"], r.custom_id.as_str());
            assert_eq!(r.custom_id, r.key, "the id is the cache key");
            assert_eq!(
                (v["method"].as_str(), v["url"].as_str()),
                (Some("POST"), Some("/v1/chat/completions"))
            );
            // The very body of a live call, which carries no key.
            let live = build_request(&cfg, SECRET, &r.prompt);
            assert_eq!(
                v["body"],
                serde_json::from_str::<Value>(&live.body).unwrap()
            );
            assert!(!line.contains(SECRET) && !line.contains("Bearer"), "{line}");
        }

        let imported = import_results(&openai_results(&p1), fmt, &plan(&d), &d, opts, &cfg, &cache);
        assert_eq!(
            (imported.lines, imported.failed, imported.unknown),
            (3, 0, 0),
            "{:?}",
            imported.problems
        );
        let live = live_entries(&d, &cfg, &MemoryCache::new(), 1, |p| {
            chat_completion(&reply(p).to_string())
        });
        assert_eq!(
            sorted(imported.entries.clone()),
            live,
            "batch entries = live entries"
        );
        assert_eq!(live[0].input_tokens, 40);
        for e in imported.entries {
            cache.put(e);
        }

        // Stage 2: three fact checks, two of them with the same prompt.
        let p2 = pending(&plan(&d), &d, opts, &cfg, &cache, StageChoice::Next);
        assert_eq!((p2.stage, p2.requests.len(), p2.questions), (2, 2, 3));
        assert_eq!((p2.cached, p2.shared), (0, 1));
        assert!(p2
            .requests
            .iter()
            .all(|r| r.prompt.template == "fact_checks"));
        let imported = import_results(&openai_results(&p2), fmt, &plan(&d), &d, opts, &cfg, &cache);
        assert_eq!(
            (imported.entries.len(), imported.failed),
            (2, 0),
            "{:?}",
            imported.problems
        );
        let live = live_entries(&d, &cfg, &cache, 2, |p| {
            chat_completion(&reply(p).to_string())
        });
        assert_eq!(sorted(imported.entries.clone()), live);
        for e in imported.entries {
            cache.put(e);
        }

        // Done: a live run now finds every answer in the cache.
        let p3 = pending(&plan(&d), &d, opts, &cfg, &cache, StageChoice::Next);
        assert!(p3.is_done(), "{p3:?}");
        assert_eq!(p3.cached, 3);
        let mut stats = RunStats::default();
        let mut run = Run::new(plan(&d), opts, cfg.clone(), &mut stats);
        while let Some(jobs) = run.next_stage(&d, &cache, &mut stats) {
            assert!(jobs.is_empty());
        }
        assert_eq!((stats.cache_hits, stats.remaining()), (6, 0));
        // Importing the same results again adds nothing.
        let again = import_results(&openai_results(&p1), fmt, &plan(&d), &d, opts, &cfg, &cache);
        assert_eq!(
            (again.entries.len(), again.already_answered, again.failed),
            (0, 3, 0)
        );
    }

    #[test]
    fn anthropic_results_of_every_kind_and_failed_lines_are_exported_again() {
        let d = ds();
        let cfg = ModelConfig::new(Provider::Anthropic, "claude-x");
        let opts = ExtractOptions::default();
        let fmt = BatchFormat::of(cfg.provider).unwrap();
        let mut cache = MemoryCache::new();
        let p = pending(&plan(&d), &d, opts, &cfg, &cache, StageChoice::Next);
        assert_eq!(p.requests.len(), 3);
        let ids: Vec<&str> = p.requests.iter().map(|r| r.custom_id.as_str()).collect();
        for (line, r) in request_files(fmt, &cfg, &p.requests, fmt.limits())[0]
            .lines()
            .zip(&p.requests)
        {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v.as_object().unwrap().len(), 2, "custom_id and params only");
            let id = v["custom_id"].as_str().unwrap();
            assert!(
                id.len() <= 64
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            );
            let live = build_request(&cfg, SECRET, &r.prompt);
            assert_eq!(
                v["params"],
                serde_json::from_str::<Value>(&live.body).unwrap()
            );
            assert!(!line.contains(SECRET));
        }
        let ok = |i: usize| {
            let m = claude_message(&p.requests[i].prompt, reply(&p.requests[i].prompt));
            json!({"custom_id": ids[i], "result": {"type": "succeeded", "message": m}}).to_string()
        };
        let prose = json!({"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-x",
                           "content": [{"type": "text", "text": "Sorry, I cannot list facts."}],
                           "stop_reason": "end_turn", "usage": {"input_tokens": 4, "output_tokens": 6}});
        let text = [
            ok(0),
            json!({"custom_id": ids[1], "result": {"type": "errored", "error": {"type": "error",
                   "error": {"type": "overloaded_error", "message": "Overloaded"}}}})
            .to_string(),
            json!({"custom_id": ids[2], "result": {"type": "succeeded", "message": prose}})
                .to_string(),
            String::new(),
            "{not json".into(),
            json!({"custom_id": "zzz", "result": {"type": "canceled"}}).to_string(),
            ok(0),
            json!({"custom_id": ids[1], "result": {"type": "expired"}}).to_string(),
            json!({"custom_id": ids[2], "result": {"type": "canceled"}}).to_string(),
            json!({"result": {"type": "canceled"}}).to_string(),
        ]
        .join("\n");
        let got = import_results(&text, fmt, &plan(&d), &d, opts, &cfg, &cache);
        assert_eq!(got.entries.len(), 1);
        assert_eq!(
            (got.lines, got.failed, got.unknown, got.already_answered),
            (9, 6, 1, 1)
        );
        let lines: Vec<u64> = got.problems.iter().map(|d| d.line).collect();
        assert_eq!(lines, [2, 3, 5, 6, 8, 9, 10]);
        let reasons: Vec<String> = got.problems.iter().map(|d| d.to_string()).collect();
        assert!(
            reasons[0].contains("overloaded_error: Overloaded"),
            "{reasons:?}"
        );
        assert!(
            reasons[1].contains("did not parse") && reasons[1].contains("next export"),
            "{reasons:?}"
        );
        assert!(reasons[2].contains("not JSON"), "{reasons:?}");
        assert!(
            reasons[3].contains("`zzz` is no pending question"),
            "{reasons:?}"
        );
        assert!(
            reasons[4].contains("expired") && reasons[5].contains("canceled"),
            "{reasons:?}"
        );
        let e = &got.entries[0];
        assert_eq!(
            (e.provider.as_str(), e.model.as_str(), e.template.as_str()),
            ("anthropic", "claude-x", "atomic_facts@1")
        );
        let live = live_entries(&d, &cfg, &MemoryCache::new(), 1, |p| {
            claude_message(p, reply(p))
        });
        assert!(live.contains(e), "the entry a live call makes");
        // Resumable: the next export asks exactly the two that failed.
        cache.put(e.clone());
        let again = pending(&plan(&d), &d, opts, &cfg, &cache, StageChoice::Next);
        assert_eq!((again.stage, again.cached), (1, 1));
        let left: Vec<&str> = again
            .requests
            .iter()
            .map(|r| r.custom_id.as_str())
            .collect();
        assert_eq!(left, [ids[1], ids[2]]);
        // Forcing the second stage asks the checks whose facts are known.
        let second = pending(&plan(&d), &d, opts, &cfg, &cache, StageChoice::Second);
        assert_eq!(
            (second.stage, second.requests.len(), second.waiting),
            (2, 1, 2)
        );
        assert!(!second.is_done());
    }

    #[test]
    fn openai_error_lines_become_problems() {
        let d = ds();
        let cfg = ModelConfig::new(Provider::OpenAi, "m");
        let opts = ExtractOptions::default();
        let p = pending(
            &plan(&d),
            &d,
            opts,
            &cfg,
            &MemoryCache::new(),
            StageChoice::Next,
        );
        let id = |i: usize| p.requests[i].custom_id.as_str();
        let truncated = json!({"choices": [{"message": {"role": "assistant", "content": "{\"facts\": [\"The"},
                                            "finish_reason": "length"}]});
        let text = [
            json!({"id": "b1", "custom_id": id(0), "response": {"status_code": 500,
                   "body": {"error": {"message": "boom", "type": "server_error"}}}, "error": null}),
            json!({"id": "b2", "custom_id": id(1), "response": null,
                   "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}}),
            json!({"id": "b3", "custom_id": id(2), "response": {"status_code": 200, "body": truncated}}),
            json!({"id": "b4", "custom_id": id(2), "response": {"body": {}}}),
        ]
        .map(|v| v.to_string())
        .join("\n");
        let got = import_results(
            &text,
            BatchFormat::OpenAi,
            &plan(&d),
            &d,
            opts,
            &cfg,
            &MemoryCache::new(),
        );
        assert_eq!((got.entries.len(), got.failed, got.unknown), (0, 4, 0));
        let r: Vec<String> = got.problems.iter().map(|d| d.to_string()).collect();
        assert!(r[0].contains("server error (HTTP 500)"), "{r:?}");
        assert!(r[1].contains("batch_expired: This request"), "{r:?}");
        assert!(r[2].contains("truncated"), "{r:?}");
        assert!(r[3].contains("status code"), "{r:?}");
    }

    #[test]
    fn formats_ids_and_splitting() {
        assert_eq!(
            BatchFormat::of(Provider::OpenAiCompatible),
            Ok(BatchFormat::OpenAi)
        );
        let err = BatchFormat::of(Provider::Gemini).unwrap_err().to_string();
        assert!(err.contains("Gemini batch mode is not supported"), "{err}");
        // Cache keys are their own ids; anything else is hashed into one.
        let key = crate::llm::cache::cache_key("openai", "m", "t@1", &Default::default(), &["x"]);
        assert_eq!(custom_id(&key), key);
        let odd = custom_id("a key/with spaces");
        assert_eq!(odd.len(), 32);
        assert_eq!(odd, custom_id("a key/with spaces"));
        assert_eq!(custom_id(&"k".repeat(65)).len(), 32);

        let d = ds();
        let cfg = ModelConfig::new(Provider::OpenAi, "m");
        let p = pending(
            &plan(&d),
            &d,
            ExtractOptions::default(),
            &cfg,
            &MemoryCache::new(),
            StageChoice::Next,
        );
        let one = request_files(
            BatchFormat::OpenAi,
            &cfg,
            &p.requests,
            BatchFormat::OpenAi.limits(),
        );
        let by_count = BatchLimits {
            max_requests: 2,
            max_bytes: usize::MAX,
        };
        let files = request_files(BatchFormat::OpenAi, &cfg, &p.requests, by_count);
        assert_eq!(
            files.iter().map(|f| f.lines().count()).collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(files.concat(), one[0]);
        let by_bytes = BatchLimits {
            max_requests: 10,
            max_bytes: one[0].len() / 2,
        };
        let files = request_files(BatchFormat::OpenAi, &cfg, &p.requests, by_bytes);
        assert!(
            files.len() >= 2
                && files
                    .iter()
                    .all(|f| f.len() <= by_bytes.max_bytes || f.lines().count() == 1)
        );
        assert_eq!(files.concat(), one[0]);
        assert!(request_files(BatchFormat::OpenAi, &cfg, &[], by_count).is_empty());
        // A request file given as results: every line says so.
        for (fmt, cfg) in [
            (BatchFormat::OpenAi, cfg.clone()),
            (
                BatchFormat::Anthropic,
                ModelConfig::new(Provider::Anthropic, "m"),
            ),
        ] {
            let p = pending(
                &plan(&d),
                &d,
                ExtractOptions::default(),
                &cfg,
                &MemoryCache::new(),
                StageChoice::Next,
            );
            let requests = request_files(fmt, &cfg, &p.requests, fmt.limits()).concat();
            assert!(requests.starts_with(r#"{"custom_id":""#), "{requests}");
            let got = import_results(
                &requests,
                fmt,
                &plan(&d),
                &d,
                ExtractOptions::default(),
                &cfg,
                &MemoryCache::new(),
            );
            assert_eq!(got.failed, 3);
            assert!(
                got.problems
                    .iter()
                    .all(|d| d.reason.starts_with("a request, not a result")),
                "{:?}",
                got.problems
            );
        }
        // The estimate of a file covers its requests only.
        let e = estimate_requests(&p, &d, ExtractOptions::default(), &cfg, None);
        assert_eq!((e.calls, e.cached), (3, 0));
        assert!(e.input_tokens > 0.0 && e.cost_usd.is_none());
    }
}
