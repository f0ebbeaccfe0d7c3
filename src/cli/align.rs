//! `profile align`.

use super::*;

pub(super) fn cmd_align(args: &[String]) -> Result<String, Failure> {
    let f = parse_flags(args, &["permutations", "seed"], &["json"])?;
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
    let agents: BTreeMap<String, BTreeMap<String, Option<f64>>> =
        crate::data::strict::from_str(&text)
            .and_then(serde_json::from_value)
            .map_err(|e| {
                data_error(format!(
                    "{path}: expected an object mapping agent names to {{factor id: score}}: {e}"
                ))
            })?;
    let human = agents
        .get("human")
        .ok_or_else(|| data_error(format!("{path}: no \"human\" agent to align with")))?;
    for (name, scores) in &agents {
        for id in scores.keys() {
            if Factor::from_id(id).is_none() {
                return Err(data_error(format!(
                    "{path}: agent `{name}`: unknown factor `{id}`"
                )));
            }
        }
    }
    let alignments: Vec<Alignment> = agents
        .iter()
        .filter(|(n, _)| n.as_str() != "human")
        .map(|(n, s)| Alignment::between_tested(n, s, "human", human, perm))
        .collect();
    if f.switches.iter().any(|s| s == "json") {
        return Ok(serde_json::to_string_pretty(&alignments).expect("serialisable") + "\n");
    }
    let mut s = format!(
        "{:<24} {:>8} {:>12} {:>8} {:>12} {:>8} {:>10} {:>8}\n",
        "agent", "factors", "kendall_tau", "p", "spearman_rho", "p", "pearson_r", "p"
    );
    for a in &alignments {
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
    if alignments.iter().any(|a| a.permutations.is_some()) {
        let _ = writeln!(
            s,
            "\np: two-sided permutation p-values (the agent's factor labels shuffled: every order when n! ≤ {n}, else {n} shuffles, seed {})",
            perm.seed,
            n = perm.permutations
        );
    }
    Ok(s)
}
