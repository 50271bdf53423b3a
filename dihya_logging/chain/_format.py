"""The tamper-evidence chain's on-disk format, spelled once: every byte the chain writes or reads.

Floor 2 (logset). `_sealer` writes this format and `_verify` reads it; both build and parse
every line through this module (the store's purge too, for tombstones). Three kinds of text:

**Log lines.** A sealed line is the formatter's JSON object with the chain fields appended in
this exact compact form (so the payload text is recovered by cutting the suffix)::

    {<payload members>,"seq":<n>,"salt":"<32 hex>","commit":"<64 hex>","link":"<64 hex>"}

* ``commit = SHA-256(salt ‖ payload)``: ``payload`` is the UTF-8 text of the record as formatted
  (``{<payload members>}``), ``salt`` 16 random bytes. It binds the record without revealing it
  once the salt is gone (a purge keeps the commitment, drops the salt and the payload).
* ``link = H(previous link ‖ seq as 8 bytes big-endian ‖ commit)``, ``H`` = SHA-256, or
  HMAC-SHA-256 with the chain key. The record before ``seq`` 1 has the link ``00…00`` (32 bytes).

A purge rewrites a sealed line as a *tombstone* ``{"tombstone":true,"seq":…,"commit":…,
"link":…}`` (nothing else), or as an *anonymized* record: its new fields, ``"anonymized":true``
and the original ``seq``/``commit``/``link`` without the salt. Both stay in the chain (the link
covers only seq and commit); each must be listed by a later ``purge`` record (``tombstoned`` /
``resealed``: a list of seqs, ``[a, b]`` ranges, or `encode_seqs` text like ``"1-4,9"``).

**The state file** ``<log>.chain`` (`LogSet.chain_state_path`, private) is four fixed-width
text lines, so the head can be rewritten in place with one ``pwrite`` at `HEAD_OFFSET`::

    dihya-logging chain state v1
    mode hmac-sha256 key 3f9c0a1d22e4b5c6      (or: mode sha256 key ----------------)
    head 00000000000000001234 <64 hex>         (the last sealed record: seq and link)
    base 00000000000000000000 <64 hex>         (history up to this seq was pruned; 64 '?' = unknown)

The key itself is never written; ``key`` is `key_id`, a public fingerprint of it.

**The anchor file** (``$DIHYA_CHAIN_ANCHOR``) gets one JSON line per anchored head:
``{"time": …, "log": "<absolute log path>", "seq": n, "link": "<64 hex>"}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from binascii import hexlify, unhexlify
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Final, Optional, Union

from dihya_logging._logset import open_private
from dihya_logging._schema import format_timestamp

__all__ = [
    "ENV_CHAIN_ANCHOR",
    "ENV_CHAIN_KEY",
    "GENESIS_LINK",
    "HEAD_LINE_SIZE",
    "HEAD_OFFSET",
    "LINE_END_SIZE",
    "SALT_SIZE",
    "STATE_READ_SIZE",
    "ChainEntry",
    "ChainState",
    "KeyLike",
    "Linker",
    "SeqRanges",
    "anchor_line",
    "as_key",
    "commitment",
    "encode_seqs",
    "key_id",
    "line_end",
    "parse_anchor_line",
    "parse_entry",
    "parse_head",
    "parse_sealed",
    "parse_state",
    "read_state",
    "render_head",
    "render_state",
    "reseal_anonymized",
    "seal_text",
    "sealed_suffix",
    "split_sealed",
    "tombstone",
]

ENV_CHAIN_KEY: Final = "DIHYA_CHAIN_KEY"
"""Environment variable holding the chain key (text, used as its UTF-8 bytes)."""
ENV_CHAIN_ANCHOR: Final = "DIHYA_CHAIN_ANCHOR"
"""Environment variable naming the anchor file (see `Sealer` in `_sealer`)."""

GENESIS_LINK: Final = bytes(32)
"""The link "before" seq 1."""
SALT_SIZE: Final = 16
_SUFFIX_SIZE: Final = 193
"""Bytes of ``,"salt":"…","commit":"…","link":"…"}`` at the end of every sealed line."""
_SUFFIX_SPAN: Final = 220
"""How far from the end of a sealed line its suffix may start (the seq has up to 19 digits)."""
_SEQ_MARK: Final = b',"seq":'
_SEALED: Final = re.compile(
    rb',"seq":(0|[1-9][0-9]{0,18}),"salt":"([0-9a-f]{32})",'
    rb'"commit":"([0-9a-f]{64})","link":"([0-9a-f]{64})"\}'
)
LINE_END_SIZE: Final = 67
"""Bytes of `line_end`: how every sealed line ends on disk."""
_KEY_ID_LABEL: Final = b"dihya-logging chain key id"

KeyLike = Union[bytes, str, None]


def as_key(key: KeyLike) -> Optional[bytes]:
    """The key as bytes (text is taken as UTF-8); None or empty means no key."""
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"a chain key must be bytes or str, got {type(key).__name__}")
    return bytes(key) or None


def key_id(key: Optional[bytes]) -> str:
    """A short public fingerprint of the key, so `verify` can tell a wrong key from a forgery."""
    if key is None:
        return "-" * 16
    return hmac.digest(key, _KEY_ID_LABEL, "sha256")[:8].hex()


def commitment(salt: bytes, payload: bytes) -> bytes:
    """``SHA-256(salt ‖ payload)``: the record's hiding commitment."""
    return hashlib.sha256(salt + payload).digest()


