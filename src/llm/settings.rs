//! The model settings a user fills in (the app's form), as text fields, and
//! their validation into a run request. Pure, so the rules are tested
//! natively; the form never holds the API key (the UI keeps it apart, in
//! memory unless the user asks to remember it).

use serde::{Deserialize, Serialize};

use super::engine::{CostCap, RunSettings};
use super::pricing::{price_of, Price};
use super::provider::{ModelConfig, Provider};
use super::Decoding;

/// The settings form, every field as typed. Stored (without any key) so the
/// form comes back after a reload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelForm {
    /// A [`Provider::id`].
    pub provider: String,
    pub model: String,
    /// Empty: the provider's default.
    pub base_url: String,
    pub temperature: String,
    pub top_p: String,
    pub max_tokens: String,
    pub logprobs: bool,
    pub concurrency: String,
    /// Requests per minute; empty: unlimited.
    pub rpm: String,
    /// Tokens per minute; empty: unlimited.
    pub tpm: String,
    pub timeout_s: String,
    pub max_attempts: String,
    /// US dollars per million input / output tokens; empty: unknown.
    pub price_in: String,
    pub price_out: String,
    /// Run on a seeded sample of N inputs (all the pairs of each); empty:
    /// all. (Stored as `limit` by earlier versions, when it was the first N
    /// pairs.)
    #[serde(alias = "limit")]
    pub sample: String,
    /// What to run: `extract` (factors), `judge` or `writer`.
    pub run: String,
    /// Judges see each pair in both orders.
    pub both_orders: bool,
    /// Writers: how many inputs to write for; empty: all.
    pub inputs: String,
    /// The cost cap in US dollars; empty: none.
    pub max_cost: String,
}

impl Default for ModelForm {
    fn default() -> Self {
        ModelForm::for_provider(Provider::OpenAi)
    }
}

/// A suggested model per provider (editable): [`Provider::default_model`],
/// which asks the provider's module.
pub fn default_model(p: Provider) -> &'static str {
    p.default_model()
}

fn fmt_price(x: f64) -> String {
    format!("{x}")
}

/// A numeric setting's accepted range, one table shared by the app's form
/// and the CLI's flags, so both accept the same values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Field {
    /// The name in the form (and in its messages).
    pub name: &'static str,
    /// The CLI flag, without `--`.
    pub flag: &'static str,
    pub lo: f64,
    pub hi: f64,
    /// Only whole numbers.
    pub integer: bool,
}

/// Calls at once: 1–64 (beyond that, threads and provider limits, not speed).
pub const CONCURRENCY: Field = Field::new("concurrency", "concurrency", 1.0, 64.0, true);
/// Requests per minute: at least 1 (0 would never send).
pub const RPM: Field = Field::new("requests per minute", "rpm", 1.0, 1e9, false);
/// Tokens per minute: at least 1.
pub const TPM: Field = Field::new("tokens per minute", "tpm", 1.0, 1e12, false);
/// The per-request timeout in seconds: 1 s to an hour.
pub const TIMEOUT: Field = Field::new("timeout", "timeout", 1.0, 3600.0, false);
/// Attempts per call, the first included: 1–20.
pub const ATTEMPTS: Field = Field::new("attempts", "attempts", 1.0, 20.0, true);
/// US dollars per million input tokens: 0–10,000.
pub const PRICE_IN: Field = Field::new(
    "price per million input tokens",
    "price-in",
    0.0,
    1e4,
    false,
);
/// US dollars per million output tokens: 0–10,000.
pub const PRICE_OUT: Field = Field::new(
    "price per million output tokens",
    "price-out",
    0.0,
    1e4,
    false,
);

/// The cost cap in US dollars: 0 (only cached answers) to 1,000,000.
pub const MAX_COST: Field = Field::new("cost cap (USD)", "max-cost", 0.0, 1e6, false);

impl Field {
    const fn new(name: &'static str, flag: &'static str, lo: f64, hi: f64, integer: bool) -> Self {
        Field {
            name,
            flag,
            lo,
            hi,
            integer,
        }
    }

