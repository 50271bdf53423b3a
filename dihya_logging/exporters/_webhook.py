"""``https://`` exporter: signed webhook deliveries of JSON-lines batches (standard library only).

Each batch of records is POSTed as ``application/x-ndjson`` with these headers:

* ``X-Dihya-Timestamp``: Unix seconds when the batch was signed;
* ``X-Dihya-Signature``: ``sha256=`` + hex HMAC-SHA-256, keyed with the shared secret, of
  ``timestamp + "." + body`` — a receiver recomputes it, compares in constant time and rejects
  a timestamp more than five minutes away (`verify_signature` does all three), so a captured
  request cannot be replayed later nor altered;
* ``X-Dihya-Delivery``: a random id, the same across retries of one batch (deduplicate on it);
* ``X-Dihya-Event``: ``records`` for a batch, ``erasure`` for a purge notice.

The secret comes from ``$DIHYA_WEBHOOK_SECRET`` (or the variable named by the ``dihya_secret_env``
option) and nothing is sent unsigned. Options, in the query string and removed from the URL
before sending: ``dihya_batch`` (records per POST, 500), ``dihya_retries`` (attempts, 5),
``dihya_backoff`` (first retry delay in seconds, 0.5). 5xx, 429 and connection failures are
retried with backoff; other 4xx fail at once. Plain ``http://`` is accepted for loopback
receivers only (``127.0.0.0/8``, ``::1``, ``localhost``).

Each batch also carries ``X-Dihya-Users``: the pseudonyms of the users in it (the tokens of
``purge --anonymize``), which a receiver keeps beside the records. On a purge, each receiver
that got the erased user's records (every receiver, for a purge not scoped to a user) gets a
signed ``erasure`` notice, ``{"type": "erasure", "event": {...}}``: the purge event as
audited, naming the user by that same token, so the receiver knows what to erase.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dihya_logging.exporters._common import (
    ExportLedger,
    TransientError,
    json_line,
    option,
    purged_token,
    with_retries,
)
from dihya_logging.exporters._registry import ExportContext

__all__ = [
    "ENV_WEBHOOK_SECRET",
    "LoopbackWebhookExporter",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookExporter",
    "sign",
    "verify_signature",
]

ENV_WEBHOOK_SECRET: Final = "DIHYA_WEBHOOK_SECRET"  # noqa: S105 - a variable name
SIGNATURE_HEADER: Final = "X-Dihya-Signature"
TIMESTAMP_HEADER: Final = "X-Dihya-Timestamp"
TOLERANCE_SECONDS: Final = 300
_LEDGER_KIND: Final = "webhook"
_OPTION_PREFIX: Final = "dihya_"
_TIMEOUT: Final = 30.0


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    tolerance: float = TOLERANCE_SECONDS,
    now: Optional[float] = None,
) -> bool:
    """For receivers: whether a delivery is authentic and fresh (constant-time comparison)."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Target:
    """A parsed webhook destination: the URL to POST to, the options, the secret."""

    def __init__(self, destination: str) -> None:
        parts = urlsplit(destination)
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http"):
            raise ValueError(f"not a webhook URL: {scheme}://")
        if not parts.hostname:
            raise ValueError("the webhook URL has no host")
        if scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError("plain http:// webhooks are accepted for loopback receivers only")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "put no credentials in the webhook URL: the receiver authenticates the "
                f"signature made with ${ENV_WEBHOOK_SECRET}"
            )
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        options = {k: v for k, v in pairs if k.startswith(_OPTION_PREFIX)}
        kept = [(k, v) for k, v in pairs if not k.startswith(_OPTION_PREFIX)]
        self.url = urlunsplit((scheme, parts.netloc, parts.path or "/", urlencode(kept), ""))
        self.public = f"{scheme}://{parts.netloc}"
        self.batch = int(option(options, "dihya_batch", 500, minimum=1))
        self.attempts = int(option(options, "dihya_retries", 5, minimum=1))
        self.backoff = option(options, "dihya_backoff", 0.5)
        variable = options.get("dihya_secret_env") or ENV_WEBHOOK_SECRET
        secret = os.environ.get(variable, "")
        if not secret:
            raise ValueError(f"set ${variable} to the secret shared with the webhook receiver")
        self.secret = secret.encode("utf-8")

    def post(self, body: bytes, headers: Mapping[str, str]) -> None:
        """POST ``body`` signed (a fresh timestamp per attempt), retrying transient failures."""
        delivery = str(uuid.uuid4())

        def attempt() -> None:
            stamp = int(time.time())
            request = urllib.request.Request(  # noqa: S310 - scheme checked above
                self.url,
                data=body,
                method="POST",
                headers={
                    **headers,
                    TIMESTAMP_HEADER: str(stamp),
                    SIGNATURE_HEADER: sign(self.secret, stamp, body),
                    "X-Dihya-Delivery": delivery,
                    "User-Agent": "dihya-logging-webhook",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310
                    response.read()
            except urllib.error.HTTPError as exc:
                exc.close()
                if exc.code >= 500 or exc.code == 429:
                    retry_after = exc.headers.get("Retry-After") if exc.headers else None
                    raise TransientError(
                        f"webhook answered {exc.code}",
                        retry_after=float(retry_after)
                        if retry_after and retry_after.isdigit()
                        else None,
                    ) from None
                raise RuntimeError(
                    f"webhook {self.public} refused the delivery: {exc.code}"
                ) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise TransientError(f"webhook unreachable: {type(reason).__name__}") from None

        with_retries(attempt, attempts=self.attempts, backoff=self.backoff)


class _WebhookSender:
    """Sends records to a webhook in signed batches (shared by ``https`` and ``http``)."""

    scheme = "https"

    def describe_destination(self, destination: str) -> str:
        """The audited destination: scheme and host only (a path may embed a token)."""
        parts = urlsplit(destination)
        return f"{parts.scheme.lower()}://{parts.hostname or ''}" + (
            f":{parts.port}" if parts.port else ""
        )

    def export(
        self, records: Iterable[dict[str, Any]], destination: str, *, context: ExportContext
    ) -> int:
        """POST the records in signed batches; return how many were delivered."""
        target = _Target(destination)
        ledger = ExportLedger.for_location(context.location)
        count = 0
        users: set[str] = set()
        batch: list[bytes] = []
        batch_users: set[str] = set()

        def flush() -> None:
            nonlocal count
            if not batch:
                return
            body = b"".join(batch)
            target.post(
                body,
                {
                    "Content-Type": "application/x-ndjson",
                    "X-Dihya-Event": "records",
                    "X-Dihya-Records": str(len(batch)),
                    "X-Dihya-Users": ",".join(sorted(batch_users)),
                },
            )
            count += len(batch)
            users.update(batch_users)
            batch.clear()
            batch_users.clear()
            if context.progress is not None:
                context.progress(count)

        try:
            for record in records:
                batch.append(json_line(record))
                user = record.get("user_id")
                if isinstance(user, str) and user:
                    batch_users.add(context.pseudonym(user))
                if len(batch) >= target.batch:
                    flush()
            flush()
        finally:
            if count:  # what reached the receiver is on the ledger even if a later batch failed
                ledger.record(_LEDGER_KIND, destination, users, url=target.url)
        context.receipt["batches"] = -(-count // target.batch) if count else 0
        return count


class WebhookExporter(_WebhookSender):
    """``https://receiver/path``: signed JSON-lines batches; erasure notices on purge."""

    scheme = "https"

    def on_purge(self, event: dict[str, Any], *, location: Optional[str] = None) -> bool:
        """Send a signed erasure notice to every receiver that holds the purged records."""
        if location is None:
            return False
        ledger = ExportLedger.for_location(location)
        entries = ledger.entries(_LEDGER_KIND)
        token = purged_token(event)
        urls = {  # one notice per receiver, whatever options its exports used
            entry.get("url", entry["destination"]): entry["destination"]
            for entry in entries
            if token is None or token in entry.get("users", ())
        }
        if not urls:
            return False
        body = json.dumps({"type": "erasure", "event": event}, ensure_ascii=False).encode()
        failed: dict[str, str] = {}
        for url, destination in sorted(urls.items()):
            try:
                _Target(destination).post(
                    body, {"Content-Type": "application/json", "X-Dihya-Event": "erasure"}
                )
            except Exception as exc:
                failed[url] = f"{urlsplit(url).hostname}: {exc}"
        if token is not None and event.get("mode") == "delete":

            def forget(entry: dict[str, Any]) -> dict[str, Any]:
                if entry.get("url", entry["destination"]) in failed:
                    return entry
                entry["users"] = [user for user in entry.get("users", ()) if user != token]
                return entry

            ledger.update(_LEDGER_KIND, forget)
        if failed:
            raise RuntimeError("erasure notice not delivered to " + "; ".join(failed.values()))
        return True


class LoopbackWebhookExporter(_WebhookSender):
    """``http://127.0.0.1:port/path``: the same, to a receiver on this machine (tests, sidecars).

    It has no purge hook of its own: the ``https`` exporter's hook notifies every receiver.
    """

    scheme = "http"
