"""Generation events: one validated, minimal, redacted record per project generation.

Floor 4. `log_generation_event` takes what the generator has — the analysed ``needs``, the
generated ``code`` — and keeps only what an audit needs: whitelisted metadata from ``needs``
(never the raw spec), the generated files' *paths* (never their content), the status and a
redacted, length-capped error. It validates first, so bad input raises at the call and nothing
is written; then, as ``Logger._log`` does, it builds the record with the logger's own
``makeRecord`` (the fields as ``extra``) and hands it to ``logger.handle``, so record factories,
``makeRecord`` wrappers, filters, handlers and formatters apply to events as to any record.
With orjson the record also carries a `CleanFields` mark so the formatter need not redact the
fields a second time while it can prove them unchanged.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final, cast

from dihya_logging._schema import (
    CHAIN_FIELDS,
    CORE_FIELDS,
    EVENT_GENERATION,
    LOGGER_NAME,
    RECORD_ATTRIBUTES,
    STATUSES,
    format_timestamp,
    free_key,
    safe_extra,
    user_id_text,
)
from dihya_logging.formatter._cleanmark import CLEAN_FIELDS_ATTR, clean_mark
from dihya_logging.redaction._redactor import default_redactor

__all__ = [
    "MAX_ERROR_LENGTH",
    "MAX_FILES",
    "NEEDS_WHITELIST",
    "log_event",
    "log_generation_event",
]

NEEDS_WHITELIST: Final = ("project_name", "stack", "plugins", "template")
"""The only keys of ``needs`` that are ever logged."""

MAX_FILES: Final = 1000
"""File lists longer than this are cut; ``files_count`` keeps the true number."""

MAX_ERROR_LENGTH: Final = 2000
"""Error messages are cut to this many characters (after redaction)."""

MAX_TEXT_LENGTH: Final = 500
"""Cap on each metadata string (user id, project name, stack, template, plugin, path)."""

_RESERVED: Final = frozenset(
    RECORD_ATTRIBUTES | CORE_FIELDS | frozenset(CHAIN_FIELDS) | {"tombstone"}
)
"""Keys ``extra`` may not use as such: LogRecord attributes, core and chain fields."""


SOURCE_PATH: Final = "(dihya_logging)"
"""``pathname`` of every event record: the call site is the helper, not the application."""


def _cap(text: str) -> str:
    """`text` as a plain str of at most MAX_TEXT_LENGTH characters, redacted BEFORE the cut
    when it is longer (a cut through a token would leave a fragment no detector recognises)."""
    if len(text) > MAX_TEXT_LENGTH:
        text = default_redactor().redact_text(text)
    return text[:MAX_TEXT_LENGTH]


def _text(name: str, value: object, *, required: bool = False) -> str | None:
    """Validate an optional metadata string (clear TypeError/ValueError), capped in length."""
    if type(value) is str and not required:  # the usual case first
        return value if len(value) <= MAX_TEXT_LENGTH else _cap(value)
    if value is None:
        if required:
            raise TypeError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise ValueError(f"{name} must not be empty")
    return _cap(value)


def _user_text(user_id: object) -> str:
    """The user id as text (see `user_id_text`), not empty, capped like any text field."""
    if user_id is None:
        return _text("user_id", user_id, required=True)  # type: ignore[return-value]
    return _text("user_id", user_id_text(user_id), required=True)  # type: ignore[return-value]


def _paths(code: object) -> list[str]:
    """File paths from ``code``: the keys of a mapping, or an iterable of paths."""
    kind = type(code)
    if kind is dict or kind is list or kind is tuple:  # the usual cases: no ABC checks
        items: Iterable[object] = code  # type: ignore[assignment]
    elif isinstance(code, Mapping):
        items = code.keys()
    elif isinstance(code, (str, bytes)) or not isinstance(code, Iterable):
        raise TypeError(
            "code must be a mapping of path to content or an iterable of paths, "
            f"got {type(code).__name__}"
        )
    else:
        items = code
    given = list(items)
    try:  # all strings? one C loop; str subclasses become plain str in the redacted copy
        total = len("".join(given))  # type: ignore[arg-type]
    except TypeError:
        total = -1
    if total >= 0:
        texts = cast("list[str]", given)
        if total > MAX_TEXT_LENGTH and max(map(len, texts)) > MAX_TEXT_LENGTH:
            texts = [_cap(path) for path in texts]
        return texts
    paths: list[str] = []
    append = paths.append
    for item in given:
        if type(item) is not str:
            if isinstance(item, os.PathLike):
                item = os.fspath(item)
            if not isinstance(item, str):
                raise TypeError(f"file paths must be strings, got {type(item).__name__}")
        append(_cap(item))  # also makes a str subclass a plain str
    return paths


def _plugins(value: object) -> list[str]:
    """The plugin names from ``needs['plugins']`` (a list of strings, or None)."""
    if value is None:
        return []
    kind = type(value)
    if (
        kind is not list
        and kind is not tuple
        and (isinstance(value, str) or not isinstance(value, Iterable))
    ):
        raise TypeError(f"needs['plugins'] must be a list of strings, got {type(value).__name__}")
    if kind is list or kind is tuple:  # the usual case: short plain strings, kept as they are
        names: list[str] = list(value)  # type: ignore[call-overload]
        for name in names:
            if type(name) is not str or len(name) > MAX_TEXT_LENGTH:
                break
        else:
            return names
    out = []
    for plugin in value:  # type: ignore[attr-defined]
        if not isinstance(plugin, str):
            raise TypeError(f"plugin names must be strings, got {type(plugin).__name__}")
        out.append(_cap(plugin))
    return out


def _safe_str(value: object) -> str:
    """``str(value)``, or a placeholder naming the type when its ``__str__`` raises."""
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _error_text(error: object) -> str | None:
    """The error as text: an exception becomes ``Type: message``."""
    if error is None:
        return None
    if isinstance(error, BaseException):
        detail = _safe_str(error)
        return f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    if isinstance(error, str):
        return error
    raise TypeError(f"error must be a string or an exception, got {type(error).__name__}")


def _resolve_logger(logger: logging.Logger | str | None) -> logging.Logger:
    if logger is None:  # the default logger, without taking logging's module lock each time
        cached = logging.Logger.manager.loggerDict.get(LOGGER_NAME)
        return cached if isinstance(cached, logging.Logger) else logging.getLogger(LOGGER_NAME)
    if isinstance(logger, str):
        return logging.getLogger(logger)
    if isinstance(logger, logging.Logger):
        return logger
    raise TypeError(f"logger must be a logging.Logger, a name or None, got {type(logger).__name__}")


def _make_record(
    target: logging.Logger, level: int, event: str, fields: dict[str, Any]
) -> tuple[logging.LogRecord, dict[str, Any]]:
    """The record ``target.makeRecord`` builds for ``fields`` (as ``extra=``); the fields as set.

    No key of ``fields`` is a stock LogRecord attribute. If ``makeRecord`` still refuses one
    (an attribute a record factory adds), the record is made again without ``extra`` and such
    a key is kept as ``extra_<key>``: nothing dropped, nothing raised.
    """
    try:
        record = target.makeRecord(
            target.name, level, SOURCE_PATH, 0, event, (), None, func=None, extra=fields
        )
        return record, fields
    except KeyError:
        pass
    record = target.makeRecord(target.name, level, SOURCE_PATH, 0, event, (), None)
    attributes = record.__dict__
    renamed: dict[str, Any] = {}
    for key, value in fields.items():
        while key in attributes or key in renamed or key in ("message", "asctime"):
            key = free_key(renamed.keys() | attributes.keys(), key)
        renamed[key] = value
    attributes.update(renamed)
    return record, renamed


def _check_extra(extra: object) -> None:
    if extra is not None and type(extra) is not dict and not isinstance(extra, Mapping):
        raise TypeError(f"extra must be a mapping or None, got {type(extra).__name__}")


def _renamed_extra(taken: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """``extra`` with each key that clashes with ``taken`` or `_RESERVED` (or is private, or not
    a string) renamed ``extra_<key>``: nothing dropped, nothing raises."""
    out: dict[str, Any] = {}
    if not extra:
        return out
    for key, value in extra.items():
        name = key if type(key) is str else _safe_str(key)
        if name in _RESERVED or name.startswith("_") or name in taken or name in out:
            name = free_key(out.keys() | taken.keys(), name)
            while name in _RESERVED:
                name = free_key(out.keys() | taken.keys(), name)
        out[name] = value
    return out


def _redacted(payload: Mapping[str, Any], event: str) -> dict[str, Any]:
    """``payload`` through the default redactor; its placeholder (stack exhausted) becomes a
    minimal record saying so."""
    clean = default_redactor().redact(payload)
    if type(clean) is not dict:
        return {"event": event, "redaction_error": str(clean)[:MAX_TEXT_LENGTH]}
    return cast("dict[str, Any]", clean)


def _emit(target: logging.Logger, level: int, event: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Build the record of the redacted ``fields`` the logger's own way, hand it to ``target``
    (as ``Logger._log`` does), return the record as written."""
    if target.isEnabledFor(level):
        record, fields = _make_record(target, level, event, fields)
        mark = clean_mark(fields)  # lets the formatter skip a second redaction (orjson)
        if mark is not None:
            record.__dict__[CLEAN_FIELDS_ATTR] = mark
        target.handle(record)
        created, level_name = record.created, record.levelname
    else:  # no handler will see it: no record to make
        created, level_name = time.time(), logging.getLevelName(level)
    return {
        "timestamp": format_timestamp(created),
        "level": level_name,
        "logger": target.name,
        "message": event,
        **fields,
    }


