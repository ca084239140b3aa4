#!/usr/bin/env python3
"""TPC-H benchmark: Floe vs DuckDB vs chDB (ClickHouse in-process).

A fourth engine, "datafusion", is Apache DataFusion (the Python package of
the same release Floe embeds) querying the Parquet files Floe wrote. It is
not a peer but a floor: it shows how much of Floe's time is the query
engine itself and how much is Floe (catalog, scan planning, wire protocol).

Steps:
  1. generate TPC-H Parquet files with tpchgen-cli into bench/data/tpch-sf{N}/
     (one file per table: <table>.parquet), unless already there;
  2. load every table into each engine, timing the load and measuring the
     on-disk size;
  3. run the 22 TPC-H queries (texts from DuckDB's tpch extension): one cold
     run, then --runs hot runs, keeping the median of the hot runs;
  4. check Floe's (and chDB's) answers against DuckDB's;
  5. print a markdown report and write it, plus a JSON file, to
     bench/out/tpch-<date>.{md,json}.

Run with the project venv (bench/setup-venv.sh creates it):
  .venv/bin/python bench/tpch.py --sf 1
  .venv/bin/python bench/tpch.py --sf 0.1 --engines duckdb,chdb --queries 1,3,6
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import decimal
import glob
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from pathlib import Path

from common import (
    BENCH_DIR, default_floe_bin, ensure_venv, exit_on_signal, free_port, log, pdeathsig,
)

ensure_venv(__file__, ['duckdb', 'pyarrow'])

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402


TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]

# TPC-H schema with the types tpchgen-cli writes to Parquet:
# keys int64, small counters int32, money/quantities decimal(15,2),
# dates date32, text string.
TPCH_SCHEMA: dict[str, list[tuple[str, str]]] = {
    "region": [("r_regionkey", "BIGINT"), ("r_name", "VARCHAR"), ("r_comment", "VARCHAR")],
    "nation": [("n_nationkey", "BIGINT"), ("n_name", "VARCHAR"), ("n_regionkey", "BIGINT"),
               ("n_comment", "VARCHAR")],
    "supplier": [("s_suppkey", "BIGINT"), ("s_name", "VARCHAR"), ("s_address", "VARCHAR"),
                 ("s_nationkey", "BIGINT"), ("s_phone", "VARCHAR"), ("s_acctbal", "DECIMAL(15,2)"),
                 ("s_comment", "VARCHAR")],
    "customer": [("c_custkey", "BIGINT"), ("c_name", "VARCHAR"), ("c_address", "VARCHAR"),
                 ("c_nationkey", "BIGINT"), ("c_phone", "VARCHAR"), ("c_acctbal", "DECIMAL(15,2)"),
                 ("c_mktsegment", "VARCHAR"), ("c_comment", "VARCHAR")],
    "part": [("p_partkey", "BIGINT"), ("p_name", "VARCHAR"), ("p_mfgr", "VARCHAR"),
             ("p_brand", "VARCHAR"), ("p_type", "VARCHAR"), ("p_size", "INT"),
             ("p_container", "VARCHAR"), ("p_retailprice", "DECIMAL(15,2)"),
             ("p_comment", "VARCHAR")],
    "partsupp": [("ps_partkey", "BIGINT"), ("ps_suppkey", "BIGINT"), ("ps_availqty", "INT"),
                 ("ps_supplycost", "DECIMAL(15,2)"), ("ps_comment", "VARCHAR")],
    "orders": [("o_orderkey", "BIGINT"), ("o_custkey", "BIGINT"), ("o_orderstatus", "VARCHAR"),
               ("o_totalprice", "DECIMAL(15,2)"), ("o_orderdate", "DATE"),
               ("o_orderpriority", "VARCHAR"), ("o_clerk", "VARCHAR"), ("o_shippriority", "INT"),
               ("o_comment", "VARCHAR")],
    "lineitem": [("l_orderkey", "BIGINT"), ("l_partkey", "BIGINT"), ("l_suppkey", "BIGINT"),
                 ("l_linenumber", "INT"), ("l_quantity", "DECIMAL(15,2)"),
                 ("l_extendedprice", "DECIMAL(15,2)"), ("l_discount", "DECIMAL(15,2)"),
                 ("l_tax", "DECIMAL(15,2)"), ("l_returnflag", "VARCHAR"),
                 ("l_linestatus", "VARCHAR"), ("l_shipdate", "DATE"), ("l_commitdate", "DATE"),
                 ("l_receiptdate", "DATE"), ("l_shipinstruct", "VARCHAR"),
                 ("l_shipmode", "VARCHAR"), ("l_comment", "VARCHAR")],
}

ALL_ENGINES = ["duckdb", "chdb", "floe", "datafusion", "duckdb-files"]
REL_TOL = 1e-6
ABS_TOL = 1e-9

# ClickHouse dialect adaptations. ClickHouse (chDB >= 25) runs all 22 DuckDB
# texts as they are, but:
#  - a LEFT JOIN fills unmatched columns with type defaults instead of NULL
#    unless join_use_nulls=1 (Q13 counts o_orderkey over the outer join);
#  - Decimal / Decimal keeps the dividend's scale, so Q8's market share comes
#    back with 4 digits; its division is done in Float64, as DuckDB does.
#    (Q14 multiplies by 100.00 first and already yields Float64.)
CHDB_SETTINGS: dict[int, str] = {
    13: "join_use_nulls = 1",
}
CHDB_REWRITES: dict[int, list[tuple[str, str]]] = {
    8: [("END) / sum(volume) AS mkt_share", "END) / toFloat64(sum(volume)) AS mkt_share")],
}


# --------------------------------------------------------------------------
# data generation


def sf_label(sf: float) -> str:
    return f"{sf:g}"


def tpch_data_dir(sf: float) -> Path:
    return BENCH_DIR / "data" / f"tpch-sf{sf_label(sf)}"


def data_files(data_dir: Path) -> dict[str, Path]:
    return {t: data_dir / f"{t}.parquet" for t in TABLES}


def find_tool(name: str) -> str:
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        sys.exit(f"{name} not found: run bench/setup-venv.sh")
    return found


def generate(sf: float) -> Path:
    data_dir = tpch_data_dir(sf)
    files = data_files(data_dir)
    if all(p.exists() for p in files.values()):
        log(f"data: using {data_dir}")
        return data_dir
    tmp = data_dir.with_name(data_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log(f"data: generating TPC-H SF {sf_label(sf)} into {data_dir} ...")
    t0 = time.perf_counter()
    subprocess.run([find_tool("tpchgen-cli"), "parquet", "-s", sf_label(sf),
                    f"--output-dir={tmp}"], check=True)
    missing = [t for t in TABLES if not (tmp / f"{t}.parquet").exists()]
    if missing:
        sys.exit(f"tpchgen-cli did not write {missing} (layout changed?) in {tmp}")
    shutil.rmtree(data_dir, ignore_errors=True)
    tmp.rename(data_dir)
    log(f"data: generated in {time.perf_counter() - t0:.1f} s")
    return data_dir


def arrow_to_sql(t: pa.DataType) -> str:
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_int32(t):
        return "INT"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    if pa.types.is_date32(t):
        return "DATE"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or str(t) == "string_view":
        return "VARCHAR"
    return str(t)


def check_parquet_schema(files: dict[str, Path]) -> dict[str, dict]:
    """Compare the Parquet schemas with TPCH_SCHEMA; return row counts and schemas."""
    info = {}
    for t, p in files.items():
        pf = pq.ParquetFile(p)
        schema = pf.schema_arrow
        got = [(f.name, arrow_to_sql(f.type)) for f in schema]
        if got != TPCH_SCHEMA[t]:
            log(f"WARNING: {p.name} schema {got} differs from the Floe DDL {TPCH_SCHEMA[t]}")
        info[t] = {"rows": pf.metadata.num_rows, "bytes": p.stat().st_size,
                   "schema": {f.name: str(f.type) for f in schema}}
    return info


# --------------------------------------------------------------------------
# helpers


def dir_size(path: Path) -> dict[str, int]:
    """Disk usage (like du) and apparent size of a file or directory tree."""
    used = apparent = 0
    paths = [path] if path.is_file() else [Path(r) / f for r, _, fs in os.walk(path) for f in fs]
    for p in paths:
        try:
            st = p.lstat()
        except FileNotFoundError:
            continue
        used += st.st_blocks * 512
        apparent += st.st_size
    return {"du_bytes": used, "apparent_bytes": apparent}


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ["B", "KiB", "MiB", "GiB"]:
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class QueryTimeout(Exception):
    pass


def call_with_timeout(fn, timeout: float):
    """Run fn() in a worker thread; return (value, seconds) or raise.

    Raises QueryTimeout (with .thread set) if it does not finish in time."""
    if not timeout or timeout <= 0:
        t0 = time.perf_counter()
        v = fn()
        return v, time.perf_counter() - t0
    box: dict = {}

    def work():
        t0 = time.perf_counter()
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            box["error"] = e
        box["seconds"] = time.perf_counter() - t0

    th = threading.Thread(target=work, daemon=True)
    th.start()
    th.join(timeout)
    if th.is_alive():
        e = QueryTimeout(f"timed out after {timeout:g} s")
        e.thread = th
        raise e
    if "error" in box:
        raise box["error"]
    return box["value"], box["seconds"]


# --------------------------------------------------------------------------
# engines


class Engine:
    name = "?"

    def load(self, files: dict[str, Path]) -> dict[str, float]:
        raise NotImplementedError

    def query(self, sql: str) -> list[tuple]:
        raise NotImplementedError

    def adapt(self, qnum: int, sql: str) -> str:
        return sql

    def disk_size(self) -> dict[str, int]:
        raise NotImplementedError

    def cancel(self) -> None:
        pass

    def recover(self, thread: threading.Thread) -> bool:
        """After a timeout: make the engine usable again; False if impossible."""
        thread.join(10)
        return not thread.is_alive()

    def version(self) -> str:
        return ""

    def close(self) -> None:
        pass


class DuckDBEngine(Engine):
    name = "duckdb"

    def __init__(self, out_dir: Path, sf: float):
        self.path = out_dir / f"duckdb-sf{sf_label(sf)}.duckdb"
        for p in (self.path, Path(str(self.path) + ".wal")):
            p.unlink(missing_ok=True)
        self.con = duckdb.connect(str(self.path))

    def load(self, files):
        times = {}
        for t, p in files.items():
            t0 = time.perf_counter()
            self.con.execute(f"CREATE TABLE {t} AS SELECT * FROM read_parquet({sql_str(str(p))})")
            times[t] = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.con.execute("CHECKPOINT")
        times["(checkpoint)"] = time.perf_counter() - t0
        return times

    def query(self, sql):
        return self.con.execute(sql).fetchall()

    def disk_size(self):
        return dir_size(self.path)

    def cancel(self):
        try:
            self.con.interrupt()
        except Exception:  # noqa: BLE001
            pass

    def version(self):
        return duckdb.__version__

    def close(self):
        try:
            self.con.close()
        except Exception:  # noqa: BLE001
            pass


def floe_data_files(warehouse: Path, table: str, engine: str) -> list[Path]:
    """The Parquet files Floe wrote for `table`; engines that read Floe's
    files in place need a floe run first."""
    found = sorted(warehouse.glob(f"{table}/data/*.parquet"))
    if not found:
        raise RuntimeError(f"no Floe data files for {table} under {warehouse}; "
                           f"the {engine} engine reads Floe's files, so run floe first")
    return found


class DuckDBFilesEngine(DuckDBEngine):
    """DuckDB reading the Parquet files Floe wrote, in place, through views
    (run after "floe"): the peer on exactly the bytes Floe reads."""

    name = "duckdb-files"

    def __init__(self, out_dir: Path, sf: float):
        self.warehouse = out_dir / "floe-data" / "warehouse" / "public"
        self.con = duckdb.connect()
        self.files: list[Path] = []

    def load(self, files):
        times = {}
        for t in files:
            found = floe_data_files(self.warehouse, t, self.name)
            t0 = time.perf_counter()
            paths = ", ".join(sql_str(str(f)) for f in found)
            self.con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet([{paths}])")
            times[t] = time.perf_counter() - t0
            self.files += found
        return times

    def disk_size(self):
        used = apparent = 0
        for f in self.files:
            d = dir_size(f)
            used, apparent = used + d["du_bytes"], apparent + d["apparent_bytes"]
        return {"du_bytes": used, "apparent_bytes": apparent}


def arrow_rows(table: pa.Table) -> list[tuple]:
    cols = [c.to_pylist() for c in table.columns]
    return list(zip(*cols)) if cols else []


class ChdbEngine(Engine):
    name = "chdb"

    def __init__(self, out_dir: Path, sf: float):
        import chdb
        import chdb.session as chs
        self._chdb = chdb
        self.path = out_dir / f"chdb-sf{sf_label(sf)}"
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        self.sess = chs.Session(str(self.path))
        self.sess.query("CREATE DATABASE IF NOT EXISTS tpch")
        self.sess.query("USE tpch")

    def load(self, files):
        times = {}
        for t, p in files.items():
            t0 = time.perf_counter()
            self.sess.query(f"CREATE TABLE {t} ENGINE = MergeTree ORDER BY tuple() "
                            f"AS SELECT * FROM file({sql_str(str(p))}, Parquet)")
            times[t] = time.perf_counter() - t0
        return times

    def adapt(self, qnum, sql):
        for old, new in CHDB_REWRITES.get(qnum, []):
            if old not in sql:
                log(f"WARNING: chdb rewrite for Q{qnum} did not apply: {old!r}")
            sql = sql.replace(old, new)
        if qnum in CHDB_SETTINGS:
            sql = sql.rstrip().rstrip(";") + f"\nSETTINGS {CHDB_SETTINGS[qnum]}"
        return sql

    def query(self, sql):
        return arrow_rows(self.sess.query(sql, "ArrowTable"))

    def disk_size(self):
        return dir_size(self.path)

    def recover(self, thread):
        # chDB has no way to interrupt a running query from Python.
        thread.join(10)
        return not thread.is_alive()

    def version(self):
        return f"{getattr(self._chdb, '__version__', '?')} " \
               f"(ClickHouse {getattr(self._chdb, 'engine_version', '?')})"

    def close(self):
        try:
            self.sess.close()
        except Exception:  # noqa: BLE001
            pass


class DataFusionEngine(Engine):
    """DataFusion over the data files of Floe's tables (run after "floe")."""

    name = "datafusion"

    def __init__(self, out_dir: Path, sf: float):
        import datafusion
        self._df = datafusion
        self.warehouse = out_dir / "floe-data" / "warehouse" / "public"
        cfg = (datafusion.SessionConfig()
               .with_target_partitions(os.cpu_count() or 1)
               .set("datafusion.sql_parser.parse_float_as_decimal", "true"))
        self.ctx = datafusion.SessionContext(cfg)
        self.files: list[Path] = []

    def load(self, files):
        times = {}
        for t in files:
            found = floe_data_files(self.warehouse, t, self.name)
            t0 = time.perf_counter()
            self.ctx.register_listing_table(t, str(self.warehouse / t / "data") + "/",
                                            file_extension=".parquet")
            times[t] = time.perf_counter() - t0
            self.files += found
        return times

    def query(self, sql):
        rows: list[tuple] = []
        for stmt in [s for s in sql.split(";") if s.strip()]:
            batches = self.ctx.sql(stmt).collect()
            rows = arrow_rows(pa.Table.from_batches(batches)) if batches else []
        return rows

    def disk_size(self):
        used = apparent = 0
        for f in self.files:
            d = dir_size(f)
            used, apparent = used + d["du_bytes"], apparent + d["apparent_bytes"]
        return {"du_bytes": used, "apparent_bytes": apparent}

    def version(self):
        return self._df.__version__


