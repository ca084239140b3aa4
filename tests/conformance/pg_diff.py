#!/usr/bin/env python3
"""PostgreSQL conformance check for Floe on DataFusion's sqllogictest corpus.

Every SQL statement of the `.slt` files in the `datafusion-sqllogictest`
crate (obtained through `cargo fetch`) runs, in file order, on a real
PostgreSQL 15 and on a `floe serve`, over psycopg in autocommit mode. The
expected rows written in the files are DataFusion's answers and are ignored:
the oracle is PostgreSQL, queried live. Each record is classified:

  pg_error    PostgreSQL refuses it; not applicable, counted apart
  match       both succeed with the same result (statements: both succeed)
  floe_error  Floe fails (error or timeout) where PostgreSQL answers
  WRONG       both answer and the answers differ
  skipped     not comparable: EXPLAIN plans, the rows of SHOW ALL (each
              server's own settings; its columns must agree), SET/RESET/
              SHOW of DataFusion's `datafusion.*` settings (PostgreSQL
              takes any dotted name as a placeholder setting), or a
              volatile query (random(), now(), ...) whose answers differ
  not_run     excluded by a skipif/onlyif condition

A query of `information_schema` compares what it says of the user's
objects: rows of the system schemas are left out on both sides (each
server lists its own system catalog) and the catalog columns, which hold
the database's name, are read as one placeholder (`user_catalog_rows`).

Results compare as typed Python values (psycopg's, with intervals kept as
months/days/microseconds). Rows compare as multisets unless the query has a
top-level ORDER BY whose keys name output columns: then the keys must come
in PostgreSQL's order, and rows tying on them may come in any order within
their group; an ORDER BY on other expressions compares as a multiset.
Integers and numerics compare exactly, a float against any number with a
relative tolerance of 1e-9; NULL equals NULL and NaN equals NaN; the column
counts must match. Where a top-level LIMIT/OFFSET/FETCH leaves the chosen
rows open (no ORDER BY, or ties at the edges), equal row counts suffice.

Each file gets a fresh PostgreSQL database (UTF8, C collation, C.UTF-8
character classes, time zone UTC) and a fresh Floe state: one `floe serve`
per job; after each file every table, view and schema it created is
dropped, and a file that changed server-wide state (`SET
datafusion.runtime.*`, CREATE/DROP FUNCTION) gets a new server on a fresh
data directory. A finding made after the two engines' states parted (a
write or setting that succeeded on one side only, a DataFusion setting that
changes semantics, a lost Floe session) names that record in
`after_divergence_at`.

Column names are not part of a match; a matching query whose columns
PostgreSQL names differently is listed apart (`names_differ` in the
report), as clients read results by those names.

A summary line is printed per file and in total; --report writes every
WRONG and floe_error record (file:line, SQL, both answers), the totals, the
slowest Floe statements and any unexpected exit of `floe serve` as JSON.

The sqllogictest conditions treat this engine as `postgres`: records under
`onlyif postgres` run, records under `skipif postgres` or any other `onlyif`
do not. `include` inlines the named files, as sqllogictest does.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import decimal
import fnmatch
import glob
import json
import math
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.types import datetime as pg_datetime

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))

from floe_helpers import FloeServer, ServerError, default_floe_bin  # noqa: E402
from pg_source import PASSWORD, PostgresServer  # noqa: E402

CORPUS_CRATE = "datafusion-sqllogictest"
CORPUS_VERSION = "54.1.0"
ENGINE_LABEL = "postgres"
FLOAT_REL_TOL = 1e-9
MAX_ROWS = 100_000
TRUNCATE_VALUE = 200
TRUNCATE_ROWS = 20
TRUNCATE_SQL = 2000

CLASSES = ("match", "floe_error", "WRONG", "pg_error", "skipped", "not_run")

# Set by SIGTERM/SIGINT: files stop after their current record, servers stop.
STOP = threading.Event()


# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------


def fetch_corpus(cargo: str = "cargo") -> Path:
    """Download the corpus crate with `cargo fetch` (no compilation) and
    return its `test_files` directory."""
    work = Path(tempfile.mkdtemp(prefix="floe-corpus-fetch-"))
    try:
        (work / "src").mkdir()
        (work / "src" / "lib.rs").write_text("")
        (work / "Cargo.toml").write_text(
            '[package]\nname = "floe-corpus-fetch"\nversion = "0.0.0"\nedition = "2021"\n\n'
            f'[dependencies]\n{CORPUS_CRATE} = "={CORPUS_VERSION}"\n'
        )
        manifest = str(work / "Cargo.toml")
        subprocess.run([cargo, "fetch", "--manifest-path", manifest], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        meta = subprocess.run(
            [cargo, "metadata", "--format-version", "1", "--manifest-path", manifest],
            check=True, capture_output=True, text=True,
        )
        for pkg in json.loads(meta.stdout)["packages"]:
            if pkg["name"] == CORPUS_CRATE and pkg["version"] == CORPUS_VERSION:
                files = Path(pkg["manifest_path"]).parent / "test_files"
                if files.is_dir():
                    return files
        raise RuntimeError(f"{CORPUS_CRATE} {CORPUS_VERSION} has no test_files directory")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def select_files(root: Path, patterns: list[str], limit: int | None) -> list[Path]:
    files = sorted(p for p in root.rglob("*.slt") if p.is_file())

    def wanted(rel: str) -> bool:
        if not patterns:
            return True
        for pat in patterns:
            if any(ch in pat for ch in "*?["):
                if fnmatch.fnmatch(rel, pat):
                    return True
            elif pat in rel:
                return True
        return False

    chosen = [p for p in files if wanted(p.relative_to(root).as_posix())]
    return chosen[:limit] if limit else chosen


# ---------------------------------------------------------------------------
# sqllogictest parsing
# ---------------------------------------------------------------------------


@dataclass
class Record:
    kind: str  # "statement" or "query"
    sql: str
    key: str  # file:line, with the including file for included records
    runnable: bool


@dataclass
class Halt:
    key: str


def _multiline_block(lines: list[str], i: int) -> int:
    """Skip a multi-line error message after `----`: it ends at two
    consecutive empty lines (or the end of the file)."""
    while i < len(lines):
        line = lines[i]
        i += 1
        if line == "" and (i >= len(lines) or lines[i] == ""):
            return i + 1
    return i


def parse_slt(path: Path, root: Path, key_prefix: str = "", depth: int = 0) -> list:
    """Records of one file, in order, with included files inlined."""
    if depth > 8:
        raise ValueError(f"include nesting too deep at {path}")
    rel = path.relative_to(root).as_posix()
    prefix = f"{key_prefix}{rel}"
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out: list = []
    conditions: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        lineno = i + 1
        i += 1
        if line.startswith("#") or line == "":
            continue
        tokens = line.split()
        if not tokens:
            continue
        head = tokens[0]
        if head in ("skipif", "onlyif") and len(tokens) == 2:
            conditions.append((head, tokens[1]))
            continue
        if head == "halt":
            out.append(Halt(f"{prefix}:{lineno}"))
            conditions = []
            continue
        if head == "include" and len(tokens) == 2:
            pattern = str(path.parent / tokens[1])
            for included in sorted(glob.glob(pattern)):
                out.extend(parse_slt(Path(included).resolve(), root.resolve(),
                                     f"{prefix}@", depth + 1))
            conditions = []
            continue
        if head in ("statement", "query", "system", "let"):
            sql_lines = []
            has_results = False
            if i < len(lines):
                sql_lines.append(lines[i])
                i += 1
                while i < len(lines):
                    nxt = lines[i]
                    i += 1
                    if nxt == "":
                        break
                    if nxt == "----" and head != "let":
                        has_results = True
                        break
                    sql_lines.append(nxt)
            is_error = len(tokens) > 1 and tokens[1] == "error"
            if has_results:
                if is_error or head == "system":
                    i = _multiline_block(lines, i)
                elif head == "query":
                    while i < len(lines):
                        nxt = lines[i]
                        i += 1
                        if nxt == "":
                            break
            if head in ("statement", "query"):
                out.append(Record(
                    kind=head, sql="\n".join(sql_lines), key=f"{prefix}:{lineno}",
                    runnable=_runnable(conditions),
                ))
            conditions = []
            continue
        # control, hash-threshold, subtest, sleep, connection: no effect here.
    return out


def _runnable(conditions: list[tuple[str, str]]) -> bool:
    for kind, label in conditions:
        if kind == "skipif" and label == ENGINE_LABEL:
            return False
        if kind == "onlyif" and label != ENGINE_LABEL:
            return False
    return True


# ---------------------------------------------------------------------------
# SQL shape: top-level ORDER BY / LIMIT, statement kind
# ---------------------------------------------------------------------------

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass
class Tok:
    kind: str  # word, qident, num, str, op
    text: str
    depth: int


def tokenize(sql: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n, depth = 0, len(sql), 0
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "'":
            backslash = i > 0 and sql[i - 1] in "eE" and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
            j = i + 1
            while j < n:
                if backslash and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == "'":
                    if j + 1 < n and sql[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            if toks and toks[-1].kind == "word" and toks[-1].text in ("E",) and backslash:
                toks.pop()
            toks.append(Tok("str", sql[i:j + 1], depth))
            i = j + 1
        elif c == '"':
            j = i + 1
            while j < n:
                if sql[j] == '"':
                    if j + 1 < n and sql[j + 1] == '"':
                        j += 2
                        continue
                    break
                j += 1
            toks.append(Tok("qident", sql[i + 1:j].replace('""', '"'), depth))
            i = j + 1
        elif c == "$" and _DOLLAR.match(sql, i):
            tag = _DOLLAR.match(sql, i).group(0)
            j = sql.find(tag, i + len(tag))
            j = n if j < 0 else j + len(tag)
            toks.append(Tok("str", sql[i:j], depth))
            i = j
        elif c == "(" or c == "[":
            toks.append(Tok("op", c, depth))
            depth += 1
            i += 1
        elif c == ")" or c == "]":
            depth = max(0, depth - 1)
            toks.append(Tok("op", c, depth))
            i += 1
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] in "_$"):
                j += 1
            toks.append(Tok("word", sql[i:j].upper(), depth))
            i = j
        elif c.isdigit():
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "."):
                j += 1
            toks.append(Tok("num", sql[i:j], depth))
            i = j
        else:
            toks.append(Tok("op", c, depth))
            i += 1
    return toks


READ_HEADS = {"SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN", "DESCRIBE", "DESC"}
END_OF_ORDER = {"LIMIT", "OFFSET", "FETCH", "FOR"}
_VOLATILE = re.compile(
    r"\b(random|now|current_timestamp|current_time|current_date|localtime|localtimestamp|"
    r"clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|today|"
    r"gen_random_uuid|uuid|uuidv4|version|pg_backend_pid|inet_server_port|current_setting|"
    r"txid_current|pg_current_xact_id|pg_postmaster_start_time)\b",
    re.IGNORECASE,
)


# Statements whose effect `floe serve` keeps server-wide rather than per
# session (runtime limits, the function registry): a file that runs one
# successfully gets a fresh server afterwards, so later files do not inherit
# its changes.
_SERVER_WIDE = re.compile(
    r"^\s*(set\s+datafusion\.runtime\.|(create|drop)\s+(or\s+replace\s+)?function\b)",
    re.IGNORECASE,
)

_SEMANTIC_SETTING = re.compile(
    r"sql_parser|time_zone|ansi|default_schema|default_catalog|null_ordering", re.IGNORECASE
)


@dataclass
class Shape:
    head: str
    ordered: bool
    order_items: list[list[Tok]]
    limited: bool

    @property
    def read_only(self) -> bool:
        return self.head in READ_HEADS


def changes_state(shape: Shape, sql: str) -> bool:
    """Whether a statement's success or failure affects later answers
    (DataFusion's execution and optimizer settings do not; PostgreSQL
    takes every `datafusion.*` name as a placeholder setting)."""
    if shape.read_only:
        return False
    if shape.head in ("SET", "RESET") and re.search(r"\bdatafusion\.", sql, re.IGNORECASE):
        return bool(_SEMANTIC_SETTING.search(sql))
    return True


def sql_shape(sql: str) -> Shape:
    toks = [t for t in tokenize(sql) if not (t.kind == "op" and t.text == ";" and t.depth == 0)]
    head = next((t.text for t in toks if t.kind == "word"), "")
    top = [(k, t) for k, t in enumerate(toks) if t.depth == 0]
    order_at = None
    limited = False
    for idx, (k, t) in enumerate(top):
        if t.kind == "word" and t.text == "ORDER" and idx + 1 < len(top) and top[idx + 1][1].text == "BY":
            order_at = idx + 2
        if t.kind == "word" and t.text in ("LIMIT", "OFFSET", "FETCH"):
            limited = True
    items: list[list[Tok]] = []
    if order_at is not None:
        start_k = top[order_at][0] if order_at < len(top) else len(toks)
        cur: list[Tok] = []
        for t in toks[start_k:]:
            if t.depth == 0 and t.kind == "word" and t.text in END_OF_ORDER:
                break
            if t.depth == 0 and t.kind == "op" and t.text == ",":
                items.append(cur)
                cur = []
                continue
            cur.append(t)
        if cur:
            items.append(cur)
    return Shape(head=head, ordered=order_at is not None, order_items=items, limited=limited)


def order_key_columns(shape: Shape, names: list[str]) -> list[int] | None:
    """Output column indexes of the ORDER BY keys, or None when a key is an
    expression or does not name exactly one output column."""
    lowered = [n.lower() for n in names]
    cols = []
    for item in shape.order_items:
        toks = list(item)
        while toks and toks[-1].kind == "word" and toks[-1].text in ("ASC", "DESC", "FIRST", "LAST", "NULLS"):
            toks.pop()
        if len(toks) == 1 and toks[0].kind == "num" and toks[0].text.isdigit():
            pos = int(toks[0].text) - 1
            if not 0 <= pos < len(names):
                return None
            cols.append(pos)
            continue
        if not toks:
            return None
        last = toks[-1]
        if len(toks) not in (1, 3) or (len(toks) == 3 and toks[1].text != "."):
            return None
        if last.kind == "word":
            name = last.text.lower()
            hits = [k for k, n in enumerate(lowered) if n == name]
        elif last.kind == "qident":
            hits = [k for k, n in enumerate(names) if n == last.text]
        else:
            return None
        if len(hits) != 1:
            return None
        cols.append(hits[0])
    return cols


# ---------------------------------------------------------------------------
# Values: loading and comparison
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Unparsed:
    """A value psycopg could not load (e.g. infinity or BC timestamps)."""

    type_name: str
    text: str


@dataclass(frozen=True)
class Interval:
    months: int
    days: int
    micros: int


_INTERVAL = re.compile(
    r"^\s*(?:(?P<years>[-+]?\d+)\s+years?\s*)?(?:(?P<months>[-+]?\d+)\s+mons?\s*)?"
    r"(?:(?P<days>[-+]?\d+)\s+days?\s*)?"
    r"(?:(?P<sign>[-+])?(?P<h>\d+):(?P<m>\d+):(?P<s>\d+)(?:\.(?P<frac>\d{1,6}))?)?\s*$"
)


class IntervalLoader(psycopg.adapt.Loader):
    def load(self, data):
        text = bytes(data).decode()
        m = _INTERVAL.match(text)
        if not m or not text.strip():
            return Unparsed("interval", text)
        months = int(m["years"] or 0) * 12 + int(m["months"] or 0)
        micros = 0
        if m["h"] is not None:
            micros = ((int(m["h"]) * 60 + int(m["m"])) * 60 + int(m["s"])) * 1_000_000
            micros += int((m["frac"] or "0").ljust(6, "0"))
            if m["sign"] == "-":
                micros = -micros
        return Interval(months, int(m["days"] or 0), micros)


def _safe(base, type_name):
    class SafeLoader(base):
        def load(self, data):
            try:
                return super().load(data)
            except Exception:  # noqa: BLE001 - keep the text of values Python cannot hold
                return Unparsed(type_name, bytes(data).decode(errors="replace"))

    return SafeLoader


def configure_loaders(conn: psycopg.Connection) -> None:
    types = conn.adapters.types
    for name, base in (
        ("date", pg_datetime.DateLoader),
        ("time", pg_datetime.TimeLoader),
        ("timetz", pg_datetime.TimetzLoader),
        ("timestamp", pg_datetime.TimestampLoader),
        ("timestamptz", pg_datetime.TimestamptzLoader),
    ):
        conn.adapters.register_loader(types[name].oid, _safe(base, name))
    conn.adapters.register_loader(types["interval"].oid, IntervalLoader)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool)


def _is_nan(v) -> bool:
    return (isinstance(v, float) and math.isnan(v)) or (isinstance(v, decimal.Decimal) and v.is_nan())


def values_equal(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        if _is_nan(a) or _is_nan(b):
            return _is_nan(a) and _is_nan(b)
        if isinstance(a, float) or isinstance(b, float):
            fa, fb = float(a), float(b)
            if math.isinf(fa) or math.isinf(fb):
                return fa == fb
            return math.isclose(fa, fb, rel_tol=FLOAT_REL_TOL, abs_tol=0.0)
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        if isinstance(a, (dt.datetime, dt.date)) and isinstance(b, (dt.datetime, dt.date)):
            return False
        if not (isinstance(a, type(b)) or isinstance(b, type(a))):
            return False
    try:
        return bool(a == b)
    except TypeError:
        return False


def rows_equal(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))


def sort_key(v):
    if v is None:
        return (0,)
    if isinstance(v, bool):
        return (1, v)
    if _is_number(v):
        if _is_nan(v):
            return (2, 1, 0.0)
        try:
            return (2, 0, float(v))
        except (OverflowError, ValueError):
            return (2, 0, math.inf if v > 0 else -math.inf)
    if isinstance(v, str):
        return (3, v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return (4, bytes(v))
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            return (5, 1, v.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat())
        return (5, 0, v.isoformat())
    if isinstance(v, (list, tuple)):
        return (7, tuple(sort_key(x) for x in v))
    if isinstance(v, dict):
        return (8, json.dumps(v, sort_keys=True, default=str))
    return (9, type(v).__name__, repr(v))


def row_key(row: tuple):
    return tuple(sort_key(v) for v in row)


def multiset_equal(a: list[tuple], b: list[tuple]) -> bool:
    if len(a) != len(b):
        return False
    sa, sb = sorted(a, key=row_key), sorted(b, key=row_key)
    if all(rows_equal(x, y) for x, y in zip(sa, sb)):
        return True
    if len(a) > 3000:
        return False
    # Values equal within the float tolerance can sort apart: match greedily.
    remaining = list(sb)
    for row in sa:
        for k, other in enumerate(remaining):
            if rows_equal(row, other):
                del remaining[k]
                break
        else:
            return False
    return True


def compare_rows(shape: Shape, names: list[str], pg: list[tuple], fl: list[tuple]) -> tuple[bool, str]:
    """(equal, note) for two result sets of the same query."""
    if not shape.ordered:
        if multiset_equal(pg, fl):
            return True, ""
        if shape.limited and len(pg) == len(fl):
            return True, "unverified: LIMIT without ORDER BY"
        return False, ""
    if len(pg) == len(fl) and all(rows_equal(x, y) for x, y in zip(pg, fl)):
        return True, ""
    cols = order_key_columns(shape, names)
    if cols is None:
        if multiset_equal(pg, fl):
            return True, "unverified: order by expression"
        if shape.limited and len(pg) == len(fl):
            return True, "unverified: LIMIT with ORDER BY expression"
        return False, ""
    if len(pg) != len(fl):
        return False, ""
    pk = [tuple(r[c] for c in cols) for r in pg]
    fk = [tuple(r[c] for c in cols) for r in fl]
    if not all(rows_equal(x, y) for x, y in zip(pk, fk)):
        return False, "order differs"
    # Tie groups of PostgreSQL's order: rows within one may come in any order.
    groups = []
    start = 0
    for k in range(1, len(pk) + 1):
        if k == len(pk) or not rows_equal(pk[k], pk[start]):
            groups.append((start, k))
            start = k
    for g, (lo, hi) in enumerate(groups):
        if shape.limited and (g == 0 or g == len(groups) - 1):
            continue
        if not multiset_equal(pg[lo:hi], fl[lo:hi]):
            return False, ""
    return True, ""


# ---------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------


@dataclass
class Outcome:
    ok: bool
    error: str = ""
    names: list[str] | None = None
    rows: list[tuple] | None = None
    rowcount: int = -1
    truncated: bool = False
    timed_out: bool = False
    broken: bool = False


def _execute(conn: psycopg.Connection, sql: str) -> Outcome:
    try:
        cur = conn.cursor()
        cur.execute(sql)
        if cur.description is None:
            return Outcome(ok=True, rowcount=cur.rowcount)
        names = [d.name for d in cur.description]
        rows = cur.fetchmany(MAX_ROWS + 1)
        truncated = len(rows) > MAX_ROWS
        return Outcome(ok=True, names=names, rows=[tuple(r) for r in rows[:MAX_ROWS]],
                       truncated=truncated)
    except psycopg.Error as e:
        diag = getattr(e, "diag", None)
        state = getattr(diag, "sqlstate", None) if diag else None
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return Outcome(ok=False, error=f"[{state or type(e).__name__}] {msg}",
                       broken=conn.broken or conn.closed)
    except Exception as e:  # noqa: BLE001 - a client-side failure is an error too
        return Outcome(ok=False, error=f"[client] {type(e).__name__}: {e}",
                       broken=conn.broken or conn.closed)


def run_with_timeout(conn: psycopg.Connection, sql: str, timeout: float) -> Outcome:
    box: dict[str, Outcome] = {}
    worker = threading.Thread(target=lambda: box.setdefault("out", _execute(conn, sql)), daemon=True)
    worker.start()
    worker.join(timeout)
    if not worker.is_alive():
        return box["out"]
    try:
        conn.cancel_safe(timeout=2)
    except Exception:  # noqa: BLE001 - fall through to closing the socket
        pass
    worker.join(2)
    if worker.is_alive():
        try:
            sock = socket.socket(fileno=os.dup(conn.fileno()))
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        except OSError:
            pass
        worker.join(5)
    return Outcome(ok=False, error=f"[timeout] no answer within {timeout:.0f}s",
                   timed_out=True, broken=True)


class PgOracle:
    """PostgreSQL 15: one server, one database per corpus file."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.server = PostgresServer()
        self.server.start()
        self._lock = threading.Lock()
        self._locale = None

    def _create(self, admin, name: str) -> None:
        candidates = [self._locale] if self._locale else ["C.UTF-8", "C.utf8", "en_US.UTF-8", "C"]
        last = None
        for ctype in candidates:
            try:
                admin.execute(
                    f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                    f"LC_COLLATE 'C' LC_CTYPE '{ctype}'"
                )
                self._locale = ctype
                return
            except psycopg.Error as e:
                last = e
        raise last

    def open(self, name: str) -> psycopg.Connection:
        with self._lock, self.server.connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._create(admin, name)
        return self.connect(name)

    def connect(self, name: str) -> psycopg.Connection:
        conn = psycopg.connect(
            host="127.0.0.1", port=self.server.port, user="postgres",
            password=PASSWORD, dbname=name, autocommit=True,
            connect_timeout=10,
            options=f"-c statement_timeout={int(self.timeout * 1000)} -c TimeZone=UTC "
                    "-c DateStyle=ISO,MDY -c IntervalStyle=postgres -c lock_timeout=5000",
        )
        configure_loaders(conn)
        return conn

    def drop(self, name: str) -> None:
        with self._lock, self.server.connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.server.cleanup()


