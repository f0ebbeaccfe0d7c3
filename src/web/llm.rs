//! The browser's driver of LLM runs (worker side): the core
//! [`engine`](crate::llm::engine) does the deciding; this file only sends
//! requests with `fetch` (gloo-net), sleeps, paces with token buckets, writes
//! the IndexedDB cache and posts progress.
//!
//! Concurrency is a number of async loops taking jobs from one queue. Pause
//! stops loops from starting calls; cancel stops them for good. Calls in
//! flight always finish, and their answers are cached: they are paid for.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use gloo_net::http::{Method, RequestBuilder};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::idb::IdbCache;
use crate::agents::RunInfo;
use crate::analysis::{llm_run_record, LlmValues};
use crate::data::Dataset;
use crate::factors::Task;
use crate::llm::cache::MemoryCache;
use crate::llm::engine::{Job, Run, RunStats, Step};
use crate::llm::extract::{ExtractOptions, Plan};
use crate::llm::provider::{
    build_request, parse_response, reply_head, CallError, Completion, HttpRequest, Provider,
    MAX_REPLY_BYTES,
};
use crate::llm::runs;
use crate::llm::schedule::TokenBucket;
use crate::protocol::{resolve, FromWorker, LlmRequest, ModelKind, Session};
use crate::stats::Rng;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Resolves after `s` seconds (works in windows and workers).
pub async fn sleep_s(s: f64) {
    let ms = (s * 1000.0).clamp(0.0, 2_147_483_647.0);
    let p = Promise::new(&mut |resolve: Function, _| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(p).await;
}

fn now_s() -> f64 {
    js_sys::Date::now() / 1000.0
}

/// Sends a provider request and reads the reply: the browser's transport.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// One call; a timeout aborts it.
    ///
    /// # Errors
    /// The transport's or the provider's [`CallError`].
    async fn send(
        &self,
        provider: Provider,
        req: &HttpRequest,
        timeout_s: f64,
    ) -> Result<Completion, CallError>;
}

/// `fetch`, through gloo-net. The HTTP status is checked by the core's
/// [`parse_response`] (gloo-net does not treat 4xx/5xx as errors).
pub struct Fetch;

impl Transport for Fetch {
    async fn send(
        &self,
        provider: Provider,
        req: &HttpRequest,
        timeout_s: f64,
    ) -> Result<Completion, CallError> {
        let controller = web_sys::AbortController::new()
            .map_err(|_| CallError::Network("cannot create an AbortController".into()))?;
        let timed_out = Rc::new(Cell::new(false));
        let abort = {
            let (c, t) = (controller.clone(), timed_out.clone());
            Closure::once_into_js(move || {
                t.set(true);
                c.abort();
            })
        };
        let timer = set_timeout(abort.unchecked_ref(), timeout_s * 1000.0);
        let method = Method::from_bytes(req.method.as_bytes()).unwrap_or(Method::POST);
        let mut b = RequestBuilder::new(&req.url)
            .method(method)
            .abort_signal(Some(&controller.signal()));
        for (k, v) in &req.headers {
            b = b.header(k, v);
        }
        let net = |e: gloo_net::Error| {
            if timed_out.get() {
                CallError::Timeout
            } else {
                // The browser hides the cause (DNS, refused, CORS) from scripts.
                CallError::Network(format!(
                    "{e} (the server did not answer, or does not allow calls from this page: CORS)"
                ))
            }
        };
        let result = async {
            let resp = b
                .body(req.body.clone())
                .map_err(net)?
                .send()
                .await
                .map_err(net)?;
            let status = resp.status();
            let headers: Vec<(String, String)> = resp
                .headers()
                .entries()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            let too_large = |head: String| CallError::TooLarge {
                limit: MAX_REPLY_BYTES,
                head,
            };
            // A declared length over the cap: not read at all.
            let declared = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.trim().parse::<u64>().ok());
            if declared.is_some_and(|n| n > MAX_REPLY_BYTES as u64) {
                return Err(too_large(format!(
                    "(not read: content-length {})",
                    declared.unwrap_or_default()
                )));
            }
            let body = resp.text().await.map_err(net)?;
            if body.len() > MAX_REPLY_BYTES {
                return Err(too_large(reply_head(body.as_bytes(), 200)));
            }
            Ok::<_, CallError>((status, headers, body))
        }
        .await;
        clear_timeout(&timer);
        let (status, headers, body) = result?;
        parse_response(provider, status, &headers, &body)
    }
}

