# Workflow Store: `make run` starts the local demo, `make test` runs the suite (`make smoke` the
# bench and drill smoke runs, `make lint` ruff and import-linter).
#
# Both create .venv with Python 3.11+ and install the pinned requirements into it, again
# only when a requirements file changed (stamp files in .venv).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null || echo python3)
VENV ?= .venv
BIN := $(VENV)/bin
REQUIREMENTS_STAMP := $(VENV)/.installed-requirements
DEV_REQUIREMENTS_STAMP := $(VENV)/.installed-requirements-dev
CHROMIUM_PATH ?= /usr/bin/chromium
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (0: one process).
PYTEST_WORKERS ?= 2

# The local demo's commands run with DEBUG on unless the environment says otherwise. (Only the
# demo's recipes use this prefix; tests keep the test settings' values.) Without SECRET_KEY in
# the environment they use this machine's own random key, kept in $(DATA_DIR)/secret_key. Webhooks
# may go to receivers on this machine or its network (WEBHOOK_ALLOW_PRIVATE). The demo's staff sign
# in without a second factor unless STAFF_REQUIRE_2FA=1 is given.
DEMO_ENV := DEBUG="$${DEBUG:-1}" WEBHOOK_ALLOW_PRIVATE="$${WEBHOOK_ALLOW_PRIVATE:-1}" STAFF_REQUIRE_2FA="$${STAFF_REQUIRE_2FA:-0}"
DATA_DIR ?= data
HOST ?= 127.0.0.1
PORT ?= 8080
MANAGE := $(BIN)/python manage.py

.NOTPARALLEL:
.PHONY: help run test smoke bench drill screenshots migrate bootstrap collectstatic secret-key chromium lint clean venv requirements dev-requirements

help:
	@echo "make run        start the demo store (web + worker) on http://$(HOST):$(PORT)/"
	@echo "make test       run the test suite but the smoke runs (installs Debian's chromium when missing)"
	@echo "make smoke      smoke runs of the bench and every drill (tiny N; PostgreSQL for broker-outage)"
	@echo "make bench      benchmark pages, API, checkout and the pipeline (SQLite, and PostgreSQL + Redis)"
	@echo "make drill      reliability drills: $(DRILL_NAMES)"
	@echo "                (all by default); \`make drill provider-outage\` runs the ones named"
	@echo "make screenshots  save PNGs of the storefront and admin under docs/screenshots/"
	@echo "make migrate    apply database migrations"
	@echo "make bootstrap  seed missing products and review rules (demo staff login with DEBUG)"
	@echo "make lint       ruff and import-linter (the layer contracts in pyproject.toml)"
	@echo "make clean      remove .venv, collected static files and caches (keeps data/)"

