//! What a question asks of a model, dispatched per family
//! ([`Question`]): its prompt, the texts its cache key covers, and its reply
//! parsed into an answer. Factor questions are served by [`super::extract`],
//! judges and writers by [`super::roles`]; neither of those modules calls
//! the other.

use super::extract::{self, ExtractOptions};
use super::parse::ParseError;
use super::provider::Completion;
use super::question::{Answer, Answers, Question};
use super::roles;
use super::Prompt;
use crate::data::Dataset;

/// The prompt for a question, given the answers of the first stage. `None`
/// when a fact check has nothing to check (its values are known without a
/// call: no facts, a share of 0) or its facts are not known.
pub fn prompt(
    q: &Question,
    ds: &Dataset,
    answers: &Answers,
    opts: ExtractOptions,
) -> Option<Prompt> {
    match q {
        Question::Factor(f) => extract::prompt(f, ds, answers, opts),
        Question::Judge(j) => Some(roles::judge_prompt(j, ds)),
        Question::Generate(g) => Some(roles::generate_prompt(g, ds)),
        Question::Improve(i) => Some(roles::improve_prompt(i, ds)),
    }
}

/// Parses a completion into the answer to a question (see
/// [`extract::parse_reply`] for the factor questions' log-probabilities).
pub fn parse_reply(
    q: &Question,
    c: &Completion,
    answers: &Answers,
    opts: ExtractOptions,
) -> Result<Answer, ParseError> {
    match q {
        Question::Factor(f) => extract::parse_reply(f, c, answers, opts),
        Question::Judge(_) => roles::parse_verdict(&c.text),
        Question::Generate(_) => roles::parse_generations(&c.text),
        Question::Improve(i) => roles::parse_improve(i, &c.text),
    }
}

/// The texts a question's cache key covers (besides the template and model):
/// everything its prompt is built from (see [`extract::key_texts`] for the
/// descriptors of the combined factor questions).
pub fn key_texts(q: &Question, ds: &Dataset, answers: &Answers) -> Vec<String> {
    match q {
        Question::Factor(f) => extract::key_texts(f, ds, answers),
        Question::Judge(j) => roles::judge_key_texts(j, ds),
        Question::Generate(g) => roles::generate_key_texts(g, ds),
        Question::Improve(i) => roles::improve_key_texts(i, ds),
    }
}
