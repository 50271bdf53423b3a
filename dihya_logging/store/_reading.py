"""Line-level reading of one log set: oldest first, gzip transparently, damaged lines reported.

Floor 3 (backend, logset, linefilter). Reading is byte-first: a filter becomes a `Gate` of byte
needles (the JSON-encoded ``user_id``, ``event``, ``status`` values) searched in whole 1 MiB
blocks with ``bytes.find``, so a line that cannot match is never split out nor parsed; timestamps
are compared as text on the line's first key before any parsing. ``tail`` reads the newest file
backwards in 64 KiB blocks, so ``limit=N`` costs O(N) bytes, and opens older files only when the
newer ones hold fewer than N matches. A damaged or partial line is skipped with a
`DamagedLineWarning` (``warnings.warn``), never an exception; tombstones are skipped silently.
`ReadStats` counts the bytes read from disk (compressed bytes for ``.gz``), which is how the
tests prove that ``tail`` reads only the end.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import warnings
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Optional

from dihya_logging._logset import open_private
from dihya_logging.store._backend import RecordFilter
from dihya_logging.store._linefilter import Gate, candidate_spans

__all__ = [
    "BLOCK_SIZE",
    "TAIL_BLOCK_SIZE",
    "CountingReader",
    "DamagedLineWarning",
    "ReadStats",
    "dump_record",
    "iter_blocks",
    "iter_file_records",
    "load_line",
    "open_log_file",
    "tail_file_records",
]

BLOCK_SIZE: Final = 1 << 20
"""Forward reads and purge rewrites work on blocks of this many bytes."""
TAIL_BLOCK_SIZE: Final = 1 << 16
"""``tail`` reads the newest file backwards in blocks of this many bytes."""
_GZIP_MAGIC: Final = b"\x1f\x8b"


def _pick_loads() -> Callable[[bytes], Any]:
    """orjson's parser when installed (the ``fast`` extra), else the standard library's."""
    try:
        from orjson import loads
    except ImportError:  # pragma: no cover - exercised when orjson is absent
        return json.loads
    return loads


load_line: Callable[[bytes], Any] = _pick_loads()
"""Parse one line (bytes) of JSON; raises ValueError when it is not JSON."""


def dump_record(record: dict[str, Any]) -> bytes:
    """Serialise a record the way the formatter does: compact, UTF-8, no trailing newline."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.encode("utf-8", "replace")


class DamagedLineWarning(UserWarning):
    """A line of a log file was skipped: not JSON, not an object, or cut short by a crash."""

    def __init__(self, file: str, line: Optional[int], reason: str, offset: Optional[int] = None):
        self.file = file
        self.line = line
        self.offset = offset
        self.reason = reason
        where = f"line {line}" if line is not None else f"the line at byte {offset}"
        super().__init__(f"{file}: {where}: {reason} (skipped)")


@dataclass
class ReadStats:
    """Counters of one store's reading: bytes read from disk, files opened, lines parsed."""

    bytes_read: int = 0
    files_opened: int = 0
    lines_parsed: int = 0
    progress: Optional[Callable[[int], None]] = None
    """Called with the running ``bytes_read`` after every block (the CLI shows progress)."""

    def add(self, count: int) -> None:
        """Account ``count`` bytes read from disk."""
        self.bytes_read += count
        if self.progress is not None:
            self.progress(self.bytes_read)


