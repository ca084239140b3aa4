use std::sync::Arc;

use super::*;

fn keys(n: usize) -> Arc<SortedKeys> {
    let mut keys: SortedKeys = (0..n as i64).map(|k| (k, k as u32)).collect();
    keys.shrink_to_fit();
    Arc::new(keys)
}

#[test]
fn issue14_the_key_index_counts_what_it_keeps_and_forgets() {
    let index = KeyIndex::default();
    assert_eq!(index.usage(), (0, 0));
    assert!(index.is_empty());
    assert!(index.insert("a".into(), keys(100), u64::MAX));
    assert!(index.insert("bb".into(), keys(50), u64::MAX));
    let (entries, bytes) = index.usage();
    assert_eq!(entries, 2);
    // 16 bytes a key (an i64 and a u32, aligned), plus the locations and overhead.
    assert_eq!(bytes, 150 * 16 + 3 + 2 * ENTRY_OVERHEAD);
    assert_eq!(index.get("a").unwrap().len(), 100);

    // Replacing an entry counts it once.
    assert!(index.insert("a".into(), keys(10), u64::MAX));
    assert_eq!(index.usage(), (2, 60 * 16 + 3 + 2 * ENTRY_OVERHEAD));

    index.retain(|location| location == "bb");
    assert_eq!(index.usage(), (1, 50 * 16 + 2 + ENTRY_OVERHEAD));
    assert!(index.get("a").is_none());
    index.remove(["bb", "nope"]);
    assert_eq!(index.usage(), (0, 0));

    index.insert("c".into(), keys(5), u64::MAX);
    index.clear();
    assert_eq!(index.usage(), (0, 0));
    assert!(index.is_empty());
}

#[test]
fn issue14_a_full_key_index_keeps_what_it_holds() {
    let one = 100 * 16 + 1 + ENTRY_OVERHEAD;
    let index = KeyIndex::default();
    assert!(index.insert("a".into(), keys(100), 2 * one));
    assert!(index.insert("b".into(), keys(100), 2 * one));
    // A third file does not fit: it is not kept, and the others stay.
    assert!(!index.insert("c".into(), keys(100), 2 * one));
    assert_eq!(index.usage(), (2, 2 * one));
    assert!(index.get("a").is_some() && index.get("b").is_some());
    assert!(index.get("c").is_none());
    // A file that leaves the table makes room.
    index.remove(["a"]);
    assert!(index.insert("c".into(), keys(100), 2 * one));
    assert_eq!(index.usage(), (2, 2 * one));
    // A limit of 0 keeps nothing.
    let none = KeyIndex::default();
    assert!(!none.insert("a".into(), keys(1), 0));
    assert_eq!(none.usage(), (0, 0));
}
