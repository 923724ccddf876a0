//! GitHub Actions through the real binary: `LD_emit_github_annotations`
//! prints `::error` lines for a failed gate and a tripped budget, a bounded
//! number of top-error warnings and nothing alarming for a pass; every run
//! appends its Markdown summary to `$GITHUB_STEP_SUMMARY` (kept content, once
//! per run, also when the watchdog or a signal stops it, a short one for exit
//! 2, a warning without changing the exit code when it cannot be written);
//! `action.yml` has the shape of a composite action that runs
//! `loaddensity run`.

use crate::common::{self, ld, Plan, Run};
use loaddensity::demo_server::DemoServer;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("github", name)
}

/// The demo server, then `actions`.
fn plan(actions: &str) -> Plan {
    Plan::new(r#"["LD_start_demo_server"]"#).then(actions)
}

/// Runs `plan` in `dir` with `GITHUB_STEP_SUMMARY` set to `summary`.
fn run_with_summary(plan: &Plan, dir: &Path, summary: &Path) -> Run {
    let mut cmd = plan.command(dir);
    cmd.env("GITHUB_STEP_SUMMARY", summary);
    Run::of(cmd)
}

fn lines_starting<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

const OK_TEST: &str = r#"["LD_start_test", {"user_count": 1, "iterations": 5,
    "tasks": [{"request_url": "${var.demo}/ok", "name": "ok"}]}]"#;

#[test]
fn a_failing_gate_is_an_error_annotation_naming_the_rule_and_exits_4() {
    let r = plan(OK_TEST)
        .then(r#"["LD_assert_sla", {"rules": [{"type": "requests", "op": "gte", "value": 1000000}]}]"#)
        .then(r#"["LD_emit_github_annotations", {"title": "gate, test: 1"}]"#)
        .run_in(&scratch("gate"));
    assert_eq!(r.code, 4, "{}", r.stderr);
    let errors = lines_starting(&r.stdout, "::error ");
    assert_eq!(errors.len(), 2, "the rule and the verdict: {}", r.stdout);
    // The title is a property: `:` and `,` escaped.
    assert!(
        errors[0].starts_with(
            "::error title=gate%2C test%3A 1::SLA gate failed: requests gte 1000000 (all)"
        ),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("5.000 >= 1000000"),
        "measured and limit: {}",
        errors[0]
    );
    assert!(
        errors[1].contains("exit 4") && errors[1].ends_with("(gate_failed)"),
        "{}",
        errors[1]
    );
}

#[test]
fn a_gate_in_a_plan_file_is_annotated_on_its_line() {
    let dir = scratch("gate-line");
    std::fs::create_dir_all(dir.join("actions")).unwrap();
    std::fs::write(
        dir.join("actions/load.json"),
        format!(
            "[\n  [\"LD_start_demo_server\"],\n  {OK_TEST},\n  [\"LD_assert_sla\", {{\"rules\": [{{\"type\": \"rps\", \"op\": \"gte\", \"value\": 1e9}}]}}],\n  [\"LD_emit_github_annotations\"]\n]\n"
        ),
    )
    .unwrap();
    let mut cmd = ld("run");
    cmd.arg("actions/load.json").current_dir(&dir);
    let r = Run::of(cmd);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let errors = lines_starting(&r.stdout, "::error ");
    // OK_TEST spans two lines: the gate's action is on line 5.
    assert!(
        errors[0].starts_with("::error file=actions/load.json,line=5,title=LoadDensity::SLA gate failed: rps gte 1000000000"),
        "{}",
        r.stdout
    );
    // The verdict has no place in a file.
    assert!(errors[1].starts_with("::error title="), "{}", errors[1]);
}

#[test]
fn a_tripped_budget_is_an_error_annotation_naming_it_and_exits_3() {
    let r = plan(
        r#"["LD_install_failure_budget", {"threshold": 0.1, "window_seconds": 2, "min_samples": 10}],
           ["LD_start_test", {"user_count": 2, "spawn_rate": 100, "test_time": 10, "wait_time": 0.01,
             "tasks": [{"request_url": "${var.demo}/status/500", "name": "broken"}]}],
           ["LD_emit_github_annotations"]"#,
    )
    .run_in(&scratch("budget"));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.took < Duration::from_secs(9),
        "it stopped early: {:?}",
        r.took
    );
    let errors = lines_starting(&r.stdout, "::error title=LoadDensity::");
    let budget = errors
        .iter()
        .find(|l| l.contains("failure budget tripped in test 1"))
        .unwrap_or_else(|| panic!("no budget annotation: {}", r.stdout));
    // `%` escaped in the message.
    assert!(
        budget.contains("error rate 100.0%25 > threshold 10.0%25 over a 2.0 s window"),
        "{budget}"
    );
    assert!(
        budget.contains("status ×") && budget.contains("HTTP 500"),
        "{budget}"
    );
    assert!(
        errors
            .iter()
            .any(|l| l.contains("exit 3") && l.ends_with("(budget_tripped)")),
        "{}",
        r.stdout
    );
    // The top error is a warning, once.
    let warnings = lines_starting(&r.stdout, "::warning title=LoadDensity::broken: status ×");
    assert_eq!(warnings.len(), 1, "{}", r.stdout);
}

#[test]
fn top_errors_are_bounded_over_every_name() {
    // Twelve names, each failing with its own status: twelve distinct errors.
    let tasks: Vec<String> = (0..12)
        .map(|i| {
            format!(
                r#"{{"request_url": "${{var.demo}}/status/{}", "name": "n{i:02}"}}"#,
                400 + i
            )
        })
        .collect();
    let r = plan(&format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": 1, "tasks": [{}]}}],
           ["LD_emit_github_annotations", ["Load"]]"#,
        tasks.join(", ")
    ))
    .flags(&["--failure-budget", "off"])
    .run_in(&scratch("top-errors"));
    assert_eq!(r.code, 0, "failed requests alone pass: {}", r.stderr);
    let warnings = lines_starting(&r.stdout, "::warning title=Load::");
    assert_eq!(warnings.len(), 10, "at most 10: {}", r.stdout);
    assert!(
        warnings[9].ends_with("(and 2 more error message(s): see the summary report)"),
        "{}",
        warnings[9]
    );
    assert!(
        lines_starting(&r.stdout, "::error").is_empty(),
        "{}",
        r.stdout
    );
}

