//! Deterministic fuzzing of the loader (seeded; no external fuzzer needed).
//!
//! Thousands of random byte strings (biased towards JSON punctuation, with
//! BOMs and gzip magic) and random mutations (bit flips, truncations,
//! insertions of `{["\,:` bytes, deletions, duplications) of real-file
//! excerpts, the fixtures and small gzip files are loaded at once and in
//! random chunks. Loading must never panic, must keep
//! records_parsed + records_skipped == records_read, and (for plain input)
//! must give the same result however the bytes are chunked.
//!
//! The coverage-guided version is `fuzz/fuzz_targets/loader.rs` (cargo-fuzz).

mod common;

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use profile::data::{load_bytes, Dataset, FormatOptions, LoadError};
use profile::stats::Rng;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The seed files that mutations start from: excerpts of the real datasets
/// (cut mid-record on purpose), every fixture, and gzipped fixtures.
fn corpus() -> Vec<Vec<u8>> {
    let mut out = vec![
        read(SUMMEVAL)[..12_000].to_vec(),
        read(LLMBAR_NATURAL)[..12_000].to_vec(),
        read(LLMBAR_MTBENCH)[..6_000].to_vec(),
        read(HH_GZ)[..4_000].to_vec(),
    ];
    for name in [
        "profile.jsonl",
        "shp.jsonl",
        "shp2.jsonl",
        "webgpt.jsonl",
        "tldr_comparisons.jsonl",
        "tldr_axis.jsonl",
        "broken.jsonl",
        "broken_llmbar.json",
    ] {
        out.push(read(&fixture(name)));
    }
    out.push(gzip(&read(&fixture("profile.jsonl"))));
    out.push(gzip(&read(&fixture("broken_llmbar.json"))));
    out.push(gzip(&read(SUMMEVAL)[..5_000]));
    out
}

const JSONISH: &[u8] = b"{[\"\\,:}] \n\r\tab01-.eE";

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let n = rng.below(300) as usize;
    let mut v: Vec<u8> = (0..n)
        .map(|_| match rng.below(4) {
            0 => rng.below(256) as u8,
            _ => JSONISH[rng.below(JSONISH.len() as u64) as usize],
        })
        .collect();
    match rng.below(8) {
        0 => v.splice(0..0, [0x1f, 0x8b]).for_each(drop),
        1 => v.splice(0..0, [0xEF, 0xBB, 0xBF]).for_each(drop),
        2 => v.insert(0, b'['),
        3 => v.insert(0, b'{'),
        _ => {}
    }
    v
}

fn mutate(rng: &mut Rng, mut v: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(8) {
        let len = v.len() as u64;
        let at = if len == 0 { 0 } else { rng.below(len) as usize };
        match rng.below(6) {
            0 if len > 0 => v[at] ^= 1 << rng.below(8),
            1 => v.truncate(at),
            2 => v.insert(at, b"{[\"\\,:"[rng.below(6) as usize]),
            3 if len > 0 => {
                let end = (at + 1 + rng.below(64) as usize).min(v.len());
                v.drain(at..end);
            }
            4 if len > 0 => {
                let end = (at + 1 + rng.below(64) as usize).min(v.len());
                let dup = v[at..end].to_vec();
                v.splice(at..at, dup).for_each(drop);
            }
            _ if len > 0 => v[at] = rng.below(256) as u8,
            _ => {}
        }
    }
    v
}

/// Loads `bytes` at once and in random chunks; checks the invariants.
fn check(case: &str, bytes: &[u8], rng: &mut Rng) {
    let max_chunk = [1, 3, 17, 4096][rng.below(4) as usize];
    let seed = rng.next_u64();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let whole = load_bytes(bytes, FormatOptions::default());
        let chunked = load_chunked(
            bytes,
            FormatOptions::default(),
            &mut Rng::new(seed),
            max_chunk,
        );
        (whole, chunked)
    }));
    let (whole, chunked) = match outcome {
        Ok(r) => r,
        Err(_) => {
            let path = std::env::temp_dir().join(format!("profile-fuzz-{case}.bin"));
            let _ = std::fs::write(&path, bytes);
            panic!(
                "{case}: the loader panicked; input saved to {}",
                path.display()
            );
        }
    };
    for ds in [&whole, &chunked].into_iter().flatten() {
        assert_record_invariant(ds, case);
    }
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert_ds_eq(a, b, case, bytes),
        (Err(a), Err(b)) => assert_eq!(a, b, "{case}: errors differ by chunking"),
        _ => {
            let path = std::env::temp_dir().join(format!("profile-fuzz-{case}.bin"));
            let _ = std::fs::write(&path, bytes);
            panic!(
                "{case}: whole {:?} vs chunked {:?} (max chunk {max_chunk}); input saved to {}",
                summary(&whole),
                summary(&chunked),
                path.display()
            );
        }
    }
}

fn summary(r: &Result<Dataset, LoadError>) -> String {
    match r {
        Ok(ds) => format!("Ok({:?})", ds.stats),
        Err(e) => format!("Err({e})"),
    }
}

fn assert_ds_eq(a: &Dataset, b: &Dataset, case: &str, bytes: &[u8]) {
    let same = a.format == b.format
        && a.stats == b.stats
        && a.diagnostics == b.diagnostics
        && a.pairs == b.pairs
        && a.n_clusters == b.n_clusters
        && texts(a) == texts(b);
    if !same {
        let path = std::env::temp_dir().join(format!("profile-fuzz-{case}.bin"));
        let _ = std::fs::write(&path, bytes);
        assert_same_dataset(a, b, &format!("{case} (input saved to {})", path.display()));
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(0xF0220);
    for i in 0..3000 {
        let bytes = random_bytes(&mut rng);
        check(&format!("random-{i}"), &bytes, &mut rng);
    }
}

#[test]
fn mutated_files_never_panic() {
    let corpus = corpus();
    let mut rng = Rng::new(0xBADF00D);
    for i in 0..2500 {
        let base = corpus[rng.below(corpus.len() as u64) as usize].clone();
        let bytes = mutate(&mut rng, base);
        check(&format!("mutated-{i}"), &bytes, &mut rng);
    }
}

#[test]
fn every_prefix_of_a_fixture_loads() {
    // Truncation at every byte of a small fixture, plain and gzipped.
    let mut rng = Rng::new(77);
    for name in ["broken_llmbar.json", "tldr_axis.jsonl"] {
        let plain = read(&fixture(name));
        for end in 0..=plain.len() {
            check(&format!("prefix-{name}-{end}"), &plain[..end], &mut rng);
        }
        let gz = gzip(&plain);
        for end in 0..=gz.len() {
            check(&format!("gzprefix-{name}-{end}"), &gz[..end], &mut rng);
        }
    }
}
