//! Parsing model replies into typed values: tolerant in finding the JSON,
//! strict about what it must contain (METHOD.md §6).
//!
//! [`extract_json`] finds the JSON value in a reply, forgiving the usual slips
//! of chat models: a byte-order mark, code fences, prose before or after the
//! JSON, trailing commas, curly quotes used as string quotes. The typed
//! parsers (`parse_facts`, `parse_fact_checks`, `parse_judgements`, …, one
//! per template family of [`super::prompts`]) then check the shape exactly and return a typed value,
//! or a [`ParseError`] that says what was wrong. Object keys are matched
//! ignoring ASCII case and treating `-` and spaces like `_` (`"Facts"`,
//! `"post formality"`); unknown keys are ignored.
//!
//! The caller sends one repair request ([`super::prompts::repair`], with the
//! error's `Display` as the problem) and, if that reply does not parse either,
//! records a failed item with the raw reply: a value is never guessed.
//!
//! # A reply can only produce the value being extracted
//!
//! Every function here is pure: it reads the reply string and returns either
//! the typed value asked for or an error. Nothing in a reply is executed or
//! evaluated (JSON is parsed as data by serde_json, never as code), nothing is
//! looked up, no global or shared state is read or written, and no reply can
//! select a different parser, template, factor or item. Texts in the returned
//! values (facts, generated responses, a justification) are plain data; when
//! they are sent to a model again, [`super::prompts`] delimits and neutralises
//! them like any dataset text.

use std::fmt;

use serde_json::{Map, Value};

use super::question::{CheckKind, JudgementPart};
use crate::data::Preference;

/// Why a reply could not be turned into the expected value.
///
/// `Display` gives one sentence suitable both for a log and for the problem
/// statement of a repair request; quoted bits of the reply are cut short.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The reply is empty or only whitespace.
    Empty,
    /// No `{…}` or `[…]` in the reply.
    NoJson,
    /// A JSON value starts but its brackets never close (a cut-off reply?).
    Unclosed,
    /// A bracketed candidate was found but is not valid JSON even after the
    /// usual repairs; the serde_json message.
    InvalidJson(String),
    /// A required key is absent.
    MissingKey { at: String, key: &'static str },
    /// Two keys differ only in case or separators, with different values.
    AmbiguousKey { at: String, key: &'static str },
    /// A value has the wrong type or an unaccepted content.
    BadValue {
        at: String,
        expected: &'static str,
        found: String,
    },
    /// A list of fact entries (`list`, e.g. `response_facts`) does not give
    /// exactly one entry per fact id 1..=n.
    Checks {
        list: &'static str,
        n_facts: usize,
        missing: Vec<u64>,
        duplicate: Vec<u64>,
        out_of_range: Vec<i64>,
    },
    /// The five graded responses are not exactly scores 1..=5 once each.
    Generation(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str("the reply is empty"),
            ParseError::NoJson => f.write_str("no JSON object or array found in the reply"),
            ParseError::Unclosed => f.write_str(
                "the JSON in the reply is never closed (the reply may have been cut off)",
            ),
            ParseError::InvalidJson(e) => write!(f, "the reply's JSON is not valid: {e}"),
            ParseError::MissingKey { at, key } => {
                write!(f, "{}: missing key `{key}`", place(at))
            }
            ParseError::AmbiguousKey { at, key } => write!(
                f,
                "{}: key `{key}` appears more than once with different spellings",
                place(at)
            ),
            ParseError::BadValue {
                at,
                expected,
                found,
            } => write!(f, "{}: expected {expected}, found {found}", place(at)),
            ParseError::Checks {
                list,
                n_facts,
                missing,
                duplicate,
                out_of_range,
            } => {
                write!(
                    f,
                    "`{list}`: expected exactly one entry for each fact id 1..={n_facts}"
                )?;
                if !missing.is_empty() {
                    write!(f, "; missing ids {}", join(missing))?;
                }
                if !duplicate.is_empty() {
                    write!(f, "; repeated ids {}", join(duplicate))?;
                }
                if !out_of_range.is_empty() {
                    write!(f, "; ids that do not exist {}", join(out_of_range))?;
                }
                Ok(())
            }
            ParseError::Generation(why) => write!(f, "`responses`: {why}"),
        }
    }
}

impl std::error::Error for ParseError {}

fn place(at: &str) -> String {
    if at.is_empty() {
        "the reply".to_string()
    } else {
        format!("`{at}`")
    }
}

fn join<T: fmt::Display>(xs: &[T]) -> String {
    xs.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Result of the parsers.
pub type Result<T> = std::result::Result<T, ParseError>;

// ---------------------------------------------------------------------------
// Finding the JSON

/// At most this many bracket positions are tried as the start of the JSON.
const MAX_CANDIDATES: usize = 64;

/// Finds the JSON object or array in a model reply.
///
/// The whole reply (without a leading byte-order mark and surrounding
/// whitespace) is tried first. Otherwise the reply is scanned for the first
/// `{` or `[` whose bracket is balanced (brackets inside strings and escaped
/// quotes are respected), which skips code fences and prose around the JSON.
/// A candidate that is not valid JSON is retried once with curly quotes used
/// as string delimiters turned into `"` and trailing commas before `}` or `]`
/// removed; if that fails too, scanning continues *after* the candidate (never
/// inside it, so a fragment of a broken object is not mistaken for the
/// answer).
///
/// # Errors
///
/// [`ParseError::Empty`], [`ParseError::NoJson`], [`ParseError::Unclosed`] or
/// [`ParseError::InvalidJson`] (the first candidate's error).
pub fn extract_json(reply: &str) -> Result<Value> {
    let text = reply.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    if let Ok(v @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(text) {
        return Ok(v);
    }
    let mut first_err: Option<ParseError> = None;
    let mut unclosed = false;
    let mut tries = 0;
    let mut pos = 0;
    while let Some(off) = text[pos..].find(['{', '[']) {
        let start = pos + off;
        tries += 1;
        if tries > MAX_CANDIDATES {
            break;
        }
        match scan(text, start) {
            Scan::Balanced(end) => match parse_candidate(&text[start..end]) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    first_err.get_or_insert(e);
                    pos = end;
                }
            },
            Scan::Mismatched(at) => {
                first_err.get_or_insert_with(|| {
                    ParseError::InvalidJson(format!(
                        "a bracket opened at byte {start} is closed by a different one at byte {at}"
                    ))
                });
                pos = start + 1;
            }
            Scan::Unclosed => {
                unclosed = true;
                pos = start + 1;
            }
        }
    }
    Err(first_err.unwrap_or(if unclosed {
        ParseError::Unclosed
    } else {
        ParseError::NoJson
    }))
}

