//! The logic of an extraction run without any I/O, shared by the CLI's
//! threaded driver ([`super::threads`]) and the async driver ([`super::drive`],
//! the worker's).
//!
//! A run goes through the plan's stages in order. [`Run::next_stage`] turns a
//! stage's questions into [`Job`]s: questions answered by the cache are
//! settled at once, fact checks with nothing to check need no call, and
//! questions whose cache key is the same as an earlier one's (the same
//! prompt) share its job. Keys are version-2 keys ([`Keys`]): no prompt is
//! rendered to key or look up a question; a cache that holds legacy
//! entries is also asked under the legacy key, and what it answers is
//! handed back re-keyed ([`Run::take_migrated`]) for the driver to store.
//! A job renders its prompt when it is first needed. A
//! driver then takes each job through its calls: it sends [`Job::prompt`],
//! hands the outcome to [`Job::on_result`] and does what the returned
//! [`Step`] says (call again after a delay, or settle the job with
//! [`Run::settle`]). Retries with backoff, the single repair request and the
//! failure records live here, so both drivers behave the same.

use std::sync::{Arc, OnceLock};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::ask::{key_fields, key_texts, parse_reply, prompt, template, PromptKind};
use super::cache::{cache_key, CacheEntry, Digest, KeyHasher, MemoryCache, TextDigests};
use super::extract::ExtractOptions;
use super::prompts;
use super::provider::{estimate_prompt_tokens, CallError, Completion, ModelConfig};
use super::question::{
    Answer, Answers, FactorQuestion, GenerateQuestion, ImproveQuestion, ImproveStep, JudgeQuestion,
    Plan, Question,
};
use super::schedule::RetryPolicy;
use super::Prompt;
use crate::data::{Dataset, TextId};

/// Pacing and robustness settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub concurrency: usize,
    pub requests_per_minute: Option<f64>,
    pub tokens_per_minute: Option<f64>,
    pub retry: RetryPolicy,
    /// Seed of the retry jitter.
    pub seed: u64,
    /// The most this run may spend (`--max-cost`, the app's cost cap);
    /// `None`: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<CostCap>,
}

/// A hard spending cap: the run never starts a call whose worst case
/// would take what is spent plus what is reserved by the calls in flight
/// past `max_usd`.
///
/// The rule ([`Job::admit`]): before a call, its worst-case cost is
/// reserved — every byte of the request as a token (a token covers at
/// least one byte) plus [`CALL_OVERHEAD_TOKENS`], and `max_tokens` of
/// output, at `price`. When the reply comes, the reservation is replaced
/// by what the call cost (its reported usage; the whole reservation when
/// the usage is unknown: no usage in the reply, a timeout or a broken
/// connection after sending, a refusal; nothing for a request the server
/// refused with an HTTP error). A call that does not fit waits while other
/// calls are in flight (their replies usually cost less than reserved) and
/// stops the run when none is: nothing more is sent, the calls in flight
/// finish and are stored.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostCap {
    /// US dollars this run may still spend.
    pub max_usd: f64,
    pub price: super::pricing::Price,
}

/// Tokens a request may cost beyond its text: the chat template's tokens,
/// and the system prompt a provider adds for forced tool use (Anthropic's
/// is a few hundred tokens).
pub const CALL_OVERHEAD_TOKENS: u64 = 1024;

impl CostCap {
    /// What is left of the cap after `spent_usd` (earlier stages of the same
    /// command).
    pub fn after(self, spent_usd: f64) -> CostCap {
        CostCap {
            max_usd: (self.max_usd - spent_usd).max(0.0),
            ..self
        }
    }

    /// The most a call of `prompt` can cost under `cfg`'s `max_tokens`.
    pub fn worst_case(&self, prompt: &Prompt, cfg: &ModelConfig) -> f64 {
        let schema = prompt.schema.as_ref().map_or(0, |s| s.to_string().len());
        let input =
            (prompt.system.len() + prompt.user.len() + schema) as u64 + CALL_OVERHEAD_TOKENS;
        self.price
            .cost(input as f64, f64::from(cfg.decoding.max_tokens))
    }
}

/// Why a run stopped at its cap ([`RunStats::stopped`], and the reason of
/// the questions it left unasked).
pub const CAP_REACHED: &str = "stopped at the cost cap";

/// How far a run that stopped at its cap got, for a person: `stopped at
/// the cost cap $X: N of M questions answered, $Y spent; …`. `raise` says
/// how to give a higher cap (`--max-cost`, the app's field).
pub fn cap_message(
    what: &str,
    cap_usd: f64,
    spent_usd: f64,
    stats: &RunStats,
    raise: &str,
) -> String {
    format!(
        "{what}: stopped at the cost cap ${cap_usd:.2}: {} of {} questions answered, \
         ${spent_usd:.2} spent; re-run with a higher {raise} to continue; cached answers are \
         not paid again",
        stats.settled().saturating_sub(stats.failed),
        stats.questions,
    )
}

/// What [`Job::admit`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// The call is counted (and reserved, under a cap): send it.
    Go,
    /// The call does not fit beside the calls in flight: wait for one of
    /// them and ask again.
    Wait,
    /// The call does not fit even with nothing in flight: the run stops at
    /// the cap ([`RunStats::cap_reached`]).
    Stop,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            concurrency: 4,
            requests_per_minute: None,
            tokens_per_minute: None,
            retry: RetryPolicy::default(),
            seed: 1,
            cap: None,
        }
    }
}

/// A question that could not be answered, with why and the raw reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedItem {
    /// What was asked, named for a person: the question, the pair's line
    /// and the text's first words, e.g. `facts of response A (line 3):
    /// “The council approved …”`.
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
    /// Why the run stopped before asking everything (a refused key, an
    /// account out of credit, a cache that cannot be written), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Answers received but not stored because the cache could not be
    /// written (they were paid for; a re-run asks them again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_stored: Vec<String>,
    /// Seconds waited before retries (backoff and `Retry-After`), summed
    /// over the calls.
    #[serde(default)]
    pub waited_s: f64,
    /// Under a cost cap: US dollars this run's calls cost (see [`CostCap`]).
    #[serde(default)]
    pub spent_usd: f64,
    /// The run stopped because its next call could have crossed the cost cap.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cap_reached: bool,
    /// Under a cost cap: reserved by the calls in flight, and their number.
    #[serde(skip)]
    pub reserved_usd: f64,
    #[serde(skip)]
    pub in_flight: u32,
    /// `name@version` of every template asked (or found in the cache).
    pub templates: std::collections::BTreeSet<String>,
}

