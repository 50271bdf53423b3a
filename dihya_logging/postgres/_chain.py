"""Tamper evidence in the database: each writer seals its rows into its own chain; `verify_table`.

Floor 5 (chain format and report, postgres). The chain is the file chain's (`chain._format`:
``commit = SHA-256(salt ‖ payload)``, ``link = H(previous link ‖ seq ‖ commit)``, ``H`` keyed by
the same chain key), with one difference forced by ``jsonb``, which does not keep the text it
was given: the payload is the record's canonical JSON (keys sorted, compact, the chain fields
left out), computed from the record as ``jsonb`` gives it back. Each writer (a handler in one
process: host, pid and a random token) is its own chain, named by the record's ``chain`` field,
its ``seq`` counting from 1; rows are checked in ``(chain, seq)`` order, so the order rows were
inserted in (spill replays, several processes) does not matter.

A purge keeps what it removes from a chain in ``<table>_tombstones`` (chain, seq, commit, link:
nothing of the record) and lists those seqs, per chain, in its ``purge`` record
(``tombstoned``/``resealed``: ``{"<chain>": "1-4,9"}``); `verify_table` accepts no missing or
rewritten row that no purge record lists. A retention purge deletes the oldest rows of each
chain outright: a chain that starts after seq 1 is accepted (noted) only if a retention purge
was recorded.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Optional, Union

import psycopg
from psycopg import sql

from dihya_logging._schema import EVENT_PURGE, parse_timestamp
from dihya_logging.chain._format import (
    ENV_CHAIN_KEY,
    GENESIS_LINK,
    SALT_SIZE,
    KeyLike,
    Linker,
    SeqRanges,
    as_key,
    commitment,
    encode_seqs,
    sealed_suffix,
)
from dihya_logging.chain._verify import CANNOT_CHECK, Findings, VerifyReport
from dihya_logging.postgres._dsn import resolve_location
from dihya_logging.postgres._rows import stored_record
from dihya_logging.postgres._schema import (
    heads_table,
    table_exists,
    table_sql,
    tombstone_table,
)

__all__ = ["CHAIN_ID_FIELD", "Authorisations", "RowSealer", "row_payload", "verify_table"]

CHAIN_ID_FIELD: Final = "chain"
"""The record field naming the writer's chain."""
_SEALS: Final = ("chain", "seq", "salt", "commit", "link", "tombstone", "anonymized")
"""Fields that are not part of a row's payload."""
_NO_CHAIN: Final = "(no chain)"


def _jsonb_float(text: str) -> Union[float, int]:
    """A JSON number with a fraction or an exponent as ``jsonb`` gives it back.

    ``numeric`` keeps the value exactly and prints it with ``max(0, -exponent)`` decimals, so
    ``1e3`` or ``1.5e2`` come back as integers (``1000``, ``150``), ``-0.0`` as ``0.0``; every
    other number reads back as the same float.
    """
    if Decimal(text).as_tuple().exponent >= 0:  # type: ignore[operator]
        return int(Decimal(text))
    value = float(text)
    return 0.0 if value == 0.0 else value


