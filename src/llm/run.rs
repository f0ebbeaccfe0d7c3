//! Running an extraction plan against a model (native: the CLI and tests).
//!
//! Calls run on a bounded pool of threads, paced by token buckets (requests
//! and tokens per minute), retried with exponential backoff and jitter that
//! honours `Retry-After` on rate limits, server errors, timeouts and network
//! errors. A reply that does not parse gets one repair request; after that the
//! item is recorded as failed with its raw reply. Every success is appended to
//! the disk cache at once, so an interrupted run loses no paid work and a
//! re-run repeats no successful call.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::cache::{cache_key, CacheEntry, MemoryCache};
use super::extract::{
    key_texts, parse_reply, prompt, Answer, Answers, ExtractOptions, Plan, Question,
};
use super::prompts;
use super::provider::{
    build_request, estimate_prompt_tokens, parse_response, CallError, Completion, ModelConfig,
};
use super::schedule::{RetryPolicy, TokenBucket};
use super::Prompt;
use crate::data::Dataset;
use crate::stats::Rng;

/// Something that answers prompts: a provider over HTTP, or a test double.
pub trait Llm: Sync {
    /// One call.
    ///
    /// # Errors
    /// The provider's or the transport's [`CallError`].
    fn complete(&self, prompt: &Prompt) -> Result<Completion, CallError>;
    /// The model configuration (for cache keys and reports).
    fn config(&self) -> &ModelConfig;
}

/// A provider reached over HTTP(S) with a blocking client.
pub struct HttpLlm {
    cfg: ModelConfig,
    key: String,
    agent: ureq::Agent,
}

impl HttpLlm {
    /// A client with a per-request timeout. The key is kept in memory only.
    pub fn new(cfg: ModelConfig, key: String, timeout: Duration) -> Self {
        HttpLlm {
            cfg,
            key,
            agent: ureq::AgentBuilder::new().timeout(timeout).build(),
        }
    }
}

impl Llm for HttpLlm {
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    fn complete(&self, prompt: &Prompt) -> Result<Completion, CallError> {
        let req = build_request(&self.cfg, &self.key, prompt);
        let mut r = self.agent.request(req.method, &req.url);
        for (k, v) in &req.headers {
            r = r.set(k, v);
        }
        let resp = match r.send_string(&req.body) {
            Ok(resp) => resp,
            Err(ureq::Error::Status(_, resp)) => resp,
            Err(ureq::Error::Transport(t)) => {
                let msg = t.to_string();
                return Err(if msg.contains("timed out") || msg.contains("Timeout") {
                    CallError::Timeout
                } else {
                    CallError::Network(msg)
                });
            }
        };
        let status = resp.status();
        let headers: Vec<(String, String)> = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| {
                resp.header(&n)
                    .map(|v| (n.to_ascii_lowercase(), v.to_owned()))
            })
            .collect();
        let body = resp.into_string().map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut
                || e.kind() == std::io::ErrorKind::WouldBlock
            {
                CallError::Timeout
            } else {
                CallError::Network(e.to_string())
            }
        })?;
        parse_response(self.cfg.provider, status, &headers, &body)
    }
}

/// The cache in `.profile-cache/`: a JSONL file appended after every success.
pub struct DiskCache {
    mem: MemoryCache,
    file: File,
    path: PathBuf,
}

impl DiskCache {
    /// Opens (creating) `dir/cache.jsonl`; unreadable lines are skipped and counted.
    ///
    /// # Errors
    /// When the directory or file cannot be created or read.
    pub fn open(dir: &Path) -> std::io::Result<(DiskCache, usize)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("cache.jsonl");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut mem = MemoryCache::new();
        let (_, problems) = mem.import_jsonl(&text);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok((DiskCache { mem, file, path }, problems.len()))
    }

    pub fn memory(&self) -> &MemoryCache {
        &self.mem
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Merges JSONL entries (a shared export) into the cache, durably.
    /// Returns the number of new entries and the lines that were not entries.
    pub fn import_jsonl(&mut self, text: &str) -> (usize, Vec<crate::data::Diagnostic>) {
        let mut incoming = MemoryCache::new();
        let (_, problems) = incoming.import_jsonl(text);
        let before = self.mem.len();
        for line in incoming.to_jsonl().lines() {
            if let Ok(e) = serde_json::from_str::<CacheEntry>(line) {
                self.put(e);
            }
        }
        (self.mem.len() - before, problems)
    }

    fn put(&mut self, e: CacheEntry) {
        let line = serde_json::to_string(&e).expect("entries serialise") + "\n";
        if self.mem.put(e) {
            // Durable before the result is used: a crash cannot lose a paid call.
            let _ = self
                .file
                .write_all(line.as_bytes())
                .and_then(|_| self.file.flush());
        }
    }
}

