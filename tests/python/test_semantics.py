"""What a statement means, checked through real clients: transaction blocks
(psycopg's default, non-autocommit mode) and bytea text on every write path."""

from __future__ import annotations

import json

import psycopg
import psycopg.errors
import pytest

from floe_helpers import unique_name


def test_issue14_psycopg_rollback_never_leaves_a_write_behind(floe_shared):
    t = unique_name("tx")
    floe_shared.query(f"CREATE TABLE {t} (id BIGINT, note TEXT)")
    floe_shared.query(f"INSERT INTO {t} VALUES (1, 'committed')")

    # psycopg's default mode opens a transaction block before the first
    # statement; reads work inside it.
    with psycopg.connect(floe_shared.dsn, autocommit=False) as conn:
        assert conn.execute(f"SELECT count(*) FROM {t}").fetchone() == (1,)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction) as err:
            conn.execute(f"INSERT INTO {t} VALUES (2, 'inside a block')")
        assert "transaction block" in str(err.value)
        assert "autocommit" in str(err.value)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        conn.rollback()
        # The block is over; the failed write left nothing.
        assert conn.execute(f"SELECT count(*) FROM {t}").fetchone() == (1,)
        conn.rollback()

        # The extended protocol (a parameterized write) is refused the same way.
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(f"INSERT INTO {t} VALUES (%s, %s)", (3, "parameterized"))
        conn.rollback()

    # In autocommit mode every statement commits on its own.
    with psycopg.connect(floe_shared.dsn, autocommit=True) as conn:
        conn.execute(f"INSERT INTO {t} VALUES (%s, %s)", (4, "autocommit"))
        rows = conn.execute(f"SELECT id, note FROM {t} ORDER BY id").fetchall()
    assert rows == [(1, "committed"), (4, "autocommit")]


def test_issue14_a_block_over_http_refuses_writes_and_commits_nothing(floe_shared):
    t = unique_name("tx")
    floe_shared.query(f"CREATE TABLE {t} (id BIGINT)")
    r = floe_shared.sql_http(f"BEGIN; INSERT INTO {t} VALUES (1); ROLLBACK")
    assert r.status == 409, r.body
    assert r.json()["error"]["code"] == "25006"
    assert floe_shared.query(f"SELECT count(*) FROM {t}") == [(0,)]


def test_issue14_bytea_text_means_what_postgres_means_on_every_write_path(floe_shared, tmp_path):
    t = unique_name("bytes")
    floe_shared.query(f"CREATE TABLE {t} (id BIGINT, b BYTEA)")
    with floe_shared.connect() as conn:
        # SQL literal in PostgreSQL's hex form, and a psycopg bytes parameter.
        conn.execute(f"INSERT INTO {t} VALUES (1, '\\x4142')")
        conn.execute(f"INSERT INTO {t} VALUES (%s, %s)", (2, b"AB"))
        with pytest.raises(psycopg.errors.InvalidTextRepresentation) as err:
            conn.execute(f"INSERT INTO {t} VALUES (9, '\\x0é0')")
        assert "invalid hexadecimal digit" in str(err.value)

        # COPY from CSV.
        path = tmp_path / "bytes.csv"
        path.write_text("id,b\n3,\\x4142\n")
        conn.execute(f"COPY {t} FROM '{path}' WITH (FORMAT csv, HEADER true)")

    # HTTP ingest.
    body = json.dumps({"id": 4, "b": "\\x4142"}) + "\n"
    r = floe_shared.http(
        "POST", f"/v1/tables/{t}/rows", body, {"Content-Type": "application/x-ndjson"}
    )
    assert r.status == 200, r.body
    bad = json.dumps({"id": 5, "b": "\\x0é0"}) + "\n"
    r = floe_shared.http(
        "POST", f"/v1/tables/{t}/rows", bad, {"Content-Type": "application/x-ndjson"}
    )
    assert r.status == 400, r.body
    assert "bytea" in r.text()

    rows = floe_shared.query(f"SELECT id, b FROM {t} ORDER BY id")
    assert rows == [(1, b"AB"), (2, b"AB"), (3, b"AB"), (4, b"AB")]
