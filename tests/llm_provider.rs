//! Provider wire formats (`profile::llm::provider`).
//!
//! * Request snapshots per provider for one sample prompt with a schema and
//!   `want_logprobs`: URL, headers with the key redacted, body JSON.
//! * Key handling: never in `Debug` or `redacted()`, trimmed, no auth header
//!   when empty; base URL overrides; structured-output modes.
//! * Reply parsing from bodies written after each provider's documented
//!   shapes: text, tool use, usage, logprobs, refusals, filters, truncation.
//! * Error mapping: 401/403/400/404/408/429 (Retry-After in seconds, as an
//!   HTTP-date, `retry-after-ms`, Gemini `RetryInfo`)/500/503/529, quota,
//!   errors inside 2xx bodies, malformed bodies; `retryable`.
//! * `p_yes`, `p_yes_per_answer` (two-word replies), `estimate_tokens`,
//!   provider ids and config serde.
//! * End to end against `tests/mock_llm/server.py` (python3 is required:
//!   without it these tests fail with what to install): every wire format, logprobs and scripted faults.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use profile::llm::provider::{
    build_request, estimate_prompt_tokens, estimate_tokens, p_yes, p_yes_at_answer,
    p_yes_per_answer, parse_response, CallError, Completion, HttpRequest, ModelConfig, Provider,
    StructuredOutput, Usage,
};
use profile::llm::{Decoding, Prompt};
use serde_json::{json, Value};

const KEY: &str = "sk-SECRET-0123456789";

fn facts_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["facts"],
        "properties": {"facts": {"type": "array", "items": {"type": "string"}}}
    })
}

fn sample_prompt() -> Prompt {
    Prompt {
        template: "atomic_facts".into(),
        version: 1,
        system: "You split texts into atomic facts.".into(),
        user: "Split this text into facts.\n<text>The sky is blue. Water is wet.</text>".into(),
        schema: Some(facts_schema()),
        want_logprobs: true,
    }
}

fn yes_no_prompt() -> Prompt {
    Prompt {
        template: "fluency".into(),
        version: 1,
        system: String::new(),
        user: "Is this a fluent paragraph? Answer yes or no.\n<text>It rains.</text>".into(),
        schema: None,
        want_logprobs: true,
    }
}

fn body_json(req: &HttpRequest) -> Value {
    serde_json::from_str(&req.body).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn assert_no_key(req: &HttpRequest) {
    let debug = format!("{req:?}");
    let shown = req.redacted().to_string();
    assert!(!debug.contains(KEY), "{debug}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!req.body.contains(KEY));
    assert!(!req.url.contains(KEY));
}

// ---------------------------------------------------------------------------
// Request snapshots
// ---------------------------------------------------------------------------

#[test]
fn openai_request_snapshot() {
    let cfg = ModelConfig::new(Provider::OpenAi, "gpt-4o-mini");
    let req = build_request(&cfg, KEY, &sample_prompt());
    assert_eq!(req.method, "POST");
    assert_eq!(req.url, "https://api.openai.com/v1/chat/completions");
    assert_eq!(
        req.redacted_headers(),
        headers(&[
            ("content-type", "application/json"),
            ("authorization", "[redacted]"),
        ])
    );
    assert_eq!(
        req.header("Authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(
        body_json(&req),
        json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You split texts into atomic facts."},
                {"role": "user", "content": "Split this text into facts.\n<text>The sky is blue. Water is wet.</text>"}
            ],
            "temperature": 0.6,
            "top_p": 0.9,
            "max_completion_tokens": 1024,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "atomic_facts", "schema": facts_schema(), "strict": true}
            },
            "logprobs": true,
            "top_logprobs": 5
        })
    );
    assert_no_key(&req);
    assert_eq!(
        req.redacted()
            .to_string()
            .lines()
            .take(3)
            .collect::<Vec<_>>(),
        [
            "POST https://api.openai.com/v1/chat/completions",
            "content-type: application/json",
            "authorization: [redacted]",
        ]
    );
}

#[test]
fn anthropic_request_snapshot() {
    let cfg = ModelConfig::new(Provider::Anthropic, "claude-sonnet-4-5");
    let req = build_request(&cfg, KEY, &sample_prompt());
    assert_eq!(req.url, "https://api.anthropic.com/v1/messages");
    assert_eq!(
        req.redacted_headers(),
        headers(&[
            ("content-type", "application/json"),
            ("x-api-key", "[redacted]"),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-dangerous-direct-browser-access", "true"),
        ])
    );
    assert_eq!(req.header("x-api-key"), Some(KEY));
    assert_eq!(
        body_json(&req),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": "You split texts into atomic facts.",
            "messages": [{"role": "user", "content": "Split this text into facts.\n<text>The sky is blue. Water is wet.</text>"}],
            "temperature": 0.6,
            "tools": [{
                "name": "atomic_facts",
                "description": "Record your answer. Its input is the reply, in the required JSON structure.",
                "input_schema": facts_schema()
            }],
            "tool_choice": {"type": "tool", "name": "atomic_facts"}
        })
    );
    assert_no_key(&req);
}

#[test]
fn gemini_request_snapshot() {
    let cfg = ModelConfig::new(Provider::Gemini, "gemini-2.5-flash");
    let req = build_request(&cfg, KEY, &sample_prompt());
    assert_eq!(
        req.url,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        req.redacted_headers(),
        headers(&[
            ("content-type", "application/json"),
            ("x-goog-api-key", "[redacted]"),
        ])
    );
    assert_eq!(
        body_json(&req),
        json!({
            "systemInstruction": {"parts": [{"text": "You split texts into atomic facts."}]},
            "contents": [{"role": "user", "parts": [{"text": "Split this text into facts.\n<text>The sky is blue. Water is wet.</text>"}]}],
            "generationConfig": {
                "temperature": 0.6,
                "topP": 0.9,
                "maxOutputTokens": 1024,
                "responseMimeType": "application/json",
                "responseSchema": {
                    "type": "OBJECT",
                    "required": ["facts"],
                    "propertyOrdering": ["facts"],
                    "properties": {"facts": {"type": "ARRAY", "items": {"type": "STRING"}}}
                },
                "responseLogprobs": true,
                "logprobs": 5
            }
        })
    );
    assert_no_key(&req);
}

