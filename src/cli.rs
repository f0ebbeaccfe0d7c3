//! The `profile` command line (native only): argument parsing and output.
//! Everything it computes comes from the core; this module only reads files,
//! parses flags and prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use crate::analysis::{score_report, score_report_with, DatasetInfo, LlmValues, ScoreConfig};
use crate::data::{load_reader, Format, FormatOptions, SummEvalLabel};
use crate::factors::{Factor, Task};
use crate::report::{Alignment, Report};
use crate::stats::{BootstrapConfig, PermutationConfig};

const USAGE: &str = "\
profile: factor-level explanations of human (and model) preferences

USAGE:
  profile score FILE [--task summarization|helpful|doc_qa] [--factors a,b,...]
                     [--format NAME] [--label ASPECT] [--bootstrap N] [--seed S]
                     [--json] [--out REPORT.json]
                     [--provider openai|anthropic|gemini|openai-compatible --model M
                      [--base-url URL] [--limit N] [--concurrency N] [--rpm N] [--tpm N]
                      [--timeout SECONDS] [--cache-dir DIR] [--no-logprobs]
                      [--price-in USD_PER_M --price-out USD_PER_M] [--estimate]]
                     [--annotations VALUES.jsonl]
  profile cache export [--cache-dir DIR]          the LLM answer cache as JSONL
  profile cache import FILE [--cache-dir DIR]     merge shared answers into the cache
  profile align FILE.json [--permutations N] [--seed S] [--json]
  profile formats      list the dataset formats
  profile factors      list the factors and task presets
  profile --help | --version

FILE is JSONL, a JSON array, or either gzipped; `-` reads standard input.
The format is detected from the fields; --format overrides it.
--label picks the SummEval rating used as the label (mean|coherence|consistency|fluency|relevance).
With --provider, factors that need a model are extracted by it; the key comes from
PROFILE_API_KEY or the provider's usual variable (OPENAI_API_KEY, ANTHROPIC_API_KEY,
GEMINI_API_KEY), answers are cached in .profile-cache/ (re-runs repeat no paid call),
and --limit N runs on the first N pairs. Before a run the estimated calls, tokens and
cost are printed; --estimate prints them and stops. --annotations imports factor values
computed elsewhere: one JSON object per line with `text` (a response) and `factors` (id → value).
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
    let text = match cmd.as_str() {
        "score" => cmd_score(rest)?,
        "align" => cmd_align(rest)?,
        "cache" => cmd_cache(rest)?,
        "formats" => list_formats(),
        "factors" => list_factors(),
        "-h" | "--help" | "help" => USAGE.to_owned(),
        "-V" | "--version" => format!("profile {}\n", env!("CARGO_PKG_VERSION")),
        other => return Err(usage_error(format!("unknown command `{other}`"))),
    };
    out.write_all(text.as_bytes())
        .map_err(|e| data_error(format!("cannot write the output: {e}")))
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
const PROVIDER_OPTIONS: [&str; 11] = [
    "provider",
    "model",
    "base-url",
    "limit",
    "concurrency",
    "rpm",
    "tpm",
    "timeout",
    "cache-dir",
    "price-in",
    "price-out",
];

fn cmd_score(args: &[String]) -> Result<String, Failure> {
    let options: Vec<&str> = [
        "task",
        "factors",
        "format",
        "label",
        "bootstrap",
        "seed",
        "out",
        "annotations",
    ]
    .into_iter()
    .chain(PROVIDER_OPTIONS)
    .collect();
    let f = parse_flags(
        args,
        &options,
        &["json", "no-logprobs", "quiet", "estimate"],
    )?;
    let [path] = f.positional.as_slice() else {
        return Err(usage_error("`profile score` takes one FILE"));
    };
    let format = parse_named(&f, "format", Format::from_name, || {
        let known: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        format!("known formats: {}", known.join(", "))
    })?;
    let label = parse_named(&f, "label", SummEvalLabel::from_name, || {
        "use mean, coherence, consistency, fluency or relevance".into()
    })?;
    let task = parse_named(&f, "task", Task::from_id, || {
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
            .map_err(|_| usage_error(format!("--bootstrap takes a count, not `{n}`")))?;
    }
    if let Some(s) = f.values.get("seed") {
        bootstrap.seed = s
            .parse()
            .map_err(|_| usage_error(format!("--seed takes an integer, not `{s}`")))?;
    }

    let opts = FormatOptions {
        format,
        summeval_label: label.unwrap_or_default(),
    };
    let ds =
        load_reader(open_input(path)?, opts).map_err(|e| data_error(format!("{path}: {e}")))?;
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
    };
    let mut ds = ds;
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
            let Some(mut llm) = run_llm(&f, provider, &mut ds, &cfg)? else {
                return Ok(String::new());
            };
            llm.imported = imported.unwrap_or_default();
            score_report_with(&ds, &cfg, &info, Some(&llm))
        }
    };
    let json = report.to_json_pretty() + "\n";
    if let Some(out) = f.values.get("out") {
        std::fs::write(out, &json).map_err(|e| data_error(format!("cannot write {out}: {e}")))?;
    }
    Ok(if f.switches.iter().any(|s| s == "json") {
        json
    } else {
        render_table(&report)
    })
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

