//! Schema check of an untrusted report: every problem with its place.
//!
//! A widget receives report JSON from anywhere (a blogger's file, a URL
//! fragment, a hand edit). [`check_report`] reads it as
//! [`profile-report/1`](crate::report::SCHEMA) and either returns the typed
//! [`Report`] or lists what is wrong, each problem with a path such as
//! `agents[0].factor_scores.length.score`, in words a reader of the widget
//! understands. It never panics, whatever the input.
//!
//! The check mirrors the serde shape of [`Report`] (a field is required
//! exactly when serde requires it; unknown fields are ignored, since fields
//! are only ever added within a version) and adds the rules the numbers obey:
//! scores and correlations lie in [−1, 1], an interval's ends are ordered,
//! and every id in an agent's `ranking` has an entry in its `factor_scores`.
//! A key given twice in one object is refused (which of the two would count
//! is not something a reader should have to guess).

use serde_json::Value;

use crate::report::{Report, SCHEMA};

/// The largest report text a widget reads, in bytes.
pub const MAX_REPORT_BYTES: usize = 16 << 20;

/// At most this many problems are listed; [`CheckError::total`] counts all.
pub const MAX_PROBLEMS: usize = 20;

/// One thing wrong with a report, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where, as a path from the top (`agents[0].ranking[2]`); empty for the whole text.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a text is not a report the widget can show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    /// The first [`MAX_PROBLEMS`] problems, in document order.
    pub problems: Vec<Problem>,
    /// How many problems there are in all.
    pub total: usize,
}

