//! Coverage-guided fuzzing of the report checker a widget runs on untrusted
//! JSON (`profile::embed::check`): it must never panic; a report it accepts
//! keeps its number rules (scores in [−1, 1], ordered intervals) and is
//! accepted again from its own JSON; a refusal lists at least one problem.
//! The seeded version that runs in CI is `tests/fuzz_check.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile::embed::check::check_report;

fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match check_report(&text) {
        Ok(report) => {
            for a in &report.agents {
                for e in a.factor_scores.values() {
                    if let Some(s) = e.score {
                        assert!((-1.0..=1.0).contains(&s));
                    }
                    if let Some([lo, hi]) = e.ci95 {
                        assert!(lo <= hi);
                    }
                }
            }
            assert!(check_report(&report.to_json_pretty()).is_ok());
        }
        Err(e) => assert!(!e.problems.is_empty()),
    }
}

fuzz_target!(|data: &[u8]| check(data));
