"""Re-redaction: rewrite a log set with the current redactor (``dihya-logs redact``).

Floor 3 (redaction, reading, purge, filestore). When the catalogue of detectors grows, logs
written under older rules still hold what the new rules catch. `redact_generation_logs` streams
every file of the set (live, rotated, ``.gz``) through the current `Redactor` with the purge's
machinery (`FileStore.rewrite`: the log set's lock, a private temporary file per changed file,
all renamed only once every file was rewritten), then leaves a ``redact`` audit event with the
number of values masked per file, never the values.

Decisions:

* Tombstones and audit events (``purge``, ``redact``) are left as they are: they were written
  through the redactor, and in a chained log they authorise other lines.
* A chained record whose content changes is resealed like an anonymized one
  (`chain._format.reseal_anonymized`: its ``seq``/``commit``/``link`` kept, ``"anonymized":
  true``, no salt) and the ``redact`` event lists its seq (``resealed``), which `verify`
  accepts as it accepts a purge's: the log stays verifiable.
* Damaged lines are kept (a redaction removes nothing); the count says how many were seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from dihya_logging._logset import PathLike
from dihya_logging._schema import EVENT_PURGE, EVENT_REDACT
from dihya_logging.redaction._redactor import default_redactor
from dihya_logging.store._api import audit_actor, open_store
from dihya_logging.store._filestore import FileStore
from dihya_logging.store._formats import dump_record
from dihya_logging.store._purge import PurgePolicy
from dihya_logging.store._reading import load_line

__all__ = ["RedactPolicy", "redact_generation_logs", "redact_store"]

"""The ``event`` of the audit record a re-redaction leaves."""
_CHAIN_FIELDS = ("seq", "salt", "commit", "link")
_AUDIT_EVENTS = (EVENT_PURGE, EVENT_REDACT)


def count_changes(old: Any, new: Any) -> int:
    """How many values (leaves, and keys renamed by masking) differ between two JSON values."""
    if isinstance(old, dict) and isinstance(new, dict):
        changed = sum(1 for k in new if k not in old)
        return changed + sum(count_changes(v, new[k]) for k, v in old.items() if k in new)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return sum(count_changes(a, b) for a, b in zip(old, new))
    return 0 if old == new else 1


class RedactPolicy(PurgePolicy):
    """A `PurgePolicy` that removes nothing: every record is redacted again and replaced when
    the current rules mask more than the ones it was written with."""

    def __init__(self) -> None:
        super().__init__()
        self.redactor = default_redactor()
        self.masked: dict[str, int] = {}
        self.records: dict[str, int] = {}
        self._file = ""

    def start_file(self, path: Path) -> None:
        """Count what follows under ``path``'s name."""
        self._file = path.name
        self.masked.setdefault(path.name, 0)
        self.records.setdefault(path.name, 0)

    def whole_block(self, block: bytes) -> Optional[int]:
        """Never drop a block."""
        return None

    def decide(self, line: bytes) -> Optional[bytes]:
        """None to keep ``line``, else the line redacted with the current rules."""
        try:
            record = load_line(line)
        except ValueError:
            return None
        if not isinstance(record, dict) or record.get("tombstone") is True:
            return None
        if record.get("event") in _AUDIT_EVENTS:
            return None
        body = {k: v for k, v in record.items() if k not in _CHAIN_FIELDS}
        new = self.redactor.redact(body)
        masked = count_changes(body, new)
        if not masked:
            return None
        self.masked[self._file] += masked
        self.records[self._file] += 1
        if "seq" in record and "link" in record:
            from dihya_logging.chain._format import reseal_anonymized

            self.resealed.append(record["seq"])
            new = reseal_anonymized(record, new)
        else:
            new.update((k, record[k]) for k in _CHAIN_FIELDS if k in record)
        return dump_record(new) + b"\n"


def redact_store(store: FileStore, *, dry_run: bool = False, actor: Optional[str] = None) -> int:
    """`redact_generation_logs` on an open `FileStore` (the CLI passes one that shows progress);
    returns how many values were (or, with ``dry_run``, would be) masked."""
    if actor is not None and not isinstance(actor, str):
        raise TypeError(f"actor must be a string, got {type(actor).__name__}")
    store.check_audit()
    policy = RedactPolicy()
    rewritten, _, _, _ = store.rewrite(policy, dry_run=dry_run, on_file=policy.start_file)
    total = sum(policy.masked.values())
    if dry_run:
        return total
    fields: dict[str, Any] = {
        "event": EVENT_REDACT,
        "actor": audit_actor(actor),
        "count": total,
        "masked": {name: n for name, n in policy.masked.items() if n},
        "records": {name: n for name, n in policy.records.items() if n},
        "files_rewritten": rewritten,
    }
    if policy.resealed:
        from dihya_logging.chain._format import encode_seqs

        fields["resealed"] = encode_seqs(policy.resealed)
    store.append_audit(fields)
    return total


def redact_generation_logs(
    path: Optional[PathLike] = None, *, dry_run: bool = False, actor: Optional[str] = None
) -> int:
    """Rewrite every file of the log set (rotated and ``.gz`` too) with the current redactor.

    Returns how many values were masked (``dry_run=True``: would be, and nothing changes).
    Audited with a ``redact`` event giving the count per file, never a value. A chained log
    stays verifiable (changed records are resealed and listed by the event).
    """
    store = open_store(path)
    if not isinstance(store, FileStore):
        raise ValueError("redact works on a log file set, not on a database")
    return redact_store(store, dry_run=dry_run, actor=actor)
