"""GenerationLogHandler in one process: drop-in arguments, formatting once, privacy, faults."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from helpers_sink import parse_all, read_lines
from pythonjsonlogger.json import JsonFormatter

from dihya_logging import GenerationLogHandler
from dihya_logging._logset import LogSet

Factory = Callable[..., GenerationLogHandler]


@pytest.fixture
def make(log_path: Path) -> Iterator[Factory]:
    """Build handlers on ``log_path`` with a JSON formatter; all closed after the test."""
    made: list[GenerationLogHandler] = []

    def factory(*args: Any, formatter: bool = True, **kwargs: Any) -> GenerationLogHandler:
        handler = GenerationLogHandler(kwargs.pop("path", log_path), *args, **kwargs)
        if formatter:
            handler.setFormatter(JsonFormatter())
        made.append(handler)
        return handler

    yield factory
    for handler in made:
        handler.close()


def record(seq: int = 0, msg: str = "event", **extra: Any) -> logging.LogRecord:
    """A record as `logger.info(msg, extra=...)` would make it."""
    return logging.makeLogRecord(
        {"msg": msg, "levelno": 20, "levelname": "INFO", "seq": seq, **extra}
    )


class Failures:
    """Collects what `handleError` was called with (the exception in flight)."""

    def __init__(self, handler: logging.Handler) -> None:
        self.errors: list[BaseException | None] = []
        handler.handleError = self  # type: ignore[method-assign]

    def __call__(self, rec: logging.LogRecord) -> None:
        import sys

        self.errors.append(sys.exc_info()[1])


def test_accepts_rotating_file_handler_positional_arguments(make: Factory, log_path: Path) -> None:
    """`(filename, mode, maxBytes, backupCount, encoding, delay)` mean what the stdlib means."""
    handler = make("a", 1000, 5, "utf-8", True)
    assert (handler.maxBytes, handler.backupCount, handler.delay) == (1000, 5, True)
    assert handler.log_path == log_path
    assert handler.log_path.is_absolute()
    assert handler.baseFilename == str(log_path)
    assert handler.log_set.path == log_path
    assert not log_path.exists()  # delay=True: nothing opened before the first record


def test_rejects_bad_arguments(log_path: Path) -> None:
    """Bad options fail at construction with a clear ValueError, not at the first record."""
    for kwargs in (
        {"mode": "r"},
        {"maxBytes": -1},
        {"fsync": "sometimes"},
        {"fsync": 0},
        {"when": "Q"},
        {"when": "S", "interval": 0},
        {"backupCount": -2},
        {"retention_days": 0},
        {"file_mode": 0o10600},
    ):
        with pytest.raises(ValueError, match=r"must|needs|interval"):
            GenerationLogHandler(log_path, delay=True, **kwargs)


def test_formats_each_record_exactly_once(make: Factory, log_path: Path) -> None:
    """One format call per record, rotations included (the stdlib formats twice)."""
    calls = []

    class Counting(JsonFormatter):
        def format(self, rec: logging.LogRecord) -> str:
            calls.append(rec)
            return super().format(rec)

    handler = make(maxBytes=1000, formatter=False)
    handler.setFormatter(Counting())
    for seq in range(200):
        handler.handle(record(seq))
    assert len(calls) == 200
    assert len(LogSet(log_path).rotated()) > 3
    assert [r["seq"] for r in parse_all(read_lines(log_path))] == list(range(200))


def test_default_formatter_is_the_redacting_json_formatter(make: Factory, log_path: Path) -> None:
    """Without a formatter the handler writes the package's redacted JSON records."""
    handler = make(formatter=False)
    handler.handle(record(msg="login", password="hunter2"))
    (line,) = parse_all(read_lines(log_path))
    assert list(line)[:4] == ["timestamp", "level", "logger", "message"]
    assert "hunter2" not in json.dumps(line)
    assert type(handler.formatter).__name__ == "RedactingJsonFormatter"


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_files_are_private_whatever_the_umask(make: Factory, log_path: Path, umask: int) -> None:
    """Log, lock, backup and gzip files are 0o600 and a created directory 0o700."""
    old = os.umask(umask)
    try:
        handler = make(maxBytes=500, compress=True)
        for seq in range(30):
            handler.handle(record(seq))
    finally:
        os.umask(old)
    files = [p for p in log_path.parent.iterdir()]
    assert any(p.name.endswith(".gz") for p in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(log_path.parent.stat().st_mode) == 0o700


def test_file_mode_option_is_exact(make: Factory, log_path: Path) -> None:
    """``file_mode`` is applied exactly, not filtered by the umask."""
    old = os.umask(0o077)
    try:
        make(file_mode=0o640).handle(record())
    finally:
        os.umask(old)
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o640


def test_symlink_at_log_path_is_refused(make: Factory, log_path: Path, tmp_path: Path) -> None:
    """A planted symlink is never followed: handleError is called and the target is untouched."""
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    log_path.parent.mkdir()
    log_path.symlink_to(target)
    handler = make(delay=True)
    failures = Failures(handler)
    handler.handle(record())
    assert target.read_text() == "precious\n"
    assert len(failures.errors) == 1
    assert isinstance(failures.errors[0], OSError)
    assert log_path.is_symlink()


def test_new_line_never_glues_onto_a_partial_line(make: Factory, log_path: Path) -> None:
    """A fragment left by a crashed writer stays alone on its line; the next record is whole."""
    log_path.parent.mkdir()
    log_path.write_bytes(b'{"seq": -1}\n{"seq": -2, "tru')
    handler = make()
    handler.handle(record(1))
    handler.handle(record(2))
    lines = log_path.read_bytes().splitlines(keepends=True)
    assert lines[1] == b'{"seq": -2, "tru\n'
    assert [r["seq"] for r in parse_all([lines[0], *lines[2:]])] == [-1, 1, 2]


def test_mode_w_starts_a_fresh_file_without_deleting(make: Factory, log_path: Path) -> None:
    """``mode="w"`` rotates the old content into a backup instead of truncating it."""
    first = make()
    first.handle(record(1))
    first.close()
    second = make("w")
    second.handle(record(2))
    assert [r["seq"] for r in parse_all(log_path.read_bytes().splitlines(True))] == [2]
    assert [r["seq"] for r in parse_all(read_lines(log_path))] == [1, 2]


def test_backup_count_zero_keeps_every_backup(make: Factory, log_path: Path) -> None:
    """With rotation on and backupCount=0 no backup is ever deleted."""
    handler = make(maxBytes=400)
    for seq in range(100):
        handler.handle(record(seq))
    assert len(LogSet(log_path).rotated()) > 5
    assert [r["seq"] for r in parse_all(read_lines(log_path))] == list(range(100))


def test_two_handlers_follow_each_others_rotations(make: Factory, log_path: Path) -> None:
    """Handlers with separate descriptors (like processes) share rotation: nothing is lost."""
    one, two = make(maxBytes=1500), make(maxBytes=1500)
    for seq in range(300):
        (one if seq % 3 else two).handle(record(seq))
    assert [r["seq"] for r in parse_all(read_lines(log_path))] == list(range(300))
    for _, path in LogSet(log_path).rotated():
        assert 1000 < path.stat().st_size <= 1500  # one rotation per crossing, none doubled


def test_follows_a_rewrite_made_under_the_lock(make: Factory, log_path: Path) -> None:
    """A rewrite that replaces the live file under `LogSet.lock` (a purge) is followed."""
    handler = make()
    handler.handle(record(1))
    log_set = LogSet(log_path)
    with log_set.lock():
        temp = log_set.temp_path("purge-")
        temp.write_bytes(b'{"seq": 0}\n')
        os.replace(temp, log_path)
    handler.handle(record(2))
    assert [r["seq"] for r in parse_all(read_lines(log_path))] == [0, 2]


def test_directory_removed_is_recreated_without_loss(make: Factory, log_path: Path) -> None:
    """After ``rm -r`` of the directory the handler recreates it; later records are all kept."""
    handler = make()
    handler.recheck_interval = 0.0  # check the path at every record
    handler.handle(record(0))
    shutil.rmtree(log_path.parent)
    for seq in range(1, 50):
        handler.handle(record(seq))
    seqs = [r["seq"] for r in parse_all(read_lines(log_path))]
    assert seqs in (list(range(50)), list(range(1, 50)))  # record 0 may be rescued too
    assert stat.S_IMODE(log_path.parent.stat().st_mode) == 0o700


def test_lines_written_before_a_removal_is_noticed_are_rescued(
    make: Factory, log_path: Path
) -> None:
    """Records written to the deleted file before the next path check reach the new file."""
    handler = make()
    handler.recheck_interval = 3600.0
    handler.handle(record(0))
    shutil.rmtree(log_path.parent)
    for seq in range(1, 20):
        handler.handle(record(seq))  # still going to the deleted file: no check is due
    assert not log_path.exists()
    handler.recheck_interval = 3600.0  # setting it: the next record checks the path
    handler.handle(record(20))
    assert [r["seq"] for r in parse_all(read_lines(log_path))] == list(range(21))


def test_failure_goes_to_handle_error_and_recovers(make: Factory, log_path: Path) -> None:
    """A directory that cannot be created reports through handleError; then logging resumes."""
    log_path.parent.parent.mkdir(exist_ok=True)
    log_path.parent.write_text("a file where the directory should be")
    handler = make(delay=True)
    failures = Failures(handler)
    handler.handle(record(1))
    assert len(failures.errors) == 1
    log_path.parent.unlink()
    handler.handle(record(2))
    assert [r["seq"] for r in parse_all(read_lines(log_path))] == [2]
    assert len(failures.errors) == 1


def test_unformattable_record_goes_to_handle_error(make: Factory, log_path: Path) -> None:
    """A formatter that raises is reported through handleError; nothing partial is written."""

    class Broken(logging.Formatter):
        def format(self, rec: logging.LogRecord) -> str:
            raise RuntimeError("boom")

    handler = make(formatter=False)
    handler.setFormatter(Broken())
    failures = Failures(handler)
    handler.handle(record())
    assert [type(e) for e in failures.errors] == [RuntimeError]
    assert not log_path.exists() or log_path.read_bytes() == b""


@pytest.mark.parametrize("policy", ["never", "rotate", "always", 3, "2"])
def test_every_fsync_policy_writes_every_record(make: Factory, log_path: Path, policy: Any) -> None:
    """Each durability policy is accepted and loses nothing."""
    handler = make(maxBytes=600, fsync=policy)
    for seq in range(20):
        handler.handle(record(seq))
    assert [r["seq"] for r in parse_all(read_lines(log_path))] == list(range(20))


def test_close_is_idempotent_and_releases_files(make: Factory, log_path: Path) -> None:
    """close() twice is fine; the handler no longer holds descriptors."""
    before = set(os.listdir("/dev/fd"))
    handler = make()
    handler.handle(record())
    assert handler.stream is not None
    handler.close()
    handler.close()
    assert handler.stream is None
    assert set(os.listdir("/dev/fd")) <= before


def test_handle_without_filters_returns_the_stdlib_verdict(tmp_path: Path) -> None:
    """With no filter, handle() writes and returns what logging's own handle() would (True, or
    the record itself on Python 3.12+)."""
    handler = GenerationLogHandler(tmp_path / "generation.log")
    record = logging.makeLogRecord({"msg": "plain"})
    try:
        assert handler.handle(record) == logging.Handler().filter(record)
    finally:
        handler.close()
    assert json.loads((tmp_path / "generation.log").read_text())["message"] == "plain"
