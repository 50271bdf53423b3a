"""`CleanFields`: the mark `log_event` leaves on a record whose fields it has already redacted.

Floor 1 (orjson). Redacting the same fields twice — once before the record exists (so that no
handler ever sees a secret) and again in the formatter — would double the cost of an event. The
mark keeps the fields' JSON as orjson wrote it after redaction; the formatter trusts the record
only while its fields still serialise to those very bytes (an edit at any depth shows), and then
writes the mark's bytes, never the record's current values. This is the only proof there is:
without orjson no mark is made and every record takes the full pipeline.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Final, Optional

try:  # optional fast path
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the no-orjson subprocess test
    _orjson = None  # type: ignore[assignment]

__all__ = ["CLEAN_FIELDS_ATTR", "CleanFields", "clean_mark"]

CLEAN_FIELDS_ATTR: Final = "_dihya_clean_fields"
"""LogRecord attribute holding the `CleanFields` of an event (python-json-logger skips ``_``
names, so the mark itself is never written). Only an exact `CleanFields` is honoured."""


class CleanFields:
    """The redacted fields of an event, in output order, as orjson's bytes."""

    __slots__ = ("body", "names")

    def __init__(self, names: tuple[str, ...], body: bytes) -> None:
        self.names = names
        self.body = body

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (a multiprocessing queue), the proof is not carried: the copy trusts nothing."""
        return (CleanFields, ((), b""))

    def intact(self, attributes: Mapping[str, Any]) -> bool:
        """Whether the marked fields of ``attributes`` still serialise to the mark's bytes.

        No ``default``: a value that is not plain JSON is not what was redacted.
        """
        if _orjson is None or not self.body:
            return False
        try:
            current = dict(zip(self.names, map(attributes.__getitem__, self.names)))
            return _orjson.dumps(current) == self.body
        except (KeyError, TypeError):  # a field removed, or a value that is not plain JSON
            return False


def clean_mark(fields: Mapping[str, Any]) -> Optional[CleanFields]:
    """The mark of ``fields`` (already redacted, in output order); None without orjson."""
    if _orjson is not None:
        with contextlib.suppress(TypeError):  # not plain JSON: nothing to prove against
            return CleanFields(tuple(fields), _orjson.dumps(fields))
    return None
