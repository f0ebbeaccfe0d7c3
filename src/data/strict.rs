//! JSON parsing that refuses duplicate object keys.
//!
//! `serde_json` keeps the last of two equal keys without a word, so a record
//! with `"preference"` twice would be read with whichever came last. These
//! functions build the same [`Value`] as `serde_json::from_slice` but fail on
//! the second occurrence of a key, at any depth, with the error's line and
//! column pointing at it. The check is the map's own entry search (one
//! search per key, as a plain insert).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// Parses JSON bytes, refusing duplicate keys.
///
/// # Errors
/// Invalid JSON, trailing characters, or `duplicate key `k`` (with position).
pub fn from_slice(bytes: &[u8]) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Strict.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Parses a JSON text, refusing duplicate keys (see [`from_slice`]).
///
/// # Errors
/// As [`from_slice`].
pub fn from_str(text: &str) -> serde_json::Result<Value> {
    from_slice(text.as_bytes())
}

struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element_seed(Strict)? {
            v.push(x);
        }
        Ok(Value::Array(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            // One search per key: the slot is claimed before the value is read.
            let slot = match m.entry(k) {
                Entry::Vacant(slot) => slot,
                Entry::Occupied(seen) => {
                    return Err(A::Error::custom(format_args!(
                        "duplicate key `{}` (a JSON object may name each key once)",
                        seen.key()
                    )))
                }
            };
            slot.insert(map.next_value_seed(Strict)?);
        }
        Ok(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_values_as_serde_json_and_duplicates_refused() {
        for t in [
            r#"{"a": [1, -2, 3.5, 1e300, "x\u00e9", null, true, {"b": {}}], "c": 18446744073709551615}"#,
            "[]",
            "  \"s\" ",
        ] {
            assert_eq!(
                from_str(t).unwrap(),
                serde_json::from_str::<Value>(t).unwrap()
            );
        }
        let e = from_str(r#"{"a": 1, "b": {"c": 1, "c": 2}}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate key `c`"), "{e}");
        assert_eq!(e.column(), 26, "just after the repeated key");
        assert!(from_str(r#"{"a": 1} x"#).is_err());
        // Escapes that spell the same key are the same key.
        assert!(from_str(r#"{"a": 1, "\u0061": 2}"#).is_err());
    }
}
