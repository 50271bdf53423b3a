"""Queue mode: exception text kept, back-pressure without loss, counted drops, flush at exit."""

from __future__ import annotations

import logging
import logging.config
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_sink import finish, parse_all, read_lines, run_child
from pythonjsonlogger.json import JsonFormatter

from dihya_logging import GenerationLogHandler
from dihya_logging.sink._queueing import AuditQueueHandler, make_queue_handler


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A private logger; its handlers are closed after the test."""
    log = logging.getLogger("queue.test")
    log.propagate = False
    log.setLevel(logging.INFO)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def file_target(path: Path) -> GenerationLogHandler:
    """The file handler that sits behind the queue."""
    target = GenerationLogHandler(path)
    target.setFormatter(JsonFormatter())
    return target


class Gated(logging.Handler):
    """A target that blocks until ``gate`` is set and records the deepest queue it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.records: list[logging.LogRecord] = []
        self.front: AuditQueueHandler | None = None
        self.deepest = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.gate.wait(30)
        if self.front is not None:
            self.deepest = max(self.deepest, self.front.bounded.qsize())
        self.records.append(record)


def test_exception_and_stack_text_stay_separate_fields(
    logger: logging.Logger, log_path: Path
) -> None:
    """The traceback goes to exc_info and the stack to stack_info, the message stays itself."""
    front = make_queue_handler(file_target(log_path))
    logger.addHandler(front)
    try:
        raise ValueError("bad spec")
    except ValueError:
        logger.exception("generation %s failed", "p1", stack_info=True, extra={"user_id": "u1"})
    front.close()
    (record,) = parse_all(read_lines(log_path))
    assert record["message"] == "generation p1 failed"
    assert "Traceback" in record["exc_info"]
    assert "ValueError: bad spec" in record["exc_info"]
    assert "Stack (most recent call last)" in record["stack_info"]
    assert record["user_id"] == "u1"


def test_prepare_leaves_the_callers_record_alone(log_path: Path) -> None:
    """prepare() returns a copy: other handlers still see the original exc_info and args."""
    front = make_queue_handler(file_target(log_path))
    try:
        raise KeyError("k")
    except KeyError:
        import sys

        original = logging.makeLogRecord(
            {"msg": "x %s", "args": ("y",), "exc_info": sys.exc_info()}
        )
    prepared = front.prepare(original)
    front.close()
    assert original.exc_info is not None
    assert original.args == ("y",)
    assert prepared.exc_info is None
    assert prepared.args is None
    assert prepared.msg == "x y"
    assert prepared.exc_text
    assert "KeyError" in prepared.exc_text


def test_full_queue_blocks_callers_and_loses_nothing(logger: logging.Logger) -> None:
    """With a slow writer the default policy makes callers wait: bounded depth, no loss."""
    target = Gated()
    front = make_queue_handler(target, maxsize=50)
    target.front = front
    logger.addHandler(front)
    threads = [
        threading.Thread(
            target=lambda n=n: [logger.info("e", extra={"t": n, "i": i}) for i in range(500)]
        )
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    threading.Timer(0.2, target.gate.set).start()
    for thread in threads:
        thread.join(60)
    front.close()
    assert len(target.records) == 2000
    assert front.dropped == 0
    assert 0 < target.deepest <= 50


def test_timeout_policy_counts_drops_and_reports_them(logger: logging.Logger) -> None:
    """With ``timeout`` a full queue drops records, counts them and writes how many."""
    target = Gated()
    front = AuditQueueHandler(target, maxsize=5, timeout=0.001)
    logger.addHandler(front)
    for i in range(40):
        logger.info("e", extra={"i": i})
    target.gate.set()
    front.close()
    kept = [r for r in target.records if hasattr(r, "i")]
    warnings = [r for r in target.records if hasattr(r, "dropped_records")]
    assert front.dropped > 0
    assert len(kept) + front.dropped == 40
    assert sum(w.dropped_records for w in warnings) == front.dropped


def test_log_path_and_formatter_reach_the_target(log_path: Path) -> None:
    """log_path delegates to the target; a formatter set on the queue formats in the target."""
    target = GenerationLogHandler(log_path)
    front = make_queue_handler(target)
    front.setFormatter(JsonFormatter())
    assert front.log_path == log_path
    assert target.formatter is not None
    front.handle(logging.makeLogRecord({"msg": "hello", "levelno": 20, "levelname": "INFO"}))
    front.close()
    assert parse_all(read_lines(log_path))[0]["message"] == "hello"


def test_records_after_close_are_written_directly(log_path: Path) -> None:
    """A record arriving after close (late shutdown ordering) is still written, not queued."""
    front = make_queue_handler(file_target(log_path))
    front.close()
    front.handle(logging.makeLogRecord({"msg": "late", "levelno": 20, "levelname": "INFO"}))
    front.target_handler.close()
    assert [r["message"] for r in parse_all(read_lines(log_path))] == ["late"]


def test_dict_config_recipe(log_path: Path, logger: logging.Logger) -> None:
    """The documented dictConfig recipe builds a queue in front of a GenerationLogHandler."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": "pythonjsonlogger.json.JsonFormatter"}},
            "handlers": {
                "audit": {
                    "()": "dihya_logging.sink._queueing.queued_handler",
                    "filename": str(log_path),
                    "maxBytes": 2000,
                    "maxsize": 100,
                    "formatter": "json",
                }
            },
            "loggers": {"queue.test": {"level": "INFO", "handlers": ["audit"]}},
        }
    )
    (front,) = logger.handlers
    assert isinstance(front, AuditQueueHandler)
    assert isinstance(front.target_handler, GenerationLogHandler)
    for i in range(100):
        logger.info("e", extra={"i": i})
    front.close()
    assert [r["i"] for r in parse_all(read_lines(log_path))] == list(range(100))


def test_shutdown_at_exit_flushes_the_queue(log_path: Path) -> None:
    """A process that logs 20k records in queue mode and just exits has written all of them."""
    report = finish(run_child("queue_exit", {"path": str(log_path), "count": 20_000}))
    assert report["written"] == 20_000
    records = parse_all(read_lines(log_path))
    assert [r["seq"] for r in records] == list(range(20_000))
    assert records[-1]["message"] == "queued 19999"


@pytest.mark.slow
def test_burst_of_100k_records_stays_in_bounded_memory(log_path: Path) -> None:
    """100k records in a burst: the queue never holds more than maxsize, nothing is lost."""
    report = finish(
        run_child("queue_burst", {"path": str(log_path), "count": 100_000, "maxsize": 1000}),
        timeout=120,
    )
    assert 0 < report["deepest"] <= 1000
    assert report["dropped"] == 0
    assert report["growth_kib"] < 20_000  # 100k queued records would take ~100 MB
    assert len(read_lines(log_path)) == 100_000


def test_forked_child_gets_its_own_writer_thread(log_path: Path) -> None:
    """After fork() the child queues through a fresh writer thread; both sides lose nothing."""
    import multiprocessing
    import os

    front = make_queue_handler(file_target(log_path), maxsize=50)

    def log(writer: str) -> None:
        for seq in range(300):
            front.handle(
                logging.makeLogRecord(
                    {"msg": "e", "levelno": 20, "levelname": "INFO", "w": writer, "seq": seq}
                )
            )

    def child() -> None:
        log("child")
        running = front.listener.running
        front.close()
        os._exit(0 if running else 3)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    log("parent")
    process.join(60)
    front.close()
    assert process.exitcode == 0
    records = parse_all(read_lines(log_path))
    for writer in ("parent", "child"):
        assert [r["seq"] for r in records if r["w"] == writer] == list(range(300))
