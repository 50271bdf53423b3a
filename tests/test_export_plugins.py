"""export_generation_logs through the installed ``memtest`` exporter plug-in, selected by scheme."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_export import read_jsonl, sample_records, write_rotated_log

from dihya_logging import export_generation_logs, get_generation_logs, purge_generation_logs
from dihya_logging.exporters import (
    ExporterError,
    available_schemes,
    register_exporter,
    unregister_exporter,
)
from dihya_logging.store import pseudonymize_user_id


@pytest.fixture
def log(log_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A rotated log set and its records."""
    records = sample_records(12)
    write_rotated_log(log_path, records)
    return log_path, records


def test_scheme_selects_the_installed_plugin(
    log: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """memtest:// goes to the plug-in's export(), which gets the selected records and context."""
    log_path, records = log
    target = tmp_path / "remote.jsonl"
    count = export_generation_logs(
        f"memtest://{target}", user_id="user_0", actor="auditor", path=log_path
    )
    wanted = [r for r in records if r["user_id"] == "user_0"]
    assert count == len(wanted)
    assert read_jsonl(target) == wanted
    told = json.loads(Path(str(target) + ".context.json").read_text())
    assert told["actor"] == "auditor"
    assert told["filter"] == {"user_id": "user_0"}
    assert told["location"] == str(log_path)


def test_plugin_export_is_audited(log: tuple[Path, Any], tmp_path: Path) -> None:
    """The export event names the exporter, the URI's base name only and the pseudonym."""
    log_path, _ = log
    target = tmp_path / "private-folder" / "remote.jsonl"
    target.parent.mkdir()
    count = export_generation_logs(
        f"memtest://{target}?token=s3cr3t", user_id="user_1", path=log_path
    )
    (event,) = get_generation_logs(event="export", path=log_path)
    assert event["exporter"] == "memtest"
    assert event["destination"] == "remote.jsonl"
    assert event["count"] == count
    assert event["filter"] == {"user_id": pseudonymize_user_id("user_1", path=log_path)}
    newest = log_path.read_bytes().splitlines()[-1]
    for secret in (b"s3cr3t", b"private-folder", b'"user_1"'):
        assert secret not in newest


def test_plugin_failure_is_audited_and_raised(log: tuple[Path, Any], tmp_path: Path) -> None:
    """A plug-in failing mid-stream raises to the caller; the audit says how many left."""
    log_path, _ = log
    with pytest.raises(RuntimeError, match="memtest failed after 2"):
        export_generation_logs(f"memtest://{tmp_path / 'x.jsonl'}?fail_after=2", path=log_path)
    (event,) = get_generation_logs(event="export", path=log_path)
    assert event["error"] == "RuntimeError"
    assert event["count"] == 3  # the third record was pulled, then the plug-in failed


def test_unknown_scheme_is_refused_with_the_installed_list(log: tuple[Path, Any]) -> None:
    """An unknown scheme is a ValueError naming memtest://, and nothing is audited."""
    log_path, _ = log
    with pytest.raises(ValueError, match=r"no exporter for gopher:// .*memtest://"):
        export_generation_logs("gopher://workspace/db", path=log_path)
    assert get_generation_logs(event="export", path=log_path) == []


def test_file_scheme_is_a_local_file(
    log: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """file:///path.jsonl is an ordinary file export (atomic, audited)."""
    log_path, records = log
    target = tmp_path / "local file.jsonl"
    uri = "file://" + str(target).replace(" ", "%20")
    assert export_generation_logs(uri, path=log_path) == len(records)
    assert read_jsonl(target) == records


def test_purge_calls_the_plugin_hook_and_audits_the_outcome(
    log: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A purge tells the exporter (GDPR art. 19) whom, by the token it kept; outcome audited."""
    log_path, _ = log
    export_generation_logs(f"memtest://{tmp_path / 'sent.jsonl'}", path=log_path)
    kept = json.loads((tmp_path / "sent.jsonl.context.json").read_text())["pseudonyms"]
    calls = tmp_path / "hook.jsonl"
    monkeypatch.setenv("DIHYA_TEST_EXPORTER_PURGE_LOG", str(calls))
    removed = purge_generation_logs(user_id="user_2", actor="dpo", path=log_path)
    (heard,) = [json.loads(line) for line in calls.read_text().splitlines()]
    assert heard["event"] == "purge"
    assert heard["count"] == removed
    assert "user_2" not in json.dumps(heard)
    assert heard["filter"]["user_id"] == kept["user_2"]  # the recipient can find what to erase
    (event,) = get_generation_logs(event="purge", path=log_path)
    assert {"exporter": "memtest", "ok": True, "error": None} in event["recipients"]


def test_failing_purge_hook_is_audited(
    log: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook that raises does not undo the purge; the event records the failure."""
    log_path, _ = log
    monkeypatch.setenv("DIHYA_TEST_EXPORTER_PURGE_FAIL", "1")
    removed = purge_generation_logs(user_id="user_2", path=log_path)
    assert removed > 0
    assert get_generation_logs(user_id="user_2", path=log_path) == []
    (event,) = get_generation_logs(event="purge", path=log_path)
    (memtest,) = [o for o in event["recipients"] if o["exporter"] == "memtest"]
    assert memtest["ok"] is False
    assert "memtest recipient unreachable" in memtest["error"]


class InCodeExporter:
    """An exporter registered in code: keeps what it got, reports a receipt, hears purges."""

    scheme = "incode"

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.purges: list[tuple[dict[str, Any], str | None]] = []

    def describe_destination(self, destination: str) -> str:
        """Only the host: the path holds a secret in this test."""
        return "incode://" + destination.split("/")[2]

    def export(self, records: Any, destination: str, *, context: Any) -> int:
        """Keep the records; report a receipt and progress."""
        self.received = list(records)
        context.receipt["batch"] = "b-42"
        if context.progress is not None:
            context.progress(len(self.received))
        return len(self.received)

    def on_purge(self, event: dict[str, Any], *, location: str | None = None) -> None:
        """Remember the purge and the log it came from."""
        self.purges.append((event, location))


@pytest.fixture
def in_code() -> Iterator[InCodeExporter]:
    """An `InCodeExporter` registered for the test, unregistered after."""
    exporter = InCodeExporter()
    assert register_exporter(exporter) is exporter
    yield exporter
    unregister_exporter("incode")


def test_exporter_registered_in_code_is_used_and_audited(
    log: tuple[Path, list[dict[str, Any]]], in_code: InCodeExporter
) -> None:
    """No entry point needed: the scheme finds it; its receipt and description are audited."""
    log_path, records = log
    assert "incode" in available_schemes()
    count = export_generation_logs("incode://host/s3cr3t-path", user_id="user_1", path=log_path)
    assert in_code.received == [r for r in records if r["user_id"] == "user_1"]
    (event,) = get_generation_logs(event="export", path=log_path)
    assert event["count"] == count
    assert event["destination"] == "incode://host"
    assert event["receipt"] == {"batch": "b-42"}
    assert "s3cr3t" not in json.dumps(event)
    unregister_exporter("incode")
    with pytest.raises(ValueError, match="no exporter for incode://"):
        export_generation_logs("incode://host/x", path=log_path)


def test_registered_hook_gets_the_log_location(
    log: tuple[Path, list[dict[str, Any]]], in_code: InCodeExporter
) -> None:
    """A hook declaring ``location`` is told which log was purged; the outcome is audited."""
    log_path, _ = log
    purge_generation_logs(user_id="user_0", path=log_path)
    ((event, location),) = in_code.purges
    assert location == str(log_path)
    assert event["filter"]["user_id"] == pseudonymize_user_id("user_0", path=log_path)
    (purge,) = get_generation_logs(event="purge", path=log_path)
    assert {"exporter": "incode", "ok": True, "error": None} in purge["recipients"]


def test_registration_overrides_an_installed_exporter(
    log: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """A registered exporter wins over the installed one of the same scheme, until removed."""
    log_path, records = log
    replacement = InCodeExporter()
    replacement.scheme = "memtest"
    register_exporter(replacement)
    try:
        export_generation_logs(f"memtest://{tmp_path / 'x.jsonl'}", path=log_path)
    finally:
        unregister_exporter("memtest")
    assert replacement.received == records
    assert not (tmp_path / "x.jsonl").exists()
    export_generation_logs(f"memtest://{tmp_path / 'x.jsonl'}", path=log_path)
    assert (tmp_path / "x.jsonl").exists()


def test_registering_a_non_exporter_is_refused() -> None:
    """An object without export() or without a scheme is an ExporterError."""
    with pytest.raises(ExporterError, match="no export"):
        register_exporter(object())
    nameless = InCodeExporter()
    nameless.scheme = "not a scheme"
    with pytest.raises(ExporterError, match="no valid scheme"):
        register_exporter(nameless)


def test_the_package_ships_its_exporters() -> None:
    """https, http (loopback), s3, ipfs and notion are installed entry points."""
    assert {"https", "http", "s3", "ipfs", "notion"} <= set(available_schemes())
