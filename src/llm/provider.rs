//! Provider wire formats: building the HTTP request for a [`Prompt`] and
//! reading the provider's reply into a [`Completion`] or a [`CallError`].
//!
//! Four wire formats are spoken:
//!
//! | [`Provider`] | endpoint | structured output | logprobs |
//! |---|---|---|---|
//! | `openai` | `{base}/chat/completions` | `response_format: json_schema` | `logprobs` + `top_logprobs` |
//! | `anthropic` | `{base}/v1/messages` | a forced tool call (`tool_choice: {type: tool}`) | none |
//! | `gemini` | `{base}/v1beta/models/{model}:generateContent` | `responseMimeType` + `responseSchema` (converted dialect) | `responseLogprobs` + `logprobs` (model-dependent) |
//! | `openai-compatible` | `{base}/chat/completions` | `json_schema`, `json_object` or none ([`StructuredOutput`]) | opt-in ([`ModelConfig::logprobs`]) |
//!
//! Base URLs follow each provider's own SDK convention, so they can be copied
//! from the provider's documentation: OpenAI's includes `/v1`
//! (`https://api.openai.com/v1`, `http://localhost:11434/v1` for Ollama),
//! Anthropic's and Gemini's are the bare host.
//!
//! Everything here is pure: no clock, no I/O, no randomness. The transport
//! (the CLI's native client, the browser's `fetch`) sends the [`HttpRequest`]
//! and hands the status, headers and body back to [`parse_response`]. API keys
//! only ever appear in [`HttpRequest::headers`]; the request's `Debug` and
//! [`HttpRequest::redacted`] never show them.
//!
//! ```
//! use profile::llm::provider::{build_request, parse_response, ModelConfig, Provider};
//! use profile::llm::Prompt;
//! let prompt = Prompt {
//!     template: "receptive".into(), version: 1,
//!     system: "You are a careful rater.".into(),
//!     user: "Does the response answer the question? Answer yes or no.".into(),
//!     schema: None, want_logprobs: true,
//! };
//! let cfg = ModelConfig::new(Provider::OpenAi, "gpt-4o-mini");
//! let req = build_request(&cfg, "sk-secret", &prompt);
//! assert_eq!(req.url, "https://api.openai.com/v1/chat/completions");
//! assert!(!format!("{req:?}").contains("sk-secret"));
//!
//! let body = r#"{"choices": [{"message": {"role": "assistant", "content": "Yes"},
//!   "finish_reason": "stop"}], "usage": {"prompt_tokens": 20, "completion_tokens": 1}}"#;
//! let completion = parse_response(Provider::OpenAi, 200, &[], body).unwrap();
//! assert_eq!(completion.text, "Yes");
//! assert_eq!(completion.usage.input_tokens, 20);
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Decoding, Prompt};

/// How many alternatives of each generated token are asked for when a
/// prompt wants log-probabilities. Five is within every provider's limit
/// (OpenAI allows up to 20, Gemini up to 20) and already holds nearly all
/// the probability mass of a yes/no answer.
pub const TOP_LOGPROBS: u32 = 5;

/// Header names whose values are secrets; they are shown as `[redacted]`.
const SECRET_HEADERS: [&str; 4] = ["authorization", "x-api-key", "x-goog-api-key", "api-key"];

/// Longest provider error message or body excerpt kept in a [`CallError`], in
/// characters.
const MAX_MESSAGE_CHARS: usize = 300;

// ---------------------------------------------------------------------------
// Providers and configuration
// ---------------------------------------------------------------------------

/// An LLM provider, i.e. a wire format plus its defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provider {
    /// OpenAI Chat Completions (`https://api.openai.com/v1`).
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages API, version `2023-06-01`.
    #[serde(rename = "anthropic")]
    Anthropic,
    /// Google Gemini API (`generateContent`, v1beta).
    #[serde(rename = "gemini")]
    Gemini,
    /// Any server speaking OpenAI Chat Completions at a user-given base URL:
    /// llama.cpp's server, Ollama, vLLM, OpenRouter, Together, ….
    #[serde(rename = "openai-compatible")]
    OpenAiCompatible,
}

impl Provider {
    /// Every provider, in the order a UI lists them.
    pub const ALL: [Provider; 4] = [
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::Gemini,
        Provider::OpenAiCompatible,
    ];

