"""Adversarial tests of erasure and its audit: look-alike ids, escapings, damaged files, kill -9."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from dihya_logging import export_generation_logs, get_generation_logs, purge_generation_logs
from dihya_logging._logset import LogSet
from tests.helpers_store import all_bytes, build_log, line, record, write_file


def _records(path: Path) -> list[dict[str, object]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_generation_logs(path=path)


def test_purging_a_prefix_id_leaves_the_longer_id_untouched(log_path: Path) -> None:
    """Purging user_1 removes only user_1's records; user_10's records stay byte for byte."""
    ten = [record(n, "user_10", files=["user_1/app.py"]) for n in range(5)]
    write_file(log_path, [record(9, "user_1"), *ten])
    assert purge_generation_logs(user_id="user_1", path=log_path) == 1
    text = log_path.read_bytes()
    assert all(line(r) in text for r in ten)


def test_anonymizing_a_prefix_id_does_not_corrupt_a_longer_id(log_path: Path) -> None:
    """Anonymizing user_1 replaces its mentions, never the user_1 inside 'user_10'."""
    mine = record(1, "user_1", project_name="fork of user_10", files=["user_1/a.py", "user_10/b"])
    write_file(log_path, [mine, record(2, "user_10")])
    assert purge_generation_logs(user_id="user_1", anonymize=True, path=log_path) == 1
    first = _records(log_path)[0]
    token = str(first["user_id"])
    assert token.startswith("anon_")
    assert first["project_name"] == "fork of user_10"
    assert first["files"] == [f"{token}/a.py", "user_10/b"]
    assert b'"user_1"' not in log_path.read_bytes()


@pytest.mark.parametrize("user", ['quo"te\\back', "é\u2028名", "\\u0041", "emoji\U0001f600"])
def test_an_id_written_ascii_escaped_in_a_gz_backup_is_erased(log_path: Path, user: str) -> None:
    """A JSON-special id written with \\u escapes (stdlib) in a .gz backup is still found."""
    escaped = json.dumps(record(1, user), ensure_ascii=True).encode() + b"\n"
    LogSet(log_path).path.parent.mkdir(parents=True)
    LogSet(log_path).rotated_path(1, True).write_bytes(gzip.compress(escaped))
    write_file(log_path, [record(2, user), record(3, "other")])
    assert purge_generation_logs(user_id=user, path=log_path) == 2
    assert [r["user_id"] for r in _records(log_path) if r.get("event") == "generation"] == ["other"]
    for name, data in all_bytes(log_path).items():
        assert json.dumps(user).encode() not in data, name
        assert json.dumps(user, ensure_ascii=False).encode() not in data, name


def test_a_damaged_line_holding_the_id_is_dropped_others_kept(log_path: Path) -> None:
    """A torn line naming the victim goes; a torn line naming only user_10 stays."""
    write_file(
        log_path, [record(1, "user_1"), record(2, "user_10")], tail=b'{"user_id":"user_1","x\n'
    )
    with log_path.open("ab") as out:
        out.write(b'{"user_id":"user_10","y\n')
    purge_generation_logs(user_id="user_1", path=log_path)
    data = log_path.read_bytes()
    assert b'"user_1"' not in data
    assert b'{"user_id":"user_10","y\n' in data


def test_the_export_event_does_not_name_the_exported_user(log_path: Path, tmp_path: Path) -> None:
    """An export to a file named after the user: the audit event's destination is pseudonymised."""
    user = "alice@example.com"
    write_file(log_path, [record(1, user), record(2, "bob")])
    export_generation_logs(tmp_path / f"{user}.jsonl", user_id=user, path=log_path)
    event = next(r for r in _records(log_path) if r.get("event") == "export")
    assert user not in json.dumps(event, ensure_ascii=False)
    assert str(event["destination"]).startswith("anon_")
    purge_generation_logs(user_id=user, path=log_path)
    assert user.encode() not in log_path.read_bytes()


def test_the_purge_event_names_no_purged_data(log_path: Path) -> None:
    """The purge event holds the token, not the id, its project names or its file paths."""
    user = 'ev"il\\id'
    write_file(log_path, [record(1, user, project_name="Secret Project", files=["s3cr3t.py"])])
    purge_generation_logs(user_id=user, path=log_path)
    data = log_path.read_bytes()
    assert b"Secret Project" not in data and b"s3cr3t" not in data
    assert b'ev\\"il' not in data and b"ev\\u0022il" not in data
    (event,) = _records(log_path)
    assert event["event"] == "purge"
    assert str(event["filter"]["user_id"]).startswith("anon_")  # type: ignore[index]


def test_a_damaged_gz_backup_fails_the_purge_with_nothing_changed(log_path: Path) -> None:
    """One unreadable .gz: the purge raises and no other file is half-purged (all or nothing)."""
    build_log(log_path, users=("victim", "other"), layout=((2, False), (1, True)))
    LogSet(log_path).rotated_path(1, True).write_bytes(b"\x1f\x8b\x08\x00broken")
    names = ("generation.log.2", "generation.log")
    snapshot = {n: (log_path.parent / n).read_bytes() for n in names}
    with pytest.raises(EOFError):
        purge_generation_logs(user_id="victim", path=log_path)
    assert {n: (log_path.parent / n).read_bytes()[: len(snapshot[n])] for n in names} == snapshot
    assert LogSet(log_path).stale_temp_files() == []


