//! Running an extraction plan against a model (native: the CLI and tests).
//!
//! Calls run on a bounded pool of threads, paced by token buckets (requests
//! and tokens per minute), retried with exponential backoff and jitter that
//! honours `Retry-After` on rate limits, server errors, timeouts and network
//! errors. A reply that does not parse gets one repair request; after that the
//! item is recorded as failed with its raw reply. A wait longer than
//! [`RetryPolicy::max_wait_s`](super::schedule::RetryPolicy) fails the item
//! instead; a reply over [`MAX_REPLY_BYTES`] fails it at once. A refused
//! key or an account out of credit stops the run at the first such answer.
//!
//! Every success is appended to the disk cache before it is used, so an
//! interrupted run loses no paid work and a re-run repeats no successful
//! call. A cache that cannot be written stops the run
//! ([`RunStats::stopped`], the answers in [`RunStats::not_stored`]); a
//! cancelled run (Ctrl-C) stops sending and waits for the calls in flight
//! (each bounded by the request timeout) and stores them. The cache
//! directory is locked (`DIR/lock`) while a run uses it, so two processes
//! never pay for the same keys.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::cache::{CacheEntry, MemoryCache};
pub use super::engine::{question_key, FailedItem, RunSettings, RunStats};
use super::engine::{Admit, AnswerCache, Job, Run, Step, CAP_REACHED};
use super::extract::{Answer, Answers, ExtractOptions, Plan};
use super::provider::{
    build_request, parse_response, reply_head, CallError, Completion, HttpRequest, ModelConfig,
    Provider, MAX_REPLY_BYTES,
};
use super::schedule::{duration_s, worker_seed, Pacer};
use super::Prompt;
use crate::data::{Dataset, Diagnostic};
use crate::stats::Rng;

/// Something that answers prompts: a provider over HTTP, or a test double.
pub trait Llm: Sync {
    /// One call.
    ///
    /// # Errors
    /// The provider's or the transport's [`CallError`].
    fn complete(&self, prompt: &Prompt) -> Result<Completion, CallError>;
    /// The model configuration (for cache keys and reports).
    fn config(&self) -> &ModelConfig;
}

/// A blocking HTTP(S) client: the CLI's transport, and the native
/// [`Transport`](super::drive::Transport) of the async driver (each call
/// blocks; tests run it under [`block_on`]).
pub struct BlockingHttp {
    agent: ureq::Agent,
    /// Redacted from transport errors.
    base_url: String,
    start: Instant,
}

impl BlockingHttp {
    /// A client for `cfg`'s server with a per-request timeout.
    pub fn new(cfg: &ModelConfig, timeout: std::time::Duration) -> Self {
        BlockingHttp {
            agent: ureq::AgentBuilder::new().timeout(timeout).build(),
            base_url: cfg.effective_base_url().to_owned(),
            start: Instant::now(),
        }
    }

    /// Sends `req` and reads the reply (at most [`MAX_REPLY_BYTES`]).
    ///
    /// # Errors
    /// The transport's or the provider's [`CallError`].
    pub fn call(&self, provider: Provider, req: &HttpRequest) -> Result<Completion, CallError> {
        let mut r = self.agent.request(req.method, &req.url);
        for (k, v) in &req.headers {
            r = r.set(k, v);
        }
        let resp = match r.send_string(&req.body) {
            Ok(resp) => resp,
            Err(ureq::Error::Status(_, resp)) => resp,
            Err(ureq::Error::Transport(t)) => {
                // The message may quote the URL: never its credentials.
                let base = self.base_url.as_str();
                let msg = t
                    .to_string()
                    .replace(base, &super::provider::redact_url(base));
                return Err(if msg.contains("timed out") || msg.contains("Timeout") {
                    CallError::Timeout
                } else {
                    CallError::Network(msg)
                });
            }
        };
        let status = resp.status();
        let headers: Vec<(String, String)> = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| {
                resp.header(&n)
                    .map(|v| (n.to_ascii_lowercase(), v.to_owned()))
            })
            .collect();
        // Read at most one byte past the cap: enough to know it was passed.
        let mut bytes = Vec::new();
        resp.into_reader()
            .take(MAX_REPLY_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::WouldBlock
                {
                    CallError::Timeout
                } else {
                    CallError::Network(e.to_string())
                }
            })?;
        if bytes.len() > MAX_REPLY_BYTES {
            return Err(CallError::TooLarge {
                limit: MAX_REPLY_BYTES,
                head: reply_head(&bytes, 200),
            });
        }
        let body = String::from_utf8(bytes)
            .map_err(|e| CallError::Malformed(format!("the reply is not UTF-8: {e}")))?;
        parse_response(provider, status, &headers, &body)
    }
}

