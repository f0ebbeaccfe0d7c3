//! Factor packs: your own factors, defined without code: rules, and
//! questions asked of a language model.
//!
//! A pack is a JSON object with a version and a list of factors:
//!
//! ```json
//! {"version": 1, "factors": [
//!   {"id": "words_re", "name": "words (regex)", "kind": "regex_count", "pattern": "\\w+"},
//!   {"id": "hedges", "name": "hedges", "kind": "word_list_count",
//!    "words": ["maybe", "perhaps", "might"], "stem": true,
//!    "description": "hedging words per response"},
//!   {"id": "digits_per_word", "name": "numbers per word", "kind": "regex_share", "pattern": "[0-9]+"}
//! ]}
//! ```
//!
//! Kinds (the value of a response; the factor sees the response only):
//!
//! * `regex_count`: the number of non-overlapping matches of `pattern`.
//! * `regex_share`: those matches per word (METHOD.md §5 words), 0 for a
//!   response without words.
//! * `word_list_count`: the number of the response's words (METHOD.md §5)
//!   that are in `words`, compared lower-cased and, with `"stem": true`,
//!   after Snowball English stemming of both sides.
//!
//! LLM kinds (a question about the response, asked by the `llm` engine;
//! the factor [`needs_model`](Factor::needs_model)):
//!
//! * `llm_yes_no`: `question` answered yes (1) or no (0); with
//!   log-probabilities P(yes).
//! * `llm_rating`: `question` answered with a rating from 1 to 5; with
//!   log-probabilities the expected rating.
//!
//! Both take `sees`: a list of `"request"` and/or `"source"`, the texts
//! shown beside the response (none by default). The question is plain text
//! of at most [`MAX_QUESTION_CHARS`] characters; it reaches the model only
//! as a delimited data block (`llm::prompts::custom_question`).
//!
//! Regexes use `regex-lite`: matching takes time linear in the text (no
//! backtracking blow-up), the compiled program is capped
//! ([`MAX_REGEX_SIZE`]), patterns are capped at [`MAX_PATTERN_BYTES`], and a
//! pattern that matches the empty string is refused (every position would
//! count). `regex-lite`'s classes `\w`, `\d`, `\s` are ASCII-only.
//!
//! [`FactorPack::parse`] checks everything and reports each problem with
//! its place (the factor's index and id, the field, the reason), never
//! panicking. [`register`] makes a checked pack's factors [`Factor`]s
//! (`Factor::Custom`), usable wherever a built-in factor is: a process-wide
//! append-only registry gives each distinct definition one id, so `Factor`
//! stays `Copy` and its id and name stay `&'static str`. Registering the
//! same definition again returns the same factors; an id defined again
//! with another definition names the newest one from then on.

use std::fmt;
use std::sync::RwLock;

use regex_lite::{Regex, RegexBuilder};
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::rules::{for_each_word, stem, word_count, words};
use super::Factor;

/// The pack format's version.
pub const PACK_VERSION: u32 = 1;
/// Bytes of a pack's JSON text at most.
pub const MAX_PACK_BYTES: usize = 4 << 20;
/// Factors in one pack at most.
pub const MAX_FACTORS: usize = 64;
/// Bytes of a regex pattern at most.
pub const MAX_PATTERN_BYTES: usize = 1024;
/// The compiled size of a regex at most (bytes, `regex-lite`'s size limit).
pub const MAX_REGEX_SIZE: usize = 256 << 10;
/// Nesting depth of a regex at most.
pub const MAX_REGEX_NEST: u32 = 32;
/// Words of a word list at most.
pub const MAX_WORDS: usize = 10_000;
/// Characters of an id, of a name and of a description at most.
pub const MAX_ID_CHARS: usize = 40;
pub const MAX_NAME_CHARS: usize = 80;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Custom factor definitions one process registers at most.
pub const MAX_REGISTERED: usize = 4096;
/// Characters of an LLM factor's question at most.
pub const MAX_QUESTION_CHARS: usize = 1000;

/// A checked factor pack, as the report records it. Deserialising one
/// checks it as [`FactorPack::parse`] does (a report's pack is as trusted
/// as a pack file: not at all) except for compiling its patterns (their
/// length is checked): a report reader that computes no factor, such as the
/// widget, then carries no regex engine, and [`register`] compiles them
/// with a located error before any is used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FactorPack {
    pub version: u32,
    pub factors: Vec<FactorDef>,
}

impl<'de> Deserialize<'de> for FactorPack {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        FactorPack::from_value_uncompiled(&v).map_err(|e| serde::de::Error::custom(describe(&e)))
    }
}

/// One custom factor of a pack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FactorDef {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(flatten)]
    pub rule: RuleDef,
}

/// How a custom factor's value is computed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleDef {
    /// Matches of `pattern` in the response.
    RegexCount { pattern: String },
    /// Matches of `pattern` per word of the response.
    RegexShare { pattern: String },
    /// Words of the response in `words` (lower-cased; stemmed with `stem`).
    WordListCount { words: Vec<String>, stem: bool },
    /// A yes/no question about the response, asked of a language model
    /// (`custom_yes_no@1`): yes 1, no 0, or P(yes) with log-probabilities.
    LlmYesNo { question: String, sees: Vec<Sees> },
    /// A 1–5 rating asked of a language model (`custom_rating@1`): the
    /// rating, or its expected value with log-probabilities.
    LlmRating { question: String, sees: Vec<Sees> },
}

