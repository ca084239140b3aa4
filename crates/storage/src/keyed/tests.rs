use std::sync::Arc;

use crate::store::tests::definition;
use crate::{Store, TableHandle};
use arrow::array::{Int64Array, RecordBatch, StringArray};

fn rows(handle: &TableHandle, ids: &[i64], tag: &str) -> RecordBatch {
    let names: Vec<String> = ids.iter().map(|i| format!("{tag}{i}")).collect();
    RecordBatch::try_new(
        handle.arrow_schema().unwrap(),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(StringArray::from(names)),
        ],
    )
    .unwrap()
}

/// Every live row as (id, name), sorted.
async fn live(handle: &Arc<TableHandle>) -> Vec<(i64, String)> {
    let change = handle.begin().await.unwrap();
    let all: Vec<i64> = (0..100).collect();
    let batches = change.rows_by_key(&rows(handle, &all, "")).await.unwrap();
    let mut out = Vec::new();
    for b in batches {
        let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        let names = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..b.num_rows() {
            out.push((ids.value(i), names.value(i).to_string()));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn changes_by_key_replace_delete_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "public").await.unwrap();
    let handle = store
        .create_table("public", "t", definition(), false)
        .await
        .unwrap()
        .unwrap();

    // Initial load, with properties.
    let change = handle.begin().await.unwrap();
    let mut append = change.append().unwrap();
    append
        .write(rows(&handle, &[1, 2, 3, 4], "a"))
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
    let keys = rows(&handle, &[3, 9], "");
    change
        .commit_keyed(vec![rows(&handle, &[2, 5], "b")], vec![keys], &[])
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
    append.write(rows(&handle, &[7], "c")).await.unwrap();
    change.commit_replace(append, &[]).await.unwrap();
    assert_eq!(live(&handle).await, vec![(7, "c7".into())]);
}
