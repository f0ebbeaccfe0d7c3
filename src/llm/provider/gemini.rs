//! Google Gemini API (`generateContent`, v1beta): the request
//! (`{base}/v1beta/models/{model}:generateContent`, `x-goog-api-key`), the
//! `responseSchema` dialect ([`gemini_schema`]), the reply (thought parts
//! skipped, blocked prompts and replies), token logprobs, the `RetryInfo`
//! delay of a 429, the default model and the list prices. Gemini's batch
//! mode is not supported.

use serde_json::{json, Map, Value};

use super::http::{parse_seconds, percent_encode};
use super::{
    shape_error, sort_alternatives, u64_at, CallError, Completion, Endpoint, ModelConfig,
    StructuredOutput, Usage, TOP_LOGPROBS,
};
use crate::llm::Prompt;

/// The model suggested for `gemini`.
pub const DEFAULT_MODEL: &str = "gemini-2.5-flash";

/// (model id prefix, input $/M, output $/M) of Gemini's models, list prices
/// as this table was written.
pub const PRICES: &[(&str, f64, f64)] = &[
    ("gemini-2.0-flash", 0.10, 0.40),
    ("gemini-2.5-flash-lite", 0.10, 0.40),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("gemini-2.5-pro", 1.25, 10.00),
];

/// `{base}/v1beta/models/{model}:generateContent` (a `models/` prefix of
/// the model id dropped, the id percent-encoded), the key in
/// `x-goog-api-key`, never in the URL.
pub(super) fn endpoint(cfg: &ModelConfig) -> Endpoint {
    let model = cfg.model.trim();
    let model = model.strip_prefix("models/").unwrap_or(model);
    Endpoint {
        url: format!(
            "{}/v1beta/models/{}:generateContent",
            cfg.effective_base_url(),
            percent_encode(model)
        ),
        key_header: "x-goog-api-key",
        key_prefix: "",
        extra_headers: &[],
    }
}

/// The `generateContent` request body.
pub(super) fn body(cfg: &ModelConfig, prompt: &Prompt) -> Value {
    let d = &cfg.decoding;
    let mut gen = Map::new();
    gen.insert("temperature".into(), json!(d.temperature));
    gen.insert("topP".into(), json!(d.top_p));
    gen.insert("maxOutputTokens".into(), json!(d.max_tokens));
    if let Some(schema) = &prompt.schema {
        match cfg.structured_output {
            StructuredOutput::Schema => {
                gen.insert("responseMimeType".into(), json!("application/json"));
                gen.insert("responseSchema".into(), gemini_schema(schema));
            }
            StructuredOutput::JsonObject => {
                gen.insert("responseMimeType".into(), json!("application/json"));
            }
            StructuredOutput::Off => {}
        }
    }
    if cfg.requests_logprobs(prompt) {
        gen.insert("responseLogprobs".into(), json!(true));
        gen.insert("logprobs".into(), json!(TOP_LOGPROBS));
    }
    let mut body = Map::new();
    if !prompt.system.is_empty() {
        body.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": prompt.system}]}),
        );
    }
    body.insert(
        "contents".into(),
        json!([{"role": "user", "parts": [{"text": prompt.user}]}]),
    );
    body.insert("generationConfig".into(), Value::Object(gen));
    Value::Object(body)
}

