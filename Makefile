# The two commands that do all the set-up on a fresh machine:
#   make run    creates .venv, installs Rallypoint, starts `rallypoint serve` on its defaults
#   make test   creates .venv, installs the test tools, runs lint, type-check and the tests
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
SERVE_ARGS ?=

.PHONY: run test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/rallypoint serve $(SERVE_ARGS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

unit: $(VENV)/.test-installed
	$(BIN)/pytest

test: lint typecheck unit

bench: $(VENV)/.run-installed
	$(BIN)/rallypoint bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