_FLOE_PROCS: list[subprocess.Popen] = []


def _stop_proc(proc: subprocess.Popen, grace: float = 60.0) -> int | None:
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            log(f"floe (pid {proc.pid}) did not stop after SIGTERM; killing it")
            proc.kill()
            proc.wait()
    if proc in _FLOE_PROCS:
        _FLOE_PROCS.remove(proc)
    return proc.returncode


def _stop_all_floe() -> None:
    for proc in list(_FLOE_PROCS):
        _stop_proc(proc, 30)


atexit.register(_stop_all_floe)


class FloeEngine(Engine):
    name = "floe"

    def __init__(self, out_dir: Path, sf: float, binary: str, startup_timeout: float = 120):
        import psycopg
        self._psycopg = psycopg
        self.binary = binary
        self.data_dir = out_dir / "floe-data"
        self.log_path = out_dir / "floe-server.log"
        self.copy_dir = tpch_data_dir(sf).resolve()  # COPY ... FROM reads the Parquet files here
        self.startup_timeout = startup_timeout
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.proc: subprocess.Popen | None = None
        self.conn = None
        self.exit_codes: list[int | None] = []
        self._start()

    # server lifecycle
    def _start(self):
        self.pg_port, self.http_port = free_port(), free_port()
        while self.http_port == self.pg_port:
            self.http_port = free_port()
        logf = open(self.log_path, "ab" if self.exit_codes else "wb")
        logf.write(f"\n==== start {dt.datetime.now().isoformat()} ====\n".encode())
        logf.flush()
        cmd = [self.binary, "serve", "--data-dir", str(self.data_dir),
               "--pg-addr", f"127.0.0.1:{self.pg_port}",
               "--http-addr", f"127.0.0.1:{self.http_port}",
               "--copy-dir", str(self.copy_dir)]
        self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=pdeathsig)
        logf.close()
        _FLOE_PROCS.append(self.proc)
        url = f"http://127.0.0.1:{self.http_port}/healthz"
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"floe serve exited with {self.proc.returncode}; "
                                   f"log tail:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"floe serve not healthy after {self.startup_timeout:g} s; "
                                   f"log tail:\n{self._log_tail()}")
            time.sleep(0.1)
        # the superuser's password, written on the first start
        password = (self.data_dir / "admin.password").read_text().strip()
        self.conn = self._psycopg.connect(host="127.0.0.1", port=self.pg_port, user="floe",
                                          password=password, dbname="floe", sslmode="disable",
                                          autocommit=True, connect_timeout=30)

    def _stop(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001
                pass
            self.conn = None
        if self.proc is not None:
            self.exit_codes.append(_stop_proc(self.proc))
            self.proc = None

    def _log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    # engine interface
    def _exec(self, sql: str):
        with self.conn.cursor() as cur:
            cur.execute(sql, prepare=False)
            return cur.fetchall() if cur.description is not None else []

    def load(self, files):
        times = {}
        for t, p in files.items():
            cols = ", ".join(f"{c} {ty}" for c, ty in TPCH_SCHEMA[t])
            t0 = time.perf_counter()
            self._exec(f"CREATE TABLE {t} ({cols})")
            self._exec(f"COPY {t} FROM {sql_str(str(p.resolve()))} (FORMAT parquet)")
            times[t] = time.perf_counter() - t0
        return times

    def query(self, sql):
        return self._exec(sql)

    def disk_size(self):
        return dir_size(self.data_dir)

    def cancel(self):
        try:
            self.conn.cancel_safe(timeout=5)
        except Exception:  # noqa: BLE001 - cancel may not be supported
            pass

    def recover(self, thread):
        thread.join(5)
        if thread.is_alive():
            log("floe: query still running after cancel; restarting the server")
            self._stop()
            thread.join(30)
            self._start()
        return True

    def version(self):
        try:
            out = subprocess.run([self.binary, "--version"], capture_output=True, text=True,
                                 timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except Exception:  # noqa: BLE001
            return "?"

    def close(self):
        self._stop()
        bad = [c for c in self.exit_codes if c not in (0, None)]
        if bad:
            log(f"WARNING: floe serve exited with {bad}; see {self.log_path}")


# --------------------------------------------------------------------------
# queries


def tpch_extension_path() -> str:
    import duckdb_extension_tpch
    base = Path(duckdb_extension_tpch.__file__).parent / "extensions"
    want = base / f"v{duckdb.__version__}" / "tpch.duckdb_extension"
    if want.exists():
        return str(want)
    found = sorted(glob.glob(str(base / "*" / "tpch.duckdb_extension")))
    if not found:
        sys.exit(f"tpch.duckdb_extension not found under {base}")
    return found[-1]


def tpch_queries() -> dict[int, str]:
    con = duckdb.connect()
    ext = tpch_extension_path()
    try:
        con.execute(f"INSTALL {sql_str(ext)}")
        con.execute("LOAD tpch")
    except duckdb.Error:
        con.execute(f"LOAD {sql_str(ext)}")
    qs = {int(n): q for n, q in con.execute("SELECT query_nr, query FROM tpch_queries()").fetchall()}
    con.close()
    return qs


# --------------------------------------------------------------------------
# result comparison


def _as_number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float, decimal.Decimal)):
        return v
    if isinstance(v, str):
        try:
            return decimal.Decimal(v.strip())
        except decimal.InvalidOperation:
            return None
    return None


