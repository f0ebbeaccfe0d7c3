//! Which LLM questions a factor set needs on a dataset, and how their answers
//! become factor values (METHOD.md §6).
//!
//! Per pair side, the built-in LLM factors of a factor set are served by at
//! most four calls per unique response, plus one per unique source:
//!
//! 1. [`FactorQuestion::Facts`]: the atomic facts of a text, once per unique text
//!    (responses; sources for source coverage).
//! 2. [`FactorQuestion::Judgements`]: every needed response-level judgement
//!    (intent alignment, formality alignment, receptiveness and, without
//!    log-probabilities, fluency and coherence ratings) in one call per
//!    unique (response, context).
//! 3. [`FactorQuestion::FluencyCoherence`]: with log-probabilities, fluency and
//!    coherence as bare yes/no answers in one call per unique (response,
//!    document).
//! 4. [`FactorQuestion::Checks`]: once the facts are known, every needed check of
//!    the response's facts and the source-coverage check of the source's
//!    facts, in one call per unique (response, context). When only source
//!    coverage is needed it is a [`FactorQuestion::SourceCoverage`].
//!
//! Custom LLM factors (a factor pack's `llm_yes_no`, `llm_rating`) add one
//! [`FactorQuestion::Custom`] each per unique (response, texts the question
//! sees), in the first stage: a call of their own, so that P(yes) or the
//! expected rating can be read at the reply's first token (the combined
//! judgements call replies in JSON). Their answers are found by the
//! question itself, not through a slot.
//!
//! Which parts a combined question asks depends on the factor set and on
//! which context texts a pair has, so the parts are part of the question (and
//! of its cache key, see [`key_texts`]). An answer is found again for a factor
//! through its *slot*: the factor, the response and the context text the
//! factor is judged against (see [`Answers::value`]).
//!
//! Fact checks need the facts, so planning has two stages.

use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use super::cache::{digest, KeyHasher, TextDigests};
use super::parse::{self, ParseError};
use super::prompts;
use super::provider::{self, Completion};
pub use super::question::{
    Answer, Answers, CallsPerResponse, CheckKinds, FactChecks, FactorQuestion, JudgementParts,
    Judgements, Member, Plan, PlanShape, Question, Set,
};
use super::question::{CheckKind, JudgementPart, Slot};
use super::Prompt;
use crate::data::{Dataset, Pair, TextId};
use crate::factors::pack::CustomId;
use crate::factors::Factor;

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

