//! Models as judges and as writers (METHOD.md §7), as plans for the same
//! engine that extracts factors: the questions, their prompts and replies,
//! and how the answers become an agent's preferences.
//!
//! - **Judge** (evaluation setting): every dataset pair is shown as
//!   "Response 1 / Response 2", by default in both orders (position-bias
//!   control). When the two verdicts agree, that is the judge's preference;
//!   when they differ (the verdict followed the position, or one order said
//!   tie), the judge's preference for the pair is a tie. Genuine ties,
//!   position flips, position consistency and agreement both strict and
//!   order-averaged (a flip counts one half) are counted apart. In single
//!   order each pair is shown once, in the order of a coin flip seeded by the
//!   run's seed and the pair's texts ([`shows_a_first`]), never the
//!   dataset's order (HH-RLHF always lists the preferred response first).
//! - **Writer** (generation setting): for each sampled input (a cluster of the
//!   dataset) the model writes five responses meant for scores 1..5. Those
//!   become a generated dataset: for every two levels i < j, the level-j
//!   response is preferred (P never ties), so factors extracted from the
//!   generated texts show what the writer associates with quality.

use super::ask::PromptKind;
use super::cache::{KeyHasher, TextDigests};
use super::parse::{self, Better, ParseError};
use super::prompts;
pub use super::question::Guidance;
pub use super::question::Verdict;
use super::question::{
    Answer, Answers, Feedback, GenerateQuestion, ImproveQuestion, ImproveStep, JudgeQuestion, Plan,
    Question,
};
use super::Prompt;
use crate::data::{Dataset, Pair, Preference, TextId, TextStore};
use crate::factors::Task;

impl Verdict {
    fn better(&self) -> Better {
        match self.better.as_str() {
            "1" => Better::First,
            "2" => Better::Second,
            _ => Better::Tie,
        }
    }
}

/// The context a judge or writer sees: for document QA the documents and
/// the question; else the source (post, article) or, without one, the input.
pub fn context_text(
    task: Task,
    ds: &Dataset,
    input: Option<TextId>,
    source: Option<TextId>,
) -> String {
    let t = |id: TextId| ds.text(id);
    match (task, input, source) {
        (Task::DocQa, Some(i), Some(s)) => format!("Documents:\n{}\n\nQuestion:\n{}", t(s), t(i)),
        (Task::Summarization, _, Some(s)) => t(s).to_owned(),
        (_, Some(i), _) => t(i).to_owned(),
        (_, None, Some(s)) => t(s).to_owned(),
        (_, None, None) => String::new(),
    }
}

/// The digest of the context a judge or writer sees ([`context_text`]),
/// computed once per (task, input, source) in `d`.
fn context_digest(
    task: Task,
    ds: &Dataset,
    input: Option<TextId>,
    source: Option<TextId>,
    d: &mut TextDigests,
) -> super::cache::Digest {
    d.context(task.id(), input, source, || {
        context_text(task, ds, input, source)
    })
}

/// The kind of a judge's prompt ([`judge_prompt`]), without rendering it.
pub fn judge_template(q: &JudgeQuestion) -> PromptKind {
    PromptKind {
        template: judge_template_of(q.task, q.guidance.is_some()),
        want_logprobs: false,
    }
}

/// The template of a judge of `task` pairs, given guidance or not.
pub fn judge_template_of(task: Task, guided: bool) -> prompts::Template {
    match (task, guided) {
        (Task::Summarization, false) => prompts::JUDGE_SUMMARIZATION,
        (Task::Helpful, false) => prompts::JUDGE_HELPFUL,
        (Task::DocQa, false) => prompts::JUDGE_DOC_QA,
        (Task::Summarization, true) => prompts::JUDGE_SUMMARIZATION_GUIDED,
        (Task::Helpful, true) => prompts::JUDGE_HELPFUL_GUIDED,
        (Task::DocQa, true) => prompts::JUDGE_DOC_QA_GUIDED,
    }
}

/// The kind of the improvement writer's prompt ([`improve_prompt`]),
/// without rendering it.
pub fn improve_template(q: &ImproveQuestion) -> PromptKind {
    PromptKind {
        template: match q.step {
            ImproveStep::Draft => prompts::IMPROVE_DRAFT,
            ImproveStep::Revise { .. } => prompts::IMPROVE,
        },
        want_logprobs: false,
    }
}

/// The kind of a writer's prompt ([`generate_prompt`]), without rendering it.
pub fn generate_template(q: &GenerateQuestion) -> PromptKind {
    PromptKind {
        template: match q.task {
            Task::Summarization => prompts::GENERATE_SUMMARIZATION,
            Task::Helpful => prompts::GENERATE_HELPFUL,
            Task::DocQa => prompts::GENERATE_DOC_QA,
        },
        want_logprobs: false,
    }
}

/// Feeds a judge's question into a version-2 cache key: the digests of
/// [`judge_key_texts`].
pub fn judge_key_fields(q: &JudgeQuestion, ds: &Dataset, d: &mut TextDigests, h: &mut KeyHasher) {
    let context = context_digest(q.task, ds, q.input, q.source, d);
    let first = d.text(q.first, ds.text(q.first));
    let second = d.text(q.second, ds.text(q.second));
    h.str("judge").digest(context).digest(first).digest(second);
    // A guided judge's key also covers its sentence (as its legacy key does).
    if let Some(g) = q.guidance {
        h.str("guidance").str(&g.sentence());
    }
}

