"""FileStore reading: round trips through rotated and gzipped files, tail cost, temp cleanup."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from dihya_logging._logset import LogSet
from dihya_logging.store import LogStore, RecordFilter
from dihya_logging.store._filestore import FileStore
from tests.helpers_store import build_log, record, write_file


def test_filestore_is_a_logstore(log_path: Path) -> None:
    """FileStore satisfies the LogStore protocol and names its absolute path."""
    store = FileStore(log_path)
    assert isinstance(store, LogStore)
    assert store.location == str(log_path)
    assert os.path.isabs(store.location)


def test_round_trip_through_rotated_and_gzipped_files(log_path: Path) -> None:
    """Every record of .3.gz, .2, .1.gz and the live file comes back once, oldest first."""
    written = build_log(log_path)
    store = FileStore(log_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(store.iter_records(RecordFilter())) == written
        assert store.tail(len(written) + 5, RecordFilter()) == written


def test_filters_select_across_files(log_path: Path) -> None:
    """user, status, event and since/until filters give exactly what matches() selects."""
    written = build_log(log_path)
    store = FileStore(log_path)
    filters = [
        RecordFilter(user_id="user_2"),
        RecordFilter(status="error"),
        RecordFilter(event="generation", user_id="user_1", status="success"),
        RecordFilter(event="export"),
        RecordFilter.build(since="2026-01-02", until="2026-01-04"),
        RecordFilter.build(user_id="user_3", since="2026-01-02T00:00:10Z"),
    ]
    for flt in filters:
        expected = [r for r in written if flt.matches(r)]
        assert list(store.iter_records(flt)) == expected, flt
        assert store.tail(7, flt) == expected[-7:], flt


def test_tail_reads_only_the_live_file_when_it_holds_enough(log_path: Path) -> None:
    """limit=N with N records in the live file opens no older file's bytes."""
    build_log(log_path, per_file=5000)
    store = FileStore(log_path)
    found = store.tail(20, RecordFilter())
    assert [r["n"] for r in found] == list(range(19980, 20000))
    assert store.stats.bytes_read <= 65536 < log_path.stat().st_size


def test_tail_falls_back_to_older_files_only_when_needed(log_path: Path) -> None:
    """When the live file holds fewer matches, tail continues into .1.gz and stops there."""
    written = build_log(log_path, per_file=200)
    store = FileStore(log_path)
    found = store.tail(250, RecordFilter())
    assert found == written[-250:]
    two_newest = LogSet(log_path).rotated_path(1, True).stat().st_size + log_path.stat().st_size
    assert store.stats.bytes_read <= two_newest


def test_missing_log_reads_as_empty_and_creates_nothing(tmp_path: Path) -> None:
    """Reading a log that does not exist returns nothing and creates no directory."""
    store = FileStore(tmp_path / "absent" / "generation.log")
    assert list(store.iter_records(RecordFilter())) == []
    assert store.tail(5, RecordFilter()) == []
    assert not (tmp_path / "absent").exists()


def test_reads_without_the_lock_when_it_cannot_be_taken(log_path: Path) -> None:
    """A reader that cannot open the lock file (here: a directory in its place) still reads."""
    build_log(log_path, per_file=3)
    LogSet(log_path).lock_path.mkdir()
    store = FileStore(log_path)
    assert len(list(store.iter_records(RecordFilter()))) == 12
    assert len(store.tail(2, RecordFilter())) == 2


def test_cleanup_removes_stale_temp_files_but_not_live_ones(log_path: Path) -> None:
    """A temp file nobody holds is deleted; one flock-ed by a live process is kept."""
    write_file(log_path, [record(1, "a")])
    logset = LogSet(log_path)
    stale, live = logset.temp_path("purge-"), logset.temp_path("purge-")
    stale.write_bytes(b'{"user_id":"user_secret"}\n')
    live.write_bytes(b"in progress\n")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl,sys; f=open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX);"
            " print('locked', flush=True); sys.stdin.read()",
            str(live),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        assert FileStore(log_path).cleanup() == [stale]
        assert not stale.exists()
        assert live.exists()
    finally:
        holder.communicate("")
    assert FileStore(log_path).cleanup() == [live]


def test_a_purge_temp_file_is_flocked_while_alive(log_path: Path) -> None:
    """PurgeTemp holds an exclusive flock, which is how cleanup tells it is alive."""
    from dihya_logging.store._purge import PurgeTemp

    write_file(log_path, [record(1, "a")])
    temp = PurgeTemp(LogSet(log_path), compressed=False)
    try:
        assert oct(temp.path.stat().st_mode & 0o777) == "0o600"
        with open(temp.path, "rb") as probe, pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        temp.discard()
    assert not temp.path.exists()
