"""Line-level reading of one log set: oldest first, gzip transparently, damaged lines reported.

Floor 3 (backend, logset, linefilter). Reading is byte-first: a filter becomes a `Gate` of byte
needles (the JSON-encoded ``user_id``, ``event``, ``status`` values) searched in whole 1 MiB
blocks with ``bytes.find``, so a line that cannot match is never split out nor parsed; timestamps
are compared as text on the line's first key before any parsing. ``tail`` reads the newest file
backwards in 64 KiB blocks, so ``limit=N`` costs O(N) bytes, and opens older files only when the
newer ones hold fewer than N matches. Files are read up to the size they had when opened (under
the log set's lock), so a write in progress is never mistaken for damage.

Damage is skipped, never raised, and reported once per file: a `DamagedFileWarning` and a
`FileDamage` in `ReadStats.damage` (lines read, damaged lines, bytes unreadable, the first
problem). A cut or corrupt ``.gz`` yields every record before the damage (it is decompressed
incrementally, as ``zcat`` does). Tombstones are skipped silently. `ReadStats` counts the bytes
read from disk (compressed bytes for ``.gz``), which is how the tests prove that ``tail`` reads
only the end. Purges read strictly (``salvage=False``): a damaged ``.gz`` fails them.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, Optional

from dihya_logging._logset import open_private
from dihya_logging.store._backend import RecordFilter
from dihya_logging.store._linefilter import Gate, candidate_spans

__all__ = [
    "BLOCK_SIZE",
    "TAIL_BLOCK_SIZE",
    "CountingReader",
    "DamagedFileWarning",
    "FileDamage",
    "ReadStats",
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
_GZIP_CHUNK: Final = 1 << 16
"""Compressed bytes fed to the decompressor at a time when salvaging."""
_SALVAGE_STEP: Final = 256
"""After a decompression error, the chunk is fed again in steps this small, then the failing
step byte by byte: everything before the damage is kept."""


def _pick_loads() -> Callable[[bytes], Any]:
    """orjson's parser when installed (the ``fast`` extra), else the standard library's."""
    try:
        from orjson import loads
    except ImportError:  # pragma: no cover - exercised when orjson is absent
        return json.loads
    return loads


load_line: Callable[[bytes], Any] = _pick_loads()
"""Parse one line (bytes) of JSON; raises ValueError when it is not JSON."""


@dataclass
class FileDamage:
    """What one file of a read could not give: counted per file, reported once."""

    file: str
    lines_read: int = 0
    """Complete lines read from the file (damaged ones included)."""
    damaged_lines: int = 0
    bytes_unreadable: int = 0
    """Bytes of the damaged lines (decompressed bytes in a ``.gz``)."""
    compressed_bytes_unreadable: int = 0
    """Bytes of a ``.gz`` after the point where it stopped decompressing."""
    first_problem: str = ""
    compressed: str = ""
    """Why a ``.gz`` stopped decompressing (empty when it did not)."""

    def note(self, problem: str) -> None:
        """Remember the first problem seen (the summary names it)."""
        if not self.first_problem:
            self.first_problem = problem

    def skip(self, line: bytes, partial: bool, where: str) -> None:
        """Count one damaged line (``where`` it is, for the summary): a partial one has no
        newline, a line that is not JSON had one."""
        self.damaged_lines += 1
        self.bytes_unreadable += len(line) + (not partial)
        self.note(f"{where}: {_PARTIAL if partial else _NOT_JSON}")

    @property
    def found(self) -> bool:
        """Whether anything was unreadable."""
        return bool(self.first_problem or self.compressed)

    def summary(self) -> str:
        """One line: the file, what was read, what was not."""
        text = (
            f"{self.file}: {self.lines_read - self.damaged_lines:,} lines read, "
            f"{self.damaged_lines:,} damaged line(s) ({self.bytes_unreadable:,} bytes) skipped"
        )
        if self.compressed:
            text += (
                f", {self.compressed}: {self.compressed_bytes_unreadable:,} compressed bytes "
                "unreadable"
            )
        if self.first_problem:
            text += f" (first damaged line: {self.first_problem})"
        return text

    def as_dict(self) -> dict[str, Any]:
        """For audit events: the file's base name and the counts."""
        return {
            "file": os.path.basename(self.file),
            "lines_read": self.lines_read - self.damaged_lines,
            "damaged_lines": self.damaged_lines,
            "bytes_unreadable": self.bytes_unreadable,
            "compressed_bytes_unreadable": self.compressed_bytes_unreadable,
        }