/// Feeds the improvement writer's question into a version-2 cache key: the
/// digests of [`improve_key_texts`].
pub fn improve_key_fields(
    q: &ImproveQuestion,
    ds: &Dataset,
    d: &mut TextDigests,
    h: &mut KeyHasher,
) {
    let context = context_digest(q.task, ds, q.input, q.source, d);
    h.str("improve").digest(context);
    match q.step {
        ImproveStep::Draft => {
            h.str("draft");
        }
        ImproveStep::Revise {
            first,
            second,
            feedback,
        } => {
            let first = d.text(first, ds.text(first));
            h.str("revise").digest(first);
            match second {
                Some(t) => h.str("second").digest(d.text(t, ds.text(t))),
                None => h.str("alone"),
            };
            match feedback {
                Some(f) => {
                    let j = d.text(f.justification, ds.text(f.justification));
                    h.str("feedback").u64(u64::from(f.better)).digest(j)
                }
                None => h.str("no feedback"),
            };
        }
    }
}

/// Feeds a writer's question into a version-2 cache key: the digest of
/// [`generate_key_texts`].
pub fn generate_key_fields(
    q: &GenerateQuestion,
    ds: &Dataset,
    d: &mut TextDigests,
    h: &mut KeyHasher,
) {
    let context = context_digest(q.task, ds, q.input, q.source, d);
    h.str("generate").digest(context);
}

/// The prompt of a judge's question.
pub fn judge_prompt(q: &JudgeQuestion, ds: &Dataset) -> Prompt {
    let context = context_text(q.task, ds, q.input, q.source);
    match q.guidance {
        None => prompts::judge(q.task, &context, ds.text(q.first), ds.text(q.second)),
        Some(g) => prompts::judge_guided(
            q.task,
            &g.sentence(),
            &context,
            ds.text(q.first),
            ds.text(q.second),
        ),
    }
}

/// The prompt of a writer's question.
pub fn generate_prompt(q: &GenerateQuestion, ds: &Dataset) -> Prompt {
    prompts::generate(q.task, &context_text(q.task, ds, q.input, q.source))
}

/// The prompt of the improvement experiment's writer.
pub fn improve_prompt(q: &ImproveQuestion, ds: &Dataset) -> Prompt {
    let context = context_text(q.task, ds, q.input, q.source);
    match q.step {
        ImproveStep::Draft => prompts::improve_draft(q.task, &context),
        ImproveStep::Revise {
            first,
            second,
            feedback,
        } => {
            let mut responses = vec![ds.text(first)];
            responses.extend(second.map(|t| ds.text(t)));
            prompts::improve(
                q.task,
                &context,
                &responses,
                feedback.map(|f| prompts::FeedbackText {
                    better: f.better,
                    justification: ds.text(f.justification),
                }),
            )
        }
    }
}

/// Parses the improvement experiment writer's reply: two first responses,
/// or one improved response, as [`Answer::Generations`].
pub fn parse_improve(q: &ImproveQuestion, reply: &str) -> Result<Answer, ParseError> {
    let generations = match q.step {
        ImproveStep::Draft => parse::parse_drafts(reply)?.to_vec(),
        ImproveStep::Revise { .. } => vec![parse::parse_improved(reply)?],
    };
    Ok(Answer::Generations { generations })
}

/// The texts the improvement writer's cache key covers: the context, the
/// step, and every response and feedback its prompt shows.
pub fn improve_key_texts(q: &ImproveQuestion, ds: &Dataset) -> Vec<String> {
    let mut texts = vec![context_text(q.task, ds, q.input, q.source)];
    match q.step {
        ImproveStep::Draft => texts.push("draft".into()),
        ImproveStep::Revise {
            first,
            second,
            feedback,
        } => {
            texts.push("revise".into());
            texts.push(ds.text(first).to_owned());
            texts.push(second.map_or("", |t| ds.text(t)).to_owned());
            texts.push(match feedback {
                None => String::new(),
                Some(f) => format!("feedback {}: {}", f.better, ds.text(f.justification)),
            });
        }
    }
    texts
}

/// Parses a judge's reply into its verdict.
pub fn parse_verdict(reply: &str) -> Result<Answer, ParseError> {
    parse::parse_judge(reply).map(|v| Answer::Verdict {
        verdict: Verdict {
            better: match v.better {
                Better::First => "1",
                Better::Second => "2",
                Better::Tie => "tie",
            }
            .to_owned(),
            justification: v.justification,
        },
    })
}

/// Parses a writer's reply into its five responses.
pub fn parse_generations(reply: &str) -> Result<Answer, ParseError> {
    parse::parse_generation(reply).map(|g| Answer::Generations {
        generations: g.to_vec(),
    })
}

/// The texts a judge's cache key covers.
/// A guided judge's key also covers its sentence of guidance (the plain
/// judge's keys are those of earlier versions).
pub fn judge_key_texts(q: &JudgeQuestion, ds: &Dataset) -> Vec<String> {
    let mut texts = vec![
        context_text(q.task, ds, q.input, q.source),
        ds.text(q.first).to_owned(),
        ds.text(q.second).to_owned(),
    ];
    if let Some(g) = q.guidance {
        texts.push(g.sentence());
    }
    texts
}

/// The texts a writer's cache key covers.
pub fn generate_key_texts(q: &GenerateQuestion, ds: &Dataset) -> Vec<String> {
    vec![context_text(q.task, ds, q.input, q.source)]
}

fn judge_question(task: Task, p: &Pair, forward: bool, guidance: Option<Guidance>) -> Question {
    let (first, second) = if forward { (p.a, p.b) } else { (p.b, p.a) };
    Question::Judge(JudgeQuestion {
        task,
        input: p.input,
        source: p.source,
        first,
        second,
        guidance,
    })
}

/// How a judge is shown each pair (METHOD.md §7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum JudgeOrder {
    /// Every pair twice, response A first and response B first
    /// (position-bias control).
    #[default]
    Both,
    /// Every pair once, in the order a seeded coin flip per pair picks
    /// ([`shows_a_first`]), never the dataset's own order: datasets such as
    /// HH-RLHF always list the preferred response first.
    Single { seed: u64 },
}

