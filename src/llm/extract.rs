//! Which LLM questions a factor set needs on a dataset, and how their answers
//! become factor values (METHOD.md §6).
//!
//! Per pair side, the LLM factors of a factor set are served by at most four
//! calls per unique response, plus one per unique source:
//!
//! 1. [`Question::Facts`]: the atomic facts of a text, once per unique text
//!    (responses; sources for source coverage).
//! 2. [`Question::Judgements`]: every needed response-level judgement
//!    (intent alignment, formality alignment, receptiveness and, without
//!    log-probabilities, fluency and coherence ratings) in one call per
//!    unique (response, context).
//! 3. [`Question::FluencyCoherence`]: with log-probabilities, fluency and
//!    coherence as bare yes/no answers in one call per unique (response,
//!    document).
//! 4. [`Question::Checks`]: once the facts are known, every needed check of
//!    the response's facts and the source-coverage check of the source's
//!    facts, in one call per unique (response, context). When only source
//!    coverage is needed it is a [`Question::SourceCoverage`].
//!
//! Which parts a combined question asks depends on the factor set and on
//! which context texts a pair has, so the parts are part of the question (and
//! of its cache key, see [`key_texts`]). An answer is found again for a factor
//! through its *slot*: the factor, the response and the context text the
//! factor is judged against (see [`Answers::value`]).
//!
//! Fact checks need the facts, so planning has two stages.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::parse::{self, ParseError};
use super::prompts::{self, CheckKind, JudgementPart};
use super::provider::{self, Completion};
use super::Prompt;
use crate::data::{Dataset, Pair, TextId};
use crate::factors::Factor;

/// A small enum whose values a [`Set`] can hold: at most 8, listed in `ALL`.
pub trait Member: Copy + PartialEq + std::fmt::Debug + 'static {
    /// Every value, in the order sets list them.
    const ALL: &'static [Self];
}

impl Member for JudgementPart {
    const ALL: &'static [Self] = &JudgementPart::ALL;
}

impl Member for CheckKind {
    const ALL: &'static [Self] = &CheckKind::ALL;
}

/// A set of a [`Member`] enum's values as one byte, with the traits a map
/// key needs.
pub struct Set<T>(u8, std::marker::PhantomData<T>);

/// The parts a combined judgement question asks.
pub type JudgementParts = Set<JudgementPart>;
/// The kinds of check a fact-check question asks.
pub type CheckKinds = Set<CheckKind>;

impl<T: Member> Set<T> {
    fn bit(x: T) -> u8 {
        let i = T::ALL.iter().position(|&y| y == x).unwrap_or_default();
        1 << i
    }

    pub fn insert(&mut self, x: T) {
        self.0 |= Self::bit(x);
    }

    pub fn contains(self, x: T) -> bool {
        self.0 & Self::bit(x) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The values, in `T::ALL` order.
    pub fn to_vec(self) -> Vec<T> {
        T::ALL
            .iter()
            .copied()
            .filter(|&x| self.contains(x))
            .collect()
    }
}

impl<T> Clone for Set<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Set<T> {}
impl<T> Default for Set<T> {
    fn default() -> Self {
        Set(0, std::marker::PhantomData)
    }
}
impl<T> PartialEq for Set<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<T> Eq for Set<T> {}
impl<T> std::hash::Hash for Set<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}
impl<T> PartialOrd for Set<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Set<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}
impl<T: Member> std::fmt::Debug for Set<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.to_vec()).finish()
    }
}

impl<T: Member> FromIterator<T> for Set<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut s = Set::default();
        for x in iter {
            s.insert(x);
        }
        s
    }
}

/// One question to a model, in terms of the dataset's texts.
///
/// Context fields hold only the texts some asked part is judged against
/// (`request`: the pair's input; `source`: the pair's source), so that
/// questions that would render the same prompt are equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Question {
    /// The atomic facts of a text (a response, or a source for coverage).
    Facts(TextId),
    /// The needed response-level judgements of one response
    /// (`response_judgements@1`).
    Judgements {
        response: TextId,
        request: Option<TextId>,
        source: Option<TextId>,
        parts: JudgementParts,
    },
    /// Fluency and/or coherence as bare yes/no answers read with
    /// log-probabilities: `fluency_coherence@1` for both, else `fluency@1` or
    /// `coherence@1`. `document` is the coherence reference (the source,
    /// else the input; `None`: the response itself, as in UniEval).
    FluencyCoherence {
        response: TextId,
        document: Option<TextId>,
        fluency: bool,
        coherence: bool,
    },
    /// Every needed check of the facts of `text` (a response), against the
    /// `request` and/or `source` blocks, and, when `coverage` is a text, the
    /// facts of that text (the source) checked against the response
    /// (`fact_checks@1`).
    Checks {
        text: TextId,
        request: Option<TextId>,
        source: Option<TextId>,
        kinds: CheckKinds,
        coverage: Option<TextId>,
    },
    /// The source's facts checked against the response, when no check of
    /// the response's own facts is needed (`fact_checks@1`, coverage only).
    SourceCoverage { source: TextId, response: TextId },
    /// A judge's verdict on a pair shown in one order (`judge_<task>@1`,
    /// see [`super::runs`]).
    Judge {
        task: crate::factors::Task,
        input: Option<TextId>,
        source: Option<TextId>,
        first: TextId,
        second: TextId,
    },
    /// A writer's five responses for one input (`generate_<task>@1`).
    Generate {
        task: crate::factors::Task,
        input: Option<TextId>,
        source: Option<TextId>,
    },
}

/// A parsed answer, as stored in the cache (`value`). Serialised untagged:
/// facts as a list of strings, the combined answers as an object with one
/// distinguishing key (`{"judgements": {…}}`, `{"fact_checks": {…}}`). The
/// combined answers are boxed to keep the enum small.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Facts(Vec<String>),
    Judgements {
        judgements: Box<Judgements>,
    },
    FactChecks {
        fact_checks: Box<FactChecks>,
    },
    /// A judge's verdict.
    Verdict {
        verdict: super::runs::Verdict,
    },
    /// A writer's five responses, for scores 1..5 in order.
    Generations {
        generations: Vec<String>,
    },
}

