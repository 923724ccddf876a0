//! The plan interpreter through the real binary: every bad-input class exits 2
//! with a message that says where and what; runtime failures exit 1.

use crate::common::{self, ld, Run};
use std::path::{Path, PathBuf};

/// A scratch folder under the target dir, fresh per test.
fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("cli_plans", name)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_valid_plan_runs_and_exits_0() {
    let o = Run::of(ld("run-str").args([
        r#"{"load_density": [["LD_register_variable", ["who", "world"]], ["LD_log", {"message": "hello ${var.who}"}]]}"#,
    ]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), "hello world");
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let d = scratch("malformed");
    let p = write(
        &d,
        "bad.json",
        "[\n  [\"LD_log\", {\"message\": \"x\"},]\n]\n",
    );
    let o = Run::of(ld("run").arg(&p));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("bad.json:2:"), "{}", o.stderr);
    assert!(o.stderr.contains("malformed JSON"), "{}", o.stderr);
    assert!(o.stderr.contains("nothing was run"), "{}", o.stderr);
}

#[test]
fn every_problem_is_reported_together_and_nothing_runs() {
    let d = scratch("many");
    let p = write(
        &d,
        "many.json",
        r#"[
  ["LD_log", {"message": "this must not print"}],
  ["LD_register_variabels", {"variables": {}}],
  ["LD_log", {"mesage": "typo"}],
  ["LD_execute_action", {"action_list": [["LD_log", {"message": 5}]]}],
  ["LD_start_test", {"user_count": 0, "tasks": [{"method": "fetch", "request_url": "http://127.0.0.1:1/"}]}]
]"#,
    );
    let o = Run::of(ld("run").arg(&p));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stdout.is_empty(), "something ran: {}", o.stdout);
    for needle in [
        "many.json:3: actions[1]: unknown command `LD_register_variabels`",
        "did you mean LD_register_variables?",
        "actions[2].args.mesage",
        "actions[3].args.action_list[0].args.message",
        "actions[4].args.user_count",
        "actions[4].args.tasks[0].method",
        "5 problems found",
    ] {
        assert!(
            o.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            o.stderr
        );
    }
}

#[test]
fn missing_unreadable_and_directory_inputs_exit_2() {
    let o = Run::of(ld("run").args(["/no/such/plan.json"]));
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("/no/such/plan.json: cannot read plan: no such file"),
        "{}",
        o.stderr
    );

    let d = scratch("emptydir");
    let o = Run::of(ld("run-dir").arg(&d));
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("contains no *.json plans"),
        "{}",
        o.stderr
    );

    let o = Run::of(ld("run").arg(&d));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("is a directory"), "{}", o.stderr);
}

#[test]
fn empty_and_null_plans_exit_2() {
    for (text, needle) in [
        ("[]", "the plan has no actions"),
        (r#"{"load_density": []}"#, "the plan has no actions"),
        ("null", "found null"),
        (
            r#"{"load_density": null}"#,
            "expected a list of actions, found null",
        ),
        (
            r#"[["LD_execute_action", {"action_list": null}]]"#,
            "expected a list of actions, found null",
        ),
        (
            r#"[["LD_log", null]]"#,
            "arguments must be an object or a list, found null",
        ),
        ("", "malformed JSON"),
    ] {
        let o = Run::of(ld("run-str").args([text]));
        assert_eq!(o.code, 2, "{text}: {}", o.stderr);
        assert!(
            o.stderr.contains(needle),
            "{text}: missing {needle:?} in {}",
            o.stderr
        );
    }
}

#[test]
fn hostile_input_gives_a_clear_error_not_a_crash() {
    let d = scratch("hostile");
    // 50 MB file.
    let big = d.join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(50 * 1024 * 1024).unwrap();
    let o = Run::of(ld("run").arg(&big));
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("larger than the 16 MB limit"),
        "{}",
        o.stderr
    );

    // 10 000-deep nesting.
    let deep = write(&d, "deep.json", &("[".repeat(10_000) + &"]".repeat(10_000)));
    let o = Run::of(ld("validate").arg(&deep));
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("deep.json:1:129: the plan nests more than 128 levels deep"),
        "{}",
        o.stderr
    );

    // Deep nesting inside arguments.
    let text = format!(
        r#"[["LD_log", {{"message": {}0{}}}]]"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let o = Run::of(ld("run-str").args([&text]));
    assert_eq!(o.code, 2, "{}", o.stderr);

    // Invalid UTF-8.
    let bad = d.join("latin1.json");
    std::fs::write(&bad, b"[\n[\"LD_log\", {\"message\": \"caf\xe9\"}]]").unwrap();
    let o = Run::of(ld("run").arg(&bad));
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("latin1.json:2") && o.stderr.contains("not valid UTF-8"),
        "{}",
        o.stderr
    );
}

