//! Serving a store at a mount point until the power is cut.
//!
//! SIGTERM or SIGINT is the power cut: the store stops taking anything, the
//! mount is detached lazily (so a busy mount cannot wedge the exit) and the
//! process exits 0. Whatever no sync made durable is simply never written.

use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::{Context, bail};
use fuser::{Config, MountOption, Session, SessionACL};

use crate::fs::{PowercutFs, lock};
use crate::tree::Tree;

/// The name the mount carries as its source in the mount table.
pub const FS_NAME: &str = "floe-powercut";

/// How to serve a store.
#[derive(Debug)]
pub struct MountArgs {
    pub store: PathBuf,
    pub mountpoint: PathBuf,
    pub allow_other: bool,
    pub threads: usize,
}

enum Event {
    Signal(i32),
    SessionEnded(io::Result<()>),
}

/// Mounts the durable state of the store, prints `ready`, and serves until a
/// power cut; returns only on errors before serving, otherwise exits.
pub fn run(args: &MountArgs) -> anyhow::Result<()> {
    let tree = Tree::open(&args.store)
        .with_context(|| format!("opening store {}", args.store.display()))?;
    clear_stale_mount(&args.mountpoint)?;
    let mountpoint = args
        .mountpoint
        .canonicalize()
        .with_context(|| format!("mount point {}", args.mountpoint.display()))?;
    if is_powercut_mount(&mountpoint)? {
        bail!(
            "{} is already served by a running floe-powercut",
            mountpoint.display()
        );
    }

    // Every thread started from here on inherits the blocked set, so the
    // signals reach only the thread that waits for them.
    let signals = block_signals(&[libc::SIGTERM, libc::SIGINT])?;
    let tree = Arc::new(Mutex::new(tree));
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(FS_NAME.into()),
        MountOption::DefaultPermissions,
    ];
    config.n_threads = Some(args.threads.max(1));
    if args.allow_other {
        config.acl = SessionACL::All;
    }
    let session = Session::new(PowercutFs::new(Arc::clone(&tree)), &mountpoint, &config)
        .with_context(|| format!("mounting at {}", mountpoint.display()))?;

    let (events, next_event) = mpsc::channel();
    let session_events = events.clone();
    thread::Builder::new()
        .name("fuse-session".into())
        .spawn(move || {
            let _ = session_events.send(Event::SessionEnded(session.run()));
        })?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            loop {
                match wait_for_signal(&signals) {
                    Ok(signal) => {
                        let _ = events.send(Event::Signal(signal));
                    }
                    Err(err) => eprintln!("floe-powercut: sigwait failed: {err}"),
                }
            }
        })?;

    eprintln!(
        "floe-powercut: serving {} at {}",
        args.store.display(),
        mountpoint.display()
    );
    let mut stdout = io::stdout().lock();
    if let Err(err) = writeln!(stdout, "ready").and_then(|()| stdout.flush()) {
        eprintln!("floe-powercut: could not announce readiness: {err}");
    }
    drop(stdout);

    let (cause, exit_code) = match next_event.recv() {
        Ok(Event::Signal(signal)) => (format!("signal {signal}"), 0),
        Ok(Event::SessionEnded(Ok(()))) => ("the mount went away".to_owned(), 0),
        Ok(Event::SessionEnded(Err(err))) => (format!("the FUSE session failed: {err}"), 1),
        Err(mpsc::RecvError) => ("all event sources ended".to_owned(), 1),
    };
    match lock(&tree).power_cut() {
        Ok(counters) => eprintln!(
            "floe-powercut: power cut ({cause}); store totals: {} file syncs, {} directory syncs, {} data bytes written",
            counters.file_syncs, counters.dir_syncs, counters.data_bytes_written
        ),
        Err(err) => eprintln!("floe-powercut: power cut ({cause}); saving counters failed: {err}"),
    }
    if let Err(err) = detach(&mountpoint) {
        eprintln!(
            "floe-powercut: unmounting {} failed: {err}",
            mountpoint.display()
        );
    }
    std::process::exit(exit_code)
}

