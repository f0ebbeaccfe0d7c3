//! Stage memos: what a plan's run settled, kept so that a re-run of the
//! same plan over the same cache does no work (issue 12.9).
//!
//! A run over a full cache still plans, keys every question (digesting every
//! text), parses every cache line and decodes every stored answer. A stage
//! memo skips all of that: when a plan's run settles every question (no
//! failure, nothing unstored, not stopped), its answers are written once in
//! a compact binary form under a digest of everything that decides them
//! ([`key`]): the memo format, the build (`build`: a new binary may ask
//! other prompts), the model configuration, the extraction options, the
//! plan's questions in order and every text of the dataset. A re-run of
//! the same plan reads that one file and decodes it: one allocation per
//! string and per boxed answer, the answer map and the slot map sized once
//! (`cargo bench --bench llm -- memo` shows where a memo re-run's time
//! goes).
//!
//! The answers a memo holds are those the cache holds under the questions'
//! keys, and cache entries are only ever appended; the cache that keeps the
//! memos ([`super::threads::DiskCache`]) drops them when its file changed
//! in any other way. A memo that does not decode (torn, corrupted, of
//! another plan) is a miss, never an error.

use super::cache::{Digest, KeyHasher};
use super::engine::RunStats;
use super::extract::ExtractOptions;
use super::parse::Better;
use super::provider::ModelConfig;
use super::question::{
    Answer, Answers, CheckKinds, FactChecks, FactorQuestion, JudgementParts, Judgements, Plan,
    PlanShape, Question, Set, Verdict,
};
use super::roles::{JudgeOrder, PairVerdicts};
use crate::data::{Dataset, Pair, TextId};
use crate::factors::Factor;

/// The version of the memo layout and key: a change makes every memo a miss.
const FORMAT: &str = "profile-stage-memo/1";
const MAGIC: &[u8; 8] = b"PMEMO\x01\n\0";

/// Feeds `std::hash::Hash` output into a [`KeyHasher`].
struct Feed<'a>(&'a mut KeyHasher);

impl std::hash::Hasher for Feed<'_> {
    fn finish(&self) -> u64 {
        self.0.finish()[0]
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.bytes(bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0.u64(n);
    }
}

/// The memo key of `plan` asked of `cfg` on `ds` with `opts`, by the
/// binary `build` (anything that tells builds apart; a new build is a new
/// key). Each text of the dataset is digested once.
pub fn key(
    plan: &Plan,
    ds: &Dataset,
    opts: ExtractOptions,
    cfg: &ModelConfig,
    build: &str,
) -> Digest {
    use std::hash::Hash as _;
    let mut h = KeyHasher::new();
    h.str(FORMAT)
        .str(build)
        .str(&format!("{cfg:?}"))
        .str(&format!("{opts:?}"));
    h.u64(plan.first.len() as u64).u64(plan.second.len() as u64);
    {
        let mut feed = Feed(&mut h);
        for q in plan.first.iter().chain(&plan.second) {
            q.hash(&mut feed);
        }
    }
    texts_digest(&mut h, ds);
    h.finish()
}

/// Feeds `h` the number of `ds`'s texts and the digest of all of them, in
/// id order (both memo keys end with it).
fn texts_digest(h: &mut KeyHasher, ds: &Dataset) {
    let mut texts = KeyHasher::new();
    let mut n = 0u64;
    for (_, t) in ds.texts.iter() {
        texts.str(t);
        n += 1;
    }
    h.u64(n).digest(texts.finish());
}

/// The file name of a memo key: 32 hex digits.
pub fn file_name(key: &Digest) -> String {
    format!("{:016x}{:016x}.bin", key[0], key[1])
}

/// Whether a settled run may be kept as a memo: every question answered or
/// skipped, nothing failed, unstored, stopped or cancelled.
pub fn keepable(stats: &RunStats) -> bool {
    stats.failed == 0
        && !stats.cancelled
        && stats.stopped.is_none()
        && stats.not_stored.is_empty()
        && !stats.cap_reached
        && stats.settled() == stats.questions
}

