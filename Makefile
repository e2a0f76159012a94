# Two commands: `make run` (everything on embedded defaults) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
NODE_STAMP := node_modules/.package-lock-installed
SYSTEM_TOOLS := /usr/bin/chromium /usr/bin/docker-compose

.PHONY: run test deps system-deps lint bench clean

run: deps
	$(PY) -m returns_console.devstack run

PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/postgres
LOCAL_REDIS ?= redis://127.0.0.1:6379/15
SECOND_PASS_OFFSET := 34578000

test: deps system-deps
	$(PY) -m ruff check .
	$(PY) -m pytest
	@# Second, production-like pass where PostgreSQL and Redis already run (skipped where they do not), on
	@# another calendar (the app's clock 400 days and 5 hours ahead, the store in New York), so no test can
	@# come to depend on the day it runs.
	@if $(PY) -c "import socket as s; [s.create_connection(('127.0.0.1', p), 1) for p in (5432, 6379)]" 2>/dev/null; then \
	  echo "PostgreSQL and Redis found: database and broker tests again on them, the clock 400 days ahead"; \
	  DATABASE_URL=$(PG_TEST_URL) REDIS_URL=$(LOCAL_REDIS) CLOCK_OFFSET_SECONDS=$(SECOND_PASS_OFFSET) \
	    STORE_TIMEZONE=America/New_York $(PY) -m pytest -m "django_db or broker"; \
	else echo "No local PostgreSQL/Redis: production-like pass skipped"; fi

deps: $(STAMP) $(NODE_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): requirements.txt $(VENV)/bin/python
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Browser and compose validation for the tests come from Debian's packages.
system-deps: $(SYSTEM_TOOLS)

$(SYSTEM_TOOLS):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get install -y --no-install-recommends chromium docker-compose \
	  || { $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium docker-compose; }

lint: deps
	$(PY) -m ruff check .

bench: deps
	$(PY) bench/commit.py

clean:
	rm -rf $(VENV) node_modules var test-output
