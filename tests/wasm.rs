//! Browser tests (wasm-bindgen-test in headless Chromium): the worker's
//! session logic on the built-in example, and the report components rendered
//! into a real DOM — numbers, sorting, and data text kept as text.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use profile::data::{FormatOptions, Loader};
use profile::protocol::{FromWorker, ScoreRequest, Session, ToWorker};
use profile::report::Report;
use profile::view::{SortKey, ViewState};
use profile::web::components::{
    ChartProps, ChartView, FactorTable, Summary, SummaryProps, TableProps,
};
use profile::web::worker::EXAMPLE;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use yew::Callback;

wasm_bindgen_test_configure!(run_in_browser);

fn example_report() -> Report {
    let mut loader = Loader::new(FormatOptions::default());
    loader.push(EXAMPLE);
    let mut s = Session::new();
    match s.finish_load(
        "example".into(),
        loader,
        Default::default(),
        &ScoreRequest::default(),
        || 0.0,
    ) {
        FromWorker::Loaded { report, .. } => report,
        other => panic!("example did not load: {other:?}"),
    }
}

async fn tick() {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 20)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(p).await.unwrap();
}

fn mount() -> web_sys::Element {
    let doc = web_sys::window().unwrap().document().unwrap();
    let div = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&div).unwrap();
    div
}

#[wasm_bindgen_test]
fn session_loads_the_example_and_messages_round_trip() {
    let r = example_report();
    assert_eq!(r.dataset.records_read, 48);
    assert_eq!(r.dataset.human_ties_dropped, 3);
    assert_eq!(r.dataset.pairs, 45);
    let msg = FromWorker::Scored { report: r.clone() };
    assert_eq!(FromWorker::from_json(&msg.to_json()).unwrap(), msg);
    let req = ToWorker::Score(ScoreRequest::default());
    assert_eq!(ToWorker::from_json(&req.to_json()).unwrap(), req);
}

#[wasm_bindgen_test]
async fn chart_has_one_bar_per_scored_factor_with_accessible_text() {
    let report = Rc::new(example_report());
    let root = mount();
    yew::Renderer::<ChartView>::with_root_and_props(
        root.clone(),
        ChartProps {
            report: report.clone(),
        },
    )
    .render();
    tick().await;
    let bars = root.query_selector_all("g.bar-row").unwrap();
    let scored = report.agents[0]
        .factor_scores
        .values()
        .filter(|e| e.score.is_some())
        .count();
    assert_eq!(bars.length() as usize, scored);
    let first = bars.get(0).unwrap().dyn_into::<web_sys::Element>().unwrap();
    assert_eq!(first.get_attribute("tabindex").as_deref(), Some("0"));
    assert!(first.get_attribute("aria-label").unwrap().contains("score"));
    assert!(root.query_selector("svg title").unwrap().is_some());
}

#[wasm_bindgen_test]
async fn table_sorts_by_the_view() {
    let report = Rc::new(example_report());
    let root = mount();
    let view = ViewState {
        sort: SortKey::Factor,
        ascending: true,
        ..Default::default()
    };
    yew::Renderer::<FactorTable>::with_root_and_props(
        root.clone(),
        TableProps {
            report: report.clone(),
            view,
            on_view: Callback::noop(),
        },
    )
    .render();
    tick().await;
    let rows = root.query_selector_all("tbody tr").unwrap();
    let ids: Vec<String> = (0..rows.length())
        .map(|i| {
            rows.get(i)
                .unwrap()
                .dyn_into::<web_sys::Element>()
                .unwrap()
                .get_attribute("data-factor")
                .unwrap()
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), report.agents[0].factor_scores.len());
}

#[wasm_bindgen_test]
async fn dataset_text_is_rendered_as_text() {
    let mut report = example_report();
    report.dataset.name = Some("<img src=x id=pwned onerror=alert(1)>".into());
    let root = mount();
    yew::Renderer::<Summary>::with_root_and_props(
        root.clone(),
        SummaryProps {
            report: Rc::new(report),
            elapsed_ms: Some(1.0),
            format_chosen: false,
        },
    )
    .render();
    tick().await;
    assert!(root.query_selector("img").unwrap().is_none());
    assert!(root.inner_html().contains("&lt;img src=x"));
}
