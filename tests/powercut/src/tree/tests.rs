//! The durability model without FUSE: operations on a [`Tree`], a power cut
//! (dropping the tree), and a remount from the same store.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use fuser::{Errno, FileType, RenameFlags};
use tempfile::TempDir;

use super::{NewNode, ROOT_ID, SetAttr, Tree};

struct Fixture {
    dir: TempDir,
    /// Always present; taken only while the store is remounted.
    mounted: Option<Tree>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = TempDir::new().unwrap();
        let mounted = Some(Tree::open(dir.path()).unwrap());
        Fixture { dir, mounted }
    }

    fn tree(&mut self) -> &mut Tree {
        self.mounted.as_mut().expect("mounted")
    }

    fn view(&self) -> &Tree {
        self.mounted.as_ref().expect("mounted")
    }

    /// The power cut: everything volatile is dropped (releasing the store),
    /// then the store is mounted again.
    fn cut(&mut self) {
        self.mounted = None;
        self.mounted = Some(Tree::open(self.dir.path()).unwrap());
    }

    fn store(&self) -> &Path {
        self.dir.path()
    }

    fn lookup(&mut self, parent: u64, name: &str) -> Option<u64> {
        match self.tree().lookup(parent, OsStr::new(name)) {
            Ok(attr) => Some(attr.ino.0),
            Err(err) => {
                assert_eq!(err, Errno::ENOENT);
                None
            }
        }
    }

    fn create(&mut self, parent: u64, name: &str, contents: &[u8]) -> u64 {
        let id = self.make(parent, name, NewNode::File);
        self.tree().write(id, 0, contents).unwrap();
        id
    }

    fn make(&mut self, parent: u64, name: &str, new: NewNode<'_>) -> u64 {
        self.tree()
            .create(parent, OsStr::new(name), new, 0o644, 0, 0)
            .unwrap()
            .ino
            .0
    }

    fn contents(&self, id: u64) -> Vec<u8> {
        self.view().read(id, 0, u32::MAX).unwrap().to_vec()
    }

    fn names(&self, dir: u64) -> Vec<String> {
        self.view()
            .readdir(dir)
            .unwrap()
            .into_iter()
            .skip(2)
            .map(|entry| entry.name.into_string().unwrap())
            .collect()
    }

    fn truncate(&mut self, id: u64, size: u64) {
        let change = SetAttr {
            size: Some(size),
            ..SetAttr::default()
        };
        self.tree().setattr(id, change).unwrap();
    }

    fn stored_inodes(&self) -> usize {
        fs::read_dir(self.store().join("inodes")).unwrap().count()
    }

    fn stored_data_files(&self) -> usize {
        fs::read_dir(self.store().join("data")).unwrap().count()
    }
}

#[test]
fn file_and_directory_sync_survive() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "a", b"hello");
    f.tree().fsync(id).unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.contents(id), b"hello");
}

#[test]
fn unsynced_writes_are_lost() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "old", b"durable");
    f.tree().fsync(id).unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    f.tree().write(id, 0, b"VOLATILE and longer").unwrap();
    f.create(ROOT_ID, "new", b"never synced");
    f.cut();
    assert_eq!(f.lookup(ROOT_ID, "new"), None);
    let id = f.lookup(ROOT_ID, "old").unwrap();
    assert_eq!(f.contents(id), b"durable");
}

#[test]
fn file_sync_without_directory_sync_is_lost() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "a", b"data");
    f.tree().fsync(id).unwrap();
    f.cut();
    assert_eq!(f.lookup(ROOT_ID, "a"), None);
    assert_eq!(f.stored_inodes(), 1, "only the root is left in the store");
    assert_eq!(f.stored_data_files(), 0);
}

#[test]
fn directory_sync_alone_gives_an_empty_file() {
    let mut f = Fixture::new();
    f.create(ROOT_ID, "a", b"data");
    f.tree().fsyncdir(ROOT_ID).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.contents(id), b"");
}

