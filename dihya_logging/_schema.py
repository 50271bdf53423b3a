"""The record schema: field names, event kinds, UTC timestamps and date parsing.

Floor 1 of the package: standard library only, no I/O. Every other module takes the names of
fields and the timestamp format from here, so the on-disk format is defined in one place.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Container, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final, Union

__all__ = [
    "CHAIN_FIELDS",
    "CORE_FIELDS",
    "EVENT_EXPORT",
    "EVENT_FIELDS",
    "EVENT_GENERATION",
    "EVENT_PURGE",
    "EVENT_REDACT",
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
    "UserId",
    "user_id_text",
]

LOGGER_NAME: Final = "dihya.generation"
"""The logger the helpers use by default."""

EVENT_GENERATION: Final = "generation"
EVENT_EXPORT: Final = "export"
EVENT_PURGE: Final = "purge"
EVENT_REDACT: Final = "redact"

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


_ISO: Final = re.compile(
    r"(?P<y>\d{4})(?P<dash>-?)(?P<mo>\d\d)(?P=dash)(?P<d>\d\d)"
    r"(?:[Tt ](?P<h>\d\d)(?::?(?P<mi>\d\d)(?::?(?P<s>\d\d)(?:[.,](?P<f>\d+))?)?)?)?"
    r"(?P<tz>[Zz]|[+-]\d\d(?::?\d\d)?)?"
)
"""ISO 8601 dates and date-times, extended (``2026-01-31T12:00``) or basic (``20260131T1200``)."""
_AGE: Final = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[smhdw])", re.IGNORECASE)
"""A relative age: ``30d``, ``12h``, ``2w``, ``90m``, ``45s`` (that long before now)."""
_AGE_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _parse_iso(text: str) -> datetime | None:
    """ISO 8601 text as a datetime (naive unless it has an offset); None if it is not ISO.

    Parsed here rather than by ``datetime.fromisoformat``, whose accepted forms differ
    between Python 3.9 and 3.11, so every supported Python reads a date the same way.
    """
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    part = match.groupdict()
    zone = None
    try:
        if part["tz"] is not None:
            if part["tz"] in "Zz":
                zone = timezone.utc
            else:
                digits = part["tz"][1:].replace(":", "")
                offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
                zone = timezone(-offset if part["tz"][0] == "-" else offset)
        return datetime(
            int(part["y"]),
            int(part["mo"]),
            int(part["d"]),
            int(part["h"] or 0),
            int(part["mi"] or 0),
            int(part["s"] or 0),
            int((part["f"] or "0")[:6].ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError:  # 2026-02-30, 25:00, an offset of a day or more
        return None


UserId = Union[str, int, uuid.UUID]
"""What a user id may be given as (it is always written and matched as text)."""


def user_id_text(value: object) -> str:
    """A user id as it is written and matched: a str as is, an int (not a bool) or a UUID as
    its text (Django's and FastAPI's ids); anything else a TypeError."""
    if isinstance(value, str):
        return value
    if isinstance(value, uuid.UUID) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    raise TypeError(f"user_id must be a str, an int or a UUID, got {type(value).__name__}")


def parse_datetime(value: DateLike, *, now: datetime | None = None) -> datetime:
    """Turn a user-supplied date into an aware UTC datetime, or raise a clear ValueError.

    Accepts ISO 8601 text (``2026-11-23``, ``20261123``, ``2026-11-23T12:00``, with ``Z`` or
    an offset; the same on every supported Python), a relative age (``30d``, ``12h``, ``2w``,
    ``90m``, ``45s``: that long before ``now``, default the current time), a `date` (midnight
    UTC), a `datetime` (naive ones are taken as UTC) or a Unix time.
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
        age = _AGE.fullmatch(text)
        if age is not None:
            seconds = float(age["n"]) * _AGE_UNITS[age["unit"].lower()]
            moment = now if now is not None else datetime.now(timezone.utc)
            return parse_datetime(moment) - timedelta(seconds=seconds)
        found = _parse_iso(text)
        if found is None:
            raise ValueError(
                f"not a date: {value!r} (expected ISO 8601, e.g. 2026-11-23, 20261123 or "
                "2026-11-23T12:00:00Z, or an age such as 30d, 12h, 2w)"
            )
        parsed = found
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
