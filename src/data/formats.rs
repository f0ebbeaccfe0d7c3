//! Dataset formats and their adapters.
//!
//! Each adapter turns one JSON record into either a pair (formats that store a
//! comparison per record) or a scored item of a group (formats that rate single
//! responses, where pairs are formed within an input at the end). Detection
//! looks at the field names of the first JSON object.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Diagnostic, Preference};

/// A dataset format the loader understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// PROFILE's own schema: `response_a`, `response_b`, `preference`.
    Profile,
    /// SummEval expert ratings: `article_id`, `summary`, four aspects.
    SummEval,
    /// LLMBar: a JSON array of `input`, `output_1`, `output_2`, `label`.
    LlmBar,
    /// Anthropic HH-RLHF: `chosen` / `rejected` transcripts.
    HhRlhf,
    /// Stanford Human Preferences (SHP, SHP-2): `human_ref_A/B`, `labels`.
    Shp,
    /// WebGPT comparisons: `question`, `answer_0/1`, `score_0/1`, `quotes_0/1`.
    WebGpt,
    /// OpenAI summarize-from-feedback comparisons: `info`, `summaries`, `choice`.
    TldrComparisons,
    /// OpenAI summarize-from-feedback axis evaluations: `info`, `summary.axes`.
    TldrAxis,
    /// Chatbot Arena conversations: `model_a/b`, `winner`, `conversation_a/b`.
    Arena,
    /// `chosen` / `rejected` message lists (UltraFeedback binarized and the like).
    Messages,
    /// PKU-SafeRLHF: `prompt`, `response_0/1`, `better_response_id`, `safer_response_id`.
    PkuSafeRlhf,
    /// HelpSteer2 preference: `prompt`, `response_1/2`, `preference_strength`.
    HelpSteer2,
    /// MultiPref: `text`, `completion_a/b`, `model_a/b`, annotators' `overall_pref`.
    MultiPref,
}

impl Format {
    /// Every format, in the order detection tries them.
    pub const ALL: [Format; 13] = [
        Format::Profile,
        Format::SummEval,
        Format::LlmBar,
        Format::HhRlhf,
        Format::Shp,
        Format::WebGpt,
        Format::TldrComparisons,
        Format::TldrAxis,
        Format::Arena,
        Format::Messages,
        Format::PkuSafeRlhf,
        Format::HelpSteer2,
        Format::MultiPref,
    ];

