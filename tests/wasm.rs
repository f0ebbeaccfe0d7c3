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
            on_drill: Callback::noop(),
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
            on_drill: Callback::noop(),
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

/// A transport that answers atomic-facts questions (one fact per sentence of
/// the response) and counts its calls; every third call first fails with 429.
struct FakeModel {
    calls: std::cell::Cell<u32>,
}

impl profile::web::llm::Transport for FakeModel {
    async fn send(
        &self,
        provider: profile::llm::provider::Provider,
        req: &profile::llm::provider::HttpRequest,
        _timeout_s: f64,
    ) -> Result<profile::llm::provider::Completion, profile::llm::provider::CallError> {
        let n = self.calls.get() + 1;
        self.calls.set(n);
        if n % 3 == 0 {
            return Err(profile::llm::provider::CallError::RateLimited {
                retry_after_s: Some(0.01),
            });
        }
        assert!(req
            .header("authorization")
            .unwrap()
            .ends_with("sk-wasm-test"));
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        let user = body["messages"][1]["content"].as_str().unwrap().to_owned();
        let text = user.rsplit("<<<").next().unwrap_or_default();
        let facts: Vec<String> = (0..text.matches('.').count().max(1))
            .map(|i| format!("fact {i}"))
            .collect();
        let reply = serde_json::json!({
            "model": "fake",
            "choices": [{"message": {"role": "assistant", "content": serde_json::json!({"facts": facts}).to_string()}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10}
        });
        profile::llm::provider::parse_response(provider, 200, &[], &reply.to_string())
    }
}

/// A worker session with the built-in example loaded.
fn example_session() -> std::cell::RefCell<Session> {
    let mut loader = Loader::new(FormatOptions::default());
    loader.push(EXAMPLE);
    let session = std::cell::RefCell::new(Session::new());
    let _ = session.borrow_mut().finish_load(
        "example".into(),
        loader,
        Default::default(),
        &ScoreRequest::default(),
        || 0.0,
    );
    session
}

#[wasm_bindgen_test]
async fn browser_runs_retry_cache_in_indexeddb_and_rerun_without_calls() {
    use profile::llm::settings::ModelForm;
    use profile::protocol::LlmRequest;
    use profile::web::llm::{run, Control};
    let session = example_session();
    // A model name of its own: the browser profile may keep IndexedDB between runs.
    let mut form = ModelForm {
        model: format!("fake-{}", js_sys::Date::now()),
        // A seeded sample of one input (all its pairs).
        sample: "1".into(),
        ..ModelForm::default()
    };
    form.price_in = "1".into();
    form.price_out = "2".into();
    let mut choice = form.validate().unwrap();
    choice.settings.retry.base_s = 0.01;
    let req = LlmRequest {
        choice,
        score: ScoreRequest {
            factor_pack: None,
            factors: Some(vec![
                profile::factors::Factor::Length,
                profile::factors::Factor::NFacts,
            ]),
            ..Default::default()
        },
        run: Default::default(),
    };
    let model = FakeModel {
        calls: Default::default(),
    };
    let progress = std::cell::RefCell::new(Vec::new());
    let post = |m: &FromWorker| progress.borrow_mut().push(m.clone());
    let control = Control::default();
    let FromWorker::LlmFinished { report, warning } =
        run(&session, &req, "sk-wasm-test", &model, &control, &post).await
    else {
        panic!("run failed")
    };
    assert_eq!(warning, None);
    let llm = report.llm.as_ref().unwrap();
    assert_eq!(report.dataset.inputs, 1);
    assert_eq!(report.dataset.sample.as_ref().unwrap().seed, Some(42));
    assert!((5..=6).contains(&llm.pairs), "{}", llm.pairs);
    assert_eq!(
        (llm.pairs, llm.failed, llm.cache_hits),
        (report.dataset.pairs, 0, 0)
    );
    assert!(llm.retries > 0, "the 429s were retried");
    assert_eq!(llm.calls, u64::from(model.calls.get()));
    assert!(report.agents[0].factor_scores.contains_key("n_facts"));
    // Progress messages carry the money spent.
    let last = progress.borrow().last().cloned().unwrap();
    let FromWorker::LlmProgress {
        stats, cost_usd, ..
    } = last
    else {
        panic!("no progress")
    };
    assert_eq!(stats.remaining(), 0);
    assert!(cost_usd.unwrap() > 0.0);
    // Again (as after a reload): everything comes from IndexedDB.
    let before = model.calls.get();
    let FromWorker::LlmFinished { report, .. } =
        run(&session, &req, "sk-wasm-test", &model, &control, &post).await
    else {
        panic!("second run failed")
    };
    assert_eq!(model.calls.get(), before, "no call on a re-run");
    let llm = report.llm.unwrap();
    assert_eq!((llm.calls, llm.cache_hits), (0, llm.questions));
    // The key is not in anything the run produced.
    assert!(!format!("{:?}", progress.borrow()).contains("sk-wasm-test"));
}

/// A transport that answers every call with one error, and counts the calls.
struct Failing {
    calls: std::cell::Cell<u32>,
    error: profile::llm::provider::CallError,
}

impl profile::web::llm::Transport for Failing {
    async fn send(
        &self,
        _provider: profile::llm::provider::Provider,
        _req: &profile::llm::provider::HttpRequest,
        _timeout_s: f64,
    ) -> Result<profile::llm::provider::Completion, profile::llm::provider::CallError> {
        self.calls.set(self.calls.get() + 1);
        Err(self.error.clone())
    }
}

/// Hostile answers in the worker (issue 10): a refused key stops the run at
/// the first answer with the rest listed as not asked; a Retry-After of
/// 1e300 s fails each item at once (not a 24-day timer, not a panic);
/// settings out of range are refused before anything is sent.
#[wasm_bindgen_test]
async fn worker_stops_on_a_refused_key_and_does_not_wait_for_ever() {
    use profile::llm::provider::CallError;
    use profile::llm::settings::ModelForm;
    use profile::protocol::LlmRequest;
    use profile::web::llm::{run, Control};
    let session = example_session();
    let request = |concurrency: &str| {
        let form = ModelForm {
            model: format!("hostile-{}", js_sys::Date::now()),
            sample: "1".into(),
            concurrency: concurrency.into(),
            ..ModelForm::default()
        };
        LlmRequest {
            choice: form.validate().unwrap(),
            score: ScoreRequest {
                factor_pack: None,
                factors: Some(vec![profile::factors::Factor::NFacts]),
                ..Default::default()
            },
            run: Default::default(),
        }
    };
    let post = |_: &FromWorker| {};
    let control = Control::default();
    let failures = |msg: FromWorker| match msg {
        FromWorker::LlmFinished { report, .. } => report.llm.unwrap().failures,
        other => panic!("run failed: {other:?}"),
    };

    let key = Failing {
        calls: Default::default(),
        error: CallError::Auth {
            status: 401,
            message: "Incorrect API key provided.".into(),
        },
    };
    let f = failures(run(&session, &request("1"), "sk", &key, &control, &post).await);
    assert_eq!(key.calls.get(), 1, "one answer is enough");
    assert!(f.len() > 1);
    assert!(f.iter().any(|x| x["reason"]
        .as_str()
        .unwrap()
        .starts_with("not asked: the run stopped")));

    let wait = Failing {
        calls: Default::default(),
        error: CallError::RateLimited {
            retry_after_s: Some(1e300),
        },
    };
    let f = failures(run(&session, &request("4"), "sk", &wait, &control, &post).await);
    assert_eq!(wait.calls.get() as usize, f.len(), "no retry");
    assert!(f
        .iter()
        .all(|x| x["reason"].as_str().unwrap().contains("600 s")));

    let mut bad = request("4");
    bad.choice.settings.concurrency = 100_000_000;
    match run(&session, &bad, "sk", &wait, &control, &post).await {
        FromWorker::LlmFailed { message } => assert!(message.contains("concurrency"), "{message}"),
        other => panic!("must be refused: {other:?}"),
    }
}
