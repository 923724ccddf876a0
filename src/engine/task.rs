//! Tasks compiled once per test: templates parsed, constant parts folded, and a
//! fully constant request prepared once so the hot path only sends it.

use super::check::{Assertion, Assertions, Extract};
use super::predicate::Predicate;
use crate::http::url::redact_userinfo;
use crate::http::{HttpError, Method, Url};
use crate::resolver::{CompiledValue, Lookup, ResolveError, Template};
use crate::stats::loaddensity::{push_alias, LdAlias};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

/// A task's body.
#[derive(Debug, Clone)]
pub enum Body {
    None,
    /// `json`: serialised, `Content-Type: application/json`.
    Json(CompiledValue),
    /// `data` as an object: form-encoded.
    Form(Vec<(String, Template)>),
    /// `data` as a string: sent as is.
    Raw(Template),
    /// `files`, with `data`'s fields as text parts: `multipart/form-data`.
    Multipart(Multipart),
}

/// A `multipart/form-data` body: files read at validation, text fields
/// rendered per request (once, when constant).
#[derive(Debug, Clone)]
pub struct Multipart {
    pub fields: Vec<(String, Template)>,
    pub files: Vec<crate::http::multipart::FilePart>,
    /// A boundary no file contains (see `multipart::boundary_for`).
    pub boundary: String,
}

/// One HTTP request task, compiled.
#[derive(Debug, Clone)]
pub struct Task {
    /// Statistics key.
    pub name: String,
    /// How the plan wrote the task, for LoadDensity's names.
    pub written: AsWritten,
    /// Index of `name` among the test's names.
    pub slot: usize,
    pub method: Method,
    /// Base URL for relative `url`s (already resolved).
    pub host: Option<String>,
    pub url: Template,
    pub params: Vec<(String, Template)>,
    pub headers: Vec<(String, Template)>,
    pub body: Body,
    pub timeout: Duration,
    /// The most response body kept in memory for the checks (`max_body_bytes`).
    pub max_body_bytes: u64,
    pub assertions: Assertions,
    pub extract: Vec<Extract>,
    pub weight: u32,
    pub run_if: Option<Predicate>,
    pub skip_if: Option<Predicate>,
    /// The whole request, when nothing in it varies.
    pub fixed: Option<Prepared>,
    /// How failed attempts are retried; `None`: never.
    pub retry: Option<crate::retry::Policy>,
    /// The network conditioner for this task (its own block, else the
    /// installed one); it applies when its `name_filter` matches.
    pub network: Option<std::sync::Arc<crate::conditioner::Conditioner>>,
    /// The CSV sources its placeholders read: each resolution of the task
    /// takes the next row of each.
    pub csv: Vec<std::sync::Arc<crate::data_source::CsvFeed>>,
    /// Its TLS settings (`verify`, `cert`), built once per test and shared;
    /// `None`: the default ones.
    pub tls: Option<std::sync::Arc<crate::http::tls::Tls>>,
    /// Whether a redirect (301, 302, 303, 307, 308 with `Location`) is
    /// followed (`allow_redirects`, default true), and how many at most.
    pub follow_redirects: bool,
    pub max_redirects: u32,
    /// The task's own `cookies`, sent with its request.
    pub cookies: Vec<(String, Template)>,
    /// The task's `throttle`: it waits for a token of the bucket its key
    /// names before it sends.
    pub throttle: Option<super::throttle::ThrottleSpec>,
    /// That bucket, made per test run (shared by the test's tasks with the
    /// same key); `None` until the test starts.
    pub bucket: Option<std::sync::Arc<super::throttle::TokenBucket>>,
    /// The task's `think_time`, slept after it (besides the test's `wait_time`).
    pub think_time: super::Wait,
}

/// A task's `name` and URL as the plan wrote them. LoadDensity names an
/// unnamed request by its URL as written (`http://127.0.0.1:8080/get`), where
/// we use its path (`/get`); reports in LoadDensity's shapes use its name.
#[derive(Debug, Clone, Default)]
pub struct AsWritten {
    pub name: Option<String>,
    pub url: String,
}

impl Task {
    /// LoadDensity's name for this task and how it was written (its URL's
    /// user info and query credentials redacted).
    pub fn ld_alias(&self) -> LdAlias {
        let url = crate::http::secret::redact_url(&self.written.url).into_owned();
        LdAlias {
            name: self.written.name.clone().unwrap_or_else(|| url.clone()),
            method: self.method.as_str().to_string(),
            url,
        }
    }
}

/// LoadDensity's names of each statistics name of `tasks`.
pub fn ld_aliases(tasks: &[Task]) -> BTreeMap<String, Vec<LdAlias>> {
    let mut out: BTreeMap<String, Vec<LdAlias>> = BTreeMap::new();
    for t in tasks {
        push_alias(out.entry(t.name.clone()).or_default(), &t.ld_alias());
    }
    out
}

/// A request ready to send.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub url: Option<Url>,
    /// The URL as built, for statistics, `record_csv` and the conditioner's
    /// filter; its user info redacted (`user:***@`), never the password.
    pub full_url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The task's own cookies as a `Cookie` value (`a=1; b=2`); empty: none.
    pub cookie: String,
}

/// Why a request could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Url(#[from] HttpError),
    #[error("relative URL {0:?} needs a `host` (or an absolute http:// URL)")]
    Relative(String),
}

impl Task {
    /// Whether an assertion or extractor reads the response body (otherwise
    /// it is counted and discarded as it arrives).
    pub fn reads_body(&self) -> bool {
        self.assertions.reads_body()
            || self
                .extract
                .iter()
                .any(|e| matches!(e.from, super::check::ExtractSource::JsonPath(_)))
    }

