"""Table maintenance (issue 3): VACUUM and background maintenance through a
running `floe serve`: compaction of small files (sorted by the table's sort
order, folding position deletes), snapshot expiry, orphan-file cleanup and
bounded metadata history. Checked with psycopg, psql, HTTP, PyIceberg
reading the data directory, and pyarrow reading the Parquet files."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from floe_helpers import catalog_for, describe

BACKGROUND_TIMEOUT = 60.0  # seconds to wait for background compaction
TWO_HOURS = 2 * 3600


def local_path(uri: str) -> Path:
    """A local path from a `file://` URI (or a plain path)."""
    if uri.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlparse(uri).path))
    return Path(uri)


INFO_COLUMNS = [
    "rows",
    "files",
    "delete_files",
    "snapshots",
    "last_error",
    "buffered_rows",
    "snapshot_id",
    "bytes",
    "location",
]


def info(srv, table: str, schema: str = "public") -> dict:
    """The table's row of system.tables, as a dict."""
    rows = srv.query(
        f"SELECT {', '.join(INFO_COLUMNS)} FROM system.tables "
        f"WHERE table_schema = '{schema}' AND table_name = '{table}'"
    )
    assert len(rows) == 1, f"system.tables rows for {schema}.{table}: {rows}"
    return dict(zip(INFO_COLUMNS, rows[0]))


def table_dir(srv, table: str, schema: str = "public") -> Path:
    path = local_path(info(srv, table, schema)["location"])
    assert path.is_dir(), f"table location {path} is not a directory"
    return path


def snapshots(srv, table: str, schema: str = "public") -> list[dict]:
    cols = ["snapshot_id", "parent_id", "operation", "added_rows", "total_rows", "total_files"]
    rows = srv.query(
        f"SELECT {', '.join(cols)} FROM system.snapshots "
        f"WHERE table_schema = '{schema}' AND table_name = '{table}'"
    )
    return [dict(zip(cols, r)) for r in rows]


def parquet_files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*.parquet") if p.is_file())


def values_sql(rows) -> str:
    def lit(v):
        if v is None:
            return "NULL"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        return str(v)

    return ", ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in rows)


def insert_rounds(srv, table: str, chunks) -> None:
    """One INSERT + CHECKPOINT per chunk: each round commits one new data
    file (in an unpartitioned table) and one snapshot."""
    with srv.connect() as conn:
        for chunk in chunks:
            conn.execute(f"INSERT INTO {table} VALUES {values_sql(chunk)}")
            srv.checkpoint()


def vacuum(srv, target: str = "") -> None:
    with srv.connect() as conn:
        cur = conn.execute(f"VACUUM {target}".strip())
        assert cur.statusmessage == "VACUUM", cur.statusmessage


def pyiceberg_rows(tbl, cols) -> list[tuple]:
    return sorted(tuple(r[c] for c in cols) for r in tbl.scan().to_arrow().to_pylist())


def test_issue_3_background_compaction_merges_small_files(floe_server):
    """12 small files in a table that compacts from 2 files on: background
    maintenance alone (no VACUUM) merges them, without changing a row."""
    srv = floe_server
    srv.query(
        "CREATE TABLE bg (id BIGINT NOT NULL, grp TEXT, amount BIGINT) "
        """WITH ("floe.compaction.min-input-files" = '2')"""
    )
    rounds, per_round = 12, 200
    chunks = [
        [(r * per_round + i, f"g{i % 3}", (r * per_round + i) * 7 % 1000) for i in range(per_round)]
        for r in range(rounds)
    ]
    expected = sorted(row for chunk in chunks for row in chunk)
    insert_rounds(srv, "bg", chunks)
    appends = [s for s in snapshots(srv, "bg") if s["operation"] == "append"]
    assert len(appends) == rounds, f"each CHECKPOINT round commits one append snapshot: {appends}"

    deadline = time.monotonic() + BACKGROUND_TIMEOUT
    while True:
        now = info(srv, "bg")
        if now["files"] <= 3:
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"background compaction did not merge {rounds} small files within "
                f"{BACKGROUND_TIMEOUT:.0f}s: {now}"
            )
        time.sleep(0.5)

    # Compaction never changes the rows.
    assert srv.query("SELECT count(*), sum(amount), sum(id) FROM bg") == [
        (len(expected), sum(r[2] for r in expected), sum(r[0] for r in expected))
    ]
    assert srv.query("SELECT id, grp, amount FROM bg ORDER BY id") == expected
    now = info(srv, "bg")
    assert now["rows"] == len(expected) and now["buffered_rows"] == 0, now
    assert now["delete_files"] == 0 and now["last_error"] is None, now

    # The merge is an Iceberg `replace` snapshot, whose row count is its parent's.
    snaps = snapshots(srv, "bg")
    by_id = {s["snapshot_id"]: s for s in snaps}
    replaces = [s for s in snaps if s["operation"] == "replace"]
    assert replaces, f"no replace snapshot after background compaction: {snaps}"
    for s in replaces:
        parent = by_id.get(s["parent_id"])
        assert parent is not None, f"replace snapshot {s} has no parent in {snaps}"
        assert s["total_rows"] == parent["total_rows"], (s, parent)
    assert by_id[now["snapshot_id"]]["total_rows"] == len(expected)

    # PyIceberg reads the same rows from the (few) compacted files. Background
    # compaction may still merge further meanwhile; rows never change.
    tbl = catalog_for(srv.data_dir).load_table("public.bg")
    assert pyiceberg_rows(tbl, ["id", "grp", "amount"]) == expected
    tasks = list(tbl.scan().plan_files())
    assert len(tasks) <= 3, [t.file.file_path for t in tasks]
    assert all(not t.delete_files for t in tasks)


