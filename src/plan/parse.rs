//! The action structure of a plan: `{"load_density": [...]}` or `[...]`, each
//! action `["LD_name"]`, `["LD_name", {kwargs}]` or `["LD_name", [args]]`.
//! Arguments stay raw JSON slices of the source so that later steps can name
//! lines; nothing here knows any command.

use super::{Position, Problem, Source};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// An action's arguments, still raw.
#[derive(Debug, Clone, Copy)]
pub enum RawArgs<'a> {
    /// `["LD_name"]`
    None,
    /// `["LD_name", {...}]`
    Keyword(&'a RawValue),
    /// `["LD_name", [...]]`
    Positional(&'a RawValue),
}

/// One action as written.
#[derive(Debug, Clone)]
pub struct RawAction<'a> {
    pub name: String,
    pub args: RawArgs<'a>,
    pub at: Position,
}

/// How deep a plan's JSON may nest (lists and objects), all of it counted
/// from the top: checked before anything is parsed, so that no later step
/// (parsing, validation, running) can recurse deeper.
pub const MAX_JSON_DEPTH: usize = 128;

/// Parses a whole plan's top level into its action list.
pub fn parse_plan(src: &Source) -> Result<Vec<RawAction<'_>>, Vec<Problem>> {
    if let Some(offset) = too_deep(&src.text, MAX_JSON_DEPTH) {
        let (line, col) = src.line_col(offset);
        return Err(vec![Problem::new(
            Position::new(src.name.clone(), "", Some(line)),
            format!("the plan nests more than {MAX_JSON_DEPTH} levels deep"),
        )
        .column(col)
        .hint(
            "each nested LD_execute_action takes 3 levels ([action, {args, [list]}]); \
             flatten the plan or move parts into other plans run with LD_execute_files",
        )]);
    }
    let top: &RawValue = serde_json::from_str(&src.text).map_err(|e| vec![json_error(src, &e)])?;
    let root = Position::new(src.name.clone(), "", Some(1));
    let list = match kind(top) {
        "an object" => {
            let map: BTreeMap<String, &RawValue> =
                serde_json::from_str(top.get()).map_err(|e| vec![json_error(src, &e)])?;
            let mut problems = Vec::new();
            // `$schema` points an editor at loaddensity.schema.json; ignored.
            for key in map
                .keys()
                .filter(|k| *k != "load_density" && *k != "$schema")
            {
                problems.push(
                    Problem::new(root.clone(), format!("unknown top-level key `{key}`")).hint(
                        "a plan is {\"load_density\": [actions...]} or a bare list of actions",
                    ),
                );
            }
            match map.get("load_density") {
                Some(list) if problems.is_empty() => *list,
                Some(_) => return Err(problems),
                None => {
                    return Err(vec![Problem::new(
                        root,
                        "the plan has no `load_density` key",
                    )
                    .hint(
                        "a plan is {\"load_density\": [actions...]} or a bare list of actions",
                    )])
                }
            }
        }
        "a list" => top,
        other => {
            return Err(vec![Problem::new(
                root,
                format!(
                "a plan must be a list of actions or {{\"load_density\": [...]}}, found {other}"
            ),
            )])
        }
    };
    let actions = parse_action_list(
        src,
        list,
        &Position::new(src.name.clone(), "actions", src.line_of(list.get())),
    )?;
    if actions.is_empty() {
        return Err(vec![Problem::new(
            Position::new(src.name.clone(), "actions", src.line_of(list.get())),
            "the plan has no actions",
        )
        .hint("add an action such as [\"LD_log\", {\"message\": \"hello\"}]")]);
    }
    Ok(actions)
}

/// Parses a JSON list of actions (a plan's top level or a nested `action_list`).
/// `at.path` names the list, e.g. `actions` or `actions[2].args.action_list`.
pub fn parse_action_list<'a>(
    src: &'a Source,
    list: &'a RawValue,
    at: &Position,
) -> Result<Vec<RawAction<'a>>, Vec<Problem>> {
    let items: Vec<&RawValue> = match kind(list) {
        "a list" => serde_json::from_str(list.get()).map_err(|e| vec![json_error(src, &e)])?,
        other => {
            return Err(vec![Problem::new(
                at.clone(),
                format!("expected a list of actions, found {other}"),
            )])
        }
    };
    let mut out = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let pos = Position::new(
            src.name.clone(),
            format!("{}[{i}]", at.path),
            src.line_of(item.get()),
        );
        match parse_action(item, pos) {
            Ok(a) => out.push(a),
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

const ACTION_SHAPE: &str =
    "an action is [\"LD_name\"], [\"LD_name\", {\"arg\": value}] or [\"LD_name\", [args...]]";

fn parse_action(item: &RawValue, at: Position) -> Result<RawAction<'_>, Problem> {
    if kind(item) != "a list" {
        return Err(
            Problem::new(at, format!("expected an action, found {}", kind(item)))
                .hint(ACTION_SHAPE),
        );
    }
    let parts: Vec<&RawValue> = serde_json::from_str(item.get())
        .map_err(|e| Problem::new(at.clone(), format!("malformed action: {e}")))?;
    let name = match parts.first() {
        None => return Err(Problem::new(at, "empty action `[]`").hint(ACTION_SHAPE)),
        Some(n) => match serde_json::from_str::<String>(n.get()) {
            Ok(s) => s,
            Err(_) => {
                return Err(Problem::new(
                    at,
                    format!("an action starts with its command name, found {}", kind(n)),
                )
                .hint(ACTION_SHAPE))
            }
        },
    };
    let args = match parts.get(1) {
        None => RawArgs::None,
        Some(a) => match kind(a) {
            "an object" => RawArgs::Keyword(a),
            "a list" => RawArgs::Positional(a),
            other => {
                return Err(Problem::new(
                    at.child("args"),
                    format!("{name}: arguments must be an object or a list, found {other}"),
                )
                .hint(ACTION_SHAPE))
            }
        },
    };
    if parts.len() > 2 {
        return Err(Problem::new(
            at,
            format!(
                "{name}: an action has at most 2 elements, found {}",
                parts.len()
            ),
        )
        .hint(ACTION_SHAPE));
    }
    Ok(RawAction { name, args, at })
}

