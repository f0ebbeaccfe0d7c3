//! The factor-score chart: diverging horizontal bars with 95% CI whiskers,
//! factors ranked by score.
//!
//! Layout is computed here, as plain numbers, so the web app (which renders
//! it as SVG elements) and the SVG export ([`to_svg`]) draw the same picture.
//! Text is escaped in the export; the app inserts it as text nodes.

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

/// A score as every view shows it (app, widget, chart): three decimals, a
/// sign, and a true minus.
pub fn fmt_score(x: f64) -> String {
    let s = format!("{x:+.3}");
    s.replace('-', "−")
}

/// [`fmt_score`], with "—" for a missing value.
pub fn fmt_score_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_owned(), fmt_score)
}

/// The smallest "nice" half-width of a symmetric score axis that holds `max_abs`.
pub fn nice_extent(max_abs: f64) -> f64 {
    NICE.into_iter()
        .find(|&n| max_abs <= n + 1e-12)
        .unwrap_or(1.0)
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
    let extent = nice_extent(max_abs);

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
            let label = factor_label(id);
            let e = &agent.factor_scores[id];
            let ci_text = ci.map_or_else(String::new, |[lo, hi]| format!(", 95% CI {} to {}", fmt_score(lo), fmt_score(hi)));
            let missing = if e.missing > 0 { format!(", {} missing (a value could not be obtained)", e.missing) } else { String::new() };
            Row {
                factor: id.clone(),
                description: format!(
                    "{label}: score {}{ci_text}; {} concordant, {} discordant, {} ties, {} dropped (factor ties){missing} of {} pairs",
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

/// One agent's column in the ranking chart.
#[derive(Clone, Debug, PartialEq)]
pub struct RankColumn {
    pub agent: String,
    /// Short wording of the agent's setting ("people", "as judge", "as writer").
    pub role: String,
    pub x: f64,
}

/// A factor's place in one column.
#[derive(Clone, Debug, PartialEq)]
pub struct RankItem {
    pub factor: String,
    pub label: String,
    pub column: usize,
    pub rank: usize,
    pub x: f64,
    pub y: f64,
    pub score: f64,
    pub description: String,
}

/// A line joining a factor's places in two neighbouring columns.
#[derive(Clone, Debug, PartialEq)]
pub struct RankLink {
    pub factor: String,
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
    /// The factor moved up (true) or down from the left column to the right.
    pub up: bool,
}

/// Factor rankings of the humans and every model agent side by side, lines
/// joining the same factor (issue: the alignment report's ranking chart).
#[derive(Clone, Debug, PartialEq)]
pub struct RankingChart {
    pub width: f64,
    pub height: f64,
    pub columns: Vec<RankColumn>,
    pub items: Vec<RankItem>,
    pub links: Vec<RankLink>,
    pub summary: String,
}

fn role(a: &Agent) -> &'static str {
    match a.setting {
        crate::stats::Setting::Human => "people",
        crate::stats::Setting::Evaluation => "as judge",
        crate::stats::Setting::Generation => "as writer",
        crate::stats::Setting::Improvement => "improving",
    }
}

/// An agent's name without the role suffix the second header line shows.
fn short_name(a: &Agent) -> String {
    let n = a.name.as_str();
    let n = n
        .strip_suffix(" (judge)")
        .or_else(|| n.strip_suffix(" (writer)"))
        .unwrap_or(n);
    if n.chars().count() > 22 {
        n.chars().take(21).collect::<String>() + "…"
    } else {
        n.to_owned()
    }
}

fn factor_label(id: &str) -> String {
    crate::factors::display_name(id)
}

/// Lays out the ranking chart over the factors every agent scored. Agents
/// that scored no factor at all (e.g. every generation failed) are left out.
pub fn ranking_chart(agents: &[Agent], column_width: f64, row_height: f64) -> RankingChart {
    let agents: Vec<Agent> = agents
        .iter()
        .filter(|a| a.factor_scores.values().any(|e| e.score.is_some()))
        .cloned()
        .collect();
    let agents = agents.as_slice();
    let common: Vec<&String> = agents
        .first()
        .map(|a| {
            a.ranking
                .iter()
                .filter(|id| {
                    agents
                        .iter()
                        .all(|b| b.factor_scores.get(*id).and_then(|e| e.score).is_some())
                })
                .collect()
        })
        .unwrap_or_default();
    let top = 44.0;
    let columns: Vec<RankColumn> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| RankColumn {
            agent: short_name(a),
            role: role(a).into(),
            x: column_width * (i as f64 + 0.5),
        })
        .collect();
    let mut items = Vec::new();
    let mut places: Vec<std::collections::HashMap<&str, (f64, f64)>> = Vec::new();
    for (ci, a) in agents.iter().enumerate() {
        let mut map = std::collections::HashMap::new();
        let ranked = a.ranking.iter().filter(|id| common.contains(id));
        for (rank, id) in ranked.enumerate() {
            let score = a.factor_scores[id].score.unwrap_or(0.0);
            let (x, y) = (columns[ci].x, top + row_height * (rank as f64 + 0.5));
            map.insert(id.as_str(), (x, y));
            items.push(RankItem {
                factor: id.clone(),
                label: factor_label(id),
                column: ci,
                rank: rank + 1,
                x,
                y,
                score,
                description: format!(
                    "{}: rank {} for {} ({}), score {}",
                    factor_label(id),
                    rank + 1,
                    a.name,
                    role(a),
                    fmt_score(score)
                ),
            });
        }
        places.push(map);
    }
    let half = column_width * 0.32;
    let mut links = Vec::new();
    for w in 0..places.len().saturating_sub(1) {
        for id in &common {
            if let (Some(&(x1, y1)), Some(&(x2, y2))) =
                (places[w].get(id.as_str()), places[w + 1].get(id.as_str()))
            {
                links.push(RankLink {
                    factor: (*id).clone(),
                    x1: x1 + half,
                    y1,
                    x2: x2 - half,
                    y2,
                    up: y2 < y1,
                });
            }
        }
    }
    RankingChart {
        width: column_width * agents.len().max(1) as f64,
        height: top + row_height * common.len() as f64 + 8.0,
        summary: format!(
            "Factor rankings of {} agents over {} factors they all scored; lines join the same factor.",
            agents.len(),
            common.len()
        ),
        columns,
        items,
        links,
    }
}

/// One cell of the factor × agent heatmap.
#[derive(Clone, Debug, PartialEq)]
pub struct HeatCell {
    pub factor: String,
    pub agent: String,
    pub x: f64,
    pub y: f64,
    pub score: Option<f64>,
    /// `rgb(…)`: blue for positive, red for negative scores, paler near 0;
    /// grey when there is no score.
    pub fill: String,
    pub text: String,
    /// Dark text on pale cells, light text on strong ones.
    pub dark_text: bool,
}

/// Factor × agent heatmap of factor scores.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    pub width: f64,
    pub height: f64,
    pub cell_width: f64,
    pub cell_height: f64,
    pub label_width: f64,
    pub header_height: f64,
    /// Row labels (factors) with their y.
    pub rows: Vec<(String, String, f64)>,
    /// Column headers (agent, role) with their x.
    pub cols: Vec<(String, String, f64)>,
    pub cells: Vec<HeatCell>,
}

