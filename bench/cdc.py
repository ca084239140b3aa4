"""Zero-ETL benchmark: Floe replicating a real PostgreSQL 15.

Phases (PostgreSQL runs on its own data directory and port, Floe as
`floe serve` in a temporary data directory):
  1. initial snapshot: a --rows-row table (8 columns: keys, amounts,
     statuses, timestamps, text); CREATE SOURCE until system.sources says
     streaming; rows/s, --snapshot-runs times (the source and the Floe
     table are dropped between runs);
  2. replication lag at each --rates value (changes/s): a pgbench-style
     mixed workload (UPDATE, INSERT and DELETE of random accounts, in
     transactions of --txn-changes changes) paced to the rate, with a
     marker row in each transaction. Lag = the moment a transaction is
     visible in Floe - the moment the source's COMMIT returned; p50/p99/max.
     "Visible" is measured two ways, each by a poller on its own PG
     connection to Floe:
       - applied: system.sources says the table is applied through the
         transaction's commit LSN (read with pg_current_wal_insert_lsn()
         after the COMMIT); every query that starts from then on sees it;
       - seen: a query on the table (SELECT -min(id) ... WHERE id < 0)
         returns the marker; this includes the query's own run time, up to
         twice over (the query that misses the marker, then the one that
         sees it);
  3. sustained apply rate: the same workload unpaced for --burst seconds;
     changes/s from the first commit until Floe shows the last marker.

There is no peer in the same run: the peers' figures are published ones
(managed zero-ETL "near real-time", ClickPipes 1-minute sync, PeerDB ~30 s
at 1,000 transactions/s, Moonlink "sub-second", RisingWave < 100 ms).

The report goes to bench/out/cdc-<date>.{md,json}.
  .venv/bin/python bench/cdc.py
  .venv/bin/python bench/cdc.py --quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import BENCH_DIR, REPO, default_floe_bin, ensure_venv, log

ensure_venv(__file__, ["psycopg", "chdb", "duckdb", "pyarrow"])

import psycopg  # noqa: E402

sys.path.insert(0, str(REPO / "tests" / "python"))
from ingest import FloeServer, percentile  # noqa: E402
from pg_source import PostgresServer  # noqa: E402

SOURCE_TABLE = """
CREATE TABLE accounts (
    id bigint PRIMARY KEY, branch int NOT NULL, balance numeric(14,2) NOT NULL,
    status text NOT NULL, opened timestamptz NOT NULL, updated timestamptz,
    score double precision, note text
)"""
FILL = """
INSERT INTO accounts
SELECT g, g %% 1000, (g %% 100000) / 7.0, (ARRAY['open','frozen','closed'])[1 + g %% 3],
       timestamptz '2024-01-01' + g * interval '1 second', NULL, g / 3.0, 'account ' || g
