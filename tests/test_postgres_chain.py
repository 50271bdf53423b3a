"""Tamper evidence in the database: per-writer chains, checked by `verify postgresql://…`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers_export import run_cli
from helpers_postgres import rows
from pg_server import PgServer, pg_server_fixture  # noqa: F401

from dihya_logging import (
    LOGGER_NAME,
    get_generation_logs,
    purge_generation_logs,
    verify_generation_logs,
)
from dihya_logging.postgres import PostgresLogHandler

pytestmark = pytest.mark.postgres

KEY = "database chain key, never stored"


def _log(dsn: str, tmp_path: Path, users: list[str], **options: Any) -> None:
    """Log one generation event per user through a fresh chained handler (one writer chain)."""
    handler = PostgresLogHandler(dsn, spill_path=tmp_path / "spill.log", chain=True, **options)
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        for n, user in enumerate(users):
            logger.info("generation", extra={"event": "generation", "user_id": user, "n": n})
    finally:
        handler.close()
        logger.removeHandler(handler)


def _sql(dsn: str, statement: str, *params: Any) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement.encode(), params)


@pytest.fixture
def chained(pg_server: PgServer, tmp_path: Path) -> str:
    """A fresh database whose table two writers sealed with the key (5 and 4 rows)."""
    dsn = pg_server.create_database()
    _log(dsn, tmp_path, ["u1", "u2", "u3", "u1", "u2"], chain_key=KEY)
    _log(dsn, tmp_path, ["u4", "u5", "u4", "u6"], chain_key=KEY)
    return dsn


def test_sealed_table_verifies_and_reads_as_usual(
    chained: str, subprocess_env: dict[str, str]
) -> None:
    """Two writers give two chains; verify says intact; reads return the records as logged."""
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == "intact", report.problems
    cli = run_cli("verify", "--file", chained, env={**subprocess_env, "DIHYA_CHAIN_KEY": KEY})
    assert (cli.returncode, cli.stderr) == (0, "")
    assert ": intact (9 records" in cli.stdout
    assert (report.records, len(report.files)) == (9, 2)
    users = [r["user_id"] for r in get_generation_logs(path=chained)]
    assert sorted(users) == ["u1", "u1", "u2", "u2", "u3", "u4", "u4", "u5", "u6"]
    assert all(r["seq"] >= 1 and len(r["link"]) == 64 for r in get_generation_logs(path=chained))


def test_plain_sql_edits_deletes_and_inserts_are_each_reported(
    chained: str, subprocess_env: dict[str, str]
) -> None:
    """UPDATEs (content, order), a DELETE and INSERTs by plain SQL are each named by record id."""
    table = rows(chained)
    edited, deleted, copied = table[1], table[2], table[6]
    _sql(
        chained,
        "UPDATE dihya_generation_log SET record = jsonb_set(record, '{user_id}', '\"mallory\"') "
        "WHERE record_id = %s",
        edited["record_id"],
    )
    _sql(chained, "DELETE FROM dihya_generation_log WHERE record_id = %s", deleted["record_id"])
    moved = table[7]
    _sql(
        chained,
        "UPDATE dihya_generation_log SET ts = ts - interval '1 day' WHERE record_id = %s",
        moved["record_id"],
    )
    _sql(
        chained,
        "INSERT INTO dihya_generation_log (record_id, ts, event, user_id, status, record) "
        "SELECT gen_random_uuid(), ts, event, user_id, status, record FROM dihya_generation_log "
        "WHERE record_id = %s",
        copied["record_id"],
    )
    _sql(
        chained,
        "INSERT INTO dihya_generation_log (record_id, ts, event, user_id, record) VALUES "
        "(gen_random_uuid(), now(), 'generation', 'ghost', '{\"user_id\": \"ghost\"}')",
    )
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == "tampered"
    text = "\n".join(report.problems)
    assert f"row {edited['record_id']}: its content does not match its commitment" in text
    seq = deleted["record"]["seq"]
    assert f"row {seq} is missing from this chain: deleted" in text
    assert f"a second row with seq {copied['record']['seq']}: inserted" in text
    assert "no chain fields: inserted" in text
    assert f"row {moved['record_id']}: its ts column is not its record's time: moved" in text
    cli = run_cli("verify", "--file", chained, env={**subprocess_env, "DIHYA_CHAIN_KEY": KEY})
    assert cli.returncode == 1, cli.stderr
    assert "TAMPERED" in cli.stdout


def test_rows_cut_from_the_end_or_a_whole_chain_deleted_show(chained: str) -> None:
    """Deleting the newest rows of one chain, or every row of the other, is reported."""
    table = rows(chained)
    first_chain = table[0]["record"]["chain"]
    _sql(
        chained,
        "DELETE FROM dihya_generation_log WHERE record->>'chain' = %s "
        "AND (record->>'seq')::int >= 4",
        first_chain,
    )
    _sql(chained, "DELETE FROM dihya_generation_log WHERE record->>'chain' <> %s", first_chain)
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == "tampered"
    text = "\n".join(report.problems)
    assert "rows 4-5 are missing from the end of this chain: cut" in text
    assert "all 4 rows of this chain are missing: deleted" in text


def test_a_forged_link_without_the_key_is_named(chained: str) -> None:
    """Rewriting a row and recomputing its link with plain SHA-256 is a forgery, not a key error."""
    from dihya_logging.chain._format import Linker, commitment
    from dihya_logging.postgres._chain import row_payload

    table = rows(chained)
    first = table[0]["record"]
    forged = {**first, "user_id": "mallory"}
    salt = bytes.fromhex(forged["salt"])
    commit = commitment(salt, row_payload(forged))
    forged["commit"] = commit.hex()
    forged["link"] = Linker(None).link(bytes(32), 1, commit).hex()
    _sql(
        chained,
        "UPDATE dihya_generation_log SET record = %s::jsonb WHERE record_id = %s",
        psycopg.types.json.Json(forged),
        table[0]["record_id"],
    )
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == "tampered"
    assert any("plain SHA-256, not keyed: forged" in p for p in report.problems)


def test_purge_leaves_authorised_tombstones_and_a_stolen_one_shows(chained: str) -> None:
    """A user's erasure keeps the table verifiable; deleting a tombstone, or the authorisation,
    is reported."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DIHYA_CHAIN_KEY", KEY)
        assert purge_generation_logs(user_id="u1", actor="dpo", path=chained) == 2
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == "intact", report.problems
    assert report.tombstones == 2
    assert [r["user_id"] for r in rows(chained) if r["user_id"] == "u1"] == []
    _sql(
        chained,
        "DELETE FROM dihya_generation_log_tombstones WHERE record_id = "
        "(SELECT record_id FROM dihya_generation_log_tombstones LIMIT 1)",
    )
    stolen = verify_generation_logs(chained, key=KEY)
    assert stolen.status == "tampered"
    assert any("missing from this chain: deleted" in p for p in stolen.problems)


