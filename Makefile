# Fresh checkout: `make demo` (sets up .venv and runs the demo) or `make test` (sets up and runs
# everything CI runs). `make bench` runs the benchmarks (not part of the tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
TEST_PLUGIN := tests/plugins/dihya_test_exporter
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck pytest postgres-setup bench clean

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

# Server binaries for the PostgreSQL tests (installs Debian's postgresql when missing).
postgres-setup:
	.ci/postgres.sh

bench: $(STAMP)
	$(PIP) install -e '.[bench]'
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
