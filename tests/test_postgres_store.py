"""The public store API on both backends: the same log, as files and as a PostgreSQL table.

Each test builds the file store's fixture log (rotated, gzipped and live files); the
``postgres`` variant imports it into a fresh database and passes the DSN as ``path``. The
expectations are the file store's (tests/test_store.py, tests/test_purge.py).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from helpers_postgres import rows
from pg_server import PgServer, pg_server_fixture  # noqa: F401

from dihya_logging._schema import parse_datetime
from dihya_logging.postgres import import_log_set
from dihya_logging.store._api import (
    get_generation_logs,
    iter_generation_logs,
    open_store,
    pseudonym_for,
    purge_generation_logs,
)
from tests.helpers_store import build_log, record, write_file

PURGE_EVENT = {
    "timestamp": "2026-01-01T12:00:00.000Z",
    "level": "INFO",
    "logger": "dihya.generation",
    "message": "purge",
    "event": "purge",
    "actor": "dpo",
    "filter": {},
    "count": 3,
}


class Backend:
    """Where a test's log lives: ``load`` puts written files there; ``path`` is the location."""

    def __init__(self, kind: str, log_path: Path, server: PgServer | None) -> None:
        self.kind = kind
        self.log_path = log_path
        self.path: str = str(log_path) if server is None else server.create_database()

    def load(self) -> None:
        """Make the backend hold what is in the log files now."""
        if self.kind == "postgres":
            import_log_set(self.log_path, self.path)

    def everything(self) -> str:
        """All stored text, to prove an erased value is gone from every byte."""
        if self.kind == "postgres":
            return json.dumps([r["record"] for r in rows(self.path)], ensure_ascii=False)
        return "".join(
            p.read_bytes().decode("utf-8", "replace") for p in self.log_path.parent.iterdir()
        )


