"""PostgresLogHandler against a real PostgreSQL server: rows, config styles, secrets, shutdown."""

from __future__ import annotations

import logging
import logging.config
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest
from helpers_postgres import count_rows, rows
from pg_server import PASSWORD, PgServer, pg_dsn_fixture, pg_server_fixture  # noqa: F401
from pythonjsonlogger.json import JsonFormatter

from dihya_logging import LOGGER_NAME
from dihya_logging.postgres import PostgresError, PostgresLogHandler, PostgresStore
from dihya_logging.store import RecordFilter

pytestmark = pytest.mark.postgres


def _logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def test_records_land_with_indexed_columns(pg_dsn: str, tmp_path: Path) -> None:
    """Each record becomes one row: the redacted JSON as jsonb plus ts/event/user/status."""
    handler = PostgresLogHandler(pg_dsn, spill_path=tmp_path / "spill.log")
    logger = _logger(handler)
    logger.info("generation", extra={"event": "generation", "user_id": "u1", "status": "success"})
    logger.info("plain application line")
    handler.flush()
    got = rows(pg_dsn)
    assert [r["event"] for r in got] == ["generation", None]
    assert [r["user_id"] for r in got] == ["u1", None]
    assert got[0]["status"] == "success"
    assert got[0]["record"]["user_id"] == "u1"
    assert got[1]["record"]["message"] == "plain application line"
    stamp = got[0]["ts"].isoformat(timespec="milliseconds")
    assert stamp[:23] == got[0]["record"]["timestamp"][:23]
    assert len({r["record_id"] for r in got}) == 2
    handler.close()


def test_secrets_are_redacted_before_the_database(pg_dsn: str, tmp_path: Path) -> None:
    """The default formatter is the redacting one: no password or token reaches the table."""
    handler = PostgresLogHandler(pg_dsn, spill_path=tmp_path / "spill.log")
    logger = _logger(handler)
    logger.info(
        "login with token %s",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        extra={"event": "generation", "password": "hunter2", "nested": {"API_KEY": "k-123456"}},
    )
    handler.close()
    text = str(rows(pg_dsn))
    assert "hunter2" not in text
    assert "k-123456" not in text
    assert "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in text
    assert "[REDACTED]" in text


def test_values_jsonb_refuses_are_kept_not_lost(pg_dsn: str, tmp_path: Path) -> None:
    """NUL characters and NaN (legal in a JSON line, refused by jsonb) do not lose the record."""
    handler = PostgresLogHandler(pg_dsn, spill_path=tmp_path / "spill.log")
    handler.setFormatter(JsonFormatter(timestamp="timestamp"))  # the stdlib json writes NaN
    logger = _logger(handler)
    logger.info("nul", extra={"event": "generation", "user_id": "a\x00b", "ratio": float("nan")})
    logger.info("after")
    handler.close()
    got = rows(pg_dsn)
    assert len(got) == 2
    assert got[0]["record"]["user_id"] == "a\ufffdb"
    assert got[0]["user_id"] == "a\ufffdb"
    assert got[0]["record"]["ratio"] == "nan"
    assert not (tmp_path / "spill.log").exists() or (tmp_path / "spill.log").stat().st_size == 0