/// Pause and cancel, set by messages while a run is going.
#[derive(Default)]
pub struct Control {
    pub paused: Cell<bool>,
    pub cancelled: Cell<bool>,
    pub running: Cell<bool>,
}

/// Progress messages at most this often (seconds).
const PROGRESS_EVERY_S: f64 = 0.1;

struct Shared<'a> {
    run: RefCell<Run>,
    stats: RefCell<RunStats>,
    queue: RefCell<VecDeque<Job>>,
    caches: &'a Caches,
    requests: Option<RefCell<TokenBucket>>,
    tokens: Option<RefCell<TokenBucket>>,
    control: &'a Control,
    req: &'a LlmRequest,
    key: &'a str,
    last_progress: Cell<f64>,
    post: &'a dyn Fn(&FromWorker),
    /// Why the run stopped before asking everything (a refused key, no
    /// credit, a cache write that failed); the loops stop taking jobs.
    stopped: RefCell<Option<String>>,
}

/// The answer cache of a run: IndexedDB, and its contents in memory.
pub struct Caches {
    mem: RefCell<MemoryCache>,
    idb: IdbCache,
    /// An answer could not be saved.
    warned: Cell<bool>,
}

impl Caches {
    /// Opens IndexedDB and loads it.
    ///
    /// # Errors
    /// When IndexedDB is unavailable.
    pub async fn open() -> Result<Caches, String> {
        let idb = IdbCache::open().await?;
        let mem = idb.load().await.map(|(m, _)| m).unwrap_or_default();
        Ok(Caches {
            mem: RefCell::new(mem),
            idb,
            warned: Cell::new(false),
        })
    }
}

impl Shared<'_> {
    fn progress(&self, force: bool) {
        let now = now_s();
        if !force && now - self.last_progress.get() < PROGRESS_EVERY_S {
            return;
        }
        self.last_progress.set(now);
        let stats = self.stats.borrow().clone();
        let cost_usd = self
            .req
            .choice
            .price
            .map(|p| p.cost(stats.input_tokens as f64, stats.output_tokens as f64));
        (self.post)(&FromWorker::LlmProgress {
            stats,
            cost_usd,
            paused: self.control.paused.get(),
        });
    }

    async fn pace(&self, tokens: f64) {
        for (bucket, amount) in [(&self.requests, 1.0), (&self.tokens, tokens)] {
            if let Some(b) = bucket {
                loop {
                    let wait = b.borrow_mut().take(amount, now_s());
                    if wait <= 0.0 || self.control.cancelled.get() {
                        break;
                    }
                    sleep_s(wait.min(5.0)).await;
                }
            }
        }
    }

    fn halted(&self) -> bool {
        self.control.cancelled.get() || self.stopped.borrow().is_some()
    }

    fn halt(&self, why: String) {
        self.stopped.borrow_mut().get_or_insert(why);
    }

    /// Takes jobs from the queue until it is empty or the run is cancelled.
    async fn worker<T: Transport>(&self, transport: &T, seed: u64) {
        let mut rng = Rng::new(seed);
        let cfg = self.run.borrow().cfg.clone();
        let retry = self.req.choice.settings.retry;
        loop {
            if self.halted() {
                return;
            }
            let Some(mut job) = self.queue.borrow_mut().pop_front() else {
                return;
            };
            let step = loop {
                while self.control.paused.get() && !self.control.cancelled.get() {
                    sleep_s(0.2).await;
                }
                self.pace(job.token_cost(&cfg)).await;
                if self.halted() {
                    // Back in the queue: listed as not asked if the run stopped.
                    self.queue.borrow_mut().push_back(job.clone());
                    break None;
                }
                job.start_call(&mut self.stats.borrow_mut());
                self.progress(false);
                let request = build_request(&cfg, self.key, job.prompt());
                let result = transport
                    .send(cfg.provider, &request, retry.timeout_s)
                    .await;
                let step = {
                    let run = self.run.borrow();
                    job.on_result(
                        result,
                        &run.context(&retry),
                        rng.unit(),
                        &mut self.stats.borrow_mut(),
                    )
                };
                self.progress(false);
                match step {
                    Step::Call { after_s } => sleep_s(after_s).await,
                    done => break Some(done),
                }
            };
            let Some(step) = step else { return };
            if let Some(why) = job.fatal() {
                self.halt(format!("the run stopped: {why}"));
            }
            if let Step::Done(_, entry) = &step {
                self.caches.mem.borrow_mut().put((**entry).clone());
                // Committed before the answer is used; a failed write stops
                // the run (every later answer would be lost the same way).
                if let Err(e) = self.caches.idb.put(entry).await {
                    self.caches.warned.set(true);
                    self.halt(format!(
                        "the run stopped: the browser cache could not be written ({e})"
                    ));
                    self.stats.borrow_mut().not_stored.push(job.what.clone());
                }
            }
            self.run
                .borrow_mut()
                .settle(&job, step, &mut self.stats.borrow_mut());
            self.progress(false);
        }
    }
}

