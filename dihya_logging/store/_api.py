"""The public face of the store: open one, read records, purge them (erasure and retention).

Floor 3 (the PostgreSQL store and the exporters' purge hooks are imported lazily). Every
function validates its arguments first — a clear TypeError/ValueError before any file is
touched — and works on the `LogStore` that ``path`` names: a ``postgresql://`` DSN opens
`dihya_logging.postgres._store.PostgresStore`, anything else the `FileStore` of
`resolve_log_path(path)`.

**Purge.** The scope is always explicit: ``user_id=`` one user's records (GDPR art. 17);
``before=`` every record older than a date (retention; with ``user_id`` too, that user's older
records); ``all=True`` every record. No scope is a ValueError, never "everything" by default.
``anonymize=True`` (needs ``user_id``) keeps the records but replaces the identity with
`pseudonymize_user_id`'s stable token, so statistics survive. ``dry_run=True`` counts what
would go and changes nothing (no audit event either). ``purge`` audit events are never
removed (they hold no personal data and prove the erasures). Each purge then appends a
``purge`` event — actor, mode, filter (user id as a token, never in clear; ``before`` in ISO
8601), count, tombstoned sequence numbers in a chained log — and tells every installed
exporter with an ``on_purge`` hook (GDPR art. 19), recording each hook's outcome in that event.

**Retention.** The French regulator (CNIL, recommendation on logging measures, 2021) advises
keeping logs six months to one year. `DEFAULT_RETENTION_DAYS` is 365 — the longest period it
considers proportionate for an audit trail, long enough to investigate an incident found late;
operators with no such need should use 180. Nothing is deleted by itself: run
``purge_generation_logs(before=retention_cutoff())`` (or ``dihya-logs purge --before``) from a
daily job, or give the handler ``retention_days`` to drop whole rotated files.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Optional

from dihya_logging._logset import ENV_LOG_FILE, PathLike, attached_handlers, resolve_log_path
from dihya_logging._schema import EVENT_PURGE, DateLike, UserId, parse_datetime, user_id_text
from dihya_logging.store._backend import LogStore, PurgeOutcome, RecordFilter, is_database_location
from dihya_logging.store._filestore import FileStore
from dihya_logging.store._pseudonym import pseudonymize_user_id, replace_user_id

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "audit_actor",
    "count_purge",
    "get_generation_logs",
    "iter_generation_logs",
    "open_store",
    "pseudonym_for",
    "pseudonymize_user_id",
    "purge_generation_logs",
    "purge_store",
    "retention_cutoff",
]

DEFAULT_RETENTION_DAYS: Final = 365
"""Retention default for generation logs: CNIL advises six months to one year for logs."""


def open_store(location: Optional[PathLike] = None) -> LogStore:
    """The store at ``location``: a ``postgresql://`` DSN, else the log file (resolved)."""
    if location is not None and not isinstance(location, (str, os.PathLike)):
        raise TypeError(f"path must be a string, a path or None, got {type(location).__name__}")
    if location is None:
        env = os.environ.get(ENV_LOG_FILE)
        if env and is_database_location(env) and next(attached_handlers(), None) is None:
            location = env
    if is_database_location(location):
        from dihya_logging.postgres._store import PostgresStore

        store: LogStore = PostgresStore(str(location))
        return store
    return FileStore(resolve_log_path(location))


def _check_limit(limit: object) -> Optional[int]:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit must be an integer or None, got {type(limit).__name__}")
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    return limit


def iter_generation_logs(
    limit: Optional[int] = None,
    *,
    user_id: Optional[UserId] = None,
    status: Optional[str] = None,
    event: Optional[str] = None,
    since: Optional[DateLike] = None,
    until: Optional[DateLike] = None,
    path: Optional[PathLike] = None,
) -> Iterator[dict[str, Any]]:
    """Stream the matching records, oldest first (``limit``: only the newest N, still in order).

    Arguments are checked at the call, not at the first ``next()``. Damaged lines are skipped
    with a `DamagedLineWarning`.
    """
    count = _check_limit(limit)
    flt = RecordFilter.build(user_id=user_id, status=status, event=event, since=since, until=until)
    store = open_store(path)
    if count is not None:
        return iter(store.tail(count, flt))
    return store.iter_records(flt)


