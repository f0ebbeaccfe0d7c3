//! The answer cache in IndexedDB (worker side): one object store of
//! [`CacheEntry`] JSON texts keyed by cache key. A success is written, and
//! its transaction committed, before the answer is used, so a reload never
//! loses a paid call. The API key is never part of an entry.

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbRequest, IdbTransaction, IdbTransactionMode, WorkerGlobalScope};

use crate::llm::cache::{CacheEntry, MemoryCache};

const DB: &str = "profile";
const STORE: &str = "answers";
const VERSION: u32 = 1;

fn err(context: &str, e: JsValue) -> String {
    let detail = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into());
    format!("browser cache (IndexedDB): {context}: {detail}")
}

/// Resolves with the request's result once it succeeds.
async fn done(req: &IdbRequest) -> Result<JsValue, JsValue> {
    let req2 = req.clone();
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let (r, ok) = (req2.clone(), resolve);
        let on_ok = Closure::once_into_js(move || {
            let _ = ok.call1(&JsValue::NULL, &r.result().unwrap_or(JsValue::UNDEFINED));
        });
        let (r, bad) = (req2.clone(), reject);
        let on_err = Closure::once_into_js(move || {
            let e = r
                .error()
                .ok()
                .flatten()
                .map_or(JsValue::from_str("request failed"), JsValue::from);
            let _ = bad.call1(&JsValue::NULL, &e);
        });
        req2.set_onsuccess(Some(on_ok.unchecked_ref()));
        req2.set_onerror(Some(on_err.unchecked_ref()));
    });
    JsFuture::from(promise).await
}

/// Resolves when the transaction has committed.
async fn committed(tx: &IdbTransaction) -> Result<(), JsValue> {
    let tx2 = tx.clone();
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let on_ok = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let on_err = Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str("transaction failed"));
        });
        tx2.set_oncomplete(Some(on_ok.unchecked_ref()));
        tx2.set_onerror(Some(on_err.unchecked_ref()));
        tx2.set_onabort(Some(on_err.unchecked_ref()));
    });
    JsFuture::from(promise).await.map(|_| ())
}

/// The open cache database.
pub struct IdbCache {
    db: IdbDatabase,
}

impl IdbCache {
    /// Opens (creating) the database.
    ///
    /// # Errors
    /// When IndexedDB is unavailable (e.g. some private windows) or fails.
    pub async fn open() -> Result<IdbCache, String> {
        let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
        let factory = scope
            .indexed_db()
            .map_err(|e| err("unavailable", e))?
            .ok_or("browser cache (IndexedDB) is not available in this browser")?;
        let open = factory
            .open_with_u32(DB, VERSION)
            .map_err(|e| err("open", e))?;
        let o2 = open.clone();
        let upgrade = Closure::once_into_js(move || {
            if let Ok(db) = o2.result() {
                let db: IdbDatabase = db.unchecked_into();
                if !db.object_store_names().contains(STORE) {
                    let _ = db.create_object_store(STORE);
                }
            }
        });
        open.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
        let db = done(&open).await.map_err(|e| err("open", e))?;
        Ok(IdbCache {
            db: db.unchecked_into(),
        })
    }

    fn tx(&self, mode: IdbTransactionMode) -> Result<IdbTransaction, String> {
        self.db
            .transaction_with_str_and_mode(STORE, mode)
            .map_err(|e| err("transaction", e))
    }

    /// Every stored entry; unreadable ones are counted, not returned.
    pub async fn load(&self) -> Result<(MemoryCache, usize), String> {
        let tx = self.tx(IdbTransactionMode::Readonly)?;
        let store = tx.object_store(STORE).map_err(|e| err("store", e))?;
        let all = done(&store.get_all().map_err(|e| err("read", e))?)
            .await
            .map_err(|e| err("read", e))?;
        let mut mem = MemoryCache::new();
        let mut bad = 0;
        for v in Array::from(&all).iter() {
            match v
                .as_string()
                .and_then(|s| serde_json::from_str::<CacheEntry>(&s).ok())
            {
                Some(e) => {
                    mem.put(e);
                }
                None => bad += 1,
            }
        }
        Ok((mem, bad))
    }

    /// The entry stored under `key`, if any (and readable).
    pub async fn get(&self, key: &str) -> Result<Option<CacheEntry>, String> {
        let tx = self.tx(IdbTransactionMode::Readonly)?;
        let store = tx.object_store(STORE).map_err(|e| err("store", e))?;
        let v = done(
            &store
                .get(&JsValue::from_str(key))
                .map_err(|e| err("read", e))?,
        )
        .await
        .map_err(|e| err("read", e))?;
        Ok(v.as_string()
            .and_then(|s| serde_json::from_str::<CacheEntry>(&s).ok()))
    }

    /// Stores entries and waits until they are committed.
    pub async fn put_all(&self, entries: &[CacheEntry]) -> Result<(), String> {
        if entries.is_empty() {
            return Ok(());
        }
        let tx = self.tx(IdbTransactionMode::Readwrite)?;
        let store = tx.object_store(STORE).map_err(|e| err("store", e))?;
        for e in entries {
            let text = serde_json::to_string(e).expect("entries serialise");
            store
                .put_with_key(&JsValue::from_str(&text), &JsValue::from_str(&e.key))
                .map_err(|x| err("write", x))?;
        }
        committed(&tx).await.map_err(|e| err("write", e))
    }

    /// Stores one entry and waits until it is committed.
    pub async fn put(&self, entry: &CacheEntry) -> Result<(), String> {
        self.put_all(std::slice::from_ref(entry)).await
    }
}
