//! The widget as a small element tree, built from a [`Widget`] model.
//!
//! The tree is what makes the widget safe with untrusted reports: tag and
//! attribute names are `&'static str` chosen here, so nothing from a report
//! can become an element, an event handler or a link; report text appears
//! only as [`Node::Text`] and as attribute *values*. The browser edge turns
//! the tree into DOM nodes with `createElement`, `setAttribute` and text
//! nodes (no markup is parsed); [`Node::to_html`] writes it as escaped markup
//! for the JavaScript library and for tests.

use crate::chart::xml_escape;

use super::model::{AlignmentModel, Body, DotChart, FactorsModel, RankingsModel, Widget, MAX_ROWS};
use super::Theme;

/// A node of the tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Element(Element),
    Text(String),
}

/// An element: a fixed tag, fixed attribute names, values and children.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    pub tag: &'static str,
    /// In the SVG namespace.
    pub svg: bool,
    pub attrs: Vec<(&'static str, String)>,
    pub children: Vec<Node>,
}

/// The SVG namespace.
pub const SVG_NS: &str = "http://www.w3.org/2000/svg";

fn el(tag: &'static str) -> Element {
    Element {
        tag,
        svg: false,
        attrs: Vec::new(),
        children: Vec::new(),
    }
}

fn svg(tag: &'static str) -> Element {
    Element {
        svg: true,
        ..el(tag)
    }
}

impl Element {
    fn attr(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.attrs.push((name, value.into()));
        self
    }

    fn num(self, name: &'static str, value: f64) -> Self {
        self.attr(name, format!("{:.1}", value))
    }

    fn class(self, value: &str) -> Self {
        self.attr("class", value)
    }

    fn child(mut self, e: Element) -> Self {
        self.children.push(Node::Element(e));
        self
    }

    fn text(mut self, t: impl Into<String>) -> Self {
        self.children.push(Node::Text(t.into()));
        self
    }

    fn children(mut self, es: impl IntoIterator<Item = Element>) -> Self {
        self.children.extend(es.into_iter().map(Node::Element));
        self
    }
}

impl Node {
    /// The tree as markup, every text and attribute value escaped.
    pub fn to_html(&self) -> String {
        let mut s = String::new();
        self.write_html(&mut s);
        s
    }

    fn write_html(&self, s: &mut String) {
        match self {
            Node::Text(t) => s.push_str(&xml_escape(t)),
            Node::Element(e) => {
                s.push('<');
                s.push_str(e.tag);
                if e.tag == "svg" {
                    s.push_str(" xmlns=\"");
                    s.push_str(SVG_NS);
                    s.push('"');
                }
                for (k, v) in &e.attrs {
                    s.push(' ');
                    s.push_str(k);
                    s.push_str("=\"");
                    s.push_str(&xml_escape(v));
                    s.push('"');
                }
                s.push('>');
                for c in &e.children {
                    c.write_html(s);
                }
                s.push_str("</");
                s.push_str(e.tag);
                s.push('>');
            }
        }
    }

    /// Every text in the tree, in order (for tests and accessibility checks).
    pub fn text_content(&self) -> String {
        match self {
            Node::Text(t) => t.clone(),
            Node::Element(e) => e.children.iter().map(Node::text_content).collect(),
        }
    }
}

fn card_class(theme: Theme, extra: &str) -> String {
    format!("pr-card pr-theme-{} {extra}", theme.id())
}

/// The widget's tree.
pub fn render(w: &Widget) -> Node {
    let body = match &w.body {
        Body::Factors(f) => factors(f),
        Body::Alignment(a) => alignment(a),
        Body::Rankings(r) => rankings(r),
        Body::Message(m) => el("p").class("pr-message").text(m.clone()),
    };
    Node::Element(
        el("div")
            .class(&card_class(w.theme, &format!("pr-view-{}", w.view.id())))
            .attr("data-state", "ready")
            .child(
                el("div")
                    .class("pr-head")
                    .child(el("p").class("pr-title").text(w.title.clone()))
                    .child(el("p").class("pr-sub").text(w.subtitle.clone())),
            )
            .child(body)
            .child(el("p").class("pr-foot").text(w.footer.clone())),
    )
}

