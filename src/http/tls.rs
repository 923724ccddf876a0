//! TLS client settings: which roots a server certificate is verified against
//! (the operating system's store by default, a PEM CA bundle, or none), an
//! optional client certificate, and failures in plain words.
//!
//! A [`Tls`] is built once (per run for the default, per test for a task's
//! own settings) and shared by every connection that uses it: the rustls
//! `ClientConfig` inside holds the session cache, so a user that reconnects
//! resumes its TLS session.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError, DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verify {
    /// Against the operating system's trust store (the bundled web PKI roots
    /// when it is empty or unreadable).
    System,
    /// Not at all (handshake signatures are still checked).
    Off,
    /// Against exactly the roots in this PEM file.
    CaFile(PathBuf),
}

/// A client certificate: one PEM file holding the chain and the key, or two.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: Option<PathBuf>,
}

/// TLS settings as a plan gives them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    pub verify: Verify,
    pub cert: Option<ClientCert>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            verify: Verify::System,
            cert: None,
        }
    }
}

/// A built TLS client configuration, shared by the connections that use it.
pub struct Tls {
    pub(crate) config: Arc<rustls::ClientConfig>,
    /// Certificates are not verified.
    pub verify_off: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("verify_off", &self.verify_off)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The operating system's roots (`SSL_CERT_FILE` / `SSL_CERT_DIR` when set),
/// or the bundled web PKI roots when none could be read. Read once per run.
fn system_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    Arc::clone(ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if roots.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        Arc::new(roots)
    }))
}

/// The default settings (system roots, no client certificate), built once
/// per run.
pub fn system() -> Arc<Tls> {
    static TLS: OnceLock<Arc<Tls>> = OnceLock::new();
    Arc::clone(TLS.get_or_init(|| {
        Arc::new(build(&TlsOptions::default()).expect("the default TLS settings read no file"))
    }))
}

/// Why settings could not be built: the field at fault (`verify` or `cert`)
/// and what is wrong, naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    pub field: &'static str,
    pub message: String,
}

/// Builds the settings, reading and parsing their files now.
pub fn build(opts: &TlsOptions) -> Result<Tls, BuildError> {
    let verify_err = |message: String| BuildError {
        field: "verify",
        message,
    };
    let cert_err = |message: String| BuildError {
        field: "cert",
        message,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    let builder = match &opts.verify {
        Verify::System => builder.with_root_certificates(system_roots()),
        Verify::CaFile(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(path).map_err(verify_err)? {
                roots.add(cert).map_err(|_| {
                    verify_err(format!(
                        "{}: a certificate in it is not a valid CA certificate",
                        path.display()
                    ))
                })?;
            }
            builder.with_root_certificates(roots)
        }
        Verify::Off => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider()))),
    };
    let mut config = match &opts.cert {
        None => builder.with_no_client_auth(),
        Some(c) => {
            let chain = read_certs(&c.cert).map_err(cert_err)?;
            let key_path = c.key.as_deref().unwrap_or(&c.cert);
            let key = PrivateKeyDer::from_pem_file(key_path)
                .map_err(|e| match e {
                    rustls::pki_types::pem::Error::NoItemsFound => {
                        format!("{}: no private key in it (PEM)", key_path.display())
                    }
                    e => pem_error(key_path, &e),
                })
                .map_err(cert_err)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                cert_err(format!(
                    "{}: the client certificate and key do not go together ({})",
                    c.cert.display(),
                    describe(&e, "")
                ))
            })?
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        verify_off: opts.verify == Verify::Off,
    })
}

fn pem_error(path: &Path, e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(io) => format!("{}: {}", path.display(), io),
        E::NoItemsFound => format!("{}: nothing in it (PEM)", path.display()),
        _ => format!("{}: not a readable PEM file", path.display()),
    }
}

/// The certificates of a PEM file: at least one.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, &e))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it (PEM)", path.display()));
    }
    Ok(certs)
}

