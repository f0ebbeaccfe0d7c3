//! Factor packs end to end (issue 15 §1): custom rule factors through the
//! `profile` binary, scored as the built-in ones are.
//!
//! * A regex factor that counts what `length` counts gives identical
//!   scores (C, D, T, dropped, missing, interval) on SummEval made
//!   punctuation-free by METHOD.md §5's own deletion; on the original text
//!   the two differ (tokens such as "-" are no word), so the equality is
//!   the data's, not the test's.
//! * A word-list factor (plain and stemmed) against counts made by hand.
//! * Hostile packs (bad regex, a compiled-size blow-up, a 1 MB pattern, an
//!   id clash, markup in a name, a typo) are located errors, exit code 1.
//! * The report records the pack: scoring again with the pack taken from
//!   the report reproduces the scores; the widget's report check accepts it
//!   and refuses a tampered pack with its path; a pattern a report carries
//!   is compiled (with its located error) when the pack is registered.

mod common;

use common::*;
use serde_json::{json, Value};

fn summeval() -> String {
    format!(
        "{}/../shared/data/summeval/summeval.jsonl",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// METHOD.md §5's deletion: every character that is neither a word
/// character nor whitespace.
fn strip(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric() || *c == '_' || c.is_whitespace())
        .collect()
}

fn score_json(args: &[&str]) -> Value {
    let (rc, out, err) = run_cli(args);
    assert_eq!(rc, 0, "profile {args:?}: {err}");
    serde_json::from_str(&out).expect("a JSON report")
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

const TOKENS_PACK: &str = r#"{"version": 1, "factors": [
  {"id": "tokens_re", "name": "tokens (regex)", "kind": "regex_count", "pattern": "\\S+",
   "description": "whitespace-separated tokens"}]}"#;

#[test]
fn a_regex_factor_equal_to_length_scores_identically() {
    let path = summeval();
    let Ok(text) = std::fs::read_to_string(&path) else {
        panic!("SummEval is needed at {path} (see tests/README or shared/data)");
    };
    let dir = tempdir("pack-length");
    let mut stripped = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut v: Value = serde_json::from_str(line).unwrap();
        for field in ["summary", "article"] {
            if let Some(Value::String(s)) = v.get_mut(field) {
                *s = strip(s);
            }
        }
        stripped.push_str(&v.to_string());
        stripped.push('\n');
    }
    let data = write(&dir, "summeval_nopunct.jsonl", &stripped);
    let pack = write(&dir, "pack.json", TOKENS_PACK);
    let args = |data: &str| -> Value {
        score_json(&[
            "score",
            data,
            "--factor-pack",
            &pack,
            "--factors",
            "length,tokens_re",
            "--bootstrap",
            "200",
            "--seed",
            "7",
            "--json",
        ])
    };
    let r = args(&data);
    let scores = &r["agents"][0]["factor_scores"];
    let (length, tokens) = (&scores["length"], &scores["tokens_re"]);
    assert!(length["concordant"].as_u64().unwrap() > 1000, "{length}");
    assert_eq!(length, tokens, "every count, the score and its interval");
    // On the original text, tokens of punctuation only are no word: the
    // two factors differ, so the equality above is not a tautology.
    let orig = args(&path);
    let scores = &orig["agents"][0]["factor_scores"];
    assert_ne!(scores["length"], scores["tokens_re"]);
    // The custom factor is marked as such; the built-in one is not.
    let meta: Vec<(&str, bool)> = r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap(),
                m["custom"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(meta, [("length", false), ("tokens_re", true)]);
}

#[test]
fn a_word_list_factor_matches_a_hand_count() {
    let dir = tempdir("pack-words");
    // hedges (plain: maybe, perhaps) and runs (stemmed: run).
    //   pair 1: a "Maybe it rains, perhaps not." = 2 hedges, runs 0
    //           b "It rains." = 0, runs 0                     → prefer a
    //   pair 2: a "Running and runs." = 0 hedges, runs 2
    //           b "maybe MAYBE maybes" = 2 ("maybes" is not "maybe"), runs 0 → prefer a
    //   pair 3: a "I ran." = 0, runs 0 ("ran" does not stem to "run")
    //           b "perhaps we run" = 1, runs 1                → prefer a
    //   pair 4: a "no hedge" = 0, runs 0; b "nothing" = 0, runs 0 → prefer b
    // hedges: pair 1 a>b, preferred a: C; pair 2 a<b, preferred a: D;
    //         pair 3 a<b, preferred a: D; pair 4 tie: dropped.
    // runs:   pair 1 tie: dropped; pair 2 a>b, a: C; pair 3 a<b, a: D; pair 4 dropped.
    let data = write(
        &dir,
        "pairs.jsonl",
        r#"{"input": "q1", "response_a": "Maybe it rains, perhaps not.", "response_b": "It rains.", "preference": "a"}
{"input": "q2", "response_a": "Running and runs.", "response_b": "maybe MAYBE maybes", "preference": "a"}
{"input": "q3", "response_a": "I ran.", "response_b": "perhaps we run", "preference": "a"}
{"input": "q4", "response_a": "no hedge", "response_b": "nothing", "preference": "b"}
"#,
    );
    let pack = write(
        &dir,
        "pack.json",
        r#"{"factors": [
  {"id": "hedges", "name": "hedges", "kind": "word_list_count", "words": ["maybe", "perhaps"]},
  {"id": "runs", "name": "runs", "kind": "word_list_count", "words": ["run"], "stem": true}]}"#,
    );
    let r = score_json(&[
        "score",
        &data,
        "--factor-pack",
        &pack,
        "--factors",
        "hedges,runs",
        "--bootstrap",
        "0",
        "--json",
    ]);
    let s = &r["agents"][0]["factor_scores"];
    let counts = |id: &str| {
        let e = &s[id];
        [
            &e["concordant"],
            &e["discordant"],
            &e["ties"],
            &e["dropped"],
        ]
        .map(|v| v.as_u64().unwrap())
    };
    assert_eq!(counts("hedges"), [1, 2, 0, 1]);
    assert_eq!(counts("runs"), [1, 1, 0, 2]);
    assert!((s["hedges"]["score"].as_f64().unwrap() - (1.0 - 2.0) / 3.0).abs() < 1e-12);
}

