"""Issue 23: SQLAlchemy's PostgreSQL dialect (and pandas.read_sql through it)
connects to Floe, lists its tables, and reads and writes them.

The dialect parses `SELECT version()` to pick its PostgreSQL release; an
answer it cannot parse ("Could not determine version") stops every
connection. Floe answers as PostgreSQL 15.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from floe_helpers import unique_name


@pytest.fixture
def engine(floe_shared):
    # The password comes from the pgpass file the test helpers keep.
    eng = sa.create_engine(
        f"postgresql+psycopg://floe@127.0.0.1:{floe_shared.pg_port}/floe",
        poolclass=sa.pool.NullPool,
    )
    yield eng
    eng.dispose()


@pytest.fixture
def items(floe_shared):
    table = unique_name("sa_items")
    floe_shared.query(
        f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, "
        "price NUMERIC(10, 2), added TIMESTAMP, score DOUBLE PRECISION)"
    )
    floe_shared.query(
        f"INSERT INTO {table} VALUES "
        "(1, 'kettle', 24.50, '2026-01-02 03:04:05', 0.5), "
        "(2, 'toaster', 31.99, '2026-02-03 04:05:06', NULL), "
        "(3, 'lamp', NULL, NULL, 2.25)"
    )
    return table


def test_issue23_dialect_reads_the_server_version(engine, floe_shared):
    with engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version()")).scalar_one()
        assert version.startswith("PostgreSQL 15."), version
        assert "Floe" in version
        assert conn.dialect.server_version_info[:1] == (15,)
        assert conn.execute(sa.text("SHOW server_version")).scalar_one().startswith("15.")
    # psycopg reads the server_version parameter sent at login.
    with floe_shared.connect() as raw:
        assert raw.info.server_version // 10000 == 15


def test_issue23_lists_tables_and_runs_core_queries(engine, items):
    inspector = sa.inspect(engine)
    assert items in inspector.get_table_names()

    # Queries SQLAlchemy Core builds: bound parameters, ORDER BY, LIMIT.
    table = sa.Table(
        items,
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("price", sa.Numeric(10, 2)),
    )
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.id, table.c.name)
            .where(table.c.price > 25)
            .order_by(table.c.id)
            .limit(5)
        ).all()
        assert [tuple(r) for r in rows] == [(2, "toaster")]
        total = conn.execute(sa.select(sa.func.sum(table.c.price))).scalar_one()
        assert total == Decimal("56.49")


def test_issue23_pandas_read_sql(engine, items):
    frame = pd.read_sql(f"SELECT id, name, price, added, score FROM {items} ORDER BY id", engine)
    assert list(frame.columns) == ["id", "name", "price", "added", "score"]
    assert frame["id"].tolist() == [1, 2, 3]
    assert frame["name"].tolist() == ["kettle", "toaster", "lamp"]
    # pandas turns numerics into floats (read_sql's coerce_float default).
    assert frame["price"].tolist()[:2] == [24.5, 31.99]
    assert pd.isna(frame["price"].tolist()[2])
    assert frame["added"].tolist()[0] == pd.Timestamp(dt.datetime(2026, 1, 2, 3, 4, 5))
    assert frame["score"].tolist()[0] == 0.5

    # Parameters bound by the driver, as pandas users pass them.
    one = pd.read_sql(
        sa.text(f"SELECT name FROM {items} WHERE id = :id"), engine, params={"id": 3}
    )
    assert one["name"].tolist() == ["lamp"]


def test_issue23_writes_in_autocommit(engine, floe_shared):
    table = unique_name("sa_write")
    auto = engine.execution_options(isolation_level="AUTOCOMMIT")
    with auto.connect() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table} (k INT, v TEXT)"))
        conn.execute(
            sa.text(f"INSERT INTO {table} VALUES (:k, :v)"),
            [{"k": 1, "v": "one"}, {"k": 2, "v": "two"}],
        )
    assert floe_shared.query(f"SELECT k, v FROM {table} ORDER BY k") == [(1, "one"), (2, "two")]


def test_issue23_reflects_columns_and_key_and_autoloads_a_table(engine, items):
    """The dialect's reflection queries (pg_attribute with format_type,
    json_build_object, a correlated subquery over pg_sequence; pg_index
    keys through unnest and generate_subscripts) run, and give the
    columns' types (numeric precision and scale included), nullability and
    the primary key as PostgreSQL would."""
    inspector = sa.inspect(engine)
    columns = {c["name"]: c for c in inspector.get_columns(items)}
    assert list(columns) == ["id", "name", "price", "added", "score"]
    assert isinstance(columns["id"]["type"], sa.BigInteger)
    assert isinstance(columns["name"]["type"], sa.Text)
    assert isinstance(columns["price"]["type"], sa.Numeric)
    assert (columns["price"]["type"].precision, columns["price"]["type"].scale) == (10, 2)
    assert isinstance(columns["added"]["type"], sa.DateTime)
    assert isinstance(columns["score"]["type"], sa.Float)
    assert [c["nullable"] for c in columns.values()] == [False, False, True, True, True]
    assert all(c["default"] is None and c["comment"] is None for c in columns.values())
    pk = inspector.get_pk_constraint(items)
    assert (pk["name"], pk["constrained_columns"]) == (f"{items}_pkey", ["id"])
    assert inspector.get_foreign_keys(items) == []
    assert inspector.get_indexes(items) == []
    assert inspector.get_unique_constraints(items) == []

    table = sa.Table(items, sa.MetaData(), autoload_with=engine)
    assert [c.name for c in table.columns] == ["id", "name", "price", "added", "score"]
    assert [c.name for c in table.primary_key.columns] == ["id"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.name).where(table.c.id == 2)).all()
    assert [tuple(r) for r in rows] == [("toaster",)]


def test_issue23_reflects_unique_constraints(engine, floe_shared):
    """UNIQUE constraints are in pg_constraint (contype 'u') and
    information_schema, with PostgreSQL's names; the dialect reflects
    them."""
    table = unique_name("sa_uq")
    floe_shared.query(
        f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, email TEXT UNIQUE, a INT, b INT, "
        "CONSTRAINT ab_once UNIQUE (a, b))"
    )
    inspector = sa.inspect(engine)
    found = sorted(
        (u["name"], u["column_names"]) for u in inspector.get_unique_constraints(table)
    )
    assert found == [("ab_once", ["a", "b"]), (f"{table}_email_key", ["email"])]
    pk = inspector.get_pk_constraint(table)
    assert (pk["name"], pk["constrained_columns"]) == (f"{table}_pkey", ["id"])
    rows = floe_shared.query(
        "SELECT constraint_name, constraint_type, nulls_distinct FROM "
        f"information_schema.table_constraints WHERE table_name = '{table}' "
        "AND constraint_type <> 'CHECK' ORDER BY constraint_name"
    )
    assert rows == [
        ("ab_once", "UNIQUE", "YES"),
        (f"{table}_email_key", "UNIQUE", "YES"),
        (f"{table}_pkey", "PRIMARY KEY", None),
    ]
