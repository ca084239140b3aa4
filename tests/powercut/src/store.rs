//! The durable half of the model: everything a power cut keeps, held in the
//! store directory on the host.
//!
//! Layout of a store directory:
//!
//! - `inodes/<id>.json`: one record per durable inode (kind, mode, owner,
//!   mtime, and for a file its durable size and data generation, for a
//!   directory its durable entries, for a symlink its target).
//! - `data/<id>.<generation>`: the durable contents of a file. Only the first
//!   `size` bytes named by the record count; anything beyond is the tail of
//!   an append that never completed and is cut off at the next mount.
//! - `counters.json`: bookkeeping (mounts, cuts, syncs), written at a cut.
//! - `lock`: flocked by the process serving the store.
//!
//! Every record is replaced by writing a temporary file and swapping it in
//! with one rename, and a file whose contents are rewritten gets a new data
//! generation that the record switches to in that rename, so an interrupted
//! `floe-powercut` never leaves a record or a file's contents half-written.
//! The host is assumed not to crash, so nothing here calls fsync on the host.

mod record;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ffi::{CString, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

pub use record::{Body, Meta, Record, decode_name, encode_name, is_valid_name};

/// The id of the root directory, which is also its FUSE inode number.
pub const ROOT_ID: u64 = 1;

const INODES: &str = "inodes";
const DATA: &str = "data";
const COUNTERS: &str = "counters.json";
const LOCK: &str = "lock";
const TMP_SUFFIX: &str = ".tmp";

/// Running totals kept in `counters.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Times the store was mounted.
    pub mounts: u64,
    /// Power cuts (and unmounts) that ended a mount.
    pub cuts: u64,
    /// fsync/fdatasync calls on files that reached the store.
    pub file_syncs: u64,
    /// fsync calls on directories that reached the store.
    pub dir_syncs: u64,
    /// File content bytes written into the store.
    pub data_bytes_written: u64,
}

/// The contents of a durable inode as loaded at mount.
#[derive(Debug)]
pub enum Contents {
    File(Vec<u8>),
    Dir {
        entries: Vec<(OsString, u64)>,
        parent: u64,
    },
    Symlink(OsString),
}

/// A durable inode reachable from the root, as loaded at mount.
#[derive(Debug)]
pub struct Loaded {
    pub id: u64,
    pub meta: Meta,
    pub contents: Contents,
    /// Durable directory entries that name this inode.
    pub links: u32,
}

/// Totals over the durable tree, for `floe-powercut stats`.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub files: u64,
    pub directories: u64,
    pub symlinks: u64,
    pub file_bytes: u64,
    pub unreachable_records: u64,
    pub counters: Counters,
}

/// The durable state: a mirror of the records in the store directory, kept
/// in step with every write to it.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    records: HashMap<u64, Record>,
    /// For each durable inode, how many durable directory entries name it.
    links: HashMap<u64, u32>,
    counters: Counters,
    /// Set by a power cut: from then on nothing more reaches the store.
    cut: bool,
    /// Holds an exclusive flock on `lock` while mounted, so that two
    /// processes never serve one store.
    _lock: File,
}

/// The durable inodes reachable from the root, found by following durable
/// directory entries. Entries that name a missing record, an invalid name,
/// or a directory already reached another way are dropped.
struct Reach {
    /// Reachable ids, each with the directory it was first reached from.
    parents: HashMap<u64, u64>,
    links: HashMap<u64, u32>,
    /// Directories whose entry list loses entries.
    repaired: HashMap<u64, BTreeMap<String, u64>>,
}

