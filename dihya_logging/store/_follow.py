"""`tail --follow` for a log set: every line appended, once, across rotations and purge rewrites.

Floor 3 (logset, reading). The follower holds the file it reads open and remembers how far it
read. Each `poll` runs under the log set's lock when it can take it (so no rotation happens
half-way through a poll; writers wait a few microseconds) and:

1. reads what was appended to its file since the last poll;
2. if the live name now points at another file, finds its old file among the backups — the same
   inode for a plain ``.N``, the same first 4 KiB and length (gzip's ISIZE) for a ``.N.gz`` — and
   reads every backup newer than it, oldest first: the log may have rotated several times since
   the last poll, and those files' lines are printed too, not lost;
3. if its old file is no backup (a purge rewrote the set), continues in the new live file just
   after the last line it printed;
4. then reads the new live file.

Limits, said in the warning the CLI prints (`Follower.lost`): if backups were deleted (pruned by
``backupCount``/``retention_days``) before a poll could read them, their lines are missed; if
the last printed line itself was purged, the rewritten live file is printed from its start.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, Optional

from dihya_logging._logset import LogSet, open_private
from dihya_logging.store._reading import ReadStats, iter_blocks, open_log_file

__all__ = ["Follower", "follow"]

_FINGERPRINT: Final = 4096
"""Bytes from the start of a file that identify it once it is compressed under another name."""
_BACK: Final = 1 << 16


class Follower:
    """Yields the complete lines appended to a log set since the previous `poll`."""

    def __init__(self, path: Path) -> None:
        self.logset = LogSet(path)
        self.path = self.logset.path
        self.fd: Optional[int] = None
        self.identity: Optional[tuple[int, int]] = None
        self.offset = 0
        self.pending = b""
        self.last_line: Optional[bytes] = None
        self.damaged = 0
        """Lines that were not complete when their file was rotated away (a crashed writer)."""
        self.lost = 0
        """Times the follower lost track of a rotation (backups pruned before it could read)."""
        with self._locked():
            self._open_live(at_end=True)

    # -- the set's lock, best effort ----------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the log set's lock if this user may take it (a reader without write access to
        the directory follows without it, as ``tail -F`` would)."""
        with contextlib.ExitStack() as stack:
            with contextlib.suppress(OSError):
                stack.enter_context(self.logset.lock(create_dir=False, changes=False))
            yield

    # -- files --------------------------------------------------------------------------------
    def _open_live(self, *, at_end: bool, resume: bool = False) -> bool:
        """Open the live file at its end, its start, or just after the last printed line."""
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        self._close()
        st = os.fstat(fd)
        self.fd, self.identity, self.pending = fd, (st.st_dev, st.st_ino), b""
        if at_end:
            self.offset = st.st_size
            self.last_line = _last_line(fd, st.st_size)
        elif resume:
            self.offset = _resume_offset(fd, self.last_line)
        else:
            self.offset = 0
        return True

    def _close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None

    def _drain(self) -> list[bytes]:
        """Complete lines appended to the open file since the last read."""
        if self.fd is None:
            return []
        chunks = []
        while True:
            chunk = os.pread(self.fd, 1 << 20, self.offset)
            if not chunk:
                break
            chunks.append(chunk)
            self.offset += len(chunk)
        if not chunks:
            return []
        data = self.pending + b"".join(chunks)
        cut = data.rfind(b"\n") + 1
        self.pending = data[cut:]
        return self._remember([line for line in data[:cut].split(b"\n") if line])

    def _remember(self, lines: list[bytes]) -> list[bytes]:
        if lines:
            self.last_line = lines[-1]
        return lines

    def _finish_old(self) -> list[bytes]:
        """Everything left in the file we were reading, which is no longer the live one."""
        lines = self._drain()
        if self.pending:  # a line its writer never finished: it will never be completed
            self.damaged += 1
            self.pending = b""
        return lines

    def _backups_after_ours(self) -> Optional[list[Path]]:
        """The backups newer than the file we were reading, oldest first; None if that file
        is not among the backups (a purge rewrote it, or it was pruned)."""
        if self.fd is None or self.identity is None:
            return None
        size = os.fstat(self.fd).st_size
        head = os.pread(self.fd, _FINGERPRINT, 0)
        newer: list[Path] = []
        for _, path in self.logset.rotated():  # newest first
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) == self.identity or (
                path.name.endswith(".gz") and _same_content(path, head, size)
            ):
                newer.reverse()
                return newer
            newer.append(path)
        return None

    # -- polling ------------------------------------------------------------------------------
    def poll(self) -> list[bytes]:
        """New complete lines (without ``\\n``), in the order they were written."""
        with self._locked():
            lines = self._drain()
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                return lines  # renamed away, the next line not written yet: next poll
            if self.fd is None:
                if self._open_live(at_end=False):
                    lines.extend(self._drain())
            elif (current.st_dev, current.st_ino) != self.identity:
                lines.extend(self._finish_old())
                missed = self._backups_after_ours()
                for path in missed or ():
                    lines.extend(self._remember(_whole_file(path, self)))
                if missed is None:
                    if not self._resumable():
                        self.lost += 1
                    self._open_live(at_end=False, resume=True)
                else:
                    self._open_live(at_end=False)
                lines.extend(self._drain())
            elif current.st_size < self.offset:  # truncated in place
                self.offset, self.pending = 0, b""
                lines.extend(self._drain())
            return lines

    def _resumable(self) -> bool:
        """Whether the new live file holds the last printed line (a purge's rewrite)."""
        if self.last_line is None:
            return False
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except OSError:
            return False
        try:
            return _resume_offset(fd, self.last_line) > 0
        finally:
            os.close(fd)

    def close(self) -> None:
        """Release the file."""
        self._close()


