"""`dihya-logs --file postgresql://…`: the DSN is passed through to the PostgreSQL store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers_export import (
    assert_one_line_error,
    read_jsonl,
    run_cli,
    sample_records,
    write_rotated_log,
)
from pg_server import PgServer, pg_server_fixture  # noqa: F401

from dihya_logging.postgres import import_log_set

pytestmark = pytest.mark.postgres


@pytest.fixture
def database(pg_server: PgServer, log_path: Path) -> tuple[str, list[dict[str, Any]]]:
    """A fresh database holding the sample records, and those records."""
    records = sample_records(12)
    write_rotated_log(log_path, records)
    dsn = pg_server.create_database()
    import_log_set(log_path, dsn)
    return dsn, records


def test_query_and_stats_read_the_database(
    database: tuple[str, list[dict[str, Any]]], subprocess_env: dict[str, str]
) -> None:
    """query --json and stats --json work on a DSN exactly as on a file."""
    dsn, records = database
    result = run_cli("query", "--json", "--user", "user_2", "--file", dsn, env=subprocess_env)
    assert result.returncode == 0, result.stderr
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["project_name"] for r in got] == [
        r["project_name"] for r in records if r["user_id"] == "user_2"
    ]
    stats = json.loads(run_cli("stats", "--json", "--file", dsn, env=subprocess_env).stdout)
    assert stats["generations"] == len(records)


def test_stats_on_a_database_are_those_of_the_file(
    database: tuple[str, list[dict[str, Any]]], log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """stats on a DSN (counted in SQL) equals stats on the log file it was loaded from."""
    dsn, _ = database
    for extra in ([], ["--user", "user_2"], ["--since", "2026-01-01", "--until", "2099-01-01"]):
        on_file = run_cli("stats", "--json", *extra, "--file", str(log_path), env=subprocess_env)
        on_db = run_cli("stats", "--json", *extra, "--file", dsn, env=subprocess_env)
        assert on_db.returncode == 0, on_db.stderr
        assert json.loads(on_db.stdout) == json.loads(on_file.stdout)
        assert json.loads(on_db.stdout)["records"] > 0
    text = run_cli("stats", "--file", dsn, env=subprocess_env)
    assert text.stdout == run_cli("stats", "--file", str(log_path), env=subprocess_env).stdout


def test_a_key_value_dsn_is_a_database_not_a_file(
    database: tuple[str, list[dict[str, Any]]], subprocess_env: dict[str, str]
) -> None:
    """A libpq ``host=… dbname=…`` DSN reaches the database, its password never printed."""
    dsn, records = database
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    key_value = make_conninfo(**conninfo_to_dict(dsn))
    assert key_value.startswith(("host=", "user=", "dbname=", "port="))
    result = run_cli("query", "--json", "--file", key_value, env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(records)
    wrong = key_value.replace("password=", "password=x")
    failed = run_cli("query", "--file", wrong, env=subprocess_env)
    assert_one_line_error(failed, 1, match="PostgreSQL")
    assert (
        "password=x" not in failed.stderr
        and conninfo_to_dict(wrong)["password"] not in failed.stderr
    )


def test_export_from_the_database(
    database: tuple[str, list[dict[str, Any]]], tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """export reads the table, writes the file and audits into the table."""
    dsn, records = database
    destination = tmp_path / "db.jsonl"
    result = run_cli("export", str(destination), "--file", dsn, env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert [r["user_id"] for r in read_jsonl(destination)] == [r["user_id"] for r in records]
    audit = run_cli("query", "--json", "--event", "export", "--file", dsn, env=subprocess_env)
    (event,) = [json.loads(line) for line in audit.stdout.splitlines()]
    assert event["destination"] == "db.jsonl"


def test_follow_needs_a_file(
    database: tuple[str, list[dict[str, Any]]], subprocess_env: dict[str, str]
) -> None:
    """tail --follow on a DSN is refused in one line (polling a table is not a tail)."""
    dsn, _ = database
    result = run_cli("tail", "--follow", "--file", dsn, env=subprocess_env)
    assert_one_line_error(result, 2, match="--follow needs a log file")


def test_migrate_copies_a_file_log_once(
    pg_server: PgServer, log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """migrate loads a rotated file log into the database; a second run inserts nothing new."""
    records = sample_records(9)
    write_rotated_log(log_path, records)
    dsn = pg_server.create_database()
    first = run_cli("migrate", "--file", str(log_path), "--to", dsn, env=subprocess_env)
    assert first.returncode == 0, first.stderr
    assert "9 inserted" in first.stdout
    again = run_cli("migrate", "--file", str(log_path), "--to", dsn, env=subprocess_env)
    assert "0 inserted, 9 already present" in again.stdout
    back = run_cli("query", "--json", "--file", dsn, env=subprocess_env)
    assert [json.loads(line)["user_id"] for line in back.stdout.splitlines()] == [
        r["user_id"] for r in records
    ]


def test_migrate_refuses_a_target_that_is_not_a_database(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """--to must be a postgresql:// DSN: anything else is one line and exit 2."""
    write_rotated_log(log_path, sample_records(2))
    result = run_cli("migrate", "--file", str(log_path), "--to", "other.log", env=subprocess_env)
    assert_one_line_error(result, 2, match="postgresql://")
