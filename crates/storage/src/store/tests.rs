use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};

use super::*;

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
