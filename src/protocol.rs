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

#[path = "protocol_lite.rs"]
pub mod lite;

/// What to score.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreRequest {
    /// Custom factors (a factor pack), registered before the rest of the
    /// message is read so that its ids parse (`ToWorker::from_json`);
    /// without `factors`, the preset's factors and the pack's are scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_pack: Option<crate::factors::pack::FactorPack>,
    /// `None`: the default task of the detected format.
    pub task: Option<Task>,
    /// `None`: the task preset.
    pub factors: Option<Vec<Factor>>,
    pub bootstrap: BootstrapConfig,
    /// Group the pairs by this record field (the report's `groups`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
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

/// An API key. It travels from the UI to the worker only to sign requests to
/// its provider; `Debug` never shows it, so a logged message cannot leak it.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(empty)"
        } else {
            "Secret(…)"
        })
    }
}

/// What a model run does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelKind {
    /// Extract the model-based factors of the dataset's responses.
    #[default]
    Extract,
    /// Judge every pair (both orders unless `single_order`; in single order
    /// the order of each pair is a coin flip seeded with the score request's
    /// seed, see [`JudgeOrder`](crate::llm::roles::JudgeOrder)).
    Judge { single_order: bool },
    /// Write responses for scores 1..5 for the first `inputs` inputs (all: `None`).
    Writer { inputs: Option<usize> },
    /// Guided judging (METHOD.md §8, `profile guide`): GuideMis and
    /// GuideRand chosen from the report's judge of the model (or the factors
    /// given), then every pair judged in both orders with no guidance, with
    /// each (`crate::guide`).
    Guide {
        #[serde(default)]
        factor: Option<Factor>,
        #[serde(default)]
        rand_factor: Option<Factor>,
    },
    /// Feedback-driven improvement (METHOD.md §8, `profile improve`) on the
    /// first `inputs` inputs (all: `None`): the evaluator judges the pairs
    /// (both orders, so an earlier judge of it is answered from the cache),
    /// the writer (the run's model) writes two responses per input, the
    /// evaluator gives feedback, the writer improves (`crate::improve`).
    /// `evaluator`: another model of the same provider, key and prices
    /// (`None`: the run's model). `single_order`: the evaluator judges each
    /// pair in one order, a coin flip seeded with the score request's seed
    /// (as `profile improve --single-order`); the feedback is asked once
    /// per input either way. `evaluator_base_url`: the evaluator's address
    /// (same provider and key; `None`: the run's), as
    /// `--evaluator-base-url`, which needs `evaluator`.
    Improve {
        #[serde(default)]
        inputs: Option<usize>,
        #[serde(default)]
        evaluator: Option<String>,
        #[serde(default)]
        single_order: bool,
        #[serde(default)]
        evaluator_base_url: Option<String>,
    },
}

impl ModelKind {
    /// Why the improvement run's evaluator cannot be used, as `profile
    /// improve` refuses it: an address that is not http(s), or an address
    /// without a model name.
    pub fn evaluator_problem(&self) -> Option<String> {
        let ModelKind::Improve {
            evaluator,
            evaluator_base_url,
            ..
        } = self
        else {
            return None;
        };
        let url = evaluator_base_url.as_deref().map_or("", str::trim);
        if url.is_empty() {
            return None;
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Some("evaluator address: must start with https:// or http://".into());
        }
        if evaluator.as_deref().map_or("", str::trim).is_empty() {
            return Some(
                "evaluator address: give the evaluator model too (as --evaluator-base-url needs \
--evaluator-model)"
                    .into(),
            );
        }
        None
    }
}

/// An LLM run to estimate or start on the loaded dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LlmRequest {
    pub choice: crate::llm::settings::ModelChoice,
    /// The task and factors (the LLM factors among them are extracted).
    pub score: ScoreRequest,
    /// What to run. (Not `kind`: that is the message tag of `ToWorker`.)
    #[serde(default)]
    pub run: ModelKind,
}

impl LlmRequest {
    /// The evaluator of an improvement run: the run's model, or another
    /// model name of the same provider and settings, at the run's address
    /// or its own (`evaluator_base_url`).
    pub fn evaluator(&self) -> crate::llm::provider::ModelConfig {
        let mut m = self.choice.model.clone();
        if let ModelKind::Improve {
            evaluator,
            evaluator_base_url,
            ..
        } = &self.run
        {
            if let Some(e) = evaluator
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
            {
                m.model = e.to_owned();
            }
            if let Some(u) = evaluator_base_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
            {
                m.base_url = Some(u.to_owned());
            }
        }
        m
    }
}

/// A judge's or writer's results, kept so the agent can be scored again
/// with another task or factor set.
enum ModelAgent {
    Judge {
        dataset: std::rc::Rc<crate::data::Dataset>,
        /// How its pairs were sampled (`None`: all).
        sample: Option<crate::report::SampleInfo>,
        outcome: crate::llm::roles::JudgeOutcome,
        record: crate::report::AgentRun,
    },
    Writer {
        /// The dataset whose inputs it wrote for.
        dataset: std::rc::Rc<crate::data::Dataset>,
        sample: Option<crate::report::SampleInfo>,
        generated: Box<crate::llm::roles::Generated>,
        values: Option<Box<crate::analysis::LlmValues>>,
        inputs_planned: u64,
        record: crate::report::AgentRun,
    },
}

impl ModelAgent {
    fn name(&self) -> String {
        match self {
            ModelAgent::Judge { record, .. } => format!("{} (judge)", record.model),
            ModelAgent::Writer { record, .. } => format!("{} (writer)", record.model),
        }
    }

    /// The agent and its alignment with the humans of the dataset it ran on;
    /// when that is a sample and the report covers other pairs
    /// (`report_sample` differs), marked as run on a sample: its alignment
    /// carries the human scores on its pairs (`reference_scores`).
    fn agent(
        &self,
        cfg: &crate::analysis::ScoreConfig,
        llm: Option<&crate::analysis::LlmValues>,
        report_sample: Option<&crate::report::SampleInfo>,
    ) -> (crate::report::Agent, crate::report::Alignment) {
        let (dataset, sample) = match self {
            ModelAgent::Judge {
                dataset, sample, ..
            }
            | ModelAgent::Writer {
                dataset, sample, ..
            } => (dataset, sample),
        };
        let human = crate::agents::human_side(dataset, cfg, llm);
        let (mut agent, mut alignment) = self.agent_on(cfg, llm, &human);
        if let Some(s) = sample.as_ref().filter(|s| Some(*s) != report_sample) {
            crate::agents::mark_sample(&mut agent, &mut alignment, dataset, s, &human);
        }
        (agent, alignment)
    }

    fn agent_on(
        &self,
        cfg: &crate::analysis::ScoreConfig,
        llm: Option<&crate::analysis::LlmValues>,
        human: &crate::agents::HumanSide,
    ) -> (crate::report::Agent, crate::report::Alignment) {
        match self {
            ModelAgent::Judge {
                dataset,
                outcome,
                record,
                ..
            } => crate::agents::judge_agent(dataset, cfg, llm, outcome, record.clone(), human),
            ModelAgent::Writer {
                dataset,
                generated,
                values,
                inputs_planned,
                record,
                ..
            } => crate::agents::writer_agent(
                &generated.dataset,
                &generated.source_clusters,
                dataset.n_clusters,
                cfg,
                values.as_deref(),
                *inputs_planned,
                record.clone(),
                values.as_ref().and_then(|v| v.run.clone()),
                human,
            ),
        }
    }
}

/// A page of a drill-down list: the pairs behind a factor score of an
/// agent (`factor` given), or a judge's verdicts against the labels
/// (`factor` = `None`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrillRequest {
    pub factor: Option<String>,
    /// `human` or a model agent's name (`MODEL (judge)`, `MODEL (writer)`).
    pub agent: String,
    /// A [`PairKind`](crate::drill::PairKind) id, or for a judge's verdicts
    /// `disagrees`, `agrees`, `no_verdict`; `all`: every pair.
    pub filter: String,
    pub offset: u64,
    pub count: u64,
}

/// One row of a drill-down page (no text: the list never carries texts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrillRow {
    pub pair: u32,
    pub line: u64,
    /// The pair kind id, or the verdict's standing (`disagrees`, …).
    pub kind: String,
    pub label: i8,
    pub agent: Option<i8>,
    pub value_a: Option<f64>,
    pub value_b: Option<f64>,
    /// A judge's verdict list: the position (`first`, `second`) its verdict
    /// named in both orders, when it followed the position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
}

