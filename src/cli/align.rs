//! `profile align`.

use super::*;

pub(super) fn cmd_align(args: &[String]) -> Result<String, Failure> {
    let f = parse_flags(args, &["permutations", "seed", "task"], &["json"])?;
    let mut perm = PermutationConfig::default();
    if let Some(n) = f.values.get("permutations") {
        perm.permutations = n
            .parse()
            .ok()
            .filter(|&p| p <= PermutationConfig::MAX_PERMUTATIONS)
            .ok_or_else(|| {
                usage_error(format!(
                    "--permutations takes a count from 0 to at most {}, not `{n}`",
                    PermutationConfig::MAX_PERMUTATIONS
                ))
            })?;
    }
    if let Some(s) = parse_num(&f, "seed")? {
        perm.seed = s;
    }
    let [path] = f.positional.as_slice() else {
        return Err(usage_error("`profile align` takes one FILE.json"));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| data_error(format!("cannot read {path}: {e}")))?;
    let value = crate::data::strict::from_str(&text).map_err(|e| {
        data_error(format!(
            "{path}: expected an object mapping agent names to {{factor id: score}}: {e}"
        ))
    })?;
    let json = f.switches.iter().any(|s| s == "json");
    // The paper's layout (../shared/data/paper/factor_scores.json): task →
    // agent → factor → score. One table per task, or the task of --task.
    let published = crate::published::Published::from_value(&value)
        .map_err(|e| data_error(format!("{path}: {e}")))?;
    if let Some(study) = published {
        let chosen: Vec<&str> = match f.values.get("task") {
            Some(t) => vec![study
                .task_names()
                .into_iter()
                .find(|k| k == t)
                .ok_or_else(|| {
                    usage_error(format!(
                        "--task `{t}` is not in {path}; its tasks: {}",
                        study.task_names().join(", ")
                    ))
                })?],
            None => study.task_names(),
        };
        let mut out = serde_json::Map::new();
        let mut s = String::new();
        let mut tested = false;
        for task in chosen {
            let alignments = study.alignments(task, perm);
            tested |= alignments.iter().any(|a| a.permutations.is_some());
            if json {
                out.insert(
                    task.to_owned(),
                    serde_json::to_value(&alignments).expect("serialisable"),
                );
            } else {
                if !s.is_empty() {
                    s.push('\n');
                }
                let _ = writeln!(s, "task {task}:");
                s += &table(&alignments);
            }
        }
        if json {
            return Ok(serde_json::to_string_pretty(&out).expect("serialisable") + "\n");
        }
        return Ok(s + &permutation_note(perm, tested));
    }
    if f.values.contains_key("task") {
        return Err(usage_error(format!(
            "--task picks a task of a file laid out task → agent → factor → score; {path} \
             maps agents to scores"
        )));
    }
    let agents: Agents = serde_json::from_value(value).map_err(|e| {
        data_error(format!(
            "{path}: expected an object mapping agent names to {{factor id: score}}: {e}"
        ))
    })?;
    let alignments = align_agents(path, &agents, perm)?;
    if json {
        return Ok(serde_json::to_string_pretty(&alignments).expect("serialisable") + "\n");
    }
    let tested = alignments.iter().any(|a| a.permutations.is_some());
    Ok(table(&alignments) + &permutation_note(perm, tested))
}

/// Agent name → factor id → score (`null`: not measured).
type Agents = BTreeMap<String, BTreeMap<String, Option<f64>>>;

/// Every agent's alignment with the `human` agent; `what` names the file
/// (and task) in errors.
fn align_agents(
    what: &str,
    agents: &Agents,
    perm: PermutationConfig,
) -> Result<Vec<Alignment>, Failure> {
    let human = agents
        .get("human")
        .ok_or_else(|| data_error(format!("{what}: no \"human\" agent to align with")))?;
    for (name, scores) in agents {
        for id in scores.keys() {
            if Factor::from_id(id).is_none() {
                return Err(data_error(format!(
                    "{what}: agent `{name}`: unknown factor `{id}`"
                )));
            }
        }
    }
    Ok(agents
        .iter()
        .filter(|(n, _)| n.as_str() != "human")
        .map(|(n, s)| Alignment::between_tested(n, s, "human", human, perm))
        .collect())
}

/// The alignment table.
fn table(alignments: &[Alignment]) -> String {
    let mut s = format!(
        "{:<24} {:>8} {:>12} {:>8} {:>12} {:>8} {:>10} {:>8}\n",
        "agent", "factors", "kendall_tau", "p", "spearman_rho", "p", "pearson_r", "p"
    );
    for a in alignments {
        let _ = writeln!(
            s,
            "{:<24} {:>8} {} {} {} {} {} {}",
            a.agent,
            a.n_factors,
            fmt_opt(a.kendall_tau, 12),
            fmt_p(a.kendall_tau_p, 8),
            fmt_opt(a.spearman_rho, 12),
            fmt_p(a.spearman_rho_p, 8),
            fmt_opt(a.pearson_r, 10),
            fmt_p(a.pearson_r_p, 8)
        );
    }
    s
}

/// The line under the tables that says how the p-values were computed.
fn permutation_note(perm: PermutationConfig, tested: bool) -> String {
    if !tested {
        return String::new();
    }
    format!(
        "\np: two-sided permutation p-values (the agent's factor labels shuffled: every order when n! ≤ {n}, else {n} shuffles, seed {})\n",
        perm.seed,
        n = perm.permutations
    )
}
