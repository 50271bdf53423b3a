"""The chain's state file beside the log, and finding the first or last chain entry of a file.

Floor 2 (logset, chain). The state file ``<log>.chain`` (private, ``0o600``) is four fixed-width
text lines, so the head can be rewritten in place with one ``pwrite``::

    dihya-logging chain state v1
    mode hmac-sha256 key 3f9c0a1d22e4b5c6      (or: mode sha256 key ----------------)
    head 00000000000000001234 <64 hex>         (the last sealed record: seq and link)
    base 00000000000000000000 <64 hex>         (history up to this seq was pruned; 64 '?' = unknown)

The key itself is never written; ``key`` is `chain.key_id`, a public fingerprint of it.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Optional

from dihya_logging._logset import LogSet, open_private
from dihya_logging._schema import format_timestamp
from dihya_logging.chain._format import GENESIS_LINK, ChainEntry, key_id, parse_entry

__all__ = [
    "HEAD_OFFSET",
    "ChainState",
    "StateFile",
    "append_anchor",
    "first_entry",
    "last_entry",
    "last_entry_of_fd",
    "read_state",
    "render_head",
    "render_state",
    "state_path",
]

_MAGIC: Final = b"dihya-logging chain state v1\n"
_MODE_LINE: Final = len(b"mode hmac-sha256 key 0123456789abcdef\n")
HEAD_OFFSET: Final = len(_MAGIC) + _MODE_LINE
_SEQ_LINE: Final = len(b"head ") + 20 + 1 + 64 + 1
STATE_SIZE: Final = HEAD_OFFSET + 2 * _SEQ_LINE
_UNKNOWN: Final = b"?" * 64
_BLOCK: Final = 1 << 16
_SCAN_LIMIT: Final = 8 << 20
"""How far back from the end a tail search looks for a chain line before giving up."""


def state_path(log_set: LogSet) -> Path:
    """``generation.log.chain``: the chain's state file beside the log."""
    return log_set.path.with_name(log_set.path.name + ".chain")


@dataclass
class ChainState:
    """What the state file says: the mode, the head (last sealed record) and the pruned base."""

    keyed: bool
    key_id: str
    head_seq: int = 0
    head_link: bytes = GENESIS_LINK
    base_seq: int = 0
    base_link: Optional[bytes] = GENESIS_LINK
    """Link of record ``base_seq`` (the last pruned one); None if it was lost (see `integrity`)."""

    @classmethod
    def fresh(cls, key: Optional[bytes]) -> ChainState:
        """The state of a log nobody sealed yet."""
        return cls(keyed=key is not None, key_id=key_id(key))


def render_head(seq: int, link: bytes) -> bytes:
    """The fixed-width head line (written in place at `HEAD_OFFSET`)."""
    return b"head %020d %s\n" % (seq, link.hex().encode("ascii"))


def render_state(state: ChainState) -> bytes:
    """The whole state file."""
    mode = b"hmac-sha256" if state.keyed else b"sha256".ljust(11)
    base = state.base_link.hex().encode("ascii") if state.base_link is not None else _UNKNOWN
    return b"".join(
        (
            _MAGIC,
            b"mode %s key %s\n" % (mode, state.key_id.encode("ascii")),
            render_head(state.head_seq, state.head_link),
            b"base %020d %s\n" % (state.base_seq, base),
        )
    )


def _seq_line(line: bytes, name: bytes) -> tuple[int, Optional[bytes]]:
    fields = line.split()
    if len(fields) != 3 or fields[0] != name or not fields[1].isdigit():
        raise ValueError(f"bad {name.decode()} line")
    if fields[2] == _UNKNOWN:
        return int(fields[1]), None
    return int(fields[1]), bytes.fromhex(fields[2].decode("ascii"))


def parse_state(data: bytes) -> ChainState:
    """Parse a state file's bytes; ValueError if they are not one."""
    if not data.startswith(_MAGIC):
        raise ValueError("not a chain state file")
    lines = data[len(_MAGIC) :].split(b"\n")
    mode = lines[0].split()
    if len(mode) != 4 or mode[0] != b"mode" or mode[2] != b"key":
        raise ValueError("bad mode line")
    if mode[1] not in (b"sha256", b"hmac-sha256"):
        raise ValueError(f"unknown chain mode {mode[1]!r}")
    head_seq, head_link = _seq_line(lines[1], b"head")
    base_seq, base_link = _seq_line(lines[2], b"base")
    if (
        head_link is None
        or len(head_link) != 32
        or (base_link is not None and len(base_link) != 32)
    ):
        raise ValueError("bad link")
    return ChainState(
        keyed=mode[1] == b"hmac-sha256",
        key_id=mode[3].decode("ascii"),
        head_seq=head_seq,
        head_link=head_link,
        base_seq=base_seq,
        base_link=base_link,
    )


