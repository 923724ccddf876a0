//! The error classifier: a pure function over typed attempt failures.

use crate::http::HttpError;

/// How a failed attempt is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Connection trouble, timeouts, 429/502/503/504, conditioner drops: retried (budget 5).
    Transient,
    /// A failed assertion, or a body that is not the JSON expected: retried (budget 2).
    Flaky,
    /// Everything else: surfaced on the first attempt (budget 0).
    Permanent,
}

impl ErrorClass {
    /// Where the class's budget and counts stand in `[transient, flaky, permanent]`.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why one attempt failed, as the engine saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptFailure {
    /// The request never got a response.
    Transport(HttpError),
    /// The network conditioner dropped the attempt before it was sent.
    Dropped,
    /// The request could not be built (invalid URL, undefined variable).
    NotBuilt,
    /// A response came back and was judged a failure.
    Response {
        status: u16,
        /// An assertion did not hold.
        assertion_failed: bool,
        /// The body was not the JSON an assertion or extractor expected, or an
        /// extractor found nothing.
        unexpected_body: bool,
    },
}

/// The HTTP statuses that are transient unless a policy says otherwise.
pub const DEFAULT_TRANSIENT_STATUS: [u16; 4] = [429, 502, 503, 504];

/// Classifies a failed attempt. `None` means it must not be retried at all
/// (the attempt was cancelled because the test is stopping).
///
/// Overlaps resolve in this order: a status in the transient set is transient
/// even when an assertion fails on it; otherwise a failed assertion (or an
/// unexpected body) is flaky; otherwise a status >= 400 is permanent.
pub fn classify(f: &AttemptFailure, transient_status: &[u16]) -> Option<ErrorClass> {
    use ErrorClass::*;
    Some(match f {
        AttemptFailure::Dropped => Transient,
        AttemptFailure::NotBuilt => Permanent,
        AttemptFailure::Transport(e) => match e {
            HttpError::Cancelled => return None,
            HttpError::Refused
            | HttpError::Reset
            | HttpError::Aborted
            | HttpError::ClosedEarly
            | HttpError::Dns(_)
            | HttpError::DnsTimeout(..)
            | HttpError::ConnectTimeout(_)
            | HttpError::ReadTimeout(_)
            | HttpError::Io(_) => Transient,
            // The proxy turned the request down (407 needs credentials, 403
            // forbids the target): sending it again changes nothing.
            HttpError::Proxy(400..=499, _) => Permanent,
            HttpError::Proxy(..) => Transient,
            HttpError::InvalidUrl(_)
            | HttpError::InvalidRequest(_)
            | HttpError::Tls(_)
            | HttpError::Protocol(_)
            | HttpError::BodyTooLarge(_)
            | HttpError::Decode(_) => Permanent,
        },
        AttemptFailure::Response {
            status,
            assertion_failed,
            unexpected_body,
        } => {
            if transient_status.contains(status) {
                Transient
            } else if *assertion_failed || *unexpected_body {
                Flaky
            } else {
                Permanent
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use ErrorClass::*;

    fn resp(status: u16, assertion_failed: bool, unexpected_body: bool) -> AttemptFailure {
        AttemptFailure::Response {
            status,
            assertion_failed,
            unexpected_body,
        }
    }

    #[test]
    fn transport_errors() {
        let d = &DEFAULT_TRANSIENT_STATUS;
        for e in [
            HttpError::Refused,
            HttpError::Reset,
            HttpError::Aborted,
            HttpError::ClosedEarly,
            HttpError::Dns("x".into()),
            HttpError::ConnectTimeout(Duration::from_secs(1)),
            HttpError::ReadTimeout(Duration::from_secs(1)),
            HttpError::Io("broken".into()),
            HttpError::DnsTimeout("x".into(), Duration::from_secs(5)),
            HttpError::Proxy(502, "bad gateway".into()),
            HttpError::Proxy(0, "closed".into()),
        ] {
            assert_eq!(
                classify(&AttemptFailure::Transport(e.clone()), d),
                Some(Transient),
                "{e:?}"
            );
        }
        for e in [
            HttpError::InvalidUrl("x".into()),
            HttpError::Proxy(407, "needs credentials".into()),
            HttpError::Tls("x".into()),
            HttpError::Protocol("x".into()),
        ] {
            assert_eq!(
                classify(&AttemptFailure::Transport(e.clone()), d),
                Some(Permanent),
                "{e:?}"
            );
        }
        assert_eq!(
            classify(&AttemptFailure::Transport(HttpError::Cancelled), d),
            None
        );
        assert_eq!(classify(&AttemptFailure::Dropped, d), Some(Transient));
        assert_eq!(classify(&AttemptFailure::NotBuilt, d), Some(Permanent));
    }

    #[test]
    fn responses_resolve_overlaps_in_order() {
        let d = &DEFAULT_TRANSIENT_STATUS;
        for s in [429, 502, 503, 504] {
            assert_eq!(classify(&resp(s, false, false), d), Some(Transient));
            // A transient status wins over a failed assertion on it.
            assert_eq!(classify(&resp(s, true, false), d), Some(Transient));
        }
        assert_eq!(classify(&resp(200, true, false), d), Some(Flaky));
        assert_eq!(classify(&resp(200, false, true), d), Some(Flaky));
        assert_eq!(classify(&resp(404, true, false), d), Some(Flaky));
        assert_eq!(classify(&resp(404, false, false), d), Some(Permanent));
        assert_eq!(classify(&resp(500, false, false), d), Some(Permanent));
    }

    #[test]
    fn retry_on_status_replaces_the_transient_set() {
        let only_500 = [500];
        assert_eq!(
            classify(&resp(500, false, false), &only_500),
            Some(Transient)
        );
        assert_eq!(
            classify(&resp(503, false, false), &only_500),
            Some(Permanent)
        );
        assert_eq!(classify(&resp(503, true, false), &[]), Some(Flaky));
    }
}
