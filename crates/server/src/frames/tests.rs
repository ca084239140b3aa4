use bytes::{Bytes, BytesMut};
use datafusion_postgres::pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use datafusion_postgres::pgwire::messages::extendedquery::{
    Bind, Close, Describe, Execute, Flush, Parse, Sync,
};
use datafusion_postgres::pgwire::messages::simplequery::Query;
use datafusion_postgres::pgwire::messages::startup::{
    PasswordMessageFamily, SASLInitialResponse, SASLResponse, Startup,
};
use datafusion_postgres::pgwire::messages::terminate::Terminate;
use datafusion_postgres::pgwire::messages::{
    DecodeContext, PgWireFrontendMessage, ProtocolVersion,
};
use proptest::prelude::*;

use super::*;

/// Feeds `bytes` in chunks of the given sizes (cycled) as a reader
/// does, offering again what was not taken together with the next chunk;
/// returns what passed and the error that stopped it. `pending` holds
/// what was not taken, before and after.
fn run_on(
    checker: &mut Checker,
    pending: &mut Vec<u8>,
    bytes: &[u8],
    chunks: &[usize],
) -> (Vec<u8>, Option<FrameError>) {
    let mut passed = Vec::new();
    let mut at = 0;
    let mut sizes = chunks.iter().copied().cycle();
    loop {
        let (n, refused) = checker.feed(pending);
        passed.extend(pending.drain(..n));
        if refused.is_some() || checker.closed() {
            return (passed, refused);
        }
        if n > 0 {
            continue;
        }
        if at == bytes.len() {
            return (passed, None);
        }
        let end = (at + sizes.next().unwrap_or(usize::MAX).max(1)).min(bytes.len());
        pending.extend_from_slice(&bytes[at..end]);
        at = end;
    }
}

fn run(checker: &mut Checker, bytes: &[u8], chunks: &[usize]) -> (Vec<u8>, Option<FrameError>) {
    run_on(checker, &mut Vec::new(), bytes, chunks)
}

fn startup(parameters: &[(&str, &str)]) -> Vec<u8> {
    let mut startup = Startup::new();
    for (k, v) in parameters {
        startup.parameters.insert(k.to_string(), v.to_string());
    }
    encode(PgWireFrontendMessage::Startup(startup))
}

fn encode(message: PgWireFrontendMessage) -> Vec<u8> {
    let mut buf = BytesMut::new();
    message.encode(&mut buf).unwrap();
    buf.to_vec()
}

