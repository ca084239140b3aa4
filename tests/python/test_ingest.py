"""HTTP event ingestion and the buffered write path (issue 3), through a
running `floe serve` with real clients: urllib for HTTP, psycopg for SQL,
PyIceberg for the committed tables, and kill -9 for crashes."""

import gzip
import io
import json
import os
import random
import signal
import threading

import pyarrow as pa
import pyarrow.ipc as ipc

from floe_helpers import catalog_for

NDJSON = {"Content-Type": "application/x-ndjson"}


def post_rows(srv, table, body, headers=None, query=""):
    path = f"/v1/tables/{table}/rows" + (f"?{query}" if query else "")
    return srv.http("POST", path, body, headers or NDJSON)


def ndjson(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def count(srv, table):
    return srv.query(f"SELECT count(*) FROM {table}")[0][0]


def test_issue_3_every_format_is_visible_to_the_next_query(floe_server):
    srv = floe_server
    srv.query("CREATE TABLE ev (id BIGINT NOT NULL, url TEXT, dur DOUBLE PRECISION, at TIMESTAMPTZ, props TEXT)")
    reader = srv.connect()  # another connection, open before the writes

    r = post_rows(srv, "public.ev", ndjson([{"id": 1, "url": "/a", "at": "2024-01-01T00:00:00Z", "props": {"k": [1]}}]))
    assert r.status == 200, r.body
    assert r.json() == {"table": "public.ev", "accepted": 1, "rejected": 0}
    assert reader.execute("SELECT count(*) FROM ev").fetchone()[0] == 1

    # Names in the path fold to lower case, as unquoted SQL names do.
    r = post_rows(srv, "PUBLIC.Ev", json.dumps([{"id": 2, "dur": 1.5}, {"id": 3}]), {"Content-Type": "application/json"})
    assert r.json()["accepted"] == 2
    r = post_rows(srv, "ev", "id,url\n4,/d\n5,\n", {"Content-Type": "text/csv"})
    assert r.json()["accepted"] == 2
    table = pa.table({"id": pa.array([6, 7], pa.int64()), "url": ["/f", "/g"]})
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    r = post_rows(srv, "ev", sink.getvalue(), {"Content-Type": "application/vnd.apache.arrow.stream"})
    assert r.json()["accepted"] == 2, r.body
    r = post_rows(srv, "ev", gzip.compress(ndjson([{"id": 8}]).encode()), {**NDJSON, "Content-Encoding": "gzip"})
    assert r.json()["accepted"] == 1, r.body

    assert reader.execute("SELECT count(*), sum(id) FROM ev").fetchone() == (8, 36)
    assert reader.execute("SELECT url, props FROM ev WHERE id = 1").fetchone() == ("/a", '{"k": [1]}')
    assert reader.execute("SELECT url FROM ev WHERE id = 5").fetchone() == (None,)
    # HTTP SQL sees them too.
    assert srv.sql_http("SELECT count(*) FROM ev").json()["rows"] == [[8]]
    reader.close()


def test_issue_3_bad_rows_are_named_and_abort_writes_nothing(floe_server):
    srv = floe_server
    srv.query("CREATE TABLE ev (id BIGINT NOT NULL, n INT)")
    body = ndjson([{"id": 1}, {"id": "one"}, {"n": 2}]) + "{oops\n" + ndjson([{"id": 5, "zzz": 1}])
    r = post_rows(srv, "ev", body)
    assert r.status == 400
    err = r.json()["error"]
    assert err["code"] == "22P02"
    assert err["rejected_count"] == 4
    assert [(x["line"], x["field"]) for x in err["rejected"]] == [(2, "id"), (3, "id"), (4, None), (5, "zzz")]
    assert "invalid input syntax for type bigint" in err["rejected"][0]["reason"]
    assert "not-null" in err["rejected"][1]["reason"]
    assert "invalid JSON" in err["rejected"][2]["reason"]
    assert count(srv, "ev") == 0

    r = post_rows(srv, "ev", json.dumps([{"id": 1}, {"id": 2.5}]), {"Content-Type": "application/json"})
    assert r.status == 400
    assert r.json()["error"]["rejected"][0]["index"] == 1
    assert count(srv, "ev") == 0


def test_issue_3_a_lone_surrogate_is_a_named_rejection_not_a_null(floe_server):
    srv = floe_server
    srv.query("CREATE TABLE sur (id BIGINT, s TEXT)")
    body = '{"id": 1, "s": "ok \\u00e9"}\n{"id": 2, "s": "bad \\ud800"}\n'
    r = post_rows(srv, "sur", body)
    assert r.status == 400, r.body
    err = r.json()["error"]
    assert [(x["line"], x["field"]) for x in err["rejected"]] == [(2, "s")]
    assert err["rejected"][0]["reason"].startswith('invalid JSON string "bad \\ud800"')
    assert count(srv, "sur") == 0
    # A valid pair of surrogates is one character.
    r = post_rows(srv, "sur", '{"id": 3, "s": "\\ud83d\\ude00"}\n')
    assert r.status == 200, r.body
    assert srv.query("SELECT s FROM sur") == [("\U0001F600",)]


def test_issue_3_skip_writes_good_rows_and_keeps_bad_ones_queryable(floe_server):
    srv = floe_server
    srv.query("CREATE TABLE ev (id BIGINT, n INT)")
    r = post_rows(srv, "ev", ndjson([{"id": 1, "n": 1}, {"id": 2, "n": "two"}, {"id": 3}]), query="on_error=skip")
    assert r.status == 200, r.body
    assert r.json()["accepted"] == 2 and r.json()["rejected"] == 1
    assert srv.query("SELECT id FROM ev ORDER BY id") == [(1,), (3,)]
    rows = srv.query('SELECT format, "row", field, reason, raw FROM ev_rejected')
    assert rows == [("ndjson", 2, "n", 'invalid input syntax for type integer: "two"', '{"id": 2, "n": "two"}')]


def test_issue_3_http_errors_have_status_and_json_body(floe_server):
    srv = floe_server
    r = post_rows(srv, "public.missing", ndjson([{"id": 1}]))
    assert r.status == 404 and r.json()["error"]["code"] == "42P01"
    srv.query("CREATE TABLE ev (id BIGINT)")
    r = post_rows(srv, "ev", "x", {"Content-Type": "text/xml"})
    assert r.status == 400 and "Content-Type" in r.json()["error"]["message"]
    # An oversized Content-Length is refused before the body is read.
    import http.client
    from urllib.parse import urlparse
    u = urlparse(srv.http_url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.putrequest("POST", "/v1/tables/ev/rows")
    c.putheader("Content-Type", "application/x-ndjson")
    c.putheader("Authorization", f"Bearer {srv.token}")
    c.putheader("Content-Length", str(65 * 1024 * 1024))
    c.endheaders()
    resp = c.getresponse()
    assert resp.status == 413 and json.loads(resp.read())["error"]["code"] == "54000"
    c.close()
    bomb = gzip.compress(b"\n" * (80 * 1024 * 1024))
    r = post_rows(srv, "ev", bomb, {**NDJSON, "Content-Encoding": "gzip"})
    assert r.status == 413
    r = post_rows(srv, "ev", b"not gzip", {**NDJSON, "Content-Encoding": "gzip"})
    assert r.status == 400 and "decompress" in r.json()["error"]["message"]
    r = post_rows(srv, "ev", "id,other\n1,2\n", {"Content-Type": "text/csv"})
    assert r.status == 400 and r.json()["error"]["code"] == "42703"
    assert count(srv, "ev") == 0


def test_issue_3_create_auto_infers_the_table(floe_server):
    srv = floe_server
    body = ndjson([
        {"ts": "2024-05-01T10:00:00Z", "user": "u1", "n": 1, "ok": True, "props": {"a": 1}},
        {"ts": "2024-05-01T10:00:01Z", "user": "u2", "n": 2.5},
    ])
    r = post_rows(srv, "web.hits", body, query="create=auto")
    assert r.status == 404  # the schema must exist
    srv.query("CREATE SCHEMA web")
    r = post_rows(srv, "web.hits", body, query="create=auto")
    assert r.status == 200, r.body
    cols = srv.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'web' AND table_name = 'hits' ORDER BY ordinal_position"
    )
    assert [c[0] for c in cols] == ["ts", "user", "n", "ok", "props"]
    assert srv.query("SELECT n, ok FROM web.hits ORDER BY n") == [(1.0, True), (2.5, None)]


def test_issue_3_small_inserts_do_not_make_a_snapshot_each(floe_server):
    srv = floe_server
    srv.query("CREATE TABLE small (i BIGINT)")
    with srv.connect() as conn:
        for i in range(100):
            conn.execute("INSERT INTO small VALUES (%s)", (i,))
    for i in range(50):
        assert post_rows(srv, "small", ndjson([{"i": 1000 + i}])).status == 200
    assert count(srv, "small") == 150
    snaps = srv.query("SELECT count(*) FROM system.snapshots WHERE table_name = 'small'")[0][0]
    files = srv.query("SELECT files FROM system.tables WHERE table_name = 'small'")[0][0]
    # 150 acknowledged writes; at most a time-based flush or two happened.
    assert snaps <= 2 and files <= 2, (snaps, files)
    srv.checkpoint()
    assert srv.query("SELECT rows, buffered_rows FROM system.tables WHERE table_name = 'small'") == [(150, 0)]
    # The flush truncated the write-ahead log: a restart replays nothing.
    srv.restart()
    assert srv.query("SELECT rows, buffered_rows FROM system.tables WHERE table_name = 'small'") == [(150, 0)]


def test_issue_3_flush_policy_is_a_table_property(floe_server):
    srv = floe_server
    srv.query("""CREATE TABLE quick (i BIGINT) WITH ("floe.flush.interval-ms" = '200')""")
    assert post_rows(srv, "quick", ndjson([{"i": 1}])).status == 200
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if srv.query("SELECT files FROM system.tables WHERE table_name = 'quick'")[0][0] == 1:
            break
        time.sleep(0.1)
    assert srv.query("SELECT files, buffered_rows FROM system.tables WHERE table_name = 'quick'") == [(1, 0)]
    r = srv.sql_http("""CREATE TABLE bad (i BIGINT) WITH ("floe.flush.max-rows" = 'many')""")
    assert r.status == 400 and "floe.flush.max-rows must be a positive integer" in r.json()["error"]["message"]


def test_issue_3_new_fields_add_columns_when_the_table_allows_it(floe_server):
    srv = floe_server
    srv.query("CREATE TABLE strict (id BIGINT)")
    r = post_rows(srv, "strict", ndjson([{"id": 1, "color": "red"}]))
    assert r.status == 400 and r.json()["error"]["rejected"][0]["field"] == "color"
    srv.query("""CREATE TABLE open (id BIGINT) WITH ("floe.ingest.add-columns" = 'true')""")
    assert post_rows(srv, "open", ndjson([{"id": 1}])).status == 200
    r = post_rows(srv, "open", ndjson([{"id": 2, "color": "red", "n": 3}, {"id": 3, "n": 4.5}]))
    assert r.status == 200, r.body
    assert srv.query("SELECT id, color, n FROM open ORDER BY id") == [(1, None, None), (2, "red", 3.0), (3, None, 4.5)]
    # The new columns are Iceberg schema evolution: PyIceberg sees them.
    srv.checkpoint()
    tbl = catalog_for(srv.data_dir).load_table("public.open")
    assert [f.name for f in tbl.schema().fields] == ["id", "color", "n"]


def test_issue_3_idempotency_key_applies_a_retry_at_most_once(floe_factory):
    srv = floe_factory()
    srv.query("CREATE TABLE once (id BIGINT)")
    body = ndjson([{"id": 1}, {"id": 2}])
    first = post_rows(srv, "once", body, {**NDJSON, "Idempotency-Key": "req-1"})
    assert first.json() == {"table": "public.once", "accepted": 2, "rejected": 0}
    again = post_rows(srv, "once", body, {**NDJSON, "Idempotency-Key": "req-1"})
    assert again.status == 200 and again.json()["duplicate"] is True and again.json()["accepted"] == 2
    assert count(srv, "once") == 2
    # Remembered while buffered, across a crash (replayed from the WAL) ...
    srv.kill()
    srv.start()
    assert post_rows(srv, "once", body, {**NDJSON, "Idempotency-Key": "req-1"}).json()["duplicate"] is True
    # ... and once committed, across a restart (kept with the commit).
    srv.checkpoint()
    srv.kill()
    srv.start()
    assert post_rows(srv, "once", body, {**NDJSON, "Idempotency-Key": "req-1"}).json()["duplicate"] is True
    assert count(srv, "once") == 2
    # Other keys and requests without a key are written.
    assert post_rows(srv, "once", body, {**NDJSON, "Idempotency-Key": "req-2"}).json()["accepted"] == 2
    assert post_rows(srv, "once", body).json()["accepted"] == 2
    assert count(srv, "once") == 6
    # A rejected request does not use up its key.
    bad = post_rows(srv, "once", ndjson([{"id": "x"}]), {**NDJSON, "Idempotency-Key": "req-3"})
    assert bad.status == 400
    assert post_rows(srv, "once", body, {**NDJSON, "Idempotency-Key": "req-3"}).json()["accepted"] == 2
    r = post_rows(srv, "once", body, {**NDJSON, "Idempotency-Key": "k" * 201})
    assert r.status == 400


def test_issue_3_acknowledged_rows_survive_kill_9_exactly_once(floe_factory):
    """The crash test: a bounded ingestion loop, kill -9 at random moments,
    restart, and check every acknowledged row is there exactly once and no
    unacknowledged row is partly visible. FLOE_CRASH_CYCLES sets the number
    of cycles (default 20; the long mode runs 500)."""
    cycles = int(os.environ.get("FLOE_CRASH_CYCLES", "20"))
    rng = random.Random(int(os.environ.get("FLOE_CRASH_SEED", "3")))
    srv = floe_factory()
    # Both tables compact from 2 small files on and expire snapshots older
    # than 2 s, so kills also land in compaction and expiry.
    maintenance = """"floe.compaction.min-input-files" = '2', "history.expire.max-snapshot-age-ms" = '2000'"""
    srv.query(
        "CREATE TABLE crash (writer BIGINT NOT NULL, seq BIGINT NOT NULL, batch BIGINT NOT NULL, pad TEXT) "
        f"WITH ({maintenance})"
    )
    srv.query(f"""CREATE TABLE crash2 (k BIGINT, v TEXT) WITH ("floe.flush.interval-ms" = '50', {maintenance})""")
    # Background maintenance runs every few seconds, and a cycle lives for
    # less than a second; an explicit VACUUM in about half the cycles makes
    # sure kills also hit a running flush + compaction + expiry.
    vacuum_rng = random.Random(int(os.environ.get("FLOE_CRASH_SEED", "3")) + 1)
    acked: dict[tuple[int, int], int] = {}  # (writer, seq) -> rows in that request
    maybe: dict[tuple[int, int], int] = {}  # sent, no answer before the kill
    acked2 = 0
    for cycle in range(cycles):
        stop = threading.Event()
        lock = threading.Lock()

        def writer(w):
            seq = 0
            while not stop.is_set():
                seq += 1
                n = rng.randint(1, 50)
                key = (cycle * 100 + w, seq)
                rows = [{"writer": key[0], "seq": seq, "batch": n, "pad": "x" * rng.randint(0, 200)} for _ in range(n)]
                with lock:
                    maybe[key] = n
                try:
                    r = post_rows(srv, "crash", ndjson(rows))
                except Exception:  # noqa: BLE001 - the server was killed
                    return
                with lock:
                    if r.status == 200:
                        acked[key] = n
                        maybe.pop(key, None)
                    elif r.status < 500:
                        raise AssertionError(r.body)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
        if vacuum_rng.random() < 0.5:
            delay = vacuum_rng.uniform(0.0, 0.3)
            target = vacuum_rng.choice(["", " public.crash", " crash2"])

            def vacuum(delay=delay, target=target, stop=stop):
                if stop.wait(delay):
                    return
                try:
                    srv.sql_http("VACUUM" + target, timeout=30)
                except Exception:  # noqa: BLE001 - the server was killed
                    pass

            threads.append(threading.Thread(target=vacuum))
        for t in threads:
            t.start()
        # Small SQL inserts on a second table with a fast flush, meanwhile.
        with srv.connect() as conn:
            for _ in range(rng.randint(0, 5)):
                conn.execute("INSERT INTO crash2 VALUES (%s, 'v')", (acked2,))
                acked2 += 1
        import time
        time.sleep(rng.uniform(0.05, 0.4))
        rc = srv.kill()
        assert rc == -signal.SIGKILL
        stop.set()
        for t in threads:
            t.join(30)
        srv.start()
        got = dict(
            ((w, s), (c, b))
            for w, s, c, b in srv.query("SELECT writer, seq, count(*), min(batch) FROM crash GROUP BY writer, seq")
        )
        for key, n in acked.items():
            assert got.get(key) == (n, n), f"cycle {cycle}: acknowledged request {key} of {n} rows reads {got.get(key)}"
        for key, (c, b) in got.items():
            assert c == b, f"cycle {cycle}: request {key} is partly visible ({c} of {b} rows)"
            assert key in acked or key in maybe, f"cycle {cycle}: rows {key} were never sent"
        # Requests that were in flight either fully landed or not at all.
        for key in list(maybe):
            if key in got:
                acked[key] = maybe.pop(key)
        maybe.clear()
        assert srv.query("SELECT count(*), count(DISTINCT k) FROM crash2") == [(acked2, acked2)]
    total = sum(acked.values())
    assert len(acked) >= cycles, f"only {len(acked)} requests acknowledged in {cycles} cycles"
    assert srv.query("SELECT count(*) FROM crash")[0][0] == total
    print(f"crash test: {cycles} kill -9 cycles, {len(acked)} requests and {total} rows acknowledged, "
          f"{acked2} SQL inserts")
    # PyIceberg reads every table once the buffers are committed.
    srv.checkpoint()
    catalog = catalog_for(srv.data_dir)
    assert catalog.load_table("public.crash").scan().to_arrow().num_rows == total
    assert catalog.load_table("public.crash2").scan().to_arrow().num_rows == acked2
    # After all the crashes, a VACUUM compacts each table's small files
    # (well under the 128 MiB target) and changes no row.
    r = srv.sql_http("VACUUM")
    assert r.status == 200, r.body
    for table, n in (("crash", total), ("crash2", acked2)):
        rows, files, delete_files, nbytes, last_error = srv.query(
            "SELECT rows, files, delete_files, bytes, last_error FROM system.tables "
            f"WHERE table_schema = 'public' AND table_name = '{table}'"
        )[0]
        assert rows == n and delete_files == 0 and last_error is None, (table, rows, delete_files, last_error)
        assert files <= nbytes // (128 << 20) + 1, (table, files, nbytes)
        assert srv.query(f"SELECT count(*) FROM {table}")[0][0] == n
        assert catalog.load_table(f"public.{table}").scan().to_arrow().num_rows == n
