//! Messages between the web app's UI thread and its worker.
//!
//! Both directions are JSON strings of these types (a `File` to load travels
//! beside the JSON, in the `file` property of the message object). Keeping the
//! types here, in the pure core, lets native tests check the protocol.

use serde::{Deserialize, Serialize};

use crate::data::{Diagnostic, FormatOptions};
use crate::factors::{Factor, Task};
use crate::report::Report;
use crate::stats::BootstrapConfig;

/// What to score.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreRequest {
    /// `None`: the default task of the detected format.
    pub task: Option<Task>,
    /// `None`: the task preset.
    pub factors: Option<Vec<Factor>>,
    pub bootstrap: BootstrapConfig,
}

/// Where the bytes to load come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// The `File` sent beside the message.
    File,
    /// Text pasted by the user, sent in the message.
    Text(String),
    /// The example dataset built into the app.
    Example,
}

/// UI → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToWorker {
    /// Load and score a dataset, replacing any loaded one.
    Load {
        /// File name shown in the report.
        name: String,
        input: Input,
        options: FormatOptions,
        score: ScoreRequest,
    },
    /// Score the loaded dataset again (another task or factor set).
    Score(ScoreRequest),
}

/// Worker → UI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker has started and accepts messages.
    Ready,
    /// Loading progress.
    Progress {
        bytes: u64,
        total_bytes: u64,
        records: u64,
    },
    /// A dataset was loaded and scored. `diagnostics` holds every problem
    /// (the report keeps only the first ones).
    Loaded {
        report: Report,
        diagnostics: Vec<Diagnostic>,
        /// Time from the request to the report, in milliseconds.
        elapsed_ms: f64,
    },
    /// The loaded dataset was scored again.
    Scored { report: Report },
    /// The request failed as a whole (unknown format, unreadable file, …).
    Failed { message: String },
}

impl ToWorker {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("messages serialise")
    }

    /// # Errors
    /// When the text is not a message.
    pub fn from_json(s: &str) -> Result<Self, String> {
        serde_json::from_str(s).map_err(|e| format!("bad message to the worker: {e}"))
    }
}

impl FromWorker {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("messages serialise")
    }

    /// # Errors
    /// When the text is not a message.
    pub fn from_json(s: &str) -> Result<Self, String> {
        serde_json::from_str(s).map_err(|e| format!("bad message from the worker: {e}"))
    }
}

/// The scoring configuration a request resolves to for a dataset.
pub fn resolve(req: &ScoreRequest, ds: &crate::data::Dataset) -> crate::analysis::ScoreConfig {
    crate::analysis::ScoreConfig {
        task: req.task.unwrap_or_else(|| ds.default_task()),
        factors: req.factors.clone(),
        bootstrap: req.bootstrap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_as_json() {
        let m = ToWorker::Load {
            name: "x.jsonl".into(),
            input: Input::Text("{}".into()),
            options: FormatOptions::default(),
            score: ScoreRequest {
                task: Some(Task::DocQa),
                factors: Some(vec![Factor::Length]),
                bootstrap: BootstrapConfig {
                    resamples: 10,
                    seed: 1,
                },
            },
        };
        assert_eq!(ToWorker::from_json(&m.to_json()).unwrap(), m);
        let p = FromWorker::Progress {
            bytes: 1,
            total_bytes: 2,
            records: 3,
        };
        assert_eq!(
            p.to_json(),
            r#"{"kind":"progress","bytes":1,"total_bytes":2,"records":3}"#
        );
        assert_eq!(FromWorker::from_json(&p.to_json()).unwrap(), p);
        assert!(ToWorker::from_json("{\"kind\":\"nope\"}").is_err());
    }
}

/// The worker's state and logic without the browser: a loaded dataset and the
/// answers to requests. The worker only adds reading files and posting messages.
#[derive(Default)]
pub struct Session {
    dataset: Option<crate::data::Dataset>,
    info: crate::analysis::DatasetInfo,
}

impl Session {
    pub fn new() -> Self {
        Self::default()
    }

    /// Finishes a load whose bytes were pushed into `loader`, scores it, keeps
    /// the dataset and returns the `Loaded` (or `Failed`) message.
    pub fn finish_load(
        &mut self,
        name: String,
        loader: crate::data::Loader,
        label: crate::data::SummEvalLabel,
        score: &ScoreRequest,
        elapsed_ms: impl FnOnce() -> f64,
    ) -> FromWorker {
        let ds = match loader.finish() {
            Ok(ds) => ds,
            Err(e) => {
                return FromWorker::Failed {
                    message: format!("{name}: {e}"),
                }
            }
        };
        let info = crate::analysis::DatasetInfo {
            name: Some(name),
            label: (ds.format == Some(crate::data::Format::SummEval))
                .then(|| label.name().to_owned()),
        };
        let report = crate::analysis::score_report(&ds, &resolve(score, &ds), &info);
        let diagnostics = ds.diagnostics.clone();
        self.dataset = Some(ds);
        self.info = info;
        FromWorker::Loaded {
            report,
            diagnostics,
            elapsed_ms: elapsed_ms(),
        }
    }

    /// Scores the loaded dataset again.
    pub fn score(&self, req: &ScoreRequest) -> FromWorker {
        match &self.dataset {
            Some(ds) => FromWorker::Scored {
                report: crate::analysis::score_report(ds, &resolve(req, ds), &self.info),
            },
            None => FromWorker::Failed {
                message: "no dataset is loaded".into(),
            },
        }
    }
}

#[cfg(test)]
mod session_tests {
    use super::*;
    use crate::data::{FormatOptions, Loader};

    #[test]
    fn load_then_rescore_and_failures() {
        let mut s = Session::new();
        assert!(matches!(
            s.score(&ScoreRequest::default()),
            FromWorker::Failed { .. }
        ));
        let mut l = Loader::new(FormatOptions::default());
        l.push(b"{\"response_a\": \"one two three\", \"response_b\": \"one\", \"preference\": \"a\"}\nbad\n");
        let FromWorker::Loaded {
            report,
            diagnostics,
            ..
        } = s.finish_load(
            "x".into(),
            l,
            Default::default(),
            &ScoreRequest::default(),
            || 1.0,
        )
        else {
            panic!("not loaded")
        };
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(report.agents[0].factor_scores["length"].score, Some(1.0));
        let req = ScoreRequest {
            factors: Some(vec![Factor::NovelWordsCount]),
            ..Default::default()
        };
        let FromWorker::Scored { report } = s.score(&req) else {
            panic!("not scored")
        };
        assert_eq!(report.config.factors, ["novel_words_count"]);
        let mut bad = Loader::new(FormatOptions::default());
        bad.push(b"{\"x\": 1}");
        assert!(matches!(
            s.finish_load("y".into(), bad, Default::default(), &req, || 0.0),
            FromWorker::Failed { .. }
        ));
    }
}