#[test]
fn directory_sync_keeps_last_synced_contents() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "a", b"first");
    f.tree().fsync(id).unwrap();
    f.tree().write(id, 0, b"SECOND").unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.contents(id), b"first");
}

#[test]
fn rename_is_durable_once_the_directory_is_synced() {
    let mut f = Fixture::new();
    let old = f.create(ROOT_ID, "final", b"old");
    f.tree().fsync(old).unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();

    let tmp = f.create(ROOT_ID, "tmp", b"new");
    f.tree().fsync(tmp).unwrap();
    let (root, tmp_name, final_name) = (ROOT_ID, OsStr::new("tmp"), OsStr::new("final"));
    f.tree()
        .rename(root, tmp_name, root, final_name, RenameFlags::empty())
        .unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "final").unwrap();
    assert_eq!(f.contents(id), b"old", "rename without directory sync");
    assert_eq!(f.names(ROOT_ID), ["final"]);

    let tmp = f.create(ROOT_ID, "tmp", b"new");
    f.tree().fsync(tmp).unwrap();
    f.tree()
        .rename(root, tmp_name, root, final_name, RenameFlags::empty())
        .unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "final").unwrap();
    assert_eq!(f.contents(id), b"new");
    assert_eq!(f.names(ROOT_ID), ["final"]);
}

#[test]
fn unlink_is_durable_once_the_directory_is_synced() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "a", b"data");
    f.tree().fsync(id).unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    f.tree().unlink(ROOT_ID, OsStr::new("a")).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.contents(id), b"data");

    f.tree().unlink(ROOT_ID, OsStr::new("a")).unwrap();
    f.tree().forget(id, 1);
    f.tree().fsyncdir(ROOT_ID).unwrap();
    assert_eq!(f.stored_inodes(), 1, "the unlinked file left the store");
    assert_eq!(f.stored_data_files(), 0);
    f.cut();
    assert_eq!(f.lookup(ROOT_ID, "a"), None);
}

#[test]
fn unlinked_open_file_stays_until_forgotten() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "a", b"data");
    f.tree().fsync(id).unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    f.tree().unlink(ROOT_ID, OsStr::new("a")).unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    assert_eq!(f.contents(id), b"data");
    assert_eq!(f.stored_inodes(), 2);
    f.tree().forget(id, 1);
    assert_eq!(f.tree().attr(id).unwrap_err(), Errno::ENOENT);
    assert_eq!(f.stored_inodes(), 1);
}

#[test]
fn truncate_needs_a_sync() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "a", b"0123456789");
    f.tree().fsync(id).unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    f.truncate(id, 4);
    f.cut();
    let id = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.contents(id), b"0123456789");

    f.truncate(id, 4);
    f.tree().fsync(id).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.contents(id), b"0123");

    f.truncate(id, 6);
    f.tree().fsync(id).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.contents(id), b"0123\0\0");
}

#[test]
fn shrink_then_regrow_rewrites_the_file() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "a", b"abcdef");
    f.tree().fsync(id).unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    f.truncate(id, 2);
    f.tree().write(id, 6, b"XY").unwrap();
    f.tree().fsync(id).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.contents(id), b"ab\0\0\0\0XY");
}

#[test]
fn appends_with_frequent_syncs_write_only_the_tail() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "wal", b"");
    f.tree().fsyncdir(ROOT_ID).unwrap();
    let record = [7u8; 1000];
    for i in 0..500u64 {
        f.tree().write(id, i * 1000, &record).unwrap();
        f.tree().fsync(id).unwrap();
    }
    assert_eq!(f.tree().counters().data_bytes_written, 500_000);
    // An overwrite inside the durable part rewrites the whole file.
    f.tree().write(id, 10, b"x").unwrap();
    f.tree().fsync(id).unwrap();
    assert_eq!(f.tree().counters().data_bytes_written, 1_000_000);
    assert_eq!(f.stored_data_files(), 1, "the old generation is removed");
    f.cut();
    let id = f.lookup(ROOT_ID, "wal").unwrap();
    let contents = f.contents(id);
    assert_eq!(contents.len(), 500_000);
    assert_eq!(contents[10], b'x');
}