#[test]
fn openai_compatible_request_snapshot() {
    let mut cfg = ModelConfig::new(Provider::OpenAiCompatible, "llama3.1:8b");
    cfg.base_url = Some("http://localhost:11434/v1/".into());
    // Logprobs are opt-in for compatible servers.
    assert!(!cfg.logprobs);
    let req = build_request(&cfg, "", &sample_prompt());
    assert_eq!(req.url, "http://localhost:11434/v1/chat/completions");
    assert_eq!(
        req.headers,
        headers(&[("content-type", "application/json")]),
        "no auth header without a key"
    );
    let body = body_json(&req);
    assert_eq!(body["max_tokens"], 1024);
    assert!(body.get("max_completion_tokens").is_none());
    assert!(body.get("logprobs").is_none());
    assert_eq!(body["response_format"]["type"], "json_schema");

    cfg.structured_output = StructuredOutput::JsonObject;
    cfg.logprobs = true;
    let body = body_json(&build_request(&cfg, "  ", &sample_prompt()));
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    assert_eq!(body["logprobs"], true);
    assert_eq!(body["top_logprobs"], 5);

    cfg.structured_output = StructuredOutput::Off;
    let body = body_json(&build_request(&cfg, "", &sample_prompt()));
    assert!(body.get("response_format").is_none());
}

#[test]
fn free_text_prompts_and_modes() {
    // No schema: no structured output anywhere; an empty system is omitted.
    for provider in Provider::ALL {
        let mut cfg = ModelConfig::new(provider, "m");
        cfg.logprobs = true;
        let body = body_json(&build_request(&cfg, KEY, &yes_no_prompt()));
        let text = body.to_string();
        for absent in [
            "response_format",
            "tools",
            "responseSchema",
            "responseMimeType",
            "system",
        ] {
            assert!(!text.contains(absent), "{provider}: {text}");
        }
        let wants = provider != Provider::Anthropic;
        assert_eq!(text.contains("logprobs"), wants, "{provider}: {text}");
    }
    // JsonObject and Off for Anthropic and Gemini.
    let mut cfg = ModelConfig::new(Provider::Anthropic, "c");
    cfg.structured_output = StructuredOutput::JsonObject;
    assert!(body_json(&build_request(&cfg, KEY, &sample_prompt()))
        .get("tools")
        .is_none());
    let mut cfg = ModelConfig::new(Provider::Gemini, "g");
    cfg.structured_output = StructuredOutput::JsonObject;
    let gen = body_json(&build_request(&cfg, KEY, &sample_prompt()))["generationConfig"].clone();
    assert_eq!(gen["responseMimeType"], "application/json");
    assert!(gen.get("responseSchema").is_none());
    cfg.structured_output = false.into();
    let gen = body_json(&build_request(&cfg, KEY, &sample_prompt()))["generationConfig"].clone();
    assert!(gen.get("responseMimeType").is_none());
    // Logprobs switched off in the config.
    let mut cfg = ModelConfig::new(Provider::OpenAi, "m");
    cfg.logprobs = false;
    assert!(body_json(&build_request(&cfg, KEY, &yes_no_prompt()))
        .get("logprobs")
        .is_none());
}

#[test]
fn non_strict_schema_is_sent_without_strict() {
    let mut prompt = sample_prompt();
    prompt.schema = Some(json!({"type": "object", "properties": {"facts": {"type": "array"}}}));
    let cfg = ModelConfig::new(Provider::OpenAi, "m");
    let body = body_json(&build_request(&cfg, KEY, &prompt));
    assert_eq!(body["response_format"]["json_schema"]["strict"], false);
}

#[test]
fn keys_urls_and_decoding() {
    let mut cfg = ModelConfig::new(Provider::Gemini, "models/gemini-2.0-flash");
    cfg.base_url = Some("http://127.0.0.1:9999/".into());
    cfg.decoding = Decoding {
        temperature: 0.0,
        top_p: 1.0,
        max_tokens: 64,
    };
    let req = build_request(&cfg, &format!("  {KEY}\n"), &sample_prompt());
    assert_eq!(
        req.url,
        "http://127.0.0.1:9999/v1beta/models/gemini-2.0-flash:generateContent"
    );
    assert_eq!(req.header("x-goog-api-key"), Some(KEY), "key is trimmed");
    let gen = &body_json(&req)["generationConfig"];
    assert_eq!(
        (&gen["temperature"], &gen["topP"], &gen["maxOutputTokens"]),
        (&json!(0.0), &json!(1.0), &json!(64))
    );
    // A model id cannot escape the path.
    cfg.model = "x/../y?key=1".into();
    let req = build_request(&cfg, "", &sample_prompt());
    assert_eq!(
        req.url,
        "http://127.0.0.1:9999/v1beta/models/x%2F..%2Fy%3Fkey%3D1:generateContent"
    );
    // A key in a user-supplied URL is redacted too.
    let mut cfg = ModelConfig::new(Provider::OpenAiCompatible, "m");
    cfg.base_url = Some(format!("https://proxy.example/v1?key={KEY}"));
    let req = build_request(&cfg, KEY, &sample_prompt());
    assert!(!req.redacted().to_string().contains(KEY));
    assert!(!format!("{req:?}").contains(KEY));
    // Anthropic without a key (a local proxy): no x-api-key, version still sent.
    let cfg = ModelConfig::new(Provider::Anthropic, "c");
    let req = build_request(&cfg, "", &sample_prompt());
    assert!(req.header("x-api-key").is_none());
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
}

// ---------------------------------------------------------------------------
// Reply parsing
// ---------------------------------------------------------------------------

