//! The interpreter: owns the run state and runs validated actions in order.

use crate::budget::{self, BudgetConfig, Trip};
use crate::data_source::CsvFeed;
use crate::demo_server::DemoServer;
use crate::exit::Outcome;
use crate::plan::Action;
use crate::registry::Role;
use crate::resolver::{self, Template, Vars};
use crate::stats::recorder::Recorder;
use crate::stats::records::Records;
use crate::stats::{
    BudgetReport, BudgetState, ErrorCount, RunSummary, SlaResult, SupervisorReport, TripReason,
};
use crate::supervisor::{Interrupt, RunControl, WatchdogGuard};
use crate::ui::Ui;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Run-wide settings from the command line.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Print nothing but errors and the plan's own `LD_log` output.
    pub quiet: bool,
    /// Run the remaining actions after one fails (still exits 1).
    pub keep_going: bool,
    /// Every random draw of the run derives from this.
    pub seed: u64,
    /// `--failure-budget`: in force for every test without a budget of its own
    /// or an installed (or uninstalled) one; unset, the default budget.
    pub failure_budget: budget::Setting,
    /// Worker threads that drive a test's users (`--workers`).
    pub workers: usize,
    /// `--strict`: an undefined placeholder is an error, not left in place.
    pub strict: bool,
    /// `--set NAME=VALUE` (and `LOADDENSITY_SET_NAME`): plan variables the
    /// plan cannot change.
    pub set_vars: Vec<(String, String)>,
    /// `--segment I/N`: this run does segment I of N of every test.
    pub segment: crate::segment::Segment,
}

/// An action failed and its error was already reported.
#[derive(Debug)]
pub struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a nested action failed")
    }
}

impl std::error::Error for Reported {}

/// The state of one run, passed down to every command.
pub struct Context {
    pub opts: RunOptions,
    pub ui: Ui,
    /// Plan variables (`${var.NAME}`).
    pub vars: Vars,
    /// Draws for plan-level placeholders (`${uuid()}` in an `LD_log`, ...).
    pub rng: SmallRng,
    /// What every test so far measured.
    pub records: Records,
    /// The most specific outcome so far.
    pub outcome: Outcome,
    /// What decided `outcome`, in words, for the verdict line.
    pub why: Option<String>,
    pub started: Instant,
    pub started_unix: f64,
    /// Demo servers started by the plan, stopped when the run ends.
    pub demo_servers: Vec<DemoServer>,
    /// Tests started so far (numbering, seeds).
    pub tests_started: usize,
    /// What `LD_install_failure_budget` / `LD_uninstall_failure_budget` said.
    pub installed_budget: budget::Setting,
    /// The conditioner `LD_install_network_conditioner` installed.
    pub conditioner: Option<std::sync::Arc<crate::conditioner::Conditioner>>,
    /// The failure budget's settings and state, for reports.
    pub budget_report: BudgetReport,
    /// SLA rules evaluated so far.
    pub sla: Vec<SlaResult>,
    /// Interrupts of this run: watchdogs and signals.
    pub control: Arc<RunControl>,
    /// Armed run-wide watchdogs, each with the actions to run when it fires.
    pub watchdogs: Vec<(WatchdogGuard, Arc<Vec<Action>>)>,
    /// What the supervisor did, for reports.
    pub supervisor: SupervisorReport,
    /// The interrupt already acted on (outcome set, on_timeout run).
    handled: Option<Interrupt>,
    /// Undefined placeholders the plan's own actions left in place, by key.
    pub unresolved: BTreeMap<String, u64>,
    /// CSV sources registered by `LD_register_csv_source(s)`, by name.
    pub csv_sources: BTreeMap<String, Arc<CsvFeed>>,
    /// The `LD_assert_sla` rules reached, as written (for the result file:
    /// `loaddensity merge` judges them over every segment).
    pub sla_rules: Vec<serde_json::Value>,
    /// The run store file and run id `LD_persist_records` last wrote (what
    /// `LD_diff_runs` compares when no `current_run_id` is given).
    pub persisted_run: Option<(String, i64)>,
    /// The `record_csv` file of each test that wrote one, by test number
    /// (for `LD_persist_records`).
    pub request_logs: BTreeMap<usize, std::path::PathBuf>,
    /// The live metrics endpoint (`LD_start_prometheus_exporter`,
    /// `--metrics-addr`), while it serves.
    pub metrics: Option<crate::metrics::Exporter>,
    /// The report files the run wrote, in order (for the job summary).
    pub reports_written: Vec<std::path::PathBuf>,
}

