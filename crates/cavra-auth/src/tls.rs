//! The one outbound TLS client of CAVRA (docs/connectors.md, "TLS"): `ureq` over rustls
//! with AWS-LC as its crypto provider (the stack jsonwebtoken and the evidence signer
//! already link; no `ring`), trusting the system's root certificates (rustls-native-certs:
//! the distribution's bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set) plus, per use,
//! the certificates of a private CA bundle file. Used by the OIDC discovery / JWKS fetches
//! ([`crate::http`]) and the connectors of `cavra serve`.
//!
//! Every agent built here names its crypto provider: ureq is built with
//! `rustls-no-provider`, and an agent without one must never be asked for `https://` (the
//! hook's client refuses anything but `http://` and follows no redirect).

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// A CA bundle file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("CA file `{path}`: {detail}")]
pub struct CaFileError {
    pub path: String,
    pub detail: String,
}

/// The largest CA bundle file read (bytes).
pub const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// The root certificates an agent trusts: the system's, plus any private CA's.
#[derive(Debug, Clone)]
pub struct Roots {
    certs: Arc<Vec<Certificate<'static>>>,
    /// How many came from a CA file (the rest are the system's).
    extra: usize,
}

impl Roots {
    /// The system's root certificates, read once per process (an unreadable store is an
    /// empty one: every `https://` peer then fails its certificate check, never passes).
    pub fn system() -> Roots {
        static SYSTEM: OnceLock<Arc<Vec<Certificate<'static>>>> = OnceLock::new();
        let certs = SYSTEM.get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            Arc::new(
                found
                    .certs
                    .iter()
                    .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                    .collect(),
            )
        });
        Roots {
            certs: Arc::clone(certs),
            extra: 0,
        }
    }

    /// The system's roots and the certificates of the PEM bundle at `path` (at least one
    /// certificate; anything else in the file is ignored).
    pub fn with_ca_file(path: &Path) -> Result<Roots, CaFileError> {
        let extra = read_ca_file(path)?;
        let mut r = Roots::system();
        let mut all: Vec<Certificate<'static>> = r.certs.as_ref().clone();
        r.extra = extra.len();
        all.extend(extra);
        r.certs = Arc::new(all);
        Ok(r)
    }

    /// How many certificates are trusted, and how many of them came from a CA file.
    pub fn counts(&self) -> (usize, usize) {
        (self.certs.len(), self.extra)
    }

    /// A TLS configuration trusting these roots, over AWS-LC.
    pub fn tls_config(&self) -> TlsConfig {
        static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
        let provider =
            PROVIDER.get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
        TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::clone(provider))
            .root_certs(RootCerts::Specific(Arc::clone(&self.certs)))
            .build()
    }

    /// A blocking agent: `timeout` for the whole call, statuses as errors when
    /// `status_as_error`, at most `redirects` redirects, this TLS configuration.
    pub fn agent(&self, timeout: Duration, status_as_error: bool, redirects: u32) -> ureq::Agent {
        ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(status_as_error)
            .max_redirects(redirects)
            .user_agent(concat!("cavra/", env!("CARGO_PKG_VERSION")))
            .tls_config(self.tls_config())
            .build()
            .into()
    }
}

/// The certificates of the PEM bundle at `path`.
pub fn read_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>, CaFileError> {
    let fail = |detail: String| CaFileError {
        path: path.display().to_string(),
        detail,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    if meta.len() > MAX_CA_FILE {
        return Err(fail(format!(
            "larger than {MAX_CA_FILE} bytes: not a CA bundle"
        )));
    }
    let pem = std::fs::read(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(fail(format!("not a PEM bundle: {e}"))),
        }
    }
    if certs.is_empty() {
        return Err(fail("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// What went wrong with a call, for a log line or a delivery record: a timeout, a refused
/// connection, an unknown host, or the TLS failure (an untrusted or misnamed certificate,
/// a failed handshake) — never the URL (its path or query may be a secret).
pub fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Rustls(t) => format!("TLS: {}", tls_reason(t)),
        ureq::Error::Tls(t) => format!("TLS: {t}"),
        ureq::Error::Io(io) => match io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(t) => format!("TLS: {}", tls_reason(t)),
            None => format!("i/o: {}", io.kind()),
        },
        ureq::Error::StatusCode(c) => format!("HTTP {c}"),
        _ => "transport error".into(),
    }
}

/// A rustls error in words: the certificate problems by name.
fn tls_reason(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "certificate not trusted (unknown issuer)".into(),
            C::Expired | C::ExpiredContext { .. } => "certificate expired".into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "certificate not valid for this host".into()
            }
            C::BadSignature => "certificate signature invalid".into(),
            other => format!("invalid certificate ({other:?})")
                .chars()
                .take(200)
                .collect(),
        },
        other => other.to_string().chars().take(200).collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("none.pem");
        let e = read_ca_file(&missing).unwrap_err().to_string();
        assert!(e.contains("cannot read it"), "{e}");
        let empty = d.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let e = read_ca_file(&empty).unwrap_err().to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let big = d.path().join("big.pem");
        std::fs::write(&big, vec![b'a'; usize::try_from(MAX_CA_FILE).unwrap() + 1]).unwrap();
        let e = read_ca_file(&big).unwrap_err().to_string();
        assert!(e.contains("not a CA bundle"), "{e}");
    }

    #[test]
    fn an_untrusted_https_peer_is_a_tls_error_not_a_panic() {
        // a loopback listener that answers the ClientHello with garbage: a TLS failure,
        // reported as such, from an agent that names its provider (no panic for want of one)
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            }
        });
        let agent = Roots::system().agent(Duration::from_secs(5), true, 0);
        let e = agent
            .get(&format!("https://127.0.0.1:{port}/x"))
            .call()
            .unwrap_err();
        let said = describe(&e);
        assert!(
            said.starts_with("TLS") || said.starts_with("i/o"),
            "{said}: {e}"
        );
        assert!(!said.contains("/x"), "{said}");
        t.join().unwrap();
    }
}