impl JudgeOrder {
    /// Both orders, or a single order seeded with `seed`.
    pub fn new(single_order: bool, seed: u64) -> JudgeOrder {
        if single_order {
            JudgeOrder::Single { seed }
        } else {
            JudgeOrder::Both
        }
    }

    /// Whether each pair is shown once.
    pub fn is_single(self) -> bool {
        matches!(self, JudgeOrder::Single { .. })
    }

    /// The orders pair `p` is shown in: `true` is response A first.
    fn shown(self, ds: &Dataset, p: &Pair) -> &'static [bool] {
        match self {
            JudgeOrder::Both => &[true, false],
            JudgeOrder::Single { seed } if shows_a_first(ds, p, seed) => &[true],
            JudgeOrder::Single { .. } => &[false],
        }
    }
}

/// FNV-1a, 64 bits: a hash that is the same on every platform and version
/// (the coin flip of a pair must reproduce in the CLI and the browser).
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The seeded coin flip of single-order judging: whether pair `p` is shown
/// with response A first. It depends on the seed and the pair's texts only
/// (input, source, A, B), not on the pair's position in the file, so a
/// sample or a `--limit` shows each pair the same way and reuses its cached
/// verdict.
pub fn shows_a_first(ds: &Dataset, p: &Pair, seed: u64) -> bool {
    let mut h = 0xcbf2_9ce4_8422_2325;
    for t in [p.input, p.source, Some(p.a), Some(p.b)] {
        if let Some(t) = t {
            h = fnv1a(h, ds.text(t).as_bytes());
        }
        // A separator that no UTF-8 text contains.
        h = fnv1a(h, &[0xff]);
    }
    crate::stats::Rng::new(seed ^ h).next_u64() >> 63 == 0
}

/// The judge's questions: every pair in the orders `order` shows it.
/// In both orders a pair gives the question with A first, then the one with
/// B first (so their cache keys are those of earlier versions).
pub fn judge_plan(ds: &Dataset, task: Task, order: JudgeOrder) -> Plan {
    guided_judge_plan(ds, task, order, &[None])
}

/// The questions of judges given each of `guidances` (`None`: no guidance),
/// every pair in the orders `order` shows it: for each guidance in turn, the
/// questions of [`judge_plan`].
pub fn guided_judge_plan(
    ds: &Dataset,
    task: Task,
    order: JudgeOrder,
    guidances: &[Option<Guidance>],
) -> Plan {
    let mut seen = rustc_hash::FxHashSet::default();
    let mut first = Vec::new();
    for &g in guidances {
        for p in &ds.pairs {
            for &forward in order.shown(ds, p) {
                let q = judge_question(task, p, forward, g);
                if seen.insert(q) {
                    first.push(q);
                }
            }
        }
    }
    Plan {
        first,
        ..Default::default()
    }
}

/// What a judge did on a dataset. A pair is *judged* when every order shown
/// has a verdict; the counts below are over judged pairs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JudgeOutcome {
    /// How the pairs were shown.
    pub order: JudgeOrder,
    /// The judge's preference per pair (`None`: a verdict is missing). In
    /// both orders, a pair whose two verdicts differ is a tie.
    pub preferences: Vec<Option<Preference>>,
    /// Pairs with every verdict.
    pub judged: u64,
    /// Both orders: pairs with the same verdict in both orders (the same
    /// response, or a tie both times).
    pub consistent: u64,
    /// Both orders: pairs where the verdict followed the position, naming
    /// response 1 both times or response 2 both times (a position flip).
    pub flipped: u64,
    /// The pairs counted in [`JudgeOutcome::flipped`] (their index in the
    /// dataset), each with the position named both times.
    pub followed_position: Vec<(u32, Better)>,
    /// Pairs the judge called a tie in every order shown (genuine ties).
    pub ties: u64,
    /// Both orders: pairs called a tie in one order and decided in the other.
    pub half_ties: u64,
    /// Pairs whose preference (as in [`JudgeOutcome::preferences`]) equals the
    /// human label: strict agreement, a flip counts as a disagreement.
    pub agree: u64,
    /// Verdicts equal to the human label, each order counted on its own (a
    /// flip gives one of two).
    pub agreeing_verdicts: u64,
    /// Verdicts naming the response shown first ("1"), and shown second.
    pub first_position: u64,
    pub second_position: u64,
    /// Single order: judged pairs shown with response B first.
    pub swapped: u64,
}

impl JudgeOutcome {
    fn share(&self, k: u64) -> Option<f64> {
        (self.judged > 0).then(|| k as f64 / self.judged as f64)
    }

    /// Both orders: share of judged pairs with the same verdict in both orders.
    pub fn position_consistency(&self) -> Option<f64> {
        self.share(self.consistent)
    }

    /// Both orders: share of judged pairs whose verdict followed the position.
    pub fn flipped_share(&self) -> Option<f64> {
        self.share(self.flipped)
    }

    /// Agreement with the human labels of the judged pairs: strict (the
    /// pair's preference; in both orders a flip or a half tie is a
    /// disagreement), order-averaged (every verdict on its own, so a flip
    /// counts one half; in single order the same as strict), genuine ties,
    /// flips and half ties as shares of the judged pairs.
    pub fn agreement(&self) -> crate::stats::Agreement {
        let orders = if self.order.is_single() { 1 } else { 2 };
        let both = !self.order.is_single();
        crate::stats::Agreement {
            rate: self.share(self.agree),
            tie_rate: self.share(self.ties),
            n_pairs: self.judged,
            order_averaged: (self.judged > 0)
                .then(|| self.agreeing_verdicts as f64 / (orders * self.judged) as f64),
            flip_rate: both.then(|| self.share(self.flipped)).flatten(),
            half_tie_rate: both.then(|| self.share(self.half_ties)).flatten(),
        }
    }

