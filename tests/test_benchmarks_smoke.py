"""Smoke tests for benchmarks/: the suite and the profiler still run against the current code.

They time nothing (speed is measured by `make bench`, never asserted here); they only catch a
benchmark that no longer runs after a change to the library's internals.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pg_server import pg_dsn_fixture, pg_server_fixture  # noqa: F401

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


@pytest.mark.postgres
def test_the_postgres_benchmark_runs_every_part(pg_dsn: str, tmp_path: Path) -> None:
    """A tiny bench_postgres run counts every writer's records back, reads a user's history
    and purges January with the exact count (1,699 of 20,000 rows spread over 12 months)."""
    figures_path = tmp_path / "figures.json"
    _run(
        "benchmarks.bench_postgres", "--dsn", pg_dsn, "--rows", "20000", "--users", "50",
        "--events", "50", "--rounds", "1", "--queries", "2", "--json", str(figures_path),
    )  # fmt: skip
    figures = json.loads(figures_path.read_text())
    assert [row["sink"] for row in figures["writers"]] == ["file", "postgres", "postgres+chain"]
    assert all(row["lost"] == 0 and row["duplicated"] == 0 for row in figures["writers"])
    assert figures["user_query"]["history_rows"] == 400
    assert figures["retention"]["rows"] == 1699


@pytest.mark.postgres
@pytest.mark.parametrize("layout", [(), ("--plain",)], ids=["partitioned", "plain"])
def test_the_stats_benchmark_agrees_with_streaming(pg_dsn: str, layout: tuple[str, ...]) -> None:
    """A tiny bench_pgstats run fills the table, runs the CLI, and finds the database's figures
    equal to those counted from every streamed record (it fails otherwise)."""
    out = _run("benchmarks.bench_pgstats", "--dsn", pg_dsn, "--rows", "5000", *layout)
    for figure in ("cli_stats_json", "cli_report_html", "streamed_in_python", "computed_in_sql"):
        assert figure in out