fn ok(provider: Provider, body: &str) -> Completion {
    parse_response(provider, 200, &[], body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn err(provider: Provider, status: u16, hdrs: &[(&str, &str)], body: &str) -> CallError {
    parse_response(provider, status, &headers(hdrs), body).expect_err(body)
}

const OPENAI_LOGPROBS: &str = r#"{
  "id": "chatcmpl-AbC123",
  "object": "chat.completion",
  "created": 1727000000,
  "model": "gpt-4o-mini-2024-07-18",
  "choices": [{
    "index": 0,
    "message": {"role": "assistant", "content": "Yes", "refusal": null, "annotations": []},
    "logprobs": {"content": [{
      "token": "Yes", "logprob": -0.0141, "bytes": [89, 101, 115],
      "top_logprobs": [
        {"token": "Yes", "logprob": -0.0141, "bytes": [89, 101, 115]},
        {"token": "No", "logprob": -4.2641, "bytes": [78, 111]},
        {"token": "yes", "logprob": -9.1, "bytes": [121, 101, 115]},
        {"token": "**", "logprob": -10.2, "bytes": [42, 42]},
        {"token": " Yes", "logprob": -11.0, "bytes": [32, 89, 101, 115]}
      ]}], "refusal": null},
    "finish_reason": "stop"
  }],
  "usage": {"prompt_tokens": 41, "completion_tokens": 1, "total_tokens": 42,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0}},
  "service_tier": "default",
  "system_fingerprint": "fp_0123abcd"
}"#;

#[test]
fn openai_reply_with_logprobs() {
    let c = ok(Provider::OpenAi, OPENAI_LOGPROBS);
    assert_eq!(c.text, "Yes");
    assert_eq!(c.finish.as_deref(), Some("stop"));
    assert_eq!(c.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 41,
            output_tokens: 1
        }
    );
    let alts = c.first_token_logprobs.as_deref().unwrap();
    assert_eq!(alts.len(), 5);
    assert_eq!(alts[0], ("Yes".to_string(), -0.0141));
    let p = p_yes(alts).unwrap();
    let (y, n) = (
        (-0.0141f64).exp() + (-9.1f64).exp() + (-11.0f64).exp(),
        (-4.2641f64).exp(),
    );
    assert!((p - y / (y + n)).abs() < 1e-12);
}

/// A two-word reply (`fluency_coherence@1`) with alternatives at every
/// position, as OpenAI sends it.
const OPENAI_TWO_WORDS: &str = r#"{
  "id": "chatcmpl-2", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
  "choices": [{
    "index": 0,
    "message": {"role": "assistant", "content": "yes no", "refusal": null},
    "logprobs": {"content": [
      {"token": "yes", "logprob": -0.22, "bytes": [121, 101, 115], "top_logprobs": [
        {"token": "yes", "logprob": -0.22, "bytes": [121, 101, 115]},
        {"token": "no", "logprob": -1.61, "bytes": [110, 111]},
        {"token": "Yes", "logprob": -6.0, "bytes": [89, 101, 115]}]},
      {"token": " no", "logprob": -0.36, "bytes": [32, 110, 111], "top_logprobs": [
        {"token": " no", "logprob": -0.36, "bytes": [32, 110, 111]},
        {"token": " yes", "logprob": -1.2, "bytes": [32, 121, 101, 115]},
        {"token": "\n", "logprob": -5.0, "bytes": [10]}]}
    ], "refusal": null},
    "finish_reason": "stop"
  }],
  "usage": {"prompt_tokens": 300, "completion_tokens": 2, "total_tokens": 302}
}"#;

#[test]
fn openai_two_word_reply_has_logprobs_at_each_position() {
    let c = ok(Provider::OpenAi, OPENAI_TWO_WORDS);
    assert_eq!(c.text, "yes no");
    let positions = c.token_logprobs.as_deref().unwrap();
    assert_eq!(positions.len(), 2);
    assert_eq!(c.first_token_logprobs.as_deref(), Some(&positions[0][..]));
    assert_eq!(positions[1][0], (" no".to_string(), -0.36));
    let ps = p_yes_per_answer(positions);
    let (y1, n1) = ((-0.22f64).exp() + (-6.0f64).exp(), (-1.61f64).exp());
    let (y2, n2) = ((-1.2f64).exp(), (-0.36f64).exp());
    assert_eq!(ps.len(), 2);
    assert!((ps[0] - y1 / (y1 + n1)).abs() < 1e-12);
    assert!((ps[1] - y2 / (y2 + n2)).abs() < 1e-12);
    assert_eq!(p_yes_at_answer(positions, 1), Some(ps[1]));
    assert_eq!(p_yes_at_answer(positions, 2), None);
    // Without logprobs there are none at any position.
    let plain = ok(
        Provider::OpenAi,
        r#"{"choices": [{"message": {"content": "yes no"}, "logprobs": null, "finish_reason": "stop"}]}"#,
    );
    assert_eq!(plain.token_logprobs, None);
}

#[test]
fn openai_structured_reply() {
    let body = r#"{"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
      "choices": [{"index": 0, "message": {"role": "assistant",
        "content": "{\"facts\":[\"The sky is blue.\",\"Water is wet.\"]}", "refusal": null},
        "logprobs": null, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 120, "completion_tokens": 14, "total_tokens": 134}}"#;
    let c = ok(Provider::OpenAi, body);
    let v: Value = serde_json::from_str(&c.text).unwrap();
    assert_eq!(v["facts"][1], "Water is wet.");
    assert_eq!(c.first_token_logprobs, None);
}

#[test]
fn openai_refusal_filter_and_truncation() {
    let refusal = r#"{"choices": [{"index": 0, "message": {"role": "assistant", "content": null,
        "refusal": "I'm sorry, I can't assist with that."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 9}}"#;
    assert_eq!(
        err(Provider::OpenAi, 200, &[], refusal),
        CallError::Refused("I'm sorry, I can't assist with that.".into())
    );
    let filtered = r#"{"choices": [{"index": 0, "message": {"role": "assistant", "content": ""},
        "finish_reason": "content_filter"}]}"#;
    assert!(matches!(
        err(Provider::OpenAi, 200, &[], filtered),
        CallError::Refused(_)
    ));
    let length = r#"{"choices": [{"index": 0, "message": {"role": "assistant",
        "content": "{\"facts\": [\"The sky"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1024}}"#;
    assert_eq!(
        err(Provider::OpenAi, 200, &[], length),
        CallError::Truncated {
            partial: "{\"facts\": [\"The sky".into(),
            usage: Usage {
                input_tokens: 10,
                output_tokens: 1024
            }
        }
    );
}

