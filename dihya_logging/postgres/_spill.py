"""The spill file: where records wait, durably, while PostgreSQL cannot be reached.

Records are appended through `GenerationLogHandler` (so the spill has the file sink's
guarantees: whole lines, several processes, private mode), each line being the record's JSON
with its record id added under ``pg_record_id``, so a replay inserts each record at most once.

Replaying claims the spilled lines by renaming the file aside under the log set's lock
(writers then start a fresh file), then streams the claimed file into the database in batches
while holding an ``flock`` on it, and deletes it last. A crash mid-replay leaves the claimed
file behind; the next replay (any process sharing the spill path) picks it up, and the
``ON CONFLICT`` on record ids makes re-sending its first batches harmless.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Final, Optional

from dihya_logging._logset import PathLike, open_private
from dihya_logging._schema import LOGGER_NAME
from dihya_logging.postgres._rows import SPILL_ID_FIELD
from dihya_logging.sink._handler import GenerationLogHandler

__all__ = ["DEFAULT_SPILL", "ENV_SPILL", "Spill", "strip_spill_id", "with_spill_id"]

DEFAULT_SPILL: Final = "logs/dihya-pg-spill.log"
ENV_SPILL: Final = "DIHYA_PG_SPILL"
REPLAY_MARK: Final = ".replay-"

_ID_SUFFIX = re.compile(r',?"' + SPILL_ID_FIELD + r'":"([0-9a-f-]{36})"\}$')
_NAMESPACE = uuid.UUID("5b0c3f38-3d7e-4d43-9c5f-2f6c1d0e9a11")

Item = tuple[str, str]
"""``(record_id, line)``."""


def with_spill_id(record_id: str, line: str) -> str:
    """``line`` (a JSON object) with ``"pg_record_id": record_id`` added as its last key."""
    body = line.rstrip()[:-1].rstrip()
    separator = "" if body.endswith("{") else ","
    return f'{body}{separator}"{SPILL_ID_FIELD}":"{record_id}"}}'


def strip_spill_id(line: str, seen: dict[str, int]) -> Item:
    """Split a spilled line into ``(record_id, original line)``.

    A line without an id (written by something else) gets a deterministic one from its text
    and how many identical lines came before it, so replaying it twice still inserts it once.
    """
    match = _ID_SUFFIX.search(line)
    if match:
        body = line[: match.start()]
        return match.group(1), body + "}"
    count = seen.get(line, 0)
    seen[line] = count + 1
    return str(uuid.uuid5(_NAMESPACE, f"{count}:{line}")), line


class _LineFormatter(logging.Formatter):
    """Writes the prepared line carried in ``record.msg`` unchanged."""

    def format(self, record: logging.LogRecord) -> str:
        return str(record.msg)


def resolve_spill_path(spill_path: Optional[PathLike]) -> Path:
    """The spill file: the argument, else ``$DIHYA_PG_SPILL``, else ``logs/dihya-pg-spill.log``."""
    chosen = spill_path if spill_path is not None else os.environ.get(ENV_SPILL) or DEFAULT_SPILL
    return Path(os.path.abspath(os.fspath(chosen)))


class Spill:
    """One spill file (and the claimed files being replayed from it)."""

    def __init__(self, path: PathLike) -> None:
        self._sink = GenerationLogHandler(path, delay=True)
        self._sink.setFormatter(_LineFormatter())
        self.log_set = self._sink.log_set
        self.path = self.log_set.path

    def __repr__(self) -> str:
        return f"Spill({str(self.path)!r})"

    def write(self, items: Sequence[Item]) -> None:
        """Append records; a failing disk is reported by the sink's ``handleError``."""
        for record_id, line in items:
            record = logging.LogRecord(LOGGER_NAME, logging.INFO, __file__, 0, "", None, None)
            record.msg = with_spill_id(record_id, line)
            self._sink.handle(record)

    def _claimed(self) -> list[Path]:
        prefix = f".{self.path.name}{REPLAY_MARK}"
        try:
            names = os.listdir(self.log_set.directory)
        except FileNotFoundError:
            return []
        return sorted(self.log_set.directory / n for n in names if n.startswith(prefix))

    def pending(self) -> bool:
        """Whether spilled records are waiting (cheap: a few ``stat`` calls)."""
        for path in (*self.log_set.files(), *self._claimed()):
            with contextlib.suppress(OSError):
                if path.stat().st_size:
                    return True
        return False

    def claim(self) -> None:
        """Rename the spilled files aside under the log set's lock; writers start afresh."""
        if not any(p.exists() for p in self.log_set.files()):
            return
        with self.log_set.lock():
            for index, path in enumerate(self.log_set.files()):
                if path.stat().st_size == 0 or path.suffix == ".gz":
                    continue
                token = f"{os.getpid()}-{os.urandom(4).hex()}-{index}"
                os.rename(path, path.with_name(f".{self.path.name}{REPLAY_MARK}{token}"))

    def replay(self, send: Callable[[list[Item]], None], batch_size: int) -> int:
        """Send every spilled record in batches through ``send``; returns how many were read.

        ``send`` commits each batch (and raises if it cannot); a claimed file is deleted only
        after all of it was sent, so an interrupted replay resumes, never loses.
        """
        self.claim()
        total = 0
        for path in self._claimed():
            try:
                fd = open_private(path, os.O_RDONLY)
            except OSError:
                continue  # another process finished it meanwhile
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # another process is replaying it
                if os.fstat(fd).st_nlink == 0:
                    continue  # replayed and deleted while we waited
                for batch in _batches(fd, batch_size):
                    send(batch)
                    total += len(batch)
                path.unlink()
            finally:
                os.close(fd)
        return total

    def close(self) -> None:
        """Release the spill file's descriptors."""
        self._sink.close()


def _batches(fd: int, batch_size: int) -> Iterator[list[Item]]:
    """Complete lines of a claimed file as batches of items; torn fragments are dropped.

    Reads until the file stops growing (defence in depth: writers follow the rename under
    the lock, so nothing should be appended once the file is claimed).
    """
    seen: dict[str, int] = {}
    batch: list[Item] = []
    consumed = 0
    with os.fdopen(os.dup(fd), "rb") as stream:
        while True:
            size = os.fstat(fd).st_size
            stream.seek(consumed)
            for raw in stream:
                if not raw.endswith(b"\n"):
                    break  # a crash cut the last line: the file sink's promise is "at most that"
                consumed += len(raw)
                text = raw.decode("utf-8", "replace").strip()
                if text.startswith("{") and text.endswith("}"):  # else a fragment: skipped
                    batch.append(strip_spill_id(text, seen))
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch
                batch = []
            if os.fstat(fd).st_size == size:
                return
