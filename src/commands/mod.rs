//! One module per family of `LD_*` commands: typed arguments, checks, handler.
//! [`COMMANDS`] lists them all; the interface they implement is
//! [`crate::registry`].

pub mod budget;
pub mod flow;
pub mod load;
pub mod log;
pub mod network;
pub mod reports;
pub mod server;
pub mod sla;
pub mod vars;
pub mod watchdog;

use crate::registry::CommandSpec;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::closest;

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
            closest(COMMANDS, "LD_register_variabels"),
            Some("LD_register_variables")
        );
        assert_eq!(closest(COMMANDS, "ld_start_tset"), Some("LD_start_test"));
        assert_eq!(closest(COMMANDS, "completely_else_entirely"), None);
    }
}
