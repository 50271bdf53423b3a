"""Adversarial sink tests: no code path loses, duplicates or splits a line, or raises."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers_faults import handler_at, rec, seqs
from helpers_sink import parse_all, read_lines
from pythonjsonlogger.json import JsonFormatter

from dihya_logging import AuditQueueHandler, GenerationLogHandler


class Exploding(logging.Formatter):
    """A formatter that raises for records whose seq is odd."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "seq", 0) % 2:
            raise RuntimeError("formatter exploded")
        return json.dumps({"seq": record.seq})  # type: ignore[attr-defined]


@pytest.mark.parametrize("raise_exceptions", [True, False])
def test_raising_formatter_never_reaches_caller(
    log_path: Path, capsys: pytest.CaptureFixture[str], raise_exceptions: bool
) -> None:
    """A raising formatter is reported (traceback iff raiseExceptions), the caller goes on."""
    logging.raiseExceptions = raise_exceptions
    try:
        handler = GenerationLogHandler(log_path)
        handler.setFormatter(Exploding())
        for seq in range(6):
            handler.handle(rec(seq))
        handler.close()
    finally:
        logging.raiseExceptions = True
    assert seqs(log_path) == [0, 2, 4]
    assert ("formatter exploded" in capsys.readouterr().err) is raise_exceptions