    /// The format's short name, as used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Format::Profile => "profile",
            Format::SummEval => "summeval",
            Format::LlmBar => "llmbar",
            Format::HhRlhf => "hh-rlhf",
            Format::Shp => "shp",
            Format::WebGpt => "webgpt",
            Format::TldrComparisons => "tldr-comparisons",
            Format::TldrAxis => "tldr-axis",
            Format::Arena => "arena",
            Format::Messages => "messages",
            Format::PkuSafeRlhf => "pku-saferlhf",
            Format::HelpSteer2 => "helpsteer2",
            Format::MultiPref => "multipref",
        }
    }

    /// A one-line description with the fields that identify the format.
    pub fn description(self) -> &'static str {
        match self {
            Format::Profile => "PROFILE pairs: response_a, response_b, preference (+ input, source)",
            Format::SummEval => "SummEval ratings: article_id, article, summary, coherence/consistency/fluency/relevance",
            Format::LlmBar => "LLMBar: input, output_1, output_2, label (1|2)",
            Format::HhRlhf => "Anthropic HH-RLHF: chosen, rejected transcripts",
            Format::Shp => "Stanford Human Preferences (SHP/SHP-2): history, human_ref_A, human_ref_B, labels",
            Format::WebGpt => "WebGPT comparisons: question, quotes_0/1, answer_0/1, score_0/1",
            Format::TldrComparisons => "TL;DR comparisons: info.post, summaries[2], choice",
            Format::TldrAxis => "TL;DR axis evaluations: info.post, summary.text, summary.axes.overall",
            Format::Arena => "Chatbot Arena: model_a, model_b, winner, conversation_a/b message lists",
            Format::Messages => "chosen/rejected message lists (UltraFeedback binarized, ...)",
            Format::PkuSafeRlhf => "PKU-SafeRLHF: prompt, response_0/1, better_response_id, safer_response_id",
            Format::HelpSteer2 => "HelpSteer2 preference: prompt, response_1/2, preference_strength",
            Format::MultiPref => "MultiPref: text, completion_a/b, model_a/b, *_worker_annotations",
        }
    }

    /// Parses a format name (as printed by [`Format::name`]).
    pub fn from_name(name: &str) -> Option<Format> {
        let n = name.trim().to_ascii_lowercase().replace('_', "-");
        Format::ALL
            .into_iter()
            .find(|f| f.name() == n)
            .or(match n.as_str() {
                "canonical" | "jsonl" => Some(Format::Profile),
                "hh" | "hhrlhf" => Some(Format::HhRlhf),
                "shp-2" | "shp2" => Some(Format::Shp),
                "chatbot-arena" | "lmsys-arena" => Some(Format::Arena),
                "ultrafeedback" | "chosen-rejected" => Some(Format::Messages),
                "pku" | "pku-safe-rlhf" | "saferlhf" => Some(Format::PkuSafeRlhf),
                "helpsteer" | "helpsteer-2" => Some(Format::HelpSteer2),
                _ => None,
            })
    }

    /// The fields the format reads as texts or labels: never kept as
    /// fields to group pairs by ([`RecordFields`](super::RecordFields)).
    pub fn text_fields(self) -> &'static [&'static str] {
        match self {
            Format::Profile => &["input", "source", "response_a", "response_b", "preference"],
            Format::SummEval => &["article", "summary"],
            Format::LlmBar => &["input", "output_1", "output_2"],
            Format::HhRlhf => &["chosen", "rejected"],
            Format::Shp => &["history", "post", "human_ref_A", "human_ref_B"],
            Format::WebGpt => &["question.full_text", "answer_0", "answer_1"],
            Format::TldrComparisons => &["info.post", "info.article", "info.title"],
            Format::TldrAxis => &["info.post", "info.article", "info.title", "summary.text"],
            Format::Arena => &["conversation_a", "conversation_b", "winner"],
            Format::Messages => &["prompt", "chosen", "rejected", "messages"],
            Format::PkuSafeRlhf => &["prompt", "response_0", "response_1"],
            Format::HelpSteer2 => &[
                "prompt",
                "response_1",
                "response_2",
                "preference_statement",
                "preference_elaboration",
                "all_preferences_unprocessed",
            ],
            Format::MultiPref => &["text", "completion_a", "completion_b"],
        }
    }

    /// The format whose identifying fields `obj` has, if any.
    pub fn detect(obj: &Map<String, Value>) -> Option<Format> {
        let has = |k: &str| obj.contains_key(k);
        if has("response_a") && has("response_b") {
            Some(Format::Profile)
        } else if has("article_id") && has("summary") {
            Some(Format::SummEval)
        } else if has("output_1") && has("output_2") {
            Some(Format::LlmBar)
        } else if has("conversation_a") && has("conversation_b") {
            Some(Format::Arena)
        } else if has("completion_a") && has("completion_b") {
            Some(Format::MultiPref)
        } else if has("response_0") && has("response_1") {
            Some(Format::PkuSafeRlhf)
        } else if has("response_1") && has("response_2") && has("preference_strength") {
            Some(Format::HelpSteer2)
        } else if has("chosen") && has("rejected") {
            // Transcripts are strings; message lists are arrays.
            Some(if obj.get("chosen").is_some_and(Value::is_array) {
                Format::Messages
            } else {
                Format::HhRlhf
            })
        } else if has("human_ref_A") && has("human_ref_B") {
            Some(Format::Shp)
        } else if has("answer_0") && has("answer_1") {
            Some(Format::WebGpt)
        } else if has("summaries") && has("choice") {
            Some(Format::TldrComparisons)
        } else if has("summary") && has("info") {
            Some(Format::TldrAxis)
        } else {
            None
        }
    }

    /// The format a record that matches no format fully most likely has: the
    /// first format one of whose identifying fields it has. Used so that a file
    /// whose records all miss a field is diagnosed field by field rather than
    /// rejected as unknown.
    pub fn detect_partial(obj: &Map<String, Value>) -> Option<Format> {
        const KEYS: [(&str, Format); 17] = [
            ("response_a", Format::Profile),
            ("response_b", Format::Profile),
            ("article_id", Format::SummEval),
            ("output_1", Format::LlmBar),
            ("output_2", Format::LlmBar),
            ("conversation_a", Format::Arena),
            ("completion_a", Format::MultiPref),
            ("better_response_id", Format::PkuSafeRlhf),
            ("safer_response_id", Format::PkuSafeRlhf),
            ("preference_strength", Format::HelpSteer2),
            ("chosen", Format::HhRlhf),
            ("rejected", Format::HhRlhf),
            ("human_ref_A", Format::Shp),
            ("human_ref_B", Format::Shp),
            ("answer_0", Format::WebGpt),
            ("answer_1", Format::WebGpt),
            ("summaries", Format::TldrComparisons),
        ];
        Format::detect(obj).or_else(|| {
            if obj.get("chosen").is_some_and(Value::is_array) {
                return Some(Format::Messages);
            }
            KEYS.iter()
                .find(|(k, _)| obj.contains_key(*k))
                .map(|(_, f)| *f)
        })
    }

    /// Whether pairs are formed within groups of individually rated responses.
    pub fn is_grouped(self) -> bool {
        matches!(self, Format::SummEval | Format::TldrAxis)
    }

    /// The task preset that fits the format's data.
    pub fn default_task(self) -> crate::data::Task {
        use crate::data::Task;
        match self {
            Format::SummEval | Format::TldrComparisons | Format::TldrAxis => Task::Summarization,
            Format::WebGpt => Task::DocQa,
            Format::Profile
            | Format::LlmBar
            | Format::HhRlhf
            | Format::Shp
            | Format::Arena
            | Format::Messages
            | Format::PkuSafeRlhf
            | Format::HelpSteer2
            | Format::MultiPref => Task::Helpful,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which SummEval rating makes the human label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SummEvalLabel {
    /// The mean of the four expert aspects (UniEval's "overall").
    #[default]
    Mean,
    Coherence,
    Consistency,
    Fluency,
    Relevance,
}

impl SummEvalLabel {
    /// The four aspects.
    pub const ASPECTS: [SummEvalLabel; 4] = [
        SummEvalLabel::Coherence,
        SummEvalLabel::Consistency,
        SummEvalLabel::Fluency,
        SummEvalLabel::Relevance,
    ];

    /// The name as written in the data and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SummEvalLabel::Mean => "mean",
            SummEvalLabel::Coherence => "coherence",
            SummEvalLabel::Consistency => "consistency",
            SummEvalLabel::Fluency => "fluency",
            SummEvalLabel::Relevance => "relevance",
        }
    }

    /// Parses `mean`/`overall` or an aspect name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "mean" | "overall" | "average" => Some(SummEvalLabel::Mean),
            n => Self::ASPECTS.into_iter().find(|a| a.name() == n),
        }
    }
}

