//! The model-run workflow, once for both edges: which plans a run answers,
//! in which order, and what their answers become. A factor extraction is
//! one plan; a judge is one plan (both orders, or one seeded order per
//! pair) whose answers become its outcome and run record; a writer is one
//! plan whose answers become a generated dataset, then (when a chosen
//! factor needs a model) a second plan extracting those factors on it.
//!
//! Pure and target-independent: the CLI answers each [`Stage`] on threads
//! over a blocking client (`llm::threads`), the worker with async loops over
//! `fetch` (`llm::drive`); both hand the answers back with
//! [`Workflow::answered`] and build their agent from [`Workflow::finish`].

use std::rc::Rc;

use crate::agents::RunInfo;
use crate::analysis::{llm_run_record, LlmValues, ScoreConfig};
use crate::data::Dataset;
use crate::factors::{Factor, Task};
use crate::llm::engine::{CostCap, FailedItem, RunStats};
use crate::llm::extract::{Answers, ExtractOptions, Plan};
use crate::llm::provider::ModelConfig;
use crate::llm::roles::{
    self, Generated, Guidance, ImprovedPairs, Improvement, JudgeOrder, JudgeOutcome,
};
use crate::report::AgentRun;

impl ExtractOptions {
    /// How questions are asked of model `model` for a `task` dataset: with
    /// log-probabilities when the model is set to and its provider offers
    /// them, with summary questions on summarization. The one constructor
    /// of the CLI, the worker and the session.
    pub fn for_model(model: &ModelConfig, task: Task) -> ExtractOptions {
        ExtractOptions {
            logprobs: model.logprobs && model.provider.offers_logprobs(),
            summaries: task == Task::Summarization,
        }
    }
}

/// What a model run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Extracts the chosen model-based factors.
    Extract,
    /// Judges the dataset's pairs.
    Judge(JudgeOrder),
    /// Writes responses for (at most `inputs` of) the dataset's inputs.
    Writer { inputs: Option<usize> },
    /// Guided judging (METHOD.md §8): the dataset's pairs judged with no
    /// guidance, with `mis`, then with `rand`, one stage each (so each
    /// condition's run record is its own).
    Guide {
        order: JudgeOrder,
        mis: Guidance,
        rand: Option<Guidance>,
    },
    /// Feedback-driven improvement (METHOD.md §8) on (at most `inputs` of)
    /// the dataset's inputs: the evaluator judges the dataset's pairs (its
    /// judge agent), the writer writes two responses per input, the
    /// evaluator picks the better one with a justification, the writer
    /// writes the improved responses of every condition, and (when a chosen
    /// factor needs a model) the factors of every written text are
    /// extracted. One stage each; the evaluator's stages are marked
    /// [`Stage::evaluator`].
    Improve {
        inputs: Option<usize>,
        order: JudgeOrder,
    },
}

/// What an improvement run gives: the evaluator's judge outcome on the
/// dataset, the experiment's texts, its (initial, improved) pairs with their
/// factor values, and the run records of the writer and the evaluator.
pub struct Improved {
    /// The evaluator as a judge of the dataset's pairs, with its record.
    pub judge: Option<(JudgeOutcome, AgentRun)>,
    pub improvement: Improvement,
    pub pairs: ImprovedPairs,
    /// The model-based factors of `pairs` (`None`: none chosen or none to
    /// extract).
    pub values: Option<LlmValues>,
    /// The writer's calls (first responses and improvements), its factor
    /// extraction in `extraction`.
    pub writer: AgentRun,
    /// The evaluator's calls for feedback.
    pub evaluator: AgentRun,
    /// Inputs planned.
    pub planned: u64,
}

/// Where an improvement run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Judge,
    Drafts,
    Feedback,
    Revise,
    Factors,
}

/// Adds a stage's counts to a run record (the writer's two stages).
fn add_record(total: &mut AgentRun, stage: AgentRun) {
    if total.kind.is_empty() {
        *total = stage;
        return;
    }
    total.calls += stage.calls;
    total.cache_hits += stage.cache_hits;
    total.failed += stage.failed;
    total.input_tokens += stage.input_tokens;
    total.output_tokens += stage.output_tokens;
    total.failures.extend(stage.failures);
}

/// One condition of a guided-judging run: the guidance given (`None`: none),
/// the judge's outcome and its run record.
pub type GuidedJudge = (Option<Guidance>, JudgeOutcome, AgentRun);

