//! Rule-based factors, exactly as METHOD.md §5 defines them.
//!
//! * Words: every character that is neither a word character (a Unicode letter
//!   or digit, or `_`) nor whitespace is deleted, then the text is split on
//!   whitespace. "state-of-the-art" and "don't" are one word each.
//! * Stems: each word lower-cased and stemmed with the Snowball English
//!   (Porter2) stemmer.
//! * `length`: the number of words.
//! * `novel_words`: |unique response stems not among the context's stems| /
//!   |unique response stems|, 0 for a response without words. The context is
//!   the source, or the input where a record has no source.
//! * `novel_words_count`: the numerator of that share.
//!
//! [`RuleExtractor`] computes each value once per unique text (and novel words
//! once per text-and-context pair), stemming each distinct word once (a word →
//! stem-id table) and comparing sorted stem-id sets. Only the contexts' stem
//! sets are kept, never a response's. [`RuleExtractor::prepare`] computes a
//! dataset's values up front, natively on every core.

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

use crate::data::{TextId, TextStore};

use super::Factor;

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Calls `f` with each word of `text` (METHOD.md §5), with non-word characters removed.
/// Words that need no removal are passed without copying.
pub fn for_each_word(text: &str, mut f: impl FnMut(&str)) {
    let mut scratch = String::new();
    for token in text.split_whitespace() {
        if token.chars().all(is_word_char) {
            f(token);
        } else {
            scratch.clear();
            scratch.extend(token.chars().filter(|&c| is_word_char(c)));
            if !scratch.is_empty() {
                f(&scratch);
            }
        }
    }
}

/// The words of `text` (METHOD.md §5).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |w| out.push(w.to_owned()));
    out
}

/// The number of words of `text`: the `length` factor.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace()
        .filter(|t| t.chars().any(is_word_char))
        .count()
}

/// The Snowball English stem of a lower-cased word.
pub fn stem(word: &str) -> String {
    Stemmer::create(Algorithm::English)
        .stem(&word.to_lowercase())
        .into_owned()
}

/// A word of at most 16 ASCII bytes, lower-cased and zero-padded into an
/// integer key (word characters are never NUL, so the padding is unambiguous).
#[inline]
fn short_key(w: &str) -> Option<u128> {
    if w.len() > 16 || !w.is_ascii() {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..w.len()].copy_from_slice(w.as_bytes());
    buf.make_ascii_lowercase();
    Some(u128::from_le_bytes(buf))
}

/// Stems each distinct lower-cased word once and interns the stems as ids.
/// Ids are only meaningful within one table.
struct StemTable {
    stemmer: Stemmer,
    /// Lower-cased word → stem id.
    word_stems: FxHashMap<Box<str>, u32>,
    /// [`short_key`] of a word → stem id, for words of at most 16 ASCII bytes.
    short_stems: FxHashMap<u128, u32>,
    /// Stem → stem id.
    stem_ids: FxHashMap<Box<str>, u32>,
    lower: String,
    /// A direct-mapped cache in front of `short_stems` ([`HOT_SLOTS`]
    /// slots of (key, stem id), key 0 = empty; allocated once the table
    /// holds [`HOT_AFTER`] short words):
    /// small enough to stay in the core's cache, where the table, with every
    /// rare word and hyphenated compound, does not.
    hot: Vec<(u128, u32)>,
}

/// Slots of [`StemTable::hot`] (a power of two): 32768 × 32 bytes (1 MiB,
/// half of a core's L2 cache here).
const HOT_SLOTS: usize = 1 << 15;

/// [`StemTable::hot`] is allocated once the table holds this many short
/// words: before, the table itself stays in the core's cache, and a table
/// made for a few texts (one response's values) skips the 1 MiB.
const HOT_AFTER: usize = 1 << 14;

/// The [`StemTable::hot`] slot of a [`short_key`].
#[inline]
fn hot_slot(key: u128) -> usize {
    let h =
        ((key as u64) ^ ((key >> 64) as u64).rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> (64 - HOT_SLOTS.trailing_zeros())) as usize
}

impl StemTable {
    fn new() -> Self {
        StemTable {
            stemmer: Stemmer::create(Algorithm::English),
            word_stems: FxHashMap::default(),
            short_stems: FxHashMap::default(),
            stem_ids: FxHashMap::default(),
            lower: String::new(),
            hot: Vec::new(),
        }
    }

    /// The stem id of word `w` (the one lookup of [`StemTable::text_stems`]
    /// and of [`RuleExtractor::novel_spans`]).
    fn stem_id(&mut self, w: &str) -> u32 {
        stem_id(
            &self.stemmer,
            &mut self.word_stems,
            &mut self.short_stems,
            &mut self.stem_ids,
            &mut self.lower,
            w,
        )
    }