/// The quote state of the scanners: outside strings, inside a `"…"` string,
/// or inside a string opened by a curly quote.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    Outside,
    Ascii,
    Curly,
}

fn is_curly(c: char) -> bool {
    matches!(c, '\u{201c}' | '\u{201d}')
}

/// What follows an opening bracket.
enum Scan {
    /// The bracket closes; the byte index just past its closer.
    Balanced(usize),
    /// A closer of the other kind comes first, at this byte index.
    Mismatched(usize),
    /// The text ends first.
    Unclosed,
}

/// Follows the brackets from the one at `start`, skipping strings.
fn scan(text: &str, start: usize) -> Scan {
    let mut stack: Vec<char> = Vec::new();
    let mut quote = Quote::Outside;
    let mut escaped = false;
    for (i, c) in text[start..].char_indices() {
        match quote {
            Quote::Ascii | Quote::Curly => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if (quote == Quote::Ascii && c == '"')
                    || (quote == Quote::Curly && is_curly(c))
                {
                    quote = Quote::Outside;
                }
            }
            Quote::Outside => match c {
                '"' => quote = Quote::Ascii,
                c if is_curly(c) => quote = Quote::Curly,
                '{' => stack.push('}'),
                '[' => stack.push(']'),
                '}' | ']' => {
                    if stack.pop() != Some(c) {
                        return Scan::Mismatched(start + i);
                    }
                    if stack.is_empty() {
                        return Scan::Balanced(start + i + c.len_utf8());
                    }
                }
                _ => {}
            },
        }
    }
    Scan::Unclosed
}

fn parse_candidate(cand: &str) -> Result<Value> {
    match serde_json::from_str::<Value>(cand) {
        Ok(v) => Ok(v),
        Err(e) => serde_json::from_str::<Value>(&repair_slips(cand))
            .map_err(|_| ParseError::InvalidJson(e.to_string())),
    }
}

/// Turns curly quotes that delimit strings into `"` (escaping any `"` inside
/// such a string) and drops commas that directly precede `}` or `]`. Curly
/// quotes inside ordinary `"…"` strings are left alone.
fn repair_slips(cand: &str) -> String {
    let mut out = String::with_capacity(cand.len());
    let mut quote = Quote::Outside;
    let mut escaped = false;
    let mut chars = cand.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Quote::Ascii => {
                out.push(c);
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    quote = Quote::Outside;
                }
            }
            Quote::Curly => {
                if escaped {
                    out.push(c);
                    escaped = false;
                } else if c == '\\' {
                    out.push(c);
                    escaped = true;
                } else if is_curly(c) {
                    out.push('"');
                    quote = Quote::Outside;
                } else if c == '"' {
                    out.push_str("\\\"");
                } else {
                    out.push(c);
                }
            }
            Quote::Outside => {
                if c == '"' {
                    quote = Quote::Ascii;
                    out.push(c);
                } else if is_curly(c) {
                    quote = Quote::Curly;
                    out.push('"');
                } else if c == ',' {
                    // Look past whitespace: drop the comma if a closer follows.
                    let next = chars.clone().find(|c| !c.is_whitespace());
                    if !matches!(next, Some('}' | ']')) {
                        out.push(',');
                    }
                } else {
                    out.push(c);
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Shape helpers

/// Normalises a key for matching: ASCII lower case, `-` and spaces as `_`.
fn norm_key(k: &str) -> String {
    k.trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// A short description of a JSON value for error messages.
fn describe(v: &Value) -> String {
    fn cut(s: &str) -> String {
        const MAX: usize = 40;
        let mut t: String = s.chars().take(MAX).collect();
        if s.chars().count() > MAX {
            t.push('…');
        }
        t
    }
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {}", cut(&n.to_string())),
        Value::String(s) => format!("the string {:?}", cut(s)),
        Value::Array(a) => format!("a list of {} items", a.len()),
        Value::Object(m) => {
            let keys: Vec<&str> = m.keys().map(String::as_str).take(5).collect();
            format!("an object with keys {}", cut(&keys.join(", ")))
        }
    }
}

fn bad(at: &str, expected: &'static str, found: &Value) -> ParseError {
    ParseError::BadValue {
        at: at.to_string(),
        expected,
        found: describe(found),
    }
}

fn as_object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| bad(at, "an object", v))
}

fn path(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// The value of `key` (given in normal form) in `obj`: the exact key if
/// present, else the one key equal to it after [`norm_key`].
fn field<'a>(obj: &'a Map<String, Value>, key: &'static str, at: &str) -> Result<&'a Value> {
    if let Some(v) = obj.get(key) {
        return Ok(v);
    }
    let mut hits = obj
        .iter()
        .filter(|(k, _)| norm_key(k) == key)
        .map(|(_, v)| v);
    match (hits.next(), hits.next()) {
        (Some(v), None) => Ok(v),
        (None, _) => Err(ParseError::MissingKey {
            at: at.to_string(),
            key,
        }),
        (Some(a), Some(b)) if a == b && hits.all(|c| c == a) => Ok(a),
        _ => Err(ParseError::AmbiguousKey {
            at: at.to_string(),
            key,
        }),
    }
}

/// The list under `key`, or the reply itself when it is a bare list.
fn list<'a>(v: &'a Value, key: &'static str) -> Result<&'a Vec<Value>> {
    let inner = match v {
        Value::Array(a) => return Ok(a),
        Value::Object(m) => field(m, key, "")?,
        other => return Err(bad("", "an object", other)),
    };
    inner.as_array().ok_or_else(|| bad(key, "a list", inner))
}

/// A word-like string normalised for matching: trimmed, ASCII lower case,
/// surrounding quotes, asterisks and final punctuation removed, `_` and `-`
/// as spaces, runs of spaces collapsed.
fn norm_word(s: &str) -> String {
    let t = s
        .trim()
        .trim_matches(|c: char| {
            matches!(
                c,
                '"' | '\'' | '*' | '`' | '\u{201c}' | '\u{201d}' | '.' | '!' | ','
            )
        })
        .to_ascii_lowercase()
        .replace(['_', '-'], " ");
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn yes_no_value(v: &Value, at: &str) -> Result<bool> {
    const EXPECTED: &str = "\"yes\" or \"no\"";
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match norm_word(s).as_str() {
            "yes" | "true" => Ok(true),
            "no" | "false" => Ok(false),
            _ => Err(bad(at, EXPECTED, v)),
        },
        _ => Err(bad(at, EXPECTED, v)),
    }
}

/// An integer given as a JSON integer, an integral float (`4.0`) or a string
/// of one (`"4"`).
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                    .map(|f| f as i64)
            })
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Typed parsers

