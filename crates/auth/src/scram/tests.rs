use super::*;

/// The exchange of RFC 7677, section 3.
#[test]
fn rfc7677_exchange() {
    let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    let verifier = Verifier::with_salt("pencil", &salt, 4096);
    let (exchange, server_first) = start_with_nonce(
        verifier,
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    )
    .unwrap();
    assert_eq!(
        server_first,
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    );
    let server_final = exchange
        .finish(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        .unwrap();
    assert_eq!(
        server_final,
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    );
}

#[test]
fn a_wrong_proof_is_refused() {
    let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    let verifier = Verifier::with_salt("not pencil", &salt, 4096);
    let (exchange, _) = start_with_nonce(
        verifier,
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    )
    .unwrap();
    assert_eq!(
        exchange.finish(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
        Err(ScramError::WrongProof)
    );
}

#[test]
fn verifiers_round_trip_through_postgresql_text() {
    let v = Verifier::new("s3cret");
    let text = v.to_string();
    assert!(text.starts_with("SCRAM-SHA-256$4096:"), "{text}");
    let parsed = Verifier::parse(&text).unwrap();
    assert_eq!(parsed, v);
    assert!(parsed.matches("s3cret"));
    assert!(!parsed.matches("s3cret "));
    assert_eq!(Verifier::parse("s3cret"), None);
    assert_eq!(Verifier::parse("SCRAM-SHA-256$0:AAAA$AAAA:AAAA"), None);
    assert!(!format!("{v:?}").contains("SCRAM"));
}

#[test]
fn malformed_client_messages_are_errors() {
    let v = Verifier::new("x");
    for bad in [
        &b""[..],
        b"n",
        b"p=tls-server-end-point,,n=,r=abc",
        b"q,,n=,r=abc",
        b"n,,m=ext,n=,r=abc",
        b"n,,n=,r=",
        b"n,,n=",
        b"\xff\xfe",
    ] {
        assert!(
            matches!(start(v.clone(), bad), Err(ScramError::Malformed(_))),
            "{bad:?}"
        );
    }
    let (exchange, _) = start(v.clone(), b"n,,n=,r=abc").unwrap();
    assert!(matches!(
        exchange.finish(b"c=biws,r=wrong,p=AAAA"),
        Err(ScramError::Malformed(_))
    ));
}

#[test]
fn decoys_have_stable_salts_and_match_nothing() {
    let a = Verifier::decoy("nobody", b"secret");
    let b = Verifier::decoy("nobody", b"secret");
    assert_eq!(a.salt, b.salt);
    assert_ne!(Verifier::decoy("other", b"secret").salt, a.salt);
    assert!(!a.matches(""));
}
