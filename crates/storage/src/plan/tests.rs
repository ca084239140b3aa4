use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use iceberg::expr::{Predicate, Reference};
use iceberg::spec::Datum;
use iceberg::table::Table;

use super::PlanCache;
use crate::TableHandle;
use crate::store::tests::{definition, new_quiet_table, new_table, replace_rows, rows};

/// Each live file's location with its deleted positions.
type Plan = BTreeMap<String, BTreeSet<u64>>;

async fn plan_with(cache: &PlanCache, table: &Table, snapshot: Option<i64>) -> Plan {
    cache
        .live_files(table, snapshot, None)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.location, (*f.deleted).clone()))
        .collect()
}

/// The table's plan from its own cache, checked against one read afresh.
async fn checked_plan(handle: &Arc<TableHandle>) -> Plan {
    let table = handle.table();
    let cached = plan_with(&handle.plans, &table, None).await;
    let fresh = plan_with(&PlanCache::default(), &table, None).await;
    assert_eq!(cached, fresh, "a cached plan differs from a fresh one");
    cached
}

async fn keyed(handle: &Arc<TableHandle>, upserts: &[i64], deletes: &[i64], tag: &str) {
    let change = handle.begin().await.unwrap();
    change
        .commit_keyed(
            vec![rows(handle, upserts, Some(tag))],
            vec![rows(handle, deletes, None)],
            &[],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn issue4_cached_plans_follow_every_kind_of_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, handle) = new_table(dir.path(), definition()).await;
    assert!(checked_plan(&handle).await.is_empty());

    replace_rows(&handle, &(0..50).collect::<Vec<_>>(), "a").await;
    let loaded = handle.table().metadata().current_snapshot_id().unwrap();
    let first = checked_plan(&handle).await;
    assert_eq!(first.len(), 1);

    // Each change adds delete files; the deleted positions grow with them.
    let mut deleted = 0;
    for round in 0..6i64 {
        keyed(&handle, &[round * 3, 100 + round], &[round * 3 + 1], "b").await;
        let plan = checked_plan(&handle).await;
        let now: usize = plan.values().map(BTreeSet::len).sum();
        assert!(
            now > deleted,
            "round {round}: deleted positions did not grow"
        );
        deleted = now;
    }
    // A new row replaced by key is deleted from the file it was added in.
    keyed(&handle, &[101], &[100], "c").await;
    checked_plan(&handle).await;

    // An earlier snapshot still plans as it was, and the current one after it.
    let old = handle.table_at(loaded).unwrap();
    assert_eq!(plan_with(&handle.plans, &old, Some(loaded)).await, first);
    checked_plan(&handle).await;

    // Compaction replaces files and drops their deletes.
    let summary = handle.compact(true).await.unwrap();
    assert!(summary.files_removed > 0, "{summary:?}");
    let plan = checked_plan(&handle).await;
    assert_eq!(plan.len(), 1);
    assert!(plan.values().all(BTreeSet::is_empty));

    keyed(&handle, &[7], &[8], "d").await;
    assert_eq!(checked_plan(&handle).await.len(), 2);

    handle.begin().await.unwrap().truncate().await.unwrap();
    assert!(checked_plan(&handle).await.is_empty());
}

#[tokio::test]
async fn files_are_pruned_by_their_bounds_and_null_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, handle) = new_table(dir.path(), definition()).await;
    for (ids, name) in [(vec![1, 5, 9], Some("n")), (vec![100, 105, 110], None)] {
        let change = handle.begin().await.unwrap();
        let mut append = change.append().unwrap();
        append.write(rows(&handle, &ids, name)).await.unwrap();
        change.commit_rows(Some(append), Vec::new()).await.unwrap();
    }
    let table = handle.table();
    let id = || Reference::new("id");
    // How many of the two files each predicate reads.
    let cases: Vec<(Predicate, usize)> = vec![
        (id().less_than(Datum::long(5)), 1),
        (id().less_than(Datum::long(1)), 0),
        (id().less_than_or_equal_to(Datum::long(1)), 1),
        (id().greater_than(Datum::long(110)), 0),
        (id().greater_than_or_equal_to(Datum::long(110)), 1),
        (id().equal_to(Datum::long(105)), 1),
        (id().equal_to(Datum::long(50)), 0),
        (id().not_equal_to(Datum::long(50)), 2),
        (id().is_in([Datum::long(3), Datum::long(200)]), 1),
        (id().is_in([Datum::long(50), Datum::long(200)]), 0),
        (
            id().less_than(Datum::long(2))
                .or(id().greater_than(Datum::long(109))),
            2,
        ),
        (
            id().greater_than(Datum::long(2))
                .and(id().less_than(Datum::long(50))),
            1,
        ),
        (!id().greater_than_or_equal_to(Datum::long(50)), 1),
        (Reference::new("name").is_null(), 1),
        (Reference::new("name").is_not_null(), 1),
        (Reference::new("name").starts_with(Datum::string("zz")), 2),
    ];
    for (predicate, files) in cases {
        let shown = predicate.to_string();
        let found = handle
            .live_files(&table, None, Some(predicate))
            .await
            .unwrap();
        assert_eq!(found.len(), files, "{shown}");
    }
}

