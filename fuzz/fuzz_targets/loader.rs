//! Coverage-guided fuzzing of the loader: the input is fed in two chunks,
//! split at the first byte's value, so the fuzzer also explores chunk
//! boundaries. Loading must not panic, must keep
//! records_parsed + records_skipped == records_read, and must give the same result as loading the bytes at once
//! (gzip included: the decoder hands over everything before any damage).
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile::data::{load_bytes, FormatOptions, Loader};

fn check(data: &[u8]) {
    let split = data.first().map_or(0, |&b| usize::from(b).min(data.len()));
    let (head, tail) = data.split_at(split);
    let mut loader = Loader::new(FormatOptions::default());
    loader.push(head);
    loader.push(tail);
    let chunked = loader.finish();
    if let Ok(ds) = &chunked {
        let s = &ds.stats;
        assert_eq!(s.records_parsed + s.records_skipped, s.records_read);
        assert_eq!(s.bytes_read, data.len() as u64);
        for p in &ds.pairs {
            assert!(p.cluster < ds.n_clusters);
            let _ = (ds.text(p.a), ds.text(p.b));
        }
    }
    let whole = load_bytes(data, FormatOptions::default());
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.format, b.format);
            assert_eq!(a.stats, b.stats);
            assert_eq!(a.diagnostics, b.diagnostics);
            assert_eq!(a.pairs, b.pairs);
            assert_eq!(a.n_clusters, b.n_clusters);
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("whole and chunked loads disagree on success"),
    }
}

fuzz_target!(|data: &[u8]| check(data));
