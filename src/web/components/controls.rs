//! Task preset and factor selection.

use std::rc::Rc;

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::super::app::selected_factors;
use crate::factors::{Factor, Task};
use crate::report::Report;
use crate::view::ViewState;

#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    pub report: Rc<Report>,
    pub view: ViewState,
    pub on_view: Callback<ViewState>,
}

#[function_component(Controls)]
pub fn controls(p: &ControlsProps) -> Html {
    let selected = selected_factors(&p.report, &p.view);
    let on_task = {
        let (view, cb) = (p.view.clone(), p.on_view.clone());
        Callback::from(move |e: Event| {
            let s: HtmlSelectElement = e.target_unchecked_into();
            let mut v = view.clone();
            v.task = Task::from_id(&s.value());
            v.factors = None;
            cb.emit(v);
        })
    };
    let toggle = |f: Factor| {
        let (view, cb, selected) = (p.view.clone(), p.on_view.clone(), selected.clone());
        Callback::from(move |_: Event| {
            let mut fs = selected.clone();
            if let Some(i) = fs.iter().position(|x| *x == f) {
                fs.remove(i);
            } else {
                fs.push(f);
            }
            let mut v = view.clone();
            v.factors = Some(fs);
            cb.emit(v);
        })
    };
    let reset = {
        let (view, cb) = (p.view.clone(), p.on_view.clone());
        Callback::from(move |_: MouseEvent| {
            let mut v = view.clone();
            v.factors = None;
            cb.emit(v);
        })
    };
    let task = p.report.config.task.clone();
    html! {
        <section class="panel controls" aria-labelledby="ctl-h">
            <h2 id="ctl-h">{"Task and factors"}</h2>
            <label>{"Task preset "}
                <select id="task-select" onchange={on_task}>
                    { for Task::ALL.iter().map(|t| html! { <option value={t.id()} selected={t.id() == task}>{t.name()}</option> }) }
                </select>
            </label>
            <fieldset class="factor-picker">
                <legend>{"Factors "}<button type="button" class="linkish" onclick={reset}>{"reset to preset"}</button></legend>
                { for Factor::ALL.iter().map(|&f| {
                    let info = f.info();
                    html! {
                        <label class={classes!("chip", f.needs_model().then_some("needs-model"))} title={format!("{} · {} · {}", info.level2, info.level3, info.value)}>
                            <input type="checkbox" checked={selected.contains(&f)} onchange={toggle(f)} data-factor={f.id()} />
                            {info.name}
                            if f.needs_model() { <span class="badge">{"model"}</span> }
                        </label>
                    }
                }) }
            </fieldset>
        </section>
    }
}
