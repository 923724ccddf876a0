//! One user's cookie jar: the essentials of RFC 6265 (domain and path
//! matching, `Expires` / `Max-Age`, `Secure` sent over https only,
//! `HttpOnly` kept like any other cookie). No public-suffix list: a cookie
//! is stored when its `Domain` domain-matches the host that set it.
//!
//! Empty until a server sets a cookie: a jar that never stores one costs no
//! allocation.

use super::{Scheme, Url};
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone)]
struct Cookie {
    name: String,
    value: String,
    /// Lower case, without a leading dot.
    domain: String,
    /// No `Domain` attribute: sent to the very host that set it only.
    host_only: bool,
    path: String,
    expires: Option<SystemTime>,
    secure: bool,
}

/// The cookies one user collected.
#[derive(Debug, Default)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
}

impl CookieJar {
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Stores (or replaces, or with a past expiry removes) the cookie of one
    /// `Set-Cookie` value received from `url`. A malformed value, or one
    /// whose `Domain` does not match the host, is ignored.
    pub fn store(&mut self, url: &Url, set_cookie: &str, now: SystemTime) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return;
        }
        let host = url.host.to_ascii_lowercase();
        let mut c = Cookie {
            name: name.to_string(),
            value: value.to_string(),
            domain: host.clone(),
            host_only: true,
            path: default_path(&url.path_and_query).to_string(),
            expires: None,
            secure: false,
        };
        let mut max_age = None;
        for attr in parts {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("domain") {
                let d = v.trim_start_matches('.').to_ascii_lowercase();
                if d.is_empty() {
                    continue;
                }
                if !domain_match(&host, &d) {
                    return;
                }
                c.domain = d;
                c.host_only = false;
            } else if k.eq_ignore_ascii_case("path") {
                if v.starts_with('/') {
                    c.path = v.to_string();
                }
            } else if k.eq_ignore_ascii_case("max-age") {
                if let Ok(s) = v.parse::<i64>() {
                    max_age = Some(s);
                }
            } else if k.eq_ignore_ascii_case("expires") {
                if let Some(t) = parse_cookie_date(v) {
                    c.expires = Some(t);
                }
            } else if k.eq_ignore_ascii_case("secure") {
                c.secure = true;
            }
        }
        // Max-Age wins over Expires.
        if let Some(s) = max_age {
            c.expires = Some(if s <= 0 {
                SystemTime::UNIX_EPOCH
            } else {
                now.checked_add(Duration::from_secs(s as u64))
                    .unwrap_or(now + Duration::from_secs(u32::MAX as u64))
            });
        }
        self.cookies
            .retain(|o| !(o.name == c.name && o.domain == c.domain && o.path == c.path));
        if c.expires.is_some_and(|t| t <= now) {
            return;
        }
        // Longer paths first (RFC 6265 §5.4); older first among equals.
        let at = self
            .cookies
            .iter()
            .position(|o| o.path.len() < c.path.len())
            .unwrap_or(self.cookies.len());
        self.cookies.insert(at, c);
    }

    /// Appends the `Cookie` header value for a request to `url` to `out`
    /// (`a=1; b=2`, after any text already there); drops expired cookies.
    pub fn header_for(&mut self, url: &Url, now: SystemTime, out: &mut String) {
        self.cookies.retain(|c| c.expires.is_none_or(|t| t > now));
        let path = url.path_and_query.split('?').next().unwrap_or("/");
        for c in &self.cookies {
            let host_ok = if c.host_only {
                url.host.eq_ignore_ascii_case(&c.domain)
            } else {
                domain_match(&url.host, &c.domain)
            };
            if !host_ok || !path_match(path, &c.path) || (c.secure && url.scheme != Scheme::Https) {
                continue;
            }
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&c.name);
            out.push('=');
            out.push_str(&c.value);
        }
    }
}

/// RFC 6265 §5.1.3: `host` is `domain` or a name under it (never for an
/// IP); `domain` is lower case, `host` in any case.
fn domain_match(host: &str, domain: &str) -> bool {
    if host.eq_ignore_ascii_case(domain) {
        return true;
    }
    host.len() > domain.len()
        && host.is_char_boundary(host.len() - domain.len())
        && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        && host.parse::<std::net::IpAddr>().is_err()
        && !host.contains(':')
}

/// RFC 6265 §5.1.4.
fn path_match(req: &str, cookie: &str) -> bool {
    req == cookie
        || (req.starts_with(cookie)
            && (cookie.ends_with('/') || req.as_bytes().get(cookie.len()) == Some(&b'/')))
}

