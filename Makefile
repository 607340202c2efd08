# The two commands that do all the set-up on a fresh machine:
#   make run    creates .venv, installs Rallypoint, starts `rallypoint serve` on its defaults
#   make test   creates .venv, installs the test tools, runs lint, type-check and the tests
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
SERVE_ARGS ?=
HAVE_NPM := $(shell command -v npm 2>/dev/null)

.PHONY: run test lint typecheck unit bench clean web webtest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The native hot path (setup.py) is compiled at install: a changed C source reinstalls.
NATIVE_SOURCES := setup.py src/rallypoint/cot/_native.c src/rallypoint/cot/_numbers.c

$(VENV)/.run-installed: pyproject.toml $(NATIVE_SOURCES) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(NATIVE_SOURCES) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed $(if $(HAVE_NPM),web)
	$(BIN)/rallypoint serve $(SERVE_ARGS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests scripts setup.py
	$(BIN)/ruff format --check src tests scripts setup.py

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

unit: $(VENV)/.test-installed $(if $(HAVE_NPM),tests/interop/node/node_modules/.package-lock.json)
	$(BIN)/pytest

test: lint typecheck webtest unit

bench: $(VENV)/.run-installed
	$(BIN)/rallypoint bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# The command post's browser UI (webui/): built by Vite into src/rallypoint/web/, which is
# committed so that `pip install` alone serves it; rebuilt here when its sources are newer.
# Without npm, `make run` serves the committed build and `make test` skips the Vitest suite.
WEBUI_SOURCES := $(shell find webui/src webui/index.html webui/package.json webui/vite.config.ts -type f 2>/dev/null)
WEB_INDEX = src/rallypoint/web/index.html

webui/node_modules/.package-lock.json: webui/package-lock.json
	cd webui && npm install --no-audit --no-fund

$(WEB_INDEX): $(WEBUI_SOURCES) | webui/node_modules/.package-lock.json
	cd webui && npm run build

web: $(WEB_INDEX)

webtest: $(if $(HAVE_NPM),web webui/node_modules/.package-lock.json,)
ifdef HAVE_NPM
	cd webui && npx vitest run
else
	@echo "npm not found: the web UI's unit tests (webui/, Vitest) were skipped"
endif

# Independent TAK clients (node-tak, node-cot) for tests/interop/test_node_tak*.py; without npm
# those tests skip and say why.
tests/interop/node/node_modules/.package-lock.json: tests/interop/node/package-lock.json
	cd tests/interop/node && npm install --no-audit --no-fund
