//! `use_worker`: the app's handle on its worker. It owns the bridge (started
//! on first use), the input being loaded and the last one that loaded, so
//! that a cancel (which must terminate the worker: a synchronous parse cannot
//! be interrupted) starts a fresh worker and loads the previous input again,
//! and a change of format or label reloads what is shown.

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use super::bridge::Bridge;
use super::Edition;
use crate::protocol::{Input, ScoreRequest, ToWorker};
use crate::state::{Action, State};
use crate::view::ViewState;

/// Something that can be loaded: kept so that a cancel or a change of format
/// can load it again.
#[derive(Clone, PartialEq)]
pub struct LoadSpec {
    pub name: String,
    pub input: Input,
    pub file: Option<web_sys::File>,
    /// Reloading the previous input after a cancel (keeps the cancel notice).
    pub restoring: bool,
}

impl LoadSpec {
    /// The built-in example.
    pub fn example() -> LoadSpec {
        LoadSpec {
            name: "example".into(),
            input: Input::Example,
            file: None,
            restoring: false,
        }
    }
}

/// What the components can ask of the worker.
#[derive(Clone, PartialEq)]
pub struct WorkerHandle {
    /// Load an input (with the state's format options and view).
    pub load: Callback<LoadSpec>,
    /// Stop a load: a fresh worker, the previous input loaded again.
    pub cancel: Callback<()>,
    /// Load the current (else the last loaded) input again.
    pub reload: Callback<()>,
    /// Send a message to the running worker (dropped when none runs).
    pub send: Callback<ToWorker>,
    /// The input being loaded, else the last one that loaded.
    pub shown: Callback<(), Option<LoadSpec>>,
}

/// The score request of a view.
pub fn score_request(v: &ViewState) -> ScoreRequest {
    ScoreRequest {
        factor_pack: v.pack.clone(),
        task: v.task,
        factors: v.factors.clone(),
        bootstrap: Default::default(),
        group_by: v.group_by.clone(),
    }
}

fn new_bridge(edition: Edition, dispatcher: UseReducerDispatcher<State>) -> Option<Bridge> {
    let r = Bridge::new(edition.worker, edition.parse, move |msg| {
        dispatcher.dispatch(Action::Worker(Box::new(msg)))
    });
    match r {
        Ok(b) => Some(b),
        Err(e) => {
            web_sys::console::error_2(&"cannot start the worker".into(), &e);
            None
        }
    }
}

#[hook]
pub fn use_worker(state: &UseReducerHandle<State>, edition: Edition) -> WorkerHandle {
    let bridge: Rc<RefCell<Option<Bridge>>> = use_mut_ref(|| None);
    let current: Rc<RefCell<Option<LoadSpec>>> = use_mut_ref(|| None);
    let previous: Rc<RefCell<Option<LoadSpec>>> = use_mut_ref(|| None);

    let load = {
        let (state, bridge, current, previous) = (
            state.clone(),
            bridge.clone(),
            current.clone(),
            previous.clone(),
        );
        Callback::from(move |mut spec: LoadSpec| {
            if bridge.borrow().is_none() {
                *bridge.borrow_mut() = new_bridge(edition, state.dispatcher());
            }
            let total = spec.file.as_ref().map_or(0, |f| f.size() as u64);
            state.dispatch(Action::StartLoading {
                name: spec.name.clone(),
                total_bytes: total,
                restoring: spec.restoring,
            });
            spec.restoring = false;
            if let Some(done) = current.borrow_mut().take() {
                *previous.borrow_mut() = Some(done);
            }
            if let Some(b) = bridge.borrow().as_ref() {
                b.send(
                    &ToWorker::Load {
                        name: spec.name.clone(),
                        input: spec.input.clone(),
                        options: state.options.clone(),
                        score: score_request(&state.view),
                    },
                    spec.file.as_ref(),
                );
            }
            *current.borrow_mut() = Some(spec);
        })
    };

    let cancel = {
        let (state, bridge, current, previous, load) = (
            state.clone(),
            bridge.clone(),
            current.clone(),
            previous.clone(),
            load.clone(),
        );
        Callback::from(move |()| {
            // Terminating the worker is the only way to stop a synchronous parse.
            *bridge.borrow_mut() = None;
            current.borrow_mut().take();
            state.dispatch(Action::Cancelled);
            // The new worker needs the previous dataset for rescoring.
            if let Some(mut prev) = previous.borrow_mut().take() {
                prev.restoring = true;
                load.emit(prev);
            }
        })
    };

    let shown = {
        let (current, previous) = (current.clone(), previous.clone());
        Callback::from(move |()| {
            current
                .borrow()
                .clone()
                .or_else(|| previous.borrow().clone())
        })
    };

    let reload = {
        let (current, previous, load) = (current.clone(), previous.clone(), load.clone());
        Callback::from(move |()| {
            let spec = current
                .borrow()
                .clone()
                .or_else(|| previous.borrow().clone());
            if let Some(spec) = spec {
                current.borrow_mut().take();
                load.emit(spec);
            }
        })
    };

    let send = {
        let bridge = bridge.clone();
        Callback::from(move |msg: ToWorker| {
            if let Some(b) = bridge.borrow().as_ref() {
                b.send(&msg, None);
            }
        })
    };

    WorkerHandle {
        load,
        cancel,
        reload,
        send,
        shown,
    }
}
