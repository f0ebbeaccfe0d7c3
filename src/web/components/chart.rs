//! The factor-score chart of the human agent.

use std::rc::Rc;

use yew::prelude::*;

use crate::chart::{factor_chart, Chart, ChartOptions};
use crate::report::Report;

#[derive(Properties, PartialEq)]
pub struct ChartProps {
    pub report: Rc<Report>,
    /// Opens the pairs behind a factor's score: (factor, agent, filter).
    pub on_drill: Callback<(Option<String>, String, String)>,
}

fn chart_width() -> f64 {
    web_sys::window()
        .and_then(|w| w.inner_width().ok())
        .and_then(|v| v.as_f64())
        .map_or(720.0, |w| (w - 48.0).clamp(300.0, 760.0))
}

pub fn human_chart(report: &Report, width: f64) -> Option<Chart> {
    let agent = report.agent("human")?;
    Some(factor_chart(
        agent,
        &ChartOptions {
            width,
            title: format!(
                "Human factor scores — {}",
                report.dataset.name.as_deref().unwrap_or("dataset")
            ),
            ..Default::default()
        },
    ))
}

#[function_component(ChartView)]
pub fn chart_view(p: &ChartProps) -> Html {
    let Some(c) = human_chart(&p.report, chart_width()) else {
        return html! {};
    };
    html! {
        <section class="panel" aria-labelledby="chart-h">
            <h2 id="chart-h">{"Which factors go with human preference"}</h2>
            <p class="muted">{"Bars: factor score (C − D)/(C + D + T); whiskers: 95% bootstrap interval over inputs. Right of zero: preferred responses have more of the factor. Click a bar to see the pairs behind it."}</p>
            <figure>
                <svg id="factor-chart" viewBox={format!("0 0 {} {}", c.width, c.height)} role="img" aria-labelledby="chart-title chart-desc" class="chart">
                    <title id="chart-title">{c.title.clone()}</title>
                    <desc id="chart-desc">{c.summary.clone()}</desc>
                    { for c.ticks.iter().map(|t| html! {
                        <g class="tick">
                            <line x1={t.x.to_string()} x2={t.x.to_string()} y1={(c.plot_top - 4.0).to_string()} y2={c.plot_bottom.to_string()} class={if t.label == "0" { "axis0" } else { "grid" }} />
                            <text x={t.x.to_string()} y={(c.plot_bottom + 16.0).to_string()} text-anchor="middle">{t.label.clone()}</text>
                        </g>
                    }) }
                    { for c.rows.iter().map(|r| {
                        let mid = r.y + r.bar_height / 2.0;
                        // A bar opens the pairs behind its score (the
                        // discordant ones first, as the table's D does).
                        let open = {
                            let (cb, f) = (p.on_drill.clone(), r.factor.clone());
                            move || cb.emit((Some(f.clone()), "human".to_owned(), "discordant".to_owned()))
                        };
                        let onclick = {
                            let open = open.clone();
                            Callback::from(move |_: MouseEvent| open())
                        };
                        let onkeydown = Callback::from(move |e: KeyboardEvent| {
                            if e.key() == "Enter" || e.key() == " " {
                                e.prevent_default();
                                open();
                            }
                        });
                        html! {
                            <g class="bar-row drillable" tabindex="0" role="listitem" aria-label={format!("{} (opens its pairs)", r.description)} data-factor={r.factor.clone()} {onclick} {onkeydown}>
                                <title>{r.description.clone()}</title>
                                <text x={c.label_x.to_string()} y={mid.to_string()} text-anchor="end" dominant-baseline="middle" class="label">{r.label.clone()}</text>
                                <rect x={r.bar_x.to_string()} y={r.y.to_string()} width={r.bar_width.max(0.5).to_string()} height={r.bar_height.to_string()} rx="2" class={if r.positive { "pos" } else { "neg" }} />
                                if let Some([lo, hi]) = r.whisker {
                                    <path d={format!("M{lo:.1} {:.1}V{:.1}M{lo:.1} {mid:.1}H{hi:.1}M{hi:.1} {:.1}V{:.1}", mid - 5.0, mid + 5.0, mid - 5.0, mid + 5.0)} class="whisker" />
                                }
                                <text x={r.value_x.to_string()} y={mid.to_string()} dominant-baseline="middle" class="value">{r.value_text.clone()}</text>
                            </g>
                        }
                    }) }
                </svg>
                if !c.unscored.is_empty() {
                    <figcaption class="muted">{format!("Not scored: {}.", c.unscored.join(", "))}</figcaption>
                }
            </figure>
        </section>
    }
}
