# smartbank: build, run and test.
#
#   make run    install the app into .venv and start the demo on http://127.0.0.1:8000 (server and worker)
#   make test   install dev dependencies, PostgreSQL and Chromium if missing, run the test suite
#
# `make help` lists every target.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
VENV_ABS := $(CURDIR)/$(VENV)

# Installation is recorded in stamp files named after pyproject.toml's hash, so it is
# redone when the dependencies change and skipped (in well under a second) otherwise.
PYPROJECT_HASH := $(shell sha256sum pyproject.toml 2>/dev/null | cut -c1-16)
STAMP := $(VENV)/.installed-$(PYPROJECT_HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(PYPROJECT_HASH)

PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
SMARTBANK_TEST_DATABASES ?= sqlite,postgresql
SMARTBANK_TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
BENCH_PG_URL ?= postgresql://postgres@127.0.0.1:5432/smartbank_bench

# Create .venv when missing, and recreate it when it is unusable: its python does not
# start, or its scripts point at another directory's venv (a copied or committed .venv).
define ENSURE_VENV
if [ -e "$(VENV)" ]; then \
  if ! "$(VENV_PY)" -c 'import sys' >/dev/null 2>&1 \
     || ! head -n 3 "$(VENV)/bin/pip" 2>/dev/null | grep -qF '$(VENV_ABS)/bin/python'; then \
    echo ">> $(VENV) is unusable here (broken python or made for another path): recreating it"; \
    rm -rf "$(VENV)"; \
  fi; \
fi; \
if [ ! -e "$(VENV)" ]; then \
  echo ">> creating $(VENV) with $(PYTHON) ($$($(PYTHON) --version 2>&1))"; \
  $(PYTHON) -m venv "$(VENV)" || { \
    echo "error: '$(PYTHON) -m venv' failed (on Debian's own python: apt-get install python3-venv," \
         "or pass PYTHON=/path/to/python3.11)" >&2; rm -rf "$(VENV)"; exit 1; }; \
fi
endef

# Install the project (editable) with the given requirement spec: uv when it can be had
# (fast), pip otherwise. The installers print their own progress. Bytecode is compiled at install
# (pip does so by default, uv when asked): with PYTHONDONTWRITEBYTECODE set, as on many CI machines,
# nothing would ever cache it and every process would compile scikit-learn, SciPy... again on import
# (6.4 s against 2.6 s to import the server's libraries here).
define PIP_INSTALL
if [ ! -x "$(VENV)/bin/uv" ]; then \
  echo ">> installing uv into $(VENV)"; \
  "$(VENV_PY)" -m pip install uv || echo ">> uv unavailable: installing with pip instead"; \
fi; \
if [ -x "$(VENV)/bin/uv" ] && "$(VENV)/bin/uv" --version >/dev/null 2>&1; then \
  echo ">> uv pip install -e '$(1)'"; \
  UV_LINK_MODE="$${UV_LINK_MODE:-copy}" "$(VENV)/bin/uv" pip install --compile-bytecode --python "$(VENV_PY)" -e '$(1)' || { \
    echo ">> uv failed: retrying with pip"; \
    "$(VENV_PY)" -m pip install -e '$(1)'; }; \
else \
  echo ">> pip install -e '$(1)'"; \
  "$(VENV_PY)" -m pip install -e '$(1)'; \
fi
endef

# torch for the assistant's intent encoder (the `nlp` extra), CPU build only: a "+cpu" version is on no
# default index, so this never pulls the CUDA build. Installed before uv, which then keeps it. Without
# it the project installs without the extra and the intent model falls back to TF-IDF.
TORCH_SPEC ?= torch==2.13.0+cpu
COMMA := ,
define TORCH_INSTALL
"$(VENV_PY)" -c 'import torch' >/dev/null 2>&1 || { \
  echo ">> pip install '$(TORCH_SPEC)'"; \
  "$(VENV_PY)" -m pip install '$(TORCH_SPEC)' \
    || echo ">> torch unavailable: installing without the nlp extra (intent model: TF-IDF)"; }
endef
HAS_TORCH := "$(VENV_PY)" -c 'import torch' >/dev/null 2>&1

# A stamp only counts while the venv still works here: its python starts and its scripts
# point at this directory (not so for a .venv copied from elsewhere or checked into git).
VENV_OK := $(shell "$(VENV_PY)" -c 'import sys' >/dev/null 2>&1 \
  && head -n 3 "$(VENV)/bin/pip" 2>/dev/null | grep -qF '$(VENV_ABS)/bin/python' && echo yes)
ifneq ($(VENV_OK),yes)
$(STAMP) $(DEV_STAMP): FORCE
endif

.PHONY: help run install dev test test-dates lint bench migrate clean system screenshots FORCE
FORCE:

help: ## list the targets
	@echo "smartbank make targets:"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort | \
	  while IFS=$$'\t' read -r t d; do printf '  %-10s %s\n' "$$t" "$$d"; done

run: install ## install (if needed) and start the demo bank on http://127.0.0.1:8000 (server + background worker)
	$(VENV)/bin/smartbank demo

install: $(STAMP) ## create .venv and install smartbank into it (skipped when done)

dev: $(DEV_STAMP) ## install smartbank with the dev extras (tests, linters)

$(STAMP):
	@bash scripts/ensure-system.sh openmp
	@$(ENSURE_VENV)
	@if [ -f "$(DEV_STAMP)" ]; then exit 0; fi; $(TORCH_INSTALL); \
	  if $(HAS_TORCH); then $(call PIP_INSTALL,.[nlp]); else $(call PIP_INSTALL,.); fi
	@for f in $(VENV)/.installed-*; do case "$$f" in "$(STAMP)"|"$(DEV_STAMP)") ;; *) rm -f "$$f";; esac; done; \
	  touch "$(STAMP)"