/// One plan to answer.
#[derive(Clone, Debug)]
pub struct Stage {
    /// What it is, for progress lines and messages: `factors`, `judge`,
    /// `writer`.
    pub what: &'static str,
    pub plan: Plan,
    /// The pairs it is asked on (the writer's second stage: the generated ones).
    pub dataset: Rc<Dataset>,
    pub opts: ExtractOptions,
    /// What this stage may spend: the run's cap less what its earlier
    /// stages spent (`None`: no cap). The drivers keep it with
    /// [`Job::admit`](crate::llm::engine::Job::admit).
    pub cap: Option<CostCap>,
    /// Asked of the evaluator model (an improvement run's judge and
    /// feedback stages), else of the run's model.
    pub evaluator: bool,
}

/// What a finished run gives its edge.
// One per run, moved once: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// The extracted factor values, their record in `run`.
    Extract(LlmValues),
    Judge {
        outcome: JudgeOutcome,
        record: AgentRun,
    },
    /// The conditions of a guided-judging run, in the order asked (no
    /// guidance, GuideMis, GuideRand); a cancelled run gives those finished.
    Guide(Vec<GuidedJudge>),
    /// A feedback-driven improvement run (a cancelled run gives what it
    /// finished).
    Improve(Box<Improved>),
    Writer {
        generated: Generated,
        /// The model-based factors of the generated responses (`None`: none
        /// chosen, nothing generated, or the run was cancelled).
        values: Option<LlmValues>,
        /// Inputs the writer was asked about.
        planned: u64,
        record: AgentRun,
    },
}

/// Where a run is.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// An extraction or a judge not yet planned: it plans when its stage is
    /// first asked for, so that a run memo answers it with no plan
    /// ([`Workflow::answer_from_memo`]).
    Unplanned(Rc<Dataset>),
    /// The first stage is to be answered.
    First(Stage),
    /// The writer's generated pairs' factors are to be extracted.
    Second {
        stage: Stage,
        generated: Generated,
        planned: u64,
        record: AgentRun,
    },
    /// A guided-judging condition is to be answered, after `done`.
    Guided {
        stage: Stage,
        guidance: Option<Guidance>,
        done: Vec<GuidedJudge>,
    },
    /// An improvement run's stage `phase` is to be answered.
    Improve {
        stage: Stage,
        phase: Phase,
        run: Box<Improved>,
    },
    Done(Outcome),
    /// Handed out or taken.
    Empty,
}

/// A model run as a state machine: [`next_stage`](Workflow::next_stage) hands out the
/// plan to answer, [`answered`](Workflow::answered) takes its answers back,
/// [`finish`](Workflow::finish) gives the outcome.
pub struct Workflow {
    kind: Kind,
    task: Task,
    factors: Vec<Factor>,
    model: ModelConfig,
    /// The evaluator of an improvement run (else the run's model).
    evaluator: ModelConfig,
    opts: ExtractOptions,
    step: Step,
    /// Whether the current stage was handed out and not yet answered.
    asked: bool,
    /// The run's cost cap, and what its stages spent so far.
    cap: Option<CostCap>,
    spent_usd: f64,
    /// Whether a settled extraction or judge leaves its run memo
    /// ([`Workflow::take_memo`]).
    keep_memo: bool,
    memo: Option<Vec<u8>>,
}

/// What a run memo answered of a run ([`Workflow::answer_from_memo`]): the
/// stage's name, its plan's counts and the statistics of its re-run, for
/// the estimate and progress lines a stage answered by its stage memo
/// prints.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoStage {
    pub what: &'static str,
    pub shape: crate::llm::extract::PlanShape,
    pub stats: RunStats,
}

impl Workflow {
    /// A run of `kind` on `ds` with the task and factors of `cfg`.
    pub fn new(kind: Kind, ds: Rc<Dataset>, cfg: &ScoreConfig, model: &ModelConfig) -> Self {
        let factors = cfg.requested();
        let opts = ExtractOptions::for_model(model, cfg.task);
        let (what, plan) = match kind {
            Kind::Extract => ("factors", Plan::default()),
            Kind::Judge(_) => ("judge", Plan::default()),
            Kind::Writer { inputs } => ("writer", roles::generate_plan(&ds, cfg.task, inputs)),
            Kind::Guide { order, .. } => (
                "judge, no guidance",
                roles::judge_plan(&ds, cfg.task, order),
            ),
            Kind::Improve { order, .. } => {
                ("evaluator, judge", roles::judge_plan(&ds, cfg.task, order))
            }
        };
        let first = Stage {
            what,
            plan,
            dataset: ds.clone(),
            opts,
            cap: None,
            evaluator: matches!(kind, Kind::Improve { .. }),
        };
        let step = match kind {
            Kind::Guide { .. } => Step::Guided {
                stage: first,
                guidance: None,
                done: Vec::new(),
            },
            Kind::Improve { inputs, .. } => {
                let improvement = Improvement::new(&ds, cfg.task, inputs);
                let planned = improvement.inputs.len() as u64;
                Step::Improve {
                    stage: first,
                    phase: Phase::Judge,
                    run: Box::new(Improved {
                        judge: None,
                        improvement,
                        pairs: ImprovedPairs::default(),
                        values: None,
                        writer: AgentRun::default(),
                        evaluator: AgentRun::default(),
                        planned,
                    }),
                }
            }
            Kind::Extract | Kind::Judge(_) => Step::Unplanned(ds),
            _ => Step::First(first),
        };
        Workflow {
            kind,
            task: cfg.task,
            factors,
            model: model.clone(),
            evaluator: model.clone(),
            opts,
            step,
            asked: false,
            cap: None,
            spent_usd: 0.0,
            keep_memo: false,
            memo: None,
        }
    }

