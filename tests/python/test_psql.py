"""The real `psql` client against floe serve."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from floe_helpers import describe, unique_name

PSQL = shutil.which("psql")


@pytest.fixture(scope="module")
def psql_bin():
    if PSQL is None:
        pytest.fail("psql not found on PATH (install postgresql-client)", pytrace=False)
    return PSQL


def psql(psql_bin, srv, *args, input=None, stop_on_error=True, timeout=60):
    cmd = [
        psql_bin,
        "-h",
        "127.0.0.1",
        "-p",
        str(srv.pg_port),
        "-U",
        "floe",
        "-d",
        "floe",
        "-X",  # no ~/.psqlrc
        "-A",  # unaligned
        "-t",  # tuples only
        "-w",  # never prompt for a password
    ]
    if stop_on_error:
        cmd += ["-v", "ON_ERROR_STOP=1"]
    cmd += list(args)
    env = dict(os.environ, PGCONNECT_TIMEOUT="10", PAGER="", PSQL_PAGER="")
    env.pop("PGPASSWORD", None)
    env.pop("PGSERVICE", None)
    return subprocess.run(
        cmd,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def ok(proc):
    assert proc.returncode == 0, describe(proc)
    return proc.stdout


def lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


def test_create_insert_select(psql_bin, floe_shared):
    t = unique_name("psql")
    ok(
        psql(
            psql_bin,
            floe_shared,
            "-c",
            f"CREATE TABLE {t} (id BIGINT, name TEXT, price DOUBLE PRECISION)",
        )
    )
    ok(
        psql(
            psql_bin,
            floe_shared,
            "-c",
            f"INSERT INTO {t} VALUES (1, 'alice', 1.5), (2, 'bob', NULL), (3, 'carol', 3.25)",
        )
    )
    out = ok(psql(psql_bin, floe_shared, "-c", f"SELECT id, name, price FROM {t} ORDER BY id"))
    assert lines(out) == ["1|alice|1.5", "2|bob|", "3|carol|3.25"]
    out = ok(psql(psql_bin, floe_shared, "-c", f"SELECT count(*), sum(id) FROM {t}"))
    assert lines(out) == ["3|6"]


def test_insert_reports_row_count(psql_bin, floe_shared):
    t = unique_name("psqltag")
    ok(psql(psql_bin, floe_shared, "-c", f"CREATE TABLE {t} (a BIGINT)"))
    # without -t psql prints the command tag
    proc = psql(psql_bin, floe_shared, "-c", f"INSERT INTO {t} VALUES (1), (2), (3), (4)")
    ok(proc)
    proc = subprocess.run(
        [
            psql_bin,
            "-h",
            "127.0.0.1",
            "-p",
            str(floe_shared.pg_port),
            "-U",
            "floe",
            "-d",
            "floe",
            "-X",
            "-w",
            "-c",
            f"INSERT INTO {t} VALUES (5), (6)",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PGCONNECT_TIMEOUT="10"),
    )
    assert proc.returncode == 0, describe(proc)
    assert "INSERT 0 2" in proc.stdout, describe(proc)


def test_script_file_with_several_statements(psql_bin, floe_shared, tmp_path):
    t = unique_name("psqlf")
    script = tmp_path / "script.sql"
    script.write_text(
        f"CREATE TABLE {t} (k BIGINT, v TEXT);\n"
        f"INSERT INTO {t} VALUES (1, 'one');\n"
        f"INSERT INTO {t} VALUES (2, 'two');\n"
        f"SELECT k || ':' || v FROM {t} ORDER BY k;\n"
    )
    out = ok(psql(psql_bin, floe_shared, "-f", str(script)))
    assert "1:one" in lines(out) and "2:two" in lines(out), out


def test_dt_lists_table(psql_bin, floe_shared):
    t = unique_name("psqldt")
    ok(psql(psql_bin, floe_shared, "-c", f"CREATE TABLE {t} (id BIGINT)"))
    out = ok(psql(psql_bin, floe_shared, "-c", "\\dt"))
    rows = [line.split("|") for line in lines(out)]
    assert any(r[:3] == ["public", t, "table"] for r in rows), out


def test_d_table_shows_columns_and_types(psql_bin, floe_shared):
    t = unique_name("psqld")
    ok(
        psql(
            psql_bin,
            floe_shared,
            "-c",
            f"CREATE TABLE {t} (id BIGINT, n INT, name TEXT, score DOUBLE PRECISION, "
            "amount DECIMAL(10,2), d DATE, ts TIMESTAMP, flag BOOLEAN)",
        )
    )
    out = ok(psql(psql_bin, floe_shared, "-c", f"\\d {t}"))
    cols = {}
    for line in lines(out):
        parts = line.split("|")
        if len(parts) >= 2:
            cols[parts[0]] = parts[1]
    expected = {
        "id": {"bigint"},
        "n": {"integer"},
        "name": {"text", "character varying"},
        "score": {"double precision"},
        "amount": {"numeric(10,2)"},
        "d": {"date"},
        "ts": {"timestamp without time zone"},
        "flag": {"boolean"},
    }
    for name, types in expected.items():
        assert name in cols, f"column {name} missing from \\d output:\n{out}"
        assert cols[name] in types, (
            f"column {name}: type {cols[name]!r}, expected one of {types}\n{out}"
        )


def test_error_message_and_exit_code(psql_bin, floe_shared):
    proc = psql(psql_bin, floe_shared, "-c", "SELECT * FROM no_such_table_psql")
    assert proc.returncode != 0, describe(proc)
    assert "ERROR" in proc.stderr, describe(proc)
    assert "no_such_table_psql" in proc.stderr, describe(proc)


def test_on_error_stop_aborts_script(psql_bin, floe_shared):
    t = unique_name("psqlstop")
    ok(psql(psql_bin, floe_shared, "-c", f"CREATE TABLE {t} (a BIGINT)"))
    script = (
        f"INSERT INTO {t} VALUES (1);\n"
        "SELECT * FROM no_such_table_stop;\n"
        f"INSERT INTO {t} VALUES (2);\n"
    )
    proc = psql(psql_bin, floe_shared, input=script)
    assert proc.returncode == 3, describe(proc)  # psql: script error with ON_ERROR_STOP
    assert "no_such_table_stop" in proc.stderr, describe(proc)
    out = ok(psql(psql_bin, floe_shared, "-c", f"SELECT a FROM {t} ORDER BY a"))
    assert lines(out) == ["1"], "statements after the error must not run"


def test_syntax_error_reports_sqlstate(psql_bin, floe_shared):
    proc = psql(psql_bin, floe_shared, "-v", "VERBOSITY=verbose", "-c", "SELEC 1")
    assert proc.returncode != 0, describe(proc)
    assert "42601" in proc.stderr, describe(proc)


def test_issue23_dn_df_and_l(psql_bin, floe_shared):
    """psql's schema, function and database lists."""
    out = ok(psql(psql_bin, floe_shared, "-c", "\\dn"))
    schemas = [line.split("|")[0] for line in lines(out)]
    assert "public" in schemas, out

    # \df lists user functions: Floe has none, and says so without an error.
    out = ok(psql(psql_bin, floe_shared, "-c", "\\df"))
    assert lines(out) == [], out

    out = ok(psql(psql_bin, floe_shared, "-c", "\\l"))
    assert any(line.split("|")[0] == "floe" for line in lines(out)), out


