//! Loading a study (the data file, the task and factors, the selection) and writing its report.

use super::*;

/// A loaded dataset with the scoring configuration the flags ask for.
pub(super) struct Study {
    pub(super) ds: crate::data::Dataset,
    pub(super) cfg: ScoreConfig,
    pub(super) info: DatasetInfo,
}

pub(super) fn load_study(f: &Flags, command: &str) -> Result<Study, Failure> {
    let [path] = f.positional.as_slice() else {
        return Err(usage_error(format!("`profile {command}` takes one FILE")));
    };
    load_study_at(f, path)
}

pub(super) fn load_study_at(f: &Flags, path: &str) -> Result<Study, Failure> {
    let format = parse_named(f, "format", Format::from_name, || {
        let known: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        format!("known formats: {}", known.join(", "))
    })?;
    // `--label` names a SummEval rating or a PKU-SafeRLHF judgement; which
    // one applies is known once the format is.
    let label_name = f.values.get("label");
    if let Some(l) = label_name {
        if SummEvalLabel::from_name(l).is_none() && PkuLabel::from_name(l).is_none() {
            return Err(usage_error(format!(
                "unknown label `{l}` for --label: use mean, coherence, consistency, fluency or relevance (SummEval), or better or safer (PKU-SafeRLHF)"
            )));
        }
    }
    let label = label_name.and_then(|l| SummEvalLabel::from_name(l));
    let pku_label = label_name.and_then(|l| PkuLabel::from_name(l));
    let task = parse_named(f, "task", Task::from_id, || {
        "use summarization, helpful or doc_qa".into()
    })?;
    let pack = load_factor_pack(f)?;
    let factors = f
        .values
        .get("factors")
        .map(|l| parse_factors(l))
        .transpose()?;
    let mut bootstrap = BootstrapConfig::default();
    if let Some(n) = f.values.get("bootstrap") {
        bootstrap.resamples = n
            .parse()
            .ok()
            .filter(|&r| r <= BootstrapConfig::MAX_RESAMPLES)
            .ok_or_else(|| {
                usage_error(format!(
                    "--bootstrap takes a count of resamples from 0 to at most {}, not `{n}`",
                    BootstrapConfig::MAX_RESAMPLES
                ))
            })?;
    }
    if let Some(s) = f.values.get("seed") {
        bootstrap.seed = s
            .parse()
            .map_err(|_| usage_error(format!("--seed takes an integer, not `{s}`")))?;
    }

    let selection = selection_flags(f, bootstrap.seed)?;
    let max_record_mb = match f.values.get("max-record-mb") {
        Some(v) => FormatOptions::parse_max_record_mb(v)
            .map_err(|e| usage_error(format!("--max-record-mb: {e}")))?,
        None => crate::data::DEFAULT_MAX_RECORD_MB,
    };
    let opts = FormatOptions {
        format,
        summeval_label: label.unwrap_or_default(),
        max_record_mb,
        pku_label: pku_label.unwrap_or_default(),
        table: table_options(f, path)?,
        column_map: Vec::new(),
    };
    let label_of = opts.clone();
    let mut ds = load_input(path, opts)?;
    if let Some(why) = ds.nothing_usable() {
        let mut msg = format!("nothing usable in {path}: {why}");
        for d in ds.diagnostics.iter().take(5) {
            msg.push_str(&format!("\n  {d}"));
        }
        if ds.diagnostics.len() > 5 {
            msg.push_str(&format!("\n  … {} more problems", ds.diagnostics.len() - 5));
        }
        return Err(data_error(msg));
    }
    let sample = selection.apply(&mut ds);
    let fmt = ds.format;
    if let Some(l) = label_name {
        let fits = match fmt {
            Some(Format::SummEval) => label.is_some(),
            Some(Format::PkuSafeRlhf) => pku_label.is_some(),
            _ => false,
        };
        if !fits {
            return Err(usage_error(format!(
                "--label `{l}` does not apply to {path}: it is {} (--label applies to SummEval: mean, coherence, consistency, fluency, relevance; and to PKU-SafeRLHF: better, safer)",
                fmt.map_or("unknown", |f| f.name())
            )));
        }
    }
    let ds_label = label_of.label_name(fmt).map(str::to_owned);
    let task = task.unwrap_or_else(|| ds.default_task());
    // A pack without `--factors`: the preset and the pack's factors.
    let factors = crate::analysis::with_custom(task, factors, &pack.unwrap_or_default());
    let cfg = ScoreConfig {
        task,
        factors,
        bootstrap,
    };
    let info = DatasetInfo {
        name: std::path::Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
        label: ds_label,
        sample,
    };
    Ok(Study { ds, cfg, info })
}

/// Writes the report to `--out` (if given) and returns what to print.
pub(super) fn finish_report(f: &Flags, report: &Report) -> Result<String, Failure> {
    let json = report.to_json_pretty() + "\n";
    if let Some(out) = f.values.get("out") {
        std::fs::write(out, &json).map_err(|e| data_error(format!("cannot write {out}: {e}")))?;
    }
    Ok(if f.switches.iter().any(|s| s == "json") {
        json
    } else {
        render_table(report)
    })
}

/// How a table file is read: its kind from the file name (`.csv`, `.tsv`,
/// gzipped or not), and `--map FIELD=COLUMN,...`.
pub(super) fn table_options(
    f: &Flags,
    path: &str,
) -> Result<Option<crate::data::TableOptions>, Failure> {
    let table = crate::data::TableOptions::for_file_name(path);
    match (f.values.get("map"), table) {
        (None, table) => Ok(table),
        (Some(_), None) => Err(usage_error(format!(
            "--map renames the columns of a CSV or TSV file (named .csv or .tsv); {path} is not one"
        ))),
        (Some(m), Some(mut t)) => {
            t.map = crate::data::TableOptions::parse_map(m)
                .map_err(|e| usage_error(format!("--map: {e}")))?;
            Ok(Some(t))
        }
    }
}

/// Loads `path` (`-`: standard input): a Parquet file (recognised by its
/// magic bytes) with the Parquet reader, anything else as text, gzipped or
/// not.
fn load_input(path: &str, opts: FormatOptions) -> Result<crate::data::Dataset, Failure> {
    if path != "-" {
        let mut head = [0u8; 4];
        let parquet = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok_and(|()| crate::data::is_parquet(&head));
        if parquet {
            let file = std::fs::File::open(path)
                .map_err(|e| data_error(format!("cannot open {path}: {e}")))?;
            return crate::data::load_parquet(file, opts)
                .map_err(|e| data_error(format!("{path}: {e}")));
        }
    }
    // Natively, the rule values are computed on a second thread while the
    // file loads (large inputs only).
    #[cfg(not(target_arch = "wasm32"))]
    let watch = crate::factors::rules::RuleFeed::watch;
    #[cfg(target_arch = "wasm32")]
    let watch = |_: &mut crate::data::Loader| {};
    crate::data::load_reader_with(open_input(path)?, opts, watch)
        .map_err(|e| data_error(format!("{path}: {e}")))
}