#[test]
fn a_passing_run_prints_no_error_annotation() {
    let r = plan(OK_TEST)
        .then(r#"["LD_assert_sla", {"rules": [{"type": "failure_rate", "value": 0}]}]"#)
        .then(r#"["LD_emit_github_annotations"]"#)
        .flags(&["--quiet"])
        .run_in(&scratch("pass"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("::error"), "{}", r.stdout);
    assert!(!r.stdout.contains("::warning"), "{}", r.stdout);
}

#[test]
fn the_job_summary_is_appended_once_per_run() {
    let dir = scratch("summary");
    let file = dir.join("step_summary.md");
    std::fs::write(&file, "earlier step\n").unwrap();
    let p = plan(OK_TEST);
    for _ in 0..2 {
        let r = run_with_summary(&p, &dir, &file);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("earlier step\n\n## "), "kept: {text}");
    assert_eq!(
        text.matches("## ✅ loaddensity: exit 0 (pass)").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("\n| ok | 5 | 0 | 0.00 |").count(), 2, "{text}");
    assert_eq!(text.matches("\n| **total** | 5 | 0 |").count(), 2, "{text}");
    assert!(
        text.contains("- `summary.json`"),
        "the reports written: {text}"
    );
    assert!(text.contains("### Failure budget"), "{text}");
}

#[test]
fn no_summary_is_written_when_the_variable_is_unset_or_empty() {
    let dir = scratch("unset");
    // Unset (the harness removes it): nothing is written anywhere in the folder.
    let r = plan(OK_TEST).run_in(&dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Empty: the same.
    let mut cmd = plan(OK_TEST).command(&dir);
    cmd.env("GITHUB_STEP_SUMMARY", "");
    let r = Run::of(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("job summary"), "{}", r.stderr);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["summary.json"]);
}

#[test]
fn the_watchdog_still_gets_its_summary_with_exit_124() {
    let _x = common::exclusive();
    let dir = scratch("watchdog");
    let file = dir.join("step_summary.md");
    let p = plan(
        r#"["LD_start_test", {"user_count": 1, "test_time": 30, "wait_time": 0.05,
             "tasks": [{"request_url": "${var.demo}/ok", "name": "ok"}]}]"#,
    )
    .flags(&["--timeout", "1s"]);
    let r = run_with_summary(&p, &dir, &file);
    assert_eq!(r.code, 124, "{}", r.stderr);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("## ❌ loaddensity: exit 124 (watchdog)"),
        "{text}"
    );
    assert!(text.contains("the watchdog stopped the run"), "{text}");
    assert!(text.contains("\n| ok | "), "what was measured: {text}");
    assert!(text.contains("ended by watchdog"), "{text}");
}

#[test]
fn a_signal_still_gets_its_summary_with_exit_143() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("signal");
    let file = dir.join("step_summary.md");
    let mut cmd = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "test_time": 30, "wait_time": 0.02,
             "tasks": [{{"request_url": "{}/ok", "name": "ok"}}]}}]"#,
        srv.base_url()
    ))
    .command(&dir);
    cmd.env("GITHUB_STEP_SUMMARY", &file);
    let run = common::start(cmd);
    common::wait_for("requests at the server", Duration::from_secs(20), || {
        srv.hits("/ok") >= 3
    });
    run.signal("-TERM");
    let r = run.finish(Duration::from_secs(30));
    assert_eq!(r.code, 143, "{}", r.stderr);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("## ❌ loaddensity: exit 143 (interrupted_sigterm)"),
        "{text}"
    );
    assert!(text.contains("\n| ok | "), "what was measured: {text}");
}