/// Factor values from response-level questions (a [`Question::Judgements`]
/// or [`Question::FluencyCoherence`]), `None` where not asked. Alignment
/// labels are 2/1/0, receptiveness 1/0, fluency and coherence in [0, 1].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Judgements {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_alignment: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formality_alignment: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receptiveness: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fluency: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coherence: Option<f64>,
}

impl Judgements {
    /// The value of factor `f`, if this answer holds it.
    pub fn get(&self, f: Factor) -> Option<f64> {
        match f {
            Factor::IntentAlignment => self.intent_alignment,
            Factor::FormalityAlignment => self.formality_alignment,
            Factor::Receptiveness => self.receptiveness,
            Factor::Fluency => self.fluency,
            Factor::Coherence => self.coherence,
            _ => None,
        }
    }
}

/// The answers of a fact-check question, one per fact in fact order
/// (`true` = yes), `None` where not asked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactChecks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported: Option<Vec<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_focus: Option<Vec<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helpful_extra: Option<Vec<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misleading: Option<Vec<bool>>,
    /// The source's facts: supported by the response?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covered: Option<Vec<bool>>,
}

impl FactChecks {
    /// The answers for one check kind of the response's facts.
    pub fn kind(&self, k: CheckKind) -> Option<&[bool]> {
        match k {
            CheckKind::Supported => self.supported.as_deref(),
            CheckKind::MainFocus => self.main_focus.as_deref(),
            CheckKind::HelpfulExtra => self.helpful_extra.as_deref(),
            CheckKind::Misleading => self.misleading.as_deref(),
        }
    }

    fn set(&mut self, k: CheckKind, answers: Vec<bool>) {
        let slot = match k {
            CheckKind::Supported => &mut self.supported,
            CheckKind::MainFocus => &mut self.main_focus,
            CheckKind::HelpfulExtra => &mut self.helpful_extra,
            CheckKind::Misleading => &mut self.misleading,
        };
        *slot = Some(answers);
    }
}

/// Options that change which prompts are used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractOptions {
    /// The provider returns token log-probabilities: fluency and coherence use
    /// P(yes) of yes/no questions; otherwise 1–5 ratings mapped to [0, 1].
    pub logprobs: bool,
    /// Summaries (intent alignment asks about the purpose of the text being
    /// summarised).
    pub summaries: bool,
}

/// The context a pair's checks use: the source (else the input) for support,
/// the input (else the source) for focus, helpfulness and misinformation.
fn check_context(kind: CheckKind, p: &Pair) -> Option<TextId> {
    if kind.prefers_request() {
        p.input.or(p.source)
    } else {
        p.source.or(p.input)
    }
}

/// The context a response-level part is judged against (`None` for fluency).
fn judgement_context(part: JudgementPart, p: &Pair) -> Option<TextId> {
    match part.prefers_request()? {
        true => p.input.or(p.source),
        false => p.source.or(p.input),
    }
}

/// The judgement part that gives factor `f` without log-probabilities.
fn judgement_part(f: Factor, opts: ExtractOptions) -> Option<JudgementPart> {
    Some(match f {
        Factor::IntentAlignment if opts.summaries => JudgementPart::IntentSummary,
        Factor::IntentAlignment => JudgementPart::Intent,
        Factor::FormalityAlignment => JudgementPart::Formality,
        Factor::Receptiveness => JudgementPart::Receptiveness,
        Factor::Fluency => JudgementPart::Fluency,
        Factor::Coherence => JudgementPart::Coherence,
        _ => return None,
    })
}

/// Where the answer behind an LLM factor of one pair side lives: the factor,
/// the response, and the context text the factor is judged against (`None`
/// for fluency; for coherence, `None` when the pair has no context).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Slot {
    factor: Factor,
    response: TextId,
    reference: Option<TextId>,
}

/// The slot of factor `f` for one side of a pair; `None` for factors without
/// an LLM answer (and `n_facts`) or when the context they need is missing.
fn slot_for(f: Factor, p: &Pair, response: TextId, opts: ExtractOptions) -> Option<Slot> {
    let reference = match f {
        Factor::Hallucination | Factor::OffFocus | Factor::Helpfulness | Factor::Misinformation => {
            Some(check_context(CheckKind::for_factor(f)?, p)?)
        }
        Factor::SrcCoverage => Some(p.context()?),
        Factor::Fluency => None,
        Factor::Coherence => p.context(),
        _ => Some(judgement_context(judgement_part(f, opts)?, p)?),
    };
    Some(Slot {
        factor: f,
        response,
        reference,
    })
}

impl Question {
    /// The slots this question's answer fills.
    fn slots(&self) -> Vec<Slot> {
        let slot = |factor, response, reference| Slot {
            factor,
            response,
            reference,
        };
        match *self {
            Question::Facts(_) | Question::Judge { .. } | Question::Generate { .. } => vec![],
            Question::Judgements {
                response,
                request,
                source,
                parts,
            } => parts
                .to_vec()
                .into_iter()
                .map(|part| {
                    let reference = match part.prefers_request() {
                        Some(true) => request.or(source),
                        Some(false) => source.or(request),
                        None => None,
                    };
                    slot(part.factor(), response, reference)
                })
                .collect(),
            Question::FluencyCoherence {
                response,
                document,
                fluency,
                coherence,
            } => {
                let mut out = Vec::new();
                if fluency {
                    out.push(slot(Factor::Fluency, response, None));
                }
                if coherence {
                    out.push(slot(Factor::Coherence, response, document));
                }
                out
            }
            Question::Checks {
                text,
                request,
                source,
                kinds,
                coverage,
            } => {
                let mut out: Vec<Slot> = kinds
                    .to_vec()
                    .into_iter()
                    .map(|k| {
                        let reference = if k.prefers_request() {
                            request.or(source)
                        } else {
                            source.or(request)
                        };
                        slot(k.factor(), text, reference)
                    })
                    .collect();
                if let Some(s) = coverage {
                    out.push(slot(Factor::SrcCoverage, text, Some(s)));
                }
                out
            }
            Question::SourceCoverage { source, response } => {
                vec![slot(Factor::SrcCoverage, response, Some(source))]
            }
        }
    }
}

