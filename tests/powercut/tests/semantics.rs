//! What survives a power cut, through a real FUSE mount.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};

use crate::common::{Powercut, fsync_dir, python, write_synced};

macro_rules! powercut {
    () => {
        match Powercut::start() {
            Some(powercut) => powercut,
            None => return,
        }
    };
}

#[test]
fn file_and_directory_fsync_survive_a_cut() {
    let mut pc = powercut!();
    let contents: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    write_synced(&pc.path("a"), &contents);
    fsync_dir(&pc.mountpoint());
    pc.cycle();
    assert_eq!(fs::read(pc.path("a")).unwrap(), contents);
}

#[test]
fn writes_without_fsync_are_lost() {
    let mut pc = powercut!();
    write_synced(&pc.path("old"), b"durable contents");
    fsync_dir(&pc.mountpoint());

    fs::write(pc.path("old"), b"volatile").unwrap();
    fs::write(pc.path("new"), b"never synced").unwrap();
    fsync_dir(&pc.mountpoint());
    let file = OpenOptions::new().write(true).open(pc.path("old")).unwrap();
    file.write_all_at(b"VOLATILE TOO", 4).unwrap();
    drop(file);
    pc.cycle();

    assert_eq!(fs::read(pc.path("old")).unwrap(), b"durable contents");
    // "new" was made durable by the directory fsync, but only as an empty file.
    assert_eq!(fs::read(pc.path("new")).unwrap(), b"");

    fs::write(pc.path("newer"), b"never synced").unwrap();
    pc.cycle();
    assert!(!pc.path("newer").exists());
}

#[test]
fn file_fsync_without_directory_fsync_is_lost() {
    let mut pc = powercut!();
    write_synced(&pc.path("a"), b"synced file, unsynced directory");
    fs::create_dir(pc.path("d")).unwrap();
    write_synced(&pc.path("d/b"), b"inside a new directory");
    fsync_dir(&pc.path("d"));
    pc.cycle();
    assert!(!pc.path("a").exists());
    assert!(!pc.path("d").exists(), "the root was never synced");
    assert_eq!(fs::read_dir(pc.mountpoint()).unwrap().count(), 0);
}

#[test]
fn rename_is_durable_only_after_directory_fsync() {
    let mut pc = powercut!();
    write_synced(&pc.path("final"), b"old");
    fsync_dir(&pc.mountpoint());

    write_synced(&pc.path("tmp"), b"new");
    fs::rename(pc.path("tmp"), pc.path("final")).unwrap();
    assert_eq!(fs::read(pc.path("final")).unwrap(), b"new");
    pc.cycle();
    assert_eq!(fs::read(pc.path("final")).unwrap(), b"old");
    assert!(!pc.path("tmp").exists());

    write_synced(&pc.path("tmp"), b"new");
    fs::rename(pc.path("tmp"), pc.path("final")).unwrap();
    fsync_dir(&pc.mountpoint());
    pc.cycle();
    assert_eq!(fs::read(pc.path("final")).unwrap(), b"new");
    assert!(!pc.path("tmp").exists());
}

#[test]
fn unlink_without_directory_fsync_is_undone() {
    let mut pc = powercut!();
    write_synced(&pc.path("a"), b"still here");
    fsync_dir(&pc.mountpoint());
    fs::remove_file(pc.path("a")).unwrap();
    assert!(!pc.path("a").exists());
    pc.cycle();
    assert_eq!(fs::read(pc.path("a")).unwrap(), b"still here");

    fs::remove_file(pc.path("a")).unwrap();
    fsync_dir(&pc.mountpoint());
    pc.cycle();
    assert!(!pc.path("a").exists());
    assert_eq!(pc.stats()["files"], 0);
}