impl Store {
    /// Opens (or creates) a store for mounting: drops whatever the durable
    /// tree no longer reaches and returns the reachable inodes with their
    /// durable contents.
    pub fn open(dir: &Path) -> io::Result<(Store, Vec<Loaded>)> {
        fs::create_dir_all(dir.join(INODES))?;
        fs::create_dir_all(dir.join(DATA))?;
        let lock = lock_store(dir)?;
        remove_temporaries(dir)?;
        remove_temporaries(&dir.join(INODES))?;
        remove_temporaries(&dir.join(DATA))?;

        let mut records = read_records(dir)?;
        let mut counters = read_counters(dir)?;
        counters.mounts += 1;
        let mut store = Store {
            dir: dir.to_path_buf(),
            records: HashMap::new(),
            links: HashMap::new(),
            counters,
            cut: false,
            _lock: lock,
        };
        if let Entry::Vacant(root) = records.entry(ROOT_ID) {
            store.write_record(ROOT_ID, root.insert(default_root()))?;
        }

        let reach = reach(&records)?;
        for (id, entries) in &reach.repaired {
            let record = records.get_mut(id).expect("repaired directories exist");
            record.body = Body::Dir {
                entries: entries.clone(),
            };
            store.write_record(*id, record)?;
        }
        for id in records.keys() {
            if !reach.parents.contains_key(id) {
                remove_if_present(&store.record_path(*id))?;
            }
        }
        records.retain(|id, _| reach.parents.contains_key(id));
        store.remove_stray_data(&records)?;

        let mut loaded = Vec::with_capacity(records.len());
        for (&id, record) in &records {
            let contents = match &record.body {
                Body::File { size, generation } => {
                    Contents::File(store.read_data(id, *size, *generation)?)
                }
                Body::Dir { entries } => Contents::Dir {
                    entries: entries
                        .iter()
                        .map(|(name, child)| (decode_name(name).expect("validated"), *child))
                        .collect(),
                    parent: reach.parents[&id],
                },
                Body::Symlink { target } => Contents::Symlink(
                    decode_name(target).ok_or_else(|| corrupt(id, "undecodable symlink target"))?,
                ),
            };
            loaded.push(Loaded {
                id,
                meta: record.meta.clone(),
                contents,
                links: reach.links.get(&id).copied().unwrap_or(0),
            });
        }
        store.links = reach.links;
        store.records = records;
        Ok((store, loaded))
    }

