//! The report view's panels, one file each. Each renders its props and
//! emits callbacks; all text from data and models is inserted as text nodes,
//! never as markup.

use std::rc::Rc;

use yew::prelude::*;

use crate::report::Report;

mod chart;
mod controls;
mod diagnostics;
mod export;
mod groups;
mod guide;
mod progress;
mod study;
mod summary;
mod table;
mod upload;

pub use chart::*;
pub use controls::*;
pub use diagnostics::*;
pub use export::*;
pub use groups::*;
pub use guide::*;
pub use progress::*;
pub use study::*;
pub use summary::*;
pub use table::*;
pub use upload::*;

pub(crate) fn human_bytes(b: u64) -> String {
    const U: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < 3 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

pub(crate) fn stem_of(name: &str) -> String {
    let base = name.split(" (").next().unwrap_or(name);
    let base = base.rsplit_once('.').map_or(base, |(b, _)| b);
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "profile".into()
    } else {
        clean
    }
}

/// Props of a panel that shows one report.
#[derive(Properties, PartialEq)]
pub struct ReportProps {
    pub report: Rc<Report>,
}
