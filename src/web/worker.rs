//! The worker side: loads and scores datasets off the UI thread.
//!
//! Files are read in slices (`Blob.slice().arrayBuffer()`), each pushed into the
//! core [`Loader`], with a progress message after each slice; the UI cancels by
//! terminating the worker. The loaded dataset stays here so the UI can ask for
//! another task or factor set without sending the data again.
//!
//! Both app modules run this loop; only the full module's worker is given
//! the model engine ([`handle_llm`], a [`LlmHandler`]), so the first-load
//! module's worker links none of it and answers a model message with an
//! error.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::llm::{self, Control};
use crate::data::Loader;
use crate::protocol::{FromWorker, Input, Session, ToWorker};

/// The example dataset shipped with the app.
pub const EXAMPLE: &[u8] = include_bytes!("../../www/example/example.jsonl");
/// Its name in reports.
pub const EXAMPLE_NAME: &str = "example.jsonl (built-in example)";

/// Bytes read per slice of a file.
const SLICE: f64 = 4.0 * 1024.0 * 1024.0;

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// How the worker writes its messages: `FromWorker::to_json` (the full
/// module) or `protocol::lite::write_from_worker` (the first-load module,
/// which so links no writer of the model tools' messages and report parts).
pub type Write = fn(&FromWorker) -> String;

thread_local! {
    /// The [`Write`] given to [`run`].
    static WRITE: std::cell::Cell<Option<Write>> = const { std::cell::Cell::new(None) };
}

fn write(msg: &FromWorker) -> String {
    (WRITE
        .with(std::cell::Cell::get)
        .expect("the worker writes after `run`"))(msg)
}

fn post(msg: &FromWorker) {
    let _ = scope().post_message(&JsValue::from_str(&write(msg)));
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// The time of a load's phases in the worker, summed per phase: what
/// `e2e/measure.mjs` compares with the CLI. After a load the worker posts
/// them as an object (`{profile_phases: {read: ms, …}, start, end, memory}`,
/// times since the epoch in ms, the Wasm memory's size in bytes), which the page's bridge ignores (it reads text).
struct Phases {
    clock: Option<(JsValue, js_sys::Function)>,
    origin: f64,
    start: f64,
    last: f64,
    sums: Vec<(&'static str, f64)>,
}

impl Phases {
    fn new() -> Phases {
        // `performance.now()` (sub-millisecond), else `Date.now()`.
        let perf = Reflect::get(&js_sys::global(), &"performance".into()).ok();
        let clock = perf.and_then(|p| {
            let f = Reflect::get(&p, &"now".into()).ok()?.dyn_into().ok()?;
            Some((p, f))
        });
        let origin = match &clock {
            Some((p, _)) => Reflect::get(p, &"timeOrigin".into())
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0),
            None => 0.0,
        };
        let mut p = Phases {
            clock,
            origin,
            start: 0.0,
            last: 0.0,
            sums: Vec::new(),
        };
        p.start = p.now();
        p.last = p.start;
        p
    }

    fn now(&self) -> f64 {
        match &self.clock {
            Some((p, f)) => f.call0(p).ok().and_then(|v| v.as_f64()).unwrap_or(0.0),
            None => now(),
        }
    }

    /// Ends the current phase: the time since the last mark goes to `name`.
    fn mark(&mut self, name: &'static str) {
        let t = self.now();
        let d = t - self.last;
        self.last = t;
        match self.sums.iter_mut().find(|(n, _)| *n == name) {
            Some((_, s)) => *s += d,
            None => self.sums.push((name, d)),
        }
    }

    fn post(&self) {
        let sums = Object::new();
        for (n, ms) in &self.sums {
            let _ = Reflect::set(&sums, &(*n).into(), &(*ms).into());
        }
        let msg = Object::new();
        let _ = Reflect::set(&msg, &"profile_phases".into(), &sums);
        let _ = Reflect::set(&msg, &"start".into(), &(self.origin + self.start).into());
        let _ = Reflect::set(&msg, &"end".into(), &(self.origin + self.last).into());
        // The size of the Wasm memory after the load (bytes).
        let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
        let bytes = memory
            .buffer()
            .unchecked_into::<js_sys::ArrayBuffer>()
            .byte_length();
        let _ = Reflect::set(&msg, &"memory".into(), &f64::from(bytes).into());
        let _ = scope().post_message(&msg);
    }
}

/// The worker's state: the session and the control of a running LLM run.
#[derive(Default)]
pub struct Worker {
    session: RefCell<Session>,
    control: RefCell<Rc<Control>>,
}

/// Handles the messages of model runs (estimate, run, pause, cache, …),
/// and scoring again (the report then has the model agents too).
pub type LlmHandler = for<'a> fn(&'a Worker, ToWorker) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// How the worker reads the page's messages.
pub type Parse = fn(&str) -> Result<ToWorker, String>;

