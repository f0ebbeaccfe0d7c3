//! Models as judges and as writers (METHOD.md §7), as plans for the same
//! engine that extracts factors: the questions, their prompts and replies,
//! and how the answers become an agent's preferences.
//!
//! - **Judge** (evaluation setting): every dataset pair is shown as
//!   "Response 1 / Response 2", by default in both orders (position-bias
//!   control). When the two verdicts agree, that is the judge's preference;
//!   when they differ (the verdict followed the position, or one order said
//!   tie), the judge's preference for the pair is a tie. Position consistency
//!   and the share of flipped verdicts are reported.
//! - **Writer** (generation setting): for each sampled input (a cluster of the
//!   dataset) the model writes five responses meant for scores 1..5. Those
//!   become a generated dataset: for every two levels i < j, the level-j
//!   response is preferred (P never ties), so factors extracted from the
//!   generated texts show what the writer associates with quality.

use serde::{Deserialize, Serialize};

use super::extract::{Answer, Answers, Plan, Question};
use super::parse::{self, Better, ParseError};
use super::prompts;
use super::Prompt;
use crate::data::{Dataset, Pair, Preference, TextId, TextStore};
use crate::factors::Task;

/// A judge's parsed verdict, as cached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// `"1"`, `"2"` or `"tie"`.
    pub better: String,
    pub justification: String,
}

impl Verdict {
    fn better(&self) -> Better {
        match self.better.as_str() {
            "1" => Better::First,
            "2" => Better::Second,
            _ => Better::Tie,
        }
    }
}

/// The context a judge or writer sees: for document QA the documents and
/// the question; else the source (post, article) or, without one, the input.
pub fn context_text(
    task: Task,
    ds: &Dataset,
    input: Option<TextId>,
    source: Option<TextId>,
) -> String {
    let t = |id: TextId| ds.text(id);
    match (task, input, source) {
        (Task::DocQa, Some(i), Some(s)) => format!("Documents:\n{}\n\nQuestion:\n{}", t(s), t(i)),
        (Task::Summarization, _, Some(s)) => t(s).to_owned(),
        (_, Some(i), _) => t(i).to_owned(),
        (_, None, Some(s)) => t(s).to_owned(),
        (_, None, None) => String::new(),
    }
}

/// The prompt of a judge or writer question (`None` for other questions).
pub fn prompt(q: &Question, ds: &Dataset) -> Option<Prompt> {
    match *q {
        Question::Judge {
            task,
            input,
            source,
            first,
            second,
        } => Some(prompts::judge(
            task,
            &context_text(task, ds, input, source),
            ds.text(first),
            ds.text(second),
        )),
        Question::Generate {
            task,
            input,
            source,
        } => Some(prompts::generate(
            task,
            &context_text(task, ds, input, source),
        )),
        _ => None,
    }
}

/// Parses a judge's or writer's reply (`None` for other questions).
pub fn parse_reply(q: &Question, reply: &str) -> Option<Result<Answer, ParseError>> {
    match q {
        Question::Judge { .. } => Some(parse::parse_judge(reply).map(|v| {
            Answer::Verdict {
                verdict: Verdict {
                    better: match v.better {
                        Better::First => "1",
                        Better::Second => "2",
                        Better::Tie => "tie",
                    }
                    .to_owned(),
                    justification: v.justification,
                },
            }
        })),
        Question::Generate { .. } => {
            Some(parse::parse_generation(reply).map(|g| Answer::Generations {
                generations: g.to_vec(),
            }))
        }
        _ => None,
    }
}

/// The texts a judge's or writer's cache key covers.
pub fn key_texts(q: &Question, ds: &Dataset) -> Option<Vec<String>> {
    let t = |id: TextId| ds.text(id).to_owned();
    match *q {
        Question::Judge {
            task,
            input,
            source,
            first,
            second,
        } => Some(vec![
            context_text(task, ds, input, source),
            t(first),
            t(second),
        ]),
        Question::Generate {
            task,
            input,
            source,
        } => Some(vec![context_text(task, ds, input, source)]),
        _ => None,
    }
}

fn judge_question(task: Task, p: &Pair, forward: bool) -> Question {
    let (first, second) = if forward { (p.a, p.b) } else { (p.b, p.a) };
    Question::Judge {
        task,
        input: p.input,
        source: p.source,
        first,
        second,
    }
}

/// The judge's questions: every pair, in both orders unless `single_order`.
pub fn judge_plan(ds: &Dataset, task: Task, single_order: bool) -> Plan {
    let mut seen = rustc_hash::FxHashSet::default();
    let mut first = Vec::new();
    for p in &ds.pairs {
        for forward in [true, false] {
            if !forward && single_order {
                continue;
            }
            let q = judge_question(task, p, forward);
            if seen.insert(q) {
                first.push(q);
            }
        }
    }
    Plan {
        first,
        ..Default::default()
    }
}

