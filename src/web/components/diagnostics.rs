//! The loader's located diagnostics.

use std::rc::Rc;

use yew::prelude::*;

use super::super::download::save_text;
use crate::data::Diagnostic;

#[derive(Properties, PartialEq)]
pub struct DiagnosticsProps {
    pub diagnostics: Rc<Vec<Diagnostic>>,
    pub total: u64,
    pub records_read: u64,
    pub records_parsed: u64,
}

const SHOWN: usize = 200;

#[function_component(DiagnosticsPanel)]
pub fn diagnostics_panel(p: &DiagnosticsProps) -> Html {
    if p.diagnostics.is_empty() {
        return html! {};
    }
    let download = {
        let d = p.diagnostics.clone();
        Callback::from(move |_: MouseEvent| {
            let text: String = d
                .iter()
                .map(|x| serde_json::to_string(x).unwrap_or_default() + "\n")
                .collect();
            save_text("diagnostics.jsonl", "application/x-ndjson", &text);
        })
    };
    html! {
        <section class="panel diagnostics" aria-labelledby="diag-h" id="diagnostics">
            <h2 id="diag-h">{format!("Problems in the file ({})", p.diagnostics.len())}</h2>
            <p>{format!("{} of {} records were used; each skipped one is listed with its line (and element, in a JSON array) and reason.", p.records_parsed, p.records_read)}</p>
            <button type="button" id="diagnostics-download" onclick={download}>{"Download all (JSONL)"}</button>
            <table class="diag">
                <thead><tr><th scope="col">{"line"}</th><th scope="col">{"field"}</th><th scope="col">{"reason"}</th></tr></thead>
                <tbody>
                { for p.diagnostics.iter().take(SHOWN).map(|d| html! {
                    <tr><td class="num">{d.line}{d.element.map(|e| format!(", element {e}")).unwrap_or_default()}</td><td><code>{d.field.clone().unwrap_or_default()}</code></td><td>{d.reason.clone()}</td></tr>
                }) }
                </tbody>
            </table>
            if p.diagnostics.len() > SHOWN {
                <p class="muted">{format!("… and {} more in the download.", p.diagnostics.len() - SHOWN)}</p>
            }
        </section>
    }
}