/// The memo of a settled run of `plan`: its answers by question index
/// (first stage, then second), the questions skipped and the templates.
pub fn encode(plan: &Plan, answers: &Answers, stats: &RunStats) -> Vec<u8> {
    let mut body = Vec::new();
    put_u64(&mut body, plan.len() as u64);
    put_u64(&mut body, stats.skipped_empty);
    put_u64(&mut body, stats.templates.len() as u64);
    for t in &stats.templates {
        put_str(&mut body, t);
    }
    let held: Vec<(usize, &Answer)> = plan
        .first
        .iter()
        .chain(&plan.second)
        .enumerate()
        .filter_map(|(i, q)| answers.get(q).map(|a| (i, a)))
        .collect();
    put_u64(&mut body, held.len() as u64);
    for (i, a) in held {
        put_u64(&mut body, i as u64);
        put_answer(&mut body, a);
    }
    let sum = KeyHasher::new().bytes(&body).finish();
    let mut out = Vec::with_capacity(body.len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&sum[0].to_le_bytes());
    out.extend_from_slice(&sum[1].to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The answers and the statistics of a re-run of `plan` over a full cache
/// (every answered question a cache hit), from a memo; `None` when `bytes`
/// are not a whole, intact memo of a plan of this size.
pub fn decode(bytes: &[u8], plan: &Plan) -> Option<(Answers, RunStats)> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let (sum, body) = (rest.get(..16)?, rest.get(16..)?);
    let want = KeyHasher::new().bytes(body).finish();
    if sum[..8] != want[0].to_le_bytes() || sum[8..] != want[1].to_le_bytes() {
        return None;
    }
    let mut r = Reader(body);
    if r.u64()? != plan.len() as u64 {
        return None;
    }
    let skipped_empty = r.u64()?;
    let mut templates = std::collections::BTreeSet::new();
    for _ in 0..r.count()? {
        templates.insert(r.string()?);
    }
    let held = r.count()?;
    let questions: Vec<_> = plan.first.iter().chain(&plan.second).collect();
    let mut answers = Answers::default();
    answers.reserve(held, questions.iter().copied());
    for _ in 0..held {
        let q = **questions.get(usize::try_from(r.u64()?).ok()?)?;
        answers.insert(q, r.answer()?);
    }
    if !r.0.is_empty() || held as u64 + skipped_empty != plan.len() as u64 {
        return None;
    }
    let stats = RunStats {
        questions: plan.len() as u64,
        cache_hits: held as u64,
        skipped_empty,
        templates,
        ..RunStats::default()
    };
    Some((answers, stats))
}

// ------------------------------------------------------------ run memos

/// The version of a run memo's layout and key: a change makes every run
/// memo a miss.
const RUN_FORMAT: &str = "profile-run-memo/1";
const RUN_MAGIC: &[u8; 8] = b"PRMEMO\x01\n";

/// Whether an extraction of `factors` can be kept as a run memo: some
/// factor needs a model, and none is a factor pack's (whose question is
/// the registered pack's, which the key does not cover).
pub fn run_memo_fits(factors: &[Factor]) -> bool {
    factors.iter().any(|f| f.needs_model())
        && !factors
            .iter()
            .any(|f| f.needs_model() && matches!(f, Factor::Custom(_)))
}

/// The run memo key of a factor extraction of `factors` asked of `cfg` on
/// `ds` with `opts`, by the binary `build`: what [`key`] covers, with the
/// factors, the options and the dataset's pairs instead of the plan's
/// questions (which those decide), so that it is known before planning.
pub fn run_key(
    factors: &[Factor],
    ds: &Dataset,
    opts: ExtractOptions,
    cfg: &ModelConfig,
    build: &str,
) -> Digest {
    let mut h = run_key_start("extract", cfg, opts, build);
    h.str(&format!("{factors:?}"));
    pairs_digest(&mut h, ds);
    h.finish()
}

/// A run memo key's start, shared by both kinds of run: the run memo
/// format, the build, the kind of run, the model configuration and the
/// options.
fn run_key_start(kind: &str, cfg: &ModelConfig, opts: ExtractOptions, build: &str) -> KeyHasher {
    let mut h = KeyHasher::new();
    h.str(RUN_FORMAT)
        .str(build)
        .str(kind)
        .str(&format!("{cfg:?}"))
        .str(&format!("{opts:?}"));
    h
}

/// Feeds `h` the number of `ds`'s pairs, each pair's text ids (input,
/// source, A, B) and then [`texts_digest`] (both run memo keys end with it).
fn pairs_digest(h: &mut KeyHasher, ds: &Dataset) {
    let id = |t: Option<TextId>| t.map_or(u32::MAX, |t| t.0).to_le_bytes();
    let mut pairs = Vec::with_capacity(ds.pairs.len() * 16);
    for p in &ds.pairs {
        for t in [p.input, p.source, Some(p.a), Some(p.b)] {
            pairs.extend_from_slice(&id(t));
        }
    }
    h.u64(ds.pairs.len() as u64).bytes(&pairs);
    texts_digest(h, ds);
}

/// What a run memo says of its run besides the values: the plan's counts,
/// the statistics of a re-run (every answer a cache hit, as a stage memo's
/// re-run counts them) and the naive plan's call count of its record.
#[derive(Clone, Debug, PartialEq)]
pub struct RunMemo {
    pub shape: PlanShape,
    pub stats: RunStats,
    pub naive_calls: f64,
}

/// The side of a pair a value belongs to: the response, the input and the
/// source (`u64::MAX`: none). A value depends on nothing else.
fn side_key(response: TextId, p: &Pair) -> [u64; 3] {
    let id = |t: Option<TextId>| t.map_or(u64::MAX, |t| u64::from(t.0));
    [u64::from(response.0), id(p.input), id(p.source)]
}

/// A run memo's factor values and (decoded on first use) its answers: what
/// [`Answers`] holds for an extraction answered by a run memo.
pub struct RunValues {
    opts: ExtractOptions,
    /// The model-based factors, in the run's order.
    factors: Vec<Factor>,
    /// Every pair side, sorted and distinct.
    sides: Vec<[u64; 3]>,
    /// `sides × factors`, side-major: [`Answers::value`] of each.
    values: Vec<Option<f64>>,
    /// Answers the memo holds.
    held: usize,
    /// The memo; its answers start at `answers_at`.
    bytes: Vec<u8>,
    answers_at: usize,
    answers: std::sync::OnceLock<Answers>,
}

impl std::fmt::Debug for RunValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunValues")
            .field("factors", &self.factors)
            .field("sides", &self.sides.len())
            .field("held", &self.held)
            .field("decoded", &self.decoded())
            .finish()
    }
}

impl RunValues {
    /// The value of `f` for `response` of `p`; `None` when the memo does
    /// not hold it (another factor, side or options).
    pub(crate) fn value(
        &self,
        f: Factor,
        p: &Pair,
        response: TextId,
        opts: ExtractOptions,
    ) -> Option<Option<f64>> {
        if opts != self.opts {
            return None;
        }
        let i = self.factors.iter().position(|&g| g == f)?;
        let side = self.sides.binary_search(&side_key(response, p)).ok()?;
        self.values.get(side * self.factors.len() + i).copied()
    }