/// A text an LLM factor's question is shown besides the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sees {
    /// The pair's input: the request or question the response answers.
    Request,
    /// The pair's source: the post, article or reference documents.
    Source,
}

impl Sees {
    pub fn name(self) -> &'static str {
        match self {
            Sees::Request => "request",
            Sees::Source => "source",
        }
    }
}

impl RuleDef {
    /// The kind as written in a pack.
    pub fn kind(&self) -> &'static str {
        match self {
            RuleDef::RegexCount { .. } => "regex_count",
            RuleDef::RegexShare { .. } => "regex_share",
            RuleDef::WordListCount { .. } => "word_list_count",
            RuleDef::LlmYesNo { .. } => "llm_yes_no",
            RuleDef::LlmRating { .. } => "llm_rating",
        }
    }

    /// The question of an LLM kind (`None` for a rule kind).
    pub fn llm(&self) -> Option<LlmQuestion<'_>> {
        match self {
            RuleDef::LlmYesNo { question, sees } => Some(LlmQuestion {
                rating: false,
                question,
                request: sees.contains(&Sees::Request),
                source: sees.contains(&Sees::Source),
            }),
            RuleDef::LlmRating { question, sees } => Some(LlmQuestion {
                rating: true,
                question,
                request: sees.contains(&Sees::Request),
                source: sees.contains(&Sees::Source),
            }),
            _ => None,
        }
    }

    /// What the value is, in words (the taxonomy's "value" column).
    pub fn value_text(&self) -> String {
        match self {
            RuleDef::RegexCount { pattern } => format!("number of matches of /{pattern}/"),
            RuleDef::RegexShare { pattern } => format!("matches of /{pattern}/ per word"),
            RuleDef::WordListCount { words, stem } => format!(
                "number of words in a list of {} ({})",
                words.len(),
                if *stem { "stemmed" } else { "lower-cased" }
            ),
            RuleDef::LlmYesNo { question, .. } => format!(
                "yes 1 > no 0 (P(yes) with log-probabilities), asked of a model: {question}"
            ),
            RuleDef::LlmRating { question, .. } => format!(
                "a rating 1–5 (its expected value with log-probabilities), asked of a model: {question}"
            ),
        }
    }
}

/// What an LLM factor asks: its question, whether it is a 1–5 rating (else
/// yes/no), and which texts it sees besides the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LlmQuestion<'a> {
    pub rating: bool,
    pub question: &'a str,
    pub request: bool,
    pub source: bool,
}

/// One problem of a pack, with its place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackError {
    /// The factor's index in `factors`, when the problem is in one.
    pub factor: Option<usize>,
    /// The factor's id, when it has a readable one.
    pub id: Option<String>,
    /// The field, when the problem is in one.
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut place = Vec::new();
        if let Some(i) = self.factor {
            match &self.id {
                Some(id) => place.push(format!("factor {i} (`{id}`)")),
                None => place.push(format!("factor {i}")),
            }
        }
        if let Some(field) = &self.field {
            place.push(format!("field `{field}`"));
        }
        if place.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", place.join(", "), self.reason)
        }
    }
}

/// All problems of a pack, one per line.
pub fn describe(errors: &[PackError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// A short, printable form of user text for an error message.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(40).flat_map(char::escape_debug).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

fn top(field: &str, reason: impl Into<String>) -> PackError {
    PackError {
        factor: None,
        id: None,
        field: Some(field.to_owned()),
        reason: reason.into(),
    }
}

/// Checks a display text: a name or a description is plain text.
fn check_text(s: &str, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if n > max {
        return Err(format!("{n} characters, at most {max}"));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(format!(
            "contains a control character ({c:?}); plain text only"
        ));
    }
    if s.contains('<') || s.contains('>') {
        return Err("contains `<` or `>`: markup is not allowed, plain text only".into());
    }
    Ok(())
}

fn check_id(id: &str) -> Result<(), String> {
    let n = id.chars().count();
    if n == 0 || n > MAX_ID_CHARS {
        return Err(format!("must have 1 to {MAX_ID_CHARS} characters"));
    }
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "`{}` is not an id: use a lower-case letter, then lower-case letters, digits or `_`",
            shown(id)
        ));
    }
    if Factor::ALL.iter().any(|f| f.id() == id) {
        return Err(format!(
            "`{id}` is a built-in factor's id; choose another (e.g. `{id}_custom`)"
        ));
    }
    Ok(())
}

/// A pattern's length: not empty, at most [`MAX_PATTERN_BYTES`].
fn check_pattern_length(pattern: &str) -> Result<(), String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "{} bytes, at most {MAX_PATTERN_BYTES}",
            pattern.len()
        ));
    }
    if pattern.is_empty() {
        return Err("is empty".into());
    }
    Ok(())
}

