fn main() -> std::process::ExitCode {
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
