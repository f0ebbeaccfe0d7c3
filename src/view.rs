//! The shareable view state: task, factor selection and table sort, kept in
//! the URL fragment (`#task=helpful&factors=length,novel_words&sort=score`),
//! and a loaded factor pack (`#pack=…`, its JSON percent-encoded, before
//! `factors` so that a link carries custom factors too). The data itself
//! never goes into the URL.

use crate::factors::pack::FactorPack;
use crate::factors::{Factor, Task};

/// The longest `pack=` value read from a fragment, in bytes (percent-encoded).
pub const MAX_PACK_FRAGMENT: usize = 64 << 10;

/// A sortable column of the factor table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// By score (the ranking).
    #[default]
    Score,
    Factor,
    CiLow,
    CiHigh,
    Concordant,
    Discordant,
    Ties,
    Pairs,
}

impl SortKey {
    pub const ALL: [SortKey; 8] = [
        SortKey::Score,
        SortKey::Factor,
        SortKey::CiLow,
        SortKey::CiHigh,
        SortKey::Concordant,
        SortKey::Discordant,
        SortKey::Ties,
        SortKey::Pairs,
    ];

    pub fn id(self) -> &'static str {
        match self {
            SortKey::Score => "score",
            SortKey::Factor => "factor",
            SortKey::CiLow => "ci_low",
            SortKey::CiHigh => "ci_high",
            SortKey::Concordant => "c",
            SortKey::Discordant => "d",
            SortKey::Ties => "t",
            SortKey::Pairs => "n",
        }
    }

    pub fn from_id(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == s)
    }
}

/// What the report view shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewState {
    /// Task preset; `None` = the dataset format's default.
    pub task: Option<Task>,
    /// Factor selection; `None` = the preset.
    pub factors: Option<Vec<Factor>>,
    pub sort: SortKey,
    /// Ascending instead of the default descending order.
    pub ascending: bool,
    /// The record field the pairs are grouped by. A field name comes from
    /// the data, so it is not put in the URL.
    pub group_by: Option<String>,
    /// A loaded factor pack (its factors are registered), shared in the link.
    pub pack: Option<FactorPack>,
}

/// Percent-encodes every byte but the unreserved ones (RFC 3986).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes percent-encoding; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The pack of a fragment's `pack=` value, checked and registered; `None`
/// when it is too long or not a valid pack (a link is as untrusted as a file).
pub fn pack_from_fragment(value: &str) -> Option<FactorPack> {
    if value.len() > MAX_PACK_FRAGMENT {
        return None;
    }
    let pack = FactorPack::parse(&percent_decode(value)?).ok()?;
    crate::factors::pack::register(&pack).ok()?;
    Some(pack)
}

impl ViewState {
    /// The URL fragment (without `#`); empty for the default view.
    pub fn to_hash(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.pack {
            parts.push(format!("pack={}", percent_encode(&p.to_json())));
        }
        if let Some(t) = self.task {
            parts.push(format!("task={}", t.id()));
        }
        if let Some(fs) = &self.factors {
            let ids: Vec<&str> = fs.iter().map(|f| f.id()).collect();
            parts.push(format!("factors={}", ids.join(",")));
        }
        if self.sort != SortKey::Score || self.ascending {
            parts.push(format!(
                "sort={}{}",
                if self.ascending { "" } else { "-" },
                self.sort.id()
            ));
        }
        parts.join("&")
    }

    /// Reads a fragment (with or without `#`); unknown keys and values are ignored.
    pub fn from_hash(hash: &str) -> ViewState {
        let mut v = ViewState::default();
        // The pack first: its factor ids then parse in `factors`.
        for part in hash.trim_start_matches('#').split('&') {
            if let Some(val) = part.strip_prefix("pack=") {
                v.pack = pack_from_fragment(val);
            }
        }
        for part in hash.trim_start_matches('#').split('&') {
            let Some((k, val)) = part.split_once('=') else {
                continue;
            };
            match k {
                "task" => v.task = Task::from_id(val),
                "factors" => {
                    let fs: Vec<Factor> = val.split(',').filter_map(Factor::from_id).collect();
                    v.factors = (!fs.is_empty()).then_some(fs);
                }
                "sort" => {
                    let (desc, id) = match val.strip_prefix('-') {
                        Some(id) => (true, id),
                        None => (false, val),
                    };
                    if let Some(k) = SortKey::from_id(id) {
                        v.sort = k;
                        v.ascending = !desc;
                    }
                }
                _ => {}
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_junk() {
        let v = ViewState {
            task: Some(Task::DocQa),
            factors: Some(vec![Factor::Length, Factor::NovelWords]),
            sort: SortKey::Pairs,
            ascending: true,
            group_by: None,
            pack: None,
        };
        assert_eq!(v.to_hash(), "task=doc_qa&factors=length,novel_words&sort=n");
        assert_eq!(ViewState::from_hash(&format!("#{}", v.to_hash())), v);
        assert_eq!(ViewState::default().to_hash(), "");
        let junk = ViewState::from_hash("#task=nope&factors=bogus,length&sort=-zzz&x=<script>");
        assert_eq!(junk.task, None);
        assert_eq!(junk.factors, Some(vec![Factor::Length]));
        assert_eq!(junk.sort, SortKey::Score);
    }

    #[test]
    fn a_pack_travels_in_the_fragment() {
        let pack = FactorPack::parse(
            r#"{"factors": [{"id": "v_words_re", "name": "words (regex) & more", "kind": "regex_count", "pattern": "\\w+"}]}"#,
        )
        .unwrap();
        let f = crate::factors::pack::register(&pack).unwrap()[0];
        let v = ViewState {
            factors: Some(vec![Factor::Length, f]),
            pack: Some(pack),
            ..ViewState::default()
        };
        let hash = v.to_hash();
        assert!(hash.starts_with("pack=%7B%22version%22%3A1"), "{hash}");
        assert!(hash.ends_with("&factors=length,v_words_re"), "{hash}");
        let value = hash
            .split('&')
            .next()
            .unwrap()
            .strip_prefix("pack=")
            .unwrap();
        assert!(!value.contains(['&', '#', '=', ' ']), "{hash}");
        assert_eq!(ViewState::from_hash(&format!("#{hash}")), v);
        // A broken or hostile pack is ignored, like any unknown value.
        let bad = ViewState::from_hash("#pack=%7B%22factors%22%3A%5B%5D%7D&factors=length");
        assert_eq!((bad.pack, bad.factors), (None, Some(vec![Factor::Length])));
        assert_eq!(ViewState::from_hash("#pack=%E2%28%A1").pack, None);
        assert_eq!(ViewState::from_hash("#pack=%7").pack, None);
        let long = format!("#pack={}", "a".repeat(MAX_PACK_FRAGMENT + 1));
        assert_eq!(ViewState::from_hash(&long).pack, None);
    }
}
