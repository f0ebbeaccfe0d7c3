//! The first-load module's reading of the page ↔ worker messages
//! (`protocol::lite`): only the messages that module exchanges, so that the
//! model tools' message types (requests, estimates, run statistics, …) are
//! not linked into it, and without serde's buffering of internally tagged
//! enums.
//!
//! A message is written by [`ToWorker::to_json`] or [`FromWorker::to_json`]
//! (`{"kind":"loaded",…}`, the tag first). [`from_worker`] and [`to_worker`]
//! read the tag, then the rest of the object as the variant's fields into a
//! plain (externally tagged) mirror of the message's core variants, which
//! serde reads straight from the text. A kind the first-load module never
//! exchanges (a model tool's) is refused. The full module reads messages
//! with [`FromWorker::from_json`] and [`ToWorker::from_json`]; the tests
//! check that both readings agree on every core message.

use serde::Deserialize;

use super::{DrillRequest, DrillRow, FromWorker, Input, ScoreRequest, ToWorker};
use crate::data::{Diagnostic, FormatOptions};
use crate::report::Report;

/// The worker's messages to the first-load page.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum FromWorkerCore {
    Ready {},
    Progress {
        bytes: u64,
        total_bytes: u64,
        records: u64,
    },
    Loaded {
        report: Report,
        diagnostics: Vec<Diagnostic>,
        elapsed_ms: f64,
    },
    Scored {
        report: Report,
    },
    Failed {
        message: String,
    },
    LlmFailed {
        message: String,
    },
    DrillPage {
        request: DrillRequest,
        matching: u64,
        pairs: u64,
        counts: Vec<(String, u64)>,
        rows: Vec<DrillRow>,
    },
    Evidence {
        agent: String,
        evidence: Option<Box<crate::drill::PairEvidence>>,
        verdict: Option<i8>,
        note: Option<String>,
    },
    DrillFailed {
        message: String,
    },
}

/// The first-load page's messages to its worker.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ToWorkerCore {
    Load {
        name: String,
        input: Input,
        options: FormatOptions,
        score: ScoreRequest,
    },
    Score(ScoreRequest),
    Drill(DrillRequest),
    Evidence {
        factor: Option<String>,
        agent: String,
        pair: u32,
    },
}

/// `{"kind":"NAME",REST}` as `{"NAME":{REST}}`; `None` when the text does
/// not start with the tag.
fn untag(s: &str) -> Option<String> {
    let rest = s.trim_start().strip_prefix('{')?.trim_start();
    let rest = rest.strip_prefix("\"kind\"")?.trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    let (name, rest) = (&rest[..end], rest[end + 1..].trim_start());
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return None;
    }
    let fields = match rest.strip_prefix(',') {
        Some(fields) => fields,
        None if rest.starts_with('}') => rest,
        None => return None,
    };
    let mut out = String::with_capacity(s.len() + name.len() + 8);
    out.push_str("{\"");
    out.push_str(name);
    out.push_str("\":{");
    out.push_str(fields);
    out.push('}');
    Some(out)
}

/// Reads a message from the worker, as the first-load page does.
///
/// # Errors
/// When the text is not one of the first-load module's messages.
pub fn from_worker(s: &str) -> Result<FromWorker, String> {
    let bad = |e: &dyn std::fmt::Display| format!("bad message from the worker: {e}");
    let text = untag(s).ok_or_else(|| bad(&"no leading \"kind\""))?;
    let m: FromWorkerCore = serde_json::from_str(&text).map_err(|e| bad(&e))?;
    Ok(match m {
        FromWorkerCore::Ready {} => FromWorker::Ready,
        FromWorkerCore::Progress {
            bytes,
            total_bytes,
            records,
        } => FromWorker::Progress {
            bytes,
            total_bytes,
            records,
        },
        FromWorkerCore::Loaded {
            report,
            diagnostics,
            elapsed_ms,
        } => FromWorker::Loaded {
            report,
            diagnostics,
            elapsed_ms,
        },
        FromWorkerCore::Scored { report } => FromWorker::Scored { report },
        FromWorkerCore::Failed { message } => FromWorker::Failed { message },
        FromWorkerCore::LlmFailed { message } => FromWorker::LlmFailed { message },
        FromWorkerCore::DrillPage {
            request,
            matching,
            pairs,
            counts,
            rows,
        } => FromWorker::DrillPage {
            request,
            matching,
            pairs,
            counts,
            rows,
        },
        FromWorkerCore::Evidence {
            agent,
            evidence,
            verdict,
            note,
        } => FromWorker::Evidence {
            agent,
            evidence,
            verdict,
            note,
        },
        FromWorkerCore::DrillFailed { message } => FromWorker::DrillFailed { message },
    })
}

/// Reads a message from the page, as the first-load module's worker does
/// (a factor pack in it is registered first, as [`ToWorker::from_json`]
/// does).
///
/// # Errors
/// When the text is not one of the first-load module's messages (a model
/// tool's message: "the model tools are not loaded in this worker"), or its
/// factor pack is bad.
pub fn to_worker(s: &str) -> Result<ToWorker, String> {
    super::register_pack(s)?;
    let bad = |e: &dyn std::fmt::Display| format!("bad message to the worker: {e}");
    let text = untag(s).ok_or_else(|| bad(&"no leading \"kind\""))?;
    let m: ToWorkerCore = serde_json::from_str(&text).map_err(|e| {
        let kind = text[2..].split('"').next().unwrap_or_default();
        if MODEL_KINDS.contains(&kind) {
            "the model tools are not loaded in this worker".to_owned()
        } else {
            bad(&e)
        }
    })?;
    Ok(match m {
        ToWorkerCore::Load {
            name,
            input,
            options,
            score,
        } => ToWorker::Load {
            name,
            input,
            options,
            score,
        },
        ToWorkerCore::Score(r) => ToWorker::Score(r),
        ToWorkerCore::Drill(r) => ToWorker::Drill(r),
        ToWorkerCore::Evidence {
            factor,
            agent,
            pair,
        } => ToWorker::Evidence {
            factor,
            agent,
            pair,
        },
    })
}

