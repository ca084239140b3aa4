//! SQLite on the power-cut file system: a writer commits transactions until
//! it is killed mid-stream, the power is cut, and after the remount the
//! database must pass `PRAGMA integrity_check` and hold every transaction
//! whose commit returned.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::{Powercut, Rng, python};

const CYCLES: usize = 20;

/// Commits numbered transactions forever, printing each number once its
/// COMMIT has returned; several writers may share the database. Each transaction adds a ledger row naming how many
/// item rows it added, and churns a table with an index (inserts and
/// deletes) so that pages are freed and reused.
const WRITER: &str = r#"
import random, sqlite3, sys
path, journal, sync, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = sqlite3.connect(path, isolation_level=None, timeout=30)
con.execute(f"PRAGMA journal_mode={journal}").fetchall()
con.execute(f"PRAGMA synchronous={sync}")
con.execute("CREATE TABLE IF NOT EXISTS ledger(txn INTEGER PRIMARY KEY, rows INTEGER NOT NULL)")
con.execute("CREATE TABLE IF NOT EXISTS item(txn INTEGER, k INTEGER, v BLOB, PRIMARY KEY(txn, k))")
con.execute("CREATE TABLE IF NOT EXISTS churn(id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
con.execute("CREATE INDEX IF NOT EXISTS churn_v ON churn(v)")
rng = random.Random(seed)
while True:
    rows = rng.randint(1, 20)
    con.execute("BEGIN IMMEDIATE")
    txn = con.execute("SELECT coalesce(max(txn), 0) + 1 FROM ledger").fetchone()[0]
    con.executemany("INSERT INTO item VALUES (?, ?, ?)",
                    [(txn, k, rng.randbytes(rng.randint(1, 3000))) for k in range(rows)])
    con.execute("INSERT INTO churn(v) VALUES (?)", (rng.randbytes(rng.randint(10, 5000)),))
    con.execute("DELETE FROM churn WHERE id = (SELECT id FROM churn ORDER BY random() LIMIT 1)"
                " AND (SELECT count(*) FROM churn) > 50")
    con.execute("INSERT INTO ledger VALUES (?, ?)", (txn, rows))
    con.execute("COMMIT")
    print(txn, flush=True)
"#;

/// Opens the database (recovering it), and prints the integrity check, the
/// number of transactions, the highest one, and any transaction whose rows
/// are incomplete.
const CHECKER: &str = r#"
import os, sqlite3, sys
path = sys.argv[1]
if not os.path.exists(path):
    print("ok 0 0 0")
    sys.exit()
con = sqlite3.connect(path, isolation_level=None)
integrity = ",".join(row[0] for row in con.execute("PRAGMA integrity_check"))
tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
if "ledger" not in tables:
    print(integrity, 0, 0, 0)
    sys.exit()
ledger = dict(con.execute("SELECT txn, rows FROM ledger"))
items = dict(con.execute("SELECT txn, count(*) FROM item GROUP BY txn"))
bad = sum(1 for txn in set(ledger) | set(items) if ledger.get(txn) != items.get(txn))
print(integrity, len(ledger), max(ledger, default=0), bad)
"#;

struct Check {
    integrity: String,
    count: u64,
    max: u64,
    incomplete: u64,
}

fn check(db: &str) -> Check {
    let output = python(CHECKER, &[db]);
    let fields: Vec<&str> = output.split_whitespace().collect();
    assert_eq!(fields.len(), 4, "checker printed {output:?}");
    Check {
        integrity: fields[0].to_owned(),
        count: fields[1].parse().unwrap(),
        max: fields[2].parse().unwrap(),
        incomplete: fields[3].parse().unwrap(),
    }
}

fn seed() -> u64 {
    std::env::var("POWERCUT_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// Runs the write / kill / cut / remount / check cycle with `writers`
/// concurrent writer processes. Returns how many cycles lost the last
/// acknowledged transaction (only tolerated when `may_lose_last` is set).
fn cycles(journal: &str, sync: &str, writers: usize, may_lose_last: bool) -> usize {
    let Some(mut pc) = Powercut::start() else {
        return 0;
    };
    let seed = seed();
    eprintln!(
        "journal_mode={journal} synchronous={sync} writers={writers} seed={seed} \
         (set POWERCUT_SEED to repeat)"
    );
    let mut rng = Rng::new(seed);
    let db = pc.path("test.db");
    let db = db.to_str().unwrap();
    let mut acknowledged = 0;
    let mut lost_last = 0;
    for cycle in 0..CYCLES {
        let commits = rng.range(1, 40);
        let (lines, line) = mpsc::channel();
        let mut processes = Vec::new();
        for _ in 0..writers {
            let mut writer = Command::new("python3")
                .args(["-c", WRITER, db, journal, sync, &rng.next().to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3 must be on PATH");
            let stdout = writer.stdout.take().unwrap();
            let lines = lines.clone();
            thread::spawn(move || {
                for text in BufReader::new(stdout).lines() {
                    if lines.send(text.unwrap()).is_err() {
                        break;
                    }
                }
            });
            processes.push(writer);
        }
        for _ in 0..commits {
            let text = line
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|err| panic!("cycle {cycle}: the writers stopped: {err}"));
            acknowledged = acknowledged.max(text.parse().unwrap());
        }
        thread::sleep(Duration::from_micros(rng.range(0, 5000)));
        for writer in &mut processes {
            writer.kill().unwrap();
        }
        for writer in &mut processes {
            writer.wait().unwrap();
        }
        pc.cycle();

        let found = check(db);
        assert_eq!(found.integrity, "ok", "cycle {cycle}: integrity check");
        assert_eq!(found.incomplete, 0, "cycle {cycle}: a torn transaction");
        assert_eq!(found.count, found.max, "cycle {cycle}: a gap in the ledger");
        if found.max + 1 == acknowledged && may_lose_last {
            lost_last += 1;
        } else {
            assert!(
                found.max >= acknowledged,
                "cycle {cycle}: transaction {acknowledged} was acknowledged, the database has {}",
                found.max
            );
        }
        acknowledged = found.max;
    }
    let stats = pc.stats();
    eprintln!(
        "journal_mode={journal} synchronous={sync} writers={writers}: {CYCLES} cycles, \
         {acknowledged} transactions, last acknowledged transaction rolled back in \
         {lost_last} cycles; store: {}",
        stats["counters"]
    );
    lost_last
}

#[test]
fn wal_mode_with_synchronous_full_keeps_every_commit() {
    cycles("WAL", "FULL", 1, false);
}

/// Two processes share the WAL index through a shared mmap of the -shm file
/// and take turns through POSIX locks, which the kernel keeps.
#[test]
fn wal_mode_with_two_writer_processes_keeps_every_commit() {
    cycles("WAL", "FULL", 2, false);
}

#[test]
fn delete_mode_with_synchronous_extra_keeps_every_commit() {
    cycles("DELETE", "EXTRA", 1, false);
}

/// In DELETE mode with synchronous=FULL, SQLite commits by unlinking the
/// journal without syncing the directory (only EXTRA does), so a cut right
/// after a commit may bring the journal back and roll that one transaction
/// back. Integrity holds and nothing earlier is lost.
#[test]
fn delete_mode_with_synchronous_full_loses_at_most_the_last_commit() {
    cycles("DELETE", "FULL", 1, true);
}