/// Answers one plan: every stage in turn, `concurrency` loops per stage,
/// until done or cancelled. Returns the run and its counts.
#[allow(clippy::too_many_arguments)]
pub async fn execute<T: Transport>(
    plan: Plan,
    ds: &Dataset,
    opts: ExtractOptions,
    req: &LlmRequest,
    key: &str,
    transport: &T,
    control: &Control,
    caches: &Caches,
    post: &dyn Fn(&FromWorker),
) -> (Run, RunStats) {
    let mut stats = RunStats::default();
    let run = Run::new(plan, opts, req.choice.model.clone(), &mut stats);
    let settings = &req.choice.settings;
    let shared = Shared {
        run: RefCell::new(run),
        stats: RefCell::new(stats),
        queue: RefCell::new(VecDeque::new()),
        caches,
        requests: settings
            .requests_per_minute
            .map(|r| RefCell::new(TokenBucket::per_minute(r, now_s()))),
        tokens: settings
            .tokens_per_minute
            .map(|r| RefCell::new(TokenBucket::per_minute(r, now_s()))),
        control,
        req,
        key,
        last_progress: Cell::new(0.0),
        post,
        stopped: RefCell::new(None),
    };
    loop {
        let jobs = {
            let mem = shared.caches.mem.borrow();
            let mut stats = shared.stats.borrow_mut();
            shared.run.borrow_mut().next_stage(ds, &*mem, &mut stats)
        };
        let Some(jobs) = jobs else { break };
        *shared.queue.borrow_mut() = jobs.into();
        shared.progress(true);
        let loops = (0..settings.concurrency.max(1)).map(|w| {
            shared.worker(
                transport,
                settings.seed ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            )
        });
        futures::future::join_all(loops).await;
        if let Some(why) = shared.stopped.borrow().clone() {
            // Listed, not silently dropped: what the stop left unasked.
            let left: Vec<Job> = shared.queue.borrow_mut().drain(..).collect();
            let mut run = shared.run.borrow_mut();
            for job in left {
                let f = job.failure(&format!("not asked: {why}"));
                run.settle(&job, Step::Failed(f), &mut shared.stats.borrow_mut());
            }
        }
        if shared.halted() {
            break;
        }
    }
    let mut stats = shared.stats.into_inner();
    stats.cancelled = control.cancelled.get();
    stats.stopped = shared.stopped.into_inner();
    post(&FromWorker::LlmProgress {
        stats: stats.clone(),
        cost_usd: req
            .choice
            .price
            .map(|p| p.cost(stats.input_tokens as f64, stats.output_tokens as f64)),
        paused: false,
    });
    (shared.run.into_inner(), stats)
}

fn extract_options(req: &LlmRequest, task: Task) -> ExtractOptions {
    ExtractOptions {
        logprobs: req.choice.model.logprobs && req.choice.model.provider.offers_logprobs(),
        summaries: task == Task::Summarization,
    }
}

