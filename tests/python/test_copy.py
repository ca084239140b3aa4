"""COPY FROM files (CSV, gzipped CSV, NDJSON, Parquet, globs) and COPY TO."""

from __future__ import annotations

import csv
import gzip
import json

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from floe_helpers import unique_name


def rows_for(start: int, n: int) -> list[tuple]:
    return [(i, f"name {i}", i * 0.5) for i in range(start, start + n)]


def write_csv(path, rows, header=True):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if header:
            w.writerow(["id", "name", "amount"])
        w.writerows(rows)


def write_csv_gz(path, rows):
    with gzip.open(path, "wt", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "amount"])
        w.writerows(rows)


def write_ndjson(path, rows):
    with open(path, "w") as f:
        for i, name, amount in rows:
            f.write(json.dumps({"id": i, "name": name, "amount": amount}) + "\n")


def write_parquet(path, rows):
    table = pa.table(
        {
            "id": pa.array([r[0] for r in rows], pa.int64()),
            "name": pa.array([r[1] for r in rows], pa.string()),
            "amount": pa.array([r[2] for r in rows], pa.float64()),
        }
    )
    pq.write_table(table, path)


@pytest.fixture
def conn(floe_shared):
    with floe_shared.connect() as c:
        yield c


def new_table(conn) -> str:
    t = unique_name("c")
    conn.execute(f"CREATE TABLE {t} (id BIGINT, name TEXT, amount DOUBLE PRECISION)")
    return t


def fill(conn, t, rows) -> None:
    """Insert rows with one multi-row INSERT (one commit)."""
    values = ", ".join(f"({i}, '{name}', {amount!r})" for i, name, amount in rows)
    conn.execute(f"INSERT INTO {t} VALUES {values}")


def count(conn, t) -> int:
    return conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]


def all_rows(conn, t) -> list[tuple]:
    return conn.execute(f"SELECT id, name, amount FROM {t} ORDER BY id").fetchall()


def test_copy_csv_with_header(conn, tmp_path):
    t = new_table(conn)
    rows = rows_for(0, 50) + [(1000, 'with "quotes", and comma', None)]
    write_csv(tmp_path / "data.csv", rows)
    cur = conn.execute(f"COPY {t} FROM '{tmp_path / 'data.csv'}' WITH (FORMAT csv, HEADER true)")
    assert cur.rowcount == len(rows)
    assert all_rows(conn, t) == rows


def test_copy_each_format(conn, tmp_path):
    t = new_table(conn)
    write_csv(tmp_path / "a.csv", rows_for(0, 10))
    write_csv_gz(tmp_path / "b.csv.gz", rows_for(10, 20))
    write_ndjson(tmp_path / "c.ndjson", rows_for(30, 30))
    write_parquet(tmp_path / "d.parquet", rows_for(60, 40))
    write_ndjson(tmp_path / "e.json", rows_for(100, 5))

    conn.execute(f"COPY {t} FROM '{tmp_path / 'a.csv'}' WITH (FORMAT csv, HEADER true)")
    assert count(conn, t) == 10
    conn.execute(f"COPY {t} FROM '{tmp_path / 'b.csv.gz'}' WITH (HEADER true)")
    assert count(conn, t) == 30
    conn.execute(f"COPY {t} FROM '{tmp_path / 'c.ndjson'}'")  # format from extension
    assert count(conn, t) == 60
    conn.execute(f"COPY {t} FROM '{tmp_path / 'd.parquet'}'")  # format from extension
    assert count(conn, t) == 100
    conn.execute(f"COPY {t} FROM '{tmp_path / 'e.json'}' WITH (FORMAT json)")
    assert count(conn, t) == 105
    assert all_rows(conn, t) == rows_for(0, 105)


def test_copy_parquet_explicit_format(conn, tmp_path):
    t = new_table(conn)
    write_parquet(tmp_path / "x.parquet", rows_for(0, 1000))
    cur = conn.execute(f"COPY {t} FROM '{tmp_path / 'x.parquet'}' (FORMAT parquet)")
    assert cur.rowcount == 1000
    assert conn.execute(f"SELECT count(*), sum(id), sum(amount) FROM {t}").fetchone() == (
        1000,
        sum(range(1000)),
        sum(i * 0.5 for i in range(1000)),
    )


def test_copy_glob(conn, tmp_path):
    t = new_table(conn)
    expected = []
    for k in range(4):
        rows = rows_for(k * 100, 25)
        write_csv(tmp_path / f"part-{k}.csv", rows)
        expected += rows
    write_csv(tmp_path / "other.csv", rows_for(9000, 3))  # not matched by the glob
    cur = conn.execute(f"COPY {t} FROM '{tmp_path}/part-*.csv' WITH (FORMAT csv, HEADER true)")
    assert cur.rowcount == 100
    assert all_rows(conn, t) == sorted(expected)


