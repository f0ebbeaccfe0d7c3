//! Guided judging (METHOD.md §8, the paper's RQ3): the factor-level
//! diagnosis turned into one sentence of guidance for the judge, and the
//! judge's agreement with people compared with and without it.
//!
//! - [`evidence`]: per factor, judge − human factor score with its 95%
//!   paired cluster-bootstrap interval (the alignment's
//!   `score_differences`, computed by `report::Alignment` on both agents'
//!   tables over the same resampled inputs).
//! - [`choose`]: **GuideMis** is the factor with the largest judge − human
//!   difference among those whose interval excludes 0 and lies above it
//!   (the judge over-weights it: "… is not what makes a response better
//!   here"); when no factor is over-weighted, the one with the most negative
//!   difference whose interval lies below 0 (under-weighted: "pay attention
//!   to …"). **GuideRand** is a factor drawn with the run's seed among the
//!   others whose interval contains 0, given the same direction as GuideMis,
//!   so the two differ only in the factor. A factor without an interval
//!   qualifies for neither. Nothing qualifies: an error saying so (no
//!   guessed guidance).
//! - [`experiment`]: on the pairs judged in every condition, each
//!   condition's strict agreement with the humans, its difference to the
//!   unguided judge with a 95% paired cluster-bootstrap interval (the same
//!   resampled inputs for every condition: the draws of
//!   `ClusterTable::bootstrap` for the seed) and a paired permutation
//!   p-value (`stats::sign_flip_test` over the per-input differences).
//!
//! Pure: the CLI (`profile guide`) and, later, the worker call it with the
//! outcomes of the `workflow`'s `Kind::Guide` run.

use crate::agents::{judge_agent, mark_sample, HumanSide};
use crate::analysis::{LlmValues, ScoreConfig};
use crate::data::Dataset;
use crate::factors::Factor;
use crate::llm::roles::{Guidance, JudgeOutcome};
use crate::report::{
    Agent, AgentGuidance, Alignment, GuidanceChoice, GuidanceCondition, GuidanceEvidence,
    GuidanceSection, Report, SampleInfo,
};
use crate::stats::{
    percentile_interval, sign_flip_test, BootstrapConfig, ClusterTable, Outcome, PermutationConfig,
    Rng, MIN_INPUTS_FOR_INTERVALS,
};
use crate::workflow::GuidedJudge;

/// The evidence of a judge agent's alignment with the humans: one row per
/// factor with a score difference, in the alignment's factor order. The
/// human score is the one the difference was computed against: on the
/// judge's pairs when it ran on a sample (`reference_scores`).
pub fn evidence(judge: &Agent, human: &Agent, alignment: &Alignment) -> Vec<GuidanceEvidence> {
    let score = |a: &Agent, f: &str| a.factor_scores.get(f).and_then(|e| e.score);
    // A judge run on a sample is compared with the human scores on its pairs.
    let human_score = |f: &str| match &alignment.reference_scores {
        Some(r) => r.get(f).copied().flatten(),
        None => score(human, f),
    };
    alignment
        .factors
        .iter()
        .filter_map(|f| {
            let d = alignment.score_differences.get(f)?;
            Some(GuidanceEvidence {
                factor: f.clone(),
                judge: score(judge, f),
                human: human_score(f),
                difference: d.estimate,
                ci95: d.ci95,
            })
        })
        .collect()
}

/// The evidence of the report's judge of `model` (`<model> (judge)`), if
/// it has one with score differences.
pub fn report_evidence(report: &Report, model: &str) -> Option<Vec<GuidanceEvidence>> {
    let judge_name = format!("{model} (judge)");
    match (
        report.agent(&judge_name),
        report.agent("human"),
        report.alignments.iter().find(|a| a.agent == judge_name),
    ) {
        (Some(j), Some(h), Some(a)) if !a.score_differences.is_empty() => Some(evidence(j, h, a)),
        _ => None,
    }
}

/// What a guided run was asked on: the pairs (`ds`, a sample when
/// `sample`), the scoring configuration, the model-based factor values and
/// the human side of the alignment, the model and the choice.
pub struct GuidedRun<'a> {
    pub ds: &'a Dataset,
    pub cfg: &'a ScoreConfig,
    pub values: Option<&'a LlmValues>,
    pub human: &'a HumanSide,
    pub sample: Option<&'a SampleInfo>,
    pub model: &'a str,
    pub choice: &'a Choice,
}

