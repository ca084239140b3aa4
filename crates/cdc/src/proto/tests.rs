use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

#[test]
fn lsn_round_trips_in_postgres_form() {
    assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
    assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
    assert_eq!(parse_lsn("0/0"), Some(0));
    assert_eq!(parse_lsn("nonsense"), None);
}

#[test]
fn connection_strings_parse_and_never_show_the_password() {
    let c = PgConfig::parse("s", "postgres://app:s3cret@127.0.0.1:5433/shop").unwrap();
    assert_eq!(
        (c.host.as_str(), c.port, c.user.as_str()),
        ("127.0.0.1", 5433, "app")
    );
    assert_eq!(c.dbname, "shop");
    assert_eq!(c.password.as_deref(), Some("s3cret"));
    assert!(!c.redacted().contains("s3cret"));
    assert!(!format!("{c:?}").contains("s3cret"));
    let kv = PgConfig::parse("s", "host=/tmp port=5432 user=me dbname=db").unwrap();
    assert!(kv.unix);
    assert_eq!(kv.address(), "/tmp/.s.PGSQL.5432");
    let err = PgConfig::parse("s", "postgres://127.0.0.1/db").unwrap_err();
    assert!(err.to_string().contains("no user name"), "{err}");
}

#[test]
fn quoting() {
    assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    assert_eq!(quote_literal("it's"), "'it''s'");
}

/// One backend message: tag, length, body.
fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Splits and parses every whole message of `bytes`.
fn parse_all(bytes: &[u8]) -> Result<Vec<Backend>, String> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(f) = split_message(&mut buf)? {
        out.push(parse_message(f)?);
    }
    Ok(out)
}

fn one(bytes: &[u8]) -> Result<Backend, String> {
    let mut all = parse_all(bytes)?;
    assert_eq!(all.len(), 1, "{all:?}");
    Ok(all.pop().unwrap())
}

fn data_row_of(bytes: &[u8]) -> Result<Vec<Option<String>>, String> {
    match one(bytes)? {
        Backend::Message(backend::Message::DataRow(body)) => data_row(&body),
        other => panic!("not a DataRow: {other:?}"),
    }
}

/// A replication connection whose server sends `server_bytes`, then ends.
fn conn_over(server_bytes: Vec<u8>) -> (ReplConn, tokio::task::JoinHandle<()>) {
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    let task = tokio::spawn(async move {
        let _ = server.write_all(&server_bytes).await;
        // Then end the stream, reading what the client sends until it goes away.
        let _ = server.shutdown().await;
        let mut sink = [0u8; 1024];
        while matches!(server.read(&mut sink).await, Ok(n) if n > 0) {}
    });
    let conn = ReplConn {
        io: Box::pin(client),
        buf: BytesMut::new(),
        source: "s".into(),
    };
    (conn, task)
}

fn protocol_reason(e: CdcError) -> String {
    match e {
        CdcError::Protocol { reason, .. } => reason,
        other => panic!("not a protocol error: {other}"),
    }
}

#[test]
fn data_rows_parse_values_and_nulls() {
    let mut body = 2i16.to_be_bytes().to_vec();
    body.extend_from_slice(&2i32.to_be_bytes());
    body.extend_from_slice(b"ab");
    body.extend_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(
        data_row_of(&frame(b'D', &body)).unwrap(),
        vec![Some("ab".to_string()), None]
    );
}

#[test]
fn issue14_truncated_or_lying_data_rows_are_errors() {
    // Two values announced, one present.
    let mut body = 2i16.to_be_bytes().to_vec();
    body.extend_from_slice(&1i32.to_be_bytes());
    body.push(b'x');
    assert!(data_row_of(&frame(b'D', &body)).is_err());
    // A value longer than the message.
    let mut body = 1i16.to_be_bytes().to_vec();
    body.extend_from_slice(&i32::MAX.to_be_bytes());
    body.extend_from_slice(b"short");
    assert!(data_row_of(&frame(b'D', &body)).is_err());
    // A length cut in the middle.
    let mut body = 1i16.to_be_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    assert!(data_row_of(&frame(b'D', &body)).is_err());
    // No column count at all.
    assert!(one(&frame(b'D', &[0])).is_err());
    // Bytes after the last value.
    let mut body = 0i16.to_be_bytes().to_vec();
    body.push(7);
    assert!(data_row_of(&frame(b'D', &body)).is_err());
}

