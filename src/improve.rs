//! Feedback-driven improvement (METHOD.md §8, the paper's RQ3): for each
//! input the writer writes two responses, the evaluator picks the better one
//! (or a tie) and justifies it, and the writer writes an improved response
//! from both and the feedback. Baselines: improved from both without
//! feedback (`both`), and each response improved alone without feedback
//! (`single`, two improved responses).
//!
//! Each condition becomes an agent in the **improvement setting** (METHOD.md
//! §1–2): every (initial, improved) pair with the improved response
//! preferred, factor ties counted in T. Its factor scores are correlated
//! (Kendall τ_b, paired cluster-bootstrap interval over the inputs) with the
//! humans' and with the evaluator's, whose judge agent on the dataset is run
//! in the same workflow (`workflow::Kind::Improve`; cached when `profile
//! judge` ran before).
//!
//! Pure: [`improvement_report`] turns a finished run ([`Improved`]) into the
//! agents and the report's `improvement` section, for the CLI and the worker.

use crate::agents::{improvement_agent, judge_agent, judge_side, HumanSide};
use crate::analysis::{LlmValues, ScoreConfig};
use crate::data::Dataset;
use crate::llm::roles::{Condition, Improvement};
use crate::report::{Agent, Alignment, ImprovementCondition, ImprovementItem, ImprovementSection};
use crate::stats::MIN_INPUTS_FOR_INTERVALS;
use crate::workflow::Improved;

/// Below this many factors correlated, a τ means little.
pub const MIN_FACTORS_FOR_TAU: usize = 5;

/// What an improvement run adds to a report.
pub struct ImproveResult {
    /// The evaluator as a judge of the dataset's pairs (added to the report
    /// when it has no agent of that name).
    pub judge: (Agent, Alignment),
    /// One agent per condition with pairs, with its alignment with the humans.
    pub agents: Vec<(Agent, Alignment)>,
    pub section: ImprovementSection,
}

/// The name of a condition's agent.
pub fn agent_name(writer: &str, c: Condition) -> String {
    format!("{writer} (improved, {})", c.id())
}

/// The questions the experiment asks (first responses, feedback, improved
/// responses), as the run went: 1 for an input without first responses,
/// else 6 (5 when the evaluator gave no verdict, one fewer when the two
/// first responses are the same text, whose single improvements are then
/// one question). Counted from the stages' plans, so it is what they ask.
pub fn questions(improvement: &Improvement) -> u64 {
    [
        improvement.draft_plan(),
        improvement.feedback_plan(),
        improvement.revise_plan(),
    ]
    .iter()
    .map(|p| p.len() as u64)
    .sum()
}

