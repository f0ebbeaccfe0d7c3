//! The "Improve alignment" panel (METHOD.md §8). Its improvement half
//! (`profile improve`, [`ImproveView`]) is at the end of this file. The
//! guided-judging half (`profile guide`): the evidence of the report's judge (judge − human
//! factor score with its interval, and which factors qualify), the
//! GuideMis / GuideRand choice made from it (`state::GuideForm::offer`, the
//! core's `guide::choose`) with selects to override both, the estimate, the
//! run with progress, pause, resume and cancel, and the result: agreement
//! per condition with intervals (`chart::guidance_chart`), p-values and one
//! sentence per condition (`summary::guidance`). The model, key and
//! settings are the language-model panel's, which renders this one and
//! turns its actions into runs.

use std::rc::Rc;

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::chart::{fmt_score, guidance_chart};
use crate::factors::{display_name, Factor};
use crate::report::{GuidanceEvidence, GuidanceSection, Report};
use crate::state::{GuideForm, GuideOffer, LlmUi, Panel};

/// What the panel asks the language-model panel to do.
pub enum GuideAction {
    /// Estimate the guided run's calls and cost.
    Estimate,
    /// Run the guided experiment.
    Run,
    /// Run the model as judge (both orders) first: the evidence.
    Judge,
    Pause,
    Resume,
    Cancel,
    /// The factors were chosen.
    Set(GuideForm),
    /// Estimate, or run, the improvement experiment
    /// ([`ModelKind::Improve`](crate::protocol::ModelKind::Improve)).
    ImproveEstimate(crate::protocol::ModelKind),
    ImproveRun(crate::protocol::ModelKind),
}

#[derive(Properties, PartialEq)]
pub struct GuideProps {
    pub report: Rc<Report>,
    pub llm: LlmUi,
    pub form: GuideForm,
    /// The model of the language-model panel.
    pub model: String,
    /// The report's seed (GuideRand's draw).
    pub seed: u64,
    /// The language-model panel's settings problems, if any.
    pub errors: Vec<String>,
    pub on_action: Callback<GuideAction>,
    /// The run's progress view (the language-model panel's, with this id:
    /// a guided run's or an improvement run's).
    pub progress: Html,
}

fn ci_text(ci: Option<[f64; 2]>) -> String {
    ci.map_or("no interval".into(), |[lo, hi]| {
        format!("[{}, {}]", fmt_score(lo), fmt_score(hi))
    })
}

fn p_text(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "p < 0.001".into(),
        Some(p) => format!("p = {p:.3}"),
        None => "—".into(),
    }
}

/// Which strategy a factor's evidence qualifies it for.
fn qualifies(r: &GuidanceEvidence) -> &'static str {
    match r.ci95 {
        Some([lo, _]) if lo > 0.0 => "over-weighted: GuideMis",
        Some([_, hi]) if hi < 0.0 => "under-weighted: GuideMis if none is over-weighted",
        Some(_) => "no clear difference: GuideRand pool",
        None => "no interval: neither",
    }
}

fn factor_select(
    id: &'static str,
    label: &'static str,
    evidence: &[GuidanceEvidence],
    value: Option<Factor>,
    disabled: bool,
    on: Callback<Option<Factor>>,
) -> Html {
    let onchange = Callback::from(move |e: Event| {
        let v = e.target_unchecked_into::<HtmlSelectElement>().value();
        on.emit(Factor::from_id(&v));
    });
    html! {
        <label class="field" for={id}>
            <span>{label}</span>
            <select id={id} {onchange} {disabled}>
                <option value="" selected={value.is_none()}>{"from the evidence"}</option>
                { for evidence.iter().map(|r| html! {
                    <option value={r.factor.clone()} selected={value.is_some_and(|f| f.id() == r.factor)}>{display_name(&r.factor)}</option>
                }) }
            </select>
        </label>
    }
}