#[test]
fn openai_compatible_variants() {
    // Content as parts, no usage, top_logprobs as a map (older servers).
    let body = r#"{"object": "chat.completion", "model": "llama",
      "choices": [{"index": 0, "message": {"role": "assistant",
        "content": [{"type": "text", "text": "No"}, {"type": "text", "text": "."}]},
        "logprobs": {"content": [{"token": "No", "logprob": -0.3,
          "top_logprobs": {"No": -0.3, "Yes": -1.4, " no": -3.0}}]},
        "finish_reason": "stop"}]}"#;
    let c = ok(Provider::OpenAiCompatible, body);
    assert_eq!(c.text, "No.");
    assert_eq!(c.usage, Usage::default());
    let alts = c.first_token_logprobs.unwrap();
    assert_eq!(alts[0].0, "No");
    assert_eq!(alts.len(), 3);
    // Only the chosen token, no alternatives.
    let body = r#"{"choices": [{"message": {"content": "Yes"}, "finish_reason": "stop",
        "logprobs": {"content": [{"token": "Yes", "logprob": -0.2, "top_logprobs": []}]}}]}"#;
    let c = ok(Provider::OpenAiCompatible, body);
    assert_eq!(c.first_token_logprobs, Some(vec![("Yes".into(), -0.2)]));
    assert_eq!(p_yes(&c.first_token_logprobs.unwrap()), Some(1.0));
}

const ANTHROPIC_TOOL: &str = r#"{
  "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
  "type": "message",
  "role": "assistant",
  "model": "claude-sonnet-4-5-20250929",
  "content": [{
    "type": "tool_use",
    "id": "toolu_01A09q90qw90lq917835lq9",
    "name": "atomic_facts",
    "input": {"facts": ["The sky is blue.", "Water is wet."]}
  }],
  "stop_reason": "tool_use",
  "stop_sequence": null,
  "usage": {"input_tokens": 512, "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 20, "output_tokens": 48,
            "service_tier": "standard"}
}"#;

#[test]
fn anthropic_tool_use_reply() {
    let c = ok(Provider::Anthropic, ANTHROPIC_TOOL);
    assert_eq!(c.text, r#"{"facts":["The sky is blue.","Water is wet."]}"#);
    assert_eq!(c.finish.as_deref(), Some("tool_use"));
    assert_eq!(c.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 632,
            output_tokens: 48
        }
    );
    assert_eq!(c.first_token_logprobs, None);
}

#[test]
fn anthropic_text_refusal_and_truncation() {
    let text = r#"{"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
      "content": [{"type": "text", "text": "Yes"}, {"type": "text", "text": ", it is."}],
      "stop_reason": "end_turn", "stop_sequence": null,
      "usage": {"input_tokens": 30, "output_tokens": 5}}"#;
    let c = ok(Provider::Anthropic, text);
    assert_eq!(c.text, "Yes, it is.");
    assert_eq!(c.finish.as_deref(), Some("end_turn"));
    let empty = r#"{"type": "message", "content": [], "stop_reason": "end_turn",
      "usage": {"input_tokens": 30, "output_tokens": 0}}"#;
    assert_eq!(ok(Provider::Anthropic, empty).text, "");

    let max = r#"{"type": "message", "content": [{"type": "tool_use", "id": "t", "name": "atomic_facts",
      "input": {}}], "stop_reason": "max_tokens", "usage": {"input_tokens": 30, "output_tokens": 1024}}"#;
    assert_eq!(
        err(Provider::Anthropic, 200, &[], max),
        CallError::Truncated {
            partial: "{}".into(),
            usage: Usage {
                input_tokens: 30,
                output_tokens: 1024
            }
        }
    );
    let refusal = r#"{"type": "message", "content": [], "stop_reason": "refusal",
      "usage": {"input_tokens": 30, "output_tokens": 0}}"#;
    assert!(matches!(
        err(Provider::Anthropic, 200, &[], refusal),
        CallError::Refused(_)
    ));
}

const GEMINI_LOGPROBS: &str = r#"{
  "candidates": [{
    "content": {"parts": [{"text": "thinking...", "thought": true}, {"text": "Yes"}], "role": "model"},
    "finishReason": "STOP",
    "index": 0,
    "avgLogprobs": -0.0573,
    "logprobsResult": {
      "topCandidates": [{"candidates": [
        {"token": "No", "tokenId": 1294, "logProbability": -2.89},
        {"token": "Yes", "tokenId": 3553, "logProbability": -0.0573},
        {"token": "yes", "tokenId": 3276, "logProbability": -7.1}
      ]}],
      "chosenCandidates": [{"token": "Yes", "tokenId": 3553, "logProbability": -0.0573}]
    }
  }],
  "usageMetadata": {"promptTokenCount": 35, "candidatesTokenCount": 1,
                    "totalTokenCount": 60, "thoughtsTokenCount": 24,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 35}]},
  "modelVersion": "gemini-2.5-flash",
  "responseId": "abcDEF"
}"#;

#[test]
fn gemini_reply_with_logprobs_and_thoughts() {
    let c = ok(Provider::Gemini, GEMINI_LOGPROBS);
    assert_eq!(c.text, "Yes", "thought parts are skipped");
    assert_eq!(c.finish.as_deref(), Some("STOP"));
    assert_eq!(c.model.as_deref(), Some("gemini-2.5-flash"));
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 35,
            output_tokens: 25
        }
    );
    let alts = c.first_token_logprobs.unwrap();
    assert_eq!(alts[0].0, "Yes", "sorted most likely first");
    let p = p_yes(&alts).unwrap();
    let (y, n) = ((-0.0573f64).exp() + (-7.1f64).exp(), (-2.89f64).exp());
    assert!((p - y / (y + n)).abs() < 1e-12);
}

