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
	$(PY) -m pytest $(PYTEST_ARGS)

# The suite again on the oldest supported Python (3.9), when this machine has one (pyenv).
OLDEST_PYTHON ?= $(shell ls -1d $$HOME/.pyenv/versions/3.9.*/bin/python 2>/dev/null | tail -n 1)
VENV_OLDEST ?= .venv-py39
test-oldest: postgres-setup
	@if [ -z "$(OLDEST_PYTHON)" ]; then echo "test-oldest: no Python 3.9 here, skipped"; exit 0; fi; \
	test -x $(VENV_OLDEST)/bin/python || $(OLDEST_PYTHON) -m venv $(VENV_OLDEST); \
	$(VENV_OLDEST)/bin/python -m pip --disable-pip-version-check -q install -e '.[fast,test,postgres]' -e $(TEST_PLUGIN) && \
	$(VENV_OLDEST)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# ... and on the newest this machine has (3.13): the record template follows each version.
NEWEST_PYTHON ?= $(shell ls -1d $$HOME/.pyenv/versions/3.13.*/bin/python 2>/dev/null | tail -n 1)
VENV_NEWEST ?= .venv-py313
test-newest: postgres-setup
	@if [ -z "$(NEWEST_PYTHON)" ]; then echo "test-newest: no Python 3.13 here, skipped"; exit 0; fi; \
	test -x $(VENV_NEWEST)/bin/python || $(NEWEST_PYTHON) -m venv $(VENV_NEWEST); \
	$(VENV_NEWEST)/bin/python -m pip --disable-pip-version-check -q install -e '.[fast,test,postgres]' -e $(TEST_PLUGIN) && \
	$(VENV_NEWEST)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# Server binaries for the PostgreSQL tests (installs Debian's postgresql when missing).
postgres-setup:
	.ci/postgres.sh

bench: $(STAMP)
	$(PIP) install -e '.[bench]'
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(VENV_OLDEST) $(VENV_NEWEST) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