#[test]
fn an_unfinished_append_is_cut_off_at_mount() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "a", b"durable");
    f.tree().fsync(id).unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    let data = fs::read_dir(f.store().join("data"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = fs::read(&data).unwrap();
    bytes.extend_from_slice(b" torn tail");
    fs::write(&data, bytes).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.contents(id), b"durable");
    assert_eq!(fs::read(&data).unwrap(), b"durable");
}

#[test]
fn directories_need_their_parent_synced() {
    let mut f = Fixture::new();
    let dir = f.make(ROOT_ID, "d", NewNode::Dir);
    let id = f.create(dir, "a", b"x");
    f.tree().fsync(id).unwrap();
    f.tree().fsyncdir(dir).unwrap();
    f.cut();
    assert_eq!(f.lookup(ROOT_ID, "d"), None);

    let dir = f.make(ROOT_ID, "d", NewNode::Dir);
    let id = f.create(dir, "a", b"x");
    f.tree().fsync(id).unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    f.cut();
    let dir = f.lookup(ROOT_ID, "d").unwrap();
    assert!(
        f.names(dir).is_empty(),
        "the new directory's entries were not synced"
    );

    let id = f.create(dir, "a", b"x");
    f.tree().fsync(id).unwrap();
    f.tree().fsyncdir(dir).unwrap();
    f.cut();
    let dir = f.lookup(ROOT_ID, "d").unwrap();
    let id = f.lookup(dir, "a").unwrap();
    assert_eq!(f.contents(id), b"x");
    assert_eq!(f.tree().attr(ROOT_ID).unwrap().nlink, 3);
}

#[test]
fn cross_directory_rename_synced_on_one_side_only() {
    let mut f = Fixture::new();
    let a = f.make(ROOT_ID, "a", NewNode::Dir);
    let b = f.make(ROOT_ID, "b", NewNode::Dir);
    let id = f.create(a, "x", b"x");
    f.tree().fsync(id).unwrap();
    for dir in [a, b, ROOT_ID] {
        f.tree().fsyncdir(dir).unwrap();
    }
    let (x, y) = (OsStr::new("x"), OsStr::new("y"));
    f.tree().rename(a, x, b, y, RenameFlags::empty()).unwrap();
    f.tree().fsyncdir(b).unwrap();
    f.cut();
    // Both names survive, as hard links of one file.
    let a = f.lookup(ROOT_ID, "a").unwrap();
    let b = f.lookup(ROOT_ID, "b").unwrap();
    let x = f.lookup(a, "x").unwrap();
    let y = f.lookup(b, "y").unwrap();
    assert_eq!(x, y);
    assert_eq!(f.tree().attr(x).unwrap().nlink, 2);
    f.tree().unlink(a, OsStr::new("x")).unwrap();
    assert_eq!(f.tree().attr(y).unwrap().nlink, 1);
}

#[test]
fn a_directory_reached_twice_keeps_its_first_name() {
    let mut f = Fixture::new();
    let a = f.make(ROOT_ID, "a", NewNode::Dir);
    let b = f.make(ROOT_ID, "b", NewNode::Dir);
    let d = f.make(a, "d", NewNode::Dir);
    for dir in [d, a, b, ROOT_ID] {
        f.tree().fsyncdir(dir).unwrap();
    }
    let name = OsStr::new("d");
    f.tree()
        .rename(a, name, b, name, RenameFlags::empty())
        .unwrap();
    f.tree().fsyncdir(b).unwrap();
    f.cut();
    let a = f.lookup(ROOT_ID, "a").unwrap();
    let b = f.lookup(ROOT_ID, "b").unwrap();
    assert_eq!(f.lookup(a, "d"), Some(d));
    assert_eq!(f.lookup(b, "d"), None);
}

