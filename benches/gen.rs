//! A seeded generator of realistic canonical PROFILE JSONL files for the
//! benchmark (`{"input", "source"?, "response_a", "response_b", "preference"}`).
//!
//! Shape (for `pairs` = 1,000,000): about 50k inputs (questions of 8–30
//! words), 30% of them with a source document of 80–300 words; each input has
//! a pool of 4–12 responses of 20–120 words, and 10–30 pairs drawn from that
//! pool, so every response appears in about five pairs (texts repeat across
//! pairs, as in real preference data). Words come from a Zipf-distributed
//! vocabulary of English function words and synthetic content words with
//! inflections (so the stemmer has real work), and responses borrow about a
//! third of their words from their input or source (so `novel_words` varies).
//! Punctuation, hyphenated compounds, quotes, digits, accented words and
//! newlines exercise the word rules and JSON escaping. Humans prefer the
//! longer response somewhat more often than not, and about 6% of pairs are
//! human ties (the loader drops and counts them).
//!
//! The generator keeps only the current input's pool in memory, and the same
//! seed always writes the same bytes.

use std::io::{BufWriter, Write};
use std::path::Path;

use profile::stats::Rng;

/// Bump when the generated content changes, so cached files are not reused.
pub const GEN_VERSION: u32 = 2;

/// What was written.
#[derive(Clone, Debug, Default)]
pub struct GenStats {
    pub pairs: u64,
    pub inputs: u64,
    pub responses: u64,
    pub human_ties: u64,
    pub bytes: u64,
    pub prefix_pairs: u64,
    pub prefix_bytes: u64,
}

const FUNCTION_WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "that",
    "it",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "be",
    "this",
    "by",
    "at",
    "from",
    "they",
    "have",
    "not",
    "but",
    "or",
    "an",
    "which",
    "one",
    "you",
    "were",
    "all",
    "we",
    "their",
    "can",
    "has",
    "more",
    "there",
    "been",
    "would",
    "if",
    "so",
    "what",
    "about",
    "when",
    "who",
    "will",
    "don't",
    "it's",
    "also",
    "into",
    "than",
    "its",
    "some",
    "these",
    "other",
    "could",
    "only",
    "then",
    "them",
    "may",
    "should",
    "because",
    "most",
    "very",
    "many",
    "such",
    "however",
    "between",
    "after",
    "before",
    "where",
    "while",
    "people",
    "time",
    "year",
    "years",
    "said",
    "says",
    "make",
    "made",
    "first",
    "new",
    "way",
    "work",
    "working",
    "worked",
    "well",
    "good",
    "important",
    "different",
    "following",
    "example",
    "answer",
    "question",
    "information",
    "however,",
    "also,",
    "generally",
    "usually",
    "often",
    "using",
    "used",
    "uses",
    "help",
    "helps",
    "helpful",
    "think",
    "thinking",
    "know",
    "known",
    "knowing",
    "example,",
    "running",
    "runs",
    "ran",
];

const ONSETS: &[&str] = &[
    "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "b", "c", "d", "l",
    "m", "p", "r", "s", "t", "br", "st", "tr", "pl", "sh", "ch", "th", "", "",
];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "a", "e", "i", "o", "ea", "ou", "y"];
const CODAS: &[&str] = &[
    "", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng",
];
const SUFFIXES: &[&str] = &[
    "", "s", "ed", "ing", "er", "ers", "ly", "ation", "ations", "ness", "ment", "ments", "ful",
    "ive", "ity", "ies", "able", "ize", "izes", "ized",
];
const ACCENTED: &[&str] = &["café", "naïve", "résumé", "São", "Zürich", "façade", "über"];

/// A Zipf-distributed vocabulary.
struct Vocab {
    words: Vec<String>,
    cdf: Vec<f64>,
}