/// The agents and the `improvement` section of a finished run on `ds`
/// (`values`: the model-based factors of `ds`, for the human and judge
/// sides).
///
/// # Errors
/// The evaluator's verdicts on the dataset are missing (a cancelled run).
pub fn improvement_report(
    ds: &Dataset,
    cfg: &ScoreConfig,
    values: Option<&LlmValues>,
    run: &Improved,
    human: &HumanSide,
) -> Result<ImproveResult, String> {
    let Some((outcome, record)) = &run.judge else {
        return Err("the evaluator did not judge the dataset's pairs".into());
    };
    let judge = judge_agent(ds, cfg, values, outcome, record.clone(), human);
    let evaluator_name = judge.0.name.clone();
    let evaluator = judge_side(ds, cfg, values, outcome);
    let writer = run.writer.model.clone();
    let mut agents = Vec::new();
    let mut conditions = Vec::new();
    for c in Condition::ALL {
        let pairs = run.pairs.of(c);
        if pairs.pairs.is_empty() {
            continue;
        }
        let mut inputs: Vec<u32> = pairs.pairs.iter().map(|p| p.cluster).collect();
        inputs.dedup();
        let mut rec = run.writer.clone();
        rec.kind = "improve".into();
        rec.items = inputs.len() as u64;
        rec.items_planned = run.planned;
        rec.generated_pairs = Some(pairs.pairs.len() as u64);
        rec.extraction = run.values.as_ref().and_then(|v| v.run.clone());
        let (agent, alignment, vs_evaluator) = improvement_agent(
            agent_name(&writer, c),
            &pairs,
            &run.pairs.source_clusters,
            ds.n_clusters,
            cfg,
            run.values.as_ref(),
            rec,
            human,
            &evaluator,
            &evaluator_name,
        );
        conditions.push(ImprovementCondition {
            condition: c.id().into(),
            agent: agent.name.clone(),
            inputs: inputs.len() as u64,
            pairs: pairs.pairs.len() as u64,
            kendall_tau_human: alignment.kendall_tau,
            kendall_tau_human_ci95: alignment.kendall_tau_ci95,
            n_factors_human: alignment.n_factors,
            kendall_tau_evaluator: vs_evaluator.kendall_tau,
            kendall_tau_evaluator_ci95: vs_evaluator.kendall_tau_ci95,
            n_factors_evaluator: vs_evaluator.n_factors,
            evaluator_alignment: vs_evaluator,
        });
        agents.push((agent, alignment));
    }
    let inputs = run.pairs.source_clusters.len() as u64;
    let too_few = inputs < MIN_INPUTS_FOR_INTERVALS
        || conditions
            .iter()
            .any(|c| c.n_factors_human.min(c.n_factors_evaluator) < MIN_FACTORS_FOR_TAU);
    let questions_per_input =
        (run.planned > 0).then(|| questions(&run.improvement) as f64 / run.planned as f64);
    let section = ImprovementSection {
        writer,
        evaluator: evaluator_name,
        inputs_planned: run.planned,
        inputs,
        questions_per_input,
        calls: run.writer.calls + run.evaluator.calls,
        cache_hits: run.writer.cache_hits + run.evaluator.cache_hits,
        failed: run.writer.failed + run.evaluator.failed,
        judge_calls: record.calls,
        too_few: too_few || conditions.is_empty(),
        conditions,
        items: items(ds, &run.improvement),
        failures: run
            .writer
            .failures
            .iter()
            .chain(&run.evaluator.failures)
            .cloned()
            .collect(),
    };
    Ok(ImproveResult {
        judge,
        agents,
        section,
    })
}

/// Every input's texts, for reading.
fn items(ds: &Dataset, imp: &Improvement) -> Vec<ImprovementItem> {
    let text = |t| imp.dataset.text(t).to_owned();
    imp.inputs
        .iter()
        .map(|i| ImprovementItem {
            line: ds
                .pairs
                .iter()
                .find(|p| p.cluster == i.cluster)
                .map_or(0, |p| p.line),
            responses: i.drafts.map(|d| d.map(text).to_vec()).unwrap_or_default(),
            better: i.feedback.map(|f| {
                match f.better {
                    1 => "1",
                    2 => "2",
                    _ => "tie",
                }
                .to_owned()
            }),
            justification: i.feedback.map(|f| text(f.justification)),
            improved_feedback: i.with_feedback.map(text),
            improved_both: i.from_both.map(text),
            improved_single: if i.drafts.is_some() {
                i.from_single.iter().map(|t| t.map(text)).collect()
            } else {
                Vec::new()
            },
        })
        .collect()
}

