//! Flags: parsing, the option lists of each command, and the checked numeric fields.

use super::*;

/// Parsed flags: positional arguments and `--name value` / `--switch`.
pub(super) struct Flags {
    pub(super) positional: Vec<String>,
    pub(super) values: BTreeMap<String, String>,
    pub(super) switches: Vec<String>,
}

pub(super) fn parse_flags(
    args: &[String],
    with_value: &[&str],
    switches: &[&str],
) -> Result<Flags, Failure> {
    let mut f = Flags {
        positional: Vec::new(),
        values: BTreeMap::new(),
        switches: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (name, None),
            };
            if with_value.contains(&name) {
                let v = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| usage_error(format!("--{name} needs a value")))?,
                };
                f.values.insert(name.to_owned(), v);
            } else if switches.contains(&name) && inline.is_none() {
                f.switches.push(name.to_owned());
            } else {
                return Err(usage_error(format!("unknown option --{name}")));
            }
        } else {
            f.positional.push(a.clone());
        }
    }
    Ok(f)
}

pub(super) fn open_input(path: &str) -> Result<Box<dyn std::io::Read>, Failure> {
    if path == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    std::fs::File::open(path)
        .map(|f| Box::new(f) as Box<dyn std::io::Read>)
        .map_err(|e| data_error(format!("cannot open {path}: {e}")))
}

pub(super) fn parse_factors(list: &str) -> Result<Vec<Factor>, Failure> {
    if list.split(',').all(|s| s.trim().is_empty()) {
        return Err(usage_error(
            "--factors takes a comma-separated list of factor ids (see `profile factors`), not an empty one",
        ));
    }
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            Factor::from_id(s).ok_or_else(|| {
                let known: Vec<&str> = Factor::ALL.iter().map(|f| f.id()).collect();
                let hint = " (custom factors come from --factor-pack FILE)";
                usage_error(format!(
                    "unknown factor `{}`{hint}; known factors: {}",
                    s.trim(),
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// `--factor-pack FILE`: reads, checks and registers a factor pack; returns
/// its factors (their ids then parse in `--factors`).
pub(super) fn load_factor_pack(f: &Flags) -> Result<Option<Vec<Factor>>, Failure> {
    let Some(path) = f.values.get("factor-pack") else {
        return Ok(None);
    };
    let text = std::fs::read(path).map_err(|e| data_error(format!("cannot read {path}: {e}")))?;
    if text.len() > crate::factors::pack::MAX_PACK_BYTES {
        return Err(data_error(format!(
            "{path}: {} bytes, a factor pack has at most {}",
            text.len(),
            crate::factors::pack::MAX_PACK_BYTES
        )));
    }
    let text =
        String::from_utf8(text).map_err(|e| data_error(format!("{path}: not UTF-8 text ({e})")))?;
    let located = |errors: Vec<crate::factors::pack::PackError>| {
        let lines: Vec<String> = errors.iter().map(|e| format!("{path}: {e}")).collect();
        data_error(lines.join("\n"))
    };
    let pack = crate::factors::pack::FactorPack::parse(&text).map_err(located)?;
    crate::factors::pack::register(&pack)
        .map(Some)
        .map_err(located)
}

/// Options that only make sense with `--provider`.
pub(super) const PROVIDER_OPTIONS: [&str; 13] = [
    "provider",
    "model",
    "base-url",
    "limit",
    "concurrency",
    "rpm",
    "tpm",
    "timeout",
    "attempts",
    "cache-dir",
    "price-in",
    "price-out",
    "max-cost",
];

/// The options that read a dataset (every command that loads one).
pub(super) const DATA_OPTIONS: [&str; 7] = [
    "max-record-mb",
    "map",
    "task",
    "factors",
    "factor-pack",
    "format",
    "label",
];

/// The options `score`, `judge`, `generate` and the other studies share
/// beyond [`DATA_OPTIONS`].
pub(super) const STUDY_OPTIONS: [&str; 4] = ["bootstrap", "seed", "sample", "out"];

/// The flags of a study command: [`DATA_OPTIONS`], [`STUDY_OPTIONS`],
/// `extra` and [`PROVIDER_OPTIONS`] with a value; `--json`, `--quiet`,
/// `--no-logprobs`, `--estimate` and `switches` without.
pub(super) fn study_flags(
    args: &[String],
    extra: &[&str],
    switches: &[&str],
) -> Result<Flags, Failure> {
    let options: Vec<&str> = DATA_OPTIONS
        .into_iter()
        .chain(STUDY_OPTIONS)
        .chain(extra.iter().copied())
        .chain(PROVIDER_OPTIONS)
        .collect();
    let switches: Vec<&str> = ["json", "no-logprobs", "quiet", "estimate"]
        .into_iter()
        .chain(switches.iter().copied())
        .collect();
    parse_flags(args, &options, &switches)
}

/// `--sample N` (a seeded sample of N inputs with all their pairs, seeded
/// with `--seed`) or `--limit N` (the first N pairs).
pub(super) fn selection_flags(f: &Flags, seed: u64) -> Result<Selection, Failure> {
    match (parse_num::<usize>(f, "sample")?, parse_num::<usize>(f, "limit")?) {
        (Some(_), Some(_)) => Err(usage_error(
            "give --sample N (a seeded sample of N inputs) or --limit N (the first N pairs), not both",
        )),
        (Some(0), None) => Err(usage_error("--sample takes a number of inputs, at least 1")),
        (Some(n), None) => Ok(Selection::Inputs { n, seed }),
        (None, Some(n)) => Ok(Selection::FirstPairs { n }),
        (None, None) => Ok(Selection::All),
    }
}

/// A named option parsed by `parse`; an unknown value is a usage error that
/// says what is accepted.
pub(super) fn parse_named<T>(
    f: &Flags,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    accepted: impl Fn() -> String,
) -> Result<Option<T>, Failure> {
    f.values
        .get(name)
        .map(|v| {
            parse(v).ok_or_else(|| usage_error(format!("unknown {name} `{v}`; {}", accepted())))
        })
        .transpose()
}

pub(super) fn parse_num<T: std::str::FromStr>(f: &Flags, name: &str) -> Result<Option<T>, Failure> {
    f.values
        .get(name)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| usage_error(format!("--{name} takes a number, not `{v}`")))
        })
        .transpose()
}

/// A numeric flag checked against its range in the table the app's form
/// uses ([`crate::llm::settings::Field`]).
pub(super) fn parse_field(
    f: &Flags,
    field: crate::llm::settings::Field,
) -> Result<Option<f64>, Failure> {
    f.values
        .get(field.flag)
        .map(|v| {
            field
                .parse(v)
                .map_err(|why| usage_error(format!("--{} {why}, not `{v}`", field.flag)))
        })
        .transpose()
}
