//! Reports embedded in other pages: the pure part of the `<profile-report>`
//! custom element, the `embed.html` iframe page, the app's Embed panel and
//! the JavaScript library.
//!
//! * [`check`]: an untrusted report text → a typed [`Report`], or every
//!   problem with its place.
//! * [`model`]: a report and [`EmbedOptions`] → what the widget shows
//!   (factor scores, alignment or rankings), laid out as numbers.
//! * [`dom`]: the model → an element tree whose tags and attribute names are
//!   fixed here, so report text can only ever be text.
//! * [`fragment`]: a report compressed into a URL fragment and back.
//!
//! The browser edges (`src/bin/widget.rs`, `src/bin/profile_js.rs`,
//! `src/web/embed.rs`) only move strings and DOM nodes.
//!
//! ```
//! use profile::embed::{self, EmbedOptions, WidgetView};
//! let out = embed::render_text("{\"schema\": \"profile-report/1\"}", &EmbedOptions::default(), 600.0);
//! assert!(!out.ok);
//! assert!(out.node.to_html().contains("dataset: is missing"));
//! ```

pub mod check;
pub mod dom;
pub mod fragment;
pub mod model;

use crate::chart::xml_escape;
use crate::report::Report;

pub use check::{check_report, CheckError, Problem};
pub use fragment::{decode_fragment, encode_fragment, FragmentError};

/// What a widget shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WidgetView {
    /// One agent's factor scores as a ranked bar chart with intervals.
    #[default]
    Factors,
    /// Agents' factor scores side by side and their correlations.
    Alignment,
    /// Every agent's ranking of the factors.
    Rankings,
}

impl WidgetView {
    pub const ALL: [WidgetView; 3] = [
        WidgetView::Factors,
        WidgetView::Alignment,
        WidgetView::Rankings,
    ];

    /// The id used in the `view` attribute and in fragments.
    pub fn id(self) -> &'static str {
        match self {
            WidgetView::Factors => "factors",
            WidgetView::Alignment => "alignment",
            WidgetView::Rankings => "rankings",
        }
    }

    /// Parses an id (case and surrounding space ignored).
    pub fn from_id(s: &str) -> Option<WidgetView> {
        let s = s.trim().to_ascii_lowercase();
        WidgetView::ALL.into_iter().find(|v| v.id() == s)
    }

    /// A label for menus.
    pub fn label(self) -> &'static str {
        match self {
            WidgetView::Factors => "factor scores",
            WidgetView::Alignment => "alignment between agents",
            WidgetView::Rankings => "rankings",
        }
    }
}

/// Colours of a widget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Theme {
    /// Follows the reader's `prefers-color-scheme`.
    #[default]
    Auto,
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::Auto, Theme::Light, Theme::Dark];

    pub fn id(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn from_id(s: &str) -> Option<Theme> {
        let s = s.trim().to_ascii_lowercase();
        Theme::ALL.into_iter().find(|t| t.id() == s)
    }
}

/// How a report is embedded: the `view`, `theme` and `agent` attributes of
/// `<profile-report>`, or the same parameters of an `embed.html#…` fragment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmbedOptions {
    pub view: WidgetView,
    pub theme: Theme,
    /// The agent of the factor-score view; `None` = `human`, else the first.
    pub agent: Option<String>,
}

impl EmbedOptions {
    /// Options from attribute values; unknown values fall back to the defaults.
    pub fn from_attributes(view: Option<&str>, theme: Option<&str>, agent: Option<&str>) -> Self {
        EmbedOptions {
            view: view.and_then(WidgetView::from_id).unwrap_or_default(),
            theme: theme.and_then(Theme::from_id).unwrap_or_default(),
            agent: agent
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
        }
    }
}

/// A copy of a report for embedding: the list of diagnostics and the failed
/// model items (with their raw replies) are dropped, their counts
/// (`diagnostics_total`, `records_skipped`, `llm.failed`) stay. Everything a
/// widget draws is kept.
pub fn compact(report: &Report) -> Report {
    let mut r = report.clone();
    r.dataset.diagnostics.clear();
    if let Some(l) = &mut r.llm {
        l.failures.clear();
    }
    r
}

/// A fragment longer than this many bytes is called long in the app: some
/// platforms cut long addresses.
pub const LONG_FRAGMENT: usize = 16 * 1024;

