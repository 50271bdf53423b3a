"""`GenerationLogHandler`: the rotating JSON-lines sink that loses no line across processes.

Floor 3. Each record is formatted once (outside any lock), encoded once and appended with one
``write`` to a private ``O_APPEND`` file while the log set's ``flock`` is held, so any number
of processes can write and rotate one log without losing, duplicating or splitting a line.
The rotation policy (periods, shifting, pruning) lives in `dihya_logging.sink._rotation`.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import logging
import logging.handlers
import os
import stat
import sys
import threading
from fcntl import LOCK_EX, LOCK_UN, flock
from os import SEEK_END, lseek, pread
from time import time as _now
from typing import TYPE_CHECKING, Any, Final, Optional, TextIO, Union, cast

from dihya_logging._logset import DEFAULT_FILE_MODE, LogSet, PathLike, bump_change_count
from dihya_logging.formatter._formatter import RedactingJsonFormatter
from dihya_logging.sink._batching import BatchAppender
from dihya_logging.sink._livefile import LiveFile
from dihya_logging.sink._rotation import Namer, Rotator, TimeSchedule
from dihya_logging.sink._wire import (
    FSYNC_POLICIES,
    JSON_ESCAPE,
    FsyncPolicy,
    fsync_settings,
    sync_data,
)

_FILTER_RETURNS_RECORD: Final = sys.version_info >= (3, 12)  # Filterer.filter's verdict

if TYPE_CHECKING:  # pragma: no cover
    from dihya_logging.chain._sealer import Sealer

__all__ = ["ENV_CHAIN_KEY", "FSYNC_POLICIES", "JSON_ESCAPE", "FsyncPolicy", "GenerationLogHandler"]

ENV_CHAIN_KEY: Final = "DIHYA_CHAIN_KEY"


class GenerationLogHandler(BatchAppender, logging.handlers.BaseRotatingHandler):
    """A drop-in for `RotatingFileHandler` and `TimedRotatingFileHandler` that is safe across
    processes, private and durable.

    A `logging.handlers.BaseRotatingHandler` (so a `logging.FileHandler`): accepts
    ``RotatingFileHandler``'s arguments (``filename, mode, maxBytes, backupCount, encoding,
    delay, errors``) and ``TimedRotatingFileHandler``'s as keywords (``when``, ``interval``,
    ``utc``, ``atTime``), so swapping the class in a dictConfig or ``logging.ini`` works; and
    honours the stdlib's ``namer``/``rotator`` (attributes, dictConfig ``"."`` or subclass
    methods), ``rotation_filename``, ``rotate``, ``shouldRollover``, ``doRollover``,
    ``computeRollover``, ``stream`` and ``terminator``. Rotation runs while the log set's
    cross-process lock is held, so ``rotator(source, dest)`` does too; the lock also makes one
    process rotate per size crossing or period, for every process writing the log.

    Where it differs from the stdlib handlers, on purpose:

    * **JSON lines**: with no formatter set, records are written by `RedactingJsonFormatter`.
    * **Private files**: created ``0o600`` (``file_mode``) whatever the umask, directories it
      creates ``0o700``; a symlink at the log path is refused, never followed.
    * **Sidecars**: ``<log>.lock`` (the cross-process lock) and, with time rotation,
      ``<log>.rotation`` (the live file's period, shared by every process) sit beside the log.
    * **backupCount=0 keeps every backup** (the stdlib does not rotate at all with 0: an audit
      log never deletes silently). ``retention_days`` deletes backups whose newest record is
      older; checked at each rotation and at the first write.
    * **Nothing is truncated**: ``mode="w"`` rotates a non-empty log into the backups at the
      first write (still a fresh file), and a record emitted after ``close()`` is appended.
    * **An empty file is never rotated** (as CPython 3.13 does): a file rotates before the
      record that would bring it to ``maxBytes`` (``size + len(line) >= maxBytes``), unless
      it is empty.
    * **Time rotation is UTC** (``utc=False`` is refused) and numbered: backups are
      ``<log>.1``, ``<log>.2``, ... as with size rotation, not date-stamped. ``midnight`` and
      ``W0``-``W6`` rotate when the stdlib does (``atTime`` included); ``S``/``M``/``H``/``D``
      periods start on whole units since the epoch (on the hour for ``H``), so every process
      computes the same boundaries.
    * **UTF-8**: whatever ``encoding`` says, another ASCII-compatible codec gets pure ASCII
      with JSON ``\\uXXXX`` escapes (valid in both); one that cannot write a line end as one
      byte (UTF-16, a BOM) is refused. ``terminator`` must end with ``"\\n"`` (with
      ``chain``: be ``"\\n"``).
    * **stream** is a text view of the live file for code that reads it (``name``, ``flush``,
      ``fileno``); records never go through it, and writing to it bypasses the lock.
    * **Custom names**: with a ``namer`` the backups get its names, but the store, ``verify``
      and purges only know ``<log>.N`` and ``<log>.N.gz``.
    * **Subclass hooks**: a subclass's ``shouldRollover`` can add rotations (it is asked under
      the lock for every record); the size and period rules always apply too. ``doRollover``
      runs for every rotation, with the lock held.

    Keyword options of its own:

    * ``compress``: gzip rotated files (``<log>.1.gz``, the default name `rotation_filename`
      is given); a ``.gz`` only ever appears complete. A ``rotator`` replaces it.
    * ``fsync`` — what a record survives, and what it costs:

      - ``"never"``: a record is in the kernel when ``emit`` returns (one unbuffered write), so
        a process crash (``kill -9``, OOM) loses nothing; a power loss or kernel crash may lose
        what the kernel had not written back yet (typically the last 5-30 s). No cost.
      - ``"rotate"`` (**default**): as ``"never"``, and no rotation ever puts data that reached
        the disk at risk: a compressed backup is fsynced (with its directory) before the file
        it replaces is removed, and the live file is fsynced at ``close()``. Costs one fsync
        of the ``.gz`` per compressing rotation and one at close, nothing per record.
      - ``"always"``: ``fdatasync`` after every record (outside the cross-process lock): every
        record ``emit`` returned for survives a power loss, for one disk flush per record.
      - an int ``N``: ``fdatasync`` every N records of this handler, bounding that loss to N.
    * ``chain``/``chain_key``: seal each line into the tamper-evidence chain; the HMAC key
      comes from ``chain_key`` or ``$DIHYA_CHAIN_KEY`` (none: an unkeyed hash chain).

    Failures (full disk, ``EFBIG``, removed directory, symlink, a failing ``rotator``) go to
    `handleError`, the application goes on, and the next record retries from scratch, so the
    handler recovers by itself when the cause goes away.
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
        utc: bool = True,
        atTime: Optional[datetime.time] = None,
        compress: bool = False,
        retention_days: Optional[float] = None,
        file_mode: int = DEFAULT_FILE_MODE,
        fsync: FsyncPolicy = "rotate",
        chain: bool = False,
        chain_key: Union[str, bytes, None] = None,
    ) -> None:
        logging.Handler.__init__(self)  # the files are ours: FileHandler would open its own
        if not isinstance(mode, str) or mode[:1] not in ("a", "w"):
            raise ValueError(f"mode must be 'a' or 'w', got {mode!r}")
        if isinstance(maxBytes, bool) or not isinstance(maxBytes, int) or maxBytes < 0:
            raise ValueError(f"maxBytes must be an integer >= 0, got {maxBytes!r}")
        if isinstance(file_mode, bool) or not isinstance(file_mode, int) or file_mode & ~0o777:
            raise ValueError(f"file_mode must be permission bits like 0o600, got {file_mode!r}")
        if not utc:
            raise ValueError(
                "utc=False: GenerationLogHandler rotates in UTC only (every process must agree "
                "on the boundaries, and the records' timestamps are UTC); drop utc"
            )
        self.log_set = LogSet(filename)
        self.log_path = self.log_set.path
        self.baseFilename = str(self.log_path)
        self.mode = mode
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
        self._schedule = TimeSchedule(when, interval, atTime) if when else None
        self.utc = True
        self.atTime = atTime
        self.when = self._schedule.when if self._schedule is not None else None
        self.interval = int(self._schedule.length) if self._schedule is not None else interval
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
        cls = type(self)
        self._asks_subclass = cls.shouldRollover is not GenerationLogHandler.shouldRollover
        self._line_maker: tuple[Optional[logging.Formatter], bool] = (None, False)
        self._terminator: tuple[str, bytes] = ("\n", b"\n")
        self._held_lock: Optional[int] = None  # the lock descriptor while we hold the flock
        self._rotation_failure: Optional[Exception] = None  # raised once the record is written
        self.maxBytes = maxBytes  # sets `_size_limit`
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

    @property
    def maxBytes(self) -> int:
        """The size at which the log rotates (0: never by size); may be changed at any time."""
        return self._max_bytes

    @maxBytes.setter
    def maxBytes(self, value: int) -> None:
        self._max_bytes = value
        self._size_limit = float(value) if value else float("inf")  # one float comparison

    @property
    def recheck_interval(self) -> float:
        """Seconds between checks of the log path for changes made outside the lock protocol
        (``rm -r`` of the directory); setting it makes the next record check the path."""
        return self._live.recheck_interval

    @recheck_interval.setter
    def recheck_interval(self, seconds: float) -> None:
        self._live.recheck_interval = seconds
        self._live.recheck_at = self._deadline = 0.0

    def _make_sealer(self, chain_key: Union[str, bytes, None]) -> Sealer:
        from dihya_logging.chain._sealer import Sealer

        key = chain_key if chain_key is not None else os.environ.get(ENV_CHAIN_KEY) or None
        return Sealer(self.log_set, key)

    # -- the stdlib's file-handler surface -------------------------------------------------------
    @property  # type: ignore[override]
    def stream(self) -> Optional[TextIO]:
        """A text view of the live file (None before the first write with ``delay``)."""
        return self._live.view(self.wire_encoding, self.wire_errors)

    @stream.setter
    def stream(self, value: Optional[TextIO]) -> None:
        if value is not None:
            raise ValueError(f"{type(self).__name__}.stream is its live file: it cannot be set")
        self._live.close_view()

    def setStream(self, stream: Any) -> Any:
        """Refused: the handler writes its own live file, under the cross-process lock."""
        raise ValueError(f"{type(self).__name__} writes its own file; setStream is not supported")

    def rotation_filename(self, default_name: str) -> str:
        """The name of a backup: ``namer(default_name)`` if a namer is set (the stdlib's rule).

        The default names are ``<log>.N``, or ``<log>.N.gz`` with ``compress``.
        """
        return super().rotation_filename(default_name)

    def rotate(self, source: str, dest: str) -> None:
        """Move the live file ``source`` to backup ``dest``: ``rotator(source, dest)`` if one
        is set, else a rename (gzipping into ``dest`` with ``compress``). Runs under the lock."""
        if callable(self.rotator):
            self.rotator(source, dest)
        elif os.path.exists(source):
            self._rotator.move(source, dest)

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        """Whether writing ``record`` now would rotate the log first (size or period).

        A snapshot for callers: `emit` decides again under the cross-process lock. A file that
        is empty, missing or not a regular file (a device, a symlink) never rotates.
        """
        try:
            st = os.lstat(self.baseFilename)
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode) or not st.st_size:
            return False
        if self.maxBytes and st.st_size + len(self.format_line(record)) >= self.maxBytes:
            return True
        schedule = self._schedule
        if schedule is None:
            return False
        period = schedule.read_period(self.log_set.rotation_state_path, st)
        if period is None:
            period = schedule.period(st.st_mtime)
        return schedule.period(_now()) > period

    def computeRollover(self, currentTime: float) -> float:
        """The time of the first rotation after ``currentTime`` (time rotation, UTC)."""
        if self._schedule is None:
            raise ValueError("computeRollover needs time rotation (when=...)")
        return self._schedule.start(self._schedule.period(currentTime) + 1)

    def doRollover(self) -> None:
        """Rotate now, whatever the size or the period, under the set's cross-process lock."""
        with self._thread_lock:
            held = self._held_lock
            if held is not None:  # called by our own rotation, lock held: move the files
                self._live.change_count = bump_change_count(held)  # no writer stays behind
                self._rotator.rotate(self.rotate, self._namer())
                return
            live = self._live
            for _attempt in range(3):
                lock_fd = live.lock_fd if live.lock_fd is not None else live.open_lock()
                flock(lock_fd, LOCK_EX)
                try:
                    now = _now()
                    if self._hold(lock_fd, now) is not None:
                        self._rotate(lock_fd, now)
                        self._deadline = min(live.recheck_at, self._boundary)
                        self.report_rotation_failure()
                        return
                finally:
                    flock(lock_fd, LOCK_UN)
                live.forget()  # the lock file was replaced (directory removed): lock the new one
            raise OSError(f"the lock file {self.log_set.lock_path} keeps being replaced")

    def _namer(self) -> Optional[Namer]:
        """Backup names through `rotation_filename` when a namer (or an override) is set."""
        if not callable(self.namer) and (
            type(self).rotation_filename is GenerationLogHandler.rotation_filename
        ):
            return None  # the set's own names: listed with their gaps and compression
        base, suffix = self.baseFilename, ".gz" if self.compress else ""
        return lambda index: self.rotation_filename(f"{base}.{index}{suffix}")

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
                if lock_fd is None or fd is None or self._asks_subclass:
                    fd = self._append_slow(record, data)
                else:
                    flock(lock_fd, LOCK_EX)
                    try:
                        now = _now()
                        if now < self._deadline and pread(lock_fd, 8, 0) == live.change_count:
                            size = lseek(fd, 0, SEEK_END)
                            if size + len(data) >= self._size_limit:
                                fd, size = self._prepare(lock_fd, now, len(data))
                        else:
                            fd, size = self._prepare(lock_fd, now, len(data))
                        if fd >= 0:
                            self._write_at(fd, size, data)
                    finally:
                        flock(lock_fd, LOCK_UN)
                    if self._rotation_failure is not None:
                        self.report_rotation_failure()
                    if fd < 0:  # the lock file was replaced: lock the new one
                        live.forget()
                        fd = self._append_slow(record, data)
                if self._sync_every:
                    self._unsynced += 1
                    if self._unsynced >= self._sync_every:
                        self._unsynced = 0
                        sync_data(fd)  # outside the cross-process lock: others go on
            except Exception:
                live.forget()
                self.handleError(record)

    def report_rotation_failure(self) -> None:
        """Raise the error of a rotation that failed while the record was written anyway."""
        failure, self._rotation_failure = self._rotation_failure, None
        if failure is not None:
            raise failure

    def _write_at(self, fd: int, size: int, data: bytes) -> None:
        """Lock held: seal (chain on) and append ``data`` to the live file of ``size`` bytes."""
        live = self._live
        if self._sealer is not None:  # seals the bytes written, as is
            data = self._sealer.seal_bytes(data, fd, size, size == live.clean_end)
        live.write(fd, size, data)

    def _append_slow(self, record: logging.LogRecord, data: bytes) -> int:
        """Open what is missing, take the lock, ask a subclass's `shouldRollover`, and write;
        retried if the lock file moves. Returns the live file's descriptor."""
        live = self._live
        for _attempt in range(3):
            lock_fd = live.lock_fd if live.lock_fd is not None else live.open_lock()
            flock(lock_fd, LOCK_EX)
            try:
                now = _now()
                fd, size = self._prepare(lock_fd, now, len(data))
                if fd >= 0 and self._asks_subclass and self.shouldRollover(record):
                    self._rotate(lock_fd, now)
                    fd, size = cast(int, live.fd), 0
                if fd >= 0:
                    self._write_at(fd, size, data)
            finally:
                flock(lock_fd, LOCK_UN)
            if fd >= 0:
                self.report_rotation_failure()
                return fd
            live.forget()  # the lock file was replaced (directory removed): lock the new one
        raise OSError(f"the lock file {self.log_set.lock_path} keeps being replaced")

    def format_line(self, record: logging.LogRecord) -> bytes:
        """The record as one encoded line, terminator included (what `emit` appends)."""
        formatter = self.formatter or self._default_formatter()
        known, json_lines = self._line_maker
        if formatter is not known:  # a new formatter: does it write UTF-8 JSON lines itself?
            json_lines = False
            if self.wire_encoding == "utf-8":
                json_lines = isinstance(formatter, RedactingJsonFormatter)
            self._line_maker = (formatter, json_lines)
        terminator = self.terminator
        text, end = self._terminator
        if terminator is not text:
            end = self._encode_terminator(terminator)
        if json_lines:
            line = cast(RedactingJsonFormatter, formatter).format_line(record, self.wire_errors)
            return line + end
        return (formatter.format(record) + terminator).encode(self.wire_encoding, self.wire_errors)

    def _encode_terminator(self, terminator: str) -> bytes:
        """Check and encode a new ``terminator``: it must end a line, or lines would merge."""
        if not isinstance(terminator, str) or not terminator.endswith("\n"):
            raise ValueError(f"terminator must end with a newline (JSON lines), got {terminator!r}")
        if self._sealer is not None and terminator != "\n":
            raise ValueError(
                f"with chain=True the terminator is '\\n' (sealed lines), got {terminator!r}"
            )
        end = terminator.encode(self.wire_encoding, self.wire_errors)
        self._terminator = (terminator, end)
        return end

    def _default_formatter(self) -> logging.Formatter:
        self.formatter = RedactingJsonFormatter()
        return self.formatter

    # -- the slow path: follow the live file, rotate ---------------------------------------------
    def _hold(self, lock_fd: int, now: float) -> Optional[os.stat_result]:
        """Lock held: make sure we hold the file at the log path; its stat (None when the lock
        file itself was replaced: directory removed). The first time, start the set too."""
        live = self._live
        change_count = pread(lock_fd, 8, 0)
        # a file deleted while the change count stood still was deleted outside the protocol
        if not live.follow(now, rescue=change_count == live.change_count):
            return None
        live.change_count = change_count
        st = os.fstat(cast(int, live.fd))
        if not self._started:
            self._started = True
            if self.mode.startswith("w") and st.st_size:
                st = self._rotate(lock_fd, now)
            elif self.retention_days is not None:
                self._rotator._prune_backups()
            self._rotator.remove_leftovers()  # a crashed compressing rotation, whoever ran it
        return st

    def _prepare(self, lock_fd: int, now: float, length: int) -> tuple[int, int]:
        """Lock held: make sure we hold the live file, rotate if due; ``(fd, size)``.

        Returns ``(-1, 0)`` when the lock file itself was replaced (directory removed).
        """
        st = self._hold(lock_fd, now)
        if st is None:
            return -1, 0
        size = st.st_size
        if (size and size + length >= self._size_limit) or (
            self._schedule is not None
            and (now >= self._boundary or self._period_key != (st.st_dev, st.st_ino))
            and self._period_due(st, now)
        ):
            self._rotate(lock_fd, now)
            size = 0
        self._deadline = min(self._live.recheck_at, self._boundary)
        return cast(int, self._live.fd), size

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
        """Lock held: rotate through `doRollover` (a subclass's too), open the fresh live file
        and tell every writer (change count); returns its stat.

        A rotation that fails (full disk, a failing ``rotator``) loses no record: the record
        goes to whatever file is at the log path, and `report_rotation_failure` raises the
        error once it is written, for `handleError`.
        """
        self._held_lock = lock_fd
        try:
            self.doRollover()
        except Exception as exc:  # the record still goes to the live file, then this is reported
            self._rotation_failure = exc
        finally:
            self._held_lock = None
        live = self._live
        live.close_live()
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
        self._live.flush_view()

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
