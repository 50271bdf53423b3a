"""verify_generation_logs on one live file: every kind of tampering is reported, and where."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dihya_logging import verify_generation_logs
from dihya_logging._logset import LogSet
from dihya_logging.chain._format import parse_sealed, seal_text
from tests.helpers_chain import (
    CANNOT_CHECK,
    INTACT,
    KEY,
    TAMPERED,
    forge_from,
    lines_of,
    log_events,
    write_lines,
)


@pytest.fixture
def chained(log_path: Path) -> Path:
    """A keyed chained log of 30 events in one file."""
    log_events(log_path, 30)
    return log_path


def _verdict(path: Path, **kwargs: object) -> tuple[str, list[str]]:
    report = verify_generation_logs(path, key=kwargs.pop("key", KEY), **kwargs)  # type: ignore[arg-type]
    return report.status, report.problems


def test_intact_log_verifies(chained: Path) -> None:
    """An untouched chained log is intact: ok, exit code 0, every record counted."""
    report = verify_generation_logs(chained, key=KEY)
    assert (report.status, report.ok, report.exit_code) == (INTACT, True, 0)
    assert (report.records, report.head_seq, report.problems) == (30, 30, [])


def test_edited_line_is_caught(chained: Path) -> None:
    """Changing one value in a line is reported at that line (commitment mismatch)."""
    lines = lines_of(chained)
    lines[6] = lines[6].replace(b'"user_1"', b'"user_9"')
    write_lines(chained, lines)
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == TAMPERED
    assert report.exit_code == 1
    assert report.first_bad is not None
    assert (report.first_bad.line, report.first_bad.seq) == (7, 7)
    assert "generation.log line 7 (seq 7)" in report.problems[0]


def test_edit_with_recomputed_commitment_breaks_the_link(chained: Path) -> None:
    """An edit whose commitment is recomputed (the salt is on the line) breaks the link."""
    lines = lines_of(chained)
    sealed = parse_sealed(lines[4].rstrip(b"\n"))
    assert sealed is not None
    payload, seq, salt, _, link = sealed
    new = payload.replace(b'"user_4"', b'"user_0"')
    commit = hashlib.sha256(salt + new).digest()
    lines[4] = seal_text(new.decode(), seq, salt, commit, link).encode() + b"\n"
    write_lines(chained, lines)
    status, problems = _verdict(chained)
    assert status == TAMPERED
    assert problems == [
        "generation.log line 5 (seq 5): its link does not follow from the previous record: "
        "altered, moved or inserted"
    ]


def test_inserted_unchained_line_is_caught(chained: Path) -> None:
    """A plausible record without chain fields inserted mid-file is reported."""
    lines = lines_of(chained)
    fake = {"timestamp": "2026-11-23T12:00:00.000Z", "level": "INFO", "message": "generation"}
    lines.insert(10, json.dumps(fake).encode() + b"\n")
    write_lines(chained, lines)
    status, problems = _verdict(chained)
    assert status == TAMPERED
    assert "line 11" in problems[0]
    assert "without chain fields" in problems[0]


def test_deleted_line_is_caught(chained: Path) -> None:
    """Removing one line leaves a gap in the sequence that is named."""
    lines = lines_of(chained)
    del lines[12]
    write_lines(chained, lines)
    status, problems = _verdict(chained)
    assert status == TAMPERED
    assert any("record 13 is missing" in p for p in problems)


def test_duplicated_line_is_caught(chained: Path) -> None:
    """A line copied right after itself is reported as a duplicate."""
    lines = lines_of(chained)
    lines.insert(9, lines[8])
    write_lines(chained, lines)
    status, problems = _verdict(chained)
    assert status == TAMPERED
    assert any("seq 9 comes after seq 9" in p for p in problems)


def test_reordered_lines_are_caught(chained: Path) -> None:
    """Two swapped lines are reported as a reordering, not as lost records."""
    lines = lines_of(chained)
    lines[3], lines[4] = lines[4], lines[3]
    write_lines(chained, lines)
    status, problems = _verdict(chained)
    assert status == TAMPERED
    assert any("reordered" in p for p in problems)
    assert not any("missing" in p for p in problems)


def test_truncated_tail_is_caught_by_the_state_head(chained: Path) -> None:
    """Cutting the last records is caught: the state file still records the real head."""
    write_lines(chained, lines_of(chained)[:-3])
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == TAMPERED
    assert "ends at seq 27" in report.problems[0]
    assert "head is seq 30" in report.problems[0]


def test_forgery_with_plain_hashes_is_caught_with_the_key(chained: Path) -> None:
    """A forger recomputing every hash (and the state head) without the key is caught."""
    edited = lines_of(chained)[2].rstrip(b"\n")
    payload = edited[: edited.index(b',"seq":')] + b"}"
    forge_from(chained, 2, payload.replace(b'"user_2"', b'"user_0"'), None)
    status, problems = _verdict(chained)
    assert status == TAMPERED
    assert "plain SHA-256, not keyed" in problems[0]
    assert "seq 3" in problems[0]


def test_wrong_key_cannot_check(chained: Path) -> None:
    """Another key gives "cannot check" (exit 2), not a false accusation of tampering."""
    report = verify_generation_logs(chained, key=b"another key")
    assert (report.status, report.exit_code) == (CANNOT_CHECK, 2)
    assert report.problems == ["no link matches the key given: the wrong key (or a forgery)"]


def test_missing_key_cannot_check_links_but_sees_edits(chained: Path) -> None:
    """Without the key links are unchecked (cannot check), but an edited line still shows."""
    assert verify_generation_logs(chained).status == CANNOT_CHECK
    lines = lines_of(chained)
    lines[0] = lines[0].replace(b'"n":0', b'"n":7')
    write_lines(chained, lines)
    assert verify_generation_logs(chained).status == TAMPERED


def test_key_from_environment(chained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no key argument, $DIHYA_CHAIN_KEY is used."""
    monkeypatch.setenv("DIHYA_CHAIN_KEY", KEY.decode())
    assert verify_generation_logs(chained).status == INTACT