#[test]
fn gemini_two_word_reply_has_logprobs_at_each_position() {
    let body = r#"{"candidates": [{
        "content": {"parts": [{"text": "no\nyes"}], "role": "model"},
        "finishReason": "STOP",
        "logprobsResult": {
          "topCandidates": [
            {"candidates": [{"token": "no", "logProbability": -0.1}, {"token": "yes", "logProbability": -2.4}]},
            {"candidates": [{"token": "\n", "logProbability": -0.01}, {"token": " ", "logProbability": -5.0}]},
            {"candidates": []}
          ],
          "chosenCandidates": [
            {"token": "no", "logProbability": -0.1},
            {"token": "\n", "logProbability": -0.01},
            {"token": "yes", "logProbability": -0.05}
          ]
        }}],
      "usageMetadata": {"promptTokenCount": 200, "candidatesTokenCount": 3}}"#;
    let c = ok(Provider::Gemini, body);
    let positions = c.token_logprobs.as_deref().unwrap();
    assert_eq!(positions.len(), 3);
    assert_eq!(positions[0][0].0, "no", "sorted most likely first");
    assert_eq!(
        positions[2],
        vec![("yes".to_string(), -0.05)],
        "an empty position falls back to the chosen token"
    );
    assert_eq!(c.first_token_logprobs.as_deref(), Some(&positions[0][..]));
    // The separator is no answer; the chosen token alone gives 1.
    let ps = p_yes_per_answer(positions);
    let (y, n) = ((-2.4f64).exp(), (-0.1f64).exp());
    assert_eq!(ps.len(), 2);
    assert!((ps[0] - y / (y + n)).abs() < 1e-12);
    assert_eq!(ps[1], 1.0);
}

#[test]
fn gemini_truncation_and_blocks() {
    let max = r#"{"candidates": [{"content": {"parts": [{"text": "{\"facts\": [\"The"}], "role": "model"},
      "finishReason": "MAX_TOKENS", "index": 0}],
      "usageMetadata": {"promptTokenCount": 35, "candidatesTokenCount": 1024, "totalTokenCount": 1059}}"#;
    assert!(matches!(
        err(Provider::Gemini, 200, &[], max),
        CallError::Truncated { partial, usage } if partial == "{\"facts\": [\"The" && usage.output_tokens == 1024
    ));
    // Thinking used the whole budget: no content at all.
    let thought_out = r#"{"candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}],
      "usageMetadata": {"promptTokenCount": 35, "totalTokenCount": 1059, "thoughtsTokenCount": 1024}}"#;
    assert!(matches!(
        err(Provider::Gemini, 200, &[], thought_out),
        CallError::Truncated { partial, .. } if partial.is_empty()
    ));
    let safety = r#"{"candidates": [{"finishReason": "SAFETY", "index": 0,
      "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}]}]}"#;
    assert_eq!(
        err(Provider::Gemini, 200, &[], safety),
        CallError::Refused("reply blocked (SAFETY)".into())
    );
    let prompt_blocked = r#"{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
      "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}}"#;
    assert_eq!(
        err(Provider::Gemini, 200, &[], prompt_blocked),
        CallError::Refused("prompt blocked (PROHIBITED_CONTENT)".into())
    );
    let other = r#"{"candidates": [{"finishReason": "OTHER", "index": 0}]}"#;
    assert!(
        matches!(err(Provider::Gemini, 200, &[], other), CallError::Malformed(m) if m.contains("OTHER"))
    );
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

const OPENAI_401: &str = r#"{"error": {"message": "Incorrect API key provided: sk-SECR****6789. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}"#;
const ANTHROPIC_401: &str = r#"{"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}"#;
const GEMINI_403: &str = r#"{"error": {"code": 403, "message": "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", "status": "PERMISSION_DENIED"}}"#;

#[test]
fn auth_errors() {
    assert!(matches!(
        err(Provider::OpenAi, 401, &[], OPENAI_401),
        CallError::Auth { status: 401, message } if message.starts_with("Incorrect API key")
    ));
    assert_eq!(
        err(Provider::Anthropic, 401, &[], ANTHROPIC_401),
        CallError::Auth {
            status: 401,
            message: "invalid x-api-key".into()
        }
    );
    assert!(matches!(
        err(Provider::Gemini, 403, &[], GEMINI_403),
        CallError::Auth { status: 403, .. }
    ));
    let bad_key = r#"{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
      "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}"#;
    assert!(matches!(
        err(Provider::Gemini, 400, &[], bad_key),
        CallError::Auth { status: 400, .. }
    ));
}

#[test]
fn bad_requests() {
    let anthropic = r#"{"type": "error", "error": {"type": "invalid_request_error", "message": "`temperature` and `top_p` cannot both be specified for this model. Please use only one."}}"#;
    assert_eq!(
        err(Provider::Anthropic, 400, &[], anthropic),
        CallError::BadRequest {
            status: 400,
            message: "`temperature` and `top_p` cannot both be specified for this model. Please use only one.".into()
        }
    );
    let gemini = r#"{"error": {"code": 400, "message": "Invalid JSON payload received. Unknown name \"additionalProperties\" at 'generation_config.response_schema': Cannot find field.", "status": "INVALID_ARGUMENT"}}"#;
    assert!(
        matches!(err(Provider::Gemini, 400, &[], gemini), CallError::BadRequest { status: 400, message } if message.contains("additionalProperties"))
    );
    let ollama = r#"{"error": "model \"llama9\" not found, try pulling it first"}"#;
    assert!(
        matches!(err(Provider::OpenAiCompatible, 404, &[], ollama), CallError::BadRequest { status: 404, message } if message.starts_with("model \"llama9\""))
    );
    let vllm = r#"{"object": "error", "message": "This model's maximum context length is 8192 tokens.", "type": "BadRequestError", "param": null, "code": 400}"#;
    assert!(
        matches!(err(Provider::OpenAiCompatible, 400, &[], vllm), CallError::BadRequest { message, .. } if message.contains("8192"))
    );
    let html = "<html><body>413 Request Entity Too Large</body></html>";
    assert!(
        matches!(err(Provider::OpenAi, 413, &[], html), CallError::BadRequest { status: 413, message } if message.contains("413"))
    );
    let long = "x".repeat(5000);
    assert!(
        matches!(err(Provider::OpenAi, 400, &[], &long), CallError::BadRequest { message, .. } if message.chars().count() == 301)
    );
}

