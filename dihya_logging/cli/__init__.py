"""`dihya-logs`: read, query, export, purge, verify and summarise a generation log from a shell."""

from __future__ import annotations

from dihya_logging.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
