//! Stage memos: what a plan's run settled, kept so that a re-run of the
//! same plan over the same cache does no work (issue 12.9).
//!
//! A run over a full cache still plans, keys every question (digesting every
//! text), parses every cache line and decodes every stored answer. A stage
//! memo skips all of that: when a plan's run settles every question (no
//! failure, nothing unstored, not stopped), its answers are written once in
//! a compact binary form under a digest of everything that decides them
//! ([`key`]): the memo format, the build (`build`: a new binary may ask
//! other prompts), the model configuration, the extraction options, the
//! plan's questions in order and every text of the dataset. A re-run of
//! the same plan reads that one file and decodes it: one allocation per
//! string and per boxed answer, the answer map and the slot map sized once
//! (`cargo bench --bench llm -- memo` shows where a memo re-run's time
//! goes).
//!
//! The answers a memo holds are those the cache holds under the questions'
//! keys, and cache entries are only ever appended; the cache that keeps the
//! memos ([`super::threads::DiskCache`]) drops them when its file changed
//! in any other way. A memo that does not decode (torn, corrupted, of
//! another plan) is a miss, never an error.

use super::cache::{Digest, KeyHasher};
use super::engine::RunStats;
use super::extract::ExtractOptions;
use super::provider::ModelConfig;
use super::question::{Answer, Answers, FactChecks, Judgements, Plan, Verdict};
use crate::data::Dataset;

/// The version of the memo layout and key: a change makes every memo a miss.
const FORMAT: &str = "profile-stage-memo/1";
const MAGIC: &[u8; 8] = b"PMEMO\x01\n\0";

/// Feeds `std::hash::Hash` output into a [`KeyHasher`].
struct Feed<'a>(&'a mut KeyHasher);

impl std::hash::Hasher for Feed<'_> {
    fn finish(&self) -> u64 {
        self.0.finish()[0]
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.bytes(bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0.u64(n);
    }
}

/// The memo key of `plan` asked of `cfg` on `ds` with `opts`, by the
/// binary `build` (anything that tells builds apart; a new build is a new
/// key). Each text of the dataset is digested once.
pub fn key(
    plan: &Plan,
    ds: &Dataset,
    opts: ExtractOptions,
    cfg: &ModelConfig,
    build: &str,
) -> Digest {
    use std::hash::Hash as _;
    let mut h = KeyHasher::new();
    h.str(FORMAT)
        .str(build)
        .str(&format!("{cfg:?}"))
        .str(&format!("{opts:?}"));
    h.u64(plan.first.len() as u64).u64(plan.second.len() as u64);
    {
        let mut feed = Feed(&mut h);
        for q in plan.first.iter().chain(&plan.second) {
            q.hash(&mut feed);
        }
    }
    let mut texts = KeyHasher::new();
    let mut n = 0u64;
    for (_, t) in ds.texts.iter() {
        texts.str(t);
        n += 1;
    }
    h.u64(n).digest(texts.finish());
    h.finish()
}

/// The file name of a memo key: 32 hex digits.
pub fn file_name(key: &Digest) -> String {
    format!("{:016x}{:016x}.bin", key[0], key[1])
}

/// Whether a settled run may be kept as a memo: every question answered or
/// skipped, nothing failed, unstored, stopped or cancelled.
pub fn keepable(stats: &RunStats) -> bool {
    stats.failed == 0
        && !stats.cancelled
        && stats.stopped.is_none()
        && stats.not_stored.is_empty()
        && !stats.cap_reached
        && stats.settled() == stats.questions
}

