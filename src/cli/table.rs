//! The text table of a report.

use super::*;

/// "  missing: n_facts lost 3 pairs, …": the pairs each factor could not
/// compare for a missing value (failed extraction, or a missing verdict).
pub(super) fn missing_line(a: &crate::report::Agent) -> Option<String> {
    let lost: Vec<String> = a
        .ranking
        .iter()
        .filter_map(|id| {
            let m = a.factor_scores.get(id)?.missing;
            (m > 0).then(|| format!("{id} {m}"))
        })
        .collect();
    if lost.is_empty() {
        return None;
    }
    let why = if a.setting == crate::stats::Setting::Evaluation {
        "a factor value whose extraction failed, or no verdict"
    } else {
        "a factor value whose extraction failed"
    };
    Some(format!(
        "  missing: pairs not compared for a missing value ({why}), apart from factor ties (dropped): {}",
        lost.join(", ")
    ))
}

/// A judge's agreement with the humans, ties and position bias, with which
/// agreement compares with other judges.
pub(super) fn judge_lines(run: &crate::report::AgentRun) -> String {
    let pct = |x: Option<f64>| x.map_or("—".to_owned(), |v| format!("{:.1}%", v * 100.0));
    if run.both_orders {
        format!(
            "  agreement with humans: {} order-averaged (each verdict on its own, a position flip counts one half; \
comparable with single-order judges), {} strict (a flip counts as a disagreement) · \
both orders: same verdict {}, position flips {}, genuine ties {}, a tie in one order only {}",
            pct(run.agreement_order_averaged.or(run.agreement)),
            pct(run.agreement),
            pct(run.position_consistency),
            pct(run.flipped_share),
            pct(run.tie_rate),
            pct(run.half_tie_share)
        )
    } else {
        let order = match (run.order_seed, run.swapped) {
            (Some(seed), Some(sw)) => format!(
                "one order per pair, a coin flip with seed {seed} ({sw} of {} pairs shown B first)",
                run.items
            ),
            _ => "one order per pair".to_owned(),
        };
        format!(
            "  agreement with humans: {} ({order}; comparable with the order-averaged agreement of both-order judges) · ties {} · named the response shown first {}",
            pct(run.agreement),
            pct(run.tie_rate),
            pct(run.first_position_share)
        )
    }
}

pub(super) fn fmt_opt(x: Option<f64>, width: usize) -> String {
    match x {
        Some(v) => format!("{v:>width$.3}"),
        None => format!("{:>width$}", "—"),
    }
}

/// A p-value: "<0.001" below 0.001, never 0.000.
pub(super) fn fmt_p(x: Option<f64>, width: usize) -> String {
    match x {
        Some(v) if v < 0.001 => format!("{:>width$}", "<0.001"),
        _ => fmt_opt(x, width),
    }
}

/// The report as a readable table.
pub(super) fn render_table(r: &Report) -> String {
    // Names and ids come from files and flags: no escape reaches the terminal.
    printable(&table_text(r))
}

