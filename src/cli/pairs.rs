//! `profile pairs`: the pairs behind a factor score (the drill-down).

use super::*;

use crate::drill::{self, AgentPrefs, PairKind, PairRow, Verdict};
use crate::factors::rules::RuleExtractor;
use crate::llm::parse::Better;

/// The first `max_chars` characters of a text on one line; with `spans`,
/// the words they cover in «».
fn excerpt(text: &str, spans: Option<&[[usize; 2]]>, max_chars: usize) -> String {
    let spans = spans.unwrap_or(&[]);
    let mut out = String::new();
    let mut open = false;
    for (n, (i, c)) in text.char_indices().enumerate() {
        if open && spans.iter().any(|[_, e]| *e == i) {
            out.push('»');
            open = false;
        }
        if n >= max_chars {
            if open {
                out.push('»');
            }
            out.push('…');
            return printable(&out);
        }
        if !open && spans.iter().any(|[s, _]| *s == i) {
            out.push('«');
            open = true;
        }
        out.push(if c.is_whitespace() { ' ' } else { c });
    }
    if open {
        out.push('»');
    }
    printable(&out)
}

fn sign_name(s: Option<i8>) -> &'static str {
    match s {
        Some(1) => "A",
        Some(-1) => "B",
        Some(_) => "tie",
        None => "none",
    }
}

