//! Located diagnostics and chunking independence of the loader.
//!
//! * `fixtures/broken.jsonl` (BOM, CRLF endings, blank lines, invalid JSON, an
//!   array line, a missing field, a bad preference, numbers where strings
//!   belong, a truncated last line) and `fixtures/broken_llmbar.json` (a JSON
//!   array with bad elements, an element spanning lines, trailing content):
//!   every bad record gives one diagnostic with the right 1-based line and
//!   field, good records still count, and parsed + skipped == read.
//! * Corrupt and truncated gzip give a diagnostic, never a panic.
//! * Feeding a file in random chunks (1..4096 bytes, seeded) gives exactly the
//!   dataset loaded at once: SummEval, the LLMBar files, the gzipped HH-RLHF
//!   file and the broken fixtures.

mod common;

use common::*;
use profile::data::{load_bytes, Format, FormatOptions, Loader};
use profile::stats::Rng;

/// (line, field) of every diagnostic.
fn located(ds: &profile::data::Dataset) -> Vec<(u64, Option<&str>)> {
    ds.diagnostics
        .iter()
        .map(|d| (d.line, d.field.as_deref()))
        .collect()
}

#[test]
fn broken_jsonl_gives_located_diagnostics() {
    let bytes = read(&fixture("broken.jsonl"));
    // The fixture really has what it claims.
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "BOM");
    assert!(bytes.windows(2).any(|w| w == b"\r\n"), "CRLF");
    assert!(!bytes.ends_with(b"\n"), "truncated last line");

    let ds = load_bytes(&bytes, FormatOptions::default()).unwrap();
    assert_eq!(ds.format, Some(Format::Profile));
    // Non-blank lines: 1 2 4 5 6 7 8 10 11 12 13 (3 is empty, 9 is spaces and a tab).
    assert_eq!(ds.stats.records_read, 11);
    assert_eq!(ds.stats.records_parsed, 3);
    assert_eq!(ds.stats.records_skipped, 8);
    assert_record_invariant(&ds, "broken.jsonl");
    assert_eq!(
        located(&ds),
        [
            (4, None),               // invalid JSON (cut off after a key)
            (5, None),               // an array, not an object
            (6, Some("response_b")), // missing
            (7, Some("preference")), // "maybe"
            (8, Some("response_a")), // a number
            (10, Some("input")),     // a number
            (12, None),              // not JSON
            (13, None),              // truncated last line
        ]
    );
    let reasons: Vec<&str> = ds.diagnostics.iter().map(|d| d.reason.as_str()).collect();
    assert!(reasons[1].contains("array"), "{}", reasons[1]);
    assert!(reasons[2].contains("missing"), "{}", reasons[2]);
    assert!(reasons[3].contains("maybe"), "{}", reasons[3]);
    assert!(reasons[4].contains("string"), "{}", reasons[4]);
    // Display names the line and the field.
    assert_eq!(
        ds.diagnostics[2].to_string(),
        format!("line 6: field `response_b`: {}", reasons[2])
    );

    // The good records: line 1 (after the BOM), 2 and 11, with CR stripped.
    let got = pair_texts(&ds);
    let lines: Vec<u64> = got.iter().map(|p| p.line).collect();
    assert_eq!(lines, [1, 2, 11]);
    assert_eq!(got[0].input.as_deref(), Some("q"));
    assert_eq!(got[0].sign, -1);
    assert_eq!(got[1].b, "no");
    assert_eq!(got[2].b, "two three");
    assert_eq!(ds.n_clusters, 2);
}

#[test]
fn broken_json_array_gives_located_diagnostics() {
    let bytes = read(&fixture("broken_llmbar.json"));
    let ds = load_bytes(&bytes, FormatOptions::default()).unwrap();
    assert_eq!(ds.format, Some(Format::LlmBar));
    // Elements start on lines 2 3 4 5 6 7 10 11 12.
    assert_eq!(ds.stats.records_read, 9);
    assert_eq!(ds.stats.records_parsed, 3);
    assert_eq!(ds.stats.records_skipped, 6);
    assert_record_invariant(&ds, "broken_llmbar.json");
    assert_eq!(
        located(&ds),
        [
            (3, Some("label")),    // label 3
            (4, Some("output_2")), // missing
            (5, Some("output_1")), // an array
            (6, None),             // a string element
            (10, Some("label")),   // "two"
            (11, None),            // trailing comma: invalid JSON
            (14, None),            // content after the closing bracket
        ]
    );
    assert!(ds.diagnostics[6].reason.contains("after the closing"));
    // Good: line 2, line 7 (three lines, brackets and a quote inside a
    // string, label "2" as a string), line 12.
    let got = pair_texts(&ds);
    let lines: Vec<u64> = got.iter().map(|p| p.line).collect();
    assert_eq!(lines, [2, 7, 12]);
    assert_eq!(
        got[1].a,
        "an element over three lines, with a ] and a } and a \" inside"
    );
    assert_eq!(got.iter().map(|p| p.sign).collect::<Vec<_>>(), [1, -1, -1]);
}