/// Which PKU-SafeRLHF judgement makes the human label (`--label better|safer`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PkuLabel {
    /// `better_response_id`: the more helpful response.
    #[default]
    Better,
    /// `safer_response_id`: the safer response.
    Safer,
}

impl PkuLabel {
    /// The name as used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PkuLabel::Better => "better",
            PkuLabel::Safer => "safer",
        }
    }

    /// Parses `better`/`helpful` or `safer`/`safe`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "better" | "helpful" | "better_response_id" => Some(PkuLabel::Better),
            "safer" | "safe" | "safer_response_id" => Some(PkuLabel::Safer),
            _ => None,
        }
    }

    fn field(self) -> &'static str {
        match self {
            PkuLabel::Better => "better_response_id",
            PkuLabel::Safer => "safer_response_id",
        }
    }
}

/// The largest record read by default, in MiB (`--max-record-mb`, the app's
/// "largest record (MB)"): a longer line or array element is skipped with a
/// diagnostic, without ever being held whole.
pub const DEFAULT_MAX_RECORD_MB: u32 = 8;

/// The highest record-size limit that may be asked for, in MiB.
pub const MAX_RECORD_MB_LIMIT: u32 = 1024;

/// Options that change how records are read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatOptions {
    /// Use this format instead of detecting one.
    pub format: Option<Format>,
    /// The SummEval rating used as the label.
    pub summeval_label: SummEvalLabel,
    /// Records (lines, array elements) longer than this many MiB are skipped
    /// with a diagnostic ([`DEFAULT_MAX_RECORD_MB`]; at most [`MAX_RECORD_MB_LIMIT`]).
    #[serde(default = "default_max_record_mb")]
    pub max_record_mb: u32,
    /// The PKU-SafeRLHF judgement used as the label.
    #[serde(default)]
    pub pku_label: PkuLabel,
    /// Read the input as a CSV/TSV table (header row first) rather than JSON.
    /// Never sent between the app and its worker (the worker takes it from
    /// the file's name), so it has no serialized form.
    #[serde(skip)]
    pub table: Option<super::TableOptions>,
    /// The app's column mapping (field, column), applied when the input
    /// turns out to be a table ([`FormatOptions::table_for`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub column_map: Vec<(String, String)>,
}

fn default_max_record_mb() -> u32 {
    DEFAULT_MAX_RECORD_MB
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            format: None,
            summeval_label: SummEvalLabel::default(),
            max_record_mb: DEFAULT_MAX_RECORD_MB,
            pku_label: PkuLabel::default(),
            table: None,
            column_map: Vec::new(),
        }
    }
}