/// Atomic facts (`atomic_facts@1`): `{"facts": [string]}`, or a bare list of
/// strings. Facts are trimmed; blank entries are left out (they state
/// nothing). An empty list is valid: the text makes no claim.
///
/// # Errors
///
/// No JSON, no `facts` list, or an entry that is not a string.
pub fn parse_facts(reply: &str) -> Result<Vec<String>> {
    let v = extract_json(reply)?;
    let items = list(&v, "facts")?;
    let mut facts = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) => {
                let s = s.trim();
                if !s.is_empty() {
                    facts.push(s.to_string());
                }
            }
            other => return Err(bad(&format!("facts[{i}]"), "a string", other)),
        }
    }
    Ok(facts)
}

/// The entries of one list of a `fact_checks@1` reply: exactly one object
/// `{"id": i, "<key>": "yes" | "no", …}` for each id `1..=n_facts`, in any
/// order, each with every key in `keys`. Ids may be integers or numeric
/// strings; answers are matched case-insensitively and may be booleans;
/// other keys are ignored. Returns, for each key, the answers in fact order.
fn fact_entries(
    items: &[Value],
    list: &'static str,
    n_facts: usize,
    keys: &[&'static str],
) -> Result<Vec<Vec<bool>>> {
    let mut answers: Vec<Option<Vec<bool>>> = vec![None; n_facts];
    let mut duplicate = Vec::new();
    let mut out_of_range = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{list}[{i}]");
        let obj = as_object(item, &at)?;
        let id_v = field(obj, "id", &at)?;
        let id = integer(id_v).ok_or_else(|| bad(&path(&at, "id"), "an integer fact id", id_v))?;
        let mut row = Vec::with_capacity(keys.len());
        for key in keys {
            row.push(yes_no_value(field(obj, key, &at)?, &path(&at, key))?);
        }
        match usize::try_from(id) {
            Ok(k) if (1..=n_facts).contains(&k) => {
                if answers[k - 1].is_some() {
                    duplicate.push(k as u64);
                } else {
                    answers[k - 1] = Some(row);
                }
            }
            _ => out_of_range.push(id),
        }
    }
    let missing: Vec<u64> = (1..=n_facts as u64)
        .filter(|k| answers[(*k - 1) as usize].is_none())
        .collect();
    if !missing.is_empty() || !duplicate.is_empty() || !out_of_range.is_empty() {
        duplicate.sort_unstable();
        duplicate.dedup();
        out_of_range.sort_unstable();
        out_of_range.dedup();
        return Err(ParseError::Checks {
            list,
            n_facts,
            missing,
            duplicate,
            out_of_range,
        });
    }
    let rows: Vec<Vec<bool>> = answers.into_iter().flatten().collect();
    Ok((0..keys.len())
        .map(|j| rows.iter().map(|r| r[j]).collect())
        .collect())
}

/// The reply of `fact_checks@1`, in fact order (`true` = yes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactCheckVerdict {
    /// For every check kind asked, in the order asked: one answer per
    /// response fact.
    pub checks: Vec<(CheckKind, Vec<bool>)>,
    /// One answer per source fact ("covered"); empty when not asked.
    pub coverage: Vec<bool>,
}

/// The reply of `fact_checks@1`: `{"response_facts": [{"id": i, "<kind
/// key>": "yes" | "no", …}], "source_facts": [{"id": j, "covered": "yes" |
/// "no"}]}`.
///
/// `response_facts` is required when `kinds` is not empty and
/// `n_response_facts > 0`: exactly one entry for each id
/// `1..=n_response_facts`, each with an answer for every kind asked
/// ([`CheckKind::key`]). `source_facts` is required when `n_source_facts >
/// 0`, likewise with `covered`. A list that was not asked is ignored, as
/// are unknown keys.
///
/// # Errors
///
/// No JSON, a missing list, a wrong shape or answer, or ids that are
/// missing, repeated or out of range ([`ParseError::Checks`] lists them all).
pub fn parse_fact_checks(
    reply: &str,
    n_response_facts: usize,
    kinds: &[CheckKind],
    n_source_facts: usize,
) -> Result<FactCheckVerdict> {
    let v = extract_json(reply)?;
    let obj = as_object(&v, "")?;
    let mut out = FactCheckVerdict {
        checks: Vec::new(),
        coverage: Vec::new(),
    };
    if !kinds.is_empty() && n_response_facts > 0 {
        let list_v = field(obj, "response_facts", "")?;
        let items = list_v
            .as_array()
            .ok_or_else(|| bad("response_facts", "a list", list_v))?;
        let keys: Vec<&'static str> = kinds.iter().map(|k| k.key()).collect();
        let answers = fact_entries(items, "response_facts", n_response_facts, &keys)?;
        out.checks = kinds.iter().copied().zip(answers).collect();
    }
    if n_source_facts > 0 {
        let list_v = field(obj, "source_facts", "")?;
        let items = list_v
            .as_array()
            .ok_or_else(|| bad("source_facts", "a list", list_v))?;
        let mut answers = fact_entries(items, "source_facts", n_source_facts, &["covered"])?;
        out.coverage = answers.pop().unwrap_or_default();
    }
    Ok(out)
}

/// The three-way label of intent and formality alignment (METHOD.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlignmentLabel {
    Aligned,
    Partially,
    NotAligned,
}

impl AlignmentLabel {
    /// The factor value: aligned 2 > partially 1 > not aligned 0.
    pub fn value(self) -> u8 {
        match self {
            AlignmentLabel::Aligned => 2,
            AlignmentLabel::Partially => 1,
            AlignmentLabel::NotAligned => 0,
        }
    }

    /// The label as the templates ask for it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlignmentLabel::Aligned => "aligned",
            AlignmentLabel::Partially => "partially",
            AlignmentLabel::NotAligned => "not_aligned",
        }
    }
}

fn alignment_value(v: &Value, at: &str) -> Result<AlignmentLabel> {
    const EXPECTED: &str = "\"aligned\", \"partially\" or \"not_aligned\"";
    let Value::String(s) = v else {
        return Err(bad(at, EXPECTED, v));
    };
    match norm_word(s).as_str() {
        "aligned" | "fully aligned" => Ok(AlignmentLabel::Aligned),
        "partially" | "partially aligned" | "partial" | "partly" | "partly aligned" => {
            Ok(AlignmentLabel::Partially)
        }
        "not aligned" | "notaligned" | "unaligned" | "misaligned" => Ok(AlignmentLabel::NotAligned),
        _ => Err(bad(at, EXPECTED, v)),
    }
}

/// A text's formality as rated by `response_judgements@1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Formality {
    Formal,
    Neutral,
    Informal,
}

