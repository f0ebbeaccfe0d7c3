//! The factor taxonomy (METHOD.md §4) and the task presets.
//!
//! A [`Factor`] maps a response, with its input and source, to a number; the
//! factor score (in [`crate::stats`]) then asks whether "more of the factor"
//! goes with "preferred". Rule-based factors are computed here ([`rules`]);
//! LLM-based ones need a model and are reported as skipped without one.

pub mod pack;
pub mod rules;

use serde::{Deserialize, Serialize};

/// A factor of the PROFILE taxonomy, or a custom one from a factor pack
/// ([`pack`]). A factor serialises as its id; a custom factor's id parses
/// once its pack is registered ([`pack::register`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Factor {
    Length,
    NFacts,
    NovelWords,
    NovelWordsCount,
    FormalityAlignment,
    Fluency,
    Coherence,
    IntentAlignment,
    Receptiveness,
    OffFocus,
    SrcCoverage,
    Hallucination,
    Helpfulness,
    Misinformation,
    /// A factor of a registered factor pack: a rule, or a question asked
    /// of a language model.
    Custom(pack::CustomId),
}

impl Serialize for Factor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Factor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Factor::from_id(&id).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown factor `{}` (a custom factor needs its factor pack)",
                id.chars().take(60).collect::<String>()
            ))
        })
    }
}

/// How a factor's value is obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extraction {
    /// Computed by a rule from the text (METHOD.md §5); needs no model.
    Rule,
    /// From atomic facts extracted and checked by an LLM.
    LlmAtomicFacts,
    /// From the atomic facts of the source, checked against the response.
    LlmSourceFacts,
    /// One LLM judgement of the whole response.
    LlmResponseLevel,
    /// A UniEval-style yes/no probability from an LLM judge.
    LlmJudgeScore,
}

impl Extraction {
    /// Whether the value needs a language model.
    pub fn needs_model(self) -> bool {
        self != Extraction::Rule
    }

    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Extraction::Rule => "rule",
            Extraction::LlmAtomicFacts => "LLM, atomic facts",
            Extraction::LlmSourceFacts => "LLM, atomic facts of the source",
            Extraction::LlmResponseLevel => "LLM, response level",
            Extraction::LlmJudgeScore => "LLM judge score in [0,1]",
        }
    }
}

/// What the taxonomy says about one factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FactorInfo {
    pub id: Factor,
    /// Display name.
    pub name: &'static str,
    /// Level-2 category (this project's grouping).
    pub level2: &'static str,
    /// Level-3 category: which texts the factor relates.
    pub level3: &'static str,
    pub extraction: Extraction,
    /// What the value is and which direction is "more".
    pub value: &'static str,
}

const LEN: &str = "Length & informativeness";
const STYLE: &str = "Linguistic style";
const QUALITY: &str = "Linguistic quality";
const RELEVANCE: &str = "Relevance";
const FAITH: &str = "Faithfulness & coverage";
const HELP: &str = "Helpfulness & safety";
/// The level-2 category of every custom factor.
pub const CUSTOM: &str = "Custom (factor pack)";

impl Factor {
    /// Every factor, in taxonomy order.
    pub const ALL: [Factor; 14] = [
        Factor::Length,
        Factor::NFacts,
        Factor::NovelWords,
        Factor::NovelWordsCount,
        Factor::FormalityAlignment,
        Factor::Fluency,
        Factor::Coherence,
        Factor::IntentAlignment,
        Factor::Receptiveness,
        Factor::OffFocus,
        Factor::SrcCoverage,
        Factor::Hallucination,
        Factor::Helpfulness,
        Factor::Misinformation,
    ];

