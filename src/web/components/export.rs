//! Exports: the report as JSON, the factor scores as CSV, the chart as SVG and PNG.

use yew::prelude::*;

use super::super::download::{save_svg_as_png, save_text};
use crate::chart::to_svg;

use super::{human_chart, stem_of};
use crate::report::Report;

#[derive(Properties, PartialEq)]
pub struct ExportProps {
    pub report: std::rc::Rc<Report>,
    /// Writes the report's JSON (`Edition::report_json`).
    pub edition: crate::web::Edition,
}

#[function_component(ExportPanel)]
pub fn export_panel(p: &ExportProps) -> Html {
    let stem = stem_of(p.report.dataset.name.as_deref().unwrap_or("profile"));
    let json = {
        let (r, stem, to_json) = (p.report.clone(), stem.clone(), p.edition.report_json);
        Callback::from(move |_: MouseEvent| {
            save_text(
                &format!("{stem}.profile-report.json"),
                "application/json",
                &to_json(&r),
            )
        })
    };
    let csv = {
        let (r, stem) = (p.report.clone(), stem.clone());
        Callback::from(move |_: MouseEvent| {
            save_text(
                &format!("{stem}.factor-scores.csv"),
                "text/csv",
                &r.factor_scores_csv(),
            )
        })
    };
    let svg = {
        let (r, stem) = (p.report.clone(), stem.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(c) = human_chart(&r, 720.0) {
                save_text(
                    &format!("{stem}.factor-chart.svg"),
                    "image/svg+xml",
                    &to_svg(&c),
                );
            }
        })
    };
    let png = {
        let (r, stem) = (p.report.clone(), stem.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(c) = human_chart(&r, 720.0) {
                save_svg_as_png(
                    &format!("{stem}.factor-chart.png"),
                    &to_svg(&c),
                    c.width,
                    c.height,
                );
            }
        })
    };
    html! {
        <section class="panel" aria-labelledby="exp-h">
            <h2 id="exp-h">{"Export"}</h2>
            <div class="row">
                <button type="button" id="export-json" onclick={json}>{"Report (JSON)"}</button>
                <button type="button" id="export-csv" onclick={csv}>{"Factor scores (CSV)"}</button>
                <button type="button" id="export-svg" onclick={svg}>{"Chart (SVG)"}</button>
                <button type="button" id="export-png" onclick={png}>{"Chart (PNG)"}</button>
            </div>
            <p class="muted">{"The report follows the versioned schema profile-report/1, the same the profile CLI writes. The view (task, factors, sort) is in the page address; the data never is."}</p>
        </section>
    }
}
