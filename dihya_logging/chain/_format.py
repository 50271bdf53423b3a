"""The tamper-evidence chain's on-disk format: sealed lines, commitments, links, seq ranges.

Floor 2 (standard library only). `integrity` writes this format and `verify` reads it; both take
every byte layout from here. A sealed line is the formatter's JSON object with the chain fields
appended in this exact compact form (so the payload text is recovered by cutting the suffix)::

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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from binascii import unhexlify
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable, Final, Optional, Union

__all__ = [
    "ENV_CHAIN_ANCHOR",
    "ENV_CHAIN_KEY",
    "GENESIS_LINK",
    "SALT_SIZE",
    "SEALED",
    "SUFFIX_SIZE",
    "ChainEntry",
    "Linker",
    "SeqRanges",
    "as_key",
    "commitment",
    "encode_seqs",
    "key_id",
    "parse_entry",
    "parse_sealed",
    "reseal_anonymized",
    "seal_text",
    "suffix_start",
    "tombstone",
]

ENV_CHAIN_KEY: Final = "DIHYA_CHAIN_KEY"
"""Environment variable holding the chain key (text, used as its UTF-8 bytes)."""
ENV_CHAIN_ANCHOR: Final = "DIHYA_CHAIN_ANCHOR"
"""Environment variable naming the anchor file (see `integrity.Sealer`)."""

GENESIS_LINK: Final = bytes(32)
SALT_SIZE: Final = 16
SUFFIX_SIZE: Final = 193
"""Bytes of ``,"salt":"…","commit":"…","link":"…"}`` at the end of every sealed line."""

_SEQ_MARK: Final = b',"seq":'
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


def seal_text(text: str, seq: int, salt: bytes, commit: bytes, link: bytes) -> str:
    """The sealed line for a payload ``text`` (a non-empty JSON object), without newline."""
    return (
        f'{text[:-1]},"seq":{seq},"salt":"{salt.hex()}",'
        f'"commit":"{commit.hex()}","link":"{link.hex()}"}}'
    )


SEALED: Final = re.compile(
    rb',"seq":(0|[1-9][0-9]{0,18}),"salt":"([0-9a-f]{32})",'
    rb'"commit":"([0-9a-f]{64})","link":"([0-9a-f]{64})"\}'
)
"""The chain suffix of a sealed line: ``fullmatch`` it from `suffix_start`."""


def suffix_start(line: bytes) -> int:
    """Where the chain suffix of a sealed line (no newline) must start; -1 if it cannot."""
    n = len(line)
    return line.rfind(_SEQ_MARK, n - 220 if n > 220 else 0, n - SUFFIX_SIZE)


def parse_sealed(line: bytes) -> Optional[tuple[bytes, int, bytes, bytes, bytes]]:
    """``(payload, seq, salt, commit, link)`` of a sealed line (no newline), else None.

    The exact inverse of `seal_text`: any other spelling of the chain fields (spaces, upper-case
    hex, a leading zero) is not a sealed line, so the bytes on disk are exactly determined by
    what the commitment and the link cover.
    """
    start = suffix_start(line)
    match = SEALED.fullmatch(line, start) if start > 0 else None
    if match is None:
        return None
    seq, salt, commit, link = match.groups()
    return line[:start] + b"}", int(seq), unhexlify(salt), unhexlify(commit), unhexlify(link)


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