def test_copy_custom_delimiter_and_null(conn, tmp_path):
    t = new_table(conn)
    (tmp_path / "semi.csv").write_text("id;name;amount\n1;a;1.5\n2;NA;NA\n")
    conn.execute(
        f"COPY {t} FROM '{tmp_path / 'semi.csv'}' WITH (FORMAT csv, HEADER true, DELIMITER ';', NULL 'NA')"
    )
    assert all_rows(conn, t) == [(1, "a", 1.5), (2, None, None)]


def _bad_csv(path):
    path.write_text(
        "name,qty,price\n"  # line 1
        "apple,1,0.5\n"  # line 2
        "banana,notanumber,0.25\n"  # line 3: column 2 (qty) is malformed
        "cherry,3,1.0\n"  # line 4
    )


def test_copy_malformed_value_reports_location_and_commits_nothing(conn, tmp_path):
    t = unique_name("cbad")
    conn.execute(f"CREATE TABLE {t} (name TEXT, qty BIGINT, price DOUBLE PRECISION)")
    conn.execute(f"INSERT INTO {t} VALUES ('existing', 7, 7.0)")
    bad = tmp_path / "bad_input.csv"
    _bad_csv(bad)
    with pytest.raises(psycopg.Error) as ei:
        conn.execute(f"COPY {t} FROM '{bad}' WITH (FORMAT csv, HEADER true)")
    msg = str(ei.value)
    assert "bad_input.csv" in msg, msg
    assert "line 3" in msg, msg
    assert "qty" in msg, msg
    assert ei.value.sqlstate == "22P02", f"{ei.value.sqlstate}: {msg}"
    assert count(conn, t) == 1, "a failed COPY must not commit any row"
    assert conn.execute(f"SELECT name, qty FROM {t}").fetchall() == [("existing", 7)]


def test_copy_glob_with_one_bad_file_commits_nothing(conn, tmp_path):
    t = unique_name("cbadglob")
    conn.execute(f"CREATE TABLE {t} (name TEXT, qty BIGINT, price DOUBLE PRECISION)")
    (tmp_path / "in-1.csv").write_text("name,qty,price\na,1,1.0\nb,2,2.0\n")
    _bad_csv(tmp_path / "in-2.csv")
    (tmp_path / "in-3.csv").write_text("name,qty,price\nc,3,3.0\n")
    with pytest.raises(psycopg.Error) as ei:
        conn.execute(f"COPY {t} FROM '{tmp_path}/in-*.csv' WITH (FORMAT csv, HEADER true)")
    assert "in-2.csv" in str(ei.value)
    assert count(conn, t) == 0


def test_copy_missing_file_fails(conn, tmp_path):
    t = new_table(conn)
    with pytest.raises(psycopg.Error) as ei:
        conn.execute(
            f"COPY {t} FROM '{tmp_path / 'does_not_exist.csv'}' WITH (FORMAT csv, HEADER true)"
        )
    assert "does_not_exist.csv" in str(ei.value)
    assert count(conn, t) == 0


def test_copy_query_to_csv(conn, tmp_path):
    t = new_table(conn)
    rows = rows_for(0, 30)
    fill(conn, t, rows)
    out = tmp_path / "out.csv"
    cur = conn.execute(
        f"COPY (SELECT id, name, amount FROM {t} WHERE id >= 10 ORDER BY id) TO '{out}' "
        "(FORMAT csv, HEADER true)"
    )
    assert cur.rowcount == 20
    assert out.is_file()
    with open(out, newline="") as f:
        got = list(csv.reader(f))
    assert got[0] == ["id", "name", "amount"]
    assert [(int(a), b, float(c)) for a, b, c in got[1:]] == [r for r in rows if r[0] >= 10]


def test_copy_query_to_parquet(conn, tmp_path):
    t = new_table(conn)
    rows = rows_for(0, 500)
    fill(conn, t, rows)
    out = tmp_path / "out.parquet"
    cur = conn.execute(f"COPY (SELECT id, name, amount FROM {t} WHERE id % 2 = 0) TO '{out}'")
    assert cur.rowcount == 250
    assert out.is_file()
    table = pq.read_table(out)
    assert table.column_names == ["id", "name", "amount"]
    got = sorted(tuple(r.values()) for r in table.to_pylist())
    assert got == [r for r in rows if r[0] % 2 == 0]


def test_copy_roundtrip_parquet(conn, tmp_path):
    src = new_table(conn)
    rows = rows_for(0, 200)
    fill(conn, src, rows)
    out = tmp_path / "round.parquet"
    conn.execute(f"COPY (SELECT * FROM {src}) TO '{out}' (FORMAT parquet)")
    dst = new_table(conn)
    conn.execute(f"COPY {dst} FROM '{out}'")
    assert all_rows(conn, dst) == rows
