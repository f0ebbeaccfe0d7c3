//! The async driver of the [`engine`](super::engine): answers a plan with a
//! number of async loops taking jobs from one queue, through a [`Transport`]
//! (send a request), a [`Clock`] (sleep, tell the time) and a [`Store`] (the answer cache,
//! committed before an answer is used). Target-independent: the worker
//! drives it with `fetch` and `setTimeout`, native tests with a blocking
//! client. Pacing and worker seeds are [`schedule`](super::schedule)'s, the
//! same as the CLI's threads.
//!
//! Pause stops loops from starting calls; cancel stops them for good. Calls
//! in flight always finish, and their answers are stored: they are paid for.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use super::cache::{CacheEntry, MemoryCache};
use super::engine::{Admit, Job, Run, RunSettings, RunStats, Step, CAP_REACHED};
use super::extract::{ExtractOptions, Plan};
use super::provider::{build_request, CallError, Completion, HttpRequest, ModelConfig, Provider};
use super::schedule::{worker_seed, Pacer};
use crate::data::Dataset;
use crate::stats::Rng;

/// Sends a provider request and reads the reply: the edge's HTTP client.
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

/// Sleeps and tells the time: the edge's timer.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Resolves after `s` seconds.
    async fn sleep_s(&self, s: f64);
    /// Seconds since some fixed moment.
    fn now_s(&self) -> f64;
}

/// Where answers are kept: in memory for lookups, and somewhere durable.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// The answers known so far.
    fn memory(&self) -> &RefCell<MemoryCache>;
    /// Commits one entry (already in [`Store::memory`]).
    ///
    /// # Errors
    /// Why it could not be stored; the run stops.
    async fn commit(&self, entry: &CacheEntry) -> Result<(), String>;
}

/// Answers in memory only (tests, and runs that keep nothing).
#[derive(Default)]
pub struct MemoryStore(pub RefCell<MemoryCache>);

impl Store for MemoryStore {
    fn memory(&self) -> &RefCell<MemoryCache> {
        &self.0
    }
    async fn commit(&self, _: &CacheEntry) -> Result<(), String> {
        Ok(())
    }
}

/// Pause and cancel, set by messages while a run is going.
#[derive(Default)]
pub struct Control {
    pub paused: Cell<bool>,
    pub cancelled: Cell<bool>,
    pub running: Cell<bool>,
}

/// Progress reports: the counts, and whether the run is paused.
pub type Progress<'a> = &'a dyn Fn(&RunStats, bool);

/// Progress at most this often (seconds).
const PROGRESS_EVERY_S: f64 = 0.1;

/// What one run of [`execute`] works with.
pub struct Driver<'a, T, C, S> {
    pub model: &'a ModelConfig,
    pub settings: &'a RunSettings,
    pub key: &'a str,
    pub transport: &'a T,
    pub clock: &'a C,
    pub store: &'a S,
    pub control: &'a Control,
    pub progress: Progress<'a>,
}

struct Shared<'a, 'd, T, C, S> {
    d: &'d Driver<'a, T, C, S>,
    run: RefCell<Run>,
    stats: RefCell<RunStats>,
    queue: RefCell<VecDeque<Job>>,
    pacer: RefCell<Pacer>,
    last_progress: Cell<f64>,
    /// Why the run stopped before asking everything (a refused key, no
    /// credit, a store that failed); the loops stop taking jobs.
    stopped: RefCell<Option<String>>,
}

impl<T: Transport, C: Clock, S: Store> Shared<'_, '_, T, C, S> {
    fn progress(&self, force: bool) {
        let now = self.d.clock.now_s();
        if !force && now - self.last_progress.get() < PROGRESS_EVERY_S {
            return;
        }
        self.last_progress.set(now);
        (self.d.progress)(&self.stats.borrow(), self.d.control.paused.get());
    }

    async fn pace(&self, tokens: f64) {
        loop {
            let wait = self.pacer.borrow_mut().take(tokens, self.d.clock.now_s());
            if wait <= 0.0 || self.d.control.cancelled.get() {
                break;
            }
            self.d.clock.sleep_s(wait).await;
        }
    }

