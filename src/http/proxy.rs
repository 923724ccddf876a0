//! Forward proxies: which requests go through one, and how it is reached.
//!
//! - `http://` requests go to the proxy in absolute form
//!   (`GET http://host/path HTTP/1.1`) with its `Proxy-Authorization`.
//! - `https://` requests open a tunnel with `CONNECT host:port` first; TLS to
//!   the target then runs inside it, so the proxy sees no plaintext.
//!
//! The proxies come from the test's `proxy` setting or, when it has none,
//! from the environment as curl and Python's `requests` read it
//! (`http_proxy`, `https_proxy`, `all_proxy`, `no_proxy`, lower case first,
//! then upper case). An environment proxy never carries requests to a
//! loopback host (`localhost`, `127.0.0.0/8`, `::1`): a machine-wide proxy
//! setting should not put a proxy between a test and a service on the same
//! machine (Go's `net/http` does the same). A test's own `proxy` applies to
//! every host.

use super::url::redact_userinfo;
use super::{Scheme, Url};
use std::net::IpAddr;
use std::sync::Arc;

/// One proxy server.
#[derive(Debug, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// The `Proxy-Authorization` value, when the proxy URL has `user:pass@`.
    pub authorization: Option<String>,
    /// The proxy URL for output, its password hidden.
    pub shown: String,
}

impl Proxy {
    /// Parses a proxy URL: `http://[user:pass@]host[:port]` (the scheme may
    /// be left out; the port defaults to 80). The error says what is wrong,
    /// with any password hidden.
    pub fn parse(text: &str) -> Result<Proxy, String> {
        let shown = redact_userinfo(text).into_owned();
        let rest = match text.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "proxy {shown:?}: {scheme}:// proxies are not supported; give an http:// proxy (https:// targets are tunnelled through it with CONNECT)"
                ))
            }
            None => text,
        };
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let url = Url::parse(&format!("http://{hostport}/"))
            .map_err(|e| format!("proxy {shown:?}: {e}"))?;
        let authorization = userinfo.map(|u| {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            super::basic_auth(&percent_decode(user), &percent_decode(pass))
        });
        Ok(Proxy {
            host: url.host,
            port: url.port,
            authorization,
            shown,
        })
    }

    /// `host:port` as a `CONNECT` target or a `Host` header gives it.
    pub fn authority(host: &str, port: u16) -> String {
        if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }
}

/// Where one test's requests go.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Proxies {
    http: Option<Arc<Proxy>>,
    https: Option<Arc<Proxy>>,
    /// `no_proxy` entries (environment proxies only).
    bypass: Vec<Bypass>,
    /// Whether these came from the environment (which never proxies loopback).
    from_env: bool,
}

impl Proxies {
    /// One proxy for every request of the test (the test's `proxy`).
    pub fn all(proxy: Proxy) -> Proxies {
        let p = Arc::new(proxy);
        Proxies {
            http: Some(Arc::clone(&p)),
            https: Some(p),
            bypass: Vec::new(),
            from_env: false,
        }
    }