/// Compiles a pattern under the limits.
///
/// # Errors
/// Too long, not a regex, over the compiled size or nesting limit, or
/// matching the empty string.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    check_pattern_length(pattern)?;
    let re = RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_SIZE)
        .nest_limit(MAX_REGEX_NEST)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            let first = msg.lines().last().unwrap_or("").trim().to_owned();
            format!("not a usable regex: {first}")
        })?;
    if re.is_match("") {
        return Err(
            "matches the empty string, so every position would count; require at least one character (e.g. `+` instead of `*`)"
                .into(),
        );
    }
    Ok(re)
}

/// Normalises a list word: lower-cased, stemmed with `stem`.
fn list_key(word: &str, stemmed: bool) -> String {
    if stemmed {
        stem(word)
    } else {
        word.to_lowercase()
    }
}

const FACTOR_FIELDS: [&str; 9] = [
    "id",
    "name",
    "description",
    "kind",
    "pattern",
    "words",
    "stem",
    "question",
    "sees",
];

/// The kinds a pack's factor can have.
pub const KINDS: [&str; 5] = [
    "regex_count",
    "regex_share",
    "word_list_count",
    "llm_yes_no",
    "llm_rating",
];

/// Checks an LLM factor's question: plain text (line breaks allowed), not
/// empty, at most [`MAX_QUESTION_CHARS`]. It reaches the model only inside
/// its own data block (see `llm::prompts::custom_question`).
fn check_question(q: &str) -> Result<(), String> {
    if q.trim().is_empty() {
        return Err("is empty: write the question the model is to answer".into());
    }
    let n = q.chars().count();
    if n > MAX_QUESTION_CHARS {
        return Err(format!("{n} characters, at most {MAX_QUESTION_CHARS}"));
    }
    if let Some(c) = q
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        return Err(format!(
            "contains a control character ({c:?}); plain text only"
        ));
    }
    Ok(())
}

impl FactorPack {
    /// Parses and checks a pack's JSON text.
    ///
    /// # Errors
    /// Every problem found, each with its place; the text is never trusted.
    pub fn parse(text: &str) -> Result<FactorPack, Vec<PackError>> {
        if text.len() > MAX_PACK_BYTES {
            return Err(vec![PackError {
                factor: None,
                id: None,
                field: None,
                reason: format!(
                    "the pack has {} bytes, at most {MAX_PACK_BYTES}",
                    text.len()
                ),
            }]);
        }
        let value = crate::data::strict::from_str(text).map_err(|e| {
            vec![PackError {
                factor: None,
                id: None,
                field: None,
                reason: format!("not JSON (line {}, column {}): {e}", e.line(), e.column()),
            }]
        })?;
        Self::from_value(&value)
    }

    /// Checks a pack given as a JSON value.
    ///
    /// # Errors
    /// As [`FactorPack::parse`].
    pub fn from_value(value: &Value) -> Result<FactorPack, Vec<PackError>> {
        Self::check(value, true)
    }

    /// As [`FactorPack::from_value`] without compiling the patterns (see
    /// the type's deserialisation).
    ///
    /// # Errors
    /// As [`FactorPack::parse`], but for patterns that do not compile.
    pub fn from_value_uncompiled(value: &Value) -> Result<FactorPack, Vec<PackError>> {
        Self::check(value, false)
    }

    fn check(value: &Value, compile_patterns: bool) -> Result<FactorPack, Vec<PackError>> {
        let Some(obj) = value.as_object() else {
            return Err(vec![PackError {
                factor: None,
                id: None,
                field: None,
                reason: "a factor pack is a JSON object with `factors`".into(),
            }]);
        };
        let mut errors = Vec::new();
        for k in obj.keys() {
            if k != "version" && k != "factors" {
                errors.push(top(
                    &shown(k),
                    "unknown field; a pack has `version` and `factors`",
                ));
            }
        }
        let version = match obj.get("version") {
            None => PACK_VERSION,
            Some(v) => {
                match v.as_u64() {
                    Some(n) if n == u64::from(PACK_VERSION) => PACK_VERSION,
                    _ => {
                        errors.push(top(
                        "version",
                        format!("this version of PROFILE reads pack version {PACK_VERSION}, not {v}"),
                    ));
                        PACK_VERSION
                    }
                }
            }
        };
        let list = match obj.get("factors") {
            Some(Value::Array(a)) => a.as_slice(),
            Some(_) => {
                errors.push(top("factors", "must be a list of factors"));
                &[]
            }
            None => {
                errors.push(top("factors", "missing: a pack lists its factors"));
                &[]
            }
        };
        if list.is_empty() && obj.get("factors").is_some_and(Value::is_array) {
            errors.push(top("factors", "is empty"));
        }
        if list.len() > MAX_FACTORS {
            errors.push(top(
                "factors",
                format!("{} factors, at most {MAX_FACTORS}", list.len()),
            ));
        }
        let mut factors = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for (i, v) in list.iter().enumerate().take(MAX_FACTORS) {
            let def = parse_factor(i, v, &mut errors, compile_patterns);
            if let Some(id) = v.get("id").and_then(Value::as_str) {
                if seen.iter().any(|s| s == id) {
                    errors.push(PackError {
                        factor: Some(i),
                        id: Some(shown(id)),
                        field: Some("id".into()),
                        reason: "defined twice in this pack".into(),
                    });
                }
                seen.push(id.to_owned());
            }
            factors.extend(def);
        }
        if errors.is_empty() {
            Ok(FactorPack { version, factors })
        } else {
            Err(errors)
        }
    }