pub(super) fn table_text(r: &Report) -> String {
    let d = &r.dataset;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "PROFILE report — {} ({}{})",
        d.name.as_deref().unwrap_or("input"),
        d.format,
        d.label
            .as_deref()
            .map(|l| format!(", label: {l}"))
            .unwrap_or_default()
    );
    // With a sample, the pairs and inputs scored are the sample's; the
    // record counts, human ties and texts are the loaded file's.
    let (pairs, inputs) = match &d.sample {
        Some(sm) => (
            format!("{} of {} loaded", d.pairs, sm.pairs_loaded),
            format!("{} of {}", d.inputs, sm.inputs_loaded),
        ),
        None => (d.pairs.to_string(), d.inputs.to_string()),
    };
    let _ = writeln!(
        s,
        "records: {} read, {} parsed, {} skipped · pairs: {pairs} ({} human ties dropped at load{}) · inputs: {inputs} · unique texts: {}",
        d.records_read,
        d.records_parsed,
        d.records_skipped,
        d.human_ties_dropped,
        if d.pairs_dropped_other > 0 { format!(", {} dropped by format rules", d.pairs_dropped_other) } else { String::new() },
        d.unique_texts
    );
    if let Some(sm) = &d.sample {
        let _ = writeln!(
            s,
            "{}",
            match sm.seed {
                Some(seed) => format!(
                    "sample: {} inputs drawn at random with seed {seed}, with all their pairs (--sample)",
                    sm.requested
                ),
                None => format!("sample: the first {} pairs of the file (--limit)", sm.requested),
            }
        );
    }
    let _ = writeln!(
        s,
        "task: {} · bootstrap: {} resamples over inputs, seed {}",
        r.config.task, r.config.bootstrap_resamples, r.config.seed
    );
    // An interval from fewer than MIN_INPUTS_FOR_INTERVALS inputs is marked `!`.
    let fmt_ci = |ci: Option<[f64; 2]>, few: bool| match ci {
        Some([lo, hi]) => format!("[{lo:>6.3}, {hi:>6.3}]{}", if few { "!" } else { " " }),
        None => format!("{:>17} ", "—"),
    };
    let mut flagged = false;
    for a in &r.agents {
        let _ = writeln!(s, "\nagent: {} ({} setting)", a.name, a.setting.id());
        let joint_head = if a.joint.is_some() {
            format!("  {:>7}  {:>17} ", "joint β", "95% CI")
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "  {:<20} {:>7}  {:>17}   {:>8} {:>8} {:>6} {:>8} {:>8} {:>8}{joint_head}",
            "factor", "score", "95% CI", "C", "D", "T", "dropped", "missing", "n"
        );
        for id in &a.ranking {
            let e = &a.factor_scores[id];
            let joint = match &a.joint {
                Some(j) => {
                    let c = j.coefficients.get(id);
                    let ci = c.and_then(|c| c.ci95);
                    flagged |= ci.is_some() && j.few_inputs;
                    format!(
                        "  {}  {:>17}",
                        fmt_opt(c.and_then(|c| c.coefficient), 7),
                        fmt_ci(ci, j.few_inputs)
                    )
                }
                None => String::new(),
            };
            let _ = writeln!(
                s,
                "  {:<20} {}  {:>17}  {:>8} {:>8} {:>6} {:>8} {:>8} {:>8}{joint}",
                id,
                fmt_opt(e.score, 7),
                fmt_ci(e.ci95, e.few_inputs),
                e.concordant,
                e.discordant,
                e.ties,
                e.dropped,
                e.missing,
                e.n_pairs
            );
        }
        flagged |= a.factor_scores.values().any(|e| e.few_inputs);
        if let Some(line) = missing_line(a) {
            let _ = writeln!(s, "{line}");
        }
        if let Some(run) = &a.run {
            let line = format!(
                "  {} {} via {}: {} of {} {} · {} calls, {} cached, {} failed, {} tokens",
                run.kind,
                run.model,
                run.provider,
                run.items,
                run.items_planned,
                if run.kind == "judge" {
                    "pairs judged"
                } else {
                    "inputs written for"
                },
                run.calls,
                run.cache_hits,
                run.failed,
                run.input_tokens + run.output_tokens
            );
            let _ = writeln!(s, "{line}");
            if run.kind == "judge" {
                let _ = writeln!(s, "{}", judge_lines(run));
            }
        }
        if let Some(j) = &a.joint {
            let what = match j.covariate {
                crate::stats::Covariate::Sign => "on the signs of the factor differences",
                crate::stats::Covariate::Scaled => {
                    "on factor differences scaled by their root mean square"
                }
            };
            let _ =
                writeln!(
                s,
                "  joint β: Bradley–Terry {what}, all factors at once (λ = {}); {} pairs used{}{}",
                j.penalty,
                j.n_pairs_used,
                if j.n_pairs_dropped_missing > 0 {
                    format!(", {} with a missing value left out", j.n_pairs_dropped_missing)
                } else {
                    String::new()
                },
                if j.n_pairs_dropped_tie > 0 {
                    format!(", {} ties left out", j.n_pairs_dropped_tie)
                } else {
                    String::new()
                }
            );
        }
        if let Some(reason) = a.joint.as_ref().and_then(|j| j.not_estimable.as_ref()) {
            let _ = writeln!(s, "  joint β: not estimable: {reason}");
        }
    }
    if flagged {
        let _ = writeln!(
            s,
            "\n! interval from fewer than {} inputs: its coverage is well below 95% (README, \"Intervals on few inputs\")",
            crate::stats::MIN_INPUTS_FOR_INTERVALS
        );
    }
    if !r.alignments.is_empty() {
        let _ = writeln!(
            s,
            "\nalignment of factor rankings with {}:",
            r.alignments[0].reference
        );
        // Wide enough for the longest name (guided judges' are long).
        let w = r
            .alignments
            .iter()
            .map(|a| a.agent.chars().count() + 2)
            .max()
            .unwrap_or(0)
            .max(32);
        let _ = writeln!(
            s,
            "  {:<w$} {:>8} {:>8} {:>8} {:>9}",
            "agent", "tau_b", "rho", "r", "factors"
        );
        for al in &r.alignments {
            let mark = if al.reference_scores.is_some() {
                " *"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "  {:<w$} {} {} {} {:>9}",
                format!("{}{mark}", al.agent),
                fmt_opt(al.kendall_tau, 8),
                fmt_opt(al.spearman_rho, 8),
                fmt_opt(al.pearson_r, 8),
                al.n_factors
            );
        }
        if r.alignments.iter().any(|a| a.reference_scores.is_some()) {
            let _ = writeln!(
                s,
                "  * ran on a sample of the pairs: compared with the human scores on those pairs"
            );
        }
    }
    if let Some(g) = &r.groups {
        groups_text(&mut s, r, g);
    }
    let summary = crate::summary::summarize(r);
    if !summary.is_empty() {
        let _ = writeln!(s, "\nsummary:");
        for line in &summary {
            let _ = writeln!(s, "  {line}");
        }
    }
    if !r.skipped_factors.is_empty() {
        let _ = writeln!(s, "\nskipped factors:");
        for k in &r.skipped_factors {
            let _ = writeln!(s, "  {:<20} {}", k.id, k.reason);
        }
    }
    if d.diagnostics_total > 0 {
        let _ = writeln!(s, "\nproblems ({}):", d.diagnostics_total);
        for diag in d.diagnostics.iter().take(10) {
            let _ = writeln!(s, "  {diag}");
        }
        if d.diagnostics_total > 10 {
            let _ = writeln!(s, "  … {} more (see --json)", d.diagnostics_total - 10);
        }
    }
    s
}