/// The largest page the worker sends.
pub const MAX_DRILL_PAGE: u64 = 500;

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
    /// Plan an LLM run and estimate its calls, tokens and cost (cache included).
    EstimateLlm(LlmRequest),
    /// Run it: cached answers are reused, every new answer is cached at once.
    RunLlm {
        request: LlmRequest,
        key: Secret,
    },
    /// Stop starting calls until resumed (calls in flight finish).
    PauseLlm,
    ResumeLlm,
    /// Stop the run; answers so far are kept (and cached).
    CancelLlm,
    /// Drop the LLM values (run and imported annotations) from the report.
    ClearLlm {
        score: ScoreRequest,
    },
    /// Send the whole answer cache as JSONL.
    ExportCache,
    /// Merge a shared cache export (JSONL) into the cache.
    ImportCache {
        text: String,
    },
    /// Import precomputed factor values for responses (JSONL).
    ImportAnnotations {
        text: String,
        score: ScoreRequest,
    },
    /// A page of a drill-down list.
    Drill(DrillRequest),
    /// One pair's texts and evidence.
    Evidence {
        factor: Option<String>,
        agent: String,
        pair: u32,
    },
    /// The raw reply of question `question` behind one response's value of
    /// an LLM factor (as the pair's evidence lists them).
    RawReply {
        factor: String,
        agent: String,
        pair: u32,
        side: crate::drill::Side,
        question: u32,
    },
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
    /// The plan and cost of an LLM run.
    LlmEstimate {
        estimate: crate::llm::engine::Estimate,
        questions: u64,
        pairs: u64,
        unique_responses: u64,
        unique_sources: u64,
        /// Inputs the run covers (a sample's, when sampled).
        #[serde(default)]
        inputs: u64,
        /// The request's cost cap.
        #[serde(default)]
        cap_usd: Option<f64>,
        /// "Sample first": a seeded sample of this many inputs fits about
        /// half the cap ([`Estimate::sample_within`](crate::llm::engine::Estimate::sample_within)).
        #[serde(default)]
        sample_first: Option<u64>,
        /// An improvement run's stages (`estimate` is their total), each
        /// with the part whose prompts are known and the bounded rest
        /// ([`crate::improve::estimate`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        stages: Vec<crate::improve::StageEstimate>,
    },
    /// A run's progress.
    LlmProgress {
        stats: crate::llm::engine::RunStats,
        cost_usd: Option<f64>,
        paused: bool,
    },
    /// A run ended (finished or cancelled): the report with its `llm` section.
    LlmFinished {
        report: Report,
        /// Something the user should know (e.g. answers that could not be
        /// saved in the browser cache).
        warning: Option<String>,
    },
    /// The LLM run's request failed as a whole (no dataset, cache unavailable, …).
    LlmFailed { message: String },
    /// The answer cache as JSONL.
    CacheExported { jsonl: String, entries: u64 },
    /// An import finished: what, how many entries, and the lines that were skipped.
    Imported {
        what: String,
        added: u64,
        problems: Vec<Diagnostic>,
        /// The report rescored with imported annotations.
        report: Option<Report>,
    },
    /// A page of a drill-down list: `matching` rows pass the filter, out of
    /// `pairs`; `counts` per filter value (the kinds, or the verdicts).
    DrillPage {
        request: DrillRequest,
        matching: u64,
        pairs: u64,
        counts: Vec<(String, u64)>,
        rows: Vec<DrillRow>,
    },
    /// One pair's evidence; `note` says what is not available.
    Evidence {
        agent: String,
        evidence: Option<Box<crate::drill::PairEvidence>>,
        /// The agent's verdict on the pair, for a judge.
        verdict: Option<i8>,
        note: Option<String>,
    },
    /// A raw reply behind a value (bounded; with a note when not shown).
    RawReply {
        pair: u32,
        side: crate::drill::Side,
        question: u32,
        reply: crate::drill::RawReply,
    },
    /// A drill-down request that cannot be answered (no such agent, a
    /// factor without values).
    DrillFailed { message: String },
}

impl ToWorker {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("messages serialise")
    }

    /// # Errors
    /// When the text is not a message.
    pub fn from_json(s: &str) -> Result<Self, String> {
        match register_pack(s)? {
            Some(v) => {
                serde_json::from_value(v).map_err(|e| format!("bad message to the worker: {e}"))
            }
            None => serde_json::from_str(s).map_err(|e| format!("bad message to the worker: {e}")),
        }
    }
}

/// A message with a factor pack: registers the pack first, so that the
/// custom factor ids in the same message parse; returns the message as a
/// JSON value then (`None` for a message without a pack).
fn register_pack(s: &str) -> Result<Option<serde_json::Value>, String> {
    if !s.contains("\"factor_pack\"") {
        return Ok(None);
    }
    let v: serde_json::Value =
        serde_json::from_str(s).map_err(|e| format!("bad message to the worker: {e}"))?;
    let problems = crate::factors::pack::register_embedded(&v);
    if !problems.is_empty() {
        return Err(format!(
            "bad factor pack in the message to the worker:\n{}",
            crate::factors::pack::describe(&problems)
        ));
    }
    Ok(Some(v))
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

/// [`Session::scored`]'s report and what the model agents are added with.
struct Scored<'a> {
    report: Report,
    info: std::borrow::Cow<'a, crate::analysis::DatasetInfo>,
    llm: Option<&'a crate::analysis::LlmValues>,
    cfg: crate::analysis::ScoreConfig,
}

fn scored_message(report: Option<Report>) -> FromWorker {
    match report {
        Some(report) => FromWorker::Scored { report },
        None => FromWorker::Failed {
            message: "no dataset is loaded".into(),
        },
    }
}

