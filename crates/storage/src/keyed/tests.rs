use std::sync::Arc;

use crate::store::tests::{
    definition, live_rows as live, new_quiet_table, new_table, replace_rows, rows,
};

#[tokio::test]
async fn changes_by_key_replace_delete_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, handle) = new_table(dir.path(), definition()).await;

    // Initial load, with properties.
    let change = handle.begin().await.unwrap();
    let mut append = change.append().unwrap();
    append
        .write(rows(&handle, &[1, 2, 3, 4], Some("a")))
        .await
        .unwrap();
    change
        .commit_replace(append, &[("floe.test", "1".into())])
        .await
        .unwrap();
    assert_eq!(live(&handle).await.len(), 4);
    let props = handle.table().metadata().properties().clone();
    assert_eq!(props.get("floe.test").map(String::as_str), Some("1"));

    // Upsert 2 (exists) and 5 (new), delete 3 and 9 (absent).
    let change = handle.begin().await.unwrap();
    let keys = rows(&handle, &[3, 9], None);
    change
        .commit_keyed(vec![rows(&handle, &[2, 5], Some("b"))], vec![keys], &[])
        .await
        .unwrap();
    assert_eq!(
        live(&handle).await,
        vec![
            (1, "a1".into()),
            (2, "b2".into()),
            (4, "a4".into()),
            (5, "b5".into())
        ]
    );
    // The replaced and deleted rows are position deletes on the first file.
    let files = handle
        .live_files(&handle.table(), None, None)
        .await
        .unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files.iter().map(|f| f.deleted.len()).sum::<usize>(), 2);

    // A reload replaces everything.
    let change = handle.begin().await.unwrap();
    let mut append = change.append().unwrap();
    append.write(rows(&handle, &[7], Some("c"))).await.unwrap();
    change.commit_replace(append, &[]).await.unwrap();
    assert_eq!(live(&handle).await, vec![(7, "c7".into())]);
}

/// A keyed table with `limit` bytes of key index (the default if `None`):
/// a load of keys 0..40, then `rounds` changes by key, each of which adds
/// a data file.
async fn changed(
    dir: &std::path::Path,
    limit: Option<u64>,
    rounds: i64,
) -> (Arc<crate::Store>, Arc<crate::TableHandle>) {
    let limit = limit.map(|limit| (crate::KEY_INDEX_MAX_BYTES, limit));
    let (store, handle) = new_quiet_table(dir, limit).await;
    replace_rows(&handle, &(0..40).collect::<Vec<_>>(), "a").await;
    for round in 0..rounds {
        let change = handle.begin().await.unwrap();
        change
            .commit_keyed(
                vec![rows(&handle, &[round, 50 + round], Some("b"))],
                vec![rows(&handle, &[20 + round], None)],
                &[],
            )
            .await
            .unwrap();
    }
    (store, handle)
}

fn key_index(handle: &crate::TableHandle) -> crate::CacheStats {
    handle
        .caches()
        .into_iter()
        .find(|c| c.cache == "key_index")
        .unwrap()
}

/// The rows `changed` leaves after `rounds` changes.
fn expected(rounds: i64) -> Vec<(i64, String)> {
    let mut want: Vec<(i64, String)> = (0..40)
        .filter(|i| !(*i < rounds || (20..20 + rounds).contains(i)))
        .map(|i| (i, format!("a{i}")))
        .collect();
    for round in 0..rounds {
        want.push((round, format!("b{round}")));
        want.push((50 + round, format!("b{}", 50 + round)));
    }
    want.sort();
    want
}

#[tokio::test]
async fn issue14_the_key_index_reports_its_files_and_forgets_dead_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, handle) = changed(dir.path(), None, 5).await;
    let index = key_index(&handle);
    // The loaded file and the files of the first four changes were looked in.
    assert_eq!(index.entries, 5, "{index:?}");
    assert!(index.bytes >= 40 * 16 + 4 * 2 * 16, "{index:?}");
    assert_eq!(index.limit_bytes, crate::DEFAULT_KEY_INDEX_BYTES);
    assert_eq!(live(&handle).await, expected(5));

    // Compaction replaces every file with one; the index holds just it.
    handle.compact(true).await.unwrap();
    let after = key_index(&handle);
    assert_eq!(after.entries, 1, "{after:?}");
    assert!(after.bytes < index.bytes, "{after:?}");
    assert_eq!(live(&handle).await, expected(5));
    assert_eq!(key_index(&handle).entries, 1);
}

#[tokio::test]
async fn issue14_a_key_index_at_its_limit_keeps_within_it_and_finds_every_row() {
    let dir = tempfile::tempdir().unwrap();
    // Room for the loaded file's keys and a few more, not for every file.
    let limit = 40 * 16 + 300 + 3 * (2 * 16 + 300);
    let (_store, handle) = changed(dir.path(), Some(limit), 8).await;
    let index = key_index(&handle);
    assert!(index.bytes <= limit, "{index:?} over {limit}");
    assert!(index.entries < 8, "every file was kept: {index:?}");
    assert!(index.entries >= 1, "{index:?}");
    assert_eq!(index.limit_bytes, limit);
    assert_eq!(live(&handle).await, expected(8));
}
