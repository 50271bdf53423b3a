"""Tests for events._records: `new_record` builds exactly the record the stock class would."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from dihya_logging.events import _records as records
from dihya_logging.events._records import SOURCE_PATH, new_record

TIME_FIELDS = ("created", "msecs", "relativeCreated")
FLAGS = tuple(
    name
    for name in ("logThreads", "logProcesses", "logMultiprocessing", "logAsyncioTasks")
    if hasattr(logging, name)
)


@pytest.fixture(autouse=True)
def _logging_globals() -> Iterator[None]:
    """Restore every global `new_record` depends on: flags, factory, level names, names."""
    flags = {name: getattr(logging, name) for name in FLAGS}
    factory = logging.getLogRecordFactory()
    to_name = dict(logging._levelToName)
    to_level = dict(logging._nameToLevel)
    thread, process = threading.current_thread(), multiprocessing.current_process()
    thread_name, process_name = thread.name, process.name
    yield
    for name, value in flags.items():
        setattr(logging, name, value)
    logging.setLogRecordFactory(factory)
    logging._levelToName.clear()
    logging._levelToName.update(to_name)
    logging._nameToLevel.clear()
    logging._nameToLevel.update(to_level)
    thread.name, process.name = thread_name, process_name


def real(name: str, level: int, msg: str) -> logging.LogRecord:
    """The reference: what the stock LogRecord builds for an event."""
    return logging.LogRecord(name, level, SOURCE_PATH, 0, msg, (), None, None, None)


def stock_msecs_are_whole() -> bool:
    """Whether this Python's LogRecord truncates msecs to whole ms (gh-89047; not 3.9)."""
    return all(real("x", logging.INFO, "m").msecs.is_integer() for _ in range(5))


def mismatches(record: logging.LogRecord, reference: logging.LogRecord) -> list[str]:
    """Human-readable differences (names, order, values but the time fields)."""
    mine, theirs = vars(record), vars(reference)
    if list(mine) != list(theirs):
        return [f"attributes {list(mine)} != {list(theirs)}"]
    return [
        f"{key}: {mine[key]!r} != {theirs[key]!r}"
        for key in mine
        if key not in TIME_FIELDS
        and (mine[key] != theirs[key] or type(mine[key]) is not type(theirs[key]))
    ]


def time_problems(record: logging.LogRecord, before: float, after: float) -> list[str]:
    """What is wrong with the time fields: types, closeness to now, mutual consistency."""
    created, msecs, relative = record.created, record.msecs, record.relativeCreated
    problems = [f"{k} is not a float" for k in TIME_FIELDS if type(getattr(record, k)) is not float]
    if not before - 1.0 <= created <= after + 1.0:  # a clock step must not fail the test
        problems.append(f"created {created} not within [{before}, {after}]")
    fraction_ms = (created - int(created)) * 1000
    if not (
        -0.01 <= fraction_ms - msecs < 1.01 and msecs == int(msecs)
        if stock_msecs_are_whole()
        else abs(fraction_ms - msecs) < 0.01
    ):
        problems.append(f"msecs {msecs} does not match created {created}")
    start = logging._startTime  # type: ignore[attr-defined]
    expected = (
        (created * 1e9 - start) / 1e6 if sys.version_info >= (3, 13) else ((created - start) * 1000)
    )
    if abs(relative - expected) > 1.0:
        problems.append(f"relativeCreated {relative} != {expected}")
    return problems


def check(
    name: str = "dihya.generation", level: int = logging.INFO, msg: str = "generation"
) -> list[str]:
    """Build a record and its reference here and now; return every difference."""
    before = time.time()
    record = new_record(name, level, msg)
    after = time.time()
    return mismatches(record, real(name, level, msg)) + time_problems(record, before, after)


def test_the_template_path_is_the_one_tested() -> None:
    """On this Python the per-thread template is in use (else these tests would test nothing)."""
    assert check() == []
    assert records._fast is True
    assert threading.get_ident() in records._templates


def test_main_thread_records_match_the_stock_record() -> None:
    """First and later records (template reused) equal LogRecord's, names and messages varying."""
    for name, msg in (("a", "generation"), ("b.c", "export"), ("a", "purge"), ("", "")):
        assert check(name, logging.INFO, msg) == []


@pytest.mark.parametrize("level", [logging.DEBUG, logging.WARNING, logging.ERROR, 50, 0, 5, 25])
def test_each_level_gets_its_number_and_name(level: int) -> None:
    """levelno and levelname follow the level asked, not the template's (made at INFO)."""
    new_record("t.levels", logging.INFO, "first")
    record = new_record("t.levels", level, "m")
    assert (record.levelno, record.levelname) == (level, logging.getLevelName(level))
    assert check("t.levels", level, "m") == []


