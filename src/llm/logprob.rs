//! Log-probability maths on a reply's token alternatives: UniEval's
//! P(yes) / (P(yes) + P(no)) at the first token ([`p_yes`]) or at every
//! answer position of a multi-answer reply ([`p_yes_per_answer`]), and the
//! rough token counts behind cost estimates ([`estimate_tokens`],
//! [`estimate_prompt_tokens`]). Independent of the provider: each wire format
//! ([`provider`](super::provider)) reads its logprobs into the same
//! `(token, natural log-probability)` lists of a
//! [`Completion`](super::provider::Completion).

use super::Prompt;

/// P(yes) / (P(yes) + P(no)) from the alternatives of the first generated
/// token (UniEval's score, METHOD.md §6).
///
/// A token counts as "yes" or "no" when, after removing surrounding
/// whitespace, the tokenizer's word markers `▁` and `Ġ`, and surrounding
/// ASCII punctuation (quotes, `*`, `.`, …), it equals `yes` or `no`
/// ignoring case; the probabilities of all variants (`Yes`, ` yes`, `YES`,
/// …) are summed. Non-finite or NaN log-probabilities count as zero
/// probability. `None` when neither answer is among the alternatives. An
/// answer missing from the top alternatives contributes nothing, so one
/// present alone gives 0 or 1.
pub fn p_yes(first_token_logprobs: &[(String, f64)]) -> Option<f64> {
    let (yes, no) = yes_no_mass(first_token_logprobs);
    let total = yes + no;
    (total > 0.0).then(|| yes / total)
}

/// P(yes) / (P(yes) + P(no)) at every *answer position* of a reply, in
/// reply order: for replies that give several bare yes/no answers in a row
/// (`fluency_coherence@1` answers "yes no"), element `k` scores the
/// `k`-th answer. `token_logprobs` holds each generated position's top
/// alternatives ([`Completion::token_logprobs`](super::provider::Completion::token_logprobs)).
///
/// A position is an answer position when its yes and no alternatives
/// (every variant, counted as in [`p_yes`]) together hold at least half of
/// the probability: the model is answering there, whichever word it
/// sampled. Separators (spaces, line breaks, commas) and other words hold
/// next to none, so they are skipped. The result is shorter than the number
/// of answers asked when the model was unsure whether to answer at some
/// position; callers should then not trust the alignment and fall back to
/// the reply's words.
pub fn p_yes_per_answer(token_logprobs: &[Vec<(String, f64)>]) -> Vec<f64> {
    token_logprobs
        .iter()
        .filter_map(|alts| {
            let (yes, no) = yes_no_mass(alts);
            (yes + no >= 0.5).then(|| yes / (yes + no))
        })
        .collect()
}

/// P(yes)/(P(yes)+P(no)) at the `k`-th (0-based) answer position of a reply
/// ([`p_yes_per_answer`]), if there is one.
pub fn p_yes_at_answer(token_logprobs: &[Vec<(String, f64)>], k: usize) -> Option<f64> {
    p_yes_per_answer(token_logprobs).get(k).copied()
}

/// The expected rating Σ k·P(k) / Σ P(k) over the digits 1..5 among the
/// alternatives of the first generated token (`custom_rating@1`); tokens
/// are normalised as in [`p_yes`]. `None` when no digit 1..5 is among
/// them.
pub fn expected_rating(first_token_logprobs: &[(String, f64)]) -> Option<f64> {
    let (mut mass, mut sum) = (0.0_f64, 0.0_f64);
    for (token, logprob) in first_token_logprobs {
        let p = if logprob.is_nan() { 0.0 } else { logprob.exp() };
        if !p.is_finite() {
            continue;
        }
        if let Ok(k @ 1..=5) = normalise_answer_token(token).parse::<u8>() {
            mass += p;
            sum += p * f64::from(k);
        }
    }
    (mass > 0.0).then(|| sum / mass)
}

/// The summed probabilities of the yes and the no variants among `alts`.
fn yes_no_mass(alts: &[(String, f64)]) -> (f64, f64) {
    let (mut yes, mut no) = (0.0_f64, 0.0_f64);
    for (token, logprob) in alts {
        let p = if logprob.is_nan() { 0.0 } else { logprob.exp() };
        if !p.is_finite() {
            continue;
        }
        match normalise_answer_token(token).as_str() {
            "yes" => yes += p,
            "no" => no += p,
            _ => {}
        }
    }
    (yes, no)
}

fn normalise_answer_token(token: &str) -> String {
    token
        .trim_matches(|c: char| {
            c.is_whitespace() || c == '▁' || c == 'Ġ' || c.is_ascii_punctuation()
        })
        .to_lowercase()
}

/// A rough token count for cost estimates: the number of characters
/// (Unicode scalar values) divided by four, rounded up. English text
/// averages about four characters per token with current tokenizers; text
/// in scripts such as Chinese or Japanese has closer to one token per
/// character, so this underestimates it.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// [`estimate_tokens`] for everything a request sends: system, user and the
/// serialised schema, plus 10 tokens of per-message overhead.
pub fn estimate_prompt_tokens(prompt: &Prompt) -> u64 {
    let schema = prompt
        .schema
        .as_ref()
        .map(|s| estimate_tokens(&s.to_string()))
        .unwrap_or(0);
    estimate_tokens(&prompt.system) + estimate_tokens(&prompt.user) + schema + 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_rating_weighs_the_digits() {
        let alts = |xs: &[(&str, f64)]| -> Vec<(String, f64)> {
            xs.iter().map(|(t, p)| (t.to_string(), p.ln())).collect()
        };
        let e = expected_rating(&alts(&[
            ("4", 0.5),
            (" 2", 0.25),
            ("The", 0.2),
            ("5", 0.05),
        ]))
        .unwrap();
        assert!(
            (e - (4.0 * 0.5 + 2.0 * 0.25 + 5.0 * 0.05) / 0.8).abs() < 1e-12,
            "{e}"
        );
        assert_eq!(expected_rating(&alts(&[("6", 0.9), ("yes", 0.1)])), None);
        assert_eq!(expected_rating(&alts(&[("3", 1.0)])), Some(3.0));
    }

    #[test]
    fn answer_tokens() {
        for t in [
            "Yes", " yes", "YES", "▁Yes", "ĠYes", "\"yes", "Yes.", "**Yes**",
        ] {
            assert_eq!(normalise_answer_token(t), "yes", "{t:?}");
        }
        assert_eq!(normalise_answer_token("Yeah"), "yeah");
        assert_eq!(normalise_answer_token(" No,"), "no");
    }
}
