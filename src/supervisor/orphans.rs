//! The orphan-kill prelude: finds loaddensity runs of this user, running this
//! executable, carrying a run marker, whose parent has died — and stops them
//! (SIGTERM, a grace, then SIGKILL), re-checking each one's marker before
//! every signal so a reused pid is never hit. An editor, a shell, a `grep
//! loaddensity` or a sibling job's live run never matches.

use super::marker::{start_ticks, Marker};
use crate::engine::INTERRUPT_STOP_GRACE;
use crate::stats::KilledOrphan;
use std::path::Path;
use std::time::{Duration, Instant};
use sysinfo::{Pid, Process, ProcessRefreshKind, ProcessesToUpdate, Signal, System, UpdateKind};

/// Time an orphan gets after its SIGTERM to write its reports and exit.
/// SIGTERM interrupts it, so its in-flight requests get at most
/// `INTERRUPT_STOP_GRACE` before they are cancelled; the rest is the margin
/// for the rest of its stop and its report actions on a loaded machine.
pub const REPORT_MARGIN: Duration = Duration::from_secs(5);

/// Grace between SIGTERM and SIGKILL: the orphan's own stop grace after a
/// signal plus [`REPORT_MARGIN`]. The prelude stops waiting as soon as the
/// orphan has exited, so only an orphan that ignores SIGTERM costs all of it.
pub const GRACE: Duration = INTERRUPT_STOP_GRACE.saturating_add(REPORT_MARGIN);

/// An orphaned loaddensity run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub pid: u32,
    /// Seconds it has been running.
    pub age_s: u64,
    pub command: String,
    marker: Marker,
}

fn refresh_kind() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing()
        .with_exe(UpdateKind::Always)
        .with_environ(UpdateKind::Always)
        .with_cmd(UpdateKind::Always)
        .with_user(UpdateKind::Always)
}

/// Whether `exe` is this executable (also after it was rebuilt in place).
fn same_exe(exe: Option<&Path>, mine: &Path) -> bool {
    let Some(exe) = exe else {
        return false;
    };
    if exe == mine {
        return true;
    }
    let deleted = format!("{} (deleted)", mine.display());
    exe.as_os_str() == deleted.as_str()
}

/// Every orphaned loaddensity run of this user, this process and its
/// ancestors excluded. Processes that vanish or hide their details are skipped.
pub fn find_orphans() -> Vec<Orphan> {
    let me = std::process::id();
    let Ok(mine) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return Vec::new();
    };
    let mut sys = System::new();
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, refresh_kind());
    let Some(my_uid) = sys
        .process(Pid::from_u32(me))
        .and_then(Process::user_id)
        .cloned()
    else {
        return Vec::new();
    };
    let mut ancestors = vec![me];
    let mut cur = sys.process(Pid::from_u32(me)).and_then(Process::parent);
    while let Some(p) = cur {
        if ancestors.contains(&p.as_u32()) {
            break;
        }
        ancestors.push(p.as_u32());
        cur = sys.process(p).and_then(Process::parent);
    }
    let mut out: Vec<Orphan> = sys
        .processes()
        .iter()
        .filter_map(|(pid, p)| {
            let pid = pid.as_u32();
            if ancestors.contains(&pid) || p.user_id() != Some(&my_uid) || !same_exe(p.exe(), &mine)
            {
                return None;
            }
            let marker = Marker::from_environ(p.environ())?;
            // A run started by init (or as PID 1 of a container) has no parent
            // to lose: it is never an orphan.
            if marker.pid != pid || marker.ppid <= 1 {
                return None;
            }
            let parent_gone = p.parent().map(Pid::as_u32) != Some(marker.ppid)
                || (marker.parent_start != 0
                    && start_ticks(marker.ppid) != Some(marker.parent_start));
            parent_gone.then(|| Orphan {
                pid,
                age_s: p.run_time(),
                command: command_line(p),
                marker,
            })
        })
        .collect();
    out.sort_by_key(|o| o.pid);
    out
}

fn command_line(p: &Process) -> String {
    let mut s = p
        .cmd()
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    if s.chars().count() > 160 {
        s = s.chars().take(157).collect::<String>() + "...";
    }
    s
}

/// Is the process still the same orphan (its marker unchanged)?
fn still_same(sys: &mut System, o: &Orphan) -> bool {
    let pid = Pid::from_u32(o.pid);
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, refresh_kind());
    sys.process(pid)
        .and_then(|p| Marker::from_environ(p.environ()))
        .is_some_and(|m| m == o.marker)
}

/// Stops the orphans: SIGTERM, up to `grace` for them to exit, then SIGKILL.
/// Returns the ones that were signalled, with the last signal each got.
pub fn kill_orphans(orphans: &[Orphan], grace: Duration) -> Vec<KilledOrphan> {
    let mut sys = System::new();
    let mut killed: Vec<KilledOrphan> = Vec::new();
    let mut pending: Vec<&Orphan> = Vec::new();
    for o in orphans {
        if still_same(&mut sys, o) && signal(&sys, o, Signal::Term) {
            killed.push(KilledOrphan {
                pid: o.pid,
                age_s: o.age_s,
                command: o.command.clone(),
                signal: "SIGTERM".to_string(),
            });
            pending.push(o);
        }
    }
    let deadline = Instant::now() + grace;
    while !pending.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        pending.retain(|o| still_same(&mut sys, o));
    }
    for o in pending {
        if still_same(&mut sys, o) && signal(&sys, o, Signal::Kill) {
            if let Some(k) = killed.iter_mut().find(|k| k.pid == o.pid) {
                k.signal = "SIGKILL".to_string();
            }
        }
    }
    killed
}

fn signal(sys: &System, o: &Orphan, s: Signal) -> bool {
    sys.process(Pid::from_u32(o.pid))
        .and_then(|p| p.kill_with(s))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grace_covers_an_orphans_own_stop_and_its_reports() {
        // An orphan hung on a request stops within INTERRUPT_STOP_GRACE of
        // its SIGTERM; the prelude waits that long and seconds more.
        assert!(
            GRACE >= INTERRUPT_STOP_GRACE + Duration::from_secs(4),
            "{GRACE:?}"
        );
    }
}
