//! A test's and its tasks' TLS settings (`verify`, `cert`): their files read
//! and parsed at validation, and each distinct setting built once per test
//! (tasks with the same settings share one build, so its session cache).

use super::args::{CertArg, VerifyArg};
use crate::http::tls::{self, ClientCert, Tls, TlsOptions, Verify};
use crate::plan::validate::Validator;
use crate::plan::{Position, Problem};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The test's own TLS settings and the builds made so far.
pub(super) struct TestTls<'a> {
    verify: Option<&'a VerifyArg>,
    cert: Option<&'a CertArg>,
    base: PathBuf,
    built: RefCell<Vec<(TlsOptions, Option<Arc<Tls>>)>>,
}

impl<'a> TestTls<'a> {
    /// Checks the test's own settings (reported at `args.verify` /
    /// `args.cert`); `base` is where relative paths start.
    pub(super) fn new(
        v: &mut Validator,
        at: &Position,
        verify: Option<&'a VerifyArg>,
        cert: Option<&'a CertArg>,
        base: PathBuf,
    ) -> TestTls<'a> {
        let t = TestTls {
            verify,
            cert,
            base,
            built: RefCell::new(Vec::new()),
        };
        t.get(v, &at.child("args"), None, None);
        t
    }

    /// A task's settings: its own `verify` and `cert` over the test's.
    /// `None`: the default ones (or a problem was recorded).
    pub(super) fn for_task(
        &self,
        v: &mut Validator,
        at: &Position,
        verify: Option<&VerifyArg>,
        cert: Option<&CertArg>,
    ) -> Option<Arc<Tls>> {
        if verify.is_none() && cert.is_none() {
            // The test's own: checked (and any problem reported) already.
            let opts = self.options(None, None);
            return self
                .built
                .borrow()
                .iter()
                .find(|(o, _)| *o == opts)
                .and_then(|(_, t)| t.clone());
        }
        self.get(v, at, verify, cert)
    }

    fn options(&self, verify: Option<&VerifyArg>, cert: Option<&CertArg>) -> TlsOptions {
        let path = |p: &str| self.base.join(Path::new(p));
        TlsOptions {
            verify: match verify.or(self.verify) {
                None | Some(VerifyArg::Bool(true)) => Verify::System,
                Some(VerifyArg::Bool(false)) => Verify::Off,
                Some(VerifyArg::CaFile(p)) => Verify::CaFile(path(p)),
            },
            cert: cert.or(self.cert).map(|c| ClientCert {
                cert: path(&c.cert),
                key: c.key.as_deref().map(path),
            }),
        }
    }

    fn get(
        &self,
        v: &mut Validator,
        at: &Position,
        verify: Option<&VerifyArg>,
        cert: Option<&CertArg>,
    ) -> Option<Arc<Tls>> {
        let opts = self.options(verify, cert);
        if opts == TlsOptions::default() {
            return None;
        }
        if let Some((_, t)) = self.built.borrow().iter().find(|(o, _)| *o == opts) {
            return t.clone();
        }
        let built = match tls::build(&opts) {
            Ok(t) => Some(Arc::new(t)),
            Err(e) => {
                let mut errors = vec![e];
                if errors[0].field == "verify" && opts.cert.is_some() {
                    // The CA file stopped the build: check the certificate too.
                    let cert_only = TlsOptions {
                        verify: Verify::Off,
                        cert: opts.cert.clone(),
                    };
                    errors.extend(tls::build(&cert_only).err());
                }
                for e in errors {
                    let hint = match e.field {
                        "verify" => "`verify` is true, false, or a PEM file of CA certificates",
                        _ => "`cert` is a PEM file holding the certificate chain and its private key, or [cert_path, key_path]",
                    };
                    v.problem(Problem::new(at.child(e.field), e.message).hint(hint));
                }
                None
            }
        };
        self.built.borrow_mut().push((opts, built.clone()));
        built
    }
}
