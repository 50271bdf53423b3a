"""Load an existing JSON-lines log set (rotated and ``.gz`` files included) into the table.

Idempotent: each line gets a record id derived from its text and from how many identical lines
came before it (or the id a spill file stored with it), so importing the same files again, or
a log that has grown since, inserts only what is new. Tombstones and damaged lines (not JSON,
or a last line cut by a crash) are skipped and counted. The files are only read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from dihya_logging._logset import LogSet, PathLike
from dihya_logging.postgres._dsn import PostgresError, require_psycopg, resolve_location
from dihya_logging.postgres._rows import loads, prepare_row
from dihya_logging.postgres._schema import (
    Row,
    ensure_partitions,
    ensure_schema,
    insert_rows,
    partition_table,
)
from dihya_logging.postgres._spill import strip_spill_id
from dihya_logging.store._reading import ReadStats, open_log_file

__all__ = ["ImportOutcome", "import_log_set", "partition_in_place"]


@dataclass
class ImportOutcome:
    """What an import did: lines read, rows inserted, already present, skipped."""

    files: int = 0
    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    damaged: int = 0
    tombstones: int = 0


def _lines(path: Path, outcome: ImportOutcome) -> Iterator[str]:
    stream, _ = open_log_file(path, ReadStats())
    with stream:
        for raw in stream:
            if not raw.endswith(b"\n"):
                outcome.damaged += 1  # cut by a crash
                break
            text = raw.decode("utf-8", "replace").strip()
            if text:
                yield text


def _rows(files: list[Path], outcome: ImportOutcome) -> Iterator[Row]:
    seen: dict[str, int] = {}
    for path in files:
        outcome.files += 1
        for text in _lines(path, outcome):
            record_id, line = strip_spill_id(text, seen)
            try:
                record: Any = loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                outcome.damaged += 1
                continue
            if record.get("tombstone") is True:
                outcome.tombstones += 1
                continue
            outcome.read += 1
            yield prepare_row(record_id, line)


def import_log_set(
    source: PathLike,
    dsn: Optional[str] = None,
    table: Optional[str] = None,
    *,
    batch_size: int = 2000,
    progress: Optional[Callable[[int], None]] = None,
) -> ImportOutcome:
    """Copy every record of the log at ``source`` into the table (created if missing).

    ``dsn`` defaults to ``$DIHYA_PG_DSN``. Each batch is committed on its own: an interrupted
    import is simply run again. ``progress`` is called with the running count of lines read.
    """
    location = resolve_location(dsn, table)
    files = LogSet(source).files()
    if not files:
        raise FileNotFoundError(f"no log files at {source}")
    outcome = ImportOutcome()
    psycopg = require_psycopg()
    try:
        with location.connect(autocommit=True) as conn:
            ensure_schema(conn, location.table)
            batch: list[Row] = []
            for row in _rows(files, outcome):
                batch.append(row)
                if len(batch) >= batch_size:
                    outcome.inserted += insert_rows(conn, location.table, batch)
                    batch = []
                    if progress is not None:
                        progress(outcome.read)
            outcome.inserted += insert_rows(conn, location.table, batch)
    except psycopg.Error as exc:
        raise location.error("import", exc) from None
    except PostgresError:
        raise
    outcome.duplicates = outcome.read - outcome.inserted
    if progress is not None:
        progress(outcome.read)
    return outcome


def partition_in_place(dsn: Optional[str] = None, table: Optional[str] = None) -> int:
    """Migrate a schema-1 (plain) log table to the monthly-partitioned one, in place, in one
    transaction, and make sure this month's and next month's partitions exist (writers that do
    not own the table cannot create them: run this monthly from the owner's account); returns
    the records moved (0: already partitioned)."""
    location = resolve_location(dsn, table)
    psycopg = require_psycopg()
    try:
        with location.connect(autocommit=True) as conn:
            ensure_schema(conn, location.table)
            moved = partition_table(conn, location.table)
            now = datetime.now(timezone.utc)
            ensure_partitions(conn, location.table, [now, now + timedelta(days=32)])
            return moved
    except psycopg.Error as exc:
        raise location.error("partitioning", exc) from None
