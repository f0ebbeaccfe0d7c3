//! Hostile servers, flags, caches and signals against the `profile` CLI's
//! model runs (issue 10): every case must end with a clear message and the
//! right exit code, never a crash, a hang, silent loss of a paid answer or a
//! repeated paid call. The model is the project's mock server
//! (tests/mock_llm); `PROFILE_BIN` runs the cases against another build of
//! `profile` (to measure an older one).

#![cfg(all(unix, not(target_arch = "wasm32")))]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::MockServer as Mock;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www/example/example.jsonl");

fn bin() -> String {
    std::env::var("PROFILE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_profile").to_owned())
}

use common::tempdir;

fn post(mock: &Mock, path: &str, body: &str) {
    ureq::post(&mock.url(path))
        .set("content-type", "application/json")
        .send_string(body)
        .expect("mock control call");
}

fn faults(mock: &Mock, plan: Value) {
    post(mock, "/__reset", "{}");
    post(mock, "/__faults", &plan.to_string());
}

/// `profile score EXAMPLE` with the mock as model, n_facts only (one stage),
/// on the first `limit` pairs, one call at a time; `extra` flags appended.
fn score_cmd(mock: &Mock, cache: &Path, limit: u32, extra: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(["score", EXAMPLE, "--provider", "openai-compatible"])
        .args(["--model", "m", "--factors", "n_facts", "--bootstrap", "0"])
        .args([
            "--limit",
            &limit.to_string(),
            "--json",
            "--concurrency",
            "1",
        ])
        .args(["--base-url", &mock.url("/v1")])
        .args(["--cache-dir", cache.to_str().unwrap()])
        .args(extra)
        .env("PROFILE_API_KEY", "sk-test");
    c
}

/// Waits for `child` at most `limit`; kills it past that (`None`).
fn wait_for(mut child: Child, limit: Duration) -> Option<Output> {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(mut c: Command, limit: Duration) -> Output {
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(child, limit).unwrap_or_else(|| panic!("still running after {limit:?}: {c:?}"))
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn report(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr: {}", err(o)))
}

fn code(o: &Output) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (o.status.code(), o.status.signal()) {
        (Some(c), _) => format!("rc {c}"),
        (None, s) => format!("signal {s:?}"),
    }
}

fn cache_lines(dir: &Path) -> usize {
    std::fs::read(dir.join("cache.jsonl"))
        .map(|b| b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count())
        .unwrap_or(0)
}

/// A `Retry-After` of 301 digits (1e300 s) neither crashes the run nor
/// loses the answers already returned: the item fails with the wait named.
#[test]
fn retry_after_of_300_digits_fails_the_item_and_keeps_the_rest() {
    let mock = Mock::start();
    let dir = tempdir("ra-digits");
    let digits = format!("1{}", "0".repeat(300));
    faults(
        &mock,
        serde_json::json!({"sequence": ["ok", "429"], "retry_after": digits}),
    );
    let o = run(score_cmd(&mock, &dir, 4, &[]), Duration::from_secs(60));
    assert_eq!(code(&o), "rc 0", "{}", err(&o));
    let r = report(&o);
    let f = &r["llm"]["failures"][0];
    assert!(
        f["reason"].as_str().unwrap().contains("600 s"),
        "the reason names the wait limit: {f}"
    );
    assert!(r["llm"]["failed"].as_u64().unwrap() == 1, "{}", r["llm"]);
    assert!(cache_lines(&dir) >= 2, "the answers returned are kept");
}

/// `Retry-After: 1000000` (11 days) fails the item at once and says so,
/// instead of sleeping.
#[test]
fn retry_after_of_eleven_days_is_not_slept() {
    let mock = Mock::start();
    let dir = tempdir("ra-days");
    faults(
        &mock,
        serde_json::json!({"sequence": ["429"], "retry_after": "1000000"}),
    );
    let o = run(score_cmd(&mock, &dir, 2, &[]), Duration::from_secs(30));
    assert_eq!(code(&o), "rc 0", "{}", err(&o));
    let r = report(&o);
    let reason = r["llm"]["failures"][0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("1000000 s") && reason.contains("600 s"),
        "{reason}"
    );
    assert_eq!(mock.stats()["total"], r["llm"]["calls"]);
}

/// Out-of-range or non-numeric pacing, timeout, attempts and prices are
/// usage errors naming the flag, checked before anything is sent.
#[test]
fn bad_numbers_are_usage_errors() {
    let mock = Mock::start();
    let dir = tempdir("flags");
    for (flag, value) in [
        ("--timeout", "-1"),
        ("--timeout", "NaN"),
        ("--timeout", "inf"),
        ("--timeout", "1e300"),
        ("--timeout", "0"),
        ("--rpm", "0"),
        ("--rpm", "-5"),
        ("--tpm", "0"),
        ("--concurrency", "100000000"),
        ("--concurrency", "0"),
        ("--attempts", "0"),
        ("--attempts", "1000"),
        ("--price-in", "NaN"),
        ("--price-in", "-1"),
    ] {
        let mut c = score_cmd(&mock, &dir, 2, &[flag, value]);
        if flag == "--price-in" {
            c.args(["--price-out", "1"]);
        }
        let o = run(c, Duration::from_secs(20));
        assert_eq!(code(&o), "rc 2", "{flag} {value}: {}", err(&o));
        assert!(
            err(&o).contains(flag),
            "{flag} {value}: the flag is named: {}",
            err(&o)
        );
    }
    assert_eq!(mock.stats()["total"], 0, "nothing was sent");
}

/// An argument that is not UTF-8 is a usage error, not an abort.
#[test]
fn non_utf8_argument_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let o = Command::new(bin())
        .arg("score")
        .arg(std::ffi::OsStr::from_bytes(b"data\xff.jsonl"))
        .output()
        .unwrap();
    assert_eq!(code(&o), "rc 2", "{}", err(&o));
    assert!(err(&o).contains("UTF-8"), "{}", err(&o));
}