def test_queue_writer_reports_raising_formatter(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In queue mode a raising formatter is reported from the writer thread; the rest is written."""
    target = GenerationLogHandler(log_path)
    target.setFormatter(Exploding())
    front = AuditQueueHandler(target, maxsize=8)
    for seq in range(40):
        front.handle(rec(seq))
    front.close()
    assert seqs(log_path) == list(range(0, 40, 2))
    assert "formatter exploded" in capsys.readouterr().err


def test_close_twice_then_log(log_path: Path) -> None:
    """close() twice does not raise; a record logged after close is still written whole."""
    handler = handler_at(log_path)
    handler.handle(rec(0))
    handler.close()
    handler.close()
    handler.handle(rec(1))
    handler.close()
    assert seqs(log_path) == [0, 1]


@pytest.mark.parametrize("queued", [False, True])
def test_close_while_threads_log(log_path: Path, queued: bool) -> None:
    """Closing while four threads log raises nothing into them and loses no record."""
    target = handler_at(log_path, maxBytes=4000)
    front: logging.Handler = AuditQueueHandler(target, maxsize=16) if queued else target
    errors: list[BaseException] = []

    def writer(tag: int) -> None:
        try:
            for seq in range(200):
                front.handle(rec(tag * 1000 + seq))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    front.close()
    for thread in threads:
        thread.join()
    front.close()
    target.close()
    assert errors == []
    assert sorted(seqs(log_path)) == sorted(t * 1000 + s for t in range(4) for s in range(200))


def test_directory_replaced_by_a_file(log_path: Path) -> None:
    """The log directory replaced by a file: handleError, no raise; logging resumes after repair."""
    handler = handler_at(log_path)
    errors: list[str] = []
    handler.handleError = lambda record: errors.append(str(sys.exc_info()[1]))  # type: ignore
    handler.handle(rec(0))
    shutil.rmtree(log_path.parent)
    log_path.parent.write_text("not a directory")
    handler.handle(rec(1))  # may still go to the deleted file (checked each second): rescued
    handler.recheck_interval = 1.0  # setting it: the next record checks the path
    handler.handle(rec(2))
    assert errors
    log_path.parent.unlink()
    handler.handle(rec(3))
    handler.close()
    found = seqs(log_path)  # 0 and 1 went to the deleted file: rescued (0 was never verified)
    assert len(errors) == 1 and found[-2:] == [1, 3] and len(set(found)) == len(found)


def test_live_file_truncated_by_someone_else(log_path: Path) -> None:
    """A live file truncated behind our back: later records are whole lines, none glued."""
    handler = handler_at(log_path)
    for seq in range(10):
        handler.handle(rec(seq))
    with open(log_path, "r+b") as raw:
        raw.truncate(7)  # leaves a fragment of the first line
    for seq in range(10, 20):
        handler.handle(rec(seq))
    handler.close()
    lines = read_lines(log_path)
    assert [json.loads(x)["seq"] for x in lines[1:]] == list(range(10, 20))


def test_record_larger_than_max_bytes(log_path: Path) -> None:
    """maxBytes smaller than one record: each record whole, in order, none lost."""
    handler = handler_at(log_path, maxBytes=10)
    for seq in range(20):
        handler.handle(rec(seq))
    handler.close()
    assert seqs(log_path) == list(range(20))


def test_ten_megabyte_message_is_one_line(log_path: Path) -> None:
    """A 10 MB message is written as one complete line beside its neighbours."""
    handler = handler_at(log_path, maxBytes=1 << 20)
    handler.handle(rec(0))
    handler.handle(rec(1, msg="m" * (10 << 20)))
    handler.handle(rec(2))
    handler.close()
    records = parse_all(read_lines(log_path))
    assert [r["seq"] for r in records] == [0, 1, 2]
    assert len(records[1]["message"]) == 10 << 20


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "cp1252"])
def test_narrow_encoding_keeps_every_record_readable(log_path: Path, encoding: str) -> None:
    """Characters a narrow encoding lacks become JSON escapes: the store reads them back exact."""
    from dihya_logging import get_generation_logs, log_generation_event

    logger = logging.getLogger("faults.encoding")
    logger.propagate, logger.level = False, logging.INFO
    handler = GenerationLogHandler(log_path, encoding=encoding)
    logger.addHandler(handler)
    name = "Blog ⴰⵣⵓⵍ 😀 œ café"
    try:
        log_generation_event("u1", {"project_name": name}, [], logger=logger)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert [r["project_name"] for r in get_generation_logs(path=log_path)] == [name]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_encoding_that_breaks_lines_is_refused(log_path: Path, encoding: str) -> None:
    """An encoding whose line ends or BOMs no reader can split is refused at construction."""
    with pytest.raises(ValueError, match="encoding"):
        GenerationLogHandler(log_path, encoding=encoding)


def test_mode_w_keeps_the_previous_log(log_path: Path) -> None:
    """mode='w' starts a fresh file without losing what the old one held."""
    first = handler_at(log_path)
    first.handle(rec(0))
    first.close()
    second = handler_at(log_path, mode="w")
    second.handle(rec(1))
    second.close()
    assert sorted(seqs(log_path)) == [0, 1]
    assert [json.loads(x)["seq"] for x in log_path.read_bytes().splitlines()] == [1]


class FailingTarget(logging.Handler):
    """A target whose every emit raises (a dead disk)."""

    def emit(self, record: logging.LogRecord) -> None:
        raise OSError("disk gone")


def test_queue_flood_with_failing_target_counts_drops(capsys: pytest.CaptureFixture[str]) -> None:
    """A flood into a queue whose target fails: errors reported, drops counted, caller unharmed."""
    front = AuditQueueHandler(FailingTarget(), maxsize=4, timeout=0.0)
    for seq in range(2000):
        front.handle(rec(seq))
    front.close()
    err = capsys.readouterr().err
    assert "disk gone" in err
    reported = re.findall(r"the queue was full, (\d+) records were dropped", err)
    assert sum(map(int, reported)) == front.dropped


class DiesOnce(GenerationLogHandler):
    """A target whose first batch kills the writer thread (a BaseException)."""

    died = False

    def handle_batch(self, records: Any) -> None:
        if not DiesOnce.died:
            DiesOnce.died = True
            raise SystemExit("writer killed")
        super().handle_batch(records)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_shutdown_after_writer_thread_died(log_path: Path) -> None:
    """After the writer thread died, later records are written directly and shutdown drains."""
    target = DiesOnce(log_path)
    target.setFormatter(JsonFormatter())
    threads_before = threading.active_count()
    front = AuditQueueHandler(target, maxsize=64)
    front.handle(rec(0))
    deadline = time.monotonic() + 5
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.01)  # the writer thread dies on its first batch
    for seq in range(1, 30):
        front.handle(rec(seq))
    front.close()
    assert seqs(log_path)[-29:] == list(range(1, 30))


class Unprintable(Exception):
    """An exception (or key) whose ``__str__`` raises."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    __repr__ = __str__
    __hash__ = Exception.__hash__


def test_unprintable_error_or_extra_key_never_raises(log_path: Path) -> None:
    """An error or extra key whose __str__ raises is logged with a placeholder, never raised."""
    from dihya_logging import log_generation_event

    logger = logging.getLogger("faults.events")
    logger.propagate, logger.level = False, logging.INFO
    handler = GenerationLogHandler(log_path)
    logger.addHandler(handler)
    try:
        log_generation_event("u1", {}, [], "error", Unprintable(), logger=logger)
        log_generation_event("u2", {}, [], extra={Unprintable(): 1}, logger=logger)
    finally:
        logger.removeHandler(handler)
        handler.close()
    records = parse_all(read_lines(log_path))
    assert [r["user_id"] for r in records] == ["u1", "u2"]
    assert records[0]["error"] == "Unprintable: <unprintable Unprintable>"
    assert 1 in records[1].values()


def test_batch_sync_failure_is_reported(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fdatasync failing after a batch was written is reported, and nothing is written twice."""
    import errno

    def broken_sync(fd: int) -> None:
        raise OSError(errno.EIO, "fdatasync failed")

    monkeypatch.setattr(os, "fdatasync", broken_sync)
    target = handler_at(log_path, fsync="always")
    errors: list[str] = []
    target.handleError = lambda record: errors.append(str(sys.exc_info()[1]))  # type: ignore
    target.handle_batch([rec(seq) for seq in range(20)])
    target.close()
    assert seqs(log_path) == list(range(20))
    assert errors and "fdatasync failed" in errors[0]
