//! The web app's state, target-independent so that it is tested natively:
//! what the app is doing ([`Status`]), the report and view it shows, the
//! language-model panel's part ([`LlmUi`]), and [`State::reduce`], which folds
//! a UI [`Action`] or a worker message into the next state. The reducer is
//! pure: a file to save is left in [`State::download`] for the app's effect,
//! never written from here. The Yew component (`web::app`) only dispatches
//! actions and renders this state.

use std::rc::Rc;

use crate::data::{Diagnostic, Format, FormatOptions, PkuLabel, SummEvalLabel};
use crate::llm::engine::{Estimate, RunStats};
use crate::protocol::FromWorker;
use crate::report::Report;
use crate::view::ViewState;

/// What the app is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Idle,
    Loading {
        name: String,
        bytes: u64,
        total_bytes: u64,
        records: u64,
    },
    Ready,
    Failed(String),
}

/// The whole UI state.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub status: Status,
    pub report: Option<Rc<Report>>,
    pub diagnostics: Rc<Vec<Diagnostic>>,
    pub view: ViewState,
    pub options: FormatOptions,
    pub elapsed_ms: Option<f64>,
    pub notice: Option<String>,
    pub llm: LlmUi,
    /// The last file the app was asked to save; a new `seq` is a new download.
    pub download: Option<Rc<Download>>,
    /// The open drill-down list, if any.
    pub drill: Option<DrillUi>,
    /// The "Improve alignment" panel's factor choices.
    pub guide: GuideForm,
    /// A published study shown instead of the report ("the paper's study").
    pub study: Option<StudyUi>,
}

/// A published study as shown: the study and the task picked.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyUi {
    pub study: Rc<crate::published::Published>,
    pub task: String,
}

/// The drill-down panel's part: which list is open, the rows received so
/// far (by their position in the filtered list) and the pair shown.
#[derive(Clone, Debug, PartialEq)]
pub struct DrillUi {
    /// `None`: a judge's verdicts against the labels.
    pub factor: Option<String>,
    pub agent: String,
    pub filter: String,
    /// Rows passing the filter (known after the first page).
    pub matching: Option<u64>,
    pub pairs: u64,
    pub counts: Rc<Vec<(String, u64)>>,
    pub rows: Rc<std::collections::BTreeMap<u64, crate::protocol::DrillRow>>,
    pub selected: Option<u32>,
    pub evidence: Option<Rc<EvidenceView>>,
    /// The raw reply on show: (side, question, reply) of the picked pair.
    pub raw: Option<Rc<(crate::drill::Side, u32, crate::drill::RawReply)>>,
    pub error: Option<String>,
}

/// One pair's evidence as shown.
#[derive(Clone, Debug, PartialEq)]
pub struct EvidenceView {
    pub agent: String,
    pub evidence: Option<crate::drill::PairEvidence>,
    pub verdict: Option<i8>,
    pub note: Option<String>,
}

/// Which panel a model run or estimate was started from (where its
/// estimate, progress and errors are shown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Panel {
    /// The language-model panel (extraction, judge, writer).
    #[default]
    Model,
    /// The "Improve alignment" panel (a guided run, or the judge it needs).
    Guide,
    /// The "Improve alignment" panel's feedback-driven improvement.
    Improve,
}

/// The factors the user fixed for guided judging (`None`: chosen from the
/// evidence, as `profile guide` without `--factor` / `--rand-factor`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuideForm {
    pub factor: Option<crate::factors::Factor>,
    pub rand_factor: Option<crate::factors::Factor>,
}

/// What the "Improve alignment" panel can offer for a report and model.
// Made once per render and matched at once: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum GuideOffer {
    /// The report has no judge of the model with factor score differences:
    /// one must be run first.
    NeedsJudge { judge: String },
    /// The evidence of the model's judge, and the choice made from it (or
    /// why none can be made).
    Ready {
        evidence: Vec<crate::report::GuidanceEvidence>,
        choice: Result<crate::guide::Choice, String>,
    },
}