/// Runs a model on the session's dataset (factor extraction, judge or
/// writer) and returns the final message: the report with the run in it, or
/// why the run could not start.
pub async fn run<T: Transport>(
    session: &RefCell<Session>,
    req: &LlmRequest,
    key: &str,
    transport: &T,
    control: &Control,
    post: &dyn Fn(&FromWorker),
) -> FromWorker {
    if let Err(problems) = req.choice.settings.validate() {
        return FromWorker::LlmFailed {
            message: problems.join("; "),
        };
    }
    let caches = match Caches::open().await {
        Ok(c) => c,
        Err(message) => return FromWorker::LlmFailed { message },
    };
    let exec = |plan: Plan, ds: Rc<Dataset>, opts: ExtractOptions| {
        let caches = &caches;
        async move { execute(plan, &ds, opts, req, key, transport, control, caches, post).await }
    };
    let mut msg = match req.run {
        ModelKind::Extract => {
            let job = match session.borrow().plan_llm(req) {
                Ok(j) => j,
                Err(message) => return FromWorker::LlmFailed { message },
            };
            let (run, stats) = exec(job.plan.clone(), job.dataset.clone(), job.opts).await;
            session.borrow_mut().finish_llm(job, req, run, &stats)
        }
        ModelKind::Judge { single_order } => {
            let data = match session
                .borrow()
                .run_dataset(req.choice.sample, req.score.bootstrap.seed)
            {
                Ok(x) => x,
                Err(message) => return FromWorker::LlmFailed { message },
            };
            let ds = data.dataset.clone();
            let task = resolve(&req.score, &ds).task;
            // The same plan and outcome as `profile judge`: both orders, or
            // one order per pair by a coin flip seeded with the report's seed.
            let order = runs::JudgeOrder::new(single_order, req.score.bootstrap.seed);
            let plan = runs::judge_plan(&ds, task, order);
            let (run, stats) = exec(plan, ds.clone(), extract_options(req, task)).await;
            let (answers, failures) = run.finish();
            let outcome = runs::judge_outcome(&ds, task, order, &answers);
            let record = RunInfo {
                model: &req.choice.model,
                stats: &stats,
                failures: &failures,
            }
            .record("judge");
            let mut s = session.borrow_mut();
            if !s.is_loaded(&data.loaded) {
                return replaced();
            }
            s.add_judge(ds, outcome, record);
            s.use_sample(data);
            finished(s.report(&req.score))
        }
        ModelKind::Writer { inputs } => {
            let data = match session
                .borrow()
                .run_dataset(req.choice.sample, req.score.bootstrap.seed)
            {
                Ok(x) => x,
                Err(message) => return FromWorker::LlmFailed { message },
            };
            let ds = data.dataset.clone();
            let cfg = resolve(&req.score, &ds);
            let opts = extract_options(req, cfg.task);
            let plan = runs::generate_plan(&ds, cfg.task, inputs);
            let planned = plan.first.len() as u64;
            let (run, stats) = exec(plan.clone(), ds.clone(), opts).await;
            let (answers, failures) = run.finish();
            let generated = runs::generated_dataset(&ds, &plan, &answers);
            let factors = cfg.requested();
            // The model-based factors of the generated responses: a second run.
            let values = if factors.iter().any(|f| f.needs_model())
                && !generated.dataset.pairs.is_empty()
                && !control.cancelled.get()
            {
                let generated = Rc::new(generated.dataset.clone());
                let plan2 = Plan::new(&generated, &factors, opts);
                let (run2, stats2) = exec(plan2.clone(), generated.clone(), opts).await;
                let (a2, f2) = run2.finish();
                let record = llm_run_record(
                    &generated,
                    &factors,
                    &plan2,
                    &req.choice.model,
                    opts,
                    &stats2,
                    &f2,
                    &a2,
                );
                Some(LlmValues {
                    answers: a2,
                    options: opts,
                    run: Some(record),
                    imported: Default::default(),
                })
            } else {
                None
            };
            let record = RunInfo {
                model: &req.choice.model,
                stats: &stats,
                failures: &failures,
            }
            .record("writer");
            let mut s = session.borrow_mut();
            if !s.is_loaded(&data.loaded) {
                return replaced();
            }
            s.add_writer(ds, generated, values, planned, record);
            s.use_sample(data);
            finished(s.report(&req.score))
        }
    };
    if let FromWorker::LlmFinished { warning, .. } = &mut msg {
        if caches.warned.get() {
            *warning = Some(
                "some answers could not be saved in the browser cache (storage full or \
blocked), so the run stopped: a reload will ask for them again"
                    .into(),
            );
        }
    }
    msg
}

