"""The asyncio pattern of the README: queue mode keeps the event loop off the disk."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import dihya_logging as dl
from tests.helpers_examples import read_log

EVENTS = 100
SLOW_DISK = 0.005
"""Seconds the writer spends per record in the test (a slow disk, simulated by a filter)."""


def test_queue_mode_writes_off_the_event_loop_and_loses_nothing(log_path: Path) -> None:
    """With configure(queue=True) the loop's thread never writes, a slow disk does not slow the
    loop down, and closing the handler (as logging.shutdown does) writes every event once."""
    file_handler = dl.configure(log_path, queue=True)
    writers: set[int] = set()

    def slow_disk(record: logging.LogRecord) -> bool:
        writers.add(threading.get_ident())
        time.sleep(SLOW_DISK)
        return True

    file_handler.addFilter(slow_disk)

    async def generate(number: int) -> None:
        await asyncio.sleep(0)
        dl.log_generation_event(f"user_{number}", {"project_name": "Async"}, ["main.py"])

    async def main() -> tuple[int, float]:
        started = time.perf_counter()
        await asyncio.gather(*(generate(n) for n in range(EVENTS)))
        return threading.get_ident(), time.perf_counter() - started

    loop_thread, loop_seconds = asyncio.run(main())
    assert loop_seconds < EVENTS * SLOW_DISK / 2, f"the loop waited {loop_seconds:.3f} s"
    (front,) = [h for h in logging.getLogger(dl.LOGGER_NAME).handlers if h is not file_handler]
    assert isinstance(front, dl.AuditQueueHandler)
    front.close()
    assert writers and loop_thread not in writers
    users = sorted(record["user_id"] for record in read_log(log_path))
    assert users == sorted(f"user_{n}" for n in range(EVENTS))
