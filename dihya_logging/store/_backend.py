"""What a log store is: the filter every reader applies and the protocol every backend implements.

Floor 2 (schema only). The public functions (`get_generation_logs`, `export_generation_logs`,
`purge_generation_logs`, …) are written once against `LogStore`; the file store and the
PostgreSQL store implement it. `open_store` picks one from a location.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Optional, Protocol, runtime_checkable

from dihya_logging._schema import (
    EVENT_EXPORT,
    EVENT_PURGE,
    STATUSES,
    DateLike,
    parse_datetime,
    parse_timestamp,
    user_id_text,
)

__all__ = [
    "AUDIT_EVENTS",
    "LogStore",
    "PurgeOutcome",
    "RecordFilter",
    "is_database_location",
    "read_damage",
]

AUDIT_EVENTS: Final = (EVENT_PURGE, EVENT_EXPORT)
"""Events that record an action about users (by token): found by ``--user U --event …``."""

_DATABASE_URL = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://", re.IGNORECASE)
_KEY_VALUE_DSN = re.compile(r"^\s*(?:host|hostaddr|port|dbname|user|service)\s*=")
"""A libpq key/value connection string (``host=db dbname=logs``) starts with one of these."""


def is_database_location(location: object) -> bool:
    """True when ``location`` names a PostgreSQL database rather than a file: a
    ``postgresql://`` URL or a libpq key/value DSN such as ``host=db dbname=logs``."""
    return isinstance(location, str) and bool(
        _DATABASE_URL.match(location) or _KEY_VALUE_DSN.match(location)
    )


@dataclass(frozen=True)
class RecordFilter:
    """Which records a read, export or purge selects; every given criterion must hold."""

    user_id: Optional[str] = None
    status: Optional[str] = None
    event: Optional[str] = None
    since: Optional[datetime] = None
    """Inclusive lower bound on ``timestamp`` (aware UTC)."""
    until: Optional[datetime] = None
    """Exclusive upper bound on ``timestamp`` (aware UTC)."""
    audit_pseudonym: Optional[str] = None
    """``user_id``'s token: audit events (``purge``, ``export``) whose ``filter`` names it are
    about that user and match too (they hold the token, never the id)."""

    @classmethod
    def build(
        cls,
        *,
        user_id: object = None,
        status: object = None,
        event: object = None,
        since: DateLike | None = None,
        until: DateLike | None = None,
    ) -> RecordFilter:
        """Validate user input (clear TypeError/ValueError) and parse the dates."""
        if user_id is not None:
            user_id = user_id_text(user_id)
        for name, value in (("status", status), ("event", event)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a string, got {type(value).__name__}")
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        start = parse_datetime(since) if since is not None else None
        end = parse_datetime(until) if until is not None else None
        if start is not None and end is not None and start >= end:
            raise ValueError(
                f"since ({start.isoformat()}) must be before until ({end.isoformat()})"
            )
        return cls(
            user_id=user_id,
            status=status,
            event=event,  # type: ignore[arg-type]
            since=start,
            until=end,
        )

    @property
    def is_empty(self) -> bool:
        """True when the filter selects every record."""
        return not (self.user_id or self.status or self.event or self.since or self.until)

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether a parsed record satisfies every criterion."""
        if (
            self.user_id is not None
            and record.get("user_id") != self.user_id
            and not self._audit_about_user(record)
        ):
            return False
        if self.status is not None and record.get("status") != self.status:
            return False
        if self.event is not None and record.get("event") != self.event:
            return False
        if self.since is not None or self.until is not None:
            stamp = parse_timestamp(record.get("timestamp", ""))
            if stamp is None:
                return False
            if self.since is not None and stamp < self.since:
                return False
            if self.until is not None and stamp >= self.until:
                return False
        return True

    def _audit_about_user(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` is an audit event whose scope names `audit_pseudonym`."""
        if self.audit_pseudonym is None or record.get("event") not in AUDIT_EVENTS:
            return False
        scope = record.get("filter")
        return isinstance(scope, dict) and scope.get("user_id") == self.audit_pseudonym

    def describe(self) -> dict[str, str]:
        """The criteria as plain text, for audit events (user ids are the caller's to hash)."""
        out: dict[str, str] = {}
        for name in ("user_id", "status", "event"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.since is not None:
            out["since"] = self.since.isoformat()
        if self.until is not None:
            out["until"] = self.until.isoformat()
        return out


@dataclass
class PurgeOutcome:
    """What a purge did: how many records it removed or anonymized, and backend details."""

    count: int
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class LogStore(Protocol):
    """A place records live in: the file log set, or a PostgreSQL table."""

    location: str
    """Human-readable location (a path or a DSN with the password removed)."""

    def iter_records(self, flt: RecordFilter) -> Iterator[dict[str, Any]]:
        """Matching records, oldest first, streamed."""
        ...

    def tail(self, limit: int, flt: RecordFilter) -> list[dict[str, Any]]:
        """The newest ``limit`` matching records, in chronological order."""
        ...

    def purge(
        self, *, user_id: Optional[str], before: Optional[datetime], anonymize: bool
    ) -> PurgeOutcome:
        """Remove (or anonymize) the selected records everywhere; all records if no filter."""
        ...

    def append_audit(self, fields: dict[str, Any]) -> None:
        """Write one audit event (export, purge, …) into this store through its own sink."""
        ...

    def check_audit(self) -> None:
        """Raise (clear ValueError) when `append_audit` could not write a valid event here.

        Called before a sensitive action, so that an export or purge never happens unaudited.
        """
        ...


def read_damage(store: LogStore) -> list[Any]:
    """What the store's reads could not read so far: a file store's `FileDamage` entries (one
    per damaged file and read); a database store reads no damaged lines, so none."""
    return list(getattr(store, "damage", ()))
