#!/bin/sh
# Entry point of the agent-bridge image (Dockerfile): one image, one process per container, chosen
# by the first argument. Each service runs from its TypeScript sources with the project's tsx, the
# same way the tests, `make up` and bridgectl run them (docs/decisions/0007-kubernetes-packaging.md).
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
# exec: node becomes PID 1 and gets SIGTERM itself (every service handles it: installShutdown).
exec node --conditions=agentbridge-source --import tsx "$entry" "$@"
