//! Questions to a model and their answers, one variant per family:
//!
//! - [`Question::Factor`]: the questions behind the LLM factors
//!   ([`FactorQuestion`]; planned, prompted and parsed by [`super::extract`]);
//! - [`Question::Judge`]: a judge's verdict on a pair shown in one order
//!   ([`JudgeQuestion`], see [`super::roles`]);
//! - [`Question::Generate`]: a writer's five responses for one input
//!   ([`GenerateQuestion`], see [`super::roles`]);
//! - [`Question::Improve`]: the improvement experiment's writer, its two first
//!   responses or one improved response ([`ImproveQuestion`], see
//!   [`super::roles`]); its evaluator asks [`Question::Judge`].
//!
//! Also the parts the combined factor questions ask ([`JudgementPart`],
//! [`CheckKind`]) and their one-byte sets, the answers as cached
//! ([`Answer`]), the answers known so far ([`Answers`]) and a run's plan
//! ([`Plan`]). What a question asks of a model (its prompt, the texts of its
//! cache key, its reply parsed) is dispatched per family by [`super::ask`].
//! This module depends on neither family's module, so `extract` and `roles`
//! depend on it and not on each other.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::data::{Task, TextId};
use crate::factors::pack::CustomId;
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
        self.iter().collect()
    }

    /// The values, in `T::ALL` order, without allocating.
    pub fn iter(self) -> impl Iterator<Item = T> {
        T::ALL.iter().copied().filter(move |&x| self.contains(x))
    }

    /// The set as its byte (bit `i`: `T::ALL[i]`), as memos store it.
    pub(crate) fn bits(self) -> u8 {
        self.0
    }

    /// The set of a byte from [`Set::bits`]; `None` with a bit past `T::ALL`.
    pub(crate) fn from_bits(bits: u8) -> Option<Self> {
        let all = u8::try_from((1u16 << T::ALL.len()) - 1).ok()?;
        (bits & !all == 0).then_some(Set(bits, std::marker::PhantomData))
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

/// A yes/no question asked about every atomic fact of a response
/// (METHOD.md §6), one of the parts of [`fact_checks`](super::prompts::fact_checks).
///
/// Which answer counts toward which factor (the share is over the facts):
///
/// | kind | reply key | factor | counted answer |
/// |---|---|---|---|
/// | `Supported` (against the source, else the request) | `supported` | hallucination | "no" |
/// | `MainFocus` (against the request, else the source) | `main_focus` | off_focus | "no" |
/// | `HelpfulExtra` (against the request, else the source) | `helpful_extra` | helpfulness | "yes" |
/// | `Misleading` (against the request, else the source) | `misleading` | misinformation | "yes" |
///
/// Source coverage runs the support check the other way round: the source's
/// facts against the response (reply key `covered`, counted answer "yes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckKind {
    /// Is the fact supported by the reference text?
    Supported,
    /// Is the fact about the main focus of the context?
    MainFocus,
    /// Is the fact helpful extra information, though not strictly needed?
    HelpfulExtra,
    /// Could the fact be wrong or misleading?
    Misleading,
}

impl CheckKind {
    pub const ALL: [CheckKind; 4] = [
        CheckKind::Supported,
        CheckKind::MainFocus,
        CheckKind::HelpfulExtra,
        CheckKind::Misleading,
    ];

    /// The key of this kind's answer in each entry of a `fact_checks@1` reply.
    pub fn key(self) -> &'static str {
        match self {
            CheckKind::Supported => "supported",
            CheckKind::MainFocus => "main_focus",
            CheckKind::HelpfulExtra => "helpful_extra",
            CheckKind::Misleading => "misleading",
        }
    }

    /// The factor computed from a response's own facts with this check.
    pub fn factor(self) -> Factor {
        match self {
            CheckKind::Supported => Factor::Hallucination,
            CheckKind::MainFocus => Factor::OffFocus,
            CheckKind::HelpfulExtra => Factor::Helpfulness,
            CheckKind::Misleading => Factor::Misinformation,
        }
    }

    /// The check kind behind a fact-level factor of a response's own facts.
    pub fn for_factor(f: Factor) -> Option<CheckKind> {
        CheckKind::ALL.into_iter().find(|k| k.factor() == f)
    }

    /// Whether this kind is judged against the request (else the source):
    /// support is judged against the source where there is one, the other
    /// kinds against the request where there is one.
    pub fn prefers_request(self) -> bool {
        self != CheckKind::Supported
    }
}

