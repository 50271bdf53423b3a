"""Rotation policy: time periods agreed by all writers, compression, retention, drop-in configs."""

from __future__ import annotations

import calendar
import datetime
import gzip
import logging
import logging.config
import logging.handlers
import os
import time
from pathlib import Path
from typing import Any

import pytest
import time_machine
from helpers_sink import finish, parse_all, read_lines, run_child
from pythonjsonlogger.json import JsonFormatter

from dihya_logging import GenerationLogHandler
from dihya_logging._logset import LogSet


def record(seq: int) -> logging.LogRecord:
    """An INFO record carrying ``seq``."""
    return logging.makeLogRecord({"msg": "event", "levelno": 20, "levelname": "INFO", "seq": seq})


def handler_on(path: Path, **options: Any) -> GenerationLogHandler:
    """A handler with a JSON formatter."""
    handler = GenerationLogHandler(path, **options)
    handler.setFormatter(JsonFormatter())
    return handler


@pytest.mark.parametrize(
    ("when", "at", "expected"),
    [
        ("H", None, (2026, 11, 25, 14, 0, 0)),  # on the hour, not an hour after the start
        ("midnight", None, (2026, 11, 26, 0, 0, 0)),
        ("midnight", datetime.time(12, 0), (2026, 11, 26, 12, 0, 0)),  # 13:45 is past noon
        ("W0", None, (2026, 12, 1, 0, 0, 0)),  # the midnight ending Monday, as the stdlib
        ("W2", datetime.time(15, 0), (2026, 11, 25, 15, 0, 0)),  # later today (Wednesday)
        ("W2", datetime.time(9, 0), (2026, 12, 2, 9, 0, 0)),  # today's time has passed
    ],
)
def test_compute_rollover_is_utc_and_agreed(
    log_path: Path, when: str, at: Any, expected: tuple[int, ...]
) -> None:
    """computeRollover gives the UTC boundary the stdlib gives for midnight/weekly (atTime
    included) and whole units since the epoch for S/M/H/D."""
    moment = calendar.timegm((2026, 11, 25, 13, 45, 10))  # a Wednesday
    handler = GenerationLogHandler(log_path, when=when, atTime=at, utc=True, delay=True)
    stdlib = logging.handlers.TimedRotatingFileHandler(
        log_path.with_name("stdlib.log"), when=when, utc=True, atTime=at, delay=True
    )
    try:
        assert handler.computeRollover(moment) == calendar.timegm(expected)
        if when != "H":  # the stdlib counts hours from the start; midnights and weeks agree
            assert handler.computeRollover(moment) == stdlib.computeRollover(moment)
    finally:
        handler.close()
        stdlib.close()


def test_local_time_rotation_is_refused(log_path: Path) -> None:
    """utc=False is refused with a message that says why (every process must agree)."""
    with pytest.raises(ValueError, match="UTC only"):
        GenerationLogHandler(log_path, when="midnight", utc=False, delay=True)


def test_writers_agree_on_exactly_one_time_rotation(log_path: Path) -> None:
    """Two writers crossing period boundaries rotate once per period, never twice."""
    with time_machine.travel(1_000_000.2, tick=False) as clock:
        one, two = (
            handler_on(log_path, when="S", interval=10),
            handler_on(log_path, when="S", interval=10),
        )
        try:
            seq = 0
            for _period in range(4):
                for _ in range(6):
                    (one if seq % 2 else two).handle(record(seq))
                    seq += 1
                    clock.shift(1.0)  # 6 records per 10 s period, alternating writers
                clock.shift(4.0)
        finally:
            one.close()
            two.close()
    files = LogSet(log_path).files()
    per_file = [[r["seq"] for r in parse_all(p.read_bytes().splitlines(True))] for p in files]
    assert per_file == [list(range(n, n + 6)) for n in range(0, 24, 6)]


def test_time_rotation_with_real_clock_across_processes(log_path: Path) -> None:
    """when="S": two processes writing for 2.5 s rotate every second, lose and double nothing."""
    options = {"when": "S", "interval": 1, "fsync": "never"}
    children = [
        run_child(
            "write",
            {
                "path": str(log_path),
                "options": options,
                "writer": w,
                "seconds": 2.5,
                "pause": 0.002,
            },
        )
        for w in ("a", "b")
    ]
    written = {w: finish(child)["written"] for w, child in zip("ab", children)}
    records = parse_all(read_lines(log_path))
    for writer, count in written.items():
        assert [r["seq"] for r in records if r["writer"] == writer] == list(range(count))
    backups = LogSet(log_path).rotated()
    assert 2 <= len(backups) <= 4
    assert all(path.stat().st_size > 0 for _, path in backups)