    /// The stable id used in configs, caches and reports: `openai`,
    /// `anthropic`, `gemini`, `openai-compatible`.
    pub fn id(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gemini",
            Provider::OpenAiCompatible => "openai-compatible",
        }
    }

    /// The provider with this [`id`](Self::id) (exact, lower case), if any.
    pub fn from_id(id: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.id() == id)
    }

    /// A human-readable name for menus and messages.
    pub fn name(self) -> &'static str {
        match self {
            Provider::OpenAi => "OpenAI",
            Provider::Anthropic => "Anthropic",
            Provider::Gemini => "Google Gemini",
            Provider::OpenAiCompatible => "OpenAI-compatible server",
        }
    }

    /// The base URL used when [`ModelConfig::base_url`] is `None`. For
    /// `openai-compatible` this is llama.cpp's server default
    /// (`http://127.0.0.1:8080/v1`); Ollama is `http://localhost:11434/v1`,
    /// vLLM `http://localhost:8000/v1`, OpenRouter
    /// `https://openrouter.ai/api/v1`, Together `https://api.together.xyz/v1`.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::OpenAi => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com",
            Provider::Gemini => "https://generativelanguage.googleapis.com",
            Provider::OpenAiCompatible => "http://127.0.0.1:8080/v1",
        }
    }

    /// Environment variables that conventionally hold the API key, in the
    /// order to try them (empty for `openai-compatible`: local servers need
    /// no key, hosted ones each have their own variable).
    pub fn key_env_vars(self) -> &'static [&'static str] {
        match self {
            Provider::OpenAi => &["OPENAI_API_KEY"],
            Provider::Anthropic => &["ANTHROPIC_API_KEY"],
            Provider::Gemini => &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
            Provider::OpenAiCompatible => &[],
        }
    }

    /// Whether the provider returns token log-probabilities, and hence
    /// whether [`ModelConfig::new`] turns [`ModelConfig::logprobs`] on.
    /// OpenAI: yes. Anthropic: no. Gemini: yes for models that support it
    /// (a model that does not answers 400, which becomes
    /// [`CallError::BadRequest`]). OpenAI-compatible servers vary (llama.cpp
    /// and vLLM return them, others may not), so it is `false` here and
    /// logprobs are opt-in.
    pub fn offers_logprobs(self) -> bool {
        matches!(self, Provider::OpenAi | Provider::Gemini)
    }

    /// Whether the reply follows the OpenAI Chat Completions shape.
    fn openai_shaped(self) -> bool {
        matches!(self, Provider::OpenAi | Provider::OpenAiCompatible)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// How a JSON reply is requested when the prompt has a schema
/// ([`Prompt::schema`] is `Some`). Prompts without a schema are always sent
/// as plain text requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    /// The provider's schema-constrained output: OpenAI `json_schema`
    /// (`strict` when the schema allows it), Anthropic a forced tool call,
    /// Gemini `responseSchema`.
    #[default]
    Schema,
    /// JSON without a schema: OpenAI `{"type": "json_object"}`, Gemini
    /// `responseMimeType` only; Anthropic has no JSON mode and gets the plain
    /// prompt. For OpenAI-compatible servers without `json_schema` support.
    /// OpenAI requires the word "JSON" to appear in the messages.
    JsonObject,
    /// Nothing beyond the prompt's own instructions.
    Off,
}

impl From<bool> for StructuredOutput {
    /// `true` → [`StructuredOutput::Schema`], `false` → [`StructuredOutput::Off`].
    fn from(on: bool) -> Self {
        if on {
            StructuredOutput::Schema
        } else {
            StructuredOutput::Off
        }
    }
}

/// Which model to call and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub provider: Provider,
    /// The provider's model id, e.g. `gpt-4o-mini`, `claude-sonnet-4-5`,
    /// `gemini-2.5-flash` (a `models/` prefix is accepted for Gemini).
    pub model: String,
    /// Overrides [`Provider::default_base_url`]; a trailing `/` is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default)]
    pub decoding: Decoding,
    /// How JSON replies are requested (default: the provider's schema mode).
    #[serde(default)]
    pub structured_output: StructuredOutput,
    /// Ask for log-probabilities when a prompt wants them
    /// ([`Prompt::want_logprobs`]). Ignored for Anthropic.
    #[serde(default)]
    pub logprobs: bool,
}

impl ModelConfig {
    /// A config with the provider's defaults: default base URL, the paper's
    /// decoding, schema-constrained output, and logprobs on where the
    /// provider [offers](Provider::offers_logprobs) them.
    pub fn new(provider: Provider, model: impl Into<String>) -> ModelConfig {
        ModelConfig {
            provider,
            model: model.into(),
            base_url: None,
            decoding: Decoding::default(),
            structured_output: StructuredOutput::Schema,
            logprobs: provider.offers_logprobs(),
        }
    }

