# Fresh checkout: `make demo` (sets up .venv-demo with only what a user installs and runs the
# demo on local files in demo-logs/) or `make test` (sets up .venv with the development tools and
# runs everything CI runs). `make bench` runs the benchmarks (not part of the tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
TEST_PLUGIN := tests/plugins/dihya_test_exporter
STAMP := $(VENV)/.installed
# The demo's own environment: the package with its `fast` extra, as a user installs it.
DEMO_VENV ?= .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed
DEMO_DIR ?= demo-logs

.PHONY: demo test check lint typecheck pytest postgres-setup test-oldest test-oldest-run test-newest bench clean

$(STAMP): pyproject.toml setup.cfg
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[dev]'
	if [ -d $(TEST_PLUGIN) ]; then $(PIP) install -e $(TEST_PLUGIN); fi
	touch $@

$(DEMO_STAMP): pyproject.toml setup.cfg
	test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip --disable-pip-version-check -q install -e '.[fast]'
	touch $@

demo: $(DEMO_STAMP)
	$(DEMO_VENV)/bin/python examples/generator_demo.py $(DEMO_DIR)

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
# The oldest runs its suite on the redactor's pure-`re` path (the others on the compiled
# prefilter that the `fast` extra installs; tests/test_redaction_prefilter.py compares both).
OLDEST_PYTHON ?= $(shell ls -1d $$HOME/.pyenv/versions/3.9.*/bin/python 2>/dev/null | tail -n 1)
VENV_OLDEST ?= .venv-py39
NEWEST_PYTHON ?= $(shell ls -1d $$HOME/.pyenv/versions/3.13.*/bin/python 2>/dev/null | tail -n 1)
VENV_NEWEST ?= .venv-py313

test-oldest: postgres-setup
	DIHYA_REDACTION_PREFILTER=off $(MAKE) --no-print-directory test-oldest-run

test-oldest-run:
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
	rm -rf $(VENV) $(DEMO_VENV) $(DEMO_DIR) $(VENV_OLDEST) $(VENV_NEWEST) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