@pytest.fixture(params=["file", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(
    request: pytest.FixtureRequest, log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    """The file store, or the same log imported into a fresh PostgreSQL database."""
    monkeypatch.setenv("DIHYA_ANON_KEY", "test-anonymization-key")
    server = request.getfixturevalue("pg_server") if request.param == "postgres" else None
    return Backend(request.param, log_path, server)


def _built(backend: Backend, **kwargs: Any) -> list[dict[str, Any]]:
    written = build_log(backend.log_path, **kwargs)
    backend.load()
    return written


def test_query_everything_and_limit(backend: Backend) -> None:
    """All records oldest first; limit=N keeps the newest N, still chronological."""
    written = _built(backend)
    assert get_generation_logs(path=backend.path) == written
    assert get_generation_logs(5, path=backend.path) == written[-5:]
    assert get_generation_logs(0, path=backend.path) == []
    assert list(iter_generation_logs(path=backend.path)) == written


def test_filters_combine(backend: Backend) -> None:
    """user/status/event/since/until filters combine (AND), with limit too."""
    written = _built(backend)
    got = get_generation_logs(user_id="user_1", status="error", path=backend.path)
    assert got == [r for r in written if r["user_id"] == "user_1" and r["status"] == "error"]
    assert got
    assert get_generation_logs(event="purge", path=backend.path) == []
    day2 = get_generation_logs(
        since=date(2026, 1, 2), until="2026-01-03T00:00:00Z", path=backend.path
    )
    assert day2 == [r for r in written if r["timestamp"].startswith("2026-01-02")]
    assert day2
    later = datetime(2026, 1, 4, 0, 0, 10, tzinfo=timezone.utc)
    assert (
        get_generation_logs(2, since=later, user_id="user_3", path=backend.path)
        == [
            r
            for r in written
            if r["timestamp"] >= "2026-01-04T00:00:10" and r["user_id"] == "user_3"
        ][-2:]
    )


def test_purge_one_user_is_audited_without_the_id(backend: Backend) -> None:
    """A user erasure removes their records everywhere and leaves one purge event that names
    them only by token."""
    written = _built(backend, users=("user_1", "user_12", "user_2"))
    count = purge_generation_logs(user_id="user_1", actor="dpo", path=backend.path)
    assert count == 40
    left = get_generation_logs(path=backend.path)
    assert left[:-1] == [r for r in written if r["user_id"] != "user_1"]
    audit = left[-1]
    token = pseudonym_for(open_store(backend.path), "user_1")
    assert (audit["event"], audit["actor"], audit["mode"], audit["count"]) == (
        "purge",
        "dpo",
        "delete",
        40,
    )
    assert audit["filter"] == {"user_id": token}
    assert '"user_1"' not in backend.everything()
    assert get_generation_logs(event="purge", path=backend.path) == [audit]


def test_purge_everything_keeps_earlier_purge_events(backend: Backend) -> None:
    """No filter: every record goes except earlier purge events, which prove the erasures."""
    write_file(backend.log_path, [record(1, "a"), PURGE_EVENT, record(2, "b")])
    backend.load()
    assert purge_generation_logs(all=True, path=backend.path) == 2
    left = get_generation_logs(path=backend.path)
    assert left[0] == PURGE_EVENT
    assert [r["event"] for r in left] == ["purge", "purge"]
    assert left[1]["count"] == 2


def test_purge_before_a_date(backend: Backend) -> None:
    """before: records older than the cut-off go (also combined with one user)."""
    written = _built(backend)
    cutoff = parse_datetime("2026-01-02T00:00:40Z")
    assert purge_generation_logs(before=cutoff, path=backend.path) == 40
    kept = [r for r in written if parse_datetime(r["timestamp"]) >= cutoff]
    assert get_generation_logs(event="generation", path=backend.path) == kept
    gone = [r for r in kept if r["user_id"] == "user_2" and r["timestamp"] < "2026-01-03T00:00:00"]
    assert purge_generation_logs(user_id="user_2", before="2026-01-03", path=backend.path) == len(
        gone
    )
    assert get_generation_logs(event="generation", path=backend.path) == [
        r for r in kept if r not in gone
    ]


def test_anonymize_keeps_records_under_a_stable_token(backend: Backend) -> None:
    """anonymize: same records, the id replaced by the token everywhere in them."""
    write_file(
        backend.log_path,
        [
            record(1, "user_7", project_name="user_7 shop"),
            record(2, "user_8"),
            record(3, "user_7", files=["home/user_7/app.py"]),
        ],
    )
    backend.load()
    assert purge_generation_logs(user_id="user_7", anonymize=True, path=backend.path) == 2
    token = pseudonym_for(open_store(backend.path), "user_7")
    assert token.startswith("anon_")
    got = get_generation_logs(event="generation", path=backend.path)
    assert [r["user_id"] for r in got] == [token, "user_8", token]
    assert got[0]["project_name"] == f"{token} shop"
    assert got[2]["files"] == [f"home/{token}/app.py"]
    assert got[1] == record(2, "user_8")
    assert get_generation_logs(user_id=token, path=backend.path) == [got[0], got[2]]
    assert "user_7" not in backend.everything()
    assert get_generation_logs(event="purge", path=backend.path)[-1]["mode"] == "anonymize"


def test_user_purge_scrubs_the_id_from_other_records(backend: Backend) -> None:
    """Another record holding the id as a whole value (an audit filter) gets the token."""
    export = {
        **PURGE_EVENT,
        "event": "export",
        "message": "export",
        "filters": {"user_id": "user_5"},
    }
    write_file(backend.log_path, [record(1, "user_5"), export, record(2, "user_55")])
    backend.load()
    assert purge_generation_logs(user_id="user_5", path=backend.path) == 1
    token = pseudonym_for(open_store(backend.path), "user_5")
    exports = get_generation_logs(event="export", path=backend.path)
    assert [r["filters"] for r in exports] == [{"user_id": token}]
    assert get_generation_logs(event="generation", path=backend.path) == [record(2, "user_55")]
    assert '"user_5"' not in backend.everything()


def test_export_reads_through_the_store_and_is_audited(backend: Backend, tmp_path: Path) -> None:
    """export_generation_logs writes one user's records and appends an export event."""
    from dihya_logging import export_generation_logs

    written = _built(backend)
    target = tmp_path / "out.jsonl"
    count = export_generation_logs(target, user_id="user_2", actor="dpo", path=backend.path)
    mine = [r for r in written if r["user_id"] == "user_2"]
    assert count == len(mine)
    assert [json.loads(x) for x in target.read_text().splitlines()] == mine
    events = get_generation_logs(event="export", path=backend.path)
    assert len(events) == 1
    assert (events[0]["actor"], events[0]["count"]) == ("dpo", len(mine))