impl GuideForm {
    /// The evidence and choice for `model`'s judge in `report`, as the
    /// worker will make it (`guide::report_evidence`, `guide::choose` with
    /// the report's seed and these factors).
    pub fn offer(&self, report: &Report, model: &str, seed: u64) -> GuideOffer {
        match crate::guide::report_evidence(report, model) {
            None => GuideOffer::NeedsJudge {
                judge: format!("{model} (judge)"),
            },
            Some(evidence) => {
                let choice = crate::guide::choose(&evidence, seed, self.factor, self.rand_factor)
                    // The core names the CLI's flags; the app's are the selects.
                    .map_err(|e| {
                        e.replace("--rand-factor F", "the GuideRand select")
                            .replace(
                                "give --factor F to choose it yourself",
                                "pick a GuideMis factor below to choose it yourself",
                            )
                            .replace("--factor F", "the GuideMis select")
                    });
                GuideOffer::Ready { evidence, choice }
            }
        }
    }
}

/// A file to save, left in the state by [`State::reduce`] for the app's
/// download effect.
#[derive(Clone, Debug, PartialEq)]
pub struct Download {
    pub seq: u64,
    pub name: String,
    pub mime: String,
    pub content: String,
}

pub enum Action {
    StartLoading {
        name: String,
        total_bytes: u64,
        /// Reloading the previous input after a cancel: keep the notice.
        restoring: bool,
    },
    /// A message from the worker.
    Worker(Box<FromWorker>),
    Cancelled,
    SetView(ViewState),
    SetFormat(Option<Format>),
    SetLabel(SummEvalLabel),
    /// The PKU-SafeRLHF judgement used as the label.
    SetPkuLabel(PkuLabel),
    /// The column mapping for CSV/TSV files: (field, column).
    SetColumnMap(Vec<(String, String)>),
    /// The record-size limit for the next load, in MiB.
    SetMaxRecord(u32),
    /// A model run was started from a panel.
    LlmStarted(Panel),
    /// An estimate was asked from a panel.
    LlmEstimating(Panel),
    /// The guided-judging factors were chosen.
    SetGuide(GuideForm),
    LlmPaused(bool),
    /// The model values were removed from the report.
    LlmCleared,
    /// Open a drill-down list (the app asks the worker for its first page).
    OpenDrill {
        factor: Option<String>,
        agent: String,
        filter: String,
    },
    CloseDrill,
    /// A pair of the list was picked (the app asks for its evidence).
    SelectPair(u32),
    /// Show a published study (its first task) instead of the report.
    ShowStudy(Rc<crate::published::Published>),
    /// Show this task of the published study.
    SetStudyTask(String),
    /// Back to the report from the published study.
    CloseStudy,
    /// The published study could not be read.
    StudyFailed(String),
    /// Close the raw reply on show.
    HideRawReply,
}

impl State {
    /// The state of a fresh page showing `view`.
    pub fn new(view: ViewState) -> State {
        State {
            status: Status::Idle,
            report: None,
            diagnostics: Rc::default(),
            view,
            options: FormatOptions::default(),
            elapsed_ms: None,
            notice: None,
            llm: LlmUi::default(),
            download: None,
            drill: None,
            guide: GuideForm::default(),
            study: None,
        }
    }

