//! Parquet files, the Hugging Face Hub's default file type (native only).
//!
//! Each row becomes a JSON object keyed by its column names (with the
//! `parquet` crate's row API: a list column is an array, a struct column an
//! object, a string a string, a number a number), and goes through format
//! detection and the adapters exactly as a JSON record would: a Parquet
//! export of a JSONL dataset loads as the same dataset. A row is located by
//! its 1-based number, reported as its line.
//!
//! Row groups are read one at a time, so memory holds one row group's
//! columns and the dataset being built. The compressions the Hub's files
//! use are read: uncompressed, Snappy, gzip, LZ4 and Zstd.

use std::fs::File;

use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::Value;

use super::{Dataset, Diagnostic, FormatOptions, LoadError, Loader};

/// Whether `head` (a file's first bytes) starts like a Parquet file.
pub fn is_parquet(head: &[u8]) -> bool {
    head.starts_with(b"PAR1")
}

/// Loads a Parquet file.
///
/// # Errors
/// [`LoadError::Io`] when the file is not a readable Parquet file (its
/// footer or schema is damaged); [`LoadError::UnknownFormat`] as for JSON.
/// A row that cannot be decoded ends the reading with a located diagnostic:
/// the rows before it are kept.
pub fn load_parquet(file: File, opts: FormatOptions) -> Result<Dataset, LoadError> {
    let size = file.metadata().map_or(0, |m| m.len());
    let reader = SerializedFileReader::new(file)
        .map_err(|e| LoadError::Io(format!("not a readable Parquet file ({})", why(&e))))?;
    let mut loader = Loader::new(opts);
    let mut line = 0u64;
    for group in 0..reader.num_row_groups() {
        let planned = reader.metadata().row_group(group).num_rows().max(0) as u64;
        let first = line + 1;
        // The decoder is a dependency's: a panic on damaged pages (a bug of
        // its own) becomes this group's error instead of ending the process.
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_group(&reader, group, &mut loader, first)
        }))
        .unwrap_or_else(|_| (0, Some("the decoder failed on its pages".to_owned())));
        let (rows, error) = read;
        line += planned.max(rows);
        if rows < planned || error.is_some() {
            let why = error.unwrap_or_else(|| "its pages end early".to_owned());
            loader.push_diagnostic(Diagnostic::new(
                first + rows,
                None,
                format!(
                    "row group {} (rows {first}–{}): {} of its {planned} rows cannot be \
                     decoded ({why}); they were skipped",
                    group + 1,
                    first + planned.saturating_sub(1),
                    planned.saturating_sub(rows)
                ),
            ));
        }
    }
    let mut ds = loader.finish()?;
    ds.stats.bytes_read = size;
    Ok(ds)
}

/// Feeds row group `group`'s rows to `loader` (the first at line `first`):
/// the rows read, and why reading stopped early.
fn read_group(
    reader: &SerializedFileReader<File>,
    group: usize,
    loader: &mut Loader,
    first: u64,
) -> (u64, Option<String>) {
    let g = match reader.get_row_group(group) {
        Ok(g) => g,
        Err(e) => return (0, Some(why(&e))),
    };
    let rows = match g.get_row_iter(None) {
        Ok(rows) => rows,
        Err(e) => return (0, Some(why(&e))),
    };
    let mut n = 0u64;
    for row in rows {
        match row {
            Ok(row) => {
                if let Value::Object(obj) = row.to_json_value() {
                    loader.push_object(first + n, obj);
                }
                n += 1;
            }
            Err(e) => return (n, Some(why(&e))),
        }
    }
    (n, None)
}

/// The reader's error without its "Parquet error: " prefix.
fn why(e: &parquet::errors::ParquetError) -> String {
    let s = e.to_string();
    s.strip_prefix("Parquet error: ").unwrap_or(&s).to_owned()
}
