use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};

use floe_common::HasStatus;

use super::*;
use crate::local_path;

/// A new store in `dir` holding `public.t` of `definition`; shared with
/// other tests. Keep the store while using the table.
pub(crate) async fn new_table(
    dir: &std::path::Path,
    definition: TableDefinition,
) -> (Arc<Store>, Arc<TableHandle>) {
    let store = Store::open(dir, "public").await.unwrap();
    let handle = store
        .create_table("public", "t", definition, false)
        .await
        .unwrap()
        .unwrap();
    (store, handle)
}

/// A new store in `dir` holding `public.t` of [`definition`] with
/// background compaction off (it would change the files under a test's
/// counts) and `property` set if given; shared with other tests.
pub(crate) async fn new_quiet_table(
    dir: &std::path::Path,
    property: Option<(&str, u64)>,
) -> (Arc<Store>, Arc<TableHandle>) {
    let mut definition = definition();
    definition
        .properties
        .insert(crate::COMPACTION_ENABLED.to_string(), "false".to_string());
    if let Some((name, value)) = property {
        definition
            .properties
            .insert(name.to_string(), value.to_string());
    }
    new_table(dir, definition).await
}

/// Replaces every row of the table with `ids`, named `{tag}{id}`, in one
/// commit; shared with other tests.
pub(crate) async fn replace_rows(handle: &Arc<TableHandle>, ids: &[i64], tag: &str) {
    let change = handle.begin().await.unwrap();
    let mut append = change.append().unwrap();
    append.write(rows(handle, ids, Some(tag))).await.unwrap();
    change.commit_replace(append, &[]).await.unwrap();
}

/// Rows of a [`definition`] table: `ids`, each named `{tag}{id}`, or with
/// no name if `tag` is `None`; shared with other tests.
pub(crate) fn rows(handle: &TableHandle, ids: &[i64], tag: Option<&str>) -> RecordBatch {
    let names: Vec<Option<String>> = ids.iter().map(|i| tag.map(|t| format!("{t}{i}"))).collect();
    RecordBatch::try_new(
        handle.arrow_schema().unwrap(),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(StringArray::from(names)),
        ],
    )
    .unwrap()
}

/// Every live row of a [`definition`] table with a key below 100, as (id,
/// name), sorted; a key held twice shows twice. Shared with other tests.
pub(crate) async fn live_rows(handle: &Arc<TableHandle>) -> Vec<(i64, String)> {
    let change = handle.begin().await.unwrap();
    let keys = rows(handle, &(0..100).collect::<Vec<_>>(), None);
    let mut out = Vec::new();
    for b in change.rows_by_key(&keys).await.unwrap() {
        let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        let names = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..b.num_rows() {
            out.push((ids.value(i), names.value(i).to_string()));
        }
    }
    out.sort();
    out
}

/// A table `(id bigint primary key, name text)`; shared with other tests.
pub(crate) fn definition() -> TableDefinition {
    let schema = Schema::builder()
        .with_fields(vec![
            NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
            NestedField::optional(2, "name", Type::Primitive(PrimitiveType::String)).into(),
        ])
        .with_identifier_field_ids([1])
        .build()
        .unwrap();
    TableDefinition {
        schema,
        partition_spec: None,
        sort_order: None,
        properties: Default::default(),
    }
}

/// A [`definition`] without the primary key.
pub(crate) fn keyless_definition() -> TableDefinition {
    let mut def = definition();
    def.schema = Schema::builder()
        .with_fields(def.schema.as_struct().fields().to_vec())
        .build()
        .unwrap();
    def
}

fn batch(ids: &[i64]) -> RecordBatch {
    let schema = Arc::new(ArrowSchema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    let names: Vec<String> = ids.iter().map(|i| format!("n{i}")).collect();
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(StringArray::from(names)),
        ],
    )
    .unwrap()
}

fn total_rows(handle: &TableHandle) -> u64 {
    handle
        .table()
        .metadata()
        .current_snapshot()
        .and_then(|s| {
            s.summary()
                .additional_properties
                .get("total-records")
                .cloned()
        })
        .map(|v| v.parse().unwrap())
        .unwrap_or(0)
}