    fn halted(&self) -> bool {
        self.d.control.cancelled.get() || self.stopped.borrow().is_some()
    }

    fn halt(&self, why: String) {
        self.stopped.borrow_mut().get_or_insert(why);
    }

    /// Takes jobs from the queue until it is empty or the run is cancelled.
    async fn worker(&self, seed: u64) {
        let mut rng = Rng::new(seed);
        let cfg = self.run.borrow().cfg.clone();
        let retry = self.d.settings.retry;
        let control = self.d.control;
        loop {
            if self.halted() {
                return;
            }
            let Some(mut job) = self.queue.borrow_mut().pop_front() else {
                return;
            };
            let step = loop {
                while control.paused.get() && !control.cancelled.get() {
                    self.d.clock.sleep_s(0.2).await;
                }
                self.pace(job.token_cost(&cfg)).await;
                let admit = loop {
                    if self.halted() {
                        break Admit::Wait;
                    }
                    let cap = self.d.settings.cap.as_ref();
                    // The borrow ends here, before any await.
                    let a = job.admit(cap, &cfg, &mut self.stats.borrow_mut());
                    match a {
                        // Calls in flight hold reservations: wait for one.
                        Admit::Wait => self.d.clock.sleep_s(0.02).await,
                        a => break a,
                    }
                };
                if admit == Admit::Stop {
                    self.halt(CAP_REACHED.to_owned());
                }
                if admit != Admit::Go {
                    // Back in the queue: listed as not asked if the run stopped.
                    self.queue.borrow_mut().push_back(job.clone());
                    break None;
                }
                self.progress(false);
                let request = build_request(&cfg, self.d.key, job.prompt());
                let result = self
                    .d
                    .transport
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
                    Step::Call { after_s } => self.d.clock.sleep_s(after_s).await,
                    done => break Some(done),
                }
            };
            let Some(step) = step else { return };
            if let Some(why) = job.fatal() {
                self.halt(format!("the run stopped: {why}"));
            }
            if let Step::Done(_, entry) = &step {
                self.d.store.memory().borrow_mut().put((**entry).clone());
                // Committed before the answer is used; a failed write stops
                // the run (every later answer would be lost the same way).
                if let Err(e) = self.d.store.commit(entry).await {
                    self.halt(format!("the run stopped: {e}"));
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
/// until done, stopped or cancelled. Returns the run and its counts.
pub async fn execute<T: Transport, C: Clock, S: Store>(
    d: &Driver<'_, T, C, S>,
    plan: Plan,
    ds: &Dataset,
    opts: ExtractOptions,
) -> (Run, RunStats) {
    let mut stats = RunStats::default();
    let run = Run::new(plan, opts, d.model.clone(), &mut stats);
    let settings = d.settings;
    let shared = Shared {
        d,
        run: RefCell::new(run),
        stats: RefCell::new(stats),
        queue: RefCell::new(VecDeque::new()),
        pacer: RefCell::new(Pacer::new(
            settings.requests_per_minute,
            settings.tokens_per_minute,
            d.clock.now_s(),
        )),
        last_progress: Cell::new(0.0),
        stopped: RefCell::new(None),
    };
    loop {
        let jobs = {
            let mem = d.store.memory().borrow();
            let mut stats = shared.stats.borrow_mut();
            shared.run.borrow_mut().next_stage(ds, &*mem, &mut stats)
        };
        let Some(jobs) = jobs else { break };
        // Answers found under legacy keys, stored under their version-2
        // keys. Best effort: the legacy entries still answer if this fails.
        let migrated = shared.run.borrow_mut().take_migrated();
        for e in migrated {
            d.store.memory().borrow_mut().put(e.clone());
            let _ = d.store.commit(&e).await;
        }
        *shared.queue.borrow_mut() = jobs.into();
        shared.progress(true);
        let loops =
            (0..settings.concurrency.max(1)).map(|w| shared.worker(worker_seed(settings.seed, w)));
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
    stats.cancelled = d.control.cancelled.get();
    stats.stopped = shared.stopped.into_inner();
    (d.progress)(&stats, false);
    (shared.run.into_inner(), stats)
}
