//! The command interface: what a command is ([`Command`]), how it is
//! described and parsed ([`CommandSpec`], [`Param`]), and how a name is looked
//! up in a table of them. The table of every `LD_*` command is
//! `crate::commands::COMMANDS`, beside the commands.

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
    /// The most connections it can hold open at once (for the open-file check
    /// before the run).
    fn connections(&self) -> u64 {
        0
    }
}

/// The most connections any of `actions` can hold open at once.
pub fn max_connections(actions: &[crate::plan::Action]) -> u64 {
    actions
        .iter()
        .map(|a| a.command.connections())
        .max()
        .unwrap_or(0)
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
    /// JSON type and default, as documented: `string`, `number = 0`,
    /// `string = "demo"`. A default is JSON after ` = `; the command table's
    /// tests check that the parser uses it when the argument is left out.
    pub kind: &'static str,
    pub required: bool,
    pub doc: &'static str,
}

/// One command's entry in a command table.
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

/// The entry for a command name in `table`.
pub fn find(table: &'static [CommandSpec], name: &str) -> Option<&'static CommandSpec> {
    table.iter().find(|c| c.name == name)
}

/// The command of `table` closest to a misspelt one, if any is close.
pub fn closest(table: &'static [CommandSpec], name: &str) -> Option<&'static str> {
    closest_of(table.iter().map(|c| c.name), name)
}

/// The candidate `name` is most likely a misspelling of, if any is close.
pub fn closest_of<'c>(candidates: impl Iterator<Item = &'c str>, name: &str) -> Option<&'c str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
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

    fn no_command(_: &mut Validator, _: &Args<'_>) -> Option<Box<dyn Command>> {
        None
    }

    static TABLE: &[CommandSpec] = &[
        CommandSpec {
            name: "LD_register_variables",
            summary: "",
            params: &[],
            parse: no_command,
        },
        CommandSpec {
            name: "LD_start_test",
            summary: "",
            params: &[],
            parse: no_command,
        },
    ];

    #[test]
    fn names_are_found_exactly() {
        assert_eq!(
            find(TABLE, "LD_start_test").map(|c| c.name),
            Some("LD_start_test")
        );
        assert!(find(TABLE, "ld_start_test").is_none());
        assert!(find(&[], "LD_start_test").is_none());
    }

    #[test]
    fn swapping_neighbours_is_one_edit() {
        assert_eq!(closest(TABLE, "LD_strat_test"), Some("LD_start_test"));
        assert_eq!(closest(TABLE, "LD_stop"), None);
        assert_eq!(edit_distance("variabels", "variables"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
