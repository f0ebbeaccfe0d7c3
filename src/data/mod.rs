//! Pairwise preference data: the canonical schema, text interning, and loading
//! with located diagnostics.
//!
//! Loading never aborts on bad input. A [`Loader`] takes bytes in chunks (so a
//! browser worker can report progress and cancel), frames them into records
//! (JSONL lines or the elements of a top-level JSON array), hands each record to
//! the adapter of the detected [`Format`], and returns a [`Dataset`]: the pairs,
//! the interned texts, and one [`Diagnostic`] per skipped record. The invariant
//! `records_parsed + records_skipped == records_read` always holds.
//!
//! Memory is bounded by the unique texts: every text is stored once in a
//! [`TextStore`] and pairs hold 32-bit ids. A record longer than
//! [`FormatOptions::max_record_mb`] (8 MiB by default) is skipped with a
//! diagnostic while it streams past, never held whole, so a gzip bomb costs
//! time but not memory. JSON objects that name a key twice are refused
//! ([`strict`]).

mod fields;
mod formats;
mod framing;
mod gzip;
mod loader;
mod parquet;
pub mod sort;
pub mod strict;
mod table;
mod task;
mod text;

pub use fields::{FieldValues, RecordFields, NO_ROW};
pub use formats::{
    Format, FormatOptions, PkuLabel, SummEvalLabel, DEFAULT_MAX_RECORD_MB, MAX_RECORD_MB_LIMIT,
};
pub use loader::{
    load_bytes, load_reader, load_reader_with, LoadError, Loader, ResponseWatcher, StartWatcher,
};
#[cfg(not(target_arch = "wasm32"))]
pub use parquet::load_parquet;
pub use parquet::{is_parquet, GroupLines, ParquetRows};
pub use table::{TableOptions, MAPPABLE};
pub use task::Task;
pub use text::{TextId, TextStore};

use serde::{Deserialize, Serialize};

/// A human or model preference between the two responses of a pair.
///
/// In the canonical schema it is written `"a"`, `"b"` or `"tie"`, or as the
/// numbers `1`, `-1`, `0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preference {
    /// Response A is preferred (P = +1).
    A,
    /// Response B is preferred (P = −1).
    B,
    /// Neither is preferred (P = 0).
    Tie,
}

impl Preference {
    /// The signed value P ∈ {+1, −1, 0} used by the factor score.
    pub fn sign(self) -> i8 {
        match self {
            Preference::A => 1,
            Preference::B => -1,
            Preference::Tie => 0,
        }
    }

    /// The preference from a signed value (any positive number is A).
    pub fn from_sign(s: i64) -> Self {
        match s.signum() {
            1 => Preference::A,
            -1 => Preference::B,
            _ => Preference::Tie,
        }
    }

    /// The preference implied by two scores: the higher score wins, and scores
    /// whose absolute difference is below `tolerance` tie.
    pub fn from_scores(a: f64, b: f64, tolerance: f64) -> Self {
        let d = a - b;
        if d.abs() < tolerance {
            Preference::Tie
        } else if d > 0.0 {
            Preference::A
        } else {
            Preference::B
        }
    }

    /// The same judgement with the two responses swapped.
    pub fn flipped(self) -> Self {
        match self {
            Preference::A => Preference::B,
            Preference::B => Preference::A,
            Preference::Tie => Preference::Tie,
        }
    }
}

/// One comparison of two responses to the same input, as loaded.
///
/// Texts are ids into the dataset's [`TextStore`]. `cluster` groups the pairs
/// that share an input (a post, an article, a question): the bootstrap
/// resamples clusters, since pairs of one input are correlated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The cluster (input) this pair belongs to, dense from 0.
    pub cluster: u32,
    /// The request or question, if the record has one.
    pub input: Option<TextId>,
    /// The source text (article, post, reference documents), if any.
    pub source: Option<TextId>,
    /// Response A.
    pub a: TextId,
    /// Response B.
    pub b: TextId,
    /// The human label.
    pub preference: Preference,
    /// The 1-based line of the record the pair came from.
    pub line: u64,
    /// The record rows of response A and B in [`Dataset::fields`] (one
    /// record for both in pair formats; each response's own in rated
    /// formats, where a pair joins two records); [`NO_ROW`] for pairs not
    /// loaded from records.
    pub rows: [u32; 2],
}

impl Pair {
    /// The text that novel words are measured against: the source, or else the input
    /// (METHOD.md §5).
    pub fn context(&self) -> Option<TextId> {
        self.source.or(self.input)
    }
}

/// Why a record was skipped, and where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// 1-based line in the file where the record starts.
    pub line: u64,
    /// 1-based index of the record among the elements of a JSON array (a
    /// one-line array has all its records on line 1); absent for JSON Lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element: Option<u64>,
    /// The field at fault, if one field is (dotted path, e.g. `info.post`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
}