class FloeTarget:
    """One `floe serve` whose state is reset between corpus files."""

    SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "system")

    def __init__(self, floe_bin: Path, base: Path, name: str):
        self.floe_bin = floe_bin
        self.base = base
        self.name = name
        self.generation = 0
        self.server: FloeServer | None = None
        self.crashes: list[str] = []
        self._start_fresh()

    def _start_fresh(self) -> None:
        if self.server is not None and self.server.running:
            try:
                self.server.stop()
            except ServerError:
                pass
        self.generation += 1
        data = self.base / f"{self.name}-data{self.generation}"
        self.server = FloeServer(self.floe_bin, data, log_dir=self.base / "logs",
                                 name=f"{self.name}-{self.generation}", copy_dirs=[])
        self.server.start()
        with self.admin() as conn:
            self.baseline_tables = self._tables(conn)
            self.baseline_schemas = self._schemas(conn)

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.server.dsn, autocommit=True, prepare_threshold=None,
                               connect_timeout=10)

    def connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self.server.dsn, autocommit=True, prepare_threshold=None,
                               connect_timeout=10)
        configure_loaders(conn)
        return conn

    @property
    def alive(self) -> bool:
        return self.server is not None and self.server.running

    def recover(self, where: str) -> None:
        """Start a new server on a fresh data directory after a crash."""
        rc = self.server.proc.poll() if self.server and self.server.proc else None
        self.crashes.append(f"{where}: floe serve exited with code {rc}; "
                            f"logs in {self.server.log_dir if self.server else '?'}")
        self._start_fresh()

    def _tables(self, conn) -> set[tuple[str, str, str]]:
        rows = conn.execute(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables"
        ).fetchall()
        return {(s, t, ty) for s, t, ty in rows if s not in self.SYSTEM_SCHEMAS}

    def _schemas(self, conn) -> set[str]:
        rows = conn.execute("SELECT schema_name FROM information_schema.schemata").fetchall()
        return {r[0] for r in rows}

    def reset(self, restart: bool = False) -> None:
        """Drop every table, view and schema created since the start, or
        start a new server on a fresh data directory."""
        if restart or not self.alive:
            self._start_fresh()
            return
        try:
            with self.admin() as conn:
                for schema, table, ttype in sorted(self._tables(conn) - self.baseline_tables):
                    ident = f'"{schema}"."{table}"'
                    kinds = ("VIEW", "TABLE") if "VIEW" in ttype.upper() else ("TABLE", "VIEW")
                    for kind in kinds:
                        try:
                            conn.execute(f"DROP {kind} IF EXISTS {ident}")
                            break
                        except psycopg.Error:
                            continue
                for schema in sorted(self._schemas(conn) - self.baseline_schemas):
                    try:
                        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                    except psycopg.Error:
                        pass
                leftover = (self._tables(conn) - self.baseline_tables,
                            self._schemas(conn) - self.baseline_schemas)
            if any(leftover):
                self._start_fresh()
        except (psycopg.Error, OSError):
            self._start_fresh()

    def close(self) -> None:
        if self.server is not None and self.server.running:
            try:
                self.server.stop()
            except ServerError:
                pass