    /// The pack as compact JSON (what a link or the report carries).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a pack serialises")
    }

    /// The ids of the pack's factors, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.factors.iter().map(|f| f.id.as_str()).collect()
    }
}

/// Checks one factor; pushes its problems and returns it when it has none.
fn parse_factor(
    i: usize,
    v: &Value,
    errors: &mut Vec<PackError>,
    compile_patterns: bool,
) -> Option<FactorDef> {
    let before = errors.len();
    let Some(obj) = v.as_object() else {
        errors.push(PackError {
            factor: Some(i),
            id: None,
            field: None,
            reason: "a factor is a JSON object with `id`, `name` and `kind`".into(),
        });
        return None;
    };
    let raw_id = obj.get("id").and_then(Value::as_str);
    let id_shown = raw_id.map(shown);
    let err = |field: &str, reason: String| PackError {
        factor: Some(i),
        id: id_shown.clone(),
        field: Some(field.to_owned()),
        reason,
    };
    for k in obj.keys() {
        if !FACTOR_FIELDS.contains(&k.as_str()) {
            errors.push(err(
                &shown(k),
                format!("unknown field; a factor has {}", FACTOR_FIELDS.join(", ")),
            ));
        }
    }
    let string = |field: &str, errors: &mut Vec<PackError>, required: bool| -> Option<String> {
        match obj.get(field) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.push(err(field, "must be a string".into()));
                None
            }
            None if required => {
                errors.push(err(field, "missing".into()));
                None
            }
            None => Some(String::new()),
        }
    };
    let id = string("id", errors, true);
    if let Some(id) = &id {
        if let Err(e) = check_id(id) {
            errors.push(err("id", e));
        }
    }
    let name = string("name", errors, true);
    if let Some(name) = &name {
        if name.trim().is_empty() {
            errors.push(err("name", "is empty".into()));
        } else if let Err(e) = check_text(name, MAX_NAME_CHARS) {
            errors.push(err("name", e));
        }
    }
    let description = string("description", errors, false);
    if let Some(d) = &description {
        if let Err(e) = check_text(d, MAX_DESCRIPTION_CHARS) {
            errors.push(err("description", e));
        }
    }
    let kind = string("kind", errors, true);
    let allowed: &[&str] = match kind.as_deref() {
        Some("regex_count") | Some("regex_share") => &["pattern"],
        Some("word_list_count") => &["words", "stem"],
        Some("llm_yes_no") | Some("llm_rating") => &["question", "sees"],
        Some(other) => {
            errors.push(err(
                "kind",
                format!("`{}` is not a kind: use {}", shown(other), KINDS.join(", ")),
            ));
            &[]
        }
        None => &[],
    };
    if !allowed.is_empty() {
        for field in ["pattern", "words", "stem", "question", "sees"] {
            if obj.contains_key(field) && !allowed.contains(&field) {
                let k = kind.as_deref().unwrap_or_default();
                errors.push(err(field, format!("does not apply to kind `{k}`")));
            }
        }
    }
    let rule = match kind.as_deref() {
        Some(k @ ("regex_count" | "regex_share")) => {
            let pattern = string("pattern", errors, true)?;
            let checked = if compile_patterns {
                compile(&pattern).map(drop)
            } else {
                check_pattern_length(&pattern)
            };
            if let Err(e) = checked {
                errors.push(err("pattern", e));
            }
            Some(if k == "regex_count" {
                RuleDef::RegexCount { pattern }
            } else {
                RuleDef::RegexShare { pattern }
            })
        }
        Some(k @ ("llm_yes_no" | "llm_rating")) => {
            let question = string("question", errors, true);
            if let Some(q) = &question {
                if let Err(e) = check_question(q) {
                    errors.push(err("question", e));
                }
            }
            let mut sees = Vec::new();
            match obj.get("sees") {
                None => {}
                Some(Value::Array(xs)) => {
                    for (j, x) in xs.iter().enumerate().take(8) {
                        let field = format!("sees[{j}]");
                        let s = match x.as_str() {
                            Some("request") => Sees::Request,
                            Some("source") => Sees::Source,
                            Some(other) => {
                                errors.push(err(
                                    &field,
                                    format!(
                                        "`{}` is not a text a question can see: use request or source",
                                        shown(other)
                                    ),
                                ));
                                continue;
                            }
                            None => {
                                errors.push(err(&field, "must be a string".into()));
                                continue;
                            }
                        };
                        if sees.contains(&s) {
                            errors.push(err(&field, format!("`{}` is listed twice", s.name())));
                        } else {
                            sees.push(s);
                        }
                    }
                    if xs.len() > 8 {
                        errors.push(err("sees", "lists more than request and source".into()));
                    }
                }
                Some(_) => errors.push(err(
                    "sees",
                    "must be a list of the texts the question sees, e.g. [\"request\"]".into(),
                )),
            }
            crate::data::sort::sort(&mut sees);
            let question = question?.trim().to_owned();
            Some(if k == "llm_yes_no" {
                RuleDef::LlmYesNo { question, sees }
            } else {
                RuleDef::LlmRating { question, sees }
            })
        }
        Some("word_list_count") => {
            let stemmed = match obj.get("stem") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    errors.push(err("stem", "must be true or false".into()));
                    false
                }
            };
            match obj.get("words") {
                Some(Value::Array(ws)) => {
                    if ws.is_empty() {
                        errors.push(err("words", "is empty".into()));
                    }
                    if ws.len() > MAX_WORDS {
                        errors.push(err(
                            "words",
                            format!("{} words, at most {MAX_WORDS}", ws.len()),
                        ));
                    }
                    let mut list = Vec::with_capacity(ws.len().min(MAX_WORDS));
                    for (j, w) in ws.iter().enumerate().take(MAX_WORDS) {
                        let field = format!("words[{j}]");
                        match w.as_str() {
                            Some(s) if s.chars().count() > 64 => {
                                errors.push(err(&field, "longer than 64 characters".into()))
                            }
                            Some(s) if words(s).len() == 1 && words(s)[0] == s.trim() => {
                                list.push(s.trim().to_owned())
                            }
                            Some(s) => errors.push(err(
                                &field,
                                format!(
                                    "`{}` is not one word (letters, digits or `_`, as the factors split words)",
                                    shown(s)
                                ),
                            )),
                            None => errors.push(err(&field, "must be a string".into())),
                        }
                    }
                    Some(RuleDef::WordListCount {
                        words: list,
                        stem: stemmed,
                    })
                }
                Some(_) => {
                    errors.push(err("words", "must be a list of words".into()));
                    None
                }
                None => {
                    errors.push(err("words", "missing: a word list needs `words`".into()));
                    None
                }
            }
        }
        _ => None,
    };
    if errors.len() > before {
        return None;
    }
    Some(FactorDef {
        id: id?,
        name: name?.trim().to_owned(),
        description: description?.trim().to_owned(),
        rule: rule?,
    })
}

