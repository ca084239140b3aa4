//! The volatile half of the model: the file system as processes see it, held
//! in memory, and the syncs that copy parts of it into the [`Store`].
//!
//! Inode numbers handed to the kernel are the stable ids of the store, with
//! the root as [`ROOT_ID`]; ids are never reused while mounted.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::SystemTime;

use fuser::{Errno, FileAttr, FileType, INodeNo, RenameFlags, TimeOrNow};

use crate::store::{self, Body, Contents, Counters, Meta, ROOT_ID, Record, Store};

pub type Result<T> = std::result::Result<T, Errno>;

/// Largest file size accepted; contents are held in memory.
pub const MAX_FILE_SIZE: u64 = 64 << 30;
/// Longest file name accepted, in bytes.
pub const NAME_MAX: usize = 255;
/// Block size reported by stat and statfs.
pub const BLOCK_SIZE: u32 = 4096;

#[derive(Debug)]
struct Node {
    /// Permission bits (no file type bits).
    mode: u32,
    uid: u32,
    gid: u32,
    atime: SystemTime,
    mtime: SystemTime,
    ctime: SystemTime,
    data: Data,
    /// Volatile directory entries that name this inode.
    links: u32,
    /// Lookups the kernel holds on this inode (released by forget).
    lookups: u64,
}

#[derive(Debug)]
enum Data {
    File {
        contents: Vec<u8>,
        /// Lowest offset changed since the last sync, `None` if unchanged.
        dirty_from: Option<u64>,
    },
    Dir {
        entries: BTreeMap<OsString, u64>,
        parent: u64,
    },
    Symlink {
        target: OsString,
    },
}

impl Node {
    fn meta(&self) -> Meta {
        Meta::new(self.mode, self.uid, self.gid, self.mtime)
    }

    fn is_dir(&self) -> bool {
        matches!(self.data, Data::Dir { .. })
    }

    fn kind(&self) -> FileType {
        match self.data {
            Data::File { .. } => FileType::RegularFile,
            Data::Dir { .. } => FileType::Directory,
            Data::Symlink { .. } => FileType::Symlink,
        }
    }

    fn touch(&mut self, now: SystemTime) {
        self.mtime = now;
        self.ctime = now;
    }

    /// The record a directory sync writes for a child never synced itself:
    /// an empty file, an empty directory, or the symlink.
    fn placeholder(&self) -> Record {
        let body = match &self.data {
            Data::File { .. } => Body::File {
                size: 0,
                generation: 0,
            },
            Data::Dir { .. } => Body::Dir {
                entries: BTreeMap::new(),
            },
            Data::Symlink { target } => Body::Symlink {
                target: store::encode_name(target),
            },
        };
        Record {
            meta: self.meta(),
            body,
        }
    }
}

/// What [`Tree::create`] makes.
#[derive(Clone, Copy, Debug)]
pub enum NewNode<'a> {
    File,
    Dir,
    Symlink(&'a Path),
}

/// The changes of a setattr call.
#[derive(Clone, Copy, Debug, Default)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<TimeOrNow>,
    pub mtime: Option<TimeOrNow>,
}

/// One entry of a directory listing, `.` and `..` included.
#[derive(Clone, Debug)]
pub struct DirEntry {
    pub id: u64,
    pub kind: FileType,
    pub name: OsString,
}

/// The whole file system: the volatile inode table over the durable store.
#[derive(Debug)]
pub struct Tree {
    nodes: HashMap<u64, Node>,
    next_id: u64,
    store: Store,
}

impl Tree {
    /// Mounts the durable state of the store in `dir` as the volatile view.
    pub fn open(dir: &Path) -> io::Result<Tree> {
        let (store, loaded) = Store::open(dir)?;
        let mut nodes = HashMap::with_capacity(loaded.len());
        let mut next_id = ROOT_ID + 1;
        for inode in loaded {
            next_id = next_id.max(inode.id + 1);
            let mtime = inode.meta.mtime();
            let data = match inode.contents {
                Contents::File(contents) => Data::File {
                    contents,
                    dirty_from: None,
                },
                Contents::Dir { entries, parent } => Data::Dir {
                    entries: entries.into_iter().collect(),
                    parent,
                },
                Contents::Symlink(target) => Data::Symlink { target },
            };
            let node = Node {
                mode: inode.meta.mode,
                uid: inode.meta.uid,
                gid: inode.meta.gid,
                atime: mtime,
                mtime,
                ctime: mtime,
                data,
                links: inode.links,
                lookups: 0,
            };
            nodes.insert(inode.id, node);
        }
        Ok(Tree {
            nodes,
            next_id,
            store,
        })
    }

