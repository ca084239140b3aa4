"""A real PostgreSQL 15 server for the replication tests: its own data
directory and port on 127.0.0.1, wal_level = logical, SCRAM passwords;
optionally TLS (ssl = on with a given certificate) and TLS-only (`hostssl`)
client authentication."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from floe_helpers import free_ports

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PASSWORD = "floe-test-pw"


def _as_owner(cmd: list[str], owner: str | None, **kw) -> subprocess.CompletedProcess:
    if owner:
        cmd = ["runuser", "-u", owner, "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


class PostgresServer:
    def __init__(self, ssl_cert: Path | None = None, ssl_key: Path | None = None,
                 hostssl_only: bool = False):
        # initdb refuses to run as root: the cluster belongs to `postgres`.
        self.owner = "postgres" if os.geteuid() == 0 else None
        self.dir = Path(tempfile.mkdtemp(prefix="floe-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_ports(1)[0]
        if self.owner:
            uid = pwd.getpwnam(self.owner).pw_uid
            os.chown(self.dir, uid, -1)
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.owner:
            os.chown(pwfile, pwd.getpwnam(self.owner).pw_uid, -1)
        _as_owner(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
             "-A", "scram-sha-256", f"--pwfile={pwfile}", "--no-sync"],
            self.owner,
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                "\nlisten_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.dir}'\n"
                "wal_level = logical\nmax_wal_senders = 20\nmax_replication_slots = 40\n"
                "fsync = off\nsynchronous_commit = on\nshared_buffers = 128MB\n"
            )
        if ssl_cert is not None:
            uid = pwd.getpwnam(self.owner).pw_uid if self.owner else -1
            for src, name, mode in ((ssl_cert, "server.crt", 0o644), (ssl_key, "server.key", 0o600)):
                dst = self.data / name
                shutil.copyfile(src, dst)
                os.chmod(dst, mode)
                if self.owner:
                    os.chown(dst, uid, -1)
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        if hostssl_only:
            # TCP clients must use TLS; Unix sockets stay for local tools.
            (self.data / "pg_hba.conf").write_text(
                "local all all scram-sha-256\n"
                "hostssl all all 127.0.0.1/32 scram-sha-256\n"
                "hostssl replication all 127.0.0.1/32 scram-sha-256\n"
            )
        else:
            with open(self.data / "pg_hba.conf", "a") as hba:
                hba.write("host replication all 127.0.0.1/32 scram-sha-256\n")

    def start(self) -> "PostgresServer":
        _as_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                   "-w", "-t", "60", "start"], self.owner)
        return self

    def stop(self, mode: str = "fast") -> None:
        _as_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
                  self.owner)

    def restart(self) -> None:
        _as_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                   "-m", "fast", "-w", "-t", "60", "restart"], self.owner)

    def url(self, db: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgres://postgres:{password}@127.0.0.1:{self.port}/{db}"

    def connect(self, db: str = "postgres", **kw) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", password=PASSWORD,
            dbname=db, autocommit=True, **kw,
        )

    def create_database(self, name: str) -> str:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def wal_lsn(self, db: str = "postgres") -> str:
        with self.connect(db) as conn:
            return conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]

    def cleanup(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def lsn_value(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.1, what: str = "condition"):
    """Polls until predicate() is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as e:  # noqa: BLE001 - report the last failure
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
