use bytes::{BufMut, BytesMut};

use super::*;

fn tuple(out: &mut BytesMut, values: &[Option<&str>]) {
    out.put_i16(values.len() as i16);
    for v in values {
        match v {
            None => out.put_u8(b'n'),
            Some("\u{0}unchanged") => out.put_u8(b'u'),
            Some(t) => {
                out.put_u8(b't');
                out.put_i32(t.len() as i32);
                out.put_slice(t.as_bytes());
            }
        }
    }
}

#[test]
fn decodes_begin_commit_relation_and_changes() {
    let mut b = BytesMut::new();
    b.put_u8(b'B');
    b.put_u64(0x100);
    b.put_i64(42);
    b.put_u32(7);
    assert_eq!(
        decode(b.freeze()).unwrap(),
        Message::Begin {
            final_lsn: 0x100,
            commit_time: 42,
            xid: 7
        }
    );

    let mut b = BytesMut::new();
    b.put_u8(b'R');
    b.put_u32(16384);
    b.put_slice(b"public\0payouts\0");
    b.put_u8(b'd');
    b.put_i16(2);
    b.put_u8(1);
    b.put_slice(b"id\0");
    b.put_u32(20);
    b.put_i32(-1);
    b.put_u8(0);
    b.put_slice(b"note\0");
    b.put_u32(25);
    b.put_i32(-1);
    let Message::Relation(r) = decode(b.freeze()).unwrap() else {
        panic!("not a relation")
    };
    assert_eq!(
        (r.id, r.namespace.as_str(), r.name.as_str()),
        (16384, "public", "payouts")
    );
    assert!(r.columns[0].key && !r.columns[1].key);
    assert_eq!(r.columns[1].type_oid, 25);

    let mut b = BytesMut::new();
    b.put_u8(b'U');
    b.put_u32(16384);
    b.put_u8(b'K');
    tuple(&mut b, &[Some("1"), None]);
    b.put_u8(b'N');
    tuple(&mut b, &[Some("2"), Some("\u{0}unchanged")]);
    assert_eq!(
        decode(b.freeze()).unwrap(),
        Message::Update {
            relation: 16384,
            old: Some(vec![Value::Text("1".into()), Value::Null]),
            new: vec![Value::Text("2".into()), Value::Unchanged],
        }
    );

    let mut b = BytesMut::new();
    b.put_u8(b'T');
    b.put_u32(2);
    b.put_u8(0);
    b.put_u32(1);
    b.put_u32(2);
    assert_eq!(
        decode(b.freeze()).unwrap(),
        Message::Truncate {
            relations: vec![1, 2]
        }
    );
}

#[test]
fn truncated_messages_are_errors_not_panics() {
    for bytes in [
        &b"B\0\0"[..],
        b"I\0\0\0\x01N\0\x01t\0\0\0\x09ab",
        b"R\0\0\0\x01public",
    ] {
        assert!(decode(Bytes::copy_from_slice(bytes)).is_err());
    }
}

#[test]
fn issue14_lying_counts_and_lengths_are_errors_without_big_allocations() {
    // A negative value length.
    let mut b = BytesMut::new();
    b.put_u8(b'I');
    b.put_u32(1);
    b.put_u8(b'N');
    b.put_i16(1);
    b.put_u8(b't');
    b.put_i32(-5);
    let err = decode(b.freeze()).unwrap_err();
    assert!(err.0.contains("negative length"), "{err}");
    // 32767 values announced, none present.
    let mut b = BytesMut::new();
    b.put_u8(b'I');
    b.put_u32(1);
    b.put_u8(b'N');
    b.put_i16(i16::MAX);
    assert!(decode(b.freeze()).is_err());
    // 32767 columns announced, none present.
    let mut b = BytesMut::new();
    b.put_u8(b'R');
    b.put_u32(1);
    b.put_slice(b"s\0t\0");
    b.put_u8(b'd');
    b.put_i16(i16::MAX);
    assert!(decode(b.freeze()).is_err());
    // 4 billion truncated relations announced.
    let mut b = BytesMut::new();
    b.put_u8(b'T');
    b.put_u32(u32::MAX);
    b.put_u8(0);
    assert!(decode(b.freeze()).is_err());
    // An update whose old tuple has no new one after it.
    let mut b = BytesMut::new();
    b.put_u8(b'U');
    b.put_u32(1);
    b.put_u8(b'K');
    tuple(&mut b, &[Some("1")]);
    assert!(decode(b.freeze()).is_err());
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn issue14_random_bytes_never_panic_the_decoder(
            bytes in prop::collection::vec(any::<u8>(), 0..128),
        ) {
            let _ = decode(Bytes::from(bytes));
        }

        #[test]
        fn issue14_random_bodies_of_every_message_never_panic_the_decoder(
            tag in prop::sample::select(b"BCRIUDTOYM".to_vec()),
            body in prop::collection::vec(
                prop_oneof![
                    any::<u8>(),
                    prop::sample::select(b"ntubKON\0\xff".to_vec()),
                ],
                0..128,
            ),
        ) {
            let mut message = vec![tag];
            message.extend_from_slice(&body);
            let _ = decode(Bytes::from(message));
        }
    }
}
