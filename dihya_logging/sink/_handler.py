"""`GenerationLogHandler`: the rotating JSON-lines sink that loses no line across processes.

Floor 3. Each record is formatted once (outside any lock), encoded once and appended with one
``write`` to a private ``O_APPEND`` file while the log set's ``flock`` is held, so any number
of processes can write and rotate one log without losing, duplicating or splitting a line.
The rotation policy (periods, shifting, pruning) lives in `dihya_logging.sink._rotation`.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import sys
import threading
from fcntl import LOCK_EX, LOCK_UN, flock
from os import SEEK_END, lseek, pread
from time import time as _now
from typing import TYPE_CHECKING, Any, Callable, Final, Optional, Union, cast

from dihya_logging._logset import DEFAULT_FILE_MODE, LogSet, PathLike, bump_change_count
from dihya_logging.formatter._cleanmark import CLEAN_FIELDS_ATTR, CleanFields
from dihya_logging.sink._batching import BatchAppender
from dihya_logging.sink._livefile import LiveFile
from dihya_logging.sink._rotation import Rotator, TimeSchedule
from dihya_logging.sink._wire import FSYNC_POLICIES, JSON_ESCAPE, FsyncPolicy, fsync_settings

_LineMaker = Callable[[logging.LogRecord, str, bool], bytes]
_FILTER_RETURNS_RECORD: Final = sys.version_info >= (3, 12)  # Filterer.filter's verdict

if TYPE_CHECKING:  # pragma: no cover
    from dihya_logging.chain._sealer import Sealer

__all__ = ["ENV_CHAIN_KEY", "FSYNC_POLICIES", "JSON_ESCAPE", "FsyncPolicy", "GenerationLogHandler"]

ENV_CHAIN_KEY: Final = "DIHYA_CHAIN_KEY"

_sync_data = getattr(os, "fdatasync", os.fsync)


class GenerationLogHandler(BatchAppender):
    """A drop-in for `RotatingFileHandler` that is safe across processes, private and durable.

    Accepts ``RotatingFileHandler``'s arguments (``filename, mode, maxBytes, backupCount,
    encoding, delay, errors``) so swapping the class in a dictConfig or ``logging.ini`` works;
    creates missing directories. The log is UTF-8 JSON lines whatever ``encoding`` says: another
    ASCII-compatible codec gets pure ASCII with JSON ``\\uXXXX`` escapes (valid in both), and
    one that cannot write a line end as one byte (UTF-16, a BOM) is refused. Keyword options:

    * ``when``/``interval``: time rotation like `TimedRotatingFileHandler` (``S``, ``M``, ``H``,
      ``D``, ``midnight``, ``W0``-``W6``), in UTC, aligned to the epoch and agreed by every
      process; combinable with ``maxBytes``.
    * ``backupCount``: backups to keep. **0 keeps every backup** (the stdlib does not rotate
      at all with 0; an audit log never deletes silently). ``retention_days`` deletes backups
      whose newest record is older; checked at each rotation and at the first write.
    * ``compress``: gzip rotated files (``.1.gz``); a ``.gz`` only ever appears complete.
    * ``file_mode`` (default ``0o600`` whatever the umask); directories it creates are
      ``0o700``; a symlink at the log path is refused, never followed.
    * ``fsync`` — what a record survives, and what it costs:

      - ``"never"``: a record is in the kernel when ``emit`` returns (one unbuffered write), so
        a process crash (``kill -9``, OOM) loses nothing; a power loss or kernel crash may lose
        what the kernel had not written back yet (typically the last 5-30 s). No cost.
      - ``"rotate"`` (**default**): as ``"never"``, and no rotation ever puts data that reached
        the disk at risk: a compressed backup is fsynced (with its directory) before the file
        it replaces is removed, and the live file is fsynced at ``close()``. A plain rotation
        is a rename and needs no sync. Costs one fsync of the ``.gz`` per compressing rotation
        and one at close, nothing per record: the safety worth having by default.
      - ``"always"``: ``fdatasync`` after every record (outside the cross-process lock): every
        record ``emit`` returned for survives a power loss, for one disk flush per record
        (0.1-10 ms: tens to thousands of times the cost of the write).
      - an int ``N``: ``fdatasync`` every N records of this handler, bounding that loss to N.
    * ``chain``/``chain_key``: seal each line into the tamper-evidence chain (`integrity`); the
      HMAC key comes from ``chain_key`` or ``$DIHYA_CHAIN_KEY`` (none: an unkeyed hash chain).

    ``mode="w"`` never truncates: a non-empty log is rotated into the backups at the first
    write, so the handler still starts a fresh file. Failures (full disk, ``EFBIG``, removed
    directory, symlink) go to `handleError`, the application goes on, and the next record
    retries from scratch, so the handler recovers by itself when the cause goes away.
    """

    def __init__(
        self,
        filename: PathLike,
        mode: str = "a",
        maxBytes: int = 0,
        backupCount: int = 0,
        encoding: Optional[str] = "utf-8",
        delay: bool = False,
        errors: Optional[str] = None,
        *,
        when: Optional[str] = None,
        interval: int = 1,
        compress: bool = False,
        retention_days: Optional[float] = None,
        file_mode: int = DEFAULT_FILE_MODE,
        fsync: FsyncPolicy = "rotate",
        chain: bool = False,
        chain_key: Union[str, bytes, None] = None,
    ) -> None:
        super().__init__()
        if not isinstance(mode, str) or mode[:1] not in ("a", "w"):
            raise ValueError(f"mode must be 'a' or 'w', got {mode!r}")
        if isinstance(maxBytes, bool) or not isinstance(maxBytes, int) or maxBytes < 0:
            raise ValueError(f"maxBytes must be an integer >= 0, got {maxBytes!r}")
        if isinstance(file_mode, bool) or not isinstance(file_mode, int) or file_mode & ~0o777:
            raise ValueError(f"file_mode must be permission bits like 0o600, got {file_mode!r}")
        self.log_set = LogSet(filename)
        self.log_path = self.log_set.path
        self.baseFilename = str(self.log_path)
        self.mode = mode
        self.maxBytes = maxBytes
        self.backupCount = backupCount
        self.delay = delay
        self.encoding = encoding or "utf-8"
        if "{}\n".encode(self.encoding) != b"{}\n":  # an unknown codec fails here too
            raise ValueError(
                f"encoding must write ASCII as ASCII (one byte per line end, no BOM) or no "
                f"reader can split the log into lines; got {encoding!r} (use 'utf-8')"
            )
        self.errors = errors or JSON_ESCAPE
        # any other codec writes ASCII with JSON escapes: valid in it *and* in UTF-8 (readers)
        utf8 = codecs.lookup(self.encoding).name == "utf-8"
        self.wire_encoding = "utf-8" if utf8 else "ascii"
        self.wire_errors = self.errors if utf8 else JSON_ESCAPE
        self.compress = bool(compress)
        self.retention_days = retention_days
        self.file_mode = file_mode
        self.fsync = fsync
        self._sync_every, self._sync_on_rotate = fsync_settings(fsync)
        self._schedule = TimeSchedule(when, interval) if when else None
        self._sealer: Optional[Sealer] = self._make_sealer(chain_key) if chain else None
        self._rotator = Rotator(
            self.log_set,
            backup_count=backupCount,
            retention_days=retention_days,
            compress=self.compress,
            file_mode=file_mode,
            sync=self._sync_on_rotate,
            before_prune=self._sealer.before_prune if self._sealer is not None else None,
        )
        self._live = LiveFile(self.log_set, file_mode)
        self._thread_lock = cast(threading.RLock, self.lock)
        cls = type(self)  # our own dispatch: no subclass code runs before the formatter
        self._stock = cls.handle is GenerationLogHandler.handle and cls.emit is _EMIT
        self._line_maker: tuple[Optional[logging.Formatter], Optional[_LineMaker]] = (None, None)
        self._size_limit = float(maxBytes) if maxBytes else float("inf")
        self._boundary = 0.0 if self._schedule is not None else float("inf")  # next period
        self._deadline = 0.0  # min(next path check, next period): one comparison per record
        self._period_key: Optional[tuple[int, int]] = None  # the live file `_file_period` dates
        self._file_period = 0
        self._unsynced = 0
        self._started = False
        if not delay:
            with contextlib.suppress(OSError):  # reported by the first emit, which retries
                self._live.open()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.baseFilename} ({logging.getLevelName(self.level)})>"

    def _make_sealer(self, chain_key: Union[str, bytes, None]) -> Sealer:
        from dihya_logging.chain._sealer import Sealer

        key = chain_key if chain_key is not None else os.environ.get(ENV_CHAIN_KEY) or None
        return Sealer(self.log_set, key)

    # -- the hot path ------------------------------------------------------------------------------
    def handle(self, record: logging.LogRecord) -> bool:
        """Filter, then `emit` (which formats outside the lock); returns what the filters said."""
        if not self.filters:  # the usual case: nothing to ask (the verdict is the stdlib's)
            self.emit(record)
            return record if _FILTER_RETURNS_RECORD else True  # type: ignore[return-value]
        verdict: object = self.filter(record)
        if isinstance(verdict, logging.LogRecord):  # Python 3.12+: a filter may replace it
            record = verdict
        if verdict:
            self.emit(record)
        return verdict  # type: ignore[return-value]

    def emit(self, record: logging.LogRecord) -> None:
        """Format once, then append one whole line under the locks; failures go to `handleError`.

        Besides the write, the common case costs one ``flock`` pair, one ``pread`` of the set's
        change count (it moves whenever a rotation or a purge changes the live file) and one
        ``lseek`` for the size. The log path itself is checked when the change count moved, at
        a period boundary and every `recheck_interval` seconds.
        """
        try:
            data = self.format_line(record)
        except Exception:
            self.handleError(record)
            return
        self._append(record, data)

    def _append(self, record: logging.LogRecord, data: bytes) -> None:
        """Append one encoded line under the locks; a failure goes to `handleError`."""
        live = self._live
        with self._thread_lock:
            try:
                lock_fd, fd = live.lock_fd, live.fd
                if lock_fd is None or fd is None:
                    fd = self._append_slow(data)
                else:
                    flock(lock_fd, LOCK_EX)
                    try:
                        now = _now()
                        if now < self._deadline and pread(lock_fd, 8, 0) == live.change_count:
                            size = lseek(fd, 0, SEEK_END)
                            if size + len(data) > self._size_limit:
                                fd, size = self._prepare(lock_fd, now, len(data))
                        else:
                            fd, size = self._prepare(lock_fd, now, len(data))
                        if fd >= 0:
                            if self._sealer is None:
                                live.write(fd, size, data)
                            else:
                                self._write_at(fd, size, data)
                    finally:
                        flock(lock_fd, LOCK_UN)
                    if fd < 0:  # the lock file was replaced: lock the new one
                        live.forget()
                        fd = self._append_slow(data)
                if self._sync_every:
                    self._unsynced += 1
                    if self._unsynced >= self._sync_every:
                        self._unsynced = 0
                        _sync_data(fd)  # outside the cross-process lock: others go on
            except Exception:
                live.forget()
                self.handleError(record)

    def _write_at(self, fd: int, size: int, data: bytes) -> None:
        """Lock held: seal (chain on) and append ``data`` to the live file of ``size`` bytes."""
        live = self._live
        if self._sealer is not None:  # seals the bytes written, as is
            data = self._sealer.seal_bytes(data, fd, size, size == live.clean_end)
        live.write(fd, size, data)

    def _append_slow(self, data: bytes) -> int:
        """Open what is missing, take the lock and write; retried if the lock file moves.

        Returns the live file's descriptor.
        """
        live = self._live
        for _attempt in range(3):
            lock_fd = live.lock_fd if live.lock_fd is not None else live.open_lock()
            flock(lock_fd, LOCK_EX)
            try:
                fd, size = self._prepare(lock_fd, _now(), len(data))
                if fd >= 0:
                    self._write_at(fd, size, data)
            finally:
                flock(lock_fd, LOCK_UN)
            if fd >= 0:
                return fd
            live.forget()  # the lock file was replaced (directory removed): lock the new one
        raise OSError(f"the lock file {self.log_set.lock_path} keeps being replaced")

    def format_line(self, record: logging.LogRecord) -> bytes:
        """The record as one encoded line, newline included (what `emit` appends)."""
        formatter = self.formatter or self._default_formatter()
        known, line = self._line_maker
        if formatter is not known:  # a new formatter: does it write UTF-8 lines itself?
            line = None
            if self.wire_encoding == "utf-8":
                from dihya_logging.formatter._formatter import RedactingJsonFormatter

                if isinstance(formatter, RedactingJsonFormatter):
                    line = formatter.format_line  # orjson's bytes as they are, on the fast path
            self._line_maker = (formatter, line)
        if line is not None:
            mark = record.__dict__.get(CLEAN_FIELDS_ATTR)
            untouched = (  # straight from log_event: nothing could edit the record since
                type(mark) is CleanFields
                and mark.first is self
                and self._stock
                and not self.filters
            )
            return line(record, self.wire_errors, untouched)
        return (formatter.format(record) + "\n").encode(self.wire_encoding, self.wire_errors)

    def _default_formatter(self) -> logging.Formatter:
        from dihya_logging.formatter._formatter import RedactingJsonFormatter

        self.formatter = RedactingJsonFormatter()
        return self.formatter

    # -- the slow path: follow the live file, rotate ---------------------------------------------
    def _prepare(self, lock_fd: int, now: float, length: int) -> tuple[int, int]:
        """Lock held: make sure we hold the live file, rotate if due; ``(fd, size)``.

        Returns ``(-1, 0)`` when the lock file itself was replaced (directory removed).
        """
        live = self._live
        change_count = pread(lock_fd, 8, 0)
        # a file deleted while the change count stood still was deleted outside the protocol
        if not live.follow(now, rescue=change_count == live.change_count):
            return -1, 0
        live.change_count = change_count
        st = os.fstat(cast(int, live.fd))
        if not self._started:
            self._started = True
            if self.mode.startswith("w") and st.st_size:
                st = self._rotate(lock_fd, now)
            elif self.retention_days is not None:
                self._rotator._prune_backups()
            self._rotator.remove_leftovers()  # a crashed compressing rotation, whoever ran it
        size = st.st_size
        if (self.maxBytes and size and size + length > self.maxBytes) or (
            self._schedule is not None
            and (now >= self._boundary or self._period_key != (st.st_dev, st.st_ino))
            and self._period_due(st, now)
        ):
            st = self._rotate(lock_fd, now)
            size = 0
        self._deadline = min(live.recheck_at, self._boundary)
        return cast(int, live.fd), size

    def _period_due(self, st: os.stat_result, now: float) -> bool:
        """Whether the (non-empty) live file belongs to an earlier period than ``now``."""
        schedule = cast(TimeSchedule, self._schedule)
        key, state = (st.st_dev, st.st_ino), self.log_set.rotation_state_path
        if self._period_key != key:
            period = schedule.read_period(state, st)
            if period is None:  # a file nobody dated yet: date it once, for every process
                period = schedule.period(st.st_mtime if st.st_size else now)
                schedule.write_period(state, st, period, self.file_mode)
            self._file_period, self._period_key = period, key
        current = schedule.period(now)
        if current > self._file_period:
            if st.st_size:
                return True
            schedule.write_period(state, st, current, self.file_mode)  # empty: just re-date it
            self._file_period = current
        self._boundary = schedule.start(self._file_period + 1)
        return False

    def _rotate(self, lock_fd: int, now: float) -> os.stat_result:
        """Lock held: rotate, open the fresh live file, tell every writer (change count)."""
        live = self._live

        def moved() -> None:  # a crash from here on must not leave writers on the old file
            live.change_count = bump_change_count(lock_fd)

        self._rotator.rotate(cast(int, live.fd), moved)
        st = live.open()
        live.change_count = bump_change_count(lock_fd)
        schedule = self._schedule
        if schedule is not None:
            period = schedule.period(now)
            schedule.write_period(self.log_set.rotation_state_path, st, period, self.file_mode)
            self._file_period, self._period_key = period, (st.st_dev, st.st_ino)
            self._boundary = schedule.start(period + 1)
        if self._sealer is not None:
            self._sealer.after_rotation()
        return st

    # -- lifecycle ---------------------------------------------------------------------------------
    def flush(self) -> None:
        """Nothing to flush: every record reached the kernel before `emit` returned."""

    def close(self) -> None:
        """Sync per the fsync policy and release the files; safe to call twice."""
        with self._thread_lock:
            if self._live.fd is not None and self._sync_on_rotate:
                with contextlib.suppress(OSError):
                    os.fsync(self._live.fd)
            self._live.forget()
            if self._sealer is not None:
                with contextlib.suppress(Exception):
                    self._sealer.close()
        super().close()

    def __getstate__(self) -> Any:  # pragma: no cover - handlers are not meant to be pickled
        raise TypeError(f"{type(self).__name__} cannot be pickled")


_EMIT: Final = GenerationLogHandler.emit
