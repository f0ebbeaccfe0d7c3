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
//!
//! A report is read and written as the first-load module's worker writes
//! it (see [`ReportLite`]): without the model tools' parts, whose readers
//! and writers (and the alignment panel, which only model agents fill) are
//! then not linked; likewise a pair's evidence, without model evidence
//! ([`PairEvidenceLite`]). The first-load worker writes its messages with
//! [`write_from_worker`], the first-load page exports a report with
//! [`report_json_pretty`]; both write the same bytes as the full module.

use std::collections::BTreeMap;

use serde::de::{Error as _, IgnoredAny};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{DrillRequest, DrillRow, FromWorker, Input, ScoreRequest, ToWorker};
use crate::data::{Diagnostic, FormatOptions};
use crate::drill::{ModelEvidence, PairEvidence, ResponseEvidence};
use crate::report::{
    Agent, AgentGuidance, AgentRun, Alignment, DatasetSummary, FactorMeta, FactorScoreEntry,
    Groups, GuidanceSection, ImprovementSection, JointModel, LlmRun, Report, RunConfig,
    SkippedFactor,
};
use crate::stats::Setting;

/// A report as the first-load module reads and writes it: every part the
/// first-load worker writes (it has neither model runs nor model agents, so
/// its report holds one agent, the humans, and no alignments), as
/// [`Report`]'s own `Serialize` and `Deserialize` do. A model tool's part —
/// an agent's run or guidance, an alignment, the `llm`, `guidance` or
/// `improvement` section — is refused rather than dropped: it never comes
/// from this module's worker. The tests check that both modules' readings
/// and writings agree.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Report")]
struct ReportLite {
    schema: String,
    generator: String,
    dataset: DatasetSummary,
    config: RunConfig,
    factors: Vec<FactorMeta>,
    skipped_factors: Vec<SkippedFactor>,
    #[serde(serialize_with = "agents_out", deserialize_with = "agents")]
    agents: Vec<Agent>,
    #[serde(
        serialize_with = "no_alignments_out",
        deserialize_with = "no_alignments"
    )]
    alignments: Vec<Alignment>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "no_model_part_out",
        deserialize_with = "no_model_part"
    )]
    llm: Option<LlmRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    groups: Option<Groups>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "no_model_part_out",
        deserialize_with = "no_model_part"
    )]
    guidance: Option<GuidanceSection>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "no_model_part_out",
        deserialize_with = "no_model_part"
    )]
    improvement: Option<ImprovementSection>,
}

/// An [`Agent`] as [`ReportLite`] reads and writes it.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Agent")]
struct AgentLite {
    name: String,
    setting: Setting,
    tie_policy: String,
    factor_scores: BTreeMap<String, FactorScoreEntry>,
    ranking: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "no_model_part_out",
        deserialize_with = "no_model_part"
    )]
    run: Option<AgentRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    joint: Option<JointModel>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "no_model_part_out",
        deserialize_with = "no_model_part"
    )]
    guidance: Option<AgentGuidance>,
}

const MODEL_PART: &str = "a part that needs the model tools";

/// A pair's evidence as the first-load module reads and writes it: as
/// [`PairEvidence`]'s own `Serialize` and `Deserialize` do, its responses'
/// model evidence refused (without model values there is none).
#[derive(Serialize, Deserialize)]
#[serde(remote = "PairEvidence")]
struct PairEvidenceLite {
    pair: u32,
    line: u64,
    factor: String,
    label: i8,
    input: Option<String>,
    context: Option<String>,
    #[serde(with = "ResponseEvidenceLite")]
    a: ResponseEvidence,
    #[serde(with = "ResponseEvidenceLite")]
    b: ResponseEvidence,
}

/// A [`ResponseEvidence`] as [`PairEvidenceLite`] reads and writes it.
#[derive(Serialize, Deserialize)]
#[serde(remote = "ResponseEvidence")]
struct ResponseEvidenceLite {
    text: String,
    value: Option<f64>,
    novel: Vec<[usize; 2]>,
    novel_count: usize,
    facts: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "no_model_part_out",
        deserialize_with = "no_model_part"
    )]
    model: Option<ModelEvidence>,
}

fn evidence_in<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<PairEvidence>>, D::Error> {
    #[derive(Deserialize)]
    struct One(#[serde(with = "PairEvidenceLite")] PairEvidence);
    Ok(Option::<One>::deserialize(d)?.map(|e| Box::new(e.0)))
}

fn evidence_out<S: Serializer>(e: &Option<Box<PairEvidence>>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct One<'a>(#[serde(serialize_with = "PairEvidenceLite::serialize")] &'a PairEvidence);
    e.as_deref().map(One).serialize(s)
}

/// A model tool's optional part: absent or `null`, else an error.
fn no_model_part<'de, D: Deserializer<'de>, T>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<IgnoredAny>::deserialize(d)? {
        None => Ok(None),
        Some(_) => Err(D::Error::custom(MODEL_PART)),
    }
}

