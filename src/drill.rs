//! Drill-down: the pairs behind a number. For one factor and one agent,
//! every pair classified as the agent's factor score counts it
//! (METHOD.md §1–3: concordant, discordant, tied, dropped, or missing),
//! from the scoring's own code path ([`analysis::pair_outcomes`]); a judge's
//! verdicts against the human labels (its disagreements); and one pair's
//! evidence: the two responses, the factor values, the novel words of each
//! response as byte ranges, and the atomic facts a model extracted.
//!
//! Rows are small (indices, signs and values); texts are built one pair at
//! a time ([`evidence`]), so a list of 100k pairs never carries its texts.

use serde::{Deserialize, Serialize};

use crate::analysis::{factor_value, pair_outcomes, LlmValues};
use crate::data::{Dataset, Preference};
use crate::factors::rules::RuleExtractor;
use crate::factors::Factor;
use crate::stats::{Counts, Outcome, Setting};

/// How a pair counts for a factor score (a [`crate::stats::Outcome`] by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairKind {
    Concordant,
    Discordant,
    Tied,
    Dropped,
    /// A value or the agent's verdict is missing.
    Missing,
}

impl PairKind {
    pub const ALL: [PairKind; 5] = [
        PairKind::Concordant,
        PairKind::Discordant,
        PairKind::Tied,
        PairKind::Dropped,
        PairKind::Missing,
    ];

    pub fn id(self) -> &'static str {
        match self {
            PairKind::Concordant => "concordant",
            PairKind::Discordant => "discordant",
            PairKind::Tied => "tied",
            PairKind::Dropped => "dropped",
            PairKind::Missing => "missing",
        }
    }

    pub fn from_id(s: &str) -> Option<PairKind> {
        PairKind::ALL.into_iter().find(|k| k.id() == s)
    }

    pub fn of(o: Outcome) -> PairKind {
        match o {
            Outcome::Concordant => PairKind::Concordant,
            Outcome::Discordant => PairKind::Discordant,
            Outcome::Tie => PairKind::Tied,
            Outcome::Dropped => PairKind::Dropped,
            Outcome::Missing => PairKind::Missing,
        }
    }

    fn outcome(self) -> Outcome {
        match self {
            PairKind::Concordant => Outcome::Concordant,
            PairKind::Discordant => Outcome::Discordant,
            PairKind::Tied => Outcome::Tie,
            PairKind::Dropped => Outcome::Dropped,
            PairKind::Missing => Outcome::Missing,
        }
    }
}

/// One pair of a drill-down list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    /// The pair's index in the loaded dataset.
    pub pair: u32,
    /// The 1-based line of its record.
    pub line: u64,
    pub kind: PairKind,
    /// The human label's sign (+1: A, −1: B, 0: tie).
    pub label: i8,
    /// The agent's preference sign (`None`: no verdict); the label for the humans.
    pub agent: Option<i8>,
    /// The factor's values of response A and B (`None`: no value).
    pub value_a: Option<f64>,
    pub value_b: Option<f64>,
}

/// Whose preferences a drill-down classifies.
#[derive(Clone, Copy, Debug)]
pub struct AgentPrefs<'a> {
    pub setting: Setting,
    /// `None`: the dataset's labels (the humans; a writer's generated
    /// dataset carries its own levels as labels).
    pub prefs: Option<&'a [Option<Preference>]>,
}

impl AgentPrefs<'_> {
    pub const HUMAN: AgentPrefs<'static> = AgentPrefs {
        setting: Setting::Human,
        prefs: None,
    };
}

/// Every pair of `ds` for `factor` and `agent`, classified exactly as the
/// agent's factor score counts it (so the rows of each kind are the score's
/// C, D, T, dropped and missing counts).
///
/// # Errors
/// When `factor` needs a model and `llm` has no values for it.
pub fn pairs(
    ds: &Dataset,
    factor: Factor,
    agent: AgentPrefs<'_>,
    llm: Option<&LlmValues>,
    rules: &mut RuleExtractor,
) -> Result<Vec<PairRow>, String> {
    let (scored, outcomes) = pair_outcomes(ds, &[factor], rules, llm, agent.setting, agent.prefs);
    if scored.is_empty() {
        return Err(crate::analysis::no_model_reason(factor));
    }
    Ok(ds
        .pairs
        .iter()
        .zip(outcomes)
        .enumerate()
        .map(|(i, (p, o))| PairRow {
            pair: i as u32,
            line: p.line,
            kind: PairKind::of(o),
            label: p.preference.sign(),
            agent: match agent.prefs {
                None => Some(p.preference.sign()),
                Some(ps) => ps.get(i).copied().flatten().map(Preference::sign),
            },
            value_a: factor_value(ds, factor, p, p.a, rules, llm),
            value_b: factor_value(ds, factor, p, p.b, rules, llm),
        })
        .collect())
}

