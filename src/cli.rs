//! The command line: parses arguments, validates every plan, runs them and
//! turns the outcome into the exit code (see `crate::exit`).

use crate::budget;
use crate::commands::watchdog::HARD_GRACE;
use crate::commands::COMMANDS;
use crate::engine::capacity;
use crate::exit::Outcome;
use crate::interpreter::{Context, RunOptions};
use crate::plan::{Plan, Problem, Source, Validator};
use crate::supervisor::{orphans, WatchdogGuard};
use crate::ui::{stderr_line, stdout_text};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EXAMPLES: &str = "\
Examples:
  loaddensity run actions/quickstart.json
  loaddensity run --quiet --seed 42 plan.json other.json
  loaddensity run-dir actions/
  loaddensity run-str '[[\"LD_log\", {\"message\": \"hello\"}]]'
  loaddensity validate actions/*.json
  loaddensity commands --json
  loaddensity schema > loaddensity.schema.json
  loaddensity completions bash > ~/.local/share/bash-completion/completions/loaddensity
  loaddensity run --timeout 10m --failure-budget 0.05,30s,50 plan.json
  loaddensity orphans
  loaddensity demo-server --port 8080
  loaddensity run --segment 2/3 --result-file results/2.json plan.json
  loaddensity merge results/*.json --summary merged --junit merged --html merged
  loaddensity runs diff results/runs.db last:main last --tolerance 0.1
  loaddensity import har session.har -o plan.json --exclude analytics

Exit codes: 0 pass · 1 an action failed · 2 bad usage or invalid plan (nothing ran)
  · 3 failure budget tripped · 4 a gate failed · 5 the generator was the bottleneck
  · 124 watchdog · 130/143 SIGINT/SIGTERM";

#[derive(Parser, Debug)]
#[command(name = "loaddensity", version, about = "A CI-grade HTTP load tester driven by LoadDensity action-JSON plans", after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Validate, then run plan files in the order given
    Run {
        #[command(flatten)]
        flags: RunFlags,
        /// Plan files (JSON)
        #[arg(required = true)]
        plans: Vec<PathBuf>,
    },
    /// Run every *.json below a directory, in sorted order
    RunDir {
        #[command(flatten)]
        flags: RunFlags,
        dir: PathBuf,
    },
    /// Run a plan given as a JSON string
    RunStr {
        #[command(flatten)]
        flags: RunFlags,
        json: String,
    },
    /// Validate plan files without running anything
    Validate {
        /// Placeholders that will be undefined are errors, not warnings
        #[arg(long)]
        strict: bool,
        #[arg(required = true)]
        plans: Vec<PathBuf>,
    },
    /// List every LD_* command with its summary
    Commands {
        /// Machine-readable output, with each command's parameters
        #[arg(long)]
        json: bool,
    },
    /// Print the plan JSON Schema (draft 2020-12) for editors, generated
    /// from the commands: loaddensity schema > loaddensity.schema.json
    Schema,
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per subcommand into DIR
    Manpage {
        /// Write loaddensity.1, loaddensity-run.1, ... into this folder
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Scaffold a project: actions/ with a runnable example plan, and a README
    Init { dir: PathBuf },
    /// List orphaned loaddensity runs (what `run` would stop), without stopping them
    Orphans,
    /// Merge the result files of a run's segments (`run --segment I/N`) into
    /// one run's reports; the plan's LD_assert_sla rules are judged over the
    /// merged data
    Merge {
        /// Result files, one per segment (any order)
        #[arg(required = true, value_name = "RESULT")]
        files: Vec<PathBuf>,
        /// Write the merged summary JSON here (`.json` appended when missing)
        #[arg(long, value_name = "PATH")]
        summary: Option<String>,
        /// Write the merged JUnit XML here (`.xml` appended when missing)
        #[arg(long, value_name = "PATH")]
        junit: Option<String>,
        /// Write the merged HTML report here (`.html` appended when missing)
        #[arg(long, value_name = "PATH")]
        html: Option<String>,
        /// Keep the merged run in this run store (SQLite; see `runs`)
        #[arg(long, value_name = "DB")]
        persist: Option<PathBuf>,
        /// The label of the persisted run (`last:LABEL` finds it)
        #[arg(long, value_name = "LABEL", requires = "persist")]
        label: Option<String>,
    },
    /// Read a run store (the SQLite file LD_persist_records writes): list,
    /// show or compare runs
    Runs {
        #[command(subcommand)]
        cmd: crate::store::cli::RunsCmd,
    },
    /// Write a plan from a HAR file, cURL commands, an OpenAPI 3 document or
    /// a Postman collection (exit 2 when the document cannot be imported)
    Import(crate::import::cli::ImportArgs),
    /// Serve the built-in demo target on 127.0.0.1 until interrupted
    DemoServer {
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
}

/// Flags of every plan-running subcommand.
#[derive(Args, Debug, Clone)]
pub struct RunFlags {
    /// Print nothing but errors and the plan's own LD_log output
    #[arg(short, long)]
    pub quiet: bool,
    /// Run the remaining actions after one fails (still exits 1)
    #[arg(long)]
    pub keep_going: bool,
    /// Seed for every random draw, to replay a run (default: random, printed)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Failure budget for every test without its own: THRESHOLD[,WINDOW[,MIN_SAMPLES]]
    /// (e.g. 0.05,30s,50), or `off`. Default: 0.05,30s,50
    #[arg(long, value_name = "BUDGET", env = "LOADDENSITY_FAILURE_BUDGET", value_parser = budget::Setting::parse_flag)]
    pub failure_budget: Option<budget::Setting>,
    /// Hard wall-clock limit on the whole run, e.g. 90s or 10m (exit 124)
    #[arg(long, value_name = "DURATION", env = "LOADDENSITY_TIMEOUT", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Set plan variable NAME (`${var.NAME}`) to the string VALUE, over the
    /// plan's own LD_register_variable; repeatable (also LOADDENSITY_SET_<NAME>)
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = crate::overrides::parse_set)]
    pub set: Vec<(String, String)>,
    /// Users of every LD_start_test, over the plan's user_count
    #[arg(long, value_name = "N", env = "LOADDENSITY_USERS", value_parser = clap::value_parser!(u64).range(1..=crate::commands::load::MAX_USERS))]
    pub users: Option<u64>,
    /// Run time of every LD_start_test, e.g. 30s or 5m, over the plan's test_time
    #[arg(long, value_name = "DURATION", env = "LOADDENSITY_DURATION", value_parser = parse_timeout)]
    pub duration: Option<Duration>,
    /// Users started per second in every LD_start_test, over the plan's spawn_rate
    #[arg(long, value_name = "RATE", env = "LOADDENSITY_SPAWN_RATE", value_parser = parse_rate)]
    pub spawn_rate: Option<f64>,
    /// Base URL of every LD_start_test, over the plan's host (relative task URLs go there)
    #[arg(long, value_name = "URL", env = "LOADDENSITY_HOST", value_parser = parse_host)]
    pub host: Option<String>,
    /// Don't stop orphaned loaddensity runs before starting
    #[arg(long)]
    pub no_kill_orphans: bool,
    /// Worker threads that drive the users (default: one per available core)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
    /// An undefined ${...} placeholder is an error (exit 2 when validation can
    /// tell, else exit 1), not left in place as its text
    #[arg(long)]
    pub strict: bool,
    /// Run segment I of N of every test (1-based), for `loaddensity merge`;
    /// unset, JOB_COMPLETION_INDEX (0-based) of LOADDENSITY_SEGMENTS when set
    #[arg(long, value_name = "I/N", value_parser = crate::segment::Segment::parse)]
    pub segment: Option<crate::segment::Segment>,
    /// Write the result file (what `loaddensity merge` reads) here; a
    /// segment run writes one by default: loaddensity-result-I-of-N.json
    #[arg(long, value_name = "PATH")]
    pub result_file: Option<PathBuf>,
    /// Wait until this RFC 3339 time before running (at most 24 h ahead),
    /// so segments start together, e.g. 2026-11-30T03:00:00Z
    #[arg(long, value_name = "RFC3339", value_parser = crate::start_at::parse_rfc3339)]
    pub start_at: Option<f64>,
    /// Serve live metrics for Prometheus at http://HOST:PORT/metrics
    /// (OpenMetrics) during the run, e.g. 127.0.0.1:9646
    #[arg(long, value_name = "HOST:PORT", env = "LOADDENSITY_METRICS_ADDR", value_parser = crate::commands::metrics::parse_addr)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    crate::units::positive_number(s)
        .ok_or_else(|| format!("expected a positive number of users per second, found {s:?}"))
}

fn parse_host(s: &str) -> Result<String, String> {
    crate::http::Url::parse(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

impl RunFlags {
    /// What the flags (and their environment variables) say over the plans.
    fn overrides(&self) -> Result<crate::overrides::Overrides, String> {
        let mut vars = crate::overrides::set_from_env(std::env::vars_os())?;
        vars.extend(self.set.iter().cloned());
        Ok(crate::overrides::Overrides {
            users: self.users,
            duration_s: self.duration.map(|d| d.as_secs_f64()),
            spawn_rate: self.spawn_rate,
            host: self.host.clone(),
            vars,
        })
    }
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    match crate::units::parse_duration(s)? {
        d if d.is_zero() => Err("the timeout must be longer than 0".to_string()),
        d => Ok(d),
    }
}

/// Runs the command line and returns how it ended (the exit code, see `crate::exit`).
pub fn main_with(args: impl IntoIterator<Item = std::ffi::OsString>) -> Outcome {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Outcome::Invalid
            } else {
                Outcome::Pass
            };
        }
    };
    // GitHub Actions' job summary file, read once: every plan run appends to it.
    let step_summary = std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let summary = step_summary.as_deref();
    match cli.command {
        Cmd::Run { flags, plans } => {
            let loading = LoadWatch::arm(flags.timeout);
            refused_in_summary(run_files(&flags, &plans, loading, summary), summary)
        }
        Cmd::RunDir { flags, dir } => {
            let loading = LoadWatch::arm(flags.timeout);
            let outcome = match plans_in_dir(&dir) {
                Ok(plans) => run_files(&flags, &plans, loading, summary),
                Err(p) => invalid(&[p]),
            };
            refused_in_summary(outcome, summary)
        }
        Cmd::RunStr { flags, json } => {
            let loading = LoadWatch::arm(flags.timeout);
            let outcome = match run_validator(&flags) {
                Ok(mut v) => {
                    let plan = v.plan_source(&Source::from_string("<run-str>", json.clone()));
                    finish_validation(v, plan.into_iter().collect(), Mode::Run).map_or_else(
                        |c| c,
                        |plans| run(&flags, &plans, loading, Some(&json), summary),
                    )
                }
                Err(code) => code,
            };
            refused_in_summary(outcome, summary)
        }
        Cmd::Validate { strict, plans } => match validate_files(
            &plans,
            Validator::new(COMMANDS).strict(strict),
            Mode::Validate,
        ) {
            Ok(ps) => {
                let actions: usize = ps.iter().map(|p| p.actions.len()).sum();
                stderr_line(&format!(
                    "ok: {} plan(s), {actions} action(s) valid",
                    ps.len()
                ));
                Outcome::Pass
            }
            Err(code) => code,
        },
        Cmd::Commands { json } => {
            stdout_text(&commands_listing(json));
            Outcome::Pass
        }
        Cmd::Schema => {
            stdout_text(&crate::schema::text());
            Outcome::Pass
        }
        Cmd::Completions { shell } => {
            stdout_text(&crate::manual::completions(shell));
            Outcome::Pass
        }
        Cmd::Manpage { dir: None } => match crate::manual::manpage() {
            Ok(page) => {
                stdout_text(&page);
                Outcome::Pass
            }
            Err(e) => {
                stderr_line(&format!("error: cannot write the man page: {e}"));
                Outcome::ActionFailed
            }
        },
        Cmd::Manpage { dir: Some(dir) } => match crate::manual::manpages_to(&dir) {
            Ok(pages) => {
                for p in pages {
                    stderr_line(&format!("wrote {}", p.display()));
                }
                Outcome::Pass
            }
            Err(e) => {
                stderr_line(&format!(
                    "error: cannot write man pages into {}: {e}",
                    dir.display()
                ));
                Outcome::ActionFailed
            }
        },
        Cmd::Init { dir } => match init(&dir) {
            Ok(()) => Outcome::Pass,
            Err(e) => {
                stderr_line(&format!("error: {e:#}"));
                Outcome::Invalid
            }
        },
        Cmd::Orphans => {
            let orphans = orphans::find_orphans();
            if orphans.is_empty() {
                stderr_line("no orphaned loaddensity runs");
            }
            for o in orphans {
                stdout_text(&format!("{}\t{}s\t{}\n", o.pid, o.age_s, o.command));
            }
            Outcome::Pass
        }
        Cmd::Merge {
            files,
            summary,
            junit,
            html,
            persist,
            label,
        } => crate::merge::cli::run(
            &files,
            summary,
            junit,
            html,
            persist.map(|database| crate::merge::cli::Persist { database, label }),
        ),
        Cmd::Runs { cmd } => crate::store::cli::main(cmd),
        Cmd::Import(args) => crate::import::cli::main(args),
        Cmd::DemoServer { port } => match crate::demo_server::serve_forever(port) {
            Ok(()) => Outcome::Pass,
            Err(e) => {
                stderr_line(&format!("error: cannot serve on 127.0.0.1:{port}: {e}"));
                Outcome::ActionFailed
            }
        },
    }
}

fn run_files(
    flags: &RunFlags,
    files: &[PathBuf],
    loading: LoadWatch,
    step_summary: Option<&Path>,
) -> Outcome {
    let v = match run_validator(flags) {
        Ok(v) => v,
        Err(code) => return code,
    };
    match validate_files(files, v, Mode::Run) {
        Ok(plans) => run(flags, &plans, loading, None, step_summary),
        Err(code) => code,
    }
}

/// A run refused before anything ran (exit 2) still says so in the job
/// summary; a run that started appended its own.
fn refused_in_summary(outcome: Outcome, step_summary: Option<&Path>) -> Outcome {
    if let (Outcome::Invalid, Some(path)) = (outcome, step_summary) {
        append_step_summary(path, &crate::reports::github::invalid_markdown());
    }
    outcome
}

/// Appends `text` to the job summary file; a failure is a warning and
/// changes no exit code.
fn append_step_summary(path: &Path, text: &str) {
    if let Err(e) = crate::reports::github::append(path, text) {
        stderr_line(&format!(
            "warning: cannot append the job summary to {} (GITHUB_STEP_SUMMARY): {e}; the exit code is unchanged",
            path.display()
        ));
    }
}

/// The validator of a run: `--strict` and the pipeline's overrides.
fn run_validator(flags: &RunFlags) -> Result<Validator, Outcome> {
    match flags.overrides() {
        Ok(o) => Ok(Validator::new(COMMANDS)
            .strict(flags.strict)
            .with_overrides(o)),
        Err(msg) => {
            stderr_line(&format!("error: {msg}"));
            stderr_line("nothing was run.");
            Err(Outcome::Invalid)
        }
    }
}

/// `--timeout` until the run's own watchdog is armed: while plans are found,
/// read and validated nothing has run and there is nothing to wind down, so
/// when it fires the process ends at once with 124. Dropping it disarms it.
struct LoadWatch {
    started: Instant,
    disarmed: Arc<AtomicBool>,
}

impl LoadWatch {
    fn arm(timeout: Option<Duration>) -> LoadWatch {
        let watch = LoadWatch {
            started: Instant::now(),
            disarmed: Arc::new(AtomicBool::new(false)),
        };
        if let Some(t) = timeout {
            let disarmed = Arc::clone(&watch.disarmed);
            let spawned = std::thread::Builder::new()
                .name("watchdog-load".into())
                .spawn(move || {
                    std::thread::sleep(t);
                    if !disarmed.load(Ordering::SeqCst) {
                        eprintln!(
                            "error: watchdog: {:.1} s elapsed while loading the plans; nothing was run",
                            t.as_secs_f64()
                        );
                        std::process::exit(Outcome::Watchdog.code());
                    }
                });
            if let Err(e) = spawned {
                eprintln!("warning: could not start the watchdog thread: {e}");
            }
        }
        watch
    }
}

impl Drop for LoadWatch {
    fn drop(&mut self) {
        self.disarmed.store(true, Ordering::SeqCst);
    }
}

/// Validates every plan; on any problem prints them all and returns exit 2.
fn validate_files(files: &[PathBuf], mut v: Validator, mode: Mode) -> Result<Vec<Plan>, Outcome> {
    let plans: Vec<Plan> = files
        .iter()
        .filter_map(|f| {
            if f.as_os_str() == "-" {
                read_stdin_plan(&mut v)
            } else {
                v.plan_file(f)
            }
        })
        .collect();
    finish_validation(v, plans, mode)
}

/// `-` as a plan file: the plan is read from standard input.
fn read_stdin_plan(v: &mut Validator) -> Option<Plan> {
    match Source::from_reader("<stdin>", std::io::stdin().lock()) {
        Ok(src) => v.plan_source(&src),
        Err(p) => {
            v.problem(p);
            None
        }
    }
}

/// Whether the plans are about to run or only validated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Run,
    Validate,
}

/// Prints the warnings and every problem; before a run, forms it cannot run
/// yet are problems too (exit 2, nothing run).
fn finish_validation(mut v: Validator, plans: Vec<Plan>, mode: Mode) -> Result<Vec<Plan>, Outcome> {
    for w in v.take_warnings() {
        stderr_line(&format!("warning: {w}"));
    }
    let refused = v.take_refusals();
    let mut problems = v.finish();
    match mode {
        Mode::Validate => {
            for r in &refused {
                stderr_line(&format!(
                    "warning: {r}\n  note: `loaddensity run` refuses this plan"
                ));
            }
        }
        Mode::Run => problems.extend(refused),
    }
    if problems.is_empty() {
        Ok(plans)
    } else {
        Err(invalid(&problems))
    }
}

fn invalid(problems: &[Problem]) -> Outcome {
    for p in problems {
        stderr_line(&format!("error: {p}"));
    }
    if problems.len() > 1 {
        stderr_line(&format!(
            "{} problems found; nothing was run.",
            problems.len()
        ));
    } else {
        stderr_line("nothing was run.");
    }
    Outcome::Invalid
}

/// Runs validated plans; `text` is the plan of `run-str` (its identity in
/// the result file). With `step_summary` (`$GITHUB_STEP_SUMMARY`), the
/// run's Markdown summary is appended to that file at the end, however the
/// run ended (budget, watchdog, signal) short of a hard exit.
fn run(
    flags: &RunFlags,
    plans: &[Plan],
    loading: LoadWatch,
    text: Option<&str>,
    step_summary: Option<&Path>,
) -> Outcome {
    if let Err(msg) = check_capacity(plans) {
        stderr_line(&format!("error: {msg}"));
        stderr_line("nothing was run.");
        return Outcome::Invalid;
    }
    let segment = match segment_of(flags) {
        Ok(s) => s,
        Err(msg) => {
            stderr_line(&format!("error: {msg}"));
            stderr_line("nothing was run.");
            return Outcome::Invalid;
        }
    };
    if let Some(at) = flags.start_at {
        if let Err(msg) = crate::start_at::wait_for(at, crate::start_at::now()) {
            stderr_line(&format!("error: {msg}"));
            stderr_line("nothing was run.");
            return Outcome::Invalid;
        }
    }
    let seed = flags.seed.unwrap_or_else(crate::units::fresh_seed);
    let mut ctx = Context::new(RunOptions {
        segment,
        quiet: flags.quiet,
        keep_going: flags.keep_going,
        seed,
        failure_budget: flags.failure_budget.clone().unwrap_or_default(),
        workers: flags
            .workers
            .map_or_else(crate::engine::pool::default_workers, usize::from),
        strict: flags.strict,
        set_vars: flags.overrides().map(|o| o.vars).unwrap_or_default(),
    });
    if segment.is_whole() {
        ctx.ui.note(&format!(
            "loaddensity {} · seed {seed} (replay with --seed {seed})",
            env!("CARGO_PKG_VERSION")
        ));
    } else {
        ctx.ui.note(&format!(
            "loaddensity {} · segment {segment} · seed {seed}, this segment's {} (replay with --seed {seed} --segment {segment})",
            env!("CARGO_PKG_VERSION"),
            segment.seed(seed)
        ));
    }
    if let Some(addr) = flags.metrics_addr {
        if let Err(e) = crate::commands::metrics::start(&mut ctx, addr) {
            stderr_line(&format!("error: --metrics-addr: {e:#}"));
            stderr_line("nothing was run.");
            return Outcome::Invalid;
        }
    }
    // Signals first: an interrupt during the prelude still ends the run gracefully.
    if let Err(e) = ctx.control.watch_signals() {
        ctx.ui.warn(&format!("cannot watch SIGINT/SIGTERM: {e}"));
    }
    if !flags.no_kill_orphans {
        kill_orphans(&mut ctx);
    }
    if let Some(t) = flags.timeout {
        // Counted from the start of the process, like a CI job's limit.
        let guard = WatchdogGuard::arm(&ctx.control, loading.started, t, HARD_GRACE);
        ctx.supervisor.watchdog_timeout_s = Some(t.as_secs_f64());
        ctx.watchdogs.push((guard, Arc::new(Vec::new())));
    }
    // The run's watchdog has taken over.
    drop(loading);
    ctx.records.plans = plans.iter().map(|p| p.name.to_string()).collect();
    let go = match flags.start_at {
        Some(at) => {
            ctx.ui.note(&format!(
                "waiting for --start-at ({:.1} s)",
                (at - crate::start_at::now()).max(0.0)
            ));
            crate::start_at::sleep_until(at, &ctx.control)
        }
        None => true,
    };
    if go {
        for plan in plans {
            if ctx.run_actions(&plan.actions).is_err() && !ctx.opts.keep_going {
                break;
            }
        }
    }
    ctx.acknowledge_interrupt();
    ctx.finish();
    // The result file is written on every way the run ends but a hard exit.
    let result_path = flags
        .result_file
        .clone()
        .or_else(|| (!segment.is_whole()).then(|| crate::result_file::default_path(segment)));
    if let Some(path) = result_path {
        write_result_file(&mut ctx, flags, plans, text, &path);
    }
    let outcome = ctx.outcome;
    // The last line says what decided the exit code (stderr; --quiet keeps it
    // for a failure).
    let verdict = ctx.verdict();
    if let Some(path) = step_summary {
        let extra = crate::reports::github::StepSummary {
            verdict: verdict.clone(),
            reports: ctx
                .reports_written
                .iter()
                .chain(ctx.request_logs.values())
                .cloned()
                .chain(ctx.persisted_run.iter().map(|(db, _)| PathBuf::from(db)))
                .collect(),
        };
        let markdown = crate::reports::github::step_summary_markdown(&ctx.summary(), &extra);
        append_step_summary(path, &markdown);
    }
    if outcome == Outcome::Pass {
        ctx.ui.note(&verdict);
    } else {
        stderr_line(&verdict);
    }
    outcome
}

/// `--segment`, else the segment an Indexed Job's environment gives, else
/// the whole run.
fn segment_of(flags: &RunFlags) -> Result<crate::segment::Segment, String> {
    if let Some(s) = flags.segment {
        return Ok(s);
    }
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let index = var("JOB_COMPLETION_INDEX");
    let count = var("LOADDENSITY_SEGMENTS");
    Ok(crate::segment::Segment::from_env(index.as_deref(), count.as_deref())?.unwrap_or_default())
}

/// Writes the run's result file; failing to is an action that failed (exit 1).
fn write_result_file(
    ctx: &mut Context,
    flags: &RunFlags,
    plans: &[Plan],
    text: Option<&str>,
    path: &Path,
) {
    // A plan is identified by its bytes: the file's, run-str's text, or (for
    // standard input, which cannot be read twice) its name.
    let mut parts: Vec<Vec<u8>> = match text {
        Some(t) => vec![t.as_bytes().to_vec()],
        None => plans
            .iter()
            .map(|p| std::fs::read(&*p.name).unwrap_or_else(|_| p.name.as_bytes().to_vec()))
            .collect(),
    };
    parts.push(
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}",
            flags.users, flags.duration, flags.spawn_rate, flags.host, flags.set
        )
        .into_bytes(),
    );
    let id = crate::result_file::plan_id(&parts);
    // The verdict as it stands, for the merge to say what decided a segment.
    let verdict = ctx.verdict();
    let written = crate::result_file::ResultFile::of(ctx, &id, &verdict)
        .map_err(anyhow::Error::msg)
        .and_then(|r| crate::reports::write_report(path, r.to_json().as_bytes()));
    match written {
        Ok(()) => {
            ctx.ui
                .note(&format!("wrote result file {}", path.display()));
            ctx.reports_written.push(path.to_path_buf());
        }
        Err(e) => {
            ctx.ui.error(&format!("{e:#}"));
            ctx.fail(
                Outcome::ActionFailed,
                format!("the result file could not be written: {e:#}"),
            );
        }
    }
}

/// Raises the open-file limit and checks that every test's users can hold
/// their connections, before anything runs.
fn check_capacity(plans: &[Plan]) -> Result<(), String> {
    let need = plans
        .iter()
        .map(|p| crate::registry::max_connections(&p.actions))
        .max()
        .unwrap_or(0);
    match capacity::raise_open_file_limit() {
        Some((soft, hard)) => capacity::check(need, soft, hard),
        None => Ok(()),
    }
}

/// The prelude: stops orphaned loaddensity runs of this user and records them.
fn kill_orphans(ctx: &mut Context) {
    let found = orphans::find_orphans();
    if found.is_empty() {
        return;
    }
    let killed = orphans::kill_orphans(&found, orphans::GRACE);
    for k in &killed {
        ctx.ui.warn(&format!(
            "stopped an orphaned loaddensity run ({}): pid {}, running {} s: {}",
            k.signal, k.pid, k.age_s, k.command
        ));
    }
    ctx.supervisor.orphans_killed = killed;
}

/// Every `*.json` below `dir`, sorted, each real file once. Links to folders
/// are followed, except to a folder already searched or to one that holds
/// `dir`: two links to `.`, or one to `..`, would otherwise never end.
fn plans_in_dir(dir: &Path) -> Result<Vec<PathBuf>, Problem> {
    use std::collections::HashSet;
    #[derive(Default)]
    struct Walk {
        dirs: HashSet<PathBuf>,
        files: HashSet<PathBuf>,
        out: Vec<PathBuf>,
    }
    fn walk(w: &mut Walk, root: &Path, d: &Path, depth: usize) -> std::io::Result<()> {
        if depth > 32 {
            return Ok(());
        }
        let mut entries = std::fs::read_dir(d)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<Vec<_>>>()?;
        entries.sort();
        for path in entries {
            if path.is_dir() {
                let real = std::fs::canonicalize(&path)?;
                if root.starts_with(&real) || !w.dirs.insert(real.clone()) {
                    eprintln!(
                        "note: {} leads to {}, a folder already searched or one that holds \
                         the run's folder; skipped",
                        path.display(),
                        real.display()
                    );
                    continue;
                }
                walk(w, root, &path, depth + 1)?;
            } else if path.extension().is_some_and(|e| e == "json") {
                let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                if w.files.insert(real) {
                    w.out.push(path);
                }
            }
        }
        Ok(())
    }
    let name = dir.display().to_string();
    if !dir.is_dir() {
        return Err(Problem::file(&name, "is not a directory"));
    }
    let read_error =
        |e: std::io::Error| Problem::file(&name, format!("cannot read directory: {e}"));
    let root = std::fs::canonicalize(dir).map_err(read_error)?;
    let mut w = Walk::default();
    w.dirs.insert(root.clone());
    walk(&mut w, &root, dir, 0).map_err(read_error)?;
    let mut out = w.out;
    if out.is_empty() {
        return Err(Problem::file(&name, "contains no *.json plans"));
    }
    out.sort();
    Ok(out)
}

/// `loaddensity commands` output: one line per command, or JSON.
pub fn commands_listing(json: bool) -> String {
    if json {
        let list: Vec<serde_json::Value> = COMMANDS
            .iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.name,
                    "summary": c.summary,
                    "params": c.params.iter().map(|p| serde_json::json!({
                        "name": p.name, "type": p.kind, "required": p.required, "doc": p.doc,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut s = serde_json::to_string_pretty(&list).unwrap_or_default();
        s.push('\n');
        s
    } else {
        let width = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
        COMMANDS
            .iter()
            .map(|c| format!("{:width$}  {}\n", c.name, c.summary))
            .collect()
    }
}

const INIT_PLAN: &str = r#"{
  "load_density": [
    ["LD_log", {"message": "starting the example load test"}],
    ["LD_start_demo_server"],
    ["LD_start_test", {
      "user_count": 5,
      "spawn_rate": 50,
      "test_time": 3,
      "tasks": [
        {"method": "get", "request_url": "${var.demo}/ok", "name": "ok"},
        {"method": "get", "request_url": "${var.demo}/json", "name": "json",
         "assertions": {"status_code": 200, "json_path": {"status": "ok"}}}
      ]
    }],
    ["LD_generate_summary_report", {"report_name": "reports/summary"}],
    ["LD_generate_html_report", {"html_name": "reports/report"}]
  ]
}
"#;

/// The VS Code setting that maps the plans to the schema `init` writes.
const INIT_VSCODE_SCHEMAS: &str = r#""json.schemas": [{"fileMatch": ["actions/*.json", "actions/**/*.json"], "url": "./loaddensity.schema.json"}]"#;

