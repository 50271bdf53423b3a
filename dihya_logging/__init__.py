"""dihya-logging: audit-grade, privacy-first JSON logging of project generations.

A drop-in plugin for Python's standard `logging`: a redacting JSON formatter built on
python-json-logger, a rotating JSON-lines file handler that is safe across processes, helpers
that log one event per project generation, and a store that reads, exports, purges and verifies
the files. See README.md for the quick start.

Names are imported on first use (PEP 562), so an application that only needs the formatter does
not load the store, the exporters or the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dihya_logging._schema import LOGGER_NAME
from dihya_logging._version import __version__

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from ._config import configure, dict_config
    from .chain import VerifyReport, verify_generation_logs
    from .events import log_event, log_generation_event
    from .formatter import RedactingJsonFormatter
    from .postgres import PostgresLogHandler
    from .redaction import Redactor
    from .sink import AuditQueueHandler, GenerationLogHandler
    from .store import (
        export_generation_logs,
        get_generation_logs,
        iter_generation_logs,
        purge_generation_logs,
    )
    from .store._redact import redact_generation_logs

_LAZY = {
    "configure": "_config",
    "dict_config": "_config",
    "log_event": "events",
    "log_generation_event": "events",
    "export_generation_logs": "store",
    "RedactingJsonFormatter": "formatter",
    "GenerationLogHandler": "sink",
    "PostgresLogHandler": "postgres",
    "Redactor": "redaction",
    "AuditQueueHandler": "sink",
    "VerifyReport": "chain",
    "get_generation_logs": "store",
    "iter_generation_logs": "store",
    "purge_generation_logs": "store",
    "redact_generation_logs": "store._redact",
    "verify_generation_logs": "chain",
}

__all__ = [
    "AuditQueueHandler",
    "VerifyReport",
    "LOGGER_NAME",
    "GenerationLogHandler",
    "PostgresLogHandler",
    "RedactingJsonFormatter",
    "Redactor",
    "__version__",
    "configure",
    "dict_config",
    "export_generation_logs",
    "get_generation_logs",
    "iter_generation_logs",
    "log_event",
    "log_generation_event",
    "purge_generation_logs",
    "redact_generation_logs",
    "verify_generation_logs",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access and cache the name here."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