    /// The answers, decoded on first use. The memo's checksum was checked
    /// when it was read, so they decode; were they not to, there would be
    /// none (never other answers).
    pub(crate) fn answers(&self) -> &Answers {
        self.answers.get_or_init(|| {
            decode_held(&self.bytes[self.answers_at..], self.held).unwrap_or_default()
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.held
    }

    /// Whether the answers were decoded.
    pub(crate) fn decoded(&self) -> bool {
        self.answers.get().is_some()
    }
}

/// The run memo of a settled extraction of `factors` on `ds` with `opts`
/// (its plan, its answers and its statistics), with the naive plan's call
/// count of its record; `None` when it cannot be kept (not settled, a
/// factor pack's factor, a question of another kind).
pub fn encode_run(
    plan: &Plan,
    ds: &Dataset,
    factors: &[Factor],
    opts: ExtractOptions,
    answers: &Answers,
    stats: &RunStats,
    naive_calls: f64,
) -> Option<Vec<u8>> {
    if !keepable(stats) || !run_memo_fits(factors) {
        return None;
    }
    let model: Vec<Factor> = factors
        .iter()
        .copied()
        .filter(|f| f.needs_model())
        .collect();
    let mut body = Vec::new();
    put_plan_counts(&mut body, plan.shape(), stats);
    put_u64(&mut body, naive_calls.to_bits());
    body.extend([u8::from(opts.logprobs), u8::from(opts.summaries)]);
    put_u64(&mut body, model.len() as u64);
    let mut sides: Vec<([u64; 3], usize, TextId)> = ds
        .pairs
        .iter()
        .enumerate()
        .flat_map(|(i, p)| [p.a, p.b].map(|t| (side_key(t, p), i, t)))
        .collect();
    sides.sort_unstable_by_key(|s| (s.0, s.1));
    sides.dedup_by_key(|s| s.0);
    put_u64(&mut body, sides.len() as u64);
    for (k, _, _) in &sides {
        for n in k {
            put_u64(&mut body, *n);
        }
    }
    for &(_, i, t) in &sides {
        for &f in &model {
            put_f64(&mut body, answers.value(f, &ds.pairs[i], t, opts));
        }
    }
    let held: Vec<(&Question, &Answer)> = plan
        .first
        .iter()
        .chain(&plan.second)
        .filter_map(|q| answers.get(q).map(|a| (q, a)))
        .collect();
    if held.len() as u64 + stats.skipped_empty != plan.len() as u64 {
        return None;
    }
    put_u64(&mut body, held.len() as u64);
    for (q, a) in held {
        if !put_question(&mut body, q) {
            return None;
        }
        put_answer(&mut body, a);
    }
    Some(sealed(RUN_MAGIC, body))
}

/// A run memo's values (with its answers, decoded when first needed) and
/// what it says of its run, for an extraction of `factors` with `opts`;
/// `None` when `bytes` are not a whole, intact run memo of such a run.
pub fn decode_run(
    bytes: Vec<u8>,
    factors: &[Factor],
    opts: ExtractOptions,
) -> Option<(RunValues, RunMemo)> {
    let body = checked(&bytes, RUN_MAGIC)?;
    let mut r = Reader(body);
    let (shape, skipped_empty, templates) = read_plan_counts(&mut r)?;
    let naive_calls = f64::from_bits(r.u64()?);
    if [r.byte()?, r.byte()?] != [u8::from(opts.logprobs), u8::from(opts.summaries)] {
        return None;
    }
    let model: Vec<Factor> = factors
        .iter()
        .copied()
        .filter(|f| f.needs_model())
        .collect();
    if r.u64()? != model.len() as u64 {
        return None;
    }
    let n_sides = r.count()?;
    let mut sides = Vec::with_capacity(n_sides.min(r.0.len() / 24));
    for _ in 0..n_sides {
        let side = [r.u64()?, r.u64()?, r.u64()?];
        if sides.last().is_some_and(|last| *last >= side) {
            return None;
        }
        sides.push(side);
    }
    let n_values = n_sides.checked_mul(model.len())?;
    if n_values > r.0.len() {
        return None;
    }
    let mut values = Vec::with_capacity(n_values);
    for _ in 0..n_values {
        values.push(r.f64()?);
    }
    let held = r.count()?;
    if held as u64 + skipped_empty != shape.questions as u64 {
        return None;
    }
    let answers_at = bytes.len() - r.0.len();
    let stats = RunStats {
        questions: shape.questions as u64,
        cache_hits: held as u64,
        skipped_empty,
        templates,
        ..RunStats::default()
    };
    let memo = RunMemo {
        shape,
        stats,
        naive_calls,
    };
    let values = RunValues {
        opts,
        factors: model,
        sides,
        values,
        held,
        bytes,
        answers_at,
        answers: std::sync::OnceLock::new(),
    };
    Some((values, memo))
}

// ------------------------------------------------------ judge run memos

/// The first bytes of a judge's run memo (an extraction's run memo, or a
/// stage memo, read as one is a miss).
const JUDGE_MAGIC: &[u8; 8] = b"PJMEMO\x01\n";

/// The run memo key of a judge of `ds`'s pairs (a `task` dataset, shown in
/// the orders `order` gives, no guidance) asked of `cfg` with `opts`, by
/// the binary `build`: what [`key`] covers, with the judge's template, the
/// order (its seed included) and the dataset's pairs instead of the plan's
/// questions (which those decide), so that it is known before planning.
/// The human labels are not covered: the outcome is computed from the
/// verdicts against the dataset's labels when the memo is read.
pub fn judge_run_key(
    ds: &Dataset,
    task: crate::factors::Task,
    order: JudgeOrder,
    opts: ExtractOptions,
    cfg: &ModelConfig,
    build: &str,
) -> Digest {
    let mut h = run_key_start("judge", cfg, opts, build);
    h.str(&format!("{task:?}"))
        .str(&super::roles::judge_template_of(task, false).id())
        .str(&format!("{order:?}"));
    pairs_digest(&mut h, ds);
    h.finish()
}

/// What a judge's run memo holds: the plan's counts, the statistics of a
/// re-run (every answer a cache hit, as a stage memo's re-run counts them)
/// and the verdicts of every pair, from which the outcome is computed
/// ([`super::roles::outcome_of_verdicts`]). The answers themselves
/// (justifications) are not kept: a judge's outcome and record hold none;
/// `cache.jsonl` keeps every reply under its key.
#[derive(Clone, Debug, PartialEq)]
pub struct JudgeMemo {
    pub shape: PlanShape,
    pub stats: RunStats,
    pub verdicts: Vec<PairVerdicts>,
}

/// A verdict as two bits.
fn better_bits(b: Option<Better>) -> u8 {
    match b {
        None => 0,
        Some(Better::First) => 1,
        Some(Better::Second) => 2,
        Some(Better::Tie) => 3,
    }
}

fn bits_better(bits: u8) -> Option<Better> {
    match bits & 3 {
        1 => Some(Better::First),
        2 => Some(Better::Second),
        3 => Some(Better::Tie),
        _ => None,
    }
}

/// The tag of a judge's order in its memo.
fn put_order(out: &mut Vec<u8>, order: JudgeOrder) {
    match order {
        JudgeOrder::Both => out.push(0),
        JudgeOrder::Single { seed } => {
            out.push(1);
            put_u64(out, seed);
        }
    }
}

/// The run memo of a settled judge run of `plan` on `ds` (a `task`
/// dataset, the pairs shown in the orders `order` gives, no guidance): its
/// counts, the re-run's statistics and every pair's verdicts from
/// `answers`; `None` when it cannot be kept (not settled, or the answers
/// are not those of the plan).
pub fn encode_judge_run(
    plan: &Plan,
    ds: &Dataset,
    task: crate::factors::Task,
    order: JudgeOrder,
    answers: &Answers,
    stats: &RunStats,
) -> Option<Vec<u8>> {
    if !keepable(stats) {
        return None;
    }
    let held = plan
        .first
        .iter()
        .chain(&plan.second)
        .filter(|q| answers.get(q).is_some())
        .count() as u64;
    if held + stats.skipped_empty != plan.len() as u64 {
        return None;
    }
    let verdicts = super::roles::guided_judge_verdicts(ds, task, order, None, answers);
    let mut body = Vec::with_capacity(96 + verdicts.len());
    put_plan_counts(&mut body, plan.shape(), stats);
    put_u64(&mut body, held);
    put_order(&mut body, order);
    put_u64(&mut body, verdicts.len() as u64);
    body.extend(verdicts.iter().map(|v| match *v {
        PairVerdicts::Both { a_first, b_first } => better_bits(a_first) | better_bits(b_first) << 2,
        PairVerdicts::Once { a_first, verdict } => better_bits(verdict) | u8::from(a_first) << 2,
    }));
    Some(sealed(JUDGE_MAGIC, body))
}

/// A judge's run memo for a run of `pairs` pairs shown in the orders
/// `order` gives; `None` when `bytes` are not a whole, intact judge run
/// memo of such a run.
pub fn decode_judge_run(bytes: &[u8], order: JudgeOrder, pairs: usize) -> Option<JudgeMemo> {
    let body = checked(bytes, JUDGE_MAGIC)?;
    let mut r = Reader(body);
    let (shape, skipped_empty, templates) = read_plan_counts(&mut r)?;
    let held = r.u64()?;
    if held.checked_add(skipped_empty)? != shape.questions as u64 {
        return None;
    }
    let mut tag = Vec::new();
    put_order(&mut tag, order);
    if r.take(tag.len())? != tag.as_slice() || r.u64()? != pairs as u64 {
        return None;
    }
    // One byte per pair, and nothing after them.
    let bytes = r.0;
    if bytes.len() != pairs {
        return None;
    }
    let single = order.is_single();
    let mut verdicts = Vec::with_capacity(pairs);
    for &b in bytes {
        verdicts.push(match (single, b) {
            (false, 0..=0xf) => PairVerdicts::Both {
                a_first: bits_better(b),
                b_first: bits_better(b >> 2),
            },
            (true, 0..=7) => PairVerdicts::Once {
                a_first: b & 4 != 0,
                verdict: bits_better(b),
            },
            _ => return None,
        });
    }
    let stats = RunStats {
        questions: shape.questions as u64,
        cache_hits: held,
        skipped_empty,
        templates,
        ..RunStats::default()
    };
    Some(JudgeMemo {
        shape,
        stats,
        verdicts,
    })
}

/// The `held` answers of a run memo, each after its question.
fn decode_held(bytes: &[u8], held: usize) -> Option<Answers> {
    let mut r = Reader(bytes);
    let mut answers = Answers::with_capacity(held);
    for _ in 0..held {
        let q = r.question()?;
        answers.insert(q, r.answer()?);
    }
    r.0.is_empty().then_some(answers)
}

/// `body` after `magic` and its checksum.
fn sealed(magic: &[u8; 8], body: Vec<u8>) -> Vec<u8> {
    let sum = KeyHasher::new().bytes(&body).finish();
    let mut out = Vec::with_capacity(body.len() + 24);
    out.extend_from_slice(magic);
    out.extend_from_slice(&sum[0].to_le_bytes());
    out.extend_from_slice(&sum[1].to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The body of `bytes` sealed with `magic`, if its checksum holds.
fn checked<'a>(bytes: &'a [u8], magic: &[u8; 8]) -> Option<&'a [u8]> {
    let rest = bytes.strip_prefix(magic.as_slice())?;
    let (sum, body) = (rest.get(..16)?, rest.get(16..)?);
    let want = KeyHasher::new().bytes(body).finish();
    (sum[..8] == want[0].to_le_bytes() && sum[8..] == want[1].to_le_bytes()).then_some(body)
}

fn put_id(out: &mut Vec<u8>, t: TextId) {
    put_u64(out, u64::from(t.0));
}

fn put_opt_id(out: &mut Vec<u8>, t: Option<TextId>) {
    put_u64(out, t.map_or(u64::MAX, |t| u64::from(t.0)));
}

/// A factor question; `false` for another kind (or a factor pack's).
fn put_question(out: &mut Vec<u8>, q: &Question) -> bool {
    let Question::Factor(f) = q else {
        return false;
    };
    match *f {
        FactorQuestion::Facts(t) => {
            out.push(0);
            put_id(out, t);
        }
        FactorQuestion::Judgements {
            response,
            request,
            source,
            parts,
        } => {
            out.push(1);
            put_id(out, response);
            put_opt_id(out, request);
            put_opt_id(out, source);
            out.push(parts.bits());
        }
        FactorQuestion::FluencyCoherence {
            response,
            document,
            fluency,
            coherence,
        } => {
            out.push(2);
            put_id(out, response);
            put_opt_id(out, document);
            out.extend([u8::from(fluency), u8::from(coherence)]);
        }
        FactorQuestion::Checks {
            text,
            request,
            source,
            kinds,
            coverage,
        } => {
            out.push(3);
            put_id(out, text);
            put_opt_id(out, request);
            put_opt_id(out, source);
            out.push(kinds.bits());
            put_opt_id(out, coverage);
        }
        FactorQuestion::SourceCoverage { source, response } => {
            out.push(4);
            put_id(out, source);
            put_id(out, response);
        }
        FactorQuestion::Custom { .. } => return false,
    }
    true
}

/// A run memo's plan counts: the plan's shape, the questions skipped as
/// empty and the templates asked (as [`read_plan_counts`] reads them).
fn put_plan_counts(body: &mut Vec<u8>, shape: PlanShape, stats: &RunStats) {
    for n in [
        shape.questions,
        shape.unique_responses,
        shape.unique_sources,
        shape.source_fact_calls,
    ] {
        put_u64(body, n as u64);
    }
    put_u64(body, stats.skipped_empty);
    put_u64(body, stats.templates.len() as u64);
    for t in &stats.templates {
        put_str(body, t);
    }
}

/// What [`put_plan_counts`] wrote: the shape, the questions skipped as
/// empty and the templates; `None` if `r` ends first.
fn read_plan_counts(
    r: &mut Reader<'_>,
) -> Option<(PlanShape, u64, std::collections::BTreeSet<String>)> {
    let mut n = || usize::try_from(r.u64()?).ok();
    let shape = PlanShape {
        questions: n()?,
        unique_responses: n()?,
        unique_sources: n()?,
        source_fact_calls: n()?,
    };
    let skipped_empty = r.u64()?;
    let mut templates = std::collections::BTreeSet::new();
    for _ in 0..r.count()? {
        templates.insert(r.string()?);
    }
    Some((shape, skipped_empty, templates))
}

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u64(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_strs(out: &mut Vec<u8>, v: &[String]) {
    put_u64(out, v.len() as u64);
    for s in v {
        put_str(out, s);
    }
}

fn put_f64(out: &mut Vec<u8>, x: Option<f64>) {
    match x {
        None => out.push(0),
        Some(x) => {
            out.push(1);
            put_u64(out, x.to_bits());
        }
    }
}

fn put_bools(out: &mut Vec<u8>, v: &Option<Vec<bool>>) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put_u64(out, v.len() as u64);
            out.extend(v.iter().map(|&b| u8::from(b)));
        }
    }
}

