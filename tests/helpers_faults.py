"""Helpers for the adversarial sink tests: records, handlers, and what a log set holds."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from helpers_sink import parse_all, read_lines
from pythonjsonlogger.json import JsonFormatter

from dihya_logging import GenerationLogHandler

__all__ = ["handler_at", "rec", "seqs"]


def rec(seq: int = 0, msg: str = "event", **extra: Any) -> logging.LogRecord:
    """A record as `logger.info(msg, extra=...)` would make it."""
    return logging.makeLogRecord(
        {"msg": msg, "levelno": 20, "levelname": "INFO", "seq": seq, **extra}
    )


def handler_at(path: Path, **options: Any) -> GenerationLogHandler:
    """A `GenerationLogHandler` with python-json-logger's formatter."""
    handler = GenerationLogHandler(path, **options)
    handler.setFormatter(JsonFormatter())
    return handler


def seqs(path: Path) -> list[int]:
    """The ``seq`` of every (complete) line of the log set, in file order."""
    return [int(r["seq"]) for r in parse_all(read_lines(path)) if "seq" in r]
