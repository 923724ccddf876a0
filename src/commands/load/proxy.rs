//! A test's forward proxy: its own `proxy` (a URL, or `false` for none), or
//! else the environment's (`http_proxy`, `https_proxy`, `all_proxy`,
//! `no_proxy`), checked at validation so a bad one stops the plan before
//! anything runs.

use crate::http::proxy::{Proxies, Proxy};
use crate::plan::validate::Validator;
use crate::plan::{Position, Problem};
use serde_json::Value;
use std::sync::Arc;

/// What a test's requests go through.
#[derive(Debug, Clone)]
pub(super) enum ProxySetting {
    /// No proxy.
    Direct,
    Ready(Arc<Proxies>),
    /// The test's `proxy` with `${...}` in it (say, a password from
    /// `${env.PROXY_PASSWORD}`): made when the test starts.
    Template(String),
}

impl ProxySetting {
    /// Checks the test's `proxy` (at `args.proxy`), or reads the environment
    /// through `var` when it has none.
    pub(super) fn check(
        v: &mut Validator,
        at: &Position,
        proxy: Option<&Value>,
        var: impl Fn(&str) -> Option<String>,
    ) -> ProxySetting {
        let at = at.child("args.proxy");
        match proxy {
            None | Some(Value::Null) => match Proxies::from_env(var) {
                Ok(Some(p)) => ProxySetting::Ready(Arc::new(p)),
                Ok(None) => ProxySetting::Direct,
                Err(e) => {
                    v.problem(Problem::new(at, format!("environment variable {e}")).hint(
                        "fix or unset the variable, or give the test its own `proxy` (`false` for none)",
                    ));
                    ProxySetting::Direct
                }
            },
            Some(Value::Bool(false)) => ProxySetting::Direct,
            Some(Value::String(s)) if s.contains("${") => ProxySetting::Template(s.clone()),
            Some(Value::String(s)) if s.trim().is_empty() => ProxySetting::Direct,
            Some(Value::String(s)) => match Proxy::parse(s.trim()) {
                Ok(p) => ProxySetting::Ready(Arc::new(Proxies::all(p))),
                Err(e) => {
                    v.problem(Problem::new(at, e).hint(
                        "give an http:// proxy URL, e.g. \"http://user:password@proxy.internal:3128\"",
                    ));
                    ProxySetting::Direct
                }
            },
            Some(_) => {
                v.problem(Problem::new(
                    at,
                    "proxy must be a URL string such as \"http://proxy.internal:3128\", or false to ignore the environment's proxies",
                ));
                ProxySetting::Direct
            }
        }
    }

    /// The proxies, `${...}` resolved by `resolve`.
    pub(super) fn make(
        &self,
        resolve: impl FnOnce(&str) -> anyhow::Result<String>,
    ) -> anyhow::Result<Option<Arc<Proxies>>> {
        Ok(match self {
            ProxySetting::Direct => None,
            ProxySetting::Ready(p) => Some(Arc::clone(p)),
            ProxySetting::Template(t) => {
                let url = resolve(t)?;
                let p = Proxy::parse(url.trim()).map_err(|e| anyhow::anyhow!("args.proxy: {e}"))?;
                Some(Arc::new(Proxies::all(p)))
            }
        })
    }
}