impl CheckError {
    fn one(path: &str, message: impl Into<String>) -> Self {
        CheckError {
            problems: vec![Problem {
                path: path.into(),
                message: message.into(),
            }],
            total: 1,
        }
    }
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        if self.total > self.problems.len() {
            write!(f, "\n… and {} more", self.total - self.problems.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for CheckError {}

/// Parses and checks a report text.
///
/// # Errors
/// [`CheckError`] when the text is too large, not JSON, not a
/// `profile-report/1` report, or breaks the schema or its number rules.
pub fn check_report(text: &str) -> Result<Report, CheckError> {
    if text.len() > MAX_REPORT_BYTES {
        return Err(CheckError::one(
            "",
            format!(
                "the report is {} bytes; a widget reads at most {} MB",
                text.len(),
                MAX_REPORT_BYTES >> 20
            ),
        ));
    }
    let value: Value = crate::data::strict::from_str(text)
        .map_err(|e| CheckError::one("", format!("the text is not valid JSON ({e})")))?;
    check_value(value)
}

/// Checks a parsed JSON value (see [`check_report`]).
///
/// # Errors
/// [`CheckError`] as for [`check_report`].
pub fn check_value(value: Value) -> Result<Report, CheckError> {
    let problems = problems(&value);
    if !problems.is_empty() {
        let total = problems.len();
        let mut problems = problems;
        problems.truncate(MAX_PROBLEMS);
        return Err(CheckError { problems, total });
    }
    // The check above accepts only what serde accepts; this is a safety net
    // that keeps the widget honest should the two ever drift apart.
    serde_json::from_value(value).map_err(|e| CheckError::one("", e.to_string()))
}

/// Every problem of a value, in document order (empty: a valid report).
pub fn problems(value: &Value) -> Vec<Problem> {
    let mut c = Checker::default();
    let Some(obj) = value.as_object() else {
        c.add(
            "",
            format!(
                "expected a PROFILE report (a JSON object with \"schema\": \"{SCHEMA}\"), found {}",
                describe(value)
            ),
        );
        return c.problems;
    };
    match obj.get("schema") {
        Some(Value::String(s)) if s == SCHEMA => {}
        Some(Value::String(s)) => {
            c.add(
                "schema",
                format!(
                    "unsupported schema {}; this widget reads \"{SCHEMA}\"",
                    quote(s)
                ),
            );
            return c.problems;
        }
        Some(v) => {
            c.add(
                "schema",
                format!("expected \"{SCHEMA}\", found {}", describe(v)),
            );
            return c.problems;
        }
        None => {
            c.add(
                "schema",
                format!("is missing: this is not a PROFILE report (\"schema\": \"{SCHEMA}\")"),
            );
            return c.problems;
        }
    }
    c.fields(&mut String::new(), obj, REPORT);
    if c.problems.is_empty() {
        c.numbers(value);
    }
    c.problems
}

/// What a field holds.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Str,
    /// A whole number ≥ 0 (`u64`, `usize`).
    Count,
    /// A whole number ≥ 0 that fits 32 bits.
    Count32,
    Num,
    Bool,
    /// Any JSON value.
    Any,
    /// One of the agent settings.
    Setting,
    /// `null` or the inner kind.
    Nullable(&'static Kind),
    /// Exactly two numbers.
    NumPair,
    List(&'static Kind),
    /// An object with any keys, every value of the inner kind.
    Map(&'static Kind),
    Obj(&'static [Field]),
    /// A factor pack, checked as its deserialisation checks it
    /// (`FactorPack::from_value_uncompiled`: patterns are not compiled).
    Pack,
}

/// A field of an object: its name, kind, and whether it must be present.
#[derive(Clone, Copy, Debug)]
struct Field(&'static str, Kind, bool);

const REQ: bool = true;
const OPT: bool = false;

const NULLABLE_STR: Kind = Kind::Nullable(&Kind::Str);
const NULLABLE_NUM: Kind = Kind::Nullable(&Kind::Num);

const DIAGNOSTIC: &[Field] = &[
    Field("line", Kind::Count, REQ),
    Field("field", NULLABLE_STR, OPT),
    Field("reason", Kind::Str, REQ),
];

const SAMPLE: &[Field] = &[
    Field("method", Kind::Str, REQ),
    Field("requested", Kind::Count, REQ),
    Field("inputs_loaded", Kind::Count, REQ),
    Field("pairs_loaded", Kind::Count, REQ),
    Field("seed", Kind::Nullable(&Kind::Count), OPT),
];

const DATASET: &[Field] = &[
    Field("name", NULLABLE_STR, OPT),
    Field("format", Kind::Str, REQ),
    Field("label", NULLABLE_STR, OPT),
    Field("records_read", Kind::Count, REQ),
    Field("records_parsed", Kind::Count, REQ),
    Field("records_skipped", Kind::Count, REQ),
    Field("pairs", Kind::Count, REQ),
    Field("human_ties_dropped", Kind::Count, REQ),
    Field("pairs_dropped_other", Kind::Count, REQ),
    Field("pairs_dropped_reason", NULLABLE_STR, OPT),
    Field("inputs", Kind::Count, REQ),
    Field("unique_texts", Kind::Count, REQ),
    Field("bytes_read", Kind::Count, REQ),
    Field("diagnostics", Kind::List(&Kind::Obj(DIAGNOSTIC)), REQ),
    Field("diagnostics_total", Kind::Count, REQ),
    Field("sample", Kind::Nullable(&Kind::Obj(SAMPLE)), OPT),
    Field("group_fields", Kind::List(&Kind::Str), OPT),
];

const CONFIG: &[Field] = &[
    Field("task", Kind::Str, REQ),
    Field("factors", Kind::List(&Kind::Str), REQ),
    Field("bootstrap_resamples", Kind::Count32, REQ),
    Field("seed", Kind::Count, REQ),
    Field("ci_level", Kind::Num, REQ),
    Field("resampling_unit", Kind::Str, REQ),
    Field("factor_tie_tolerance", Kind::Num, REQ),
    Field("factor_pack", Kind::Nullable(&Kind::Pack), OPT),
];

const FACTOR_META: &[Field] = &[
    Field("id", Kind::Str, REQ),
    Field("name", Kind::Str, REQ),
    Field("level2", Kind::Str, REQ),
    Field("level3", Kind::Str, REQ),
    Field("extraction", Kind::Str, REQ),
    Field("value", Kind::Str, REQ),
    Field("custom", Kind::Bool, OPT),
];

const SKIPPED: &[Field] = &[Field("id", Kind::Str, REQ), Field("reason", Kind::Str, REQ)];

const SCORE_ENTRY: &[Field] = &[
    Field("score", NULLABLE_NUM, OPT),
    Field("ci95", Kind::Nullable(&Kind::NumPair), OPT),
    Field("concordant", Kind::Count, REQ),
    Field("discordant", Kind::Count, REQ),
    Field("ties", Kind::Count, REQ),
    Field("dropped", Kind::Count, REQ),
    Field("missing", Kind::Count, OPT),
    Field("n_pairs", Kind::Count, REQ),
    Field("inputs", Kind::Nullable(&Kind::Count), OPT),
    Field(
        "bootstrap_resamples_used",
        Kind::Nullable(&Kind::Count32),
        OPT,
    ),
    Field("few_inputs", Kind::Bool, OPT),
];

const SCORE_DIFFERENCE: &[Field] = &[
    Field("estimate", Kind::Num, REQ),
    Field("ci95", Kind::Nullable(&Kind::NumPair), OPT),
];

const AGENT: &[Field] = &[
    Field("name", Kind::Str, REQ),
    Field("setting", Kind::Setting, REQ),
    Field("tie_policy", Kind::Str, REQ),
    Field("factor_scores", Kind::Map(&Kind::Obj(SCORE_ENTRY)), REQ),
    Field("ranking", Kind::List(&Kind::Str), REQ),
];

const ALIGNMENT: &[Field] = &[
    Field("agent", Kind::Str, REQ),
    Field("reference", Kind::Str, REQ),
    Field("factors", Kind::List(&Kind::Str), REQ),
    Field("n_factors", Kind::Count, REQ),
    Field("kendall_tau", NULLABLE_NUM, OPT),
    Field("spearman_rho", NULLABLE_NUM, OPT),
    Field("pearson_r", NULLABLE_NUM, OPT),
    Field("bootstrap_resamples_used", Kind::Count32, OPT),
    Field(
        "score_differences",
        Kind::Map(&Kind::Obj(SCORE_DIFFERENCE)),
        OPT,
    ),
];

const LLM: &[Field] = &[
    Field("provider", Kind::Str, REQ),
    Field("model", Kind::Str, REQ),
    Field("base_url", Kind::Str, REQ),
    Field("templates", Kind::List(&Kind::Str), REQ),
    Field("pairs", Kind::Count, REQ),
    Field("unique_responses", Kind::Count, REQ),
    Field("unique_sources", Kind::Count, REQ),
    Field("questions", Kind::Count, REQ),
    Field("calls", Kind::Count, REQ),
    Field("cache_hits", Kind::Count, REQ),
    Field("retries", Kind::Count, REQ),
    Field("repairs", Kind::Count, REQ),
    Field("failed", Kind::Count, REQ),
    Field("input_tokens", Kind::Count, REQ),
    Field("output_tokens", Kind::Count, REQ),
    Field("calls_per_unique_response", Kind::Num, REQ),
    Field("naive_calls", Kind::Num, REQ),
    Field("logprobs", Kind::Bool, REQ),
    Field("failures", Kind::List(&Kind::Any), REQ),
];

const GROUP_DIFFERENCE: &[Field] = &[
    Field("difference", NULLABLE_NUM, OPT),
    Field("ci95", Kind::Nullable(&Kind::NumPair), OPT),
    Field("verdict", Kind::Str, REQ),
];

const GROUP: &[Field] = &[
    Field("value", Kind::Str, REQ),
    Field("pairs", Kind::Count, REQ),
    Field("inputs", Kind::Count, REQ),
    Field("factor_scores", Kind::Map(&Kind::Obj(SCORE_ENTRY)), REQ),
    Field("differences", Kind::Map(&Kind::Obj(GROUP_DIFFERENCE)), REQ),
];

const GROUPS: &[Field] = &[
    Field("field", Kind::Str, REQ),
    Field("pairs_without", Kind::Count, REQ),
    Field("groups_omitted", Kind::Count, OPT),
    Field("groups", Kind::List(&Kind::Obj(GROUP)), REQ),
];

const REPORT: &[Field] = &[
    Field("schema", Kind::Str, REQ),
    Field("generator", Kind::Str, REQ),
    Field("dataset", Kind::Obj(DATASET), REQ),
    Field("config", Kind::Obj(CONFIG), REQ),
    Field("factors", Kind::List(&Kind::Obj(FACTOR_META)), REQ),
    Field("skipped_factors", Kind::List(&Kind::Obj(SKIPPED)), REQ),
    Field("agents", Kind::List(&Kind::Obj(AGENT)), REQ),
    Field("alignments", Kind::List(&Kind::Obj(ALIGNMENT)), REQ),
    Field("llm", Kind::Nullable(&Kind::Obj(LLM)), OPT),
    Field("groups", Kind::Nullable(&Kind::Obj(GROUPS)), OPT),
];

/// Whether a value is of a scalar kind (containers are never scalars).
fn scalar_ok(kind: Kind, v: &Value) -> bool {
    match (kind, v) {
        (Kind::Any, _) => true,
        (Kind::Str, Value::String(_))
        | (Kind::Bool, Value::Bool(_))
        | (Kind::Num, Value::Number(_)) => true,
        (Kind::Count, Value::Number(n)) => n.as_u64().is_some(),
        (Kind::Count32, Value::Number(n)) => n.as_u64().is_some_and(|x| x <= u32::MAX as u64),
        (Kind::Setting, Value::String(s)) => SETTINGS.contains(&s.as_str()),
        (Kind::NumPair, Value::Array(a)) => a.len() == 2 && a.iter().all(Value::is_number),
        _ => false,
    }
}

const SETTINGS: [&str; 4] = ["human", "evaluation", "generation", "improvement"];

/// Scores and correlations may exceed [−1, 1] by rounding only.
const RANGE_SLACK: f64 = 1e-9;

#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn add(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    fn fields(
        &mut self,
        path: &mut String,
        obj: &serde_json::Map<String, Value>,
        fields: &[Field],
    ) {
        for &Field(name, kind, required) in fields {
            let len = path.len();
            push_key(path, name);
            match obj.get(name) {
                Some(v) => self.value(path, v, kind),
                None if required => {
                    self.add(path, format!("is missing (expected {})", expected(kind)))
                }
                None => {}
            }
            path.truncate(len);
        }
    }

    fn value(&mut self, path: &mut String, v: &Value, kind: Kind) {
        let ok = match (kind, v) {
            (Kind::Nullable(_), Value::Null) => true,
            (
                Kind::Nullable(inner @ (Kind::List(_) | Kind::Map(_) | Kind::Obj(_) | Kind::Pack)),
                v,
            ) => return self.value(path, v, *inner),
            (Kind::Nullable(inner), v) => scalar_ok(*inner, v),
            (Kind::List(inner), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    self.value(path, item, *inner);
                    path.truncate(len);
                }
                true
            }
            (Kind::Map(inner), Value::Object(m)) => {
                for (k, item) in m {
                    let len = path.len();
                    push_key(path, k);
                    self.value(path, item, *inner);
                    path.truncate(len);
                }
                true
            }
            (Kind::Obj(fields), Value::Object(m)) => {
                self.fields(path, m, fields);
                true
            }
            (Kind::Pack, v) => {
                if let Err(errors) = crate::factors::pack::FactorPack::from_value_uncompiled(v) {
                    for e in errors {
                        self.add(path, e.to_string());
                    }
                }
                true
            }
            (kind, v) => scalar_ok(kind, v),
        };
        if !ok {
            self.add(
                path,
                format!("expected {}, found {}", expected(kind), describe(v)),
            );
        }
    }

    /// The rules numbers obey, on a value whose shape is already right.
    fn numbers(&mut self, report: &Value) {
        let in_range = |x: f64| (-1.0 - RANGE_SLACK..=1.0 + RANGE_SLACK).contains(&x);
        let agents = report["agents"].as_array().map_or(&[][..], Vec::as_slice);
        let groups = report["groups"]["groups"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let score_tables = agents
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("agents[{i}].factor_scores"), a))
            .chain(
                groups
                    .iter()
                    .enumerate()
                    .map(|(i, g)| (format!("groups.groups[{i}].factor_scores"), g)),
            );
        for (at, holder) in score_tables {
            let Some(scores) = holder["factor_scores"].as_object() else {
                continue;
            };
            for (id, e) in scores {
                let mut path = at.clone();
                push_key(&mut path, id);
                if let Some(s) = e.get("score").and_then(Value::as_f64) {
                    if !in_range(s) {
                        self.add(
                            &format!("{path}.score"),
                            format!("a factor score lies between −1 and 1, found {}", num(s)),
                        );
                    }
                }
                if let Some([lo, hi]) = e
                    .get("ci95")
                    .and_then(Value::as_array)
                    .and_then(|a| Some([a.first()?.as_f64()?, a.get(1)?.as_f64()?]))
                {
                    if !in_range(lo) || !in_range(hi) {
                        self.add(
                            &format!("{path}.ci95"),
                            format!(
                                "an interval of a factor score lies within [−1, 1], found [{}, {}]",
                                num(lo),
                                num(hi)
                            ),
                        );
                    } else if lo > hi {
                        self.add(
                            &format!("{path}.ci95"),
                            format!(
                                "the lower end {} is above the upper end {}",
                                num(lo),
                                num(hi)
                            ),
                        );
                    }
                }
            }
        }
        for (ai, agent) in agents.iter().enumerate() {
            let Some(scores) = agent["factor_scores"].as_object() else {
                continue;
            };
            for (ri, id) in agent["ranking"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(id) = id.as_str() {
                    if !scores.contains_key(id) {
                        self.add(
                            &format!("agents[{ai}].ranking[{ri}]"),
                            format!("{} has no entry in this agent's factor_scores", quote(id)),
                        );
                    }
                }
            }
        }
        for (gi, g) in groups.iter().enumerate() {
            for (id, d) in g["differences"].as_object().into_iter().flatten() {
                let mut path = format!("groups.groups[{gi}].differences");
                push_key(&mut path, id);
                let mut xs: Vec<f64> = d
                    .get("difference")
                    .and_then(Value::as_f64)
                    .into_iter()
                    .collect();
                xs.extend(
                    d.get("ci95")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_f64),
                );
                if let Some(x) = xs.into_iter().find(|x| x.abs() > 2.0 + RANGE_SLACK) {
                    self.add(
                        &path,
                        format!(
                            "a difference of two factor scores lies between −2 and 2, found {}",
                            num(x)
                        ),
                    );
                }
            }
        }
        let alignments = report["alignments"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for (i, a) in alignments.iter().enumerate() {
            for key in ["kendall_tau", "spearman_rho", "pearson_r"] {
                if let Some(x) = a.get(key).and_then(Value::as_f64) {
                    if !in_range(x) {
                        self.add(
                            &format!("alignments[{i}].{key}"),
                            format!("a correlation lies between −1 and 1, found {}", num(x)),
                        );
                    }
                }
            }
        }
        // Guided judging: agreements and p-values are shares, intervals ordered.
        let conditions = report["guidance"]["conditions"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for (i, c) in conditions.iter().enumerate() {
            let path = format!("guidance.conditions[{i}]");
            if let Some([lo, hi]) = c
                .get("difference_ci95")
                .and_then(Value::as_array)
                .and_then(|a| Some([a.first()?.as_f64()?, a.get(1)?.as_f64()?]))
            {
                if lo > hi {
                    self.add(
                        &format!("{path}.difference_ci95"),
                        format!(
                            "the lower end {} is above the upper end {}",
                            num(lo),
                            num(hi)
                        ),
                    );
                }
            }
            for key in ["agreement", "p_value"] {
                if let Some(x) = c.get(key).and_then(Value::as_f64) {
                    if !(0.0..=1.0).contains(&x) {
                        self.add(
                            &format!("{path}.{key}"),
                            format!("a share lies between 0 and 1, found {}", num(x)),
                        );
                    }
                }
            }
        }
        // Improvement: each condition's τ are correlations, their intervals ordered.
        let conditions = report["improvement"]["conditions"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for (i, c) in conditions.iter().enumerate() {
            let path = format!("improvement.conditions[{i}]");
            for key in ["kendall_tau_human", "kendall_tau_evaluator"] {
                if let Some(x) = c.get(key).and_then(Value::as_f64) {
                    if !in_range(x) {
                        self.add(
                            &format!("{path}.{key}"),
                            format!("a correlation lies between −1 and 1, found {}", num(x)),
                        );
                    }
                }
                let ci = format!("{key}_ci95");
                if let Some([lo, hi]) = c
                    .get(&ci)
                    .and_then(Value::as_array)
                    .and_then(|a| Some([a.first()?.as_f64()?, a.get(1)?.as_f64()?]))
                {
                    if lo > hi {
                        self.add(
                            &format!("{path}.{ci}"),
                            format!(
                                "the lower end {} is above the upper end {}",
                                num(lo),
                                num(hi)
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// Appends `.key`, or `["key"]` for a key that is not a plain identifier.
fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&quote(key));
        path.push(']');
    }
}

/// A string quoted as JSON, cut after 40 characters.
fn quote(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    let mut q = serde_json::to_string(&cut).unwrap_or_default();
    if cut.len() < s.len() {
        q.insert(q.len() - 1, '…');
    }
    q
}

fn num(x: f64) -> String {
    if x.abs() >= 1e6 {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// What a kind expects, in words.
fn expected(kind: Kind) -> String {
    match kind {
        Kind::Str => "a string".into(),
        Kind::Count => "a whole number ≥ 0".into(),
        Kind::Count32 => "a whole number from 0 to 4294967295".into(),
        Kind::Num => "a number".into(),
        Kind::Bool => "true or false".into(),
        Kind::Any => "a value".into(),
        Kind::Setting => format!("one of {}", SETTINGS.map(|s| format!("\"{s}\"")).join(", ")),
        Kind::Nullable(inner) => format!("{} or null", expected(*inner)),
        Kind::NumPair => "a pair of numbers [low, high]".into(),
        Kind::List(_) => "a list".into(),
        Kind::Map(_) | Kind::Obj(_) => "an object".into(),
        Kind::Pack => "a factor pack".into(),
    }
}

/// A value described for a message (strings are quoted and cut short).
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() => format!("the number {}", num(x)),
            _ => format!("the number {n}"),
        },
        Value::String(s) => format!("the string {}", quote(s)),
        Value::Array(a) => format!("a list of {}", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn valid() -> Value {
        json!({
            "schema": "profile-report/1",
            "generator": "profile 0.1.0",
            "dataset": {"name": "x.jsonl", "format": "profile", "records_read": 3, "records_parsed": 3,
                        "records_skipped": 0, "pairs": 3, "human_ties_dropped": 0, "pairs_dropped_other": 0,
                        "inputs": 2, "unique_texts": 6, "bytes_read": 100,
                        "diagnostics": [{"line": 4, "field": "preference", "reason": "missing"}],
                        "diagnostics_total": 1,
                        "sample": {"method": "inputs", "requested": 2, "inputs_loaded": 9,
                                   "pairs_loaded": 14, "seed": 42},
                        "group_fields": ["task"]},
            "config": {"task": "helpful", "factors": ["length", "novel_words"], "bootstrap_resamples": 10,
                       "seed": 42, "ci_level": 0.95, "resampling_unit": "input", "factor_tie_tolerance": 1e-9},
            "factors": [{"id": "length", "name": "length", "level2": "L", "level3": "Output-Only",
                         "extraction": "rule", "value": "number of words"}],
            "skipped_factors": [{"id": "n_facts", "reason": "needs a model"}],
            "agents": [{"name": "human", "setting": "human", "tie_policy": "…",
                        "factor_scores": {
                            "length": {"score": 0.5, "ci95": [0.1, 0.9], "concordant": 3, "discordant": 1,
                                       "ties": 0, "dropped": 0, "missing": 0, "n_pairs": 4},
                            "novel_words": {"score": null, "ci95": null, "concordant": 0, "discordant": 0,
                                            "ties": 0, "dropped": 3, "missing": 1, "n_pairs": 4}},
                        "ranking": ["length", "novel_words"]}],
            "alignments": [],
            "llm": {"provider": "openai", "model": "m", "base_url": "https://x", "templates": ["atomic_facts@1"],
                    "pairs": 3, "unique_responses": 6, "unique_sources": 2, "questions": 8, "calls": 8,
                    "cache_hits": 0, "retries": 1, "repairs": 0, "failed": 1, "input_tokens": 100,
                    "output_tokens": 50, "calls_per_unique_response": 1.3, "naive_calls": 20.0,
                    "logprobs": false, "failures": [{"reason": "timeout", "raw": "<script>"}]},
            "groups": {"field": "task", "pairs_without": 1, "groups_omitted": 0,
                       "groups": [{"value": "qa", "pairs": 2, "inputs": 2,
                                   "factor_scores": {"length": {"score": 0.5, "ci95": [0.1, 0.9], "concordant": 1,
                                       "discordant": 0, "ties": 1, "dropped": 0, "missing": 0, "n_pairs": 2,
                                       "inputs": 2, "few_inputs": true}},
                                   "differences": {"length": {"difference": 0.25, "ci95": [-0.5, 1.5],
                                       "verdict": "too few inputs"}}}]}
        })
    }

    fn paths(v: Value) -> Vec<String> {
        problems(&v).into_iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn a_valid_report_passes_and_deserialises() {
        let r = check_value(valid()).unwrap();
        assert_eq!(r.agents[0].ranking, ["length", "novel_words"]);
        assert_eq!(r.agents[0].factor_scores["novel_words"].missing, 1);
        assert_eq!(r.dataset.sample.as_ref().unwrap().seed, Some(42));
        assert!(check_report(&valid().to_string()).is_ok());
        // Reports written before `missing` and `sample` existed still pass.
        let mut old = valid();
        old["dataset"].as_object_mut().unwrap().remove("sample");
        for e in old["agents"][0]["factor_scores"]
            .as_object_mut()
            .unwrap()
            .values_mut()
        {
            e.as_object_mut().unwrap().remove("missing");
        }
        let r = check_value(old).unwrap();
        assert_eq!(r.agents[0].factor_scores["novel_words"].missing, 0);
        assert_eq!(r.dataset.sample, None);
        // The new fields are checked like the others.
        let mut bad = valid();
        bad["agents"][0]["factor_scores"]["length"]["missing"] = json!(-1);
        bad["dataset"]["sample"]["seed"] = json!("x");
        assert_eq!(
            paths(bad),
            [
                "dataset.sample.seed: expected a whole number ≥ 0 or null, found the string \"x\"",
                "agents[0].factor_scores.length.missing: expected a whole number ≥ 0, found the number -1",
            ]
        );
    }

    #[test]
    fn problems_are_located_and_worded() {
        let mut v = valid();
        v["agents"][0]["factor_scores"]["length"]["score"] = json!("NaN");
        v["dataset"].as_object_mut().unwrap().remove("pairs");
        v["agents"][0]["setting"] = json!("robot");
        v["config"]["bootstrap_resamples"] = json!(1e12);
        v["agents"][0]["factor_scores"]["length"]["concordant"] = json!(-3);
        assert_eq!(
            paths(v),
            [
                "dataset.pairs: is missing (expected a whole number ≥ 0)",
                "config.bootstrap_resamples: expected a whole number from 0 to 4294967295, found the number 1e12",
                "agents[0].setting: expected one of \"human\", \"evaluation\", \"generation\", \"improvement\", found the string \"robot\"",
                "agents[0].factor_scores.length.score: expected a number or null, found the string \"NaN\"",
                "agents[0].factor_scores.length.concordant: expected a whole number ≥ 0, found the number -3",
            ]
        );
    }

    #[test]
    fn the_interval_fields_are_checked() {
        let mut v = valid();
        let e = &mut v["agents"][0]["factor_scores"]["length"];
        e["inputs"] = json!(3);
        e["bootstrap_resamples_used"] = json!(998);
        e["few_inputs"] = json!(true);
        v["alignments"] = json!([{"agent": "m", "reference": "human", "factors": ["length"], "n_factors": 1,
                                  "score_differences": {"length": {"estimate": 0.2, "ci95": [0.1, 0.3]}}}]);
        assert_eq!(paths(v.clone()), Vec::<String>::new());
        v["agents"][0]["factor_scores"]["length"]["few_inputs"] = json!("yes");
        v["alignments"][0]["score_differences"]["length"] = json!({"ci95": [0.1, 0.3]});
        assert_eq!(
            paths(v),
            [
                "agents[0].factor_scores.length.few_inputs: expected true or false, found the string \"yes\"",
                "alignments[0].score_differences.length.estimate: is missing (expected a number)",
            ]
        );
    }

    #[test]
    fn groups_are_checked_like_agents() {
        let r = check_value(valid()).unwrap();
        assert_eq!(
            r.groups.unwrap().groups[0].differences["length"].verdict,
            "too few inputs"
        );
        let mut v = valid();
        v["groups"]["groups"][0]["factor_scores"]["length"]["score"] = json!(3.0);
        v["groups"]["groups"][0]["differences"]["length"]["ci95"] = json!([-0.5, 2.5]);
        v["groups"]["groups"][0]
            .as_object_mut()
            .unwrap()
            .remove("value");
        assert_eq!(
            paths(v.clone()),
            ["groups.groups[0].value: is missing (expected a string)"]
        );
        v["groups"]["groups"][0]["value"] = json!("qa");
        assert_eq!(
            paths(v),
            [
                "groups.groups[0].factor_scores.length.score: a factor score lies between −1 and 1, found 3",
                "groups.groups[0].differences.length: a difference of two factor scores lies between −2 and 2, found 2.5",
            ]
        );
    }

    #[test]
    fn numbers_obey_their_ranges() {
        let mut v = valid();
        v["agents"][0]["factor_scores"]["length"]["score"] = json!(1e300);
        v["agents"][0]["factor_scores"]["length"]["ci95"] = json!([0.9, 0.1]);
        v["agents"][0]["ranking"] = json!(["length", "<script>"]);
        v["alignments"] = json!([{"agent": "m", "reference": "human", "factors": [], "n_factors": 0,
                                  "kendall_tau": 2.0}]);
        assert_eq!(
            paths(v),
            [
                "agents[0].factor_scores.length.score: a factor score lies between −1 and 1, found 1e300",
                "agents[0].factor_scores.length.ci95: the lower end 0.9 is above the upper end 0.1",
                "agents[0].ranking[1]: \"<script>\" has no entry in this agent's factor_scores",
                "alignments[0].kendall_tau: a correlation lies between −1 and 1, found 2",
            ]
        );
    }

    #[test]
    fn a_guidance_section_passes_and_its_shares_obey_their_ranges() {
        let mut v = valid();
        let cond = |strategy: &str, agreement: f64| {
            json!({"strategy": strategy, "agent": format!("m ({strategy})"), "agreement": agreement,
                   "difference": 0.1, "difference_ci95": [0.0, 0.2], "p_value": 0.3,
                   "factor_scores": {"length": 0.5, "novel_words": null}})
        };
        let choice = json!({"factor": "length", "direction": "over", "sentence": "…",
                            "chosen_by": "evidence", "difference": 0.4, "ci95": [0.1, 0.7]});
        v["guidance"] = json!({"model": "m", "evidence_from": "m (judge)",
            "evidence": [{"factor": "length", "judge": 0.9, "human": 0.5, "difference": 0.4, "ci95": [0.1, 0.7]}],
            "mis": choice, "pairs": 3, "inputs": 2, "few_inputs": true, "bootstrap_resamples": 10,
            "permutations": 4, "permutation_exact": true,
            "conditions": [cond("none", 0.5), cond("mis", 0.6)]});
        assert_eq!(paths(v.clone()), Vec::<String>::new());
        assert!(check_value(v.clone()).unwrap().guidance.is_some());
        v["guidance"]["conditions"][1]["agreement"] = json!(1.5);
        v["guidance"]["conditions"][1]["p_value"] = json!(-0.1);
        v["guidance"]["conditions"][0]["difference_ci95"] = json!([0.3, 0.2]);
        assert_eq!(
            paths(v),
            [
                "guidance.conditions[0].difference_ci95: the lower end 0.3 is above the upper end 0.2",
                "guidance.conditions[1].agreement: a share lies between 0 and 1, found 1.5",
                "guidance.conditions[1].p_value: a share lies between 0 and 1, found -0.1",
            ]
        );
    }

    #[test]
    fn an_improvement_section_passes_and_its_taus_obey_their_ranges() {
        let mut v = valid();
        let alignment = json!({"agent": "m (improved, both)", "reference": "m (judge)",
            "factors": ["length"], "n_factors": 1, "kendall_tau": null, "spearman_rho": null,
            "pearson_r": null});
        let cond = |c: &str| {
            json!({"condition": c, "agent": format!("m (improved, {c})"), "inputs": 2, "pairs": 4,
                   "kendall_tau_human": 0.5, "kendall_tau_human_ci95": [-0.5, 1.0], "n_factors_human": 3,
                   "kendall_tau_evaluator": null, "n_factors_evaluator": 3,
                   "evaluator_alignment": alignment})
        };
        v["improvement"] = json!({"writer": "m", "evaluator": "m (judge)", "inputs_planned": 2,
            "inputs": 2, "questions_per_input": 6.0, "calls": 12, "cache_hits": 0, "failed": 0, "judge_calls": 4,
            "too_few": true, "conditions": [cond("feedback"), cond("both")],
            "items": [{"line": 1, "responses": ["a", "b"], "better": "tie", "justification": "…",
                       "improved_both": "c", "improved_single": ["d", null]}]});
        assert_eq!(paths(v.clone()), Vec::<String>::new());
        assert!(check_value(v.clone()).unwrap().improvement.is_some());
        v["improvement"]["conditions"][1]["kendall_tau_evaluator"] = json!(1.5);
        v["improvement"]["conditions"][0]["kendall_tau_human_ci95"] = json!([0.3, 0.2]);
        assert_eq!(
            paths(v),
            [
                "improvement.conditions[0].kendall_tau_human_ci95: the lower end 0.3 is above the upper end 0.2",
                "improvement.conditions[1].kendall_tau_evaluator: a correlation lies between −1 and 1, found 1.5",
            ]
        );
    }

    #[test]
    fn odd_keys_are_quoted_in_paths() {
        let mut v = valid();
        v["agents"][0]["factor_scores"]["a b\"<x>"] = json!({"score": true});
        let p = paths(v);
        assert!(p[0].starts_with("agents[0].factor_scores[\"a b\\\"<x>\"].score: expected a number or null, found true"), "{p:?}");
    }

    #[test]
    fn not_a_report_at_all() {
        let msg = |t: &str| check_report(t).unwrap_err().to_string();
        assert!(msg("<html>")
            .starts_with("the text is not valid JSON (expected value at line 1 column 1)"));
        assert!(msg("[1,2]").starts_with("expected a PROFILE report"));
        assert!(msg("{}").starts_with("schema: is missing"));
        assert_eq!(
            msg(r#"{"schema": "profile-report/2"}"#),
            "schema: unsupported schema \"profile-report/2\"; this widget reads \"profile-report/1\""
        );
        assert!(
            msg(&format!("{}1{}", "[".repeat(5000), "]".repeat(5000))).contains("recursion limit")
        );
        assert!(msg(r#"{"x": 1e999}"#).contains("number out of range"));
        assert!(msg("").contains("EOF"));
    }

    #[test]
    fn many_problems_are_capped_but_counted() {
        let mut v = valid();
        let scores: serde_json::Map<String, Value> = (0..50)
            .map(|i| (format!("f{i}"), json!({"score": "x"})))
            .collect();
        v["agents"][0]["factor_scores"] = Value::Object(scores);
        let e = check_value(v).unwrap_err();
        assert_eq!(e.problems.len(), MAX_PROBLEMS);
        assert!(e.total > 100);
        assert!(e
            .to_string()
            .ends_with(&format!("… and {} more", e.total - MAX_PROBLEMS)));
    }

    /// Mutates the valid report at every place and checks that the checker
    /// and serde agree on what is well-formed (the number rules aside).
    #[test]
    fn the_check_accepts_exactly_what_serde_accepts() {
        let replacements = [
            Value::Null,
            json!(true),
            json!(-1),
            json!(2.5),
            json!(u64::MAX),
            json!("s"),
            json!([]),
            json!([1.0, 2.0]),
            json!({}),
        ];
        let mut places = Vec::new();
        collect_pointers(&valid(), String::new(), &mut places);
        let mut n = 0;
        for p in &places {
            for r in replacements.iter().cloned().map(Some).chain([None]) {
                let mut v = valid();
                if !mutate(&mut v, p, r) {
                    continue;
                }
                let shape_ok = {
                    let mut c = Checker::default();
                    if let Some(obj) = v.as_object() {
                        c.fields(&mut String::new(), obj, REPORT);
                    }
                    c.problems.is_empty() && v.get("schema") == Some(&json!(SCHEMA))
                };
                let serde_ok = serde_json::from_value::<Report>(v.clone()).is_ok();
                if p != "/schema" {
                    assert_eq!(shape_ok, serde_ok, "at {p}: {v}");
                }
                n += 1;
            }
        }
        assert!(n > 500, "{n} mutations");
    }

    fn collect_pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let p = format!("{at}/{k}");
                    out.push(p.clone());
                    collect_pointers(x, p, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let p = format!("{at}/{i}");
                    out.push(p.clone());
                    collect_pointers(x, p, out);
                }
            }
            _ => {}
        }
    }

    /// Replaces (or, with `None`, deletes) the value at a JSON pointer.
    fn mutate(v: &mut Value, pointer: &str, with: Option<Value>) -> bool {
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        let Some(p) = v.pointer_mut(parent) else {
            return false;
        };
        match (p, with) {
            (Value::Object(m), Some(w)) => {
                m.insert(last.to_owned(), w);
            }
            (Value::Object(m), None) => {
                m.remove(last);
            }
            (Value::Array(a), Some(w)) => a[last.parse::<usize>().unwrap()] = w,
            (Value::Array(a), None) => {
                a.remove(last.parse::<usize>().unwrap());
            }
            _ => return false,
        }
        true
    }
}
