//! Which LLM questions a factor set needs on a dataset, and how their answers
//! become factor values (METHOD.md §6).
//!
//! Questions are asked once per unique text (facts), once per unique
//! (response, context) pair (checks, response-level judgements) and once per
//! unique source (source facts): calls scale with unique texts, not pairs.
//! Fact checks need the facts, so planning has two stages.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::parse::{self, ParseError};
use super::prompts::{self, CheckKind};
use super::provider::{self, Completion};
use super::Prompt;
use crate::data::{Dataset, Pair, TextId};
use crate::factors::Factor;

/// One question to a model, in terms of the dataset's texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Question {
    /// The atomic facts of a text (a response, or a source for coverage).
    Facts(TextId),
    /// One check kind over all facts of `text`, against `context`.
    Checks {
        kind: CheckKindId,
        text: TextId,
        context: TextId,
    },
    /// The source's facts checked against the response.
    SourceCoverage {
        source: TextId,
        response: TextId,
    },
    Intent {
        context: TextId,
        response: TextId,
        summary: bool,
    },
    Formality {
        post: TextId,
        response: TextId,
    },
    Receptiveness {
        question: TextId,
        response: TextId,
    },
    Fluency(TextId),
    Coherence {
        document: TextId,
        response: TextId,
    },
}

/// [`CheckKind`] with the traits a map key needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CheckKindId {
    Supported,
    MainFocus,
    HelpfulExtra,
    Misleading,
}

impl CheckKindId {
    pub fn kind(self) -> CheckKind {
        match self {
            CheckKindId::Supported => CheckKind::Supported,
            CheckKindId::MainFocus => CheckKind::MainFocus,
            CheckKindId::HelpfulExtra => CheckKind::HelpfulExtra,
            CheckKindId::Misleading => CheckKind::Misleading,
        }
    }

    fn for_factor(f: Factor) -> Option<CheckKindId> {
        match f {
            Factor::Hallucination => Some(CheckKindId::Supported),
            Factor::OffFocus => Some(CheckKindId::MainFocus),
            Factor::Helpfulness => Some(CheckKindId::HelpfulExtra),
            Factor::Misinformation => Some(CheckKindId::Misleading),
            _ => None,
        }
    }
}

/// A parsed answer, as stored in the cache (`value`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Facts(Vec<String>),
    Checks(Vec<bool>),
    Number(f64),
}

/// Options that change which prompts are used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractOptions {
    /// The provider returns token log-probabilities: fluency and coherence use
    /// P(yes) of a yes/no question; otherwise a 1–5 rating mapped to [0, 1].
    pub logprobs: bool,
    /// Summaries (intent alignment asks about the post's purpose).
    pub summaries: bool,
}

/// The context a pair's checks use: the source (else the input) for support,
/// the input (else the source) for focus, helpfulness and misinformation.
fn check_context(kind: CheckKindId, p: &Pair) -> Option<TextId> {
    match kind {
        CheckKindId::Supported => p.source.or(p.input),
        _ => p.input.or(p.source),
    }
}

/// The questions whose answers give factor `f` for one side of a pair.
fn questions_for(f: Factor, p: &Pair, response: TextId, opts: ExtractOptions) -> Vec<Question> {
    match f {
        Factor::NFacts => vec![Question::Facts(response)],
        Factor::Hallucination | Factor::OffFocus | Factor::Helpfulness | Factor::Misinformation => {
            let kind = CheckKindId::for_factor(f).expect("a fact-check factor");
            match check_context(kind, p) {
                Some(context) => vec![
                    Question::Facts(response),
                    Question::Checks {
                        kind,
                        text: response,
                        context,
                    },
                ],
                None => vec![],
            }
        }
        Factor::SrcCoverage => match p.context() {
            Some(source) => vec![
                Question::Facts(source),
                Question::SourceCoverage { source, response },
            ],
            None => vec![],
        },
        Factor::IntentAlignment => p.context().map_or(vec![], |context| {
            vec![Question::Intent {
                context: p.input.or(p.source).unwrap_or(context),
                response,
                summary: opts.summaries,
            }]
        }),
        Factor::FormalityAlignment => p
            .context()
            .map_or(vec![], |post| vec![Question::Formality { post, response }]),
        Factor::Receptiveness => p.input.or(p.source).map_or(vec![], |question| {
            vec![Question::Receptiveness { question, response }]
        }),
        Factor::Fluency => vec![Question::Fluency(response)],
        Factor::Coherence => match p.context() {
            Some(document) => vec![Question::Coherence { document, response }],
            None => vec![Question::Coherence {
                document: response,
                response,
            }],
        },
        Factor::Length | Factor::NovelWords | Factor::NovelWordsCount => vec![],
    }
}