/// The conditions of a finished guided run (`workflow::Outcome::Guide`) as
/// agents with their alignment (evaluation setting, named by
/// [`agent_name`], with their `guidance`; marked as run on a sample when
/// they were), and the experiment's section of the report ([`experiment`],
/// with permutation p-values seeded with the run's seed). The one entry
/// point of the CLI and, later, the worker.
pub fn guided_agents(
    run: &GuidedRun<'_>,
    runs: &[GuidedJudge],
    evidence_from: &str,
    evidence: Vec<GuidanceEvidence>,
) -> (Vec<(Agent, Alignment)>, GuidanceSection) {
    let mut agents = Vec::new();
    for (g, outcome, record) in runs {
        let (mut agent, mut alignment) = judge_agent(
            run.ds,
            run.cfg,
            run.values,
            outcome,
            record.clone(),
            run.human,
        );
        agent.name = agent_name(run.model, *g, run.choice);
        agent.guidance = Some(agent_guidance(*g, run.choice));
        alignment.agent = agent.name.clone();
        if let Some(sample) = run.sample {
            mark_sample(&mut agent, &mut alignment, run.ds, sample, run.human);
        }
        agents.push((agent, alignment));
    }
    let conditions: Vec<Condition<'_>> = runs
        .iter()
        .zip(&agents)
        .map(|((g, outcome, _), (agent, _))| Condition {
            guidance: *g,
            outcome,
            agent,
        })
        .collect();
    let section = experiment(
        run.ds,
        run.model,
        evidence_from,
        evidence,
        run.choice,
        &conditions,
        run.cfg.bootstrap,
        PermutationConfig {
            seed: run.cfg.bootstrap.seed,
            ..PermutationConfig::default()
        },
    );
    (agents, section)
}

/// The guidance of each strategy with its record in the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub mis: (Guidance, GuidanceChoice),
    pub rand: Option<(Guidance, GuidanceChoice)>,
}

fn excludes_zero(ci: Option<[f64; 2]>) -> Option<bool> {
    ci.map(|[lo, hi]| lo > 0.0 || hi < 0.0)
}

fn choice(g: Guidance, by: &str, row: Option<&GuidanceEvidence>) -> (Guidance, GuidanceChoice) {
    (
        g,
        GuidanceChoice {
            factor: g.factor.id().into(),
            direction: g.direction().into(),
            sentence: g.sentence(),
            chosen_by: by.into(),
            difference: row.map(|r| r.difference),
            ci95: row.and_then(|r| r.ci95),
        },
    )
}

