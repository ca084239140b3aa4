use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use floe_common::HasStatus;
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{Catalog, ErrorKind, NamespaceIdent, TableCreation, TableIdent, TableUpdate};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use super::SqliteCatalog;
use crate::Store;
use crate::store::tests::{definition, live_rows, rows};

/// A connection of its own to the catalog database at `path` that holds
/// the database's write lock, as another SQLite client writing the catalog
/// may.
async fn lock_catalog(path: &Path) -> SqliteConnection {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// Releases the lock `conn` holds after `hold`.
async fn release_after(mut conn: SqliteConnection, hold: Duration) {
    tokio::time::sleep(hold).await;
    sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
}

#[tokio::test]
async fn issue14_one_catalog_pool_waits_out_another_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "public").await.unwrap();
    let catalog = store.data_dir().catalog_path();
    // Longer than SQLite's default busy timeout of 5 seconds.
    let hold = Duration::from_secs(7);

    // Creating a table waits for the lock rather than failing.
    let held = lock_catalog(&catalog).await;
    let (created, ()) = tokio::join!(
        store.create_table("public", "t", definition(), false),
        release_after(held, hold)
    );
    let t = created.unwrap().unwrap();

    // So does committing an append through the Iceberg transaction API.
    let mut append = t.append().unwrap();
    append.write(rows(&t, &[1, 2, 3], Some("n"))).await.unwrap();
    let held = lock_catalog(&catalog).await;
    let (committed, ()) = tokio::join!(append.commit(), release_after(held, hold));
    assert_eq!(committed.unwrap().rows, 3);

    drop((t, store));
    let store = Store::open(dir.path(), "public").await.unwrap();
    let t = store.table("public", "t").unwrap();
    assert_eq!(live_rows(&t).await.len(), 3);
}

/// A catalog in `dir`, as a data directory holds it.
async fn open(dir: &Path) -> SqliteCatalog {
    SqliteCatalog::open(&dir.join("catalog.db"), "floe", &dir.join("warehouse"))
        .await
        .unwrap()
}

/// A catalog in `dir` with namespace `s` holding table `t`.
async fn open_with_table(dir: &Path) -> (SqliteCatalog, Table) {
    let catalog = open(dir).await;
    catalog
        .create_namespace(&ns("s"), HashMap::new())
        .await
        .unwrap();
    let table = catalog.create_table(&ns("s"), creation("t")).await.unwrap();
    (catalog, table)
}

fn ns(name: &str) -> NamespaceIdent {
    NamespaceIdent::from_strs(name.split('.')).unwrap()
}

fn creation(name: &str) -> TableCreation {
    TableCreation::builder()
        .name(name.to_string())
        .schema(definition().schema)
        .build()
}

