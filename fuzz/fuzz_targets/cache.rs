//! Coverage-guided fuzzing of the answer cache's reader
//! (`profile::llm::threads::read_cache_jsonl`): any bytes, read through a buffer
//! whose size is the first byte, with a line cap from the second. It must
//! not panic; every non-blank line must be an entry or a diagnostic (with
//! increasing line numbers); the result must not depend on the buffer size;
//! and "ends with a newline" must be true exactly when it does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile::llm::threads::read_cache_jsonl;

fuzz_target!(|data: &[u8]| {
    let cap = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let max_line = 16 + usize::from(data.get(1).copied().unwrap_or(255)) * 64;
    let small = read_cache_jsonl(std::io::BufReader::with_capacity(cap, data), max_line).unwrap();
    let big = read_cache_jsonl(std::io::BufReader::with_capacity(1 << 16, data), max_line).unwrap();
    assert_eq!(small.1, big.1);
    assert_eq!(small.0.to_jsonl(), big.0.to_jsonl());
    assert_eq!(small.2, data.is_empty() || data.ends_with(b"\n"));
    let lines = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count();
    assert!(small.1.len() + small.0.len() <= lines);
    assert!(small.1.windows(2).all(|w| w[0].line < w[1].line));
});
