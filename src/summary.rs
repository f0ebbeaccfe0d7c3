//! A short plain-language summary of a report, generated from its numbers
//! alone (no model call): the largest gaps between each model agent's factor
//! scores and the human ones, how closely their factor rankings agree, and
//! where an agent's joint model tells a different story from its factor
//! scores.
//!
//! Thresholds (chosen here, all on the factor-score scale of −1..1):
//! * a gap of at least [`GAP`] (0.20) between a model's and the humans' score
//!   on a factor is named, at most [`MAX_GAPS`] per agent, largest first; a
//!   gap of at least [`FAR_GAP`] (0.40) is "far" more or less. On SummEval
//!   the human scores of the rule-based factors lie within ±0.2, so a gap of
//!   0.2 is as large as the whole human effect;
//! * when both scores are at least [`CLEAR`] (0.10) from zero with opposite
//!   signs, the gap is worded as a reversal ("prefers more … where people
//!   prefer less");
//! * the ranking agreement (Kendall's τ_b) reads "closely" from 0.6,
//!   "moderately" from 0.3, "weakly" above 0 and "not" otherwise;
//! * the joint model is mentioned for a factor when its 95% interval and the
//!   factor score's 95% interval disagree about zero (one covers it, the
//!   other does not) or lie on opposite sides of it, at most [`MAX_JOINT`]
//!   per agent. When a factor's effect vanishes in the joint model, the
//!   factors whose differences correlate with its own by at least
//!   [`CORRELATED`] (0.5) are named as what explains it (at most two, most
//!   correlated first), else "the other factors".
//! * a judge that follows the position of the responses rather than their
//!   content gets a sentence saying so in place of its gaps (see
//!   [`position_sentence`]): position flips on at least half its pairs in
//!   both orders ([`POSITION_FLIPS`]), or in single order one position named
//!   on at least 75% of at least 20 decided pairs ([`POSITION_SAME_SIDE`],
//!   [`POSITION_MIN_VERDICTS`]).
//!
//! Agents are named by role: a model in the evaluation setting "as a judge",
//! in the generation setting "as a writer", in the improvement setting "when
//! improving responses"; the human agent is "people".
//!
//! The output is deterministic: agents in report order, factors by gap size
//! then id.

use crate::report::{Agent, Report};
use crate::stats::Setting;

/// Smallest factor-score gap that is named.
pub const GAP: f64 = 0.2;
/// Smallest gap called "far" more or less.
pub const FAR_GAP: f64 = 0.4;
/// A score at least this far from zero has a clear direction.
pub const CLEAR: f64 = 0.1;
/// Gaps named per agent.
pub const MAX_GAPS: usize = 3;
/// Joint-model remarks per agent.
pub const MAX_JOINT: usize = 3;
/// Factors whose differences correlate at least this much are named as what
/// a factor's effect is shared with.
pub const CORRELATED: f64 = 0.5;

/// The summary as sentences, or none without a human agent to compare with.
pub fn summarize(report: &Report) -> Vec<String> {
    let Some(human) = report
        .agents
        .iter()
        .find(|a| a.setting == Setting::Human && a.name == "human")
        .or_else(|| report.agents.iter().find(|a| a.setting == Setting::Human))
    else {
        return Vec::new();
    };
    let name = |id: &str| -> String {
        report
            .factors
            .iter()
            .find(|f| f.id == id)
            .map_or_else(|| id.to_owned(), |f| f.name.clone())
    };
    let mut out = Vec::new();
    for agent in report.agents.iter().filter(|a| a.name != human.name) {
        // A judge that follows the position says nothing about what it
        // weighs: that is said instead of the gaps.
        match position_sentence(agent) {
            Some(s) => out.push(s),
            None => out.push(gaps_sentence(agent, human, &name)),
        }
        if let Some(s) = ranking_sentence(report, agent, human) {
            out.push(s);
        }
    }
    for agent in &report.agents {
        out.extend(joint_sentences(agent, &name));
    }
    out
}

