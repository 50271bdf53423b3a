"""structlog → `logging`: the same redaction, then the stdlib formatter and handler write it.

Make `render_to_log_kwargs` the last processor of a structlog configuration that logs through
the standard library, and configure `logging` as usual (``dihya_logging.configure``,
``dictConfig``, a ``logging.ini``)::

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            dihya_logging.integrations.structlog.render_to_log_kwargs,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )

Bound and call-site fields become top-level keys of the JSON record, masked by the same rules
(a name a `LogRecord` already has, such as ``name`` or ``args``, is kept as ``extra_<name>``);
``exc_info`` and ``stack_info`` reach the formatter, which renders and masks the traceback. The
stdlib adds ``timestamp`` (UTC), ``level`` and ``logger``: structlog's ``TimeStamper`` and
``add_log_level`` are not needed (their fields would be kept as ``extra_timestamp`` …).
`redact` alone masks an event dict anywhere in a chain, e.g. before structlog's own renderer.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from dihya_logging._schema import safe_extra
from dihya_logging.redaction import default_redactor

__all__ = ["redact", "render_to_log_kwargs"]

PASSED_TO_LOGGING: Final[tuple[str, ...]] = ("exc_info", "stack_info", "stacklevel")
"""Event dict keys that are arguments of a `logging` call rather than fields."""


def redact(_logger: Any, _method_name: str, event_dict: Mapping[str, Any]) -> dict[str, Any]:
    """A structlog processor: a copy of the event dict with every sensitive value masked."""
    redacted: dict[str, Any] = default_redactor().redact(dict(event_dict))
    return redacted


def render_to_log_kwargs(
    _logger: Any, _method_name: str, event_dict: MutableMapping[str, Any]
) -> dict[str, Any]:
    """The last structlog processor: mask, then the ``msg``/``extra`` arguments of the stdlib call.

    structlog's stdlib `BoundLogger` calls ``logger.<level>(**returned)``, so the record is made
    by the logger's own ``makeRecord`` and goes through its filters and handlers like any other.
    """
    fields = dict(event_dict)
    arguments: dict[str, Any] = {k: fields.pop(k) for k in PASSED_TO_LOGGING if k in fields}
    message = fields.pop("event", "")
    redactor = default_redactor()
    return {
        "msg": redactor.redact_text(message if isinstance(message, str) else str(message)),
        "extra": safe_extra(redactor.redact(fields)),
        **arguments,
    }