impl RunStats {
    /// Questions settled so far (answered, from the cache, skipped or failed).
    pub fn settled(&self) -> u64 {
        self.succeeded + self.cache_hits + self.skipped_empty + self.failed
    }

    /// Questions not settled yet.
    pub fn remaining(&self) -> u64 {
        self.questions.saturating_sub(self.settled())
    }
}

/// The legacy (version 1) cache key of a question asked with `prompt` of
/// model `cfg` (see [`super::cache`]): every text hashed for every
/// question. Caches written before version 2 hold these keys.
pub fn question_key(
    cfg: &ModelConfig,
    q: &Question,
    p: &Prompt,
    ds: &Dataset,
    answers: &Answers,
) -> String {
    legacy_key(cfg, q, &p.template_id(), p.want_logprobs, ds, answers)
}

/// [`question_key`] from the prompt's kind, without rendering the prompt.
pub fn legacy_question_key(
    cfg: &ModelConfig,
    q: &Question,
    kind: PromptKind,
    ds: &Dataset,
    answers: &Answers,
) -> String {
    legacy_key(cfg, q, &kind.template.id(), kind.want_logprobs, ds, answers)
}

fn legacy_key(
    cfg: &ModelConfig,
    q: &Question,
    template_id: &str,
    want_logprobs: bool,
    ds: &Dataset,
    answers: &Answers,
) -> String {
    let texts = key_texts(q, ds, answers);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let model = format!(
        "{}|{}|{:?}|lp={}",
        cfg.model,
        cfg.effective_base_url(),
        cfg.structured_output,
        cfg.requests_logprobs_for(want_logprobs)
    );
    cache_key(cfg.provider.id(), &model, template_id, &cfg.decoding, &refs)
}

/// Version-2 cache keys of one model configuration: the configuration is
/// hashed once, each text once ([`TextDigests`]); a key then hashes the
/// template, the log-probability flag and what the question asks
/// ([`super::ask::key_fields`]), with no prompt rendered.
#[derive(Clone, Debug)]
pub struct Keys {
    config: Digest,
    cfg: ModelConfig,
    digests: TextDigests,
}

impl Keys {
    pub fn new(cfg: &ModelConfig) -> Keys {
        let d = cfg.decoding;
        let config = KeyHasher::new()
            .str("profile cache key 2")
            .str(cfg.provider.id())
            .str(&cfg.model)
            .str(cfg.effective_base_url())
            .str(&format!("{:?}", cfg.structured_output))
            .u64(d.temperature.to_bits())
            .u64(d.top_p.to_bits())
            .u64(u64::from(d.max_tokens))
            .finish();
        Keys {
            config,
            cfg: cfg.clone(),
            digests: TextDigests::new(),
        }
    }

    /// The version-2 key of `q`, whose prompt is of `kind`.
    pub fn key(
        &mut self,
        q: &Question,
        kind: PromptKind,
        ds: &Dataset,
        answers: &Answers,
    ) -> String {
        let mut h = KeyHasher::new();
        h.digest(self.config)
            .str(kind.template.name)
            .u64(u64::from(kind.template.version))
            .u64(u64::from(
                self.cfg.requests_logprobs_for(kind.want_logprobs),
            ));
        key_fields(q, ds, answers, &mut self.digests, &mut h);
        h.key()
    }

    /// Bytes of text digested so far (each unique text once).
    pub fn hashed_bytes(&self) -> u64 {
        self.digests.hashed_bytes()
    }

    /// The legacy key of `q` ([`question_key`]).
    pub fn legacy(
        &self,
        q: &Question,
        kind: PromptKind,
        ds: &Dataset,
        answers: &Answers,
    ) -> String {
        legacy_question_key(&self.cfg, q, kind, ds, answers)
    }

    /// The answer to `q` in `cache`: under its version-2 key `key`, else,
    /// when the cache holds legacy entries, under its legacy key. Returns
    /// the answer and, for a legacy hit whose entry the cache can give, the
    /// entry re-keyed under `key` (to store, so that the next run finds it
    /// under its version-2 key).
    pub fn lookup(
        &self,
        cache: &dyn AnswerCache,
        key: &str,
        q: &Question,
        kind: PromptKind,
        ds: &Dataset,
        answers: &Answers,
    ) -> Option<(Answer, Option<CacheEntry>)> {
        if let Some(a) = cache.answer(key) {
            return Some((a, None));
        }
        if !cache.has_legacy() {
            return None;
        }
        let legacy = self.legacy(q, kind, ds, answers);
        let a = cache.answer(&legacy)?;
        let moved = cache.entry(&legacy).map(|mut e| {
            e.key = key.to_owned();
            e
        });
        Some((a, moved))
    }
}

