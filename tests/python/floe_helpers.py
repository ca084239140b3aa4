"""Shared helpers for the Floe end-to-end tests: server process management,
HTTP requests, running the CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlparse
from pathlib import Path

import psycopg

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
LOG_TAIL_CHARS = 20_000


def default_floe_bin() -> Path:
    env = os.environ.get("FLOE_BIN")
    if env:
        return Path(env)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "floe-target"
    )
    return Path(target) / "release" / "floe"


# Credentials of the servers this test process started: libpq reads the
# password from PGPASSFILE (host and port pick the server), and HTTP
# requests to a server's address carry its token.
_TOKENS: dict[str, str] = {}
_PGPASS = Path(tempfile.mkdtemp(prefix="floe-pgpass-")) / "pgpass"
_PGPASS.touch(mode=0o600)
os.environ["PGPASSFILE"] = str(_PGPASS)


def remember_credentials(pg_port: int, http_port: int, password: str, token: str) -> None:
    # libpq takes the first matching line: a port used again by a later
    # server must not find an earlier server's password.
    hosts = ("127.0.0.1", "localhost")
    stale = tuple(f"{host}:{pg_port}:" for host in hosts)
    lines = [line for line in _PGPASS.read_text().splitlines() if not line.startswith(stale)]
    lines += [f"{host}:{pg_port}:*:floe:{password}" for host in hosts]
    _PGPASS.write_text("".join(line + "\n" for line in lines))
    for host in ("127.0.0.1", "localhost"):
        _TOKENS[f"{host}:{http_port}"] = token


def token_for(url: str) -> str | None:
    return _TOKENS.get(urlparse(url).netloc)


def floe_env() -> dict[str, str]:
    """Environment for floe processes: the caller's, without FLOE_* settings
    (they would override or conflict with the explicit command-line flags)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOE_")}
    env.setdefault("RUST_BACKTRACE", "1")
    return env


