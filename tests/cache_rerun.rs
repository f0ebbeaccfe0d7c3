//! A re-run served from the cache (issue 12.9): a stage whose every answer
//! came from the cache, or was stored by an earlier run, is answered from
//! the stage memo in the cache directory without planning its keys or
//! reading `cache.jsonl`. These tests hold it to the full path:
//!
//! - the report of a memo re-run is byte-identical to the report of a
//!   re-run that reads every answer from `cache.jsonl` (memo removed), and
//!   neither makes a call;
//! - a cache file corrupted or truncated after the memo was written is read
//!   in full again: its bad lines are warned about with their line numbers,
//!   their questions asked again, and the report is the same (never a panic);
//! - a corrupted or truncated memo file is ignored (no call, same report);
//! - a factor extraction re-run is answered by its run memo before it
//!   plans: with its stage memo gone and every line of `cache.jsonl`
//!   unreadable (the file's size and time kept, so the memos are trusted),
//!   it prints and reports what the stage memo's re-run does, with no call;
//!   a run memo of an older format, or damaged, falls back to that path;
//! - so is a judge re-run, by the judge's run memo (its verdicts).

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::MockServer as Mock;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www/example/example.jsonl");

struct Rerun {
    mock: Mock,
    dir: std::path::PathBuf,
}

impl Rerun {
    fn new(name: &str) -> Rerun {
        Rerun {
            mock: Mock::start(),
            dir: common::tempdir(name),
        }
    }

    fn cache_file(&self) -> std::path::PathBuf {
        self.dir.join("cache.jsonl")
    }

    fn memo_dir(&self) -> std::path::PathBuf {
        self.dir.join("memo")
    }

    /// `profile COMMAND example.jsonl` with the mock and this cache:
    /// (stdout, stderr); a failed run fails the test.
    fn run(&self, command: &str) -> (String, String) {
        let base = self.mock.url("/v1");
        let dir = self.dir.to_string_lossy().into_owned();
        let (code, out, err) = common::run_cli(&[
            command,
            EXAMPLE,
            "--provider",
            "openai-compatible",
            "--model",
            "local",
            "--base-url",
            &base,
            "--cache-dir",
            &dir,
            "--limit",
            "12",
            "--bootstrap",
            "50",
            "--json",
        ]);
        assert_eq!(code, 0, "{command}: {err}");
        (out, err)
    }

    fn calls(&self) -> u64 {
        self.mock.total()
    }

    /// The memo files whose first bytes are `magic` (`PRMEMO`: extraction
    /// run memos; `PJMEMO`: judge run memos; `PMEMO`: stage memos).
    fn memos(&self, magic: &[u8]) -> Vec<std::path::PathBuf> {
        let mut files = self.memo_files();
        files.retain(|f| std::fs::read(f).is_ok_and(|b| b.starts_with(magic)));
        files
    }

    fn memo_files(&self) -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(self.memo_dir())
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "bin"));
        files.sort();
        files
    }
}

/// The report without its run records (a cold run's `calls` are a re-run's
/// `cache_hits`).
fn results(report: &str) -> serde_json::Value {
    let mut r: serde_json::Value = serde_json::from_str(report).expect("a JSON report");
    r.as_object_mut().expect("an object").remove("llm");
    for a in r["agents"].as_array_mut().expect("agents") {
        a.as_object_mut().expect("an agent").remove("run");
    }
    r
}

#[test]
fn a_memo_rerun_gives_the_bytes_of_a_full_cached_rerun_and_makes_no_call() {
    let t = Rerun::new("rerun-bytes");
    for command in ["score", "judge"] {
        let memos = t.memo_files().len();
        let (cold, _) = t.run(command);
        let calls = t.calls();
        assert!(calls > 0, "{command}: the cold run asks the model");
        assert!(
            t.memo_files().len() > memos,
            "{command}: the run leaves a stage memo"
        );
        let (memo, err) = t.run(command);
        assert_eq!(t.calls(), calls, "{command}: a memo re-run makes no call");
        assert!(!err.contains("warning"), "{err}");
        // The same re-run with the memo gone reads every answer from cache.jsonl.
        std::fs::remove_dir_all(t.memo_dir()).expect("remove the memo");
        let (full, _) = t.run(command);
        assert_eq!(t.calls(), calls, "{command}: a cached re-run makes no call");
        assert_eq!(memo, full, "{command}: memo and full re-run reports differ");
        assert_eq!(results(&cold), results(&memo), "{command}: cold vs re-run");
        let (again, _) = t.run(command);
        assert_eq!(
            again, full,
            "{command}: the memo written again answers the same"
        );
    }
}