def _as_date(v):
    if isinstance(v, dt.datetime):
        return v.date() if v.time() == dt.time(0) and v.tzinfo is None else None
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v.strip())
        except ValueError:
            return None
    return None


def values_equal(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (bytes, bytearray, memoryview)):
        a = bytes(a).decode("utf-8", "replace")
    if isinstance(b, (bytes, bytearray, memoryview)):
        b = bytes(b).decode("utf-8", "replace")
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    na, nb = _as_number(a), _as_number(b)
    if na is not None and nb is not None and not (isinstance(a, str) and isinstance(b, str)):
        if isinstance(na, int) and isinstance(nb, int):
            return na == nb
        fa, fb = float(na), float(nb)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(a, (dt.date, dt.datetime)) or isinstance(b, (dt.date, dt.datetime)):
        da, db = _as_date(a), _as_date(b)
        if da is not None and db is not None:
            return da == db
        return a == b
    return a == b


def _row_key(row):
    return tuple((0, "") if v is None else (1, str(v)) for v in row)


def compare_results(expected: list[tuple], got: list[tuple]) -> tuple[bool, str]:
    """Compare row by row in the order returned. Returns (ok, detail)."""
    if len(expected) != len(got):
        return False, f"row count {len(got)} != expected {len(expected)}"
    for i, (er, gr) in enumerate(zip(expected, got)):
        if len(er) != len(gr):
            return False, f"row {i}: {len(gr)} columns != expected {len(er)}"
        for j, (ev, gv) in enumerate(zip(er, gr)):
            if not values_equal(ev, gv):
                detail = f"row {i} col {j}: {gv!r} != expected {ev!r}"
                # tell apart wrong values from a different order of equal rows
                try:
                    se, sg = sorted(expected, key=_row_key), sorted(got, key=_row_key)
                    if all(len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
                           for a, b in zip(se, sg)):
                        detail += " (same rows, different order)"
                except Exception:  # noqa: BLE001
                    pass
                return False, detail
    return True, f"{len(got)} rows"