    /// Parses `text` (trimmed) into a finite number in range.
    ///
    /// # Errors
    /// What is accepted: "must be a (whole) number from LO to HI".
    pub fn parse(&self, text: &str) -> Result<f64, String> {
        match text.trim().parse::<f64>() {
            Ok(x)
                if x.is_finite()
                    && x >= self.lo
                    && x <= self.hi
                    && (!self.integer || x.fract() == 0.0) =>
            {
                Ok(x)
            }
            _ => Err(format!(
                "must be a {}number from {} to {}",
                if self.integer { "whole " } else { "" },
                self.lo,
                self.hi
            )),
        }
    }
}

impl RunSettings {
    /// Checks the settings against the [`Field`] ranges (for settings that
    /// did not come through the form or the CLI, e.g. a worker message).
    ///
    /// # Errors
    /// One message per value out of range.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        let mut check = |f: Field, x: Option<f64>| {
            if let Some(x) = x {
                if let Err(why) = f.parse(&x.to_string()) {
                    errors.push(format!("{}: {why}, not {x}", f.name));
                }
            }
        };
        check(CONCURRENCY, Some(self.concurrency as f64));
        check(RPM, self.requests_per_minute);
        check(TPM, self.tokens_per_minute);
        check(TIMEOUT, Some(self.retry.timeout_s));
        check(ATTEMPTS, Some(f64::from(self.retry.max_attempts)));
        if let Some(cap) = self.cap {
            check(MAX_COST, Some(cap.max_usd));
            check(PRICE_IN, Some(cap.price.input_per_m));
            check(PRICE_OUT, Some(cap.price.output_per_m));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Why a cost cap cannot be kept without prices: the run's cost is not
/// known. `model` names what has no price.
pub fn cap_needs_prices(model: &str) -> String {
    format!(
        "cost cap: the prices of {model} are not known, so the cap cannot be kept; give the \
         price per million input and output tokens (0 and 0 for a free local server)"
    )
}

/// A validated form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelChoice {
    pub model: ModelConfig,
    pub settings: RunSettings,
    pub price: Option<Price>,
    /// A seeded sample of this many inputs (see
    /// [`Selection::Inputs`](crate::analysis::Selection)); `None`: all.
    pub sample: Option<usize>,
}

impl ModelForm {
    /// The paper's decoding, the provider's suggested model, its list price.
    pub fn for_provider(p: Provider) -> ModelForm {
        let d = Decoding::default();
        let s = RunSettings::default();
        let mut f = ModelForm {
            provider: p.id().to_owned(),
            model: default_model(p).to_owned(),
            base_url: String::new(),
            temperature: d.temperature.to_string(),
            top_p: d.top_p.to_string(),
            max_tokens: d.max_tokens.to_string(),
            logprobs: p.offers_logprobs(),
            concurrency: s.concurrency.to_string(),
            rpm: String::new(),
            tpm: String::new(),
            timeout_s: s.retry.timeout_s.to_string(),
            max_attempts: s.retry.max_attempts.to_string(),
            price_in: String::new(),
            price_out: String::new(),
            sample: String::new(),
            run: "extract".into(),
            both_orders: true,
            inputs: String::new(),
            max_cost: String::new(),
        };
        f.prefill_price();
        f
    }

    /// Switches provider: model, logprobs and price follow; the rest stays.
    pub fn with_provider(&self, p: Provider) -> ModelForm {
        let mut f = ModelForm {
            provider: p.id().to_owned(),
            model: default_model(p).to_owned(),
            base_url: String::new(),
            logprobs: p.offers_logprobs(),
            ..self.clone()
        };
        f.prefill_price();
        f
    }

    /// Sets the price fields to the model's list price (blank when unknown).
    pub fn prefill_price(&mut self) {
        match price_of(&self.provider, &self.model) {
            Some(p) => {
                self.price_in = fmt_price(p.input_per_m);
                self.price_out = fmt_price(p.output_per_m);
            }
            None => {
                self.price_in.clear();
                self.price_out.clear();
            }
        }
    }

    /// The provider, if the id is known.
    pub fn provider(&self) -> Option<Provider> {
        Provider::from_id(&self.provider)
    }

