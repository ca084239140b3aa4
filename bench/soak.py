"""Soak test: Floe under a steady mixed load for --minutes (default 30).

One `floe serve` in a temporary data directory and one PostgreSQL 15 on
its own data directory and port carry, all at once:

  - HTTP ingest: NDJSON batches with Idempotency-Key at --ingest-rate
    requests/s (--batch-rows rows each) into `events`;
  - a keyed table `kv`: upserts, UPDATE and DELETE by key over psycopg,
    checked at the end against a model of what it must hold;
  - replication: CREATE SOURCE from PostgreSQL, with a writer changing
    `accounts` upstream at --cdc-rate changes/s;
  - queries: a rotation of analytic queries over all three tables, one
    after another;
  - maintenance: CHECKPOINT every minute and VACUUM every 5 minutes, on
    top of Floe's own background flushes, compaction and expiry.

Every --sample seconds it records Floe's RSS, open file descriptors, the
files and bytes in the data directory (and WAL segments), ingest and query
latency over the interval, and the sizes `system.caches` reports. The
report (bench/out/soak-<date>.{md,json,svg}) shows them over time; memory
counts as bounded when the highest RSS of the last third of the run is
within --rss-growth (default 25 %) of the highest of the middle third, and
the same for the caches' bytes. At the end every acknowledged ingest batch
must be there once, `kv` must equal its model and the replicated table
the source; the script exits non-zero otherwise.

  .venv/bin/python bench/soak.py                 # 30 minutes
  .venv/bin/python bench/soak.py --minutes 3     # a short run
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import BENCH_DIR, REPO, default_floe_bin, log

sys.path.insert(0, str(REPO / "tests" / "python"))
from ingest import FloeServer, floe_version, percentile  # noqa: E402
from pg_source import PostgresServer  # noqa: E402

MAINTENANCE = (
    """"floe.compaction.min-input-files" = '4', """
    """"history.expire.max-snapshot-age-ms" = '60000'"""
)
QUERIES = [
    ("events: count", "SELECT count(*) FROM events"),
    ("events: group by", "SELECT kind, count(*), sum(amount) FROM events GROUP BY kind ORDER BY kind"),
    ("events: top users", "SELECT user_id, count(*) c FROM events GROUP BY user_id ORDER BY c DESC, user_id LIMIT 10"),
    ("events: last minute", "SELECT count(*) FROM events WHERE ts > now() - INTERVAL '1 minute'"),
    ("kv: sum", "SELECT count(*), sum(v) FROM kv"),
    ("kv: point", "SELECT v FROM kv WHERE id = 17"),
    ("accounts: by branch", "SELECT branch % 10, count(*), sum(balance) FROM accounts GROUP BY 1 ORDER BY 1"),
    ("join", "SELECT a.branch % 5, count(*) FROM events e JOIN accounts a ON a.id = e.user_id GROUP BY 1 ORDER BY 1"),
]
KINDS = ["view", "click", "buy", "scroll"]


class Errors:
    """Failures of the workload threads; any one fails the run."""

    def __init__(self):
        self.items: list[str] = []
        self.lock = threading.Lock()

    def add(self, where: str, err: BaseException) -> None:
        with self.lock:
            self.items.append(f"{where}: {type(err).__name__}: {err}")
        log(f"!! {where}: {err}")


class Window:
    """Latencies of the current sampling interval, and of the whole run."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current: list[float] = []
        self.all: list[float] = []

    def add(self, seconds: float) -> None:
        with self.lock:
            self.current.append(seconds)
            self.all.append(seconds)

    def take(self) -> list[float]:
        with self.lock:
            out, self.current = self.current, []
        return out


def paced(rate: float, stop: threading.Event):
    """Yields on a fixed schedule of `rate` per second until `stop`."""
    interval = 1.0 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        yield
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        elif delay < -5:
            next_at = time.monotonic()  # far behind: do not burst to catch up


