//! The dataset summary: what was read, parsed, scored and dropped.

use std::rc::Rc;

use yew::prelude::*;

use crate::report::Report;

#[derive(Properties, PartialEq)]
pub struct SummaryProps {
    pub report: Rc<Report>,
    pub elapsed_ms: Option<f64>,
    pub format_chosen: bool,
}

#[function_component(Summary)]
pub fn summary(p: &SummaryProps) -> Html {
    let d = &p.report.dataset;
    let item = |k: &str, v: String, id: &str| html! { <div><dt>{k.to_string()}</dt><dd id={id.to_string()}>{v}</dd></div> };
    html! {
        <section class="panel" aria-labelledby="sum-h">
            <h2 id="sum-h">{"Dataset: "}<span id="dataset-name">{d.name.clone().unwrap_or_default()}</span></h2>
            if let Some(why) = d.nothing_usable() {
                <div class="error" id="nothing-usable" role="alert"><strong>{"Nothing to score: "}</strong>{why}{" (see the problems below)"}</div>
            }
            <dl class="stats">
                { item("format", format!("{}{}", d.format, if p.format_chosen { " (chosen)" } else { " (detected)" }), "stat-format") }
                if let Some(l) = &d.label { { item("label", l.clone(), "stat-label") } }
                { item("records", format!("{} read · {} parsed · {} skipped", d.records_read, d.records_parsed, d.records_skipped), "stat-records") }
                { item("pairs scored", d.pairs.to_string(), "stat-pairs") }
                { item("human ties dropped", d.human_ties_dropped.to_string(), "stat-ties") }
                if d.pairs_dropped_other > 0 { { item("dropped by format rule", format!("{} — {}", d.pairs_dropped_other, d.pairs_dropped_reason.clone().unwrap_or_default()), "stat-dropped") } }
                { item("inputs (resampling units)", d.inputs.to_string(), "stat-inputs") }
                if let Some(sm) = &d.sample {
                    { item("sample", match sm.seed {
                        Some(seed) => format!("{} of {} inputs drawn with seed {seed}, all their pairs ({} of {} pairs)", d.inputs, sm.inputs_loaded, d.pairs, sm.pairs_loaded),
                        None => format!("the first {} of {} pairs", d.pairs, sm.pairs_loaded),
                    }, "stat-sample") }
                }
                { item("unique texts", d.unique_texts.to_string(), "stat-texts") }
                if let Some(ms) = p.elapsed_ms { { item("computed in", format!("{ms:.0} ms"), "stat-time") } }
            </dl>
        </section>
    }
}
