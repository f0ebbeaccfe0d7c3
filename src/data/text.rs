//! Text interning: each distinct text is stored once.

use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

/// The id of an interned text, dense from 0 in insertion order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TextId(pub u32);

impl TextId {
    /// The id as an index into per-text tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Texts are appended to blocks of this many bytes, so that nothing is
/// ever copied to grow the store.
const BLOCK: usize = 1 << 20;

/// A text longer than this gets a block of its own (so a block's unused
/// tail is at most this long).
const OWN_BLOCK: usize = BLOCK / 8;

/// Where a text is: its block, its start in the block and its length.
#[derive(Clone, Copy, Debug)]
struct Span {
    block: u32,
    start: u32,
    len: u32,
}

/// No further text with the same hash.
const END: u32 = u32::MAX;

/// A set of distinct texts with dense ids. Interning the same text twice
/// returns the same id and stores nothing new.
///
/// The texts are stored compactly: their bytes one after another in large
/// blocks, a 12-byte span per id, and a hash table from each text's 64-bit
/// hash to its id (texts whose hashes collide are chained through `next`).
#[derive(Debug, Default, Clone)]
pub struct TextStore {
    blocks: Vec<String>,
    /// The block short texts are appended to.
    open: Option<usize>,
    spans: Vec<Span>,
    /// Hash of a text → the first id with that hash.
    ids: FxHashMap<u64, u32>,
    /// Per id: the next id with the same hash, or [`END`].
    next: Vec<u32>,
    bytes: usize,
}

fn hash_of(text: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(text.as_bytes());
    h.write_usize(text.len());
    h.finish()
}

impl TextStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn find(&self, text: &str, hash: u64) -> Option<TextId> {
        let mut id = *self.ids.get(&hash)?;
        while id != END {
            if self.get(TextId(id)) == text {
                return Some(TextId(id));
            }
            id = self.next[id as usize];
        }
        None
    }

    /// The id of `text`, adding it if it is new.
    pub fn intern(&mut self, text: &str) -> TextId {
        let hash = hash_of(text);
        if let Some(id) = self.find(text, hash) {
            return id;
        }
        let id = u32::try_from(self.spans.len())
            .ok()
            .filter(|&i| i != END)
            .expect("more than 2^32 - 1 distinct texts");
        let block_index = if text.len() > OWN_BLOCK {
            self.blocks.push(String::with_capacity(text.len()));
            self.blocks.len() - 1
        } else {
            match self.open {
                Some(b) if self.blocks[b].capacity() - self.blocks[b].len() >= text.len() => b,
                _ => {
                    self.blocks.push(String::with_capacity(BLOCK));
                    self.open = Some(self.blocks.len() - 1);
                    self.blocks.len() - 1
                }
            }
        };
        let block = &mut self.blocks[block_index];
        let start = block.len();
        block.push_str(text);
        self.spans.push(Span {
            block: block_index as u32,
            start: u32::try_from(start).expect("a block under 4 GiB"),
            len: u32::try_from(text.len()).expect("a text under 4 GiB"),
        });
        self.bytes += text.len();
        let first = self.ids.entry(hash).or_insert(id);
        if *first == id {
            self.next.push(END);
        } else {
            // Chain behind the first text with this hash.
            let after = std::mem::replace(&mut self.next[*first as usize], id);
            self.next.push(after);
        }
        TextId(id)
    }

    /// The id of `text` if it has been interned.
    pub fn lookup(&self, text: &str) -> Option<TextId> {
        self.find(text, hash_of(text))
    }

    /// The text of an id. Panics on an id from another store.
    pub fn get(&self, id: TextId) -> &str {
        let s = self.spans[id.index()];
        let start = s.start as usize;
        &self.blocks[s.block as usize][start..start + s.len as usize]
    }

    /// Number of distinct texts.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Total UTF-8 bytes of the distinct texts.
    pub fn total_bytes(&self) -> usize {
        self.bytes
    }

    /// All texts with their ids, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (TextId, &str)> {
        (0..self.spans.len()).map(|i| (TextId(i as u32), self.get(TextId(i as u32))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_idempotent_and_dense() {
        let mut s = TextStore::new();
        let a = s.intern("alpha");
        let b = s.intern("beta");
        assert_eq!(s.intern("alpha"), a);
        assert_eq!((a, b), (TextId(0), TextId(1)));
        assert_eq!(s.len(), 2);
        assert_eq!(s.total_bytes(), 9);
        assert_eq!(s.get(b), "beta");
        assert_eq!(s.lookup("gamma"), None);
    }

    /// Texts of every size, across blocks (one longer than a block), the
    /// empty text, and texts whose hashes collide (forced through the chain)
    /// all come back as they went in.
    #[test]
    fn blocks_and_collisions_keep_every_text() {
        let mut s = TextStore::new();
        let big = "x".repeat(BLOCK + 7);
        let mut texts: Vec<String> = (0..5000)
            .map(|i| format!("text {i} {}", "é".repeat(i % 300)))
            .collect();
        texts.insert(1234, big);
        texts.push(String::new());
        let ids: Vec<TextId> = texts.iter().map(|t| s.intern(t)).collect();
        assert!(s.blocks.len() > 2);
        for (t, &id) in texts.iter().zip(&ids) {
            assert_eq!(s.get(id), t);
            assert_eq!(s.intern(t), id);
            assert_eq!(s.lookup(t), Some(id));
        }
        assert_eq!(s.len(), texts.len());
        // Two texts forced under one hash: both found, neither confused.
        let mut c = TextStore::new();
        let a = c.intern("a");
        let h = hash_of("a");
        let b = TextId(c.spans.len() as u32);
        c.blocks[0].push('b');
        c.spans.push(Span {
            block: 0,
            start: 1,
            len: 1,
        });
        c.next.push(END);
        let after = std::mem::replace(&mut c.next[a.index()], b.0);
        c.next[b.index()] = after;
        assert_eq!(c.find("a", h), Some(a));
        assert_eq!(c.find("b", h), Some(b));
        assert_eq!(c.find("c", h), None);
        assert_eq!(c.iter().map(|(_, t)| t).collect::<Vec<_>>(), ["a", "b"]);
    }
}