/// A card that says why nothing can be shown: a title and the problems.
pub fn render_error(theme: Theme, title: &str, problems: &[String], more: usize) -> Node {
    let mut card = el("div")
        .class(&card_class(theme, "pr-error"))
        .attr("role", "alert")
        .attr("data-state", "error")
        .child(el("p").class("pr-title").text(title.to_owned()));
    if !problems.is_empty() {
        card = card.child(
            el("ul")
                .class("pr-problems")
                .children(problems.iter().map(|p| el("li").text(p.clone()))),
        );
    }
    if more > 0 {
        card = card.child(el("p").class("pr-note").text(format!("… and {more} more.")));
    }
    Node::Element(card)
}

/// A card with a short message (loading, for instance).
pub fn render_message(theme: Theme, text: &str) -> Node {
    Node::Element(
        el("div")
            .class(&card_class(theme, "pr-loading"))
            .attr("data-state", "loading")
            .child(el("p").class("pr-message").text(text.to_owned())),
    )
}

fn axis(ticks: &[crate::chart::Tick], top: f64, bottom: f64) -> impl Iterator<Item = Element> + '_ {
    ticks.iter().map(move |t| {
        svg("g")
            .class("pr-tick")
            .child(
                svg("line")
                    .num("x1", t.x)
                    .num("x2", t.x)
                    .num("y1", top - 4.0)
                    .num("y2", bottom)
                    .class(if t.label == "0" {
                        "pr-axis0"
                    } else {
                        "pr-grid"
                    }),
            )
            .child(
                svg("text")
                    .num("x", t.x)
                    .num("y", bottom + 16.0)
                    .attr("text-anchor", "middle")
                    .text(t.label.clone()),
            )
    })
}

fn factors(f: &FactorsModel) -> Element {
    let c = &f.chart;
    // The app's chart leaves room for a title above the plot; the widget's
    // title is the card's, so the view box starts just above the plot.
    let y0 = c.plot_top - 8.0;
    let mut chart = svg("svg")
        .attr(
            "viewBox",
            format!("0 {y0:.1} {:.1} {:.1}", c.width, c.height - y0),
        )
        .attr("role", "img")
        .attr("aria-label", c.summary.clone())
        .class("pr-chart")
        .child(svg("title").text(c.title.clone()))
        .children(axis(&c.ticks, c.plot_top, c.plot_bottom));
    for r in &c.rows {
        let mid = r.y + r.bar_height / 2.0;
        let mut g = svg("g")
            .class("pr-row")
            .attr("data-factor", r.factor.clone())
            .child(svg("title").text(r.description.clone()))
            .child(
                svg("text")
                    .num("x", c.label_x)
                    .num("y", mid)
                    .attr("text-anchor", "end")
                    .attr("dominant-baseline", "middle")
                    .class("pr-label")
                    .text(r.label.clone()),
            )
            .child(
                svg("rect")
                    .num("x", r.bar_x)
                    .num("y", r.y)
                    .num("width", r.bar_width.max(0.5))
                    .num("height", r.bar_height)
                    .attr("rx", "2")
                    .attr(
                        "fill",
                        if r.positive {
                            crate::chart::POSITIVE
                        } else {
                            crate::chart::NEGATIVE
                        },
                    )
                    .class(if r.positive { "pr-pos" } else { "pr-neg" }),
            );
        if let Some([lo, hi]) = r.whisker {
            g = g.child(
                svg("path")
                    .attr(
                        "d",
                        format!(
                            "M{lo:.1} {a:.1}V{b:.1}M{lo:.1} {mid:.1}H{hi:.1}M{hi:.1} {a:.1}V{b:.1}",
                            a = mid - 5.0,
                            b = mid + 5.0
                        ),
                    )
                    .class("pr-whisker"),
            );
        }
        g = g.child(
            svg("text")
                .num("x", r.value_x)
                .num("y", mid)
                .attr("dominant-baseline", "middle")
                .class("pr-value")
                .text(r.value_text.clone()),
        );
        chart = chart.child(g);
    }
    let mut notes = Vec::new();
    if f.hidden > 0 {
        notes.push(format!("{} more factors are not drawn.", f.hidden));
    }
    if !c.unscored.is_empty() {
        notes.push(format!(
            "No score (no pair counts): {}.",
            c.unscored.join(", ")
        ));
    }
    if !f.skipped.is_empty() {
        notes.push(format!(
            "Not scored, need a language model: {}.",
            f.skipped.join(", ")
        ));
    }
    if !f.missing.is_empty() {
        let lost: Vec<String> = f
            .missing
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        notes.push(format!(
            "Pairs not compared because a value is missing (failed extraction or no verdict; apart from factor ties): {}.",
            lost.join(", ")
        ));
    }
    if !f.few_inputs.is_empty() {
        notes.push(format!(
            "! Intervals from fewer than {} inputs, whose coverage is well below 95%: {}.",
            crate::stats::MIN_INPUTS_FOR_INTERVALS,
            f.few_inputs.join(", ")
        ));
    }
    el("div")
        .class("pr-body")
        .attr("data-agent", f.agent.clone())
        .child(el("p").class("pr-lead").text(format!(
            "How strongly “more of the factor” goes with “preferred” for {}: (C − D)/(C + D + T); whiskers are 95% intervals.",
            f.agent
        )))
        .child(el("figure").class("pr-figure").child(chart))
        .children(notes.into_iter().map(|n| el("p").class("pr-note").text(n)))
}