#[tokio::test]
async fn the_catalog_has_the_iceberg_sql_catalog_layout() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(dir.path()).await;
    let columns = |table: &'static str| {
        let pool = catalog.pool.clone();
        async move {
            let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(&format!(
                "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}') ORDER BY cid"
            ))
            .fetch_all(&pool)
            .await
            .unwrap();
            rows
        }
    };
    let text = |name: &str, ty: &str, not_null: i64, pk: i64| {
        (name.to_string(), ty.to_string(), not_null, pk)
    };
    assert_eq!(
        columns("iceberg_tables").await,
        vec![
            text("catalog_name", "VARCHAR(255)", 1, 1),
            text("table_namespace", "VARCHAR(255)", 1, 2),
            text("table_name", "VARCHAR(255)", 1, 3),
            text("metadata_location", "VARCHAR(1000)", 0, 0),
            text("previous_metadata_location", "VARCHAR(1000)", 0, 0),
            text("iceberg_type", "VARCHAR(5)", 0, 0),
        ]
    );
    assert_eq!(
        columns("iceberg_namespace_properties").await,
        vec![
            text("catalog_name", "VARCHAR(255)", 1, 1),
            text("namespace", "VARCHAR(255)", 1, 2),
            text("property_key", "VARCHAR(255)", 0, 3),
            text("property_value", "VARCHAR(1000)", 0, 0),
        ]
    );
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&catalog.pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn namespaces_are_created_listed_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(dir.path()).await;
    assert!(catalog.list_namespaces(None).await.unwrap().is_empty());
    let props = HashMap::from([("owner".to_string(), "ops".to_string())]);
    let created = catalog.create_namespace(&ns("a"), props).await.unwrap();
    assert_eq!(created.properties()["exists"], "true");
    catalog
        .create_namespace(&ns("a.b"), HashMap::new())
        .await
        .unwrap();
    catalog
        .create_namespace(&ns("c"), HashMap::new())
        .await
        .unwrap();
    let err = catalog
        .create_namespace(&ns("a"), HashMap::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NamespaceAlreadyExists, "{err}");

    assert_eq!(
        catalog.list_namespaces(None).await.unwrap(),
        vec![ns("a"), ns("c")]
    );
    assert_eq!(
        catalog.list_namespaces(Some(&ns("a"))).await.unwrap(),
        vec![ns("a.b")]
    );
    let err = catalog.list_namespaces(Some(&ns("x"))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NamespaceNotFound, "{err}");

    catalog
        .update_namespace(
            &ns("a"),
            HashMap::from([("owner".to_string(), "dev".to_string())]),
        )
        .await
        .unwrap();
    let a = catalog.get_namespace(&ns("a")).await.unwrap();
    assert_eq!(
        a.properties(),
        &HashMap::from([
            ("exists".to_string(), "true".to_string()),
            ("owner".to_string(), "dev".to_string()),
        ])
    );

    catalog.create_table(&ns("c"), creation("t")).await.unwrap();
    let err = catalog.drop_namespace(&ns("c")).await.unwrap_err();
    assert!(err.to_string().contains("holds 1 table"), "{err}");
    catalog
        .drop_table(&TableIdent::new(ns("c"), "t".into()))
        .await
        .unwrap();
    catalog.drop_namespace(&ns("c")).await.unwrap();
    assert!(!catalog.namespace_exists(&ns("c")).await.unwrap());
    let err = catalog.drop_namespace(&ns("c")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NamespaceNotFound, "{err}");
}

#[tokio::test]
async fn tables_are_created_loaded_renamed_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(dir.path()).await;
    catalog
        .create_namespace(&ns("s"), HashMap::new())
        .await
        .unwrap();
    let err = catalog
        .create_table(&ns("nope"), creation("t"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NamespaceNotFound, "{err}");

    let t = TableIdent::new(ns("s"), "t".into());
    let created = catalog.create_table(&ns("s"), creation("t")).await.unwrap();
    let location = format!("file://{}/s/t", dir.path().join("warehouse").display());
    assert_eq!(created.metadata().location(), location);
    let metadata_location = created.metadata_location().unwrap().to_string();
    assert!(
        metadata_location.starts_with(&format!("{location}/metadata/00000-")),
        "{metadata_location}"
    );
    let err = catalog
        .create_table(&ns("s"), creation("t"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableAlreadyExists, "{err}");

    let loaded = catalog.load_table(&t).await.unwrap();
    assert_eq!(loaded.metadata_location(), Some(metadata_location.as_str()));
    assert_eq!(loaded.metadata().uuid(), created.metadata().uuid());
    assert!(catalog.table_exists(&t).await.unwrap());
    assert_eq!(
        catalog.list_tables(&ns("s")).await.unwrap(),
        vec![t.clone()]
    );

    let u = TableIdent::new(ns("s"), "u".into());
    catalog.rename_table(&t, &u).await.unwrap();
    assert!(!catalog.table_exists(&t).await.unwrap());
    assert_eq!(
        catalog.load_table(&u).await.unwrap().metadata().uuid(),
        created.metadata().uuid()
    );
    let err = catalog.load_table(&t).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableNotFound, "{err}");

    catalog.drop_table(&u).await.unwrap();
    assert!(catalog.list_tables(&ns("s")).await.unwrap().is_empty());
    let err = catalog.drop_table(&u).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TableNotFound, "{err}");

    // The files stay: the table can be registered again from them.
    let registered = catalog
        .register_table(&t, metadata_location.clone())
        .await
        .unwrap();
    assert_eq!(registered.metadata().uuid(), created.metadata().uuid());
    assert!(catalog.table_exists(&t).await.unwrap());
}

