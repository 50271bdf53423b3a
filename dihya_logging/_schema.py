"""The record schema: field names, event kinds, UTC timestamps and date parsing.

Floor 1 of the package: standard library only, no I/O. Every other module takes the names of
fields and the timestamp format from here, so the on-disk format is defined in one place.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Container, Mapping
from datetime import date, datetime, timezone
from typing import Any, Final, Union

__all__ = [
    "CHAIN_FIELDS",
    "CORE_FIELDS",
    "EVENT_EXPORT",
    "EVENT_FIELDS",
    "EVENT_GENERATION",
    "EVENT_PURGE",
    "HEAD_FIELDS",
    "LOGGER_NAME",
    "RECORD_ATTRIBUTES",
    "STATUSES",
    "DateLike",
    "format_timestamp",
    "free_key",
    "parse_datetime",
    "parse_timestamp",
    "safe_extra",
]

LOGGER_NAME: Final = "dihya.generation"
"""The logger the helpers use by default."""

EVENT_GENERATION: Final = "generation"
EVENT_EXPORT: Final = "export"
EVENT_PURGE: Final = "purge"

STATUSES: Final = ("success", "error")
"""The only values `status` may take in a generation event."""

HEAD_FIELDS: Final = ("timestamp", "level", "logger", "message")
"""Keys every record starts with, in this order."""

EVENT_FIELDS: Final = (
    "event",
    "user_id",
    "project_name",
    "stack",
    "files",
    "files_count",
    "files_truncated",
    "plugins",
    "template",
    "status",
    "error",
)
"""The fields of a generation event, in the order they are written after the head."""

CORE_FIELDS: Final = frozenset((*HEAD_FIELDS, *EVENT_FIELDS))
"""Fields a caller's extra metadata can never override."""

CHAIN_FIELDS: Final = ("seq", "salt", "commit", "link")
"""Fields added to every record by the tamper-evidence chain (see `integrity`)."""

RECORD_ATTRIBUTES: Final = frozenset(
    {*logging.makeLogRecord({}).__dict__, "message", "asctime", "taskName"}
)
"""Names a `logging.LogRecord` already uses: extra fields may not take them."""

DateLike = Union[str, date, datetime, float, int]
"""What `since`/`until`/`before` accept: ISO 8601 text, a date, a datetime or a Unix time."""

_FRACTION = re.compile(r"(?<=:\d\d)\.(\d+)")
"""The fraction of the seconds in ISO text."""

_second_text: tuple[int, str] = (-1, "")
_last_stamp: tuple[float, str] = (float("nan"), "")  # NaN: equal to nothing
"""The last time formatted and its text (one tuple, replaced whole)."""
"""The text of the last second formatted: one tuple, replaced whole (safe across threads)."""


_MILLIS: Final = tuple(f".{ms:03d}Z" for ms in range(1000))
"""The end of every timestamp, ``.000Z`` to ``.999Z``, made once."""


def format_timestamp(created: float) -> str:
    """Format a Unix time as UTC ISO 8601 with milliseconds (truncated) and a trailing ``Z``.

    Agrees with ``datetime.fromtimestamp(created, timezone.utc)`` to the millisecond. The text
    of the current second is cached, so the per-record cost is a little arithmetic and a join.
    """
    global _second_text, _last_stamp
    last = _last_stamp
    if last[0] == created:  # the same record formatted again (event helper, then formatter)
        return last[1]
    seconds = int(created)
    micros = round((created - seconds) * 1_000_000)  # the rounding datetime.fromtimestamp uses
    if micros >= 1_000_000:
        seconds += 1
        micros -= 1_000_000
    cached = _second_text
    if cached[0] == seconds:
        text = cached[1]
    else:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second_text = (seconds, text)
    stamp = text + _MILLIS[micros // 1000]
    _last_stamp = (created, stamp)
    return stamp


def free_key(taken: Container[str], key: str) -> str:
    """``extra_<key>`` (or ``extra_extra_<key>`` …): the first name not in ``taken``."""
    candidate = f"extra_{key}"
    while candidate in taken:
        candidate = f"extra_{candidate}"
    return candidate


def safe_extra(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` usable as ``extra=``: a name a LogRecord already has becomes ``extra_<name>``.

    Nothing is dropped and ``makeRecord`` never raises on a clash.
    """
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key in RECORD_ATTRIBUTES or key in out:
            key = free_key(out.keys() | RECORD_ATTRIBUTES, key)
        out[key] = value
    return out


def parse_datetime(value: DateLike) -> datetime:
    """Turn a user-supplied date into an aware UTC datetime, or raise a clear ValueError.

    Accepts ISO 8601 text (``2026-11-23``, ``2026-11-23T12:00``, with ``Z`` or an offset), a
    `date` (midnight UTC), a `datetime` (naive ones are taken as UTC) or a Unix time.
    """
    if isinstance(value, bool):
        raise TypeError(f"expected a date, got {value!r}")
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        # Python < 3.11 accepts only 3 or 6 fraction digits: normalise to 6
        text = _FRACTION.sub(lambda m: "." + (m.group(1) + "00000")[:6], text, count=1)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"not a date: {value!r} (expected ISO 8601, e.g. 2026-11-23 or "
                "2026-11-23T12:00:00Z)"
            ) from None
    else:
        raise TypeError(f"expected a date (ISO text, date, datetime or number), got {value!r}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_timestamp(text: str) -> datetime | None:
    """Parse a record's ``timestamp`` field; None when it is missing or malformed."""
    if not isinstance(text, str) or len(text) < 20:
        return None
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