def test_issue_3_vacuum_writes_one_file_sorted_by_the_sort_order(floe_server):
    """Three files, each sorted on its own, interleave in key order; VACUUM
    merges them into one file sorted by (grp, k), nulls first."""
    srv = floe_server
    srv.query("CREATE TABLE srt (k BIGINT NOT NULL, grp TEXT, payload TEXT) ORDER BY (grp, k)")
    rng = random.Random(7)
    keys = list(range(900))
    rng.shuffle(keys)
    groups = [None, "a", "b", "c"]
    rows = [(k, groups[k % 4], f"p{k:04d}") for k in keys]
    chunks = [rows[0:300], rows[300:600], rows[600:900]]
    insert_rounds(srv, "srt", chunks)
    before = info(srv, "srt")
    assert before["files"] == 3, before  # below the default background threshold of 4

    vacuum(srv, "public.srt")

    after = info(srv, "srt")
    assert after["files"] == 1 and after["delete_files"] == 0, after
    assert after["rows"] == 900 and after["last_error"] is None, after
    assert srv.query("SELECT count(*), sum(k) FROM srt") == [(900, sum(range(900)))]
    expected_order = sorted(rows, key=lambda r: (r[1] is not None, r[1] or "", r[0]))

    tbl = catalog_for(srv.data_dir).load_table("public.srt")
    tasks = list(tbl.scan().plan_files())
    assert len(tasks) == 1, [t.file.file_path for t in tasks]
    assert not tasks[0].delete_files
    path = local_path(tasks[0].file.file_path)
    in_file = pq.read_table(path, columns=["k", "grp", "payload"]).to_pylist()
    got = [(r["k"], r["grp"], r["payload"]) for r in in_file]
    assert got == expected_order, f"{path} is not sorted by (grp, k): first rows {got[:10]}"
    # Floe's own positional view agrees with the file.
    positional = srv.query("SELECT k, grp, payload FROM row_positions('public.srt') ORDER BY _pos")
    assert positional == expected_order


def test_issue_3_vacuum_folds_position_deletes(floe_server):
    srv = floe_server
    srv.query("CREATE TABLE del (id BIGINT NOT NULL, v BIGINT)")
    chunks = [[(i, i * 3) for i in range(r * 500, (r + 1) * 500)] for r in range(2)]
    insert_rounds(srv, "del", chunks)
    with srv.connect() as conn:
        cur = conn.execute("DELETE FROM del WHERE id % 7 = 0")
        assert cur.rowcount == len([i for i in range(1000) if i % 7 == 0])
    expected = [(i, i * 3) for i in range(1000) if i % 7 != 0]
    before = info(srv, "del")
    assert before["delete_files"] >= 1 and before["rows"] == len(expected), before

    vacuum(srv, "del")

    after = info(srv, "del")
    assert after["delete_files"] == 0, after
    assert after["files"] == 1 and after["rows"] == len(expected), after
    assert after["last_error"] is None, after
    assert srv.query("SELECT count(*), sum(v) FROM del") == [(len(expected), sum(v for _, v in expected))]
    assert srv.query("SELECT id, v FROM del ORDER BY id") == expected
    current = {s["snapshot_id"]: s for s in snapshots(srv, "del")}[after["snapshot_id"]]
    assert current["total_rows"] == len(expected), current

    tbl = catalog_for(srv.data_dir).load_table("public.del")
    assert pyiceberg_rows(tbl, ["id", "v"]) == expected
    tasks = list(tbl.scan().plan_files())
    assert len(tasks) == 1 and not tasks[0].delete_files, tasks
    # The rewritten file holds only live rows.
    assert pq.read_metadata(local_path(tasks[0].file.file_path)).num_rows == len(expected)


