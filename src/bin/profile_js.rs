//! The JavaScript library: the crate's core for JavaScript through
//! wasm-bindgen, as an ES module with TypeScript types (the npm package that
//! `build/npm-package.sh` writes to `pkg/`).
//!
//! Its own Wasm binary, so these exports reach neither the app nor the
//! widget. Every function is a thin edge over the pure core: values cross as
//! JSON (the report is exactly what `profile score --json` writes), options
//! are checked and unknown ones named in the error.

#[cfg(target_arch = "wasm32")]
mod api {
    use profile::analysis::{score_report, DatasetInfo, ScoreConfig};
    use profile::chart::{factor_chart, to_svg, ChartOptions};
    use profile::data::{self, Format, FormatOptions, SummEvalLabel, TextStore};
    use profile::embed::{self, model, EmbedOptions, Theme, WidgetView};
    use profile::factors::rules::RuleExtractor;
    use profile::factors::{Factor, Task};
    use profile::report::{Alignment, Report};
    use profile::stats::BootstrapConfig;
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    #[wasm_bindgen(typescript_custom_section)]
    const TYPES: &str = r#"
/** A factor id of the taxonomy (other strings may appear in reports from elsewhere). */
export type FactorId =
  | "length" | "n_facts" | "novel_words" | "novel_words_count" | "formality_alignment"
  | "fluency" | "coherence" | "intent_alignment" | "receptiveness" | "off_focus"
  | "src_coverage" | "hallucination" | "helpfulness" | "misinformation";
export type TaskId = "summarization" | "helpful" | "doc_qa";
export type Setting = "human" | "evaluation" | "generation" | "improvement";
export type WidgetView = "factors" | "alignment" | "rankings";
export type Theme = "auto" | "light" | "dark";

/** A skipped record: where and why. */
export interface Diagnostic { line: number; element?: number; field?: string; reason: string }

/** The report (schema profile-report/1), as `profile score --json` writes it. */
export interface Report {
  schema: "profile-report/1";
  generator: string;
  dataset: DatasetSummary;
  config: RunConfig;
  factors: FactorMeta[];
  skipped_factors: { id: string; reason: string }[];
  agents: Agent[];
  alignments: Alignment[];
  llm?: LlmRun;
  /** `--group-by FIELD`: the human factor scores per group of pairs. */
  groups?: Groups;
  /** Guided judging (`profile guide`): the factors chosen and each condition's agreement. */
  guidance?: GuidanceSection;
  /** Feedback-driven improvement (`profile improve`): each condition's τ with people and with the evaluator, and every input's texts. */
  improvement?: ImprovementSection;
}
/** Pairs grouped by a record field: each group scored alone, and against the rest. */
export interface Groups {
  field: string; pairs_without: number; groups_omitted?: number;
  /** Largest first. */
  groups: Group[];
}
export interface Group {
  value: string; pairs: number; inputs: number;
  factor_scores: Record<string, FactorScore>;
  /** Group − rest per factor; `verdict` grades only when both sides have at least 10 inputs. */
  differences: Record<string, GroupDifference>;
}
export interface GroupDifference {
  difference?: number | null; ci95?: [number, number] | null;
  verdict: "higher" | "lower" | "no clear difference" | "too few inputs" | "not tested (no bootstrap)";
}
/** A feedback-driven improvement experiment. `questions_per_input`: first responses, feedback and improved responses per input planned (6 when all went well); `calls`: what this run sent (0 when all was cached); `judge_calls`: the evaluator's calls judging the pairs in this run. `too_few`: fewer than 10 inputs or fewer than 5 factors correlated, the τ mean little. */
export interface ImprovementSection {
  writer: string; evaluator: string; inputs_planned: number; inputs: number;
  questions_per_input: number | null; calls: number; cache_hits: number; failed: number; judge_calls: number; too_few: boolean;
  conditions: ImprovementCondition[]; items: ImprovementItem[];
  /** The experiment's failed questions (the writer's and the evaluator's feedback): question, template, reason, raw reply. */
  failures?: unknown[];
}
/** One condition (`feedback`: from both first responses and the evaluator's feedback; `both`: from both, no feedback; `single`: each alone, no feedback) as an agent in the improvement setting, with Kendall τ_b against people and the evaluator and their 95% paired cluster-bootstrap intervals. */
export interface ImprovementCondition {
  condition: "feedback" | "both" | "single"; agent: string; inputs: number; pairs: number;
  kendall_tau_human: number | null; kendall_tau_human_ci95?: [number, number]; n_factors_human: number;
  kendall_tau_evaluator: number | null; kendall_tau_evaluator_ci95?: [number, number]; n_factors_evaluator: number;
  evaluator_alignment: Alignment;
}
/** One input's texts: its two first responses, the evaluator's choice and justification, the improved responses. */
export interface ImprovementItem {
  line: number; responses?: string[]; better?: "1" | "2" | "tie"; justification?: string;
  improved_feedback?: string; improved_both?: string; improved_single?: (string | null)[];
}
/** The guidance a guided judge was given: none (the plain judge of the experiment), GuideMis or GuideRand. */
export interface AgentGuidance { strategy: "none" | "mis" | "rand"; factor?: string; direction?: "over" | "under" }
/** A guided-judging experiment. `few_inputs`: fewer than 10 inputs, the intervals and p-values mean little. */
export interface GuidanceSection {
  model: string; evidence_from: string; evidence: GuidanceEvidence[];
  mis: GuidanceChoice; rand?: GuidanceChoice;
  /** Pairs judged in every condition (the pairs compared) and their inputs. */
  pairs: number; inputs: number; few_inputs: boolean;
  bootstrap_resamples: number; permutations: number; permutation_exact: boolean;
  conditions: GuidanceCondition[];
}
/** Judge − human factor score with its 95% paired-bootstrap interval. */
export interface GuidanceEvidence { factor: string; judge: number | null; human: number | null; difference: number; ci95: [number, number] | null }
export interface GuidanceChoice {
  factor: string; direction: "over" | "under"; sentence: string; chosen_by: "evidence" | "user";
  difference?: number; ci95?: [number, number];
}
/** Strict agreement with people on the pairs compared; `difference` to the unguided judge with its paired cluster-bootstrap interval and sign-flip permutation p-value (absent for `none`). */
export interface GuidanceCondition {
  strategy: "none" | "mis" | "rand"; agent: string; agreement: number | null;
  difference?: number | null; difference_ci95?: [number, number]; p_value?: number;
  factor_scores: Record<string, number | null>;
}
export interface DatasetSummary {
  name?: string; format: string; label?: string;
  records_read: number; records_parsed: number; records_skipped: number;
  pairs: number; human_ties_dropped: number; pairs_dropped_other: number; pairs_dropped_reason?: string;
  inputs: number; unique_texts: number; bytes_read: number;
  /** At most 1000; `diagnostics_total` counts all. */
  diagnostics: Diagnostic[]; diagnostics_total: number;
  /** When the report covers part of the loaded pairs: how they were chosen. */
  sample?: SampleInfo;
  /** The records' short string fields the pairs can be grouped by. */
  group_fields?: string[];
}
/** `inputs`: a seeded sample of inputs with all their pairs (`--sample`); `first_pairs`: the first N pairs (`--limit`). */
export interface SampleInfo {
  method: "inputs" | "first_pairs"; requested: number; inputs_loaded: number; pairs_loaded: number;
  /** The seed of the draw (`inputs` only). */
  seed?: number;
}
export interface RunConfig {
  task: string; factors: string[]; bootstrap_resamples: number; seed: number;
  ci_level: number; resampling_unit: string; factor_tie_tolerance: number;
  /** The definitions of the custom factors among `factors` (present when there are some). */
  factor_pack?: FactorPack;
}
/** `custom`: a factor of the report's `config.factor_pack`. */
export interface FactorMeta { id: string; name: string; level2: string; level3: string; extraction: string; value: string; custom?: boolean }
/** A factor pack: your own rule factors and questions for a language model (see the README's "Your own factors"). */
export interface FactorPack { version?: 1; factors: CustomFactor[] }
export type CustomFactor = { id: string; name: string; description?: string } & (
  | { kind: "regex_count" | "regex_share"; pattern: string }
  | { kind: "word_list_count"; words: string[]; stem?: boolean }
  | { kind: "llm_yes_no" | "llm_rating"; question: string; sees?: ("request" | "source")[] });
/** A problem of a factor pack, with its place. */
export interface PackProblem { factor: number | null; id: string | null; field: string | null; reason: string }
/** One agent's factor-level preferences. */
export interface Agent {
  name: string; setting: Setting; tie_policy: string;
  factor_scores: Record<string, FactorScore>;
  /** Factor ids by descending score, unscored last. */
  ranking: string[];
  /** A model agent's run (judge or writer). */
  run?: AgentRun;
  /** The joint model of preference on all factors at once. */
  joint?: JointModel;
  /** A judge of a guided-judging experiment: the guidance it was given. */
  guidance?: AgentGuidance;
}
/** Bradley–Terry on the signs of the factor differences (`covariate: "sign"`; older reports `"scaled"`). */
export interface JointModel {
  method: string; penalty: number; scaling: string; covariate?: "sign" | "scaled";
  n_pairs_used: number; n_pairs_dropped_tie: number; n_pairs_dropped_missing: number;
  log_likelihood: number | null; converged: boolean; iterations: number;
  bootstrap_resamples: number; bootstrap_failed: number; bootstrap_refit: "all" | "interval" | "one_step"; bootstrap_refitted: number;
  /** Resamples behind the intervals; inputs with a pair used; `few_inputs`: fewer than 10 inputs (intervals undercover). */
  bootstrap_resamples_used?: number; inputs?: number; few_inputs?: boolean;
  coefficients: Record<string, JointCoefficient>;
  /** Joint Wald tests of factors whose covariates correlate by |r| ≥ 0.7 (they cannot be told apart). */
  pair_tests?: JointPairTest[];
  /** Why nothing was fitted, when nothing was. */
  not_estimable?: string;
}
/** β: log-odds change associated with the factor favouring a response, given the other factors' signs (an association, not a held-fixed effect). `se` is cluster-robust (by input). */
export interface JointCoefficient {
  coefficient: number | null; se: number | null; ci95: [number, number] | null; scale: number;
  /** Why there is no coefficient. */
  not_estimable?: string;
  correlations?: Record<string, number>;
}
export interface JointPairTest { factors: [string, string]; correlation: number; wald: number; df: number; p_value: number }
/** score = (C − D) / (C + D + T); null when no pair counts. */
export interface FactorScore {
  score: number | null; ci95: [number, number] | null;
  /** `dropped`: factor ties (human and evaluation settings); `missing`: pairs with a missing value (failed extraction, no verdict); absent in older reports. */
  concordant: number; discordant: number; ties: number; dropped: number; missing?: number; n_pairs: number;
  /** Inputs with a countable pair, and the bootstrap resamples behind the interval. */
  inputs?: number; bootstrap_resamples_used?: number;
  /** The interval comes from fewer than 10 inputs: its coverage is well below 95%. */
  few_inputs?: boolean;
}
/** A judge's or writer's run. Judges: `agreement` is strict (a position flip disagrees), `agreement_order_averaged` counts each verdict on its own (a flip one half) and is the one comparable across judges; `tie_rate` counts genuine ties, `flipped_share` position flips. */
export interface AgentRun {
  kind: "judge" | "writer" | "improve"; provider: string; model: string; base_url: string;
  items: number; items_planned: number; both_orders: boolean;
  order_seed?: number; swapped?: number;
  agreement?: number; agreement_order_averaged?: number; tie_rate?: number;
  position_consistency?: number; flipped_share?: number; half_tie_share?: number; first_position_share?: number;
  generated_pairs?: number; calls: number; cache_hits: number; failed: number;
  input_tokens: number; output_tokens: number; failures?: unknown[]; extraction?: LlmRun;
  /** A run on a sample of the report's data: how it was drawn and the pairs covered as file-line ranges ("1-8", "3,7,10-12"). */
  sample?: SampleInfo; pairs_covered?: string;
}
/** A judge's agreement with the human labels (see `AgentRun`). */
export interface Agreement {
  rate: number | null; tie_rate: number | null; n_pairs: number;
  order_averaged?: number | null; flip_rate?: number | null; half_tie_rate?: number | null;
}
/** Correlations of an agent's factor scores with a reference agent's. */
export interface Alignment {
  agent: string; reference: string; factors: string[]; n_factors: number;
  kendall_tau: number | null; spearman_rho: number | null; pearson_r: number | null;
  /** Paired cluster-bootstrap percentile intervals (present when the agents' tables were given). */
  kendall_tau_ci95?: [number, number]; spearman_rho_ci95?: [number, number]; pearson_r_ci95?: [number, number];
  /** Resamples drawn, and those with a defined correlation (the intervals use these). */
  bootstrap_resamples?: number; bootstrap_resamples_used?: number;
  /** Permutation p-values (two-sided) and how they were computed. */
  kendall_tau_p?: number; spearman_rho_p?: number; pearson_r_p?: number;
  permutations?: number; permutation_exact?: boolean;
  agreement?: Agreement;
  position_consistency?: number; flipped_share?: number;
  /** Per factor: agent − reference score with its 95% paired-bootstrap interval. */
  score_differences?: Record<string, { estimate: number; ci95: [number, number] | null }>;
  /** An agent run on a sample of the report's data: the reference's factor scores on the same pairs. */
  reference_scores?: Record<string, number | null>;
}
export interface LlmRun {
  provider: string; model: string; base_url: string; templates: string[];
  pairs: number; unique_responses: number; unique_sources: number; questions: number;
  calls: number; cache_hits: number; retries: number; repairs: number; failed: number;
  input_tokens: number; output_tokens: number; calls_per_unique_response: number;
  naive_calls: number; logprobs: boolean; failures: unknown[];
}
/** A problem of a report that fails its check, with its place (`agents[0].ranking[2]`). */
export interface Problem { path: string; message: string }

export interface LoadOptions {
  /** Written into the report as `dataset.name` (the CLI writes the file name). */
  name?: string;
  /** A format name (see `formats()`); detected from the first record if absent. */
  format?: string;
  /** The SummEval label: "mean" (default), "coherence", "consistency", "fluency" or "relevance". */
  label?: string;
  /** Records (lines, array elements) over this many MiB are skipped with a diagnostic (default 8, at most 1024). */
  maxRecordMb?: number;
}
export interface ScoreOptions {
  /** The task preset; the dataset's default if absent. */
  task?: TaskId;
  /** The factors to report; the preset's (and the pack's) if absent. */
  factors?: (FactorId | string)[];
  /** Custom factors (an object or its JSON text); their ids can be listed in `factors`. */
  factorPack?: FactorPack | string;
  /** Bootstrap resamples (default 1000; 0 = no intervals). */
  bootstrap?: number;
  /** Seed of the bootstrap (default 42). */
  seed?: number;
}
export interface RuleFactorValues { length: number; novel_words: number; novel_words_count: number }
/** One value per pair for response A and for response B. */
export interface FactorValues { a: Float64Array; b: Float64Array }
export interface EmbedOptions {
  view?: WidgetView;
  theme?: Theme;
  /** The agent of the factors view (default: "human", else the first). */
  agent?: string;
}
export interface RenderOptions extends EmbedOptions {
  /** Width in CSS pixels the view is laid out for (default 640). */
  width?: number;
}
export interface SvgOptions { agent?: string; width?: number; title?: string }
export interface SnippetOptions extends EmbedOptions {
  /** The report file the script snippet reads (default "profile-report.json"). */
  reportFile?: string;
}
export interface Snippets {
  script: string; iframe: string; embedUrl: string; fragmentLength: number; height: number;
}
export interface DecodedEmbed { options: { view: WidgetView; theme: Theme; agent?: string }; report: Report }
export interface FactorInfo {
  id: FactorId; name: string; level2: string; level3: string; extraction: string; value: string; needs_model: boolean;
}
export interface TaskInfo { id: TaskId; name: string; factors: FactorId[] }
export interface FormatInfo { name: string; description: string }
"#;

