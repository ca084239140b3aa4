"""Secure by default: the first start's superuser, SCRAM logins, privileges
on both protocols, tokens, COPY confinement, the audit trail, throttling,
the connection cap, refusing plaintext on a public address, and hostile
startup messages."""

from __future__ import annotations

import os
import random
import socket
import stat
import struct
import subprocess
import time

import psycopg
import pytest

from floe_helpers import free_ports, http_request, run_floe


def connect(srv, user="floe", password=None, **kw):
    dsn = f"host=127.0.0.1 port={srv.pg_port} user={user} dbname=floe connect_timeout=10"
    if password is not None:
        dsn += " password='" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return psycopg.connect(dsn, autocommit=True, **kw)


def admin_sql(srv, *statements):
    with srv.connect() as conn:
        out = None
        for s in statements:
            cur = conn.execute(s)
            out = cur.fetchall() if cur.description else None
        return out


def test_issue5_first_start_makes_a_superuser_and_shows_it_once(floe_factory):
    srv = floe_factory()
    out = srv.stdout_text()
    assert f"password: {srv.password}" in out
    assert f"token:    {srv.token}" in out
    for name in ("admin.password", "admin.token", "auth.json", "audit.log"):
        mode = stat.S_IMODE(os.stat(os.path.join(srv.data_dir, name)).st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"
    auth_json = open(os.path.join(srv.data_dir, "auth.json")).read()
    assert srv.password not in auth_json and "SCRAM-SHA-256$4096:" in auth_json
    srv.restart()
    assert srv.password not in srv.stdout_text()
    assert admin_sql(srv, "SELECT name, superuser FROM system.roles") == [("floe", True)]


def test_issue5_scram_logins_and_wrong_passwords(floe_server):
    srv = floe_server
    admin_sql(srv, "CREATE USER alice PASSWORD 'correct horse'")
    with connect(srv, "alice", "correct horse") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        # The server asked for SCRAM-SHA-256, not a cleartext password.
        assert conn.info.parameter_status("is_superuser") == "off"
    for user, password in [("alice", "wrong"), ("nobody", "x"), ("floe", "not-the-password")]:
        with pytest.raises(psycopg.OperationalError) as e:
            connect(srv, user, password)
        # libpq reports only the message of a failed login; the SQLSTATE
        # (28P01) is checked at the protocol level in the Rust e2e tests.
        assert f'FATAL:  password authentication failed for user "{user}"' in str(e.value)
    # A changed password takes over at once; the old one stops working.
    admin_sql(srv, "ALTER USER alice PASSWORD 'battery staple'")
    with pytest.raises(psycopg.OperationalError):
        connect(srv, "alice", "correct horse")
    connect(srv, "alice", "battery staple").close()
    # A user may change their own password but not make themselves superuser.
    with connect(srv, "alice", "battery staple") as conn:
        conn.execute("ALTER USER alice PASSWORD 'staple battery'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER USER alice SUPERUSER")
    connect(srv, "alice", "staple battery").close()


def test_issue5_privileges_on_both_protocols(floe_server):
    srv = floe_server
    admin_sql(
        srv,
        "CREATE TABLE pay (id BIGINT, amount BIGINT)",
        "INSERT INTO pay VALUES (1, 10), (2, 20)",
        "CREATE TABLE pub (id BIGINT)",
        "CREATE USER bob PASSWORD 'pw-bob'",
        "CREATE ROLE analyst",
        "GRANT SELECT ON pub TO analyst",
        "GRANT analyst TO bob",
    )
    with connect(srv, "bob", "pw-bob") as conn:
        conn.execute("SELECT * FROM pub")
        for sql in [
            "SELECT * FROM pay",
            "SELECT count(*) FROM pub JOIN pay ON pub.id = pay.id",
            "SELECT * FROM pub WHERE id IN (SELECT id FROM pay)",
            "INSERT INTO pub VALUES (1)",
            "DELETE FROM pub",
            "UPDATE pub SET id = 2",
            "INSERT INTO pub SELECT id FROM pay",
            "CREATE TABLE mine (a INT)",
            "DROP TABLE pub",
            "VACUUM pub",
            "CHECKPOINT",
            "CREATE USER eve PASSWORD 'x'",
            "GRANT SELECT ON pay TO bob",
            "SELECT * FROM system.audit",
            "SELECT * FROM system.sources",
            "SELECT * FROM at_snapshot('pay', 123456)",
            "SELECT * FROM row_positions('pay')",
            # issue 23: a LIMIT count subquery runs with the session's privileges
            "SELECT * FROM pub LIMIT (SELECT amount FROM pay WHERE id = 1)",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
                conn.execute(sql)
            assert e.value.sqlstate == "42501", sql
        # information_schema lists only what the user holds a privilege on.
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        assert rows == [("pub",)], rows
        rows = conn.execute(
            "SELECT DISTINCT table_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ).fetchall()
        assert rows == [("pub",)], rows
        # Extended protocol (a prepared statement) and a cursor too.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT amount FROM pay WHERE id = %s", (1,), prepare=True)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with conn.transaction():
                with conn.cursor(name="c") as cur:
                    cur.execute("SELECT * FROM pay")
                    cur.fetchall()

        # A grant applies to the open session at once; so does a revoke.
        admin_sql(srv, "GRANT SELECT, INSERT ON pay TO analyst")
        assert conn.execute("SELECT sum(amount) FROM pay").fetchone() == (30,)
        conn.execute("INSERT INTO pay VALUES (3, 30)")
        stmt = "SELECT count(*) FROM pay WHERE id > %s"
        assert conn.execute(stmt, (0,), prepare=True).fetchone() == (3,)
        admin_sql(srv, "REVOKE analyst FROM bob")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM pay")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(stmt, (0,), prepare=True)
        # USAGE on the schema is needed as well as the table privilege.
        admin_sql(srv, "GRANT analyst TO bob", "REVOKE USAGE ON SCHEMA public FROM PUBLIC")
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute("SELECT * FROM pub")
        assert "schema public" in str(e.value)
        admin_sql(srv, "GRANT USAGE ON SCHEMA public TO bob")
        conn.execute("SELECT * FROM pub")

    # HTTP: a token of a role without SELECT gets 403 and the SQLSTATE.
    row = admin_sql(srv, "CREATE ROLE writer", "GRANT INSERT ON pub TO writer",
                    "GRANT USAGE ON SCHEMA public TO writer",
                    "CREATE TOKEN ingest FOR ROLE writer")[0]
    assert row[0] == "ingest" and row[1] == "writer" and row[2].startswith("floe_")
    token = row[2]
    auth = {"Authorization": f"Bearer {token}"}
    r = http_request("POST", f"{srv.http_url}/v1/sql", "SELECT * FROM pay", auth)
    assert r.status == 403 and r.json()["error"]["code"] == "42501"
    r = http_request("POST", f"{srv.http_url}/v1/tables/pay/rows", '{"id": 9}',
                     {**auth, "Content-Type": "application/x-ndjson"})
    assert r.status == 403, r.text()
    r = http_request("POST", f"{srv.http_url}/v1/tables/pub/rows", '{"id": 9}',
                     {**auth, "Content-Type": "application/x-ndjson"})
    assert r.status == 200, r.text()
    listed = http_request("GET", f"{srv.http_url}/v1/tables", headers=auth).json()
    assert [t["name"] for t in listed["tables"]] == ["pub"]
    # Tokens are stored hashed; the secret is nowhere on disk.
    assert token.rsplit("_", 1)[1] not in open(os.path.join(srv.data_dir, "auth.json")).read()
    # Dropped: refused on the very next request.
    admin_sql(srv, "DROP TOKEN ingest")
    r = http_request("POST", f"{srv.http_url}/v1/tables/pub/rows", '{"id": 10}',
                     {**auth, "Content-Type": "application/x-ndjson"})
    assert r.status == 401 and r.json()["error"]["code"] == "28P01"
    assert "bearer" in r.headers.get("www-authenticate", "").lower()
    r = http_request("GET", f"{srv.http_url}/v1/tables", auth=False)
    assert r.status == 401
    assert http_request("GET", f"{srv.http_url}/healthz", auth=False).status == 200


def test_issue5_copy_paths_are_confined(floe_factory, tmp_path):
    inside = tmp_path / "in"
    inside.mkdir()
    (inside / "ok.csv").write_text("id\n1\n")
    outside = tmp_path / "out"
    outside.mkdir()
    (outside / "x.csv").write_text("id\n2\n")
    os.symlink(outside / "x.csv", inside / "link.csv")
    srv = floe_factory(copy_dirs=[str(inside)])
    admin_sql(srv, "CREATE TABLE c (id BIGINT)")
    with srv.connect() as conn:
        conn.execute(f"COPY c FROM '{inside}/ok.csv' (FORMAT csv, HEADER true)")
        conn.execute("COPY c FROM 'ok.csv' (FORMAT csv, HEADER true)")  # relative to the dir
        for path in ["/etc/shadow", "/etc/passwd", f"{inside}/../out/x.csv", "../out/x.csv",
                     f"{inside}/link.csv", f"{outside}/*.csv"]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
                conn.execute(f"COPY c FROM '{path}' (FORMAT csv, HEADER true)")
            assert "COPY" in str(e.value), path
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"COPY c TO '{outside}/leak.csv'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"COPY c TO '{inside}/link.csv'")
        assert not (outside / "leak.csv").exists()
        conn.execute(f"COPY c TO '{inside}/export.csv'")
        assert conn.execute("SELECT count(*) FROM c").fetchone() == (2,)
    assert (inside / "export.csv").exists()
    assert (outside / "x.csv").read_text() == "id\n2\n"

    # Without --copy-dir, COPY touches no file at all.
    bare = floe_factory(name="nocopy", copy_dirs=[])
    admin_sql(bare, "CREATE TABLE c (id BIGINT)")
    with bare.connect() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute(f"COPY c FROM '{inside}/ok.csv'")
        assert "--copy-dir" in str(e.value)


def test_issue5_audit_trail_and_failed_login_throttling(floe_server):
    srv = floe_server
    admin_sql(srv, "CREATE USER carol PASSWORD 'pw-carol'", "CREATE TABLE a (x INT)",
              "GRANT SELECT ON a TO carol", "CREATE TOKEN t1 FOR ROLE carol", "DROP TOKEN t1")
    with pytest.raises(psycopg.OperationalError):
        connect(srv, "carol", "nope")
    with connect(srv, "carol", "pw-carol") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM system.audit")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE a")
    rows = admin_sql(srv, "SELECT kind, user_name, peer, success, detail FROM system.audit")
    kinds = [(k, u, ok) for k, u, _, ok, _ in rows]
    assert ("login", "carol", False) in kinds and ("login", "carol", True) in kinds
    assert ("role", "floe", True) in kinds and ("grant", "floe", True) in kinds
    assert ("token", "floe", True) in kinds and ("ddl", "floe", True) in kinds
    assert ("ddl", "carol", False) in kinds
    r = http_request("GET", f"{srv.http_url}/v1/tables")
    assert r.status == 200
    rows = admin_sql(srv, "SELECT kind, user_name, peer, success, detail, protocol FROM system.audit")
    assert [r[:2] + (r[3], r[4]) for r in rows if r[5] == "http"] == [("login", "floe", True, "token admin")]
    failed = [r for r in rows if r[0] == "login" and not r[3]]
    assert failed[0][2].startswith("127.0.0.1:")
    assert all("pw-carol" not in r[4] for r in rows)
    assert any(r[4].startswith("CREATE ROLE carol") and "********" in r[4] for r in rows)

    # Ten failures from one address, then even the right password waits.
    for _ in range(9):
        with pytest.raises(psycopg.OperationalError):
            connect(srv, "carol", "nope")
    with pytest.raises(psycopg.OperationalError) as e:
        connect(srv, "carol", "pw-carol")
    assert "too many failed logins" in str(e.value)
    r = http_request("GET", f"{srv.http_url}/v1/tables")
    assert r.status == 429 and r.json()["error"]["code"] == "53400"
    assert int(r.headers["retry-after"]) >= 1


def test_issue5_connection_cap(floe_factory):
    srv = floe_factory(extra_args=["--max-connections", "2"])
    a, b = srv.connect(), srv.connect()
    with pytest.raises(psycopg.OperationalError) as e:
        srv.connect()
    assert "too many clients" in str(e.value)
    a.close()
    deadline = time.monotonic() + 10
    while True:
        try:
            srv.connect().close()
            break
        except psycopg.OperationalError:
            assert time.monotonic() < deadline, "a slot was not freed"
            time.sleep(0.1)
    b.close()


def test_issue5_plaintext_on_a_public_address_needs_insecure(floe_bin, tmp_path):
    pg, http = free_ports(2)
    proc = run_floe(floe_bin, "serve", "--data-dir", str(tmp_path / "d"),
                    "--pg-addr", f"0.0.0.0:{pg}", "--http-addr", f"127.0.0.1:{http}", timeout=60)
    assert proc.returncode != 0
    assert "refusing to listen on 0.0.0.0" in proc.stderr and "--insecure" in proc.stderr
    cmd = [str(floe_bin), "serve", "--data-dir", str(tmp_path / "d2"), "--insecure",
           "--pg-addr", f"0.0.0.0:{pg}", "--http-addr", f"127.0.0.1:{http}"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", pg), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("floe serve --insecure did not start")
    finally:
        p.terminate()
        _, err = p.communicate(timeout=30)
    assert "WARNING: --insecure" in err


def _startup(user: bytes = b"floe") -> bytes:
    body = struct.pack("!I", 196608) + b"user\0" + user + b"\0database\0floe\0\0"
    return struct.pack("!I", len(body) + 4) + body


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def _fuzz_cases(rng: random.Random):
    scram_init = _message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", 20) + b"n,,n=,r=abcdefghijkl")
    yield b""
    yield b"\0\0\0\x08\x04\xd2\x16\x2f"  # SSLRequest, then hang up
    yield struct.pack("!I", 0x7FFFFFFF) + b"\0\3\0\0"  # huge startup length
    yield struct.pack("!I", 3)  # length below the minimum
    yield _startup() + _message(b"Q", b"SELECT 1\0")  # query before authenticating
    yield _startup() + _message(b"p", b"")  # empty SASL response
    yield _startup() + _message(b"p", b"MD5\0" + struct.pack("!i", -1))
    yield _startup() + scram_init + _message(b"p", b"c=biws,r=zzz,p=AAAA")
    yield _startup() + scram_init + _message(b"p", b"\xff" * 100)
    yield _startup() + _message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", 0x7FFFFFF0))
    yield _startup() + _message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", 5) + b"p=x,,")
    yield _startup(b"x" * 5000)
    yield _startup() + b"p" + struct.pack("!I", 0x7FFFFFFF)  # huge message length
    for _ in range(120):
        base = rng.choice([_startup(), _startup() + scram_init, scram_init, b""])
        noise = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
        data = bytearray(base + noise)
        for _ in range(rng.randint(0, 4)):
            if data:
                data[rng.randrange(len(data))] = rng.getrandbits(8)
        yield bytes(data)


@pytest.mark.floe_timeout(300)
def test_issue5_hostile_startup_and_authentication_messages_do_not_crash(floe_factory):
    # Failed logins are not throttled here: the cases are meant to fail.
    srv = floe_factory(extra_args=["--max-failed-logins", "0"])
    rng = random.Random(5)
    for i, case in enumerate(_fuzz_cases(rng)):
        with socket.create_connection(("127.0.0.1", srv.pg_port), timeout=5) as s:
            s.settimeout(2)
            try:
                s.sendall(case)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except (ConnectionError, socket.timeout, OSError):
                pass
        assert srv.running, f"server exited after case {i}: {case[:80]!r}"
        if i % 20 == 0:
            assert srv.query("SELECT 1") == [(1,)]
    assert srv.query("SELECT 1") == [(1,)]
    # A panic in a connection's task leaves the server up: its log tells.
    assert "panicked" not in srv.stdout_text() + srv.stderr_text()
    # Nothing got in: no session ran a statement without logging in.
    rows = srv.query("SELECT count(*) FROM system.audit WHERE kind = 'login' AND success")
    assert rows[0][0] >= 1


def test_issue5_http_limits_answer_with_errors(floe_factory):
    srv = floe_factory(extra_args=["--max-connections", "2", "--client-timeout", "2"])
    # Headers past the limit: 431, not a crash.
    r = http_request("GET", f"{srv.http_url}/v1/tables", headers={"X-Big": "x" * 300_000})
    assert r.status == 431
    # A client that never finishes its headers is closed after the timeout.
    s = socket.create_connection(("127.0.0.1", srv.http_port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    start = time.monotonic()
    data = s.recv(1024)
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data
    waited = time.monotonic() - start
    s.close()
    assert 1 <= waited < 9, f"slow client held the connection for {waited:.1f}s"
    # Over the connection cap: 503 with the SQLSTATE, and the server goes on.
    import http.client
    held = [http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=10) for _ in range(2)]
    for c in held:
        c.request("GET", "/healthz")
        assert c.getresponse().read()
    extra = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=10)
    extra.request("GET", "/healthz")
    resp = extra.getresponse()
    assert resp.status == 503 and b"53300" in resp.read()
    for c in held:
        c.close()
    deadline = time.monotonic() + 10
    while http_request("GET", f"{srv.http_url}/healthz").status != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_issue5_users_see_only_their_own_sessions_and_queries(floe_server):
    srv = floe_server
    admin_sql(srv, "CREATE USER dave PASSWORD 'pw-dave'", "CREATE USER erin PASSWORD 'pw-erin'")
    with connect(srv, "dave", "pw-dave") as dave, connect(srv, "erin", "pw-erin") as erin:
        dave.execute("SELECT 'dave was here'")
        erin.execute("SELECT 'erin was here'")
        mine = dave.execute("SELECT DISTINCT user_name FROM system.sessions").fetchall()
        assert mine == [("dave",)]
        active = dave.execute("SELECT state, query FROM system.sessions").fetchall()
        assert active == [("active", "SELECT state, query FROM system.sessions")]
        statements = [r[0] for r in dave.execute("SELECT statement FROM system.queries").fetchall()]
        assert "SELECT 'dave was here'" in statements
        assert not any("erin" in s for s in statements)
        with srv.connect() as admin:
            users = {r[0] for r in admin.execute("SELECT user_name FROM system.sessions").fetchall()}
            assert {"dave", "erin", "floe"} <= users
            admin.execute("ALTER USER dave PASSWORD 'hunter2-secret'")
            rows = admin.execute("SELECT user_name, statement, status FROM system.queries").fetchall()
            assert ("erin", "SELECT 'erin was here'", "ok") in rows
            assert not any("hunter2" in r[1] for r in rows)
            assert any(r[1].startswith("ALTER ROLE dave") and "********" in r[1] for r in rows)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with connect(srv, "dave", "hunter2-secret") as dave:
            dave.execute("SELECT * FROM system.audit")
    with srv.connect() as admin:
        failed = admin.execute(
            "SELECT status FROM system.queries WHERE statement = 'SELECT * FROM system.audit'").fetchall()
        assert failed == [("42501",)]


def test_issue5_idle_and_slow_pg_clients_are_closed(floe_factory):
    srv = floe_factory(extra_args=["--idle-session-timeout", "2"])
    busy = srv.connect()
    idle = srv.connect()
    # A client that connects and never logs in is closed too.
    s = socket.create_connection(("127.0.0.1", srv.pg_port), timeout=10)
    start = time.monotonic()
    for _ in range(8):
        busy.execute("SELECT 1")
        time.sleep(0.5)
    assert s.recv(1024) == b""
    assert time.monotonic() - start < 9
    s.close()
    with pytest.raises(psycopg.OperationalError):
        idle.execute("SELECT 1")
    busy.execute("SELECT 1")  # active sessions stay
    busy.close()


def test_issue5_renamed_and_dropped_users_and_schema_wide_grants(floe_server):
    srv = floe_server
    admin_sql(
        srv,
        "CREATE SCHEMA shop",
        "CREATE TABLE shop.orders (id BIGINT)",
        "CREATE TABLE shop.items (id BIGINT)",
        "INSERT INTO shop.items VALUES (7)",
        "CREATE USER frank PASSWORD 'pw-frank'",
        "GRANT USAGE ON SCHEMA shop TO frank",
        "GRANT SELECT ON ALL TABLES IN SCHEMA shop TO frank",
    )
    with connect(srv, "frank", "pw-frank") as conn:
        assert conn.execute("SELECT id FROM shop.items").fetchall() == [(7,)]
        assert conn.execute("SELECT count(*) FROM shop.orders").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO shop.items VALUES (8)")
    # A token made twice with IF NOT EXISTS is made once.
    first = admin_sql(srv, "CREATE TOKEN IF NOT EXISTS feed FOR ROLE frank")
    assert first[0][2].startswith("floe_")
    assert admin_sql(srv, "CREATE TOKEN IF NOT EXISTS feed FOR ROLE frank") is None
    with pytest.raises(psycopg.errors.DuplicateObject):
        admin_sql(srv, "CREATE TOKEN feed")
    # Renamed: the old name no longer logs in, the new one keeps the grants
    # and the token.
    admin_sql(srv, "ALTER ROLE frank RENAME TO francis")
    with pytest.raises(psycopg.OperationalError):
        connect(srv, "frank", "pw-frank")
    with connect(srv, "francis", "pw-frank") as conn:
        assert conn.execute("SELECT id FROM shop.items").fetchall() == [(7,)]
    assert admin_sql(srv, "SELECT name, role FROM system.tokens WHERE name = 'feed'") == [
        ("feed", "francis")]
    # Dropped: its grants and tokens go with it.
    admin_sql(srv, "DROP USER francis")
    with pytest.raises(psycopg.OperationalError):
        connect(srv, "francis", "pw-frank")
    assert admin_sql(srv, "SELECT count(*) FROM system.grants WHERE grantee = 'francis'") == [(0,)]
    assert admin_sql(srv, "SELECT count(*) FROM system.tokens WHERE name = 'feed'") == [(0,)]
    r = http_request("GET", f"{srv.http_url}/v1/tables",
                     headers={"Authorization": f"Bearer {first[0][2]}"})
    assert r.status == 401
    with pytest.raises(psycopg.errors.UndefinedObject):
        admin_sql(srv, "DROP USER francis")
    admin_sql(srv, "DROP USER IF EXISTS francis")


def test_issue23_floe_statements_mean_the_same_on_every_path(floe_server):
    srv = floe_server
    # A source's connection password is masked in the audit trail and the
    # query log, whether or not the source could be created.
    port = free_ports(1)[0]
    with srv.connect() as conn:
        with pytest.raises(psycopg.Error):
            conn.execute(
                "CREATE SOURCE leaky FROM POSTGRES CONNECTION "
                f"'postgres://repl:hunter2secret@127.0.0.1:{port}/shop'"
            )
        audit = conn.execute("SELECT detail FROM system.audit WHERE detail LIKE 'CREATE SOURCE%'").fetchall()
        queries = conn.execute("SELECT statement FROM system.queries WHERE statement LIKE 'CREATE SOURCE%'").fetchall()
    assert audit and queries, (audit, queries)
    for (text,) in audit + queries:
        assert "hunter2secret" not in text and "********" in text, text
        assert text.startswith('CREATE SOURCE "leaky" FROM POSTGRES'), text

    # A malformed statement gets the same syntax error, with its line and
    # column, over the PG wire (both protocols) and HTTP.
    bad = "CREATE SOURCE s FROM MYSQL CONNECTION 'x'"
    expected = "Expected: POSTGRES, found: MYSQL at Line: 1, Column: 22"
    with srv.connect() as conn:
        for prepare in (False, True):
            with pytest.raises(psycopg.errors.SyntaxError) as e:
                conn.execute(bad, prepare=prepare)
            assert expected in str(e.value), e.value
    r = http_request("POST", f"{srv.http_url}/v1/sql", bad)
    assert r.status == 400 and r.json()["error"]["code"] == "42601"
    assert expected in r.json()["error"]["message"]
    # Another dialect's reading of CREATE USER is not taken (the password
    # would have been echoed in the error).
    with srv.connect() as conn:
        with pytest.raises(psycopg.errors.SyntaxError) as e:
            conn.execute("CREATE USER mallory PASSWORD = 'pw-in-error'")
        assert "pw-in-error" not in str(e.value)
        # Other dialects' look-alikes of Floe's statements are not Floe's.
        for text in ("CREATE SECRET s (TYPE floe_token, role floe)",
                     "CREATE CONNECTOR c TYPE 'postgres' URL 'postgres://u@h/db'",
                     "FLUSH TABLES"):
            with pytest.raises((psycopg.errors.FeatureNotSupported, psycopg.errors.SyntaxError)):
                conn.execute(text)
        # CREATE TOKEN describes its columns to the extended protocol.
        cur = conn.execute("CREATE TOKEN prepared_tok", prepare=True)
        assert [d.name for d in cur.description] == ["name", "role", "token"]
        name, role, token = cur.fetchone()
        assert (name, role) == ("prepared_tok", "floe") and token.startswith("floe_")

    # CHECKPOINT inside a block is refused by its own name.
    with srv.connect(autocommit=False) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction) as e:
            conn.execute("CHECKPOINT")
        assert "cannot execute CHECKPOINT in a transaction block" in str(e.value)


def test_issue23_views_survive_restart_and_read_as_the_reader(floe_server):
    """A view is durable once CREATE VIEW returns, and reading it needs
    SELECT on the tables it reads (the view runs as its reader); only a
    superuser creates views."""
    srv = floe_server
    admin_sql(
        srv,
        "CREATE TABLE salaries (name TEXT, pay INT)",
        "INSERT INTO salaries VALUES ('ann', 10), ('bob', 20)",
        "CREATE VIEW payroll (who, total) AS SELECT name, pay * 12 FROM salaries",
        "CREATE USER gina PASSWORD 'pw-gina'",
    )
    srv.restart()
    assert admin_sql(srv, "SELECT who, total FROM payroll ORDER BY who") == [
        ("ann", 120),
        ("bob", 240),
    ]
    with connect(srv, "gina", "pw-gina") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM payroll")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE VIEW mine AS SELECT 1")
    admin_sql(srv, "GRANT SELECT ON salaries TO gina")
    with connect(srv, "gina", "pw-gina") as conn:
        assert conn.execute("SELECT sum(total) FROM payroll").fetchone() == (360,)
    admin_sql(srv, "DROP VIEW payroll")
    srv.restart()
    with pytest.raises(psycopg.errors.UndefinedTable):
        admin_sql(srv, "SELECT * FROM payroll")


def test_issue23_prepared_statements_belong_to_their_session(floe_server):
    """SQL PREPARE keeps a statement in the session that made it, as
    PostgreSQL does: another session can neither run nor replace it, and
    EXECUTE checks the executing user's privileges when it runs (a
    superuser's prepared read of a table was run by any user before)."""
    srv = floe_server
    admin_sql(
        srv,
        "CREATE TABLE vault (secret INT)",
        "INSERT INTO vault VALUES (42)",
        "CREATE USER hank PASSWORD 'pw-hank'",
    )
    with srv.connect() as admin, connect(srv, "hank", "pw-hank") as hank:
        admin.execute("PREPARE peek AS SELECT secret FROM vault")
        assert admin.execute("EXECUTE peek").fetchall() == [(42,)]
        # Not hank's: it does not exist in his session.
        with pytest.raises(psycopg.errors.InvalidSqlStatementName) as e:
            hank.execute("EXECUTE peek")
        assert 'prepared statement "peek" does not exist' in str(e.value)
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            hank.execute("DEALLOCATE peek")
        # The same name means different statements in two sessions.
        hank.execute("PREPARE peek AS SELECT $1::int * 2")
        assert hank.execute("EXECUTE peek(21)").fetchall() == [(42,)]
        assert admin.execute("EXECUTE peek").fetchall() == [(42,)]
        # A second PREPARE of a name the session holds is 42P05.
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            hank.execute("PREPARE peek AS SELECT 1")
        # Hank cannot prepare a read he may not make.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            hank.execute("PREPARE mine AS SELECT secret FROM vault")
        # Wrong number of values.
        with pytest.raises(psycopg.errors.SyntaxError) as e:
            hank.execute("EXECUTE peek(1, 2)")
        assert "wrong number of parameters" in str(e.value)

    # A statement prepared while a grant held is checked again at EXECUTE.
    admin_sql(srv, "GRANT SELECT ON vault TO hank")
    with connect(srv, "hank", "pw-hank") as hank:
        hank.execute("PREPARE mine AS SELECT secret + 1 FROM vault")
        assert hank.execute("EXECUTE mine").fetchall() == [(43,)]
        admin_sql(srv, "REVOKE SELECT ON vault FROM hank")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            hank.execute("EXECUTE mine")
        # DEALLOCATE ALL empties the session's statements.
        hank.execute("PREPARE other AS SELECT 1")
        hank.execute("DEALLOCATE ALL")
        for name in ("mine", "other"):
            with pytest.raises(psycopg.errors.InvalidSqlStatementName):
                hank.execute(f"EXECUTE {name}")
    # Statements end with their session.
    with srv.connect() as admin:
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            admin.execute("EXECUTE peek")
        # EXECUTE runs in the session's time zone, and now() is read anew.
        admin.execute("SET TIME ZONE 'Asia/Kolkata'")
        admin.execute("PREPARE noon AS SELECT TIMESTAMPTZ '2024-01-01 12:00:00+00'::text, now()")
        (first, t1), = admin.execute("EXECUTE noon").fetchall()
        assert first == "2024-01-01 17:30:00+05:30"
        time.sleep(0.05)
        (_, t2), = admin.execute("EXECUTE noon").fetchall()
        assert t2 > t1
    # Over HTTP, a request's statements are its own.
    r = http_request("POST", f"{srv.http_url}/v1/sql",
                     "PREPARE h AS SELECT 7 AS seven; EXECUTE h")
    assert r.status == 200, r.body
    r = http_request("POST", f"{srv.http_url}/v1/sql", "EXECUTE h")
    assert r.status == 400 and r.json()["error"]["code"] == "26000", r.body


def test_issue23_custom_settings_are_the_sessions_own(floe_server):
    """`SET app.user_id = ...` (a PostgreSQL placeholder setting, as row
    filters and audit triggers read it) is the session's own: SHOW and
    current_setting read it back on both protocols, another session does
    not see it, and current_setting('TimeZone') is the session's zone."""
    srv = floe_server
    with srv.connect() as one, srv.connect() as two:
        one.execute("SET app.user_id = 'ann'")
        assert one.execute("SHOW app.user_id").fetchone() == ("ann",)
        for prepare in (False, True):
            assert one.execute("SELECT current_setting('app.user_id')",
                               prepare=prepare).fetchone() == ("ann",)
        with pytest.raises(psycopg.errors.UndefinedObject):
            two.execute("SHOW app.user_id")
        with pytest.raises(psycopg.errors.UndefinedObject):
            two.execute("SELECT current_setting('app.user_id')")
        assert two.execute("SELECT current_setting('app.user_id', true)").fetchone() == (None,)
        one.execute("RESET app.user_id")
        assert one.execute("SHOW app.user_id").fetchone() == ("",)
        two.execute("SET TIME ZONE 'Asia/Kolkata'")
        assert two.execute("SELECT current_setting('TimeZone')").fetchone() == ("Asia/Kolkata",)
        assert one.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
        # The extended protocol (JDBC's and Npgsql's way) keeps them too:
        # a SET there was answered "SET" and dropped.
        two.execute("SET app.tenant = 'acme'", prepare=True)
        assert two.execute("SHOW app.tenant", prepare=True).fetchone() == ("acme",)
        assert two.execute("SELECT current_setting('app.tenant', true)",
                           prepare=True).fetchone() == ("acme",)
        two.execute("RESET app.tenant", prepare=True)
        assert two.execute("SHOW app.tenant", prepare=True).fetchone() == ("",)
        with pytest.raises(psycopg.errors.UndefinedObject):
            two.execute("SHOW app.never", prepare=True)
        # A quoted name is the same name, and the engine's own settings
        # stay refused however they are quoted.
        one.execute('SET "app.quoted" = 1')
        assert one.execute("SHOW app.quoted").fetchone() == ("1",)
        for stmt in ('SET "datafusion.execution.batch_size" = 1',
                     'SET "datafusion"."execution"."batch_size" = 1'):
            for prepare in (False, True):
                with pytest.raises(psycopg.errors.FeatureNotSupported):
                    one.execute(stmt, prepare=prepare)
    # RESET of a setting is allowed in a transaction block, as SET is.
    with srv.connect(autocommit=False) as conn:
        conn.execute("SET app.x = 'y'")
        conn.execute("RESET app.x")
        assert conn.execute("SHOW app.x").fetchone() == ("",)
        conn.rollback()
