//! A wake-up at a precise instant for a worker's event loop: a `timerfd`
//! registered with the loop's poller. `epoll_wait` counts its timeout in
//! whole milliseconds, so a loop that slept until an iteration was due woke
//! up to a millisecond late (0.7 ms on average), and an arrival-rate test's
//! corrected latency carried that lag. A timerfd fires within microseconds.

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

pub struct Wakeup {
    fd: RawFd,
    armed: Option<Instant>,
}

impl Wakeup {
    /// A timer registered with `registry` under `token`; `None` where the
    /// system has none to give (the loop then falls back on its timeout).
    pub fn new(registry: &Registry, token: Token) -> Option<Wakeup> {
        // SAFETY: timerfd_create takes no pointers; the fd is ours to close.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        let w = Wakeup { fd, armed: None };
        registry
            .register(&mut SourceFd(&fd), token, Interest::READABLE)
            .ok()?;
        Some(w)
    }

    /// Fires at `at` (at once when it has passed); a second call for the
    /// same instant does nothing.
    pub fn arm(&mut self, at: Instant) {
        if self.armed == Some(at) {
            return;
        }
        self.armed = Some(at);
        let d = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
            },
        };
        // SAFETY: the specs are valid for the call; a failure leaves the
        // loop's own timeout as the fallback.
        unsafe {
            libc::timerfd_settime(self.fd, 0, &spec, std::ptr::null_mut());
        }
    }

    /// It fired: clears its readiness so the next expiry is a new event.
    pub fn fired(&mut self) {
        let mut count = [0u8; 8];
        // SAFETY: reads at most 8 bytes into the buffer given.
        unsafe {
            libc::read(self.fd, count.as_mut_ptr().cast(), count.len());
        }
        self.armed = None;
    }
}

impl Drop for Wakeup {
    fn drop(&mut self) {
        // SAFETY: the fd is ours and closed once.
        unsafe {
            libc::close(self.fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};

    #[test]
    fn wakes_the_loop_within_a_fraction_of_a_millisecond() {
        let mut poll = Poll::new().unwrap();
        let mut w = Wakeup::new(poll.registry(), Token(7)).unwrap();
        let mut events = Events::with_capacity(4);
        let mut late = Vec::new();
        for _ in 0..20 {
            let at = Instant::now() + Duration::from_micros(1500);
            w.arm(at);
            loop {
                poll.poll(&mut events, Some(Duration::from_secs(2)))
                    .unwrap();
                if events.iter().any(|e| e.token() == Token(7)) {
                    break;
                }
            }
            late.push(Instant::now().saturating_duration_since(at));
            w.fired();
        }
        late.sort();
        // The median: generous for a loaded machine, still far below the
        // millisecond epoll_wait's own timeout would round to.
        assert!(late[10] < Duration::from_micros(500), "{late:?}");
    }
}
