//! `profile batch export|import`.

use super::*;

pub(super) fn cmd_batch(args: &[String]) -> Result<String, Failure> {
    use crate::llm::batch::{BatchFormat, StageChoice};
    let export =
        match args.first().map(String::as_str) {
            Some("export") => true,
            Some("import") => false,
            _ => return Err(usage_error(
                "use `profile batch export FILE …` or `profile batch import RESULTS.jsonl… FILE …`",
            )),
        };
    let mut options = vec![
        "max-record-mb",
        "map",
        "task",
        "factors",
        "format",
        "label",
        "provider",
        "model",
        "base-url",
        "limit",
        "sample",
        "seed",
        "cache-dir",
        "run",
        "inputs",
    ];
    if export {
        options.extend(["stage", "price-in", "price-out", "out"]);
    }
    let f = parse_flags(&args[1..], &options, &["no-logprobs", "single-order"])?;
    let (path, results) = match (export, f.positional.as_slice()) {
        (true, [path]) => (path, &[][..]),
        (false, [results @ .., path]) if !results.is_empty() => (path, results),
        (true, _) => return Err(usage_error("`profile batch export` takes one FILE")),
        (false, _) => {
            return Err(usage_error(
                "`profile batch import` takes the results file(s), then the data FILE",
            ))
        }
    };
    let provider = f
        .values
        .get("provider")
        .ok_or_else(|| usage_error("`profile batch` needs --provider and --model"))?;
    let mc = model_config(&f, provider)?;
    let format = BatchFormat::of(mc.provider).map_err(|e| usage_error(e.to_string()))?;
    let stage = match f.values.get("stage").map(String::as_str) {
        None => StageChoice::Next,
        Some("2") => StageChoice::Second,
        Some(s) => {
            return Err(usage_error(format!(
                "--stage takes 2 (the second stage now, for the questions whose first-stage \
                 answers are cached), not `{s}`"
            )))
        }
    };
    let price = price_flags(&f, &mc)?;
    let Study { ds, cfg, .. } = load_study_at(&f, path)?;
    // What the requests are for: factor extraction (default), a judge or a
    // writer; the plan is the first stage of the same workflow as a live run.
    use crate::workflow::{Kind, Workflow};
    let single = f.switches.iter().any(|s| s == "single-order");
    let kind = match f.values.get("run").map_or("extract", String::as_str) {
        "extract" => Kind::Extract,
        "judge" => Kind::Judge(crate::llm::roles::JudgeOrder::new(
            single,
            cfg.bootstrap.seed,
        )),
        "writer" => Kind::Writer {
            inputs: parse_num(&f, "inputs")?,
        },
        other => {
            return Err(usage_error(format!(
                "--run takes extract, judge or writer, not `{other}`"
            )))
        }
    };
    let ds = std::rc::Rc::new(ds);
    let workflow = Workflow::new(kind, ds.clone(), &cfg, &mc);
    let Some(first) = workflow.first() else {
        return Err(data_error("nothing to ask"));
    };
    let (plan, opts) = (&first.plan, first.opts);
    let (mut cache, bad) = open_cache(&f)?;
    warn_cache_lines(cache.path(), &bad);
    let batch = BatchRun {
        format,
        mc: &mc,
        ds: &ds,
        opts,
        plan,
    };
    if export {
        batch.export(&f, &cache, stage, price)
    } else {
        batch.import(results, &mut cache)
    }
}

/// What `profile batch export` and `import` share: the provider's batch
/// format and the plan of the selected data.
pub(super) struct BatchRun<'a> {
    pub(super) format: crate::llm::batch::BatchFormat,
    pub(super) mc: &'a ModelConfig,
    pub(super) ds: &'a crate::data::Dataset,
    pub(super) opts: ExtractOptions,
    pub(super) plan: &'a Plan,
}