impl super::drive::Transport for BlockingHttp {
    async fn send(
        &self,
        provider: Provider,
        req: &HttpRequest,
        _timeout_s: f64,
    ) -> Result<Completion, CallError> {
        self.call(provider, req)
    }
}

impl super::drive::Clock for BlockingHttp {
    async fn sleep_s(&self, s: f64) {
        std::thread::sleep(duration_s(s));
    }

    fn now_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// Runs a future to its end on this thread (parking while it waits): the
/// native executor of the async driver, for tests and tools.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// A provider reached over HTTP(S) with a blocking client.
pub struct HttpLlm {
    cfg: ModelConfig,
    key: String,
    http: BlockingHttp,
}

impl HttpLlm {
    /// A client with a per-request timeout. The key is kept in memory only.
    pub fn new(cfg: ModelConfig, key: String, timeout: std::time::Duration) -> Self {
        HttpLlm {
            http: BlockingHttp::new(&cfg, timeout),
            cfg,
            key,
        }
    }
}

impl Llm for HttpLlm {
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    fn complete(&self, prompt: &Prompt) -> Result<Completion, CallError> {
        let req = build_request(&self.cfg, &self.key, prompt);
        self.http.call(self.cfg.provider, &req)
    }
}

/// The longest cache line read: 64 MiB (a reply is at most
/// [`MAX_REPLY_BYTES`], and JSON escaping can grow it). Longer lines are
/// skipped and reported.
pub const MAX_CACHE_LINE_BYTES: usize = 64 * 1024 * 1024;

/// Why the disk cache cannot be used.
#[derive(Debug)]
pub enum CacheError {
    /// The directory or file cannot be created, opened or read.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Another process holds the cache's lock file.
    InUse { lock: PathBuf },
}

impl std::fmt::Display for CacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            CacheError::InUse { lock } => write!(
                f,
                "the cache is in use by another profile run (it holds {}); wait for that run \
                 to finish, or give another --cache-dir",
                lock.display()
            ),
        }
    }
}

impl std::error::Error for CacheError {}

/// Reads cache JSONL line by line: every good entry, one diagnostic per bad
/// line (not UTF-8, not a cache entry, longer than `max_line` bytes), and
/// whether the text ends in a newline (or is empty). Never fails on content;
/// only reading can fail.
///
/// # Errors
/// The reader's I/O error.
pub fn read_cache_jsonl(
    mut r: impl BufRead,
    max_line: usize,
) -> std::io::Result<(MemoryCache, Vec<Diagnostic>, bool)> {
    let (mut mem, mut problems) = (MemoryCache::new(), Vec::new());
    let (mut line, mut n, mut too_long, mut last) = (Vec::new(), 0u64, false, None);
    let mut finish =
        |line: &mut Vec<u8>, n: u64, too_long: bool, problems: &mut Vec<Diagnostic>| {
            let bad = |why: String| Diagnostic::new(n, None, why);
            if too_long {
                problems.push(bad(format!("longer than {max_line} bytes; skipped")));
            } else if !line.iter().all(u8::is_ascii_whitespace) {
                match std::str::from_utf8(line) {
                    Err(e) => problems.push(bad(format!(
                        "not UTF-8 (byte {} of the line); skipped",
                        e.valid_up_to() + 1
                    ))),
                    Ok(text) => match serde_json::from_str::<CacheEntry>(text) {
                        Ok(e) => {
                            mem.put(e);
                        }
                        Err(e) => problems.push(bad(format!("not a cache entry: {e}"))),
                    },
                }
            }
            line.clear();
        };
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let (chunk, newline) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], true),
            None => (buf, false),
        };
        if !too_long {
            if line.len() + chunk.len() > max_line {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = chunk.len() + usize::from(newline);
        last = Some(buf[used - 1]);
        if newline {
            n += 1;
            finish(&mut line, n, too_long, &mut problems);
            too_long = false;
        }
        r.consume(used);
    }
    if !line.is_empty() || too_long {
        finish(&mut line, n + 1, too_long, &mut problems);
    }
    Ok((mem, problems, last.is_none_or(|b| b == b'\n')))
}

/// The cache in `.profile-cache/`: a JSONL file appended after every success,
/// and the stage memos of the runs it answered (`memo/`, see
/// [`super::memo`]).
///
/// `cache.jsonl` is read when an entry is first needed, not when the cache
/// is opened, if the memos are known to match it (`memo/stamp` holds the
/// file's length and modification time as this cache last left it): a
/// re-run answered by its memos never reads it. A file changed in any
/// other way (edited, truncated, replaced) is read at once, its unreadable
/// lines returned with their numbers, and every memo dropped.
pub struct DiskCache {
    mem: std::sync::OnceLock<Loaded>,
    /// The file to read `mem` from when first needed.
    source: Option<File>,
    /// Unreadable lines found by a read after [`DiskCache::open`].
    late_problems: Mutex<Vec<Diagnostic>>,
    writer: Box<dyn Write + Send>,
    path: PathBuf,
    /// The file does not end in a newline (a torn last line, or a failed
    /// write): the next entry starts a new line. `None`: not read yet.
    needs_newline: Option<bool>,
    /// `memo/` when its memos match the file, else `None` (no memo read or
    /// written).
    memo: Option<PathBuf>,
    /// Entries were appended since the stamp was written.
    appended: bool,
    /// The open lock file; its lock is released when it closes.
    _lock: Option<File>,
}

