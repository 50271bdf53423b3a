"""Tamper evidence, the writing side: `Sealer` seals each line into the hash chain.

Floor 3 (logset, chain format). The handler calls the sealer under the log set's lock, so the
chain runs across processes and rotations in the order lines reach the disk. Each sealed record
gets ``seq``, ``salt``, ``commit`` and ``link`` (the bytes: `_format`). A purge replaces a
record by a tombstone (`_format.tombstone`) that keeps ``seq``/``commit``/``link`` (so the chain
still verifies) and drops the payload and salt; the ``purge`` record appended afterwards lists
those seqs, and `verify` accepts no tombstone it does not list.

Sealer state: the last ``(seq, link)`` is cached in memory and trusted only while the live file
still ends with this sealer's last line (or the handler says so); otherwise it is read back from
the files and the state file ``<log>.chain`` (`StateFile`), whose head line every seal rewrites
in place (one ``pwrite``): that head is what `verify` compares the end of the log with, so a cut
tail shows. This module also finds the first and last chain entries of a file (`last_entry`…),
which only the writer needs (to recover its head, to move the pruned base at retention).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import time
import weakref
from binascii import hexlify, unhexlify
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Optional

from dihya_logging._logset import LogSet, PathLike, open_private
from dihya_logging.chain._format import (
    ENV_CHAIN_ANCHOR,
    GENESIS_LINK,
    HEAD_LINE_SIZE,
    HEAD_OFFSET,
    LINE_END_SIZE,
    SALT_SIZE,
    STATE_READ_SIZE,
    ChainEntry,
    ChainState,
    KeyLike,
    Linker,
    anchor_line,
    as_key,
    commitment,
    key_id,
    line_end,
    parse_entry,
    parse_head,
    parse_state,
    read_state,
    render_head,
    render_state,
    sealed_suffix,
)

__all__ = ["Sealer", "StateFile", "first_entry", "last_entry", "last_entry_of_fd"]

_SALT_POOL: Final = SALT_SIZE * 256
_STATE_CHECK_SECONDS: Final = 1.0
_BLOCK: Final = 1 << 16
_SCAN_LIMIT: Final = 8 << 20
"""How far back from the end a tail search looks for a chain line before giving up."""
_live_sealers: weakref.WeakSet[Sealer] = weakref.WeakSet()


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
            return parse_state(os.pread(self._open(), STATE_READ_SIZE, 0))
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


def _after_fork() -> None:
    """A forked child must not reuse its parent's salts nor trust its parent's cached head."""
    for sealer in list(_live_sealers):
        sealer._forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class Sealer:
    """Seals formatted records into the chain of one log set (one per handler).

    ``key`` (bytes) makes links HMAC-SHA-256: without it, anyone able to edit the files can
    recompute every hash. ``anchor`` (or ``$DIHYA_CHAIN_ANCHOR``) names a file, ideally owned by
    another account or append-only, where the head is appended at most every
    ``anchor_interval`` seconds, at each rotation and at `close`. All methods but `close` must
    be called under ``log_set.lock()``.
    """

    def __init__(
        self,
        log_set: LogSet,
        key: KeyLike = None,
        *,
        anchor: Optional[PathLike] = None,
        anchor_interval: float = 60.0,
    ) -> None:
        self.log_set = log_set
        self.chain_state_path = log_set.chain_state_path
        self._key = as_key(key)
        self._key_id = key_id(self._key)
        self._link = Linker(self._key).link
        self._refuse_other_key()
        if anchor is None:
            anchor = os.environ.get(ENV_CHAIN_ANCHOR) or None
        self.anchor_path = Path(os.path.abspath(os.fspath(anchor))) if anchor else None
        self.anchor_interval = float(anchor_interval)
        self._next_anchor = time.monotonic() + self.anchor_interval
        self._seq = -1  # -1: the head must be read back before the next seal
        self._head = GENESIS_LINK
        self._tail = b""  # how the live file ends after our last line: '<link hex>"}\n'
        self._state = StateFile(self.chain_state_path)
        self._next_check = 0.0
        self._salts = b""
        self._salt_at = _SALT_POOL
        _live_sealers.add(self)

    def __repr__(self) -> str:
        return f"Sealer({self.log_set!r}, keyed={self._key is not None})"

    def _refuse_other_key(self) -> None:
        """ValueError if the log is already sealed with another key (or with/without one):
        continuing would break the chain for every verifier."""
        try:
            state = read_state(self.chain_state_path)
        except (OSError, ValueError):  # unreadable: rebuilt at the first seal
            return
        if state is None or (state.keyed, state.key_id) == (self._key is not None, self._key_id):
            return
        if not state.keyed:
            reason = "without a key, but a chain key was given"
        elif self._key is None:
            reason = "with a key: give it (chain_key or $DIHYA_CHAIN_KEY)"
        else:
            reason = f"with another key (key id {state.key_id}, not {self._key_id})"
        raise ValueError(f"the log {self.log_set.path} is sealed {reason}")

    # -- the hot path ------------------------------------------------------------------------------
    def seal(self, text: str, fd: int, size: int, clean: bool = False) -> str:
        """The sealed line for ``text`` (a JSON object line, no newline) about to be appended.

        ``fd`` is the live file (readable), ``size`` its size; ``clean`` may say that it ends
        with the line this sealer sealed last (so no read is needed). The line must be written
        UTF-8 encoded (with ``backslashreplace``); `seal_bytes` takes the bytes themselves.
        """
        if not (text[:1] == "{" and text[-1:] == "}" and len(text) > 2 and "\n" not in text):
            text = json.dumps({"text": text}, ensure_ascii=False)
        suffix = self._seal(text.encode("utf-8", "backslashreplace"), fd, size, clean)
        return text[:-1] + suffix.decode("ascii")

    def seal_bytes(self, data: bytes, fd: int, size: int, clean: bool = False) -> bytes:
        """`seal` for the encoded line as it will be written (``data`` ends with its newline).

        The commitment covers exactly these bytes, so any ASCII-compatible encoding works, and
        nothing is decoded or encoded again on the hot path.
        """
        if not (data[:1] == b"{" and data[-2:] == b"}\n" and data.find(b"\n") == len(data) - 1):
            text = data.decode("utf-8", "backslashreplace").rstrip("\n")
            data = json.dumps({"text": text}, ensure_ascii=False).encode("utf-8") + b"\n"
        if len(data) < 4:
            data = b'{"text":"{}"}\n'
        return data[:-2] + self._seal(data[:-1], fd, size, clean) + b"\n"

    def _seal(self, payload: bytes, fd: int, size: int, clean: bool) -> bytes:
        """Seal one payload (a JSON object's bytes); the chain suffix replacing its final brace."""
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + _STATE_CHECK_SECONDS
            if not self._state.is_current():
                self._seq = -1
        if self._seq < 0 or not clean:
            self._find_head(fd, size)
        if self.anchor_path is not None and now >= self._next_anchor:
            self._next_anchor = now + self.anchor_interval
            self._anchor(self._seq, self._head)
        seq = self._seq + 1
        at = self._salt_at
        if at >= _SALT_POOL:
            self._salts = os.urandom(_SALT_POOL)
            at = 0
        salt = self._salts[at : at + SALT_SIZE]
        self._salt_at = at + SALT_SIZE
        commit = commitment(salt, payload)
        link = self._link(self._head, seq, commit)
        link_hex = hexlify(link)
        self._seq, self._head, self._tail = seq, link, line_end(link_hex)
        if self._state.fd is not None:
            try:
                os.pwrite(self._state.fd, render_head(seq, link_hex), HEAD_OFFSET)
            except OSError:
                self._state.close()
                self._seq = -1  # reopen (or rebuild) the state at the next seal
        return sealed_suffix(seq, hexlify(salt), hexlify(commit), link_hex)

    def _find_head(self, fd: int, size: int) -> None:
        """Make ``self._seq``/``self._head`` the chain's head before sealing the next line.

        Cheap cases first: the live file still ends with our last line, or with the head the
        state file names (another process wrote since). Otherwise read it back (`_recover`).
        """
        if self._seq >= 0 and size >= LINE_END_SIZE and self._state.fd is not None:
            try:
                tail = os.pread(fd, LINE_END_SIZE, size - LINE_END_SIZE)
                if tail == self._tail:
                    return
                head = parse_head(os.pread(self._state.fd, HEAD_LINE_SIZE, HEAD_OFFSET))
                if head is not None and tail == line_end(head[1]):
                    self._seq, self._head, self._tail = head[0], unhexlify(head[1]), tail
                    return
            except OSError:
                pass
        self._recover(fd, size)

    # -- finding the head --------------------------------------------------------------------------
    def _recover(self, fd: int, size: int) -> None:
        """Read the head back: the last chain line on disk, unless the state file is ahead.

        A state head ahead of the disk means sealed records never reached the disk or were
        cut: the chain continues after them, so the gap stays visible to `verify`. The one
        exception is a crash in the middle of the last line: its seq is sealed again.
        """
        disk, partial = last_entry_of_fd(fd, size)
        try:
            state = self._state.read()
        except OSError:  # an unusable state file (a planted symlink...): seal on without it
            self._state.close()
            state = None
        if disk is None and state is None:
            disk = self._newest_rotated_entry()
        if state is None:
            head_seq, head = (disk.seq, disk.link) if disk is not None else (0, GENESIS_LINK)
            with contextlib.suppress(OSError):
                self._rebuilt_state(disk)
        elif disk is None or state.head_seq > disk.seq + (1 if partial else 0):
            head_seq, head = state.head_seq, state.head_link
        else:
            head_seq, head = disk.seq, disk.link
        self._seq, self._head, self._tail = head_seq, head, line_end(hexlify(head))

    def _newest_rotated_entry(self) -> Optional[ChainEntry]:
        for _, path in self.log_set.rotated():
            with contextlib.suppress(OSError, EOFError):
                entry = last_entry(path)
                if entry is not None:
                    return entry
        return None

    def _rebuilt_state(self, head: Optional[ChainEntry]) -> ChainState:
        """A new state file: for a fresh log, or (state lost) from the files as they are now."""
        state = ChainState.fresh(self._key)
        if head is not None:
            state.head_seq, state.head_link = head.seq, head.link
            first = self._oldest_entry()
            if first is not None and first.seq > 1:
                state.base_seq, state.base_link = first.seq - 1, None
        self._state.write(state)
        return state

    def _oldest_entry(self) -> Optional[ChainEntry]:
        for path in self.log_set.files():
            with contextlib.suppress(OSError, EOFError):
                entry = first_entry(path)
                if entry is not None:
                    return entry
        return None

    # -- hooks from the handler ----------------------------------------------------------------
    def after_rotation(self) -> None:
        """The live file was just rotated: read the head from the state at the next seal."""
        self._seq = -1
        if self.anchor_path is not None:
            with contextlib.suppress(OSError):
                state = self._state.read()
                if state is not None:
                    self._anchor(state.head_seq, state.head_link)

    def before_prune(self, paths: Sequence[Path]) -> None:
        """Backups ``paths`` (the oldest) are about to be deleted: move the state's base past them.

        Never raises: retention must not fail because the chain could not be updated.
        """
        with contextlib.suppress(OSError, ValueError, EOFError):
            newest: Optional[ChainEntry] = None
            for path in paths:
                with contextlib.suppress(OSError, EOFError):
                    entry = last_entry(Path(path))
                    if entry is not None and (newest is None or entry.seq > newest.seq):
                        newest = entry
            state = self._state.read()
            if state is None:
                state = self._rebuilt_state(self._newest_entry_on_disk())
            if newest is not None:
                base_seq, base_link = newest.seq, newest.link
            else:  # unreadable: the retained history starts at the next file's first record
                kept = [p for p in self.log_set.files() if p not in set(map(Path, paths))]
                first = first_entry(kept[0]) if kept else None
                if first is None:
                    return
                base_seq, base_link = first.seq - 1, None
            if base_seq > state.base_seq:
                state.base_seq, state.base_link = base_seq, base_link
                self._state.write(state)

    def _newest_entry_on_disk(self) -> Optional[ChainEntry]:
        with contextlib.suppress(OSError):
            entry = last_entry(self.log_set.path)
            if entry is not None:
                return entry
        return self._newest_rotated_entry()

    def close(self) -> None:
        """Anchor the head found on disk (if an anchor is set) and close the state file.

        Takes no lock: it only reads the end of the live file.
        """
        if self.anchor_path is not None:
            entry = self._newest_entry_on_disk()
            if entry is not None:
                self._anchor(entry.seq, entry.link)
        self._state.close()

    def _anchor(self, seq: int, link: bytes) -> None:
        """Append the head to the anchor file (private); errors ignored: logging goes on."""
        if self.anchor_path is None or seq <= 0:
            return
        with contextlib.suppress(OSError):
            fd = open_private(self.anchor_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, anchor_line(self.log_set.path, seq, link))
            finally:
                os.close(fd)

    def _forget(self) -> None:
        """After a fork: new salts, head read back, own state descriptor."""
        self._salt_at = _SALT_POOL
        self._seq = -1
        self._state.close()  # the child's copy only; reopened at the next seal