def test_a_level_renamed_after_first_use_is_followed() -> None:
    """addLevelName after the template exists: the new name is used, as LogRecord would."""
    assert check(level=logging.INFO) == []
    logging.addLevelName(logging.INFO, "X")
    assert new_record("t", logging.INFO, "m").levelname == "X"
    assert check(level=logging.INFO) == []


def test_other_threads_get_their_own_ids_and_current_names() -> None:
    """In another thread, renamed at run time, the record names that thread and its new name."""
    found: dict[str, Any] = {}

    def work() -> None:
        found["first"] = check()
        threading.current_thread().name = "renamed-worker"
        found["second"] = check()
        found["record"] = new_record("t", logging.INFO, "m")
        found["ident"] = threading.get_ident()

    assert check() == []  # a main-thread template exists and must not leak into the worker
    worker = threading.Thread(target=work, name="worker-1")
    worker.start()
    worker.join()
    assert found["first"] == [] and found["second"] == []
    assert found["record"].threadName == "renamed-worker"
    assert found["record"].thread == found["ident"] != threading.get_ident()
    threading.current_thread().name = "renamed-main"
    assert new_record("t", logging.INFO, "m").threadName == "renamed-main"


def test_a_renamed_process_is_followed() -> None:
    """multiprocessing.current_process().name changed after first use: processName follows."""
    assert check() == []
    multiprocessing.current_process().name = "renamed-process"
    assert new_record("t", logging.INFO, "m").processName == "renamed-process"
    assert check() == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_process_id() -> None:
    """After os.fork the child's records carry the child's pid, not the parent's template."""
    assert check() == []  # the parent's template exists before the fork
    parent = os.getpid()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        code = 1
        try:
            problems = check()
            if new_record("t", logging.INFO, "m").process != os.getpid():
                problems.append("process is not the child's pid")
            os.write(write_end, "\n".join(problems).encode() or b"ok")
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert report == "ok"
    assert new_record("t", logging.INFO, "m").process == parent


def test_inside_a_running_asyncio_task() -> None:
    """In a task the record is the stock one; on 3.12+ it names the task (taskName)."""
    assert check() == []  # a template from outside any task exists

    async def main() -> tuple[list[str], logging.LogRecord]:
        task = asyncio.current_task()
        assert task is not None
        task.set_name("generation-task")
        return check(), new_record("t", logging.INFO, "m")

    problems, record = asyncio.run(main())
    assert problems == []
    if sys.version_info >= (3, 12):
        assert record.taskName == "generation-task"  # type: ignore[attr-defined]
    else:
        assert "taskName" not in vars(record)


@pytest.mark.parametrize("flag", FLAGS)
def test_a_logging_flag_turned_off_is_honoured(flag: str) -> None:
    """logThreads/logProcesses/logMultiprocessing(/logAsyncioTasks) off: same as LogRecord."""
    assert check() == []
    setattr(logging, flag, False)
    assert check() == []
    attribute = {
        "logThreads": "thread",
        "logProcesses": "process",
        "logMultiprocessing": "processName",
        "logAsyncioTasks": "taskName",
    }[flag]
    assert getattr(new_record("t", logging.INFO, "m"), attribute) is None


def test_a_custom_record_factory_is_used() -> None:
    """setLogRecordFactory: new_record calls it with the stock arguments and returns its record."""
    calls: list[tuple[Any, ...]] = []
    stock: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        calls.append(args)
        record = stock(*args, **kwargs)
        record.tagged = "by-factory"
        return record

    new_record("t", logging.INFO, "m")  # a template exists and must not be used
    logging.setLogRecordFactory(factory)
    record = new_record("t.factory", logging.WARNING, "event")
    assert record.tagged == "by-factory"  # type: ignore[attr-defined]
    assert calls == [("t.factory", logging.WARNING, SOURCE_PATH, 0, "event", (), None, None, None)]


def test_records_do_not_share_state() -> None:
    """Each record is a fresh object: what a handler sets on one never shows on the next."""
    first = new_record("t", logging.INFO, "m")
    first.added = "x"
    first.msg = "changed"
    second = new_record("t", logging.INFO, "m")
    assert second is not first
    assert "added" not in vars(second) and second.msg == "m"
    assert check("t", logging.INFO, "m") == []


def test_this_python_runs_a_known_clock() -> None:
    """The stock LogRecord's time code is one of the variants new_record reproduces."""
    assert records._clock_variant() in ("float", "int", "ns")


def test_an_unreadable_logging_source_turns_the_template_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the stdlib's source to read the clock from, records come from the real class."""
    import inspect

    def unreadable(_obj: object) -> str:
        raise OSError("no source")

    monkeypatch.setattr(inspect, "getsource", unreadable)
    monkeypatch.setattr(records, "_fast", None)
    monkeypatch.setattr(records, "_CLOCK", None)
    made = records.new_record("dihya.test", logging.INFO, "m")
    assert records._fast is False
    assert mismatches(made, real("dihya.test", logging.INFO, "m")) == []
