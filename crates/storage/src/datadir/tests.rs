use super::*;

#[test]
fn second_open_of_a_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = DataDir::open(dir.path()).unwrap();
    let err = DataDir::open(dir.path()).unwrap_err();
    assert!(matches!(err, StorageError::DataDirLocked { .. }), "{err}");
    assert!(err.to_string().contains("in use"), "{err}");
    drop(first);
    DataDir::open(dir.path()).expect("lock is released when the owner goes away");
}