/// "As a judge, gpt-x" (sentence start) for a model agent.
fn role(agent: &Agent) -> String {
    match agent.setting {
        Setting::Evaluation => format!("As a judge, {}", agent.name),
        Setting::Generation => format!("As a writer, {}", agent.name),
        Setting::Improvement => format!("When improving responses, {}", agent.name),
        Setting::Human => agent.name.clone(),
    }
}

/// Whose preferences: "people's" or "gpt-x's".
fn whose(agent: &Agent) -> String {
    if agent.setting == Setting::Human {
        "people's".into()
    } else {
        format!("{}'s", agent.name)
    }
}

fn num(x: f64) -> String {
    format!("{x:+.2}")
}

/// A judge in both orders follows the position when at least this share of
/// its judged pairs are position flips (the same position named in both
/// orders).
pub const POSITION_FLIPS: f64 = 0.5;
/// A judge in single order follows the position when at least this share of
/// its non-tie verdicts name the same position (first, or second), over at
/// least [`POSITION_MIN_VERDICTS`] verdicts. The order is a fair coin flip
/// per pair, so a judge that reads the content names either position about
/// half the time; 75% is what a judge that flips on half the pairs shows.
pub const POSITION_SAME_SIDE: f64 = 0.75;
/// Fewest non-tie verdicts for the single-order rule (a fair judge names
/// one position on ≥ 75% of 20 pairs with probability about 4%).
pub const POSITION_MIN_VERDICTS: u64 = 20;

/// For a judge whose verdicts follow the position of the responses rather
/// than their content, a sentence that says so (it replaces the gaps
/// sentence: such a judge's factor scores say little about what it weighs,
/// and must never read as weighing the factors "much as people do"). Both
/// orders: position flips on at least [`POSITION_FLIPS`] of the judged
/// pairs. Single order: one position named on at least
/// [`POSITION_SAME_SIDE`] of at least [`POSITION_MIN_VERDICTS`] non-tie
/// verdicts. `None` for other agents and for judges without these numbers.
pub fn position_sentence(agent: &Agent) -> Option<String> {
    if agent.setting != Setting::Evaluation {
        return None;
    }
    let run = agent.run.as_ref()?;
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    let agreement = match (run.both_orders, run.agreement_order_averaged) {
        (true, Some(a)) => format!("; its order-averaged agreement with people is {}", pct(a)),
        (false, Some(a)) => format!("; its agreement with people is {}", pct(a)),
        (_, None) => String::new(),
    };
    if run.both_orders {
        let flips = run.flipped_share?;
        (flips >= POSITION_FLIPS).then(|| {
            format!(
                "{} follows the position of the responses, not their content: on {} of the pairs it named the response in the same position in both orders, so its factor scores do not show what it weighs{agreement}.",
                role(agent),
                pct(flips)
            )
        })
    } else {
        let first = run.first_position_share?;
        let verdicts = run.items.saturating_sub(
            run.tie_rate
                .map_or(0, |t| (t * run.items as f64).round() as u64),
        );
        let same = first.max(1.0 - first);
        (verdicts >= POSITION_MIN_VERDICTS && same >= POSITION_SAME_SIDE).then(|| {
            let which = if first >= 0.5 { "first" } else { "second" };
            format!(
                "{} follows the position of the responses, not their content: it named the response shown {which} in {} of the pairs it decided, although which response came first was a coin flip, so its factor scores do not show what it weighs{agreement}.",
                role(agent),
                pct(same)
            )
        })
    }
}