def test_dict_config_with_dsn_from_environment(
    pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dictConfig builds the handler with no DSN in the config: it comes from $DIHYA_PG_DSN."""
    monkeypatch.setenv("DIHYA_PG_DSN", pg_dsn)
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {
                "pg": {
                    "class": "dihya_logging.postgres.PostgresLogHandler",
                    "table": "audit_trail",
                    "spill_path": str(tmp_path / "spill.log"),
                    "flush_interval": 0.05,
                }
            },
            "loggers": {LOGGER_NAME: {"handlers": ["pg"], "level": "INFO"}},
        }
    )
    logging.getLogger(LOGGER_NAME).info("x", extra={"event": "generation", "user_id": "u9"})
    handler = logging.getLogger(LOGGER_NAME).handlers[-1]
    handler.flush()
    assert [r["user_id"] for r in rows(pg_dsn, "audit_trail")] == ["u9"]


def test_logging_ini_and_shutdown_flush_in_a_process(
    pg_dsn: str, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """A logging.ini with positional args works, and interpreter exit flushes every record."""
    ini = tmp_path / "logging.ini"
    ini.write_text(
        textwrap.dedent(
            f"""\
            [loggers]
            keys=root,dihya
            [handlers]
            keys=pg
            [formatters]
            keys=json
            [logger_root]
            handlers=
            [logger_dihya]
            qualname={LOGGER_NAME}
            handlers=pg
            level=INFO
            [handler_pg]
            class=dihya_logging.postgres.PostgresLogHandler
            formatter=json
            args=(None, 'ini_log', {str(tmp_path / "spill.log")!r})
            kwargs={{"flush_interval": 5.0}}
            [formatter_json]
            class=dihya_logging.formatter._formatter.RedactingJsonFormatter
            """
        )
    )
    program = (
        "import logging, logging.config, sys\n"
        "logging.config.fileConfig(sys.argv[1], disable_existing_loggers=False)\n"
        f"log = logging.getLogger({LOGGER_NAME!r})\n"
        "for i in range(250):\n"
        "    log.info('generation', extra={'event': 'generation', 'user_id': f'u{i}'})\n"
    )
    env = {**subprocess_env, "DIHYA_PG_DSN": pg_dsn}
    result = subprocess.run(
        [sys.executable, "-c", program, str(ini)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    got = rows(pg_dsn, "ini_log")
    assert sorted(r["user_id"] for r in got) == sorted(f"u{i}" for i in range(250))


def test_password_never_shown(pg_server: PgServer, tmp_path: Path) -> None:
    """repr, the store's location and connection errors show the DSN without its password."""
    dsn = pg_server.dsn()
    handler = PostgresLogHandler(dsn, spill_path=tmp_path / "spill.log")
    store = PostgresStore(dsn)
    bad = PostgresStore(pg_server.dsn(password="Wr0ng-" + PASSWORD))
    with pytest.raises(PostgresError) as caught:
        bad.tail(1, RecordFilter())
    shown = [repr(handler), repr(store), store.location, str(caught.value), repr(caught.value)]
    handler.close()
    assert "password authentication failed" in str(caught.value)
    for text in shown:
        assert PASSWORD not in text
    assert store.location == f"postgresql://dihya@127.0.0.1:{pg_server.port}/postgres"
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_missing_dsn_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DSN argument and no $DIHYA_PG_DSN: a ValueError at configuration time."""
    monkeypatch.delenv("DIHYA_PG_DSN", raising=False)
    with pytest.raises(ValueError, match="DIHYA_PG_DSN"):
        PostgresLogHandler()
    with pytest.raises(ValueError, match="table"):
        PostgresLogHandler("postgresql://x@localhost/db", "bad name; drop table")


def test_fork_child_gets_its_own_writer(pg_dsn: str, tmp_path: Path) -> None:
    """A handler inherited through fork writes from the child without breaking the parent's."""
    handler = PostgresLogHandler(pg_dsn, spill_path=tmp_path / "spill.log")
    logger = _logger(handler)
    logger.info("parent before", extra={"event": "generation", "user_id": "parent"})
    handler.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            for _ in range(5):
                logger.info("child", extra={"event": "generation", "user_id": "child"})
            handler.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    logger.info("parent after", extra={"event": "generation", "user_id": "parent"})
    handler.close()
    got = [r["user_id"] for r in rows(pg_dsn)]
    assert got.count("child") == 5
    assert got.count("parent") == 2
    assert count_rows(pg_dsn) == 7


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://app:pa%40ss@db.example:5433/logs", "postgresql://app@db.example:5433/logs"),
        (
            "postgres://app@db/logs?password=pa%40ss&sslmode=require",
            "postgres://app@db/logs?sslmode=require",
        ),
        (
            "host=db user=app password='pa@ss w' dbname=logs",
            "user=app dbname=logs host=db",
        ),
        ("postgresql://app:pa%40ss@db/logs?table=audit", "postgresql://app@db/logs?table=audit"),
    ],
)
def test_dsn_is_shown_without_its_password(dsn: str, shown: str) -> None:
    """URL, query-parameter and key=value passwords are all removed from the shown location."""
    store = PostgresStore(dsn)
    assert store.location == shown
    assert "pa@ss" not in repr(store)
    assert "pa%40ss" not in repr(store)


def test_missing_psycopg_is_a_clear_import_error(subprocess_env: dict[str, str]) -> None:
    """Without psycopg, using a postgresql:// location says which extra to install."""
    program = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from dihya_logging.store._api import get_generation_logs\n"
        "try:\n"
        "    get_generation_logs(path='postgresql://u@localhost/db')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], env=subprocess_env, capture_output=True, text=True
    )
    assert result.stdout.strip() == (
        "PostgreSQL support needs psycopg 3: pip install 'dihya-logging[postgres]'"
    )


def test_records_trickling_in_share_a_transaction(pg_dsn: str, tmp_path: Path) -> None:
    """Records arriving a few milliseconds apart wait for each other (up to flush_interval) and
    are committed together, not one transaction (one WAL flush) per record."""
    handler = PostgresLogHandler(pg_dsn, spill_path=tmp_path / "spill.log", flush_interval=2.0)
    logger = _logger(handler)
    logger.info("connect", extra={"event": "generation", "user_id": "t"})
    handler.flush()
    for i in range(40):
        logger.info("trickle", extra={"event": "generation", "user_id": "t", "seq": i})
        time.sleep(0.005)
    handler.flush()  # the partial batch goes at once
    with psycopg.connect(pg_dsn) as conn:
        found = conn.execute(
            "SELECT count(*), count(DISTINCT xmin::text) FROM dihya_generation_log "
            "WHERE record->>'message' = 'trickle'"
        ).fetchone()
    handler.close()
    assert found is not None and found[0] == 40
    assert found[1] < 10  # one per record without the wait
