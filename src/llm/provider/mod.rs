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
//! One module per wire format owns everything that format knows: its
//! request body and headers, its structured-output dialect, its reply and
//! error shapes, its batch lines, its default model and its list prices
//! ([`openai`] for `openai` and `openai-compatible`, [`anthropic`],
//! [`gemini`]). This module holds what they share: the [`Provider`] and
//! [`ModelConfig`] values, the dispatching [`build_request`] and
//! [`parse_response`], the [`Completion`] and [`CallError`] a reply becomes,
//! and the status → error rules common to all. [`http`] holds the request
//! value, its redaction and the `Retry-After` / HTTP-date parsing; the
//! log-probability maths and token estimates are in
//! [`logprob`](super::logprob). Both are re-exported here, so every item
//! keeps its `provider::` path.
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
use serde_json::Value;

use super::{Decoding, Prompt};

pub mod anthropic;
pub mod gemini;
pub mod http;
pub mod openai;

pub use super::logprob::{
    estimate_prompt_tokens, estimate_tokens, p_yes, p_yes_at_answer, p_yes_per_answer,
};
pub use gemini::gemini_schema;
pub use http::{parse_http_date, redact_url, retry_after_seconds, HttpRequest, Redacted};
pub use openai::openai_strict_compatible;

/// How many alternatives of each generated token are asked for when a
/// prompt wants log-probabilities. Five is within every provider's limit
/// (OpenAI allows up to 20, Gemini up to 20) and already holds nearly all
/// the probability mass of a yes/no answer.
pub const TOP_LOGPROBS: u32 = 5;

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

    /// The model suggested for this provider (editable in the settings).
    pub fn default_model(self) -> &'static str {
        match self {
            Provider::OpenAi => openai::DEFAULT_MODEL,
            Provider::Anthropic => anthropic::DEFAULT_MODEL,
            Provider::Gemini => gemini::DEFAULT_MODEL,
            Provider::OpenAiCompatible => openai::COMPATIBLE_DEFAULT_MODEL,
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
        self.requests_logprobs_for(prompt.want_logprobs)
    }

    /// [`ModelConfig::requests_logprobs`] for a prompt whose `want_logprobs`
    /// is `want` (known without rendering it: `ask::template`).
    pub fn requests_logprobs_for(&self, want: bool) -> bool {
        want && self.logprobs && self.provider != Provider::Anthropic
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

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
    let (endpoint, body) = match cfg.provider {
        Provider::OpenAi | Provider::OpenAiCompatible => {
            (openai::endpoint(cfg), openai::body(cfg, prompt))
        }
        Provider::Anthropic => (anthropic::endpoint(cfg), anthropic::body(cfg, prompt)),
        Provider::Gemini => (gemini::endpoint(cfg), gemini::body(cfg, prompt)),
    };
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if !key.is_empty() {
        let value = format!("{}{key}", endpoint.key_prefix);
        headers.push((endpoint.key_header.to_string(), value));
    }
    for (name, value) in endpoint.extra_headers {
        headers.push((name.to_string(), value.to_string()));
    }
    HttpRequest {
        method: "POST",
        url: endpoint.url,
        headers,
        body: body.to_string(),
    }
}

/// Where a wire format sends its requests and how it carries the key.
struct Endpoint {
    url: String,
    /// The header that carries the key; sent only when there is a key.
    key_header: &'static str,
    /// What precedes the key in that header (`Bearer `).
    key_prefix: &'static str,
    /// Headers sent after the key's.
    extra_headers: &'static [(&'static str, &'static str)],
}

/// A provider's batch service: its name, for messages, and how much one
/// batch file may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchService {
    pub name: &'static str,
    /// Requests per file.
    pub max_requests: usize,
    /// Bytes per file (the JSONL text, newlines included).
    pub max_bytes: usize,
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
        Provider::OpenAi | Provider::OpenAiCompatible => openai::parse(&v, body),
        Provider::Anthropic => anthropic::parse(&v, body),
        Provider::Gemini => gemini::parse(&v, body),
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
                && openai::error_code(body).as_deref() == Some("insufficient_quota")
            {
                return CallError::Quota {
                    status,
                    message: message(),
                };
            }
            let retry_after_s =
                http::retry_after_from_headers(headers).or_else(|| gemini::retry_delay(body));
            CallError::RateLimited { retry_after_s }
        }
        400 if provider == Provider::Gemini && gemini::key_invalid(body) => CallError::Auth {
            status,
            message: message(),
        },
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

fn sort_alternatives(alts: &mut [(String, f64)]) {
    alts.sort_by(|a, b| b.1.total_cmp(&a.1));
}

// ---------------------------------------------------------------------------
// Batch result lines (shared by the OpenAI and Anthropic formats)
// ---------------------------------------------------------------------------

/// Longest excerpt of a provider's error or an unknown id kept in a batch
/// line's problem.
const MAX_BATCH_EXCERPT_CHARS: usize = 200;

/// The problem of a request line given as a result.
pub(crate) const REQUEST_NOT_RESULT: &str =
    "a request, not a result: import the results file the batch produced";

/// Where a result line failed: the field at fault and why.
pub type BatchLineError = (&'static str, String);

/// `type: message` of a provider error object: OpenAI's `{"code",
/// "message"}`, Anthropic's `{"type": "error", "error": {"type",
/// "message"}}` or its inner object.
pub(crate) fn batch_error_text(e: &Value) -> String {
    let inner = e.get("error").filter(|x| x.is_object()).unwrap_or(e);
    let kind = ["type", "code"]
        .iter()
        .find_map(|k| inner.get(*k).and_then(Value::as_str));
    let message = inner.get("message").and_then(Value::as_str);
    batch_excerpt(&match (kind, message) {
        (Some(k), Some(m)) => format!("{k}: {m}"),
        (None, Some(m)) => m.to_owned(),
        (Some(k), None) => k.to_owned(),
        (None, None) => e.to_string(),
    })
}

/// At most [`MAX_BATCH_EXCERPT_CHARS`] characters of `s`.
pub(crate) fn batch_excerpt(s: &str) -> String {
    match s.char_indices().nth(MAX_BATCH_EXCERPT_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
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
    }

    #[test]
    fn truncation_is_char_safe() {
        assert_eq!(truncate_chars("héllo", 2), "hé…");
        assert_eq!(truncate_chars("hé", 2), "hé");
        assert_eq!(excerpt("  "), "(empty body)");
    }
}
