"""Array columns (`int[]`, `text[]`, ...): stored as Iceberg lists, read
back as PostgreSQL answers them (checked against a live PostgreSQL 15),
from the buffer and from Parquet files, through psql's \\d, HTTP ingestion,
COPY, and PyIceberg."""

from __future__ import annotations

import json
import subprocess
from datetime import date

from floe_helpers import iceberg_catalog, unique_name

DDL = (
    "CREATE TABLE TBL (id int, i int[], s text[], m int[][], f float8[], d date[], "
    "b boolean[], n numeric(10,2)[], big bigint[])"
)

INSERTS = [
    "INSERT INTO TBL VALUES (1, ARRAY[1,2,NULL], ARRAY['x','y z','',NULL], ARRAY[3,4], "
    "ARRAY[1.5,-2], ARRAY[DATE '2024-02-29'], ARRAY[true,false], ARRAY[1.25], ARRAY[9007199254740993])",
    "INSERT INTO TBL VALUES (2, '{5,6}', '{\"a,b\",\"q\\\"uote\",NULL}', '{}', '{}', '{}', '{true}', "
    "'{-0.5,NULL}', '{}')",
    "INSERT INTO TBL VALUES (3, NULL, '{}', NULL, NULL, NULL, NULL, NULL, NULL)",
]

QUERIES = [
    "SELECT * FROM TBL ORDER BY id",
    "SELECT id, i[1], s[2], cardinality(s), array_length(i, 1) FROM TBL ORDER BY id",
    "SELECT id FROM TBL WHERE i[2] = 2 OR 6 = ANY(i) ORDER BY id",
    "SELECT id, i::text, s::text FROM TBL ORDER BY id",
    "SELECT id, unnest(s) AS e FROM TBL ORDER BY id, e",
]


def rows(conn, sql):
    return conn.execute(sql).fetchall()


def test_issue23_array_columns_answer_as_postgres(floe_shared, postgres):
    t = unique_name("arr_cols")
    db = postgres.create_database(unique_name("arr_db"))
    with postgres.connect(db) as pg, floe_shared.connect() as fl:
        for sql in [DDL, *INSERTS]:
            pg.execute(sql.replace("TBL", t))
            fl.execute(sql.replace("TBL", t))
        for phase in ("buffered", "in files"):
            for sql in QUERIES:
                sql = sql.replace("TBL", t)
                assert rows(fl, sql) == rows(pg, sql), f"{phase}: {sql}"
            floe_shared.checkpoint()
        # Changes rewrite the rows with their arrays.
        for sql in [
            "UPDATE TBL SET i = ARRAY[9], s = s || ARRAY['new'] WHERE id = 2",
            "DELETE FROM TBL WHERE id = 3",
        ]:
            pg.execute(sql.replace("TBL", t))
            fl.execute(sql.replace("TBL", t))
        sql = QUERIES[0].replace("TBL", t)
        assert rows(fl, sql) == rows(pg, sql)
        # Created from a query, the columns are arrays too.
        fl.execute(f"CREATE TABLE {t}_copy AS SELECT id, s FROM {t}")
        pg.execute(f"CREATE TABLE {t}_copy AS SELECT id, s FROM {t}")
        sql = f"SELECT * FROM {t}_copy ORDER BY id"
        assert rows(fl, sql) == rows(pg, sql)
        # Catalogs name the types as PostgreSQL does.
        sql = (
            "SELECT column_name, data_type, udt_name FROM information_schema.columns "
            f"WHERE table_name = '{t}' ORDER BY ordinal_position"
        )
        assert rows(fl, sql) == rows(pg, sql)
        sql = (
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            f"WHERE attrelid = '{t}'::regclass AND attnum > 0 ORDER BY attnum"
        )
        assert rows(fl, sql) == rows(pg, sql)


def test_issue23_psql_describes_array_and_other_types(floe_shared):
    t = unique_name("arr_desc")
    floe_shared.query(
        f"CREATE TABLE {t} (a int[], b text[], ts timestamptz, u uuid, s smallint, n numeric(10,2))"
    )
    out = subprocess.run(
        ["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(floe_shared.pg_port),
         "-U", "floe", "-d", "floe", "-c", f"\\d {t}"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    described = [line.split("|")[:2] for line in out.strip().splitlines()]
    assert described == [
        ["a", "integer[]"],
        ["b", "text[]"],
        ["ts", "timestamp with time zone"],
        ["u", "uuid"],
        ["s", "smallint"],
        ["n", "numeric(10,2)"],
    ]


def test_issue23_array_columns_ingest_over_http_and_copy(floe_shared, tmp_path):
    t = unique_name("arr_ingest")
    floe_shared.query(f"CREATE TABLE {t} (id int, i int[], s text[])")
    good = [
        {"id": 1, "i": [1, 2, None], "s": ["a", None, "b c"]},
        {"id": 2, "i": "{3,4}", "s": "{\"x,y\"}"},
        {"id": 3, "i": [], "s": None},
    ]
    bad = [{"id": 4, "i": ["five"], "s": []}, {"id": 5, "i": [[1]], "s": []}]
    path = f"/v1/tables/public.{t}/rows"
    ndjson = {"Content-Type": "application/x-ndjson"}
    # Rows that do not fit are named, with their field, and nothing of the
    # body is written: no array is stored turned into something else.
    resp = floe_shared.http("POST", path, "\n".join(map(json.dumps, good + bad)), ndjson)
    assert resp.status == 400, resp.body
    error = resp.json()["error"]
    assert error["code"] == "22P02"
    assert [(r["line"], r["field"]) for r in error["rejected"]] == [(4, "i"), (5, "i")], error
    assert "integer[]" in error["rejected"][0]["reason"]
    resp = floe_shared.http("POST", path, "\n".join(map(json.dumps, good)), ndjson)
    assert resp.json()["accepted"] == 3, resp.body
    csv_file = tmp_path / "arrays.csv"
    csv_file.write_text('id,i,s\n6,"{7,NULL}","{""p q"",r}"\n')
    floe_shared.query(f"COPY {t} FROM '{csv_file}' WITH (FORMAT csv, HEADER true)")
    want = [
        (1, [1, 2, None], ["a", None, "b c"]),
        (2, [3, 4], ["x,y"]),
        (3, [], None),
        (6, [7, None], ["p q", "r"]),
    ]
    assert floe_shared.query(f"SELECT id, i, s FROM {t} ORDER BY id") == want
    # COPY TO writes PostgreSQL's text form, which COPY FROM reads back.
    out = tmp_path / "out.csv"
    floe_shared.query(f"COPY {t} TO '{out}' WITH (FORMAT csv, HEADER true)")
    floe_shared.query(f"CREATE TABLE {t}_back (id int, i int[], s text[])")
    floe_shared.query(f"COPY {t}_back FROM '{out}' WITH (FORMAT csv, HEADER true)")
    assert floe_shared.query(f"SELECT id, i, s FROM {t}_back ORDER BY id") == want


def test_issue23_pyiceberg_reads_array_columns(floe_server):
    floe_server.query("CREATE TABLE arr (id int, tags text[], d date[])")
    floe_server.query(
        "INSERT INTO arr VALUES (1, ARRAY['a', NULL], ARRAY[DATE '2024-01-02']), (2, '{}', NULL)"
    )
    table = iceberg_catalog(floe_server).load_table("public.arr")
    got = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert got == [
        {"id": 1, "tags": ["a", None], "d": [date(2024, 1, 2)]},
        {"id": 2, "tags": [], "d": None},
    ]
    assert str(table.schema().find_field("tags").field_type) == "list<string>"