class Linker:
    """Computes links: SHA-256 without a key, HMAC-SHA-256 (pads precomputed: fast) with one."""

    def __init__(self, key: Optional[bytes]) -> None:
        self.keyed = key is not None
        self._inner: Any = None
        self._outer: Any = None
        if key is not None:
            block = hashlib.sha256(key).digest() if len(key) > 64 else key
            block = block.ljust(64, b"\0")
            self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
            self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self.link: Callable[[bytes, int, bytes], bytes] = (
            self._hmac_link if key is not None else self._plain_link
        )

    @staticmethod
    def _plain_link(previous: bytes, seq: int, commit: bytes) -> bytes:
        return hashlib.sha256(previous + seq.to_bytes(8, "big") + commit).digest()

    def _hmac_link(self, previous: bytes, seq: int, commit: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(previous + seq.to_bytes(8, "big") + commit)
        outer = self._outer.copy()
        outer.update(inner.digest())
        digest: bytes = outer.digest()
        return digest


def sealed_suffix(seq: int, salt_hex: bytes, commit_hex: bytes, link_hex: bytes) -> bytes:
    """The chain suffix that replaces a payload's final ``}`` (hex given as lower-case ASCII)."""
    return b',"seq":%d,"salt":"%s","commit":"%s","link":"%s"}' % (
        seq,
        salt_hex,
        commit_hex,
        link_hex,
    )


def seal_text(text: str, seq: int, salt: bytes, commit: bytes, link: bytes) -> str:
    """The sealed line for a payload ``text`` (a non-empty JSON object), without newline."""
    suffix = sealed_suffix(seq, hexlify(salt), hexlify(commit), hexlify(link))
    return text[:-1] + suffix.decode("ascii")


def line_end(link_hex: bytes) -> bytes:
    """How a sealed line with this link ends on disk, newline included (`LINE_END_SIZE` bytes):
    a writer compares the end of the live file with it to know nobody wrote since."""
    return link_hex + b'"}\n'


def split_sealed(line: bytes) -> Optional[tuple[bytes, int, bytes, bytes, bytes]]:
    """``(payload, seq, salt hex, commit hex, link hex)`` of a sealed line (no newline), else None.

    The exact inverse of `sealed_suffix`: any other spelling of the chain fields (spaces,
    upper-case hex, a leading zero) is not a sealed line, so the bytes on disk are exactly
    determined by what the commitment and the link cover. Hex stays hex (the verifier compares
    it as bytes and converts only what is wrong).
    """
    n = len(line)
    start = line.rfind(_SEQ_MARK, n - _SUFFIX_SPAN if n > _SUFFIX_SPAN else 0, n - _SUFFIX_SIZE)
    match = _SEALED.fullmatch(line, start) if start > 0 else None
    if match is None:
        return None
    seq, salt, commit, link = match.groups()
    return line[:start] + b"}", int(seq), salt, commit, link


def parse_sealed(line: bytes) -> Optional[tuple[bytes, int, bytes, bytes, bytes]]:
    """``(payload, seq, salt, commit, link)`` of a sealed line (no newline), else None."""
    split = split_sealed(line)
    if split is None:
        return None
    payload, seq, salt, commit, link = split
    return payload, seq, unhexlify(salt), unhexlify(commit), unhexlify(link)


@dataclass(frozen=True)
class ChainEntry:
    """A line's place in the chain: ``kind`` is ``sealed``, ``tombstone`` or ``anonymized``."""

    kind: str
    seq: int
    commit: bytes
    link: bytes


def _hex32(value: object) -> Optional[bytes]:
    if not isinstance(value, str) or len(value) != 64 or value != value.lower():
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def parse_entry(line: bytes) -> Optional[ChainEntry]:
    """The chain entry of any chain line (sealed, tombstone or anonymized), else None."""
    sealed = parse_sealed(line)
    if sealed is not None:
        return ChainEntry("sealed", sealed[1], sealed[3], sealed[4])
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    seq = record.get("seq")
    commit = _hex32(record.get("commit"))
    link = _hex32(record.get("link"))
    if type(seq) is not int or seq < 1 or commit is None or link is None or "salt" in record:
        return None
    if record.get("tombstone") is True and len(record) == 4:
        return ChainEntry("tombstone", seq, commit, link)
    if record.get("anonymized") is True and "tombstone" not in record:
        return ChainEntry("anonymized", seq, commit, link)
    return None


def encode_seqs(seqs: Iterable[int]) -> str:
    """Sequence numbers as compact ranges, e.g. ``"1-4,9,12-13"`` (for purge events)."""
    ordered = sorted(set(seqs))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


class SeqRanges:
    """A set of sequence numbers read from a purge event: a list of ints or ``[a, b]`` pairs, or
    the text of `encode_seqs`. Anything else is ignored (it authorises nothing)."""

    def __init__(self, value: object) -> None:
        spans: list[tuple[int, int]] = []
        items: Iterable[object]
        if isinstance(value, str):
            items = value.split(",") if value else []
        elif isinstance(value, list):
            items = value
        else:
            items = []
        for item in items:
            span = _span(item)
            if span is not None:
                spans.append(span)
        spans.sort()
        merged: list[tuple[int, int]] = []
        for first, last in spans:
            if merged and first <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], last))
            else:
                merged.append((first, last))
        self._starts = [first for first, _ in merged]
        self._ends = [last for _, last in merged]

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __contains__(self, seq: object) -> bool:
        if type(seq) is not int:
            return False
        i = bisect_right(self._starts, seq) - 1
        return i >= 0 and self._ends[i] >= seq


