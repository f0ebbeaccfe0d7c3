//! The `profile` command line (native only): argument parsing and output.
//! Everything it computes comes from the core; this module only reads files,
//! parses flags and prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use crate::analysis::{
    score_report, score_report_with, DatasetInfo, LlmValues, ScoreConfig, Selection,
};
use crate::data::{load_reader, Format, FormatOptions, SummEvalLabel};
use crate::factors::{Factor, Task};
use crate::llm::extract::{ExtractOptions, Plan};
use crate::llm::pricing::{price_of, Price};
use crate::llm::provider::{ModelConfig, Provider};
use crate::llm::run::DiskCache;
use crate::report::{Alignment, Report};
use crate::stats::{BootstrapConfig, PermutationConfig};

const USAGE: &str = "\
profile: factor-level explanations of human (and model) preferences

USAGE:
  profile score FILE [--task summarization|helpful|doc_qa] [--factors a,b,...]
                     [--format NAME] [--label ASPECT] [--bootstrap N] [--seed S]
                     [--sample N] [--max-record-mb N] [--json] [--out REPORT.json]
                     [--provider openai|anthropic|gemini|openai-compatible --model M
                      [--base-url URL] [--limit N] [--concurrency N] [--rpm N] [--tpm N]
                      [--timeout SECONDS] [--attempts N] [--cache-dir DIR] [--no-logprobs]
                      [--price-in USD_PER_M --price-out USD_PER_M] [--estimate]]
                     [--annotations VALUES.jsonl]
  profile judge FILE --provider P --model M [score's selection and provider options]
                     [--single-order] [--into REPORT.json]
                     the model judges every pair (both orders unless --single-order; in
                     single order each pair's order is a coin flip seeded with --seed)
  profile generate FILE --provider P --model M [score's selection and provider options]
                     [--inputs N] [--into REPORT.json]
                     the model writes responses for scores 1..5 for N inputs
  profile cache export [--cache-dir DIR]          the LLM answer cache as JSONL
  profile cache import FILE [--cache-dir DIR]     merge shared answers into the cache
  profile batch export FILE --provider openai|anthropic|openai-compatible --model M
                     [--base-url URL] [--task T] [--factors a,b,...] [--format NAME]
                     [--label ASPECT] [--limit N | --sample N [--seed S]] [--no-logprobs]
                     [--cache-dir DIR]
                     [--stage 2] [--price-in USD_PER_M --price-out USD_PER_M]
                     [--run extract|judge|writer [--single-order] [--inputs N]]
                     [--out REQUESTS.jsonl]
  profile batch import RESULTS.jsonl... FILE --provider P --model M [the same
                     selection flags as the export] [--cache-dir DIR]
  profile align FILE.json [--permutations N] [--seed S] [--json]
  profile formats      list the dataset formats
  profile factors      list the factors and task presets
  profile --help | --version

FILE is JSONL, a JSON array, or either gzipped; `-` reads standard input.
The format is detected from the fields; --format overrides it.
A record (line or array element) over --max-record-mb MiB (default 8, at most 1024) is
skipped with a diagnostic. --bootstrap takes at most 100000 resamples, --permutations
at most 1000000.
--label picks the SummEval rating used as the label (mean|coherence|consistency|fluency|relevance).
With --provider, factors that need a model are extracted by it; the key comes from
PROFILE_API_KEY or the provider's usual variable (OPENAI_API_KEY, ANTHROPIC_API_KEY,
GEMINI_API_KEY), answers are cached in .profile-cache/ (re-runs repeat no paid call),
and --limit N runs on the first N pairs. --sample N keeps N inputs drawn at random (seeded
with --seed, recorded in the report) with all their pairs: on grouped data the first pairs are
a handful of inputs. Before a run the estimated calls, tokens and
cost are printed; --estimate prints them and stops. --annotations imports factor values
computed elsewhere: one JSON object per line with `text` (a response) and `factors` (id → value).
judge and generate add the model as an agent (evaluation / generation setting) beside the
humans, with its factor scores and its alignment with theirs; --into REPORT.json adds it to an
existing report of the same data and factors (several models side by side) and rewrites it.
`profile batch export` writes the requests of the next unanswered stage as an OpenAI Batch API
or Anthropic Message Batches file (no key is needed or written; --out FILE, else stdout);
submit it with the provider's tools, then `profile batch import` its results file into the
cache, and export again until it says nothing is left. `profile score` with the same flags
then makes no call for what was imported.
";

/// A command-line failure: the message and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

fn usage_error(msg: impl Into<String>) -> Failure {
    Failure {
        message: format!("{}\n\n{USAGE}", msg.into()),
        code: 2,
    }
}

fn data_error(msg: impl Into<String>) -> Failure {
    Failure {
        message: msg.into(),
        code: 1,
    }
}

/// Runs the CLI with `args` (without the program name), writing to `out`.
///
/// # Errors
/// A [`Failure`] with the message to print on standard error and the exit code.
pub fn run(args: &[String], out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let Some(cmd) = args.first() else {
        return Err(usage_error("no command given"));
    };
    let rest = &args[1..];
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        let text =
            command_help(cmd).ok_or_else(|| usage_error(format!("unknown command `{cmd}`")))?;
        return out
            .write_all(text.as_bytes())
            .map_err(|e| data_error(format!("cannot write the output: {e}")));
    }
    let text = match cmd.as_str() {
        "score" => cmd_score(rest)?,
        "judge" => cmd_model_run(rest, "judge")?,
        "generate" => cmd_model_run(rest, "generate")?,
        "align" => cmd_align(rest)?,
        "cache" => cmd_cache(rest)?,
        "batch" => cmd_batch(rest)?,
        "formats" => list_formats(),
        "factors" => list_factors(),
        "-h" | "--help" | "help" => USAGE.to_owned(),
        "-V" | "--version" => format!("profile {}\n", env!("CARGO_PKG_VERSION")),
        other => return Err(usage_error(format!("unknown command `{other}`"))),
    };
    out.write_all(text.as_bytes())
        .map_err(|e| data_error(format!("cannot write the output: {e}")))
}

/// The part of the usage about `cmd` (its `profile cmd …` entries), then
/// the notes; `None` for an unknown command.
fn command_help(cmd: &str) -> Option<String> {
    let (head, rest) = USAGE.split_once("USAGE:\n")?;
    let (entries, notes) = rest.split_once("\n\n")?;
    let mut mine = String::new();
    let mut inside = false;
    for line in entries.lines() {
        if let Some(p) = line.strip_prefix("  profile ") {
            inside = p.split_whitespace().next() == Some(cmd);
        }
        if inside {
            mine.push_str(line);
            mine.push('\n');
        }
    }
    (!mine.is_empty()).then(|| format!("{head}USAGE:\n{mine}\n{notes}"))
}

/// Parsed flags: positional arguments and `--name value` / `--switch`.
struct Flags {
    positional: Vec<String>,
    values: BTreeMap<String, String>,
    switches: Vec<String>,
}

fn parse_flags(args: &[String], with_value: &[&str], switches: &[&str]) -> Result<Flags, Failure> {
    let mut f = Flags {
        positional: Vec::new(),
        values: BTreeMap::new(),
        switches: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (name, None),
            };
            if with_value.contains(&name) {
                let v = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| usage_error(format!("--{name} needs a value")))?,
                };
                f.values.insert(name.to_owned(), v);
            } else if switches.contains(&name) && inline.is_none() {
                f.switches.push(name.to_owned());
            } else {
                return Err(usage_error(format!("unknown option --{name}")));
            }
        } else {
            f.positional.push(a.clone());
        }
    }
    Ok(f)
}