    /// The proxies the environment sets (`var` reads a variable); `Ok(None)`
    /// when it sets none. An unset or empty variable counts as not set.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Proxies>, String> {
        let get = |name: &str| {
            [name.to_ascii_lowercase(), name.to_string()]
                .into_iter()
                .find_map(|n| var(&n).filter(|v| !v.trim().is_empty()).map(|v| (n, v)))
        };
        let parse = |name: &str| -> Result<Option<Arc<Proxy>>, String> {
            match get(name).or_else(|| get("ALL_PROXY")) {
                Some((var, v)) => Proxy::parse(v.trim())
                    .map(|p| Some(Arc::new(p)))
                    .map_err(|e| format!("{var}: {e}")),
                None => Ok(None),
            }
        };
        let (http, https) = (parse("HTTP_PROXY")?, parse("HTTPS_PROXY")?);
        if http.is_none() && https.is_none() {
            return Ok(None);
        }
        let bypass = get("NO_PROXY")
            .map(|(_, v)| v.split(',').filter_map(Bypass::parse).collect())
            .unwrap_or_default();
        Ok(Some(Proxies {
            http,
            https,
            bypass,
            from_env: true,
        }))
    }

    /// The proxy for a request to `url`, if it goes through one.
    pub fn for_url(&self, url: &Url) -> Option<&Arc<Proxy>> {
        let proxy = match url.scheme {
            Scheme::Http => self.http.as_ref(),
            Scheme::Https => self.https.as_ref(),
        }?;
        if self.from_env && (is_loopback(&url.host) || self.bypass.iter().any(|b| b.matches(url))) {
            return None;
        }
        Some(proxy)
    }

    /// The proxies in words, passwords hidden: `http://h:3128 for https://
    /// (from the environment; ...)`.
    pub fn describe(&self) -> String {
        let which = self.which();
        if self.from_env {
            format!("{which} (from the environment; not for loopback or no_proxy hosts)")
        } else {
            which
        }
    }

    fn which(&self) -> String {
        let name = |p: &Arc<Proxy>| p.shown.clone();
        match (&self.http, &self.https) {
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) || a == b => name(a),
            (Some(a), Some(b)) => format!("{} for http://, {} for https://", name(a), name(b)),
            (Some(a), None) => format!("{} for http://", name(a)),
            (None, Some(b)) => format!("{} for https://", name(b)),
            (None, None) => "none".to_string(),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// One `no_proxy` entry.
#[derive(Debug, PartialEq, Eq)]
enum Bypass {
    /// `*`: every host.
    All,
    /// A name: the host itself and every name under it (`example.com` and
    /// `.example.com` both match `example.com` and `api.example.com`).
    Domain(String, Option<u16>),
    /// An address, or a network in CIDR form (`10.0.0.0/8`).
    Net(IpAddr, u8),
}

impl Bypass {
    fn parse(entry: &str) -> Option<Bypass> {
        let e = entry.trim();
        if e.is_empty() {
            return None;
        }
        if e == "*" {
            return Some(Bypass::All);
        }
        if let Some((ip, bits)) = e.split_once('/') {
            let ip: IpAddr = ip.trim_matches(['[', ']']).parse().ok()?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits: u8 = bits.parse().ok().filter(|b| *b <= max)?;
            return Some(Bypass::Net(ip, bits));
        }
        if let Ok(ip) = e.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Some(Bypass::Net(ip, if ip.is_ipv4() { 32 } else { 128 }));
        }
        let (name, port) = match e.rsplit_once(':') {
            Some((n, p)) => (n, Some(p.parse().ok()?)),
            None => (e, None),
        };
        let name = name.trim_start_matches("*.").trim_start_matches('.');
        Some(Bypass::Domain(name.to_ascii_lowercase(), port))
    }

    fn matches(&self, url: &Url) -> bool {
        match self {
            Bypass::All => true,
            Bypass::Domain(name, port) => {
                let host = url.host.to_ascii_lowercase();
                port.is_none_or(|p| p == url.port)
                    && (host == *name
                        || host
                            .strip_suffix(name.as_str())
                            .is_some_and(|head| head.ends_with('.')))
            }
            Bypass::Net(net, bits) => url
                .host
                .parse::<IpAddr>()
                .is_ok_and(|ip| in_network(ip, *net, *bits)),
        }
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(b)), 32u32)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    let shift = width - u32::from(bits);
    shift >= width || (a >> shift) == (b >> shift)
}