/// The questions one side of a pair needs for the LLM factors among
/// `factors`: at most one of each kind, each asking every part needed.
fn questions_for_side(
    factors: &[Factor],
    p: &Pair,
    response: TextId,
    opts: ExtractOptions,
) -> Vec<Question> {
    let mut facts = false;
    let mut kinds = CheckKinds::default();
    let mut coverage = None;
    let mut parts = JudgementParts::default();
    let (mut fluency, mut coherence) = (false, false);
    for &f in factors.iter().filter(|f| f.needs_model()) {
        match f {
            Factor::NFacts => facts = true,
            Factor::Hallucination
            | Factor::OffFocus
            | Factor::Helpfulness
            | Factor::Misinformation => {
                let Some(k) = CheckKind::for_factor(f) else {
                    continue;
                };
                if check_context(k, p).is_some() {
                    kinds.insert(k);
                    facts = true;
                }
            }
            Factor::SrcCoverage => coverage = p.context(),
            Factor::Fluency if opts.logprobs => fluency = true,
            Factor::Coherence if opts.logprobs => coherence = true,
            _ => {
                if let Some(part) = judgement_part(f, opts) {
                    let needs_context = part.prefers_request().is_some()
                        && !matches!(part, JudgementPart::Coherence);
                    if !needs_context || judgement_context(part, p).is_some() {
                        parts.insert(part);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    if facts {
        out.push(Question::Facts(response));
    }
    if let Some(s) = coverage {
        out.push(Question::Facts(s));
    }
    if !parts.is_empty() {
        // Keep only the context texts some part is judged against.
        let mut request = None;
        let mut source = None;
        for part in parts.to_vec() {
            let r = judgement_context(part, p);
            if r.is_some() && r == p.input {
                request = p.input;
            }
            if r.is_some() && r == p.source {
                source = p.source;
            }
        }
        out.push(Question::Judgements {
            response,
            request,
            source,
            parts,
        });
    }
    if fluency || coherence {
        out.push(Question::FluencyCoherence {
            response,
            document: if coherence { p.context() } else { None },
            fluency,
            coherence,
        });
    }
    if !kinds.is_empty() {
        let mut request = None;
        let mut source = None;
        for k in kinds.to_vec() {
            let r = check_context(k, p);
            if r.is_some() && r == p.input {
                request = p.input;
            }
            if r.is_some() && r == p.source {
                source = p.source;
            }
        }
        out.push(Question::Checks {
            text: response,
            request,
            source,
            kinds,
            coverage,
        });
    } else if let Some(source) = coverage {
        out.push(Question::SourceCoverage { source, response });
    }
    out
}

/// The calls a factor set needs, in two stages.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Questions that need nothing else (facts, response-level judgements,
    /// fluency and coherence).
    pub first: Vec<Question>,
    /// Fact checks, asked once the facts they check are known.
    pub second: Vec<Question>,
    /// Unique responses involved.
    pub unique_responses: usize,
    /// Unique sources whose facts are extracted (for source coverage).
    pub unique_sources: usize,
    /// Facts questions asked only because a text is a source (a source that
    /// is also a response counts with the responses).
    pub source_fact_calls: usize,
}

/// How many calls a plan asks, per unique response and for sources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallsPerResponse {
    /// (all calls − source-fact calls) / unique responses. Second-stage
    /// calls are counted as planned, an upper bound: a check of a response
    /// without facts needs no call.
    pub per_unique_response: f64,
    /// Calls that extract the atomic facts of a source (one per unique
    /// source that is not also a response).
    pub source_fact_calls: usize,
    /// `source_fact_calls` / unique sources (1 when every source's facts
    /// are extracted once; 0 without sources).
    pub per_unique_source: f64,
}

impl Plan {
    /// Plans the questions for the LLM factors among `factors` over all pairs.
    pub fn new(ds: &Dataset, factors: &[Factor], opts: ExtractOptions) -> Plan {
        let mut seen = FxHashSet::default();
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let mut responses = FxHashSet::default();
        let mut sources = FxHashSet::default();
        let any_model = factors.iter().any(|f| f.needs_model());
        for p in &ds.pairs {
            for response in [p.a, p.b] {
                if !any_model {
                    continue;
                }
                responses.insert(response);
                for q in questions_for_side(factors, p, response, opts) {
                    match q {
                        Question::Checks {
                            coverage: Some(source),
                            ..
                        }
                        | Question::SourceCoverage { source, .. } => {
                            sources.insert(source);
                        }
                        _ => {}
                    }
                    if seen.insert(q) {
                        match q {
                            Question::Checks { .. } | Question::SourceCoverage { .. } => {
                                second.push(q)
                            }
                            _ => first.push(q),
                        }
                    }
                }
            }
        }
        let source_fact_calls = sources.iter().filter(|s| !responses.contains(s)).count();
        Plan {
            first,
            second,
            unique_responses: responses.len(),
            unique_sources: sources.len(),
            source_fact_calls,
        }
    }

    /// All questions.
    pub fn len(&self) -> usize {
        self.first.len() + self.second.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls per unique response and for sources: the measure the plan is
    /// built to keep small (at most 4 per unique response, plus 1 per unique
    /// source).
    pub fn calls_per_unique_response(&self) -> CallsPerResponse {
        let per = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        CallsPerResponse {
            per_unique_response: per(
                self.len().saturating_sub(self.source_fact_calls),
                self.unique_responses,
            ),
            source_fact_calls: self.source_fact_calls,
            per_unique_source: per(self.source_fact_calls, self.unique_sources),
        }
    }
}

/// The naive plan's number of calls: every pair side asks every question
/// anew, one factor at a time: one call per response-level factor, one call
/// to extract facts per fact-based factor, and each fact checked in a call
/// of its own. `answers` gives the number of facts per text where known
/// (else `mean_facts`).
pub fn naive_calls(
    ds: &Dataset,
    factors: &[Factor],
    opts: ExtractOptions,
    answers: &Answers,
    mean_facts: f64,
) -> f64 {
    let n_facts = |t: TextId| answers.facts(t).map_or(mean_facts, |f| f.len() as f64);
    let mut total = 0.0;
    for p in &ds.pairs {
        for response in [p.a, p.b] {
            for &f in factors.iter().filter(|f| f.needs_model()) {
                total += match f {
                    Factor::NFacts => 1.0,
                    Factor::Hallucination
                    | Factor::OffFocus
                    | Factor::Helpfulness
                    | Factor::Misinformation => match slot_for(f, p, response, opts) {
                        Some(_) => 1.0 + n_facts(response),
                        None => 0.0,
                    },
                    Factor::SrcCoverage => p.context().map_or(0.0, |s| 1.0 + n_facts(s)),
                    _ => match slot_for(f, p, response, opts) {
                        Some(_) => 1.0,
                        None => 0.0,
                    },
                };
            }
        }
    }
    total
}

/// Answers known so far (from the cache or from calls).
#[derive(Clone, Debug, Default)]
pub struct Answers {
    map: FxHashMap<Question, Answer>,
    /// Which answered question holds each slot.
    slots: FxHashMap<Slot, Question>,
}

impl Answers {
    pub fn insert(&mut self, q: Question, a: Answer) {
        for s in q.slots() {
            self.slots.insert(s, q);
        }
        self.map.insert(q, a);
    }

    pub fn get(&self, q: &Question) -> Option<&Answer> {
        self.map.get(q)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The facts of a text, if extracted.
    pub fn facts(&self, t: TextId) -> Option<&[String]> {
        match self.map.get(&Question::Facts(t)) {
            Some(Answer::Facts(f)) => Some(f),
            _ => None,
        }
    }

    fn at(&self, slot: &Slot) -> Option<&Answer> {
        self.map.get(self.slots.get(slot)?)
    }

    /// The share of `want` answers among the distinct facts of `facts` (0
    /// without facts); `answers` has one answer per fact as extracted, and a
    /// repeated fact counts once, with the answer to its first occurrence.
    fn share(answers: Option<&[bool]>, want: bool, facts: &[String]) -> Option<f64> {
        let distinct = distinct_facts(facts);
        if distinct.is_empty() {
            return Some(0.0);
        }
        match answers {
            Some(c) if c.len() == facts.len() => {
                let hits = distinct.iter().filter(|&&i| c[i] == want).count();
                Some(hits as f64 / distinct.len() as f64)
            }
            _ => None,
        }
    }

    /// The value of an LLM factor for one side of a pair, if its answers are known.
    pub fn value(
        &self,
        f: Factor,
        p: &Pair,
        response: TextId,
        opts: ExtractOptions,
    ) -> Option<f64> {
        if f == Factor::NFacts {
            return self.facts(response).map(|x| distinct_facts(x).len() as f64);
        }
        let slot = slot_for(f, p, response, opts)?;
        let checks = || match self.at(&slot) {
            Some(Answer::FactChecks { fact_checks }) => Some(fact_checks),
            _ => None,
        };
        match f {
            Factor::Hallucination
            | Factor::OffFocus
            | Factor::Helpfulness
            | Factor::Misinformation => {
                let facts = self.facts(response)?;
                if facts.is_empty() {
                    return Some(0.0);
                }
                // hallucination and off-focus count "no" answers; the others "yes".
                let want = matches!(f, Factor::Helpfulness | Factor::Misinformation);
                Self::share(checks()?.kind(CheckKind::for_factor(f)?), want, facts)
            }
            Factor::SrcCoverage => {
                let facts = self.facts(slot.reference?)?;
                if facts.is_empty() {
                    return Some(0.0);
                }
                Self::share(checks()?.covered.as_deref(), true, facts)
            }
            _ => match self.at(&slot) {
                Some(Answer::Judgements { judgements }) => judgements.get(f),
                _ => None,
            },
        }
    }
}

/// The indices of the distinct facts of a list, in order: a fact counts
/// once however often it is repeated, comparing facts after lower-casing and
/// collapsing whitespace ("The  sky is blue." and "the sky is blue." are the
/// same fact; "The sky is blue" without the full stop is another). Used for
/// `n_facts` and the fact shares (METHOD.md §4): a model that lists one fact
/// five times does not get five facts.
pub fn distinct_facts(facts: &[String]) -> Vec<usize> {
    let mut seen = FxHashSet::default();
    facts
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            let key: String = f
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" ");
            seen.insert(key)
        })
        .map(|(i, _)| i)
        .collect()
}

/// What a fact-check question asks, given the facts known so far.
struct CheckAsk<'a> {
    /// The kinds asked of the response's facts (none without facts).
    kinds: Vec<CheckKind>,
    facts: &'a [String],
    request: Option<TextId>,
    source: Option<TextId>,
    /// The source's facts and the response, when coverage is asked.
    coverage: Option<(&'a [String], TextId)>,
}

/// What a fact-check question asks: the kinds when the response's facts are
/// known and not empty, coverage when the source's facts are. `None` when
/// there is nothing to ask (or `q` is no fact check).
fn check_ask<'a>(q: &Question, answers: &'a Answers) -> Option<CheckAsk<'a>> {
    let ask = match *q {
        Question::Checks {
            text,
            request,
            source,
            kinds,
            coverage,
        } => {
            let facts = answers.facts(text).filter(|f| !f.is_empty());
            CheckAsk {
                kinds: if facts.is_some() {
                    kinds.to_vec()
                } else {
                    Vec::new()
                },
                facts: facts.unwrap_or_default(),
                request,
                source,
                coverage: coverage
                    .and_then(|s| answers.facts(s))
                    .filter(|f| !f.is_empty())
                    .map(|f| (f, text)),
            }
        }
        Question::SourceCoverage { source, response } => CheckAsk {
            kinds: Vec::new(),
            facts: &[],
            request: None,
            source: None,
            coverage: answers
                .facts(source)
                .filter(|f| !f.is_empty())
                .map(|f| (f, response)),
        },
        _ => return None,
    };
    (!ask.kinds.is_empty() || ask.coverage.is_some()).then_some(ask)
}