def test_an_unlisted_tombstone_is_refused(chained: str) -> None:
    """A row moved to the tombstone table by hand (no purge record lists it) is reported."""
    victim = rows(chained)[3]
    _sql(
        chained,
        "WITH gone AS (DELETE FROM dihya_generation_log WHERE record_id = %s RETURNING "
        "record_id, record) INSERT INTO dihya_generation_log_tombstones SELECT record_id, "
        "jsonb_build_object('tombstone', true, 'chain', record->'chain', 'seq', record->'seq', "
        "'commit', record->'commit', 'link', record->'link') FROM gone",
        victim["record_id"],
    )
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == "tampered"
    assert any("no purge record lists it" in p for p in report.problems)


def test_key_missing_or_wrong_cannot_check(chained: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the key, or with another one, verify cannot check the links (exit 2)."""
    monkeypatch.delenv("DIHYA_CHAIN_KEY", raising=False)
    for key in (None, "another key"):
        report = verify_generation_logs(chained, key=key)
        assert (report.status, report.exit_code) == ("cannot check", 2), report.problems


def test_unchained_table_cannot_be_checked(pg_server: PgServer, tmp_path: Path) -> None:
    """A table written without chain=True is reported as not chained (exit 2)."""
    dsn = pg_server.create_database()
    handler = PostgresLogHandler(dsn, spill_path=tmp_path / "spill.log")
    handler.handle(logging.makeLogRecord({"msg": "x", "event": "generation", "user_id": "u"}))
    handler.close()
    report = verify_generation_logs(dsn)
    assert report.exit_code == 2
    assert "not chained" in report.problems[0]


def test_numbers_jsonb_rewrites_still_verify(pg_server: PgServer, tmp_path: Path) -> None:
    """Exponents, negative zero, big integers and an empty record survive jsonb's rewriting."""

    class Literal(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return record.getMessage()

    dsn = pg_server.create_database()
    handler = PostgresLogHandler(dsn, spill_path=tmp_path / "spill.log", chain=True)
    handler.setFormatter(Literal())
    numbers = (
        '{"big": 1e20, "e3": 1e3, "e2": 1.5e2, "scaled": 1.50e1, "neg0": -0.0, "tiny": 1.5e-7, '
        '"two": 2.0, "huge": 1180591620717411303425, "wide": 1.2345678901234568e+29, "seq": 7}'
    )
    for line in (numbers, "{}", "{ }", "not json"):
        handler.handle(logging.makeLogRecord({"msg": line}))
    handler.close()
    report = verify_generation_logs(dsn)
    assert report.status == "intact", report.problems
    assert report.records == 4


def test_retention_keeps_the_table_verifiable(
    chained: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retention purge that takes whole chains is recorded and noted, not called tampering."""
    monkeypatch.setenv("DIHYA_CHAIN_KEY", KEY)
    assert purge_generation_logs(before="2099-01-01", actor="ops", path=chained) == 9
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == "intact", report.problems
    assert sum("purged by retention" in note for note in report.notes) == 2
