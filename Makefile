# Fresh checkout: `make demo` (sets up .venv and runs the demo) or `make test` (sets up and runs
# everything CI runs). `make bench` runs the benchmarks (not part of the tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
TEST_PLUGIN := tests/plugins/dihya_test_exporter
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck pytest postgres-setup test-oldest test-newest bench clean

$(STAMP): pyproject.toml setup.cfg
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[dev]'
	if [ -d $(TEST_PLUGIN) ]; then $(PIP) install -e $(TEST_PLUGIN); fi
	touch $@

demo: $(STAMP)
	$(PY) examples/generator_demo.py

test: check pytest

check: lint typecheck

lint: $(STAMP)
	$(VENV)/bin/ruff check dihya_logging tests examples benchmarks
	$(VENV)/bin/ruff format --check dihya_logging tests examples benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) postgres-setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The suite again on another Python found by pyenv (skipped when the machine has none):
# $(call on_python,TARGET,PYTHON,VENV)
on_python = @if [ -z "$(2)" ]; then echo "$(1): no such Python here, skipped"; exit 0; fi; \
	test -x $(3)/bin/python || $(2) -m venv $(3); \
	$(3)/bin/python -m pip --disable-pip-version-check -q install -e '.[fast,test,postgres]' -e $(TEST_PLUGIN) && \
	$(3)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# ... the oldest supported (3.9), and the newest here (3.13: LogRecord's clock and tasks differ).
OLDEST_PYTHON ?= $(shell ls -1d $$HOME/.pyenv/versions/3.9.*/bin/python 2>/dev/null | tail -n 1)
VENV_OLDEST ?= .venv-py39
NEWEST_PYTHON ?= $(shell ls -1d $$HOME/.pyenv/versions/3.13.*/bin/python 2>/dev/null | tail -n 1)
VENV_NEWEST ?= .venv-py313

test-oldest: postgres-setup
	$(call on_python,test-oldest,$(OLDEST_PYTHON),$(VENV_OLDEST))

test-newest: postgres-setup
	$(call on_python,test-newest,$(NEWEST_PYTHON),$(VENV_NEWEST))

# Server binaries for the PostgreSQL tests (installs Debian's postgresql when missing).
postgres-setup:
	.ci/postgres.sh

bench: $(STAMP)
	$(PIP) install -e '.[bench]'
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(VENV_OLDEST) $(VENV_NEWEST) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
