//! Published factor scores: a study reported as score maps, without pairs
//! (issue 15 §3). The paper's Appendix F (Tables 5–7, in
//! `../shared/data/paper/factor_scores.json`) is laid out task → agent →
//! factor id → score; `profile align` and the app's "the paper's study"
//! read it through here, so both show the same agents and the same
//! alignments.
//!
//! There are no pairs behind a published score, so nothing here has an
//! interval or a count: an agent's factor scores carry the score alone
//! (counts 0), and alignments are rank correlations with permutation
//! p-values over the factors (the only randomness a score map allows).

use std::collections::BTreeMap;

use crate::factors::Factor;
use crate::report::{ranking, Agent, Alignment, FactorScoreEntry};
use crate::stats::{PermutationConfig, Setting};

/// Agent name → factor id → score (`null`: not measured).
pub type ScoreMaps = BTreeMap<String, BTreeMap<String, Option<f64>>>;

/// The largest published study read (bytes of JSON): the paper's is 12 kB.
pub const MAX_STUDY_BYTES: usize = 4 << 20;

/// A study laid out task → agent → factor → score; every task has a
/// `human` agent and every factor id is known.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub tasks: BTreeMap<String, ScoreMaps>,
}

impl Published {
    /// Reads the task → agent → factor → score layout. `Ok(None)`: the
    /// value is another layout (e.g. agent → factor → score, which has a
    /// `human` key at the top).
    ///
    /// # Errors
    /// A sentence naming the task, agent and factor at fault: a task that
    /// is not an object of agents, a task without a `human` agent, a score
    /// that is not a number or `null`, an unknown factor id.
    pub fn from_value(v: &serde_json::Value) -> Result<Option<Published>, String> {
        let Some(obj) = v.as_object() else {
            return Ok(None);
        };
        if obj.is_empty() || obj.contains_key("human") {
            return Ok(None);
        }
        // The layout is task → agents only if every value is an object
        // whose values are objects (agents); anything else is another layout.
        let nested = obj.values().all(|agents| {
            agents
                .as_object()
                .is_some_and(|a| !a.is_empty() && a.values().all(|s| s.is_object()))
        });
        if !nested {
            return Ok(None);
        }
        let mut tasks = BTreeMap::new();
        for (task, agents) in obj {
            let agents = agents.as_object().expect("checked above");
            if !agents.contains_key("human") {
                return Err(format!(
                    "task `{task}`: no \"human\" agent to align with (its agents: {})",
                    agents.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
            let mut maps = ScoreMaps::new();
            for (agent, scores) in agents {
                let scores = scores.as_object().expect("checked above");
                let mut map = BTreeMap::new();
                for (id, s) in scores {
                    if Factor::from_id(id).is_none() {
                        return Err(format!(
                            "task `{task}`, agent `{agent}`: unknown factor `{id}`"
                        ));
                    }
                    let score = match s {
                        serde_json::Value::Null => None,
                        serde_json::Value::Number(n) => n.as_f64().filter(|x| x.is_finite()),
                        _ => None,
                    };
                    if score.is_none() && !s.is_null() {
                        return Err(format!(
                            "task `{task}`, agent `{agent}`, factor `{id}`: a score is a number or null, not {s}"
                        ));
                    }
                    map.insert(id.clone(), score);
                }
                maps.insert(agent.clone(), map);
            }
            tasks.insert(task.clone(), maps);
        }
        Ok(Some(Published { tasks }))
    }

    /// Reads a study from JSON text (at most [`MAX_STUDY_BYTES`]).
    ///
    /// # Errors
    /// As [`Published::from_value`], and for text that is too large, not
    /// JSON, or of another layout.
    pub fn parse(text: &str) -> Result<Published, String> {
        if text.len() > MAX_STUDY_BYTES {
            return Err(format!(
                "{} bytes; a published study has at most {MAX_STUDY_BYTES}",
                text.len()
            ));
        }
        let v = crate::data::strict::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        Published::from_value(&v)?.ok_or_else(|| {
            "expected an object mapping tasks to agents to {factor id: score}".to_owned()
        })
    }

    /// The task names, in order.
    pub fn task_names(&self) -> Vec<&str> {
        self.tasks.keys().map(String::as_str).collect()
    }

    /// The agents of `task` (the humans first, then by name), each with its
    /// published scores alone; empty for an unknown task.
    pub fn agents(&self, task: &str) -> Vec<Agent> {
        let Some(maps) = self.tasks.get(task) else {
            return Vec::new();
        };
        // The humans, then the others in name order (no sort: the map is
        // ordered, and a sort of agents costs the app's first load).
        let human = maps.iter().filter(|(n, _)| setting_of(n) == Setting::Human);
        let others = maps.iter().filter(|(n, _)| setting_of(n) != Setting::Human);
        human.chain(others).map(|(n, s)| agent(n, s)).collect()
    }

    /// Every other agent of `task` against the humans: rank correlations
    /// over the factors both scored, with permutation p-values.
    pub fn alignments(&self, task: &str, perm: PermutationConfig) -> Vec<Alignment> {
        let Some(maps) = self.tasks.get(task) else {
            return Vec::new();
        };
        let Some(human) = maps.get("human") else {
            return Vec::new();
        };
        maps.iter()
            .filter(|(n, _)| n.as_str() != "human")
            .map(|(n, s)| Alignment::between_tested(n, s, "human", human, perm))
            .collect()
    }
}

/// The setting a published agent's name states: `human`, `… (writer)` or
/// `… (gen)` (the paper's generation setting), anything else a judge
/// (`… (judge)`, `… (eval)`).
pub fn setting_of(name: &str) -> Setting {
    let n = name.trim().to_ascii_lowercase();
    if n == "human" {
        Setting::Human
    } else if n.ends_with("(writer)") || n.ends_with("(gen)") || n.ends_with("(generation)") {
        Setting::Generation
    } else {
        Setting::Evaluation
    }
}

fn agent(name: &str, scores: &BTreeMap<String, Option<f64>>) -> Agent {
    let setting = setting_of(name);
    let factor_scores: BTreeMap<String, FactorScoreEntry> = scores
        .iter()
        .map(|(id, s)| {
            (
                id.clone(),
                FactorScoreEntry {
                    score: *s,
                    ..Default::default()
                },
            )
        })
        .collect();
    Agent {
        name: name.to_owned(),
        setting,
        tie_policy: "published scores (no pairs)".into(),
        ranking: ranking(&factor_scores),
        factor_scores,
        run: None,
        joint: None,
        guidance: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn study() -> Published {
        Published::from_value(&json!({
            "t1": {
                "human": {"length": 0.5, "fluency": 0.1, "coherence": -0.2},
                "M (judge)": {"length": 0.4, "fluency": 0.2, "coherence": -0.1},
                "M (writer)": {"length": -0.4, "fluency": 0.2, "coherence": null}
            },
            "t2": {"human": {"length": 0.1}, "N (judge)": {"length": 0.3}}
        }))
        .unwrap()
        .unwrap()
    }

    #[test]
    fn agents_settings_and_alignments() {
        let s = study();
        assert_eq!(s.task_names(), ["t1", "t2"]);
        let agents = s.agents("t1");
        let names: Vec<&str> = agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["human", "M (judge)", "M (writer)"]);
        let settings: Vec<Setting> = agents.iter().map(|a| a.setting).collect();
        assert_eq!(
            settings,
            [Setting::Human, Setting::Evaluation, Setting::Generation]
        );
        assert_eq!(agents[0].ranking, ["length", "fluency", "coherence"]);
        assert_eq!(agents[2].factor_scores["coherence"].score, None);
        assert_eq!(agents[2].factor_scores["length"].n_pairs, 0);
        let al = s.alignments("t1", PermutationConfig::default());
        assert_eq!(al.len(), 2);
        // The judge ranks the three factors as the humans do: τ = 1.
        assert_eq!(al[0].agent, "M (judge)");
        assert_eq!(al[0].kendall_tau, Some(1.0));
        // The writer shares two scored factors, in the opposite order.
        assert_eq!(al[1].n_factors, 2);
        assert_eq!(al[1].kendall_tau, Some(-1.0));
        assert!(s.agents("nope").is_empty() && s.alignments("nope", Default::default()).is_empty());
    }

    #[test]
    fn layouts_and_located_errors() {
        // The flat layout (agent → factor → score) is not this one.
        assert_eq!(
            Published::from_value(&json!({"human": {"length": 1.0}})).unwrap(),
            None
        );
        assert_eq!(Published::from_value(&json!([1, 2])).unwrap(), None);
        let err = |v| Published::from_value(&v).unwrap_err();
        assert_eq!(
            err(json!({"t": {"M": {"length": 1.0}}})),
            "task `t`: no \"human\" agent to align with (its agents: M)"
        );
        assert_eq!(
            err(json!({"t": {"human": {"lenght": 1.0}}})),
            "task `t`, agent `human`: unknown factor `lenght`"
        );
        assert!(err(json!({"t": {"human": {"length": "high"}}}))
            .contains("factor `length`: a score is a number or null"));
        assert!(Published::parse("{").unwrap_err().starts_with("not JSON"));
        assert!(Published::parse(&" ".repeat(MAX_STUDY_BYTES + 1))
            .unwrap_err()
            .contains("at most"));
    }
}