#[test]
fn truncate_with_and_without_fsync() {
    let mut pc = powercut!();
    write_synced(&pc.path("a"), b"0123456789");
    fsync_dir(&pc.mountpoint());

    OpenOptions::new()
        .write(true)
        .open(pc.path("a"))
        .unwrap()
        .set_len(3)
        .unwrap();
    assert_eq!(fs::metadata(pc.path("a")).unwrap().len(), 3);
    pc.cycle();
    assert_eq!(fs::read(pc.path("a")).unwrap(), b"0123456789");

    let file = OpenOptions::new().write(true).open(pc.path("a")).unwrap();
    file.set_len(3).unwrap();
    file.sync_all().unwrap();
    drop(file);
    pc.cycle();
    assert_eq!(fs::read(pc.path("a")).unwrap(), b"012");

    // O_TRUNC on open, then a sync of the (empty) file.
    let file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(pc.path("a"))
        .unwrap();
    assert_eq!(file.metadata().unwrap().len(), 0);
    file.sync_data().unwrap();
    drop(file);
    pc.cycle();
    assert_eq!(fs::read(pc.path("a")).unwrap(), b"");
}

#[test]
fn append_mode_writes_land_at_the_end() {
    let mut pc = powercut!();
    let path = pc.path("log");
    let open_append = || {
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .unwrap()
    };
    let mut a = open_append();
    let mut b = open_append();
    a.write_all(b"one\n").unwrap();
    b.write_all(b"two\n").unwrap();
    a.write_all(b"three\n").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"one\ntwo\nthree\n");
    assert_eq!(a.metadata().unwrap().len(), 14);

    // A truncate through another descriptor moves the end for both.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4)
        .unwrap();
    b.write_all(b"four\n").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"one\nfour\n");
    a.sync_data().unwrap();
    fsync_dir(&pc.mountpoint());
    a.write_all(b"lost\n").unwrap();
    drop((a, b));
    pc.cycle();
    assert_eq!(fs::read(&path).unwrap(), b"one\nfour\n");

    let mut a = open_append();
    for i in 0..200 {
        writeln!(a, "record {i}").unwrap();
        a.sync_data().unwrap();
    }
    drop(a);
    pc.cycle();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("one\nfour\nrecord 0\n"));
    assert!(text.ends_with("record 199\n"));
    assert_eq!(text.lines().count(), 202);
}

const MMAP_SCRIPT: &str = r#"
import mmap, os, sys
path, flush = sys.argv[1], sys.argv[2] == "flush"
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 8192)
m = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:5] = sys.argv[3].encode()
m[4096:4101] = sys.argv[3].encode()
if flush:
    m.flush()
m.close()
os.close(fd)
with open(path, "rb") as f:
    data = f.read()
print(data[0:5].decode(), data[4096:4101].decode(), len(data))
"#;

#[test]
fn shared_mmap_writes_and_msync() {
    let mut pc = powercut!();
    let path = pc.path("shm");
    let path = path.to_str().unwrap();
    assert_eq!(
        python(MMAP_SCRIPT, &[path, "flush", "first"]).trim(),
        "first first 8192"
    );
    fsync_dir(&pc.mountpoint());
    pc.cycle();
    let data = fs::read(path).unwrap();
    assert_eq!(
        (&data[0..5], &data[4096..4101], data.len()),
        (&b"first"[..], &b"first"[..], 8192)
    );

    // Without msync the change is visible until the cut, then gone.
    assert_eq!(
        python(MMAP_SCRIPT, &[path, "no-flush", "other"]).trim(),
        "other other 8192"
    );
    pc.cycle();
    assert_eq!(&fs::read(path).unwrap()[0..5], b"first");
}