# ---------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------


def _trunc_value(v):
    if isinstance(v, str):
        return v if len(v) <= TRUNCATE_VALUE else v[:TRUNCATE_VALUE] + f"...(+{len(v) - TRUNCATE_VALUE})"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return _trunc_value("\\x" + bytes(v).hex())
    if v is None or isinstance(v, (bool, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, (list, tuple)):
        return [_trunc_value(x) for x in v[:TRUNCATE_ROWS]]
    if isinstance(v, dict):
        return _trunc_value(json.dumps(v, default=str))
    return _trunc_value(f"{type(v).__name__}:{v}")


def describe_outcome(o: Outcome) -> dict:
    if not o.ok:
        return {"error": o.error[:TRUNCATE_VALUE * 2]}
    if o.rows is None:
        return {"rowcount": o.rowcount}
    rows = o.rows
    out = {"columns": o.names, "row_count": len(rows),
           "rows": [[_trunc_value(v) for v in r] for r in rows[:TRUNCATE_ROWS]]}
    if len(rows) > TRUNCATE_ROWS or o.truncated:
        out["rows_truncated"] = True
    return out


_INFORMATION_SCHEMA = re.compile(r"\binformation_schema\s*\.", re.IGNORECASE)
# Schemas each server fills with its own system catalog.
_SYSTEM_SCHEMAS = {"information_schema", "pg_catalog", "pg_toast", "system"}
_SCHEMA_COLUMNS = {"table_schema", "schema_name", "constraint_schema", "specific_schema",
                   "routine_schema"}


def _catalog_column(name: str) -> bool:
    return name == "catalog_name" or name.endswith("_catalog")


def user_catalog_rows(o: Outcome) -> Outcome:
    """An `information_schema` answer as far as it describes the user's
    objects: rows of the system schemas (each server lists its own system
    catalog: PostgreSQL's pg_catalog, Floe's) are left out, and the catalog
    columns, which hold the database's name (the test database's on
    PostgreSQL, `floe` on Floe), read `<database>`. Columns and every
    other value stay as answered."""
    if not o.ok or o.rows is None:
        return o
    schema_cols = [i for i, n in enumerate(o.names) if n in _SCHEMA_COLUMNS]
    catalog_cols = {i for i, n in enumerate(o.names) if _catalog_column(n)}
    rows = []
    for row in o.rows:
        if any(row[i] in _SYSTEM_SCHEMAS for i in schema_cols):
            continue
        rows.append(tuple("<database>" if i in catalog_cols and v is not None else v
                          for i, v in enumerate(row)))
    return Outcome(ok=True, names=o.names, rows=rows, rowcount=len(rows),
                   truncated=o.truncated)


_DATAFUSION_SETTING = re.compile(r"^\s*(SET|RESET|SHOW)\s+datafusion\.", re.IGNORECASE)


_SHOW_ALL = re.compile(r"\s*SHOW\s+ALL\s*;?\s*$", re.IGNORECASE)


def classify(rec: Record, shape: Shape, pg: Outcome, fl: Outcome) -> tuple[str, str]:
    if not pg.ok:
        return "pg_error", ""
    if shape.head == "EXPLAIN":
        return "skipped", "EXPLAIN"
    if _DATAFUSION_SETTING.search(rec.sql):
        return "skipped", "DataFusion setting (a placeholder to PostgreSQL)"
    if not fl.ok:
        return "floe_error", ""
    if rec.kind == "query" and _VOLATILE.search(rec.sql):
        # Whether two runs of random() or now() agree is chance; counting
        # the agreements would make the match rate vary from run to run.
        return "skipped", "volatile function"
    if rec.kind == "query" and _SHOW_ALL.match(rec.sql):
        # Each server lists its own settings: only the columns compare
        # (tests/python/test_show_all.py checks the names and values Floe
        # shares with PostgreSQL).
        if pg.names != fl.names:
            return "WRONG", "SHOW ALL columns differ"
        return "skipped", "SHOW ALL (each server lists its own settings)"
    if rec.kind == "statement":
        return "match", ""
    if (pg.rows is None) != (fl.rows is None):
        verdict, note = "WRONG", "one side returned rows, the other a command status"
    elif pg.rows is None:
        if pg.rowcount == fl.rowcount or pg.rowcount < 0:
            return "match", ""
        verdict, note = "WRONG", "affected row counts differ"
    elif len(pg.names) != len(fl.names):
        verdict, note = "WRONG", "column counts differ"
    elif pg.truncated or fl.truncated:
        return "match", f"unverified: more than {MAX_ROWS} rows"
    else:
        equal, note = compare_rows(shape, pg.names, pg.rows, fl.rows)
        if equal:
            return "match", note
        verdict = "WRONG"
    return verdict, note


@dataclass
class FileResult:
    name: str
    counts: Counter = field(default_factory=Counter)
    findings: list[dict] = field(default_factory=list)
    names_differ: list[dict] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)
    slowest: list[tuple[float, str]] = field(default_factory=list)
    restarted: bool = False
    seconds: float = 0.0
    error: str = ""


