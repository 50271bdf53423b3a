"""The anchor: heads shipped to another file catch what the log and its state file cannot."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dihya_logging import verify_generation_logs
from dihya_logging.chain._format import parse_entry
from tests.helpers_chain import (
    INTACT,
    KEY,
    TAMPERED,
    forge_from,
    lines_of,
    log_events,
    records_of,
    set_state_head,
    write_lines,
)


@pytest.fixture
def anchor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The anchor file the writers use (through $DIHYA_CHAIN_ANCHOR)."""
    path = tmp_path / "elsewhere" / "heads.jsonl"
    path.parent.mkdir()
    monkeypatch.setenv("DIHYA_CHAIN_ANCHOR", str(path))
    return path


def test_handler_anchors_the_head_at_close_and_rotation(log_path: Path, anchor: Path) -> None:
    """Each rotation and the close append the head; the file is private; entries match."""
    log_events(log_path, 60, maxBytes=2500)
    entries = [json.loads(line) for line in anchor.read_text().splitlines()]
    assert len(entries) >= 5
    assert stat.S_IMODE(anchor.stat().st_mode) == 0o600
    assert entries[-1]["seq"] == 60
    assert entries[-1]["log"] == str(log_path)
    links = {r["seq"]: r["link"] for r in records_of(log_path)}
    assert all(links[e["seq"]] == e["link"] for e in entries)
    assert verify_generation_logs(log_path, key=KEY).status == INTACT


def test_forger_with_the_key_is_caught_by_the_anchor(log_path: Path, anchor: Path) -> None:
    """Someone holding the key rewrites history and the state: only the anchor catches it."""
    log_events(log_path, 30)
    line = lines_of(log_path)[3].rstrip(b"\n")
    payload = line[: line.index(b',"seq":')] + b"}"
    forge_from(log_path, 3, payload.replace(b'"user_3"', b'"user_0"'), KEY)
    assert verify_generation_logs(log_path, key=KEY, anchor=anchor.with_name("none")).ok
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == TAMPERED
    assert "(seq 30): its link differs from the one anchored at" in report.problems[0]


def test_cut_tail_with_state_rewritten_is_caught_by_the_anchor(
    log_path: Path, anchor: Path
) -> None:
    """A cut tail whose state head was rewritten to match passes without the anchor only."""
    log_events(log_path, 30)
    lines = lines_of(log_path)[:-4]
    write_lines(log_path, lines)
    last = parse_entry(lines[-1].rstrip(b"\n"))
    assert last is not None
    set_state_head(log_path, last.seq, last.link)
    assert verify_generation_logs(log_path, key=KEY, anchor=anchor.with_name("none")).ok
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == TAMPERED
    assert "ends at seq 26 but seq 30 was anchored" in report.problems[0]


def test_anchor_argument_overrides_environment(log_path: Path, anchor: Path) -> None:
    """verify(anchor=...) reads the given file; a missing anchor file is only a note."""
    log_events(log_path, 5)
    report = verify_generation_logs(log_path, key=KEY, anchor=anchor.with_name("missing"))
    assert report.status == INTACT
    assert any("does not exist" in note for note in report.notes)