/// One part of [`response_judgements`](super::prompts::response_judgements) (METHOD.md §6).
///
/// | part | reply keys | factor value |
/// |---|---|---|
/// | `Intent`, `IntentSummary` | `intent_alignment` | aligned 2, partially 1, not aligned 0 |
/// | `Formality` | `context_formality`, `response_formality`, `formality_alignment` | aligned 2, partially 1, not aligned 0 |
/// | `Receptiveness` | `receptiveness` | yes 1, no 0 |
/// | `Fluency` | `fluency` (1–5) | [`super::parse::rating_to_unit`] |
/// | `Coherence` | `coherence` (1–5) | [`super::parse::rating_to_unit`] |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JudgementPart {
    /// Does the response serve the purpose of the request it answers?
    /// Judged against the request, else the source.
    Intent,
    /// Does the summary serve the same purpose as the text it summarises?
    /// Judged against the source, else the request.
    IntentSummary,
    /// The formality of the context and of the response, and whether they
    /// match. Judged against the source, else the request.
    Formality,
    /// Does the response clearly answer the core question? Judged against
    /// the request, else the source.
    Receptiveness,
    /// Fluency as a 1–5 rating (when no log-probabilities are available).
    Fluency,
    /// Coherence as a summary of the source (else the request; else on its
    /// own) as a 1–5 rating (when no log-probabilities are available).
    Coherence,
}

impl JudgementPart {
    pub const ALL: [JudgementPart; 6] = [
        JudgementPart::Intent,
        JudgementPart::IntentSummary,
        JudgementPart::Formality,
        JudgementPart::Receptiveness,
        JudgementPart::Fluency,
        JudgementPart::Coherence,
    ];

    /// A stable name for cache keys and messages: `intent_alignment`,
    /// `intent_alignment_summary`, `formality_alignment`, `receptiveness`,
    /// `fluency_rating`, `coherence_rating`.
    pub fn name(self) -> &'static str {
        match self {
            JudgementPart::Intent => "intent_alignment",
            JudgementPart::IntentSummary => "intent_alignment_summary",
            JudgementPart::Formality => "formality_alignment",
            JudgementPart::Receptiveness => "receptiveness",
            JudgementPart::Fluency => "fluency_rating",
            JudgementPart::Coherence => "coherence_rating",
        }
    }

    /// The factor this part gives.
    pub fn factor(self) -> Factor {
        match self {
            JudgementPart::Intent | JudgementPart::IntentSummary => Factor::IntentAlignment,
            JudgementPart::Formality => Factor::FormalityAlignment,
            JudgementPart::Receptiveness => Factor::Receptiveness,
            JudgementPart::Fluency => Factor::Fluency,
            JudgementPart::Coherence => Factor::Coherence,
        }
    }

    /// Whether the part is judged against the request (else the source),
    /// `None` for fluency, which needs no context.
    pub fn prefers_request(self) -> Option<bool> {
        match self {
            JudgementPart::Intent | JudgementPart::Receptiveness => Some(true),
            JudgementPart::IntentSummary | JudgementPart::Formality | JudgementPart::Coherence => {
                Some(false)
            }
            JudgementPart::Fluency => None,
        }
    }

    /// The keys of this part's answer in the reply, in reply order.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            JudgementPart::Intent | JudgementPart::IntentSummary => &["intent_alignment"],
            JudgementPart::Formality => &[
                "context_formality",
                "response_formality",
                "formality_alignment",
            ],
            JudgementPart::Receptiveness => &["receptiveness"],
            JudgementPart::Fluency => &["fluency"],
            JudgementPart::Coherence => &["coherence"],
        }
    }
}

/// One question to a model, in terms of the dataset's texts: one variant per
/// family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Question {
    /// A question behind LLM factors ([`super::extract`]).
    Factor(FactorQuestion),
    /// A judge's verdict on a pair shown in one order (`judge_<task>@1`,
    /// see [`super::roles`]).
    Judge(JudgeQuestion),
    /// A writer's five responses for one input (`generate_<task>@1`).
    Generate(GenerateQuestion),
    /// The improvement experiment's writer (METHOD.md §8): two first
    /// responses (`improve_draft@1`) or one improved response (`improve@1`).
    Improve(ImproveQuestion),
}

/// A question of the improvement experiment's writer about one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImproveQuestion {
    pub task: Task,
    pub input: Option<TextId>,
    pub source: Option<TextId>,
    pub step: ImproveStep,
}