/// What a judge did on a dataset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JudgeOutcome {
    /// The judge's preference per pair (`None`: a verdict is missing).
    pub preferences: Vec<Option<Preference>>,
    /// Pairs with every verdict.
    pub judged: u64,
    /// Pairs whose two orders gave the same verdict (both orders only).
    pub consistent: u64,
    /// Pairs where the verdict followed the position: response 1 both times,
    /// or response 2 both times.
    pub flipped: u64,
}

impl JudgeOutcome {
    /// Share of judged pairs with the same verdict in both orders.
    pub fn position_consistency(&self) -> Option<f64> {
        (self.judged > 0).then(|| self.consistent as f64 / self.judged as f64)
    }

    /// Share of judged pairs whose verdict followed the position.
    pub fn flipped_share(&self) -> Option<f64> {
        (self.judged > 0).then(|| self.flipped as f64 / self.judged as f64)
    }
}

/// The judge's preferences from its answers.
pub fn judge_outcome(
    ds: &Dataset,
    task: Task,
    single_order: bool,
    answers: &Answers,
) -> JudgeOutcome {
    let verdict = |q: &Question| match answers.get(q) {
        Some(Answer::Verdict { verdict }) => Some(verdict.better()),
        _ => None,
    };
    let mut out = JudgeOutcome::default();
    for p in &ds.pairs {
        let fwd = verdict(&judge_question(task, p, true));
        let pref = if single_order {
            fwd.map(|b| b.preference(true))
        } else {
            match (fwd, verdict(&judge_question(task, p, false))) {
                (Some(f), Some(r)) => {
                    let (pf, pr) = (f.preference(true), r.preference(false));
                    if pf == pr {
                        out.consistent += 1;
                    }
                    if f == r && f != Better::Tie {
                        out.flipped += 1;
                    }
                    Some(if pf == pr { pf } else { Preference::Tie })
                }
                _ => None,
            }
        };
        if pref.is_some() {
            out.judged += 1;
        }
        out.preferences.push(pref);
    }
    if single_order {
        out.consistent = 0;
        out.flipped = 0;
    }
    out
}

/// The writer's questions: one per input (cluster), for the first `limit`
/// inputs (all when `None`).
pub fn generate_plan(ds: &Dataset, task: Task, limit: Option<usize>) -> Plan {
    let mut seen = rustc_hash::FxHashSet::default();
    let mut first = Vec::new();
    for p in &ds.pairs {
        if limit.is_some_and(|n| seen.len() >= n) {
            break;
        }
        if seen.insert(p.cluster) {
            first.push(Question::Generate {
                task,
                input: p.input,
                source: p.source,
            });
        }
    }
    Plan {
        first,
        ..Default::default()
    }
}

/// What a writer produced.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// Five responses per input, and for every two score levels i < j a
    /// pair preferring the level-j response.
    pub dataset: Dataset,
    /// For each cluster of `dataset`, the input (cluster of the source
    /// dataset) it was written for.
    pub source_clusters: Vec<u32>,
    /// Inputs whose generation failed (left out).
    pub missing: u64,
}

