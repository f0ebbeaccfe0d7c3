//! The factor-score chart: diverging horizontal bars with 95% CI whiskers,
//! factors ranked by score.
//!
//! Layout is computed here, as plain numbers, so the web app (which renders
//! it as SVG elements) and the SVG export ([`to_svg`]) draw the same picture.
//! Text is escaped in the export; the app inserts it as text nodes.

use crate::factors::Factor;
use crate::report::Agent;

/// Sizes and labels of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartOptions {
    /// Total width in CSS pixels.
    pub width: f64,
    /// Height of one factor row.
    pub row_height: f64,
    /// Title drawn on top (also the accessible name).
    pub title: String,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            width: 720.0,
            row_height: 30.0,
            title: "Factor scores".into(),
        }
    }
}

/// One factor's row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub factor: String,
    pub label: String,
    pub score: f64,
    pub ci95: Option<[f64; 2]>,
    /// Bar rectangle.
    pub bar_x: f64,
    pub bar_width: f64,
    pub y: f64,
    pub bar_height: f64,
    /// Whisker ends (x) if there is an interval.
    pub whisker: Option<[f64; 2]>,
    /// Where the value label goes, and its text.
    pub value_x: f64,
    pub value_text: String,
    pub positive: bool,
    /// Full description for tooltips and screen readers.
    pub description: String,
}

/// An axis tick.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub x: f64,
    pub label: String,
}

/// A laid-out chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub title: String,
    /// x of the plot area's left and right edges.
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_top: f64,
    pub plot_bottom: f64,
    /// x of score 0.
    pub zero_x: f64,
    /// The symmetric domain [−extent, extent].
    pub extent: f64,
    pub label_x: f64,
    pub rows: Vec<Row>,
    pub ticks: Vec<Tick>,
    /// Factors in the agent without a score, listed under the chart.
    pub unscored: Vec<String>,
    /// Summary of the chart for assistive technology.
    pub summary: String,
}

const NICE: [f64; 8] = [0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0];

fn fmt_score(x: f64) -> String {
    let s = format!("{x:+.3}");
    s.replace('-', "−")
}

/// Lays out the chart of an agent's factor scores, ranked as in the agent's ranking.
pub fn factor_chart(agent: &Agent, opts: &ChartOptions) -> Chart {
    let scored: Vec<(&String, f64, Option<[f64; 2]>)> = agent
        .ranking
        .iter()
        .filter_map(|id| {
            let e = agent.factor_scores.get(id)?;
            Some((id, e.score?, e.ci95))
        })
        .collect();
    let unscored = agent
        .ranking
        .iter()
        .filter(|id| {
            agent
                .factor_scores
                .get(*id)
                .is_none_or(|e| e.score.is_none())
        })
        .cloned()
        .collect();
    let max_abs = scored
        .iter()
        .flat_map(|(_, s, ci)| {
            std::iter::once(s.abs()).chain(ci.iter().flat_map(|c| [c[0].abs(), c[1].abs()]))
        })
        .fold(0.0f64, f64::max);
    let extent = NICE
        .into_iter()
        .find(|&n| max_abs <= n + 1e-12)
        .unwrap_or(1.0);

    let width = opts.width.max(280.0);
    let label_w = (width * 0.28).clamp(90.0, 190.0);
    let value_w = 56.0;
    let plot_left = label_w + 8.0;
    let plot_right = width - value_w;
    let top = 34.0;
    let rh = opts.row_height;
    let plot_bottom = top + rh * scored.len().max(1) as f64;
    let height = plot_bottom + 28.0;
    let to_x = |v: f64| plot_left + (v + extent) / (2.0 * extent) * (plot_right - plot_left);
    let zero_x = to_x(0.0);

    let rows = scored
        .iter()
        .enumerate()
        .map(|(i, &(id, score, ci))| {
            let x = to_x(score.clamp(-extent, extent));
            let (bar_x, bar_width) = if x >= zero_x { (zero_x, x - zero_x) } else { (x, zero_x - x) };
            let label = Factor::from_id(id).map_or_else(|| id.clone(), |f| f.info().name.to_owned());
            let e = &agent.factor_scores[id];
            let ci_text = ci.map_or_else(String::new, |[lo, hi]| format!(", 95% CI {} to {}", fmt_score(lo), fmt_score(hi)));
            Row {
                factor: id.clone(),
                description: format!(
                    "{label}: score {}{ci_text}; {} concordant, {} discordant, {} ties, {} dropped of {} pairs",
                    fmt_score(score),
                    e.concordant,
                    e.discordant,
                    e.ties,
                    e.dropped,
                    e.n_pairs
                ),
                label,
                score,
                ci95: ci,
                bar_x,
                bar_width,
                y: top + rh * i as f64 + rh * 0.2,
                bar_height: rh * 0.6,
                whisker: ci.map(|[lo, hi]| [to_x(lo.clamp(-extent, extent)), to_x(hi.clamp(-extent, extent))]),
                value_x: plot_right + 6.0,
                value_text: fmt_score(score),
                positive: score >= 0.0,
            }
        })
        .collect::<Vec<_>>();
    let ticks = [-1.0, -0.5, 0.0, 0.5, 1.0]
        .into_iter()
        .map(|t| Tick {
            x: to_x(t * extent),
            label: if t == 0.0 {
                "0".into()
            } else {
                fmt_score(t * extent).trim_start_matches('+').to_owned()
            },
        })
        .collect();
    let summary = if rows.is_empty() {
        "No factor has a score.".to_owned()
    } else {
        let first = &rows[0];
        let last = &rows[rows.len() - 1];
        format!(
            "{} factors ranked by score, from {} ({}) to {} ({}). Positive: preferred responses have more of the factor.",
            rows.len(),
            first.label,
            first.value_text,
            last.label,
            last.value_text
        )
    };
    Chart {
        width,
        height,
        title: opts.title.clone(),
        plot_left,
        plot_right,
        plot_top: top,
        plot_bottom,
        zero_x,
        extent,
        label_x: label_w,
        rows,
        ticks,
        unscored,
        summary,
    }
}