impl FormatOptions {
    /// The name of the label a dataset of `format` was read with: the
    /// SummEval rating or the PKU-SafeRLHF judgement; `None` for formats
    /// with one label.
    pub fn label_name(&self, format: Option<Format>) -> Option<&'static str> {
        match format {
            Some(Format::SummEval) => Some(self.summeval_label.name()),
            Some(Format::PkuSafeRlhf) => Some(self.pku_label.name()),
            _ => None,
        }
    }

    /// The table options of a file named `name`: those given, else the
    /// table kind the name implies (`.csv`, `.tsv`, gzipped too) with
    /// [`FormatOptions::column_map`]; `None` when the file is no table.
    pub fn table_for(&self, name: &str) -> Option<super::TableOptions> {
        self.table.clone().or_else(|| {
            super::TableOptions::for_file_name(name).map(|t| super::TableOptions {
                map: self.column_map.clone(),
                ..t
            })
        })
    }

    /// The record-size limit in bytes.
    pub fn max_record_bytes(&self) -> usize {
        (self.max_record_mb.clamp(1, MAX_RECORD_MB_LIMIT) as usize) << 20
    }

    /// Checks a record-size limit given by a user, in MiB.
    ///
    /// # Errors
    /// A sentence naming the accepted range.
    pub fn parse_max_record_mb(text: &str) -> Result<u32, String> {
        match text.trim().parse::<u32>() {
            Ok(n) if (1..=MAX_RECORD_MB_LIMIT).contains(&n) => Ok(n),
            _ => Err(format!(
                "the largest record is a whole number of MiB from 1 to {MAX_RECORD_MB_LIMIT}, not `{text}`"
            )),
        }
    }
}

/// Ties in SummEval ratings: means of thirds are compared with this tolerance.
pub const SUMMEVAL_TIE_TOLERANCE: f64 = 1e-6;

/// How a group of rated items is identified.
pub(crate) type GroupKey = String;

/// What one record contributes.
#[derive(Debug)]
pub(crate) enum Item<'a> {
    /// A complete pair.
    Pair {
        input: Option<Cow<'a, str>>,
        source: Option<Cow<'a, str>>,
        a: Cow<'a, str>,
        b: Cow<'a, str>,
        preference: Preference,
        /// Groups pairs into clusters; `None` clusters by (input, source).
        cluster: Option<String>,
    },
    /// One rated response of a group; pairs are formed within the group.
    Rated {
        group: GroupKey,
        input: Option<&'a str>,
        source: Option<&'a str>,
        text: &'a str,
        score: f64,
    },
    /// A valid record whose pair is dropped by the format's rules.
    Dropped(&'static str),
}

type Res<T> = Result<T, Diagnostic>;

struct Rec<'a> {
    obj: &'a Map<String, Value>,
    line: u64,
}

impl<'a> Rec<'a> {
    fn get(&self, path: &str) -> Option<&'a Value> {
        let mut cur = self.obj;
        let mut parts = path.split('.').peekable();
        while let Some(p) = parts.next() {
            let v = cur.get(p)?;
            if parts.peek().is_none() {
                return Some(v);
            }
            cur = v.as_object()?;
        }
        None
    }

    fn err(&self, field: &str, reason: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.line, Some(field), reason)
    }

    fn str(&self, path: &str) -> Res<&'a str> {
        match self.get(path) {
            Some(Value::String(s)) => Ok(s),
            Some(Value::Null) | None => Err(self.err(path, "missing")),
            Some(v) => Err(self.err(path, format!("expected a string, found {}", kind(v)))),
        }
    }

    fn opt_str(&self, path: &str) -> Res<Option<&'a str>> {
        match self.get(path) {
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Null) | None => Ok(None),
            Some(v) => Err(self.err(path, format!("expected a string, found {}", kind(v)))),
        }
    }

    fn num(&self, path: &str) -> Res<f64> {
        match self.get(path) {
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| self.err(path, "not a finite number")),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    self.err(path, format!("expected a number, found the string {s:?}"))
                }),
            Some(Value::Null) | None => Err(self.err(path, "missing")),
            Some(v) => Err(self.err(path, format!("expected a number, found {}", kind(v)))),
        }
    }

    /// A number that codes a preference, looked up in `codes`.
    fn coded(&self, path: &str, codes: &[(f64, Preference)], expected: &str) -> Res<Preference> {
        let x = self.num(path)?;
        codes
            .iter()
            .find(|(c, _)| *c == x)
            .map(|(_, p)| *p)
            .ok_or_else(|| self.err(path, format!("expected {expected}, found {x}")))
    }

    fn id(&self, path: &str) -> Res<Option<String>> {
        match self.get(path) {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Null) | None => Ok(None),
            Some(v) => Err(self.err(
                path,
                format!("expected a string or number id, found {}", kind(v)),
            )),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads one record of `format`.
pub(crate) fn read_item<'a>(
    format: Format,
    opts: &FormatOptions,
    obj: &'a Map<String, Value>,
    line: u64,
) -> Res<Item<'a>> {
    let r = Rec { obj, line };
    match format {
        Format::Profile => profile(&r),
        Format::SummEval => summeval(&r, opts.summeval_label),
        Format::LlmBar => llmbar(&r),
        Format::HhRlhf => hh_rlhf(&r),
        Format::Shp => shp(&r),
        Format::WebGpt => webgpt(&r),
        Format::TldrComparisons => tldr_comparisons(&r),
        Format::TldrAxis => tldr_axis(&r),
        Format::Arena => arena(&r),
        Format::Messages => messages(&r),
        Format::PkuSafeRlhf => pku(&r, opts.pku_label),
        Format::HelpSteer2 => helpsteer2(&r),
        Format::MultiPref => multipref(&r),
    }
}