def _span(item: object) -> Optional[tuple[int, int]]:
    if type(item) is int:
        return (item, item)
    if isinstance(item, list) and len(item) == 2 and all(type(x) is int for x in item):
        return (item[0], item[1])
    if isinstance(item, str):
        first, _, last = item.strip().partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            return (int(first), int(last or first))
    return None


def _chain_fields(record: dict[str, Any]) -> tuple[int, str, str]:
    seq, commit, link = record.get("seq"), record.get("commit"), record.get("link")
    entry = parse_entry(
        json.dumps({"tombstone": True, "seq": seq, "commit": commit, "link": link}).encode()
    )
    if entry is None:
        raise ValueError("not a chained record (needs seq, commit and link)")
    return entry.seq, entry.commit.hex(), entry.link.hex()


def tombstone(record: dict[str, Any]) -> dict[str, Any]:
    """What replaces a purged chained record: its ``seq``, ``commit`` and ``link``, nothing else.

    The commitment hides the record (its salt is gone) and keeps the chain verifiable; the
    purge record that follows must list the seq (``tombstoned``) or `verify` rejects it.
    """
    seq, commit, link = _chain_fields(record)
    return {"tombstone": True, "seq": seq, "commit": commit, "link": link}


def reseal_anonymized(record: dict[str, Any], new_record: dict[str, Any]) -> dict[str, Any]:
    """What replaces a chained record whose content a purge changed (anonymized, scrubbed).

    ``new_record``'s fields, marked ``"anonymized": true``, with the original ``seq``,
    ``commit`` and ``link`` (no salt: the original can no longer be confirmed by guessing). The
    purge record must list the seq (``resealed``); the new content is authorised, not proven.
    """
    seq, commit, link = _chain_fields(record)
    kept = {
        name: value
        for name, value in new_record.items()
        if name not in ("seq", "salt", "commit", "link", "tombstone", "anonymized")
    }
    kept.update(anonymized=True, seq=seq, commit=commit, link=link)
    return kept


