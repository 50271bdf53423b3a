"""Purge: rewrite one file of the log set without the selected records (or with them anonymized).

Floor 3 (schema, logset, reading). `PurgePolicy` decides line by line — keep (None), drop
(``b""``), or replace (a tombstone, an anonymized or scrubbed record) — and `rewrite_file`
streams a file through it. Lines a one-user purge cannot touch are copied without being parsed:
blocks are searched for the user id's JSON bytes, and a file with nothing to change is left
untouched (the temporary file is only opened at the first change, with the unchanged prefix
copied then). The new content goes to a ``0o600`` temporary file, fsynced, given the original
file's mode and renamed over it by the caller, under the log set's lock.

Decisions (see also `dihya_logging.store._api`):

* ``purge`` audit events are never removed: they carry no personal data (user ids are
  pseudonymised) and are the record that erasures happened — and, in a chained log, what
  authorises the tombstones.
* In a one-user erasure (no ``before``), any other record that holds the user id as a whole
  string value (an audit event's filter, say) gets it replaced by the pseudonym ("scrubbed"),
  so the clear id is gone from every byte. Anonymized records get the id replaced by the
  pseudonym everywhere in their strings (keys and values, mentions inside paths and names
  included, never inside a longer id: `pseudonym.replace_user_id`).
* Damaged lines: a full purge drops them; a one-user purge drops those holding the id's bytes;
  a retention purge drops those whose timestamp text is older than the cut-off.
* Chained records (``seq`` and ``link``): a removed one becomes ``tombstone(record)``,
  an anonymized or scrubbed one ``reseal_anonymized(record, new_record)`` (`chain._format`).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final, Optional, Union

from dihya_logging._logset import LogSet, open_private
from dihya_logging._schema import EVENT_EXPORT, EVENT_PURGE, parse_timestamp
from dihya_logging.store._backend import RecordFilter
from dihya_logging.store._formats import dump_record
from dihya_logging.store._linefilter import (
    Gate,
    candidate_spans,
    json_needles,
    stamp_ceil,
    stamp_floor,
    timestamp_text,
)
from dihya_logging.store._pseudonym import replace_user_id
from dihya_logging.store._reading import (
    BLOCK_SIZE,
    ReadStats,
    iter_blocks,
    load_line,
    open_log_file,
)

__all__ = ["GZIP_LEVEL", "PurgePolicy", "PurgeTemp", "rewrite_file", "scrub"]

GZIP_LEVEL: Final = 6
"""Compression level of rewritten ``.gz`` files (gzip's own default)."""

_MARKERS: Final = (b'"tombstone"', b'"link"', b'"purge"')
"""Bytes that make a line worth parsing in a full purge (it may have to be kept or sealed)."""


def scrub(value: Any, old: str, new: str, *, substrings: bool) -> Any:
    """A copy of a JSON value with the string ``old`` replaced by ``new`` in keys and values.

    With ``substrings`` every mention inside a string is replaced (`replace_user_id`: never
    inside a longer id); without, only strings equal to ``old``.
    """
    if isinstance(value, str):
        if substrings:
            return replace_user_id(value, old, new)
        return new if value == old else value
    if isinstance(value, dict):
        return {
            scrub(k, old, new, substrings=substrings): scrub(v, old, new, substrings=substrings)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(item, old, new, substrings=substrings) for item in value]
    return value


def _chained(record: dict[str, Any]) -> bool:
    return "seq" in record and "link" in record


@dataclass
class PurgePolicy:
    """What one purge removes or rewrites, and the running tally of what it did."""

    user_id: Optional[str] = None
    before: Optional[datetime] = None
    pseudonym: Optional[str] = None
    """Token replacing the user id: anonymized records, and scrubbed mentions in a user purge."""
    anonymize: bool = False
    removed: int = 0
    anonymized: int = 0
    scrubbed: int = 0
    damaged: int = 0
    tombstoned: list[Any] = field(default_factory=list)
    resealed: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.anonymize and (self.user_id is None or self.pseudonym is None):
            raise ValueError("anonymizing needs a user id and its pseudonym")
        self._gate = Gate(RecordFilter(user_id=self.user_id)) if self.user_id else None
        self._floor = stamp_floor(self.before) if self.before is not None else None
        self._ceil = stamp_ceil(self.before) if self.before is not None else None
        self._scrub_others = self.user_id is not None and self.before is None
        self._spans_gate = self._gate
        if self._scrub_others and self.user_id is not None:
            # export events name their destination file, which may be named after the user
            # ("alice.jsonl"): lines holding the id's bytes unquoted are looked at too
            loose = tuple(needle[1:-1] for needle in json_needles(self.user_id))
            self._spans_gate = Gate(RecordFilter())
            self._spans_gate.primary = loose[0] if len(loose) == 1 else None
            self._spans_gate.requirements = (loose,)

    @property
    def count(self) -> int:
        """Records removed or anonymized (scrubbed mentions and damaged lines not counted)."""
        return self.removed + self.anonymized

    def spans(self, block: bytes) -> Iterator[tuple[int, int]]:
        """Lines of ``block`` this purge must look at."""
        return candidate_spans(block, self._spans_gate)

    def whole_block(self, block: bytes) -> Optional[int]:
        """In a full purge, a block with nothing to keep or seal: its line count, else None."""
        if self.user_id is not None or self.before is not None:
            return None
        lines = block.count(b"\n")
        if block.count(b"}\n") != lines or block.count(b"\n{") + 1 != lines + (block[:1] != b"{"):
            return None  # blank or damaged lines: looked at one by one
        if any(marker in block for marker in _MARKERS):
            return None
        return lines

    def decide(self, line: bytes) -> Optional[bytes]:
        """None to keep ``line`` as it is, else what replaces it (``b""`` drops it)."""
        if not line.strip():
            return None if self.user_id or self.before else b""
        if self._gate is not None and not self._gate.admits(line):
            return self._destination_scrubbed(line) if self._scrub_others else None
        stamp = timestamp_text(line)
        if self._ceil is not None and stamp is not None and stamp >= self._ceil:
            return None  # newer than the cut-off: kept without parsing
        if (
            self.user_id is None
            and line[:1] == b"{"
            and line[-1:] == b"}"
            and not any(marker in line for marker in _MARKERS)
        ) and (self._floor is None or (stamp is not None and stamp < self._floor)):
            self.removed += 1
            return b""
        try:
            record = load_line(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            return self._damaged(stamp)
        if record.get("tombstone") is True or record.get("event") == EVENT_PURGE:
            return None
        if self._selects(record):
            return self._anonymized(record) if self.anonymize else self._removed(record)
        if self._scrub_others:
            return self._scrubbed(record)
        return None

    def _selects(self, record: dict[str, Any]) -> bool:
        if self.user_id is not None and record.get("user_id") != self.user_id:
            return False
        if self.before is not None:
            moment = parse_timestamp(record.get("timestamp", ""))
            return moment is not None and moment < self.before
        return True

    def _damaged(self, stamp: Optional[bytes]) -> Optional[bytes]:
        if self._floor is not None and (stamp is None or stamp >= self._floor):
            return None  # a retention purge cannot tell it is old: kept
        self.damaged += 1
        return b""

    def _removed(self, record: dict[str, Any]) -> bytes:
        self.removed += 1
        if not _chained(record):
            return b""
        from dihya_logging.chain._format import tombstone  # lazily: only chained logs need it

        self.tombstoned.append(record["seq"])
        return dump_record(tombstone(record)) + b"\n"

    def _anonymized(self, record: dict[str, Any]) -> bytes:
        assert self.user_id is not None
        assert self.pseudonym is not None
        self.anonymized += 1
        new = scrub(record, self.user_id, self.pseudonym, substrings=True)
        new["user_id"] = self.pseudonym
        return self._sealed(record, new)

    def _scrubbed(self, record: dict[str, Any]) -> Optional[bytes]:
        assert self.user_id is not None
        assert self.pseudonym is not None
        new = scrub(record, self.user_id, self.pseudonym, substrings=False)
        destination = new.get("destination")
        if new.get("event") == EVENT_EXPORT and isinstance(destination, str):
            new["destination"] = replace_user_id(destination, self.user_id, self.pseudonym)
        if new == record:
            return None
        self.scrubbed += 1
        return self._sealed(record, new)

    def _destination_scrubbed(self, line: bytes) -> Optional[bytes]:
        """An export event whose destination mentions the user (not as a whole value)."""
        if b'"export"' not in line:
            return None
        try:
            record = load_line(line)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        return self._scrubbed(record)

    def _sealed(self, record: dict[str, Any], new: dict[str, Any]) -> bytes:
        if _chained(record):
            from dihya_logging.chain._format import reseal_anonymized  # lazily, as above

            self.resealed.append(record["seq"])
            new = reseal_anonymized(record, new)
        return dump_record(new) + b"\n"


class PurgeTemp:
    """The private temporary file a rewrite goes to; ``flock``-ed while alive (so a cleanup
    can tell a live temporary file from one left by a crash)."""

    def __init__(self, logset: LogSet, compressed: bool) -> None:
        self.path = logset.temp_path("purge-")
        self.fd = open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.size = 0
        self._file: IO[bytes] = open(self.fd, "wb", buffering=BLOCK_SIZE, closefd=False)  # noqa: SIM115
        self._zip: Optional[gzip.GzipFile] = None
        if compressed:
            self._zip = gzip.GzipFile(
                filename="", mode="wb", fileobj=self._file, compresslevel=GZIP_LEVEL
            )
        self._sink: Union[gzip.GzipFile, IO[bytes]] = (
            self._zip if self._zip is not None else self._file
        )

    def write(self, data: bytes) -> None:
        """Append (uncompressed) bytes."""
        if data:
            self._sink.write(data)
            self.size += len(data)

    def finish(self, original: os.stat_result) -> None:
        """Flush, take the original file's mode, times (rotation dates files by their mtime)
        and owner if allowed, fsync."""
        if self._zip is not None:
            self._zip.close()
        self._file.flush()
        os.utime(self.fd, ns=(original.st_atime_ns, original.st_mtime_ns))
        os.fchmod(self.fd, original.st_mode & 0o7777)
        if (original.st_uid, original.st_gid) != os.fstat(self.fd)[4:6]:
            with contextlib.suppress(OSError):
                os.fchown(self.fd, original.st_uid, original.st_gid)
        os.fsync(self.fd)

    def commit(self, destination: Path) -> None:
        """Rename over ``destination`` (atomic), then release the file."""
        os.replace(self.path, destination)
        self.close()

    def discard(self) -> None:
        """Remove the temporary file and release it."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.close()

    def close(self) -> None:
        """Close without removing (idempotent)."""
        if self.fd >= 0:
            with contextlib.suppress(Exception):
                if self._zip is not None:
                    self._zip.close()
                self._file.close()
            os.close(self.fd)
            self.fd = -1


def _copy_prefix(path: Path, size: int, out: PurgeTemp, stats: ReadStats) -> None:
    """Copy the first ``size`` (decompressed) bytes of ``path`` into ``out``."""
    stream, _ = open_log_file(path, stats)
    with stream:
        while size > 0:
            chunk = stream.read(min(BLOCK_SIZE, size))
            if not chunk:
                raise OSError(f"{path} shrank while being purged")
            out.write(chunk)
            size -= len(chunk)


def rewrite_file(
    path: Path, logset: LogSet, policy: PurgePolicy, stats: ReadStats
) -> Optional[PurgeTemp]:
    """Stream ``path`` through ``policy``; None if nothing changes, else the finished temp file.

    The caller commits (renames) or discards the returned file; it must hold ``logset.lock()``.
    """
    stream, compressed = open_log_file(path, stats)
    out: Optional[PurgeTemp] = None
    try:
        with stream:
            original = os.fstat(stream.fileno())
            for block, offset, partial in iter_blocks(stream):
                mark = 0
                lines = policy.whole_block(block) if not partial else None
                if lines is not None:
                    policy.removed += lines
                    if out is None:
                        out = PurgeTemp(logset, compressed)
                        _copy_prefix(path, offset, out, stats)
                    continue
                for start, end in policy.spans(block):
                    decision = policy.decide(block[start:end])
                    if partial and decision is None:
                        decision = block[start:end] + b"\n" if out is not None else None
                    if decision is None:
                        continue
                    if out is None:
                        out = PurgeTemp(logset, compressed)
                        _copy_prefix(path, offset, out, stats)
                    out.write(block[mark:start])
                    out.write(decision)
                    mark = min(end + 1, len(block))
                if out is not None and mark < len(block):
                    tail = block[mark:]
                    out.write(tail + b"\n" if partial else tail)
            if out is not None:
                out.finish(original)
        return out
    except BaseException:
        if out is not None:
            out.discard()
        raise
