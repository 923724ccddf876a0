//! The one harness of the integration tests: every run of the real binary
//! goes through [`ld`] and [`start`], and every plan through [`Plan`].
//!
//! Output goes to files (never pipes), so a chatty run cannot block, and every
//! wait is bounded: a run that outlives its limit is killed and the test fails
//! with what it printed.
//!
//! Plan-running subcommands get `--no-kill-orphans` unless a test asks for the
//! prelude ([`Plan::kill_orphans`]): the tests share one process, and a
//! prelude running beside the orphan test would stop its orphan first.

use serde_json::Value;
use std::borrow::BorrowMut;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a foreground run may take before it is killed.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// A fresh scratch folder under the target dir: `CARGO_TARGET_TMPDIR/group/name`.
pub fn scratch_dir(group: &str, name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A JSON count, or a panic naming the value.
pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Every example plan under `actions/`, sorted.
pub fn example_plans() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("actions");
    let mut plans: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    plans.sort();
    assert!(!plans.is_empty(), "no example plans in {}", dir.display());
    plans
}

/// A tool the tests use when present: Debian's `/usr/bin/NAME`, else `NAME`
/// on the PATH.
pub fn installed(name: &str) -> Option<PathBuf> {
    let debian = Path::new("/usr/bin").join(name);
    if debian.is_file() {
        return Some(debian);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Runs a PyYAML `script` over `files` (`python3 -c SCRIPT FILE...`) and
/// asserts it succeeds, when python3 has the yaml module; says it skipped
/// otherwise.
pub fn pyyaml_check(script: &str, files: &[PathBuf]) {
    let has_yaml = Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_yaml {
        eprintln!("note: PyYAML check skipped: python3 with the yaml module is not installed");
        return;
    }
    let o = Command::new("python3")
        .args(["-c", script])
        .args(files)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "PyYAML: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Polls `ready` every 10 ms until it holds; panics naming `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ready() {
        assert!(t.elapsed() < limit, "not ready within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Taken by the tests that load the machine (thousands of users) and by the
/// tests that time a stop to a fraction of a second, so that they never run
/// at the same time: on a two-core CI machine a timing bound would otherwise
/// measure the other test.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the process carries its run marker (it has re-executed itself).
pub fn marked(pid: u32) -> bool {
    let prefix = format!("{}=", loaddensity::supervisor::marker::MARKER_ENV);
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
        env.split(|&b| b == 0)
            .any(|v| v.starts_with(prefix.as_bytes()))
    })
}

/// Starts `plan` with `bin` as an orphan: through a shell that exits once the
/// run has marked itself (polling its environment, at most 10 s), so the
/// marker names the shell as the parent that then goes away. Returns its pid.
pub fn start_orphan(bin: &Path, plan: &Plan, dir: &Path) -> u32 {
    let out = Command::new("sh")
        .env_remove("GITHUB_STEP_SUMMARY")
        .arg("-c")
        .arg(format!(
            "'{}' run-str --no-kill-orphans --quiet '{}' >/dev/null 2>&1 & pid=$!; echo $pid; i=0
             until tr '\\0' '\\n' < /proc/$pid/environ 2>/dev/null | grep -q '^{}='; do
               i=$((i + 1)); [ $i -ge 1000 ] && break; sleep 0.01
             done",
            bin.display(),
            plan.text(),
            loaddensity::supervisor::marker::MARKER_ENV
        ))
        .current_dir(dir)
        .output()
        .unwrap();
    let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(marked(pid), "the orphan marked itself");
    pid
}

/// The binary with its subcommand (or a top-level flag such as `--help`).
/// `run`, `run-str` and `run-dir` get `--no-kill-orphans`.
pub fn ld(sub: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loaddensity"));
    // A test run inside GitHub Actions must not write to the job's summary;
    // the tests of it set the variable themselves.
    cmd.env_remove("GITHUB_STEP_SUMMARY");
    cmd.arg(sub);
    if matches!(sub, "run" | "run-str" | "run-dir") {
        cmd.arg("--no-kill-orphans");
    }
    cmd
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    /// The exit code; -1 when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// From start to exit.
    pub took: Duration,
    /// The folder it ran in, when it was given one.
    pub dir: Option<PathBuf>,
}

impl Run {
    /// Runs `cmd` in the foreground, bounded by [`RUN_LIMIT`].
    pub fn of(cmd: impl BorrowMut<Command>) -> Run {
        start(cmd).finish(RUN_LIMIT)
    }

    /// A path in the run's folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir
            .as_ref()
            .expect("the run was given a folder")
            .join(name)
    }

    /// The JSON report `name` (with its extension) in the run's folder.
    pub fn report(&self, name: &str) -> Value {
        let text = std::fs::read_to_string(self.file(name))
            .unwrap_or_else(|e| panic!("no {name} ({e}); stderr: {}", self.stderr));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// `summary.json`, the report [`Plan`] appends.
    pub fn summary(&self) -> Value {
        self.report("summary.json")
    }
}

/// Where each started process writes its output: `CARGO_TARGET_TMPDIR/io/PID-N`.
fn output_files() -> (PathBuf, PathBuf) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("io");
    std::fs::create_dir_all(&dir).unwrap();
    let stem = format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    (
        dir.join(format!("{stem}.out")),
        dir.join(format!("{stem}.err")),
    )
}

/// Starts `cmd` in the background, its output going to files.
pub fn start(mut cmd: impl BorrowMut<Command>) -> Running {
    let cmd = cmd.borrow_mut();
    let (out, err) = output_files();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("the binary starts");
    Running {
        child,
        out,
        err,
        started: Instant::now(),
        dir: cmd.get_current_dir().map(Path::to_path_buf),
    }
}

/// A run in the background: signal it, watch it, then [`Running::finish`] it.
#[derive(Debug)]
pub struct Running {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    started: Instant,
    dir: Option<PathBuf>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal, e.g. `"-INT"`, with `kill(1)`.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {}", self.pid());
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// What it has written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.err).unwrap_or_default()).into_owned()
    }

    /// Waits for the exit, at most `limit` from now; past it the process is
    /// killed and the test fails with its stderr.
    pub fn finish(mut self, limit: Duration) -> Run {
        let t = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if t.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the run did not end within {limit:?}; stderr:\n{}",
                    self.stderr_so_far()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = self.started.elapsed();
        let read = |p: &Path| {
            let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
            let _ = std::fs::remove_file(p);
            text
        };
        Run {
            code: status.code().unwrap_or(-1),
            stdout: read(&self.out),
            stderr: read(&self.err),
            took,
            dir: self.dir.take(),
        }
    }

    /// Kills it (for runs a test leaves running on purpose).
    pub fn kill(self) {
        drop(self);
    }
}