fn open_input(path: &str) -> Result<Box<dyn std::io::Read>, Failure> {
    if path == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    std::fs::File::open(path)
        .map(|f| Box::new(f) as Box<dyn std::io::Read>)
        .map_err(|e| data_error(format!("cannot open {path}: {e}")))
}

fn parse_factors(list: &str) -> Result<Vec<Factor>, Failure> {
    if list.split(',').all(|s| s.trim().is_empty()) {
        return Err(usage_error(
            "--factors takes a comma-separated list of factor ids (see `profile factors`), not an empty one",
        ));
    }
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            Factor::from_id(s).ok_or_else(|| {
                let known: Vec<&str> = Factor::ALL.iter().map(|f| f.id()).collect();
                usage_error(format!(
                    "unknown factor `{}`; known factors: {}",
                    s.trim(),
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// Options that only make sense with `--provider`.
const PROVIDER_OPTIONS: [&str; 12] = [
    "provider",
    "model",
    "base-url",
    "limit",
    "concurrency",
    "rpm",
    "tpm",
    "timeout",
    "attempts",
    "cache-dir",
    "price-in",
    "price-out",
];

/// The options `score`, `judge` and `generate` share.
const STUDY_OPTIONS: [&str; 9] = [
    "max-record-mb",
    "task",
    "factors",
    "format",
    "label",
    "bootstrap",
    "seed",
    "sample",
    "out",
];

/// A loaded dataset with the scoring configuration the flags ask for.
struct Study {
    ds: crate::data::Dataset,
    cfg: ScoreConfig,
    info: DatasetInfo,
}

fn load_study(f: &Flags, command: &str) -> Result<Study, Failure> {
    let [path] = f.positional.as_slice() else {
        return Err(usage_error(format!("`profile {command}` takes one FILE")));
    };
    load_study_at(f, path)
}

fn load_study_at(f: &Flags, path: &str) -> Result<Study, Failure> {
    let format = parse_named(f, "format", Format::from_name, || {
        let known: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        format!("known formats: {}", known.join(", "))
    })?;
    let label = parse_named(f, "label", SummEvalLabel::from_name, || {
        "use mean, coherence, consistency, fluency or relevance".into()
    })?;
    let task = parse_named(f, "task", Task::from_id, || {
        "use summarization, helpful or doc_qa".into()
    })?;
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
    };
    let mut ds =
        load_reader(open_input(path)?, opts).map_err(|e| data_error(format!("{path}: {e}")))?;
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
    if label.is_some() && fmt != Some(Format::SummEval) {
        return Err(usage_error(format!(
            "--label applies to SummEval data; {path} is {}",
            fmt.map_or("unknown", |f| f.name())
        )));
    }
    let task = task.unwrap_or_else(|| ds.default_task());
    let cfg = ScoreConfig {
        task,
        factors,
        bootstrap,
    };
    let info = DatasetInfo {
        name: std::path::Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned()),
        label: (fmt == Some(Format::SummEval)).then(|| label.unwrap_or_default().name().to_owned()),
        sample,
    };
    Ok(Study { ds, cfg, info })
}

/// `--sample N` (a seeded sample of N inputs with all their pairs, seeded
/// with `--seed`) or `--limit N` (the first N pairs).
fn selection_flags(f: &Flags, seed: u64) -> Result<Selection, Failure> {
    match (parse_num::<usize>(f, "sample")?, parse_num::<usize>(f, "limit")?) {
        (Some(_), Some(_)) => Err(usage_error(
            "give --sample N (a seeded sample of N inputs) or --limit N (the first N pairs), not both",
        )),
        (Some(0), None) => Err(usage_error("--sample takes a number of inputs, at least 1")),
        (Some(n), None) => Ok(Selection::Inputs { n, seed }),
        (None, Some(n)) => Ok(Selection::FirstPairs { n }),
        (None, None) => Ok(Selection::All),
    }
}

/// Writes the report to `--out` (if given) and returns what to print.
fn finish_report(f: &Flags, report: &Report) -> Result<String, Failure> {
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

fn cmd_score(args: &[String]) -> Result<String, Failure> {
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

/// A named option parsed by `parse`; an unknown value is a usage error that
/// says what is accepted.
fn parse_named<T>(
    f: &Flags,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    accepted: impl Fn() -> String,
) -> Result<Option<T>, Failure> {
    f.values
        .get(name)
        .map(|v| {
            parse(v).ok_or_else(|| usage_error(format!("unknown {name} `{v}`; {}", accepted())))
        })
        .transpose()
}

fn parse_num<T: std::str::FromStr>(f: &Flags, name: &str) -> Result<Option<T>, Failure> {
    f.values
        .get(name)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| usage_error(format!("--{name} takes a number, not `{v}`")))
        })
        .transpose()
}

/// A numeric flag checked against its range in the table the app's form
/// uses ([`crate::llm::settings::Field`]).
fn parse_field(f: &Flags, field: crate::llm::settings::Field) -> Result<Option<f64>, Failure> {
    f.values
        .get(field.flag)
        .map(|v| {
            field
                .parse(v)
                .map_err(|why| usage_error(format!("--{} {why}, not `{v}`", field.flag)))
        })
        .transpose()
}

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

    fn set(handler: libc::sighandler_t) {
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
fn run_outcome(
    what: &str,
    stats: &crate::llm::engine::RunStats,
    failures: &[crate::llm::engine::FailedItem],
    cache: &std::path::Path,
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
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect()
}

/// A provider, its key, the disk cache and the pacing a command's model
/// calls use.
struct LlmSession {
    mc: crate::llm::provider::ModelConfig,
    llm: crate::llm::run::HttpLlm,
    cache: crate::llm::run::DiskCache,
    settings: crate::llm::engine::RunSettings,
    price: Option<crate::llm::pricing::Price>,
    quiet: bool,
    estimate_only: bool,
}

impl LlmSession {
    fn open(f: &Flags, provider: &str) -> Result<LlmSession, Failure> {
        use crate::llm::engine::RunSettings;
        use crate::llm::run::HttpLlm;

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
        })
    }

    /// Answers every stage of `workflow` (estimate, then the run) and
    /// returns its outcome. `None`: only the estimate was asked for.
    fn drive(
        &mut self,
        mut workflow: crate::workflow::Workflow,
    ) -> Result<Option<crate::workflow::Outcome>, Failure> {
        while let Some(stage) = workflow.next_stage() {
            let Some((answers, stats, failures)) =
                self.execute(stage.what, &stage.plan, &stage.dataset, stage.opts)?
            else {
                return Ok(None);
            };
            workflow.answered(answers, &stats, &failures);
        }
        Ok(workflow.finish())
    }

    /// Prints the estimate, then (unless `--estimate`) answers the plan with
    /// live progress on a terminal. `None`: only the estimate was asked for.
    fn execute(
        &mut self,
        what: &str,
        plan: &crate::llm::extract::Plan,
        ds: &crate::data::Dataset,
        opts: crate::llm::extract::ExtractOptions,
    ) -> Result<
        Option<(
            crate::llm::extract::Answers,
            crate::llm::engine::RunStats,
            Vec<crate::llm::engine::FailedItem>,
        )>,
        Failure,
    > {
        let est = crate::llm::engine::estimate(plan, ds, opts, &self.mc, &self.cache, self.price);
        let detail = if plan.unique_responses > 0 {
            let per = plan.calls_per_unique_response();
            format!(
                " ({:.2} per unique response over {} responses + {} source-fact calls)",
                per.per_unique_response, plan.unique_responses, per.source_fact_calls
            )
        } else {
            String::new()
        };
        let summary = format!(
            "{what} estimate: {} questions{detail}, {} cached, ~{} calls, ~{:.0}k input + ~{:.0}k output tokens, {}",
            plan.len(),
            est.cached,
            est.calls,
            est.input_tokens / 1e3,
            est.output_tokens / 1e3,
            est.cost_usd.map_or(
                "cost unknown (give --price-in/--price-out)".to_owned(),
                |c| format!("~${c:.2}")
            )
        );
        if self.estimate_only {
            println!("{summary}");
            return Ok(None);
        }
        if !self.quiet {
            eprintln!("{summary}");
        }
        // Live progress only on a terminal, at most five times a second.
        let live = !self.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let last_print = std::sync::Mutex::new(std::time::Instant::now());
        let progress = |s: &crate::llm::engine::RunStats| {
            let mut last = last_print.lock().expect("progress clock");
            if live && last.elapsed().as_millis() >= 200 {
                *last = std::time::Instant::now();
                eprint!(
                    "\r{what}: {} questions: {} done, {} cached, {} failed, {} calls, {} tokens{}   ",
                    s.questions,
                    s.succeeded,
                    s.cache_hits,
                    s.failed,
                    s.calls,
                    s.input_tokens + s.output_tokens,
                    waited(s)
                );
            }
        };
        interrupt::install();
        let out = crate::llm::run::run_plan(
            plan,
            ds,
            opts,
            &self.llm,
            &mut self.cache,
            &self.settings,
            &interrupt::STOP,
            &progress,
        );
        interrupt::uninstall();
        if !self.quiet {
            let s = &out.1;
            eprintln!(
                "\r{what}: {} questions: {} done, {} cached, {} failed; {} calls, {} tokens{}",
                s.questions,
                s.succeeded,
                s.cache_hits,
                s.failed,
                s.calls,
                s.input_tokens + s.output_tokens,
                waited(s)
            );
        }
        run_outcome(what, &out.1, &out.2, self.cache.path())?;
        Ok(Some(out))
    }

    /// Extracts the model-based factors among `cfg`'s (cached). `Ok(None)`:
    /// `--estimate` only.
    fn extract(
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

/// `--into REPORT.json`, read before any model call: `None` without the
/// option, `Some((path, None))` for a report still to be written, else the
/// existing report, checked as the widget checks one (every problem with its
/// field path; scores within their ranges; no duplicate keys).
fn read_into(f: &Flags) -> Result<Option<(String, Option<Report>)>, Failure> {
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
fn into_report(
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

fn write_into(path: Option<String>, report: &Report) -> Result<(), Failure> {
    if let Some(p) = path {
        std::fs::write(&p, report.to_json_pretty() + "\n")
            .map_err(|e| data_error(format!("cannot write {p}: {e}")))?;
    }
    Ok(())
}

/// `profile judge` and `profile generate`: a model as judge of the dataset's
/// pairs, or as writer for its inputs, added as an agent to the report.
fn cmd_model_run(args: &[String], kind: &str) -> Result<String, Failure> {
    use crate::agents::{add_agent, judge_agent, writer_agent};
    use crate::llm::runs::JudgeOrder;
    use crate::workflow::{Kind, Outcome, Workflow};
    let options: Vec<&str> = STUDY_OPTIONS
        .into_iter()
        .chain(["into", "inputs"])
        .chain(PROVIDER_OPTIONS)
        .collect();
    let f = parse_flags(
        args,
        &options,
        &["json", "no-logprobs", "quiet", "estimate", "single-order"],
    )?;
    let Study { ds, cfg, info } = load_study(&f, kind)?;
    let into = read_into(&f)?;
    let ds = std::rc::Rc::new(ds);
    let provider = f
        .values
        .get("provider")
        .ok_or_else(|| usage_error(format!("`profile {kind}` needs --provider and --model")))?;
    let mut session = LlmSession::open(&f, provider)?;
    // The human agent, with the model-based factors extracted on the dataset (cached).
    let needs_model = cfg.requested().iter().any(|f| f.needs_model());
    let values = if needs_model {
        match session.extract(&ds, &cfg)? {
            Some(v) => Some(v),
            None if session.estimate_only => None,
            None => return Ok(String::new()),
        }
    } else {
        None
    };
    let computed = score_report_with(&ds, &cfg, &info, values.as_ref());
    let human = crate::agents::human_side(&ds, &cfg, values.as_ref());
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
    let workflow = Workflow::new(run, ds.clone(), &cfg, &session.mc);
    let (agent, alignment) = match session.drive(workflow)? {
        None => return Ok(String::new()),
        Some(Outcome::Judge { outcome, record }) => {
            judge_agent(&ds, &cfg, values.as_ref(), &outcome, record, &human)
        }
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
                &human,
            )
        }
        Some(Outcome::Extract(_)) => return Err(data_error("not a judge or writer run")),
    };
    if session.estimate_only {
        return Ok(String::new());
    }
    let (mut report, into) = into_report(into, computed)?;
    add_agent(&mut report, agent, alignment);
    write_into(into, &report)?;
    finish_report(&f, &report)
}

/// "  missing: n_facts lost 3 pairs, …": the pairs each factor could not
/// compare for a missing value (failed extraction, or a missing verdict).
fn missing_line(a: &crate::report::Agent) -> Option<String> {
    let lost: Vec<String> = a
        .ranking
        .iter()
        .filter_map(|id| {
            let m = a.factor_scores.get(id)?.missing;
            (m > 0).then(|| format!("{id} {m}"))
        })
        .collect();
    if lost.is_empty() {
        return None;
    }
    let why = if a.setting == crate::stats::Setting::Evaluation {
        "a factor value whose extraction failed, or no verdict"
    } else {
        "a factor value whose extraction failed"
    };
    Some(format!(
        "  missing: pairs not compared for a missing value ({why}), apart from factor ties (dropped): {}",
        lost.join(", ")
    ))
}

/// A judge's agreement with the humans, ties and position bias, with which
/// agreement compares with other judges.
fn judge_lines(run: &crate::report::AgentRun) -> String {
    let pct = |x: Option<f64>| x.map_or("—".to_owned(), |v| format!("{:.1}%", v * 100.0));
    if run.both_orders {
        format!(
            "  agreement with humans: {} order-averaged (each verdict on its own, a position flip counts one half; \
comparable with single-order judges), {} strict (a flip counts as a disagreement) · \
both orders: same verdict {}, position flips {}, genuine ties {}, a tie in one order only {}",
            pct(run.agreement_order_averaged.or(run.agreement)),
            pct(run.agreement),
            pct(run.position_consistency),
            pct(run.flipped_share),
            pct(run.tie_rate),
            pct(run.half_tie_share)
        )
    } else {
        let order = match (run.order_seed, run.swapped) {
            (Some(seed), Some(sw)) => format!(
                "one order per pair, a coin flip with seed {seed} ({sw} of {} pairs shown B first)",
                run.items
            ),
            _ => "one order per pair".to_owned(),
        };
        format!(
            "  agreement with humans: {} ({order}; comparable with the order-averaged agreement of both-order judges) · ties {} · named the response shown first {}",
            pct(run.agreement),
            pct(run.tie_rate),
            pct(run.first_position_share)
        )
    }
}

fn fmt_opt(x: Option<f64>, width: usize) -> String {
    match x {
        Some(v) => format!("{v:>width$.3}"),
        None => format!("{:>width$}", "—"),
    }
}

/// A p-value: "<0.001" below 0.001, never 0.000.
fn fmt_p(x: Option<f64>, width: usize) -> String {
    match x {
        Some(v) if v < 0.001 => format!("{:>width$}", "<0.001"),
        _ => fmt_opt(x, width),
    }
}

/// The report as a readable table.
pub fn render_table(r: &Report) -> String {
    // Names and ids come from files and flags: no escape reaches the terminal.
    printable(&table_text(r))
}

fn table_text(r: &Report) -> String {
    let d = &r.dataset;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "PROFILE report — {} ({}{})",
        d.name.as_deref().unwrap_or("input"),
        d.format,
        d.label
            .as_deref()
            .map(|l| format!(", label: {l}"))
            .unwrap_or_default()
    );
    // With a sample, the pairs and inputs scored are the sample's; the
    // record counts, human ties and texts are the loaded file's.
    let (pairs, inputs) = match &d.sample {
        Some(sm) => (
            format!("{} of {} loaded", d.pairs, sm.pairs_loaded),
            format!("{} of {}", d.inputs, sm.inputs_loaded),
        ),
        None => (d.pairs.to_string(), d.inputs.to_string()),
    };
    let _ = writeln!(
        s,
        "records: {} read, {} parsed, {} skipped · pairs: {pairs} ({} human ties dropped at load{}) · inputs: {inputs} · unique texts: {}",
        d.records_read,
        d.records_parsed,
        d.records_skipped,
        d.human_ties_dropped,
        if d.pairs_dropped_other > 0 { format!(", {} dropped by format rules", d.pairs_dropped_other) } else { String::new() },
        d.unique_texts
    );
    if let Some(sm) = &d.sample {
        let _ = writeln!(
            s,
            "{}",
            match sm.seed {
                Some(seed) => format!(
                    "sample: {} inputs drawn at random with seed {seed}, with all their pairs (--sample)",
                    sm.requested
                ),
                None => format!("sample: the first {} pairs of the file (--limit)", sm.requested),
            }
        );
    }
    let _ = writeln!(
        s,
        "task: {} · bootstrap: {} resamples over inputs, seed {}",
        r.config.task, r.config.bootstrap_resamples, r.config.seed
    );
    // An interval from fewer than MIN_INPUTS_FOR_INTERVALS inputs is marked `!`.
    let fmt_ci = |ci: Option<[f64; 2]>, few: bool| match ci {
        Some([lo, hi]) => format!("[{lo:>6.3}, {hi:>6.3}]{}", if few { "!" } else { " " }),
        None => format!("{:>17} ", "—"),
    };
    let mut flagged = false;
    for a in &r.agents {
        let _ = writeln!(s, "\nagent: {} ({} setting)", a.name, a.setting.id());
        let joint_head = if a.joint.is_some() {
            format!("  {:>7}  {:>17} ", "joint β", "95% CI")
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "  {:<20} {:>7}  {:>17}   {:>8} {:>8} {:>6} {:>8} {:>8} {:>8}{joint_head}",
            "factor", "score", "95% CI", "C", "D", "T", "dropped", "missing", "n"
        );
        for id in &a.ranking {
            let e = &a.factor_scores[id];
            let joint = match &a.joint {
                Some(j) => {
                    let c = j.coefficients.get(id);
                    let ci = c.and_then(|c| c.ci95);
                    flagged |= ci.is_some() && j.few_inputs;
                    format!(
                        "  {}  {:>17}",
                        fmt_opt(c.and_then(|c| c.coefficient), 7),
                        fmt_ci(ci, j.few_inputs)
                    )
                }
                None => String::new(),
            };
            let _ = writeln!(
                s,
                "  {:<20} {}  {:>17}  {:>8} {:>8} {:>6} {:>8} {:>8} {:>8}{joint}",
                id,
                fmt_opt(e.score, 7),
                fmt_ci(e.ci95, e.few_inputs),
                e.concordant,
                e.discordant,
                e.ties,
                e.dropped,
                e.missing,
                e.n_pairs
            );
        }
        flagged |= a.factor_scores.values().any(|e| e.few_inputs);
        if let Some(line) = missing_line(a) {
            let _ = writeln!(s, "{line}");
        }
        if let Some(run) = &a.run {
            let line = format!(
                "  {} {} via {}: {} of {} {} · {} calls, {} cached, {} failed, {} tokens",
                run.kind,
                run.model,
                run.provider,
                run.items,
                run.items_planned,
                if run.kind == "judge" {
                    "pairs judged"
                } else {
                    "inputs written for"
                },
                run.calls,
                run.cache_hits,
                run.failed,
                run.input_tokens + run.output_tokens
            );
            let _ = writeln!(s, "{line}");
            if run.kind == "judge" {
                let _ = writeln!(s, "{}", judge_lines(run));
            }
        }
        if let Some(j) = &a.joint {
            let what = match j.covariate {
                crate::stats::Covariate::Sign => "on the signs of the factor differences",
                crate::stats::Covariate::Scaled => {
                    "on factor differences scaled by their root mean square"
                }
            };
            let _ =
                writeln!(
                s,
                "  joint β: Bradley–Terry {what}, all factors at once (λ = {}); {} pairs used{}{}",
                j.penalty,
                j.n_pairs_used,
                if j.n_pairs_dropped_missing > 0 {
                    format!(", {} with a missing value left out", j.n_pairs_dropped_missing)
                } else {
                    String::new()
                },
                if j.n_pairs_dropped_tie > 0 {
                    format!(", {} ties left out", j.n_pairs_dropped_tie)
                } else {
                    String::new()
                }
            );
        }
        if let Some(reason) = a.joint.as_ref().and_then(|j| j.not_estimable.as_ref()) {
            let _ = writeln!(s, "  joint β: not estimable: {reason}");
        }
    }
    if flagged {
        let _ = writeln!(
            s,
            "\n! interval from fewer than {} inputs: its coverage is well below 95% (README, \"Intervals on few inputs\")",
            crate::stats::MIN_INPUTS_FOR_INTERVALS
        );
    }
    if !r.alignments.is_empty() {
        let _ = writeln!(
            s,
            "\nalignment of factor rankings with {}:",
            r.alignments[0].reference
        );
        let _ = writeln!(
            s,
            "  {:<32} {:>8} {:>8} {:>8} {:>9}",
            "agent", "tau_b", "rho", "r", "factors"
        );
        for al in &r.alignments {
            let _ = writeln!(
                s,
                "  {:<32} {} {} {} {:>9}",
                al.agent,
                fmt_opt(al.kendall_tau, 8),
                fmt_opt(al.spearman_rho, 8),
                fmt_opt(al.pearson_r, 8),
                al.n_factors
            );
        }
    }
    let summary = crate::summary::summarize(r);
    if !summary.is_empty() {
        let _ = writeln!(s, "\nsummary:");
        for line in &summary {
            let _ = writeln!(s, "  {line}");
        }
    }
    if !r.skipped_factors.is_empty() {
        let _ = writeln!(s, "\nskipped factors:");
        for k in &r.skipped_factors {
            let _ = writeln!(s, "  {:<20} {}", k.id, k.reason);
        }
    }
    if d.diagnostics_total > 0 {
        let _ = writeln!(s, "\nproblems ({}):", d.diagnostics_total);
        for diag in d.diagnostics.iter().take(10) {
            let _ = writeln!(s, "  {diag}");
        }
        if d.diagnostics_total > 10 {
            let _ = writeln!(s, "  … {} more (see --json)", d.diagnostics_total - 10);
        }
    }
    s
}

fn cmd_align(args: &[String]) -> Result<String, Failure> {
    let f = parse_flags(args, &["permutations", "seed"], &["json"])?;
    let mut perm = PermutationConfig::default();
    if let Some(n) = f.values.get("permutations") {
        perm.permutations = n
            .parse()
            .ok()
            .filter(|&p| p <= PermutationConfig::MAX_PERMUTATIONS)
            .ok_or_else(|| {
                usage_error(format!(
                    "--permutations takes a count from 0 to at most {}, not `{n}`",
                    PermutationConfig::MAX_PERMUTATIONS
                ))
            })?;
    }
    if let Some(s) = parse_num(&f, "seed")? {
        perm.seed = s;
    }
    let [path] = f.positional.as_slice() else {
        return Err(usage_error("`profile align` takes one FILE.json"));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| data_error(format!("cannot read {path}: {e}")))?;
    let agents: BTreeMap<String, BTreeMap<String, Option<f64>>> =
        crate::data::strict::from_str(&text)
            .and_then(serde_json::from_value)
            .map_err(|e| {
                data_error(format!(
                    "{path}: expected an object mapping agent names to {{factor id: score}}: {e}"
                ))
            })?;
    let human = agents
        .get("human")
        .ok_or_else(|| data_error(format!("{path}: no \"human\" agent to align with")))?;
    for (name, scores) in &agents {
        for id in scores.keys() {
            if Factor::from_id(id).is_none() {
                return Err(data_error(format!(
                    "{path}: agent `{name}`: unknown factor `{id}`"
                )));
            }
        }
    }
    let alignments: Vec<Alignment> = agents
        .iter()
        .filter(|(n, _)| n.as_str() != "human")
        .map(|(n, s)| Alignment::between_tested(n, s, "human", human, perm))
        .collect();
    if f.switches.iter().any(|s| s == "json") {
        return Ok(serde_json::to_string_pretty(&alignments).expect("serialisable") + "\n");
    }
    let mut s = format!(
        "{:<24} {:>8} {:>12} {:>8} {:>12} {:>8} {:>10} {:>8}\n",
        "agent", "factors", "kendall_tau", "p", "spearman_rho", "p", "pearson_r", "p"
    );
    for a in &alignments {
        let _ = writeln!(
            s,
            "{:<24} {:>8} {} {} {} {} {} {}",
            a.agent,
            a.n_factors,
            fmt_opt(a.kendall_tau, 12),
            fmt_p(a.kendall_tau_p, 8),
            fmt_opt(a.spearman_rho, 12),
            fmt_p(a.spearman_rho_p, 8),
            fmt_opt(a.pearson_r, 10),
            fmt_p(a.pearson_r_p, 8)
        );
    }
    if alignments.iter().any(|a| a.permutations.is_some()) {
        let _ = writeln!(
            s,
            "\np: two-sided permutation p-values (the agent's factor labels shuffled: every order when n! ≤ {n}, else {n} shuffles, seed {})",
            perm.seed,
            n = perm.permutations
        );
    }
    Ok(s)
}

fn cmd_cache(args: &[String]) -> Result<String, Failure> {
    use crate::llm::run::DiskCache;
    let f = parse_flags(args, &["cache-dir"], &[])?;
    let dir = std::path::Path::new(
        f.values
            .get("cache-dir")
            .map_or(".profile-cache", String::as_str),
    );
    let fail = |e: crate::llm::run::CacheError| {
        data_error(format!("cannot open the cache in {}: {e}", dir.display()))
    };
    match f.positional.as_slice() {
        [cmd] if cmd == "export" => {
            // Read only: no lock, so a run may go on meanwhile.
            let (mem, bad) = DiskCache::read(dir).map_err(fail)?;
            warn_cache_lines(&dir.join("cache.jsonl"), &bad);
            Ok(mem.to_jsonl())
        }
        [cmd, file] if cmd == "import" => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| data_error(format!("cannot read {file}: {e}")))?;
            let (mut cache, bad) = DiskCache::open(dir).map_err(fail)?;
            warn_cache_lines(cache.path(), &bad);
            let (added, problems) = cache.import_jsonl(&text).map_err(|e| {
                data_error(format!(
                    "cannot write the cache {}: {e}; the import stopped (entries before the \
                     failure are stored)",
                    cache.path().display()
                ))
            })?;
            let mut out = format!("{added} new entries added to {}\n", cache.path().display());
            for d in &problems {
                out.push_str(&format!("skipped {file}: {d}\n"));
            }
            Ok(out)
        }
        _ => Err(usage_error(
            "use `profile cache export` or `profile cache import FILE`",
        )),
    }
}

