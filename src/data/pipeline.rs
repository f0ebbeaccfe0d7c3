//! Parsing records on worker threads (natively; wasm32 loads on one thread).
//!
//! The loader's thread still reads, decompresses and frames the bytes (so
//! line numbers, element indices, records over the limit and every
//! diagnostic are decided exactly as on one thread) and applies the parsed
//! records in file order (so text ids, clusters, skipped-line lists and
//! format detection are those of the sequential loader). Only the step in
//! between, JSON bytes → object, moves: the framed records are copied into
//! batches of about [`BATCH_BYTES`], batch `k` goes to worker `k mod n`, and
//! the results are taken back in the order the batches were sent. At most
//! [`IN_FLIGHT_PER_WORKER`] batches per worker are out at once, so memory
//! stays bounded whatever the file's size; the batches' buffers are reused.

use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use super::framing::{At, Rec};
use super::loader::{parse_record, Parsed};

/// Bytes of framed records per batch.
pub(crate) const BATCH_BYTES: usize = 1 << 20;

/// Batches a worker may hold (queued, in progress or parsed but not yet taken).
const IN_FLIGHT_PER_WORKER: usize = 3;

/// A record of a batch: where it starts and its bytes in the batch's buffer
/// (`None`: over the size limit, nothing to parse).
type Slot = (At, Option<Range<usize>>);

struct Batch {
    bytes: Vec<u8>,
    recs: Vec<Slot>,
}

/// A batch's records parsed (`None`: over the size limit), and its buffer
/// back for reuse.
pub(crate) struct Done {
    pub(crate) recs: Vec<(At, Option<Parsed>)>,
    bytes: Vec<u8>,
}

struct Worker {
    jobs: Option<SyncSender<Batch>>,
    results: Receiver<Done>,
    handle: Option<JoinHandle<()>>,
}

/// Worker threads that parse the loader's records in batches.
pub(crate) struct Workers {
    workers: Vec<Worker>,
    /// Batches sent so far, and taken back.
    sent: usize,
    taken: usize,
    open: Batch,
    spare: Vec<Vec<u8>>,
    batch_bytes: usize,
}

impl Workers {
    /// `n` workers (at least 1) parsing batches of about `batch_bytes`, or
    /// `None` if no thread could be started.
    pub(crate) fn start(n: usize, batch_bytes: usize) -> Option<Workers> {
        let mut workers = Vec::new();
        for _ in 0..n.max(1) {
            let (jobs, job_rx) = sync_channel::<Batch>(IN_FLIGHT_PER_WORKER);
            let (done_tx, results) = sync_channel::<Done>(IN_FLIGHT_PER_WORKER);
            let handle = std::thread::Builder::new()
                .name("profile-parse".into())
                .spawn(move || {
                    while let Ok(b) = job_rx.recv() {
                        let recs = b
                            .recs
                            .iter()
                            .map(|(at, r)| (*at, r.clone().map(|r| parse_record(*at, &b.bytes[r]))))
                            .collect();
                        let mut bytes = b.bytes;
                        bytes.clear();
                        if done_tx.send(Done { recs, bytes }).is_err() {
                            break;
                        }
                    }
                });
            match handle {
                Ok(h) => workers.push(Worker {
                    jobs: Some(jobs),
                    results,
                    handle: Some(h),
                }),
                Err(_) => break,
            }
        }
        if workers.is_empty() {
            return None;
        }
        Some(Workers {
            workers,
            sent: 0,
            taken: 0,
            open: Batch {
                bytes: Vec::new(),
                recs: Vec::new(),
            },
            spare: Vec::new(),
            batch_bytes: batch_bytes.max(1),
        })
    }

