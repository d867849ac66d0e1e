#!/bin/sh
# Entry point of the agent-bridge image (Dockerfile): one image, one process per container, chosen
# by the first argument. Each program runs compiled (dist/<name>.js, built by scripts/build.ts in the
# image, `make build` in a checkout) when that is newer than every source; otherwise, in a checkout
# without a fresh build, from its TypeScript sources with the project's tsx, the way the tests and
# `make up` run them (docs/decisions/0007-kubernetes-packaging.md, 0017-package-graph-and-build.md).
#
#   docker run agent-bridge router
#   docker run agent-bridge bridgectl flags show
#   kubectl exec deploy/agent-bridge-router -c router -- agent-bridge bridgectl history
set -eu
# The image's /app (this script is /app/scripts/container-entrypoint.sh, also linked as
# /usr/local/bin/agent-bridge); the same relative layout works from a checkout.
cd "$(dirname "$(readlink -f "$0")")/.."

usage() {
  echo "usage: agent-bridge legacy-poll|elicitation|router|controller|bridgectl [args...]" >&2
  exit 64
}

[ "$#" -ge 1 ] || usage
what="$1"
shift
case "$what" in
  legacy-poll | elicitation | router | controller) entry="services/$what/src/main.ts" ;;
  bridgectl) entry="tools/bridgectl/src/main.ts" ;;
  *) usage ;;
esac
built="dist/$what.js"
# exec: node becomes PID 1 and gets SIGTERM itself (every service handles it: installShutdown).
if [ -f "$built" ] && [ -z "$(find libs/*/src services/*/src tools/*/src libs/*/package.json -newer "$built" \( -name '*.ts' -o -name '*.json' \) -print 2>/dev/null | head -n 1)" ]; then
  # Source maps for the services (a stack trace in a log names the .ts line), not for bridgectl:
  # loading them costs it about 15 MiB and 30 ms of CPU.
  [ "$what" = bridgectl ] && exec node "$built" "$@"
  exec node --enable-source-maps "$built" "$@"
fi
exec node --conditions=agentbridge-source --import tsx "$entry" "$@"
