"""`CleanFields`: the mark `log_event` leaves on a record whose fields it has already redacted.

Floor 1 (standard library; orjson when installed). Redacting the same fields twice — once before
the record exists (so that no handler ever sees a secret) and again in the formatter — would double
the cost of an event. The mark lets the formatter skip the second pass, but only for values that
still say what was redacted. With orjson the mark keeps the fields' JSON: the record is trusted
while its fields serialise to the very same bytes (an edit at any depth shows), and the formatter
writes those bytes as they are. Without orjson it keeps shallow copies of the containers, compared
in C (an edit deeper than one level inside a nested container is then not seen).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any, Final, Optional

try:  # optional fast path
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the no-orjson subprocess test
    _orjson = None  # type: ignore[assignment]

__all__ = ["CLEAN_FIELDS_ATTR", "CleanFields"]

CLEAN_FIELDS_ATTR: Final = "_dihya_clean_fields"
"""LogRecord attribute naming extra fields already redacted by the default redactor.

Only a `CleanFields` is honoured (a tuple of names could be forged through ``extra``).
"""

_UNCHECKED: Final = object()


_SCALARS: Final = (str, int, float, bool, type(None))
_is: Final = operator.is_


class CleanFields:
    """Fields `log_event` redacted, in output order, with what proves them untouched.

    `intact` is True only while the record's fields would be written exactly as redacted: a
    filter or handler that replaces or edits one (``record.error = ...``,
    ``record.files.append(...)``, ``record.request["token"] = ...``) sends the record through the
    full redaction again. `body` is the fields' JSON (orjson): the proof is then "serialises to
    the same bytes", at any depth (an object that is not plain JSON never passes). Without
    orjson (or for fields that are not plain JSON) the proof is "the same objects, holding the
    same items", by identity, one level deep; no value's own ``__eq__`` is ever trusted.
    """

    __slots__ = ("_containers", "_copies", "body", "first", "names", "objects", "stock_layout")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.names: tuple[str, ...] = tuple(fields)
        self.objects: list[Any] = list(fields.values())
        self.body: Optional[bytes] = None
        self.first: object = None
        """The handler `log_event` saw the record go to first, with no code able to touch it in
        between (no logger or handler filter, stock dispatch); that handler may skip the proof."""
        self.stock_layout = False
        """Set by `log_event`: a stock LogRecord whose only other attributes are these fields."""
        self._containers: Sequence[Any] = ()
        self._copies: Sequence[Any] = ()
        if _orjson is not None:
            try:
                self.body = _orjson.dumps(fields)
                return
            except TypeError:  # not plain JSON (a caller's own mark): compare copies instead
                pass
        self._containers = [v for v in self.objects if type(v) is list or type(v) is dict]
        self._copies = [v.copy() for v in self._containers]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (a multiprocessing queue), the proof is not carried: the copy trusts nothing."""
        return (CleanFields, ({},))

    def intact(self, attributes: Mapping[str, Any]) -> bool:
        """Whether every field is untouched: one serialisation compared with the mark's bytes
        (orjson), else the same objects holding the same items, compared by identity."""
        current = map(attributes.get, self.names, repeat(_UNCHECKED))
        if self.body is not None:
            try:  # no `default`: an object that is not plain JSON is not what was redacted
                return _orjson.dumps(dict(zip(self.names, current))) == self.body
            except TypeError:
                return False
        if not all(map(_is, current, self.objects)):
            return False
        return all(map(_same_items, self._containers, self._copies))

    def trusted(self, attributes: Mapping[str, Any]) -> tuple[str, ...]:
        """The names whose value in `attributes` is still the redacted one (the rare path).

        With the JSON proof, only scalars still identical are kept (containers are redacted
        again); with copies, containers still holding the same items are kept too.
        """
        copies = {id(v): copy for v, copy in zip(self._containers, self._copies)}
        kept = []
        for name, value in zip(self.names, self.objects):
            if attributes.get(name, _UNCHECKED) is not value:
                continue
            if self.body is None and id(value) in copies:
                if _same_items(value, copies[id(value)]):
                    kept.append(name)
            elif type(value) in _SCALARS:
                kept.append(name)
        return tuple(kept)


def _same_items(container: Any, copy: Any) -> bool:
    """Whether a list or dict still holds the objects of its copy (identity: no __eq__ runs)."""
    if len(container) != len(copy):
        return False
    if type(container) is dict:
        return all(map(_is, container, copy)) and all(map(_is, container.values(), copy.values()))
    return all(map(_is, container, copy))