$(DEV_STAMP):
	@$(ENSURE_VENV)
	@$(TORCH_INSTALL); \
	  if $(HAS_TORCH); then $(call PIP_INSTALL,.[dev$(COMMA)nlp]); else $(call PIP_INSTALL,.[dev]); fi
	@for f in $(VENV)/.installed-*; do case "$$f" in "$(STAMP)"|"$(DEV_STAMP)") ;; *) rm -f "$$f";; esac; done; \
	  touch "$(STAMP)" "$(DEV_STAMP)"

system: ## install/start what the tests need when missing (PostgreSQL, Chromium, CJK fonts, OpenMP)
	bash scripts/ensure-system.sh

# SMARTBANK_TEST_DATABASES=sqlite runs SQLite only; otherwise a PostgreSQL out of reach stops the run with an error.
# PYTHONDONTWRITEBYTECODE is cleared for the run: with it set, each worker compiled the project's modules and
# rewrote the test modules' assertions again on every run (about 9 s of CPU per worker here).
test: dev ## run the whole test suite (SQLite and PostgreSQL, browser tests in Chromium)
	bash scripts/ensure-system.sh
	@cmd=(env SMARTBANK_TEST_DATABASES='$(SMARTBANK_TEST_DATABASES)' SMARTBANK_TEST_PG_URL='$(SMARTBANK_TEST_PG_URL)' \
	  PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -p no:cacheprovider -n '$(PYTEST_WORKERS)' $(PYTEST_ARGS) tests); \
	echo "+ $${cmd[*]}"; \
	rc=0; "$${cmd[@]}" || rc=$$?; \
	if [ "$$rc" -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit "$$rc"

test-dates: dev ## run the suite with the machine's clock moved to other dates (libfaketime): no test depends on the day
	bash scripts/ensure-system.sh
	bash scripts/test-dates.sh

lint: dev ## ruff, mypy and the import contracts (lint-imports; see [tool.importlinter] in pyproject.toml)
	@rc=0; \
	echo "+ ruff check src tests tools"; $(VENV)/bin/ruff check src tests tools || rc=1; \
	echo "+ mypy"; $(VENV)/bin/mypy || rc=1; \
	echo "+ lint-imports"; $(VENV)/bin/lint-imports --no-cache || rc=1; \
	exit "$$rc"

migrate: install ## apply database migrations (SMARTBANK_DATABASE_URL, default ./var/smartbank.db)
	$(VENV)/bin/smartbank db upgrade

bench: install ## ledger and HTTP benchmarks against PostgreSQL (BENCH_PG_URL)
	bash scripts/ensure-system.sh postgres
	$(VENV_PY) scripts/ensure-database.py '$(BENCH_PG_URL)'
	$(VENV)/bin/smartbank bench ledger --database-url '$(BENCH_PG_URL)' --clients 8 --seconds 20 --compare-pgbench
	$(VENV)/bin/smartbank bench http --database-url '$(BENCH_PG_URL)' --clients 16 --seconds 20

screenshots: dev ## render the key pages of the demo bank into docs/screenshots/ (portal, elderly mode, console)
	bash scripts/ensure-system.sh chromium fonts
	$(VENV_PY) scripts/screenshots.py

clean: ## remove var/ and build, test and cache artefacts (keeps .venv)
	rm -rf var build dist test-results .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -path ./.git -prune -o \
	  \( -name '__pycache__' -o -name '*.egg-info' \) -type d -print0 | xargs -0 -r rm -rf
