//! The annotation cache: every successful LLM call's reply and parsed value,
//! keyed so that the same question is never paid for twice.
//!
//! The key covers everything that changes the answer: provider, model, template
//! name and version, decoding parameters, and the texts (by hash). The cache
//! exports and imports as JSONL (one [`CacheEntry`] per line), so a team can
//! share extracted factors; the CLI keeps it in `.profile-cache/`, the browser
//! in IndexedDB. Entries never contain API keys.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::Decoding;
use crate::data::Diagnostic;

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
        self.map.insert(e.key.clone(), e).is_none()
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