/// Where each text first appears: the pair's line and the text's role.
pub type Places = FxHashMap<TextId, (u64, &'static str)>;

/// The first line and role of every text of `ds`.
pub fn places(ds: &Dataset) -> Places {
    let mut m = Places::default();
    for p in &ds.pairs {
        for (t, role) in [
            (Some(p.a), "response A"),
            (Some(p.b), "response B"),
            (p.source, "source"),
            (p.input, "input"),
        ] {
            if let Some(t) = t {
                m.entry(t).or_insert((p.line, role));
            }
        }
    }
    m
}

/// The first `n` words of `text`, control characters dropped, `…` when cut.
pub fn first_words(text: &str, n: usize) -> String {
    let mut words = text.split_whitespace();
    let mut out: Vec<String> = words
        .by_ref()
        .take(n)
        .map(|w| w.chars().filter(|c| !c.is_control()).collect())
        .collect();
    if words.next().is_some() {
        out.push("…".into());
    }
    out.join(" ")
}

/// A question named for a person: what is asked, of which text, where the
/// text first appears (line of the pair) and its first words.
pub fn describe(q: &Question, ds: &Dataset, places: &Places) -> String {
    let text = |t: TextId| {
        let (line, role) = places.get(&t).copied().unwrap_or((0, "text"));
        format!("{role} (line {line}): “{}”", first_words(ds.text(t), 8))
    };
    match *q {
        Question::Factor(FactorQuestion::Facts(t)) => format!("facts of {}", text(t)),
        Question::Factor(FactorQuestion::Judgements { response, .. }) => {
            format!("judgements of {}", text(response))
        }
        Question::Factor(FactorQuestion::FluencyCoherence { response, .. }) => {
            format!("fluency/coherence of {}", text(response))
        }
        Question::Factor(FactorQuestion::Checks { text: t, .. }) => {
            format!("fact checks of {}", text(t))
        }
        Question::Factor(FactorQuestion::SourceCoverage { source, response }) => format!(
            "coverage of the source “{}” by {}",
            first_words(ds.text(source), 4),
            text(response)
        ),
        Question::Factor(FactorQuestion::Custom {
            factor, response, ..
        }) => format!(
            "custom factor `{}` of {}",
            crate::factors::pack::id(factor),
            text(response)
        ),
        Question::Judge(JudgeQuestion { first, second, .. }) => {
            format!("verdict on {} vs {}", text(first), text(second))
        }
        Question::Generate(GenerateQuestion { input, source, .. }) => match input.or(source) {
            Some(t) => format!("responses for {}", text(t)),
            None => "responses for an empty input".into(),
        },
        Question::Improve(ImproveQuestion {
            input,
            source,
            step,
            ..
        }) => {
            let what = match step {
                ImproveStep::Draft => "two first responses",
                ImproveStep::Revise { .. } => "an improved response",
            };
            match input.or(source) {
                Some(t) => format!("{what} for {}", text(t)),
                None => format!("{what} for an empty input"),
            }
        }
    }
}

/// Names questions for people, finding where the texts are the first time
/// a question is named (a run answered by the cache names none).
struct Names<'a> {
    places: &'a mut Option<Places>,
    ds: &'a Dataset,
}

impl Names<'_> {
    fn describe(&mut self, q: &Question) -> String {
        let ds = self.ds;
        describe(q, ds, self.places.get_or_insert_with(|| places(ds)))
    }
}

/// Answers already paid for, by cache key.
pub trait AnswerCache {
    /// The parsed answer stored under `key`, if any.
    fn answer(&self, key: &str) -> Option<Answer>;
    /// Whether some entry is under a legacy key
    /// ([`super::cache::is_legacy_key`]): only then is a question that
    /// misses its version-2 key looked up under its legacy key.
    fn has_legacy(&self) -> bool {
        false
    }
    /// The entry stored under `key`, if the cache can give it (to re-store
    /// a legacy entry under its version-2 key).
    fn entry(&self, _key: &str) -> Option<CacheEntry> {
        None
    }
}

impl AnswerCache for MemoryCache {
    fn answer(&self, key: &str) -> Option<Answer> {
        self.get(key).and_then(|e| Answer::from_value(&e.value))
    }
    fn has_legacy(&self) -> bool {
        MemoryCache::has_legacy(self)
    }
    fn entry(&self, key: &str) -> Option<CacheEntry> {
        self.get(key).cloned()
    }
}

/// What a job's prompt is rendered from, shared by the jobs of a stage.
struct PromptSource {
    ds: Arc<Dataset>,
    /// The answers known when the stage was prepared (the facts its fact
    /// checks quote).
    answers: Arc<Answers>,
    opts: ExtractOptions,
}

/// One question on its way through calls, retries and a possible repair.
/// Its prompt is rendered when it is first needed ([`Job::prompt`]: when
/// the job is sent), not when the stage is prepared.
#[derive(Clone)]
pub struct Job {
    pub question: Question,
    /// The question named for a person (see [`FailedItem::question`]).
    pub what: String,
    pub key: String,
    kind: PromptKind,
    source: Arc<PromptSource>,
    original: OnceLock<Prompt>,
    /// The repair request, once the first reply failed to parse.
    repair: Option<Prompt>,
    attempts: u32,
    /// Set once the first reply failed to parse: that reply and why.
    repairing: Option<(String, String)>,
    /// Why every further call of the run would fail too (a refused key, no
    /// credit), once an answer said so.
    fatal: Option<String>,
    /// Under a cost cap: the price and the reservation of the call in flight.
    reserved: Option<(super::pricing::Price, f64)>,
}

/// What a driver does after a call.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Send [`Job::prompt`] (again, or the repair request) after a delay.
    Call { after_s: f64 },
    /// The question is answered; store the entry in the cache before using it.
    Done(Answer, Box<CacheEntry>),
    /// The question could not be answered.
    Failed(FailedItem),
}