def test_issue_3_vacuum_compacts_within_each_partition(floe_server):
    srv = floe_server
    srv.query("CREATE TABLE part (id BIGINT NOT NULL, kind TEXT) PARTITION BY (kind)")
    chunks = [[(i, "even" if i % 2 == 0 else "odd") for i in range(r * 100, (r + 1) * 100)] for r in range(3)]
    insert_rounds(srv, "part", chunks)  # 3 rounds x 2 partitions = 6 files

    vacuum(srv, "part")

    after = info(srv, "part")
    assert after["files"] == 2 and after["rows"] == 300, after
    expected = sorted(row for chunk in chunks for row in chunk)
    assert srv.query("SELECT id, kind FROM part ORDER BY id") == expected
    tbl = catalog_for(srv.data_dir).load_table("public.part")
    tasks = list(tbl.scan().plan_files())
    assert sorted(t.file.partition[0] for t in tasks) == ["even", "odd"]
    assert pyiceberg_rows(tbl, ["id", "kind"]) == expected


def test_issue_3_vacuum_expires_snapshots_and_their_files(floe_server):
    srv = floe_server
    srv.query(
        "CREATE TABLE exp (id BIGINT NOT NULL, v TEXT) WITH ("
        """"history.expire.max-snapshot-age-ms" = '0', "history.expire.min-snapshots-to-keep" = '1')"""
    )
    with srv.connect() as conn:
        conn.execute(f"INSERT INTO exp VALUES {values_sql([(i, 'v') for i in range(100)])}")
    srv.checkpoint()
    first = info(srv, "exp")["snapshot_id"]
    assert first is not None
    assert srv.query(f"SELECT count(*) FROM at_snapshot('public.exp', {first})") == [(100,)]
    insert_rounds(srv, "exp", [[(i, "w") for i in range(r * 100, (r + 1) * 100)] for r in range(1, 4)])
    srv.query("DELETE FROM exp WHERE id < 50")
    expected = 350

    vacuum(srv, "exp")

    after = info(srv, "exp")
    snaps = snapshots(srv, "exp")
    assert len(snaps) == 1, snaps
    assert snaps[0]["snapshot_id"] == after["snapshot_id"]
    assert after["snapshots"] == 1 and after["last_error"] is None, after
    assert after["rows"] == expected and after["files"] == 1 and after["delete_files"] == 0, after
    assert srv.query("SELECT count(*) FROM exp") == [(expected,)]
    # The expired snapshot is gone for time travel; the current one reads.
    with pytest.raises(psycopg.Error):
        srv.query(f"SELECT count(*) FROM at_snapshot('public.exp', {first})")
    assert srv.query(f"SELECT count(*) FROM at_snapshot('public.exp', {after['snapshot_id']})") == [
        (expected,)
    ]
    # Files only the expired snapshots used are deleted from disk.
    on_disk = parquet_files_under(table_dir(srv, "exp") / "data")
    assert len(on_disk) == after["files"] + after["delete_files"], [str(p) for p in on_disk]

    tbl = catalog_for(srv.data_dir).load_table("public.exp")
    assert [s.snapshot_id for s in tbl.snapshots()] == [after["snapshot_id"]]
    assert tbl.scan().to_arrow().num_rows == expected


def test_issue_3_vacuum_deletes_old_orphan_files_only(floe_server):
    srv = floe_server
    srv.query("CREATE TABLE orph (id BIGINT NOT NULL, s TEXT)")
    insert_rounds(srv, "orph", [[(i, f"s{i}") for i in range(50)]])
    loc = table_dir(srv, "orph")
    live = [local_path(t.file.file_path) for t in catalog_for(srv.data_dir).load_table("public.orph").scan().plan_files()]
    assert len(live) == 1 and live[0].is_file(), live

    # Every file the table uses looks old: age alone must not get a file deleted.
    old = time.time() - TWO_HOURS
    for p in loc.rglob("*"):
        if p.is_file():
            os.utime(p, (old, old))
    old_data = loc / "data" / "orphan-old-0001.parquet"
    old_meta = loc / "metadata" / "orphan-old-0002.avro"
    fresh_data = loc / "data" / "orphan-fresh-0003.parquet"
    for p in (old_data, old_meta, fresh_data):
        p.write_bytes(b"left over by a failed write, not a parquet file")
    for p in (old_data, old_meta):
        os.utime(p, (old, old))

    vacuum(srv, "orph")

    assert not old_data.exists(), "an orphan file older than floe.orphan.min-age-ms was kept"
    assert not old_meta.exists(), "an old orphan file under metadata/ was kept"
    assert fresh_data.exists(), "an orphan file younger than floe.orphan.min-age-ms was deleted"
    assert all(p.is_file() for p in live), "a live data file was deleted"
    after = info(srv, "orph")
    assert after["rows"] == 50 and after["last_error"] is None, after
    assert srv.query("SELECT count(*), sum(id) FROM orph") == [(50, sum(range(50)))]
    tbl = catalog_for(srv.data_dir).load_table("public.orph")
    assert pyiceberg_rows(tbl, ["id", "s"]) == [(i, f"s{i}") for i in range(50)]
    # ... and after a restart.
    srv.restart()
    assert srv.query("SELECT count(*), sum(id) FROM orph") == [(50, sum(range(50)))]


