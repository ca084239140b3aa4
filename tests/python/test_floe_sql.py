"""`floe sql`: embedded mode on a data directory and client mode over HTTP."""

from __future__ import annotations

import csv
import io
import json
import time

from floe_helpers import describe, run_floe


def sql(floe_bin, *args, ok=True, timeout=120):
    proc = run_floe(floe_bin, "sql", *args, timeout=timeout)
    if ok:
        assert proc.returncode == 0, describe(proc)
    return proc


def csv_rows(text: str) -> list[list[str]]:
    return [r for r in csv.reader(io.StringIO(text)) if r]


def ndjson(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def seed(floe_bin, data_dir):
    sql(
        floe_bin,
        "--data-dir",
        str(data_dir),
        "-c",
        "CREATE TABLE people (id BIGINT, name TEXT, age INT)",
    )
    sql(
        floe_bin,
        "--data-dir",
        str(data_dir),
        "-c",
        "INSERT INTO people VALUES (1, 'ada', 36), (2, 'brian', NULL), (3, 'grace, \"amazing\"', 85)",
    )


def test_embedded_csv(floe_bin, tmp_path):
    d = tmp_path / "data"
    seed(floe_bin, d)
    proc = sql(
        floe_bin,
        "--data-dir",
        str(d),
        "--format",
        "csv",
        "-c",
        "SELECT id, name, age FROM people ORDER BY id",
    )
    assert csv_rows(proc.stdout) == [
        ["id", "name", "age"],
        ["1", "ada", "36"],
        ["2", "brian", ""],
        ["3", 'grace, "amazing"', "85"],
    ]


def test_embedded_json(floe_bin, tmp_path):
    d = tmp_path / "data"
    seed(floe_bin, d)
    proc = sql(
        floe_bin,
        "--data-dir",
        str(d),
        "--format",
        "json",
        "-c",
        "SELECT id, name, age FROM people ORDER BY id",
    )
    assert ndjson(proc.stdout) == [
        {"id": 1, "name": "ada", "age": 36},
        {"id": 2, "name": "brian", "age": None},
        {"id": 3, "name": 'grace, "amazing"', "age": 85},
    ]


def test_embedded_table_format(floe_bin, tmp_path):
    d = tmp_path / "data"
    proc = sql(floe_bin, "--data-dir", str(d), "-c", "SELECT 42 AS the_answer, 'hello' AS greeting")
    assert "the_answer" in proc.stdout and "greeting" in proc.stdout, describe(proc)
    assert "42" in proc.stdout and "hello" in proc.stdout, describe(proc)


def test_embedded_several_c_options(floe_bin, tmp_path):
    d = tmp_path / "data"
    proc = sql(
        floe_bin,
        "--data-dir",
        str(d),
        "--format",
        "csv",
        "-c",
        "CREATE TABLE m (a BIGINT)",
        "-c",
        "INSERT INTO m VALUES (5), (6)",
        "-c",
        "SELECT sum(a) AS s FROM m",
    )
    assert ["s"] in csv_rows(proc.stdout) and ["11"] in csv_rows(proc.stdout), describe(proc)


def test_embedded_file(floe_bin, tmp_path):
    d = tmp_path / "data"
    script = tmp_path / "script.sql"
    script.write_text(
        "CREATE SCHEMA inv;\n"
        "CREATE TABLE inv.items (sku TEXT, qty BIGINT);\n"
        "-- a comment line\n"
        "INSERT INTO inv.items VALUES ('a-1', 3), ('b-2', 4);\n"
        "INSERT INTO inv.items\n  VALUES ('c-3', 5);\n"
        "SELECT sku, qty FROM inv.items ORDER BY sku;\n"
    )
    proc = sql(floe_bin, "--data-dir", str(d), "--format", "csv", "-f", str(script))
    rows = csv_rows(proc.stdout)
    for expected in (["a-1", "3"], ["b-2", "4"], ["c-3", "5"]):
        assert expected in rows, describe(proc)
    # the effects were committed to the data directory
    proc = sql(
        floe_bin,
        "--data-dir",
        str(d),
        "--format",
        "csv",
        "-c",
        "SELECT count(*) AS n, sum(qty) AS q FROM inv.items",
    )
    assert csv_rows(proc.stdout) == [["n", "q"], ["3", "12"]]


def test_embedded_error_exits_nonzero(floe_bin, tmp_path):
    d = tmp_path / "data"
    proc = sql(floe_bin, "--data-dir", str(d), "-c", "SELECT * FROM no_such_table_cli", ok=False)
    assert proc.returncode != 0, describe(proc)
    assert "no_such_table_cli" in proc.stderr, describe(proc)


def test_embedded_data_is_served(floe_bin, floe_factory, tmp_path):
    d = tmp_path / "shared-data"
    seed(floe_bin, d)
    srv = floe_factory(data_dir=d)
    assert srv.query("SELECT id, name FROM people ORDER BY id") == [
        (1, "ada"),
        (2, "brian"),
        (3, 'grace, "amazing"'),
    ]


def test_client_mode_over_http(floe_bin, floe_server):
    floe_server.query("CREATE TABLE remote_t (k BIGINT, v TEXT)")
    floe_server.query("INSERT INTO remote_t VALUES (1, 'x'), (2, 'y')")
    url = floe_server.http_url
    proc = sql(
        floe_bin, "--url", url, "--format", "csv", "-c", "SELECT k, v FROM remote_t ORDER BY k"
    )
    assert csv_rows(proc.stdout) == [["k", "v"], ["1", "x"], ["2", "y"]]
    proc = sql(
        floe_bin, "--url", url, "--format", "json", "-c", "SELECT k, v FROM remote_t ORDER BY k"
    )
    assert ndjson(proc.stdout) == [{"k": 1, "v": "x"}, {"k": 2, "v": "y"}]
    # writes through the CLI are visible to other clients
    sql(floe_bin, "--url", url, "-c", "INSERT INTO remote_t VALUES (3, 'z')")
    assert floe_server.query("SELECT count(*) FROM remote_t")[0][0] == 3
    # errors are reported with a non-zero exit
    proc = sql(floe_bin, "--url", url, "-c", "SELECT * FROM no_such_remote", ok=False)
    assert proc.returncode != 0, describe(proc)
    assert "no_such_remote" in proc.stderr, describe(proc)


def test_embedded_on_dir_held_by_server_fails(floe_bin, floe_server):
    t0 = time.monotonic()
    proc = sql(
        floe_bin, "--data-dir", str(floe_server.data_dir), "-c", "SELECT 1", ok=False, timeout=30
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode != 0, describe(proc)
    assert elapsed < 15, f"took {elapsed:.1f}s\n{describe(proc)}"
    msg = (proc.stderr + proc.stdout).lower()
    assert "in use" in msg or "lock" in msg, describe(proc)
    # the server is unaffected
    assert floe_server.query("SELECT 1")[0][0] == 1


def test_issue23_the_shell_runs_statements_as_written(floe_bin, floe_server):
    import psycopg

    url = floe_server.http_url
    sql(
        floe_bin, "--url", url, "-c",
        "CREATE USER shelly PASSWORD 'it''s; secret'; "
        "CREATE TOKEN IF NOT EXISTS shelltok; CREATE TOKEN IF NOT EXISTS shelltok",
    )
    # The password is the one typed, not a masked copy of the statement.
    with psycopg.connect(
        host="127.0.0.1", port=floe_server.pg_port, user="shelly",
        password="it's; secret", dbname="floe", connect_timeout=10,
    ) as conn:
        cur = conn.execute("SELECT current_user, session_user")
        assert cur.fetchone() == ("shelly", "shelly")
        assert [d.name for d in cur.description] == ["current_user", "session_user"]
        # Both protocols, and inside an expression.
        cur = conn.execute("SELECT upper(current_user) AS u WHERE current_user = %s", ["shelly"])
        assert cur.fetchall() == [("SHELLY",)]
    assert floe_server.query("SELECT name FROM system.tokens WHERE name = 'shelltok'") == [
        ("shelltok",)
    ]
