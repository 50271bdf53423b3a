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
import datetime
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
    """UTC rotation times like `TimedRotatingFileHandler`'s ``when``/``interval``/``atTime``.

    The boundaries are those the stdlib computes with ``utc=True`` for ``midnight`` (at
    ``atTime``, default 00:00) and ``W0``-``W6`` (at ``atTime`` on that weekday, default the
    midnight ending it), every ``interval`` of them; ``S``/``M``/``H``/``D`` periods start on
    whole units since the epoch (the stdlib counts them from the file's start instead). Aligned
    periods need no start time, so every process computes the same boundaries.
    """

    def __init__(
        self, when: str, interval: int = 1, at_time: Optional[datetime.time] = None
    ) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"interval must be a positive integer, got {interval!r}")
        if at_time is not None and not isinstance(at_time, datetime.time):
            raise ValueError(f"atTime must be a datetime.time, got {at_time!r}")
        key = str(when).upper()
        at_seconds = (at_time.hour * 60 + at_time.minute) * 60 + at_time.second if at_time else None
        offset = 0
        if key in _UNITS:
            length = _UNITS[key] * interval
            if key == "MIDNIGHT":
                offset = at_seconds or 0
        elif len(key) == 2 and key[0] == "W" and key[1] in "0123456":
            length = 7 * _DAY * interval
            day_start = ((int(key[1]) - _EPOCH_WEEKDAY) % 7) * _DAY
            offset = day_start + (_DAY if at_seconds is None else at_seconds)
        else:
            raise ValueError(
                f"when must be S, M, H, D, midnight or W0-W6 (Monday=W0), got {when!r}"
            )
        self.when = key
        self.interval = interval
        self.length = float(length)
        self.offset = float(offset % length)
        self.spec = f"{key}/{interval}/{int(self.offset)}"

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
Mover = Callable[[str, str], None]
"""``rotate(source, dest)``: moves the live file to its backup name (the stdlib's rotator)."""
Namer = Callable[[int], str]
"""The name of backup number ``i`` (1 is the newest)."""


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

    def rotate(self, move: Mover, name: Optional[Namer] = None) -> None:
        """Shift the backups, ``move(live, backup 1)``, then prune (the caller holds the lock).

        ``name(i)`` is the name of backup ``i`` (the handler's ``rotation_filename``); None
        means the set's own names ``<log>.i`` / ``<log>.i.gz``, listed whatever their gaps and
        compression, with what a crashed compressing rotation left resolved first. ``move`` is
        the handler's ``rotate(source, dest)``; by default it is `move`.
        """
        log_set = self.log_set
        if name is None:
            if self.compress:
                self.remove_leftovers()
            backups = self._shift()
            newest = log_set.rotated_path(1, compressed=self.compress)
        else:
            backups = self._shift_named(name)
            newest = Path(name(1))
        move(str(log_set.path), str(newest))
        self._prune_backups([(1, newest), *backups])

    def move(self, source: str, dest: str) -> None:
        """Rename the live file ``source`` to ``dest``; with ``compress``, gzip it there.

        A compressing move first renames the file to a plain name (``dest`` without ``.gz``;
        one rename never puts data at risk), gzips that to a temporary name, syncs it (with
        ``sync``), renames it to ``dest`` and removes the plain file: a crash at any point
        leaves every line once, or in a plain file beside the complete ``.gz`` that
        `remove_leftovers` resolves. If gzip fails (full disk) the backup stays plain and the
        error is raised after the live file has moved.
        """
        if not self.compress:
            os.rename(source, dest)
            return
        plain = dest[: -len(".gz")] if dest.endswith(".gz") else dest + ".plain"
        os.rename(source, plain)
        packed = self._gzip_copy(plain)  # on failure: the backup stays plain, nothing lost
        try:
            os.rename(packed, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(packed)
            raise
        if self.sync:
            fsync_directory(self.log_set.directory)
        os.unlink(plain)

    def _gzip_copy(self, plain: str) -> Path:
        """Gzip ``plain`` to a hidden temporary name (never a half-written ``.gz``)."""
        temp = self.log_set.temp_path(ROTATION_TEMP)
        in_fd = open_private(Path(plain), os.O_RDONLY)
        try:
            st = os.fstat(in_fd)
            out_fd = open_private(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self.file_mode)
            try:
                with os.fdopen(out_fd, "wb") as raw:
                    with gzip.GzipFile(
                        filename="", mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL, mtime=0
                    ) as packed:
                        offset = 0
                        while True:
                            chunk = os.pread(in_fd, _CHUNK, offset)
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
        finally:
            os.close(in_fd)
        return temp

    def _shift_named(self, name: Namer) -> list[tuple[int, Path]]:
        """Rename backups ``name(i)`` to ``name(i + 1)``, oldest first (a plain copy of a
        ``.gz`` name, left by a failed gzip, moves with it); stops at the first missing index.

        Returns the backups under their new names, newest first.
        """
        found: list[tuple[int, str, str]] = []
        index = 1
        while True:
            current = name(index)
            plain = current[: -len(".gz")] if current.endswith(".gz") else ""
            present = [path for path in (current, plain) if path and os.path.lexists(path)]
            if not present:
                break
            found.extend((index, path, current) for path in present)
            index += 1
        moved: list[tuple[int, Path]] = []
        for index, path, current in reversed(found):
            target = name(index + 1)
            if path != current:  # the plain variant keeps its plain name
                target = target[: -len(".gz")] if target.endswith(".gz") else target + ".plain"
            os.rename(path, target)
            moved.append((index + 1, Path(target)))
        moved.reverse()
        return moved

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