impl Context {
    pub fn new(opts: RunOptions) -> Context {
        let started_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut vars = Vars::default();
        for (k, v) in &opts.set_vars {
            vars.set(k.clone(), v.clone());
        }
        Context {
            ui: Ui::new(opts.quiet),
            rng: SmallRng::seed_from_u64(opts.segment.seed(opts.seed)),
            opts,
            vars,
            records: Records::default(),
            outcome: Outcome::Pass,
            why: None,
            started: Instant::now(),
            started_unix,
            demo_servers: Vec::new(),
            tests_started: 0,
            installed_budget: budget::Setting::Unset,
            conditioner: None,
            budget_report: BudgetReport::default(),
            sla: Vec::new(),
            control: RunControl::new(Instant::now()),
            watchdogs: Vec::new(),
            supervisor: SupervisorReport::default(),
            handled: None,
            unresolved: BTreeMap::new(),
            csv_sources: BTreeMap::new(),
            sla_rules: Vec::new(),
            persisted_run: None,
            request_logs: BTreeMap::new(),
            metrics: None,
            reports_written: Vec::new(),
        }
    }

    /// Sets plan variable `name`, unless the pipeline set it (`--set`): the
    /// pipeline's word wins.
    pub fn set_var(&mut self, name: &str, value: serde_json::Value) {
        if self.opts.set_vars.iter().any(|(k, _)| k == name) {
            self.ui.note(&format!(
                "variable {name}: keeping the value given by --set"
            ));
        } else {
            self.vars.set(name.to_string(), value);
        }
    }

    /// Forgets every plan variable but the pipeline's (`--set`).
    pub fn clear_vars(&mut self) {
        self.vars.clear();
        for (k, v) in &self.opts.set_vars {
            self.vars.set(k.clone(), v.clone());
        }
    }

    /// Runs actions in order. The first failure stops them (unless
    /// `--keep-going`) and is reported once, here.
    pub fn run_actions(&mut self, actions: &[Action]) -> Result<(), Reported> {
        self.run_actions_while(actions, || true)
    }

    /// Like [`Context::run_actions`], stopping before an action when `go_on`
    /// says no (a scoped watchdog that fired).
    pub fn run_actions_while(
        &mut self,
        actions: &[Action],
        go_on: impl Fn() -> bool,
    ) -> Result<(), Reported> {
        let mut failed = false;
        for action in actions {
            if !go_on() {
                break;
            }
            if self.run_action(action).is_err() {
                failed = true;
                if !self.opts.keep_going {
                    return Err(Reported);
                }
            }
        }
        if failed {
            Err(Reported)
        } else {
            Ok(())
        }
    }

    /// Runs one action, unless the run is winding down and it sends load; a
    /// failure is reported once, here.
    fn run_action(&mut self, action: &Action) -> Result<(), Reported> {
        let interrupted = self.acknowledge_interrupt();
        if action.role() == Role::Load && (interrupted || self.outcome == Outcome::BudgetTripped) {
            let why = if interrupted {
                "the run was interrupted"
            } else {
                "the failure budget tripped"
            };
            self.ui
                .warn(&format!("skipped {} at {}: {why}", action.name, action.at));
            return Ok(());
        }
        match action.command.run(self) {
            Ok(()) => Ok(()),
            Err(e) => {
                if e.downcast_ref::<Reported>().is_none() {
                    self.ui
                        .error(&format!("{} failed at {}: {e:#}", action.name, action.at));
                }
                self.fail(
                    Outcome::ActionFailed,
                    format!("{} failed at {}: {e:#}", action.name, action.at),
                );
                Err(Reported)
            }
        }
    }

    /// Raises the run's outcome to `o` (the most specific wins, see
    /// [`Outcome`]); `why` says what decided it when `o` is the new outcome.
    pub fn fail(&mut self, o: Outcome, why: String) {
        if o > self.outcome || (o == self.outcome && self.why.is_none()) {
            self.outcome = o;
            self.why = Some(why);
        }
    }

