//! Golden files of every provider's wire format, byte for byte.
//!
//! * `tests/snapshots/provider/requests.txt`: for each provider and a fixed
//!   set of prompts (schema + logprobs, free text without a system message,
//!   a schema that is not strict, JSON-object and no structured output), the
//!   URL, the redacted headers and the exact body text `build_request` makes;
//!   the parsed completion of a fixed reply per wire format; the default
//!   model and the prefilled prices of a list of models.
//! * `tests/snapshots/provider/batch-<provider>.jsonl`: the exact batch
//!   input file `profile batch export` writes for the example dataset
//!   (OpenAI Batch API lines for `openai` and `openai-compatible`, Anthropic
//!   Message Batches lines for `anthropic`), and Gemini's refusal.
//!
//! These pin the bytes that leave the program, so moving code between
//! modules cannot change them unnoticed. `UPDATE_SNAPSHOTS=1 cargo test
//! --test provider_golden` rewrites the files (review the diff).

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use profile::llm::pricing::price_of;
use profile::llm::provider::{
    build_request, parse_response, ModelConfig, Provider, StructuredOutput,
};
use profile::llm::settings::default_model;
use profile::llm::Prompt;
use serde_json::json;

const KEY: &str = "sk-GOLDEN-never-written-7777";
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www/example/example.jsonl");

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/provider")
}

fn update() -> bool {
    std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1")
}

/// Compares `text` with the golden file `name` (or writes it when updating).
fn check(name: &str, text: &str) {
    let path = dir().join(name);
    if update() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: cannot read ({e}); UPDATE_SNAPSHOTS=1 writes it",
            path.display()
        )
    });
    if stored != text {
        let line = stored
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || stored.lines().count().min(text.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "{} differs from line {line}:\n  stored: {:?}\n  now:    {:?}",
            path.display(),
            stored.lines().nth(line - 1).unwrap_or(""),
            text.lines().nth(line - 1).unwrap_or("")
        );
    }
}

fn prompts() -> Vec<(&'static str, Prompt)> {
    let strict = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["facts"],
        "properties": {"facts": {"type": "array", "items": {"type": "string"}}}
    });
    let loose = json!({
        "type": "object",
        "required": ["verdict"],
        "properties": {
            "verdict": {"enum": ["yes", "no", null]},
            "score": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
            "why": {"anyOf": [{"type": "string"}, {"type": "null"}]}
        }
    });
    vec![
        (
            "schema+logprobs",
            Prompt {
                template: "atomic_facts".into(),
                version: 1,
                system: "You split texts into atomic facts.".into(),
                user:
                    "Split this text into facts.\n<text>The sky is \"blue\". Wäter is wet.</text>"
                        .into(),
                schema: Some(strict),
                want_logprobs: true,
            },
        ),
        (
            "free-text",
            Prompt {
                template: "fluency".into(),
                version: 2,
                system: String::new(),
                user: "Is this a fluent paragraph? Answer yes or no.\n<text>It rains.</text>"
                    .into(),
                schema: None,
                want_logprobs: true,
            },
        ),
        (
            "loose-schema",
            Prompt {
                template: "judge pair@1".into(),
                version: 1,
                system: "Judge.".into(),
                user: "Which is better?".into(),
                schema: Some(loose),
                want_logprobs: false,
            },
        ),
    ]
}

fn configs() -> Vec<(&'static str, ModelConfig)> {
    let mut out = Vec::new();
    for p in Provider::ALL {
        out.push(("default", ModelConfig::new(p, default_model(p))));
        let mut json_object = ModelConfig::new(p, "models/some-model 1");
        json_object.structured_output = StructuredOutput::JsonObject;
        json_object.logprobs = true;
        json_object.base_url = Some(" http://127.0.0.1:9/base/ ".into());
        out.push(("json-object", json_object));
        let mut off = ModelConfig::new(p, "m");
        off.structured_output = StructuredOutput::Off;
        off.decoding.temperature = 0.0;
        off.decoding.max_tokens = 7;
        out.push(("off", off));
    }
    out
}

