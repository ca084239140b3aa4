"""`floe serve`: startup output, data directory lock, signals, durability."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from floe_helpers import describe, floe_env, free_ports, http_request, run_floe


def _abs_variants(path: Path) -> set[str]:
    return {str(Path(path).absolute()), os.path.realpath(path)}


def _find_line(lines: list[str], label: str, values) -> int | None:
    """Index of the first line containing `label:` followed by one of `values`
    (any amount of whitespace between them), or None."""
    pattern = re.compile(rf"\b{label}:\s+(?:{'|'.join(re.escape(v) for v in values)})(?:\s|$)")
    for i, line in enumerate(lines):
        if pattern.search(line):
            return i
    return None


def test_startup_output_names_addresses_and_data_dir(floe_server):
    out = floe_server.stdout_text()
    lines = [line.strip() for line in out.splitlines()]
    pg_at = _find_line(lines, "postgres", [floe_server.pg_addr])
    assert pg_at is not None, f"no 'postgres: {floe_server.pg_addr}' line in:\n{out}"
    http_at = _find_line(lines, "http", [floe_server.http_url])
    assert http_at is not None, f"no 'http: {floe_server.http_url}' line in:\n{out}"
    data_at = _find_line(lines, "data", _abs_variants(floe_server.data_dir))
    assert data_at is not None, f"no 'data: <abs path of {floe_server.data_dir}>' line in:\n{out}"
    assert "ready" in lines, f"no 'ready' line in:\n{out}"
    # 'ready' comes after the address lines
    assert max(pg_at, http_at, data_at) < lines.index("ready"), out


def test_healthz(floe_server):
    resp = http_request("GET", f"{floe_server.http_url}/healthz")
    assert resp.status == 200
    assert resp.json() == {"status": "ok"}


def test_relative_data_dir_is_printed_absolute(floe_factory, tmp_path):
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    srv = floe_factory(data_dir="reldata", cwd=workdir)
    expected = _abs_variants(workdir / "reldata")
    out = srv.stdout_text()
    lines = [line.strip() for line in out.splitlines()]
    assert _find_line(lines, "data", expected) is not None, (
        f"expected 'data: <one of {expected}>' in:\n{out}"
    )
    with srv.connect() as conn:
        conn.execute("CREATE TABLE rel_t (a BIGINT)")
    assert (workdir / "reldata" / "catalog.db").is_file()


def test_second_server_on_same_data_dir_fails_fast(floe_server, floe_bin):
    pg, http = free_ports(2)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [
                str(floe_bin),
                "serve",
                "--data-dir",
                str(floe_server.data_dir),
                "--pg-addr",
                f"127.0.0.1:{pg}",
                "--http-addr",
                f"127.0.0.1:{http}",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=15,
            env=floe_env(),
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            "a second `floe serve` on a data directory already in use kept running "
            f"for 15s instead of failing\nstdout: {e.stdout}\nstderr: {e.stderr}"
        ) from None
    elapsed = time.monotonic() - t0
    assert proc.returncode != 0, describe(proc)
    assert elapsed < 10, f"took {elapsed:.1f}s to fail\n{describe(proc)}"
    msg = (proc.stderr + proc.stdout).lower()
    assert "in use" in msg or "lock" in msg, describe(proc)
    assert "data dir" in msg or any(
        p.lower() in msg for p in _abs_variants(floe_server.data_dir)
    ), "the error should mention the data directory\n" + describe(proc)
    # the first server is unaffected
    assert http_request("GET", f"{floe_server.http_url}/healthz").status == 200
    assert floe_server.query("SELECT 1")[0][0] == 1


def test_sigterm_exits_zero_with_idle_client_connected(floe_factory):
    srv = floe_factory()
    conn = srv.connect()
    try:
        conn.execute("CREATE TABLE sig_t (a BIGINT)")
        conn.execute("INSERT INTO sig_t VALUES (1), (2)")
        rc = srv.stop(signal.SIGTERM, timeout=15)
        assert rc == 0, f"exit code {rc} after SIGTERM\n{srv.logs()}"
    finally:
        conn.close()
    # lock released, data kept
    srv.start()
    assert srv.query("SELECT count(*) FROM sig_t")[0][0] == 2


def test_sigint_exits_zero(floe_factory):
    srv = floe_factory()
    srv.query("CREATE TABLE sigint_t (a BIGINT)")
    rc = srv.stop(signal.SIGINT, timeout=15)
    assert rc == 0, f"exit code {rc} after SIGINT\n{srv.logs()}"


def kill_9_with_client_connected(srv, conn):
    """kill -9 the server while a client connection is still open."""
    rc = srv.kill()
    assert rc == -signal.SIGKILL
    try:
        conn.close()
    except psycopg.Error:
        pass


def test_rows_survive_kill_9(floe_factory):
    srv = floe_factory()
    expected = []
    conn = srv.connect()
    conn.execute("CREATE TABLE durable (id BIGINT, s TEXT)")
    for i in range(5):
        conn.execute("INSERT INTO durable VALUES (%s, %s)", (i, f"row{i}"))
        expected.append((i, f"row{i}"))
    conn.execute("INSERT INTO durable VALUES (10, 'ten'), (11, 'eleven'), (12, NULL)")
    expected += [(10, "ten"), (11, "eleven"), (12, None)]
    conn.execute("INSERT INTO durable SELECT value + 1000, 'bulk' FROM range(500)")
    expected += [(1000 + i, "bulk") for i in range(500)]
    kill_9_with_client_connected(srv, conn)

    srv.start()  # same data directory, fresh ports
    rows = srv.query("SELECT id, s FROM durable ORDER BY id")
    assert rows == sorted(expected)
    # and the restarted server accepts writes
    srv.query("INSERT INTO durable VALUES (99999, 'after')")
    assert srv.query("SELECT count(*) FROM durable")[0][0] == len(expected) + 1


def test_issue_2_row_changes_and_schema_changes_survive_kill_9(floe_factory):
    srv = floe_factory()
    conn = srv.connect()
    conn.execute("CREATE TABLE kv (k BIGINT PRIMARY KEY, v TEXT)")
    conn.execute("INSERT INTO kv SELECT value, 'v' || value FROM range(100)")
    conn.execute("DELETE FROM kv WHERE k % 3 = 0")
    conn.execute("UPDATE kv SET v = 'changed' WHERE k < 10")
    conn.execute("INSERT INTO kv VALUES (1, 'upserted'), (500, 'new') ON CONFLICT (k) DO UPDATE SET v = excluded.v")
    conn.execute("ALTER TABLE kv RENAME COLUMN v TO val")
    conn.execute("ALTER TABLE kv ADD COLUMN extra BIGINT")
    expected = {k: f"v{k}" for k in range(100) if k % 3 != 0}
    expected.update({k: "changed" for k in range(10) if k % 3 != 0})
    expected.update({1: "upserted", 500: "new"})
    kill_9_with_client_connected(srv, conn)

    srv.start()
    rows = srv.query("SELECT k, val, extra FROM kv ORDER BY k")
    assert rows == [(k, v, None) for k, v in sorted(expected.items())]
    srv.query("UPDATE kv SET extra = k * 2 WHERE k = 500")
    assert srv.query("SELECT extra FROM kv WHERE k = 500") == [(1000,)]


def test_data_persists_across_graceful_restart(floe_factory):
    srv = floe_factory()
    srv.query("CREATE TABLE persist_t (id BIGINT, name TEXT)")
    srv.query("INSERT INTO persist_t VALUES (1, 'a'), (2, 'b')")
    srv.restart()
    assert srv.query("SELECT id, name FROM persist_t ORDER BY id") == [(1, "a"), (2, "b")]
    listed = srv.http("GET", "/v1/tables").json()["tables"]
    assert any(t["schema"] == "public" and t["name"] == "persist_t" for t in listed), listed


def test_serve_help_lists_options(floe_bin):
    proc = run_floe(floe_bin, "serve", "--help", timeout=30)
    assert proc.returncode == 0, describe(proc)
    for opt in ("--data-dir", "--pg-addr", "--http-addr"):
        assert opt in proc.stdout, describe(proc)
