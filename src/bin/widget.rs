//! The embeddable widget's own small Wasm module (`profile-widget_bg.wasm`),
//! loaded by `widget.js` (the `<profile-report>` element) and by the
//! `embed.html` iframe page. Kept apart from the app's module so that a blog
//! post downloads neither Yew nor the loader.
//!
//! It is a thin edge: [`profile::embed`] checks the report, lays out the view
//! and builds a tree of fixed tags; this file only turns that tree into DOM
//! nodes with `createElement(NS)`, `setAttribute` and text nodes. No markup is
//! ever parsed, so nothing in a report can run.

#[cfg(target_arch = "wasm32")]
mod edge {
    use profile::embed::dom::{self, Node, SVG_NS};
    use profile::embed::{self, EmbedOptions, Rendered, Theme};
    use wasm_bindgen::prelude::*;
    use web_sys::{Document, Element};

    fn build(doc: &Document, node: &Node, parent: &Element) -> Result<(), JsValue> {
        match node {
            Node::Text(t) => parent.append_with_str_1(t),
            Node::Element(e) => {
                let el = if e.svg {
                    doc.create_element_ns(Some(SVG_NS), e.tag)?
                } else {
                    doc.create_element(e.tag)?
                };
                for (k, v) in &e.attrs {
                    el.set_attribute(k, v)?;
                }
                for c in &e.children {
                    build(doc, c, &el)?;
                }
                parent.append_child(&el).map(drop)
            }
        }
    }

    /// Replaces `target`'s children with the tree.
    fn mount(target: &Element, node: &Node) -> Result<(), JsValue> {
        let doc = target
            .owner_document()
            .ok_or("the target is not in a document")?;
        target.set_text_content(None);
        build(&doc, node, target)
    }

    /// `{ok, height}` for the caller (the element fires it as an event).
    fn outcome(r: &Rendered) -> JsValue {
        let o = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&o, &"ok".into(), &r.ok.into());
        let _ = js_sys::Reflect::set(&o, &"height".into(), &r.height.into());
        o.into()
    }

    /// Checks an untrusted report text and draws it into `target` (or a card
    /// listing its problems). `view`, `theme` and `agent` are the element's
    /// attributes; `width` its width in CSS pixels. Returns `{ok, height}`.
    #[wasm_bindgen(js_name = renderReport)]
    pub fn render_report(
        target: &Element,
        text: &str,
        view: Option<String>,
        theme: Option<String>,
        agent: Option<String>,
        width: f64,
    ) -> Result<JsValue, JsValue> {
        let opts =
            EmbedOptions::from_attributes(view.as_deref(), theme.as_deref(), agent.as_deref());
        let r = embed::render_text(text, &opts, width);
        mount(target, &r.node)?;
        Ok(outcome(&r))
    }

    /// Draws the report of an `embed.html` fragment (`view=…&theme=…&r=…`).
    #[wasm_bindgen(js_name = renderFragment)]
    pub fn render_fragment(
        target: &Element,
        fragment: &str,
        width: f64,
    ) -> Result<JsValue, JsValue> {
        let r = embed::render_fragment(fragment, width);
        mount(target, &r.node)?;
        Ok(outcome(&r))
    }

    /// A card with a short message, e.g. while the report loads.
    #[wasm_bindgen(js_name = renderMessage)]
    pub fn render_message(
        target: &Element,
        theme: Option<String>,
        text: &str,
    ) -> Result<(), JsValue> {
        let theme = theme
            .as_deref()
            .and_then(Theme::from_id)
            .unwrap_or_default();
        mount(target, &dom::render_message(theme, text))
    }

    /// An error card: a title and one line of detail (a failed download, say).
    #[wasm_bindgen(js_name = renderProblem)]
    pub fn render_problem(
        target: &Element,
        theme: Option<String>,
        title: &str,
        detail: &str,
    ) -> Result<(), JsValue> {
        let theme = theme
            .as_deref()
            .and_then(Theme::from_id)
            .unwrap_or_default();
        mount(
            target,
            &dom::render_error(theme, title, &[detail.to_owned()], 0),
        )
    }
}

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("the widget runs in a browser: `trunk build --release` writes dist/widget.js");
}