fn typed(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn logged_in_checker() -> Checker {
    let mut c = Checker::new();
    let (passed, refused) = run(&mut c, &startup(&[("user", "floe")]), &[usize::MAX]);
    assert!(refused.is_none());
    assert!(!passed.is_empty());
    c.logged_in();
    c
}

#[test]
fn a_startup_packet_and_a_login_pass_one_frame_at_a_time() {
    let mut c = Checker::new();
    let mut stream = startup(&[("user", "floe"), ("database", "floe")]);
    let first = stream.len();
    stream.extend(typed(b'p', b"SCRAM-SHA-256\0\xff\xff\xff\xff"));
    // Before the login, a read stops at the end of the frame.
    assert_eq!(c.feed(&stream), (first, None));
    assert_eq!(c.feed(&stream[first..]), (stream.len() - first, None));
}

#[test]
fn issue14_lengths_below_four_or_over_the_limit_are_refused() {
    for length in [0u32, 3, 0x7fff_ffff, 0xffff_ffff, 1 << 30] {
        let mut c = Checker::new();
        let mut packet = length.to_be_bytes().to_vec();
        packet.extend_from_slice(&0x0003_0000u32.to_be_bytes());
        assert_eq!(
            c.feed(&packet),
            (0, Some(FrameError::StartupLength { length }))
        );
    }
    for length in [0u32, 3, MAX_STARTUP + 1, 1 << 30] {
        let mut c = Checker::new();
        run(&mut c, &startup(&[("user", "floe")]), &[usize::MAX]);
        let mut m = vec![b'p'];
        m.extend_from_slice(&length.to_be_bytes());
        let (_, refused) = c.feed(&m);
        assert!(
            matches!(refused, Some(FrameError::Length { kind: b'p', .. })),
            "{length}: {refused:?}"
        );
    }
}

#[test]
fn issue14_only_password_messages_and_terminate_come_before_the_login() {
    for kind in [b'Q', b'P', b'B', b'd', b'S', b'E'] {
        let mut c = Checker::new();
        run(&mut c, &startup(&[("user", "floe")]), &[usize::MAX]);
        // Refused at the type byte: a 1 GiB query is never read.
        let mut m = vec![kind];
        m.extend_from_slice(&MAX_LARGE.to_be_bytes());
        assert_eq!(c.feed(&m), (0, Some(FrameError::BeforeLogin { kind })));
    }
    let mut c = Checker::new();
    run(&mut c, &startup(&[("user", "floe")]), &[usize::MAX]);
    assert_eq!(c.feed(&typed(b'X', b"")), (5, None));
}

#[test]
fn issue14_startup_parameters_must_end_with_the_packet() {
    let cases: [&[u8]; 5] = [
        b"user\0floe\0",               // no terminator
        b"user\0floe",                 // a value without its NUL
        b"user\0floe\0\0extra",        // bytes after the terminator
        b"",                           // no parameters at all
        b"user\0floe\0\0\0\0\0\0\0\0", // more after the end
    ];
    for params in cases {
        let mut packet = ((params.len() + 8) as u32).to_be_bytes().to_vec();
        packet.extend_from_slice(&0x0003_0000u32.to_be_bytes());
        packet.extend_from_slice(params);
        let (_, refused) = run(&mut Checker::new(), &packet, &[usize::MAX]);
        assert!(
            matches!(refused, Some(FrameError::StartupLayout { .. })),
            "{params:?}: {refused:?}"
        );
    }
    // Empty values and names without `user` are well formed (login
    // refuses the latter).
    let params = b"a\0\0b\0\0\0";
    let mut packet = ((params.len() + 8) as u32).to_be_bytes().to_vec();
    packet.extend_from_slice(&0x0003_0000u32.to_be_bytes());
    packet.extend_from_slice(params);
    assert_eq!(
        run(&mut Checker::new(), &packet, &[1]),
        (packet.clone(), None)
    );
}

#[test]
fn issue14_other_protocols_and_repeated_encryption_requests_are_refused() {
    for (code, major, minor) in [
        (80_877_103u32, 1234, 5679),
        (80_877_104, 1234, 5680),
        (0x0002_0000, 2, 0),
        (0x0004_0000, 4, 0),
    ] {
        let mut packet = 8u32.to_be_bytes().to_vec();
        packet.extend_from_slice(&code.to_be_bytes());
        let (_, refused) = Checker::new().feed(&packet);
        assert_eq!(
            refused,
            Some(FrameError::UnsupportedProtocol { major, minor })
        );
    }
}

#[test]
fn issue14_a_cancel_request_is_the_last_frame() {
    let mut packet = 16u32.to_be_bytes().to_vec();
    packet.extend_from_slice(&CANCEL_REQUEST.to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
    let mut stream = packet.clone();
    stream.extend(startup(&[("user", "floe")]));
    let mut c = Checker::new();
    assert_eq!(c.feed(&stream), (16, None));
    assert_eq!(c.feed(&stream[16..]), (0, None));
    let mut short = 12u32.to_be_bytes().to_vec();
    short.extend_from_slice(&CANCEL_REQUEST.to_be_bytes());
    assert_eq!(
        Checker::new().feed(&short).1,
        Some(FrameError::CancelLength { length: 12 })
    );
}

#[test]
fn issue14_session_messages_must_be_filled_exactly_by_their_fields() {
    let cases: [(u8, &[u8]); 10] = [
        (b'Q', b"SELECT 1"),                     // no NUL
        (b'Q', b"SELECT 1\0garbage"),            // bytes after the string
        (b'P', b""),                             // nothing at all
        (b'P', b"\0SELECT 1\0\0\x02\0\0\0\x17"), // two type OIDs, one sent
        (b'B', b"\0\0\0\0\0\x01\0\0\0\x09ab"),   // a value longer than the message
        (b'E', b"\0\0\0"),                       // max_rows cut short
        (b'D', b""),                             // no target type
        (b'S', b"x"),                            // Sync has no body
        (b'X', b"\0"),                           // nor Terminate
        (b'c', b"\0"),                           // nor CopyDone
    ];
    for (kind, body) in cases {
        let mut c = logged_in_checker();
        let (_, refused) = run(&mut c, &typed(kind, body), &[usize::MAX]);
        assert!(
            matches!(
                refused,
                Some(FrameError::Layout { .. } | FrameError::Length { .. })
            ),
            "{}: {body:?} gave {refused:?}",
            kind as char
        );
    }
    let mut c = logged_in_checker();
    assert_eq!(
        c.feed(&[b'F', 0, 0, 0, 4]).1,
        Some(FrameError::UnknownType { kind: b'F' })
    );
}

#[test]
fn issue14_a_refused_frame_stops_the_stream_but_what_came_before_it_passes() {
    let mut c = logged_in_checker();
    let mut stream = typed(b'Q', b"SELECT 1\0");
    let good = stream.len();
    stream.extend(typed(b'Q', b"SELECT 2"));
    let (passed, refused) = c.feed(&stream);
    assert!(refused.is_some());
    // The good query and the bad one's start, never its last byte.
    assert!(passed >= good && passed < stream.len(), "{passed}");
    assert_eq!(c.feed(b"more").0, 0);
}

#[test]
fn issue14_unencrypted_bytes_after_an_ssl_request_are_refused() {
    use crate::connection::Checked;
    let checked = Checked::new((), BytesMut::from(&b"\0\0\0\x08"[..]), true);
    assert_eq!(checked.refused(), Some(&FrameError::UnencryptedAfterSsl));
    let plain = Checked::new((), BytesMut::from(&b"\0\0\0\x08"[..]), false);
    assert_eq!(plain.refused(), None);
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _=,*()'$-]{0,40}"
}

fn name() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-z_0-9]{0,12}")
}