    /// Share of the judge's non-tie verdicts that named the response shown
    /// first. A judge that reads the content names either about equally
    /// often in single order (the order is a fair coin flip); one that
    /// follows the position names one of them nearly always.
    pub fn first_position_share(&self) -> Option<f64> {
        let n = self.first_position + self.second_position;
        (n > 0).then(|| self.first_position as f64 / n as f64)
    }
}

/// The judge's preferences from its answers, with the counts of
/// [`JudgeOutcome`] against the dataset's human labels.
pub fn judge_outcome(
    ds: &Dataset,
    task: Task,
    order: JudgeOrder,
    answers: &Answers,
) -> JudgeOutcome {
    guided_judge_outcome(ds, task, order, None, answers)
}

/// The verdicts a judge gave one pair, in the orders it was shown
/// (`None`: no verdict for that order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairVerdicts {
    /// Both orders: response A shown first, then response B first.
    Both {
        a_first: Option<Better>,
        b_first: Option<Better>,
    },
    /// Once, with response A first or not.
    Once {
        a_first: bool,
        verdict: Option<Better>,
    },
}

/// [`judge_outcome`] of the judge given `guidance`.
pub fn guided_judge_outcome(
    ds: &Dataset,
    task: Task,
    order: JudgeOrder,
    guidance: Option<Guidance>,
    answers: &Answers,
) -> JudgeOutcome {
    outcome_of_verdicts(
        ds,
        order,
        &guided_judge_verdicts(ds, task, order, guidance, answers),
    )
}

/// The verdicts of the judge given `guidance`, pair by pair, in the orders
/// `order` shows each pair: what its outcome is computed from.
pub fn guided_judge_verdicts(
    ds: &Dataset,
    task: Task,
    order: JudgeOrder,
    guidance: Option<Guidance>,
    answers: &Answers,
) -> Vec<PairVerdicts> {
    let verdict =
        |p: &Pair, forward: bool| match answers.get(&judge_question(task, p, forward, guidance)) {
            Some(Answer::Verdict { verdict }) => Some(verdict.better()),
            _ => None,
        };
    ds.pairs
        .iter()
        .map(|p| match order.shown(ds, p) {
            [a_first] => PairVerdicts::Once {
                a_first: *a_first,
                verdict: verdict(p, *a_first),
            },
            _ => PairVerdicts::Both {
                a_first: verdict(p, true),
                b_first: verdict(p, false),
            },
        })
        .collect()
}

/// The judge's preferences from its verdicts on `ds`'s pairs (in order,
/// one per pair, as [`guided_judge_verdicts`] gives them), with the counts
/// of [`JudgeOutcome`] against the dataset's human labels.
pub fn outcome_of_verdicts(
    ds: &Dataset,
    order: JudgeOrder,
    pair_verdicts: &[PairVerdicts],
) -> JudgeOutcome {
    let mut out = JudgeOutcome {
        order,
        ..Default::default()
    };
    for (p, v) in ds.pairs.iter().zip(pair_verdicts) {
        let (shown, n) = match *v {
            PairVerdicts::Both { a_first, b_first } => ([(true, a_first), (false, b_first)], 2),
            PairVerdicts::Once { a_first, verdict } => ([(a_first, verdict); 2], 1),
        };
        let verdicts: Option<Vec<(Better, Preference)>> = shown[..n]
            .iter()
            .map(|&(forward, b)| b.map(|b| (b, b.preference(forward))))
            .collect();
        let Some(verdicts) = verdicts else {
            out.preferences.push(None);
            continue;
        };
        out.judged += 1;
        for &(b, pref) in &verdicts {
            match b {
                Better::First => out.first_position += 1,
                Better::Second => out.second_position += 1,
                Better::Tie => {}
            }
            if pref == p.preference {
                out.agreeing_verdicts += 1;
            }
        }
        let pref = match verdicts.as_slice() {
            [(_, pref)] => {
                if !shown[0].0 {
                    out.swapped += 1;
                }
                *pref
            }
            [(f, pf), (r, pr)] => {
                if pf == pr {
                    out.consistent += 1;
                } else if f == r {
                    out.flipped += 1;
                    out.followed_position
                        .push((out.preferences.len() as u32, *f));
                } else {
                    out.half_ties += 1;
                }
                if pf == pr {
                    *pf
                } else {
                    Preference::Tie
                }
            }
            _ => Preference::Tie,
        };
        if verdicts.iter().all(|(b, _)| *b == Better::Tie) {
            out.ties += 1;
        }
        if pref == p.preference {
            out.agree += 1;
        }
        out.preferences.push(Some(pref));
    }
    out
}

/// The writer's questions: one per input (cluster), for the first `limit`
/// inputs (all when `None`).
pub fn generate_plan(ds: &Dataset, task: Task, limit: Option<usize>) -> Plan {
    let mut seen = rustc_hash::FxHashSet::default();
    let mut first = Vec::new();
    for p in &ds.pairs {
        if limit.is_some_and(|n| seen.len() >= n) {
            break;
        }
        if seen.insert(p.cluster) {
            first.push(Question::Generate(GenerateQuestion {
                task,
                input: p.input,
                source: p.source,
            }));
        }
    }
    Plan {
        first,
        ..Default::default()
    }
}

/// What a writer produced.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// Five responses per input, and for every two score levels i < j a
    /// pair preferring the level-j response.
    pub dataset: Dataset,
    /// For each cluster of `dataset`, the input (cluster of the source
    /// dataset) it was written for.
    pub source_clusters: Vec<u32>,
    /// Inputs whose generation failed (left out).
    pub missing: u64,
}