fn put_answer(out: &mut Vec<u8>, a: &Answer) {
    match a {
        Answer::Facts(f) => {
            out.push(0);
            put_strs(out, f);
        }
        Answer::Judgements { judgements: j } => {
            out.push(1);
            for x in [
                j.intent_alignment,
                j.formality_alignment,
                j.receptiveness,
                j.fluency,
                j.coherence,
            ] {
                put_f64(out, x);
            }
        }
        Answer::FactChecks { fact_checks: c } => {
            out.push(2);
            for v in [
                &c.supported,
                &c.main_focus,
                &c.helpful_extra,
                &c.misleading,
                &c.covered,
            ] {
                put_bools(out, v);
            }
        }
        Answer::Verdict { verdict } => {
            out.push(3);
            put_str(out, &verdict.better);
            put_str(out, &verdict.justification);
        }
        Answer::Generations { generations } => {
            out.push(4);
            put_strs(out, generations);
        }
        Answer::Custom { custom } => {
            out.push(5);
            put_f64(out, Some(*custom));
        }
    }
}

/// Reads a memo's body; every read is checked (`None` past the end).
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A count of items of at least one byte each: never more than the
    /// bytes left (a corrupted count cannot allocate past the file).
    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        (n <= self.0.len()).then_some(n)
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.u64()?).ok()?;
        std::str::from_utf8(self.take(n)?).ok().map(str::to_owned)
    }
    fn strings(&mut self) -> Option<Vec<String>> {
        let n = self.count()?;
        (0..n).map(|_| self.string()).collect()
    }
    fn f64(&mut self) -> Option<Option<f64>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(f64::from_bits(self.u64()?))),
            _ => None,
        }
    }
    fn bools(&mut self) -> Option<Option<Vec<bool>>> {
        match self.byte()? {
            0 => Some(None),
            1 => {
                let n = self.count()?;
                let v = self.take(n)?;
                v.iter()
                    .all(|&b| b <= 1)
                    .then(|| Some(v.iter().map(|&b| b == 1).collect()))
            }
            _ => None,
        }
    }
    fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    fn id(&mut self) -> Option<TextId> {
        u32::try_from(self.u64()?).ok().map(TextId)
    }
    fn opt_id(&mut self) -> Option<Option<TextId>> {
        match self.u64()? {
            u64::MAX => Some(None),
            n => u32::try_from(n).ok().map(|n| Some(TextId(n))),
        }
    }
    fn question(&mut self) -> Option<Question> {
        let parts = |b: u8| -> Option<JudgementParts> { Set::from_bits(b) };
        let kinds = |b: u8| -> Option<CheckKinds> { Set::from_bits(b) };
        Some(Question::Factor(match self.byte()? {
            0 => FactorQuestion::Facts(self.id()?),
            1 => FactorQuestion::Judgements {
                response: self.id()?,
                request: self.opt_id()?,
                source: self.opt_id()?,
                parts: parts(self.byte()?)?,
            },
            2 => FactorQuestion::FluencyCoherence {
                response: self.id()?,
                document: self.opt_id()?,
                fluency: self.flag()?,
                coherence: self.flag()?,
            },
            3 => FactorQuestion::Checks {
                text: self.id()?,
                request: self.opt_id()?,
                source: self.opt_id()?,
                kinds: kinds(self.byte()?)?,
                coverage: self.opt_id()?,
            },
            4 => FactorQuestion::SourceCoverage {
                source: self.id()?,
                response: self.id()?,
            },
            _ => return None,
        }))
    }
    fn answer(&mut self) -> Option<Answer> {
        Some(match self.byte()? {
            0 => Answer::Facts(self.strings()?),
            1 => Answer::Judgements {
                judgements: Box::new(Judgements {
                    intent_alignment: self.f64()?,
                    formality_alignment: self.f64()?,
                    receptiveness: self.f64()?,
                    fluency: self.f64()?,
                    coherence: self.f64()?,
                }),
            },
            2 => Answer::FactChecks {
                fact_checks: Box::new(FactChecks {
                    supported: self.bools()?,
                    main_focus: self.bools()?,
                    helpful_extra: self.bools()?,
                    misleading: self.bools()?,
                    covered: self.bools()?,
                }),
            },
            3 => Answer::Verdict {
                verdict: Verdict {
                    better: self.string()?,
                    justification: self.string()?,
                },
            },
            4 => Answer::Generations {
                generations: self.strings()?,
            },
            5 => Answer::Custom {
                custom: self.f64()??,
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_bytes, FormatOptions};
    use crate::llm::question::Question;

    fn plan_and_answers() -> (Dataset, Plan, Answers) {
        let text = concat!(
            r#"{"input": "q", "source": "s one. s two.", "response_a": "a one.", "response_b": "b one. b two.", "preference": "a"}"#,
            "\n"
        );
        let ds = load_bytes(text.as_bytes(), FormatOptions::default()).expect("loads");
        let plan = crate::llm::roles::judge_plan(
            &ds,
            crate::factors::Task::Summarization,
            crate::llm::roles::JudgeOrder::Both,
        );
        let mut answers = Answers::default();
        let kinds = [
            Answer::Verdict {
                verdict: Verdict {
                    better: "1".into(),
                    justification: "é\n\"".into(),
                },
            },
            Answer::Facts(vec!["x".into(), String::new()]),
            Answer::Judgements {
                judgements: Box::new(Judgements {
                    fluency: Some(0.25),
                    coherence: Some(f64::MIN_POSITIVE),
                    ..Default::default()
                }),
            },
            Answer::FactChecks {
                fact_checks: Box::new(FactChecks {
                    supported: Some(vec![true, false]),
                    covered: Some(Vec::new()),
                    ..Default::default()
                }),
            },
            Answer::Generations {
                generations: vec!["g".into(); 5],
            },
        ];
        let qs: Vec<Question> = plan.first.iter().chain(&plan.second).copied().collect();
        for (i, q) in qs.iter().enumerate() {
            answers.insert(*q, kinds[i % kinds.len()].clone());
        }
        (ds, plan, answers)
    }

    fn settled(plan: &Plan) -> RunStats {
        RunStats {
            questions: plan.len() as u64,
            succeeded: plan.len() as u64,
            templates: ["judge@3".to_owned()].into_iter().collect(),
            ..RunStats::default()
        }
    }

    #[test]
    fn a_memo_decodes_to_the_answers_it_was_made_of() {
        let (_, plan, answers) = plan_and_answers();
        assert!(plan.len() >= 2);
        let bytes = encode(&plan, &answers, &settled(&plan));
        let (back, stats) = decode(&bytes, &plan).expect("decodes");
        for q in plan.first.iter().chain(&plan.second) {
            assert_eq!(back.get(q), answers.get(q));
        }
        assert_eq!(stats.cache_hits, plan.len() as u64);
        assert_eq!(stats.questions, plan.len() as u64);
        assert!(stats.templates.contains("judge@3"));
    }

    #[test]
    fn a_decoded_extraction_memo_fills_every_slot_of_the_plan() {
        let (ds, _, _) = plan_and_answers();
        let task = crate::factors::Task::Summarization;
        let opts = ExtractOptions {
            logprobs: true,
            summaries: true,
        };
        let plan = Plan::new(&ds, task.factors(), opts);
        let kinds = [
            Answer::Facts(vec!["f".into()]),
            Answer::Judgements {
                judgements: Box::new(Judgements {
                    fluency: Some(0.5),
                    ..Default::default()
                }),
            },
            Answer::FactChecks {
                fact_checks: Box::new(FactChecks {
                    supported: Some(vec![true]),
                    ..Default::default()
                }),
            },
        ];
        let mut answers = Answers::default();
        let qs: Vec<Question> = plan.first.iter().chain(&plan.second).copied().collect();
        let mut slots = Vec::new();
        for (i, q) in qs.iter().enumerate() {
            answers.insert(*q, kinds[i % kinds.len()].clone());
            if let Question::Factor(f) = q {
                f.each_slot(|s| slots.push(s));
            }
        }
        assert!(!slots.is_empty(), "the plan fills slots");
        let bytes = encode(&plan, &answers, &settled(&plan));
        let (back, _) = decode(&bytes, &plan).expect("decodes");
        for s in &slots {
            assert!(answers.at(s).is_some());
            assert_eq!(back.at(s), answers.at(s), "{s:?}");
        }
    }

    #[test]
    fn a_damaged_memo_is_a_miss_never_a_panic() {
        let (_, plan, answers) = plan_and_answers();
        let bytes = encode(&plan, &answers, &settled(&plan));
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n], &plan).is_none(), "cut at {n}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x41;
            assert!(decode(&b, &plan).is_none(), "byte {i} flipped");
        }
        let other = Plan {
            first: plan.first[..1].to_vec(),
            ..Plan::default()
        };
        assert!(decode(&bytes, &other).is_none(), "a memo of another plan");
    }

    #[test]
    fn the_key_follows_the_texts_the_model_and_the_build() {
        let (ds, plan, _) = plan_and_answers();
        let cfg = ModelConfig::new(crate::llm::provider::Provider::OpenAi, "m");
        let opts = ExtractOptions::default();
        let k = key(&plan, &ds, opts, &cfg, "b1");
        assert_eq!(k, key(&plan, &ds, opts, &cfg, "b1"));
        assert_ne!(k, key(&plan, &ds, opts, &cfg, "b2"));
        let other = ModelConfig::new(crate::llm::provider::Provider::OpenAi, "n");
        assert_ne!(k, key(&plan, &ds, opts, &other, "b1"));
        let text = r#"{"input": "q", "source": "s one. s two.", "response_a": "a one!", "response_b": "b one. b two.", "preference": "a"}"#;
        let ds2 = load_bytes(text.as_bytes(), FormatOptions::default()).expect("loads");
        assert_ne!(k, key(&plan, &ds2, opts, &cfg, "b1"));
    }

    /// A settled summarization extraction of a small dataset with every
    /// factor of the preset: its plan, answers (facts, judgements and checks
    /// of the right lengths, so that every value is known) and statistics.
    fn extraction(opts: ExtractOptions) -> (Dataset, Vec<Factor>, Plan, Answers, RunStats) {
        let text = concat!(
            r#"{"input": "q", "source": "s one. s two.", "response_a": "a one.", "response_b": "b one. b two.", "preference": "a"}"#,
            "\n",
            r#"{"input": "q", "source": "s one. s two.", "response_a": "b one. b two.", "response_b": "c one.", "preference": "b"}"#,
            "\n",
            r#"{"input": "r", "response_a": "d.", "response_b": "e one. e two.", "preference": "a"}"#,
            "\n"
        );
        let ds = load_bytes(text.as_bytes(), FormatOptions::default()).expect("loads");
        let factors = crate::factors::Task::Summarization.factors().to_vec();
        let plan = Plan::new(&ds, &factors, opts);
        let mut answers = Answers::default();
        let n_facts = |t: TextId| 1 + t.0 as usize % 3;
        let yes = |n: usize, k: u32| (0..n).map(|i| (i as u32 + k) % 2 == 0).collect::<Vec<_>>();
        for q in &plan.first {
            let a = match q {
                Question::Factor(FactorQuestion::Facts(t)) => Answer::Facts(
                    (0..n_facts(*t))
                        .map(|i| format!("fact {i} of {}", t.0))
                        .collect(),
                ),
                _ => Answer::Judgements {
                    judgements: Box::new(Judgements {
                        intent_alignment: Some(2.0),
                        formality_alignment: Some(1.0),
                        receptiveness: Some(0.0),
                        fluency: Some(0.75),
                        coherence: Some(0.5),
                    }),
                },
            };
            answers.insert(*q, a);
        }
        for q in &plan.second {
            let Question::Factor(FactorQuestion::Checks {
                text,
                kinds,
                coverage,
                ..
            }) = q
            else {
                continue;
            };
            let mut c = FactChecks {
                covered: coverage.map(|s| yes(n_facts(s), 1)),
                ..Default::default()
            };
            for k in kinds.iter() {
                c.set(k, yes(n_facts(*text), k as u32));
            }
            answers.insert(
                *q,
                Answer::FactChecks {
                    fact_checks: Box::new(c),
                },
            );
        }
        let held = plan
            .first
            .iter()
            .chain(&plan.second)
            .filter(|q| answers.get(q).is_some())
            .count() as u64;
        let stats = RunStats {
            questions: plan.len() as u64,
            succeeded: held,
            skipped_empty: plan.len() as u64 - held,
            templates: ["facts@1".to_owned(), "fact_checks@1".to_owned()]
                .into_iter()
                .collect(),
            ..RunStats::default()
        };
        (ds, factors, plan, answers, stats)
    }

    #[test]
    fn a_run_memo_gives_every_value_of_its_answers_without_decoding_them() {
        for logprobs in [false, true] {
            let opts = ExtractOptions {
                logprobs,
                summaries: true,
            };
            let (ds, factors, plan, answers, stats) = extraction(opts);
            assert!(plan.second.len() > 1, "fact checks are planned");
            let bytes = encode_run(&plan, &ds, &factors, opts, &answers, &stats, 12.5)
                .expect("a settled run is kept");
            let (values, memo) = decode_run(bytes, &factors, opts).expect("decodes");
            assert_eq!(memo.shape, plan.shape());
            assert_eq!(memo.naive_calls, 12.5);
            assert_eq!(memo.stats.questions, plan.len() as u64);
            assert_eq!(
                memo.stats.cache_hits + memo.stats.skipped_empty,
                plan.len() as u64
            );
            assert_eq!(memo.stats.templates, stats.templates);
            let back = Answers::from_memo(values);
            assert!(back.is_memo() && !back.memo_decoded());
            assert_eq!(back.len() as u64, memo.stats.cache_hits);
            let mut known = 0;
            for p in &ds.pairs {
                for t in [p.a, p.b] {
                    for &f in &factors {
                        let want = answers.value(f, p, t, opts);
                        assert_eq!(back.value(f, p, t, opts), want, "{f:?}");
                        known += usize::from(f.needs_model() && want.is_some());
                    }
                }
            }
            assert!(known > ds.pairs.len() * 2 * 5, "{known} values known");
            assert!(!back.memo_decoded(), "the values need no answer decoded");
            // Other options: the values are read from the answers.
            let other = ExtractOptions {
                logprobs: !logprobs,
                ..opts
            };
            let p = &ds.pairs[0];
            assert_eq!(
                back.value(Factor::Fluency, p, p.a, other),
                answers.value(Factor::Fluency, p, p.a, other)
            );
            // The answers, decoded when first asked for, are the run's.
            for q in plan.first.iter().chain(&plan.second) {
                assert_eq!(back.get(q), answers.get(q), "{q:?}");
            }
            assert!(back.memo_decoded());
            for (t, _) in ds.texts.iter() {
                assert_eq!(back.facts(t), answers.facts(t));
            }
            // An insert keeps them and adds to them.
            let mut more = back.clone();
            let q = Question::facts(TextId(999));
            more.insert(q, Answer::Facts(vec!["x".into()]));
            assert!(!more.is_memo());
            assert_eq!(more.len(), back.len() + 1);
            assert_eq!(more.get(&plan.first[0]), answers.get(&plan.first[0]));
        }
    }

    #[test]
    fn a_damaged_or_foreign_run_memo_is_a_miss_never_a_panic() {
        let opts = ExtractOptions {
            logprobs: false,
            summaries: true,
        };
        let (ds, factors, plan, answers, stats) = extraction(opts);
        let bytes = encode_run(&plan, &ds, &factors, opts, &answers, &stats, 1.0).expect("kept");
        assert!(decode_run(bytes.clone(), &factors, opts).is_some());
        for n in 0..bytes.len() {
            assert!(
                decode_run(bytes[..n].to_vec(), &factors, opts).is_none(),
                "cut at {n}"
            );
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x41;
            assert!(decode_run(b, &factors, opts).is_none(), "byte {i} flipped");
        }
        // A wrong checksum over an intact body.
        let mut b = bytes.clone();
        b[8] ^= 1;
        assert!(decode_run(b, &factors, opts).is_none());
        // An older format (another magic), and a stage memo, are misses;
        // so is a run memo read as a stage memo.
        let mut old = bytes.clone();
        old[6] = 0;
        assert!(decode_run(old, &factors, opts).is_none());
        let stage = encode(&plan, &answers, &stats);
        assert!(decode_run(stage, &factors, opts).is_none());
        assert!(decode(&bytes, &plan).is_none());
        // Other options or factors.
        let lp = ExtractOptions {
            logprobs: true,
            ..opts
        };
        assert!(decode_run(bytes.clone(), &factors, lp).is_none());
        let fewer: Vec<Factor> = factors
            .iter()
            .copied()
            .filter(|&f| f != Factor::Fluency)
            .collect();
        assert!(decode_run(bytes.clone(), &fewer, opts).is_none());
        // A run that did not settle is not kept.
        let failed = RunStats {
            failed: 1,
            ..stats.clone()
        };
        assert!(encode_run(&plan, &ds, &factors, opts, &answers, &failed, 1.0).is_none());
    }

    #[test]
    fn the_run_key_follows_the_factors_the_options_the_pairs_and_the_build() {
        let opts = ExtractOptions {
            logprobs: false,
            summaries: true,
        };
        let (ds, factors, _, _, _) = extraction(opts);
        let cfg = ModelConfig::new(crate::llm::provider::Provider::OpenAi, "m");
        let k = run_key(&factors, &ds, opts, &cfg, "b1");
        assert_eq!(k, run_key(&factors, &ds, opts, &cfg, "b1"));
        assert_ne!(k, run_key(&factors, &ds, opts, &cfg, "b2"));
        assert_ne!(k, run_key(&factors[1..], &ds, opts, &cfg, "b1"));
        let lp = ExtractOptions {
            logprobs: true,
            ..opts
        };
        assert_ne!(k, run_key(&factors, &ds, lp, &cfg, "b1"));
        let other = ModelConfig::new(crate::llm::provider::Provider::OpenAi, "n");
        assert_ne!(k, run_key(&factors, &ds, opts, &other, "b1"));
        let mut swapped = ds.clone();
        let p = &mut swapped.pairs[0];
        std::mem::swap(&mut p.a, &mut p.b);
        assert_ne!(k, run_key(&factors, &swapped, opts, &cfg, "b1"));
        let mut fewer = ds.clone();
        fewer.pairs.pop();
        assert_ne!(k, run_key(&factors, &fewer, opts, &cfg, "b1"));
        assert_ne!(
            k,
            key(&Plan::default(), &ds, opts, &cfg, "b1"),
            "not a stage key"
        );
    }

    /// A summarization dataset of 8 pairs (labels A, B and tie, two pairs
    /// the same) and a settled judge run of it in `order`: its plan, its
    /// answers (every verdict kind, a different one per order so that
    /// flips, half ties and consistent pairs all occur) and statistics.
    fn judged(order: JudgeOrder) -> (Dataset, Plan, Answers, RunStats) {
        let prefs = ["a", "b", "tie", "a", "b", "a", "a", "b"];
        let lines: Vec<String> = prefs
            .iter()
            .enumerate()
            .map(|(i, pref)| {
                let i = if i == 7 { 6 } else { i }; // pair 7 repeats pair 6
                serde_json::json!({"input": "q", "source": format!("s {}. s two.", i % 3),
                    "response_a": format!("a {i}."), "response_b": format!("b {i}. more."),
                    "preference": pref})
                .to_string()
            })
            .collect();
        let ds = load_bytes(lines.join("\n").as_bytes(), FormatOptions::default()).expect("loads");
        let task = crate::factors::Task::Summarization;
        let plan = crate::llm::roles::judge_plan(&ds, task, order);
        let mut answers = Answers::default();
        for (i, q) in plan.first.iter().enumerate() {
            let better = ["1", "2", "tie", "1", "2"][(i * 7 / 3) % 5];
            answers.insert(
                *q,
                Answer::Verdict {
                    verdict: Verdict {
                        better: better.into(),
                        justification: format!("because {i}"),
                    },
                },
            );
        }
        let stats = RunStats {
            questions: plan.len() as u64,
            succeeded: plan.len() as u64,
            calls: plan.len() as u64,
            templates: ["judge_summarization@1".to_owned()].into_iter().collect(),
            ..RunStats::default()
        };
        (ds, plan, answers, stats)
    }

    /// Single order with a seed that shows some pairs A first and some B
    /// first.
    fn mixed_single(ds: &Dataset) -> JudgeOrder {
        (0..64)
            .map(|seed| JudgeOrder::Single { seed })
            .find(|&o| {
                let JudgeOrder::Single { seed } = o else {
                    unreachable!()
                };
                let a = ds
                    .pairs
                    .iter()
                    .filter(|p| crate::llm::roles::shows_a_first(ds, p, seed))
                    .count();
                a > 0 && a < ds.pairs.len()
            })
            .expect("a seed that shows both")
    }

    #[test]
    fn a_judge_run_memo_gives_the_outcome_of_its_answers() {
        let task = crate::factors::Task::Summarization;
        let (ds, ..) = judged(JudgeOrder::Both);
        for order in [JudgeOrder::Both, mixed_single(&ds)] {
            let (ds, plan, answers, stats) = judged(order);
            let want = crate::llm::roles::judge_outcome(&ds, task, order, &answers);
            if order == JudgeOrder::Both {
                assert!(want.flipped > 0 && want.consistent > 0 && want.half_ties > 0);
            } else {
                assert!(want.swapped > 0 && want.swapped < want.judged);
            }
            let bytes = encode_judge_run(&plan, &ds, task, order, &answers, &stats)
                .expect("a settled run is kept");
            let memo = decode_judge_run(&bytes, order, ds.pairs.len()).expect("decodes");
            assert_eq!(memo.shape, plan.shape());
            assert_eq!(
                (
                    memo.stats.questions,
                    memo.stats.cache_hits,
                    memo.stats.calls
                ),
                (plan.len() as u64, plan.len() as u64, 0)
            );
            assert_eq!(memo.stats.templates, stats.templates);
            assert_eq!(
                crate::llm::roles::outcome_of_verdicts(&ds, order, &memo.verdicts),
                want
            );
        }
        // Verdicts that are missing (questions skipped) stay missing.
        let (ds, plan, mut answers, mut stats) = judged(JudgeOrder::Both);
        answers = {
            let mut fewer = Answers::default();
            for q in &plan.first[1..] {
                fewer.insert(*q, answers.get(q).expect("answered").clone());
            }
            fewer
        };
        (stats.succeeded, stats.skipped_empty) = (plan.len() as u64 - 1, 1);
        let want = crate::llm::roles::judge_outcome(&ds, task, JudgeOrder::Both, &answers);
        assert_eq!(want.preferences[0], None);
        let bytes =
            encode_judge_run(&plan, &ds, task, JudgeOrder::Both, &answers, &stats).expect("kept");
        let memo = decode_judge_run(&bytes, JudgeOrder::Both, ds.pairs.len()).expect("decodes");
        assert_eq!(memo.stats.skipped_empty, 1);
        assert_eq!(
            crate::llm::roles::outcome_of_verdicts(&ds, JudgeOrder::Both, &memo.verdicts),
            want
        );
    }

    #[test]
    fn a_damaged_or_foreign_judge_run_memo_is_a_miss_never_a_panic() {
        let task = crate::factors::Task::Summarization;
        let (ds, ..) = judged(JudgeOrder::Both);
        let single = mixed_single(&ds);
        for order in [JudgeOrder::Both, single] {
            let (ds, plan, answers, stats) = judged(order);
            let n = ds.pairs.len();
            let bytes = encode_judge_run(&plan, &ds, task, order, &answers, &stats).expect("kept");
            assert!(decode_judge_run(&bytes, order, n).is_some());
            for cut in 0..bytes.len() {
                assert!(
                    decode_judge_run(&bytes[..cut], order, n).is_none(),
                    "cut at {cut}"
                );
            }
            for i in 0..bytes.len() {
                let mut b = bytes.clone();
                b[i] ^= 0x41;
                assert!(decode_judge_run(&b, order, n).is_none(), "byte {i} flipped");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode_judge_run(&longer, order, n).is_none());
            // Another order or seed, or another number of pairs.
            let other = match order {
                JudgeOrder::Both => single,
                JudgeOrder::Single { seed } => JudgeOrder::Single { seed: seed + 1 },
            };
            assert!(decode_judge_run(&bytes, other, n).is_none());
            assert!(decode_judge_run(&bytes, order, n - 1).is_none());
            // An older format, and memos of other kinds, are misses both ways.
            let mut old = bytes.clone();
            old[6] = 0;
            assert!(decode_judge_run(&old, order, n).is_none());
            let stage = encode(&plan, &answers, &stats);
            assert!(decode_judge_run(&stage, order, n).is_none());
            assert!(decode(&bytes, &plan).is_none());
            let factors = crate::factors::Task::Summarization.factors();
            let opts = ExtractOptions::default();
            assert!(decode_run(bytes.clone(), factors, opts).is_none());
            // A run that did not settle, or answers of another plan, are not kept.
            let failed = RunStats {
                failed: 1,
                ..stats.clone()
            };
            assert!(encode_judge_run(&plan, &ds, task, order, &answers, &failed).is_none());
            let none = Answers::default();
            assert!(encode_judge_run(&plan, &ds, task, order, &none, &stats).is_none());
        }
        // An extraction's run memo read as a judge's.
        let opts = ExtractOptions {
            logprobs: false,
            summaries: true,
        };
        let (ds, factors, plan, answers, stats) = extraction(opts);
        let run = encode_run(&plan, &ds, &factors, opts, &answers, &stats, 1.0).expect("kept");
        assert!(decode_judge_run(&run, JudgeOrder::Both, ds.pairs.len()).is_none());
    }

    #[test]
    fn the_judge_run_key_follows_the_model_options_order_pairs_and_build() {
        use crate::factors::Task;
        let (ds, ..) = judged(JudgeOrder::Both);
        let single = mixed_single(&ds);
        let opts = ExtractOptions {
            logprobs: false,
            summaries: true,
        };
        let cfg = ModelConfig::new(crate::llm::provider::Provider::OpenAi, "m");
        let both = JudgeOrder::Both;
        let task = Task::Summarization;
        let k = judge_run_key(&ds, task, both, opts, &cfg, "b1");
        assert_eq!(k, judge_run_key(&ds, task, both, opts, &cfg, "b1"));
        assert_ne!(k, judge_run_key(&ds, task, both, opts, &cfg, "b2"));
        let other = ModelConfig::new(crate::llm::provider::Provider::OpenAi, "n");
        assert_ne!(k, judge_run_key(&ds, task, both, opts, &other, "b1"));
        let mut lp = cfg.clone();
        lp.logprobs = !lp.logprobs;
        assert_ne!(k, judge_run_key(&ds, task, both, opts, &lp, "b1"));
        let o2 = ExtractOptions {
            logprobs: true,
            ..opts
        };
        assert_ne!(k, judge_run_key(&ds, task, both, o2, &cfg, "b1"));
        assert_ne!(k, judge_run_key(&ds, Task::Helpful, both, opts, &cfg, "b1"));
        let ks = judge_run_key(&ds, task, single, opts, &cfg, "b1");
        assert_ne!(k, ks);
        let JudgeOrder::Single { seed } = single else {
            unreachable!()
        };
        let reseeded = JudgeOrder::Single { seed: seed + 1 };
        assert_ne!(ks, judge_run_key(&ds, task, reseeded, opts, &cfg, "b1"));
        let mut swapped = ds.clone();
        let p = &mut swapped.pairs[0];
        std::mem::swap(&mut p.a, &mut p.b);
        assert_ne!(k, judge_run_key(&swapped, task, both, opts, &cfg, "b1"));
        let mut fewer = ds.clone();
        fewer.pairs.pop();
        assert_ne!(k, judge_run_key(&fewer, task, both, opts, &cfg, "b1"));
        let text = r#"{"input": "q", "source": "s one. s two.", "response_a": "a one!", "response_b": "b one. b two.", "preference": "a"}"#;
        let ds2 = load_bytes(text.as_bytes(), FormatOptions::default()).expect("loads");
        let (ds1, ..) = plan_and_answers();
        assert_ne!(
            judge_run_key(&ds1, task, both, opts, &cfg, "b1"),
            judge_run_key(&ds2, task, both, opts, &cfg, "b1"),
            "a text changed"
        );
        // The human labels are not covered: the outcome is computed from them.
        let mut relabelled = ds.clone();
        relabelled.pairs[0].preference = crate::data::Preference::Tie;
        assert_eq!(k, judge_run_key(&relabelled, task, both, opts, &cfg, "b1"));
        // Not an extraction's key.
        let factors = Task::Summarization.factors();
        assert_ne!(k, run_key(factors, &ds, opts, &cfg, "b1"));
    }
}
