"""The log set: how its files are named and ordered, the cross-process lock, private files.

Floor 2. This is the one place that names every file of a log set (`LogSet`): the live file
``generation.log``, its backups ``generation.log.1`` (or ``.1.gz``, the newest) …
``generation.log.N`` (the oldest), the lock ``generation.log.lock``, the rotation state
``generation.log.rotation``, the chain state ``generation.log.chain`` and the anonymization key
``generation.log.anonkey``. It also holds the one lock protocol that the handler, the store and
the chain all use:

* ``generation.log.lock`` beside the log (never rotated, never removed) is locked with
  ``fcntl.flock(LOCK_EX)`` around every change to any file of the set: an append, a rotation,
  a purge's rewrite. ``flock`` locks belong to an open file description, so two handlers in one
  process exclude each other exactly as two processes do; a thread must never take the lock
  twice (it would wait for itself).
* Whoever changes which file is the live one (a rotation, a purge's rewrite) bumps the set's
  *change count*, a counter in the first 8 bytes of the lock file, before releasing the lock
  (`LogSet.lock` does it on release; `bump_change_count` for holders of their own descriptor).
  Writers read it under the lock before every append (one ``pread``) and, when it moved, check
  the live file's inode and reopen it; they also check the path itself every second or so.
* ``generation.log.rotation`` (``LogSet.rotation_state_path``, never rotated) records which time
  period the live file belongs to, so processes agree on time rotation (see `sink._rotation`).
* ``generation.log.chain`` (``LogSet.chain_state_path``) is the tamper-evidence chain's state
  (its head and pruned base; format in `chain._format`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Union

from dihya_logging._schema import LOGGER_NAME

__all__ = [
    "DEFAULT_DIR_MODE",
    "DEFAULT_FILE_MODE",
    "DEFAULT_LOG_FILE",
    "ENV_LOG_FILE",
    "LogSet",
    "PathLike",
    "TEMP_MARK",
    "attached_handlers",
    "bump_change_count",
    "ensure_private_dir",
    "fsync_directory",
    "handler_writing",
    "open_private",
    "read_change_count",
    "resolve_log_path",
]

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_LOG_FILE: Final = "logs/generation.log"
ENV_LOG_FILE: Final = "DIHYA_LOG_FILE"
DEFAULT_FILE_MODE: Final = 0o600
DEFAULT_DIR_MODE: Final = 0o700
TEMP_MARK: Final = ".tmp-"
"""Infix of temporary files (purge rewrites, exports): ``.generation.log.tmp-<random>``."""


def ensure_private_dir(directory: Path, mode: int = DEFAULT_DIR_MODE) -> None:
    """Create ``directory`` and missing parents with ``mode`` (whatever the umask).

    Existing directories are left as they are: they belong to the operator.
    """
    if directory.is_dir():
        return
    missing = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=mode)
            os.chmod(folder, mode)


def open_private(path: Path, flags: int, mode: int = DEFAULT_FILE_MODE) -> int:
    """Open ``path`` refusing symlinks (``O_NOFOLLOW``); a file it creates gets exactly ``mode``.

    Raises ``OSError`` (``ELOOP``) when ``path`` is a symlink, so a planted link never
    redirects the audit log. The mode is set with ``fchmod`` only on a file this call
    created, since ``open``'s mode is filtered by the umask.
    """
    flags |= os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    if flags & os.O_CREAT:
        try:
            fd = os.open(path, flags | os.O_EXCL, mode)
        except FileExistsError:
            fd = os.open(path, flags & ~os.O_CREAT)
        else:
            try:
                os.fchmod(fd, mode)
            except OSError:
                os.close(fd)
                raise
            return fd
    else:
        fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"not a regular file: {path}")
    return fd


def fsync_directory(directory: Path, *, best_effort: bool = True) -> None:
    """Make renames and creations in ``directory`` durable; errors raise unless ``best_effort``."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        if not best_effort:
            raise


def read_change_count(lock_fd: int) -> bytes:
    """The set's change counter (opaque bytes: compare for equality only)."""
    return os.pread(lock_fd, 8, 0)


def bump_change_count(lock_fd: int) -> bytes:
    """Count one change to the set (call with the lock held); returns the new counter."""
    value = int.from_bytes(os.pread(lock_fd, 8, 0).ljust(8, b"\0"), "little")
    raw = ((value + 1) % (1 << 64)).to_bytes(8, "little")
    os.pwrite(lock_fd, raw, 0)
    return raw


_ROTATED = re.compile(r"\.(\d+)(\.gz)?$")
_FOREIGN = re.compile(
    r"[-.](?:\d{8}(?:[-_T]?\d{2,6})?|\d{10}|\d{4}-\d\d-\d\d(?:[-_T]\d\d(?:[-:]?\d\d){0,2})?)"
    r"(?P<suffix>\.(?:gz|bz2|xz|zst|lz4|Z))?"
)
"""A name an external rotator (logrotate's ``dateext``) gives the live file: ``-20261204``,
``.2026-12-04``, ``-1733270400`` (``%s``), optionally compressed."""