/// The entries of `cache.jsonl`, once read.
struct Loaded {
    mem: MemoryCache,
    /// The file ended in a newline (or was empty).
    ends_clean: bool,
}

/// `len mtime-ns` of a cache file, as `memo/stamp` holds it.
fn stamp_of(meta: &std::fs::Metadata) -> Option<String> {
    let mtime = meta.modified().ok()?;
    let ns = mtime.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    Some(format!("{} {ns}\n", meta.len()))
}

/// The binary's own stamp for memo keys: a rebuilt binary may ask other
/// prompts, so its memos are its own.
fn build_stamp() -> String {
    static BUILD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILD
        .get_or_init(|| {
            let exe = std::env::current_exe().ok();
            let meta = exe.as_ref().and_then(|p| std::fs::metadata(p).ok());
            format!(
                "{} {:?} {}",
                env!("CARGO_PKG_VERSION"),
                exe,
                meta.and_then(|m| stamp_of(&m)).unwrap_or_default()
            )
        })
        .clone()
}

/// Takes the exclusive lock of `dir/lock` without waiting.
#[cfg(unix)]
fn lock_dir(dir: &Path) -> Result<File, CacheError> {
    use std::os::unix::io::AsRawFd;
    let lock = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|error| CacheError::Io {
            path: lock.clone(),
            error,
        })?;
    // SAFETY: flock on a file descriptor this function owns.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        return Err(if error.kind() == std::io::ErrorKind::WouldBlock {
            CacheError::InUse { lock }
        } else {
            CacheError::Io { path: lock, error }
        });
    }
    Ok(file)
}

#[cfg(not(unix))]
fn lock_dir(_dir: &Path) -> Result<File, CacheError> {
    Err(CacheError::Io {
        path: _dir.into(),
        error: std::io::Error::other("cache locking is implemented on Unix only"),
    })
}

