//! LLM calls as data (METHOD.md §6–7): prompts built from versioned templates,
//! provider requests and replies, and tolerant parsing of replies into typed
//! values. Everything here is pure: a request is a value, a reply is a string,
//! transport lives at the edges (the CLI's native client, the browser's fetch).

pub mod annotations;
pub mod ask;
pub mod batch;
pub mod cache;
pub mod drive;
pub mod engine;
pub mod extract;
pub mod logprob;
pub mod memo;
pub mod parse;
pub mod pricing;
pub mod prompts;
pub mod provider;
pub mod question;
pub mod roles;
pub mod schedule;
pub mod settings;
#[cfg(not(target_arch = "wasm32"))]
pub mod threads;

use serde::{Deserialize, Serialize};

/// Decoding parameters of a call. Defaults are the paper's (METHOD.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decoding {
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: u32,
}

impl Default for Decoding {
    fn default() -> Self {
        Decoding {
            temperature: 0.6,
            top_p: 0.9,
            max_tokens: 1024,
        }
    }
}

/// One call's prompt: a system message, a user message and, where the reply is
/// JSON, the JSON schema it must follow (sent to providers with structured output).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// Template name, e.g. `atomic_facts`.
    pub template: String,
    /// Template version; bumped whenever the wording or the schema changes.
    pub version: u32,
    pub system: String,
    pub user: String,
    /// JSON schema of the expected reply (`None`: free text).
    pub schema: Option<serde_json::Value>,
    /// Ask for token log-probabilities of the reply tokens (judges whose reply
    /// is one or two bare yes/no words).
    pub want_logprobs: bool,
}

impl Prompt {
    /// `name@version`, as recorded in caches and reports.
    pub fn template_id(&self) -> String {
        format!("{}@{}", self.template, self.version)
    }
}
