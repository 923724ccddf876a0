fn main() -> std::process::ExitCode {
    // A pipeline often passes an input it did not get as an empty variable
    // (`LOADDENSITY_USERS: ${{ inputs.users }}`): empty means unset. Done
    // first, while the process has one thread.
    for (k, v) in std::env::vars_os() {
        if v.is_empty() && k.to_str().is_some_and(|k| k.starts_with("LOADDENSITY_")) {
            std::env::remove_var(k);
        }
    }
    // Plan-running subcommands mark themselves for the orphan check (this may
    // re-execute the process once, keeping its pid).
    let runs_plans = std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "run" || a == "run-dir" || a == "run-str");
    if runs_plans {
        loaddensity::supervisor::marker::ensure_marked();
    }
    loaddensity::cli::main_with(std::env::args_os()).into()
}
