//! The command registry: one table of every `LD_*` command, its one-line
//! summary, its parameters (in positional order) and its parser. Adding a
//! command is one entry here plus its module under `commands/`.

use crate::interpreter::Context;
use crate::plan::validate::{Args, Validator};
use serde::de::DeserializeOwned;
use std::path::PathBuf;

/// What a validated command does when its turn comes.
pub trait Command: std::fmt::Debug + Send + Sync {
    /// Runs the command. An error fails this action (exit 1).
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()>;
    /// How the interpreter treats it when the run is winding down.
    fn role(&self) -> Role {
        Role::Control
    }
    /// Files the command writes, known before the run (for overwrite checks).
    fn outputs(&self) -> Vec<PathBuf> {
        Vec::new()
    }
}

/// How a command behaves once a failure budget tripped or the run is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends load (`LD_start_test`): skipped after a budget trip.
    Load,
    /// Writes reports: always runs, so CI gets what was measured.
    Report,
    /// Anything else (variables, logging, nesting).
    Control,
}

/// One documented parameter.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    /// JSON type and default, as documented: `string`, `number = 0`, ...
    pub kind: &'static str,
    pub required: bool,
    pub doc: &'static str,
}

/// One registry entry.
pub struct CommandSpec {
    pub name: &'static str,
    pub summary: &'static str,
    /// Parameters in positional order.
    pub params: &'static [Param],
    /// Validates the arguments and builds the command.
    pub parse: fn(&mut Validator, &Args<'_>) -> Option<Box<dyn Command>>,
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandSpec")
            .field("name", &self.name)
            .finish()
    }
}

/// A parser for commands whose typed arguments need no further checks.
pub fn parse_typed<T>(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>>
where
    T: DeserializeOwned + Command + 'static,
{
    v.typed::<T>(a).map(|t| Box::new(t) as Box<dyn Command>)
}

use crate::commands::{budget, flow, load, log, network, reports, server, sla, vars, watchdog};

/// Every command, in the order `loaddensity commands` lists them.
pub static COMMANDS: &[CommandSpec] = &[
    vars::REGISTER_VARIABLE,
    vars::REGISTER_VARIABLES,
    vars::CLEAR_RESOLVER,
    log::LOG,
    flow::EXECUTE_ACTION,
    flow::EXECUTE_FILES,
    watchdog::SET_WATCHDOG,
    watchdog::WITH_WATCHDOG,
    server::START_DEMO_SERVER,
    budget::INSTALL_FAILURE_BUDGET,
    budget::UNINSTALL_FAILURE_BUDGET,
    budget::BUDGET_STATUS,
    network::INSTALL_NETWORK_CONDITIONER,
    network::UNINSTALL_NETWORK_CONDITIONER,
    load::START_TEST,
    sla::EVALUATE_SLA,
    sla::ASSERT_SLA,
    reports::GENERATE_SUMMARY_REPORT,
    reports::GENERATE_JSON_REPORT,
    reports::GENERATE_CSV_REPORT,
    reports::GENERATE_JUNIT_REPORT,
    reports::GENERATE_HTML_REPORT,
    reports::CLEAR_RECORDS,
];

/// The entry for a command name.
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// The known command closest to a misspelt one, if any is close.
pub fn closest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    COMMANDS
        .iter()
        .map(|c| (edit_distance(&lower, &c.name.to_ascii_lowercase()), c.name))
        .filter(|(d, c)| *d <= (c.len() / 4).max(2))
        .min()
        .map(|(_, c)| c)
}

/// Edit distance over chars where swapping two neighbours counts as one edit
/// (optimal string alignment), so `variabels` is one edit from `variables`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j - 1] + cost)
                .min(d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        assert!(names.iter().all(|n| n.starts_with("LD_")));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
    }

    #[test]
    fn misspellings_find_their_command() {
        assert_eq!(
            closest("LD_register_variabels"),
            Some("LD_register_variables")
        );
        assert_eq!(closest("ld_start_tset"), Some("LD_start_test"));
        assert_eq!(closest("completely_else_entirely"), None);
    }
}