const REPLIES: [(Provider, &str); 3] = [
    (
        Provider::OpenAi,
        r#"{"model": "gpt-4o-mini-2024-07-18", "choices": [{"message": {"role": "assistant", "content": "Yes no"},
          "finish_reason": "stop", "logprobs": {"content": [
            {"token": "Yes", "logprob": -0.1, "top_logprobs": [{"token": "No", "logprob": -2.5}, {"token": "Yes", "logprob": -0.1}]},
            {"token": " no", "logprob": -0.3, "top_logprobs": {" no": -0.3, " yes": -1.4}}]}}],
          "usage": {"prompt_tokens": 20, "completion_tokens": 2}}"#,
    ),
    (
        Provider::Anthropic,
        r#"{"model": "claude-haiku-4-5", "stop_reason": "tool_use", "content": [
          {"type": "text", "text": "ignored"}, {"type": "tool_use", "name": "x", "input": {"facts": ["a", "b"]}}],
          "usage": {"input_tokens": 10, "cache_read_input_tokens": 3, "output_tokens": 4}}"#,
    ),
    (
        Provider::Gemini,
        r#"{"modelVersion": "gemini-2.5-flash-001", "candidates": [{"finishReason": "STOP",
          "content": {"parts": [{"text": "thinking", "thought": true}, {"text": "yes"}]},
          "logprobsResult": {"topCandidates": [{"candidates": [{"token": "no", "logProbability": -1.2}, {"token": "yes", "logProbability": -0.4}]}],
            "chosenCandidates": [{"token": "yes", "logProbability": -0.4}, {"token": ".", "logProbability": -0.01}]}}],
          "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 1, "thoughtsTokenCount": 5}}"#,
    ),
];

#[test]
fn requests_replies_defaults_and_prices() {
    let mut out = String::new();
    for (cname, cfg) in configs() {
        for (pname, prompt) in prompts() {
            let req = build_request(&cfg, KEY, &prompt);
            assert!(!req.body.contains(KEY) && !req.url.contains(KEY));
            writeln!(out, "== {} / {cname} / {pname}", cfg.provider).unwrap();
            writeln!(out, "{} {}", req.method, req.url).unwrap();
            for (k, v) in req.redacted_headers() {
                writeln!(out, "{k}: {v}").unwrap();
            }
            writeln!(out, "{}", req.body).unwrap();
        }
    }
    for (provider, body) in REPLIES {
        writeln!(out, "== reply {provider}").unwrap();
        writeln!(out, "{:?}", parse_response(provider, 200, &[], body)).unwrap();
    }
    writeln!(out, "== defaults").unwrap();
    for p in Provider::ALL {
        writeln!(out, "{p}: {}", default_model(p)).unwrap();
    }
    writeln!(out, "== prices").unwrap();
    let models = [
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
        "gpt-4o",
        "gpt-4.1-nano",
        "gpt-4.1-mini",
        "gpt-4.1",
        "gpt-5-nano",
        "gpt-5-mini",
        "gpt-5",
        "GPT-5-2025",
        "claude-3-5-haiku-latest",
        "claude-haiku-4-5",
        "claude-sonnet-4-5",
        "claude-opus-4-1",
        "gemini-2.0-flash",
        "models/gemini-2.5-flash-lite",
        "gemini-2.5-flash",
        "gemini-2.5-pro",
        "unknown",
        "local",
    ];
    for p in Provider::ALL {
        for m in models {
            writeln!(out, "{p} {m}: {:?}", price_of(p.id(), m)).unwrap();
        }
    }
    check("requests.txt", &out);
}

#[test]
fn batch_files() {
    let tmp = common::tempdir("provider-golden");
    for (provider, model) in [
        ("openai", "gpt-4o-mini"),
        ("openai-compatible", "local"),
        ("anthropic", "claude-haiku-4-5"),
        ("gemini", "gemini-2.5-flash"),
    ] {
        let file = tmp.join(format!("{provider}.jsonl"));
        let cache = tmp.join(format!("cache-{provider}"));
        let o = Command::new(env!("CARGO_BIN_EXE_profile"))
            .args([
                "batch",
                "export",
                DATA,
                "--provider",
                provider,
                "--model",
                model,
            ])
            .args(["--limit", "3", "--price-in", "1", "--price-out", "2"])
            .arg("--cache-dir")
            .arg(&cache)
            .arg("--out")
            .arg(&file)
            .env("OPENAI_API_KEY", KEY)
            .env("ANTHROPIC_API_KEY", KEY)
            .env("GEMINI_API_KEY", KEY)
            .env("PROFILE_API_KEY", KEY)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        if provider == "gemini" {
            assert!(!o.status.success());
            // Only the refusal: the usage text after it belongs to the CLI.
            let first = stderr.lines().next().unwrap_or_default();
            check("batch-gemini.txt", &format!("{first}\n"));
            continue;
        }
        assert!(o.status.success(), "{provider}: {stderr}");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(KEY));
        assert!(text.lines().count() > 1, "{provider}: too few lines");
        check(&format!("batch-{provider}.jsonl"), &text);
    }
}