/// Called only for a model tool's part that is there: an error.
fn no_model_part_out<S: Serializer, T>(_: &Option<T>, _: S) -> Result<S::Ok, S::Error> {
    Err(S::Error::custom(MODEL_PART))
}

/// The alignments of model agents with the humans: none, else an error.
fn no_alignments<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Alignment>, D::Error> {
    if Vec::<IgnoredAny>::deserialize(d)?.is_empty() {
        Ok(Vec::new())
    } else {
        Err(D::Error::custom(MODEL_PART))
    }
}

fn no_alignments_out<S: Serializer>(a: &[Alignment], s: S) -> Result<S::Ok, S::Error> {
    if a.is_empty() {
        s.collect_seq(std::iter::empty::<()>())
    } else {
        Err(S::Error::custom(MODEL_PART))
    }
}

fn agents<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Agent>, D::Error> {
    #[derive(Deserialize)]
    struct One(#[serde(with = "AgentLite")] Agent);
    Ok(Vec::<One>::deserialize(d)?
        .into_iter()
        .map(|a| a.0)
        .collect())
}

fn agents_out<S: Serializer>(agents: &[Agent], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct One<'a>(#[serde(serialize_with = "AgentLite::serialize")] &'a Agent);
    s.collect_seq(agents.iter().map(One))
}

/// A report as JSON, as [`Report::to_json_pretty`] writes it, by the
/// first-load page (its Export panel).
///
/// # Panics
/// On a report with a model tool's part, which the first-load page never
/// has: it refuses them when it reads a report.
pub fn report_json_pretty(report: &Report) -> String {
    #[derive(Serialize)]
    struct Out<'a>(#[serde(serialize_with = "ReportLite::serialize")] &'a Report);
    crate::report::pretty_json(
        &serde_json::to_string(&Out(report)).expect("a first-load report has no model part"),
    )
}

/// The first-load worker's messages, as [`FromWorker::to_json`] writes them.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FromWorkerOut<'a> {
    Ready,
    Progress {
        bytes: u64,
        total_bytes: u64,
        records: u64,
    },
    Loaded {
        #[serde(serialize_with = "ReportLite::serialize")]
        report: &'a Report,
        diagnostics: &'a [Diagnostic],
        elapsed_ms: f64,
    },
    Scored {
        #[serde(serialize_with = "ReportLite::serialize")]
        report: &'a Report,
    },
    Failed {
        message: &'a str,
    },
    LlmFailed {
        message: &'a str,
    },
    DrillPage {
        request: &'a DrillRequest,
        matching: u64,
        pairs: u64,
        counts: &'a [(String, u64)],
        rows: &'a [DrillRow],
    },
    Evidence {
        agent: &'a str,
        #[serde(serialize_with = "evidence_out")]
        evidence: &'a Option<Box<PairEvidence>>,
        verdict: Option<i8>,
        note: &'a Option<String>,
    },
    DrillFailed {
        message: &'a str,
    },
}

