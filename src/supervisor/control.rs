//! The run's interrupts: the watchdog and SIGINT / SIGTERM. Whatever fires
//! stops the test that is running (no new requests, in-flight requests get the
//! test's `stop_timeout`); the interpreter then skips the remaining load and
//! runs what writes reports. A watchdog that fired also ends the process
//! (exit 124) if the run has not finished within a hard grace, even when a
//! thread is stuck; a second signal ends it at once.

use crate::exit::Outcome;
use crate::stop::StopSignal;
use crate::sync::lock;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Why the run was interrupted, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Interrupt {
    Watchdog = 1,
    SigTerm = 2,
    SigInt = 3,
}

impl Interrupt {
    fn from_u8(v: u8) -> Option<Interrupt> {
        match v {
            1 => Some(Interrupt::Watchdog),
            2 => Some(Interrupt::SigTerm),
            3 => Some(Interrupt::SigInt),
            _ => None,
        }
    }
}

/// Shared by the interpreter, the test engine, the watchdogs and the signal
/// watcher of one run.
pub struct RunControl {
    state: AtomicU8,
    started: Instant,
    /// The stop signal of the test that is running, if any.
    current: Mutex<Option<Arc<StopSignal>>>,
    /// Seconds into the run when the first interrupt came.
    fired_at: Mutex<Option<f64>>,
}

impl RunControl {
    pub fn new(started: Instant) -> Arc<RunControl> {
        Arc::new(RunControl {
            state: AtomicU8::new(0),
            started,
            current: Mutex::new(None),
            fired_at: Mutex::new(None),
        })
    }

    /// Records an interrupt (the most specific one wins) and stops the test
    /// that is running.
    pub fn interrupt(&self, why: Interrupt) {
        let prev = self.state.fetch_max(why as u8, Ordering::SeqCst);
        if prev == 0 {
            *lock(&self.fired_at) = Some(self.started.elapsed().as_secs_f64());
        }
        if let Some(stop) = lock(&self.current).as_ref() {
            stop.stop();
        }
    }

    pub fn interrupted(&self) -> Option<Interrupt> {
        Interrupt::from_u8(self.state.load(Ordering::SeqCst))
    }

    pub fn fired_at(&self) -> Option<f64> {
        *lock(&self.fired_at)
    }

    /// A test starts: interrupts stop it from now on (at once if one came already).
    pub fn enter_test(&self, stop: Arc<StopSignal>) {
        if self.interrupted().is_some() {
            stop.stop();
        }
        *lock(&self.current) = Some(stop);
    }

    pub fn leave_test(&self) {
        *lock(&self.current) = None;
    }

    /// Turns SIGINT and SIGTERM into interrupts; a second signal (of either
    /// kind) exits at once with its own code (130 for SIGINT, 143 for SIGTERM).
    pub fn watch_signals(self: &Arc<Self>) -> std::io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let int = Arc::new(AtomicBool::new(false));
        let term = Arc::new(AtomicBool::new(false));
        let any = Arc::new(AtomicBool::new(false));
        // Handlers run in registration order: the conditional shutdown first,
        // so it exits only when an earlier signal (of either kind) set `any`.
        let code = |why: Interrupt| Outcome::from(why).code();
        signal_hook::flag::register_conditional_shutdown(
            SIGINT,
            code(Interrupt::SigInt),
            Arc::clone(&any),
        )?;
        signal_hook::flag::register_conditional_shutdown(
            SIGTERM,
            code(Interrupt::SigTerm),
            Arc::clone(&any),
        )?;
        signal_hook::flag::register(SIGINT, Arc::clone(&int))?;
        signal_hook::flag::register(SIGTERM, Arc::clone(&term))?;
        signal_hook::flag::register(SIGINT, Arc::clone(&any))?;
        signal_hook::flag::register(SIGTERM, Arc::clone(&any))?;
        let control = Arc::clone(self);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || loop {
                if int.load(Ordering::SeqCst) {
                    control.interrupt(Interrupt::SigInt);
                }
                if term.load(Ordering::SeqCst) {
                    control.interrupt(Interrupt::SigTerm);
                }
                std::thread::sleep(Duration::from_millis(20));
            })?;
        Ok(())
    }
}

