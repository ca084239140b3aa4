use std::collections::BTreeSet;
use std::sync::Arc;

use super::*;
use crate::store::tests::{live_rows, new_table, rows};

fn file(name: &str, size: u64, rows: u64, deleted: &[u64]) -> LiveFile {
    LiveFile {
        location: name.to_string(),
        path: name.to_string(),
        size,
        record_count: Some(rows),
        deleted: Arc::new(deleted.iter().copied().collect::<BTreeSet<u64>>()),
        partition: None,
    }
}

fn policy(min_input_files: usize) -> CompactionPolicy {
    CompactionPolicy {
        enabled: true,
        min_input_files,
        target_file_size: 128 << 20,
    }
}

fn names(groups: &[Vec<LiveFile>]) -> Vec<Vec<&str>> {
    groups
        .iter()
        .map(|g| g.iter().map(|f| f.location.as_str()).collect())
        .collect()
}

#[test]
fn issue_3_a_tier_is_compacted_once_it_has_enough_small_files() {
    let small = |n: usize| {
        (0..n)
            .map(|i| file(&format!("f{i}"), 100_000, 10, &[]))
            .collect()
    };
    assert!(plan(small(3), &policy(4), false).is_empty());
    assert_eq!(plan(small(4), &policy(4), false)[0].len(), 4);
}

#[test]
fn issue_3_files_of_different_tiers_are_not_merged_in_the_background() {
    // Three 100 KB files and three 20 MB files: neither tier has four.
    let mut files: Vec<LiveFile> = (0..3)
        .map(|i| file(&format!("s{i}"), 100_000, 10, &[]))
        .collect();
    files.extend((0..3).map(|i| file(&format!("m{i}"), 20 << 20, 10, &[])));
    assert!(plan(files.clone(), &policy(4), false).is_empty());
    // VACUUM merges all small files whatever their tier.
    assert_eq!(plan(files, &policy(4), true)[0].len(), 6);
}

#[test]
fn issue_3_target_size_files_are_left_alone_and_groups_stop_at_the_target() {
    let target = 128 << 20;
    let mut files = vec![file("big", target, 10, &[])];
    files.extend((0..6).map(|i| file(&format!("f{i}"), 40 << 20, 10, &[])));
    let groups = plan(files, &policy(2), true);
    assert_eq!(
        names(&groups),
        vec![vec!["f0", "f1", "f2"], vec!["f3", "f4", "f5"]]
    );
}

#[test]
fn issue_3_a_file_thinned_by_deletes_is_rewritten_even_alone() {
    let target = 128 << 20;
    let thinned = file("big", target, 100, &(0..20).collect::<Vec<_>>());
    assert_eq!(
        names(&plan(vec![thinned], &policy(4), false)),
        vec![vec!["big"]]
    );
    // A few deleted rows are not worth a rewrite in the background...
    let lightly = file("big", target, 100, &[1]);
    assert!(plan(vec![lightly.clone()], &policy(4), false).is_empty());
    // ...but VACUUM folds them away.
    assert_eq!(plan(vec![lightly], &policy(4), true).len(), 1);
}

#[test]
fn issue_3_compaction_properties_are_checked() {
    assert!(
        CompactionPolicy::check_property(COMPACTION_MIN_INPUT_FILES, "1")
            .is_some_and(|r| r.is_err())
    );
    assert!(
        CompactionPolicy::check_property(COMPACTION_ENABLED, "maybe").is_some_and(|r| r.is_err())
    );
    assert!(
        CompactionPolicy::check_property(COMPACTION_ENABLED, "FALSE").is_some_and(|r| r.is_ok())
    );
    assert!(CompactionPolicy::check_property("other", "x").is_none());
    let props = [(COMPACTION_ENABLED.to_string(), "false".to_string())].into();
    assert!(!CompactionPolicy::for_table(&props).enabled);
}