#[test]
fn issue14_bad_length_headers_are_errors_before_any_allocation() {
    let mut huge = vec![b'D'];
    huge.extend_from_slice(&i32::MAX.to_be_bytes());
    let mut buf = BytesMut::from(&huge[..]);
    let err = split_message(&mut buf).unwrap_err();
    assert!(err.contains("exceeds the limit"), "{err}");
    assert!(buf.capacity() < 1024);
    for len in [-1i32, i32::MIN, 0, 3] {
        let mut bad = vec![b'Z'];
        bad.extend_from_slice(&len.to_be_bytes());
        let err = split_message(&mut BytesMut::from(&bad[..])).unwrap_err();
        assert!(err.contains("invalid length"), "{err}");
    }
    // Just at the limit is fine: it waits for the bytes.
    let mut max = vec![b'd'];
    max.extend_from_slice(&(MAX_MESSAGE_LEN as i32).to_be_bytes());
    assert!(
        split_message(&mut BytesMut::from(&max[..]))
            .unwrap()
            .is_none()
    );
}

#[test]
fn issue14_truncated_authentication_requests_are_errors() {
    // No method code.
    assert!(one(&frame(b'R', &[])).is_err());
    assert!(one(&frame(b'R', &[0, 0])).is_err());
    // MD5 with half a salt.
    assert!(one(&frame(b'R', &[0, 0, 0, 5, 1, 2])).is_err());
    // An unknown method.
    assert!(one(&frame(b'R', &[0, 0, 0, 42])).is_err());
    // SASL mechanisms without their terminators parse, but do not iterate.
    let Backend::Message(backend::Message::AuthenticationSasl(body)) =
        one(&frame(b'R', b"\0\0\0\x0aSCRAM-SHA-256")).unwrap()
    else {
        panic!("not SASL")
    };
    assert!(body.mechanisms().count().is_err());
}

#[test]
fn issue14_malformed_error_responses_and_copy_both_are_errors() {
    let Backend::Message(backend::Message::ErrorResponse(body)) =
        one(&frame(b'E', b"CXX000\0Mno end")).unwrap()
    else {
        panic!("not an error")
    };
    assert!(error_fields(&body).is_err());
    // Invalid UTF-8 in a field is kept, not a panic.
    let Backend::Message(backend::Message::ErrorResponse(body)) =
        one(&frame(b'E', b"C28P01\0Mbad \xff byte\0\0")).unwrap()
    else {
        panic!("not an error")
    };
    let (code, message) = error_fields(&body).unwrap();
    assert_eq!(code, "28P01");
    assert!(message.starts_with("bad "));
    assert!(one(&frame(b'W', &[0])).is_err());
    assert!(one(&frame(b'W', &[0, 0, 2, 0, 0])).is_err());
    assert!(matches!(
        one(&frame(b'W', &[0, 0, 1, 0, 0])),
        Ok(Backend::CopyBoth)
    ));
    assert!(one(&frame(b'?', b"")).is_err());
}

#[test]
fn issue14_bad_replication_messages_are_errors() {
    assert!(stream_message(Bytes::new()).is_err());
    assert!(stream_message(Bytes::from_static(b"w\0\0\0")).is_err());
    assert!(stream_message(Bytes::from_static(b"k\0\0\0\0\0\0\0\0")).is_err());
    assert!(stream_message(Bytes::from_static(b"x")).is_err());
    let mut keepalive = vec![b'k'];
    keepalive.extend_from_slice(&7u64.to_be_bytes());
    keepalive.extend_from_slice(&0i64.to_be_bytes());
    keepalive.push(1);
    assert!(matches!(
        stream_message(Bytes::from(keepalive)),
        Ok(StreamMessage::Keepalive {
            wal_end: 7,
            reply: true
        })
    ));
}

#[tokio::test]
async fn issue14_a_truncated_data_row_fails_the_query_not_the_worker() {
    let mut body = 3i16.to_be_bytes().to_vec();
    body.extend_from_slice(&4i32.to_be_bytes());
    body.extend_from_slice(b"ab");
    let mut server = frame(b'D', &body);
    server.extend(frame(b'Z', b"I"));
    let (mut conn, task) = conn_over(server);
    let reason = protocol_reason(conn.simple_query("IDENTIFY_SYSTEM").await.unwrap_err());
    assert!(reason.contains("DataRow"), "{reason}");
    drop(conn);
    task.await.unwrap();
}

#[tokio::test]
async fn issue14_a_huge_length_header_is_refused_at_once() {
    let mut server = vec![b'D'];
    server.extend_from_slice(&0x7fff_fff0i32.to_be_bytes());
    let (mut conn, task) = conn_over(server);
    let reason = protocol_reason(conn.simple_query("SELECT 1").await.unwrap_err());
    assert!(reason.contains("exceeds the limit"), "{reason}");
    assert!(conn.buf.capacity() < 16 << 20);
    drop(conn);
    task.await.unwrap();
}

