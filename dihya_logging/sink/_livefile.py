"""`LiveFile`: one writer's descriptors on a log set, kept in step with the files on disk.

Floor 3 (used by the handler). It holds the live file and the lock file open, follows the live
file when the set's change count says someone rotated or rewrote it, notices a deleted directory
or a lock file that was replaced, and appends whole lines only: a line never glues onto a
fragment left by a crashed writer, and a failed write leaves no fragment of its own.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from os import SEEK_END, lseek, pread
from typing import Final, Optional, TextIO

from dihya_logging._logset import LogSet, ensure_private_dir, open_private

__all__ = ["LiveFile"]

_LIVE_FLAGS: Final = os.O_RDWR | os.O_APPEND | os.O_CREAT  # readable: the chain reads the tail
_RESCUE_LIMIT: Final = 16 << 20
_live_files: weakref.WeakSet[LiveFile] = weakref.WeakSet()


def _forget_inherited() -> None:
    """In a forked child, drop the descriptors shared with the parent (a shared flock is void)."""
    for live in list(_live_files):
        live.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited)


class LiveFile:
    """The open live file and lock file of one writer; all methods but `forget` need the lock.

    ``change_count`` is the set's change counter when the live file was last checked; a writer
    that finds it moved calls `follow`. ``verified`` is the size of the file when it was last
    seen at the log path: if the file is later deleted behind the protocol's back (``rm -r``
    of the directory), the lines written since are *rescued* into the new live file.
    """

    recheck_interval: float = 1.0
    """Seconds between checks of the log path itself, for changes made outside the protocol."""

    def __init__(self, log_set: LogSet, file_mode: int) -> None:
        self.log_set = log_set
        self.file_mode = file_mode
        self.path = str(log_set.path)
        self.fd: Optional[int] = None
        self.lock_fd: Optional[int] = None
        self.change_count = b""
        self.recheck_at = 0.0
        self.verified = 0
        self.clean_end = -1  # size right after our last complete line
        self.rescued = b""
        self._view: Optional[TextIO] = None
        _live_files.add(self)

    def view(self, encoding: str, errors: str) -> Optional[TextIO]:
        """A text stream over the live file (what the stdlib calls ``stream``), None while no
        live file is open. It shares the descriptor: closing it leaves the handler's file open."""
        if self.fd is None:
            return None
        if self._view is None:
            view = open(self.fd, "a", encoding=encoding, errors=errors, closefd=False)  # noqa: SIM115
            with contextlib.suppress(AttributeError, TypeError):
                view.buffer.raw.name = self.path  # type: ignore[attr-defined]  # as FileHandler's
            self._view = view
        return self._view

    def flush_view(self) -> None:
        """Flush what code wrote to the text stream over the live file, if one was made."""
        if self._view is not None:
            with contextlib.suppress(Exception):
                self._view.flush()

    def close_view(self) -> None:
        """Close the text stream over the live file, if one was made (the file stays open)."""
        view, self._view = self._view, None
        if view is not None:
            with contextlib.suppress(Exception):
                view.close()

    def open_lock(self) -> int:
        """Open (creating privately) the set's lock file; the caller then ``flock``s it."""
        ensure_private_dir(self.log_set.directory)
        self.lock_fd = open_private(self.log_set.lock_path, os.O_RDWR | os.O_CREAT, self.file_mode)
        return self.lock_fd

    def lock_is_current(self) -> bool:
        """Whether the lock file we hold is still the one at the lock path."""
        if self.lock_fd is None:
            return False
        try:
            st = os.stat(self.log_set.lock_path)
        except OSError:  # missing, or a parent directory replaced by a file (ENOTDIR)
            return False
        held = os.fstat(self.lock_fd)
        return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)

    def follow(self, now: float, *, rescue: bool) -> bool:
        """Make ``fd`` the file at the log path; False if the lock file itself was replaced.

        ``rescue``: the change count did not move, so a deleted file was deleted outside the
        protocol and the lines written to it since it was last verified must be kept.
        """
        self.recheck_at = now + self.recheck_interval
        fd = self.fd
        held = os.fstat(fd) if fd is not None else None
        try:
            at_path: Optional[os.stat_result] = os.lstat(self.path)
        except OSError:  # missing or unreachable (ENOTDIR): rescue first, `open` reports it
            at_path = None
        if fd is not None and held is not None and not held.st_nlink and rescue:
            self._rescue(fd)
        if not self.lock_is_current():
            return False
        if (
            held is not None
            and at_path is not None
            and (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)
        ):
            self.verified = held.st_size
            return True
        self.open()
        return True

    def _rescue(self, fd: int) -> None:
        """Keep the lines written to our deleted file since it was verified; cut them from it,
        so that another process holding the same file cannot rescue them twice."""
        with contextlib.suppress(OSError):
            end = lseek(fd, 0, SEEK_END)
            start = self.verified
            if 0 <= start < end and len(self.rescued) + end - start <= _RESCUE_LIMIT:
                tail = pread(fd, end - start, start)
                os.ftruncate(fd, start)
                self.rescued += tail if tail.endswith(b"\n") else tail + b"\n"

    def open(self) -> os.stat_result:
        """(Re)open the live file, creating it (and its directory) privately if missing."""
        self.close_live()
        ensure_private_dir(self.log_set.directory)
        fd = open_private(self.log_set.path, _LIVE_FLAGS, self.file_mode)
        self.fd = fd
        st = os.fstat(fd)
        self.verified = st.st_size
        return st

    def write(self, fd: int, size: int, data: bytes) -> None:
        """Append ``data`` (whole lines) to the live file of ``size`` bytes in one ``write``."""
        if self.rescued:
            data = self.rescued + data
        if size and size != self.clean_end and pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # a crashed writer left a partial line: never glue onto it
        written = os.write(fd, data)
        if written != len(data):
            self._write_rest(fd, data, written, size)
        self.clean_end = size + len(data)
        self.rescued = b""

    @staticmethod
    def _write_rest(fd: int, data: bytes, written: int, start: int) -> None:
        """Finish a short write; if it fails, cut our fragment off so no partial line remains."""
        view = memoryview(data)
        try:
            while written < len(data):
                written += os.write(fd, view[written:])
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise

    def close_live(self) -> None:
        """Close the live file (the next `follow` reopens it)."""
        self.close_view()
        fd, self.fd = self.fd, None
        self.clean_end = -1
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def forget(self) -> None:
        """Close (after a fork: drop our copy of) both descriptors; everything is re-checked."""
        self.close_live()
        self.change_count = b""
        self.recheck_at = 0.0
        fd, self.lock_fd = self.lock_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
