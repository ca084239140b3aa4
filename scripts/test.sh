#!/usr/bin/env bash
# Install everything the test suite needs and run every test.
#
#   scripts/test.sh
#
# Works on a fresh Debian 12 machine as root (installs system packages with
# apt-get). When not root, apt is skipped and the packages must already be
# present. Steps:
#   1. system packages (psql, python3 venv, C toolchain for -sys crates)
#   2. Python virtualenv <repo>/.venv via bench/setup-venv.sh
#   3. cargo fmt --check
#   4. cargo build (release, all targets) with clippy's lints (warnings
#      are errors), in one compilation
#   5. cargo nextest run (release)
#   6. pytest tests/python against the release binary
#
# Environment:
#   CARGO_TARGET_DIR   default $HOME/.cache/floe-target
#   VENV               Python virtualenv to create/use (default <repo>/.venv)
#   PYTEST_ARGS        extra arguments for pytest (e.g. "-k copy -x")
#   PYTEST_TIMEOUT     overall time limit for the pytest step, seconds (default 2400)
#
# Exits non-zero if any step fails. fmt, clippy, nextest and pytest failures
# are collected so that later steps still run; a failed build stops the run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
if [[ -z "${HOME:-}" ]]; then
  HOME="$(getent passwd "$(id -u)" | cut -d: -f6)"
  export HOME
fi

section() {
  printf '\n==================== %s ====================\n' "$*"
}

FAILED_STEPS=()

# run_step NAME CMD... : run a command, record a failure instead of exiting.
run_step() {
  local name="$1"
  shift
  local start rc
  start=$(date +%s)
  set +e
  "$@"
  rc=$?
  set -e
  if [[ $rc -ne 0 ]]; then
    echo "!!! step '$name' failed (exit $rc) after $(( $(date +%s) - start ))s" >&2
    FAILED_STEPS+=("$name (exit $rc)")
  else
    echo "--- step '$name' ok ($(( $(date +%s) - start ))s)"
  fi
  return 0
}

finish() {
  section "Summary"
  if [[ ${#FAILED_STEPS[@]} -gt 0 ]]; then
    echo "FAILED steps:"
    printf '  - %s\n' "${FAILED_STEPS[@]}"
    exit 1
  fi
  echo "all steps passed"
  exit 0
}

# ---------------------------------------------------------------------------
section "System packages"

# command-or-check -> Debian package
MISSING_PKGS=()
need_cmd() { # need_cmd COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || MISSING_PKGS+=("$2")
}
need_cmd psql postgresql-client
# The replication tests run a real PostgreSQL 15 server of their own.
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || MISSING_PKGS+=(postgresql-15)
command -v runuser >/dev/null 2>&1 || MISSING_PKGS+=(util-linux)
need_cmd cc gcc
need_cmd make make
need_cmd pkg-config pkg-config
need_cmd timeout coreutils
need_cmd gzip gzip
# The power-loss crash test mounts a FUSE filesystem (as root it mounts
# with mount(2); fusermount3 is the fallback).
need_cmd fusermount3 fuse3
if ! command -v python3 >/dev/null 2>&1; then
  MISSING_PKGS+=(python3 python3-venv)
elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  MISSING_PKGS+=(python3-venv)
fi
[[ -e /usr/include/stdio.h ]] || MISSING_PKGS+=(libc6-dev)
[[ -e /etc/ssl/certs/ca-certificates.crt ]] || MISSING_PKGS+=(ca-certificates)

if [[ "$(id -u)" -ne 0 ]]; then
  echo "NOTICE: not running as root; skipping apt-get (system packages must already be installed)"
  if [[ ${#MISSING_PKGS[@]} -gt 0 ]]; then
    echo "NOTICE: missing packages: ${MISSING_PKGS[*]} (install as root:" \
      "apt-get install -y --no-install-recommends ${MISSING_PKGS[*]})" >&2
  fi
elif [[ ${#MISSING_PKGS[@]} -eq 0 ]]; then
  echo "all system packages present"
else
  echo "installing: ${MISSING_PKGS[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${MISSING_PKGS[@]}"
fi

# ---------------------------------------------------------------------------
section "Rust toolchain"

if ! command -v cargo >/dev/null 2>&1 && [[ -f "$HOME/.cargo/env" ]]; then
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found on PATH (a Rust toolchain is required)" >&2
  exit 1
fi
cargo --version
rustc --version 2>/dev/null || true
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "cargo-nextest missing; installing it"
  cargo install cargo-nextest --locked
fi
cargo nextest --version 2>&1 | sed -n 1p

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/floe-target}"
mkdir -p "$CARGO_TARGET_DIR"
echo "CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# ---------------------------------------------------------------------------
section "Python virtualenv"

export VENV="${VENV:-$REPO/.venv}"
bash "$REPO/bench/setup-venv.sh"
VENV_PY="$VENV/bin/python"
if [[ ! -x "$VENV_PY" ]]; then
  echo "bench/setup-venv.sh did not create $VENV" >&2
  exit 1
fi
"$VENV_PY" - <<'EOF'
import psycopg, pyarrow, pyiceberg, pytest
print("python", __import__("sys").version.split()[0],
      "| psycopg", psycopg.__version__,
      "| pyarrow", pyarrow.__version__,
      "| pyiceberg", pyiceberg.__version__,
      "| pytest", pytest.__version__)
EOF

# ---------------------------------------------------------------------------
section "cargo fmt --check"
run_step "cargo fmt" cargo fmt --all --check

section "cargo build, with clippy's lints"
# clippy-driver compiles the workspace's own crates (their lints and their
# code) and rustc the dependencies, so every dependency is compiled once
# for the lints, the tests and the binary alike; `cargo clippy` would
# compile each of them a second time in check mode. The lints are those of
# `cargo clippy --all-targets -- -D warnings`.
CLIPPY_DRIVER="$(rustc --print sysroot)/bin/clippy-driver"
if [[ ! -x "$CLIPPY_DRIVER" ]] && command -v rustup >/dev/null 2>&1; then
  rustup component add clippy
fi
if [[ ! -x "$CLIPPY_DRIVER" ]]; then
  echo "clippy-driver not found at $CLIPPY_DRIVER (rustup component add clippy)" >&2
  exit 1
fi
export RUSTC_WORKSPACE_WRAPPER="$CLIPPY_DRIVER"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
build_start=$(date +%s)
if ! cargo build --release --workspace --all-targets; then
  FAILED_STEPS+=("cargo build (with clippy's lints)")
  echo "!!! build or lints failed; tests cannot run" >&2
  finish
fi
echo "--- step 'cargo build' ok ($(( $(date +%s) - build_start ))s)"

FLOE_BIN="$CARGO_TARGET_DIR/release/floe"
if [[ ! -x "$FLOE_BIN" ]]; then
  echo "!!! build succeeded but $FLOE_BIN does not exist" >&2
  FAILED_STEPS+=("floe binary missing")
  finish
fi
export FLOE_BIN
echo "FLOE_BIN=$FLOE_BIN"

section "cargo nextest"
run_step "cargo nextest" cargo nextest run --release --workspace

section "pytest tests/python"
# shellcheck disable=SC2086
run_step "pytest" timeout --signal=TERM --kill-after=30 "${PYTEST_TIMEOUT:-2400}" \
  "$VENV/bin/pytest" -q -p no:cacheprovider -rfE --durations=15 tests/python ${PYTEST_ARGS:-}

finish
