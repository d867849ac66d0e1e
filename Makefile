# agent-bridge — the two commands are `make up` and `make test` (see README.md).
SHELL := /bin/bash
NODE_TS := node --conditions=agentbridge-source --import tsx
UNIT_TESTS := $(shell find libs services tools -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
E2E_TESTS := $(shell find e2e -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)

.PHONY: up test deps typecheck test-unit test-e2e bench

deps:
	@scripts/ensure-deps.sh

up: deps
	@$(NODE_TS) scripts/up.ts

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

test-unit: deps
	$(NODE_TS) --test --test-concurrency=2 --test-timeout=120000 $(UNIT_TESTS)

test-e2e: deps
	$(NODE_TS) --test --test-concurrency=1 --test-timeout=300000 $(E2E_TESTS)

# Every test: type-check, unit and integration tests beside the code (two files at a time), then
# the black-box e2e tests one file at a time (several of them load the machine on purpose).
test: deps typecheck
	$(NODE_TS) --test --test-concurrency=2 --test-timeout=300000 $(UNIT_TESTS)
	$(NODE_TS) --test --test-concurrency=1 --test-timeout=300000 $(E2E_TESTS)

bench: deps
	@$(NODE_TS) bench/throughput.ts
