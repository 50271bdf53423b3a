"""The extension point for exporters beyond files: a protocol and entry-point discovery.

Floor 2 (stdlib and `redaction`; `backend` for type hints only), so that both `export` and the
store's purge can use it. Writing an exporter takes a class and one entry point::

    # dihya_notion.py
    class NotionExporter:
        scheme = "notion"                       # the entry point's name, lower case

        def export(self, records, destination, *, context):
            # destination: "notion://workspace/database-id?…"; context: ExportContext
            count = 0
            for record in records:              # a one-pass stream, oldest first
                ...                             # send it; raise on failure
                count += 1
            return count                        # audited as the export's count

        def on_purge(self, event):              # optional (GDPR art. 19)
            ...                                 # erase the copies the purge names; raise if not
            # return False if this exporter holds nothing concerned (then not listed)

    # pyproject.toml of the plug-in
    [project.entry-points."dihya_logging.exporters"]
    notion = "dihya_notion:NotionExporter"      # a class (called with no argument) or an object

    # ... or, without packaging, in the application's code:
    dihya_logging.exporters.register_exporter(NotionExporter())

``export_generation_logs("notion://workspace/db", user_id=...)`` (or ``dihya-logs export
notion://workspace/db``) then loads it, streams the selected records to ``export`` and audits
the export (scheme, the URI's last path segment — never its host, credentials or query —,
count, filter). Every purge calls each installed exporter's ``on_purge`` with the purge event
(who, when, mode, filter with the user id pseudonymised, count) and the purge's audit record
keeps each hook's outcome. The purge event carries no clear user id: an exporter that must
erase by user keeps, with what it exported, the token ``context.pseudonym(user_id)`` of each
user it sent, and matches on it. A hook should be quick (it runs inside the purge
call) and must not log the event's data elsewhere. A hook that declares a ``location``
keyword gets the purged log's location too (where it may keep its ledger of past exports).

An exporter may also fill ``context.receipt`` with public facts about the export (an object
key, a content id): they are added to the audit event. It may define
``describe_destination(destination) -> str``, the text audited as the destination (it must
leave out credentials); by default only the URI's last path segment is audited.
See ``docs/exporters.md`` for a complete worked example.
"""

from __future__ import annotations

import copy
import importlib.metadata as metadata
import inspect
import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Optional, Protocol, runtime_checkable
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from dihya_logging.store._backend import RecordFilter

__all__ = [
    "ENTRY_POINT_GROUP",
    "ExportContext",
    "Exporter",
    "ExporterError",
    "PurgeAwareExporter",
    "audited_destination",
    "available_schemes",
    "exporter_entry_points",
    "load_exporter",
    "notify_purge",
    "register_exporter",
    "unregister_exporter",
    "uri_scheme",
]

ENTRY_POINT_GROUP: Final = "dihya_logging.exporters"
_SCHEME: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_MAX_ERROR: Final = 300


class ExporterError(RuntimeError):
    """An installed exporter cannot be used (it fails to import, or is not an exporter)."""


@dataclass(frozen=True)
class ExportContext:
    """What an exporter may want to know about the export besides the records."""

    filter: RecordFilter
    """The selection the records satisfy (user id in clear: it is the caller's request)."""
    actor: Optional[str]
    """Who asked for the export (audited by the caller, not by the exporter)."""
    overwrite: bool
    """Whether the caller allowed replacing existing data at the destination."""
    format: Optional[str]
    """The ``format=`` the caller passed, if any; the exporter decides what it means."""
    location: str
    """The log the records come from (a path, or a DSN without password)."""
    pseudonym: Callable[[str], str]
    """The log's stable token for a user id — what purge events name users by. An exporter
    that may have to erase a user's data later keeps the tokens of the users it exported."""
    progress: Optional[Callable[[int], None]] = None
    """Called with the running count of records sent (the CLI shows it on a terminal)."""
    receipt: dict[str, Any] = field(default_factory=dict)
    """Public facts the exporter reports (object key, content id): added to the audit event.
    Never credentials, never record data."""


