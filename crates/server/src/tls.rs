//! TLS for both endpoints: named policies, the server certificate and its
//! reload.
//!
//! A policy names the protocol versions and cipher suites offered:
//! - `tls13`: TLS 1.3 only;
//! - `tls12-pfs` (the default): TLS 1.3, and TLS 1.2 with ECDHE key
//!   exchange and AEAD suites (AES-GCM, ChaCha20-Poly1305) only.
//!
//! Neither offers TLS 1.0 or 1.1, RSA key exchange, CBC suites,
//! renegotiation or compression (rustls has none of them), and 0-RTT early
//! data is off. The certificate is read again on [`Tls::reload`]; a new
//! handshake gets the new one, open connections keep theirs, and a broken
//! new certificate leaves the old one in place.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, version};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A named set of TLS versions and cipher suites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    /// TLS 1.3 only.
    Tls13,
    /// TLS 1.3, and TLS 1.2 with forward-secret (ECDHE) AEAD suites.
    Tls12Pfs,
}

impl TlsPolicy {
    /// Every policy, by name.
    pub const ALL: [(&'static str, TlsPolicy); 2] = [
        ("tls13", TlsPolicy::Tls13),
        ("tls12-pfs", TlsPolicy::Tls12Pfs),
    ];

    /// The policy's name.
    pub fn name(self) -> &'static str {
        match self {
            TlsPolicy::Tls13 => "tls13",
            TlsPolicy::Tls12Pfs => "tls12-pfs",
        }
    }

    /// The crypto provider restricted to the policy's suites.
    fn provider(self) -> CryptoProvider {
        let mut provider = ring::default_provider();
        provider.cipher_suites.retain(|suite| match suite {
            rustls::SupportedCipherSuite::Tls13(_) => true,
            // rustls's TLS 1.2 suites are all ECDHE with AEAD; the list is
            // named here anyway, so a new suite is not offered unreviewed.
            rustls::SupportedCipherSuite::Tls12(_) => {
                self == TlsPolicy::Tls12Pfs && TLS12_SUITES.contains(&suite.suite())
            }
        });
        provider
    }

    fn versions(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        static TLS13_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&version::TLS13];
        static TLS13_AND_12: [&rustls::SupportedProtocolVersion; 2] =
            [&version::TLS13, &version::TLS12];
        match self {
            TlsPolicy::Tls13 => &TLS13_ONLY,
            TlsPolicy::Tls12Pfs => &TLS13_AND_12,
        }
    }
}