# --------------------------------------------------------------------------
# benchmark driver


def make_engine(name: str, args, out_dir: Path) -> Engine:
    if name == "duckdb":
        return DuckDBEngine(out_dir, args.sf)
    if name == "chdb":
        return ChdbEngine(out_dir, args.sf)
    if name == "floe":
        return FloeEngine(out_dir, args.sf, args.floe_bin)
    if name == "datafusion":
        return DataFusionEngine(out_dir, args.sf)
    if name == "duckdb-files":
        return DuckDBFilesEngine(out_dir, args.sf)
    raise ValueError(name)


def run_engine(name: str, args, out_dir: Path, files, expected_rows: dict[str, int], queries,
               make=None) -> tuple[dict, dict]:
    """Load and query one engine, made by `make` (this benchmark's
    make_engine by default); after loading, each table of `expected_rows`
    must hold that many rows. Returns (load_info, {qnum: result})."""
    load_info: dict = {"engine": name}
    results: dict[int, dict] = {}
    engine = None
    try:
        log(f"[{name}] starting")
        engine = (make or make_engine)(name, args, out_dir)
        load_info["version"] = engine.version()
        t0 = time.perf_counter()
        load_info["tables_s"] = engine.load(files)
        load_info["total_s"] = time.perf_counter() - t0
        load_info["size"] = engine.disk_size()
        log(f"[{name}] loaded in {load_info['total_s']:.2f} s, "
            f"{human_bytes(load_info['size']['du_bytes'])} on disk")
        bad_counts = {}
        for t, want in expected_rows.items():
            try:
                n = engine.query(f"SELECT count(*) FROM {t}")[0][0]
                if int(n) != want:
                    bad_counts[t] = f"{n} != {want}"
            except Exception as e:  # noqa: BLE001
                bad_counts[t] = f"count failed: {e}"
        if bad_counts:
            load_info["row_count_errors"] = bad_counts
            log(f"[{name}] WARNING: row counts differ from the Parquet files: {bad_counts}")
    except Exception as e:  # noqa: BLE001
        load_info["error"] = f"{type(e).__name__}: {e}"
        log(f"[{name}] load failed: {load_info['error']}")
        if args.verbose:
            traceback.print_exc()
        if engine is not None:
            engine.close()
        for q in queries:
            results[q] = {"error": "engine not loaded", "status": "skipped"}
        return load_info, results

    usable = True
    for q, sql in queries.items():
        res: dict = {}
        results[q] = res
        if not usable:
            res.update(status="skipped", error="engine unusable after an earlier timeout")
            continue
        sql = engine.adapt(q, sql)
        if sql != queries[q]:
            res["adapted"] = True
        times = []
        try:
            for i in range(1 + args.runs):
                rows, secs = call_with_timeout(lambda: engine.query(sql), args.timeout)
                times.append(secs)
                if i == 0:
                    res["rows"] = rows
        except QueryTimeout as e:
            res.update(status="timeout", error=str(e))
            engine.cancel()
            usable = engine.recover(e.thread)
        except Exception as e:  # noqa: BLE001
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            code = getattr(e, "sqlstate", None)
            kind = f"{type(e).__name__} [{code}]" if code else type(e).__name__
            res.update(status="error", error=f"{kind}: {msg[:500]}")
        if times:
            res["cold_ms"] = times[0] * 1000
            res["hot_ms"] = [t * 1000 for t in times[1:]]
        if "status" not in res:
            res["status"] = "ok"
            res["median_ms"] = statistics.median(res["hot_ms"]) if res["hot_ms"] else res["cold_ms"]
            log(f"[{name}] Q{q:02d} cold {res['cold_ms']:9.1f} ms  hot median "
                f"{res['median_ms']:9.1f} ms  ({len(res['rows'])} rows)")
        else:
            log(f"[{name}] Q{q:02d} {res['status']}: {res['error']}")
    engine.close()
    return load_info, results


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt_ms(r: dict | None) -> str:
    if r is None:
        return "-"
    if r.get("status") == "ok":
        return f"{r['median_ms']:.1f}"
    return {"timeout": "timeout", "skipped": "skip"}.get(r.get("status"), "ERR")


