//! Deterministic fuzzing of the report checker (`profile::embed::check`),
//! seeded, so it runs in CI without cargo-fuzz.
//!
//! Real reports (the human agent on SummEval and on a fixture, with and
//! without the joint model) are mutated as bytes (bit flips, truncations,
//! insertions of JSON punctuation, duplications) and as JSON (a value swapped
//! for another type, a huge or out-of-range number, a key repeated, a field
//! dropped, deep nesting). The checker must never panic; whatever it accepts
//! must satisfy the number rules it promises (scores and correlations in
//! [−1, 1], ordered intervals) and must be accepted again after a round trip
//! through its own JSON; whatever it refuses must say where.
//!
//! The coverage-guided version is `fuzz/fuzz_targets/report_check.rs`.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use profile::analysis::{score_report, DatasetInfo, ScoreConfig};
use profile::embed::check::check_report;
use profile::factors::Task;
use profile::report::Report;
use profile::stats::{BootstrapConfig, Rng};
use serde_json::Value;

fn reports() -> Vec<String> {
    let mut out = Vec::new();
    for (path, resamples) in [(fixture("profile.jsonl"), 20), (SUMMEVAL.to_owned(), 0)] {
        let ds = load_default(&path);
        let cfg = ScoreConfig {
            task: ds.default_task(),
            factors: None,
            bootstrap: BootstrapConfig { resamples, seed: 1 },
        };
        let info = DatasetInfo {
            name: Some("x.jsonl".into()),
            label: None,
            sample: None,
        };
        out.push(score_report(&ds, &cfg, &info).to_json_pretty());
    }
    let mut cfg_helpful = ScoreConfig {
        task: Task::Helpful,
        factors: None,
        bootstrap: BootstrapConfig::default(),
    };
    cfg_helpful.bootstrap.resamples = 10;
    let tied = profile::data::load_bytes(
        br#"{"response_a":"cat","response_b":"dog","preference":"a"}"#,
        Default::default(),
    )
    .unwrap();
    let info = DatasetInfo {
        name: None,
        label: None,
        sample: None,
    };
    out.push(score_report(&tied, &cfg_helpful, &info).to_json_pretty());
    out
}

fn byte_mutate(rng: &mut Rng, mut v: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(6) {
        let len = v.len() as u64;
        let at = if len == 0 { 0 } else { rng.below(len) as usize };
        match rng.below(5) {
            0 if len > 0 => v[at] ^= 1 << rng.below(8),
            1 => v.truncate(at),
            2 => v.insert(at, b"{[\"\\,:}]-e."[rng.below(11) as usize]),
            3 if len > 0 => {
                let end = (at + 1 + rng.below(200) as usize).min(v.len());
                let dup = v[at..end].to_vec();
                v.splice(at..at, dup).for_each(drop);
            }
            _ if len > 0 => {
                let end = (at + 1 + rng.below(64) as usize).min(v.len());
                v.drain(at..end);
            }
            _ => {}
        }
    }
    v
}

/// A random node of `v`.
fn pick<'a>(rng: &mut Rng, v: &'a mut Value) -> &'a mut Value {
    // Choose the path on a shared borrow, then walk it.
    let mut path: Vec<Result<String, usize>> = Vec::new();
    let mut at: &Value = v;
    loop {
        if !path.is_empty() && rng.below(4) == 0 {
            break;
        }
        match at {
            Value::Object(m) if !m.is_empty() => {
                let k = m.keys().nth(rng.below(m.len() as u64) as usize).unwrap();
                path.push(Ok(k.clone()));
                at = &m[k];
            }
            Value::Array(a) if !a.is_empty() => {
                let i = rng.below(a.len() as u64) as usize;
                path.push(Err(i));
                at = &a[i];
            }
            _ => break,
        }
    }
    let mut node = v;
    for step in path {
        node = match step {
            Ok(k) => node.get_mut(&k).unwrap(),
            Err(i) => node.get_mut(i).unwrap(),
        };
    }
    node
}

fn random_value(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => Value::Null,
        1 => Value::Bool(true),
        2 => Value::from(5.0),
        3 => Value::from(-1e200),
        4 => Value::from(u64::MAX),
        5 => Value::from(-3),
        6 => Value::String("x\u{1b}[31m".into()),
        7 => Value::Array(vec![Value::from(0.5), Value::from(-0.5)]),
        8 => serde_json::json!({"score": 2, "ci95": [1, -1]}),
        _ => Value::from(0.25),
    }
}