    /// The base URL in effect, without a trailing `/`.
    pub fn effective_base_url(&self) -> &str {
        let base = match &self.base_url {
            Some(b) if !b.trim().is_empty() => b.trim(),
            _ => self.provider.default_base_url(),
        };
        base.trim_end_matches('/')
    }

    /// Whether a request for `prompt` asks for log-probabilities.
    pub fn requests_logprobs(&self, prompt: &Prompt) -> bool {
        prompt.want_logprobs && self.logprobs && self.provider != Provider::Anthropic
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// One HTTP request, ready for a transport. The body is JSON text.
///
/// `Debug` and [`redacted`](Self::redacted) hide the values of secret headers
/// (`authorization`, `x-api-key`, `x-goog-api-key`, `api-key`) and of a
/// `key=` query parameter: log those, never the raw fields.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    /// Header names in lower case, in the order they should be sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpRequest {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// A view that displays the request with secrets replaced by
    /// `[redacted]`: method and URL, one `name: value` line per header, a
    /// blank line, the body.
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(self)
    }

    /// The headers with secret values replaced by `[redacted]`.
    pub fn redacted_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                let v = if is_secret_header(k) {
                    "[redacted]".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("headers", &self.redacted_headers())
            .field("body", &self.body)
            .finish()
    }
}

/// Display adapter returned by [`HttpRequest::redacted`].
pub struct Redacted<'a>(&'a HttpRequest);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        writeln!(f, "{} {}", r.method, redact_url(&r.url))?;
        for (k, v) in r.redacted_headers() {
            writeln!(f, "{k}: {v}")?;
        }
        writeln!(f)?;
        f.write_str(&r.body)
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

/// `scheme://user:password@host…` → `scheme://user:[redacted]@host…`.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{scheme}://{user}:[redacted]@{host}{tail}")
        }
        None => url.to_string(),
    }
}

fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Replaces the value of a `key=` query parameter (Gemini's legacy way of
/// passing the key) and the password of `user:password@` credentials with
/// `[redacted]`.
pub fn redact_url(url: &str) -> String {
    let url = redact_userinfo(url);
    let Some((path, query)) = url.split_once('?') else {
        return url;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("key") => format!("{k}=[redacted]"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// Builds the request that sends `prompt` to the model in `cfg`.
///
/// `key` is trimmed; when it is empty (local OpenAI-compatible servers) no
/// auth header is sent. The key goes in a header only (`authorization:
/// Bearer …`, `x-api-key`, `x-goog-api-key`), never in the URL or body.
///
/// * System message: OpenAI's `system` role, Anthropic's top-level `system`,
///   Gemini's `systemInstruction`; omitted when empty.
/// * Decoding: temperature, top_p and max_tokens are all sent, except to
///   Anthropic, which gets temperature only (Claude 4.1 and later reject
///   requests with both temperature and top_p). OpenAI gets
///   `max_completion_tokens`, compatible servers the older `max_tokens`.
/// * Schema (per [`StructuredOutput`]): OpenAI `json_schema` named after the
///   template, `strict` only when every object in the schema lists all its
///   properties as required and sets `additionalProperties: false` (OpenAI's
///   strict-mode rules; otherwise strict would be rejected); Anthropic a tool
///   named after the template with the schema as `input_schema`, forced with
///   `tool_choice`; Gemini the schema converted to its OpenAPI subset (see
///   [`gemini_schema`]). OpenAI and Anthropic require an object at the root.
/// * Logprobs (when [`ModelConfig::requests_logprobs`]): `logprobs: true,
///   top_logprobs: 5` or Gemini's `responseLogprobs: true, logprobs: 5`.
///   Only meaningful for free-text prompts whose reply is the bare answer
///   word(s); with a schema the first token is `{`.
pub fn build_request(cfg: &ModelConfig, key: &str, prompt: &Prompt) -> HttpRequest {
    let key = key.trim();
    let base = cfg.effective_base_url();
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    let (url, body) = match cfg.provider {
        Provider::OpenAi | Provider::OpenAiCompatible => {
            if !key.is_empty() {
                headers.push(("authorization".into(), format!("Bearer {key}")));
            }
            (format!("{base}/chat/completions"), openai_body(cfg, prompt))
        }
        Provider::Anthropic => {
            if !key.is_empty() {
                headers.push(("x-api-key".into(), key.to_string()));
            }
            headers.push(("anthropic-version".into(), "2023-06-01".into()));
            headers.push((
                "anthropic-dangerous-direct-browser-access".into(),
                "true".into(),
            ));
            (format!("{base}/v1/messages"), anthropic_body(cfg, prompt))
        }
        Provider::Gemini => {
            if !key.is_empty() {
                headers.push(("x-goog-api-key".into(), key.to_string()));
            }
            let model = cfg.model.trim();
            let model = model.strip_prefix("models/").unwrap_or(model);
            (
                format!(
                    "{base}/v1beta/models/{}:generateContent",
                    percent_encode(model)
                ),
                gemini_body(cfg, prompt),
            )
        }
    };
    HttpRequest {
        method: "POST",
        url,
        headers,
        body: body.to_string(),
    }
}

/// The name under which a schema is sent (OpenAI's `json_schema.name`,
/// Anthropic's tool name): the template name with every character outside
/// `[A-Za-z0-9_-]` replaced by `_`, at most 64 characters, `reply` if empty.
pub fn schema_name(prompt: &Prompt) -> String {
    let name: String = prompt
        .template
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "reply".to_string()
    } else {
        name
    }
}

fn openai_body(cfg: &ModelConfig, prompt: &Prompt) -> Value {
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

fn anthropic_body(cfg: &ModelConfig, prompt: &Prompt) -> Value {
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

fn gemini_body(cfg: &ModelConfig, prompt: &Prompt) -> Value {
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

/// Percent-encodes everything outside RFC 3986's unreserved characters, so a
/// model id cannot change the URL's path or query.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

/// Tokens counted by the provider for one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens, including Anthropic's cache reads and writes.
    pub input_tokens: u64,
    /// Generated tokens, including hidden reasoning ("thinking") tokens,
    /// which are billed as output.
    pub output_tokens: u64,
}

/// A successful reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The reply text. For an Anthropic forced tool call, the tool input
    /// serialised as compact JSON; for several text parts, their
    /// concatenation.
    pub text: String,
    /// The top alternatives of the first generated token with their natural
    /// log-probabilities, most likely first, when logprobs were requested
    /// and returned. See [`p_yes`].
    pub first_token_logprobs: Option<Vec<(String, f64)>>,
    /// The top alternatives of every generated token, one list per position
    /// in reply order (each most likely first; a position without any is an
    /// empty list), when logprobs were requested and returned. Element 0 is
    /// [`first_token_logprobs`](Self::first_token_logprobs). See
    /// [`p_yes_per_answer`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_logprobs: Option<Vec<Vec<(String, f64)>>>,
    pub usage: Usage,
    /// The provider's stop reason as sent (`stop`, `end_turn`, `tool_use`,
    /// `STOP`, …).
    pub finish: Option<String>,
    /// The model (version) that answered, as the provider reports it
    /// (`model`, or Gemini's `modelVersion`); worth recording because aliases
    /// move.
    pub model: Option<String>,
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CallError {
    /// HTTP 429 (rate or concurrency limit). `retry_after_s` is the server's
    /// hint: the `retry-after-ms` or `Retry-After` header (seconds, or an
    /// HTTP-date measured against the response's `Date` header), or Gemini's
    /// `RetryInfo.retryDelay` in the body.
    RateLimited { retry_after_s: Option<f64> },
    /// HTTP 5xx, including Anthropic's 529 "overloaded".
    Server { status: u16 },
    /// HTTP 401/403, or Gemini's 400 `API_KEY_INVALID`: the key is missing,
    /// wrong or lacks access.
    Auth { status: u16, message: String },
    /// The account is out of credit or quota (OpenAI's 429
    /// `insufficient_quota`); waiting does not help.
    Quota { status: u16, message: String },
    /// Any other 4xx (400, 404 unknown model, 413, 422, …): the request
    /// itself is wrong; retrying the same request does not help.
    BadRequest { status: u16, message: String },
    /// No answer in time: the transport's timeout, or HTTP 408.
    Timeout,
    /// The transport failed (DNS, connection refused or reset, CORS).
    Network(String),
    /// The body is not the provider's reply shape (not JSON, or JSON
    /// without the expected fields); holds a description and an excerpt.
    Malformed(String),
    /// The model refused, or a safety filter blocked the prompt or reply
    /// (OpenAI `refusal` / `content_filter`, Anthropic `refusal`, Gemini
    /// `SAFETY`, `RECITATION`, `blockReason`, …).
    Refused(String),
    /// The reply hit `max_tokens` before it was complete; `partial` is what
    /// arrived (the tokens are still billed, hence `usage`).
    Truncated { partial: String, usage: Usage },
    /// The reply is longer than [`MAX_REPLY_BYTES`]; `head` is its start.
    /// Not retried: the same request would be paid for again and answered
    /// the same way.
    TooLarge { limit: usize, head: String },
}

/// The most bytes of a reply that are read: 10 MiB. A reply this long is
/// not a factor, a verdict or a handful of responses; reading on would only
/// cost memory.
pub const MAX_REPLY_BYTES: usize = 10 * 1024 * 1024;

/// The first `n` characters of a reply's bytes (lossy UTF-8), for listing a
/// reply that could not be used.
pub fn reply_head(bytes: &[u8], n: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(4 * n)])
        .chars()
        .take(n)
        .collect()
}

impl CallError {
    /// Whether this error means every further call fails the same way (the
    /// key is refused, the account has no credit): the run stops at once.
    pub fn stops_run(&self) -> bool {
        matches!(self, CallError::Auth { .. } | CallError::Quota { .. })
    }
}

impl CallError {
    /// Whether the same request may succeed if sent again after a pause:
    /// rate limits, 5xx, timeouts (including 408) and network failures.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            CallError::RateLimited { .. }
                | CallError::Server { .. }
                | CallError::Timeout
                | CallError::Network(_)
        )
    }

    /// The server's suggested wait before retrying, in seconds.
    pub fn retry_after_s(&self) -> Option<f64> {
        match self {
            CallError::RateLimited { retry_after_s } => *retry_after_s,
            _ => None,
        }
    }

    /// The HTTP status behind the error, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::RateLimited { .. } => Some(429),
            CallError::Server { status }
            | CallError::Auth { status, .. }
            | CallError::Quota { status, .. }
            | CallError::BadRequest { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::RateLimited {
                retry_after_s: Some(s),
            } => write!(f, "rate limited (HTTP 429); retry after {s} s"),
            CallError::RateLimited {
                retry_after_s: None,
            } => {
                write!(f, "rate limited (HTTP 429)")
            }
            CallError::Server { status } => write!(f, "server error (HTTP {status})"),
            CallError::Auth { status, message } => {
                write!(f, "authentication failed (HTTP {status}): {message}")
            }
            CallError::Quota { status, message } => {
                write!(f, "quota or credit exhausted (HTTP {status}): {message}")
            }
            CallError::BadRequest { status, message } => {
                write!(f, "request rejected (HTTP {status}): {message}")
            }
            CallError::Timeout => write!(f, "timed out"),
            CallError::Network(m) => write!(f, "network error: {m}"),
            CallError::Malformed(m) => write!(f, "malformed reply: {m}"),
            CallError::Refused(m) => write!(f, "refused or filtered: {m}"),
            CallError::TooLarge { limit, .. } => write!(
                f,
                "reply larger than {} MiB; not read further and not retried",
                limit / (1024 * 1024)
            ),
            CallError::Truncated { partial, .. } => write!(
                f,
                "reply truncated at max_tokens ({} characters received)",
                partial.chars().count()
            ),
        }
    }
}

