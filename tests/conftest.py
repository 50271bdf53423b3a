"""Shared fixtures: an isolated log path and a clean `dihya.generation` logger for every test."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from dihya_logging import LOGGER_NAME

# Shared 2-core machines: no per-example deadline (speed is measured in benchmarks/, not here).
settings.register_profile("dihya", deadline=None)
settings.load_profile("dihya")


@pytest.fixture(autouse=True)
def _isolated_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Detach (and close) whatever a test attached to the dihya logger; no env leaks in."""
    for name in ("DIHYA_LOG_FILE", "DIHYA_CHAIN_KEY", "DIHYA_ANON_KEY", "DIHYA_CHAIN_ANCHOR"):
        monkeypatch.delenv(name, raising=False)
    logger = logging.getLogger(LOGGER_NAME)
    before = list(logger.handlers)
    level, propagate = logger.level, logger.propagate
    yield
    for handler in list(logger.handlers):
        if handler not in before:
            logger.removeHandler(handler)
            handler.close()
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """A log file path in a directory that does not exist yet."""
    return tmp_path / "logs" / "generation.log"


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for child Pythons: this checkout importable, no inherited dihya settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIHYA_")}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env
