//! Helpers shared by the benchmarks (`score.rs`, `llm.rs`): the measuring
//! child protocol (the bench binary re-executed with a hidden argument, one
//! JSON result line on stdout), and what a child reads about itself from
//! `/proc` (peak RSS, CPU and run-queue time).

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The hidden first argument that makes the binary a measuring child.
pub const CHILD_ARG: &str = "__profile_bench_child";
/// Prefix of the child's result line on standard output.
pub const RESULT_TAG: &str = "PROFILE_BENCH_RESULT ";

/// A `kB` field of `/proc/self/status` (e.g. `VmHWM`, `VmRSS`), in bytes.
fn status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// This process's peak resident set size (`VmHWM`), in bytes.
pub fn peak_rss_bytes() -> u64 {
    status_bytes("VmHWM")
}

/// This process's resident set size now (`VmRSS`), in bytes.
#[allow(dead_code)] // used by llm.rs only
pub fn rss_bytes() -> u64 {
    status_bytes("VmRSS")
}

/// Resets the peak RSS to the current RSS (`5` to `/proc/self/clear_refs`,
/// Linux ≥ 4.0), so that the peak measures only what follows. Returns
/// whether the kernel took it.
#[allow(dead_code)] // used by llm.rs only
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// (time on a CPU, time waiting for one) of this process, in seconds. The
/// CPU time is that of all its threads, also those that have ended
/// (`utime + stime` of `/proc/self/stat`, in clock ticks of 10 ms); the
/// wait is the main thread's (`/proc/self/schedstat`: the kernel keeps no
/// total over the threads).
#[allow(dead_code)] // used by score.rs only
pub fn sched() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/schedstat").unwrap_or_default();
    let wait = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1e9;
    // Fields after the command name (which is in parentheses and may hold
    // spaces): state is field 3, utime and stime fields 14 and 15.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse::<f64>().unwrap_or(0.0))
        .collect();
    // USER_HZ, the unit of these fields, is 100 on every Linux ABI.
    let ticks = 100.0;
    let cpu = (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / ticks;
    (cpu, wait)
}

#[allow(dead_code)] // used by llm.rs only
/// (time on a CPU, time waiting for one) of the calling thread, in seconds:
/// the CPU time from `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` (nanosecond
/// resolution, unlike [`sched`]'s clock ticks and `/proc/self/schedstat`'s
/// run time, which this VM only updates at scheduler ticks), the wait from
/// `/proc/thread-self/schedstat`. For single-threaded paths.
pub fn thread_sched() -> (f64, f64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec this function owns.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    let cpu = if rc == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
    } else {
        0.0
    };
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let wait = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1e9;
    (cpu, wait)
}

/// The 1-, 5- and 15-minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Bytes as MB (10^6 bytes).
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Seconds as milliseconds, two decimals below 10 ms.
pub fn fmt_ms(s: f64) -> String {
    let ms = s * 1e3;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.0}")
    }
}

/// The median of some numbers (the mean of the middle two for an even count;
/// NaN for none).
#[allow(dead_code)] // used by llm.rs only
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Prints a child's result line.
pub fn emit<T: Serialize>(result: &T) {
    println!(
        "{RESULT_TAG}{}",
        serde_json::to_string(result).expect("results serialise")
    );
}

/// Runs this binary again as a measuring child with `args` after
/// [`CHILD_ARG`] and returns the result it printed with [`emit`]. Its
/// standard error goes to ours. Panics if the child fails.
pub fn run_child<T: DeserializeOwned>(name: &str, args: &[&OsStr]) -> T {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let out = Command::new(exe)
        .arg(CHILD_ARG)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("spawn the measuring child");
    assert!(out.status.success(), "{name} failed: {}", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(RESULT_TAG))
        .unwrap_or_else(|| panic!("{name} printed no result"));
    serde_json::from_str(line).expect("a result line")
}

/// Reads a file once so every implementation starts with it in the page cache.
pub fn warm(path: &std::path::Path) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open(path) {
        let mut buf = vec![0u8; 1 << 20];
        while matches!(f.read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// Whether a benchmark named `name` runs: no filters, or one of them is part
/// of the name.
pub fn selected(filters: &[String], name: &str) -> bool {
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// The number after option `name` (`_` allowed as a digit separator).
pub fn number<T: std::str::FromStr>(
    it: &mut std::slice::Iter<'_, String>,
    name: &str,
) -> Result<T, String> {
    it.next()
        .and_then(|v| v.replace('_', "").parse().ok())
        .ok_or_else(|| format!("{name} takes a number"))
}
