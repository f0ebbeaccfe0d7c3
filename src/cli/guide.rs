//! `profile guide`: guided judging (METHOD.md §8), on the model-run
//! workflow of `profile judge` (`workflow::Kind::Judge`, then
//! `workflow::Kind::Guide`) and the core's choice and statistics (`guide`).

use super::*;

fn factor_flag(f: &Flags, name: &str, cfg: &ScoreConfig) -> Result<Option<Factor>, Failure> {
    let Some(v) = f.values.get(name) else {
        return Ok(None);
    };
    let factor = Factor::from_id(v).ok_or_else(|| {
        usage_error(format!(
            "--{name}: unknown factor `{v}` (see `profile factors`)"
        ))
    })?;
    if !cfg.requested().contains(&factor) {
        let ids: Vec<&str> = cfg.requested().iter().map(|f| f.id()).collect();
        return Err(usage_error(format!(
            "--{name} {v} is not among the factors scored ({}); add it with --factors",
            ids.join(", ")
        )));
    }
    Ok(Some(factor))
}

/// GuideMis and GuideRand for `profile batch export --run guide`: chosen
/// from the `--into` report's judge of the model as `profile guide` chooses
/// them (so the live run finds the batch's answers), or given.
pub(super) fn batch_choice(
    f: &Flags,
    cfg: &ScoreConfig,
    model: &str,
) -> Result<crate::guide::Choice, Failure> {
    let fix_mis = factor_flag(f, "factor", cfg)?;
    let fix_rand = factor_flag(f, "rand-factor", cfg)?;
    let evidence = match read_into(f)? {
        Some((_, Some(report))) => crate::guide::report_evidence(&report, model),
        _ => None,
    };
    // Always from the report's judge, also with --factor: a given factor
    // takes its direction from the evidence, as in `profile guide`.
    let Some(evidence) = evidence else {
        return Err(data_error(format!(
            "--run guide chooses its factors from the judge `{model} (judge)` of --into \
REPORT.json: judge the pairs first (`profile judge … --into REPORT.json`, or its batch, then \
`profile judge … --into REPORT.json` to read it from the cache)"
        )));
    };
    let choice = crate::guide::choose(&evidence, cfg.bootstrap.seed, fix_mis, fix_rand)
        .map_err(data_error)?;
    for l in crate::guide::describe_choice(&choice) {
        eprintln!("{l}");
    }
    Ok(choice)
}

/// `profile guide`: GuideMis and GuideRand chosen from the judge's
/// misalignment with the humans, then the pairs judged with no guidance,
/// with each, and the agreements compared.
pub(super) fn cmd_guide(args: &[String]) -> Result<String, Failure> {
    use crate::llm::roles::{guided_judge_plan, JudgeOrder};
    use crate::workflow::{Kind, Outcome, Workflow};
    let f = study_flags(args, &["into", "factor", "rand-factor"], &[])?;
    let Study { ds, cfg, info } = load_study(&f, "guide")?;
    let fix_mis = factor_flag(&f, "factor", &cfg)?;
    let fix_rand = factor_flag(&f, "rand-factor", &cfg)?;
    let into = read_into(&f)?;
    let ds = std::rc::Rc::new(ds);
    let mut session = LlmSession::for_command(&f, "guide")?;
    let Some(mut base) = session.baseline(&ds, &cfg, &info, into)? else {
        return Ok(String::new());
    };
    let model = session.mc.model.clone();
    let order = JudgeOrder::Both;

    // The evidence: the report's judge of this model, else a judge run now
    // (the verdicts are cached: the unguided condition below reuses them).
    let judge_name = format!("{model} (judge)");
    let evidence = match crate::guide::report_evidence(&base.report, &model) {
        Some(e) => e,
        None => {
            if !session.quiet {
                eprintln!(
                    "{judge_name} is not in the report: judging the pairs first (no guidance)"
                );
            }
            let wf = Workflow::new(Kind::Judge(order), ds.clone(), &cfg, &session.mc);
            let (agent, alignment) = match session.drive(wf)? {
                Some(Outcome::Judge { outcome, record }) => {
                    base.judge_agent(&ds, &cfg, &outcome, record)
                }
                None if session.estimate_only => {
                    println!(
                        "the guided conditions are estimated once the judge's verdicts are known \
(they choose the factors): run `profile judge` first, or without --estimate"
                    );
                    return Ok(String::new());
                }
                _ => return Ok(String::new()),
            };
            let e = match &base.human_agent {
                Some(h) => crate::guide::evidence(&agent, h, &alignment),
                None => Vec::new(),
            };
            base.add(&ds, (agent, alignment));
            e
        }
    };
    let choice = crate::guide::choose(&evidence, cfg.bootstrap.seed, fix_mis, fix_rand)
        .map_err(data_error)?;
    let choice_lines = crate::guide::describe_choice(&choice);
    if session.estimate_only {
        for l in &choice_lines {
            println!("{l}");
        }
        let opts = crate::llm::extract::ExtractOptions::for_model(&session.mc, cfg.task);
        let guidances = [None, Some(choice.mis.0)]
            .into_iter()
            .chain(choice.rand.as_ref().map(|r| Some(r.0)));
        for g in guidances {
            let plan = guided_judge_plan(&ds, cfg.task, order, &[g]);
            let what = match g {
                None => "judge, no guidance",
                Some(g) if g == choice.mis.0 => "judge, GuideMis",
                Some(_) => "judge, GuideRand",
            };
            session.execute_as(what, &plan, &ds, opts, false)?;
        }
        return Ok(String::new());
    }
    if !session.quiet {
        for l in &choice_lines {
            eprintln!("{l}");
        }
    }
    let wf = Workflow::new(
        Kind::Guide {
            order,
            mis: choice.mis.0,
            rand: choice.rand.as_ref().map(|r| r.0),
        },
        ds.clone(),
        &cfg,
        &session.mc,
    );
    let Some(Outcome::Guide(runs)) = session.drive(wf)? else {
        return Ok(String::new());
    };
    let (agents, section) = crate::guide::guided_agents(
        &crate::guide::GuidedRun {
            ds: &ds,
            cfg: &cfg,
            values: base.values.as_ref(),
            human: &base.human,
            sample: info.sample.as_ref(),
            model: &model,
            choice: &choice,
        },
        &runs,
        &judge_name,
        evidence,
    );
    for agent in agents {
        base.add(&ds, agent);
    }
    let lines = crate::guide::describe(&section);
    base.report.guidance = Some(section);
    let lines: Vec<String> = choice_lines.into_iter().chain(lines).collect();
    base.finish(&f, &lines)
}