#[tokio::test]
async fn issue14_truncated_authentication_is_a_protocol_error() {
    let config = PgConfig::parse("s", "postgres://u:p@127.0.0.1/db").unwrap();
    for server in [
        frame(b'R', &[0, 0, 0, 5, 1]),
        frame(b'R', b"\0\0\0\x0aSCRAM-SHA-256"),
        frame(b'R', &[0, 0]),
        frame(b'R', b"\0\0\0\x0bnot a server-first message"),
        frame(b'E', b"C28P01\0Mtruncated"),
    ] {
        let (mut conn, task) = conn_over(server);
        let err = conn.authenticate(&config).await.unwrap_err();
        assert!(matches!(err, CdcError::Protocol { .. }), "{err}");
        drop(conn);
        task.await.unwrap();
    }
    // A well-formed refusal is the server's error.
    let (mut conn, task) = conn_over(frame(
        b'E',
        b"SFATAL\0C28P01\0Mpassword authentication failed\0\0",
    ));
    let err = conn.authenticate(&config).await.unwrap_err();
    assert!(
        matches!(&err, CdcError::Server { sqlstate, .. } if sqlstate == "28P01"),
        "{err}"
    );
    drop(conn);
    task.await.unwrap();
}

#[tokio::test]
async fn issue14_the_stream_reports_bad_messages_as_protocol_errors() {
    let mut server = frame(b'W', &[0, 0, 0]);
    server.extend(frame(b'd', b"w\0\0"));
    let (mut conn, task) = conn_over(server);
    conn.start_replication("slot", 0, "pub").await.unwrap();
    let reason = protocol_reason(conn.next_message().await.unwrap_err());
    assert!(reason.contains("XLogData"), "{reason}");
    drop(conn);
    task.await.unwrap();
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    /// Bytes that look like backend messages: known tags, honest lengths,
    /// random bodies; sometimes cut short or with a random length.
    fn messages() -> impl Strategy<Value = Vec<u8>> {
        let one = (
            prop::sample::select(b"RDEZWdcCSKNTnsItv?\0".to_vec()),
            prop::collection::vec(any::<u8>(), 0..48),
            prop::option::weighted(0.1, any::<i32>()),
        )
            .prop_map(|(tag, body, len)| {
                let mut out = vec![tag];
                let len = len.unwrap_or(body.len() as i32 + 4);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&body);
                out
            });
        (
            prop::collection::vec(one, 1..6),
            any::<prop::sample::Index>(),
        )
            .prop_map(|(messages, cut)| {
                let mut all = messages.concat();
                if all.len() > 8 && cut.index(4) == 0 {
                    all.truncate(cut.index(all.len()));
                }
                all
            })
    }

    /// Everything Floe reads out of a parsed message.
    fn inspect(message: Backend) {
        use backend::Message as M;
        match message {
            Backend::Message(M::DataRow(body)) => {
                let _ = data_row(&body);
            }
            Backend::Message(M::ErrorResponse(body)) => {
                let _ = error_fields(&body);
            }
            Backend::Message(M::AuthenticationSasl(body)) => {
                let _ = body.mechanisms().count();
            }
            Backend::Message(M::AuthenticationMd5Password(body)) => {
                let _ = body.salt();
            }
            Backend::Message(M::CopyData(body)) => {
                if let Ok(StreamMessage::XLogData { data, .. }) = stream_message(body.into_bytes())
                {
                    let _ = crate::pgoutput::decode(data);
                }
            }
            _ => {}
        }
    }

    proptest! {
        #[test]
        fn issue14_random_bytes_never_panic_the_message_parser(
            bytes in prop::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(f)) = split_message(&mut buf) {
                if let Ok(m) = parse_message(f) {
                    inspect(m);
                }
            }
        }

        #[test]
        fn issue14_random_messages_never_panic_the_message_parser(bytes in messages()) {
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(f)) = split_message(&mut buf) {
                if let Ok(m) = parse_message(f) {
                    inspect(m);
                }
            }
        }

        #[test]
        fn issue14_random_stream_payloads_never_panic(
            kind in prop::sample::select(b"wkx".to_vec()),
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut payload = vec![kind];
            payload.extend_from_slice(&body);
            let _ = stream_message(Bytes::from(payload));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A whole login and query against a server that answers garbage.
        #[test]
        fn issue14_a_garbage_server_never_panics_the_connection(bytes in messages()) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let config = PgConfig::parse("s", "postgres://u:p@127.0.0.1/db").unwrap();
                let (mut conn, task) = conn_over(bytes);
                if conn.authenticate(&config).await.is_ok() {
                    let _ = conn.simple_query("IDENTIFY_SYSTEM").await;
                }
                drop(conn);
                task.await.unwrap();
            });
        }
    }
}