def test_issue_3_old_metadata_files_are_bounded(floe_server):
    srv = floe_server
    srv.query(
        """CREATE TABLE meta (id BIGINT NOT NULL) WITH ("write.metadata.previous-versions-max" = '3')"""
    )
    insert_rounds(srv, "meta", [[(i,) for i in range(r * 10, (r + 1) * 10)] for r in range(10)])

    vacuum(srv, "meta")

    meta_dir = table_dir(srv, "meta") / "metadata"
    jsons = sorted(meta_dir.glob("*.metadata.json"))
    assert len(jsons) <= 5, [p.name for p in jsons]
    tbl = catalog_for(srv.data_dir).load_table("public.meta")
    assert tbl.scan().to_arrow().num_rows == 100
    # The metadata log is trimmed along with the files it names.
    log = tbl.metadata.metadata_log
    assert len(log) <= 3, log
    for entry in log:
        assert local_path(entry.metadata_file).is_file(), f"metadata log names a deleted file: {entry}"
    assert srv.query("SELECT count(*), sum(id) FROM meta") == [(100, sum(range(100)))]
    srv.restart()
    assert srv.query("SELECT count(*), sum(id) FROM meta") == [(100, sum(range(100)))]


def test_issue_3_vacuum_over_pg_wire_psql_and_http(floe_server):
    srv = floe_server
    srv.query("CREATE SCHEMA ops")
    srv.query("CREATE TABLE a (id BIGINT NOT NULL)")
    srv.query("CREATE TABLE ops.b (id BIGINT NOT NULL)")
    srv.query("CREATE TABLE empty (id BIGINT)")  # VACUUM of a table with no snapshot is fine
    chunks = [[(i,) for i in range(r * 10, (r + 1) * 10)] for r in range(3)]
    insert_rounds(srv, "a", chunks)
    insert_rounds(srv, "ops.b", chunks)
    srv.query("INSERT INTO a VALUES (30), (31)")  # buffered: VACUUM flushes it first
    assert info(srv, "a")["buffered_rows"] == 2

    # psycopg, one table, unqualified: only that table changes.
    with srv.connect() as conn:
        cur = conn.execute("VACUUM a")
        assert cur.statusmessage == "VACUUM"
    a = info(srv, "a")
    assert (a["files"], a["buffered_rows"], a["rows"]) == (1, 0, 32), a
    assert info(srv, "b", "ops")["files"] == 3
    # The flush was a commit: PyIceberg sees the rows without a CHECKPOINT.
    assert catalog_for(srv.data_dir).load_table("public.a").scan().to_arrow().num_rows == 32

    # psql, schema-qualified.
    psql = shutil.which("psql")
    if psql is None:
        pytest.fail("psql not found on PATH (install postgresql-client)", pytrace=False)
    proc = subprocess.run(
        [psql, "-h", "127.0.0.1", "-p", str(srv.pg_port), "-U", "floe", "-d", "floe",
         "-X", "-w", "-v", "ON_ERROR_STOP=1", "-c", "VACUUM ops.b"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PGCONNECT_TIMEOUT="10", PAGER="", PSQL_PAGER=""),
    )
    assert proc.returncode == 0, describe(proc)
    assert "VACUUM" in proc.stdout, describe(proc)
    assert info(srv, "b", "ops")["files"] == 1

    # HTTP, every table.
    srv.query("INSERT INTO ops.b VALUES (100)")
    srv.checkpoint()
    assert info(srv, "b", "ops")["files"] == 2
    r = srv.sql_http("VACUUM")
    assert r.status == 200, r.body
    assert r.json()["command"] == "VACUUM", r.body
    b = info(srv, "b", "ops")
    assert (b["files"], b["rows"], b["last_error"]) == (1, 31, None), b
    assert srv.query("SELECT count(*), sum(id) FROM ops.b") == [(31, sum(range(30)) + 100)]
    assert srv.query("SELECT count(*), sum(id) FROM a") == [(32, sum(range(32)))]
    assert info(srv, "empty")["rows"] == 0

    # Unknown tables: 42P01 on both interfaces.
    for target in ("nosuch.missing", "public.nosuch", "no_such_table"):
        with pytest.raises(psycopg.Error) as err:
            srv.query(f"VACUUM {target}")
        assert err.value.sqlstate == "42P01", (target, err.value)
        r = srv.sql_http(f"VACUUM {target}")
        assert 400 <= r.status < 500, (target, r.status, r.body)
        assert r.json()["error"]["code"] == "42P01", (target, r.body)
