//! Saving files from the browser: a Blob, an object URL and a click.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlCanvasElement, HtmlImageElement, Url};

fn document() -> web_sys::Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("a document")
}

fn blob(content: &str, mime: &str) -> Result<Blob, JsValue> {
    let opts = BlobPropertyBag::new();
    opts.set_type(mime);
    let parts = js_sys::Array::of1(&JsValue::from_str(content));
    Blob::new_with_str_sequence_and_options(&parts, &opts)
}

fn save_blob(name: &str, blob: &Blob) -> Result<(), JsValue> {
    let url = Url::create_object_url_with_blob(blob)?;
    let a: HtmlAnchorElement = document().create_element("a")?.dyn_into()?;
    a.set_href(&url);
    a.set_download(name);
    a.set_hidden(true);
    document().body().ok_or("no body")?.append_child(&a)?;
    a.click();
    a.remove();
    // Revoke later: the download reads the URL asynchronously.
    let revoke = Closure::once_into_js(move || {
        let _ = Url::revoke_object_url(&url);
    });
    web_sys::window()
        .ok_or("no window")?
        .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 10_000)?;
    Ok(())
}

/// Saves `content` as a file named `name`.
pub fn save_text(name: &str, mime: &str, content: &str) {
    if let Err(e) = blob(content, mime).and_then(|b| save_blob(name, &b)) {
        web_sys::console::error_2(&"download failed".into(), &e);
    }
}

/// Renders an SVG document to a PNG (at twice its size) and saves it.
pub fn save_svg_as_png(name: &str, svg: &str, width: f64, height: f64) {
    let run = || -> Result<(), JsValue> {
        let url = Url::create_object_url_with_blob(&blob(svg, "image/svg+xml")?)?;
        let img = HtmlImageElement::new()?;
        let name = name.to_owned();
        let img2 = img.clone();
        let url2 = url.clone();
        let onload = Closure::once_into_js(move || {
            let draw = || -> Result<(), JsValue> {
                let canvas: HtmlCanvasElement = document().create_element("canvas")?.dyn_into()?;
                canvas.set_width((width * 2.0) as u32);
                canvas.set_height((height * 2.0) as u32);
                let ctx: web_sys::CanvasRenderingContext2d = canvas
                    .get_context("2d")?
                    .ok_or("no 2d context")?
                    .dyn_into()?;
                ctx.scale(2.0, 2.0)?;
                ctx.draw_image_with_html_image_element_and_dw_and_dh(
                    &img2, 0.0, 0.0, width, height,
                )?;
                let _ = Url::revoke_object_url(&url2);
                let cb = Closure::once_into_js(move |b: JsValue| {
                    if let Ok(b) = b.dyn_into::<Blob>() {
                        let _ = save_blob(&name, &b);
                    }
                });
                canvas.to_blob(cb.unchecked_ref())
            };
            if let Err(e) = draw() {
                web_sys::console::error_2(&"PNG export failed".into(), &e);
            }
        });
        img.set_onload(Some(onload.unchecked_ref()));
        img.set_src(&url);
        Ok(())
    };
    if let Err(e) = run() {
        web_sys::console::error_2(&"PNG export failed".into(), &e);
    }
}