impl Vocab {
    fn new(rng: &mut Rng, n_bases: usize) -> Self {
        let mut words: Vec<String> = FUNCTION_WORDS.iter().map(|w| (*w).to_owned()).collect();
        let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
        let pick = |rng: &mut Rng, xs: &[&'static str]| xs[rng.below(xs.len() as u64) as usize];
        while words.len() < FUNCTION_WORDS.len() + n_bases * 2 {
            // Mostly short words, as in English (mean ~4.8 letters overall).
            let syllables = match rng.below(10) {
                0..=4 => 1,
                5..=8 => 2,
                _ => 3,
            };
            let mut base = String::new();
            for _ in 0..syllables {
                base.push_str(pick(rng, ONSETS));
                base.push_str(pick(rng, VOWELS));
                base.push_str(pick(rng, CODAS));
            }
            if base.len() < 3 {
                continue;
            }
            // A base with one to four inflected forms, which the stemmer folds.
            let forms = 1 + rng.below(4);
            for f in 0..forms {
                let suffix = if f == 0 { "" } else { pick(rng, SUFFIXES) };
                let w = format!("{base}{suffix}");
                if seen.insert(w.clone()) {
                    words.push(w);
                }
            }
        }
        let mut cdf = Vec::with_capacity(words.len());
        let mut acc = 0.0;
        for rank in 0..words.len() {
            acc += 1.0 / (rank as f64 + 2.7);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Vocab { words, cdf }
    }

    fn sample<'a>(&'a self, rng: &mut Rng) -> &'a str {
        let u = rng.unit();
        let i = self
            .cdf
            .partition_point(|&c| c < u)
            .min(self.words.len() - 1);
        &self.words[i]
    }
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A text of `n` words in sentences; each word is taken from `borrow` with
/// probability `p_borrow`, else from the vocabulary. Returns the text and its
/// plain words (for later borrowing).
fn text(
    rng: &mut Rng,
    vocab: &Vocab,
    n: usize,
    borrow: &[String],
    p_borrow: f64,
    end: char,
) -> (String, Vec<String>) {
    let mut out = String::with_capacity(n * 7);
    let mut plain = Vec::with_capacity(n);
    let mut sentence_left = 0u64;
    for i in 0..n {
        let start = sentence_left == 0;
        if start {
            sentence_left = 6 + rng.below(13);
            if i > 0 {
                out.push_str(if rng.unit() < 0.03 { "\n\n" } else { " " });
            }
        } else {
            out.push(' ');
        }
        let w: String = if !borrow.is_empty() && rng.unit() < p_borrow {
            borrow[rng.below(borrow.len() as u64) as usize].clone()
        } else {
            vocab.sample(rng).to_owned()
        };
        let r = rng.unit();
        let token = if r < 0.012 {
            format!("{w}-{}", vocab.sample(rng))
        } else if r < 0.018 {
            format!("\"{w}\"")
        } else if r < 0.022 {
            format!("{}.{}", rng.below(100), rng.below(10))
        } else if r < 0.025 {
            ACCENTED[rng.below(ACCENTED.len() as u64) as usize].to_owned()
        } else if r < 0.027 {
            format!("({w})")
        } else if start {
            capitalize(&w)
        } else {
            w.clone()
        };
        out.push_str(&token);
        plain.push(w);
        sentence_left -= 1;
        if sentence_left == 0 || i + 1 == n {
            out.push(if i + 1 == n { end } else { '.' });
        } else if rng.unit() < 0.06 {
            out.push(',');
        }
    }
    (out, plain)
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// Writes `pairs` pairs to `path`, and the first `prefix.1` of them also to
/// `prefix.0`. Both files are written under a temporary name and renamed when
/// complete.
pub fn generate(
    path: &Path,
    prefix: Option<(&Path, u64)>,
    pairs: u64,
    seed: u64,
) -> std::io::Result<GenStats> {
    let tmp = path.with_extension("jsonl.partial");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let mut pre = match prefix {
        Some((p, _)) => Some(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(p.with_extension("jsonl.partial"))?,
        )),
        None => None,
    };
    let prefix_n = prefix.map_or(0, |(_, n)| n);
    let mut rng = Rng::new(seed);
    let vocab = Vocab::new(&mut rng, 6000);
    let mut st = GenStats::default();
    let mut line = Vec::with_capacity(4096);
    while st.pairs < pairs {
        st.inputs += 1;
        let n_input = 8 + rng.below(23) as usize;
        let (input, input_words) = text(&mut rng, &vocab, n_input, &[], 0.0, '?');
        let source = (rng.unit() < 0.3).then(|| {
            let n = 80 + rng.below(221) as usize;
            text(&mut rng, &vocab, n, &input_words, 0.1, '.')
        });
        let context_words = source.as_ref().map_or(&input_words, |(_, w)| w);
        let k = 4 + rng.below(9) as usize;
        // (escaped JSON text, latent quality)
        let pool: Vec<(String, f64)> = (0..k)
            .map(|_| {
                let n = 20 + rng.below(101) as usize;
                let (t, _) = text(&mut rng, &vocab, n, context_words, 0.35, '.');
                let noise: f64 = (0..4).map(|_| rng.unit()).sum::<f64>() - 2.0;
                (json_str(&t), 0.01 * n as f64 + noise)
            })
            .collect();
        st.responses += k as u64;
        let head = {
            let mut h = format!("{{\"input\":{}", json_str(&input));
            if let Some((s, _)) = &source {
                h.push_str(",\"source\":");
                h.push_str(&json_str(s));
            }
            h
        };
        let m = (10 + rng.below(21)).min(pairs - st.pairs);
        for _ in 0..m {
            let i = rng.below(k as u64) as usize;
            let j = (i + 1 + rng.below(k as u64 - 1) as usize) % k;
            let (a, qa) = &pool[i];
            let (b, qb) = &pool[j];
            let preference = if rng.unit() < 0.06 {
                st.human_ties += 1;
                "tie"
            } else {
                let p_a = 1.0 / (1.0 + (-(qa - qb) * 1.5).exp());
                if rng.unit() < p_a {
                    "a"
                } else {
                    "b"
                }
            };
            line.clear();
            line.extend_from_slice(head.as_bytes());
            line.extend_from_slice(b",\"response_a\":");
            line.extend_from_slice(a.as_bytes());
            line.extend_from_slice(b",\"response_b\":");
            line.extend_from_slice(b.as_bytes());
            line.extend_from_slice(b",\"preference\":\"");
            line.extend_from_slice(preference.as_bytes());
            line.extend_from_slice(b"\"}\n");
            out.write_all(&line)?;
            st.bytes += line.len() as u64;
            if st.pairs < prefix_n {
                if let Some(p) = pre.as_mut() {
                    p.write_all(&line)?;
                    st.prefix_bytes += line.len() as u64;
                    st.prefix_pairs += 1;
                }
            }
            st.pairs += 1;
        }
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, path)?;
    if let (Some(mut p), Some((ppath, _))) = (pre, prefix) {
        p.flush()?;
        drop(p);
        std::fs::rename(ppath.with_extension("jsonl.partial"), ppath)?;
    }
    Ok(st)
}
