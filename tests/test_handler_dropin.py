"""GenerationLogHandler as a stdlib rotating handler: namer, rotator, doRollover, stream, ..."""

from __future__ import annotations

import fcntl
import gzip
import json
import logging
import logging.config
import logging.handlers
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from helpers_sink import parse_all

from dihya_logging import GenerationLogHandler

Factory = Callable[..., GenerationLogHandler]


@pytest.fixture
def make(log_path: Path) -> Iterator[Factory]:
    """Build plain-text handlers (``%(message)s``) on ``log_path``; all closed after the test."""
    made: list[GenerationLogHandler] = []

    def factory(cls: type[GenerationLogHandler] = GenerationLogHandler, **kwargs: Any) -> Any:
        handler = cls(log_path, **kwargs)
        handler.setFormatter(logging.Formatter("%(message)s"))
        made.append(handler)
        return handler

    yield factory
    for handler in made:
        handler.close()


def record(msg: str) -> logging.LogRecord:
    """A record whose message is ``msg``."""
    return logging.makeLogRecord({"msg": msg, "levelno": 20, "levelname": "INFO"})


def lock_is_held(log_path: Path) -> bool:
    """Whether someone holds the log set's cross-process lock (tried from a new descriptor)."""
    fd = os.open(f"{log_path}.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_is_a_stdlib_rotating_file_handler(make: Factory, log_path: Path) -> None:
    """isinstance checks hold and the stdlib's attributes have their stdlib meaning."""
    handler = make(maxBytes=100, backupCount=2)
    assert isinstance(handler, logging.FileHandler)
    assert isinstance(handler, logging.handlers.BaseRotatingHandler)
    assert handler.baseFilename == str(log_path)
    assert handler.rotation_filename(f"{log_path}.1") == f"{log_path}.1"
    assert handler.terminator == "\n"


def test_stream_is_the_live_file(make: Factory, log_path: Path) -> None:
    """``stream`` is None until the file is opened (delay), then a view of the live file."""
    handler = make(delay=True)
    assert handler.stream is None
    assert not log_path.exists()
    handler.handle(record("one"))
    stream = handler.stream
    assert stream is not None and not stream.closed and stream.name == str(log_path)
    assert os.fstat(stream.fileno()).st_ino == log_path.stat().st_ino
    handler.flush()
    handler.close()
    assert handler.stream is None
    assert log_path.read_text() == "one\n"


def test_stream_cannot_be_replaced(make: Factory) -> None:
    """setStream (records always go to the handler's own file) is refused with a clear error."""
    handler = make()
    with pytest.raises(ValueError, match="its own file"):
        handler.setStream(sys.stderr)


def test_size_rotation_happens_where_the_stdlibs_does(make: Factory, log_path: Path) -> None:
    """A file rotates before the line that would bring it to maxBytes, never when empty."""
    handler = make(maxBytes=8, backupCount=2)
    for msg in ("one", "two", "three", "four"):
        handler.handle(record(msg))
    assert log_path.read_text() == "four\n"
    assert Path(f"{log_path}.1").read_text() == "three\n"
    assert Path(f"{log_path}.2").read_text() == "two\n"
    assert not Path(f"{log_path}.3").exists()


def test_should_rollover_never_for_empty_or_special_files(make: Factory, log_path: Path) -> None:
    """shouldRollover is False with maxBytes=0, for an empty file and for a symlink."""
    assert make(maxBytes=0).shouldRollover(record("x")) is False
    small = make(maxBytes=3)
    assert small.shouldRollover(record("x")) is False  # empty
    small.handle(record("longer than maxBytes"))  # alone in an empty file: no empty backup
    assert not Path(f"{log_path}.1").exists()
    assert small.shouldRollover(record("x")) is True
    link = log_path.with_name("link.log")
    link.symlink_to(os.devnull)
    handler = GenerationLogHandler(link, maxBytes=1)
    try:
        assert handler.shouldRollover(record("x")) is False
    finally:
        handler.close()


def test_do_rollover_rotates_now(make: Factory, log_path: Path) -> None:
    """doRollover() moves the live file to .1 at once; later records start a new file."""
    handler = make(maxBytes=1000, backupCount=2)
    handler.handle(record("first"))
    handler.doRollover()
    handler.handle(record("second"))
    assert Path(f"{log_path}.1").read_text() == "first\n"
    assert log_path.read_text() == "second\n"


def test_do_rollover_by_another_handler_is_followed(make: Factory, log_path: Path) -> None:
    """A rotation made through another handler on the set is seen by this one's next record."""
    first, second = make(), make()
    first.handle(record("a"))
    second.doRollover()
    first.handle(record("b"))
    assert Path(f"{log_path}.1").read_text() == "a\n"
    assert log_path.read_text() == "b\n"


def test_namer_and_rotator_run_under_the_lock(make: Factory, log_path: Path) -> None:
    """namer/rotator attributes name and move the backups, while the set's lock is held."""
    calls: list[tuple[str, str, bool]] = []

    def rotator(source: str, dest: str) -> None:
        calls.append((source, dest, lock_is_held(log_path)))
        os.rename(source, dest)

    handler = make(maxBytes=6, backupCount=2)
    handler.namer = lambda name: name + ".old"
    handler.rotator = rotator
    for msg in ("one", "two", "three", "four"):
        handler.handle(record(msg))
    assert calls == [(str(log_path), f"{log_path}.1.old", True)] * 3
    assert Path(f"{log_path}.1.old").read_text() == "three\n"
    assert Path(f"{log_path}.2.old").read_text() == "two\n"
    assert not Path(f"{log_path}.3.old").exists()
    assert log_path.read_text() == "four\n"


def test_dictconfig_namer_through_dot(log_path: Path) -> None:
    """A namer set with dictConfig's ``"."`` properties names the backups."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {
                "file": {
                    "class": "dihya_logging.GenerationLogHandler",
                    "filename": str(log_path),
                    "maxBytes": 1,
                    "backupCount": 3,
                    ".": {"namer": renamed},
                }
            },
            "loggers": {"dropin.dot": {"handlers": ["file"], "propagate": False}},
        }
    )
    logger = logging.getLogger("dropin.dot")
    handler = logger.handlers[0]
    try:
        logger.warning("one")
        logger.warning("two")
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert json.loads(Path(f"{log_path}.1.renamed").read_text())["message"] == "one"


def test_compress_goes_through_rotate(make: Factory, log_path: Path) -> None:
    """With compress, rotate(source, dest) gets the ``.gz`` name; the default gzips into it."""
    seen: list[tuple[str, str]] = []

    class Watching(GenerationLogHandler):
        def rotate(self, source: str, dest: str) -> None:
            seen.append((source, dest))
            super().rotate(source, dest)

    handler = make(Watching, maxBytes=6, compress=True)
    for msg in ("one", "two", "three"):
        handler.handle(record(msg))
    assert seen == [(str(log_path), f"{log_path}.1.gz")] * 2
    assert gzip.decompress(Path(f"{log_path}.2.gz").read_bytes()) == b"one\n"
    assert gzip.decompress(Path(f"{log_path}.1.gz").read_bytes()) == b"two\n"


def test_a_user_rotator_replaces_compress(make: Factory, log_path: Path) -> None:
    """A rotator set with compress receives the ``.gz`` name and does the packing itself."""

    def rotator(source: str, dest: str) -> None:
        with open(source, "rb") as raw, gzip.open(dest, "wb", compresslevel=1) as packed:
            packed.write(raw.read().upper())
        os.remove(source)

    handler = make(maxBytes=6, compress=True)
    handler.rotator = rotator
    handler.handle(record("one"))
    handler.handle(record("two"))
    assert gzip.decompress(Path(f"{log_path}.1.gz").read_bytes()) == b"ONE\n"


def test_a_failing_rotator_loses_no_record(make: Factory, log_path: Path) -> None:
    """A rotator that raises is reported through handleError, and every record is still written."""

    def rotator(source: str, dest: str) -> None:
        raise OSError("backup volume is full")

    handler = make(maxBytes=6)
    handler.rotator = rotator
    errors: list[BaseException] = []
    handler.handleError = lambda r: errors.append(sys.exc_info()[1])  # type: ignore[assignment,misc]
    for msg in ("one", "two", "three"):
        handler.handle(record(msg))
    assert log_path.read_text() == "one\ntwo\nthree\n"
    assert [str(e) for e in errors] == ["backup volume is full"] * 2
    with pytest.raises(OSError, match="backup volume is full"):
        handler.doRollover()


def test_subclass_hooks_are_called(make: Factory, log_path: Path) -> None:
    """A subclass's shouldRollover decides too and its doRollover runs, with the lock held."""
    rolled: list[bool] = []

    class EveryThird(GenerationLogHandler):
        count = 0

        def shouldRollover(self, record: logging.LogRecord) -> bool:
            self.count += 1
            return self.count % 3 == 0

        def doRollover(self) -> None:
            rolled.append(lock_is_held(log_path))
            super().doRollover()

    handler = make(EveryThird)
    for n in range(7):
        handler.handle(record(str(n)))
    assert rolled == [True, True]
    assert Path(f"{log_path}.2").read_text() == "0\n1\n"
    assert Path(f"{log_path}.1").read_text() == "2\n3\n4\n"
    assert log_path.read_text() == "5\n6\n"


def test_terminator_is_honoured(make: Factory, log_path: Path) -> None:
    """A ``\\r\\n`` terminator ends each line; one that does not end a line is reported."""
    handler = make()
    handler.terminator = "\r\n"
    handler.handle(record("x"))
    errors: list[BaseException] = []
    handler.handleError = lambda r: errors.append(sys.exc_info()[1])  # type: ignore[assignment,misc]
    handler.terminator = " "
    handler.handle(record("y"))
    assert log_path.read_bytes() == b"x\r\n"
    assert [type(e) for e in errors] == [ValueError]


def test_chain_refuses_another_terminator(log_path: Path) -> None:
    """With the chain on, a terminator other than ``\\n`` is reported and nothing is written."""
    handler = GenerationLogHandler(log_path, chain=True)
    errors: list[BaseException] = []
    handler.handleError = lambda r: errors.append(sys.exc_info()[1])  # type: ignore[assignment,misc]
    handler.terminator = "\r\n"
    try:
        handler.handle(record("x"))
    finally:
        handler.close()
    assert [type(e) for e in errors] == [ValueError]
    assert log_path.read_bytes() == b""


def test_time_rotation_attributes_are_the_stdlibs(log_path: Path) -> None:
    """when/interval/utc/atTime read back as TimedRotatingFileHandler's (interval in seconds)."""
    handler = GenerationLogHandler(log_path, when="h", interval=2, utc=True, delay=True)
    try:
        assert (handler.when, handler.interval, handler.utc, handler.atTime) == (
            "H",
            7200,
            True,
            None,
        )
    finally:
        handler.close()


NAMED_WRITER = """
import logging, sys
from pythonjsonlogger.json import JsonFormatter
from dihya_logging import GenerationLogHandler
path, writer = sys.argv[1], sys.argv[2]
handler = GenerationLogHandler(path, maxBytes=3000, compress=True)
handler.namer = lambda name: name.replace(".log.", ".") + ".log"
handler.setFormatter(JsonFormatter())
logger = logging.getLogger("named")
logger.addHandler(handler)
logger.propagate = False
for seq in range(400):
    logger.warning("event", extra={"writer": writer, "seq": seq, "pad": "x" * 40})
handler.close()
"""


def test_writers_with_a_namer_lose_nothing(log_path: Path) -> None:
    """Four processes rotating through a namer and compress: every line once, none split."""
    log_path.parent.mkdir()
    children = [
        subprocess.Popen([sys.executable, "-c", NAMED_WRITER, str(log_path), str(n)])
        for n in range(4)
    ]
    assert [child.wait(120) for child in children] == [0] * 4
    backups = sorted(log_path.parent.glob("generation.*.gz.log"))
    assert len(backups) > 10
    lines = [
        line for path in backups for line in gzip.decompress(path.read_bytes()).splitlines(True)
    ]
    lines += log_path.read_bytes().splitlines(True)
    seen = sorted((r["writer"], r["seq"]) for r in parse_all(lines))
    assert seen == sorted((str(n), seq) for n in range(4) for seq in range(400))


def renamed(name: str) -> str:
    """A namer for the dictConfig test."""
    return name + ".renamed"
