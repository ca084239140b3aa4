"""Closed-loop HTTP ingest load from `wrk`, a C load generator.

A Python client spends most of a core per few hundred thousand rows per
second on the same two cores as the server, so it cannot show what the
server does past that. `wrk` (Debian's package) keeps N keep-alive
connections busy from a few event-loop threads at a small fraction of the
CPU. A generated Lua script posts the benchmark's pre-generated NDJSON
batches in turn and counts the answers by status; the script prints one
JSON line that `run_wrk` reads.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import time
from pathlib import Path

LUA = r"""
-- Floe ingest load: POST pre-generated NDJSON batches, count answers by status.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local bodies = {}
local next_body = 1
ok, overloaded, failed = 0, 0, 0

function init(args)
  local path = args[1]
  for i = 3, #args do
    local f = assert(io.open(args[i], "rb"))
    bodies[#bodies + 1] = f:read("*a")
    f:close()
  end
  next_body = math.random(#bodies)
  wrk.method = "POST"
  wrk.path = path
  wrk.headers["Content-Type"] = "application/x-ndjson"
  if args[2] ~= "" then
    wrk.headers["Authorization"] = args[2]
  end
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  elseif status == 503 then
    overloaded = overloaded + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local o, s, f = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    s = s + t:get("overloaded")
    f = f + t:get("failed")
  end
  io.write(string.format(
    'FLOE_WRK {"ok": %d, "overloaded": %d, "failed": %d, "requests": %d, ' ..
    '"duration_us": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    o, s, f, summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def run_wrk(*, port: int, path: str, authorization: str, bodies: list[bytes], rows_per_body: int,
            connections: int, threads: int, duration: float, work: Path) -> dict:
    """Runs wrk for `duration` seconds; rows acknowledged and latency, and wrk's CPU."""
    exe = wrk_binary()
    if exe is None:
        raise RuntimeError("wrk is not installed (bash bench/setup-venv.sh installs it)")
    body_dir = work / "wrk-bodies"
    body_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for i, body in enumerate(bodies):
        f = body_dir / f"{i:04d}.ndjson"
        if not f.exists():
            f.write_bytes(body)
        files.append(str(f))
    script = work / "floe-ingest.lua"
    script.write_text(LUA)
    cmd = [exe, "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s",
           "--timeout", "30s", "-s", str(script), f"http://127.0.0.1:{port}",
           "--", path, authorization, *files]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FLOE_WRK ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()[:500]}")
    out = json.loads(line[len("FLOE_WRK "):])
    seconds = out["duration_us"] / 1e6
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    acked = out["ok"] * rows_per_body
    return {
        "generator": "wrk", "connections": connections, "threads": threads,
        "acked": acked, "requests": out["ok"], "n503": out["overloaded"],
        "errors": out["failed"] + out["socket_errors"], "elapsed_s": seconds,
        "rows_s": acked / seconds, "requests_s": out["ok"] / seconds,
        "client_cpu_cores": cpu / max(elapsed, 1e-9),
        "latency": {"p50_ms": out["p50_us"] / 1000, "p99_ms": out["p99_us"] / 1000,
                    "max_ms": out["max_us"] / 1000},
        "in_flight_max_rows": connections * rows_per_body,
    }
