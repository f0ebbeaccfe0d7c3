//! The module table of ARCHITECTURE.md is the rule: every `crate::<module>`
//! path in a core module's non-test code must name a module that its row's
//! "may depend on" cell allows. The test reads both the table and the
//! sources, so neither can drift from the other unnoticed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The crate's top-level modules that form the pure core (everything in
/// `src/lib.rs` but the edges `cli` and `web`).
fn core_modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(Path::new(ROOT).join("src/lib.rs")).unwrap();
    let mods: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').trim().to_string())
        .filter(|m| m != "cli" && m != "web")
        .collect();
    assert!(
        mods.len() >= 10,
        "src/lib.rs lists too few modules: {mods:?}"
    );
    mods
}

/// Module → the modules it may depend on, from ARCHITECTURE.md's table.
fn allowed_table(core: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let mut table = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| `module` | what | may depend on | invariant |" → 6 pieces.
        if cells.len() < 6 || !cells[1].starts_with('`') {
            continue;
        }
        let module = ticked(cells[1]).into_iter().next().unwrap_or_default();
        if !core.contains(&module) {
            continue;
        }
        let deps_cell = cells[3];
        let deps: BTreeSet<String> = if deps_cell == "nothing" {
            BTreeSet::new()
        } else {
            ticked(deps_cell)
                .into_iter()
                .map(|d| d.split("::").next().unwrap_or_default().to_string())
                .filter(|d| core.contains(d))
                .collect()
        };
        assert!(
            deps_cell == "nothing" || !deps.is_empty(),
            "ARCHITECTURE.md: the row of `{module}` names no module in \"may depend on\" ({deps_cell:?}); write `nothing` or name them in backticks"
        );
        table.insert(module, deps);
    }
    table
}

/// The `backticked` words of a table cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source of a module without comments and without `#[cfg(test)]`
/// items (tests may use anything), as (line number, code) pairs.
fn code_lines(src: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut skip_depth: Option<i64> = None;
    let mut pending_cfg_test = false;
    for (i, raw) in src.lines().enumerate() {
        let code = strip_comment(raw);
        let trimmed = code.trim();
        if let Some(depth) = skip_depth.as_mut() {
            *depth += braces(&code);
            if *depth <= 0 && code.contains('}') {
                skip_depth = None;
            }
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            pending_cfg_test = true;
            continue;
        }
        if pending_cfg_test && !trimmed.is_empty() && !trimmed.starts_with("#[") {
            pending_cfg_test = false;
            let depth = braces(&code);
            if depth > 0 {
                skip_depth = Some(depth);
            }
            // A one-line item (`use …;`) under cfg(test) is skipped too.
            continue;
        }
        out.push((i + 1, code));
    }
    out
}

fn braces(code: &str) -> i64 {
    code.chars()
        .map(|c| match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        })
        .sum()
}

/// The line without a `//` comment (a `//` inside a string literal is kept:
/// the quote count before it is odd).
fn strip_comment(line: &str) -> String {
    let mut from = 0;
    while let Some(at) = line[from..].find("//") {
        let at = from + at;
        if line[..at].matches('"').count() % 2 == 0 {
            return line[..at].to_string();
        }
        from = at + 2;
    }
    line.to_string()
}

/// The top-level modules a line names through `crate::`: `crate::a::x`,
/// `crate::{a::x, b}`.
fn crate_refs(code: &str) -> Vec<String> {
    let mut refs = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        // `$crate::` and `some_crate::` are not this crate's paths.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        refs.push(head(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            refs.push(head(&item));
        } else {
            refs.push(head(rest));
        }
    }
    refs.retain(|r| !r.is_empty());
    refs
}

fn head(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

#[test]
fn core_modules_depend_only_on_what_architecture_md_allows() {
    let core = core_modules();
    let table = allowed_table(&core);
    let missing: Vec<&String> = core.iter().filter(|m| !table.contains_key(*m)).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's module table has no row for {missing:?}"
    );
    let mut violations = Vec::new();
    for module in &core {
        let src = Path::new(ROOT).join("src");
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        let file = src.join(format!("{module}.rs"));
        if file.is_file() {
            files.push(file);
        }
        assert!(!files.is_empty(), "no source for module `{module}`");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (line, code) in code_lines(&text) {
                for dep in crate_refs(&code) {
                    if dep == *module || !core.contains(&dep) && dep != "cli" && dep != "web" {
                        continue;
                    }
                    if !table[module].contains(&dep) {
                        violations.push(format!(
                            "{}:{line}: `{module}` uses `crate::{dep}`, which ARCHITECTURE.md does not allow",
                            file.strip_prefix(ROOT).unwrap_or(&file).display()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "module boundaries broken (fix the code, or the table with a reason):\n{}",
        violations.join("\n")
    );
}

/// The table's "may depend on" relation has no cycle: the core is layered.
#[test]
fn the_allowed_dependencies_form_no_cycle() {
    let core = core_modules();
    let table = allowed_table(&core);
    // Kahn's algorithm over "module → dependency" edges.
    let mut remaining = table.clone();
    loop {
        let leaves: Vec<String> = remaining
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !remaining.contains_key(d)))
            .map(|(m, _)| m.clone())
            .collect();
        if leaves.is_empty() {
            break;
        }
        for leaf in leaves {
            remaining.remove(&leaf);
        }
    }
    assert!(
        remaining.is_empty(),
        "ARCHITECTURE.md allows a dependency cycle among {:?}",
        remaining.keys().collect::<Vec<_>>()
    );
}

#[test]
fn the_scanner_sees_what_it_must() {
    assert_eq!(crate_refs("use crate::data::{A, B};"), ["data"]);
    assert_eq!(
        crate_refs("use crate::{data::X, stats::{Rng, Y}, factors};"),
        ["data", "stats", "factors"]
    );
    assert_eq!(
        crate_refs("let x = crate::llm::f(crate::stats::g());"),
        ["llm", "stats"]
    );
    assert!(crate_refs("$crate::x; other_crate::y").is_empty());
    assert_eq!(strip_comment("a(); // crate::llm"), "a(); ");
    assert_eq!(
        strip_comment(r#"f("http://x"); // c"#),
        r#"f("http://x"); "#
    );
    let src = "use crate::a::X;\n/// see [`crate::b`]\n#[cfg(test)]\nmod tests {\n    use crate::c::Y;\n    fn f() { }\n}\nuse crate::d::Z;\n";
    let refs: Vec<String> = code_lines(src)
        .iter()
        .flat_map(|(_, c)| crate_refs(c))
        .collect();
    assert_eq!(refs, ["a", "d"]);
}

/// The model-run question families (issue 12): `llm::extract` (factor
/// questions) and `llm::roles` (judges and writers) both depend on
/// `llm::question` and never name each other outside tests; `llm::question`
/// names neither.
#[test]
fn llm_question_families_do_not_depend_on_each_other() {
    let read = |f: &str| std::fs::read_to_string(Path::new(ROOT).join(f)).unwrap();
    for (file, others) in [
        ("src/llm/extract.rs", &["roles::"][..]),
        ("src/llm/roles.rs", &["extract::"][..]),
        (
            "src/llm/question.rs",
            &["roles::", "extract::", "ask::"][..],
        ),
    ] {
        let src = read(file);
        for (n, code) in code_lines(&src) {
            for other in others {
                assert!(!code.contains(other), "{file}:{n} names {other}: {code}");
            }
        }
        if !file.ends_with("question.rs") {
            assert!(src.contains("question::"), "{file} uses llm::question");
        }
    }
}