    /// Plans an extraction or a judge not yet planned.
    fn plan(&mut self) {
        if let Step::Unplanned(ds) = &self.step {
            let dataset = ds.clone();
            let (what, plan) = match self.kind {
                Kind::Judge(order) => ("judge", roles::judge_plan(&dataset, self.task, order)),
                _ => ("factors", Plan::new(&dataset, &self.factors, self.opts)),
            };
            self.step = Step::First(Stage {
                what,
                plan,
                dataset,
                opts: self.opts,
                cap: None,
                evaluator: false,
            });
        }
    }

    /// The key of the run memo that would answer this run before it plans
    /// (a factor extraction not yet asked, see [`crate::llm::memo::run_key`];
    /// a judge not yet asked, [`crate::llm::memo::judge_run_key`]), by the
    /// binary `build`; `None` for any other run.
    pub fn memo_key(&self, build: &str) -> Option<crate::llm::cache::Digest> {
        let Step::Unplanned(ds) = &self.step else {
            return None;
        };
        match self.kind {
            Kind::Judge(order) => Some(crate::llm::memo::judge_run_key(
                ds,
                self.task,
                order,
                self.opts,
                &self.model,
                build,
            )),
            _ => crate::llm::memo::run_memo_fits(&self.factors).then(|| {
                crate::llm::memo::run_key(&self.factors, ds, self.opts, &self.model, build)
            }),
        }
    }

    /// Ends a run not yet planned with the run memo `bytes` (read under
    /// [`memo_key`](Workflow::memo_key)): an extraction's factor values, a
    /// judge's outcome and record, with no plan, no question and no call.
    /// `None` (and the run as it was) when they are not an intact run memo
    /// of this run.
    pub fn answer_from_memo(&mut self, bytes: Vec<u8>) -> Option<MemoStage> {
        let Step::Unplanned(ds) = &self.step else {
            return None;
        };
        if let Kind::Judge(order) = self.kind {
            let memo = crate::llm::memo::decode_judge_run(&bytes, order, ds.pairs.len())?;
            let outcome = roles::outcome_of_verdicts(ds, order, &memo.verdicts);
            let record = RunInfo {
                model: &self.model,
                stats: &memo.stats,
                failures: &[],
            }
            .record("judge");
            self.spent_usd += memo.stats.spent_usd;
            self.step = Step::Done(Outcome::Judge { outcome, record });
            return Some(MemoStage {
                what: "judge",
                shape: memo.shape,
                stats: memo.stats,
            });
        }
        let (values, memo) = crate::llm::memo::decode_run(bytes, &self.factors, self.opts)?;
        let run = crate::analysis::llm_run_record_of(
            ds,
            memo.shape,
            &self.model,
            self.opts,
            &memo.stats,
            &[],
            memo.naive_calls,
        );
        self.spent_usd += memo.stats.spent_usd;
        self.step = Step::Done(Outcome::Extract(LlmValues {
            answers: Answers::from_memo(values),
            options: self.opts,
            run: Some(run),
            imported: Default::default(),
            model: Some(self.model.clone()),
        }));
        Some(MemoStage {
            what: "factors",
            shape: memo.shape,
            stats: memo.stats,
        })
    }

    /// The run keeps the run memo of a settled extraction or judge, for
    /// [`take_memo`](Workflow::take_memo).
    pub fn keeping_memo(mut self) -> Self {
        self.keep_memo = true;
        self
    }

    /// The run memo of the settled extraction or judge this run answered,
    /// once.
    pub fn take_memo(&mut self) -> Option<Vec<u8>> {
        self.memo.take()
    }

    /// What a stage handed out now may spend.
    pub fn stage_cap(&self) -> Option<CostCap> {
        self.cap.map(|c| c.after(self.spent_usd))
    }

    /// The run under a cost cap: no stage spends past it, and a stage that
    /// stops at it ends the run.
    pub fn with_cap(mut self, cap: Option<CostCap>) -> Self {
        self.cap = cap;
        self
    }