impl BatchRun<'_> {
    /// Writes the requests of the next unanswered stage (stdout without
    /// `--out`) and says on stderr what they are and cost.
    pub(super) fn export(
        &self,
        f: &Flags,
        cache: &DiskCache,
        stage: crate::llm::batch::StageChoice,
        price: Option<Price>,
    ) -> Result<String, Failure> {
        use crate::llm::batch::{self, BATCH_PRICE_FACTOR};
        let p = batch::pending(self.plan, self.ds, self.opts, self.mc, cache, stage);
        if p.is_done() {
            eprintln!(
                "nothing to export: every question is answered ({} questions; `profile score` \
                 with the same flags reads them from the cache)",
                self.plan.len()
            );
            return Ok(String::new());
        }
        if p.requests.is_empty() {
            eprintln!(
                "nothing to export in stage 2 yet: {} questions wait for first-stage answers",
                p.waiting
            );
            return Ok(String::new());
        }
        let limits = self.format.limits();
        let files = batch::request_files(self.format, self.mc, &p.requests, limits);
        let (stdout, written) = match f.values.get("out") {
            None if files.len() > 1 => {
                return Err(data_error(format!(
                    "{} requests are more than one {} batch takes ({} requests, {} MB): \
                     give --out FILE to write them as numbered parts",
                    p.requests.len(),
                    self.format.name(),
                    limits.max_requests,
                    limits.max_bytes / 1_000_000
                )))
            }
            None => (files.concat(), vec!["standard output".to_owned()]),
            Some(out) => {
                let mut names = Vec::new();
                for (i, text) in files.iter().enumerate() {
                    let name = if files.len() == 1 {
                        out.clone()
                    } else {
                        numbered(out, i + 1)
                    };
                    std::fs::write(&name, text)
                        .map_err(|e| data_error(format!("cannot write {name}: {e}")))?;
                    names.push(name);
                }
                (String::new(), names)
            }
        };
        let est = batch::estimate_requests(&p, self.ds, self.opts, self.mc, price);
        let mut waiting = String::new();
        if p.waiting > 0 {
            waiting = format!(", {} wait for first-stage answers", p.waiting);
        }
        if p.no_call > 0 {
            let _ = write!(waiting, ", {} need no call", p.no_call);
        }
        eprintln!(
            "stage {} of 2: {} requests in the {} format written to {}\n  \
             {} questions in this stage: {} already cached, {} share a request with another{waiting}\n  \
             estimate: ~{:.0}k input + ~{:.0}k output tokens, {}\n  \
             next: submit it with the provider's batch tools, then `profile batch import \
             RESULTS.jsonl FILE` with the same flags; export again for what is left",
            p.stage,
            p.requests.len(),
            self.format.name(),
            written.join(", "),
            p.questions,
            p.cached,
            p.shared,
            est.input_tokens / 1e3,
            est.output_tokens / 1e3,
            est.cost_usd.map_or(
                "cost unknown (give --price-in/--price-out)".to_owned(),
                |c| format!(
                    "~${c:.2} at list prices, ~${:.2} at the {:.0}% batch discount",
                    c * BATCH_PRICE_FACTOR,
                    (1.0 - BATCH_PRICE_FACTOR) * 100.0
                )
            ),
        );
        Ok(stdout)
    }

    /// Imports result files into the disk cache and reports what they held.
    pub(super) fn import(
        &self,
        results: &[String],
        cache: &mut DiskCache,
    ) -> Result<String, Failure> {
        use crate::llm::batch::import_results;
        let mut out = String::new();
        let (mut lines, mut unknown, mut failed) = (0, 0, 0);
        for file in results {
            let text = std::fs::read_to_string(file)
                .map_err(|e| data_error(format!("cannot read {file}: {e}")))?;
            let got = import_results(
                &text,
                self.format,
                self.plan,
                self.ds,
                self.opts,
                self.mc,
                &*cache,
            );
            let entries: String = got
                .entries
                .iter()
                .map(|e| serde_json::to_string(e).expect("entries serialise") + "\n")
                .collect();
            // Durable: every entry is appended to the cache file.
            let (added, _) = cache.import_jsonl(&entries).map_err(|e| {
                data_error(format!(
                    "cannot write the cache {}: {e}; the import stopped at {file} (answers \
                     before the failure are stored)",
                    cache.path().display()
                ))
            })?;
            let _ = writeln!(
                out,
                "{file}: {added} new answers added to {} ({} lines: {} answered, {} already \
                 answered, {} failed, {} unknown)",
                cache.path().display(),
                got.lines,
                got.entries.len(),
                got.already_answered,
                got.failed,
                got.unknown
            );
            for d in got.problems.iter().take(10) {
                let _ = writeln!(out, "  {file}: {d}");
            }
            if got.problems.len() > 10 {
                let _ = writeln!(out, "  … {} more", got.problems.len() - 10);
            }
            lines += got.lines;
            unknown += got.unknown;
            failed += got.failed;
        }
        if lines > 0 && unknown == lines {
            return Err(data_error(format!(
                "{out}none of the {lines} result lines belongs to this plan: import with the \
                 same FILE, --provider, --model, --base-url, --task/--factors, --limit and \
                 --cache-dir as the export"
            )));
        }
        if failed > 0 {
            out.push_str(
                "the failed questions stay unanswered: `profile batch export` asks them again\n",
            );
        }
        Ok(out)
    }
}

/// `requests.jsonl` → `requests-3.jsonl`: the name of part `i` of an export.
pub(super) fn numbered(path: &str, i: usize) -> String {
    let p = std::path::Path::new(path);
    let stem = p
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = match p.extension() {
        Some(ext) => format!("{stem}-{i}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{i}"),
    };
    p.with_file_name(name).to_string_lossy().into_owned()
}
