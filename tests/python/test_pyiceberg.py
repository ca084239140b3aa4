"""Tables written by Floe are readable with PyIceberg through the SQL catalog
in the data directory."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from pyiceberg.catalog.sql import SqlCatalog
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


def catalog_for(data_dir) -> SqlCatalog:
    return SqlCatalog(
        "floe", uri=f"sqlite:///{data_dir}/catalog.db", warehouse=f"file://{data_dir}/warehouse"
    )


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
        # several commits (one per statement)
        cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s, %s)", ROWS[:2])
        cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s, %s)", ROWS[2:])
    return floe_server


def test_pyiceberg_reads_rows_written_by_floe(typed_table):
    srv = typed_table
    floe_rows = srv.query(f"SELECT {', '.join(COLS)} FROM t ORDER BY id")
    assert floe_rows == ROWS

    catalog = catalog_for(srv.data_dir)
    tbl = catalog.load_table("public.t")
    got = arrow_rows(tbl.scan().to_arrow(), COLS)
    assert got == sorted(floe_rows)


def test_pyiceberg_schema_types(typed_table):
    tbl = catalog_for(typed_table.data_dir).load_table("public.t")
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
    tbl = catalog_for(srv.data_dir).load_table("public.t")
    iceberg_ids = {s.snapshot_id for s in tbl.snapshots()}
    assert len(iceberg_ids) >= 2, "each INSERT should commit a snapshot"
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
    catalog = catalog_for(srv.data_dir)
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
    catalog = catalog_for(floe_server.data_dir)
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

    tbl = catalog_for(srv.data_dir).load_table("public.p")
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
