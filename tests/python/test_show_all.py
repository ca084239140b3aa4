"""`SHOW ALL`, checked against a live PostgreSQL 15: Floe lists its
settings with PostgreSQL's columns and names, the values a session set
itself, and its custom settings; over psql, psycopg and HTTP."""

from __future__ import annotations

import subprocess

from floe_helpers import unique_name

# Settings whose value is the same in a fresh session of either server.
SAME_VALUE = [
    "client_encoding",
    "DateStyle",
    "IntervalStyle",
    "integer_datetimes",
    "max_identifier_length",
    "server_encoding",
    "standard_conforming_strings",
    "statement_timeout",
    "TimeZone",
    "transaction_isolation",
    "transaction_read_only",
]


def show_all(conn) -> dict[str, tuple[str, str]]:
    cur = conn.execute("SHOW ALL")
    assert [d.name for d in cur.description] == ["name", "setting", "description"]
    return {name: (setting, about) for name, setting, about in cur.fetchall()}


def test_issue23_show_all_lists_postgres_settings(floe_shared, postgres):
    db = postgres.create_database(unique_name("show_all_db"))
    with postgres.connect(db) as pg, floe_shared.connect() as fl:
        pg.execute("SET TimeZone = 'UTC'")
        want = show_all(pg)
        got = show_all(fl)
    # Every setting Floe lists is one of PostgreSQL's, under its name.
    assert set(got) <= set(want), set(got) - set(want)
    for name in SAME_VALUE:
        assert got[name][0] == want[name][0], name
        assert got[name][1], f"{name} has a description"
    assert got["server_version"][0].startswith("15.")
    # In PostgreSQL's order: by name, whatever its case.
    names = list(got)
    assert names == sorted(names, key=str.lower)


def test_issue23_show_all_shows_the_session_values(floe_shared):
    with floe_shared.connect(application_name="probe-app") as conn:
        assert show_all(conn)["application_name"][0] == "probe-app"
        conn.execute("SET TimeZone = 'Europe/Paris'")
        conn.execute("SET app.tenant = 'acme'")
        conn.execute("SET DateStyle = 'ISO, DMY'")
        settings = show_all(conn)
        assert settings["TimeZone"][0] == "Europe/Paris"
        assert settings["app.tenant"][0] == "acme"
        assert settings["DateStyle"][0] == "ISO, DMY"
    # Another session does not see them.
    with floe_shared.connect() as other:
        settings = show_all(other)
        assert "app.tenant" not in settings
        assert settings["TimeZone"][0] == "UTC"


def test_issue23_show_all_over_psql_and_http(floe_shared):
    out = subprocess.run(
        ["psql", floe_shared.dsn, "-X", "-A", "-t", "-c", "SHOW ALL"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    rows = {line.split("|")[0]: line.split("|")[1] for line in out.splitlines() if "|" in line}
    assert rows["server_encoding"] == "UTF8"
    resp = floe_shared.sql_http("SHOW ALL")
    assert resp.status == 200, resp.body
    body = resp.json()
    assert [c["name"] for c in body["columns"]] == ["name", "setting", "description"]
    assert ["server_encoding", "UTF8"] in [r[:2] for r in body["rows"]]


def test_issue23_set_unquoted_values_as_postgres(floe_shared, postgres):
    """A number or a bare word after SET is the setting's value, as in
    PostgreSQL: SHOW gives back the same text on both servers."""
    statements = [
        ("SET extra_float_digits = 3", "SHOW extra_float_digits"),
        ("SET application_name = nightly_report", "SHOW application_name"),
        ("SET extra_float_digits TO -2", "SHOW extra_float_digits"),
        ("SET application_name = 'quoted one'", "SHOW application_name"),
    ]
    db = postgres.create_database(unique_name("set_values_db"))
    with postgres.connect(db) as pg, floe_shared.connect() as fl:
        for set_stmt, show in statements:
            pg.execute(set_stmt)
            fl.execute(set_stmt)
            want = pg.execute(show).fetchone()[0]
            assert fl.execute(show).fetchone()[0] == want, set_stmt