/// GuideMis and GuideRand from the evidence (see the module doc), or the
/// factors given (`fix_mis`, `fix_rand`). A given GuideMis factor takes its
/// direction from the sign of its difference (`over` when it is ≥ 0 or
/// unknown); a given GuideRand factor GuideMis's direction. GuideRand is
/// `None` when no other factor's interval contains 0 and none is given.
///
/// # Errors
/// Why no factor qualifies for GuideMis, or why a factor given cannot be used.
pub fn choose(
    evidence: &[GuidanceEvidence],
    seed: u64,
    fix_mis: Option<Factor>,
    fix_rand: Option<Factor>,
) -> Result<Choice, String> {
    let row = |f: Factor| evidence.iter().find(|r| r.factor == f.id());
    let mis = match fix_mis {
        Some(f) => {
            let over = row(f).is_none_or(|r| r.difference >= 0.0);
            choice(Guidance { factor: f, over }, "user", row(f))
        }
        None => {
            let significant = || {
                evidence
                    .iter()
                    .filter(|r| excludes_zero(r.ci95) == Some(true))
                    .filter_map(|r| Factor::from_id(&r.factor).map(|f| (f, r)))
            };
            let over = significant()
                .filter(|(_, r)| r.difference > 0.0)
                .max_by(|a, b| a.1.difference.total_cmp(&b.1.difference));
            let under = significant()
                .filter(|(_, r)| r.difference < 0.0)
                .min_by(|a, b| a.1.difference.total_cmp(&b.1.difference));
            match (over, under) {
                (Some((f, r)), _) => choice(
                    Guidance {
                        factor: f,
                        over: true,
                    },
                    "evidence",
                    Some(r),
                ),
                (None, Some((f, r))) => choice(
                    Guidance {
                        factor: f,
                        over: false,
                    },
                    "evidence",
                    Some(r),
                ),
                (None, None) => {
                    let with = evidence.iter().filter(|r| r.ci95.is_some()).count();
                    return Err(if with == 0 {
                        "no factor has an interval of judge − human factor score (too few inputs, \
or no bootstrap): nothing to choose guidance from; give --factor F to choose it yourself"
                            .into()
                    } else {
                        format!(
                            "no factor qualifies for GuideMis: the interval of judge − human factor \
score contains 0 for all {with} factors with one (the judge weighs none of them differently from \
people, as far as these data tell); give --factor F to choose it yourself"
                        )
                    });
                }
            }
        }
    };
    let over = mis.0.over;
    let rand = match fix_rand {
        Some(f) if f == mis.0.factor => {
            return Err(format!(
                "--rand-factor {} is the GuideMis factor; GuideRand needs another",
                f.id()
            ))
        }
        Some(f) => Some(choice(Guidance { factor: f, over }, "user", row(f))),
        None => {
            let pool: Vec<(Factor, &GuidanceEvidence)> = evidence
                .iter()
                .filter(|r| excludes_zero(r.ci95) == Some(false))
                .filter_map(|r| Factor::from_id(&r.factor).map(|f| (f, r)))
                .filter(|(f, _)| *f != mis.0.factor)
                .collect();
            (!pool.is_empty()).then(|| {
                // Its own stream of the run's seed.
                let k = Rng::new(seed ^ 0x6775_6964_6552_616e).below(pool.len() as u64) as usize;
                let (f, r) = pool[k];
                choice(Guidance { factor: f, over }, "evidence", Some(r))
            })
        }
    };
    Ok(Choice { mis, rand })
}

/// One condition of the experiment: its guidance, strategy and outcome, and
/// the agent built from it.
pub struct Condition<'a> {
    pub guidance: Option<Guidance>,
    pub outcome: &'a JudgeOutcome,
    pub agent: &'a Agent,
}

/// The strategy of a condition: `none`, `mis` or `rand`.
pub fn strategy(guidance: Option<Guidance>, choice: &Choice) -> &'static str {
    match guidance {
        None => "none",
        Some(g) if g == choice.mis.0 => "mis",
        Some(_) => "rand",
    }
}

/// The agent name of a condition: `<model> (judge, no guidance)`,
/// `<model> (judge, GuideMis: <factor> <direction>)`, `… GuideRand …`.
pub fn agent_name(model: &str, guidance: Option<Guidance>, choice: &Choice) -> String {
    match guidance {
        None => format!("{model} (judge, no guidance)"),
        Some(g) => format!(
            "{model} (judge, {}: {} {})",
            if strategy(guidance, choice) == "mis" {
                "GuideMis"
            } else {
                "GuideRand"
            },
            g.factor.id(),
            g.direction()
        ),
    }
}

/// The `guidance` field of a condition's agent.
pub fn agent_guidance(guidance: Option<Guidance>, choice: &Choice) -> AgentGuidance {
    AgentGuidance {
        strategy: strategy(guidance, choice).into(),
        factor: guidance.map(|g| g.factor.id().into()),
        direction: guidance.map(|g| g.direction().into()),
    }
}

