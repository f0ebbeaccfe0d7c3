//! Parquet files, the Hugging Face Hub's default file type.
//!
//! Each row becomes a JSON object keyed by its column names (with the
//! `parquet` crate's row API: a list column is an array, a struct column an
//! object, a string a string, a number a number), and goes through format
//! detection and the adapters exactly as a JSON record would: a Parquet
//! export of a JSONL dataset loads as the same dataset. A row is located by
//! its 1-based number, reported as its line.
//!
//! Row groups are read one at a time ([`ParquetRows`]), so memory holds one
//! row group's columns and the dataset being built. Natively
//! ([`load_parquet`]) the rows go straight into a [`Loader`]; in the
//! browser, the app's lazily loaded Parquet module (`src/bin/parquet.rs`)
//! reads a group into JSON lines and the worker pushes them, each at its
//! row's line, with the same diagnostics. The compressions the Hub's files
//! use are read: uncompressed, Snappy, gzip, LZ4, and natively Zstd (its C
//! library does not build for the browser).

use parquet::file::reader::{ChunkReader, FileReader, SerializedFileReader};
use serde_json::{Map, Value};

use super::Diagnostic;
#[cfg(not(target_arch = "wasm32"))]
use super::{Dataset, FormatOptions, LoadError, Loader};

/// Whether `head` (a file's first bytes) starts like a Parquet file.
pub fn is_parquet(head: &[u8]) -> bool {
    head.starts_with(b"PAR1")
}

/// A Parquet file being read, one row group at a time.
pub struct ParquetRows<R: ChunkReader + 'static> {
    reader: SerializedFileReader<R>,
    /// The line of the next group's first row, less one.
    line: u64,
}

/// What reading one row group gave.
pub struct GroupRead {
    /// The line (1-based row number) of the group's first row.
    pub first: u64,
    /// Rows decoded.
    pub rows: u64,
    /// The group's problem (rows that cannot be decoded), if any.
    pub diagnostic: Option<Diagnostic>,
}

impl<R: ChunkReader + 'static> ParquetRows<R> {
    /// Opens a Parquet file: its footer and schema.
    ///
    /// # Errors
    /// Why the file is not a readable Parquet file (its footer or schema is
    /// damaged).
    pub fn open(r: R) -> Result<Self, String> {
        SerializedFileReader::new(r)
            .map(|reader| ParquetRows { reader, line: 0 })
            .map_err(|e| format!("not a readable Parquet file ({})", why(&e)))
    }

    /// The number of row groups.
    pub fn groups(&self) -> usize {
        self.reader.num_row_groups()
    }

    /// Reads row group `group` (in order, from 0), each row as an object
    /// with its line given to `row`. A group whose pages cannot be decoded
    /// is read up to its first bad row; the rest is one diagnostic.
    pub fn read_group(
        &mut self,
        group: usize,
        mut row: impl FnMut(u64, Map<String, Value>),
    ) -> GroupRead {
        let planned = self.reader.metadata().row_group(group).num_rows().max(0) as u64;
        let first = self.line + 1;
        // The decoder is a dependency's: a panic on damaged pages (a bug of
        // its own) becomes this group's error instead of ending the process.
        let reader = &self.reader;
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rows_of(reader, group, first, &mut row)
        }))
        .unwrap_or_else(|_| (0, Some("the decoder failed on its pages".to_owned())));
        let (rows, error) = read;
        self.line += planned.max(rows);
        let diagnostic = (rows < planned || error.is_some()).then(|| {
            let why = error.unwrap_or_else(|| "its pages end early".to_owned());
            Diagnostic::new(
                first + rows,
                None,
                format!(
                    "row group {} (rows {first}–{}): {} of its {planned} rows cannot be \
                     decoded ({why}); they were skipped",
                    group + 1,
                    first + planned.saturating_sub(1),
                    planned.saturating_sub(rows)
                ),
            )
        });
        GroupRead {
            first,
            rows,
            diagnostic,
        }
    }
}

/// One row group as JSON lines: how the browser's Parquet module hands
/// rows to the worker (two Wasm modules share no memory).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupLines {
    /// The line of the first row; row `i` of `lines` is at `first + i`.
    pub first: u64,
    /// One JSON object per line (a JSON string never holds a raw newline).
    pub lines: String,
    pub diagnostic: Option<Diagnostic>,
}

impl<R: ChunkReader + 'static> ParquetRows<R> {
    /// Reads row group `group` as [`GroupLines`].
    pub fn group_lines(&mut self, group: usize) -> GroupLines {
        let mut lines = String::new();
        let read = self.read_group(group, |_, obj| {
            lines.push_str(&Value::Object(obj).to_string());
            lines.push('\n');
        });
        GroupLines {
            first: read.first,
            lines,
            diagnostic: read.diagnostic,
        }
    }
}

impl GroupLines {
    /// Pushes the rows into `loader`, each at its line, then the diagnostic.
    pub fn push_into(&self, loader: &mut super::Loader) {
        for (i, line) in self.lines.lines().enumerate() {
            if let Ok(obj) = serde_json::from_str::<Map<String, Value>>(line) {
                loader.push_object(self.first + i as u64, obj);
            }
        }
        if let Some(d) = &self.diagnostic {
            loader.push_diagnostic(d.clone());
        }
    }
}

/// Loads a Parquet file.
///
/// # Errors
/// [`LoadError::Io`] when the file is not a readable Parquet file (its
/// footer or schema is damaged); [`LoadError::UnknownFormat`] as for JSON.
/// A row that cannot be decoded ends its row group's reading with a located
/// diagnostic: the rows before it are kept.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_parquet(file: std::fs::File, opts: FormatOptions) -> Result<Dataset, LoadError> {
    let size = file.metadata().map_or(0, |m| m.len());
    let mut rows = ParquetRows::open(file).map_err(LoadError::Io)?;
    let mut loader = Loader::new(opts);
    for group in 0..rows.groups() {
        let read = rows.read_group(group, |line, obj| loader.push_object(line, obj));
        if let Some(d) = read.diagnostic {
            loader.push_diagnostic(d);
        }
    }
    let mut ds = loader.finish()?;
    ds.stats.bytes_read = size;
    Ok(ds)
}

/// Gives row group `group`'s rows (the first at line `first`) to `row`:
/// the rows read, and why reading stopped early. A row that is not an
/// object (never, for the row API) is counted and not given.
fn rows_of<R: ChunkReader + 'static>(
    reader: &SerializedFileReader<R>,
    group: usize,
    first: u64,
    row: &mut impl FnMut(u64, Map<String, Value>),
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
    for r in rows {
        match r {
            Ok(r) => {
                if let Value::Object(obj) = r.to_json_value() {
                    row(first + n, obj);
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
