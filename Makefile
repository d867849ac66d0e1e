# agent-bridge — the two commands are `make up` and `make test` (see README.md).
SHELL := /bin/bash
# playwright-core (the progress page e2e test) drives Debian's chromium; no package may download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
NODE_TS := node --conditions=agentbridge-source --import tsx
UNIT_TESTS := $(shell find libs services tools charts bench scripts -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
E2E_TESTS := $(shell find e2e -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)

.PHONY: up test deps typecheck lint format check-layers build test-unit test-e2e bench bench-throughput bench-observability bench-noisy bench-sessions bench-durability bench-restarts bench-scale

deps:
	@scripts/ensure-deps.sh

up: deps
	@$(NODE_TS) scripts/up.ts

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

# The package graph (docs/decisions/0017-package-graph-and-build.md): every import declared in the
# package.json that owns the file, no import from a higher layer, the testkit for tests only.
# Lint (docs/decisions/0018-lint-and-dead-code.md): ESLint, Prettier's check and knip (dead
# exports, files and dependencies). `make format` rewrites what Prettier and ESLint can fix.
LINT_PATHS := libs services tools scripts charts e2e bench docs/examples eslint.config.js

lint: deps
	npx eslint --max-warnings 0 $(LINT_PATHS)
	npx prettier --check --log-level warn $(LINT_PATHS)
	npx knip --no-progress

format: deps
	npx prettier --write --log-level warn $(LINT_PATHS)
	npx eslint --fix $(LINT_PATHS)

check-layers: deps
	@$(NODE_TS) scripts/check-layers.ts

# The compiled programs (docs/decisions/0017-package-graph-and-build.md): dist/<service>.js and
# dist/bridgectl.js, which the image and tools/bridgectl/bin/bridgectl run; development and the
# tests run the sources with tsx. About a second.
build: deps
	@$(NODE_TS) scripts/build.ts

test-unit: deps
	$(NODE_TS) --test --test-concurrency=2 --test-timeout=120000 $(UNIT_TESTS)

test-e2e: deps
	$(NODE_TS) --test --test-concurrency=1 --test-timeout=300000 $(E2E_TESTS)

# Every test: type-check, the package graph, the build, unit and integration tests beside the code (two files at a time), then
# the black-box e2e tests one file at a time (several of them load the machine on purpose).
test: deps typecheck lint check-layers build
	$(NODE_TS) --test --test-concurrency=2 --test-timeout=300000 $(UNIT_TESTS)
	$(NODE_TS) --test --test-concurrency=1 --test-timeout=300000 $(E2E_TESTS)

# Benchmarks (docs/benchmarks.md): throughput, then the overhead of tracing and metrics scraping.
# `make bench BENCH_PARTS=observability` (or `make bench-observability`) runs one part alone; the
# parts of issue 11 run with `make bench BENCH_PARTS="noisy sessions durability restarts"`: one
# agent flooding beside the ring, memory and Redis commands per idle session, appendfsync always
# against everysec, the stall a client sees when a replica gets SIGTERM or kill -9 (about 8 min).
# `make bench BENCH_PARTS=startup`: start-up time and memory of bridgectl and a router, from the
# sources and compiled (issue 12; about a minute).
# `make bench BENCH_PARTS=scale` (or `make bench-scale`): 10,000 agents long-polling on one
# legacy-poll replica, then 10,000 modern agents on one elicitation replica (issue 16; about 12 min).
BENCH_PARTS ?= throughput observability

bench: deps
	@set -e; for part in $(BENCH_PARTS); do \
	  case $$part in \
	    throughput) $(NODE_TS) bench/throughput.ts ;; \
	    observability) $(NODE_TS) bench/observability-overhead.ts ;; \
	    noisy) $(NODE_TS) bench/noisy-neighbour.ts ;; \
	    sessions) $(NODE_TS) bench/sessions.ts ;; \
	    durability) $(NODE_TS) bench/durability.ts ;; \
	    restarts) $(NODE_TS) bench/restart-stall.ts ;; \
	    startup) $(NODE_TS) bench/startup.ts ;; \
	    scale) $(NODE_TS) bench/scale.ts ;; \
	    *) echo "unknown BENCH_PARTS entry: $$part (throughput, observability, noisy, sessions, durability, restarts, startup, scale)" >&2; exit 2 ;; \
	  esac; \
	done

bench-throughput: deps
	@$(NODE_TS) bench/throughput.ts

bench-observability: deps
	@$(NODE_TS) bench/observability-overhead.ts

bench-noisy: deps
	@$(NODE_TS) bench/noisy-neighbour.ts

bench-sessions: deps
	@$(NODE_TS) bench/sessions.ts

bench-durability: deps
	@$(NODE_TS) bench/durability.ts

bench-restarts: deps
	@$(NODE_TS) bench/restart-stall.ts

bench-scale: deps
	@$(NODE_TS) bench/scale.ts

# Kubernetes packaging (docs/deployment.md). One image for every service (Dockerfile); the chart in
# charts/agent-bridge, linted with each environment's values and packaged into dist/charts/.
.PHONY: images chart
IMAGE ?= agent-bridge
IMAGE_TAG ?= $(shell node -p "require('./package.json').version")
DOCKER ?= docker

images:
	@command -v $(DOCKER) >/dev/null 2>&1 || { echo "make images: docker is not installed (no '$(DOCKER)' on PATH); install Docker (or set DOCKER=podman) to build $(IMAGE):$(IMAGE_TAG)" >&2; exit 1; }
	@$(DOCKER) info >/dev/null 2>&1 || { echo "make images: cannot reach the Docker daemon ('$(DOCKER) info' failed); start it and retry" >&2; exit 1; }
	$(DOCKER) build -t $(IMAGE):$(IMAGE_TAG) .

chart: deps
	@set -e; helm="$$(scripts/k8s-tools.sh helm)"; \
	for values in "" deploy/environments/dev.yaml deploy/environments/staging.yaml deploy/environments/production.yaml; do \
	  echo "helm lint --strict charts/agent-bridge $${values:+-f $$values}"; \
	  "$$helm" lint --strict charts/agent-bridge $${values:+-f $$values} 2>&1 | grep -v 'found symbolic link in path'; \
	  test "$${PIPESTATUS[0]}" -eq 0; \
	done; \
	mkdir -p dist/charts; \
	"$$helm" package charts/agent-bridge --destination dist/charts 2>&1 | grep -v 'found symbolic link in path'