/// What the improvement experiment's writer is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImproveStep {
    /// Two different responses (`improve_draft@1`); answered as
    /// [`Answer::Generations`] with two texts.
    Draft,
    /// One improved response (`improve@1`) from `first` and, when given,
    /// `second`, with the evaluator's `feedback` when given; answered as
    /// [`Answer::Generations`] with one text.
    Revise {
        first: TextId,
        second: Option<TextId>,
        feedback: Option<Feedback>,
    },
}

/// The evaluator's feedback on the two first responses: which is better
/// (`1`, `2`, or `0` for a tie) and its justification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Feedback {
    pub better: u8,
    pub justification: TextId,
}

/// A question behind LLM factors.
///
/// Context fields hold only the texts some asked part is judged against
/// (`request`: the pair's input; `source`: the pair's source), so that
/// questions that would render the same prompt are equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactorQuestion {
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
    /// A custom LLM factor's question (a factor pack's `llm_yes_no` or
    /// `llm_rating`) about one response, with the request and/or source it
    /// sees (`custom_yes_no@1`, `custom_rating@1`): a call of its own per
    /// factor and unique (response, texts seen).
    Custom {
        factor: CustomId,
        response: TextId,
        request: Option<TextId>,
        source: Option<TextId>,
    },
}

/// A judge's verdict on a pair shown in one order: `first` as "Response 1".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JudgeQuestion {
    pub task: Task,
    pub input: Option<TextId>,
    pub source: Option<TextId>,
    pub first: TextId,
    pub second: TextId,
    /// Guided judging (METHOD.md §8): the sentence of guidance the judge is
    /// given (`judge_<task>_guided@1`); `None` for the plain judge.
    pub guidance: Option<Guidance>,
}

/// One sentence of guidance for a judge: factor `factor` is given too much
/// (`over`) or too little weight compared with people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Guidance {
    pub factor: Factor,
    pub over: bool,
}

impl Guidance {
    /// The guidance's direction as in reports: `over` (the judge over-weights
    /// the factor: "… is not what makes a response better here") or `under`
    /// ("pay attention to …").
    pub fn direction(self) -> &'static str {
        if self.over {
            "over"
        } else {
            "under"
        }
    }

    /// The sentence the judge is given.
    pub fn sentence(self) -> String {
        super::prompts::guidance_sentence(self.factor, self.over)
    }
}

/// A writer's five responses for one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GenerateQuestion {
    pub task: Task,
    pub input: Option<TextId>,
    pub source: Option<TextId>,
}

impl Question {
    /// The facts question of a text.
    pub fn facts(t: TextId) -> Question {
        Question::Factor(FactorQuestion::Facts(t))
    }

    /// Whether this is a second-stage fact check (it needs the facts).
    pub fn is_check(&self) -> bool {
        matches!(
            self,
            Question::Factor(FactorQuestion::Checks { .. } | FactorQuestion::SourceCoverage { .. })
        )
    }
}

impl From<FactorQuestion> for Question {
    fn from(q: FactorQuestion) -> Question {
        Question::Factor(q)
    }
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
        verdict: Verdict,
    },
    /// A writer's five responses, for scores 1..5 in order (the
    /// improvement experiment's writer: its two first responses, or its one
    /// improved response).
    Generations {
        generations: Vec<String>,
    },
    /// A custom LLM factor's value: yes 1 / no 0 or P(yes), a rating 1–5
    /// or its expected value.
    Custom {
        custom: f64,
    },
}

impl Answer {
    /// The answer a cache entry's `value` holds, as its untagged
    /// deserialisation gives it, without buffering the value first: a list
    /// is read as facts, an object with one of the four keys as that
    /// answer directly; anything else (or a value those readings refuse)
    /// goes through the untagged deserialisation itself.
    pub fn from_value(v: &serde_json::Value) -> Option<Answer> {
        use serde::Deserialize as _;
        let direct = match v {
            serde_json::Value::Array(_) => Vec::<String>::deserialize(v).ok().map(Answer::Facts),
            serde_json::Value::Object(m) if m.len() == 1 => {
                let (k, inner) = m.iter().next().expect("one entry");
                match k.as_str() {
                    "judgements" => {
                        Judgements::deserialize(inner)
                            .ok()
                            .map(|j| Answer::Judgements {
                                judgements: Box::new(j),
                            })
                    }
                    "fact_checks" => {
                        FactChecks::deserialize(inner)
                            .ok()
                            .map(|f| Answer::FactChecks {
                                fact_checks: Box::new(f),
                            })
                    }
                    "verdict" => Verdict::deserialize(inner)
                        .ok()
                        .map(|verdict| Answer::Verdict { verdict }),
                    "generations" => Vec::<String>::deserialize(inner)
                        .ok()
                        .map(|generations| Answer::Generations { generations }),
                    "custom" => f64::deserialize(inner)
                        .ok()
                        .map(|custom| Answer::Custom { custom }),
                    _ => None,
                }
            }
            _ => None,
        };
        direct.or_else(|| Answer::deserialize(v).ok())
    }
}