/// Pacing and robustness settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub concurrency: usize,
    pub requests_per_minute: Option<f64>,
    pub tokens_per_minute: Option<f64>,
    pub retry: RetryPolicy,
    /// Seed of the retry jitter.
    pub seed: u64,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            concurrency: 4,
            requests_per_minute: None,
            tokens_per_minute: None,
            retry: RetryPolicy::default(),
            seed: 1,
        }
    }
}

/// A question that could not be answered, with why and the raw reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedItem {
    /// What was asked, e.g. `Facts(TextId(3))`.
    pub question: String,
    pub template: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_reply: Option<String>,
    pub attempts: u32,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunStats {
    /// Questions planned.
    pub questions: u64,
    /// HTTP calls made (retries and repairs included).
    pub calls: u64,
    pub cache_hits: u64,
    pub retries: u64,
    pub repairs: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Fact checks answered without a call (no facts to check).
    pub skipped_empty: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cancelled: bool,
    /// `name@version` of every template asked (or found in the cache).
    pub templates: std::collections::BTreeSet<String>,
}

/// Progress reports during a run.
pub type Progress<'a> = &'a (dyn Fn(&RunStats) + Sync);

struct Shared<'a> {
    stats: Mutex<RunStats>,
    requests: Option<Mutex<TokenBucket>>,
    tokens: Option<Mutex<TokenBucket>>,
    start: Instant,
    cancel: &'a AtomicBool,
    progress: Progress<'a>,
}

impl Shared<'_> {
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn pace(&self, tokens: f64) {
        for (bucket, amount) in [(&self.requests, 1.0), (&self.tokens, tokens)] {
            if let Some(b) = bucket {
                loop {
                    let wait = b.lock().expect("bucket").take(amount, self.now());
                    if wait <= 0.0 || self.cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs_f64(wait.min(5.0)));
                }
            }
        }
    }

    fn bump(&self, f: impl FnOnce(&mut RunStats)) {
        let mut s = self.stats.lock().expect("stats");
        f(&mut s);
        (self.progress)(&s);
    }
}

enum ItemResult {
    Done(Answer, CacheEntry),
    Failed(FailedItem),
}

/// What every question of a stage shares.
struct Stage<'a> {
    llm: &'a dyn Llm,
    answers: &'a Answers,
    opts: ExtractOptions,
    settings: &'a RunSettings,
    shared: &'a Shared<'a>,
}

/// Asks one question: calls with retries, parses, repairs once. `None` when
/// the run was cancelled.
fn ask(
    st: &Stage<'_>,
    (q, p, key): &(Question, Prompt, String),
    rng: &mut Rng,
) -> Option<ItemResult> {
    let Stage {
        llm,
        answers,
        opts,
        settings,
        shared,
    } = *st;
    let cfg = llm.config();
    let mut attempts = 0u32;
    let mut call = |prompt: &Prompt, attempts: &mut u32| -> Result<Completion, CallError> {
        loop {
            if shared.cancel.load(Ordering::Relaxed) {
                return Err(CallError::Network("cancelled".into()));
            }
            shared
                .pace((estimate_prompt_tokens(prompt) + cfg.decoding.max_tokens as u64 / 4) as f64);
            *attempts += 1;
            shared.bump(|s| s.calls += 1);
            match llm.complete(prompt) {
                Ok(c) => {
                    shared.bump(|s| {
                        s.input_tokens += c.usage.input_tokens;
                        s.output_tokens += c.usage.output_tokens;
                    });
                    return Ok(c);
                }
                Err(e) if e.retryable() && settings.retry.may_retry(*attempts) => {
                    shared.bump(|s| s.retries += 1);
                    let d = settings
                        .retry
                        .delay_s(*attempts, e.retry_after_s(), rng.unit());
                    std::thread::sleep(Duration::from_secs_f64(d));
                }
                Err(e) => return Err(e),
            }
        }
    };
    let fail = |reason: String, raw: Option<String>, attempts: u32| {
        Some(ItemResult::Failed(FailedItem {
            question: format!("{q:?}"),
            template: p.template_id(),
            reason,
            raw_reply: raw,
            attempts,
        }))
    };
    let first = match call(p, &mut attempts) {
        Ok(c) => c,
        Err(_) if shared.cancel.load(Ordering::Relaxed) => return None,
        Err(e) => return fail(e.to_string(), None, attempts),
    };
    let (answer, reply, usage) = match parse_reply(q, &first, answers, opts) {
        Ok(a) => (a, first.text.clone(), first.usage),
        Err(problem) => {
            shared.bump(|s| s.repairs += 1);
            let fix = prompts::repair(p, &first.text, &problem.to_string());
            match call(&fix, &mut attempts) {
                Ok(c) => match parse_reply(q, &c, answers, opts) {
                    Ok(a) => (a, c.text, c.usage),
                    Err(e2) => {
                        return fail(
                            format!(
                                "reply did not parse ({problem}); the repair did not either ({e2})"
                            ),
                            Some(first.text),
                            attempts,
                        )
                    }
                },
                Err(e) => {
                    return fail(
                        format!("reply did not parse ({problem}); the repair call failed ({e})"),
                        Some(first.text),
                        attempts,
                    )
                }
            }
        }
    };
    let entry = CacheEntry {
        key: key.to_owned(),
        template: p.template_id(),
        provider: cfg.provider.id().to_owned(),
        model: cfg.model.clone(),
        decoding: cfg.decoding,
        reply,
        value: serde_json::to_value(&answer).expect("answers serialise"),
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
    };
    Some(ItemResult::Done(answer, entry))
}

