"""Outages: records spill to a local file while PostgreSQL is down and are sent, once, later."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers_postgres import count_rows, rows, start_writers, wait_writers
from pg_server import PgServer, pg_dsn_fixture, pg_server_fixture  # noqa: F401

from dihya_logging import LOGGER_NAME, purge_generation_logs
from dihya_logging.postgres import PostgresLogHandler
from dihya_logging.postgres._spill import Spill

pytestmark = pytest.mark.postgres


def _wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def _log_and_close(dsn: str, spill_path: Path, users: list[str]) -> list[dict[str, Any]]:
    """Log one event per user through a handler, close it; every row of the table after."""
    handler = PostgresLogHandler(dsn, spill_path=spill_path, flush_interval=0.05)
    logger = _logger(handler)
    for user in users:
        logger.info("g", extra={"event": "generation", "user_id": user})
    handler.close()
    logger.removeHandler(handler)
    return rows(dsn)


def _spill_lines(path: Path) -> list[str]:
    found: list[str] = []
    for file in sorted(path.parent.glob(f"*{path.name}*")):
        if file.is_file() and not file.name.endswith(".lock"):
            found += file.read_text().splitlines()
    return found


def test_several_processes_survive_a_server_restart(
    pg_server: PgServer, pg_dsn: str, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """Three writers keep logging while the server stops (-m fast) and restarts: every record
    arrives exactly once, some of them through the spill file."""
    spill = tmp_path / "spill" / "pg-spill.log"
    procs = start_writers(pg_dsn, spill, subprocess_env, writers=3, count=150, pause=0.01)
    try:
        _wait_for(lambda: count_rows(pg_dsn) >= 60)
        pg_server.stop("fast")
        time.sleep(0.8)  # writers keep logging into the spill file meanwhile
    finally:
        pg_server.start()
    results = wait_writers(procs)
    got = rows(pg_dsn)
    keys = Counter((r["record"]["writer"], r["record"]["seq"]) for r in got)
    missing = {(f"w{k}", s) for k in range(3) for s in range(150)} - set(keys)
    assert not missing, (sorted(missing), results, _spill_lines(spill), [p.stderr for p in procs])
    assert len(got) == 450
    assert set(keys) == {(f"w{k}", s) for k in range(3) for s in range(150)}
    assert max(keys.values()) == 1
    assert sum(r["spilled"] for r in results) > 0
    assert _spill_lines(spill) == []


def test_database_down_from_the_start(
    pg_server: PgServer, pg_dsn: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Records logged before the database was ever reached wait in the spill file, then go in."""
    spill = tmp_path / "spill.log"
    handler = PostgresLogHandler(
        pg_dsn.replace(f":{pg_server.port}/", ":1/"),  # nothing listens on port 1
        spill_path=spill,
        flush_interval=0.05,
    )
    logger = _logger(handler)
    for i in range(30):
        logger.info("g", extra={"event": "generation", "user_id": f"u{i}"})
    handler.flush()
    spilled = [json.loads(line) for line in _spill_lines(spill)]
    assert [r["user_id"] for r in spilled] == [f"u{i}" for i in range(30)]
    assert all("pg_record_id" in r for r in spilled)
    handler.close()
    logger.removeHandler(handler)
    err = capfd.readouterr().err
    assert "PostgreSQL connection failed" in err
    assert str(spill) in err
    # the next handler (or process) on the same spill file sends them when it connects
    second = PostgresLogHandler(pg_dsn, spill_path=spill, flush_interval=0.05)
    _logger(second).info("later", extra={"event": "generation", "user_id": "late"})
    second.close()
    users = [r["user_id"] for r in rows(pg_dsn)]
    assert sorted(users) == sorted([f"u{i}" for i in range(30)] + ["late"])
    assert _spill_lines(spill) == []


def test_replay_after_a_crash_sends_nothing_twice(pg_dsn: str, tmp_path: Path) -> None:
    """A spill file whose records were already inserted (crash before it was emptied, or a
    commit whose answer was lost) is replayed without duplicates; a torn last line is dropped."""
    spill_path = tmp_path / "spill.log"
    sent = _log_and_close(pg_dsn, spill_path, [f"u{i}" for i in range(10)])
    spill = Spill(spill_path)
    spill.write([(r["record_id"], json.dumps(r["record"])) for r in sent[:6]])
    spill.close()
    with spill_path.open("a") as out:
        out.write('{"timestamp": "2026-01-01T00:00:00.000Z", "message": "torn')
    again = PostgresLogHandler(pg_dsn, spill_path=spill_path, flush_interval=0.05)
    again.close()
    after = rows(pg_dsn)
    assert [r["record_id"] for r in after] == [r["record_id"] for r in sent]
    assert again.writer.replayed == 6
    assert not spill_path.exists() or spill_path.stat().st_size == 0