#[test]
fn a_cache_corrupted_after_the_memo_warns_with_lines_and_asks_again() {
    let t = Rerun::new("rerun-corrupt");
    let (cold, _) = t.run("score");
    let (rerun, _) = t.run("score");
    let calls = t.calls();
    // Garble the second line (same length) and cut the last one in half.
    let text = std::fs::read_to_string(t.cache_file()).expect("the cache file");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 3, "{} cache lines", lines.len());
    let garbled = "#".repeat(lines[1].len());
    let last = lines[lines.len() - 1];
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out[1] = garbled;
    let n = out.len();
    out[n - 1] = last[..last.len() / 2].to_owned();
    std::fs::write(t.cache_file(), out.join("\n")).expect("write the corrupted cache");
    let (report, err) = t.run("score");
    assert!(
        err.contains("unreadable lines in")
            && err.contains("line 2")
            && err.contains(&format!("line {n}")),
        "a located warning for both lines: {err}"
    );
    assert!(
        t.calls() > calls,
        "the questions of the bad lines are asked again"
    );
    assert_eq!(results(&report), results(&cold));
    // The answers asked again are stored: the next run is a re-run again.
    let calls = t.calls();
    let (again, _) = t.run("score");
    assert_eq!(t.calls(), calls);
    assert_eq!(results(&again), results(&rerun));
}

#[test]
fn a_truncated_cache_after_the_memo_is_read_again() {
    let t = Rerun::new("rerun-truncated");
    let (cold, _) = t.run("judge");
    let calls = t.calls();
    let len = std::fs::metadata(t.cache_file()).expect("cache").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(t.cache_file())
        .expect("open the cache");
    f.set_len(len / 2).expect("truncate");
    drop(f);
    let (report, err) = t.run("judge");
    assert!(
        err.contains("unreadable lines in"),
        "the torn line is located: {err}"
    );
    assert!(t.calls() > calls, "the lost answers are asked again");
    assert_eq!(results(&report), results(&cold));
}

#[test]
fn a_corrupted_memo_is_ignored() {
    let t = Rerun::new("rerun-memo");
    t.run("score");
    let (rerun, _) = t.run("score");
    let calls = t.calls();
    let files = t.memo_files();
    assert!(!files.is_empty());
    for (i, f) in files.iter().enumerate() {
        let bytes = std::fs::read(f).expect("memo");
        let bad = match i % 3 {
            0 => bytes[..bytes.len() / 2].to_vec(),
            1 => bytes.iter().map(|b| b ^ 0x5A).collect(),
            _ => Vec::new(),
        };
        std::fs::write(f, bad).expect("corrupt the memo");
    }
    let (report, err) = t.run("score");
    assert_eq!(t.calls(), calls, "no call: the answers are in cache.jsonl");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(report, rerun);
    // Files in the memo folder that are not memos do no harm either.
    std::fs::write(t.memo_dir().join("stamp"), b"nonsense").expect("stamp");
    let (report, _) = t.run("score");
    assert_eq!(t.calls(), calls);
    assert_eq!(report, rerun);
}

#[test]
fn an_extraction_rerun_is_answered_by_its_run_memo_before_it_plans() {
    answered_by_its_run_memo_before_it_plans("score", b"PRMEMO", "factors");
}

#[test]
fn a_judge_rerun_is_answered_by_its_run_memo_before_it_plans() {
    answered_by_its_run_memo_before_it_plans("judge", b"PJMEMO", "judge");
}

