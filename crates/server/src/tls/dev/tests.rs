use super::*;

#[test]
fn dev_certificates_are_made_once_and_load_as_a_server_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let first = ensure(dir.path()).unwrap();
    assert!(first.created);
    assert_eq!(first.ca_fingerprint.split(':').count(), 32);
    let again = ensure(dir.path()).unwrap();
    assert!(!again.created);
    assert_eq!(again.ca_fingerprint, first.ca_fingerprint);
    crate::tls::Tls::load(&first.cert, &first.key, crate::tls::TlsPolicy::Tls13).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&first.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // An expiring certificate is made again.
    std::fs::write(dir.path().join(EXPIRES), "2000-01-01T00:00:00Z\n").unwrap();
    let renewed = ensure(dir.path()).unwrap();
    assert!(renewed.created);
    assert_ne!(renewed.ca_fingerprint, first.ca_fingerprint);
}
