//! The installed manual: shell completion scripts (`clap_complete`) and man
//! pages (`clap_mangen`), both generated from the command line's own
//! definition, so they name every subcommand and flag `--help` does.

use crate::cli::Cli;
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> String {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "loaddensity", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The man page of `loaddensity` (roff), with its subcommands listed.
pub fn manpage() -> std::io::Result<String> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Writes one man page per command and subcommand into `dir` (made when
/// missing): `loaddensity.1`, `loaddensity-run.1`, ... Returns the files, sorted.
pub fn manpages_to(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Cli::command(), dir)?;
    let mut written: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    written.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("loaddensity") && n.ends_with(".1"))
    });
    written.sort();
    Ok(written)
}
