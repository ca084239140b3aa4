use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::error::CdcError;
use crate::proto::{PgConfig, ReplConn};

#[test]
fn ssl_options_come_out_of_urls_and_key_value_strings() {
    let (rest, mode, root) = take_ssl_options(
        "postgres://u:p@db:5432/shop?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem",
    );
    assert_eq!(rest, "postgres://u:p@db:5432/shop?application_name=x");
    assert_eq!(mode.as_deref(), Some("verify-full"));
    assert_eq!(root.as_deref(), Some("/tmp/ca.pem"));
    let (rest, mode, root) = take_ssl_options("postgresql://u@db/shop?sslmode=require");
    assert_eq!(
        (rest.as_str(), mode.as_deref(), root),
        ("postgresql://u@db/shop", Some("require"), None)
    );
    let (rest, mode, root) = take_ssl_options(
        r"host=db user=u sslmode = verify-ca password='it\'s' sslrootcert='/a dir/ca.pem' dbname=shop",
    );
    assert_eq!(rest, r"host=db user=u password='it\'s' dbname=shop");
    assert_eq!(mode.as_deref(), Some("verify-ca"));
    assert_eq!(root.as_deref(), Some("/a dir/ca.pem"));
    let (rest, mode, _) = take_ssl_options("host=db user=u");
    assert_eq!((rest.as_str(), mode), ("host=db user=u", None));
}

#[test]
fn sslmode_parses_as_libpq_and_verifying_needs_a_root_certificate() {
    let c = PgConfig::parse("s", "postgres://u:pw@db/shop").unwrap();
    assert_eq!(c.ssl_mode, SslMode::Prefer);
    assert!(!c.redacted().contains("sslmode"));
    let c = PgConfig::parse(
        "s",
        "postgres://u:pw@db/shop?sslmode=verify-full&sslrootcert=/etc/ca.pem",
    )
    .unwrap();
    assert_eq!(c.ssl_mode, SslMode::VerifyFull);
    assert_eq!(c.ssl_root_cert.as_deref(), Some("/etc/ca.pem"));
    assert!(
        c.redacted()
            .ends_with("/shop?sslmode=verify-full&sslrootcert=/etc/ca.pem"),
        "{}",
        c.redacted()
    );
    assert!(!c.redacted().contains("pw"));
    let kv = PgConfig::parse("s", "host=db user=u sslmode=disable password='a b'").unwrap();
    assert_eq!(kv.ssl_mode, SslMode::Disable);
    assert_eq!(kv.password.as_deref(), Some("a b"));
    let err = PgConfig::parse("s", "postgres://u@db/shop?sslmode=verify-ca").unwrap_err();
    assert!(err.to_string().contains("needs sslrootcert"), "{err}");
    let err = PgConfig::parse("s", "postgres://u@db/shop?sslmode=allowed").unwrap_err();
    assert!(err.to_string().contains("invalid sslmode"), "{err}");
}

/// A CA and a server certificate it signed for `names`.
struct Pki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    static CAS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Each CA its own name: a chain is looked up by issuer name.
    let n = CAS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, format!("test CA {n}"));
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, &ca_key);
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// How the fake server was spoken to.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Tls,
    Plain,
}

/// A one-connection server: answers an SSLRequest with `S` (TLS with
/// `pki`) or `N`, then accepts any login (AuthenticationOk, ReadyForQuery).
async fn server(pki: Option<Pki>) -> (u16, tokio::task::JoinHandle<Option<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = pki.map(|p| {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![p.cert], p.key)
        .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    let task = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.ok()?;
        let mut head = [0u8; 8];
        tcp.read_exact(&mut head).await.ok()?;
        let ssl_request = head == [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
        if !ssl_request {
            login(&mut tcp, Some(head)).await?;
            return Some(Seen::Plain);
        }
        match acceptor {
            Some(acceptor) => {
                tcp.write_all(b"S").await.ok()?;
                let mut tls = acceptor.accept(tcp).await.ok()?;
                login(&mut tls, None).await?;
                Some(Seen::Tls)
            }
            None => {
                tcp.write_all(b"N").await.ok()?;
                login(&mut tcp, None).await?;
                Some(Seen::Plain)
            }
        }
    });
    (port, task)
}

/// Reads a startup message (whose first 8 bytes may be read already),
/// accepts it, and holds the connection until the client leaves.
async fn login<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    io: &mut S,
    head: Option<[u8; 8]>,
) -> Option<()> {
    let head = match head {
        Some(h) => h,
        None => {
            let mut h = [0u8; 8];
            io.read_exact(&mut h).await.ok()?;
            h
        }
    };
    let len = i32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let mut rest = vec![0u8; len.checked_sub(8)?];
    io.read_exact(&mut rest).await.ok()?;
    let mut out = BytesMut::new();
    out.put_u8(b'R');
    out.put_i32(8);
    out.put_i32(0);
    out.put_u8(b'Z');
    out.put_i32(5);
    out.put_u8(b'I');
    io.write_all(&out).await.ok()?;
    io.flush().await.ok()?;
    let mut sink = [0u8; 64];
    while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
    Some(())
}