    /// Folds a worker message into the state.
    fn apply_worker(&mut self, msg: FromWorker) {
        match msg {
            FromWorker::Ready => {}
            FromWorker::Progress {
                bytes,
                total_bytes,
                records,
            } => {
                if let Status::Loading { name, .. } = &self.status {
                    self.status = Status::Loading {
                        name: name.clone(),
                        bytes,
                        total_bytes,
                        records,
                    };
                }
            }
            FromWorker::Loaded {
                report,
                diagnostics,
                elapsed_ms,
            } => {
                // Another file's group field does not group this one.
                if self
                    .view
                    .group_by
                    .as_ref()
                    .is_some_and(|g| !report.dataset.group_fields.contains(g))
                {
                    self.view.group_by = None;
                }
                self.report = Some(Rc::new(report));
                self.diagnostics = Rc::new(diagnostics);
                // A new dataset: its model values start empty.
                self.llm = LlmUi {
                    running: self.llm.running,
                    panel: self.llm.panel,
                    ..LlmUi::default()
                };
                // Its factors may differ: guidance is chosen afresh.
                self.guide = GuideForm::default();
                self.elapsed_ms = Some(elapsed_ms);
                self.status = Status::Ready;
                self.drill = None;
            }
            FromWorker::Scored { report } => {
                self.report = Some(Rc::new(report));
                if !matches!(self.status, Status::Loading { .. }) {
                    self.status = Status::Ready;
                }
            }
            FromWorker::Failed { message } => self.status = Status::Failed(message),
            FromWorker::LlmEstimate {
                estimate,
                questions,
                pairs,
                unique_responses,
                unique_sources,
                inputs,
                cap_usd,
                sample_first,
                stages,
            } => {
                self.llm.error = None;
                self.llm.estimate = Some(EstimateView {
                    estimate,
                    questions,
                    pairs,
                    unique_responses,
                    unique_sources,
                    inputs,
                    cap_usd,
                    sample_first,
                    stages,
                });
            }
            FromWorker::LlmProgress {
                stats,
                cost_usd,
                paused,
            } => {
                self.llm.progress = Some((stats, cost_usd));
                self.llm.paused = paused;
            }
            FromWorker::LlmFinished { report, warning } => {
                // New values or agents: a list on show would be stale.
                self.drill = None;
                self.llm.running = false;
                self.llm.paused = false;
                self.llm.has_values = true;
                self.llm.info = warning;
                self.report = Some(Rc::new(report));
            }
            FromWorker::LlmFailed { message } => {
                self.llm.running = false;
                self.llm.paused = false;
                self.llm.error = Some(message);
            }
            FromWorker::CacheExported { jsonl, entries } => {
                self.download = Some(Rc::new(Download {
                    seq: self.download.as_ref().map_or(1, |d| d.seq + 1),
                    name: "profile-answer-cache.jsonl".into(),
                    mime: "application/x-ndjson".into(),
                    content: jsonl,
                }));
                self.llm.info = Some(format!("Exported {entries} cached answers."));
            }
            FromWorker::Imported {
                what,
                added,
                problems,
                report,
            } => {
                let mut info = format!("Imported {added} {what} entries.");
                if !problems.is_empty() {
                    info += &format!(
                        " {} lines were skipped: {}",
                        problems.len(),
                        problems
                            .iter()
                            .take(3)
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    );
                }
                self.llm.info = Some(info);
                self.llm.error = None;
                if let Some(r) = report {
                    self.llm.has_values = true;
                    self.report = Some(Rc::new(r));
                }
            }
            FromWorker::DrillPage {
                request,
                matching,
                pairs,
                counts,
                rows,
            } => {
                // A page of the list on show (else a stale answer).
                if let Some(d) = self.drill.as_mut().filter(|d| {
                    d.factor == request.factor
                        && d.agent == request.agent
                        && d.filter == request.filter
                }) {
                    d.matching = Some(matching);
                    d.pairs = pairs;
                    d.counts = Rc::new(counts);
                    d.error = None;
                    let map = Rc::make_mut(&mut d.rows);
                    for (i, r) in rows.into_iter().enumerate() {
                        map.insert(request.offset + i as u64, r);
                    }
                }
            }
            FromWorker::Evidence {
                agent,
                evidence,
                verdict,
                note,
            } => {
                if let Some(d) = self
                    .drill
                    .as_mut()
                    .filter(|d| d.agent == agent && evidence.as_ref().map(|e| e.pair) == d.selected)
                {
                    d.evidence = Some(Rc::new(EvidenceView {
                        agent,
                        evidence: evidence.map(|e| *e),
                        verdict,
                        note,
                    }));
                }
            }
            FromWorker::RawReply {
                pair,
                side,
                question,
                reply,
            } => {
                if let Some(d) = self.drill.as_mut().filter(|d| d.selected == Some(pair)) {
                    d.raw = Some(Rc::new((side, question, reply)));
                }
            }
            FromWorker::DrillFailed { message } => {
                if let Some(d) = self.drill.as_mut() {
                    d.error = Some(message);
                }
            }
        }
    }
}