/// The groups section: per factor, each group's score and interval side by
/// side (six groups a block), marked ▲/▼ where the interval of group − rest
/// excludes 0; then the differences in words, and the groups too small to grade.
fn groups_text(s: &mut String, r: &Report, g: &crate::report::Groups) {
    let _ = writeln!(
        s,
        "\nby {} ({} groups{}{}): human factor scores of each group's pairs scored alone, 95% CI;\n  \
         ▲/▼ the group's score is higher/lower than the rest's (the interval of the difference excludes 0)",
        g.field,
        g.groups.len(),
        if g.groups_omitted > 0 {
            format!(", {} smaller ones not shown", g.groups_omitted)
        } else {
            String::new()
        },
        if g.pairs_without > 0 {
            format!(", {} pairs without the field", g.pairs_without)
        } else {
            String::new()
        }
    );
    let factors: Vec<&str> = r
        .agents
        .first()
        .map(|a| a.ranking.iter().map(String::as_str).collect())
        .unwrap_or_default();
    const W: usize = 22;
    let cut = |v: &str| -> String {
        let mut t: String = v.chars().take(W - 1).collect();
        if t.len() < v.len() {
            t.pop();
            t.push('…');
        }
        t
    };
    for block in g.groups.chunks(6) {
        let _ = write!(s, "  {:<20}", "factor");
        for grp in block {
            let _ = write!(s, " {:>W$}", cut(&grp.value));
        }
        let _ = write!(s, "\n  {:<20}", "  pairs / inputs");
        for grp in block {
            let _ = write!(s, " {:>W$}", format!("{} / {}", grp.pairs, grp.inputs));
        }
        s.push('\n');
        for f in &factors {
            let _ = write!(s, "  {f:<20}");
            for grp in block {
                let cell = match grp
                    .factor_scores
                    .get(*f)
                    .and_then(|e| e.score.map(|x| (x, e)))
                {
                    None => "—".to_owned(),
                    Some((x, e)) => {
                        let mark = match grp.differences.get(*f).map(|d| d.verdict.as_str()) {
                            Some("higher") => "▲",
                            Some("lower") => "▼",
                            _ => " ",
                        };
                        match e.ci95 {
                            Some([lo, hi]) => format!("{x:+.2} [{lo:+.2},{hi:+.2}]{mark}"),
                            None => format!("{x:+.2}{mark}"),
                        }
                    }
                };
                let _ = write!(s, " {cell:>W$}");
            }
            s.push('\n');
        }
    }
    let mut differ = Vec::new();
    let mut few = Vec::new();
    for grp in &g.groups {
        for f in &factors {
            let Some(d) = grp.differences.get(*f) else {
                continue;
            };
            match (d.verdict.as_str(), d.difference, d.ci95) {
                ("higher" | "lower", Some(x), Some([lo, hi])) => differ.push(format!(
                    "{} = {}: {f} {} than the rest ({x:+.2}, 95% CI [{lo:+.2}, {hi:+.2}])",
                    g.field, grp.value, d.verdict
                )),
                ("too few inputs", ..) if !few.contains(&grp.value) => few.push(grp.value.clone()),
                _ => {}
            }
        }
    }
    if differ.is_empty() {
        let _ = writeln!(
            s,
            "  no group's factor score differs clearly from the rest's"
        );
    } else {
        let _ = writeln!(s, "  differ from the rest:");
        for line in differ.iter().take(30) {
            let _ = writeln!(s, "    {line}");
        }
        if differ.len() > 30 {
            let _ = writeln!(s, "    … {} more (see --json)", differ.len() - 30);
        }
    }
    if !few.is_empty() {
        let shown: Vec<&str> = few.iter().take(10).map(String::as_str).collect();
        let _ = writeln!(
            s,
            "  too few inputs to compare with the rest (fewer than {} with a countable pair on one side), not graded: {}{}",
            crate::stats::MIN_INPUTS_FOR_INTERVALS,
            shown.join(", "),
            if few.len() > 10 { format!(" … and {} more", few.len() - 10) } else { String::new() }
        );
    }
}
