"""`RedactingJsonFormatter`: python-json-logger's pipeline with redaction and a stable record shape.

Floor 2. The pipeline is python-json-logger's own — ``format`` → ``add_fields`` →
``process_log_record`` → ``jsonify_log_record`` — with one concern per step:

* ``format`` renders the message (redacting mapping arguments by key first), exception and stack
  text, and never raises: if anything goes wrong it returns a minimal valid record saying so;
* ``add_fields`` puts ``timestamp`` (UTC, milliseconds, ``Z``), ``level``, ``logger`` and
  ``message`` first, then python-json-logger's fields; a field that would override one of those
  four is kept under ``extra_<name>`` instead of being lost;
* ``process_log_record`` redacts every field (keys, nested values, text) with a `Redactor` and
  turns every value into plain JSON types, so both backends print the same bytes;
* ``jsonify_log_record`` uses orjson when it is installed, else the standard library.

Records `log_event` already redacted skip this pipeline: `eventlines.MarkedEventLines` writes
them from their mark (the same bytes the pipeline would write).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from re import Pattern
from typing import Any, Final, Literal

from pythonjsonlogger.core import RESERVED_ATTRS, BaseJsonFormatter

from dihya_logging._schema import HEAD_FIELDS, format_timestamp, free_key
from dihya_logging.formatter._cleanmark import CLEAN_FIELDS_ATTR, CleanFields
from dihya_logging.formatter._eventlines import MarkedEventLines
from dihya_logging.redaction._redactor import Redactor, default_redactor

try:  # optional fast path
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the no-orjson subprocess test
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "CLEAN_FIELDS_ATTR",
    "CleanFields",
    "JsonBackend",
    "RedactingJsonFormatter",
    "orjson_available",
]

JsonBackend = Literal["auto", "orjson", "json"]

_HEAD = frozenset(HEAD_FIELDS)
_DEFAULT_RESERVED = frozenset(RESERVED_ATTRS)
_HOOKS = ("add_fields", "process_log_record", "jsonify_log_record", "serialize_log_record")
"""Pipeline steps a subclass may override; if it does, every record takes the full pipeline."""

_UNCHECKED: Final = object()


def orjson_available() -> bool:
    """Whether the orjson fast path can be used."""
    return _orjson is not None


def _sanitize_surrogates(text: str) -> str:
    """Replace lone UTF-16 surrogates (not encodable as UTF-8) with U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _dumps_json(data: Mapping[str, Any]) -> str:
    """Serialise with the standard library, byte-identical to the orjson path for plain JSON."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _sanitize_surrogates(text)
    return text


def _dumps_orjson(data: Mapping[str, Any]) -> str:
    """Serialise with orjson; strings orjson refuses (lone surrogates) fall back to the stdlib."""
    assert _orjson is not None
    try:
        return _orjson.dumps(data, default=str).decode("utf-8")
    except TypeError:
        return _dumps_json(data)


class RedactingJsonFormatter(MarkedEventLines, BaseJsonFormatter):
    """A python-json-logger formatter that redacts secrets and writes one stable JSON line.

    Safe with no arguments (``class=`` in a ``logging.ini``). Keyword arguments of
    python-json-logger (``static_fields``, ``rename_fields``, ``defaults``, …) work as there;
    ``redact_keys`` and ``redact_patterns`` *extend* the default rules, ``mask`` changes the mask,
    ``json_backend`` forces ``"orjson"`` or ``"json"`` (default ``"auto"``). Records that
    `log_event` already redacted take `MarkedEventLines`' fast path (same bytes).
    """

    def __init__(
        self,
        *args: Any,
        redact_keys: Iterable[str] | None = None,
        redact_patterns: Iterable[str | Pattern[str]] | None = None,
        mask: str | None = None,
        redactor: Redactor | None = None,
        json_backend: JsonBackend = "auto",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("timestamp", False)  # the timestamp is ours: UTC, ms, "Z"
        super().__init__(*args, **kwargs)
        if redactor is None:
            if redact_keys or redact_patterns or mask is not None:
                keys, patterns = tuple(redact_keys or ()), tuple(redact_patterns or ())
                redactor = (
                    Redactor(keys=keys, patterns=patterns)
                    if mask is None
                    else Redactor(keys=keys, patterns=patterns, mask=mask)
                )
            else:
                redactor = default_redactor()
        self.redactor: Redactor = redactor
        self._dumps: Callable[[Mapping[str, Any]], str]
        if json_backend == "orjson" or (json_backend == "auto" and _orjson is not None):
            if _orjson is None:
                raise ValueError(
                    "json_backend='orjson' needs orjson: pip install dihya-logging[fast]"
                )
            self._dumps = _dumps_orjson
        elif json_backend in ("json", "auto"):
            self._dumps = _dumps_json
        else:
            raise ValueError(
                f"json_backend must be 'auto', 'orjson' or 'json', not {json_backend!r}"
            )
        self.json_backend = "orjson" if self._dumps is _dumps_orjson else "json"
        self._init_event_lines()
        cls = type(self)
        self._plain = (  # nothing configured that the event fast path would skip
            not self.defaults
            and not self.static_fields
            and not self.rename_fields
            and not self.rename_fields_keep_missing
            and not self.timestamp
            and self._required_fields in ([], ["message"])
            and self.reserved_attrs == _DEFAULT_RESERVED
            and all(getattr(cls, name) is getattr(RedactingJsonFormatter, name) for name in _HOOKS)
        )

    # -- pipeline -------------------------------------------------------------------------------
    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one redacted JSON line; never raises."""
        try:
            if self._dumps is _dumps_orjson:
                raw = self._clean_bytes(record, b"")
                if raw is not None:
                    return self.prefix + raw.decode() if self.prefix else raw.decode()
            else:
                data = self._clean_data(record)
                if data is not None:
                    return self.prefix + self._dumps(data) if self.prefix else self._dumps(data)
            return self._format(record)
        except Exception as exc:  # the application must never crash because logging failed
            return self._fallback(record, exc)

    def format_line(
        self, record: logging.LogRecord, errors: str = "strict", untouched: bool = False
    ) -> bytes:
        """`format` plus a newline, as UTF-8 bytes (what a file sink writes); never raises.

        On the event fast path with orjson, the event's bytes go out as they are (no decode,
        no encode); ``errors`` applies to the text a subclass's own ``format`` returns.
        ``untouched``: the caller is the handler `log_event` handed the record to first, with no
        code able to edit it in between, so the mark need not prove the fields unchanged.
        """
        if self._dumps is _dumps_orjson and not self.prefix and type(self).format is _FORMAT:
            try:  # anything unexpected: the full path below handles (and reports) it
                raw = self._clean_bytes(record, b"\n", untouched)
            except Exception:
                raw = None
            if raw is not None:
                return raw
            try:  # the full pipeline (what `format` would do next)
                text = self._format(record)
            except Exception as exc:
                text = self._fallback(record, exc)
            return (text + "\n").encode("utf-8", errors)
        return (self.format(record) + "\n").encode("utf-8", errors)

    def _format(self, record: logging.LogRecord) -> str:
        marker = getattr(record, CLEAN_FIELDS_ATTR, None)
        clean: tuple[str, ...] = ()
        if type(marker) is CleanFields:
            attributes = record.__dict__
            clean = marker.names if marker.intact(attributes) else marker.trusted(attributes)
        message_dict: dict[str, Any] = {}
        if isinstance(record.msg, dict):
            message_dict = record.msg.copy()
            record.message = ""
        elif isinstance(record.args, Mapping) and record.args:
            # "%(password)s"-style arguments: redact them by key before they become text
            record.message = str(record.msg) % self.redactor.redact(record.args)
        else:
            record.message = record.getMessage()
        if "asctime" in self._required_fields:
            record.asctime = self.formatTime(record, self.datefmt)
        if record.exc_info and not message_dict.get("exc_info"):
            message_dict["exc_info"] = self.formatException(record.exc_info)
        if not message_dict.get("exc_info") and record.exc_text:
            message_dict["exc_info"] = record.exc_text
        if record.stack_info and not message_dict.get("stack_info"):
            message_dict["stack_info"] = self.formatStack(record.stack_info)

        log_data: dict[str, Any] = {}
        self.add_fields(log_data, record, message_dict)
        if clean and type(self).process_log_record is RedactingJsonFormatter.process_log_record:
            log_data = self._redact_pending(log_data, clean, record)
        else:
            log_data = self.process_log_record(log_data)
        if not isinstance(log_data, dict):  # a redactor placeholder: never write a non-record
            raise TypeError(f"redaction returned {type(log_data).__name__}, not a record")
        return self.serialize_log_record(log_data)

    def add_fields(
        self,
        log_data: dict[str, Any],
        record: logging.LogRecord,
        message_dict: dict[str, Any],
    ) -> None:
        """Head fields first, then python-json-logger's; a clashing field moves to ``extra_<k>``."""
        log_data["timestamp"] = format_timestamp(record.created)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        if self._plain and not message_dict:  # nothing configured: python-json-logger's merge
            skip = self._skip_fields  # of the record's extras, in one pass (same keys, order)
            for key, value in record.__dict__.items():
                if key in skip or key[:1] == "_":
                    continue
                if key in _HEAD:
                    if value is None or value == log_data[key]:
                        continue
                    key = free_key(log_data, key)
                log_data[key] = value
            return
        fields: dict[str, Any] = {}
        super().add_fields(fields, record, message_dict)
        for source, target in self.rename_fields.items():  # a rename must not unmask a secret
            if target in fields and self.redactor.is_sensitive_key(source):
                fields[target] = self.redactor.mask
        for key, value in fields.items():
            if key in _HEAD:
                if value is None or value == log_data[key]:
                    continue
                key = free_key(log_data, key)
            log_data[key] = value

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Redact every field (keys, nested values, text); values become plain JSON."""
        return self.redactor.redact(log_data)  # type: ignore[no-any-return]

    def _redact_pending(
        self, log_data: dict[str, Any], clean: Collection[str], record: logging.LogRecord
    ) -> dict[str, Any]:
        """Redact only the fields not already redacted upstream by the default redactor.

        A clean field is spared only when its value is the record's own (not one a static field,
        a default or a dict message put under the same name). ``clean`` is passed along, never
        stored on the formatter: another thread's clean fields must never spare this record's.
        """
        redactor = self.redactor
        if redactor is not default_redactor():
            return redactor.redact(log_data)  # type: ignore[no-any-return]
        attributes = record.__dict__
        kept = [
            k
            for k in clean
            if k not in _HEAD and k in log_data and log_data[k] is attributes.get(k, _UNCHECKED)
        ]
        pending = dict(log_data)
        for key in kept:
            pending[key] = None  # keeps the field's place in the output order
        out: dict[str, Any] = redactor.redact(pending)
        if type(out) is dict:
            for key in kept:
                if key in out:
                    out[key] = log_data[key]
        return out

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        """Serialise with the selected backend (identical bytes either way)."""
        return self._dumps(log_data)

    # -- failure path -----------------------------------------------------------------------------
    def _fallback(self, record: logging.LogRecord, exc: Exception) -> str:
        """A minimal valid record saying formatting failed (without the unsafe content)."""
        try:
            created = float(record.created)
            level, name = str(record.levelname), str(record.name)
        except Exception:
            created, level, name = 0.0, "ERROR", "?"
        return _dumps_json(
            {
                "timestamp": format_timestamp(created),
                "level": level,
                "logger": self.redactor.redact_text(name),
                "message": "[dihya-logging: this record could not be formatted]",
                "format_error": type(exc).__name__,
            }
        )


_FORMAT: Final = RedactingJsonFormatter.format
