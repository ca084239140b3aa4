"""Zero-ETL from PostgreSQL: CREATE SOURCE against a real PostgreSQL 15,
the initial snapshot, streaming changes, every type, schema changes,
restarts of both sides, DROP SOURCE and `floe replicate`."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import psycopg
import pytest

from floe_helpers import iceberg_catalog, run_floe
from pg_source import PASSWORD, PostgresServer, wait_until

# PostgreSQL's text forms Floe stores for types Iceberg has no exact type for.
PG_SESSION = "SET intervalstyle = iso_8601; SET extra_float_digits = 3; SET timezone = 'UTC'"


def float_key(rows):
    """NaN never equals itself; compare it as text."""
    return [tuple("NaN" if isinstance(v, float) and v != v else v for v in r) for r in rows]


def floe_rows(floe, sql):
    with psycopg.connect(floe.dsn, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def pg_rows(pg, db, sql):
    with pg.connect(db) as conn:
        conn.execute(PG_SESSION)
        return conn.execute(sql).fetchall()


def create_source(floe, pg, db, name, extra=""):
    with psycopg.connect(floe.dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE SOURCE {name} FROM POSTGRES CONNECTION '{pg.url(db)}' {extra}"
        )


def source_status(floe, name, table=None):
    cond = "table_name IS NULL" if table is None else f"table_name = '{table}'"
    rows = floe_rows(
        floe,
        "SELECT state, applied_lsn, rows_snapshotted, rows_applied, last_error, lag_bytes, "
        f"lag_seconds, connection FROM system.sources WHERE source = '{name}' AND {cond}",
    )
    return rows[0] if rows else None


def replicate(floe, pg, name, *statements, extra=""):
    """A database `name` in the source, set up by `statements`, replicated by
    a source `name`; returns the database once the source streams."""
    db = pg.create_database(name)
    with pg.connect(db) as conn:
        for sql in statements:
            conn.execute(sql)
    create_source(floe, pg, db, name, extra)
    wait_state(floe, name)
    return db


def wait_state(floe, name, state="streaming", table=None, timeout=60):
    return wait_until(
        lambda: (s := source_status(floe, name, table)) and s[0] == state and s,
        timeout=timeout,
        what=f"source {name} {table or ''} to be {state}",
    )


def wait_same(floe, pg, db, floe_sql, pg_sql, timeout=60):
    """Waits until Floe's rows equal the source's; returns them."""
    last = {}

    def same():
        last["floe"] = float_key(floe_rows(floe, floe_sql))
        last["pg"] = float_key(pg_rows(pg, db, pg_sql))
        return last["floe"] == last["pg"] and (last["floe"] or [()])

    try:
        wait_until(same, timeout=timeout, what="Floe to match the source")
    except AssertionError:
        pg_only = [r for r in last.get("pg", []) if r not in last.get("floe", [])]
        floe_only = [r for r in last.get("floe", []) if r not in last.get("pg", [])]
        if not pg_only and not floe_only:
            pg_only, floe_only = last.get("pg"), last.get("floe")
        raise AssertionError(
            f"Floe differs from the source: only in source {pg_only[:5]}, only in Floe {floe_only[:5]}"
        ) from None
    return last["floe"]


EVERYTHING = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE everything (
    id int8 PRIMARY KEY,
    i2 int2, i4 int4, n numeric(30,4), nbig numeric(38,0), nfree numeric,
    f4 float4, f8 float8, b bool,
    t text, vc varchar(20), ch char(5),
    by bytea, u uuid,
    d date, tm time, ts timestamp, tstz timestamptz,
    iv interval, js json, jb jsonb, ai int4[], at text[],
    m mood, p posint
);
"""

EVERYTHING_ROWS = """
INSERT INTO everything VALUES
 ({base}+1, -32768, 2147483647, 12345678901234567890123456.7891, 99999999999999999999999999999999999999,
  3.14159265358979323846264338327950288419716939937510, 1.5, 1e308, true,
  'tab\there, newline\nthere, back\\slash, ünïcödé', 'varchar', 'ab',
  '\\x00ff10'::bytea, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '2024-02-29', '23:59:59.999999', '2000-01-01 00:00:00.000001', '2024-06-30 12:34:56.789+02',
  '1 year 2 months 3 days 04:05:06.5', '{{"a": [1, 2, {{"b": null}}]}}', '{{"k": "v", "n": 1.50}}',
  '{{1,2,NULL,4}}', '{{"x y","q\\"uote",NULL}}', 'happy', 42),
 ({base}+2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ({base}+3, 0, -1, -0.0001, -1, 'NaN', '-Infinity', 'NaN', false, '', '', '',
  '\\x'::bytea, '00000000-0000-0000-0000-000000000000',
  '1970-01-01', '00:00:00', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00',
  '-3 days', '[]', '[]', '{{}}', '{{}}', 'sad', 1)
"""