def test_issue23_psql_sees_postgresql_text_forms(psql_bin, floe_shared):
    # Doubles as PostgreSQL writes them (not 12123457.0, 1e20, inf), the
    # fraction of EXTRACT(second ...), the session's time zone and user.
    out = ok(psql(psql_bin, floe_shared, "-c",
                  "SELECT 12123457::float8, 1e20::float8, 'inf'::float8, 0.00001::float8, "
                  "1234567::real, EXTRACT(second FROM timestamp '2020-01-01 00:00:12.5'), "
                  "current_user"))
    assert lines(out) == ["12123457|1e+20|Infinity|1e-05|1.234567e+06|12.5|floe"]
    assert lines(ok(psql(psql_bin, floe_shared, "-c", "SHOW TimeZone"))) == ["UTC"]
    # Dates, times, timestamps and intervals as PostgreSQL 15 prints them
    # (no .000000), with its date arithmetic, AT TIME ZONE and templates.
    out = ok(psql(psql_bin, floe_shared, "-c",
                  "SELECT DATE '2001-09-28' + INTERVAL '1 hour', TIME '22:00' + INTERVAL '3 hours', "
                  "TIMESTAMP '2001-09-29 03:00:00' - TIMESTAMP '2001-07-27 12:00:00', "
                  "TIMESTAMPTZ '2000-01-01 00:00:00Z' AT TIME ZONE 'Asia/Kolkata', "
                  "make_date(10001, 1, 27), TIMESTAMP '2000-01-01 00:00:00.5', "
                  "to_char(DATE '2000-02-03', 'FMDay DDth %Y')"))
    assert lines(out) == ["2001-09-28 01:00:00|01:00:00|63 days 15:00:00|2000-01-01 05:30:00|"
                          "10001-01-27|2000-01-01 00:00:00.5|Thursday 03rd %0"]
    # A malformed Floe statement: Floe's syntax error, with line and column.
    proc = psql(psql_bin, floe_shared, "-c", "CREATE SOURCE s FROM MYSQL CONNECTION 'x'")
    assert proc.returncode != 0
    assert "Expected: POSTGRES, found: MYSQL at Line: 1, Column: 22" in proc.stderr, proc.stderr


