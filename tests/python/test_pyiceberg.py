"""Tables written by Floe are readable with PyIceberg through the SQL catalog
in the data directory."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import EqualTo, GreaterThanOrEqual
from pyiceberg.transforms import BucketTransform, DayTransform
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    LongType,
    StringType,
    TimestampType,
)
from pyiceberg.utils.datetime import datetime_to_micros

from floe_helpers import iceberg_catalog, run_in_threads

COLS = ["id", "name", "score", "amount", "d", "ts", "flag"]

ROWS = [
    (1, "alpha", 1.5, Decimal("10.25"), date(2024, 1, 1), datetime(2024, 1, 1, 8, 30, 0), True),
    (
        2,
        "beta",
        -0.25,
        Decimal("-3.10"),
        date(2023, 12, 31),
        datetime(2023, 12, 31, 23, 59, 59, 999999),
        False,
    ),
    (3, None, None, None, None, None, None),
    (
        4,
        "δέλτα",
        1e10,
        Decimal("99999999.99"),
        date(1970, 1, 1),
        datetime(1970, 1, 1, 0, 0, 0),
        True,
    ),
    (5, "", 0.0, Decimal("0.00"), date(2100, 6, 15), datetime(2100, 6, 15, 12, 0, 0, 1), False),
]


def arrow_rows(arrow_table, cols) -> list[tuple]:
    return sorted(
        (tuple(r[c] for c in cols) for r in arrow_table.to_pylist()),
        key=lambda r: r[0],
    )


@pytest.fixture
def typed_table(floe_server):
    with floe_server.connect() as conn:
        conn.execute(
            "CREATE TABLE t (id BIGINT, name TEXT, score DOUBLE PRECISION, amount DECIMAL(10,2), "
            "d DATE, ts TIMESTAMP, flag BOOLEAN)"
        )
        cur = conn.cursor()
        # two commits: small inserts are buffered until CHECKPOINT
        cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s, %s)", ROWS[:2])
        floe_server.checkpoint()
        cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s, %s)", ROWS[2:])
        floe_server.checkpoint()
    return floe_server


def test_pyiceberg_reads_rows_written_by_floe(typed_table):
    srv = typed_table
    floe_rows = srv.query(f"SELECT {', '.join(COLS)} FROM t ORDER BY id")
    assert floe_rows == ROWS

    catalog = iceberg_catalog(srv)
    tbl = catalog.load_table("public.t")
    got = arrow_rows(tbl.scan().to_arrow(), COLS)
    assert got == sorted(floe_rows)


def test_pyiceberg_schema_types(typed_table):
    tbl = iceberg_catalog(typed_table).load_table("public.t")
    fields = {f.name: f.field_type for f in tbl.schema().fields}
    assert [f.name for f in tbl.schema().fields] == COLS
    assert fields["id"] == LongType()
    assert fields["name"] == StringType()
    assert fields["score"] == DoubleType()
    assert fields["amount"] == DecimalType(10, 2)
    assert fields["d"] == DateType()
    assert fields["ts"] == TimestampType()
    assert fields["flag"] == BooleanType()


def test_snapshots_match_system_snapshots(typed_table):
    srv = typed_table
    tbl = iceberg_catalog(srv).load_table("public.t")
    iceberg_ids = {s.snapshot_id for s in tbl.snapshots()}
    assert len(iceberg_ids) >= 2, "each CHECKPOINT should commit a snapshot"
    floe_ids = {
        r[0]
        for r in srv.query(
            "SELECT snapshot_id FROM system.snapshots WHERE table_schema = 'public' AND table_name = 't'"
        )
    }
    assert floe_ids == iceberg_ids
    assert tbl.current_snapshot() is not None
    assert tbl.current_snapshot().snapshot_id in floe_ids


def test_pyiceberg_sees_new_commits_and_drop(typed_table):
    srv = typed_table
    srv.query("INSERT INTO t (id, name) VALUES (100, 'late')")
    catalog = iceberg_catalog(srv)
    got = arrow_rows(catalog.load_table("public.t").scan().to_arrow(), ["id", "name"])
    assert (100, "late") in got
    assert len(got) == len(ROWS) + 1

    srv.query("DROP TABLE t")
    assert ("public", "t") not in catalog.list_tables("public")
    with pytest.raises(NoSuchTableError):
        catalog.load_table("public.t")


def test_table_in_other_schema(floe_server):
    floe_server.query("CREATE SCHEMA sales")
    floe_server.query("CREATE TABLE sales.orders (order_id BIGINT, total DECIMAL(10,2))")
    floe_server.query("INSERT INTO sales.orders VALUES (1, 9.99), (2, 100.00)")
    catalog = iceberg_catalog(floe_server)
    assert ("sales",) in catalog.list_namespaces()
    assert ("sales", "orders") in catalog.list_tables("sales")
    got = arrow_rows(catalog.load_table("sales.orders").scan().to_arrow(), ["order_id", "total"])
    assert got == [(1, Decimal("9.99")), (2, Decimal("100.00"))]


def _partition_rows():
    base = datetime(2024, 3, 1, 0, 0, 0)
    rows = []
    for i in range(40):
        ts = base + timedelta(days=i % 5, hours=i % 24, minutes=i)
        rows.append((i, ts, f"v{i}"))
    return rows


def test_partitioned_table(floe_server):
    srv = floe_server
    rows = _partition_rows()
    with srv.connect() as conn:
        conn.execute(
            "CREATE TABLE p (id BIGINT, ts TIMESTAMP, v TEXT) PARTITION BY (day(ts), bucket(4, id))"
        )
        for chunk in (rows[:20], rows[20:]):  # two commits
            values = ", ".join(f"({i}, '{ts.isoformat(sep=' ')}', '{v}')" for i, ts, v in chunk)
            conn.execute(f"INSERT INTO p VALUES {values}")
    assert srv.query("SELECT id, ts, v FROM p ORDER BY id") == rows

    tbl = iceberg_catalog(srv).load_table("public.p")
    schema = tbl.schema()
    spec = tbl.spec()
    assert len(spec.fields) == 2, spec
    f_day, f_bucket = spec.fields
    assert f_day.transform == DayTransform()
    assert schema.find_field(f_day.source_id).name == "ts"
    assert f_bucket.transform == BucketTransform(4)
    assert schema.find_field(f_bucket.source_id).name == "id"

    # all rows readable
    assert arrow_rows(tbl.scan().to_arrow(), ["id", "ts", "v"]) == rows

    # data files carry the right partition values
    day_fn = DayTransform().transform(TimestampType())
    bucket_fn = BucketTransform(4).transform(LongType())
    expected_parts = {(day_fn(datetime_to_micros(ts)), bucket_fn(i)) for i, ts, _ in rows}
    file_parts = set()
    for task in tbl.scan().plan_files():
        part = task.file.partition
        day_val = part[0]
        if isinstance(day_val, date):
            day_val = (day_val - date(1970, 1, 1)).days
        file_parts.add((day_val, part[1]))
    assert file_parts == expected_parts
    assert len(file_parts) > 1

    # partition pruning through PyIceberg gives the right rows
    got = arrow_rows(tbl.scan(row_filter=EqualTo("id", 7)).to_arrow(), ["id", "ts", "v"])
    assert got == [r for r in rows if r[0] == 7]
    cutoff = datetime(2024, 3, 4)
    pruned = tbl.scan(row_filter=GreaterThanOrEqual("ts", cutoff.isoformat()))
    got = arrow_rows(pruned.to_arrow(), ["id", "ts", "v"])
    assert got == [r for r in rows if r[1] >= cutoff]
    assert len(list(pruned.plan_files())) < len(list(tbl.scan().plan_files()))


def test_issue_2_pyiceberg_reads_updates_and_deletes(floe_server):
    """Merge-on-read changes are position deletes PyIceberg applies too."""
    srv = floe_server
    with srv.connect() as conn:
        conn.execute("CREATE TABLE acct (id BIGINT PRIMARY KEY, owner TEXT, balance DECIMAL(10,2))")
        conn.execute("INSERT INTO acct VALUES (1, 'ada', 10.00), (2, 'bob', 20.00), (3, 'cy', 30.00)")
        srv.checkpoint()
        conn.execute("INSERT INTO acct VALUES (4, 'dee', 40.00)")
        conn.execute("DELETE FROM acct WHERE id = 2")
        conn.execute("UPDATE acct SET balance = balance + 1 WHERE id IN (3, 4)")
        conn.execute(
            "INSERT INTO acct VALUES (1, 'ada', 5.00), (5, 'eve', 50.00) "
            "ON CONFLICT (id) DO UPDATE SET balance = acct.balance + excluded.balance"
        )
    expected = [
        (1, "ada", Decimal("15.00")),
        (3, "cy", Decimal("31.00")),
        (4, "dee", Decimal("41.00")),
        (5, "eve", Decimal("50.00")),
    ]
    assert srv.query("SELECT id, owner, balance FROM acct ORDER BY id") == expected
    tbl = iceberg_catalog(srv).load_table("public.acct")
    assert arrow_rows(tbl.scan().to_arrow(), ["id", "owner", "balance"]) == expected
    # the deletes are Iceberg position-delete files
    delete_files = [d for task in tbl.scan().plan_files() for d in task.delete_files]
    assert delete_files, "expected position-delete files"
    assert all(d.content.name == "POSITION_DELETES" for d in delete_files)
    # time travel to before the changes still shows the old rows
    first = min(tbl.snapshots(), key=lambda s: s.sequence_number)
    old = arrow_rows(tbl.scan(snapshot_id=first.snapshot_id).to_arrow(), ["id", "owner", "balance"])
    assert old == [(1, "ada", Decimal("10.00")), (2, "bob", Decimal("20.00")), (3, "cy", Decimal("30.00"))]
    floe_old = srv.query(f"SELECT id, owner, balance FROM at_snapshot('public.acct', {first.snapshot_id}) ORDER BY id")
    assert floe_old == old


def test_issue_2_pyiceberg_reads_partitioned_deletes(floe_server):
    srv = floe_server
    with srv.connect() as conn:
        conn.execute("CREATE TABLE ev (id BIGINT, kind TEXT) PARTITION BY (kind)")
        conn.execute("INSERT INTO ev SELECT v, CASE WHEN v % 2 = 0 THEN 'even' ELSE 'odd' END FROM generate_series(1, 100) v")
        conn.execute("DELETE FROM ev WHERE id % 10 = 0 OR id = 7")
    expected = [(i, "even" if i % 2 == 0 else "odd") for i in range(1, 101) if i % 10 != 0 and i != 7]
    assert srv.query("SELECT id, kind FROM ev ORDER BY id") == expected
    tbl = iceberg_catalog(srv).load_table("public.ev")
    assert arrow_rows(tbl.scan().to_arrow(), ["id", "kind"]) == expected
    before = tbl.current_snapshot().snapshot_id

    srv.query("TRUNCATE ev")
    assert srv.query("SELECT count(*) FROM ev") == [(0,)]
    tbl = iceberg_catalog(srv).load_table("public.ev")
    assert tbl.scan().to_arrow().num_rows == 0
    assert list(tbl.scan().plan_files()) == []
    # the rows before TRUNCATE are still there for time travel
    assert arrow_rows(tbl.scan(snapshot_id=before).to_arrow(), ["id", "kind"]) == expected


def test_issue_2_pyiceberg_reads_after_schema_changes(floe_server):
    srv = floe_server
    with srv.connect() as conn:
        conn.execute("CREATE TABLE m (id INT, name TEXT, reading REAL, gone TEXT)")
        conn.execute("INSERT INTO m VALUES (1, 'a', 1.5, 'x'), (2, 'b', 2.5, 'y')")
        conn.execute("ALTER TABLE m RENAME COLUMN name TO label")
        conn.execute("ALTER TABLE m ALTER COLUMN id TYPE BIGINT")
        conn.execute("ALTER TABLE m ALTER COLUMN reading TYPE DOUBLE PRECISION")
        conn.execute("ALTER TABLE m DROP COLUMN gone")
        conn.execute("ALTER TABLE m ADD COLUMN note TEXT")
        conn.execute("INSERT INTO m VALUES (3000000000, 'c', 3.25, 'new')")
        conn.execute("UPDATE m SET note = 'upd' WHERE id = 1")
    expected = [(1, "a", 1.5, "upd"), (2, "b", 2.5, None), (3000000000, "c", 3.25, "new")]
    assert srv.query("SELECT id, label, reading, note FROM m ORDER BY id") == expected
    tbl = iceberg_catalog(srv).load_table("public.m")
    assert [f.name for f in tbl.schema().fields] == ["id", "label", "reading", "note"]
    assert tbl.schema().find_field("id").field_type == LongType()
    assert tbl.schema().find_field("reading").field_type == DoubleType()
    assert arrow_rows(tbl.scan().to_arrow(), ["id", "label", "reading", "note"]) == expected


def test_issue_2_concurrent_writers_lose_nothing(floe_server):
    """Concurrent inserts and updates on one table: every insert lands and
    every increment is applied exactly once."""

    srv = floe_server
    srv.query("CREATE TABLE ctr (id BIGINT PRIMARY KEY, n BIGINT)")
    srv.query("INSERT INTO ctr VALUES (1, 0)")
    srv.query("CREATE TABLE log (writer BIGINT, i BIGINT)")
    errors = []

    def writer(w):
        try:
            with srv.connect() as conn:
                for i in range(10):
                    conn.execute(f"INSERT INTO log VALUES ({w}, {i})")
                    conn.execute("UPDATE ctr SET n = n + 1 WHERE id = 1")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    run_in_threads(writer, 4)
    assert not errors, errors
    assert srv.query("SELECT n FROM ctr") == [(40,)]
    assert srv.query("SELECT count(*), count(DISTINCT writer * 100 + i) FROM log") == [(40, 40)]
    tbl = iceberg_catalog(srv).load_table("public.ctr")
    assert arrow_rows(tbl.scan().to_arrow(), ["id", "n"]) == [(1, 40)]
