"""GenerationLogHandler across real processes: concurrent rotation, kill -9, EFBIG."""

from __future__ import annotations

import collections
import gzip
import json
import logging
import multiprocessing
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from helpers_sink import finish, parse_all, read_lines, run_child
from pythonjsonlogger.json import JsonFormatter

from dihya_logging import GenerationLogHandler
from dihya_logging._logset import LogSet

WRITERS = 4


def run_writers(log_path: Path, count: int, options: dict[str, Any], pad: int = 60) -> None:
    """Run WRITERS processes logging ``count`` tagged events each, all at once."""
    children = [
        run_child(
            "write",
            {
                "path": str(log_path),
                "options": options,
                "writer": f"w{n}",
                "count": count,
                "pad": pad,
            },
        )
        for n in range(WRITERS)
    ]
    for child in children:
        report = finish(child)
        assert report["written"] == count
        assert "Traceback" not in report["stderr"], report["stderr"]


def check_complete(log_path: Path, count: int) -> list[dict[str, Any]]:
    """Every event exactly once, every line whole JSON, each writer's events in order."""
    records = parse_all(read_lines(log_path))
    seen = collections.Counter((r["writer"], r["seq"]) for r in records)
    assert len(seen) == WRITERS * count, "events lost"
    assert max(seen.values()) == 1, "events duplicated"
    for n in range(WRITERS):
        seqs = [r["seq"] for r in records if r["writer"] == f"w{n}"]
        assert seqs == list(range(count)), "a writer's events are out of order across files"
    return records


def backup_sizes(log_path: Path) -> list[int]:
    """Uncompressed sizes of the backups."""
    return [
        len(gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes())
        for _, p in LogSet(log_path).rotated()
    ]


@pytest.mark.slow
def test_concurrent_writers_with_rotation_lose_nothing(log_path: Path) -> None:
    """4 processes x 3000 events, rotating every 30 kB: each event once, whole, in order."""
    max_bytes = 30_000
    run_writers(log_path, 3000, {"maxBytes": max_bytes, "fsync": "never"})
    records = check_complete(log_path, 3000)
    longest = max(len(json.dumps(r)) for r in records) + 2
    sizes = backup_sizes(log_path)
    assert len(sizes) > 20
    for size in sizes:  # exactly one rotation per crossing: no empty nor half-empty backup
        assert max_bytes - longest < size <= max_bytes


@pytest.mark.slow
def test_concurrent_writers_with_compression_lose_nothing(log_path: Path) -> None:
    """Same with compress=True: backups are complete gzip files, nothing lost or doubled."""
    run_writers(log_path, 1500, {"maxBytes": 20_000, "compress": True})
    check_complete(log_path, 1500)
    backups = [p for _, p in LogSet(log_path).rotated()]
    assert backups
    assert all(p.name.endswith(".gz") for p in backups)
    assert not LogSet(log_path).stale_temp_files()


def test_kill_9_leaves_only_whole_lines_and_a_fresh_start(log_path: Path) -> None:
    """SIGKILL mid-stream: every line but maybe the last is JSON; the next writer starts clean."""
    child = run_child("write", {"path": str(log_path), "count": -1, "pad": 2000})
    deadline = time.monotonic() + 30
    while (
        not log_path.exists() or log_path.stat().st_size < 400_000
    ) and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    lines = read_lines(log_path)
    assert len(lines) > 100
    whole = lines if lines[-1].endswith(b"\n") else lines[:-1]
    parse_all(whole)
    report = finish(run_child("write", {"path": str(log_path), "writer": "after", "count": 50}))
    assert report["written"] == 50
    after = read_lines(log_path)[len(whole) :]
    fragment = [] if lines[-1].endswith(b"\n") else [after.pop(0)]
    assert fragment == ([] if lines[-1].endswith(b"\n") else [lines[-1] + b"\n"])
    assert [r["seq"] for r in parse_all(after)] == list(range(50))


def test_file_size_limit_is_reported_and_recovered(log_path: Path) -> None:
    """RLIMIT_FSIZE (EFBIG): handleError is called, the process lives, no fragment, recovery."""
    report = finish(run_child("efbig", {"path": str(log_path)}))
    assert len(report["failures"]) == 5
    assert all("File too large" in failure for failure in report["failures"])
    assert report["size_blocked"] == report["size_before"]  # the partial line was cut off
    records = parse_all(read_lines(log_path))
    assert [(r["message"], r["seq"]) for r in records] == [
        *[("before", n) for n in range(10)],
        *[("after", n) for n in range(5)],
    ]


def test_handler_opened_before_fork_still_excludes(log_path: Path) -> None:
    """A handler in use before fork(): parent and child lock separately and lose nothing."""
    handler = GenerationLogHandler(log_path, maxBytes=4000, fsync="never")
    handler.setFormatter(JsonFormatter())

    def log(writer: str, seq: int) -> None:
        handler.handle(logging.makeLogRecord({"msg": "e", "writer": writer, "seq": seq}))

    log("w0", -1)  # descriptors and lock are open when the process forks
    child = multiprocessing.get_context("fork").Process(
        target=lambda: [log("w1", seq) for seq in range(-1, 1500)]
    )
    child.start()
    for seq in range(1500):
        log("w0", seq)
    child.join(60)
    handler.close()
    assert child.exitcode == 0
    records = parse_all(read_lines(log_path))
    seen = collections.Counter((r["writer"], r["seq"]) for r in records)
    assert set(seen) == {(w, s) for w in ("w0", "w1") for s in range(-1, 1500)}
    assert max(seen.values()) == 1
    assert all(2000 < size <= 4000 for size in backup_sizes(log_path))
