//! A short plain-language summary of a report, generated from its numbers
//! alone (no model call): the gaps between each model agent's factor scores
//! and the human ones, how its factor ranking compares, and where an agent's
//! joint model tells a different story from its factor scores. Every
//! sentence must be true of the numbers beside it; none reads an interval
//! that covers 0 as evidence of no effect.
//!
//! Rules and thresholds (factor scores are on the scale −1..1):
//! * **Gaps.** A factor's gap between a model's and the humans' score is
//!   named only when the 95% paired-bootstrap interval of model − human
//!   (`alignments[].score_differences`) excludes 0 *and* the gap is at least
//!   [`GAP`] (0.20), at most [`MAX_GAPS`] per agent, largest first; from
//!   [`FAR_GAP`] (0.40) it is "far" more or less. Scores of opposite signs
//!   are worded as opposite ("rewards length where people penalise it"),
//!   never as "more" or "less". Without such intervals (no bootstrap) no gap
//!   is named, and the sentence says so; with intervals and no gap named it
//!   says that no gap is clear, not that the agent weighs the factors as
//!   people do.
//! * **Ranking** (Kendall's τ_b over the factors both agents scored). With
//!   at most [`MIN_RANKED_FACTORS`] − 1 = 4 factors no permutation p-value
//!   can be small (4! = 24 orders: p ≥ 1/12), so the ranking is not graded
//!   in words. Otherwise it reads "closely" from τ 0.6, "moderately" from
//!   0.3, "weakly" above 0; a negative τ with permutation p below
//!   [`SIGNIFICANT`] (0.05) is "reversed", any other τ ≤ 0 "does not match".
//!   p-values print as "p < 0.001" below 0.001.
//! * **Joint model**, only when it fits at least two factors. A factor is
//!   mentioned when its joint 95% interval and its factor score's 95%
//!   interval disagree about zero (one covers it, the other does not) or lie
//!   on opposite sides of it, at most [`MAX_JOINT`] per agent, ranked by
//!   importance (|β| / se, the cluster-robust z; |β| without se). When the
//!   joint interval covers 0 and the factor's covariate correlates with
//!   another's by at least [`crate::stats::joint::COLLINEAR`] (0.7), the two
//!   "cannot be separated" and their joint Wald test is reported (one
//!   sentence per pair); otherwise the sentence says the joint model does not
//!   show an association given the other factors' signs, and that this is
//!   not evidence of no effect, naming factors correlated by at least
//!   [`CORRELATED`] (0.5).
//! * **Position.** A judge that follows the position of the responses rather
//!   than their content gets a sentence saying so in place of its gaps (see
//!   [`position_sentence`]): position flips on at least half its pairs in
//!   both orders ([`POSITION_FLIPS`]), or in single order one position named
//!   on at least 75% of at least 20 decided pairs ([`POSITION_SAME_SIDE`],
//!   [`POSITION_MIN_VERDICTS`]).
//!
//! * **Few inputs.** When the human agent's intervals come from fewer than
//!   [`MIN_INPUTS_FOR_INTERVALS`](crate::stats::MIN_INPUTS_FOR_INTERVALS)
//!   inputs (flagged `few_inputs`), the sentences above are preceded by one
//!   that says so: such intervals cover the truth less often than their
//!   nominal 95%, so what follows is tentative. Nothing is added when there is
//!   nothing else to say.
//!
//! Agents are named by role: a model in the evaluation setting "as a judge",
//! in the generation setting "as a writer", in the improvement setting "when
//! improving responses"; the human agent is "people".
//!
//! The output is deterministic: agents in report order, gaps by size then
//! id, joint remarks by importance then id.

use crate::report::{Agent, Alignment, JointCoefficient, JointModel, Report};
use crate::stats::Setting;

/// Smallest factor-score gap that is named (with an interval excluding 0).
pub const GAP: f64 = 0.2;
/// Smallest gap called "far" more or less.
pub const FAR_GAP: f64 = 0.4;
/// Gaps named per agent.
pub const MAX_GAPS: usize = 3;
/// Joint-model remarks per agent.
pub const MAX_JOINT: usize = 3;
/// Factors whose covariates correlate at least this much are named as what
/// a factor's association goes with.
pub const CORRELATED: f64 = 0.5;
/// Fewest factors whose ranking is graded in words.
pub const MIN_RANKED_FACTORS: usize = 5;
/// A permutation p-value below this makes a negative τ "reversed".
pub const SIGNIFICANT: f64 = 0.05;

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
        let alignment = report
            .alignments
            .iter()
            .find(|a| a.agent == agent.name && a.reference == human.name);
        // A judge that follows the position says nothing about what it
        // weighs: that is said instead of the gaps.
        match position_sentence(agent) {
            Some(s) => out.push(s),
            None => out.push(gaps_sentence(agent, human, alignment, &name)),
        }
        if let Some(s) = alignment.and_then(ranking_sentence) {
            out.push(s);
        }
    }
    for agent in &report.agents {
        out.extend(joint_sentences(agent, &name));
    }
    if let Some(s) = few_inputs_sentence(human).filter(|_| !out.is_empty()) {
        out.insert(0, s);
    }
    out
}