/// The experiment's section of the report. `conditions[0]` must be the
/// unguided judge. Agreement is compared on the pairs judged (every verdict
/// present) in every condition, so the differences are paired.
#[allow(clippy::too_many_arguments)]
pub fn experiment(
    ds: &Dataset,
    model: &str,
    evidence_from: &str,
    evidence: Vec<GuidanceEvidence>,
    choice: &Choice,
    conditions: &[Condition<'_>],
    bootstrap: BootstrapConfig,
    permutation: PermutationConfig,
) -> GuidanceSection {
    let k = conditions.len();
    let n_clusters = ds.n_clusters as usize;
    // Agreement as a factor score: an agreeing pair concordant, any other a
    // tie, so C / (C + T) is the agreement rate and the bootstrap draws the
    // inputs of every other interval of the report.
    let mut table = ClusterTable::new(k, n_clusters);
    // Per input: pairs agreeing under each condition.
    let mut agree = vec![vec![0i64; k]; n_clusters];
    let mut pairs = 0u64;
    let mut inputs = vec![false; n_clusters];
    for (i, p) in ds.pairs.iter().enumerate() {
        let prefs: Option<Vec<_>> = conditions
            .iter()
            .map(|c| c.outcome.preferences.get(i).copied().flatten())
            .collect();
        let Some(prefs) = prefs else { continue };
        pairs += 1;
        inputs[p.cluster as usize] = true;
        for (j, pref) in prefs.into_iter().enumerate() {
            let ok = pref == p.preference;
            table.add(
                j,
                p.cluster,
                if ok {
                    Outcome::Concordant
                } else {
                    Outcome::Tie
                },
            );
            agree[p.cluster as usize][j] += i64::from(ok);
        }
    }
    let n_inputs = inputs.iter().filter(|x| **x).count() as u64;
    let reps = if bootstrap.resamples > 0 && pairs > 0 {
        table.bootstrap(bootstrap)
    } else {
        Vec::new()
    };
    let rate = |j: usize| table.totals(j).score();
    let mut permutations = (0, true);
    let rows = conditions
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let (mut difference, mut ci, mut p_value) = (None, None, None);
            if j > 0 {
                difference = rate(j).zip(rate(0)).map(|(a, b)| a - b);
                let mut d: Vec<f64> = reps
                    .iter()
                    .map(|r| r[j] - r[0])
                    .filter(|x| x.is_finite())
                    .collect();
                ci = percentile_interval(&mut d, 0.95);
                let per_input: Vec<f64> = agree
                    .iter()
                    .zip(&inputs)
                    .filter(|(_, used)| **used)
                    .map(|(a, _)| (a[j] - a[0]) as f64)
                    .collect();
                let (p, n, exact) = sign_flip_test(&per_input, permutation);
                p_value = p;
                permutations = (n, exact);
            }
            GuidanceCondition {
                strategy: strategy(c.guidance, choice).into(),
                agent: c.agent.name.clone(),
                agreement: rate(j),
                difference,
                difference_ci95: ci,
                p_value,
                factor_scores: c
                    .agent
                    .factor_scores
                    .iter()
                    .map(|(f, e)| (f.clone(), e.score))
                    .collect(),
            }
        })
        .collect();
    GuidanceSection {
        model: model.into(),
        evidence_from: evidence_from.into(),
        evidence,
        mis: choice.mis.1.clone(),
        rand: choice.rand.as_ref().map(|r| r.1.clone()),
        pairs,
        inputs: n_inputs,
        few_inputs: n_inputs < MIN_INPUTS_FOR_INTERVALS,
        bootstrap_resamples: bootstrap.resamples,
        permutations: permutations.0,
        permutation_exact: permutations.1,
        conditions: rows,
    }
}

/// Plain-language lines on the choice, before any guided call.
pub fn describe_choice(choice: &Choice) -> Vec<String> {
    let line = |name: &str, c: &GuidanceChoice| {
        let numbers = match (c.difference, c.ci95) {
            (Some(d), Some([lo, hi])) => {
                format!("judge − human factor score {d:+.3}, 95% CI [{lo:+.3}, {hi:+.3}]")
            }
            (Some(d), None) => format!("judge − human factor score {d:+.3}, no interval"),
            _ => "no evidence for this factor in the report".into(),
        };
        format!(
            "{name}: {} ({}, {}; chosen by {}): \"{}\"",
            c.factor, c.direction, numbers, c.chosen_by, c.sentence
        )
    };
    let mut out = vec![line("GuideMis", &choice.mis.1)];
    match &choice.rand {
        Some(r) => out.push(line("GuideRand", &r.1)),
        None => out.push(
            "GuideRand: no other factor's interval contains 0 (give --rand-factor F to choose one); \
only GuideMis is run"
                .into(),
        ),
    }
    out
}