#[test]
fn rate_limits_and_retry_after() {
    let body = r#"{"error": {"message": "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}"#;
    assert_eq!(
        err(Provider::OpenAi, 429, &[("Retry-After", "20")], body),
        CallError::RateLimited {
            retry_after_s: Some(20.0)
        }
    );
    assert_eq!(
        err(
            Provider::OpenAi,
            429,
            &[("retry-after-ms", "1500"), ("retry-after", "2")],
            body
        ),
        CallError::RateLimited {
            retry_after_s: Some(1.5)
        }
    );
    // HTTP-date, measured against the response's Date header.
    let dated = [
        ("date", "Wed, 21 Oct 2015 07:27:30 GMT"),
        ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ];
    let anthropic = r#"{"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}}"#;
    assert_eq!(
        err(Provider::Anthropic, 429, &dated, anthropic),
        CallError::RateLimited {
            retry_after_s: Some(30.0)
        }
    );
    // A date without a Date header cannot become a delay.
    assert_eq!(
        err(Provider::Anthropic, 429, &dated[1..], anthropic),
        CallError::RateLimited {
            retry_after_s: None
        }
    );
    assert_eq!(
        err(Provider::Anthropic, 429, &[], anthropic),
        CallError::RateLimited {
            retry_after_s: None
        }
    );
    let gemini = r#"{"error": {"code": 429, "message": "You exceeded your current quota, please check your plan and billing details.", "status": "RESOURCE_EXHAUSTED",
      "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests"}]},
                  {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}"#;
    assert_eq!(
        err(Provider::Gemini, 429, &[], gemini),
        CallError::RateLimited {
            retry_after_s: Some(37.0)
        }
    );
    let quota = r#"{"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}"#;
    let e = err(Provider::OpenAi, 429, &[], quota);
    assert!(matches!(e, CallError::Quota { status: 429, .. }));
    assert!(!e.retryable());
}

#[test]
fn server_errors_timeouts_and_odd_statuses() {
    assert_eq!(
        err(Provider::OpenAi, 500, &[], "{}"),
        CallError::Server { status: 500 }
    );
    assert_eq!(
        err(
            Provider::Gemini,
            503,
            &[],
            r#"{"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}"#
        ),
        CallError::Server { status: 503 }
    );
    let overloaded =
        r#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#;
    assert_eq!(
        err(Provider::Anthropic, 529, &[], overloaded),
        CallError::Server { status: 529 }
    );
    assert_eq!(
        err(Provider::OpenAi, 502, &[], "<html>Bad Gateway</html>"),
        CallError::Server { status: 502 }
    );
    assert_eq!(err(Provider::OpenAi, 408, &[], ""), CallError::Timeout);
    assert!(
        matches!(err(Provider::OpenAi, 302, &[], ""), CallError::Malformed(m) if m.contains("302"))
    );
}

#[test]
fn errors_inside_success_bodies() {
    // OpenRouter can answer 200 with an error object.
    let body = r#"{"error": {"code": 429, "message": "Provider returned error"}, "user_id": "u"}"#;
    assert_eq!(
        err(Provider::OpenAiCompatible, 200, &[], body),
        CallError::RateLimited {
            retry_after_s: None
        }
    );
    let body = r#"{"error": {"code": 502, "message": "upstream failed"}}"#;
    assert_eq!(
        err(Provider::OpenAiCompatible, 200, &[], body),
        CallError::Server { status: 502 }
    );
    let body = r#"{"error": {"message": "something odd"}}"#;
    assert!(
        matches!(err(Provider::OpenAiCompatible, 200, &[], body), CallError::Malformed(m) if m.contains("something odd"))
    );
}

#[test]
fn malformed_bodies() {
    for provider in Provider::ALL {
        for body in [
            "",
            "<html>Gateway</html>",
            r#"{"choices": [{"message": {"content": "trunc"#,
            "{}",
            "[]",
            r#"{"result": "ok"}"#,
        ] {
            let e = err(provider, 200, &[], body);
            assert!(
                matches!(e, CallError::Malformed(_)),
                "{provider} {body:?}: {e:?}"
            );
            assert!(!e.retryable());
        }
    }
    // Each provider's shape is not the others'.
    assert!(matches!(
        err(Provider::OpenAi, 200, &[], ANTHROPIC_TOOL),
        CallError::Malformed(_)
    ));
    assert!(matches!(
        err(Provider::Anthropic, 200, &[], OPENAI_LOGPROBS),
        CallError::Malformed(_)
    ));
    assert!(matches!(
        err(Provider::Gemini, 200, &[], OPENAI_LOGPROBS),
        CallError::Malformed(_)
    ));
    // Tool-call replies without text are not a text reply.
    let tool_calls = r#"{"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": []}, "finish_reason": "tool_calls"}]}"#;
    assert!(matches!(
        err(Provider::OpenAi, 200, &[], tool_calls),
        CallError::Malformed(_)
    ));
}

#[test]
fn retryable_and_display() {
    let cases = [
        (
            CallError::RateLimited {
                retry_after_s: Some(2.0),
            },
            true,
            "rate limited (HTTP 429); retry after 2 s",
        ),
        (
            CallError::RateLimited {
                retry_after_s: None,
            },
            true,
            "rate limited (HTTP 429)",
        ),
        (
            CallError::Server { status: 503 },
            true,
            "server error (HTTP 503)",
        ),
        (CallError::Timeout, true, "timed out"),
        (
            CallError::Network("connection refused".into()),
            true,
            "network error: connection refused",
        ),
        (
            CallError::Auth {
                status: 401,
                message: "bad key".into(),
            },
            false,
            "authentication failed (HTTP 401): bad key",
        ),
        (
            CallError::Quota {
                status: 429,
                message: "no credit".into(),
            },
            false,
            "quota or credit exhausted (HTTP 429): no credit",
        ),
        (
            CallError::BadRequest {
                status: 400,
                message: "no".into(),
            },
            false,
            "request rejected (HTTP 400): no",
        ),
        (
            CallError::Malformed("x".into()),
            false,
            "malformed reply: x",
        ),
        (
            CallError::Refused("SAFETY".into()),
            false,
            "refused or filtered: SAFETY",
        ),
        (
            CallError::Truncated {
                partial: "abc".into(),
                usage: Usage::default(),
            },
            false,
            "reply truncated at max_tokens (3 characters received)",
        ),
    ];
    for (e, retry, shown) in cases {
        assert_eq!(e.retryable(), retry, "{e:?}");
        assert_eq!(e.to_string(), shown);
    }
    assert_eq!(
        CallError::RateLimited {
            retry_after_s: Some(1.0)
        }
        .retry_after_s(),
        Some(1.0)
    );
    assert_eq!(
        CallError::RateLimited {
            retry_after_s: None
        }
        .status(),
        Some(429)
    );
    assert_eq!(CallError::Timeout.status(), None);
}