/// Unmounts a FUSE mount left behind by a process that died (the mount point
/// then fails with ENOTCONN).
fn clear_stale_mount(mountpoint: &Path) -> anyhow::Result<()> {
    let stale = match fs::metadata(mountpoint) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => bail!("mount point {} is not a directory", mountpoint.display()),
        Err(err) => matches!(
            err.raw_os_error(),
            Some(libc::ENOTCONN | libc::ECONNABORTED)
        ),
    };
    if !stale {
        return fs::metadata(mountpoint)
            .map(drop)
            .with_context(|| format!("mount point {}", mountpoint.display()));
    }
    eprintln!(
        "floe-powercut: unmounting the dead mount at {}",
        mountpoint.display()
    );
    detach(mountpoint)
        .with_context(|| format!("unmounting dead mount {}", mountpoint.display()))?;
    if !fs::metadata(mountpoint)?.is_dir() {
        bail!("mount point {} is not a directory", mountpoint.display());
    }
    Ok(())
}

/// Whether a live floe-powercut mount sits at `mountpoint`.
fn is_powercut_mount(mountpoint: &Path) -> io::Result<bool> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")?;
    let wanted = mountpoint.as_os_str().as_bytes();
    Ok(mountinfo.lines().any(|line| {
        let mut halves = line.splitn(2, " - ");
        let (Some(mount), Some(source)) = (halves.next(), halves.next()) else {
            return false;
        };
        let point = mount.split(' ').nth(4).map(unescape_mountinfo);
        let mut source = source.split(' ');
        let (fs_type, device) = (source.next(), source.next());
        point.as_deref() == Some(wanted)
            && fs_type.is_some_and(|t| t == "fuse" || t.starts_with("fuse."))
            && device == Some(FS_NAME)
    }))
}

/// Undoes the octal escapes (`\040` for a space) of /proc/self/mountinfo.
fn unescape_mountinfo(field: &str) -> Vec<u8> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes.get(i + 1..i + 4).filter(|_| bytes[i] == b'\\');
        match escape
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 8).ok())
        {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// Lazily unmounts `mountpoint` (MNT_DETACH), falling back to
/// `fusermount3 -u -z` where umount2 is not permitted.
fn detach(mountpoint: &Path) -> io::Result<()> {
    let path = CString::new(mountpoint.as_os_str().as_bytes())?;
    // SAFETY: `path` is a valid NUL-terminated string.
    if unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // Not a mount point (any more): nothing to do.
        Some(libc::EINVAL) => Ok(()),
        Some(libc::EPERM) => {
            let status = Command::new("fusermount3")
                .args(["-u", "-z", "--"])
                .arg(mountpoint)
                .status()?;
            if status.success() {
                Ok(())
            } else {
                Err(io::Error::other(format!("fusermount3 -u -z: {status}")))
            }
        }
        _ => Err(err),
    }
}

/// Blocks `signals` in the calling thread (and the threads it starts) and
/// returns the set to wait on.
fn block_signals(signals: &[i32]) -> io::Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initializes the set; sigaddset and pthread_sigmask
    // get a valid, initialized set.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for &signal in signals {
            libc::sigaddset(set.as_mut_ptr(), signal);
        }
        let set = set.assume_init();
        match libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) {
            0 => Ok(set),
            code => Err(io::Error::from_raw_os_error(code)),
        }
    }
}

fn wait_for_signal(set: &libc::sigset_t) -> io::Result<i32> {
    let mut signal = 0;
    // SAFETY: `set` is an initialized signal set and `signal` is writable.
    match unsafe { libc::sigwait(set, &mut signal) } {
        0 => Ok(signal),
        code => Err(io::Error::from_raw_os_error(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b"), b"/tmp/a b");
        assert_eq!(unescape_mountinfo(r"/plain"), b"/plain");
        assert_eq!(unescape_mountinfo(r"/end\"), b"/end\\");
    }
}