def get_generation_logs(
    limit: Optional[int] = None,
    *,
    user_id: Optional[UserId] = None,
    status: Optional[str] = None,
    event: Optional[str] = None,
    since: Optional[DateLike] = None,
    until: Optional[DateLike] = None,
    path: Optional[PathLike] = None,
) -> list[dict[str, Any]]:
    """The matching records in chronological order; ``limit`` keeps the newest N (read from
    the end of the log, so it costs O(N) whatever the log's size)."""
    records = iter_generation_logs(
        limit, user_id=user_id, status=status, event=event, since=since, until=until, path=path
    )
    return list(records)


def audit_actor(actor: Optional[str]) -> str:
    """Who an audit event names: ``actor`` if given, else the operating-system user."""
    if actor is not None:
        if not isinstance(actor, str):
            raise TypeError(f"actor must be a string, got {type(actor).__name__}")
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no login name, no passwd entry
        return f"uid:{os.getuid()}"


def pseudonym_for(store: LogStore, user_id: str) -> str:
    """``user_id``'s token as ``store`` writes it (its own key file for a file store)."""
    own = getattr(store, "pseudonymize", None)
    if callable(own):
        return str(own(user_id))
    return pseudonymize_user_id(user_id)


def retention_cutoff(
    days: float = DEFAULT_RETENTION_DAYS, *, now: Optional[datetime] = None
) -> datetime:
    """The ``before`` date of a retention purge keeping ``days`` days (aware UTC)."""
    if isinstance(days, bool) or not isinstance(days, (int, float)) or days < 0:
        raise ValueError(f"days must be a number >= 0, got {days!r}")
    moment = now if now is not None else datetime.now(timezone.utc)
    return parse_datetime(moment) - timedelta(days=days)