/// RFC 6265 §5.1.4: the directory of the request path.
fn default_path(path_and_query: &str) -> &str {
    let path = path_and_query.split('?').next().unwrap_or("/");
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// A cookie date, leniently (RFC 6265 §5.1.1): a time `hh:mm:ss`, a day of
/// month, a month name and a year, in any order, with any delimiters
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, `Wed, 21-Oct-15 07:28:00 GMT`).
fn parse_cookie_date(s: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for tok in s
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .filter(|t| !t.is_empty())
    {
        if time.is_none() && tok.contains(':') {
            let mut it = tok.split(':').map(|x| x.parse::<u64>().ok());
            if let (Some(Some(h)), Some(Some(m)), Some(Some(s))) = (it.next(), it.next(), it.next())
            {
                time = Some((h, m, s));
                continue;
            }
        }
        if month.is_none() && tok.len() >= 3 {
            let lower = tok[..3].to_ascii_lowercase();
            if let Some(i) = MONTHS.iter().position(|m| *m == lower) {
                month = Some(i as i64 + 1);
                continue;
            }
        }
        if let Ok(n) = tok.parse::<i64>() {
            if day.is_none() && tok.len() <= 2 {
                day = Some(n);
            } else if year.is_none() {
                year = Some(match n {
                    0..=69 => n + 2000,
                    70..=99 => n + 1900,
                    _ => n,
                });
            }
        }
    }
    let ((h, m, sec), day, month, year) = (time?, day?, month?, year?);
    if !(1..=31).contains(&day) || year < 1601 || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let days = crate::units::days_from_civil(year, month, day);
    let secs = days * 86_400 + (h * 3600 + m * 60 + sec) as i64;
    Some(match u64::try_from(secs) {
        Ok(s) => SystemTime::UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => SystemTime::UNIX_EPOCH,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn header(jar: &mut CookieJar, u: &str, now: SystemTime) -> String {
        let mut s = String::new();
        jar.header_for(&url(u), now, &mut s);
        s
    }

    #[test]
    fn domain_path_secure_and_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut j = CookieJar::default();
        assert!(j.is_empty());
        let u = url("http://a.example.com/shop/cart?x=1");
        j.store(&u, "sid=1; Path=/; HttpOnly", now);
        j.store(&u, "cart=2", now); // default path /shop
        j.store(&u, "wide=3; Domain=.example.com; Path=/", now);
        j.store(&u, "other=4; Domain=evil.com", now); // refused
        j.store(&u, "sec=5; Secure; Path=/", now);
        j.store(&u, "gone=6; Max-Age=0", now);
        j.store(&u, "old=7; Expires=Wed, 21 Oct 2015 07:28:00 GMT", now);
        j.store(
            &u,
            "later=8; Expires=Wed, 21-Oct-2037 07:28:00 GMT; Path=/",
            now,
        );
        j.store(&u, "brief=9; Max-Age=10; Path=/", now);
        assert_eq!(
            header(&mut j, "http://a.example.com/shop/x", now),
            "cart=2; sid=1; wide=3; later=8; brief=9"
        );
        assert_eq!(
            header(&mut j, "https://a.example.com/shop", now),
            "cart=2; sid=1; wide=3; sec=5; later=8; brief=9"
        );
        assert_eq!(
            header(&mut j, "http://b.example.com/shopping", now),
            "wide=3"
        );
        assert_eq!(header(&mut j, "http://example.org/", now), "");
        let later = now + Duration::from_secs(11);
        assert_eq!(
            header(&mut j, "http://a.example.com/", later),
            "sid=1; wide=3; later=8"
        );
        // Replaced, then removed.
        j.store(&u, "wide=new; Domain=example.com; Path=/", now);
        assert_eq!(header(&mut j, "http://c.example.com/", now), "wide=new");
        j.store(&u, "wide=; Domain=example.com; Max-Age=-1; Path=/", now);
        assert_eq!(header(&mut j, "http://c.example.com/", now), "");
    }

    #[test]
    fn ip_hosts_match_exactly() {
        let now = SystemTime::now();
        let mut j = CookieJar::default();
        j.store(&url("http://127.0.0.1:8080/"), "a=1", now);
        assert_eq!(header(&mut j, "http://127.0.0.1:9090/x", now), "a=1");
        assert_eq!(header(&mut j, "http://localhost:8080/", now), "");
        j.store(&url("http://127.0.0.1/"), "b=2; Domain=0.0.1", now);
        assert_eq!(header(&mut j, "http://127.0.0.1/", now), "a=1");
    }
}
