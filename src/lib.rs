//! # PROFILE
//!
//! PROFILE (PRObing Factors of InfLuence for Explainability; Oh, Kim et al.,
//! 2024) explains *why* an agent, a pool of human annotators or an LLM,
//! prefers one response over another. For each factor (length, novel words,
//! hallucination, …) it measures how strongly "has more of this factor" goes
//! with "is preferred", and compares the resulting factor rankings of humans
//! and models.
//!
//! The crate's core is pure and target-independent: it never performs I/O
//! beyond the readers it is handed and never panics on input.
//!
//! * [`data`]: the pairwise schema, dataset adapters and the loader.
//! * [`factors`]: the taxonomy, task presets and rule-based extraction.
//! * [`stats`]: factor scores, the bootstrap, correlations with their
//!   intervals and p-values, and the joint model.
//! * [`report`]: the versioned report schema.
//! * [`summary`]: a plain-language summary of a report's misalignments.
//! * [`analysis`]: dataset → report.
//! * [`guide`]: guided judging (the diagnosis turned into guidance for a judge).
//! * [`embed`]: reports in other pages (widgets, iframe fragments).
//!
//! ```
//! use profile::{analysis, data, factors::Task};
//! let jsonl = br#"{"input": "q", "response_a": "a short answer", "response_b": "a much longer and fuller answer", "preference": "b"}"#;
//! let ds = data::load_bytes(jsonl, Default::default()).unwrap();
//! let cfg = analysis::ScoreConfig::for_task(Task::Helpful);
//! let report = analysis::score_report(&ds, &cfg, &Default::default());
//! assert_eq!(report.agent("human").unwrap().factor_scores["length"].score, Some(1.0));
//! ```

/// On wasm32 every module (app, worker, widget, Parquet reader, npm package)
/// allocates with Talc instead of the default dlmalloc: 3.3–3.4 KB smaller
/// gzipped per module, the loader's time the same within noise (see
/// `Cargo.toml`). Wasm memory it takes is never given back, as with dlmalloc.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub mod agents;
pub mod analysis;
pub mod chart;
pub mod data;
pub mod drill;
pub mod embed;
pub mod factors;
pub mod guide;
pub mod improve;
pub mod llm;
pub mod protocol;
pub mod published;
pub mod report;
pub mod state;
pub mod stats;
pub mod summary;
pub mod view;
pub mod workflow;

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;

#[cfg(target_arch = "wasm32")]
pub mod web;