FROM generate_series(%s::int8, %s::int8) g"""


def wait_streaming(floe: FloeServer, name: str, timeout: float = 3600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = floe.sql(
            "SELECT state, rows_snapshotted, last_error FROM system.sources "
            f"WHERE source = '{name}' AND table_name IS NULL")["rows"]
        if rows and rows[0][0] == "streaming":
            return {"rows": rows[0][1]}
        if rows and rows[0][0] == "retrying":
            raise RuntimeError(f"source {name} failed: {rows[0][2]}")
        time.sleep(0.05)
    raise RuntimeError(f"source {name} did not finish its snapshot in {timeout} s")


def phase_snapshot(floe: FloeServer, pg: PostgresServer, db: str, runs: int) -> dict:
    results = []
    for run in range(runs):
        name = f"snap{run}"
        t0 = time.monotonic()
        floe.sql(f"CREATE SOURCE {name} FROM POSTGRES CONNECTION '{pg.url(db)}' "
                 f"TABLES (public.accounts) INTO SCHEMA s{run}")
        got = wait_streaming(floe, name)
        seconds = time.monotonic() - t0
        count = floe.scalar(f"SELECT count(*) FROM s{run}.accounts")
        log(f"  snapshot run {run + 1}: {count:,} rows in {seconds:.1f} s = {count / seconds:,.0f} rows/s")
        if count != got["rows"]:
            raise RuntimeError(f"copied {got['rows']} rows but the table holds {count}")
        results.append({"rows": count, "seconds": seconds, "rows_per_s": count / seconds})
        floe.sql(f"DROP SOURCE {name}")
        floe.sql(f"DROP TABLE s{run}.accounts")
    return {"runs": results,
            "median_rows_per_s": statistics.median(r["rows_per_s"] for r in results)}


class Workload:
    """pgbench-style transactions: per transaction, txn_changes changes
    (half updates of random accounts, a quarter inserts, a quarter deletes)
    and one marker row; paced to `rate` changes/s (0 = as fast as it goes)."""

    def __init__(self, pg, db, rate, txn_changes, duration, first_id, first_marker, seed):
        self.pg, self.db, self.rate, self.n, self.duration = pg, db, rate, txn_changes, duration
        self.next_id = first_id
        self.rng = random.Random(seed)
        self.sent: dict[int, float] = {}
        self.lsns: list[tuple[int, int]] = []  # (commit LSN, marker), in commit order
        self.changes = 0  # this phase's
        self.marker = first_marker
        self.first_marker = first_marker
        self.first_commit = None
        self.last_commit = None

    def run(self):
        per_txn = self.n + 1
        with self.pg.connect(self.db) as conn:
            start = time.monotonic()
            while time.monotonic() - start < self.duration:
                if self.rate:
                    wait = start + self.changes / self.rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                ups, ins = self.n // 2, self.n // 4
                dels = self.n - ups - ins
                lo = self.rng.randint(1, max(1, self.next_id - 5000))
                self.marker += 1
                with conn.transaction():
                    conn.execute("UPDATE accounts SET balance = balance + 1, updated = now() "
                                 "WHERE id IN (SELECT generate_series(%s::int8, %s::int8))", (lo, lo + ups - 1))
                    conn.execute("INSERT INTO accounts SELECT g, g %% 1000, 0, 'open', now(), NULL, 0, 'new' "
                                 "FROM generate_series(%s::int8, %s::int8) g", (self.next_id, self.next_id + ins - 1))
                    conn.execute("DELETE FROM accounts WHERE id IN (SELECT generate_series(%s::int8, %s::int8))",
                                 (lo + ups, lo + ups + dels - 1))
                    # The marker is a row of the same table, so seeing it
                    # means seeing the whole transaction.
                    conn.execute("INSERT INTO accounts VALUES (%s, 0, 0, 'marker', now())", (-self.marker,))
                now = time.monotonic()
                lsn = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
                self.lsns.append((parse_lsn(lsn), self.marker))
                self.sent[self.marker] = now
                self.first_commit = self.first_commit or now
                self.last_commit = now
                self.next_id += ins
                self.changes += per_txn


def parse_lsn(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def watch_applied(floe: FloeServer, wl: Workload, stop: threading.Event, applied: dict[int, float]):
    """Notes when system.sources first reports each transaction applied."""
    done = 0
    with floe.pg_connect() as conn:
        while not stop.is_set():
            lsn = conn.execute("SELECT applied_lsn FROM system.sources WHERE source = 'live' "
                               "AND upstream = 'public.accounts'").fetchone()[0]
            now = time.monotonic()
            # WAL records start 8-byte aligned: the insert position read
            # after a COMMIT can be up to 7 bytes past the commit's end.
            through = parse_lsn(lsn) + 7
            while done < len(wl.lsns) and wl.lsns[done][0] <= through:
                applied.setdefault(wl.lsns[done][1], now)
                done += 1
            time.sleep(0.002)


def watch_markers(floe: FloeServer, wl: Workload, stop: threading.Event, seen: dict[int, float],
                  polls: list[float]):
    with floe.pg_connect() as conn:
        while not stop.is_set():
            asked = time.monotonic()
            top = conn.execute("SELECT -min(id) FROM public.accounts WHERE id < 0").fetchone()[0] or 0
            now = time.monotonic()
            polls.append(now - asked)
            for m in range(max(seen, default=wl.first_marker) + 1, top + 1):
                seen[m] = now
            time.sleep(0.005)


def run_workload(floe, pg, db, rate, txn_changes, duration, first_id, seed) -> dict:
    first_marker = floe.scalar("SELECT coalesce(-min(id), 0) FROM public.accounts WHERE id < 0")
    wl = Workload(pg, db, rate, txn_changes, duration, first_id, first_marker, seed)
    seen: dict[int, float] = {}
    polls: list[float] = []
    applied: dict[int, float] = {}
    stop = threading.Event()
    watchers = [threading.Thread(target=watch_markers, args=(floe, wl, stop, seen, polls), daemon=True),
                threading.Thread(target=watch_applied, args=(floe, wl, stop, applied), daemon=True)]
    for w in watchers:
        w.start()
    wl.run()
    deadline = time.monotonic() + 120
    while (max(seen, default=0) < wl.marker or wl.marker not in applied) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for w in watchers:
        w.join(10)
    lags = [seen[m] - wl.sent[m] for m in wl.sent if m in seen]
    applied_lags = [applied[m] - wl.sent[m] for m in wl.sent if m in applied]
    caught_up = applied.get(wl.marker) or seen.get(wl.marker)
    elapsed = wl.last_commit - wl.first_commit if wl.first_commit else 0
    return {
        "target_changes_per_s": rate,
        "sent_changes_per_s": wl.changes / elapsed if elapsed else None,
        "transactions": wl.marker - wl.first_marker,
        "changes": wl.changes,
        "applied_p50_ms": 1000 * percentile(applied_lags, 50) if applied_lags else None,
        "applied_p99_ms": 1000 * percentile(applied_lags, 99) if applied_lags else None,
        "applied_max_ms": 1000 * max(applied_lags) if applied_lags else None,
        "lag_p50_ms": 1000 * percentile(lags, 50) if lags else None,
        "lag_p99_ms": 1000 * percentile(lags, 99) if lags else None,
        "lag_max_ms": 1000 * max(lags) if lags else None,
        # How long the poller's query takes: a marker is seen at the end of
        # the first poll that starts after it is visible.
        "poll_p50_ms": 1000 * percentile(polls, 50) if polls else None,
        "applied_changes_per_s": (wl.changes / (caught_up - wl.first_commit)) if caught_up else None,
        "next_id": wl.next_id,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--snapshot-runs", type=int, default=3)
    ap.add_argument("--rates", default="1000,10000")
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--burst", type=float, default=20)
    ap.add_argument("--txn-changes", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="1M rows, 1 snapshot run, 10 s phases")
    ap.add_argument("--floe-bin", default=default_floe_bin())
    args = ap.parse_args()
    if args.quick:
        args.rows, args.snapshot_runs, args.duration, args.burst = 1_000_000, 1, 10, 10

    out = BENCH_DIR / "out"
    out.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    work = Path(tempfile.mkdtemp(prefix="floe-bench-cdc-"))
    pg = PostgresServer().start()
    floe = None
    try:
        db = pg.create_database("bench")
        log(f"filling accounts with {args.rows:,} rows in PostgreSQL")
        with pg.connect(db) as conn:
            conn.execute(SOURCE_TABLE)
            step = 1_000_000
            for lo in range(1, args.rows + 1, step):
                conn.execute(FILL, (lo, min(args.rows, lo + step - 1)))
            conn.execute("VACUUM ANALYZE accounts")
        floe = FloeServer(args.floe_bin, work / "data", out / f"cdc-{stamp}-floe.log")
        log("phase 1: initial snapshot")
        snapshot = phase_snapshot(floe, pg, db, args.snapshot_runs)

        floe.sql(f"CREATE SOURCE live FROM POSTGRES CONNECTION '{pg.url(db)}'")
        wait_streaming(floe, "live")
        next_id = args.rows + 1
        lag = []
        for rate in [int(r) for r in args.rates.split(",") if r]:
            log(f"phase 2: lag at {rate:,} changes/s for {args.duration:g} s")
            res = run_workload(floe, pg, db, rate, args.txn_changes, args.duration, next_id, rate)
            next_id = res["next_id"]
            log(f"  sent {res['sent_changes_per_s']:,.0f} changes/s; applied p50 {res['applied_p50_ms']:.0f} ms, "
                f"p99 {res['applied_p99_ms']:.0f} ms, max {res['applied_max_ms']:.0f} ms; "
                f"seen p50 {res['lag_p50_ms']:.0f} ms, "
                f"p99 {res['lag_p99_ms']:.0f} ms, max {res['lag_max_ms']:.0f} ms; "
                f"the poll query takes {res['poll_p50_ms']:.0f} ms (p50)")
            lag.append(res)
        log(f"phase 3: unpaced for {args.burst:g} s")
        burst = run_workload(floe, pg, db, 0, 100, args.burst, next_id, 7)
        log(f"  sent {burst['sent_changes_per_s']:,.0f} changes/s, applied "
            f"{burst['applied_changes_per_s'] or 0:,.0f} changes/s")
        with pg.connect(db) as conn:
            want = conn.execute("SELECT count(*), sum(balance) FROM accounts").fetchone()
        deadline = time.monotonic() + 60
        while True:
            got = floe.sql("SELECT count(*), sum(balance) FROM public.accounts")["rows"][0]
            if (got[0], str(got[1])) == (want[0], str(want[1])):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"Floe holds {got} (count, sum), the source {want}")
            time.sleep(0.1)
    finally:
        if floe:
            floe.stop()
        pg.cleanup()

    report = {"date": stamp, "machine": platform.machine(), "cpus": __import__("os").cpu_count(),
              "rows": args.rows, "snapshot": snapshot, "lag": lag, "burst": burst,
              "command": " ".join(sys.argv)}
    (out / f"cdc-{stamp}.json").write_text(json.dumps(report, indent=2))
    md = [f"# Zero-ETL from PostgreSQL, {stamp}", "",
          f"`{report['command']}` on {report['cpus']} CPUs", "",
          "| what | Floe | target |", "|---|---:|---:|",
          f"| initial snapshot, {args.rows:,} rows (median of {args.snapshot_runs}) | "
          f"{snapshot['median_rows_per_s']:,.0f} rows/s | >= 500,000 rows/s |"]
    for r in lag:
        md.append(f"| lag at {r['target_changes_per_s']:,} changes/s (sent {r['sent_changes_per_s']:,.0f}), applied | "
                  f"p50 {r['applied_p50_ms']:.0f} ms, p99 {r['applied_p99_ms']:.0f} ms | p99 < 1 s at 10,000 |")
        md.append(f"| lag at {r['target_changes_per_s']:,} changes/s, seen by a polling query "
                  f"({r['poll_p50_ms']:.0f} ms p50 per query) | "
                  f"p50 {r['lag_p50_ms']:.0f} ms, p99 {r['lag_p99_ms']:.0f} ms | |")
    md.append(f"| sustained apply, unpaced (sent {burst['sent_changes_per_s']:,.0f}/s) | "
              f"{burst['applied_changes_per_s'] or 0:,.0f} changes/s | report |")
    text = "\n".join(md) + "\n"
    (out / f"cdc-{stamp}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