// ---------------------------------------------------------------------------
// p_yes, estimates, ids
// ---------------------------------------------------------------------------

fn alts(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
    pairs.iter().map(|(t, p)| (t.to_string(), p.ln())).collect()
}

#[test]
fn p_yes_per_answer_cases() {
    let yes_no = |p: f64| alts(&[("yes", p), ("no", 1.0 - p)]);
    let sep = alts(&[(" ", 0.99), ("no", 0.005)]);
    let ps = p_yes_per_answer(&[yes_no(0.8), sep.clone(), yes_no(0.3), alts(&[("\n", 1.0)])]);
    assert_eq!(ps.len(), 2);
    assert!((ps[0] - 0.8).abs() < 1e-12 && (ps[1] - 0.3).abs() < 1e-12);
    // A position where yes and no hold under half the probability is no answer.
    let unsure = alts(&[("Maybe", 0.6), ("yes", 0.3), ("no", 0.1)]);
    assert_eq!(p_yes_per_answer(&[unsure, yes_no(0.5)]), vec![0.5]);
    // Variants are summed as in p_yes.
    let variants = alts(&[("Yes", 0.4), (" yes", 0.2), ("NO", 0.3)]);
    assert!((p_yes_at_answer(&[sep, variants], 0).unwrap() - 0.6 / 0.9).abs() < 1e-12);
    assert_eq!(p_yes_per_answer(&[]), Vec::<f64>::new());
    assert_eq!(p_yes_at_answer(&[vec![]], 0), None);
}

#[test]
fn p_yes_cases() {
    let close = |a: Option<f64>, b: f64| assert!((a.unwrap() - b).abs() < 1e-12, "{a:?} vs {b}");
    close(p_yes(&alts(&[("Yes", 0.6), ("No", 0.2)])), 0.75);
    // Variants are summed, case and space insensitive.
    close(
        p_yes(&alts(&[
            ("Yes", 0.5),
            (" yes", 0.1),
            ("YES", 0.1),
            ("No", 0.2),
            (" no", 0.1),
        ])),
        0.7 / 1.0,
    );
    // Other tokens are ignored.
    close(
        p_yes(&alts(&[("The", 0.5), ("No", 0.3), ("Yes", 0.1)])),
        0.25,
    );
    close(p_yes(&alts(&[("No", 0.9)])), 0.0);
    close(p_yes(&alts(&[("yes", 0.9)])), 1.0);
    assert_eq!(p_yes(&alts(&[("Maybe", 0.9), ("Yeah", 0.1)])), None);
    assert_eq!(p_yes(&[]), None);
    // -inf contributes nothing, NaN is ignored.
    let odd = vec![
        ("Yes".to_string(), f64::NEG_INFINITY),
        ("No".to_string(), f64::NAN),
        ("no".to_string(), 0.5f64.ln()),
    ];
    close(p_yes(&odd), 0.0);
    let none = vec![("Yes".to_string(), f64::NEG_INFINITY)];
    assert_eq!(p_yes(&none), None);
}

#[test]
fn token_estimates() {
    assert_eq!(estimate_tokens(""), 0);
    assert_eq!(estimate_tokens("abc"), 1);
    assert_eq!(estimate_tokens("abcd"), 1);
    assert_eq!(estimate_tokens("abcde"), 2);
    assert_eq!(estimate_tokens("ééééé"), 2, "characters, not bytes");
    let p = sample_prompt();
    let expected = estimate_tokens(&p.system)
        + estimate_tokens(&p.user)
        + estimate_tokens(&facts_schema().to_string())
        + 10;
    assert_eq!(estimate_prompt_tokens(&p), expected);
}