@runtime_checkable
class Exporter(Protocol):
    """An export target other than a local file, selected by the scheme of a ``scheme://`` URI.

    ``export`` receives the selected records as a one-pass stream, oldest first (plain JSON
    dicts, never to be modified), and the full destination URI; it returns how many records it
    exported and raises on failure (the caller audits both). It must not log the records.
    The entry point's name must equal ``scheme`` (lower case).
    """

    scheme: str

    def export(
        self, records: Iterable[dict[str, Any]], destination: str, *, context: ExportContext
    ) -> int:
        """Send ``records`` to ``destination``; return the count sent."""
        ...


@runtime_checkable
class PurgeAwareExporter(Exporter, Protocol):
    """An exporter that is told about every purge so it can erase its own copies.

    ``on_purge`` gets a copy of the purge event as audited (who, when, which filter with the
    user id pseudonymised, how many); it should be quick, and raise when it could not act.
    """

    def on_purge(self, event: dict[str, Any]) -> Optional[bool]:
        """Propagate an erasure to the recipient of earlier exports.

        Returning ``False`` says it holds no copy concerned (it is then not listed among the
        purge's recipients); None or True, that it acted.
        """
        ...


def uri_scheme(destination: object) -> str | None:
    """The lower-case scheme of a ``scheme://…`` destination string, None for a plain path."""
    if not isinstance(destination, str):
        return None
    match = _SCHEME.match(destination)
    return match.group(1).lower() if match else None


def exporter_entry_points() -> list[metadata.EntryPoint]:
    """Every entry point of the exporter group, without importing anything (3.9-compatible)."""
    found = metadata.entry_points()
    if hasattr(found, "select"):
        selected: Iterable[metadata.EntryPoint] = found.select(group=ENTRY_POINT_GROUP)
    else:  # pragma: no cover - Python 3.9's dict of groups
        selected = found.get(ENTRY_POINT_GROUP, ())
    unique: dict[tuple[str, str], metadata.EntryPoint] = {}
    for point in selected:  # one distribution seen through two sys.path entries counts once
        unique.setdefault((point.name.lower(), point.value), point)
    return sorted(unique.values(), key=lambda point: point.name.lower())


_REGISTERED: dict[str, Exporter] = {}
_REGISTERED_LOCK = threading.Lock()


def available_schemes() -> list[str]:
    """The schemes of the installed and registered exporters, sorted."""
    with _REGISTERED_LOCK:
        registered = set(_REGISTERED)
    return sorted(registered | {point.name.lower() for point in exporter_entry_points()})


def _checked(exporter: object, origin: str, name: Optional[str]) -> Exporter:
    """``exporter`` if it has ``export()`` and a ``scheme`` (equal to ``name`` when given)."""
    if not callable(getattr(exporter, "export", None)):
        raise ExporterError(f"exporter {origin} has no export() method")
    declared = getattr(exporter, "scheme", None)
    if not isinstance(declared, str) or not _SCHEME.match(declared + "://"):
        raise ExporterError(f"exporter {origin} declares no valid scheme: {declared!r}")
    if name is not None and declared.lower() != name.lower():
        raise ExporterError(
            f"exporter {origin} declares scheme {declared!r}; "
            "the entry point must be named after the scheme"
        )
    return exporter  # type: ignore[return-value]


def register_exporter(exporter: object) -> Exporter:
    """Make ``exporter`` (an object, or a class called with no argument) handle its scheme.

    The in-code way to add an exporter without packaging an entry point; it takes precedence
    over an installed exporter of the same scheme (for this process) and gets purge hooks
    like installed ones. Returns the registered object; ExporterError if it is no exporter.
    """
    instance = exporter() if isinstance(exporter, type) else exporter
    checked = _checked(instance, repr(instance), None)
    with _REGISTERED_LOCK:
        _REGISTERED[checked.scheme.lower()] = checked
    return checked


def unregister_exporter(scheme: str) -> None:
    """Forget the exporter `register_exporter` set for ``scheme`` (no error if none)."""
    with _REGISTERED_LOCK:
        _REGISTERED.pop(scheme.lower(), None)


def _registered() -> dict[str, Exporter]:
    with _REGISTERED_LOCK:
        return dict(_REGISTERED)


def _instantiate(point: metadata.EntryPoint) -> Exporter:
    """Load one entry point and check that it gives an exporter for its own scheme."""
    try:
        loaded = point.load()
        exporter = loaded() if isinstance(loaded, type) else loaded
    except Exception as exc:
        raise ExporterError(
            f"exporter {point.name!r} ({point.value}) cannot be loaded: {_describe(exc)}"
        ) from exc
    return _checked(exporter, f"{point.name!r} ({point.value})", point.name)