pub(super) fn cmd_pairs(args: &[String]) -> Result<String, Failure> {
    use crate::workflow::{Kind, Outcome, Workflow};
    let options: Vec<&str> = DATA_OPTIONS
        .into_iter()
        .chain(STUDY_OPTIONS)
        .chain(["factor", "kind", "agent"])
        .chain(PROVIDER_OPTIONS)
        .collect();
    let mut f = parse_flags(args, &options, &["json", "quiet", "single-order"])?;
    // Here --limit is how many pairs to list, not a selection of the data.
    let limit = match f.values.remove("limit") {
        None => 20,
        Some(v) => v.parse::<usize>().map_err(|_| {
            usage_error(format!(
                "--limit takes a count of pairs (0: all), not `{v}`"
            ))
        })?,
    };
    let agent = f
        .values
        .get("agent")
        .cloned()
        .unwrap_or_else(|| "human".into());
    let kind = f.values.get("kind").cloned();
    let agreement_kind = matches!(
        kind.as_deref(),
        Some("disagrees" | "agrees" | "no_verdict" | "followed_position")
    );
    let pair_kind = match kind.as_deref() {
        None => None,
        Some(_) if agreement_kind => None,
        Some(k) => Some(PairKind::from_id(k).ok_or_else(|| {
            usage_error(format!(
                "--kind takes concordant, discordant, tied, dropped or missing (or, for a judge, \
                 disagrees, agrees, no_verdict or followed_position), not `{k}`"
            ))
        })?),
    };
    // A custom factor's id parses once its pack is registered.
    load_factor_pack(&f)?;
    let factor = match f.values.get("factor") {
        Some(id) => Some(Factor::from_id(id).ok_or_else(|| {
            let known: Vec<&str> = Factor::ALL.iter().map(|f| f.id()).collect();
            usage_error(format!(
                "unknown factor `{id}`; known factors: {}",
                known.join(", ")
            ))
        })?),
        None if agreement_kind => None,
        None => {
            return Err(usage_error(
                "`profile pairs` needs --factor F (or --kind disagrees with a judge agent)",
            ))
        }
    };
    let Study { ds, cfg, .. } = load_study(&f, "pairs")?;
    let ds = std::rc::Rc::new(ds);
    let role = match agent.as_str() {
        "human" => "human",
        a if a == "judge" || a.ends_with(" (judge)") => "judge",
        a if a == "writer" || a.ends_with(" (writer)") => "writer",
        a => {
            return Err(usage_error(format!(
                "--agent takes human, judge or writer (or a report's agent name, \
                 `MODEL (judge)`), not `{a}`"
            )))
        }
    };
    if agreement_kind && role != "judge" {
        return Err(usage_error(format!(
            "--kind {} lists a judge's verdicts against the labels: give --agent judge",
            kind.unwrap_or_default()
        )));
    }
    // A model agent: its verdicts (or generated pairs) from the answer cache.
    let mut prefs = None;
    let mut followed = None;
    let mut generated = None;
    let mut values = None;
    if role != "human" {
        let Some(provider) = f.values.get("provider").cloned() else {
            return Err(usage_error(format!(
                "--agent {agent}: give the --provider and --model (and the selection flags) of \
                 its `profile {}` run; its answers are read from the cache",
                if role == "judge" { "judge" } else { "generate" }
            )));
        };
        let session = LlmSession::open(&f, &provider)?;
        if let Some(a) = agent.strip_suffix(&format!(" ({role})")) {
            if a != session.mc.model {
                return Err(usage_error(format!(
                    "--agent `{agent}` is not the model of --model `{}`",
                    session.mc.model
                )));
            }
        }
        let single = f.switches.iter().any(|s| s == "single-order");
        let run = if role == "judge" {
            Kind::Judge(crate::llm::roles::JudgeOrder::new(
                single,
                cfg.bootstrap.seed,
            ))
        } else {
            Kind::Writer { inputs: None }
        };
        let wf = Workflow::new(run, ds.clone(), &cfg, &session.mc);
        let wf = replay_cached(
            wf,
            &session,
            if role == "judge" { "judge" } else { "generate" },
        )?;
        match wf.finish() {
            Some(Outcome::Judge { outcome, .. }) => {
                if kind.as_deref() == Some("followed_position") && outcome.order.is_single() {
                    return Err(usage_error(
                        "--kind followed_position needs the judge's verdicts in both orders: \
                         its run used --single-order",
                    ));
                }
                prefs = Some(outcome.preferences);
                followed = Some(outcome.followed_position);
            }
            Some(Outcome::Writer {
                generated: g,
                values: v,
                ..
            }) => {
                generated = Some(g.dataset);
                values = v;
            }
            _ => return Err(data_error("the model run gave no outcome")),
        }
    }
    // The humans' values of a factor that needs a model: the answers of
    // its `profile score --provider …` run, replayed from the cache.
    let mut cache_session = None;
    if role == "human" && factor.is_some_and(|x| x.needs_model()) {
        let Some(provider) = f.values.get("provider").cloned() else {
            return Err(usage_error(format!(
                "--factor {} needs a model: give the --provider and --model (and the selection \
                 flags) of its `profile score` run; its answers are read from the cache",
                factor.map(|x| x.id()).unwrap_or_default()
            )));
        };
        // The questions (and their cache keys) depend on the whole factor
        // set asked: the same --task/--factors as the score run.
        if let Some(x) = factor.filter(|x| !cfg.requested().contains(x)) {
            return Err(usage_error(format!(
                "--factor {} is not among the factors of this study: give the --task or \
                 --factors of the `profile score` run that extracted it",
                x.id()
            )));
        }
        let session = LlmSession::open(&f, &provider)?;
        let wf = Workflow::new(Kind::Extract, ds.clone(), &cfg, &session.mc);
        let wf = replay_cached(wf, &session, "score")?;
        match wf.finish() {
            Some(Outcome::Extract(v)) => values = Some(v),
            _ => return Err(data_error("the model run gave no outcome")),
        }
        cache_session = Some(session);
    }
    let ds: &crate::data::Dataset = generated.as_ref().unwrap_or(&ds);
    let json = f.switches.iter().any(|s| s == "json");
    // The raw replies of a side's answers, from the cache (bounded, and only
    // where the entry still holds the answer the value came from).
    let raw_replies = |pair: u32, side: drill::Side| -> Vec<drill::RawReply> {
        let (Some(session), Some(l), Some(factor)) = (&cache_session, values.as_ref(), factor)
        else {
            return Vec::new();
        };
        (0..)
            .map_while(|i| drill::reply_answer(ds, pair as usize, side, factor, l, i))
            .map(|(r, a)| {
                use crate::llm::engine::AnswerCache;
                let entry = r.key.as_deref().and_then(|k| session.cache.entry(k));
                drill::raw_reply(&r, &a, entry.as_ref())
            })
            .collect()
    };
    let mut rules = RuleExtractor::new();
    let mut s = String::new();
    if agreement_kind {
        let prefs = prefs.as_deref().unwrap_or(&[]);
        let all = drill::agreement(ds, prefs);
        // The rows asked for, each with the position its verdict followed
        // (only for `followed_position`).
        let (rows, of, what): (Vec<(&drill::AgreementRow, Option<&str>)>, usize, &str) =
            if kind.as_deref() == Some("followed_position") {
                let followed = followed.as_deref().unwrap_or(&[]);
                let judged = all.iter().filter(|r| r.verdict.is_some()).count();
                let rows = followed
                    .iter()
                    .filter_map(|&(i, b)| {
                        let at = match b {
                            Better::First => "first",
                            Better::Second => "second",
                            Better::Tie => return None,
                        };
                        all.get(i as usize).map(|r| (r, Some(at)))
                    })
                    .collect();
                (
                    rows,
                    judged,
                    "pairs judged in both orders: the verdict followed the position",
                )
            } else {
                let (want, what) = match kind.as_deref() {
                    Some("agrees") => (Verdict::Agrees, "pairs: the judge agrees with the label"),
                    Some("no_verdict") => (Verdict::NoVerdict, "pairs: the judge gave no verdict"),
                    _ => (
                        Verdict::Disagrees,
                        "pairs: the judge disagrees with the label",
                    ),
                };
                let rows = all
                    .iter()
                    .filter(|r| r.stands == want)
                    .map(|r| (r, None))
                    .collect();
                (rows, all.len(), what)
            };
        let shown = &rows[..rows.len().min(if limit == 0 { usize::MAX } else { limit })];
        if json {
            let pairs: Vec<serde_json::Value> = shown
                .iter()
                .map(|(r, at)| {
                    let mut v = serde_json::to_value(r).expect("serialisable");
                    if let Some(at) = at {
                        v["position"] = serde_json::json!(at);
                    }
                    v
                })
                .collect();
            let v = serde_json::json!({
                "agent": agent, "kind": kind, "pairs_total": all.len(), "of": of,
                "matching": rows.len(), "pairs": pairs,
            });
            return Ok(serde_json::to_string_pretty(&v).expect("serialisable") + "\n");
        }
        let _ = writeln!(s, "{} of {of} {what} (label vs verdict)", rows.len());
        for (r, at) in shown {
            let p = &ds.pairs[r.pair as usize];
            let _ = writeln!(
                s,
                "pair {} (line {}): label {}, judge {}{}\n  A: {}\n  B: {}",
                r.pair,
                r.line,
                sign_name(Some(r.label)),
                sign_name(r.verdict),
                at.map(|at| format!(" (named the response shown {at} in both orders)"))
                    .unwrap_or_default(),
                excerpt(ds.text(p.a), None, 160),
                excerpt(ds.text(p.b), None, 160)
            );
        }
        return Ok(s);
    }
    let factor = factor.expect("checked above");
    let setting = match role {
        "human" => crate::stats::Setting::Human,
        "judge" => crate::stats::Setting::Evaluation,
        _ => crate::stats::Setting::Generation,
    };
    let who = AgentPrefs {
        setting,
        prefs: prefs.as_deref(),
    };
    let rows = drill::pairs(ds, factor, who, values.as_ref(), &mut rules)
        .map_err(|why| data_error(format!("--factor {}: {why}", factor.id())))?;
    let counts = drill::counts(&rows);
    let matching: Vec<&PairRow> = rows
        .iter()
        .filter(|r| pair_kind.is_none_or(|k| r.kind == k))
        .collect();
    let shown = &matching[..matching
        .len()
        .min(if limit == 0 { usize::MAX } else { limit })];
    let novel = matches!(factor, Factor::NovelWords | Factor::NovelWordsCount);
    if json {
        let pairs: Vec<serde_json::Value> = shown
            .iter()
            .map(|r| {
                let e = drill::evidence(ds, r.pair as usize, factor, values.as_ref(), &mut rules);
                let mut v = serde_json::json!({ "row": r, "evidence": e });
                if cache_session.is_some() {
                    v["raw_replies"] = serde_json::json!({
                        "a": raw_replies(r.pair, drill::Side::A),
                        "b": raw_replies(r.pair, drill::Side::B),
                    });
                }
                v
            })
            .collect();
        let v = serde_json::json!({
            "factor": factor.id(), "agent": agent, "kind": pair_kind,
            "counts": counts, "matching": matching.len(), "pairs": pairs,
        });
        return Ok(serde_json::to_string_pretty(&v).expect("serialisable") + "\n");
    }
    let _ = writeln!(
        s,
        "{} for {agent}: {} concordant, {} discordant, {} tied, {} dropped, {} missing of {} pairs",
        factor.id(),
        counts.concordant,
        counts.discordant,
        counts.ties,
        counts.dropped,
        counts.missing,
        rows.len()
    );
    let _ = writeln!(
        s,
        "listing {} of {} {} pairs{}",
        shown.len(),
        matching.len(),
        pair_kind.map_or("", PairKind::id),
        if novel { " (novel words in «»)" } else { "" }
    );
    for r in shown {
        let e = drill::evidence(ds, r.pair as usize, factor, values.as_ref(), &mut rules)
            .expect("a listed pair exists");
        let _ = writeln!(
            s,
            "pair {} (line {}): {}, label {}, {agent} {}, {} A {} vs B {}\n  A: {}\n  B: {}",
            r.pair,
            r.line,
            r.kind.id(),
            sign_name(Some(r.label)),
            sign_name(r.agent),
            factor.id(),
            fmt_value(r.value_a),
            fmt_value(r.value_b),
            excerpt(&e.a.text, novel.then_some(&e.a.novel[..]), 240),
            excerpt(&e.b.text, novel.then_some(&e.b.novel[..]), 240)
        );
        for (name, side) in [("A", &e.a), ("B", &e.b)] {
            if let Some(m) = &side.model {
                model_lines(&mut s, name, m);
            }
        }
    }
    if cache_session.is_some() {
        let _ = writeln!(
            s,
            "(the raw replies behind these answers: add --json, `raw_replies`)"
        );
    }
    Ok(s)
}