/// "Only 8 inputs: …" when the human agent's intervals are flagged as coming
/// from fewer than the minimum of inputs.
fn few_inputs_sentence(human: &Agent) -> Option<String> {
    let few = human.factor_scores.values().filter(|f| f.few_inputs);
    let inputs = few.filter_map(|f| f.inputs).max()?;
    Some(format!(
        "Only {inputs} input{}: intervals from fewer than {} inputs cover the truth less often than their nominal 95%, so the statements below are tentative.",
        if inputs == 1 { "" } else { "s" },
        crate::stats::MIN_INPUTS_FOR_INTERVALS
    ))
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

/// The gaps of `agent`'s factor scores from `human`'s whose paired-bootstrap
/// interval of the difference excludes 0, in one sentence.
fn gaps_sentence(
    agent: &Agent,
    human: &Agent,
    alignment: Option<&Alignment>,
    name: &dyn Fn(&str) -> String,
) -> String {
    let diffs = alignment.map(|a| &a.score_differences);
    if diffs.is_none_or(|d| d.values().all(|d| d.ci95.is_none())) {
        return format!(
            "{} is not compared with people factor by factor: there are no bootstrap intervals of the score differences.",
            role(agent)
        );
    }
    let diffs = diffs.expect("checked");
    let mut gaps: Vec<(&str, f64, f64, [f64; 2])> = agent
        .factor_scores
        .iter()
        .filter_map(|(id, e)| {
            let m = e.score?;
            // An agent run on a sample is compared with people on its pairs.
            let h = match alignment.and_then(|a| a.reference_scores.as_ref()) {
                Some(r) => (*r.get(id)?)?,
                None => human.factor_scores.get(id)?.score?,
            };
            let ci = diffs.get(id)?.ci95?;
            ((m - h).abs() >= GAP && side(ci) != 0).then_some((id.as_str(), m, h, ci))
        })
        .collect();
    crate::data::sort::sort_by(&mut gaps, |a, b| {
        (b.1 - b.2)
            .abs()
            .total_cmp(&(a.1 - a.2).abs())
            .then_with(|| a.0.cmp(b.0))
    });
    gaps.truncate(MAX_GAPS);
    if gaps.is_empty() {
        return format!(
            "{} shows no clear gap from people: no factor score differs from theirs by {GAP:.2} or more with a 95% interval of the difference that excludes 0.",
            role(agent)
        );
    }
    let parts: Vec<String> = gaps
        .iter()
        .enumerate()
        .map(|(i, &(id, m, h, ci))| {
            let f = name(id);
            let nums = format!(
                "({} vs {}; difference 95% CI {} to {})",
                num(m),
                num(h),
                num(ci[0]),
                num(ci[1])
            );
            let it = if i == 0 { "" } else { "it " };
            let verb = |x: f64| if x > 0.0 { "rewards" } else { "penalises" };
            if m * h < 0.0 {
                let people = if h > 0.0 { "reward" } else { "penalise" };
                format!("{it}{} {f} where people {people} it {nums}", verb(m))
            } else {
                // The same direction (or one of them 0): the direction of the
                // stronger of the two, and whether the model's is stronger.
                let strong = if m.abs() >= h.abs() { m } else { h };
                let far = if (m - h).abs() >= FAR_GAP { "far " } else { "" };
                let dir = if m.abs() > h.abs() { "more" } else { "less" };
                let than = if i == 0 { " than people do" } else { "" };
                format!("{it}{} {f} {far}{dir}{than} {nums}", verb(strong))
            }
        })
        .collect();
    format!("{} {}.", role(agent), parts.join("; "))
}

/// How the agent's factor ranking compares with the human one.
fn ranking_sentence(a: &Alignment) -> Option<String> {
    let tau = a.kendall_tau?;
    let mut detail = format!("Kendall τ = {tau:.2} over {} factors", a.n_factors);
    if let Some([lo, hi]) = a.kendall_tau_ci95 {
        detail.push_str(&format!("; 95% CI {lo:.2} to {hi:.2}"));
    }
    if let Some(p) = a.kendall_tau_p {
        detail.push_str(&format!("; permutation {}", p_value(p)));
    }
    if a.n_factors < MIN_RANKED_FACTORS {
        return Some(format!(
            "Its ranking of the factors is not graded: with {} factors no permutation p-value can be small ({detail}).",
            a.n_factors
        ));
    }
    let how = if tau >= 0.6 {
        "matches people's closely"
    } else if tau >= 0.3 {
        "matches people's moderately"
    } else if tau > 0.0 {
        "matches people's weakly"
    } else if a.kendall_tau_p.is_some_and(|p| p < SIGNIFICANT) {
        "is reversed from people's"
    } else {
        "does not match people's"
    };
    Some(format!("Its ranking of the factors {how} ({detail})."))
}

/// "p < 0.001" or "p = 0.012".
pub fn p_value(p: f64) -> String {
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

/// The importance a joint remark is ranked by: |β| / se, or |β| without se.
fn importance(c: &JointCoefficient) -> f64 {
    let b = c.coefficient.unwrap_or(0.0).abs();
    match c.se {
        Some(se) if se > 0.0 => b / se,
        _ => b,
    }
}

/// Where the joint model and the factor scores disagree about a factor.
fn joint_sentences(agent: &Agent, name: &dyn Fn(&str) -> String) -> Vec<String> {
    let Some(joint) = &agent.joint else {
        return Vec::new();
    };
    // One fitted factor: the joint model is its factor score again.
    if joint
        .coefficients
        .values()
        .filter(|c| c.coefficient.is_some())
        .count()
        < 2
    {
        return Vec::new();
    }
    let who = whose(agent);
    let mut cands: Vec<(&String, &JointCoefficient)> = joint
        .coefficients
        .iter()
        .filter(|(id, c)| {
            let (Some(jci), Some(e)) = (c.ci95, agent.factor_scores.get(*id)) else {
                return false;
            };
            c.coefficient.is_some()
                && e.score.is_some()
                && e.ci95.is_some_and(|sci| side(sci) != side(jci))
        })
        .collect();
    crate::data::sort::sort_by(&mut cands, |a, b| {
        importance(b.1)
            .total_cmp(&importance(a.1))
            .then_with(|| a.0.cmp(b.0))
    });
    let mut out = Vec::new();
    let mut told: Vec<&str> = Vec::new();
    for (id, c) in cands {
        if out.len() == MAX_JOINT {
            break;
        }
        if told.contains(&id.as_str()) {
            continue;
        }
        let (Some(beta), Some(jci)) = (c.coefficient, c.ci95) else {
            continue;
        };
        let e = &agent.factor_scores[id];
        let (Some(score), Some(sci)) = (e.score, e.ci95) else {
            continue;
        };
        let (ms, js) = (side(sci), side(jci));
        let f = name(id);
        let coef = format!(
            "joint coefficient {}, 95% CI {} to {}",
            num(beta),
            num(jci[0]),
            num(jci[1])
        );
        let sentence = if js == 0 {
            if let Some(s) = pair_sentence(joint, id, &who, name, &mut told) {
                s
            } else {
                let mut others: Vec<(&String, f64)> = c
                    .correlations
                    .iter()
                    .filter(|(o, r)| *o != id && r.abs() >= CORRELATED)
                    .map(|(o, r)| (o, r.abs()))
                    .collect();
                crate::data::sort::sort_by(&mut others, |a, b| {
                    b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0))
                });
                let others: Vec<String> = others.iter().take(2).map(|(o, _)| name(o)).collect();
                let goes = if others.is_empty() {
                    String::new()
                } else {
                    format!("; it goes with {}", and_list(&others))
                };
                format!(
                    "Given the other factors' signs, the joint model does not show an association of {f} with {who} preferences ({coef}; factor score {} on its own): an interval that covers 0 is not evidence of no effect{goes}.",
                    num(score)
                )
            }
        } else if ms == 0 {
            let dir = if js > 0 { "more" } else { "less" };
            format!(
                "Given the other factors' signs, {dir} {f} goes with {who} preferences ({coef}), although the interval of its factor score on its own ({}) covers 0.",
                num(score)
            )
        } else {
            let (alone, given) = if ms > 0 {
                ("more", "less")
            } else {
                ("less", "more")
            };
            format!(
                "The association of {f} with {who} preferences reverses given the other factors' signs: on its own, {alone} goes with being preferred (factor score {}), but given the others, {given} does ({coef}).",
                num(score)
            )
        };
        told.push(id);
        out.push(sentence);
    }
    out
}

