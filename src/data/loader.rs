//! The push-based loader: bytes in, a [`Dataset`] with diagnostics out.

use std::any::Any;
use std::io::Read;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use super::formats::{profile_fast, read_item, Item, SUMMEVAL_TIE_TOLERANCE};
use super::framing::{At, Framer, Rec};
use super::gzip::GzipStream;
use super::table::TableFramer;
use super::{Dataset, Diagnostic, Format, FormatOptions, Pair, Preference, TextId, TextStore};

/// Records kept while the format is still unknown; past this many, loading
/// gives up on detection.
const MAX_UNDETECTED: usize = 1000;

/// Why a file could not be loaded at all (bad records never cause this; they
/// become diagnostics).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// No record looked like any known format.
    UnknownFormat {
        /// The field names of the first JSON object seen, if there was one.
        first_fields: Option<Vec<String>>,
        /// The first problems seen, for context.
        diagnostics: Vec<Diagnostic>,
    },
    /// Reading the input failed.
    Io(String),
    /// A table's header row cannot be used (no name, a name twice, a
    /// mapped column it lacks); the sentence says where and why.
    Table(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::UnknownFormat {
                first_fields,
                diagnostics,
            } => {
                match first_fields {
                    Some(fields) => writeln!(
                        f,
                        "unknown format: the first record has the fields {}",
                        fields.join(", ")
                    )?,
                    None => writeln!(f, "unknown format: no record could be read as a JSON object (the problems below say why)")?,
                }
                for d in diagnostics.iter().take(3) {
                    writeln!(f, "  {d}")?;
                }
                writeln!(f, "known formats:")?;
                for fmt in Format::ALL {
                    writeln!(f, "  {:<17} {}", fmt.name(), fmt.description())?;
                }
                Ok(())
            }
            LoadError::Io(e) => write!(f, "cannot read the input: {e}"),
            LoadError::Table(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for LoadError {}

enum Compression {
    Undecided(Vec<u8>),
    Plain,
    Gzip(Box<GzipStream>),
    Failed,
}

/// A record parsed as JSON, or why it is not a JSON object.
type Parsed = Result<Map<String, Value>, Diagnostic>;

/// A rated response waiting to be paired within its group.
struct Rated {
    text: TextId,
    score: f64,
    line: u64,
    row: u32,
}

#[derive(Default)]
struct Group {
    input: Option<TextId>,
    source: Option<TextId>,
    items: Vec<Rated>,
}

/// Loads a dataset from chunks of bytes.
///
/// ```
/// use profile::data::{Loader, FormatOptions};
/// let mut loader = Loader::new(FormatOptions::default());
/// loader.push(br#"{"response_a": "short", "response_b": "a longer one", "preference": "b"}"#);
/// loader.push(b"\nnot json\n");
/// let ds = loader.finish().unwrap();
/// assert_eq!(ds.pairs.len(), 1);
/// assert_eq!(ds.diagnostics[0].line, 2);
/// ```
pub struct Loader {
    opts: FormatOptions,
    compression: Compression,
    framer: Framer,
    table: Option<TableFramer>,
    format: Option<Format>,
    undetected: Vec<(At, Parsed)>,
    first_fields: Option<Vec<String>>,
    ds: Dataset,
    clusters_by_text: FxHashMap<(u32, u32), u32>,
    clusters_by_key: FxHashMap<String, u32>,
    next_cluster: u32,
    groups: Vec<Group>,
    /// What watches the responses ([`Loader::watch_responses`]).
    watcher: Watcher,
    /// Whether PROFILE records may take the fast path
    /// ([`super::formats::profile_fast`]); off only in tests, to compare.
    fast: bool,
}

/// Watches the pairs as the loader reads them: each response the first
/// time it is seen, with its pair's context (the source, else the input).
/// The scoring uses one natively to compute rule values while the file
/// loads (`factors::rules::RuleFeed`).
pub trait ResponseWatcher {
    /// Response `response` (text `text`), seen for the first time, in a
    /// pair whose context is `context` (id and text).
    fn response(&mut self, response: TextId, text: &str, context: Option<(TextId, &str)>);

    /// Called at the end of a load that succeeded, with the dataset's
    /// texts; what it returns is kept as [`Dataset::derived`].
    fn finish(self: Box<Self>, texts: &TextStore) -> Arc<dyn Any + Send + Sync>;
}

/// Starts a [`ResponseWatcher`], or declines (`None`).
pub type StartWatcher = fn() -> Option<Box<dyn ResponseWatcher>>;

enum Watcher {
    None,
    /// Started once this many bytes are read.
    After(u64, StartWatcher),
    On(Box<dyn ResponseWatcher>),
}

impl Loader {
    /// A loader with the given options (format override, SummEval label).
    /// The options the records are read with.
    pub fn options(&self) -> &FormatOptions {
        &self.opts
    }

    /// Once `after` bytes of input are read, starts a [`ResponseWatcher`]
    /// with `start` and shows it every pair's new responses from then on.
    pub fn watch_responses(&mut self, after: u64, start: StartWatcher) {
        self.watcher = Watcher::After(after, start);
    }

    pub fn new(opts: FormatOptions) -> Self {
        Loader {
            format: opts.format,
            framer: Framer::new(opts.max_record_bytes()),
            table: opts
                .table
                .clone()
                .map(|t| TableFramer::new(t, opts.max_record_bytes())),
            opts,
            compression: Compression::Undecided(Vec::new()),
            undetected: Vec::new(),
            first_fields: None,
            ds: Dataset::default(),
            clusters_by_text: FxHashMap::default(),
            clusters_by_key: FxHashMap::default(),
            next_cluster: 0,
            groups: Vec::new(),
            watcher: Watcher::None,
            fast: true,
        }
    }

    /// The format, once detected (or as chosen).
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// Input bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.ds.stats.bytes_read
    }

    /// Records seen so far.
    pub fn records_read(&self) -> u64 {
        self.ds.stats.records_read
    }

    /// Pairs kept so far (grouped formats form theirs at the end).
    pub fn pairs_so_far(&self) -> usize {
        self.ds.pairs.len()
    }

    /// Feeds the next chunk of the file. Gzip input is recognised by its magic
    /// bytes and decompressed on the fly.
    pub fn push(&mut self, bytes: &[u8]) {
        self.ds.stats.bytes_read += bytes.len() as u64;
        if let Watcher::After(at, start) = self.watcher {
            if self.ds.stats.bytes_read >= at {
                self.watcher = start().map_or(Watcher::None, Watcher::On);
            }
        }
        match std::mem::replace(&mut self.compression, Compression::Failed) {
            Compression::Undecided(mut head) => {
                head.extend_from_slice(bytes);
                if head.len() >= 2 {
                    self.compression = if head.starts_with(&[0x1f, 0x8b]) {
                        Compression::Gzip(Box::new(GzipStream::new()))
                    } else {
                        Compression::Plain
                    };
                    // Re-dispatch the buffered head without counting it twice.
                    self.ds.stats.bytes_read -= head.len() as u64;
                    self.push(&head);
                } else {
                    self.compression = Compression::Undecided(head);
                }
            }
            Compression::Plain => {
                self.compression = Compression::Plain;
                self.push_plain(bytes);
            }
            Compression::Gzip(mut dec) => {
                let res = dec.push(bytes, &mut |out| self.push_plain(out));
                self.compression = match res {
                    Ok(()) => Compression::Gzip(dec),
                    Err(e) => {
                        self.gzip_failed(&e);
                        Compression::Failed
                    }
                };
            }
            Compression::Failed => {}
        }
    }

    /// Feeds one record that is already an object (a Parquet row), located
    /// at `line`; it counts as a record read, as a line of JSON would.
    pub fn push_object(&mut self, line: u64, obj: Map<String, Value>) {
        self.record_parsed(
            At {
                line,
                element: None,
            },
            Ok(obj),
        );
    }

    /// Counts `n` bytes as read by a reader that pushes objects (Parquet).
    pub fn note_bytes_read(&mut self, n: u64) {
        self.ds.stats.bytes_read += n;
    }

    /// Records a problem of the input that is not one record's (a damaged
    /// stream), located at its line.
    pub fn push_diagnostic(&mut self, d: Diagnostic) {
        self.ds.diagnostics.push(d);
    }

    fn line(&self) -> u64 {
        match &self.table {
            Some(t) => t.line(),
            None => self.framer.line(),
        }
    }

    fn gzip_failed(&mut self, e: &str) {
        let line = self.line().max(1);
        self.ds.diagnostics.push(Diagnostic::new(
            line,
            None,
            format!("the gzip stream is damaged ({e}); the rest of the file was not read"),
        ));
    }

    fn push_plain(&mut self, bytes: &[u8]) {
        if let Some(mut t) = self.table.take() {
            t.push(bytes, &mut |(at, parsed)| self.record_parsed(at, parsed));
            self.table = Some(t);
            return;
        }
        let mut framer = std::mem::take(&mut self.framer);
        framer.push(bytes, &mut |at, rec| self.record(at, rec));
        self.framer = framer;
    }

    /// Ends the input and returns the dataset.
    ///
    /// # Errors
    /// [`LoadError::UnknownFormat`] when no record matched a known format (and
    /// none was chosen). Bad records never make this fail.
    pub fn finish(mut self) -> Result<Dataset, LoadError> {
        match std::mem::replace(&mut self.compression, Compression::Failed) {
            Compression::Undecided(head) => {
                // Fewer than two bytes: too short to be gzip.
                self.compression = Compression::Plain;
                self.push_plain(&head);
            }
            Compression::Gzip(mut dec) => {
                if let Err(e) = dec.finish() {
                    self.gzip_failed(&e);
                }
                if dec.trailing() {
                    let line = self.line().max(1);
                    self.ds.diagnostics.push(Diagnostic::new(
                        line,
                        None,
                        "content after the end of the gzip data was ignored (the compressed data itself is complete)",
                    ));
                }
            }
            _ => {}
        }
        if let Some(mut t) = self.table.take() {
            t.finish(&mut |(at, parsed)| self.record_parsed(at, parsed));
            if let Some(e) = t.header_error {
                return Err(LoadError::Table(e));
            }
            if self.format.is_none() && !self.undetected.is_empty() {
                return Err(LoadError::Table(t.unknown_format()));
            }
        }
        let mut framer = std::mem::take(&mut self.framer);
        framer.finish(&mut |at, rec| self.record(at, rec));
        if let Some(line) = framer.trailing_garbage_line {
            self.ds.diagnostics.push(Diagnostic::new(
                line,
                None,
                "content after the closing `]` of the JSON array was ignored",
            ));
        }
        if framer.unclosed_array() {
            self.ds.diagnostics.push(Diagnostic::new(
                framer.line(),
                None,
                "the JSON array is not closed: its `]` is missing (the file may be cut short)",
            ));
        }
        if self.format.is_none() {
            if self.undetected.is_empty() {
                // An empty file is an empty dataset, not an error.
                return Ok(self.ds);
            }
            return Err(LoadError::UnknownFormat {
                first_fields: self.first_fields,
                diagnostics: self
                    .undetected
                    .into_iter()
                    .filter_map(|(_, r)| r.err())
                    .take(3)
                    .collect(),
            });
        }
        // Records held back for format detection are handled late; keep file order.
        crate::data::sort::sort_by_key(&mut self.ds.diagnostics, |d| {
            (d.line, d.element.unwrap_or(u64::MAX))
        });
        self.pair_groups();
        self.renumber_clusters();
        self.ds.format = self.format;
        if let Watcher::On(w) = std::mem::replace(&mut self.watcher, Watcher::None) {
            self.ds.derived = Some(w.finish(&self.ds.texts));
        }
        debug_assert_eq!(
            self.ds.stats.records_parsed + self.ds.stats.records_skipped,
            self.ds.stats.records_read
        );
        Ok(self.ds)
    }

    fn record(&mut self, at: At, rec: Rec<'_>) {
        if let (Rec::Bytes(bytes), Some(Format::Profile), true) = (rec, self.format, self.fast) {
            // Most PROFILE records: read without a `Value`; the rest, below.
            if let Some(item) = profile_fast(bytes) {
                self.ds.stats.records_read += 1;
                return self.apply_item(Format::Profile, at, item, &Map::new());
            }
        }
        let line = at.line;
        let parsed = match rec {
            Rec::Bytes(bytes) => parse_object(line, bytes),
            Rec::TooLarge => {
                let mb = self.opts.max_record_bytes() >> 20;
                let mut d = Diagnostic::new(
                    line,
                    None,
                    format!("record over {mb} MiB skipped (raise the limit with --max-record-mb, or the app's \"largest record (MB)\")"),
                );
                d.element = at.element;
                self.ds.stats.records_read += 1;
                return self.skip(d);
            }
        };
        let parsed = parsed.map_err(|mut d| {
            d.element = at.element;
            d
        });
        self.record_parsed(at, parsed);
    }

    /// One record read (a JSON object or a table row), or why it is not one.
    fn record_parsed(&mut self, at: At, parsed: Parsed) {
        self.ds.stats.records_read += 1;
        let line = at.line;
        match self.format {
            Some(format) => self.apply(format, at, parsed),
            None => {
                if let Ok(obj) = &parsed {
                    if self.first_fields.is_none() {
                        self.first_fields = Some(obj.keys().cloned().collect());
                    }
                    if let Some(format) = Format::detect_partial(obj) {
                        self.format = Some(format);
                        for (a, p) in std::mem::take(&mut self.undetected) {
                            self.apply(format, a, p);
                        }
                        self.apply(format, at, parsed);
                        return;
                    }
                }
                if self.undetected.len() < MAX_UNDETECTED {
                    self.undetected.push((at, parsed));
                } else {
                    let mut d =
                        Diagnostic::new(line, None, "the file's format could not be detected");
                    d.element = at.element;
                    self.skip(d);
                }
            }
        }
    }

    fn skip(&mut self, d: Diagnostic) {
        self.ds.stats.records_skipped += 1;
        self.ds.diagnostics.push(d);
    }

    fn apply(&mut self, format: Format, at: At, parsed: Parsed) {
        let line = at.line;
        let obj = match parsed {
            Ok(obj) => obj,
            Err(d) => return self.skip(d),
        };
        let item = match read_item(format, &self.opts, &obj, line) {
            Ok(item) => item,
            Err(mut d) => {
                d.element = at.element;
                return self.skip(d);
            }
        };
        self.apply_item(format, at, item, &obj);
    }

    /// Adds the `item` of a record (`obj`, or an empty map for a record
    /// read on the fast path, which has no fields but the item's).
    fn apply_item(&mut self, format: Format, at: At, item: Item<'_>, obj: &Map<String, Value>) {
        let line = at.line;
        self.ds.stats.records_parsed += 1;
        let row = if self.opts.table.is_some() {
            self.ds.fields.add_cells(obj, format.text_fields())
        } else {
            self.ds.fields.add(obj, format.text_fields())
        };
        if self.ds.task_hint.is_none() && format == Format::Profile {
            self.ds.task_hint = obj
                .get("task")
                .and_then(Value::as_str)
                .and_then(crate::data::Task::from_id);
        }
        match item {
            Item::Pair {
                input,
                source,
                a,
                b,
                preference,
                cluster,
            } => {
                if preference == Preference::Tie {
                    self.ds.stats.human_ties_dropped += 1;
                    return;
                }
                let texts = &mut self.ds.texts;
                let known = texts.len();
                let input = input.map(|t| texts.intern(&t));
                let source = source.map(|t| texts.intern(&t));
                let a = texts.intern(&a);
                let b = texts.intern(&b);
                if let Watcher::On(feed) = &mut self.watcher {
                    // Each response once, when it is first seen.
                    let context = source.or(input).map(|c| (c, texts.get(c)));
                    if a.index() >= known {
                        feed.response(a, texts.get(a), context);
                    }
                    if b.index() >= known && b != a {
                        feed.response(b, texts.get(b), context);
                    }
                }
                let cluster = match cluster {
                    Some(key) => self.cluster_by_key(key),
                    None if input.is_none() && source.is_none() => self.new_cluster(),
                    None => {
                        let key = (
                            input.map_or(u32::MAX, |t| t.0),
                            source.map_or(u32::MAX, |t| t.0),
                        );
                        let next = &mut self.next_cluster;
                        *self.clusters_by_text.entry(key).or_insert_with(|| {
                            *next += 1;
                            *next - 1
                        })
                    }
                };
                self.ds.pairs.push(Pair {
                    cluster,
                    input,
                    source,
                    a,
                    b,
                    preference,
                    line,
                    rows: [row, row],
                });
            }
            Item::Rated {
                group,
                input,
                source,
                text,
                score,
            } => {
                let cluster = self.cluster_by_key(group) as usize;
                if self.groups.len() <= cluster {
                    self.groups.resize_with(cluster + 1, Group::default);
                }
                let texts = &mut self.ds.texts;
                let g = &mut self.groups[cluster];
                if g.items.is_empty() {
                    g.input = input.map(|t| texts.intern(t));
                    g.source = source.map(|t| texts.intern(t));
                }
                g.items.push(Rated {
                    text: texts.intern(text),
                    score,
                    line,
                    row,
                });
            }
            Item::Dropped(reason) => {
                self.ds.stats.pairs_dropped_other += 1;
                self.ds.stats.pairs_dropped_reason = Some(reason.to_owned());
            }
        }
    }

    fn new_cluster(&mut self) -> u32 {
        self.next_cluster += 1;
        self.next_cluster - 1
    }

    fn cluster_by_key(&mut self, key: String) -> u32 {
        let next = &mut self.next_cluster;
        *self.clusters_by_key.entry(key).or_insert_with(|| {
            *next += 1;
            *next - 1
        })
    }

    /// Forms all within-group pairs of rated formats (SummEval, TL;DR axes).
    fn pair_groups(&mut self) {
        for (cluster, g) in self.groups.iter().enumerate() {
            for i in 0..g.items.len() {
                for j in i + 1..g.items.len() {
                    let (x, y) = (&g.items[i], &g.items[j]);
                    let preference =
                        Preference::from_scores(x.score, y.score, SUMMEVAL_TIE_TOLERANCE);
                    if preference == Preference::Tie {
                        self.ds.stats.human_ties_dropped += 1;
                        continue;
                    }
                    self.ds.pairs.push(Pair {
                        cluster: cluster as u32,
                        input: g.input,
                        source: g.source,
                        a: x.text,
                        b: y.text,
                        preference,
                        line: x.line,
                        rows: [x.row, y.row],
                    });
                }
            }
        }
        self.groups = Vec::new();
    }

    /// Makes cluster ids dense over the clusters that kept at least one pair.
    fn renumber_clusters(&mut self) {
        let mut map = vec![u32::MAX; self.next_cluster as usize];
        let mut n = 0u32;
        for p in &mut self.ds.pairs {
            let slot = &mut map[p.cluster as usize];
            if *slot == u32::MAX {
                *slot = n;
                n += 1;
            }
            p.cluster = *slot;
        }
        self.ds.n_clusters = n;
        self.clusters_by_key = FxHashMap::default();
        self.clusters_by_text = FxHashMap::default();
    }
}

fn parse_object(line: u64, bytes: &[u8]) -> Parsed {
    match super::strict::from_slice(bytes) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(other) => Err(Diagnostic::new(
            line,
            None,
            format!(
                "expected a JSON object, found {}",
                match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                }
            ),
        )),
        Err(e) => {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
            let reason = if e.line() <= 1 {
                format!("invalid JSON at column {}: {msg}", e.column())
            } else {
                format!(
                    "invalid JSON at line {} of the record, column {}: {msg}",
                    e.line(),
                    e.column()
                )
            };
            Err(Diagnostic::new(line, None, reason))
        }
    }
}