/// A registered custom factor's handle (`Factor::Custom`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomId(u16);

impl CustomId {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// A compiled rule.
enum Rule {
    RegexCount(Regex),
    RegexShare(Regex),
    WordList {
        words: FxHashSet<String>,
        stem: bool,
    },
    /// An LLM question: no rule, its values come from a model.
    Llm(LlmQuestion<'static>),
}

/// A registered definition; leaked so that its strings are `'static`.
struct Entry {
    def: FactorDef,
    id: &'static str,
    name: &'static str,
    value: &'static str,
    rule: Rule,
}

static REGISTRY: RwLock<Vec<&'static Entry>> = RwLock::new(Vec::new());

fn registry() -> std::sync::RwLockReadGuard<'static, Vec<&'static Entry>> {
    REGISTRY.read().unwrap_or_else(|e| e.into_inner())
}

fn entry(c: CustomId) -> &'static Entry {
    registry()[c.index()]
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn compile_rule(rule: &RuleDef) -> Result<Rule, String> {
    Ok(match rule {
        RuleDef::RegexCount { pattern } => Rule::RegexCount(compile(pattern)?),
        RuleDef::RegexShare { pattern } => Rule::RegexShare(compile(pattern)?),
        RuleDef::WordListCount { words, stem } => Rule::WordList {
            words: words.iter().map(|w| list_key(w, *stem)).collect(),
            stem: *stem,
        },
        RuleDef::LlmYesNo { .. } | RuleDef::LlmRating { .. } => {
            let q = rule.llm().expect("an LLM kind");
            Rule::Llm(LlmQuestion {
                question: leak(q.question.to_owned()),
                ..q
            })
        }
    })
}

/// Registers a checked pack's factors and returns them in pack order.
///
/// # Errors
/// A factor that does not compile (a pack not from [`FactorPack::parse`]),
/// or more than [`MAX_REGISTERED`] definitions in this process.
pub fn register(pack: &FactorPack) -> Result<Vec<Factor>, Vec<PackError>> {
    let mut reg = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    let mut out = Vec::with_capacity(pack.factors.len());
    let mut errors = Vec::new();
    for (i, def) in pack.factors.iter().enumerate() {
        if let Err(e) = check_id(&def.id) {
            errors.push(PackError {
                factor: Some(i),
                id: Some(shown(&def.id)),
                field: Some("id".into()),
                reason: e,
            });
            continue;
        }
        if let Some(pos) = reg.iter().position(|e| e.def == *def) {
            // The newest definition of an id wins: re-registering an older
            // one makes it the newest again.
            let newest = reg.iter().rposition(|e| e.id == def.id);
            if newest == Some(pos) {
                out.push(Factor::Custom(CustomId(pos as u16)));
                continue;
            }
        }
        if reg.len() >= MAX_REGISTERED {
            errors.push(PackError {
                factor: Some(i),
                id: Some(def.id.clone()),
                field: None,
                reason: format!(
                    "more than {MAX_REGISTERED} custom factor definitions loaded in this session"
                ),
            });
            continue;
        }
        let rule = match compile_rule(&def.rule) {
            Ok(r) => r,
            Err(e) => {
                errors.push(PackError {
                    factor: Some(i),
                    id: Some(def.id.clone()),
                    field: Some("pattern".into()),
                    reason: e,
                });
                continue;
            }
        };
        let value = if def.description.is_empty() {
            def.rule.value_text()
        } else {
            def.description.clone()
        };
        let e: &'static Entry = Box::leak(Box::new(Entry {
            id: leak(def.id.clone()),
            name: leak(def.name.clone()),
            value: leak(value),
            def: def.clone(),
            rule,
        }));
        reg.push(e);
        out.push(Factor::Custom(CustomId((reg.len() - 1) as u16)));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The newest registered custom factor with this id.
pub fn lookup(id: &str) -> Option<Factor> {
    registry()
        .iter()
        .rposition(|e| e.id == id)
        .map(|i| Factor::Custom(CustomId(i as u16)))
}

/// A registered factor's id.
pub fn id(c: CustomId) -> &'static str {
    entry(c).id
}