def fmt_ratio(a: dict | None, b: dict | None) -> str:
    if a and b and a.get("status") == "ok" and b.get("status") == "ok" and b["median_ms"] > 0:
        return f"{a['median_ms'] / b['median_ms']:.2f}"
    return "-"


def fmt_check(c: dict | None) -> str:
    if c is None:
        return "-"
    return "yes" if c["ok"] else "NO"


def build_report(args, engines, pq_info, load, results, checks, started: dt.datetime) -> tuple[str, dict]:
    qnums = sorted(next(iter(results.values())).keys()) if results else []
    lines = [f"# TPC-H SF {sf_label(args.sf)}", "",
             f"- date: {started.isoformat(timespec='seconds')}",
             f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
             f"- runs: 1 cold (first run after load) + {args.runs} hot, median of hot runs (ms)",
             f"- engines: " + ", ".join(f"{e} {load[e].get('version', '')}".strip() for e in engines),
             ""]
    # Per query: each engine's median, Floe's ratio to each peer, and
    # whether each engine's answer matches DuckDB's.
    peers = [e for e in engines if e != "floe"]
    checked = [e for e in engines if e in checks]
    header = (["query"] + [f"{e} ms" for e in engines]
              + ([f"floe/{e}" for e in peers] if "floe" in engines else [])
              + [f"{e} correct" for e in checked])
    ratios = len(peers) if "floe" in engines else 0
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(engines) + ratios)
                                + [":---:"] * len(checked)) + "|")
    for q in qnums:
        r = {e: results[e][q] for e in engines}
        cells = [f"Q{q:02d}"] + [fmt_ms(r.get(e)) for e in engines]
        if "floe" in engines:
            cells += [fmt_ratio(r.get("floe"), r.get(e)) for e in peers]
        cells += [fmt_check(checks[e].get(q)) for e in checked]
        lines.append("| " + " | ".join(cells) + " |")

    common = [q for q in qnums if all(results[e][q].get("status") == "ok" for e in engines)]
    gm = {e: geomean([results[e][q]["median_ms"] for q in common]) for e in engines}
    summary: dict = {"common_queries": common, "geomean_ms": gm, "geomean_ratio": {}}
    lines += ["", f"Geometric mean over the {len(common)} queries that succeeded on every engine"
              f" ({', '.join(f'Q{q}' for q in common) or 'none'}):", ""]
    lines.append("| engine | geomean ms | load s | on-disk (du) |")
    lines.append("|---|---:|---:|---:|")
    for e in engines:
        li = load[e]
        lines.append(f"| {e} | {gm[e]:.1f} | " if gm[e] else f"| {e} | - | ")
        lines[-1] += (f"{li['total_s']:.2f}" if "total_s" in li else "failed") + " | " + \
            human_bytes(li.get("size", {}).get("du_bytes")) + " |"
    parquet_bytes = sum(v["bytes"] for v in pq_info.values())
    lines.append(f"| (parquet input) | | | {human_bytes(parquet_bytes)} |")
    pairs = [("floe", "duckdb"), ("floe", "chdb"), ("chdb", "duckdb"),
             ("floe", "datafusion"), ("datafusion", "duckdb"), ("floe", "duckdb-files"),
             ("duckdb-files", "duckdb")]
    ratio_lines = []
    for a, b in pairs:
        if a in engines and b in engines and gm.get(a) and gm.get(b):
            summary["geomean_ratio"][f"{a}/{b}"] = gm[a] / gm[b]
            ratio_lines.append(f"- geomean {a}/{b}: {gm[a] / gm[b]:.2f}")
    if ratio_lines:
        lines += [""] + ratio_lines

    for e, chk in checks.items():
        bad = {q: c for q, c in chk.items() if not c["ok"]}
        lines += ["", f"{e} vs duckdb: {len(chk) - len(bad)}/{len(chk)} queries match"]
        for q, c in sorted(bad.items()):
            lines.append(f"- Q{q:02d} mismatch: {c['detail']}")
    errs = [(e, q, results[e][q]) for e in engines for q in qnums
            if results[e][q].get("status") != "ok"]
    if errs:
        lines += ["", "Failures:", ""]
        for e, q, r in errs:
            lines.append(f"- {e} Q{q:02d} {r.get('status')}: {r.get('error')}")
    for e in engines:
        if load[e].get("error"):
            lines.append(f"- {e} load failed: {load[e]['error']}")
        if load[e].get("row_count_errors"):
            lines.append(f"- {e} row counts differ: {load[e]['row_count_errors']}")
    adapted = sorted(q for q in qnums if results.get("chdb", {}).get(q, {}).get("adapted"))
    if adapted:
        lines += ["", "chdb ran adapted texts for: " + ", ".join(f"Q{q}" for q in adapted)]

    data = {
        "benchmark": "tpch", "sf": args.sf, "runs": args.runs, "timeout_s": args.timeout,
        "date": started.isoformat(timespec="seconds"), "engines": engines,
        "machine": {"arch": platform.machine(), "cpus": os.cpu_count(),
                    "os": f"{platform.system()} {platform.release()}"},
        "parquet": pq_info, "load": load,
        "queries": {str(q): {e: {k: v for k, v in results[e][q].items() if k != "rows"}
                             | {"row_count": len(results[e][q].get("rows") or [])}
                             for e in engines} for q in qnums},
        "checks": {e: {str(q): c for q, c in chk.items()} for e, chk in checks.items()},
        "summary": summary,
    }
    return "\n".join(lines) + "\n", data