/// For a factor the joint model cannot tell apart from another (a pair
/// test), the sentence on the pair; `told` gets both ids.
fn pair_sentence<'a>(
    joint: &'a JointModel,
    id: &str,
    who: &str,
    name: &dyn Fn(&str) -> String,
    told: &mut Vec<&'a str>,
) -> Option<String> {
    let t = joint
        .pair_tests
        .iter()
        .filter(|t| t.factors.iter().any(|f| f == id))
        .max_by(|a, b| a.correlation.abs().total_cmp(&b.correlation.abs()))?;
    let other = if t.factors[0] == id {
        &t.factors[1]
    } else {
        &t.factors[0]
    };
    told.extend(t.factors.iter().map(String::as_str));
    let together = if t.p_value < SIGNIFICANT {
        "together they go with"
    } else {
        "together they are not shown to go with"
    };
    Some(format!(
        "The joint model cannot separate {} from {} (correlation {:.2}); {together} {who} preferences (joint Wald test χ² = {:.1}, {} df, {}).",
        name(id),
        name(other),
        t.correlation,
        t.wald,
        t.df,
        p_value(t.p_value)
    ))
}

/// One plain-language sentence per guided condition, true of its numbers:
/// a change is called a rise or a fall only when its 95% interval excludes
/// 0 and the inputs are not too few (below [`MIN_INPUTS_FOR_INTERVALS`](crate::stats::MIN_INPUTS_FOR_INTERVALS) the
/// agreements are called a trial run); an interval containing 0 is "no
/// clear change"; no interval, no conclusion. For the app and the widget (the report's `guidance` section, `crate::guide`).
pub fn guidance(section: &crate::report::GuidanceSection) -> Vec<String> {
    if section.pairs == 0 {
        return vec!["No pair was judged in every condition: there is nothing to compare.".into()];
    }
    let base = section
        .conditions
        .iter()
        .find(|c| c.strategy == "none")
        .and_then(|c| c.agreement);
    let p_text = |p: Option<f64>| match p {
        Some(p) if p < 0.001 => ", p < 0.001".to_owned(),
        Some(p) => format!(", p = {p:.3}"),
        None => String::new(),
    };
    section
        .conditions
        .iter()
        .filter(|c| c.strategy != "none")
        .map(|c| {
            let choice = if c.strategy == "mis" {
                Some(&section.mis)
            } else {
                section.rand.as_ref()
            };
            let name = match choice {
                Some(g) => format!(
                    "{} ({} {})",
                    if c.strategy == "mis" {
                        "GuideMis"
                    } else {
                        "GuideRand"
                    },
                    g.factor,
                    g.direction
                ),
                None => c.strategy.clone(),
            };
            let (Some(a), Some(b), Some(d)) = (c.agreement, base, c.difference) else {
                return format!("{name}: agreement not measured.");
            };
            let numbers = match c.difference_ci95 {
                Some([lo, hi]) => {
                    format!("{d:+.3}, 95% CI [{lo:+.3}, {hi:+.3}]{}", p_text(c.p_value))
                }
                None => format!("{d:+.3}{}", p_text(c.p_value)),
            };
            if section.few_inputs {
                return format!(
                    "{name}: agreement {a:.3} against {b:.3} with no guidance ({numbers}); \
with {} inputs (fewer than {}) this is a trial run, not a result.",
                    section.inputs,
                    crate::stats::MIN_INPUTS_FOR_INTERVALS
                );
            }
            match c.difference_ci95 {
                Some([lo, _]) if lo > 0.0 => format!(
                    "{name} raised agreement with people from {b:.3} to {a:.3} ({numbers}): the \
interval excludes 0."
                ),
                Some([_, hi]) if hi < 0.0 => format!(
                    "{name} lowered agreement with people from {b:.3} to {a:.3} ({numbers}): the \
interval excludes 0."
                ),
                Some(_) => format!(
                    "{name}: agreement {a:.3} against {b:.3} with no guidance ({numbers}); the \
interval contains 0, so no clear change."
                ),
                None => format!(
                    "{name}: agreement {a:.3} against {b:.3} with no guidance ({numbers}); no \
interval (no resamples), so no conclusion."
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::report::{
        ranking, DatasetSummary, FactorMeta, FactorScoreEntry, JointPairTest, RunConfig,
        ScoreDifference, SCHEMA,
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
            ..Default::default()
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
            guidance: None,
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
            custom: false,
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
                factor_pack: None,
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
            groups: None,
            guidance: None,
            improvement: None,
        }
    }

    const HUMAN: [(&str, f64); 5] = [
        ("length", 0.05),
        ("n_facts", 0.25),
        ("hallucination", -0.30),
        ("novel_words", -0.17),
        ("coherence", 0.10),
    ];

    /// An alignment of `agent` with the human agent of `r`, with the given
    /// 95% intervals of the score differences (by factor id).
    fn align(r: &mut Report, agent: usize, cis: &[(&str, [f64; 2])]) {
        let mut a = Alignment::between(
            &r.agents[agent].name,
            &r.agents[agent].score_map(),
            "human",
            &r.agents[0].score_map(),
        );
        for &(id, ci) in cis {
            let m = r.agents[agent].factor_scores[id].score.unwrap();
            let h = r.agents[0].factor_scores[id].score.unwrap();
            a.score_differences.insert(
                id.to_owned(),
                ScoreDifference {
                    estimate: m - h,
                    ci95: Some(ci),
                },
            );
        }
        r.alignments.push(a);
    }

    #[test]
    fn names_the_clear_gaps_by_role() {
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
        let mut r = report(vec![agent("human", Setting::Human, &HUMAN), judge, writer]);
        align(
            &mut r,
            1,
            &[("length", [0.40, 0.70]), ("hallucination", [0.10, 0.40])],
        );
        align(&mut r, 2, &[("novel_words", [0.20, 0.70])]);
        let s = summarize(&r);
        assert_eq!(
            s,
            [
                "As a judge, gpt-4o-mini rewards length far more than people do (+0.61 vs +0.05; difference 95% CI +0.40 to +0.70); it penalises hallucination less (-0.05 vs -0.30; difference 95% CI +0.10 to +0.40).",
                "Its ranking of the factors matches people's moderately (Kendall τ = 0.40 over 5 factors).",
                "As a writer, llama rewards novel words where people penalise it (+0.30 vs -0.17; difference 95% CI +0.20 to +0.70).",
                "Its ranking of the factors matches people's weakly (Kendall τ = 0.20 over 5 factors).",
            ]
        );
        // Without a human agent there is nothing to compare with.
        assert!(summarize(&report(vec![agent("m", Setting::Evaluation, &HUMAN)])).is_empty());
    }

    /// Each gap-sentence rule against numbers that must produce it and numbers that must not.
    #[test]
    fn a_judge_on_a_sample_is_compared_with_the_human_scores_on_its_pairs() {
        // The human agent covers all pairs (length +0.05); the judge ran on a
        // sample where people's length score is +0.50: its gap is +0.11,
        // not +0.56, and the sentence must quote the sample's +0.50.
        let judge = agent("m", Setting::Evaluation, &[("length", 0.61)]);
        let mut r = report(vec![agent("human", Setting::Human, &HUMAN), judge]);
        align(&mut r, 1, &[]);
        let a = &mut r.alignments[0];
        a.reference_scores = Some([("length".to_owned(), Some(0.50))].into());
        a.score_differences.insert(
            "length".into(),
            ScoreDifference {
                estimate: 0.11,
                ci95: Some([0.02, 0.20]),
            },
        );
        let s = summarize(&r);
        assert!(s[0].contains("shows no clear gap"), "{s:?}");
        r.alignments[0].reference_scores = Some([("length".to_owned(), Some(0.20))].into());
        let s = summarize(&r);
        assert!(s[0].contains("(+0.61 vs +0.20;"), "{s:?}");
    }

    #[test]
    fn gap_sentences_by_the_numbers() {
        // (model score, human score, 95% CI of model − human or none) → a fragment, or the no-gap sentence.
        type Case = (f64, f64, Option<[f64; 2]>, &'static str);
        let none = "shows no clear gap from people";
        let cases: [Case; 10] = [
            (
                0.61,
                0.05,
                Some([0.40, 0.70]),
                "rewards length far more than people do (+0.61 vs +0.05;",
            ),
            (
                0.35,
                0.05,
                Some([0.10, 0.50]),
                "rewards length more than people do",
            ),
            // The interval covers 0: not named, however large.
            (0.61, 0.05, Some([-0.10, 0.90]), none),
            // The random judge on 30 HH-RLHF pairs: opposite signs, interval covering 0.
            (-0.13, 0.07, Some([-0.40, 0.10]), none),
            // Opposite signs with a clear interval: opposite, never "more".
            (
                -0.13,
                0.07,
                Some([-0.30, -0.10]),
                "penalises length where people reward it (-0.13 vs +0.07;",
            ),
            (
                0.30,
                -0.17,
                Some([0.20, 0.70]),
                "rewards length where people penalise it",
            ),
            (
                -0.05,
                -0.30,
                Some([0.10, 0.40]),
                "penalises length less than people do",
            ),
            (
                -0.50,
                -0.05,
                Some([-0.60, -0.30]),
                "penalises length far more than people do",
            ),
            // Clear but small.
            (0.15, 0.05, Some([0.05, 0.15]), none),
            // No interval at all.
            (
                0.61,
                0.05,
                None,
                "is not compared with people factor by factor",
            ),
        ];
        for (m, h, ci, want) in cases {
            let mut r = report(vec![
                agent("human", Setting::Human, &[("length", h)]),
                agent("j", Setting::Evaluation, &[("length", m)]),
            ]);
            match ci {
                Some(ci) => align(&mut r, 1, &[("length", ci)]),
                None => align(&mut r, 1, &[]),
            }
            let s = &summarize(&r)[0];
            assert!(s.starts_with("As a judge, j "), "{s}");
            assert!(s.contains(want), "{m} {h} {ci:?}: {s}");
            assert!(!s.contains("much as people do"), "{s}");
            if m * h < 0.0 {
                assert!(!s.contains("more than") && !s.contains("less than"), "{s}");
            }
        }
    }

    /// Each ranking rule against numbers that must produce it and numbers that must not.
    #[test]
    fn ranking_sentences_by_the_numbers() {
        // (factors, τ, p) → fragment.
        let cases: [(usize, f64, Option<f64>, &str); 9] = [
            (3, 0.9, Some(0.33), "is not graded: with 3 factors"),
            (4, -1.0, Some(0.083), "is not graded: with 4 factors"),
            (4, 1.0, None, "is not graded"),
            (5, 0.7, Some(0.01), "matches people's closely"),
            (6, 0.4, Some(0.0004), "matches people's moderately"),
            (6, 0.1, Some(0.6), "matches people's weakly"),
            (6, -0.8, Some(0.004), "is reversed from people's"),
            (6, -0.8, Some(0.2), "does not match people's"),
            (6, -0.2, None, "does not match people's"),
        ];
        for (n, tau, p, want) in cases {
            let a = Alignment {
                n_factors: n,
                kendall_tau: Some(tau),
                kendall_tau_p: p,
                ..Default::default()
            };
            let s = ranking_sentence(&a).unwrap();
            assert!(s.contains(want), "{n} {tau} {p:?}: {s}");
            assert!(!s.contains("not at all") && !s.contains("0.000"), "{s}");
            if n <= 4 {
                for word in [
                    "closely",
                    "moderately",
                    "weakly",
                    "reversed",
                    "does not match",
                ] {
                    assert!(!s.contains(word), "{s}");
                }
            }
        }
        let a = Alignment {
            n_factors: 6,
            kendall_tau: Some(0.4),
            kendall_tau_p: Some(0.0004),
            ..Default::default()
        };
        assert!(ranking_sentence(&a)
            .unwrap()
            .contains("permutation p < 0.001"));
        assert_eq!(p_value(0.0), "p < 0.001");
        assert_eq!(p_value(0.0123), "p = 0.012");
    }

    fn coef(beta: f64, se: f64, ci: [f64; 2], correlated: &[(&str, f64)]) -> JointCoefficient {
        JointCoefficient {
            coefficient: Some(beta),
            se: Some(se),
            ci95: Some(ci),
            scale: 1.0,
            not_estimable: None,
            correlations: correlated.iter().map(|&(k, v)| (k.to_owned(), v)).collect(),
        }
    }

    fn human_with_joint(
        scores: &[(&str, f64, [f64; 2])],
        coefs: Vec<(&str, JointCoefficient)>,
        pair_tests: Vec<JointPairTest>,
    ) -> Agent {
        let mut human = agent("human", Setting::Human, &[]);
        for &(id, s, ci) in scores {
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
            bootstrap_resamples_used: Some(1000),
            inputs: Some(100),
            few_inputs: false,
            bootstrap_refit: Refit::Interval,
            bootstrap_refitted: 100,
            covariate: crate::stats::Covariate::Sign,
            pair_tests,
            not_estimable: None,
            coefficients: coefs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        });
        human
    }

    #[test]
    fn the_joint_view_where_it_differs_by_importance() {
        let human = human_with_joint(
            &[
                ("length", 0.12, [0.05, 0.19]),
                ("n_facts", 0.25, [0.18, 0.32]),
                ("novel_words", 0.01, [-0.05, 0.07]),
                ("coherence", 0.10, [0.04, 0.16]),
                ("hallucination", -0.30, [-0.4, -0.2]),
            ],
            vec![
                // Length loses its association once the others' signs are given.
                (
                    "length",
                    coef(
                        0.02,
                        0.03,
                        [-0.03, 0.07],
                        &[("n_facts", 0.6), ("coherence", 0.3), ("novel_words", -0.55)],
                    ),
                ),
                (
                    "n_facts",
                    coef(0.40, 0.05, [0.30, 0.50], &[("length", 0.6)]),
                ),
                // Novel words go with the preferences only given the others (z 4).
                ("novel_words", coef(-0.20, 0.05, [-0.30, -0.10], &[])),
                // Coherence reverses (z 3: after novel words, though first alphabetically).
                ("coherence", coef(-0.15, 0.05, [-0.25, -0.05], &[])),
                // Hallucination agrees: not mentioned.
                ("hallucination", coef(-0.5, 0.05, [-0.6, -0.4], &[])),
            ],
            Vec::new(),
        );
        let s = summarize(&report(vec![human]));
        assert_eq!(
            s,
            [
                "Given the other factors' signs, less novel words goes with people's preferences (joint coefficient -0.20, 95% CI -0.30 to -0.10), although the interval of its factor score on its own (+0.01) covers 0.",
                "The association of coherence with people's preferences reverses given the other factors' signs: on its own, more goes with being preferred (factor score +0.10), but given the others, less does (joint coefficient -0.15, 95% CI -0.25 to -0.05).",
                "Given the other factors' signs, the joint model does not show an association of length with people's preferences (joint coefficient +0.02, 95% CI -0.03 to +0.07; factor score +0.12 on its own): an interval that covers 0 is not evidence of no effect; it goes with # facts and novel words.",
            ]
        );
        assert!(!s.iter().any(|l| l.contains("no independent effect")));
    }

    /// The few-inputs caveat comes first when the human intervals are
    /// flagged, and never on its own or without the flag.
    #[test]
    fn few_inputs_make_the_summary_tentative() {
        let joint = || {
            vec![
                ("novel_words", coef(-0.20, 0.05, [-0.30, -0.10], &[])),
                ("n_facts", coef(0.40, 0.05, [0.30, 0.50], &[])),
            ]
        };
        let scores = [
            ("n_facts", 0.25, [0.18, 0.32]),
            ("novel_words", 0.01, [-0.05, 0.07]),
        ];
        let plain = summarize(&report(vec![human_with_joint(
            &scores,
            joint(),
            Vec::new(),
        )]));
        assert!(
            !plain.is_empty() && !plain[0].starts_with("Only"),
            "{plain:?}"
        );
        let mut few = human_with_joint(&scores, joint(), Vec::new());
        for (i, f) in few.factor_scores.values_mut().enumerate() {
            f.few_inputs = true;
            f.inputs = Some(7 + i as u64);
        }
        let s = summarize(&report(vec![few.clone()]));
        assert_eq!(
            s[0],
            "Only 8 inputs: intervals from fewer than 10 inputs cover the truth less often than their nominal 95%, so the statements below are tentative."
        );
        assert_eq!(&s[1..], &plain[..]);
        // Nothing else to say: no caveat alone.
        few.joint = None;
        assert!(summarize(&report(vec![few])).is_empty());
    }

    /// Joint-sentence rules against numbers that must produce them and numbers that must not.
    #[test]
    fn joint_sentences_by_the_numbers() {
        // Two collinear factors, each covering 0 in the joint model, jointly clear.
        let pair = |p: f64| {
            human_with_joint(
                &[
                    ("novel_words", -0.17, [-0.22, -0.12]),
                    ("length", 0.05, [0.01, 0.10]),
                ],
                vec![
                    (
                        "novel_words",
                        coef(-0.29, 0.18, [-0.69, 0.02], &[("length", 0.92)]),
                    ),
                    (
                        "length",
                        coef(-0.17, 0.17, [-0.52, 0.18], &[("novel_words", 0.92)]),
                    ),
                ],
                vec![JointPairTest {
                    factors: ["length".into(), "novel_words".into()],
                    correlation: 0.92,
                    wald: 45.0,
                    df: 2,
                    p_value: p,
                }],
            )
        };
        let s = summarize(&report(vec![pair(1.7e-10)]));
        assert_eq!(
            s,
            ["The joint model cannot separate novel words from length (correlation 0.92); together they go with people's preferences (joint Wald test χ² = 45.0, 2 df, p < 0.001)."]
        );
        let s = summarize(&report(vec![pair(0.2)]));
        assert!(
            s[0].contains("together they are not shown to go with people's preferences"),
            "{s:?}"
        );
        assert!(s[0].contains("p = 0.200"), "{s:?}");
        for l in &s {
            assert!(
                !l.contains("no independent effect") && !l.contains("no effect of"),
                "{l}"
            );
        }

        // One fitted factor: no joint sentence (it would talk of "the other factors").
        let mut one = human_with_joint(
            &[("length", 0.05, [-0.01, 0.10])],
            vec![("length", coef(0.77, 0.2, [0.3, 1.2], &[]))],
            Vec::new(),
        );
        assert!(summarize(&report(vec![one.clone()])).is_empty());
        // A second factor that is not estimable does not count.
        one.joint.as_mut().unwrap().coefficients.insert(
            "n_facts".into(),
            JointCoefficient {
                coefficient: None,
                se: None,
                ci95: None,
                scale: 0.0,
                not_estimable: Some("never differs".into()),
                correlations: BTreeMap::new(),
            },
        );
        assert!(summarize(&report(vec![one.clone()])).is_empty());
        // With a second fitted factor the same numbers do give one.
        one.joint
            .as_mut()
            .unwrap()
            .coefficients
            .insert("n_facts".into(), coef(0.1, 0.1, [-0.1, 0.3], &[]));
        one.factor_scores
            .insert("n_facts".into(), entry(0.0, Some([-0.1, 0.1])));
        let s = summarize(&report(vec![one]));
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(
            s[0].starts_with("Given the other factors' signs, more length"),
            "{s:?}"
        );

        // Intervals that agree about zero: nothing said.
        let agree = human_with_joint(
            &[("length", 0.1, [0.05, 0.15]), ("n_facts", 0.0, [-0.1, 0.1])],
            vec![
                ("length", coef(0.3, 0.1, [0.1, 0.5], &[])),
                ("n_facts", coef(0.05, 0.1, [-0.1, 0.2], &[])),
            ],
            Vec::new(),
        );
        assert!(summarize(&report(vec![agree])).is_empty());
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
        let mut r = report(vec![human, fair]);
        align(
            &mut r,
            1,
            &[("length", [-0.3, 0.1]), ("n_facts", [0.0, 0.2])],
        );
        let s = summarize(&r);
        assert!(s[0].contains("shows no clear gap from people"), "{s:?}");
    }

    fn guidance_section(inputs: u64, ci: Option<[f64; 2]>) -> crate::report::GuidanceSection {
        let choice = |f: &str| crate::report::GuidanceChoice {
            factor: f.into(),
            direction: "over".into(),
            sentence: String::new(),
            chosen_by: "evidence".into(),
            difference: None,
            ci95: None,
        };
        let cond = |s: &str, a: f64, d: Option<f64>| crate::report::GuidanceCondition {
            strategy: s.into(),
            agent: s.into(),
            agreement: Some(a),
            difference: d,
            difference_ci95: d.and(ci),
            p_value: d.map(|_| 0.02),
            factor_scores: Default::default(),
        };
        crate::report::GuidanceSection {
            model: "m".into(),
            evidence_from: "m (judge)".into(),
            evidence: vec![],
            mis: choice("length"),
            rand: Some(choice("fluency")),
            pairs: inputs,
            inputs,
            few_inputs: inputs < crate::stats::MIN_INPUTS_FOR_INTERVALS,
            bootstrap_resamples: 100,
            permutations: 100,
            permutation_exact: false,
            conditions: vec![
                cond("none", 0.5, None),
                cond("mis", 0.7, Some(0.2)),
                cond("rand", 0.45, Some(-0.05)),
            ],
        }
    }

    #[test]
    fn conclusions_claim_a_change_only_when_the_interval_excludes_zero_on_enough_inputs() {
        // Each case: inputs, the interval both guided conditions get, and
        // what the GuideMis sentence must and must not say.
        let cases: [(u64, Option<[f64; 2]>, &str, &str); 5] = [
            (
                20,
                Some([0.1, 0.3]),
                "raised agreement with people from 0.500 to 0.700",
                "no clear",
            ),
            (20, Some([-0.3, -0.1]), "lowered agreement", "raised"),
            (
                20,
                Some([-0.1, 0.3]),
                "contains 0, so no clear change",
                "raised",
            ),
            (
                20,
                None,
                "no interval (no resamples), so no conclusion",
                "raised",
            ),
            (
                4,
                Some([0.1, 0.3]),
                "with 4 inputs (fewer than 10) this is a trial run",
                "raised",
            ),
        ];
        for (inputs, ci, must, must_not) in cases {
            let lines = guidance(&guidance_section(inputs, ci));
            assert_eq!(lines.len(), 2, "{lines:?}");
            assert!(lines[0].starts_with("GuideMis (length over)"), "{lines:?}");
            assert!(
                lines[0].contains(must) && !lines[0].contains(must_not),
                "{inputs} {ci:?}: {lines:?}"
            );
            assert!(
                lines[1].starts_with("GuideRand (fluency over)"),
                "{lines:?}"
            );
        }
        let mut empty = guidance_section(20, None);
        empty.pairs = 0;
        assert!(guidance(&empty)[0].contains("nothing to compare"));
    }
}