fn profile<'a>(r: &Rec<'a>) -> Res<Item<'a>> {
    let a = r.str("response_a")?;
    let b = r.str("response_b")?;
    let preference = match r.get("preference") {
        None | Some(Value::Null) => return Err(r.err("preference", "missing")),
        Some(Value::String(s)) => match profile_preference(s) {
            Some(p) => p,
            None => {
                let other = s.trim().to_ascii_lowercase();
                return Err(r.err(
                    "preference",
                    format!("expected \"a\", \"b\" or \"tie\" (or 1, -1, 0), found {other:?}"),
                ));
            }
        },
        Some(Value::Number(_)) => r.coded("preference", &PROFILE_CODES, "1, -1 or 0")?,
        Some(v) => {
            return Err(r.err(
                "preference",
                format!(
                    "expected \"a\", \"b\", \"tie\", 1, -1 or 0, found {}",
                    kind(v)
                ),
            ))
        }
    };
    r.opt_str("task")?;
    r.id("id")?;
    Ok(Item::Pair {
        input: r.opt_str("input")?.map(Cow::Borrowed),
        source: r.opt_str("source")?.map(Cow::Borrowed),
        a: a.into(),
        b: b.into(),
        preference,
        cluster: None,
    })
}

/// A PROFILE preference given as a string: "a", "b" or "tie", or "1",
/// "-1" or "0" (any case, blanks around).
fn profile_preference(s: &str) -> Option<Preference> {
    match s.trim().to_ascii_lowercase().as_str() {
        "a" | "1" => Some(Preference::A),
        "b" | "-1" => Some(Preference::B),
        "tie" | "0" => Some(Preference::Tie),
        _ => None,
    }
}

/// A PROFILE preference given as a number.
const PROFILE_CODES: [(f64, Preference); 3] = [
    (1.0, Preference::A),
    (-1.0, Preference::B),
    (0.0, Preference::Tie),
];

/// A string of a record read without a [`Value`]: borrowed from the
/// record's bytes when it has no escapes, else unescaped.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(s))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(s))
            }
        }
        d.deserialize_str(Visit).map(Text)
    }
}

/// A PROFILE preference read without a [`Value`]: as [`profile`] reads it.
struct FastPreference(Preference);

impl<'de> Deserialize<'de> for FastPreference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl Visit {
            fn number<E: serde::de::Error>(x: f64) -> Result<FastPreference, E> {
                PROFILE_CODES
                    .iter()
                    .find(|(c, _)| x.is_finite() && *c == x)
                    .map(|(_, p)| FastPreference(*p))
                    .ok_or_else(|| E::custom("not a preference"))
            }
        }
        impl serde::de::Visitor<'_> for Visit {
            type Value = FastPreference;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a preference")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                profile_preference(s)
                    .map(FastPreference)
                    .ok_or_else(|| E::custom("not a preference"))
            }
            // As serde_json's `Number::as_f64`, which `profile` reads.
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E: serde::de::Error>(self, x: u64) -> Result<Self::Value, E> {
                Self::number(x as f64)
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_i64<E: serde::de::Error>(self, x: i64) -> Result<Self::Value, E> {
                Self::number(x as f64)
            }
            fn visit_f64<E: serde::de::Error>(self, x: f64) -> Result<Self::Value, E> {
                Self::number(x)
            }
        }
        d.deserialize_any(Visit)
    }
}

/// A PROFILE record of `response_a`, `response_b`, `preference` and
/// optionally `input` and `source`, and nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastProfile<'a> {
    #[serde(borrow)]
    input: Option<Text<'a>>,
    #[serde(borrow)]
    source: Option<Text<'a>>,
    #[serde(borrow)]
    response_a: Text<'a>,
    #[serde(borrow)]
    response_b: Text<'a>,
    preference: FastPreference,
}

