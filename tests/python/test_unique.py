"""PRIMARY KEY and UNIQUE constraints hold on every write path (issue 23):
SQL INSERT in both protocols, COPY FROM, HTTP ingest, concurrent writers
and restarts. A violation is SQLSTATE 23505 (HTTP 409), as PostgreSQL's,
and writes nothing."""

from __future__ import annotations

import csv
import json
import threading

import psycopg
import pytest

from floe_helpers import run_in_threads, unique_name


def ndjson(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_issue_23_duplicate_key_is_23505_in_both_protocols(floe_server):
    srv = floe_server
    t = unique_name("uq")
    srv.query(f"CREATE TABLE {t} (id INT PRIMARY KEY, code TEXT UNIQUE)")
    with srv.connect() as conn:
        conn.execute(f"INSERT INTO {t} VALUES (1, 'a')")
        for prepare in (False, True):
            with pytest.raises(psycopg.errors.UniqueViolation) as err:
                conn.execute(f"INSERT INTO {t} VALUES (%s, %s)", (1, "b"), prepare=prepare)
            assert f'"{t}_pkey"' in str(err.value)
            assert "Key (id)=(1) already exists" in str(err.value)
        with pytest.raises(psycopg.errors.UniqueViolation) as err:
            conn.execute(f"INSERT INTO {t} VALUES (2, 'a')")
        assert f'"{t}_code_key"' in str(err.value)
        assert conn.execute(f"SELECT id, code FROM {t}").fetchall() == [(1, "a")]


def test_issue_23_copy_from_checks_keys_and_writes_nothing_on_a_violation(floe_server, tmp_path):
    srv = floe_server
    t = unique_name("uq")
    srv.query(f"CREATE TABLE {t} (id BIGINT PRIMARY KEY, name TEXT)")
    srv.query(f"INSERT INTO {t} VALUES (7, 'seven')")
    path = tmp_path / "rows.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name"])
        w.writerows((i, f"n{i}") for i in range(1, 11))
    with pytest.raises(psycopg.errors.UniqueViolation, match=r"Key \(id\)=\(7\) already exists"):
        srv.query(f"COPY {t} FROM '{path}' (FORMAT csv, HEADER true)")
    assert srv.query(f"SELECT count(*) FROM {t}") == [(1,)]

    # A large file takes the direct write path (its own files and
    # snapshot); a key repeated inside it is refused as well.
    big = tmp_path / "big.csv"
    with open(big, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name"])
        w.writerows((i, "x") for i in range(100, 250_100))
        w.writerow((100, "again"))
    with pytest.raises(psycopg.errors.UniqueViolation, match=r"Key \(id\)=\(100\) already exists"):
        srv.query(f"COPY {t} FROM '{big}' (FORMAT csv, HEADER true)")
    assert srv.query(f"SELECT count(*) FROM {t}") == [(1,)]

    # Without the repeat, the large file loads; loading it again conflicts
    # with the committed rows.
    with open(big, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name"])
        w.writerows((i, "x") for i in range(100, 250_100))
    srv.query(f"COPY {t} FROM '{big}' (FORMAT csv, HEADER true)")
    assert srv.query(f"SELECT count(*), count(DISTINCT id) FROM {t}") == [(250_001, 250_001)]
    with pytest.raises(psycopg.errors.UniqueViolation, match=r"already exists"):
        srv.query(f"COPY {t} FROM '{big}' (FORMAT csv, HEADER true)")
    assert srv.query(f"SELECT count(*) FROM {t}") == [(250_001,)]


def test_issue_23_http_ingest_into_a_keyed_table_is_409(floe_server):
    srv = floe_server
    t = unique_name("uq")
    srv.query(f"CREATE TABLE {t} (id BIGINT PRIMARY KEY, v TEXT)")
    headers = {"Content-Type": "application/x-ndjson"}
    r = srv.http("POST", f"/v1/tables/public.{t}/rows", ndjson([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]), headers)
    assert r.status == 200, r.body
    r = srv.http("POST", f"/v1/tables/public.{t}/rows", ndjson([{"id": 3, "v": "c"}, {"id": 2, "v": "again"}]), headers)
    assert r.status == 409, r.body
    error = r.json()["error"]
    assert error["code"] == "23505", error
    assert "Key (id)=(2) already exists" in error["message"], error
    assert srv.query(f"SELECT id, v FROM {t} ORDER BY id") == [(1, "a"), (2, "b")]


def test_issue_23_concurrent_writers_of_one_key_leave_one_row(floe_server):
    srv = floe_server
    t = unique_name("uq")
    srv.query(f"CREATE TABLE {t} (id INT PRIMARY KEY, who INT)")
    outcomes: list[str] = []
    lock = threading.Lock()

    def writer(who: int) -> None:
        with srv.connect() as conn:
            for key in range(20):
                try:
                    conn.execute(f"INSERT INTO {t} VALUES ({key}, {who})")
                    result = "ok"
                except psycopg.errors.UniqueViolation:
                    result = "dup"
                with lock:
                    outcomes.append(result)

    run_in_threads(writer, 4)
    assert outcomes.count("ok") == 20, outcomes
    assert outcomes.count("dup") == 60, outcomes
    assert srv.query(f"SELECT count(*), count(DISTINCT id) FROM {t}") == [(20, 20)]


def test_issue_23_constraints_survive_a_restart(floe_server):
    srv = floe_server
    t = unique_name("uq")
    srv.query(f"CREATE TABLE {t} (id INT, code TEXT, UNIQUE (code))")
    srv.query(f"INSERT INTO {t} VALUES (1, 'a')")
    srv.restart()
    with pytest.raises(psycopg.errors.UniqueViolation, match=f'"{t}_code_key"'):
        srv.query(f"INSERT INTO {t} VALUES (2, 'a')")
    assert srv.query(f"SELECT count(*) FROM {t}") == [(1,)]
