//! Absolute `http://` / `https://` URLs, parsed once per task.
use super::HttpError;
use std::borrow::Cow;
use std::fmt;

/// The two schemes the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP/1.1 through the hand-written client.
    Http,
    /// HTTP over TLS (rustls, driven in the event loop).
    Https,
}

impl Scheme {
    /// The port used when the URL names none: 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// An absolute URL split into the parts a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    /// Host as written (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Path and query, always starting with `/`.
    pub path_and_query: String,
}

fn invalid(input: &str, why: &str) -> HttpError {
    HttpError::InvalidUrl(format!("{why} in {:?}", super::secret::redact_url(input)))
}

/// `s` with the user info of its URL hidden, for printing or storing: the
/// password of `scheme://user:password@host/...` becomes `***`
/// (`scheme://user:***@host/...`), and a user info without a password (often
/// a token: `https://TOKEN@host/`) becomes `***` as a whole. Text without
/// user info comes back borrowed, as is.
pub fn redact_userinfo(s: &str) -> Cow<'_, str> {
    let Some(i) = s.find("://") else {
        return Cow::Borrowed(s);
    };
    let start = i + 3;
    let rest = &s[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return Cow::Borrowed(s);
    };
    let userinfo = &authority[..at];
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..start]);
    match userinfo.split_once(':') {
        Some((user, _)) => {
            out.push_str(user);
            out.push_str(":***");
        }
        None => out.push_str("***"),
    }
    out.push_str(&s[start + at..]);
    Cow::Owned(out)
}

/// A `Location` as servers send it, made a valid URL the way browsers and
/// Python's `requests` do: a space, a non-ASCII character or another byte a
/// URL may not hold is percent-encoded (UTF-8); `%XX` escapes already there
/// stay as they are.
fn requote(location: &str) -> Cow<'_, str> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b);
    if location.bytes().all(allowed) {
        return Cow::Borrowed(location);
    }
    let mut out = String::with_capacity(location.len() + 8);
    for b in location.bytes() {
        if allowed(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

impl Url {
    /// Parses an absolute `http://` or `https://` URL.
    ///
    /// Accepts a DNS name, an IPv4 address or a bracketed IPv6 address
    /// (`http://[::1]:8080/`), an optional port (default 80 / 443), and an
    /// optional path and query (default `/`). A `#fragment` is dropped; user
    /// info (`user@host`), spaces and control characters are rejected.
    pub fn parse(s: &str) -> Result<Url, HttpError> {
        if s.is_empty() {
            return Err(HttpError::InvalidUrl("empty URL".to_string()));
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                s,
                &format!("whitespace or control character {c:?}"),
            ));
        }
        let (scheme, rest) = match s.split_once("://") {
            Some((sch, rest)) if sch.eq_ignore_ascii_case("http") => (Scheme::Http, rest),
            Some((sch, rest)) if sch.eq_ignore_ascii_case("https") => (Scheme::Https, rest),
            Some((sch, _)) => {
                return Err(invalid(
                    s,
                    &format!("unsupported scheme {sch:?} (only http and https)"),
                ))
            }
            None => return Err(invalid(s, "missing http:// or https:// scheme")),
        };
        // Fragment first: it may contain anything, including '/' and '?'.
        let rest = match rest.find('#') {
            Some(i) => &rest[..i],
            None => rest,
        };
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(auth_end);
        if authority.contains('@') {
            return Err(invalid(s, "user info (user@host) is not supported"));
        }
        let (host, port_str) = if let Some(after) = authority.strip_prefix('[') {
            let close = after
                .find(']')
                .ok_or_else(|| invalid(s, "unclosed '[' in IPv6 host"))?;
            let host = &after[..close];
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(invalid(s, &format!("bad IPv6 address {host:?}")));
            }
            let tail = &after[close + 1..];
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(p),
                None if tail.is_empty() => None,
                None => return Err(invalid(s, "unexpected text after IPv6 host")),
            };
            (host, port)
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid(s, "empty host"));
        }
        if !authority.starts_with('[') {
            if let Some(c) = host
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
            {
                return Err(invalid(s, &format!("character {c:?} not allowed in host")));
            }
        }
        let port = match port_str {
            None => scheme.default_port(),
            Some(p) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(s, &format!("bad port {p:?}")));
                }
                match p.parse::<u16>() {
                    Ok(n) if n != 0 => n,
                    _ => return Err(invalid(s, &format!("port {p} out of range 1-65535"))),
                }
            }
        };
        let path_and_query = if path.is_empty() {
            "/".to_string()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        Ok(Url {
            scheme,
            host: host.to_string(),
            port,
            path_and_query,
        })
    }

    /// True when the port is the scheme's default (80 for http, 443 for https).
    pub fn is_default_port(&self) -> bool {
        self.port == self.scheme.default_port()
    }

    /// True when the host is an IPv6 literal (needs brackets in a URL or `Host`).
    pub fn is_ipv6(&self) -> bool {
        self.host.contains(':')
    }

    /// The value for a `Host` header: `host`, `host:port` when the port is not
    /// the default, IPv6 in brackets (as the client writes it).
    #[cfg(test)]
    fn host_header(&self) -> String {
        let mut s = String::new();
        self.write_authority(&mut s);
        s
    }

    /// `scheme://host:port` with the port always written (IPv6 in brackets),
    /// e.g. `https://example.com:443`: the target reports name.
    pub fn target(&self) -> String {
        let host = if self.is_ipv6() {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{host}:{}", self.scheme.as_str(), self.port)
    }

    /// `scheme://host[:port]`, e.g. `http://127.0.0.1:8080`, for grouping and
    /// messages.
    pub fn origin(&self) -> String {
        let mut s = String::with_capacity(self.host.len() + 16);
        s.push_str(self.scheme.as_str());
        s.push_str("://");
        self.write_authority(&mut s);
        s
    }

    fn write_authority(&self, s: &mut String) {
        if self.is_ipv6() {
            s.push('[');
            s.push_str(&self.host);
            s.push(']');
        } else {
            s.push_str(&self.host);
        }
        if !self.is_default_port() {
            s.push(':');
            s.push_str(&self.port.to_string());
        }
    }
}