def run_file(path: Path, root: Path, db_name: str, oracle: PgOracle, floe: FloeTarget,
             timeout: float) -> FileResult:
    rel = path.relative_to(root).as_posix()
    result = FileResult(rel)
    started = time.monotonic()
    try:
        items = parse_slt(path.resolve(), root.resolve())
    except (ValueError, OSError, UnicodeDecodeError) as e:
        result.error = f"cannot parse: {e}"
        return result
    if not any(isinstance(item, Record) for item in items):
        return result
    pg_conn = oracle.open(db_name)
    fl_conn = floe.connect()
    diverged_at = None
    server_wide_change = False
    try:
        for item in items:
            if isinstance(item, Halt) or STOP.is_set():
                break
            rec: Record = item
            if not rec.runnable:
                result.counts["not_run"] += 1
                continue
            shape = sql_shape(rec.sql)
            pg = run_with_timeout(pg_conn, rec.sql, timeout + 5)
            if pg.broken:
                pg_conn.close()
                pg_conn = oracle.connect(db_name)
                diverged_at = diverged_at or rec.key
            fl_started = time.monotonic()
            fl = run_with_timeout(fl_conn, rec.sql, timeout)
            result.slowest.append((time.monotonic() - fl_started, rec.key))
            result.slowest = sorted(result.slowest, reverse=True)[:10]
            if fl.broken or fl_conn.closed:
                try:
                    fl_conn.close()
                except Exception:  # noqa: BLE001
                    pass
                if not floe.alive:
                    floe.recover(rec.key)
                    fl.error += " (floe serve exited)"
                # A new session has lost the old one's settings.
                diverged_at = diverged_at or rec.key
                fl_conn = floe.connect()
            if fl.ok and _SERVER_WIDE.search(rec.sql):
                server_wide_change = True
            if rec.kind == "query" and _INFORMATION_SCHEMA.search(rec.sql):
                pg, fl = user_catalog_rows(pg), user_catalog_rows(fl)
            verdict, note = classify(rec, shape, pg, fl)
            result.counts[verdict] += 1
            if verdict == "match" and pg.names is not None and fl.names is not None \
                    and pg.names != fl.names:
                result.names_differ.append({
                    "key": rec.key, "sql": rec.sql[:TRUNCATE_SQL],
                    "postgres": pg.names, "floe": fl.names,
                })
            if note:
                result.notes[note] += 1
            if diverged_at is None and (
                (changes_state(shape, rec.sql) and pg.ok != fl.ok)
                or (fl.ok and shape.head in ("SET", "RESET") and _SEMANTIC_SETTING.search(rec.sql))
                # A setting PostgreSQL took and Floe refused (a session time zone).
                or (pg.ok and not fl.ok and shape.head in ("SET", "RESET"))
            ):
                diverged_at = rec.key
            if verdict in ("WRONG", "floe_error"):
                finding = {
                    "key": rec.key, "class": verdict, "kind": rec.kind,
                    "sql": rec.sql[:TRUNCATE_SQL],
                    "postgres": describe_outcome(pg), "floe": describe_outcome(fl),
                }
                if note:
                    finding["note"] = note
                if diverged_at and diverged_at != rec.key:
                    finding["after_divergence_at"] = diverged_at
                    if verdict == "WRONG":
                        result.notes["WRONG after divergence"] += 1
                result.findings.append(finding)
    finally:
        for conn in (pg_conn, fl_conn):
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
        oracle.drop(db_name)
        floe.reset(restart=server_wide_change)
        if server_wide_change:
            result.restarted = True
        result.seconds = time.monotonic() - started
    return result