/// The dataset a writer produced. Inputs whose generation failed are left
/// out (and counted).
pub fn generated_dataset(ds: &Dataset, plan: &Plan, answers: &Answers) -> Generated {
    // The source input of each writer question, in plan order.
    let mut first_pair: rustc_hash::FxHashMap<(Option<TextId>, Option<TextId>), u32> =
        Default::default();
    for p in &ds.pairs {
        first_pair.entry((p.input, p.source)).or_insert(p.cluster);
    }
    let mut source_clusters = Vec::new();
    let mut texts = TextStore::new();
    let mut pairs = Vec::new();
    let mut missing = 0;
    let mut cluster = 0u32;
    let mut line = 0u64;
    for q in &plan.first {
        let Question::Generate(GenerateQuestion { input, source, .. }) = *q else {
            continue;
        };
        let Some(Answer::Generations { generations }) = answers.get(q) else {
            missing += 1;
            continue;
        };
        source_clusters.push(first_pair.get(&(input, source)).copied().unwrap_or(0));
        let input = input.map(|t| texts.intern(ds.text(t)));
        let source = source.map(|t| texts.intern(ds.text(t)));
        let ids: Vec<TextId> = generations.iter().map(|g| texts.intern(g)).collect();
        for lo in 0..ids.len() {
            for hi in lo + 1..ids.len() {
                line += 1;
                pairs.push(Pair {
                    cluster,
                    input,
                    source,
                    a: ids[hi],
                    b: ids[lo],
                    preference: Preference::A,
                    line,
                    rows: [crate::data::NO_ROW; 2],
                });
            }
        }
        cluster += 1;
    }
    let mut out = Dataset {
        format: ds.format,
        pairs,
        texts,
        n_clusters: cluster,
        task_hint: ds.task_hint,
        ..Default::default()
    };
    out.stats.records_read = out.pairs.len() as u64;
    out.stats.records_parsed = out.pairs.len() as u64;
    Generated {
        dataset: out,
        source_clusters,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_bytes, FormatOptions};

    fn ds() -> Dataset {
        let rows = [
            ("q1", "short", "a much longer answer", "b"),
            ("q1", "short", "mid answer", "a"),
            ("q2", "x", "y", "a"),
        ];
        let text: Vec<String> = rows
            .iter()
            .map(|(i, a, b, p)| {
                serde_json::json!({"input": i, "response_a": a, "response_b": b, "preference": p})
                    .to_string()
            })
            .collect();
        load_bytes(text.join("\n").as_bytes(), FormatOptions::default()).unwrap()
    }

    fn verdict(b: &str) -> Answer {
        Answer::Verdict {
            verdict: Verdict {
                better: b.into(),
                justification: "because".into(),
            },
        }
    }

    #[test]
    fn both_orders_give_consistency_flips_and_ties() {
        let d = ds();
        let plan = judge_plan(&d, Task::Helpful, JudgeOrder::Both);
        assert_eq!(plan.first.len(), 6);
        let mut a = Answers::default();
        let qs = &plan.first;
        // Pair 0 (humans: B): prefers B in both orders (consistent).
        a.insert(qs[0], verdict("2"));
        a.insert(qs[1], verdict("1"));
        // Pair 1 (humans: A): "1" both times: followed the position → a tie,
        // but a flip, not a genuine tie.
        a.insert(qs[2], verdict("1"));
        a.insert(qs[3], verdict("1"));
        // Pair 2: one order missing → not judged.
        a.insert(qs[4], verdict("1"));
        let o = judge_outcome(&d, Task::Helpful, JudgeOrder::Both, &a);
        assert_eq!(
            o.preferences,
            vec![Some(Preference::B), Some(Preference::Tie), None]
        );
        assert_eq!(
            (o.judged, o.consistent, o.flipped, o.ties, o.half_ties),
            (2, 1, 1, 0, 0)
        );
        assert_eq!(o.position_consistency(), Some(0.5));
        let ag = o.agreement();
        // Strict: pair 0 agrees, the flip does not; verdict by verdict: 2 +
        // 1 of 4.
        assert_eq!((ag.rate, ag.order_averaged), (Some(0.5), Some(0.75)));
        assert_eq!((ag.tie_rate, ag.flip_rate), (Some(0.0), Some(0.5)));
        assert_eq!(o.first_position_share(), Some(0.75));
        // A genuine tie (both orders) and a tie in one order only.
        a.insert(qs[0], verdict("tie"));
        a.insert(qs[1], verdict("tie"));
        a.insert(qs[5], verdict("tie"));
        let o = judge_outcome(&d, Task::Helpful, JudgeOrder::Both, &a);
        assert_eq!(
            o.preferences,
            vec![
                Some(Preference::Tie),
                Some(Preference::Tie),
                Some(Preference::Tie)
            ]
        );
        assert_eq!(
            (o.judged, o.consistent, o.flipped, o.ties, o.half_ties),
            (3, 1, 1, 1, 1)
        );
        let ag = o.agreement();
        assert_eq!((ag.rate, ag.tie_rate), (Some(0.0), Some(1.0 / 3.0)));
        assert_eq!(ag.half_tie_rate, Some(1.0 / 3.0));
        // Pair 2 (humans: A): "1" with A first agrees, the tie does not.
        assert_eq!(ag.order_averaged, Some(2.0 / 6.0));
    }

    #[test]
    fn single_order_is_a_seeded_coin_flip_per_pair() {
        // 200 pairs whose preferred response always comes first (as in HH-RLHF).
        let rows: Vec<String> = (0..200)
            .map(|i| {
                serde_json::json!({"input": format!("q{i}"), "response_a": format!("chosen {i}"),
                                   "response_b": format!("rejected {i}"), "preference": "a"})
                .to_string()
            })
            .collect();
        let d = load_bytes(rows.join("\n").as_bytes(), FormatOptions::default()).unwrap();
        let order = JudgeOrder::Single { seed: 42 };
        let plan = judge_plan(&d, Task::Helpful, order);
        assert_eq!(plan.first.len(), 200);
        let a_first = plan
            .first
            .iter()
            .zip(&d.pairs)
            .filter(
                |(q, p)| matches!(q, Question::Judge(JudgeQuestion { first, .. }) if *first == p.a),
            )
            .count();
        assert!(
            (80..=120).contains(&a_first),
            "{a_first} of 200 shown A first"
        );
        // The same seed gives the same orders; another seed others.
        assert_eq!(judge_plan(&d, Task::Helpful, order).first, plan.first);
        assert_ne!(
            judge_plan(&d, Task::Helpful, JudgeOrder::Single { seed: 7 }).first,
            plan.first
        );
        // The flip depends on the pair's texts, not its place in the file.
        let mut tail = d.clone();
        tail.pairs.drain(..100);
        assert_eq!(
            judge_plan(&tail, Task::Helpful, order).first,
            plan.first[100..]
        );
        // A judge that always answers "1" agrees with people on the pairs
        // shown A first only: about half, not all.
        let mut answers = Answers::default();
        for q in &plan.first {
            answers.insert(*q, verdict("1"));
        }
        let o = judge_outcome(&d, Task::Helpful, order, &answers);
        assert_eq!(o.judged, 200);
        assert_eq!(o.swapped, 200 - a_first as u64);
        let ag = o.agreement();
        assert_eq!(ag.rate, Some(a_first as f64 / 200.0));
        assert_eq!(ag.order_averaged, ag.rate);
        assert_eq!((ag.flip_rate, ag.half_tie_rate), (None, None));
        assert_eq!(o.first_position_share(), Some(1.0));
        assert_eq!(o.position_consistency(), Some(0.0));
    }

    #[test]
    fn both_order_questions_keep_their_cache_keys() {
        use crate::llm::engine::question_key;
        use crate::llm::provider::{ModelConfig, Provider};
        let d = ds();
        let plan = judge_plan(&d, Task::Helpful, JudgeOrder::Both);
        let cfg = ModelConfig::new(Provider::OpenAi, "gpt-4o-mini");
        let keys: Vec<String> = plan
            .first
            .iter()
            .map(|q| {
                let p = crate::llm::ask::prompt(q, &d, &Answers::default(), Default::default());
                question_key(&cfg, q, &p.unwrap(), &d, &Answers::default())
            })
            .collect();
        // The keys of the first pair's two questions as earlier versions
        // computed them (A first, then B first): answers already paid for
        // are found again.
        assert_eq!(keys[..2], [KEY_A_FIRST, KEY_B_FIRST]);
        assert_eq!(keys.len(), 6);
    }

    #[test]
    fn guided_questions_key_apart_per_guidance_and_leave_the_plain_keys() {
        use crate::factors::Factor;
        use crate::llm::engine::question_key;
        use crate::llm::provider::{ModelConfig, Provider};
        let d = ds();
        let cfg = ModelConfig::new(Provider::OpenAi, "gpt-4o-mini");
        let g = |factor, over| Some(Guidance { factor, over });
        let guidances = [
            None,
            g(Factor::Length, true),
            g(Factor::Length, false),
            g(Factor::NFacts, true),
        ];
        let plan = guided_judge_plan(&d, Task::Helpful, JudgeOrder::Both, &guidances);
        assert_eq!(plan.first.len(), 24, "6 questions per guidance");
        let keys: Vec<String> = plan
            .first
            .iter()
            .map(|q| {
                let p = crate::llm::ask::prompt(q, &d, &Answers::default(), Default::default());
                question_key(&cfg, q, &p.unwrap(), &d, &Answers::default())
            })
            .collect();
        assert_eq!(
            keys[..2],
            [KEY_A_FIRST, KEY_B_FIRST],
            "no guidance: the plain judge's keys"
        );
        let unique: std::collections::BTreeSet<&String> = keys.iter().collect();
        assert_eq!(unique.len(), 24, "each guidance keys apart");
        let Question::Judge(q) = plan.first[6] else {
            panic!()
        };
        let p = judge_prompt(&q, &d);
        assert_eq!(p.template_id(), "judge_helpful_guided@1");
        assert!(p
            .system
            .contains("The length of the response is not what makes a response better here."));
        let Question::Judge(q) = plan.first[12] else {
            panic!()
        };
        assert!(judge_prompt(&q, &d)
            .system
            .contains("Pay attention to the length of the response."));
    }

    /// From `profile batch export --run judge` of the version before the
    /// coin flip (its `custom_id`s are the cache keys).
    const KEY_A_FIRST: &str = "1857b693052d1690c6ecd5d93bebdd40";
    const KEY_B_FIRST: &str = "f7299a365e7faa6eb97e55dffac353c0";

    #[test]
    fn replies_parse_and_malformed_generations_fail() {
        let d = ds();
        let g = generate_plan(&d, Task::Helpful, None);
        assert_eq!(g.first.len(), 2);
        assert_eq!(generate_plan(&d, Task::Helpful, Some(1)).first.len(), 1);
        let q = g.first[0];
        let parse_reply = |q: &Question, reply: &str| match q {
            Question::Judge(_) => Some(parse_verdict(reply)),
            Question::Generate(_) => Some(parse_generations(reply)),
            Question::Factor(_) | Question::Improve(_) => None,
        };
        let five = (1..=5)
            .map(|k| format!("SCORE {k}\nAnswer number {k}."))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(matches!(
            parse_reply(&q, &five),
            Some(Ok(Answer::Generations { .. }))
        ));
        assert!(matches!(parse_reply(&q, "SCORE 1\nonly one"), Some(Err(_))));
        let j = judge_plan(&d, Task::Helpful, JudgeOrder::Single { seed: 1 }).first[0];
        assert!(matches!(
            parse_reply(&j, r#"{"better": "tie", "justification": "same"}"#),
            Some(Ok(Answer::Verdict { .. }))
        ));
        assert!(matches!(parse_reply(&j, "I like the first"), Some(Err(_))));
        // The generated dataset: 10 pairs per input, higher level preferred.
        let mut a = Answers::default();
        a.insert(
            q,
            Answer::Generations {
                generations: (1..=5).map(|k| "w ".repeat(k)).collect(),
            },
        );
        let out = generated_dataset(&d, &g, &a);
        let (gen, missing) = (&out.dataset, out.missing);
        assert_eq!((gen.pairs.len(), gen.n_clusters, missing), (10, 1, 1));
        assert_eq!(out.source_clusters, [d.pairs[0].cluster]);
        let p = gen.pairs[0];
        assert!(gen.text(p.a).len() > gen.text(p.b).len());
        assert_eq!(gen.text(p.input.unwrap()), "q1");
        assert!(gen.pairs.iter().all(|p| p.preference == Preference::A));
        // The judge sees the documents and the question for document QA.
        assert_eq!(
            context_text(
                Task::Helpful,
                &d,
                p.input.map(|_| d.pairs[0].input.unwrap()),
                None
            ),
            "q1"
        );
    }
}

// ---------------------------------------------------------------------------
// Feedback-driven improvement (METHOD.md §8)

/// A condition of the improvement experiment: how the improved response was
/// written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Condition {
    /// From both first responses and the evaluator's feedback.
    Feedback,
    /// Baseline: from both first responses, without feedback.
    Both,
    /// Baseline: from each first response alone, without feedback (two
    /// improved responses).
    Single,
}