def read_state(path: Path) -> Optional[ChainState]:
    """The state file at ``path``; None if it does not exist. ValueError if it is damaged."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        data = os.pread(fd, 4096, 0)
    finally:
        os.close(fd)
    return parse_state(data)


def _entry_in_block(block: bytes) -> Optional[ChainEntry]:
    """The last chain entry among the complete lines of ``block`` (each ending in a newline)."""
    end = len(block)
    while end > 0:
        start = block.rfind(b"\n", 0, end - 1) + 1
        entry = parse_entry(block[start : end - 1])
        if entry is not None:
            return entry
        end = start
    return None


def last_entry_of_fd(fd: int, size: int) -> tuple[Optional[ChainEntry], bool]:
    """The last chain entry of an uncompressed file open as ``fd`` (its first ``size`` bytes),
    and whether the file ends with a partial line (no final newline): a crashed writer."""
    if size <= 0:
        return None, False
    partial = os.pread(fd, 1, size - 1) != b"\n"
    pos = size
    carry = b""  # the start of lines already read: ends with a newline (or a partial line)
    block = 4096  # the last line is usually in the last few kilobytes
    while pos > 0 and size - pos < _SCAN_LIMIT:
        start = max(0, pos - block)
        block = _BLOCK
        data = os.pread(fd, pos - start, start) + carry
        pos = start
        if pos > 0:
            cut = data.find(b"\n") + 1
            if cut == 0:  # no line starts in this block: read further back
                carry = data
                continue
            carry, body = data[:cut], data[cut:]
        else:
            carry, body = b"", data
        entry = _entry_in_block(body[: body.rfind(b"\n") + 1])
        if entry is not None:
            return entry, partial
    return None, partial


def last_entry(path: Path) -> Optional[ChainEntry]:
    """The last chain entry of a log file (``.gz`` ones decompressed); None if none."""
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as stream:
            found: Optional[ChainEntry] = None
            rest = b""
            while True:
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                block = rest + chunk
                cut = block.rfind(b"\n") + 1
                entry = _entry_in_block(block[:cut])
                if entry is not None:
                    found = entry
                rest = block[cut:]
            return found
    fd = open_private(path, os.O_RDONLY)
    try:
        return last_entry_of_fd(fd, os.fstat(fd).st_size)[0]
    finally:
        os.close(fd)


def first_entry(path: Path) -> Optional[ChainEntry]:
    """The first chain entry of a log file (within its first few megabytes); None if none."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as stream:
        for count, line in enumerate(stream):
            entry = parse_entry(line.rstrip(b"\n"))
            if entry is not None or count > 10_000:
                return entry
    return None


class StateFile:
    """The state file as one sealer holds it open: read, rewritten, followed if replaced.

    ``fd`` is None until the first `read` or `write` (which create the file, ``0o600``) and
    after `close`; the sealer's hot path writes the head line through ``fd`` directly.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: Optional[int] = None

    def _open(self) -> int:
        if self.fd is None:
            self.fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        return self.fd

    def read(self) -> Optional[ChainState]:
        """The content (None if the file is new or damaged); OSError if it cannot be opened."""
        try:
            return parse_state(os.pread(self._open(), 4096, 0))
        except ValueError:
            return None

    def write(self, state: ChainState) -> None:
        """Rewrite the whole file."""
        fd = self._open()
        data = render_state(state)
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))

    def is_current(self) -> bool:
        """Whether ``fd`` is still the file at the path (not deleted or replaced); False (and
        closed) otherwise, and while nothing is open, so that it is opened again."""
        if self.fd is None:
            return False
        try:
            held, now = os.fstat(self.fd), os.stat(self.path)
        except OSError:
            self.close()
            return False
        if (held.st_dev, held.st_ino) != (now.st_dev, now.st_ino):
            self.close()
            return False
        return True

    def close(self) -> None:
        """Close (idempotent; after a fork it closes the child's copy only)."""
        fd, self.fd = self.fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def append_anchor(anchor: Path, log: Path, seq: int, link: bytes) -> None:
    """Append ``{"time", "log", "seq", "link"}`` to the anchor file (private); errors ignored."""
    entry = {"time": format_timestamp(time.time()), "log": str(log), "seq": seq, "link": link.hex()}
    with contextlib.suppress(OSError):
        fd = open_private(anchor, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, (json.dumps(entry) + "\n").encode("ascii"))
        finally:
            os.close(fd)
