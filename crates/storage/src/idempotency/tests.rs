use std::time::Duration;

use super::*;
use crate::store::tests::{definition, new_table, rows};
use crate::table::Appended;

/// The bytes `n` committed keys of `len` bytes each take.
fn committed_bytes(n: u64, len: u64) -> u64 {
    n * (2 * len + MAP_OVERHEAD + QUEUE_OVERHEAD)
}

#[test]
fn issue14_a_key_is_claimed_once_and_freed_when_its_request_fails() {
    let keys = IdempotencyKeys::default();
    assert_eq!(
        keys.claim("a"),
        Claim::Claimed {
            check_catalog: false
        }
    );
    assert_eq!(keys.claim("a"), Claim::InUse);
    keys.release("a");
    assert_eq!(keys.usage(), (0, 0));
    assert!(matches!(keys.claim("a"), Claim::Claimed { .. }));
    keys.written("a", 7);
    assert_eq!(keys.claim("a"), Claim::Duplicate(7));
    assert_eq!(keys.usage(), (1, 1 + MAP_OVERHEAD));
}

#[test]
fn issue14_committed_keys_beyond_the_limit_are_forgotten_oldest_first() {
    let keys = IdempotencyKeys::default();
    let limit = committed_bytes(3, 2);
    for key in ["k0", "k1", "k2", "k3", "k4"] {
        assert!(matches!(keys.claim(key), Claim::Claimed { .. }));
        keys.written(key, 1);
    }
    // Keys not committed yet are all held, whatever the limit.
    keys.committed([], 0);
    assert_eq!(keys.usage().0, 5);
    keys.committed(["k0", "k1", "k2", "k3", "k4"], limit);
    assert_eq!(keys.usage(), (3, limit));
    for key in ["k2", "k3", "k4"] {
        assert_eq!(keys.claim(key), Claim::Duplicate(1), "{key}");
    }
    // A key memory forgot must be looked up in the catalog.
    assert_eq!(
        keys.claim("k0"),
        Claim::Claimed {
            check_catalog: true
        }
    );
    keys.release("k0");
    // Once every key forgotten early is past its retention, no more lookups.
    std::thread::sleep(Duration::from_millis(20));
    keys.expire(Duration::from_millis(10));
    assert_eq!(keys.usage(), (0, 0));
    assert_eq!(
        keys.claim("k0"),
        Claim::Claimed {
            check_catalog: false
        }
    );
}

#[test]
fn issue14_expiry_forgets_old_keys_but_not_requests_being_written() {
    let keys = IdempotencyKeys::default();
    keys.remember_committed("old", 1, Duration::from_secs(50), u64::MAX);
    keys.remember_committed("new", 2, Duration::from_secs(1), u64::MAX);
    assert!(matches!(keys.claim("pending"), Claim::Claimed { .. }));
    keys.expire(Duration::from_secs(10));
    assert_eq!(keys.usage(), (2, committed_bytes(1, 3) + 7 + MAP_OVERHEAD));
    assert_eq!(keys.claim("new"), Claim::Duplicate(2));
    assert_eq!(keys.claim("pending"), Claim::InUse);
    assert!(matches!(keys.claim("old"), Claim::Claimed { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue14_a_retry_of_a_key_memory_let_go_is_still_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let mut definition = definition();
    let limit = 2000u64;
    definition
        .properties
        .insert(crate::IDEMPOTENCY_MAX_BYTES.to_string(), limit.to_string());
    {
        let (_store, t) = new_table(dir.path(), definition).await;
        for i in 0..40i64 {
            let written = t
                .append_buffered_once(&[rows(&t, &[i], Some("a"))], &format!("key-{i:03}"))
                .await
                .unwrap();
            assert_eq!(written, Appended::Written(1));
        }
        // Buffered keys are all held.
        assert_eq!(t.keys.usage().0, 40);
        t.flush().await.unwrap();
        let (entries, bytes) = t.keys.usage();
        assert!(
            bytes <= limit,
            "{bytes} bytes of keys over the limit {limit}"
        );
        assert!(entries < 40, "no key was let go: {entries}");
        // The oldest key is no longer in memory, and is still recognized.
        for i in [0i64, 39] {
            let again = t
                .append_buffered_once(&[rows(&t, &[100 + i], Some("b"))], &format!("key-{i:03}"))
                .await
                .unwrap();
            assert_eq!(again, Appended::Duplicate(1), "key {i}");
        }
        assert_eq!(t.buffer_stats().rows, 0);
        // A new key is still written.
        let new = t
            .append_buffered_once(&[rows(&t, &[99], Some("c"))], "key-new")
            .await
            .unwrap();
        assert_eq!(new, Appended::Written(1));
    }
    // Loaded on start, the keys stay within the limit and are recognized.
    let store = crate::Store::open(dir.path(), "public").await.unwrap();
    let t = store.table("public", "t").unwrap();
    assert!(t.keys.usage().1 <= limit + 200, "{:?}", t.keys.usage());
    for key in ["key-000", "key-020", "key-new"] {
        let again = t
            .append_buffered_once(&[rows(&t, &[200], Some("d"))], key)
            .await
            .unwrap();
        assert_eq!(again, Appended::Duplicate(1), "{key}");
    }
    // Only the row of `key-new`, replayed from the write-ahead log.
    assert_eq!(t.buffer_stats().rows, 1);
}
