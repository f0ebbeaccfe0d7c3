//! The group selector and the factor × group heatmap: the human factor
//! scores of each group of pairs (by a record field), side by side, with
//! the groups whose score differs from the rest's marked.

use std::rc::Rc;

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::chart::{group_cell_description, group_heatmap};
use crate::report::Report;
use crate::view::ViewState;

#[derive(Properties, PartialEq)]
pub struct GroupsProps {
    pub report: Rc<Report>,
    pub view: ViewState,
    pub on_view: Callback<ViewState>,
}

#[function_component(GroupsPanel)]
pub fn groups_panel(p: &GroupsProps) -> Html {
    let r = &p.report;
    if r.dataset.group_fields.is_empty() {
        return html! {};
    }
    let onchange = {
        let (view, on) = (p.view.clone(), p.on_view.clone());
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            on.emit(ViewState {
                group_by: (!v.is_empty()).then_some(v),
                ..view.clone()
            });
        })
    };
    let selected = p.view.group_by.clone().unwrap_or_default();
    let heat = group_heatmap(r, 112.0, 26.0);
    html! {
        <section class="panel" id="groups" aria-labelledby="groups-h">
            <h2 id="groups-h">{"Subgroups"}</h2>
            <label class="field" for="group-by">
                <span>{"Group the pairs by"}</span>
                <select id="group-by" {onchange}>
                    <option value="" selected={selected.is_empty()}>{"no grouping"}</option>
                    { for r.dataset.group_fields.iter().map(|f| html! {
                        <option value={f.clone()} selected={*f == selected}>{f.clone()}</option>
                    }) }
                </select>
            </label>
            if let (Some(g), Some(heat)) = (&r.groups, heat) {
                <p class="muted">{format!(
                    "Each group's pairs scored alone (human factor scores; blue: people prefer more of the factor, red: less). ▲/▼: the group's score is higher/lower than the rest's — the 95% interval of the difference excludes 0; groups or rests with fewer than {} inputs are not graded.",
                    crate::stats::MIN_INPUTS_FOR_INTERVALS)}</p>
                <p class="muted small" id="groups-note">{format!("{} groups by {}{}{}.", g.groups.len(), g.field,
                    if g.groups_omitted > 0 { format!("; {} smaller ones not shown", g.groups_omitted) } else { String::new() },
                    if g.pairs_without > 0 { format!("; {} pairs without the field are in no group", g.pairs_without) } else { String::new() })}</p>
                <figure class="chart-scroll">
                    <svg id="group-heatmap" viewBox={format!("0 0 {} {}", heat.width, heat.height)} width={heat.width.to_string()} role="img" aria-label={format!("Factor scores by {}", g.field)} class="chart heatmap">
                        { for heat.cols.iter().map(|(name, pairs, x)| html! {
                            <g>
                                <text x={x.to_string()} y="16" text-anchor="middle" class="label">{name.clone()}</text>
                                <text x={x.to_string()} y="32" text-anchor="middle" class="muted-text">{pairs.clone()}</text>
                            </g>
                        }) }
                        { for heat.rows.iter().map(|(_, label, y)| html! {
                            <text x={(heat.label_width - 8.0).to_string()} y={y.to_string()} text-anchor="end" dominant-baseline="middle" class="label">{label.clone()}</text>
                        }) }
                        { for heat.cells.iter().zip(0..).map(|(c, i)| {
                            let group = &g.groups[i % g.groups.len().max(1)];
                            html! {
                                <g class="cell" tabindex="0" data-factor={c.factor.clone()} data-group={c.agent.clone()}>
                                    <title>{group_cell_description(group, &c.factor)}</title>
                                    <rect x={c.x.to_string()} y={c.y.to_string()} width={(heat.cell_width - 2.0).to_string()} height={(heat.cell_height - 2.0).to_string()} fill={c.fill.clone()} rx="3" />
                                    <text x={(c.x + heat.cell_width / 2.0).to_string()} y={(c.y + heat.cell_height / 2.0).to_string()} text-anchor="middle" dominant-baseline="middle" class={if c.dark_text { "cell-text" } else { "cell-text light" }}>{c.text.clone()}</text>
                                </g>
                            }
                        }) }
                    </svg>
                </figure>
                { differ_list(g) }
            } else if !selected.is_empty() {
                <p class="muted" id="groups-wait">{"Scoring the groups…"}</p>
            }
        </section>
    }
}

/// The clear differences in words, and the groups too small to grade.
fn differ_list(g: &crate::report::Groups) -> Html {
    let mut lines = Vec::new();
    let mut few = Vec::new();
    for grp in &g.groups {
        for (f, d) in &grp.differences {
            match d.verdict.as_str() {
                "higher" | "lower" => lines.push(group_cell_description(grp, f)),
                "too few inputs" if !few.contains(&grp.value) => few.push(grp.value.clone()),
                _ => {}
            }
        }
    }
    html! {
        <>
            if lines.is_empty() {
                <p id="groups-differ-none">{"No group's factor score differs clearly from the rest's."}</p>
            } else {
                <ul id="groups-differ">
                    { for lines.iter().take(40).map(|l| html! { <li>{l.clone()}</li> }) }
                </ul>
            }
            if !few.is_empty() {
                <p class="muted small" id="groups-few">{format!("Too few inputs to compare with the rest, not graded: {}{}.",
                    few.iter().take(12).cloned().collect::<Vec<_>>().join(", "),
                    if few.len() > 12 { format!(" and {} more", few.len() - 12) } else { String::new() })}</p>
            }
        </>
    }
}