    /// The last line of a run: the exit code and what decided it.
    pub fn verdict(&self) -> String {
        let o = self.outcome;
        match (&self.why, o) {
            (Some(why), _) => format!("exit {}: {why}", o.code()),
            (None, _) => {
                let t = self.records.summary().total;
                format!(
                    "exit {}: {} — {} requests, {} failed ({:.2}%)",
                    o.code(),
                    o.reason(),
                    t.requests,
                    t.failures,
                    100.0 * t.failure_rate
                )
            }
        }
    }

    /// Acts once on an interrupt that came (watchdog, signal): sets the exit
    /// outcome and runs the fired watchdogs' `on_timeout` actions. Returns
    /// whether the run is interrupted (its remaining load is skipped).
    pub fn acknowledge_interrupt(&mut self) -> bool {
        let Some(why) = self.control.interrupted() else {
            return false;
        };
        if self.handled == Some(why) {
            return true;
        }
        self.handled = Some(why);
        self.supervisor.watchdog_fired_at_s = self.control.fired_at();
        let after = self.started.elapsed().as_secs_f64();
        self.fail(
            Outcome::from(why),
            match why {
                Interrupt::Watchdog => format!("the watchdog stopped the run after {after:.1} s"),
                Interrupt::SigInt => "interrupted by SIGINT".to_string(),
                Interrupt::SigTerm => "interrupted by SIGTERM".to_string(),
            },
        );
        match why {
            Interrupt::Watchdog => {
                let fired: Vec<Arc<Vec<Action>>> = self
                    .watchdogs
                    .iter()
                    .filter(|(g, _)| g.fired())
                    .map(|(_, on)| Arc::clone(on))
                    .collect();
                for on_timeout in fired {
                    // on_timeout actions run once, bounded by the watchdog's hard grace.
                    let _ = self.run_actions(&on_timeout);
                }
            }
            Interrupt::SigInt => {
                self.supervisor.signal = Some("SIGINT".to_string());
            }
            Interrupt::SigTerm => {
                self.supervisor.signal = Some("SIGTERM".to_string());
            }
        }
        true
    }

    /// Resolves every `${...}` in a string against the plan variables.
    /// An undefined placeholder is left in place and counted (an error
    /// under `--strict`).
    pub fn resolve_str(&mut self, s: &str) -> anyhow::Result<String> {
        let t = Template::parse(s)?;
        let mut notes = Vec::new();
        let mut scope = resolver::Scope::new(&self.vars, &mut self.rng)
            .with_strict(self.opts.strict)
            .noting(&mut notes);
        let out = t.render_to_string(&mut scope)?;
        Recorder::count(&mut self.unresolved, &mut notes);
        Ok(out)
    }

    /// Resolves every string of a JSON value against the plan variables,
    /// like [`Context::resolve_str`].
    pub fn resolve_value(&mut self, v: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let mut notes = Vec::new();
        let mut scope = resolver::Scope::new(&self.vars, &mut self.rng)
            .with_strict(self.opts.strict)
            .noting(&mut notes);
        let out = resolver::resolve_value(v, &mut scope)?;
        Recorder::count(&mut self.unresolved, &mut notes);
        Ok(out)
    }

    /// Everything measured so far, with the exit code the run would have now.
    pub fn summary(&self) -> RunSummary {
        let mut s = self.records.summary();
        s.tool = "loaddensity".to_string();
        s.version = env!("CARGO_PKG_VERSION").to_string();
        s.started_at = self.started_unix;
        s.duration_s = self.started.elapsed().as_secs_f64();
        s.exit_code = self.outcome.code();
        s.exit_reason = self.outcome.reason().to_string();
        s.seed = self.opts.seed;
        s.seed_str = crate::units::seed_str(s.seed);
        s.budget = self.budget_report.clone();
        s.supervisor = self.supervisor.clone();
        s.sla = self.sla.clone();
        crate::stats::model::add_counts(&mut s.unresolved, &self.unresolved);
        s
    }

    /// The budget a test gets, given its own setting: its own, else the
    /// installed one, else `--failure-budget`, else the default; any of them
    /// may say "off".
    pub fn budget_in_force(
        &self,
        test: &budget::Setting,
    ) -> Option<(BudgetConfig, budget::Source)> {
        test.or(
            || {
                self.installed_budget.or(
                    || {
                        self.opts.failure_budget.or(
                            || Some((BudgetConfig::default(), budget::Source::Default)),
                            budget::Source::Flag,
                        )
                    },
                    budget::Source::Installed,
                )
            },
            budget::Source::Test,
        )
    }