#[test]
fn hostile_packs_are_located_errors() {
    let dir = tempdir("pack-hostile");
    let data = format!(
        "{}/tests/fixtures/profile.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = if std::path::Path::new(&data).exists() {
        data
    } else {
        write(
            &dir,
            "pairs.jsonl",
            "{\"input\": \"q\", \"response_a\": \"a b\", \"response_b\": \"c\", \"preference\": \"a\"}\n",
        )
    };
    let big = "a".repeat(1 << 20);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad regex",
            json!({"factors": [{"id": "ok1", "name": "ok", "kind": "regex_count", "pattern": "x"},
                               {"id": "bad", "name": "bad", "kind": "regex_count", "pattern": "(a|b"}]})
            .to_string(),
            "factor 1 (`bad`), field `pattern`: not a usable regex",
        ),
        (
            "compiled-size blow-up",
            json!({"factors": [{"id": "boom", "name": "boom", "kind": "regex_count", "pattern": "((a{100}){100}){100}"}]})
                .to_string(),
            "factor 0 (`boom`), field `pattern`: not a usable regex",
        ),
        (
            "1 MB pattern",
            json!({"factors": [{"id": "big", "name": "big", "kind": "regex_count", "pattern": big}]})
                .to_string(),
            "factor 0 (`big`), field `pattern`: 1048576 bytes, at most 1024",
        ),
        (
            "id clash",
            json!({"factors": [{"id": "novel_words", "name": "n", "kind": "regex_count", "pattern": "x"}]})
                .to_string(),
            "factor 0 (`novel_words`), field `id`: `novel_words` is a built-in factor's id",
        ),
        (
            "markup in a name",
            json!({"factors": [{"id": "xss", "name": "<script>alert(1)</script>", "kind": "regex_count", "pattern": "x"}]})
                .to_string(),
            "factor 0 (`xss`), field `name`: contains `<` or `>`: markup is not allowed",
        ),
        (
            "a typo",
            json!({"factors": [{"id": "typo", "name": "t", "kind": "regex_count", "patern": "x"}]})
                .to_string(),
            "factor 0 (`typo`), field `patern`: unknown field",
        ),
        ("not JSON", "{\"factors\": [".into(), "not JSON (line 1, column"),
    ];
    for (what, pack, expected) in cases {
        let p = write(&dir, "pack.json", &pack);
        let (rc, out, err) = run_cli(&["score", &data, "--factor-pack", &p, "--bootstrap", "0"]);
        assert_eq!(rc, 1, "{what}: {err}");
        assert!(out.is_empty(), "{what}: nothing on stdout");
        assert!(
            err.contains(&format!("{p}: {expected}")),
            "{what}: expected `{expected}` in:\n{err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    // A custom id without its pack: a usage error that says where they come from.
    let (rc, _, err) = run_cli(&["score", &data, "--factors", "length,words_re"]);
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("unknown factor `words_re` (custom factors come from --factor-pack FILE)"),
        "{err}"
    );
}

