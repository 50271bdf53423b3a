"""Monthly partitions: rows land in their month, retention drops whole months, migration."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers_export import run_cli
from helpers_postgres import rows
from pg_server import PgServer, pg_server_fixture  # noqa: F401

from dihya_logging import get_generation_logs, purge_generation_logs
from dihya_logging.postgres import PostgresLogHandler, PostgresStore, import_log_set

pytestmark = pytest.mark.postgres

STAMPS = [
    "2026-01-05T10:00:00.000Z",
    "2026-01-20T10:00:00.000Z",
    "2026-02-10T10:00:00.000Z",
    "2026-03-01T00:00:00.000Z",
    "2026-03-20T10:00:00.000Z",
]


def _insert(dsn: str, records: list[dict[str, Any]], tmp_path: Path) -> None:
    """Load records with the timestamps given, through the import (the common insert path)."""
    log = tmp_path / f"{uuid.uuid4().hex}.log"
    log.write_text("".join(json.dumps(record) + "\n" for record in records))
    assert import_log_set(log, dsn).inserted == len(records)


def _partitions(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'dihya_generation_log'::regclass ORDER BY 1"
        ).fetchall()
    return [name for (name,) in found]


def _events(stamps: list[str], event: str = "generation") -> list[dict[str, Any]]:
    return [
        {"event": event, "user_id": f"u{n}", "timestamp": stamp} for n, stamp in enumerate(stamps)
    ]


def test_rows_land_in_their_month(pg_server: PgServer, tmp_path: Path) -> None:
    """Each month (UTC) gets its partition, made by the first insert that needs it."""
    dsn = pg_server.create_database()
    _insert(dsn, _events(STAMPS), tmp_path)
    assert _partitions(dsn) == [
        "dihya_generation_log_p202601",
        "dihya_generation_log_p202602",
        "dihya_generation_log_p202603",
    ]
    assert [r["user_id"] for r in get_generation_logs(path=dsn)] == [f"u{n}" for n in range(5)]
    summary = PostgresStore(dsn).summary()
    assert (summary["records"], summary["users"]) == (5, 5)
    assert summary["bytes"] > 3 * 8192  # the partitions' pages, not the empty parent's


def test_retention_drops_whole_months_and_keeps_purge_records(
    pg_server: PgServer, tmp_path: Path
) -> None:
    """A retention purge drops the months wholly before the cutoff, deletes in the boundary
    month only, and keeps every purge record (put back into a fresh partition)."""
    dsn = pg_server.create_database()
    _insert(dsn, _events(STAMPS) + _events(["2026-01-07T00:00:00.000Z"], "purge"), tmp_path)
    removed = purge_generation_logs(before="2026-03-10", actor="ops", path=dsn)
    assert removed == 4
    left = get_generation_logs(path=dsn)
    assert [(r["event"], r.get("user_id")) for r in left][:2] == [
        ("purge", "u0"),
        ("generation", "u4"),
    ]
    assert len([r for r in left if r["event"] == "purge"]) == 2  # the old one and this purge's
    assert "dihya_generation_log_p202602" not in _partitions(dsn)
    assert "dihya_generation_log_p202603" in _partitions(dsn)
    with psycopg.connect(dsn) as conn:
        january = conn.execute("SELECT count(*) FROM dihya_generation_log_p202601").fetchone()
    assert january == (1,)  # a fresh partition holding only the purge record


PLAIN_TABLE = """
CREATE TABLE dihya_generation_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id uuid        NOT NULL UNIQUE,
    ts        timestamptz NOT NULL,
    event     text,
    user_id   text,
    status    text,
    record    jsonb       NOT NULL
);
CREATE INDEX dihya_generation_log_ts_idx ON dihya_generation_log (ts);
CREATE INDEX dihya_generation_log_user_ts_idx ON dihya_generation_log (user_id, ts);
CREATE INDEX dihya_generation_log_event_ts_idx ON dihya_generation_log (event, ts);
CREATE INDEX dihya_generation_log_status_ts_idx ON dihya_generation_log (status, ts);
"""


def test_a_plain_table_is_migrated_in_place(
    pg_server: PgServer, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    """`migrate --partition` turns a schema-1 table into the partitioned one, ids and records
    intact; the store keeps working on it; running it again changes nothing."""
    dsn = pg_server.create_database()
    pg_server.psql(PLAIN_TABLE, dbname=dsn.rsplit("/", 1)[1])
    with psycopg.connect(dsn) as conn:
        for n, stamp in enumerate(STAMPS):
            record = {"timestamp": stamp, "event": "generation", "user_id": f"u{n}"}
            conn.execute(
                "INSERT INTO dihya_generation_log (record_id, ts, event, user_id, record) "
                "VALUES (%s, %s, 'generation', %s, %s)",
                [str(uuid.uuid4()), stamp, f"u{n}", json.dumps(record)],
            )
    before = rows(dsn)
    result = run_cli("migrate", "--partition", "--to", dsn, env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert "5 records moved" in result.stdout
    months = _partitions(dsn)
    assert months[:3] == [f"dihya_generation_log_p20260{m}" for m in (1, 2, 3)]
    now = datetime.now(timezone.utc)
    assert f"dihya_generation_log_p{now:%Y%m}" in months  # ready for the writers of this month
    assert rows(dsn) == before
    _insert(dsn, _events(["2026-04-01T00:00:00.000Z"]), tmp_path)
    assert [r["user_id"] for r in get_generation_logs(path=dsn)][-1] == "u0"
    assert "dihya_generation_log_p202604" in _partitions(dsn)
    again = run_cli("migrate", "--partition", "--to", dsn, env=subprocess_env)
    assert "already partitioned" in again.stdout


def test_a_writer_goes_on_after_its_month_was_dropped(pg_server: PgServer, tmp_path: Path) -> None:
    """A writer whose month's partition is dropped under it (a retention purge, or by hand)
    makes the partition again and loses nothing, without going through the spill file."""
    dsn = pg_server.create_database()
    handler = PostgresLogHandler(dsn, spill_path=tmp_path / "spill.log")
    logger = logging.getLogger(f"dihya.test.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.info("first", extra={"event": "generation", "user_id": "u1"})
    handler.flush()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in _partitions(dsn):
            conn.execute(f'DROP TABLE "{name}"'.encode())
    logger.info("second", extra={"event": "generation", "user_id": "u1"})
    handler.close()
    assert [r["record"]["message"] for r in rows(dsn)] == ["second"]
    assert handler.writer.spilled == 0
