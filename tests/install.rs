//! What an installed `loaddensity` brings along without a checkout: shell
//! completions and man pages generated from the command line, error hints
//! that name the tool's own help, and the install paths themselves (README,
//! MSRV, the Dockerfile's shape; the image is built by `.ci/run` where a
//! Docker engine answers).

use crate::common::{self, Run};
use crate::docs_sync::read;
use clap::CommandFactory;

/// Every subcommand name, from the command line's definition.
fn subcommands() -> Vec<String> {
    let names: Vec<String> = loaddensity::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    assert!(names.len() >= 12, "{names:?}");
    names
}

fn ok(sub: &str, args: &[&str]) -> Run {
    let r = Run::of(common::ld(sub).args(args));
    assert_eq!(r.code, 0, "{sub} {args:?}: {}", r.stderr);
    r
}

#[test]
fn bash_completion_names_every_subcommand_and_parses() {
    let r = ok("completions", &["bash"]);
    for name in subcommands() {
        assert!(r.stdout.contains(&name), "bash completion lacks {name}");
    }
    assert!(r.stdout.contains("--failure-budget"));
    assert!(r.stdout.contains("complete -F _loaddensity"));
    // `bash -n` parses without running, when bash is here.
    let dir = common::scratch_dir("install", "bash");
    let script = dir.join("loaddensity.bash");
    std::fs::write(&script, &r.stdout).unwrap();
    match std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("bash not available ({e}): bash -n skipped"),
    }
}

#[test]
fn every_shell_gets_a_script_naming_run() {
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let r = ok("completions", &[shell]);
        assert!(r.stdout.len() > 200, "{shell}: {}", r.stdout);
        assert!(r.stdout.contains("run"), "{shell}");
        assert!(r.stdout.contains("validate"), "{shell}");
    }
    let r = Run::of(common::ld("completions").arg("tcsh"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bash"), "{}", r.stderr);
}

#[test]
fn the_man_page_is_roff_and_names_every_subcommand() {
    let r = ok("manpage", &[]);
    // clap_mangen opens with two quote-macro lines, then the title header.
    let header = r
        .stdout
        .lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"))
        .unwrap_or("");
    assert!(header.starts_with(".TH loaddensity 1"), "{header}");
    assert!(r.stdout.contains(".SH NAME") && r.stdout.contains(".SH SUBCOMMANDS"));
    for name in subcommands() {
        assert!(
            r.stdout
                .contains(&format!("loaddensity\\-{}", name.replace('-', "\\-"))),
            "the man page lacks {name}"
        );
    }
}

#[test]
fn manpage_dir_writes_one_page_per_subcommand() {
    let dir = common::scratch_dir("install", "man").join("man1");
    let r = ok("manpage", &["--dir", dir.to_str().unwrap()]);
    let mut want = vec!["loaddensity.1".to_string()];
    want.extend(subcommands().iter().map(|s| format!("loaddensity-{s}.1")));
    for page in &want {
        let text = std::fs::read_to_string(dir.join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}\n{}", r.stderr));
        assert!(text.contains(".TH "), "{page}");
        assert!(r.stderr.contains(page.as_str()), "{}", r.stderr);
    }
    assert!(dir.join("loaddensity-runs-diff.1").is_file());
    // A folder it cannot make is an error, not a panic.
    let blocked = common::scratch_dir("install", "man_blocked").join("file");
    std::fs::write(&blocked, "").unwrap();
    let r = Run::of(common::ld("manpage").arg("--dir").arg(blocked.join("man1")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot write man pages"), "{}", r.stderr);
}

#[test]
fn every_subcommand_is_documented_in_cli_md() {
    let doc = read("docs/cli.md");
    for name in subcommands() {
        assert!(
            doc.contains(&format!("### {name}\n")),
            "docs/cli.md has no `### {name}` section"
        );
    }
}

#[test]
fn hints_name_the_installed_help_not_a_checkouts_files() {
    let dir = common::scratch_dir("install", "hints");
    let plan = dir.join("plan.json");
    std::fs::write(
        &plan,
        r#"[["LD_log", {"mesage": "x"}],
            ["LD_start_test", {"tasks": [{"request_url": "http://127.0.0.1:9/", "tags": []}]}],
            ["LD_start_test", {"runner_mode": "worker", "tasks": [{"request_url": "http://127.0.0.1:9/"}]}]]"#,
    )
    .unwrap();
    let r = Run::of(common::ld("validate").arg(&plan));
    assert_eq!(r.code, 2, "{}", r.stderr);
    for needle in [
        "did you mean `message`? `loaddensity commands --json` lists LD_log's parameters",
        "`loaddensity schema` describes every task field",
        "see `loaddensity run --help`",
    ] {
        assert!(r.stderr.contains(needle), "{needle}:\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("docs/"), "{}", r.stderr);
    assert!(!r.stderr.contains(".md"), "{}", r.stderr);
}

/// Cargo.toml's `rust-version`.
fn msrv() -> String {
    let toml = read("Cargo.toml");
    let line = toml
        .lines()
        .find(|l| l.starts_with("rust-version"))
        .expect("Cargo.toml declares rust-version");
    line.split('"').nth(1).expect("quoted").to_string()
}

#[test]
fn the_dockerfile_is_multi_stage_small_and_non_root() {
    let df = read("Dockerfile");
    let lines: Vec<&str> = df
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("FROM "))
        .collect();
    assert_eq!(
        froms.len(),
        2,
        "a build stage and a runtime stage: {froms:?}"
    );
    let build = lines[froms[0]];
    assert!(
        build.starts_with("FROM rust:") && build.ends_with(" AS build"),
        "{build}"
    );
    assert_eq!(lines[froms[1]], "FROM debian:bookworm-slim");
    // The builder is the MSRV, so building the image checks it.
    assert!(
        lines.contains(&format!("ARG RUST_VERSION={}", msrv()).as_str()),
        "ARG RUST_VERSION must be Cargo.toml's rust-version {}",
        msrv()
    );
    assert!(df.contains("--locked"));
    let runtime = &lines[froms[1]..];
    assert!(runtime.iter().any(|l| l.starts_with("COPY --from=build ")));
    assert!(df.contains("ca-certificates"));
    let user = runtime
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    assert!(!matches!(user.trim(), "root" | "0" | "0:0"), "USER {user}");
    assert!(runtime.contains(&"WORKDIR /work"));
    assert!(runtime.contains(&"ENTRYPOINT [\"loaddensity\"]"));
    assert!(runtime.contains(&"CMD [\"--help\"]"));
    let ignore = read(".dockerignore");
    for entry in ["target/", "reports/", ".git"] {
        assert!(ignore.lines().any(|l| l.trim() == entry), "{entry}");
    }
}

#[test]
fn the_readme_says_how_to_install() {
    let readme = read("README.md");
    for needle in [
        "## Install",
        "cargo install --path . --locked",
        "loaddensity --version",
        "loaddensity completions bash",
        "loaddensity manpage",
        "docker build -t loaddensity .",
        &format!("Rust {} or newer", msrv()),
    ] {
        assert!(readme.contains(needle), "README.md lacks {needle:?}");
    }
    // CI builds the image where it can, in one block before the format check.
    let ci = read(".ci/run");
    let docker = ci.find("docker info").expect(".ci/run checks docker info");
    let fmt = ci.find("cargo fmt --all -- --check").expect("fmt");
    assert!(docker < fmt);
    assert!(ci.contains("\"$image\" --version") && ci.contains("\"$image\" validate"));
}