#[test]
fn bad_usage_exits_2_and_help_exits_0() {
    assert_eq!(Run::of(ld("frobnicate")).code, 2);
    assert_eq!(Run::of(ld("run")).code, 2);
    assert_eq!(Run::of(ld("run").args(["--seed", "abc", "x.json"])).code, 2);
    let o = Run::of(ld("--help"));
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("Examples:") && o.stdout.contains("Exit codes"));
    let o = Run::of(ld("--version"));
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_runtime_failure_exits_1_and_names_the_action() {
    // `nope` is registered, but only after it is used: under --strict that
    // fails at run time (exit 1), not at validation.
    let plan = r#"[["LD_log", {"message": "one"}], ["LD_log", {"message": "${var.nope}"}], ["LD_log", {"message": "three"}], ["LD_register_variable", {"name": "nope", "value": 1}]]"#;
    let o = Run::of(ld("run-str").args([plan]));
    assert_eq!(o.code, 0, "without --strict it is sent as its text");
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        ["one", "${var.nope}", "three"]
    );
    let o = Run::of(ld("run-str").args(["--strict", plan]));
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout.trim(), "one");
    assert!(
        o.stderr
            .contains("LD_log failed at <run-str>:1: actions[1]"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("undefined variable `nope`"),
        "{}",
        o.stderr
    );

    let o = Run::of(ld("run-str").args(["--keep-going", "--strict", plan]));
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout.lines().collect::<Vec<_>>(), ["one", "three"]);
}

