# syntax=docker/dockerfile:1
# agent-bridge: ONE image for every service. The first argument picks the service
# (scripts/container-entrypoint.sh): `legacy-poll`, `elicitation`, `router`, `controller`, or
# `bridgectl …`. Each program runs compiled: scripts/build.ts bundles it into dist/<name>.js in the
# runtime stage (about a second), so nothing is transpiled at start-up; why one image:
# docs/decisions/0007-kubernetes-packaging.md, why a bundle: 0017-package-graph-and-build.md.
#
#   make images                       # docker build -t agent-bridge:<version> .
#   docker run --rm agent-bridge:0.1.0 router
#
# Stages: manifests (only the package.json files and the lockfile, so the dependency layer is
# rebuilt only when they change) → deps (production dependencies only: `npm ci --omit=dev`) →
# runtime (slim Node LTS, non-root, sources + node_modules + the dist/ bundles built there).

ARG NODE_IMAGE=node:22-bookworm-slim

# ---------------------------------------------------------------------------------------- manifests
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
# Keep the workspace layout of every package.json (npm ci needs each workspace's manifest).
RUN mkdir -p /manifests \
 && find . -name package.json -not -path '*/node_modules/*' -exec cp --parents {} /manifests/ \; \
 && cp package-lock.json /manifests/

# ---------------------------------------------------------------------------------------------- deps
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=manifests /manifests/ ./
# Production dependencies only (esbuild, which builds dist/, and tsx, which runs the build script
# and is the entry point's fallback for a checkout without a build, are two: package.json
# "dependencies"). No install scripts: nothing the services use needs one (esbuild finds its
# platform binary through its optional dependency).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ------------------------------------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="agent-bridge" \
      org.opencontainers.image.description="agent-bridge services (legacy-poll, elicitation, router, controller) and bridgectl"
# The programs start from dist/ (compiled below); should tsx ever run (the entry point's fallback),
# it keeps no cache on disk, so the root filesystem can stay read-only.
ENV NODE_ENV=production \
    TSX_DISABLE_CACHE=1
WORKDIR /app
COPY --from=deps --chown=root:root /app/ ./
# Sources only (.dockerignore drops tests, docs, deploy/, bench/, e2e sources, local state).
COPY --chown=root:root . .
# dist/<program>.js for the four services and bridgectl, newer than every source, so the entry point
# runs them instead of the sources.
RUN node --conditions=agentbridge-source --import tsx scripts/build.ts \
 && chmod 0755 scripts/container-entrypoint.sh \
 && ln -s /app/scripts/container-entrypoint.sh /usr/local/bin/agent-bridge
# The image's `node` user (uid/gid 1000); the files above stay owned by root and read-only to it.
USER 1000:1000
EXPOSE 8701 8702 8703 8704
ENTRYPOINT ["/app/scripts/container-entrypoint.sh"]
CMD ["router"]
