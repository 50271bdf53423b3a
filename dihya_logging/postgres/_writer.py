"""The background writer of `PostgresLogHandler`: batches from the queue into the table.

One daemon thread per handler (per process). It takes up to ``batch_size`` lines (a small
batch waits up to ``flush_interval`` for more: group commit), inserts them in one transaction
and marks them done. A full queue makes the caller wait while the writer works. When the
database cannot be reached, or rejects a batch, the batch goes to the spill file instead, the
writer backs off exponentially (with jitter, up to ``max_backoff``), and every batch taken
before the next attempt is spilled at once, so memory stays bounded by the queue. When a
connection succeeds again it first replays the spill, then resumes. Record ids make every
retry and replay idempotent: nothing lost, nothing sent twice.
"""

from __future__ import annotations

import contextlib
import queue
import random
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from dihya_logging.postgres._dsn import Location, PostgresError
from dihya_logging.postgres._rows import prepare_row, use_fast_json
from dihya_logging.postgres._schema import ensure_schema, insert_rows
from dihya_logging.postgres._spill import Item, Spill

if TYPE_CHECKING:
    import psycopg

__all__ = ["Writer"]

_FIRST_BACKOFF = 0.25
_WAKE: Item = ("", "")
"""Queued by `Writer.stop` so that a stopping writer does not sit out ``flush_interval``."""
_SPILL_CHECK_EVERY = 5.0
"""Seconds between looks for spilled records left by other processes sharing the spill file."""
_FULL_QUEUE_WAIT = 1.0
"""Seconds a caller waits for room in a full queue before deciding the writer is stuck."""
_GROUP = 100
"""A batch this small waits (up to ``flush_interval``) for more: a commit costs about as much
as inserting 100 rows."""
_GROUP_POLL = 0.01
"""Seconds between looks for more records while a small batch waits."""


