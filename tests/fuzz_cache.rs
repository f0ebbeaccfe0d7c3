//! Deterministic fuzzing of the answer cache's reader (seeded; no external
//! fuzzer needed): a real cache file, mutated thousands of times (bit flips,
//! invalid UTF-8 bytes, truncations, deleted and duplicated spans, inserted
//! JSON punctuation and newlines), read through buffers of random sizes.
//! Reading must never panic; every good line must come back as its entry
//! and every other non-blank line as a diagnostic with its line number; the
//! result must not depend on the buffer size; a torn end must be seen.
//!
//! The coverage-guided version is `fuzz/fuzz_targets/cache.rs` (cargo-fuzz).

#![cfg(not(target_arch = "wasm32"))]

use std::io::BufReader;

use profile::llm::cache::{CacheEntry, MemoryCache};
use profile::llm::threads::read_cache_jsonl;
use profile::llm::Decoding;
use profile::stats::Rng;

fn seed_file() -> Vec<u8> {
    let mut mem = MemoryCache::new();
    for i in 0..12 {
        mem.put(CacheEntry {
            key: format!("k{i:02}"),
            template: "atomic_facts@1".into(),
            provider: "openai".into(),
            model: "m".into(),
            decoding: Decoding::default(),
            reply: format!("{{\"facts\": [\"Fact {i} — ünïcode.\"]}}"),
            value: serde_json::json!([format!("Fact {i}")]),
            input_tokens: i,
            output_tokens: 3,
        });
    }
    mem.to_jsonl().into_bytes()
}

fn mutate(bytes: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..=rng.below(4) {
        let n = bytes.len().max(1) as u64;
        let at = rng.below(n) as usize;
        match rng.below(7) {
            0 if !bytes.is_empty() => bytes[at] ^= 1 << rng.below(8),
            1 => bytes.insert(
                at.min(bytes.len()),
                [0xff, 0xc3, 0x80, 0xed][rng.below(4) as usize],
            ),
            2 => bytes.truncate(at),
            3 if !bytes.is_empty() => {
                let end = (at + 1 + rng.below(40) as usize).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            4 => {
                let end = (at + rng.below(200) as usize).min(bytes.len());
                let span = bytes[at.min(end)..end].to_vec();
                bytes.splice(at..at, span);
            }
            5 => bytes.insert(
                at.min(bytes.len()),
                b"{}[]\",:\n\r "[rng.below(10) as usize],
            ),
            _ => bytes.extend_from_slice(b"\n"),
        }
    }
}

/// The oracle: the lines, each good (its entry) or not.
fn expected(bytes: &[u8], max_line: usize) -> (MemoryCache, Vec<u64>) {
    let (mut mem, mut bad) = (MemoryCache::new(), Vec::new());
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry = (line.len() <= max_line)
            .then(|| std::str::from_utf8(line).ok())
            .flatten()
            .and_then(|t| serde_json::from_str::<CacheEntry>(t).ok());
        match entry {
            Some(e) => {
                mem.put(e);
            }
            None => bad.push(i as u64 + 1),
        }
    }
    (mem, bad)
}

#[test]
fn the_cache_reader_survives_mutations_and_loses_only_bad_lines() {
    let seed = seed_file();
    let mut rng = Rng::new(10);
    for round in 0..3000 {
        let mut bytes = seed.clone();
        mutate(&mut bytes, &mut rng);
        let max_line = if round % 5 == 0 { 200 } else { 1 << 20 };
        let cap = 1 + rng.below(300) as usize;
        let (mem, bad, clean) =
            read_cache_jsonl(BufReader::with_capacity(cap, &bytes[..]), max_line).unwrap();
        let (want, want_bad) = expected(&bytes, max_line);
        let lines: Vec<u64> = bad.iter().map(|d| d.line).collect();
        assert_eq!(lines, want_bad, "round {round}: {bad:?}");
        assert_eq!(mem.to_jsonl(), want.to_jsonl(), "round {round}");
        assert_eq!(
            clean,
            bytes.is_empty() || bytes.ends_with(b"\n"),
            "round {round}"
        );
    }
}

#[test]
fn one_bad_byte_costs_one_line() {
    let mut bytes = seed_file();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 5;
    bytes.insert(second, 0xff);
    let (mem, bad, clean) = read_cache_jsonl(&bytes[..], 1 << 20).unwrap();
    assert_eq!(mem.len(), 11);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].line, 2);
    assert!(bad[0].reason.contains("not UTF-8"), "{}", bad[0]);
    assert!(clean);
}