/// The prompt for a question, given the answers of the first stage. `None`
/// when a fact check has nothing to check (its values are known without a
/// call: no facts, a share of 0) or its facts are not known.
pub fn prompt(
    q: &Question,
    ds: &Dataset,
    answers: &Answers,
    _opts: ExtractOptions,
) -> Option<Prompt> {
    let t = |id: TextId| ds.text(id);
    Some(match *q {
        Question::Judge { .. } | Question::Generate { .. } => return super::runs::prompt(q, ds),
        Question::Facts(text) => prompts::atomic_facts(t(text)),
        Question::Judgements {
            response,
            request,
            source,
            parts,
        } => prompts::response_judgements(
            &parts.to_vec(),
            request.map(t),
            source.map(t),
            t(response),
        ),
        Question::FluencyCoherence {
            response,
            document,
            fluency,
            coherence,
        } => {
            let doc = t(document.unwrap_or(response));
            match (fluency, coherence) {
                (true, true) => prompts::fluency_coherence(doc, t(response)),
                (true, false) => prompts::fluency(t(response)),
                (false, _) => prompts::coherence(doc, t(response)),
            }
        }
        Question::Checks { .. } | Question::SourceCoverage { .. } => {
            let ask = check_ask(q, answers)?;
            prompts::fact_checks(
                &ask.kinds,
                ask.facts,
                ask.request.map(t),
                ask.source.map(t),
                ask.coverage.map(|(f, r)| (f, t(r))),
            )
        }
    })
}