/// `profile COMMAND`'s re-run is answered by its run memo (first bytes
/// `magic`) before it plans, printing what a stage memo's re-run prints
/// (`what estimate:` among it).
fn answered_by_its_run_memo_before_it_plans(command: &str, magic: &[u8], what: &str) {
    let t = Rerun::new(&format!("rerun-plan-free-{command}"));
    let (cold, _) = t.run(command);
    let calls = t.calls();
    let run_memos = t.memos(magic);
    assert_eq!(run_memos.len(), 1, "the run leaves one run memo");
    assert!(!t.memos(b"PMEMO").is_empty(), "and its stage memo");
    // Without the run memo: the stage memo answers (and the run memo is
    // written again).
    std::fs::remove_file(&run_memos[0]).expect("remove the run memo");
    let (staged, staged_err) = t.run(command);
    assert_eq!(t.calls(), calls);
    assert_eq!(t.memos(magic), run_memos, "written again");
    // With it: the same report and the same lines.
    let (memo, memo_err) = t.run(command);
    assert_eq!(t.calls(), calls);
    assert_eq!(memo, staged);
    assert_eq!(memo_err, staged_err);
    assert!(
        memo_err.contains(&format!("{what} estimate:")),
        "{memo_err}"
    );
    assert_eq!(results(&cold), results(&memo));
    // The run memo alone answers: no stage memo, and every line of the
    // cache file unreadable, its size and time kept (the memos are
    // trusted). Any key, lookup or plan stage would warn and ask again.
    for f in t.memos(b"PMEMO") {
        std::fs::remove_file(f).expect("remove a stage memo");
    }
    let file = t.cache_file();
    let modified = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .expect("mtime");
    let text = std::fs::read_to_string(&file).expect("the cache file");
    let garbled: String = text
        .split_inclusive('\n')
        .map(|l| {
            let line = l.trim_end_matches('\n');
            "#".repeat(line.len()) + &l[line.len()..]
        })
        .collect();
    assert_eq!(garbled.len(), text.len());
    std::fs::write(&file, garbled).expect("garble the cache");
    std::fs::File::options()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_modified(modified))
        .expect("keep the file's time");
    let (planfree, err) = t.run(command);
    assert_eq!(t.calls(), calls, "no call");
    assert!(
        !err.contains("warning") && !err.contains("unreadable"),
        "{err}"
    );
    assert_eq!(planfree, staged, "the same report");
    assert_eq!(err, staged_err, "the same lines");
}

#[test]
fn a_run_memo_of_an_older_format_or_damaged_falls_back() {
    older_or_damaged_falls_back("score", b"PRMEMO");
}

#[test]
fn a_judge_run_memo_of_an_older_format_or_damaged_falls_back() {
    older_or_damaged_falls_back("judge", b"PJMEMO");
}

/// `profile COMMAND`'s run memo (first bytes `magic`) of an older format,
/// damaged, or of another kind is a miss: the re-run is the stage memo's,
/// with the same report, and writes the run memo again.
fn older_or_damaged_falls_back(command: &str, magic: &[u8]) {
    let t = Rerun::new(&format!("rerun-old-run-memo-{command}"));
    t.run(command);
    let (rerun, rerun_err) = t.run(command);
    let calls = t.calls();
    let file = t.memos(magic).pop().expect("a run memo");
    let good = std::fs::read(&file).expect("the run memo");
    let older = |b: &[u8]| {
        let mut b = b.to_vec();
        b[6] = 0; // the format's version
        b
    };
    let wrong_sum = |b: &[u8]| {
        let mut b = b.to_vec();
        b[9] ^= 0xFF;
        b
    };
    let flipped = |b: &[u8]| {
        let mut b = b.to_vec();
        let n = b.len() - 3;
        b[n] ^= 0x10;
        b
    };
    let truncated = |b: &[u8]| b[..b.len() - 5].to_vec();
    let stage = std::fs::read(t.memos(b"PMEMO").pop().expect("a stage memo")).expect("read");
    // The other kind of run memo (an extraction's for a judge's and back),
    // when the command left one.
    let other: &[u8] = if magic == b"PRMEMO" {
        b"PJMEMO"
    } else {
        b"PRMEMO"
    };
    let foreign = t
        .memos(other)
        .pop()
        .map_or_else(Vec::new, |f| std::fs::read(f).expect("read"));
    let damaged: [Vec<u8>; 7] = [
        older(&good),
        wrong_sum(&good),
        flipped(&good),
        truncated(&good),
        stage,
        foreign,
        Vec::new(),
    ];
    for (i, bad) in damaged.into_iter().enumerate() {
        std::fs::write(&file, &bad).expect("replace the run memo");
        let (report, err) = t.run(command);
        assert_eq!(t.calls(), calls, "{i}: no call");
        assert!(!err.contains("panicked"), "{i}: {err}");
        assert_eq!(report, rerun, "{i}: the same report");
        assert_eq!(err, rerun_err, "{i}: the same lines");
        assert_eq!(
            std::fs::read(&file).expect("read"),
            good,
            "{i}: written again"
        );
    }
}
