//! OpenAI Chat Completions, spoken by `openai` and `openai-compatible`
//! servers (llama.cpp, Ollama, vLLM, OpenRouter, Together, …): the request
//! (`{base}/chat/completions`, `authorization: Bearer`), structured output
//! (`response_format: json_schema`, `strict` when the schema allows it, or
//! `json_object`), the reply with its top logprobs, the error code that
//! tells an empty account from a rate limit, the OpenAI Batch API lines, the
//! default models and the list prices.

use serde_json::{json, Map, Value};

use super::{
    parse_response, schema_name, shape_error, sort_alternatives, truncate_chars, u64_at,
    BatchLineError, BatchService, CallError, Completion, Endpoint, ModelConfig, Provider,
    StructuredOutput, Usage, MAX_MESSAGE_CHARS, REQUEST_NOT_RESULT, TOP_LOGPROBS,
};
use crate::llm::Prompt;

/// The model suggested for `openai`.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// The model suggested for `openai-compatible` (servers such as llama.cpp
/// answer whatever model is loaded).
pub const COMPATIBLE_DEFAULT_MODEL: &str = "local";

/// (model id prefix, input $/M, output $/M) of OpenAI's models, list prices
/// as this table was written; the longest matching prefix wins
/// ([`price_of`](crate::llm::pricing::price_of)).
pub const PRICES: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-5-mini", 0.25, 2.00),
    ("gpt-5", 1.25, 10.00),
];

/// Input and output $/M of an `openai-compatible` server: local servers
/// cost nothing unless a price is given.
pub const COMPATIBLE_PRICE: (f64, f64) = (0.0, 0.0);

/// The OpenAI Batch API: 50,000 requests and 100 MB per input file (the
/// lower of the sizes OpenAI has published).
pub const BATCH: BatchService = BatchService {
    name: "OpenAI Batch API",
    max_requests: 50_000,
    max_bytes: 100_000_000,
};

/// `{base}/chat/completions`, the key as `authorization: Bearer …`.
pub(super) fn endpoint(cfg: &ModelConfig) -> Endpoint {
    Endpoint {
        url: format!("{}/chat/completions", cfg.effective_base_url()),
        key_header: "authorization",
        key_prefix: "Bearer ",
        extra_headers: &[],
    }
}

