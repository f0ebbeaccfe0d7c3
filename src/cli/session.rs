//! A model session: key, settings, cache and the Ctrl-C handling of a run, and how a run's outcome is reported.

use super::*;

/// Ctrl-C (SIGINT) and SIGTERM during a model run: the first stops sending
/// and lets the calls in flight finish and be stored; a second exits at once.
#[cfg(unix)]
#[allow(unsafe_code)] // signal handlers: see each SAFETY comment
mod interrupt {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Set by the first signal; the run's cancel flag.
    pub static STOP: AtomicBool = AtomicBool::new(false);
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn on_signal(_: libc::c_int) {
        // Only async-signal-safe calls here: atomics, write(2), _exit(2).
        if COUNT.fetch_add(1, Ordering::SeqCst) >= 1 {
            let msg = b"\ninterrupted again: exiting now; answers in flight are lost\n";
            // SAFETY: write(2) and _exit(2) are async-signal-safe.
            unsafe {
                libc::write(2, msg.as_ptr().cast(), msg.len());
                libc::_exit(130);
            }
        }
        STOP.store(true, Ordering::SeqCst);
        let msg = b"\ninterrupted: no new calls are sent; waiting for the calls in flight to \
store their answers (Ctrl-C again quits at once)\n";
        // SAFETY: write(2) is async-signal-safe.
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
        }
    }

    pub(super) fn set(handler: libc::sighandler_t) {
        // SAFETY: a zeroed sigaction with an empty mask is valid; the
        // handler only touches atomics and async-signal-safe calls.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
            libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        }
    }

    /// Handles the signals for the duration of a run.
    pub fn install() {
        set(on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }

    /// Back to the default (terminate) after the run.
    pub fn uninstall() {
        set(libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
mod interrupt {
    pub static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    pub fn install() {}
    pub fn uninstall() {}
}

/// How a model run ended, as the CLI's outcome: the report is only made
/// from a run that finished and gave something.
pub(super) fn run_outcome(
    what: &str,
    stats: &crate::llm::engine::RunStats,
    failures: &[crate::llm::engine::FailedItem],
    cache: &std::path::Path,
    cap: Option<(f64, f64)>,
) -> Result<(), Failure> {
    let list = |items: &[String]| {
        let mut s: String = items
            .iter()
            .take(5)
            .map(|x| format!("\n  {}", printable(x)))
            .collect();
        if items.len() > 5 {
            let _ = write!(s, "\n  … and {} more", items.len() - 5);
        }
        s
    };
    if !stats.not_stored.is_empty() {
        return Err(data_error(format!(
            "{}\n{} answers were received but not stored (paid for; a re-run asks them again):{}",
            stats
                .stopped
                .as_deref()
                .unwrap_or("the cache could not be written"),
            stats.not_stored.len(),
            list(&stats.not_stored)
        )));
    }
    if stats.cap_reached {
        let (cap, spent) = cap.unwrap_or_default();
        return Err(data_error(format!(
            "{} (they are in {})",
            crate::llm::engine::cap_message(what, cap, spent, stats, "--max-cost"),
            cache.display()
        )));
    }
    if stats.cancelled {
        return Err(Failure {
            message: format!(
                "interrupted: {} answers are stored in {} ({} this run); {} questions were not \
                 asked. Run the same command again to continue: nothing stored is paid again.",
                stats.succeeded + stats.cache_hits,
                cache.display(),
                stats.succeeded,
                stats.remaining()
            ),
            code: 130,
        });
    }
    if let Some(why) = &stats.stopped {
        return Err(data_error(format!(
            "{what}: {why}\n{} questions answered (stored in {}), {} failed or not asked",
            stats.succeeded + stats.cache_hits,
            cache.display(),
            stats.failed
        )));
    }
    if stats.failed > 0 && stats.succeeded + stats.cache_hits + stats.skipped_empty == 0 {
        let reasons: Vec<String> = failures
            .iter()
            .take(3)
            .map(|f| format!("{}: {}", f.question, f.reason))
            .collect();
        return Err(data_error(format!(
            "{what}: nothing usable: all {} questions failed, e.g.:{}",
            stats.failed,
            list(&reasons)
        )));
    }
    Ok(())
}

/// `text` without control characters (ANSI escapes and the like from
/// names and replies), safe to print on a terminal.
pub(super) fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect()
}

/// A plan's answers, the run's statistics and its failed questions.
pub(super) type Answered = (
    crate::llm::extract::Answers,
    crate::llm::engine::RunStats,
    Vec<crate::llm::engine::FailedItem>,
);

/// A provider, its key, the disk cache and the pacing a command's model
/// calls use.
pub(super) struct LlmSession {
    pub(super) mc: crate::llm::provider::ModelConfig,
    pub(super) llm: crate::llm::threads::HttpLlm,
    pub(super) cache: crate::llm::threads::DiskCache,
    pub(super) settings: crate::llm::engine::RunSettings,
    pub(super) price: Option<crate::llm::pricing::Price>,
    pub(super) quiet: bool,
    pub(super) estimate_only: bool,
    /// `--max-cost`: the command's cap, and what its runs spent so far.
    pub(super) cap: Option<crate::llm::engine::CostCap>,
    pub(super) spent_usd: f64,
    /// A second model for the stages marked [`crate::workflow::Stage::evaluator`]
    /// (`profile improve --evaluator-provider/--evaluator-model`), with its
    /// client and price; `None`: the run's model.
    pub(super) evaluator: Option<(ModelConfig, crate::llm::threads::HttpLlm, Option<Price>)>,
}

/// A model-run command's starting point ([`LlmSession::baseline`]).
pub(super) struct Baseline {
    /// The model-based factors on the dataset (`None`: none requested, or
    /// `--estimate`).
    pub(super) values: Option<LlmValues>,
    pub(super) human: crate::agents::HumanSide,
    /// The computed report's human agent (the `--into` report may hold an
    /// older one).
    pub(super) human_agent: Option<crate::report::Agent>,
    /// `--sample`: marked on every agent added.
    sample: Option<crate::report::SampleInfo>,
    /// The report the agents are added to, and where it is written.
    pub(super) report: Report,
    into: Option<String>,
}

impl Baseline {
    /// The judge agent of a judge run's outcome, against this human side.
    pub(super) fn judge_agent(
        &self,
        ds: &crate::data::Dataset,
        cfg: &ScoreConfig,
        outcome: &crate::llm::roles::JudgeOutcome,
        record: crate::report::AgentRun,
    ) -> (crate::report::Agent, Alignment) {
        crate::agents::judge_agent(ds, cfg, self.values.as_ref(), outcome, record, &self.human)
    }

    /// Adds a model's agent to the report (replacing one of its name),
    /// marked with the run's sample.
    pub(super) fn add(
        &mut self,
        ds: &crate::data::Dataset,
        (mut agent, mut alignment): (crate::report::Agent, Alignment),
    ) {
        if let Some(sample) = &self.sample {
            crate::agents::mark_sample(&mut agent, &mut alignment, ds, sample, &self.human);
        }
        crate::agents::add_agent(&mut self.report, agent, alignment);
    }

    /// Writes the report to `--into`, and returns the command's output: the
    /// report as `finish_report` gives it, then `lines` unless `--json`.
    pub(super) fn finish(self, f: &Flags, lines: &[String]) -> Result<String, Failure> {
        write_into(self.into, &self.report)?;
        let mut out = finish_report(f, &self.report)?;
        if !f.switches.iter().any(|s| s == "json") {
            for l in lines {
                out.push_str(l);
                out.push('\n');
            }
        }
        Ok(out)
    }
}

/// The API key for `provider`: `PROFILE_API_KEY`, else the provider's own
/// variables (none needed for an OpenAI-compatible server).
fn api_key(provider: Provider) -> Result<String, Failure> {
    let key = std::iter::once("PROFILE_API_KEY")
        .chain(provider.key_env_vars().iter().copied())
        .find_map(|v| std::env::var(v).ok().filter(|k| !k.trim().is_empty()))
        .unwrap_or_default();
    if key.is_empty() && provider != Provider::OpenAiCompatible {
        let vars: Vec<&str> = std::iter::once("PROFILE_API_KEY")
            .chain(provider.key_env_vars().iter().copied())
            .collect();
        return Err(data_error(format!("no API key: set {}", vars.join(" or "))));
    }
    Ok(key)
}

impl LlmSession {
    /// The session of `profile COMMAND`, which needs `--provider` (and
    /// `--model`).
    pub(super) fn for_command(f: &Flags, command: &str) -> Result<LlmSession, Failure> {
        let provider = f.values.get("provider").ok_or_else(|| {
            usage_error(format!("`profile {command}` needs --provider and --model"))
        })?;
        LlmSession::open(f, provider)
    }

    pub(super) fn open(f: &Flags, provider: &str) -> Result<LlmSession, Failure> {
        use crate::llm::engine::RunSettings;
        use crate::llm::threads::HttpLlm;

        use crate::llm::settings::{ATTEMPTS, CONCURRENCY, RPM, TIMEOUT, TPM};
        let mc = model_config(f, provider)?;
        let provider = mc.provider;
        let mut settings = RunSettings::default();
        if let Some(c) = parse_field(f, CONCURRENCY)? {
            settings.concurrency = c as usize;
        }
        settings.requests_per_minute = parse_field(f, RPM)?;
        settings.tokens_per_minute = parse_field(f, TPM)?;
        if let Some(t) = parse_field(f, TIMEOUT)? {
            settings.retry.timeout_s = t;
        }
        if let Some(a) = parse_field(f, ATTEMPTS)? {
            settings.retry.max_attempts = a as u32;
        }
        let price = price_flags(f, &mc)?;
        let cap = match parse_field(f, crate::llm::settings::MAX_COST)? {
            None => None,
            Some(max_usd) => {
                // A compatible server's price is 0 unless given: a cap needs it given.
                let explicit = f.values.contains_key("price-in");
                match price.filter(|_| explicit || provider != Provider::OpenAiCompatible) {
                    Some(price) => Some(crate::llm::engine::CostCap { max_usd, price }),
                    None => {
                        return Err(usage_error(format!(
                            "--max-cost: the prices of `{}` at {} are not known, so the cap \
                             cannot be kept; give --price-in and --price-out (US dollars per \
                             million tokens; 0 and 0 for a free local server)",
                            mc.model,
                            mc.effective_base_url()
                        )))
                    }
                }
            }
        };
        let key = api_key(provider)?;
        let (cache, bad) = open_cache(f)?;
        let quiet = f.switches.iter().any(|s| s == "quiet");
        if !quiet {
            warn_cache_lines(cache.path(), &bad);
        }
        let llm = HttpLlm::new(
            mc.clone(),
            key,
            crate::llm::schedule::duration_s(settings.retry.timeout_s),
        );
        Ok(LlmSession {
            mc,
            llm,
            cache,
            settings,
            price,
            quiet,
            estimate_only: f.switches.iter().any(|s| s == "estimate"),
            cap,
            spent_usd: 0.0,
            evaluator: None,
        })
    }

    /// The evaluator of `--evaluator-provider` / `--evaluator-model` /
    /// `--evaluator-base-url` (a provider alone keeps the run's model name
    /// only if none is given: it needs `--evaluator-model`; a model alone
    /// keeps the run's provider and base URL). Its price is the price
    /// table's. Returns the evaluator's model.
    pub(super) fn open_evaluator(&mut self, f: &Flags) -> Result<ModelConfig, Failure> {
        let provider = f.values.get("evaluator-provider");
        let model = f.values.get("evaluator-model");
        if provider.is_none() && model.is_none() {
            if f.values.contains_key("evaluator-base-url") {
                return Err(usage_error(
                    "--evaluator-base-url needs --evaluator-model (and --evaluator-provider)",
                ));
            }
            return Ok(self.mc.clone());
        }
        let provider = match provider {
            Some(p) => Provider::from_id(p).ok_or_else(|| {
                usage_error(format!(
                    "unknown --evaluator-provider `{p}`; use openai, anthropic, gemini or openai-compatible"
                ))
            })?,
            None => self.mc.provider,
        };
        let model =
            model.ok_or_else(|| usage_error("--evaluator-provider needs --evaluator-model"))?;
        let mut mc = ModelConfig::new(provider, model.clone());
        mc.base_url = match f.values.get("evaluator-base-url") {
            Some(u) => Some(u.clone()),
            None if provider == self.mc.provider => self.mc.base_url.clone(),
            None => None,
        };
        mc.logprobs = self.mc.logprobs;
        let key = api_key(provider)?;
        let llm = crate::llm::threads::HttpLlm::new(
            mc.clone(),
            key,
            crate::llm::schedule::duration_s(self.settings.retry.timeout_s),
        );
        let price = price_of(mc.provider.id(), &mc.model);
        self.evaluator = Some((mc.clone(), llm, price));
        Ok(mc)
    }

    /// Answers every stage of `workflow` (estimate, then the run) and
    /// returns its outcome. `None`: only the estimate was asked for.
    pub(super) fn drive(
        &mut self,
        workflow: crate::workflow::Workflow,
    ) -> Result<Option<crate::workflow::Outcome>, Failure> {
        let mut workflow = workflow.with_cap(self.cap.map(|c| c.after(self.spent_usd)));
        // A run memo answers a re-run of a settled extraction before it
        // plans: no plan, no question keyed, no answer decoded.
        let run_key = self
            .cache
            .memo_build()
            .and_then(|build| workflow.memo_key(&build));
        if let Some(bytes) = run_key.as_ref().and_then(|k| self.cache.run_memo(k)) {
            let cap = workflow.stage_cap();
            if let Some(hit) = workflow.answer_from_memo(bytes) {
                self.settings.cap = cap;
                let est = crate::llm::engine::Estimate {
                    cached: hit.stats.cache_hits,
                    cost_usd: self.price.map(|p| p.cost(0.0, 0.0)),
                    ..Default::default()
                };
                if !self.quiet {
                    warn_cache_lines(self.cache.path(), &self.cache.take_problems());
                }
                let summary = self.stage_summary(hit.what, hit.shape, &est);
                if self.estimate_only {
                    println!("{summary}");
                    return Ok(None);
                }
                if !self.quiet {
                    eprintln!("{summary}");
                    eprintln!("{}", progress_line(hit.what, &hit.stats));
                }
                return Ok(workflow.finish());
            }
        }
        if run_key.is_some() {
            workflow = workflow.keeping_memo();
        }
        while let Some(stage) = workflow.next_stage() {
            self.settings.cap = match (stage.cap, stage.evaluator, &self.evaluator) {
                // The evaluator's calls are charged at its own prices.
                (Some(cap), true, Some((emc, _, eprice))) => match eprice {
                    Some(price) => Some(crate::llm::engine::CostCap {
                        price: *price,
                        ..cap
                    }),
                    None => {
                        return Err(usage_error(format!(
                            "--max-cost: the prices of the evaluator `{}` are not known, so the \
                             cap cannot be kept; give its prices or run without a cap",
                            emc.model
                        )))
                    }
                },
                (cap, _, _) => cap,
            };
            let Some((answers, stats, failures)) = self.execute_as(
                stage.what,
                &stage.plan,
                &stage.dataset,
                stage.opts,
                stage.evaluator,
            )?
            else {
                return Ok(None);
            };
            workflow.answered(answers, &stats, &failures);
            if let (Some(key), Some(bytes)) = (&run_key, workflow.take_memo()) {
                self.cache.keep_run_memo(key, &bytes);
            }
        }
        Ok(workflow.finish())
    }

    /// A stage's estimate line: `what`, its plan's counts, the estimate and
    /// the cost cap.
    fn stage_summary(
        &self,
        what: &str,
        plan: crate::llm::extract::PlanShape,
        est: &crate::llm::engine::Estimate,
    ) -> String {
        let detail = if plan.unique_responses > 0 {
            let per = plan.calls_per_unique_response();
            format!(
                " ({:.2} per unique response over {} responses + {} source-fact calls)",
                per.per_unique_response, plan.unique_responses, per.source_fact_calls
            )
        } else {
            String::new()
        };
        let mut summary = format!(
            "{what} estimate: {} questions{detail}, {} cached, ~{} calls, ~{:.0}k input + ~{:.0}k output tokens, {}",
            plan.questions,
            est.cached,
            est.calls,
            est.input_tokens / 1e3,
            est.output_tokens / 1e3,
            est.cost_usd.map_or(
                "cost unknown (give --price-in/--price-out)".to_owned(),
                |c| format!("~${c:.2}")
            )
        );
        if let (Some(cap), Some(cost)) = (self.settings.cap, est.cost_usd) {
            let left = cap.max_usd;
            let _ = write!(
                summary,
                "; cost cap ${:.2}{}",
                self.cap.map_or(left, |c| c.max_usd),
                if cost > left {
                    " (the estimate is over it: the run stops at the cap; cached answers are kept)"
                } else {
                    ""
                }
            );
        }
        summary
    }

    /// Prints the estimate, then (unless `--estimate`) answers the plan with
    /// live progress on a terminal, asking the evaluator model when
    /// `evaluator` is set and one was opened. `None`: only the estimate was
    /// asked for.
    pub(super) fn execute_as(
        &mut self,
        what: &str,
        plan: &crate::llm::extract::Plan,
        ds: &crate::data::Dataset,
        opts: crate::llm::extract::ExtractOptions,
        evaluator: bool,
    ) -> Result<Option<Answered>, Failure> {
        let (mc, llm, price) = match (&self.evaluator, evaluator) {
            (Some((mc, llm, price)), true) => (mc, llm, *price),
            _ => (&self.mc, &self.llm, self.price),
        };
        // A stage memo answers a re-run of a settled plan with no lookup.
        let memo_key = self.cache.memo_key(plan, ds, opts, mc);
        let memo = memo_key
            .as_ref()
            .and_then(|k| self.cache.memo_answers(k, plan));
        let est = match &memo {
            Some((_, stats)) => crate::llm::engine::Estimate {
                cached: stats.cache_hits,
                cost_usd: price.map(|p| p.cost(0.0, 0.0)),
                ..Default::default()
            },
            None => crate::llm::engine::estimate(plan, ds, opts, mc, &self.cache, price),
        };
        if !self.quiet {
            warn_cache_lines(self.cache.path(), &self.cache.take_problems());
        }
        let summary = self.stage_summary(what, plan.shape(), &est);
        if self.estimate_only {
            println!("{summary}");
            return Ok(None);
        }
        if !self.quiet {
            eprintln!("{summary}");
        }
        if let Some((answers, stats)) = memo {
            if !self.quiet {
                eprintln!("{}", progress_line(what, &stats));
            }
            return Ok(Some((answers, stats, Vec::new())));
        }
        // Live progress only on a terminal, at most five times a second.
        let live = !self.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let last_print = std::sync::Mutex::new(std::time::Instant::now());
        let progress = |s: &crate::llm::engine::RunStats| {
            let mut last = last_print.lock().expect("progress clock");
            if live && last.elapsed().as_millis() >= 200 {
                *last = std::time::Instant::now();
                eprint!("\r{}   ", progress_line(what, s));
            }
        };
        interrupt::install();
        let out = crate::llm::threads::run_plan(
            plan,
            ds,
            opts,
            llm,
            &mut self.cache,
            &self.settings,
            &interrupt::STOP,
            &progress,
        );
        interrupt::uninstall();
        if !self.quiet {
            let s = &out.1;
            eprintln!("\r{}", progress_line(what, s));
        }
        if !self.quiet {
            warn_cache_lines(self.cache.path(), &self.cache.take_problems());
        }
        if let Some(k) = &memo_key {
            self.cache.keep_memo(k, plan, &out.0, &out.1);
        }
        self.spent_usd += out.1.spent_usd;
        let cap = self.cap.map(|c| (c.max_usd, self.spent_usd));
        run_outcome(what, &out.1, &out.2, self.cache.path(), cap)?;
        Ok(Some(out))
    }

    /// What every model-run command starts from: the model-based factors
    /// among `cfg`'s extracted on the dataset (cached; `None` with no such
    /// factor, or with `--estimate`), the human side and the report the
    /// run's agents are added to (`into`'s, checked against the one computed
    /// here, so that a report of other data or factors is refused before any
    /// judge or writer call). `Ok(None)`: the extraction was only estimated
    /// or gave nothing; the command ends there.
    pub(super) fn baseline(
        &mut self,
        ds: &std::rc::Rc<crate::data::Dataset>,
        cfg: &ScoreConfig,
        info: &DatasetInfo,
        into: Option<(String, Option<Report>)>,
    ) -> Result<Option<Baseline>, Failure> {
        let values = if cfg.requested().iter().any(|f| f.needs_model()) {
            match self.extract(ds, cfg)? {
                Some(v) => Some(v),
                None if self.estimate_only => None,
                None => return Ok(None),
            }
        } else {
            None
        };
        let computed = score_report_with(ds, cfg, info, values.as_ref());
        let human = crate::agents::human_side(ds, cfg, values.as_ref());
        let human_agent = computed.agent("human").cloned();
        let (report, into) = into_report(into, computed)?;
        Ok(Some(Baseline {
            values,
            human,
            human_agent,
            sample: info.sample.clone(),
            report,
            into,
        }))
    }

    /// Extracts the model-based factors among `cfg`'s (cached). `Ok(None)`:
    /// `--estimate` only.
    pub(super) fn extract(
        &mut self,
        ds: &std::rc::Rc<crate::data::Dataset>,
        cfg: &ScoreConfig,
    ) -> Result<Option<LlmValues>, Failure> {
        use crate::workflow::{Kind, Outcome, Workflow};
        let wf = Workflow::new(Kind::Extract, ds.clone(), cfg, &self.mc);
        Ok(match self.drive(wf)? {
            Some(Outcome::Extract(values)) => Some(values),
            _ => None,
        })
    }
}

/// The model of `--provider`, `--model`, `--base-url` and `--no-logprobs`.
pub(super) fn model_config(f: &Flags, provider: &str) -> Result<ModelConfig, Failure> {
    let provider = Provider::from_id(provider).ok_or_else(|| {
        usage_error(format!(
            "unknown provider `{provider}`; use openai, anthropic, gemini or openai-compatible"
        ))
    })?;
    let model = f
        .values
        .get("model")
        .ok_or_else(|| usage_error("--provider needs --model"))?;
    let mut mc = ModelConfig::new(provider, model.clone());
    mc.base_url = f.values.get("base-url").cloned();
    if f.switches.iter().any(|s| s == "no-logprobs") {
        mc.logprobs = false;
    }
    Ok(mc)
}

/// The answer cache in `--cache-dir` (default `.profile-cache`) and its
/// unreadable lines.
pub(super) fn open_cache(f: &Flags) -> Result<(DiskCache, Vec<crate::data::Diagnostic>), Failure> {
    let dir = f
        .values
        .get("cache-dir")
        .map_or(".profile-cache", String::as_str);
    DiskCache::open(std::path::Path::new(dir))
        .map_err(|e| data_error(format!("cannot open the cache in {dir}: {e}")))
}

/// Warns about the cache lines that were skipped, with their numbers (the
/// first ten); their questions are asked again.
pub(super) fn warn_cache_lines(path: &std::path::Path, bad: &[crate::data::Diagnostic]) {
    if bad.is_empty() {
        return;
    }
    eprintln!(
        "warning: {} unreadable lines in {} were skipped (their questions are asked again):",
        bad.len(),
        path.display()
    );
    for d in bad.iter().take(10) {
        eprintln!("  {}", printable(&d.to_string()));
    }
    if bad.len() > 10 {
        eprintln!("  … and {} more", bad.len() - 10);
    }
}

/// ", waited N s to retry" when retries waited.
/// "judge: 12 questions: 10 done, 2 cached, 0 failed; 10 calls, 3400 tokens",
/// live and at the end of a run.
pub(super) fn progress_line(what: &str, s: &crate::llm::engine::RunStats) -> String {
    let waited = if s.waited_s >= 1.0 {
        format!(", waited {:.0} s to retry", s.waited_s)
    } else {
        String::new()
    };
    format!(
        "{what}: {} questions: {} done, {} cached, {} failed; {} calls, {} tokens{waited}",
        s.questions,
        s.succeeded,
        s.cache_hits,
        s.failed,
        s.calls,
        s.input_tokens + s.output_tokens,
    )
}

/// `--price-in` and `--price-out`, else the price table's entry for the model.
pub(super) fn price_flags(f: &Flags, mc: &ModelConfig) -> Result<Option<Price>, Failure> {
    use crate::llm::settings::{PRICE_IN, PRICE_OUT};
    Ok(
        match (parse_field(f, PRICE_IN)?, parse_field(f, PRICE_OUT)?) {
            (Some(i), Some(o)) => Some(Price {
                input_per_m: i,
                output_per_m: o,
            }),
            (None, None) => price_of(mc.provider.id(), &mc.model),
            _ => return Err(usage_error("give both --price-in and --price-out")),
        },
    )
}