# --- environment ------------------------------------------------------------------------

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { \
		echo "Python 3.11 or newer is needed; found $$($(PYTHON) --version 2>&1). Set PYTHON=/path/to/python3.11." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	-$(BIN)/python -m pip install --quiet --upgrade pip

$(REQUIREMENTS_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(DEV_REQUIREMENTS_STAMP): requirements-dev.txt $(REQUIREMENTS_STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(BIN)/python
requirements: $(REQUIREMENTS_STAMP)
dev-requirements: $(DEV_REQUIREMENTS_STAMP)

# --- the demo -----------------------------------------------------------------------------

# DATA_DIR for its owner only, and a random key for this machine, created once, unless SECRET_KEY is set.
secret-key: | $(BIN)/python
	@$(BIN)/python -m store.secret_key "$(DATA_DIR)"

migrate: $(REQUIREMENTS_STAMP) secret-key
	$(DEMO_ENV) $(MANAGE) migrate --noinput

# DEMO_HOST: a demo that listens beyond this machine gets a random staff password, not the documented one.
bootstrap: $(REQUIREMENTS_STAMP) secret-key
	$(DEMO_ENV) DEMO_HOST="$(HOST)" $(MANAGE) store_bootstrap

collectstatic: $(REQUIREMENTS_STAMP) secret-key
	$(DEMO_ENV) $(MANAGE) collectstatic --noinput --verbosity 0

# Web (gunicorn) and worker (qcluster) from the Procfile, together; Ctrl-C stops both. honcho
# gives each process a PORT of its own, so WEB_PORT names the web's for all of them (Procfile).
# gunicorn is not built to face the internet's clients (a slow one holds a thread): a HOST
# beyond this machine gets a warning.
run: $(REQUIREMENTS_STAMP) migrate bootstrap collectstatic
	@echo "Workflow Store: http://$(HOST):$(PORT)/  (admin /admin/, API docs /api/docs/, health /healthz)"
	@case "$(HOST)" in 127.*|localhost|::1|"[::1]") ;; *) \
		echo "Warning: HOST=$(HOST) listens beyond this machine. The demo is not for the internet: gunicorn must never face clients itself (slow clients hold its threads). For production put nginx in front (docs/operations.md, \"One machine in production\")." >&2 ;; esac
	$(DEMO_ENV) HOST="$(HOST)" PORT="$(PORT)" WEB_PORT="$(PORT)" PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start

# --- tests ----------------------------------------------------------------------------------

# Browser tests drive Debian's Chromium; install it rather than skip them.
chromium:
	@if [ -x "$(CHROMIUM_PATH)" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "$(CHROMIUM_PATH) is missing and apt-get is not available: install Chromium and set CHROMIUM_PATH=/path/to/chromium." >&2; exit 1; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then SUDO=sudo; \
	else \
		echo "$(CHROMIUM_PATH) is missing. Browser tests need Debian's chromium package; install it with:" >&2; \
		echo "    sudo apt-get update && sudo apt-get install -y chromium" >&2; \
		exit 1; \
	fi; \
	echo "Installing Debian's chromium package (browser tests need it)..."; \
	$$SUDO apt-get update; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# The test settings decide DEBUG; a DEBUG exported for `make run` must not leak in.
# The smoke runs of the bench and drills (marker `smoke`, tests/bench) have a target of their own,
# in one process (they start their servers at once, from one module fixture).
test: $(DEV_REQUIREMENTS_STAMP) chromium
	env -u DEBUG $(BIN)/pytest -n $(PYTEST_WORKERS) --dist load -m "not smoke" $(PYTEST_ARGS)

smoke: $(DEV_REQUIREMENTS_STAMP)
	env -u DEBUG $(BIN)/pytest -m smoke $(PYTEST_ARGS)

# PNGs of the storefront and admin under docs/screenshots/ (starts its own server and worker).
screenshots: $(DEV_REQUIREMENTS_STAMP) chromium
	env -u DEBUG $(BIN)/python scripts/screenshots.py

# --- benchmarks and drills (bench/README.md) ---------------------------------------------------
BENCH_BACKEND ?= all
BENCH_ARGS ?=
DRILL_ARGS ?=

# gunicorn + qcluster + wrk, on SQLite with the ORM broker and on PostgreSQL with Redis.
bench: $(REQUIREMENTS_STAMP)
	env -u DEBUG $(BIN)/python -m bench --backend=$(BENCH_BACKEND) $(BENCH_ARGS)

# Reliability drills (DRILL_NAMES, also what `make help` lists: bench.drills' DRILLS, in order);
# exits 1 on any FAIL. `make drill provider-outage crash` runs the drills named (all by default).
DRILL_NAMES := crash oversell idempotency fuzz restart broker-outage provider-outage slow-clients clock-skew db-outage webhooks
drill: $(REQUIREMENTS_STAMP)
	env -u DEBUG $(BIN)/python -m bench.drills $(filter $(DRILL_NAMES),$(MAKECMDGOALS)) $(DRILL_ARGS)

# After `drill`, the drill names are its arguments, not targets of their own.
ifneq ($(filter drill,$(MAKECMDGOALS)),)
.PHONY: $(DRILL_NAMES)
$(DRILL_NAMES):
	@:
endif

# --- housekeeping -----------------------------------------------------------------------------

# ruff (pyproject [tool.ruff]) and import-linter's contracts (pyproject [tool.importlinter]).
lint: $(DEV_REQUIREMENTS_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) staticfiles .pytest_cache test-results
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
