use super::*;
use crate::StorageError;

fn failure(reason: &str) -> crate::Result<()> {
    Err(StorageError::DataFileIo {
        path: "f.parquet".into(),
        reason: reason.into(),
    })
}

#[test]
fn issue14_the_error_log_keeps_each_kinds_last_failure_until_it_succeeds() {
    let log = ErrorLog::default();
    assert_eq!(log.last(), None);
    log.record("vacuum", &failure("one"));
    log.record("flush", &failure("two"));
    log.record("flush", &failure("three"));
    let last = log.last().unwrap();
    let lines: Vec<&str> = last.lines().collect();
    assert_eq!(lines.len(), 2, "{last}");
    assert!(
        lines[0].starts_with("flush: ") && lines[0].contains("three"),
        "{last}"
    );
    assert!(
        lines[1].starts_with("vacuum: ") && lines[1].contains("one"),
        "{last}"
    );
    log.record("flush", &Ok(()));
    let last = log.last().unwrap();
    assert!(
        last.starts_with("vacuum: ") && !last.contains('\n'),
        "{last}"
    );
    log.record("vacuum", &Ok(1));
    assert_eq!(log.last(), None);
}