#[test]
fn undefined_env_var_is_named() {
    let o = Run::of(
        ld("run-str")
            .env_remove("LD_SURELY_UNSET")
            .args([r#"[["LD_log", {"message": "${env.LD_SURELY_UNSET}"}]]"#]),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), "${env.LD_SURELY_UNSET}");
    assert!(
        o.stderr.contains("warning: <run-str>:1: actions[0].args.message: `${env.LD_SURELY_UNSET}`: environment variable `LD_SURELY_UNSET` is not set"),
        "{}",
        o.stderr
    );
    let o = Run::of(ld("run-str").env_remove("LD_SURELY_UNSET").args([
        "--strict",
        r#"[["LD_log", {"message": "${env.LD_SURELY_UNSET}"}]]"#,
    ]));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("error: <run-str>:1: actions[0].args.message: `${env.LD_SURELY_UNSET}`"),
        "{}",
        o.stderr
    );
    let o = Run::of(
        ld("run-str")
            .env("LD_SET_HERE", "present")
            .args([r#"[["LD_log", {"message": "${env.LD_SET_HERE}"}]]"#]),
    );
    assert_eq!((o.code, o.stdout.trim()), (0, "present"));
}

#[test]
fn resolver_functions_and_clear_resolver() {
    let plan = r#"[
      ["LD_register_variables", {"variables": {"a": "x", "n": 3}}],
      ["LD_log", {"message": "${var.a}-${var.n}-${randint(7, 7)}-$${var.a}"}],
      ["LD_log", {"message": "${uuid()}"}],
      ["LD_clear_resolver"],
      ["LD_log", {"message": "${var.a}"}]
    ]"#;
    let o = Run::of(ld("run-str").args(["--seed", "1", plan]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "x-3-7-${var.a}");
    assert_eq!(lines[1].len(), 36, "uuid: {}", lines[1]);
    assert_eq!(lines[2], "${var.a}", "cleared: left as its text");
    let o = Run::of(ld("run-str").args(["--seed", "1", "--strict", plan]));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("undefined variable `a`"), "{}", o.stderr);
}

#[test]
fn execute_files_is_relative_validated_first_and_cycle_safe() {
    let d = scratch("files");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    write(
        &d,
        "sub/child.json",
        r#"[["LD_log", {"message": "child ran"}]]"#,
    );
    let main = write(
        &d,
        "main.json",
        r#"[["LD_log", {"message": "main ran"}], ["LD_execute_files", {"execute_files_list": ["sub/child.json"]}]]"#,
    );
    let o = Run::of(ld("run").arg(&main).current_dir("/"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout.lines().collect::<Vec<_>>(),
        ["main ran", "child ran"]
    );

    // Not beside the plan: the working folder is tried next (LoadDensity's
    // rule), and a path found in neither names both places.
    let elsewhere = write(
        &d,
        "sub/main2.json",
        r#"[["LD_execute_files", {"execute_files_list": ["sub/child.json", "sub/none.json"]}]]"#,
    );
    let o = Run::of(ld("validate").arg(&elsewhere).current_dir(&d));
    assert_eq!(o.code, 2, "{}", o.stderr);
    let tried = format!(
        "plan \"sub/none.json\" not found; tried {} and {}",
        d.join("sub/sub/none.json").display(),
        d.join("sub/none.json").display()
    );
    assert!(o.stderr.contains(&tried), "{}", o.stderr);
    assert!(!o.stderr.contains("child.json"), "{}", o.stderr);

    // A broken child stops the whole run before anything runs.
    write(&d, "sub/broken.json", r#"[["LD_lgo", {"message": "x"}]]"#);
    let p = write(
        &d,
        "uses_broken.json",
        r#"[["LD_log", {"message": "must not print"}], ["LD_execute_files", [["sub/broken.json"]]]]"#,
    );
    let o = Run::of(ld("run").arg(&p));
    assert_eq!(o.code, 2);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr
            .contains("broken.json:1: actions[0]: unknown command `LD_lgo`"),
        "{}",
        o.stderr
    );

    // a → b → a
    write(
        &d,
        "a.json",
        r#"[["LD_execute_files", {"execute_files_list": ["b.json"]}]]"#,
    );
    write(
        &d,
        "b.json",
        r#"[["LD_execute_files", {"execute_files_list": ["a.json"]}]]"#,
    );
    let o = Run::of(ld("validate").arg(d.join("a.json")));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("LD_execute_files cycle"), "{}", o.stderr);

    let o = Run::of(ld("validate").arg(&main));
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn a_report_may_not_overwrite_a_plan() {
    let d = scratch("overwrite");
    let p = write(
        &d,
        "plan.json",
        r#"[["LD_generate_summary_report", {"report_name": "plan"}]]"#,
    );
    let o = Run::of(ld("run").arg(&p).current_dir(&d));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("would overwrite a plan file"),
        "{}",
        o.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        r#"[["LD_generate_summary_report", {"report_name": "plan"}]]"#
    );
}

#[test]
fn positional_arguments_map_in_documented_order() {
    let o = Run::of(
        ld("run-str").args([r#"[["LD_register_variable", ["k", 42]], ["LD_log", ["${var.k}"]]]"#]),
    );
    assert_eq!((o.code, o.stdout.trim()), (0, "42"));
    let o = Run::of(ld("run-str").args([r#"[["LD_log", ["a", "b"]]]"#]));
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("takes at most 1 positional argument"),
        "{}",
        o.stderr
    );
}

#[test]
fn run_dir_runs_plans_in_sorted_order() {
    let d = scratch("rundir");
    std::fs::create_dir_all(d.join("b")).unwrap();
    write(&d, "b/2.json", r#"[["LD_log", ["second"]]]"#);
    write(&d, "a.json", r#"[["LD_log", ["first"]]]"#);
    write(&d, "notes.txt", "not a plan");
    let o = Run::of(ld("run-dir").arg(&d));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().collect::<Vec<_>>(), ["first", "second"]);
}

#[test]
fn commands_json_lists_the_registry() {
    let o = Run::of(ld("commands").args(["--json"]));
    assert_eq!(o.code, 0);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = loaddensity::commands::COMMANDS
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, expected);
    let o = Run::of(ld("commands"));
    assert_eq!(o.stdout.lines().count(), expected.len());
}

#[test]
fn init_scaffolds_a_valid_project_and_never_overwrites() {
    let d = scratch("init");
    let o = Run::of(ld("init").arg(d.join("proj")));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let plan = d.join("proj/actions/example.json");
    assert!(plan.exists() && d.join("proj/README.md").exists());
    assert_eq!(Run::of(ld("validate").arg(&plan)).code, 0);
    // Editor support: the schema as `loaddensity schema` prints it, and VS
    // Code's setting pointing the plans at it.
    let schema = std::fs::read_to_string(d.join("proj/loaddensity.schema.json")).unwrap();
    assert_eq!(schema, Run::of(ld("schema")).stdout);
    let settings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("proj/.vscode/settings.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        settings["json.schemas"][0]["url"], "./loaddensity.schema.json",
        "{settings}"
    );
    assert_eq!(
        settings["json.schemas"][0]["fileMatch"][0],
        "actions/*.json"
    );
    let o = Run::of(ld("init").arg(d.join("proj")));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("already exists"));
    // A project's own editor settings are kept.
    let other = d.join("other");
    std::fs::create_dir_all(other.join(".vscode")).unwrap();
    std::fs::write(
        other.join(".vscode/settings.json"),
        "{\"editor.tabSize\": 2}\n",
    )
    .unwrap();
    let o = Run::of(ld("init").arg(&other));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        std::fs::read_to_string(other.join(".vscode/settings.json")).unwrap(),
        "{\"editor.tabSize\": 2}\n"
    );
    assert!(
        o.stderr.contains("add to it \"json.schemas\""),
        "{}",
        o.stderr
    );
}

#[test]
fn every_example_plan_validates() {
    let plans = common::example_plans();
    let o = Run::of(ld("validate").args(&plans));
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn nested_problems_are_all_reported_with_their_paths() {
    let plan = r#"[["LD_execute_action", {"action_list": [
        ["LD_log", {"message": "${foo()}"}],
        ["LD_lgo", {"message": "x"}],
        ["LD_execute_action", [[["LD_register_variable", {"name": "bad name!", "value": 1}]]]]
    ]}]]"#;
    let o = Run::of(ld("run-str").args([plan]));
    assert_eq!(o.code, 2, "{}", o.stderr);
    for needle in [
        "actions[0].args.action_list[0].args.message: unknown function `foo()`",
        "actions[0].args.action_list[1]: unknown command `LD_lgo`",
        "actions[0].args.action_list[2].args.action_list[0].args: variable name \"bad name!\"",
        "3 problems found",
    ] {
        assert!(
            o.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            o.stderr
        );
    }
}

#[test]
fn loaddensity_task_maps_keep_file_order() {
    // A map form: validated and listed in file order (post before get).
    let plan = r#"[["LD_start_test", {"user_count": 1, "iterations": 1, "tasks": {
        "post": {"request_url": "http://127.0.0.1:9/b", "auth": {"type": "bearer", "token": "t"}, "headers": {"authorization": "x"}},
        "get": {"request_url": "http://127.0.0.1:9/a", "extract": [{"var": "no good", "from": "status_code"}]}
    }}]]"#;
    let o = Run::of(ld("run-str").args([plan]));
    assert_eq!(o.code, 2);
    let post = o
        .stderr
        .find("args.tasks.post.auth: give `auth` or an Authorization header")
        .expect(&o.stderr);
    let get = o
        .stderr
        .find("args.tasks.get.extract: variable name \"no good\"")
        .expect(&o.stderr);
    assert!(post < get, "{}", o.stderr);
}

