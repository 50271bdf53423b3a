"""loguru → `logging`: a sink that masks each message and hands it to a stdlib logger.

Add the sink to loguru and configure `logging` as usual (``dihya_logging.configure``,
``dictConfig``, a ``logging.ini``)::

    from loguru import logger
    from dihya_logging.integrations.loguru import LoguruSink

    dihya_logging.configure("logs/app.log", logger_name="myapp")
    logger.remove()                    # loguru's default stderr sink, if it should go
    logger.add(LoguruSink("myapp"), level="INFO")

Each message becomes a `logging.LogRecord` made by the target logger's own ``makeRecord``
(loguru's time, level name, file, line and function; its exception as ``exc_info``) and goes
through that logger's filters and handlers, so `RedactingJsonFormatter` writes it: fields bound
with ``logger.bind(...)`` or passed as keyword arguments are top-level keys, masked by the same
rules (a name a `LogRecord` already has is kept as ``extra_<name>``). Without a name the record
goes to the stdlib logger named after the loguru record's module, as ``getLogger(__name__)``
would. The message and fields are masked before the record exists, so no handler sees a secret.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from dihya_logging._schema import safe_extra
from dihya_logging.redaction import default_redactor

__all__ = ["LoguruSink"]


class LoguruSink:
    """A loguru sink (``logger.add(LoguruSink(...))``) that writes through stdlib handlers."""

    def __init__(self, logger_name: Optional[str] = None) -> None:
        self.logger_name = logger_name

    def __call__(self, message: Any) -> None:
        """Turn one loguru message into a masked `LogRecord` and let the stdlib logger handle it."""
        record = message.record
        target = logging.getLogger(self.logger_name or record["name"] or "loguru")
        level = record["level"].no
        if not target.isEnabledFor(level):
            return
        exception = record["exception"]
        exc_info = (
            None if exception is None else (exception.type, exception.value, exception.traceback)
        )
        redactor = default_redactor()
        log_record = target.makeRecord(
            target.name,
            level,
            record["file"].path,
            record["line"],
            redactor.redact_text(record["message"]),
            (),
            exc_info,
            record["function"],
            safe_extra(redactor.redact(record["extra"])),
        )
        log_record.levelname = record["level"].name
        log_record.created = record["time"].timestamp()
        log_record.msecs = (log_record.created - int(log_record.created)) * 1000
        target.handle(log_record)