/// The memo of a settled run of `plan`: its answers by question index
/// (first stage, then second), the questions skipped and the templates.
pub fn encode(plan: &Plan, answers: &Answers, stats: &RunStats) -> Vec<u8> {
    let mut body = Vec::new();
    put_u64(&mut body, plan.len() as u64);
    put_u64(&mut body, stats.skipped_empty);
    put_u64(&mut body, stats.templates.len() as u64);
    for t in &stats.templates {
        put_str(&mut body, t);
    }
    let held: Vec<(usize, &Answer)> = plan
        .first
        .iter()
        .chain(&plan.second)
        .enumerate()
        .filter_map(|(i, q)| answers.get(q).map(|a| (i, a)))
        .collect();
    put_u64(&mut body, held.len() as u64);
    for (i, a) in held {
        put_u64(&mut body, i as u64);
        put_answer(&mut body, a);
    }
    let sum = KeyHasher::new().bytes(&body).finish();
    let mut out = Vec::with_capacity(body.len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&sum[0].to_le_bytes());
    out.extend_from_slice(&sum[1].to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The answers and the statistics of a re-run of `plan` over a full cache
/// (every answered question a cache hit), from a memo; `None` when `bytes`
/// are not a whole, intact memo of a plan of this size.
pub fn decode(bytes: &[u8], plan: &Plan) -> Option<(Answers, RunStats)> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let (sum, body) = (rest.get(..16)?, rest.get(16..)?);
    let want = KeyHasher::new().bytes(body).finish();
    if sum[..8] != want[0].to_le_bytes() || sum[8..] != want[1].to_le_bytes() {
        return None;
    }
    let mut r = Reader(body);
    if r.u64()? != plan.len() as u64 {
        return None;
    }
    let skipped_empty = r.u64()?;
    let mut templates = std::collections::BTreeSet::new();
    for _ in 0..r.count()? {
        templates.insert(r.string()?);
    }
    let held = r.count()?;
    let questions: Vec<_> = plan.first.iter().chain(&plan.second).collect();
    let mut answers = Answers::default();
    answers.reserve(held, questions.iter().copied());
    for _ in 0..held {
        let q = **questions.get(usize::try_from(r.u64()?).ok()?)?;
        answers.insert(q, r.answer()?);
    }
    if !r.0.is_empty() || held as u64 + skipped_empty != plan.len() as u64 {
        return None;
    }
    let stats = RunStats {
        questions: plan.len() as u64,
        cache_hits: held as u64,
        skipped_empty,
        templates,
        ..RunStats::default()
    };
    Some((answers, stats))
}

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u64(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_strs(out: &mut Vec<u8>, v: &[String]) {
    put_u64(out, v.len() as u64);
    for s in v {
        put_str(out, s);
    }
}

fn put_f64(out: &mut Vec<u8>, x: Option<f64>) {
    match x {
        None => out.push(0),
        Some(x) => {
            out.push(1);
            put_u64(out, x.to_bits());
        }
    }
}

fn put_bools(out: &mut Vec<u8>, v: &Option<Vec<bool>>) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put_u64(out, v.len() as u64);
            out.extend(v.iter().map(|&b| u8::from(b)));
        }
    }
}

fn put_answer(out: &mut Vec<u8>, a: &Answer) {
    match a {
        Answer::Facts(f) => {
            out.push(0);
            put_strs(out, f);
        }
        Answer::Judgements { judgements: j } => {
            out.push(1);
            for x in [
                j.intent_alignment,
                j.formality_alignment,
                j.receptiveness,
                j.fluency,
                j.coherence,
            ] {
                put_f64(out, x);
            }
        }
        Answer::FactChecks { fact_checks: c } => {
            out.push(2);
            for v in [
                &c.supported,
                &c.main_focus,
                &c.helpful_extra,
                &c.misleading,
                &c.covered,
            ] {
                put_bools(out, v);
            }
        }
        Answer::Verdict { verdict } => {
            out.push(3);
            put_str(out, &verdict.better);
            put_str(out, &verdict.justification);
        }
        Answer::Generations { generations } => {
            out.push(4);
            put_strs(out, generations);
        }
        Answer::Custom { custom } => {
            out.push(5);
            put_f64(out, Some(*custom));
        }
    }
}

