//! The browser's edge of LLM runs (worker side): the core
//! [`workflow`](crate::workflow) and async [`drive`](crate::llm::drive)
//! do the deciding, pacing and retrying; this file only sends requests with
//! `fetch` (gloo-net), sleeps with `setTimeout`, keeps answers in IndexedDB
//! and posts messages.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_net::http::{Method, RequestBuilder};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::idb::IdbCache;
use crate::llm::cache::{CacheEntry, MemoryCache};
use crate::llm::drive::{Clock, Store};
pub use crate::llm::drive::{Control, Transport};
use crate::llm::provider::{
    parse_response, reply_head, CallError, Completion, HttpRequest, Provider, MAX_REPLY_BYTES,
};
use crate::protocol::{FromWorker, LlmRequest, Session};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Resolves after `s` seconds (works in windows and workers).
pub async fn sleep_s(s: f64) {
    let ms = (s * 1000.0).clamp(0.0, 2_147_483_647.0);
    let p = Promise::new(&mut |resolve: Function, _| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(p).await;
}

/// `fetch`, through gloo-net. The HTTP status is checked by the core's
/// [`parse_response`] (gloo-net does not treat 4xx/5xx as errors).
pub struct Fetch;

impl Transport for Fetch {
    async fn send(
        &self,
        provider: Provider,
        req: &HttpRequest,
        timeout_s: f64,
    ) -> Result<Completion, CallError> {
        let controller = web_sys::AbortController::new()
            .map_err(|_| CallError::Network("cannot create an AbortController".into()))?;
        let timed_out = Rc::new(Cell::new(false));
        let abort = {
            let (c, t) = (controller.clone(), timed_out.clone());
            Closure::once_into_js(move || {
                t.set(true);
                c.abort();
            })
        };
        let timer = set_timeout(abort.unchecked_ref(), timeout_s * 1000.0);
        let method = Method::from_bytes(req.method.as_bytes()).unwrap_or(Method::POST);
        let mut b = RequestBuilder::new(&req.url)
            .method(method)
            .abort_signal(Some(&controller.signal()));
        for (k, v) in &req.headers {
            b = b.header(k, v);
        }
        let net = |e: gloo_net::Error| {
            if timed_out.get() {
                CallError::Timeout
            } else {
                // The browser hides the cause (DNS, refused, CORS) from scripts.
                CallError::Network(format!(
                    "{e} (the server did not answer, or does not allow calls from this page: CORS)"
                ))
            }
        };
        let result = async {
            let resp = b
                .body(req.body.clone())
                .map_err(net)?
                .send()
                .await
                .map_err(net)?;
            let status = resp.status();
            let headers: Vec<(String, String)> = resp
                .headers()
                .entries()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            let too_large = |head: String| CallError::TooLarge {
                limit: MAX_REPLY_BYTES,
                head,
            };
            // A declared length over the cap: not read at all.
            let declared = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.trim().parse::<u64>().ok());
            if declared.is_some_and(|n| n > MAX_REPLY_BYTES as u64) {
                return Err(too_large(format!(
                    "(not read: content-length {})",
                    declared.unwrap_or_default()
                )));
            }
            let body = resp.text().await.map_err(net)?;
            if body.len() > MAX_REPLY_BYTES {
                return Err(too_large(reply_head(body.as_bytes(), 200)));
            }
            Ok::<_, CallError>((status, headers, body))
        }
        .await;
        clear_timeout(&timer);
        let (status, headers, body) = result?;
        parse_response(provider, status, &headers, &body)
    }
}

/// The browser's timer: `setTimeout` and `Date.now`.
pub struct Timer;

impl Clock for Timer {
    async fn sleep_s(&self, s: f64) {
        sleep_s(s).await;
    }

    fn now_s(&self) -> f64 {
        js_sys::Date::now() / 1000.0
    }
}

/// The answer cache of a run: IndexedDB, and its contents in memory.
pub struct Caches {
    mem: RefCell<MemoryCache>,
    idb: IdbCache,
    /// An answer could not be saved.
    warned: Cell<bool>,
}

impl Caches {
    /// Opens IndexedDB and loads it.
    ///
    /// # Errors
    /// When IndexedDB is unavailable.
    pub async fn open() -> Result<Caches, String> {
        let idb = IdbCache::open().await?;
        let mem = idb.load().await.map(|(m, _)| m).unwrap_or_default();
        Ok(Caches {
            mem: RefCell::new(mem),
            idb,
            warned: Cell::new(false),
        })
    }
}