/// The calls a factor set needs, in two stages.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Questions that need nothing else (facts, response-level judgements, fluency, coherence).
    pub first: Vec<Question>,
    /// Fact checks, asked once the facts they check are known.
    pub second: Vec<Question>,
    /// Unique responses involved.
    pub unique_responses: usize,
    /// Unique sources whose facts are extracted (for source coverage).
    pub unique_sources: usize,
}

impl Plan {
    /// Plans the questions for the LLM factors among `factors` over all pairs.
    pub fn new(ds: &Dataset, factors: &[Factor], opts: ExtractOptions) -> Plan {
        let mut seen = FxHashSet::default();
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let mut responses = FxHashSet::default();
        let mut sources = FxHashSet::default();
        for p in &ds.pairs {
            for response in [p.a, p.b] {
                for &f in factors.iter().filter(|f| f.needs_model()) {
                    responses.insert(response);
                    for q in questions_for(f, p, response, opts) {
                        if let Question::SourceCoverage { source, .. } = q {
                            sources.insert(source);
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
        }
        Plan {
            first,
            second,
            unique_responses: responses.len(),
            unique_sources: sources.len(),
        }
    }

    /// All questions.
    pub fn len(&self) -> usize {
        self.first.len() + self.second.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The naive plan's number of calls: every pair side asks every question
/// anew, and each fact is checked in a call of its own, per factor.
/// `facts` gives the number of facts per text where known (else `mean_facts`).
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
                for q in questions_for(f, p, response, opts) {
                    total += match q {
                        Question::Checks { text, .. } => n_facts(text),
                        Question::SourceCoverage { source, .. } => n_facts(source),
                        _ => 1.0,
                    };
                }
            }
        }
    }
    total
}

/// Answers known so far (from the cache or from calls).
#[derive(Clone, Debug, Default)]
pub struct Answers {
    map: FxHashMap<Question, Answer>,
}

impl Answers {
    pub fn insert(&mut self, q: Question, a: Answer) {
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

    fn share(&self, q: &Question, want: bool, n_facts: usize) -> Option<f64> {
        if n_facts == 0 {
            return Some(0.0);
        }
        match self.map.get(q) {
            Some(Answer::Checks(c)) if c.len() == n_facts => {
                Some(c.iter().filter(|&&x| x == want).count() as f64 / n_facts as f64)
            }
            _ => None,
        }
    }

    fn number(&self, q: &Question) -> Option<f64> {
        match self.map.get(q) {
            Some(Answer::Number(x)) => Some(*x),
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
        let qs = questions_for(f, p, response, opts);
        match f {
            Factor::NFacts => self.facts(response).map(|x| x.len() as f64),
            Factor::Hallucination
            | Factor::OffFocus
            | Factor::Helpfulness
            | Factor::Misinformation => {
                let n = self.facts(response)?.len();
                // hallucination and off-focus count "no" answers; the others "yes".
                let want = matches!(f, Factor::Helpfulness | Factor::Misinformation);
                self.share(qs.get(1)?, want, n)
            }
            Factor::SrcCoverage => {
                let Question::SourceCoverage { source, .. } = *qs.get(1)? else {
                    return None;
                };
                let n = self.facts(source)?.len();
                self.share(&qs[1], true, n)
            }
            _ => self.number(qs.first()?),
        }
    }
}

/// The prompt for a question, given the answers of the first stage. `None`
/// when a fact check has no facts to check (its value is known without a call).
pub fn prompt(
    q: &Question,
    ds: &Dataset,
    answers: &Answers,
    opts: ExtractOptions,
) -> Option<Prompt> {
    let t = |id: TextId| ds.text(id);
    Some(match *q {
        Question::Facts(text) => prompts::atomic_facts(t(text)),
        Question::Checks {
            kind,
            text,
            context,
        } => {
            let facts = answers.facts(text)?;
            if facts.is_empty() {
                return None;
            }
            prompts::fact_checks(kind.kind(), facts, t(context))
        }
        Question::SourceCoverage { source, response } => {
            let facts = answers.facts(source)?;
            if facts.is_empty() {
                return None;
            }
            prompts::source_coverage_checks(facts, t(response))
        }
        Question::Intent {
            context,
            response,
            summary,
        } => prompts::intent_alignment(t(context), t(response), summary),
        Question::Formality { post, response } => {
            prompts::formality_alignment(t(post), t(response))
        }
        Question::Receptiveness { question, response } => {
            prompts::receptiveness(t(question), t(response))
        }
        Question::Fluency(text) if opts.logprobs => prompts::fluency(t(text)),
        Question::Fluency(text) => prompts::fluency_rating(t(text)),
        Question::Coherence { document, response } if opts.logprobs => {
            prompts::coherence(t(document), t(response))
        }
        Question::Coherence { document, response } => {
            prompts::coherence_rating(t(document), t(response))
        }
    })
}

/// Parses a completion into the answer to a question. Yes/no judges read
/// P(yes) from the completion's log-probabilities when the provider returned
/// them.
pub fn parse_reply(
    q: &Question,
    c: &Completion,
    answers: &Answers,
    opts: ExtractOptions,
) -> Result<Answer, ParseError> {
    let reply = c.text.as_str();
    let p_yes = c.first_token_logprobs.as_deref().and_then(provider::p_yes);
    Ok(match *q {
        Question::Facts(_) => Answer::Facts(parse::parse_facts(reply)?),
        Question::Checks { text, .. } => Answer::Checks(parse::parse_checks(
            reply,
            answers.facts(text).map_or(0, <[String]>::len),
        )?),
        Question::SourceCoverage { source, .. } => Answer::Checks(parse::parse_checks(
            reply,
            answers.facts(source).map_or(0, <[String]>::len),
        )?),
        Question::Intent { .. } => Answer::Number(parse::parse_label(reply)?.value() as f64),
        Question::Formality { .. } => {
            Answer::Number(parse::parse_formality(reply)?.label.value() as f64)
        }
        Question::Receptiveness { .. } => Answer::Number(if parse::parse_yes_no(reply)? {
            1.0
        } else {
            0.0
        }),
        Question::Fluency(_) | Question::Coherence { .. } if opts.logprobs => match p_yes {
            Some(p) => Answer::Number(p),
            None => Answer::Number(if parse::parse_yes_no(reply)? {
                1.0
            } else {
                0.0
            }),
        },
        Question::Fluency(_) | Question::Coherence { .. } => {
            Answer::Number(parse::rating_to_unit(parse::parse_rating(reply)?))
        }
    })
}

/// The texts a question's cache key covers (besides the template and model).
pub fn key_texts<'a>(q: &Question, ds: &'a Dataset, answers: &'a Answers) -> Vec<String> {
    let t = |id: TextId| ds.text(id).to_owned();
    let facts = |id: TextId| {
        answers
            .facts(id)
            .map(|f| f.join("\u{1f}"))
            .unwrap_or_default()
    };
    match *q {
        Question::Facts(x) | Question::Fluency(x) => vec![t(x)],
        Question::Checks { text, context, .. } => vec![facts(text), t(context)],
        Question::SourceCoverage { source, response } => vec![facts(source), t(response)],
        Question::Intent {
            context, response, ..
        } => vec![t(context), t(response)],
        Question::Formality { post, response } => vec![t(post), t(response)],
        Question::Receptiveness { question, response } => vec![t(question), t(response)],
        Question::Coherence { document, response } => vec![t(document), t(response)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn calls_scale_with_unique_texts() {
        let d = ds();
        let plan = Plan::new(
            &d,
            Task::Summarization.factors(),
            ExtractOptions {
                logprobs: false,
                summaries: true,
            },
        );
        assert_eq!(plan.unique_responses, 3);
        assert_eq!(plan.unique_sources, 1);
        // first stage: facts of r1..r3 and S1 (4), intent, formality, coherence, fluency per response (12)
        assert_eq!(plan.first.len(), 16, "{:?}", plan.first);
        // second stage: off_focus and hallucination checks per response (6), coverage per response (3)
        assert_eq!(plan.second.len(), 9);
        let naive = naive_calls(
            &d,
            Task::Summarization.factors(),
            ExtractOptions::default(),
            &Answers::default(),
            3.0,
        );
        assert!(naive > plan.len() as f64);
    }

    #[test]
    fn values_from_answers() {
        let d = ds();
        let p = d.pairs[0];
        let opts = ExtractOptions::default();
        let mut a = Answers::default();
        a.insert(
            Question::Facts(p.a),
            Answer::Facts(vec!["f1".into(), "f2".into(), "f3".into(), "f4".into()]),
        );
        let ctx = p.source.unwrap();
        a.insert(
            Question::Checks {
                kind: CheckKindId::Supported,
                text: p.a,
                context: ctx,
            },
            Answer::Checks(vec![true, false, true, true]),
        );
        assert_eq!(a.value(Factor::NFacts, &p, p.a, opts), Some(4.0));
        assert_eq!(a.value(Factor::Hallucination, &p, p.a, opts), Some(0.25));
        assert_eq!(
            a.value(Factor::OffFocus, &p, p.a, opts),
            None,
            "no main-focus answer yet"
        );
        a.insert(
            Question::Facts(ctx),
            Answer::Facts(vec!["s1".into(), "s2".into()]),
        );
        a.insert(
            Question::SourceCoverage {
                source: ctx,
                response: p.a,
            },
            Answer::Checks(vec![true, false]),
        );
        assert_eq!(a.value(Factor::SrcCoverage, &p, p.a, opts), Some(0.5));
        a.insert(Question::Facts(p.b), Answer::Facts(vec![]));
        assert_eq!(
            a.value(Factor::Hallucination, &p, p.b, opts),
            Some(0.0),
            "no facts, nothing hallucinated"
        );
        assert!(prompt(
            &Question::Checks {
                kind: CheckKindId::Supported,
                text: p.b,
                context: ctx
            },
            &d,
            &a,
            opts
        )
        .is_none());
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

    fn yes_at(p: f64) -> Completion {
        Completion {
            first_token_logprobs: Some(vec![("yes".into(), p.ln()), ("no".into(), (1.0 - p).ln())]),
            ..reply("yes")
        }
    }

    #[test]
    fn replies_parse_into_answers() {
        let d = ds();
        let p = d.pairs[0];
        let mut a = Answers::default();
        let q = Question::Facts(p.a);
        let facts = parse_reply(
            &q,
            &reply("```json\n{\"facts\": [\"x\", \"y\"]}\n```"),
            &a,
            ExtractOptions::default(),
        )
        .unwrap();
        a.insert(q, facts);
        let c = Question::Checks {
            kind: CheckKindId::MainFocus,
            text: p.a,
            context: p.input.unwrap(),
        };
        let ans = parse_reply(
            &c,
            &reply(r#"{"checks": [{"id": 1, "answer": "yes"}, {"id": 2, "answer": "no"}]}"#),
            &a,
            ExtractOptions::default(),
        )
        .unwrap();
        assert_eq!(ans, Answer::Checks(vec![true, false]));
        assert!(parse_reply(
            &c,
            &reply(r#"{"checks": [{"id": 1, "answer": "yes"}]}"#),
            &a,
            ExtractOptions::default()
        )
        .is_err());
        let f = Question::Fluency(p.a);
        let lp = ExtractOptions {
            logprobs: true,
            summaries: false,
        };
        assert_eq!(
            parse_reply(&f, &yes_at(0.8), &a, lp).unwrap(),
            Answer::Number(0.8)
        );
        assert_eq!(
            parse_reply(
                &f,
                &reply(r#"{"rating": 5}"#),
                &a,
                ExtractOptions::default()
            )
            .unwrap(),
            Answer::Number(1.0)
        );
        assert_eq!(
            serde_json::to_string(&Answer::Checks(vec![true])).unwrap(),
            "[true]"
        );
    }
}