def _same_content(path: Path, head: bytes, size: int) -> bool:
    """Whether the ``.gz`` at ``path`` holds the file that starts with ``head`` and is ``size``
    bytes long (gzip's trailer records the length modulo 2**32)."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        end = os.fstat(fd).st_size
        if end < 18 or int.from_bytes(os.pread(fd, 4, end - 4), "little") != size % (1 << 32):
            return False
    finally:
        os.close(fd)
    try:
        stream, _ = open_log_file(path, ReadStats(), salvage=True)
    except OSError:
        return False
    with contextlib.closing(stream):
        return stream.read(len(head)) == head


def _whole_file(path: Path, follower: Follower) -> list[bytes]:
    """Every complete line of a backup (a damaged or cut tail is counted, not returned)."""
    try:
        stream, _ = open_log_file(path, ReadStats(), salvage=True)
    except OSError:
        follower.lost += 1
        return []
    lines: list[bytes] = []
    with contextlib.closing(stream):
        for block, _, partial in iter_blocks(stream):
            if partial:
                follower.damaged += 1
                continue
            lines.extend(line for line in block.split(b"\n") if line)
    if getattr(stream, "damage", None) is not None:
        follower.damaged += 1
    return lines


def _last_line(fd: int, size: int) -> Optional[bytes]:
    """The last complete line of a file (read from its end), or None."""
    start = max(size - _BACK, 0)
    data = os.pread(fd, size - start, start)
    if not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
    lines = [line for line in data.split(b"\n") if line]
    if not lines or (start and len(lines) == 1):
        return None
    return lines[-1]


def _resume_offset(fd: int, last: Optional[bytes]) -> int:
    """Where to continue in a new file: after ``last`` if it holds it (a rewrite), else 0."""
    if last is None:
        return 0
    found = 0
    offset = 0
    with open(os.dup(fd), "rb") as stream:
        stream.seek(0)
        for line in stream:
            offset += len(line)
            if line.rstrip(b"\n") == last:
                found = offset
    return found


def follow(
    path: Path,
    emit: Callable[[bytes], None],
    *,
    interval: float = 0.5,
    follower: Optional[Follower] = None,
) -> None:
    """Call ``emit`` with every new line of the log set, forever (until interrupted)."""
    watcher = follower or Follower(path)
    try:
        while True:
            for line in watcher.poll():
                emit(line)
            time.sleep(interval)
    finally:
        watcher.close()