    /// What the run's stages spent so far, under a cap (US dollars).
    pub fn spent_usd(&self) -> f64 {
        self.spent_usd
    }

    /// An improvement run's evaluator (by default the run's model).
    pub fn with_evaluator(mut self, evaluator: &ModelConfig) -> Self {
        self.evaluator = evaluator.clone();
        self
    }

    /// The first stage's plan (for an estimate before the run).
    pub fn first(&mut self) -> Option<&Stage> {
        self.plan();
        match &self.step {
            Step::First(s) => Some(s),
            Step::Improve {
                stage,
                phase: Phase::Judge,
                ..
            } => Some(stage),
            Step::Guided { stage, done, .. } if done.is_empty() => Some(stage),
            _ => None,
        }
    }

    /// The next plan to answer; `None` when the run is over.
    pub fn next_stage(&mut self) -> Option<Stage> {
        self.plan();
        let mut stage = match &self.step {
            Step::First(s)
            | Step::Second { stage: s, .. }
            | Step::Guided { stage: s, .. }
            | Step::Improve { stage: s, .. } => s.clone(),
            _ => return None,
        };
        stage.cap = self.stage_cap();
        self.asked = true;
        Some(stage)
    }

    /// The answers to the stage [`next_stage`](Workflow::next_stage) handed out, with
    /// the counts and failures of its run. A cancelled run, or one stopped at
    /// its cost cap, asks no further stage.
    pub fn answered(&mut self, answers: Answers, stats: &RunStats, failures: &[FailedItem]) {
        if !self.asked {
            return;
        }
        self.asked = false;
        self.spent_usd += stats.spent_usd;
        let record = |kind: &str| {
            RunInfo {
                model: &self.model,
                stats,
                failures,
            }
            .record(kind)
        };
        let evaluator_record = |kind: &str| {
            RunInfo {
                model: &self.evaluator,
                stats,
                failures,
            }
            .record(kind)
        };
        self.step = match std::mem::replace(&mut self.step, Step::Empty) {
            Step::First(stage) => match self.kind {
                Kind::Extract => {
                    let values = self.values(&stage, answers, stats, failures);
                    if self.keep_memo {
                        self.memo = crate::llm::memo::encode_run(
                            &stage.plan,
                            &stage.dataset,
                            &self.factors,
                            stage.opts,
                            &values.answers,
                            stats,
                            values.run.as_ref().map_or(0.0, |r| r.naive_calls),
                        );
                    }
                    Step::Done(Outcome::Extract(values))
                }
                Kind::Judge(order) => {
                    if self.keep_memo {
                        self.memo = crate::llm::memo::encode_judge_run(
                            &stage.plan,
                            &stage.dataset,
                            self.task,
                            order,
                            &answers,
                            stats,
                        );
                    }
                    Step::Done(Outcome::Judge {
                        outcome: roles::judge_outcome(&stage.dataset, self.task, order, &answers),
                        record: record("judge"),
                    })
                }
                Kind::Writer { .. } => {
                    let generated = roles::generated_dataset(&stage.dataset, &stage.plan, &answers);
                    let planned = stage.plan.first.len() as u64;
                    let record = record("writer");
                    if self.factors.iter().any(|f| f.needs_model())
                        && !generated.dataset.pairs.is_empty()
                        && !stats.cancelled
                        && !stats.cap_reached
                    {
                        let dataset = Rc::new(generated.dataset.clone());
                        let plan = Plan::new(&dataset, &self.factors, self.opts);
                        Step::Second {
                            stage: Stage {
                                what: "factors",
                                plan,
                                dataset,
                                opts: self.opts,
                                cap: None,
                                evaluator: false,
                            },
                            generated,
                            planned,
                            record,
                        }
                    } else {
                        Step::Done(Outcome::Writer {
                            generated,
                            values: None,
                            planned,
                            record,
                        })
                    }
                }
                Kind::Guide { .. } | Kind::Improve { .. } => {
                    unreachable!("a guided or improvement run has its own stages")
                }
            },
            Step::Improve {
                stage,
                phase,
                mut run,
            } => {
                let order = match self.kind {
                    Kind::Improve { order, .. } => order,
                    _ => unreachable!("an improvement stage belongs to an improvement run"),
                };
                let next = match phase {
                    Phase::Judge => {
                        run.judge = Some((
                            roles::judge_outcome(&stage.dataset, self.task, order, &answers),
                            evaluator_record("judge"),
                        ));
                        Phase::Drafts
                    }
                    Phase::Drafts => {
                        run.improvement.take_drafts(&answers);
                        add_record(&mut run.writer, record("improve"));
                        Phase::Feedback
                    }
                    Phase::Feedback => {
                        run.improvement.take_feedback(&answers);
                        run.evaluator = evaluator_record("evaluator");
                        Phase::Revise
                    }
                    Phase::Revise => {
                        run.improvement.take_revisions(&answers);
                        add_record(&mut run.writer, record("improve"));
                        run.pairs = run.improvement.pairs();
                        Phase::Factors
                    }
                    Phase::Factors => {
                        run.values = Some(self.values(&stage, answers, stats, failures));
                        Phase::Factors
                    }
                };
                let work = || Rc::new(run.improvement.dataset.clone());
                let stage = match next {
                    _ if stats.cancelled || stats.cap_reached || phase == Phase::Factors => None,
                    Phase::Drafts => Some((
                        "writer, first responses",
                        run.improvement.draft_plan(),
                        work(),
                        false,
                    )),
                    Phase::Feedback => Some((
                        "evaluator, feedback",
                        run.improvement.feedback_plan(),
                        work(),
                        true,
                    )),
                    Phase::Revise => Some((
                        "writer, improved responses",
                        run.improvement.revise_plan(),
                        work(),
                        false,
                    )),
                    Phase::Factors => {
                        let needs = self.factors.iter().any(|f| f.needs_model())
                            && !run.pairs.dataset.pairs.is_empty();
                        needs.then(|| {
                            let ds = Rc::new(run.pairs.dataset.clone());
                            (
                                "factors",
                                Plan::new(&ds, &self.factors, self.opts),
                                ds,
                                false,
                            )
                        })
                    }
                    Phase::Judge => None,
                };
                match stage {
                    Some((what, plan, dataset, evaluator)) => Step::Improve {
                        stage: Stage {
                            what,
                            plan,
                            dataset,
                            opts: self.opts,
                            cap: None,
                            evaluator,
                        },
                        phase: next,
                        run,
                    },
                    None => Step::Done(Outcome::Improve(run)),
                }
            }
            Step::Guided {
                stage,
                guidance,
                mut done,
            } => {
                let Kind::Guide { order, mis, rand } = self.kind else {
                    unreachable!("a guided stage belongs to a guided run")
                };
                let outcome = roles::guided_judge_outcome(
                    &stage.dataset,
                    self.task,
                    order,
                    guidance,
                    &answers,
                );
                done.push((guidance, outcome, record("judge")));
                let next = match guidance {
                    None => Some((Some(mis), "judge, GuideMis")),
                    Some(g) if g == mis => rand.map(|r| (Some(r), "judge, GuideRand")),
                    Some(_) => None,
                };
                match next {
                    Some((guidance, what)) if !stats.cancelled && !stats.cap_reached => {
                        Step::Guided {
                            stage: Stage {
                                what,
                                plan: roles::guided_judge_plan(
                                    &stage.dataset,
                                    self.task,
                                    order,
                                    &[guidance],
                                ),
                                dataset: stage.dataset,
                                opts: stage.opts,
                                cap: None,
                                evaluator: false,
                            },
                            guidance,
                            done,
                        }
                    }
                    _ => Step::Done(Outcome::Guide(done)),
                }
            }
            Step::Second {
                stage,
                generated,
                planned,
                record,
            } => Step::Done(Outcome::Writer {
                values: Some(self.values(&stage, answers, stats, failures)),
                generated,
                planned,
                record,
            }),
            other => other,
        };
    }