class DamagedFileWarning(UserWarning):
    """A file of the log had unreadable parts (skipped): one warning per file and read."""

    def __init__(self, damage: FileDamage) -> None:
        self.damage = damage
        super().__init__(damage.summary())


@dataclass
class ReadStats:
    """Counters of one store's reading: bytes read from disk, files opened, lines parsed."""

    bytes_read: int = 0
    files_opened: int = 0
    lines_parsed: int = 0
    progress: Optional[Callable[[int], None]] = None
    """Called with the running ``bytes_read`` after every block (the CLI shows progress)."""
    damage: list[FileDamage] = field(default_factory=list)
    """Files with unreadable parts, one entry per file and read, in reading order."""

    def report(self, damage: FileDamage) -> None:
        """Record a damaged file and warn once about it."""
        self.damage.append(damage)
        warnings.warn(DamagedFileWarning(damage), stacklevel=4)

    def add(self, count: int) -> None:
        """Account ``count`` bytes read from disk."""
        self.bytes_read += count
        if self.progress is not None:
            self.progress(self.bytes_read)


class CountingReader(io.RawIOBase):
    """A read-only raw file over a descriptor that counts every byte it reads into `ReadStats`.

    Reads stop at ``size``, the file's size when it was opened (under the lock: whole lines),
    so what writers append meanwhile is left for the next read.
    """

    def __init__(self, fd: int, stats: ReadStats) -> None:
        super().__init__()
        self._file = io.FileIO(fd, "rb", closefd=True)
        self._stats = stats
        self.size = os.fstat(fd).st_size

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """Seekable like the file it wraps."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer`` (never past `size`) and count the bytes."""
        room = self.size - self._file.tell()
        if room <= 0:
            return 0
        view = memoryview(buffer)
        count = self._file.readinto(view[:room] if room < len(view) else view) or 0
        self._stats.add(count)
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move in the underlying file (its end is `size`)."""
        if whence == os.SEEK_END:
            return self._file.seek(self.size + offset)
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


def open_log_file(path: Path, stats: ReadStats, *, salvage: bool = False) -> tuple[BinaryIO, bool]:
    """Open one file of the set for reading (refusing symlinks); gunzip it if it is gzip.

    Returns the decompressed byte stream and whether it was compressed (sniffed from the
    magic bytes, whatever the name says). A damaged ``.gz`` raises when read (EOFError,
    zlib.error, BadGzipFile) unless ``salvage``: then it ends where the damage starts, and its
    stream's ``damage`` says where and how much is lost. Raises OSError.
    """
    raw = CountingReader(open_private(path, os.O_RDONLY), stats)
    stats.files_opened += 1
    try:
        head = os.pread(raw.fileno(), 2, 0)
    except OSError:
        raw.close()
        raise
    if head == _GZIP_MAGIC:
        if salvage:
            return _SalvagingGzipReader(raw), True  # type: ignore[return-value]
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


class _SalvagingGzipReader:
    """Decompresses a gzip file (one or more members) incrementally, keeping all it can.

    Where the data is cut short or corrupt, reading ends (no exception) and `damage` tells
    what happened and how many compressed bytes could not be read: every byte before the
    damage is returned, as ``zcat`` does.
    """

    def __init__(self, raw: CountingReader) -> None:
        self._raw = raw
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""
        self._done = False
        self.damage: Optional[tuple[str, int]] = None
        """``(reason, compressed bytes unreadable)`` once damage was met."""

    def fileno(self) -> int:
        """The compressed file's descriptor."""
        return self._raw.fileno()

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` decompressed bytes (empty only at the end of what is readable)."""
        want = size if size > 0 else 1 << 62
        out: list[bytes] = []
        have = 0
        while have < want:
            if self._pending:
                piece, self._pending = self._pending, b""
            elif self._done:
                break
            else:
                piece = self._inflate()
            if have + len(piece) > want:
                piece, self._pending = piece[: want - have], piece[want - have :]
            out.append(piece)
            have += len(piece)
        return b"".join(out)

    def _inflate(self) -> bytes:
        """The next decompressed piece (possibly empty), following members; marks the end."""
        inflater = self._inflater
        if inflater.eof:
            data = inflater.unused_data
            while not data.strip(b"\0"):  # between members, or zero padding after the last
                more = self._raw.read(_GZIP_CHUNK)
                if not more:
                    self._done = True
                    return b""
                data = more
            self._inflater = inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            data = inflater.unconsumed_tail or self._raw.read(_GZIP_CHUNK)
            if not data:
                self._stop("compressed data cut short", self._raw.size)
                return b""
        start = self._raw.tell() - len(data)  # compressed offset of data[0]
        before = inflater.copy()
        try:
            return inflater.decompress(data, BLOCK_SIZE)
        except zlib.error as exc:
            return self._salvage(before, data, start, exc)

    def _salvage(self, inflater: Any, data: bytes, start: int, error: zlib.error) -> bytes:
        """Decompress ``data`` from the state before it, in ever smaller steps, up to the byte
        where the damage is detected: everything before it is kept."""
        out: list[bytes] = []
        offset = 0
        for step in (_SALVAGE_STEP, 1):
            end = len(data) if step == _SALVAGE_STEP else min(offset + _SALVAGE_STEP, len(data))
            while offset < end:
                before = inflater.copy()
                try:
                    out.append(inflater.decompress(data[offset : offset + step]))
                except zlib.error:
                    inflater = before
                    break
                offset += step
        where = start + offset
        self._stop(f"corrupt compressed data near byte {where:,} ({error})", where)
        return b"".join(out)

    def _stop(self, reason: str, offset: int) -> None:
        """Record the damage: the compressed bytes from ``offset`` on cannot be read."""
        self._done = True
        self.damage = (reason, max(self._raw.size - offset, 0))

    def close(self) -> None:
        """Close the file."""
        self._raw.close()

    def __enter__(self) -> _SalvagingGzipReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


_PARTIAL: Final = "incomplete last line (crash)"
_NOT_JSON: Final = "not a JSON object"


def iter_file_records(
    stream: BinaryIO, path: Path, flt: RecordFilter, stats: ReadStats
) -> Iterator[dict[str, Any]]:
    """Matching records of one open file, in file order; damage skipped, reported once.

    A damaged line the filter's bytes rule out is not looked at (it cannot be a match).
    """
    gate = None if flt.is_empty else Gate(flt)
    damage = FileDamage(str(path))
    for block, _offset, partial in iter_blocks(stream):
        for start, end in candidate_spans(block, gate):
            line = block[start:end]
            if not line.strip() or (gate is not None and not gate.admits(line)):
                continue
            if partial:
                damage.skip(line, True, f"line {damage.lines_read + 1}")
                continue
            record = _parse(line, stats)
            if record is None:
                number = damage.lines_read + block.count(b"\n", 0, start) + 1
                damage.skip(line, False, f"line {number}")
            elif record.get("tombstone") is not True and flt.matches(record):
                yield record
        damage.lines_read += block.count(b"\n") + partial
    salvaged: Optional[tuple[str, int]] = getattr(stream, "damage", None)
    if salvaged is not None:
        damage.compressed, damage.compressed_bytes_unreadable = salvaged
    if damage.found:
        stats.report(damage)


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
    size = stream.seek(0, os.SEEK_END)  # the size when opened: no line written since
    damage = FileDamage(str(path))
    found: list[dict[str, Any]] = []
    for line, offset, partial in _reverse_lines(stream, size):
        damage.lines_read += not partial
        if not line.strip() or (gate is not None and not gate.admits(line)):
            continue
        if partial:
            damage.skip(line, True, f"the line at byte {offset}")
            continue
        record = _parse(line, stats)
        if record is None:
            damage.skip(line, False, f"the line at byte {offset}")
        elif record.get("tombstone") is not True and flt.matches(record):
            found.append(record)
            if len(found) >= limit:
                break
    if damage.found:
        stats.report(damage)
    return found
