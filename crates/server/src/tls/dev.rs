//! `floe serve --dev-tls`: a local certificate authority and a server
//! certificate for trying TLS without a real one.
//!
//! Both are ECDSA P-256. The server certificate names `localhost`,
//! `127.0.0.1` and `::1`, is valid for 89 days (under the 90 days of
//! Mozilla's "modern" profile) and is made again when it has less than 7
//! days left (the CA with it, since the CA's key is not
//! kept). Files live in `<data-dir>/tls/`: `ca.pem` (give it to clients as
//! the root they trust), `server.pem` and `server.key` (mode 0600).

use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::TlsError;

/// Days from today a development server certificate stays valid; it
/// starts yesterday, so its whole life is one day more.
const VALID_DAYS: i64 = 88;
/// A certificate with fewer days left is made again.
const RENEW_DAYS: i64 = 7;

/// The development certificate files.
#[derive(Debug, Clone)]
pub struct DevCertificates {
    /// The CA certificate clients trust.
    pub ca: PathBuf,
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    /// SHA-256 fingerprint of the CA certificate, as colon-separated hex.
    pub ca_fingerprint: String,
    /// Whether they were made just now.
    pub created: bool,
}

/// Files in the directory.
const CA: &str = "ca.pem";
const CERT: &str = "server.pem";
const KEY: &str = "server.key";
const EXPIRES: &str = "server.expires";

fn io(path: &Path) -> impl Fn(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::File {
        what: "development file",
        path: path.to_path_buf(),
        reason: source.to_string(),
    }
}

fn generation(e: rcgen::Error) -> TlsError {
    TlsError::Config(format!("cannot make the development certificate: {e}"))
}

/// The development certificates in `dir`, made (or made again) when
/// missing or close to expiring.
pub fn ensure(dir: &Path) -> Result<DevCertificates, TlsError> {
    floe_common::fs::create_dir_all_durable(dir).map_err(io(dir))?;
    let paths = (dir.join(CA), dir.join(CERT), dir.join(KEY));
    let expires = std::fs::read_to_string(dir.join(EXPIRES))
        .ok()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok());
    let fresh = expires.is_some_and(|t| t > Utc::now() + Duration::days(RENEW_DAYS))
        && paths.0.exists()
        && paths.1.exists()
        && paths.2.exists();
    if !fresh {
        make(dir, &paths.0, &paths.1, &paths.2)?;
    }
    let ca_pem = std::fs::read(&paths.0).map_err(io(&paths.0))?;
    let ca = CertificateDer::from_pem_slice(&ca_pem).map_err(|e| TlsError::File {
        what: "CA certificate",
        path: paths.0.clone(),
        reason: e.to_string(),
    })?;
    let digest = ring::digest::digest(&ring::digest::SHA256, ca.as_ref());
    let ca_fingerprint = digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(DevCertificates {
        ca: paths.0,
        cert: paths.1,
        key: paths.2,
        ca_fingerprint,
        created: !fresh,
    })
}

fn make(dir: &Path, ca_path: &Path, cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
    let now = Utc::now();
    let until = now + Duration::days(VALID_DAYS);
    let day = |t: chrono::DateTime<Utc>| (t.year(), t.month() as u8, t.day() as u8);

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(generation)?;
    let mut ca = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "Floe development CA");
    name.push(DnType::OrganizationName, "Floe (local development only)");
    ca.distinguished_name = name;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let (y, m, d) = day(now - Duration::days(1));
    ca.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = day(until + Duration::days(1));
    ca.not_after = rcgen::date_time_ymd(y, m, d);
    let ca_cert = ca.self_signed(&ca_key).map_err(generation)?;
    let issuer = Issuer::new(ca, &ca_key);

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(generation)?;
    let mut server = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(generation)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "localhost");
    server.distinguished_name = name;
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    let (y, m, d) = day(now - Duration::days(1));
    server.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = day(until);
    server.not_after = rcgen::date_time_ymd(y, m, d);
    let cert = server.signed_by(&key, &issuer).map_err(generation)?;

    write(ca_path, ca_cert.pem().as_bytes(), 0o644)?;
    write(key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write(
        cert_path,
        format!("{}{}", cert.pem(), ca_cert.pem()).as_bytes(),
        0o644,
    )?;
    let (y, m, d) = day(until);
    let expires = format!("{y:04}-{m:02}-{d:02}T00:00:00Z\n");
    write(&dir.join(EXPIRES), expires.as_bytes(), 0o644)
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    floe_common::fs::write_atomic(path, bytes, mode).map_err(io(path))
}

#[cfg(test)]
mod tests;
