"""verify across the files of a log set: rotation, compression, pruning, several processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from dihya_logging import verify_generation_logs
from dihya_logging._logset import LogSet
from dihya_logging.chain._format import read_state
from tests.helpers_chain import INTACT, KEY, TAMPERED, log_events, records_of


def _rotated(log_path: Path, *, compress: bool = False, backups: int = 0) -> LogSet:
    """A log of 120 events rotated every ~2 kB: several backups."""
    log_events(log_path, 120, maxBytes=2500, compress=compress, backupCount=backups)
    return LogSet(log_path)


@pytest.mark.parametrize("compress", [False, True])
def test_rotated_log_verifies(log_path: Path, compress: bool) -> None:
    """The chain runs across rotated (and gzipped) files: intact, every record counted."""
    log_set = _rotated(log_path, compress=compress)
    assert len(log_set.rotated()) >= 5
    assert all(p.name.endswith(".gz") == compress for _, p in log_set.rotated())
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == INTACT, report.problems
    assert (report.records, report.head_seq) == (120, 120)


@pytest.mark.parametrize("compress", [False, True])
def test_missing_middle_rotated_file_is_caught(log_path: Path, compress: bool) -> None:
    """Deleting a rotated file between two others leaves a named gap at the file boundary."""
    log_set = _rotated(log_path, compress=compress)
    victim = log_set.rotated()[2][1]
    victim.unlink()
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == TAMPERED
    assert any("missing between" in p and "rotated file" in p for p in report.problems)


def test_missing_oldest_file_is_caught(log_path: Path) -> None:
    """Deleting the oldest backup (not pruned by the handler) is caught at the start."""
    log_set = _rotated(log_path)
    log_set.rotated()[-1][1].unlink()
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == TAMPERED
    assert "the oldest records are missing" in report.problems[0]


def test_missing_newest_files_are_caught(log_path: Path) -> None:
    """Deleting the live file and the newest backup is a cut tail."""
    log_set = _rotated(log_path)
    log_path.unlink()
    log_set.rotated()[0][1].unlink()
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == TAMPERED
    assert "cut from the tail" in report.problems[0]


@pytest.mark.parametrize("compress", [False, True])
def test_reordered_rotated_files_are_caught(log_path: Path, compress: bool) -> None:
    """Swapping the names of two backups is reported as files out of order."""
    log_set = _rotated(log_path, compress=compress)
    (_, one), (_, two) = log_set.rotated()[1:3]
    temp = one.with_name("swap")
    one.rename(temp)
    two.rename(one)
    temp.rename(two)
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == TAMPERED
    assert any("rotated files out of order" in p for p in report.problems)


def test_pruned_backups_are_legitimate(log_path: Path) -> None:
    """backupCount deletes the oldest files; the state's base moves, so the log stays intact."""
    log_set = _rotated(log_path, backups=2)
    assert [i for i, _ in log_set.rotated()] == [1, 2]
    state = read_state(log_set.chain_state_path)
    assert state is not None
    assert state.base_seq > 0
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == INTACT, report.problems
    assert report.records == 120 - state.base_seq


def test_pruned_then_oldest_deleted_is_caught(log_path: Path) -> None:
    """After pruning, deleting one more oldest file is still caught."""
    log_set = _rotated(log_path, backups=3)
    log_set.rotated()[-1][1].unlink()
    assert verify_generation_logs(log_path, key=KEY).status == TAMPERED


def _writer(path: str, count: int, tag: int) -> None:
    log_events(Path(path), count, start=tag * 1000, maxBytes=4000, compress=tag % 2 == 0)


def test_several_writer_processes_form_one_chain(log_path: Path) -> None:
    """Four processes writing with rotation share one chain: intact, seqs 1..N exactly once."""
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_writer, args=(str(log_path), 60, t)) for t in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == INTACT, report.problems
    seqs = [record["seq"] for record in records_of(log_path)]
    assert seqs == list(range(1, 241))
    assert sorted(r["n"] for r in records_of(log_path)) == sorted(
        t * 1000 + i for t in range(4) for i in range(60)
    )


def test_verify_of_a_copy_elsewhere(log_path: Path, tmp_path: Path) -> None:
    """An auditor's copy of the files (and state file) verifies in another directory."""
    _rotated(log_path, compress=True)
    copy = tmp_path / "audit"
    copy.mkdir()
    for path in log_path.parent.iterdir():
        if not path.name.endswith(".lock"):
            (copy / path.name).write_bytes(path.read_bytes())
    report = verify_generation_logs(copy / log_path.name, key=KEY)
    assert report.status == INTACT
    assert report.records == 120