/// Factor values from response-level questions (a [`FactorQuestion::Judgements`]
/// or [`FactorQuestion::FluencyCoherence`]), `None` where not asked. Alignment
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

    pub(crate) fn set(&mut self, k: CheckKind, answers: Vec<bool>) {
        let slot = match k {
            CheckKind::Supported => &mut self.supported,
            CheckKind::MainFocus => &mut self.main_focus,
            CheckKind::HelpfulExtra => &mut self.helpful_extra,
            CheckKind::Misleading => &mut self.misleading,
        };
        *slot = Some(answers);
    }
}

/// A judge's parsed verdict, as cached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// `"1"`, `"2"` or `"tie"`.
    pub better: String,
    pub justification: String,
}

/// Where the answer behind an LLM factor of one pair side lives: the factor,
/// the response, and the context text the factor is judged against (`None`
/// for fluency; for coherence, `None` when the pair has no context).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Slot {
    pub(crate) factor: Factor,
    pub(crate) response: TextId,
    pub(crate) reference: Option<TextId>,
}

impl FactorQuestion {
    /// Calls `f` with each slot this question's answer fills (no
    /// allocation: a memo re-run inserts every answer of a plan).
    pub(crate) fn each_slot(&self, mut f: impl FnMut(Slot)) {
        let slot = |factor, response, reference| Slot {
            factor,
            response,
            reference,
        };
        match *self {
            FactorQuestion::Facts(_) => {}
            FactorQuestion::Judgements {
                response,
                request,
                source,
                parts,
            } => {
                for part in parts.iter() {
                    let reference = match part.prefers_request() {
                        Some(true) => request.or(source),
                        Some(false) => source.or(request),
                        None => None,
                    };
                    f(slot(part.factor(), response, reference));
                }
            }
            FactorQuestion::FluencyCoherence {
                response,
                document,
                fluency,
                coherence,
            } => {
                if fluency {
                    f(slot(Factor::Fluency, response, None));
                }
                if coherence {
                    f(slot(Factor::Coherence, response, document));
                }
            }
            FactorQuestion::Checks {
                text,
                request,
                source,
                kinds,
                coverage,
            } => {
                for k in kinds.iter() {
                    let reference = if k.prefers_request() {
                        request.or(source)
                    } else {
                        source.or(request)
                    };
                    f(slot(k.factor(), text, reference));
                }
                if let Some(s) = coverage {
                    f(slot(Factor::SrcCoverage, text, Some(s)));
                }
            }
            FactorQuestion::SourceCoverage { source, response } => {
                f(slot(Factor::SrcCoverage, response, Some(source)));
            }
            // Found by the question itself (see `extract::custom_question`).
            FactorQuestion::Custom { .. } => {}
        }
    }

    /// The number of slots this question's answer fills.
    pub(crate) fn slot_count(&self) -> usize {
        let mut n = 0;
        self.each_slot(|_| n += 1);
        n
    }
}

/// Answers known so far (from the cache or from calls).
///
/// Answers from a run memo ([`super::memo::RunValues`]) hold the factor
/// values the memo's run gave instead: [`Answers::value`] reads them, and
/// the answers themselves are decoded from the memo the first time
/// something asks for one (the drill-down, an export); an insert decodes
/// them first.
#[derive(Clone, Debug, Default)]
pub struct Answers {
    map: FxHashMap<Question, Answer>,
    /// Which answered question holds each slot.
    slots: FxHashMap<Slot, Question>,
    /// A run memo's values and answers (`map` and `slots` are then empty).
    memo: Option<std::sync::Arc<super::memo::RunValues>>,
}

impl Answers {
    /// Room for `n` answers.
    pub fn with_capacity(n: usize) -> Answers {
        Answers {
            map: FxHashMap::with_capacity_and_hasher(n, Default::default()),
            slots: FxHashMap::with_capacity_and_hasher(n, Default::default()),
            memo: None,
        }
    }