impl Condition {
    pub const ALL: [Condition; 3] = [Condition::Feedback, Condition::Both, Condition::Single];

    /// The condition's name in reports: `feedback`, `both`, `single`.
    pub fn id(self) -> &'static str {
        match self {
            Condition::Feedback => "feedback",
            Condition::Both => "both",
            Condition::Single => "single",
        }
    }
}

/// One input of the improvement experiment, as far as it got.
#[derive(Clone, Debug, PartialEq)]
pub struct ImproveInput {
    /// The input's cluster in the dataset.
    pub cluster: u32,
    pub input: Option<TextId>,
    pub source: Option<TextId>,
    /// The writer's two first responses.
    pub drafts: Option<[TextId; 2]>,
    /// The evaluator's verdict on them, with its justification.
    pub feedback: Option<Feedback>,
    /// The improved responses: with feedback, from both without, and from
    /// each first response alone.
    pub with_feedback: Option<TextId>,
    pub from_both: Option<TextId>,
    pub from_single: [Option<TextId>; 2],
}

/// The improvement experiment's texts and where each input got: the
/// dataset's texts plus every text written (`dataset`: its pairs are the
/// dataset's), so that questions about written texts are asked on it.
#[derive(Clone, Debug)]
pub struct Improvement {
    pub task: Task,
    pub dataset: Dataset,
    pub inputs: Vec<ImproveInput>,
}