#[tokio::test]
async fn committed_appends_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), "public").await.unwrap();
        let t = store
            .create_table("public", "t", definition(), false)
            .await
            .unwrap()
            .unwrap();
        let mut append = t.append().unwrap();
        append.write(batch(&[1, 2, 3])).await.unwrap();
        let summary = append.commit().await.unwrap();
        assert_eq!(summary.rows, 3);
        assert!(summary.snapshot_id.is_some());
        // An append that is never committed leaves nothing visible.
        let mut abandoned = t.append().unwrap();
        abandoned.write(batch(&[4])).await.unwrap();
        drop(abandoned);
        assert_eq!(total_rows(&t), 3);
    }
    let store = Store::open(dir.path(), "public").await.unwrap();
    assert_eq!(store.table_names("public"), vec!["t".to_string()]);
    assert_eq!(total_rows(&store.table("public", "t").unwrap()), 3);
}

#[tokio::test]
async fn concurrent_appends_lose_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "public").await.unwrap();
    let t = store
        .create_table("public", "t", definition(), false)
        .await
        .unwrap()
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..4i64 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                let mut a = t.append().unwrap();
                a.write(batch(&[w * 100 + i])).await.unwrap();
                a.commit().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(total_rows(&t), 20);
}

#[tokio::test]
async fn null_in_a_key_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "public").await.unwrap();
    let t = store
        .create_table("public", "t", definition(), false)
        .await
        .unwrap()
        .unwrap();
    let schema = Arc::new(ArrowSchema::new(vec![Field::new(
        "id",
        DataType::Int64,
        true,
    )]));
    let b = RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from(vec![None, Some(1)]))],
    )
    .unwrap();
    let err = t.append().unwrap().write(b).await.unwrap_err();
    assert!(
        matches!(err, StorageError::NullInRequiredColumn { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn schema_ddl_errors_name_the_object() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "public").await.unwrap();
    store.create_schema("s", false).await.unwrap();
    let err = store.create_schema("s", false).await.unwrap_err();
    assert!(err.to_string().contains("\"s\" already exists"), "{err}");
    store
        .create_table("s", "t", definition(), false)
        .await
        .unwrap();
    let err = store.drop_schema("s", false, false).await.unwrap_err();
    assert!(
        matches!(err, StorageError::SchemaNotEmpty { tables: 1, .. }),
        "{err}"
    );
    store.drop_schema("s", false, true).await.unwrap();
    assert!(!store.schema_exists("s"));
    let err = store.drop_table("public", "nope", false).await.unwrap_err();
    assert_eq!(err.to_string(), "relation \"public.nope\" does not exist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue14_concurrent_requests_with_one_idempotency_key_write_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, t) = new_table(dir.path(), definition()).await;
    for round in 0..200i64 {
        let key = format!("key-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(4));
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (t, key, barrier) = (t.clone(), key.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                let rows = rows(&t, &[round], Some("r"));
                barrier.wait().await;
                t.append_buffered_once(&[rows], &key).await
            }));
        }
        let mut written = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(crate::table::Appended::Written(1)) => written += 1,
                Ok(crate::table::Appended::Duplicate(1)) => {}
                Err(StorageError::KeyInUse { .. }) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(written, 1, "round {round}: the key wrote {written} times");
    }
}

/// Rows a table holds: committed (snapshot summary) plus buffered.
fn held_rows(handle: &TableHandle) -> u64 {
    total_rows(handle) + handle.buffer_stats().rows
}