/// Plain-language lines on the result.
pub fn describe(section: &GuidanceSection) -> Vec<String> {
    let mut out = vec![format!(
        "Guided judging, {}: {} pairs of {} inputs judged in every condition",
        section.model, section.pairs, section.inputs
    )];
    for c in &section.conditions {
        let agreement = c
            .agreement
            .map_or("no pairs".to_owned(), |a| format!("{a:.3}"));
        let mut line = format!("  {:<5} agreement {agreement}", c.strategy);
        if let Some(d) = c.difference {
            let _ = std::fmt::Write::write_fmt(&mut line, format_args!(", vs none {d:+.3}"));
            if let Some([lo, hi]) = c.difference_ci95 {
                let _ = std::fmt::Write::write_fmt(
                    &mut line,
                    format_args!(" 95% CI [{lo:+.3}, {hi:+.3}]"),
                );
            }
            if let Some(p) = c.p_value {
                let _ = std::fmt::Write::write_fmt(&mut line, format_args!(", p = {p:.3}"));
            }
        }
        line.push_str(&format!("  ({})", c.agent));
        out.push(line);
    }
    if section.few_inputs {
        out.push(format!(
            "  Too few inputs ({} < {MIN_INPUTS_FOR_INTERVALS}) for the intervals and p-values to mean much: \
read the agreements as a trial run, not a result.",
            section.inputs
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(f: &str, d: f64, ci: Option<[f64; 2]>) -> GuidanceEvidence {
        GuidanceEvidence {
            factor: f.into(),
            judge: None,
            human: None,
            difference: d,
            ci95: ci,
        }
    }

    #[test]
    fn guide_mis_is_the_largest_clear_over_weighting_else_under() {
        let ev = vec![
            row("length", 0.4, Some([0.1, 0.7])),
            row("n_facts", 0.6, Some([-0.1, 1.2])),
            row("fluency", 0.3, Some([0.05, 0.5])),
            row("coherence", -0.8, Some([-1.0, -0.5])),
            row("hallucination", 0.9, None),
        ];
        let c = choose(&ev, 1, None, None).unwrap();
        // n_facts has the largest gap but its interval contains 0;
        // hallucination has no interval; the under-weighted coherence is
        // further from 0 but over-weighting comes first.
        assert_eq!(
            c.mis.0,
            Guidance {
                factor: Factor::Length,
                over: true
            }
        );
        assert_eq!(c.mis.1.difference, Some(0.4));
        // The only other factor whose interval contains 0, same direction.
        assert_eq!(
            c.rand.as_ref().unwrap().0,
            Guidance {
                factor: Factor::NFacts,
                over: true
            }
        );
        // No clear over-weighting: the clearest under-weighting.
        let ev2 = vec![
            ev[1].clone(),
            ev[3].clone(),
            row("length", -0.3, Some([-0.5, -0.1])),
        ];
        let c = choose(&ev2, 1, None, None).unwrap();
        assert_eq!(
            c.mis.0,
            Guidance {
                factor: Factor::Coherence,
                over: false
            }
        );
        assert_eq!(
            c.mis.1.sentence,
            "Pay attention to how coherent the response is."
        );
        // Nothing clear: an error, no guess.
        let e = choose(&[ev[1].clone()], 1, None, None).unwrap_err();
        assert!(e.contains("no factor qualifies"), "{e}");
        let e = choose(&[ev[4].clone()], 1, None, None).unwrap_err();
        assert!(e.contains("no factor has an interval"), "{e}");
        // Given factors win, and say so; GuideRand must differ from GuideMis.
        let c = choose(&ev, 1, Some(Factor::Coherence), Some(Factor::Fluency)).unwrap();
        assert_eq!((c.mis.0.over, c.mis.1.chosen_by.as_str()), (false, "user"));
        assert_eq!(c.rand.unwrap().0.factor, Factor::Fluency);
        assert!(choose(&ev, 1, None, Some(Factor::Length)).is_err());
    }

    #[test]
    fn guide_rand_is_a_seeded_draw_among_the_agreeing_factors() {
        let ev: Vec<GuidanceEvidence> = ["length", "n_facts", "fluency", "coherence", "off_focus"]
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if i == 0 {
                    row(f, 0.5, Some([0.2, 0.8]))
                } else {
                    row(f, 0.0, Some([-0.2, 0.2]))
                }
            })
            .collect();
        let pick = |seed| {
            choose(&ev, seed, None, None)
                .unwrap()
                .rand
                .unwrap()
                .0
                .factor
        };
        assert_eq!(pick(3), pick(3), "the same seed draws the same factor");
        let drawn: std::collections::BTreeSet<Factor> = (0..40).map(pick).collect();
        assert!(
            drawn.len() > 1 && !drawn.contains(&Factor::Length),
            "{drawn:?}"
        );
    }
}