def test_full_queue_waits_for_a_working_writer(pg_dsn: str, tmp_path: Path) -> None:
    """With a tiny queue, a burst of records waits for the working writer instead of going
    through the spill file (which is kept for faults), and every record arrives once."""
    handler = PostgresLogHandler(
        pg_dsn, spill_path=tmp_path / "spill.log", queue_size=2, batch_size=2
    )
    logger = _logger(handler)
    logger.info("g", extra={"event": "generation", "user_id": "burst", "seq": -1})
    handler.flush()  # connected, table created
    for i in range(300):
        logger.info("g", extra={"event": "generation", "user_id": "burst", "seq": i})
    handler.close()
    seqs = sorted(r["record"]["seq"] for r in rows(pg_dsn))
    assert seqs == list(range(-1, 300))
    assert handler.writer.spilled == 0


def test_full_queue_spills_when_the_writer_is_stuck(pg_dsn: str, tmp_path: Path) -> None:
    """While the table is locked by another session, a tiny queue stays bounded: the excess
    goes to the spill file on the caller's thread and reaches the database, once, afterwards."""
    import psycopg

    handler = PostgresLogHandler(
        pg_dsn, spill_path=tmp_path / "spill.log", queue_size=2, batch_size=2
    )
    logger = _logger(handler)
    logger.info("g", extra={"event": "generation", "user_id": "burst", "seq": -1})
    handler.flush()
    with psycopg.connect(pg_dsn) as blocker:
        blocker.execute("LOCK TABLE dihya_generation_log IN ACCESS EXCLUSIVE MODE")
        for i in range(300):
            logger.info("g", extra={"event": "generation", "user_id": "burst", "seq": i})
        assert handler.writer.spilled > 0
        blocker.rollback()
    handler.close()
    seqs = sorted(r["record"]["seq"] for r in rows(pg_dsn))
    assert seqs == list(range(-1, 300))
    assert handler.writer.replayed == handler.writer.spilled


def test_a_batch_retried_after_a_lost_ack_cannot_bring_an_erased_user_back(
    pg_dsn: str, tmp_path: Path
) -> None:
    """A committed batch kept in the spill (its acknowledgement lost) and replayed after the
    user's erasure inserts the other users' missing rows but none of the erased user's."""
    spill_path = tmp_path / "spill.log"
    committed = _log_and_close(pg_dsn, spill_path, [f"u{i % 3}" for i in range(12)])
    lost_ack = Spill(spill_path)  # the writer never heard the commit: it kept the batch
    lost_ack.write([(r["record_id"], json.dumps(r["record"])) for r in committed])
    lost_ack.close()
    assert purge_generation_logs(user_id="u1", actor="dpo", path=pg_dsn) == 4
    again = PostgresLogHandler(pg_dsn, spill_path=spill_path, flush_interval=0.05)
    _logger(again).info("back", extra={"event": "generation", "user_id": "u1"})  # after: kept
    again.close()
    logging.getLogger(LOGGER_NAME).removeHandler(again)
    assert again.writer.replayed == 12
    users = Counter(r["user_id"] for r in rows(pg_dsn, where="WHERE event = 'generation'"))
    assert users == {"u0": 4, "u2": 4, "u1": 1}
    erased = rows(pg_dsn, where="WHERE user_id = 'u1'")
    assert [r["record"]["message"] for r in erased] == ["back"]


def test_records_still_waiting_during_an_erasure_never_bring_the_user_back(
    pg_dsn: str, tmp_path: Path
) -> None:
    """Records logged before a user's erasure but still waiting in the spill (never sent, so a
    first insert, not a retry) arrive afterwards without the erased user's."""
    spill_path = tmp_path / "spill.log"
    _log_and_close(pg_dsn, spill_path, ["u0"])
    waiting = Spill(spill_path)
    waiting.write(
        [
            (
                str(uuid.uuid4()),
                json.dumps(
                    {
                        "timestamp": "2026-01-15T10:00:00.000Z",
                        "message": "waiting",
                        "event": "generation",
                        "user_id": user,
                    }
                ),
            )
            for user in ("u1", "u2", "u1")
        ]
    )
    waiting.close()
    assert purge_generation_logs(user_id="u1", actor="dpo", path=pg_dsn) == 0
    again = PostgresLogHandler(pg_dsn, spill_path=spill_path, flush_interval=0.05)
    again.close()
    assert again.writer.replayed == 3
    users = Counter(r["user_id"] for r in rows(pg_dsn, where="WHERE event = 'generation'"))
    assert users == {"u0": 1, "u2": 1}


def test_erasure_table_holds_pseudonyms_never_user_ids(
    pg_server: PgServer, pg_dsn: str, tmp_path: Path
) -> None:
    """The erasure table names the erased user by pseudonym only (it must not keep the id)."""
    handler = PostgresLogHandler(pg_dsn, spill_path=tmp_path / "spill.log", flush_interval=0.05)
    _logger(handler).info("g", extra={"event": "generation", "user_id": "alice-42"})
    handler.close()
    logging.getLogger(LOGGER_NAME).removeHandler(handler)
    purge_generation_logs(user_id="alice-42", actor="dpo", path=pg_dsn)
    dbname = pg_dsn.rsplit("/", 1)[1]
    table = pg_server.psql("SELECT pseudonym FROM dihya_generation_log_erased", dbname=dbname)
    assert table.startswith("anon_") and "alice" not in table