/// `%XX` escapes decoded (user names and passwords in proxy URLs).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn parses_a_proxy_url_and_hides_its_password() {
        let p = Proxy::parse("http://al%40ice:s3cret@proxy.corp:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        // base64("al@ice:s3cret")
        assert_eq!(
            p.authorization.as_deref(),
            Some("Basic YWxAaWNlOnMzY3JldA==")
        );
        assert_eq!(p.shown, "http://al%40ice:***@proxy.corp:3128");
        let bare = Proxy::parse("10.0.0.1:8080").unwrap();
        assert_eq!(
            (bare.host.as_str(), bare.port, bare.authorization),
            ("10.0.0.1", 8080, None)
        );
        assert_eq!(Proxy::parse("http://p.corp").unwrap().port, 80);
        let e = Proxy::parse("socks5://u:pw@p:1080").unwrap_err();
        assert!(e.contains("socks5:// proxies are not supported"), "{e}");
        assert!(!e.contains("pw"), "{e}");
        assert!(Proxy::parse("http://u:pw@").unwrap_err().contains("u:***@"));
    }

    #[test]
    fn reads_the_environment_lower_case_first() {
        let p = Proxies::from_env(env(&[
            ("HTTP_PROXY", "http://upper:1"),
            ("http_proxy", "http://lower:2"),
            ("HTTPS_PROXY", "http://secure:3"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(p.for_url(&url("http://api.corp/")).unwrap().host, "lower");
        assert_eq!(p.for_url(&url("https://api.corp/")).unwrap().host, "secure");
        assert_eq!(
            Proxies::from_env(env(&[("HTTP_PROXY", " ")])).unwrap(),
            None
        );
        let all = Proxies::from_env(env(&[("ALL_PROXY", "http://any:4")]))
            .unwrap()
            .unwrap();
        assert_eq!(all.for_url(&url("https://x.corp/")).unwrap().host, "any");
        let bad = Proxies::from_env(env(&[("https_proxy", "ftp://u:pw@h")])).unwrap_err();
        assert!(
            bad.starts_with("https_proxy: proxy \"ftp://u:***@h\""),
            "{bad}"
        );
    }

    #[test]
    fn no_proxy_and_loopback_bypass_an_environment_proxy() {
        let p = Proxies::from_env(env(&[
            ("HTTP_PROXY", "http://p:1"),
            ("NO_PROXY", "internal.corp, .svc:8080,10.0.0.0/8,::2 ,"),
        ]))
        .unwrap()
        .unwrap();
        let via = |u: &str| p.for_url(&url(u)).is_some();
        assert!(!via("http://internal.corp/"));
        assert!(!via("http://api.internal.corp/"));
        assert!(via("http://notinternal.corp/"));
        assert!(!via("http://a.svc:8080/"));
        assert!(via("http://a.svc:9090/"));
        assert!(!via("http://10.1.2.3/"));
        assert!(via("http://11.1.2.3/"));
        assert!(!via("http://[::2]/"));
        assert!(!via("http://localhost:8080/"));
        assert!(!via("http://127.0.0.9/"));
        assert!(!via("http://[::1]/"));
        assert!(via("http://example.com/"));
        let star = Proxies::from_env(env(&[("HTTP_PROXY", "http://p:1"), ("no_proxy", "*")]))
            .unwrap()
            .unwrap();
        assert!(star.for_url(&url("http://example.com/")).is_none());
        // A test's own proxy applies to every host, loopback included.
        let own = Proxies::all(Proxy::parse("http://p:1").unwrap());
        assert!(own.for_url(&url("http://127.0.0.1:8080/")).is_some());
        assert!(own.for_url(&url("https://localhost/")).is_some());
    }

    #[test]
    fn describes_the_proxies_without_passwords() {
        let own = Proxies::all(Proxy::parse("http://u:pw@p:1").unwrap());
        assert_eq!(own.describe(), "http://u:***@p:1");
        let split = Proxies::from_env(env(&[("HTTPS_PROXY", "http://s:2")]))
            .unwrap()
            .unwrap();
        assert_eq!(
            split.describe(),
            "http://s:2 for https:// (from the environment; not for loopback or no_proxy hosts)"
        );
    }
}