/// A yes/no answer as a value: yes 1, no 0.
fn unit(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Parses a completion into the answer to a question. Yes/no answers to the
/// fluency and coherence questions read P(yes) from the completion's
/// log-probabilities where the provider returned them, else the words
/// (yes 1, no 0).
pub fn parse_reply(
    q: &Question,
    c: &Completion,
    answers: &Answers,
    _opts: ExtractOptions,
) -> Result<Answer, ParseError> {
    let reply = c.text.as_str();
    Ok(match *q {
        Question::Judge { .. } | Question::Generate { .. } => {
            return super::runs::parse_reply(q, reply).expect("a model-run question")
        }
        Question::Facts(_) => Answer::Facts(parse::parse_facts(reply)?),
        Question::Judgements { parts, .. } => {
            let v = parse::parse_judgements(reply, &parts.to_vec())?;
            Answer::Judgements {
                judgements: Box::new(Judgements {
                    intent_alignment: v.intent.map(|l| f64::from(l.value())),
                    formality_alignment: v.formality.map(|f| f64::from(f.label.value())),
                    receptiveness: v.receptiveness.map(unit),
                    fluency: v.fluency.map(parse::rating_to_unit),
                    coherence: v.coherence.map(parse::rating_to_unit),
                }),
            }
        }
        Question::FluencyCoherence {
            fluency, coherence, ..
        } => {
            let (fl, co) = if fluency && coherence {
                let words = parse::parse_two_yes_no(reply)?;
                // Both answers' positions must be found, or neither is trusted.
                match c
                    .token_logprobs
                    .as_deref()
                    .map(provider::p_yes_per_answer)
                    .filter(|ps| ps.len() == 2)
                {
                    Some(ps) => (Some(ps[0]), Some(ps[1])),
                    None => (Some(unit(words[0])), Some(unit(words[1]))),
                }
            } else {
                let p = match c.first_token_logprobs.as_deref().and_then(provider::p_yes) {
                    Some(p) => p,
                    None => unit(parse::parse_yes_no(reply)?),
                };
                if fluency {
                    (Some(p), None)
                } else {
                    (None, Some(p))
                }
            };
            Answer::Judgements {
                judgements: Box::new(Judgements {
                    fluency: fl,
                    coherence: co,
                    ..Default::default()
                }),
            }
        }
        Question::Checks { .. } | Question::SourceCoverage { .. } => {
            let ask = check_ask(q, answers);
            let (kinds, n_facts, n_source) = match &ask {
                Some(a) => (
                    a.kinds.clone(),
                    a.facts.len(),
                    a.coverage.map_or(0, |(f, _)| f.len()),
                ),
                None => (Vec::new(), 0, 0),
            };
            let v = parse::parse_fact_checks(reply, n_facts, &kinds, n_source)?;
            let mut out = FactChecks::default();
            for (k, answers) in v.checks {
                out.set(k, answers);
            }
            if n_source > 0 {
                out.covered = Some(v.coverage);
            }
            Answer::FactChecks {
                fact_checks: Box::new(out),
            }
        }
    })
}

/// The texts a question's cache key covers (besides the template and model):
/// everything its prompt is built from. The combined questions begin with a
/// descriptor of the parts asked and the context blocks present (e.g.
/// `parts=intent_alignment_summary,fluency_rating; request=no; source=yes`),
/// because their template id alone does not fix the wording.
pub fn key_texts<'a>(q: &Question, ds: &'a Dataset, answers: &'a Answers) -> Vec<String> {
    let t = |id: TextId| ds.text(id).to_owned();
    let opt = |id: Option<TextId>| id.map(t).unwrap_or_default();
    let yn = |b: bool| if b { "yes" } else { "no" };
    match *q {
        Question::Judge { .. } | Question::Generate { .. } => {
            super::runs::key_texts(q, ds).expect("a model-run question")
        }
        Question::Facts(x) => vec![t(x)],
        Question::Judgements {
            response,
            request,
            source,
            parts,
        } => {
            let names: Vec<&str> = parts.to_vec().into_iter().map(|p| p.name()).collect();
            vec![
                format!(
                    "parts={}; request={}; source={}",
                    names.join(","),
                    yn(request.is_some()),
                    yn(source.is_some())
                ),
                opt(request),
                opt(source),
                t(response),
            ]
        }
        Question::FluencyCoherence {
            response,
            document,
            fluency,
            coherence,
        } => vec![
            format!(
                "fluency={}; coherence={}; document={}",
                yn(fluency),
                yn(coherence),
                yn(document.is_some())
            ),
            opt(document),
            t(response),
        ],
        Question::Checks { .. } | Question::SourceCoverage { .. } => {
            let join = |f: &[String]| f.join("\u{1f}");
            match check_ask(q, answers) {
                None => vec!["nothing to ask".to_owned()],
                Some(a) => {
                    let kinds: Vec<&str> = a.kinds.iter().map(|k| k.key()).collect();
                    vec![
                        format!(
                            "kinds={}; request={}; source={}; coverage={}",
                            kinds.join(","),
                            yn(a.request.is_some()),
                            yn(a.source.is_some()),
                            yn(a.coverage.is_some())
                        ),
                        join(a.facts),
                        opt(a.request),
                        opt(a.source),
                        a.coverage.map(|(f, _)| join(f)).unwrap_or_default(),
                        a.coverage.map(|(_, r)| t(r)).unwrap_or_default(),
                    ]
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_every_member_in_one_byte() {
        fn all_fit<T: Member>() {
            assert!(T::ALL.len() <= 8, "{:?}", T::ALL);
            let full: Set<T> = T::ALL.iter().copied().collect();
            assert_eq!(full.to_vec(), T::ALL);
            for &x in T::ALL {
                let one: Set<T> = std::iter::once(x).collect();
                assert!(one.contains(x) && !one.is_empty());
                assert_eq!(one.to_vec(), [x]);
            }
        }
        all_fit::<JudgementPart>();
        all_fit::<CheckKind>();
    }
    use crate::data::{load_bytes, FormatOptions};
    use crate::factors::Task;

    fn ds() -> Dataset {
        let rows = [
            r#"{"input": "q1", "source": "S1", "response_a": "r1", "response_b": "r2", "preference": "a"}"#,
            r#"{"input": "q1", "source": "S1", "response_a": "r1", "response_b": "r3", "preference": "a"}"#,
            r#"{"input": "q1", "source": "S1", "response_a": "r2", "response_b": "r3", "preference": "b"}"#,
        ];
        load_bytes(rows.join("\n").as_bytes(), FormatOptions::default()).unwrap()
    }

    const SUMMARIES: ExtractOptions = ExtractOptions {
        logprobs: false,
        summaries: true,
    };
    const SUMMARIES_LP: ExtractOptions = ExtractOptions {
        logprobs: true,
        summaries: true,
    };

    #[test]
    fn calls_scale_with_unique_texts() {
        let d = ds();
        let plan = Plan::new(&d, Task::Summarization.factors(), SUMMARIES);
        assert_eq!(plan.unique_responses, 3);
        assert_eq!(plan.unique_sources, 1);
        assert_eq!(plan.source_fact_calls, 1);
        // first stage: facts of r1..r3 and S1 (4), one judgement call per response (3)
        assert_eq!(plan.first.len(), 7, "{:?}", plan.first);
        // second stage: one fact-check call per response, coverage included (3)
        assert_eq!(plan.second.len(), 3, "{:?}", plan.second);
        let c = plan.calls_per_unique_response();
        assert_eq!(c.per_unique_response, 3.0);
        assert_eq!((c.source_fact_calls, c.per_unique_source), (1, 1.0));
        // With log-probabilities fluency and coherence take one more call.
        let lp = Plan::new(&d, Task::Summarization.factors(), SUMMARIES_LP);
        assert_eq!(lp.first.len(), 10);
        assert_eq!(lp.calls_per_unique_response().per_unique_response, 4.0);
        let naive = naive_calls(
            &d,
            Task::Summarization.factors(),
            SUMMARIES,
            &Answers::default(),
            3.0,
        );
        // Per pair side: facts, 2 × (facts + 3 checks), coverage facts + 3
        // checks, intent, formality, fluency, coherence.
        assert_eq!(naive, 6.0 * (1.0 + 8.0 + 4.0 + 4.0));
        assert!(naive > plan.len() as f64);
    }

    #[test]
    fn questions_ask_every_needed_part_once() {
        let d = ds();
        let p = d.pairs[0];
        let (q1, s1) = (p.input.unwrap(), p.source.unwrap());
        let qs = questions_for_side(Task::Summarization.factors(), &p, p.a, SUMMARIES);
        let parts: JudgementParts = [
            JudgementPart::IntentSummary,
            JudgementPart::Formality,
            JudgementPart::Fluency,
            JudgementPart::Coherence,
        ]
        .into_iter()
        .collect();
        let kinds: CheckKinds = [CheckKind::Supported, CheckKind::MainFocus]
            .into_iter()
            .collect();
        assert_eq!(
            qs,
            vec![
                Question::Facts(p.a),
                Question::Facts(s1),
                // Every part prefers the source: the request is not shown.
                Question::Judgements {
                    response: p.a,
                    request: None,
                    source: Some(s1),
                    parts
                },
                Question::Checks {
                    text: p.a,
                    request: Some(q1),
                    source: Some(s1),
                    kinds,
                    coverage: Some(s1)
                },
            ]
        );
        // Helpful-response factors: receptiveness prefers the request.
        let qs = questions_for_side(
            &[Factor::Receptiveness, Factor::Fluency],
            &p,
            p.a,
            ExtractOptions::default(),
        );
        assert_eq!(
            qs,
            vec![Question::Judgements {
                response: p.a,
                request: Some(q1),
                source: None,
                parts: [JudgementPart::Receptiveness, JudgementPart::Fluency]
                    .into_iter()
                    .collect()
            }]
        );
        // Coverage alone, with log-probabilities for fluency alone.
        let qs = questions_for_side(
            &[Factor::SrcCoverage, Factor::Fluency],
            &p,
            p.a,
            SUMMARIES_LP,
        );
        assert_eq!(
            qs,
            vec![
                Question::Facts(s1),
                Question::FluencyCoherence {
                    response: p.a,
                    document: None,
                    fluency: true,
                    coherence: false
                },
                Question::SourceCoverage {
                    source: s1,
                    response: p.a
                },
            ]
        );
    }

    fn facts(xs: &[&str]) -> Answer {
        Answer::Facts(xs.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn repeated_facts_count_once() {
        let d = ds();
        let p = d.pairs[0];
        let opts = SUMMARIES;
        let s1 = p.source.unwrap();
        let check_q = questions_for_side(Task::Summarization.factors(), &p, p.a, opts)[3];
        let mut a = Answers::default();
        // A weak model lists one fact five times (case and spacing vary).
        a.insert(
            Question::Facts(p.a),
            facts(&[
                "The council met.",
                "the  council met.",
                "THE COUNCIL MET.",
                "The council met.",
                " The council\tmet. ",
                "It approved the budget.",
                "The council met",
            ]),
        );
        // Two distinct facts, and a third without the full stop.
        assert_eq!(a.value(Factor::NFacts, &p, p.a, opts), Some(3.0));
        a.insert(
            Question::Facts(s1),
            facts(&["Budget passed.", "budget passed.", "Roads fixed."]),
        );
        a.insert(
            check_q,
            Answer::FactChecks {
                fact_checks: Box::new(FactChecks {
                    // The repeats of the first fact are supported; the
                    // shares count each distinct fact once, by its first answer.
                    supported: Some(vec![true, true, true, true, true, false, false]),
                    main_focus: Some(vec![true, false, false, false, false, true, true]),
                    covered: Some(vec![true, false, false]),
                    ..Default::default()
                }),
            },
        );
        assert_eq!(
            a.value(Factor::Hallucination, &p, p.a, opts),
            Some(2.0 / 3.0)
        );
        assert_eq!(a.value(Factor::OffFocus, &p, p.a, opts), Some(0.0));
        assert_eq!(a.value(Factor::SrcCoverage, &p, p.a, opts), Some(0.5));
        assert_eq!(distinct_facts(&[]), Vec::<usize>::new());
    }

    #[test]
    fn values_from_answers() {
        let d = ds();
        let p = d.pairs[0];
        let opts = SUMMARIES;
        let s1 = p.source.unwrap();
        let factors = Task::Summarization.factors();
        let qs = questions_for_side(factors, &p, p.a, opts);
        let (judge_q, check_q) = (qs[2], qs[3]);
        let mut a = Answers::default();
        a.insert(Question::Facts(p.a), facts(&["f1", "f2", "f3", "f4"]));
        assert_eq!(a.value(Factor::NFacts, &p, p.a, opts), Some(4.0));
        assert_eq!(a.value(Factor::Hallucination, &p, p.a, opts), None);
        a.insert(Question::Facts(s1), facts(&["s1", "s2"]));
        a.insert(
            check_q,
            Answer::FactChecks {
                fact_checks: Box::new(FactChecks {
                    supported: Some(vec![true, false, true, true]),
                    main_focus: Some(vec![false, false, true, true]),
                    covered: Some(vec![true, false]),
                    ..Default::default()
                }),
            },
        );
        assert_eq!(a.value(Factor::Hallucination, &p, p.a, opts), Some(0.25));
        assert_eq!(a.value(Factor::OffFocus, &p, p.a, opts), Some(0.5));
        assert_eq!(a.value(Factor::SrcCoverage, &p, p.a, opts), Some(0.5));
        assert_eq!(
            a.value(Factor::Helpfulness, &p, p.a, opts),
            None,
            "not asked"
        );
        assert_eq!(a.value(Factor::Fluency, &p, p.a, opts), None);
        a.insert(
            judge_q,
            Answer::Judgements {
                judgements: Box::new(Judgements {
                    intent_alignment: Some(2.0),
                    formality_alignment: Some(1.0),
                    fluency: Some(0.75),
                    coherence: Some(0.5),
                    ..Default::default()
                }),
            },
        );
        assert_eq!(a.value(Factor::IntentAlignment, &p, p.a, opts), Some(2.0));
        assert_eq!(
            a.value(Factor::FormalityAlignment, &p, p.a, opts),
            Some(1.0)
        );
        assert_eq!(a.value(Factor::Fluency, &p, p.a, opts), Some(0.75));
        assert_eq!(a.value(Factor::Coherence, &p, p.a, opts), Some(0.5));
        // The same response in another pair with the same context shares them.
        let p2 = d.pairs[1];
        assert_eq!(a.value(Factor::Fluency, &p2, p2.a, opts), Some(0.75));
        // No facts: nothing hallucinated, and the fact check needs no call.
        a.insert(Question::Facts(p.b), facts(&[]));
        assert_eq!(a.value(Factor::Hallucination, &p, p.b, opts), Some(0.0));
        let check_b = questions_for_side(&[Factor::Hallucination], &p, p.b, opts)[1];
        assert!(prompt(&check_b, &d, &a, opts).is_none());
        // ... but coverage of the source's facts still is asked.
        let both_b =
            questions_for_side(&[Factor::Hallucination, Factor::SrcCoverage], &p, p.b, opts)
                .into_iter()
                .find(|q| matches!(q, Question::Checks { .. }))
                .unwrap();
        let pr = prompt(&both_b, &d, &a, opts).unwrap();
        assert!(pr.user.contains("SOURCE_FACTS") && !pr.user.contains("RESPONSE_FACTS"));
    }

    fn reply(text: &str) -> Completion {
        Completion {
            text: text.into(),
            first_token_logprobs: None,
            token_logprobs: None,
            usage: Default::default(),
            finish: None,
            model: None,
        }
    }

    fn yes_no_alts(p: f64, space: &str) -> Vec<(String, f64)> {
        vec![
            (format!("{space}yes"), p.ln()),
            (format!("{space}no"), (1.0 - p).ln()),
        ]
    }

    fn yes_at(p: f64) -> Completion {
        Completion {
            first_token_logprobs: Some(yes_no_alts(p, "")),
            ..reply("yes")
        }
    }

    fn close(a: Option<f64>, b: f64) {
        assert!(a.is_some_and(|a| (a - b).abs() < 1e-9), "{a:?} vs {b}");
    }

    #[test]
    fn replies_parse_into_answers() {
        let d = ds();
        let p = d.pairs[0];
        let opts = ExtractOptions::default();
        let mut a = Answers::default();
        let q = Question::Facts(p.a);
        let fa = parse_reply(
            &q,
            &reply("```json\n{\"facts\": [\"x\", \"y\"]}\n```"),
            &a,
            opts,
        )
        .unwrap();
        a.insert(q, fa);
        let c = questions_for_side(&[Factor::OffFocus, Factor::Misinformation], &p, p.a, opts)[1];
        let ans = parse_reply(
            &c,
            &reply(
                r#"{"response_facts": [{"id": 1, "main_focus": "yes", "misleading": "no"},
                    {"id": 2, "main_focus": "no", "misleading": "yes"}]}"#,
            ),
            &a,
            opts,
        )
        .unwrap();
        assert_eq!(
            ans,
            Answer::FactChecks {
                fact_checks: Box::new(FactChecks {
                    main_focus: Some(vec![true, false]),
                    misleading: Some(vec![false, true]),
                    ..Default::default()
                })
            }
        );
        assert!(parse_reply(
            &c,
            &reply(r#"{"response_facts": [{"id": 1, "main_focus": "yes", "misleading": "no"}]}"#),
            &a,
            opts
        )
        .is_err());
        // Judgements: labels and ratings become factor values.
        let j = questions_for_side(Task::Helpful.factors(), &p, p.a, opts)
            .into_iter()
            .find(|q| matches!(q, Question::Judgements { .. }))
            .unwrap();
        let ans = parse_reply(
            &j,
            &reply(r#"{"receptiveness": "yes", "fluency": 5, "coherence": 3}"#),
            &a,
            opts,
        )
        .unwrap();
        assert_eq!(
            ans,
            Answer::Judgements {
                judgements: Box::new(Judgements {
                    receptiveness: Some(1.0),
                    fluency: Some(1.0),
                    coherence: Some(0.5),
                    ..Default::default()
                })
            }
        );
        // Fluency alone with log-probabilities: the first token.
        let f = questions_for_side(&[Factor::Fluency], &p, p.a, SUMMARIES_LP)[0];
        let Answer::Judgements { judgements } =
            parse_reply(&f, &yes_at(0.8), &a, SUMMARIES_LP).unwrap()
        else {
            panic!()
        };
        close(judgements.fluency, 0.8);
        assert_eq!(judgements.coherence, None);
    }

    #[test]
    fn fluency_and_coherence_read_at_each_answer() {
        let d = ds();
        let p = d.pairs[0];
        let q = questions_for_side(&[Factor::Fluency, Factor::Coherence], &p, p.a, SUMMARIES_LP)[0];
        assert!(matches!(
            q,
            Question::FluencyCoherence {
                fluency: true,
                coherence: true,
                ..
            }
        ));
        let a = Answers::default();
        let two = |c: &Completion| match parse_reply(&q, c, &a, SUMMARIES_LP).unwrap() {
            Answer::Judgements { judgements } => (judgements.fluency, judgements.coherence),
            other => panic!("{other:?}"),
        };
        let sep = vec![(" ".to_string(), -0.01)];
        let c = Completion {
            token_logprobs: Some(vec![
                yes_no_alts(0.7, ""),
                sep.clone(),
                yes_no_alts(0.2, ""),
            ]),
            ..reply("yes no")
        };
        let (fl, co) = two(&c);
        close(fl, 0.7);
        close(co, 0.2);
        // Without log-probabilities: the words.
        assert_eq!(two(&reply("no yes")), (Some(0.0), Some(1.0)));
        // Only one answer position found: the words for both.
        let c = Completion {
            token_logprobs: Some(vec![yes_no_alts(0.7, ""), sep]),
            ..reply("yes no")
        };
        assert_eq!(two(&c), (Some(1.0), Some(0.0)));
        assert!(parse_reply(&q, &reply("yes"), &a, SUMMARIES_LP).is_err());
    }

    #[test]
    fn answers_serialise_unambiguously() {
        let all = [
            facts(&[]),
            facts(&["a"]),
            Answer::Judgements {
                judgements: Box::new(Judgements {
                    fluency: Some(0.5),
                    ..Default::default()
                }),
            },
            Answer::Judgements {
                judgements: Box::default(),
            },
            Answer::FactChecks {
                fact_checks: Box::new(FactChecks {
                    supported: Some(vec![true]),
                    covered: Some(vec![false]),
                    ..Default::default()
                }),
            },
            Answer::FactChecks {
                fact_checks: Box::default(),
            },
        ];
        for x in all {
            let v = serde_json::to_value(&x).unwrap();
            assert_eq!(
                serde_json::from_value::<Answer>(v.clone()).unwrap(),
                x,
                "{v}"
            );
        }
        assert_eq!(
            serde_json::to_string(&Answer::Judgements {
                judgements: Box::new(Judgements {
                    receptiveness: Some(1.0),
                    ..Default::default()
                })
            })
            .unwrap(),
            r#"{"judgements":{"receptiveness":1.0}}"#
        );
        // Unknown keys are no answer.
        assert!(serde_json::from_str::<Answer>(r#"{"judgements": {"nope": 1}}"#).is_err());
        assert!(serde_json::from_str::<Answer>("[true]").is_err());
    }

    #[test]
    fn keys_name_the_parts_asked() {
        let d = ds();
        let p = d.pairs[0];
        let a = Answers::default();
        let key = |fs: &[Factor]| {
            let q = questions_for_side(fs, &p, p.a, SUMMARIES)
                .into_iter()
                .find(|q| matches!(q, Question::Judgements { .. }))
                .unwrap();
            key_texts(&q, &d, &a)
        };
        let one = key(&[Factor::Fluency]);
        let two = key(&[Factor::Fluency, Factor::Coherence]);
        assert_eq!(one[0], "parts=fluency_rating; request=no; source=no");
        assert_eq!(
            two[0],
            "parts=fluency_rating,coherence_rating; request=no; source=yes"
        );
        assert_ne!(one, two);
    }
}
