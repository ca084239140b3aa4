use std::collections::BTreeSet;
use std::sync::Arc;

use super::*;

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
