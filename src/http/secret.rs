//! What counts as a credential, and URLs with their credentials hidden for
//! printing or storing: a URL's user info and the values of query
//! parameters that carry a credential.

use super::url::redact_userinfo;
use std::borrow::Cow;

/// Whether a header (or JSON key) named `name` carries a credential:
/// `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`,
/// `X-Api-Key`, or any name containing `token`, `secret`, `password` or
/// `api-key` / `api_key` / `apikey` (any case). Its values are never quoted in
/// a message.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie" | "x-api-key"
    ) || [
        "token", "secret", "password", "api-key", "api_key", "apikey",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// Whether a query parameter named `name` carries a credential: a
/// [`is_secret_name`], or one of the short names signed URLs and APIs use
/// (`key`, `sig`, `signature`, `auth`, `pass`, `pwd`, `passwd`, `jwt`,
/// `session`, `sessionid`, `session_id`, `credential` and the cloud
/// providers' `X-Amz-Signature`, `X-Amz-Credential`, `X-Goog-Signature`,
/// `X-Goog-Credential`), any case.
pub fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    is_secret_name(&n)
        || matches!(
            n.as_str(),
            "key"
                | "sig"
                | "signature"
                | "auth"
                | "pass"
                | "pwd"
                | "passwd"
                | "jwt"
                | "session"
                | "sessionid"
                | "session_id"
                | "credential"
                | "x-amz-signature"
                | "x-amz-credential"
                | "x-goog-signature"
                | "x-goog-credential"
        )
}

/// `s` (a URL, or text holding one) as it may be printed or stored: its user
/// info hidden as [`redact_userinfo`] does, and the value of every query
/// parameter that [`is_secret_param`] names replaced by `***`
/// (`/p?user=ann&api_key=***`). Text with neither comes back borrowed.
pub fn redact_url(s: &str) -> Cow<'_, str> {
    let s = redact_userinfo(s);
    match redact_query(&s) {
        Some(r) => Cow::Owned(r),
        None => s,
    }
}

/// The name of a query `pair` (`name=value`) whose value is a credential.
fn secret(pair: &str) -> Option<&str> {
    pair.split_once('=')
        .filter(|(name, value)| !value.is_empty() && is_secret_param(name))
        .map(|(name, _)| name)
}

/// The query's credential values hidden, when there are any.
fn redact_query(s: &str) -> Option<String> {
    let q = s.find('?')? + 1;
    let end = s[q..].find('#').map_or(s.len(), |i| q + i);
    let pairs = s[q..end].split('&');
    if !pairs.clone().any(|p| secret(p).is_some()) {
        return None;
    }
    let query: Vec<Cow<'_, str>> = pairs
        .map(|p| match secret(p) {
            Some(name) => Cow::Owned(format!("{name}=***")),
            None => Cow::Borrowed(p),
        })
        .collect();
    Some(format!("{}{}{}", &s[..q], query.join("&"), &s[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "Authorization",
            "proxy-authorization",
            "COOKIE",
            "Set-Cookie",
            "x-api-key",
            "X-Auth-Token",
            "client_secret",
            "Password",
            "refresh_token",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["Content-Type", "host", "x-request-id", "status", "headers"] {
            assert!(!is_secret_name(n), "{n}");
        }
        for n in ["key", "SIG", "X-Amz-Signature", "access_token", "pwd"] {
            assert!(is_secret_param(n), "{n}");
        }
        for n in ["q", "page", "keyword", "monkey", "code"] {
            assert!(!is_secret_param(n), "{n}");
        }
    }

    #[test]
    fn query_credentials_are_hidden() {
        assert_eq!(
            redact_url("http://h/p?user=ann&api_key=s3cret&x=1#f"),
            "http://h/p?user=ann&api_key=***&x=1#f"
        );
        assert_eq!(
            redact_url("https://u:pw@h/p?access_token=abc"),
            "https://u:***@h/p?access_token=***"
        );
        assert_eq!(
            redact_url("/o?X-Amz-Credential=AK%2F1&X-Amz-Signature=ff&sig="),
            "/o?X-Amz-Credential=***&X-Amz-Signature=***&sig="
        );
        assert_eq!(
            redact_url("http://h/p?token=a&token=b"),
            "http://h/p?token=***&token=***"
        );
        assert!(matches!(
            redact_url("http://h/p?q=1&page=2"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(redact_url("no url at all"), Cow::Borrowed(_)));
        assert_eq!(redact_url("http://h/?&&key=1&"), "http://h/?&&key=***&");
    }
}