impl Url {
    /// The URL a `Location` (absolute, scheme-relative, absolute-path,
    /// query-only or relative path) points at from this one (RFC 3986 §5.2,
    /// fragment dropped).
    pub fn join(&self, location: &str) -> Result<Url, HttpError> {
        let location = requote(location.trim());
        let loc = location.split('#').next().unwrap_or("");
        let has_scheme = loc.split_once(':').is_some_and(|(s, _)| {
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        });
        if has_scheme {
            return Url::parse(loc);
        }
        if loc.starts_with("//") {
            return Url::parse(&format!("{}:{loc}", self.scheme.as_str()));
        }
        let (path, _) = self
            .path_and_query
            .split_once('?')
            .unwrap_or((&self.path_and_query, ""));
        let target = if loc.is_empty() {
            self.path_and_query.clone()
        } else if loc.starts_with('?') {
            format!("{path}{loc}")
        } else {
            let (lpath, lquery) = match loc.find('?') {
                Some(i) => loc.split_at(i),
                None => (loc, ""),
            };
            let merged = if lpath.starts_with('/') {
                lpath.to_string()
            } else {
                format!("{}{lpath}", &path[..path.rfind('/').map_or(0, |i| i + 1)])
            };
            format!("{}{lquery}", remove_dot_segments(&merged))
        };
        Url::parse(&format!("{}{target}", self.origin()))
    }
}

/// RFC 3986 §5.2.4, for an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

