# icop-bridge — the two commands a new user needs are `make demo` and `make test`.
# Each installs what it needs first (scripts/bootstrap: apt packages when root, the venvs from the locks).

VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: bootstrap demo test lint typecheck unit bench bench-search lock synapse clean

bootstrap:
	@scripts/bootstrap

synapse: bootstrap

## The main job: a local stack (Synapse, Dovecot, Postfix) with the bridge for the example community.
demo: bootstrap
	$(BIN)/python -m bridge.demo

## Everything CI checks: lint, format, types, and the tests against real servers.
test: bootstrap
	$(BIN)/ruff check bridge tests bench scripts
	$(BIN)/ruff format --check bridge tests bench
	$(BIN)/mypy
	CI=$${CI:-true} $(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m bridge.devstack leftovers  # no server of any test stack may outlive the run

unit: bootstrap
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

bench: bootstrap
	$(BIN)/python -m bench

## Search alone: 100,000 and 1,000,000 generated posts on SQLite and PostgreSQL (see bench/search.py).
bench-search: bootstrap
	$(BIN)/python -m bench search

## Re-pin dependencies after changing pyproject.toml (needs uv).
lock:
	$(BIN)/python -m uv pip compile -q pyproject.toml --extra test --python-version 3.11 -o requirements/lock.txt
	$(BIN)/python -m uv pip compile -q requirements/synapse.in --python-version 3.11 -o requirements/synapse.lock

clean:
	rm -rf $(VENV) var/synapse-venv .mypy_cache .ruff_cache .pytest_cache