class CountingReader(io.RawIOBase):
    """A read-only raw file over a descriptor that counts every byte it reads into `ReadStats`."""

    def __init__(self, fd: int, stats: ReadStats) -> None:
        super().__init__()
        self._file = io.FileIO(fd, "rb", closefd=True)
        self._stats = stats

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """Seekable like the file it wraps."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer`` and count the bytes."""
        count = self._file.readinto(buffer) or 0
        self._stats.add(count)
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move in the underlying file."""
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        """Position in the underlying file."""
        return self._file.tell()

    def fileno(self) -> int:
        """The descriptor (for ``fstat``)."""
        return self._file.fileno()

    def close(self) -> None:
        """Close the descriptor."""
        if not self.closed:
            self._file.close()
        super().close()


def open_log_file(path: Path, stats: ReadStats) -> tuple[BinaryIO, bool]:
    """Open one file of the set for reading (refusing symlinks); gunzip it if it is gzip.

    Returns the decompressed byte stream and whether it was compressed (sniffed from the
    magic bytes, whatever the name says). Raises OSError.
    """
    raw = CountingReader(open_private(path, os.O_RDONLY), stats)
    stats.files_opened += 1
    try:
        head = os.pread(raw.fileno(), 2, 0)
    except OSError:
        raw.close()
        raise
    if head == _GZIP_MAGIC:
        return _GzipReader(raw), True  # type: ignore[return-value]
    return raw, False  # type: ignore[return-value]


class _GzipReader(gzip.GzipFile):
    """A gzip reader that closes the file it reads (GzipFile leaves a given fileobj open)."""

    def __init__(self, raw: CountingReader) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        """Close the decompressor and the file."""
        try:
            super().close()
        finally:
            self._raw.close()


def iter_blocks(stream: BinaryIO, size: int = BLOCK_SIZE) -> Iterator[tuple[bytes, int, bool]]:
    """Split a stream into blocks of whole lines: ``(block, offset, partial)``.

    Each block ends with ``\\n`` except the last when the stream ends without one: that final
    piece comes alone with ``partial=True``. ``offset`` is the block's position in the stream.
    """
    carry = b""
    offset = 0
    while True:
        chunk = stream.read(size)
        if not chunk:
            if carry:
                yield carry, offset, True
            return
        buf = carry + chunk if carry else chunk
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            carry = buf
            continue
        if cut == len(buf):
            block, carry = buf, b""
        else:
            block, carry = buf[:cut], buf[cut:]
        yield block, offset, False
        offset += len(block)


def _parse(line: bytes, stats: ReadStats) -> Optional[dict[str, Any]]:
    """The record on ``line``, or None when it is not a JSON object."""
    stats.lines_parsed += 1
    try:
        record = load_line(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _damaged(path: Path, line: Optional[int], reason: str, offset: Optional[int] = None) -> None:
    warnings.warn(DamagedLineWarning(str(path), line, reason, offset), stacklevel=3)


_PARTIAL: Final = "incomplete last line (crash or write in progress)"


def iter_file_records(
    stream: BinaryIO, path: Path, flt: RecordFilter, stats: ReadStats
) -> Iterator[dict[str, Any]]:
    """Matching records of one open file, in file order; damaged lines warned and skipped."""
    gate = None if flt.is_empty else Gate(flt)
    lines_before = 0
    for block, _offset, partial in _readable_blocks(stream, path):
        for start, end in candidate_spans(block, gate):
            line = block[start:end]
            if not line.strip() or (gate is not None and not gate.admits(line)):
                continue
            if partial:
                _damaged(path, lines_before + 1, _PARTIAL)
                continue
            record = _parse(line, stats)
            if record is None:
                _damaged(path, lines_before + block.count(b"\n", 0, start) + 1, "not a JSON object")
            elif record.get("tombstone") is not True and flt.matches(record):
                yield record
        lines_before += block.count(b"\n")


def _readable_blocks(stream: BinaryIO, path: Path) -> Iterator[tuple[bytes, int, bool]]:
    """`iter_blocks`, but a damaged ``.gz`` (cut short, corrupt) ends with a warning: readers
    keep every record before the damage and those of the other files (a purge still refuses)."""
    offset = 0
    try:
        for block, offset, partial in iter_blocks(stream):
            yield block, offset, partial
            offset += len(block)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        reason = f"damaged compressed data, the rest of the file is unreadable ({exc})"
        _damaged(path, None, reason, offset)


def _reverse_lines(stream: BinaryIO, size: int) -> Iterator[tuple[bytes, int, bool]]:
    """Lines of a plain file from the last to the first: ``(line, offset, partial)``.

    The piece after the file's last newline comes first: empty (skipped) when the file ends
    with a newline, else a partial line.
    """
    pos = size
    rest = b""
    first = True
    while pos > 0:
        step = min(TAIL_BLOCK_SIZE, pos)
        pos -= step
        stream.seek(pos)
        data = stream.read(step)
        buf = data + rest if rest else data
        pieces = buf.split(b"\n")
        rest = pieces[0]
        start = pos + len(buf)
        for index in range(len(pieces) - 1, 0, -1):
            piece = pieces[index]
            start -= len(piece)
            if first:
                first = False
                if piece:
                    yield piece, start, True
            else:
                yield piece, start, False
            start -= 1
    if rest:
        yield rest, 0, first


def tail_file_records(
    stream: BinaryIO,
    compressed: bool,
    path: Path,
    limit: int,
    flt: RecordFilter,
    stats: ReadStats,
) -> list[dict[str, Any]]:
    """The newest ``limit`` matching records of one file, newest first.

    A plain file is read backwards, so the cost is the bytes of those records; a gzipped one
    cannot be, and is read through once keeping the last ``limit`` matches.
    """
    if limit <= 0:
        return []
    if compressed:
        kept: deque[dict[str, Any]] = deque(maxlen=limit)
        kept.extend(iter_file_records(stream, path, flt, stats))
        return list(reversed(kept))
    gate = None if flt.is_empty else Gate(flt)
    size = os.fstat(stream.fileno()).st_size
    found: list[dict[str, Any]] = []
    for line, offset, partial in _reverse_lines(stream, size):
        if not line.strip() or (gate is not None and not gate.admits(line)):
            continue
        if partial:
            _damaged(path, None, _PARTIAL, offset)
            continue
        record = _parse(line, stats)
        if record is None:
            _damaged(path, None, "not a JSON object", offset)
        elif record.get("tombstone") is not True and flt.matches(record):
            found.append(record)
            if len(found) >= limit:
                break
    return found
