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
//! once per text-and-context pair), caching stems per distinct word.

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

/// Novel-word share and count of a response against a context, from sorted
/// unique stem ids.
fn novel(response: &[u32], context: &[u32]) -> (f64, usize) {
    if response.is_empty() {
        return (0.0, 0);
    }
    let (mut i, mut j, mut novel) = (0, 0, 0usize);
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
    (novel as f64 / response.len() as f64, novel)
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
    let sid = match word_stems.get(lower.as_str()) {
        Some(&s) => s,
        None => {
            let st = stemmer.stem(lower);
            let next = stem_ids.len() as u32;
            let s = *stem_ids.entry(Box::from(&*st)).or_insert(next);
            word_stems.insert(Box::from(lower.as_str()), s);
            s
        }
    };
    if let Some(k) = key {
        short_stems.insert(k, sid);
    }
    sid
}

/// Computes rule-based factor values with caching.
pub struct RuleExtractor {
    stemmer: Stemmer,
    /// Lower-cased word → stem id.
    word_stems: FxHashMap<Box<str>, u32>,
    /// [`short_key`] of a word → stem id, for words of at most 16 ASCII bytes.
    short_stems: FxHashMap<u128, u32>,
    /// Stem → stem id.
    stem_ids: FxHashMap<Box<str>, u32>,
    /// Per text id: sorted unique stem ids, once computed.
    text_stems: Vec<Option<Box<[u32]>>>,
    /// Per text id: word count, once computed.
    lengths: Vec<Option<u32>>,
    /// (response, context) → (share, count).
    novel: FxHashMap<(u32, u32), (f64, usize)>,
    lower: String,
}

impl Default for RuleExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl RuleExtractor {
    pub fn new() -> Self {
        RuleExtractor {
            stemmer: Stemmer::create(Algorithm::English),
            word_stems: FxHashMap::default(),
            short_stems: FxHashMap::default(),
            stem_ids: FxHashMap::default(),
            text_stems: Vec::new(),
            lengths: Vec::new(),
            novel: FxHashMap::default(),
            lower: String::new(),
        }
    }

    /// Number of distinct texts whose stems have been computed.
    pub fn texts_stemmed(&self) -> usize {
        self.text_stems.iter().filter(|s| s.is_some()).count()
    }

    /// The `length` of a text.
    pub fn length(&mut self, texts: &TextStore, id: TextId) -> u32 {
        if self.lengths.len() <= id.index() {
            self.lengths.resize(texts.len().max(id.index() + 1), None);
        }
        *self.lengths[id.index()].get_or_insert_with(|| word_count(texts.get(id)) as u32)
    }

    /// Sorted unique stem ids of a text.
    fn stems(&mut self, texts: &TextStore, id: TextId) -> &[u32] {
        if self.text_stems.len() <= id.index() {
            self.text_stems
                .resize(texts.len().max(id.index() + 1), None);
        }
        if self.text_stems[id.index()].is_none() {
            let mut ids = Vec::new();
            let (stemmer, word_stems, short_stems, stem_ids, lower) = (
                &self.stemmer,
                &mut self.word_stems,
                &mut self.short_stems,
                &mut self.stem_ids,
                &mut self.lower,
            );
            for_each_word(texts.get(id), |w| {
                ids.push(stem_id(
                    stemmer,
                    word_stems,
                    short_stems,
                    stem_ids,
                    lower,
                    w,
                ));
            });
            ids.sort_unstable();
            ids.dedup();
            self.text_stems[id.index()] = Some(ids.into_boxed_slice());
        }
        self.text_stems[id.index()].as_deref().unwrap_or(&[])
    }

    /// `novel_words` share and count of `response` against `context` (no
    /// context: every stem is novel).
    pub fn novel_words(
        &mut self,
        texts: &TextStore,
        response: TextId,
        context: Option<TextId>,
    ) -> (f64, usize) {
        let key = (response.0, context.map_or(u32::MAX, |c| c.0));
        if let Some(&v) = self.novel.get(&key) {
            return v;
        }
        let r: Box<[u32]> = self.stems(texts, response).into();
        let v = match context {
            Some(c) => novel(&r, self.stems(texts, c)),
            None => novel(&r, &[]),
        };
        self.novel.insert(key, v);
        v
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
        let ctx: Box<[u32]> =
            context.map_or_else(|| Box::from([]), |c| self.stems(texts, c).into());
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
            let sid = stem_id(
                &self.stemmer,
                &mut self.word_stems,
                &mut self.short_stems,
                &mut self.stem_ids,
                &mut self.lower,
                &word,
            );
            if ctx.binary_search(&sid).is_err() {
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
}