fn dots(c: &DotChart) -> Element {
    let mut chart = svg("svg")
        .attr("viewBox", format!("0 0 {:.1} {:.1}", c.width, c.height))
        .attr("role", "img")
        .attr("aria-label", c.summary.clone())
        .class("pr-chart pr-dots")
        .children(axis(&c.ticks, c.plot_top, c.plot_bottom));
    for r in &c.rows {
        let mut g = svg("g")
            .class("pr-row")
            .attr("data-factor", r.factor.clone())
            .child(svg("title").text(r.description.clone()))
            .child(
                svg("text")
                    .num("x", c.label_x)
                    .num("y", r.y)
                    .attr("text-anchor", "end")
                    .attr("dominant-baseline", "middle")
                    .class("pr-label")
                    .text(r.label.clone()),
            );
        if r.dots.len() > 1 {
            g = g.child(
                svg("line")
                    .num("x1", r.span[0])
                    .num("x2", r.span[1])
                    .num("y1", r.y)
                    .num("y2", r.y)
                    .class("pr-span"),
            );
        }
        for &(s, x) in &r.dots {
            g = g.child(
                svg("circle")
                    .num("cx", x)
                    .num("cy", r.y)
                    .attr("r", "5")
                    .attr("data-agent", c.series.get(s).cloned().unwrap_or_default())
                    .class(&format!("pr-dot pr-s{s}")),
            );
        }
        chart = chart.child(g);
    }
    chart
}

fn legend(series: &[String]) -> Element {
    el("ul")
        .class("pr-legend")
        .children(series.iter().enumerate().map(|(i, name)| {
            el("li")
                .child(
                    el("span")
                        .class(&format!("pr-key pr-s{i}"))
                        .attr("aria-hidden", "true"),
                )
                .text(if i == 0 {
                    format!("{name} (reference)")
                } else {
                    name.clone()
                })
        }))
}