/// A message as a client library encodes it.
fn frontend_message() -> impl Strategy<Value = Vec<u8>> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from);
    prop_oneof![
        text().prop_map(|q| encode(PgWireFrontendMessage::Query(Query::new(q)))),
        (
            name(),
            text(),
            proptest::collection::vec(any::<u32>(), 0..5)
        )
            .prop_map(|(n, q, t)| { encode(PgWireFrontendMessage::Parse(Parse::new(n, q, t))) }),
        (
            name(),
            name(),
            proptest::collection::vec(0i16..2, 0..4),
            proptest::collection::vec(proptest::option::of(bytes.clone()), 0..5),
            proptest::collection::vec(0i16..2, 0..4),
        )
            .prop_map(
                |(p, s, f, v, r)| encode(PgWireFrontendMessage::Bind(Bind::new(p, s, f, v, r)))
            ),
        (prop_oneof![Just(b'S'), Just(b'P')], name())
            .prop_map(|(t, n)| encode(PgWireFrontendMessage::Describe(Describe::new(t, n)))),
        (prop_oneof![Just(b'S'), Just(b'P')], name())
            .prop_map(|(t, n)| encode(PgWireFrontendMessage::Close(Close::new(t, n)))),
        (name(), any::<i32>())
            .prop_map(|(n, m)| encode(PgWireFrontendMessage::Execute(Execute::new(n, m)))),
        Just(encode(PgWireFrontendMessage::Sync(Sync::new()))),
        Just(encode(PgWireFrontendMessage::Flush(Flush::new()))),
        bytes
            .clone()
            .prop_map(|d| encode(PgWireFrontendMessage::CopyData(CopyData::new(d)))),
        Just(encode(PgWireFrontendMessage::CopyDone(CopyDone::new()))),
        text().prop_map(|m| encode(PgWireFrontendMessage::CopyFail(CopyFail::new(m)))),
        bytes
            .clone()
            .prop_map(|d| encode(PgWireFrontendMessage::PasswordMessageFamily(
                PasswordMessageFamily::SASLResponse(SASLResponse::new(d))
            ))),
    ]
}

/// Frames from near-valid to garbage: a type byte, a length (true, off
/// by a little, or extreme) and a body of field-like pieces.
fn rough_frame() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop_oneof![
        4 => proptest::sample::select(b"QPBDCEHSXcdfp".to_vec()),
        1 => any::<u8>(),
    ];
    let piece = prop_oneof![
        Just(vec![0u8]),
        Just(vec![0xff, 0xff, 0xff, 0xff]),
        Just(vec![0, 1]),
        Just(vec![0, 0, 0, 2]),
        Just(vec![0x7f, 0xff, 0xff, 0xff]),
        "[a-z ]{0,8}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    let length = prop_oneof![
        6 => Just(None),
        1 => (-4i64..8).prop_map(Some),
        1 => prop_oneof![Just(0i64), Just(3), Just(0x7fff_ffff), Just(0xffff_ffff), Just(1 << 30)].prop_map(Some),
    ];
    (kind, proptest::collection::vec(piece, 0..8), length).prop_map(|(kind, pieces, length)| {
        let body: Vec<u8> = pieces.concat();
        let true_length = body.len() as i64 + 4;
        let length = match length {
            None => true_length,
            Some(d) if d.abs() < 8 => true_length + d,
            Some(l) => l,
        };
        let mut m = vec![kind];
        m.extend_from_slice(&(length as u32).to_be_bytes());
        m.extend_from_slice(&body);
        m
    })
}

