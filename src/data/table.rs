//! CSV and TSV: a header row, then one record per row.
//!
//! Rows are read with `csv-core` (the push-based reader under the `csv`
//! crate: no allocation of its own, a quoted field may span any number of
//! chunks), so a table is chunk-fed like JSON Lines and memory stays within
//! one row, whose size is limited as a JSON record's is. Each row becomes a
//! JSON object keyed by the header (after the `--map` renames), so format
//! detection and the adapters read it exactly as a JSON record: a column
//! named `info.post` is the field `post` of an object `info`, an empty cell is
//! an absent field, and every cell is a string (the adapters read a string
//! that is a number as that number; a number is never a field to group by).
//!
//! Problems are located: a row whose number of cells differs from the
//! header's, a cell that is not UTF-8 (named by its column), a row over the
//! size limit, a quote never closed (at the line where its row starts).

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
use serde_json::{Map, Value};

use super::framing::At;
use super::Diagnostic;

/// The PROFILE schema fields a column can be mapped to (`--map`).
pub const MAPPABLE: [&str; 7] = [
    "input",
    "source",
    "response_a",
    "response_b",
    "preference",
    "task",
    "id",
];

/// How a table is read: its delimiter, and columns renamed to PROFILE fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableOptions {
    /// `,` for CSV, a tab for TSV.
    pub delimiter: u8,
    /// (field, column): the column `column` is read as `field`.
    pub map: Vec<(String, String)>,
}

impl TableOptions {
    /// The table kind a file name implies (`.csv`, `.tsv`, `.tab`, also
    /// gzipped), if any.
    pub fn for_file_name(name: &str) -> Option<TableOptions> {
        let n = name.to_ascii_lowercase();
        let n = n.strip_suffix(".gz").unwrap_or(&n);
        let delimiter = if n.ends_with(".csv") {
            b','
        } else if n.ends_with(".tsv") || n.ends_with(".tab") {
            b'\t'
        } else {
            return None;
        };
        Some(TableOptions {
            delimiter,
            map: Vec::new(),
        })
    }

    /// Parses `field=column,field=column`.
    ///
    /// # Errors
    /// A sentence naming the bad part and the fields that can be mapped.
    pub fn parse_map(text: &str) -> Result<Vec<(String, String)>, String> {
        let mut map: Vec<(String, String)> = Vec::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let Some((field, column)) = part.split_once('=') else {
                return Err(format!("`{part}` is not FIELD=COLUMN"));
            };
            let (field, column) = (field.trim(), column.trim());
            if !MAPPABLE.contains(&field) {
                return Err(format!(
                    "`{field}` is not a PROFILE field; map columns to {}",
                    MAPPABLE.join(", ")
                ));
            }
            if column.is_empty() {
                return Err(format!("`{part}` names no column"));
            }
            if map.iter().any(|(f, _)| f == field) {
                return Err(format!("`{field}` is mapped twice"));
            }
            map.push((field.to_owned(), column.to_owned()));
        }
        Ok(map)
    }
}

/// A row read: its start, and its object or why it was skipped.
pub(crate) type Row = (At, Result<Map<String, Value>, Diagnostic>);

/// The chunk-fed table reader.
pub(crate) struct TableFramer {
    rdr: Reader,
    opts: TableOptions,
    max_record: usize,
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// The current row passed the size limit: its cells are discarded.
    too_large: bool,
    /// Quote characters seen in the current row (odd: inside quotes).
    quotes: u64,
    /// Line where the current row starts (`None` between rows).
    start: Option<u64>,
    /// The 1-based line of the next byte.
    line: u64,
    header: Option<Vec<String>>,
    /// Why the header cannot be used (then nothing more is read).
    pub(crate) header_error: Option<String>,
    /// Whether the first bytes were looked at (a UTF-8 BOM is dropped).
    started: bool,
}

impl TableFramer {
    pub(crate) fn new(opts: TableOptions, max_record: usize) -> Self {
        TableFramer {
            rdr: ReaderBuilder::new().delimiter(opts.delimiter).build(),
            opts,
            max_record,
            out: vec![0; 4096],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            too_large: false,
            quotes: 0,
            start: None,
            line: 1,
            header: None,
            header_error: None,
            started: false,
        }
    }

    /// The line being read.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Feeds bytes; every complete row is handed to `emit`.
    pub(crate) fn push(&mut self, mut input: &[u8], emit: &mut impl FnMut(Row)) {
        if !self.started && !input.is_empty() {
            self.started = true;
            input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
        }
        if !input.is_empty() {
            self.read(input, emit);
        }
    }

