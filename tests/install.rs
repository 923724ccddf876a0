//! What an installed `loaddensity` brings along without a checkout: shell
//! completions and man pages generated from the command line.

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