impl std::error::Error for CallError {}

/// Reads a provider's HTTP reply.
///
/// The status decides first: 2xx is parsed as the provider's reply shape;
/// 401/403 → [`CallError::Auth`]; 408 → [`CallError::Timeout`]; 429 →
/// [`CallError::RateLimited`] (or [`CallError::Quota`] for OpenAI's
/// `insufficient_quota`); other 4xx → [`CallError::BadRequest`] with the
/// provider's error message; 5xx → [`CallError::Server`]; anything else →
/// [`CallError::Malformed`]. A 2xx body that holds only an `error` object
/// (OpenRouter does this) is mapped by the error's `code` as if it were the
/// status.
///
/// Header names are matched case-insensitively. Usage defaults to zero when
/// the server omits it.
///
/// # Errors
/// Every failure is a [`CallError`]; this function never panics.
pub fn parse_response(
    provider: Provider,
    status: u16,
    headers: &[(String, String)],
    body: &str,
) -> Result<Completion, CallError> {
    if !(200..300).contains(&status) {
        return Err(error_for_status(provider, status, headers, body));
    }
    let v: Value = serde_json::from_str(body)
        .map_err(|e| CallError::Malformed(format!("body is not JSON ({e}): {}", excerpt(body))))?;
    if let Some(err) = v.get("error") {
        let has_reply = ["choices", "content", "candidates"]
            .iter()
            .any(|k| v.get(k).is_some());
        if !has_reply {
            let code = err
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (400..600).contains(c));
            return Err(match code {
                Some(c) => error_for_status(provider, c, headers, body),
                None => CallError::Malformed(format!(
                    "provider error in a {status} reply: {}",
                    error_message(body)
                )),
            });
        }
    }
    match provider {
        Provider::OpenAi | Provider::OpenAiCompatible => parse_openai(&v, body),
        Provider::Anthropic => parse_anthropic(&v, body),
        Provider::Gemini => parse_gemini(&v, body),
    }
}

