//! Task preset and factor selection, and loading a factor pack (custom
//! rule factors, and questions the language-model panel asks; the pack then
//! travels in the URL fragment).

use std::rc::Rc;

use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::super::app::selected_factors;
use crate::factors::pack::{self, FactorPack};
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
    // A pack file: checked, registered, its factors selected; or its problems shown.
    let pack_errors = use_state(Vec::<String>::new);
    let on_pack_file = {
        let (view, cb, selected, errors) = (
            p.view.clone(),
            p.on_view.clone(),
            selected.clone(),
            pack_errors.clone(),
        );
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            input.set_value("");
            if file.size() > pack::MAX_PACK_BYTES as f64 {
                errors.set(vec![format!(
                    "{}: {} bytes, a factor pack has at most {}",
                    file.name(),
                    file.size(),
                    pack::MAX_PACK_BYTES
                )]);
                return;
            }
            let (view, cb, selected, errors) =
                (view.clone(), cb.clone(), selected.clone(), errors.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let Ok(text) = JsFuture::from(file.text()).await else {
                    errors.set(vec![format!("{}: cannot be read", file.name())]);
                    return;
                };
                let text = text.as_string().unwrap_or_default();
                let loaded =
                    FactorPack::parse(&text).and_then(|p| pack::register(&p).map(|fs| (p, fs)));
                match loaded {
                    Ok((p, custom)) => {
                        errors.set(Vec::new());
                        let mut fs: Vec<Factor> =
                            selected.into_iter().filter(|f| !f.is_custom()).collect();
                        fs.extend(custom);
                        cb.emit(ViewState {
                            factors: Some(fs),
                            pack: Some(p),
                            ..view
                        });
                    }
                    Err(problems) => errors.set(
                        problems
                            .iter()
                            .map(|e| format!("{}: {e}", file.name()))
                            .collect(),
                    ),
                }
            });
        })
    };
    let remove_pack = {
        let (view, cb, selected, errors) = (
            p.view.clone(),
            p.on_view.clone(),
            selected.clone(),
            pack_errors.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            errors.set(Vec::new());
            cb.emit(ViewState {
                factors: Some(
                    selected
                        .iter()
                        .copied()
                        .filter(|f| !f.is_custom())
                        .collect(),
                ),
                pack: None,
                ..view.clone()
            });
        })
    };
    let custom: Vec<Factor> = p
        .view
        .pack
        .iter()
        .flat_map(|p| &p.factors)
        .filter_map(|d| Factor::from_id(&d.id))
        .collect();
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
                { for custom.iter().map(|&f| {
                    let info = f.info();
                    html! {
                        <label class="chip custom" title={format!("{} · {}", info.level2, info.value)}>
                            <input type="checkbox" checked={selected.contains(&f)} onchange={toggle(f)} data-factor={f.id()} />
                            {info.name}
                            <span class="badge">{"custom"}</span>
                        </label>
                    }
                }) }
            </fieldset>
            <div class="pack-picker">
                <label for="pack-file">{"Your own factors: load a factor pack (JSON) "}</label>
                <input id="pack-file" type="file" accept=".json,application/json" onchange={on_pack_file} />
                if let Some(pk) = &p.view.pack {
                    <span class="pack-loaded">{format!("{} custom factor{} loaded (shared in this page's link) ", pk.factors.len(), if pk.factors.len() == 1 { "" } else { "s" })}</span>
                    <button type="button" class="linkish" onclick={remove_pack}>{"remove"}</button>
                }
                if !pack_errors.is_empty() {
                    <ul class="pack-errors" role="alert">
                        { for pack_errors.iter().map(|e| html! { <li>{e.clone()}</li> }) }
                    </ul>
                }
            </div>
        </section>
    }
}