def ingest_worker(floe: FloeServer, args, stop, errors: Errors, lat: Window, acked: dict, seed: int):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", floe.http_port, timeout=60)
    seq = 0
    try:
        for _ in paced(args.ingest_rate, stop):
            seq += 1
            key = f"b{seed}-{seq}"
            now = dt.datetime.now(dt.timezone.utc).isoformat()
            body = "".join(
                json.dumps({"batch": key, "user_id": rng.randint(1, args.accounts),
                            "kind": rng.choice(KINDS), "amount": rng.randint(1, 10_000) / 100,
                            "ts": now, "page": f"/p/{rng.randint(1, 500)}"}) + "\n"
                for _ in range(args.batch_rows))
            headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": key, **floe.auth}
            t0 = time.monotonic()
            for attempt in range(5):
                try:
                    conn.request("POST", "/v1/tables/events/rows", body.encode(), headers)
                    r = conn.getresponse()
                    data = r.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", floe.http_port, timeout=60)
                    if attempt == 4:
                        raise
                    continue
                if r.status == 503 and attempt < 4:  # back-pressure: retry with the same key
                    stop.wait(0.5)
                    continue
                if r.status != 200:
                    raise RuntimeError(f"ingest {r.status}: {data[:300]!r}")
                break
            lat.add(time.monotonic() - t0)
            acked[key] = args.batch_rows
    except Exception as e:  # noqa: BLE001
        errors.add("ingest", e)
    finally:
        conn.close()


