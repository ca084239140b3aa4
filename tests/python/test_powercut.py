"""The power-loss crash test.

Floe's data directory lives on `floe-powercut`, a FUSE filesystem that at a
simulated power cut throws away every write that no fsync made durable:
file contents, sizes, new files, renames and directory entries alike. A
`kill -9` leaves the page cache intact; a power cut does not, and this is
the test of that.

Each cycle runs a mixed workload (HTTP ingest with Idempotency-Key, small
and large INSERTs, UPDATE/DELETE/upsert, ALTER TABLE, COPY, replication
from PostgreSQL, VACUUM, and background flushes, compaction and snapshot
expiry with a 1 MiB WAL segment so that rotation happens too), cuts the
power at a random moment, mounts what was durable, starts Floe and checks:

- the server starts;
- every acknowledged row is present exactly once;
- nothing unacknowledged is partly visible;
- PyIceberg reads the same rows as Floe.

FLOE_POWERCUT_CYCLES sets the number of cycles (default 4; the long mode
runs hundreds), FLOE_POWERCUT_SEED the random seed.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest

from floe_helpers import FloeServer, catalog_for, default_floe_bin
from pg_source import wait_until

CYCLES = int(os.environ.get("FLOE_POWERCUT_CYCLES", "4"))
SEED = int(os.environ.get("FLOE_POWERCUT_SEED", "14"))
NDJSON = {"Content-Type": "application/x-ndjson"}
MAINTENANCE = (
    """"floe.compaction.min-input-files" = '2', "history.expire.max-snapshot-age-ms" = '2000', """
    """"floe.flush.interval-ms" = '50'"""
)
LARGE_INSERT_ROWS = 120_000

# Set just before each power cut: from then on a client error is expected;
# before it, any error is a failure of the test.
CUTTING = threading.Event()
ERRORS: list[str] = []


def expected_failure() -> bool:
    """Whether an exception a client just raised comes from the power cut."""
    return CUTTING.is_set()


def guarded(target, *args) -> threading.Thread:
    """A thread whose unexpected exception is recorded as a failure."""

    def run():
        try:
            target(*args)
        except Exception:  # noqa: BLE001 - reported below
            if not CUTTING.is_set():
                import traceback

                ERRORS.append(traceback.format_exc())

    return threading.Thread(target=run)


def powercut_bin() -> Path:
    explicit = os.environ.get("FLOE_POWERCUT_BIN")
    if explicit:
        return Path(explicit)
    return default_floe_bin().parent / "floe-powercut"


class PowerFs:
    """A floe-powercut mount: `cut()` is the power cut, `mount()` the
    power coming back with what was durable."""

    def __init__(self, binary: Path, store: Path, mountpoint: Path, log_dir: Path):
        self.binary = binary
        self.store = store
        self.mountpoint = mountpoint
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.mounts = 0

    def mount(self) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self.mounts += 1
        log = open(self.log_dir / f"powercut-{self.mounts}.log", "wb")
        self.proc = subprocess.Popen(
            [str(self.binary), "mount", "--store", str(self.store), str(self.mountpoint)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        line = self.proc.stdout.readline().decode().strip()
        if line != "ready":
            self.proc.kill()
            raise AssertionError(f"floe-powercut did not mount: {line!r}\n{self.log()}")

    def log(self) -> str:
        path = self.log_dir / f"powercut-{self.mounts}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def cut(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"floe-powercut did not stop on SIGTERM\n{self.log()}") from None
        assert rc == 0, f"floe-powercut exited with {rc}\n{self.log()}"
        self.proc = None

    def close(self) -> None:
        if self.proc is not None:
            self.cut()


class Ingest:
    """HTTP ingest with Idempotency-Key: requests with an answer are
    acknowledged; the ones cut off are retried with the same key after the
    power comes back, and must then land exactly once."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.acked: dict[str, int] = {}
        self.maybe: dict[str, list[dict]] = {}
        self.lock = threading.Lock()
        self.sent = 0

    def request(self, srv: FloeServer, key: str, rows: list[dict]):
        body = "".join(json.dumps(r) + "\n" for r in rows)
        headers = dict(NDJSON, **{"Idempotency-Key": key})
        return srv.http("POST", "/v1/tables/ingest/rows", body, headers, timeout=30)

    def writer(self, srv: FloeServer, cycle: int, w: int, stop: threading.Event) -> None:
        seq = 0
        while not stop.is_set():
            seq += 1
            key = f"c{cycle}-w{w}-{seq}"
            n = self.rng.randint(1, 60)
            rows = [{"req": key, "n": n, "pad": "x" * self.rng.randint(0, 300)} for _ in range(n)]
            with self.lock:
                self.maybe[key] = rows
            try:
                r = self.request(srv, key, rows)
            except Exception:  # noqa: BLE001
                if expected_failure():
                    return
                raise
            if r.status == 200:
                with self.lock:
                    self.acked[key] = n
                    self.maybe.pop(key, None)
            elif r.status != 503 and not expected_failure():
                raise AssertionError(f"{r.status} {r.body!r}")

    def retry(self, srv: FloeServer) -> None:
        for key, rows in list(self.maybe.items()):
            r = self.request(srv, key, rows)
            assert r.status == 200, r.body
            self.acked[key] = len(rows)
        self.maybe.clear()

    def check(self, srv: FloeServer, cycle: int) -> None:
        got = dict(
            (req, (count, n))
            for req, count, n in srv.query("SELECT req, count(*), min(n) FROM ingest GROUP BY req")
        )
        for key, n in self.acked.items():
            assert got.get(key) == (n, n), f"cycle {cycle}: acknowledged request {key} of {n} rows reads {got.get(key)}"
        for key, (count, n) in got.items():
            assert count == n, f"cycle {cycle}: request {key} is partly visible ({count} of {n} rows)"
            assert key in self.acked or key in self.maybe, f"cycle {cycle}: {key} was never sent"


