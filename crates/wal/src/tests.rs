use super::*;

fn open(dir: &Path) -> (Wal, Vec<Entry>) {
    Wal::open(dir, WalOptions::default(), 0).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn records_survive_reopen_in_order() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let (wal, replayed) = open(dir.path());
        assert!(replayed.is_empty());
        assert_eq!(wal.append("a", b"one").await.unwrap(), 1);
        assert_eq!(wal.append("b", b"two").await.unwrap(), 2);
        assert_eq!(wal.append("a", b"").await.unwrap(), 3);
        assert_eq!(wal.durable_lsn(), 3);
    });
    let (wal, replayed) = open(dir.path());
    let got: Vec<_> = replayed
        .iter()
        .map(|e| (e.lsn, e.key.as_str(), e.payload.as_slice()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "a", &b"one"[..]),
            (2, "b", &b"two"[..]),
            (3, "a", &b""[..])
        ]
    );
    // LSNs continue after the replayed ones.
    assert_eq!(wal.submit("a", b"x").unwrap(), 4);
}

#[test]
fn lsns_never_go_below_the_owners_floor() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(dir.path(), WalOptions::default(), 100).unwrap();
    assert_eq!(wal.submit("a", b"x").unwrap(), 100);
}

#[test]
fn concurrent_appends_share_fsyncs_and_all_become_durable() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (wal, _) = open(dir.path());
    let wal = Arc::new(wal);
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..64u32 {
            let wal = wal.clone();
            tasks.push(tokio::spawn(async move {
                wal.append("t", &i.to_le_bytes()).await.unwrap()
            }));
        }
        let mut lsns = Vec::new();
        for t in tasks {
            lsns.push(t.await.unwrap());
        }
        lsns.sort();
        assert_eq!(lsns, (1..=64).collect::<Vec<_>>());
    });
    // Group commit: appends that arrive while a sync runs share the next one.
    assert!(wal.sync_count() < 64, "{} syncs", wal.sync_count());
    drop(wal);
    let (_, replayed) = open(dir.path());
    assert_eq!(replayed.len(), 64);
}

#[test]
fn a_torn_tail_is_cut_off_and_later_records_follow_it() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let (wal, _) = open(dir.path());
        wal.append("a", b"kept").await.unwrap();
        wal.append("a", b"torn away").await.unwrap();
    });
    let segment = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let len = std::fs::metadata(&segment).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    rt().block_on(async {
        let (wal, replayed) = open(dir.path());
        assert_eq!(replayed.len(), 1);
        assert_eq!(replayed[0].payload, b"kept");
        assert_eq!(wal.append("a", b"next").await.unwrap(), 2);
    });
    let (_, replayed) = open(dir.path());
    let payloads: Vec<_> = replayed.iter().map(|e| e.payload.clone()).collect();
    assert_eq!(payloads, vec![b"kept".to_vec(), b"next".to_vec()]);
}

#[test]
fn damage_before_the_last_segment_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let (wal, _) = open(dir.path());
        wal.append("a", b"first segment").await.unwrap();
    });
    rt().block_on(async {
        let (wal, _) = open(dir.path());
        wal.append("a", b"second segment").await.unwrap();
    });
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2);
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&files[0], bytes).unwrap();
    let err = Wal::open(dir.path(), WalOptions::default(), 0).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, WalError::Corrupt { .. }), "{msg}");
    assert!(msg.contains("checksum mismatch"), "{msg}");
    assert!(
        msg.contains(&*files[0].file_name().unwrap().to_string_lossy()),
        "{msg}"
    );
}

#[test]
fn released_segments_are_deleted_and_unreleased_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions {
        segment_bytes: 64,
        ..WalOptions::default()
    };
    rt().block_on(async {
        let (wal, _) = Wal::open(dir.path(), options.clone(), 0).unwrap();
        for i in 0..10u8 {
            let key = if i % 2 == 0 { "even" } else { "odd" };
            wal.append(key, &[i; 40]).await.unwrap();
        }
        assert_eq!(wal.segment_count(), 10);
        wal.release("even", 9);
        // Segments holding "odd" records are still needed.
        assert_eq!(wal.segment_count(), 5);
        wal.forget("odd");
        // Only the segment being written remains.
        assert_eq!(wal.segment_count(), 1);
    });
    let (_, replayed) = Wal::open(dir.path(), options, 0).unwrap();
    assert_eq!(replayed.iter().map(|e| e.lsn).collect::<Vec<_>>(), vec![10]);
}

#[test]
fn oversized_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions {
        max_record_bytes: 100,
        ..WalOptions::default()
    };
    let (wal, _) = Wal::open(dir.path(), options, 0).unwrap();
    let err = wal.submit("a", &[0; 200]).unwrap_err();
    assert!(matches!(err, WalError::TooLarge { .. }));
    assert_eq!(err.status(), Status::ProgramLimitExceeded);
}
