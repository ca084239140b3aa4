use crate::store::tests::{definition, live_rows as live, new_table, rows};

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