/// Reads a memo's body; every read is checked (`None` past the end).
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A count of items of at least one byte each: never more than the
    /// bytes left (a corrupted count cannot allocate past the file).
    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        (n <= self.0.len()).then_some(n)
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.u64()?).ok()?;
        std::str::from_utf8(self.take(n)?).ok().map(str::to_owned)
    }
    fn strings(&mut self) -> Option<Vec<String>> {
        let n = self.count()?;
        (0..n).map(|_| self.string()).collect()
    }
    fn f64(&mut self) -> Option<Option<f64>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(f64::from_bits(self.u64()?))),
            _ => None,
        }
    }
    fn bools(&mut self) -> Option<Option<Vec<bool>>> {
        match self.byte()? {
            0 => Some(None),
            1 => {
                let n = self.count()?;
                let v = self.take(n)?;
                v.iter()
                    .all(|&b| b <= 1)
                    .then(|| Some(v.iter().map(|&b| b == 1).collect()))
            }
            _ => None,
        }
    }
    fn answer(&mut self) -> Option<Answer> {
        Some(match self.byte()? {
            0 => Answer::Facts(self.strings()?),
            1 => Answer::Judgements {
                judgements: Box::new(Judgements {
                    intent_alignment: self.f64()?,
                    formality_alignment: self.f64()?,
                    receptiveness: self.f64()?,
                    fluency: self.f64()?,
                    coherence: self.f64()?,
                }),
            },
            2 => Answer::FactChecks {
                fact_checks: Box::new(FactChecks {
                    supported: self.bools()?,
                    main_focus: self.bools()?,
                    helpful_extra: self.bools()?,
                    misleading: self.bools()?,
                    covered: self.bools()?,
                }),
            },
            3 => Answer::Verdict {
                verdict: Verdict {
                    better: self.string()?,
                    justification: self.string()?,
                },
            },
            4 => Answer::Generations {
                generations: self.strings()?,
            },
            5 => Answer::Custom {
                custom: self.f64()??,
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{load_bytes, FormatOptions};
    use crate::llm::question::Question;

    fn plan_and_answers() -> (Dataset, Plan, Answers) {
        let text = concat!(
            r#"{"input": "q", "source": "s one. s two.", "response_a": "a one.", "response_b": "b one. b two.", "preference": "a"}"#,
            "\n"
        );
        let ds = load_bytes(text.as_bytes(), FormatOptions::default()).expect("loads");
        let plan = crate::llm::roles::judge_plan(
            &ds,
            crate::factors::Task::Summarization,
            crate::llm::roles::JudgeOrder::Both,
        );
        let mut answers = Answers::default();
        let kinds = [
            Answer::Verdict {
                verdict: Verdict {
                    better: "1".into(),
                    justification: "é\n\"".into(),
                },
            },
            Answer::Facts(vec!["x".into(), String::new()]),
            Answer::Judgements {
                judgements: Box::new(Judgements {
                    fluency: Some(0.25),
                    coherence: Some(f64::MIN_POSITIVE),
                    ..Default::default()
                }),
            },
            Answer::FactChecks {
                fact_checks: Box::new(FactChecks {
                    supported: Some(vec![true, false]),
                    covered: Some(Vec::new()),
                    ..Default::default()
                }),
            },
            Answer::Generations {
                generations: vec!["g".into(); 5],
            },
        ];
        let qs: Vec<Question> = plan.first.iter().chain(&plan.second).copied().collect();
        for (i, q) in qs.iter().enumerate() {
            answers.insert(*q, kinds[i % kinds.len()].clone());
        }
        (ds, plan, answers)
    }

    fn settled(plan: &Plan) -> RunStats {
        RunStats {
            questions: plan.len() as u64,
            succeeded: plan.len() as u64,
            templates: ["judge@3".to_owned()].into_iter().collect(),
            ..RunStats::default()
        }
    }

    #[test]
    fn a_memo_decodes_to_the_answers_it_was_made_of() {
        let (_, plan, answers) = plan_and_answers();
        assert!(plan.len() >= 2);
        let bytes = encode(&plan, &answers, &settled(&plan));
        let (back, stats) = decode(&bytes, &plan).expect("decodes");
        for q in plan.first.iter().chain(&plan.second) {
            assert_eq!(back.get(q), answers.get(q));
        }
        assert_eq!(stats.cache_hits, plan.len() as u64);
        assert_eq!(stats.questions, plan.len() as u64);
        assert!(stats.templates.contains("judge@3"));
    }

    #[test]
    fn a_decoded_extraction_memo_fills_every_slot_of_the_plan() {
        let (ds, _, _) = plan_and_answers();
        let task = crate::factors::Task::Summarization;
        let opts = ExtractOptions {
            logprobs: true,
            summaries: true,
        };
        let plan = Plan::new(&ds, task.factors(), opts);
        let kinds = [
            Answer::Facts(vec!["f".into()]),
            Answer::Judgements {
                judgements: Box::new(Judgements {
                    fluency: Some(0.5),
                    ..Default::default()
                }),
            },
            Answer::FactChecks {
                fact_checks: Box::new(FactChecks {
                    supported: Some(vec![true]),
                    ..Default::default()
                }),
            },
        ];
        let mut answers = Answers::default();
        let qs: Vec<Question> = plan.first.iter().chain(&plan.second).copied().collect();
        let mut slots = Vec::new();
        for (i, q) in qs.iter().enumerate() {
            answers.insert(*q, kinds[i % kinds.len()].clone());
            if let Question::Factor(f) = q {
                f.each_slot(|s| slots.push(s));
            }
        }
        assert!(!slots.is_empty(), "the plan fills slots");
        let bytes = encode(&plan, &answers, &settled(&plan));
        let (back, _) = decode(&bytes, &plan).expect("decodes");
        for s in &slots {
            assert!(answers.at(s).is_some());
            assert_eq!(back.at(s), answers.at(s), "{s:?}");
        }
    }

    #[test]
    fn a_damaged_memo_is_a_miss_never_a_panic() {
        let (_, plan, answers) = plan_and_answers();
        let bytes = encode(&plan, &answers, &settled(&plan));
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n], &plan).is_none(), "cut at {n}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x41;
            assert!(decode(&b, &plan).is_none(), "byte {i} flipped");
        }
        let other = Plan {
            first: plan.first[..1].to_vec(),
            ..Plan::default()
        };
        assert!(decode(&bytes, &other).is_none(), "a memo of another plan");
    }

    #[test]
    fn the_key_follows_the_texts_the_model_and_the_build() {
        let (ds, plan, _) = plan_and_answers();
        let cfg = ModelConfig::new(crate::llm::provider::Provider::OpenAi, "m");
        let opts = ExtractOptions::default();
        let k = key(&plan, &ds, opts, &cfg, "b1");
        assert_eq!(k, key(&plan, &ds, opts, &cfg, "b1"));
        assert_ne!(k, key(&plan, &ds, opts, &cfg, "b2"));
        let other = ModelConfig::new(crate::llm::provider::Provider::OpenAi, "n");
        assert_ne!(k, key(&plan, &ds, opts, &other, "b1"));
        let text = r#"{"input": "q", "source": "s one. s two.", "response_a": "a one!", "response_b": "b one. b two.", "preference": "a"}"#;
        let ds2 = load_bytes(text.as_bytes(), FormatOptions::default()).expect("loads");
        assert_ne!(k, key(&plan, &ds2, opts, &cfg, "b1"));
    }
}