    /// Validates every field.
    ///
    /// # Errors
    /// One message per bad field, naming the field and the reason.
    pub fn validate(&self) -> Result<ModelChoice, Vec<String>> {
        let mut errors = Vec::new();
        let provider = self.provider().unwrap_or_else(|| {
            errors.push(format!("provider: unknown provider `{}`", self.provider));
            Provider::OpenAi
        });
        let model = self.model.trim();
        if model.is_empty() {
            errors.push("model: give the provider's model id".to_owned());
        }
        let base = self.base_url.trim();
        if !(base.is_empty() || base.starts_with("https://") || base.starts_with("http://")) {
            errors.push("base URL: must start with https:// or http://".to_owned());
        }
        let mut num = |name: &str, text: &str, lo: f64, hi: f64, optional: bool| -> Option<f64> {
            let t = text.trim();
            if t.is_empty() {
                if !optional {
                    errors.push(format!("{name}: required"));
                }
                return None;
            }
            match t.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= lo && x <= hi => Some(x),
                _ => {
                    errors.push(format!("{name}: must be a number from {lo} to {hi}"));
                    None
                }
            }
        };
        let temperature = num("temperature", &self.temperature, 0.0, 2.0, false);
        let top_p = num("top_p", &self.top_p, 0.0, 1.0, false);
        let max_tokens = num("max tokens", &self.max_tokens, 1.0, 1_000_000.0, false);
        let sample = num("sample (inputs)", &self.sample, 1.0, 1e12, true);
        let mut field = |f: Field, text: &str, optional: bool| -> Option<f64> {
            if text.trim().is_empty() {
                if !optional {
                    errors.push(format!("{}: required", f.name));
                }
                return None;
            }
            f.parse(text)
                .map_err(|why| errors.push(format!("{}: {why}", f.name)))
                .ok()
        };
        let concurrency = field(CONCURRENCY, &self.concurrency, false);
        let rpm = field(RPM, &self.rpm, true);
        let tpm = field(TPM, &self.tpm, true);
        let timeout = field(TIMEOUT, &self.timeout_s, false);
        let attempts = field(ATTEMPTS, &self.max_attempts, false);
        let price_in = field(PRICE_IN, &self.price_in, true);
        let price_out = field(PRICE_OUT, &self.price_out, true);
        let max_cost = field(MAX_COST, &self.max_cost, true);