/// The kinds of the model tools' messages to the worker.
const MODEL_KINDS: [&str; 10] = [
    "estimate_llm",
    "run_llm",
    "pause_llm",
    "resume_llm",
    "cancel_llm",
    "clear_llm",
    "export_cache",
    "import_cache",
    "import_annotations",
    "raw_reply",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Loader;
    use crate::protocol::{LlmRequest, ModelKind, Session};

    /// The first-load module's messages, as the worker and the page write
    /// them, read the same by both readings; the model tools' are refused.
    #[test]
    fn both_readings_agree_on_the_core_messages() {
        let mut s = Session::new();
        let mut l = Loader::new(FormatOptions::default());
        l.push(include_bytes!("../www/example/example.jsonl"));
        let score = ScoreRequest::default();
        let loaded = s.finish_load("example".into(), l, Default::default(), &score, || 12.5);
        assert!(matches!(loaded, FromWorker::Loaded { .. }), "{loaded:?}");
        let drill = DrillRequest {
            factor: Some("length".into()),
            agent: "human".into(),
            filter: "all".into(),
            offset: 0,
            count: 20,
        };
        let page = s.drill_page(drill.clone());
        assert!(
            matches!(&page, FromWorker::DrillPage { rows, .. } if !rows.is_empty()),
            "{page:?}"
        );
        let evidence = s.evidence(Some("length"), "human", 0);
        assert!(
            matches!(evidence, FromWorker::Evidence { .. }),
            "{evidence:?}"
        );
        let from = [
            FromWorker::Ready,
            FromWorker::Progress {
                bytes: 1,
                total_bytes: 2,
                records: 3,
            },
            loaded,
            s.score(&ScoreRequest {
                factors: Some(vec![crate::factors::Factor::Length]),
                ..Default::default()
            }),
            FromWorker::Failed {
                message: "a \"quoted\", {braced} message".into(),
            },
            FromWorker::LlmFailed {
                message: "no".into(),
            },
            page,
            evidence,
            s.evidence(None, "nobody", 0),
        ];
        for m in from {
            let text = m.to_json();
            assert_eq!(from_worker(&text), Ok(m.clone()), "{text}");
            assert_eq!(FromWorker::from_json(&text), Ok(m));
        }
        let model = FromWorker::CacheExported {
            jsonl: String::new(),
            entries: 0,
        };
        assert!(from_worker(&model.to_json()).is_err());
        assert!(from_worker("{\"report\":{},\"kind\":\"scored\"}").is_err());
        assert!(from_worker("not json").is_err());

        let pack = r#"{"kind": "score", "factor_pack": {"factors": [{"id": "w_lite_tokens", "name": "tokens", "kind": "regex_count", "pattern": "[^ ]+"}]},
            "task": "helpful", "factors": ["length", "w_lite_tokens"], "bootstrap": {"resamples": 0, "seed": 1}}"#;
        let m = to_worker(pack).expect("the pack is registered first");
        assert_eq!(ToWorker::from_json(pack), Ok(m.clone()));
        assert!(to_worker(&pack.replace("[^ ]+", "(")).is_err());
        let to = [
            ToWorker::Load {
                name: "x.jsonl".into(),
                input: Input::Text("{}".into()),
                options: FormatOptions::default(),
                score: ScoreRequest {
                    group_by: Some("task".into()),
                    ..Default::default()
                },
            },
            ToWorker::Load {
                name: String::new(),
                input: Input::Example,
                options: FormatOptions::default(),
                score: ScoreRequest::default(),
            },
            ToWorker::Score(ScoreRequest::default()),
            m,
            ToWorker::Drill(drill),
            ToWorker::Evidence {
                factor: None,
                agent: "human".into(),
                pair: 3,
            },
        ];
        for m in to {
            let text = m.to_json();
            assert_eq!(to_worker(&text), Ok(m.clone()), "{text}");
            assert_eq!(ToWorker::from_json(&text), Ok(m));
        }
        let run = ToWorker::EstimateLlm(LlmRequest {
            choice: crate::llm::settings::ModelForm::default()
                .validate()
                .unwrap(),
            score: ScoreRequest::default(),
            run: ModelKind::Judge { single_order: true },
        });
        for m in [run, ToWorker::PauseLlm, ToWorker::ExportCache] {
            assert_eq!(
                to_worker(&m.to_json()),
                Err("the model tools are not loaded in this worker".to_owned())
            );
        }
        assert!(to_worker("{\"kind\":\"nope\"}")
            .unwrap_err()
            .starts_with("bad message to the worker"));
    }

    #[test]
    fn untag_moves_the_kind_out() {
        assert_eq!(
            untag(r#"{"kind":"ready"}"#).as_deref(),
            Some(r#"{"ready":{}}"#)
        );
        assert_eq!(
            untag(r#"{ "kind" : "scored", "report":{"a":1}}"#).as_deref(),
            Some(r#"{"scored":{ "report":{"a":1}}}"#)
        );
        assert_eq!(untag(r#"{"kind":1}"#), None);
        assert_eq!(untag(r#"{"kind":"x" "y"}"#), None);
        assert_eq!(untag(r#"{"kind":"Bad"}"#), None);
        assert_eq!(untag(r#"["kind"]"#), None);
    }
}
