"""Turn one formatted JSON line into a table row: indexed columns out, text jsonb accepts.

PostgreSQL's ``jsonb`` refuses three things a JSON line may legally hold — a ``\\u0000``
escape, a lone UTF-16 surrogate escape and the ``NaN``/``Infinity`` tokens Python's ``json``
writes — so such lines are re-encoded (NUL and surrogates become U+FFFD, non-finite numbers
become strings) instead of failing the whole batch. Everything else is stored as written.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Final, Optional

from dihya_logging._schema import CHAIN_FIELDS, EVENT_FIELDS, HEAD_FIELDS, parse_timestamp
from dihya_logging.postgres._schema import Row

if TYPE_CHECKING:
    import psycopg

_orjson: Any
try:  # optional fast path
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is an optional extra
    _orjson = None

__all__ = [
    "SPILL_ID_FIELD",
    "loads",
    "prepare_row",
    "record_order",
    "stored_record",
    "use_fast_json",
]

SPILL_ID_FIELD: Final = "pg_record_id"
"""Key under which a spilled line carries its record id (removed before the row is stored)."""

_ESCAPES = re.compile(r"\\u0000|\\u[dD][89a-fA-F]")


def _std_loads(text: str | bytes) -> Any:
    return json.loads(text)


def _fast_loads(text: str | bytes) -> Any:
    try:
        return _orjson.loads(text)
    except ValueError:  # NaN/Infinity, which only the stdlib accepts
        return json.loads(text)


loads: Callable[[str | bytes], Any] = _fast_loads if _orjson is not None else _std_loads
"""Parse JSON text (orjson when installed, falling back to the stdlib's laxer parser)."""


def _strict_loads(text: str) -> tuple[Any, bool]:
    """``text`` parsed, and whether a strict parser took it: orjson refuses the ``NaN`` and
    ``Infinity`` tokens and lone surrogate escapes, so only a ``\\u0000`` may remain to clean."""
    if _orjson is not None:
        try:
            return _orjson.loads(text), True
        except ValueError:
            pass
    return json.loads(text), False


def _clean_text(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_clean_text(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _suspect(line: str) -> bool:
    """Whether ``line`` may hold something ``jsonb`` refuses (plain substring tests first)."""
    if "NaN" in line or "Infinity" in line:
        return True
    return "\\u" in line and _ESCAPES.search(line) is not None


def stored_record(line: str) -> tuple[dict[str, Any], str]:
    """The record a row stores for ``line`` (one JSON object, as the formatter wrote it), and
    its JSON text: what ``jsonb`` refuses is cleaned; a line that is not a JSON object (a
    non-JSON formatter was configured) is kept as the ``message`` of a wrapper record."""
    record, clean = _parsed(line)
    if not isinstance(record, dict):
        record = {"message": line}
        return record, json.dumps(_clean(record), ensure_ascii=False)
    if not clean:
        record = _clean(record)
        return record, json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return record, line


def _parsed(line: str) -> tuple[Any, bool]:
    """``line`` parsed (None if it is not JSON), and whether it holds nothing to clean."""
    try:
        record, strict = _strict_loads(line)
    except ValueError:
        return None, False
    if strict:
        return record, "\\u0000" not in line
    return record, not _suspect(line)


def prepare_row(record_id: str, line: str, now: Optional[datetime] = None) -> Row:
    """The row for ``line`` (see `stored_record`); ``ts`` falls back to ``now``."""
    record, text = stored_record(line)
    stamp = parse_timestamp(record.get("timestamp", ""))
    if stamp is None:
        stamp = now or datetime.now(timezone.utc)
    event, user, status = record.get("event"), record.get("user_id"), record.get("status")
    return (  # the record's strings are clean now (`stored_record`): only the types to check
        record_id,
        stamp,
        event if isinstance(event, str) else None,
        user if isinstance(user, str) else None,
        status if isinstance(status, str) else None,
        text,
    )


def record_order(record: dict[str, Any]) -> dict[str, Any]:
    """A record read back from ``jsonb`` (which sorts keys) in the formatter's key order.

    Head fields first, then the generation-event fields, the caller's extras (in ``jsonb``'s
    order) and the chain fields last — the order of the lines the file sink writes.
    """
    ordered: dict[str, Any] = {}
    for key in (*HEAD_FIELDS, *EVENT_FIELDS):
        if key in record:
            ordered[key] = record[key]
    for key, value in record.items():
        if key not in ordered and key not in CHAIN_FIELDS:
            ordered[key] = value
    for key in CHAIN_FIELDS:
        if key in record:
            ordered[key] = record[key]
    return ordered


def use_fast_json(conn: psycopg.Connection[Any]) -> None:
    """Parse ``jsonb`` results on ``conn`` with `loads` (orjson when installed)."""
    from psycopg.types.json import set_json_loads

    set_json_loads(loads, conn)