#[test]
fn the_report_records_the_pack_and_reproduces() {
    let dir = tempdir("pack-report");
    let example = format!("{}/www/example/pack.json", env!("CARGO_MANIFEST_DIR"));
    let path = summeval();
    let out = dir.join("report.json").to_string_lossy().into_owned();
    let first = score_json(&[
        "score",
        &path,
        "--factor-pack",
        &example,
        "--sample",
        "20",
        "--bootstrap",
        "100",
        "--json",
        "--out",
        &out,
    ]);
    // Without --factors: the preset's and the pack's factors.
    let ids: Vec<&str> = first["config"]["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        ids.ends_with(&["words_re", "hedges", "numbers_per_word"]),
        "{ids:?}"
    );
    assert!(ids.contains(&"length"));
    let recorded = &first["config"]["factor_pack"];
    let given: Value = serde_json::from_str(&std::fs::read_to_string(&example).unwrap()).unwrap();
    assert_eq!(recorded["factors"], given["factors"], "the pack as given");
    // From the report alone: its pack and its factor list.
    let pack = write(&dir, "from_report.json", &recorded.to_string());
    let again = score_json(&[
        "score",
        &path,
        "--factor-pack",
        &pack,
        "--factors",
        &ids.join(","),
        "--sample",
        "20",
        "--bootstrap",
        "100",
        "--json",
    ]);
    assert_eq!(
        again["agents"][0]["factor_scores"], first["agents"][0]["factor_scores"],
        "the same scores"
    );
    // The widget's check reads the report, and refuses a tampered pack
    // (without compiling patterns: the widget carries no regex engine).
    let text = std::fs::read_to_string(&out).unwrap();
    let report = profile::embed::check::check_report(&text).expect("a valid report");
    assert_eq!(
        report.config.factor_pack.as_ref().map(|p| p.factors.len()),
        Some(3)
    );
    let mut bad: Value = serde_json::from_str(&text).unwrap();
    bad["config"]["factor_pack"]["factors"][0]["name"] = json!("<b>x</b>");
    let e = profile::embed::check::check_report(&bad.to_string()).expect_err("refused");
    let shown: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|p| p.starts_with("config.factor_pack: factor 0 (`words_re`), field `name`")),
        "{shown:?}"
    );
    // A pattern that does not compile passes the widget's check, but not
    // registration, which names its place.
    let mut bad: Value = serde_json::from_str(&text).unwrap();
    let hedges = bad["config"]["factor_pack"]["factors"][1]
        .as_object_mut()
        .unwrap();
    hedges.insert("kind".into(), json!("regex_count"));
    hedges.insert("pattern".into(), json!("("));
    hedges.remove("words");
    hedges.remove("stem");
    let report = profile::embed::check::check_report(&bad.to_string()).expect("its shape is fine");
    let e =
        profile::factors::pack::register(report.config.factor_pack.as_ref().unwrap()).unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(
        e[0].to_string()
            .starts_with("factor 1 (`hedges`), field `pattern`: not a usable regex"),
        "{}",
        e[0]
    );
}

/// `--into` refuses to merge reports whose custom factors share ids but
/// not definitions.
#[test]
fn reports_with_different_packs_do_not_merge() {
    let dir = tempdir("pack-merge");
    let data = format!(
        "{}/tests/fixtures/profile.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let report = |pattern: &str| -> profile::report::Report {
        let pack = write(
            &dir,
            "pack.json",
            &json!({"factors": [{"id": "m_tokens", "name": "t", "kind": "regex_count", "pattern": pattern}]})
                .to_string(),
        );
        let v = score_json(&[
            "score",
            &data,
            "--factor-pack",
            &pack,
            "--factors",
            "length,m_tokens",
            "--bootstrap",
            "0",
            "--json",
        ]);
        serde_json::from_value(v).unwrap()
    };
    let (a, b) = (report("\\S+"), report("[a-z]+"));
    assert_eq!(a.config.factors, b.config.factors);
    assert!(profile::agents::compatible(&a, &a).is_ok());
    let e = profile::agents::compatible(&a, &b).unwrap_err();
    assert!(e.contains("config.factor_pack"), "{e}");
}

#[test]
fn factors_lists_a_packs_factors_as_custom() {
    let pack = format!("{}/www/example/pack.json", env!("CARGO_MANIFEST_DIR"));
    let (rc, out, err) = run_cli(&["factors", "--factor-pack", &pack]);
    assert_eq!(rc, 0, "{err}");
    // The built-in taxonomy is still listed, then the pack's factors with
    // their kind and what their value is.
    assert!(out.contains("length"), "{out}");
    let custom = out
        .split_once("custom factors")
        .unwrap_or_else(|| panic!("no custom section in:\n{out}"))
        .1;
    for (id, kind, value) in [
        ("words_re", "regex_count", "number of matches of /\\w+/"),
        (
            "hedges",
            "word_list_count",
            "number of words in a list of 9 (stemmed)",
        ),
        ("numbers_per_word", "regex_share", "per word"),
    ] {
        let line = custom
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("{id} not listed in:\n{custom}"));
        assert!(line.contains(kind) && line.contains(value), "{line}");
    }
    // Without a pack, no custom section; a bad pack is a located error.
    let (rc, out, _) = run_cli(&["factors"]);
    assert_eq!(rc, 0);
    assert!(!out.contains("custom factors"), "{out}");
    let dir = tempdir("pack-factors");
    let bad = write(
        &dir,
        "bad.json",
        r#"{"factors": [{"id": "b", "name": "b", "kind": "regex_count", "pattern": "(x"}]}"#,
    );
    let (rc, out, err) = run_cli(&["factors", "--factor-pack", &bad]);
    assert_eq!((rc, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("bad.json") && err.contains("pattern"), "{err}");
    // Any other option is a usage error.
    let (rc, _, err) = run_cli(&["factors", "--task", "helpful"]);
    assert_eq!(rc, 2, "{err}");
}