/// Hostile inputs must end fast: generous, but far below a hang.
const HOSTILE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `cmd`, expects exit 2 within [`HOSTILE_LIMIT`] and `needle` in stderr.
#[track_caller]
fn refused_fast(cmd: std::process::Command, needle: &str) -> Run {
    let o = common::start(cmd).finish(std::time::Duration::from_secs(30));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.took < HOSTILE_LIMIT, "took {:?}", o.took);
    assert!(
        o.stderr.contains(needle),
        "missing {needle:?} in:\n{}",
        o.stderr
    );
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    o
}

#[test]
fn devices_and_fifos_are_not_plans() {
    for dev in ["/dev/zero", "/dev/full"] {
        let mut cmd = ld("validate");
        cmd.arg(dev);
        refused_fast(cmd, &format!("{dev}: is a device, not a plan file"));
    }
    let d = scratch("fifo");
    let fifo = d.join("plan.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut cmd = ld("run");
    cmd.arg(&fifo);
    refused_fast(cmd, "is a FIFO (named pipe), not a plan file");
    // Named by another plan, too.
    let p = write(
        &d,
        "uses.json",
        r#"[["LD_execute_files", {"execute_files_list": ["/dev/zero", "plan.json"]}]]"#,
    );
    let mut cmd = ld("validate");
    cmd.arg(&p);
    let o = refused_fast(cmd, "/dev/zero: is a device, not a plan file");
    assert!(o.stderr.contains("is a FIFO"), "{}", o.stderr);
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let d = scratch("bom");
    let p = d.join("bom.json");
    std::fs::write(
        &p,
        b"\xef\xbb\xbf[[\"LD_log\", {\"message\": \"bom ok\"}]]\n",
    )
    .unwrap();
    let o = Run::of(ld("run").arg(&p));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), "bom ok");
}

/// `n` levels of `LD_execute_action` around one `LD_log`.
fn nested_execute_action(n: usize) -> String {
    format!(
        "[{}[\"LD_log\", [\"x\"]]{}]",
        r#"["LD_execute_action", {"action_list": ["#.repeat(n),
        "]}]".repeat(n)
    )
}

