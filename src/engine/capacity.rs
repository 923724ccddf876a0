//! Capacity is checked, not discovered: before a run sends anything, the
//! soft open-file limit is raised to the hard limit, and a plan whose users
//! cannot all hold their connections is refused with the numbers and the fix,
//! instead of failing requests with "Too many open files" mid-run.
//!
//! The check counts the users' connections only (every configured user, one
//! connection per origin its tasks use); the handful of descriptors the tool
//! itself holds (event loops, report files, standard streams) are left out,
//! so a plan sized to the limit is not refused for them.

/// The open-file limit after raising the soft limit to the hard one:
/// `(soft, hard)`; `None` where it cannot be read.
pub fn raise_open_file_limit() -> Option<(u64, u64)> {
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        Some((lim.rlim_cur, lim.rlim_max))
    }
}

/// Whether `connections` open at once fit a soft limit of `soft`; otherwise
/// the message that says what to do.
pub fn check(connections: u64, soft: u64, hard: u64) -> Result<(), String> {
    let need = connections;
    if need <= soft {
        return Ok(());
    }
    let fix = if need <= hard {
        format!("raise the soft limit with `ulimit -n {need}`")
    } else {
        format!("raise the hard limit (`ulimit -Hn {need}` as root, or LimitNOFILE= / --ulimit nofile= in a service or container) and then `ulimit -n {need}`")
    };
    Err(format!(
        "this plan's users can hold {connections} connections open at once, but the open-file limit is {soft} (hard limit {hard}): {fix}, or lower user_count"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_or_says_what_to_do() {
        assert!(check(1024, 1024, 1024).is_ok());
        let e = check(20_000, 1024, 1_048_576).unwrap_err();
        assert!(e.contains("20000 connections"), "{e}");
        assert!(e.contains("limit is 1024"), "{e}");
        assert!(e.contains("ulimit -n 20000"), "{e}");
        let e = check(20_000, 1024, 4096).unwrap_err();
        assert!(e.contains("hard limit"), "{e}");
    }

    #[test]
    fn the_soft_limit_reaches_the_hard_limit() {
        let (soft, hard) = raise_open_file_limit().expect("getrlimit works here");
        assert_eq!(soft, hard);
    }
}
