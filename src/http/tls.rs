//! TLS and mutual TLS for the served endpoints (`--tlsCert`, `--tlsKey`,
//! `--tlsClientCa`, `--tlsClientAuth`; issue 16, item 3).
//!
//! rustls with the ring provider (as the HTTP client), TLS 1.3 and 1.2,
//! ALPN `http/1.1`. With a client CA, client certificates are verified by
//! rustls' WebPKI verifier, and the verified certificate's subject names the
//! caller ([`peer_subject`]). The files are read once at start (a bad file
//! is a usage error naming it) and again on SIGHUP ([`Acceptor::reload`]):
//! new handshakes use the new configuration, open connections keep theirs,
//! and a reload that fails keeps the old one.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use futures_rustls::TlsAcceptor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use supergateway_proto::x509::subject_rfc4514;

/// `--tlsClientAuth`: whether a client certificate is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// A client without a certificate is served (as an anonymous caller);
    /// one with a certificate the CA did not issue is refused.
    Optional,
    /// A client without a valid certificate fails the handshake.
    Required,
}

/// The files of the TLS configuration, as given on the command line.
#[derive(Clone, Debug)]
pub(crate) struct TlsFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    /// With the client authentication mode: mutual TLS.
    pub(crate) client_ca: Option<(PathBuf, ClientAuth)>,
}

/// A TLS configuration read from its files.
#[derive(Clone)]
pub(crate) struct TlsConfig {
    pub(crate) files: TlsFiles,
    pub(crate) server: Arc<ServerConfig>,
}

/// Paths only: the configuration holds the private key.
impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// For the start-up log line: the files and what is asked of clients.
impl fmt::Display for TlsFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "certificate {}", self.cert.display())?;
        match &self.client_ca {
            None => f.write_str(", no client certificates"),
            Some((ca, ClientAuth::Required)) => {
                write!(f, ", client certificates required (CA {})", ca.display())
            }
            Some((ca, ClientAuth::Optional)) => {
                write!(f, ", client certificates optional (CA {})", ca.display())
            }
        }
    }
}

impl TlsFiles {
    /// Reads and checks the files: a one-line error naming the flag and
    /// the file when one cannot be read, holds nothing usable, or the key
    /// does not go with the certificate.
    pub(crate) fn load(&self) -> Result<TlsConfig, String> {
        let certs = certificates(&self.cert)
            .map_err(|why| format!("--tlsCert {}: {why}", self.cert.display()))?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|err| {
            format!(
                "--tlsKey {}: no usable private key (PEM PKCS#8, PKCS#1 or SEC1): {err}",
                self.key.display()
            )
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|err| format!("TLS setup: {err}"))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some((path, auth)) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(path)
                    .map_err(|why| format!("--tlsClientCa {}: {why}", path.display()))?
                {
                    roots.add(cert).map_err(|err| {
                        format!("--tlsClientCa {}: not a usable CA: {err}", path.display())
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = match auth {
                    ClientAuth::Required => verifier,
                    ClientAuth::Optional => verifier.allow_unauthenticated(),
                };
                let verifier = verifier
                    .build()
                    .map_err(|err| format!("--tlsClientCa {}: {err}", path.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut server = builder.with_single_cert(certs, key).map_err(|err| {
            format!(
                "--tlsKey {} does not go with --tlsCert {}: {err}",
                self.key.display(),
                self.cert.display()
            )
        })?;
        // We speak HTTP/1.1 only; saying so keeps an ALPN-aware client from
        // trying h2.
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig {
            files: self.clone(),
            server: Arc::new(server),
        })
    }
}

/// Every certificate of a PEM file (other sections are skipped); at least
/// one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_file_iter(path).map_err(|err| err.to_string())? {
        certs.push(cert.map_err(|err| err.to_string())?);
    }
    if certs.is_empty() {
        return Err("no PEM certificate in the file".to_owned());
    }
    Ok(certs)
}

/// The listener's TLS acceptor, replaced on reload.
pub(crate) struct Acceptor {
    files: TlsFiles,
    current: RefCell<TlsAcceptor>,
}

impl Acceptor {
    pub(crate) fn new(config: &TlsConfig) -> Rc<Self> {
        Rc::new(Self {
            files: config.files.clone(),
            current: RefCell::new(TlsAcceptor::from(Arc::clone(&config.server))),
        })
    }

    /// The acceptor for the next handshake.
    pub(crate) fn current(&self) -> TlsAcceptor {
        self.current.borrow().clone()
    }

    /// Re-reads the files (SIGHUP). On failure the old configuration stays,
    /// with one line saying why.
    pub(crate) fn reload(&self) {
        match self.files.load() {
            Ok(config) => {
                *self.current.borrow_mut() = TlsAcceptor::from(config.server);
                tracing::info!(
                    "TLS: reloaded {} and {}{}",
                    self.files.cert.display(),
                    self.files.key.display(),
                    self.files
                        .client_ca
                        .as_ref()
                        .map(|(ca, _)| format!(" and {}", ca.display()))
                        .unwrap_or_default()
                );
            }
            Err(why) => {
                tracing::warn!("TLS reload failed, keeping the previous certificate: {why}")
            }
        }
    }
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptor")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// The subject of the client's verified certificate, as an RFC 4514 string:
/// `Ok(None)` without one, `Err` when it cannot be read or is empty (the
/// connection is then refused: the caller would have no name, and every
/// certificate with an empty subject — SAN-only ones — would be one caller,
/// sharing sessions and rate buckets).
pub(crate) fn peer_subject(session: &ServerConnection) -> Result<Option<Rc<str>>, String> {
    let Some(cert) = session.peer_certificates().and_then(<[_]>::first) else {
        return Ok(None);
    };
    let subject = subject_rfc4514(cert.as_ref()).map_err(|err| err.to_string())?;
    if subject.is_empty() {
        return Err(
            "the subject is empty (callers are named by their certificate's subject)".to_owned(),
        );
    }
    Ok(Some(Rc::from(subject)))
}