def applicable(counts: Counter) -> int:
    return counts["match"] + counts["floe_error"] + counts["WRONG"]


def summary_line(name: str, counts: Counter, seconds: float) -> str:
    app = applicable(counts)
    rate = 100.0 * counts["match"] / app if app else 100.0
    return (f"{name}: applicable={app} match={counts['match']} floe_error={counts['floe_error']} "
            f"WRONG={counts['WRONG']} pg_error={counts['pg_error']} skipped={counts['skipped']} "
            f"not_run={counts['not_run']} match_rate={rate:.2f}% ({seconds:.1f}s)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--floe-bin", default=str(default_floe_bin()),
                    help="floe binary (default $FLOE_BIN or the release build)")
    ap.add_argument("--corpus", help="test_files directory to use instead of fetching the crate")
    ap.add_argument("--cargo", default=os.environ.get("CARGO", "cargo"),
                    help="cargo, to fetch the corpus crate")
    ap.add_argument("--files", action="append", default=[],
                    help="glob or substring of a path under test_files (repeatable, comma-separated)")
    ap.add_argument("--limit-files", type=int, help="run only the first N matching files")
    ap.add_argument("--report", help="write the JSON report here")
    ap.add_argument("--jobs", type=int, default=1, help="files run in parallel, one floe serve each")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per statement")
    args = ap.parse_args(argv)

    floe_bin = Path(args.floe_bin).expanduser()
    if not os.access(floe_bin, os.X_OK):
        print(f"floe binary not found at {floe_bin}", file=sys.stderr)
        return 2
    root = Path(args.corpus) if args.corpus else fetch_corpus(args.cargo)
    patterns = [p for arg in args.files for p in arg.split(",") if p]
    files = select_files(root, patterns, args.limit_files)
    if not files:
        print("no corpus file matches", file=sys.stderr)
        return 2
    print(f"corpus: {root} ({len(files)} files)", flush=True)

    def on_signal(signum, frame):
        STOP.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="floe-pg-diff-"))
    oracle = PgOracle(args.timeout)
    targets: queue.Queue[FloeTarget] = queue.Queue()
    all_targets = []
    results: list[FileResult] = []
    print_lock = threading.Lock()
    try:
        for j in range(max(1, args.jobs)):
            t = FloeTarget(floe_bin, base, f"floe{j}")
            all_targets.append(t)
            targets.put(t)

        def work(index: int, path: Path) -> FileResult | None:
            if STOP.is_set():
                return None
            target = targets.get()
            try:
                res = run_file(path, root, f"slt_{index}", oracle, target, args.timeout)
            except Exception as e:  # noqa: BLE001 - report the file, go on with the next
                res = FileResult(path.relative_to(root).as_posix(),
                                 error=f"runner failed: {type(e).__name__}: {e}")
                target.reset(restart=True)
            finally:
                targets.put(target)
            with print_lock:
                line = summary_line(res.name, res.counts, res.seconds)
                print(line + (f" ERROR {res.error}" if res.error else ""), flush=True)
            return res

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(work, k, p) for k, p in enumerate(files)]
            for fut in futures:
                res = fut.result()
                if res is not None:
                    results.append(res)
    finally:
        for t in all_targets:
            t.close()
        oracle.close()
    seconds = time.monotonic() - started

    total = Counter()
    notes = Counter()
    for r in results:
        total.update(r.counts)
        notes.update(r.notes)
    crashes = [c for t in all_targets for c in t.crashes]
    print(summary_line("TOTAL", total, seconds), flush=True)
    if STOP.is_set():
        print("interrupted: the totals cover the records run so far", flush=True)
    if crashes:
        print(f"floe serve exited unexpectedly {len(crashes)} time(s):", *crashes, sep="\n  ")

    if args.report:
        app = applicable(total)
        report = {
            "corpus": f"{CORPUS_CRATE} {CORPUS_VERSION}",
            "files": len(results),
            "seconds": round(seconds, 1),
            "interrupted": STOP.is_set(),
            "totals": {**{c: total[c] for c in CLASSES}, "applicable": app,
                       "match_rate": (total["match"] / app) if app else 1.0},
            "notes": dict(notes),
            "floe_crashes": crashes,
            "file_errors": {r.name: r.error for r in results if r.error},
            "restarted_after": [r.name for r in results if r.restarted],
            "slowest_floe_records": [
                {"key": key, "seconds": round(sec, 2)}
                for sec, key in sorted((x for r in results for x in r.slowest), reverse=True)[:20]
            ],
            "per_file": {r.name: {**{c: r.counts[c] for c in CLASSES},
                                  "seconds": round(r.seconds, 2), "error": r.error}
                         for r in results},
            "findings": [f for r in results for f in r.findings],
            "names_differ": [f for r in results for f in r.names_differ],
        }
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=1, default=str))
    if crashes:
        print(f"floe serve logs kept in {base / 'logs'}", flush=True)
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 130 if STOP.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