/// The formality part of a `response_judgements@1` reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormalityVerdict {
    /// The formality of the context (the source, else the request).
    pub post: Formality,
    pub response: Formality,
    pub label: AlignmentLabel,
}

fn formality_value(v: &Value, at: &str) -> Result<Formality> {
    const EXPECTED: &str = "\"formal\", \"neutral\" or \"informal\"";
    let Value::String(s) = v else {
        return Err(bad(at, EXPECTED, v));
    };
    match norm_word(s).as_str() {
        "formal" | "very formal" => Ok(Formality::Formal),
        "neutral" | "semi formal" | "semiformal" => Ok(Formality::Neutral),
        "informal" | "very informal" | "casual" => Ok(Formality::Informal),
        _ => Err(bad(at, EXPECTED, v)),
    }
}

/// The parsed reply of `response_judgements@1`: one field per part asked
/// (`None` for the parts not asked).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JudgementVerdict {
    pub intent: Option<AlignmentLabel>,
    pub formality: Option<FormalityVerdict>,
    pub receptiveness: Option<bool>,
    /// 1..=5.
    pub fluency: Option<u8>,
    /// 1..=5.
    pub coherence: Option<u8>,
}

/// A rating from 1 to 5: an integer, also as a string (`"4"`) or an
/// integral float (`4.0`).
fn rating_value(v: &Value, at: &str) -> Result<u8> {
    match integer(v) {
        Some(k @ 1..=5) => Ok(k as u8),
        _ => Err(bad(at, "an integer from 1 to 5", v)),
    }
}

/// The reply of `response_judgements@1` for the given parts: one JSON
/// object with the keys of every part asked ([`JudgementPart::keys`]).
/// Labels accept `aligned`, `partially`, `not_aligned` and obvious variants
/// (`Partially aligned`, `not aligned`, `NOT-ALIGNED`); formality `formal`,
/// `neutral`, `informal` (also `casual`, `semi-formal`); yes/no any case or
/// a boolean; ratings integers 1..=5, also as strings or integral floats.
/// Keys of parts not asked, and unknown keys, are ignored.
///
/// # Errors
///
/// No JSON, a key of an asked part missing, or an unaccepted value.
pub fn parse_judgements(reply: &str, parts: &[JudgementPart]) -> Result<JudgementVerdict> {
    let v = extract_json(reply)?;
    let obj = as_object(&v, "")?;
    let mut out = JudgementVerdict::default();
    for &p in parts {
        match p {
            JudgementPart::Intent | JudgementPart::IntentSummary => {
                out.intent = Some(alignment_value(
                    field(obj, "intent_alignment", "")?,
                    "intent_alignment",
                )?);
            }
            JudgementPart::Formality => {
                out.formality = Some(FormalityVerdict {
                    post: formality_value(
                        field(obj, "context_formality", "")?,
                        "context_formality",
                    )?,
                    response: formality_value(
                        field(obj, "response_formality", "")?,
                        "response_formality",
                    )?,
                    label: alignment_value(
                        field(obj, "formality_alignment", "")?,
                        "formality_alignment",
                    )?,
                });
            }
            JudgementPart::Receptiveness => {
                out.receptiveness = Some(yes_no_value(
                    field(obj, "receptiveness", "")?,
                    "receptiveness",
                )?);
            }
            JudgementPart::Fluency => {
                out.fluency = Some(rating_value(field(obj, "fluency", "")?, "fluency")?);
            }
            JudgementPart::Coherence => {
                out.coherence = Some(rating_value(field(obj, "coherence", "")?, "coherence")?);
            }
        }
    }
    Ok(out)
}

/// A 1–5 rating reply (`custom_rating@1`): one bare digit from 1 to 5
/// (with quotes, `**` or a full stop around it), or `{"rating": n}` /
/// `{"answer": n}` (an integer, also as a string).
///
/// # Errors
///
/// [`ParseError::Empty`]; a reply that is neither JSON nor a bare digit
/// 1–5; JSON without `rating` or `answer`, or with another value.
pub fn parse_rating(reply: &str) -> Result<u8> {
    match extract_json(reply) {
        Ok(v) => {
            let obj = as_object(&v, "")?;
            let x = field(obj, "rating", "").or_else(|_| field(obj, "answer", ""))?;
            rating_value(x, "rating")
        }
        Err(ParseError::NoJson) => {
            let bare = reply.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
            match norm_word(bare).as_str() {
                w @ ("1" | "2" | "3" | "4" | "5") => Ok(w.as_bytes()[0] - b'0'),
                _ => Err(ParseError::BadValue {
                    at: String::new(),
                    expected: "one digit from 1 to 5, or {\"rating\": 1..5}",
                    found: describe(&Value::String(bare.to_string())),
                }),
            }
        }
        Err(e) => Err(e),
    }
}

/// A yes/no reply: the bare word `yes` or `no` (`fluency@1`,
/// `coherence@1`; any case, with quotes, `**` or a full stop around it), or
/// `{"answer": "yes" | "no"}` (any case, or a boolean).
///
/// # Errors
///
/// [`ParseError::Empty`]; a reply that is neither JSON nor a bare yes/no;
/// JSON without `answer`, or with another answer.
pub fn parse_yes_no(reply: &str) -> Result<bool> {
    match extract_json(reply) {
        Ok(v) => {
            let obj = as_object(&v, "")?;
            yes_no_value(field(obj, "answer", "")?, "answer")
        }
        Err(ParseError::NoJson) => {
            let bare = reply.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
            match norm_word(bare).as_str() {
                "yes" => Ok(true),
                "no" => Ok(false),
                _ => Err(ParseError::BadValue {
                    at: String::new(),
                    expected: "the word yes or no, or {\"answer\": \"yes\" | \"no\"}",
                    found: describe(&Value::String(bare.to_string())),
                }),
            }
        }
        Err(e) => Err(e),
    }
}

/// The reply of `fluency_coherence@1`: exactly two bare words, each `yes` or
/// `no` (any case), the first answering question 1 and the second question
/// 2. Separators between and around them may be spaces, line breaks,
/// commas, semicolons or full stops; quotes and `**` around a word are
/// removed.
///
/// # Errors
///
/// [`ParseError::Empty`], or anything other than two yes/no words.
pub fn parse_two_yes_no(reply: &str) -> Result<[bool; 2]> {
    let bare = reply.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if bare.is_empty() {
        return Err(ParseError::Empty);
    }
    let words: Vec<String> = bare
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '.' | '/'))
        .map(norm_word)
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [a, b] => match (a.as_str(), b.as_str()) {
            ("yes" | "no", "yes" | "no") => Ok([a == "yes", b == "yes"]),
            _ => Err(two_words_error(bare)),
        },
        _ => Err(two_words_error(bare)),
    }
}