        let price = match (price_in, price_out) {
            (Some(i), Some(o)) => Some(Price {
                input_per_m: i,
                output_per_m: o,
            }),
            (None, None) => None,
            _ => {
                errors.push("price: give both the input and the output price, or neither".into());
                None
            }
        };
        let cap = match (max_cost, price) {
            (Some(max_usd), Some(price)) => Some(CostCap { max_usd, price }),
            (Some(_), None) => {
                errors.push(cap_needs_prices(&format!("{} ({model})", self.provider)));
                None
            }
            (None, _) => None,
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut model = ModelConfig::new(provider, model);
        model.base_url = (!base.is_empty()).then(|| base.to_owned());
        model.decoding = Decoding {
            temperature: temperature.unwrap_or_default(),
            top_p: top_p.unwrap_or_default(),
            max_tokens: max_tokens.unwrap_or_default() as u32,
        };
        model.logprobs = self.logprobs && provider.offers_logprobs();
        let mut settings = RunSettings {
            concurrency: concurrency.unwrap_or(1.0) as usize,
            requests_per_minute: rpm,
            tokens_per_minute: tpm,
            cap,
            ..Default::default()
        };
        settings.retry.timeout_s = timeout.unwrap_or(120.0);
        settings.retry.max_attempts = attempts.unwrap_or(5.0) as u32;
        Ok(ModelChoice {
            model,
            settings,
            price,
            sample: sample.map(|n| n as usize),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_to_the_paper_decoding_and_list_price() {
        let c = ModelForm::default().validate().unwrap();
        assert_eq!(c.model.provider, Provider::OpenAi);
        assert_eq!(c.model.model, "gpt-4o-mini");
        assert_eq!(c.model.decoding, Decoding::default());
        assert_eq!(c.price, price_of("openai", "gpt-4o-mini"));
        assert_eq!(c.sample, None);
        assert!(c.model.logprobs);
        let a = ModelForm::default().with_provider(Provider::Anthropic);
        assert_eq!(a.model, "claude-haiku-4-5");
        assert!(!a.validate().unwrap().model.logprobs);
    }

    #[test]
    fn bad_fields_are_named() {
        let f = ModelForm {
            model: " ".into(),
            base_url: "ftp://x".into(),
            temperature: "hot".into(),
            price_in: "1".into(),
            price_out: String::new(),
            sample: "0".into(),
            ..ModelForm::default()
        };
        let e = f.validate().unwrap_err();
        assert_eq!(e.len(), 5, "{e:?}");
        assert!(e[0].starts_with("model:"));
        assert!(e.iter().any(|m| m.starts_with("base URL:")));
        assert!(e.iter().any(|m| m.starts_with("temperature:")));
        assert!(e.iter().any(|m| m.starts_with("sample (inputs):")));
        assert!(e.iter().any(|m| m.starts_with("price:")));
    }

    #[test]
    fn ranges_are_one_table_for_the_form_and_the_cli() {
        for bad in ["-1", "NaN", "inf", "1e300", "0", ""] {
            assert!(TIMEOUT.parse(bad).is_err(), "{bad}");
        }
        assert_eq!(TIMEOUT.parse(" 30 "), Ok(30.0));
        assert!(CONCURRENCY.parse("100000000").is_err());
        assert!(CONCURRENCY.parse("1.5").unwrap_err().contains("whole"));
        assert!(RPM.parse("0").is_err() && RPM.parse("-5").is_err());
        assert!(PRICE_IN.parse("NaN").is_err() && PRICE_IN.parse("-1").is_err());
        assert_eq!(PRICE_IN.parse("0"), Ok(0.0));
        let f = ModelForm {
            concurrency: "65".into(),
            timeout_s: "0".into(),
            max_attempts: "1.5".into(),
            ..ModelForm::default()
        };
        let e = f.validate().unwrap_err();
        assert!(
            e.contains(&"concurrency: must be a whole number from 1 to 64".to_owned()),
            "{e:?}"
        );
        assert!(e.iter().any(|m| m.starts_with("timeout: must be")), "{e:?}");
        assert!(
            e.iter().any(|m| m.starts_with("attempts: must be")),
            "{e:?}"
        );
    }

    #[test]
    fn a_cost_cap_needs_prices_and_its_range() {
        let capped = |max_cost: &str, price: &str| {
            ModelForm {
                max_cost: max_cost.into(),
                price_in: price.into(),
                price_out: price.into(),
                ..ModelForm::default()
            }
            .validate()
        };
        let c = capped("2.5", "1").unwrap();
        let cap = c.settings.cap.unwrap();
        assert_eq!((cap.max_usd, cap.price.input_per_m), (2.5, 1.0));
        assert!(c.settings.validate().is_ok());
        assert_eq!(capped("", "1").unwrap().settings.cap, None);
        let e = capped("2", "").unwrap_err();
        assert!(e[0].starts_with("cost cap: the prices of"), "{e:?}");
        for bad in ["-1", "x", "2e6"] {
            let e = capped(bad, "1").unwrap_err();
            assert!(e[0].starts_with("cost cap (USD): must be"), "{e:?}");
        }
        // A worker message with a cap out of range is refused too.
        let mut s = c.settings;
        s.cap.as_mut().unwrap().max_usd = f64::NAN;
        assert!(s.validate().unwrap_err()[0].starts_with("cost cap (USD)"));
    }

    #[test]
    fn local_server_settings() {
        let f = ModelForm {
            base_url: "http://127.0.0.1:8080/v1/".into(),
            sample: "10".into(),
            rpm: "30".into(),
            ..ModelForm::default().with_provider(Provider::OpenAiCompatible)
        };
        let c = f.validate().unwrap();
        assert_eq!(c.model.effective_base_url(), "http://127.0.0.1:8080/v1");
        assert_eq!(c.sample, Some(10));
        assert_eq!(c.settings.requests_per_minute, Some(30.0));
        assert_eq!(c.price.unwrap().cost(1e6, 1e6), 0.0);
        let back: ModelForm = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
        // Older stored forms with missing fields still load.
        let old: ModelForm = serde_json::from_str(r#"{"provider": "gemini"}"#).unwrap();
        assert_eq!(old.provider, "gemini");
        // The sample field of earlier versions was stored as `limit`.
        let old: ModelForm = serde_json::from_str(r#"{"limit": "7"}"#).unwrap();
        assert_eq!(old.sample, "7");
    }
}
