"""Queue mode's fast path: the bounded queue's back-pressure and the handler's batched writes."""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers_sink import parse_all, read_lines
from pythonjsonlogger.json import JsonFormatter

from dihya_logging import GenerationLogHandler, verify_generation_logs
from dihya_logging.chain._verify import INTACT
from dihya_logging.sink._boundedqueue import BoundedQueue
from dihya_logging.sink._queueing import make_queue_handler


def record(seq: int, writer: str = "w", pad: int = 0) -> logging.LogRecord:
    """A plain INFO record carrying ``seq`` and ``writer`` (and ``pad`` bytes of payload)."""
    return logging.makeLogRecord(
        {"msg": "e", "levelno": 20, "levelname": "INFO", "w": writer, "n": seq, "p": "x" * pad}
    )


def handler(path: Path, **options: object) -> GenerationLogHandler:
    """A file handler with python-json-logger's formatter."""
    target = GenerationLogHandler(path, **options)  # type: ignore[arg-type]
    target.setFormatter(JsonFormatter())
    return target


def test_full_queue_blocks_until_half_empty() -> None:
    """A caller blocked on a full queue resumes only once the writer has brought the depth to
    half the bound (hysteresis); the depth never exceeds the bound."""
    bounded = BoundedQueue(10)
    for i in range(10):
        bounded.put(i)
    with pytest.raises(queue.Full):
        bounded.put_nowait(10)
    resumed_at: list[int] = []

    def caller() -> None:
        bounded.put(10)
        resumed_at.append(bounded.qsize())

    thread = threading.Thread(target=caller)
    thread.start()
    taken: list[int] = []
    while len(taken) < 6:
        taken += bounded.take(1)
        assert bounded.qsize() <= 10
        time.sleep(0.01)
        if len(taken) < 5:
            assert thread.is_alive(), "woke above half the bound"
    thread.join(10)
    assert not thread.is_alive()
    assert taken == list(range(6))
    assert resumed_at and resumed_at[0] <= 6  # <= resume_at (5) plus the caller's own record
    assert bounded.take(100) == [6, 7, 8, 9, 10]


def test_records_taken_by_the_writer_still_count_in_the_bound() -> None:
    """What the writer holds counts until its next take: a batch in flight keeps callers out."""
    bounded = BoundedQueue(4)
    for i in range(4):
        bounded.put(i)
    assert bounded.take(10) == [0, 1, 2, 3]
    assert bounded.qsize() == 4
    with pytest.raises(queue.Full):
        bounded.put(4, timeout=0.01)
    taken: list[int] = []
    writer = threading.Thread(target=lambda: taken.extend(bounded.take(10)))
    writer.start()  # its next take marks the batch written, then waits for records
    bounded.put(4, timeout=10)
    writer.join(10)
    assert taken == [4]
    assert bounded.qsize() == 1


def test_callers_waiting_on_a_full_queue_are_released_when_the_writer_stops() -> None:
    """If the writer thread ends, callers blocked on a full queue do not wait forever: their
    records stay queued for the final drain."""
    bounded = BoundedQueue(2)
    bounded.put(0)
    bounded.put(1)
    caller = threading.Thread(target=bounded.put, args=(2,))
    caller.start()
    time.sleep(0.05)
    assert caller.is_alive()
    bounded.done()
    caller.join(10)
    assert not caller.is_alive()
    assert [bounded.get_nowait() for _ in range(3)] == [0, 1, 2]


def test_prepare_queues_a_plain_record_as_is_and_copies_others(log_path: Path) -> None:
    """A record needing no change is not copied; one with args is rendered into a copy."""
    front = make_queue_handler(handler(log_path))
    plain = record(1)
    with_args = logging.makeLogRecord({"msg": "a %s", "args": ("b",)})
    try:
        assert front.prepare(plain) is plain
        prepared = front.prepare(with_args)
        assert prepared is not with_args
        assert prepared.msg == "a b"
        assert with_args.args == ("b",)
    finally:
        front.close()


def test_batch_rotates_between_records_and_keeps_order(log_path: Path) -> None:
    """One batch spanning several rotations: every file within maxBytes, order kept, no loss."""
    target = handler(log_path, maxBytes=4_000, backupCount=0)
    target.handle_batch([record(i, pad=300) for i in range(60)])
    target.close()
    files = list(target.log_set.files())
    assert len(files) > 3
    for path in files:
        assert path.stat().st_size <= 4_000
    assert [r["n"] for r in parse_all(read_lines(log_path))] == list(range(60))


def test_batch_seals_every_record_into_the_chain(log_path: Path) -> None:
    """With the chain on, a batch seals each record: the log verifies intact."""
    target = handler(log_path, chain=True, chain_key="k" * 32, maxBytes=3_000)
    target.handle_batch([record(i, pad=100) for i in range(40)])
    target.handle(record(40))
    target.handle_batch([record(i) for i in range(41, 50)])
    target.close()
    lines = parse_all(read_lines(log_path))
    assert [r["n"] for r in lines] == list(range(50))
    assert len({r["n"] for r in lines}) == 50
    assert verify_generation_logs(log_path, key="k" * 32).status == INTACT


def test_failed_batch_write_falls_back_to_one_record_at_a_time(log_path: Path) -> None:
    """A batch whose write fails (descriptor gone) is written record by record, none lost."""
    target = handler(log_path)
    target.handle(record(0))
    assert target.stream is not None
    os.close(target.stream.fileno())  # the live file's descriptor: the next write gets EBADF
    target.handle_batch([record(i) for i in range(1, 20)])
    target.close()
    assert [r["n"] for r in parse_all(read_lines(log_path))] == list(range(20))


def _queue_writer(path: str, writer: str, count: int) -> None:
    """A child process: queue ``count`` records through a rotating handler, then close."""
    front = make_queue_handler(handler(Path(path), maxBytes=60_000), maxsize=100)
    for seq in range(count):
        front.handle(record(seq, writer, pad=50))
    front.close()
    os._exit(0)


def test_batched_writers_in_processes_never_split_or_lose_a_line(log_path: Path) -> None:
    """Three processes in queue mode with rotation: every line whole JSON, each record exactly
    once and, per writer, in the order it was logged."""
    context = multiprocessing.get_context("fork")
    writers = [
        context.Process(target=_queue_writer, args=(str(log_path), f"p{n}", 1500)) for n in range(3)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
        assert process.exitcode == 0
    records = parse_all(read_lines(log_path))
    assert len(records) == 4500
    for n in range(3):
        assert [r["n"] for r in records if r["w"] == f"p{n}"] == list(range(1500))


class Counting(GenerationLogHandler):
    """A file handler that records the size of each batch the writer hands it."""

    sizes: list[int]

    def handle_batch(self, records: Sequence[logging.LogRecord]) -> None:
        self.sizes.append(len(records))
        super().handle_batch(records)


def test_writer_hands_queued_records_over_in_batches(log_path: Path) -> None:
    """Records queued while the writer is busy reach the file handler as one batch, in order."""
    target = Counting(log_path)
    target.sizes = []
    front = make_queue_handler(target, maxsize=1000)
    with target._thread_lock:  # the writer blocks on its first batch while we queue more
        front.handle(record(0))
        while not target.sizes:
            time.sleep(0.01)
        for seq in range(1, 300):
            front.handle(record(seq))
    front.close()
    assert sum(target.sizes) == 300
    assert max(target.sizes) > 1
    assert [r["n"] for r in parse_all(read_lines(log_path))] == list(range(300))