/// The loader's fast path for PROFILE records: a record of `response_a`,
/// `response_b`, `preference` and optionally `input` and `source` (no other
/// field), read straight into its item, without building a [`Value`] (its
/// strings borrowed from `bytes` when they have no escapes): about a fifth
/// less time than reading the record into a `Value` and then the item.
/// Any other record (another field, a field twice, a value of another
/// type, a bad preference, invalid JSON) is `None`, and is read the
/// ordinary way ([`read_item`], which says what is wrong with it); for the
/// records it reads, the item is the one `read_item` gives.
pub(crate) fn profile_fast(bytes: &[u8]) -> Option<Item<'_>> {
    let r: FastProfile<'_> = serde_json::from_slice(bytes).ok()?;
    Some(Item::Pair {
        input: r.input.map(|t| t.0),
        source: r.source.map(|t| t.0),
        a: r.response_a.0,
        b: r.response_b.0,
        preference: r.preference.0,
        cluster: None,
    })
}

fn summeval<'a>(r: &Rec<'a>, label: SummEvalLabel) -> Res<Item<'a>> {
    let group = r
        .id("article_id")?
        .ok_or_else(|| r.err("article_id", "missing"))?;
    let text = r.str("summary")?;
    let source = r.str("article")?;
    let score = match label {
        SummEvalLabel::Mean => {
            let mut sum = 0.0;
            for a in SummEvalLabel::ASPECTS {
                sum += r.num(a.name())?;
            }
            sum / 4.0
        }
        aspect => r.num(aspect.name())?,
    };
    Ok(Item::Rated {
        group,
        input: None,
        source: Some(source),
        text,
        score,
    })
}

fn llmbar<'a>(r: &Rec<'a>) -> Res<Item<'a>> {
    let preference = r.coded(
        "label",
        &[
            (1.0, Preference::A),
            (2.0, Preference::B),
            (0.0, Preference::Tie),
        ],
        "1 or 2",
    )?;
    Ok(Item::Pair {
        input: Some(r.str("input")?.into()),
        source: None,
        a: r.str("output_1")?.into(),
        b: r.str("output_2")?.into(),
        preference,
        cluster: None,
    })
}

/// The marker before each assistant turn in HH-RLHF transcripts.
const ASSISTANT: &str = "\n\nAssistant:";

fn hh_rlhf<'a>(r: &Rec<'a>) -> Res<Item<'a>> {
    let split = |field: &str| -> Res<(&'a str, &'a str)> {
        let t = r.str(field)?;
        let at = t
            .rfind(ASSISTANT)
            .ok_or_else(|| r.err(field, "no \"\\n\\nAssistant:\" turn in the transcript"))?;
        Ok((&t[..at], t[at + ASSISTANT.len()..].trim()))
    };
    let (prompt_c, chosen) = split("chosen")?;
    let (prompt_r, rejected) = split("rejected")?;
    if prompt_c != prompt_r {
        return Ok(Item::Dropped(
            "HH-RLHF pairs whose chosen and rejected transcripts differ before the last assistant turn",
        ));
    }
    Ok(Item::Pair {
        input: Some(prompt_c.trim().into()),
        source: None,
        a: chosen.into(),
        b: rejected.into(),
        preference: Preference::A,
        cluster: None,
    })
}

fn shp<'a>(r: &Rec<'a>) -> Res<Item<'a>> {
    let input = match r.opt_str("history")? {
        Some(h) => h,
        None => r
            .str("post")
            .map_err(|_| r.err("history", "missing (nor is there a `post`)"))?,
    };
    let preference = r.coded(
        "labels",
        &[(1.0, Preference::A), (0.0, Preference::B)],
        "1 (A preferred) or 0 (B preferred)",
    )?;
    Ok(Item::Pair {
        input: Some(input.into()),
        source: None,
        a: r.str("human_ref_A")?.into(),
        b: r.str("human_ref_B")?.into(),
        preference,
        cluster: r.id("post_id")?,
    })
}

fn webgpt<'a>(r: &Rec<'a>) -> Res<Item<'a>> {
    let question = r.str("question.full_text")?;
    let s0 = r.num("score_0")?;
    let s1 = r.num("score_1")?;
    // Both answers' quotes together are the reference documents of the pair.
    let mut n_quotes = 0;
    for q in ["quotes_0", "quotes_1"] {
        match r.get(&format!("{q}.extract")) {
            None | Some(Value::Null) => {}
            Some(Value::Array(xs)) => {
                for (i, x) in xs.iter().enumerate() {
                    if !x.is_string() {
                        return Err(r.err(
                            &format!("{q}.extract[{i}]"),
                            format!("expected a string, found {}", kind(x)),
                        ));
                    }
                    n_quotes += 1;
                }
            }
            Some(v) => {
                return Err(r.err(
                    &format!("{q}.extract"),
                    format!("expected an array, found {}", kind(v)),
                ))
            }
        }
    }
    let source = (n_quotes > 0).then(|| {
        let mut seen = Vec::new();
        for q in ["quotes_0", "quotes_1"] {
            if let Some(Value::Array(xs)) = r.get(&format!("{q}.extract")) {
                for s in xs.iter().filter_map(Value::as_str) {
                    if !seen.contains(&s) {
                        seen.push(s);
                    }
                }
            }
        }
        seen.join("\n\n")
    });
    Ok(Item::Pair {
        input: Some(question.into()),
        source: source.map(Cow::Owned),
        a: r.str("answer_0")?.into(),
        b: r.str("answer_1")?.into(),
        preference: Preference::from_scores(s0, s1, 1e-12),
        cluster: r.id("question.id")?,
    })
}