#[test]
fn deeply_nested_actions_are_refused_before_recursing() {
    let d = scratch("deep_actions");
    // 20 000 levels, about 1 MB: once a stack overflow (exit 134).
    let p = write(&d, "deep.json", &nested_execute_action(20_000));
    let mut cmd = ld("validate");
    cmd.arg(&p);
    let o = refused_fast(cmd, "deep.json:1:");
    assert!(
        o.stderr
            .contains("the plan nests more than 128 levels deep"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("hint: each nested LD_execute_action"),
        "{}",
        o.stderr
    );
    let mut cmd = ld("run-str");
    cmd.arg(nested_execute_action(2_000)); // a single argument holds at most 128 KiB
    refused_fast(cmd, "<run-str>:1:");
    // Within the limit they still run.
    let o = Run::of(ld("run-str").arg(nested_execute_action(40)));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), "x");
}

#[test]
fn execute_files_fan_out_is_validated_once_and_capped() {
    let d = scratch("fanout");
    // Nine tiny plans, each running the one before ten times: 10^8 leaves.
    write(&d, "p0.json", r#"[["LD_log", ["x"]]]"#);
    for i in 1..=8 {
        let list = vec![format!("p{}.json", i - 1); 10];
        let text = serde_json::json!([["LD_execute_files", { "execute_files_list": list }]]);
        write(&d, &format!("p{i}.json"), &text.to_string());
    }
    let mut cmd = ld("validate");
    cmd.arg(d.join("p8.json"));
    refused_fast(cmd, "the run expands to more than 100000 actions");
    // A plan run twice runs twice.
    let p = write(
        &d,
        "twice.json",
        r#"[["LD_execute_files", {"execute_files_list": ["p0.json", "p0.json"]}]]"#,
    );
    let o = Run::of(ld("run").arg(&p));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().collect::<Vec<_>>(), ["x", "x"]);
}

#[test]
fn run_dir_survives_link_loops_and_runs_each_file_once() {
    use std::os::unix::fs::symlink;
    // Two links to `.`: once a hang with memory growing.
    let d = scratch("loop");
    write(&d, "plan.json", r#"[["LD_lgo", ["x"]]]"#);
    symlink(".", d.join("again")).unwrap();
    symlink(".", d.join("more")).unwrap();
    let mut cmd = ld("run-dir");
    cmd.arg(&d);
    let o = refused_fast(cmd, "plan.json:1: actions[0]: unknown command `LD_lgo`");
    assert_eq!(
        o.stderr.matches("unknown command").count(),
        1,
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("already searched"), "{}", o.stderr);

    // A link up (`..`), one back to the top and one to a sibling folder:
    // each real plan runs once.
    let d = scratch("up");
    std::fs::create_dir_all(d.join("a/b")).unwrap();
    write(&d, "a/plan.json", r#"[["LD_log", ["once"]]]"#);
    write(&d, "a/b/deep.json", r#"[["LD_log", ["deep"]]]"#);
    symlink("..", d.join("a/up")).unwrap();
    symlink("..", d.join("a/b/top")).unwrap();
    symlink("b", d.join("a/c")).unwrap();
    let o = Run::of(ld("run-dir").arg(d.join("a")));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.took < HOSTILE_LIMIT, "took {:?}", o.took);
    assert_eq!(o.stdout.lines().collect::<Vec<_>>(), ["deep", "once"]);
}

#[test]
fn the_timeout_covers_finding_reading_and_validating_plans() {
    let d = scratch("load_timeout");
    // 12 MB: reading and validating it takes far longer than 1 ms.
    let text = serde_json::json!([["LD_log", { "message": "x".repeat(12_000_000) }]]);
    let p = write(&d, "big.json", &text.to_string());
    for sub in ["run", "run-dir"] {
        let mut cmd = ld(sub);
        cmd.args(["--timeout", "1ms"]);
        cmd.arg(if sub == "run" {
            p.as_path()
        } else {
            d.as_path()
        });
        let o = common::start(cmd).finish(std::time::Duration::from_secs(30));
        assert_eq!(o.code, 124, "{sub}: {}", o.stderr);
        assert!(o.took < HOSTILE_LIMIT, "{sub}: took {:?}", o.took);
        assert!(
            o.stderr
                .contains("error: watchdog: 0.0 s elapsed while loading the plans"),
            "{sub}: {}",
            o.stderr
        );
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
        assert!(o.stdout.is_empty(), "{sub}: something ran: {}", o.stdout);
    }
}