/// Starts the worker's message loop; `llm` handles the model messages (the
/// full module's worker, which reads them with `ToWorker::from_json`);
/// `None` answers them with an error (the first-load module's worker, which
/// reads messages with `protocol::lite::to_worker`, refusing the model's).
/// Messages are written with `write`.
pub fn run(parse: Parse, write: Write, llm: Option<LlmHandler>) {
    WRITE.with(|w| w.set(Some(write)));
    let state = Rc::new(Worker::default());
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let state = state.clone();
        // Every message is handled in its own task, so that pause and cancel
        // arrive while a run is awaiting its calls.
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(message) = handle(&state, e.data(), parse, llm).await {
                post(&FromWorker::Failed { message });
            }
        });
    });
    scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    post(&FromWorker::Ready);
}

/// The largest Parquet file read in the browser (it is read whole: a
/// Parquet file's footer, at its end, says where its rows are).
const MAX_PARQUET_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;

/// Reads a Parquet file with the app's Parquet module, loaded on first use
/// (`self.profileParquet()`, defined by worker.js): the whole file is handed
/// over once, then its rows come back one row group at a time as JSON lines
/// and go into `loader` at their lines, with progress after each group.
async fn read_parquet(file: &web_sys::File, loader: &mut Loader) -> Result<(), String> {
    let total = file.size();
    if total > MAX_PARQUET_BYTES {
        return Err(format!(
            "{}: a Parquet file of {:.0} MB; the browser reads at most {:.0} MB (the CLI has no such limit)",
            file.name(),
            total / 1048576.0,
            MAX_PARQUET_BYTES / 1048576.0
        ));
    }
    let call = |module: &JsValue, name: &str, arg: &JsValue| -> Result<JsValue, String> {
        let f: js_sys::Function = Reflect::get(module, &name.into())
            .map_err(js_err)?
            .dyn_into()
            .map_err(|_| format!("the Parquet module has no {name}"))?;
        f.call1(&JsValue::NULL, arg).map_err(js_err)
    };
    let module = call(&js_sys::global(), "profileParquet", &JsValue::UNDEFINED)?;
    let module = JsFuture::from(js_sys::Promise::from(module))
        .await
        .map_err(|e| format!("cannot load the Parquet reader: {}", js_err(e)))?;
    let buf = JsFuture::from(file.array_buffer()).await.map_err(js_err)?;
    let groups = call(&module, "parquet_open", &Uint8Array::new(&buf).into())
        .map_err(|e| format!("{}: {e}", file.name()))?
        .as_f64()
        .unwrap_or(0.0) as u32;
    drop(buf);
    for g in 0..groups {
        let text = call(&module, "parquet_group", &g.into())?
            .as_string()
            .unwrap_or_default();
        let lines: crate::data::GroupLines =
            serde_json::from_str(&text).map_err(|e| e.to_string())?;
        lines.push_into(loader);
        post(&FromWorker::Progress {
            bytes: (total * f64::from(g + 1) / f64::from(groups)) as u64,
            total_bytes: total as u64,
            records: loader.records_read(),
        });
    }
    let _ = call(&module, "parquet_close", &JsValue::UNDEFINED);
    loader.note_bytes_read(total as u64);
    Ok(())
}

/// Wasm memory asked for at once before a file is read, per byte of the
/// file (a loaded dataset takes about twice its file's size).
const RESERVE_PER_BYTE: f64 = 2.0;

/// The least time between two progress messages of a load (ms).
const PROGRESS_EVERY_MS: f64 = 100.0;

/// Slices of a file asked for before the first is parsed (at most
/// `AHEAD * SLICE` bytes in flight).
const AHEAD: usize = 4;

