//! Parquet files in the CLI: SummEval written as Parquet (from the JSONL
//! in ../shared/data, with each compression the Hub's files use) scores
//! exactly as the JSONL; a damaged file is a located error, never a panic.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::sync::Arc;

use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

const STRINGS: [&str; 4] = ["article_id", "summary_id", "article", "summary"];
const NUMBERS: [&str; 4] = ["coherence", "fluency", "consistency", "relevance"];

/// SummEval's records as Parquet, in row groups of 300 rows.
fn write_summeval(path: &std::path::Path, compression: Compression) {
    let records: Vec<serde_json::Value> = std::fs::read_to_string(common::SUMMEVAL)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut schema = String::from("message summeval {");
    for s in STRINGS {
        schema += &format!(" REQUIRED BYTE_ARRAY {s} (UTF8);");
    }
    for n in NUMBERS {
        schema += &format!(" REQUIRED DOUBLE {n};");
    }
    schema += " }";
    let schema = Arc::new(parse_message_type(&schema).unwrap());
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(compression)
            .build(),
    );
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, schema, props).unwrap();
    for rows in records.chunks(300) {
        let mut group = w.next_row_group().unwrap();
        let mut i = 0;
        while let Some(mut col) = group.next_column().unwrap() {
            if i < STRINGS.len() {
                let values: Vec<ByteArray> = rows
                    .iter()
                    .map(|r| ByteArray::from(r[STRINGS[i]].as_str().unwrap()))
                    .collect();
                col.typed::<ByteArrayType>()
                    .write_batch(&values, None, None)
                    .unwrap();
            } else {
                let values: Vec<f64> = rows
                    .iter()
                    .map(|r| r[NUMBERS[i - STRINGS.len()]].as_f64().unwrap())
                    .collect();
                col.typed::<DoubleType>()
                    .write_batch(&values, None, None)
                    .unwrap();
            }
            col.close().unwrap();
            i += 1;
        }
        group.close().unwrap();
    }
    w.close().unwrap();
}

fn score(path: &str) -> serde_json::Value {
    let (code, out, err) = common::run_cli(&[
        "score",
        path,
        "--factors",
        "length,novel_words",
        "--bootstrap",
        "50",
        "--json",
    ]);
    assert_eq!(code, 0, "{path}: {err}");
    let mut v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The input's name and size differ; everything computed from it may not.
    v["dataset"]["name"] = serde_json::Value::Null;
    v["dataset"]["bytes_read"] = serde_json::Value::Null;
    v
}

#[test]
fn summeval_as_parquet_scores_exactly_as_the_jsonl() {
    let dir = common::tempdir("parquet");
    let jsonl = score(common::SUMMEVAL);
    assert_eq!(
        jsonl["dataset"]["format"], "summeval",
        "{}",
        jsonl["dataset"]
    );
    for (name, c) in [
        ("uncompressed", Compression::UNCOMPRESSED),
        ("snappy", Compression::SNAPPY),
        ("gzip", Compression::GZIP(GzipLevel::default())),
        ("zstd", Compression::ZSTD(ZstdLevel::default())),
        ("lz4", Compression::LZ4_RAW),
    ] {
        let path = dir.join(format!("summeval-{name}.parquet"));
        write_summeval(&path, c);
        let got = score(&path.to_string_lossy());
        assert_eq!(got, jsonl, "{name}");
    }
    // Recognised by its bytes, whatever its name.
    let renamed = dir.join("summeval.data");
    std::fs::copy(dir.join("summeval-snappy.parquet"), &renamed).unwrap();
    assert_eq!(score(&renamed.to_string_lossy()), jsonl);
}

#[test]
fn a_damaged_parquet_file_is_a_located_error() {
    let dir = common::tempdir("parquet-bad");
    let good = dir.join("good.parquet");
    write_summeval(&good, Compression::SNAPPY);
    let bytes = std::fs::read(&good).unwrap();
    // Cut in half: the footer (schema, row groups) is gone.
    let cut = dir.join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (code, out, err) = common::run_cli(&["score", &cut.to_string_lossy(), "--json"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("cut.parquet: cannot read the input: not a readable Parquet file (Invalid Parquet file. Corrupt footer)"),
        "{err}"
    );
    // The magic bytes only.
    let magic = dir.join("magic.parquet");
    std::fs::write(&magic, b"PAR1").unwrap();
    let (code, _, err) = common::run_cli(&["score", &magic.to_string_lossy(), "--json"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a readable Parquet file"), "{err}");
    // Data pages overwritten in the middle: that row group is skipped and
    // listed with its rows; the other row groups are kept.
    let mut mangled = bytes.clone();
    let mid = mangled.len() / 3;
    for b in &mut mangled[mid..mid + 4096] {
        *b = 0xAB;
    }
    let bad = dir.join("mangled.parquet");
    std::fs::write(&bad, &mangled).unwrap();
    let (code, out, err) = common::run_cli(&["score", &bad.to_string_lossy(), "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let problems = v["dataset"]["diagnostics"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = problems[0]["reason"].as_str().unwrap();
    let caps: Vec<u64> = p
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    // "row group G (rows F–L): S of its N rows cannot be decoded (…); they were skipped"
    assert!(
        p.starts_with("row group ") && p.ends_with("they were skipped"),
        "{p}"
    );
    let (first, last, skipped) = (caps[1], caps[2], caps[3]);
    assert_eq!(skipped, last - first + 1, "{p}");
    assert_eq!(problems[0]["line"], first);
    assert_eq!(
        v["dataset"]["records_read"].as_u64().unwrap() + skipped,
        1600,
        "every row read or listed"
    );
}

/// The browser's path — the Parquet module reads each row group into JSON
/// lines ([`GroupLines`]) and the worker pushes them into its loader — gives
/// the dataset `load_parquet` gives, rows, lines and diagnostics alike, also
/// for a file with a damaged row group.
#[test]
fn the_browsers_group_lines_load_as_the_cli_does() {
    use profile::data::{load_parquet, FormatOptions, GroupLines, Loader, ParquetRows};
    let dir = common::tempdir("parquet-lines");
    let good = dir.join("good.parquet");
    write_summeval(&good, Compression::SNAPPY);
    let mut mangled = std::fs::read(&good).unwrap();
    let mid = mangled.len() / 3;
    for b in &mut mangled[mid..mid + 4096] {
        *b = 0xAB;
    }
    let bad = dir.join("mangled.parquet");
    std::fs::write(&bad, &mangled).unwrap();
    for path in [&good, &bad] {
        let cli =
            load_parquet(std::fs::File::open(path).unwrap(), FormatOptions::default()).unwrap();
        let mut rows = ParquetRows::open(std::fs::File::open(path).unwrap()).unwrap();
        let mut loader = Loader::new(FormatOptions::default());
        for g in 0..rows.groups() {
            // Across the module boundary as JSON, as serde-wasm-bindgen would.
            let lines: GroupLines =
                serde_json::from_str(&serde_json::to_string(&rows.group_lines(g)).unwrap())
                    .unwrap();
            lines.push_into(&mut loader);
        }
        let web = loader.finish().unwrap();
        assert_eq!(format!("{:?}", web.pairs), format!("{:?}", cli.pairs));
        assert_eq!(web.diagnostics, cli.diagnostics);
        assert_eq!(web.stats.records_read, cli.stats.records_read);
        assert_eq!(web.stats.records_parsed, cli.stats.records_parsed);
    }
}