/// What [`Job::on_result`] needs from the run.
pub struct Context<'a> {
    pub answers: &'a Answers,
    pub opts: ExtractOptions,
    pub cfg: &'a ModelConfig,
    pub retry: &'a RetryPolicy,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("question", &self.question)
            .field("what", &self.what)
            .field("key", &self.key)
            .field("template", &self.kind.template.id())
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Job {
    fn new(
        question: Question,
        what: String,
        kind: PromptKind,
        source: Arc<PromptSource>,
        key: String,
    ) -> Job {
        Job {
            question,
            what,
            key,
            kind,
            source,
            original: OnceLock::new(),
            repair: None,
            attempts: 0,
            repairing: None,
            fatal: None,
            reserved: None,
        }
    }

    /// Why the run must stop, when this job's last answer showed that every
    /// further call would fail the same way (HTTP 401/403, no credit).
    pub fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }

    /// The request to send next.
    pub fn prompt(&self) -> &Prompt {
        self.repair.as_ref().unwrap_or_else(|| self.original())
    }

    /// `name@version` of the job's template (known without rendering).
    pub fn template_id(&self) -> String {
        self.kind.template.id()
    }

    /// The question's own prompt, rendered the first time it is needed.
    fn original(&self) -> &Prompt {
        self.original.get_or_init(|| {
            let s = &self.source;
            let p = prompt(&self.question, &s.ds, &s.answers, s.opts)
                .expect("a job's question has a prompt");
            debug_assert_eq!(p.template_id(), self.kind.template.id());
            debug_assert_eq!(p.want_logprobs, self.kind.want_logprobs);
            p
        })
    }

    /// Tokens to reserve from a tokens-per-minute budget before sending.
    pub fn token_cost(&self, cfg: &ModelConfig) -> f64 {
        (estimate_prompt_tokens(self.prompt()) + u64::from(cfg.decoding.max_tokens) / 4) as f64
    }

    /// Counts a call about to be sent (no cost cap).
    pub fn start_call(&mut self, stats: &mut RunStats) {
        self.attempts += 1;
        stats.calls += 1;
    }

    /// Decides whether the next call may be sent under `cap` (see
    /// [`CostCap`]) and, if so, counts it and reserves its worst case. The
    /// one rule of both drivers.
    pub fn admit(
        &mut self,
        cap: Option<&CostCap>,
        cfg: &ModelConfig,
        stats: &mut RunStats,
    ) -> Admit {
        let Some(cap) = cap else {
            self.start_call(stats);
            return Admit::Go;
        };
        let worst = cap.worst_case(self.prompt(), cfg);
        if stats.spent_usd + stats.reserved_usd + worst <= cap.max_usd {
            stats.reserved_usd += worst;
            stats.in_flight += 1;
            self.reserved = Some((cap.price, worst));
            self.start_call(stats);
            Admit::Go
        } else if stats.in_flight > 0 {
            Admit::Wait
        } else {
            stats.cap_reached = true;
            Admit::Stop
        }
    }

    /// Replaces the reservation of the call just answered by its cost.
    fn charge(&mut self, result: &Result<Completion, CallError>, stats: &mut RunStats) {
        let Some((price, reserved)) = self.reserved.take() else {
            return;
        };
        stats.in_flight = stats.in_flight.saturating_sub(1);
        stats.reserved_usd = if stats.in_flight == 0 {
            0.0
        } else {
            (stats.reserved_usd - reserved).max(0.0)
        };
        let billed = |u: &super::provider::Usage| {
            if u.input_tokens + u.output_tokens > 0 {
                price.cost(u.input_tokens as f64, u.output_tokens as f64)
            } else {
                reserved
            }
        };
        stats.spent_usd += match result {
            Ok(c) => billed(&c.usage),
            Err(CallError::Truncated { usage, .. }) => billed(usage),
            // Refused by the server before any work: not billed.
            Err(
                CallError::RateLimited { .. }
                | CallError::Server { .. }
                | CallError::Auth { .. }
                | CallError::Quota { .. }
                | CallError::BadRequest { .. },
            ) => 0.0,
            // Possibly answered and billed, usage unknown: the worst case.
            Err(_) => reserved,
        };
    }

    /// The job as failed because the run stopped before it was answered.
    pub fn failure(&self, reason: &str) -> FailedItem {
        self.fail(reason.to_owned(), None)
    }

    fn fail(&self, reason: String, raw_reply: Option<String>) -> FailedItem {
        FailedItem {
            question: self.what.clone(),
            template: self.kind.template.id(),
            reason,
            raw_reply,
            attempts: self.attempts,
        }
    }

    /// Decides what follows a call. `jitter` is uniform in [0, 1).
    pub fn on_result(
        &mut self,
        result: Result<Completion, CallError>,
        cx: &Context<'_>,
        jitter: f64,
        stats: &mut RunStats,
    ) -> Step {
        self.charge(&result, stats);
        let c = match result {
            Ok(c) => c,
            Err(e) if e.retryable() && cx.retry.may_retry(self.attempts) => {
                let after_s = cx.retry.delay_s(self.attempts, e.retry_after_s(), jitter);
                if let Some(why) = cx.retry.refuse_wait(after_s) {
                    return Step::Failed(self.fail(format!("{e}; {why}"), None));
                }
                stats.retries += 1;
                stats.waited_s += after_s;
                return Step::Call { after_s };
            }
            Err(CallError::TooLarge { limit, head }) => {
                let e = CallError::TooLarge {
                    limit,
                    head: String::new(),
                };
                return Step::Failed(self.fail(e.to_string(), Some(head)));
            }
            Err(e) => {
                if e.stops_run() {
                    self.fatal = Some(e.to_string());
                }
                return Step::Failed(match self.repairing.take() {
                    Some((raw, problem)) => self.fail(
                        format!("reply did not parse ({problem}); the repair call failed ({e})"),
                        Some(raw),
                    ),
                    None => self.fail(e.to_string(), None),
                });
            }
        };
        stats.input_tokens += c.usage.input_tokens;
        stats.output_tokens += c.usage.output_tokens;
        match parse_reply(&self.question, &c, cx.answers, cx.opts) {
            Ok(answer) => match serde_json::to_value(&answer) {
                Ok(value) => {
                    let entry = CacheEntry {
                        key: self.key.clone(),
                        template: self.kind.template.id(),
                        provider: cx.cfg.provider.id().to_owned(),
                        model: cx.cfg.model.clone(),
                        decoding: cx.cfg.decoding,
                        reply: c.text,
                        value,
                        input_tokens: c.usage.input_tokens,
                        output_tokens: c.usage.output_tokens,
                    };
                    Step::Done(answer, Box::new(entry))
                }
                Err(e) => Step::Failed(
                    self.fail(format!("the answer cannot be stored ({e})"), Some(c.text)),
                ),
            },
            Err(e2) => match self.repairing.take() {
                Some((raw, problem)) => Step::Failed(self.fail(
                    format!("reply did not parse ({problem}); the repair did not either ({e2})"),
                    Some(raw),
                )),
                None => {
                    stats.repairs += 1;
                    let problem = e2.to_string();
                    self.repair = Some(prompts::repair(self.original(), &c.text, &problem));
                    self.repairing = Some((c.text, problem));
                    Step::Call { after_s: 0.0 }
                }
            },
        }
    }
}

