//! Golden cache keys: the key, template and rendered prompt of every question
//! the plans ask (factor questions of every preset and of all LLM factors,
//! with and without log-probabilities and summaries, second-stage fact
//! checks with and without facts, judges in both orders and in single order,
//! writers), on datasets with an input and a source, with only one of them
//! and with neither, compared with `tests/fixtures/cache_keys.txt`. The
//! fixture was written by the code before questions got their own module
//! (issue 12): existing cache files must keep hitting, so a key may never
//! change without a new template version.
//!
//! Also: cache lines as earlier versions wrote them decode to the same
//! answers and re-encode byte for byte.
//!
//! `PROFILE_BLESS=1 cargo test --test cache_keys` rewrites the fixture (only
//! when a template version is bumped on purpose).

use std::fmt::Write as _;

use profile::data::{load_bytes, Dataset, FormatOptions, Task};
use profile::factors::Factor;
use profile::llm::ask::{prompt, template};
use profile::llm::cache::{stable_hash, CacheEntry};
use profile::llm::engine::{legacy_question_key, question_key, Keys};
use profile::llm::extract::{Answer, Answers, ExtractOptions, FactChecks, Judgements, Plan};
use profile::llm::provider::{ModelConfig, Provider};
use profile::llm::roles::{generate_plan, judge_plan, JudgeOrder, Verdict};

mod common;

const FIXTURE: &str = "tests/fixtures/cache_keys.txt";
const FIXTURE_V2: &str = "tests/fixtures/cache_keys_v2.txt";

/// Pairs with an input and a source (summaries of council reports), plus
/// pairs with only an input, only a source, and neither.
fn datasets() -> Vec<(&'static str, Dataset)> {
    let mut lines = String::new();
    let rows = [
        (
            Some("How do I boil an egg?"),
            None,
            "Put it in boiling water for 8 minutes.",
            "Boil it. Eggs are a source of protein.",
        ),
        (
            Some("How do I boil an egg?"),
            None,
            "Boil it. Eggs are a source of protein.",
            "Ask a chef.",
        ),
        (
            None,
            Some("The river flooded the town on Monday. Two bridges closed."),
            "The town flooded.",
            "Bridges closed after a flood on Monday.",
        ),
        (None, None, "Hello there.", "Good morning to you."),
    ];
    for (input, source, a, b) in rows {
        let mut v = serde_json::json!({"response_a": a, "response_b": b, "preference": "a"});
        if let Some(i) = input {
            v["input"] = i.into();
        }
        if let Some(s) = source {
            v["source"] = s.into();
        }
        lines.push_str(&v.to_string());
        lines.push('\n');
    }
    let mixed =
        load_bytes(lines.as_bytes(), FormatOptions::default()).expect("the mixed dataset loads");
    vec![("council", common::council_dataset(2)), ("mixed", mixed)]
}

fn config(logprobs: bool) -> ModelConfig {
    let mut cfg = ModelConfig::new(Provider::OpenAi, "gpt-4o-mini");
    cfg.logprobs = logprobs;
    cfg
}

/// Deterministic facts for the `i`-th facts question: every third text has
/// none (its checks have nothing to ask), the others one or two, one of
/// them repeated.
fn facts(i: usize) -> Vec<String> {
    match i % 3 {
        0 => vec![format!("Fact {i} holds."), "A second fact.".to_owned()],
        1 => vec![format!("Fact {i} holds.")],
        _ => vec![],
    }
}

/// One line per question: label, stage and index, template id, a digest of
/// the rendered prompt, and the cache key (`-` where no call is made).
fn render(out: &mut String, label: &str, plan: &Plan, ds: &Dataset, opts: ExtractOptions) {
    let cfg = config(opts.logprobs);
    let mut answers = Answers::default();
    for (stage, qs) in [("first", &plan.first), ("second", &plan.second)] {
        let mut n_facts = 0;
        for (i, q) in qs.iter().enumerate() {
            match prompt(q, ds, &answers, opts) {
                None => writeln!(out, "{label} {stage}#{i} - - -").unwrap(),
                Some(p) => {
                    let schema = p.schema.as_ref().map(|s| s.to_string()).unwrap_or_default();
                    let digest =
                        stable_hash(&[&p.system, &p.user, &schema, &p.want_logprobs.to_string()]);
                    let key = question_key(&cfg, q, &p, ds, &answers);
                    writeln!(
                        out,
                        "{label} {stage}#{i} {} {digest} {key}",
                        p.template_id()
                    )
                    .unwrap();
                }
            }
        }
        // The first stage's facts, for the second stage's checks.
        for q in qs {
            if prompt(q, ds, &answers, opts).is_some_and(|p| p.template == "atomic_facts") {
                answers.insert(*q, Answer::Facts(facts(n_facts)));
                n_facts += 1;
            }
        }
    }
}

