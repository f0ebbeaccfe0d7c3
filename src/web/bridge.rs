//! The UI's handle on the worker: queues messages until the worker says it is
//! ready, and turns its replies into typed messages.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::protocol::{FromWorker, ToWorker};

pub struct Bridge {
    worker: Worker,
    ready: Rc<Cell<bool>>,
    queue: Rc<RefCell<Vec<JsValue>>>,
    _onmessage: Closure<dyn FnMut(MessageEvent)>,
    _onerror: Closure<dyn FnMut(web_sys::Event)>,
}

impl Bridge {
    /// Starts the worker script `url`; `on_message` receives every reply,
    /// read by `parse` (the module's reading of the worker's messages).
    pub fn new(
        url: &str,
        parse: fn(&str) -> Result<FromWorker, String>,
        on_message: impl Fn(FromWorker) + 'static,
    ) -> Result<Bridge, JsValue> {
        let opts = WorkerOptions::new();
        opts.set_type(WorkerType::Module);
        let worker = Worker::new_with_options(url, &opts)?;
        let ready = Rc::new(Cell::new(false));
        let queue: Rc<RefCell<Vec<JsValue>>> = Rc::default();
        let on_message = Rc::new(on_message);
        let onmessage = {
            let (ready, queue, worker, on_message) = (
                ready.clone(),
                queue.clone(),
                worker.clone(),
                on_message.clone(),
            );
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let Some(text) = e.data().as_string() else {
                    return;
                };
                let msg = match parse(&text) {
                    Ok(m) => m,
                    Err(message) => FromWorker::Failed { message },
                };
                if matches!(msg, FromWorker::Ready) {
                    ready.set(true);
                    for m in queue.borrow_mut().drain(..) {
                        let _ = worker.post_message(&m);
                    }
                }
                on_message(msg);
            })
        };
        worker.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        let onerror = Closure::<dyn FnMut(web_sys::Event)>::new(move |_e: web_sys::Event| {
            on_message(FromWorker::Failed {
                message: "the worker stopped unexpectedly (out of memory, or the app files failed to load)".into(),
            });
        });
        worker.set_onerror(Some(onerror.as_ref().unchecked_ref()));
        Ok(Bridge {
            worker,
            ready,
            queue,
            _onmessage: onmessage,
            _onerror: onerror,
        })
    }

    /// Sends a message, with a file beside it when loading one.
    pub fn send(&self, msg: &ToWorker, file: Option<&web_sys::File>) {
        let obj = Object::new();
        let _ = Reflect::set(&obj, &"cmd".into(), &JsValue::from_str(&msg.to_json()));
        if let Some(f) = file {
            let _ = Reflect::set(&obj, &"file".into(), f);
        }
        if self.ready.get() {
            let _ = self.worker.post_message(&obj);
        } else {
            self.queue.borrow_mut().push(obj.into());
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}
