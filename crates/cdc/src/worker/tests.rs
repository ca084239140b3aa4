use std::collections::HashMap;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};
use tokio::io::AsyncReadExt;

use super::*;
use crate::pgoutput::{RelColumn, Value};
use crate::source::{SourceSpec, SourceState, new_shared};

fn spec() -> SourceSpec {
    SourceSpec {
        name: "shop".into(),
        connection: "postgres://u:p@127.0.0.1/db".into(),
        publication: "floe_shop".into(),
        owns_publication: true,
        tables: None,
        into_schema: None,
        slot: "floe_shop".into(),
        id: "1".into(),
    }
}

/// A worker of source `shop` with one synced table `public.t (id bigint
/// key, v text)`, upstream relation 1.
async fn worker(root: &std::path::Path) -> (Worker, Arc<TableHandle>) {
    let store = Store::open(root, "public").await.unwrap();
    let schema = Schema::builder()
        .with_fields(vec![
            NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
            NestedField::optional(2, "v", Type::Primitive(PrimitiveType::String)).into(),
        ])
        .with_identifier_field_ids(vec![1])
        .build()
        .unwrap();
    let properties = HashMap::from([
        (props::SOURCE.to_string(), "shop".to_string()),
        (props::SOURCE_ID.to_string(), "1".to_string()),
        (props::RELATION.to_string(), "public.t".to_string()),
        (props::SYNCED.to_string(), "true".to_string()),
    ]);
    let definition = floe_storage::TableDefinition {
        schema,
        partition_spec: None,
        sort_order: None,
        properties,
    };
    let handle = store
        .create_table("public", "t", definition, false)
        .await
        .unwrap()
        .unwrap();
    let spec = spec();
    let state = SourceState {
        id: spec.id.clone(),
        paused: Default::default(),
    };
    let shared = new_shared(spec, root.join("shop.state"), state);
    let mut worker = Worker::new(store, shared);
    worker.tables.insert("public.t".into(), handle.clone());
    let relation = Relation {
        id: 1,
        namespace: "public".into(),
        name: "t".into(),
        replica_identity: b'd',
        columns: vec![
            RelColumn {
                key: true,
                name: "id".into(),
                type_oid: 20,
                type_mod: -1,
            },
            RelColumn {
                key: false,
                name: "v".into(),
                type_oid: 25,
                type_mod: -1,
            },
        ],
    };
    worker.relations.insert(
        1,
        RelState {
            relation: Arc::new(relation),
            upstream: "public.t".into(),
            target: Some(handle.clone()),
            from_lsn: 0,
            paused: false,
        },
    );
    worker.publish_tables();
    (worker, handle)
}

fn row(id: i64, v: &str) -> Vec<Value> {
    vec![Value::Text(id.to_string()), Value::Text(v.into())]
}

/// The rows of `ids` in the table, as (id, v).
async fn rows(handle: &Arc<TableHandle>, ids: &[i64]) -> Vec<(i64, Option<String>)> {
    let schema = handle.arrow_schema().unwrap();
    let keys = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(StringArray::from(vec![None::<&str>; ids.len()])),
        ],
    )
    .unwrap();
    let found = handle
        .begin()
        .await
        .unwrap()
        .rows_by_key(&keys)
        .await
        .unwrap();
    let mut out = Vec::new();
    for batch in found {
        let id = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let v = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        for i in 0..batch.num_rows() {
            out.push((id.value(i), (!v.is_null(i)).then(|| v.value(i).to_string())));
        }
    }
    out.sort();
    out
}

fn spill_files(root: &std::path::Path) -> usize {
    std::fs::read_dir(crate::spill::dir(root)).map_or(0, |d| d.count())
}