/// The counts of `rows` by kind (C, D, T, dropped, missing).
pub fn counts(rows: &[PairRow]) -> Counts {
    let mut c = Counts::default();
    for r in rows {
        c.add(r.kind.outcome());
    }
    c
}

/// How a judge's verdict on a pair stands against the human label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Agrees,
    Disagrees,
    /// No verdict (a failed call).
    NoVerdict,
}

/// One pair of a judge's agreement list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgreementRow {
    pub pair: u32,
    pub line: u64,
    pub label: i8,
    pub verdict: Option<i8>,
    pub stands: Verdict,
}

/// Every pair with a judge's verdict against the human label: the strict
/// agreement of the judge's run (a pair whose two orders differ is a tie,
/// which disagrees with a decided label).
pub fn agreement(ds: &Dataset, prefs: &[Option<Preference>]) -> Vec<AgreementRow> {
    ds.pairs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let verdict = prefs.get(i).copied().flatten().map(Preference::sign);
            let label = p.preference.sign();
            AgreementRow {
                pair: i as u32,
                line: p.line,
                label,
                verdict,
                stands: match verdict {
                    None => Verdict::NoVerdict,
                    Some(v) if v == label => Verdict::Agrees,
                    Some(_) => Verdict::Disagrees,
                },
            }
        })
        .collect()
}

/// One response with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseEvidence {
    pub text: String,
    /// The factor's value (`None`: no value).
    pub value: Option<f64>,
    /// Byte ranges of the words whose stems are novel against the context
    /// (METHOD.md §5; [`RuleExtractor::novel_spans`]).
    pub novel: Vec<[usize; 2]>,
    /// The novel-word count the scoring uses (distinct stems).
    pub novel_count: usize,
    /// The atomic facts a model extracted, when a run's answers are at hand.
    pub facts: Option<Vec<String>>,
    /// For a factor that needs a model: the answers its value came from
    /// (`None` for a rule factor, or without model values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelEvidence>,
}

/// The model answers behind one response's value of an LLM factor: exactly
/// the answers [`crate::llm::extract::Answers::value`] computed the value
/// from (or the note that the value was imported).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelEvidence {
    /// The value came from imported annotations: no model answer is behind it.
    pub imported: bool,
    /// `provider/model` of the run whose answers these are.
    pub model: Option<String>,
    /// Whose facts `facts` are: `response`, or `source` (source coverage).
    pub facts_of: Option<String>,
    /// The atomic facts, each with the verdicts of the checks asked of it.
    pub facts: Vec<CheckedFact>,
    /// The response-level judgements of the answer (alignment labels 2/1/0,
    /// receptiveness 1/0, fluency and coherence in [0, 1]).
    pub judgements: Option<crate::llm::question::Judgements>,
    /// The questions whose answers these are, in the order asked, in words
    /// (each one's cache key and raw reply: [`reply_answer`], [`raw_reply`]).
    pub replies: Vec<String>,
}

/// One atomic fact and the checks' verdicts on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckedFact {
    pub text: String,
    /// A repeat of an earlier fact: counted once, with the first one's verdicts.
    pub repeat: bool,
    pub verdicts: Vec<FactVerdict>,
}

/// A check's answer on one fact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactVerdict {
    /// `supported`, `main_focus`, `helpful_extra`, `misleading` or `covered`.
    pub check: String,
    /// The model's yes (`true`) or no.
    pub yes: bool,
    /// What the answer makes the fact: `supported` / `hallucinated`,
    /// `on focus` / `off-focus`, `helpful extra` / `not helpful extra`,
    /// `misinformation` / `not misinformation`, `covered` / `not covered`.
    pub label: String,
}

/// A question behind a value and where its raw reply is kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplyRef {
    /// What was asked, in words.
    pub question: String,
    /// The version-2 cache key of its answer (`None` without the run's model).
    pub key: Option<String>,
}