/// Mutates the JSON tree; returns the text (sometimes with a key repeated
/// or deep nesting spliced in as text).
fn json_mutate(rng: &mut Rng, text: &str) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap();
    for _ in 0..1 + rng.below(3) {
        let node = pick(rng, &mut v);
        match rng.below(3) {
            0 => *node = random_value(rng),
            1 => {
                if let Value::Object(m) = node {
                    if !m.is_empty() {
                        let i = rng.below(m.len() as u64) as usize;
                        let k = m.keys().nth(i).unwrap().clone();
                        m.remove(&k);
                    }
                }
            }
            _ => {
                if let Value::Number(_) = node {
                    *node = Value::from([1.0000001, -1.5, 1e308, 7.0][rng.below(4) as usize]);
                }
            }
        }
    }
    let mut s = v.to_string();
    match rng.below(6) {
        0 => {
            // Repeat the first key of some object.
            if let Some(i) = s.find("{\"") {
                let end = s[i + 2..].find('"').map(|e| i + 3 + e).unwrap_or(i);
                let key = s[i + 1..end].to_owned();
                s.insert_str(i + 1, &format!("{key}: 0, "));
            }
        }
        1 => {
            let at = s.len() / 2;
            s.insert_str(at, &"[".repeat(10_000));
        }
        _ => {}
    }
    s
}

fn check(case: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    let r = catch_unwind(AssertUnwindSafe(|| check_report(&text)));
    let r = match r {
        Ok(r) => r,
        Err(_) => {
            let path = std::env::temp_dir().join(format!("profile-fuzz-check-{case}.json"));
            let _ = std::fs::write(&path, text.as_bytes());
            panic!(
                "{case}: the checker panicked; input saved to {}",
                path.display()
            );
        }
    };
    match r {
        Ok(report) => accepted(case, &report),
        Err(e) => {
            assert!(
                !e.problems.is_empty() && e.total >= e.problems.len(),
                "{case}"
            );
            assert!(
                e.problems.iter().all(|p| !p.message.is_empty()),
                "{case}: {e}"
            );
        }
    }
}

fn in_unit(x: f64) -> bool {
    (-1.0..=1.0).contains(&x)
}

fn accepted(case: &str, r: &Report) {
    for a in &r.agents {
        for (id, e) in &a.factor_scores {
            if let Some(s) = e.score {
                assert!(in_unit(s), "{case}: {id} score {s} accepted");
            }
            if let Some([lo, hi]) = e.ci95 {
                assert!(lo <= hi, "{case}: {id} interval [{lo}, {hi}] accepted");
            }
        }
    }
    let again = check_report(&r.to_json_pretty());
    assert!(again.is_ok(), "{case}: its own JSON is refused: {again:?}");
}

#[test]
fn byte_mutated_reports_never_panic_the_checker() {
    let base = reports();
    let mut rng = Rng::new(0xC4EC);
    for i in 0..1500 {
        let b = base[rng.below(base.len() as u64) as usize]
            .as_bytes()
            .to_vec();
        check(&format!("bytes-{i}"), &byte_mutate(&mut rng, b));
    }
}

#[test]
fn json_mutated_reports_never_panic_the_checker() {
    let base = reports();
    for r in &base {
        check("unmutated", r.as_bytes());
        assert!(check_report(r).is_ok(), "a real report is accepted");
    }
    let mut rng = Rng::new(0x5EED);
    for i in 0..1500 {
        let b = &base[rng.below(base.len() as u64) as usize];
        check(&format!("json-{i}"), json_mutate(&mut rng, b).as_bytes());
    }
}

#[test]
fn a_repeated_key_and_an_out_of_range_score_are_refused_with_their_place() {
    let base = &reports()[0];
    let dup = base.replacen("{", "{\"schema\": \"profile-report/1\",", 1);
    let e = check_report(&dup).unwrap_err();
    assert!(e.to_string().contains("duplicate key `schema`"), "{e}");
    let mut v: Value = serde_json::from_str(base).unwrap();
    v["agents"][0]["factor_scores"]["length"]["score"] = Value::from(5.0);
    let e = check_report(&v.to_string()).unwrap_err();
    assert!(
        e.problems
            .iter()
            .any(|p| p.path == "agents[0].factor_scores.length.score"),
        "{e}"
    );
}
