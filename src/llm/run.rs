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

use super::cache::{CacheEntry, MemoryCache};
pub use super::engine::{question_key, FailedItem, RunSettings, RunStats};
use super::engine::{AnswerCache, Job, Run, Step};
use super::extract::{Answer, Answers, ExtractOptions, Plan};
use super::provider::{build_request, parse_response, CallError, Completion, ModelConfig};
use super::schedule::TokenBucket;
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

/// The disk cache answers from its in-memory copy.
impl AnswerCache for DiskCache {
    fn answer(&self, key: &str) -> Option<Answer> {
        self.mem.answer(key)
    }
}

/// Progress reports during a run.
pub type Progress<'a> = &'a (dyn Fn(&RunStats) + Sync);

/// Token buckets shared by the worker threads.
struct Pacer<'a> {
    requests: Option<Mutex<TokenBucket>>,
    tokens: Option<Mutex<TokenBucket>>,
    start: Instant,
    cancel: &'a AtomicBool,
}

impl Pacer<'_> {
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Sleeps until both budgets allow a call of `tokens` (or the run is cancelled).
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
}

/// Answers every question of `plan`: from the cache where possible, else by
/// calling `llm` on `settings.concurrency` threads. Every success is written
/// to the cache before it is used. Returns the answers, the run's counts and
/// the failures.
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
    let mut stats = RunStats::default();
    let mut run = Run::new(plan.clone(), opts, llm.config().clone(), &mut stats);
    let pacer = Pacer {
        requests: settings
            .requests_per_minute
            .map(|r| Mutex::new(TokenBucket::per_minute(r, 0.0))),
        tokens: settings
            .tokens_per_minute
            .map(|r| Mutex::new(TokenBucket::per_minute(r, 0.0))),
        start: Instant::now(),
        cancel,
    };
    let cfg = llm.config();
    while let Some(jobs) = run.next_stage(ds, &*cache, &mut stats) {
        progress(&stats);
        let next = AtomicUsize::new(0);
        let stats_lock = Mutex::new(&mut stats);
        let results: Mutex<Vec<(usize, Job, Step)>> = Mutex::new(Vec::new());
        let cache_lock = Mutex::new(&mut *cache);
        let cx = &run.context(&settings.retry);
        std::thread::scope(|scope| {
            for w in 0..settings.concurrency.max(1) {
                let (jobs, next, results, pacer, cache_lock, stats_lock) =
                    (&jobs, &next, &results, &pacer, &cache_lock, &stats_lock);
                scope.spawn(move || {
                    let mut rng = Rng::new(
                        settings.seed ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    );
                    let with_stats = |f: &mut dyn FnMut(&mut RunStats)| {
                        let mut s = stats_lock.lock().expect("stats");
                        f(&mut s);
                        progress(&s);
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= jobs.len() || cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        let mut job = jobs[i].clone();
                        let step = loop {
                            pacer.pace(job.token_cost(cfg));
                            if cancel.load(Ordering::Relaxed) {
                                break None;
                            }
                            with_stats(&mut |s| job.start_call(s));
                            let mut result = Some(llm.complete(job.prompt()));
                            let jitter = rng.unit();
                            let mut step = Step::Call { after_s: 0.0 };
                            with_stats(&mut |s| {
                                let r = result.take().expect("one result");
                                step = job.on_result(r, cx, jitter, s);
                            });
                            match step {
                                Step::Call { after_s } => {
                                    std::thread::sleep(Duration::from_secs_f64(after_s))
                                }
                                done => break Some(done),
                            }
                        };
                        let Some(step) = step else { break };
                        if let Step::Done(_, entry) = &step {
                            // Durable before the result is used: a crash cannot lose a paid call.
                            cache_lock.lock().expect("cache").put((**entry).clone());
                        }
                        results.lock().expect("results").push((i, job, step));
                    }
                });
            }
        });
        let mut results = results.into_inner().expect("results");
        results.sort_by_key(|r| r.0);
        for (_, job, step) in results {
            run.settle(&job, step, &mut stats);
        }
        progress(&stats);
        if cancel.load(Ordering::Relaxed) {
            break;
        }
    }
    stats.cancelled = cancel.load(Ordering::Relaxed);
    let (answers, failures) = run.finish();
    (answers, stats, failures)
}
