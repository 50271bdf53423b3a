"""One-call setup (`configure`) and a ready-made `logging.config.dictConfig` recipe (`dict_config`).

Floor 4. `configure` is idempotent: calling it again with the same arguments returns the
handler already attached; with different arguments it replaces (and closes) the one it had
attached before, never a handler the application attached itself.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Final

from dihya_logging._logset import DEFAULT_LOG_FILE, PathLike
from dihya_logging._schema import LOGGER_NAME
from dihya_logging.sink._handler import GenerationLogHandler

__all__ = ["configure", "dict_config"]

_MARK: Final = "_dihya_configure_key"
"""Attribute on handlers attached by `configure`: the arguments they were built from."""


def _level(level: int | str) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, str)):
        raise TypeError(f"level must be a logging level name or number, got {level!r}")
    if isinstance(level, str):
        value = logging.getLevelName(level.upper())
        if not isinstance(value, int):
            raise ValueError(f"unknown logging level {level!r}")
        return value
    return level


def configure(
    filename: PathLike = DEFAULT_LOG_FILE,
    *,
    level: int | str = "INFO",
    logger_name: str = LOGGER_NAME,
    queue: bool = False,
    **handler_options: Any,
) -> GenerationLogHandler:
    """Attach a `GenerationLogHandler` (with the redacting formatter) to ``logger_name``.

    ``queue=True`` puts a bounded queue and a background writer in front, so the caller never
    waits on the disk (``queue_maxsize`` sets the bound). Other keyword options go to the handler
    (``maxBytes``, ``backupCount``, ``when``, ``compress``, ``chain``, …). Returns the file
    handler (in queue mode, the one behind the queue).
    """
    numeric_level = _level(level)
    queue_maxsize = handler_options.pop("queue_maxsize", None)
    path = os.path.abspath(os.fspath(filename))
    key = (path, logger_name, bool(queue), queue_maxsize, tuple(sorted(handler_options.items())))
    logger = logging.getLogger(logger_name)
    logger.setLevel(numeric_level)
    for attached in list(logger.handlers):
        if getattr(attached, _MARK, None) == key:
            target = getattr(attached, "target_handler", attached)
            assert isinstance(target, GenerationLogHandler)
            return target
    for attached in list(logger.handlers):
        if getattr(attached, _MARK, None) is not None:
            logger.removeHandler(attached)
            attached.close()

    handler = GenerationLogHandler(path, **handler_options)
    front: logging.Handler = handler
    if queue:
        from dihya_logging.sink._queueing import make_queue_handler

        front = (
            make_queue_handler(handler)
            if queue_maxsize is None
            else make_queue_handler(handler, maxsize=queue_maxsize)
        )
    setattr(front, _MARK, key)
    logger.addHandler(front)
    return handler


def dict_config(
    filename: PathLike = DEFAULT_LOG_FILE,
    *,
    level: str = "INFO",
    logger_name: str = LOGGER_NAME,
    **handler_options: Any,
) -> dict[str, Any]:
    """A complete ``dictConfig`` dictionary wiring the formatter and handler to the logger.

    Use it as is (``logging.config.dictConfig(dict_config("logs/generation.log"))``) or as the
    documented template to merge into an application's own configuration.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"dihya_json": {"()": "dihya_logging.RedactingJsonFormatter"}},
        "handlers": {
            "dihya_file": {
                "class": "dihya_logging.GenerationLogHandler",
                "formatter": "dihya_json",
                "filename": os.fspath(filename),
                **handler_options,
            }
        },
        "loggers": {logger_name: {"level": level, "handlers": ["dihya_file"]}},
    }