/// Starts reading the slice of `file` at `offset` (at most [`SLICE`] bytes):
/// by worker.js's reader worker (`self.profileReadSlice`, which transfers
/// the slice here), else here with `Blob.arrayBuffer()`. A Blob's bytes
/// reach a worker only while its thread is idle, so slices read here are
/// not read while this worker parses; the reader worker's are.
fn read_slice(file: &web_sys::File, offset: f64, total: f64) -> Result<JsFuture, String> {
    let end = (offset + SLICE).min(total);
    let reader = Reflect::get(&js_sys::global(), &"profileReadSlice".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let promise = match reader {
        Some(f) => f
            .call3(&JsValue::NULL, file, &offset.into(), &end.into())
            .map_err(js_err)?
            .into(),
        None => file
            .slice_with_f64_and_f64(offset, end)
            .map_err(js_err)?
            .array_buffer(),
    };
    Ok(JsFuture::from(promise))
}

/// A JavaScript error as text: a string as it is, an `Error` as its name and
/// message (`JSON.stringify` gives `{}` for one), anything else as JSON.
fn js_err(e: JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.to_string());
    }
    js_sys::JSON::stringify(&e)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

async fn handle(
    state: &Worker,
    data: JsValue,
    parse: Parse,
    llm: Option<LlmHandler>,
) -> Result<(), String> {
    let cmd = Reflect::get(&data, &"cmd".into()).map_err(js_err)?;
    let cmd = parse(&cmd.as_string().ok_or("message without a command")?)?;
    match cmd {
        ToWorker::Load {
            name,
            input,
            options,
            score,
        } => {
            let started = now();
            let mut phases = Phases::new();
            let summeval_label = options.summeval_label;
            let mut options = options;
            if matches!(input, Input::File) && options.table.is_none() {
                // A dropped .csv/.tsv file is a table; its header names the fields.
                options.table = options.table_for(&name);
            }
            let mut loader = Loader::new(options);
            let name = match input {
                Input::Example => {
                    loader.push(EXAMPLE);
                    EXAMPLE_NAME.to_owned()
                }
                Input::Text(text) => {
                    loader.push(text.as_bytes());
                    name
                }
                Input::File => {
                    let file: web_sys::File = Reflect::get(&data, &"file".into())
                        .map_err(js_err)?
                        .dyn_into()
                        .map_err(|_| "no file in the message".to_owned())?;
                    let total = file.size();
                    let head = file
                        .slice_with_f64_and_f64(0.0, 4.0f64.min(total))
                        .map_err(js_err)?;
                    let head = JsFuture::from(head.array_buffer()).await.map_err(js_err)?;
                    if crate::data::is_parquet(&Uint8Array::new(&head).to_vec()) {
                        read_parquet(&file, &mut loader).await?;
                    }
                    let mut offset = if loader.bytes_read() > 0 { total } else { 0.0 };
                    if offset < total {
                        // The allocator grows the Wasm memory by what each
                        // allocation lacks, 64 KB at a time: thousands of
                        // `memory.grow` calls for a big file. One allocation
                        // of what the load will take grows it once; freed at
                        // once, it stays the allocator's free memory (a Wasm
                        // memory never shrinks). Skipped when the memory
                        // cannot grow that far.
                        let mut reserve = Vec::<u8>::new();
                        let n = (total * RESERVE_PER_BYTE).min(f64::from(u32::MAX)) as usize;
                        if reserve.try_reserve_exact(n).is_ok() {
                            // Not an allocation the compiler may remove.
                            std::hint::black_box(reserve.as_mut_ptr());
                        }
                    }
                    phases.mark("start");
                    // The next slices are asked for before this one is
                    // parsed, so they are read while the loader works; each
                    // slice is copied into the same buffer in Wasm memory.
                    let mut asked = offset;
                    let mut reads = std::collections::VecDeque::new();
                    let mut bytes = Vec::new();
                    let mut last_progress = f64::NEG_INFINITY;
                    loop {
                        while asked < total && reads.len() < AHEAD {
                            reads.push_back(read_slice(&file, asked, total)?);
                            asked = (asked + SLICE).min(total);
                        }
                        let Some(reading) = reads.pop_front() else {
                            break;
                        };
                        let buf = Uint8Array::new(&reading.await.map_err(js_err)?);
                        let waited = if bytes.is_empty() {
                            "first read"
                        } else {
                            "read"
                        };
                        phases.mark(waited);
                        offset = (offset + SLICE).min(total);
                        bytes.resize(buf.length() as usize, 0);
                        buf.copy_to(&mut bytes);
                        drop(buf);
                        phases.mark("copy");
                        loader.push(&bytes);
                        phases.mark("parse");
                        // Progress ten times a second at most (each message
                        // redraws the page, which takes a core from the
                        // load), and at the last slice.
                        if offset >= total || now() - last_progress >= PROGRESS_EVERY_MS {
                            last_progress = now();
                            post(&FromWorker::Progress {
                                bytes: offset as u64,
                                total_bytes: total as u64,
                                records: loader.records_read(),
                            });
                        }
                        phases.mark("progress");
                    }
                    name
                }
            };
            let msg = state.session.borrow_mut().finish_load_marked(
                name,
                loader,
                summeval_label,
                &score,
                || now() - started,
                &mut |p| phases.mark(p),
            );
            let text = write(&msg);
            phases.mark("serialize");
            let _ = scope().post_message(&JsValue::from_str(&text));
            drop(text);
            phases.mark("post");
            phases.post();
        }
        // With the model engine, the report has the model agents too.
        ToWorker::Score(req) => match llm {
            Some(f) => f(state, ToWorker::Score(req)).await,
            None => post(&state.session.borrow().score_core(&req)),
        },
        cmd @ (ToWorker::EstimateLlm(_)
        | ToWorker::RunLlm { .. }
        | ToWorker::PauseLlm
        | ToWorker::ResumeLlm
        | ToWorker::CancelLlm
        | ToWorker::ClearLlm { .. }
        | ToWorker::ExportCache
        | ToWorker::ImportCache { .. }
        | ToWorker::ImportAnnotations { .. }
        | ToWorker::RawReply { .. }) => match llm {
            Some(f) => f(state, cmd).await,
            None => post(&FromWorker::LlmFailed {
                message: "the model tools are not loaded in this worker".into(),
            }),
        },
        ToWorker::Drill(req) => post(&state.session.borrow_mut().drill_page(req)),
        ToWorker::Evidence {
            factor,
            agent,
            pair,
        } => post(
            &state
                .session
                .borrow_mut()
                .evidence(factor.as_deref(), &agent, pair),
        ),
    }
    Ok(())
}

