"""Rotation policy of the sink: UTC time periods, the shared period state, shifting and pruning.

Floor 3 (beside the handler). Everything here runs while the caller holds `LogSet.lock`, so
the decisions are the same in every process: one process rotates per size crossing or period.

*Time agreement.* Periods are aligned to the Unix epoch in UTC (``S``/``M``/``H``/``D`` and
``midnight`` every ``interval`` units; ``W0``-``W6`` weeks starting that weekday at 00:00 UTC).
The period of the live file is recorded in ``<log>.rotation`` (one line: device, inode, schedule,
period) by the process that created it; a process that meets a live file it has not seen reads
that line, and a file the line does not describe (an old file, a purge's rewrite) is dated by its
mtime. The live file is rotated when a record arrives in a later period than the file's.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, Optional

from dihya_logging._logset import TEMP_MARK, LogSet, fsync_directory, open_private

__all__ = ["ROTATION_TEMP", "Rotator", "TimeSchedule"]

ROTATION_TEMP: Final = "rotate-"
"""Purpose tag of the temporary ``.gz`` a compressing rotation writes before its rename."""

_UNITS: Final = {"S": 1, "M": 60, "H": 3600, "D": 86400, "MIDNIGHT": 86400}
_DAY: Final = 86400
_EPOCH_WEEKDAY: Final = 3  # 1970-01-01 was a Thursday (Monday is 0)
_GZIP_LEVEL: Final = 6
_CHUNK: Final = 1 << 20


class TimeSchedule:
    """UTC rotation periods like `TimedRotatingFileHandler`'s ``when``/``interval``, epoch-aligned.

    Aligned periods need no start time, so every process computes the same boundaries.
    """

    def __init__(self, when: str, interval: int = 1) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"interval must be a positive integer, got {interval!r}")
        key = str(when).upper()
        offset_days = 0
        if key in _UNITS:
            length = _UNITS[key] * interval
        elif len(key) == 2 and key[0] == "W" and key[1] in "0123456":
            length = 7 * _DAY * interval
            offset_days = (int(key[1]) - _EPOCH_WEEKDAY) % 7
        else:
            raise ValueError(
                f"when must be S, M, H, D, midnight or W0-W6 (Monday=W0), got {when!r}"
            )
        self.when = key
        self.interval = interval
        self.length = float(length)
        self.offset = float(offset_days * _DAY)
        self.spec = f"{key}/{interval}"

    def period(self, moment: float) -> int:
        """The index of the period containing Unix time ``moment``."""
        return int((moment - self.offset) // self.length)

    def start(self, period: int) -> float:
        """The Unix time at which ``period`` begins."""
        return period * self.length + self.offset

    # -- the shared state: which period the live file belongs to -------------------------------
    def read_period(self, state_path: Path, st: os.stat_result) -> Optional[int]:
        """The recorded period of the live file ``st``; None if the state describes another file."""
        with contextlib.suppress(OSError, ValueError):
            fd = open_private(state_path, os.O_RDONLY)
            try:
                fields = os.read(fd, 256).split()
            finally:
                os.close(fd)
            if (
                len(fields) == 4
                and int(fields[0]) == st.st_dev
                and int(fields[1]) == st.st_ino
                and fields[2].decode("ascii") == self.spec
            ):
                return int(fields[3])
        return None

    def write_period(self, state_path: Path, st: os.stat_result, period: int, mode: int) -> None:
        """Record that the live file ``st`` holds ``period`` (call under the set's lock)."""
        line = f"{st.st_dev} {st.st_ino} {self.spec} {period}".encode("ascii")
        fd = open_private(state_path, os.O_RDWR | os.O_CREAT, mode)
        try:
            os.pwrite(fd, line.ljust(127) + b"\n", 0)
        finally:
            os.close(fd)


Hook = Callable[[Sequence[Path]], None]


class Rotator:
    """Turns the live file into backup ``.1`` (gzipped if asked), shifts older ones, prunes.

    With ``backup_count=0`` every backup is kept (an audit log never deletes silently);
    ``retention_days`` removes backups whose newest record (their mtime) is older than that.
    """

    def __init__(
        self,
        log_set: LogSet,
        *,
        backup_count: int = 0,
        retention_days: Optional[float] = None,
        compress: bool = False,
        file_mode: int = 0o600,
        sync: bool = False,
        before_prune: Optional[Hook] = None,
    ) -> None:
        if isinstance(backup_count, bool) or not isinstance(backup_count, int) or backup_count < 0:
            raise ValueError(f"backupCount must be an integer >= 0, got {backup_count!r}")
        if retention_days is not None and (
            isinstance(retention_days, bool)
            or not isinstance(retention_days, (int, float))
            or retention_days <= 0
        ):
            raise ValueError(f"retention_days must be a positive number, got {retention_days!r}")
        self.log_set = log_set
        self.backup_count = backup_count
        self.retention_days = retention_days
        self.compress = bool(compress)
        self.file_mode = file_mode
        self.sync = sync
        self.before_prune = before_prune

    def rotate(self, live_fd: int, moved: Optional[Callable[[], object]] = None) -> None:
        """Move the live file (open as ``live_fd``) to ``.1``; the caller opens a fresh one.

        The live file is first renamed to a plain ``.1`` (one rename: never puts data at risk)
        and ``moved`` is called (the handler bumps the set's change count there, so a crash from
        here on leaves no writer on the old file). A compressing rotation then gzips ``.1``
        to a temporary name, syncs it (with ``sync``), renames it to ``.1.gz`` and removes
        ``.1``: a crash at any point leaves every line once, or in a plain ``.1`` beside the
        complete ``.1.gz`` that `remove_leftovers` resolves. If gzip fails (full disk) the
        backup stays plain and the error is raised after the rotation is complete.
        """
        log_set = self.log_set
        if self.compress:
            self.remove_leftovers()
        backups = self._shift()
        newest = log_set.rotated_path(1)
        os.rename(log_set.path, newest)
        if moved is not None:
            moved()
        if self.compress:
            packed = self._gzip_copy(live_fd)  # on failure: `.1` stays plain, nothing lost
            try:
                os.rename(packed, log_set.rotated_path(1, compressed=True))
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(packed)
                raise
            if self.sync:
                fsync_directory(log_set.directory)
            os.unlink(newest)
            newest = log_set.rotated_path(1, compressed=True)
        self._prune_backups([(1, newest), *backups])

    def _gzip_copy(self, live_fd: int) -> Path:
        """Gzip the live file to a hidden temporary name (never a half-written ``.gz``)."""
        st = os.fstat(live_fd)
        temp = self.log_set.temp_path(ROTATION_TEMP)
        out_fd = open_private(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self.file_mode)
        try:
            with os.fdopen(out_fd, "wb") as raw:
                with gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL, mtime=0
                ) as packed:
                    offset = 0
                    while True:
                        chunk = os.pread(live_fd, _CHUNK, offset)
                        if not chunk:
                            break
                        packed.write(chunk)
                        offset += len(chunk)
                if self.sync:
                    raw.flush()
                    os.fsync(raw.fileno())
            os.utime(temp, ns=(st.st_atime_ns, st.st_mtime_ns))  # retention reads the mtime
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return temp

    def _shift(self) -> list[tuple[int, Path]]:
        """Rename ``.N[.gz]`` to ``.N+1[.gz]``, oldest first, so no name is ever overwritten.

        Returns the backups under their new names, newest first.
        """
        log_set = self.log_set
        moved: list[tuple[int, Path]] = []
        for index, path in reversed(log_set.rotated()):
            target = log_set.rotated_path(index + 1, compressed=path.name.endswith(".gz"))
            os.rename(path, target)
            moved.append((index + 1, target))
        moved.reverse()
        return moved

    def _prune_backups(self, backups: Optional[list[tuple[int, Path]]] = None) -> list[Path]:
        """Delete backups beyond ``backup_count`` or older than ``retention_days``; return them.

        The one place that deletes log data during rotation (``backups``: the set's backups if
        the caller just listed them).
        """
        log_set = self.log_set
        victims: list[Path] = []
        if backups is None:
            backups = log_set.rotated()
        cutoff = (
            time.time() - self.retention_days * _DAY if self.retention_days is not None else None
        )
        for index, path in backups:
            if self.backup_count and index > self.backup_count:
                victims.append(path)
            elif cutoff is not None:
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(path).st_mtime < cutoff:
                        victims.append(path)
        if victims and self.before_prune is not None:
            self.before_prune(victims)
        for path in victims:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        return victims

    def remove_leftovers(self) -> None:
        """Clean up after a compressing rotation that crashed (lock held: nothing is in use).

        Removes its temporary ``.gz`` and a plain ``.N`` left beside ``.N.gz`` (a ``.gz`` only
        ever gets its name complete, so the plain copy holds the same lines twice).
        """
        log_set = self.log_set
        mark = f".{log_set.path.name}{TEMP_MARK}{ROTATION_TEMP}"
        for path in log_set.stale_temp_files():
            if path.name.startswith(mark):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        backups = log_set.rotated()
        packed = {index for index, path in backups if path.name.endswith(".gz")}
        for index, path in backups:
            if index in packed and not path.name.endswith(".gz"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
