//! Extraction speed of custom factors (factor packs) against the built-in
//! `length` on SummEval: `RuleExtractor::prepare` over every pair's two
//! responses with a fresh extractor (each unique text once), median of 7
//! runs. Run: `cargo bench --bench factor_pack`.

use std::time::Instant;

use profile::data::{load_reader, FormatOptions};
use profile::factors::pack::{register, FactorPack};
use profile::factors::rules::RuleExtractor;
use profile::factors::Factor;

const SUMMEVAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/summeval/summeval.jsonl"
);

const PACK: &str = r#"{"factors": [
  {"id": "words_re", "name": "words (regex)", "kind": "regex_count", "pattern": "\\w+"},
  {"id": "tokens_re", "name": "tokens (regex)", "kind": "regex_count", "pattern": "\\S+"},
  {"id": "numbers_per_word", "name": "numbers per word", "kind": "regex_share", "pattern": "[0-9]+"},
  {"id": "hedges", "name": "hedges", "kind": "word_list_count", "words": ["maybe", "perhaps", "might", "could", "seem", "likely"], "stem": true}
]}"#;

fn main() {
    let Ok(file) = std::fs::File::open(SUMMEVAL) else {
        eprintln!("{SUMMEVAL} not found: nothing measured");
        std::process::exit(1);
    };
    let ds =
        load_reader(std::io::BufReader::new(file), FormatOptions::default()).expect("SummEval");
    let pack = FactorPack::parse(PACK).expect("the bench's pack");
    let custom = register(&pack).expect("registered");
    let items: Vec<_> = ds
        .pairs
        .iter()
        .flat_map(|p| [(p.a, p.context()), (p.b, p.context())])
        .collect();
    let unique: std::collections::HashSet<_> = items.iter().map(|(r, _)| *r).collect();
    let bytes: usize = unique.iter().map(|&t| ds.texts.get(t).len()).sum();
    println!(
        "SummEval: {} pairs, {} unique responses, {:.2} MB of response text",
        ds.pairs.len(),
        unique.len(),
        bytes as f64 / 1e6
    );
    println!("{:<18} {:>10} {:>12}", "factor", "median ms", "MB/s");
    for f in std::iter::once(Factor::Length).chain(custom) {
        let mut times: Vec<f64> = (0..7)
            .map(|_| {
                let mut rules = RuleExtractor::new();
                let t = Instant::now();
                rules.prepare(&ds.texts, &[f], items.iter().copied());
                let ms = t.elapsed().as_secs_f64() * 1e3;
                std::hint::black_box(rules.value(f, &ds.texts, items[0].0, items[0].1));
                ms
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[3];
        println!(
            "{:<18} {:>10.2} {:>12.0}",
            f.id(),
            median,
            bytes as f64 / 1e6 / (median / 1e3)
        );
    }
}
