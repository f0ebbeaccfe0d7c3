// Reads a dropped file's slices for the app's worker. worker.js imports this
// module and calls startReader as soon as the app's worker is ready, which
// starts this same file as a worker of its own (named 'reader'); readSlice
// asks it for a slice, which it reads and transfers back. A Blob's bytes
// reach a worker only while its thread is idle, so slices the app's worker
// read itself would not be read while it parses.
if (self.name === 'reader') {
  self.onmessage = async ({ data: { id, file, start, end } }) => {
    try {
      const buf = await file.slice(start, end).arrayBuffer();
      self.postMessage({ id, buf }, [buf]);
    } catch (e) {
      self.postMessage({ id, error: String(e) });
    }
  };
}

let reader;
const reads = new Map();
let ids = 0;

/** Starts the reader worker, if it is not running. */
export function startReader() {
  if (!reader) {
    const w = new Worker(import.meta.url, { type: 'module', name: 'reader' });
    reader = w;
    w.onmessage = ({ data: { id, buf, error } }) => {
      const r = reads.get(id);
      if (!r) return;
      reads.delete(id);
      if (error === undefined) r.ok(buf);
      else r.fail(error);
    };
    // A reader that failed (its script, or the worker itself) is dropped
    // with the reads it held; the next read starts a new one.
    w.onerror = (e) => {
      // Handled here (the reads fall back to the app's worker): not passed
      // on to the app's worker, whose own error the page would report.
      e.preventDefault?.();
      if (reader === w) reader = undefined;
      w.terminate();
      for (const r of reads.values()) r.fail(`cannot read the file: ${e.message}`);
      reads.clear();
    };
  }
}

/** The bytes of `file` from `start` to `end`, as an ArrayBuffer. */
export function readSlice(file, start, end) {
  startReader();
  const id = ids++;
  return new Promise((ok, fail) => {
    reads.set(id, { ok, fail });
    reader.postMessage({ id, file, start, end });
  });
}