/// Plain-language lines on the result (true of the numbers beside them,
/// also on too few inputs or factors).
pub fn describe(section: &ImprovementSection) -> Vec<String> {
    let mut out = vec![format!(
        "Feedback-driven improvement, writer {}, evaluator {}: {} of {} inputs with two first \
responses; {:.1} questions per input, {} calls this run, {} cached, {} failed (and {} calls \
of the evaluator judging the pairs)",
        section.writer,
        section.evaluator,
        section.inputs,
        section.inputs_planned,
        section.questions_per_input.unwrap_or(0.0),
        section.calls,
        section.cache_hits,
        section.failed,
        section.judge_calls
    )];
    let tau = |t: Option<f64>, ci: Option<[f64; 2]>, n: usize| match (t, ci) {
        (Some(t), Some([lo, hi])) => format!("{t:+.3} [{lo:+.3}, {hi:+.3}] over {n} factors"),
        (Some(t), None) => format!("{t:+.3} (no interval) over {n} factors"),
        (None, _) => format!("none ({n} factors scored by both)"),
    };
    for c in &section.conditions {
        out.push(format!(
            "  {:<8} τ with humans {}; with the evaluator {}  ({} pairs, {} inputs; {})",
            c.condition,
            tau(
                c.kendall_tau_human,
                c.kendall_tau_human_ci95,
                c.n_factors_human
            ),
            tau(
                c.kendall_tau_evaluator,
                c.kendall_tau_evaluator_ci95,
                c.n_factors_evaluator
            ),
            c.pairs,
            c.inputs,
            c.agent
        ));
    }
    if section.conditions.is_empty() {
        out.push("  No condition has an (initial, improved) pair: nothing to score.".into());
    } else if section.too_few {
        out.push(format!(
            "  Too few to mean much ({} inputs, fewer than {MIN_INPUTS_FOR_INTERVALS}, or fewer \
than {MIN_FACTORS_FOR_TAU} factors correlated): read the τ values as a trial run, not a result.",
            section.inputs
        ));
    }
    out
}

/// The experiment's stages whose every question failed, one located line
/// each: the stage with its model, how many questions failed and what is
/// missing because of it (empty: no such stage). `profile improve` stops on
/// such a stage; the app shows these lines above the failures' reasons. A
/// stage counts only when it has failed questions (`failures`' templates)
/// and no answer: a run cancelled before a stage is not a failure of it.
pub fn stopped(section: &ImprovementSection) -> Vec<String> {
    let failed = |template: &str| {
        section
            .failures
            .iter()
            .filter(|f| {
                f["template"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(template))
            })
            .count()
    };
    let n = section.items.len();
    let drafted: Vec<&ImprovementItem> = section
        .items
        .iter()
        .filter(|i| !i.responses.is_empty())
        .collect();
    let mut out = Vec::new();
    let drafts_failed = failed("improve_draft@");
    if drafted.is_empty() {
        if drafts_failed > 0 {
            out.push(format!(
                "writer {}, first responses: every question failed — {drafts_failed} failed, none \
of the {n} inputs got two first responses, so nothing was improved or scored; the reasons and raw \
replies are listed below",
                section.writer
            ));
        }
        return out;
    }
    let k = drafted.len();
    let feedback_failed = failed("judge_");
    if feedback_failed > 0 && drafted.iter().all(|i| i.better.is_none()) {
        out.push(format!(
            "evaluator {}, feedback: every question failed — {feedback_failed} failed, no verdict \
on any of the {k} inputs with two first responses, so the feedback condition has no improved \
response; the reasons and raw replies are listed below",
            section.evaluator
        ));
    }
    let improved_failed = failed("improve@");
    let improved = |i: &&ImprovementItem| {
        i.improved_feedback.is_some()
            || i.improved_both.is_some()
            || i.improved_single.iter().any(Option::is_some)
    };
    if improved_failed > 0 && !drafted.iter().any(improved) {
        out.push(format!(
            "writer {}, improved responses: every question failed — {improved_failed} failed, no \
improved response for any of the {k} inputs with two first responses, so no condition has a \
pair; the reasons and raw replies are listed below",
            section.writer
        ));
    }
    out
}

/// One stage of an improvement run's estimate ([`estimate`]).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageEstimate {
    /// The stage, as the run names it (`evaluator, judge`, `writer, first
    /// responses`, `evaluator, feedback`, `writer, improved responses`,
    /// `factors`).
    pub what: String,
    /// Asked of the evaluator model.
    pub evaluator: bool,
    /// Questions whose prompts are known now: the dataset's, or built from
    /// earlier stages' replies found in the cache. Estimated as any run's
    /// first stage is (prompts measured, cached ones looked up, replies of
    /// the usual length).
    pub known_questions: u64,
    pub known: crate::llm::engine::Estimate,
    /// Questions whose prompts quote replies not received yet (at most this
    /// many: an input whose first responses fail asks none, one without a
    /// verdict no feedback revision). Upper bounds: every reply not received
    /// is counted at the model's `max_tokens`, in the prompts that quote it
    /// and as each call's own reply — except the factor questions on the
    /// written texts, estimated from such texts as any extraction is.
    pub bound_questions: u64,
    pub bound: crate::llm::engine::Estimate,
}