    /// A stage's answers as factor values, with their record.
    fn values(
        &self,
        stage: &Stage,
        answers: Answers,
        stats: &RunStats,
        failures: &[FailedItem],
    ) -> LlmValues {
        let run = llm_run_record(
            &stage.dataset,
            &self.factors,
            &stage.plan,
            &self.model,
            stage.opts,
            stats,
            failures,
            &answers,
        );
        LlmValues {
            answers,
            options: stage.opts,
            run: Some(run),
            imported: Default::default(),
            model: Some(self.model.clone()),
        }
    }

    /// The outcome; `None` while a stage is still to be answered.
    pub fn finish(self) -> Option<Outcome> {
        match self.step {
            Step::Done(o) => Some(o),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_bytes, FormatOptions};
    use crate::llm::provider::Provider;

    fn setup() -> (Rc<Dataset>, ScoreConfig, ModelConfig) {
        let lines: Vec<String> = (0..3)
            .map(|i| {
                serde_json::json!({"input": format!("Q{i}?"), "response_a": format!("A {i}. More."), "response_b": format!("B {i}."), "preference": "a"})
                    .to_string()
            })
            .collect();
        let ds = load_bytes(lines.join("\n").as_bytes(), FormatOptions::default()).unwrap();
        let cfg = ScoreConfig {
            task: Task::Helpful,
            factors: Some(vec![Factor::Length, Factor::NFacts]),
            bootstrap: Default::default(),
        };
        (Rc::new(ds), cfg, ModelConfig::new(Provider::OpenAi, "m"))
    }

    #[test]
    fn a_guided_run_asks_one_stage_per_condition_and_stops_when_cancelled() {
        let (ds, cfg, model) = setup();
        let g = |factor| Guidance { factor, over: true };
        let kind = Kind::Guide {
            order: JudgeOrder::Both,
            mis: g(Factor::Length),
            rand: Some(g(Factor::NFacts)),
        };
        let mut wf = Workflow::new(kind, ds.clone(), &cfg, &model);
        assert_eq!(wf.first().unwrap().what, "judge, no guidance");
        let mut seen = Vec::new();
        while let Some(stage) = wf.next_stage() {
            assert_eq!(stage.plan.len(), 6, "3 pairs in both orders");
            seen.push((stage.what, stage.plan.first[0]));
            let stats = RunStats {
                calls: 6,
                ..Default::default()
            };
            wf.answered(Answers::default(), &stats, &[]);
        }
        let whats: Vec<&str> = seen.iter().map(|s| s.0).collect();
        assert_eq!(
            whats,
            ["judge, no guidance", "judge, GuideMis", "judge, GuideRand"]
        );
        assert!(
            seen[0].1 != seen[1].1 && seen[1].1 != seen[2].1,
            "each asks its own questions"
        );
        let Some(Outcome::Guide(runs)) = wf.finish() else {
            panic!("no guided outcome")
        };
        let guidances: Vec<_> = runs.iter().map(|r| r.0).collect();
        assert_eq!(
            guidances,
            [None, Some(g(Factor::Length)), Some(g(Factor::NFacts))]
        );
        assert!(
            runs.iter().all(|r| r.2.calls == 6),
            "each condition its own record"
        );
        // Cancelled during GuideMis: no GuideRand stage, the finished conditions kept.
        let mut wf = Workflow::new(kind, ds, &cfg, &model);
        wf.next_stage();
        wf.answered(Answers::default(), &RunStats::default(), &[]);
        wf.next_stage();
        let cancelled = RunStats {
            cancelled: true,
            ..Default::default()
        };
        wf.answered(Answers::default(), &cancelled, &[]);
        assert!(wf.next_stage().is_none());
        let Some(Outcome::Guide(runs)) = wf.finish() else {
            panic!("no guided outcome")
        };
        assert_eq!(runs.len(), 2);
    }

    #[test]
    fn an_improvement_run_asks_its_stages_of_the_right_model_and_stops_when_cancelled() {
        use crate::llm::question::{Answer, Verdict};
        let (ds, cfg, model) = setup();
        let evaluator = ModelConfig::new(Provider::OpenAi, "e");
        let kind = Kind::Improve {
            inputs: Some(2),
            order: JudgeOrder::Both,
        };
        let mut wf = Workflow::new(kind, ds.clone(), &cfg, &model).with_evaluator(&evaluator);
        let mut seen = Vec::new();
        while let Some(stage) = wf.next_stage() {
            seen.push((stage.what, stage.evaluator, stage.plan.len()));
            let mut answers = Answers::default();
            for (k, q) in stage.plan.first.iter().enumerate() {
                let a = match (stage.what, q) {
                    ("writer, first responses", _) => Answer::Generations {
                        generations: vec![format!("one {k}"), format!("two words {k}")],
                    },
                    ("evaluator, feedback", _) => Answer::Verdict {
                        verdict: Verdict {
                            better: "1".into(),
                            justification: format!("why {k}"),
                        },
                    },
                    ("writer, improved responses", _) => Answer::Generations {
                        generations: vec![format!("improved {k} with more words")],
                    },
                    _ => continue,
                };
                answers.insert(*q, a);
            }
            let stats = RunStats {
                calls: stage.plan.len() as u64,
                ..Default::default()
            };
            wf.answered(answers, &stats, &[]);
        }
        assert_eq!(
            seen,
            [
                ("evaluator, judge", true, 6),
                ("writer, first responses", false, 2),
                ("evaluator, feedback", true, 2),
                ("writer, improved responses", false, 8),
                // n_facts needs a model: the facts of the 12 texts written
                // (2 first responses and 4 improved ones per input) are
                // extracted.
                ("factors", false, 12),
            ]
        );
        let Some(Outcome::Improve(run)) = wf.finish() else {
            panic!("no improvement outcome")
        };
        assert_eq!(run.planned, 2);
        assert_eq!(run.pairs.dataset.pairs.len(), 12, "6 pairs per input");
        assert_eq!(run.pairs.source_clusters, [0, 1]);
        assert_eq!((run.writer.calls, run.writer.model.as_str()), (10, "m"));
        assert_eq!(
            (run.evaluator.calls, run.evaluator.model.as_str()),
            (2, "e")
        );
        let judge = run.judge.as_ref().unwrap();
        assert_eq!(judge.1.model, "e");
        assert!(run.values.is_some());
        // Cancelled during the first responses: no further stage.
        let mut wf = Workflow::new(kind, ds, &cfg, &model);
        wf.next_stage();
        wf.answered(Answers::default(), &RunStats::default(), &[]);
        wf.next_stage();
        let cancelled = RunStats {
            cancelled: true,
            ..Default::default()
        };
        wf.answered(Answers::default(), &cancelled, &[]);
        assert!(wf.next_stage().is_none());
        assert!(matches!(wf.finish(), Some(Outcome::Improve(_))));
    }

    #[test]
    fn each_kind_hands_out_its_stages_and_gives_its_outcome() {
        let (ds, cfg, model) = setup();
        // An extraction: one stage, its values with their record.
        let mut wf = Workflow::new(Kind::Extract, ds.clone(), &cfg, &model);
        let stage = wf.next_stage().unwrap();
        assert_eq!((stage.what, stage.plan.len()), ("factors", 6));
        assert_eq!(stage.opts, ExtractOptions::for_model(&model, Task::Helpful));
        // Answers for a stage not handed out are ignored.
        let mut other = Workflow::new(Kind::Extract, ds.clone(), &cfg, &model);
        other.answered(Answers::default(), &RunStats::default(), &[]);
        assert!(other.finish().is_none());
        wf.answered(Answers::default(), &RunStats::default(), &[]);
        assert!(wf.next_stage().is_none());
        let Some(Outcome::Extract(v)) = wf.finish() else {
            panic!("no values")
        };
        assert_eq!(
            (v.run.unwrap().unique_responses, v.options),
            (6, stage.opts)
        );
        // A judge not yet answered has no outcome.
        let mut wf = Workflow::new(Kind::Judge(JudgeOrder::Both), ds.clone(), &cfg, &model);
        assert_eq!(wf.first().unwrap().plan.len(), 6, "3 pairs in both orders");
        assert_eq!(wf.next_stage().unwrap().what, "judge");
        assert!(wf.finish().is_none());
        // A writer that wrote nothing asks no second stage.
        let mut wf = Workflow::new(Kind::Writer { inputs: Some(2) }, ds, &cfg, &model);
        assert_eq!(wf.next_stage().unwrap().what, "writer");
        wf.answered(Answers::default(), &RunStats::default(), &[]);
        assert!(wf.next_stage().is_none());
        let Some(Outcome::Writer {
            values,
            planned,
            record,
            ..
        }) = wf.finish()
        else {
            panic!("no writer outcome")
        };
        assert_eq!(
            (values.is_none(), planned, record.kind.as_str()),
            (true, 2, "writer")
        );
    }

    #[test]
    fn an_extraction_answered_by_its_run_memo_never_plans() {
        use crate::llm::question::Answer;
        let (ds, cfg, model) = setup();
        let mut wf = Workflow::new(Kind::Extract, ds.clone(), &cfg, &model).keeping_memo();
        let key = wf.memo_key("b").expect("an extraction has a run memo key");
        assert_ne!(Some(key), wf.memo_key("c"), "a key per build");
        let stage = wf.next_stage().unwrap();
        assert!(
            wf.memo_key("b").is_none(),
            "a planned run is not answered by a memo"
        );
        let mut answers = Answers::default();
        for (i, q) in stage.plan.first.iter().enumerate() {
            let facts = (0..=i % 3).map(|k| format!("fact {k}")).collect();
            answers.insert(*q, Answer::Facts(facts));
        }
        let stats = RunStats {
            questions: stage.plan.len() as u64,
            succeeded: stage.plan.len() as u64,
            calls: stage.plan.len() as u64,
            templates: ["facts@1".to_owned()].into_iter().collect(),
            ..Default::default()
        };
        wf.answered(answers, &stats, &[]);
        let bytes = wf
            .take_memo()
            .expect("a settled extraction leaves its run memo");
        assert!(wf.take_memo().is_none(), "once");
        let Some(Outcome::Extract(cold)) = wf.finish() else {
            panic!("no values")
        };
        // The re-run: the memo answers before any plan.
        let mut again = Workflow::new(Kind::Extract, ds.clone(), &cfg, &model);
        assert_eq!(again.memo_key("b"), Some(key));
        let hit = again
            .answer_from_memo(bytes.clone())
            .expect("the memo answers");
        assert_eq!((hit.what, hit.shape), ("factors", stage.plan.shape()));
        assert_eq!(hit.stats.cache_hits, stage.plan.len() as u64);
        assert!(again.next_stage().is_none(), "nothing is asked");
        let Some(Outcome::Extract(memo)) = again.finish() else {
            panic!("no values")
        };
        assert!(memo.answers.is_memo() && !memo.answers.memo_decoded());
        for p in &ds.pairs {
            for t in [p.a, p.b] {
                let want = cold.answers.value(Factor::NFacts, p, t, cold.options);
                assert!(want.is_some());
                assert_eq!(memo.answers.value(Factor::NFacts, p, t, memo.options), want);
            }
        }
        assert!(!memo.answers.memo_decoded(), "values need no answer");
        // The record of a re-run: every answer a cache hit, no call.
        let mut want = cold.run.clone().expect("a record");
        (want.calls, want.cache_hits) = (0, stage.plan.len() as u64);
        assert_eq!(memo.run, Some(want));
        assert_eq!((memo.options, memo.model), (cold.options, cold.model));
        // A damaged memo leaves the run as it was: it plans and asks.
        let mut third = Workflow::new(Kind::Extract, ds, &cfg, &model);
        assert!(third.answer_from_memo(bytes[1..].to_vec()).is_none());
        assert_eq!(third.next_stage().expect("a stage").plan, stage.plan);
    }

    #[test]
    fn a_judge_answered_by_its_run_memo_never_plans() {
        use crate::llm::question::{Answer, Verdict};
        let (ds, cfg, model) = setup();
        for order in [JudgeOrder::Both, JudgeOrder::Single { seed: 3 }] {
            let kind = Kind::Judge(order);
            let mut wf = Workflow::new(kind, ds.clone(), &cfg, &model).keeping_memo();
            let key = wf.memo_key("b").expect("a judge has a run memo key");
            assert_ne!(Some(key), wf.memo_key("c"), "a key per build");
            let stage = wf.next_stage().unwrap();
            assert_eq!(stage.what, "judge");
            assert!(wf.memo_key("b").is_none(), "a planned run is not");
            let mut answers = Answers::default();
            for (i, q) in stage.plan.first.iter().enumerate() {
                let better = ["1", "2", "tie"][i % 3];
                answers.insert(
                    *q,
                    Answer::Verdict {
                        verdict: Verdict {
                            better: better.into(),
                            justification: format!("why {i}"),
                        },
                    },
                );
            }
            let stats = RunStats {
                questions: stage.plan.len() as u64,
                succeeded: stage.plan.len() as u64,
                calls: stage.plan.len() as u64,
                input_tokens: 100,
                templates: ["judge_helpful@1".to_owned()].into_iter().collect(),
                ..Default::default()
            };
            wf.answered(answers.clone(), &stats, &[]);
            let bytes = wf.take_memo().expect("a settled judge leaves its run memo");
            assert!(wf.take_memo().is_none(), "once");
            let Some(Outcome::Judge { outcome: cold, .. }) = wf.finish() else {
                panic!("no outcome")
            };
            // The re-run: the memo answers before any plan, as a stage memo's
            // re-run would (every answer a cache hit, no call).
            let mut again = Workflow::new(kind, ds.clone(), &cfg, &model);
            assert_eq!(again.memo_key("b"), Some(key));
            let hit = again
                .answer_from_memo(bytes.clone())
                .expect("the memo answers");
            assert_eq!((hit.what, hit.shape), ("judge", stage.plan.shape()));
            assert!(again.next_stage().is_none(), "nothing is asked");
            let Some(Outcome::Judge { outcome, record }) = again.finish() else {
                panic!("no outcome")
            };
            assert_eq!(outcome, cold);
            let rerun = RunStats {
                questions: stage.plan.len() as u64,
                cache_hits: stage.plan.len() as u64,
                templates: stats.templates.clone(),
                ..Default::default()
            };
            assert_eq!(hit.stats, rerun);
            let want = RunInfo {
                model: &model,
                stats: &rerun,
                failures: &[],
            }
            .record("judge");
            assert_eq!(record, want);
            // A damaged memo, or one of another order, leaves the run as it
            // was: it plans and asks.
            let mut third = Workflow::new(kind, ds.clone(), &cfg, &model);
            assert!(third.answer_from_memo(bytes[1..].to_vec()).is_none());
            let other = match order {
                JudgeOrder::Both => JudgeOrder::Single { seed: 3 },
                JudgeOrder::Single { .. } => JudgeOrder::Both,
            };
            let mut fourth = Workflow::new(Kind::Judge(other), ds.clone(), &cfg, &model);
            assert!(fourth.answer_from_memo(bytes).is_none());
            assert_eq!(third.next_stage().expect("a stage").plan, stage.plan);
        }
    }
}
