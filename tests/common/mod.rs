//! Helpers shared by the integration tests: where the real datasets and the
//! fixtures are, loading in random chunks, and comparing two datasets.
#![allow(dead_code)]

pub mod llama;

use profile::data::{load_bytes, Dataset, FormatOptions, LoadError, Loader, Pair};
use profile::stats::Rng;

/// SummEval: 100 articles × 16 summaries, expert ratings.
pub const SUMMEVAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/summeval/summeval.jsonl"
);
/// LLMBar Natural (100 items).
pub const LLMBAR_NATURAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/llmbar/LLMBar/Natural/dataset.json"
);
/// LLMBar's processed FairEval (66 items).
pub const LLMBAR_FAIREVAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/llmbar/Processed/FairEval/dataset.json"
);
/// LLMBar's processed LLMEval2 (200 items).
pub const LLMBAR_LLMEVAL2: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/llmbar/Processed/LLMEval2/dataset.json"
);
/// LLMBar's processed MT-Bench (200 items).
pub const LLMBAR_MTBENCH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/llmbar/Processed/MT-Bench/dataset.json"
);
/// Anthropic HH-RLHF harmless-base test split, gzipped JSONL (2,312 lines).
pub const HH_GZ: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/hh-rlhf-harmless-base/test.jsonl.gz"
);

/// The four LLMBar files with their documented item counts (SOURCE.md).
pub const LLMBAR_FILES: [(&str, usize); 4] = [
    (LLMBAR_NATURAL, 100),
    (LLMBAR_FAIREVAL, 66),
    (LLMBAR_LLMEVAL2, 200),
    (LLMBAR_MTBENCH, 200),
];

/// The path of a fixture file.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The bytes of a file, with the path in the panic message.
pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Loads a file at once with the given options.
pub fn load(path: &str, opts: FormatOptions) -> Dataset {
    load_bytes(&read(path), opts).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Loads a file at once with default options.
pub fn load_default(path: &str) -> Dataset {
    load(path, FormatOptions::default())
}

/// Feeds `bytes` to a [`Loader`] in chunks of random sizes in `1..=max_chunk`.
pub fn load_chunked(
    bytes: &[u8],
    opts: FormatOptions,
    rng: &mut Rng,
    max_chunk: u64,
) -> Result<Dataset, LoadError> {
    let mut loader = Loader::new(opts);
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = (1 + rng.below(max_chunk) as usize).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        loader.push(chunk);
        rest = tail;
    }
    loader.finish()
}

/// The texts of a store in id order.
pub fn texts(ds: &Dataset) -> Vec<&str> {
    ds.texts.iter().map(|(_, t)| t).collect()
}

/// Asserts that two loads produced the same dataset: format, pairs (with the
/// same text ids and clusters), texts, diagnostics and counts.
pub fn assert_same_dataset(a: &Dataset, b: &Dataset, what: &str) {
    assert_eq!(a.format, b.format, "{what}: format");
    assert_eq!(a.stats, b.stats, "{what}: stats");
    assert_eq!(a.diagnostics, b.diagnostics, "{what}: diagnostics");
    assert_eq!(a.n_clusters, b.n_clusters, "{what}: clusters");
    assert_eq!(a.pairs.len(), b.pairs.len(), "{what}: number of pairs");
    if let Some(i) = (0..a.pairs.len()).find(|&i| a.pairs[i] != b.pairs[i]) {
        panic!(
            "{what}: pair {i} differs: {:?} vs {:?}",
            a.pairs[i], b.pairs[i]
        );
    }
    assert!(texts(a) == texts(b), "{what}: texts differ");
}

/// A pair with its texts resolved, for comparisons that must not depend on ids.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PairText {
    pub line: u64,
    pub input: Option<String>,
    pub source: Option<String>,
    pub a: String,
    pub b: String,
    /// +1 (A preferred) or −1 (B preferred).
    pub sign: i8,
}

pub fn pair_text(ds: &Dataset, p: &Pair) -> PairText {
    PairText {
        line: p.line,
        input: p.input.map(|t| ds.text(t).to_owned()),
        source: p.source.map(|t| ds.text(t).to_owned()),
        a: ds.text(p.a).to_owned(),
        b: ds.text(p.b).to_owned(),
        sign: p.preference.sign(),
    }
}

