//! Helpers shared by the integration tests: where the real datasets and the
//! fixtures are, loading in random chunks, and comparing two datasets.
#![allow(dead_code)]

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
    pub fn start() -> Option<MockServer> {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mock_llm/server.py");
        let mut child = match std::process::Command::new("python3")
            .args([script, "0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("skipping the mock-server test: cannot run python3 ({e})");
                return None;
            }
        };
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take()?)
            .read_line(&mut line)
            .ok()?;
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the mock: {line:?}"));
        Some(MockServer { child, port })
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