def load_exporter(
    scheme: str, *, entry_points: Sequence[metadata.EntryPoint] | None = None
) -> Exporter:
    """The installed exporter for ``scheme``; ValueError naming the installed ones if none.

    An exporter set by `register_exporter` comes first; ``entry_points`` defaults to those
    installed (`exporter_entry_points`).
    """
    wanted = scheme.lower()
    registered = _registered().get(wanted)
    if registered is not None:
        return registered
    points = exporter_entry_points() if entry_points is None else list(entry_points)
    matching = [point for point in points if point.name.lower() == wanted]
    if not matching:
        installed = sorted({point.name.lower() for point in points} | set(_registered()))
        listing = ", ".join(f"{name}://" for name in installed) or "none"
        raise ValueError(
            f"no exporter for {wanted}:// destinations (installed exporters: {listing}; "
            f"plain file names export to .jsonl, .json or .csv)"
        )
    if len(matching) > 1:
        values = ", ".join(point.value for point in matching)
        raise ExporterError(f"several exporters claim {wanted}://: {values}")
    return _instantiate(matching[0])


def _describe(exc: BaseException) -> str:
    """One redacted, bounded line describing an exception (fit for an audit record)."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    try:
        from dihya_logging.redaction._redactor import default_redactor

        text = default_redactor().redact_text(text)
    except Exception:  # pragma: no cover - redaction never fails; be safe anyway
        text = type(exc).__name__
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 1] + "…"


def audited_destination(exporter: object, destination: str) -> str:
    """What an export's audit event names as destination: never credentials nor a query.

    The exporter's ``describe_destination`` when it has one, else the URI's last path segment
    (or the scheme).
    """
    describe = getattr(exporter, "describe_destination", None)
    if callable(describe):
        return str(describe(destination))
    parts = urlsplit(destination)
    return os.path.basename(parts.path.rstrip("/")) or parts.scheme


def _accepts_location(hook: Callable[..., Any]) -> bool:
    """Whether a purge hook declares a ``location`` keyword (optional part of the protocol)."""
    try:
        parameters = inspect.signature(hook).parameters
    except (TypeError, ValueError):
        return False
    return "location" in parameters or any(
        parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()
    )


def notify_purge(
    purge_event: dict[str, Any],
    *,
    location: Optional[str] = None,
    entry_points: Sequence[metadata.EntryPoint] | None = None,
) -> list[dict[str, Any]]:
    """Call ``on_purge`` of every installed or registered exporter that has one; never raises.

    Returns one outcome per exporter that has a hook or cannot be loaded, for the purge's audit
    record: ``{"exporter": scheme, "ok": bool, "error": str | None}`` (the error is one
    redacted line); a hook that returns ``False`` (no copy concerned) is left out. Each hook
    gets its own deep copy of ``purge_event``, and ``location`` (the purged log) when it
    declares that keyword.
    """
    points = exporter_entry_points() if entry_points is None else list(entry_points)
    registered = _registered()
    # (name, exporter, entry point to load): an entry point is never recognised by its class,
    # since another importlib.metadata (a backport on the meta path) may have made it
    candidates: list[tuple[str, Any, Optional[metadata.EntryPoint]]] = [
        (name, exporter, None) for name, exporter in sorted(registered.items())
    ]
    candidates += [
        (point.name.lower(), None, point)
        for point in points
        if point.name.lower() not in registered
    ]
    outcomes: list[dict[str, Any]] = []
    for name, candidate, point in candidates:
        try:
            exporter = _instantiate(point) if point is not None else candidate
        except ExporterError as exc:
            outcomes.append({"exporter": name, "ok": False, "error": _describe(exc)})
            continue
        hook = getattr(exporter, "on_purge", None)
        if not callable(hook):
            continue
        try:
            if location is not None and _accepts_location(hook):
                answer = hook(copy.deepcopy(purge_event), location=location)
            else:
                answer = hook(copy.deepcopy(purge_event))
        except Exception as exc:
            outcomes.append({"exporter": name, "ok": False, "error": _describe(exc)})
        else:
            if answer is not False:  # False: it holds nothing of this log, not a recipient
                outcomes.append({"exporter": name, "ok": True, "error": None})
    return outcomes