/// Escapes text for XML content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// Colours of the standalone SVG.
pub const POSITIVE: &str = "#2563eb";
pub const NEGATIVE: &str = "#dc2626";
pub const INK: &str = "#1f2937";
pub const GRID: &str = "#d1d5db";

/// A standalone SVG document of the chart (for download and embedding).
pub fn to_svg(c: &Chart) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="t d" font-family="system-ui, sans-serif" font-size="13">"#,
        w = c.width,
        h = c.height
    );
    let _ = write!(
        s,
        r#"<title id="t">{}</title><desc id="d">{}</desc><rect width="100%" height="100%" fill="white"/>"#,
        xml_escape(&c.title),
        xml_escape(&c.summary)
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="20" font-weight="600" fill="{INK}">{}</text>"#,
        4,
        xml_escape(&c.title)
    );
    for t in &c.ticks {
        let _ = write!(
            s,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{}" stroke="{GRID}" stroke-dasharray="{}"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="{INK}" font-size="11">{}</text>"#,
            c.plot_top - 4.0,
            c.plot_bottom,
            if t.label == "0" { "none" } else { "3 3" },
            c.plot_bottom + 16.0,
            xml_escape(&t.label),
            x = t.x
        );
    }
    for r in &c.rows {
        let _ = write!(
            s,
            r#"<g><title>{}</title><text x="{}" y="{:.1}" text-anchor="end" dominant-baseline="middle" fill="{INK}">{}</text><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" rx="2"/>"#,
            xml_escape(&r.description),
            c.label_x,
            r.y + r.bar_height / 2.0,
            xml_escape(&r.label),
            r.bar_x,
            r.y,
            r.bar_width.max(0.5),
            r.bar_height,
            if r.positive { POSITIVE } else { NEGATIVE }
        );
        if let Some([lo, hi]) = r.whisker {
            let mid = r.y + r.bar_height / 2.0;
            let _ = write!(
                s,
                r#"<path d="M{lo:.1} {a:.1}V{b:.1}M{lo:.1} {mid:.1}H{hi:.1}M{hi:.1} {a:.1}V{b:.1}" stroke="{INK}" stroke-width="1.5" fill="none"/>"#,
                a = mid - 5.0,
                b = mid + 5.0
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" dominant-baseline="middle" fill="{INK}" font-variant-numeric="tabular-nums">{}</text></g>"#,
            r.value_x,
            r.y + r.bar_height / 2.0,
            xml_escape(&r.value_text)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ranking, FactorScoreEntry};
    use crate::stats::Setting;
    use std::collections::BTreeMap;

    fn agent(scores: &[(&str, Option<f64>)]) -> Agent {
        let factor_scores: BTreeMap<String, FactorScoreEntry> = scores
            .iter()
            .map(|(id, s)| {
                (
                    id.to_string(),
                    FactorScoreEntry {
                        score: *s,
                        ci95: s.map(|v| [v - 0.05, v + 0.05]),
                        concordant: 3,
                        discordant: 1,
                        ties: 0,
                        dropped: 0,
                        n_pairs: 4,
                    },
                )
            })
            .collect();
        Agent {
            name: "human".into(),
            setting: Setting::Human,
            tie_policy: String::new(),
            ranking: ranking(&factor_scores),
            factor_scores,
            joint: None,
        }
    }

    #[test]
    fn bars_diverge_from_zero_and_rank_by_score() {
        let c = factor_chart(
            &agent(&[
                ("length", Some(0.2)),
                ("novel_words", Some(-0.1)),
                ("n_facts", None),
            ]),
            &ChartOptions::default(),
        );
        assert_eq!(c.extent, 0.25);
        assert_eq!(c.rows[0].factor, "length");
        assert!(c.rows[0].bar_x == c.zero_x && c.rows[0].bar_width > 0.0);
        assert!(
            c.rows[1].bar_x < c.zero_x
                && (c.rows[1].bar_x + c.rows[1].bar_width - c.zero_x).abs() < 1e-9
        );
        assert_eq!(c.unscored, ["n_facts"]);
        let [lo, hi] = c.rows[0].whisker.unwrap();
        assert!(
            lo < c.rows[0].bar_x + c.rows[0].bar_width
                && hi > c.rows[0].bar_x + c.rows[0].bar_width
        );
    }

    #[test]
    fn svg_escapes_text() {
        let mut a = agent(&[("length", Some(0.5))]);
        a.name = "x".into();
        let c = factor_chart(
            &a,
            &ChartOptions {
                title: "<script>&\"".into(),
                ..Default::default()
            },
        );
        let svg = to_svg(&c);
        assert!(svg.contains("&lt;script&gt;&amp;&quot;"));
        assert!(!svg.contains("<script>"));
        assert!(svg.starts_with("<svg xmlns="));
    }
}