    /// Reads a store without changing it, for reporting.
    pub fn summarize(dir: &Path) -> io::Result<Summary> {
        let mut records = read_records(dir)?;
        records.entry(ROOT_ID).or_insert_with(default_root);
        let reach = reach(&records)?;
        let mut summary = Summary {
            files: 0,
            directories: 0,
            symlinks: 0,
            file_bytes: 0,
            unreachable_records: 0,
            counters: read_counters(dir)?,
        };
        for (id, record) in &records {
            if !reach.parents.contains_key(id) {
                summary.unreachable_records += 1;
                continue;
            }
            match record.body {
                Body::File { size, .. } => {
                    summary.files += 1;
                    summary.file_bytes += size;
                }
                Body::Dir { .. } => summary.directories += 1,
                Body::Symlink { .. } => summary.symlinks += 1,
            }
        }
        Ok(summary)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn contains(&self, id: u64) -> bool {
        self.records.contains_key(&id)
    }

    #[cfg(test)]
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Makes a file's contents and metadata durable. `dirty_from` is the
    /// lowest offset changed since the last sync of this file (`None` if
    /// nothing changed); when only bytes past the durable size changed, the
    /// new tail is appended to the existing data file instead of rewriting it.
    pub fn sync_file(
        &mut self,
        id: u64,
        meta: Meta,
        data: &[u8],
        dirty_from: Option<u64>,
    ) -> io::Result<()> {
        self.check_live()?;
        let (old_size, old_generation) = match self.records.get(&id) {
            Some(Record {
                body: Body::File { size, generation },
                ..
            }) => (Some(*size), *generation),
            _ => (None, 0),
        };
        let len = data.len() as u64;
        let unchanged = dirty_from.is_none() && old_size == Some(len);
        let append_from = old_size.filter(|&size| {
            old_generation != 0 && dirty_from.is_none_or(|from| from >= size) && len >= size
        });
        let generation = if unchanged {
            old_generation
        } else if len == 0 {
            0
        } else if let Some(size) = append_from {
            let tail = &data[size as usize..];
            self.write_data_at(id, old_generation, size, tail)?;
            self.counters.data_bytes_written += tail.len() as u64;
            old_generation
        } else {
            let generation = old_generation + 1;
            self.write_data_new(id, generation, data)?;
            self.counters.data_bytes_written += len;
            generation
        };

        let record = Record {
            meta,
            body: Body::File {
                size: len,
                generation,
            },
        };
        if self.records.get(&id) != Some(&record) {
            self.write_record(id, &record)?;
        }
        if old_generation != 0 && old_generation != generation {
            remove_if_present(&self.data_path(id, old_generation))?;
        }
        self.records.insert(id, record);
        self.links.entry(id).or_insert(0);
        self.counters.file_syncs += 1;
        Ok(())
    }

    /// Makes an inode exist durably if it does not yet, with `record` as its
    /// durable state (an empty file, an empty directory, or a symlink).
    pub fn ensure(&mut self, id: u64, record: Record) -> io::Result<()> {
        if self.records.contains_key(&id) {
            return Ok(());
        }
        self.check_live()?;
        self.write_record(id, &record)?;
        self.records.insert(id, record);
        self.links.entry(id).or_insert(0);
        Ok(())
    }

    /// Makes a directory's metadata and entry list durable. Every child
    /// must already exist durably (see [`Store::ensure`]). `is_volatile`
    /// tells which inodes still exist in the volatile view, so that inodes
    /// dropped from the durable tree can be collected.
    pub fn sync_dir(
        &mut self,
        id: u64,
        meta: Meta,
        entries: BTreeMap<String, u64>,
        is_volatile: &dyn Fn(u64) -> bool,
    ) -> io::Result<()> {
        self.check_live()?;
        debug_assert!(entries.values().all(|child| self.contains(*child)));
        let old_entries = match self.records.get(&id) {
            Some(Record {
                body: Body::Dir { entries },
                ..
            }) => entries.clone(),
            _ => BTreeMap::new(),
        };
        let record = Record {
            meta,
            body: Body::Dir { entries },
        };
        if self.records.get(&id) != Some(&record) {
            self.write_record(id, &record)?;
        }
        let Body::Dir { entries } = &record.body else {
            unreachable!("built as a directory")
        };
        for child in entries.values() {
            *self.links.entry(*child).or_insert(0) += 1;
        }
        let mut dropped = Vec::new();
        for child in old_entries.values() {
            let links = self.links.entry(*child).or_insert(0);
            *links = links.saturating_sub(1);
            dropped.push(*child);
        }
        self.records.insert(id, record);
        self.links.entry(id).or_insert(0);
        self.counters.dir_syncs += 1;
        for child in dropped {
            self.collect(child, is_volatile);
        }
        Ok(())
    }

    /// Called when an inode leaves the volatile view: if no durable entry
    /// names it either, it can never come back, so its records go.
    pub fn release(&mut self, id: u64, is_volatile: &dyn Fn(u64) -> bool) {
        self.collect(id, is_volatile);
    }

    /// The power cut: nothing reaches the store from now on. Saves the
    /// counters (bookkeeping only, not file system state).
    pub fn power_cut(&mut self) -> io::Result<Counters> {
        self.cut = true;
        self.counters.cuts += 1;
        let json = serde_json::to_vec_pretty(&self.counters).map_err(io::Error::other)?;
        write_atomically(&self.dir.join(COUNTERS), &json)?;
        Ok(self.counters.clone())
    }

    fn check_live(&self) -> io::Result<()> {
        if self.cut {
            Err(io::Error::other("the power is cut"))
        } else {
            Ok(())
        }
    }

    /// Removes durable inodes that no durable entry names and that have left
    /// the volatile view, following directories down.
    fn collect(&mut self, start: u64, is_volatile: &dyn Fn(u64) -> bool) {
        if self.cut {
            return;
        }
        let mut work = vec![start];
        while let Some(id) = work.pop() {
            if id == ROOT_ID || is_volatile(id) || self.links.get(&id).is_some_and(|&n| n > 0) {
                continue;
            }
            let Some(record) = self.records.remove(&id) else {
                continue;
            };
            self.links.remove(&id);
            let mut removed = remove_if_present(&self.record_path(id));
            match record.body {
                Body::File { generation, .. } if generation != 0 => {
                    removed = removed.and(remove_if_present(&self.data_path(id, generation)));
                }
                Body::Dir { entries } => {
                    for child in entries.into_values() {
                        if let Some(links) = self.links.get_mut(&child) {
                            *links = links.saturating_sub(1);
                        }
                        work.push(child);
                    }
                }
                _ => {}
            }
            if let Err(err) = removed {
                eprintln!("floe-powercut: could not remove inode {id} from the store: {err}");
            }
        }
    }

    fn record_path(&self, id: u64) -> PathBuf {
        self.dir.join(INODES).join(format!("{id}.json"))
    }

    fn data_path(&self, id: u64, generation: u64) -> PathBuf {
        self.dir.join(DATA).join(format!("{id}.{generation}"))
    }

    fn write_record(&self, id: u64, record: &Record) -> io::Result<()> {
        let json = serde_json::to_vec(record).map_err(io::Error::other)?;
        write_atomically(&self.record_path(id), &json)
    }

    /// Writes a data file under a generation no record names yet, so a
    /// partial write is never visible.
    fn write_data_new(&self, id: u64, generation: u64, data: &[u8]) -> io::Result<()> {
        let mut file = File::create(self.data_path(id, generation))?;
        file.write_all(data)
    }

    fn write_data_at(&self, id: u64, generation: u64, offset: u64, data: &[u8]) -> io::Result<()> {
        let file = OpenOptions::new()
            .write(true)
            .open(self.data_path(id, generation))?;
        file.write_all_at(data, offset)
    }

    fn read_data(&self, id: u64, size: u64, generation: u64) -> io::Result<Vec<u8>> {
        if generation == 0 {
            return if size == 0 {
                Ok(Vec::new())
            } else {
                Err(corrupt(id, "a non-empty file without a data file"))
            };
        }
        let path = self.data_path(id, generation);
        let mut data = fs::read(&path).map_err(|err| {
            io::Error::new(err.kind(), format!("reading {}: {err}", path.display()))
        })?;
        let len = data.len() as u64;
        if len < size {
            return Err(corrupt(
                id,
                &format!("data file holds {len} of {size} bytes"),
            ));
        }
        if len > size {
            OpenOptions::new().write(true).open(&path)?.set_len(size)?;
            data.truncate(size as usize);
        }
        Ok(data)
    }

    /// Removes data files that no reachable record names.
    fn remove_stray_data(&self, records: &HashMap<u64, Record>) -> io::Result<()> {
        for entry in fs::read_dir(self.dir.join(DATA))? {
            let entry = entry?;
            let name = entry.file_name();
            let wanted = name
                .to_str()
                .and_then(|name| name.split_once('.'))
                .and_then(|(id, generation)| Some((id.parse().ok()?, generation.parse().ok()?)))
                .is_some_and(|(id, generation): (u64, u64)| {
                    matches!(
                        records.get(&id),
                        Some(Record { body: Body::File { generation: g, .. }, .. }) if *g == generation
                    )
                });
            if !wanted {
                remove_if_present(&entry.path())?;
            }
        }
        Ok(())
    }
}

fn reach(records: &HashMap<u64, Record>) -> io::Result<Reach> {
    if !matches!(
        records.get(&ROOT_ID),
        Some(Record {
            body: Body::Dir { .. },
            ..
        })
    ) {
        return Err(corrupt(ROOT_ID, "the root is not a directory"));
    }
    let mut reach = Reach {
        parents: HashMap::from([(ROOT_ID, ROOT_ID)]),
        links: HashMap::new(),
        repaired: HashMap::new(),
    };
    let mut queue = VecDeque::from([ROOT_ID]);
    while let Some(dir) = queue.pop_front() {
        let Body::Dir { entries } = &records[&dir].body else {
            continue;
        };
        let mut kept = entries.clone();
        for (name, &child) in entries {
            let valid_name = decode_name(name).is_some_and(|name| is_valid_name(&name));
            let keep = valid_name
                && match records.get(&child).map(|record| &record.body) {
                    None => false,
                    Some(Body::Dir { .. }) => {
                        let first = !reach.parents.contains_key(&child);
                        if first {
                            reach.parents.insert(child, dir);
                            queue.push_back(child);
                        }
                        first
                    }
                    Some(_) => {
                        reach.parents.entry(child).or_insert(dir);
                        true
                    }
                };
            if keep {
                *reach.links.entry(child).or_insert(0) += 1;
            } else {
                kept.remove(name);
            }
        }
        if kept.len() != entries.len() {
            reach.repaired.insert(dir, kept);
        }
    }
    Ok(reach)
}

fn lock_store(dir: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK))?;
    // SAFETY: flock on a descriptor that `file` keeps open.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let err = io::Error::last_os_error();
        return Err(if err.kind() == ErrorKind::WouldBlock {
            io::Error::new(
                ErrorKind::ResourceBusy,
                "the store is in use by another floe-powercut",
            )
        } else {
            err
        });
    }
    Ok(file)
}