#[tokio::test]
async fn issue14_a_table_that_fails_to_load_is_unavailable_and_keeps_its_logged_rows() {
    let dir = tempfile::tempdir().unwrap();
    let metadata = {
        let store = Store::open(dir.path(), "public").await.unwrap();
        let a = store
            .create_table("public", "a", definition(), false)
            .await
            .unwrap()
            .unwrap();
        let b = store
            .create_table("public", "b", definition(), false)
            .await
            .unwrap()
            .unwrap();
        a.append_buffered(&[rows(&a, &[1, 2], Some("a"))])
            .await
            .unwrap();
        // Acknowledged: durable in the log, perhaps not yet in a file.
        b.append_buffered(&[rows(&b, &[3], Some("b"))])
            .await
            .unwrap();
        let table = b.table();
        local_path(table.metadata_location().unwrap()).to_string()
    };
    let good = std::fs::read(&metadata).unwrap();
    std::fs::write(&metadata, b"{ this is not table metadata").unwrap();
    {
        let store = Store::open(dir.path(), "public").await.unwrap();
        assert!(store.table("public", "b").is_none());
        let err = store.unavailable("public", "b").expect("b is unavailable");
        assert_eq!(
            err.status(),
            floe_common::Status::ObjectNotInPrerequisiteState
        );
        assert!(err.to_string().contains("public.b"), "{err}");
        assert_eq!(store.unavailable_tables().len(), 1);
        assert!(store.unavailable("public", "a").is_none());
        let a = store.table("public", "a").unwrap();
        assert_eq!(held_rows(&a), 2);
        a.append_buffered(&[rows(&a, &[4], Some("a"))])
            .await
            .unwrap();
        a.flush().await.unwrap();
    }
    // Once repaired, the table loads with every row it acknowledged.
    std::fs::write(&metadata, good).unwrap();
    let store = Store::open(dir.path(), "public").await.unwrap();
    assert!(store.unavailable_tables().is_empty());
    assert_eq!(held_rows(&store.table("public", "b").unwrap()), 1);
    assert_eq!(held_rows(&store.table("public", "a").unwrap()), 3);
}

#[tokio::test]
async fn issue14_an_unavailable_table_can_be_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let metadata = {
        let (_store, t) = new_table(dir.path(), definition()).await;
        let table = t.table();
        local_path(table.metadata_location().unwrap()).to_string()
    };
    std::fs::write(&metadata, b"garbage").unwrap();
    let store = Store::open(dir.path(), "public").await.unwrap();
    assert!(store.unavailable("public", "t").is_some());
    assert!(store.drop_table("public", "t", false).await.unwrap());
    assert!(store.unavailable("public", "t").is_none());
    drop(store);
    let store = Store::open(dir.path(), "public").await.unwrap();
    assert!(store.unavailable_tables().is_empty());
    assert!(store.table("public", "t").is_none());
}

#[tokio::test]
async fn issue14_orphan_cleanup_leaves_the_files_of_a_write_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let mut def = definition();
    // Every unreferenced file counts as old enough to delete.
    def.properties
        .insert(crate::vacuum::ORPHAN_MIN_AGE_MS.to_string(), "0".into());
    let (_store, t) = new_table(dir.path(), def).await;
    // A long COPY: its first file is written and closed, more follow.
    let mut append = t.append().unwrap();
    append.write(rows(&t, &[1, 2, 3], Some("c"))).await.unwrap();
    let data_dir = dir.path().join("warehouse/public/t/data");
    let on_disk = || {
        crate::vacuum::walk(&data_dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .count()
    };
    assert!(on_disk() > 0, "the write has a file on disk");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    t.vacuum(true).await.unwrap();
    append.write(rows(&t, &[4], Some("c"))).await.unwrap();
    append.commit().await.unwrap();
    assert_eq!(live_rows(&t).await.len(), 4);
    // Once committed, nothing the table references is an orphan.
    t.vacuum(true).await.unwrap();
    assert_eq!(live_rows(&t).await.len(), 4);
}

#[tokio::test]
async fn issue14_a_long_change_to_one_table_does_not_stall_flushing_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "public").await.unwrap();
    // Without a key: appends to a keyed table wait for its open change
    // (see `unique::tests`).
    let mut def = keyless_definition();
    def.properties
        .insert(crate::FLUSH_INTERVAL_MS.to_string(), "50".into());
    let a = store
        .create_table("public", "a", def.clone(), false)
        .await
        .unwrap()
        .unwrap();
    let b = store
        .create_table("public", "b", def, false)
        .await
        .unwrap()
        .unwrap();
    // A long UPDATE on `a` holds its commit lock, while rows for `a` pile
    // up in its buffer and are due for a flush.
    let change = a.begin().await.unwrap();
    a.append_buffered(&[rows(&a, &[1], Some("a"))])
        .await
        .unwrap();
    b.append_buffered(&[rows(&b, &[2], Some("b"))])
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while b.buffer_stats().rows > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "b was not flushed while a's change was open"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(total_rows(&b), 1);
    assert_eq!(a.buffer_stats().rows, 1);
    drop(change);
}