fn golden() -> String {
    golden_with(render)
}

type Render = fn(&mut String, &str, &Plan, &Dataset, ExtractOptions);

fn golden_with(render: Render) -> String {
    let mut out = String::new();
    let llm_factors: Vec<Factor> = Factor::ALL
        .into_iter()
        .filter(|f| f.needs_model())
        .collect();
    for (name, ds) in datasets() {
        for task in Task::ALL {
            for logprobs in [false, true] {
                for summaries in [false, true] {
                    let opts = ExtractOptions {
                        logprobs,
                        summaries,
                    };
                    let tag = format!("{name} {} lp={logprobs} sum={summaries}", task.id());
                    render(
                        &mut out,
                        &format!("{tag} preset"),
                        &Plan::new(&ds, task.factors(), opts),
                        &ds,
                        opts,
                    );
                    if task == Task::Summarization {
                        for &f in &llm_factors {
                            render(
                                &mut out,
                                &format!("{name} {f:?} lp={logprobs} sum={summaries}"),
                                &Plan::new(&ds, &[f], opts),
                                &ds,
                                opts,
                            );
                        }
                        render(
                            &mut out,
                            &format!("{name} all lp={logprobs} sum={summaries}"),
                            &Plan::new(&ds, &llm_factors, opts),
                            &ds,
                            opts,
                        );
                    }
                }
                let opts = ExtractOptions {
                    logprobs,
                    summaries: false,
                };
                let tag = format!("{name} {} lp={logprobs}", task.id());
                render(
                    &mut out,
                    &format!("{tag} judge both"),
                    &judge_plan(&ds, task, JudgeOrder::Both),
                    &ds,
                    opts,
                );
                render(
                    &mut out,
                    &format!("{tag} judge single"),
                    &judge_plan(&ds, task, JudgeOrder::Single { seed: 7 }),
                    &ds,
                    opts,
                );
                render(
                    &mut out,
                    &format!("{tag} generate"),
                    &generate_plan(&ds, task, None),
                    &ds,
                    opts,
                );
            }
        }
    }
    out
}

#[test]
fn every_question_keeps_its_cache_key_template_and_prompt() {
    let got = golden();
    if std::env::var_os("PROFILE_BLESS").is_some() {
        std::fs::write(FIXTURE, &got).expect("the fixture is written");
        return;
    }
    let want = std::fs::read_to_string(FIXTURE).expect("tests/fixtures/cache_keys.txt exists");
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {} of {FIXTURE}", i + 1);
    }
    assert_eq!(
        got.lines().count(),
        want.lines().count(),
        "number of questions"
    );
    // Every family and template is covered.
    for t in [
        "atomic_facts@",
        "response_judgements@",
        "fluency_coherence@",
        "fluency@",
        "coherence@",
        "fact_checks@",
        "judge_summarization@",
        "judge_helpful@",
        "judge_doc_qa@",
        "generate_summarization@",
        "generate_helpful@",
        "generate_doc_qa@",
    ] {
        assert!(
            want.contains(&format!(" {t}")),
            "no question of template {t}"
        );
    }
    assert!(
        want.lines()
            .filter(|l| l.contains(" second#"))
            .any(|l| l.ends_with(" - - -")),
        "a check with nothing to ask"
    );
}

