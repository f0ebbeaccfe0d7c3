//! The kind of task a dataset poses (a format implies one; a record may name
//! it).

use serde::{Deserialize, Serialize};

/// The kind of task a dataset poses. Its factor preset (the factor set the
/// paper uses for the task) is `Task::factors`, in [`crate::factors`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Summarization,
    Helpful,
    DocQa,
}

impl Task {
    pub const ALL: [Task; 3] = [Task::Summarization, Task::Helpful, Task::DocQa];

    pub fn id(self) -> &'static str {
        match self {
            Task::Summarization => "summarization",
            Task::Helpful => "helpful",
            Task::DocQa => "doc_qa",
        }
    }

    pub fn from_id(id: &str) -> Option<Task> {
        match id.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "summarization" | "summary" => Some(Task::Summarization),
            "helpful" | "helpful_response" => Some(Task::Helpful),
            "doc_qa" | "docqa" | "document_qa" => Some(Task::DocQa),
            _ => None,
        }
    }

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Task::Summarization => "summarization",
            Task::Helpful => "helpful response",
            Task::DocQa => "document QA",
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}
