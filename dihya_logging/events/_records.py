"""`new_record`: the `logging.LogRecord` of an event, built at half the stdlib's cost.

Floor 1 (standard library only). ``LogRecord.__init__`` recomputes, for every record, what does
not change between the events of one thread: the file name and module of the call site (always
``(dihya_logging)`` here), the process id and name, the argument checks. When the record factory
is the stock `logging.LogRecord`, `new_record` copies a per-thread template made by the real
``__init__`` and sets only what moves (time, thread and process names); otherwise it calls the
factory.

The time fields are computed as this Python's ``LogRecord.__init__`` computes them: the variant
(3.9's float milliseconds, gh-89047's whole ones, 3.13's nanosecond clock) is read once from its
source. The template is checked once against a real record (same attributes, same values but
the time): on a Python whose ``LogRecord`` differs in any way, the fast path switches itself off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from typing import Any, Final, Optional

__all__ = ["SOURCE_PATH", "new_record"]

SOURCE_PATH: Final = "(dihya_logging)"
"""``pathname`` of every event record: the call site is the helper, not the application."""

_TIME_ATTRIBUTES: Final = frozenset({"created", "msecs", "relativeCreated"})
_START: Final = logging._startTime  # type: ignore[attr-defined]

_HAS_TASK_FLAG: Final = hasattr(logging, "logAsyncioTasks")  # Python 3.12+
_new: Final = logging.LogRecord.__new__
_templates: dict[int, dict[str, Any]] = {}  # thread ident -> attributes of a real record
_fast: Optional[bool] = None  # None: not checked yet


def _forget_templates() -> None:
    """In a forked child the process id (and maybe its name) changed: start again."""
    _templates.clear()


if hasattr(os, "register_at_fork"):  # pragma: no branch
    os.register_at_fork(after_in_child=_forget_templates)


def _in_task() -> bool:
    """Whether an asyncio event loop runs in this thread (3.12+ records the task's name)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio.events._get_running_loop() is not None


def _clock_variant() -> str | None:
    """Which of the known ``LogRecord.__init__`` time computations this Python runs (read from
    its source); None when unknown or unreadable: the fast path then stays off."""
    import inspect  # once, on the first record: not worth its import time for every user

    try:
        source = inspect.getsource(logging.LogRecord.__init__)
    except Exception:  # no source (frozen, stripped) or unparsable: never raise into a log call
        return None
    if "(ct % 1_000_000_000) // 1_000_000 + 0.0" in source and "msecs == 999.0" in source:
        return "ns"  # 3.13+: time_ns(), with the round-up correction
    if "int((ct - int(ct)) * 1000) + 0.0" in source:
        return "int"
    if "self.msecs = (ct - int(ct)) * 1000" in source:
        return "float"  # 3.9 and early 3.10 (before gh-89047)
    return None


_CLOCK: Optional[str] = None  # read on the first record (reading the source takes a few ms)


def _set_time(attributes: dict[str, Any]) -> None:
    """The time fields as the other known ``LogRecord.__init__`` variants compute them."""
    if _CLOCK == "ns":
        ns = time.time_ns()
        created = attributes["created"] = ns / 1e9
        msecs = (ns % 1_000_000_000) // 1_000_000 + 0.0
        if msecs == 999.0 and int(created) != ns // 1_000_000_000:
            msecs = 0.0  # the ns -> s conversion rounded up
        attributes["msecs"] = msecs
        attributes["relativeCreated"] = (ns - _START) / 1e6
    else:  # "float"
        now = time.time()
        attributes["created"] = now
        attributes["msecs"] = (now - int(now)) * 1000
        attributes["relativeCreated"] = (now - _START) * 1000


def _real(name: str, level: int, msg: str) -> logging.LogRecord:
    return logging.getLogRecordFactory()(name, level, SOURCE_PATH, 0, msg, (), None, None, None)


def _check(record: logging.LogRecord, real: logging.LogRecord) -> bool:
    """Whether ``record`` has the attributes of ``real``, with the same values but the time."""
    mine, theirs = record.__dict__, real.__dict__
    if mine.keys() != theirs.keys():
        return False
    return all(mine[k] == theirs[k] for k in mine if k not in _TIME_ATTRIBUTES) and all(
        type(mine[k]) is type(theirs[k]) and abs(mine[k] - theirs[k]) < 60_000
        for k in _TIME_ATTRIBUTES
    )


def new_record(name: str, level: int, msg: str) -> logging.LogRecord:
    """A record as ``getLogRecordFactory()(name, level, "(dihya_logging)", 0, msg, (), None)``."""
    global _fast, _CLOCK
    if _fast is None and _CLOCK is None:
        _CLOCK = _clock_variant()
        if _CLOCK is None:
            _fast = False
    if (
        _fast is False
        or logging.getLogRecordFactory() is not logging.LogRecord
        or not (logging.logThreads and logging.logProcesses and logging.logMultiprocessing)
        or (_HAS_TASK_FLAG and not logging.logAsyncioTasks)  # type: ignore[attr-defined]
        or _in_task()
    ):
        return _real(name, level, msg)
    ident = threading.get_ident()
    template = _templates.get(ident)
    if template is None:
        if len(_templates) > 1024:  # threads come and go: keep the cache small
            _templates.clear()
        template = _templates[ident] = _real(name, level, msg).__dict__.copy()
    record = _new(logging.LogRecord)
    record.__dict__ = attributes = template.copy()  # a copy of a dict: cheaper than update
    attributes["name"] = name
    attributes["msg"] = msg
    attributes["levelno"] = level
    attributes["levelname"] = logging.getLevelName(level)  # addLevelName may rename it any time
    if _CLOCK == "int":  # Python 3.10.x (later patch levels), 3.11, 3.12
        now = time.time()
        attributes["created"] = now
        attributes["msecs"] = int((now - int(now)) * 1000) + 0.0
        attributes["relativeCreated"] = (now - _START) * 1000
    else:
        _set_time(attributes)
    attributes["threadName"] = threading.current_thread().name
    process = sys.modules.get("multiprocessing")
    if process is not None:  # a process may be renamed at run time too (LogRecord reads it)
        with contextlib.suppress(Exception):  # as LogRecord does: keep what the template has
            attributes["processName"] = process.current_process().name
    if _fast is None:
        _fast = _check(record, _real(name, level, msg))
        if not _fast:
            return _real(name, level, msg)
    return record