/// The dataset a writer produced. Inputs whose generation failed are left
/// out (and counted).
pub fn generated_dataset(ds: &Dataset, plan: &Plan, answers: &Answers) -> Generated {
    // The source input of each writer question, in plan order.
    let mut first_pair: rustc_hash::FxHashMap<(Option<TextId>, Option<TextId>), u32> =
        Default::default();
    for p in &ds.pairs {
        first_pair.entry((p.input, p.source)).or_insert(p.cluster);
    }
    let mut source_clusters = Vec::new();
    let mut texts = TextStore::new();
    let mut pairs = Vec::new();
    let mut missing = 0;
    let mut cluster = 0u32;
    let mut line = 0u64;
    for q in &plan.first {
        let Question::Generate { input, source, .. } = *q else {
            continue;
        };
        let Some(Answer::Generations { generations }) = answers.get(q) else {
            missing += 1;
            continue;
        };
        source_clusters.push(first_pair.get(&(input, source)).copied().unwrap_or(0));
        let input = input.map(|t| texts.intern(ds.text(t)));
        let source = source.map(|t| texts.intern(ds.text(t)));
        let ids: Vec<TextId> = generations.iter().map(|g| texts.intern(g)).collect();
        for lo in 0..ids.len() {
            for hi in lo + 1..ids.len() {
                line += 1;
                pairs.push(Pair {
                    cluster,
                    input,
                    source,
                    a: ids[hi],
                    b: ids[lo],
                    preference: Preference::A,
                    line,
                });
            }
        }
        cluster += 1;
    }
    let mut out = Dataset {
        format: ds.format,
        pairs,
        texts,
        n_clusters: cluster,
        task_hint: ds.task_hint,
        ..Default::default()
    };
    out.stats.records_read = out.pairs.len() as u64;
    out.stats.records_parsed = out.pairs.len() as u64;
    Generated {
        dataset: out,
        source_clusters,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_bytes, FormatOptions};

    fn ds() -> Dataset {
        let rows = [
            ("q1", "short", "a much longer answer", "b"),
            ("q1", "short", "mid answer", "a"),
            ("q2", "x", "y", "a"),
        ];
        let text: Vec<String> = rows
            .iter()
            .map(|(i, a, b, p)| {
                serde_json::json!({"input": i, "response_a": a, "response_b": b, "preference": p})
                    .to_string()
            })
            .collect();
        load_bytes(text.join("\n").as_bytes(), FormatOptions::default()).unwrap()
    }

    fn verdict(b: &str) -> Answer {
        Answer::Verdict {
            verdict: Verdict {
                better: b.into(),
                justification: "because".into(),
            },
        }
    }

    #[test]
    fn both_orders_give_consistency_flips_and_ties() {
        let d = ds();
        let plan = judge_plan(&d, Task::Helpful, false);
        assert_eq!(plan.first.len(), 6);
        let mut a = Answers::default();
        let qs = &plan.first;
        // Pair 0: prefers B in both orders (consistent).
        a.insert(qs[0], verdict("2"));
        a.insert(qs[1], verdict("1"));
        // Pair 1: "1" both times: followed the position → tie.
        a.insert(qs[2], verdict("1"));
        a.insert(qs[3], verdict("1"));
        // Pair 2: one order missing → not judged.
        a.insert(qs[4], verdict("1"));
        let o = judge_outcome(&d, Task::Helpful, false, &a);
        assert_eq!(
            o.preferences,
            vec![Some(Preference::B), Some(Preference::Tie), None]
        );
        assert_eq!((o.judged, o.consistent, o.flipped), (2, 1, 1));
        assert_eq!(o.position_consistency(), Some(0.5));
        let single = judge_outcome(&d, Task::Helpful, true, &a);
        assert_eq!(
            single.preferences,
            vec![
                Some(Preference::B),
                Some(Preference::A),
                Some(Preference::A)
            ]
        );
        assert_eq!(single.position_consistency(), Some(0.0));
    }

    #[test]
    fn replies_parse_and_malformed_generations_fail() {
        let d = ds();
        let g = generate_plan(&d, Task::Helpful, None);
        assert_eq!(g.first.len(), 2);
        assert_eq!(generate_plan(&d, Task::Helpful, Some(1)).first.len(), 1);
        let q = g.first[0];
        let five = (1..=5)
            .map(|k| format!("SCORE {k}\nAnswer number {k}."))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(matches!(
            parse_reply(&q, &five),
            Some(Ok(Answer::Generations { .. }))
        ));
        assert!(matches!(parse_reply(&q, "SCORE 1\nonly one"), Some(Err(_))));
        assert!(parse_reply(&Question::Facts(d.pairs[0].a), "x").is_none());
        let j = judge_plan(&d, Task::Helpful, true).first[0];
        assert!(matches!(
            parse_reply(&j, r#"{"better": "tie", "justification": "same"}"#),
            Some(Ok(Answer::Verdict { .. }))
        ));
        assert!(matches!(parse_reply(&j, "I like the first"), Some(Err(_))));
        // The generated dataset: 10 pairs per input, higher level preferred.
        let mut a = Answers::default();
        a.insert(
            q,
            Answer::Generations {
                generations: (1..=5).map(|k| "w ".repeat(k)).collect(),
            },
        );
        let out = generated_dataset(&d, &g, &a);
        let (gen, missing) = (&out.dataset, out.missing);
        assert_eq!((gen.pairs.len(), gen.n_clusters, missing), (10, 1, 1));
        assert_eq!(out.source_clusters, [d.pairs[0].cluster]);
        let p = gen.pairs[0];
        assert!(gen.text(p.a).len() > gen.text(p.b).len());
        assert_eq!(gen.text(p.input.unwrap()), "q1");
        assert!(gen.pairs.iter().all(|p| p.preference == Preference::A));
        // The judge sees the documents and the question for document QA.
        assert_eq!(
            context_text(
                Task::Helpful,
                &d,
                p.input.map(|_| d.pairs[0].input.unwrap()),
                None
            ),
            "q1"
        );
    }
}