/// The colour of a score on the diverging scale.
pub fn heat_fill(score: Option<f64>) -> (String, bool) {
    let Some(s) = score.filter(|s| s.is_finite()) else {
        return ("rgb(229,231,235)".into(), true);
    };
    let t = s.abs().min(1.0);
    let (r, g, b) = if s >= 0.0 {
        (37.0, 99.0, 235.0)
    } else {
        (220.0, 38.0, 38.0)
    };
    let mix = |c: f64| (255.0 + (c - 255.0) * t).round() as u8;
    (format!("rgb({},{},{})", mix(r), mix(g), mix(b)), t < 0.55)
}

/// Lays out the heatmap: factors in the first agent's ranking order.
pub fn heatmap(agents: &[Agent], cell_width: f64, cell_height: f64) -> Heatmap {
    let label_width = 170.0;
    let header_height = 44.0;
    let factors: Vec<&String> = agents
        .first()
        .map(|a| a.ranking.iter().collect())
        .unwrap_or_default();
    let cols = agents
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                short_name(a),
                role(a).to_owned(),
                label_width + cell_width * (i as f64 + 0.5),
            )
        })
        .collect();
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    for (ri, id) in factors.iter().enumerate() {
        let y = header_height + cell_height * ri as f64;
        rows.push(((*id).clone(), factor_label(id), y + cell_height / 2.0));
        for (ci, a) in agents.iter().enumerate() {
            let score = a.factor_scores.get(*id).and_then(|e| e.score);
            let (fill, dark_text) = heat_fill(score);
            cells.push(HeatCell {
                factor: (*id).clone(),
                agent: a.name.clone(),
                x: label_width + cell_width * ci as f64,
                y,
                score,
                fill,
                text: score.map_or("—".into(), fmt_score),
                dark_text,
            });
        }
    }
    Heatmap {
        width: label_width + cell_width * agents.len() as f64,
        height: header_height + cell_height * factors.len() as f64,
        cell_width,
        cell_height,
        label_width,
        header_height,
        rows,
        cols,
        cells,
    }
}

