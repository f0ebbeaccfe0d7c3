//! `profile score`.

use super::*;

pub(super) fn cmd_score(args: &[String]) -> Result<String, Failure> {
    let f = study_flags(args, &["annotations", "group-by"], &[])?;
    let Study { ds, cfg, info } = load_study(&f, "score")?;
    let imported = match f.values.get("annotations") {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| data_error(format!("cannot read {p}: {e}")))?;
            let (a, problems) = crate::llm::annotations::Annotations::parse_jsonl(&text);
            for d in problems.iter().take(5) {
                eprintln!("warning: {p}: {d}");
            }
            if problems.len() > 5 {
                eprintln!("warning: {p}: … {} more problems", problems.len() - 5);
            }
            Some(a)
        }
        None => None,
    };
    let ds = std::rc::Rc::new(ds);
    let values = match f.values.get("provider") {
        None if imported.is_some() => Some(LlmValues {
            imported: imported.unwrap_or_default(),
            ..Default::default()
        }),
        None => {
            for k in PROVIDER_OPTIONS.into_iter().filter(|k| *k != "provider") {
                if f.values.contains_key(k) {
                    return Err(usage_error(format!("--{k} needs --provider")));
                }
            }
            None
        }
        Some(provider) => {
            let mut session = LlmSession::open(&f, provider)?;
            let Some(mut llm) = session.extract(&ds, &cfg)? else {
                return Ok(String::new());
            };
            llm.imported = imported.unwrap_or_default();
            Some(llm)
        }
    };
    let mut report = score_report_with(&ds, &cfg, &info, values.as_ref());
    if let Some(field) = f.values.get("group-by") {
        let groups = crate::analysis::group_scores(&ds, &cfg, values.as_ref(), field)
            .map_err(|why| usage_error(format!("--group-by: {why}")))?;
        report.groups = Some(groups);
    }
    finish_report(&f, &report)
}