fn chart_view(section: &GuidanceSection) -> Html {
    let c = guidance_chart(section, 620.0, 34.0);
    html! {
        <figure class="chart-scroll">
            <svg id="guide-chart" viewBox={format!("0 0 {} {}", c.width, c.height)} width={c.width.to_string()} role="img" aria-labelledby="guide-chart-title guide-chart-desc" class="chart guidance">
                <title id="guide-chart-title">{format!("Agreement with people per condition — {}", section.model)}</title>
                <desc id="guide-chart-desc">{c.summary.clone()}</desc>
                { for c.ticks.iter().map(|t| html! {
                    <g class="tick">
                        <line x1={t.x.to_string()} x2={t.x.to_string()} y1={(c.plot_top - 4.0).to_string()} y2={c.plot_bottom.to_string()} class="grid" />
                        <text x={t.x.to_string()} y={(c.plot_bottom + 16.0).to_string()} text-anchor="middle">{t.label.clone()}</text>
                    </g>
                }) }
                if let Some(b) = c.baseline_x {
                    <line x1={b.to_string()} x2={b.to_string()} y1={(c.plot_top - 4.0).to_string()} y2={c.plot_bottom.to_string()} class="baseline" stroke-dasharray="4 3" />
                }
                { for c.rows.iter().map(|r| html! {
                    <g class="guide-row" tabindex="0" aria-label={r.description.clone()} data-strategy={r.strategy.clone()}>
                        <title>{r.description.clone()}</title>
                        <text x={c.label_x.to_string()} y={r.y.to_string()} text-anchor="end" dominant-baseline="middle" class="label">{r.label.clone()}</text>
                        if let Some([lo, hi]) = r.whisker {
                            <path d={format!("M{lo:.1} {:.1}V{:.1}M{lo:.1} {:.1}H{hi:.1}M{hi:.1} {:.1}V{:.1}", r.y - 6.0, r.y + 6.0, r.y, r.y - 6.0, r.y + 6.0)} class="whisker" />
                        }
                        if let Some(x) = r.x {
                            <circle cx={x.to_string()} cy={r.y.to_string()} r="5" class={if r.strategy == "none" { "dot base" } else { "dot" }} />
                        }
                        <text x={(c.plot_right + 8.0).to_string()} y={r.y.to_string()} dominant-baseline="middle" class="value">{r.value_text.clone()}</text>
                    </g>
                }) }
            </svg>
            <figcaption class="muted small">{"Dots: agreement with the human label on the pairs judged in every condition (a tie counts as disagreement). Dashed line: no guidance. Whiskers: the unguided agreement plus the 95% paired cluster-bootstrap interval of the difference, so a whisker clear of the dashed line is a difference whose interval excludes 0."}</figcaption>
        </figure>
    }
}

/// A model run's failed questions: a located error when every question
/// failed, else a count; the reasons and raw replies.
fn run_failures(what: String, run: Option<&crate::report::AgentRun>) -> Html {
    let Some(run) = run.filter(|r| r.failed > 0) else {
        return html! {};
    };
    let all = run.items == 0;
    html! {
        <div class={if all { "run-failures error" } else { "run-failures" }} data-all-failed={all.to_string()} data-failed={run.failed.to_string()} role={if all { "alert" } else { "status" }}>
            <p>{ if all {
                format!("{what}: every question failed — {} failed, no verdict on any of the {} pairs; the reasons and raw replies are below (“Run” again asks them again).", run.failed, run.items_planned)
            } else {
                format!("{what}: {} questions failed, {} of {} pairs judged; running again asks only those (the answered ones come from the cache).", run.failed, run.items, run.items_planned)
            } }</p>
            <details><summary>{"reasons and raw replies"}</summary>
                <ol>{ for run.failures.iter().take(50).map(super::super::model::failure_view) }</ol>
            </details>
        </div>
    }
}