class Writer:
    """Drains a handler's queue into PostgreSQL, spilling and replaying across outages."""

    def __init__(
        self,
        location: Location,
        spill: Spill,
        *,
        queue_size: int,
        batch_size: int,
        flush_interval: float,
        max_backoff: float,
        connect_timeout: float,
        create_table: bool,
    ) -> None:
        self.location = location
        self.spill = spill
        self.queue: queue.Queue[Item] = queue.Queue(maxsize=queue_size)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_backoff = max_backoff
        self.connect_timeout = connect_timeout
        self.create_table = create_table
        self.stopping = threading.Event()
        self._hurry = threading.Event()  # flush, stop, a caller waiting: send a small batch now
        self._cond = threading.Condition()
        self._accepted = 0  # records given to this writer (queued or spilled by the caller)
        self._done = 0  # records committed or spilled
        self._conn: Optional[psycopg.Connection[Any]] = None
        self._down = False
        self._stalled = False  # set by a caller that found no room in time; cleared per batch
        self._backoff = 0.0
        self._next_attempt = 0.0
        self._spill_pending = False
        self._next_spill_check = 0.0  # look at once: a previous run may have left records
        self.inserted = 0
        self.spilled = 0
        self.replayed = 0
        self.thread = threading.Thread(
            target=self._run, name=f"dihya-pg-writer[{location.table}]", daemon=True
        )

    # -- caller side -------------------------------------------------------------------------------
    def submit(self, item: Item) -> None:
        """Queue a record (bounded memory, no loss). When the queue is full, wait for room while
        the writer is working (a burst: backpressure, as a disk would give), else spill it now:
        the database is down, or the writer made no room for `_FULL_QUEUE_WAIT` seconds (it is
        stuck; later records spill at once until it completes a batch)."""
        with self._cond:
            self._accepted += 1
        try:
            self.queue.put_nowait(item)
            return
        except queue.Full:
            pass
        waiting_helps = threading.current_thread() is not self.thread  # not a record it logs
        if waiting_helps and not (self._down or self._stalled or self.stopping.is_set()):
            self._hurry.set()  # no partial batch waits for more while callers wait for room
            try:
                self.queue.put(item, timeout=_FULL_QUEUE_WAIT)
                return
            except queue.Full:
                self._stalled = True
        self._spill([item], caller=True)
        self._mark_done(1)

    def wait(self, timeout: float) -> bool:
        """Block until every record submitted so far is committed or spilled."""
        self._hurry.set()  # a partial batch goes now
        with self._cond:
            target = self._accepted
            return self._cond.wait_for(
                lambda: self._done >= target or not self.thread.is_alive(), timeout=timeout
            )

    def _mark_done(self, count: int) -> None:
        with self._cond:
            self._done += count
            self._cond.notify_all()

    def stop(self) -> None:
        """Ask the thread to finish: it drains the queue, tries the spill once more, exits."""
        self.stopping.set()
        self._hurry.set()
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(_WAKE)

    def drain_to_spill(self) -> None:
        """Spill whatever is still queued (used by `close` when the thread did not finish)."""
        items: list[Item] = []
        with contextlib.suppress(queue.Empty):
            while True:
                item = self.queue.get_nowait()
                if item is not _WAKE:
                    items.append(item)
        if items:
            self._spill(items)
            self._mark_done(len(items))

    # -- the thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                batch = self._take()
                stopping = self.stopping.is_set()
                if batch or self._attempt_due():
                    try:
                        self._process(batch)
                    except Exception:  # never let the thread die with records queued
                        self._spill(batch)
                if stopping and not batch and self.queue.empty():
                    self._last_attempt()
                    break
        finally:
            self._disconnect()

    def _last_attempt(self) -> None:
        """On close: send spilled records now if the database answers (backoff ignored)."""
        if self._spill_pending or self.spill.pending():
            self._spill_pending = True
            self._next_attempt = 0.0
            with contextlib.suppress(Exception):
                self._process([])

    def _take(self) -> list[Item]:
        """The next batch: up to ``batch_size`` records. A small batch (under `_GROUP`) waits
        up to ``flush_interval`` for more (group commit: one transaction, one WAL flush for
        many records), unless a caller flushes or waits for room, or the handler closes; a
        busy writer never waits (its batches are big already, and the server keeps busy)."""
        timeout = 0.01 if self.stopping.is_set() else self.flush_interval
        if self._down:
            timeout = max(0.01, min(timeout, self._next_attempt - time.monotonic()))
        batch: list[Item] = []
        try:
            batch.append(self.queue.get(timeout=timeout))
        except queue.Empty:
            return batch
        self._drain(batch)
        if not (self._down or self.stopping.is_set()):
            deadline = time.monotonic() + self.flush_interval
            while len(batch) < min(_GROUP, self.batch_size):
                left = deadline - time.monotonic()
                if left <= 0 or self._hurry.wait(min(_GROUP_POLL, left)):
                    break
                self._drain(batch)
            self._hurry.clear()  # before the last look: a later flush finds it set again
            self._drain(batch)
        return [item for item in batch if item is not _WAKE]

    def _drain(self, batch: list[Item]) -> None:
        with contextlib.suppress(queue.Empty):
            while len(batch) < self.batch_size:
                batch.append(self.queue.get_nowait())

    def _attempt_due(self) -> bool:
        """Whether to connect without new records: to replay spilled ones."""
        now = time.monotonic()
        if not self._spill_pending and now >= self._next_spill_check:
            self._next_spill_check = now + _SPILL_CHECK_EVERY
            self._spill_pending = self.spill.pending()
        return self._spill_pending and (not self._down or now >= self._next_attempt)

    def _process(self, batch: list[Item]) -> None:
        try:
            if self._down and time.monotonic() < self._next_attempt:
                self._spill(batch)
                return
            try:
                conn = self._connect()
                if self._spill_pending:
                    self.replayed += self.spill.replay(
                        lambda items: self._send(conn, items), max(self.batch_size, 1000)
                    )
                    self._spill_pending = False
                    self._next_spill_check = time.monotonic() + _SPILL_CHECK_EVERY
                if batch:
                    self._send(conn, batch)
                    self.inserted += len(batch)
            except Exception as exc:  # psycopg.Error, PostgresError, a spill read error
                self._disconnect()
                self._fail(exc)
                self._spill(batch)
            else:
                self._recover()
        finally:
            self._stalled = False
            self._mark_done(len(batch))

    def _send(self, conn: psycopg.Connection[Any], items: Sequence[Item]) -> None:
        rows = [prepare_row(record_id, line) for record_id, line in items]
        insert_rows(conn, self.location.table, rows)  # one transaction per batch

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        conn = self.location.connect(timeout=self.connect_timeout, autocommit=True)
        try:
            use_fast_json(conn)
            if self.create_table:
                ensure_schema(conn, self.location.table)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _fail(self, exc: BaseException) -> None:
        if not self._down:
            reason = exc if isinstance(exc, PostgresError) else self.location.error("insert", exc)
            _notice(f"{reason}; keeping records in {self.spill.path} and retrying")
        self._down = True
        self._spill_pending = True
        self._backoff = min(self.max_backoff, max(_FIRST_BACKOFF, self._backoff * 2))
        self._next_attempt = time.monotonic() + self._backoff * random.uniform(0.8, 1.2)

    def _recover(self) -> None:
        if self._down:
            _notice(f"PostgreSQL reachable again ({self.location.display}); spilled records sent")
        self._down = False
        self._backoff = 0.0

    def _spill(self, items: Sequence[Item], *, caller: bool = False) -> None:
        if not items:
            return
        self.spill.write(items)
        self.spilled += len(items)
        if caller:
            self._spill_pending = True


def _notice(text: str) -> None:
    """One line on stderr about an outage (the records themselves are safe in the spill)."""
    stream = sys.stderr
    if stream is not None:
        with contextlib.suppress(Exception):
            stream.write(f"dihya-logging: {text}\n")
