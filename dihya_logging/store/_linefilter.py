"""The byte-level pre-filter: which lines could match a `RecordFilter`, decided without parsing.

Floor 3 (backend). A filter's ``user_id``, ``event`` and ``status`` become needles — their
JSON encodings as they appear on disk (``b'"user_123"'``) — and its dates are compared with the
timestamp text that starts every line the formatter writes. Whole blocks are searched with
``bytes.find`` (C speed), so a line that cannot match is never split out nor parsed. A gate
only ever rejects lines that certainly do not match; the caller still applies
`RecordFilter.matches` to the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Optional

from dihya_logging.store._backend import RecordFilter

__all__ = [
    "Gate",
    "candidate_spans",
    "json_needles",
    "stamp_ceil",
    "stamp_floor",
    "timestamp_text",
]


def json_needles(value: str) -> tuple[bytes, ...]:
    """The ways ``value`` can appear as a JSON string on disk (raw UTF-8, and \\u escapes)."""
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    escaped = json.dumps(value, ensure_ascii=True).encode("ascii")
    return (raw,) if raw == escaped else (raw, escaped)


def timestamp_text(line: bytes) -> Optional[bytes]:
    """The ``timestamp`` value of a line written by the formatter, as bytes, without parsing.

    Recognises ``{"timestamp":"YYYY-MM-DDTHH:MM:SS.mmmZ"`` (with or without a space after the
    colon); None for any other shape (the caller then parses the line).
    """
    if line.startswith(b'{"timestamp":"'):
        stamp = line[14:38]
    elif line.startswith(b'{"timestamp": "'):
        stamp = line[15:39]
    else:
        return None
    if len(stamp) != 24 or stamp[23:] != b"Z" or stamp[10:11] != b"T" or stamp[19:20] != b".":
        return None
    return stamp


def stamp_floor(moment: datetime) -> bytes:
    """``moment`` as record timestamp text, rounded down to the millisecond (4-digit years
    even before 1000, where ``strftime`` would drop the zero and break the text order)."""
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    ).encode()


def stamp_ceil(moment: datetime) -> bytes:
    """``moment`` as record timestamp text, rounded up to the millisecond."""
    if moment.microsecond % 1000:
        moment = moment + timedelta(microseconds=1000 - moment.microsecond % 1000)
    return stamp_floor(moment)


class Gate:
    """The byte-level pre-filter of a `RecordFilter`: rejects lines that cannot match, cheaply.

    Every requirement is a tuple of alternative needles, one of which must be in the line.
    ``primary`` (when a requirement has a single needle) is what blocks are searched for.
    The gate only ever rejects lines that cannot match; the caller still applies
    `RecordFilter.matches` to what passes.
    """

    def __init__(self, flt: RecordFilter) -> None:
        reqs: list[tuple[bytes, ...]] = []
        if flt.user_id is not None:
            token = flt.audit_pseudonym
            reqs.append(json_needles(flt.user_id) + (json_needles(token) if token else ()))
        if flt.event is not None:
            reqs.append(json_needles(flt.event))
        if flt.status is not None:
            value = json_needles(flt.status)[0]
            reqs.append((b'"status":' + value, b'"status": ' + value))
        single = [req for req in reqs if len(req) == 1]
        self.primary: Optional[bytes] = single[0][0] if single else None
        self.requirements: tuple[tuple[bytes, ...], ...] = tuple(reqs)
        self.since = stamp_floor(flt.since) if flt.since is not None else None
        self.until = stamp_ceil(flt.until) if flt.until is not None else None

    def admits(self, line: bytes) -> bool:
        """False when ``line`` certainly does not match the filter."""
        for req in self.requirements:
            if not any(needle in line for needle in req):
                return False
        if self.since is not None or self.until is not None:
            stamp = timestamp_text(line)
            if stamp is not None:
                if self.since is not None and stamp < self.since:
                    return False
                if self.until is not None and stamp >= self.until:
                    return False
        return True


def candidate_spans(block: bytes, gate: Optional[Gate]) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each line in ``block`` the gate admits (``end`` excludes the newline)."""
    size = len(block)
    primary = gate.primary if gate is not None else None
    if primary is not None:
        pos = block.find(primary)
        while pos != -1:
            start = block.rfind(b"\n", 0, pos) + 1
            end = block.find(b"\n", pos)
            if end == -1:
                end = size
            yield start, end
            pos = block.find(primary, end + 1)
        return
    if gate is not None and not all(any(n in block for n in r) for r in gate.requirements):
        return
    start = 0
    while start < size:
        end = block.find(b"\n", start)
        if end == -1:
            end = size
        yield start, end
        start = end + 1