class LogSet:
    """The files of one log: the live file, its rotated (optionally gzipped) backups, and the
    private files beside them (lock, rotation state, chain state, anonymization key).

    Knows names and order only; it holds no open file except while `lock` is held.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(os.path.abspath(os.fspath(path)))
        self.directory = self.path.parent
        self.lock_path = self._beside(".lock")
        """The cross-process lock (its first 8 bytes: the change count)."""
        self.rotation_state_path = self._beside(".rotation")
        """Which time period the live file belongs to (time rotation)."""
        self.chain_state_path = self._beside(".chain")
        """The tamper-evidence chain's head and pruned base."""
        self.anonymization_key_path = self._beside(".anonkey")
        """The key of the pseudonyms that anonymizing purges put in place of user ids."""

    def _beside(self, suffix: str) -> Path:
        return self.path.with_name(self.path.name + suffix)

    def __repr__(self) -> str:
        return f"LogSet({str(self.path)!r})"

    def rotated_path(self, index: int, compressed: bool = False) -> Path:
        """The name of backup number ``index`` (1 is the newest)."""
        return self.path.with_name(f"{self.path.name}.{index}{'.gz' if compressed else ''}")

    def rotated(self) -> list[tuple[int, Path]]:
        """Existing backups as ``(index, path)``, newest first (index 1 first)."""
        prefix = self.path.name
        found: list[tuple[int, Path]] = []
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        for name in names:
            if not name.startswith(prefix + "."):
                continue
            match = _ROTATED.fullmatch(name[len(prefix) :])
            if match:
                found.append((int(match.group(1)), self.directory / name))
        found.sort(key=lambda item: (item[0], item[1].name))
        return found

    def foreign(self) -> tuple[list[Path], list[Path]]:
        """Files an external rotator (logrotate with ``dateext``) made of the live file:
        ``(readable, unreadable)`` — plain or ``.gz``, and other compressions (bz2, xz, …)."""
        readable: list[Path] = []
        unreadable: list[Path] = []
        prefix = self.path.name
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return readable, unreadable
        for name in names:
            match = _FOREIGN.fullmatch(name[len(prefix) :]) if name.startswith(prefix) else None
            if match is not None:
                suffix = match.group("suffix")
                kept = readable if suffix in (None, ".gz") else unreadable
                kept.append(self.directory / name)
        return sorted(readable), sorted(unreadable)

    def files(self) -> list[Path]:
        """Every readable file of the set, oldest first: ``.N[.gz]`` … ``.1[.gz]``, live file.

        Files renamed by an external rotator (`foreign`, plain or ``.gz``) are included too,
        placed among the numbered backups by modification time (a rotation keeps it).
        """
        ordered = [path for _, path in reversed(self.rotated())]
        foreign, _ = self.foreign()
        if foreign:
            ordered = _merge_by_mtime(ordered, foreign)
        if self.path.exists():
            ordered.append(self.path)
        return ordered

    def temp_path(self, purpose: str = "") -> Path:
        """A fresh hidden temporary name in the log's directory (same filesystem: atomic rename)."""
        token = os.urandom(6).hex()
        return self.directory / f".{self.path.name}{TEMP_MARK}{purpose}{token}"

    def stale_temp_files(self) -> list[Path]:
        """Temporary files left by an interrupted purge or rewrite (to be removed under lock)."""
        prefix = f".{self.path.name}{TEMP_MARK}"
        try:
            return [self.directory / n for n in os.listdir(self.directory) if n.startswith(prefix)]
        except FileNotFoundError:
            return []

    @contextlib.contextmanager
    def lock(self, *, create_dir: bool = True, changes: bool = True) -> Iterator[None]:
        """Hold the set's exclusive cross-process lock for the ``with`` block.

        On release the change count is bumped (unless ``changes=False``, for read-only work),
        so writers in every process re-check the live file before their next append.
        """
        if create_dir:
            ensure_private_dir(self.directory)
        fd = open_private(self.lock_path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if changes:
                    with contextlib.suppress(OSError):
                        bump_change_count(fd)
        finally:
            os.close(fd)  # closing the description releases the flock


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _merge_by_mtime(own: list[Path], foreign: list[Path]) -> list[Path]:
    """Numbered backups (oldest first, their order kept) with foreign ones slotted in by mtime."""
    merged: list[Path] = []
    index = 0
    for path in sorted(foreign, key=lambda item: (_mtime(item), item.name)):
        moment = _mtime(path)
        while index < len(own) and _mtime(own[index]) <= moment:
            merged.append(own[index])
            index += 1
        merged.append(path)
    merged.extend(own[index:])
    return merged


def attached_handlers() -> Iterator[tuple[logging.Handler, Path]]:
    """The handlers of the ``dihya.generation`` logger that write a log file, with its path.

    Any handler exposing a ``log_path`` attribute counts (so queue front-ends do too): the one
    place that knows how to find "the attached handler's file".
    """
    for handler in logging.getLogger(LOGGER_NAME).handlers:
        attached = getattr(handler, "log_path", None)
        if attached is not None:
            yield handler, Path(attached)


def handler_writing(path: PathLike) -> logging.Handler | None:
    """The attached handler that writes the log at ``path``, if any."""
    wanted = os.path.abspath(os.fspath(path))
    for handler, attached in attached_handlers():
        if os.path.abspath(attached) == wanted:
            return handler
    return None


def resolve_log_path(path: PathLike | None = None) -> Path:
    """The log file an API call works on when ``path`` is None.

    The file of the handler attached to the ``dihya.generation`` logger (`attached_handlers`),
    else ``$DIHYA_LOG_FILE``, else ``logs/generation.log``.
    """
    if path is not None:
        return Path(os.path.abspath(os.fspath(path)))
    for _, attached in attached_handlers():
        return attached
    env = os.environ.get(ENV_LOG_FILE)
    return Path(os.path.abspath(env or DEFAULT_LOG_FILE))