/// A run's progress through a plan.
pub struct Run {
    plan: Plan,
    pub opts: ExtractOptions,
    pub cfg: ModelConfig,
    pub answers: Answers,
    pub failures: Vec<FailedItem>,
    /// Questions sharing a job's call, by cache key, with their names.
    twins: FxHashMap<String, Vec<(Question, String)>>,
    /// Where the texts are, for naming questions (built when a question
    /// is first named).
    places: Option<Places>,
    stage: usize,
    keys: Keys,
    /// Legacy entries found for this run's questions, re-keyed under their
    /// version-2 keys, for the driver to store ([`Run::take_migrated`]).
    migrated: Vec<CacheEntry>,
    /// (legacy key, version-2 key) of every question asked, when recorded
    /// ([`Run::record_legacy_keys`]).
    aliases: Option<Vec<(String, String)>>,
}

impl Run {
    /// A run of `plan`; `stats` is reset to count it.
    pub fn new(plan: Plan, opts: ExtractOptions, cfg: ModelConfig, stats: &mut RunStats) -> Run {
        *stats = RunStats {
            questions: plan.len() as u64,
            ..Default::default()
        };
        Run {
            plan,
            opts,
            answers: Answers::default(),
            failures: Vec::new(),
            twins: FxHashMap::default(),
            places: None,
            stage: 0,
            keys: Keys::new(&cfg),
            cfg,
            migrated: Vec::new(),
            aliases: None,
        }
    }

    /// Records the legacy key of every question the next stages ask (for
    /// batch imports of files exported with legacy `custom_id`s).
    pub fn record_legacy_keys(&mut self) {
        self.aliases.get_or_insert_with(Vec::new);
    }

    /// (legacy key, version-2 key) of every question asked since
    /// [`Run::record_legacy_keys`].
    pub fn legacy_aliases(&self) -> &[(String, String)] {
        self.aliases.as_deref().unwrap_or_default()
    }

