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
