"""Output column names, checked against a live PostgreSQL 15: every query
runs on both servers and the names clients see must be PostgreSQL's, over
the simple protocol, the extended protocol and HTTP; CREATE TABLE AS and
views take the same names."""

from __future__ import annotations

import psycopg
import pytest

from floe_helpers import unique_name

DDL = [
    "CREATE TABLE {t} (a INT, b TEXT, d DATE, ts TIMESTAMP)",
    "INSERT INTO {t} VALUES (1, 'x', DATE '2024-01-02', TIMESTAMP '2024-01-02 03:04:05'),"
    " (2, 'y', DATE '2024-02-03', TIMESTAMP '2024-02-03 04:05:06')",
]

QUERIES = [
    "SELECT count(*), sum(a), max(b), avg(a) FROM {t}",
    "SELECT count(*) FILTER (WHERE a > 1), string_agg(b, ',' ORDER BY b) FROM {t}",
    "SELECT a, {t}.b, a + 1, -a, a::text, CAST(b AS varchar(4)), '7'::int, 1.5::numeric FROM {t}",
    "SELECT 1, 'x', NULL, true, 2 + 2",
    "SELECT upper(b), lower(b), length(b), coalesce(a, 0), nullif(a, 1), greatest(a, 2) FROM {t}",
    "SELECT extract(year FROM d), date_part('month', d), date_trunc('day', ts), now() IS NOT NULL FROM {t}",
    "SELECT trim(b), substring(b FROM 1 FOR 1), position('x' IN b), ts AT TIME ZONE 'UTC' FROM {t}",
    "SELECT CASE WHEN a > 1 THEN 'big' ELSE 'small' END, CASE a WHEN 1 THEN 1 END::text,"
    " CASE WHEN a > 1 THEN NULL ELSE b END, substr(b, 1, 1) FROM {t}",
    "SELECT DATE '2024-01-01', TIMESTAMP '2024-01-01 00:00:00', INTERVAL '1 day', ARRAY[1, 2]",
    "SELECT (SELECT count(*) FROM {t}), (SELECT max(a) AS m FROM {t}), EXISTS (SELECT 1 FROM {t})",
    "SELECT a, row_number() OVER (ORDER BY a), rank() OVER (ORDER BY a), lag(a) OVER (ORDER BY a) FROM {t}",
    "SELECT b, count(*) FROM {t} GROUP BY b ORDER BY count(*) DESC, b",
    "SELECT count(*), count(*) FROM {t}",
    "SELECT x.count FROM (SELECT count(*) FROM {t}) x",
    "WITH c AS (SELECT sum(a) FROM {t}) SELECT * FROM c",
    "SELECT * FROM generate_series(1, 3)",
    "SELECT * FROM generate_series(1, 3) g",
    "SELECT generate_series(1, 2)",
    "SELECT round(a * 1.5), abs(-a), a % 2 FROM {t} UNION ALL SELECT 1, 2, 3",
]


def names(cur) -> list[str]:
    return [d.name for d in cur.description]


@pytest.fixture(scope="module")
def both(floe_shared, postgres):
    t = unique_name("cn")
    db = postgres.create_database(unique_name("cn_db"))
    with postgres.connect(db) as pg, floe_shared.connect(autocommit=True) as fl:
        for stmt in DDL:
            pg.execute(stmt.format(t=t))
            fl.execute(stmt.format(t=t))
        yield t, pg, fl


@pytest.mark.parametrize("query", QUERIES)
def test_issue23_output_column_names_are_postgres_names(both, floe_shared, query):
    t, pg, fl = both
    sql = query.format(t=t)
    want = names(pg.execute(sql))
    assert names(fl.execute(sql)) == want, "extended protocol"
    assert names(psycopg.ClientCursor(fl).execute(sql)) == want, "simple protocol"
    resp = floe_shared.sql_http(sql)
    assert resp.status == 200, resp.body
    assert [c["name"] for c in resp.json()["columns"]] == want, "HTTP"


def test_issue23_create_table_as_and_views_take_postgres_names(both):
    t, pg, fl = both
    for conn in (pg, fl):
        conn.execute(f"CREATE TABLE {t}_ctas AS SELECT b, count(*), max(a) + 1 FROM {t} GROUP BY b")
        conn.execute(f"CREATE VIEW {t}_v AS SELECT upper(b), a::text FROM {t}")
    for rel in (f"{t}_ctas", f"{t}_v"):
        want = names(pg.execute(f"SELECT * FROM {rel}"))
        assert names(fl.execute(f"SELECT * FROM {rel}")) == want
    # The names are the columns' own: queries may use them.
    assert fl.execute(f"SELECT sum(count) FROM {t}_ctas").fetchone() == (2,)
    assert sorted(fl.execute(f"SELECT upper FROM {t}_v").fetchall()) == [("X",), ("Y",)]