impl State {
    /// The state after `action`. Pure: what must happen outside (a download)
    /// is left in the state for an effect to carry out.
    pub fn reduce(&self, action: Action) -> State {
        let mut s = self.clone();
        match action {
            Action::Worker(msg) => s.apply_worker(*msg),
            Action::StartLoading {
                name,
                total_bytes,
                restoring,
            } => {
                s.status = Status::Loading {
                    name,
                    bytes: 0,
                    total_bytes,
                    records: 0,
                };
                if !restoring {
                    s.notice = None;
                }
                s.study = None;
            }
            Action::ShowStudy(study) => {
                let task = study
                    .task_names()
                    .first()
                    .map_or_else(String::new, |t| (*t).to_owned());
                s.study = Some(StudyUi { study, task });
                s.notice = None;
            }
            Action::SetStudyTask(task) => {
                if let Some(st) = &mut s.study {
                    if st.study.tasks.contains_key(&task) {
                        st.task = task;
                    }
                }
            }
            Action::CloseStudy => s.study = None,
            Action::StudyFailed(why) => {
                s.notice = Some(format!("Could not open the paper's study: {why}"));
            }
            Action::Cancelled => {
                s.status = if s.report.is_some() {
                    Status::Ready
                } else {
                    Status::Idle
                };
                s.notice =
                    Some("Loading was cancelled; the previous report is still shown.".into());
            }
            Action::SetView(v) => s.view = v,
            Action::SetFormat(f) => s.options.format = f,
            Action::SetLabel(l) => s.options.summeval_label = l,
            Action::SetPkuLabel(l) => s.options.pku_label = l,
            Action::SetColumnMap(m) => s.options.column_map = m,
            Action::SetMaxRecord(n) => s.options.max_record_mb = n,
            Action::LlmStarted(panel) => {
                s.llm.running = true;
                s.llm.paused = false;
                s.llm.error = None;
                s.llm.info = None;
                s.llm.progress = None;
                s.llm.panel = panel;
            }
            Action::LlmEstimating(panel) => {
                // A run going on keeps its panel.
                if !s.llm.running {
                    s.llm.panel = panel;
                    s.llm.error = None;
                }
                s.llm.estimate = None;
                s.llm.estimate_panel = panel;
            }
            Action::SetGuide(g) => s.guide = g,
            Action::LlmPaused(p) => s.llm.paused = p,
            Action::LlmCleared => {
                s.llm = LlmUi {
                    running: s.llm.running,
                    panel: s.llm.panel,
                    ..LlmUi::default()
                }
            }
            Action::OpenDrill {
                factor,
                agent,
                filter,
            } => {
                s.drill = Some(DrillUi {
                    factor,
                    agent,
                    filter,
                    matching: None,
                    pairs: 0,
                    counts: Rc::default(),
                    rows: Rc::default(),
                    selected: None,
                    evidence: None,
                    raw: None,
                    error: None,
                })
            }
            Action::CloseDrill => s.drill = None,
            Action::SelectPair(p) => {
                if let Some(d) = s.drill.as_mut() {
                    d.selected = Some(p);
                    d.evidence = None;
                    d.raw = None;
                }
            }
            Action::HideRawReply => {
                if let Some(d) = s.drill.as_mut() {
                    d.raw = None;
                }
            }
        }
        s
    }
}