fn tldr_post<'a>(r: &Rec<'a>) -> Res<&'a str> {
    match r.opt_str("info.post")? {
        Some(p) => Ok(p),
        None => r
            .str("info.article")
            .map_err(|_| r.err("info.post", "missing (nor is there an `info.article`)")),
    }
}

fn tldr_comparisons<'a>(r: &Rec<'a>) -> Res<Item<'a>> {
    let source = tldr_post(r)?;
    let summaries = match r.get("summaries") {
        Some(Value::Array(s)) if s.len() == 2 => s,
        Some(Value::Array(s)) => {
            return Err(r.err(
                "summaries",
                format!("expected 2 summaries, found {}", s.len()),
            ))
        }
        Some(v) => return Err(r.err("summaries", format!("expected an array, found {}", kind(v)))),
        None => return Err(r.err("summaries", "missing")),
    };
    let text = |i: usize| -> Res<&'a str> {
        summaries[i]
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| r.err(&format!("summaries[{i}].text"), "missing or not a string"))
    };
    let preference = r.coded(
        "choice",
        &[(0.0, Preference::A), (1.0, Preference::B)],
        "0 or 1",
    )?;
    Ok(Item::Pair {
        input: r.opt_str("info.title")?.map(Cow::Borrowed),
        source: Some(Cow::Borrowed(source)),
        a: text(0)?.into(),
        b: text(1)?.into(),
        preference,
        cluster: r.id("info.id")?,
    })
}

fn tldr_axis<'a>(r: &Rec<'a>) -> Res<Item<'a>> {
    let source = tldr_post(r)?;
    let group = match r.id("info.id")? {
        Some(id) => id,
        None => source.to_owned(),
    };
    Ok(Item::Rated {
        group,
        input: r.opt_str("info.title")?,
        source: Some(source),
        text: r.str("summary.text")?,
        score: r.num("summary.axes.overall")?,
    })
}

/// One message of a conversation: its role and its text.
type Message<'a> = (&'a str, &'a str);

impl<'a> Rec<'a> {
    /// A list of `{"role", "content"}` messages.
    fn messages(&self, path: &str) -> Res<Vec<Message<'a>>> {
        let xs = match self.get(path) {
            Some(Value::Array(xs)) => xs,
            Some(Value::Null) | None => return Err(self.err(path, "missing")),
            Some(v) => {
                return Err(self.err(
                    path,
                    format!("expected a list of messages, found {}", kind(v)),
                ))
            }
        };
        xs.iter()
            .enumerate()
            .map(|(i, m)| {
                let field = |k: &str| match m.get(k) {
                    Some(Value::String(s)) => Ok(s.as_str()),
                    Some(v) => Err(self.err(
                        &format!("{path}[{i}].{k}"),
                        format!("expected a string, found {}", kind(v)),
                    )),
                    None => Err(self.err(&format!("{path}[{i}].{k}"), "missing")),
                };
                Ok((field("role")?, field("content")?))
            })
            .collect()
    }
}

/// Texts joined by a blank line; a single text is borrowed.
fn joined<'a>(parts: &[&'a str]) -> Cow<'a, str> {
    match parts {
        [one] => Cow::Borrowed(one),
        _ => Cow::Owned(parts.join("\n\n")),
    }
}

/// The contents of the messages of one role.
fn turns<'a>(messages: &[Message<'a>], role: &str) -> Vec<&'a str> {
    messages
        .iter()
        .filter(|(r, _)| *r == role)
        .map(|(_, c)| *c)
        .collect()
}

fn arena<'a>(r: &Rec<'a>) -> Res<Item<'a>> {
    let preference = match r.str("winner")? {
        "model_a" => Preference::A,
        "model_b" => Preference::B,
        "tie" | "tie (bothbad)" => Preference::Tie,
        other => {
            return Err(r.err(
                "winner",
                format!(
                "expected \"model_a\", \"model_b\", \"tie\" or \"tie (bothbad)\", found {other:?}"
            ),
            ))
        }
    };
    let ca = r.messages("conversation_a")?;
    let cb = r.messages("conversation_b")?;
    let users = turns(&ca, "user");
    if users != turns(&cb, "user") {
        return Ok(Item::Dropped(
            "Chatbot Arena conversations whose user turns differ between the two models",
        ));
    }
    let answers = |c: &[Message<'a>], field: &str| -> Res<Cow<'a, str>> {
        let t = turns(c, "assistant");
        if t.is_empty() {
            return Err(r.err(field, "no assistant turn in the conversation"));
        }
        Ok(joined(&t))
    };
    Ok(Item::Pair {
        input: (!users.is_empty()).then(|| joined(&users)),
        source: None,
        a: answers(&ca, "conversation_a")?,
        b: answers(&cb, "conversation_b")?,
        preference,
        cluster: None,
    })
}

