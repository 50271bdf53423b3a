"""FileStore.purge: everything, one user, before a date, anonymize — across live, rotated, .gz."""

from __future__ import annotations

import gzip
import os
import warnings
from pathlib import Path

import pytest

from dihya_logging._logset import LogSet
from dihya_logging._schema import parse_datetime
from dihya_logging.store import RecordFilter, pseudonymize_user_id
from dihya_logging.store._filestore import FileStore
from tests.helpers_store import all_bytes, build_log, line, record, write_file

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


def _records(store: FileStore) -> list[dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return list(store.iter_records(RecordFilter()))


def test_purge_everything_deletes_backups_and_empties_the_live_file(log_path: Path) -> None:
    """No filter: every record goes, rotated files are removed, the live file is empty."""
    written = build_log(log_path)
    outcome = FileStore(log_path).purge()
    assert outcome.count == len(written)
    assert LogSet(log_path).files() == [log_path]
    assert log_path.read_bytes() == b""
    assert sorted(outcome.details["files_deleted"]) == [
        "generation.log.1.gz",
        "generation.log.2",
        "generation.log.3.gz",
    ]


def test_purge_everything_keeps_purge_audit_events(log_path: Path) -> None:
    """Earlier purge events survive every purge: they hold no data and prove the erasures."""
    write_file(log_path, [record(1, "a"), PURGE_EVENT, record(2, "b")])
    store = FileStore(log_path)
    assert store.purge().count == 2
    assert _records(store) == [PURGE_EVENT]


def test_purge_one_user_erases_every_byte_of_them_everywhere(log_path: Path) -> None:
    """user_id: that user's records leave every file, .gz included; others stay, in order."""
    written = build_log(log_path, users=("user_1", "user_12", "user_2"))
    store = FileStore(log_path)
    outcome = store.purge(user_id="user_1")
    assert outcome.count == sum(r["user_id"] == "user_1" for r in written) == 40
    assert _records(store) == [r for r in written if r["user_id"] != "user_1"]
    for name, data in all_bytes(log_path).items():
        assert b'"user_1"' not in data, name
    logset = LogSet(log_path)
    assert logset.rotated_path(1, True).read_bytes()[:2] == b"\x1f\x8b"  # gz stays gz
    assert store.purge(user_id="user_1").count == 0


def test_a_file_with_nothing_to_remove_is_left_untouched(log_path: Path) -> None:
    """Files without the user's records keep inode and bytes; a changed one keeps mode, mtime."""
    logset = LogSet(log_path)
    write_file(logset.rotated_path(2, True), [record(1, "other")], gz=True)
    write_file(logset.rotated_path(1), [record(2, "victim"), record(3, "other")])
    write_file(log_path, [record(4, "other")])
    os.chmod(logset.rotated_path(1), 0o640)
    os.utime(logset.rotated_path(1), (1_700_000_000, 1_700_000_000))
    before = {p: (p.stat().st_ino, p.read_bytes()) for p in logset.files()}
    outcome = FileStore(log_path).purge(user_id="victim")
    assert outcome.details["files_rewritten"] == ["generation.log.1"]
    changed = logset.rotated_path(1)
    for path, (ino, data) in before.items():
        if path != changed:
            assert (path.stat().st_ino, path.read_bytes()) == (ino, data)
    assert changed.stat().st_ino != before[changed][0]
    assert oct(changed.stat().st_mode & 0o777) == "0o640"
    assert changed.stat().st_mtime == 1_700_000_000
    assert changed.read_bytes() == line(record(3, "other"))


def test_purge_before_a_date_removes_older_records_and_empty_backups(log_path: Path) -> None:
    """before: records older than the cut-off go; a backup left empty is deleted."""
    written = build_log(log_path)  # days 1, 2, 3 in backups, day 4 live
    cutoff = parse_datetime("2026-01-02T00:00:40Z")
    store = FileStore(log_path)
    outcome = store.purge(before=cutoff)
    expected = [r for r in written if parse_datetime(r["timestamp"]) >= cutoff]
    assert outcome.count == len(written) - len(expected) == 40
    assert _records(store) == expected
    assert not LogSet(log_path).rotated_path(3, True).exists()


def test_purge_before_with_a_sub_millisecond_cutoff_is_exact(log_path: Path) -> None:
    """A cut-off inside a record's millisecond is decided by parsing, not by the text prefix."""
    write_file(log_path, [record(1, "a", day=2), record(2, "a", day=2)])
    store = FileStore(log_path)
    assert store.purge(before=parse_datetime("2026-01-02T00:00:01.0015Z")).count == 1
    assert [r["n"] for r in _records(store)] == [2]


def test_purge_one_user_before_a_date(log_path: Path) -> None:
    """user_id and before together: only that user's older records."""
    written = build_log(log_path)
    cutoff = parse_datetime("2026-01-03")
    store = FileStore(log_path)
    store.purge(user_id="user_2", before=cutoff)
    gone = [
        r for r in written if r["user_id"] == "user_2" and parse_datetime(r["timestamp"]) < cutoff
    ]
    assert len(gone) == 20
    assert _records(store) == [r for r in written if r not in gone]


def test_anonymize_keeps_the_records_under_a_stable_token(log_path: Path) -> None:
    """anonymize: same records, user_id replaced by the token, the id gone from every byte."""
    logset = LogSet(log_path)
    write_file(
        logset.rotated_path(1, True), [record(1, "user_7", project_name="user_7 shop")], gz=True
    )
    write_file(log_path, [record(2, "user_8"), record(3, "user_7", files=["home/user_7/app.py"])])
    store = FileStore(log_path)
    outcome = store.purge(user_id="user_7", anonymize=True)
    token = pseudonymize_user_id("user_7", path=log_path)
    assert outcome.count == 2
    assert outcome.details["anonymized"] == 2
    assert token.startswith("anon_")
    records = _records(store)
    assert [r["user_id"] for r in records] == [token, "user_8", token]
    assert records[0]["project_name"] == f"{token} shop"
    assert records[2]["files"] == [f"home/{token}/app.py"]
    assert records[1] == record(2, "user_8")
    assert all(b"user_7" not in data for data in all_bytes(log_path).values())
    assert store.purge(user_id="user_7", anonymize=True).count == 0


def test_user_purge_scrubs_the_id_from_other_records_that_name_it(log_path: Path) -> None:
    """Another record holding the id as a whole value (an audit filter) gets the token instead."""
    audit = {
        **PURGE_EVENT,
        "event": "export",
        "message": "export",
        "filters": {"user_id": "user_5"},
    }
    write_file(log_path, [record(1, "user_5"), audit, record(2, "user_55")])
    store = FileStore(log_path)
    outcome = store.purge(user_id="user_5")
    assert outcome.count == 1
    assert outcome.details["scrubbed"] == 1
    records = _records(store)
    assert records[0]["filters"] == {"user_id": pseudonymize_user_id("user_5", path=log_path)}
    assert records[1] == record(2, "user_55")


def test_damaged_lines_holding_the_id_are_removed_too(log_path: Path) -> None:
    """A damaged or crash-cut line that holds the user's id is dropped; other damage stays."""
    write_file(
        log_path,
        [record(1, "user_9")],
        tail=b'{"user_id":"user_9", broken\ngarbage\n{"user_id":"user_9","pro',
    )
    store = FileStore(log_path)
    outcome = store.purge(user_id="user_9")
    assert outcome.count == 1
    assert outcome.details["damaged_removed"] == 2
    assert log_path.read_bytes() == b"garbage\n"


def test_full_purge_of_damaged_lines_counts_only_records(log_path: Path) -> None:
    """A full purge removes damaged lines too, but counts only records."""
    write_file(log_path, [record(1, "a"), record(2, "b")], tail=b'garbage\n\n{"cut')
    outcome = FileStore(log_path).purge()
    assert (outcome.count, outcome.details["damaged_removed"]) == (2, 2)
    assert log_path.read_bytes() == b""


def test_purge_removes_stale_temp_files_first(log_path: Path) -> None:
    """Temp files left by an interrupted purge (holding personal data) are deleted by the next."""
    write_file(log_path, [record(1, "a")])
    stale = LogSet(log_path).temp_path("purge-")
    stale.write_bytes(line(record(9, "user_gone")))
    outcome = FileStore(log_path).purge(user_id="nobody")
    assert not stale.exists()
    assert outcome.details["stale_temp_files_removed"] == 1


def test_purge_refuses_a_symlink_among_the_files_and_changes_nothing(
    log_path: Path, tmp_path: Path
) -> None:
    """A symlink planted as a backup stops the purge before any file is rewritten."""
    write_file(log_path, [record(1, "u")])
    outside = tmp_path / "outside.log"
    write_file(outside, [record(2, "u")])
    LogSet(log_path).rotated_path(1).symlink_to(outside)
    before = log_path.read_bytes()
    with pytest.raises(OSError, match="not a regular file"):
        FileStore(log_path).purge(user_id="u")
    assert log_path.read_bytes() == before
    assert outside.read_bytes() == line(record(2, "u"))


def test_purged_gzip_files_are_valid_gzip_with_the_rest(log_path: Path) -> None:
    """A rewritten .gz decompresses to exactly the remaining lines."""
    gz = LogSet(log_path).rotated_path(1, True)
    write_file(gz, [record(n, f"user_{n % 2}") for n in range(50)], gz=True)
    FileStore(log_path).purge(user_id="user_0")
    assert gzip.decompress(gz.read_bytes()) == b"".join(
        line(record(n, "user_1")) for n in range(1, 50, 2)
    )


def test_store_level_argument_checks(log_path: Path) -> None:
    """FileStore.purge rejects an empty id, a naive date and anonymize without a user."""
    store = FileStore(log_path)
    with pytest.raises(ValueError, match="non-empty"):
        store.purge(user_id="")
    with pytest.raises(TypeError, match="aware"):
        store.purge(before=parse_datetime("2026-01-01").replace(tzinfo=None))
    with pytest.raises(ValueError, match="needs a user_id"):
        store.purge(anonymize=True)
    assert not log_path.parent.exists()