/// Converts a JSON schema to the OpenAPI 3.0 subset Gemini's
/// `responseSchema` accepts.
///
/// * Kept: `type` (upper-cased, e.g. `OBJECT`), `description`, `title`,
///   `nullable`, `enum`, `properties`, `required`, `items`, `anyOf`,
///   `minItems`/`maxItems`, `minLength`/`maxLength`, `pattern`,
///   `minimum`/`maximum`, `minProperties`/`maxProperties`, `example`,
///   `default`, and `format` when it is `enum` or `date-time` (the only
///   formats the Gemini Developer API accepts).
/// * Rewritten: `type: [T, "null"]` → `type: T, nullable: true`; `const: x`
///   → `enum: [x]`; `oneOf` → `anyOf`; an `anyOf` member `{"type": "null"}`
///   → `nullable: true` (a single remaining member is inlined); enum values
///   become strings (Gemini's enums are strings); `required` keeps only
///   names that are properties; a missing `type` next to `properties` is
///   `OBJECT`.
/// * Added: `propertyOrdering` (Gemini otherwise orders keys
///   alphabetically): the `required` names in their order, then any other
///   properties.
/// * Dropped: everything else, notably `additionalProperties`, `$schema`,
///   `$id`, `$ref`/`$defs` (not resolved: schemas sent here should be
///   self-contained), `allOf`, `not`, `if`/`then`/`else`, `examples`.
pub fn gemini_schema(schema: &Value) -> Value {
    let Some(m) = schema.as_object() else {
        // `true` / `false` schemas have no Gemini equivalent: no constraint.
        return json!({});
    };
    let mut out = Map::new();
    let mut nullable = m.get("nullable").and_then(Value::as_bool).unwrap_or(false);

    match m.get("type") {
        Some(Value::String(t)) if t == "null" => nullable = true,
        Some(Value::String(t)) => {
            out.insert("type".into(), json!(t.to_ascii_uppercase()));
        }
        Some(Value::Array(ts)) => {
            let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
            if names.contains(&"null") {
                nullable = true;
            }
            let non_null: Vec<&str> = names.into_iter().filter(|t| *t != "null").collect();
            match non_null.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".into(), json!(one.to_ascii_uppercase()));
                }
                many => {
                    let alts: Vec<Value> = many
                        .iter()
                        .map(|t| json!({"type": t.to_ascii_uppercase()}))
                        .collect();
                    out.insert("anyOf".into(), Value::Array(alts));
                }
            }
        }
        _ => {
            if m.contains_key("properties") {
                out.insert("type".into(), json!("OBJECT"));
            }
        }
    }

    for key in [
        "description",
        "title",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "minProperties",
        "maxProperties",
        "example",
        "default",
    ] {
        if let Some(v) = m.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(f @ Value::String(s)) = m.get("format") {
        if s == "enum" || s == "date-time" {
            out.insert("format".into(), f.clone());
        }
    }

    let enum_values = match (m.get("enum"), m.get("const")) {
        (Some(Value::Array(vs)), _) => Some(vs.clone()),
        (None, Some(c)) => Some(vec![c.clone()]),
        _ => None,
    };
    if let Some(vs) = enum_values {
        let mut strings = Vec::new();
        for v in vs {
            match v {
                Value::Null => nullable = true,
                Value::String(s) => strings.push(Value::String(s)),
                other => strings.push(Value::String(other.to_string())),
            }
        }
        out.insert("enum".into(), Value::Array(strings));
        if !out.contains_key("type") {
            out.insert("type".into(), json!("STRING"));
        }
    }

    if let Some(props) = m.get("properties").and_then(Value::as_object) {
        let converted: Map<String, Value> = props
            .iter()
            .map(|(k, v)| (k.clone(), gemini_schema(v)))
            .collect();
        let required: Vec<String> = m
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .filter(|n| props.contains_key(*n))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let mut ordering = required.clone();
        ordering.extend(props.keys().filter(|k| !required.contains(k)).cloned());
        out.insert("properties".into(), Value::Object(converted));
        if !required.is_empty() {
            out.insert("required".into(), json!(required));
        }
        if !ordering.is_empty() {
            out.insert("propertyOrdering".into(), json!(ordering));
        }
    }

    match m.get("items") {
        Some(Value::Array(tuple)) => {
            if let Some(first) = tuple.first() {
                out.insert("items".into(), gemini_schema(first));
            }
        }
        Some(items) => {
            out.insert("items".into(), gemini_schema(items));
        }
        None => {}
    }

    let any_of = m
        .get("anyOf")
        .or_else(|| m.get("oneOf"))
        .and_then(Value::as_array);
    if let Some(alts) = any_of {
        let mut kept = Vec::new();
        for alt in alts {
            if alt.get("type").and_then(Value::as_str) == Some("null")
                && alt.as_object().is_some_and(|a| a.len() == 1)
            {
                nullable = true;
            } else {
                kept.push(gemini_schema(alt));
            }
        }
        if kept.len() == 1 {
            if let Some(Value::Object(only)) = kept.pop() {
                for (k, v) in only {
                    out.entry(k).or_insert(v);
                }
            }
        } else if !kept.is_empty() {
            out.insert("anyOf".into(), Value::Array(kept));
        }
    }

    if nullable {
        out.insert("nullable".into(), json!(true));
    }
    Value::Object(out)
}

/// Whether a 400 body says the key is invalid (Gemini answers a bad key
/// with 400 `API_KEY_INVALID`, not 401).
pub(super) fn key_invalid(body: &str) -> bool {
    body.contains("API_KEY_INVALID")
}

/// Gemini's `RetryInfo.retryDelay` (e.g. `"37s"`) from a 429 body, in
/// seconds.
pub(super) fn retry_delay(body: &str) -> Option<f64> {
    let v: Value = serde_json::from_str(body).ok()?;
    let details = v.pointer("/error/details")?.as_array()?;
    details.iter().find_map(|d| {
        let delay = d.get("retryDelay")?.as_str()?;
        parse_seconds(delay.strip_suffix('s')?)
    })
}

/// Finish reasons that mean a filter or policy stopped the reply.
const BLOCKED: [&str; 7] = [
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "LANGUAGE",
];