fn error_for_status(
    provider: Provider,
    status: u16,
    headers: &[(String, String)],
    body: &str,
) -> CallError {
    let message = || error_message(body);
    match status {
        401 | 403 => CallError::Auth {
            status,
            message: message(),
        },
        408 => CallError::Timeout,
        429 => {
            if provider.openai_shaped()
                && openai_error_code(body).as_deref() == Some("insufficient_quota")
            {
                return CallError::Quota {
                    status,
                    message: message(),
                };
            }
            let retry_after_s =
                retry_after_from_headers(headers).or_else(|| gemini_retry_delay(body));
            CallError::RateLimited { retry_after_s }
        }
        400 if provider == Provider::Gemini && body.contains("API_KEY_INVALID") => {
            CallError::Auth {
                status,
                message: message(),
            }
        }
        400..=499 => CallError::BadRequest {
            status,
            message: message(),
        },
        500..=599 => CallError::Server { status },
        _ => CallError::Malformed(format!(
            "unexpected HTTP status {status}: {}",
            excerpt(body)
        )),
    }
}

/// The human-readable message of a provider error body: `error.message`
/// (OpenAI, Anthropic, Gemini, llama.cpp), `error` as a string (Ollama),
/// `message` (vLLM) or `detail` (FastAPI servers); else an excerpt of the
/// body. At most 300 characters.
fn error_message(body: &str) -> String {
    let v: Option<Value> = serde_json::from_str(body).ok();
    let found = v.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .and_then(Value::as_str)
            .or_else(|| v.get("error").and_then(Value::as_str))
            .or_else(|| v.get("message").and_then(Value::as_str))
            .or_else(|| v.get("detail").and_then(Value::as_str))
            .map(str::to_string)
    });
    match found {
        Some(m) => truncate_chars(&m, MAX_MESSAGE_CHARS),
        None => excerpt(body),
    }
}

fn openai_error_code(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let e = v.get("error")?;
    e.get("code")
        .and_then(Value::as_str)
        .or_else(|| e.get("type").and_then(Value::as_str))
        .map(str::to_string)
}

/// Gemini's `RetryInfo.retryDelay` (e.g. `"37s"`) from a 429 body, in
/// seconds.
fn gemini_retry_delay(body: &str) -> Option<f64> {
    let v: Value = serde_json::from_str(body).ok()?;
    let details = v.pointer("/error/details")?.as_array()?;
    details.iter().find_map(|d| {
        let delay = d.get("retryDelay")?.as_str()?;
        parse_seconds(delay.strip_suffix('s')?)
    })
}

fn retry_after_from_headers(headers: &[(String, String)]) -> Option<f64> {
    if let Some(ms) = header_value(headers, "retry-after-ms").and_then(parse_seconds) {
        return Some(ms / 1000.0);
    }
    let value = header_value(headers, "retry-after")?;
    let now = header_value(headers, "date").and_then(parse_http_date);
    retry_after_seconds(value, now)
}

/// A `Retry-After` value in seconds: either delay-seconds (`"120"`; a
/// fraction such as `"1.5"` is accepted too) or an HTTP-date
/// (IMF-fixdate, `"Wed, 21 Oct 2015 07:28:00 GMT"`), which needs the current
/// time `now_unix_s` (seconds since 1970) to become a delay; without it a
/// date gives `None`. Dates in the past give 0.
pub fn retry_after_seconds(value: &str, now_unix_s: Option<i64>) -> Option<f64> {
    let value = value.trim();
    if let Some(s) = parse_seconds(value) {
        return Some(s);
    }
    let at = parse_http_date(value)?;
    let now = now_unix_s?;
    Some((at - now).max(0) as f64)
}

