//! Every plan-running loaddensity process marks itself with an environment
//! variable that names its own pid, its parent's pid and start time, and a
//! random run id. A process's environment as the kernel shows it
//! (`/proc/PID/environ`) is fixed at exec, so the run re-executes itself once
//! with the marker set; nothing but a loaddensity run can carry it.

use std::ffi::OsString;

/// The marker variable: `PID:PARENT_PID:PARENT_START:RUN_ID`.
pub const MARKER_ENV: &str = "LOADDENSITY_RUN";

/// A parsed marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    pub pid: u32,
    pub ppid: u32,
    /// The parent's start time (clock ticks since boot; 0 when unknown).
    pub parent_start: u64,
    pub run_id: u64,
}

impl Marker {
    pub fn parse(s: &str) -> Option<Marker> {
        let mut it = s.split(':').map(|p| p.parse::<u64>().ok());
        let m = Marker {
            pid: u32::try_from(it.next()??).ok()?,
            ppid: u32::try_from(it.next()??).ok()?,
            parent_start: it.next()??,
            run_id: it.next()??,
        };
        it.next().is_none().then_some(m)
    }

    pub fn render(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.pid, self.ppid, self.parent_start, self.run_id
        )
    }

    /// The marker among a process's environment entries.
    pub fn from_environ(environ: &[OsString]) -> Option<Marker> {
        let prefix = format!("{MARKER_ENV}=");
        environ
            .iter()
            .filter_map(|e| e.to_str())
            .find_map(|e| e.strip_prefix(prefix.as_str()))
            .and_then(Marker::parse)
    }
}

/// A process's start time in clock ticks since boot (`/proc/PID/stat` field 22).
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// This process's marker, when it carries its own.
pub fn own_marker() -> Option<Marker> {
    let m = Marker::parse(&std::env::var(MARKER_ENV).ok()?)?;
    (m.pid == std::process::id()).then_some(m)
}

/// Re-executes this process once with its marker set, unless it already
/// carries its own (a child inherits its parent's, which names another pid).
/// Returns only when no re-exec happened (marked already, or exec failed).
pub fn ensure_marked() {
    if own_marker().is_some() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let ppid = std::os::unix::process::parent_id();
        let marker = Marker {
            pid: std::process::id(),
            ppid,
            parent_start: start_ticks(ppid).unwrap_or(0),
            run_id: crate::units::fresh_random_u64(),
        };
        let mut args = std::env::args_os();
        let argv0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
        let err = std::process::Command::new(&exe)
            .arg0(argv0)
            .args(args)
            .env(MARKER_ENV, marker.render())
            .exec();
        // exec only returns on failure: run unmarked rather than not at all.
        crate::ui::stderr_line(&format!(
            "warning: could not mark this run for the orphan check ({err})"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_reject_garbage() {
        let m = Marker {
            pid: 10,
            ppid: 9,
            parent_start: 12345,
            run_id: 99,
        };
        assert_eq!(Marker::parse(&m.render()), Some(m));
        for bad in ["", "1:2:3", "1:2:3:4:5", "a:2:3:4", "-1:2:3:4"] {
            assert_eq!(Marker::parse(bad), None, "{bad}");
        }
        let env = vec![
            OsString::from("PATH=/bin"),
            OsString::from(format!("{MARKER_ENV}={}", m.render())),
        ];
        assert_eq!(Marker::from_environ(&env), Some(m));
        assert_eq!(Marker::from_environ(&[OsString::from("X=1")]), None);
    }

    #[test]
    fn own_start_time_is_readable() {
        #[cfg(target_os = "linux")]
        assert!(start_ticks(std::process::id()).is_some());
        assert_eq!(start_ticks(u32::MAX), None);
    }
}
