//! The Embed panel: the two snippets that put the current report into a blog
//! post — the `<profile-report>` element (with the report file to host beside
//! the post) and an `embed.html` iframe that carries the report in its
//! fragment — with copy buttons and a live preview of the iframe.
//!
//! The snippets come from [`crate::embed::snippets`]; this component only
//! reads the page address, copies text and saves the report file.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::download::save_text;
use crate::embed::{self, EmbedOptions, Theme, WidgetView, LONG_FRAGMENT};
use crate::report::Report;

/// The file name the script snippet expects next to the post.
const REPORT_FILE: &str = "profile-report.json";

/// Where this site is served from (where `widget.js` and `embed.html` are).
fn site_base() -> String {
    web_sys::window()
        .and_then(|w| w.location().href().ok())
        .map_or_else(|| "./".into(), |h| embed::base_url(&h))
}

/// Starts copying text with the asynchronous clipboard API; `None` where
/// there is none.
fn copy_text(text: &str) -> Option<js_sys::Promise> {
    let nav = js_sys::Reflect::get(&web_sys::window()?.into(), &"navigator".into()).ok()?;
    let clip = js_sys::Reflect::get(&nav, &"clipboard".into()).ok()?;
    let write: js_sys::Function = js_sys::Reflect::get(&clip, &"writeText".into())
        .ok()?
        .dyn_into()
        .ok()?;
    write.call1(&clip, &text.into()).ok()?.dyn_into().ok()
}

#[derive(Properties, PartialEq)]
pub struct EmbedProps {
    pub report: Rc<Report>,
    /// Open from the start (the user asked for it before the full module loaded).
    #[prop_or_default]
    pub open: bool,
}

#[function_component(EmbedPanel)]
pub fn embed_panel(p: &EmbedProps) -> Html {
    let open = use_state(|| p.open);
    let view = use_state(WidgetView::default);
    let theme = use_state(Theme::default);
    let status = use_state(String::new);
    let script_ref = use_node_ref();
    let iframe_ref = use_node_ref();

    let toggle = {
        let open = open.clone();
        Callback::from(move |_: MouseEvent| open.set(!*open))
    };
    let head = html! {
        <>
            <h2 id="embed-h">{"Embed in a blog post"}</h2>
            <p class="muted">{"A widget for your own pages: the factor scores, the alignment or the rankings of this report, drawn from the report alone (no data, no server)."}</p>
            <button type="button" id="embed-open" aria-expanded={open.to_string()} aria-controls="embed-body" onclick={toggle}>
                { if *open { "Hide embed code" } else { "Embed" } }
            </button>
        </>
    };
    if !*open {
        return html! { <section class="panel embed" aria-labelledby="embed-h">{head}</section> };
    }

    let opts = EmbedOptions {
        view: *view,
        theme: *theme,
        agent: None,
    };
    let base = site_base();
    let s = embed::snippets(&base, &p.report, &opts, REPORT_FILE);
    let preview = format!(
        "embed.html#{}",
        s.embed_url.split_once('#').map_or("", |x| x.1)
    );

    let on_view = {
        let view = view.clone();
        Callback::from(move |e: Event| {
            let sel: HtmlSelectElement = e.target_unchecked_into();
            view.set(WidgetView::from_id(&sel.value()).unwrap_or_default());
        })
    };
    let on_theme = {
        let theme = theme.clone();
        Callback::from(move |e: Event| {
            let sel: HtmlSelectElement = e.target_unchecked_into();
            theme.set(Theme::from_id(&sel.value()).unwrap_or_default());
        })
    };
    let copy = |text: String, node: NodeRef, what: &'static str| {
        let status = status.clone();
        Callback::from(move |_: MouseEvent| {
            let (status, node) = (status.clone(), node.clone());
            let copying = copy_text(&text);
            wasm_bindgen_futures::spawn_local(async move {
                let copied = match copying {
                    Some(p) => wasm_bindgen_futures::JsFuture::from(p).await.is_ok(),
                    None => false,
                };
                if copied {
                    status.set(format!("Copied the {what}."));
                } else {
                    // No clipboard access: select the text for Ctrl+C.
                    if let Some(t) = node.cast::<HtmlTextAreaElement>() {
                        t.select();
                    }
                    status.set(format!(
                        "Selected the {what}: press Ctrl+C (⌘C) to copy it."
                    ));
                }
            });
        })
    };
    let download = {
        let report = p.report.clone();
        Callback::from(move |_: MouseEvent| {
            let json = serde_json::to_string_pretty(&embed::compact(&report)).unwrap_or_default();
            save_text(REPORT_FILE, "application/json", &json);
        })
    };
    let long = s.fragment_len > LONG_FRAGMENT;
    html! {
        <section class="panel embed" aria-labelledby="embed-h">
            {head}
            <div id="embed-body">
                <div class="row">
                    <label>{"Show "}
                        <select id="embed-view" onchange={on_view}>
                            { for WidgetView::ALL.iter().map(|v| html! { <option value={v.id()} selected={*v == *view}>{v.label()}</option> }) }
                        </select>
                    </label>
                    <label>{"Theme "}
                        <select id="embed-theme" onchange={on_theme}>
                            { for Theme::ALL.iter().map(|t| html! { <option value={t.id()} selected={*t == *theme}>{ match t { Theme::Auto => "follow the reader's setting", Theme::Light => "light", Theme::Dark => "dark" } }</option> }) }
                        </select>
                    </label>
                </div>
                <h3>{"With a script (the report as a file beside your post)"}</h3>
                <p class="muted small">{format!("Upload {REPORT_FILE} next to the post, then paste this where the widget should go. It checks the report and never runs anything in it; it works under a strict Content-Security-Policy.")}</p>
                <textarea id="embed-script" class="snippet" readonly=true rows="3" ref={script_ref.clone()} value={s.script.clone()} />
                <div class="row">
                    <button type="button" id="embed-copy-script" onclick={copy(s.script.clone(), script_ref, "script snippet")}>{"Copy"}</button>
                    <button type="button" id="embed-download" onclick={download}>{format!("Download {REPORT_FILE}")}</button>
                </div>
                <h3>{"Without scripts (an iframe; the report travels in its address)"}</h3>
                <p class="muted small">{format!("For platforms that do not allow scripts. The report (without the list of skipped records; their count stays) is compressed into the address after #, which is never sent to a server: {:.1} KB.", s.fragment_len as f64 / 1024.0)}</p>
                if long {
                    <p class="notice" id="embed-long">{format!("This address is long ({:.0} KB): some platforms cut long links. If the iframe shows an error, use the script embed with the report file instead.", s.fragment_len as f64 / 1024.0)}</p>
                }
                <textarea id="embed-iframe" class="snippet" readonly=true rows="3" ref={iframe_ref.clone()} value={s.iframe.clone()} />
                <div class="row">
                    <button type="button" id="embed-copy-iframe" onclick={copy(s.iframe.clone(), iframe_ref, "iframe snippet")}>{"Copy"}</button>
                    <span class="muted small" role="status" id="embed-status">{(*status).clone()}</span>
                </div>
                <h3>{"Preview"}</h3>
                <iframe id="embed-preview" class="embed-preview" src={preview} title="Preview of the embedded report" height={s.height.to_string()} loading="lazy" />
            </div>
        </section>
    }
}
