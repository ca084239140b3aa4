#!/usr/bin/env bash
# Create (idempotently) the Python virtualenv used by the benchmarks and the
# end-to-end tests: <repo>/.venv
#
# Usage: bench/setup-venv.sh            # prints the venv path when done
#        FORCE=1 bench/setup-venv.sh    # reinstall even if the stamp matches
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"

PACKAGES=(
  "duckdb==1.5.5"
  "duckdb-extension-tpch==1.5.5"
  "chdb==4.4.0"
  "pyiceberg[sql-sqlite,pyarrow]==0.12.0"
  "psycopg[binary]==3.3.9"
  "tpchgen-cli==4.0.0"
  "pytest==9.2.0"
  "pyarrow==26.0.1"
  "datafusion==54.1.0"
  "trustme==1.2.1"
  "sslyze==6.3.1"
  "sqlalchemy==2.1.9"
  "pandas==3.1.1"
)

# The ingest benchmark's C load generator (Debian's wrk).
if ! command -v wrk >/dev/null 2>&1; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends wrk >/dev/null 2>&1 \
      || { apt-get update >/dev/null && apt-get install -y --no-install-recommends wrk >/dev/null; }
  else
    echo "NOTICE: wrk is missing (apt-get install wrk); the ingest benchmark needs it" >&2
  fi
fi

STAMP="$VENV/.floe-setup-stamp"
WANT="$(printf '%s\n' "${PACKAGES[@]}")"

if [[ -z "${FORCE:-}" && -x "$VENV/bin/python" && -f "$STAMP" ]] \
   && [[ "$(cat "$STAMP")" == "$WANT" ]]; then
  echo "$VENV"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install --quiet "${PACKAGES[@]}"

# Sanity check: the modules import and the tpchgen-cli entry point exists.
"$VENV/bin/python" - <<'EOF'
import duckdb, chdb, datafusion, pyiceberg, psycopg, pyarrow, pytest, trustme  # noqa: F401
import pandas, sqlalchemy  # noqa: F401
import duckdb_extension_tpch  # noqa: F401
EOF
[[ -x "$VENV/bin/tpchgen-cli" ]] || { echo "tpchgen-cli missing from $VENV/bin" >&2; exit 1; }

printf '%s\n' "${PACKAGES[@]}" >"$STAMP"
echo "$VENV"