fn alignment(a: &AlignmentModel) -> Element {
    let mut body = el("div").class("pr-body").child(
        el("p").class("pr-lead").text(format!(
            "Do other agents weigh the factors as {} does? Correlations of their factor scores (Kendall’s τ is the paper’s measure).",
            a.reference
        )),
    );
    let head = [
        "agent",
        "reference",
        "factors",
        "Kendall τ",
        "Spearman ρ",
        "Pearson r",
    ];
    // Columns a narrow widget hides: the reference, the count, ρ and r.
    let col = |i: usize| match i {
        0 => "",
        1 => "pr-refcol",
        3 => "pr-num",
        _ => "pr-num pr-wide",
    };
    let table = el("table")
        .class("pr-table")
        .child(
            el("thead").child(
                el("tr").children(
                    head.iter()
                        .enumerate()
                        .map(|(i, h)| el("th").attr("scope", "col").class(col(i)).text(*h)),
                ),
            ),
        )
        .child(el("tbody").children(a.rows.iter().map(|r| {
            el("tr")
                .child(el("th").attr("scope", "row").text(r.agent.clone()))
                .child(el("td").class(col(1)).text(r.reference.clone()))
                .child(el("td").class(col(2)).text(r.n_factors.to_string()))
                .child(el("td").class("pr-num pr-tau").text(r.kendall_tau.clone()))
                .child(el("td").class(col(4)).text(r.spearman_rho.clone()))
                .child(el("td").class(col(5)).text(r.pearson_r.clone()))
        })));
    body = body.child(el("div").class("pr-scroll").child(table));
    for t in &a.agreements {
        body = body.child(el("p").class("pr-note pr-agreement").text(t.clone()));
    }
    if a.computed {
        body = body.child(el("p").class("pr-note").text(
            "The report lists no alignments; these are computed from its agents' factor scores.",
        ));
    }
    body = body.child(
        el("figure")
            .class("pr-figure")
            .child(legend(&a.chart.series))
            .child(dots(&a.chart)),
    );
    if a.chart.hidden > 0 {
        body = body.child(
            el("p")
                .class("pr-note")
                .text(format!("{} more factors are not drawn.", a.chart.hidden)),
        );
    }
    if let Some(g) = &a.guidance {
        body = body.child(guidance(g));
    }
    if let Some(m) = &a.improvement {
        body = body.child(improvement(m));
    }
    body
}

/// The improvement experiment: τ per condition with the humans and the
/// evaluator.
fn improvement(m: &super::model::ImprovementModel) -> Element {
    let head = [
        "condition",
        "pairs",
        "τ with people",
        "τ with the evaluator",
    ];
    let table = el("table")
        .class("pr-table pr-improvement")
        .child(
            el("thead").child(el("tr").children(head.iter().enumerate().map(|(i, h)| {
                el("th")
                    .attr("scope", "col")
                    .class(if i == 0 { "" } else { "pr-num" })
                    .text(*h)
            }))),
        )
        .child(el("tbody").children(m.rows.iter().map(|r| {
            el("tr")
                .attr("data-condition", r[0].clone())
                .child(el("th").attr("scope", "row").text(r[0].clone()))
                .child(el("td").class("pr-num").text(r[1].clone()))
                .child(el("td").class("pr-num pr-tau").text(r[2].clone()))
                .child(el("td").class("pr-num pr-tau").text(r[3].clone()))
        })));
    let mut out = el("figure")
        .class("pr-figure pr-improvement-figure")
        .child(el("p").class("pr-lead").text(m.title.clone()))
        .child(el("div").class("pr-scroll").child(table));
    if let Some(n) = &m.note {
        out = out.child(el("p").class("pr-note").text(n.clone()));
    }
    out
}

