"""`MarkedEventLines`: the formatter's fast path for records `log_event` has already redacted.

Floor 2 (a base of `RedactingJsonFormatter`). An event record carries a `CleanFields` mark: its
fields, redacted, as JSON bytes. When the record is plain (no arguments, exception or stack),
holds no other extra field and is untouched since (or was handed straight to the first handler),
the line is the head (timestamp, level, logger, message: serialised once per distinct head) spliced
with the mark's bytes; nothing is walked, rebuilt, decoded or encoded again. Anything else returns
None and the formatter runs python-json-logger's full pipeline.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Optional, Union

from dihya_logging._schema import HEAD_FIELDS, format_timestamp
from dihya_logging.formatter._cleanmark import CLEAN_FIELDS_ATTR, CleanFields
from dihya_logging.redaction._redactor import Redactor, default_redactor

try:  # optional fast path
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the no-orjson subprocess test
    _orjson = None  # type: ignore[assignment]

__all__ = ["MarkedEventLines"]

_HEAD = frozenset(HEAD_FIELDS)
_Names = Union[tuple[str, ...], frozenset[str]]


class MarkedEventLines:
    """Writes marked event records without re-redacting them (a mixin of the formatter).

    The formatter provides ``redactor``, ``_skip_fields`` (what python-json-logger's merge
    skips) and ``_plain`` (nothing configured that this path would leave out). The caches below
    hold immutable tuples replaced whole, so threads sharing a formatter never see half of one.
    """

    redactor: Redactor
    _skip_fields: set[str]
    _plain: bool

    def _init_event_lines(self) -> None:
        self._clean_layout: tuple[tuple[str, ...], _Names] = ((), ())  # last layout that passed
        self._stock_names: _Names = ("",)  # names of an untouched stock record that passed
        self._last_head: tuple[Any, ...] = ("",) * 6 + (b"",)  # see _head_texts

    def _fast_marker(
        self, record: logging.LogRecord, untouched: bool = False
    ) -> Optional[CleanFields]:
        """The record's `CleanFields` when the event fast path applies: a plain event record
        whose only extra fields are the marked ones, untouched since; else None."""
        marker = getattr(record, CLEAN_FIELDS_ATTR, None)
        if (
            type(marker) is CleanFields
            and self._plain
            and not record.args
            and type(record.msg) is str
            and not record.exc_info
            and not record.exc_text
            and not record.stack_info
            and self.redactor is default_redactor()
            and self._only_marked(record, marker, untouched and marker.stock_layout)
            and (untouched or marker.intact(record.__dict__))
        ):
            record.message = record.msg
            return marker
        return None

    def _only_marked(self, record: logging.LogRecord, marker: CleanFields, stock: bool) -> bool:
        """Whether the record's only extra fields are the marked ones (and the mark itself).

        ``stock``: an untouched stock record, whose names then stand for its whole layout, so
        names equal to those of one that passed are enough.
        """
        clean = marker.names
        if stock and clean == self._stock_names:
            return True
        fields = record.__dict__
        layout = (tuple(fields), clean)
        if layout != self._clean_layout:  # not the attribute layout of the last event: check it
            extras = fields.keys() - self._skip_fields  # what merge_record_extra would look at
            # exactly the clean fields and CLEAN_FIELDS_ATTR itself, none a head or private name
            if len(extras) != len(clean) + 1 or not extras.issuperset(clean):
                return False
            if not _plain_names(clean):
                return False
            self._clean_layout = layout  # one atomic store of a layout that passed
        if stock:
            self._stock_names = clean
        return True

    def _head_texts(self, record: logging.LogRecord) -> tuple[Any, ...]:
        """Level, logger and message of a fast-path record, then each redacted, then (orjson)
        their JSON after the timestamp; cached for the next record with the same three texts."""
        head = (record.levelname, record.name, record.message)
        last = self._last_head  # the same three texts as the last event (by identity): reuse
        if head[0] is not last[0] or head[1] is not last[1] or head[2] is not last[2]:
            level, logger, message = map(self.redactor.redact_text, head)
            tail = b""
            if _orjson is not None:  # what orjson writes for them after the timestamp
                dumps = _orjson.dumps
                tail = b'","level":%s,"logger":%s,"message":%s' % (
                    dumps(level),
                    dumps(logger),
                    dumps(message),
                )
            last = self._last_head = (*head, level, logger, message, tail)
        return last

    def _clean_data(self, record: logging.LogRecord) -> Optional[dict[str, Any]]:
        """The event fast path as a dict (the standard library backend), or None."""
        marker = self._fast_marker(record)
        if marker is None:
            return None
        last = self._head_texts(record)
        log_data = {
            "timestamp": format_timestamp(record.created),
            "level": last[3],
            "logger": last[4],
            "message": last[5],
        }
        if marker.body is not None:  # what was redacted, not objects that merely serialise alike
            log_data.update(_orjson.loads(marker.body))
            return log_data
        fields = record.__dict__
        for name in marker.names:  # a plain loop: cheaper than update(zip(...)) for a dozen
            log_data[name] = fields[name]
        return log_data

    def _clean_bytes(
        self, record: logging.LogRecord, end: bytes, untouched: bool = False
    ) -> Optional[bytes]:
        """The event fast path with orjson: the head's JSON spliced with the mark's own bytes
        (the fields exactly as redacted, proven unchanged), then ``end``; or None."""
        marker = self._fast_marker(record, untouched)
        if marker is None or marker.body is None:
            return None
        tail = self._head_texts(record)[6]  # = orjson.dumps of the head, less its timestamp
        stamp = format_timestamp(record.created).encode()  # ASCII: no escape to add
        body = marker.body
        if len(body) == 2:  # no fields: b"{}"
            return b"".join((b'{"timestamp":"', stamp, tail, b"}", end))
        return b"".join((b'{"timestamp":"', stamp, tail, b",", body[1:], end))


@functools.lru_cache(maxsize=256)
def _plain_names(names: _Names) -> bool:
    """Whether no name is a head field or private (python-json-logger skips ``_`` names)."""
    return _HEAD.isdisjoint(names) and not any(name.startswith("_") for name in names)