    /// A test ran under `cfg` (the report shows it armed unless it tripped before).
    pub fn budget_armed(&mut self, cfg: &BudgetConfig, source: budget::Source) {
        if self.budget_report.state == BudgetState::Tripped {
            return;
        }
        self.budget_report = BudgetReport {
            installed: true,
            source: Some(source),
            threshold: Some(cfg.threshold),
            window_seconds: Some(cfg.window_seconds),
            min_samples: Some(cfg.min_samples),
            slow_call_ms: cfg.slow_call_ms,
            slow_call_threshold: cfg.slow_call_threshold,
            state: BudgetState::Armed,
            ..BudgetReport::default()
        };
    }

    /// The budget tripped in test `index`: records it, says why, and sets exit 3.
    pub fn budget_tripped(
        &mut self,
        (cfg, source): &(BudgetConfig, budget::Source),
        trip: &Trip,
        index: usize,
        top: &[ErrorCount],
    ) {
        self.budget_armed(cfg, *source);
        let r = &mut self.budget_report;
        r.state = BudgetState::Tripped;
        r.reason = Some(trip.reason);
        r.test = Some(index);
        r.tripped_at_s = Some(trip.at_s);
        r.error_rate = Some(trip.error_rate);
        r.slow_call_rate = trip.slow_call_rate;
        r.samples = Some(trip.samples);
        r.top_errors = top.iter().take(5).cloned().collect();
        let why = match (
            trip.reason,
            trip.slow_call_rate,
            cfg.slow_call_ms,
            cfg.slow_call_threshold,
        ) {
            (TripReason::SlowCalls, Some(rate), Some(ms), Some(t)) => format!(
                "{:.1}% of calls slower than {ms} ms > {:.1}%",
                rate * 100.0,
                t * 100.0
            ),
            _ => format!(
                "error rate {:.1}% > {:.1}%",
                trip.error_rate * 100.0,
                cfg.threshold * 100.0
            ),
        };
        let errors: Vec<String> = top
            .iter()
            .take(3)
            .map(|e| format!("{} ×{}", e.message, e.count))
            .collect();
        let when = if trip.at_end {
            format!(
                "when test {index} ended ({} samples, fewer than min_samples {}: all of them judged)",
                trip.samples, cfg.min_samples
            )
        } else {
            format!(
                "in test {index} after {:.1} s ({} samples over the last {} s)",
                trip.at_s, trip.samples, cfg.window_seconds
            )
        };
        self.ui.error(&format!(
            "failure budget tripped {when}: {why}{}",
            if errors.is_empty() {
                String::new()
            } else {
                format!("; top errors: {}", errors.join(", "))
            }
        ));
        let top = top
            .first()
            .map(|e| format!(" ({})", e.message))
            .unwrap_or_default();
        let span = if trip.at_end {
            "in the whole test".to_string()
        } else {
            format!("in the last {} s", cfg.window_seconds)
        };
        let what = match trip.reason {
            TripReason::ErrorRate => format!(
                "{:.1}% of {} requests failed {span}",
                trip.error_rate * 100.0,
                trip.samples,
            ),
            TripReason::SlowCalls => format!("{why} {span}"),
        };
        let when = if trip.at_end {
            format!("when test {index} ended")
        } else {
            format!("at {:.1} s in test {index}", trip.at_s)
        };
        self.fail(
            Outcome::BudgetTripped,
            format!("failure budget tripped {when} — {what}{top}"),
        );
    }

    /// Stops what the run started (the metrics exporter, demo servers).
    pub fn finish(&mut self) {
        self.stop_metrics();
        for s in self.demo_servers.drain(..) {
            s.stop();
        }
    }

    /// Stops the metrics exporter, if one serves, once Prometheus has
    /// scraped the final figures (see `Board::await_final_scrape`).
    pub fn stop_metrics(&mut self) {
        let Some(e) = self.metrics.take() else {
            return;
        };
        match e.board.await_final_scrape(&self.control) {
            Some((waited, true)) => self.ui.note(&format!(
                "metrics: Prometheus scraped the final figures ({:.1} s after the end)",
                waited.as_secs_f64()
            )),
            Some((waited, false)) => self.ui.warn(&format!(
                "metrics: no scrape of the final figures within {:.1} s; Prometheus misses the last second of the run",
                waited.as_secs_f64()
            )),
            None => {}
        }
        e.stop();
    }
}