/// Writes a message of the first-load worker, as [`FromWorker::to_json`]
/// does. A model tool's message (which this worker never sends) or a report
/// with a model tool's part becomes a failure.
pub fn write_from_worker(m: &FromWorker) -> String {
    let out = match m {
        FromWorker::Ready => FromWorkerOut::Ready,
        FromWorker::Progress {
            bytes,
            total_bytes,
            records,
        } => FromWorkerOut::Progress {
            bytes: *bytes,
            total_bytes: *total_bytes,
            records: *records,
        },
        FromWorker::Loaded {
            report,
            diagnostics,
            elapsed_ms,
        } => FromWorkerOut::Loaded {
            report,
            diagnostics,
            elapsed_ms: *elapsed_ms,
        },
        FromWorker::Scored { report } => FromWorkerOut::Scored { report },
        FromWorker::Failed { message } => FromWorkerOut::Failed { message },
        FromWorker::LlmFailed { message } => FromWorkerOut::LlmFailed { message },
        FromWorker::DrillPage {
            request,
            matching,
            pairs,
            counts,
            rows,
        } => FromWorkerOut::DrillPage {
            request,
            matching: *matching,
            pairs: *pairs,
            counts,
            rows,
        },
        FromWorker::Evidence {
            agent,
            evidence,
            verdict,
            note,
        } => FromWorkerOut::Evidence {
            agent,
            evidence,
            verdict: *verdict,
            note,
        },
        FromWorker::DrillFailed { message } => FromWorkerOut::DrillFailed { message },
        _ => FromWorkerOut::Failed {
            message: "the model tools are not loaded in this worker",
        },
    };
    serde_json::to_string(&out).unwrap_or_else(|e| {
        serde_json::to_string(&FromWorkerOut::Failed {
            message: &e.to_string(),
        })
        .expect("a failure serialises")
    })
}

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
        #[serde(deserialize_with = "ReportLite::deserialize")]
        report: Report,
        diagnostics: Vec<Diagnostic>,
        elapsed_ms: f64,
    },
    Scored {
        #[serde(deserialize_with = "ReportLite::deserialize")]
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
        #[serde(deserialize_with = "evidence_in")]
        evidence: Option<Box<PairEvidence>>,
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
        let grouped = ScoreRequest {
            group_by: Some("task".into()),
            ..Default::default()
        };
        // Without model runs, the first-load worker's scoring is the full one's.
        for req in [&score, &grouped] {
            assert_eq!(s.score_core(req), s.score(req));
        }
        let FromWorker::Scored { report } = s.score(&grouped) else {
            panic!("scored")
        };
        assert!(report.groups.is_some());
        assert_eq!(report_json_pretty(&report), report.to_json_pretty());
        let from = from.into_iter().chain([FromWorker::Scored { report }]);
        for m in from {
            let text = m.to_json();
            assert_eq!(write_from_worker(&m), text);
            assert_eq!(from_worker(&text), Ok(m.clone()), "{text}");
            assert_eq!(FromWorker::from_json(&text), Ok(m));
        }
        let model = FromWorker::CacheExported {
            jsonl: String::new(),
            entries: 0,
        };
        assert!(from_worker(&model.to_json()).is_err());
        assert_eq!(
            write_from_worker(&model),
            FromWorker::Failed {
                message: "the model tools are not loaded in this worker".into()
            }
            .to_json()
        );
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

    /// A report with a model tool's part is neither read nor written by
    /// the first-load module: refused, never silently dropped.
    #[test]
    fn model_parts_are_refused() {
        let mut s = Session::new();
        let mut l = Loader::new(FormatOptions::default());
        l.push(include_bytes!("../www/example/example.jsonl"));
        let score = ScoreRequest::default();
        let FromWorker::Loaded { report, .. } =
            s.finish_load("example".into(), l, Default::default(), &score, || 1.0)
        else {
            panic!("loaded")
        };
        let text = FromWorker::Scored {
            report: report.clone(),
        }
        .to_json();
        assert!(from_worker(&text).is_ok());
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let part = serde_json::json!({"any": ["thing"]});
        let mut with: Vec<serde_json::Value> = Vec::new();
        for key in ["llm", "guidance", "improvement"] {
            let mut w = v.clone();
            w["report"][key] = part.clone();
            with.push(w);
        }
        for key in ["run", "guidance"] {
            let mut w = v.clone();
            w["report"]["agents"][0][key] = part.clone();
            with.push(w);
        }
        let mut w = v.clone();
        w["report"]["alignments"] = serde_json::json!([part.clone()]);
        with.push(w);
        let FromWorker::Evidence {
            evidence: Some(mut evidence),
            ..
        } = s.evidence(Some("length"), "human", 0)
        else {
            panic!("evidence")
        };
        let ev = serde_json::to_value(FromWorker::Evidence {
            agent: "human".into(),
            evidence: Some(evidence.clone()),
            verdict: None,
            note: None,
        })
        .unwrap();
        let mut w = ev.clone();
        w["evidence"]["b"]["model"] = part.clone();
        with.push(w);
        // As the worker writes it: the tag first (a `Value` sorts its keys).
        let text = |w: &serde_json::Value| {
            let mut w = w.clone();
            let kind = w.as_object_mut().unwrap().remove("kind").unwrap();
            format!("{{\"kind\":{kind},{}", &w.to_string()[1..])
        };
        assert!(from_worker(&text(&ev)).is_ok());
        for w in with {
            let e = from_worker(&text(&w)).unwrap_err();
            assert!(e.contains(MODEL_PART), "{e}");
        }
        // Absent or null, the parts are none.
        let mut w = v.clone();
        w["report"]["llm"] = serde_json::Value::Null;
        w["report"]["agents"][0]["run"] = serde_json::Value::Null;
        assert_eq!(
            from_worker(&w.to_string()),
            Ok(FromWorker::Scored {
                report: report.clone()
            })
        );

        let mut reports = vec![report.clone(), report.clone(), report.clone()];
        reports[0].llm = Some(Default::default());
        reports[1].agents[0].run = Some(Default::default());
        reports[2].alignments.push(Default::default());
        evidence.a.model = Some(
            serde_json::from_value(serde_json::json!({"imported": true, "model": null,
                "facts_of": null, "facts": [], "judgements": null, "replies": []}))
            .unwrap(),
        );
        let with_model = FromWorker::Evidence {
            agent: "human".into(),
            evidence: Some(evidence),
            verdict: None,
            note: None,
        };
        let reports = reports
            .into_iter()
            .map(|report| FromWorker::Scored { report })
            .chain([with_model]);
        for m in reports {
            let out = write_from_worker(&m);
            assert!(
                out.starts_with(r#"{"kind":"failed","message":""#) && out.contains(MODEL_PART),
                "{out}"
            );
        }
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