/// Loads a whole reader (plain or gzip, JSONL or a JSON array).
///
/// # Errors
/// [`LoadError::Io`] if reading fails, [`LoadError::UnknownFormat`] as in [`Loader::finish`].
pub fn load_reader<R: Read>(reader: R, opts: FormatOptions) -> Result<Dataset, LoadError> {
    load_reader_with(reader, opts, |_| {})
}

/// As [`load_reader`], with `setup` called on the loader first (e.g. to
/// [`Loader::watch_responses`]).
///
/// # Errors
/// As [`load_reader`].
pub fn load_reader_with<R: Read>(
    mut reader: R,
    opts: FormatOptions,
    setup: impl FnOnce(&mut Loader),
) -> Result<Dataset, LoadError> {
    let mut loader = Loader::new(opts);
    setup(&mut loader);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => loader.push(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LoadError::Io(e.to_string())),
        }
    }
    loader.finish()
}

/// Loads a dataset held in memory.
///
/// # Errors
/// As [`Loader::finish`].
pub fn load_bytes(bytes: &[u8], opts: FormatOptions) -> Result<Dataset, LoadError> {
    let mut loader = Loader::new(opts);
    loader.push(bytes);
    loader.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bytes` loaded with and without the fast path for PROFILE records.
    fn load_both(bytes: &[u8]) -> (Dataset, Dataset) {
        let load = |fast: bool| {
            let mut l = Loader::new(FormatOptions::default());
            l.fast = fast;
            // In pieces, so that records also cross the pushes.
            for chunk in bytes.chunks(4093) {
                l.push(chunk);
            }
            l.finish().unwrap()
        };
        (load(true), load(false))
    }

    fn assert_same(fast: &Dataset, slow: &Dataset) {
        assert_eq!(fast.format, slow.format);
        assert_eq!(fast.stats, slow.stats);
        assert_eq!(fast.diagnostics, slow.diagnostics);
        assert_eq!(fast.pairs, slow.pairs);
        assert_eq!(fast.n_clusters, slow.n_clusters);
        assert_eq!(fast.task_hint, slow.task_hint);
        let texts = |d: &Dataset| {
            d.texts
                .iter()
                .map(|(_, t)| t.to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(fast), texts(slow));
        assert_eq!(fast.fields.names(), slow.fields.names());
        assert_eq!(fast.fields.not_kept(), slow.fields.not_kept());
        for name in slow.fields.names() {
            let (f, s) = (
                fast.fields.field(name).unwrap(),
                slow.fields.field(name).unwrap(),
            );
            for row in 0..=slow.stats.records_parsed as u32 {
                assert_eq!(f.get(row), s.get(row), "field {name}, row {row}");
            }
        }
    }

    /// The fast path reads every PROFILE record as the ordinary path does,
    /// or leaves it to it: the same pairs, texts, fields, counts and
    /// located diagnostics, record for record, over every combination of
    /// present, missing, null, escaped, mistyped and odd values, extra and
    /// repeated fields, and broken JSON.
    #[test]
    fn fast_profile_records_load_as_ordinary_ones() {
        let texts = [
            None,
            Some("null"),
            Some(r#""plain""#),
            Some(r#""line\nbreak \"quoted\" caf\u00e9 é \ud83d\ude00""#),
            Some(r#""""#),
            Some("5"),
            Some(r#"["x"]"#),
        ];
        let preferences = [
            None,
            Some("null"),
            Some(r#""a""#),
            Some(r#"" B ""#),
            Some(r#""TIE""#),
            Some(r#""1""#),
            Some(r#""-1""#),
            Some(r#""0""#),
            Some(r#""c""#),
            Some("1"),
            Some("-1"),
            Some("0"),
            Some("1.0"),
            Some("-0.0"),
            Some("1e0"),
            Some("2"),
            Some("0.5"),
            Some("18446744073709551615"),
            Some("-9223372036854775808"),
            Some("true"),
            Some("{}"),
        ];
        let mut lines = vec![
            r#"{"response_a": "first", "response_b": "second", "preference": "a"}"#.to_owned(),
        ];
        let field = |k: &str, v: Option<&str>| v.map(|v| format!("\"{k}\": {v}"));
        for (i, input) in texts.iter().enumerate() {
            for source in &texts[..4] {
                for a in &texts {
                    for p in &preferences {
                        let b = texts[(i + 2) % texts.len()];
                        let fields: Vec<String> = [
                            field("input", *input),
                            field("source", *source),
                            field("response_a", *a),
                            field("response_b", b),
                            field("preference", *p),
                        ]
                        .into_iter()
                        .flatten()
                        .collect();
                        lines.push(format!("{{{}}}", fields.join(", ")));
                    }
                }
            }
        }
        for odd in [
            r#"{"response_a": "x", "response_b": "y", "preference": "a", "task": "helpful"}"#,
            r#"{"response_a": "x", "response_b": "y", "preference": "b", "id": 7, "model": "m"}"#,
            r#"{"response_a": "x", "response_a": "z", "response_b": "y", "preference": "a"}"#,
            r#"{"response_a": "x", "response_b": "y", "preference": "a", "preference": "b"}"#,
            r#"{"response_a": "x", "response_b": "y", "preference": "a"} trailing"#,
            r#"{"response_a": "x", "response_b": "y", "preference": "a""#,
            r#"{"response_a": "x", "response_b": "y", "preference": 1e400}"#,
            r#"{"response_a": "x", "response_b": "y", "preference": "a", "meta": {"k": "v"}}"#,
            r#"["response_a", "x"]"#,
            r#"  {"input": "q", "response_a": "x", "response_b": "y", "preference": -1}  "#,
        ] {
            lines.push(odd.to_owned());
        }
        let mut bytes = lines.join("\n").into_bytes();
        // Invalid UTF-8 inside a string.
        bytes.extend_from_slice(
            b"\n{\"response_a\": \"\xff\", \"response_b\": \"y\", \"preference\": \"a\"}\n",
        );
        let (fast, slow) = load_both(&bytes);
        // The fast path read most of the records that could be read.
        let taken = lines
            .iter()
            .filter(|l| profile_fast(l.trim().as_bytes()).is_some())
            .count();
        assert!(
            taken > 400 && taken as u64 <= slow.stats.records_parsed,
            "{taken} of {}",
            slow.stats.records_parsed
        );
        assert!(
            slow.pairs.len() > 200 && slow.diagnostics.len() > 1000,
            "{} pairs, {} skipped",
            slow.pairs.len(),
            slow.diagnostics.len()
        );
        assert_same(&fast, &slow);
    }
}
