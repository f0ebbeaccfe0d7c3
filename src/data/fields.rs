//! The short string fields of the records, kept so that pairs can be
//! grouped by them (`--group-by FIELD`, the app's group selector): `task`,
//! `category`, `subset`, a model id, `article_id`, TL;DR's `info.subreddit`…
//!
//! Every string value at the top level of a record, or one level inside a
//! top-level object (named `info.subreddit`), is a candidate, except the
//! fields the format reads as texts or labels. A field stops being kept
//! (its values are freed, its name stays with the reason) as soon as a
//! value is longer than [`MAX_VALUE_BYTES`] (a text, not a group) or it has
//! more than [`MAX_VALUES`] distinct values; at most [`MAX_FIELDS`] names are
//! looked at. Memory is bounded: per kept field its distinct values and one
//! `u32` per record.

use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

/// The longest value of a kept field, in bytes.
pub const MAX_VALUE_BYTES: usize = 128;
/// The most distinct values a kept field has.
pub const MAX_VALUES: usize = 1000;
/// The most field names looked at (kept or not).
pub const MAX_FIELDS: usize = 32;
/// The record row of a pair that did not come from a record (a writer's
/// generated pairs).
pub const NO_ROW: u32 = u32::MAX;

const ABSENT: u32 = u32::MAX;

#[derive(Clone, Debug, Default)]
struct Column {
    name: String,
    values: Vec<String>,
    index: FxHashMap<String, u32>,
    /// Per record row: the value's index, or [`ABSENT`].
    rows: Vec<u32>,
    /// Why the field is not kept (its values are then freed).
    not_kept: Option<&'static str>,
}

/// The short string fields of every record, by record row.
#[derive(Clone, Debug, Default)]
pub struct RecordFields {
    columns: Vec<Column>,
    rows: u32,
}

impl RecordFields {
    /// Adds one record's fields (those not in `skip`); returns its row.
    pub fn add(&mut self, obj: &Map<String, Value>, skip: &[&str]) -> u32 {
        self.add_with(obj, skip, false)
    }

    /// Adds one row of a table (CSV/TSV), whose cells are all strings: a
    /// cell that is a number is a number, not a group.
    pub fn add_cells(&mut self, obj: &Map<String, Value>, skip: &[&str]) -> u32 {
        self.add_with(obj, skip, true)
    }