/// The (initial, improved) pairs of the improvement setting: the improved
/// response preferred (`a`), with each pair's condition.
#[derive(Clone, Debug, Default)]
pub struct ImprovedPairs {
    pub dataset: Dataset,
    /// The condition of each pair of `dataset`.
    pub conditions: Vec<Condition>,
    /// For each cluster of `dataset`, the input (cluster of the source
    /// dataset) it was written for.
    pub source_clusters: Vec<u32>,
}

impl ImprovedPairs {
    /// The pairs of one condition (the same texts and clusters).
    pub fn of(&self, c: Condition) -> Dataset {
        let mut ds = self.dataset.clone();
        ds.pairs = self
            .dataset
            .pairs
            .iter()
            .zip(&self.conditions)
            .filter(|(_, &k)| k == c)
            .map(|(p, _)| *p)
            .collect();
        ds
    }
}

impl Improvement {
    /// The experiment on the first `limit` inputs (clusters) of `ds` (all
    /// when `None`), in dataset order.
    pub fn new(ds: &Dataset, task: Task, limit: Option<usize>) -> Improvement {
        let mut seen = rustc_hash::FxHashSet::default();
        let mut inputs = Vec::new();
        for p in &ds.pairs {
            if limit.is_some_and(|n| inputs.len() >= n) {
                break;
            }
            if seen.insert(p.cluster) {
                inputs.push(ImproveInput {
                    cluster: p.cluster,
                    input: p.input,
                    source: p.source,
                    drafts: None,
                    feedback: None,
                    with_feedback: None,
                    from_both: None,
                    from_single: [None, None],
                });
            }
        }
        Improvement {
            task,
            dataset: ds.clone(),
            inputs,
        }
    }

    fn draft_question(&self, i: &ImproveInput) -> Question {
        Question::Improve(ImproveQuestion {
            task: self.task,
            input: i.input,
            source: i.source,
            step: ImproveStep::Draft,
        })
    }

    fn feedback_question(&self, i: &ImproveInput, d: [TextId; 2]) -> Question {
        Question::Judge(JudgeQuestion {
            task: self.task,
            input: i.input,
            source: i.source,
            first: d[0],
            second: d[1],
            guidance: None,
        })
    }

