"""Non-blocking mode: a bounded queue and a background writer in front of the file handler.

Floor 3. `AuditQueueHandler` is a `logging.handlers.QueueHandler` that owns its
`QueueListener`, so the caller only pays for rendering the message and a queue ``put``; the
target handler (a `GenerationLogHandler`) formats and writes in the listener's thread. Unlike
the stdlib's, `prepare` keeps the exception and stack text as separate fields, and the queue is
bounded without ever dropping an audit record silently: by default a full queue makes the
caller wait (back-pressure) until the writer has emptied half of it; with ``timeout`` the
caller waits at most that long, the dropped records are counted and a warning record saying
how many is written as soon as there is room. The queue is a `BoundedQueue` (a lock and an
append per record) and the writer takes every queued record at once and hands them to the
target's ``handle_batch`` (one ``flock`` and usually one ``write`` per batch), so the threads
hand over per batch, not per record. Closing it (``logging.shutdown()`` does, at exit) drains
the queue, then closes the target.

``configure(queue=True)`` uses `make_queue_handler`. With ``logging.config.dictConfig``::

    "formatters": {"json": {"()": "dihya_logging.RedactingJsonFormatter"}},
    "handlers": {
        "audit": {
            "()": "dihya_logging.sink._queueing.queued_handler",
            "filename": "logs/generation.log",   # any GenerationLogHandler option
            "maxBytes": 10_000_000,
            "maxsize": 10_000,                   # queue bound (optional: "timeout": 0.5)
            "formatter": "json",                 # given to the file handler behind the queue
        }
    },
    "loggers": {"dihya.generation": {"level": "INFO", "handlers": ["audit"]}},

``queued_handler`` also accepts ``target=`` with another handler's configuration (a mapping
with ``"class"`` and its keyword arguments) or, with ``"cfg://handlers.<name>"``, a handler
configured earlier (dictConfig configures handlers in name order).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import queue
import threading
import weakref
from collections.abc import Mapping
from logging.handlers import QueueHandler, QueueListener
from pathlib import Path
from threading import get_ident
from typing import Any, Final, Optional, cast

from dihya_logging.redaction._redactor import default_redactor
from dihya_logging.sink._boundedqueue import BoundedQueue

__all__ = [
    "BATCH_LIMIT",
    "DEFAULT_MAXSIZE",
    "AuditQueueHandler",
    "AuditQueueListener",
    "make_queue_handler",
    "queued_handler",
]

DEFAULT_MAXSIZE: Final = 10_000
"""Records the queue holds before callers wait: a few MB at most."""

BATCH_LIMIT: Final = 512
"""Records the writer takes at once (they still count in the queue's bound)."""

_TRACEBACKS = logging.Formatter()  # renders exc_info exactly as logging does by default
_queue_handlers: weakref.WeakSet[AuditQueueHandler] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child has no listener thread: give each queue handler a fresh queue."""
    for handler in list(_queue_handlers):
        handler._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _copy_record(record: logging.LogRecord) -> logging.LogRecord:
    """A shallow copy of a record (what ``copy.copy`` makes, at a quarter of the cost)."""
    clone: logging.LogRecord = object.__new__(type(record))
    clone.__dict__.update(record.__dict__)
    return clone


class AuditQueueListener(QueueListener):
    """A `QueueListener` that writes in batches, whose stop never fails on a full queue and
    whose thread never dies."""

    def __init__(self, bounded: BoundedQueue, target: logging.Handler) -> None:
        super().__init__(cast(Any, bounded), target, respect_handler_level=True)
        self.bounded = bounded
        self.ident: Optional[int] = None  # the writer thread's id while it runs
        self.finished = False

    def enqueue_sentinel(self) -> None:
        """Wait for room instead of raising `queue.Full` (the listener is draining)."""
        self.bounded.put(getattr(self, "_sentinel", None))

    def _monitor(self) -> None:
        """The writer loop: take every queued record (up to `BATCH_LIMIT`) at each wake-up
        and hand them on, as one batch when the target has ``handle_batch``; stop after the
        batch holding the sentinel (records queued after it are written too)."""
        self.ident = get_ident()
        bounded = self.bounded
        sentinel = getattr(self, "_sentinel", None)
        target = self.handlers[0] if len(self.handlers) == 1 else None
        batched = getattr(target, "handle_batch", None)
        limit = BATCH_LIMIT if batched is not None else 1
        try:
            while True:
                batch = bounded.take(limit)
                stop = sentinel in batch
                if stop:
                    batch = [record for record in batch if record is not sentinel]
                if batched is not None:
                    self.handle_batch(batched, batch)
                else:
                    for record in batch:
                        self.handle(record)
                if stop:
                    return
        finally:
            self.ident = None  # a later thread may reuse the id
            self.finished = True
            bounded.done()

    def handle_batch(self, batched: Any, records: list[logging.LogRecord]) -> None:
        """Hand several records to the (single) target at once, honouring its level."""
        target = self.handlers[0]
        level = target.level
        if level:
            records = [record for record in records if record.levelno >= level]
        if not records:
            return
        try:
            batched(records)
        except Exception:
            target.handleError(records[0])

    def handle(self, record: logging.LogRecord) -> None:
        """Hand the record on; a handler that raises must not kill the writer thread."""
        try:
            super().handle(record)
        except Exception:
            for handler in self.handlers:
                handler.handleError(record)

    @property
    def running(self) -> bool:
        """Whether the writer thread is alive."""
        thread: Optional[threading.Thread] = getattr(self, "_thread", None)
        return thread is not None and thread.is_alive() and not self.finished


class AuditQueueHandler(QueueHandler):
    """Queue records for ``target`` (written by a background thread); never drops silently.

    ``maxsize`` bounds the queue (records being written included). ``timeout=None`` (default)
    makes callers wait when it is full, until the writer has emptied half of it (one long wait
    rather than a thread hand-off per record); a number makes them wait at most that long,
    then the record is dropped, counted in ``dropped``, and a warning record with
    ``dropped_records`` follows.
    """

    def __init__(
        self,
        target: logging.Handler,
        maxsize: int = DEFAULT_MAXSIZE,
        *,
        timeout: Optional[float] = None,
    ) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be a positive integer, got {maxsize!r}")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be None or >= 0, got {timeout!r}")
        self.bounded = BoundedQueue(maxsize)
        super().__init__(cast(Any, self.bounded))
        self.target_handler = target
        self.maxsize = maxsize
        self.timeout = timeout
        self.dropped = 0
        self._unreported = 0
        self._drop_lock = threading.Lock()
        self._gate = threading.Lock()
        self._closed = False
        self._restart = False
        self.listener: AuditQueueListener = AuditQueueListener(self.bounded, target)
        self.listener.start()
        _queue_handlers.add(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} -> {self.target_handler!r}>"

    @property
    def log_path(self) -> Optional[Path]:
        """The target's log file (how the store finds the log behind the queue)."""
        return getattr(self.target_handler, "log_path", None)

    def setFormatter(self, fmt: Optional[logging.Formatter]) -> None:
        """The target formats (in the writer thread): a formatter given here goes to it."""
        self.target_handler.setFormatter(fmt)

    # -- caller side -------------------------------------------------------------------------------
    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and queue without holding the handler lock: a caller waiting for room must
        not block the writer thread if it logs too (the queue is thread-safe by itself)."""
        verdict: object = self.filter(record) if self.filters else True
        if isinstance(verdict, logging.LogRecord):  # Python 3.12+: a filter may replace it
            record = verdict
        if verdict:
            try:
                self.enqueue(self.prepare(record))
            except Exception:
                self.handleError(record)
        return verdict  # type: ignore[return-value]

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """A record safe to hand to another thread: message rendered now, exception and stack
        kept as text in ``exc_text``/``stack_info`` (not folded into the message), extras kept.

        A record that needs no change (a plain ``str`` message, no arguments, no ``exc_info``)
        is queued as it is; any other is copied (shallowly), so the caller's record stays
        untouched. Mapping arguments are redacted before they are interpolated, with the
        target formatter's redactor or the default one (as `RedactingJsonFormatter` would do).
        """
        if type(record.msg) is str and not record.args and not record.exc_info:
            return record
        prepared = _copy_record(record)
        if isinstance(record.msg, Mapping):
            prepared.msg = dict(record.msg)
            prepared.args = None
        else:
            # a message that cannot be rendered stays as it is: the target's formatter reports it
            with contextlib.suppress(Exception):
                prepared.msg = prepared.message = self._render_message(record)
                prepared.args = None
        if record.exc_info:
            if not record.exc_text:
                prepared.exc_text = _TRACEBACKS.formatException(record.exc_info)
            prepared.exc_info = None
        return prepared

    def _render_message(self, record: logging.LogRecord) -> str:
        args = record.args
        if isinstance(args, Mapping) and args:
            # no formatter yet (the handler makes its redacting default on first use): default
            redactor = getattr(self.target_handler.formatter, "redactor", None)
            if redactor is None:
                redactor = default_redactor()
            return str(record.msg) % redactor.redact(args)  # type: ignore[no-any-return]
        return record.getMessage()

    def enqueue(self, record: logging.LogRecord) -> None:
        """Put the record, waiting for room; write it directly if no writer thread runs."""
        listener = self.listener
        if get_ident() == listener.ident:
            self._put(record, block=False)  # logged by the writer itself: never wait on us
            return
        with self._gate:  # `close` cannot stop the writer between our check and our put
            if self._restart or self._closed or listener.finished:
                if self._restart and not self._closed:  # first record in a forked child
                    self._restart = False
                    listener.start()
                elif self._closed or not listener.running:
                    self.target_handler.handle(record)  # after close / at exit: stay lossless
                    return
            if self._unreported:
                self._report_drops(block=False)
            if self.timeout is None:
                self.bounded.put(record)
            else:
                self._put(record, block=True)

    def _put(self, record: logging.LogRecord, *, block: bool) -> None:
        try:
            self.bounded.put(record, block, self.timeout)
        except queue.Full:
            with self._drop_lock:
                self.dropped += 1
                self._unreported += 1

    def _report_drops(self, *, block: bool) -> None:
        """Queue (or, when closing, write) a warning saying how many records were dropped."""
        with self._drop_lock:
            count, self._unreported = self._unreported, 0
        if not count:
            return
        warning = logging.makeLogRecord(
            {
                "name": __name__,
                "levelno": logging.WARNING,
                "levelname": "WARNING",
                "msg": f"dihya-logging: the queue was full, {count} records were dropped",
                "dropped_records": count,
            }
        )
        try:
            if block:
                self._write_directly(warning)
            else:
                self.bounded.put_nowait(warning)
        except queue.Full:
            with self._drop_lock:
                self._unreported += count

    # -- lifecycle ---------------------------------------------------------------------------------
    def flush(self) -> None:
        """Records are written as the writer thread gets them; `close` drains them all."""

    def close(self) -> None:
        """Drain the queue, stop the writer thread, report drops, close the target; idempotent."""
        with self._gate:
            closing, self._closed = not self._closed, True
            if closing and self.listener.running:
                self.listener.stop()  # the writer handles everything queued before it stops
        if closing:
            while True:  # records the writer queued for itself while stopping
                try:
                    self._write_directly(self.bounded.get_nowait())
                except queue.Empty:
                    break
            self._report_drops(block=True)
            try:
                self.target_handler.close()
            except Exception:  # close runs at exit (logging.shutdown): never raise from it
                self.handleError(logging.makeLogRecord({"msg": "closing the log handler"}))
        super().close()

    def _write_directly(self, record: logging.LogRecord) -> None:
        """Write ``record`` in this thread; a target that raises is reported, never raised."""
        try:
            self.target_handler.handle(record)
        except Exception:
            self.target_handler.handleError(record)

    def _reset_after_fork(self) -> None:
        """In a forked child: the parent's thread is gone; start over with an empty queue."""
        self._drop_lock = threading.Lock()
        self._gate = threading.Lock()
        self.bounded = BoundedQueue(self.maxsize)
        self.queue = cast(Any, self.bounded)
        self.listener = AuditQueueListener(self.bounded, self.target_handler)
        self._restart = True  # started by the child's first record, not inside the fork hook


def make_queue_handler(
    target: logging.Handler, maxsize: int = DEFAULT_MAXSIZE, *, timeout: Optional[float] = None
) -> AuditQueueHandler:
    """Put a bounded queue and a writer thread in front of ``target`` (used by `configure`)."""
    return AuditQueueHandler(target, maxsize, timeout=timeout)


def queued_handler(
    target: Any = None,
    *,
    maxsize: int = DEFAULT_MAXSIZE,
    timeout: Optional[float] = None,
    **handler_options: Any,
) -> AuditQueueHandler:
    """dictConfig factory (``"()"``): a queue in front of ``target`` or of a new handler.

    ``target`` is a handler, or a mapping with ``"class"`` (dotted name) and its keyword
    arguments; without it a `GenerationLogHandler` is built from ``handler_options``.
    """
    if isinstance(target, logging.Handler):
        handler = target
    elif isinstance(target, Mapping):
        options = {k: target[k] for k in target if k not in ("class", "()", "formatter")}
        module, _, name = str(target.get("class", target.get("()", ""))).rpartition(".")
        if not module:
            raise ValueError(f"target needs a dotted 'class', got {target!r}")
        factory = getattr(importlib.import_module(module), name)
        handler = factory(**options)
    elif target is None:
        from dihya_logging.sink._handler import GenerationLogHandler

        handler = GenerationLogHandler(**handler_options)
    else:
        raise TypeError(f"target must be a handler or its configuration, got {target!r}")
    return AuditQueueHandler(handler, maxsize, timeout=timeout)