/// The directory URL of a page: `https://x.org/p/index.html?q#f` → `https://x.org/p/`.
pub fn base_url(href: &str) -> String {
    let end = href.find(['#', '?']).unwrap_or(href.len());
    let path = &href[..end];
    // Where the path starts, after `scheme://host`.
    let host_end = path.find("://").map_or(0, |i| {
        let s = i + 3;
        path[s..].find('/').map_or(path.len(), |j| s + j)
    });
    match path[host_end..].rfind('/') {
        Some(i) => path[..host_end + i + 1].to_owned(),
        None => format!("{path}/"),
    }
}

/// The two ways to embed a report, ready to paste into a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippets {
    /// `<script type="module" src="…/widget.js">` and `<profile-report src="…">`.
    pub script: String,
    /// `<iframe src="…/embed.html#…">`, for platforms that forbid scripts.
    pub iframe: String,
    /// The iframe's address.
    pub embed_url: String,
    /// Bytes of the fragment (the compressed report).
    pub fragment_len: usize,
    /// The iframe's height in CSS pixels.
    pub height: u32,
}

/// The snippets for a report served from `base` (the site with `widget.js`
/// and `embed.html`); the script snippet reads the report from `report_file`,
/// the iframe carries a [`compact`] copy in its fragment.
pub fn snippets(base: &str, report: &Report, opts: &EmbedOptions, report_file: &str) -> Snippets {
    let compacted = compact(report);
    let json = serde_json::to_string(&compacted).unwrap_or_default();
    let fragment = encode_fragment(&json, opts);
    let embed_url = format!("{base}embed.html#{fragment}");
    let w = model::widget(&compacted, opts, 640.0);
    let height = model::suggested_height(&w);
    let agent = opts
        .agent
        .as_ref()
        .map(|a| format!(" agent=\"{}\"", xml_escape(a)))
        .unwrap_or_default();
    let script = format!(
        "<script type=\"module\" src=\"{}widget.js\"></script>\n<profile-report src=\"{}\" view=\"{}\" theme=\"{}\"{agent}></profile-report>",
        xml_escape(base),
        xml_escape(report_file),
        opts.view.id(),
        opts.theme.id()
    );
    let iframe = format!(
        "<iframe src=\"{}\" title=\"{}\" width=\"100%\" height=\"{height}\" frameborder=\"0\" loading=\"lazy\" sandbox=\"allow-scripts allow-same-origin\"></iframe>",
        xml_escape(&embed_url),
        xml_escape(&w.title)
    );
    Snippets {
        script,
        iframe,
        embed_url,
        fragment_len: fragment.len(),
        height,
    }
}

/// What rendering an untrusted report gave.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// The widget, or a card listing the report's problems.
    pub node: dom::Node,
    /// Whether the report was shown (not an error card).
    pub ok: bool,
    /// A height that shows it whole.
    pub height: u32,
}

/// The title of the card for a report that fails its check.
pub const INVALID_TITLE: &str = "This PROFILE report cannot be shown";

/// Checks and lays out an untrusted report text at `width` CSS pixels.
pub fn render_text(text: &str, opts: &EmbedOptions, width: f64) -> Rendered {
    match check_report(text) {
        Ok(report) => render_report(&report, opts, width),
        Err(e) => invalid(opts.theme, &e),
    }
}

/// Lays out a checked report.
pub fn render_report(report: &Report, opts: &EmbedOptions, width: f64) -> Rendered {
    let w = model::widget(report, opts, width);
    Rendered {
        height: model::suggested_height(&w),
        node: dom::render(&w),
        ok: true,
    }
}

fn invalid(theme: Theme, e: &CheckError) -> Rendered {
    let problems: Vec<String> = e.problems.iter().map(Problem::to_string).collect();
    Rendered {
        height: 140 + 24 * problems.len() as u32,
        node: dom::render_error(theme, INVALID_TITLE, &problems, e.total - e.problems.len()),
        ok: false,
    }
}

