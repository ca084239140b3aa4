"""Fixtures for the Floe end-to-end tests.

The binary under test comes from $FLOE_BIN (default:
${CARGO_TARGET_DIR:-~/.cache/floe-target}/release/floe).

Fixtures:
  floe_bin       path of the floe binary (fails, never skips, when missing)
  floe_factory   function-scoped: make(data_dir=None, name="floe", start=True, cwd=None)
                 -> FloeServer; every server it made is stopped with SIGTERM at
                 teardown and must exit with code 0
  floe_server    function-scoped running server on a fresh data directory
  floe_shared    module-scoped running server (use unique table names)
  postgres       session-scoped PostgreSQL 15 (wal_level = logical) on its own
                 data directory and port; use a database of your own per test
Each server exposes .pg_port, .http_port, .data_dir, .proc, .dsn, .http_url.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from floe_helpers import FloeServer, ServerError, default_floe_bin
from pg_source import PostgresServer

DEFAULT_TEST_TIMEOUT = 180  # seconds, per test; override with @pytest.mark.floe_timeout(N)

# Servers in use by the running test (function- and module-scoped); their
# logs are attached to the report of a failing test.
_ACTIVE: list[FloeServer] = []


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "floe_timeout(seconds): per-test time limit (default %d s)" % DEFAULT_TEST_TIMEOUT,
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for srv in list(_ACTIVE):
            rep.sections.append((f"floe server logs: {srv.name} ({srv.data_dir})", srv.logs()))


@pytest.fixture(autouse=True)
def _per_test_timeout(request):
    """Fail a test that runs longer than its limit instead of hanging the run."""
    marker = request.node.get_closest_marker("floe_timeout")
    seconds = int(marker.args[0]) if marker else DEFAULT_TEST_TIMEOUT

    def on_alarm(signum, frame):
        raise TimeoutError(f"test exceeded its time limit of {seconds}s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def floe_bin() -> Path:
    path = default_floe_bin()
    if not path.is_file() or not path.stat().st_mode & 0o111:
        pytest.fail(
            f"floe binary not found or not executable at {path}; "
            "build it with `cargo build --release` or set FLOE_BIN",
            pytrace=False,
        )
    return path


class _ServerSet:
    """Creates servers and, at the end, stops them all with SIGTERM,
    failing if any of them does not exit with code 0."""

    def __init__(self, floe_bin: Path, base_dir: Path):
        self.floe_bin = floe_bin
        self.base_dir = base_dir
        self.servers: list[FloeServer] = []

    def make(
        self,
        data_dir: Path | str | None = None,
        name: str = "floe",
        start: bool = True,
        cwd: Path | None = None,
        **options,
    ) -> FloeServer:
        idx = len(self.servers) + 1
        if data_dir is None:
            data_dir = self.base_dir / f"data{idx}"
        srv = FloeServer(
            self.floe_bin,
            data_dir,
            log_dir=self.base_dir / "logs",
            name=f"{name}{idx}",
            cwd=cwd,
            **options,
        )
        self.servers.append(srv)
        _ACTIVE.append(srv)
        if start:
            try:
                srv.start()
            except ServerError as e:
                pytest.fail(str(e), pytrace=False)
        return srv

    def close(self) -> None:
        problems = []
        for srv in self.servers:
            if srv in _ACTIVE:
                _ACTIVE.remove(srv)
            if srv.proc is not None and srv.running:
                try:
                    rc = srv.stop(signal.SIGTERM)
                except ServerError as e:
                    problems.append(str(e))
                    continue
                if rc != 0:
                    problems.append(
                        f"{srv.name}: floe serve exited with code {rc} after SIGTERM (expected 0)\n{srv.logs()}"
                    )
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def floe_factory(floe_bin, tmp_path):
    servers = _ServerSet(floe_bin, tmp_path)
    yield servers.make
    servers.close()


@pytest.fixture
def floe_server(floe_factory) -> FloeServer:
    return floe_factory()


@pytest.fixture(scope="module")
def floe_shared(floe_bin, tmp_path_factory):
    servers = _ServerSet(floe_bin, tmp_path_factory.mktemp("floe-shared"))
    srv = servers.make(name="shared")
    yield srv
    servers.close()


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer()
    try:
        server.start()
    except Exception as e:  # noqa: BLE001 - show PostgreSQL's own log
        log = server.log.read_text() if server.log.exists() else ""
        server.cleanup()
        pytest.fail(f"cannot start PostgreSQL 15: {e}\n{log}", pytrace=False)
    yield server
    server.cleanup()