    /// Every template of the request and its assertions.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out: Vec<&Template> = vec![&self.url];
        out.extend(self.params.iter().map(|(_, t)| t));
        out.extend(self.headers.iter().map(|(_, t)| t));
        out.extend(self.cookies.iter().map(|(_, t)| t));
        match &self.body {
            Body::None => {}
            Body::Json(v) => out.extend(v.templates()),
            Body::Form(f) => out.extend(f.iter().map(|(_, t)| t)),
            Body::Raw(t) => out.push(t),
            Body::Multipart(m) => out.extend(m.fields.iter().map(|(_, t)| t)),
        }
        for check in &self.assertions.checks {
            match check {
                Assertion::Status(_) => {}
                Assertion::Contains(t) | Assertion::NotContains(t) | Assertion::Header(_, t) => {
                    out.push(t)
                }
                Assertion::JsonPath(_, v) => out.extend(v.templates()),
            }
        }
        out
    }

    /// Prepares the request once when nothing in it varies.
    pub fn prepare_fixed(&mut self) {
        let constant = self.url.is_constant()
            && self.params.iter().all(|(_, t)| t.is_constant())
            && self.headers.iter().all(|(_, t)| t.is_constant())
            && self.cookies.iter().all(|(_, t)| t.is_constant())
            && match &self.body {
                Body::None => true,
                Body::Json(v) => v.is_constant(),
                Body::Form(f) => f.iter().all(|(_, t)| t.is_constant()),
                Body::Raw(t) => t.is_constant(),
                Body::Multipart(m) => m.fields.iter().all(|(_, t)| t.is_constant()),
            };
        if constant {
            let mut p = Prepared::default();
            let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(0);
            let vars = crate::resolver::Vars::default();
            let mut scope = crate::resolver::Scope::new(&vars, &mut rng);
            if self.build(&mut scope, &mut p).is_ok() {
                self.fixed = Some(p);
            }
        }
    }

    /// Builds the request into `p` (reusing its buffers).
    pub fn build(&self, scope: &mut dyn Lookup, p: &mut Prepared) -> Result<(), BuildError> {
        p.full_url.clear();
        // A build that fails leaves no URL (never the previous request's).
        p.url = None;
        let mut url = std::mem::take(&mut p.full_url);
        let r = self.build_into(scope, p, &mut url);
        // A URL with user info never parses (so never leaves), but the string
        // is stored and printed: keep its password out.
        if let Cow::Owned(redacted) = redact_userinfo(&url) {
            url = redacted;
        }
        p.full_url = url;
        r
    }

    fn build_into(
        &self,
        scope: &mut dyn Lookup,
        p: &mut Prepared,
        url: &mut String,
    ) -> Result<(), BuildError> {
        let mut path = String::new();
        self.url.render(scope, &mut path)?;
        if path.starts_with("http://") || path.starts_with("https://") {
            url.push_str(&path);
        } else if let Some(host) = &self.host {
            url.push_str(host.trim_end_matches('/'));
            if !path.starts_with('/') {
                url.push('/');
            }
            url.push_str(&path);
        } else {
            return Err(BuildError::Relative(path));
        }
        let mut sep = if url.contains('?') { '&' } else { '?' };
        let mut value = String::new();
        for (k, t) in &self.params {
            value.clear();
            t.render(scope, &mut value)?;
            url.push(sep);
            sep = '&';
            percent_encode(k, url);
            url.push('=');
            percent_encode(&value, url);
        }
        p.url = Some(Url::parse(url)?);
        p.headers.clear();
        for (k, t) in &self.headers {
            p.headers.push((k.clone(), t.render_to_string(scope)?));
        }
        p.cookie.clear();
        for (k, t) in &self.cookies {
            if !p.cookie.is_empty() {
                p.cookie.push_str("; ");
            }
            p.cookie.push_str(k);
            p.cookie.push('=');
            t.render(scope, &mut p.cookie)?;
        }
        p.body.clear();
        let multipart_type;
        let content_type = match &self.body {
            Body::None => None,
            Body::Json(v) => {
                let value = v.render(scope)?;
                // Writing JSON into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut p.body, &value);
                Some("application/json")
            }
            Body::Form(fields) => {
                let mut s = String::new();
                for (i, (k, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        s.push('&');
                    }
                    percent_encode(k, &mut s);
                    s.push('=');
                    percent_encode(&t.render_to_string(scope)?, &mut s);
                }
                p.body.extend_from_slice(s.as_bytes());
                Some("application/x-www-form-urlencoded")
            }
            Body::Raw(t) => {
                p.body
                    .extend_from_slice(t.render_to_string(scope)?.as_bytes());
                None
            }
            Body::Multipart(m) => {
                let values = m
                    .fields
                    .iter()
                    .map(|(_, t)| t.render_to_string(scope))
                    .collect::<Result<Vec<_>, _>>()?;
                let boundary = crate::http::multipart::boundary_beside(&m.boundary, &values);
                let fields: Vec<(&str, &str)> = m
                    .fields
                    .iter()
                    .zip(&values)
                    .map(|((k, _), v)| (k.as_str(), v.as_str()))
                    .collect();
                crate::http::multipart::write(&mut p.body, &boundary, &fields, &m.files);
                multipart_type = format!("multipart/form-data; boundary={boundary}");
                Some(multipart_type.as_str())
            }
        };
        if let Some(ct) = content_type {
            if !p
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                p.headers.push(("Content-Type".to_string(), ct.to_string()));
            }
        }
        Ok(())
    }
}

/// `application/x-www-form-urlencoded` style percent-encoding (RFC 3986 unreserved kept).
pub fn percent_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding() {
        let mut s = String::new();
        percent_encode("a b&c=d/é~", &mut s);
        assert_eq!(s, "a%20b%26c%3Dd%2F%C3%A9~");
    }
}