#[test]
fn diagnostics_do_not_depend_on_chunking() {
    let mut rng = Rng::new(11);
    for name in ["broken.jsonl", "broken_llmbar.json"] {
        let bytes = read(&fixture(name));
        let whole = load_bytes(&bytes, FormatOptions::default()).unwrap();
        // Byte by byte, then random chunks.
        let ones = load_chunked(&bytes, FormatOptions::default(), &mut rng, 1).unwrap();
        assert_same_dataset(&whole, &ones, name);
        for max in [2, 3, 7, 64] {
            let ds = load_chunked(&bytes, FormatOptions::default(), &mut rng, max).unwrap();
            assert_same_dataset(&whole, &ds, name);
        }
    }
}

#[test]
fn real_files_load_the_same_in_random_chunks() {
    let mut files: Vec<&str> = vec![SUMMEVAL, HH_GZ];
    files.extend(LLMBAR_FILES.iter().map(|(p, _)| *p));
    for (i, path) in files.into_iter().enumerate() {
        let bytes = read(path);
        let whole = load_bytes(&bytes, FormatOptions::default()).unwrap();
        assert_record_invariant(&whole, path);
        let mut rng = Rng::new(1000 + i as u64);
        let chunked = load_chunked(&bytes, FormatOptions::default(), &mut rng, 4096).unwrap();
        assert_same_dataset(&whole, &chunked, path);
    }
}

#[test]
fn summeval_aspect_label_survives_chunking() {
    let opts = FormatOptions {
        summeval_label: profile::data::SummEvalLabel::Relevance,
        ..Default::default()
    };
    let bytes = read(SUMMEVAL);
    let whole = load_bytes(&bytes, opts.clone()).unwrap();
    let chunked = load_chunked(&bytes, opts, &mut Rng::new(5), 4096).unwrap();
    assert_same_dataset(&whole, &chunked, "summeval relevance");
    assert_eq!(whole.pairs.len(), 10_143);
}

#[test]
fn corrupt_gzip_gives_a_diagnostic() {
    let gz = read(HH_GZ);
    // Garbage after the magic bytes: not a valid header.
    let mut bad = vec![0x1f, 0x8b];
    bad.extend_from_slice(b"this is not deflate data at all");
    let ds = load_bytes(&bad, FormatOptions::default()).unwrap();
    assert!(!ds.diagnostics.is_empty(), "no diagnostic for a bad header");
    assert!(ds.diagnostics[0].reason.contains("gzip"));
    assert_record_invariant(&ds, "bad header");

    // Bytes overwritten in the middle of the deflate stream.
    let mut mid = gz.clone();
    let at = mid.len() / 2;
    for b in &mut mid[at..at + 64] {
        *b ^= 0xA5;
    }
    let ds = load_bytes(&mid, FormatOptions::default()).unwrap();
    assert!(
        ds.diagnostics.iter().any(|d| d.reason.contains("gzip")),
        "no gzip diagnostic: {:?}",
        ds.diagnostics
    );
    assert_record_invariant(&ds, "corrupt middle");
    // The records before the damage are still read.
    assert!(ds.stats.records_parsed > 100, "{:?}", ds.stats);
    assert!(ds.pairs.len() < 2307);

    // The same damage fed in chunks: still a diagnostic, still no panic.
    let ds = load_chunked(&mid, FormatOptions::default(), &mut Rng::new(3), 4096).unwrap();
    assert!(ds.diagnostics.iter().any(|d| d.reason.contains("gzip")));
    assert_record_invariant(&ds, "corrupt middle, chunked");
}

#[test]
fn truncated_gzip_gives_a_diagnostic() {
    let gz = read(HH_GZ);
    // Cut inside the deflate stream: the data end early and the CRC trailer is
    // missing. The loader must say so rather than silently return a prefix.
    let cut = &gz[..gz.len() / 3];
    let ds = load_bytes(cut, FormatOptions::default()).unwrap();
    assert_record_invariant(&ds, "truncated gzip");
    assert!(
        ds.diagnostics.iter().any(|d| d.reason.contains("gzip")),
        "no gzip diagnostic for a truncated stream: {:?}",
        ds.diagnostics
    );
}

#[test]
fn gzip_missing_only_its_trailer_gives_a_diagnostic() {
    let gz = read(HH_GZ);
    // Everything but the 8-byte CRC32/ISIZE trailer: all records decode.
    let cut = &gz[..gz.len() - 8];
    let ds = load_bytes(cut, FormatOptions::default()).unwrap();
    assert_record_invariant(&ds, "gzip without trailer");
    assert!(
        ds.diagnostics.iter().any(|d| d.reason.contains("gzip")),
        "no gzip diagnostic for a missing trailer: {:?}",
        ds.diagnostics
    );
}

