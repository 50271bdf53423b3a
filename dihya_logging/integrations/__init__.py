"""Adapters for codebases that log through structlog or loguru rather than `logging` itself.

Each one applies the same redaction as the rest of the package and hands the record to the
standard library, so `RedactingJsonFormatter` and `GenerationLogHandler` (or any handler
configured there) write it: `dihya_logging.integrations.structlog` (processors) and
`dihya_logging.integrations.loguru` (a sink). Neither imports its library.
"""

from __future__ import annotations

__all__: list[str] = []
