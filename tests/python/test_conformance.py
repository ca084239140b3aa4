"""PostgreSQL conformance on DataFusion's sqllogictest corpus.

Runs tests/conformance/pg_diff.py, which executes every statement of the
corpus on a real PostgreSQL 15 and on `floe serve` and compares the
answers, then checks:

- no record gives a different answer from PostgreSQL's (WRONG), except
  the records listed in tests/conformance/known_wrong.txt (`file:line
  reason`, one per line). The list may only shrink: an allowlisted record
  that is no longer WRONG fails the test until its line is removed;
- among the records PostgreSQL accepts, the share Floe answers the same
  is at least tests/conformance/floor.txt (a percentage);
- among the records Floe answers as PostgreSQL does, those whose column
  names differ from PostgreSQL's (which clients read results by) are at
  most tests/conformance/names_ceiling.txt (a count that only goes down).

The runner obtains the corpus with `cargo fetch` (the crate
datafusion-sqllogictest from crates.io; nothing is compiled).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

CONFORMANCE = Path(__file__).resolve().parent.parent / "conformance"
RUNNER = CONFORMANCE / "pg_diff.py"
KNOWN_WRONG = CONFORMANCE / "known_wrong.txt"
FLOOR = CONFORMANCE / "floor.txt"
NAMES_CEILING = CONFORMANCE / "names_ceiling.txt"

RUN_TIMEOUT = 1500  # seconds for the whole corpus


def read_known_wrong() -> dict[str, str]:
    known = {}
    for number, raw in enumerate(KNOWN_WRONG.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, reason = line.partition(" ")
        assert ":" in key, f"{KNOWN_WRONG.name}:{number}: expected `file:line reason`, got {raw!r}"
        known[key] = reason.strip()
    return known


def read_number(path: Path) -> float:
    text = "".join(
        line for line in path.read_text().splitlines() if not line.strip().startswith("#")
    ).strip()
    return float(text.rstrip("%"))


def show(finding: dict) -> str:
    return (
        f"{finding['key']}\n  sql: {finding['sql']}\n"
        f"  postgres: {json.dumps(finding['postgres'], default=str)[:600]}\n"
        f"  floe:     {json.dumps(finding['floe'], default=str)[:600]}"
    )


@pytest.mark.floe_timeout(RUN_TIMEOUT + 120)
def test_postgres_conformance(floe_bin, tmp_path, capsys):
    report_path = tmp_path / "pg_diff.json"
    cmd = [sys.executable, str(RUNNER), "--floe-bin", str(floe_bin), "--report", str(report_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except (subprocess.TimeoutExpired, TimeoutError):
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=120)
        pytest.fail(f"pg_diff.py did not finish within {RUN_TIMEOUT}s\n{output[-5000:]}")
    total_line = next((l for l in output.splitlines() if l.startswith("TOTAL:")), "")
    with capsys.disabled():
        print(f"\n[conformance] {total_line}")
    assert proc.returncode == 0, f"pg_diff.py exited with {proc.returncode}\n{output[-10000:]}"

    report = json.loads(report_path.read_text())
    totals = report["totals"]
    wrong = [f for f in report["findings"] if f["class"] == "WRONG"]
    known = read_known_wrong()
    wrong_keys = {f["key"] for f in wrong}
    unexpected = [f for f in wrong if f["key"] not in known]
    fixed = sorted(k for k in known if k not in wrong_keys)
    rate = 100.0 * totals["match_rate"]
    floor = read_number(FLOOR)
    names_differ = report["names_differ"]
    names_ceiling = int(read_number(NAMES_CEILING))
    with capsys.disabled():
        print(
            f"[conformance] applicable={totals['applicable']} match={totals['match']} "
            f"floe_error={totals['floe_error']} WRONG={totals['WRONG']} "
            f"(allowlisted {len(wrong) - len(unexpected)}) pg_error={totals['pg_error']} "
            f"skipped={totals['skipped']} match_rate={rate:.2f}% floor={floor}% "
            f"column names differ on {len(names_differ)} (ceiling {names_ceiling}) "
            f"in {report['seconds']}s"
        )
    problems = []
    if report["file_errors"]:
        problems.append("pg_diff.py could not run some files:\n" + "\n".join(
            f"{name}: {error}" for name, error in report["file_errors"].items()))
    if report["floe_crashes"]:
        problems.append("floe serve exited during the run:\n" + "\n".join(report["floe_crashes"]))
    if unexpected:
        problems.append(
            f"{len(unexpected)} record(s) answer differently from PostgreSQL 15 "
            f"(fix Floe, or list them in {KNOWN_WRONG.name} with a reason):\n"
            + "\n".join(show(f) for f in unexpected[:50])
        )
    if fixed:
        problems.append(
            f"{len(fixed)} record(s) in {KNOWN_WRONG.name} no longer give a wrong answer; "
            "remove their lines:\n" + "\n".join(fixed)
        )
    if rate < floor:
        problems.append(
            f"match rate {rate:.2f}% is below the floor of {floor}% in {FLOOR.name}"
        )
    if len(names_differ) > names_ceiling:
        problems.append(
            f"{len(names_differ)} matching record(s) name their columns differently from "
            f"PostgreSQL 15, more than the {names_ceiling} in {NAMES_CEILING.name}:\n"
            + "\n".join(
                f"{f['key']}\n  sql: {f['sql']}\n  postgres: {f['postgres']}\n  floe:     {f['floe']}"
                for f in names_differ[:50]
            )
        )
    assert not problems, "\n\n".join(problems)