    fn add_with(&mut self, obj: &Map<String, Value>, skip: &[&str], cells: bool) -> u32 {
        let is_number = |s: &str| cells && s.trim().parse::<f64>().is_ok_and(f64::is_finite);
        let row = self.rows;
        self.rows = self.rows.saturating_add(1);
        for (k, v) in obj {
            match v {
                Value::String(s) if !skip.contains(&k.as_str()) && !is_number(s) => {
                    self.value(k, s, row)
                }
                Value::Object(inner) => {
                    for (k2, v2) in inner {
                        if let Value::String(s) = v2 {
                            if is_number(s) {
                                continue;
                            }
                            let name = format!("{k}.{k2}");
                            if !skip.contains(&name.as_str()) {
                                self.value(&name, s, row);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        row
    }

    fn value(&mut self, name: &str, value: &str, row: u32) {
        let i = match self.columns.iter().position(|c| c.name == name) {
            Some(i) => i,
            None if self.columns.len() < MAX_FIELDS => {
                self.columns.push(Column {
                    name: name.to_owned(),
                    ..Default::default()
                });
                self.columns.len() - 1
            }
            None => return,
        };
        let c = &mut self.columns[i];
        if c.not_kept.is_some() {
            return;
        }
        let why = if value.len() > MAX_VALUE_BYTES {
            Some("its values are texts (longer than 128 bytes), not groups")
        } else if !c.index.contains_key(value) && c.values.len() >= MAX_VALUES {
            Some("it has more than 1000 distinct values")
        } else {
            None
        };
        if let Some(why) = why {
            *c = Column {
                name: std::mem::take(&mut c.name),
                not_kept: Some(why),
                ..Default::default()
            };
            return;
        }
        let next = c.values.len() as u32;
        let v = *c.index.entry(value.to_owned()).or_insert_with(|| next);
        if v == next {
            c.values.push(value.to_owned());
        }
        c.rows.resize(row as usize, ABSENT);
        c.rows.push(v);
    }

    /// The names of the kept fields, in the order first seen.
    pub fn names(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| c.not_kept.is_none())
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Fields seen but not kept, with why.
    pub fn not_kept(&self) -> Vec<(&str, &'static str)> {
        self.columns
            .iter()
            .filter_map(|c| c.not_kept.map(|w| (c.name.as_str(), w)))
            .collect()
    }

    /// The kept field `name`: its values by row.
    ///
    /// # Errors
    /// Why it cannot be grouped by: not kept (with the reason), or not a
    /// string field of the records (with the names that are).
    pub fn field(&self, name: &str) -> Result<FieldValues<'_>, String> {
        match self.columns.iter().find(|c| c.name == name) {
            Some(c) => match c.not_kept {
                None => Ok(FieldValues { column: c }),
                Some(why) => Err(format!("{} cannot group pairs: {why}", quoted(name))),
            },
            None => {
                let names = self.names();
                Err(format!(
                    "no record has a short string field {}; {}",
                    quoted(name),
                    if names.is_empty() {
                        "the records have none to group by".to_owned()
                    } else {
                        format!("fields to group by: {}", names.join(", "))
                    }
                ))
            }
        }
    }
}

/// `name` in backquotes for a message: without control characters, and
/// shortened to its first 40 characters (with its length) when longer.
fn quoted(name: &str) -> String {
    const SHOWN: usize = 40;
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(SHOWN + 1)
        .collect();
    if clean.chars().count() <= SHOWN {
        return format!("`{clean}`");
    }
    let head: String = clean.chars().take(SHOWN).collect();
    format!("`{head}…` ({} characters)", name.chars().count())
}

/// One kept field's values.
#[derive(Clone, Copy, Debug)]
pub struct FieldValues<'a> {
    column: &'a Column,
}

impl<'a> FieldValues<'a> {
    /// The value of record `row`, if it has the field.
    pub fn get(&self, row: u32) -> Option<&'a str> {
        let v = *self.column.rows.get(row as usize)?;
        self.column.values.get(v as usize).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: serde_json::Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn short_strings_are_kept_texts_and_many_values_are_not() {
        let mut f = RecordFields::default();
        let skip = ["response_a"];
        let r0 = f.add(
            &obj(serde_json::json!({"task": "qa", "response_a": "x", "n": 3, "info": {"subreddit": "cats", "score": 1}})),
            &skip,
        );
        let r1 = f.add(
            &obj(serde_json::json!({"task": "chat", "note": "y".repeat(200)})),
            &skip,
        );
        let r2 = f.add(
            &obj(serde_json::json!({"info": {"subreddit": "dogs"}})),
            &skip,
        );
        assert_eq!(f.names(), ["info.subreddit", "task"]);
        assert_eq!(
            f.not_kept(),
            [(
                "note",
                "its values are texts (longer than 128 bytes), not groups"
            )]
        );
        let task = f.field("task").unwrap();
        assert_eq!(
            (task.get(r0), task.get(r1), task.get(r2)),
            (Some("qa"), Some("chat"), None)
        );
        let sub = f.field("info.subreddit").unwrap();
        assert_eq!(
            (sub.get(r0), sub.get(r1), sub.get(r2)),
            (Some("cats"), None, Some("dogs"))
        );
        assert_eq!(task.get(NO_ROW), None);
        assert!(f.field("note").unwrap_err().contains("texts"));
        assert!(f
            .field("response_a")
            .unwrap_err()
            .contains("fields to group by: info.subreddit, task"));
        for i in 0..=MAX_VALUES {
            f.add(&obj(serde_json::json!({"id": i.to_string()})), &skip);
        }
        assert!(f.field("id").unwrap_err().contains("more than 1000"));
    }
}
