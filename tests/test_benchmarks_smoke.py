"""Smoke tests for benchmarks/: the suite and the profiler still run against the current code.

They time nothing (speed is measured by `make bench`, never asserted here); they only catch a
benchmark that no longer runs after a change to the library's internals.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_suite_runs_and_checks_its_output() -> None:
    """A tiny run of the dihya contenders (sync and queue) writes every line and no secret."""
    out = _run(
        "benchmarks", "--only", "dihya", "--only", "dihya-queue", "--only", "pjl-json",
        "--events", "300", "--repeats", "1", "--no-json",
    )  # fmt: skip
    assert "| 7 | dihya: log_generation_event" in out and "| 7q |" in out
    assert "| dihya: no secret written | 0 hits | PASS |" in out
    assert "| queue mode drops nothing | lines per repeat 300..300 of 300 | PASS |" in out


def test_the_profiler_runs_every_stage() -> None:
    """The stage timings and the cProfile table are produced for the current event path."""
    out = _run("benchmarks.profiling", "--events", "300", "--calls", "300")
    for stage in ("whole call", "validation + redaction", "LogRecord creation", "proves the mark"):
        assert stage in out
    assert "### cProfile" in out


def test_the_side_by_side_check_runs() -> None:
    """Bar 6 side by side in one process: one row per contender, with both ratios."""
    out = _run("benchmarks.bench_sidebyside", "--rounds", "2", "--batch", "20")
    for key in ("pjl-json", "pjl-orjson", "dihya", "dihya-formatter"):
        assert f"| {key} |" in out