def _check_purge(
    user_id: object,
    before: object,
    everything: object,
    anonymize: object,
    dry_run: object,
    actor: object,
) -> Optional[datetime]:
    """Validate a purge request (TypeError/ValueError); the parsed ``before``."""
    if user_id is not None and not user_id_text(user_id).strip():
        raise ValueError("user_id must not be empty")
    cutoff = parse_datetime(before) if before is not None else None  # type: ignore[arg-type]
    for name, flag in (("all", everything), ("anonymize", anonymize), ("dry_run", dry_run)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if everything and (user_id is not None or cutoff is not None):
        raise ValueError("all=True erases everything: it takes no user_id or before")
    if not everything and user_id is None and cutoff is None:
        raise ValueError(
            "a purge needs an explicit scope: user_id= (erasure), before= (retention) "
            "or all=True (everything)"
        )
    if anonymize and user_id is None:
        raise ValueError("anonymize=True needs a user_id (whose records are kept, anonymized)")
    if actor is not None and not isinstance(actor, str):
        raise TypeError(f"actor must be a string, got {type(actor).__name__}")
    return cutoff


def count_purge(
    store: LogStore, *, user_id: Optional[str] = None, before: Optional[datetime] = None
) -> int:
    """How many records a purge of this scope would remove or anonymize (reads only).

    The same selection as every backend's purge: the scope's records except ``purge`` audit
    events (never removed) and tombstones (never read).
    """
    flt = RecordFilter(user_id=user_id, until=before)
    return sum(1 for record in store.iter_records(flt) if record.get("event") != EVENT_PURGE)


def purge_store(
    store: LogStore,
    *,
    user_id: Optional[UserId] = None,
    before: Optional[DateLike] = None,
    all: bool = False,  # the public spelling of "everything"
    anonymize: bool = False,
    dry_run: bool = False,
    actor: Optional[str] = None,
) -> PurgeOutcome:
    """`purge_generation_logs` on an open store; returns the full outcome (count + details).

    The CLI uses it with a `FileStore` that reports progress. ``dry_run`` only counts
    (``details["dry_run"]`` is True) and writes nothing, not even an audit event.
    """
    cutoff = _check_purge(user_id, before, all, anonymize, dry_run, actor)
    if user_id is not None:
        user_id = user_id_text(user_id)
    if dry_run:
        return PurgeOutcome(count_purge(store, user_id=user_id, before=cutoff), {"dry_run": True})
    who = audit_actor(actor)
    mode = "anonymize" if anonymize else "delete"

    def named() -> str:  # a self-service erasure (actor = the user) must not name them
        if user_id is None or user_id not in who:
            return who
        return replace_user_id(who, user_id, pseudonym_for(store, user_id))

    def scope() -> dict[str, Any]:
        described: dict[str, Any] = {}
        if user_id is not None:
            described["user_id"] = pseudonym_for(store, user_id)
        if cutoff is not None:
            described["before"] = cutoff.isoformat().replace("+00:00", "Z")
        if all:
            described["all"] = True
        return described

    store.check_audit()
    try:
        outcome = store.purge(user_id=user_id, before=cutoff, anonymize=anonymize)
    except FileNotFoundError:
        raise  # no log there: nothing happened, nothing to audit
    except Exception as exc:  # a failed or partial purge is on the record too
        with contextlib.suppress(Exception):
            store.append_audit(
                {
                    "event": EVENT_PURGE,
                    "actor": named(),
                    "mode": mode,
                    "filter": scope(),
                    "count": None,
                    "error": type(exc).__name__,
                }
            )
        raise
    fields: dict[str, Any] = {
        "event": EVENT_PURGE,
        "actor": named(),
        "mode": mode,
        "filter": scope(),
        "count": outcome.count,
    }
    for key in ("tombstoned", "resealed"):  # chained log: the seqs this purge authorises
        seqs = outcome.details.get(key)
        if seqs:
            from dihya_logging.chain._format import encode_seqs

            fields[key] = encode_seqs(seqs)
    fields["recipients"] = _notify_recipients(fields, store.location)
    store.append_audit(fields)
    outcome.details["audit"] = fields
    return outcome


def _notify_recipients(event: dict[str, Any], location: str) -> list[dict[str, Any]]:
    """Call the exporters' purge hooks (GDPR art. 19); their outcomes, never an exception."""
    try:
        from dihya_logging.exporters._registry import notify_purge

        return notify_purge(dict(event), location=location)
    except Exception as exc:  # the erasure is done; a broken hook must not hide that
        warnings.warn(f"purge hooks could not run: {type(exc).__name__}", RuntimeWarning, 2)
        return [{"exporter": None, "ok": False, "error": type(exc).__name__}]


def purge_generation_logs(
    *,
    user_id: Optional[UserId] = None,
    before: Optional[DateLike] = None,
    all: bool = False,  # the public spelling of "everything"
    anonymize: bool = False,
    dry_run: bool = False,
    actor: Optional[str] = None,
    path: Optional[PathLike] = None,
    receipt: Optional[PathLike] = None,
) -> int:
    """Remove records from every file (rotated and ``.gz`` ones too); return how many.

    The scope is explicit: ``user_id`` (GDPR erasure; with ``anonymize=True`` the same records
    are kept with the id replaced by a stable token), ``before`` (retention: records older than
    that date), or ``all=True`` (everything); none of them is a ValueError. ``dry_run=True``
    returns the count and changes nothing. Audited with a ``purge`` event naming no data.
    ``receipt``: a new file to write the erasure receipt to (see `store._receipt`; an existing
    path is refused before anything is purged).
    """
    _check_purge(user_id, before, all, anonymize, dry_run, actor)
    if receipt is not None and not dry_run:
        from dihya_logging.store._receipt import check_receipt_destination

        check_receipt_destination(receipt)
    store = open_store(path)
    outcome = purge_store(
        store,
        user_id=user_id,
        before=before,
        all=all,
        anonymize=anonymize,
        dry_run=dry_run,
        actor=actor,
    )
    if receipt is not None and not dry_run:
        from dihya_logging.store._receipt import build_receipt, write_receipt

        write_receipt(receipt, build_receipt(store, outcome))
    return outcome.count