/// The scoring configuration a request resolves to for a dataset.
pub fn resolve(req: &ScoreRequest, ds: &crate::data::Dataset) -> crate::analysis::ScoreConfig {
    let task = req.task.unwrap_or_else(|| ds.default_task());
    // The pack was registered when the message was read.
    let custom: Vec<Factor> = req
        .factor_pack
        .iter()
        .flat_map(|p| &p.factors)
        .filter_map(|d| Factor::from_id(&d.id))
        .collect();
    crate::analysis::ScoreConfig {
        task,
        factors: crate::analysis::with_custom(task, req.factors.clone(), &custom),
        bootstrap: req.bootstrap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker reads a custom factor id in the message that carries its
    /// pack (a fresh worker has registered nothing), and the session scores
    /// it; a message with a bad pack is refused with the pack's problems.
    #[test]
    fn a_message_carries_its_factor_pack() {
        let text = r#"{"kind": "score", "factor_pack": {"factors": [{"id": "w_fresh_tokens", "name": "tokens", "kind": "regex_count", "pattern": "[^ ]+"}]},
            "task": "helpful", "factors": ["length", "w_fresh_tokens"], "bootstrap": {"resamples": 0, "seed": 1}}"#;
        let m = ToWorker::from_json(text).expect("the pack is registered first");
        let ToWorker::Score(req) = &m else {
            panic!("{m:?}")
        };
        let custom = Factor::from_id("w_fresh_tokens").unwrap();
        assert_eq!(req.factors, Some(vec![Factor::Length, custom]));
        assert_eq!(ToWorker::from_json(&m.to_json()).unwrap(), m);
        let ds = crate::data::load_bytes(
            br#"{"input": "q", "response_a": "one two three", "response_b": "one", "preference": "a"}"#,
            crate::data::FormatOptions::default(),
        )
        .unwrap();
        // Without `factors`: the preset's and the pack's.
        let preset = ScoreRequest {
            factors: None,
            ..req.clone()
        };
        let cfg = resolve(&preset, &ds);
        assert_eq!(cfg.requested().last(), Some(&custom));
        assert_eq!(cfg.requested().len(), Task::Helpful.factors().len() + 1);
        let bad = text.replace("[^ ]+", "(");
        let e = ToWorker::from_json(&bad).unwrap_err();
        assert!(
            e.contains("factor 0 (`w_fresh_tokens`), field `pattern`"),
            "{e}"
        );
    }

    #[test]
    fn messages_round_trip_as_json() {
        let m = ToWorker::Load {
            name: "x.jsonl".into(),
            input: Input::Text("{}".into()),
            options: FormatOptions::default(),
            score: ScoreRequest {
                factor_pack: None,
                task: Some(Task::DocQa),
                factors: Some(vec![Factor::Length]),
                bootstrap: BootstrapConfig {
                    resamples: 10,
                    seed: 1,
                },
                group_by: Some("task".into()),
            },
        };
        assert_eq!(ToWorker::from_json(&m.to_json()).unwrap(), m);
        // Requests with a run kind round-trip inside the tagged message.
        let r = ToWorker::EstimateLlm(LlmRequest {
            choice: crate::llm::settings::ModelForm::default()
                .validate()
                .unwrap(),
            score: ScoreRequest::default(),
            run: ModelKind::Judge { single_order: true },
        });
        assert_eq!(ToWorker::from_json(&r.to_json()).unwrap(), r);
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
    dataset: Option<std::rc::Rc<crate::data::Dataset>>,
    info: crate::analysis::DatasetInfo,
    /// LLM answers and imported annotations for the loaded dataset.
    llm: crate::analysis::LlmValues,
    /// The pairs an LLM run covered, when it used a sample: reports then
    /// cover those pairs for every factor (and say how they were chosen).
    sample: Option<RunData>,
    /// Judges and writers run on this dataset, in run order.
    models: Vec<ModelAgent>,
    /// The last drill-down list, kept for its next pages.
    drill: Option<(String, String, std::rc::Rc<Vec<DrillRow>>)>,
    drill_rules: crate::factors::rules::RuleExtractor,
    /// The last guided-judging run on this dataset.
    guided: Option<GuidedModel>,
    /// The last improvement run on this dataset.
    improved: Option<ImprovedModel>,
}

/// An improvement run, kept so its agents and section can be scored again
/// with another task or factor set.
struct ImprovedModel {
    dataset: std::rc::Rc<crate::data::Dataset>,
    sample: Option<crate::report::SampleInfo>,
    run: Box<crate::workflow::Improved>,
}

/// The pairs a run covers: the loaded dataset, or a sample of its inputs.
#[derive(Clone, Debug)]
pub struct RunData {
    /// The loaded dataset the run was planned on.
    pub loaded: std::rc::Rc<crate::data::Dataset>,
    /// The pairs it covers (all, or the sample).
    pub dataset: std::rc::Rc<crate::data::Dataset>,
    /// How they were chosen (`None`: all pairs).
    pub sample: Option<crate::report::SampleInfo>,
    /// A guided run's choice and the evidence it was made from, fixed when
    /// the run was planned.
    pub guide: Option<GuidePlan>,
}

/// The choice of a guided run ([`ModelKind::Guide`]) and its evidence.
#[derive(Clone, Debug)]
pub struct GuidePlan {
    pub model: String,
    /// The judge agent the evidence comes from.
    pub evidence_from: String,
    pub evidence: Vec<crate::report::GuidanceEvidence>,
    pub choice: crate::guide::Choice,
}

/// A guided run's conditions, kept so its agents and section can be scored
/// again with another task or factor set.
struct GuidedModel {
    dataset: std::rc::Rc<crate::data::Dataset>,
    sample: Option<crate::report::SampleInfo>,
    plan: GuidePlan,
    runs: Vec<crate::workflow::GuidedJudge>,
}

/// A model run planned on the session's dataset, from [`Session::plan_model`].
pub struct ModelRun {
    /// The pairs it covers (all, or the sample) and the loaded dataset.
    pub data: RunData,
    /// What it asks, stage by stage.
    pub workflow: crate::workflow::Workflow,
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
        self.finish_load_marked(name, loader, label, score, elapsed_ms, &mut |_| {})
    }

    /// As [`Session::finish_load`], calling `mark` at the end of each phase
    /// (`"finish"`: the loader's end; then [`score_report_marked`]'s;
    /// `"report"`: the rest of the report).
    ///
    /// [`score_report_marked`]: crate::analysis::score_report_marked
    pub fn finish_load_marked(
        &mut self,
        name: String,
        loader: crate::data::Loader,
        label: crate::data::SummEvalLabel,
        score: &ScoreRequest,
        elapsed_ms: impl FnOnce() -> f64,
        mark: &mut dyn FnMut(&'static str),
    ) -> FromWorker {
        let options = crate::data::FormatOptions {
            summeval_label: label,
            ..loader.options().clone()
        };
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
            label: options.label_name(ds.format).map(str::to_owned),
            sample: None,
        };
        mark("finish");
        let report =
            crate::analysis::score_report_marked(&ds, &resolve(score, &ds), &info, None, mark);
        mark("report");
        let diagnostics = ds.diagnostics.clone();
        self.drill = None;
        self.dataset = Some(std::rc::Rc::new(ds));
        self.info = info;
        self.llm = Default::default();
        self.sample = None;
        self.models.clear();
        self.guided = None;
        self.improved = None;
        FromWorker::Loaded {
            report,
            diagnostics,
            elapsed_ms: elapsed_ms(),
        }
    }

    /// Scores the loaded dataset again.
    pub fn score(&self, req: &ScoreRequest) -> FromWorker {
        scored_message(self.report(req))
    }

    /// As [`Session::score`], from the data and the model values only: no
    /// model agents, guided judging or improvement. The first-load module's
    /// worker, which has no model engine to add them, scores with it, so
    /// that their code is not linked into it.
    pub fn score_core(&self, req: &ScoreRequest) -> FromWorker {
        scored_message(self.scored(req).map(|s| s.report))
    }

    /// The report for `req` from the data (on the sample when there is one)
    /// and the model values, with its groups; what [`Session::report`] adds
    /// the model agents to.
    fn scored(&self, req: &ScoreRequest) -> Option<Scored<'_>> {
        let full = self.dataset.as_ref()?;
        let (ds, info): (
            &crate::data::Dataset,
            std::borrow::Cow<'_, crate::analysis::DatasetInfo>,
        ) = match &self.sample {
            Some(s) => (
                &s.dataset,
                std::borrow::Cow::Owned(crate::analysis::DatasetInfo {
                    sample: s.sample.clone(),
                    ..self.info.clone()
                }),
            ),
            None => (full, std::borrow::Cow::Borrowed(&self.info)),
        };
        let llm = (self.llm.run.is_some() || !self.llm.imported.is_empty()).then_some(&self.llm);
        let cfg = resolve(req, ds);
        let mut report = crate::analysis::score_report_with(ds, &cfg, &info, llm);
        // The selector offers only the report's group fields: a field that
        // cannot group (another file's) shows no groups.
        if let Some(field) = &req.group_by {
            report.groups = crate::analysis::group_scores(ds, &cfg, llm, field).ok();
        }
        Some(Scored {
            report,
            info,
            llm,
            cfg,
        })
    }

    /// The report for `req`, with the LLM values when there are any.
    pub fn report(&self, req: &ScoreRequest) -> Option<Report> {
        let Scored {
            mut report,
            info,
            llm,
            cfg,
        } = self.scored(req)?;
        for m in &self.models {
            let (agent, alignment) = m.agent(&cfg, llm, info.sample.as_ref());
            crate::agents::add_agent(&mut report, agent, alignment);
        }
        if let Some(g) = &self.guided {
            let human = crate::agents::human_side(&g.dataset, &cfg, llm);
            // Marked as run on a sample only when the report covers other pairs.
            let sample = g
                .sample
                .as_ref()
                .filter(|s| Some(*s) != info.sample.as_ref());
            let (agents, section) = crate::guide::guided_agents(
                &crate::guide::GuidedRun {
                    ds: &g.dataset,
                    cfg: &cfg,
                    values: llm,
                    human: &human,
                    sample,
                    model: &g.plan.model,
                    choice: &g.plan.choice,
                },
                &g.runs,
                &g.plan.evidence_from,
                g.plan.evidence.clone(),
            );
            for (agent, alignment) in agents {
                crate::agents::add_agent(&mut report, agent, alignment);
            }
            report.guidance = Some(section);
        }
        if let Some(m) = &self.improved {
            // As `profile improve`: the evaluator's judge agent was kept
            // with the judges when the run finished.
            let human = crate::agents::human_side(&m.dataset, &cfg, llm);
            if let Ok(r) = crate::improve::improvement_report(&m.dataset, &cfg, llm, &m.run, &human)
            {
                let sample = m
                    .sample
                    .as_ref()
                    .filter(|s| Some(*s) != info.sample.as_ref());
                for (mut agent, mut alignment) in r.agents {
                    if let Some(s) = sample {
                        crate::agents::mark_sample(
                            &mut agent,
                            &mut alignment,
                            &m.dataset,
                            s,
                            &human,
                        );
                    }
                    crate::agents::add_agent(&mut report, agent, alignment);
                }
                report.improvement = Some(r.section);
            }
        }
        Some(report)
    }

    /// The choice of a guided run of `req` (its `run` is
    /// [`ModelKind::Guide`]): from the evidence of the report's judge of
    /// the model, as `profile guide` makes it.
    ///
    /// # Errors
    /// No judge of the model in the report, or no factor qualifies.
    pub fn guide_plan(&self, req: &LlmRequest) -> Result<GuidePlan, String> {
        let ModelKind::Guide {
            factor,
            rand_factor,
        } = &req.run
        else {
            return Err("not a guided run".into());
        };
        let report = self.report(&req.score).ok_or("no dataset is loaded")?;
        let model = req.choice.model.model.clone();
        let evidence_from = format!("{model} (judge)");
        let evidence = crate::guide::report_evidence(&report, &model).ok_or_else(|| {
            format!(
                "guided judging chooses its factors from the judge `{evidence_from}`, which is \
not in the report (or has no factor score differences): run the model as judge first"
            )
        })?;
        let choice =
            crate::guide::choose(&evidence, req.score.bootstrap.seed, *factor, *rand_factor)?;
        Ok(GuidePlan {
            model,
            evidence_from,
            evidence,
            choice,
        })
    }

    /// Keeps a judge's results (replacing an earlier run of the same model).
    pub fn add_judge(
        &mut self,
        data: &RunData,
        outcome: crate::llm::roles::JudgeOutcome,
        record: crate::report::AgentRun,
    ) {
        self.add_model(ModelAgent::Judge {
            dataset: data.dataset.clone(),
            sample: data.sample.clone(),
            outcome,
            record,
        });
    }

    /// Keeps a writer's results (replacing an earlier run of the same model).
    pub fn add_writer(
        &mut self,
        data: &RunData,
        generated: crate::llm::roles::Generated,
        values: Option<crate::analysis::LlmValues>,
        inputs_planned: u64,
        record: crate::report::AgentRun,
    ) {
        self.add_model(ModelAgent::Writer {
            dataset: data.dataset.clone(),
            sample: data.sample.clone(),
            generated: Box::new(generated),
            values: values.map(Box::new),
            inputs_planned,
            record,
        });
    }

    fn add_model(&mut self, m: ModelAgent) {
        self.drill = None;
        let name = m.name();
        match self.models.iter_mut().find(|x| x.name() == name) {
            Some(slot) => *slot = m,
            None => self.models.push(m),
        }
    }

    /// The pairs a run covers: a seeded sample of `sample` inputs with all
    /// their pairs (the same [`Selection`](crate::analysis::Selection) as the
    /// CLI's `--sample`, seeded with `seed`), or all.
    ///
    /// # Errors
    /// When no dataset is loaded.
    pub fn run_dataset(&self, sample: Option<usize>, seed: u64) -> Result<RunData, String> {
        let full = self.dataset.as_ref().ok_or("no dataset is loaded")?;
        let selection = match sample {
            Some(n) => crate::analysis::Selection::Inputs { n, seed },
            None => crate::analysis::Selection::All,
        };
        let mut d = None;
        let mut info = None;
        if selection != crate::analysis::Selection::All {
            let mut x = (**full).clone();
            info = selection.apply(&mut x);
            d = info.is_some().then(|| std::rc::Rc::new(x));
        }
        Ok(RunData {
            loaded: full.clone(),
            dataset: d.unwrap_or_else(|| full.clone()),
            sample: info,
            guide: None,
        })
    }

    /// The LLM values of the loaded dataset, if any.
    pub fn llm_values(&self) -> Option<&crate::analysis::LlmValues> {
        (self.llm.run.is_some() || !self.llm.imported.is_empty()).then_some(&self.llm)
    }

    /// Whether `d` is still the loaded dataset.
    pub fn is_loaded(&self, d: &std::rc::Rc<crate::data::Dataset>) -> bool {
        self.dataset
            .as_ref()
            .is_some_and(|x| std::rc::Rc::ptr_eq(x, d))
    }

    /// Makes the pairs of a run (a sample of the loaded dataset, or all) the
    /// ones reports cover.
    pub fn use_sample(&mut self, d: RunData) {
        self.drill = None;
        self.sample = d.sample.is_some().then_some(d);
    }

    /// Plans the model run of `req` (factor extraction, judge or writer) on
    /// the loaded dataset or a seeded sample of its inputs.
    ///
    /// # Errors
    /// When no dataset is loaded, or an extraction is asked for and no
    /// requested factor needs a model.
    pub fn plan_model(&self, req: &LlmRequest) -> Result<ModelRun, String> {
        use crate::workflow::{Kind, Workflow};
        if let Some(problem) = req.run.evaluator_problem() {
            return Err(problem);
        }
        let mut data = self.run_dataset(req.choice.sample, req.score.bootstrap.seed)?;
        let (kind, cfg) = match &req.run {
            ModelKind::Extract => {
                let cfg = resolve(&req.score, &data.loaded);
                if !cfg.requested().iter().any(|f| f.needs_model()) {
                    return Err(
                        "none of the chosen factors needs a model: pick a task or factors such \
as hallucination or intent alignment"
                            .into(),
                    );
                }
                (Kind::Extract, cfg)
            }
            // The same plans and outcomes as `profile judge` and `profile
            // generate`: a judge sees both orders, or one order per pair by a
            // coin flip seeded with the report's seed.
            ModelKind::Judge { single_order } => (
                Kind::Judge(crate::llm::roles::JudgeOrder::new(
                    *single_order,
                    req.score.bootstrap.seed,
                )),
                resolve(&req.score, &data.dataset),
            ),
            ModelKind::Writer { inputs } => (
                Kind::Writer { inputs: *inputs },
                resolve(&req.score, &data.dataset),
            ),
            // As `profile guide`: both orders, so the unguided condition
            // reuses the verdicts of a both-order judge from the cache.
            ModelKind::Guide { .. } => {
                let plan = self.guide_plan(req)?;
                let kind = Kind::Guide {
                    order: crate::llm::roles::JudgeOrder::Both,
                    mis: plan.choice.mis.0,
                    rand: plan.choice.rand.as_ref().map(|r| r.0),
                };
                data.guide = Some(plan);
                (kind, resolve(&req.score, &data.dataset))
            }
            // As `profile improve`: the evaluator judges in both orders
            // unless `--single-order`.
            ModelKind::Improve {
                inputs,
                single_order,
                ..
            } => (
                Kind::Improve {
                    inputs: *inputs,
                    order: crate::llm::roles::JudgeOrder::new(
                        *single_order,
                        req.score.bootstrap.seed,
                    ),
                },
                resolve(&req.score, &data.dataset),
            ),
        };
        let workflow = Workflow::new(kind, data.dataset.clone(), &cfg, &req.choice.model)
            .with_evaluator(&req.evaluator());
        Ok(ModelRun { data, workflow })
    }

    /// The estimate message for the run of `req`. For a writer only the
    /// writing is estimated (the generated texts' factors are not known yet).
    pub fn estimate_model(
        &self,
        req: &LlmRequest,
        cache: &dyn crate::llm::engine::AnswerCache,
    ) -> FromWorker {
        let mut run = match self.plan_model(req) {
            Ok(r) => r,
            Err(message) => return FromWorker::LlmFailed { message },
        };
        let Some(stage) = run.workflow.first() else {
            return FromWorker::LlmFailed {
                message: "nothing to ask".into(),
            };
        };
        // An improvement run: every stage, the later ones bounded.
        let stages = match &req.run {
            ModelKind::Improve { .. } => crate::improve::estimate(
                || {
                    self.plan_model(req)
                        .map(|r| r.workflow)
                        .expect("planned once already")
                },
                [&req.choice.model, &req.evaluator()],
                [req.choice.price; 2],
                cache,
            ),
            _ => Vec::new(),
        };
        // A guided run: every condition's questions (the unguided ones are
        // free when a both-order judge of the model is cached).
        let guided = run.data.guide.as_ref().map(|g| {
            let task = resolve(&req.score, &stage.dataset).task;
            let conditions: Vec<_> = [None, Some(g.choice.mis.0)]
                .into_iter()
                .chain(g.choice.rand.as_ref().map(|r| Some(r.0)))
                .collect();
            crate::llm::roles::guided_judge_plan(
                &stage.dataset,
                task,
                crate::llm::roles::JudgeOrder::Both,
                &conditions,
            )
        });
        let plan = guided.as_ref().unwrap_or(&stage.plan);
        let estimate = if stages.is_empty() {
            crate::llm::engine::estimate(
                plan,
                &stage.dataset,
                stage.opts,
                &req.choice.model,
                cache,
                req.choice.price,
            )
        } else {
            crate::improve::estimate_total(&stages)
        };
        let questions = if stages.is_empty() {
            plan.len() as u64
        } else {
            stages
                .iter()
                .map(|s| s.known_questions + s.bound_questions)
                .sum()
        };
        let inputs = u64::from(stage.dataset.n_clusters);
        let cap_usd = req.choice.settings.cap.map(|c| c.max_usd);
        FromWorker::LlmEstimate {
            sample_first: cap_usd.and_then(|c| estimate.sample_within(inputs, c)),
            inputs,
            cap_usd,
            estimate,
            questions,
            stages,
            pairs: stage.dataset.pairs.len() as u64,
            unique_responses: plan.unique_responses as u64,
            unique_sources: plan.unique_sources as u64,
        }
    }

    /// Keeps a finished (or cancelled) run's results and returns the report
    /// with them.
    pub fn finish_model(
        &mut self,
        data: RunData,
        outcome: Option<crate::workflow::Outcome>,
        req: &LlmRequest,
    ) -> FromWorker {
        use crate::workflow::Outcome;
        if !self.is_loaded(&data.loaded) {
            return FromWorker::LlmFailed {
                message: "another dataset was loaded during the run; the answers it got are \
cached and a new run will reuse them"
                    .into(),
            };
        }
        let Some(outcome) = outcome else {
            return FromWorker::LlmFailed {
                message: "the run ended before it was answered".into(),
            };
        };
        match outcome {
            Outcome::Extract(values) => {
                self.drill = None;
                self.llm.answers = values.answers;
                self.llm.options = values.options;
                self.llm.run = values.run;
                self.llm.model = values.model;
            }
            Outcome::Judge { outcome, record } => {
                self.add_judge(&data, outcome, record);
            }
            Outcome::Writer {
                generated,
                values,
                planned,
                record,
            } => self.add_writer(&data, generated, values, planned, record),
            Outcome::Guide(runs) => {
                let Some(plan) = data.guide.clone() else {
                    return FromWorker::LlmFailed {
                        message: "a guided run without its choice".into(),
                    };
                };
                self.guided = Some(GuidedModel {
                    dataset: data.dataset.clone(),
                    sample: data.sample.clone(),
                    plan,
                    runs,
                });
            }
            Outcome::Improve(run) => {
                // The evaluator's judge agent, unless one of that name was
                // run (as `profile improve` adds it).
                if let Some((outcome, record)) = &run.judge {
                    let name = format!("{} (judge)", record.model);
                    if !self.models.iter().any(|m| m.name() == name) {
                        self.add_judge(&data, outcome.clone(), record.clone());
                    }
                }
                self.drill = None;
                self.improved = Some(ImprovedModel {
                    dataset: data.dataset.clone(),
                    sample: data.sample.clone(),
                    run,
                });
            }
        }
        self.use_sample(data);
        match self.report(&req.score) {
            Some(report) => FromWorker::LlmFinished {
                report,
                warning: None,
            },
            None => FromWorker::LlmFailed {
                message: "no dataset is loaded".into(),
            },
        }
    }

    /// Imports annotations (factor values computed elsewhere) and rescores.
    pub fn import_annotations(&mut self, text: &str, score: &ScoreRequest) -> FromWorker {
        let (a, problems) = crate::llm::annotations::Annotations::parse_jsonl(text);
        let added = a.len() as u64;
        self.drill = None;
        self.llm.imported = a;
        FromWorker::Imported {
            what: "annotations".into(),
            added,
            problems,
            report: self.report(score),
        }
    }

    /// Forgets LLM answers and annotations (the cache keeps the answers).
    pub fn clear_llm(&mut self, score: &ScoreRequest) -> FromWorker {
        self.drill = None;
        self.llm = Default::default();
        self.sample = None;
        self.models.clear();
        self.guided = None;
        self.improved = None;
        self.score(score)
    }
}

