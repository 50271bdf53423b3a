"""purge_generation_logs end to end: audit events, the handler path, anonymization tokens, keys."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from dihya_logging import (
    LOGGER_NAME,
    GenerationLogHandler,
    RedactingJsonFormatter,
    get_generation_logs,
    log_generation_event,
    purge_generation_logs,
)
from dihya_logging._logset import LogSet
from dihya_logging.store._pseudonym import key_file_path, pseudonymize_user_id
from tests.helpers_store import all_bytes, build_log


def _attach(path: Path, **options: object) -> GenerationLogHandler:
    handler = GenerationLogHandler(path, **options)  # type: ignore[arg-type]
    handler.setFormatter(RedactingJsonFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def test_round_trip_through_the_handler_with_rotation_and_compression(log_path: Path) -> None:
    """Events logged through a rotating, compressing handler all read back, oldest first."""
    _attach(log_path, maxBytes=2000, backupCount=100, compress=True)
    for n in range(60):
        log_generation_event(f"user_{n % 4}", {"project_name": f"p{n}"}, ["a.py"])
    assert any(p.name.endswith(".gz") for p in LogSet(log_path).files())
    records = get_generation_logs(path=log_path)
    assert [r["project_name"] for r in records] == [f"p{n}" for n in range(60)]
    assert [r["project_name"] for r in get_generation_logs(3)] == ["p57", "p58", "p59"]
    assert len(get_generation_logs(user_id="user_2")) == 15


def test_user_purge_is_audited_without_the_clear_id(log_path: Path) -> None:
    """The purge event names actor, mode, count and the user's token — the id is in no byte."""
    build_log(log_path)
    count = purge_generation_logs(user_id="user_2", actor="dpo@example.org", path=log_path)
    assert count == 40
    event = get_generation_logs(1, path=log_path)[0]
    assert event["event"] == "purge"
    assert event["actor"] == "dpo@example.org"
    assert event["mode"] == "delete"
    assert event["count"] == 40
    assert event["filter"] == {"user_id": pseudonymize_user_id("user_2", path=log_path)}
    assert all(b"user_2" not in data for data in all_bytes(log_path).values())


def test_retention_and_full_purges_are_audited(log_path: Path) -> None:
    """before is recorded in ISO 8601 UTC; a full purge leaves only its own event."""
    build_log(log_path)
    assert purge_generation_logs(before="2026-01-03", path=log_path) == 60
    event = get_generation_logs(event="purge", path=log_path)[-1]
    assert event["filter"] == {"before": "2026-01-03T00:00:00Z"}
    assert event["count"] == 60
    assert purge_generation_logs(all=True, path=log_path) == 60
    events = get_generation_logs(path=log_path)
    assert [e["event"] for e in events] == ["purge", "purge"]
    assert events[-1]["filter"] == {"all": True}


def test_anonymize_audit_names_the_token_the_records_now_carry(log_path: Path) -> None:
    """anonymize: the audit's token equals the anonymized records' user_id."""
    build_log(log_path)
    assert purge_generation_logs(user_id="user_3", anonymize=True, path=log_path) == 40
    event = get_generation_logs(event="purge", path=log_path)[0]
    token = event["filter"]["user_id"]
    assert event["mode"] == "anonymize"
    assert token.startswith("anon_")
    assert len(get_generation_logs(user_id=token, event="generation", path=log_path)) == 40
    assert get_generation_logs(user_id="user_3", path=log_path) == []


def test_audit_goes_through_the_attached_handler_even_above_its_level(log_path: Path) -> None:
    """With the app's handler on the logger, the event goes through it, whatever the level."""
    handler = _attach(log_path)
    log_generation_event("user_1", {}, [])
    logging.getLogger(LOGGER_NAME).setLevel(logging.ERROR)
    assert purge_generation_logs(user_id="user_1", path=log_path) == 1
    assert [r["event"] for r in get_generation_logs(path=log_path)] == ["purge"]
    handler.setLevel(logging.INFO)
    logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)
    seen: list[logging.LogRecord] = []
    probe = logging.Handler()
    probe.emit = seen.append  # type: ignore[method-assign]
    logging.getLogger(LOGGER_NAME).addHandler(probe)
    purge_generation_logs(all=True, path=log_path)
    assert [r.getMessage() for r in seen] == ["purge"]  # the application's handlers see it too


def test_tokens_are_stable_keyed_and_the_key_file_is_private(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key file is made 0o600 on first need; the env key overrides it; tokens are stable."""
    first = pseudonymize_user_id("user_1", path=log_path)
    key_file = key_file_path(log_path)
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert (
        pseudonymize_user_id("user_1", path=log_path)
        == first
        != pseudonymize_user_id("user_2", path=log_path)
    )
    monkeypatch.setenv("DIHYA_ANON_KEY", "shared secret")
    from_env = pseudonymize_user_id("user_1", path=log_path)
    assert from_env != first
    assert from_env == pseudonymize_user_id("user_1", key=b"shared secret")
    assert len(from_env) == len("anon_") + 16


def test_a_damaged_key_file_is_an_error_not_a_new_key(log_path: Path) -> None:
    """A corrupt key file raises instead of silently changing every token."""
    log_path.parent.mkdir(parents=True)
    fd = os.open(key_file_path(log_path), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not hex\n")
    os.close(fd)
    with pytest.raises(ValueError, match="damaged"):
        pseudonymize_user_id("user_1", path=log_path)


def test_recipients_hear_of_every_purge_and_failures_are_recorded(
    log_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed exporters' on_purge hooks get the event; a failing one is audited, not fatal."""
    build_log(log_path)
    heard = tmp_path / "heard.jsonl"
    monkeypatch.setenv("DIHYA_TEST_EXPORTER_PURGE_LOG", str(heard))
    assert purge_generation_logs(user_id="user_1", actor="dpo", path=log_path) == 40
    told = json.loads(heard.read_text())
    assert told["event"] == "purge"
    assert told["count"] == 40
    assert b"user_1" not in heard.read_bytes()
    event = get_generation_logs(event="purge", path=log_path)[-1]
    assert event["recipients"] == [{"exporter": "memtest", "ok": True, "error": None}]
    monkeypatch.setenv("DIHYA_TEST_EXPORTER_PURGE_FAIL", "1")
    assert purge_generation_logs(user_id="user_2", path=log_path) == 40
    failed = get_generation_logs(event="purge", path=log_path)[-1]["recipients"]
    assert failed[0]["ok"] is False
    assert "unreachable" in failed[0]["error"]


def test_a_dry_run_counts_and_changes_nothing(log_path: Path) -> None:
    """dry_run=True returns what a real purge would remove, writes no byte and no audit event."""
    build_log(log_path)
    before = {p.name: p.read_bytes() for p in log_path.parent.iterdir() if p.suffix != ".lock"}
    would = purge_generation_logs(user_id="user_2", dry_run=True, path=log_path)
    would_all = purge_generation_logs(all=True, dry_run=True, path=log_path)
    assert {
        p.name: p.read_bytes() for p in log_path.parent.iterdir() if p.suffix != ".lock"
    } == before
    assert 0 < would < would_all
    assert purge_generation_logs(user_id="user_2", path=log_path) == would
    assert purge_generation_logs(all=True, path=log_path) == would_all - would
    assert purge_generation_logs(all=True, dry_run=True, path=log_path) == 0