/// A running watchdog; dropping it disarms it.
pub struct WatchdogGuard {
    cancel: Arc<(Mutex<bool>, Condvar)>,
    fired: Arc<AtomicBool>,
}

impl WatchdogGuard {
    /// Arms a watchdog: `timeout` after `since` it interrupts the run; if the
    /// run is still going `hard_grace` later (and the guard is still alive),
    /// the process exits with 124.
    pub fn arm(
        control: &Arc<RunControl>,
        since: Instant,
        timeout: Duration,
        hard_grace: Duration,
    ) -> WatchdogGuard {
        let cancel = Arc::new((Mutex::new(false), Condvar::new()));
        let fired = Arc::new(AtomicBool::new(false));
        let (c2, f2, ctl) = (Arc::clone(&cancel), Arc::clone(&fired), Arc::clone(control));
        let spawned = std::thread::Builder::new().name("watchdog".into()).spawn(move || {
            let left = since
                .checked_add(timeout)
                .map_or(Duration::MAX, |at| at.saturating_duration_since(Instant::now()));
            if !wait_cancelled(&c2, left) {
                f2.store(true, Ordering::SeqCst);
                // Never `eprintln!`: a panic on a closed stderr would kill this thread.
                crate::ui::stderr_line(&format!(
                    "error: watchdog: {:.1} s elapsed; stopping the run (reports are still written)",
                    timeout.as_secs_f64()
                ));
                ctl.interrupt(Interrupt::Watchdog);
                if !wait_cancelled(&c2, hard_grace) {
                    crate::ui::stderr_line(&format!(
                        "error: watchdog: the run did not stop within {:.0} s of the limit; exiting",
                        hard_grace.as_secs_f64()
                    ));
                    // The most specific interrupt decides (a signal outranks the watchdog).
                    let why = ctl.interrupted().unwrap_or(Interrupt::Watchdog);
                    std::process::exit(Outcome::from(why).code());
                }
            }
        });
        if let Err(e) = spawned {
            crate::ui::stderr_line(&format!(
                "warning: could not start the watchdog thread: {e}"
            ));
        }
        WatchdogGuard { cancel, fired }
    }

    /// Whether this watchdog fired.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for WatchdogGuard {
    fn drop(&mut self) {
        let (flag, cv) = &*self.cancel;
        *lock(flag) = true;
        cv.notify_all();
    }
}

/// Waits `d` unless cancelled first; true when cancelled.
fn wait_cancelled(cancel: &(Mutex<bool>, Condvar), d: Duration) -> bool {
    // A wait too long for the clock waits for the cancel alone.
    let deadline = Instant::now().checked_add(d);
    let (flag, cv) = cancel;
    let mut done = lock(flag);
    while !*done {
        let now = Instant::now();
        let left = match deadline {
            Some(at) if now >= at => return false,
            Some(at) => at - now,
            None => Duration::from_secs(3600),
        };
        done = match cv.wait_timeout(done, left) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watchdog_interrupts_and_stops_the_current_test() {
        let control = RunControl::new(Instant::now());
        let stop = Arc::new(StopSignal::new());
        control.enter_test(Arc::clone(&stop));
        let g = WatchdogGuard::arm(
            &control,
            Instant::now(),
            Duration::from_millis(50),
            Duration::from_secs(600),
        );
        let t = Instant::now();
        while !stop.is_stopping() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(stop.is_stopping());
        assert!(g.fired());
        assert_eq!(control.interrupted(), Some(Interrupt::Watchdog));
        assert!(control.fired_at().is_some());
        // A signal outranks the watchdog.
        control.interrupt(Interrupt::SigTerm);
        control.interrupt(Interrupt::Watchdog);
        assert_eq!(control.interrupted(), Some(Interrupt::SigTerm));
    }

    #[test]
    fn a_disarmed_watchdog_never_fires() {
        let control = RunControl::new(Instant::now());
        let g = WatchdogGuard::arm(
            &control,
            Instant::now(),
            Duration::from_millis(30),
            Duration::from_secs(600),
        );
        drop(g);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(control.interrupted(), None);
        // A test entered after an interrupt is stopped at once.
        control.interrupt(Interrupt::SigInt);
        let stop = Arc::new(StopSignal::new());
        control.enter_test(Arc::clone(&stop));
        assert!(stop.is_stopping());
    }
}
