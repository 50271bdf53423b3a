"""`EventLines`: the formatter's shortcut for event records `log_event` has already redacted.

Floor 2 (orjson). An event record carries a `CleanFields` mark: its fields, redacted, as orjson
bytes. When the record is plain (no arguments, exception or stack), holds no extra field but the
marked ones, and those still serialise to the mark's bytes, the line is the head (timestamp,
level, logger, message; serialised once per distinct head) spliced with the mark's bytes — the
very bytes python-json-logger's pipeline would write with the orjson backend. Anything else
returns None and the formatter runs the full pipeline.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection
from typing import Any, Optional

from dihya_logging._schema import HEAD_FIELDS, format_timestamp
from dihya_logging.formatter._cleanmark import CLEAN_FIELDS_ATTR, CleanFields
from dihya_logging.redaction._redactor import Redactor

try:  # optional fast path
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the no-orjson subprocess test
    _orjson = None  # type: ignore[assignment]

__all__ = ["EventLines"]

_HEAD = frozenset(HEAD_FIELDS)


class EventLines:
    """Writes marked event records from their mark (one per formatter).

    ``skip``: the record attributes python-json-logger's merge leaves out (reserved ones and the
    format's fields). The caches hold immutable tuples replaced whole, so threads sharing a
    formatter never see half of one.
    """

    def __init__(self, redactor: Redactor, skip: Collection[str]) -> None:
        self._redactor = redactor
        self._skip = frozenset(skip)
        self._layout: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())  # last that passed
        self._head: tuple[Any, ...] = ("", "", "", b"")  # see _head_bytes

    def line(self, record: logging.LogRecord) -> Optional[bytes]:
        """The record's JSON (orjson's bytes, no prefix, no line end), or None if not provable."""
        attributes = record.__dict__
        mark = attributes.get(CLEAN_FIELDS_ATTR)
        if (
            type(mark) is not CleanFields
            or record.args
            or type(record.msg) is not str
            or record.exc_info
            or record.exc_text
            or record.stack_info
            or not self._only_marked(attributes, mark.names)
            or not mark.intact(attributes)
        ):
            return None
        record.message = record.msg  # what python-json-logger's format() leaves on the record
        stamp = format_timestamp(record.created).encode()  # ASCII: no escape to add
        body = mark.body
        if len(body) == 2:  # no fields: b"{}"
            return b"".join((b'{"timestamp":"', stamp, self._head_bytes(record), b"}"))
        return b"".join((b'{"timestamp":"', stamp, self._head_bytes(record), b",", body[1:]))

    def _only_marked(self, attributes: dict[str, Any], names: tuple[str, ...]) -> bool:
        """Whether the record's only extra fields are the marked ones (and the mark itself)."""
        layout = tuple(attributes)
        if (layout, names) == self._layout:  # the attribute layout of the last event: known
            return True
        extras = attributes.keys() - self._skip  # what python-json-logger's merge looks at
        if len(extras) != len(names) + 1 or not extras.issuperset(names):
            return False
        if not _plain_names(names):
            return False
        self._layout = (layout, names)  # one atomic store of a layout that passed
        return True

    def _head_bytes(self, record: logging.LogRecord) -> bytes:
        """What orjson writes for level, logger and message (redacted) after the timestamp;
        cached for the next record with the same three texts (by identity)."""
        last = self._head
        if record.levelname is last[0] and record.name is last[1] and record.msg is last[2]:
            return last[3]  # type: ignore[no-any-return]
        assert _orjson is not None  # a CleanFields exists only with orjson
        level, logger, message = map(
            self._redactor.redact_text, (record.levelname, record.name, record.msg)
        )
        dumps = _orjson.dumps
        tail = b'","level":%s,"logger":%s,"message":%s' % (
            dumps(level),
            dumps(logger),
            dumps(message),
        )
        self._head = (record.levelname, record.name, record.msg, tail)
        return tail


@functools.lru_cache(maxsize=256)
def _plain_names(names: tuple[str, ...]) -> bool:
    """Whether no name is a head field or private (python-json-logger skips ``_`` names)."""
    return _HEAD.isdisjoint(names) and not any(name.startswith("_") for name in names)