const INIT_README: &str = "# Load tests\n\nRun the example against the built-in demo target, from this folder:\n\n    loaddensity run actions/example.json\n\nReport paths are relative to the folder `loaddensity` runs in, so run it from\nhere and the reports land in `reports/` here. Point `request_url` at your own\nservice (127.0.0.1 or localhost in CI) and see `loaddensity commands` for every\naction.\n";

fn init(dir: &Path) -> anyhow::Result<()> {
    let plan = dir.join("actions").join("example.json");
    let readme = dir.join("README.md");
    let cwd = std::env::current_dir().ok();
    let shown = |p: &Path| match &cwd {
        Some(c) => relative_to(p, c).display().to_string(),
        None => p.display().to_string(),
    };
    for p in [&plan, &readme] {
        if p.exists() {
            anyhow::bail!("{} already exists; init never overwrites files", shown(p));
        }
    }
    std::fs::create_dir_all(dir.join("actions"))?;
    std::fs::write(&plan, INIT_PLAN)?;
    std::fs::write(&readme, INIT_README)?;
    stderr_line(&format!("created {} and {}", shown(&plan), shown(&readme)));
    // Editor support: the plan schema, and VS Code pointed at it. Files a
    // project already has are left as they are.
    let schema = dir.join("loaddensity.schema.json");
    let vscode = dir.join(".vscode").join("settings.json");
    if schema.exists() {
        stderr_line(&format!(
            "left {} as it is (loaddensity schema > loaddensity.schema.json renews it)",
            shown(&schema)
        ));
    } else {
        std::fs::write(&schema, crate::schema::text())?;
        stderr_line(&format!(
            "created {} (the plan schema, for editors)",
            shown(&schema)
        ));
    }
    if vscode.exists() {
        stderr_line(&format!(
            "left {} as it is: add to it {INIT_VSCODE_SCHEMAS}",
            shown(&vscode)
        ));
    } else {
        std::fs::create_dir_all(dir.join(".vscode"))?;
        std::fs::write(&vscode, format!("{{\n  {INIT_VSCODE_SCHEMAS}\n}}\n"))?;
        stderr_line(&format!(
            "created {} (VS Code checks actions/*.json against the schema)",
            shown(&vscode)
        ));
    }
    // The plan's report paths are relative to the working folder: run it
    // from the project so its reports land there.
    let project = shown(dir);
    let next = if project == "." {
        "loaddensity run actions/example.json".to_string()
    } else {
        format!(
            "cd {} && loaddensity run actions/example.json",
            shell_word(&project)
        )
    };
    stderr_line(&format!("next: {next}"));
    Ok(())
}

