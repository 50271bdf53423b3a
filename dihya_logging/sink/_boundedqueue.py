"""`BoundedQueue`: the queue-mode hand-off between callers and one writer thread, made cheap.

Floor 1 (stdlib only). A ``deque`` under one C lock: a ``put`` is a lock pair and an append
(the stdlib ``queue.Queue`` runs a Python ``Condition`` per put and per get); conditions are
used only when the writer is idle or the queue is full. The writer takes records in batches,
and callers blocked on a full queue resume when it is half empty (hysteresis), so the thread
hand-offs happen per batch, not per record.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from time import monotonic
from typing import Any, Optional

__all__ = ["BoundedQueue"]


class BoundedQueue:
    """A bounded multi-producer, single-consumer queue; ``qsize()`` counts what the writer
    holds too, so ``maxsize`` bounds every record not yet written.

    ``put``/``put_nowait``/``get_nowait`` behave like `queue.Queue`'s (raising `queue.Full`
    and `queue.Empty`); `take` is the writer's batched ``get``.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.resume_at = maxsize // 2  # callers waiting for room wake at or below this depth
        self._items: deque[Any] = deque()
        self._mutex = threading.Lock()
        self._has_items = threading.Condition(self._mutex)
        self._has_room = threading.Condition(self._mutex)
        self._in_flight = 0  # taken by the writer, not written yet
        self._idle = False  # the writer waits for records
        self._waiting = 0  # callers waiting for room
        self._stopped = False  # the writer is gone: nobody to wait for

    def qsize(self) -> int:
        """Records queued or being written."""
        return len(self._items) + self._in_flight

    def empty(self) -> bool:
        """Whether nothing is queued or being written."""
        return not self.qsize()

    def put(self, item: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        """Append ``item``; when full, wait (at most ``timeout``) or raise `queue.Full`."""
        with self._mutex:
            if len(self._items) + self._in_flight >= self.maxsize:
                if not block:
                    raise queue.Full
                self._wait_for_room(timeout)
            self._items.append(item)
            if self._idle:
                self._idle = False
                self._has_items.notify()

    def put_nowait(self, item: Any) -> None:
        """`put` without waiting."""
        self.put(item, block=False)

    def _wait_for_room(self, timeout: Optional[float]) -> None:
        """Mutex held: wait until the depth falls to `resume_at` (or, on timeout, below full)."""
        deadline = None if timeout is None else monotonic() + timeout
        self._waiting += 1
        try:
            while len(self._items) + self._in_flight > self.resume_at and not self._stopped:
                if deadline is None:
                    self._has_room.wait()
                    continue
                remaining = deadline - monotonic()
                if remaining <= 0:
                    if len(self._items) + self._in_flight >= self.maxsize:
                        raise queue.Full
                    return
                self._has_room.wait(remaining)
        finally:
            self._waiting -= 1

    def get_nowait(self) -> Any:
        """Remove and return the oldest record, or raise `queue.Empty`."""
        with self._mutex:
            if not self._items:
                raise queue.Empty
            return self._items.popleft()

    def take(self, limit: int) -> list[Any]:
        """The writer's ``get``: mark the previous batch written, wait for records, then
        return up to ``limit`` of them, oldest first (they count in `qsize` until the next
        call)."""
        with self._mutex:
            self._in_flight = 0
            items = self._items
            if self._waiting and len(items) <= self.resume_at:
                self._has_room.notify_all()
            while not items:
                self._idle = True
                self._has_items.wait()
            self._idle = False
            count = min(len(items), limit)
            self._in_flight = count
            popleft = items.popleft
            return [popleft() for _ in range(count)]

    def done(self) -> None:
        """The writer stops: what it took is written; wake every waiting caller (they queue
        their record for whoever drains the queue, and nobody waits any more)."""
        with self._mutex:
            self._in_flight = 0
            self._stopped = True
            self._has_room.notify_all()