impl Drop for Running {
    /// A run still going when its test ends (or fails) is killed, never left behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
    }
}

/// A plan for `run-str`: actions (JSON list items, without the surrounding
/// brackets), then a summary report named `summary`, run with `--seed 7`
/// and `--no-kill-orphans` unless told otherwise.
#[derive(Debug, Clone)]
pub struct Plan {
    actions: Vec<String>,
    seed: u64,
    flags: Vec<String>,
    summary: bool,
    kill_orphans: bool,
}

impl Plan {
    pub fn new(actions: impl Into<String>) -> Plan {
        Plan {
            actions: vec![actions.into()],
            seed: 7,
            flags: Vec::new(),
            summary: true,
            kill_orphans: false,
        }
    }

    pub fn seed(mut self, seed: u64) -> Plan {
        self.seed = seed;
        self
    }

    /// More command-line flags, e.g. `--keep-going`, `--timeout 3s`.
    pub fn flags(mut self, flags: &[&str]) -> Plan {
        self.flags.extend(flags.iter().map(|s| s.to_string()));
        self
    }

    /// One more action (a JSON list item), before the summary.
    pub fn then(mut self, action: impl Into<String>) -> Plan {
        self.actions.push(action.into());
        self
    }

    /// No summary report appended.
    pub fn no_summary(mut self) -> Plan {
        self.summary = false;
        self
    }

    /// Runs the orphan-kill prelude (only the orphan test may).
    pub fn kill_orphans(mut self) -> Plan {
        self.kill_orphans = true;
        self
    }

    /// The plan's JSON text.
    pub fn text(&self) -> String {
        let mut items: Vec<&str> = self
            .actions
            .iter()
            .map(|a| a.trim())
            .filter(|a| !a.is_empty())
            .collect();
        if self.summary {
            items.push(r#"["LD_generate_summary_report", {"report_name": "summary"}]"#);
        }
        format!("[{}]", items.join(", "))
    }

    /// The command that runs it in `dir` (to adjust before starting it).
    pub fn command(&self, dir: &Path) -> Command {
        let mut cmd = if self.kill_orphans {
            let mut c = Command::new(env!("CARGO_BIN_EXE_loaddensity"));
            c.env_remove("GITHUB_STEP_SUMMARY");
            c.arg("run-str");
            c
        } else {
            ld("run-str")
        };
        cmd.args(["--seed", &self.seed.to_string()])
            .args(&self.flags)
            .arg(self.text())
            .current_dir(dir);
        cmd
    }

    /// Runs it in `dir` and waits, bounded by [`RUN_LIMIT`].
    pub fn run_in(&self, dir: &Path) -> Run {
        Run::of(self.command(dir))
    }

    /// Starts it in `dir` in the background.
    pub fn spawn_in(&self, dir: &Path) -> Running {
        start(self.command(dir))
    }
}