/// The factor × group heatmap of a report's `groups` (`None` without
/// groups): a column per group (its value, its pairs), a row per factor in
/// the human ranking's order, each cell the group's own score with ▲/▼ where
/// it is higher/lower than the rest's (the interval of the difference
/// excludes 0). Each cell's [`HeatCell::agent`] is the group's value.
pub fn group_heatmap(
    report: &crate::report::Report,
    cell_width: f64,
    cell_height: f64,
) -> Option<Heatmap> {
    let groups = report.groups.as_ref()?;
    let label_width = 170.0;
    let header_height = 44.0;
    let factors: Vec<&String> = report
        .agent("human")
        .map(|a| a.ranking.iter().collect())
        .unwrap_or_default();
    let cut = |v: &str| {
        if v.chars().count() > 18 {
            v.chars().take(17).collect::<String>() + "…"
        } else {
            v.to_owned()
        }
    };
    let cols = groups
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            (
                cut(&g.value),
                format!("{} pairs", g.pairs),
                label_width + cell_width * (i as f64 + 0.5),
            )
        })
        .collect();
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    for (ri, id) in factors.iter().enumerate() {
        let y = header_height + cell_height * ri as f64;
        rows.push(((*id).clone(), factor_label(id), y + cell_height / 2.0));
        for (ci, g) in groups.groups.iter().enumerate() {
            let score = g.factor_scores.get(*id).and_then(|e| e.score);
            let mark = match g.differences.get(*id).map(|d| d.verdict.as_str()) {
                Some("higher") => "▲",
                Some("lower") => "▼",
                _ => "",
            };
            let (fill, dark_text) = heat_fill(score);
            cells.push(HeatCell {
                factor: (*id).clone(),
                agent: g.value.clone(),
                x: label_width + cell_width * ci as f64,
                y,
                score,
                fill,
                text: score.map_or("—".into(), |s| format!("{}{mark}", fmt_score(s))),
                dark_text,
            });
        }
    }
    Some(Heatmap {
        width: label_width + cell_width * groups.groups.len() as f64,
        height: header_height + cell_height * factors.len() as f64,
        cell_width,
        cell_height,
        label_width,
        header_height,
        rows,
        cols,
        cells,
    })
}

/// A group cell in words (tooltips, screen readers): the group's score and
/// interval, its pairs, and how it compares with the rest.
pub fn group_cell_description(group: &crate::report::Group, factor: &str) -> String {
    let label = factor_label(factor);
    let Some(e) = group.factor_scores.get(factor) else {
        return format!("{}: {label} not scored", group.value);
    };
    let score = match (e.score, e.ci95) {
        (Some(s), Some([lo, hi])) => format!(
            "{} (95% CI {} to {})",
            fmt_score(s),
            fmt_score(lo),
            fmt_score(hi)
        ),
        (Some(s), None) => fmt_score(s),
        (None, _) => "no countable pair".into(),
    };
    let rest = match group.differences.get(factor) {
        Some(d) => match (d.verdict.as_str(), d.difference, d.ci95) {
            ("higher" | "lower", Some(x), Some([lo, hi])) => format!(
                "; {} than the rest: group − rest {} (95% CI {} to {})",
                d.verdict,
                fmt_score(x),
                fmt_score(lo),
                fmt_score(hi)
            ),
            ("no clear difference", ..) => "; no clear difference from the rest".into(),
            ("too few inputs", ..) => "; too few inputs to compare with the rest".into(),
            (other, ..) => format!("; {other}"),
        },
        None => String::new(),
    };
    format!(
        "{}: {label} {score}, {} pairs from {} inputs{rest}",
        group.value, group.pairs, group.inputs
    )
}

/// One condition of a guided-judging experiment, laid out.
#[derive(Clone, Debug, PartialEq)]
pub struct GuidanceRow {
    /// `none`, `mis` or `rand`.
    pub strategy: String,
    /// What is drawn on the left: `no guidance`, `GuideMis: length (over)`.
    pub label: String,
    /// Row centre.
    pub y: f64,
    /// The agreement's position (`None`: no pair judged in every condition).
    pub x: Option<f64>,
    pub value_text: String,
    /// The unguided agreement plus the 95% interval of the difference to
    /// it, as x ends (clamped to the axis); `None` for the unguided row or
    /// without an interval.
    pub whisker: Option<[f64; 2]>,
    pub description: String,
}