class Keyed:
    """One client changing a keyed table statement by statement, with a model
    of what it must hold: the last statement may have been cut off, so the
    table holds the model before or after it, nothing in between."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.model: dict[int, int] = {}
        self.columns = 0
        self.pending: tuple[dict[int, int], int] | None = None
        self.statements = 0

    def step(self) -> tuple[str, tuple, dict[int, int], int]:
        model, columns = dict(self.model), self.columns
        op = self.rng.random()
        if op < 0.45:
            ids = self.rng.sample(range(200), self.rng.randint(1, 20))
            v = self.rng.randint(0, 1_000_000)
            values = ", ".join(f"({i}, {v})" for i in ids)
            for i in ids:
                model[i] = v
            return (f"INSERT INTO kv (id, v) VALUES {values} ON CONFLICT (id) DO UPDATE SET v = excluded.v", (), model, columns)
        if op < 0.75:
            r = self.rng.randint(0, 6)
            for i in model:
                if i % 7 == r:
                    model[i] += 1
            return (f"UPDATE kv SET v = v + 1 WHERE id % 7 = {r}", (), model, columns)
        if op < 0.97:
            lo = self.rng.randint(0, 199)
            hi = lo + self.rng.randint(0, 10)
            model = {i: v for i, v in model.items() if not lo <= i <= hi}
            return (f"DELETE FROM kv WHERE id BETWEEN {lo} AND {hi}", (), model, columns)
        return (f"ALTER TABLE kv ADD COLUMN extra{columns} TEXT", (), model, columns + 1)

    def run(self, srv: FloeServer, stop: threading.Event) -> None:
        with srv.connect() as conn:
            while not stop.is_set():
                sql, params, model, columns = self.step()
                self.pending = (model, columns)
                try:
                    conn.execute(sql, params or None)
                except Exception:  # noqa: BLE001
                    if expected_failure():
                        return
                    raise
                self.model, self.columns = model, columns
                self.pending = None
                self.statements += 1

    def check(self, srv: FloeServer, cycle: int) -> None:
        got = dict(srv.query("SELECT id, v FROM kv"))
        columns = srv.query(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'kv' AND column_name LIKE 'extra%'"
        )[0][0]
        assert len(got) == srv.query("SELECT count(DISTINCT id) FROM kv")[0][0], f"cycle {cycle}: a key twice"
        states = [(self.model, self.columns)]
        if self.pending is not None:
            states.append(self.pending)
        assert (got, columns) in states, (
            f"cycle {cycle}: kv holds {len(got)} keys and {columns} extra columns, "
            f"neither the state before nor after the last statement"
        )
        self.model, self.columns = got, columns
        self.pending = None


class Atomic:
    """Statements that write many rows at once (large INSERT, COPY): each
    batch is all there or not at all, and an acknowledged one is there."""

    def __init__(self, table: str, rng: random.Random, copy_dir: Path):
        self.table = table
        self.rng = rng
        self.copy_dir = copy_dir
        self.acked: dict[int, int] = {}
        self.maybe: dict[int, int] = {}
        self.next = 0

    def run(self, srv: FloeServer, stop: threading.Event, cycle: int) -> None:
        with srv.connect() as conn:
            while not stop.is_set():
                self.next += 1
                batch = cycle * 1000 + self.next
                if self.table == "big":
                    n = LARGE_INSERT_ROWS
                    sql = f"INSERT INTO big SELECT {batch}, v FROM generate_series(1, {n}) v"
                else:
                    n = self.rng.randint(1, 2000)
                    path = self.copy_dir / f"copy-{batch}.csv"
                    with open(path, "w", newline="") as f:
                        out = csv.writer(f)
                        out.writerow(["batch", "i"])
                        out.writerows((batch, i) for i in range(n))
                    sql = f"COPY copied FROM '{path}' WITH (FORMAT csv, HEADER true)"
                self.maybe[batch] = n
                try:
                    conn.execute(sql)
                except Exception:  # noqa: BLE001
                    if expected_failure():
                        return
                    raise
                self.acked[batch] = self.maybe.pop(batch)
                if self.table == "big":
                    stop.wait(self.rng.uniform(0.0, 0.5))

    def check(self, srv: FloeServer, cycle: int) -> None:
        got = dict(srv.query(f"SELECT batch, count(*) FROM {self.table} GROUP BY batch"))
        for batch, n in self.acked.items():
            assert got.get(batch) == n, f"cycle {cycle}: {self.table} batch {batch} of {n} rows reads {got.get(batch)}"
        for batch, count in got.items():
            expected = self.acked.get(batch, self.maybe.get(batch))
            assert count == expected, f"cycle {cycle}: {self.table} batch {batch} is partly visible ({count} of {expected})"
        for batch in list(self.maybe):
            if batch in got:
                self.acked[batch] = self.maybe.pop(batch)
        self.maybe.clear()


def create_tables(srv: FloeServer) -> None:
    for sql in (
        f"CREATE TABLE ingest (req TEXT NOT NULL, n BIGINT NOT NULL, pad TEXT) WITH ({MAINTENANCE})",
        f"CREATE TABLE kv (id BIGINT PRIMARY KEY, v BIGINT NOT NULL) WITH ({MAINTENANCE})",
        f"CREATE TABLE big (batch BIGINT NOT NULL, i BIGINT NOT NULL) WITH ({MAINTENANCE})",
        f"CREATE TABLE copied (batch BIGINT NOT NULL, i BIGINT NOT NULL) WITH ({MAINTENANCE})",
    ):
        srv.query(sql)


@pytest.mark.floe_timeout(120 + 20 * CYCLES)
def test_issue14_acknowledged_writes_survive_power_cuts(tmp_path, floe_bin, postgres):
    binary = powercut_bin()
    if not binary.is_file():
        pytest.fail(f"floe-powercut not found at {binary}; build the workspace", pytrace=False)
    rng = random.Random(SEED)
    fs = PowerFs(binary, tmp_path / "disk", tmp_path / "mnt", tmp_path)
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    data_dir = tmp_path / "mnt" / "data"
    srv = FloeServer(
        floe_bin,
        data_dir,
        log_dir=tmp_path / "logs",
        name="powercut",
        extra_args=["--wal-segment-mb", "1"],
        copy_dirs=[str(copy_dir)],
    )

    # An upstream PostgreSQL table, replicated; its committed rows are the
    # acknowledged ones on that side.
    db = postgres.create_database("powercut")
    with postgres.connect(db) as pg:
        pg.execute("CREATE TABLE events (id BIGINT PRIMARY KEY, note TEXT)")
    upstream = {"next": 0}

    def pg_writer(stop: threading.Event) -> None:
        with postgres.connect(db) as pg:
            while not stop.is_set():
                first = upstream["next"]
                n = rng.randint(1, 100)
                pg.execute(
                    "INSERT INTO events SELECT g, 'row ' || g FROM generate_series(%s::bigint, %s::bigint) g",
                    (first, first + n - 1),
                )
                upstream["next"] = first + n
                stop.wait(0.02)

    ingest = Ingest(rng)
    keyed = Keyed(rng)
    big = Atomic("big", rng, copy_dir)
    copied = Atomic("copied", rng, copy_dir)
    fs.mount()
    try:
        srv.start()
        create_tables(srv)
        with srv.connect() as conn:
            conn.execute(f"CREATE SOURCE shop FROM POSTGRES CONNECTION '{postgres.url(db)}'")
        for cycle in range(CYCLES):
            stop = threading.Event()
            CUTTING.clear()
            threads = [guarded(ingest.writer, srv, cycle, w, stop) for w in range(2)]
            threads += [
                guarded(keyed.run, srv, stop),
                guarded(big.run, srv, stop, cycle),
                guarded(copied.run, srv, stop, cycle),
                guarded(pg_writer, stop),
            ]
            if rng.random() < 0.5:
                delay = rng.uniform(0.0, 1.0)

                def vacuum(delay=delay, stop=stop):
                    if not stop.wait(delay):
                        r = srv.sql_http("VACUUM", timeout=60)
                        assert r.status == 200 or expected_failure(), r.body

                threads.append(guarded(vacuum))
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.3, 2.5))
            # The power cut: the process dies and everything not synced is gone.
            CUTTING.set()
            srv.kill()
            fs.cut()
            stop.set()
            for t in threads:
                t.join(60)
            assert not ERRORS, f"cycle {cycle}: a client failed before the cut:\n" + "\n".join(ERRORS)
            fs.mount()
            srv.start()
            ingest.retry(srv)
            ingest.check(srv, cycle)
            keyed.check(srv, cycle)
            big.check(srv, cycle)
            copied.check(srv, cycle)
            # Replication resumes where the durable state says and catches up.
            expected = upstream["next"]
            wait_until(
                lambda: srv.query("SELECT count(*), count(DISTINCT id), coalesce(max(id), -1) FROM events")
                == [(expected, expected, expected - 1)],
                timeout=120,
                what=f"cycle {cycle}: replicated events to reach {expected}",
            )
            # Every Iceberg reader sees what Floe's SQL sees.
            srv.checkpoint()
            catalog = catalog_for(data_dir)
            for table in ("ingest", "kv", "big", "copied"):
                floe_count = srv.query(f"SELECT count(*) FROM {table}")[0][0]
                iceberg_count = catalog.load_table(f"public.{table}").scan().to_arrow().num_rows
                assert iceberg_count == floe_count, f"cycle {cycle}: PyIceberg reads {iceberg_count} rows of {table}, Floe {floe_count}"
        print(
            f"power-cut test: {CYCLES} cuts; {len(ingest.acked)} ingest requests, "
            f"{keyed.statements} keyed statements, {len(big.acked)} large INSERTs, "
            f"{len(copied.acked)} COPYs, {upstream['next']} replicated rows acknowledged"
        )
        assert len(ingest.acked) >= CYCLES and keyed.statements >= CYCLES
        assert len(copied.acked) >= CYCLES and upstream["next"] > 0
    finally:
        if srv.running:
            srv.kill()
        fs.close()
