"""Erasure receipts: the JSON document a data-protection officer hands over to prove a purge.

Floor 4 (store backend, chain format). A receipt says who purged, when, what (the scope, with the
user id as its pseudonym — never in clear), how many records went from which file, and the
chain's head after the purge (its ``purge`` event included), so the receipt can be checked
against the log with ``dihya-logs verify``. When the log is sealed with a chain key, the receipt
carries an HMAC-SHA-256 of its canonical JSON (sorted keys, compact, ASCII) under that key, and
the key's public fingerprint: `check_receipt` tells a genuine receipt from an edited one.

A receipt file is created private (``0o600``) and never replaces anything: an existing path (a
file, a symlink, a FIFO) is refused before the purge starts (`check_receipt_destination`).
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, Optional

from dihya_logging._logset import PathLike, open_private
from dihya_logging.chain._format import key_id
from dihya_logging.store._backend import LogStore, PurgeOutcome

__all__ = [
    "RECEIPT_KIND",
    "build_receipt",
    "check_receipt",
    "check_receipt_destination",
    "write_receipt",
]

RECEIPT_KIND: Final = "dihya-logging erasure receipt"


def _canonical(receipt: dict[str, Any]) -> bytes:
    """The bytes the HMAC covers: every field but ``hmac``, sorted, compact, ASCII."""
    body = {key: value for key, value in receipt.items() if key != "hmac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _store_key(store: LogStore) -> Optional[bytes]:
    """The chain key the store seals with (file stores), else None."""
    key = getattr(store, "key", None)
    found = key() if callable(key) else None
    return found if isinstance(found, bytes) and found else None


def build_receipt(
    store: LogStore, outcome: PurgeOutcome, *, now: Optional[datetime] = None
) -> dict[str, Any]:
    """The receipt of a purge that ``outcome`` describes (signed when the chain is keyed)."""
    audit: dict[str, Any] = outcome.details.get("audit", {})
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    head = getattr(store, "chain_head", None)
    chain = head() if callable(head) else None
    receipt: dict[str, Any] = {
        "receipt": RECEIPT_KIND,
        "version": 1,
        "log": store.location,
        "performed_by": audit.get("actor"),
        "performed_at": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "mode": audit.get("mode"),
        "scope": audit.get("filter", {}),
        "records_erased": outcome.count,
        "records_erased_per_file": outcome.details.get("per_file"),
        "files_deleted": outcome.details.get("files_deleted", []),
        "tombstoned": audit.get("tombstoned"),
        "resealed": audit.get("resealed"),
        "chain_head_after": chain,
    }
    key = _store_key(store) if chain is not None and chain.get("keyed") else None
    if key is not None:
        receipt["hmac"] = {
            "algorithm": "hmac-sha256",
            "key_id": key_id(key),
            "value": hmac.new(key, _canonical(receipt), hashlib.sha256).hexdigest(),
        }
    return receipt


def check_receipt(receipt: dict[str, Any], key: bytes) -> bool:
    """Whether ``receipt`` is signed with ``key`` and unchanged since."""
    sealed = receipt.get("hmac")
    if not isinstance(sealed, dict) or not isinstance(sealed.get("value"), str):
        return False
    expected = hmac.new(key, _canonical(receipt), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sealed["value"])


def check_receipt_destination(destination: PathLike) -> Path:
    """Refuse, before anything is purged, a receipt path that exists or cannot be created."""
    target = Path(os.path.abspath(os.fspath(destination)))
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "the receipt file exists (never replaced)", str(target))
    if not target.parent.is_dir():
        raise FileNotFoundError(
            errno.ENOENT, "the receipt's directory does not exist", str(target.parent)
        )
    return target


def write_receipt(destination: PathLike, receipt: dict[str, Any]) -> Path:
    """Create ``destination`` (``0o600``, never replacing anything) holding the receipt."""
    target = check_receipt_destination(destination)
    fd = open_private(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(receipt, out, ensure_ascii=False, indent=2, sort_keys=True)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    return target