/// The check verdicts of one fact check answer, for fact `i` of `n`.
fn verdicts_of(c: &crate::llm::question::FactChecks, i: usize, n: usize) -> Vec<FactVerdict> {
    let kinds: [(&str, Option<&Vec<bool>>, &str, &str); 5] = [
        (
            "supported",
            c.supported.as_ref(),
            "supported",
            "hallucinated",
        ),
        ("main_focus", c.main_focus.as_ref(), "on focus", "off-focus"),
        (
            "helpful_extra",
            c.helpful_extra.as_ref(),
            "helpful extra",
            "not helpful extra",
        ),
        (
            "misleading",
            c.misleading.as_ref(),
            "misinformation",
            "not misinformation",
        ),
        ("covered", c.covered.as_ref(), "covered", "not covered"),
    ];
    kinds
        .into_iter()
        .filter_map(|(check, answers, yes, no)| {
            // A check whose answers do not match the facts one to one gave
            // no value ([`crate::llm::extract::Answers::value`]): not shown.
            let answers = answers.filter(|a| a.len() == n)?;
            let y = answers[i];
            Some(FactVerdict {
                check: check.to_owned(),
                yes: y,
                label: (if y { yes } else { no }).to_owned(),
            })
        })
        .collect()
}

fn question_words(q: &crate::llm::question::Question, source: bool) -> &'static str {
    use crate::llm::question::{FactorQuestion, Question};
    match q {
        Question::Factor(FactorQuestion::Facts(_)) if source => "atomic facts of the source",
        Question::Factor(FactorQuestion::Facts(_)) => "atomic facts of the response",
        Question::Factor(FactorQuestion::Checks { .. } | FactorQuestion::SourceCoverage { .. }) => {
            "fact checks"
        }
        Question::Factor(FactorQuestion::Judgements { .. }) => "response-level judgements",
        Question::Factor(FactorQuestion::FluencyCoherence { .. }) => {
            "fluency and coherence (log-probabilities)"
        }
        _ => "a model question",
    }
}

/// The questions (with their answers) behind one response's value of `f`.
fn value_answers<'a>(
    p: &crate::data::Pair,
    t: crate::data::TextId,
    f: Factor,
    llm: &'a LlmValues,
) -> Vec<(
    crate::llm::question::Question,
    &'a crate::llm::question::Answer,
)> {
    llm.answers
        .value_questions(f, p, t, llm.options)
        .into_iter()
        .filter_map(|q| Some((q, llm.answers.get(&q)?)))
        .collect()
}

/// The model evidence of one response's value of `f` (`None` for a rule
/// factor or without an answer or imported value behind it).
pub fn model_evidence(
    ds: &Dataset,
    p: &crate::data::Pair,
    t: crate::data::TextId,
    f: Factor,
    llm: &LlmValues,
) -> Option<ModelEvidence> {
    use crate::llm::question::{Answer, FactorQuestion, Question};
    if !f.needs_model() {
        return None;
    }
    if llm.imported.get(ds.text(t), f).is_some() {
        return Some(ModelEvidence {
            imported: true,
            model: None,
            facts_of: None,
            facts: Vec::new(),
            judgements: None,
            replies: Vec::new(),
        });
    }
    let answers = value_answers(p, t, f, llm);
    if answers.is_empty() {
        return None;
    }
    let mut facts_text: Option<(&[String], bool)> = None;
    let mut checks = None;
    let mut judgements = None;
    let mut replies = Vec::new();
    for (q, a) in &answers {
        let source = matches!(q, Question::Factor(FactorQuestion::Facts(x)) if *x != t);
        match a {
            Answer::Facts(fs) => facts_text = Some((fs, source)),
            Answer::FactChecks { fact_checks } => checks = Some(&**fact_checks),
            Answer::Judgements { judgements: j } => judgements = Some((**j).clone()),
            _ => {}
        }
        // The cache key is computed only when the raw reply is asked for
        // ([`reply_answer`]): keying is not needed to show the answers.
        replies.push(question_words(q, source).to_owned());
    }
    let mut facts = Vec::new();
    if let Some((fs, _)) = facts_text {
        let distinct = crate::llm::extract::distinct_facts(fs);
        let key = |x: &str| {
            x.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" ")
        };
        for (i, text) in fs.iter().enumerate() {
            // A repeat takes the verdicts of the fact's first occurrence.
            let at = if distinct.contains(&i) {
                i
            } else {
                (0..i).find(|&j| key(&fs[j]) == key(text)).unwrap_or(i)
            };
            facts.push(CheckedFact {
                text: text.clone(),
                repeat: at != i,
                verdicts: checks.map_or_else(Vec::new, |c| verdicts_of(c, at, fs.len())),
            });
        }
    }
    Some(ModelEvidence {
        imported: false,
        model: llm
            .model
            .as_ref()
            .map(|m| format!("{}/{}", m.provider.id(), m.model)),
        facts_of: facts_text.map(|(_, s)| if s { "source" } else { "response" }.to_owned()),
        facts,
        judgements,
        replies,
    })
}

