"""The store's public face: get/iter_generation_logs, open_store, argument checks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from dihya_logging import LOGGER_NAME
from dihya_logging.store._api import (
    DEFAULT_RETENTION_DAYS,
    get_generation_logs,
    iter_generation_logs,
    open_store,
    purge_generation_logs,
    retention_cutoff,
)
from dihya_logging.store._filestore import FileStore
from dihya_logging.store._reading import DamagedFileWarning
from tests.helpers_store import build_log, record, write_file


def test_get_returns_everything_in_order_and_limit_keeps_the_newest(log_path: Path) -> None:
    """No limit: all records oldest first; limit=N: the newest N, still chronological."""
    written = build_log(log_path)
    assert get_generation_logs(path=log_path) == written
    assert get_generation_logs(5, path=log_path) == written[-5:]
    assert get_generation_logs(0, path=log_path) == []
    assert get_generation_logs(10_000, path=str(log_path)) == written


def test_filters_by_user_status_event_and_dates(log_path: Path) -> None:
    """Keyword filters combine (AND) and accept ISO text, dates and datetimes."""
    written = build_log(log_path)
    got = get_generation_logs(user_id="user_1", status="error", path=log_path)
    assert got == [r for r in written if r["user_id"] == "user_1" and r["status"] == "error"]
    assert got
    assert get_generation_logs(event="purge", path=log_path) == []
    day2 = get_generation_logs(since=date(2026, 1, 2), until="2026-01-03T00:00:00Z", path=log_path)
    assert day2 == [r for r in written if r["timestamp"].startswith("2026-01-02")]
    assert day2
    later = datetime(2026, 1, 4, 0, 0, 10, tzinfo=timezone.utc)
    assert (
        get_generation_logs(2, since=later, user_id="user_3", path=log_path)
        == [
            r
            for r in written
            if r["timestamp"] >= "2026-01-04T00:00:10" and r["user_id"] == "user_3"
        ][-2:]
    )


def test_iter_streams_lazily_and_checks_arguments_at_the_call(log_path: Path) -> None:
    """iter_generation_logs is a lazy iterator, but bad arguments fail before next()."""
    written = build_log(log_path)
    stream = iter_generation_logs(path=log_path)
    assert isinstance(stream, Iterator)
    assert next(stream) == written[0]
    assert list(iter_generation_logs(3, path=log_path)) == written[-3:]
    with pytest.raises(ValueError, match="status"):
        iter_generation_logs(status="maybe", path=log_path)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"limit": -1}, ValueError, "limit"),
        ({"limit": "10"}, TypeError, "limit"),
        ({"limit": True}, TypeError, "limit"),
        ({"limit": 2.5}, TypeError, "limit"),
        ({"user_id": 1.5}, TypeError, "user_id"),
        ({"status": "ok"}, ValueError, "status"),
        ({"since": "yesterday"}, ValueError, "not a date"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, ValueError, "before until"),
        ({"until": object()}, TypeError, "date"),
        ({"path": 42}, TypeError, "path"),
    ],
)
def test_bad_read_arguments_raise_clear_errors(
    tmp_path: Path, kwargs: dict, error: type, match: str
) -> None:
    """Bad types/values raise TypeError/ValueError naming the argument; nothing is created."""
    kwargs.setdefault("path", tmp_path / "logs" / "generation.log")
    with pytest.raises(error, match=match):
        get_generation_logs(**kwargs)
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"user_id": 7.0}, TypeError, "user_id"),
        ({"user_id": "  "}, ValueError, "user_id"),
        ({"before": "last year"}, ValueError, "not a date"),
        ({"before": [2026]}, TypeError, "date"),
        ({}, ValueError, "explicit scope"),
        ({"anonymize": True, "before": "2026-01-01"}, ValueError, "needs a user_id"),
        ({"all": True, "user_id": "u"}, ValueError, "takes no user_id"),
        ({"all": "yes"}, TypeError, "all"),
        ({"user_id": "u", "dry_run": 1}, TypeError, "dry_run"),
        ({"user_id": "u", "anonymize": "yes"}, TypeError, "anonymize"),
        ({"all": True, "actor": 5}, TypeError, "actor"),
        ({"all": True, "path": 3.5}, TypeError, "path"),
    ],
)
def test_bad_purge_arguments_raise_before_touching_files(
    log_path: Path, kwargs: dict, error: type, match: str
) -> None:
    """purge_generation_logs validates everything before opening, locking or writing."""
    write_file(log_path, [record(1, "u")])
    kwargs.setdefault("path", log_path)
    before = sorted(p.name for p in log_path.parent.iterdir())
    with pytest.raises(error, match=match):
        purge_generation_logs(**kwargs)
    assert sorted(p.name for p in log_path.parent.iterdir()) == before


def test_a_damaged_line_warns_but_never_raises(log_path: Path) -> None:
    """The public reader skips a damaged line with a DamagedFileWarning naming file and line."""
    write_file(log_path, [record(1, "u")], tail=b"{oops\n")
    with pytest.warns(DamagedFileWarning, match="generation.log: 1 lines read.*line 2"):
        assert [r["n"] for r in get_generation_logs(path=log_path)] == [1]


def test_path_defaults_follow_the_attached_handler_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """path=None reads the file of a handler on the dihya logger, else $DIHYA_LOG_FILE."""
    env_log, attached_log = tmp_path / "env.log", tmp_path / "attached.log"
    write_file(env_log, [record(1, "env")])
    write_file(attached_log, [record(2, "attached")])
    monkeypatch.setenv("DIHYA_LOG_FILE", str(env_log))
    assert [r["user_id"] for r in get_generation_logs()] == ["env"]
    handler = logging.NullHandler()
    handler.log_path = attached_log  # type: ignore[attr-defined]
    logging.getLogger(LOGGER_NAME).addHandler(handler)
    assert [r["user_id"] for r in get_generation_logs()] == ["attached"]


def test_open_store_picks_the_backend_from_the_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path gives a FileStore; a postgresql:// DSN (also from the env) a PostgresStore."""
    store = open_store(tmp_path / "x.log")
    assert isinstance(store, FileStore)
    assert store.location == str(tmp_path / "x.log")
    seen: list[str] = []

    class FakePostgresStore:
        def __init__(self, dsn: str) -> None:
            seen.append(dsn)

    import dihya_logging.postgres as package

    module = type(package)("dihya_logging.postgres._store")
    module.PostgresStore = FakePostgresStore  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "dihya_logging.postgres._store", module)
    assert isinstance(open_store("postgresql://u@db/logs"), FakePostgresStore)
    monkeypatch.setenv("DIHYA_LOG_FILE", "postgres://u@db/env")
    assert isinstance(open_store(), FakePostgresStore)
    assert seen == ["postgresql://u@db/logs", "postgres://u@db/env"]


