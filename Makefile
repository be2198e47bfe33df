# The two set-up commands are `make run` and `make test`; everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8151
DATA ?= ./aion-data
PYTEST_ARGS ?=

.PHONY: run test test-slow lint typecheck bench services clean

$(BIN)/aion-run-stamp: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[all]'
	touch $@

$(BIN)/aion-dev-stamp: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps 'samsara-sdk==0.5.5.0'
	touch $@ $(BIN)/aion-run-stamp

run: $(BIN)/aion-run-stamp
	$(BIN)/aion serve --host $(HOST) --port $(PORT) --data $(DATA)

services:
	bash scripts/services.sh

lint: $(BIN)/aion-dev-stamp
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(BIN)/aion-dev-stamp
	$(BIN)/mypy

test: $(BIN)/aion-dev-stamp services lint typecheck
	bash scripts/browser.sh
	bash scripts/balancers.sh
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(BIN)/aion-dev-stamp services
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

bench: $(BIN)/aion-dev-stamp services
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
