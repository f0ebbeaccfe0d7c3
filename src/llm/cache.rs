//! The annotation cache: every successful LLM call's reply and parsed value,
//! keyed so that the same question is never paid for twice.
//!
//! The key covers everything that changes the answer: provider, model, template
//! name and version, decoding parameters, and the texts (by hash). The cache
//! exports and imports as JSONL (one [`CacheEntry`] per line), so a team can
//! share extracted factors; the CLI keeps it in `.profile-cache/`, the browser
//! in IndexedDB. Entries never contain API keys.
//!
//! Two key versions exist. Version 2 ([`KeyHasher`], keys `v2-` + 32 hex
//! digits) hashes what a question asks: the model configuration (hashed once
//! per run), the template and log-probability flag, small descriptors of
//! the parts asked, and a digest of every text, computed once per unique
//! text ([`TextDigests`]); no prompt is rendered to key a question. The
//! legacy version 1 ([`cache_key`], 32 hex digits) hashes the texts
//! themselves for every question; caches written before version 2 hold such
//! keys, and the engine still answers from them (see `engine`), so the
//! version of an entry's key is told by its prefix ([`is_legacy_key`]).

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::Decoding;
use crate::data::{Diagnostic, TextId};

/// The prefix of version-2 cache keys.
pub const KEY_V2_PREFIX: &str = "v2-";

/// Whether `key` is not a version-2 key: a legacy key (32 hex digits) or
/// any other key an imported file holds.
pub fn is_legacy_key(key: &str) -> bool {
    !key.starts_with(KEY_V2_PREFIX)
}

/// A stable 128-bit hash of length-prefixed fields, eight bytes at a time
/// (little-endian words; the same on every platform and version). Version-2
/// cache keys and text digests are made with it.
#[derive(Clone, Copy, Debug)]
pub struct KeyHasher {
    a: u64,
    b: u64,
}

impl Default for KeyHasher {
    fn default() -> Self {
        KeyHasher::new()
    }
}

/// The 64-bit finaliser of MurmurHash3.
fn fmix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

impl KeyHasher {
    pub fn new() -> Self {
        KeyHasher {
            a: 0x9E37_79B9_7F4A_7C15,
            b: 0x6A09_E667_F3BC_C908,
        }
    }

    fn word(&mut self, w: u64) {
        self.a = (self.a ^ w).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        self.a ^= self.a >> 29;
        self.b = (self.b ^ w.rotate_left(32)).wrapping_mul(0x94D0_49BB_1331_11EB);
        self.b ^= self.b >> 31;
    }

    /// One field: its length, then its bytes.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.word(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last));
        }
        self
    }

    /// One text field.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// One number field.
    pub fn u64(&mut self, n: u64) -> &mut Self {
        self.word(8);
        self.word(n);
        self
    }

    /// One digest field.
    pub fn digest(&mut self, d: Digest) -> &mut Self {
        self.word(16);
        self.word(d[0]);
        self.word(d[1]);
        self
    }

    /// The 128-bit hash of the fields so far.
    pub fn finish(&self) -> Digest {
        let a = fmix(self.a ^ self.b.rotate_left(17));
        let b = fmix(self.b ^ a);
        [fmix(a ^ b.rotate_left(23)), b]
    }

    /// The version-2 cache key of the fields so far.
    pub fn key(&self) -> String {
        let [a, b] = self.finish();
        format!("{KEY_V2_PREFIX}{a:016x}{b:016x}")
    }
}

/// A 128-bit digest ([`KeyHasher`]).
pub type Digest = [u64; 2];

/// The digest of one text.
pub fn digest(text: &str) -> Digest {
    KeyHasher::new().str(text).finish()
}

/// Digests computed once per unique text of a run: the dataset's texts by
/// id, the facts of a text (first-stage answers), and composite contexts
/// (e.g. a judge's documents and question) by what they are made of.
#[derive(Clone, Debug, Default)]
pub struct TextDigests {
    texts: Vec<Option<Digest>>,
    facts: FxHashMap<TextId, Digest>,
    contexts: FxHashMap<(&'static str, Option<TextId>, Option<TextId>), Digest>,
    /// Bytes digested so far.
    hashed: u64,
}

impl TextDigests {
    pub fn new() -> Self {
        Self::default()
    }

    /// The digest of text `id` (`text` is its content).
    pub fn text(&mut self, id: TextId, text: &str) -> Digest {
        let i = id.index();
        if let Some(Some(d)) = self.texts.get(i) {
            return *d;
        }
        let d = digest(text);
        self.hashed += text.len() as u64;
        if self.texts.len() <= i {
            self.texts.resize(i + 1, None);
        }
        self.texts[i] = Some(d);
        d
    }

    /// The digest of the facts of text `id` (`facts`, the same for the
    /// whole run), joined as the legacy key joined them.
    pub fn facts(&mut self, id: TextId, facts: &[String]) -> Digest {
        let hashed = &mut self.hashed;
        *self.facts.entry(id).or_insert_with(|| {
            let joined = facts.join("\u{1f}");
            *hashed += joined.len() as u64;
            digest(&joined)
        })
    }

    /// The digest of a context made of `input` and `source` in the way
    /// named `how` (`make` renders it).
    pub fn context(
        &mut self,
        how: &'static str,
        input: Option<TextId>,
        source: Option<TextId>,
        make: impl FnOnce() -> String,
    ) -> Digest {
        let hashed = &mut self.hashed;
        *self
            .contexts
            .entry((how, input, source))
            .or_insert_with(|| {
                let text = make();
                *hashed += text.len() as u64;
                digest(&text)
            })
    }