#[tokio::test]
async fn a_namespace_location_places_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = open(dir.path()).await;
    let elsewhere = format!("file://{}/elsewhere/", dir.path().display());
    catalog
        .create_namespace(
            &ns("s"),
            HashMap::from([("location".to_string(), elsewhere.clone())]),
        )
        .await
        .unwrap();
    let table = catalog.create_table(&ns("s"), creation("t")).await.unwrap();
    assert_eq!(table.metadata().location(), format!("{elsewhere}t"));
}

#[tokio::test]
async fn rows_written_by_older_catalogs_are_tables() {
    // Catalogs from before views leave `iceberg_type` NULL.
    let dir = tempfile::tempdir().unwrap();
    let (catalog, table) = open_with_table(dir.path()).await;
    sqlx::query("UPDATE iceberg_tables SET iceberg_type = NULL")
        .execute(&catalog.pool)
        .await
        .unwrap();
    let t = TableIdent::new(ns("s"), "t".into());
    assert_eq!(
        catalog.list_tables(&ns("s")).await.unwrap(),
        vec![t.clone()]
    );
    assert_eq!(
        catalog.load_table(&t).await.unwrap().metadata_location(),
        table.metadata_location()
    );
}

#[tokio::test]
async fn update_table_applies_a_transaction_and_swaps_the_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, table) = open_with_table(dir.path()).await;
    let tx = Transaction::new(&table);
    let tx = tx
        .update_table_properties()
        .set("k".into(), "v".into())
        .apply(tx)
        .unwrap();
    let committed = tx.commit(&catalog).await.unwrap();
    assert_eq!(committed.metadata().properties()["k"], "v");
    let location = committed.metadata_location().unwrap();
    assert!(location.contains("/metadata/00001-"), "{location}");

    let t = TableIdent::new(ns("s"), "t".into());
    let loaded = catalog.load_table(&t).await.unwrap();
    assert_eq!(loaded.metadata_location(), Some(location));
    assert_eq!(loaded.metadata().properties()["k"], "v");
    let (current, previous): (String, String) =
        sqlx::query_as("SELECT metadata_location, previous_metadata_location FROM iceberg_tables")
            .fetch_one(&catalog.pool)
            .await
            .unwrap();
    assert_eq!(current, location);
    assert_eq!(Some(previous.as_str()), table.metadata_location());
}

#[tokio::test]
async fn a_swap_from_a_stale_base_conflicts_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, base) = open_with_table(dir.path()).await;
    let with_property = |value: &str| {
        TableUpdate::SetProperties {
            updates: HashMap::from([("k".to_string(), value.to_string())]),
        }
        .apply(
            base.metadata()
                .clone()
                .into_builder(base.metadata_location().map(str::to_string)),
        )
        .unwrap()
        .build()
        .unwrap()
        .metadata
    };
    let uuid = base.metadata().uuid().to_string();

    let first = catalog
        .swap_with_keys(&base, with_property("1"), &[("key-1".to_string(), 5)])
        .await
        .unwrap();
    let err = catalog
        .swap_with_keys(&base, with_property("2"), &[("key-2".to_string(), 7)])
        .await
        .unwrap_err();
    assert_eq!(
        err.status(),
        floe_common::Status::SerializationFailure,
        "{err}"
    );

    let t = TableIdent::new(ns("s"), "t".into());
    let loaded = catalog.load_table(&t).await.unwrap();
    assert_eq!(loaded.metadata_location(), first.metadata_location());
    assert_eq!(loaded.metadata().properties()["k"], "1");
    let keys = catalog.load_keys(i64::MAX).await.unwrap();
    let recorded: Vec<(&str, u64)> = keys[&uuid]
        .iter()
        .map(|(k, rows, _)| (k.as_str(), *rows))
        .collect();
    assert_eq!(recorded, vec![("key-1", 5)]);
}