impl DiskCache {
    /// Reads `dir/cache.jsonl` without locking or writing it (for `cache
    /// export`): the entries and one diagnostic per unreadable line.
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn read(dir: &Path) -> Result<(MemoryCache, Vec<Diagnostic>), CacheError> {
        let path = dir.join("cache.jsonl");
        let io = |error| CacheError::Io {
            path: path.clone(),
            error,
        };
        match File::open(&path) {
            Ok(f) => {
                let (mem, problems, _) =
                    read_cache_jsonl(std::io::BufReader::new(f), MAX_CACHE_LINE_BYTES)
                        .map_err(io)?;
                Ok((mem, problems))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok((MemoryCache::new(), Vec::new()))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Opens (creating) `dir/cache.jsonl` for a run, holding `dir/lock`
    /// while the cache lives. Unreadable lines (not UTF-8, not an entry,
    /// torn) are skipped and returned, with their line numbers.
    ///
    /// # Errors
    /// When the directory or file cannot be created or read, or another
    /// process holds the lock ([`CacheError::InUse`]).
    pub fn open(dir: &Path) -> Result<(DiskCache, Vec<Diagnostic>), CacheError> {
        std::fs::create_dir_all(dir).map_err(|error| CacheError::Io {
            path: dir.into(),
            error,
        })?;
        let lock = lock_dir(dir)?;
        let path = dir.join("cache.jsonl");
        let io = |error| CacheError::Io {
            path: path.clone(),
            error,
        };
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        if !file.metadata().map_err(io)?.is_file() {
            return Err(io(std::io::Error::other("not a regular file")));
        }
        let meta = file.metadata().map_err(io)?;
        let memo_dir = dir.join("memo");
        let stamp = std::fs::read_to_string(memo_dir.join("stamp")).ok();
        let reader = file.try_clone().map_err(io)?;
        let mut cache = DiskCache::with_writer(MemoryCache::new(), Box::new(file), path.clone());
        cache.mem = std::sync::OnceLock::new();
        cache.needs_newline = None;
        cache._lock = Some(lock);
        if stamp.is_some() && stamp == stamp_of(&meta) {
            // The memos match the file: read it only when an entry is needed.
            cache.source = Some(reader);
            cache.memo = Some(memo_dir);
            return Ok((cache, Vec::new()));
        }
        let (mem, problems, ends_clean) =
            read_cache_jsonl(std::io::BufReader::new(&reader), MAX_CACHE_LINE_BYTES).map_err(
                |error| CacheError::Io {
                    path: path.clone(),
                    error,
                },
            )?;
        let _ = cache.mem.set(Loaded { mem, ends_clean });
        cache.needs_newline = Some(!ends_clean);
        // The file changed since the memos were written: drop them; memos
        // are kept from now on if they all could be dropped.
        if reset_memos(&memo_dir) {
            cache.memo = Some(memo_dir);
            cache.appended = true;
            cache.write_stamp();
        }
        Ok((cache, problems))
    }

    /// A cache over `mem` that appends to `writer` (tests give a failing one).
    pub fn with_writer(mem: MemoryCache, writer: Box<dyn Write + Send>, path: PathBuf) -> Self {
        let loaded = std::sync::OnceLock::new();
        let _ = loaded.set(Loaded {
            mem,
            ends_clean: true,
        });
        DiskCache {
            mem: loaded,
            source: None,
            late_problems: Mutex::new(Vec::new()),
            writer,
            path,
            needs_newline: Some(false),
            memo: None,
            appended: false,
            _lock: None,
        }
    }

    /// The entries, read from the file when first needed.
    fn loaded(&self) -> &Loaded {
        self.mem.get_or_init(|| {
            let read = self.source.as_ref().map(|f| {
                use std::io::Seek as _;
                let mut f = f;
                f.rewind()?;
                read_cache_jsonl(std::io::BufReader::new(f), MAX_CACHE_LINE_BYTES)
            });
            match read {
                None => Loaded {
                    mem: MemoryCache::new(),
                    ends_clean: true,
                },
                Some(Ok((mem, problems, ends_clean))) => {
                    if let Ok(mut late) = self.late_problems.lock() {
                        late.extend(problems);
                    }
                    Loaded { mem, ends_clean }
                }
                Some(Err(e)) => {
                    if let Ok(mut late) = self.late_problems.lock() {
                        late.push(Diagnostic::new(
                            0,
                            None,
                            format!("cannot read the file: {e}"),
                        ));
                    }
                    Loaded {
                        mem: MemoryCache::new(),
                        ends_clean: false,
                    }
                }
            }
        })
    }

    pub fn memory(&self) -> &MemoryCache {
        &self.loaded().mem
    }

    /// Whether `cache.jsonl` was read (it is read when an entry is first
    /// needed, see [`DiskCache`]).
    pub fn is_read(&self) -> bool {
        self.mem.get().is_some()
    }

    /// The unreadable lines found by reading the file after
    /// [`open`](DiskCache::open) returned (it reads the file when an entry
    /// is first needed), once.
    pub fn take_problems(&self) -> Vec<Diagnostic> {
        self.late_problems
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    /// The memo key of `plan` on `ds`, when this cache keeps memos.
    pub fn memo_key(
        &self,
        plan: &Plan,
        ds: &Dataset,
        opts: ExtractOptions,
        cfg: &ModelConfig,
    ) -> Option<super::cache::Digest> {
        self.memo.as_ref()?;
        Some(super::memo::key(plan, ds, opts, cfg, &build_stamp()))
    }

    /// The answers and statistics of a re-run of `plan` from its memo under
    /// `key`, if one is kept and intact.
    pub fn memo_answers(
        &self,
        key: &super::cache::Digest,
        plan: &Plan,
    ) -> Option<(Answers, RunStats)> {
        let dir = self.memo.as_ref()?;
        let bytes = std::fs::read(dir.join(super::memo::file_name(key))).ok()?;
        super::memo::decode(&bytes, plan)
    }

    /// Keeps the memo of a settled run of `plan` (best effort: a memo that
    /// cannot be written is only a slower re-run).
    pub fn keep_memo(
        &mut self,
        key: &super::cache::Digest,
        plan: &Plan,
        answers: &Answers,
        stats: &RunStats,
    ) {
        if self.memo.is_none() || !super::memo::keepable(stats) {
            return;
        }
        let bytes = super::memo::encode(plan, answers, stats);
        self.write_memo(key, &bytes);
    }

    /// The binary's build stamp, which memo keys cover, when this cache
    /// keeps memos (for a run memo key: `workflow::Workflow::memo_key`).
    pub fn memo_build(&self) -> Option<String> {
        self.memo.as_ref()?;
        Some(build_stamp())
    }

    /// The run memo kept under `key`, if any (checked when decoded).
    pub fn run_memo(&self, key: &super::cache::Digest) -> Option<Vec<u8>> {
        let dir = self.memo.as_ref()?;
        std::fs::read(dir.join(super::memo::file_name(key))).ok()
    }

    /// Keeps a run memo (best effort, as [`DiskCache::keep_memo`]).
    pub fn keep_run_memo(&mut self, key: &super::cache::Digest, bytes: &[u8]) {
        self.write_memo(key, bytes);
    }

    /// Writes a memo under `key` (whole or not at all), then the stamp.
    fn write_memo(&mut self, key: &super::cache::Digest, bytes: &[u8]) {
        let Some(dir) = &self.memo else {
            return;
        };
        let name = super::memo::file_name(key);
        let tmp = dir.join(format!("{name}.tmp"));
        let ok = std::fs::create_dir_all(dir).is_ok()
            && std::fs::write(&tmp, bytes).is_ok()
            && std::fs::rename(&tmp, dir.join(name)).is_ok();
        if !ok {
            let _ = std::fs::remove_file(&tmp);
        }
        self.write_stamp();
    }

    /// Records the file as this cache leaves it (after its own appends), so
    /// that the next open trusts the memos.
    fn write_stamp(&mut self) {
        if !self.appended {
            return;
        }
        let Some(dir) = &self.memo else {
            return;
        };
        let meta = std::fs::metadata(&self.path).ok();
        let written = meta.and_then(|m| stamp_of(&m)).is_some_and(|stamp| {
            std::fs::create_dir_all(dir).is_ok()
                && std::fs::write(dir.join("stamp.tmp"), stamp).is_ok()
                && std::fs::rename(dir.join("stamp.tmp"), dir.join("stamp")).is_ok()
        });
        if written {
            self.appended = false;
        } else {
            // Not recorded: the next open reads the file and drops the memos.
            let _ = std::fs::remove_file(dir.join("stamp"));
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Merges JSONL entries (a shared export) into the cache, durably.
    /// Returns the number of new entries and the lines that were not entries.
    ///
    /// # Errors
    /// The first write that failed; the entries before it are stored.
    pub fn import_jsonl(
        &mut self,
        text: &str,
    ) -> std::io::Result<(usize, Vec<crate::data::Diagnostic>)> {
        let mut incoming = MemoryCache::new();
        let (_, problems) = incoming.import_jsonl(text);
        let before = self.memory().len();
        let mut keys: Vec<&String> = incoming.entries().map(|e| &e.key).collect();
        keys.sort();
        for k in keys {
            let e = incoming.get(k).expect("listed").clone();
            self.put(e)?;
        }
        Ok((self.memory().len() - before, problems))
    }

    /// Stores an entry: appended to the file (durably) first, then kept in
    /// memory. Returns whether it was new.
    ///
    /// # Errors
    /// The write's error; the entry is then not kept.
    pub fn put(&mut self, e: CacheEntry) -> std::io::Result<bool> {
        let loaded = self.loaded();
        if loaded.mem.get(&e.key).is_some() {
            return Ok(false);
        }
        let needs_newline = *self.needs_newline.get_or_insert(!loaded.ends_clean);
        let mut line = serde_json::to_string(&e).expect("entries serialise") + "\n";
        if needs_newline {
            line.insert(0, '\n');
        }
        self.appended = true;
        // Durable before the result is used: a crash cannot lose a paid call.
        match self
            .writer
            .write_all(line.as_bytes())
            .and_then(|_| self.writer.flush())
        {
            Ok(()) => {
                self.needs_newline = Some(false);
                self.loaded();
                Ok(self.mem.get_mut().is_some_and(|l| l.mem.put(e)))
            }
            Err(err) => {
                // Part of the line may be written: start afresh next time.
                self.needs_newline = Some(true);
                Err(err)
            }
        }
    }
}

/// The disk cache answers from its in-memory copy.
impl AnswerCache for DiskCache {
    fn answer(&self, key: &str) -> Option<Answer> {
        self.memory().answer(key)
    }
    fn has_legacy(&self) -> bool {
        self.memory().has_legacy()
    }
    fn entry(&self, key: &str) -> Option<CacheEntry> {
        self.memory().get(key).cloned()
    }
}

impl Drop for DiskCache {
    fn drop(&mut self) {
        self.write_stamp();
    }
}

/// Empties `memo/` of memos and stamp (creating it); whether it is empty.
fn reset_memos(dir: &Path) -> bool {
    let _ = std::fs::remove_file(dir.join("stamp"));
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .filter_map(Result::ok)
        .all(|e| std::fs::remove_file(e.path()).is_ok())
}

/// Progress reports during a run.
pub type Progress<'a> = &'a (dyn Fn(&RunStats) + Sync);

/// Sleeps `s` seconds in short naps, returning early once `stop()` is true.
fn nap(s: f64, stop: &dyn Fn() -> bool) {
    let until = Instant::now() + duration_s(s);
    while !stop() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(100)));
    }
}

/// Answers every question of `plan`: from the cache where possible, else by
/// calling `llm` on `settings.concurrency` threads. Every success is written
/// to the cache before it is used. Returns the answers, the run's counts and
/// the failures.
///
/// The run stops early when `cancel` is set (nothing new is sent; calls in
/// flight are waited for and stored; `stats.cancelled`), when an answer shows
/// that every call would fail (a refused key, no credit: `stats.stopped`,
/// the questions not asked listed as failures), or when the cache cannot be
/// written (`stats.stopped`, the answers not stored in `stats.not_stored`).
#[allow(clippy::too_many_arguments)]
pub fn run_plan(
    plan: &Plan,
    ds: &Dataset,
    opts: ExtractOptions,
    llm: &dyn Llm,
    cache: &mut DiskCache,
    settings: &RunSettings,
    cancel: &AtomicBool,
    progress: Progress<'_>,
) -> (Answers, RunStats, Vec<FailedItem>) {
    let mut stats = RunStats::default();
    let mut run = Run::new(plan.clone(), opts, llm.config().clone(), &mut stats);
    let halt = AtomicBool::new(false);
    let stop_reason: Mutex<Option<String>> = Mutex::new(None);
    let not_stored: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let stopping = || cancel.load(Ordering::Relaxed) || halt.load(Ordering::Relaxed);
    let halt_with = |why: String| {
        stop_reason.lock().expect("reason").get_or_insert(why);
        halt.store(true, Ordering::Relaxed);
    };
    let start = Instant::now();
    let pacer = Mutex::new(Pacer::new(
        settings.requests_per_minute,
        settings.tokens_per_minute,
        0.0,
    ));
    // Sleeps until both budgets allow a call of `tokens` (or the run stops).
    let pace = |tokens: f64| loop {
        let now = start.elapsed().as_secs_f64();
        let wait = pacer.lock().map_or(0.0, |mut p| p.take(tokens, now));
        if wait <= 0.0 || stopping() {
            break;
        }
        nap(wait, &stopping);
    };
    let cfg = llm.config();
    while let Some(jobs) = run.next_stage(ds, &*cache, &mut stats) {
        // Answers found under legacy keys, stored under their version-2
        // keys. Best effort: a failed write loses nothing (the legacy entry
        // still answers), and the next paid answer's write reports it.
        for e in run.take_migrated() {
            let _ = cache.put(e);
        }
        progress(&stats);
        let next = AtomicUsize::new(0);
        let stats_lock = Mutex::new(&mut stats);
        let results: Mutex<Vec<(usize, Job, Step)>> = Mutex::new(Vec::new());
        let cache_lock = Mutex::new(&mut *cache);
        let cx = &run.context(&settings.retry);
        std::thread::scope(|scope| {
            for w in 0..settings.concurrency.clamp(1, jobs.len().max(1)) {
                let (jobs, next, results, pace, cache_lock, stats_lock) =
                    (&jobs, &next, &results, &pace, &cache_lock, &stats_lock);
                let (stopping, halt_with, not_stored) = (&stopping, &halt_with, &not_stored);
                scope.spawn(move || {
                    let mut rng = Rng::new(worker_seed(settings.seed, w));
                    let with_stats = |f: &mut dyn FnMut(&mut RunStats)| {
                        let mut s = stats_lock.lock().expect("stats");
                        f(&mut s);
                        progress(&s);
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= jobs.len() || stopping() {
                            break;
                        }
                        let mut job = jobs[i].clone();
                        let step = loop {
                            pace(job.token_cost(cfg));
                            if stopping() {
                                break None;
                            }
                            let admit = loop {
                                let mut a = Admit::Go;
                                with_stats(&mut |s| a = job.admit(settings.cap.as_ref(), cfg, s));
                                if a != Admit::Wait || stopping() {
                                    break a;
                                }
                                // Calls in flight hold reservations: wait for one.
                                nap(0.02, stopping);
                            };
                            match admit {
                                Admit::Go => {}
                                Admit::Stop => {
                                    halt_with(CAP_REACHED.to_owned());
                                    break None;
                                }
                                Admit::Wait => break None,
                            }
                            let mut result = Some(llm.complete(job.prompt()));
                            let jitter = rng.unit();
                            let mut step = Step::Call { after_s: 0.0 };
                            with_stats(&mut |s| {
                                let r = result.take().expect("one result");
                                step = job.on_result(r, cx, jitter, s);
                            });
                            match step {
                                Step::Call { after_s } => nap(after_s, stopping),
                                done => break Some(done),
                            }
                        };
                        let Some(step) = step else { break };
                        if let Some(why) = job.fatal() {
                            halt_with(format!("the run stopped: {why}"));
                        }
                        if let Step::Done(_, entry) = &step {
                            // Durable before the result is used: a crash cannot lose a paid call.
                            let mut c = cache_lock.lock().expect("cache");
                            if let Err(e) = c.put((**entry).clone()) {
                                halt_with(format!(
                                    "the run stopped: cannot write the cache {}: {e}",
                                    c.path().display()
                                ));
                                not_stored
                                    .lock()
                                    .expect("not stored")
                                    .push(job.what.clone());
                            }
                        }
                        results.lock().expect("results").push((i, job, step));
                    }
                });
            }
        });
        let mut results = results.into_inner().expect("results");
        results.sort_by_key(|r| r.0);
        let mut settled = vec![false; jobs.len()];
        for (i, job, step) in results {
            settled[i] = true;
            run.settle(&job, step, &mut stats);
        }
        if halt.load(Ordering::Relaxed) {
            // Listed, not silently dropped: what the stop left unasked.
            let why = stop_reason
                .lock()
                .expect("reason")
                .clone()
                .unwrap_or_default();
            for (job, _) in jobs.iter().zip(&settled).filter(|(_, &s)| !s) {
                let f = job.failure(&format!("not asked: {why}"));
                run.settle(job, Step::Failed(f), &mut stats);
            }
        }
        progress(&stats);
        if stopping() {
            break;
        }
    }
    stats.cancelled = cancel.load(Ordering::Relaxed);
    stats.stopped = stop_reason.into_inner().expect("reason");
    stats.not_stored = not_stored.into_inner().expect("not stored");
    let (answers, failures) = run.finish();
    (answers, stats, failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_bytes, FormatOptions};
    use crate::factors::Factor;
    use crate::llm::provider::{Provider, Usage};
    use std::sync::Arc;

    /// Lets `ok` writes through into `buf`, then fails every write.
    struct FailAfter {
        ok: usize,
        buf: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for FailAfter {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.ok == 0 {
                return Err(std::io::Error::other("No space left on device"));
            }
            self.ok -= 1;
            self.buf.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Answers every prompt with one fact, or with `error` when set; counts calls.
    struct Fake {
        cfg: ModelConfig,
        calls: AtomicUsize,
        error: Option<CallError>,
    }

    impl Llm for Fake {
        fn complete(&self, _: &Prompt) -> Result<Completion, CallError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if let Some(e) = &self.error {
                return Err(e.clone());
            }
            Ok(Completion {
                text: r#"{"facts": ["A fact."]}"#.into(),
                first_token_logprobs: None,
                token_logprobs: None,
                usage: Usage {
                    input_tokens: 10,
                    output_tokens: 2,
                },
                finish: None,
                model: None,
            })
        }
        fn config(&self) -> &ModelConfig {
            &self.cfg
        }
    }

    fn ds() -> Dataset {
        let lines: Vec<String> = (0..6)
            .map(|i| {
                serde_json::json!({"response_a": format!("Answer {i} a."), "response_b": format!("Answer {i} b."), "preference": "a"})
                    .to_string()
            })
            .collect();
        load_bytes(lines.join("\n").as_bytes(), FormatOptions::default()).unwrap()
    }

    fn go(llm: &Fake, cache: &mut DiskCache) -> (RunStats, Vec<FailedItem>) {
        let d = ds();
        let opts = ExtractOptions::default();
        let plan = Plan::new(&d, &[Factor::NFacts], opts);
        let settings = RunSettings {
            concurrency: 1,
            ..Default::default()
        };
        let (_, stats, failures) = run_plan(
            &plan,
            &d,
            opts,
            llm,
            cache,
            &settings,
            &AtomicBool::new(false),
            &|_| {},
        );
        (stats, failures)
    }

    fn fake(error: Option<CallError>) -> Fake {
        Fake {
            cfg: ModelConfig::new(Provider::OpenAi, "m"),
            calls: AtomicUsize::new(0),
            error,
        }
    }

    #[test]
    fn a_failed_cache_write_stops_the_run_and_names_what_was_not_stored() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = FailAfter {
            ok: 3,
            buf: buf.clone(),
        };
        let mut cache = DiskCache::with_writer(MemoryCache::new(), Box::new(writer), "c".into());
        let llm = fake(None);
        let (stats, failures) = go(&llm, &mut cache);
        let stored = buf
            .lock()
            .unwrap()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        assert_eq!(stored, 3);
        assert_eq!(cache.memory().len(), 3, "only what was written is kept");
        assert!(
            stats.stopped.as_deref().unwrap().contains("No space left"),
            "{stats:?}"
        );
        assert_eq!(stats.not_stored.len(), 1, "{stats:?}");
        assert!(
            stats.not_stored[0].contains("line 2"),
            "{:?}",
            stats.not_stored
        );
        // One call at a time: nothing is sent after the failed write.
        assert_eq!(llm.calls.load(Ordering::SeqCst), 4);
        // The questions left are listed as not asked, not dropped.
        assert_eq!(failures.len(), 12 - 4);
        assert!(failures
            .iter()
            .all(|f| f.reason.starts_with("not asked: the run stopped")));
    }

    #[test]
    fn after_a_failed_write_the_next_entry_starts_a_new_line() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let mut cache = DiskCache::with_writer(
            MemoryCache::new(),
            Box::new(FailAfter {
                ok: 0,
                buf: buf.clone(),
            }),
            "c".into(),
        );
        let entry = |k: &str| CacheEntry {
            key: k.into(),
            template: "t@1".into(),
            provider: "openai".into(),
            model: "m".into(),
            decoding: Default::default(),
            reply: "r".into(),
            value: serde_json::json!(["x"]),
            input_tokens: 0,
            output_tokens: 0,
        };
        assert!(cache.put(entry("a")).is_err());
        assert!(cache.memory().get("a").is_none());
        cache.writer = Box::new(FailAfter {
            ok: 9,
            buf: buf.clone(),
        });
        assert!(cache.put(entry("b")).unwrap());
        assert!(buf.lock().unwrap().starts_with(b"\n{"));
    }

    #[test]
    fn a_refused_key_stops_the_run_at_the_first_answer() {
        let mut cache =
            DiskCache::with_writer(MemoryCache::new(), Box::new(Vec::new()), "c".into());
        let llm = fake(Some(CallError::Auth {
            status: 401,
            message: "Incorrect API key provided.".into(),
        }));
        let (stats, failures) = go(&llm, &mut cache);
        assert_eq!(llm.calls.load(Ordering::SeqCst), 1);
        assert!(stats.stopped.as_deref().unwrap().contains("HTTP 401"));
        assert_eq!(failures.len(), 12);
        assert_eq!(stats.failed, 12);
    }

    #[test]
    fn a_torn_last_line_is_seen_and_the_file_is_locked() {
        let dir = std::env::temp_dir().join(format!("profile-run-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cache.jsonl"), "{\"key\": \"to").unwrap();
        let (cache, bad) = DiskCache::open(&dir).unwrap();
        assert_eq!((bad.len(), bad[0].line), (1, 1));
        assert_eq!(cache.needs_newline, Some(true));
        match DiskCache::open(&dir) {
            Err(CacheError::InUse { lock }) => assert_eq!(lock, dir.join("lock")),
            other => panic!("a second open must be refused: {:?}", other.err()),
        }
        drop(cache);
        assert!(
            DiskCache::open(&dir).is_ok(),
            "the lock goes with the cache"
        );
    }

    #[test]
    fn a_memo_rerun_reads_no_cache_line_until_the_file_changes() {
        use crate::llm::question::{Answer, Verdict};
        let dir = std::env::temp_dir().join(format!("profile-run-memo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let text = r#"{"input": "q", "response_a": "a", "response_b": "b b", "preference": "a"}"#;
        let ds = crate::data::load_bytes(text.as_bytes(), Default::default()).unwrap();
        let plan = crate::llm::roles::judge_plan(
            &ds,
            crate::factors::Task::Helpful,
            crate::llm::roles::JudgeOrder::Both,
        );
        let cfg = ModelConfig::new(super::super::provider::Provider::OpenAi, "m");
        let opts = ExtractOptions::default();
        let mut answers = Answers::default();
        for q in &plan.first {
            let verdict = Verdict {
                better: "1".into(),
                justification: String::new(),
            };
            answers.insert(*q, Answer::Verdict { verdict });
        }
        let stats = RunStats {
            questions: plan.len() as u64,
            succeeded: plan.len() as u64,
            ..RunStats::default()
        };
        {
            let (mut cache, _) = DiskCache::open(&dir).unwrap();
            let key = cache.memo_key(&plan, &ds, opts, &cfg).unwrap();
            cache.keep_memo(&key, &plan, &answers, &stats);
        }
        let (cache, bad) = DiskCache::open(&dir).unwrap();
        assert!(bad.is_empty());
        let key = cache.memo_key(&plan, &ds, opts, &cfg).unwrap();
        let (back, rerun) = cache.memo_answers(&key, &plan).expect("the memo answers");
        assert_eq!(back.get(&plan.first[0]), answers.get(&plan.first[0]));
        assert_eq!(rerun.cache_hits, plan.len() as u64);
        assert!(!cache.is_read(), "a memo re-run reads no cache line");
        drop(cache);
        // An edited cache file: read at once, its bad line located, the memos dropped.
        std::fs::write(dir.join("cache.jsonl"), "not an entry\n").unwrap();
        let (cache, bad) = DiskCache::open(&dir).unwrap();
        assert_eq!((bad.len(), bad[0].line), (1, 1));
        assert!(cache.is_read());
        let key = cache.memo_key(&plan, &ds, opts, &cfg).unwrap();
        assert!(cache.memo_answers(&key, &plan).is_none());
    }
}
