//! Prices per million tokens, prefilled for common models so a run can be
//! costed before it starts. They are list prices as this table was written
//! and change often: every price can be overridden (`--price-in`,
//! `--price-out` on the command line).

use serde::{Deserialize, Serialize};

/// US dollars per million input and output tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input_per_m: f64,
    pub output_per_m: f64,
}

impl Price {
    /// The cost of a number of tokens.
    pub fn cost(&self, input_tokens: f64, output_tokens: f64) -> f64 {
        (input_tokens * self.input_per_m + output_tokens * self.output_per_m) / 1e6
    }
}

/// (model id prefix, input $/M, output $/M); the longest matching prefix wins.
const TABLE: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-5-mini", 0.25, 2.00),
    ("gpt-5", 1.25, 10.00),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-haiku-4", 1.00, 5.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-opus-4", 15.00, 75.00),
    ("gemini-2.0-flash", 0.10, 0.40),
    ("gemini-2.5-flash-lite", 0.10, 0.40),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("gemini-2.5-pro", 1.25, 10.00),
];

/// The prefilled price of a model, if the table knows it. Local servers
/// (`openai-compatible`) cost nothing unless a price is given.
pub fn price_of(provider: &str, model: &str) -> Option<Price> {
    if provider == "openai-compatible" {
        return Some(Price {
            input_per_m: 0.0,
            output_per_m: 0.0,
        });
    }
    let m = model.trim_start_matches("models/").to_ascii_lowercase();
    TABLE
        .iter()
        .filter(|(p, ..)| m.starts_with(p))
        .max_by_key(|(p, ..)| p.len())
        .map(|&(_, i, o)| Price {
            input_per_m: i,
            output_per_m: o,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        assert_eq!(
            price_of("openai", "gpt-4o-mini-2024-07-18")
                .unwrap()
                .input_per_m,
            0.15
        );
        assert_eq!(price_of("openai", "gpt-4o").unwrap().input_per_m, 2.50);
        assert_eq!(
            price_of("gemini", "models/gemini-2.5-flash-lite")
                .unwrap()
                .output_per_m,
            0.40
        );
        assert_eq!(price_of("openai", "unknown"), None);
        assert_eq!(
            price_of("openai-compatible", "anything")
                .unwrap()
                .cost(1e6, 1e6),
            0.0
        );
        assert!(
            (Price {
                input_per_m: 1.0,
                output_per_m: 2.0
            }
            .cost(500_000.0, 250_000.0)
                - 1.0)
                .abs()
                < 1e-12
        );
    }
}
