"""`PostgresLogHandler`: the redacting JSON records, batched into a PostgreSQL table.

The caller's thread only formats the record (with `RedactingJsonFormatter` unless another
formatter is set) and queues the line with a fresh record id; a background `Writer` inserts
batches. While the database is unreachable, records go to a local spill file with the file
sink's guarantees and are sent when it returns. ``flush()`` (and so ``logging.shutdown()``)
waits until every record emitted so far is committed or spilled.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import uuid
from typing import Any, Optional, Union

from dihya_logging._logset import PathLike
from dihya_logging._schema import format_timestamp
from dihya_logging.postgres._chain import RowSealer
from dihya_logging.postgres._dsn import resolve_location
from dihya_logging.postgres._spill import Spill, resolve_spill_path
from dihya_logging.postgres._writer import Writer

__all__ = ["PostgresLogHandler"]

_inherited: list[Any] = []
"""Writers (and their connections) inherited across ``fork``: kept alive, never closed, since
closing a libpq connection in the child would end the parent's session."""


def _positive(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return kind(value)


class PostgresLogHandler(logging.Handler):
    """Send JSON records to PostgreSQL off the caller's thread, losing none across outages.

    Arguments (all usable from ``dictConfig`` and from a ``logging.ini``'s ``args``/``kwargs``):

    * ``dsn``: a libpq connection string or ``postgresql://`` URL; default ``$DIHYA_PG_DSN``.
      It is never logged nor shown (``repr`` and errors show it without the password); prefer
      the environment, ``PGPASSWORD`` or ``~/.pgpass`` to a password in a config file.
    * ``table``: the log table, default ``dihya_generation_log`` (or the URL's ``?table=``);
      created with its indexes when missing unless ``create_table=False``.
    * ``spill_path``: the local JSON-lines file used during outages; default
      ``$DIHYA_PG_SPILL`` or ``logs/dihya-pg-spill.log``. Processes may share it.
    * ``batch_size`` (2000), ``flush_interval`` (seconds a small batch waits for more, 0.2),
      ``queue_size`` (records held in memory, 10000; when it is full the caller waits for
      room while the writer works, and spills directly while the database is down or the
      writer has made no room for a second),
      ``max_backoff`` (seconds between reconnection attempts at most, 30),
      ``connect_timeout`` (5), ``close_timeout`` (seconds ``close`` waits for the writer, 30).
    * ``chain`` (False): seal every record into this writer's own hash chain (tamper evidence,
      checked by ``dihya-logs verify postgresql://…``); ``chain_key`` (or ``$DIHYA_CHAIN_KEY``)
      keys the links with HMAC-SHA-256, as for files.
    """

    def __init__(
        self,
        dsn: Optional[str] = None,
        table: Optional[str] = None,
        spill_path: Optional[PathLike] = None,
        *,
        batch_size: int = 2000,
        flush_interval: float = 0.2,
        queue_size: int = 10_000,
        max_backoff: float = 30.0,
        connect_timeout: float = 5.0,
        close_timeout: float = 30.0,
        create_table: bool = True,
        level: int | str = logging.NOTSET,
        chain: bool = False,
        chain_key: Union[str, bytes, None] = None,
    ) -> None:
        super().__init__(level)
        self.location = resolve_location(dsn, table)
        self.table = self.location.table
        self.spill_path = resolve_spill_path(spill_path)
        self._options = {
            "batch_size": _positive("batch_size", batch_size, int),
            "flush_interval": _positive("flush_interval", flush_interval, float),
            "queue_size": _positive("queue_size", queue_size, int),
            "max_backoff": _positive("max_backoff", max_backoff, float),
            "connect_timeout": _positive("connect_timeout", connect_timeout, float),
            "create_table": bool(create_table),
        }
        self.close_timeout = _positive("close_timeout", close_timeout, float)
        self._chain_key = chain_key
        self._sealer = RowSealer(chain_key) if chain else None
        self._closed = False
        self._start()

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        return f"<{type(self).__name__} {self.location.display} table={self.table} ({level})>"

    def _start(self) -> None:
        self._pid = os.getpid()
        # Record ids: a random UUID-4 head (74 random bits) per handler and process, then a
        # counter: unique as uuid4s are, without a urandom call per record.
        self._id_head = str(uuid.uuid4())[:24]
        self._id_count = itertools.count()
        self._start_lock = threading.Lock()
        self._writer = Writer(self.location, Spill(self.spill_path), **self._options)
        self._writer.thread.start()

    def _after_fork(self) -> None:
        """In a forked child: a fresh queue, spill sink and thread; the parent's are left alone."""
        _inherited.append(self._writer)
        if self._sealer is not None:  # the child is another writer: its own chain
            self._sealer = RowSealer(self._chain_key)
        self._start()

    @property
    def writer(self) -> Writer:
        """The background writer (its counters ``inserted``, ``spilled``, ``replayed``)."""
        return self._writer

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line: the configured formatter, else `RedactingJsonFormatter`."""
        if self.formatter is None:
            from dihya_logging.formatter._formatter import RedactingJsonFormatter

            self.formatter = RedactingJsonFormatter()
        line = self.formatter.format(record)
        if not (line.startswith("{") and line.endswith("}")):  # a non-JSON formatter
            stamp = format_timestamp(record.created)
            line = json.dumps({"timestamp": stamp, "message": line}, ensure_ascii=False)
        return line

    def emit(self, record: logging.LogRecord) -> None:
        """Format on the caller's thread, then queue (or, if the queue is full, spill)."""
        try:
            if self._pid != os.getpid():
                self._after_fork()
            line = self.format(record)
            if self._sealer is not None:
                line = self._sealer.seal(line)
            item = (f"{self._id_head}{next(self._id_count):012x}", line)
            if self._closed:  # logged after close (e.g. during shutdown): keep it on disk
                self._writer.spill.write([item])
            else:
                self._writer.submit(item)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Wait until every record emitted so far is committed (or spilled, if the database is
        down); returns after ``close_timeout`` seconds at most."""
        if self._pid == os.getpid() and not self._closed:
            self._writer.wait(self.close_timeout)

    def close(self) -> None:
        """Flush, stop the writer and release the spill file; safe to call twice."""
        self.acquire()
        try:
            if self._closed or self._pid != os.getpid():
                self._closed = True
                return
            self._closed = True
            writer = self._writer
            writer.stop()
            writer.thread.join(self.close_timeout)
            if writer.thread.is_alive():  # stuck on the network: keep the rest on disk
                writer.drain_to_spill()
            writer.spill.close()
        finally:
            self.release()
            super().close()
