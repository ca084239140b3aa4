"""HTTP API: /healthz, /v1/tables, /v1/sql in JSON, CSV and Arrow IPC."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pyarrow.compute
import pyarrow.ipc

from floe_helpers import unique_name

ARROW_STREAM = "application/vnd.apache.arrow.stream"


def make_table(srv) -> str:
    t = unique_name("h")
    resp = srv.sql_http(
        f"CREATE TABLE {t} (id BIGINT NOT NULL, name TEXT, score DOUBLE PRECISION); "
        f"INSERT INTO {t} VALUES (1, 'alice', 1.5), (2, 'bob', NULL), (3, NULL, -2.25)"
    )
    assert resp.status == 200, resp.body
    return t


def test_healthz(floe_shared):
    resp = floe_shared.http("GET", "/healthz")
    assert resp.status == 200
    assert resp.content_type.startswith("application/json")
    assert resp.json() == {"status": "ok"}


def test_unknown_path_is_404(floe_shared):
    assert floe_shared.http("GET", "/v1/no-such-endpoint").status == 404


def test_tables_lists_created_table_with_columns(floe_shared):
    t = make_table(floe_shared)
    resp = floe_shared.http("GET", "/v1/tables")
    assert resp.status == 200
    tables = resp.json()["tables"]
    matches = [x for x in tables if x["schema"] == "public" and x["name"] == t]
    assert len(matches) == 1, tables
    cols = matches[0]["columns"]
    assert [c["name"] for c in cols] == ["id", "name", "score"]
    by_name = {c["name"]: c for c in cols}
    assert by_name["id"]["type"] == "Int64"
    assert "Utf8" in by_name["name"]["type"]
    assert by_name["score"]["type"] == "Float64"
    assert by_name["id"]["nullable"] is False
    assert by_name["name"]["nullable"] is True


def test_sql_json_is_default(floe_shared):
    t = make_table(floe_shared)
    resp = floe_shared.sql_http(f"SELECT id, name, score FROM {t} ORDER BY id")
    assert resp.status == 200, resp.body
    assert resp.content_type.startswith("application/json")
    body = resp.json()
    assert [c["name"] for c in body["columns"]] == ["id", "name", "score"]
    assert body["columns"][0]["type"] == "Int64"
    assert body["rows"] == [[1, "alice", 1.5], [2, "bob", None], [3, None, -2.25]]


def test_sql_json_explicit_accept(floe_shared):
    resp = floe_shared.sql_http("SELECT 1 AS one, 'x' AS s", accept="application/json")
    assert resp.status == 200, resp.body
    assert resp.json()["rows"] == [[1, "x"]]


def test_sql_returns_last_statement_result_and_insert_count(floe_shared):
    t = unique_name("hm")
    resp = floe_shared.sql_http(
        f"CREATE TABLE {t} (a BIGINT); INSERT INTO {t} VALUES (1), (2), (3); "
        f"SELECT sum(a) AS total FROM {t}"
    )
    assert resp.status == 200, resp.body
    body = resp.json()
    assert [c["name"] for c in body["columns"]] == ["total"]
    # sum() of bigints is a numeric, as in PostgreSQL; JSON carries numerics
    # as exact decimal strings.
    assert body["rows"] == [["6"]]

    resp = floe_shared.sql_http(f"INSERT INTO {t} VALUES (4), (5)")
    assert resp.status == 200, resp.body
    assert resp.json() == {
        "command": "INSERT",
        "columns": [{"name": "count", "type": "UInt64"}],
        "rows": [[2]],
    }


def test_sql_csv(floe_shared):
    t = make_table(floe_shared)
    resp = floe_shared.sql_http(f"SELECT id, name, score FROM {t} ORDER BY id", accept="text/csv")
    assert resp.status == 200, resp.body
    assert resp.content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.text())))
    assert rows[0] == ["id", "name", "score"]
    assert rows[1:] == [["1", "alice", "1.5"], ["2", "bob", ""], ["3", "", "-2.25"]]


def test_sql_arrow_ipc_stream(floe_shared):
    t = make_table(floe_shared)
    resp = floe_shared.sql_http(f"SELECT id, name, score FROM {t} ORDER BY id", accept=ARROW_STREAM)
    assert resp.status == 200, resp.body[:500]
    assert resp.content_type.startswith(ARROW_STREAM)
    table = pa.ipc.open_stream(resp.body).read_all()
    assert table.schema.names == ["id", "name", "score"]
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("score").type == pa.float64()
    assert table.to_pylist() == [
        {"id": 1, "name": "alice", "score": 1.5},
        {"id": 2, "name": "bob", "score": None},
        {"id": 3, "name": None, "score": -2.25},
    ]


def test_sql_arrow_large_result(floe_shared):
    resp = floe_shared.sql_http("SELECT value FROM range(200000)", accept=ARROW_STREAM)
    assert resp.status == 200, resp.body[:500]
    table = pa.ipc.open_stream(resp.body).read_all()
    assert table.num_rows == 200000
    assert pa.compute.sum(table.column(0)).as_py() == sum(range(200000))


def test_unknown_table_error(floe_shared):
    resp = floe_shared.sql_http("SELECT * FROM no_such_table_http")
    assert 400 <= resp.status < 500, (resp.status, resp.body)
    err = resp.json()["error"]
    assert err["code"] == "42P01"
    assert "no_such_table_http" in err["message"]


def test_syntax_error(floe_shared):
    resp = floe_shared.sql_http("SELEC 1")
    assert resp.status == 400, (resp.status, resp.body)
    assert resp.json()["error"]["code"] == "42601"


def test_error_in_csv_request_is_still_json_error(floe_shared):
    resp = floe_shared.sql_http("SELECT * FROM no_such_table_http2", accept="text/csv")
    assert 400 <= resp.status < 500, (resp.status, resp.body)
    assert resp.json()["error"]["code"] == "42P01"


def test_failed_statement_in_batch_stops_batch(floe_shared):
    t = unique_name("hb")
    assert floe_shared.sql_http(f"CREATE TABLE {t} (a BIGINT)").status == 200
    resp = floe_shared.sql_http(
        f"INSERT INTO {t} VALUES (1); SELECT * FROM no_such_table_batch; INSERT INTO {t} VALUES (2)"
    )
    assert 400 <= resp.status < 500, (resp.status, resp.body)
    assert resp.json()["error"]["code"] == "42P01"
    rows = floe_shared.sql_http(f"SELECT a FROM {t} ORDER BY a").json()["rows"]
    assert [2] not in rows, "statements after a failed one must not run"


def test_issue_2_row_changes_over_http(floe_shared):
    """UPDATE, DELETE and upserts report their counts over HTTP, and their
    errors carry the SQLSTATE and an HTTP status."""
    t = unique_name("hu")
    resp = floe_shared.sql_http(
        f"CREATE TABLE {t} (k BIGINT PRIMARY KEY, v TEXT); "
        f"INSERT INTO {t} VALUES (1, 'a'), (2, 'b'), (3, 'c')"
    )
    assert resp.status == 200, resp.body

    def command(sql):
        resp = floe_shared.sql_http(sql)
        assert resp.status == 200, resp.body
        body = resp.json()
        return body["command"], body["rows"]

    assert command(f"UPDATE {t} SET v = 'z' WHERE k >= 2") == ("UPDATE", [[2]])
    assert command(f"DELETE FROM {t} WHERE k = 3") == ("DELETE", [[1]])
    assert command(
        f"INSERT INTO {t} VALUES (1, 'new'), (9, 'nine') ON CONFLICT (k) DO UPDATE SET v = excluded.v"
    ) == ("INSERT", [[2]])
    rows = floe_shared.sql_http(f"SELECT k, v FROM {t} ORDER BY k").json()["rows"]
    assert rows == [[1, "new"], [2, "z"], [9, "nine"]]

    resp = floe_shared.sql_http(
        f"INSERT INTO {t} VALUES (5, 'x'), (5, 'y') ON CONFLICT (k) DO UPDATE SET v = excluded.v"
    )
    assert resp.status == 400, (resp.status, resp.body)
    err = resp.json()["error"]
    assert err["code"] == "21000"
    assert t in err["message"]


def test_issue23_http_requests_run_in_utc(floe_shared):
    """A request is no session: SET TIME ZONE to UTC (what clients send
    first) is accepted, another zone is refused with 0A000, and a name that
    is no zone is 22023."""
    resp = floe_shared.sql_http("SET TIME ZONE 'UTC'; SELECT TIMESTAMPTZ '2000-01-01 00:00'::text AS t")
    assert resp.status == 200, resp.body
    assert resp.json()["rows"] == [["2000-01-01 00:00:00+00"]]
    resp = floe_shared.sql_http("SET TIME ZONE 'Asia/Tokyo'")
    assert resp.json()["error"]["code"] == "0A000", resp.body
    assert "SET TIME ZONE outside a PostgreSQL session" in resp.json()["error"]["message"]
    resp = floe_shared.sql_http("SET TIME ZONE 'Mars/Olympus'")
    assert resp.json()["error"]["code"] == "22023", resp.body


def test_issue23_http_types_are_those_of_the_answer(floe_shared):
    """The column types an HTTP answer reports are those of its values,
    after Floe's PostgreSQL rules changed them: a numeric quotient keeps 20
    digits (not the engine's six), a double meeting a numeric is a double,
    bits joined to text are text; in a view too. A bit string used as text
    is refused naming the function."""
    view = unique_name("quotients")
    assert floe_shared.sql_http(
        f"CREATE VIEW {view} AS SELECT 2.0 / 3 AS q, X'1F' || 'ab'::text AS t"
    ).status == 200
    for sql in (
        f"SELECT q, t FROM {view}",
        "SELECT 2.0 / 3 AS q, X'1F' || 'ab'::text AS t",
    ):
        resp = floe_shared.sql_http(sql)
        assert resp.status == 200, resp.body
        body = resp.json()
        assert [c["type"] for c in body["columns"]] == ["Decimal128(38, 20)", "Utf8View"], body
        assert body["rows"] == [["0.66666666666666666667", "00011111ab"]]
    body = floe_shared.sql_http("SELECT 1.5::float8 + 2.5 AS d, X'1F'::int AS n").json()
    assert [c["type"] for c in body["columns"]] == ["Float64", "Int32"], body
    assert body["rows"] == [[4.0, 31]]
    resp = floe_shared.sql_http("SELECT upper(X'01')")
    assert resp.status == 501, resp.body
    assert resp.json()["error"] == {
        "code": "0A000",
        "message": "upper() of a bit string is not supported",
    }