EVERYTHING_COLUMNS = (
    "id, i2, i4, n, nbig, nfree, f4, f8, b, t, vc, ch, by, u, d, tm, ts, tstz, iv, js, jb, "
    "ai, at, m, p"
)
PG_EVERYTHING = (
    "SELECT id, i2, i4, n, nbig, nfree::text, f4, f8, b, t, vc, ch, by, u, d, tm, ts, tstz, "
    "iv::text, js::text, jb::text, ai::text, at::text, m::text, p FROM everything ORDER BY id"
)


def test_issue4_snapshot_then_stream_every_type(floe_server, postgres):
    db = postgres.create_database("types")
    with postgres.connect(db) as conn:
        conn.execute(EVERYTHING)
        conn.execute(EVERYTHING_ROWS.format(base=0))
        # A TOASTed value (incompressible, far over 2 KB).
        big = "".join(random.Random(4).choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(200_000))
        conn.execute("INSERT INTO everything (id, t) VALUES (100, %s)", (big,))
    create_source(floe_server, postgres, db, "types")
    status = wait_state(floe_server, "types")
    assert status[2] == 4, status  # rows copied by the snapshot
    assert "floe-test-pw" not in status[7] and "********" in status[7]

    floe_sql = f"SELECT {EVERYTHING_COLUMNS} FROM public.everything ORDER BY id"
    rows = wait_same(floe_server, postgres, db, floe_sql, PG_EVERYTHING)
    # Spot checks of exactness beyond equality with the driver's values.
    assert rows[0][4] == 10**38 - 1 and rows[0][3] is not None
    assert rows[0][9].startswith("tab\there")

    # Streaming: the same rows inserted live, updates, a key change, deletes.
    with postgres.connect(db) as conn:
        conn.execute(EVERYTHING_ROWS.format(base=10))
        with conn.transaction():
            conn.execute("UPDATE everything SET i4 = i4 - 1, t = 'updated' WHERE id = 1")
            conn.execute("UPDATE everything SET id = 50 WHERE id = 2")
            conn.execute("DELETE FROM everything WHERE id = 3")
        # The TOASTed column is untouched by this UPDATE: it must keep its value.
        conn.execute("UPDATE everything SET i2 = 7 WHERE id = 100")
    rows = wait_same(floe_server, postgres, db, floe_sql, PG_EVERYTHING)
    by_id = {r[0]: r for r in rows}
    assert by_id[100][9] == big and by_id[100][1] == 7
    assert 2 not in by_id and 50 in by_id and 3 not in by_id
    assert by_id[1][9] == "updated"
    status = source_status(floe_server, "types", "everything")
    assert status[0] == "streaming" and status[3] >= 7 and status[4] is None

    # TRUNCATE empties the table; later inserts land in it.
    with postgres.connect(db) as conn:
        conn.execute("TRUNCATE everything")
        conn.execute("INSERT INTO everything (id, t) VALUES (1000, 'after truncate')")
    wait_same(floe_server, postgres, db, floe_sql, PG_EVERYTHING)