/// The Chat Completions request body.
pub(super) fn body(cfg: &ModelConfig, prompt: &Prompt) -> Value {
    let mut messages = Vec::new();
    if !prompt.system.is_empty() {
        messages.push(json!({"role": "system", "content": prompt.system}));
    }
    messages.push(json!({"role": "user", "content": prompt.user}));
    let d = &cfg.decoding;
    let mut body = Map::new();
    body.insert("model".into(), json!(cfg.model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("temperature".into(), json!(d.temperature));
    body.insert("top_p".into(), json!(d.top_p));
    let max_key = match cfg.provider {
        Provider::OpenAi => "max_completion_tokens",
        _ => "max_tokens",
    };
    body.insert(max_key.into(), json!(d.max_tokens));
    if let Some(schema) = &prompt.schema {
        match cfg.structured_output {
            StructuredOutput::Schema => {
                body.insert(
                    "response_format".into(),
                    json!({
                        "type": "json_schema",
                        "json_schema": {
                            "name": schema_name(prompt),
                            "schema": schema,
                            "strict": openai_strict_compatible(schema),
                        }
                    }),
                );
            }
            StructuredOutput::JsonObject => {
                body.insert("response_format".into(), json!({"type": "json_object"}));
            }
            StructuredOutput::Off => {}
        }
    }
    if cfg.requests_logprobs(prompt) {
        body.insert("logprobs".into(), json!(true));
        body.insert("top_logprobs".into(), json!(TOP_LOGPROBS));
    }
    Value::Object(body)
}

/// Whether `schema` satisfies OpenAI's strict structured-output rules as far
/// as objects go: every object schema sets `additionalProperties: false` and
/// lists all of its properties in `required`, recursively.
pub fn openai_strict_compatible(schema: &Value) -> bool {
    let Some(m) = schema.as_object() else {
        return true;
    };
    let is_object = match m.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        _ => m.contains_key("properties"),
    };
    if is_object {
        if m.get("additionalProperties") != Some(&Value::Bool(false)) {
            return false;
        }
        let required: Vec<&str> = m
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = m.get("properties").and_then(Value::as_object) {
            if !props.keys().all(|k| required.contains(&k.as_str())) {
                return false;
            }
        }
    }
    let maps = ["properties", "$defs", "definitions"];
    for key in maps {
        if let Some(sub) = m.get(key).and_then(Value::as_object) {
            if !sub.values().all(openai_strict_compatible) {
                return false;
            }
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(sub) = m.get(key).and_then(Value::as_array) {
            if !sub.iter().all(openai_strict_compatible) {
                return false;
            }
        }
    }
    match m.get("items") {
        Some(Value::Array(items)) => items.iter().all(openai_strict_compatible),
        Some(items) => openai_strict_compatible(items),
        None => true,
    }
}

/// The `error.code` (else `error.type`) of an error body, e.g.
/// `insufficient_quota`.
pub(super) fn error_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let e = v.get("error")?;
    e.get("code")
        .and_then(Value::as_str)
        .or_else(|| e.get("type").and_then(Value::as_str))
        .map(str::to_string)
}

/// A Chat Completions reply.
pub(super) fn parse(v: &Value, body: &str) -> Result<Completion, CallError> {
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| shape_error("no choices[0] in reply", body))?;
    let message = choice
        .get("message")
        .ok_or_else(|| shape_error("no choices[0].message in reply", body))?;
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    let usage = Usage {
        input_tokens: u64_at(v, "/usage/prompt_tokens"),
        output_tokens: u64_at(v, "/usage/completion_tokens"),
    };
    if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
        return Err(CallError::Refused(truncate_chars(
            refusal,
            MAX_MESSAGE_CHARS,
        )));
    }
    // Content is a string, or (some compatible servers) an array of parts.
    let text = match message.get("content") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(parts)) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<String>(),
        ),
        _ => None,
    };
    match finish.as_deref() {
        Some("length") => {
            return Err(CallError::Truncated {
                partial: text.unwrap_or_default(),
                usage,
            })
        }
        Some("content_filter") => {
            return Err(CallError::Refused(
                "the reply was stopped by the content filter".into(),
            ))
        }
        _ => {}
    }
    let text = text.ok_or_else(|| shape_error("no text content in choices[0].message", body))?;
    let first_token_logprobs = choice.pointer("/logprobs/content/0").and_then(top_logprobs);
    let token_logprobs = choice
        .pointer("/logprobs/content")
        .and_then(Value::as_array)
        .map(|positions| {
            positions
                .iter()
                .map(|entry| top_logprobs(entry).unwrap_or_default())
                .collect::<Vec<_>>()
        })
        .filter(|positions| positions.iter().any(|alts| !alts.is_empty()));
    Ok(Completion {
        text,
        first_token_logprobs,
        token_logprobs,
        usage,
        finish,
        model: v.get("model").and_then(Value::as_str).map(str::to_string),
    })
}

/// The alternatives of one OpenAI `logprobs.content[i]` entry: its
/// `top_logprobs` (a list of `{token, logprob}`, or a `{token: logprob}` map
/// on some compatible servers), else the chosen token alone.
fn top_logprobs(entry: &Value) -> Option<Vec<(String, f64)>> {
    let pair = |t: &Value| -> Option<(String, f64)> {
        Some((
            t.get("token")?.as_str()?.to_string(),
            t.get("logprob")?.as_f64()?,
        ))
    };
    let mut out: Vec<(String, f64)> = match entry.get("top_logprobs") {
        Some(Value::Array(alts)) => alts.iter().filter_map(pair).collect(),
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, lp)| Some((k.clone(), lp.as_f64()?)))
            .collect(),
        _ => Vec::new(),
    };
    if out.is_empty() {
        out.extend(pair(entry));
    }
    sort_alternatives(&mut out);
    (!out.is_empty()).then_some(out)
}

