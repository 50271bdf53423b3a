"""``notion://<database-id>`` exporter: one Notion page per record (official ``notion-client``).

Needs the ``notion`` extra and an integration token in ``$NOTION_TOKEN`` (the database shared
with that integration). Pages are created in the database's first data source (API version
2025-09-03) with these properties, each set when the database has a property of that name —
of that type, else the export stops with a clear error before writing anything:

=============  ==============  ===========================================
property       type            value
=============  ==============  ===========================================
(the title)    title           ``project_name`` (or ``(<event>)`` for audit events)
Record ID      rich_text       required: a digest of the record, so a re-run adds nothing
User           rich_text       required: the user's pseudonym (never the id in clear)
Status         select          ``status``
Stack          select          ``stack``
Template       select          ``template``
Event          select          ``event``
Plugins        multi_select    ``plugins``
Timestamp      date            ``timestamp``
Error          rich_text       ``error``
=============  ==============  ===========================================

Records are pseudonymised as by ``purge --anonymize`` before they leave (Notion is a third
party; the token still lets a purge find the pages). Requests are spaced to about three per
second (Notion's documented average limit; ``?rate=`` changes it) and 429, 5xx and network
failures are retried with jittered exponential backoff (honouring ``Retry-After``); a page
creation is retried only after checking that it did not happen. A purge of a user moves that
user's pages to the trash (``in_trash``; only those older than ``before`` if the purge has
one). ``?base_url=`` points the client elsewhere (a proxy, or the tests' local server).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Optional, TypeVar
from urllib.parse import urlsplit

from dihya_logging.exporters._common import (
    ExportLedger,
    TransientError,
    anonymized_record,
    option,
    purged_token,
    query_options,
    with_retries,
)
from dihya_logging.exporters._registry import ExportContext

__all__ = ["ENV_NOTION_TOKEN", "NotionExporter", "record_id"]

ENV_NOTION_TOKEN: Final = "NOTION_TOKEN"  # noqa: S105 - a variable name
RECORD_ID: Final = "Record ID"
USER: Final = "User"
_SELECTS: Final = (("Status", "status"), ("Stack", "stack"), ("Template", "template"))
_LEDGER_KIND: Final = "notion"
_TEXT_LIMIT: Final = 2000
_OPTION_LIMIT: Final = 100
_T = TypeVar("_T")


def record_id(record: dict[str, Any]) -> str:
    """A stable id for a record: SHA-256 of its canonical JSON, 32 hex digits."""
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


class _RateLimiter:
    """At most ``rate`` calls per second, spaced evenly (thread-safe)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self._next > now:
                time.sleep(self._next - now)
                now = self._next
            self._next = now + self._interval


def _text(value: Any) -> list[dict[str, Any]]:
    if value is None or value == "":
        return []
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return [{"type": "text", "text": {"content": text[:_TEXT_LIMIT]}}]


def _option(value: Any) -> Optional[dict[str, str]]:
    """A select option: Notion forbids commas in option names and caps them at 100."""
    if value is None or value == "":
        return None
    text = (value if isinstance(value, str) else json.dumps(value)).replace(",", ";")
    return {"name": text[:_OPTION_LIMIT]}


