"""The exporter extension point: entry-point discovery, loading checks, purge notification.

The installed ``tests/plugins/dihya_test_exporter`` package provides a real ``memtest`` entry
point; hand-made `EntryPoint` objects (pointing at classes in ``helpers_export``) stand for
broken or odd plug-ins.
"""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from helpers_export import failing_hook_point

from dihya_logging.exporters._registry import (
    ENTRY_POINT_GROUP,
    Exporter,
    ExporterError,
    PurgeAwareExporter,
    available_schemes,
    exporter_entry_points,
    load_exporter,
    notify_purge,
    uri_scheme,
)


def _point(name: str, value: str) -> EntryPoint:
    """A hand-made entry point of the exporter group."""
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


PURGE_EVENT = {
    "event": "purge",
    "actor": "dpo",
    "count": 3,
    "filters": {"user_id": "anon_0123456789abcdef"},
}


def test_installed_plugin_is_discovered() -> None:
    """The test plug-in's entry point is found through importlib.metadata."""
    assert "memtest" in available_schemes()
    values = [p.value for p in exporter_entry_points() if p.name == "memtest"]
    assert values == ["dihya_test_exporter:MemTestExporter"]


def test_load_installed_exporter_by_scheme() -> None:
    """The scheme selects the plug-in, and what it loads satisfies both protocols."""
    exporter = load_exporter("MEMTEST")
    assert type(exporter).__name__ == "MemTestExporter"
    assert isinstance(exporter, Exporter)
    assert isinstance(exporter, PurgeAwareExporter)


def test_unknown_scheme_lists_installed_ones() -> None:
    """An unknown scheme is a ValueError naming the installed exporters."""
    with pytest.raises(ValueError, match=r"no exporter for gopher:// .*memtest://"):
        load_exporter("gopher")


@pytest.mark.parametrize(
    ("point", "reason"),
    [
        (_point("broken", "helpers_export:NotAnExporter"), "has no export"),
        (_point("gone", "no_such_module_xyz:Thing"), "cannot be loaded: ModuleNotFoundError"),
        (_point("renamed", "helpers_export:WrongScheme"), "declares scheme 'other'"),
    ],
)
def test_bad_plugins_are_clear_errors(point: EntryPoint, reason: str) -> None:
    """A plug-in that fails to import, lacks export() or misnames its scheme is an ExporterError."""
    with pytest.raises(ExporterError, match=reason):
        load_exporter(point.name, entry_points=[point])


def test_two_plugins_for_one_scheme_is_an_error() -> None:
    """Two different packages claiming one scheme are refused rather than picked at random."""
    points = [_point("dup", "helpers_export:NoHook"), _point("dup", "helpers_export:MutatingHook")]
    with pytest.raises(ExporterError, match="several exporters claim dup://"):
        load_exporter("dup", entry_points=points)


@pytest.mark.parametrize(
    ("destination", "scheme"),
    [
        ("memtest:///tmp/x.jsonl", "memtest"),
        ("S3+Path://bucket/key", "s3+path"),
        ("/tmp/out.jsonl", None),
        ("relative/out.csv", None),
        ("c:/odd.csv", None),
    ],
)
def test_uri_scheme(destination: str, scheme: str | None) -> None:
    """Only ``scheme://`` destinations select an exporter; paths are files."""
    assert uri_scheme(destination) == scheme


def test_notify_purge_calls_installed_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real plug-in's on_purge receives the event and its success is reported."""
    calls = tmp_path / "purges.jsonl"
    monkeypatch.setenv("DIHYA_TEST_EXPORTER_PURGE_LOG", str(calls))
    outcomes = notify_purge(PURGE_EVENT)
    assert {"exporter": "memtest", "ok": True, "error": None} in outcomes
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [PURGE_EVENT]


class _ForeignEntryPoint:
    """An entry point made by another importlib.metadata (a backport on the meta path)."""

    def __init__(self, point: EntryPoint) -> None:
        self.name, self.value, self.group = point.name, point.value, point.group
        self._point = point

    def load(self) -> object:
        return self._point.load()


def test_notify_purge_calls_hooks_of_entry_points_of_another_metadata_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry point that is no stdlib EntryPoint (as the importlib_metadata backport gives on
    Python 3.9 once imported) is still loaded and its hook still called."""
    calls = tmp_path / "purges.jsonl"
    monkeypatch.setenv("DIHYA_TEST_EXPORTER_PURGE_LOG", str(calls))
    (memtest,) = [p for p in exporter_entry_points() if p.name == "memtest"]
    outcomes = notify_purge(PURGE_EVENT, entry_points=[_ForeignEntryPoint(memtest)])  # type: ignore[list-item]
    assert outcomes == [{"exporter": "memtest", "ok": True, "error": None}]
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [PURGE_EVENT]


def test_notify_purge_reports_hook_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hook that raises is reported (one line, exception type first), not propagated."""
    monkeypatch.setenv("DIHYA_TEST_EXPORTER_PURGE_FAIL", "1")
    outcomes = notify_purge(PURGE_EVENT)
    memtest = [o for o in outcomes if o["exporter"] == "memtest"]
    assert memtest == [
        {"exporter": "memtest", "ok": False, "error": "RuntimeError: memtest recipient unreachable"}
    ]


def test_notify_purge_skips_exporters_without_hook_and_reports_broken_ones() -> None:
    """No hook: no outcome; a plug-in that cannot load: a failed outcome (a recipient missed)."""
    points = [_point("nohook", "helpers_export:NoHook"), _point("gone", "no_such_module_xyz:X")]
    outcomes = notify_purge(PURGE_EVENT, entry_points=points)
    assert len(outcomes) == 1
    assert outcomes[0]["exporter"] == "gone"
    assert outcomes[0]["ok"] is False
    assert "ModuleNotFoundError" in outcomes[0]["error"]


def test_notify_purge_gives_each_hook_a_copy() -> None:
    """A hook that mutates its event changes neither the caller's event nor the next hook's."""
    event = json.loads(json.dumps(PURGE_EVENT))
    points = [_point("mutating", "helpers_export:MutatingHook")] * 2
    outcomes = notify_purge(event, entry_points=points)
    assert [o["ok"] for o in outcomes] == [True, True]
    assert event == PURGE_EVENT


def test_notify_purge_error_text_is_redacted_and_bounded() -> None:
    """Failure text kept for the audit record is one line, bounded, with secrets masked."""
    outcomes = notify_purge(PURGE_EVENT, entry_points=[failing_hook_point()])
    error = outcomes[0]["error"]
    assert "\n" not in error
    assert len(error) <= 300
    assert "hunter2" not in error
