"""export_generation_logs on real log sets: every format round-trips, the export is audited."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from helpers_export import (
    decode_cell,
    expected_cell,
    read_bytes_any,
    read_csv,
    read_jsonl,
    sample_records,
    write_rotated_log,
)

from dihya_logging import export_generation_logs, get_generation_logs
from dihya_logging.store import pseudonymize_user_id


@pytest.fixture
def log(log_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A log set spread over rotated, gzipped and live files, and its records oldest first."""
    records = sample_records(24)
    write_rotated_log(log_path, records)
    return log_path, records


def _read_export(path: Path, base: str) -> list[dict[str, Any]]:
    """Records of an export file, decoded according to its format."""
    if base == "jsonl":
        return read_jsonl(path)
    if base == "json":
        data: list[dict[str, Any]] = json.loads(read_bytes_any(path))
        return data
    header, rows = read_csv(path)
    return [{column: decode_cell(column, row[column]) for column in header} for row in rows]


def _as_csv(record: dict[str, Any], header: list[str]) -> dict[str, Any]:
    """What a record should read back as from CSV (every column, typeless)."""
    return {column: expected_cell(column, record.get(column)) for column in header}


def _audit_events(log_path: Path) -> list[dict[str, Any]]:
    """The export events of a log."""
    return get_generation_logs(event="export", path=log_path)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".json", ".json.gz", ".csv", ".csv.gz"])
def test_every_format_round_trips(
    log: tuple[Path, list[dict[str, Any]]], tmp_path: Path, suffix: str
) -> None:
    """Every record of every file (rotated, gzipped, live) comes back from each format."""
    log_path, records = log
    destination = tmp_path / f"export{suffix}"
    assert export_generation_logs(destination, path=log_path) == len(records)
    base = suffix.split(".")[1]
    exported = _read_export(destination, base)
    if base == "csv":
        header = read_csv(destination)[0]
        assert exported == [_as_csv(record, header) for record in records]
    else:
        assert exported == records
    assert (destination.read_bytes()[:2] == b"\x1f\x8b") == suffix.endswith(".gz")


def test_gzip_export_names_the_inner_file(log: tuple[Path, Any], tmp_path: Path) -> None:
    """A .gz export is a real gzip stream whose stored name is the destination without .gz."""
    destination = tmp_path / "auditor.csv.gz"
    export_generation_logs(destination, path=log[0])
    header = destination.read_bytes()
    assert header[:2] == b"\x1f\x8b"
    assert b"auditor.csv\x00" in header[:64]
    with gzip.open(destination, "rt", encoding="utf-8") as text:
        assert text.readline().startswith("timestamp,level,logger,message,event,user_id")


def test_format_argument_overrides_suffix(log: tuple[Path, Any], tmp_path: Path) -> None:
    """format= picks the writer whatever the name says."""
    destination = tmp_path / "dump.txt"
    count = export_generation_logs(destination, format="json", path=log[0])
    assert len(json.loads(destination.read_bytes())) == count


def test_filters_select_records(log: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    """user_id, since and until select exactly the records a plain filter would."""
    log_path, records = log
    destination = tmp_path / "user.jsonl"
    count = export_generation_logs(
        destination,
        user_id="user_1",
        since="2026-03-03",
        until="2026-03-10T00:00:00Z",
        path=log_path,
    )
    wanted = [
        r
        for r in records
        if r["user_id"] == "user_1" and "2026-03-03" <= r["timestamp"] < "2026-03-10"
    ]
    assert wanted
    assert count == len(wanted)
    assert read_jsonl(destination) == wanted


def test_export_is_audited_without_data(
    log: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """The export event names actor, count, filter (user pseudonymised), format, base name."""
    log_path, _ = log
    destination = tmp_path / "secret-dir" / "for-auditor.csv.gz"
    destination.parent.mkdir()
    count = export_generation_logs(
        destination, user_id="user_2", since="2026-03-01", actor="dpo@example.org", path=log_path
    )
    (event,) = _audit_events(log_path)
    assert event["actor"] == "dpo@example.org"
    assert event["count"] == count
    assert event["format"] == "csv.gz"
    assert event["destination"] == "for-auditor.csv.gz"
    assert event["filter"] == {
        "user_id": pseudonymize_user_id("user_2", path=log_path),
        "since": "2026-03-01T00:00:00Z",
    }
    newest = log_path.read_bytes().splitlines()[-1]
    assert b"user_2" not in newest
    assert b"secret-dir" not in newest
    assert b"Amazigh" not in newest


def test_audit_events_are_exported_too(log: tuple[Path, Any], tmp_path: Path) -> None:
    """Without a user filter an export carries the audit trail, earlier exports included."""
    log_path, records = log
    export_generation_logs(tmp_path / "first.jsonl", path=log_path)
    count = export_generation_logs(tmp_path / "second.jsonl", path=log_path)
    exported = read_jsonl(tmp_path / "second.jsonl")
    assert count == len(records) + 1
    assert exported[-1]["event"] == "export"
    assert exported[-1]["destination"] == "first.jsonl"


def test_empty_selection_writes_an_empty_export(log: tuple[Path, Any], tmp_path: Path) -> None:
    """No matching record still makes a valid, empty file (and an audit event with count 0)."""
    log_path, _ = log
    assert export_generation_logs(tmp_path / "none.json", user_id="nobody", path=log_path) == 0
    assert json.loads((tmp_path / "none.json").read_bytes()) == []
    assert export_generation_logs(tmp_path / "none.csv", user_id="nobody", path=log_path) == 0
    header, rows = read_csv(tmp_path / "none.csv")
    assert header[:2] == ["timestamp", "level"]
    assert rows == []
    assert [e["count"] for e in _audit_events(log_path)] == [0, 0]


def test_plain_application_records_are_exported(log_path: Path, tmp_path: Path) -> None:
    """Records without an event key (plain logging through the formatter) are part of exports."""
    plain = {"timestamp": "2026-03-01T00:00:00.000Z", "level": "WARNING", "logger": "app",
             "message": "disk almost full"}  # fmt: skip
    write_rotated_log(log_path, [plain, *sample_records(3)])
    assert export_generation_logs(tmp_path / "all.jsonl", path=log_path) == 4
    assert read_jsonl(tmp_path / "all.jsonl")[0] == plain
