//! The model settings a user fills in (the app's form), as text fields, and
//! their validation into a run request. Pure, so the rules are tested
//! natively; the form never holds the API key (the UI keeps it apart, in
//! memory unless the user asks to remember it).

use serde::{Deserialize, Serialize};

use super::engine::RunSettings;
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
}

impl Default for ModelForm {
    fn default() -> Self {
        ModelForm::for_provider(Provider::OpenAi)
    }
}

/// A suggested model per provider (editable).
pub fn default_model(p: Provider) -> &'static str {
    match p {
        Provider::OpenAi => "gpt-4o-mini",
        Provider::Anthropic => "claude-haiku-4-5",
        Provider::Gemini => "gemini-2.5-flash",
        Provider::OpenAiCompatible => "local",
    }
}

fn fmt_price(x: f64) -> String {
    format!("{x}")
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
        let concurrency = num("concurrency", &self.concurrency, 1.0, 64.0, false);
        let rpm = num("requests per minute", &self.rpm, 1.0, 1e9, true);
        let tpm = num("tokens per minute", &self.tpm, 1.0, 1e12, true);
        let timeout = num("timeout", &self.timeout_s, 1.0, 3600.0, false);
        let attempts = num("attempts", &self.max_attempts, 1.0, 20.0, false);
        let price_in = num(
            "price per million input tokens",
            &self.price_in,
            0.0,
            1e4,
            true,
        );
        let price_out = num(
            "price per million output tokens",
            &self.price_out,
            0.0,
            1e4,
            true,
        );
        let sample = num("sample (inputs)", &self.sample, 1.0, 1e12, true);
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