def test_issue23_d_plus_and_dt_plus(psql_bin, floe_shared):
    """psql's `\\d+` (columns with storage and description) and `\\dt+`
    (tables with persistence and size): their catalog queries use
    ARRAY(subquery), unnest in FROM, pg_table_size and pg_size_pretty."""
    t = unique_name("psqldplus")
    ok(
        psql(
            psql_bin,
            floe_shared,
            "-c",
            f"CREATE TABLE {t} (id BIGINT NOT NULL, name TEXT, score DOUBLE PRECISION)",
        )
    )
    out = ok(psql(psql_bin, floe_shared, "-c", f"\\d+ {t}"))
    rows = {r[0]: r for r in (line.split("|") for line in lines(out)) if len(r) >= 6}
    assert set(rows) == {"id", "name", "score"}, out
    # column | type | collation | nullable | default | storage | ...
    assert rows["id"][1:4] == ["bigint", "", "not null"], out
    assert rows["name"][1] == "text" and rows["name"][5] == "extended", out
    assert rows["score"][1] == "double precision" and rows["score"][5] == "plain", out

    # The size is the table's files (system.tables.bytes), rendered as
    # PostgreSQL's pg_size_pretty does.
    ok(
        psql(
            psql_bin,
            floe_shared,
            "-c",
            f"INSERT INTO {t} SELECT g, 'row ' || g, g / 7.0 FROM generate_series(1, 20000) g",
            "-c",
            "CHECKPOINT",
        )
    )
    out = ok(
        psql(
            psql_bin,
            floe_shared,
            "-c",
            f"SELECT bytes, pg_table_size('{t}'::regclass), pg_size_pretty(bytes) "
            f"FROM system.tables WHERE table_name = '{t}'",
        )
    )
    bytes_, size, pretty = lines(out)[0].split("|")
    assert int(bytes_) > 10 * 1024 and size == bytes_, out
    assert pretty == f"{(int(bytes_) + 512) // 1024} kB", out
    out = ok(psql(psql_bin, floe_shared, "-c", "\\dt+"))
    rows = [line.split("|") for line in lines(out)]
    mine = [r for r in rows if r[:2] == ["public", t]]
    assert len(mine) == 1, out
    assert (mine[0][2], mine[0][4], mine[0][6]) == ("table", "permanent", pretty), out


def test_issue23_d_plus_shows_a_view_and_its_query(psql_bin, floe_shared):
    """psql's `\\dv` lists views, and `\\d+ view` shows its columns and
    its query (pg_get_viewdef)."""
    t = unique_name("psqlview")
    ok(
        psql(
            psql_bin,
            floe_shared,
            "-c",
            f"CREATE TABLE {t} (id BIGINT, name TEXT)",
            "-c",
            f"CREATE VIEW {t}_v AS SELECT id, upper(name) AS loud FROM {t} WHERE id > 1",
        )
    )
    out = ok(psql(psql_bin, floe_shared, "-c", "\\dv"))
    assert f"public|{t}_v|view|" in out, out
    out = ok(psql(psql_bin, floe_shared, "-c", f"\\d+ {t}_v"))
    rows = {r[0]: r for r in (line.split("|") for line in lines(out)) if len(r) >= 3}
    assert rows["id"][1] == "bigint" and rows["loud"][1] == "text", out
    # The query \d+ prints under "View definition:" (psql -t leaves
    # footers out), and NULL for a relation that is not a view.
    out = ok(
        psql(
            psql_bin,
            floe_shared,
            "-c",
            f"SELECT pg_get_viewdef('{t}_v'::regclass, true), "
            f"pg_get_viewdef('{t}'::regclass) IS NULL",
        )
    )
    assert lines(out) == [f"SELECT id, upper(name) AS loud FROM {t} WHERE id > 1|t"], out