/// The largest factor-score gaps of `agent` against `human`, in one sentence.
fn gaps_sentence(agent: &Agent, human: &Agent, name: &dyn Fn(&str) -> String) -> String {
    let mut gaps: Vec<(&str, f64, f64)> = agent
        .factor_scores
        .iter()
        .filter_map(|(id, e)| {
            let m = e.score?;
            let h = human.factor_scores.get(id)?.score?;
            ((m - h).abs() >= GAP).then_some((id.as_str(), m, h))
        })
        .collect();
    gaps.sort_by(|a, b| {
        (b.1 - b.2)
            .abs()
            .total_cmp(&(a.1 - a.2).abs())
            .then_with(|| a.0.cmp(b.0))
    });
    gaps.truncate(MAX_GAPS);
    if gaps.is_empty() {
        return format!(
            "{} weighs the factors much as people do: no factor score differs from theirs by {GAP:.2} or more.",
            role(agent)
        );
    }
    let parts: Vec<String> = gaps
        .iter()
        .enumerate()
        .map(|(i, &(id, m, h))| {
            let f = name(id);
            let nums = format!("({} vs {})", num(m), num(h));
            if m.abs() >= CLEAR && h.abs() >= CLEAR && m.signum() != h.signum() {
                let (more, less) = if m > 0.0 {
                    ("more", "less")
                } else {
                    ("less", "more")
                };
                if i == 0 {
                    format!("prefers {more} {f} where people prefer {less} {nums}")
                } else {
                    format!("it prefers {more} {f} where people prefer {less} {nums}")
                }
            } else {
                // The direction of the stronger of the two effects, and
                // whether the model's is the stronger.
                let strong = if m.abs() >= h.abs() { m } else { h };
                let verb = if strong >= 0.0 {
                    "rewards"
                } else {
                    "penalises"
                };
                let far = if (m - h).abs() >= FAR_GAP { "far " } else { "" };
                let dir = if m.abs() > h.abs() { "more" } else { "less" };
                if i == 0 {
                    format!("{verb} {f} {far}{dir} than people do {nums}")
                } else {
                    format!("it {verb} {f} {far}{dir} {nums}")
                }
            }
        })
        .collect();
    format!("{} {}.", role(agent), parts.join("; "))
}

/// How closely the agent's factor ranking agrees with the human one.
fn ranking_sentence(report: &Report, agent: &Agent, human: &Agent) -> Option<String> {
    let a = report
        .alignments
        .iter()
        .find(|a| a.agent == agent.name && a.reference == human.name)?;
    let tau = a.kendall_tau?;
    let how = if tau >= 0.6 {
        "closely"
    } else if tau >= 0.3 {
        "moderately"
    } else if tau > 0.0 {
        "weakly"
    } else {
        "not at all"
    };
    let mut detail = format!("Kendall τ = {tau:.2} over {} factors", a.n_factors);
    if let Some([lo, hi]) = a.kendall_tau_ci95 {
        detail.push_str(&format!("; 95% CI {lo:.2} to {hi:.2}"));
    }
    if let Some(p) = a.kendall_tau_p {
        detail.push_str(&format!("; permutation {}", p_value(p)));
    }
    Some(format!(
        "Its ranking of the factors matches people's {how} ({detail})."
    ))
}

fn p_value(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".into()
    } else {
        format!("p = {p:.3}")
    }
}

/// Which side of zero an interval lies on: +1, −1, or 0 when it covers zero.
fn side(ci: [f64; 2]) -> i8 {
    if ci[0] > 0.0 {
        1
    } else if ci[1] < 0.0 {
        -1
    } else {
        0
    }
}

