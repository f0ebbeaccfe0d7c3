// The app's worker: the same WebAssembly module as the page, entered through
// `worker_entry` (its `main` sees no window and does nothing here). The full
// app starts it as worker.js?full, which loads the full module (with the
// model engine) instead of the first-load one.
const full = new URL(import.meta.url).searchParams.has('full');
const { default: init, worker_entry } = await (full ? import('./app-full.js') : import('./app.js'));

// The Parquet reader, a Wasm module of its own, loaded the first time a
// Parquet file is dropped (the worker calls this; Rust cannot `import()`).
// A reader that could not be loaded is asked for again with the next file.
let parquet;
self.profileParquet = () => {
  parquet ??= import('./profile-parquet.js')
    .then(async (m) => {
      await m.default({ module_or_path: new URL('./profile-parquet_bg.wasm', import.meta.url) });
      return m;
    })
    .catch((e) => {
      parquet = undefined;
      throw e;
    });
  return parquet;
};

// A dropped file's slices, read by a worker of their own (reader.js, started
// as soon as this worker is ready: a worker takes about 80 ms to start, which
// a load would otherwise wait): the worker calls this for a few slices
// ahead. When the reader cannot be loaded or fails, the slice is read here
// (the load is slower, not lost), and the next slice tries the reader again.
let reader;
const loadReader = () =>
  (reader ??= import('./reader.js').catch((e) => {
    reader = undefined;
    throw e;
  }));
self.profileReadSlice = (file, start, end) =>
  loadReader()
    .then((m) => m.readSlice(file, start, end))
    .catch(() => file.slice(start, end).arrayBuffer());

await init({ module_or_path: new URL(full ? './app-full_bg.wasm' : './app_bg.wasm', import.meta.url) });
worker_entry();
loadReader()
  .then((m) => m.startReader())
  .catch(() => {});