/// A `generateContent` reply.
pub(super) fn parse(v: &Value, body: &str) -> Result<Completion, CallError> {
    let usage = Usage {
        input_tokens: u64_at(v, "/usageMetadata/promptTokenCount"),
        output_tokens: u64_at(v, "/usageMetadata/candidatesTokenCount")
            + u64_at(v, "/usageMetadata/thoughtsTokenCount"),
    };
    let candidate = v
        .get("candidates")
        .and_then(Value::as_array)
        .and_then(|c| c.first());
    let Some(candidate) = candidate else {
        if let Some(reason) = v
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
        {
            return Err(CallError::Refused(format!("prompt blocked ({reason})")));
        }
        return Err(shape_error("no candidates[0] in reply", body));
    };
    let finish = candidate
        .get("finishReason")
        .and_then(Value::as_str)
        .map(str::to_string);
    // Text parts, skipping thought summaries (`thought: true`).
    let text: Option<String> = candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect()
        });
    match finish.as_deref() {
        Some("MAX_TOKENS") => {
            return Err(CallError::Truncated {
                partial: text.unwrap_or_default(),
                usage,
            })
        }
        Some(reason) if BLOCKED.contains(&reason) => {
            return Err(CallError::Refused(format!("reply blocked ({reason})")))
        }
        _ => {}
    }
    let text = text.ok_or_else(|| {
        shape_error(
            &format!(
                "no content.parts in candidates[0] (finishReason {})",
                finish.as_deref().unwrap_or("missing")
            ),
            body,
        )
    })?;
    let token_logprobs = token_logprobs(candidate);
    let first_token_logprobs = token_logprobs
        .as_ref()
        .and_then(|positions| positions.first())
        .filter(|alts| !alts.is_empty())
        .cloned();
    Ok(Completion {
        text,
        first_token_logprobs,
        token_logprobs,
        usage,
        finish,
        model: v
            .get("modelVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// The per-position alternatives: `logprobsResult.topCandidates[i]
/// .candidates` (`{token, logProbability}`), else the chosen token alone
/// (`chosenCandidates[i]`), sorted most likely first. `None` when neither
/// list is there or every position is empty.
fn token_logprobs(candidate: &Value) -> Option<Vec<Vec<(String, f64)>>> {
    let pair = |a: &Value| -> Option<(String, f64)> {
        Some((
            a.get("token")?.as_str()?.to_string(),
            a.get("logProbability")?.as_f64()?,
        ))
    };
    let top = candidate
        .pointer("/logprobsResult/topCandidates")
        .and_then(Value::as_array);
    let chosen = candidate
        .pointer("/logprobsResult/chosenCandidates")
        .and_then(Value::as_array);
    let n = top.map_or(0, Vec::len).max(chosen.map_or(0, Vec::len));
    let positions: Vec<Vec<(String, f64)>> = (0..n)
        .map(|i| {
            let mut alts: Vec<(String, f64)> = top
                .and_then(|t| t.get(i))
                .and_then(|p| p.get("candidates"))
                .and_then(Value::as_array)
                .map(|cs| cs.iter().filter_map(pair).collect())
                .unwrap_or_default();
            if alts.is_empty() {
                alts.extend(chosen.and_then(|c| c.get(i)).and_then(pair));
            }
            sort_alternatives(&mut alts);
            alts
        })
        .collect();
    positions
        .iter()
        .any(|alts| !alts.is_empty())
        .then_some(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_retry_info() {
        let body = r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}"#;
        assert_eq!(retry_delay(body), Some(37.0));
        assert_eq!(retry_delay("{}"), None);
        assert_eq!(retry_delay("not json"), None);
    }

    #[test]
    fn gemini_dialect() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": false,
            "required": ["verdict", "justification"],
            "properties": {
                "justification": {"type": "string", "description": "why"},
                "verdict": {"enum": ["yes", "no", null]},
                "score": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                "kind": {"const": "x"},
                "date": {"type": "string", "format": "date-time"},
                "mail": {"type": "string", "format": "email"},
                "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "items": {"type": "array", "items": {"type": "number"}, "minItems": 5, "maxItems": 5}
            }
        });
        let g = gemini_schema(&schema);
        assert_eq!(
            g,
            json!({
                "type": "OBJECT",
                "required": ["verdict", "justification"],
                "propertyOrdering": ["verdict", "justification", "date", "items", "kind", "mail", "maybe", "score"],
                "properties": {
                    "justification": {"type": "STRING", "description": "why"},
                    "verdict": {"type": "STRING", "enum": ["yes", "no"], "nullable": true},
                    "score": {"type": "INTEGER", "minimum": 1, "maximum": 5, "nullable": true},
                    "kind": {"type": "STRING", "enum": ["x"]},
                    "date": {"type": "STRING", "format": "date-time"},
                    "mail": {"type": "STRING"},
                    "maybe": {"type": "STRING", "nullable": true},
                    "items": {"type": "ARRAY", "items": {"type": "NUMBER"}, "minItems": 5, "maxItems": 5}
                }
            })
        );
        assert_eq!(gemini_schema(&json!(true)), json!({}));
        assert_eq!(
            gemini_schema(&json!({"enum": [1, 2]})),
            json!({"type": "STRING", "enum": ["1", "2"]})
        );
        assert_eq!(
            gemini_schema(&json!({"oneOf": [{"type": "string"}, {"type": "integer"}]})),
            json!({"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]})
        );
    }
}
