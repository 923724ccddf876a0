//! `docs/commands.md` documents exactly the commands of the registry, each with
//! every one of its parameters.

use loaddensity::commands::COMMANDS;
use std::collections::BTreeMap;

#[test]
fn commands_doc_matches_the_registry() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/commands.md");
    let doc = std::fs::read_to_string(path).expect("docs/commands.md exists");
    let mut sections: BTreeMap<String, String> = BTreeMap::new();
    let mut order = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            current = h.trim().starts_with("LD_").then(|| h.trim().to_string());
            if let Some(c) = &current {
                order.push(c.clone());
                sections.insert(c.clone(), String::new());
            }
        } else if let Some(c) = &current {
            let s = sections.get_mut(c).expect("section exists");
            s.push_str(line);
            s.push('\n');
        }
    }
    let registry: Vec<String> = COMMANDS.iter().map(|c| c.name.to_string()).collect();
    assert_eq!(
        order, registry,
        "docs/commands.md sections must list the registry's commands, in order"
    );
    for c in COMMANDS {
        let body = &sections[c.name];
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