/// All pairs with their texts, in load order.
pub fn pair_texts(ds: &Dataset) -> Vec<PairText> {
    ds.pairs.iter().map(|p| pair_text(ds, p)).collect()
}

/// Asserts the loader's invariant on record counts.
pub fn assert_record_invariant(ds: &Dataset, what: &str) {
    let s = &ds.stats;
    assert_eq!(
        s.records_parsed + s.records_skipped,
        s.records_read,
        "{what}: parsed + skipped != read ({s:?})"
    );
}

/// Groups pair indices by cluster and checks `n_clusters` is dense and exact.
pub fn clusters(ds: &Dataset) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); ds.n_clusters as usize];
    for (i, p) in ds.pairs.iter().enumerate() {
        assert!(
            p.cluster < ds.n_clusters,
            "cluster {} out of range",
            p.cluster
        );
        out[p.cluster as usize].push(i);
    }
    assert!(
        out.iter().all(|c| !c.is_empty()),
        "a cluster id without pairs"
    );
    out
}

/// The project's mock LLM server (`tests/mock_llm/server.py`) as a child
/// process on a free port, killed on drop. `None` when python3 cannot run.
pub struct MockServer {
    child: std::process::Child,
    pub port: u16,
}

impl MockServer {
    /// Starts `tests/mock_llm/server.py` on a free port. Panics with what to
    /// install when `python3` is missing: CI installs it, so a test that
    /// needs the mock fails rather than passing without having run.
    pub fn start() -> MockServer {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mock_llm/server.py");
        let mut child = std::process::Command::new("python3")
            .args([script, "0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "the mock LLM server needs python3 ({e}): install Python 3 \
                     (`apt-get install python3`, or run `bash .ci/setup`)"
                )
            });
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("cannot read the mock server's first line: {e}"));
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the mock: {line:?}"));
        MockServer { child, port }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl MockServer {
    /// Scripts the mock's replies (`POST /__replies`; see tests/mock_llm).
    pub fn script(&self, replies: &serde_json::Value) {
        ureq::post(&self.url("/__replies"))
            .send_string(&replies.to_string())
            .unwrap_or_else(|e| panic!("scripting the mock's replies: {e}"));
    }

    /// The mock's counters (`GET /__stats`: `total`, `faulted_total`,
    /// `repeated_successes`, …).
    pub fn stats(&self) -> serde_json::Value {
        let text = ureq::get(&self.url("/__stats"))
            .call()
            .unwrap_or_else(|e| panic!("asking the mock's stats: {e}"))
            .into_string()
            .unwrap_or_else(|e| panic!("reading the mock's stats: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("the mock's stats {text:?}: {e}"))
    }

    /// Calls the mock has answered so far, faulted ones included.
    pub fn total(&self) -> u64 {
        let st = self.stats();
        st["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("no total in {st}"))
    }

    /// Sets the mock's fault injection (`POST /__faults`; `{}` stops it).
    pub fn faults(&self, spec: &str) {
        ureq::post(&self.url("/__faults"))
            .set("content-type", "application/json")
            .send_string(spec)
            .unwrap_or_else(|e| panic!("setting the mock's faults: {e}"));
    }
}

/// A CLI run against the mock: the mock scripted, a dataset written in a
/// fresh directory, and a cache directory beside it.
#[cfg(not(target_arch = "wasm32"))]
pub struct MockRun {
    pub mock: MockServer,
    /// The dataset file.
    pub file: String,
    /// `--cache-dir`.
    pub cache: String,
    /// `--base-url`: the mock's `/v1`.
    pub base: String,
    /// The test's directory.
    pub dir: std::path::PathBuf,
}

#[cfg(not(target_arch = "wasm32"))]
impl MockRun {
    /// Starts the mock, scripts it with `script` and writes the dataset
    /// with `dataset` (which returns the file's path) in `tempdir(name)`.
    pub fn start(
        name: &str,
        script: impl FnOnce(&MockServer),
        dataset: impl FnOnce(&std::path::Path) -> String,
    ) -> MockRun {
        let mock = MockServer::start();
        script(&mock);
        let dir = tempdir(name);
        let file = dataset(&dir);
        let cache = dir.join("cache").to_string_lossy().into_owned();
        let base = mock.url("/v1");
        MockRun {
            mock,
            file,
            cache,
            base,
            dir,
        }
    }

    /// The flags that send a command's model calls to the mock, with the
    /// run's cache and the helpful task.
    pub fn model_flags(&self) -> [&str; 10] {
        [
            "--provider",
            "openai-compatible",
            "--model",
            "mock",
            "--base-url",
            self.base.as_str(),
            "--cache-dir",
            self.cache.as_str(),
            "--task",
            "helpful",
        ]
    }

    /// `command` (one or more words), the dataset file, the
    /// [`model_flags`](MockRun::model_flags), then `rest`, as strings.
    pub fn args(&self, command: &[&str], rest: &[&str]) -> Vec<String> {
        command
            .iter()
            .chain([&self.file.as_str()])
            .chain(self.model_flags().iter())
            .chain(rest)
            .map(|a| (*a).to_owned())
            .collect()
    }

    /// Runs the CLI with [`args`](MockRun::args).
    pub fn run(&self, command: &[&str], rest: &[&str]) -> (i32, String, String) {
        let args = self.args(command, rest);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&args)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the `profile` binary with `args` and no API key in its environment:
/// (exit code, stdout, stderr). A signal-killed run has code -1.
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_profile"))
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("GEMINI_API_KEY")
        .env_remove("PROFILE_API_KEY")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the profile binary: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh, empty directory for one test: `name` and the process id keep
/// tests and concurrent runs apart.
pub fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("profile-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// `inputs` summarised council reports, 4 pairs each over 4 distinct
/// responses (responses repeat across pairs, as in real data), each pair with
/// an input and a source.
pub fn council_dataset(inputs: usize) -> Dataset {
    let mut lines = String::new();
    for i in 0..inputs {
        let source = format!("Report {i}. The council met on day {i}. It approved item {i}. Residents objected to item {}.", i + 1);
        let r = |k: usize| {
            format!(
                "Summary {k} of report {i}. The council approved item {i}.{}",
                " It met on that day.".repeat(k)
            )
        };
        for (a, b, p) in [(0, 1, "a"), (1, 2, "b"), (0, 2, "a"), (2, 3, "b")] {
            lines.push_str(&serde_json::json!({"input": "Summarize.", "source": source, "response_a": r(a), "response_b": r(b), "preference": p}).to_string());
            lines.push('\n');
        }
    }
    load_bytes(lines.as_bytes(), FormatOptions::default()).expect("the council dataset loads")
}

/// The agents' names of a report, in order.
pub fn agent_names(report: &serde_json::Value) -> Vec<&str> {
    report["agents"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default()
}

/// The long-or-short dataset of the guided-judging and improvement tests:
/// `n` inputs with one pair each, a LONG response (longer, fewer novel
/// words) and a short one, LONG as response A on even inputs.
pub mod long_short {
    pub fn input(i: usize) -> String {
        format!("Question {i}: please explain the steps in detail now")
    }
    pub fn long(i: usize) -> String {
        format!("LONG please explain the steps in detail now please explain the steps {i}")
    }
    pub fn short(i: usize) -> String {
        format!("short answer {i}.")
    }

    /// The mock's replies of a judge that prefers LONG in either position
    /// (after any more specific reply scripted before them).
    pub fn judge_prefers_long() -> [serde_json::Value; 2] {
        let verdict = |b: &str| serde_json::json!({"better": b, "justification": "scripted"});
        [
            serde_json::json!({"match": "<<<RESPONSE_1\nLONG", "json": verdict("1")}),
            serde_json::json!({"match": "<<<RESPONSE_2\nLONG", "json": verdict("2")}),
        ]
    }

    /// Writes `dir/pairs.jsonl`, people preferring LONG where `human_long`
    /// says so; returns its path.
    pub fn write(dir: &std::path::Path, n: usize, human_long: impl Fn(usize) -> bool) -> String {
        let lines: Vec<String> = (0..n)
            .map(|i| {
                let long_is_a = i % 2 == 0;
                let (a, b) = if long_is_a {
                    (long(i), short(i))
                } else {
                    (short(i), long(i))
                };
                let pref = if human_long(i) == long_is_a { "a" } else { "b" };
                serde_json::json!({"input": input(i), "response_a": a, "response_b": b, "preference": pref})
                    .to_string()
            })
            .collect();
        let path = dir.join("pairs.jsonl");
        std::fs::write(&path, lines.join("\n"))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path.to_string_lossy().into_owned()
    }
}