/// The TLS 1.2 suites `tls12-pfs` offers: ECDHE key exchange, AEAD ciphers.
const TLS12_SUITES: [rustls::CipherSuite; 6] = [
    rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

impl std::str::FromStr for TlsPolicy {
    type Err = String;

    fn from_str(name: &str) -> Result<TlsPolicy, String> {
        TlsPolicy::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                let names: Vec<&str> = TlsPolicy::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown TLS policy \"{name}\"; the policies are {}",
                    names.join(", ")
                )
            })
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or parsed.
    #[error("TLS {what} {path}: {reason}")]
    File {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// The key does not belong to the certificate, or the configuration
    /// was refused.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The server certificate, swapped in place on reload.
#[derive(Debug)]
struct Certificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// TLS for the PG wire and HTTP endpoints, under one policy and one
/// certificate.
#[derive(Debug, Clone)]
pub struct Tls {
    cert_path: PathBuf,
    key_path: PathBuf,
    policy: TlsPolicy,
    required: bool,
    certificate: Arc<Certificate>,
    pg: Arc<ServerConfig>,
    http: Arc<ServerConfig>,
}

impl Tls {
    /// Reads the certificate chain and key (PEM) and builds the
    /// configurations of both endpoints.
    pub fn load(cert_path: &Path, key_path: &Path, policy: TlsPolicy) -> Result<Tls, TlsError> {
        let key = read_certified_key(cert_path, key_path, policy)?;
        let certificate = Arc::new(Certificate {
            current: RwLock::new(Arc::new(key)),
        });
        let config = |alpn: &[u8]| -> Result<Arc<ServerConfig>, TlsError> {
            let mut config = ServerConfig::builder_with_provider(Arc::new(policy.provider()))
                .with_protocol_versions(policy.versions())
                .map_err(|e| TlsError::Config(e.to_string()))?
                .with_no_client_auth()
                .with_cert_resolver(certificate.clone());
            config.max_early_data_size = 0;
            config.alpn_protocols = vec![alpn.to_vec()];
            Ok(Arc::new(config))
        };
        Ok(Tls {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            policy,
            required: false,
            // PostgreSQL 17's direct TLS requires this ALPN name.
            pg: config(b"postgresql")?,
            http: config(b"http/1.1")?,
            certificate,
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> TlsPolicy {
        self.policy
    }

    /// Refuse PG wire clients that do not negotiate TLS (HTTP is HTTPS
    /// only in any case).
    pub fn require(mut self, required: bool) -> Tls {
        self.required = required;
        self
    }

    /// Whether plaintext PG wire clients are refused.
    pub fn required(&self) -> bool {
        self.required
    }

    /// Reads the certificate and key files again. New handshakes use them
    /// from now on; on error the old ones stay in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = read_certified_key(&self.cert_path, &self.key_path, self.policy)?;
        *self
            .certificate
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        Ok(())
    }

    /// The newest modification time of the certificate and key files.
    fn modified(&self) -> Option<SystemTime> {
        [&self.cert_path, &self.key_path]
            .iter()
            .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .max()
    }

    /// Reloads on SIGHUP and whenever the files change, until the
    /// process ends; failures are logged and the old certificate kept.
    pub fn watch(&self) {
        let tls = self.clone();
        tokio::spawn(async move {
            let mut seen = tls.modified();
            let mut hangup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            loop {
                let signalled = async {
                    match hangup.as_mut() {
                        Some(h) => {
                            h.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                let why = tokio::select! {
                    _ = signalled => "SIGHUP",
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {
                        let now = tls.modified();
                        if now == seen {
                            continue;
                        }
                        seen = now;
                        "the files changed"
                    }
                };
                match tls.reload() {
                    Ok(()) => tracing::info!(cert = %tls.cert_path.display(), reason = why,
                        "reloaded the TLS certificate"),
                    Err(e) => tracing::error!(error = %e, reason = why,
                        "the new TLS certificate was not loaded; the previous one stays in use"),
                }
            }
        });
    }

    /// The acceptor of PG wire connections (after an SSLRequest).
    pub fn pg_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.pg.clone())
    }

    /// The acceptor of HTTPS connections.
    pub fn http_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.http.clone())
    }
}

fn read_certified_key(
    cert_path: &Path,
    key_path: &Path,
    policy: TlsPolicy,
) -> Result<CertifiedKey, TlsError> {
    let file = |what, path: &Path, reason: String| TlsError::File {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| file("certificate", cert_path, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file("certificate", cert_path, e.to_string()))?;
    if chain.is_empty() {
        return Err(file(
            "certificate",
            cert_path,
            "no PEM certificate in the file".into(),
        ));
    }
    let key =
        PrivateKeyDer::from_pem_file(key_path).map_err(|e| file("key", key_path, e.to_string()))?;
    CertifiedKey::from_der(chain, key, &policy.provider()).map_err(|e| {
        TlsError::Config(format!(
            "the key {} does not fit the certificate {}: {e}",
            key_path.display(),
            cert_path.display()
        ))
    })
}

/// Accepts TCP connections and completes their TLS handshakes in tasks of
/// their own, so a slow or silent client never holds up the others; a
/// handshake that takes longer than 10 s is dropped.
pub struct TlsListener {
    incoming: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

/// How long a client has to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsListener {
    /// Starts accepting on `listener`.
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, incoming) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (socket, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting an HTTPS connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let _ = socket.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { incoming, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            // The accepting task only ends with the runtime.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

pub mod dev;

#[cfg(test)]
mod tests;