/// Reads an `embed.html` fragment, checks its report and lays it out; the
/// fragment's options apply.
pub fn render_fragment(fragment: &str, width: f64) -> Rendered {
    match decode_fragment(fragment) {
        Ok((opts, text)) => render_text(&text, &opts, width),
        Err(e) => Rendered {
            node: dom::render_error(
                Theme::from_id(
                    fragment
                        .trim_start_matches('#')
                        .split('&')
                        .find_map(|p| p.strip_prefix("theme="))
                        .unwrap_or(""),
                )
                .unwrap_or_default(),
                "This embedded PROFILE report cannot be read",
                &[e.to_string()],
                0,
            ),
            ok: false,
            height: 160,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url("https://x.org/p/index.html?q=1#f"),
            "https://x.org/p/"
        );
        assert_eq!(
            base_url("https://x.org/p/#task=helpful"),
            "https://x.org/p/"
        );
        assert_eq!(base_url("https://x.org/p/"), "https://x.org/p/");
        assert_eq!(base_url("https://x.org/"), "https://x.org/");
        assert_eq!(base_url("https://x.org"), "https://x.org/");
        assert_eq!(
            base_url("http://127.0.0.1:8080/profile/index.html"),
            "http://127.0.0.1:8080/profile/"
        );
    }

    #[test]
    fn options_from_attributes() {
        assert_eq!(
            EmbedOptions::from_attributes(Some(" Rankings "), Some("DARK"), Some(" judge ")),
            EmbedOptions {
                view: WidgetView::Rankings,
                theme: Theme::Dark,
                agent: Some("judge".into())
            }
        );
        assert_eq!(
            EmbedOptions::from_attributes(Some("pie"), None, Some("")),
            EmbedOptions::default()
        );
    }

    #[test]
    fn snippets_escape_and_the_iframe_round_trips() {
        let mut r = model::tests::two_agents();
        r.dataset.diagnostics = vec![crate::data::Diagnostic {
            line: 3,
            element: None,
            field: None,
            reason: "x".repeat(10_000),
        }];
        r.dataset.diagnostics_total = 1;
        let opts = EmbedOptions {
            view: WidgetView::Rankings,
            theme: Theme::Light,
            agent: Some("a\"><script>".into()),
        };
        let s = snippets("https://x.org/p/", &r, &opts, "my \"report\".json");
        assert_eq!(
            s.script,
            "<script type=\"module\" src=\"https://x.org/p/widget.js\"></script>\n<profile-report src=\"my &quot;report&quot;.json\" view=\"rankings\" theme=\"light\" agent=\"a&quot;&gt;&lt;script&gt;\"></profile-report>"
        );
        assert!(s.iframe.starts_with("<iframe src=\"https://x.org/p/embed.html#view=rankings&amp;theme=light&amp;agent=a%22%3E%3Cscript%3E&amp;r="));
        assert!(s
            .iframe
            .contains("title=\"Factor rankings — example.jsonl\""));
        // The diagnostics were dropped, so the fragment stays small.
        assert!(s.fragment_len < 4000, "{}", s.fragment_len);
        let (o, text) = decode_fragment(s.embed_url.split_once('#').unwrap().1).unwrap();
        assert_eq!(o, opts);
        let back = check_report(&text).unwrap();
        assert_eq!(back, compact(&r));
        assert_eq!(back.dataset.diagnostics_total, 1);
        assert!(back.dataset.diagnostics.is_empty());
    }

    #[test]
    fn rendering_untrusted_text_gives_a_card_either_way() {
        let r = model::tests::example();
        let json = serde_json::to_string(&r).unwrap();
        let ok = render_text(&json, &EmbedOptions::default(), 500.0);
        assert!(ok.ok);
        assert!(ok.node.to_html().contains("data-state=\"ready\""));
        for bad in [
            "",
            "nope",
            "[]",
            "{\"schema\": 5}",
            &json[..json.len() / 2],
            &json.replace("\"score\":", "\"score\":\"NaN\",\"x\":"),
        ] {
            let out = render_text(bad, &EmbedOptions::default(), 500.0);
            assert!(!out.ok, "{bad}");
            let html = out.node.to_html();
            assert!(
                html.contains("role=\"alert\"") && html.contains(INVALID_TITLE),
                "{html}"
            );
        }
        let f = encode_fragment(
            &json,
            &EmbedOptions {
                theme: Theme::Dark,
                ..Default::default()
            },
        );
        assert!(render_fragment(&f, 400.0).ok);
        let broken = render_fragment("view=factors&theme=dark&r=AAAA", 400.0);
        assert!(!broken.ok);
        let html = broken.node.to_html();
        assert!(
            html.contains("pr-theme-dark") && html.contains("damaged"),
            "{html}"
        );
    }
}