#[test]
fn mode_changes_need_a_sync() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "a", b"");
    f.tree().fsync(id).unwrap();
    f.tree().fsyncdir(ROOT_ID).unwrap();
    let chmod = SetAttr {
        mode: Some(0o600),
        ..SetAttr::default()
    };
    f.tree().setattr(id, chmod).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.tree().attr(id).unwrap().perm, 0o644);
    f.tree().setattr(id, chmod).unwrap();
    f.tree().fsync(id).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "a").unwrap();
    assert_eq!(f.tree().attr(id).unwrap().perm, 0o600);
}

#[test]
fn symlinks_are_durable_with_their_directory() {
    let mut f = Fixture::new();
    f.make(ROOT_ID, "link", NewNode::Symlink(Path::new("target/path")));
    f.tree().fsyncdir(ROOT_ID).unwrap();
    f.cut();
    let id = f.lookup(ROOT_ID, "link").unwrap();
    assert_eq!(f.tree().attr(id).unwrap().kind, FileType::Symlink);
    assert_eq!(f.tree().readlink(id).unwrap(), "target/path");
}

#[test]
fn rename_flags_and_errors() {
    let mut f = Fixture::new();
    let a = f.create(ROOT_ID, "a", b"a");
    let b = f.create(ROOT_ID, "b", b"b");
    let d = f.make(ROOT_ID, "d", NewNode::Dir);
    let sub = f.make(d, "sub", NewNode::Dir);
    let name = |s: &'static str| OsStr::new(s);
    let root = ROOT_ID;
    assert_eq!(
        f.tree().rename(
            root,
            name("a"),
            root,
            name("b"),
            RenameFlags::RENAME_NOREPLACE
        ),
        Err(Errno::EEXIST)
    );
    f.tree()
        .rename(
            root,
            name("a"),
            root,
            name("b"),
            RenameFlags::RENAME_EXCHANGE,
        )
        .unwrap();
    assert_eq!(f.lookup(root, "a"), Some(b));
    assert_eq!(f.lookup(root, "b"), Some(a));
    assert_eq!(
        f.tree()
            .rename(root, name("d"), sub, name("x"), RenameFlags::empty()),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        f.tree()
            .rename(root, name("a"), root, name("d"), RenameFlags::empty()),
        Err(Errno::EISDIR)
    );
    assert_eq!(f.tree().rmdir(root, name("d")), Err(Errno::ENOTEMPTY));
    f.tree()
        .rename(root, name("a"), root, name("b"), RenameFlags::empty())
        .unwrap();
    assert_eq!(f.names(root), ["b", "d"]);
    let b = f.lookup(root, "b").unwrap();
    assert_eq!(f.contents(b), b"b");
}

#[test]
fn writes_past_the_end_and_punched_holes() {
    let mut f = Fixture::new();
    let id = f.create(ROOT_ID, "a", b"abc");
    f.tree().write(id, 5, b"xy").unwrap();
    assert_eq!(f.contents(id), b"abc\0\0xy");
    f.tree()
        .fallocate(
            id,
            1,
            2,
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
        )
        .unwrap();
    assert_eq!(f.contents(id), b"a\0\0\0\0xy");
    f.tree().fallocate(id, 0, 10, 0).unwrap();
    assert_eq!(f.tree().attr(id).unwrap().size, 10);
    f.tree()
        .fallocate(id, 0, 20, libc::FALLOC_FL_KEEP_SIZE)
        .unwrap();
    assert_eq!(f.tree().attr(id).unwrap().size, 10);
}

#[test]
fn unreachable_records_are_collected_at_mount() {
    let mut f = Fixture::new();
    for i in 0..5 {
        let id = f.create(ROOT_ID, &format!("f{i}"), b"data");
        f.tree().fsync(id).unwrap();
    }
    assert_eq!(f.stored_inodes(), 6);
    assert_eq!(f.stored_data_files(), 5);
    f.cut();
    assert_eq!(f.stored_inodes(), 1);
    assert_eq!(f.stored_data_files(), 0);
    let id = f.create(ROOT_ID, "next", b"");
    assert!(id > ROOT_ID);
}

#[test]
fn a_store_serves_one_mount_at_a_time() {
    let f = Fixture::new();
    let err = Tree::open(f.store()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ResourceBusy, "{err}");
}