fn two_words_error(bare: &str) -> ParseError {
    ParseError::BadValue {
        at: String::new(),
        expected:
            "two words, each yes or no (the first answering question 1, the second question 2)",
        found: describe(&Value::String(bare.to_string())),
    }
}

/// A 1–5 rating mapped linearly onto [0, 1]: 1 → 0, 3 → 0.5, 5 → 1
/// (METHOD.md §6, the fallback when no log-probabilities are available).
pub fn rating_to_unit(rating: u8) -> f64 {
    (f64::from(rating.clamp(1, 5)) - 1.0) / 4.0
}

/// The judge's choice between the two responses it was shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Better {
    /// Response 1, the first shown.
    First,
    /// Response 2, the second shown.
    Second,
    Tie,
}

impl Better {
    /// The preference over the dataset pair's responses A and B, given which
    /// of them was shown as Response 1.
    pub fn preference(self, response_1_is_a: bool) -> Preference {
        let p = match self {
            Better::First => Preference::A,
            Better::Second => Preference::B,
            Better::Tie => Preference::Tie,
        };
        if response_1_is_a {
            p
        } else {
            p.flipped()
        }
    }
}

/// The reply of `judge_*@1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JudgeVerdict {
    pub better: Better,
    /// The judge's reason, trimmed (may be empty if the judge sent `""`).
    pub justification: String,
}

/// The reply of `judge_*@1`: `better` is `"1"`, `"2"` or `"tie"`, also the
/// numbers 1 and 2, `"Response 1"`, `"response_2"`, `"TIE"`; `justification`
/// is a string.
///
/// # Errors
///
/// No JSON, `better` or `justification` missing, or an unaccepted choice.
pub fn parse_judge(reply: &str) -> Result<JudgeVerdict> {
    const EXPECTED: &str = "\"1\", \"2\" or \"tie\"";
    let v = extract_json(reply)?;
    let obj = as_object(&v, "")?;
    let b = field(obj, "better", "")?;
    let better = match integer(b) {
        Some(1) => Better::First,
        Some(2) => Better::Second,
        Some(_) => return Err(bad("better", EXPECTED, b)),
        None => {
            let Value::String(s) = b else {
                return Err(bad("better", EXPECTED, b));
            };
            match norm_word(s).as_str() {
                "response 1" | "response1" | "first" => Better::First,
                "response 2" | "response2" | "second" => Better::Second,
                "tie" | "a tie" | "draw" => Better::Tie,
                _ => return Err(bad("better", EXPECTED, b)),
            }
        }
    };
    let j = field(obj, "justification", "")?;
    let justification = j
        .as_str()
        .ok_or_else(|| bad("justification", "a string", j))?
        .trim()
        .to_string();
    Ok(JudgeVerdict {
        better,
        justification,
    })
}

/// The improvement experiment's two first responses (`improve_draft@1`):
/// `{"responses": ["…", "…"]}` (or the bare list), exactly two non-empty
/// texts (trimmed).
///
/// # Errors
///
/// A reply without such a list, another number of texts, or an empty one.
pub fn parse_drafts(reply: &str) -> Result<[String; 2]> {
    let v = extract_json(reply)?;
    let items = list(&v, "responses")?;
    let mut texts = Vec::with_capacity(2);
    for (i, item) in items.iter().enumerate() {
        let at = format!("responses[{i}]");
        let text = item.as_str().ok_or_else(|| bad(&at, "a string", item))?;
        if text.trim().is_empty() {
            return Err(ParseError::Generation(format!(
                "response {} is empty",
                i + 1
            )));
        }
        texts.push(text.trim().to_owned());
    }
    match <[String; 2]>::try_from(texts) {
        Ok(t) => Ok(t),
        Err(t) => Err(ParseError::Generation(format!(
            "{} responses instead of 2",
            t.len()
        ))),
    }
}

/// The improvement experiment's improved response (`improve@1`):
/// `{"response": "…"}`, a non-empty text (trimmed).
///
/// # Errors
///
/// A reply without that key, a value that is not a string, or an empty text.
pub fn parse_improved(reply: &str) -> Result<String> {
    let v = extract_json(reply)?;
    let obj = as_object(&v, "")?;
    let r = field(obj, "response", "")?;
    let text = r.as_str().ok_or_else(|| bad("response", "a string", r))?;
    if text.trim().is_empty() {
        return Err(ParseError::Generation(
            "the improved response is empty".into(),
        ));
    }
    Ok(text.trim().to_owned())
}

/// The reply of `generate_*@1`: the five responses in score order (element
/// `k - 1` was written for score `k`).
///
/// Accepts `{"responses": [{"score": k, "text": "…"}, …]}` (or the bare list;
/// scores may be numeric strings) and, when that fails, a plain-text reply in
/// sections headed `SCORE 1` … `SCORE 5` (any case, optionally with `#`, `**`
/// or a colon around the header; text before the first header is ignored).
/// Either way there must be exactly the scores 1..=5, each once, each with a
/// non-empty text (trimmed).
///
/// # Errors
///
/// The JSON error, unless the reply has `SCORE k` headers, in which case the
/// sections' error.
pub fn parse_generation(reply: &str) -> Result<[String; 5]> {
    let json_err = match extract_json(reply).and_then(|v| generation_from_json(&v)) {
        Ok(texts) => return Ok(texts),
        Err(e) => e,
    };
    match score_sections(reply) {
        Some(sections) => check_generation(sections),
        None => Err(json_err),
    }
}

fn generation_from_json(v: &Value) -> Result<[String; 5]> {
    let items = list(v, "responses")?;
    let mut entries = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("responses[{i}]");
        let obj = as_object(item, &at)?;
        let s = field(obj, "score", &at)?;
        let score = integer(s).ok_or_else(|| bad(&path(&at, "score"), "an integer score", s))?;
        let t = field(obj, "text", &at)?;
        let text = t
            .as_str()
            .ok_or_else(|| bad(&path(&at, "text"), "a string", t))?;
        entries.push((score, text.to_string()));
    }
    check_generation(entries)
}