    /// The revisions of one input with drafts, with the condition (and, for
    /// `Single`, which draft) each answer fills.
    fn revise_questions(
        &self,
        i: &ImproveInput,
        d: [TextId; 2],
    ) -> Vec<(Question, Condition, usize)> {
        let q = |first, second, feedback| {
            Question::Improve(ImproveQuestion {
                task: self.task,
                input: i.input,
                source: i.source,
                step: ImproveStep::Revise {
                    first,
                    second,
                    feedback,
                },
            })
        };
        let mut out = Vec::with_capacity(4);
        if let Some(f) = i.feedback {
            out.push((q(d[0], Some(d[1]), Some(f)), Condition::Feedback, 0));
        }
        out.push((q(d[0], Some(d[1]), None), Condition::Both, 0));
        out.push((q(d[0], None, None), Condition::Single, 0));
        out.push((q(d[1], None, None), Condition::Single, 1));
        out
    }

    /// Step 1, the writer: two first responses per input.
    pub fn draft_plan(&self) -> Plan {
        plan_of(self.inputs.iter().map(|i| self.draft_question(i)))
    }

    /// Takes the draft answers in.
    pub fn take_drafts(&mut self, answers: &Answers) {
        for k in 0..self.inputs.len() {
            let q = self.draft_question(&self.inputs[k]);
            if let Some(Answer::Generations { generations }) = answers.get(&q) {
                if let [a, b] = generations.as_slice() {
                    let d = [self.dataset.texts.intern(a), self.dataset.texts.intern(b)];
                    self.inputs[k].drafts = Some(d);
                }
            }
        }
    }

    /// Step 2, the evaluator: which of the two first responses is better
    /// (shown in the order written), with a justification.
    pub fn feedback_plan(&self) -> Plan {
        plan_of(
            self.inputs
                .iter()
                .filter_map(|i| Some(self.feedback_question(i, i.drafts?))),
        )
    }

    /// Takes the evaluator's verdicts in as feedback.
    pub fn take_feedback(&mut self, answers: &Answers) {
        for k in 0..self.inputs.len() {
            let Some(d) = self.inputs[k].drafts else {
                continue;
            };
            let q = self.feedback_question(&self.inputs[k], d);
            if let Some(Answer::Verdict { verdict }) = answers.get(&q) {
                let better = match verdict.better() {
                    Better::First => 1,
                    Better::Second => 2,
                    Better::Tie => 0,
                };
                let justification = self.dataset.texts.intern(&verdict.justification);
                self.inputs[k].feedback = Some(Feedback {
                    better,
                    justification,
                });
            }
        }
    }

    /// Step 3, the writer: the improved responses of every condition (with
    /// feedback where the evaluator gave it).
    pub fn revise_plan(&self) -> Plan {
        plan_of(self.inputs.iter().flat_map(|i| {
            i.drafts
                .map(|d| self.revise_questions(i, d))
                .unwrap_or_default()
                .into_iter()
                .map(|(q, _, _)| q)
        }))
    }

    /// Takes the improved responses in.
    pub fn take_revisions(&mut self, answers: &Answers) {
        for k in 0..self.inputs.len() {
            let Some(d) = self.inputs[k].drafts else {
                continue;
            };
            for (q, c, side) in self.revise_questions(&self.inputs[k], d) {
                let Some(Answer::Generations { generations }) = answers.get(&q) else {
                    continue;
                };
                let Some(text) = generations.first() else {
                    continue;
                };
                let t = Some(self.dataset.texts.intern(text));
                let i = &mut self.inputs[k];
                match c {
                    Condition::Feedback => i.with_feedback = t,
                    Condition::Both => i.from_both = t,
                    Condition::Single => i.from_single[side] = t,
                }
            }
        }
    }

    /// The (initial, improved) pairs of every condition, the improved
    /// response preferred: with feedback and from both, the improved
    /// response against each first response; from a single response, each
    /// improved response against the one it improved. Inputs without first
    /// responses are left out; a condition without its improved response
    /// has no pair for that input.
    pub fn pairs(&self) -> ImprovedPairs {
        let mut texts = TextStore::new();
        let mut out = ImprovedPairs::default();
        let mut line = 0u64;
        for i in &self.inputs {
            let Some(d) = i.drafts else { continue };
            let cluster = out.source_clusters.len() as u32;
            out.source_clusters.push(i.cluster);
            let ds = &self.dataset;
            let input = i.input.map(|t| texts.intern(ds.text(t)));
            let source = i.source.map(|t| texts.intern(ds.text(t)));
            let d = d.map(|t| texts.intern(ds.text(t)));
            let mut push = |improved: Option<TextId>, initial: TextId, c: Condition| {
                if let Some(t) = improved {
                    line += 1;
                    out.dataset.pairs.push(Pair {
                        cluster,
                        input,
                        source,
                        a: texts.intern(ds.text(t)),
                        b: initial,
                        preference: Preference::A,
                        line,
                        rows: [crate::data::NO_ROW; 2],
                    });
                    out.conditions.push(c);
                }
            };
            for &initial in &d {
                push(i.with_feedback, initial, Condition::Feedback);
            }
            for &initial in &d {
                push(i.from_both, initial, Condition::Both);
            }
            for (&improved, &initial) in i.from_single.iter().zip(&d) {
                push(improved, initial, Condition::Single);
            }
        }
        out.dataset.n_clusters = out.source_clusters.len() as u32;
        out.dataset.texts = texts;
        out.dataset.task_hint = self.dataset.task_hint;
        out
    }
}

fn plan_of(questions: impl Iterator<Item = Question>) -> Plan {
    let mut seen = rustc_hash::FxHashSet::default();
    Plan {
        first: questions.filter(|q| seen.insert(*q)).collect(),
        ..Default::default()
    }
}