    /// Ends the input: the last row (without a final newline) is handed on.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(Row)) {
        self.read(&[], emit);
    }

    fn read(&mut self, mut input: &[u8], emit: &mut impl FnMut(Row)) {
        let eof = input.is_empty();
        loop {
            if self.header_error.is_some() || (input.is_empty() && !eof) {
                // An empty input would tell the reader the file ended.
                return;
            }
            if self.start.is_none() {
                // Blank lines between rows are skipped by the reader; a row
                // starts at its first byte that is not a line break.
                let skip = input
                    .iter()
                    .take_while(|b| **b == b'\n' || **b == b'\r')
                    .count();
                if skip < input.len() || eof {
                    let blank = input[..skip].iter().filter(|&&b| b == b'\n').count();
                    self.start = Some(self.line + blank as u64);
                }
            }
            let (res, nin, nout, nend) = self.rdr.read_record(
                input,
                &mut self.out[self.out_len..],
                &mut self.ends[self.ends_len..],
            );
            let used = &input[..nin];
            self.quotes += used.iter().filter(|&&b| b == b'"').count() as u64;
            self.line += used.iter().filter(|&&b| b == b'\n').count() as u64;
            input = &input[nin..];
            self.out_len += nout;
            self.ends_len += nend;
            match res {
                ReadRecordResult::InputEmpty => return,
                ReadRecordResult::OutputFull => {
                    if self.out.len() >= self.max_record {
                        // Keep reading the row, discarding its cells.
                        self.too_large = true;
                        self.out_len = 0;
                        self.ends_len = 0;
                    } else {
                        let n = (self.out.len() * 2).min(self.max_record);
                        self.out.resize(n, 0);
                    }
                }
                ReadRecordResult::OutputEndsFull => {
                    // Cell ends count against the limit too (a row of commas).
                    if self.too_large
                        || self.ends.len() * std::mem::size_of::<usize>() >= self.max_record
                    {
                        self.too_large = true;
                        self.out_len = 0;
                        self.ends_len = 0;
                    } else {
                        let n = self.ends.len() * 2;
                        self.ends.resize(n, 0);
                    }
                }
                ReadRecordResult::Record => {
                    let row = self.row(eof);
                    self.out_len = 0;
                    self.ends_len = 0;
                    self.too_large = false;
                    self.quotes = 0;
                    self.start = None;
                    if let Some(row) = row {
                        emit(row);
                    }
                }
                ReadRecordResult::End => return,
            }
        }
    }

    /// The row just read as a record, or `None` for the header.
    fn row(&mut self, eof: bool) -> Option<Row> {
        let line = self.start.unwrap_or(self.line);
        let at = At {
            line,
            element: None,
        };
        let unclosed = eof && self.quotes % 2 == 1;
        if self.header.is_none() {
            if self.too_large {
                self.header_error = Some(format!(
                    "line {line}: the header row is over the size limit"
                ));
                return None;
            }
            return match self.read_header(unclosed) {
                Ok(h) => {
                    self.header = Some(h);
                    None
                }
                Err(e) => {
                    self.header_error = Some(format!("line {line}: {e}"));
                    None
                }
            };
        }
        let err = |reason: String| Some((at, Err(Diagnostic::new(line, None, reason))));
        if unclosed {
            return err(format!(
                "a quoted field opened in the row starting on line {line} is never closed: the rest of the file was read into it and skipped"
            ));
        }
        if self.too_large {
            let mb = self.max_record >> 20;
            return err(format!("row over {mb} MiB skipped (raise the limit with --max-record-mb, or the app's \"largest record (MB)\")"));
        }
        let header = self.header.as_ref()?;
        if self.ends_len != header.len() {
            return err(format!(
                "the row has {} cells; the header has {} columns",
                self.ends_len,
                header.len()
            ));
        }
        let mut obj = Map::new();
        let mut from = 0;
        for (name, &end) in header.iter().zip(&self.ends[..self.ends_len]) {
            let cell = &self.out[from..end];
            from = end;
            let Ok(cell) = std::str::from_utf8(cell) else {
                return Some((
                    at,
                    Err(Diagnostic::new(
                        line,
                        Some(name),
                        "the cell is not valid UTF-8",
                    )),
                ));
            };
            if !cell.is_empty() {
                insert(&mut obj, name, cell);
            }
        }
        Some((at, Ok(obj)))
    }

    /// Why no format matched the columns, with the PROFILE fields missing.
    pub(crate) fn unknown_format(&self) -> String {
        let names = self.header.as_deref().unwrap_or_default();
        let missing: Vec<&str> = ["response_a", "response_b", "preference"]
            .into_iter()
            .filter(|f| !names.iter().any(|n| n == f))
            .collect();
        format!(
            "no format matches the table's columns ({}): the PROFILE fields {} are missing; name the columns so, or map them (the CLI's --map response_a=COLUMN,response_b=COLUMN,preference=COLUMN, the app's \"CSV/TSV columns\"; input and source are optional); `profile formats` lists the fields of the other formats",
            names.join(", "),
            missing.join(", ")
        )
    }

    fn read_header(&self, unclosed: bool) -> Result<Vec<String>, String> {
        if unclosed {
            return Err("a quoted column name is never closed".into());
        }
        let mut names = Vec::with_capacity(self.ends_len);
        let mut from = 0;
        for (i, &end) in self.ends[..self.ends_len].iter().enumerate() {
            let name = std::str::from_utf8(&self.out[from..end])
                .map_err(|_| format!("column {} of the header is not valid UTF-8", i + 1))?
                .trim()
                .to_owned();
            from = end;
            if name.is_empty() {
                return Err(format!("column {} of the header has no name", i + 1));
            }
            names.push(name);
        }
        for (field, column) in &self.opts.map {
            match names.iter().position(|n| n == column) {
                Some(i) => names[i] = field.clone(),
                None => {
                    return Err(format!(
                    "--map {field}={column}: the header has no column `{column}` (its columns: {})",
                    names.join(", ")
                ))
                }
            }
        }
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(format!("the header names the column `{n}` twice"));
            }
        }
        Ok(names)
    }
}