# -- the state file -------------------------------------------------------------------------------
_STATE_MAGIC: Final = b"dihya-logging chain state v1\n"
_MODE_LINE_SIZE: Final = len(b"mode hmac-sha256 key 0123456789abcdef\n")
HEAD_OFFSET: Final = len(_STATE_MAGIC) + _MODE_LINE_SIZE
"""Where the head line starts in the state file (rewritten in place by every seal)."""
HEAD_LINE_SIZE: Final = len(b"head ") + 20 + 1 + 64 + 1
_UNKNOWN_LINK: Final = b"?" * 64
STATE_READ_SIZE: Final = 4096
"""More than a state file's size: one ``pread`` of this many bytes reads it whole."""


@dataclass
class ChainState:
    """What the state file says: the mode, the head (last sealed record) and the pruned base."""

    keyed: bool
    key_id: str
    head_seq: int = 0
    head_link: bytes = GENESIS_LINK
    base_seq: int = 0
    base_link: Optional[bytes] = GENESIS_LINK
    """Link of record ``base_seq`` (the last pruned one); None if it was lost."""

    @classmethod
    def fresh(cls, key: Optional[bytes]) -> ChainState:
        """The state of a log nobody sealed yet."""
        return cls(keyed=key is not None, key_id=key_id(key))


def render_head(seq: int, link_hex: bytes) -> bytes:
    """The fixed-width head line (`HEAD_LINE_SIZE` bytes, written in place at `HEAD_OFFSET`)."""
    return b"head %020d %s\n" % (seq, link_hex)


def parse_head(line: bytes) -> Optional[tuple[int, bytes]]:
    """``(seq, link hex)`` of a head line as `render_head` wrote it, else None."""
    if len(line) != HEAD_LINE_SIZE or line[:5] != b"head " or not line[5:25].isdigit():
        return None
    link_hex = line[26:90]
    if line[25:26] != b" " or line[90:] != b"\n" or link_hex.strip(b"0123456789abcdef"):
        return None
    return int(line[5:25]), link_hex


def render_state(state: ChainState) -> bytes:
    """The whole state file."""
    mode = b"hmac-sha256" if state.keyed else b"sha256".ljust(11)
    base = hexlify(state.base_link) if state.base_link is not None else _UNKNOWN_LINK
    return b"".join(
        (
            _STATE_MAGIC,
            b"mode %s key %s\n" % (mode, state.key_id.encode("ascii")),
            render_head(state.head_seq, hexlify(state.head_link)),
            b"base %020d %s\n" % (state.base_seq, base),
        )
    )


def _seq_line(line: bytes, name: bytes) -> tuple[int, Optional[bytes]]:
    fields = line.split()
    if len(fields) != 3 or fields[0] != name or not fields[1].isdigit():
        raise ValueError(f"bad {name.decode()} line")
    if fields[2] == _UNKNOWN_LINK:
        return int(fields[1]), None
    return int(fields[1]), bytes.fromhex(fields[2].decode("ascii"))


def parse_state(data: bytes) -> ChainState:
    """Parse a state file's bytes; ValueError if they are not one."""
    if not data.startswith(_STATE_MAGIC):
        raise ValueError("not a chain state file")
    lines = data[len(_STATE_MAGIC) :].split(b"\n")
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
        data = os.pread(fd, STATE_READ_SIZE, 0)
    finally:
        os.close(fd)
    return parse_state(data)


# -- the anchor file ------------------------------------------------------------------------------
def anchor_line(log: Path, seq: int, link: bytes) -> bytes:
    """One anchor file line: the head ``(seq, link)`` of the log at ``log``, timestamped now."""
    entry = {"time": format_timestamp(time.time()), "log": str(log), "seq": seq, "link": link.hex()}
    return (json.dumps(entry) + "\n").encode("ascii")


def parse_anchor_line(line: bytes) -> Optional[tuple[str, int, bytes, str]]:
    """``(log, seq, link, time)`` of an anchor line; None if it is damaged."""
    try:
        entry = json.loads(line)
        seq, link, log = entry["seq"], bytes.fromhex(entry["link"]), str(entry["log"])
    except (ValueError, KeyError, TypeError):
        return None
    if type(seq) is not int or len(link) != 32:
        return None
    return log, seq, link, str(entry.get("time", "?"))