#[test]
fn provider_ids_and_defaults() {
    for p in Provider::ALL {
        assert_eq!(Provider::from_id(p.id()), Some(p));
        assert_eq!(serde_json::to_value(p).unwrap(), json!(p.id()));
        assert_eq!(p.to_string(), p.id());
        assert!(!p.default_base_url().ends_with('/'));
    }
    assert_eq!(Provider::from_id("OpenAI"), None);
    assert_eq!(Provider::from_id("azure"), None);
    assert_eq!(
        Provider::Gemini.key_env_vars(),
        ["GEMINI_API_KEY", "GOOGLE_API_KEY"]
    );
    assert_eq!(Provider::OpenAi.key_env_vars(), ["OPENAI_API_KEY"]);
    assert_eq!(Provider::Anthropic.key_env_vars(), ["ANTHROPIC_API_KEY"]);
    assert!(Provider::OpenAiCompatible.key_env_vars().is_empty());
    assert!(Provider::OpenAi.offers_logprobs());
    assert!(!Provider::Anthropic.offers_logprobs());
    // A minimal config file fills in defaults.
    let cfg: ModelConfig =
        serde_json::from_str(r#"{"provider": "openai-compatible", "model": "qwen2.5"}"#).unwrap();
    assert_eq!(cfg.decoding, Decoding::default());
    assert_eq!(cfg.structured_output, StructuredOutput::Schema);
    assert!(!cfg.logprobs);
    assert_eq!(cfg.effective_base_url(), "http://127.0.0.1:8080/v1");
    let cfg = ModelConfig::new(Provider::Anthropic, "c");
    let round: ModelConfig = serde_json::from_value(serde_json::to_value(&cfg).unwrap()).unwrap();
    assert_eq!(round, cfg);
    assert_eq!(
        serde_json::to_value(StructuredOutput::JsonObject).unwrap(),
        json!("json_object")
    );
}

// ---------------------------------------------------------------------------
// End to end against the mock server
// ---------------------------------------------------------------------------

use common::MockServer as Mock;

/// A model config pointing `provider` at the mock, the way its SDK would.
fn config(mock: &Mock, provider: Provider) -> ModelConfig {
    let mut cfg = ModelConfig::new(provider, format!("mock-{}", provider.id()));
    cfg.logprobs = true;
    cfg.base_url = Some(match provider {
        Provider::OpenAi | Provider::OpenAiCompatible => mock.url("/v1"),
        _ => mock.url(""),
    });
    cfg
}

/// GET (empty body) or POST a control endpoint of the mock; the reply body.
fn control(mock: &Mock, path: &str, body: &str) -> String {
    let req = HttpRequest {
        method: if body.is_empty() { "GET" } else { "POST" },
        url: mock.url(path),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string(),
    };
    send(&req).2
}

/// A minimal HTTP/1.1 client for `http://127.0.0.1:PORT/...` (one request per
/// connection): status, headers, body.
fn send(req: &HttpRequest) -> (u16, Vec<(String, String)>, String) {
    let rest = req.url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {}\r\n",
        req.method,
        req.body.len()
    );
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(req.body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn call(provider: Provider, cfg: &ModelConfig, prompt: &Prompt) -> Result<Completion, CallError> {
    let req = build_request(cfg, KEY, prompt);
    let (status, headers, body) = send(&req);
    parse_response(provider, status, &headers, &body)
}

#[test]
fn end_to_end_with_mock_server() {
    let mock = Mock::start();
    let facts = json!({"facts": ["The sky is blue.", "Water is wet."]});
    for provider in Provider::ALL {
        let cfg = config(&mock, provider);
        // Structured reply: the mock accepts our request shape (strict
        // schema, Gemini dialect, Anthropic temperature only) and answers.
        let c =
            call(provider, &cfg, &sample_prompt()).unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(
            serde_json::from_str::<Value>(&c.text).unwrap(),
            facts,
            "{provider}"
        );
        assert!(
            c.usage.input_tokens > 0 && c.usage.output_tokens > 0,
            "{provider}"
        );
        assert_eq!(c.model.as_deref(), Some(cfg.model.as_str()));
        // Yes/no with logprobs (none from Anthropic).
        let c = call(provider, &cfg, &yes_no_prompt()).unwrap();
        assert_eq!(c.text, "Yes");
        match provider {
            Provider::Anthropic => assert_eq!(c.first_token_logprobs, None),
            _ => {
                let p = p_yes(c.first_token_logprobs.as_deref().unwrap()).unwrap();
                // Mock: Yes 0.9, No 0.08, yes 0.01, " Yes" 0.005.
                assert!((p - 0.915 / 0.995).abs() < 1e-9, "{provider}: {p}");
            }
        }
    }
    let stats: Value = serde_json::from_str(&control(&mock, "/__stats", "")).unwrap();
    assert_eq!(stats["ok"], 8);
    assert_eq!(stats["rejected"], 0);
    assert_eq!(stats["repeated_successes"], 0);

    // Scripted faults, in order.
    let plan = r#"{"sequence": ["429", "429_date", "503", "529", "truncated", "malformed",
        "envelope", "refusal", "401"], "retry_after": 3}"#;
    for provider in Provider::ALL {
        control(&mock, "/__reset", "{}");
        control(&mock, "/__faults", plan);
        let cfg = config(&mock, provider);
        let mut got = Vec::new();
        for _ in 0..9 {
            got.push(call(provider, &cfg, &sample_prompt()).unwrap_err());
        }
        assert_eq!(
            got[0],
            CallError::RateLimited {
                retry_after_s: Some(3.0)
            },
            "{provider}"
        );
        let CallError::RateLimited {
            retry_after_s: Some(s),
        } = got[1]
        else {
            panic!("{provider}: {:?}", got[1]);
        };
        assert!((2.0..=4.0).contains(&s), "{provider}: {s}");
        assert_eq!(got[2], CallError::Server { status: 503 });
        assert_eq!(got[3], CallError::Server { status: 529 });
        assert!(
            matches!(got[4], CallError::Truncated { .. }),
            "{provider}: {:?}",
            got[4]
        );
        assert!(
            matches!(got[5], CallError::Malformed(_)),
            "{provider}: {:?}",
            got[5]
        );
        assert!(
            matches!(got[6], CallError::Malformed(_)),
            "{provider}: {:?}",
            got[6]
        );
        assert!(
            matches!(got[7], CallError::Refused(_)),
            "{provider}: {:?}",
            got[7]
        );
        assert!(
            matches!(got[8], CallError::Auth { status: 401, .. }),
            "{provider}: {:?}",
            got[8]
        );
        let retryable: Vec<bool> = got.iter().map(CallError::retryable).collect();
        assert_eq!(
            retryable,
            [true, true, true, true, false, false, false, false, false]
        );
        // Past the sequence: success again.
        assert!(call(provider, &cfg, &sample_prompt()).is_ok());
    }
}

/// `fluency_coherence@1` end to end: the mock answers two words with
/// alternatives at each answer, read per position (none from Anthropic).
#[test]
fn two_word_answers_end_to_end_with_mock_server() {
    let mock = Mock::start();
    let prompt = profile::llm::prompts::fluency_coherence("The document.", "The summary.");
    for provider in Provider::ALL {
        let cfg = config(&mock, provider);
        let c = call(provider, &cfg, &prompt).unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(
            profile::llm::parse::parse_two_yes_no(&c.text).unwrap(),
            [true, false]
        );
        match provider {
            Provider::Anthropic => assert_eq!(c.token_logprobs, None),
            _ => {
                let ps = p_yes_per_answer(c.token_logprobs.as_deref().unwrap());
                // Mock: Yes 0.9 / No 0.08 / yes 0.01 / " Yes" 0.005 at the
                // first answer, the mirror image at the second.
                assert_eq!(ps.len(), 2, "{provider}");
                assert!((ps[0] - 0.915 / 0.995).abs() < 1e-9, "{provider}: {ps:?}");
                assert!((ps[1] - 0.08 / 0.995).abs() < 1e-9, "{provider}: {ps:?}");
            }
        }
    }
}
