//! `profile judge` and `profile generate`, and `--into`.

use super::*;

/// `--into REPORT.json`, read before any model call: `None` without the
/// option, `Some((path, None))` for a report still to be written, else the
/// existing report, checked as the widget checks one (every problem with its
/// field path; scores within their ranges; no duplicate keys).
pub(super) fn read_into(f: &Flags) -> Result<Option<(String, Option<Report>)>, Failure> {
    let Some(path) = f.values.get("into") else {
        return Ok(None);
    };
    if !std::path::Path::new(path).exists() {
        return Ok(Some((path.clone(), None)));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| data_error(format!("cannot read {path}: {e}")))?;
    let existing = crate::embed::check::check_report(&text).map_err(|e| {
        let lines: Vec<String> = e.to_string().lines().map(|l| format!("  {l}")).collect();
        data_error(format!(
            "{path} is not a PROFILE report to add to:\n{}",
            lines.join("\n")
        ))
    })?;
    Ok(Some((path.clone(), Some(existing))))
}

/// The report to add an agent to (the `--into` one, checked against the one
/// just computed), else the computed one.
pub(super) fn into_report(
    into: Option<(String, Option<Report>)>,
    computed: Report,
) -> Result<(Report, Option<String>), Failure> {
    match into {
        None => Ok((computed, None)),
        Some((path, None)) => Ok((computed, Some(path))),
        Some((path, Some(existing))) => {
            crate::agents::compatible(&existing, &computed)
                .map_err(|e| data_error(format!("cannot merge into {path}: {e}")))?;
            Ok((existing, Some(path)))
        }
    }
}

pub(super) fn write_into(path: Option<String>, report: &Report) -> Result<(), Failure> {
    if let Some(p) = path {
        std::fs::write(&p, report.to_json_pretty() + "\n")
            .map_err(|e| data_error(format!("cannot write {p}: {e}")))?;
    }
    Ok(())
}

/// `profile judge` and `profile generate`: a model as judge of the dataset's
/// pairs, or as writer for its inputs, added as an agent to the report.
pub(super) fn cmd_model_run(args: &[String], kind: &str) -> Result<String, Failure> {
    use crate::agents::writer_agent;
    use crate::llm::roles::JudgeOrder;
    use crate::workflow::{Kind, Outcome, Workflow};
    let f = study_flags(args, &["into", "inputs"], &["single-order"])?;
    let Study { ds, cfg, info } = load_study(&f, kind)?;
    // Usage errors before any model call.
    let single = f.switches.iter().any(|s| s == "single-order");
    let run = if kind == "judge" {
        if f.values.contains_key("inputs") {
            return Err(usage_error(
                "--inputs applies to `profile generate`; use --limit",
            ));
        }
        Kind::Judge(JudgeOrder::new(single, cfg.bootstrap.seed))
    } else {
        if single {
            return Err(usage_error("--single-order applies to `profile judge`"));
        }
        Kind::Writer {
            inputs: parse_num::<usize>(&f, "inputs")?,
        }
    };
    let into = read_into(&f)?;
    let ds = std::rc::Rc::new(ds);
    let mut session = LlmSession::for_command(&f, kind)?;
    // The human agent, with the model-based factors extracted on the dataset (cached).
    let Some(mut base) = session.baseline(&ds, &cfg, &info, into)? else {
        return Ok(String::new());
    };
    let workflow = Workflow::new(run, ds.clone(), &cfg, &session.mc);
    let agent = match session.drive(workflow)? {
        None => return Ok(String::new()),
        Some(Outcome::Judge { outcome, record }) => base.judge_agent(&ds, &cfg, &outcome, record),
        Some(Outcome::Writer {
            generated,
            values: gen_values,
            planned,
            record,
        }) => {
            let extraction = gen_values.as_ref().and_then(|v| v.run.clone());
            writer_agent(
                &generated.dataset,
                &generated.source_clusters,
                ds.n_clusters,
                &cfg,
                gen_values.as_ref(),
                planned,
                record,
                extraction,
                &base.human,
            )
        }
        Some(Outcome::Extract(_) | Outcome::Guide(_) | Outcome::Improve(_)) => {
            return Err(data_error("not a judge or writer run"))
        }
    };
    if session.estimate_only {
        return Ok(String::new());
    }
    base.add(&ds, agent);
    base.finish(&f, &[])
}