    fn err(msg: impl std::fmt::Display) -> JsError {
        JsError::new(&msg.to_string())
    }

    /// A value as a plain JavaScript value (objects, arrays, numbers), via JSON.
    fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
        let text = serde_json::to_string(v).map_err(err)?;
        js_sys::JSON::parse(&text).map_err(|_| err("internal: JSON.parse failed"))
    }

    /// JSON text of a string (as is) or of any other value (`JSON.stringify`).
    fn json_text(v: &JsValue) -> Result<String, JsError> {
        if let Some(s) = v.as_string() {
            return Ok(s);
        }
        js_sys::JSON::stringify(v)
            .map_err(|_| err("the value cannot be written as JSON"))?
            .as_string()
            .ok_or_else(|| err("the value cannot be written as JSON"))
    }

    /// Options from an object; `undefined`/`null` give the defaults.
    fn read_options<T: DeserializeOwned + Default>(
        v: &Option<JsValue>,
        what: &str,
    ) -> Result<T, JsError> {
        let Some(v) = v.as_ref().filter(|v| !v.is_undefined() && !v.is_null()) else {
            return Ok(T::default());
        };
        serde_json::from_str(&json_text(v)?).map_err(|e| err(format!("{what}: {e}")))
    }

    /// A report from JSON text or an object, checked.
    fn report(v: &JsValue) -> Result<Report, JsValue> {
        let text = json_text(v)?;
        embed::check_report(&text).map_err(report_error)
    }

    /// An `Error` named `ReportError` whose `problems` lists what is wrong.
    fn report_error(e: embed::CheckError) -> JsValue {
        let error = js_sys::Error::new(&format!("not a valid PROFILE report:\n{e}"));
        error.set_name("ReportError");
        let problems = to_js(
            &e.problems
                .iter()
                .map(|p| serde_json::json!({"path": p.path, "message": p.message}))
                .collect::<Vec<_>>(),
        )
        .unwrap_or(JsValue::NULL);
        let _ = js_sys::Reflect::set(&error, &"problems".into(), &problems);
        error.into()
    }

    /// The crate's version.
    #[wasm_bindgen]
    pub fn version() -> String {
        env!("CARGO_PKG_VERSION").into()
    }

    /// The factor taxonomy (METHOD.md §4).
    #[wasm_bindgen(unchecked_return_type = "FactorInfo[]")]
    pub fn factors() -> Result<JsValue, JsError> {
        let list: Vec<_> = Factor::ALL
            .iter()
            .map(|f| {
                let i = f.info();
                serde_json::json!({"id": f.id(), "name": i.name, "level2": i.level2, "level3": i.level3,
                    "extraction": i.extraction.label(), "value": i.value, "needs_model": f.needs_model()})
            })
            .collect();
        to_js(&list)
    }

    /// The task presets and their factors.
    #[wasm_bindgen(unchecked_return_type = "TaskInfo[]")]
    pub fn tasks() -> Result<JsValue, JsError> {
        let list: Vec<_> = Task::ALL
            .iter()
            .map(|t| {
                let fs: Vec<&str> = t.factors().iter().map(|f| f.id()).collect();
                serde_json::json!({"id": t.id(), "name": t.name(), "factors": fs})
            })
            .collect();
        to_js(&list)
    }

    /// The dataset formats `loadRecords` reads.
    #[wasm_bindgen(unchecked_return_type = "FormatInfo[]")]
    pub fn formats() -> Result<JsValue, JsError> {
        let list: Vec<_> = Format::ALL
            .iter()
            .map(|f| serde_json::json!({"name": f.name(), "description": f.description()}))
            .collect();
        to_js(&list)
    }

    #[derive(Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct LoadOptions {
        name: Option<String>,
        format: Option<String>,
        label: Option<String>,
        #[serde(rename = "maxRecordMb")]
        max_record_mb: Option<u32>,
    }

    /// Loaded records: the pairs, their texts and the skipped records. Free it
    /// with `free()` when done (or let the garbage collector do it).
    #[wasm_bindgen(js_name = Dataset)]
    pub struct JsDataset {
        inner: data::Dataset,
        info: DatasetInfo,
    }

    /// Loads records: JSONL or a JSON array, gzip or plain, in any format of
    /// `formats()`. Bad records are skipped and listed (`diagnostics()`);
    /// only input in which no record looks like a known format throws.
    #[wasm_bindgen(js_name = loadRecords)]
    pub fn load_records(
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "LoadOptions")] options: Option<JsValue>,
    ) -> Result<JsDataset, JsError> {
        let o: LoadOptions = read_options(&options, "loadRecords options")?;
        let format = match o.format.as_deref() {
            None | Some("auto") => None,
            Some(n) => Some(Format::from_name(n).ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                err(format!(
                    "unknown format `{n}` (use one of {})",
                    names.join(", ")
                ))
            })?),
        };
        let label = match o.label.as_deref() {
            None => None,
            Some(l) => Some(SummEvalLabel::from_name(l).ok_or_else(|| {
                err(format!(
                    "unknown label `{l}` (use mean, coherence, consistency, fluency or relevance)"
                ))
            })?),
        };
        let bytes = if let Some(s) = input.as_string() {
            s.into_bytes()
        } else if input.is_instance_of::<js_sys::Uint8Array>()
            || input.is_instance_of::<js_sys::ArrayBuffer>()
        {
            js_sys::Uint8Array::new(&input).to_vec()
        } else {
            return Err(err("loadRecords takes a string or a Uint8Array"));
        };
        let ds = data::load_bytes(
            &bytes,
            FormatOptions {
                format,
                summeval_label: label.unwrap_or_default(),
                max_record_mb: match o.max_record_mb {
                    None => data::DEFAULT_MAX_RECORD_MB,
                    Some(n) => FormatOptions::parse_max_record_mb(&n.to_string()).map_err(err)?,
                },
                ..Default::default()
            },
        )
        .map_err(err)?;
        let label = (ds.format == Some(Format::SummEval))
            .then(|| label.unwrap_or_default().name().to_owned());
        Ok(JsDataset {
            info: DatasetInfo {
                name: o.name,
                label,
                sample: None,
            },
            inner: ds,
        })
    }

    #[wasm_bindgen(js_class = Dataset)]
    impl JsDataset {
        /// The detected or chosen format.
        #[wasm_bindgen(getter)]
        pub fn format(&self) -> Option<String> {
            self.inner.format.map(|f| f.name().to_owned())
        }

        /// Pairs with a strict human preference (the pairs scored).
        #[wasm_bindgen(getter)]
        pub fn pairs(&self) -> usize {
            self.inner.pairs.len()
        }

        #[wasm_bindgen(getter, js_name = recordsRead)]
        pub fn records_read(&self) -> f64 {
            self.inner.stats.records_read as f64
        }

        #[wasm_bindgen(getter, js_name = recordsParsed)]
        pub fn records_parsed(&self) -> f64 {
            self.inner.stats.records_parsed as f64
        }

        #[wasm_bindgen(getter, js_name = recordsSkipped)]
        pub fn records_skipped(&self) -> f64 {
            self.inner.stats.records_skipped as f64
        }

        /// Pairs the humans rated as a tie (dropped at load, METHOD.md §1).
        #[wasm_bindgen(getter, js_name = humanTiesDropped)]
        pub fn human_ties_dropped(&self) -> f64 {
            self.inner.stats.human_ties_dropped as f64
        }

        /// Distinct inputs: the bootstrap's resampling units.
        #[wasm_bindgen(getter)]
        pub fn inputs(&self) -> u32 {
            self.inner.n_clusters
        }

        #[wasm_bindgen(getter, js_name = uniqueTexts)]
        pub fn unique_texts(&self) -> usize {
            self.inner.texts.len()
        }

        /// The task preset used when `score` is given none.
        #[wasm_bindgen(getter, js_name = defaultTask, unchecked_return_type = "TaskId")]
        pub fn default_task(&self) -> String {
            self.inner.default_task().id().to_owned()
        }

        /// Every skipped record with its line, field and reason.
        #[wasm_bindgen(unchecked_return_type = "Diagnostic[]")]
        pub fn diagnostics(&self) -> Result<JsValue, JsError> {
            to_js(&self.inner.diagnostics)
        }

        /// A rule-based factor's value for response A and B of every pair
        /// (METHOD.md §5: words, stems, novel words against the source or input).
        #[wasm_bindgen(js_name = factorValues, unchecked_return_type = "FactorValues")]
        pub fn factor_values(
            &self,
            #[wasm_bindgen(unchecked_param_type = "FactorId")] factor: &str,
        ) -> Result<JsValue, JsError> {
            let f = rule_factor(factor)?;
            let mut rules = RuleExtractor::new();
            let ds = &self.inner;
            let (mut a, mut b) = (
                Vec::with_capacity(ds.pairs.len()),
                Vec::with_capacity(ds.pairs.len()),
            );
            for p in &ds.pairs {
                let ctx = p.context();
                a.push(rules.value(f, &ds.texts, p.a, ctx).unwrap_or(f64::NAN));
                b.push(rules.value(f, &ds.texts, p.b, ctx).unwrap_or(f64::NAN));
            }
            let o = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&o, &"a".into(), &js_sys::Float64Array::from(&a[..]));
            let _ = js_sys::Reflect::set(&o, &"b".into(), &js_sys::Float64Array::from(&b[..]));
            Ok(o.into())
        }
    }

    fn rule_factor(id: &str) -> Result<Factor, JsError> {
        match Factor::from_id(id) {
            Some(f) if !f.needs_model() => Ok(f),
            Some(f) => Err(err(format!(
                "`{id}` needs a language model ({}); rule-based factors are length, novel_words, novel_words_count and the rule kinds of a loaded factor pack",
                f.info().extraction.label()
            ))),
            None => Err(err(format!("unknown factor `{id}`"))),
        }
    }

    /// The rule-based factors of one response, against a context (the source,
    /// or else the input) for novel words.
    #[wasm_bindgen(js_name = ruleFactors, unchecked_return_type = "RuleFactorValues")]
    pub fn rule_factors(response: &str, context: Option<String>) -> Result<JsValue, JsError> {
        let mut texts = TextStore::new();
        let r = texts.intern(response);
        let c = context.as_deref().map(|c| texts.intern(c));
        let mut rules = RuleExtractor::new();
        let (share, count) = rules.novel_words(&texts, r, c);
        to_js(&serde_json::json!({
            "length": rules.length(&texts, r),
            "novel_words": share,
            "novel_words_count": count,
        }))
    }

    #[derive(Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct ScoreOptions {
        task: Option<String>,
        factors: Option<Vec<String>>,
        #[serde(rename = "factorPack")]
        factor_pack: Option<serde_json::Value>,
        bootstrap: Option<u32>,
        seed: Option<u64>,
    }

    /// An `Error` named `PackError` whose `problems` lists each problem of a
    /// factor pack with its place.
    fn pack_error(errors: &[profile::factors::pack::PackError]) -> JsValue {
        let error = js_sys::Error::new(&format!(
            "not a valid factor pack:\n{}",
            profile::factors::pack::describe(errors)
        ));
        error.set_name("PackError");
        let problems = to_js(&errors).unwrap_or(JsValue::NULL);
        let _ = js_sys::Reflect::set(&error, &"problems".into(), &problems);
        error.into()
    }

    /// Checks and registers a pack given as JSON text or as a value.
    fn load_pack(v: &serde_json::Value) -> Result<Vec<Factor>, JsValue> {
        use profile::factors::pack::{register, FactorPack};
        let pack = match v {
            serde_json::Value::String(text) => FactorPack::parse(text),
            other => FactorPack::from_value(other),
        }
        .map_err(|e| pack_error(&e))?;
        register(&pack).map_err(|e| pack_error(&e))
    }

    /// Checks a factor pack (an object or its JSON text) and makes its
    /// factors known: their ids then work in `score`'s `factors` and in
    /// `Dataset.factorValues`. Returns the ids; throws a `PackError` whose
    /// `problems` give each problem's factor, field and reason.
    #[wasm_bindgen(js_name = loadFactorPack, unchecked_return_type = "string[]")]
    pub fn load_factor_pack(
        #[wasm_bindgen(unchecked_param_type = "FactorPack | string")] pack: JsValue,
    ) -> Result<JsValue, JsValue> {
        let v = match pack.as_string() {
            Some(text) => serde_json::Value::String(text),
            None => serde_json::from_str(&json_text(&pack)?).map_err(|e| JsValue::from(err(e)))?,
        };
        let ids: Vec<&str> = load_pack(&v)?.iter().map(|f| f.id()).collect();
        Ok(to_js(&ids)?)
    }

    /// Factor scores of the human labels with bootstrap intervals: the same
    /// report as `profile score --json` (factors that need a language model
    /// are listed as skipped).
    #[wasm_bindgen(unchecked_return_type = "Report")]
    pub fn score(
        dataset: &JsDataset,
        #[wasm_bindgen(unchecked_optional_param_type = "ScoreOptions")] options: Option<JsValue>,
    ) -> Result<JsValue, JsValue> {
        let o: ScoreOptions = read_options(&options, "score options")?;
        let task = match o.task.as_deref() {
            None => dataset.inner.default_task(),
            Some(t) => Task::from_id(t).ok_or_else(|| {
                err(format!(
                    "unknown task `{t}` (use summarization, helpful or doc_qa)"
                ))
            })?,
        };
        let custom = o.factor_pack.as_ref().map(load_pack).transpose()?;
        let factors = o
            .factors
            .map(|fs| {
                fs.iter()
                    .map(|id| {
                        Factor::from_id(id).ok_or_else(|| {
                            err(format!(
                                "unknown factor `{id}` (custom factors come from `factorPack`)"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        // A pack without `factors`: the preset and the pack's factors.
        let factors = profile::analysis::with_custom(task, factors, &custom.unwrap_or_default());
        let defaults = BootstrapConfig::default();
        if o.bootstrap
            .is_some_and(|b| b > BootstrapConfig::MAX_RESAMPLES)
        {
            return Err(err(format!(
                "bootstrap takes at most {} resamples",
                BootstrapConfig::MAX_RESAMPLES
            ))
            .into());
        }
        let cfg = ScoreConfig {
            task,
            factors,
            bootstrap: BootstrapConfig {
                resamples: o.bootstrap.unwrap_or(defaults.resamples),
                seed: o.seed.unwrap_or(defaults.seed),
            },
        };
        Ok(to_js(&score_report(&dataset.inner, &cfg, &dataset.info))?)
    }

    /// Factor-level alignment (METHOD.md §3), as `profile align`: every agent
    /// against `reference` (default "human") over the factors both scored.
    #[wasm_bindgen(unchecked_return_type = "Alignment[]")]
    pub fn align(
        #[wasm_bindgen(unchecked_param_type = "Record<string, Record<string, number | null>>")]
        agents: JsValue,
        reference: Option<String>,
    ) -> Result<JsValue, JsError> {
        let agents: BTreeMap<String, BTreeMap<String, Option<f64>>> =
            serde_json::from_str(&json_text(&agents)?)
                .map_err(|e| err(format!("align takes {{agent: {{factor id: score}}}}: {e}")))?;
        let reference = reference.unwrap_or_else(|| "human".into());
        let base = agents
            .get(&reference)
            .ok_or_else(|| err(format!("no agent `{reference}` to align with")))?;
        let out: Vec<Alignment> = agents
            .iter()
            .filter(|(n, _)| **n != reference)
            .map(|(n, s)| {
                Alignment::between_tested(
                    n,
                    s,
                    &reference,
                    base,
                    profile::stats::PermutationConfig::default(),
                )
            })
            .collect();
        to_js(&out)
    }

    /// The report with `alignments` of every agent against the reference
    /// agent ("human", else the first), replacing any it had.
    #[wasm_bindgen(js_name = withAlignments, unchecked_return_type = "Report")]
    pub fn with_alignments(
        #[wasm_bindgen(unchecked_param_type = "Report | string")] input: JsValue,
    ) -> Result<JsValue, JsValue> {
        let mut r = report(&input)?;
        if let Some(reference) = model::reference(&r).cloned() {
            let base = reference.score_map();
            r.alignments = r
                .agents
                .iter()
                .filter(|a| a.name != reference.name)
                .map(|a| {
                    Alignment::between_tested(
                        &a.name,
                        &a.score_map(),
                        &reference.name,
                        &base,
                        profile::stats::PermutationConfig::default(),
                    )
                })
                .collect();
        }
        Ok(to_js(&r)?)
    }

    /// Checks a report (JSON text or object): the typed report, or a thrown
    /// `ReportError` whose `problems` say what is wrong and where.
    #[wasm_bindgen(js_name = parseReport, unchecked_return_type = "Report")]
    pub fn parse_report(
        #[wasm_bindgen(unchecked_param_type = "Report | string")] input: JsValue,
    ) -> Result<JsValue, JsValue> {
        Ok(to_js(&report(&input)?)?)
    }

    /// The problems of a report (JSON text or object); empty when it is valid.
    #[wasm_bindgen(js_name = checkReport, unchecked_return_type = "Problem[]")]
    pub fn check_report(
        #[wasm_bindgen(unchecked_param_type = "Report | string")] input: JsValue,
    ) -> Result<JsValue, JsError> {
        let problems = match embed::check_report(&json_text(&input)?) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems,
        };
        to_js(
            &problems
                .iter()
                .map(|p| serde_json::json!({"path": p.path, "message": p.message}))
                .collect::<Vec<_>>(),
        )
    }

    #[derive(Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct SvgOptions {
        agent: Option<String>,
        width: Option<f64>,
        title: Option<String>,
    }

    /// The factor-score chart of an agent as a standalone SVG document (the
    /// app's "Chart (SVG)" export); all text in it is escaped.
    #[wasm_bindgen(js_name = renderSvg)]
    pub fn render_svg(
        #[wasm_bindgen(unchecked_param_type = "Report | string")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SvgOptions")] options: Option<JsValue>,
    ) -> Result<String, JsValue> {
        let r = report(&input)?;
        let o: SvgOptions = read_options(&options, "renderSvg options")?;
        let agent = match &o.agent {
            Some(n) => r
                .agent(n)
                .ok_or_else(|| err(format!("the report has no agent `{n}`")))?,
            None => model::reference(&r).ok_or_else(|| err("the report has no agents"))?,
        };
        let chart = factor_chart(
            agent,
            &ChartOptions {
                width: o.width.unwrap_or(720.0),
                title: o.title.unwrap_or_else(|| {
                    format!(
                        "Factor scores of {} — {}",
                        agent.name,
                        r.dataset.name.as_deref().unwrap_or("dataset")
                    )
                }),
                ..Default::default()
            },
        );
        Ok(to_svg(&chart))
    }

    #[derive(Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct JsEmbedOptions {
        view: Option<String>,
        theme: Option<String>,
        agent: Option<String>,
        width: Option<f64>,
        #[serde(rename = "reportFile")]
        report_file: Option<String>,
    }

    impl JsEmbedOptions {
        fn embed(&self) -> Result<EmbedOptions, JsError> {
            let view = match self.view.as_deref() {
                None => WidgetView::default(),
                Some(v) => WidgetView::from_id(v).ok_or_else(|| {
                    err(format!(
                        "unknown view `{v}` (use factors, alignment or rankings)"
                    ))
                })?,
            };
            let theme = match self.theme.as_deref() {
                None => Theme::default(),
                Some(t) => Theme::from_id(t)
                    .ok_or_else(|| err(format!("unknown theme `{t}` (use auto, light or dark)")))?,
            };
            Ok(EmbedOptions {
                view,
                theme,
                agent: self.agent.clone(),
            })
        }
    }

    /// The widget's markup for a report and view (the `<profile-report>`
    /// element's content, styled by `widget.css`); every text is escaped.
    #[wasm_bindgen(js_name = renderHtml)]
    pub fn render_html(
        #[wasm_bindgen(unchecked_param_type = "Report | string")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "RenderOptions")] options: Option<JsValue>,
    ) -> Result<String, JsValue> {
        let r = report(&input)?;
        let o: JsEmbedOptions = read_options(&options, "renderHtml options")?;
        Ok(
            embed::render_report(&r, &o.embed()?, o.width.unwrap_or(640.0))
                .node
                .to_html(),
        )
    }

    /// CSV of every agent's factor scores (one row per agent and factor).
    #[wasm_bindgen(js_name = toCsv)]
    pub fn to_csv(
        #[wasm_bindgen(unchecked_param_type = "Report | string")] input: JsValue,
    ) -> Result<String, JsValue> {
        Ok(report(&input)?.factor_scores_csv())
    }

    /// The `embed.html` fragment (without `#`) for a report: the compacted
    /// report (no list of skipped records) deflated and base64url-encoded.
    #[wasm_bindgen(js_name = encodeEmbed)]
    pub fn encode_embed(
        #[wasm_bindgen(unchecked_param_type = "Report | string")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "EmbedOptions")] options: Option<JsValue>,
    ) -> Result<String, JsValue> {
        let r = embed::compact(&report(&input)?);
        let o: JsEmbedOptions = read_options(&options, "encodeEmbed options")?;
        let json = serde_json::to_string(&r).map_err(err)?;
        Ok(embed::encode_fragment(&json, &o.embed()?))
    }

    /// Reads an `embed.html` fragment back: its options and its checked report.
    #[wasm_bindgen(js_name = decodeEmbed, unchecked_return_type = "DecodedEmbed")]
    pub fn decode_embed(fragment: &str) -> Result<JsValue, JsValue> {
        let (o, text) = embed::decode_fragment(fragment).map_err(err)?;
        let r = embed::check_report(&text).map_err(report_error)?;
        let mut opts = serde_json::json!({"view": o.view.id(), "theme": o.theme.id()});
        if let Some(a) = o.agent {
            opts["agent"] = a.into();
        }
        Ok(to_js(&serde_json::json!({"options": opts, "report": r}))?)
    }

    /// The two embed snippets for a report served from `baseUrl` (the site
    /// with `widget.js` and `embed.html`), as the app's Embed panel shows them.
    #[wasm_bindgen(js_name = embedSnippets, unchecked_return_type = "Snippets")]
    pub fn embed_snippets(
        #[wasm_bindgen(js_name = baseUrl)] base_url: &str,
        #[wasm_bindgen(unchecked_param_type = "Report | string")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SnippetOptions")] options: Option<JsValue>,
    ) -> Result<JsValue, JsValue> {
        let r = report(&input)?;
        let o: JsEmbedOptions = read_options(&options, "embedSnippets options")?;
        let mut base = base_url.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        let s = embed::snippets(
            &base,
            &r,
            &o.embed()?,
            o.report_file.as_deref().unwrap_or("profile-report.json"),
        );
        Ok(to_js(&serde_json::json!({
            "script": s.script, "iframe": s.iframe, "embedUrl": s.embed_url,
            "fragmentLength": s.fragment_len, "height": s.height,
        }))?)
    }
}

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("the JavaScript library runs under wasm-bindgen: `bash build/npm-package.sh` writes it to pkg/");
}