/// Every stage of an improvement run, before it starts: the run of `make`
/// (a `workflow::Kind::Improve` run) simulated on the answers `cache`
/// holds, twice — once with those alone (the questions whose prompts are
/// known, estimated exactly as a first stage is), once with every missing
/// reply of the writer and the evaluator stood in for by a text of its
/// model's `max_tokens` (the bounded rest, see [`StageEstimate`]). `models`
/// and `prices`: the writer's and the evaluator's.
pub fn estimate(
    make: impl Fn() -> crate::workflow::Workflow,
    models: [&crate::llm::provider::ModelConfig; 2],
    prices: [Option<crate::llm::pricing::Price>; 2],
    cache: &dyn crate::llm::engine::AnswerCache,
) -> Vec<StageEstimate> {
    use crate::llm::engine::Estimate;
    let known = simulate(make(), models, prices, cache, false);
    let full = simulate(make(), models, prices, cache, true);
    full.into_iter()
        .map(|(what, evaluator, questions, all, factors)| {
            let (kq, k) = known
                .iter()
                .find(|s| s.0 == what)
                .map(|s| (s.2, s.3.clone()))
                .unwrap_or_default();
            let max_tokens = f64::from(models[usize::from(evaluator)].decoding.max_tokens);
            let calls = all.calls.saturating_sub(k.calls);
            let input_tokens = (all.input_tokens - k.input_tokens).max(0.0);
            let output_tokens = if factors {
                (all.output_tokens - k.output_tokens).max(0.0)
            } else {
                calls as f64 * max_tokens
            };
            let bound = Estimate {
                cached: all.cached.saturating_sub(k.cached),
                calls,
                input_tokens,
                output_tokens,
                cost_usd: prices[usize::from(evaluator)]
                    .map(|p| p.cost(input_tokens, output_tokens)),
            };
            StageEstimate {
                what: what.to_owned(),
                evaluator,
                known_questions: kq,
                known: k,
                bound_questions: questions.saturating_sub(kq),
                bound,
            }
        })
        .collect()
}

/// The run's stages answered from `cache` (and, with `fill`, stand-ins for
/// what it lacks): each stage's name, model, questions and estimate, and
/// whether it asks factor questions.
fn simulate(
    mut wf: crate::workflow::Workflow,
    models: [&crate::llm::provider::ModelConfig; 2],
    prices: [Option<crate::llm::pricing::Price>; 2],
    cache: &dyn crate::llm::engine::AnswerCache,
    fill: bool,
) -> Vec<(&'static str, bool, u64, crate::llm::engine::Estimate, bool)> {
    use crate::llm::question::{Answer, ImproveQuestion, ImproveStep, Question, Verdict};
    let mut out = Vec::new();
    let mut n = 0u64;
    while let Some(stage) = wf.next_stage() {
        let m = usize::from(stage.evaluator);
        let e = crate::llm::engine::estimate(
            &stage.plan,
            &stage.dataset,
            stage.opts,
            models[m],
            cache,
            prices[m],
        );
        let (mut answers, _) = crate::llm::engine::cached_answers(
            &stage.plan,
            &stage.dataset,
            stage.opts,
            models[m],
            cache,
        );
        // The first stage (the evaluator judging the dataset) feeds no
        // later prompt: no stand-ins.
        if fill && !out.is_empty() {
            let chars = 4 * models[m].decoding.max_tokens as usize;
            let mut text = || {
                n += 1;
                // Distinct (texts are interned), `max_tokens` tokens long.
                let mut t = format!("{n} ");
                t.push_str(&"x".repeat(chars.saturating_sub(t.len())));
                t
            };
            for q in &stage.plan.first {
                if answers.get(q).is_some() {
                    continue;
                }
                let a = match q {
                    Question::Improve(ImproveQuestion {
                        step: ImproveStep::Draft,
                        ..
                    }) => Answer::Generations {
                        generations: vec![text(), text()],
                    },
                    Question::Improve(_) => Answer::Generations {
                        generations: vec![text()],
                    },
                    Question::Judge(_) => Answer::Verdict {
                        verdict: Verdict {
                            better: "1".into(),
                            justification: text(),
                        },
                    },
                    _ => continue,
                };
                answers.insert(*q, a);
            }
        }
        let factors = matches!(stage.plan.first.first(), Some(Question::Factor(_)));
        out.push((
            stage.what,
            stage.evaluator,
            stage.plan.len() as u64,
            e,
            factors,
        ));
        wf.answered(answers, &Default::default(), &[]);
    }
    out
}