/// "A", "A and B", "A, B and C".
fn and_list(xs: &[String]) -> String {
    match xs {
        [] => String::new(),
        [a] => a.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Where the joint model and the factor scores disagree about a factor.
fn joint_sentences(agent: &Agent, name: &dyn Fn(&str) -> String) -> Vec<String> {
    let Some(joint) = &agent.joint else {
        return Vec::new();
    };
    let who = whose(agent);
    let mut out = Vec::new();
    for (id, c) in &joint.coefficients {
        if out.len() == MAX_JOINT {
            break;
        }
        let (Some(beta), Some(jci)) = (c.coefficient, c.ci95) else {
            continue;
        };
        let Some(e) = agent.factor_scores.get(id) else {
            continue;
        };
        let (Some(score), Some(sci)) = (e.score, e.ci95) else {
            continue;
        };
        let (ms, js) = (side(sci), side(jci));
        if ms == js {
            continue;
        }
        let f = name(id);
        let coef = format!(
            "joint coefficient {}, 95% CI {} to {}",
            num(beta),
            num(jci[0]),
            num(jci[1])
        );
        let sentence = if js == 0 {
            // The other factors whose differences go with this one's
            // (|correlation| ≥ CORRELATED), most correlated first.
            let mut others: Vec<(&String, f64)> = c
                .correlations
                .iter()
                .filter(|(o, r)| *o != id && r.abs() >= CORRELATED)
                .map(|(o, r)| (o, r.abs()))
                .collect();
            others.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let others: Vec<String> = others.iter().take(2).map(|(o, _)| name(o)).collect();
            let others = if others.is_empty() {
                "the other factors are".to_owned()
            } else if others.len() == 1 {
                format!("{} is", others[0])
            } else {
                format!("{} are", and_list(&others))
            };
            format!(
                "Once {others} accounted for, there is no independent effect of {f} on {who} preferences ({coef}; factor score {} on its own).",
                num(score)
            )
        } else if ms == 0 {
            let dir = if js > 0 { "more" } else { "less" };
            format!(
                "With the other factors held fixed, there is an effect of {f} on {who} preferences: {dir} is preferred ({coef}), although the factor score on its own ({}) is indistinguishable from zero.",
                num(score)
            )
        } else {
            let (alone, fixed) = if ms > 0 {
                ("more", "less")
            } else {
                ("less", "more")
            };
            format!(
                "The effect of {f} on {who} preferences reverses once the other factors are held fixed: on its own, {alone} goes with being preferred (factor score {}), but with the others fixed, {fixed} does ({coef}).",
                num(score)
            )
        };
        out.push(sentence);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::report::{
        ranking, Alignment, DatasetSummary, FactorMeta, FactorScoreEntry, JointCoefficient,
        JointModel, RunConfig, SCHEMA,
    };
    use crate::stats::Refit;

    fn entry(score: f64, ci: Option<[f64; 2]>) -> FactorScoreEntry {
        FactorScoreEntry {
            score: Some(score),
            ci95: ci,
            concordant: 0,
            discordant: 0,
            ties: 0,
            dropped: 0,
            missing: 0,
            n_pairs: 0,
        }
    }

    fn agent(name: &str, setting: Setting, scores: &[(&str, f64)]) -> Agent {
        let factor_scores: BTreeMap<String, FactorScoreEntry> = scores
            .iter()
            .map(|&(id, s)| (id.to_owned(), entry(s, None)))
            .collect();
        Agent {
            name: name.into(),
            setting,
            tie_policy: String::new(),
            ranking: ranking(&factor_scores),
            factor_scores,
            run: None,
            joint: None,
        }
    }

    fn report(agents: Vec<Agent>) -> Report {
        let meta = |id: &str, name: &str| FactorMeta {
            id: id.into(),
            name: name.into(),
            level2: String::new(),
            level3: String::new(),
            extraction: String::new(),
            value: String::new(),
        };
        Report {
            schema: SCHEMA.into(),
            generator: "test".into(),
            dataset: DatasetSummary::default(),
            config: RunConfig {
                task: "summarization".into(),
                factors: Vec::new(),
                bootstrap_resamples: 0,
                seed: 0,
                ci_level: 0.95,
                resampling_unit: String::new(),
                factor_tie_tolerance: 1e-9,
            },
            factors: vec![
                meta("length", "length"),
                meta("n_facts", "# facts"),
                meta("hallucination", "hallucination"),
                meta("novel_words", "novel words"),
                meta("coherence", "coherence"),
            ],
            skipped_factors: Vec::new(),
            agents,
            alignments: Vec::new(),
            llm: None,
        }
    }

    const HUMAN: [(&str, f64); 5] = [
        ("length", 0.05),
        ("n_facts", 0.25),
        ("hallucination", -0.30),
        ("novel_words", -0.17),
        ("coherence", 0.10),
    ];

    #[test]
    fn names_the_largest_gaps_by_role() {
        let judge = agent(
            "gpt-4o-mini",
            Setting::Evaluation,
            &[
                ("length", 0.61),
                ("n_facts", 0.30),
                ("hallucination", -0.05),
                ("novel_words", -0.10),
                ("coherence", 0.12),
            ],
        );
        let writer = agent(
            "llama",
            Setting::Generation,
            &[
                ("length", 0.15),
                ("n_facts", 0.20),
                ("hallucination", -0.25),
                ("novel_words", 0.30),
                ("coherence", 0.05),
            ],
        );
        let r = report(vec![agent("human", Setting::Human, &HUMAN), judge, writer]);
        let s = summarize(&r);
        assert_eq!(
            s,
            [
                "As a judge, gpt-4o-mini rewards length far more than people do (+0.61 vs +0.05); it penalises hallucination less (-0.05 vs -0.30).",
                "As a writer, llama prefers more novel words where people prefer less (+0.30 vs -0.17).",
            ]
        );
    }

    #[test]
    fn no_gap_no_human_and_the_ranking() {
        let close = agent(
            "m",
            Setting::Improvement,
            &[("length", 0.1), ("n_facts", 0.3)],
        );
        let mut r = report(vec![agent("human", Setting::Human, &HUMAN), close]);
        let mut a = Alignment::between(
            "m",
            &r.agents[1].score_map(),
            "human",
            &r.agents[0].score_map(),
        );
        a.kendall_tau = Some(0.6);
        a.kendall_tau_ci95 = Some([0.2, 1.0]);
        a.kendall_tau_p = Some(0.0004);
        r.alignments.push(a);
        assert_eq!(
            summarize(&r),
            [
                "When improving responses, m weighs the factors much as people do: no factor score differs from theirs by 0.20 or more.",
                "Its ranking of the factors matches people's closely (Kendall τ = 0.60 over 2 factors; 95% CI 0.20 to 1.00; permutation p < 0.001).",
            ]
        );
        // Without a human agent there is nothing to compare with.
        assert!(summarize(&report(vec![agent("m", Setting::Evaluation, &HUMAN)])).is_empty());
    }

    fn coef(beta: f64, ci: [f64; 2], correlated: &[(&str, f64)]) -> JointCoefficient {
        JointCoefficient {
            coefficient: Some(beta),
            se: Some(0.01),
            ci95: Some(ci),
            scale: 1.0,
            correlations: correlated.iter().map(|&(k, v)| (k.to_owned(), v)).collect(),
        }
    }

    #[test]
    fn the_joint_view_where_it_differs() {
        let mut human = agent("human", Setting::Human, &[]);
        for (id, s, ci) in [
            ("length", 0.12, [0.05, 0.19]),
            ("n_facts", 0.25, [0.18, 0.32]),
            ("novel_words", 0.01, [-0.05, 0.07]),
            ("coherence", 0.10, [0.04, 0.16]),
            ("hallucination", -0.30, [-0.4, -0.2]),
        ] {
            human.factor_scores.insert(id.into(), entry(s, Some(ci)));
        }
        human.joint = Some(JointModel {
            method: String::new(),
            penalty: 1.0,
            scaling: String::new(),
            n_pairs_used: 100,
            n_pairs_dropped_tie: 0,
            n_pairs_dropped_missing: 0,
            log_likelihood: Some(-60.0),
            converged: true,
            iterations: 5,
            bootstrap_resamples: 1000,
            bootstrap_failed: 0,
            bootstrap_refit: Refit::Interval,
            bootstrap_refitted: 100,
            not_estimable: None,
            coefficients: [
                // Length loses its effect once # facts is in the model.
                (
                    "length",
                    coef(
                        0.02,
                        [-0.03, 0.07],
                        &[("n_facts", 0.8), ("coherence", 0.3), ("novel_words", -0.55)],
                    ),
                ),
                ("n_facts", coef(0.40, [0.30, 0.50], &[("length", 0.8)])),
                // Novel words matter only with the others fixed.
                ("novel_words", coef(-0.20, [-0.30, -0.10], &[])),
                // Coherence reverses (and nothing it correlates with is named).
                ("coherence", coef(-0.15, [-0.25, -0.05], &[])),
                // Hallucination agrees: not mentioned.
                ("hallucination", coef(-0.5, [-0.6, -0.4], &[])),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        });
        let s = summarize(&report(vec![human]));
        assert_eq!(
            s,
            [
                "The effect of coherence on people's preferences reverses once the other factors are held fixed: on its own, more goes with being preferred (factor score +0.10), but with the others fixed, less does (joint coefficient -0.15, 95% CI -0.25 to -0.05).",
                "Once # facts and novel words are accounted for, there is no independent effect of length on people's preferences (joint coefficient +0.02, 95% CI -0.03 to +0.07; factor score +0.12 on its own).",
                "With the other factors held fixed, there is an effect of novel words on people's preferences: less is preferred (joint coefficient -0.20, 95% CI -0.30 to -0.10), although the factor score on its own (+0.01) is indistinguishable from zero.",
            ]
        );
    }

    fn judge_run(
        both: bool,
        flips: Option<f64>,
        first: Option<f64>,
        items: u64,
        ties: f64,
    ) -> Agent {
        let mut a = agent(
            "j",
            Setting::Evaluation,
            &[("length", 0.0), ("n_facts", 0.2)],
        );
        a.run = Some(crate::report::AgentRun {
            kind: "judge".into(),
            items,
            both_orders: both,
            flipped_share: flips,
            first_position_share: first,
            tie_rate: Some(ties),
            agreement_order_averaged: Some(0.5),
            ..Default::default()
        });
        a
    }

    #[test]
    fn a_judge_that_follows_the_position_is_named_as_such() {
        // (both orders, flipped share, first-position share, judged pairs, tie rate) → the position sentence?
        type Case = (
            bool,
            Option<f64>,
            Option<f64>,
            u64,
            f64,
            Option<&'static str>,
        );
        let cases: [Case; 9] = [
            (true, Some(1.0), Some(0.5), 60, 0.0, Some("on 100% of the pairs it named the response in the same position in both orders")),
            (true, Some(0.5), Some(0.5), 60, 0.0, Some("on 50% of the pairs")),
            (true, Some(0.49), Some(0.5), 60, 0.0, None),
            (true, None, None, 0, 0.0, None),
            (false, None, Some(0.95), 60, 0.0, Some("it named the response shown first in 95% of the pairs it decided")),
            (false, None, Some(0.1), 30, 0.0, Some("shown second in 90%")),
            (false, None, Some(0.7), 60, 0.0, None),
            // Too few decided pairs: 10 judged, or 40 judged of which 25 ties.
            (false, None, Some(1.0), 10, 0.0, None),
            (false, None, Some(1.0), 40, 0.625, None),
        ];
        for (both, flips, first, items, ties, want) in cases {
            let j = judge_run(both, flips, first, items, ties);
            let got = position_sentence(&j);
            match want {
                Some(w) => {
                    let s = got.unwrap_or_else(|| {
                        panic!("no sentence for {both} {flips:?} {first:?} {items}")
                    });
                    assert!(s.starts_with("As a judge, j follows the position of the responses, not their content: "), "{s}");
                    assert!(s.contains(w), "{s}");
                    let ends = if both {
                        "its order-averaged agreement with people is 50%."
                    } else {
                        "its agreement with people is 50%."
                    };
                    assert!(s.ends_with(ends), "{s}");
                }
                None => assert_eq!(got, None, "{both} {flips:?} {first:?} {items}"),
            }
        }
        // Not for writers, nor for a judge without a run record.
        let mut w = judge_run(true, Some(1.0), None, 60, 0.0);
        w.setting = Setting::Generation;
        assert_eq!(position_sentence(&w), None);
        let mut bare = judge_run(true, Some(1.0), None, 60, 0.0);
        bare.run = None;
        assert_eq!(position_sentence(&bare), None);
    }

    #[test]
    fn a_position_following_judge_never_weighs_the_factors_like_people() {
        // Its scores are all within the gap threshold of the humans' (0.119
        // vs 0 on length, as on HH-RLHF), which alone would read "much as
        // people do".
        let human = agent(
            "human",
            Setting::Human,
            &[("length", 0.119), ("n_facts", 0.1)],
        );
        let judge = judge_run(true, Some(1.0), Some(0.5), 60, 0.0);
        let s = summarize(&report(vec![human.clone(), judge]));
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(s[0].contains("follows the position of the responses, not their content"));
        assert!(!s.iter().any(|l| l.contains("much as people do")), "{s:?}");
        // A judge that reads the content still gets its gaps sentence.
        let fair = judge_run(true, Some(0.1), Some(0.5), 60, 0.0);
        let s = summarize(&report(vec![human, fair]));
        assert!(s[0].contains("much as people do"), "{s:?}");
    }
}