/// A registered factor's display name.
pub fn name(c: CustomId) -> &'static str {
    entry(c).name
}

/// What a registered factor's value is: its description, or its rule in words.
pub fn value_text(c: CustomId) -> &'static str {
    entry(c).value
}

/// What a registered LLM factor asks (`None` for a rule factor).
pub fn llm_question(c: CustomId) -> Option<LlmQuestion<'static>> {
    match entry(c).rule {
        Rule::Llm(q) => Some(q),
        _ => None,
    }
}

/// A registered factor's definition.
pub fn definition(c: CustomId) -> FactorDef {
    entry(c).def.clone()
}

/// The pack of the custom factors among `factors`, in their order (`None`
/// when there are none): what a report records to be reproducible.
pub fn pack_of(factors: &[Factor]) -> Option<FactorPack> {
    let defs: Vec<FactorDef> = factors
        .iter()
        .filter_map(|f| match f {
            Factor::Custom(c) => Some(definition(*c)),
            _ => None,
        })
        .collect();
    (!defs.is_empty()).then_some(FactorPack {
        version: PACK_VERSION,
        factors: defs,
    })
}

/// The value of a registered rule factor for a response text (`NaN`, no
/// value, for an LLM factor: its values come from a model).
pub fn evaluate(c: CustomId, text: &str) -> f64 {
    match &entry(c).rule {
        Rule::Llm(_) => f64::NAN,
        Rule::RegexCount(re) => re.find_iter(text).count() as f64,
        Rule::RegexShare(re) => {
            let n = word_count(text);
            if n == 0 {
                0.0
            } else {
                re.find_iter(text).count() as f64 / n as f64
            }
        }
        Rule::WordList { words, stem } => {
            // One stemmer per text (creating one per word costs more than
            // stemming); stems as `rules::stem` makes them.
            let stemmer =
                stem.then(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English));
            let mut n = 0usize;
            let mut key = String::new();
            for_each_word(text, |w| {
                key.clear();
                key.extend(w.chars().flat_map(char::to_lowercase));
                let found = match &stemmer {
                    Some(s) => words.contains(s.stem(&key).as_ref()),
                    None => words.contains(key.as_str()),
                };
                if found {
                    n += 1;
                }
            });
            n as f64
        }
    }
}

/// Registers the pack a JSON value carries at `factor_pack` anywhere in it
/// (a worker message, a report), so that its factor ids parse; problems are
/// returned, the value is not changed.
pub fn register_embedded(value: &Value) -> Vec<PackError> {
    let mut errors = Vec::new();
    walk(value, &mut errors);
    errors
}

fn walk(value: &Value, errors: &mut Vec<PackError>) {
    match value {
        Value::Object(m) => {
            if let Some(p @ Value::Object(_)) = m.get("factor_pack") {
                match FactorPack::from_value(p) {
                    Ok(pack) => {
                        if let Err(e) = register(&pack) {
                            errors.extend(e);
                        }
                    }
                    Err(e) => errors.extend(e),
                }
            }
            walk_map(m, errors);
        }
        Value::Array(a) => a.iter().for_each(|v| walk(v, errors)),
        _ => {}
    }
}