    /// The answers of a run memo.
    pub(crate) fn from_memo(memo: super::memo::RunValues) -> Answers {
        Answers {
            memo: Some(std::sync::Arc::new(memo)),
            ..Answers::default()
        }
    }

    /// The answers themselves: a memo's decoded (once), else these.
    fn full(&self) -> &Answers {
        match &self.memo {
            Some(m) => m.answers(),
            None => self,
        }
    }

    /// The run memo these answers are, if they are one's.
    pub(crate) fn memo(&self) -> Option<&super::memo::RunValues> {
        self.memo.as_deref()
    }

    /// Whether these answers are a run memo's (and not decoded into this
    /// map): the report reads the memo's values.
    pub fn is_memo(&self) -> bool {
        self.memo.is_some()
    }

    /// Whether a memo's answers were decoded (the drill-down asked for one).
    pub fn memo_decoded(&self) -> bool {
        self.memo.as_ref().is_some_and(|m| m.decoded())
    }

    /// Room for `n` answers and for the slots of `questions` (their answers
    /// are about to be inserted).
    pub(crate) fn reserve<'a>(&mut self, n: usize, questions: impl Iterator<Item = &'a Question>) {
        self.own();
        self.map.reserve(n);
        let slots = questions
            .map(|q| match q {
                Question::Factor(f) => f.slot_count(),
                _ => 0,
            })
            .sum();
        self.slots.reserve(slots);
    }

    /// A memo's answers decoded into this map (before a change).
    fn own(&mut self) {
        if let Some(m) = self.memo.take() {
            *self = m.answers().clone();
        }
    }

    pub fn insert(&mut self, q: Question, a: Answer) {
        self.own();
        if let Question::Factor(f) = &q {
            f.each_slot(|s| {
                self.slots.insert(s, q);
            });
        }
        self.map.insert(q, a);
    }

    pub fn get(&self, q: &Question) -> Option<&Answer> {
        self.full().map.get(q)
    }

    pub fn len(&self) -> usize {
        match &self.memo {
            Some(m) => m.len(),
            None => self.map.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The facts of a text, if extracted.
    pub fn facts(&self, t: TextId) -> Option<&[String]> {
        match self.get(&Question::facts(t)) {
            Some(Answer::Facts(f)) => Some(f),
            _ => None,
        }
    }

    pub(crate) fn at(&self, slot: &Slot) -> Option<&Answer> {
        let full = self.full();
        full.map.get(full.slots.get(slot)?)
    }

    /// The answered question that holds `slot`.
    pub(crate) fn question_at(&self, slot: &Slot) -> Option<&Question> {
        self.full().slots.get(slot)
    }
}

/// The calls a run asks, in two stages. Built by [`Plan::new`] for the
/// factor questions (in [`super::extract`]), and by
/// [`super::roles::judge_plan`] and [`super::roles::generate_plan`].
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
    /// All questions.
    pub fn len(&self) -> usize {
        self.first.len() + self.second.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls per unique response and for sources: the measure the plan is
    /// built to keep small (at most 4 per unique response, plus 1 per unique
    /// source, plus 1 per custom LLM factor per unique response and texts
    /// its question sees).
    pub fn calls_per_unique_response(&self) -> CallsPerResponse {
        self.shape().calls_per_unique_response()
    }

    /// Its counts, without its questions.
    pub fn shape(&self) -> PlanShape {
        PlanShape {
            questions: self.len(),
            unique_responses: self.unique_responses,
            unique_sources: self.unique_sources,
            source_fact_calls: self.source_fact_calls,
        }
    }
}

/// A plan's counts without its questions: what its estimate line and its
/// run record say of it (a run memo keeps them instead of the plan).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanShape {
    /// All questions ([`Plan::len`]).
    pub questions: usize,
    pub unique_responses: usize,
    pub unique_sources: usize,
    pub source_fact_calls: usize,
}

impl PlanShape {
    /// As [`Plan::calls_per_unique_response`].
    pub fn calls_per_unique_response(&self) -> CallsPerResponse {
        let per = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        CallsPerResponse {
            per_unique_response: per(
                self.questions.saturating_sub(self.source_fact_calls),
                self.unique_responses,
            ),
            source_fact_calls: self.source_fact_calls,
            per_unique_source: per(self.source_fact_calls, self.unique_sources),
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
}