/// `verify: false`: any certificate is taken; the handshake's signatures are
/// still checked (the server must hold the key of the certificate it sent).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A rustls error in plain words (never its debug form): `host` is the
/// server name the certificate was checked for.
pub fn describe(e: &rustls::Error, host: &str) -> String {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => certificate(c, host),
        E::AlertReceived(a) => alert(*a),
        E::NoCertificatesPresented => "the server sent no certificate".to_string(),
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. } => {
            "the server did not answer in TLS (is it plain http?)".to_string()
        }
        E::PeerIncompatible(_) => {
            "the server supports no TLS version or cipher suite this client does".to_string()
        }
        E::PeerMisbehaved(_) => "the server broke the TLS protocol".to_string(),
        E::DecryptError => "a TLS record could not be decrypted".to_string(),
        E::NoApplicationProtocol => "the server speaks no HTTP/1.1 (ALPN)".to_string(),
        E::General(s) => s.clone(),
        E::InconsistentKeys(_) => "the certificate does not match the private key".to_string(),
        _ => "the TLS handshake failed".to_string(),
    }
}

fn certificate(c: &CertificateError, host: &str) -> String {
    use CertificateError as C;
    match c {
        C::UnknownIssuer => "certificate signed by an unknown authority".to_string(),
        C::Expired | C::ExpiredContext { .. } => "certificate has expired".to_string(),
        C::NotValidYet | C::NotValidYetContext { .. } => "certificate is not valid yet".to_string(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            format!("certificate is not valid for host {host:?}")
        }
        C::Revoked => "certificate has been revoked".to_string(),
        C::BadEncoding => "the server's certificate is malformed".to_string(),
        C::BadSignature => "certificate has a bad signature".to_string(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "certificate is not meant for a TLS server".to_string()
        }
        C::ApplicationVerificationFailure => "certificate was refused".to_string(),
        C::Other(o) => {
            // rustls passes webpki's error on as is; its name is all there is.
            let text = o.to_string();
            if text.contains("CaUsedAsEndEntity") {
                "self-signed certificate (CA used as end entity)".to_string()
            } else if text.contains("SelfSigned") {
                "self-signed certificate".to_string()
            } else {
                "certificate could not be verified".to_string()
            }
        }
        _ => "certificate could not be verified".to_string(),
    }
}

fn alert(a: AlertDescription) -> String {
    use AlertDescription as A;
    match a {
        A::CertificateRequired => "the server requires a client certificate".to_string(),
        A::BadCertificate => {
            "the server refused the client certificate (or its absence)".to_string()
        }
        A::UnknownCA => "the server does not trust the client certificate's authority".to_string(),
        A::CertificateExpired => "the server says the client certificate has expired".to_string(),
        A::HandshakeFailure => "the server refused the handshake".to_string(),
        A::ProtocolVersion => "the server supports no TLS version this client does".to_string(),
        A::UnrecognisedName => "the server does not know this host name (SNI)".to_string(),
        A::NoApplicationProtocol => "the server speaks no HTTP/1.1 (ALPN)".to_string(),
        other => format!(
            "the server sent a TLS alert ({})",
            words(&format!("{other:?}"))
        ),
    }
}

/// `CamelCase` as `camel case`.
fn words(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_words() {
        use rustls::Error as E;
        assert_eq!(
            describe(&E::InvalidCertificate(CertificateError::UnknownIssuer), "h"),
            "certificate signed by an unknown authority"
        );
        assert_eq!(
            describe(
                &E::InvalidCertificate(CertificateError::NotValidForName),
                "h.example"
            ),
            "certificate is not valid for host \"h.example\""
        );
        assert_eq!(
            describe(
                &E::AlertReceived(AlertDescription::CertificateRequired),
                "h"
            ),
            "the server requires a client certificate"
        );
        assert_eq!(
            describe(&E::AlertReceived(AlertDescription::DecodeError), "h"),
            "the server sent a TLS alert (decode error)"
        );
    }
}
