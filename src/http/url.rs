//! Absolute `http://` / `https://` URLs, parsed once per task.
use super::HttpError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    /// Host as written (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Path and query, always starting with `/`.
    pub path_and_query: String,
}

impl Url {
    pub fn parse(_s: &str) -> Result<Url, HttpError> {
        todo!("helper: http client")
    }
}
