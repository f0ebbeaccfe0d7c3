//! Anthropic Messages API (version `2023-06-01`): the request
//! (`{base}/v1/messages`, `x-api-key`), structured output as a forced tool
//! call, the reply (tool input or text, cache tokens counted as input,
//! refusals), the Message Batches lines, the default model and the list
//! prices. Anthropic returns no log-probabilities.

use serde_json::{json, Map, Value};

use super::{
    parse_response, schema_name, shape_error, truncate_chars, u64_at, BatchLineError, BatchService,
    CallError, Completion, Endpoint, ModelConfig, Provider, StructuredOutput, Usage,
    MAX_MESSAGE_CHARS, REQUEST_NOT_RESULT,
};
use crate::llm::Prompt;

/// The model suggested for `anthropic`.
pub const DEFAULT_MODEL: &str = "claude-haiku-4-5";

/// (model id prefix, input $/M, output $/M) of Anthropic's models, list
/// prices as this table was written.
pub const PRICES: &[(&str, f64, f64)] = &[
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-haiku-4", 1.00, 5.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-opus-4", 15.00, 75.00),
];

/// Anthropic Message Batches: 100,000 requests and 256 MB per batch, less
/// a little room for the `{"requests": […]}` the lines are wrapped in when
/// submitted.
pub const BATCH: BatchService = BatchService {
    name: "Anthropic Message Batches",
    max_requests: 100_000,
    max_bytes: 255_000_000,
};

/// `{base}/v1/messages`, the key in `x-api-key`, then the API version and
/// the header that lets a browser call the API directly.
pub(super) fn endpoint(cfg: &ModelConfig) -> Endpoint {
    Endpoint {
        url: format!("{}/v1/messages", cfg.effective_base_url()),
        key_header: "x-api-key",
        key_prefix: "",
        extra_headers: &[
            ("anthropic-version", "2023-06-01"),
            ("anthropic-dangerous-direct-browser-access", "true"),
        ],
    }
}

/// The Messages request body.
pub(super) fn body(cfg: &ModelConfig, prompt: &Prompt) -> Value {
    let d = &cfg.decoding;
    let mut body = Map::new();
    body.insert("model".into(), json!(cfg.model));
    body.insert("max_tokens".into(), json!(d.max_tokens));
    if !prompt.system.is_empty() {
        body.insert("system".into(), json!(prompt.system));
    }
    body.insert(
        "messages".into(),
        json!([{"role": "user", "content": prompt.user}]),
    );
    body.insert("temperature".into(), json!(d.temperature));
    if let (Some(schema), StructuredOutput::Schema) = (&prompt.schema, cfg.structured_output) {
        let name = schema_name(prompt);
        body.insert(
            "tools".into(),
            json!([{
                "name": name,
                "description": "Record your answer. Its input is the reply, in the required JSON structure.",
                "input_schema": schema,
            }]),
        );
        body.insert("tool_choice".into(), json!({"type": "tool", "name": name}));
    }
    Value::Object(body)
}

/// A Messages reply.
pub(super) fn parse(v: &Value, body: &str) -> Result<Completion, CallError> {
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| shape_error("no content array in reply", body))?;
    let finish = v
        .get("stop_reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    let usage = Usage {
        input_tokens: u64_at(v, "/usage/input_tokens")
            + u64_at(v, "/usage/cache_creation_input_tokens")
            + u64_at(v, "/usage/cache_read_input_tokens"),
        output_tokens: u64_at(v, "/usage/output_tokens"),
    };
    let tool_input = content
        .iter()
        .find(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
        .and_then(|b| b.get("input"));
    let text = match tool_input {
        Some(input) => input.to_string(),
        None => content
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<String>(),
    };
    match finish.as_deref() {
        Some("max_tokens") | Some("model_context_window_exceeded") => {
            return Err(CallError::Truncated {
                partial: text,
                usage,
            })
        }
        Some("refusal") => {
            let why = if text.is_empty() {
                "the model declined (stop_reason refusal)".to_string()
            } else {
                truncate_chars(&text, MAX_MESSAGE_CHARS)
            };
            return Err(CallError::Refused(why));
        }
        _ => {}
    }
    Ok(Completion {
        text,
        first_token_logprobs: None,
        token_logprobs: None,
        usage,
        finish,
        model: v.get("model").and_then(Value::as_str).map(str::to_string),
    })
}

/// One Message Batches request line (without the newline): `custom_id`
/// first, then the request `body` exactly as a live call sends it, as
/// `params`.
pub fn batch_request_line(custom_id: &str, body: &str) -> String {
    let id = Value::String(custom_id.to_owned());
    format!(r#"{{"custom_id":{id},"params":{body}}}"#)
}

/// The completion in an Anthropic Message Batches result line.
pub fn batch_result(v: &Value) -> Result<Completion, BatchLineError> {
    let Some(result) = v.get("result") else {
        if v.get("params").is_some() {
            return Err(("result", REQUEST_NOT_RESULT.into()));
        }
        return Err(("result", "no result".into()));
    };
    match result.get("type").and_then(Value::as_str) {
        Some("succeeded") => match result.get("message") {
            Some(m) if m.is_object() => {
                parse_response(Provider::Anthropic, 200, &[], &m.to_string())
                    .map_err(|e| ("result.message", e.to_string()))
            }
            _ => Err(("result.message", "no message".into())),
        },
        Some("errored") => Err((
            "result.error",
            format!(
                "the request errored: {}",
                result
                    .get("error")
                    .map_or("no details".into(), super::batch_error_text)
            ),
        )),
        Some("canceled") => Err(("result", "canceled before it was processed".into())),
        Some("expired") => Err((
            "result",
            "expired before it was processed (a batch ends after 24 hours)".into(),
        )),
        other => Err((
            "result.type",
            format!(
                "unknown result type {}",
                super::batch_excerpt(&format!("{other:?}"))
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_lines() {
        assert_eq!(
            batch_request_line("k\"1", r#"{"model":"m"}"#),
            r#"{"custom_id":"k\"1","params":{"model":"m"}}"#
        );
        let result = |r: Value| batch_result(&json!({"custom_id": "k", "result": r}));
        let ok = result(json!({"type": "succeeded", "message": {
            "content": [{"type": "text", "text": "yes"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 1}}}))
        .unwrap();
        assert_eq!((ok.text.as_str(), ok.usage.input_tokens), ("yes", 3));
        let err = result(json!({"type": "errored", "error": {"type": "error",
            "error": {"type": "invalid_request_error", "message": "bad"}}}));
        assert_eq!(
            err,
            Err((
                "result.error",
                "the request errored: invalid_request_error: bad".into()
            ))
        );
        assert_eq!(result(json!({"type": "canceled"})).unwrap_err().0, "result");
        assert!(result(json!({"type": "expired"}))
            .unwrap_err()
            .1
            .contains("24 hours"));
        assert_eq!(
            result(json!({"type": "odd"})).unwrap_err(),
            ("result.type", "unknown result type Some(\"odd\")".into())
        );
        assert_eq!(
            batch_result(&json!({"custom_id": "k", "params": {}})).unwrap_err(),
            ("result", REQUEST_NOT_RESULT.into())
        );
    }
}