    /// The sorted unique stem ids of `text` into `out` (replacing its
    /// contents); returns the number of words (the `length` factor).
    ///
    /// The words are those of [`for_each_word`], looked up in the same
    /// order: ASCII tokens are split, filtered and lower-cased into their
    /// [`short_key`] in one pass over the bytes; a token with a non-ASCII
    /// byte goes through [`for_each_word`] itself (ASCII whitespace is
    /// whitespace to it too, so the tokens split the same way).
    fn text_stems(&mut self, text: &str, out: &mut Vec<u32>) -> u32 {
        out.clear();
        let mut words = 0u32;
        let StemTable {
            stemmer,
            word_stems,
            short_stems,
            stem_ids,
            lower,
            hot,
        } = self;
        if hot.is_empty() && short_stems.len() >= HOT_AFTER {
            hot.resize(HOT_SLOTS, (0, 0));
        }
        let use_hot = !hot.is_empty();
        let bytes = text.as_bytes();
        let n = bytes.len();
        let mut i = 0;
        loop {
            while i < n && is_ascii_space(bytes[i]) {
                i += 1;
            }
            if i == n {
                break;
            }
            let start = i;
            let mut buf = [0u8; 16];
            let mut len = 0usize;
            let mut ascii = true;
            while i < n && !is_ascii_space(bytes[i]) {
                let b = bytes[i];
                if b >= 0x80 {
                    ascii = false;
                } else if b.is_ascii_alphanumeric() || b == b'_' {
                    if len < 16 {
                        buf[len] = b.to_ascii_lowercase();
                    }
                    len += 1;
                }
                i += 1;
            }
            if !ascii {
                // Split at ASCII bytes, so on character boundaries.
                for_each_word(&text[start..i], |w| {
                    words += 1;
                    out.push(stem_id(
                        stemmer,
                        word_stems,
                        short_stems,
                        stem_ids,
                        lower,
                        w,
                    ));
                });
                continue;
            }
            if len == 0 {
                continue;
            }
            words += 1;
            if len <= 16 {
                // Never 0: a word has at least one non-NUL byte.
                let key = u128::from_le_bytes(buf);
                let slot = if use_hot { hot_slot(key) } else { usize::MAX };
                if let Some(&(k, sid)) = hot.get(slot) {
                    if k == key {
                        out.push(sid);
                        continue;
                    }
                }
                let sid = match short_stems.get(&key) {
                    Some(&s) => s,
                    None => {
                        lower.clear();
                        // Lower-cased ASCII word characters: valid UTF-8.
                        lower.extend(buf[..len].iter().map(|&b| char::from(b)));
                        let s = stem_of_lower(stemmer, word_stems, stem_ids, lower);
                        short_stems.insert(key, s);
                        s
                    }
                };
                if let Some(cached) = hot.get_mut(slot) {
                    *cached = (key, sid);
                }
                out.push(sid);
            } else {
                let w: String = text[start..i]
                    .chars()
                    .filter(|&c| is_word_char(c))
                    .collect();
                out.push(stem_id(
                    stemmer,
                    word_stems,
                    short_stems,
                    stem_ids,
                    lower,
                    &w,
                ));
            }
        }
        out.sort_unstable();
        out.dedup();
        words
    }
}

/// A response's novel words against one context: the numerator and the
/// denominator of the share (unique stems not in the context, unique stems).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NovelCounts {
    context: Option<TextId>,
    novel: u32,
    unique: u32,
}

/// A value [`RuleExtractor::prepare`] has listed and is about to compute.
const PENDING: u32 = u32::MAX;

impl NovelCounts {
    fn pending(context: Option<TextId>) -> Self {
        NovelCounts {
            context,
            novel: PENDING,
            unique: PENDING,
        }
    }

    /// (share, count), the share 0 for a response without words.
    fn value(self) -> (f64, usize) {
        if self.unique == 0 {
            (0.0, 0)
        } else {
            (
                f64::from(self.novel) / f64::from(self.unique),
                self.novel as usize,
            )
        }
    }
}

/// The number of response stems (sorted, unique) not among the context's.
fn novel_count(response: &[u32], context: &[u32]) -> u32 {
    let (mut i, mut j, mut novel) = (0, 0, 0u32);
    while i < response.len() {
        if j >= context.len() || response[i] < context[j] {
            novel += 1;
            i += 1;
        } else if response[i] > context[j] {
            j += 1;
        } else {
            i += 1;
            j += 1;
        }
    }
    novel
}

/// Below this many (response, context) items [`RuleExtractor::prepare`]
/// stays on the calling thread.
#[cfg(not(target_arch = "wasm32"))]
const PARALLEL_MIN_ITEMS: usize = 4096;

/// The results of one run over (response, context) items grouped by context.
struct Prepared {
    /// (response, counts, words): novel counts when asked, and the word count.
    items: Vec<(TextId, Option<NovelCounts>, u32)>,
}

/// Computes the word counts (and with `novel`, the novel-word counts) of
/// `items`, sorted by context, with one stem table.
fn run_items(
    texts: &TextStore,
    items: &[(Option<TextId>, TextId)],
    novel: bool,
    table: &mut StemTable,
) -> Prepared {
    let mut out = Vec::with_capacity(items.len());
    let mut ctx_stems: Vec<u32> = Vec::new();
    let mut resp: Vec<u32> = Vec::new();
    let mut current: Option<Option<TextId>> = None;
    for &(ctx, r) in items {
        if !novel {
            out.push((r, None, word_count(texts.get(r)) as u32));
            continue;
        }
        if current != Some(ctx) {
            match ctx {
                Some(c) => {
                    table.text_stems(texts.get(c), &mut ctx_stems);
                }
                None => ctx_stems.clear(),
            }
            current = Some(ctx);
        }
        let words = table.text_stems(texts.get(r), &mut resp);
        let counts = NovelCounts {
            context: ctx,
            novel: novel_count(&resp, &ctx_stems),
            unique: resp.len() as u32,
        };
        out.push((r, Some(counts), words));
    }
    Prepared { items: out }
}

/// The stem id of word `w`, interning its stem (the one lookup of
/// [`RuleExtractor`]'s stems and of [`RuleExtractor::novel_spans`]).
#[inline]
fn stem_id(
    stemmer: &Stemmer,
    word_stems: &mut FxHashMap<Box<str>, u32>,
    short_stems: &mut FxHashMap<u128, u32>,
    stem_ids: &mut FxHashMap<Box<str>, u32>,
    lower: &mut String,
    w: &str,
) -> u32 {
    // Most words are short ASCII: look them up by an inline key,
    // without copying them or comparing strings on the heap.
    let key = short_key(w);
    if let Some(&s) = key.and_then(|k| short_stems.get(&k)) {
        return s;
    }
    lower.clear();
    if w.is_ascii() {
        lower.push_str(w);
        lower.make_ascii_lowercase();
    } else {
        lower.extend(w.chars().flat_map(char::to_lowercase));
    }
    let sid = stem_of_lower(stemmer, word_stems, stem_ids, lower);
    if let Some(k) = key {
        short_stems.insert(k, sid);
    }
    sid
}