/// Checks that `entries` hold the scores 1..=5 once each with non-empty texts.
fn check_generation(entries: Vec<(i64, String)>) -> Result<[String; 5]> {
    let mut texts: [Option<String>; 5] = Default::default();
    for (score, text) in entries {
        let text = text.trim();
        let Some(slot) = usize::try_from(score)
            .ok()
            .filter(|k| (1..=5).contains(k))
            .map(|k| &mut texts[k - 1])
        else {
            return Err(ParseError::Generation(format!(
                "score {score} is not one of 1 to 5"
            )));
        };
        if slot.is_some() {
            return Err(ParseError::Generation(format!(
                "score {score} appears more than once"
            )));
        }
        if text.is_empty() {
            return Err(ParseError::Generation(format!(
                "the response for score {score} is empty"
            )));
        }
        *slot = Some(text.to_string());
    }
    let missing: Vec<usize> = (1..=5).filter(|k| texts[k - 1].is_none()).collect();
    if !missing.is_empty() {
        return Err(ParseError::Generation(format!(
            "expected one response for each score 1 to 5; missing scores {}",
            join(&missing)
        )));
    }
    Ok(texts.map(|t| t.unwrap_or_default()))
}

/// Splits a plain-text reply into `(score, text)` sections at lines headed
/// `SCORE k`; `None` if there is no such line.
fn score_sections(reply: &str) -> Option<Vec<(i64, String)>> {
    let mut sections: Vec<(i64, String)> = Vec::new();
    for line in reply.trim_start_matches('\u{feff}').lines() {
        if let Some((score, rest)) = score_header(line) {
            sections.push((score, rest.to_string()));
        } else if let Some((_, text)) = sections.last_mut() {
            text.push('\n');
            text.push_str(line);
        }
    }
    (!sections.is_empty()).then_some(sections)
}

