//! `profile score`.

use super::*;

pub(super) fn cmd_score(args: &[String]) -> Result<String, Failure> {
    let options: Vec<&str> = STUDY_OPTIONS
        .into_iter()
        .chain(["annotations"])
        .chain(PROVIDER_OPTIONS)
        .collect();
    let f = parse_flags(
        args,
        &options,
        &["json", "no-logprobs", "quiet", "estimate"],
    )?;
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
    let report = match f.values.get("provider") {
        None if imported.is_some() => {
            let values = LlmValues {
                imported: imported.unwrap_or_default(),
                ..Default::default()
            };
            score_report_with(&ds, &cfg, &info, Some(&values))
        }
        None => {
            for k in PROVIDER_OPTIONS.into_iter().filter(|k| *k != "provider") {
                if f.values.contains_key(k) {
                    return Err(usage_error(format!("--{k} needs --provider")));
                }
            }
            score_report(&ds, &cfg, &info)
        }
        Some(provider) => {
            let mut session = LlmSession::open(&f, provider)?;
            let ds = std::rc::Rc::new(ds);
            let Some(mut llm) = session.extract(&ds, &cfg)? else {
                return Ok(String::new());
            };
            llm.imported = imported.unwrap_or_default();
            score_report_with(&ds, &cfg, &info, Some(&llm))
        }
    };
    finish_report(&f, &report)
}