/// The byte offset of the first `[` or `{` that opens level `limit + 1`, if
/// any: a scan without recursion, strings skipped. Malformed JSON is left to
/// the parser.
pub fn too_deep(text: &str, limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// What kind of JSON value a raw slice holds, for messages.
pub fn kind(v: &RawValue) -> &'static str {
    match v.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "a list",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't') | Some(b'f') => "a boolean",
        _ => "a number",
    }
}

/// A JSON syntax error with the file's line and column.
pub fn json_error(src: &Source, e: &serde_json::Error) -> Problem {
    let mut p = Problem::new(
        Position::new(src.name.clone(), "", Some(e.line().max(1))),
        format!("malformed JSON: {}", strip_position(&e.to_string())),
    )
    .column(e.column());
    if e.to_string().contains("recursion limit") {
        p = p.hint("the plan nests too deeply (more than 128 levels)");
    }
    p
}

/// serde_json appends " at line L column C"; we print positions ourselves.
pub(super) fn strip_position(msg: &str) -> &str {
    msg.find(" at line ").map_or(msg, |i| &msg[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source::from_string("p.json", text.to_string())
    }

    #[test]
    fn both_top_level_shapes_parse() {
        let a = src(r#"{"load_density": [["LD_log", {"message": "x"}]]}"#);
        let b = src(r#"[["LD_log", {"message": "x"}], ["LD_clear_resolver"], ["LD_log", ["y"]]]"#);
        assert_eq!(parse_plan(&a).unwrap().len(), 1);
        let acts = parse_plan(&b).unwrap();
        assert_eq!(acts.len(), 3);
        assert!(matches!(acts[1].args, RawArgs::None));
        assert!(matches!(acts[2].args, RawArgs::Positional(_)));
        assert_eq!(acts[2].at.path, "actions[2]");
    }

    #[test]
    fn a_schema_key_is_ignored_and_other_keys_are_not() {
        let a = src(
            r#"{"$schema": "../loaddensity.schema.json", "load_density": [["LD_log", {"message": "x"}]]}"#,
        );
        assert_eq!(parse_plan(&a).unwrap().len(), 1);
        let b = src(r#"{"$schema": "s.json", "lod_density": [], "load_density": [["LD_log"]]}"#);
        let problems = parse_plan(&b).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].message, "unknown top-level key `lod_density`");
    }

    #[test]
    fn lines_of_actions_are_known() {
        let s = src("[\n  [\"LD_log\"],\n\n  [\"LD_clear_resolver\"]\n]");
        let acts = parse_plan(&s).unwrap();
        assert_eq!(acts[0].at.line, Some(2));
        assert_eq!(acts[1].at.line, Some(4));
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let s = src("[\n  [\"LD_log\",]\n]");
        let e = parse_plan(&s).unwrap_err();
        assert_eq!(e[0].at.line, Some(2));
        assert!(e[0].to_string().starts_with("p.json:2:"), "{}", e[0]);
    }

    #[test]
    fn bad_shapes_are_all_reported() {
        let s = src(r#"[null, [], [3], ["LD_log", null], ["LD_log", {}, {}]]"#);
        let e = parse_plan(&s).unwrap_err();
        assert_eq!(e.len(), 5, "{e:?}");
        assert!(e[0].message.contains("found null"));
        assert!(e[3].at.path.ends_with("actions[3].args"));
    }

    #[test]
    fn empty_and_wrong_tops_are_errors() {
        assert!(parse_plan(&src("[]")).unwrap_err()[0]
            .message
            .contains("no actions"));
        assert!(parse_plan(&src("null")).unwrap_err()[0]
            .message
            .contains("found null"));
        assert!(
            parse_plan(&src(r#"{"load_density": null}"#)).unwrap_err()[0]
                .message
                .contains("found null")
        );
        assert!(parse_plan(&src(r#"{"x": []}"#)).is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let e = parse_plan(&src(&deep)).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].message, "the plan nests more than 128 levels deep");
        assert_eq!((e[0].at.line, e[0].column), (Some(1), Some(129)));
    }

    #[test]
    fn the_depth_limit_counts_only_structure() {
        assert_eq!(too_deep(&("[".repeat(128) + &"]".repeat(128)), 128), None);
        assert_eq!(too_deep(&"[".repeat(129), 128), Some(128));
        // Brackets in strings, escaped quotes included, do not count.
        let s = format!(r#"[["LD_log", {{"message": "\"{}"}}]]"#, "[".repeat(500));
        assert_eq!(too_deep(&s, 128), None);
        assert_eq!(too_deep("{\"a\": {\"b\": []}}", 2), Some(12));
    }
}