    /// Bytes of text digested so far (each text, facts list and context
    /// once).
    pub fn hashed_bytes(&self) -> u64 {
        self.hashed
    }
}

/// A stable 128-bit hash (two FNV-1a lanes) of a sequence of fields, as 32 hex
/// digits. Stable across platforms, toolchains and versions, unlike
/// `std::hash`; fields are length-prefixed so ("ab","c") ≠ ("a","bc").
pub fn stable_hash(parts: &[&str]) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01B3;
    let mut lanes = [0xCBF2_9CE4_8422_2325u64, 0x8422_2325_CBF2_9CE4u64];
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            lanes[0] = (lanes[0] ^ b as u64).wrapping_mul(PRIME);
            lanes[1] = (lanes[1] ^ (b as u64).rotate_left(3)).wrapping_mul(PRIME ^ 0x9E37_79B9);
        }
    };
    for p in parts {
        eat(&(p.len() as u64).to_le_bytes());
        eat(p.as_bytes());
    }
    format!("{:016x}{:016x}", lanes[0], lanes[1])
}

/// The cache key of one call.
pub fn cache_key(
    provider: &str,
    model: &str,
    template_id: &str,
    decoding: &Decoding,
    texts: &[&str],
) -> String {
    let dec = format!(
        "t={};p={};m={}",
        decoding.temperature, decoding.top_p, decoding.max_tokens
    );
    let mut parts = vec![provider, model, template_id, dec.as_str()];
    parts.extend_from_slice(texts);
    stable_hash(&parts)
}

/// One cached call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub key: String,
    /// `name@version` of the template.
    pub template: String,
    pub provider: String,
    pub model: String,
    pub decoding: Decoding,
    /// The model's raw reply.
    pub reply: String,
    /// The parsed value the reply yielded.
    pub value: serde_json::Value,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
}

/// An in-memory cache with JSONL import and export.
#[derive(Clone, Debug, Default)]
pub struct MemoryCache {
    map: FxHashMap<String, CacheEntry>,
    /// Entries under a legacy key ([`is_legacy_key`]).
    legacy: usize,
}

impl MemoryCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &str) -> Option<&CacheEntry> {
        self.map.get(key)
    }

    /// Stores an entry; returns whether it was new.
    pub fn put(&mut self, e: CacheEntry) -> bool {
        let legacy = is_legacy_key(&e.key);
        let new = self.map.insert(e.key.clone(), e).is_none();
        if new && legacy {
            self.legacy += 1;
        }
        new
    }

    /// Whether some entry is under a legacy key: only then does a lookup
    /// that misses its version-2 key try the legacy one.
    pub fn has_legacy(&self) -> bool {
        self.legacy > 0
    }

    /// Every entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &CacheEntry> {
        self.map.values()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All entries as JSONL, sorted by key (so exports diff cleanly).
    pub fn to_jsonl(&self) -> String {
        let mut keys: Vec<&String> = self.map.keys().collect();
        keys.sort();
        keys.into_iter()
            .map(|k| serde_json::to_string(&self.map[k]).expect("entries serialise") + "\n")
            .collect()
    }

    /// Imports JSONL entries; bad lines are skipped and reported. Returns the
    /// number of new entries.
    pub fn import_jsonl(&mut self, text: &str) -> (usize, Vec<Diagnostic>) {
        let (mut added, mut problems) = (0, Vec::new());
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<CacheEntry>(line) {
                Ok(e) => added += usize::from(self.put(e)),
                Err(e) => problems.push(Diagnostic::new(
                    i as u64 + 1,
                    None,
                    format!("not a cache entry: {e}"),
                )),
            }
        }
        (added, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_length_prefixed() {
        // Fixed value: changing the hash function would orphan every cache.
        assert_eq!(stable_hash(&["a", "b"]), stable_hash(&["a", "b"]));
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
        assert_eq!(stable_hash(&[]).len(), 32);
        let d = Decoding::default();
        let k = cache_key("openai", "m", "atomic_facts@1", &d, &["text"]);
        assert_ne!(k, cache_key("openai", "m", "atomic_facts@2", &d, &["text"]));
        assert_ne!(
            k,
            cache_key(
                "openai",
                "m",
                "atomic_facts@1",
                &Decoding {
                    temperature: 0.0,
                    ..d
                },
                &["text"]
            )
        );
        assert_ne!(
            k,
            cache_key("anthropic", "m", "atomic_facts@1", &d, &["text"])
        );
    }

    #[test]
    fn jsonl_round_trip_and_bad_lines() {
        let mut c = MemoryCache::new();
        let e = CacheEntry {
            key: "k1".into(),
            template: "atomic_facts@1".into(),
            provider: "openai".into(),
            model: "m".into(),
            decoding: Decoding::default(),
            reply: "{\"facts\": []}".into(),
            value: serde_json::json!({"facts": []}),
            input_tokens: 10,
            output_tokens: 3,
        };
        assert!(c.put(e.clone()));
        assert!(!c.put(e.clone()));
        let text = c.to_jsonl() + "not json\n";
        let mut d = MemoryCache::new();
        let (added, problems) = d.import_jsonl(&text);
        assert_eq!((added, problems.len(), problems[0].line), (1, 1, 2));
        assert_eq!(d.get("k1"), Some(&e));
    }
}