/// A role as a transcript label (`user` → `User`).
fn role_label(role: &str) -> String {
    let mut c = role.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn messages<'a>(r: &Rec<'a>) -> Res<Item<'a>> {
    let split = |field: &str| -> Res<(Vec<Message<'a>>, &'a str)> {
        let mut m = r.messages(field)?;
        match m.pop() {
            Some(("assistant", last)) => Ok((m, last)),
            Some((role, _)) => Err(r.err(
                field,
                format!("the last message is not an assistant turn (its role is {role:?})"),
            )),
            None => Err(r.err(field, "the list of messages is empty")),
        }
    };
    let (prompt_c, chosen) = split("chosen")?;
    let (prompt_r, rejected) = split("rejected")?;
    if prompt_c != prompt_r {
        return Ok(Item::Dropped(
            "chosen/rejected pairs whose messages differ before the last assistant turn",
        ));
    }
    let input = match prompt_c.as_slice() {
        [] => r.opt_str("prompt")?.map(Cow::Borrowed),
        [("user", one)] => Some(Cow::Borrowed(*one)),
        turns => Some(Cow::Owned(
            turns
                .iter()
                .map(|(role, c)| format!("{}: {c}", role_label(role)))
                .collect::<Vec<_>>()
                .join("\n\n"),
        )),
    };
    Ok(Item::Pair {
        input,
        source: None,
        a: chosen.into(),
        b: rejected.into(),
        preference: Preference::A,
        cluster: None,
    })
}

fn pku<'a>(r: &Rec<'a>, label: PkuLabel) -> Res<Item<'a>> {
    let preference = r.coded(
        label.field(),
        &[(0.0, Preference::A), (1.0, Preference::B)],
        "0 (response_0) or 1 (response_1)",
    )?;
    Ok(Item::Pair {
        input: Some(r.str("prompt")?.into()),
        source: None,
        a: r.str("response_0")?.into(),
        b: r.str("response_1")?.into(),
        preference,
        cluster: None,
    })
}

fn helpsteer2<'a>(r: &Rec<'a>) -> Res<Item<'a>> {
    // -3..-1: response 1 is better; 1..3: response 2 is; 0: about the same.
    let s = r.num("preference_strength")?;
    Ok(Item::Pair {
        input: Some(r.str("prompt")?.into()),
        source: None,
        a: r.str("response_1")?.into(),
        b: r.str("response_2")?.into(),
        preference: Preference::from_scores(0.0, s, 1e-12),
        cluster: None,
    })
}

fn multipref<'a>(r: &Rec<'a>) -> Res<Item<'a>> {
    // Every annotator's `overall_pref` votes: A-is-clearly/slightly-better
    // +1, B-is-... -1, Tie 0; the sign of the sum is the label.
    let mut votes = 0i64;
    let mut n = 0;
    for group in ["normal_worker_annotations", "expert_worker_annotations"] {
        let xs = match r.get(group) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(xs)) => xs,
            Some(v) => {
                return Err(r.err(
                    group,
                    format!("expected a list of annotations, found {}", kind(v)),
                ))
            }
        };
        for (i, x) in xs.iter().enumerate() {
            let field = format!("{group}[{i}].overall_pref");
            let pref = x
                .get("overall_pref")
                .and_then(Value::as_str)
                .ok_or_else(|| r.err(&field, "missing or not a string"))?;
            votes += match pref {
                p if p.starts_with("A-is-") => 1,
                p if p.starts_with("B-is-") => -1,
                p if p.eq_ignore_ascii_case("tie") => 0,
                other => {
                    return Err(r.err(
                        &field,
                        format!("expected \"A-is-...\", \"B-is-...\" or \"Tie\", found {other:?}"),
                    ))
                }
            };
            n += 1;
        }
    }
    if n == 0 {
        return Err(r.err(
            "normal_worker_annotations",
            "no annotation with an `overall_pref`",
        ));
    }
    Ok(Item::Pair {
        input: Some(r.str("text")?.into()),
        source: None,
        a: r.str("completion_a")?.into(),
        b: r.str("completion_b")?.into(),
        preference: Preference::from_sign(votes),
        cluster: r.id("prompt_id")?,
    })
}