/// The whole of an estimate: the sum of its stages (`cost_usd` when every
/// stage with calls has a price).
pub fn estimate_total(stages: &[StageEstimate]) -> crate::llm::engine::Estimate {
    let mut t = crate::llm::engine::Estimate {
        cost_usd: Some(0.0),
        ..Default::default()
    };
    for e in stages.iter().flat_map(|s| [&s.known, &s.bound]) {
        t.cached += e.cached;
        t.calls += e.calls;
        t.input_tokens += e.input_tokens;
        t.output_tokens += e.output_tokens;
        t.cost_usd = match (t.cost_usd, e.cost_usd) {
            (Some(a), Some(b)) => Some(a + b),
            (a, None) if e.calls == 0 => a,
            _ => None,
        };
    }
    t
}

/// The estimate in plain lines: one per stage, saying which part is known
/// and which is an upper bound, and the total.
pub fn describe_estimate(stages: &[StageEstimate]) -> Vec<String> {
    let k = |x: f64| format!("{:.1}k", x / 1e3);
    let cost = |c: Option<f64>| c.map_or("cost unknown".to_owned(), |c| format!("${c:.4}"));
    let mut out = Vec::new();
    for s in stages {
        let mut line = format!(
            "{} ({}): {} questions with known prompts, {} cached, ~{} calls, ~{} input + ~{} \
output tokens, {}",
            s.what,
            if s.evaluator { "evaluator" } else { "writer" },
            s.known_questions,
            s.known.cached,
            s.known.calls,
            k(s.known.input_tokens),
            k(s.known.output_tokens),
            cost(s.known.cost_usd)
        );
        if s.bound_questions > 0 {
            line.push_str(&format!(
                "; then at most {} questions on replies not received yet: ≤ {} calls, ≤ {} input \
+ {} {} output tokens, {} {}",
                s.bound_questions,
                s.bound.calls,
                k(s.bound.input_tokens),
                if s.what == "factors" { "~" } else { "≤" },
                k(s.bound.output_tokens),
                if s.what == "factors" { "~" } else { "≤" },
                cost(s.bound.cost_usd)
            ));
        }
        out.push(line);
    }
    let t = estimate_total(stages);
    let bounded = stages.iter().any(|s| s.bound_questions > 0);
    let approximate = stages
        .iter()
        .any(|s| s.bound_questions > 0 && s.what == "factors");
    let (calls, tokens) = match (bounded, approximate) {
        (true, false) => ("at most ", "≤ "),
        _ => ("~", "~"),
    };
    out.push(format!(
        "total: {} cached, {calls}{} calls, {tokens}{} input + {tokens}{} output tokens, {tokens}{}",
        t.cached,
        t.calls,
        k(t.input_tokens),
        k(t.output_tokens),
        cost(t.cost_usd)
    ));
    if bounded {
        out.push(format!(
            "(≤: upper bounds, every reply not received yet counted at max_tokens{})",
            if approximate {
                "; the factors of the texts not written yet are approximate, so the total is too"
            } else {
                ""
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(items: Vec<ImprovementItem>, templates: &[&str]) -> ImprovementSection {
        ImprovementSection {
            writer: "w".into(),
            evaluator: "e (judge)".into(),
            inputs_planned: items.len() as u64,
            inputs: items.iter().filter(|i| !i.responses.is_empty()).count() as u64,
            questions_per_input: Some(6.0),
            calls: 0,
            cache_hits: 0,
            failed: templates.len() as u64,
            judge_calls: 0,
            too_few: true,
            conditions: Vec::new(),
            items,
            failures: templates
                .iter()
                .map(|t| serde_json::json!({"question": "q", "template": t, "reason": "r", "attempts": 1}))
                .collect(),
        }
    }

    fn item(drafts: bool, better: bool, improved: bool) -> ImprovementItem {
        ImprovementItem {
            line: 1,
            responses: if drafts {
                vec!["a".into(), "b".into()]
            } else {
                Vec::new()
            },
            better: better.then(|| "1".into()),
            justification: better.then(|| "why".into()),
            improved_feedback: None,
            improved_both: improved.then(|| "c".into()),
            improved_single: if drafts { vec![None, None] } else { Vec::new() },
        }
    }

    #[test]
    fn a_stage_whose_every_question_failed_is_named_with_its_counts() {
        let s = section(vec![item(false, false, false); 2], &["improve_draft@1"; 2]);
        let lines = stopped(&s);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with(
            "writer w, first responses: every question failed — 2 failed, none of the 2 inputs"
        ));
        let s = section(
            vec![item(true, false, true), item(true, false, false)],
            &["judge_helpful@1", "judge_helpful@1", "improve@1"],
        );
        let lines = stopped(&s);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with(
            "evaluator e (judge), feedback: every question failed — 2 failed, no verdict on any of the 2 inputs"
        ));
        let s = section(
            vec![item(true, true, false), item(false, false, false)],
            &["improve_draft@1", "improve@1", "improve@1", "improve@1"],
        );
        let lines = stopped(&s);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with(
            "writer w, improved responses: every question failed — 3 failed, no improved response for any of the 1 inputs"
        ));
    }

    #[test]
    fn questions_are_the_distinct_questions_the_stages_ask() {
        use crate::data::{load_bytes, FormatOptions};
        use crate::llm::question::{Answer, Answers, Verdict};
        let rows: Vec<String> = [("q1", "a", "b"), ("q2", "c", "d"), ("q3", "e", "f")]
            .iter()
            .map(|(i, a, b)| {
                serde_json::json!({"input": i, "response_a": a, "response_b": b, "preference": "a"})
                    .to_string()
            })
            .collect();
        let ds = load_bytes(rows.join("\n").as_bytes(), FormatOptions::default()).unwrap();
        let mut imp = Improvement::new(&ds, crate::data::Task::Helpful, None);
        let drafts = imp.draft_plan();
        assert_eq!(drafts.len(), 3);
        let mut answers = Answers::default();
        // Input 0: a small model wrote the same first response twice, so
        // improving "each" single response is one question. Input 2 got no
        // first responses.
        for (k, q) in drafts.first.iter().enumerate().take(2) {
            let generations = match k {
                0 => vec!["Same.".to_string(), "Same.".to_string()],
                _ => vec!["One.".to_string(), "Two.".to_string()],
            };
            answers.insert(*q, Answer::Generations { generations });
        }
        imp.take_drafts(&answers);
        let feedback = imp.feedback_plan();
        // Input 1's evaluator gave no verdict.
        let verdict = Verdict {
            better: "1".into(),
            justification: "why".into(),
        };
        answers.insert(feedback.first[0], Answer::Verdict { verdict });
        imp.take_feedback(&answers);
        let revise = imp.revise_plan();
        // Input 0: draft, feedback, with feedback, from both, one single;
        // input 1: draft, feedback, from both, two singles; input 2: draft.
        assert_eq!(drafts.len() + feedback.len() + revise.len(), 5 + 5 + 1);
        assert_eq!(questions(&imp), 11);
    }

    #[test]
    fn a_stage_with_an_answer_or_not_asked_is_not_a_stop() {
        // Some answers in every stage.
        let s = section(
            vec![item(true, true, true), item(false, false, false)],
            &["improve_draft@1"],
        );
        assert!(stopped(&s).is_empty());
        // No answers but no failures either (a cancelled run): no claim.
        let s = section(vec![item(false, false, false); 2], &[]);
        assert!(stopped(&s).is_empty());
        let s = section(vec![item(true, false, false)], &[]);
        assert!(stopped(&s).is_empty());
    }
}