KILLED_AFTER_FIRST_COMMIT = r"""
import os, signal, sys
from dihya_logging.store import _purge as purge
from dihya_logging.store._filestore import FileStore
real = purge.PurgeTemp.commit
def commit_then_die(self, destination):
    real(self, destination)
    os.kill(os.getpid(), signal.SIGKILL)
purge.PurgeTemp.commit = commit_then_die
FileStore(sys.argv[1]).purge(user_id="victim")
"""


def test_a_purge_killed_between_renames_leaves_whole_files_and_a_rerun_finishes(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """kill -9 after one rename: every file is whole (old or purged); a rerun erases the rest."""
    build_log(log_path, users=("victim", "other"))
    before = all_bytes(log_path)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_FIRST_COMMIT, str(log_path)],
        env=subprocess_env,
        check=False,
    )
    assert killed.returncode == -9
    after = all_bytes(log_path)
    changed = [n for n in before if after.get(n) != before[n]]
    assert len(changed) == 1 and b"victim" not in after[changed[0]]
    assert purge_generation_logs(user_id="victim", path=log_path) == 45
    assert LogSet(log_path).stale_temp_files() == []
    assert all(b"victim" not in data for data in all_bytes(log_path).values())


def test_retention_purge_with_naive_and_aware_dates_and_bad_stamps(log_path: Path) -> None:
    """before= naive means UTC, aware is converted; a record with a garbage timestamp is kept."""
    write_file(log_path, [record(1, "a", day=1), record(2, "b", day=3), record(3, "c", day=5)])
    with log_path.open("ab") as out:
        out.write(line({**record(4, "d"), "timestamp": "not a date"}))
    assert purge_generation_logs(before="2026-01-02", path=log_path) == 1
    assert purge_generation_logs(before="2026-01-04T01:00:00+02:00", path=log_path) == 1
    users = [r["user_id"] for r in _records(log_path) if r.get("event") == "generation"]
    assert users == ["c", "d"]


def test_a_self_service_erasure_does_not_name_the_user_as_actor(log_path: Path) -> None:
    """actor == the purged user (or holds their id): the purge event carries the token instead."""
    user = "carol"
    write_file(log_path, [record(1, user), record(2, "dave")])
    purge_generation_logs(user_id=user, actor=user, path=log_path)
    purge_generation_logs(user_id="dave", actor="self-service:dave", path=log_path)
    events = [r for r in _records(log_path) if r.get("event") == "purge"]
    assert len(events) == 2
    assert str(events[0]["actor"]).startswith("anon_")
    assert str(events[1]["actor"]).startswith("self-service:anon_")
    assert all(str(e["actor"]) != "self-service:dave" for e in events)
    assert b"carol" not in log_path.read_bytes() and b"dave" not in log_path.read_bytes()


def test_a_user_exporting_their_own_data_is_not_named_in_clear(
    log_path: Path, tmp_path: Path
) -> None:
    """actor == the exported user: the export event's actor is the token."""
    write_file(log_path, [record(1, "erin")])
    export_generation_logs(tmp_path / "out.jsonl", user_id="erin", actor="erin", path=log_path)
    (event,) = [r for r in _records(log_path) if r.get("event") == "export"]
    assert str(event["actor"]).startswith("anon_")


def test_an_unfiltered_export_named_after_the_user_is_scrubbed_by_their_erasure(
    log_path: Path, tmp_path: Path
) -> None:
    """export of everything to frank.jsonl, then purge frank: no 'frank' byte left in the log."""
    write_file(log_path, [record(1, "frank"), record(2, "frankie")])
    export_generation_logs(tmp_path / "frank.jsonl", path=log_path)
    export_generation_logs(tmp_path / "frankie.jsonl", actor="frank", path=log_path)
    purge_generation_logs(user_id="frank", path=log_path)
    destinations = [r["destination"] for r in _records(log_path) if r.get("event") == "export"]
    assert str(destinations[0]).startswith("anon_") and destinations[1] == "frankie.jsonl"
    assert b"frank" not in log_path.read_bytes().replace(b"frankie", b"")


def test_files_renamed_by_logrotate_are_read_and_purged_never_missed(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """logrotate's generation.log-DATE(.gz) is read and purged; a .bz2 one refuses the purge."""
    foreign = log_path.with_name("generation.log-20261204")
    zipped = log_path.with_name("generation.log.2026-11-01.gz")
    write_file(zipped, [record(1, "victim"), record(2, "other")], gz=True)
    write_file(foreign, [record(3, "victim"), record(4, "other")])
    write_file(log_path, [record(5, "victim")])
    for moment, path in enumerate((zipped, foreign, log_path)):
        os.utime(path, (1_000_000 + moment, 1_000_000 + moment))
    assert [r["n"] for r in get_generation_logs(path=log_path)] == [1, 2, 3, 4, 5]
    bz2 = log_path.with_name("generation.log-20261001.bz2")
    bz2.write_bytes(b"BZh9 not read")
    with pytest.raises(ValueError, match=r"generation\.log-20261001\.bz2"):
        purge_generation_logs(user_id="victim", path=log_path)
    assert b"victim" in foreign.read_bytes()
    query = subprocess.run(
        [sys.executable, "-m", "dihya_logging", "query", "--json", "--file", str(log_path)],
        capture_output=True, text=True, env=subprocess_env, timeout=60, check=False,
    )  # fmt: skip
    assert query.returncode == 3 and "generation.log-20261001.bz2" in query.stderr
    bz2.unlink()
    assert purge_generation_logs(user_id="victim", path=log_path) == 3
    assert b"victim" not in foreign.read_bytes() and b"victim" not in gzip.decompress(
        zipped.read_bytes()
    )
    assert [r.get("n") for r in get_generation_logs(path=log_path)] == [2, 4, None, None]
