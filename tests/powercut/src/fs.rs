//! The FUSE face of the [`Tree`]: translates kernel requests into tree
//! operations and their results into replies.
//!
//! Locking is left to the kernel (no getlk/setlk, and POSIX and flock locks
//! are not negotiated, so the kernel keeps them locally). Files are opened
//! through the page cache (no direct I/O) so that shared mmap works.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use fuser::{
    BsdFileFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request,
    TimeOrNow, WriteFlags,
};

use crate::tree::{BLOCK_SIZE, DirEntry, NAME_MAX, NewNode, SetAttr, Tree};

/// How long the kernel may cache entries and attributes. Every change goes
/// through this mount, and the kernel updates its cached sizes on writes and
/// truncates itself, so a short TTL keeps stat cheap without going stale.
const TTL: Duration = Duration::from_secs(1);

/// Inode numbers are never reused while mounted.
const GENERATION: Generation = Generation(0);

/// Files keep their page cache across opens: no one changes them behind the
/// kernel's back.
const OPEN_FLAGS: FopenFlags = FopenFlags::FOPEN_KEEP_CACHE;

/// The file system served over FUSE; the tree is shared with the power-cut
/// handler.
#[derive(Debug)]
pub struct PowercutFs {
    tree: Arc<Mutex<Tree>>,
    /// Listings of open directories, taken when a listing starts, so that
    /// entries removed while a program walks a directory (as
    /// `remove_dir_all` does) do not shift the offsets of the rest.
    listings: Mutex<HashMap<u64, Vec<DirEntry>>>,
    next_handle: AtomicU64,
}

impl PowercutFs {
    pub fn new(tree: Arc<Mutex<Tree>>) -> PowercutFs {
        PowercutFs {
            tree,
            listings: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
        }
    }

    fn tree(&self) -> MutexGuard<'_, Tree> {
        lock(&self.tree)
    }

    fn listings(&self) -> MutexGuard<'_, HashMap<u64, Vec<DirEntry>>> {
        self.listings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// create on a name that exists: without O_EXCL this is an open of the
    /// existing file (two processes may both have seen the name missing).
    fn open_existing(&self, parent: INodeNo, name: &OsStr, flags: i32) -> Result<FileAttr, Errno> {
        let mut tree = self.tree();
        let attr = tree.lookup(parent.0, name)?;
        let result = match attr.kind {
            FileType::RegularFile if flags & libc::O_TRUNC != 0 => {
                let truncate = SetAttr {
                    size: Some(0),
                    ..SetAttr::default()
                };
                tree.setattr(attr.ino.0, truncate)
            }
            FileType::RegularFile => Ok(attr),
            FileType::Directory => Err(Errno::EISDIR),
            _ => Err(Errno::EEXIST),
        };
        if result.is_err() {
            tree.forget(attr.ino.0, 1);
        }
        result
    }
}

/// Locks the tree, surviving a panic in another request.
pub fn lock(tree: &Mutex<Tree>) -> MutexGuard<'_, Tree> {
    tree.lock().unwrap_or_else(PoisonError::into_inner)
}

fn reply_entry(reply: ReplyEntry, result: Result<FileAttr, Errno>) {
    match result {
        Ok(attr) => reply.entry(&TTL, &attr, GENERATION),
        Err(err) => reply.error(err),
    }
}

fn reply_empty(reply: ReplyEmpty, result: Result<(), Errno>) {
    match result {
        Ok(()) => reply.ok(),
        Err(err) => reply.error(err),
    }
}

