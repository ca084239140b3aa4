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

/// Writes a segment file by hand: records of `(lsn, group, payload)`.
fn write_segment(dir: &Path, first: Lsn, records: &[(Lsn, Lsn, &[u8])]) -> (PathBuf, Vec<usize>) {
    let mut bytes = b"FLOEWAL2".to_vec();
    let mut offsets = Vec::new();
    for (lsn, group, payload) in records {
        offsets.push(bytes.len());
        segment::encode(&mut bytes, *lsn, *group, "t", payload);
    }
    let path = dir.join(format!("{first:020}.wal"));
    std::fs::write(&path, bytes).unwrap();
    (path, offsets)
}

fn flip_byte(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn issue14_a_last_segment_with_only_its_header_does_not_wedge_the_log() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let (wal, _) = open(dir.path());
        wal.append("a", b"one").await.unwrap();
    });
    // A crash right after the next segment was created, before its first
    // record reached the disk.
    write_segment(dir.path(), 2, &[]);
    for round in 0..2 {
        rt().block_on(async {
            let (wal, replayed) = open(dir.path());
            assert_eq!(replayed.len(), 1 + round, "round {round}");
            let lsn = wal.append("a", b"more").await.unwrap();
            assert_eq!(lsn, 2 + round as u64);
        });
    }
    let (_, replayed) = open(dir.path());
    assert_eq!(
        replayed.iter().map(|e| e.lsn).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}

#[test]
fn issue14_a_torn_first_record_leaves_a_log_that_accepts_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_segment(dir.path(), 1, &[(1, 1, b"never acknowledged")]);
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 4)
        .unwrap();
    rt().block_on(async {
        let (wal, replayed) = open(dir.path());
        assert!(replayed.is_empty());
        assert_eq!(wal.append("a", b"first").await.unwrap(), 1);
    });
    let (_, replayed) = open(dir.path());
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].payload, b"first");
}

#[test]
fn issue14_a_torn_group_is_cut_off_even_if_later_records_of_it_are_intact() {
    let dir = tempfile::tempdir().unwrap();
    // Group 2 (LSNs 2..=4) was being written when the power went: its pages
    // reached the disk in any order, so record 2 is torn while 3 and 4 are whole.
    let (path, offsets) = write_segment(
        dir.path(),
        1,
        &[
            (1, 1, b"acknowledged"),
            (2, 2, b"torn"),
            (3, 2, b"c"),
            (4, 2, b"d"),
        ],
    );
    flip_byte(&path, offsets[1] + 20);
    let (wal, replayed) = open(dir.path());
    assert_eq!(replayed.iter().map(|e| e.lsn).collect::<Vec<_>>(), vec![1]);
    assert_eq!(wal.last_lsn(), 1);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), offsets[1] as u64);
}

#[test]
fn issue14_damage_followed_by_a_later_group_is_an_error_not_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    // Record 2 was synced and acknowledged before group 3 was written; a
    // bad checksum there is damage, and cutting it off would lose record 3 too.
    let (path, offsets) = write_segment(
        dir.path(),
        1,
        &[
            (1, 1, b"a"),
            (2, 2, b"acknowledged"),
            (3, 3, b"acknowledged too"),
        ],
    );
    flip_byte(&path, offsets[1] + 20);
    let before = std::fs::read(&path).unwrap();
    let err = Wal::open(dir.path(), WalOptions::default(), 0).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, WalError::Corrupt { .. }), "{msg}");
    assert!(msg.contains("checksum mismatch"), "{msg}");
    assert!(msg.contains("LSN 3"), "{msg}");
    assert!(msg.contains(&format!("byte {}", offsets[1])), "{msg}");
    // Nothing was truncated: the operator decides.
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn issue14_segments_of_the_first_format_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    // FLOEWAL1 body: lsn | key length | key | payload.
    let mut bytes = b"FLOEWAL1".to_vec();
    for (lsn, payload) in [(1u64, &b"x"[..]), (2, b"yz")] {
        let mut body = lsn.to_le_bytes().to_vec();
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(b"t");
        body.extend_from_slice(payload);
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
    }
    std::fs::write(dir.path().join(format!("{:020}.wal", 1)), bytes).unwrap();
    rt().block_on(async {
        let (wal, replayed) = open(dir.path());
        assert_eq!(replayed[1].payload, b"yz");
        assert_eq!(wal.append("t", b"new").await.unwrap(), 3);
    });
    let (_, replayed) = open(dir.path());
    assert_eq!(replayed.len(), 3);
}
