"""Queries mean what they say over every protocol: PostgreSQL's answer, or
an error with a SQLSTATE, never a different answer.

Each query runs over psql (simple protocol), psycopg's client-side cursor
(simple protocol), psycopg's default cursor (extended protocol) and HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess

import psycopg
import pytest

from floe_helpers import unique_name

PSQL = shutil.which("psql")


def via_psql(srv, sql: str):
    if PSQL is None:
        pytest.fail("psql not found on PATH (install postgresql-client)", pytrace=False)
    env = dict(os.environ, PGCONNECT_TIMEOUT="10")
    env.pop("PGPASSWORD", None)
    proc = subprocess.run(
        [PSQL, "-h", "127.0.0.1", "-p", str(srv.pg_port), "-U", "floe", "-d", "floe", "-X", "-A", "-t",
         "-F", ",", "-w", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True, timeout=60, env=env,
    )
    if proc.returncode != 0:
        return ("error", proc.stderr.strip())
    rows = []
    for line in proc.stdout.splitlines():
        if line:
            rows.append(tuple(None if v == "" else int(v) for v in line.split(",")))
    return ("rows", rows)


def via_psycopg(srv, sql: str, simple: bool):
    try:
        with srv.connect() as conn:
            cur = psycopg.ClientCursor(conn) if simple else conn.cursor()
            cur.execute(sql)
            return ("rows", [tuple(r) for r in cur.fetchall()])
    except psycopg.Error as e:
        assert e.sqlstate, f"an error without a SQLSTATE: {e}"
        return ("error", f"{e.sqlstate}: {e}")


def via_http(srv, sql: str):
    r = srv.sql_http(sql)
    if r.status != 200:
        return ("error", r.text())
    return ("rows", [tuple(row) for row in r.json()["rows"]])


def answers(srv, sql: str) -> dict[str, tuple]:
    return {
        "psql": via_psql(srv, sql),
        "psycopg simple": via_psycopg(srv, sql, simple=True),
        "psycopg extended": via_psycopg(srv, sql, simple=False),
        "http": via_http(srv, sql),
    }


@pytest.fixture(scope="module")
def t9(floe_shared):
    name = unique_name("t9")
    floe_shared.query(f"CREATE TABLE {name} (a INT, b INT)")
    floe_shared.query(f"INSERT INTO {name} VALUES (1, 10), (2, 20), (3, 30)")
    return name


def test_issue23_correlated_scalar_subquery_gives_postgres_answer(floe_shared, t9):
    """The PG wire once rewrote a scalar subquery in a SELECT list into NULL
    (a rewrite meant for psql's catalog queries): every row read NULL.
    Later it was refused; a subquery correlated by `<` now runs, on every
    protocol, with PostgreSQL's answer."""
    sql = f"SELECT a, (SELECT count(*) FROM {t9} AS x WHERE x.b < {t9}.b) FROM {t9} ORDER BY 1"
    for via, (kind, got) in answers(floe_shared, sql).items():
        assert (kind, got) == ("rows", [(1, 0), (2, 1), (3, 2)]), f"{via}: {got}"


def test_issue23_a_scalar_subquery_of_several_rows_is_21000(floe_shared, t9):
    sql = f"SELECT a, (SELECT x.b FROM {t9} AS x WHERE x.a < {t9}.a) FROM {t9}"
    for via, (kind, got) in answers(floe_shared, sql).items():
        assert kind == "error", f"{via}: {got}"
        assert "more than one row returned by a subquery" in got, f"{via}: {got}"
        if via.startswith("psycopg"):
            assert got.startswith("21000"), f"{via}: {got}"


@pytest.mark.parametrize(
    "query, expected",
    [
        ("SELECT a, (SELECT max(b) FROM {t}) FROM {t} ORDER BY 1", [(1, 30), (2, 30), (3, 30)]),
        ("SELECT a, (SELECT count(*) FROM {t} AS x WHERE x.a = {t}.a) FROM {t} ORDER BY 1",
         [(1, 1), (2, 1), (3, 1)]),
        ("SELECT a, (SELECT count(*) FROM {t} AS x WHERE x.a = {t}.a + 10) FROM {t} ORDER BY 1",
         [(1, 0), (2, 0), (3, 0)]),
        ("SELECT a FROM {t} WHERE b > (SELECT avg(b) FROM {t}) ORDER BY 1", [(3,)]),
        ("SELECT a, (SELECT max(x.b) FROM {t} AS x WHERE x.a < {t}.a) FROM {t} ORDER BY 1",
         [(1, None), (2, 10), (3, 20)]),
        ("SELECT a, CASE WHEN a > 1 THEN (SELECT sum(x.b) FROM {t} AS x WHERE x.a < {t}.a) END "
         "FROM {t} ORDER BY 1", [(1, None), (2, 10), (3, 30)]),
        ("SELECT a FROM {t} WHERE (SELECT count(*) FROM {t} AS x WHERE x.b < {t}.b) >= 1 "
         "ORDER BY 1", [(2,), (3,)]),
        ("SELECT (SELECT count(*) FROM {t} AS x WHERE x.b < {t}.b) AS k, count(*) FROM {t} "
         "GROUP BY 1 ORDER BY 1", [(0, 1), (1, 1), (2, 1)]),
        ("SELECT s.a, u.a FROM {t} s, {t} u WHERE u.a = (SELECT max(x.a) FROM {t} x "
         "WHERE x.a < s.a) ORDER BY 1", [(2, 1), (3, 2)]),
    ],
    ids=["uncorrelated", "correlated by equality", "count over no rows is 0", "in WHERE",
         "max over no rows is NULL", "inside CASE", "non-equality in WHERE", "in GROUP BY",
         "in WHERE over a join"],
)
def test_issue23_scalar_subqueries_give_postgres_answers(floe_shared, t9, query, expected):
    sql = query.format(t=t9)
    for via, (kind, got) in answers(floe_shared, sql).items():
        assert (kind, got) == ("rows", expected), f"{via}: {got}"


def test_issue23_catalog_queries_still_answer(floe_shared, t9):
    """psql's and drivers' catalog queries keep the compatibility path."""
    kind, got = via_psycopg(
        floe_shared,
        "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        f"ON n.oid = c.relnamespace WHERE c.relname = '{t9}'",
        simple=False,
    )
    assert (kind, got) == ("rows", [(t9,)])
    kind, got = via_psycopg(floe_shared, "SELECT version()", simple=True)
    assert kind == "rows" and got and got[0][0], got


def test_issue23_output_columns_may_share_a_name(floe_shared, t9):
    """PostgreSQL allows two output columns of one name; clients and ORMs
    write such lists. Every protocol gets both columns, named as written."""
    sql = f"SELECT a, b AS a, 1 AS one, 2 AS ONE FROM {t9} ORDER BY 2 LIMIT 2"
    for simple in (True, False):
        with floe_shared.connect() as conn:
            cur = psycopg.ClientCursor(conn) if simple else conn.cursor()
            cur.execute(sql)
            assert [d.name for d in cur.description] == ["a", "a", "one", "one"]
            assert cur.fetchall() == [(1, 10, 1, 2), (2, 20, 1, 2)]
    r = floe_shared.sql_http(sql)
    assert r.status == 200, r.text()
    assert [c["name"] for c in r.json()["columns"]] == ["a", "a", "one", "one"]
    # ORDER BY a shared name is ambiguous, as in PostgreSQL.
    kind, got = via_psycopg(floe_shared, f"SELECT a AS x, b AS x FROM {t9} ORDER BY x", simple=False)
    assert kind == "error" and got.startswith("42702"), got


def test_issue23_array_subquery_over_each_protocol(floe_shared, t9):
    """ARRAY(subquery) reaches clients as PostgreSQL's array: a column
    named `array`, decoded by psycopg as a list in the subquery's order
    (an empty one for no rows)."""
    sql = (
        f"SELECT a, ARRAY(SELECT x.b FROM {t9} AS x WHERE x.b > {t9}.b ORDER BY x.b DESC) "
        f"FROM {t9} ORDER BY a"
    )
    expected = [(1, [30, 20]), (2, [30]), (3, [])]
    for simple in (True, False):
        with floe_shared.connect() as conn:
            cur = psycopg.ClientCursor(conn) if simple else conn.cursor()
            cur.execute(sql)
            assert [d.name for d in cur.description] == ["a", "array"]
            assert [tuple(r) for r in cur.fetchall()] == expected
    # Over HTTP a value that is neither a number nor a boolean comes in its
    # text form (docs/interfaces.md).
    r = floe_shared.sql_http(sql)
    assert r.status == 200, r.text()
    assert [c["name"] for c in r.json()["columns"]] == ["a", "array"]
    assert [tuple(row) for row in r.json()["rows"]] == [(1, "[30, 20]"), (2, "[30]"), (3, "[]")]