/// The stem id of a lower-cased word, stemming it the first time.
#[inline]
fn stem_of_lower(
    stemmer: &Stemmer,
    word_stems: &mut FxHashMap<Box<str>, u32>,
    stem_ids: &mut FxHashMap<Box<str>, u32>,
    lower: &str,
) -> u32 {
    match word_stems.get(lower) {
        Some(&s) => s,
        None => {
            let st = stemmer.stem(lower);
            let next = stem_ids.len() as u32;
            let s = *stem_ids.entry(Box::from(&*st)).or_insert(next);
            word_stems.insert(Box::from(lower), s);
            s
        }
    }
}

/// Whether an ASCII byte is whitespace to [`str::split_whitespace`]
/// (`char::is_whitespace`: tab, line feed, vertical tab, form feed,
/// carriage return and space).
#[inline]
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

/// Rule values computed while a dataset loads: per response (each text
/// once), its novel-word counts against its pair's context and its word
/// count. The loader fills it natively on a second thread ([`RuleFeed`]);
/// [`RuleExtractor::absorb`] takes it. The values are the ones
/// [`RuleExtractor::prepare`] computes (each is a function of the two texts
/// alone), so taking them changes no value, only when it is computed.
#[derive(Clone, Debug, Default)]
pub struct RuleValues {
    /// (response, counts against `counts.context`, word count).
    items: Vec<(TextId, NovelCounts, u32)>,
    /// The text store they belong to: its number of texts and bytes when
    /// the values were made ([`RuleExtractor::absorb`] ignores values made
    /// for another store).
    store: (usize, usize),
}

impl RuleValues {
    /// Number of responses with values.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// One step of a [`RuleFeed`] batch: a context's text (its stems become the
/// current context's), or a response with its context, by byte range in the
/// batch's text.
#[cfg(not(target_arch = "wasm32"))]
enum FeedOp {
    Context(TextId, usize, usize),
    Response(TextId, Option<TextId>, usize, usize),
}

#[cfg(not(target_arch = "wasm32"))]
#[derive(Default)]
struct FeedBatch {
    text: String,
    ops: Vec<FeedOp>,
}

#[cfg(not(target_arch = "wasm32"))]
impl FeedBatch {
    fn new() -> Self {
        FeedBatch {
            text: String::with_capacity(FEED_BATCH_BYTES + (FEED_BATCH_BYTES >> 2)),
            ops: Vec::new(),
        }
    }

    fn push_text(&mut self, text: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(text);
        (start, self.text.len())
    }
}

/// A batch is handed to the worker once it holds this many bytes of text
/// (in unit tests far fewer, so that they make many batches).
#[cfg(not(target_arch = "wasm32"))]
const FEED_BATCH_BYTES: usize = if cfg!(test) { 512 } else { 1 << 20 };

/// Batches waiting for the worker; past this the loader drops a batch
/// rather than wait (its responses are left to [`RuleExtractor::prepare`]).
#[cfg(not(target_arch = "wasm32"))]
const FEED_QUEUE: usize = 2;

/// Computes [`RuleValues`] on a second thread while the caller (the loader)
/// goes on: it is given each response the first time it is seen, with its
/// context, and copies their texts into batches for the worker. The loader
/// never waits for it: a batch the worker is too busy to take is dropped,
/// and its responses are computed later by [`RuleExtractor::prepare`] as
/// if the feed had never seen them.
#[cfg(not(target_arch = "wasm32"))]
pub struct RuleFeed {
    tx: Option<std::sync::mpsc::SyncSender<FeedBatch>>,
    /// Batches the worker is done with, emptied, to fill again.
    spent: std::sync::mpsc::Receiver<FeedBatch>,
    worker: Option<std::thread::JoinHandle<Vec<(TextId, NovelCounts, u32)>>>,
    batch: FeedBatch,
    /// The context whose text was last put in a batch that was handed over
    /// (the worker's current context), if any.
    context: Option<TextId>,
}

#[cfg(not(target_arch = "wasm32"))]
impl RuleFeed {
    /// A feed with its worker thread, or `None` with fewer than two cores.
    pub fn start() -> Option<Self> {
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            return None;
        }
        Self::spawn(None)
    }

