use super::*;

#[test]
fn policies_are_found_by_name_and_unknown_names_list_them() {
    assert_eq!("tls13".parse::<TlsPolicy>(), Ok(TlsPolicy::Tls13));
    assert_eq!(" TLS12-PFS ".parse::<TlsPolicy>(), Ok(TlsPolicy::Tls12Pfs));
    let err = "tls10".parse::<TlsPolicy>().unwrap_err();
    assert!(err.contains("tls13, tls12-pfs"), "{err}");
}

#[test]
fn policies_offer_only_their_suites() {
    let suites = |p: TlsPolicy| -> Vec<rustls::CipherSuite> {
        p.provider()
            .cipher_suites
            .iter()
            .map(|s| s.suite())
            .collect()
    };
    let tls13 = suites(TlsPolicy::Tls13);
    assert!(!tls13.is_empty());
    assert!(
        TlsPolicy::Tls13
            .provider()
            .cipher_suites
            .iter()
            .all(|s| matches!(s, rustls::SupportedCipherSuite::Tls13(_)))
    );
    let pfs = suites(TlsPolicy::Tls12Pfs);
    for suite in &pfs {
        let name = format!("{suite:?}");
        assert!(
            name.starts_with("TLS13_") || name.starts_with("TLS_ECDHE_"),
            "{name}"
        );
        assert!(!name.contains("CBC") && !name.contains("_SHA,"), "{name}");
    }
    assert_eq!(pfs.len(), tls13.len() + TLS12_SUITES.len());
    assert_eq!(TlsPolicy::Tls13.versions().len(), 1);
}

#[test]
fn a_missing_or_empty_certificate_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let err = Tls::load(&cert, &key, TlsPolicy::Tls12Pfs).unwrap_err();
    assert!(err.to_string().contains("cert.pem"), "{err}");
    std::fs::write(&cert, "not a certificate\n").unwrap();
    let err = Tls::load(&cert, &key, TlsPolicy::Tls12Pfs).unwrap_err();
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
}
