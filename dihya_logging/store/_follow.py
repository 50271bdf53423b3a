"""`tail --follow` for a log file: poll for new lines, survive rotation and purge rewrites.

Floor 3 (logset). The follower keeps the live file open and reads what is appended. When the
name points at a new inode it first drains the old file (a rotated file keeps its last lines),
then opens the new one: from the start after a rotation, or just after the last line it
printed when the new file is a rewrite of the old one (a purge or anonymization), so nothing
is printed twice and nothing is missed. Limits, as with ``tail -F``: if that very line was
purged or anonymized, the rewritten file is printed from its start (lines repeat); if the log
rotates twice between two polls, the middle file's lines are not printed.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Final, Optional

from dihya_logging._logset import open_private

__all__ = ["Follower", "follow"]

_BACK: Final = 1 << 16


class Follower:
    """Yields the complete lines appended to a log file since the previous `poll`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: Optional[BinaryIO] = None
        self.inode: Optional[int] = None
        self.pending = b""
        self.last_line: Optional[bytes] = None
        self._open(at_end=True)

    def _open(self, *, at_end: bool) -> bool:
        """Open the current file at its end (or at the resume point); False if missing."""
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        stream = os.fdopen(fd, "rb")
        self._close()
        self.file = stream
        self.inode = os.fstat(fd).st_ino
        self.pending = b""
        if at_end:
            self.last_line = _last_line(stream)
            stream.seek(0, os.SEEK_END)
        else:
            stream.seek(_resume_offset(stream, self.last_line))
        return True

    def _close(self) -> None:
        """Close the current file, if any."""
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
            self.file = None

    def _drain(self) -> list[bytes]:
        """Complete lines appended to the open file since the last read."""
        if self.file is None:
            return []
        data = self.file.read()
        if not data:
            return []
        data = self.pending + data
        cut = data.rfind(b"\n") + 1
        self.pending = data[cut:]
        lines = [line for line in data[:cut].split(b"\n") if line]
        if lines:
            self.last_line = lines[-1]
        return lines

    def poll(self) -> list[bytes]:
        """New complete lines (without ``\\n``), following a rotation or a rewrite."""
        lines = self._drain()
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return lines  # between a rotation's rename and the next write
        if self.file is None or current.st_ino != self.inode:
            lines.extend(self._drain())  # lines the old file got before it was renamed
            if self._open(at_end=False):
                lines.extend(self._drain())
        elif current.st_size < self.file.tell():  # truncated in place
            self.file.seek(0)
            self.pending = b""
            lines.extend(self._drain())
        return lines

    def close(self) -> None:
        """Release the file."""
        self._close()


def _last_line(stream: BinaryIO) -> Optional[bytes]:
    """The last complete line of a file (read from its end), or None."""
    size = stream.seek(0, os.SEEK_END)
    start = max(size - _BACK, 0)
    stream.seek(start)
    data = stream.read()
    if not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
    lines = [line for line in data.split(b"\n") if line]
    if not lines or (start and len(lines) == 1):
        return None
    return lines[-1]


def _resume_offset(stream: BinaryIO, last: Optional[bytes]) -> int:
    """Where to continue in a new file: after ``last`` if it holds it (a rewrite), else 0."""
    if last is None:
        return 0
    found = 0
    offset = 0
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
    """Call ``emit`` with every new line of the log, forever (until interrupted)."""
    watcher = follower or Follower(path)
    try:
        while True:
            for line in watcher.poll():
                emit(line)
            time.sleep(interval)
    finally:
        watcher.close()