def row_payload(record: dict[str, Any]) -> bytes:
    """What a row's commitment covers: its canonical JSON without the chain fields.

    ``record`` is as ``jsonb`` gives it back, read by the standard ``json`` (the writer parses
    its line with `_jsonb_float`), so the writer and `verify_table` compute the same bytes.
    """
    kept = {key: value for key, value in record.items() if key not in _SEALS}
    text = json.dumps(kept, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass")


class RowSealer:
    """Seals the lines of one writer into its own chain (call under the handler's lock)."""

    def __init__(self, key: KeyLike = None) -> None:
        self._key = as_key(key if key is not None else os.environ.get(ENV_CHAIN_KEY))
        self._link = Linker(self._key).link
        self.chain_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._seq = 0
        self._head = GENESIS_LINK

    def seal(self, line: str) -> str:
        """The line (a JSON object, as the formatter wrote it) with its chain fields appended.

        A caller's field named like a chain field is overridden (``jsonb`` keeps the last of
        duplicate keys) and left out of the payload on both sides.
        """
        text = stored_record(line)[1]  # the text the row will store
        payload = row_payload(json.loads(text, parse_float=_jsonb_float))
        self._seq += 1
        salt = os.urandom(SALT_SIZE)
        commit = commitment(salt, payload)
        self._head = self._link(self._head, self._seq, commit)
        body = text[:-1].rstrip()
        fields = f'"{CHAIN_ID_FIELD}":{json.dumps(self.chain_id)}' + sealed_suffix(
            self._seq, salt.hex().encode(), commit.hex().encode(), self._head.hex().encode()
        ).decode("ascii")
        return body + ("" if body == "{" else ",") + fields


@dataclass
class Authorisations:
    """The chain entries a purge took out of the table (tombstoned) or rewrote (resealed)."""

    tombstoned: dict[str, list[int]] = field(default_factory=dict)
    resealed: dict[str, list[int]] = field(default_factory=dict)

    def add(self, kind: str, record: dict[str, Any]) -> None:
        """Note a chained ``record`` (others are ignored) as tombstoned or resealed."""
        chain, seq = record.get(CHAIN_ID_FIELD), record.get("seq")
        if isinstance(chain, str) and type(seq) is int:
            getattr(self, kind).setdefault(chain, []).append(seq)

    def fields(self) -> dict[str, Any]:
        """The purge record's ``tombstoned``/``resealed`` fields (empty when nothing chained)."""
        out: dict[str, Any] = {}
        for kind in ("tombstoned", "resealed"):
            chains = getattr(self, kind)
            if chains:
                out[kind] = {chain: encode_seqs(seqs) for chain, seqs in sorted(chains.items())}
        return out


# -- verification ---------------------------------------------------------------------------------
@dataclass
class _Chain:
    name: str
    seq: int = 0
    link: Optional[bytes] = None
    started: bool = False


def _hex(value: object, size: int) -> Optional[bytes]:
    if not isinstance(value, str) or len(value) != 2 * size or value != value.lower():
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def _ranges(value: object) -> dict[str, SeqRanges]:
    if not isinstance(value, dict):
        return {}
    return {str(chain): SeqRanges(seqs) for chain, seqs in value.items()}


class _TableChecker:
    """Accumulates the verdict while rows come in ``(chain, seq)`` order."""

    def __init__(
        self,
        report: VerifyReport,
        key: Optional[bytes],
        purges: list[Any],
        heads: dict[str, tuple[int, str]],
    ) -> None:
        self.report = report
        self.heads = heads
        self.found = Findings()
        self.key = key
        self._link = Linker(key).link
        self._plain = Linker(None).link
        self.links_ok = self.links_bad = 0
        self.tombstoned: dict[str, list[SeqRanges]] = {}
        self.resealed: dict[str, list[SeqRanges]] = {}
        self.retention = False
        for purge in purges:
            if not isinstance(purge, dict):
                continue
            for chain, ranges in _ranges(purge.get("tombstoned")).items():
                self.tombstoned.setdefault(chain, []).append(ranges)
            for chain, ranges in _ranges(purge.get("resealed")).items():
                self.resealed.setdefault(chain, []).append(ranges)
            scope = purge.get("filter")
            self.retention |= isinstance(scope, dict) and "before" in scope
        self.chain: Optional[_Chain] = None
        self.unchained: list[str] = []

    def _bad(self, where: str, seq: object, text: str, kind: str = "") -> None:
        self.found.bad(self.chain.name if self.chain else "", 0, seq, f"{where}: {text}", kind)

    def _authorised(self, table: dict[str, list[SeqRanges]], chain: str, seq: int) -> bool:
        return any(seq in ranges for ranges in table.get(chain, ()))

    def row(
        self, record_id: str, record: Any, tombstone: bool, ts: Optional[datetime] = None
    ) -> None:
        """One row (or tombstone) of the table; ``ts`` is its ordering column."""
        where = f"tombstone of row {record_id}" if tombstone else f"row {record_id}"
        if not isinstance(record, dict) or not isinstance(record.get(CHAIN_ID_FIELD), str):
            if isinstance(record, dict) and any(name in record for name in _SEALS[1:5]):
                self.found.bad(_NO_CHAIN, 0, None, f"{where}: its chain fields were rewritten")
            else:
                self.unchained.append(where)
            return
        name, seq = record[CHAIN_ID_FIELD], record.get("seq")
        commit, link = _hex(record.get("commit"), 32), _hex(record.get("link"), 32)
        if type(seq) is not int or seq < 1 or commit is None or link is None:
            self.found.bad(name, 0, None, f"{where}: its chain fields were rewritten")
            return
        if self.chain is None or self.chain.name != name:
            self._end_of_chain()
            self.chain = _Chain(name)
            self.report.files.append(name)
        if tombstone:
            self.report.tombstones += 1
            if not self._authorised(self.tombstoned, name, seq):
                self._bad(where, seq, "removed from the chain, but no purge record lists it")
        elif record.get("anonymized") is True and "salt" not in record:
            self.report.anonymized += 1
            if not self._authorised(self.resealed, name, seq):
                self._bad(where, seq, "rewritten, but no purge record lists it")
        else:
            salt = _hex(record.get("salt"), 16)
            self.report.records += 1
            if salt is None or commitment(salt, row_payload(record)) != commit:
                self._bad(where, seq, "its content does not match its commitment: edited")
            stamp = parse_timestamp(str(record.get("timestamp", "")))
            if ts is not None and stamp is not None and stamp != ts:
                self._bad(where, seq, "its ts column is not its record's time: moved (reordered)")
        self._step(where, seq, commit, link)

    def _step(self, where: str, seq: int, commit: bytes, link: bytes) -> None:
        chain = self.chain
        assert chain is not None
        if not chain.started:
            chain.started = True
            if seq > 1 and not self.retention:
                first = "row 1 is" if seq == 2 else f"rows 1-{seq - 1} are"
                self._bad(where, seq, f"{first} missing from this chain: deleted")
            elif seq > 1:
                self.found.notes.append(
                    f"chain {chain.name} starts at seq {seq} (older rows purged by retention)"
                )
            previous: Optional[bytes] = GENESIS_LINK if seq == 1 else None
        elif seq == chain.seq:
            self._bad(where, seq, f"a second row with seq {seq}: inserted (a copy)")
            return
        elif seq > chain.seq + 1:
            missing = (
                f"row {chain.seq + 1} is"
                if seq == chain.seq + 2
                else f"rows {chain.seq + 1}-{seq - 1} are"
            )
            self._bad(where, seq, f"{missing} missing from this chain: deleted")
            previous = None
        else:
            previous = chain.link
        if previous is not None:
            if self._link(previous, seq, commit) == link:
                self.links_ok += 1
            else:
                self.links_bad += 1
                forged = self.key is not None and self._plain(previous, seq, commit) == link
                self._bad(
                    where,
                    seq,
                    "its link is a plain SHA-256, not keyed: forged by someone without the key"
                    if forged
                    else "its link does not follow from the previous row: altered or inserted",
                    "link",
                )
        chain.seq, chain.link = seq, link

    def _end_of_chain(self) -> None:
        """The chain just walked must end at its recorded head (else its newest rows were cut)."""
        chain = self.chain
        if chain is None:
            return
        head = self.heads.pop(chain.name, None)
        if head is None:
            self.found.bad(chain.name, 0, None, "this chain has no recorded head: inserted?")
        elif head[0] > chain.seq:
            cut = (
                f"row {head[0]} is"
                if head[0] == chain.seq + 1
                else f"rows {chain.seq + 1}-{head[0]} are"
            )
            self.found.bad(chain.name, 0, head[0], f"{cut} missing from the end of this chain: cut")
        elif head[0] == chain.seq and chain.link is not None and head[1] != chain.link.hex():
            self.found.bad(chain.name, 0, head[0], "the last row is not the recorded head")

    def finish(self) -> VerifyReport:
        """The verdict."""
        self._end_of_chain()
        for name, (seq, _) in sorted(self.heads.items()):  # chains with no row left at all
            if self.retention:
                self.found.notes.append(f"chain {name} (head seq {seq}) was purged by retention")
            else:
                self.found.bad(name, 0, seq, f"all {seq} rows of this chain are missing: deleted")
        report, found = self.report, self.found
        if not report.files:
            found.unknown.append(
                "the table is not chained: no row carries a chain (PostgresLogHandler chain=True)"
                if self.unchained
                else f"no rows in {report.path}"
            )
            return found.conclude(report)
        for where in self.unchained:
            found.bad(
                _NO_CHAIN, 0, None, f"{where}: no chain fields: inserted, or written unchained"
            )
        if self.links_bad and not self.links_ok:
            found.drop("link")
            found.unknown.append(
                "no link matches the key given: the wrong key (or a forgery)"
                if self.key is not None
                else "the links are not plain SHA-256: the table is keyed; give the key"
            )
        report.notes.append(f"{len(report.files)} writer chain(s) checked")
        return found.conclude(report)


def _rows(
    conn: psycopg.Connection[Any], table: str
) -> Iterator[tuple[str, Any, bool, Optional[datetime]]]:
    """Every row and tombstone, in ``(chain, seq)`` order (unchained rows first)."""
    query = sql.SQL(
        "SELECT record_id, record, tombstone, ts FROM (SELECT record_id::text, record, "
        "false AS tombstone, ts FROM {} UNION ALL SELECT record_id::text, record, true, NULL "
        "FROM {}) u "
        "ORDER BY record->>'chain' NULLS FIRST, "
        "CASE WHEN jsonb_typeof(record->'seq') = 'number' THEN (record->>'seq')::numeric END "
        "NULLS FIRST"
    ).format(table_sql(table), table_sql(tombstone_table(table)))
    with conn.cursor(name=f"dihya_verify_{uuid.uuid4().hex[:8]}") as cur:
        cur.itersize = 5000
        cur.execute(query)
        yield from cur


def verify_table(location: str, key: KeyLike = None) -> VerifyReport:
    """Check every writer chain of the table at ``location`` (a DSN); never raises for a bad
    table: the report says intact, tampered or cannot check, naming rows by record id."""
    target = resolve_location(location)
    report = VerifyReport(path=target.display, status=CANNOT_CHECK)
    secret = as_key(key if key is not None else os.environ.get(ENV_CHAIN_KEY))
    try:
        with target.connect() as conn:  # the standard json loader: big integers stay exact
            if not table_exists(conn, target.table):
                report.problems.append(f"no table {target.table} at {target.display}")
                return report
            purges = conn.execute(
                sql.SQL("SELECT record FROM {} WHERE event = %s").format(table_sql(target.table)),
                [EVENT_PURGE],
            ).fetchall()
            heads = conn.execute(
                sql.SQL("SELECT chain, seq::text, link FROM {}").format(
                    table_sql(heads_table(target.table))
                )
            ).fetchall()
            checker = _TableChecker(
                report,
                secret,
                [row[0] for row in purges],
                {chain: (int(Decimal(seq)), link) for chain, seq, link in heads},
            )
            for record_id, record, tombstone, ts in _rows(conn, target.table):
                checker.row(record_id, record, tombstone, ts)
    except Exception as exc:  # psycopg.Error, PostgresError
        error = exc if isinstance(exc, OSError) else target.error("verify", exc)
        report.problems.append(f"cannot read the table: {error}")
        return report
    return checker.finish()