def free_ports(n: int) -> list[int]:
    """Return n distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tcp_accepts(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def text(self) -> str:
        return self.body.decode("utf-8")


def http_request(
    method: str,
    url: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
    context=None,
    auth: bool = True,
) -> HttpResponse:
    """Send a request; 4xx/5xx responses are returned, not raised. For
    https, `context` is the ssl.SSLContext that verifies the server. With
    `auth`, a request to a server this process started carries its
    superuser's token unless `headers` has an Authorization."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = dict(headers or {})
    token = token_for(url) if auth else None
    if token and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return HttpResponse(
                resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
            )
    except urllib.error.HTTPError as e:
        return HttpResponse(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def read_tail(path: Path, limit: int = LOG_TAIL_CHARS) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "<no file>"
    if len(text) > limit:
        return f"... ({len(text) - limit} chars cut)\n" + text[-limit:]
    return text


class FloeServer:
    """One `floe serve` process on a data directory. It can be stopped,
    killed and started again on the same directory (new ports each start)."""

    def __init__(
        self,
        floe_bin: Path,
        data_dir: Path | str,
        log_dir: Path,
        name: str = "floe",
        cwd: Path | None = None,
        extra_args: list[str] | None = None,
        https_context=None,
        copy_dirs: list[str] | None = None,
    ):
        # With `https_context` (an ssl.SSLContext trusting the server's
        # CA), HTTP is reached as https://localhost.
        self.extra_args = list(extra_args or [])
        # COPY may use the system's temporary directory (pytest's tmp_path
        # is under it) unless the test says otherwise.
        self.copy_dirs = [tempfile.gettempdir()] if copy_dirs is None else list(copy_dirs)
        self.password: str | None = None
        self.token: str | None = None
        self.https_context = https_context
        self.floe_bin = Path(floe_bin)
        self.data_dir = data_dir if isinstance(data_dir, str) else Path(data_dir)
        self.log_dir = Path(log_dir)
        self.name = name
        self.cwd = Path(cwd) if cwd else self.log_dir
        self.proc: subprocess.Popen | None = None
        self.pg_port: int | None = None
        self.http_port: int | None = None
        self.starts = 0
        self.log_files: list[tuple[Path, Path]] = []
        self.exit_codes: list[int] = []

    # -- addresses ---------------------------------------------------------
    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.pg_port} user=floe dbname=floe"

    @property
    def http_url(self) -> str:
        if self.https_context is not None:
            return f"https://localhost:{self.http_port}"
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pg_addr(self) -> str:
        return f"127.0.0.1:{self.pg_port}"

    @property
    def http_addr(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def stdout_path(self) -> Path:
        return self.log_files[-1][0]

    @property
    def stderr_path(self) -> Path:
        return self.log_files[-1][1]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def logs(self) -> str:
        parts = []
        for i, (out, err) in enumerate(self.log_files, 1):
            parts.append(f"--- {self.name} start #{i} stdout ({out}) ---\n{read_tail(out)}")
            parts.append(f"--- {self.name} start #{i} stderr ({err}) ---\n{read_tail(err)}")
        return "\n".join(parts)

    # -- lifecycle -----------------------------------------------------------
    def command(self) -> list[str]:
        return [
            str(self.floe_bin),
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--pg-addr",
            self.pg_addr,
            "--http-addr",
            self.http_addr,
            *[arg for d in self.copy_dirs for arg in ("--copy-dir", d)],
            *self.extra_args,
        ]

    def start(self, timeout: float = STARTUP_TIMEOUT) -> "FloeServer":
        assert not self.running, "server already running"
        self.pg_port, self.http_port = free_ports(2)
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = self.log_dir / f"{self.name}-{self.starts}.stdout.log"
        err = self.log_dir / f"{self.name}-{self.starts}.stderr.log"
        self.log_files.append((out, err))
        env = floe_env()
        with open(out, "wb") as fo, open(err, "wb") as fe:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=fo,
                stderr=fe,
                cwd=self.cwd,
                env=env,
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerError(
                    f"`{' '.join(self.command())}` exited with code {rc} during startup\n{self.logs()}"
                )
            if self._healthz_ok() and tcp_accepts(self.pg_port):
                self._read_credentials()
                return
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise ServerError(
                    f"floe serve not ready after {timeout:.0f}s "
                    f"(GET /healthz on {self.http_addr}, postgres on {self.pg_addr})\n{self.logs()}"
                )
            time.sleep(0.1)

    def _read_credentials(self) -> None:
        """The superuser's password and token, written on first start."""
        data = Path(self.data_dir)
        if not data.is_absolute():
            data = self.cwd / data
        self.password = (data / "admin.password").read_text().strip()
        self.token = (data / "admin.token").read_text().strip()
        remember_credentials(self.pg_port, self.http_port, self.password, self.token)

    def _healthz_ok(self) -> bool:
        try:
            resp = http_request("GET", f"{self.http_url}/healthz", timeout=1.0,
                                context=self.https_context)
        except Exception:  # connection refused/reset, bad status line, timeout
            return False
        return resp.status == 200

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send `sig` and wait for exit; returns the exit code. If the process
        does not exit within `timeout`, it is killed and ServerError raised."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.exit_codes.append(self.proc.returncode)
                raise ServerError(
                    f"floe serve did not exit within {timeout:.0f}s of signal {signal.Signals(sig).name}\n"
                    f"{self.logs()}"
                ) from None
        self.exit_codes.append(self.proc.returncode)
        return self.proc.returncode

    def kill(self) -> int:
        """SIGKILL (no chance to clean up)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.exit_codes.append(self.proc.returncode)
        return self.proc.returncode

    def restart(self, timeout: float = STARTUP_TIMEOUT) -> "FloeServer":
        if self.running:
            rc = self.stop()
            if rc != 0:
                raise ServerError(f"floe serve exited with {rc} on SIGTERM\n{self.logs()}")
        return self.start(timeout)

    # -- clients ---------------------------------------------------------------
    def connect(self, **kwargs) -> psycopg.Connection:
        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(self.dsn, **kwargs)

    def query(self, sql: str, params=None) -> list[tuple]:
        with self.connect() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description is not None else []

    def http(self, method: str, path: str, body=None, headers=None, timeout: float = 60.0):
        return http_request(method, self.http_url + path, body, headers, timeout)

    def checkpoint(self) -> None:
        """Commit every table's buffered rows (CHECKPOINT), so other Iceberg
        readers see them."""
        r = self.sql_http("CHECKPOINT")
        if r.status != 200:
            raise ServerError(f"CHECKPOINT failed: {r.status} {r.body!r}")

    def sql_http(self, sql: str, accept: str | None = None, timeout: float = 60.0) -> HttpResponse:
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if accept:
            headers["Accept"] = accept
        return self.http("POST", "/v1/sql", sql, headers, timeout)


class ServerError(Exception):
    pass


def run_floe(floe_bin: Path, *args: str, timeout: float = 120.0, cwd=None, input=None):
    """Run the floe CLI and return the CompletedProcess (text mode)."""
    env = floe_env()
    if "--url" in args:
        token = token_for(args[args.index("--url") + 1])
        if token:
            env["FLOE_TOKEN"] = token
    return subprocess.run(
        [str(floe_bin), *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def describe(proc: subprocess.CompletedProcess) -> str:
    return (
        f"command: {proc.args}\nexit code: {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )


class Counter:
    """Thread-safe counter for unique names."""

    def __init__(self):
        self._n = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._n += 1
            return self._n


_names = Counter()


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}_{os.getpid()}_{_names.next()}"


def catalog_for(data_dir) -> "SqlCatalog":
    """PyIceberg's SQL catalog over a Floe data directory."""
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(
        "floe", uri=f"sqlite:///{data_dir}/catalog.db", warehouse=f"file://{data_dir}/warehouse"
    )


def iceberg_catalog(srv) -> "SqlCatalog":
    """The catalog of a running server, after CHECKPOINT has committed
    every buffered row (PyIceberg reads committed snapshots only)."""
    srv.checkpoint()
    return catalog_for(srv.data_dir)


def run_in_threads(target, count: int) -> None:
    """Run `target(i)` for i in 0..count, each in its own thread, and wait
    for all of them."""
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
