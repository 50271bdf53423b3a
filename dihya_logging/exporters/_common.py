"""What the package's own exporters share: options, retries, the export ledger, anonymisation.

Floor 5 (loaded only with an exporter, never by the core): the ledger is how an exporter's
``on_purge`` finds, long after an export, which destinations hold which users. It is a private
JSON-lines file beside a file log (``<log>.exports``, mode ``0o600``; back it up with the log
and its ``.anonkey``), or ``$DIHYA_EXPORT_LEDGER``, or for a database store a file under
``$XDG_STATE_HOME/dihya-logging/``. Users are named in it by their pseudonym only (the token
purge events carry), destinations without credentials.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, Optional, TypeVar
from urllib.parse import parse_qsl, urlsplit

from dihya_logging._logset import ensure_private_dir, open_private
from dihya_logging.exporters._registry import ExportContext
from dihya_logging.store._backend import is_database_location

__all__ = [
    "ENV_LEDGER",
    "LEDGER_SUFFIX",
    "ExportLedger",
    "LineStream",
    "TransientError",
    "anonymized_record",
    "json_line",
    "option",
    "purged_token",
    "query_options",
    "utc_stamp",
    "with_retries",
    "with_user_replaced",
]

ENV_LEDGER: Final = "DIHYA_EXPORT_LEDGER"
LEDGER_SUFFIX: Final = ".exports"
_T = TypeVar("_T")


class TransientError(Exception):
    """A failure worth retrying (5xx, 429, a dropped connection); ``retry_after`` in seconds."""

    def __init__(self, message: str, *, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def with_retries(
    action: Callable[[], _T],
    *,
    attempts: int = 5,
    backoff: float = 0.5,
    cap: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """``action()``, retried on `TransientError` with jittered exponential backoff.

    The delay before retry *n* (from 0) is ``backoff·2ⁿ`` (at most ``cap``), scaled by a random
    factor in [0.5, 1] so that many clients do not retry in step; a server's ``Retry-After``
    wins when given. The last failure is raised.
    """
    for attempt in range(attempts):
        try:
            return action()
        except TransientError as exc:
            if attempt + 1 >= attempts:
                raise
            if exc.retry_after is not None:
                delay = min(cap, max(0.0, exc.retry_after))
            else:
                delay = min(cap, backoff * 2**attempt) * (0.5 + random.random() / 2)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def query_options(destination: str) -> dict[str, str]:
    """The query string of a URI as a dict (last value wins)."""
    return dict(parse_qsl(urlsplit(destination).query, keep_blank_values=True))


def option(options: Mapping[str, str], name: str, default: float, *, minimum: float = 0) -> float:
    """A numeric option of a destination URI; ValueError naming it when it is not a number."""
    text = options.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"option {name}={text!r} is not a number") from None
    if value < minimum or value != value:
        raise ValueError(f"option {name}={text!r} must be >= {minimum}")
    return value


def json_line(record: dict[str, Any]) -> bytes:
    """One record as a compact JSON line (UTF-8, ``\\n``-terminated), as in the log."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class LineStream:
    """Records as JSON lines, counted, with each user's line numbers noted by pseudonym.

    ``transform`` (for instance `anonymized_record`) applies to each record before encoding;
    the exporter's ``progress`` is called every few thousand lines and at the end.
    """

    def __init__(
        self,
        records: Iterable[dict[str, Any]],
        context: ExportContext,
        transform: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None,
    ) -> None:
        self._records = records
        self._context = context
        self._transform = transform
        self.count = 0
        self.users: dict[str, list[int]] = {}

    def __iter__(self) -> Iterator[bytes]:
        progress = self._context.progress
        for record in self._records:
            user = record.get("user_id")
            if isinstance(user, str) and user:
                self.users.setdefault(self._context.pseudonym(user), []).append(self.count)
            yield json_line(self._transform(record) if self._transform else record)
            self.count += 1
            if progress is not None and self.count % 4096 == 0:
                progress(self.count)
        if progress is not None:
            progress(self.count)


