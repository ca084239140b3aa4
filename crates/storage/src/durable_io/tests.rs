use super::*;

#[tokio::test]
async fn files_are_written_whole_into_new_directories() {
    let dir = tempfile::tempdir().unwrap();
    let storage = DurableFsStorage::default();
    let one_shot = dir.path().join("t/metadata/00001.metadata.json");
    let location = format!("file://{}", one_shot.display());
    storage
        .write(&location, Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&one_shot).unwrap(), b"{}");

    let streamed = dir.path().join("t/data/day=2026-12-05/a.parquet");
    let mut writer = storage.writer(streamed.to_str().unwrap()).await.unwrap();
    writer.write(Bytes::from_static(b"PAR1")).await.unwrap();
    writer.write(Bytes::from_static(b"...")).await.unwrap();
    writer.close().await.unwrap();
    assert!(writer.close().await.is_err(), "a second close is an error");
    assert_eq!(std::fs::read(&streamed).unwrap(), b"PAR1...");
    assert_eq!(
        storage.read(&location).await.unwrap(),
        Bytes::from_static(b"{}")
    );
}

#[test]
fn locations_map_to_local_paths() {
    assert_eq!(local_path("file:///a/b"), PathBuf::from("/a/b"));
    assert_eq!(local_path("file:/a/b"), PathBuf::from("/a/b"));
    assert_eq!(local_path("/a/b"), PathBuf::from("/a/b"));
}
