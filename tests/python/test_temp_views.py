"""Temporary views: a session's own, as in PostgreSQL. Another session
does not see them, they end with their session, any user may make one,
and reading through one needs the privileges on what it reads. The same
statements run on a live PostgreSQL 15 for the answers."""

from __future__ import annotations

import psycopg
import pytest

from floe_helpers import unique_name


def rows(conn, sql):
    return conn.execute(sql).fetchall()


def test_issue23_temporary_views_answer_as_postgres(floe_shared, postgres):
    table = unique_name("tv_base")
    db = postgres.create_database(unique_name("tv_db"))
    statements = [
        f"CREATE TABLE {table} (n int, s text)",
        f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b'), (3, NULL)",
        f"CREATE TEMPORARY VIEW {table} AS SELECT n * 10 AS n, s FROM public.{table} WHERE n > 1",
        f"CREATE TEMP VIEW tv_top AS SELECT max(n) AS m FROM {table}",
    ]
    queries = [
        f"SELECT n, s FROM {table} ORDER BY n",
        f"SELECT n FROM public.{table} ORDER BY n",
        "SELECT m FROM tv_top",
        f"SELECT count(*) FROM pg_temp.{table} t JOIN public.{table} u ON t.n = u.n * 10",
    ]
    with postgres.connect(db) as pg, floe_shared.connect() as fl:
        for sql in statements:
            pg.execute(sql)
            fl.execute(sql)
        for sql in queries:
            assert rows(fl, sql) == rows(pg, sql), sql
        assert rows(fl, "SELECT m FROM tv_top") == [(30,)]
        # Writes by the name never reach the table behind the view.
        with pytest.raises(psycopg.errors.WrongObjectType):
            fl.execute(f"DELETE FROM {table}")
        assert rows(fl, f"SELECT count(*) FROM public.{table}") == [(3,)]
        # Another session sees only the table.
        with floe_shared.connect() as other:
            assert rows(other, f"SELECT n FROM {table} ORDER BY n") == [(1,), (2,), (3,)]
            with pytest.raises(psycopg.errors.UndefinedTable):
                other.execute("SELECT m FROM tv_top")
    # The views ended with their session.
    with floe_shared.connect() as again:
        assert rows(again, f"SELECT n FROM {table} ORDER BY n") == [(1,), (2,), (3,)]
        with pytest.raises(psycopg.errors.UndefinedTable):
            again.execute("SELECT m FROM pg_temp.tv_top")
    # Over HTTP a request is a session: its temporary view is gone after it.
    made = floe_shared.sql_http(
        f"CREATE TEMPORARY VIEW tv_http AS SELECT n FROM {table}; SELECT count(*) AS c FROM tv_http"
    )
    assert made.status == 200, made.body
    assert made.json()["rows"] == [[3]]
    assert floe_shared.sql_http("SELECT * FROM tv_http").status >= 400


def test_issue23_any_user_makes_temporary_views_with_their_own_privileges(floe_shared):
    user = unique_name("tv_user")
    open_table, closed_table = unique_name("tv_open"), unique_name("tv_closed")
    with floe_shared.connect() as admin:
        admin.execute(f"CREATE TABLE {open_table} (n int)")
        admin.execute(f"INSERT INTO {open_table} VALUES (5)")
        admin.execute(f"CREATE TABLE {closed_table} (n int)")
        admin.execute(f"CREATE USER {user} PASSWORD 'pw-{user}'")
        admin.execute(f"GRANT SELECT ON {open_table} TO {user}")
    dsn = f"host=127.0.0.1 port={floe_shared.pg_port} user={user} password=pw-{user} dbname=floe"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TEMPORARY VIEW mine AS SELECT n + 1 AS n FROM {open_table}")
        assert rows(conn, "SELECT n FROM mine") == [(6,)]
        conn.execute(f"CREATE TEMPORARY VIEW theirs AS SELECT 1 AS n")
        conn.execute("DROP VIEW theirs")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"CREATE TEMPORARY VIEW secret AS SELECT n FROM {closed_table}")
        # A permanent view still needs a superuser.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"CREATE VIEW perm AS SELECT n FROM {open_table}")
