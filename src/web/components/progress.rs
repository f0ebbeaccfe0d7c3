//! Loading progress with a cancel button.

use yew::prelude::*;

use super::human_bytes;

#[derive(Properties, PartialEq)]
pub struct ProgressProps {
    pub name: String,
    pub bytes: u64,
    pub total_bytes: u64,
    pub records: u64,
    pub on_cancel: Callback<()>,
}

#[function_component(ProgressPanel)]
pub fn progress_panel(p: &ProgressProps) -> Html {
    let on_cancel = p.on_cancel.reform(|_: MouseEvent| ());
    let pct = if p.total_bytes > 0 {
        (p.bytes as f64 / p.total_bytes as f64 * 100.0).round()
    } else {
        0.0
    };
    html! {
        <section class="panel progress" aria-live="polite" id="progress">
            <p>{format!("Reading {} …", p.name)}</p>
            <progress max="100" value={pct.to_string()} aria-label="bytes read"></progress>
            <p class="muted" id="progress-text">{
                if p.total_bytes > 0 {
                    format!("{} of {} ({pct}%) · {} records", human_bytes(p.bytes), human_bytes(p.total_bytes), p.records)
                } else {
                    "parsing …".to_string()
                }
            }</p>
            <button type="button" id="cancel" onclick={on_cancel}>{"Cancel"}</button>
        </section>
    }
}
