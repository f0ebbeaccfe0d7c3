//! `profile improve`: feedback-driven improvement (METHOD.md §8), on the
//! model-run workflow (`workflow::Kind::Improve`: the evaluator judges the
//! pairs, the writer writes two responses per input, the evaluator gives
//! feedback, the writer improves) and the core's agents and section
//! (`improve`).

use super::*;

/// `profile improve`: the improvement conditions as agents of the report,
/// with their τ against the humans and the evaluator.
pub(super) fn cmd_improve(args: &[String]) -> Result<String, Failure> {
    use crate::llm::roles::JudgeOrder;
    use crate::workflow::{Kind, Outcome, Workflow};
    let f = study_flags(
        args,
        &[
            "into",
            "inputs",
            "evaluator-provider",
            "evaluator-model",
            "evaluator-base-url",
        ],
        &["single-order"],
    )?;
    let Study { ds, cfg, info } = load_study(&f, "improve")?;
    let inputs = parse_num::<usize>(&f, "inputs")?;
    if inputs == Some(0) {
        return Err(usage_error("--inputs must be at least 1"));
    }
    let into = read_into(&f)?;
    let ds = std::rc::Rc::new(ds);
    let mut session = LlmSession::for_command(&f, "improve")?;
    let evaluator = session.open_evaluator(&f)?;
    // Refused before any judge or writer call: a report of other data or factors.
    let Some(mut base) = session.baseline(&ds, &cfg, &info, into)? else {
        return Ok(String::new());
    };
    let single = f.switches.iter().any(|s| s == "single-order");
    let order = JudgeOrder::new(single, cfg.bootstrap.seed);
    let kind = Kind::Improve { inputs, order };
    let wf = Workflow::new(kind, ds.clone(), &cfg, &session.mc).with_evaluator(&evaluator);
    let judge_name = format!("{} (judge)", evaluator.model);
    if !session.quiet && !session.estimate_only {
        eprintln!(
            "the evaluator {} judges the pairs first (its judge agent; answered from the cache \
when `profile judge` ran before), then per input: two first responses (1 call), the evaluator's \
feedback (1 call), 4 improved responses (4 calls)",
            evaluator.model
        );
    }
    if session.estimate_only {
        // Every stage: the later ones' prompts quote replies not received
        // yet, so they are bounded (`improve::estimate`).
        let evaluator_price = session
            .evaluator
            .as_ref()
            .map_or(session.price, |(_, _, p)| *p);
        let stages = crate::improve::estimate(
            || Workflow::new(kind, ds.clone(), &cfg, &session.mc).with_evaluator(&evaluator),
            [&session.mc, &evaluator],
            [session.price, evaluator_price],
            &session.cache,
        );
        let mut out = String::from("improve estimate, stage by stage:\n");
        for l in crate::improve::describe_estimate(&stages) {
            out.push_str("  ");
            out.push_str(&l);
            out.push('\n');
        }
        return Ok(out);
    }
    let run = match session.drive(wf)? {
        Some(Outcome::Improve(run)) => run,
        _ => return Ok(String::new()),
    };
    let result =
        crate::improve::improvement_report(&ds, &cfg, base.values.as_ref(), &run, &base.human)
            .map_err(data_error)?;
    if let Some(extraction) = run.values.as_ref().and_then(|v| v.run.as_ref()) {
        if !session.quiet {
            eprintln!(
                "factors of the written texts: {} calls, {} cached, {} failed",
                extraction.calls, extraction.cache_hits, extraction.failed
            );
        }
    }
    // The evaluator's judge agent, unless the report has one of that name.
    if base.report.agent(&judge_name).is_none() {
        base.add(&ds, result.judge);
    }
    for agent in result.agents {
        base.add(&ds, agent);
    }
    let lines = crate::improve::describe(&result.section);
    base.report.improvement = Some(result.section);
    base.finish(&f, &lines)
}
