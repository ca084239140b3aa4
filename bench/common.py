"""Pieces every benchmark script shares: the venv re-exec, logging, the
floe binary's default location, free ports and child-process hygiene."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV_PY = REPO / ".venv" / "bin" / "python"


def ensure_venv(script: str, modules: list[str]) -> None:
    """Re-exec `script` inside <repo>/.venv when one of `modules` is missing."""
    try:
        for module in modules:
            __import__(module)
    except ImportError:
        if VENV_PY.exists() and Path(sys.executable).resolve() != VENV_PY.resolve() \
                and not os.environ.get("FLOE_BENCH_REEXEC"):
            os.environ["FLOE_BENCH_REEXEC"] = "1"
            os.execv(str(VENV_PY), [str(VENV_PY), script, *sys.argv[1:]])
        sys.exit("missing Python packages: run bench/setup-venv.sh, then "
                 f".venv/bin/python bench/{Path(script).name}")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def default_floe_bin() -> str:
    if os.environ.get("FLOE_BIN"):
        return os.environ["FLOE_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/floe-target")
    return os.path.join(target, "release", "floe")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exit_on_signal(signum, _frame):
    """A SIGTERM/SIGHUP handler that unwinds (so `finally` blocks stop servers)."""
    raise SystemExit(128 + signum)


def pdeathsig():
    """In the child: get SIGTERM if the benchmark process dies (Linux)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001
        pass