class _Database:
    """A Notion database reached through ``notion-client``, with rate limit and retries."""

    def __init__(self, destination: str) -> None:
        parts = urlsplit(destination)
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"put no token in a notion:// URI: use ${ENV_NOTION_TOKEN}")
        self.database_id = (parts.netloc + parts.path).strip("/").split("/")[-1]
        if not self.database_id:
            raise ValueError("a notion:// destination needs a database id: notion://<id>")
        options = query_options(destination)
        token = os.environ.get(ENV_NOTION_TOKEN, "")
        if not token:
            raise ValueError(f"set ${ENV_NOTION_TOKEN} to the Notion integration's token")
        self._limiter = _RateLimiter(option(options, "rate", 3.0, minimum=0.01))
        self._attempts = int(option(options, "retries", 6, minimum=1))
        self._backoff = option(options, "backoff", 1.0)
        try:
            from notion_client import Client
        except ImportError:  # pragma: no cover - the extra is installed in the tests
            raise RuntimeError(
                "notion:// exports need notion-client: pip install 'dihya-logging[notion]'"
            ) from None
        quiet = logging.getLogger("dihya_logging.exporters.notion")
        settings: dict[str, Any] = {"auth": token, "retry": False, "logger": quiet}
        if options.get("base_url"):
            settings["base_url"] = options["base_url"]
        self.client: Any = Client(**settings)
        self._data_source: Optional[str] = None
        self.properties: dict[str, str] = {}
        self.title = ""

    def call(
        self, action: Callable[[], _T], *, before_retry: Optional[Callable[[], bool]] = None
    ) -> _T:
        """``action()`` under the rate limit, 429/5xx/network errors retried with backoff.

        ``before_retry()`` returning True means the effect already happened: stop there.
        """
        import httpx  # notion-client's transport
        from notion_client.errors import HTTPResponseError, RequestTimeoutError

        attempts = [0]

        def attempt() -> _T:
            if attempts[0] and before_retry is not None and before_retry():
                return None  # type: ignore[return-value]
            attempts[0] += 1
            self._limiter.wait()
            try:
                return action()
            except HTTPResponseError as exc:
                if exc.status == 429 or exc.status >= 500:
                    after = exc.headers.get("retry-after") if exc.headers else None
                    raise TransientError(
                        f"Notion answered {exc.status}",
                        retry_after=float(after) if after and after.isdigit() else None,
                    ) from None
                raise RuntimeError(f"Notion refused the request: {exc.status} {exc}") from None
            except RequestTimeoutError:
                raise TransientError("Notion timed out") from None
            except (httpx.TransportError, OSError) as exc:
                raise TransientError(f"Notion unreachable: {type(exc).__name__}") from None

        return with_retries(attempt, attempts=self._attempts, backoff=self._backoff)

    def open(self) -> None:
        """Find the data source and check its properties' types."""
        database = self.call(lambda: self.client.databases.retrieve(database_id=self.database_id))
        sources = database.get("data_sources") or []
        if not sources:
            raise RuntimeError(f"Notion database {self.database_id} has no data source")
        self._data_source = sources[0]["id"]
        source = self.call(
            lambda: self.client.data_sources.retrieve(data_source_id=self._data_source)
        )
        self.properties = {name: spec["type"] for name, spec in source["properties"].items()}
        titles = [name for name, kind in self.properties.items() if kind == "title"]
        self.title = titles[0] if titles else ""
        wanted = {
            RECORD_ID: "rich_text",
            USER: "rich_text",
            "Error": "rich_text",
            "Event": "select",
            "Plugins": "multi_select",
            "Timestamp": "date",
            **{name: "select" for name, _ in _SELECTS},
        }
        problems = [
            f"{name!r} must be {kind}, not {self.properties[name]}"
            for name, kind in wanted.items()
            if name in self.properties and self.properties[name] != kind
        ]
        problems += [
            f"add a {kind} property {name!r}"
            for name, kind in ((RECORD_ID, "rich_text"), (USER, "rich_text"))
            if name not in self.properties
        ]
        if problems:
            raise ValueError(f"Notion database {self.database_id}: " + "; ".join(problems))

    def pages(self, flt: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The pages of the data source matching a Notion filter (all pages of results)."""
        cursor: Optional[str] = None
        while True:
            arguments: dict[str, Any] = {"filter": flt, "page_size": 100}
            if cursor:
                arguments["start_cursor"] = cursor
            query = functools.partial(
                self.client.data_sources.query, data_source_id=self._data_source, **arguments
            )
            answer = self.call(query)
            yield from answer.get("results", [])
            cursor = answer.get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return

    def existing_ids(self) -> set[str]:
        """The record ids already in the database."""
        found = set()
        for page in self.pages({"property": RECORD_ID, "rich_text": {"is_not_empty": True}}):
            texts = page.get("properties", {}).get(RECORD_ID, {}).get("rich_text", [])
            found.add("".join(part.get("plain_text", "") for part in texts))
        return found

    def has_record(self, identifier: str) -> bool:
        """Whether a page for ``identifier`` exists (checked before retrying a creation)."""
        flt = {"property": RECORD_ID, "rich_text": {"equals": identifier}}
        return any(True for _ in self.pages(flt))

    def properties_of(self, record: dict[str, Any], identifier: str) -> dict[str, Any]:
        """The typed property values of one (pseudonymised) record."""
        values: dict[str, Any] = {
            RECORD_ID: {"rich_text": _text(identifier)},
            USER: {"rich_text": _text(record.get("user_id"))},
        }
        if self.title:
            name = record.get("project_name") or f"({record.get('event') or 'record'})"
            values[self.title] = {"title": _text(name)}
        for name, key in (*_SELECTS, ("Event", "event")):
            if name in self.properties:
                values[name] = {"select": _option(record.get(key))}
        plugins = record.get("plugins")
        if "Plugins" in self.properties and isinstance(plugins, list):
            chosen = [_option(p) for p in plugins]
            unique = {o["name"]: o for o in chosen if o is not None}
            values["Plugins"] = {"multi_select": list(unique.values())}
        if "Timestamp" in self.properties and isinstance(record.get("timestamp"), str):
            values["Timestamp"] = {"date": {"start": record["timestamp"]}}
        if "Error" in self.properties:
            values["Error"] = {"rich_text": _text(record.get("error"))}
        return values

    def create(self, record: dict[str, Any], identifier: str) -> None:
        """Create the record's page; a retry first checks it was not created meanwhile."""
        parent = {"type": "data_source_id", "data_source_id": self._data_source}
        properties = self.properties_of(record, identifier)
        self.call(
            lambda: self.client.pages.create(parent=parent, properties=properties),
            before_retry=lambda: self.has_record(identifier),
        )

    def trash(self, page_id: str) -> None:
        """Move a page to the trash (what the Notion UI calls deleting; restorable 30 days)."""
        self.call(lambda: self.client.pages.update(page_id=page_id, in_trash=True))


class NotionExporter:
    """``notion://<database-id>``: one page per record, deduplicated by record id."""

    scheme = "notion"

    def describe_destination(self, destination: str) -> str:
        """The audited destination: ``notion://<database-id>`` (no options)."""
        parts = urlsplit(destination)
        return "notion://" + (parts.netloc + parts.path).strip("/")

    def export(
        self, records: Iterable[dict[str, Any]], destination: str, *, context: ExportContext
    ) -> int:
        """Create a page for each record not already there; return how many records were sent.

        Records already in the database count as exported (they are there); the receipt says
        how many pages were created.
        """
        database = _Database(destination)
        database.open()
        existing = database.existing_ids()
        ledger = ExportLedger.for_location(context.location)
        users: set[str] = set()
        count = created = 0
        try:
            for record in records:
                identifier = record_id(record)
                if identifier not in existing:
                    pseudonymised = anonymized_record(record, context.pseudonym)
                    database.create(pseudonymised, identifier)
                    existing.add(identifier)
                    created += 1
                    user = pseudonymised.get("user_id")
                    if isinstance(user, str) and user:
                        users.add(user)
                count += 1
                if context.progress is not None and count % 50 == 0:
                    context.progress(count)
        finally:
            if users:
                ledger.record(_LEDGER_KIND, destination, users)
            context.receipt["created"] = created
        if context.progress is not None:
            context.progress(count)
        return count

    def on_purge(self, event: dict[str, Any], *, location: Optional[str] = None) -> bool:
        """Move the erased user's pages to the trash in every database that got them."""
        token = purged_token(event)
        if location is None or token is None or event.get("mode") != "delete":
            return False  # anonymising purges: Notion already holds the pseudonym only
        ledger = ExportLedger.for_location(location)
        destinations = sorted(
            {e["destination"] for e in ledger.entries(_LEDGER_KIND) if token in e["users"]}
        )
        if not destinations:
            return False
        before = event.get("filter", {}).get("before")
        for destination in destinations:
            database = _Database(destination)
            database.open()
            conditions: list[dict[str, Any]] = [{"property": USER, "rich_text": {"equals": token}}]
            if before is not None and "Timestamp" in database.properties:
                conditions.append({"property": "Timestamp", "date": {"before": before}})
            for page in list(database.pages({"and": conditions})):
                database.trash(page["id"])
        if before is None:

            def forget(entry: dict[str, Any]) -> dict[str, Any]:
                entry["users"] = [user for user in entry.get("users", ()) if user != token]
                return entry

            ledger.update(_LEDGER_KIND, forget)
        return True
