"""The formatter: python-json-logger's pipeline with redaction and a stable record shape."""

from __future__ import annotations

from dihya_logging.formatter._formatter import RedactingJsonFormatter, orjson_available

__all__ = ["RedactingJsonFormatter", "orjson_available"]
