"""`RedactingJsonFormatter`: python-json-logger's formatter with redaction and a UTC timestamp.

Floor 2. python-json-logger's own ``format()`` runs every record; this class extends it only
through its hooks, one concern per step:

* ``add_fields`` puts ``timestamp`` (UTC, milliseconds, ``Z``) first, then python-json-logger's
  fields; a field that would override the timestamp or a field of the format is kept under
  ``extra_<name>``; ``%(password)s``-style mapping arguments are redacted by key before they
  become the message;
* ``process_log_record`` turns values JSON cannot encode into JSON with the backend's own
  encoder (``json_default``/``json_encoder``, else python-json-logger's), then redacts
  everything (keys, nested values, text) with a `Redactor`;
* ``jsonify_log_record`` serialises as python-json-logger's ``JsonFormatter`` (``json``) or
  ``OrjsonFormatter`` (``orjson``) does, with their keywords.

``format`` never raises (a minimal record says what failed), and event records that `log_event`
already redacted are written from their mark when it proves them untouched (`EventLines`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date, time
from enum import Enum
from re import Pattern
from typing import Any, Final, Literal, Optional

from pythonjsonlogger.core import RESERVED_ATTRS, BaseJsonFormatter
from pythonjsonlogger.json import JsonEncoder

from dihya_logging._schema import format_timestamp, free_key
from dihya_logging.formatter._eventlines import EventLines
from dihya_logging.redaction._redactor import Redactor, default_redactor

try:  # optional fast path
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the no-orjson subprocess test
    _orjson = None  # type: ignore[assignment]

__all__ = ["JsonBackend", "RedactingJsonFormatter", "orjson_available"]

JsonBackend = Literal["auto", "orjson", "json"]

DEFAULT_FIELDS: Final = ("levelname", "name", "message")
"""The format's fields when none is given: the record's ``level``, ``logger`` and ``message``."""

DEFAULT_RENAMES: Final = {"levelname": "level", "name": "logger"}

_HOOKS: Final = (
    "format",
    "add_fields",
    "process_log_record",
    "serialize_log_record",
    "jsonify_log_record",
)
"""Steps a subclass may override; if it does, event records take the full pipeline too."""

_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_PLAIN_LEAVES: Final = (str, int, float, bytes, bytearray, memoryview, Mapping, set, frozenset)
"""Left to the redactor as they are: JSON scalars (subclasses too), bytes (written as length
and hash whatever the encoder says: privacy), mappings, sets and namedtuples (redacted by key
or as (name, value) pairs, never as one text)."""
_ORJSON_NATIVE: Final = (*_PLAIN_LEAVES, date, time, uuid.UUID, Enum)
"""What orjson encodes itself (dataclass instances too): the redactor writes them alike."""
_MAX_DEPTH: Final = 32


def orjson_available() -> bool:
    """Whether the orjson backend can be used."""
    return _orjson is not None


def _sanitize_surrogates(text: str) -> str:
    """Replace lone UTF-16 surrogates (not encodable as UTF-8) with U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _without_surrogates(value: Any) -> Any:
    """``value`` (plain JSON) with every string made encodable as UTF-8 (a copy when needed)."""
    if type(value) is str:
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _sanitize_surrogates(value)
        return value
    if type(value) is dict:
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if type(value) is list:
        return [_without_surrogates(item) for item in value]
    return value


