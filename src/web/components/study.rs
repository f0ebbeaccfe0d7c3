//! "The paper's study": published factor scores (task → agent → factor →
//! score) shown with the alignment table, the ranking chart and the
//! heatmap, for the task picked. Published results have no pairs, so the
//! panel says so and shows no interval, count or drill-down.

use yew::prelude::*;

use crate::chart::{fmt_score_opt, heatmap, ranking_chart};
use crate::report::Alignment;
use crate::state::StudyUi;
use crate::stats::{PermutationConfig, Setting};

#[derive(Properties, PartialEq)]
pub struct StudyProps {
    pub study: StudyUi,
    pub on_task: Callback<String>,
    pub on_close: Callback<()>,
    /// The name of the report the study replaces (for "back to …").
    #[prop_or_default]
    pub back_to: Option<String>,
}

fn with_p(x: Option<f64>, p: Option<f64>) -> String {
    let mut s = fmt_score_opt(x);
    if let Some(p) = p {
        s += &if p < 0.001 {
            " p<0.001".to_owned()
        } else {
            format!(" p={p:.3}")
        };
    }
    s
}

fn row(al: &Alignment) -> Html {
    let role = match crate::published::setting_of(&al.agent) {
        Setting::Generation => "writer",
        _ => "judge",
    };
    html! {
        <tr data-agent={al.agent.clone()}>
            <th scope="row">{al.agent.clone()}</th>
            <td>{role}</td>
            <td class="num tau">{with_p(al.kendall_tau, al.kendall_tau_p)}</td>
            <td class="num">{with_p(al.spearman_rho, al.spearman_rho_p)}</td>
            <td class="num">{with_p(al.pearson_r, al.pearson_r_p)}</td>
            <td class="num">{al.n_factors}</td>
        </tr>
    }
}

#[function_component(StudyPanel)]
pub fn study_panel(p: &StudyProps) -> Html {
    let st = &p.study;
    let task = st.task.clone();
    let alignments = {
        let (study, task) = (st.study.clone(), task.clone());
        use_memo((study, task), |(study, task)| {
            study.alignments(task, PermutationConfig::default())
        })
    };
    let agents = st.study.agents(&task);
    let rank = ranking_chart(&agents, 200.0, 26.0);
    let heat = heatmap(&agents, 120.0, 26.0);
    let on_task = {
        let cb = p.on_task.clone();
        Callback::from(move |e: Event| {
            let s: web_sys::HtmlSelectElement = e.target_unchecked_into();
            cb.emit(s.value());
        })
    };
    let on_close = p.on_close.reform(|_: MouseEvent| ());
    let perm = PermutationConfig::default();
    html! {
        <section class="panel" id="study" aria-labelledby="study-h">
            <h2 id="study-h">{"The paper's study: published factor scores"}</h2>
            <p class="notice published" id="study-note">{"Published results, not your data: the factor scores Oh, Kim et al. (2024) report in Appendix F (Tables 5–7) for people and eight models as writers and judges, as printed. There are no pairs behind them, so there are no intervals, counts or drill-down here; the p-values only test each ranking against shuffled factor labels."}</p>
            <div class="row">
                <label>{"Task "}
                    <select id="study-task" onchange={on_task}>
                        { for st.study.task_names().into_iter().map(|t| html! {
                            <option value={t.to_owned()} selected={t == task}>{t.to_owned()}</option>
                        }) }
                    </select>
                </label>
                <button type="button" id="study-close" onclick={on_close}>{ match &p.back_to { Some(n) => format!("Back to {n}"), None => "Close".to_owned() } }</button>
            </div>
            <div class="table-wrap">
                <table id="study-alignment">
                    <thead><tr>
                        <th scope="col">{"model"}</th><th scope="col">{"as"}</th>
                        <th scope="col" title="Kendall τ_b with the humans' factor scores, and its permutation p-value">{"τ_b"}</th><th scope="col">{"ρ"}</th><th scope="col">{"r"}</th><th scope="col">{"factors"}</th>
                    </tr></thead>
                    <tbody>{ for alignments.iter().map(row) }</tbody>
                </table>
            </div>
            <p class="muted small">{format!("p: two-sided permutation p-values ({} shuffles of the factor labels, or every order when n! is smaller; seed {}). `profile align FILE --task {}` prints the same table.", perm.permutations, perm.seed, task)}</p>
            <h3>{"Factor rankings"}</h3>
            { super::super::alignment::ranking_figure(&rank) }
            <h3>{"Factor scores by agent"}</h3>
            { super::super::alignment::heatmap_figure(&heat) }
        </section>
    }
}