/// One OpenAI Batch API input line (without the newline): `custom_id`
/// first, then the request `body` exactly as a live call sends it.
pub fn batch_request_line(custom_id: &str, body: &str) -> String {
    let id = Value::String(custom_id.to_owned());
    format!(r#"{{"custom_id":{id},"method":"POST","url":"/v1/chat/completions","body":{body}}}"#)
}

/// The completion in an OpenAI Batch API result line.
pub fn batch_result(v: &Value, provider: Provider) -> Result<Completion, BatchLineError> {
    match v.get("response").filter(|r| !r.is_null()) {
        Some(r) => {
            let status = r
                .get("status_code")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .ok_or(("response.status_code", "no HTTP status code".to_owned()))?;
            let body = match r.get("body") {
                Some(Value::String(s)) => s.clone(),
                Some(b) if !b.is_null() => b.to_string(),
                _ => return Err(("response.body", "no response body".into())),
            };
            parse_response(provider, status, &[], &body).map_err(|e| ("response", e.to_string()))
        }
        None => Err(match v.get("error").filter(|e| !e.is_null()) {
            Some(e) => (
                "error",
                format!(
                    "the batch reported an error: {}",
                    super::batch_error_text(e)
                ),
            ),
            None if v.get("body").is_some() => ("response", REQUEST_NOT_RESULT.into()),
            None => ("response", "neither a response nor an error".into()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_detection() {
        let strict = json!({
            "type": "object", "additionalProperties": false, "required": ["a", "b"],
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "array", "items": {
                    "type": "object", "additionalProperties": false, "required": ["c"],
                    "properties": {"c": {"type": "string", "enum": ["yes", "no"]}}}}
            }
        });
        assert!(openai_strict_compatible(&strict));
        let mut loose = strict.clone();
        loose["properties"]["b"]["items"]
            .as_object_mut()
            .unwrap()
            .remove("additionalProperties");
        assert!(!openai_strict_compatible(&loose));
        let mut optional = strict.clone();
        optional["required"] = json!(["a"]);
        assert!(!openai_strict_compatible(&optional));
        assert!(openai_strict_compatible(&json!({"type": "string"})));
    }

    #[test]
    fn batch_lines() {
        assert_eq!(
            batch_request_line("k", r#"{"model":"m"}"#),
            r#"{"custom_id":"k","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}"#
        );
        let reply = json!({"choices": [{"message": {"content": "no"}, "finish_reason": "stop"}]});
        for body in [reply.clone(), Value::String(reply.to_string())] {
            let line = json!({"custom_id": "k", "response": {"status_code": 200, "body": body}});
            assert_eq!(batch_result(&line, Provider::OpenAi).unwrap().text, "no");
        }
        let line = json!({"custom_id": "k", "response": {"status_code": 429, "body": {}}});
        assert_eq!(
            batch_result(&line, Provider::OpenAi).unwrap_err(),
            ("response", "rate limited (HTTP 429)".into())
        );
        let line = json!({"custom_id": "k", "response": null,
            "error": {"code": "batch_expired", "message": "too late"}});
        assert_eq!(
            batch_result(&line, Provider::OpenAi).unwrap_err(),
            (
                "error",
                "the batch reported an error: batch_expired: too late".into()
            )
        );
        let line = json!({"custom_id": "k", "method": "POST", "body": {}});
        assert_eq!(
            batch_result(&line, Provider::OpenAi).unwrap_err(),
            ("response", REQUEST_NOT_RESULT.into())
        );
        let line = json!({"custom_id": "k", "response": {"body": {}}});
        assert_eq!(
            batch_result(&line, Provider::OpenAi).unwrap_err().0,
            "response.status_code"
        );
    }
}