/// The cache key of a question.
pub fn question_key(
    llm: &dyn Llm,
    q: &Question,
    p: &Prompt,
    ds: &Dataset,
    answers: &Answers,
) -> String {
    let cfg = llm.config();
    let texts = key_texts(q, ds, answers);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let model = format!(
        "{}|{}|{:?}|lp={}",
        cfg.model,
        cfg.effective_base_url(),
        cfg.structured_output,
        cfg.requests_logprobs(p)
    );
    cache_key(
        cfg.provider.id(),
        &model,
        &p.template_id(),
        &cfg.decoding,
        &refs,
    )
}

/// Answers every question of `plan`: from the cache where possible, else by
/// calling `llm`. Returns the answers, the run's counts and the failures.
#[allow(clippy::too_many_arguments)]
pub fn run_plan(
    plan: &Plan,
    ds: &Dataset,
    opts: ExtractOptions,
    llm: &dyn Llm,
    cache: &mut DiskCache,
    settings: &RunSettings,
    cancel: &AtomicBool,
    progress: Progress<'_>,
) -> (Answers, RunStats, Vec<FailedItem>) {
    let mut answers = Answers::default();
    let mut failures = Vec::new();
    let shared = Shared {
        stats: Mutex::new(RunStats {
            questions: plan.len() as u64,
            ..Default::default()
        }),
        requests: settings
            .requests_per_minute
            .map(|r| Mutex::new(TokenBucket::per_minute(r, 0.0))),
        tokens: settings
            .tokens_per_minute
            .map(|r| Mutex::new(TokenBucket::per_minute(r, 0.0))),
        start: Instant::now(),
        cancel,
        progress,
    };
    for questions in [&plan.first, &plan.second] {
        // Cached answers and questions that need no call.
        let mut todo: Vec<(Question, Prompt, String)> = Vec::new();
        // Questions whose prompt is the same as an earlier one's (e.g. two
        // responses with the same facts and context) share its single call.
        let mut same: rustc_hash::FxHashMap<String, Vec<Question>> = Default::default();
        for q in questions {
            let Some(p) = prompt(q, ds, &answers, opts) else {
                let facts_of = match *q {
                    Question::Checks { text, .. } => Some(text),
                    Question::SourceCoverage { source, .. } => Some(source),
                    _ => None,
                };
                match facts_of.map(|t| answers.facts(t).is_some()) {
                    // No facts to check: nothing to ask, the share is 0.
                    Some(true) => shared.bump(|s| s.skipped_empty += 1),
                    // The facts could not be extracted: this check cannot be asked.
                    _ => {
                        shared.bump(|s| s.failed += 1);
                        failures.push(FailedItem {
                            question: format!("{q:?}"),
                            template: String::new(),
                            reason: "not asked: the facts it checks could not be extracted".into(),
                            raw_reply: None,
                            attempts: 0,
                        });
                    }
                }
                continue;
            };
            let key = question_key(llm, q, &p, ds, &answers);
            shared.bump(|s| {
                s.templates.insert(p.template_id());
            });
            match cache
                .memory()
                .get(&key)
                .and_then(|e| serde_json::from_value::<Answer>(e.value.clone()).ok())
            {
                Some(a) => {
                    answers.insert(*q, a);
                    shared.bump(|s| s.cache_hits += 1);
                }
                None => match same.get_mut(&key) {
                    Some(twins) => twins.push(*q),
                    None => {
                        same.insert(key.clone(), Vec::new());
                        todo.push((*q, p, key));
                    }
                },
            }
        }
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<(usize, ItemResult)>> = Mutex::new(Vec::new());
        let stage = &Stage {
            llm,
            answers: &answers,
            opts,
            settings,
            shared: &shared,
        };
        let cache_lock = Mutex::new(&mut *cache);
        std::thread::scope(|scope| {
            for w in 0..settings.concurrency.max(1) {
                let (todo, next, results, shared, cache_lock) =
                    (&todo, &next, &results, &shared, &cache_lock);
                scope.spawn(move || {
                    let mut rng = Rng::new(
                        settings.seed ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    );
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= todo.len() || shared.cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        let Some(r) = ask(stage, &todo[i], &mut rng) else {
                            break;
                        };
                        match &r {
                            ItemResult::Done(_, entry) => {
                                cache_lock.lock().expect("cache").put(entry.clone());
                                shared.bump(|s| s.succeeded += 1);
                            }
                            ItemResult::Failed(_) => shared.bump(|s| s.failed += 1),
                        }
                        results.lock().expect("results").push((i, r));
                    }
                });
            }
        });
        for (i, r) in results.into_inner().expect("results") {
            let (q, _, key) = &todo[i];
            let q = *q;
            let twins = same.get(key).map_or(&[][..], Vec::as_slice);
            match r {
                ItemResult::Done(a, _) => {
                    for t in twins {
                        answers.insert(*t, a.clone());
                    }
                    answers.insert(q, a);
                }
                ItemResult::Failed(f) => {
                    for t in twins {
                        failures.push(FailedItem {
                            question: format!("{t:?}"),
                            ..f.clone()
                        });
                    }
                    failures.push(f);
                }
            }
        }
        if cancel.load(Ordering::Relaxed) {
            break;
        }
    }
    let mut stats = shared.stats.into_inner().expect("stats");
    stats.cancelled = cancel.load(Ordering::Relaxed);
    failures.sort_by(|a, b| a.question.cmp(&b.question));
    (answers, stats, failures)
}