def parse_queries(spec: str | None) -> list[int]:
    if not spec:
        return list(range(1, 23))
    out = []
    for part in spec.split(","):
        part = part.strip().lstrip("qQ")
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    bad = [q for q in out if not 1 <= q <= 22]
    if bad:
        raise argparse.ArgumentTypeError(f"no such TPC-H query: {bad}")
    return sorted(set(out))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sf", type=float, default=1.0, help="scale factor (default 1)")
    ap.add_argument("--runs", type=int, default=3, help="hot runs per query (default 3)")
    ap.add_argument("--queries", type=parse_queries, default=parse_queries(None),
                    help="comma-separated query numbers or ranges, e.g. 1,3,6 or 1-5 (default all)")
    ap.add_argument("--engines", default=",".join(ALL_ENGINES),
                    help="comma-separated subset of " + ",".join(ALL_ENGINES) + " (default all)")
    ap.add_argument("--timeout", type=float, default=600,
                    help="per-query client-side timeout in seconds, 0 = none (default 600)")
    ap.add_argument("--floe-bin", default=default_floe_bin(),
                    help="floe binary (default $FLOE_BIN or $CARGO_TARGET_DIR/release/floe)")
    ap.add_argument("--out-dir", default=str(BENCH_DIR / "out"), help="output directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ALL_ENGINES]
    if unknown or not engines:
        ap.error(f"unknown engines {unknown}; choose from {ALL_ENGINES}")
    engines = [e for e in ALL_ENGINES if e in engines]
    if "floe" in engines and not os.access(args.floe_bin, os.X_OK):
        ap.error(f"floe binary not found at {args.floe_bin} (build it with cargo build --release, "
                 f"set FLOE_BIN, or leave floe out with --engines duckdb,chdb)")

    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGHUP, exit_on_signal)

    started = dt.datetime.now()
    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    data_dir = generate(args.sf)
    files = data_files(data_dir)
    pq_info = check_parquet_schema(files)
    all_queries = tpch_queries()
    queries = {q: all_queries[q] for q in args.queries}

    load: dict[str, dict] = {}
    results: dict[str, dict[int, dict]] = {}
    try:
        for e in engines:
            expected = {t: pq_info[t]["rows"] for t in TABLES}
            load[e], results[e] = run_engine(e, args, out_dir, files, expected, queries)
    finally:
        _stop_all_floe()

    checks: dict[str, dict[int, dict]] = {}
    if "duckdb" in engines:
        for e in engines:
            if e == "duckdb":
                continue
            checks[e] = {}
            for q in queries:
                ref, r = results["duckdb"][q], results[e][q]
                if ref.get("status") != "ok" or r.get("status") != "ok":
                    continue
                ok, detail = compare_results(ref["rows"], r["rows"])
                checks[e][q] = {"ok": ok, "detail": detail}
        for e, chk in checks.items():
            bad = sorted(q for q, c in chk.items() if not c["ok"])
            log(f"{e} vs duckdb: " + ("all compared queries match" if not bad else
                                     "MISMATCH in " + ", ".join(f"Q{q}" for q in bad)))

    md, data = build_report(args, engines, pq_info, load, results, checks, started)
    stamp = started.strftime("%Y-%m-%d-%H%M%S")
    md_path = out_dir / f"tpch-{stamp}.md"
    json_path = out_dir / f"tpch-{stamp}.json"
    md_path.write_text(md)
    json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(md)
    log(f"wrote {md_path} and {json_path}")
    return 1 if any(load[e].get("error") for e in engines) else 0


if __name__ == "__main__":
    sys.exit(main())