#[test]
fn an_unwritable_summary_is_a_warning_and_keeps_the_exit_code() {
    let dir = scratch("unwritable");
    // A folder cannot be appended to.
    let r = run_with_summary(
        &plan(OK_TEST).then(r#"["LD_assert_sla", {"rules": [{"type": "requests", "value": 1}]}]"#),
        &dir,
        &dir,
    );
    assert_eq!(r.code, 4, "the gate decides: {}", r.stderr);
    assert!(
        r.stderr
            .contains("warning: cannot append the job summary to"),
        "{}",
        r.stderr
    );
    let r = run_with_summary(&plan(OK_TEST), &dir, &dir.join("no/such/folder/summary.md"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("GITHUB_STEP_SUMMARY"), "{}", r.stderr);
}

#[test]
fn an_invalid_plan_says_so_in_the_summary() {
    let dir = scratch("invalid");
    let file = dir.join("step_summary.md");
    let r = Run::of(
        ld("run-str")
            .arg(r#"[["LD_no_such_command"]]"#)
            .env("GITHUB_STEP_SUMMARY", &file)
            .current_dir(&dir),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("\n## ❌ loaddensity: exit 2 (invalid_plan)"),
        "{text}"
    );
}

/// `action.yml` without a YAML parser (none is a dependency): its lines as
/// (indent, text), comments and blank lines left out.
fn yaml_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| (l.len() - l.trim_start().len(), l.trim()))
        .collect()
}

#[test]
fn the_composite_action_runs_loaddensity_with_plan_and_args() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"))
        .expect("action.yml at the repository root");
    assert!(!text.contains('\t'), "tabs are not YAML indentation");
    let lines = yaml_lines(&text);
    let top: Vec<&str> = lines
        .iter()
        .filter(|(i, _)| *i == 0)
        .filter_map(|(_, t)| t.split(':').next())
        .collect();
    for k in ["name", "description", "inputs", "outputs", "runs"] {
        assert!(top.contains(&k), "no top-level {k}: {top:?}");
    }
    assert!(lines.iter().all(|(i, _)| i % 2 == 0), "even indentation");
    // The inputs and outputs, each a key one level in.
    let block = |key: &str| -> Vec<&str> {
        lines
            .iter()
            .skip_while(|(i, t)| !(*i == 0 && *t == key))
            .skip(1)
            .take_while(|(i, _)| *i > 0)
            .filter(|(i, _)| *i == 2)
            .map(|(_, t)| t.trim_end_matches(':'))
            .collect()
    };
    let inputs = block("inputs:");
    for k in ["plan", "args", "version", "path"] {
        assert!(inputs.contains(&k), "input {k}: {inputs:?}");
    }
    assert_eq!(block("outputs:"), ["exit-code"]);
    let runs = block("runs:");
    assert!(runs.contains(&"using: composite"), "{runs:?}");
    assert!(runs.contains(&"steps"), "{runs:?}");
    // The plan input is required; every run step is bash.
    let plan_input: Vec<&str> = lines
        .iter()
        .skip_while(|(i, t)| !(*i == 2 && *t == "plan:"))
        .skip(1)
        .take_while(|(i, _)| *i > 2)
        .map(|(_, t)| *t)
        .collect();
    assert!(plan_input.contains(&"required: true"), "{plan_input:?}");
    let runs_steps =
        text.matches("\n      run: ").count() + text.matches("\n        run: ").count();
    let bash = text.matches("shell: bash").count();
    assert!(
        runs_steps >= 2 && bash == runs_steps,
        "{runs_steps} run steps, {bash} bash"
    );
    assert!(
        text.contains("loaddensity run "),
        "a step runs loaddensity run"
    );
    assert!(
        text.contains("cargo install --path"),
        "it builds from the action's checkout"
    );
    assert!(text.contains("${{ github.action_path }}"));
    assert!(
        text.contains("exit-code="),
        "the exit code becomes an output"
    );
    // PyYAML, when there is one (as the deploy/ files are checked).
    let script = "import sys, yaml\na = yaml.safe_load(open(sys.argv[1]))\n\
                  assert a['runs']['using'] == 'composite', a['runs']\n\
                  assert a['inputs']['plan']['required'] is True\n\
                  assert set(a['inputs']) == {'plan', 'args', 'version', 'path'}, a['inputs']\n\
                  assert all(s.get('shell') == 'bash' for s in a['runs']['steps'] if 'run' in s)\n";
    common::pyyaml_check(
        script,
        &[Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")],
    );
}