/// The guided-judging chart: a dot per condition, the unguided agreement
/// dashed, whiskers at the unguided agreement plus the difference interval.
fn guidance(g: &super::model::GuidanceModel) -> Element {
    let c = &g.chart;
    let mut chart = svg("svg")
        .attr("viewBox", format!("0 0 {:.1} {:.1}", c.width, c.height))
        .attr("role", "img")
        .attr("aria-label", c.summary.clone())
        .class("pr-chart pr-guidance")
        .children(axis(&c.ticks, c.plot_top, c.plot_bottom));
    if let Some(b) = c.baseline_x {
        chart = chart.child(
            svg("line")
                .num("x1", b)
                .num("x2", b)
                .num("y1", c.plot_top - 4.0)
                .num("y2", c.plot_bottom)
                .attr("stroke-dasharray", "4 3")
                .class("pr-axis0"),
        );
    }
    for r in &c.rows {
        let mut row = svg("g")
            .class("pr-row")
            .attr("data-strategy", r.strategy.clone())
            .child(svg("title").text(r.description.clone()))
            .child(
                svg("text")
                    .num("x", c.label_x)
                    .num("y", r.y)
                    .attr("text-anchor", "end")
                    .attr("dominant-baseline", "middle")
                    .class("pr-label")
                    .text(r.label.clone()),
            );
        if let Some([lo, hi]) = r.whisker {
            row = row.child(
                svg("line")
                    .num("x1", lo)
                    .num("x2", hi)
                    .num("y1", r.y)
                    .num("y2", r.y)
                    .class("pr-span"),
            );
        }
        if let Some(x) = r.x {
            row = row.child(
                svg("circle")
                    .num("cx", x)
                    .num("cy", r.y)
                    .attr("r", "5")
                    .class(if r.strategy == "none" {
                        "pr-dot pr-s0"
                    } else {
                        "pr-dot pr-s1"
                    }),
            );
        }
        row = row.child(
            svg("text")
                .num("x", c.plot_right + 8.0)
                .num("y", r.y)
                .attr("dominant-baseline", "middle")
                .class("pr-value")
                .text(r.value_text.clone()),
        );
        chart = chart.child(row);
    }
    let mut out = el("figure")
        .class("pr-figure pr-guidance-figure")
        .child(el("p").class("pr-lead").text(g.title.clone()))
        .child(chart)
        .child(el("p").class("pr-note").text(
            "Dots: agreement per condition; dashed: no guidance; lines: the unguided agreement plus the 95% interval of the difference.",
        ));
    for l in &g.lines {
        out = out.child(el("p").class("pr-note pr-guidance-line").text(l.clone()));
    }
    out
}