def test_unauthorised_tombstone_is_caught(chained: Path) -> None:
    """Replacing a record by a well-formed tombstone without a purge record is tampering."""
    lines = lines_of(chained)
    record = json.loads(lines[5])
    stone = {"tombstone": True, "seq": record["seq"], "commit": record["commit"]}
    stone["link"] = record["link"]
    lines[5] = json.dumps(stone, separators=(",", ":")).encode() + b"\n"
    write_lines(chained, lines)
    status, problems = _verdict(chained)
    assert status == TAMPERED
    assert problems == [
        "generation.log line 6 (seq 6): tombstone not authorised by any later purge record"
    ]


def test_crash_partial_last_line_is_not_tampering(chained: Path) -> None:
    """A final line cut short by a crash is a note; the state head one ahead is explained."""
    lines = lines_of(chained)
    write_lines(chained, [*lines[:-1], lines[-1][:57]])
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == INTACT, report.problems
    assert any("partial last line" in note for note in report.notes)
    assert any("record seq 30 was being written" in note for note in report.notes)


def test_writing_after_a_crash_keeps_the_chain(chained: Path) -> None:
    """After a crash fragment, the next writer re-seals that seq: intact, fragment noted."""
    lines = lines_of(chained)
    write_lines(chained, [*lines[:-1], lines[-1][:80]])
    log_events(chained, 5, start=30)
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == INTACT, report.problems
    assert report.head_seq == 34
    assert any("partial line left by a crash" in n for n in report.notes)


def test_unchained_log_cannot_be_checked(log_path: Path) -> None:
    """A log written without chain=True is "cannot check" (exit 2), with the reason."""
    log_path.parent.mkdir()
    log_path.write_text('{"timestamp":"2026-11-23T12:00:00.000Z","message":"x"}\n')
    report = verify_generation_logs(log_path)
    assert (report.status, report.exit_code) == (CANNOT_CHECK, 2)
    assert "not chained" in report.problems[0]


def test_missing_log_cannot_be_checked(log_path: Path) -> None:
    """No files at all: cannot check."""
    report = verify_generation_logs(log_path)
    assert report.status == CANNOT_CHECK
    assert "no log files" in report.problems[0]


def test_missing_state_file_cannot_confirm_the_tail(chained: Path) -> None:
    """Without the state file a cut tail cannot be ruled out: cannot check, not intact."""
    LogSet(chained).chain_state_path.unlink()
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == CANNOT_CHECK
    assert "no state file" in report.problems[-1]


def test_json_report_names_the_first_bad_record(chained: Path) -> None:
    """to_dict() is JSON-ready and locates the first problem."""
    lines = lines_of(chained)
    del lines[20]
    write_lines(chained, lines)
    data = json.loads(json.dumps(verify_generation_logs(chained, key=KEY).to_dict()))
    assert data["status"] == "tampered"
    assert data["ok"] is False
    assert data["first_bad"] == {"file": "generation.log", "line": 21, "seq": 22}


def test_damaged_state_file_cannot_check_and_is_rebuilt(chained: Path) -> None:
    """A garbled state file makes verify say so; the next writer rebuilds it."""
    path = LogSet(chained).chain_state_path
    path.write_bytes(b"garbage\n")
    report = verify_generation_logs(chained, key=KEY)
    assert report.status == CANNOT_CHECK
    assert any("state file is unreadable" in p for p in report.problems)
    log_events(chained, 2, start=30)
    assert verify_generation_logs(chained, key=KEY).status == INTACT


def test_environment_key_is_ignored_for_an_unkeyed_log(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$DIHYA_CHAIN_KEY set for other logs does not fail an unkeyed one; an explicit key does."""
    log_events(log_path, 5, key=None)
    monkeypatch.setenv("DIHYA_CHAIN_KEY", KEY.decode())
    assert verify_generation_logs(log_path).status == INTACT
    assert verify_generation_logs(log_path, key=KEY).status == TAMPERED
