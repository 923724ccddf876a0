//! The docs match the code: `docs/commands.md` documents exactly the commands
//! of the registry, each parameter with the registry's type and default, and
//! every plan example in the docs validates.

use loaddensity::commands::COMMANDS;
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn commands_doc_matches_the_registry() {
    let list = command_sections(&read("docs/commands.md"));
    let order: Vec<&str> = list.iter().map(|(name, _)| name.as_str()).collect();
    let sections: BTreeMap<&str, &str> =
        list.iter().map(|(n, b)| (n.as_str(), b.as_str())).collect();
    let registry: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    assert_eq!(
        order, registry,
        "docs/commands.md sections must list the registry's commands, in order"
    );
    for c in COMMANDS {
        let body = sections[c.name];
        for p in c.params {
            assert!(
                body.contains(&format!("| `{}`", p.name)),
                "docs/commands.md: {} does not document parameter `{}` in its table",
                c.name,
                p.name
            );
        }
        if c.params.is_empty() {
            assert!(
                body.contains("No arguments"),
                "{}: say \"No arguments.\"",
                c.name
            );
        }
    }
}

/// Each `LD_*` section of docs/commands.md in order: (command name, body).
fn command_sections(doc: &str) -> Vec<(String, String)> {
    let mut sections: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            inside = h.trim().starts_with("LD_");
            if inside {
                sections.push((h.trim().to_string(), String::new()));
            }
        } else if let Some((_, body)) = sections.last_mut().filter(|_| inside) {
            body.push_str(line);
            body.push('\n');
        }
    }
    sections
}

#[test]
fn documented_types_and_defaults_are_the_registry_ones() {
    let sections: BTreeMap<String, String> = command_sections(&read("docs/commands.md"))
        .into_iter()
        .collect();
    for c in COMMANDS {
        // A `|` inside a table cell is written `\|`.
        let body = sections[c.name].replace("\\|", "|");
        for p in c.params {
            // The registry's `kind` carries the default its parser applies
            // (a unit test in src/commands checks that); the doc must say the same.
            let row = format!("| `{}` | `{}` |", p.name, p.kind);
            assert!(
                body.contains(&row),
                "docs/commands.md: {} documents `{}` with another type or default; the registry says `{}`",
                c.name,
                p.name,
                p.kind
            );
        }
    }
}

pub(crate) fn read(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The ```json blocks of a Markdown file, with the line each starts on.
pub(crate) fn json_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim_start().starts_with("```json") => {
                current = Some((i + 2, String::new()))
            }
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some((_, b)) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// A documented example as a whole plan: plans stay as they are, a single
/// action becomes a one-action plan, and the task fragments of the Tasks
/// section go into an `LD_start_test`. `None` for JSON that is no plan part
/// (a report's sample output).
pub(crate) fn as_plan(block: &str) -> Option<String> {
    use serde_json::Value;
    let v: Value =
        serde_json::from_str(block).unwrap_or_else(|e| panic!("not JSON ({e}):\n{block}"));
    let host = "\"host\": \"http://127.0.0.1:9\"";
    let is_action = |a: &[Value]| {
        a.first()
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with("LD_"))
    };
    Some(match &v {
        Value::Object(m) if m.contains_key("load_density") => block.to_string(),
        Value::Array(a) if a.first().is_some_and(|f| f.is_array()) => block.to_string(),
        Value::Array(a) if is_action(a) => format!("[{block}]"),
        Value::Object(m) if m.contains_key("tasks") => {
            format!(
                "[[\"LD_start_test\", {{{host}, \"tasks\": {}}}]]",
                m["tasks"]
            )
        }
        Value::Object(m) if m.contains_key("mode") => {
            format!("[[\"LD_start_test\", {{{host}, \"tasks\": {block}}}]]")
        }
        Value::Object(m) if m.contains_key("request_url") || m.contains_key("url") => {
            format!("[[\"LD_start_test\", {{{host}, \"tasks\": [{block}]}}]]")
        }
        _ => return None,
    })
}

/// The README and every page of `docs/`.
pub(crate) fn documents() -> Vec<String> {
    let mut docs: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".md"))
            .map(|n| format!("docs/{n}"))
            .collect();
    docs.sort();
    docs.insert(0, "README.md".to_string());
    docs
}

#[test]
fn every_documented_plan_example_validates() {
    let mut checked = 0;
    for rel in documents() {
        let rel = rel.as_str();
        for (line, block) in json_blocks(&read(rel)) {
            // Names plan files that exist only in the example.
            if block.contains("LD_execute_files") {
                continue;
            }
            let Some(plan) = as_plan(&block) else {
                continue;
            };
            let problems = loaddensity::plan::validate_str(&plan);
            assert!(
                problems.is_empty(),
                "{rel}:{line}: the example does not validate:\n{block}\n{}",
                problems
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} examples found");
}