fn default_root() -> Record {
    // SAFETY: getuid and getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    Record {
        meta: Meta::new(0o755, uid, gid, SystemTime::now()),
        body: Body::Dir {
            entries: BTreeMap::new(),
        },
    }
}

fn read_records(dir: &Path) -> io::Result<HashMap<u64, Record>> {
    let mut records = HashMap::new();
    let inodes = dir.join(INODES);
    let entries = match fs::read_dir(&inodes) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(records),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|name| name.strip_suffix(".json"))
            .and_then(|id| id.parse::<u64>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let bytes = fs::read(&path)?;
        let record: Record = serde_json::from_slice(&bytes).map_err(|err| {
            io::Error::new(ErrorKind::InvalidData, format!("{}: {err}", path.display()))
        })?;
        records.insert(id, record);
    }
    Ok(records)
}

fn read_counters(dir: &Path) -> io::Result<Counters> {
    match fs::read(dir.join(COUNTERS)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|err| io::Error::new(ErrorKind::InvalidData, format!("{COUNTERS}: {err}"))),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(Counters::default()),
        Err(err) => Err(err),
    }
}

fn remove_temporaries(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry
            .file_name()
            .as_bytes()
            .ends_with(TMP_SUFFIX.as_bytes())
        {
            remove_if_present(&entry.path())?;
        }
    }
    Ok(())
}

/// Replaces `path` with `contents` in one rename.
///
/// An existing file is swapped out with RENAME_EXCHANGE and then removed,
/// rather than renamed over: ext4 (auto_da_alloc) starts writeback of the
/// new file on every rename that replaces a file, which costs about a
/// millisecond per sync. A leftover temporary file holds the old contents
/// and is removed at the next mount.
fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, contents)?;
    let from = CString::new(tmp.as_os_str().as_bytes())?;
    let to = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings.
    let swapped = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if swapped == 0 {
        return fs::remove_file(&tmp);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // Nothing to swap with yet, or no exchange on this file system.
        Some(libc::ENOENT | libc::EINVAL | libc::EOPNOTSUPP | libc::ENOSYS) => {
            fs::rename(&tmp, path)
        }
        _ => Err(err),
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

fn corrupt(id: u64, what: &str) -> io::Error {
    io::Error::new(
        ErrorKind::InvalidData,
        format!("corrupt store: inode {id}: {what}"),
    )
}