/// The questions one side of a pair needs for the LLM factors among
/// `factors`: at most one of each kind, each asking every part needed.
fn questions_for_side(
    factors: &[Factor],
    p: &Pair,
    response: TextId,
    opts: ExtractOptions,
) -> Vec<FactorQuestion> {
    let mut facts = false;
    let mut kinds = CheckKinds::default();
    let mut coverage = None;
    let mut parts = JudgementParts::default();
    let (mut fluency, mut coherence) = (false, false);
    let mut custom = Vec::new();
    for &f in factors.iter().filter(|f| f.needs_model()) {
        match f {
            Factor::Custom(c) => custom.extend(custom_question(c, p, response)),
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
        out.push(FactorQuestion::Facts(response));
    }
    if let Some(s) = coverage {
        out.push(FactorQuestion::Facts(s));
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
        out.push(FactorQuestion::Judgements {
            response,
            request,
            source,
            parts,
        });
    }
    if fluency || coherence {
        out.push(FactorQuestion::FluencyCoherence {
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
        out.push(FactorQuestion::Checks {
            text: response,
            request,
            source,
            kinds,
            coverage,
        });
    } else if let Some(source) = coverage {
        out.push(FactorQuestion::SourceCoverage { source, response });
    }
    out.extend(custom);
    out
}

/// The question of custom LLM factor `c` for one side of a pair: the
/// request and/or source it sees. `None` for a rule factor, or when the
/// pair lacks a text the question sees (the side then has no value and
/// counts as missing).
pub(crate) fn custom_question(c: CustomId, p: &Pair, response: TextId) -> Option<FactorQuestion> {
    let q = crate::factors::pack::llm_question(c)?;
    let request = if q.request { Some(p.input?) } else { None };
    let source = if q.source { Some(p.source?) } else { None };
    Some(FactorQuestion::Custom {
        factor: c,
        response,
        request,
        source,
    })
}

impl Plan {
    /// Plans the questions for the LLM factors among `factors` over all pairs.
    pub fn new(ds: &Dataset, factors: &[Factor], opts: ExtractOptions) -> Plan {
        let mut seen = FxHashSet::default();
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let mut responses = FxHashSet::default();
        let mut sources = FxHashSet::default();
        let any_model = factors.iter().any(|f| f.needs_model());
        // A side's questions depend only on its response, the pair's input
        // and source: a side seen before adds nothing (responses repeat
        // across pairs), so it is not listed again.
        let mut sides = FxHashSet::default();
        for p in &ds.pairs {
            for response in [p.a, p.b] {
                if !any_model || !sides.insert((response, p.input, p.source)) {
                    continue;
                }
                responses.insert(response);
                for q in questions_for_side(factors, p, response, opts) {
                    match q {
                        FactorQuestion::Checks {
                            coverage: Some(source),
                            ..
                        }
                        | FactorQuestion::SourceCoverage { source, .. } => {
                            sources.insert(source);
                        }
                        _ => {}
                    }
                    if seen.insert(q) {
                        match q {
                            FactorQuestion::Checks { .. }
                            | FactorQuestion::SourceCoverage { .. } => second.push(q.into()),
                            _ => first.push(q.into()),
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
                    Factor::Custom(c) => match custom_question(c, p, response) {
                        Some(_) => 1.0,
                        None => 0.0,
                    },
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

impl Answers {
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
        // A run memo's answers hold the values it gave.
        if let Some(v) = self.memo().and_then(|m| m.value(f, p, response, opts)) {
            return v;
        }
        if f == Factor::NFacts {
            return self.facts(response).map(|x| distinct_facts(x).len() as f64);
        }
        if let Factor::Custom(c) = f {
            let q = Question::Factor(custom_question(c, p, response)?);
            return match self.get(&q) {
                Some(Answer::Custom { custom }) => Some(*custom),
                _ => None,
            };
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

impl Answers {
    /// The answered questions whose answers give the value of LLM factor
    /// `f` for one side of a pair ([`Answers::value`]), in the order they
    /// were asked: the facts (of the response; of the source for source
    /// coverage), then the fact checks or the response-level judgements.
    /// Empty for a factor without an LLM answer.
    pub fn value_questions(
        &self,
        f: Factor,
        p: &Pair,
        response: TextId,
        opts: ExtractOptions,
    ) -> Vec<Question> {
        let mut out = Vec::new();
        let facts = |t: TextId, out: &mut Vec<Question>| {
            let q = Question::facts(t);
            if self.get(&q).is_some() {
                out.push(q);
            }
        };
        if f == Factor::NFacts {
            facts(response, &mut out);
            return out;
        }
        let Some(slot) = slot_for(f, p, response, opts) else {
            return out;
        };
        match f {
            Factor::Hallucination
            | Factor::OffFocus
            | Factor::Helpfulness
            | Factor::Misinformation => facts(response, &mut out),
            Factor::SrcCoverage => {
                if let Some(s) = slot.reference {
                    facts(s, &mut out);
                }
            }
            _ => {}
        }
        if let Some(q) = self.question_at(&slot) {
            out.push(*q);
        }
        out
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
fn check_ask<'a>(q: &FactorQuestion, answers: &'a Answers) -> Option<CheckAsk<'a>> {
    let ask = match *q {
        FactorQuestion::Checks {
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
        FactorQuestion::SourceCoverage { source, response } => CheckAsk {
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
    q: &FactorQuestion,
    ds: &Dataset,
    answers: &Answers,
    opts: ExtractOptions,
) -> Option<Prompt> {
    let t = |id: TextId| ds.text(id);
    Some(match *q {
        FactorQuestion::Custom {
            factor,
            response,
            request,
            source,
        } => {
            let c = crate::factors::pack::llm_question(factor)?;
            prompts::custom_question(
                c.rating,
                c.question,
                request.map(t),
                source.map(t),
                t(response),
                opts.logprobs,
            )
        }
        FactorQuestion::Facts(text) => prompts::atomic_facts(t(text)),
        FactorQuestion::Judgements {
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
        FactorQuestion::FluencyCoherence {
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
        FactorQuestion::Checks { .. } | FactorQuestion::SourceCoverage { .. } => {
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

/// The kind of the prompt [`prompt`] would render, without rendering it;
/// `None` exactly when [`prompt`] gives `None`.
pub fn template(
    q: &FactorQuestion,
    answers: &Answers,
    opts: ExtractOptions,
) -> Option<super::ask::PromptKind> {
    let kind = |template, want_logprobs| super::ask::PromptKind {
        template,
        want_logprobs,
    };
    Some(match *q {
        FactorQuestion::Custom { factor, .. } => {
            let c = crate::factors::pack::llm_question(factor)?;
            let t = if c.rating {
                prompts::CUSTOM_RATING
            } else {
                prompts::CUSTOM_YES_NO
            };
            kind(t, opts.logprobs)
        }
        FactorQuestion::Facts(_) => kind(prompts::ATOMIC_FACTS, false),
        FactorQuestion::Judgements { .. } => kind(prompts::RESPONSE_JUDGEMENTS, false),
        FactorQuestion::FluencyCoherence {
            fluency, coherence, ..
        } => match (fluency, coherence) {
            (true, true) => kind(prompts::FLUENCY_COHERENCE, true),
            (true, false) => kind(prompts::FLUENCY, true),
            (false, _) => kind(prompts::COHERENCE, true),
        },
        FactorQuestion::Checks { .. } | FactorQuestion::SourceCoverage { .. } => {
            check_ask(q, answers)?;
            kind(prompts::FACT_CHECKS, false)
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
    q: &FactorQuestion,
    c: &Completion,
    answers: &Answers,
    _opts: ExtractOptions,
) -> Result<Answer, ParseError> {
    let reply = c.text.as_str();
    Ok(match *q {
        FactorQuestion::Custom { factor, .. } => {
            let rating = crate::factors::pack::llm_question(factor).is_some_and(|c| c.rating);
            let first = c.first_token_logprobs.as_deref();
            let custom = if rating {
                match first.and_then(super::logprob::expected_rating) {
                    Some(e) => e,
                    None => f64::from(parse::parse_rating(reply)?),
                }
            } else {
                match first.and_then(provider::p_yes) {
                    Some(p) => p,
                    None => unit(parse::parse_yes_no(reply)?),
                }
            };
            Answer::Custom { custom }
        }
        FactorQuestion::Facts(_) => Answer::Facts(parse::parse_facts(reply)?),
        FactorQuestion::Judgements { parts, .. } => {
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
        FactorQuestion::FluencyCoherence {
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
        FactorQuestion::Checks { .. } | FactorQuestion::SourceCoverage { .. } => {
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
pub fn key_texts<'a>(q: &FactorQuestion, ds: &'a Dataset, answers: &'a Answers) -> Vec<String> {
    let t = |id: TextId| ds.text(id).to_owned();
    let opt = |id: Option<TextId>| id.map(t).unwrap_or_default();
    let yn = |b: bool| if b { "yes" } else { "no" };
    match *q {
        FactorQuestion::Custom {
            factor,
            response,
            request,
            source,
        } => {
            let c = crate::factors::pack::llm_question(factor);
            vec![
                format!(
                    "custom={}; request={}; source={}",
                    if c.is_some_and(|c| c.rating) {
                        "rating"
                    } else {
                        "yes_no"
                    },
                    yn(request.is_some()),
                    yn(source.is_some())
                ),
                c.map(|c| c.question.to_owned()).unwrap_or_default(),
                opt(request),
                opt(source),
                t(response),
            ]
        }
        FactorQuestion::Facts(x) => vec![t(x)],
        FactorQuestion::Judgements {
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
        FactorQuestion::FluencyCoherence {
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
        FactorQuestion::Checks { .. } | FactorQuestion::SourceCoverage { .. } => {
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

/// Feeds a question into a version-2 cache key: the fields of
/// [`key_texts`] in the same order, each text as its digest (once per text
/// in `d`), the descriptors as their parts.
pub fn key_fields(
    q: &FactorQuestion,
    ds: &Dataset,
    answers: &Answers,
    d: &mut TextDigests,
    h: &mut KeyHasher,
) {
    let text = |d: &mut TextDigests, id: Option<TextId>| match id {
        Some(id) => d.text(id, ds.text(id)),
        None => digest(""),
    };
    let flag = |b: bool| u64::from(b);
    match *q {
        FactorQuestion::Custom {
            factor,
            response,
            request,
            source,
        } => {
            // The question's kind and a digest of its text, not the
            // factor's id or its handle: the same question about the same
            // texts is the same call, whichever pack asks it.
            let c = crate::factors::pack::llm_question(factor);
            h.str("custom")
                .str(if c.is_some_and(|c| c.rating) {
                    "rating"
                } else {
                    "yes_no"
                })
                .digest(digest(c.map_or("", |c| c.question)))
                .u64(flag(request.is_some()))
                .u64(flag(source.is_some()))
                .digest(text(d, request))
                .digest(text(d, source))
                .digest(text(d, Some(response)));
        }
        FactorQuestion::Facts(x) => {
            h.str("facts").digest(text(d, Some(x)));
        }
        FactorQuestion::Judgements {
            response,
            request,
            source,
            parts,
        } => {
            h.str("judgements");
            for p in parts.to_vec() {
                h.str(p.name());
            }
            h.u64(flag(request.is_some()))
                .u64(flag(source.is_some()))
                .digest(text(d, request))
                .digest(text(d, source))
                .digest(text(d, Some(response)));
        }
        FactorQuestion::FluencyCoherence {
            response,
            document,
            fluency,
            coherence,
        } => {
            h.str("fluency_coherence")
                .u64(flag(fluency))
                .u64(flag(coherence))
                .u64(flag(document.is_some()))
                .digest(text(d, document))
                .digest(text(d, Some(response)));
        }
        FactorQuestion::Checks { .. } | FactorQuestion::SourceCoverage { .. } => {
            let Some(a) = check_ask(q, answers) else {
                h.str("nothing to ask");
                return;
            };
            // Whose facts are quoted: the checked text's, and the source's
            // for coverage.
            let (checked, covered) = match *q {
                FactorQuestion::Checks { text, coverage, .. } => (Some(text), coverage),
                FactorQuestion::SourceCoverage { source, .. } => (None, Some(source)),
                _ => (None, None),
            };
            let facts = |d: &mut TextDigests, of: Option<TextId>, f: &[String]| match of {
                Some(id) if !f.is_empty() => d.facts(id, f),
                _ => digest(&f.join("\u{1f}")),
            };
            h.str("checks");
            for k in &a.kinds {
                h.str(k.key());
            }
            h.u64(flag(a.request.is_some()))
                .u64(flag(a.source.is_some()))
                .u64(flag(a.coverage.is_some()));
            let response_facts = facts(d, checked, a.facts);
            h.digest(response_facts)
                .digest(text(d, a.request))
                .digest(text(d, a.source));
            match a.coverage {
                Some((f, r)) => {
                    let source_facts = facts(d, covered, f);
                    h.digest(source_facts).digest(text(d, Some(r)));
                }
                None => {
                    h.digest(digest("")).digest(digest(""));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The questions of every family, as the engine asks them.
    use crate::llm::ask::{key_texts, parse_reply, prompt};

    /// [`super::questions_for_side`] as questions of the factor family.
    fn questions_for_side(
        factors: &[Factor],
        p: &Pair,
        response: TextId,
        opts: ExtractOptions,
    ) -> Vec<Question> {
        super::questions_for_side(factors, p, response, opts)
            .into_iter()
            .map(Question::Factor)
            .collect()
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
                Question::Factor(FactorQuestion::Facts(p.a)),
                Question::Factor(FactorQuestion::Facts(s1)),
                // Every part prefers the source: the request is not shown.
                Question::Factor(FactorQuestion::Judgements {
                    response: p.a,
                    request: None,
                    source: Some(s1),
                    parts
                }),
                Question::Factor(FactorQuestion::Checks {
                    text: p.a,
                    request: Some(q1),
                    source: Some(s1),
                    kinds,
                    coverage: Some(s1)
                }),
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
            vec![Question::Factor(FactorQuestion::Judgements {
                response: p.a,
                request: Some(q1),
                source: None,
                parts: [JudgementPart::Receptiveness, JudgementPart::Fluency]
                    .into_iter()
                    .collect()
            })]
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
                Question::Factor(FactorQuestion::Facts(s1)),
                Question::Factor(FactorQuestion::FluencyCoherence {
                    response: p.a,
                    document: None,
                    fluency: true,
                    coherence: false
                }),
                Question::Factor(FactorQuestion::SourceCoverage {
                    source: s1,
                    response: p.a
                }),
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
            Question::Factor(FactorQuestion::Facts(p.a)),
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
            Question::Factor(FactorQuestion::Facts(s1)),
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
        a.insert(
            Question::Factor(FactorQuestion::Facts(p.a)),
            facts(&["f1", "f2", "f3", "f4"]),
        );
        assert_eq!(a.value(Factor::NFacts, &p, p.a, opts), Some(4.0));
        assert_eq!(a.value(Factor::Hallucination, &p, p.a, opts), None);
        a.insert(
            Question::Factor(FactorQuestion::Facts(s1)),
            facts(&["s1", "s2"]),
        );
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
        a.insert(Question::Factor(FactorQuestion::Facts(p.b)), facts(&[]));
        assert_eq!(a.value(Factor::Hallucination, &p, p.b, opts), Some(0.0));
        let check_b = questions_for_side(&[Factor::Hallucination], &p, p.b, opts)[1];
        assert!(prompt(&check_b, &d, &a, opts).is_none());
        // ... but coverage of the source's facts still is asked.
        let both_b =
            questions_for_side(&[Factor::Hallucination, Factor::SrcCoverage], &p, p.b, opts)
                .into_iter()
                .find(|q| matches!(q, Question::Factor(FactorQuestion::Checks { .. })))
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
        let q = Question::Factor(FactorQuestion::Facts(p.a));
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
            .find(|q| matches!(q, Question::Factor(FactorQuestion::Judgements { .. })))
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
            Question::Factor(FactorQuestion::FluencyCoherence {
                fluency: true,
                coherence: true,
                ..
            })
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

    /// A custom question's cache key covers the question text and the texts
    /// it sees, not the factor's id: the same question under another id is
    /// the same call; another question, or seeing the request, is another.
    #[test]
    fn custom_keys_cover_the_question_not_the_id() {
        use crate::factors::pack::{register, FactorPack};
        use crate::llm::ask::template;
        use crate::llm::engine::Keys;
        let d = ds();
        let p = d.pairs[0];
        let pack = |id: &str, q: &str, sees: &str| {
            let text = format!(
                r#"{{"factors": [{{"id": "{id}", "name": "n", "kind": "llm_yes_no", "question": "{q}", "sees": [{sees}]}}]}}"#
            );
            let f = register(&FactorPack::parse(&text).unwrap()).unwrap()[0];
            questions_for_side(&[f], &p, p.a, ExtractOptions::default())
        };
        let a = pack("k_cites_a", "Does it cite a source?", "");
        let same = pack("k_cites_b", "Does it cite a source?", "");
        let other = pack("k_cites_c", "Does it cite a study?", "");
        let sees = pack("k_cites_d", "Does it cite a source?", r#""request""#);
        assert_eq!(a.len(), 1);
        assert_ne!(a[0], same[0], "two factors, two questions");
        let mut keys = Keys::new(&crate::llm::provider::ModelConfig::new(
            crate::llm::provider::Provider::OpenAi,
            "m",
        ));
        let none = Answers::default();
        let mut key = |q: &Question| {
            let kind = template(q, &none, ExtractOptions::default()).unwrap();
            assert_eq!(kind.template.id(), "custom_yes_no@1");
            (keys.key(q, kind, &d, &none), key_texts(q, &d, &none))
        };
        let (ka, ta) = key(&a[0]);
        assert_eq!(key(&same[0]), (ka.clone(), ta.clone()));
        assert_ne!(key(&other[0]).0, ka);
        assert_ne!(key(&sees[0]).0, ka);
        assert_eq!(ta[0], "custom=yes_no; request=no; source=no");
        assert_eq!(ta[1], "Does it cite a source?");
        // With log-probabilities: another prompt, another key.
        let lp = ExtractOptions {
            logprobs: true,
            ..Default::default()
        };
        let kind = template(&a[0], &none, lp).unwrap();
        assert!(kind.want_logprobs);
        assert_ne!(keys.key(&a[0], kind, &d, &none), ka);
    }

    #[test]
    fn keys_name_the_parts_asked() {
        let d = ds();
        let p = d.pairs[0];
        let a = Answers::default();
        let key = |fs: &[Factor]| {
            let q = questions_for_side(fs, &p, p.a, SUMMARIES)
                .into_iter()
                .find(|q| matches!(q, Question::Factor(FactorQuestion::Judgements { .. })))
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
