//! Runs the built `floe-powercut` on a temporary store and mount point.

#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

const BINARY: &str = env!("CARGO_BIN_EXE_floe-powercut");
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// A store with a mount point, mounted by a `floe-powercut` process.
pub struct Powercut {
    dir: TempDir,
    child: Option<Child>,
}

impl Powercut {
    /// Mounts a new, empty store; `None` (with a message) where FUSE is not
    /// available.
    pub fn start() -> Option<Powercut> {
        if !Path::new("/dev/fuse").exists() {
            eprintln!("skipping: /dev/fuse is missing, FUSE mounts are impossible here");
            return None;
        }
        let dir = TempDir::new().expect("temporary directory");
        fs::create_dir(dir.path().join("mnt")).unwrap();
        let mut powercut = Powercut { dir, child: None };
        powercut.mount();
        Some(powercut)
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn mountpoint(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    /// A path inside the mounted file system.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.mountpoint().join(relative)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("powercut.log")
    }

    /// Starts `floe-powercut mount` and waits for it to print `ready`.
    pub fn mount(&mut self) {
        assert!(self.child.is_none(), "already mounted");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut child = Command::new(BINARY)
            .arg("mount")
            .arg("--store")
            .arg(self.store())
            .arg(self.mountpoint())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawning floe-powercut");
        let stdout = child.stdout.take().unwrap();
        let (lines, line) = mpsc::channel();
        thread::spawn(move || {
            for text in BufReader::new(stdout).lines() {
                if lines.send(text).is_err() {
                    break;
                }
            }
        });
        match line.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(text)) if text == "ready" => {}
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("floe-powercut did not get ready: {other:?}\n{}", self.log());
            }
        }
        self.child = Some(child);
    }

    /// The power cut: SIGTERM, then the process must exit 0 on its own.
    pub fn cut(&mut self) {
        let status = self.signal_and_wait(libc::SIGTERM);
        assert!(
            status.success(),
            "floe-powercut exited with {status}\n{}",
            self.log()
        );
    }

    /// Cuts the power and mounts the store again.
    pub fn cycle(&mut self) {
        self.cut();
        self.mount();
    }

    /// Kills `floe-powercut` itself with SIGKILL, leaving a dead mount.
    pub fn crash(&mut self) {
        self.signal_and_wait(libc::SIGKILL);
    }

    fn signal_and_wait(&mut self, signal: i32) -> ExitStatus {
        let mut child = self.child.take().expect("mounted");
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(child.id() as i32, signal) };
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "floe-powercut did not exit after signal {signal}\n{}",
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// What `floe-powercut` printed on stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Runs `floe-powercut stats` on the store.
    pub fn stats(&self) -> serde_json::Value {
        let output = Command::new(BINARY)
            .arg("stats")
            .arg("--store")
            .arg(self.store())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

impl Drop for Powercut {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal_and_wait(libc::SIGTERM);
        }
        if thread::panicking() {
            eprintln!("floe-powercut log:\n{}", self.log());
        }
    }
}

/// fsync on a directory, as databases do after creating or renaming files.
pub fn fsync_dir(dir: &Path) {
    File::open(dir).unwrap().sync_all().unwrap();
}

/// Writes a file and fsyncs it (not its directory).
pub fn write_synced(path: &Path, contents: &[u8]) {
    fs::write(path, contents).unwrap();
    File::open(path).unwrap().sync_all().unwrap();
}

/// Runs a Python script with arguments, returning its stdout; panics with
/// its stderr when it fails.
pub fn python(script: &str, args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 must be on PATH");
    assert!(
        output.status.success(),
        "python failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A small deterministic random number generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `low..high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}
