//! The `profile` command line (native only): argument parsing and output.
//! Everything it computes comes from the core; this module only reads files,
//! parses flags and prints.

mod align;
mod batch;
mod cache;
mod flags;
mod guide;
mod improve;
mod model_run;
mod pairs;
mod score;
mod session;
mod study;
mod table;

use align::*;
use batch::*;
use cache::*;
use flags::*;
use guide::*;
use improve::*;
use model_run::*;
use pairs::*;
use score::*;
use session::*;
use study::*;
use table::*;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use crate::analysis::{score_report_with, DatasetInfo, LlmValues, ScoreConfig, Selection};
use crate::data::{Format, FormatOptions, PkuLabel, SummEvalLabel};
use crate::factors::{Factor, Task};
use crate::llm::extract::{ExtractOptions, Plan};
use crate::llm::pricing::{price_of, Price};
use crate::llm::provider::{ModelConfig, Provider};
use crate::llm::threads::DiskCache;
use crate::report::{Alignment, Report};
use crate::stats::{BootstrapConfig, PermutationConfig};

const USAGE: &str = "\
profile: factor-level explanations of human (and model) preferences

USAGE:
  profile score FILE [--task summarization|helpful|doc_qa] [--factors a,b,...]
                     [--factor-pack PACK.json] [--format NAME] [--label ASPECT] [--map FIELD=COLUMN,...]
                     [--bootstrap N] [--seed S]
                     [--sample N] [--max-record-mb N] [--json] [--out REPORT.json]
                     [--provider openai|anthropic|gemini|openai-compatible --model M
                      [--base-url URL] [--limit N] [--concurrency N] [--rpm N] [--tpm N]
                      [--timeout SECONDS] [--attempts N] [--cache-dir DIR] [--no-logprobs]
                      [--price-in USD_PER_M --price-out USD_PER_M] [--max-cost USD]
                      [--estimate]]
                     [--annotations VALUES.jsonl] [--group-by FIELD]
  profile judge FILE --provider P --model M [score's selection and provider options]
                     [--single-order] [--into REPORT.json]
                     the model judges every pair (both orders unless --single-order; in
                     single order each pair's order is a coin flip seeded with --seed)
  profile generate FILE --provider P --model M [score's selection and provider options]
                     [--inputs N] [--into REPORT.json]
                     the model writes responses for scores 1..5 for N inputs
  profile guide FILE --provider P --model M [score's selection and provider options]
                     [--factor F] [--rand-factor F] [--into REPORT.json]
                     guided judging: the factor the judge over-weights most compared with
                     people (GuideMis; --factor F fixes it) and one it weighs as people do
                     (GuideRand, drawn with --seed; --rand-factor F fixes it) each become one
                     sentence of guidance; the pairs are judged in both orders with none,
                     GuideMis and GuideRand, and the agreements with people compared
  profile improve FILE --provider P --model M [score's selection and provider options]
                     [--evaluator-provider P2 --evaluator-model M2 [--evaluator-base-url URL]]
                     [--inputs N] [--single-order] [--into REPORT.json]
                     feedback-driven improvement: the evaluator (default: the model) judges
                     the pairs (its judge agent); for N inputs the model writes two responses,
                     the evaluator picks the better one and says why, and the model improves
                     them with the feedback, and without it (from both, from each alone); each
                     condition is an agent (improvement setting) with its τ against the humans
                     and the evaluator
  profile cache export [--cache-dir DIR]          the LLM answer cache as JSONL
  profile cache import FILE [--cache-dir DIR]     merge shared answers into the cache
  profile batch export FILE --provider openai|anthropic|openai-compatible --model M
                     [--base-url URL] [--task T] [--factors a,b,...] [--format NAME]
                     [--label ASPECT] [--limit N | --sample N [--seed S]] [--no-logprobs]
                     [--cache-dir DIR]
                     [--stage 2] [--price-in USD_PER_M --price-out USD_PER_M]
                     [--run extract|judge|writer|guide|improve [--single-order] [--inputs N]
                      [--into REPORT.json] [--factor F] [--rand-factor F] [--evaluator-model M2]]
                     [--out REQUESTS.jsonl]
  profile batch import RESULTS.jsonl... FILE --provider P --model M [the same
                     selection flags as the export] [--cache-dir DIR]
  profile pairs FILE --factor F [--kind concordant|discordant|tied|dropped|missing]
                     [--agent human|judge|writer] [--limit N] [--json] [score's data flags]
                     [--provider P --model M [--single-order] [--cache-dir DIR]]
                     the pairs behind a factor score, with both responses (novel words
                     in «»); --limit N lists N of them (default 20, 0: all). A judge's or
                     writer's pairs come from the answer cache of its run (same flags;
                     a missing answer is an error, never a call); --kind disagrees|agrees|
                     no_verdict --agent judge lists its verdicts against the labels,
                     --kind followed_position the pairs where it named one position twice.
                     A factor that needs a model (--factor hallucination) lists the answers
                     of its `profile score --provider` run (same flags): each response's
                     atomic facts with the checks' verdicts, its judgements, and under
                     --json the raw replies from the cache
  profile align FILE.json [--task T] [--permutations N] [--seed S] [--json]
                     each agent's factor ranking against the humans' (agent → factor → score;
                     or task → agent → factor → score, as in the paper's published scores)
  profile formats      list the dataset formats
  profile factors [--factor-pack PACK.json]
                     list the factors and task presets (and a pack's factors)
  profile --help | --version

FILE is JSONL, a JSON array, CSV (.csv) or TSV (.tsv), or any of them gzipped, or Parquet
(any compression the Hub uses); `-` reads standard input (JSON). A table's header names the fields; --map response_a=COL,... reads a
column as a PROFILE field (input, source, response_a, response_b, preference, task, id).
The format is detected from the fields; --format overrides it.
A record (line or array element) over --max-record-mb MiB (default 8, at most 1024) is
skipped with a diagnostic. --bootstrap takes at most 100000 resamples, --permutations
at most 1000000.
--group-by FIELD scores each group of pairs by a short string field of the records (`task`,
`category`, `article_id`, `info.subreddit`, …) alone, side by side, and marks the groups whose
score differs from the rest's (the interval of the difference excludes 0).
--factor-pack PACK.json adds your own factors — rules (regex_count, regex_share, word_list_count)
and questions asked of the model (llm_yes_no, llm_rating: need --provider; see README) — to every
command that takes --factors: without --factors, the preset and the pack's factors; with it, the
pack's ids can be listed. The report records the pack (config.factor_pack).
--label picks the SummEval rating used as the label (mean|coherence|consistency|fluency|relevance),
or the PKU-SafeRLHF judgement (better|safer).
With --provider, factors that need a model are extracted by it; the key comes from
PROFILE_API_KEY or the provider's usual variable (OPENAI_API_KEY, ANTHROPIC_API_KEY,
GEMINI_API_KEY), answers are cached in .profile-cache/ (re-runs repeat no paid call),
and --limit N runs on the first N pairs. --sample N keeps N inputs drawn at random (seeded
with --seed, recorded in the report) with all their pairs: on grouped data the first pairs are
a handful of inputs. Before a run the estimated calls, tokens and
cost are printed; --estimate prints them and stops. --max-cost USD is a hard cap on what
the command spends (0 to 1000000; it needs the model's prices): no call starts whose worst case
could cross it; the run then stops, keeps every answer and exits with 1. --annotations imports factor values
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
        "guide" => cmd_guide(rest)?,
        "improve" => cmd_improve(rest)?,
        "align" => cmd_align(rest)?,
        "pairs" => cmd_pairs(rest)?,
        "cache" => cmd_cache(rest)?,
        "batch" => cmd_batch(rest)?,
        "formats" => list_formats(),
        "factors" => cmd_factors(rest)?,
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

fn list_formats() -> String {
    let mut s = String::from("formats (detected from the fields of the first record):\n");
    for f in Format::ALL {
        let _ = writeln!(s, "  {:<17} {}", f.name(), f.description());
    }
    s
}

/// `profile factors [--factor-pack FILE]`: the taxonomy, the presets and a
/// pack's factors.
fn cmd_factors(args: &[String]) -> Result<String, Failure> {
    let f = parse_flags(args, &["factor-pack"], &[])?;
    if let Some(p) = f.positional.first() {
        return Err(usage_error(format!(
            "`profile factors` takes no file (got `{p}`); to list a pack's factors, give --factor-pack FILE"
        )));
    }
    let pack = load_factor_pack(&f)?;
    let mut s = list_factors();
    if let Some(custom) = pack {
        s.push_str("\ncustom factors (from --factor-pack):\n");
        let _ = writeln!(s, "  {:<20} {:<26} {:<16} value", "factor", "name", "kind");
        for c in custom {
            let Factor::Custom(id) = c else { continue };
            let def = crate::factors::pack::definition(id);
            let _ = writeln!(
                s,
                "  {:<20} {:<26} {:<16} {}",
                def.id,
                def.name,
                def.rule.kind(),
                def.rule.value_text()
            );
        }
    }
    Ok(s)
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