/// The raw reply behind a value, as shown: bounded to
/// [`MAX_RAW_REPLY_CHARS`] characters, and only when the cache entry under
/// the answer's key still holds that answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RawReply {
    pub question: String,
    pub key: Option<String>,
    /// The reply's first characters (`None`: not available; `note` says why).
    pub text: Option<String>,
    /// The whole reply's length in bytes.
    pub bytes: u64,
    pub truncated: bool,
    pub note: Option<String>,
}

/// Characters of a raw reply shown at most.
pub const MAX_RAW_REPLY_CHARS: usize = 16_000;

/// Which response of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    A,
    B,
}

/// The key and the answer of question `i` behind one response's value of
/// `f` (as [`ModelEvidence::replies`] lists them).
pub fn reply_answer(
    ds: &Dataset,
    index: usize,
    side: Side,
    f: Factor,
    llm: &LlmValues,
    i: usize,
) -> Option<(ReplyRef, crate::llm::question::Answer)> {
    let p = ds.pairs.get(index)?;
    let t = match side {
        Side::A => p.a,
        Side::B => p.b,
    };
    if llm.imported.get(ds.text(t), f).is_some() {
        return None;
    }
    let (q, a) = value_answers(p, t, f, llm).into_iter().nth(i)?;
    let source = matches!(
        q,
        crate::llm::question::Question::Factor(crate::llm::question::FactorQuestion::Facts(x))
            if x != t
    );
    let r = ReplyRef {
        question: question_words(&q, source).to_owned(),
        key: llm
            .model
            .as_ref()
            .and_then(|cfg| crate::llm::engine::answer_key(cfg, &q, ds, &llm.answers, llm.options)),
    };
    Some((r, a.clone()))
}

/// The raw reply of `r` from the cache entry found under its key, shown
/// only when the entry's value is `answer` (the answer the value came from).
pub fn raw_reply(
    r: &ReplyRef,
    answer: &crate::llm::question::Answer,
    entry: Option<&crate::llm::cache::CacheEntry>,
) -> RawReply {
    let mut out = RawReply {
        question: r.question.clone(),
        key: r.key.clone(),
        text: None,
        bytes: 0,
        truncated: false,
        note: None,
    };
    let Some(e) = entry else {
        out.note = Some(if r.key.is_some() {
            "no entry under this key in the answer cache (cleared, or the run used another cache)"
                .into()
        } else {
            "the model of this run is not known, so its cache entry cannot be found".into()
        });
        return out;
    };
    if crate::llm::question::Answer::from_value(&e.value).as_ref() != Some(answer) {
        out.note = Some(
            "the cache entry under this key no longer holds the answer the value came from:              not shown"
                .into(),
        );
        return out;
    }
    out.bytes = e.reply.len() as u64;
    let mut text: String = e.reply.chars().take(MAX_RAW_REPLY_CHARS).collect();
    out.truncated = text.len() < e.reply.len();
    if out.truncated {
        text.push('…');
    }
    out.text = Some(text);
    out
}

/// One pair with the evidence behind its factor values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairEvidence {
    pub pair: u32,
    pub line: u64,
    pub factor: String,
    pub label: i8,
    pub input: Option<String>,
    /// What novel words are measured against (the source, else the input).
    pub context: Option<String>,
    pub a: ResponseEvidence,
    pub b: ResponseEvidence,
}

/// The evidence of pair `index` for `factor`; `None` past the end.
pub fn evidence(
    ds: &Dataset,
    index: usize,
    factor: Factor,
    llm: Option<&LlmValues>,
    rules: &mut RuleExtractor,
) -> Option<PairEvidence> {
    let p = ds.pairs.get(index)?;
    let ctx = p.context();
    let mut side = |t| ResponseEvidence {
        text: ds.text(t).to_owned(),
        value: factor_value(ds, factor, p, t, rules, llm),
        novel: rules.novel_spans(&ds.texts, t, ctx),
        novel_count: rules.novel_words(&ds.texts, t, ctx).1,
        facts: llm.and_then(|l| l.answers.facts(t)).map(<[String]>::to_vec),
        model: llm.and_then(|l| model_evidence(ds, p, t, factor, l)),
    };
    let (a, b) = (side(p.a), side(p.b));
    Some(PairEvidence {
        pair: index as u32,
        line: p.line,
        factor: factor.id().to_owned(),
        label: p.preference.sign(),
        input: p.input.map(|t| ds.text(t).to_owned()),
        context: ctx.map(|t| ds.text(t).to_owned()),
        a,
        b,
    })
}