def test_retention_default_follows_the_cnil_range() -> None:
    """The default retention lies within CNIL's 6 months to 1 year; the cut-off is that far back."""
    assert 180 <= DEFAULT_RETENTION_DAYS <= 366
    now = datetime(2026, 12, 31, tzinfo=timezone.utc)
    assert retention_cutoff(now=now) == datetime(2025, 12, 31, tzinfo=timezone.utc)
    assert retention_cutoff(180, now=now).date() == date(2026, 7, 4)
    with pytest.raises(ValueError, match="days"):
        retention_cutoff(-1)


def test_purging_a_log_that_does_not_exist_fails_and_creates_nothing(tmp_path: Path) -> None:
    """A mistyped path is a FileNotFoundError, not a new directory holding a purge event."""
    missing = tmp_path / "nope" / "generation.log"
    with pytest.raises(FileNotFoundError, match="no log to purge"):
        purge_generation_logs(user_id="u", path=missing)
    assert not missing.parent.exists()


def test_int_and_uuid_user_ids_select_and_erase_what_they_logged(tmp_path: Path) -> None:
    """Ids logged as an int or a UUID are read back and erased with the same int or UUID."""
    import uuid

    from dihya_logging import GenerationLogHandler, log_generation_event, purge_generation_logs

    path = tmp_path / "generation.log"
    logger = logging.getLogger("test.store.int_ids")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = GenerationLogHandler(path)
    logger.addHandler(handler)
    member = uuid.UUID(int=42)
    try:
        for user in (7, member, "7"):
            log_generation_event(user, {"project_name": "p"}, ["a.py"], logger=logger)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert len(get_generation_logs(user_id=7, path=path)) == 2  # 7 and "7" are one user
    assert [r["user_id"] for r in get_generation_logs(user_id=member, path=path)] == [str(member)]
    assert purge_generation_logs(user_id=member, path=path) == 1
    assert get_generation_logs(user_id=member, path=path) == []