impl Filesystem for PowercutFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // O_TRUNC then arrives with open instead of as a separate setattr;
        // a kernel without the capability refuses it, and either way works.
        let _ = config.add_capabilities(InitFlags::FUSE_ATOMIC_O_TRUNC);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let result = self.tree().lookup(parent.0, name);
        reply_entry(reply, result);
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.tree().forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.tree().attr(ino.0) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(err) => reply.error(err),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let changes = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
        };
        match self.tree().setattr(ino.0, changes) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(err) => reply.error(err),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.tree().readlink(ino.0) {
            Ok(target) => reply.data(target.as_bytes()),
            Err(err) => reply.error(err),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            reply.error(Errno::EPERM);
            return;
        }
        let result = self
            .tree()
            .create(parent.0, name, NewNode::File, mode, req.uid(), req.gid());
        reply_entry(reply, result);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let result = self
            .tree()
            .create(parent.0, name, NewNode::Dir, mode, req.uid(), req.gid());
        reply_entry(reply, result);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.tree().unlink(parent.0, name));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.tree().rmdir(parent.0, name));
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let result = self.tree().create(
            parent.0,
            link_name,
            NewNode::Symlink(target),
            0o777,
            req.uid(),
            req.gid(),
        );
        reply_entry(reply, result);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let result = self
            .tree()
            .rename(parent.0, name, newparent.0, newname, flags);
        reply_empty(reply, result);
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let result = self.tree().link(ino.0, newparent.0, newname);
        reply_entry(reply, result);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut tree = self.tree();
        let result = if flags.0 & libc::O_TRUNC != 0 {
            let truncate = SetAttr {
                size: Some(0),
                ..SetAttr::default()
            };
            tree.setattr(ino.0, truncate).map(drop)
        } else {
            tree.attr(ino.0).map(drop)
        };
        match result {
            Ok(()) => reply.opened(FileHandle(0), OPEN_FLAGS),
            Err(err) => reply.error(err),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let tree = self.tree();
        match tree.read(ino.0, offset, size) {
            Ok(bytes) => reply.data(bytes),
            Err(err) => reply.error(err),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.tree().write(ino.0, offset, data) {
            Ok(written) => reply.written(written),
            Err(err) => reply.error(err),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.tree().fsync(ino.0));
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let attr = self.tree().attr(ino.0);
        match attr {
            Ok(attr) if attr.kind == FileType::Directory => {
                let handle = self.next_handle.fetch_add(1, Ordering::Relaxed);
                reply.opened(FileHandle(handle), FopenFlags::empty());
            }
            Ok(_) => reply.error(Errno::ENOTDIR),
            Err(err) => reply.error(err),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        // Offset 0 starts a listing (again, after rewinddir): take it afresh.
        if offset == 0 || !self.listings().contains_key(&fh.0) {
            let listing = self.tree().readdir(ino.0);
            match listing {
                Ok(listing) => self.listings().insert(fh.0, listing),
                Err(err) => {
                    reply.error(err);
                    return;
                }
            };
        }
        let listings = self.listings();
        let Some(listing) = listings.get(&fh.0) else {
            reply.error(Errno::EBADF);
            return;
        };
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for (index, entry) in listing.iter().enumerate().skip(skip) {
            let next = index as u64 + 1;
            if reply.add(INodeNo(entry.id), next, entry.kind, &entry.name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.listings().remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.tree().fsyncdir(ino.0));
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let (store_dir, inodes) = {
            let tree = self.tree();
            (tree.store_dir().to_path_buf(), tree.inode_count())
        };
        match host_statvfs(&store_dir) {
            Ok(host) => {
                let frsize = host.f_frsize.max(1);
                let scale = |blocks: u64| blocks * frsize / u64::from(BLOCK_SIZE);
                reply.statfs(
                    scale(host.f_blocks),
                    scale(host.f_bfree),
                    scale(host.f_bavail),
                    inodes + host.f_ffree,
                    host.f_ffree,
                    BLOCK_SIZE,
                    NAME_MAX as u32,
                    BLOCK_SIZE,
                );
            }
            Err(err) => reply.error(Errno::from_i32(err.raw_os_error().unwrap_or(libc::EIO))),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let created = self
            .tree()
            .create(parent.0, name, NewNode::File, mode, req.uid(), req.gid());
        let result = match created {
            Err(Errno::EEXIST) if flags & libc::O_EXCL == 0 => {
                self.open_existing(parent, name, flags)
            }
            other => other,
        };
        match result {
            Ok(attr) => reply.created(&TTL, &attr, GENERATION, FileHandle(0), OPEN_FLAGS),
            Err(err) => reply.error(err),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.tree().fallocate(ino.0, offset, length, mode));
    }
}

/// Space figures of the host file system holding the store, which is where
/// durable data ends up.
fn host_statvfs(path: &Path) -> io::Result<libc::statvfs> {
    let path = CString::new(path.as_os_str().as_bytes())?;
    let mut buf = MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is NUL-terminated and `buf` is valid for writes.
    if unsafe { libc::statvfs(path.as_ptr(), buf.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs succeeded and filled `buf`.
    Ok(unsafe { buf.assume_init() })
}
