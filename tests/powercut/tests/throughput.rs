//! Throughput checks, ignored by default; run them with
//! `cargo test --release --test throughput -- --ignored --nocapture`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::process::Command;
use std::time::Instant;

use crate::common::{Powercut, fsync_dir};

/// `dd` of 200 MB with conv=fsync into a new file, then read back after a
/// power cut.
#[test]
#[ignore = "throughput measurement"]
fn dd_200_mb_with_fsync() {
    let Some(mut pc) = Powercut::start() else {
        return;
    };
    let target = pc.path("big");
    let output = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", target.display()))
        .args(["bs=1M", "count=200", "conv=fsync"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    eprintln!(
        "dd write: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    fsync_dir(&pc.mountpoint());

    let output = Command::new("dd")
        .arg(format!("if={}", target.display()))
        .args(["of=/dev/null", "bs=1M"])
        .output()
        .unwrap();
    eprintln!(
        "dd read: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );

    let start = Instant::now();
    pc.cycle();
    eprintln!("cut and remount with 200 MB durable: {:?}", start.elapsed());
    assert_eq!(fs::metadata(&target).unwrap().len(), 200 << 20);
}

/// Small appends, each followed by fdatasync, as a write-ahead log does.
#[test]
#[ignore = "throughput measurement"]
fn small_appends_with_fdatasync() {
    let Some(mut pc) = Powercut::start() else {
        return;
    };
    let path = pc.path("wal");
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .unwrap();
    fsync_dir(&pc.mountpoint());
    let record = [0x5au8; 4096];
    let count = 5000;
    let start = Instant::now();
    for _ in 0..count {
        file.write_all(&record).unwrap();
        file.sync_data().unwrap();
    }
    let elapsed = start.elapsed();
    eprintln!(
        "{count} appends of 4 KiB with fdatasync: {:?}, {:.0} commits/s, {:.1} MB/s",
        elapsed,
        count as f64 / elapsed.as_secs_f64(),
        (count * record.len()) as f64 / elapsed.as_secs_f64() / 1e6
    );
    drop(file);
    pc.cycle();
    assert_eq!(
        File::open(&path).unwrap().metadata().unwrap().len(),
        (count * record.len()) as u64
    );
}