    /// The factor's id, as in reports and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Factor::Length => "length",
            Factor::NFacts => "n_facts",
            Factor::NovelWords => "novel_words",
            Factor::NovelWordsCount => "novel_words_count",
            Factor::FormalityAlignment => "formality_alignment",
            Factor::Fluency => "fluency",
            Factor::Coherence => "coherence",
            Factor::IntentAlignment => "intent_alignment",
            Factor::Receptiveness => "receptiveness",
            Factor::OffFocus => "off_focus",
            Factor::SrcCoverage => "src_coverage",
            Factor::Hallucination => "hallucination",
            Factor::Helpfulness => "helpfulness",
            Factor::Misinformation => "misinformation",
            Factor::Custom(c) => pack::id(c),
        }
    }

    /// Parses a factor id: a built-in one, or a registered custom one.
    pub fn from_id(id: &str) -> Option<Factor> {
        let id = id.trim();
        Factor::ALL
            .into_iter()
            .find(|f| f.id() == id)
            .or_else(|| pack::lookup(id))
    }

    /// Whether the factor comes from a factor pack.
    pub fn is_custom(self) -> bool {
        matches!(self, Factor::Custom(_))
    }

    /// The taxonomy entry.
    pub fn info(self) -> FactorInfo {
        use Extraction::*;
        let (name, level2, level3, extraction, value) = match self {
            Factor::Custom(c) => match pack::llm_question(c) {
                None => (
                    pack::name(c),
                    CUSTOM,
                    "Output-Only",
                    Rule,
                    pack::value_text(c),
                ),
                Some(q) => (
                    pack::name(c),
                    CUSTOM,
                    match (q.request, q.source) {
                        (true, _) => "Input-Output",
                        (false, true) => "Source-Output",
                        (false, false) => "Output-Only",
                    },
                    LlmResponseLevel,
                    pack::value_text(c),
                ),
            },
            Factor::Length => ("length", LEN, "Output-Only", Rule, "number of words"),
            Factor::NFacts => (
                "# facts",
                LEN,
                "Output-Only",
                LlmAtomicFacts,
                "number of distinct atomic facts (a fact repeated, up to case and whitespace, counts once)",
            ),
            Factor::NovelWords => (
                "novel words",
                STYLE,
                "Source-Output",
                Rule,
                "share of response stems not in the source",
            ),
            Factor::NovelWordsCount => (
                "novel words (count)",
                STYLE,
                "Source-Output",
                Rule,
                "number of response stems not in the source",
            ),
            Factor::FormalityAlignment => (
                "formality alignment",
                STYLE,
                "Source-Output",
                LlmResponseLevel,
                "aligned 2 > partially 1 > not aligned 0",
            ),
            Factor::Fluency => (
                "fluency",
                QUALITY,
                "Output-Only",
                LlmJudgeScore,
                "higher = more fluent",
            ),
            Factor::Coherence => (
                "coherence",
                QUALITY,
                "Intra-Output",
                LlmJudgeScore,
                "higher = more coherent",
            ),
            Factor::IntentAlignment => (
                "intent alignment",
                RELEVANCE,
                "Input-Output",
                LlmResponseLevel,
                "aligned 2 > partially 1 > not aligned 0",
            ),
            Factor::Receptiveness => (
                "receptiveness",
                RELEVANCE,
                "Input-Output",
                LlmResponseLevel,
                "answers the core question: yes 1 > no 0",
            ),
            Factor::OffFocus => (
                "off-focus content",
                RELEVANCE,
                "Input-Output",
                LlmAtomicFacts,
                "share of distinct facts not about the main focus",
            ),
            Factor::SrcCoverage => (
                "source coverage",
                FAITH,
                "Source-Output",
                LlmSourceFacts,
                "share of distinct source facts the response supports",
            ),
            Factor::Hallucination => (
                "hallucination",
                FAITH,
                "Source-Output",
                LlmAtomicFacts,
                "share of distinct facts not supported by the source/input",
            ),
            Factor::Helpfulness => (
                "helpful extra information",
                HELP,
                "Output-Only",
                LlmAtomicFacts,
                "share of distinct facts that help though not strictly needed",
            ),
            Factor::Misinformation => (
                "misinformation",
                HELP,
                "Output-Only",
                LlmAtomicFacts,
                "share of distinct facts that may be wrong or misleading",
            ),
        };
        FactorInfo {
            id: self,
            name,
            level2,
            level3,
            extraction,
            value,
        }
    }

    /// Whether the value needs a language model (a custom factor: when it
    /// is an LLM question, `llm_yes_no` or `llm_rating`).
    pub fn needs_model(self) -> bool {
        match self {
            Factor::Custom(c) => pack::llm_question(c).is_some(),
            _ => self.info().extraction.needs_model(),
        }
    }
}

/// The display name of a factor id, as every view shows it: the taxonomy's
/// name (`novel_words` → "novel words"), else the id itself (reports from
/// elsewhere may carry other factors).
pub fn display_name(id: &str) -> String {
    Factor::from_id(id).map_or_else(|| id.to_owned(), |f| f.info().name.to_owned())
}

impl std::fmt::Display for Factor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// A task preset's factors live here; the task itself is a property of the
/// dataset ([`crate::data::Task`]), re-exported for the presets.
pub use crate::data::Task;

impl Task {
    /// The preset's factors, in the paper's order (METHOD.md §4).
    pub fn factors(self) -> &'static [Factor] {
        use Factor::*;
        match self {
            Task::Summarization => &[
                IntentAlignment,
                FormalityAlignment,
                NFacts,
                SrcCoverage,
                Length,
                Coherence,
                OffFocus,
                Hallucination,
                Fluency,
                NovelWords,
            ],
            Task::Helpful => &[
                Receptiveness,
                Helpfulness,
                NFacts,
                Length,
                Coherence,
                Misinformation,
                Fluency,
                OffFocus,
                Hallucination,
            ],
            Task::DocQa => &[
                Receptiveness,
                Length,
                Helpfulness,
                NFacts,
                Coherence,
                Fluency,
                Misinformation,
                OffFocus,
                NovelWords,
                Hallucination,
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_presets_match_the_method() {
        for f in Factor::ALL {
            assert_eq!(Factor::from_id(f.id()), Some(f));
            assert_eq!(
                serde_json::to_string(&f).unwrap(),
                format!("\"{}\"", f.id())
            );
        }
        assert_eq!(Task::Summarization.factors().len(), 10);
        assert_eq!(Task::Helpful.factors().len(), 9);
        assert_eq!(Task::DocQa.factors().len(), 10);
        let rule: Vec<_> = Factor::ALL
            .into_iter()
            .filter(|f| !f.needs_model())
            .collect();
        assert_eq!(
            rule,
            [Factor::Length, Factor::NovelWords, Factor::NovelWordsCount]
        );
    }
}