/// A keyed table with `limit` bytes of plan cache (the default if `None`),
/// after a load and `rounds` changes by key, each planned.
async fn changed_table(
    dir: &std::path::Path,
    limit: Option<u64>,
    rounds: i64,
) -> (Arc<crate::Store>, Arc<TableHandle>) {
    let limit = limit.map(|limit| (crate::PLAN_CACHE_MAX_BYTES, limit));
    let (store, handle) = new_quiet_table(dir, limit).await;
    replace_rows(&handle, &(0..50).collect::<Vec<_>>(), "a").await;
    for round in 0..rounds {
        keyed(&handle, &[round * 3, 100 + round], &[round * 3 + 1], "b").await;
        checked_plan(&handle).await;
    }
    (store, handle)
}

#[tokio::test]
async fn issue14_the_plan_cache_reports_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, handle) = changed_table(dir.path(), None, 4).await;
    let (entries, bytes) = handle.plans.usage();
    // The manifest list, manifests, 4 delete files, the merged deletes of
    // the loaded file.
    assert!(entries >= 6, "{entries} entries");
    assert!(bytes > 1000, "{bytes} bytes");
    let reported = handle
        .caches()
        .into_iter()
        .find(|c| c.cache == "plan_cache")
        .unwrap();
    assert_eq!((reported.entries, reported.bytes), (entries, bytes));
    assert_eq!(reported.limit_bytes, crate::DEFAULT_PLAN_CACHE_BYTES);

    // More deletes, more bytes; compaction folds them away, and the cache
    // lets go of them.
    keyed(&handle, &[30, 31, 32], &[33, 34], "c").await;
    checked_plan(&handle).await;
    let (_, more) = handle.plans.usage();
    assert!(more > bytes, "{more} <= {bytes}");
    handle.compact(true).await.unwrap();
    checked_plan(&handle).await;
    let (after, fewer) = handle.plans.usage();
    assert!(
        fewer < more && after < entries,
        "{after} entries, {fewer} bytes"
    );

    handle.plans.clear();
    assert_eq!(handle.plans.usage(), (0, 0));
}

#[tokio::test]
async fn issue14_the_plan_cache_stays_within_its_limit_and_plans_alike() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, unbounded) = changed_table(dir.path(), None, 6).await;
    let (_, full) = unbounded.plans.usage();
    let limit = full / 2;
    let dir = tempfile::tempdir().unwrap();
    // `changed_table` checks every plan against one read afresh.
    let (_store, bounded) = changed_table(dir.path(), Some(limit), 6).await;
    let (entries, bytes) = bounded.plans.usage();
    assert!(bytes <= limit, "{bytes} bytes over the limit {limit}");
    assert!(entries > 0, "the cache let go of everything");
    // The tables live in different directories: compare deleted counts.
    let shape = |plan: Plan| {
        let mut deleted: Vec<usize> = plan.values().map(BTreeSet::len).collect();
        deleted.sort();
        deleted
    };
    assert_eq!(
        shape(checked_plan(&bounded).await),
        shape(checked_plan(&unbounded).await)
    );

    // A limit of 0 keeps nothing, and plans are still right.
    let dir = tempfile::tempdir().unwrap();
    let (_store, none) = changed_table(dir.path(), Some(0), 3).await;
    assert_eq!(none.plans.usage(), (0, 0));
}