fn walk_map(m: &Map<String, Value>, errors: &mut Vec<PackError>) {
    for (k, v) in m {
        if k != "factor_pack" && (v.is_object() || v.is_array()) {
            walk(v, errors);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<PackError> {
        FactorPack::parse(text).expect_err("refused")
    }

    #[test]
    fn the_minimal_pack_parses_and_registers() {
        let p = FactorPack::parse(
            r#"{"factors": [{"id": "t_words_re", "name": "words (regex)", "kind": "regex_count", "pattern": "\\w+"}]}"#,
        )
        .unwrap();
        assert_eq!(p.version, 1);
        let fs = register(&p).unwrap();
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].id(), "t_words_re");
        assert_eq!(fs[0].info().name, "words (regex)");
        assert_eq!(Factor::from_id("t_words_re"), Some(fs[0]));
        assert_eq!(register(&p).unwrap(), fs, "same definition, same factor");
        let Factor::Custom(c) = fs[0] else { panic!() };
        assert_eq!(evaluate(c, "one two, three!"), 3.0);
        assert_eq!(
            serde_json::to_string(&fs[0]).unwrap(),
            "\"t_words_re\"",
            "serialises as its id"
        );
        assert_eq!(
            serde_json::from_str::<Factor>("\"t_words_re\"").unwrap(),
            fs[0]
        );
        // The pack round-trips through its JSON.
        assert_eq!(FactorPack::parse(&p.to_json()).unwrap(), p);
        assert_eq!(pack_of(&[Factor::Length, fs[0]]), Some(p));
    }

    #[test]
    fn word_lists_and_shares_count_by_hand() {
        let p = FactorPack::parse(
            r#"{"version": 1, "factors": [
              {"id": "t_hedge", "name": "hedges", "kind": "word_list_count", "words": ["maybe", "Perhaps"]},
              {"id": "t_hedge_stem", "name": "hedges (stems)", "kind": "word_list_count", "words": ["run"], "stem": true},
              {"id": "t_digits", "name": "digits per word", "kind": "regex_share", "pattern": "[0-9]+"}
            ]}"#,
        )
        .unwrap();
        let fs = register(&p).unwrap();
        let c = |i: usize| match fs[i] {
            Factor::Custom(c) => c,
            _ => unreachable!(),
        };
        // "Maybe" and "perhaps" (case-insensitive); "maybe," keeps its word.
        assert_eq!(
            evaluate(c(0), "Maybe it works, perhaps not; maybe, maybes."),
            3.0
        );
        // Stemmed: Running, runs, run → run; "ran" is not.
        assert_eq!(evaluate(c(1), "Running runs run ran runner"), 3.0);
        // Two numbers, four words.
        assert_eq!(evaluate(c(2), "12 apples and 7"), 0.5);
        assert_eq!(evaluate(c(2), "!!!"), 0.0, "no words: share 0");
    }

    #[test]
    fn hostile_packs_give_located_errors() {
        // A bad regex.
        let e = errs(
            r#"{"factors": [{"id": "a_ok", "name": "ok", "kind": "regex_count", "pattern": "x"},
                             {"id": "bad", "name": "bad", "kind": "regex_count", "pattern": "(unclosed"}]}"#,
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].factor, Some(1));
        assert_eq!(e[0].field.as_deref(), Some("pattern"));
        assert!(
            e[0].to_string()
                .starts_with("factor 1 (`bad`), field `pattern`: not a usable regex"),
            "{}",
            e[0]
        );
        // An id that clashes with a built-in.
        let e = errs(
            r#"{"factors": [{"id": "length", "name": "l", "kind": "regex_count", "pattern": "x"}]}"#,
        );
        assert_eq!((e[0].factor, e[0].field.as_deref()), (Some(0), Some("id")));
        assert!(e[0].reason.contains("built-in"), "{}", e[0]);
        // A 1 MB pattern: refused by its length, before compiling.
        let big = "a".repeat(1 << 20);
        let e = errs(&format!(
            r#"{{"factors": [{{"id": "big", "name": "big", "kind": "regex_count", "pattern": "{big}"}}]}}"#
        ));
        assert_eq!(
            (e[0].factor, e[0].field.as_deref()),
            (Some(0), Some("pattern"))
        );
        assert!(e[0].reason.contains("at most 1024"), "{}", e[0]);
        // A pattern that blows up when compiled: over the size limit.
        let e = errs(
            r#"{"factors": [{"id": "blow", "name": "b", "kind": "regex_count", "pattern": "((a{100}){100}){100}"}]}"#,
        );
        assert_eq!(
            (e[0].factor, e[0].field.as_deref()),
            (Some(0), Some("pattern"))
        );
        assert!(e[0].reason.starts_with("not a usable regex"), "{}", e[0]);
        // Markup in a name, a control character in a description.
        let e = errs(
            r#"{"factors": [{"id": "x1", "name": "<img src=x onerror=alert(1)>", "description": "a\u0007", "kind": "regex_count", "pattern": "x"}]}"#,
        );
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].field.as_deref(), Some("name"));
        assert!(e[0].reason.contains("markup"));
        assert_eq!(e[1].field.as_deref(), Some("description"));
        // A pattern matching the empty string; an unknown kind; a typo.
        let e = errs(
            r#"{"factors": [{"id": "e1", "name": "e", "kind": "regex_count", "pattern": "a*"},
                                      {"id": "e2", "name": "e", "kind": "regex_cnt", "pattern": "a"},
                                      {"id": "e3", "name": "e", "kind": "regex_count", "patern": "a"}]}"#,
        );
        let places: Vec<(Option<usize>, Option<&str>)> =
            e.iter().map(|e| (e.factor, e.field.as_deref())).collect();
        assert_eq!(
            places,
            [
                (Some(0), Some("pattern")),
                (Some(1), Some("kind")),
                (Some(2), Some("patern")),
                (Some(2), Some("pattern")),
            ]
        );
        // Duplicate ids, a word that is two words, a wrong version, bad JSON.
        let e = errs(
            r#"{"version": 2, "factors": [{"id": "d", "name": "d", "kind": "word_list_count", "words": ["two words"]},
                                                    {"id": "d", "name": "d", "kind": "regex_count", "pattern": "a"}]}"#,
        );
        let fields: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(
            fields,
            [
                "field `version`: this version of PROFILE reads pack version 1, not 2",
                "factor 0 (`d`), field `words[0]`: `two words` is not one word (letters, digits or `_`, as the factors split words)",
                "factor 1 (`d`), field `id`: defined twice in this pack",
            ]
        );
        assert!(errs("{\"factors\": [")
            .iter()
            .all(|e| e.reason.starts_with("not JSON (line 1")));
        assert!(!errs("[]").is_empty());
        assert!(!errs(r#"{"factors": []}"#).is_empty());
        assert!(
            !errs(r#"{"factors": [{"id": "a", "id": "b"}]}"#).is_empty(),
            "duplicate keys"
        );
    }

    #[test]
    fn llm_kinds_parse_and_need_a_model() {
        let p = FactorPack::parse(
            r#"{"factors": [
              {"id": "t_cites", "name": "cites sources", "kind": "llm_yes_no",
               "question": "Does the response cite a source?", "sees": ["request"]},
              {"id": "t_tone", "name": "tone", "kind": "llm_rating",
               "question": " Does it keep the post's tone? ", "sees": ["source", "request"]},
              {"id": "t_alone", "name": "alone", "kind": "llm_yes_no", "question": "Is it polite?"}
            ]}"#,
        )
        .unwrap();
        let fs = register(&p).unwrap();
        let q = |i: usize| match fs[i] {
            Factor::Custom(c) => llm_question(c).unwrap(),
            _ => unreachable!(),
        };
        assert_eq!(
            q(0),
            LlmQuestion {
                rating: false,
                question: "Does the response cite a source?",
                request: true,
                source: false
            }
        );
        assert_eq!(
            (q(1).rating, q(1).question, q(1).request, q(1).source),
            (true, "Does it keep the post's tone?", true, true)
        );
        assert!(!q(2).request && !q(2).source);
        assert!(fs.iter().all(|f| f.needs_model()));
        assert_eq!(fs[0].info().level3, "Input-Output");
        assert_eq!(fs[2].info().level3, "Output-Only");
        assert_eq!(
            fs[0].info().extraction,
            crate::factors::Extraction::LlmResponseLevel
        );
        // The pack round-trips (the report records it); `sees` in a fixed order.
        let json = p.to_json();
        assert!(json.contains(r#""sees":["request","source"]"#), "{json}");
        assert_eq!(FactorPack::parse(&json).unwrap(), p);
        let Factor::Custom(c) = fs[0] else { panic!() };
        assert!(evaluate(c, "any text").is_nan(), "no rule value");
    }

    #[test]
    fn hostile_llm_factors_give_located_errors() {
        let long = "why ".repeat(400);
        let e = errs(&format!(
            r#"{{"factors": [
              {{"id": "q0", "name": "a", "kind": "llm_yes_no"}},
              {{"id": "q1", "name": "b", "kind": "llm_rating", "question": "   "}},
              {{"id": "q2", "name": "c", "kind": "llm_yes_no", "question": "{long}"}},
              {{"id": "q3", "name": "d", "kind": "llm_yes_no", "question": "ok?", "sees": ["request", "response"]}},
              {{"id": "q4", "name": "e", "kind": "llm_yes_no", "question": "ok?", "pattern": "x"}},
              {{"id": "q5", "name": "f", "kind": "llm_yes_or_no", "question": "ok?"}},
              {{"id": "q6", "name": "g", "kind": "regex_count", "pattern": "x", "question": "ok?"}},
              {{"id": "q7", "name": "h", "kind": "llm_rating", "question": "ok?", "sees": "request"}},
              {{"id": "q8", "name": "i", "kind": "llm_rating", "question": 5, "sees": ["source", "source"]}}
            ]}}"#
        ));
        let got: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "factor 0 (`q0`), field `question`: missing",
                "factor 1 (`q1`), field `question`: is empty: write the question the model is to answer",
                "factor 2 (`q2`), field `question`: 1600 characters, at most 1000",
                "factor 3 (`q3`), field `sees[1]`: `response` is not a text a question can see: use request or source",
                "factor 4 (`q4`), field `pattern`: does not apply to kind `llm_yes_no`",
                "factor 5 (`q5`), field `kind`: `llm_yes_or_no` is not a kind: use regex_count, regex_share, word_list_count, llm_yes_no, llm_rating",
                "factor 6 (`q6`), field `question`: does not apply to kind `regex_count`",
                "factor 7 (`q7`), field `sees`: must be a list of the texts the question sees, e.g. [\"request\"]",
                "factor 8 (`q8`), field `question`: must be a string",
                "factor 8 (`q8`), field `sees[1]`: `source` is listed twice",
            ]
        );
    }

    /// The classic catastrophic-backtracking pattern runs in linear time:
    /// `(a+)+$` against a long run of `a` ending in `b`.
    #[test]
    fn nested_quantifiers_run_in_linear_time() {
        let p = FactorPack::parse(
            r#"{"factors": [{"id": "t_evil", "name": "evil", "kind": "regex_count", "pattern": "(a+)+$"}]}"#,
        )
        .unwrap();
        let Factor::Custom(c) = register(&p).unwrap()[0] else {
            unreachable!()
        };
        let text = "a".repeat(20_000) + "b";
        let t = std::time::Instant::now();
        assert_eq!(evaluate(c, &text), 0.0);
        assert!(t.elapsed().as_secs_f64() < 5.0, "took {:?}", t.elapsed());
    }
}
