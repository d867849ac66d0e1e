#!/usr/bin/env bash
# Make sure the toolchain the tests need is present: npm workspace dependencies
# and a redis-server binary (the test harness starts its own instances).
# Idempotent; prints nothing when everything is already in place, otherwise
# one line per thing it installs. Run from anywhere; works on the repo root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'ensure-deps: %s\n' "$*"; }

# Run a command quietly; on failure show its output and fail.
quiet() {
  local out
  out="$(mktemp)"
  if ! "$@" >"$out" 2>&1; then
    cat "$out" >&2
    rm -f "$out"
    echo "ensure-deps: command failed: $*" >&2
    return 1
  fi
  rm -f "$out"
}

# --- npm dependencies -------------------------------------------------------
if ! command -v npm >/dev/null 2>&1; then
  echo "ensure-deps: npm is not on PATH; install Node.js >= 20.19 first" >&2
  exit 1
fi

if [[ -f package-lock.json ]]; then
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    log "installing npm dependencies (npm ci)"
    quiet npm ci --no-audit --no-fund
    # npm rewrites the hidden lockfile; make "newer than package-lock.json" certain.
    if [[ -f node_modules/.package-lock.json ]]; then touch node_modules/.package-lock.json; fi
  fi
elif [[ ! -f node_modules/.package-lock.json ]]; then
  log "installing npm dependencies (npm install; no package-lock.json)"
  quiet npm install --no-audit --no-fund
fi

# --- redis-server -------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
  SUDO=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      SUDO=(sudo)
    else
      echo "ensure-deps: redis-server is missing and installing it needs root (no sudo found)" >&2
      exit 1
    fi
  fi
  log "installing redis-server (apt-get)"
  quiet "${SUDO[@]}" apt-get update -qq
  quiet "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
  # The Debian package may start a system redis on 6379; the tests start their
  # own instances, so stop it rather than leave it squatting the port.
  { "${SUDO[@]}" service redis-server stop || "${SUDO[@]}" systemctl stop redis-server || true; } >/dev/null 2>&1
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "ensure-deps: redis-server still not on PATH after installing" >&2
    exit 1
  fi
fi
