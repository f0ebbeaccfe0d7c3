//! The shareable view state: task, factor selection and table sort, kept in
//! the URL fragment (`#task=helpful&factors=length,novel_words&sort=score`).
//! The data itself never goes into the URL.

use crate::factors::{Factor, Task};

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
}

impl ViewState {
    /// The URL fragment (without `#`); empty for the default view.
    pub fn to_hash(&self) -> String {
        let mut parts = Vec::new();
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
        };
        assert_eq!(v.to_hash(), "task=doc_qa&factors=length,novel_words&sort=n");
        assert_eq!(ViewState::from_hash(&format!("#{}", v.to_hash())), v);
        assert_eq!(ViewState::default().to_hash(), "");
        let junk = ViewState::from_hash("#task=nope&factors=bogus,length&sort=-zzz&x=<script>");
        assert_eq!(junk.task, None);
        assert_eq!(junk.factors, Some(vec![Factor::Length]));
        assert_eq!(junk.sort, SortKey::Score);
    }
}
