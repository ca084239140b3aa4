"""TLS benchmark: TLS 1.3 against TLS 1.2 with forward secrecy.

Floe runs as `floe serve --dev-tls` (policy tls12-pfs, which offers both
versions; ECDSA P-256 certificate) in a temporary data directory.
PostgreSQL 15 runs beside it on its own data directory with ssl = on and
the same certificate, as the peer for the PostgreSQL-wire measurements.

Phases, each --runs times (medians are reported):
  1. full HTTPS handshakes per second against Floe's HTTP endpoint: one
     client, TCP connect + handshake + close, no session resumption, for
     --seconds, with the client capped at TLS 1.3 and at TLS 1.2;
  2. PG-wire connections per second (TCP + SSLRequest + TLS handshake +
     SCRAM-SHA-256 login + close) for Floe and PostgreSQL, TLS 1.3 and
     TLS 1.2;
  3. `SELECT 1` round trips on one open connection: --queries per run,
     plaintext, TLS 1.3 and TLS 1.2, for Floe and PostgreSQL; the added
     latency of TLS is the difference of the medians.

Client and servers share the machine. The report goes to
bench/out/tls-<date>.{md,json}.
  .venv/bin/python bench/tls.py
  .venv/bin/python bench/tls.py --quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import pwd
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BENCH_DIR, REPO, default_floe_bin, ensure_venv, free_port, log

ensure_venv(__file__, ["psycopg"])

import psycopg  # noqa: E402

sys.path.insert(0, str(REPO / "tests" / "python"))
from pg_source import PostgresServer, PASSWORD as PG_PASSWORD  # noqa: E402

VERSIONS = {"TLS 1.3": ("TLSv1.3", ssl.TLSVersion.TLSv1_3), "TLS 1.2": ("TLSv1.2", ssl.TLSVersion.TLSv1_2)}


class Floe:
    def __init__(self, binary: str, work: Path):
        self.data = work / "floe-data"
        self.pg_port, self.http_port = free_port(), free_port()
        self.log_path = work / "floe.log"
        self.proc = subprocess.Popen(
            [binary, "serve", "--data-dir", str(self.data), "--dev-tls",
             "--pg-addr", f"127.0.0.1:{self.pg_port}", "--http-addr", f"127.0.0.1:{self.http_port}",
             "--max-failed-logins", "0"],
            stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not (self.data / "admin.token").exists() or not self._up():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"floe serve did not start; see {self.log_path}")
            time.sleep(0.1)
        self.password = (self.data / "admin.password").read_text().strip()
        self.ca = self.data / "tls" / "ca.pem"

    def _up(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.pg_port), timeout=0.5).close()
            socket.create_connection(("127.0.0.1", self.http_port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def dsn(self) -> str:
        return (f"host=localhost port={self.pg_port} user=floe dbname=floe "
                f"password={self.password}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def tls_postgres(floe: Floe) -> PostgresServer:
    """PostgreSQL with ssl = on and Floe's development certificate."""
    pg = PostgresServer()
    for name in ("server.pem", "server.key"):
        target = pg.data / name
        shutil.copy(floe.data / "tls" / name, target)
        os.chmod(target, 0o600)
        if pg.owner:
            os.chown(target, pwd.getpwnam(pg.owner).pw_uid, -1)
    with open(pg.data / "postgresql.conf", "a") as conf:
        conf.write("ssl = on\nssl_cert_file = 'server.pem'\nssl_key_file = 'server.key'\n"
                   "ssl_min_protocol_version = 'TLSv1.2'\nfsync = off\n")
    return pg.start()


def pg_dsn(pg: PostgresServer) -> str:
    return f"host=localhost port={pg.port} user=postgres dbname=postgres password={PG_PASSWORD}"


def https_handshakes(port: int, ca: Path, version: ssl.TLSVersion, seconds: float) -> float:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = version
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                assert s.version() == ("TLSv1.3" if version == ssl.TLSVersion.TLSv1_3 else "TLSv1.2")
        n += 1
    return n / (time.perf_counter() - start)


def ssl_params(ca: Path, mode: str) -> str:
    if mode == "plain":
        return " sslmode=disable"
    # Minimum and maximum pin the version.
    return (f" sslmode=verify-full sslrootcert={ca} ssl_min_protocol_version={VERSIONS[mode][0]}"
            f" ssl_max_protocol_version={VERSIONS[mode][0]}")