#[test]
fn flock_is_exclusive_between_open_files() {
    let pc = powercut!();
    let path = pc.path("floe.lock");
    let first = File::create(&path).unwrap();
    let second = File::open(&path).unwrap();
    let lock = |file: &File| {
        // SAFETY: flock on a descriptor that `file` keeps open.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    lock(&first).unwrap();
    assert_eq!(lock(&second).unwrap_err().kind(), ErrorKind::WouldBlock);
    drop(first);
    lock(&second).unwrap();
}

#[test]
fn directories_symlinks_and_listing() {
    let mut pc = powercut!();
    fs::create_dir_all(pc.path("a/b")).unwrap();
    write_synced(&pc.path("a/b/f"), b"deep");
    std::os::unix::fs::symlink("b/f", pc.path("a/link")).unwrap();
    fsync_dir(&pc.path("a/b"));
    fsync_dir(&pc.path("a"));
    fsync_dir(&pc.mountpoint());
    assert_eq!(fs::metadata(pc.path("a")).unwrap().nlink(), 3);
    pc.cycle();
    assert_eq!(fs::read(pc.path("a/link")).unwrap(), b"deep");
    let mut names: Vec<_> = fs::read_dir(pc.path("a"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["b", "link"]);

    fs::remove_file(pc.path("a/b/f")).unwrap();
    fs::remove_dir(pc.path("a/b")).unwrap();
    fsync_dir(&pc.path("a"));
    pc.cycle();
    assert!(!pc.path("a/b").exists());
    assert!(pc.path("a/link").symlink_metadata().is_ok());

    let many = pc.path("many");
    fs::create_dir(&many).unwrap();
    for i in 0..2000 {
        File::create(many.join(format!("file-{i:04}"))).unwrap();
    }
    assert_eq!(fs::read_dir(&many).unwrap().count(), 2000);
    // Removing entries while walking the directory must not skip any.
    fs::remove_dir_all(&many).unwrap();
    assert!(!many.exists());
}

#[test]
fn permissions_and_sizes_are_reported() {
    let mut pc = powercut!();
    let path = pc.path("a");
    write_synced(&path, &[1u8; 10_000]);
    fsync_dir(&pc.mountpoint());
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), 10_000);
    assert_eq!(meta.blocks(), 24);
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
    pc.cycle();
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o644);
    let statfs = nix_free_statvfs(&pc.mountpoint());
    assert!(statfs > 0, "statfs reports free space");
}

fn nix_free_statvfs(path: &std::path::Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut buf = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: valid path and buffer.
    assert_eq!(unsafe { libc::statvfs(path.as_ptr(), buf.as_mut_ptr()) }, 0);
    // SAFETY: statvfs succeeded.
    let buf = unsafe { buf.assume_init() };
    buf.f_bavail * buf.f_frsize
}

#[test]
fn a_crashed_mount_is_replaced() {
    let mut pc = powercut!();
    write_synced(&pc.path("a"), b"durable");
    fsync_dir(&pc.mountpoint());
    fs::write(pc.path("b"), b"volatile").unwrap();
    pc.crash();
    let err = fs::metadata(pc.path("a")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTCONN), "{err}");
    pc.mount();
    assert_eq!(fs::read(pc.path("a")).unwrap(), b"durable");
    assert!(!pc.path("b").exists());
}

#[test]
fn large_files_survive_and_stats_count_them() {
    let mut pc = powercut!();
    let mut file = File::create(pc.path("big")).unwrap();
    let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 256) as u8).collect();
    for _ in 0..64 {
        file.write_all(&chunk).unwrap();
    }
    file.sync_all().unwrap();
    drop(file);
    fsync_dir(&pc.mountpoint());
    pc.cycle();
    let mut file = File::open(pc.path("big")).unwrap();
    let mut read = vec![0; chunk.len()];
    for _ in 0..64 {
        file.read_exact(&mut read).unwrap();
        assert!(read == chunk);
    }
    assert_eq!(file.read(&mut read).unwrap(), 0);
    let stats = pc.stats();
    assert_eq!(stats["files"], 1);
    assert_eq!(stats["file_bytes"], 64 << 20);
    assert!(stats["counters"]["cuts"].as_u64().unwrap() >= 1);
}