impl Diagnostic {
    pub(crate) fn new(line: u64, field: Option<&str>, reason: impl Into<String>) -> Self {
        Diagnostic {
            line,
            element: None,
            field: field.map(str::to_owned),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(e) = self.element {
            write!(f, ", element {e}")?;
        }
        match &self.field {
            Some(field) => write!(f, ": field `{}`: {}", field, self.reason),
            None => write!(f, ": {}", self.reason),
        }
    }
}

/// Counts that describe how a file was read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadStats {
    /// Bytes consumed (after decompression for gzip input: the compressed size).
    pub bytes_read: u64,
    /// Records seen: non-blank JSONL lines, or elements of a JSON array.
    pub records_read: u64,
    /// Records that contributed to the dataset.
    pub records_parsed: u64,
    /// Records skipped, one [`Diagnostic`] each.
    pub records_skipped: u64,
    /// Pairs whose human label is a tie; dropped (METHOD.md §1) and counted here.
    pub human_ties_dropped: u64,
    /// Pairs dropped for another reason the format defines (e.g. HH-RLHF
    /// transcripts whose prompts differ).
    pub pairs_dropped_other: u64,
    /// Why `pairs_dropped_other` were dropped, if any were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs_dropped_reason: Option<String>,
}

/// A loaded dataset: pairs with strict human labels, their texts, and what was skipped.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// The detected or chosen format.
    pub format: Option<Format>,
    /// Pairs with a strict human preference (human ties are dropped and counted).
    pub pairs: Vec<Pair>,
    /// Every distinct text once.
    pub texts: TextStore,
    /// Number of clusters (distinct inputs); `Pair::cluster` is below it.
    pub n_clusters: u32,
    /// One entry per skipped record, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// Counts.
    pub stats: LoadStats,
    /// The task named by the records' `task` field (PROFILE schema), if any.
    pub task_hint: Option<crate::data::Task>,
    /// The records' short string fields, to group pairs by.
    pub fields: RecordFields,
    /// What a [`ResponseWatcher`] computed while the file loaded (the
    /// scoring's rule values, natively on large inputs), if one watched.
    pub derived: Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>,
}

/// Why a load with these counts gave nothing to score, or `None` when it
/// gave at least one pair. The CLI exits with code 1 on it and the app shows
/// "Nothing to score" with it.
pub fn nothing_usable_reason(stats: &LoadStats, pairs: u64) -> Option<String> {
    if pairs > 0 {
        return None;
    }
    Some(if stats.records_read == 0 {
        "the file holds 0 records (it is empty or blank)".to_owned()
    } else if stats.records_parsed == 0 {
        format!(
            "0 of {} records parsed; the first problems:",
            stats.records_read
        )
    } else {
        let mut why = format!(
            "{} of {} records parsed, but no pair has a strict human preference ({} human ties dropped",
            stats.records_parsed, stats.records_read, stats.human_ties_dropped
        );
        if stats.pairs_dropped_other > 0 {
            why.push_str(&format!(
                ", {} dropped: {}",
                stats.pairs_dropped_other,
                stats
                    .pairs_dropped_reason
                    .as_deref()
                    .unwrap_or("by the format's rules")
            ));
        }
        why.push(')');
        why
    })
}

impl Dataset {
    /// Why the dataset has nothing to score (see [`nothing_usable_reason`]).
    pub fn nothing_usable(&self) -> Option<String> {
        nothing_usable_reason(&self.stats, self.pairs.len() as u64)
    }

    /// The text of an id.
    pub fn text(&self, id: TextId) -> &str {
        self.texts.get(id)
    }

    /// Keeps only the first `n` pairs (a sample for a paid run), with cluster
    /// ids made dense again.
    pub fn truncate_pairs(&mut self, n: usize) {
        self.pairs.truncate(n);
        self.renumber_clusters();
    }

    /// Keeps only the pairs of the inputs (clusters) `keep` marks (`keep[c]`
    /// for cluster `c`; clusters beyond `keep` are dropped), with cluster ids
    /// made dense again in order of first appearance.
    pub fn keep_clusters(&mut self, keep: &[bool]) {
        self.pairs
            .retain(|p| keep.get(p.cluster as usize).copied().unwrap_or(false));
        self.renumber_clusters();
    }

    fn renumber_clusters(&mut self) {
        let mut map = rustc_hash::FxHashMap::default();
        for p in &mut self.pairs {
            let next = map.len() as u32;
            p.cluster = *map.entry(p.cluster).or_insert(next);
        }
        self.n_clusters = map.len() as u32;
    }

    /// The task preset to use when none is chosen: the records' own `task`
    /// field if they have one, else the format's default.
    pub fn default_task(&self) -> crate::data::Task {
        self.task_hint
            .or(self.format.map(|f| f.default_task()))
            .unwrap_or(crate::data::Task::Helpful)
    }
}
