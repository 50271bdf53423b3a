"""The contenders: each logs the shared event into a real file the way its users would.

A contender's ``setup(path)`` returns a `Sink` (``emit()`` logs one event, ``close()`` flushes
and detaches) and imports its libraries lazily: a missing library or a dihya module still being
written makes the contender "unavailable" instead of crashing the suite.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Optional

from .event import Renewer, flat_event, generation_input

__all__ = ["CONTENDERS", "Contender", "Sink", "by_key", "redact_by_key"]

MASK = "[REDACTED]"
_SENSITIVE = re.compile(
    r"pass(word|wd)?|secret|token|api[-_]?key|authori[sz]ation|cookie|session|private[-_]?key",
    re.IGNORECASE,
)


@dataclass
class Sink:
    """One opened contender: ``emit()`` logs the event once, ``close()`` flushes and detaches."""

    emit: Callable[[], Any]
    close: Callable[[], None]
    queue_size: Optional[Callable[[], int]] = None
    queue_bound: Optional[int] = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contender:
    """A named way of logging the event; ``number`` is the row of issue 6 it stands for."""

    key: str
    number: str
    label: str
    setup: Callable[[str], Sink]
    redacts: bool
    queue: bool = False
    latency_pass: bool = False


@lru_cache(maxsize=1024)
def _is_sensitive(key: str) -> bool:
    return _SENSITIVE.search(key) is not None


def redact_by_key(value: Any) -> Any:
    """A reasonable recursive key-based redaction, as a structlog user would write it."""
    if isinstance(value, dict):
        return {
            k: MASK if isinstance(k, str) and _is_sensitive(k) else redact_by_key(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_by_key(v) for v in value]
    return value


def _std_logger(name: str, handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def _std_close(logger: logging.Logger) -> Callable[[], None]:
    def close() -> None:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()

    return close


_PJL_FMT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _pjl_json(path: str) -> Sink:
    from pythonjsonlogger.json import JsonFormatter

    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter(_PJL_FMT))
    logger = _std_logger("bench.pjl_json", handler)
    event = flat_event()
    renew = Renewer(event["request"])

    def emit() -> None:
        renew()
        logger.info("generation", extra=event)

    return Sink(emit, _std_close(logger))


def _pjl_orjson(path: str) -> Sink:
    from pythonjsonlogger.orjson import OrjsonFormatter

    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(OrjsonFormatter(_PJL_FMT))
    logger = _std_logger("bench.pjl_orjson", handler)
    event = flat_event()
    renew = Renewer(event["request"])

    def emit() -> None:
        renew()
        logger.info("generation", extra=event)

    return Sink(emit, _std_close(logger))


def _structlog(path: str) -> Sink:
    import orjson
    import structlog

    def redact(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> Any:
        return redact_by_key(dict(event_dict))

    stream = open(path, "ab")  # noqa: SIM115 - closed by the sink
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.BytesLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    log = structlog.get_logger("bench")
    event = flat_event()
    del event["event"]  # structlog's positional argument is the event name
    renew = Renewer(event["request"])

    def emit() -> None:
        renew()
        log.info("generation", **event)

    return Sink(emit, stream.close)


def _loguru(path: str) -> Sink:
    from loguru import logger

    logger.remove()
    sink_id = logger.add(path, serialize=True, level="INFO", enqueue=False, catch=True)
    event = flat_event()
    renew = Renewer(event["request"])

    def emit() -> None:
        renew()
        logger.info("generation", **event)

    return Sink(emit, lambda: logger.remove(sink_id))


def _naive(path: str) -> Sink:
    event = flat_event()
    renew = Renewer(event["request"])

    def emit() -> None:
        renew()
        record = {
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "level": "INFO",
            "logger": "bench",
            "message": "generation",
            **event,
        }
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")

    return Sink(emit, lambda: None)


def _physical(path: str) -> Sink:
    import orjson

    stream = open(path, "wb")  # noqa: SIM115 - closed by the sink
    write, dumps, option = stream.write, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    event = flat_event()
    renew = Renewer(event["request"])

    def emit() -> None:
        renew()
        write(dumps(event, option=option))

    return Sink(emit, stream.close)


def _dihya_close(logger_name: str) -> Callable[[], None]:
    def close() -> None:
        logger = logging.getLogger(logger_name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()

    return close


def _dihya(path: str, *, queue: bool) -> Sink:
    import dihya_logging
    from dihya_logging.events._events import log_generation_event

    source = generation_input()
    logger = logging.getLogger(dihya_logging.LOGGER_NAME)
    logger.propagate = False
    handler = dihya_logging.configure(path, queue=queue)
    user, needs, code, status, error = (
        source.user_id,
        source.needs,
        source.code,
        source.status,
        source.error,
    )
    extra = source.extra
    renew = Renewer(extra["request"])

    def emit() -> None:
        renew()
        log_generation_event(user, needs, code, status, error, extra)

    sink = Sink(emit, _dihya_close(logger.name), info={"handler": type(handler).__name__})
    if queue:
        for front in logger.handlers:
            backing = getattr(front, "queue", None)
            if backing is not None and hasattr(backing, "qsize"):
                sink.queue_size = backing.qsize
                sink.queue_bound = int(getattr(backing, "maxsize", 0)) or None
                sink.info["front"] = type(front).__name__
    return sink


def _dihya_formatter(path: str) -> Sink:
    from dihya_logging.formatter._formatter import RedactingJsonFormatter

    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(RedactingJsonFormatter())
    logger = _std_logger("bench.dihya_formatter", handler)
    event = flat_event()
    renew = Renewer(event["request"])

    def emit() -> None:
        renew()
        logger.info("generation", extra=event)

    return Sink(emit, _std_close(logger))


CONTENDERS: tuple[Contender, ...] = (
    Contender("pjl-json", "1", "python-json-logger JsonFormatter + FileHandler", _pjl_json, False),
    Contender(
        "pjl-orjson", "2", "python-json-logger OrjsonFormatter + FileHandler", _pjl_orjson, False
    ),
    Contender(
        "structlog",
        "3",
        "structlog + orjson + key-based redaction processor (no text scan)",
        _structlog,
        True,
    ),
    Contender("loguru", "4", "loguru serialize=True", _loguru, False),
    Contender("naive", "5", "naive open/json.dumps/append/close", _naive, False),
    Contender("physical", "6", "orjson.dumps + buffered write (no logging)", _physical, False),
    Contender(
        "dihya",
        "7",
        "dihya: log_generation_event -> GenerationLogHandler",
        lambda path: _dihya(path, queue=False),
        True,
        latency_pass=True,
    ),
    Contender(
        "dihya-queue",
        "7q",
        "dihya queue mode (configure(queue=True))",
        lambda path: _dihya(path, queue=True),
        True,
        queue=True,
    ),
    Contender(
        "dihya-formatter",
        "7f",
        "dihya RedactingJsonFormatter + FileHandler (extra=event)",
        _dihya_formatter,
        True,
    ),
)


def by_key(key: str) -> Contender:
    """The contender called ``key`` (KeyError with the known names otherwise)."""
    for contender in CONTENDERS:
        if contender.key == key:
            return contender
    raise KeyError(f"unknown contender {key!r}; known: {', '.join(c.key for c in CONTENDERS)}")