/// `path` as seen from the folder `from` (both made absolute and free of
/// symlinks where they exist): `proj/README.md`, `../other/x`, or `.` for the
/// folder itself. Falls back to `path` as given when there is no common root.
fn relative_to(path: &Path, from: &Path) -> PathBuf {
    use std::path::Component;
    let real = |p: &Path| {
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            from.join(p)
        };
        std::fs::canonicalize(&abs).unwrap_or(abs)
    };
    let (to, base) = (real(path), real(from));
    let to_parts: Vec<Component> = to.components().collect();
    let base_parts: Vec<Component> = base.components().collect();
    let common = to_parts
        .iter()
        .zip(&base_parts)
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..base_parts.len() {
        out.push("..");
    }
    for c in &to_parts[common..] {
        out.push(c.as_os_str());
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `s` as one shell word: as is when it is plain, else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod init_tests {
    use super::*;

    #[test]
    fn paths_are_shown_relative_to_the_working_folder() {
        let d = std::env::temp_dir().join(format!("loaddensity-rel-{}", std::process::id()));
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::create_dir_all(d.join("c")).unwrap();
        assert_eq!(relative_to(&d.join("a/b"), &d), Path::new("a/b"));
        assert_eq!(
            relative_to(&d.join("a/b/x.json"), &d),
            Path::new("a/b/x.json")
        );
        assert_eq!(
            relative_to(&d.join("c"), &d.join("a/b")),
            Path::new("../../c")
        );
        assert_eq!(relative_to(&d, &d), Path::new("."));
        assert_eq!(relative_to(Path::new("a"), &d), Path::new("a"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("load-tests/ci"), "load-tests/ci");
        assert_eq!(shell_word("my tests"), "'my tests'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