fn rankings(r: &RankingsModel) -> Element {
    let head = el("tr")
        .child(el("th").attr("scope", "col").text("factor"))
        .children(r.agents.iter().map(|a| {
            el("th")
                .attr("scope", "col")
                .class("pr-num")
                .text(a.clone())
        }));
    let rows = r.rows.iter().map(|row| {
        el("tr")
            .attr("data-factor", row.factor.clone())
            .child(el("th").attr("scope", "row").text(row.label.clone()))
            .children(row.cells.iter().zip(&r.agents).map(|(c, agent)| {
                let mut td = el("td").class("pr-num").attr("data-agent", agent.clone());
                match c.rank {
                    Some(k) => {
                        td = td
                            .child(el("span").class("pr-rank").text(format!("#{k}")))
                            .child(el("span").class("pr-score").text(c.score.clone()));
                    }
                    None => td = td.child(el("span").class("pr-rank pr-none").text("—")),
                }
                if let Some(s) = c.shift.filter(|s| *s != 0) {
                    let (class, arrow) = if s > 0 {
                        ("pr-up", "▲")
                    } else {
                        ("pr-down", "▼")
                    };
                    td = td.child(
                        el("span")
                            .class(&format!("pr-shift {class}"))
                            .attr(
                                "title",
                                format!(
                                    "{} places {} than the reference",
                                    s.abs(),
                                    if s > 0 { "higher" } else { "lower" }
                                ),
                            )
                            .text(format!("{arrow}{}", s.abs())),
                    );
                }
                td
            }))
    });
    let mut body = el("div")
        .class("pr-body")
        .child(el("p").class("pr-lead").text(
            "Factors ranked by score for each agent (#1 goes most with preference); arrows show how far an agent moves a factor against the first column.",
        ))
        .child(
            el("div").class("pr-scroll").child(
                el("table")
                    .class("pr-table pr-ranks")
                    .child(el("thead").child(head))
                    .child(el("tbody").children(rows)),
            ),
        );
    if r.hidden > 0 {
        body = body.child(el("p").class("pr-note").text(format!(
            "{} more factors are not listed (at most {MAX_ROWS}).",
            r.hidden
        )));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::super::model::widget;
    use super::super::{EmbedOptions, WidgetView};
    use super::*;

    fn walk<'a>(n: &'a Node, out: &mut Vec<&'a Element>) {
        if let Node::Element(e) = n {
            out.push(e);
            for c in &e.children {
                walk(c, out);
            }
        }
    }

    fn hostile_report() -> crate::report::Report {
        let evil = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=1\"> javascript:alert(1) \" onload=\"x";
        let mut r = super::super::model::tests::two_agents();
        r.dataset.name = Some(evil.into());
        r.generator = evil.into();
        r.config.task = evil.into();
        r.agents[1].name = evil.into();
        let e = r.agents[0].factor_scores["length"];
        r.agents[0].factor_scores.insert(evil.into(), e);
        r.agents[0].ranking = crate::report::ranking(&r.agents[0].factor_scores);
        r.guidance = Some(guidance_section(evil));
        r
    }

    fn guidance_section(name: &str) -> crate::report::GuidanceSection {
        serde_json::from_value(serde_json::json!({
            "model": name, "evidence_from": name, "evidence": [],
            "mis": {"factor": name, "direction": "over", "sentence": name, "chosen_by": "evidence"},
            "rand": {"factor": "length", "direction": "over", "sentence": "s", "chosen_by": "evidence"},
            "pairs": 40, "inputs": 20, "few_inputs": false, "bootstrap_resamples": 100,
            "permutations": 100, "permutation_exact": false,
            "conditions": [
                {"strategy": "none", "agent": name, "agreement": 0.5, "factor_scores": {}},
                {"strategy": "mis", "agent": name, "agreement": 0.75, "difference": 0.25,
                 "difference_ci95": [0.1, 0.4], "p_value": 0.01, "factor_scores": {}},
                {"strategy": "rand", "agent": name, "agreement": 0.5, "difference": 0.0,
                 "difference_ci95": [-0.1, 0.1], "p_value": 1.0, "factor_scores": {}}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn a_report_with_an_improvement_section_shows_tau_per_condition_as_text() {
        let mut r = super::super::model::tests::two_agents();
        let alignment = serde_json::json!({"agent": "m (improved, both)", "reference": "m (judge)",
            "factors": ["length"], "n_factors": 1, "kendall_tau": null, "spearman_rho": null,
            "pearson_r": null});
        let cond = |c: &str| {
            serde_json::json!({"condition": c, "agent": format!("m (improved, {c})"), "inputs": 2, "pairs": 4,
                   "kendall_tau_human": 0.5, "kendall_tau_human_ci95": [-0.5, 1.0], "n_factors_human": 3,
                   "kendall_tau_evaluator": null, "n_factors_evaluator": 3,
                   "evaluator_alignment": alignment})
        };
        let evil = "<b>single</b>";
        r.improvement = Some(
            serde_json::from_value(serde_json::json!({"writer": "m", "evaluator": "m (judge)",
                "inputs_planned": 2, "inputs": 2, "questions_per_input": 6.0, "calls": 12,
                "cache_hits": 0, "failed": 0, "judge_calls": 4, "too_few": true,
                "conditions": [cond("feedback"), cond("both"), cond(evil)], "items": []}))
            .unwrap(),
        );
        let opts = EmbedOptions {
            view: WidgetView::Alignment,
            ..Default::default()
        };
        let tree = render(&widget(&r, &opts, 600.0));
        let mut els = Vec::new();
        walk(&tree, &mut els);
        let rows: Vec<&str> = els
            .iter()
            .filter_map(|e| e.attrs.iter().find(|(k, _)| *k == "data-condition"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(rows, ["feedback", "both", evil]);
        assert!(!els.iter().any(|e| e.tag == "b"), "markup stays text");
        let text = tree.text_content();
        assert!(
            text.contains(
                "Feedback-driven improvement, writer m, evaluator m (judge): 2 of 2 inputs"
            ),
            "{text}"
        );
        assert!(text.contains("+0.500 [−0.500, +1.000]"), "{text}");
        assert!(text.contains("a trial run, not a result"), "{text}");
    }

    #[test]
    fn a_report_with_a_guidance_section_shows_its_chart_and_sentences_in_the_alignment_view() {
        let mut r = super::super::model::tests::two_agents();
        let plain = render(&widget(
            &r,
            &EmbedOptions {
                view: WidgetView::Alignment,
                ..Default::default()
            },
            600.0,
        ))
        .to_html();
        assert!(!plain.contains("pr-guidance"));
        r.guidance = Some(guidance_section("m"));
        let tree = render(&widget(
            &r,
            &EmbedOptions {
                view: WidgetView::Alignment,
                ..Default::default()
            },
            600.0,
        ));
        let mut els = Vec::new();
        walk(&tree, &mut els);
        let rows: Vec<&str> = els
            .iter()
            .filter_map(|e| e.attrs.iter().find(|(k, _)| *k == "data-strategy"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(rows, ["none", "mis", "rand"]);
        let text = tree.text_content();
        assert!(
            text.contains("Guided judging, m: agreement with people on 40 pairs of 20 inputs"),
            "{text}"
        );
        assert!(
            text.contains("GuideMis (m over) raised agreement with people from 0.500 to 0.750"),
            "{text}"
        );
        assert!(
            text.contains("GuideRand (length over): agreement 0.500 against 0.500"),
            "{text}"
        );
        assert!(text.contains("no clear change"), "{text}");
        // The suggested iframe height makes room for the chart and sentences.
        let opts = EmbedOptions {
            view: WidgetView::Alignment,
            ..Default::default()
        };
        let with = super::super::model::suggested_height(&widget(&r, &opts, 600.0));
        r.guidance = None;
        let without = super::super::model::suggested_height(&widget(&r, &opts, 600.0));
        assert!(with >= without + 200, "{with} vs {without}");
    }

    #[test]
    fn report_text_stays_text_in_every_view() {
        let r = hostile_report();
        for view in WidgetView::ALL {
            for agent in [None, Some(r.agents[1].name.clone())] {
                let w = widget(
                    &r,
                    &EmbedOptions {
                        view,
                        agent,
                        ..Default::default()
                    },
                    480.0,
                );
                let tree = render(&w);
                let mut els = Vec::new();
                walk(&tree, &mut els);
                for e in &els {
                    assert!(!matches!(
                        e.tag,
                        "script"
                            | "iframe"
                            | "object"
                            | "embed"
                            | "a"
                            | "img"
                            | "foreignObject"
                            | "use"
                            | "style"
                            | "link"
                    ));
                    for (k, _) in &e.attrs {
                        assert!(
                            !k.starts_with("on")
                                && !matches!(*k, "href" | "src" | "style" | "xlink:href"),
                            "{k}"
                        );
                    }
                }
                let html = tree.to_html();
                assert!(!html.contains("<script"), "{html}");
                assert!(!html.contains("<img"), "{html}");
                assert!(!html.contains("\" onload=\""), "{html}");
                assert!(html.contains("&lt;script&gt;"));
                assert!(tree.text_content().contains("<script>") || view == WidgetView::Alignment);
            }
        }
    }

    #[test]
    fn factors_tree_has_a_bar_per_scored_factor() {
        let r = super::super::model::tests::example();
        let w = widget(&r, &EmbedOptions::default(), 600.0);
        let tree = render(&w);
        let mut els = Vec::new();
        walk(&tree, &mut els);
        let rows = els
            .iter()
            .filter(|e| e.attrs.iter().any(|(k, v)| *k == "class" && v == "pr-row"))
            .count();
        let scored = r.agents[0]
            .factor_scores
            .values()
            .filter(|e| e.score.is_some())
            .count();
        assert_eq!(rows, scored);
        assert!(els.iter().all(|e| e.svg
            == matches!(
                e.tag,
                "svg" | "g" | "line" | "text" | "rect" | "path" | "title" | "circle"
            )));
        let html = tree.to_html();
        assert!(html.starts_with(
            "<div class=\"pr-card pr-theme-auto pr-view-factors\" data-state=\"ready\">"
        ));
        assert!(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 26.0 600.0"));
    }

    #[test]
    fn error_card_lists_problems_as_text() {
        let t = render_error(
            Theme::Dark,
            "This PROFILE report cannot be shown",
            &["a: <b>bad</b>".into()],
            3,
        );
        let html = t.to_html();
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("<li>a: &lt;b&gt;bad&lt;/b&gt;</li>"));
        assert!(html.contains("… and 3 more."));
        assert!(html.contains("pr-theme-dark"));
    }
}