def test_compressed_backups_are_gzip_and_complete(log_path: Path) -> None:
    """compress=True: backups are named .N.gz, gunzip to whole lines, and no temp is left."""
    handler = handler_on(log_path, maxBytes=400, compress=True)
    try:
        for seq in range(60):
            handler.handle(record(seq))
    finally:
        handler.close()
    log_set = LogSet(log_path)
    names = [path.name for _, path in log_set.rotated()]
    assert names == [f"generation.log.{n}.gz" for n in range(1, len(names) + 1)]
    assert len(names) >= 3
    first = gzip.decompress(log_set.rotated_path(len(names), compressed=True).read_bytes())
    assert parse_all(first.splitlines(True))[0]["seq"] == 0
    assert [r["seq"] for r in parse_all(read_lines(log_path))] == list(range(60))
    assert not log_set.stale_temp_files()


def test_backup_count_prunes_the_oldest(log_path: Path) -> None:
    """backupCount=3 keeps the three newest backups, the newest as .1."""
    handler = handler_on(log_path, maxBytes=400, backupCount=3)
    try:
        for seq in range(100):
            handler.handle(record(seq))
    finally:
        handler.close()
    assert [index for index, _ in LogSet(log_path).rotated()] == [1, 2, 3]
    seqs = [r["seq"] for r in parse_all(read_lines(log_path))]
    assert seqs == list(range(seqs[0], 100))
    assert seqs[0] > 0


def test_retention_days_removes_old_backups(log_path: Path) -> None:
    """Backups whose newest record is older than retention_days go at the next rotation."""
    handler = handler_on(log_path, maxBytes=400)
    for seq in range(40):
        handler.handle(record(seq))
    handler.close()
    log_set = LogSet(log_path)
    backups = log_set.rotated()
    old = time.time() - 40 * 86400
    for _, path in backups[2:]:
        os.utime(path, (old, old))
    survivors = [path.read_bytes() for _, path in backups[:2]]
    handler = handler_on(log_path, maxBytes=400, retention_days=30)
    try:
        for seq in range(40, 50):
            handler.handle(record(seq))
    finally:
        handler.close()
    kept = [path.read_bytes() for _, path in log_set.rotated()]
    assert all(content in kept for content in survivors)
    assert len(kept) < len(backups) + 2
    assert all(path.stat().st_mtime > old + 86400 for _, path in log_set.rotated())


def test_drop_in_through_dict_config(log_path: Path) -> None:
    """Swapping the class in a dictConfig keeps RotatingFileHandler's keys working."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": "pythonjsonlogger.json.JsonFormatter"}},
            "handlers": {
                "file": {
                    "class": "dihya_logging.GenerationLogHandler",
                    "formatter": "json",
                    "filename": str(log_path),
                    "maxBytes": 500,
                    "backupCount": 50,
                    "compress": True,
                }
            },
            "loggers": {"dropin.dict": {"level": "INFO", "handlers": ["file"]}},
        }
    )
    logger = logging.getLogger("dropin.dict")
    try:
        for seq in range(30):
            logger.info("event", extra={"seq": seq})
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    assert [r["seq"] for r in parse_all(read_lines(log_path))] == list(range(30))
    assert LogSet(log_path).rotated()


def test_drop_in_through_file_config(log_path: Path, tmp_path: Path) -> None:
    """A logging.ini with ``args=(path, 'a', maxBytes, backupCount)`` works unchanged."""
    ini = tmp_path / "logging.ini"
    ini.write_text(
        "[loggers]\nkeys=root,dropin\n\n[handlers]\nkeys=file\n\n[formatters]\nkeys=json\n\n"
        "[logger_root]\nlevel=WARNING\nhandlers=\n\n"
        "[logger_dropin]\nlevel=INFO\nhandlers=file\nqualname=dropin.ini\npropagate=0\n\n"
        "[handler_file]\nclass=dihya_logging.GenerationLogHandler\nformatter=json\n"
        f"args=({str(log_path)!r}, 'a', 500, 5)\n\n"
        "[formatter_json]\nclass=pythonjsonlogger.json.JsonFormatter\n"
    )
    log_path.parent.mkdir()
    logging.config.fileConfig(ini, disable_existing_loggers=False)
    logger = logging.getLogger("dropin.ini")
    try:
        (handler,) = logger.handlers
        assert isinstance(handler, GenerationLogHandler)
        assert (handler.maxBytes, handler.backupCount) == (500, 5)
        for seq in range(10):
            logger.info("event", extra={"seq": seq})
    finally:
        for attached in list(logger.handlers):
            logger.removeHandler(attached)
            attached.close()
    assert [r["seq"] for r in parse_all(read_lines(log_path))] == list(range(10))


@pytest.mark.parametrize("options", [{}, {"compress": True}, {"backupCount": 3}])
def test_chain_hooks_keep_the_chain_verifiable(log_path: Path, options: dict[str, Any]) -> None:
    """chain=True: two writers, rotations, gzip and pruning still leave a log that verifies."""
    from dihya_logging import verify_generation_logs

    writers = [
        handler_on(log_path, maxBytes=1500, chain=True, chain_key="k", **options) for _ in "ab"
    ]
    try:
        for seq in range(100):
            writers[seq % 2].handle(record(seq))
    finally:
        for writer in writers:
            writer.close()
    assert len(LogSet(log_path).rotated()) >= 3
    report = verify_generation_logs(log_path, key="k")
    assert report.ok, report.problems