def _encoded(
    value: Any, default: Callable[[Any], Any], leaves: tuple[type, ...], depth: int
) -> Any:
    """``value`` with each object the backend cannot encode replaced by ``default(object)``
    (again and again, as json does); containers are copied only where something changed."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if depth >= _MAX_DEPTH:  # too deep or a cycle: the redactor writes its placeholder
        return value
    if isinstance(value, dict):
        changed: Optional[dict[Any, Any]] = None
        for key, item in value.items():
            new = _encoded(item, default, leaves, depth + 1)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if isinstance(value, list) or (isinstance(value, tuple) and not hasattr(kind, "_fields")):
        items = [_encoded(item, default, leaves, depth + 1) for item in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        return tuple(items) if isinstance(value, tuple) else items  # a tuple may be a pair
    if (
        isinstance(value, leaves)
        or hasattr(kind, "_fields")
        or (
            leaves is _ORJSON_NATIVE
            and dataclasses.is_dataclass(value)
            and not isinstance(value, type)
        )
    ):
        return value
    try:
        converted = default(value)
    except Exception:  # the encoder refuses it: the redactor writes its text
        return value
    if converted is value:
        return value
    return _encoded(converted, default, leaves, depth + 1)


class RedactingJsonFormatter(BaseJsonFormatter):
    """A python-json-logger formatter that redacts secrets; safe with no arguments.

    Takes every keyword of python-json-logger's ``JsonFormatter`` and ``OrjsonFormatter``
    (``fmt``, ``datefmt``, ``style``, ``prefix``, ``rename_fields``, ``static_fields``,
    ``reserved_attrs``, ``timestamp``, ``defaults``, ``exc_info_as_array``,
    ``stack_info_as_array``, ``json_default``, ``json_encoder``, ``json_serializer``,
    ``json_indent``, ``json_ensure_ascii``) and its hooks. Ours: ``redact_keys`` and
    ``redact_patterns`` *extend* the default rules, ``mask`` changes the mask (or pass a whole
    ``redactor``), ``json_backend`` picks ``"orjson"`` (``OrjsonFormatter``'s output) or
    ``"json"`` (``JsonFormatter``'s); ``"auto"`` takes orjson when installed, unless a keyword
    only the ``json`` backend has is given (``json_encoder``, ``json_serializer``,
    ``json_ensure_ascii``).

    With no ``fmt``, the fields are ``level``, ``logger`` and ``message`` (``fmt`` is
    ``["levelname", "name", "message"]`` renamed; your ``rename_fields`` win). A ``fmt`` of
    your own picks the fields as in python-json-logger.

    The price of privacy — where the output differs from python-json-logger's:

    * values under sensitive keys and secrets inside text are masked (``[REDACTED]``), at any
      depth, in fields, message arguments, exception and stack text; a rename never unmasks;
    * ``timestamp`` (UTC, milliseconds, ``Z``) is always the first field; ``timestamp=True``
      asks for nothing more, ``timestamp="other_key"`` adds python-json-logger's as well; a
      field that would override the timestamp or a field of the format is kept as
      ``extra_<name>``;
    * ``bytes`` are written as their length and SHA-256, never their content (base64);
      mappings that are not dicts are redacted by key rather than written as their ``str()``;
    * lone surrogates become U+FFFD, so every line is valid UTF-8.
    """

    def __init__(
        self,
        fmt: Any = None,
        *args: Any,
        redact_keys: Iterable[str] | None = None,
        redact_patterns: Iterable[str | Pattern[str]] | None = None,
        mask: str | None = None,
        redactor: Redactor | None = None,
        json_backend: JsonBackend = "auto",
        json_default: Callable[[Any], Any] | None = None,
        json_encoder: Callable[..., Any] | None = None,
        json_serializer: Callable[..., str] | None = None,
        json_indent: int | str | bool | None = None,
        json_ensure_ascii: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if fmt is None:  # our layout, in python-json-logger's own terms
            fmt = list(DEFAULT_FIELDS)
            kwargs["rename_fields"] = {**DEFAULT_RENAMES, **(kwargs.get("rename_fields") or {})}
        timestamp = kwargs.get("timestamp", False)
        if timestamp is True or timestamp == "timestamp":
            kwargs["timestamp"] = False  # the first field already is the timestamp
        super().__init__(fmt, *args, **kwargs)
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
        self.json_backend: Literal["orjson", "json"] = self._pick_backend(
            json_backend, json_encoder is not None or json_serializer is not None
            or json_ensure_ascii is not None,
        )  # fmt: skip
        self.json_indent = json_indent
        self.json_default = json_default
        self.json_encoder = json_encoder
        self.json_serializer: Callable[..., str] = json_serializer or json.dumps
        self.json_ensure_ascii = True if json_ensure_ascii is None else json_ensure_ascii
        self._object_default: Callable[[Any], Any]
        if self.json_backend == "orjson":
            from pythonjsonlogger.orjson import orjson_default

            self._object_default = json_default or orjson_default
            self._leaves: tuple[type, ...] = _ORJSON_NATIVE
            self._native_check = True
        else:
            if json_encoder is None and json_default is None:
                self.json_encoder = JsonEncoder  # as python-json-logger's JsonFormatter
            self._object_default = json_default or _encoder_default(self.json_encoder)
            self._leaves = _PLAIN_LEAVES
            # the default encoder writes what the redactor writes for orjson's native types
            self._native_check = _orjson is not None and self.json_encoder is JsonEncoder
        # the format's fields, from python-json-logger's public parse() (or the sequence given)
        self._fields: tuple[str, ...] = tuple(
            self.parse() if fmt is None or isinstance(fmt, str) else fmt
        )
        self._head = tuple((f, self.rename_fields.get(f, f)) for f in self._fields)
        self._unmasking = tuple(  # renames that would carry a sensitive key's value unmasked
            target for source, target in self.rename_fields.items()
            if redactor.is_sensitive_key(source) and not redactor.is_sensitive_key(target)
        )  # fmt: skip
        cls = type(self)
        plain = (  # nothing configured that an event line would leave out
            self.json_backend == "orjson"
            and not self.json_indent
            and self._fields == DEFAULT_FIELDS
            and self.rename_fields == DEFAULT_RENAMES
            and not self.rename_fields_keep_missing
            and not self.static_fields
            and not self.defaults
            and not self.timestamp
            and self.reserved_attrs == set(RESERVED_ATTRS)
            and redactor is default_redactor()
            and all(getattr(cls, h) is getattr(RedactingJsonFormatter, h) for h in _HOOKS)
        )
        self._events: Optional[EventLines] = (
            EventLines(redactor, {*self._fields, *self.reserved_attrs}) if plain else None
        )
        self._prefix_bytes = self.prefix.encode("utf-8", "surrogatepass")

    @staticmethod
    def _pick_backend(choice: str, json_only: bool) -> Literal["orjson", "json"]:
        if choice == "auto":
            return "orjson" if _orjson is not None and not json_only else "json"
        if choice == "orjson":
            if _orjson is None:
                raise ValueError(
                    "json_backend='orjson' needs orjson: pip install dihya-logging[fast]"
                )
            if json_only:
                raise ValueError(
                    "json_encoder, json_serializer and json_ensure_ascii need json_backend='json'"
                )
            return "orjson"
        if choice == "json":
            return "json"
        raise ValueError(f"json_backend must be 'auto', 'orjson' or 'json', not {choice!r}")

    # -- python-json-logger's pipeline ------------------------------------------------------
    def format(self, record: logging.LogRecord) -> str:
        """The record as one redacted JSON text (prefix included); never raises."""
        try:
            if self._events is not None:
                line = self._events.line(record)
                if line is not None:
                    return self.prefix + line.decode("utf-8")
            return super().format(record)
        except Exception as exc:  # the application must never crash because logging failed
            return self._fallback(record, exc)

    def format_line(self, record: logging.LogRecord, errors: str) -> bytes:
        """`format` as UTF-8 bytes without a line end (what a JSON-lines sink writes).

        An event line goes out as orjson wrote it (no decode, no encode); ``errors`` applies to
        text a subclass's ``format`` returns. Line breaks an indenting serialiser put between
        tokens are removed: one record, one line.
        """
        if self._events is not None:
            try:  # anything unexpected: format() handles (and reports) it
                line = self._events.line(record)
            except Exception:
                line = None
            if line is not None:
                return self._prefix_bytes + line if self._prefix_bytes else line
        text = self.format(record)
        if "\n" in text and self.json_indent:
            first, *rest = text.split("\n")
            text = first + "".join(part.lstrip() for part in rest)
        return text.encode("utf-8", errors)

    def add_fields(
        self,
        log_data: dict[str, Any],
        record: logging.LogRecord,
        message_dict: dict[str, Any],
    ) -> None:
        """``timestamp`` first, then python-json-logger's fields; no field overrides the
        timestamp or a field of the format (it moves to ``extra_<name>``)."""
        stamp = log_data["timestamp"] = format_timestamp(record.created)
        super().add_fields(log_data, record, message_dict)
        attributes = record.__dict__
        if log_data["timestamp"] is not stamp:  # a field of that name came later
            log_data[free_key(log_data, "timestamp")] = log_data["timestamp"]
            log_data["timestamp"] = stamp
        for source, name in self._head:
            value = log_data.get(name)
            if name != source and name in attributes and value is attributes[name]:
                log_data[free_key(log_data, name)] = value  # an extra named like a head field
                log_data[name] = attributes.get(source)
        for name in self._unmasking:
            if name in log_data:
                log_data[name] = self.redactor.mask
        args = record.args
        if args and isinstance(args, Mapping) and not isinstance(record.msg, dict):
            name = self.rename_fields.get("message", "message")
            if "message" in self._fields and name in log_data:
                # "%(password)s": redacted by key before it becomes text; if that cannot be
                # rendered, the message as rendered is kept (and redacted as text)
                with contextlib.suppress(Exception):
                    log_data[name] = str(record.msg) % self.redactor.redact(args)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Objects JSON cannot encode through the backend's encoder, then everything redacted."""
        data = log_data
        if not self._native_check or not _natively_encodable(data):
            data = _encoded(data, self._object_default, self._leaves, 0)
        out = self.redactor.redact(data)
        if type(out) is not dict:  # a redactor placeholder: never write a non-record
            raise TypeError(f"redaction returned {type(out).__name__}, not a record")
        return out

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        """Serialise as python-json-logger's backend does; the text is always valid UTF-8."""
        if self.json_backend == "orjson":
            assert _orjson is not None
            option = _orjson.OPT_NON_STR_KEYS | (_orjson.OPT_INDENT_2 if self.json_indent else 0)
            try:
                raw = _orjson.dumps(log_data, default=self._object_default, option=option)
            except TypeError:  # lone surrogates: orjson refuses them
                raw = _orjson.dumps(
                    _without_surrogates(log_data), default=self._object_default, option=option
                )
            return raw.decode("utf-8")
        text = self._dumps_json(log_data)
        if text.isascii():
            if "\\ud" in text:  # maybe an escaped lone surrogate: write U+FFFD instead
                text = self._dumps_json(_without_surrogates(log_data))
            return text
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _sanitize_surrogates(text)
        return text

    def _dumps_json(self, log_data: dict[str, Any]) -> str:
        return self.json_serializer(
            log_data,
            default=self.json_default,
            cls=self.json_encoder,
            indent=self.json_indent,
            ensure_ascii=self.json_ensure_ascii,
        )

    # -- failure path -------------------------------------------------------------------------
    def _fallback(self, record: logging.LogRecord, exc: Exception) -> str:
        """A minimal valid record saying formatting failed (without the unsafe content)."""
        try:
            created = float(record.created)
            level, name = str(record.levelname), str(record.name)
        except Exception:
            created, level, name = 0.0, "ERROR", "?"
        return self.prefix + json.dumps(
            {
                "timestamp": format_timestamp(created),
                "level": _sanitize_surrogates(level),
                "logger": _sanitize_surrogates(self.redactor.redact_text(name)),
                "message": "[dihya-logging: this record could not be formatted]",
                "format_error": type(exc).__name__,
            },
            ensure_ascii=False,
        )


def _natively_encodable(log_data: dict[str, Any]) -> bool:
    """Whether orjson encodes everything in ``log_data`` itself (one C-speed attempt)."""
    assert _orjson is not None
    try:
        _orjson.dumps(log_data, option=_orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return False
    return True


def _encoder_default(encoder: Any) -> Callable[[Any], Any]:
    """The ``default`` method of an instance of a ``json.JSONEncoder`` class."""
    try:
        return encoder().default  # type: ignore[no-any-return]
    except Exception:  # not a JSONEncoder-like class: objects become the redactor's text
        return _refuse


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