#[tokio::test]
async fn issue14_a_transaction_larger_than_memory_goes_to_a_file_and_applies_whole() {
    let root = tempfile::tempdir().unwrap();
    let (mut worker, handle) = worker(root.path()).await;
    worker.txn_memory_changes = 10;
    let (client, mut server) = tokio::io::duplex(1 << 16);
    let drain = tokio::spawn(async move {
        let mut sink = vec![0u8; 4096];
        while matches!(server.read(&mut sink).await, Ok(n) if n > 0) {}
    });
    let mut repl = ReplConn::over(client, "shop");
    let mut txn = None;
    let mut pending = Pending::default();

    // A small transaction first: it stays in memory.
    let small = [
        Message::Begin {
            final_lsn: 0x100,
            commit_time: 0,
            xid: 1,
        },
        Message::Insert {
            relation: 1,
            new: row(100, "small"),
        },
        Message::Commit {
            commit_lsn: 0x100,
            end_lsn: 0x110,
            commit_time: 0,
        },
    ];
    for m in small {
        worker.on_message(m, &mut txn, &mut pending).unwrap();
    }
    assert!(pending.spilled.is_none());

    // 25 inserts, 5 updates and a delete: 31 changes, over the limit of 10.
    worker
        .on_message(
            Message::Begin {
                final_lsn: 0x200,
                commit_time: 0,
                xid: 2,
            },
            &mut txn,
            &mut pending,
        )
        .unwrap();
    let mut changes: Vec<Message> = (1..=25)
        .map(|id| Message::Insert {
            relation: 1,
            new: row(id, "a"),
        })
        .collect();
    changes.extend((1..=5).map(|id| Message::Update {
        relation: 1,
        old: None,
        new: row(id, "b"),
    }));
    changes.push(Message::Delete {
        relation: 1,
        old: vec![Value::Text("25".into()), Value::Null],
    });
    for m in changes {
        worker.on_message(m, &mut txn, &mut pending).unwrap();
        // Never more than the limit in memory.
        assert!(txn.as_ref().unwrap().ops.len() < 10);
    }
    assert!(txn.as_ref().unwrap().spill.is_some());
    assert_eq!(spill_files(root.path()), 1);
    let snapshots_before = handle.table().metadata().snapshots().count();
    worker
        .on_message(
            Message::Commit {
                commit_lsn: 0x200,
                end_lsn: 0x210,
                commit_time: 0,
            },
            &mut txn,
            &mut pending,
        )
        .unwrap();
    assert!(pending.spilled.is_some());
    worker
        .apply(&mut pending, &mut repl, &mut txn)
        .await
        .unwrap();

    let ids: Vec<i64> = (1..=25).chain([100]).collect();
    let mut want: Vec<(i64, Option<String>)> = (1..=5)
        .map(|id| (id, Some("b".to_string())))
        .chain((6..=24).map(|id| (id, Some("a".to_string()))))
        .collect();
    want.push((100, Some("small".to_string())));
    assert_eq!(rows(&handle, &ids).await, want);
    // Applied in parts (the small transaction, then 3 parts and the last).
    let snapshots = handle.table().metadata().snapshots().count() - snapshots_before;
    assert!(snapshots >= 4, "{snapshots} snapshots");
    // The table is applied through the large transaction, and so is the slot.
    assert_eq!(Worker::applied_lsn(&handle), 0x210);
    assert_eq!(worker.confirmed, 0x210);
    assert_eq!(worker.shared.status().tables["public.t"].rows_applied, 32);
    assert_eq!(spill_files(root.path()), 0);
    drop(repl);
    drain.await.unwrap();
}

#[tokio::test]
async fn issue14_a_spilled_transaction_left_by_a_stop_is_removed() {
    let root = tempfile::tempdir().unwrap();
    let (mut worker, _handle) = worker(root.path()).await;
    worker.txn_memory_changes = 2;
    let mut txn = None;
    let mut pending = Pending::default();
    worker
        .on_message(
            Message::Begin {
                final_lsn: 0x200,
                commit_time: 0,
                xid: 3,
            },
            &mut txn,
            &mut pending,
        )
        .unwrap();
    for id in 1..=5 {
        let m = Message::Insert {
            relation: 1,
            new: row(id, "x"),
        };
        worker.on_message(m, &mut txn, &mut pending).unwrap();
    }
    assert_eq!(spill_files(root.path()), 1);
    // The connection drops mid-transaction: the server sends it again.
    drop(txn);
    assert_eq!(spill_files(root.path()), 0);
    // A file a crash left behind goes when the worker starts.
    std::fs::write(crate::spill::dir(root.path()).join("shop.9.ops"), b"x").unwrap();
    crate::spill::clean(root.path(), "shop");
    assert_eq!(spill_files(root.path()), 0);
}