fn result_view(section: &GuidanceSection, report: &Report) -> Html {
    html! {
        <div id="guide-result">
            <h4>{format!("Result: {} pairs of {} inputs judged in every condition", section.pairs, section.inputs)}</h4>
            { chart_view(section) }
            <div class="table-wrap">
                <table id="guide-conditions">
                    <thead><tr>
                        <th scope="col">{"condition"}</th><th scope="col">{"agreement"}</th>
                        <th scope="col">{"vs no guidance [95% CI]"}</th><th scope="col">{"p (sign-flip)"}</th>
                        <th scope="col">{"agent"}</th>
                    </tr></thead>
                    <tbody>
                        { for section.conditions.iter().map(|c| html! {
                            <tr data-strategy={c.strategy.clone()}>
                                <th scope="row">{c.strategy.clone()}</th>
                                <td class="num agreement">{c.agreement.map_or("—".into(), |a| format!("{a:.3}"))}</td>
                                <td class="num difference">{c.difference.map_or("—".into(), |d| format!("{} {}", fmt_score(d), ci_text(c.difference_ci95)))}</td>
                                <td class="num p">{p_text(c.p_value)}</td>
                                <td>{c.agent.clone()}</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
            <ul id="guide-conclusion" class="plain-summary">
                { for crate::summary::guidance(section).into_iter().map(|l| html! { <li>{l}</li> }) }
            </ul>
            <div id="guide-failures">
                { for section.conditions.iter().map(|c| run_failures(format!("judge, {}", c.strategy), report.agent(&c.agent).and_then(|a| a.run.as_ref()))) }
            </div>
            <p class="muted small">{format!("Intervals: {} resamples of the inputs; p-values: {} sign flips of the per-input differences{}.",
                section.bootstrap_resamples, section.permutations, if section.permutation_exact { " (all of them: exact)" } else { "" })}</p>
        </div>
    }
}

#[function_component(GuidePanel)]
pub fn guide_panel(p: &GuideProps) -> Html {
    let offer = p.form.offer(&p.report, &p.model, p.seed);
    let llm = &p.llm;
    let mine = llm.panel == Panel::Guide;
    let busy = llm.running;
    let emit = |a: fn() -> GuideAction| {
        let on = p.on_action.clone();
        Callback::from(move |_: MouseEvent| on.emit(a()))
    };
    let set = |which: fn(GuideForm, Option<Factor>) -> GuideForm| {
        let (on, form) = (p.on_action.clone(), p.form);
        Callback::from(move |f: Option<Factor>| on.emit(GuideAction::Set(which(form, f))))
    };
    let controls = html! {
        if busy && mine {
            if llm.paused {
                <button id="guide-resume" onclick={emit(|| GuideAction::Resume)}>{"Resume"}</button>
            } else {
                <button id="guide-pause" onclick={emit(|| GuideAction::Pause)}>{"Pause"}</button>
            }
            <button id="guide-cancel" onclick={emit(|| GuideAction::Cancel)}>{"Cancel"}</button>
        }
    };
    let body = match &offer {
        GuideOffer::NeedsJudge { judge } => html! {
            <div id="guide-needs-judge">
                if p.report.agent(judge).is_some() {
                    <p>{format!("Guided judging chooses its guidance from how the judge “{judge}” weighs the factors compared with people; that judge is in this report but its verdicts give no factor score to compare (see its failures below, if any). Run it again, or another model.")}</p>
                } else {
                    <p>{format!("Guided judging chooses its guidance from how the judge “{judge}” weighs the factors compared with people, and that judge is not in this report yet. Run the model as judge first (both orders, so the unguided condition is then answered from the cache).")}</p>
                }
                <div id="guide-judge-failures">{ run_failures(judge.clone(), p.report.agent(judge).and_then(|a| a.run.as_ref())) }</div>
                <div class="row buttons">
                    <button id="guide-run-judge" class="primary" onclick={emit(|| GuideAction::Judge)} disabled={busy}>{format!("Run {} as judge", p.model)}</button>
                    { controls.clone() }
                </div>
            </div>
        },
        GuideOffer::Ready { evidence, choice } => html! {
            <>
            <h4>{format!("Evidence: {} − human factor score", p.model)}</h4>
            <div class="table-wrap">
                <table id="guide-evidence">
                    <thead><tr>
                        <th scope="col">{"factor"}</th><th scope="col">{"judge"}</th><th scope="col">{"human"}</th>
                        <th scope="col" title="95% paired cluster-bootstrap interval over inputs">{"judge − human [95% CI]"}</th><th scope="col">{"qualifies for"}</th>
                    </tr></thead>
                    <tbody>
                        { for evidence.iter().map(|r| html! {
                            <tr data-factor={r.factor.clone()}>
                                <th scope="row">{display_name(&r.factor)}</th>
                                <td class="num">{crate::chart::fmt_score_opt(r.judge)}</td>
                                <td class="num">{crate::chart::fmt_score_opt(r.human)}</td>
                                <td class="num">{format!("{} {}", fmt_score(r.difference), ci_text(r.ci95))}</td>
                                <td>{qualifies(r)}</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
            if p.report.dataset.inputs < crate::stats::MIN_INPUTS_FOR_INTERVALS {
                <p class="muted small few-inputs">{format!("! {} inputs, fewer than {}: these intervals cover well below 95%, so the choice rests on little.", p.report.dataset.inputs, crate::stats::MIN_INPUTS_FOR_INTERVALS)}</p>
            }
            { match choice {
                Ok(c) => html! {
                    <ul id="guide-choice" class="plain-summary">
                        { for crate::guide::describe_choice(c).into_iter().map(|l| html! { <li>{l}</li> }) }
                    </ul>
                },
                Err(e) => html! { <p id="guide-none" class="notice" role="status">{e.clone()}</p> },
            } }
            <div class="model-form">
                { factor_select("guide-factor", "GuideMis factor", evidence, p.form.factor, busy, set(|g, f| GuideForm { factor: f, ..g })) }
                { factor_select("guide-rand-factor", "GuideRand factor", evidence, p.form.rand_factor, busy, set(|g, f| GuideForm { rand_factor: f, ..g })) }
            </div>
            <div class="row buttons">
                <button id="guide-estimate" onclick={emit(|| GuideAction::Estimate)} disabled={busy || choice.is_err()}>{"Estimate cost"}</button>
                <button id="guide-run" class="primary" onclick={emit(|| GuideAction::Run)} disabled={busy || choice.is_err()}>{"Run guided judging"}</button>
                { controls }
            </div>
            </>
        },
    };
    html! {
        <section class="panel" id="improve" aria-labelledby="improve-h">
            <h2 id="improve-h">{"Improve alignment"}</h2>
            <h3>{"Guided judging"}</h3>
            <p class="muted">{"One sentence of guidance about the factor the judge over-weights most compared with people (GuideMis), or about a factor it weighs like people (GuideRand, drawn with the report's seed), added to the judge's prompt; every pair judged in both orders with no guidance, with GuideMis and with GuideRand, on the model and settings of the language-model panel. Does the judge then agree more with people?"}</p>
            { body }
            if !p.errors.is_empty() && mine {
                <ul class="error" role="alert" id="guide-errors">
                    { for p.errors.iter().map(|e| html! { <li>{e.clone()}</li> }) }
                </ul>
            }
            if mine {
                if let Some(e) = &llm.error {
                    <div class="error" role="alert" id="guide-error"><pre>{e.clone()}</pre></div>
                }
            }
            if llm.estimate_panel == Panel::Guide {
                if let Some(e) = &llm.estimate {
                    <p id="guide-estimate-text" class="estimate">
                        {format!("{} pairs, every condition in both orders: {} questions; {} cached; about {} calls, {} input + {} output tokens, {}.",
                            e.pairs, e.questions, e.estimate.cached, e.estimate.calls,
                            super::super::model::fmt_tokens(e.estimate.input_tokens), super::super::model::fmt_tokens(e.estimate.output_tokens),
                            super::super::model::fmt_cost(e.estimate.cost_usd))}
                    </p>
                }
            }
            if mine { { p.progress.clone() } }
            if let Some(section) = &p.report.guidance {
                { result_view(section, &p.report) }
            }
            <ImproveView report={p.report.clone()} llm={p.llm.clone()} model={p.model.clone()}
                errors={p.errors.clone()} on_action={p.on_action.clone()} progress={p.progress.clone()} />
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ImproveProps {
    report: Rc<Report>,
    llm: LlmUi,
    model: String,
    errors: Vec<String>,
    on_action: Callback<GuideAction>,
    progress: Html,
}

/// The improvement half (METHOD.md §8, `profile improve`): the inputs and
/// the evaluator, the estimate of every stage (the later ones bounded), the
/// run with progress, pause, resume and cancel, and the result: τ with the
/// humans and with the evaluator per condition (the paper's Table 3), the
/// failed questions with their raw replies, and each input's texts to read
/// (text nodes only).
#[function_component(ImproveView)]
fn improve_view(p: &ImproveProps) -> Html {
    use crate::protocol::ModelKind;
    let inputs = use_state(|| "4".to_owned());
    let evaluator = use_state(String::new);
    let single_order = use_state(|| false);
    let evaluator_url = use_state(String::new);
    let problem = use_state(|| None::<String>);
    let llm = &p.llm;
    let mine = llm.panel == Panel::Improve;
    let busy = llm.running;
    let kind = {
        let (inputs, evaluator, problem, single_order, evaluator_url) = (
            inputs.clone(),
            evaluator.clone(),
            problem.clone(),
            single_order.clone(),
            evaluator_url.clone(),
        );
        move || {
            let n = match inputs.trim() {
                "" => None,
                t => match t.parse::<usize>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        problem.set(Some(
                            "inputs: a whole number of inputs to improve on, or empty for all"
                                .into(),
                        ));
                        return None;
                    }
                },
            };
            let kind = ModelKind::Improve {
                inputs: n,
                evaluator: Some(evaluator.trim().to_owned()).filter(|e| !e.is_empty()),
                single_order: *single_order,
                evaluator_base_url: Some(evaluator_url.trim().to_owned()).filter(|u| !u.is_empty()),
            };
            // The worker refuses it too (`Session::plan_model`).
            let why = kind.evaluator_problem();
            let ok = why.is_none();
            problem.set(why);
            ok.then_some(kind)
        }
    };
    let act = |wrap: fn(ModelKind) -> GuideAction| {
        let (on, kind) = (p.on_action.clone(), kind.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(k) = kind() {
                on.emit(wrap(k));
            }
        })
    };
    let emit = |a: fn() -> GuideAction| {
        let on = p.on_action.clone();
        Callback::from(move |_: MouseEvent| on.emit(a()))
    };
    let input = |id: &'static str,
                 label: &'static str,
                 v: &UseStateHandle<String>,
                 kind: &'static str,
                 placeholder: String| {
        let v2 = v.clone();
        let oninput = Callback::from(move |e: InputEvent| {
            v2.set(
                e.target_unchecked_into::<web_sys::HtmlInputElement>()
                    .value(),
            )
        });
        html! {
            <label class="field" for={id}>
                <span>{label}</span>
                <input id={id} type={kind} value={(**v).clone()} {placeholder} {oninput} disabled={busy} autocomplete="off" spellcheck="false" />
            </label>
        }
    };
    let section = p.report.improvement.as_ref();
    let retry = section.is_some_and(|s| s.failed > 0);
    html! {
        <div id="improve-experiment">
            <h3>{"Feedback-driven improvement"}</h3>
            <p class="muted">{"Per input, the writer (the model of the language-model panel) writes two responses; the evaluator picks the better one and says why; the writer writes an improved response from both and that feedback. Baselines: improved from both without feedback, and each improved alone. Each condition is scored in the improvement setting (improved preferred), and its factor ranking is compared (Kendall τ) with the people's and with the evaluator's, whose judge is run on the pairs first (free when it ran before, both orders)."}</p>
            <div class="model-form">
                { input("improve-inputs", "Inputs to improve on", &inputs, "number", "all".into()) }
                { input("improve-evaluator", "Evaluator model (same provider and key)", &evaluator, "text", p.model.clone()) }
                { input("improve-evaluator-base-url", "Evaluator address (as --evaluator-base-url)", &evaluator_url, "url", "the panel's".into()) }
            </div>
            <label class="kind" for="improve-single-order">
                <input id="improve-single-order" type="checkbox" checked={*single_order} disabled={busy}
                    onchange={{ let v = single_order.clone(); Callback::from(move |e: Event| v.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().checked())) }} />
                {" The evaluator judges each pair in one order (a coin flip seeded with the report's seed; half the judging calls, no position-bias control; as "}<code>{"profile improve --single-order"}</code>{")"}
            </label>
            <div class="row buttons">
                <button id="improve-estimate" onclick={act(GuideAction::ImproveEstimate)} disabled={busy}>{"Estimate cost"}</button>
                <button id="improve-run" class="primary" onclick={act(GuideAction::ImproveRun)} disabled={busy}>
                    { if retry { "Run again (retry failed)" } else { "Run the improvement experiment" } }</button>
                if busy && mine {
                    if llm.paused {
                        <button id="improve-resume" onclick={emit(|| GuideAction::Resume)}>{"Resume"}</button>
                    } else {
                        <button id="improve-pause" onclick={emit(|| GuideAction::Pause)}>{"Pause"}</button>
                    }
                    <button id="improve-cancel" onclick={emit(|| GuideAction::Cancel)}>{"Cancel"}</button>
                }
            </div>
            if let Some(e) = &*problem {
                <ul class="error" role="alert" id="improve-errors"><li>{e.clone()}</li></ul>
            } else if mine && !p.errors.is_empty() {
                <ul class="error" role="alert" id="improve-errors">
                    { for p.errors.iter().map(|e| html! { <li>{e.clone()}</li> }) }
                </ul>
            }
            if let Some(e) = llm.error.as_ref().filter(|_| mine) {
                <div class="error" role="alert" id="improve-error"><pre>{e.clone()}</pre></div>
            }
            if let Some(e) = llm.estimate.as_ref().filter(|_| llm.estimate_panel == Panel::Improve) {
                <ul id="improve-estimate-text" class="estimate plain-summary">
                    { for crate::improve::describe_estimate(&e.stages).into_iter().map(|l| html! { <li>{l}</li> }) }
                </ul>
            }
            if mine { { p.progress.clone() } }
            if let Some(s) = section { { improve_result(s, &p.report) } }
        </div>
    }
}

fn tau_text(t: Option<f64>, ci: Option<[f64; 2]>, n: usize) -> String {
    match t {
        Some(t) => format!("{} {} · {n} factors", fmt_score(t), ci_text(ci)),
        None => format!("— ({n} factors)"),
    }
}

fn improve_result(s: &crate::report::ImprovementSection, report: &Report) -> Html {
    let stopped = crate::improve::stopped(s);
    html! {
        <div id="improve-result">
            <h4>{format!("Result: {} of {} inputs with two first responses", s.inputs, s.inputs_planned)}</h4>
            <div id="improve-judge-failures">
                { run_failures(format!("evaluator {}, judging the pairs", s.evaluator), report.agent(&s.evaluator).and_then(|a| a.run.as_ref())) }
            </div>
            if !stopped.is_empty() {
                <ul id="improve-stopped" class="error" role="alert">
                    { for stopped.into_iter().map(|l| html! { <li>{l}</li> }) }
                </ul>
            }
            if !s.conditions.is_empty() {
                <div class="table-wrap">
                    <table id="improve-conditions">
                        <thead><tr>
                            <th scope="col">{"condition"}</th><th scope="col">{"pairs"}</th>
                            <th scope="col" title="Kendall τ_b of the factor scores, 95% paired cluster-bootstrap interval">{"τ with humans [95% CI]"}</th>
                            <th scope="col">{format!("τ with the evaluator {} [95% CI]", s.evaluator)}</th>
                            <th scope="col">{"agent"}</th>
                        </tr></thead>
                        <tbody>
                            { for s.conditions.iter().map(|c| html! {
                                <tr data-condition={c.condition.clone()}>
                                    <th scope="row">{c.condition.clone()}</th>
                                    <td class="num">{c.pairs}</td>
                                    <td class="num tau-human">{tau_text(c.kendall_tau_human, c.kendall_tau_human_ci95, c.n_factors_human)}</td>
                                    <td class="num tau-evaluator">{tau_text(c.kendall_tau_evaluator, c.kendall_tau_evaluator_ci95, c.n_factors_evaluator)}</td>
                                    <td>{c.agent.clone()}</td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                </div>
            }
            <ul id="improve-conclusion" class="plain-summary">
                { for crate::improve::describe(s).into_iter().map(|l| html! { <li>{l}</li> }) }
            </ul>
            if !s.failures.is_empty() {
                <details id="improve-failures">
                    <summary>{format!("{} failed questions (reason and raw reply); “Run again” asks them again, the answered ones come from the cache", s.failures.len())}</summary>
                    <ol>{ for s.failures.iter().take(200).map(super::super::model::failure_view) }</ol>
                </details>
            }
            <details id="improve-items">
                <summary>{format!("Read each input's texts ({} inputs)", s.items.len())}</summary>
                if s.items.len() > 100 { <p class="muted">{"The first 100 inputs; all of them are in the exported report."}</p> }
                { for s.items.iter().take(100).map(|i| html! {
                    <article class="improve-item" data-line={i.line.to_string()}>
                        <h5>{format!("Input at line {}", i.line)}</h5>
                        { for item_texts(i).into_iter().map(|(label, text)| html! {
                            <div class="text-block"><span class="muted">{label}</span>
                                if let Some(t) = text { <pre class="text">{t}</pre> }</div>
                        }) }
                    </article>
                }) }
            </details>
        </div>
    }
}

/// One input's texts to read, in order, each with its label (`None`: no
/// text under the label).
fn item_texts(i: &crate::report::ImprovementItem) -> Vec<(String, Option<String>)> {
    if i.responses.is_empty() {
        return vec![("No first responses (the call failed).".into(), None)];
    }
    let shown = |t: &Option<String>| {
        Some(
            t.clone()
                .unwrap_or_else(|| "(not written: the call failed)".into()),
        )
    };
    let mut out: Vec<(String, Option<String>)> = i
        .responses
        .iter()
        .enumerate()
        .map(|(k, r)| (format!("First response {}", k + 1), Some(r.clone())))
        .collect();
    let verdict = match i.better.as_deref() {
        Some("tie") => "a tie".to_owned(),
        Some(b) => format!("response {b} is better"),
        None => "no verdict (the call failed)".to_owned(),
    };
    out.push((format!("Evaluator: {verdict}"), i.justification.clone()));
    out.push(("Improved with feedback".into(), shown(&i.improved_feedback)));
    out.push((
        "Improved from both, no feedback".into(),
        shown(&i.improved_both),
    ));
    for (k, t) in i.improved_single.iter().enumerate() {
        out.push((format!("Response {} improved alone", k + 1), shown(t)));
    }
    out
}