/// Extracts the model-based factors with the configured provider (cached).
fn run_llm(
    f: &Flags,
    provider: &str,
    ds: &mut crate::data::Dataset,
    cfg: &ScoreConfig,
) -> Result<Option<LlmValues>, Failure> {
    use crate::llm::engine::{estimate, RunSettings};
    use crate::llm::extract::{ExtractOptions, Plan};
    use crate::llm::pricing::{price_of, Price};
    use crate::llm::provider::{ModelConfig, Provider};
    use crate::llm::run::{run_plan, DiskCache, HttpLlm};

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
    if let Some(n) = parse_num::<usize>(f, "limit")? {
        ds.truncate_pairs(n);
    }
    let mut settings = RunSettings::default();
    if let Some(c) = parse_num::<usize>(f, "concurrency")? {
        settings.concurrency = c.max(1);
    }
    settings.requests_per_minute = parse_num(f, "rpm")?;
    settings.tokens_per_minute = parse_num(f, "tpm")?;
    if let Some(t) = parse_num::<f64>(f, "timeout")? {
        settings.retry.timeout_s = t;
    }
    let dir = f
        .values
        .get("cache-dir")
        .map_or(".profile-cache", String::as_str);
    let (mut cache, bad) = DiskCache::open(std::path::Path::new(dir))
        .map_err(|e| data_error(format!("cannot open the cache in {dir}: {e}")))?;
    let quiet = f.switches.iter().any(|s| s == "quiet");
    // Live progress only on a terminal, at most five times a second.
    let live = !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let last_print = std::sync::Mutex::new(std::time::Instant::now());
    if bad > 0 && !quiet {
        eprintln!(
            "warning: {bad} unreadable lines in {} were skipped",
            cache.path().display()
        );
    }
    let factors = cfg.requested();
    let opts = ExtractOptions {
        logprobs: mc.logprobs && provider.offers_logprobs(),
        summaries: cfg.task == Task::Summarization,
    };
    let plan = Plan::new(ds, &factors, opts);
    let llm = HttpLlm::new(
        mc.clone(),
        key,
        std::time::Duration::from_secs_f64(settings.retry.timeout_s),
    );
    let price = match (
        parse_num::<f64>(f, "price-in")?,
        parse_num::<f64>(f, "price-out")?,
    ) {
        (Some(i), Some(o)) => Some(Price {
            input_per_m: i,
            output_per_m: o,
        }),
        (None, None) => price_of(provider.id(), model),
        _ => return Err(usage_error("give both --price-in and --price-out")),
    };
    let est = estimate(&plan, ds, opts, &mc, &cache, price);
    let summary = format!(
        "estimate: {} questions, {} cached, ~{} calls, ~{:.0}k input + ~{:.0}k output tokens, {}",
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
    if f.switches.iter().any(|s| s == "estimate") {
        println!("{summary}");
        return Ok(None);
    }
    if !quiet {
        eprintln!("{summary}");
    }
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let progress = |s: &crate::llm::run::RunStats| {
        let mut last = last_print.lock().expect("progress clock");
        if live && last.elapsed().as_millis() >= 200 {
            *last = std::time::Instant::now();
            eprint!(
                "\r{} questions: {} done, {} cached, {} failed, {} calls, {} tokens   ",
                s.questions,
                s.succeeded,
                s.cache_hits,
                s.failed,
                s.calls,
                s.input_tokens + s.output_tokens
            );
        }
    };
    let (answers, stats, failures) = run_plan(
        &plan, ds, opts, &llm, &mut cache, &settings, &cancel, &progress,
    );
    if !quiet {
        eprintln!(
            "\r{} questions: {} done, {} cached, {} failed; {} calls, {} tokens",
            stats.questions,
            stats.succeeded,
            stats.cache_hits,
            stats.failed,
            stats.calls,
            stats.input_tokens + stats.output_tokens
        );
    }
    let run = crate::analysis::llm_run_record(
        ds, &factors, &plan, &mc, opts, &stats, &failures, &answers,
    );
    Ok(Some(LlmValues {
        answers,
        options: opts,
        run: Some(run),
        imported: Default::default(),
    }))
}

fn fmt_opt(x: Option<f64>, width: usize) -> String {
    match x {
        Some(v) => format!("{v:>width$.3}"),
        None => format!("{:>width$}", "—"),
    }
}

/// The report as a readable table.
pub fn render_table(r: &Report) -> String {
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
    let _ = writeln!(
        s,
        "records: {} read, {} parsed, {} skipped · pairs: {} ({} human ties dropped{}) · inputs: {} · unique texts: {}",
        d.records_read,
        d.records_parsed,
        d.records_skipped,
        d.pairs,
        d.human_ties_dropped,
        if d.pairs_dropped_other > 0 { format!(", {} dropped by format rules", d.pairs_dropped_other) } else { String::new() },
        d.inputs,
        d.unique_texts
    );
    let _ = writeln!(
        s,
        "task: {} · bootstrap: {} resamples over inputs, seed {}",
        r.config.task, r.config.bootstrap_resamples, r.config.seed
    );
    let fmt_ci = |ci: Option<[f64; 2]>| match ci {
        Some([lo, hi]) => format!("[{lo:>6.3}, {hi:>6.3}]"),
        None => format!("{:>17}", "—"),
    };
    for a in &r.agents {
        let _ = writeln!(s, "\nagent: {} ({} setting)", a.name, a.setting.id());
        let joint_head = if a.joint.is_some() {
            format!("  {:>7}  {:>17}", "joint β", "95% CI")
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "  {:<20} {:>7}  {:>17}  {:>8} {:>8} {:>6} {:>8} {:>8}{joint_head}",
            "factor", "score", "95% CI", "C", "D", "T", "dropped", "n"
        );
        for id in &a.ranking {
            let e = &a.factor_scores[id];
            let joint = match &a.joint {
                Some(j) => {
                    let c = j.coefficients.get(id);
                    format!(
                        "  {}  {:>17}",
                        fmt_opt(c.and_then(|c| c.coefficient), 7),
                        fmt_ci(c.and_then(|c| c.ci95))
                    )
                }
                None => String::new(),
            };
            let _ = writeln!(
                s,
                "  {:<20} {}  {:>17}  {:>8} {:>8} {:>6} {:>8} {:>8}{joint}",
                id,
                fmt_opt(e.score, 7),
                fmt_ci(e.ci95),
                e.concordant,
                e.discordant,
                e.ties,
                e.dropped,
                e.n_pairs
            );
        }
        if let Some(j) = &a.joint {
            let _ = writeln!(
                s,
                "  joint β: Bradley–Terry on factor differences scaled by their root mean square, all factors at once (λ = {}); {} pairs used{}{}",
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
    if let Some(n) = parse_num(&f, "permutations")? {
        perm.permutations = n;
    }
    if let Some(s) = parse_num(&f, "seed")? {
        perm.seed = s;
    }
    let [path] = f.positional.as_slice() else {
        return Err(usage_error("`profile align` takes one FILE.json"));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| data_error(format!("cannot read {path}: {e}")))?;
    let agents: BTreeMap<String, BTreeMap<String, Option<f64>>> = serde_json::from_str(&text)
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
            fmt_opt(a.kendall_tau_p, 8),
            fmt_opt(a.spearman_rho, 12),
            fmt_opt(a.spearman_rho_p, 8),
            fmt_opt(a.pearson_r, 10),
            fmt_opt(a.pearson_r_p, 8)
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
    let open = || {
        DiskCache::open(dir)
            .map_err(|e| data_error(format!("cannot open the cache in {}: {e}", dir.display())))
    };
    match f.positional.as_slice() {
        [cmd] if cmd == "export" => Ok(open()?.0.memory().to_jsonl()),
        [cmd, file] if cmd == "import" => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| data_error(format!("cannot read {file}: {e}")))?;
            let (mut cache, _) = open()?;
            let (added, problems) = cache.import_jsonl(&text);
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
    let args: Vec<String> = std::env::args().skip(1).collect();
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