class Keyed:
    """Statements on `kv` with a model of what it must hold."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.model: dict[int, int] = {}
        self.statements = 0

    def step(self) -> tuple[str, dict[int, int]]:
        model = dict(self.model)
        op = self.rng.random()
        if op < 0.5:
            ids = self.rng.sample(range(5000), self.rng.randint(1, 50))
            v = self.rng.randint(0, 1_000_000)
            for i in ids:
                model[i] = v
            values = ", ".join(f"({i}, {v})" for i in ids)
            return f"INSERT INTO kv (id, v) VALUES {values} ON CONFLICT (id) DO UPDATE SET v = excluded.v", model
        if op < 0.8:
            r = self.rng.randint(0, 96)
            for i in model:
                if i % 97 == r:
                    model[i] += 1
            return f"UPDATE kv SET v = v + 1 WHERE id % 97 = {r}", model
        lo = self.rng.randint(0, 4999)
        hi = lo + self.rng.randint(0, 20)
        return f"DELETE FROM kv WHERE id BETWEEN {lo} AND {hi}", {
            i: v for i, v in model.items() if not lo <= i <= hi}

    def run(self, floe: FloeServer, rate: float, stop, errors: Errors, lat: Window):
        try:
            with floe.pg_connect() as conn:
                for _ in paced(rate, stop):
                    sql, model = self.step()
                    t0 = time.monotonic()
                    conn.execute(sql)
                    lat.add(time.monotonic() - t0)
                    self.model = model
                    self.statements += 1
        except Exception as e:  # noqa: BLE001
            errors.add("kv", e)


def cdc_worker(pg: PostgresServer, db: str, args, stop, errors: Errors, counts: dict):
    rng = random.Random(5)
    next_id = args.accounts + 1
    try:
        with pg.connect(db) as conn:
            conn.autocommit = False
            for _ in paced(args.cdc_rate / 10, stop):
                with conn.cursor() as cur:
                    for _ in range(10):
                        op = rng.random()
                        if op < 0.6:
                            cur.execute("UPDATE accounts SET balance = balance + 1, updated = now() WHERE id = %s",
                                        (rng.randint(1, next_id - 1),))
                        elif op < 0.85:
                            cur.execute("INSERT INTO accounts VALUES (%s, %s, 0, 'open', now(), NULL)",
                                        (next_id, next_id % 1000))
                            next_id += 1
                        else:
                            cur.execute("DELETE FROM accounts WHERE id = %s", (rng.randint(1, next_id - 1),))
                conn.commit()
                counts["changes"] += 10
    except Exception as e:  # noqa: BLE001
        errors.add("replication source", e)


def query_worker(floe: FloeServer, stop, errors: Errors, lat: Window, by_query: dict):
    i = 0
    try:
        with floe.pg_connect() as conn:
            while not stop.is_set():
                name, sql = QUERIES[i % len(QUERIES)]
                i += 1
                t0 = time.monotonic()
                conn.execute(sql).fetchall()
                took = time.monotonic() - t0
                lat.add(took)
                by_query.setdefault(name, []).append(took)
                stop.wait(0.1)
    except Exception as e:  # noqa: BLE001
        errors.add("queries", e)


def maintenance_worker(floe: FloeServer, stop, errors: Errors, counts: dict):
    started = time.monotonic()
    last_vacuum = started
    try:
        while not stop.wait(60):
            floe.sql("CHECKPOINT")
            counts["checkpoints"] += 1
            if time.monotonic() - last_vacuum >= 300:
                floe.sql("VACUUM", timeout=600)
                counts["vacuums"] += 1
                last_vacuum = time.monotonic()
    except Exception as e:  # noqa: BLE001
        errors.add("maintenance", e)


def dir_stats(data_dir: Path) -> dict:
    files = total = wal = 0
    for root, _dirs, names in os.walk(data_dir):
        for name in names:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                continue
            files += 1
            if os.path.basename(root) == "wal":
                wal += 1
    return {"files": files, "bytes": total, "wal_segments": wal}


def proc_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def ms(xs: list[float], p: float) -> float | None:
    v = percentile(xs, p)
    return None if v is None else v * 1000


def sample(floe: FloeServer, started: float, ingest: Window, queries: Window, kv: Window) -> dict:
    caches = {}
    for cache, entries, size in floe.sql(
            "SELECT cache, sum(entries), sum(bytes) FROM system.caches GROUP BY cache ORDER BY cache")["rows"]:
        caches[cache] = {"entries": int(entries or 0), "bytes": int(size or 0)}
    sources = floe.sql("SELECT state FROM system.sources WHERE table_name IS NULL")["rows"]
    ing, qs, kvs = ingest.take(), queries.take(), kv.take()
    return {
        "t": round(time.monotonic() - started, 1),
        "rss_mib": proc_kib(floe.pid, "VmRSS") / 1024,
        "fds": len(os.listdir(f"/proc/{floe.pid}/fd")),
        **dir_stats(floe.data_dir),
        "ingest_p50_ms": ms(ing, 50), "ingest_p99_ms": ms(ing, 99), "ingest_requests": len(ing),
        "query_p50_ms": ms(qs, 50), "query_p99_ms": ms(qs, 99), "queries": len(qs),
        "kv_p99_ms": ms(kvs, 99),
        "caches": caches,
        "source_state": sources[0][0] if sources else None,
    }


def third_max(samples: list[dict], key) -> tuple[float, float]:
    """Highest value of `key` in the middle and in the last third of the run."""
    n = len(samples)
    middle = samples[n // 3: 2 * n // 3] or samples
    last = samples[2 * n // 3:] or samples
    return max(key(s) for s in middle), max(key(s) for s in last)


def svg_chart(samples: list[dict], title: str) -> str:
    """Four small line charts over time, as one SVG."""
    panels = [
        ("RSS (MiB)", lambda s: s["rss_mib"]),
        ("files in the data directory", lambda s: s["files"]),
        ("query p99 (ms)", lambda s: s["query_p99_ms"] or 0),
        ("cache bytes (KiB, all caches)", lambda s: sum(c["bytes"] for c in s["caches"].values()) / 1024),
    ]
    width, ph, pad = 760, 150, 50
    height = 40 + len(panels) * (ph + 40)
    t_max = max(s["t"] for s in samples) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{pad}" y="22" font-size="15">{title}</text>']
    for i, (label, key) in enumerate(panels):
        top = 40 + i * (ph + 40)
        ys = [key(s) for s in samples]
        y_max = max(ys) * 1.1 or 1
        pts = " ".join(
            f"{pad + (s['t'] / t_max) * (width - 2 * pad):.1f},{top + ph - (y / y_max) * ph:.1f}"
            for s, y in zip(samples, ys))
        out += [
            f'<text x="{pad}" y="{top - 6}">{label}</text>',
            f'<rect x="{pad}" y="{top}" width="{width - 2 * pad}" height="{ph}" fill="none" stroke="#ccc"/>',
            f'<text x="{pad - 6}" y="{top + 10}" text-anchor="end">{y_max:,.0f}</text>',
            f'<text x="{pad - 6}" y="{top + ph}" text-anchor="end">0</text>',
            f'<text x="{width - pad}" y="{top + ph + 14}" text-anchor="end">{t_max / 60:.0f} min</text>',
            f'<polyline points="{pts}" fill="none" stroke="#1f6feb" stroke-width="1.5"/>',
        ]
    out.append("</svg>")
    return "\n".join(out) + "\n"


def check_end(floe: FloeServer, pg: PostgresServer, db: str, acked: dict, keyed: Keyed) -> list[str]:
    problems = []
    floe.sql("CHECKPOINT")
    got = {b: n for b, n in floe.sql("SELECT batch, count(*) FROM events GROUP BY batch")["rows"]}
    missing = [k for k, n in acked.items() if got.get(k) != n]
    extra = [k for k in got if k not in acked]
    if missing or extra:
        problems.append(f"events: {len(missing)} acknowledged batches wrong or missing "
                        f"(e.g. {missing[:3]}), {len(extra)} batches never acknowledged")
    kv = {i: v for i, v in floe.sql("SELECT id, v FROM kv")["rows"]}
    if kv != keyed.model:
        diff = [i for i in set(kv) | set(keyed.model) if kv.get(i) != keyed.model.get(i)]
        problems.append(f"kv differs from its model at {len(diff)} keys (e.g. {sorted(diff)[:5]})")
    with pg.connect(db) as conn:
        want = conn.execute("SELECT count(*), sum(balance)::text FROM accounts").fetchone()
    deadline = time.monotonic() + 120
    while True:
        row = floe.sql("SELECT count(*), sum(balance) FROM accounts")["rows"][0]
        if (row[0], str(row[1])) == (want[0], want[1]):
            break
        if time.monotonic() > deadline:
            problems.append(f"accounts: Floe holds {row}, the source {want}")
            break
        time.sleep(0.2)
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--sample", type=float, default=10, help="seconds between samples")
    ap.add_argument("--ingest-rate", type=float, default=20, help="ingest requests/s")
    ap.add_argument("--batch-rows", type=int, default=100)
    ap.add_argument("--kv-rate", type=float, default=20, help="kv statements/s")
    ap.add_argument("--cdc-rate", type=float, default=200, help="upstream changes/s")
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--rss-growth", type=float, default=25, help="allowed %% growth, middle to last third")
    ap.add_argument("--floe-bin", default=default_floe_bin())
    args = ap.parse_args()

    out = BENCH_DIR / "out"
    out.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    work = Path(tempfile.mkdtemp(prefix="floe-soak-"))
    pg = PostgresServer().start()
    floe = None
    errors = Errors()
    stop = threading.Event()
    samples: list[dict] = []
    acked: dict[str, int] = {}
    counts = {"changes": 0, "checkpoints": 0, "vacuums": 0}
    ingest_lat, query_lat, kv_lat = Window(), Window(), Window()
    by_query: dict[str, list[float]] = {}
    keyed = Keyed(7)
    try:
        db = pg.create_database("soak")
        with pg.connect(db) as conn:
            conn.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, branch int NOT NULL, "
                         "balance numeric(14,2) NOT NULL, status text NOT NULL, opened timestamptz NOT NULL, "
                         "updated timestamptz)")
            conn.execute("INSERT INTO accounts SELECT g, g %% 1000, g / 7.0, 'open', "
                         "timestamptz '2024-01-01' + g * interval '1 second', NULL "
                         "FROM generate_series(1, %s) g", (args.accounts,))
        floe = FloeServer(args.floe_bin, work / "data", out / f"soak-{stamp}-floe.log")
        floe.sql(f"CREATE TABLE events (batch TEXT NOT NULL, user_id BIGINT, kind TEXT, amount DOUBLE, "
                 f"ts TIMESTAMPTZ, page TEXT) WITH ({MAINTENANCE})")
        floe.sql(f"CREATE TABLE kv (id BIGINT PRIMARY KEY, v BIGINT NOT NULL) WITH ({MAINTENANCE})")
        floe.sql(f"CREATE SOURCE upstream FROM POSTGRES CONNECTION '{pg.url(db)}'")
        deadline = time.monotonic() + 600
        while floe.scalar("SELECT state FROM system.sources WHERE source = 'upstream' "
                          "AND table_name IS NULL") != "streaming":
            if time.monotonic() > deadline:
                raise RuntimeError("the source did not reach streaming")
            time.sleep(0.2)

        threads = [
            threading.Thread(target=ingest_worker, args=(floe, args, stop, errors, ingest_lat, acked, 1)),
            threading.Thread(target=keyed.run, args=(floe, args.kv_rate, stop, errors, kv_lat)),
            threading.Thread(target=cdc_worker, args=(pg, db, args, stop, errors, counts)),
            threading.Thread(target=query_worker, args=(floe, stop, errors, query_lat, by_query)),
            threading.Thread(target=maintenance_worker, args=(floe, stop, errors, counts)),
        ]
        for t in threads:
            t.daemon = True
            t.start()
        started = time.monotonic()
        end = started + args.minutes * 60
        log(f"soak: {args.minutes:g} minutes; data in {work}")
        while time.monotonic() < end and not errors.items and floe.alive():
            stop.wait(min(args.sample, max(0.0, end - time.monotonic())))
            s = sample(floe, started, ingest_lat, query_lat, kv_lat)
            samples.append(s)
            log(f"  {s['t'] / 60:5.1f} min  RSS {s['rss_mib']:7.1f} MiB  fds {s['fds']:4d}  "
                f"files {s['files']:5d} ({s['bytes'] / 2**20:7.1f} MiB, {s['wal_segments']} WAL)  "
                f"ingest p99 {s['ingest_p99_ms'] or 0:6.1f} ms  query p99 {s['query_p99_ms'] or 0:7.1f} ms  "
                f"caches {sum(c['bytes'] for c in s['caches'].values()) / 1024:8.1f} KiB")
        stop.set()
        for t in threads:
            t.join(120)
        if not floe.alive():
            errors.add("floe", RuntimeError(f"the server exited; log tail:\n{floe.log_tail()}"))
        problems = [] if errors.items else check_end(floe, pg, db, acked, keyed)
    finally:
        stop.set()
        if floe:
            floe.stop()
        pg.cleanup()

    rss_mid, rss_last = third_max(samples, lambda s: s["rss_mib"])
    cache_mid, cache_last = third_max(samples, lambda s: sum(c["bytes"] for c in s["caches"].values()))
    bounded = rss_last <= rss_mid * (1 + args.rss_growth / 100)
    caches_bounded = cache_last <= max(cache_mid, 1) * (1 + args.rss_growth / 100)
    last = samples[-1]
    report = {
        "date": stamp, "machine": platform.machine(), "cpus": os.cpu_count(),
        "floe": floe_version(args.floe_bin), "command": " ".join(sys.argv), "args": vars(args),
        "ingest_batches": len(acked), "ingest_rows": sum(acked.values()), "kv_statements": keyed.statements,
        "upstream_changes": counts["changes"], "checkpoints": counts["checkpoints"], "vacuums": counts["vacuums"],
        "queries": len(query_lat.all),
        "ingest_p50_ms": ms(ingest_lat.all, 50), "ingest_p99_ms": ms(ingest_lat.all, 99),
        "query_p50_ms": ms(query_lat.all, 50), "query_p99_ms": ms(query_lat.all, 99),
        "kv_p50_ms": ms(kv_lat.all, 50), "kv_p99_ms": ms(kv_lat.all, 99),
        "query_median_ms": {k: statistics.median(v) * 1000 for k, v in by_query.items()},
        "rss_max_middle_third_mib": rss_mid, "rss_max_last_third_mib": rss_last, "rss_bounded": bounded,
        "cache_bytes_max_middle_third": cache_mid, "cache_bytes_max_last_third": cache_last,
        "caches_bounded": caches_bounded,
        "errors": errors.items, "problems": problems, "samples": samples,
    }
    (out / f"soak-{stamp}.json").write_text(json.dumps(report, indent=2))
    (out / f"soak-{stamp}.svg").write_text(svg_chart(samples, f"Floe soak, {args.minutes:g} minutes, {stamp}"))
    every = max(1, len(samples) // 12)
    md = [f"# Soak, {stamp}", "", f"`{report['command']}`: floe {report['floe']}, {report['cpus']} CPUs", "",
          f"- load: {len(acked):,} ingest batches ({report['ingest_rows']:,} rows), {keyed.statements:,} kv "
          f"statements, {counts['changes']:,} upstream changes, {len(query_lat.all):,} queries, "
          f"{counts['checkpoints']} CHECKPOINTs, {counts['vacuums']} VACUUMs",
          f"- latency over the run: ingest p50 {report['ingest_p50_ms'] or 0:.1f} ms / p99 "
          f"{report['ingest_p99_ms'] or 0:.1f} ms; kv statements p50 {report['kv_p50_ms'] or 0:.1f} ms / p99 "
          f"{report['kv_p99_ms'] or 0:.1f} ms; queries p50 {report['query_p50_ms'] or 0:.1f} ms / p99 "
          f"{report['query_p99_ms'] or 0:.1f} ms",
          f"- RSS: highest {rss_mid:.0f} MiB in the middle third, {rss_last:.0f} MiB in the last third: "
          f"{'bounded' if bounded else 'GROWING'}",
          f"- caches: highest {cache_mid / 1024:.0f} KiB in the middle third, {cache_last / 1024:.0f} KiB in "
          f"the last third: {'bounded' if caches_bounded else 'GROWING'}",
          f"- at the end: {last['files']:,} files, {last['bytes'] / 2**20:.0f} MiB, {last['wal_segments']} WAL "
          f"segments, {last['fds']} open descriptors",
          f"- correctness: {'every acknowledged write there once; kv equals its model; replica equals the source' if not problems and not errors.items else '; '.join(errors.items + problems)}",
          "", "| min | RSS MiB | fds | files | MiB on disk | WAL | ingest p99 ms | query p99 ms | cache KiB |",
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in samples[::every] + ([last] if (len(samples) - 1) % every else []):
        md.append(f"| {s['t'] / 60:.1f} | {s['rss_mib']:.0f} | {s['fds']} | {s['files']:,} | "
                  f"{s['bytes'] / 2**20:.0f} | {s['wal_segments']} | {s['ingest_p99_ms'] or 0:.1f} | "
                  f"{s['query_p99_ms'] or 0:.0f} | {sum(c['bytes'] for c in s['caches'].values()) / 1024:.0f} |")
    md += ["", "| cache | entries at the end | KiB at the end |", "|---|---:|---:|"]
    for name, c in sorted(last["caches"].items()):
        md.append(f"| {name} | {c['entries']:,} | {c['bytes'] / 1024:.0f} |")
    md += ["", "| query | median ms |", "|---|---:|"]
    for name, v in report["query_median_ms"].items():
        md.append(f"| {name} | {v:.1f} |")
    text = "\n".join(md) + "\n"
    (out / f"soak-{stamp}.md").write_text(text)
    print(text)
    ok = not errors.items and not problems and bounded and caches_bounded
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