/// The model of `--provider`, `--model`, `--base-url` and `--no-logprobs`.
fn model_config(f: &Flags, provider: &str) -> Result<ModelConfig, Failure> {
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
fn open_cache(f: &Flags) -> Result<(DiskCache, Vec<crate::data::Diagnostic>), Failure> {
    let dir = f
        .values
        .get("cache-dir")
        .map_or(".profile-cache", String::as_str);
    DiskCache::open(std::path::Path::new(dir))
        .map_err(|e| data_error(format!("cannot open the cache in {dir}: {e}")))
}

/// Warns about the cache lines that were skipped, with their numbers (the
/// first ten); their questions are asked again.
fn warn_cache_lines(path: &std::path::Path, bad: &[crate::data::Diagnostic]) {
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
fn waited(s: &crate::llm::engine::RunStats) -> String {
    if s.waited_s >= 1.0 {
        format!(", waited {:.0} s to retry", s.waited_s)
    } else {
        String::new()
    }
}

/// `--price-in` and `--price-out`, else the price table's entry for the model.
fn price_flags(f: &Flags, mc: &ModelConfig) -> Result<Option<Price>, Failure> {
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

fn cmd_batch(args: &[String]) -> Result<String, Failure> {
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
        "judge" => Kind::Judge(crate::llm::runs::JudgeOrder::new(
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
struct BatchRun<'a> {
    format: crate::llm::batch::BatchFormat,
    mc: &'a ModelConfig,
    ds: &'a crate::data::Dataset,
    opts: ExtractOptions,
    plan: &'a Plan,
}

impl BatchRun<'_> {
    /// Writes the requests of the next unanswered stage (stdout without
    /// `--out`) and says on stderr what they are and cost.
    fn export(
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
    fn import(&self, results: &[String], cache: &mut DiskCache) -> Result<String, Failure> {
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
fn numbered(path: &str, i: usize) -> String {
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

fn list_formats() -> String {
    let mut s = String::from("formats (detected from the fields of the first record):\n");
    for f in Format::ALL {
        let _ = writeln!(s, "  {:<17} {}", f.name(), f.description());
    }
    s
}

fn list_factors() -> String {
    let mut s = format!(
        "{:<20} {:<26} {:<14} {:<32} value\n",
        "factor", "level 2", "level 3", "extraction"
    );
    for f in Factor::ALL {
        let i = f.info();
        let _ = writeln!(
            s,
            "{:<20} {:<26} {:<14} {:<32} {}",
            f.id(),
            i.level2,
            i.level3,
            i.extraction.label(),
            i.value
        );
    }
    s.push_str("\ntask presets:\n");
    for t in Task::ALL {
        let ids: Vec<&str> = t.factors().iter().map(|f| f.id()).collect();
        let _ = writeln!(s, "  {:<14} {}", t.id(), ids.join(", "));
    }
    s
}

/// Entry point for the binary: runs and exits with the right code.
pub fn main() {
    let mut args: Vec<String> = Vec::new();
    for (i, a) in std::env::args_os().skip(1).enumerate() {
        match a.into_string() {
            Ok(a) => args.push(a),
            Err(a) => {
                eprintln!(
                    "error: argument {} ({}) is not valid UTF-8; give names and paths in UTF-8\n\n{USAGE}",
                    i + 1,
                    printable(&a.to_string_lossy())
                );
                std::process::exit(2);
            }
        }
    }
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match run(&args, &mut lock) {
        Ok(()) => {
            let _ = lock.flush();
        }
        Err(f) => {
            let _ = lock.flush();
            eprintln!("error: {}", f.message.trim_end());
            std::process::exit(f.code);
        }
    }
}