    /// A feed whose worker starts only once `gate` receives (or closes).
    fn spawn(gate: Option<std::sync::mpsc::Receiver<()>>) -> Option<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<FeedBatch>(FEED_QUEUE);
        let (spent_tx, spent) = std::sync::mpsc::channel::<FeedBatch>();
        let worker = std::thread::Builder::new()
            .name("rule-feed".into())
            .spawn(move || {
                if let Some(g) = gate {
                    let _ = g.recv();
                }
                feed_worker(&rx, &spent_tx)
            })
            .ok()?;
        Some(RuleFeed {
            tx: Some(tx),
            spent,
            worker: Some(worker),
            batch: FeedBatch::new(),
            context: None,
        })
    }

    /// Response `response` (text `text`), seen for the first time, in a
    /// pair whose context is `context` (id and text).
    pub fn response(&mut self, response: TextId, text: &str, context: Option<(TextId, &str)>) {
        if self.tx.is_none() {
            return;
        }
        if let Some((c, ctext)) = context {
            if self.context != Some(c) {
                let (s, e) = self.batch.push_text(ctext);
                self.batch.ops.push(FeedOp::Context(c, s, e));
                self.context = Some(c);
            }
        }
        let (s, e) = self.batch.push_text(text);
        self.batch
            .ops
            .push(FeedOp::Response(response, context.map(|c| c.0), s, e));
        if self.batch.text.len() >= FEED_BATCH_BYTES {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        let Some(tx) = &self.tx else { return };
        let next = self.spent.try_recv().unwrap_or_else(|_| FeedBatch::new());
        let batch = std::mem::replace(&mut self.batch, next);
        match tx.try_send(batch) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(mut dropped)) => {
                // The worker's context is not this batch's last one: send
                // the next context's text again.
                self.context = None;
                dropped.text.clear();
                dropped.ops.clear();
                self.batch = dropped;
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                self.tx = None;
            }
        }
    }

    /// A feed for [`crate::data::Loader::watch_responses`]: past
    /// [`FEED_MIN_BYTES`] of input, with two cores or more.
    pub fn watch(loader: &mut crate::data::Loader) {
        loader.watch_responses(FEED_MIN_BYTES, || {
            Self::start().map(|f| Box::new(f) as Box<dyn crate::data::ResponseWatcher>)
        });
    }

    /// Hands over the last batch, waits for the worker and returns its
    /// values for `texts` (the store the ids are from).
    pub fn finish(mut self, texts: &TextStore) -> RuleValues {
        if let Some(tx) = self.tx.take() {
            let batch = std::mem::take(&mut self.batch);
            if !batch.ops.is_empty() {
                // The last batch waits its turn (the load is over).
                let _ = tx.send(batch);
            }
        }
        let items = match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(items)) => items,
            Some(Err(e)) => std::panic::resume_unwind(e),
            None => Vec::new(),
        };
        RuleValues {
            items,
            store: (texts.len(), texts.total_bytes()),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl crate::data::ResponseWatcher for RuleFeed {
    fn response(&mut self, response: TextId, text: &str, context: Option<(TextId, &str)>) {
        RuleFeed::response(self, response, text, context);
    }

    fn finish(
        self: Box<Self>,
        texts: &TextStore,
    ) -> std::sync::Arc<dyn std::any::Any + Send + Sync> {
        std::sync::Arc::new(RuleFeed::finish(*self, texts))
    }
}

/// Below this much input [`RuleFeed::watch`] starts no feed (a thread
/// would cost more than it saves). Unit tests use the feed on all but tiny
/// inputs, so that their reports go through it.
#[cfg(not(target_arch = "wasm32"))]
pub const FEED_MIN_BYTES: u64 = if cfg!(test) { 4096 } else { 8 << 20 };

/// The [`RuleFeed`] worker: the values of each response of each batch,
/// computed as [`run_items`] does with `novel`, with one stem table.
#[cfg(not(target_arch = "wasm32"))]
fn feed_worker(
    rx: &std::sync::mpsc::Receiver<FeedBatch>,
    spent: &std::sync::mpsc::Sender<FeedBatch>,
) -> Vec<(TextId, NovelCounts, u32)> {
    let mut table = StemTable::new();
    let mut out = Vec::new();
    let mut context: Option<TextId> = None;
    let mut ctx_stems: Vec<u32> = Vec::new();
    let mut resp: Vec<u32> = Vec::new();
    for mut batch in rx {
        for op in &batch.ops {
            match *op {
                FeedOp::Context(c, s, e) => {
                    table.text_stems(&batch.text[s..e], &mut ctx_stems);
                    context = Some(c);
                }
                FeedOp::Response(r, c, s, e) => {
                    // Only against the stems of this very context (a
                    // dropped batch may have held the one it needs).
                    let ctx: &[u32] = match c {
                        None => &[],
                        Some(_) if c == context => &ctx_stems,
                        Some(_) => continue,
                    };
                    let words = table.text_stems(&batch.text[s..e], &mut resp);
                    let counts = NovelCounts {
                        context: c,
                        novel: novel_count(&resp, ctx),
                        unique: resp.len() as u32,
                    };
                    out.push((r, counts, words));
                }
            }
        }
        batch.text.clear();
        batch.ops.clear();
        // The loader may have finished; then the batch is just freed.
        let _ = spent.send(batch);
    }
    out
}

/// Computes rule-based factor values with caching.
///
/// Values can be asked one at a time ([`RuleExtractor::value`]), or all
/// those a dataset needs at once first ([`RuleExtractor::prepare`]), which
/// natively spreads the work over the available cores. Either way each
/// value is computed once per unique text (novel words: per text and
/// context), and the results do not depend on the order or the threads.
pub struct RuleExtractor {
    table: StemTable,
    /// Per context text: sorted unique stem ids, once computed one value at a time.
    context_stems: FxHashMap<TextId, Box<[u32]>>,
    /// Per text id: word count, once computed.
    lengths: Vec<Option<u32>>,
    /// Per response text id: its novel-word counts against the first context
    /// it was measured against.
    novel_first: Vec<Option<NovelCounts>>,
    /// Against further contexts: (response, context) → counts.
    novel_more: FxHashMap<(TextId, Option<TextId>), NovelCounts>,
    /// Per custom factor: per text id, its value once computed.
    custom: FxHashMap<super::pack::CustomId, Vec<Option<f64>>>,
    scratch: Vec<u32>,
}

impl Default for RuleExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl RuleExtractor {
    pub fn new() -> Self {
        RuleExtractor {
            table: StemTable::new(),
            context_stems: FxHashMap::default(),
            lengths: Vec::new(),
            novel_first: Vec::new(),
            novel_more: FxHashMap::default(),
            custom: FxHashMap::default(),
            scratch: Vec::new(),
        }
    }

    /// The value of custom factor `c` for a text, computed once per text.
    pub fn custom(&mut self, c: super::pack::CustomId, texts: &TextStore, id: TextId) -> f64 {
        let values = self.custom.entry(c).or_default();
        if values.len() <= id.index() {
            values.resize(texts.len().max(id.index() + 1), None);
        }
        *values[id.index()].get_or_insert_with(|| super::pack::evaluate(c, texts.get(id)))
    }

    /// Number of distinct texts whose novel words have been measured.
    pub fn texts_stemmed(&self) -> usize {
        self.novel_first.iter().filter(|s| s.is_some()).count()
    }

    /// Takes values computed while loading (see [`RuleValues`]) for the
    /// texts of `texts`; values made for another store are ignored.
    pub fn absorb(&mut self, texts: &TextStore, values: &RuleValues) {
        if values.store != (texts.len(), texts.total_bytes()) {
            return;
        }
        for &(r, counts, words) in &values.items {
            self.store_length(texts, r, words);
            self.store_novel(texts, r, counts);
        }
    }

    /// The `length` of a text.
    pub fn length(&mut self, texts: &TextStore, id: TextId) -> u32 {
        if self.lengths.len() <= id.index() {
            self.lengths.resize(texts.len().max(id.index() + 1), None);
        }
        *self.lengths[id.index()].get_or_insert_with(|| word_count(texts.get(id)) as u32)
    }

    fn cached_novel(&self, response: TextId, context: Option<TextId>) -> Option<NovelCounts> {
        match self.novel_first.get(response.index()).copied().flatten() {
            Some(n) if n.context == context => Some(n),
            Some(_) => self.novel_more.get(&(response, context)).copied(),
            None => None,
        }
    }

    fn store_novel(&mut self, texts: &TextStore, response: TextId, counts: NovelCounts) {
        if self.novel_first.len() <= response.index() {
            self.novel_first
                .resize(texts.len().max(response.index() + 1), None);
        }
        let slot = &mut self.novel_first[response.index()];
        match slot {
            None => *slot = Some(counts),
            Some(n) if n.context == counts.context => *n = counts,
            Some(_) => {
                self.novel_more.insert((response, counts.context), counts);
            }
        }
    }

    fn store_length(&mut self, texts: &TextStore, id: TextId, words: u32) {
        if self.lengths.len() <= id.index() {
            self.lengths.resize(texts.len().max(id.index() + 1), None);
        }
        self.lengths[id.index()] = Some(words);
    }

    /// `novel_words` share and count of `response` against `context` (no
    /// context: every stem is novel).
    pub fn novel_words(
        &mut self,
        texts: &TextStore,
        response: TextId,
        context: Option<TextId>,
    ) -> (f64, usize) {
        if let Some(n) = self.cached_novel(response, context) {
            return n.value();
        }
        // The response's stems are needed only here (its other pairs have
        // the same context and hit the cache); a context's are kept.
        let mut resp = std::mem::take(&mut self.scratch);
        let words = self.table.text_stems(texts.get(response), &mut resp);
        let novel = match context {
            Some(c) => {
                if !self.context_stems.contains_key(&c) {
                    let mut v = Vec::new();
                    self.table.text_stems(texts.get(c), &mut v);
                    self.context_stems.insert(c, v.into_boxed_slice());
                }
                novel_count(&resp, &self.context_stems[&c])
            }
            None => resp.len() as u32,
        };
        let counts = NovelCounts {
            context,
            novel,
            unique: resp.len() as u32,
        };
        self.scratch = resp;
        self.store_length(texts, response, words);
        self.store_novel(texts, response, counts);
        counts.value()
    }

    /// [`RuleExtractor::absorb`]s the rule values a dataset's loader
    /// computed ([`crate::data::Dataset::derived`]), if any.
    pub fn absorb_dataset(&mut self, ds: &crate::data::Dataset) {
        if let Some(values) = ds
            .derived
            .as_deref()
            .and_then(|d| d.downcast_ref::<RuleValues>())
        {
            self.absorb(&ds.texts, values);
        }
    }

    /// Computes up front the values [`RuleExtractor::value`] will be asked
    /// for `factors` on `items` (response, context), so that those calls
    /// are look-ups. Natively the texts are shared out over the available
    /// cores (each thread with its own stem table); on wasm32 it runs on
    /// the calling thread. The values are the same either way.
    pub fn prepare(
        &mut self,
        texts: &TextStore,
        factors: &[Factor],
        items: impl IntoIterator<Item = (TextId, Option<TextId>)>,
    ) {
        let customs: Vec<super::pack::CustomId> = factors
            .iter()
            .filter_map(|f| match f {
                Factor::Custom(c) if !f.needs_model() => Some(*c),
                _ => None,
            })
            .collect();
        let items: Vec<(TextId, Option<TextId>)> = if customs.is_empty() {
            return self.prepare_builtin(texts, factors, items);
        } else {
            items.into_iter().collect()
        };
        for &c in &customs {
            for &(r, _) in &items {
                self.custom(c, texts, r);
            }
        }
        self.prepare_builtin(texts, factors, items);
    }

    fn prepare_builtin(
        &mut self,
        texts: &TextStore,
        factors: &[Factor],
        items: impl IntoIterator<Item = (TextId, Option<TextId>)>,
    ) {
        let novel = factors
            .iter()
            .any(|f| matches!(f, Factor::NovelWords | Factor::NovelWordsCount));
        let length = factors.contains(&Factor::Length);
        if !novel && !length {
            return;
        }
        // What is not known yet, once each (marked pending as it is listed),
        // grouped by context.
        let mut todo: Vec<(Option<TextId>, TextId)> = Vec::new();
        for (r, c) in items {
            if novel {
                if self.cached_novel(r, c).is_none() {
                    self.store_novel(texts, r, NovelCounts::pending(c));
                    todo.push((c, r));
                }
            } else if self.lengths.get(r.index()).copied().flatten().is_none() {
                self.store_length(texts, r, PENDING);
                todo.push((None, r));
            }
        }
        crate::data::sort::sort(&mut todo);
        todo.dedup();
        for part in self.run(texts, &todo, novel) {
            for (r, counts, words) in part.items {
                self.store_length(texts, r, words);
                if let Some(n) = counts {
                    self.store_novel(texts, r, n);
                }
            }
        }
    }

    #[cfg(target_arch = "wasm32")]
    fn run(
        &mut self,
        texts: &TextStore,
        todo: &[(Option<TextId>, TextId)],
        novel: bool,
    ) -> Vec<Prepared> {
        vec![run_items(texts, todo, novel, &mut self.table)]
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn run(
        &mut self,
        texts: &TextStore,
        todo: &[(Option<TextId>, TextId)],
        novel: bool,
    ) -> Vec<Prepared> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        if threads < 2 || todo.len() < PARALLEL_MIN_ITEMS {
            return vec![run_items(texts, todo, novel, &mut self.table)];
        }
        // Chunks of about equal text size that never split a context's
        // group (its stems are computed once per chunk), handed out to the
        // threads as they become free.
        let bytes: usize = todo.iter().map(|&(_, r)| texts.get(r).len() + 16).sum();
        let target = bytes / (threads * 8) + 1;
        let mut bounds = vec![0usize];
        let mut acc = 0usize;
        for (i, &(c, r)) in todo.iter().enumerate() {
            if acc >= target && todo[i - 1].0 != c {
                bounds.push(i);
                acc = 0;
            }
            acc += texts.get(r).len() + 16;
        }
        bounds.push(todo.len());
        let chunks: Vec<&[(Option<TextId>, TextId)]> =
            bounds.windows(2).map(|w| &todo[w[0]..w[1]]).collect();
        let next = AtomicUsize::new(0);
        let mut results: Vec<(usize, Prepared)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads.min(chunks.len()))
                .map(|_| {
                    s.spawn(|| {
                        let mut table = StemTable::new();
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(chunk) = chunks.get(i) else { break };
                            done.push((i, run_items(texts, chunk, novel, &mut table)));
                        }
                        done
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(done) => done,
                    Err(e) => std::panic::resume_unwind(e),
                })
                .collect()
        });
        results.sort_unstable_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, p)| p).collect()
    }

    /// The evidence of `novel_words`: the byte ranges of `response`'s
    /// whitespace tokens whose word's stem is not among `context`'s stems
    /// (no context: every word), in text order. The distinct stems of these
    /// tokens are the ones [`RuleExtractor::novel_words`] counts. Not used
    /// by the scoring: it is for showing one pair at a time.
    pub fn novel_spans(
        &mut self,
        texts: &TextStore,
        response: TextId,
        context: Option<TextId>,
    ) -> Vec<[usize; 2]> {
        let mut ctx = Vec::new();
        if let Some(c) = context {
            self.table.text_stems(texts.get(c), &mut ctx);
        }
        let text = texts.get(response);
        let mut out = Vec::new();
        let mut word = String::new();
        for token in text.split_whitespace() {
            // A subslice of `text`: its offset is the distance of the pointers.
            let start = token.as_ptr() as usize - text.as_ptr() as usize;
            let end = start + token.len();
            word.clear();
            word.extend(token.chars().filter(|&c| is_word_char(c)));
            if word.is_empty() {
                continue;
            }
            if ctx.binary_search(&self.table.stem_id(&word)).is_err() {
                out.push([start, end]);
            }
        }
        out
    }

    /// The value of a rule-based factor, or `None` for a factor that needs a model.
    pub fn value(
        &mut self,
        factor: Factor,
        texts: &TextStore,
        response: TextId,
        context: Option<TextId>,
    ) -> Option<f64> {
        match factor {
            Factor::Length => Some(self.length(texts, response) as f64),
            Factor::NovelWords => Some(self.novel_words(texts, response, context).0),
            Factor::NovelWordsCount => Some(self.novel_words(texts, response, context).1 as f64),
            Factor::Custom(c) if !factor.needs_model() => Some(self.custom(c, texts, response)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_the_method() {
        assert_eq!(
            words("State-of-the-art models don't hallucinate!"),
            ["Stateoftheart", "models", "dont", "hallucinate"]
        );
        assert_eq!(words("a - b , c_d 3.5 ... é"), ["a", "b", "c_d", "35", "é"]);
        assert_eq!(word_count("a - b , c_d 3.5 ... é"), 5);
        assert_eq!(word_count(""), 0);
        assert_eq!(word_count("  !!! ?? "), 0);
        assert_eq!(word_count("naïve café 東京"), 3);
    }

    /// The one-pass split of [`StemTable::text_stems`] gives the words of
    /// [`for_each_word`], looked up in the same order (so the same stem ids):
    /// Unicode whitespace, vertical tab and form feed, accents, words over
    /// 16 bytes, punctuation-only tokens, digits and underscores.
    #[test]
    fn one_pass_stems_equal_the_word_rule() {
        for b in 0u8..128 {
            assert_eq!(is_ascii_space(b), char::from(b).is_whitespace(), "byte {b}");
        }
        fn reference(t: &mut StemTable, text: &str, out: &mut Vec<u32>) -> u32 {
            out.clear();
            let mut words = 0;
            for_each_word(text, |w| {
                words += 1;
                out.push(t.stem_id(w));
            });
            out.sort_unstable();
            out.dedup();
            words
        }
        let texts = [
            "The Running runners ran; they RUN quickly!",
            "a\u{a0}b\u{3000}c\u{85}d\u{2009}e\u{b}f\u{c}g\rh\ti",
            "Café naïve résumé São Zürich façade über CAFÉ",
            "internationalization INTERNATIONALIZATIONS abcdefghijklmnop abcdefghijklmnopq",
            "state-of-the-art don't 3.5 ... -- !!! (x) \"quoted\" snake_case_word __ 42",
            "Ünïcödé-mixed wörds-and-ascii ABC-é x\u{a0}-y",
            "",
            "   \n\n  ",
            "running runs ran Runner's café-au-lait",
        ];
        let (mut a, mut b) = (StemTable::new(), StemTable::new());
        let (mut va, mut vb) = (Vec::new(), Vec::new());
        for round in 0..2 {
            for t in texts {
                let wa = reference(&mut a, t, &mut va);
                let wb = b.text_stems(t, &mut vb);
                assert_eq!((wa, &va), (wb, &vb), "round {round}: {t:?}");
                assert_eq!(wa as usize, word_count(t), "{t:?}");
            }
        }
        assert_eq!(a.stem_ids, b.stem_ids);
        assert_eq!(a.short_stems, b.short_stems);
        assert_eq!(a.word_stems, b.word_stems);
        // Far more distinct short words than the hot cache has slots, in
        // every case and inflection, so that slots are taken over and
        // words come back after being evicted: the same stem ids.
        let forms = ["", "s", "ing", "ed", "ly", "ness", "ations", "ER", "-x"];
        let mut texts = Vec::new();
        for i in 0..6000usize {
            let text: Vec<String> = (0..40)
                .map(|j| {
                    let k = (i * 7919 + j * 104_729) % 40_000;
                    let base = format!("w{}", k * 2_654_435_761 % 1_000_003);
                    let word = format!("{base}{}", forms[(i + j) % forms.len()]);
                    if j % 5 == 0 {
                        word.to_uppercase()
                    } else {
                        word
                    }
                })
                .collect();
            texts.push(text.join(" "));
        }
        assert!(texts.len() * 40 > 4 * HOT_SLOTS);
        let (mut a, mut b) = (StemTable::new(), StemTable::new());
        for round in 0..2 {
            for t in &texts {
                let wa = reference(&mut a, t, &mut va);
                let wb = b.text_stems(t, &mut vb);
                assert_eq!((wa, &va), (wb, &vb), "round {round}: {t:?}");
            }
        }
        assert!(b.short_stems.len() > 2 * HOT_SLOTS);
        assert_eq!(b.hot.len(), HOT_SLOTS, "the hot cache was used");
        assert_eq!(a.stem_ids, b.stem_ids);
        assert_eq!(a.short_stems, b.short_stems);
    }

    /// A table that has seen few words has no hot cache: a new table per
    /// response (the JS library's `ruleFactors`, one-off values) costs
    /// nothing up front.
    #[test]
    fn few_words_take_no_hot_cache() {
        let mut t = StemTable::new();
        let mut v = Vec::new();
        assert_eq!(
            t.text_stems("The cats ran, running state-of-the-art", &mut v),
            5
        );
        assert_eq!(t.hot.capacity(), 0);
    }

    #[test]
    fn stems_are_porter2() {
        assert_eq!(stem("Running"), "run");
        assert_eq!(stem("generously"), "generous");
        assert_eq!(stem("cats"), "cat");
        assert_eq!(stem("consistency"), "consist");
    }

    #[test]
    fn novel_spans_are_the_novel_words() {
        let mut t = TextStore::new();
        let src = t.intern("The cats are running home.");
        let resp = t.intern("A cat, running;  a DOG ran ... home!");
        let mut x = RuleExtractor::new();
        let spans = x.novel_spans(&t, resp, Some(src));
        let text = t.get(resp);
        let shown: Vec<&str> = spans.iter().map(|[a, b]| &text[*a..*b]).collect();
        assert_eq!(shown, ["A", "a", "DOG", "ran"]);
        let mut stems: Vec<String> = shown.iter().map(|w| stem(&words(w)[0])).collect();
        stems.sort();
        stems.dedup();
        assert_eq!(stems.len(), x.novel_words(&t, resp, Some(src)).1);
        assert_eq!(x.novel_spans(&t, resp, None).len(), 7);
    }

    #[test]
    fn novel_words_share_and_count() {
        let mut t = TextStore::new();
        let src = t.intern("The cats were running in the garden.");
        let resp = t.intern("A cat runs; dogs ran!");
        let empty = t.intern("...");
        let mut x = RuleExtractor::new();
        // response stems: a, cat, run, dog, ran → novel: a, dog, ran (3 of 5)
        let (share, count) = x.novel_words(&t, resp, Some(src));
        assert_eq!(count, 3);
        assert!((share - 0.6).abs() < 1e-12);
        assert_eq!(x.novel_words(&t, empty, Some(src)), (0.0, 0));
        assert_eq!(x.novel_words(&t, resp, None), (1.0, 5));
        assert_eq!(x.length(&t, resp), 5);
        assert_eq!(x.value(Factor::Hallucination, &t, resp, None), None);
    }

    /// `prepare` (threads natively, with enough items) gives exactly the
    /// values of asking one at a time, including a response measured
    /// against two contexts and against none.
    #[test]
    fn prepared_values_equal_one_at_a_time() {
        let mut t = TextStore::new();
        let words = [
            "Running",
            "cats",
            "don't",
            "state-of-the-art",
            "naïve",
            "café",
            "東京",
            "K\u{212A}",
            "ÉTÉ",
            "3.5",
            "the",
            "a",
            "generously",
            "consistency",
            "x_y",
            "Straße",
            "—",
            "!!",
        ];
        let mut ids = Vec::new();
        for i in 0..4000usize {
            let n = (i * 7) % 23;
            let text: Vec<&str> = (0..n)
                .map(|j| words[(i * 31 + j * 17) % words.len()])
                .collect();
            ids.push(t.intern(&format!(
                "{} {i}",
                text.join(if i % 5 == 0 { "\n" } else { " " })
            )));
        }
        let empty = t.intern(" ... ");
        let mut items = Vec::new();
        for (i, &r) in ids.iter().enumerate() {
            let ctx = match i % 4 {
                0 => None,
                _ => Some(ids[(i / 40) * 40]),
            };
            items.push((r, ctx));
            if i % 9 == 0 {
                items.push((r, Some(ids[(i + 1) % ids.len()])));
            }
        }
        items.push((empty, Some(ids[0])));
        items.push((empty, None));
        #[cfg(not(target_arch = "wasm32"))]
        assert!(
            items.len() > PARALLEL_MIN_ITEMS,
            "enough items for the threads"
        );
        let factors = [Factor::Length, Factor::NovelWords, Factor::NovelWordsCount];
        let mut prepared = RuleExtractor::new();
        prepared.prepare(&t, &factors, items.iter().copied());
        let mut lazy = RuleExtractor::new();
        for &(r, c) in &items {
            assert_eq!(
                prepared.lengths[r.index()],
                Some(word_count(t.get(r)) as u32)
            );
            for f in factors {
                let a = prepared.value(f, &t, r, c).map(f64::to_bits);
                assert_eq!(
                    a,
                    lazy.value(f, &t, r, c).map(f64::to_bits),
                    "{f} of {r:?} / {c:?}"
                );
            }
        }
        // Only the length asked: no stems computed.
        let mut only = RuleExtractor::new();
        only.prepare(&t, &[Factor::Length], items.iter().copied());
        assert_eq!(only.texts_stemmed(), 0);
        assert_eq!(only.length(&t, ids[5]), word_count(t.get(ids[5])) as u32);
    }

    /// A mixed store and (response, context) items for the tests below:
    /// responses seen once or twice, contexts shared by runs of responses,
    /// none, or a response of another item.
    #[cfg(not(target_arch = "wasm32"))]
    fn mixed_items() -> (TextStore, Vec<(TextId, Option<TextId>)>) {
        let mut t = TextStore::new();
        let words = [
            "Running",
            "cats",
            "don't",
            "state-of-the-art",
            "naïve",
            "café",
            "東京",
            "ÉTÉ",
            "3.5",
            "the",
            "a",
            "generously",
            "consistency",
            "x_y",
            "Straße",
            "—",
            "!!",
            "Cats.",
            "running,",
            "generous",
            "hyphenated-compound-words-over-sixteen",
        ];
        let text = |i: usize| {
            let n = (i * 7) % 29;
            let w: Vec<&str> = (0..n)
                .map(|j| words[(i * 31 + j * 17) % words.len()])
                .collect();
            format!("{} {i}", w.join(if i % 5 == 0 { "\n" } else { " " }))
        };
        let mut items = Vec::new();
        for i in 0..3000usize {
            let ctx = match i % 7 {
                0 => None,
                3 => Some(t.intern(&text(i.saturating_sub(1) + 100_000))),
                _ => Some(t.intern(&text((i / 25) + 50_000))),
            };
            let r = t.intern(&text(i % 2900));
            items.push((r, ctx));
        }
        (t, items)
    }

    /// Feeds `items` as the loader does (each response when first seen),
    /// with `feed`, and returns the values.
    #[cfg(not(target_arch = "wasm32"))]
    fn feed_all(
        mut feed: RuleFeed,
        t: &TextStore,
        items: &[(TextId, Option<TextId>)],
        mut after: impl FnMut(usize),
    ) -> RuleValues {
        let mut seen = std::collections::HashSet::new();
        for (i, &(r, c)) in items.iter().enumerate() {
            if seen.insert(r) {
                feed.response(r, t.get(r), c.map(|c| (c, t.get(c))));
            }
            after(i);
        }
        feed.finish(t)
    }

    /// Checks that `values` absorbed, then `prepare`d, give every value of
    /// every item bit for bit as computed one at a time.
    #[cfg(not(target_arch = "wasm32"))]
    fn absorbed_values_equal(
        t: &TextStore,
        items: &[(TextId, Option<TextId>)],
        values: &RuleValues,
    ) {
        let factors = [Factor::Length, Factor::NovelWords, Factor::NovelWordsCount];
        let mut fed = RuleExtractor::new();
        fed.absorb(t, values);
        assert_eq!(fed.texts_stemmed(), values.len());
        fed.prepare(t, &factors, items.iter().copied());
        let mut lazy = RuleExtractor::new();
        for &(r, c) in items {
            for f in factors {
                assert_eq!(
                    fed.value(f, t, r, c).map(f64::to_bits),
                    lazy.value(f, t, r, c).map(f64::to_bits),
                    "{f} of {r:?} / {c:?}"
                );
            }
        }
    }

    /// Values computed while loading are those computed afterwards, to the
    /// bit, with many batches, with batches dropped when the worker is
    /// busy, and never for another store.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn fed_values_equal_prepared_ones() {
        let (t, items) = mixed_items();
        let responses = items
            .iter()
            .map(|&(r, _)| r)
            .collect::<std::collections::HashSet<_>>()
            .len();
        // A running worker: every response gets its values (the loader
        // does not wait, but in this test the worker keeps up or drops).
        let values = feed_all(RuleFeed::spawn(None).unwrap(), &t, &items, |_| {});
        assert!(!values.is_empty() && values.len() <= responses);
        absorbed_values_equal(&t, &items, &values);
        // A worker that starts only at the end: all but the first
        // FEED_QUEUE batches and the last one are dropped, and a context
        // sent in a dropped batch is sent again.
        let (open, gate) = std::sync::mpsc::channel();
        let feed = RuleFeed::spawn(Some(gate)).unwrap();
        let mut open = Some(open);
        let values = feed_all(feed, &t, &items, |i| {
            if i + 1 == items.len() {
                open.take();
            }
        });
        assert!(!values.is_empty(), "the first batches are kept");
        assert!(
            values.len() < responses / 2,
            "most batches were dropped: {}",
            values.len()
        );
        absorbed_values_equal(&t, &items, &values);
        // The same values against a store with one more text are ignored.
        let mut other = t.clone();
        other.intern("one more text");
        let mut x = RuleExtractor::new();
        x.absorb(&other, &values);
        assert_eq!(x.texts_stemmed(), 0);
    }
}
