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
