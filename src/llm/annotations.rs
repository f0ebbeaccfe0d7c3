//! Bring-your-own annotations: factor values computed elsewhere (another
//! tool, a human pass, an earlier study) for response texts.
//!
//! JSONL, one response per line:
//! `{"text": "<the response, exactly as in the dataset>", "factors": {"n_facts": 3, "hallucination": 0.25}}`.
//! Values are numbers on the factor's own scale (METHOD.md §4). Bad lines and
//! unknown factors are reported with their line and skipped.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::data::Diagnostic;
use crate::factors::Factor;

/// Imported factor values, by response text.
#[derive(Clone, Debug, Default)]
pub struct Annotations {
    map: FxHashMap<String, Vec<(Factor, f64)>>,
    factors: BTreeSet<Factor>,
}

impl Annotations {
    /// Parses annotation JSONL; returns the annotations and one diagnostic per problem.
    pub fn parse_jsonl(text: &str) -> (Annotations, Vec<Diagnostic>) {
        let mut a = Annotations::default();
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(Diagnostic::new(n, None, format!("invalid JSON: {e}")));
                    continue;
                }
            };
            let Some(t) = v.get("text").and_then(Value::as_str) else {
                problems.push(Diagnostic::new(n, Some("text"), "missing or not a string"));
                continue;
            };
            let Some(fs) = v.get("factors").and_then(Value::as_object) else {
                problems.push(Diagnostic::new(
                    n,
                    Some("factors"),
                    "missing or not an object of factor values",
                ));
                continue;
            };
            let mut vals = Vec::new();
            for (k, x) in fs {
                let field = format!("factors.{k}");
                match (Factor::from_id(k), x.as_f64().filter(|x| x.is_finite())) {
                    (Some(f), Some(x)) => vals.push((f, x)),
                    (None, _) => problems.push(Diagnostic::new(n, Some(&field), "unknown factor")),
                    (_, None) => {
                        problems.push(Diagnostic::new(n, Some(&field), "not a finite number"))
                    }
                }
            }
            for (f, _) in &vals {
                a.factors.insert(*f);
            }
            let entry = a.map.entry(t.to_owned()).or_default();
            for (f, x) in vals {
                match entry.iter_mut().find(|(g, _)| *g == f) {
                    Some(slot) => slot.1 = x,
                    None => entry.push((f, x)),
                }
            }
        }
        (a, problems)
    }

    /// The imported value of `f` for a response text.
    pub fn get(&self, text: &str, f: Factor) -> Option<f64> {
        self.map
            .get(text)?
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, x)| *x)
    }

    /// Factors with at least one imported value.
    pub fn factors(&self) -> &BTreeSet<Factor> {
        &self.factors
    }

    /// Responses annotated.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values_and_reports_problems() {
        let text = r#"{"text": "a", "factors": {"n_facts": 3, "hallucination": 0.5}}
{"text": "b", "factors": {"n_facts": 1, "bogus": 2, "fluency": "x"}}
not json
{"factors": {}}
{"text": "a", "factors": {"n_facts": 4}}"#;
        let (a, p) = Annotations::parse_jsonl(text);
        assert_eq!(a.len(), 2);
        assert_eq!(a.get("a", Factor::NFacts), Some(4.0), "a later line wins");
        assert_eq!(a.get("a", Factor::Hallucination), Some(0.5));
        assert_eq!(a.get("b", Factor::Fluency), None);
        let located: Vec<(u64, Option<&str>)> =
            p.iter().map(|d| (d.line, d.field.as_deref())).collect();
        assert_eq!(
            located,
            [
                (2, Some("factors.bogus")),
                (2, Some("factors.fluency")),
                (3, None),
                (4, Some("text"))
            ]
        );
        assert_eq!(
            a.factors().iter().copied().collect::<Vec<_>>(),
            [Factor::NFacts, Factor::Hallucination]
        );
    }
}