/// Runs the model of `req` on the session's dataset (factor extraction,
/// judge or writer), stage by stage with the async
/// [`drive`](crate::llm::drive) over `transport`, `clock` and `store`, posting
/// progress, and returns the final message: the report with the run in it,
/// or why the run could not start. The worker's run, and the native tests'.
#[allow(clippy::too_many_arguments)]
pub async fn run_model<T, C, S>(
    session: &std::cell::RefCell<Session>,
    req: &LlmRequest,
    key: &str,
    transport: &T,
    clock: &C,
    store: &S,
    control: &crate::llm::drive::Control,
    post: &dyn Fn(&FromWorker),
) -> FromWorker
where
    T: crate::llm::drive::Transport,
    C: crate::llm::drive::Clock,
    S: crate::llm::drive::Store,
{
    use crate::llm::drive::{execute, Driver};
    if let Err(problems) = req.choice.settings.validate() {
        return FromWorker::LlmFailed {
            message: problems.join("; "),
        };
    }
    let ModelRun { data, workflow } = match session.borrow().plan_model(req) {
        Ok(r) => r,
        Err(message) => return FromWorker::LlmFailed { message },
    };
    let progress = |stats: &crate::llm::engine::RunStats, paused: bool| {
        post(&FromWorker::LlmProgress {
            stats: stats.clone(),
            cost_usd: req
                .choice
                .price
                .map(|p| p.cost(stats.input_tokens as f64, stats.output_tokens as f64)),
            paused,
        });
    };
    let cap = req.choice.settings.cap;
    let mut workflow = workflow.with_cap(cap);
    let mut capped = None;
    let evaluator = req.evaluator();
    while let Some(stage) = workflow.next_stage() {
        let settings = crate::llm::engine::RunSettings {
            cap: stage.cap,
            ..req.choice.settings.clone()
        };
        let driver = Driver {
            // An improvement run's judge and feedback stages: the evaluator.
            model: if stage.evaluator {
                &evaluator
            } else {
                &req.choice.model
            },
            settings: &settings,
            key,
            transport,
            clock,
            store,
            control,
            progress: &progress,
        };
        let (run, stats) = execute(&driver, stage.plan, &stage.dataset, stage.opts).await;
        let (answers, failures) = run.finish();
        workflow.answered(answers, &stats, &failures);
        if stats.cap_reached {
            capped = Some((stage.what, stats));
        }
    }
    let spent = workflow.spent_usd();
    let mut msg = session
        .borrow_mut()
        .finish_model(data, workflow.finish(), req);
    if let (Some((what, stats)), Some(cap), FromWorker::LlmFinished { warning, .. }) =
        (capped, cap, &mut msg)
    {
        // The report keeps what was answered; the rest is listed as not asked.
        *warning = Some(crate::llm::engine::cap_message(
            what,
            cap.max_usd,
            spent,
            &stats,
            "cost cap",
        ));
    }
    msg
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
            factor_pack: None,
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

    /// The worker's report names the label a PKU-SafeRLHF file was read
    /// with, as the CLI's does (`--label better|safer`), and scores by it.
    #[test]
    fn a_pku_files_label_is_the_one_chosen() {
        let text = include_bytes!("../tests/fixtures/pku_saferlhf.jsonl");
        let load = |pku_label| {
            let mut l = Loader::new(FormatOptions {
                pku_label,
                ..Default::default()
            });
            l.push(text);
            let FromWorker::Loaded { report, .. } = Session::new().finish_load(
                "pku.jsonl".into(),
                l,
                Default::default(),
                &ScoreRequest::default(),
                || 0.0,
            ) else {
                panic!("not loaded")
            };
            report
        };
        let (better, safer) = (
            load(crate::data::PkuLabel::Better),
            load(crate::data::PkuLabel::Safer),
        );
        assert_eq!(better.dataset.label.as_deref(), Some("better"));
        assert_eq!(safer.dataset.label.as_deref(), Some("safer"));
        let length = |r: &crate::report::Report| r.agents[0].factor_scores["length"].score;
        assert_eq!((length(&better), length(&safer)), (Some(-1.0), Some(1.0)));
    }

    #[test]
    fn a_score_request_groups_by_a_record_field() {
        let line = |c: &str, a: &str, b: &str| {
            serde_json::json!({"category": c, "input": format!("{c} {a}?"), "response_a": a, "response_b": b, "preference": "a"})
                .to_string()
        };
        let data = [
            line("math", "one two three", "one"),
            line("math", "x", "x y"),
            line("chat", "long answer here", "short"),
        ]
        .join("\n");
        let s = loaded(&data);
        let req = ScoreRequest {
            factor_pack: None,
            factors: Some(vec![Factor::Length]),
            group_by: Some("category".into()),
            ..Default::default()
        };
        let FromWorker::Scored { report } = s.score(&req) else {
            panic!("not scored")
        };
        assert_eq!(report.dataset.group_fields, ["category"]);
        let g = report.groups.unwrap();
        let values: Vec<(&str, u64)> = g
            .groups
            .iter()
            .map(|g| (g.value.as_str(), g.pairs))
            .collect();
        assert_eq!(values, [("math", 2), ("chat", 1)]);
        // Math: one pair concordant on length, one discordant.
        assert_eq!(g.groups[0].factor_scores["length"].score, Some(0.0));
        assert_eq!(g.groups[0].differences["length"].verdict, "too few inputs");
        // A field this file lacks: no groups.
        let other = ScoreRequest {
            factor_pack: None,
            group_by: Some("subset".into()),
            ..req
        };
        let FromWorker::Scored { report } = s.score(&other) else {
            panic!("not scored")
        };
        assert_eq!(report.groups, None);
    }

    fn loaded(lines: &str) -> Session {
        let mut s = Session::new();
        let mut l = Loader::new(FormatOptions::default());
        l.push(lines.as_bytes());
        let msg = s.finish_load(
            "x".into(),
            l,
            Default::default(),
            &ScoreRequest::default(),
            || 0.0,
        );
        assert!(matches!(msg, FromWorker::Loaded { .. }));
        s
    }

    /// Drives a run to the end with a model that answers atomic-facts
    /// questions: one fact per sentence.
    fn run_to_end(s: &mut Session, req: &LlmRequest) -> FromWorker {
        use crate::llm::cache::MemoryCache;
        use crate::llm::engine::{Run, RunStats, Step};
        use crate::llm::provider::{Completion, Usage};
        let ModelRun { data, mut workflow } = s.plan_model(req).unwrap();
        while let Some(stage) = workflow.next_stage() {
            let mut stats = RunStats::default();
            let mut run = Run::new(stage.plan, stage.opts, req.choice.model.clone(), &mut stats);
            let retry = req.choice.settings.retry;
            while let Some(jobs) = run.next_stage(&stage.dataset, &MemoryCache::new(), &mut stats) {
                for mut j in jobs {
                    let text = j.prompt().user.clone();
                    let response = text.rsplit("<<<").next().unwrap_or_default();
                    let n = response.matches('.').count().max(1);
                    let facts: Vec<String> = (0..n).map(|i| format!("fact {i}")).collect();
                    j.start_call(&mut stats);
                    let step = j.on_result(
                        Ok(Completion {
                            text: serde_json::json!({ "facts": facts }).to_string(),
                            first_token_logprobs: None,
                            token_logprobs: None,
                            usage: Usage::default(),
                            finish: None,
                            model: None,
                        }),
                        &run.context(&retry),
                        0.0,
                        &mut stats,
                    );
                    assert!(matches!(step, Step::Done(..)), "{step:?}");
                    run.settle(&j, step, &mut stats);
                }
            }
            let (answers, failures) = run.finish();
            workflow.answered(answers, &stats, &failures);
        }
        s.finish_model(data, workflow.finish(), req)
    }

    #[test]
    fn llm_runs_score_model_factors_on_their_sample_and_can_be_cleared() {
        let line = |i: &str, a: &str, b: &str, p: &str| {
            serde_json::json!({"input": i, "response_a": a, "response_b": b, "preference": p})
                .to_string()
        };
        // Two inputs: the first with two pairs, the second with one.
        let data = [
            line("Summarize.", "One. Two. Three.", "One.", "a"),
            line("Summarize.", "One.", "One. Two.", "b"),
            line("Summarize this.", "A. B.", "C.", "b"),
        ]
        .join("\n");
        let mut s = loaded(&data);
        let mut req = LlmRequest {
            choice: crate::llm::settings::ModelForm::default()
                .validate()
                .unwrap(),
            score: ScoreRequest {
                factor_pack: None,
                factors: Some(vec![Factor::Length]),
                ..Default::default()
            },
            run: Default::default(),
        };
        assert!(s
            .plan_model(&req)
            .err()
            .unwrap()
            .contains("none of the chosen factors"));
        req.score.factors = Some(vec![Factor::Length, Factor::NFacts]);
        // A sample of one input (all its pairs), drawn with the request's seed.
        req.choice.sample = Some(1);
        req.score.bootstrap.seed = SEED_OF_THE_FIRST_INPUT;
        let mut job = s.plan_model(&req).unwrap();
        let stage = job.workflow.first().unwrap();
        assert_eq!(
            (stage.dataset.pairs.len(), stage.plan.unique_responses),
            (2, 3)
        );
        let other = LlmRequest {
            score: ScoreRequest {
                factor_pack: None,
                bootstrap: crate::stats::BootstrapConfig {
                    seed: SEED_OF_THE_FIRST_INPUT + 1,
                    ..req.score.bootstrap
                },
                ..req.score.clone()
            },
            ..req.clone()
        };
        assert_eq!(
            s.plan_model(&other).unwrap().data.dataset.pairs.len(),
            1,
            "the other input"
        );
        // Under a cap the estimate is over, "sample first" offers a sample
        // of the inputs; with no cap or a cap it fits, none.
        let all = LlmRequest {
            choice: crate::llm::settings::ModelChoice {
                sample: None,
                ..req.choice.clone()
            },
            ..req.clone()
        };
        let capped = |max_usd: f64| {
            let mut r = all.clone();
            r.choice.settings.cap = Some(crate::llm::engine::CostCap {
                max_usd,
                price: crate::llm::pricing::Price {
                    input_per_m: 1e4,
                    output_per_m: 1e4,
                },
            });
            r.choice.price = r.choice.settings.cap.map(|c| c.price);
            match s.estimate_model(&r, &crate::llm::cache::MemoryCache::new()) {
                FromWorker::LlmEstimate {
                    inputs,
                    cap_usd,
                    sample_first,
                    estimate,
                    ..
                } => (inputs, cap_usd, sample_first, estimate.cost_usd.unwrap()),
                other => panic!("{other:?}"),
            }
        };
        let (inputs, cap, first, cost) = capped(1e-6);
        assert_eq!((inputs, cap, first), (2, Some(1e-6), Some(1)), "{cost}");
        let (_, _, first, _) = capped(cost * 2.0);
        assert_eq!(first, None);
        let FromWorker::LlmFinished { report, warning } = run_to_end(&mut s, &req) else {
            panic!("not finished")
        };
        assert_eq!(warning, None);
        let sample = report.dataset.sample.as_ref().unwrap();
        assert_eq!(
            (
                sample.method.as_str(),
                sample.requested,
                sample.inputs_loaded,
                sample.pairs_loaded,
                sample.seed
            ),
            ("inputs", 1, 2, 3, Some(SEED_OF_THE_FIRST_INPUT))
        );
        assert_eq!((report.dataset.pairs, report.dataset.inputs), (2, 1));
        // The sample's two pairs, both agreeing with more facts.
        let nf = &report.agents[0].factor_scores["n_facts"];
        assert_eq!((nf.concordant, nf.score), (2, Some(1.0)));
        let run = report.llm.as_ref().unwrap();
        assert_eq!(
            (run.pairs, run.questions, run.calls, run.failed),
            (2, 3, 3, 0)
        );
        // Rescoring (another factor order) keeps the model values.
        req.score.factors = Some(vec![Factor::NFacts]);
        let FromWorker::Scored { report } = s.score(&req.score) else {
            panic!()
        };
        assert_eq!(report.agents[0].factor_scores["n_facts"].score, Some(1.0));
        // Clearing drops them and goes back to the whole dataset.
        let FromWorker::Scored { report } = s.clear_llm(&req.score) else {
            panic!()
        };
        assert!(!report.agents[0].factor_scores.contains_key("n_facts"));
        assert_eq!(report.dataset.pairs, 3);
        assert_eq!(report.dataset.sample, None);
    }

    /// Drives a run to the end with `answer` giving each reply from the
    /// prompt (system, user); counts the calls in `calls`.
    fn run_answering(
        s: &mut Session,
        req: &LlmRequest,
        answer: &dyn Fn(&str, &str) -> String,
        calls: &std::cell::Cell<u64>,
    ) -> FromWorker {
        use crate::llm::engine::{Run, RunStats};
        use crate::llm::provider::{Completion, Usage};
        let ModelRun { data, mut workflow } = s.plan_model(req).unwrap();
        while let Some(stage) = workflow.next_stage() {
            let mut stats = RunStats::default();
            let mut run = Run::new(stage.plan, stage.opts, req.choice.model.clone(), &mut stats);
            let retry = req.choice.settings.retry;
            let cache = crate::llm::cache::MemoryCache::new();
            while let Some(jobs) = run.next_stage(&stage.dataset, &cache, &mut stats) {
                for mut j in jobs {
                    let text = answer(&j.prompt().system, &j.prompt().user);
                    calls.set(calls.get() + 1);
                    j.start_call(&mut stats);
                    let step = j.on_result(
                        Ok(Completion {
                            text,
                            first_token_logprobs: None,
                            token_logprobs: None,
                            usage: Usage::default(),
                            finish: None,
                            model: None,
                        }),
                        &run.context(&retry),
                        0.0,
                        &mut stats,
                    );
                    run.settle(&j, step, &mut stats);
                }
            }
            let (answers, failures) = run.finish();
            workflow.answered(answers, &stats, &failures);
        }
        s.finish_model(data, workflow.finish(), req)
    }

    /// A judge that prefers the longer response, unless told that length
    /// is not what makes a response better: then the shorter.
    fn length_judge(system: &str, user: &str) -> String {
        let block = |label: &str| {
            let open = format!("<<<{label}\n");
            let start = user.find(&open).map_or(0, |i| i + open.len());
            let end = user[start..]
                .find(&format!("\n{label}>>>"))
                .map_or(user.len(), |i| start + i);
            user[start..end].len()
        };
        let (one, two) = (block("RESPONSE_1"), block("RESPONSE_2"));
        let told = system.contains(&crate::llm::prompts::guidance_sentence(
            Factor::Length,
            true,
        ));
        let better = match (one.cmp(&two), told) {
            (std::cmp::Ordering::Equal, _) => "tie",
            (std::cmp::Ordering::Greater, false) | (std::cmp::Ordering::Less, true) => "1",
            _ => "2",
        };
        serde_json::json!({"better": better, "justification": "by length"}).to_string()
    }

    /// Twelve inputs of one pair each: people prefer the shorter response in
    /// all but two (inputs 0 and 6).
    fn short_preferred() -> String {
        (0..12)
            .map(|i| {
                let long = format!("A long answer number {i} with many more words in it.");
                let short = format!("Short {i}.");
                let (a, b, p) = match i % 6 {
                    0 => (long, short, "a"),
                    1 => (short, long, "a"),
                    2 | 4 => (long, short, "b"),
                    _ => (short, long, "a"),
                };
                serde_json::json!({"input": format!("Question x{i}?"), "response_a": a, "response_b": b, "preference": p})
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn judge_request(run: ModelKind) -> LlmRequest {
        LlmRequest {
            choice: crate::llm::settings::ModelForm::default()
                .validate()
                .unwrap(),
            score: ScoreRequest {
                factor_pack: None,
                factors: Some(vec![Factor::Length, Factor::NovelWords]),
                bootstrap: crate::stats::BootstrapConfig {
                    resamples: 200,
                    seed: 7,
                },
                ..Default::default()
            },
            run,
        }
    }

    #[test]
    fn a_guided_run_in_the_app_adds_its_agents_and_section_after_the_judge() {
        let mut s = loaded(&short_preferred());
        let calls = std::cell::Cell::new(0);
        let guide = judge_request(ModelKind::Guide {
            factor: None,
            rand_factor: None,
        });
        // No judge of the model yet: refused before any call, and says why.
        let e = s.plan_model(&guide).err().unwrap();
        assert!(e.contains("run the model as judge first"), "{e}");
        let judge = judge_request(ModelKind::Judge {
            single_order: false,
        });
        let FromWorker::LlmFinished { report, .. } =
            run_answering(&mut s, &judge, &length_judge, &calls)
        else {
            panic!("judge not finished")
        };
        assert_eq!(calls.get(), 24, "12 pairs in both orders");
        assert!(report.guidance.is_none());
        // The choice is the core's, from the report's judge.
        let plan = s.guide_plan(&guide).unwrap();
        let expected = crate::guide::choose(
            &crate::guide::report_evidence(&report, &plan.model).unwrap(),
            7,
            None,
            None,
        )
        .unwrap();
        assert_eq!(plan.choice, expected);
        assert_eq!(plan.choice.mis.1.factor, "length");
        assert_eq!(plan.choice.mis.1.direction, "over");
        // The estimate covers every condition: 3 × 24 questions.
        let FromWorker::LlmEstimate { questions, .. } =
            s.estimate_model(&guide, &crate::llm::cache::MemoryCache::new())
        else {
            panic!("no estimate")
        };
        let conditions = 2 + u64::from(plan.choice.rand.is_some());
        assert_eq!(questions, 24 * conditions);
        calls.set(0);
        let FromWorker::LlmFinished { report, .. } =
            run_answering(&mut s, &guide, &length_judge, &calls)
        else {
            panic!("guide not finished")
        };
        assert_eq!(calls.get(), 24 * conditions);
        let section = report.guidance.as_ref().expect("a guidance section");
        assert_eq!(section.conditions.len() as u64, conditions);
        assert_eq!(section.evidence_from, format!("{} (judge)", plan.model));
        assert_eq!((section.pairs, section.inputs), (12, 12));
        // Unguided, the judge agrees on the 2 pairs where the longer one won;
        // told that length is not what makes a response better, on the other 10.
        let none = &section.conditions[0];
        let mis = &section.conditions[1];
        assert_eq!(
            (none.strategy.as_str(), none.agreement),
            ("none", Some(2.0 / 12.0))
        );
        assert_eq!(
            (mis.strategy.as_str(), mis.agreement),
            ("mis", Some(10.0 / 12.0))
        );
        assert!((mis.difference.unwrap() - 8.0 / 12.0).abs() < 1e-12);
        // Every condition is an agent with its guidance field and alignment.
        for c in &section.conditions {
            let a = report.agent(&c.agent).expect("the condition's agent");
            assert_eq!(a.guidance.as_ref().unwrap().strategy, c.strategy);
            assert!(report.alignments.iter().any(|al| al.agent == c.agent));
        }
        // The section survives a rescore and exports with the report.
        let FromWorker::Scored { report } = s.score(&guide.score) else {
            panic!()
        };
        assert_eq!(report.guidance.as_ref(), Some(section));
        assert!(report.to_json_pretty().contains("\"guidance\""));
        // Overrides: the factors given are used, and checked.
        let mut given = guide.clone();
        given.run = ModelKind::Guide {
            factor: Some(Factor::NovelWords),
            rand_factor: Some(Factor::Length),
        };
        let plan = s.guide_plan(&given).unwrap();
        assert_eq!(
            (
                plan.choice.mis.1.chosen_by.as_str(),
                plan.choice.mis.0.factor
            ),
            ("user", Factor::NovelWords)
        );
        given.run = ModelKind::Guide {
            factor: Some(Factor::Length),
            rand_factor: Some(Factor::Length),
        };
        assert!(s.plan_model(&given).is_err());
        // Clearing drops them.
        let FromWorker::Scored { report } = s.clear_llm(&guide.score) else {
            panic!()
        };
        assert!(report.guidance.is_none());
    }

    #[test]
    fn a_judge_run_on_a_sample_is_compared_with_the_human_scores_on_its_pairs() {
        let mut s = loaded(&short_preferred());
        let calls = std::cell::Cell::new(0);
        let mut judge = judge_request(ModelKind::Judge {
            single_order: false,
        });
        judge.choice.sample = Some(3);
        let FromWorker::LlmFinished { report, .. } =
            run_answering(&mut s, &judge, &length_judge, &calls)
        else {
            panic!("judge not finished")
        };
        // The report covers the sample: no mark needed.
        assert_eq!(report.dataset.pairs, 3);
        let sample_human = report.agent("human").unwrap().clone();
        // A later run on all the data: the report covers all pairs, and the
        // judge is compared with the human scores on its 3 pairs.
        let all = s.run_dataset(None, 0).unwrap();
        s.use_sample(all);
        let report = s.report(&judge.score).unwrap();
        assert_eq!(report.dataset.pairs, 12);
        let name = format!("{} (judge)", judge.choice.model.model);
        let al = report.alignments.iter().find(|a| a.agent == name).unwrap();
        let reference = al.reference_scores.as_ref().expect("reference scores");
        assert_eq!(
            reference["length"],
            sample_human.factor_scores["length"].score
        );
        assert_ne!(
            reference["length"],
            report.agent("human").unwrap().factor_scores["length"].score
        );
        let run = report.agent(&name).unwrap().run.as_ref().unwrap();
        assert_eq!(run.sample.as_ref().map(|x| x.requested), Some(3));
        assert!(run.pairs_covered.is_some());
    }

    /// A seed whose sample of one input is the first input (found by trying
    /// seeds; the sample is a pure function of the seed).
    const SEED_OF_THE_FIRST_INPUT: u64 = 41;

    #[test]
    fn a_run_whose_dataset_was_replaced_reports_it() {
        let data =
            serde_json::json!({"response_a": "A. B.", "response_b": "C.", "preference": "a"})
                .to_string();
        let mut s = loaded(&data);
        let req = LlmRequest {
            choice: crate::llm::settings::ModelForm::default()
                .validate()
                .unwrap(),
            score: ScoreRequest {
                factor_pack: None,
                factors: Some(vec![Factor::NFacts]),
                ..Default::default()
            },
            run: Default::default(),
        };
        let job = s.plan_model(&req).unwrap();
        let mut fresh = loaded(&data);
        std::mem::swap(&mut s, &mut fresh);
        let FromWorker::LlmFailed { message } = s.finish_model(job.data, None, &req) else {
            panic!("not refused")
        };
        assert!(message.contains("another dataset was loaded"), "{message}");
        // The key never appears when a request is logged.
        let msg = ToWorker::RunLlm {
            request: req,
            key: Secret("sk-secret".into()),
        };
        assert!(!format!("{msg:?}").contains("sk-secret"));
    }
}

impl Session {
    /// The pairs an agent's scores are counted on, its preferences (`None`:
    /// the labels), its setting and LLM values.
    #[allow(clippy::type_complexity)]
    fn drill_agent(
        &self,
        agent: &str,
    ) -> Result<
        (
            &crate::data::Dataset,
            Option<&[Option<crate::data::Preference>]>,
            crate::stats::Setting,
            Option<&crate::analysis::LlmValues>,
        ),
        String,
    > {
        use crate::stats::Setting;
        if agent == "human" {
            let full = self.dataset.as_deref().ok_or("no dataset is loaded")?;
            let ds = self.sample.as_ref().map_or(full, |s| &*s.dataset);
            return Ok((ds, None, Setting::Human, self.llm_values()));
        }
        match self.models.iter().find(|m| m.name() == agent) {
            Some(ModelAgent::Judge {
                dataset, outcome, ..
            }) => Ok((
                dataset,
                Some(&outcome.preferences),
                Setting::Evaluation,
                self.llm_values(),
            )),
            Some(ModelAgent::Writer {
                generated, values, ..
            }) => Ok((
                &generated.dataset,
                None,
                Setting::Generation,
                values.as_deref(),
            )),
            None => Err(format!(
                "no agent `{agent}` in this session: its pairs are listed for runs made in this \
                 page (a report's agents from elsewhere carry no per-pair verdicts)"
            )),
        }
    }

    /// Every row of a drill-down list (kept for the next pages).
    fn drill_rows(
        &mut self,
        factor: Option<&str>,
        agent: &str,
    ) -> Result<std::rc::Rc<Vec<DrillRow>>, String> {
        let key = factor.unwrap_or("").to_owned();
        if let Some((f, a, rows)) = &self.drill {
            if *f == key && a == agent {
                return Ok(rows.clone());
            }
        }
        let mut rules = std::mem::take(&mut self.drill_rules);
        let rows = self.compute_drill_rows(factor, agent, &mut rules);
        self.drill_rules = rules;
        let rows = std::rc::Rc::new(rows?);
        self.drill = Some((key, agent.to_owned(), rows.clone()));
        Ok(rows)
    }

    fn compute_drill_rows(
        &self,
        factor: Option<&str>,
        agent: &str,
        rules: &mut crate::factors::rules::RuleExtractor,
    ) -> Result<Vec<DrillRow>, String> {
        let (ds, prefs, setting, llm) = self.drill_agent(agent)?;
        Ok(match factor {
            None => {
                let prefs = prefs.ok_or("only a judge has verdicts to set against the labels")?;
                let mut position = vec![None; prefs.len()];
                if let Some(ModelAgent::Judge { outcome, .. }) =
                    self.models.iter().find(|m| m.name() == agent)
                {
                    for &(i, b) in &outcome.followed_position {
                        if let Some(p) = position.get_mut(i as usize) {
                            *p = match b {
                                crate::llm::parse::Better::First => Some("first"),
                                crate::llm::parse::Better::Second => Some("second"),
                                crate::llm::parse::Better::Tie => None,
                            };
                        }
                    }
                }
                crate::drill::agreement(ds, prefs)
                    .into_iter()
                    .map(|r| DrillRow {
                        position: position
                            .get(r.pair as usize)
                            .copied()
                            .flatten()
                            .map(str::to_owned),
                        pair: r.pair,
                        line: r.line,
                        kind: serde_json::to_value(r.stands)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        label: r.label,
                        agent: r.verdict,
                        value_a: None,
                        value_b: None,
                    })
                    .collect()
            }
            Some(id) => {
                let f = Factor::from_id(id).ok_or_else(|| format!("unknown factor `{id}`"))?;
                let who = crate::drill::AgentPrefs { setting, prefs };
                crate::drill::pairs(ds, f, who, llm, rules)?
                    .into_iter()
                    .map(|r| DrillRow {
                        pair: r.pair,
                        line: r.line,
                        kind: r.kind.id().to_owned(),
                        label: r.label,
                        agent: r.agent,
                        value_a: r.value_a,
                        value_b: r.value_b,
                        position: None,
                    })
                    .collect()
            }
        })
    }

    /// A page of a drill-down list (at most [`MAX_DRILL_PAGE`] rows).
    pub fn drill_page(&mut self, req: DrillRequest) -> FromWorker {
        let rows = match self.drill_rows(req.factor.as_deref(), &req.agent) {
            Ok(r) => r,
            Err(message) => return FromWorker::DrillFailed { message },
        };
        let order: &[&str] = if req.factor.is_some() {
            &["concordant", "discordant", "tied", "dropped", "missing"]
        } else {
            &["disagrees", "agrees", "no_verdict", "followed_position"]
        };
        // A verdict that followed the position is also a disagreement or an
        // agreement: its own filter, across the others.
        let is = |r: &DrillRow, k: &str| {
            r.kind == k || (k == "followed_position" && r.position.is_some())
        };
        let counts = order
            .iter()
            .map(|k| {
                (
                    (*k).to_owned(),
                    rows.iter().filter(|r| is(r, k)).count() as u64,
                )
            })
            .collect();
        let keep = |r: &&DrillRow| req.filter == "all" || is(r, &req.filter);
        let matching = rows.iter().filter(keep).count() as u64;
        let page = rows
            .iter()
            .filter(keep)
            .skip(req.offset as usize)
            .take(req.count.min(MAX_DRILL_PAGE) as usize)
            .cloned()
            .collect();
        FromWorker::DrillPage {
            matching,
            pairs: rows.len() as u64,
            counts,
            rows: page,
            request: req,
        }
    }

    /// One pair's texts and evidence for an agent's list.
    pub fn evidence(&mut self, factor: Option<&str>, agent: &str, pair: u32) -> FromWorker {
        let mut rules = std::mem::take(&mut self.drill_rules);
        let out = self.compute_evidence(factor, agent, pair, &mut rules);
        self.drill_rules = rules;
        out.unwrap_or_else(|message| FromWorker::DrillFailed { message })
    }

    fn compute_evidence(
        &self,
        factor: Option<&str>,
        agent: &str,
        pair: u32,
        rules: &mut crate::factors::rules::RuleExtractor,
    ) -> Result<FromWorker, String> {
        let (ds, prefs, _, llm) = self.drill_agent(agent)?;
        let f = match factor {
            Some(id) => Factor::from_id(id).ok_or_else(|| format!("unknown factor `{id}`"))?,
            // A judge's verdicts: the novel words still show what is new.
            None => Factor::NovelWordsCount,
        };
        let evidence = crate::drill::evidence(ds, pair as usize, f, llm, rules).map(Box::new);
        let verdict = prefs
            .and_then(|p| p.get(pair as usize).copied().flatten())
            .map(|p| p.sign());
        let mut notes = Vec::new();
        if llm.is_none() {
            notes.push("no model answers for this data in this page: atomic facts, fact-check verdicts and response-level judgements are not available (run the factor extraction in the Model panel, or import annotations)".to_owned());
        }
        if prefs.is_some() {
            notes.push("the judge's raw replies are in this browser's answer cache (Model panel → export the cache)".to_owned());
        }
        Ok(FromWorker::Evidence {
            agent: agent.to_owned(),
            evidence,
            verdict,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        })
    }

    /// The question (its cache key) and the answer behind one response's
    /// value of `factor`: what [`crate::drill::raw_reply`] checks a cache
    /// entry against.
    ///
    /// # Errors
    /// No such agent, factor, pair or question, or no model values.
    pub fn reply_ref(
        &self,
        factor: &str,
        agent: &str,
        pair: u32,
        side: crate::drill::Side,
        question: u32,
    ) -> Result<(crate::drill::ReplyRef, crate::llm::question::Answer), String> {
        let (ds, _, _, llm) = self.drill_agent(agent)?;
        let f = Factor::from_id(factor).ok_or_else(|| format!("unknown factor `{factor}`"))?;
        let llm = llm.ok_or("no model answers for this data in this page")?;
        crate::drill::reply_answer(ds, pair as usize, side, f, llm, question as usize)
            .ok_or_else(|| format!("no model answer {question} behind pair {pair}'s value"))
    }
}
