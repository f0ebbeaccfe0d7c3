//! Prices per million tokens, prefilled for common models so a run can be
//! costed before it starts. Each provider's module holds its own table
//! (`provider::openai::PRICES`, …); they are list prices as the tables were
//! written and change often: every price can be overridden (`--price-in`,
//! `--price-out` on the command line).

use serde::{Deserialize, Serialize};

use super::provider::{anthropic, gemini, openai, Provider};

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

/// The prefilled price of a model, if a provider's table knows it
/// ([`openai::PRICES`], [`anthropic::PRICES`], [`gemini::PRICES`]; the
/// longest matching model id prefix wins, whichever the provider). Local
/// servers (`openai-compatible`) cost nothing unless a price is given.
pub fn price_of(provider: &str, model: &str) -> Option<Price> {
    if provider == Provider::OpenAiCompatible.id() {
        let (input_per_m, output_per_m) = openai::COMPATIBLE_PRICE;
        return Some(Price {
            input_per_m,
            output_per_m,
        });
    }
    let m = model.trim_start_matches("models/").to_ascii_lowercase();
    [openai::PRICES, anthropic::PRICES, gemini::PRICES]
        .into_iter()
        .flatten()
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