impl fmt::Display for Url {
    /// The normalised absolute URL: `scheme://host[:port]/path?query`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.path_and_query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        match Url::parse(s) {
            Err(HttpError::InvalidUrl(m)) => m,
            other => panic!("{s}: expected InvalidUrl, got {other:?}"),
        }
    }

    #[test]
    fn parses_defaults() {
        let u = ok("http://example.com");
        assert_eq!(u.scheme, Scheme::Http);
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, 80);
        assert_eq!(u.path_and_query, "/");
        let u = ok("https://example.com/");
        assert_eq!((u.scheme, u.port), (Scheme::Https, 443));
        assert!(u.is_default_port());
    }

    #[test]
    fn parses_port_path_query_and_drops_fragment() {
        let u = ok("http://127.0.0.1:8080/a/b?x=1&y=2#frag/ment?");
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 8080);
        assert_eq!(u.path_and_query, "/a/b?x=1&y=2");
        assert_eq!(u.host_header(), "127.0.0.1:8080");
        assert_eq!(u.origin(), "http://127.0.0.1:8080");
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/a/b?x=1&y=2");
        let u = ok("http://h?q=1");
        assert_eq!(u.path_and_query, "/?q=1");
        let u = ok("http://h#top");
        assert_eq!(u.path_and_query, "/");
    }

    #[test]
    fn parses_ipv6() {
        let u = ok("http://[::1]:9000/x");
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, 9000);
        assert!(u.is_ipv6());
        assert_eq!(u.host_header(), "[::1]:9000");
        let u = ok("https://[2001:db8::2]");
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::2", 443));
        assert_eq!(u.host_header(), "[2001:db8::2]");
    }

    #[test]
    fn scheme_is_case_insensitive_host_kept_as_written() {
        let u = ok("HTTP://Example.COM:81/Path");
        assert_eq!(u.scheme, Scheme::Http);
        assert_eq!(u.host, "Example.COM");
        assert_eq!(u.path_and_query, "/Path");
    }

    #[test]
    fn rejects_bad_urls_with_a_reason() {
        assert!(err("ftp://x/").contains("unsupported scheme"));
        assert!(err("example.com/x").contains("missing"));
        assert!(err("").contains("empty"));
        assert!(err("http://").contains("empty host"));
        assert!(err("http:///path").contains("empty host"));
        assert!(err("http://:80/").contains("empty host"));
        assert!(err("http://h:/").contains("bad port"));
        assert!(err("http://h:abc/").contains("bad port"));
        assert!(err("http://h:-1/").contains("bad port"));
        assert!(err("http://h:65536/").contains("out of range"));
        assert!(err("http://h:0/").contains("out of range"));
        assert!(err("http://h:99999999999999999999/").contains("out of range"));
        assert!(err("http://h/a b").contains("whitespace"));
        assert!(err("http://h/\u{7}").contains("control"));
        assert!(err("http://h\r\nX: y/").contains("control"));
        assert!(err("http://[::1/").contains("unclosed"));
        assert!(err("http://[nothex]/").contains("IPv6"));
        assert!(err("http://[::1]x/").contains("after IPv6"));
        assert!(err("http://u:p@h/").contains("user info"));
        assert!(err("http://u:p@h/").contains("\"http://u:***@h/\""));
        assert!(err("http://h%41/").contains("not allowed"));
        assert!(err("http://a:1:2/").contains("bad port"));
    }

    #[test]
    fn locations_resolve_against_the_current_url() {
        let base = ok("http://h:8080/a/b/c?q=1");
        let j = |l: &str| base.join(l).unwrap().to_string();
        assert_eq!(j("https://other/x"), "https://other/x");
        assert_eq!(j("HTTP://other:81"), "http://other:81/");
        assert_eq!(j("//other/y"), "http://other/y");
        assert_eq!(j("/ok"), "http://h:8080/ok");
        assert_eq!(j("?z=2"), "http://h:8080/a/b/c?z=2");
        assert_eq!(j("d"), "http://h:8080/a/b/d");
        assert_eq!(j("../d?x=1#f"), "http://h:8080/a/d?x=1");
        assert_eq!(j("./"), "http://h:8080/a/b/");
        assert_eq!(j("../../../../d"), "http://h:8080/d");
        assert_eq!(j(""), "http://h:8080/a/b/c?q=1");
        assert!(base.join("ftp://x/").is_err());
        // As a browser sends them: spaces and non-ASCII percent-encoded,
        // escapes already there kept.
        assert_eq!(j("/my file?q=a b"), "http://h:8080/my%20file?q=a%20b");
        assert_eq!(j("/caf\u{e9}%20x"), "http://h:8080/caf%C3%A9%20x");
        assert_eq!(j(" /padded "), "http://h:8080/padded");
    }

    #[test]
    fn user_info_is_redacted() {
        assert_eq!(redact_userinfo("http://h:1/a@b"), "http://h:1/a@b");
        assert_eq!(redact_userinfo("no url"), "no url");
        assert_eq!(
            redact_userinfo("https://user:s3cret@h:8080/p?q=a@b#f"),
            "https://user:***@h:8080/p?q=a@b#f"
        );
        assert_eq!(redact_userinfo("http://tok@h"), "http://***@h");
        // The last '@' of the authority ends the user info; ':' may repeat.
        assert_eq!(redact_userinfo("http://u:p@ss:w@h/"), "http://u:***@h/");
        assert_eq!(redact_userinfo("http://:p@h?x"), "http://:***@h?x");
        // Rejected for another reason first: still redacted.
        let m = err("http://u:pass word@h/");
        assert!(m.contains("u:***@h") && !m.contains("pass"), "{m}");
    }
}