/// Compaction read three files; before it commits, changes by key delete
/// and replace rows of those files. The rewrite must carry those deletes
/// onto the new file (not resurrect the rows, not give up), whether the
/// rows keep their order or are sorted.
async fn rebase_case(descending: bool) {
    use iceberg::spec::{NullOrder, SortDirection, SortField, SortOrder, Transform};
    let dir = tempfile::tempdir().unwrap();
    let mut definition = crate::store::tests::definition();
    if descending {
        definition.sort_order = Some(
            SortOrder::builder()
                .with_sort_field(
                    SortField::builder()
                        .source_id(1)
                        .transform(Transform::Identity)
                        .direction(SortDirection::Descending)
                        .null_order(NullOrder::Last)
                        .build(),
                )
                .build_unbound()
                .unwrap(),
        );
    }
    let (_store, handle) = new_table(dir.path(), definition).await;
    for lo in [0i64, 10, 20] {
        let change = handle.begin().await.unwrap();
        let mut append = change.append().unwrap();
        append
            .write(rows(&handle, &(lo..lo + 10).collect::<Vec<_>>(), Some("a")))
            .await
            .unwrap();
        change.commit_rows(Some(append), Vec::new()).await.unwrap();
    }
    // A row already deleted when compaction reads stays deleted.
    let change = handle.begin().await.unwrap();
    change
        .commit_keyed(Vec::new(), vec![rows(&handle, &[3], None)], &[])
        .await
        .unwrap();

    let base = handle.table();
    let group = handle.live_files(&base, None, None).await.unwrap();
    assert_eq!(group.len(), 3);
    let change = handle.begin().await.unwrap();
    change
        .commit_keyed(
            vec![rows(&handle, &[25, 40], Some("b"))],
            vec![rows(&handle, &[5, 15, 29], None)],
            &[],
        )
        .await
        .unwrap();

    let before: BTreeSet<String> = handle
        .live_files(&handle.table(), None, None)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.location)
        .collect();
    let done = handle.rewrite(&base, group).await.unwrap();
    let done = done.expect("the rewrite was dropped instead of rebased");
    assert_eq!(done.files_removed, 3);
    // The new file's keys are indexed with the commit, not by the next change.
    let after = handle
        .live_files(&handle.table(), None, None)
        .await
        .unwrap();
    let new: Vec<&LiveFile> = after
        .iter()
        .filter(|f| !before.contains(&f.location))
        .collect();
    assert_eq!(new.len(), 1);
    assert!(handle.key_index.get(&new[0].location).is_some());

    let mut want: Vec<(i64, String)> = (0..30)
        .filter(|i| ![3, 5, 15, 25, 29].contains(i))
        .map(|i| (i, format!("a{i}")))
        .collect();
    want.push((25, "b25".into()));
    want.push((40, "b40".into()));
    want.sort();
    assert_eq!(live_rows(&handle).await, want);
    // The rewritten file, with the deletes of 5, 15, 29 and the old 25
    // carried over, and the file of the upserts.
    let files = handle
        .live_files(&handle.table(), None, None)
        .await
        .unwrap();
    assert_eq!(files.len(), 2, "{files:#?}");
    assert_eq!(files.iter().map(|f| f.deleted.len()).sum::<usize>(), 4);
}

#[tokio::test]
async fn issue4_compaction_racing_changes_by_key_carries_their_deletes() {
    rebase_case(false).await;
}

#[tokio::test]
async fn issue4_sorted_compaction_racing_changes_by_key_carries_their_deletes() {
    rebase_case(true).await;
}

#[test]
fn issue4_a_thinned_small_file_does_not_drag_a_large_file_into_its_rewrite() {
    let mut files: Vec<LiveFile> = vec![file("big", 60 << 20, 2_000_000, &[1, 2, 3])];
    files.push(file("thin", 100_000, 10, &[0, 1, 2]));
    files.push(file("other", 120_000, 10, &[]));
    let groups = plan(files, &policy(4), false);
    assert_eq!(names(&groups), vec![vec!["thin", "other"]]);
}
