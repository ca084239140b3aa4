"""Interval columns: written over SQL, HTTP and COPY, read back exactly as
PostgreSQL 15 answers the same values; text that is no interval is
refused naming the field; other Iceberg readers see ISO 8601 text."""

from __future__ import annotations

import json
from datetime import timedelta

from floe_helpers import iceberg_catalog, unique_name

VALUES = ["1 year 2 months 3 days", "4 hours 5 minutes 6.5 seconds", "-1 day", "0 seconds"]


def test_issue23_interval_columns_answer_as_postgres(floe_shared, postgres, tmp_path):
    t = unique_name("iv_cols")
    db = postgres.create_database(unique_name("iv_db"))
    with postgres.connect(db) as pg, floe_shared.connect() as fl:
        for conn in (pg, fl):
            conn.execute(f"CREATE TABLE {t} (id int, d interval)")
            for i, v in enumerate(VALUES):
                conn.execute(f"INSERT INTO {t} VALUES (%s, %s::interval)", (i, v))
        want = pg.execute(f"SELECT id, d, d::text FROM {t} ORDER BY id").fetchall()
        assert fl.execute(f"SELECT id, d, d::text FROM {t} ORDER BY id").fetchall() == want
    # Over HTTP, text in Floe's interval forms; a bad value names its field.
    path = f"/v1/tables/public.{t}/rows"
    ndjson = {"Content-Type": "application/x-ndjson"}
    bad = floe_shared.http("POST", path, json.dumps({"id": 9, "d": "soon"}), ndjson)
    assert bad.status == 400, bad.body
    error = bad.json()["error"]
    assert error["code"] == "22P02"
    assert 'type interval: "soon"' in error["message"] and 'column "d"' in error["message"], error
    good = floe_shared.http("POST", path, json.dumps({"id": 10, "d": "2 days"}), ndjson)
    assert good.json()["accepted"] == 1, good.body
    csv_file = tmp_path / "iv.csv"
    csv_file.write_text("id,d\n11,3 hours\n")
    floe_shared.query(f"COPY {t} FROM '{csv_file}' WITH (FORMAT csv, HEADER true)")
    got = floe_shared.query(f"SELECT id, d FROM {t} WHERE id >= 9 ORDER BY id")
    assert got == [(10, timedelta(days=2)), (11, timedelta(hours=3))]


def test_issue23_pyiceberg_reads_interval_columns_as_iso_text(floe_server):
    floe_server.query("CREATE TABLE iv (id int, d interval)")
    floe_server.query("INSERT INTO iv VALUES (1, interval '1 year 2 months'), (2, interval '-90 minutes')")
    table = iceberg_catalog(floe_server).load_table("public.iv")
    got = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert got == [{"id": 1, "d": "P1Y2M"}, {"id": 2, "d": "PT-1H-30M"}]