impl Store for Caches {
    fn memory(&self) -> &RefCell<MemoryCache> {
        &self.mem
    }

    async fn commit(&self, entry: &CacheEntry) -> Result<(), String> {
        self.idb.put(entry).await.map_err(|e| {
            self.warned.set(true);
            format!("the browser cache could not be written ({e})")
        })
    }
}

/// Runs a model on the session's dataset (factor extraction, judge or
/// writer) and returns the final message: the report with the run in it,
/// or why the run could not start.
pub async fn run<T: Transport>(
    session: &RefCell<Session>,
    req: &LlmRequest,
    key: &str,
    transport: &T,
    control: &Control,
    post: &dyn Fn(&FromWorker),
) -> FromWorker {
    if let Err(problems) = req.choice.settings.validate() {
        return FromWorker::LlmFailed {
            message: problems.join("; "),
        };
    }
    let caches = match Caches::open().await {
        Ok(c) => c,
        Err(message) => return FromWorker::LlmFailed { message },
    };
    let mut msg =
        crate::protocol::run_model(session, req, key, transport, &Timer, &caches, control, post)
            .await;
    if let FromWorker::LlmFinished { warning, .. } = &mut msg {
        if caches.warned.get() {
            *warning = Some(
                "some answers could not be saved in the browser cache (storage full or \
blocked), so the run stopped: a reload will ask for them again"
                    .into(),
            );
        }
    }
    msg
}

/// The estimate for a run, the browser cache included. For a writer only
/// the writing is estimated (the generated texts' factors are not known yet).
pub async fn estimate(session: &RefCell<Session>, req: &LlmRequest) -> FromWorker {
    let mem = match IdbCache::open().await {
        Ok(db) => db.load().await.map(|(m, _)| m).unwrap_or_default(),
        Err(_) => MemoryCache::new(),
    };
    session.borrow().estimate_model(req, &mem)
}

/// The whole cache as JSONL (for sharing).
pub async fn export_cache() -> FromWorker {
    match IdbCache::open().await {
        Ok(db) => match db.load().await {
            Ok((mem, _)) => FromWorker::CacheExported {
                entries: mem.len() as u64,
                jsonl: mem.to_jsonl(),
            },
            Err(message) => FromWorker::LlmFailed { message },
        },
        Err(message) => FromWorker::LlmFailed { message },
    }
}

/// Merges a shared export into the cache.
pub async fn import_cache(text: &str) -> FromWorker {
    let mut incoming = MemoryCache::new();
    let (_, problems) = incoming.import_jsonl(text);
    let db = match IdbCache::open().await {
        Ok(db) => db,
        Err(message) => return FromWorker::LlmFailed { message },
    };
    let existing = db.load().await.map(|(m, _)| m).unwrap_or_default();
    let new: Vec<_> = incoming
        .entries()
        .filter(|e| existing.get(&e.key).is_none())
        .cloned()
        .collect();
    match db.put_all(&new).await {
        Ok(()) => FromWorker::Imported {
            what: "cache".into(),
            added: new.len() as u64,
            problems,
            report: None,
        },
        Err(message) => FromWorker::LlmFailed { message },
    }
}

/// The raw reply behind one response's value of an LLM factor: the entry
/// under its answer's key in the browser cache, shown (bounded) only when it
/// still holds the answer the value came from.
pub async fn raw_reply(
    session: &RefCell<Session>,
    factor: &str,
    agent: &str,
    pair: u32,
    side: crate::drill::Side,
    question: u32,
) -> FromWorker {
    let found = session
        .borrow()
        .reply_ref(factor, agent, pair, side, question);
    let (r, answer) = match found {
        Ok(x) => x,
        Err(message) => return FromWorker::DrillFailed { message },
    };
    let entry = match &r.key {
        None => None,
        Some(k) => match IdbCache::open().await {
            Ok(db) => match db.get(k).await {
                Ok(e) => e,
                Err(message) => return FromWorker::DrillFailed { message },
            },
            Err(message) => return FromWorker::DrillFailed { message },
        },
    };
    FromWorker::RawReply {
        pair,
        side,
        question,
        reply: crate::drill::raw_reply(&r, &answer, entry.as_ref()),
    }
}