/// `SCORE k` at the start of a line (after `#`, `*`, spaces), with `k` one
/// digit, then optional `**`, `:`, `.`, `)`, `-`, `–`, `—`; returns `k` and
/// the rest of the line.
fn score_header(line: &str) -> Option<(i64, &str)> {
    let t = line.trim_start_matches(|c: char| c == '#' || c == '*' || c.is_whitespace());
    let head = t.get(..5)?;
    if !head.eq_ignore_ascii_case("score") {
        return None;
    }
    let t = t[5..].trim_start_matches([' ', ':', '=', '#']);
    let mut chars = t.chars();
    let d = chars.next()?.to_digit(10)?;
    let rest = chars.as_str();
    // `Score 10`, `score 3/5` and `Score 4.5` are not headers.
    let mut after = rest.chars();
    match (after.next(), after.next()) {
        (Some(c), _) if c.is_ascii_digit() || c == '/' => return None,
        (Some('.'), Some(c)) if c.is_ascii_digit() => return None,
        _ => {}
    }
    let rest = rest.trim_start_matches(|c: char| {
        matches!(c, '*' | ':' | '.' | ')' | '-' | '–' | '—') || c.is_whitespace()
    });
    Some((i64::from(d), rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extract_json_tolerates_wrappers() {
        let want = json!({"facts": ["a", "b"]});
        for reply in [
            r#"{"facts": ["a", "b"]}"#,
            "\u{feff}  {\"facts\": [\"a\", \"b\"]}\n",
            "```json\n{\"facts\": [\"a\", \"b\"]}\n```",
            "Here you go:\n```\n{\"facts\": [\"a\", \"b\"]}\n```\nHope this helps {:}",
            "Sure [note]: {\"facts\": [\"a\", \"b\",],}",
            "{\u{201c}facts\u{201d}: [\u{201c}a\u{201d}, \"b\"]}",
        ] {
            assert_eq!(extract_json(reply).unwrap(), want, "{reply}");
        }
    }

    #[test]
    fn extract_json_respects_strings_and_escapes() {
        let reply = r#"Result: {"facts": ["uses } and ] and \" quotes,]", "x {y}"]} trailing }"#;
        assert_eq!(
            extract_json(reply).unwrap(),
            json!({"facts": ["uses } and ] and \" quotes,]", "x {y}"]})
        );
        // A comma before a closer inside a string is kept.
        assert_eq!(
            extract_json(r#"{"a": "x, }", "b": [1,],}"#).unwrap(),
            json!({"a": "x, }", "b": [1]})
        );
        // Curly quotes inside ordinary strings are kept.
        assert_eq!(
            extract_json("{\"a\": \"she said \u{201c}hi\u{201d}\",}").unwrap(),
            json!({"a": "she said \u{201c}hi\u{201d}"})
        );
    }

    #[test]
    fn extract_json_errors_are_specific() {
        assert_eq!(extract_json(" \u{feff} "), Err(ParseError::Empty));
        assert_eq!(extract_json("\u{feff}"), Err(ParseError::Empty));
        assert_eq!(extract_json("just yes"), Err(ParseError::NoJson));
        assert_eq!(extract_json("\"yes\""), Err(ParseError::NoJson));
        assert_eq!(
            extract_json("{\"facts\": [\"a\", \"b"),
            Err(ParseError::Unclosed)
        );
        assert!(matches!(
            extract_json("{facts: [a]}"),
            Err(ParseError::InvalidJson(_))
        ));
        // Never descends into a broken object to return a fragment of it.
        assert!(matches!(
            extract_json("{\"facts\": [\"a\"] \"x\"}"),
            Err(ParseError::InvalidJson(_))
        ));
        // Mismatched brackets are not balanced.
        assert!(matches!(
            extract_json("{ ] "),
            Err(ParseError::InvalidJson(ref m)) if m.contains("different one")
        ));
    }

    #[test]
    fn keys_match_ignoring_case_and_separators() {
        assert_eq!(parse_facts(r#"{"FACTS": ["a"]}"#).unwrap(), ["a"]);
        assert_eq!(
            parse_facts(r#"{"Facts": ["a"], "note": 1}"#).unwrap(),
            ["a"]
        );
        let f = parse_judgements(
            r#"{"Context Formality": "Formal", "response-formality": "casual", "Formality_Alignment": "Not Aligned"}"#,
            &[JudgementPart::Formality],
        )
        .unwrap();
        assert_eq!(
            f.formality.unwrap(),
            FormalityVerdict {
                post: Formality::Formal,
                response: Formality::Informal,
                label: AlignmentLabel::NotAligned
            }
        );
        assert!(matches!(
            parse_facts(r#"{"facts": ["a"], "Facts": ["b"]}"#),
            Ok(v) if v == ["a"]
        ));
        assert!(matches!(
            parse_facts(r#"{"FACTS": ["a"], "Facts": ["b"]}"#),
            Err(ParseError::AmbiguousKey { .. })
        ));
    }

    #[test]
    fn facts_shapes() {
        assert_eq!(
            parse_facts(r#"{"facts": []}"#).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(parse_facts(r#"[" a ", "", "b"]"#).unwrap(), ["a", "b"]);
        assert!(matches!(
            parse_facts(r#"{"facts": "a. b."}"#),
            Err(ParseError::BadValue { .. })
        ));
        assert!(matches!(
            parse_facts(r#"{"facts": ["a", 3]}"#),
            Err(ParseError::BadValue { ref at, .. }) if at == "facts[1]"
        ));
        assert!(matches!(
            parse_facts(r#"{"claims": ["a"]}"#),
            Err(ParseError::MissingKey { key: "facts", .. })
        ));
    }

    const TWO_KINDS: [CheckKind; 2] = [CheckKind::Supported, CheckKind::MainFocus];

    #[test]
    fn fact_checks_exactly_one_entry_per_fact() {
        let ok = r#"{"response_facts": [
            {"id": 2, "supported": "No", "main_focus": "yes"},
            {"id": "1", "supported": "YES.", "main_focus": false},
            {"id": 3, "supported": true, "main_focus": "no", "note": "x"}],
          "source_facts": [{"id": 1, "covered": "no"}, {"id": 2, "covered": "yes"}]}"#;
        let v = parse_fact_checks(ok, 3, &TWO_KINDS, 2).unwrap();
        assert_eq!(
            v.checks,
            vec![
                (CheckKind::Supported, vec![true, false, true]),
                (CheckKind::MainFocus, vec![false, true, false])
            ]
        );
        assert_eq!(v.coverage, [false, true]);
        // Parts not asked are not required, and ignored when present.
        let only_cov = parse_fact_checks(ok, 0, &TWO_KINDS, 2).unwrap();
        assert!(only_cov.checks.is_empty());
        assert_eq!(
            parse_fact_checks(
                r#"{"source_facts": [{"id": 1, "covered": "yes"}]}"#,
                3,
                &[],
                1
            )
            .unwrap()
            .coverage,
            [true]
        );
        assert!(matches!(
            parse_fact_checks(r#"{"source_facts": []}"#, 3, &TWO_KINDS, 0),
            Err(ParseError::MissingKey {
                key: "response_facts",
                ..
            })
        ));
        let e = parse_fact_checks(
            r#"{"response_facts": [{"id": 1, "supported": "yes", "main_focus": "yes"}, {"id": 1, "supported": "yes", "main_focus": "yes"}, {"id": 4, "supported": "no", "main_focus": "no"}]}"#,
            3,
            &TWO_KINDS,
            0,
        )
        .unwrap_err();
        assert_eq!(
            e,
            ParseError::Checks {
                list: "response_facts",
                n_facts: 3,
                missing: vec![2, 3],
                duplicate: vec![1],
                out_of_range: vec![4]
            }
        );
        assert_eq!(
            e.to_string(),
            "`response_facts`: expected exactly one entry for each fact id 1..=3; missing ids 2, 3; repeated ids 1; ids that do not exist 4"
        );
        // Every asked kind must be answered for every fact.
        assert!(matches!(
            parse_fact_checks(r#"{"response_facts": [{"id": 1, "supported": "yes"}]}"#, 1, &TWO_KINDS, 0),
            Err(ParseError::MissingKey { key: "main_focus", ref at }) if at == "response_facts[0]"
        ));
        assert!(matches!(
            parse_fact_checks(r#"{"source_facts": [{"id": 1, "covered": "maybe"}]}"#, 0, &[], 1),
            Err(ParseError::BadValue { ref at, .. }) if at == "source_facts[0].covered"
        ));
        assert!(matches!(
            parse_fact_checks(
                r#"{"source_facts": [{"id": 1.5, "covered": "no"}]}"#,
                0,
                &[],
                1
            ),
            Err(ParseError::BadValue { .. })
        ));
        assert!(matches!(
            parse_fact_checks(r#"{"source_facts": {"1": "yes"}}"#, 0, &[], 1),
            Err(ParseError::BadValue { .. })
        ));
        assert!(matches!(
            parse_fact_checks(r#"{"source_facts": [{"id": 1, "covered": "yes"}]}"#, 0, &[], 2),
            Err(ParseError::Checks { list: "source_facts", ref missing, .. }) if missing == &[2]
        ));
    }

    #[test]
    fn labels_and_variants() {
        for (s, want) in [
            ("aligned", AlignmentLabel::Aligned),
            ("Fully aligned", AlignmentLabel::Aligned),
            ("partially", AlignmentLabel::Partially),
            ("Partially Aligned", AlignmentLabel::Partially),
            ("not_aligned", AlignmentLabel::NotAligned),
            ("NOT-ALIGNED", AlignmentLabel::NotAligned),
            ("not aligned.", AlignmentLabel::NotAligned),
        ] {
            let reply = format!(r#"{{"intent_alignment": "{s}"}}"#);
            let v = parse_judgements(&reply, &[JudgementPart::IntentSummary]).unwrap();
            assert_eq!(v.intent, Some(want), "{s}");
        }
        let intent = [JudgementPart::Intent];
        assert!(parse_judgements(r#"{"intent_alignment": "somewhat"}"#, &intent).is_err());
        assert!(parse_judgements(r#"{"intent_alignment": 2}"#, &intent).is_err());
        assert_eq!(AlignmentLabel::Partially.value(), 1);
        assert_eq!(AlignmentLabel::NotAligned.as_str(), "not_aligned");
    }

    #[test]
    fn judgements_of_the_parts_asked() {
        let all = r#"{"intent_alignment": "partially", "context_formality": "informal",
            "response_formality": "neutral", "formality_alignment": "aligned",
            "receptiveness": "No", "fluency": "4", "coherence": 2.0}"#;
        let v = parse_judgements(all, &JudgementPart::ALL).unwrap();
        assert_eq!(v.intent, Some(AlignmentLabel::Partially));
        assert_eq!(v.formality.unwrap().label, AlignmentLabel::Aligned);
        assert_eq!(v.formality.unwrap().post, Formality::Informal);
        assert_eq!(v.receptiveness, Some(false));
        assert_eq!((v.fluency, v.coherence), (Some(4), Some(2)));
        // Only the parts asked are read.
        let v = parse_judgements(all, &[JudgementPart::Fluency]).unwrap();
        assert_eq!(
            v,
            JudgementVerdict {
                fluency: Some(4),
                ..Default::default()
            }
        );
        assert!(matches!(
            parse_judgements(
                r#"{"fluency": 4}"#,
                &[JudgementPart::Fluency, JudgementPart::Coherence]
            ),
            Err(ParseError::MissingKey {
                key: "coherence",
                ..
            })
        ));
        for bad in [
            r#"{"fluency": 0}"#,
            r#"{"fluency": 6}"#,
            r#"{"fluency": 3.5}"#,
            r#"{"fluency": "four"}"#,
        ] {
            assert!(
                parse_judgements(bad, &[JudgementPart::Fluency]).is_err(),
                "{bad}"
            );
        }
        assert_eq!(rating_to_unit(1), 0.0);
        assert_eq!(rating_to_unit(3), 0.5);
        assert_eq!(rating_to_unit(5), 1.0);
    }

    #[test]
    fn yes_no_also_bare() {
        assert!(parse_yes_no(r#"{"answer": "Yes"}"#).unwrap());
        assert!(!parse_yes_no(r#"{"Answer": false}"#).unwrap());
        assert!(parse_yes_no("Yes.").unwrap());
        assert!(!parse_yes_no(" \"no\" ").unwrap());
        assert!(parse_yes_no("**YES**").unwrap());
        assert!(!parse_yes_no("\u{feff}no\n").unwrap());
        assert_eq!(
            parse_yes_no("I think so").unwrap_err().to_string(),
            "the reply: expected the word yes or no, or {\"answer\": \"yes\" | \"no\"}, found the string \"I think so\""
        );
        assert!(parse_yes_no("Yes, it is fluent.").is_err());
        assert_eq!(parse_yes_no("  "), Err(ParseError::Empty));
        assert!(parse_yes_no(r#"{"answer": "unsure"}"#).is_err());
        assert!(parse_yes_no(r#"["yes"]"#).is_err());
    }

    #[test]
    fn two_bare_words() {
        assert_eq!(parse_two_yes_no("yes no").unwrap(), [true, false]);
        assert_eq!(parse_two_yes_no(" No\nYES.").unwrap(), [false, true]);
        assert_eq!(parse_two_yes_no("\"yes\", \"yes\"").unwrap(), [true, true]);
        assert_eq!(parse_two_yes_no("**no**; no").unwrap(), [false, false]);
        assert_eq!(parse_two_yes_no(" "), Err(ParseError::Empty));
        for bad in [
            "yes",
            "yes no yes",
            "yes maybe",
            "1. yes 2. no",
            "Yes, it is.",
        ] {
            assert!(parse_two_yes_no(bad).is_err(), "{bad}");
        }
        assert!(parse_two_yes_no("yes")
            .unwrap_err()
            .to_string()
            .contains("two words, each yes or no"));
    }

    #[test]
    fn judge_choices() {
        for (b, want) in [
            (r#""1""#, Better::First),
            ("2", Better::Second),
            (r#""Response 1""#, Better::First),
            (r#""response_2""#, Better::Second),
            (r#""TIE""#, Better::Tie),
        ] {
            let reply = format!(r#"{{"better": {b}, "justification": " because "}}"#);
            let v = parse_judge(&reply).unwrap();
            assert_eq!(v.better, want, "{b}");
            assert_eq!(v.justification, "because");
        }
        assert!(parse_judge(r#"{"better": "3", "justification": ""}"#).is_err());
        assert!(parse_judge(r#"{"better": "both", "justification": ""}"#).is_err());
        assert!(matches!(
            parse_judge(r#"{"better": "1"}"#),
            Err(ParseError::MissingKey {
                key: "justification",
                ..
            })
        ));
        assert_eq!(Better::First.preference(true), Preference::A);
        assert_eq!(Better::First.preference(false), Preference::B);
        assert_eq!(Better::Tie.preference(false), Preference::Tie);
    }

    #[test]
    fn generation_json_and_sections() {
        let json_reply = r#"{"responses": [{"score": 5, "text": "e"}, {"score": 1, "text": "a"},
            {"score": "2", "text": "b"}, {"score": 3, "text": " c "}, {"score": 4, "text": "d"}]}"#;
        assert_eq!(
            parse_generation(json_reply).unwrap(),
            ["a", "b", "c", "d", "e"]
        );
        let sections = "Here are five.\n\nSCORE 1\nbad one\n\n## Score 2:\nline 1\nline 2\n**SCORE 3** - ok\nScore: 4\nfine\nSCORE 5)\nbest\n";
        assert_eq!(
            parse_generation(sections).unwrap(),
            ["bad one", "line 1\nline 2", "ok", "fine", "best"]
        );
        assert!(matches!(
            parse_generation("SCORE 1\na\nSCORE 2\nb\nSCORE 2\nc\nSCORE 4\nd\nSCORE 5\ne"),
            Err(ParseError::Generation(ref m)) if m.contains("score 2 appears more than once")
        ));
        assert!(matches!(
            parse_generation("SCORE 1\na\nSCORE 2\n\nSCORE 3\nc\nSCORE 4\nd\nSCORE 5\ne"),
            Err(ParseError::Generation(ref m)) if m.contains("score 2 is empty")
        ));
        assert!(matches!(
            parse_generation(r#"{"responses": [{"score": 1, "text": "a"}]}"#),
            Err(ParseError::Generation(ref m)) if m.contains("missing scores 2, 3, 4, 5")
        ));
        assert!(matches!(
            parse_generation(r#"{"responses": [{"score": 6, "text": "a"}]}"#),
            Err(ParseError::Generation(_))
        ));
        assert_eq!(
            parse_generation("no structure at all"),
            Err(ParseError::NoJson)
        );
        // The improvement writer: exactly two first responses, one improved.
        assert_eq!(
            parse_drafts(r#"{"responses": [" a ", "b"]}"#).unwrap(),
            ["a", "b"]
        );
        assert!(matches!(
            parse_drafts(r#"{"responses": ["a"]}"#),
            Err(ParseError::Generation(ref m)) if m.contains("1 responses instead of 2")
        ));
        assert!(matches!(
            parse_drafts(r#"{"responses": ["a", "  "]}"#),
            Err(ParseError::Generation(ref m)) if m.contains("response 2 is empty")
        ));
        assert!(parse_drafts(r#"{"responses": ["a", 3]}"#).is_err());
        assert_eq!(
            parse_improved(r#"{"response": "better"}"#).unwrap(),
            "better"
        );
        assert!(parse_improved(r#"{"response": ""}"#).is_err());
        assert!(parse_improved(r#"{"text": "x"}"#).is_err());
        assert_eq!(parse_improved("plain text"), Err(ParseError::NoJson));
        assert_eq!(score_header("Score 10: x"), None);
        assert_eq!(score_header("Scores are"), None);
        assert_eq!(score_header("score 3/5"), None);
    }

    #[test]
    fn errors_display_clearly() {
        let e = parse_judgements(
            r#"{"fluency": "excellent and more text than fits in a message"}"#,
            &[JudgementPart::Fluency],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`fluency`: expected an integer from 1 to 5, found the string \"excellent and more text than fits in a m…\""
        );
        assert_eq!(
            parse_judgements("{}", &[JudgementPart::Intent])
                .unwrap_err()
                .to_string(),
            "the reply: missing key `intent_alignment`"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(ParseError::NoJson);
        assert_eq!(
            boxed.to_string(),
            "no JSON object or array found in the reply"
        );
    }
}