fn parse_seconds(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110) into
/// seconds since 1970-01-01 UTC. The obsolete RFC 850 and asctime forms are
/// not accepted.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_weekday, day, month, year, time, zone] = parts.as_slice() else {
        return None;
    };
    if *zone != "GMT" && *zone != "UTC" {
        return None;
    }
    let day: i64 = day.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as i64 + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, sec] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *mi > 59 || *sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn excerpt(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        "(empty body)".to_string()
    } else {
        truncate_chars(body, MAX_MESSAGE_CHARS)
    }
}

fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

fn shape_error(what: &str, body: &str) -> CallError {
    CallError::Malformed(format!("{what}: {}", excerpt(body)))
}

fn parse_openai(v: &Value, body: &str) -> Result<Completion, CallError> {
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
    let first_token_logprobs = choice
        .pointer("/logprobs/content/0")
        .and_then(openai_top_logprobs);
    let token_logprobs = choice
        .pointer("/logprobs/content")
        .and_then(Value::as_array)
        .map(|positions| {
            positions
                .iter()
                .map(|entry| openai_top_logprobs(entry).unwrap_or_default())
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
fn openai_top_logprobs(entry: &Value) -> Option<Vec<(String, f64)>> {
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

fn sort_alternatives(alts: &mut [(String, f64)]) {
    alts.sort_by(|a, b| b.1.total_cmp(&a.1));
}

fn parse_anthropic(v: &Value, body: &str) -> Result<Completion, CallError> {
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

/// Gemini finish reasons that mean a filter or policy stopped the reply.
const GEMINI_BLOCKED: [&str; 7] = [
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "LANGUAGE",
];

fn parse_gemini(v: &Value, body: &str) -> Result<Completion, CallError> {
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
        Some(reason) if GEMINI_BLOCKED.contains(&reason) => {
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
    let token_logprobs = gemini_token_logprobs(candidate);
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

/// Gemini's per-position alternatives: `logprobsResult.topCandidates[i]
/// .candidates` (`{token, logProbability}`), else the chosen token alone
/// (`chosenCandidates[i]`), sorted most likely first. `None` when neither
/// list is there or every position is empty.
fn gemini_token_logprobs(candidate: &Value) -> Option<Vec<Vec<(String, f64)>>> {
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

// ---------------------------------------------------------------------------
// Scores and estimates
// ---------------------------------------------------------------------------

/// P(yes) / (P(yes) + P(no)) from the alternatives of the first generated
/// token (UniEval's score, METHOD.md §6).
///
/// A token counts as "yes" or "no" when, after removing surrounding
/// whitespace, the tokenizer's word markers `▁` and `Ġ`, and surrounding
/// ASCII punctuation (quotes, `*`, `.`, …), it equals `yes` or `no`
/// ignoring case; the probabilities of all variants (`Yes`, ` yes`, `YES`,
/// …) are summed. Non-finite or NaN log-probabilities count as zero
/// probability. `None` when neither answer is among the alternatives. An
/// answer missing from the top alternatives contributes nothing, so one
/// present alone gives 0 or 1.
pub fn p_yes(first_token_logprobs: &[(String, f64)]) -> Option<f64> {
    let (yes, no) = yes_no_mass(first_token_logprobs);
    let total = yes + no;
    (total > 0.0).then(|| yes / total)
}

/// P(yes) / (P(yes) + P(no)) at every *answer position* of a reply, in
/// reply order: for replies that give several bare yes/no answers in a row
/// (`fluency_coherence@1` answers "yes no"), element `k` scores the
/// `k`-th answer. `token_logprobs` holds each generated position's top
/// alternatives ([`Completion::token_logprobs`]).
///
/// A position is an answer position when its yes and no alternatives
/// (every variant, counted as in [`p_yes`]) together hold at least half of
/// the probability: the model is answering there, whichever word it
/// sampled. Separators (spaces, line breaks, commas) and other words hold
/// next to none, so they are skipped. The result is shorter than the number
/// of answers asked when the model was unsure whether to answer at some
/// position; callers should then not trust the alignment and fall back to
/// the reply's words.
pub fn p_yes_per_answer(token_logprobs: &[Vec<(String, f64)>]) -> Vec<f64> {
    token_logprobs
        .iter()
        .filter_map(|alts| {
            let (yes, no) = yes_no_mass(alts);
            (yes + no >= 0.5).then(|| yes / (yes + no))
        })
        .collect()
}

/// P(yes)/(P(yes)+P(no)) at the `k`-th (0-based) answer position of a reply
/// ([`p_yes_per_answer`]), if there is one.
pub fn p_yes_at_answer(token_logprobs: &[Vec<(String, f64)>], k: usize) -> Option<f64> {
    p_yes_per_answer(token_logprobs).get(k).copied()
}

/// The summed probabilities of the yes and the no variants among `alts`.
fn yes_no_mass(alts: &[(String, f64)]) -> (f64, f64) {
    let (mut yes, mut no) = (0.0_f64, 0.0_f64);
    for (token, logprob) in alts {
        let p = if logprob.is_nan() { 0.0 } else { logprob.exp() };
        if !p.is_finite() {
            continue;
        }
        match normalise_answer_token(token).as_str() {
            "yes" => yes += p,
            "no" => no += p,
            _ => {}
        }
    }
    (yes, no)
}

fn normalise_answer_token(token: &str) -> String {
    token
        .trim_matches(|c: char| {
            c.is_whitespace() || c == '▁' || c == 'Ġ' || c.is_ascii_punctuation()
        })
        .to_lowercase()
}

/// A rough token count for cost estimates: the number of characters
/// (Unicode scalar values) divided by four, rounded up. English text
/// averages about four characters per token with current tokenizers; text
/// in scripts such as Chinese or Japanese has closer to one token per
/// character, so this underestimates it.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// [`estimate_tokens`] for everything a request sends: system, user and the
/// serialised schema, plus 10 tokens of per-message overhead.
pub fn estimate_prompt_tokens(prompt: &Prompt) -> u64 {
    let schema = prompt
        .schema
        .as_ref()
        .map(|s| estimate_tokens(&s.to_string()))
        .unwrap_or(0);
    estimate_tokens(&prompt.system) + estimate_tokens(&prompt.user) + schema + 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480)
        );
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400)
        );
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), None);
        assert_eq!(parse_http_date(""), None);
    }

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_url("http://user:hunter2@127.0.0.1:8080/v1?key=abc&x=1"),
            "http://user:[redacted]@127.0.0.1:8080/v1?key=[redacted]&x=1"
        );
        assert_eq!(
            redact_url("https://tok@host/v1"),
            "https://tok:[redacted]@host/v1"
        );
        assert_eq!(redact_url("https://host/a@b"), "https://host/a@b");
        assert_eq!(redact_url("no url"), "no url");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after_seconds("120", None), Some(120.0));
        assert_eq!(retry_after_seconds(" 1.5 ", None), Some(1.5));
        assert_eq!(retry_after_seconds("-3", None), None);
        assert_eq!(retry_after_seconds("soon", None), None);
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(retry_after_seconds(date, None), None);
        assert_eq!(retry_after_seconds(date, Some(1_445_412_450)), Some(30.0));
        assert_eq!(retry_after_seconds(date, Some(1_445_412_490)), Some(0.0));
    }

    #[test]
    fn gemini_retry_info() {
        let body = r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}}"#;
        assert_eq!(gemini_retry_delay(body), Some(37.0));
        assert_eq!(gemini_retry_delay("{}"), None);
        assert_eq!(gemini_retry_delay("not json"), None);
    }

    #[test]
    fn names_and_urls() {
        let mut p = Prompt {
            template: "atomic facts@1/x".into(),
            version: 1,
            system: String::new(),
            user: String::new(),
            schema: None,
            want_logprobs: false,
        };
        assert_eq!(schema_name(&p), "atomic_facts_1_x");
        p.template = String::new();
        assert_eq!(schema_name(&p), "reply");
        p.template = "x".repeat(100);
        assert_eq!(schema_name(&p).len(), 64);
        assert_eq!(percent_encode("gemini-2.5-flash"), "gemini-2.5-flash");
        assert_eq!(percent_encode("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(
            redact_url("https://x/y?alt=json&key=AIza123"),
            "https://x/y?alt=json&key=[redacted]"
        );
        assert_eq!(redact_url("https://x/y"), "https://x/y");
    }

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

    #[test]
    fn answer_tokens() {
        for t in [
            "Yes", " yes", "YES", "▁Yes", "ĠYes", "\"yes", "Yes.", "**Yes**",
        ] {
            assert_eq!(normalise_answer_token(t), "yes", "{t:?}");
        }
        assert_eq!(normalise_answer_token("Yeah"), "yeah");
        assert_eq!(normalise_answer_token(" No,"), "no");
    }

    #[test]
    fn truncation_is_char_safe() {
        assert_eq!(truncate_chars("héllo", 2), "hé…");
        assert_eq!(truncate_chars("hé", 2), "hé");
        assert_eq!(excerpt("  "), "(empty body)");
    }
}