/// How many facts of a response are listed in the text output.
const FACTS_SHOWN: usize = 12;

/// A response's model evidence as indented lines: the facts with their
/// verdicts, the judgements.
fn model_lines(s: &mut String, name: &str, m: &drill::ModelEvidence) {
    if m.imported {
        let _ = writeln!(
            s,
            "  {name}: the value is an imported annotation (no model answer behind it)"
        );
        return;
    }
    if let Some(of) = &m.facts_of {
        let _ = writeln!(
            s,
            "  {name}: {} atomic facts of the {of}{}",
            m.facts.len(),
            m.model
                .as_deref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default()
        );
        for (i, fact) in m.facts.iter().take(FACTS_SHOWN).enumerate() {
            let verdicts: Vec<&str> = fact.verdicts.iter().map(|v| v.label.as_str()).collect();
            let _ = writeln!(
                s,
                "    {}. {}{}{}",
                i + 1,
                excerpt(&fact.text, None, 160),
                if verdicts.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", verdicts.join(", "))
                },
                if fact.repeat {
                    " (repeat: counted once)"
                } else {
                    ""
                }
            );
        }
        if m.facts.len() > FACTS_SHOWN {
            let _ = writeln!(s, "    … and {} more", m.facts.len() - FACTS_SHOWN);
        }
    }
    if let Some(j) = &m.judgements {
        let parts: Vec<String> = [
            ("intent alignment", j.intent_alignment),
            ("formality alignment", j.formality_alignment),
            ("receptiveness", j.receptiveness),
            ("fluency", j.fluency),
            ("coherence", j.coherence),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| format!("{n} {}", fmt_value(Some(v)))))
        .collect();
        let _ = writeln!(s, "  {name}: judgements: {}", parts.join(", "));
    }
}

/// Replays a workflow on the cached answers only (listing pairs never makes
/// a call); `command` is the run that asked them.
fn replay_cached(
    mut wf: crate::workflow::Workflow,
    session: &LlmSession,
    command: &str,
) -> Result<crate::workflow::Workflow, Failure> {
    while let Some(stage) = wf.next_stage() {
        let (answers, lacking) = crate::llm::engine::cached_answers(
            &stage.plan,
            &stage.dataset,
            stage.opts,
            &session.mc,
            &session.cache,
        );
        let asked = stage.plan.len() as u64;
        if asked > 0 && lacking == asked {
            return Err(data_error(format!(
                "no {} answer of {} is in the cache {}; run `profile {command}` with the same \
                 flags first",
                stage.what,
                session.mc.model,
                session.cache.path().display(),
            )));
        }
        if lacking > 0 && !session.quiet {
            eprintln!(
                "note: {lacking} of {asked} {} questions have no cached answer (failed or not \
                 run): their pairs count as missing",
                stage.what
            );
        }
        wf.answered(answers, &crate::llm::engine::RunStats::default(), &[]);
    }
    Ok(wf)
}

fn fmt_value(v: Option<f64>) -> String {
    match v {
        None => "none".into(),
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.3}"),
    }
}