def pg_connects(dsn: str, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        psycopg.connect(dsn, connect_timeout=10).close()
        n += 1
    return n / (time.perf_counter() - start)


LOOKUP = "SELECT id, v FROM lookup WHERE id = 1"


def select1(dsn: str, queries: int, expect_tls: str | None, query: str = "SELECT 1") -> dict:
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert bool(conn.pgconn.ssl_in_use) == (expect_tls is not None), expect_tls
        for _ in range(50):
            conn.execute(query).fetchone()
        lat = []
        for _ in range(queries):
            t = time.perf_counter()
            conn.execute(query).fetchone()
            lat.append(time.perf_counter() - t)
    lat.sort()
    return {"p50_us": lat[len(lat) // 2] * 1e6, "p99_us": lat[int(len(lat) * 0.99)] * 1e6}


def median(xs):
    return statistics.median(xs) if xs else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0, help="per handshake measurement")
    ap.add_argument("--queries", type=int, default=5000, help="SELECT 1 per run and mode")
    ap.add_argument("--quick", action="store_true", help="1 run, 1 s, 500 queries")
    ap.add_argument("--floe-bin", default=default_floe_bin())
    ap.add_argument("--out-dir", type=Path, default=BENCH_DIR / "out")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.seconds, args.queries = 1, 1.0, 500

    work = Path(tempfile.mkdtemp(prefix="floe-bench-tls-"))
    floe = Floe(args.floe_bin, work)
    pg = tls_postgres(floe)
    results: dict = {"https_handshakes_per_s": {}, "pg_connects_per_s": {}, "select1": {}}
    try:
        for name, (_, version) in VERSIONS.items():
            runs = [https_handshakes(floe.http_port, floe.ca, version, args.seconds)
                    for _ in range(args.runs)]
            results["https_handshakes_per_s"][name] = {"runs": runs, "median": median(runs)}
            log(f"HTTPS {name}: {median(runs):.0f} handshakes/s")
        for system, dsn in (("floe", floe.dsn()), ("postgresql", pg_dsn(pg))):
            for name in VERSIONS:
                runs = [pg_connects(dsn + ssl_params(floe.ca, name), args.seconds)
                        for _ in range(args.runs)]
                results["pg_connects_per_s"].setdefault(system, {})[name] = {
                    "runs": runs, "median": median(runs)}
                log(f"{system} PG connect {name}: {median(runs):.0f}/s")
            for mode in ("plain", *VERSIONS):
                expect = None if mode == "plain" else VERSIONS[mode][0]
                runs = [select1(dsn + ssl_params(floe.ca, mode), args.queries, expect)
                        for _ in range(args.runs)]
                entry = {"runs": runs, "p50_us": median([r["p50_us"] for r in runs]),
                         "p99_us": median([r["p99_us"] for r in runs])}
                results["select1"].setdefault(system, {})[mode] = entry
                log(f"{system} SELECT 1 {mode}: p50 {entry['p50_us']:.0f} us, p99 {entry['p99_us']:.0f} us")
            # A one-row read of a two-row table: the round trip of a query
            # the engine plans, next to SELECT 1's, which it need not.
            with psycopg.connect(dsn + ssl_params(floe.ca, "plain"), autocommit=True) as conn:
                conn.execute("CREATE TABLE lookup (id INT, v TEXT)")
                conn.execute("INSERT INTO lookup VALUES (1, 'a'), (2, 'b')")
            runs = [select1(dsn + ssl_params(floe.ca, "plain"), args.queries, None, LOOKUP)
                    for _ in range(args.runs)]
            entry = {"runs": runs, "p50_us": median([r["p50_us"] for r in runs]),
                     "p99_us": median([r["p99_us"] for r in runs])}
            results.setdefault("lookup", {})[system] = entry
            log(f"{system} lookup plain: p50 {entry['p50_us']:.0f} us, p99 {entry['p99_us']:.0f} us")
    finally:
        floe.stop()
        pg.stop()
        pg.cleanup()
        shutil.rmtree(work, ignore_errors=True)

    now = dt.datetime.now(dt.timezone.utc)
    info = {"date": now.isoformat(timespec="seconds"), "machine": platform.node(),
            "cpus": os.cpu_count(), "runs": args.runs, "seconds": args.seconds,
            "queries": args.queries, "command": " ".join(sys.argv)}
    lines = [f"# TLS benchmark {info['date']}", "",
             f"{info['cpus']} cores, {args.runs} runs, medians; `{info['command']}`", "",
             "| measurement | TLS 1.3 | TLS 1.2 (ECDHE) | 1.3 / 1.2 |", "|---|---|---|---|"]
    h = results["https_handshakes_per_s"]
    lines.append(f"| Floe HTTPS full handshakes/s | {h['TLS 1.3']['median']:.0f} | "
                 f"{h['TLS 1.2']['median']:.0f} | {h['TLS 1.3']['median'] / h['TLS 1.2']['median']:.2f} |")
    for system, label in (("floe", "Floe"), ("postgresql", "PostgreSQL 15")):
        c = results["pg_connects_per_s"][system]
        lines.append(f"| {label} PG connect (TLS + SCRAM)/s | {c['TLS 1.3']['median']:.0f} | "
                     f"{c['TLS 1.2']['median']:.0f} | {c['TLS 1.3']['median'] / c['TLS 1.2']['median']:.2f} |")
    lines += ["", "| SELECT 1 round trip (µs) | plain p50 | TLS 1.3 p50 (added) | TLS 1.2 p50 (added) | plain p99 | TLS 1.3 p99 | TLS 1.2 p99 |",
              "|---|---|---|---|---|---|---|"]
    for system, label in (("floe", "Floe"), ("postgresql", "PostgreSQL 15")):
        s = results["select1"][system]
        p, t13, t12 = s["plain"], s["TLS 1.3"], s["TLS 1.2"]
        lines.append(f"| {label} | {p['p50_us']:.0f} | {t13['p50_us']:.0f} (+{t13['p50_us'] - p['p50_us']:.0f}) | "
                     f"{t12['p50_us']:.0f} (+{t12['p50_us'] - p['p50_us']:.0f}) | {p['p99_us']:.0f} | "
                     f"{t13['p99_us']:.0f} | {t12['p99_us']:.0f} |")
    lines += ["", f"| `{LOOKUP}` round trip, plain (µs) | p50 | p99 |", "|---|---|---|"]
    for system, label in (("floe", "Floe"), ("postgresql", "PostgreSQL 15")):
        r = results["lookup"][system]
        lines.append(f"| {label} | {r['p50_us']:.0f} | {r['p99_us']:.0f} |")
    report = "\n".join(lines) + "\n"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.out_dir / f"tls-{now:%Y-%m-%d-%H%M}"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(json.dumps({"info": info, "results": results}, indent=2))
    print(report)
    log(f"report: {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
