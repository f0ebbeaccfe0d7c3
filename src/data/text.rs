//! Text interning: each distinct text is stored once.

use std::sync::Arc;

use rustc_hash::FxHashMap;

/// The id of an interned text, dense from 0 in insertion order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TextId(pub u32);

impl TextId {
    /// The id as an index into per-text tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A set of distinct texts with dense ids. Interning the same text twice
/// returns the same id and stores nothing new.
#[derive(Debug, Default, Clone)]
pub struct TextStore {
    texts: Vec<Arc<str>>,
    ids: FxHashMap<Arc<str>, TextId>,
    bytes: usize,
}

impl TextStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `text`, adding it if it is new.
    pub fn intern(&mut self, text: &str) -> TextId {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = TextId(u32::try_from(self.texts.len()).expect("more than 2^32 distinct texts"));
        let shared: Arc<str> = Arc::from(text);
        self.bytes += text.len();
        self.texts.push(shared.clone());
        self.ids.insert(shared, id);
        id
    }

    /// The id of `text` if it has been interned.
    pub fn lookup(&self, text: &str) -> Option<TextId> {
        self.ids.get(text).copied()
    }

    /// The text of an id. Panics on an id from another store.
    pub fn get(&self, id: TextId) -> &str {
        &self.texts[id.index()]
    }

    /// Number of distinct texts.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Total UTF-8 bytes of the distinct texts.
    pub fn total_bytes(&self) -> usize {
        self.bytes
    }

    /// All texts with their ids, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (TextId, &str)> {
        self.texts
            .iter()
            .enumerate()
            .map(|(i, t)| (TextId(i as u32), &**t))
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
}