/// The LLM part of the app's state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmUi {
    pub running: bool,
    pub paused: bool,
    pub estimate: Option<EstimateView>,
    pub progress: Option<(RunStats, Option<f64>)>,
    pub error: Option<String>,
    pub info: Option<String>,
    /// The report holds model values (a run's or imported annotations).
    pub has_values: bool,
    /// The panel of the run going on (or last run): its progress and
    /// errors are shown there.
    pub panel: Panel,
    /// The panel the estimate was asked from.
    pub estimate_panel: Panel,
}

/// A received estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct EstimateView {
    pub estimate: Estimate,
    pub questions: u64,
    pub pairs: u64,
    pub unique_responses: u64,
    pub unique_sources: u64,
    /// Inputs the run covers.
    pub inputs: u64,
    /// The cost cap the estimate was asked with.
    pub cap_usd: Option<f64>,
    /// Inputs of a seeded sample that fits about half the cap, when the
    /// estimate is over it.
    pub sample_first: Option<u64>,
    /// An improvement run's stages, known and bounded parts.
    pub stages: Vec<crate::improve::StageEstimate>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{score_report, DatasetInfo, ScoreConfig};
    use crate::factors::Task;

    fn report() -> Report {
        let text = r#"{"input": "q", "response_a": "a long answer here", "response_b": "short", "preference": "a"}"#;
        let ds = crate::data::load_bytes(text.as_bytes(), FormatOptions::default()).unwrap();
        score_report(
            &ds,
            &ScoreConfig::for_task(Task::Helpful),
            &DatasetInfo::default(),
        )
    }

    fn worker(s: &State, msg: FromWorker) -> State {
        s.reduce(Action::Worker(Box::new(msg)))
    }

    #[test]
    fn another_files_group_field_is_dropped_on_load() {
        let mut s = State::new(ViewState {
            group_by: Some("category".into()),
            ..Default::default()
        });
        let mut r = report();
        r.dataset.group_fields = vec!["category".into()];
        let loaded = |r: Report| FromWorker::Loaded {
            report: r,
            diagnostics: Vec::new(),
            elapsed_ms: 1.0,
        };
        s = worker(&s, loaded(r.clone()));
        assert_eq!(s.view.group_by.as_deref(), Some("category"));
        r.dataset.group_fields = vec!["task".into()];
        s = worker(&s, loaded(r));
        assert_eq!(s.view.group_by, None);
    }

    #[test]
    fn a_published_study_is_shown_until_closed_or_a_load_starts() {
        let study = Rc::new(
            crate::published::Published::parse(
                r#"{"b": {"human": {"length": 1.0}}, "a": {"human": {"length": 0.5}}}"#,
            )
            .unwrap(),
        );
        let s = State::new(ViewState::default()).reduce(Action::ShowStudy(study));
        assert_eq!(s.study.as_ref().map(|st| st.task.as_str()), Some("a"));
        let s = s.reduce(Action::SetStudyTask("b".into()));
        assert_eq!(s.study.as_ref().map(|st| st.task.as_str()), Some("b"));
        // A task the study lacks changes nothing.
        let s = s.reduce(Action::SetStudyTask("nope".into()));
        assert_eq!(s.study.as_ref().map(|st| st.task.as_str()), Some("b"));
        assert!(s.reduce(Action::CloseStudy).study.is_none());
        let loading = s.reduce(Action::StartLoading {
            name: "f.jsonl".into(),
            total_bytes: 1,
            restoring: false,
        });
        assert!(loading.study.is_none());
        let failed = State::new(ViewState::default()).reduce(Action::StudyFailed("404".into()));
        assert!(failed.notice.as_deref().is_some_and(|n| n.contains("404")));
    }

    #[test]
    fn loading_then_loaded_shows_the_report_and_starts_model_values_afresh() {
        let s = State::new(ViewState::default()).reduce(Action::StartLoading {
            name: "f.jsonl".into(),
            total_bytes: 10,
            restoring: false,
        });
        assert!(matches!(s.status, Status::Loading { ref name, .. } if name == "f.jsonl"));
        let s = worker(
            &s,
            FromWorker::Progress {
                bytes: 5,
                total_bytes: 10,
                records: 1,
            },
        );
        assert!(matches!(s.status, Status::Loading { bytes: 5, .. }));
        let mut s = s;
        s.llm.has_values = true;
        s.llm.running = true;
        let s = worker(
            &s,
            FromWorker::Loaded {
                report: report(),
                diagnostics: vec![],
                elapsed_ms: 3.0,
            },
        );
        assert_eq!(s.status, Status::Ready);
        assert!(s.report.is_some());
        assert_eq!(s.elapsed_ms, Some(3.0));
        assert!(!s.llm.has_values, "a new dataset has no model values yet");
        assert!(s.llm.running, "a run in progress is still running");
    }

    #[test]
    fn a_rescore_during_a_load_keeps_the_load_status() {
        let s = State::new(ViewState::default()).reduce(Action::StartLoading {
            name: "f".into(),
            total_bytes: 0,
            restoring: false,
        });
        let s = worker(&s, FromWorker::Scored { report: report() });
        assert!(matches!(s.status, Status::Loading { .. }));
        let idle = worker(
            &State::new(ViewState::default()),
            FromWorker::Scored { report: report() },
        );
        assert_eq!(idle.status, Status::Ready);
    }

    #[test]
    fn cancel_keeps_the_previous_report_and_says_so_and_a_restore_keeps_the_notice() {
        let empty = State::new(ViewState::default()).reduce(Action::Cancelled);
        assert_eq!(empty.status, Status::Idle);
        let shown = worker(
            &State::new(ViewState::default()),
            FromWorker::Loaded {
                report: report(),
                diagnostics: vec![],
                elapsed_ms: 1.0,
            },
        );
        let s = shown.reduce(Action::Cancelled);
        assert_eq!(s.status, Status::Ready);
        let notice = s.notice.clone().expect("a notice");
        assert!(notice.contains("cancelled"), "{notice}");
        let restoring = s.reduce(Action::StartLoading {
            name: "previous".into(),
            total_bytes: 0,
            restoring: true,
        });
        assert_eq!(restoring.notice.as_deref(), Some(notice.as_str()));
        let fresh = s.reduce(Action::StartLoading {
            name: "new".into(),
            total_bytes: 0,
            restoring: false,
        });
        assert_eq!(fresh.notice, None);
    }

    #[test]
    fn an_exported_cache_becomes_a_download_for_the_effect_each_time() {
        let s = State::new(ViewState::default());
        let export = |s: &State, n: u64| {
            worker(
                s,
                FromWorker::CacheExported {
                    jsonl: format!("{{\"n\":{n}}}\n"),
                    entries: n,
                },
            )
        };
        let one = export(&s, 1);
        let d1 = one.download.clone().expect("a download");
        assert_eq!(
            (d1.name.as_str(), d1.mime.as_str(), d1.content.as_str()),
            (
                "profile-answer-cache.jsonl",
                "application/x-ndjson",
                "{\"n\":1}\n"
            )
        );
        assert_eq!(one.llm.info.as_deref(), Some("Exported 1 cached answers."));
        // The same content exported again is a new download (a new seq).
        let two = export(&one, 1);
        assert_ne!(two.download, one.download);
        // Other actions leave the pending download as it is: the effect runs once.
        let other = two.reduce(Action::LlmPaused(true));
        assert_eq!(other.download, two.download);
    }

    #[test]
    fn a_model_run_starts_finishes_or_fails_in_the_panel_state() {
        let s = State::new(ViewState::default()).reduce(Action::LlmStarted(Panel::Model));
        assert!(s.llm.running && !s.llm.paused && s.llm.error.is_none());
        let failed = worker(
            &s,
            FromWorker::LlmFailed {
                message: "refused".into(),
            },
        );
        assert!(!failed.llm.running);
        assert_eq!(failed.llm.error.as_deref(), Some("refused"));
        let done = worker(
            &s,
            FromWorker::LlmFinished {
                report: report(),
                warning: Some("not saved".into()),
            },
        );
        assert!(!done.llm.running && done.llm.has_values && done.report.is_some());
        assert_eq!(done.llm.info.as_deref(), Some("not saved"));
        let cleared = done.reduce(Action::LlmCleared);
        assert!(!cleared.llm.has_values && cleared.llm.info.is_none());
    }

    #[test]
    fn drill_pages_fill_the_open_list_only() {
        use crate::protocol::{DrillRequest, DrillRow};
        let s = State::new(ViewState::default()).reduce(Action::OpenDrill {
            factor: Some("length".into()),
            agent: "human".into(),
            filter: "discordant".into(),
        });
        let page = |filter: &str, offset| {
            Action::Worker(Box::new(FromWorker::DrillPage {
                request: DrillRequest {
                    factor: Some("length".into()),
                    agent: "human".into(),
                    filter: filter.into(),
                    offset,
                    count: 2,
                },
                matching: 7,
                pairs: 9,
                counts: vec![("discordant".into(), 7)],
                rows: (0..2)
                    .map(|i| DrillRow {
                        pair: 10 + i,
                        line: 1,
                        kind: filter.into(),
                        label: 1,
                        agent: Some(1),
                        value_a: Some(1.0),
                        value_b: Some(2.0),
                        position: None,
                    })
                    .collect(),
            }))
        };
        // A page of another list (a stale answer) changes nothing.
        let stale = s.reduce(page("concordant", 0));
        assert_eq!(stale.drill, s.drill);
        let s = s.reduce(page("discordant", 4));
        let d = s.drill.as_ref().unwrap();
        assert_eq!(d.matching, Some(7));
        assert_eq!(d.rows.keys().copied().collect::<Vec<_>>(), [4, 5]);
        assert_eq!(d.rows[&5].pair, 11);
        let s = s.reduce(Action::SelectPair(11));
        assert_eq!(s.drill.as_ref().unwrap().selected, Some(11));
        // A raw reply shows for the picked pair only, and goes with it.
        let raw = |pair| {
            Action::Worker(Box::new(FromWorker::RawReply {
                pair,
                side: crate::drill::Side::A,
                question: 1,
                reply: crate::drill::RawReply {
                    question: "fact checks".into(),
                    key: Some("v2-k".into()),
                    text: Some("{}".into()),
                    bytes: 2,
                    truncated: false,
                    note: None,
                },
            }))
        };
        assert_eq!(s.reduce(raw(10)).drill.unwrap().raw, None);
        let shown = s.reduce(raw(11));
        assert_eq!(shown.drill.as_ref().unwrap().raw.as_ref().unwrap().1, 1);
        assert_eq!(shown.reduce(Action::HideRawReply).drill.unwrap().raw, None);
        assert_eq!(
            shown.reduce(Action::SelectPair(10)).drill.unwrap().raw,
            None
        );
        assert_eq!(s.reduce(Action::CloseDrill).drill, None);
    }

    #[test]
    fn a_run_or_estimate_belongs_to_the_panel_it_was_started_from() {
        let s = State::new(ViewState::default());
        assert_eq!(s.llm.panel, Panel::Model);
        let est = s.reduce(Action::LlmEstimating(Panel::Guide));
        assert_eq!(
            (est.llm.panel, est.llm.estimate_panel),
            (Panel::Guide, Panel::Guide)
        );
        let run = est.reduce(Action::LlmStarted(Panel::Guide));
        assert!(run.llm.running);
        assert_eq!(run.llm.panel, Panel::Guide);
        // An estimate asked elsewhere during the run: the run keeps its panel.
        let other = run.reduce(Action::LlmEstimating(Panel::Model));
        assert_eq!(
            (other.llm.panel, other.llm.estimate_panel),
            (Panel::Guide, Panel::Model)
        );
        assert!(other.llm.estimate.is_none());
        // Progress, pause and the failure stay with it.
        let paused = other.reduce(Action::LlmPaused(true));
        assert!(paused.llm.paused && paused.llm.panel == Panel::Guide);
        let failed = worker(
            &paused,
            FromWorker::LlmFailed {
                message: "no judge".into(),
            },
        );
        assert_eq!(failed.llm.panel, Panel::Guide);
        assert_eq!(failed.llm.error.as_deref(), Some("no judge"));
        // A new dataset chooses guidance afresh.
        let mut chosen = failed.reduce(Action::SetGuide(GuideForm {
            factor: Some(crate::factors::Factor::Length),
            rand_factor: None,
        }));
        assert_eq!(chosen.guide.factor, Some(crate::factors::Factor::Length));
        chosen = worker(
            &chosen,
            FromWorker::Loaded {
                report: report(),
                diagnostics: vec![],
                elapsed_ms: 1.0,
            },
        );
        assert_eq!(chosen.guide, GuideForm::default());
    }

    /// A report with a judge of model `m` whose length score is above the
    /// humans', with the interval given.
    fn judged(ci: Option<[f64; 2]>) -> Report {
        let mut r = report();
        let mut judge = r.agents[0].clone();
        judge.name = "m (judge)".into();
        r.agents.push(judge);
        let mut al = crate::report::Alignment::between(
            "m (judge)",
            &r.agents[1].score_map(),
            "human",
            &r.agents[0].score_map(),
        );
        for (f, d, ci) in [("length", 0.4, ci), ("novel_words", 0.0, Some([-0.1, 0.1]))] {
            al.factors.push(f.into());
            al.score_differences.insert(
                f.into(),
                crate::report::ScoreDifference {
                    estimate: d,
                    ci95: ci,
                },
            );
        }
        al.factors.dedup();
        r.alignments.push(al);
        r
    }

    #[test]
    fn the_guide_offer_is_the_cores_choice_and_names_the_apps_controls() {
        let form = GuideForm::default();
        assert_eq!(
            form.offer(&report(), "m", 1),
            GuideOffer::NeedsJudge {
                judge: "m (judge)".into()
            }
        );
        let r = judged(Some([0.1, 0.7]));
        let GuideOffer::Ready { evidence, choice } = form.offer(&r, "m", 1) else {
            panic!("no offer")
        };
        let choice = choice.unwrap();
        assert_eq!(
            choice,
            crate::guide::choose(&evidence, 1, None, None).unwrap()
        );
        assert_eq!(choice.mis.1.factor, "length");
        assert_eq!(choice.rand.unwrap().1.factor, "novel_words");
        // Nothing qualifies: the reason, with the app's control named.
        let GuideOffer::Ready { choice, .. } = form.offer(&judged(Some([-0.1, 0.7])), "m", 1)
        else {
            panic!("no offer")
        };
        let e = choice.unwrap_err();
        assert!(
            e.contains("no factor qualifies") && e.contains("pick a GuideMis factor below"),
            "{e}"
        );
        assert!(!e.contains("--factor"), "{e}");
        // A factor given overrides the evidence.
        let given = GuideForm {
            factor: Some(crate::factors::Factor::NovelWords),
            rand_factor: Some(crate::factors::Factor::Length),
        };
        let GuideOffer::Ready { choice, .. } = given.offer(&r, "m", 1) else {
            panic!("no offer")
        };
        let c = choice.unwrap();
        assert_eq!(
            (c.mis.1.factor.as_str(), c.mis.1.chosen_by.as_str()),
            ("novel_words", "user")
        );
    }
}