/// The guided-judging chart: agreement with the humans per condition on
/// a 0–1 axis, a dashed line at the unguided agreement, and for each
/// guided condition a whisker: the unguided agreement plus the 95% paired
/// interval of the difference (so a whisker that does not reach the dashed
/// line is an interval of the difference that excludes 0).
#[derive(Clone, Debug, PartialEq)]
pub struct GuidanceChart {
    pub width: f64,
    pub height: f64,
    /// Right edge of the labels.
    pub label_x: f64,
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_top: f64,
    pub plot_bottom: f64,
    pub ticks: Vec<Tick>,
    /// x of the unguided agreement.
    pub baseline_x: Option<f64>,
    pub rows: Vec<GuidanceRow>,
    /// One sentence per condition, for screen readers.
    pub summary: String,
}

/// Lays out the conditions of a report's `guidance` section.
pub fn guidance_chart(
    section: &crate::report::GuidanceSection,
    width: f64,
    row_height: f64,
) -> GuidanceChart {
    let label_w = (width * 0.36).clamp(120.0, 260.0);
    let (left, right) = (label_w + 12.0, width - 56.0);
    let top = 12.0;
    let to_x = |v: f64| left + v.clamp(0.0, 1.0) * (right - left);
    let baseline = section
        .conditions
        .iter()
        .find(|c| c.strategy == "none")
        .and_then(|c| c.agreement);
    let label = |strategy: &str| match strategy {
        "none" => "no guidance".to_owned(),
        s => {
            let (name, c) = if s == "mis" {
                ("GuideMis", Some(&section.mis))
            } else {
                ("GuideRand", section.rand.as_ref())
            };
            match c {
                Some(c) => format!("{name}: {} ({})", c.factor, c.direction),
                None => name.to_owned(),
            }
        }
    };
    let rows: Vec<GuidanceRow> = section
        .conditions
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let whisker = baseline
                .zip(c.difference_ci95)
                .map(|(b, [lo, hi])| [to_x(b + lo), to_x(b + hi)]);
            let mut description = format!(
                "{}: agreement {}",
                label(&c.strategy),
                c.agreement
                    .map_or("not measured".into(), |a| format!("{a:.3}"))
            );
            if let Some(d) = c.difference {
                description += &format!(", {} vs no guidance", fmt_score(d));
                if let Some([lo, hi]) = c.difference_ci95 {
                    description += &format!(" (95% CI {} to {})", fmt_score(lo), fmt_score(hi));
                }
            }
            GuidanceRow {
                strategy: c.strategy.clone(),
                label: label(&c.strategy),
                y: top + row_height * (i as f64 + 0.5),
                x: c.agreement.map(to_x),
                value_text: c.agreement.map_or("—".into(), |a| format!("{a:.3}")),
                whisker,
                description,
            }
        })
        .collect();
    let bottom = top + row_height * rows.len() as f64;
    let ticks = (0..=4)
        .map(|k| {
            let v = f64::from(k) * 0.25;
            Tick {
                x: to_x(v),
                label: format!("{v}"),
            }
        })
        .collect();
    let summary = rows
        .iter()
        .map(|r| r.description.clone())
        .collect::<Vec<_>>()
        .join(". ");
    GuidanceChart {
        width,
        height: bottom + 28.0,
        label_x: label_w,
        plot_left: left,
        plot_right: right,
        plot_top: top,
        plot_bottom: bottom,
        ticks,
        baseline_x: baseline.map(to_x),
        rows,
        summary,
    }
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
                        missing: 0,
                        n_pairs: 4,
                        ..Default::default()
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
            run: None,
            joint: None,
            guidance: None,
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

    #[test]
    fn ranking_chart_joins_factors_and_heatmap_colours_scores() {
        let human = agent(&[
            ("length", Some(0.1)),
            ("fluency", Some(0.3)),
            ("n_facts", None),
        ]);
        let mut judge = agent(&[
            ("length", Some(0.6)),
            ("fluency", Some(-0.2)),
            ("n_facts", Some(0.1)),
        ]);
        judge.name = "m (judge)".into();
        judge.setting = crate::stats::Setting::Evaluation;
        let agents = [human, judge];
        let c = ranking_chart(&agents, 200.0, 28.0);
        // n_facts is not scored by the humans: left out.
        assert_eq!(c.items.len(), 4);
        assert_eq!(c.links.len(), 2);
        let l = c.links.iter().find(|l| l.factor == "length").unwrap();
        assert!(l.up, "length moves up from rank 2 to rank 1");
        assert_eq!(c.columns[1].role, "as judge");
        let h = heatmap(&agents, 90.0, 26.0);
        assert_eq!(h.cells.len(), 6);
        let grey = h.cells.iter().find(|c| c.score.is_none()).unwrap();
        assert_eq!(grey.fill, "rgb(229,231,235)");
        assert_eq!(heat_fill(Some(1.0)).0, "rgb(37,99,235)");
        assert_eq!(heat_fill(Some(-1.0)).0, "rgb(220,38,38)");
        assert_eq!(heat_fill(Some(0.0)).0, "rgb(255,255,255)");
    }

    #[test]
    fn the_group_heatmap_marks_the_groups_that_differ() {
        use crate::report::{Group, GroupDifference, Groups, Report};
        let human = agent(&[("length", Some(0.5)), ("novel_words", None)]);
        let diff = |v: &str| GroupDifference {
            difference: Some(0.3),
            ci95: Some([0.1, 0.5]),
            verdict: v.into(),
        };
        let group = |value: &str, v: &str| Group {
            value: value.into(),
            pairs: 40,
            inputs: 12,
            factor_scores: human.factor_scores.clone(),
            differences: [("length".to_owned(), diff(v))].into_iter().collect(),
        };
        let ds = crate::data::load_bytes(
            br#"{"response_a": "a b", "response_b": "a", "preference": "a"}"#,
            Default::default(),
        )
        .unwrap();
        let mut r: Report = crate::analysis::score_report(
            &ds,
            &crate::analysis::ScoreConfig::for_task(crate::factors::Task::Helpful),
            &Default::default(),
        );
        r.agents = vec![human.clone()];
        assert!(group_heatmap(&r, 100.0, 20.0).is_none());
        r.groups = Some(Groups {
            field: "category".into(),
            groups: vec![
                group("a very long category name indeed", "higher"),
                group("b", "no clear difference"),
            ],
            ..Default::default()
        });
        let h = group_heatmap(&r, 100.0, 20.0).unwrap();
        assert_eq!(h.cols.len(), 2);
        assert_eq!(h.cols[0].0, "a very long categ…");
        assert_eq!(h.cols[1].1, "40 pairs");
        let texts: Vec<&str> = h.cells.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["+0.500▲", "+0.500", "—", "—"]);
        let d = group_cell_description(&r.groups.as_ref().unwrap().groups[0], "length");
        assert!(
            d.contains("higher than the rest: group − rest +0.300 (95% CI +0.100 to +0.500)"),
            "{d}"
        );
        assert!(d.contains("40 pairs from 12 inputs"), "{d}");
    }

    #[test]
    fn guidance_chart_places_agreements_and_the_difference_interval_at_the_baseline() {
        let section: crate::report::GuidanceSection = serde_json::from_value(serde_json::json!({
            "model": "m", "evidence_from": "m (judge)", "evidence": [],
            "mis": {"factor": "length", "direction": "over", "sentence": "s", "chosen_by": "evidence"},
            "pairs": 12, "inputs": 12, "few_inputs": false, "bootstrap_resamples": 100,
            "permutations": 100, "permutation_exact": false,
            "conditions": [
                {"strategy": "none", "agent": "a", "agreement": 0.5, "factor_scores": {}},
                {"strategy": "mis", "agent": "b", "agreement": 0.75, "difference": 0.25,
                 "difference_ci95": [0.1, 0.75], "p_value": 0.01, "factor_scores": {}}
            ]
        }))
        .unwrap();
        let c = guidance_chart(&section, 600.0, 30.0);
        let x = |v: f64| c.plot_left + v * (c.plot_right - c.plot_left);
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.baseline_x, Some(x(0.5)));
        assert_eq!(c.rows[0].label, "no guidance");
        assert_eq!(c.rows[0].whisker, None);
        assert_eq!(c.rows[1].label, "GuideMis: length (over)");
        assert_eq!(c.rows[1].x, Some(x(0.75)));
        // 0.5 + [0.1, 0.75], clamped to the axis.
        assert_eq!(c.rows[1].whisker, Some([x(0.6), x(1.0)]));
        assert!(c.summary.contains("+0.250 vs no guidance"), "{}", c.summary);
        assert!(c.rows[1].y > c.rows[0].y && c.height > c.plot_bottom);
    }
}
