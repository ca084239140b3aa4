"""Bounded memory: `system.caches` shows what each table's key index, plan
cache and idempotency keys hold against their limits, through a real
`floe serve`, with changes by key replicated from a real PostgreSQL 15."""

from __future__ import annotations

import json

import psycopg
import pytest

from pg_source import wait_until

DEFAULT_KEY_INDEX = 512 << 20
DEFAULT_PLAN_CACHE = 256 << 20
DEFAULT_IDEMPOTENCY = 16 << 20
NDJSON = {"Content-Type": "application/x-ndjson"}


def caches(srv, table):
    """{cache: (entries, bytes, limit_bytes)} of one table."""
    rows = srv.query(
        "SELECT cache, entries, bytes, limit_bytes FROM system.caches "
        "WHERE table_schema = 'public' AND table_name = %s",
        (table,),
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def floe_rows(srv, sql):
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def test_issue14_system_caches_show_a_replicated_tables_key_index_and_plan_cache(
        floe_server, postgres):
    srv = floe_server
    db = postgres.create_database("cached")
    with postgres.connect(db) as conn:
        conn.execute("CREATE TABLE items (id int8 PRIMARY KEY, v text)")
        conn.execute("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 2000) g")
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SOURCE cached FROM POSTGRES CONNECTION '{postgres.url(db)}'")

    # Updates and deletes by key, applied by replication.
    with postgres.connect(db) as conn:
        conn.execute("UPDATE items SET v = 'u' || id WHERE id % 10 = 0")
        conn.execute("DELETE FROM items WHERE id % 7 = 0")
        conn.execute("INSERT INTO items VALUES (5000, 'new')")
        conn.execute("UPDATE items SET v = 'again' WHERE id = 5000")
        want = conn.execute("SELECT count(*), sum(id), count(*) FILTER (WHERE v LIKE 'u%') "
                            "FROM items").fetchone()
    wait_until(
        lambda: floe_rows(srv, "SELECT count(*), sum(id), count(*) FILTER (WHERE v LIKE 'u%') "
                               "FROM public.items") == [want],
        timeout=60, what="Floe to apply the changes")
    assert floe_rows(srv, "SELECT v FROM public.items WHERE id = 5000") == [("again",)]

    got = caches(srv, "items")
    assert set(got) == {"key_index", "plan_cache", "idempotency_keys"}, got
    entries, size, limit = got["key_index"]
    # The copy's file (or the file compaction rewrote it into, 1716 rows)
    # is indexed, at 16 bytes a key.
    assert entries >= 1 and size >= 1500 * 16, got
    assert limit == DEFAULT_KEY_INDEX
    entries, size, limit = got["plan_cache"]
    # The manifest list, its manifests, each data file's deleted positions.
    assert entries >= 3 and size > 1000, got
    assert limit == DEFAULT_PLAN_CACHE
    assert got["idempotency_keys"] == (0, 0, DEFAULT_IDEMPOTENCY)

    # The caches every query shares: one row each, with no table.
    shared = srv.query(
        "SELECT cache, entries, bytes, limit_bytes FROM system.caches WHERE table_name IS NULL "
        "ORDER BY cache")
    assert [r[0] for r in shared] == ["column_ranges", "file_listings",
                                      "parquet_metadata"], shared
    # The planner read the ranges of the table's files' integer columns.
    ranges = shared[0]
    assert ranges[1] >= 1 and 0 < ranges[2] <= ranges[3] == 16 << 20, shared
    footers = shared[2]
    assert footers[1] >= 1 and 0 < footers[2] <= footers[3] == 50 << 20, shared

    # A dropped table's caches go with it.
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        conn.execute("DROP SOURCE cached")
        conn.execute("DROP TABLE public.items")
    assert caches(srv, "items") == {}


def change_rounds(srv, table, rounds):
    """Loads 100 rows, then each round updates and deletes rows (a position
    delete file each) and inserts new ones (a data file each)."""
    srv.query(f"INSERT INTO {table} SELECT v, 'a' FROM generate_series(0, 99) v")
    for r in range(rounds):
        srv.query(f"UPDATE {table} SET v = 'u{r}' WHERE id % 10 = {r}")
        srv.query(f"DELETE FROM {table} WHERE id = {50 + r}")
        srv.query(f"INSERT INTO {table} VALUES ({1000 + r}, 'n{r}')")
        srv.checkpoint()
        srv.query(f"SELECT count(*) FROM {table}")


def test_issue14_a_plan_cache_past_its_limit_stays_within_it_and_answers_alike(floe_server):
    srv = floe_server
    limit = 4000
    srv.query("CREATE TABLE roomy (id BIGINT PRIMARY KEY, v TEXT) "
              "WITH (\"floe.compaction.enabled\" = 'false')")
    srv.query("CREATE TABLE tight (id BIGINT PRIMARY KEY, v TEXT) "
              f"WITH (\"floe.compaction.enabled\" = 'false', \"floe.plan-cache.max-bytes\" = '{limit}')")
    for table in ("roomy", "tight"):
        change_rounds(srv, table, 6)

    roomy = caches(srv, "roomy")["plan_cache"]
    tight = caches(srv, "tight")["plan_cache"]
    # Without the limit the cache would hold more than it ...
    assert roomy[1] > limit, roomy
    # ... with it, it stays within it.
    assert tight[1] <= limit and tight[2] == limit, tight
    query = "SELECT id, v FROM {} ORDER BY id"
    assert srv.query(query.format("tight")) == srv.query(query.format("roomy"))
    assert len(srv.query(query.format("tight"))) == 100 - 6 + 6

    # A limit must be a number.
    with pytest.raises(psycopg.Error) as e:
        srv.query("CREATE TABLE bad (id BIGINT) WITH (\"floe.key-index.max-bytes\" = 'lots')")
    assert "floe.key-index.max-bytes" in str(e.value)

    srv.query("DROP TABLE tight")
    assert caches(srv, "tight") == {}
    assert caches(srv, "roomy") != {}


def post_keyed(srv, table, key, row):
    r = srv.http("POST", f"/v1/tables/{table}/rows", json.dumps(row) + "\n",
                 {**NDJSON, "Idempotency-Key": key})
    assert r.status == 200, r.text()
    return r.json()


def test_issue14_idempotency_keys_past_their_limit_are_let_go_and_still_recognized(floe_factory):
    srv = floe_factory()
    limit = 3000
    srv.query("CREATE TABLE keyed_all (id BIGINT)")
    srv.query(f"CREATE TABLE keyed_few (id BIGINT) WITH (\"floe.idempotency.max-bytes\" = '{limit}')")
    for table in ("keyed_all", "keyed_few"):
        for i in range(60):
            assert post_keyed(srv, table, f"request-{i:04}", {"id": i})["accepted"] == 1
    # Keys of buffered rows are all held, whatever the limit.
    assert caches(srv, "keyed_few")["idempotency_keys"][0] == 60
    srv.checkpoint()

    held_all = caches(srv, "keyed_all")["idempotency_keys"]
    held_few = caches(srv, "keyed_few")["idempotency_keys"]
    assert held_all[0] == 60 and held_all[1] > limit, held_all
    assert held_few[0] < 60 and held_few[1] <= limit and held_few[2] == limit, held_few

    # The oldest keys were let go from memory; retries are still duplicates.
    for i in (0, 1, 59):
        again = post_keyed(srv, "keyed_few", f"request-{i:04}", {"id": 1000 + i})
        assert again.get("duplicate") is True and again["accepted"] == 1, again
    assert srv.query("SELECT count(*), max(id) FROM keyed_few") == [(60, 59)]
    # ... also after a restart, which loads the keys within the limit.
    srv.restart()
    assert caches(srv, "keyed_few")["idempotency_keys"][1] <= limit
    again = post_keyed(srv, "keyed_few", "request-0000", {"id": 2000})
    assert again.get("duplicate") is True, again
    assert post_keyed(srv, "keyed_few", "request-new", {"id": 61})["accepted"] == 1
    assert srv.query("SELECT count(*), max(id) FROM keyed_few") == [(61, 61)]
