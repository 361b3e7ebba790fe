# The README's two commands: `make demo` and `make test`. Everything else is a helper.
# Builds share one target dir across clones and CI runs (cold builds take minutes on 2 cores).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export CARGO_TARGET_DIR ?= $(HOME)/.cache/steward/target
export STEWARD_BIN ?= $(CARGO_TARGET_DIR)/debug/steward
# Loads STEWARD_DATABASE_URL, STEWARD_DEV_PYTHON, STEWARD_PG_BIN and the embedding model's
# STEWARD_EMBED_MODEL, STEWARD_EMBED_TOKENIZER, ORT_DYLIB_PATH for the local services.
DEV_ENV := eval "$$(scripts/dev-services env)"

.PHONY: demo test services stop build seed lint conformance policy-test

## demo: start the local services, seed the demo warehouse, run a scripted MCP session
demo: services build seed
	@$(DEV_ENV); "$$STEWARD_DEV_PYTHON" scripts/demo/mcp_session.py
	@echo; echo "== data-quality checks on the demo history (steward check) =="
	@$(DEV_ENV); "$$STEWARD_BIN" check --config scripts/demo/checks.toml --as-of 2026-11-30
	@echo; echo "== index the demo runbooks (Spanish and English) and ask them =="
	@$(DEV_ENV); "$$STEWARD_BIN" index scripts/demo/runbooks --kind runbook
	@$(DEV_ENV); "$$STEWARD_BIN" ask "¿Qué hago si cae el volumen de eventos?"
	@echo; echo "== diagnosis of the drifted feature (Claude when ANTHROPIC_API_KEY is set, else the runbook) =="
	@$(DEV_ENV); "$$STEWARD_BIN" diagnose --config scripts/demo/checks.toml --as-of 2026-11-30 \
		--table features.customer_scores --description "churn_risk is much higher than usual since yesterday"

## test: everything CI runs — lint, Rust tests on real Postgres, MCP conformance (Python SDK)
test: services lint
	@$(DEV_ENV); cargo test --workspace
	@$(MAKE) --no-print-directory policy-test conformance

services:
	@scripts/dev-services start

stop:
	@scripts/dev-services stop

build:
	@cargo build --bin steward

seed:
	@$(DEV_ENV); scripts/dev-services psql -v ON_ERROR_STOP=1 -q -f scripts/demo/warehouse.sql
	@$(DEV_ENV); scripts/dev-services psql -v ON_ERROR_STOP=1 -q -f scripts/demo/dq_history.sql

conformance: build seed
	@$(DEV_ENV); "$$STEWARD_DEV_PYTHON" -m pytest -q tests/conformance

## policy-test: the Rego test_* rules next to the policies, through the CLI
policy-test: build
	@STEWARD_POLICY__DIR=policies "$$STEWARD_BIN" policy test

lint:
	@cargo fmt --all -- --check
	@cargo clippy --workspace --all-targets -- -D warnings