    /// The number of worker threads.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.workers.len()
    }

    /// Adds a framed record. When that fills a batch it is sent, and when
    /// as many batches as allowed are out, the oldest one's results are
    /// waited for and returned (to be applied before anything else).
    pub(crate) fn add(&mut self, at: At, rec: Rec<'_>) -> Option<Done> {
        match rec {
            Rec::Bytes(b) => {
                let start = self.open.bytes.len();
                self.open.bytes.extend_from_slice(b);
                self.open.recs.push((at, Some(start..start + b.len())));
            }
            Rec::TooLarge => self.open.recs.push((at, None)),
        }
        if self.open.bytes.len() < self.batch_bytes {
            return None;
        }
        let oldest = if self.sent - self.taken >= self.workers.len() * IN_FLIGHT_PER_WORKER {
            self.take()
        } else {
            None
        };
        self.send();
        oldest
    }

    fn send(&mut self) {
        if self.open.recs.is_empty() {
            return;
        }
        let bytes = self.spare.pop().unwrap_or_default();
        let batch = std::mem::replace(
            &mut self.open,
            Batch {
                bytes,
                recs: Vec::new(),
            },
        );
        let w = &self.workers[self.sent % self.workers.len()];
        w.jobs
            .as_ref()
            .expect("a running worker")
            .send(batch)
            .expect("a parsing worker stopped");
        self.sent += 1;
    }

    /// The oldest batch's results, if one is out.
    fn take(&mut self) -> Option<Done> {
        if self.taken == self.sent {
            return None;
        }
        let w = &self.workers[self.taken % self.workers.len()];
        let mut done = w.results.recv().expect("a parsing worker stopped");
        self.taken += 1;
        self.spare.push(std::mem::take(&mut done.bytes));
        Some(done)
    }

    /// Sends the batch being filled, then returns every batch still out,
    /// in order.
    pub(crate) fn drain(&mut self) -> Vec<Done> {
        self.send();
        let mut out = Vec::new();
        while let Some(d) = self.take() {
            out.push(d);
        }
        out
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for w in self.workers.drain(..) {
            let Worker {
                jobs,
                results,
                handle,
            } = w;
            // Closing both channels ends the worker's loop (a worker waiting
            // to hand over a result gets an error and stops).
            drop(jobs);
            drop(results);
            if let Some(h) = handle {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::{Dataset, FormatOptions, Loader};

    /// Everything a load gives, as one comparable string (pairs, texts
    /// and their ids, clusters, diagnostics, counts, fields).
    fn summary(r: Result<Dataset, super::super::LoadError>) -> String {
        match r {
            Ok(ds) => format!("{ds:?}"),
            Err(e) => format!("error: {e:?}"),
        }
    }

    /// The file pushed in `chunk`-byte pieces, on one thread or with
    /// `workers` parsing batches of `batch` bytes.
    fn load(
        bytes: &[u8],
        opts: &FormatOptions,
        chunk: usize,
        threads: Option<(usize, usize)>,
    ) -> String {
        let mut l = Loader::new(opts.clone());
        if let Some((workers, batch)) = threads {
            l.parse_on_threads(workers, batch);
            assert_eq!(l.workers.as_ref().map(|w| w.len()), Some(workers));
        }
        for c in bytes.chunks(chunk.max(1)) {
            l.push(c);
        }
        summary(l.finish())
    }

    fn same_on_threads(name: &str, bytes: &[u8], opts: &FormatOptions) {
        let want = load(bytes, opts, bytes.len().max(1), None);
        for chunk in [1, 3, 64, 4096, bytes.len()] {
            assert_eq!(
                load(bytes, opts, chunk, None),
                want,
                "{name}: chunk {chunk} on one thread"
            );
            for workers in [1, 2, 3] {
                for batch in [1, 40, 300, 1 << 20] {
                    assert_eq!(
                        load(bytes, opts, chunk, Some((workers, batch))),
                        want,
                        "{name}: chunk {chunk}, {workers} workers, batches of {batch} bytes"
                    );
                }
            }
        }
    }

    /// JSON Lines with a byte-order mark, CRLF endings, blank lines, bad
    /// records (invalid JSON, not an object, a missing field, a bad label,
    /// a duplicate key) before and after the format is known and wherever
    /// the batches end, a line longer than a batch, a human tie, repeated
    /// texts and a last line without its newline.
    fn damaged_lines() -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
        s.extend_from_slice(b"not json at all\r\n\r\n[1, 2]\n");
        let long = "word ".repeat(200);
        for i in 0..40 {
            let line = match i % 9 {
                0 => format!("{{\"input\": \"q{}\", \"response_a\": \"a {i}\", \"response_b\": \"{long}\", \"preference\": \"b\"}}", i % 4),
                1 => "{\"input\": \"q\", \"response_a\": \"x\"".to_owned(),
                2 => format!("{{\"input\": \"q{}\", \"response_a\": \"same\", \"response_b\": \"b {i}\", \"preference\": \"a\", \"category\": \"c{}\"}}", i % 3, i % 2),
                3 => String::new(),
                4 => format!("{{\"response_a\": \"a\", \"response_b\": \"b{i}\", \"preference\": \"tie\"}}"),
                5 => "{\"response_a\": \"a\", \"preference\": \"a\"}".to_owned(),
                6 => format!("  {{\"input\": \"q\", \"response_a\": \"é {i}\", \"response_b\": \"same\", \"preference\": \"maybe\"}}  "),
                7 => "{\"input\": \"q\", \"input\": \"r\", \"response_a\": \"a\", \"response_b\": \"b\", \"preference\": \"a\"}".to_owned(),
                _ => format!("{{\"source\": \"s{}\", \"response_a\": \"same\", \"response_b\": \"a {i}\", \"preference\": 1}}", i % 5),
            };
            s.extend_from_slice(line.as_bytes());
            s.extend_from_slice(if i % 2 == 0 { b"\r\n" } else { b"\n" });
        }
        s.extend_from_slice(
            b"\n   \n{\"response_a\": \"last\", \"response_b\": \"line\", \"preference\": \"a\"}",
        );
        s
    }

    #[test]
    fn damaged_lines_load_the_same_on_threads() {
        let bytes = damaged_lines();
        same_on_threads("damaged lines", &bytes, &FormatOptions::default());
        let fixture = include_bytes!("../../tests/fixtures/broken.jsonl");
        same_on_threads("broken.jsonl", fixture, &FormatOptions::default());
        // A damaged file whose format is never detected fails the same way.
        same_on_threads(
            "no format",
            b"{\"x\": 1}\nnope\n{\"y\": 2}\n",
            &FormatOptions::default(),
        );
    }

    #[test]
    fn arrays_records_over_the_limit_and_gzip_load_the_same_on_threads() {
        let fixture = include_bytes!("../../tests/fixtures/broken_llmbar.json");
        same_on_threads("broken_llmbar.json", fixture, &FormatOptions::default());
        // Records over a 1 MiB limit (a line and an array element), between good ones.
        let opts = FormatOptions {
            max_record_mb: 1,
            ..FormatOptions::default()
        };
        let huge = "y".repeat(1 << 20);
        let good = "{\"response_a\": \"a\", \"response_b\": \"bb\", \"preference\": \"b\"}";
        let lines = format!(
            "{good}\n{{\"response_a\": \"{huge}\"}}\n{good}\nbad\n{{\"response_a\": \"{huge}\"}}"
        );
        let want = load(lines.as_bytes(), &opts, lines.len(), None);
        assert!(
            want.contains("record over 1 MiB skipped"),
            "{}",
            &want[..200]
        );
        let array = format!("[{good},\n {{\"response_a\": \"{huge}\"}}, {good}, 7]");
        for text in [&lines, &array] {
            let want = load(text.as_bytes(), &opts, text.len(), None);
            for chunk in [1000, 1 << 16] {
                for (workers, batch) in [(1, 1), (2, 100), (3, 1 << 20)] {
                    assert_eq!(
                        load(text.as_bytes(), &opts, chunk, Some((workers, batch))),
                        want
                    );
                }
            }
        }
        // Gzip, whole and cut short (its diagnostic comes after the records before it).
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&damaged_lines()).unwrap();
        let gz = gz.finish().unwrap();
        same_on_threads("gzip", &gz, &FormatOptions::default());
        let cut = &gz[..gz.len() * 2 / 3];
        let want = load(cut, &FormatOptions::default(), cut.len(), None);
        assert!(
            want.contains("gzip stream is damaged") || want.contains("gzip"),
            "{want}"
        );
        same_on_threads("gzip cut short", cut, &FormatOptions::default());
    }

    /// `load_reader` itself moves to threads past its first bytes; the
    /// dataset is the one of `load_bytes` (one thread).
    #[test]
    fn load_reader_on_threads_equals_load_bytes() {
        let mut bytes = Vec::new();
        let mut i = 0u64;
        while bytes.len() < (super::super::loader::PARALLEL_FROM_BYTES as usize) * 3 / 2 {
            let line = if i % 997 == 0 {
                format!("{{\"response_a\": \"broken {i}\"\n")
            } else {
                format!(
                    "{{\"input\": \"q{}\", \"response_a\": \"answer {}\", \"response_b\": \"answer {i} {}\", \"preference\": \"{}\"}}\n",
                    i % 301,
                    i % 1009,
                    "z".repeat((i % 50) as usize),
                    ["a", "b", "tie"][(i % 3) as usize]
                )
            };
            bytes.extend_from_slice(line.as_bytes());
            i += 1;
        }
        let want = summary(super::super::load_bytes(&bytes, FormatOptions::default()));
        let got = summary(super::super::load_reader(
            &bytes[..],
            FormatOptions::default(),
        ));
        assert!(want.contains("invalid JSON"));
        assert_eq!(got, want);
    }
}