def utc_stamp() -> str:
    """Now, as a compact UTC stamp for object names: ``20261204T061500Z``."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def purged_token(event: Mapping[str, Any]) -> Optional[str]:
    """The pseudonym of the user a purge event erased, None for a purge not scoped to a user."""
    scope = event.get("filter")
    token = scope.get("user_id") if isinstance(scope, Mapping) else None
    return token if isinstance(token, str) and token else None


def anonymized_record(record: dict[str, Any], pseudonym: Callable[[str], str]) -> dict[str, Any]:
    """A copy of ``record`` with its user (and an audit event's actor) replaced by pseudonyms.

    As ``purge --anonymize`` does: every mention of the user id, in any string of the record
    (paths such as ``user_1/app.py``), becomes the token.
    """
    user = record.get("user_id")
    new = with_user_replaced(record, pseudonym(user)) if isinstance(user, str) else dict(record)
    actor = new.get("actor")
    if isinstance(actor, str) and actor and "event" in new:
        new["actor"] = pseudonym(actor)
    return new


def with_user_replaced(record: dict[str, Any], token: str) -> dict[str, Any]:
    """A copy of ``record`` whose ``user_id``, wherever mentioned, is ``token`` instead."""
    from dihya_logging.store._purge import scrub

    user = record.get("user_id")
    if not isinstance(user, str) or not user:
        return dict(record)
    new: dict[str, Any] = scrub(record, user, token, substrings=True)
    new["user_id"] = token
    return new


class ExportLedger:
    """Where past exports went and which users (by pseudonym) each one holds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")

    @classmethod
    def for_location(cls, location: str) -> ExportLedger:
        """The ledger of the log at ``location`` (see the module's docstring)."""
        configured = os.environ.get(ENV_LEDGER)
        if configured:
            return cls(Path(os.path.abspath(configured)))
        if is_database_location(location):
            state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
            digest = hashlib.sha256(location.encode("utf-8")).hexdigest()[:16]
            return cls(Path(state) / "dihya-logging" / f"exports-{digest}.jsonl")
        log = Path(os.path.abspath(location))
        return cls(log.with_name(log.name + LEDGER_SUFFIX))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        ensure_private_dir(self.path.parent)
        fd = open_private(self._lock_path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self) -> list[dict[str, Any]]:
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return []
        with os.fdopen(fd, "rb") as source:
            entries = []
            for line in source:
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if isinstance(entry, dict):
                        entries.append(entry)
            return entries

    def entries(self, kind: str) -> list[dict[str, Any]]:
        """The recorded exports of ``kind`` (an exporter's ledger name), oldest first."""
        if not self.path.exists():  # the common case of a purge: no export ever made
            return []
        return [entry for entry in self._read() if entry.get("kind") == kind]

    def record(self, kind: str, destination: str, users: set[str], **details: Any) -> None:
        """Append one export: its destination (no credentials), users' tokens, details."""
        entry = {
            "kind": kind,
            "at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            "destination": destination,
            "users": sorted(users),
            **details,
        }
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
        with self._locked():
            fd = open_private(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def update(
        self, kind: str, change: Callable[[dict[str, Any]], Optional[dict[str, Any]]]
    ) -> None:
        """Replace each entry of ``kind`` by ``change(entry)`` (None drops it), atomically."""
        if not self.path.exists():
            return
        with self._locked():
            kept: list[dict[str, Any]] = []
            for entry in self._read():
                new = change(entry) if entry.get("kind") == kind else entry
                if new is not None:
                    kept.append(new)
            temp = self.path.with_name(f".{self.path.name}.tmp-{os.urandom(6).hex()}")
            fd = open_private(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            try:
                with os.fdopen(fd, "wb") as out:
                    for entry in kept:
                        out.write(json.dumps(entry, ensure_ascii=False, sort_keys=True).encode())
                        out.write(b"\n")
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, self.path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
