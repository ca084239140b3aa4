use std::time::Instant;

use super::*;
use crate::store::tests::{definition, new_table, rows};

fn entry(handle: &crate::TableHandle, lsn: Lsn, ids: &[i64]) -> Buffered {
    let batch = rows(handle, ids, Some("n"));
    Buffered {
        lsn,
        bytes: 100,
        batch,
        at: Instant::now(),
        key: None,
    }
}

#[tokio::test]
async fn issue14_a_flush_swaps_the_snapshot_and_drops_what_it_committed_together() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, handle) = new_table(dir.path(), definition()).await;
    let current = Current::new(handle.table());
    current.restore(entry(&handle, 1, &[1, 2]));
    let (lsn, stats) = current
        .append(|| Ok(2), rows(&handle, &[3], None), 50, Some("k".into()))
        .unwrap();
    assert_eq!((lsn, stats.rows, stats.bytes), (2, 3, 150));
    current.restore(entry(&handle, 3, &[4]));
    let (_, entries) = current.view();
    assert_eq!(
        entries.iter().map(|e| e.lsn).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );

    // A log that fails buffers nothing.
    let failed = current.append(
        || Err(crate::StorageError::KeyInUse { key: "x".into() }),
        rows(&handle, &[9], None),
        10,
        None,
    );
    assert!(failed.is_err());
    assert_eq!(current.buffer_stats().rows, 4);

    let committed = handle.table();
    assert_eq!(current.flushed(committed, 2), 150);
    let stats = current.buffer_stats();
    assert_eq!((stats.rows, stats.bytes), (1, 100));
    assert!(stats.oldest.is_some());
    assert_eq!(current.discard(|b| b.lsn != 3), 100);
    assert_eq!(current.buffer_stats(), BufferStats::default());
}