/// Cache lines as earlier versions stored them.
const LINES: &[&str] = &[
    r#"{"key":"k1","template":"atomic_facts@1","provider":"openai","model":"gpt-4o-mini","decoding":{"temperature":0.6,"top_p":0.9,"max_tokens":1024},"reply":"{\"facts\":[\"The sky is blue.\"]}","value":["The sky is blue."],"input_tokens":12,"output_tokens":5}"#,
    r#"{"key":"k2","template":"response_judgements@1","provider":"openai","model":"gpt-4o-mini","decoding":{"temperature":0.6,"top_p":0.9,"max_tokens":1024},"reply":"{}","value":{"judgements":{"fluency":0.75,"intent_alignment":2.0}},"input_tokens":0,"output_tokens":0}"#,
    r#"{"key":"k3","template":"fact_checks@1","provider":"anthropic","model":"claude","decoding":{"temperature":0.0,"top_p":1.0,"max_tokens":512},"reply":"{}","value":{"fact_checks":{"covered":[true],"supported":[true,false]}},"input_tokens":3,"output_tokens":4}"#,
    r#"{"key":"k4","template":"judge_summarization@1","provider":"gemini","model":"gemini-2.5-flash","decoding":{"temperature":0.6,"top_p":0.9,"max_tokens":1024},"reply":"{}","value":{"verdict":{"better":"2","justification":"Shorter."}},"input_tokens":0,"output_tokens":0}"#,
    r#"{"key":"k5","template":"generate_helpful@1","provider":"openai","model":"m","decoding":{"temperature":0.6,"top_p":0.9,"max_tokens":1024},"reply":"{}","value":{"generations":["a","b","c","d","e"]},"input_tokens":0,"output_tokens":0}"#,
    r#"{"key":"k6","template":"fluency@1","provider":"openai","model":"m","decoding":{"temperature":0.6,"top_p":0.9,"max_tokens":1024},"reply":"yes","value":{"judgements":{"fluency":0.9}},"input_tokens":0,"output_tokens":0}"#,
];

#[test]
fn stored_cache_lines_decode_to_the_same_answers_and_re_encode_byte_for_byte() {
    let want = [
        Answer::Facts(vec!["The sky is blue.".into()]),
        Answer::Judgements {
            judgements: Box::new(Judgements {
                intent_alignment: Some(2.0),
                fluency: Some(0.75),
                ..Default::default()
            }),
        },
        Answer::FactChecks {
            fact_checks: Box::new(FactChecks {
                supported: Some(vec![true, false]),
                covered: Some(vec![true]),
                ..Default::default()
            }),
        },
        Answer::Verdict {
            verdict: Verdict {
                better: "2".into(),
                justification: "Shorter.".into(),
            },
        },
        Answer::Generations {
            generations: ["a", "b", "c", "d", "e"].map(String::from).to_vec(),
        },
        Answer::Judgements {
            judgements: Box::new(Judgements {
                fluency: Some(0.9),
                ..Default::default()
            }),
        },
    ];
    for (line, want) in LINES.iter().zip(want) {
        let e: CacheEntry = serde_json::from_str(line).expect("a stored line parses");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            *line,
            "re-encoded entry"
        );
        let a: Answer = serde_json::from_value(e.value.clone()).expect("its value is an answer");
        assert_eq!(a, want, "{line}");
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            e.value,
            "re-encoded answer"
        );
    }
}

/// One line per question with its version-2 key (`-` where no call is
/// made), checking on the way that the prompt's kind is known without
/// rendering it, that the legacy key computed from that kind is the
/// rendered prompt's, and that two questions of a plan share a version-2
/// key exactly when they share a legacy key (the same questions share one
/// call).
fn render_v2(out: &mut String, label: &str, plan: &Plan, ds: &Dataset, opts: ExtractOptions) {
    let cfg = config(opts.logprobs);
    let mut keys = Keys::new(&cfg);
    let mut answers = Answers::default();
    let mut v2_of = std::collections::HashMap::new();
    let mut legacy_of = std::collections::HashMap::new();
    for (stage, qs) in [("first", &plan.first), ("second", &plan.second)] {
        let mut n_facts = 0;
        for (i, q) in qs.iter().enumerate() {
            let kind = template(q, &answers, opts);
            match prompt(q, ds, &answers, opts) {
                None => {
                    assert_eq!(kind, None, "{label} {stage}#{i}: nothing to ask");
                    writeln!(out, "{label} {stage}#{i} - -").unwrap();
                }
                Some(p) => {
                    let kind = kind.unwrap_or_else(|| panic!("{label} {stage}#{i}: a kind"));
                    assert_eq!(kind.template.id(), p.template_id(), "{label} {stage}#{i}");
                    assert_eq!(kind.want_logprobs, p.want_logprobs, "{label} {stage}#{i}");
                    let legacy = question_key(&cfg, q, &p, ds, &answers);
                    assert_eq!(
                        legacy_question_key(&cfg, q, kind, ds, &answers),
                        legacy,
                        "{label} {stage}#{i}: the legacy key without rendering"
                    );
                    let key = keys.key(q, kind, ds, &answers);
                    assert!(key.starts_with("v2-") && key.len() == 35, "{key}");
                    assert_eq!(
                        v2_of.entry(legacy.clone()).or_insert_with(|| key.clone()),
                        &key,
                        "{label} {stage}#{i}: one legacy key, two version-2 keys"
                    );
                    assert_eq!(
                        legacy_of
                            .entry(key.clone())
                            .or_insert_with(|| legacy.clone()),
                        &legacy,
                        "{label} {stage}#{i}: one version-2 key, two legacy keys"
                    );
                    writeln!(out, "{label} {stage}#{i} {} {key}", p.template_id()).unwrap();
                }
            }
        }
        for q in qs {
            if prompt(q, ds, &answers, opts).is_some_and(|p| p.template == "atomic_facts") {
                answers.insert(*q, Answer::Facts(facts(n_facts)));
                n_facts += 1;
            }
        }
    }
}