/// Connects for replication with `options` (and `sslrootcert` holding
/// `root`) to a server with `server_pki`; what the server saw.
async fn try_connect(
    server_pki: Option<Pki>,
    host: &str,
    options: &str,
    root: Option<&str>,
) -> (Result<(), CdcError>, Option<Seen>) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options.to_string();
    if let Some(pem) = root {
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, pem).unwrap();
        options.push_str(&format!("&sslrootcert={}", path.display()));
    }
    let (port, task) = server(server_pki).await;
    let url = format!("postgres://u:p@{host}:{port}/db?{options}");
    let config = PgConfig::parse("s", &url).unwrap();
    let result = ReplConn::connect(&config, "s").await.map(drop);
    (result, task.await.unwrap())
}

fn reason(result: Result<(), CdcError>) -> String {
    match result {
        Err(CdcError::Connect { reason, .. }) => reason,
        Err(other) => panic!("not a connection failure: {other}"),
        Ok(()) => panic!("connected"),
    }
}

#[tokio::test]
async fn issue14_verify_full_checks_the_chain_and_the_host_name() {
    let p = pki(&["localhost"]);
    let ca = p.ca_pem.clone();
    let (result, seen) = try_connect(Some(p), "localhost", "sslmode=verify-full", Some(&ca)).await;
    result.unwrap();
    assert_eq!(seen, Some(Seen::Tls));

    // Another CA: the chain does not verify.
    let other = pki(&["localhost"]).ca_pem;
    let p = pki(&["localhost"]);
    let (result, _) = try_connect(Some(p), "localhost", "sslmode=verify-full", Some(&other)).await;
    let why = reason(result);
    assert!(
        why.contains("certificate") && why.contains("UnknownIssuer"),
        "{why}"
    );

    // The right CA, another name: verify-full refuses, verify-ca accepts.
    let p = pki(&["db.example.com"]);
    let ca = p.ca_pem.clone();
    let (result, _) = try_connect(Some(p), "localhost", "sslmode=verify-full", Some(&ca)).await;
    let why = reason(result);
    assert!(
        why.contains("certificate not valid for name \"localhost\""),
        "{why}"
    );
    let p = pki(&["db.example.com"]);
    let ca = p.ca_pem.clone();
    let (result, seen) = try_connect(Some(p), "localhost", "sslmode=verify-ca", Some(&ca)).await;
    result.unwrap();
    assert_eq!(seen, Some(Seen::Tls));
    // ... but not a chain from another CA.
    let p = pki(&["db.example.com"]);
    let (result, _) = try_connect(Some(p), "localhost", "sslmode=verify-ca", Some(&other)).await;
    let why = reason(result);
    assert!(why.contains("UnknownIssuer"), "{why}");

    // An IP address is checked against the certificate's IP names.
    let p = pki(&["127.0.0.1"]);
    let ca = p.ca_pem.clone();
    let (result, _) = try_connect(Some(p), "127.0.0.1", "sslmode=verify-full", Some(&ca)).await;
    result.unwrap();
}

#[tokio::test]
async fn issue14_require_encrypts_without_verifying_and_prefer_falls_back() {
    // require: any certificate, but TLS it must be.
    let p = pki(&["elsewhere"]);
    let (result, seen) = try_connect(Some(p), "localhost", "sslmode=require", None).await;
    result.unwrap();
    assert_eq!(seen, Some(Seen::Tls));
    let (result, _) = try_connect(None, "localhost", "sslmode=require", None).await;
    let why = reason(result);
    assert!(
        why.contains("does not support SSL but sslmode=require"),
        "{why}"
    );
    // require with sslrootcert verifies the chain, as in libpq.
    let other = pki(&["x"]).ca_pem;
    let p = pki(&["localhost"]);
    let (result, _) = try_connect(Some(p), "localhost", "sslmode=require", Some(&other)).await;
    let why = reason(result);
    assert!(why.contains("UnknownIssuer"), "{why}");

    // prefer (the default): TLS when offered, else plain.
    let p = pki(&["elsewhere"]);
    let (result, seen) = try_connect(Some(p), "localhost", "application_name=x", None).await;
    result.unwrap();
    assert_eq!(seen, Some(Seen::Tls));
    let (result, seen) = try_connect(None, "localhost", "sslmode=prefer", None).await;
    result.unwrap();
    assert_eq!(seen, Some(Seen::Plain));
    // disable: no SSL request at all.
    let p = pki(&["localhost"]);
    let (result, seen) = try_connect(Some(p), "localhost", "sslmode=disable", None).await;
    result.unwrap();
    assert_eq!(seen, Some(Seen::Plain));
    // verify-full against a server without TLS.
    let ca = pki(&["x"]).ca_pem;
    let (result, _) = try_connect(None, "localhost", "sslmode=verify-full", Some(&ca)).await;
    assert!(reason(result).contains("does not support SSL but sslmode=verify-full"));
}

#[test]
fn a_root_certificate_file_must_hold_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.pem");
    std::fs::write(&path, "not a certificate\n").unwrap();
    let err = client_config(SslMode::VerifyFull, path.to_str()).unwrap_err();
    assert!(err.contains("holds no certificate"), "{err}");
    let err = client_config(SslMode::VerifyFull, Some("/nonexistent/ca.pem")).unwrap_err();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}
