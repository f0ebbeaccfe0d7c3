//! What a question asks of a model, dispatched per family
//! ([`Question`]): its prompt, the texts its cache key covers, and its reply
//! parsed into an answer. Factor questions are served by [`super::extract`],
//! judges and writers by [`super::roles`]; neither of those modules calls
//! the other.

use super::cache::{KeyHasher, TextDigests};
use super::extract::{self, ExtractOptions};
use super::parse::ParseError;
use super::prompts::Template;
use super::provider::Completion;
use super::question::{Answer, Answers, Question};
use super::roles;
use super::Prompt;
use crate::data::Dataset;

/// What a question's prompt would be, known without rendering it: its
/// template and whether it wants log-probabilities (equal to the rendered
/// [`Prompt`]'s `template_id()` and `want_logprobs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PromptKind {
    pub template: Template,
    pub want_logprobs: bool,
}

/// The kind of the prompt [`prompt`] would render for a question; `None`
/// exactly when [`prompt`] gives `None` (nothing to ask).
pub fn template(q: &Question, answers: &Answers, opts: ExtractOptions) -> Option<PromptKind> {
    match q {
        Question::Factor(f) => extract::template(f, answers, opts),
        Question::Judge(j) => Some(roles::judge_template(j)),
        Question::Generate(g) => Some(roles::generate_template(g)),
        Question::Improve(i) => Some(roles::improve_template(i)),
    }
}

/// Feeds what a question asks into a version-2 cache key (see
/// [`super::cache`]): the same information as [`key_texts`], with every
/// text as its digest (computed once per text in `digests`).
pub fn key_fields(
    q: &Question,
    ds: &Dataset,
    answers: &Answers,
    digests: &mut TextDigests,
    h: &mut KeyHasher,
) {
    match q {
        Question::Factor(f) => extract::key_fields(f, ds, answers, digests, h),
        Question::Judge(j) => roles::judge_key_fields(j, ds, digests, h),
        Question::Generate(g) => roles::generate_key_fields(g, ds, digests, h),
        Question::Improve(i) => roles::improve_key_fields(i, ds, digests, h),
    }
}

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