/// Inserts a cell, a dotted name as nested objects (`info.post`).
fn insert(obj: &mut Map<String, Value>, name: &str, cell: &str) {
    match name.split_once('.') {
        None => {
            obj.insert(name.to_owned(), Value::String(cell.to_owned()));
        }
        Some((head, rest)) => {
            let inner = obj
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = inner {
                insert(inner, rest, cell);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[u8], chunk: usize, delimiter: u8) -> (Vec<Row>, Option<String>) {
        let mut t = TableFramer::new(
            TableOptions {
                delimiter,
                map: Vec::new(),
            },
            1 << 20,
        );
        let mut out = Vec::new();
        for c in text.chunks(chunk.max(1)) {
            t.push(c, &mut |r| out.push(r));
        }
        t.finish(&mut |r| out.push(r));
        (out, t.header_error)
    }

    #[test]
    fn quoted_fields_span_chunks_and_lines() {
        let text = b"a,b,info.post\n\"x, \"\"y\"\"\",\"two\nlines\",p\n\n3,,q";
        for chunk in [1, 2, 3, 7, 100] {
            let (r, e) = rows(text, chunk, b',');
            assert_eq!(e, None);
            assert_eq!(r.len(), 2, "chunk {chunk}");
            let first = r[0].1.as_ref().unwrap();
            assert_eq!(first["a"], "x, \"y\"");
            assert_eq!(first["b"], "two\nlines");
            assert_eq!(first["info"]["post"], "p");
            assert_eq!(r[0].0.line, 2);
            let second = r[1].1.as_ref().unwrap();
            assert!(!second.contains_key("b"), "an empty cell is absent");
            assert_eq!(r[1].0.line, 5, "chunk {chunk}");
        }
    }

    #[test]
    fn tsv_and_bom() {
        let (r, _) = rows(b"\xEF\xBB\xBFa\tb\r\n1\t2\r\n", 3, b'\t');
        assert_eq!(r[0].1.as_ref().unwrap()["a"], "1");
    }

    #[test]
    fn mapping_errors_name_the_columns() {
        assert!(TableOptions::parse_map("response_a=x,bogus=y")
            .unwrap_err()
            .contains("`bogus` is not a PROFILE field"));
        assert_eq!(
            TableOptions::parse_map("response_a=x, response_b = y").unwrap(),
            [
                ("response_a".to_owned(), "x".to_owned()),
                ("response_b".to_owned(), "y".to_owned())
            ]
        );
        assert!(TableOptions::parse_map("response_a").is_err());
    }
}
