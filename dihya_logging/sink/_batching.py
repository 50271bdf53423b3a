"""`BatchAppender`: the handler's batched path, used by queue mode's writer thread.

Floor 3 (a base of `GenerationLogHandler`). A batch of records is formatted, then appended in
order under ONE hold of the thread lock and the set's ``flock`` with as few ``write`` calls as
rotation allows (usually one): whole lines only, never split or interleaved with another
process's; size rotation is checked between records and the chain (if on) seals each record.
A failure sends the records not written yet down the one-record path, as ``emit`` would.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from fcntl import LOCK_EX, LOCK_UN, flock
from os import SEEK_END, lseek, pread
from time import time as _now
from typing import TYPE_CHECKING, Optional

from dihya_logging.sink._wire import sync_data

if TYPE_CHECKING:  # pragma: no cover
    from dihya_logging.chain._sealer import Sealer
    from dihya_logging.sink._livefile import LiveFile

__all__ = ["BatchAppender"]

_Line = tuple[logging.LogRecord, bytes]


class BatchAppender(logging.Handler):
    """Adds `handle_batch` to a file handler that provides the one-record machinery below."""

    wire_encoding: str
    wire_errors: str
    _live: LiveFile
    _sealer: Optional[Sealer]
    _thread_lock: threading.RLock
    _size_limit: float
    _deadline: float
    _sync_every: int
    _asks_subclass: bool
    _unsynced: int
    _batch_done = 0  # records of the current batch written

    if TYPE_CHECKING:  # pragma: no cover - provided by the handler

        def _default_formatter(self) -> logging.Formatter: ...
        def format_line(self, record: logging.LogRecord) -> bytes: ...
        def _append(self, record: logging.LogRecord, data: bytes) -> None: ...
        def _prepare(self, lock_fd: int, now: float, length: int) -> tuple[int, int]: ...
        def _write_at(self, fd: int, size: int, data: bytes) -> None: ...
        def report_rotation_failure(self) -> None: ...

    def handle_batch(self, records: Sequence[logging.LogRecord]) -> None:
        """Filter, format, then append ``records`` in order under one hold of the locks."""
        filtered = bool(self.filters)
        lines: list[_Line] = []
        for record in records:
            if filtered:
                try:
                    verdict: object = self.filter(record)
                except Exception:  # no caller to raise to: report it, write the others
                    self.handleError(record)
                    continue
                if not verdict:
                    continue
                if isinstance(verdict, logging.LogRecord):  # Python 3.12+: a replacement
                    record = verdict
            try:
                lines.append((record, self.format_line(record)))
            except Exception:
                self.handleError(record)
        if lines:
            with self._thread_lock:
                self._append_lines(lines)

    def _append_lines(self, lines: list[_Line]) -> None:
        """Thread lock held: append ``lines``; on failure the rest go one by one."""
        live = self._live
        if self._asks_subclass:  # a subclass's shouldRollover is asked record by record
            for record, data in lines:
                self._append(record, data)
            return
        if live.lock_fd is None or live.fd is None:  # open what is missing with one record
            self._append(*lines[0])
            del lines[0]
        done = 0
        lock_fd, fd = live.lock_fd, live.fd
        if lock_fd is not None and fd is not None and lines:
            self._batch_done = 0
            try:
                fd = self._write_batch(lock_fd, fd, lines)
                done = self._batch_done
                self.report_rotation_failure()
                if fd < 0:  # the lock file was replaced: the one-record path locks the new one
                    live.forget()
                elif self._sync_every:
                    self._unsynced += done
                    if self._unsynced >= self._sync_every:
                        self._unsynced = 0
                        sync_data(fd)  # outside the cross-process lock: others go on
            except Exception:
                done = self._batch_done
                live.forget()
                if done >= len(lines):  # all written, then a sync failed: only reportable
                    self.handleError(lines[-1][0])
        for record, data in lines[done:]:
            self._append(record, data)

    def _write_batch(self, lock_fd: int, fd: int, lines: list[_Line]) -> int:
        """Append ``lines`` under one ``flock``; `_batch_done` counts the records written.

        Returns the live file's descriptor (-1: the lock file was replaced).
        """
        live, sealer, limit = self._live, self._sealer, self._size_limit
        flock(lock_fd, LOCK_EX)
        try:
            now = _now()
            if now < self._deadline and pread(lock_fd, 8, 0) == live.change_count:
                size = lseek(fd, 0, SEEK_END)
            else:
                fd, size = self._prepare(lock_fd, now, len(lines[0][1]))
            chunk: list[bytes] = []
            pending = 0  # bytes in `chunk`
            for index, (_record, data) in enumerate(lines):
                if fd < 0:
                    return fd
                if size + pending + len(data) >= limit:  # write what fits, then maybe rotate
                    if chunk:
                        live.write(fd, size, b"".join(chunk))
                        self._batch_done, size, chunk, pending = index, live.clean_end, [], 0
                    fd, size = self._prepare(lock_fd, now, len(data))
                    if fd < 0:
                        return fd
                if sealer is None:
                    chunk.append(data)
                    pending += len(data)
                else:  # each record sealed against the one before it, as it is written
                    self._write_at(fd, size, data)
                    self._batch_done, size = index + 1, live.clean_end
            if chunk:
                live.write(fd, size, b"".join(chunk))
                self._batch_done = len(lines)
            return fd
        finally:
            flock(lock_fd, LOCK_UN)
