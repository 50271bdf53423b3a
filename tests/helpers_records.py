"""Shared pieces of the record-level tests: a handler keeping raw records, a private logger."""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import sys
from collections.abc import Iterator

from dihya_logging import RedactingJsonFormatter


class Capture(logging.Handler):
    """Keeps every record it is handed (what any other handler would receive)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def json_stream() -> tuple[logging.StreamHandler[io.StringIO], io.StringIO]:
    """A handler writing RedactingJsonFormatter lines to a string stream, and the stream."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingJsonFormatter())
    return handler, stream


@contextlib.contextmanager
def private_logger(
    name: str, *handlers: logging.Handler, level: int = logging.INFO
) -> Iterator[logging.Logger]:
    """A logger of its own (no propagation) with ``handlers``; detached and unfiltered after."""
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(level)
    for handler in handlers:
        logger.addHandler(handler)
    try:
        yield logger
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        for added in list(logger.filters):
            logger.removeFilter(added)


def run_without_orjson(code: str, env: dict[str, str]) -> list[str]:
    """The lines ``code`` prints in a fresh interpreter where orjson cannot be imported."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['orjson'] = None\n" + code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout.splitlines()