/// The full module's [`LlmHandler`]: model runs through [`llm`].
pub fn handle_llm(state: &Worker, cmd: ToWorker) -> Pin<Box<dyn Future<Output = ()> + '_>> {
    Box::pin(async move {
        match cmd {
            ToWorker::Score(req) => post(&state.session.borrow().score(&req)),
            ToWorker::EstimateLlm(req) => post(&llm::estimate(&state.session, &req).await),
            ToWorker::RunLlm { request, key } => {
                if state.control.borrow().running.get() {
                    post(&FromWorker::LlmFailed {
                        message: "a model run is already going: pause or cancel it first".into(),
                    });
                    return;
                }
                let control = Rc::new(Control::default());
                control.running.set(true);
                *state.control.borrow_mut() = control.clone();
                let msg = llm::run(
                    &state.session,
                    &request,
                    &key.0,
                    &llm::Fetch,
                    &control,
                    &post,
                )
                .await;
                control.running.set(false);
                post(&msg);
            }
            ToWorker::PauseLlm => state.control.borrow().paused.set(true),
            ToWorker::ResumeLlm => state.control.borrow().paused.set(false),
            ToWorker::CancelLlm => state.control.borrow().cancelled.set(true),
            ToWorker::ClearLlm { score } => post(&state.session.borrow_mut().clear_llm(&score)),
            ToWorker::ExportCache => post(&llm::export_cache().await),
            ToWorker::ImportCache { text } => post(&llm::import_cache(&text).await),
            ToWorker::ImportAnnotations { text, score } => {
                post(&state.session.borrow_mut().import_annotations(&text, &score))
            }
            ToWorker::RawReply {
                factor,
                agent,
                pair,
                side,
                question,
            } => post(&llm::raw_reply(&state.session, &factor, &agent, pair, side, question).await),
            _ => {}
        }
    })
}