/// One invalid UTF-8 byte and one bad JSON line in the cache cost exactly
/// those lines: the rest still answers, the bad lines are reported with
/// their numbers, and `cache export` still prints the good entries.
#[test]
fn bad_cache_lines_are_skipped_and_reported() {
    let mock = Mock::start();
    let dir = tempdir("bad-lines");
    let first = run(score_cmd(&mock, &dir, 6, &[]), Duration::from_secs(60));
    assert_eq!(code(&first), "rc 0", "{}", err(&first));
    let n = cache_lines(&dir);
    assert!(n >= 4, "{n}");
    let text = std::fs::read(dir.join("cache.jsonl")).unwrap();
    let mut lines: Vec<Vec<u8>> = text.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
    lines[1].insert(10, 0xff);
    lines[2] = b"{not json".to_vec();
    std::fs::write(dir.join("cache.jsonl"), lines.join(&b'\n')).unwrap();
    post(&mock, "/__reset", "{}");
    let second = run(score_cmd(&mock, &dir, 6, &[]), Duration::from_secs(60));
    assert_eq!(code(&second), "rc 0", "{}", err(&second));
    assert_eq!(
        report(&second)["llm"]["calls"],
        2,
        "only the two bad lines are asked again"
    );
    let e = err(&second);
    assert!(e.contains("line 2") && e.contains("line 3"), "{e}");
    let export = Command::new(bin())
        .args(["cache", "export", "--cache-dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&export), "rc 0", "{}", err(&export));
    assert_eq!(
        String::from_utf8(export.stdout).unwrap().lines().count(),
        n,
        "the good entries and the two re-asked ones"
    );
}

/// After a torn last line (a crash mid-write), the next answer starts a new
/// line instead of being glued onto it and lost.
#[test]
fn a_torn_last_line_does_not_swallow_the_next_answer() {
    let mock = Mock::start();
    let dir = tempdir("torn");
    assert_eq!(
        code(&run(
            score_cmd(&mock, &dir, 4, &[]),
            Duration::from_secs(60)
        )),
        "rc 0"
    );
    let path = dir.join("cache.jsonl");
    let text = std::fs::read(&path).unwrap();
    std::fs::write(&path, &text[..text.len() - 20]).unwrap();
    let again = run(score_cmd(&mock, &dir, 4, &[]), Duration::from_secs(60));
    assert_eq!(code(&again), "rc 0", "{}", err(&again));
    assert_eq!(report(&again)["llm"]["calls"], 1);
    let third = run(score_cmd(&mock, &dir, 4, &[]), Duration::from_secs(60));
    assert_eq!(
        report(&third)["llm"]["calls"],
        0,
        "the re-asked answer was kept"
    );
}

/// A cache that cannot be written (here: a file-size limit, as on a full
/// disk) stops the run with rc 1 and says what was not stored; what the run
/// says it kept is what a re-run finds.
#[test]
fn a_cache_write_failure_stops_the_run_and_says_what_was_lost() {
    let mock = Mock::start();
    let dir = tempdir("full");
    // Ignored signals stay ignored across exec: EFBIG instead of SIGXFSZ.
    let script = "trap '' XFSZ; ulimit -f 4; exec \"$0\" \"$@\"";
    let inner = score_cmd(&mock, &dir, 12, &[]);
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(script)
        .arg(inner.get_program())
        .args(inner.get_args())
        .env("PROFILE_API_KEY", "sk-test");
    let o = run(c, Duration::from_secs(60));
    assert_eq!(code(&o), "rc 1", "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("not stored"), "{e}");
    let calls = mock.stats()["ok"].as_u64().unwrap();
    // The run stops at the first failed write: at most the calls in flight
    // after it (one at a time here) are paid and lost.
    let kept = cache_lines(&dir) as u64;
    assert!(calls <= kept + 1, "{calls} calls, {kept} kept: {e}");
}

/// A reply over the 10 MiB cap fails its item once (no paid retries), with
/// the reason and the reply's head.
#[test]
fn an_oversized_reply_fails_once() {
    let mock = Mock::start();
    let dir = tempdir("huge");
    faults(&mock, serde_json::json!({"sequence": ["huge"]}));
    let o = run(score_cmd(&mock, &dir, 2, &[]), Duration::from_secs(60));
    assert_eq!(code(&o), "rc 0", "{}", err(&o));
    assert_eq!(mock.stats()["faulted"]["huge"], 1, "asked once");
    let r = report(&o);
    let f = &r["llm"]["failures"][0];
    assert!(f["reason"].as_str().unwrap().contains("10 MiB"), "{f}");
    assert!(f["raw_reply"].as_str().unwrap().contains("HUGE"), "{f}");
    assert_eq!(f["attempts"], 1);
}

/// A rejected key stops the run after the first answer (rc 1); a run where
/// every call failed is rc 1 too.
#[test]
fn a_bad_key_stops_the_run_and_nothing_usable_is_rc_1() {
    let mock = Mock::start();
    let dir = tempdir("auth");
    faults(&mock, serde_json::json!({"rate": 1.0, "kinds": ["401"]}));
    let o = run(score_cmd(&mock, &dir, 12, &[]), Duration::from_secs(60));
    assert_eq!(code(&o), "rc 1", "{}", err(&o));
    assert_eq!(
        mock.stats()["total"],
        1,
        "one answer is enough: {}",
        err(&o)
    );
    assert!(err(&o).contains("HTTP 401"), "{}", err(&o));
    faults(&mock, serde_json::json!({"rate": 1.0, "kinds": ["500"]}));
    let o = run(
        score_cmd(&mock, &dir, 2, &["--attempts", "1"]),
        Duration::from_secs(60),
    );
    assert_eq!(code(&o), "rc 1", "{}", err(&o));
    assert!(err(&o).contains("HTTP 500"), "{}", err(&o));
}

/// A failure names the pair (line and id), the text's first words and the
/// template, not internal ids.
#[test]
fn failures_name_the_pair_text_and_template() {
    let mock = Mock::start();
    let dir = tempdir("names");
    faults(&mock, serde_json::json!({"sequence": ["400"]}));
    let o = run(score_cmd(&mock, &dir, 2, &[]), Duration::from_secs(60));
    assert_eq!(code(&o), "rc 0", "{}", err(&o));
    let f = report(&o)["llm"]["failures"][0].clone();
    let q = f["question"].as_str().unwrap();
    assert!(!q.contains("TextId"), "{f}");
    assert!(q.contains("line 1"), "the pair's line: {f}");
    assert!(q.contains('“'), "the text's first words, quoted: {f}");
    assert_eq!(f["template"], "atomic_facts@1");
}

/// Ctrl-C stops sending, stores the calls in flight and exits 130; a second
/// Ctrl-C exits at once.
#[test]
fn ctrl_c_stores_the_calls_in_flight() {
    let mock = Mock::start();
    let dir = tempdir("sigint");
    // Every reply takes 2 s.
    faults(
        &mock,
        serde_json::json!({"rate": 1.0, "kinds": ["timeout"], "timeout_s": 2}),
    );
    let child = score_cmd(&mock, &dir, 24, &["--concurrency", "2", "--timeout", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_requests(&mock, 2);
    send_signal(child.id(), "INT");
    let o = wait_for(child, Duration::from_secs(10)).expect("exits after Ctrl-C");
    assert_eq!(code(&o), "rc 130", "{}", err(&o));
    assert!(err(&o).contains("interrupted"), "{}", err(&o));
    let sent = mock.stats()["total"].as_u64().unwrap();
    assert_eq!(sent, 2, "stopped sending after the two in flight");
    assert_eq!(cache_lines(&dir), 2, "both answers in flight were stored");

    // Twice: out at once, without waiting for the calls in flight.
    post(&mock, "/__reset", "{}");
    let child = score_cmd(&mock, &dir, 24, &["--concurrency", "2", "--timeout", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_requests(&mock, 2);
    send_signal(child.id(), "INT");
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    send_signal(child.id(), "INT");
    let o = wait_for(child, Duration::from_secs(10)).expect("exits");
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(code(&o), "rc 130", "{}", err(&o));
}

/// Waits until the mock has received `n` model requests (at most 20 s).
fn wait_for_requests(mock: &Mock, n: u64) {
    let start = Instant::now();
    while mock.stats()["total"].as_u64().unwrap() < n {
        assert!(start.elapsed() < Duration::from_secs(20), "no {n} requests");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends a signal with kill(1).
fn send_signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// A second run on a cache in use refuses with a clear message instead of
/// paying for the same keys.
#[test]
fn a_second_run_on_the_same_cache_refuses() {
    let mock = Mock::start();
    let dir = tempdir("lock");
    faults(
        &mock,
        serde_json::json!({"rate": 1.0, "kinds": ["timeout"], "timeout_s": 1}),
    );
    let first = score_cmd(&mock, &dir, 4, &["--timeout", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_requests(&mock, 1);
    let second = run(score_cmd(&mock, &dir, 4, &[]), Duration::from_secs(60));
    assert_eq!(code(&second), "rc 1", "{}", err(&second));
    assert!(err(&second).contains("in use"), "{}", err(&second));
    let first = wait_for(first, Duration::from_secs(60)).unwrap();
    assert_eq!(code(&first), "rc 0", "{}", err(&first));
    assert_eq!(mock.stats()["repeated_successes"], 0);
}

/// Minor items: control characters in names are not printed raw,
/// credentials in --base-url stay out of the report, the estimate of a
/// fully cached run is exact, and every command's --help is its help.
#[test]
fn names_urls_estimates_and_help() {
    let mock = Mock::start();
    let dir = tempdir("minor");
    // A model name with an ANSI escape, shown in the table.
    let mut c = Command::new(bin());
    c.args(["judge", EXAMPLE, "--provider", "openai-compatible"])
        .args([
            "--model",
            "evil\x1b[31mred",
            "--limit",
            "2",
            "--bootstrap",
            "0",
        ])
        .args(["--cache-dir", dir.to_str().unwrap(), "--single-order"])
        .args(["--base-url", &mock.url("/v1")]);
    let o = run(c, Duration::from_secs(60));
    assert_eq!(code(&o), "rc 0", "{}", err(&o));
    assert!(
        !o.stdout.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // user:password in the base URL.
    let url = mock.url("/v1").replace("http://", "http://user:hunter2@");
    let o = run(
        score_cmd(&mock, &dir, 2, &["--base-url", &url]),
        Duration::from_secs(60),
    );
    assert_eq!(code(&o), "rc 0", "{}", err(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("hunter2"));

    // Fully cached (two stages): the estimate says 0 calls.
    let full = |extra: &[&str]| {
        let mut c = score_cmd(&mock, &dir, 3, extra);
        c.args(["--factors", "n_facts,hallucination"]);
        run(c, Duration::from_secs(60))
    };
    assert_eq!(code(&full(&[])), "rc 0");
    let est = full(&["--estimate"]);
    let line = String::from_utf8_lossy(&est.stdout).into_owned();
    assert!(
        line.contains(" 0 calls") || line.contains("~0 calls"),
        "{line}"
    );

    for cmd in ["score", "judge", "generate", "align", "cache", "batch"] {
        let o = Command::new(bin()).args([cmd, "--help"]).output().unwrap();
        assert_eq!(code(&o), "rc 0", "{cmd} --help: {}", err(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains(&format!("profile {cmd}")), "{cmd}: {text}");
    }
}