def test_issue4_schema_changes_keep_replicating(floe_server, postgres):
    db = replicate(
        floe_server, postgres, "schemas",
        "CREATE TABLE items (id int PRIMARY KEY, qty int, name text, gone text)",
        "CREATE TABLE other (id int PRIMARY KEY, v text)",
        "INSERT INTO items SELECT g, g, 'n' || g, 'x' FROM generate_series(1, 100) g",
        "INSERT INTO other VALUES (1, 'a')",
    )

    def check(columns):
        return wait_same(
            floe_server, postgres, db,
            f"SELECT {columns} FROM public.items ORDER BY id",
            f"SELECT {columns} FROM items ORDER BY id",
        )

    with postgres.connect(db) as conn:
        conn.execute("ALTER TABLE items ADD COLUMN note text")
        conn.execute("INSERT INTO items (id, qty, name, note) VALUES (101, 1, 'new', 'noted')")
    check("id, qty, name, note")
    with postgres.connect(db) as conn:
        conn.execute("ALTER TABLE items RENAME COLUMN name TO title")
        conn.execute("UPDATE items SET qty = 0 WHERE id = 1")
    rows = check("id, qty, title")
    assert rows[4][2] == "n5"  # renamed, not dropped and re-added
    with postgres.connect(db) as conn:
        conn.execute("ALTER TABLE items DROP COLUMN gone")
        conn.execute("ALTER TABLE items ALTER COLUMN qty TYPE bigint")
        conn.execute("INSERT INTO items (id, qty, title) VALUES (102, 9000000000, 'big')")
    check("id, qty, title, note")
    names = [r[0] for r in floe_rows(
        floe_server,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = 'items' ORDER BY ordinal_position")]
    assert "gone" not in names and "title" in names
    with postgres.connect(db) as conn:
        conn.execute("ALTER TABLE items ADD COLUMN region text DEFAULT 'eu'")
        conn.execute("INSERT INTO items (id, qty, title, region) VALUES (103, 1, 'r', 'us')")
    # Existing rows got the default in the source: Floe copies the table again.
    rows = check("id, qty, title, note, region")
    assert rows[0][4] == "eu" and rows[-1][4] == "us"

    # A new table in the publication is picked up, rows and all.
    with postgres.connect(db) as conn:
        conn.execute("CREATE TABLE added (k text PRIMARY KEY, v int)")
        conn.execute("INSERT INTO added VALUES ('a', 1), ('b', 2)")
    wait_same(floe_server, postgres, db, "SELECT k, v FROM public.added ORDER BY k",
              "SELECT k, v FROM added ORDER BY k")

    # An incompatible change pauses that table only, with the reason.
    with postgres.connect(db) as conn:
        conn.execute("ALTER TABLE items ALTER COLUMN title TYPE int USING length(title)")
        conn.execute("INSERT INTO items (id, qty, title) VALUES (104, 1, 5)")
        conn.execute("INSERT INTO other VALUES (2, 'still flowing')")
    status = wait_state(floe_server, "schemas", state="paused", table="items")
    assert "title" in status[4] and "promote" in status[4], status
    wait_same(floe_server, postgres, db, "SELECT id, v FROM public.other ORDER BY id",
              "SELECT id, v FROM other ORDER BY id")
    assert source_status(floe_server, "schemas")[0] == "streaming"


@pytest.mark.floe_timeout(240)
def test_issue4_updates_racing_compaction_keep_one_row_per_key(floe_server, postgres):
    """Replicated updates land while background compaction rewrites the
    same files; every key must still have exactly its latest row."""
    db = replicate(floe_server, postgres, "racing",
                   "CREATE TABLE p (id int PRIMARY KEY, status text, n int)")
    deadline = time.monotonic() + 12
    next_id = 1
    with postgres.connect(db) as conn:
        while time.monotonic() < deadline:
            conn.execute("INSERT INTO p SELECT g, 'pending', 0 FROM generate_series(%s::int, %s::int) g",
                         (next_id, next_id + 49))
            conn.execute("UPDATE p SET status = 'paid', n = n + 1 WHERE id BETWEEN %s AND %s",
                         (max(1, next_id - 200), next_id + 49))
            next_id += 50
            time.sleep(0.02)
    rows = wait_same(floe_server, postgres, db, "SELECT id, status, n FROM public.p ORDER BY id",
                     "SELECT id, status, n FROM p ORDER BY id", timeout=90)
    assert len(rows) == next_id - 1
    snapshots = floe_rows(floe_server, "SELECT count(*) FROM system.snapshots "
                          "WHERE table_name = 'p' AND operation = 'replace'")[0][0]
    assert snapshots > 0, "compaction never ran during the test"


def test_issue4_tables_without_primary_key_are_refused(floe_server, postgres):
    db = postgres.create_database("nokey")
    with postgres.connect(db) as conn:
        conn.execute("CREATE TABLE logs (at timestamptz, line text)")
        conn.execute("CREATE TABLE keyed (id int PRIMARY KEY)")
    create_source(floe_server, postgres, db, "nokey", "INTO SCHEMA mirror")
    status = wait_state(floe_server, "nokey", state="refused", table="logs")
    assert "no primary key" in status[4]
    wait_state(floe_server, "nokey", table="keyed")
    assert floe_rows(floe_server, "SELECT count(*) FROM mirror.keyed") == [(0,)]


class Load:
    """Inserts numbered rows (and updates every fifth) in small
    transactions until stopped; remembers what committed."""

    def __init__(self, pg, db):
        self.pg, self.db = pg, db
        self.next = 1
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                with self.pg.connect(self.db) as conn:
                    while not self.stop.is_set():
                        with conn.transaction():
                            for _ in range(10):
                                conn.execute("INSERT INTO events VALUES (%s, %s)", (self.next, "v0"))
                                if self.next % 5 == 0:
                                    conn.execute("UPDATE events SET v = 'v1' WHERE id = %s", (self.next - 3,))
                                self.next += 1
                        time.sleep(0.005)
            except psycopg.OperationalError:
                time.sleep(0.2)  # the source restarts; the failed transaction never committed

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)


@pytest.mark.floe_timeout(300)
def test_issue4_restarts_of_floe_and_postgres_lose_and_repeat_nothing(floe_factory, postgres):
    floe = floe_factory()
    db = replicate(
        floe, postgres, "restarts",
        "CREATE TABLE events (id int8 PRIMARY KEY, v text)",
        "INSERT INTO events SELECT g, 'v0' FROM generate_series(-999, 0) g",
    )
    compare = ("SELECT id, v FROM public.events ORDER BY id", "SELECT id, v FROM events ORDER BY id")
    with Load(postgres, db) as load:
        wait_until(lambda: load.next > 2000, what="load to start")
        floe.kill()  # kill -9 mid-stream
        time.sleep(1)
        floe.restart()
        wait_until(lambda: load.next > 4000, what="more load")
        postgres.restart()
        wait_until(lambda: load.next > 6000, timeout=120, what="load after the source restart")
    rows = wait_same(floe, postgres, db, *compare, timeout=120)
    assert len(rows) == len(set(r[0] for r in rows)) > 6000
    status = wait_state(floe, "restarts")
    # The slot's confirmed position reached the end of the load.
    with postgres.connect(db) as conn:
        confirmed = conn.execute(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'floe_restarts'"
        ).fetchone()[0]
    assert confirmed == status[1] or status[5] == 0, (confirmed, status)


def test_issue4_drop_source_cleans_up_the_slot_and_publication(floe_server, postgres):
    db = replicate(floe_server, postgres, "dropping",
                   "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    with postgres.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'floe_dropping'").fetchone() == (1,)
    # The lag and progress metrics, in Prometheus' text format.
    metrics = floe_server.http("GET", "/metrics").text()
    assert 'floe_replication_lag_seconds{source="dropping"} ' in metrics, metrics
    assert 'floe_replication_streaming{source="dropping"} 1' in metrics, metrics
    assert 'floe_replication_rows_snapshotted{source="dropping",table="public.t"} 1' in metrics
    with psycopg.connect(floe_server.dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.DuplicateObject):
            conn.execute(f"CREATE SOURCE dropping FROM POSTGRES CONNECTION '{postgres.url(db)}'")
        conn.execute("DROP SOURCE dropping")
        with pytest.raises(psycopg.errors.UndefinedObject):
            conn.execute("DROP SOURCE dropping")
        conn.execute("DROP SOURCE IF EXISTS dropping")
        assert conn.execute("SELECT count(*) FROM system.sources").fetchone() == (0,)
        assert conn.execute("SELECT id FROM public.t").fetchall() == [(1,)]
    with postgres.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'floe_dropping'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_publication WHERE pubname = 'floe_dropping'").fetchone() == (0,)
        # Changed while no source watched: a new source of the same name
        # copies the table again instead of resuming the old one.
        conn.execute("INSERT INTO t VALUES (2)")
    create_source(floe_server, postgres, db, "dropping")
    wait_same(floe_server, postgres, db, "SELECT id FROM public.t ORDER BY id",
              "SELECT id FROM t ORDER BY id")
    with psycopg.connect(floe_server.dsn, autocommit=True) as conn:
        conn.execute("DROP SOURCE dropping")

    # A wrong password is refused with the source's reason, and nothing is declared.
    with psycopg.connect(floe_server.dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as e:
            conn.execute(
                f"CREATE SOURCE bad FROM POSTGRES CONNECTION '{postgres.url(db, password='wrong')}'"
            )
        assert e.value.sqlstate == "08006" and "password authentication failed" in str(e.value)
        assert "wrong" not in str(e.value)
        assert conn.execute("SELECT count(*) FROM system.sources").fetchone() == (0,)


def test_issue4_a_named_publication_is_streamed_and_kept(floe_server, postgres):
    db = postgres.create_database("named")
    with postgres.connect(db) as conn:
        conn.execute("CREATE TABLE inpub (id int PRIMARY KEY, v text)")
        conn.execute("CREATE TABLE outside (id int PRIMARY KEY)")
        conn.execute("INSERT INTO inpub VALUES (1, 'a')")
        conn.execute("CREATE PUBLICATION mine FOR TABLE inpub")
    with psycopg.connect(floe_server.dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as e:
            conn.execute(
                f"CREATE SOURCE named FROM POSTGRES CONNECTION '{postgres.url(db)}' PUBLICATION nosuch"
            )
        assert e.value.sqlstate == "22023"
        assert 'publication "nosuch" does not exist' in str(e.value)
    create_source(floe_server, postgres, db, "named", "PUBLICATION mine")
    wait_state(floe_server, "named")
    with postgres.connect(db) as conn:
        conn.execute("INSERT INTO inpub VALUES (2, 'b')")
        conn.execute("INSERT INTO outside VALUES (1)")
    wait_same(floe_server, postgres, db, "SELECT id, v FROM public.inpub ORDER BY id",
              "SELECT id, v FROM inpub ORDER BY id")
    tables = [r[0] for r in floe_rows(
        floe_server, "SELECT table_name FROM system.sources WHERE source = 'named' AND table_name IS NOT NULL")]
    assert tables == ["inpub"]
    with psycopg.connect(floe_server.dsn, autocommit=True) as conn:
        conn.execute("DROP SOURCE named")
    # A publication Floe did not create stays on the source.
    with postgres.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM pg_publication WHERE pubname = 'mine'").fetchone() == (1,)


def test_issue4_floe_replicate_shows_progress_and_streams(floe_server, floe_bin, postgres):
    db = postgres.create_database("cli")
    with postgres.connect(db) as conn:
        conn.execute("CREATE TABLE payouts (id int PRIMARY KEY, amount numeric(10,2))")
        conn.execute("INSERT INTO payouts SELECT g, g / 100.0 FROM generate_series(1, 50000) g")
    proc = run_floe(
        floe_bin, "replicate", "cli", postgres.url(db), "--table", "public.payouts",
        "--into-schema", "pay", "--url", floe_server.http_url,
    )
    assert proc.returncode == 0, proc.stderr
    assert "source cli is streaming: 50000 rows copied" in proc.stdout, proc.stdout
    assert floe_rows(floe_server, "SELECT count(*), sum(amount) FROM pay.payouts") == [
        (50000, pg_rows(postgres, db, "SELECT sum(amount) FROM payouts")[0][0])
    ]
    # A source that cannot be declared: exit code 1 and the reason.
    bad = run_floe(floe_bin, "replicate", "cli2", postgres.url(db, password="nope"),
                   "--url", floe_server.http_url)
    assert bad.returncode == 1
    assert "password authentication failed" in bad.stderr and "08006" in bad.stderr, bad.stderr


@pytest.mark.floe_timeout(300)
def test_issue4_random_dml_and_ddl_mirror_exactly(floe_server, postgres):
    rng = random.Random(20261124)
    db = replicate(
        floe_server, postgres, "randomized",
        "CREATE TABLE r (id int PRIMARY KEY, a int, b text, c numeric(12,3))",
        "INSERT INTO r SELECT g, g % 7, md5(g::text), g / 3.0 FROM generate_series(1, 500) g",
    )
    columns = ["a", "b", "c"]
    added = 0
    with postgres.connect(db) as conn:
        for step in range(300):
            op = rng.random()
            with conn.transaction():
                for _ in range(rng.randint(1, 5)):
                    k = rng.randint(1, 800)
                    text_col = "bee" if "bee" in columns else "b"
                    num_col = "a" if "a" in columns else "c"
                    if op < 0.35:
                        conn.execute(
                            f"INSERT INTO r (id, {num_col}, {text_col}) VALUES (%s, %s, %s) "
                            f"ON CONFLICT (id) DO UPDATE SET {num_col} = EXCLUDED.{num_col}",
                            (k, rng.randint(-5, 5), f"s{step}"))
                    elif op < 0.6:
                        conn.execute(
                            f"UPDATE r SET {num_col} = {num_col} + 1, {text_col} = %s WHERE id %% 13 = %s",
                            (f"u{step}", k % 13))
                    elif op < 0.75:
                        conn.execute("DELETE FROM r WHERE id = %s", (k,))
                    elif op < 0.8:
                        conn.execute(
                            "UPDATE r SET id = id + 1000 WHERE id = %s AND NOT EXISTS (SELECT 1 FROM r WHERE id = %s)",
                            (k, k + 1000))
                    elif op < 0.85:
                        if rng.random() < 0.05:
                            conn.execute("TRUNCATE r")
                        else:
                            conn.execute("DELETE FROM r WHERE id < %s", (k // 10,))
                    else:
                        conn.execute("UPDATE r SET c = c * 2 WHERE id BETWEEN %s AND %s", (k, k + 20))
            if step in (100, 200):
                added += 1
                conn.execute(f"ALTER TABLE r ADD COLUMN extra{added} int")
                conn.execute(f"UPDATE r SET extra{added} = id WHERE id % 10 = 0")
                columns.append(f"extra{added}")
            if step == 150:
                conn.execute("ALTER TABLE r RENAME COLUMN b TO bee")
                columns[columns.index("b")] = "bee"
            if step == 250:
                conn.execute("ALTER TABLE r DROP COLUMN a")
                columns.remove("a")
    cols = ", ".join(["id"] + columns)
    rows = wait_same(floe_server, postgres, db, f"SELECT {cols} FROM public.r ORDER BY id",
                     f"SELECT {cols} FROM r ORDER BY id", timeout=120)
    # Any Iceberg reader sees exactly the same rows.
    with psycopg.connect(floe_server.dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    table = iceberg_catalog(floe_server).load_table("public.r")
    arrow = table.scan().to_arrow().sort_by("id")
    assert arrow.num_rows == len(rows)
    assert arrow.column("id").to_pylist() == [r[0] for r in rows]
    assert arrow.column("bee").to_pylist() == [r[columns.index("bee") + 1] for r in rows]


@pytest.mark.floe_timeout(240)
def test_issue4_payments_example_answers_live(floe_server, postgres):
    """examples/payments: schema, load generator and queries, as its README runs them."""
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "payments"
    db = replicate(floe_server, postgres, "payments", (example / "schema.sql").read_text())
    load = subprocess.run(
        [sys.executable, str(example / "load.py"), "--dsn", postgres.url(db), "--rate", "100",
         "--duration", "8", "--seed", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert load.returncode == 0, load.stderr
    wait_same(floe_server, postgres, db,
              "SELECT id, status, amount, paid_at FROM public.payouts ORDER BY id",
              "SELECT id, status, amount, paid_at FROM payouts ORDER BY id")
    out = subprocess.run(
        ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(floe_server.pg_port),
         "-U", "floe", "-d", "floe", "-f", str(example / "queries.sql")],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "success_rate" in out.stdout and "median_seconds" in out.stdout
    # The success rate by country and method matches the source's.
    paid, failed = pg_rows(postgres, db,
                           "SELECT count(*) FILTER (WHERE status = 'paid'), "
                           "count(*) FILTER (WHERE status = 'failed') FROM payouts")[0]
    assert paid > 0
    got = floe_rows(floe_server, "SELECT count(*) FILTER (WHERE status = 'paid'), "
                    "count(*) FILTER (WHERE status = 'failed') FROM public.payouts")[0]
    assert got == (paid, failed)


@pytest.mark.floe_timeout(300)
def test_issue14_a_paused_table_stays_paused_across_restarts_until_copied_again(floe_factory, postgres):
    """A paused table skipped changes the slot has confirmed since: after a
    restart it must not resume streaming from the slot (a silent gap), only
    through a new copy, which brings exactly the source's rows."""
    floe = floe_factory()
    db = replicate(
        floe, postgres, "pauses",
        "CREATE TABLE amounts (id int PRIMARY KEY, amount numeric(10,2))",
        "CREATE TABLE other (id int PRIMARY KEY, v text)",
        "INSERT INTO amounts SELECT g, g FROM generate_series(1, 10) g",
    )
    amounts = ("SELECT id, amount FROM public.amounts ORDER BY id",
               "SELECT id, amount FROM amounts ORDER BY id")
    other = ("SELECT id, v FROM public.other ORDER BY id", "SELECT id, v FROM other ORDER BY id")
    wait_same(floe, postgres, db, *amounts)

    # NaN does not fit decimal(10,2): the table pauses, with the reason;
    # the other table goes on, and the slot confirms past the skipped rows.
    with postgres.connect(db) as conn:
        with conn.transaction():
            conn.execute("INSERT INTO amounts VALUES (11, 11), (12, 'NaN')")
        conn.execute("INSERT INTO amounts VALUES (13, 13)")
        conn.execute("INSERT INTO other VALUES (1, 'a')")
    status = wait_state(floe, "pauses", state="paused", table="amounts")
    assert "NaN" in status[4], status
    wait_same(floe, postgres, db, *other)
    state_file = Path(floe.data_dir) / "sources" / "pauses.state"
    assert "public.amounts" in state_file.read_text()

    def check_still_paused(marker):
        # The stream after the restart reaches `other`'s new row; a table that
        # resumed streaming would have row 14 applied by then.
        wait_state(floe, "pauses")
        with postgres.connect(db) as conn:
            conn.execute("INSERT INTO other VALUES (%s, 'after restart')", (marker,))
        wait_same(floe, postgres, db, *other)
        status = source_status(floe, "pauses", "amounts")
        assert status[0] == "paused" and "NaN" in status[4], status
        ids = [r[0] for r in floe_rows(floe, amounts[0])]
        assert ids == list(range(1, 11)), ids

    with postgres.connect(db) as conn:
        conn.execute("INSERT INTO amounts VALUES (14, 14)")
    floe.restart()
    # The copy at reconnect fails on the same value: still paused, and the
    # failed copy left the table's rows as they were.
    check_still_paused(2)
    floe.kill()  # kill -9: the pause was durable before the slot moved past it
    floe.restart()
    check_still_paused(3)

    # Once the value is fixed, the next connect copies the table again:
    # exactly the source's rows, then streaming.
    with postgres.connect(db) as conn:
        conn.execute("UPDATE amounts SET amount = 12 WHERE id = 12")
    floe.restart()
    wait_state(floe, "pauses", state="streaming", table="amounts")
    rows = wait_same(floe, postgres, db, *amounts)
    assert [r[0] for r in rows] == list(range(1, 15))
    with postgres.connect(db) as conn:
        conn.execute("INSERT INTO amounts VALUES (15, 15)")
        conn.execute("DELETE FROM amounts WHERE id = 1")
    wait_same(floe, postgres, db, *amounts)
    assert "public.amounts" not in state_file.read_text()
    assert source_status(floe, "pauses", "amounts")[4] is None


@pytest.mark.floe_timeout(240)
def test_issue14_replication_over_tls_verifies_the_server(floe_server, tmp_path):
    """sslmode=verify-full against PostgreSQL 15 with ssl = on and TLS-only
    client authentication (hostssl): the copy and the stream go over TLS;
    a server the CA does not vouch for is refused, with the reason."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_path, key_path, ca_path = tmp_path / "server.crt", tmp_path / "server.key", tmp_path / "ca.pem"
    cert.private_key_pem.write_to_path(key_path)
    cert.cert_chain_pems[0].write_to_path(cert_path)
    ca.cert_pem.write_to_path(ca_path)
    pg = PostgresServer(ssl_cert=cert_path, ssl_key=key_path, hostssl_only=True).start()
    try:
        # Plain TCP is refused by the server.
        with pytest.raises(psycopg.OperationalError, match="no encryption"):
            psycopg.connect(host="127.0.0.1", port=pg.port, user="postgres", password=PASSWORD,
                            dbname="postgres", sslmode="disable", connect_timeout=10)
        db = pg.create_database("tls")
        with pg.connect(db) as conn:
            conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
            conn.execute("INSERT INTO t SELECT g, 'copied' FROM generate_series(1, 100) g")

        def url(mode, root=ca_path):
            return (f"postgres://postgres:{PASSWORD}@localhost:{pg.port}/{db}"
                    f"?sslmode={mode}&sslrootcert={root}")

        with psycopg.connect(floe_server.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SOURCE tls FROM POSTGRES CONNECTION '{url('verify-full')}'")
        status = wait_state(floe_server, "tls")
        assert status[2] == 100, status
        assert "sslmode=verify-full" in status[7] and PASSWORD not in status[7], status
        compare = ("SELECT id, v FROM public.t ORDER BY id", "SELECT id, v FROM t ORDER BY id")
        with pg.connect(db) as conn:
            conn.execute("INSERT INTO t VALUES (101, 'streamed')")
            conn.execute("UPDATE t SET v = 'changed' WHERE id = 1")
        rows = wait_same(floe_server, pg, db, *compare)
        assert rows[0] == (1, "changed") and rows[-1] == (101, "streamed")
        # Every connection Floe holds to the source is encrypted, the
        # walsender of the stream included.
        with pg.connect(db) as conn:
            seen = conn.execute(
                "SELECT a.backend_type, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                "WHERE a.application_name = 'floe'").fetchall()
        assert seen and all(ssl for _, ssl in seen), seen
        assert any(kind == "walsender" for kind, _ in seen), seen

        # A CA that did not sign the server's certificate: refused, and the
        # error names the certificate problem; nothing is declared.
        other = trustme.CA()
        other_path = tmp_path / "other-ca.pem"
        other.cert_pem.write_to_path(other_path)
        with psycopg.connect(floe_server.dsn, autocommit=True) as conn:
            with pytest.raises(psycopg.Error) as e:
                conn.execute(
                    f"CREATE SOURCE wrongca FROM POSTGRES CONNECTION '{url('verify-full', other_path)}'")
            assert e.value.sqlstate == "08006", e.value
            assert "certificate" in str(e.value) and "UnknownIssuer" in str(e.value), e.value
            # verify-full names the host; a verifying mode needs a CA file.
            with pytest.raises(psycopg.Error) as e:
                conn.execute(
                    f"CREATE SOURCE noca FROM POSTGRES CONNECTION "
                    f"'postgres://postgres:{PASSWORD}@localhost:{pg.port}/{db}?sslmode=verify-full'")
            assert "sslrootcert" in str(e.value), e.value
            # Without TLS the server's hostssl-only rules refuse Floe.
            with pytest.raises(psycopg.Error) as e:
                conn.execute(f"CREATE SOURCE plain FROM POSTGRES CONNECTION '{url('disable')}'")
            assert "no encryption" in str(e.value), e.value
            names = [r[0] for r in conn.execute("SELECT DISTINCT source FROM system.sources").fetchall()]
            assert names == ["tls"], names
            conn.execute("DROP SOURCE tls")
    finally:
        pg.cleanup()


@pytest.mark.floe_timeout(240)
def test_issue14_a_transaction_over_the_memory_limit_is_applied_exactly(floe_server, postgres):
    """A source transaction of more than 100,000 row changes goes to a
    spill file in the data directory and is applied from it; the result is
    exactly the source's, and no file is left."""
    db = replicate(
        floe_server, postgres, "bigtxn",
        "CREATE TABLE big (id int PRIMARY KEY, v text, n int)",
        "CREATE TABLE side (id int PRIMARY KEY, v text)",
        "INSERT INTO big SELECT g, 'before', 0 FROM generate_series(1, 1000) g",
    )
    with postgres.connect(db) as conn:
        with conn.transaction():
            conn.execute("INSERT INTO big SELECT g, 'new', g % 7 FROM generate_series(1001, 150000) g")
            conn.execute("UPDATE big SET v = 'updated', n = n + 1 WHERE id % 10 = 0")
            conn.execute("DELETE FROM big WHERE id % 1000 = 1")
            conn.execute("INSERT INTO side VALUES (1, 'same transaction')")
        conn.execute("INSERT INTO side VALUES (2, 'after')")
        conn.execute("UPDATE big SET v = 'later' WHERE id = 5")
    summary = ("SELECT count(*), sum(n), count(*) FILTER (WHERE v = 'updated'), "
               "min(id), max(id) FROM {}")
    wait_same(floe_server, postgres, db, summary.format("public.big"), summary.format("big"),
              timeout=180)
    wait_same(floe_server, postgres, db, "SELECT id, v FROM public.side ORDER BY id",
              "SELECT id, v FROM side ORDER BY id")
    assert floe_rows(floe_server, "SELECT v FROM public.big WHERE id = 5") == [("later",)]
    spill = Path(floe_server.data_dir) / "cdc-spill"
    assert not spill.exists() or not any(spill.iterdir()), list(spill.iterdir())
    status = source_status(floe_server, "bigtxn", "big")
    assert status[0] == "streaming" and status[3] >= 149_000 + 15_000, status