    pub fn store_dir(&self) -> &Path {
        self.store.dir()
    }

    pub fn inode_count(&self) -> u64 {
        self.nodes.len() as u64
    }

    #[cfg(test)]
    pub fn counters(&self) -> &Counters {
        self.store.counters()
    }

    /// The power cut: the store takes nothing more from now on.
    pub fn power_cut(&mut self) -> io::Result<Counters> {
        self.store.power_cut()
    }

    fn node(&self, id: u64) -> Result<&Node> {
        self.nodes.get(&id).ok_or(Errno::ENOENT)
    }

    fn node_mut(&mut self, id: u64) -> Result<&mut Node> {
        self.nodes.get_mut(&id).ok_or(Errno::ENOENT)
    }

    fn entries(&self, dir: u64) -> Result<&BTreeMap<OsString, u64>> {
        match &self.node(dir)?.data {
            Data::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn entries_mut(&mut self, dir: u64) -> Result<&mut BTreeMap<OsString, u64>> {
        match &mut self.node_mut(dir)?.data {
            Data::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// The inode that the entry `name` of `dir` names (`.` and `..` are not
    /// entries).
    fn entry(&self, dir: u64, name: &OsStr) -> Result<u64> {
        check_name(name)?;
        self.entries(dir)?.get(name).copied().ok_or(Errno::ENOENT)
    }

    fn is_dir(&self, id: u64) -> bool {
        self.nodes.get(&id).is_some_and(Node::is_dir)
    }

    fn parent_of(&self, dir: u64) -> Option<u64> {
        match self.nodes.get(&dir)?.data {
            Data::Dir { parent, .. } => Some(parent),
            _ => None,
        }
    }

    /// Whether directory `dir` is `ancestor` or lies below it.
    fn is_within(&self, dir: u64, ancestor: u64) -> bool {
        let mut current = dir;
        loop {
            if current == ancestor {
                return true;
            }
            match self.parent_of(current) {
                Some(parent) if current != ROOT_ID => current = parent,
                _ => return false,
            }
        }
    }

    fn set_parent(&mut self, dir: u64, new_parent: u64) {
        if let Some(Node {
            data: Data::Dir { parent, .. },
            ..
        }) = self.nodes.get_mut(&dir)
        {
            *parent = new_parent;
        }
    }

    fn touch(&mut self, id: u64, now: SystemTime) {
        if let Some(node) = self.nodes.get_mut(&id) {
            node.touch(now);
        }
    }

    /// Drops an inode that no entry names and the kernel no longer knows.
    fn maybe_free(&mut self, id: u64) {
        let unused = self
            .nodes
            .get(&id)
            .is_some_and(|node| node.links == 0 && node.lookups == 0);
        if id == ROOT_ID || !unused {
            return;
        }
        self.nodes.remove(&id);
        let nodes = &self.nodes;
        self.store.release(id, &|other| nodes.contains_key(&other));
    }

    pub fn attr(&self, id: u64) -> Result<FileAttr> {
        let node = self.node(id)?;
        let (size, nlink) = match &node.data {
            Data::File { contents, .. } => (contents.len() as u64, node.links),
            Data::Dir { entries, .. } => {
                let subdirs = entries
                    .values()
                    .filter(|&&child| self.is_dir(child))
                    .count();
                (u64::from(BLOCK_SIZE), 2 + subdirs as u32)
            }
            Data::Symlink { target } => (target.len() as u64, node.links),
        };
        Ok(FileAttr {
            ino: INodeNo(id),
            size,
            blocks: size.div_ceil(u64::from(BLOCK_SIZE)) * u64::from(BLOCK_SIZE / 512),
            atime: node.atime,
            mtime: node.mtime,
            ctime: node.ctime,
            crtime: node.ctime,
            kind: node.kind(),
            perm: node.mode as u16,
            nlink,
            uid: node.uid,
            gid: node.gid,
            rdev: 0,
            blksize: BLOCK_SIZE,
            flags: 0,
        })
    }

    /// Resolves `name` in `parent` for the kernel, which then holds one more
    /// lookup on the result.
    pub fn lookup(&mut self, parent: u64, name: &OsStr) -> Result<FileAttr> {
        let id = match name.as_bytes() {
            b"." => {
                self.entries(parent)?;
                parent
            }
            b".." => {
                self.entries(parent)?;
                self.parent_of(parent).ok_or(Errno::ENOENT)?
            }
            _ => self.entry(parent, name)?,
        };
        let attr = self.attr(id)?;
        self.node_mut(id)?.lookups += 1;
        Ok(attr)
    }

    pub fn forget(&mut self, id: u64, lookups: u64) {
        if let Some(node) = self.nodes.get_mut(&id) {
            node.lookups = node.lookups.saturating_sub(lookups);
        }
        self.maybe_free(id);
    }

    pub fn setattr(&mut self, id: u64, changes: SetAttr) -> Result<FileAttr> {
        let now = SystemTime::now();
        let node = self.node_mut(id)?;
        if let Some(size) = changes.size {
            match &mut node.data {
                Data::File {
                    contents,
                    dirty_from,
                } => resize(contents, dirty_from, size)?,
                Data::Dir { .. } => return Err(Errno::EISDIR),
                Data::Symlink { .. } => return Err(Errno::EINVAL),
            }
            node.mtime = now;
        }
        if let Some(mode) = changes.mode {
            node.mode = mode & 0o7777;
        }
        if let Some(uid) = changes.uid {
            node.uid = uid;
        }
        if let Some(gid) = changes.gid {
            node.gid = gid;
        }
        if let Some(atime) = changes.atime {
            node.atime = resolve_time(atime, now);
        }
        if let Some(mtime) = changes.mtime {
            node.mtime = resolve_time(mtime, now);
        }
        node.ctime = now;
        self.attr(id)
    }

    /// Creates a file, directory or symlink named `name` in `parent`; the
    /// kernel holds one lookup on it.
    pub fn create(
        &mut self,
        parent: u64,
        name: &OsStr,
        new: NewNode<'_>,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<FileAttr> {
        check_name(name)?;
        let now = SystemTime::now();
        let id = self.next_id;
        let entries = self.entries_mut(parent)?;
        if entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        entries.insert(name.to_owned(), id);
        self.next_id += 1;
        self.touch(parent, now);
        let data = match new {
            NewNode::File => Data::File {
                contents: Vec::new(),
                dirty_from: Some(0),
            },
            NewNode::Dir => Data::Dir {
                entries: BTreeMap::new(),
                parent,
            },
            NewNode::Symlink(target) => Data::Symlink {
                target: target.as_os_str().to_owned(),
            },
        };
        let node = Node {
            mode: mode & 0o7777,
            uid,
            gid,
            atime: now,
            mtime: now,
            ctime: now,
            data,
            links: 1,
            lookups: 1,
        };
        self.nodes.insert(id, node);
        self.attr(id)
    }

    /// Adds a hard link to a file or symlink; the kernel holds one more
    /// lookup on it.
    pub fn link(&mut self, id: u64, new_parent: u64, new_name: &OsStr) -> Result<FileAttr> {
        check_name(new_name)?;
        if self.node(id)?.is_dir() {
            return Err(Errno::EPERM);
        }
        let now = SystemTime::now();
        let entries = self.entries_mut(new_parent)?;
        if entries.contains_key(new_name) {
            return Err(Errno::EEXIST);
        }
        entries.insert(new_name.to_owned(), id);
        self.touch(new_parent, now);
        let node = self.node_mut(id)?;
        node.links += 1;
        node.lookups += 1;
        node.ctime = now;
        self.attr(id)
    }

    pub fn unlink(&mut self, parent: u64, name: &OsStr) -> Result<()> {
        let id = self.entry(parent, name)?;
        if self.node(id)?.is_dir() {
            return Err(Errno::EISDIR);
        }
        let now = SystemTime::now();
        self.entries_mut(parent)?.remove(name);
        self.touch(parent, now);
        let node = self.node_mut(id)?;
        node.links = node.links.saturating_sub(1);
        node.ctime = now;
        self.maybe_free(id);
        Ok(())
    }

    pub fn rmdir(&mut self, parent: u64, name: &OsStr) -> Result<()> {
        match name.as_bytes() {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let id = self.entry(parent, name)?;
        if !self.entries(id)?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        let now = SystemTime::now();
        self.entries_mut(parent)?.remove(name);
        self.touch(parent, now);
        let node = self.node_mut(id)?;
        node.links = 0;
        node.ctime = now;
        self.maybe_free(id);
        Ok(())
    }

    pub fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        flags: RenameFlags,
    ) -> Result<()> {
        let exchange = flags.contains(RenameFlags::RENAME_EXCHANGE);
        let no_replace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        let supported = RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_NOREPLACE;
        if !supported.contains(flags) || (exchange && no_replace) {
            return Err(Errno::EINVAL);
        }
        check_name(new_name)?;
        let source = self.entry(parent, name)?;
        let target = self.entries(new_parent)?.get(new_name).copied();
        if self.is_dir(source) && self.is_within(new_parent, source) {
            return Err(Errno::EINVAL);
        }
        let now = SystemTime::now();

        if exchange {
            let target = target.ok_or(Errno::ENOENT)?;
            if self.is_dir(target) && self.is_within(parent, target) {
                return Err(Errno::EINVAL);
            }
            self.entries_mut(parent)?.insert(name.to_owned(), target);
            self.entries_mut(new_parent)?
                .insert(new_name.to_owned(), source);
            self.set_parent(source, new_parent);
            self.set_parent(target, parent);
            for id in [parent, new_parent] {
                self.touch(id, now);
            }
            for id in [source, target] {
                self.node_mut(id)?.ctime = now;
            }
            return Ok(());
        }

        if let Some(target) = target {
            if no_replace {
                return Err(Errno::EEXIST);
            }
            if target == source {
                return Ok(());
            }
            match (self.is_dir(source), self.is_dir(target)) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !self.entries(target)?.is_empty() => {
                    return Err(Errno::ENOTEMPTY);
                }
                _ => {}
            }
        }
        self.entries_mut(parent)?.remove(name);
        self.entries_mut(new_parent)?
            .insert(new_name.to_owned(), source);
        self.set_parent(source, new_parent);
        self.touch(parent, now);
        self.touch(new_parent, now);
        self.node_mut(source)?.ctime = now;
        if let Some(target) = target {
            let node = self.node_mut(target)?;
            node.links = if node.is_dir() {
                0
            } else {
                node.links.saturating_sub(1)
            };
            node.ctime = now;
            self.maybe_free(target);
        }
        Ok(())
    }

    pub fn read(&self, id: u64, offset: u64, size: u32) -> Result<&[u8]> {
        match &self.node(id)?.data {
            Data::File { contents, .. } => {
                let start = offset.min(contents.len() as u64) as usize;
                let end = start.saturating_add(size as usize).min(contents.len());
                Ok(&contents[start..end])
            }
            Data::Dir { .. } => Err(Errno::EISDIR),
            Data::Symlink { .. } => Err(Errno::EINVAL),
        }
    }

    pub fn write(&mut self, id: u64, offset: u64, bytes: &[u8]) -> Result<u32> {
        let end = offset
            .checked_add(bytes.len() as u64)
            .filter(|&end| end <= MAX_FILE_SIZE)
            .ok_or(Errno::EFBIG)?;
        let written = u32::try_from(bytes.len()).map_err(|_| Errno::EINVAL)?;
        let node = self.node_mut(id)?;
        let Data::File {
            contents,
            dirty_from,
        } = &mut node.data
        else {
            return Err(if node.is_dir() {
                Errno::EISDIR
            } else {
                Errno::EINVAL
            });
        };
        let old_len = contents.len();
        let start = offset as usize;
        reserve(contents, end)?;
        if start > contents.len() {
            contents.resize(start, 0);
        }
        let overlap = (contents.len() - start).min(bytes.len());
        contents[start..start + overlap].copy_from_slice(&bytes[..overlap]);
        contents.extend_from_slice(&bytes[overlap..]);
        mark_dirty(dirty_from, start.min(old_len) as u64);
        node.touch(SystemTime::now());
        Ok(written)
    }

    /// fallocate: plain allocation, keep-size allocation, hole punching and
    /// range zeroing. Allocation is not tracked, only sizes and contents.
    pub fn fallocate(&mut self, id: u64, offset: u64, length: u64, mode: i32) -> Result<()> {
        const KEEP_SIZE: i32 = libc::FALLOC_FL_KEEP_SIZE;
        const PUNCH_HOLE: i32 = libc::FALLOC_FL_PUNCH_HOLE;
        const ZERO_RANGE: i32 = libc::FALLOC_FL_ZERO_RANGE;
        let end = offset
            .checked_add(length)
            .filter(|&end| end <= MAX_FILE_SIZE)
            .ok_or(Errno::EFBIG)?;
        let node = self.node_mut(id)?;
        let Data::File {
            contents,
            dirty_from,
        } = &mut node.data
        else {
            return Err(if node.is_dir() {
                Errno::EISDIR
            } else {
                Errno::ENODEV
            });
        };
        let len = contents.len() as u64;
        let (zero, grow) = match mode {
            0 => (false, true),
            KEEP_SIZE => (false, false),
            m if m == PUNCH_HOLE | KEEP_SIZE => (true, false),
            ZERO_RANGE => (true, true),
            m if m == ZERO_RANGE | KEEP_SIZE => (true, false),
            _ => return Err(Errno::EOPNOTSUPP),
        };
        let mut changed = false;
        if zero && offset < len {
            contents[offset as usize..end.min(len) as usize].fill(0);
            mark_dirty(dirty_from, offset);
            changed = true;
        }
        if grow && end > len {
            resize(contents, dirty_from, end)?;
            changed = true;
        }
        if changed {
            node.touch(SystemTime::now());
        }
        Ok(())
    }

    pub fn readdir(&self, id: u64) -> Result<Vec<DirEntry>> {
        let node = self.node(id)?;
        let Data::Dir { entries, parent } = &node.data else {
            return Err(Errno::ENOTDIR);
        };
        let mut listing = Vec::with_capacity(entries.len() + 2);
        listing.push(DirEntry {
            id,
            kind: FileType::Directory,
            name: ".".into(),
        });
        listing.push(DirEntry {
            id: *parent,
            kind: FileType::Directory,
            name: "..".into(),
        });
        for (name, &child) in entries {
            listing.push(DirEntry {
                id: child,
                kind: self.node(child)?.kind(),
                name: name.clone(),
            });
        }
        Ok(listing)
    }

    pub fn readlink(&self, id: u64) -> Result<&OsStr> {
        match &self.node(id)?.data {
            Data::Symlink { target } => Ok(target),
            _ => Err(Errno::EINVAL),
        }
    }

    /// fsync/fdatasync: makes the inode's contents, size and metadata durable,
    /// not the entries that name it.
    pub fn fsync(&mut self, id: u64) -> Result<()> {
        let node = self.nodes.get(&id).ok_or(Errno::ENOENT)?;
        match &node.data {
            Data::File {
                contents,
                dirty_from,
            } => {
                self.store
                    .sync_file(id, node.meta(), contents, *dirty_from)
                    .map_err(store_error)?;
                if let Some(Node {
                    data: Data::File { dirty_from, .. },
                    ..
                }) = self.nodes.get_mut(&id)
                {
                    *dirty_from = None;
                }
                Ok(())
            }
            Data::Dir { .. } => self.fsyncdir(id),
            Data::Symlink { .. } => Ok(()),
        }
    }

    /// fsync on a directory: makes its entry list durable, and every inode
    /// it names exist durably (as what was last synced of it, or empty).
    pub fn fsyncdir(&mut self, id: u64) -> Result<()> {
        let node = self.nodes.get(&id).ok_or(Errno::ENOENT)?;
        let Data::Dir { entries, .. } = &node.data else {
            return Err(Errno::ENOTDIR);
        };
        for child in entries.values() {
            if !self.store.contains(*child) {
                let record = self.nodes.get(child).ok_or(Errno::EIO)?.placeholder();
                self.store.ensure(*child, record).map_err(store_error)?;
            }
        }
        let encoded = entries
            .iter()
            .map(|(name, child)| (store::encode_name(name), *child))
            .collect();
        let nodes = &self.nodes;
        self.store
            .sync_dir(id, node.meta(), encoded, &|other| {
                nodes.contains_key(&other)
            })
            .map_err(store_error)
    }
}

fn check_name(name: &OsStr) -> Result<()> {
    if name.len() > NAME_MAX {
        Err(Errno::ENAMETOOLONG)
    } else if !store::is_valid_name(name) {
        Err(Errno::EINVAL)
    } else {
        Ok(())
    }
}

fn store_error(err: io::Error) -> Errno {
    eprintln!("floe-powercut: sync failed: {err}");
    Errno::EIO
}

fn resolve_time(time: TimeOrNow, now: SystemTime) -> SystemTime {
    match time {
        TimeOrNow::SpecificTime(time) => time,
        TimeOrNow::Now => now,
    }
}

fn mark_dirty(dirty_from: &mut Option<u64>, offset: u64) {
    *dirty_from = Some(dirty_from.map_or(offset, |from| from.min(offset)));
}

fn reserve(contents: &mut Vec<u8>, end: u64) -> Result<()> {
    let additional = (end as usize).saturating_sub(contents.len());
    contents.try_reserve(additional).map_err(|_| Errno::ENOSPC)
}

fn resize(contents: &mut Vec<u8>, dirty_from: &mut Option<u64>, size: u64) -> Result<()> {
    if size > MAX_FILE_SIZE {
        return Err(Errno::EFBIG);
    }
    let old_len = contents.len() as u64;
    if size == old_len {
        return Ok(());
    }
    if size > old_len {
        reserve(contents, size)?;
    }
    contents.resize(size as usize, 0);
    if contents.capacity() > 2 * contents.len() + (1 << 20) {
        contents.shrink_to_fit();
    }
    mark_dirty(dirty_from, size.min(old_len));
    Ok(())
}

#[cfg(test)]
mod tests;
