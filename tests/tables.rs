//! CSV and TSV input (issue 15): a table is read exactly as the same records
//! in JSON (detection, adapters, numbers written as text), chunk by chunk,
//! and every bad row or header is a located problem, never a panic.

mod common;

use common::*;
use profile::data::{load_bytes, Format, FormatOptions, LoadError, TableOptions};
use serde_json::Value;

fn csv_opts() -> FormatOptions {
    FormatOptions {
        table: TableOptions::for_file_name("x.csv"),
        ..Default::default()
    }
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break.
fn cell(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// SummEval as CSV, written from the JSONL: every column, numbers as text.
fn summeval_csv() -> Vec<u8> {
    let text = String::from_utf8(read(SUMMEVAL)).unwrap();
    let mut columns: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let obj: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        if columns.is_empty() {
            columns = obj.keys().cloned().collect();
        }
        rows.push(
            columns
                .iter()
                .map(|c| cell(&obj[c]))
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    let mut out = columns.join(",") + "\r\n";
    for r in rows {
        out.push_str(&r);
        out.push_str("\r\n");
    }
    out.into_bytes()
}

#[test]
fn summeval_csv_is_detected_and_loads_as_the_jsonl() {
    let csv = summeval_csv();
    let json = load_default(SUMMEVAL);
    let table = load_bytes(&csv, csv_opts()).unwrap();
    assert_eq!(table.format, Some(Format::SummEval));
    // The same pairs, each from the row one line below its JSONL line (the
    // header is line 1).
    let shifted: Vec<PairText> = pair_texts(&table)
        .into_iter()
        .map(|p| PairText {
            line: p.line - 1,
            ..p
        })
        .collect();
    let want = pair_texts(&json);
    assert_eq!(shifted.len(), want.len());
    assert!(shifted == want, "the CSV's pairs differ from the JSONL's");
    assert_eq!(table.stats.records_read, json.stats.records_read);
    assert_eq!(
        table.stats.human_ties_dropped,
        json.stats.human_ties_dropped
    );
    assert_eq!(table.n_clusters, json.n_clusters);
    assert_eq!(
        table.fields.names(),
        json.fields.names(),
        "numbers are not groups"
    );
    // Any chunking gives the same dataset (quoted fields span chunks).
    let mut rng = profile::stats::Rng::new(7);
    for max in [1, 13, 4096] {
        let chunked = load_chunked(&csv, csv_opts(), &mut rng, max).unwrap();
        assert_same_dataset(&table, &chunked, &format!("chunks up to {max}"));
    }
}

#[test]
fn summeval_csv_scores_exactly_as_the_jsonl() {
    let dir = tempdir("summeval-csv");
    let path = dir.join("summeval.csv");
    std::fs::write(&path, summeval_csv()).unwrap();
    let report = |file: &str| {
        let (rc, out, err) = run_cli(&["score", file, "--bootstrap", "200", "--json"]);
        assert_eq!(rc, 0, "{err}");
        let mut v: Value = serde_json::from_str(&out).unwrap();
        let d = v["dataset"].as_object_mut().unwrap();
        for k in ["name", "bytes_read"] {
            d.remove(k);
        }
        v
    };
    assert_eq!(report(path.to_str().unwrap()), report(SUMMEVAL));
}

#[test]
fn map_reads_columns_as_profile_fields_and_tsv() {
    let dir = tempdir("csv-map");
    let path = dir.join("pairs.tsv");
    let mut text = "question\tfirst\tsecond\twinner\tmodel\n".to_owned();
    for i in 0..12 {
        text.push_str(&format!(
            "q{i}\tshort\ta much longer answer number {i}\t{}\tm{}\n",
            if i % 3 == 0 { "1" } else { "b" },
            i % 2
        ));
    }
    std::fs::write(&path, &text).unwrap();
    let p = path.to_str().unwrap();
    let (rc, out, err) = run_cli(&[
        "score",
        p,
        "--map",
        "input=question,response_a=first,response_b=second,preference=winner",
        "--factors",
        "length",
        "--json",
    ]);
    assert_eq!(rc, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["dataset"]["format"], "profile");
    assert_eq!(v["dataset"]["pairs"], 12);
    assert_eq!(v["dataset"]["group_fields"], serde_json::json!(["model"]));
    // Without the mapping the columns match no format: the error names them.
    let (rc, _, err) = run_cli(&["score", p]);
    assert_eq!(rc, 1);
    assert!(
        err.contains("question, first, second, winner, model"),
        "{err}"
    );
    // A mapped column the header lacks, a field that is not PROFILE's.
    let (rc, _, err) = run_cli(&["score", p, "--map", "response_a=nope"]);
    assert_eq!(rc, 1);
    assert!(
        err.contains("no column `nope`") && err.contains("question, first"),
        "{err}"
    );
    let (rc, _, err) = run_cli(&["score", p, "--map", "answer=first"]);
    assert_eq!(rc, 2);
    assert!(err.contains("`answer` is not a PROFILE field"), "{err}");
    let (rc, _, err) = run_cli(&["score", SUMMEVAL, "--map", "response_a=x"]);
    assert_eq!(rc, 2, "{err}");
}

const HEAD: &str = "response_a,response_b,preference\n";

fn diagnostics(text: &str, opts: FormatOptions) -> Vec<(u64, Option<String>, String)> {
    let ds = load_bytes(text.as_bytes(), opts).unwrap();
    assert_record_invariant(&ds, text.get(..40).unwrap_or(text));
    ds.diagnostics
        .into_iter()
        .map(|d| (d.line, d.field, d.reason))
        .collect()
}

#[test]
fn ragged_rows_and_bad_cells_are_located() {
    let text = format!("{HEAD}a,bb,b\na,bb\n\"x\ny\",bb,b,extra\na,bb,maybe\n");
    let d = diagnostics(&text, csv_opts());
    assert_eq!(d[0].0, 3);
    assert!(d[0].2.contains("2 cells; the header has 3"), "{d:?}");
    assert_eq!(d[1].0, 4, "a row starts where its first line is");
    assert!(d[1].2.contains("4 cells"), "{d:?}");
    assert_eq!(
        (d[2].0, d[2].1.as_deref()),
        (6, Some("preference")),
        "{d:?}"
    );
    assert_eq!(d.len(), 3, "{d:?}");
}

#[test]
fn invalid_utf8_cell_names_its_column() {
    let mut bytes = HEAD.as_bytes().to_vec();
    bytes.extend_from_slice(b"a,bb,b\na,b\xFFb,b\n");
    let ds = load_bytes(&bytes, csv_opts()).unwrap();
    assert_eq!(ds.pairs.len(), 1);
    assert_eq!(ds.diagnostics[0].line, 3);
    assert_eq!(ds.diagnostics[0].field.as_deref(), Some("response_b"));
}

#[test]
fn unterminated_quote_is_located_at_its_row() {
    let text = format!("{HEAD}a,bb,b\na,\"bb,b\nc,dd,a\n");
    let d = diagnostics(&text, csv_opts());
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].0, 3);
    assert!(d[0].2.contains("never closed"), "{d:?}");
}

#[test]
fn huge_field_is_skipped_while_it_streams_past() {
    let opts = FormatOptions {
        max_record_mb: 1,
        ..csv_opts()
    };
    let mut loader = profile::data::Loader::new(opts);
    loader.push(format!("{HEAD}a,bb,b\nx,\"").as_bytes());
    let chunk = vec![b'y'; 1 << 16];
    for _ in 0..64 {
        loader.push(&chunk); // 4 MiB inside one quoted cell
    }
    loader.push(b"\",z,a\na,bb,b\n");
    let ds = loader.finish().unwrap();
    assert_eq!(ds.pairs.len(), 2);
    assert_eq!(ds.diagnostics.len(), 1);
    assert_eq!(ds.diagnostics[0].line, 3);
    assert!(ds.diagnostics[0].reason.contains("over 1 MiB"));
}

#[test]
fn header_problems_are_errors_that_say_where() {
    for (text, want) in [
        ("a,,b\n1,2,3\n", "column 2 of the header has no name"),
        ("a,b,a\n1,2,3\n", "`a` twice"),
        ("\"a,b\n1,2\n", "never closed"),
    ] {
        match load_bytes(text.as_bytes(), csv_opts()) {
            Err(LoadError::Table(e)) => assert!(e.contains(want) && e.starts_with("line 1"), "{e}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    // A header alone is an empty dataset; an empty file too.
    assert_eq!(
        load_bytes(HEAD.as_bytes(), csv_opts())
            .unwrap()
            .stats
            .records_read,
        0
    );
    assert_eq!(load_bytes(b"", csv_opts()).unwrap().stats.records_read, 0);
}

#[test]
fn gzipped_csv_loads() {
    use std::io::Write;
    let csv = summeval_csv();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&csv).unwrap();
    let gz = enc.finish().unwrap();
    let a = load_bytes(&csv, csv_opts()).unwrap();
    let b = load_bytes(&gz, csv_opts()).unwrap();
    assert_eq!(pair_texts(&a), pair_texts(&b));
}

#[test]
fn a_row_of_millions_of_empty_cells_is_bounded_too() {
    let opts = FormatOptions {
        max_record_mb: 1,
        ..csv_opts()
    };
    let mut loader = profile::data::Loader::new(opts);
    loader.push(format!("{HEAD}a,bb,b\n").as_bytes());
    let commas = vec![b','; 1 << 16];
    for _ in 0..32 {
        loader.push(&commas); // 2 million cells
    }
    loader.push(b"\na,bb,b\n");
    let ds = loader.finish().unwrap();
    assert_eq!(ds.pairs.len(), 2);
    assert_eq!(ds.diagnostics.len(), 1);
    assert!(
        ds.diagnostics[0].reason.contains("over 1 MiB"),
        "{:?}",
        ds.diagnostics
    );
}

/// Random tables (quotes, delimiters, line breaks, bytes that are not UTF-8)
/// in random chunks never panic and keep the record invariant.
#[test]
fn random_tables_never_panic() {
    let mut rng = profile::stats::Rng::new(15);
    let alphabet: &[u8] = b"ab,,\t\"\"\n\r 1.5-\xFF\xEF\xBB\xBF";
    for case in 0..300 {
        let mut bytes = HEAD.as_bytes().to_vec();
        if case % 3 == 0 {
            bytes.clear();
        }
        let n = rng.below(400) as usize;
        bytes.extend((0..n).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]));
        for opts in [
            csv_opts(),
            FormatOptions {
                table: TableOptions::for_file_name("x.tsv"),
                ..Default::default()
            },
        ] {
            match load_chunked(&bytes, opts, &mut rng, 9) {
                Ok(ds) => assert_record_invariant(&ds, &format!("case {case}")),
                Err(LoadError::Table(e)) => assert!(!e.is_empty()),
                Err(e) => panic!("case {case}: {e}"),
            }
        }
    }
}

/// The app's column mapping (the upload panel's form, sent to the worker as
/// `FormatOptions::column_map`) reads a table as the CLI's `--map` does,
/// is kept by the options the app and worker exchange, and applies only
/// to files that are tables.
#[test]
fn the_apps_column_map_reads_a_table_as_map_does() {
    let mut text = "question,first,second,winner\n".to_owned();
    for i in 0..9 {
        text.push_str(&format!(
            "q{i},short,a longer answer {i},{}\n",
            if i % 3 == 0 { "a" } else { "b" }
        ));
    }
    let map = TableOptions::parse_map(
        "input=question,response_a=first,response_b=second,preference=winner",
    )
    .unwrap();
    let app = FormatOptions {
        column_map: map.clone(),
        ..Default::default()
    };
    // What the worker does with a dropped file's name.
    let mut worker = app.clone();
    worker.table = app.table_for("pairs.CSV");
    assert_eq!(
        worker.table.as_ref().map(|t| (t.delimiter, &t.map)),
        Some((b',', &map))
    );
    let ds = load_bytes(text.as_bytes(), worker).expect("mapped table loads");
    let cli = load_bytes(
        text.as_bytes(),
        FormatOptions {
            table: Some(TableOptions {
                delimiter: b',',
                map,
            }),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ds.pairs.len(), 9);
    assert_eq!(format!("{:?}", ds.pairs), format!("{:?}", cli.pairs));
    // The mapping crosses the app ↔ worker boundary (JSON); a JSON file
    // ignores it.
    let back: FormatOptions = serde_json::from_str(&serde_json::to_string(&app).unwrap()).unwrap();
    assert_eq!(back.column_map, app.column_map);
    assert!(app.table_for("pairs.jsonl").is_none());
    // Without the mapping the same table matches no format.
    let mut plain = FormatOptions::default();
    plain.table = plain.table_for("pairs.csv");
    assert!(load_bytes(text.as_bytes(), plain).is_err());
}