def log_event(
    event: str,
    fields: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    *,
    logger: logging.Logger | str | None = None,
    level: int = logging.INFO,
) -> dict[str, Any]:
    """Emit one event record (``event`` + ``fields`` + caller metadata); return it as written.

    Fields are redacted once here, before the record exists, so no handler ever sees a secret.
    ``extra`` keys that clash with a LogRecord attribute or a core field are kept under
    ``extra_<key>``; nothing is dropped and nothing raises.
    """
    _check_extra(extra)
    target = _resolve_logger(logger)
    payload: dict[str, Any] = {"event": event, **fields}
    payload.update(_renamed_extra(payload, extra))
    return _emit(target, level, event, safe_extra(_redacted(payload, event)))


def log_generation_event(
    user_id: str | int | uuid.UUID,
    needs: Mapping[str, Any],
    code: Mapping[str, Any] | Iterable[str | os.PathLike[str]],
    status: str = "success",
    error: str | BaseException | None = None,
    extra: Mapping[str, Any] | None = None,
    *,
    logger: logging.Logger | str | None = None,
) -> dict[str, Any]:
    """Log one project generation for ``user_id``; return the record as written (redacted).

    ``user_id`` is a str, an int or a UUID (logged as its text). Only ``project_name``,
    ``stack``, ``plugins`` and ``template`` are taken from ``needs``; only the paths are taken
    from ``code``. ``status`` is ``"success"`` or ``"error"``.
    Raises TypeError/ValueError on bad input, before anything is written.
    """
    user = _user_text(user_id)
    if type(needs) is not dict and not isinstance(needs, Mapping):
        raise TypeError(f"needs must be a mapping (dict), got {type(needs).__name__}")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    _check_extra(extra)
    files = _paths(code)
    count = len(files)
    if count > MAX_FILES:
        files = files[:MAX_FILES]
    plugins = _plugins(needs.get("plugins"))
    project, stack, template = needs.get("project_name"), needs.get("stack"), needs.get("template")
    if type(project) is not str or len(project) > MAX_TEXT_LENGTH:  # else: valid as it is
        project = _text("needs['project_name']", project)
    if type(stack) is not str or len(stack) > MAX_TEXT_LENGTH:
        stack = _text("needs['stack']", stack)
    if type(template) is not str or len(template) > MAX_TEXT_LENGTH:
        template = _text("needs['template']", template)
    message = _error_text(error)
    redactor = default_redactor()
    if message is not None:
        message = redactor.redact_text(message)[:MAX_ERROR_LENGTH]
    target = _resolve_logger(logger)
    fields: dict[str, Any] = {
        "event": EVENT_GENERATION,
        "user_id": user,
        "project_name": project,
        "stack": stack,
        "files": files,
        "files_count": count,
        "plugins": plugins,
        "template": template,
        "status": status,
        "error": message,
    }
    if count > MAX_FILES:
        fields["files_truncated"] = True
    # the fields are validated strings: one batched check instead of a walk, unless one trips
    texts = [*files, *plugins, user or "", project or "", stack or "", template or ""]
    if not redactor.all_clean(texts):
        fields = _redacted(fields, EVENT_GENERATION)
    if extra:
        fields.update(_redacted(_renamed_extra(fields, extra), EVENT_GENERATION))
    # generation fields and renamed extras never take a LogRecord attribute's name
    return _emit(target, logging.INFO, EVENT_GENERATION, fields)