/// Version-2 keys are pinned too: changing them orphans every cache written
/// since (a legacy cache still answers, through its legacy keys).
#[test]
fn every_question_keeps_its_version_2_key_and_its_kind_is_known_without_rendering() {
    let got = golden_with(render_v2);
    if std::env::var_os("PROFILE_BLESS").is_some() {
        std::fs::write(FIXTURE_V2, &got).expect("the fixture is written");
        return;
    }
    let want =
        std::fs::read_to_string(FIXTURE_V2).expect("tests/fixtures/cache_keys_v2.txt exists");
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {} of {FIXTURE_V2}", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count());
    // The same questions as the legacy fixture, in the same order.
    let legacy = std::fs::read_to_string(FIXTURE).expect("the legacy fixture");
    assert_eq!(legacy.lines().count(), want.lines().count());
    for (l, w) in legacy.lines().zip(want.lines()) {
        let question = |s: &str| -> String {
            let words: Vec<&str> = s.split(' ').collect();
            let end = words.iter().position(|w| w.contains('#')).expect("stage#i");
            words[..=end].join(" ")
        };
        assert_eq!(question(l), question(w));
    }
}

/// The questions of guided judging and of the improvement experiment key
/// like the others: their kind is known without rendering, their legacy
/// key computed from it is the rendered prompt's, and their version-2 keys
/// tell apart exactly the questions their legacy keys tell apart (a guided
/// judge never shares an answer with the plain judge or another guidance).
#[test]
fn guided_and_improvement_questions_key_alike_in_both_versions() {
    use profile::llm::question::Guidance;
    use profile::llm::roles::{guided_judge_plan, Improvement};
    let opts = ExtractOptions::default();
    for (name, ds) in datasets() {
        let mut sink = String::new();
        let guidances = [
            None,
            Some(Guidance {
                factor: Factor::Length,
                over: true,
            }),
            Some(Guidance {
                factor: Factor::Length,
                over: false,
            }),
            Some(Guidance {
                factor: Factor::Fluency,
                over: true,
            }),
        ];
        let plan = guided_judge_plan(&ds, Task::Helpful, JudgeOrder::Both, &guidances);
        render_v2(&mut sink, name, &plan, &ds, opts);
        let n = sink.lines().filter(|l| !l.ends_with(" -")).count();
        let distinct: std::collections::HashSet<&str> =
            sink.lines().filter_map(|l| l.rsplit(' ').next()).collect();
        assert_eq!(distinct.len(), n, "{name}: each guidance keys apart");

        let mut imp = Improvement::new(&ds, Task::Helpful, None);
        let drafts = imp.draft_plan();
        render_v2(&mut sink, name, &drafts, &imp.dataset, opts);
        let mut answers = Answers::default();
        for (i, q) in drafts.first.iter().enumerate() {
            let generations = vec![format!("Draft one of {i}."), format!("Draft two of {i}.")];
            answers.insert(*q, Answer::Generations { generations });
        }
        imp.take_drafts(&answers);
        let feedback = imp.feedback_plan();
        render_v2(&mut sink, name, &feedback, &imp.dataset, opts);
        for (i, q) in feedback.first.iter().enumerate() {
            let verdict = Verdict {
                better: ["1", "2", "tie"][i % 3].into(),
                justification: format!("Reason {i}."),
            };
            answers.insert(*q, Answer::Verdict { verdict });
        }
        imp.take_feedback(&answers);
        let revise = imp.revise_plan();
        assert!(!revise.first.is_empty(), "{name}: revisions to key");
        render_v2(&mut sink, name, &revise, &imp.dataset, opts);
    }
}
