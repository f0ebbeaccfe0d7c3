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
        "factor-pack",
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
        "into",
        "factor",
        "rand-factor",
        "evaluator-model",
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
        "guide" => {
            if single {
                return Err(usage_error(
                    "guided judging shows every pair in both orders",
                ));
            }
            let choice = batch_choice(&f, &cfg, &mc.model)?;
            Kind::Guide {
                order: crate::llm::roles::JudgeOrder::Both,
                mis: choice.mis.0,
                rand: choice.rand.map(|r| r.0),
            }
        }
        "improve" => Kind::Improve {
            inputs: parse_num(&f, "inputs")?,
            order: crate::llm::roles::JudgeOrder::new(single, cfg.bootstrap.seed),
        },
        other => {
            return Err(usage_error(format!(
                "--run takes extract, judge, writer, guide or improve, not `{other}`"
            )))
        }
    };
    if f.values.contains_key("evaluator-model") && !matches!(kind, Kind::Improve { .. }) {
        return Err(usage_error("--evaluator-model applies to --run improve"));
    }
    if !matches!(kind, Kind::Guide { .. }) {
        for o in ["into", "factor", "rand-factor"] {
            if f.values.contains_key(o) {
                return Err(usage_error(format!("--{o} applies to --run guide")));
            }
        }
    }
    let ds = std::rc::Rc::new(ds);
    if matches!(kind, Kind::Improve { .. }) {
        return batch_improve(
            &f, kind, ds, &cfg, &mc, format, stage, price, export, results,
        );
    }
    let mut workflow = Workflow::new(kind, ds.clone(), &cfg, &mc);
    let Some(first) = workflow.first().cloned() else {
        return Err(data_error("nothing to ask"));
    };
    let opts = first.opts;
    let mut plan = first.plan;
    if matches!(kind, Kind::Guide { .. }) {
        // Every condition's questions at once: they do not depend on one
        // another's answers (the workflow's stages, answered with nothing).
        plan = Plan::default();
        while let Some(stage) = workflow.next_stage() {
            plan.first.extend(stage.plan.first);
            workflow.answered(
                Default::default(),
                &crate::llm::engine::RunStats::default(),
                &[],
            );
        }
    }
    let plan = &plan;
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

/// `--run improve`: its stages depend on the answers before them (the
/// first responses before the feedback, the feedback before the
/// improvements), so a batch holds the first stage of the workflow the cache
/// does not answer whole, asked of that stage's model (the evaluator's
/// stages of `--evaluator-model`, same provider); the stages before it are
/// answered from the cache. Export, submit, import, and export again for the
/// next stage; then `profile improve` with the same flags makes no call.
#[allow(clippy::too_many_arguments)]
fn batch_improve(
    f: &Flags,
    kind: crate::workflow::Kind,
    ds: std::rc::Rc<crate::data::Dataset>,
    cfg: &ScoreConfig,
    mc: &ModelConfig,
    format: crate::llm::batch::BatchFormat,
    stage: crate::llm::batch::StageChoice,
    price: Option<Price>,
    export: bool,
    results: &[String],
) -> Result<String, Failure> {
    use crate::llm::engine::{Run, RunStats};
    let mut evaluator = mc.clone();
    if let Some(m) = f.values.get("evaluator-model") {
        evaluator.model = m.clone();
    }
    let mut workflow = crate::workflow::Workflow::new(kind, ds, cfg, mc).with_evaluator(&evaluator);
    let (mut cache, bad) = open_cache(f)?;
    warn_cache_lines(cache.path(), &bad);
    while let Some(st) = workflow.next_stage() {
        let model = if st.evaluator { &evaluator } else { mc };
        let mut stats = RunStats::default();
        let mut run = Run::new(st.plan.clone(), st.opts, model.clone(), &mut stats);
        let mut open = false;
        while let Some(jobs) = run.next_stage(&st.dataset, &cache, &mut stats) {
            if !jobs.is_empty() {
                open = true;
                break;
            }
        }
        if open {
            eprintln!(
                "improve: the stage `{}` (model {}) is not answered whole",
                st.what, model.model
            );
            let batch = BatchRun {
                format,
                mc: model,
                ds: &st.dataset,
                opts: st.opts,
                plan: &st.plan,
            };
            return if export {
                batch.export(f, &cache, stage, price)
            } else {
                batch.import(results, &mut cache)
            };
        }
        let answers = std::mem::take(&mut run.answers);
        workflow.answered(answers, &stats, &[]);
    }
    eprintln!(
        "nothing to {}: every stage of the improvement run is answered (`profile improve` with \
the same flags reads them from the cache)",
        if export { "export" } else { "import into" }
    );
    Ok(String::new())
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