/// What a run will cost, before it starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Questions answered from the cache (no call).
    pub cached: u64,
    /// Calls to make, first stage exactly, fact checks estimated (one per
    /// fact-check question; one without facts to check needs none).
    pub calls: u64,
    pub input_tokens: f64,
    pub output_tokens: f64,
    /// In US dollars, when a price is known.
    pub cost_usd: Option<f64>,
}

/// Estimates calls, tokens and cost of a plan. First-stage prompts are
/// rendered and measured; fact-check prompts are estimated from the texts
/// they will quote (a text's facts ≈ the text itself; the context blocks as
/// they are). Replies: facts ≈ the text's length; a judgement ≈ 15 tokens per
/// part asked; bare yes/no words ≈ 3 tokens; fact checks ≈ 8 tokens per fact
/// entry plus 4 per answer in it, with a fact ≈ 12 tokens of its text.
pub fn estimate(
    plan: &Plan,
    ds: &Dataset,
    opts: ExtractOptions,
    llm: &dyn Llm,
    cache: &MemoryCache,
    price: Option<super::pricing::Price>,
) -> Estimate {
    use super::provider::estimate_tokens;
    let answers = Answers::default();
    let mut e = Estimate::default();
    let tokens = |t: crate::data::TextId| estimate_tokens(ds.text(t)) as f64;
    for q in &plan.first {
        let Some(p) = prompt(q, ds, &answers, opts) else {
            continue;
        };
        if cache.get(&question_key(llm, q, &p, ds, &answers)).is_some() {
            e.cached += 1;
            continue;
        }
        e.calls += 1;
        e.input_tokens += estimate_prompt_tokens(&p) as f64;
        e.output_tokens += match q {
            Question::Facts(t) => tokens(*t),
            Question::Judgements { parts, .. } => 10.0 + 15.0 * parts.to_vec().len() as f64,
            Question::FluencyCoherence { .. } => 3.0,
            _ => 40.0,
        };
    }
    // A fact entry's output: `{"id": i` plus one answer per key.
    let entries =
        |facts_of: f64, answers: usize| (facts_of / 12.0).ceil() * (8.0 + 4.0 * answers as f64);
    for q in &plan.second {
        let (input, output) = match *q {
            Question::Checks {
                text,
                request,
                source,
                kinds,
                coverage,
            } => {
                let n_kinds = kinds.to_vec().len();
                let mut input = 600.0 + 120.0 * n_kinds as f64 + tokens(text);
                input += request.map_or(0.0, tokens) + source.map_or(0.0, tokens);
                let mut output = 10.0 + entries(tokens(text), n_kinds);
                if let Some(s) = coverage {
                    input += 150.0 + tokens(s) + tokens(text);
                    output += entries(tokens(s), 1);
                }
                (input, output)
            }
            Question::SourceCoverage { source, response } => (
                600.0 + tokens(source) + tokens(response),
                10.0 + entries(tokens(source), 1),
            ),
            _ => continue,
        };
        e.calls += 1;
        e.input_tokens += input;
        e.output_tokens += output;
    }
    e.cost_usd = price.map(|p| p.cost(e.input_tokens, e.output_tokens));
    e
}
