"""`CleanFields`: the mark `log_event` leaves on a record whose fields it has already redacted.

Floor 1 (standard library only). Redacting the same fields twice — once before the record exists
(so that no handler ever sees a secret) and again in the formatter — would double the cost of an
event. The mark lets the formatter skip the second pass, but only for values nobody changed since:
it keeps the objects `log_event` put on the record and a shallow copy of every list and dict among
them; `intact` compares both with two C-level list comparisons (identity first, then equality).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import repeat
from typing import Any, Final

__all__ = ["CLEAN_FIELDS_ATTR", "CleanFields"]

CLEAN_FIELDS_ATTR: Final = "_dihya_clean_fields"
"""LogRecord attribute naming extra fields already redacted by the default redactor.

Only a `CleanFields` is honoured (a tuple of names could be forged through ``extra``).
"""

_UNCHECKED: Final = object()


class CleanFields:
    """Fields `log_event` redacted, in output order, the objects it put on the record, and copies.

    A field counts as clean only while the record still holds a value equal to the redacted one
    (the same object, in practice) and, for a list or a dict, while that container still holds
    what it held (same keys, same items): a filter or handler that replaces or edits a field
    (``record.error = ...``, ``record.files.append(...)``, ``record.request["token"] = ...``) gets
    it redacted again. An edit two levels down inside a nested container is not seen: the mark
    is for the values `log_event` has just built, not a defence against code that rewrites
    records deep inside on purpose. Equal content is as clean as the original, by construction.
    """

    __slots__ = ("_containers", "_copies", "names", "objects")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.names: tuple[str, ...] = tuple(fields)
        self.objects: list[Any] = list(fields.values())
        self._containers = [v for v in self.objects if type(v) is list or type(v) is dict]
        self._copies = [v.copy() for v in self._containers]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (a multiprocessing queue), identity is gone: the copy trusts nothing."""
        return (CleanFields, ({},))

    def intact(self, attributes: Mapping[str, Any]) -> bool:
        """Whether every field is untouched: the common case, two list comparisons in C."""
        return (
            list(map(attributes.get, self.names, repeat(_UNCHECKED))) == self.objects
            and self._containers == self._copies
        )

    def trusted(self, attributes: Mapping[str, Any]) -> tuple[str, ...]:
        """The names whose value in `attributes` still equals the redacted one (the rare path)."""
        copies = {id(v): copy for v, copy in zip(self._containers, self._copies)}
        kept = []
        for name, value in zip(self.names, self.objects):
            current = attributes.get(name, _UNCHECKED)
            as_built = copies.get(id(value), value)  # a container: what it held when built
            if current is as_built or current == as_built:
                kept.append(name)
        return tuple(kept)