#[test]
fn loader_reports_progress() {
    let bytes = read(&fixture("profile.jsonl"));
    let mut loader = Loader::new(FormatOptions::default());
    assert_eq!(loader.format(), None);
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    loader.push(head);
    assert_eq!(loader.format(), Some(Format::Profile));
    assert_eq!(loader.bytes_read(), head.len() as u64);
    let so_far = loader.records_read();
    assert!((1..10).contains(&so_far));
    loader.push(tail);
    assert_eq!(loader.bytes_read(), bytes.len() as u64);
    let ds = loader.finish().unwrap();
    assert_eq!(ds.stats.records_read, 10);
    assert_eq!(ds.stats.bytes_read, bytes.len() as u64);
}

#[test]
fn diagnostics_stay_in_file_order_when_detection_comes_late() {
    // 1,005 canonical records missing `response_b` (not detectable as any
    // format), then one complete record that fixes the format.
    let mut s = String::new();
    for _ in 0..1005 {
        s.push_str("{\"response_a\": \"x\", \"preference\": \"a\"}\n");
    }
    s.push_str("{\"response_a\": \"x\", \"response_b\": \"y\", \"preference\": \"a\"}\n");
    let ds = load_bytes(s.as_bytes(), FormatOptions::default()).unwrap();
    assert_eq!(ds.stats.records_skipped, 1005);
    assert_record_invariant(&ds, "late detection");
    // `Dataset::diagnostics` is documented as "in file order".
    let lines: Vec<u64> = ds.diagnostics.iter().map(|d| d.line).collect();
    assert_eq!(lines.len(), 1005);
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "diagnostics out of file order; they begin {:?}",
        &lines[..8]
    );
    // Every one of them has the same problem, and should say so.
    assert!(ds
        .diagnostics
        .iter()
        .all(|d| d.field.as_deref() == Some("response_b")));
}

/// A gzip member whose first stored block holds `text` and whose second block
/// is corrupt (LEN and NLEN disagree), so inflating fails right after `text`.
fn gzip_with_corrupt_second_block(text: &[u8]) -> Vec<u8> {
    let len = u16::try_from(text.len()).unwrap();
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    gz.push(0x00); // BFINAL = 0, BTYPE = stored
    gz.extend_from_slice(&len.to_le_bytes());
    gz.extend_from_slice(&(!len).to_le_bytes());
    gz.extend_from_slice(text);
    gz.extend_from_slice(&[0x01, 0x05, 0x00, 0x00, 0x00]); // NLEN != !LEN
    gz.extend_from_slice(b"hello");
    gz
}

#[test]
fn corrupt_gzip_keeps_every_record_decoded_before_the_damage() {
    // 486 complete JSONL records (39,9xx bytes), then a corrupt deflate block.
    let mut text = Vec::new();
    let mut n = 0u64;
    while text.len() < 40_000 {
        text.extend_from_slice(
            format!("{{\"input\": \"q{n}\", \"response_a\": \"a{n}\", \"response_b\": \"b b{n}\", \"preference\": \"a\"}}\n")
                .as_bytes(),
        );
        n += 1;
    }
    assert_eq!(n, 486);
    let gz = gzip_with_corrupt_second_block(&text);
    let whole = load_bytes(&gz, FormatOptions::default()).unwrap();
    let bytewise = load_chunked(&gz, FormatOptions::default(), &mut Rng::new(1), 1).unwrap();
    for (what, ds) in [("whole", &whole), ("bytewise", &bytewise)] {
        // Every record was fully decompressed before the damage.
        assert_eq!(ds.stats.records_parsed, n, "{what}: {:?}", ds.stats);
        assert_eq!(ds.stats.records_skipped, 0, "{what}: {:?}", ds.diagnostics);
        assert_eq!(ds.diagnostics.len(), 1, "{what}");
        assert!(ds.diagnostics[0].reason.contains("gzip"), "{what}");
    }
    assert_same_dataset(&whole, &bytewise, "corrupt gzip, whole vs bytewise");
}

#[test]
fn a_line_with_only_a_bom_is_blank() {
    // A BOM-prefixed file whose first line is empty, LF and CRLF.
    for bytes in [
        &b"\xEF\xBB\xBF\n{\"response_a\": \"x\", \"response_b\": \"y\", \"preference\": \"a\"}\n"[..],
        b"\xEF\xBB\xBF\r\n\r\n{\"response_a\": \"x\", \"response_b\": \"y\", \"preference\": \"a\"}\r\n",
    ] {
        let ds = load_bytes(bytes, FormatOptions::default()).unwrap();
        assert_eq!(ds.pairs.len(), 1);
        assert_eq!(ds.stats.records_read, 1, "{:?}", ds.diagnostics);
        assert!(ds.diagnostics.is_empty(), "{:?}", ds.diagnostics);
    }
}

#[test]
fn gzip_diagnostic_lines_are_one_based() {
    let mut bad = vec![0x1f, 0x8b];
    bad.extend_from_slice(b"this is not deflate data at all");
    let ds = load_bytes(&bad, FormatOptions::default()).unwrap();
    assert_eq!(ds.diagnostics.len(), 1);
    assert!(ds.diagnostics[0].line >= 1, "{:?}", ds.diagnostics[0]);
}