    /// The entries found under legacy keys since the last call, re-keyed
    /// under their version-2 keys: a driver stores them so that the next
    /// run finds them without computing legacy keys.
    pub fn take_migrated(&mut self) -> Vec<CacheEntry> {
        std::mem::take(&mut self.migrated)
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// What jobs need to decide their next step.
    pub fn context<'a>(&'a self, retry: &'a RetryPolicy) -> Context<'a> {
        Context {
            answers: &self.answers,
            opts: self.opts,
            cfg: &self.cfg,
            retry,
        }
    }

    /// The jobs of the next stage (possibly none), or `None` when every stage
    /// has been prepared. Call it only once the previous stage's jobs are all
    /// settled: fact checks need the facts.
    pub fn next_stage(
        &mut self,
        ds: &Dataset,
        cache: &dyn AnswerCache,
        stats: &mut RunStats,
    ) -> Option<Vec<Job>> {
        let questions = match self.stage {
            0 => &self.plan.first,
            1 => &self.plan.second,
            _ => return None,
        };
        self.stage += 1;
        let mut jobs: Vec<Job> = Vec::new();
        let mut names = Names {
            places: &mut self.places,
            ds,
        };
        let mut template_ids: Vec<(prompts::Template, String)> = Vec::new();
        let mut source: Option<Arc<PromptSource>> = None;
        for q in questions {
            let Some(kind) = template(q, &self.answers, self.opts) else {
                let facts_of = match *q {
                    Question::Factor(FactorQuestion::Checks { text, .. }) => Some(text),
                    Question::Factor(FactorQuestion::SourceCoverage { source, .. }) => Some(source),
                    _ => None,
                };
                match facts_of.map(|t| self.answers.facts(t).is_some()) {
                    // No facts to check: nothing to ask, the share is 0.
                    Some(true) => stats.skipped_empty += 1,
                    // The facts could not be extracted: this check cannot be asked.
                    _ => {
                        stats.failed += 1;
                        self.failures.push(FailedItem {
                            question: names.describe(q),
                            template: prompts::FACT_CHECKS.id(),
                            reason: "not asked: the facts it checks could not be extracted".into(),
                            raw_reply: None,
                            attempts: 0,
                        });
                    }
                }
                continue;
            };
            let key = self.keys.key(q, kind, ds, &self.answers);
            if !template_ids.iter().any(|(t, _)| *t == kind.template) {
                let id = kind.template.id();
                stats.templates.insert(id.clone());
                template_ids.push((kind.template, id));
            }
            if let Some(aliases) = &mut self.aliases {
                aliases.push((self.keys.legacy(q, kind, ds, &self.answers), key.clone()));
            }
            if let Some((a, moved)) = self.keys.lookup(cache, &key, q, kind, ds, &self.answers) {
                self.answers.insert(*q, a);
                stats.cache_hits += 1;
                self.migrated.extend(moved);
                continue;
            }
            // Questions whose prompt is the same as an earlier one's (e.g. two
            // responses with the same facts and context) share its single call.
            match self.twins.get_mut(&key) {
                Some(twins) => twins.push((*q, names.describe(q))),
                None => {
                    // The prompt is rendered when the job is sent: a
                    // question answered by the cache renders nothing.
                    let source = source
                        .get_or_insert_with(|| {
                            Arc::new(PromptSource {
                                ds: Arc::new(ds.clone()),
                                answers: Arc::new(self.answers.clone()),
                                opts: self.opts,
                            })
                        })
                        .clone();
                    self.twins.insert(key.clone(), Vec::new());
                    jobs.push(Job::new(*q, names.describe(q), kind, source, key));
                }
            }
        }
        Some(jobs)
    }

    /// Records how a job ended (a [`Step::Done`] or [`Step::Failed`]), for it
    /// and for every question that shared its call. A [`Step::Call`]
    /// settles nothing: the job is still calling.
    pub fn settle(&mut self, job: &Job, step: Step, stats: &mut RunStats) {
        if matches!(step, Step::Call { .. }) {
            return;
        }
        let twins = self.twins.remove(&job.key).unwrap_or_default();
        match step {
            Step::Done(a, _) => {
                stats.succeeded += 1 + twins.len() as u64;
                for (t, _) in twins {
                    self.answers.insert(t, a.clone());
                }
                self.answers.insert(job.question, a);
            }
            Step::Failed(f) => {
                stats.failed += 1 + twins.len() as u64;
                for (_, what) in twins {
                    self.failures.push(FailedItem {
                        question: what,
                        ..f.clone()
                    });
                }
                self.failures.push(f);
            }
            Step::Call { .. } => {}
        }
    }

    /// The answers and the failures (sorted by question).
    pub fn finish(mut self) -> (Answers, Vec<FailedItem>) {
        self.failures.sort_by(|a, b| a.question.cmp(&b.question));
        (self.answers, self.failures)
    }
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

impl Estimate {
    /// "Sample first": when the estimate is over a cost cap of `cap_usd`,
    /// the number of inputs (of `inputs`) a seeded sample may have for its
    /// estimate to be about half the cap, so its result is seen before the
    /// rest is paid for (at least 1). `None` when the estimate fits the cap,
    /// its cost is unknown, or there is at most one input.
    pub fn sample_within(&self, inputs: u64, cap_usd: f64) -> Option<u64> {
        let cost = self.cost_usd?;
        if cost <= cap_usd || inputs <= 1 || !cost.is_finite() {
            return None;
        }
        let n = (inputs as f64 * cap_usd / 2.0 / cost).floor() as u64;
        Some(n.clamp(1, inputs - 1))
    }
}

/// The version-2 cache key question `q` of a run with `cfg` is answered
/// under (as [`cached_answers`] and the drivers key it; a fact check's key
/// depends on the facts in `answers`); `None` when `q` asks nothing.
pub fn answer_key(
    cfg: &ModelConfig,
    q: &Question,
    ds: &Dataset,
    answers: &Answers,
    opts: ExtractOptions,
) -> Option<String> {
    let none = Answers::default();
    let known = if q.is_check() { answers } else { &none };
    let kind = template(q, known, opts)?;
    Some(Keys::new(cfg).key(q, kind, ds, known))
}

/// The answers of `plan` that `cache` holds, without a call (first-stage
/// answers first, so that second-stage questions are known), and how many
/// questions it lacks: what a finished run left, replayed (a failed item is
/// never cached, so it stays unanswered, as in the run).
pub fn cached_answers(
    plan: &Plan,
    ds: &Dataset,
    opts: ExtractOptions,
    cfg: &ModelConfig,
    cache: &dyn AnswerCache,
) -> (Answers, u64) {
    let mut keys = Keys::new(cfg);
    let mut answers = Answers::default();
    let mut lacking = 0;
    let none = Answers::default();
    for q in &plan.first {
        let Some(kind) = template(q, &none, opts) else {
            continue;
        };
        let key = keys.key(q, kind, ds, &none);
        match keys.lookup(cache, &key, q, kind, ds, &none) {
            Some((a, _)) => answers.insert(*q, a),
            None => lacking += 1,
        }
    }
    let first = answers.clone();
    for q in &plan.second {
        let Some(kind) = template(q, &first, opts) else {
            continue;
        };
        let key = keys.key(q, kind, ds, &first);
        match keys.lookup(cache, &key, q, kind, ds, &first) {
            Some((a, _)) => answers.insert(*q, a),
            None => lacking += 1,
        }
    }
    (answers, lacking)
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
    cfg: &ModelConfig,
    cache: &dyn AnswerCache,
    price: Option<super::pricing::Price>,
) -> Estimate {
    use super::provider::estimate_tokens;
    // First-stage answers found in the cache, so that fact checks of cached
    // facts are looked up (and counted) exactly.
    let mut answers = Answers::default();
    let mut e = Estimate::default();
    let tokens = |t: crate::data::TextId| estimate_tokens(ds.text(t)) as f64;
    let mut keys = Keys::new(cfg);
    let none = Answers::default();
    for q in &plan.first {
        let Some(kind) = template(q, &answers, opts) else {
            continue;
        };
        let key = keys.key(q, kind, ds, &none);
        if let Some((a, _)) = keys.lookup(cache, &key, q, kind, ds, &none) {
            answers.insert(*q, a);
            e.cached += 1;
            continue;
        }
        let Some(p) = prompt(q, ds, &answers, opts) else {
            continue;
        };
        e.calls += 1;
        e.input_tokens += estimate_prompt_tokens(&p) as f64;
        e.output_tokens += match q {
            Question::Factor(FactorQuestion::Facts(t)) => tokens(*t),
            Question::Factor(FactorQuestion::Judgements { parts, .. }) => {
                10.0 + 15.0 * parts.to_vec().len() as f64
            }
            Question::Factor(FactorQuestion::FluencyCoherence { .. }) => 3.0,
            Question::Factor(FactorQuestion::Custom { .. }) => 3.0,
            Question::Improve(ImproveQuestion {
                step: ImproveStep::Draft,
                ..
            }) => 500.0,
            Question::Improve(_) => 250.0,
            _ => 40.0,
        };
    }
    // A fact entry's output: `{"id": i` plus one answer per key.
    let entries =
        |facts_of: f64, answers: usize| (facts_of / 12.0).ceil() * (8.0 + 4.0 * answers as f64);
    for q in &plan.second {
        let facts_of = match *q {
            Question::Factor(FactorQuestion::Checks { text, .. }) => Some(text),
            Question::Factor(FactorQuestion::SourceCoverage { source, .. }) => Some(source),
            _ => None,
        };
        if facts_of.is_some_and(|t| answers.facts(t).is_some()) {
            // The facts are cached: the question is known exactly.
            match template(q, &answers, opts) {
                // Nothing to check: no call.
                None => continue,
                Some(kind) => {
                    let key = keys.key(q, kind, ds, &answers);
                    if keys.lookup(cache, &key, q, kind, ds, &answers).is_some() {
                        e.cached += 1;
                        continue;
                    }
                }
            }
        }
        let (input, output) = match *q {
            Question::Factor(FactorQuestion::Checks {
                text,
                request,
                source,
                kinds,
                coverage,
            }) => {
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
            Question::Factor(FactorQuestion::SourceCoverage { source, response }) => (
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_bytes, FormatOptions};
    use crate::factors::Factor;
    use crate::llm::provider::{Provider, Usage};

    fn ds() -> Dataset {
        let line = |a: &str, b: &str| {
            serde_json::json!({"input": "Summarize.", "source": "The town met. It voted.", "response_a": a, "response_b": b, "preference": "a"})
                .to_string()
        };
        let text = [
            line("The town met.", "It voted."),
            line("It voted.", "The town met."),
        ]
        .join("\n");
        load_bytes(text.as_bytes(), FormatOptions::default()).unwrap()
    }

    fn reply(text: &str) -> Result<Completion, CallError> {
        Ok(Completion {
            text: text.into(),
            first_token_logprobs: None,
            token_logprobs: None,
            usage: Usage {
                input_tokens: 10,
                output_tokens: 2,
            },
            finish: None,
            model: None,
        })
    }

    fn setup(factors: &[Factor]) -> (Dataset, Run, RunStats, RetryPolicy) {
        let d = ds();
        let opts = ExtractOptions::default();
        let plan = Plan::new(&d, factors, opts);
        let mut stats = RunStats::default();
        let run = Run::new(
            plan,
            opts,
            ModelConfig::new(Provider::OpenAi, "m"),
            &mut stats,
        );
        (d, run, stats, RetryPolicy::default())
    }

    #[test]
    fn retry_then_repair_then_success_and_the_cache_short_circuits() {
        let (d, mut run, mut stats, retry) = setup(&[Factor::NFacts]);
        let jobs = run.next_stage(&d, &MemoryCache::new(), &mut stats).unwrap();
        // Two unique responses: two jobs.
        assert_eq!(jobs.len(), 2);
        let mut job = jobs[0].clone();
        job.start_call(&mut stats);
        let cx = run.context(&retry);
        // 429 with Retry-After 7 s: retry after at least 7 s.
        let step = job.on_result(
            Err(CallError::RateLimited {
                retry_after_s: Some(7.0),
            }),
            &cx,
            0.5,
            &mut stats,
        );
        assert!(matches!(step, Step::Call { after_s } if after_s >= 7.0));
        // Prose instead of JSON: one repair request, with the same question.
        job.start_call(&mut stats);
        let step = job.on_result(reply("no json here"), &cx, 0.5, &mut stats);
        assert_eq!(step, Step::Call { after_s: 0.0 });
        assert_eq!(job.prompt().template, "repair");
        job.start_call(&mut stats);
        let Step::Done(answer, entry) = job.on_result(
            reply(r#"{"facts": ["The town met."]}"#),
            &cx,
            0.5,
            &mut stats,
        ) else {
            panic!("not done")
        };
        assert_eq!(answer, Answer::Facts(vec!["The town met.".into()]));
        assert_eq!(entry.template, "atomic_facts@1");
        assert_eq!((stats.calls, stats.retries, stats.repairs), (3, 1, 1));
        assert_eq!(stats.input_tokens, 20);
        // The next run finds the answer in the cache: one job fewer.
        let mut cache = MemoryCache::new();
        cache.put(*entry);
        let (d2, mut run2, mut stats2, _) = setup(&[Factor::NFacts]);
        let jobs2 = run2.next_stage(&d2, &cache, &mut stats2).unwrap();
        assert_eq!((jobs2.len(), stats2.cache_hits), (1, 1));
        assert!(run2
            .next_stage(&d2, &cache, &mut stats2)
            .unwrap()
            .is_empty());
        assert!(run2.next_stage(&d2, &cache, &mut stats2).is_none());
    }

    /// A driver that settles a job still calling gets no panic and no
    /// count: the job is settled once it is done or failed.
    /// The cap's rule: a call is reserved at its worst case, then charged
    /// its reported usage (the reservation when there is none, nothing for
    /// an HTTP refusal); a call that does not fit waits while another is in
    /// flight and stops the run when none is.
    #[test]
    fn the_cost_cap_reserves_the_worst_case_and_charges_what_was_used() {
        let (d, mut run, mut stats, retry) = setup(&[Factor::NFacts]);
        let jobs = run.next_stage(&d, &MemoryCache::new(), &mut stats).unwrap();
        let price = crate::llm::pricing::Price {
            input_per_m: 1e6,
            output_per_m: 1e6,
        };
        let cfg = run.cfg.clone();
        let worst = CostCap {
            max_usd: 0.0,
            price,
        }
        .worst_case(jobs[0].prompt(), &cfg);
        // Room for two worst cases and a bit: two calls go, the third waits.
        let cap = CostCap {
            max_usd: 2.5 * worst,
            price,
        };
        let (mut a, mut b, mut c) = (jobs[0].clone(), jobs[1].clone(), jobs[0].clone());
        assert_eq!(a.admit(Some(&cap), &cfg, &mut stats), Admit::Go);
        assert_eq!(b.admit(Some(&cap), &cfg, &mut stats), Admit::Go);
        assert_eq!(c.admit(Some(&cap), &cfg, &mut stats), Admit::Wait);
        assert_eq!((stats.calls, stats.in_flight), (2, 2));
        let cx = run.context(&retry);
        // A reply with usage: charged 12 tokens at $1 each.
        a.on_result(reply(r#"{"facts": []}"#), &cx, 0.0, &mut stats);
        assert_eq!(stats.spent_usd, 12.0);
        // A server error is not billed.
        b.on_result(Err(CallError::Server { status: 500 }), &cx, 0.0, &mut stats);
        assert_eq!(
            (stats.spent_usd, stats.in_flight, stats.reserved_usd),
            (12.0, 0, 0.0)
        );
        // Now the third fits; a reply without usage costs its reservation.
        assert_eq!(c.admit(Some(&cap), &cfg, &mut stats), Admit::Go);
        let mut no_usage = reply(r#"{"facts": []}"#).unwrap();
        no_usage.usage = Usage::default();
        c.on_result(Ok(no_usage), &cx, 0.0, &mut stats);
        assert_eq!(stats.spent_usd, 12.0 + worst);
        // Nothing in flight and no room: the run stops at the cap.
        let mut d2 = jobs[1].clone();
        let tight = cap.after(2.5 * worst - stats.spent_usd - 1.0);
        assert_eq!(d2.admit(Some(&tight), &cfg, &mut stats), Admit::Stop);
        assert!(stats.cap_reached && stats.spent_usd <= tight.max_usd);
        assert_eq!(stats.calls, 3, "a call refused is not counted");
        // Without a cap every call goes.
        assert_eq!(d2.admit(None, &cfg, &mut stats), Admit::Go);
    }

    #[test]
    fn sample_first_is_offered_only_over_the_cap() {
        let e = |c: Option<f64>| Estimate {
            cost_usd: c,
            ..Default::default()
        };
        assert_eq!(e(Some(10.0)).sample_within(100, 2.0), Some(10));
        assert_eq!(e(Some(10.0)).sample_within(100, 10.0), None);
        assert_eq!(e(None).sample_within(100, 1.0), None);
        assert_eq!(e(Some(1e9)).sample_within(100, 1.0), Some(1));
        assert_eq!(e(Some(3.0)).sample_within(1, 1.0), None);
        assert_eq!(e(Some(1.01)).sample_within(3, 1.0), Some(1));
    }

    #[test]
    fn a_job_still_calling_settles_nothing() {
        let (d, mut run, mut stats, _) = setup(&[Factor::NFacts]);
        let jobs = run.next_stage(&d, &MemoryCache::new(), &mut stats).unwrap();
        let before = stats.clone();
        run.settle(&jobs[0], Step::Call { after_s: 0.0 }, &mut stats);
        assert_eq!(stats, before);
        let (answers, failures) = run.finish();
        assert!(answers.is_empty() && failures.is_empty());
    }

    #[test]
    fn waits_past_the_cap_huge_replies_and_refused_keys_fail_at_once_and_are_named() {
        let (d, mut run, mut stats, retry) = setup(&[Factor::NFacts]);
        let jobs = run.next_stage(&d, &MemoryCache::new(), &mut stats).unwrap();
        let cx = run.context(&retry);
        for wait in [1e300, 1_000_000.0, 600.5] {
            let mut j = jobs[0].clone();
            j.start_call(&mut stats);
            let Step::Failed(f) = j.on_result(
                Err(CallError::RateLimited {
                    retry_after_s: Some(wait),
                }),
                &cx,
                0.5,
                &mut stats,
            ) else {
                panic!("a wait of {wait} s must not be waited")
            };
            assert!(f.reason.contains("600 s"), "{}", f.reason);
            assert_eq!(f.attempts, 1);
            assert!(
                f.question
                    .starts_with("facts of response A (line 1): “The town met.”"),
                "{}",
                f.question
            );
            assert_eq!(f.template, "atomic_facts@1");
        }
        let mut j = jobs[0].clone();
        j.start_call(&mut stats);
        let Step::Failed(f) = j.on_result(
            Err(CallError::TooLarge {
                limit: 10 << 20,
                head: "HUGE xxx".into(),
            }),
            &cx,
            0.5,
            &mut stats,
        ) else {
            panic!("too large is final")
        };
        assert!(f.reason.contains("10 MiB"), "{}", f.reason);
        assert_eq!(f.raw_reply.as_deref(), Some("HUGE xxx"));
        assert!(j.fatal().is_none());
        let mut k = jobs[1].clone();
        k.start_call(&mut stats);
        k.on_result(
            Err(CallError::Auth {
                status: 403,
                message: "no access".into(),
            }),
            &cx,
            0.5,
            &mut stats,
        );
        assert!(k.fatal().unwrap().contains("HTTP 403"));
    }

    #[test]
    fn failures_keep_the_raw_reply_and_errors_that_cannot_be_retried_stop_at_once() {
        let (d, mut run, mut stats, retry) = setup(&[Factor::NFacts]);
        let jobs = run.next_stage(&d, &MemoryCache::new(), &mut stats).unwrap();
        let cx = run.context(&retry);
        let mut a = jobs[0].clone();
        a.start_call(&mut stats);
        assert!(matches!(
            a.on_result(reply("garbage"), &cx, 0.0, &mut stats),
            Step::Call { .. }
        ));
        a.start_call(&mut stats);
        let Step::Failed(f) = a.on_result(reply("still garbage"), &cx, 0.0, &mut stats) else {
            panic!("should fail")
        };
        assert_eq!(f.raw_reply.as_deref(), Some("garbage"));
        assert!(
            f.reason.contains("the repair did not either"),
            "{}",
            f.reason
        );
        assert_eq!(f.attempts, 2);
        let mut b = jobs[1].clone();
        b.start_call(&mut stats);
        let Step::Failed(g) = b.on_result(
            Err(CallError::Auth {
                status: 401,
                message: "bad key".into(),
            }),
            &cx,
            0.0,
            &mut stats,
        ) else {
            panic!("auth errors are final")
        };
        assert_eq!(g.attempts, 1);
        // Retryable errors stop after max_attempts.
        let mut c = jobs[0].clone();
        let tight = RetryPolicy {
            max_attempts: 2,
            ..retry
        };
        let cx2 = run.context(&tight);
        c.start_call(&mut stats);
        assert!(matches!(
            c.on_result(Err(CallError::Timeout), &cx2, 0.0, &mut stats),
            Step::Call { .. }
        ));
        c.start_call(&mut stats);
        assert!(matches!(
            c.on_result(Err(CallError::Timeout), &cx2, 0.0, &mut stats),
            Step::Failed(_)
        ));
        run.settle(&a, Step::Failed(f), &mut stats);
        run.settle(&b, Step::Failed(g), &mut stats);
        assert_eq!((stats.failed, stats.remaining()), (2, 0));
        // The fact checks of texts whose facts failed are listed, not asked.
        let (d3, mut run3, mut stats3, _) = setup(&[Factor::Hallucination]);
        let first = run3
            .next_stage(&d3, &MemoryCache::new(), &mut stats3)
            .unwrap();
        for j in &first {
            run3.settle(j, Step::Failed(j.failure("x")), &mut stats3);
        }
        assert!(run3
            .next_stage(&d3, &MemoryCache::new(), &mut stats3)
            .unwrap()
            .is_empty());
        let (_, failures) = run3.finish();
        assert_eq!(failures.len(), 4);
        assert!(failures
            .iter()
            .any(|f| f.reason.starts_with("not asked: the facts")));
        assert_eq!(stats3.remaining(), 0);
    }
}