fn replaced() -> FromWorker {
    FromWorker::LlmFailed {
        message: "another dataset was loaded during the run; the answers it got are cached \
and a new run will reuse them"
            .into(),
    }
}

fn finished(report: Option<crate::report::Report>) -> FromWorker {
    match report {
        Some(report) => FromWorker::LlmFinished {
            report,
            warning: None,
        },
        None => FromWorker::LlmFailed {
            message: "no dataset is loaded".into(),
        },
    }
}

/// The estimate for a run, the browser cache included. For a writer only
/// the writing is estimated (the generated texts' factors are not known yet).
pub async fn estimate(session: &RefCell<Session>, req: &LlmRequest) -> FromWorker {
    let mem = match IdbCache::open().await {
        Ok(db) => db.load().await.map(|(m, _)| m).unwrap_or_default(),
        Err(_) => MemoryCache::new(),
    };
    let s = session.borrow();
    match req.run {
        ModelKind::Extract => match s.plan_llm(req) {
            Ok(job) => Session::estimate_message(&job, req, &mem),
            Err(message) => FromWorker::LlmFailed { message },
        },
        kind => {
            let ds = match s.run_dataset(req.choice.sample, req.score.bootstrap.seed) {
                Ok(x) => x.dataset,
                Err(message) => return FromWorker::LlmFailed { message },
            };
            let task = resolve(&req.score, &ds).task;
            let plan = match kind {
                ModelKind::Judge { single_order } => runs::judge_plan(
                    &ds,
                    task,
                    runs::JudgeOrder::new(single_order, req.score.bootstrap.seed),
                ),
                ModelKind::Writer { inputs } => runs::generate_plan(&ds, task, inputs),
                ModelKind::Extract => unreachable!(),
            };
            let estimate = crate::llm::engine::estimate(
                &plan,
                &ds,
                extract_options(req, task),
                &req.choice.model,
                &mem,
                req.choice.price,
            );
            FromWorker::LlmEstimate {
                estimate,
                questions: plan.len() as u64,
                pairs: ds.pairs.len() as u64,
                unique_responses: 0,
                unique_sources: 0,
            }
        }
    }
}

/// The whole cache as JSONL (for sharing).
pub async fn export_cache() -> FromWorker {
    match IdbCache::open().await {
        Ok(db) => match db.load().await {
            Ok((mem, _)) => FromWorker::CacheExported {
                entries: mem.len() as u64,
                jsonl: mem.to_jsonl(),
            },
            Err(message) => FromWorker::LlmFailed { message },
        },
        Err(message) => FromWorker::LlmFailed { message },
    }
}

/// Merges a shared export into the cache.
pub async fn import_cache(text: &str) -> FromWorker {
    let mut incoming = MemoryCache::new();
    let (_, problems) = incoming.import_jsonl(text);
    let db = match IdbCache::open().await {
        Ok(db) => db,
        Err(message) => return FromWorker::LlmFailed { message },
    };
    let existing = db.load().await.map(|(m, _)| m).unwrap_or_default();
    let new: Vec<_> = incoming
        .entries()
        .filter(|e| existing.get(&e.key).is_none())
        .cloned()
        .collect();
    match db.put_all(&new).await {
        Ok(()) => FromWorker::Imported {
            what: "cache".into(),
            added: new.len() as u64,
            problems,
            report: None,
        },
        Err(message) => FromWorker::LlmFailed { message },
    }
}