fn rough_startup() -> impl Strategy<Value = Vec<u8>> {
    let code = prop_oneof![
        4 => Just(0x0003_0000u32),
        1 => Just(0x0003_0002u32),
        1 => Just(CANCEL_REQUEST),
        1 => Just(80_877_103u32),
        1 => any::<u32>(),
    ];
    let params = proptest::collection::vec("[a-z]{0,6}\\x00?[a-z]{0,6}\\x00?", 0..4);
    (code, params, any::<bool>(), -2i64..3).prop_map(|(code, params, end, off)| {
        let mut body = params.concat().into_bytes();
        if end {
            body.push(0);
        }
        let length = (body.len() as i64 + 8 + off).max(0) as u32;
        let mut packet = length.to_be_bytes().to_vec();
        packet.extend_from_slice(&code.to_be_bytes());
        packet.extend_from_slice(&body);
        packet
    })
}

/// Decodes what passed as `pgwire`'s server codec does, one read at a
/// time; the decoder must neither panic nor refuse it, and must use up
/// exactly the frames.
fn decode_passed(reads: &[(Vec<u8>, bool)]) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::new();
    let mut ctx = DecodeContext::new(ProtocolVersion::default());
    ctx.awaiting_frontend_ssl = false;
    ctx.awaiting_frontend_startup = true;
    for (read, at_boundary) in reads {
        buf.extend_from_slice(read);
        loop {
            let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                PgWireFrontendMessage::decode(&mut buf, &ctx)
            }));
            let decoded = decoded.map_err(|_| TestCaseError::fail("the decoder panicked"))?;
            match decoded {
                Ok(Some(PgWireFrontendMessage::Startup(_))) => {
                    ctx.awaiting_frontend_startup = false
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => return Err(TestCaseError::fail(format!("the decoder refused: {e}"))),
            }
        }
        if *at_boundary {
            prop_assert!(
                buf.is_empty(),
                "{} bytes left after whole frames",
                buf.len()
            );
        }
    }
    Ok(())
}

impl Checker {
    /// Whether the checker is between frames.
    fn at_boundary(&self) -> bool {
        matches!(self.frame, Frame::Header)
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Every message a client library encodes passes, however the reads
    /// split it.
    #[test]
    fn issue14_every_well_formed_message_passes_in_any_split(
        parameters in proptest::collection::btree_map("[a-z_]{1,10}", "[a-zA-Z0-9 ]{0,10}", 0..4),
        initial in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        messages in proptest::collection::vec(frontend_message(), 0..12),
        chunks in proptest::collection::vec(1usize..40, 1..8),
    ) {
        let mut c = Checker::new();
        let mut startup = Startup::new();
        startup.parameters = parameters.into_iter().collect();
        let first = encode(PgWireFrontendMessage::Startup(startup));
        prop_assert_eq!(run(&mut c, &first, &chunks), (first.clone(), None));
        let login = encode(PgWireFrontendMessage::PasswordMessageFamily(
            PasswordMessageFamily::SASLInitialResponse(SASLInitialResponse::new(
                "SCRAM-SHA-256".into(),
                initial.map(Bytes::from),
            )),
        ));
        prop_assert_eq!(run(&mut c, &login, &chunks), (login.clone(), None));
        c.logged_in();
        let stream: Vec<u8> = messages.concat();
        prop_assert_eq!(run(&mut c, &stream, &chunks), (stream.clone(), None));
        prop_assert!(c.at_boundary());
        let terminate = encode(PgWireFrontendMessage::Terminate(Terminate::new()));
        prop_assert_eq!(run(&mut c, &terminate, &chunks), (terminate.clone(), None));
    }

    /// Whatever a client sends, what the checker passes decodes without
    /// a panic or an error and without reading past a frame.
    #[test]
    fn issue14_what_passes_the_checker_decodes_exactly(
        first in rough_startup(),
        before_login in proptest::collection::vec(rough_frame(), 0..3),
        log_in in any::<bool>(),
        after in proptest::collection::vec(rough_frame(), 0..8),
        noise in proptest::collection::vec(any::<u8>(), 0..16),
        chunks in proptest::collection::vec(1usize..64, 1..6),
    ) {
        let mut c = Checker::new();
        let mut pending = Vec::new();
        let before: Vec<u8> = std::iter::once(first).chain(before_login).flatten().collect();
        let (passed, refused) = run_on(&mut c, &mut pending, &before, &chunks);
        let mut reads = vec![(passed, refused.is_none() && pending.is_empty() && c.at_boundary())];
        if refused.is_none() && !c.closed() {
            if log_in {
                c.logged_in();
            }
            let rest: Vec<u8> = after.into_iter().chain(std::iter::once(noise)).flatten().collect();
            let (passed, refused) = run_on(&mut c, &mut pending, &rest, &chunks);
            reads.push((passed, refused.is_none() && c.at_boundary()));
        }
        decode_passed(&reads)?;
    }
}
