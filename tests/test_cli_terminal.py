"""`dihya-logs` on a real terminal (a pty): progress lines and the purge confirmation prompt."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import pytest
from helpers_export import read_jsonl, run_cli, sample_records, write_rotated_log


def run_on_terminal(
    args: list[str], env: dict[str, str], *, answer: Optional[bytes] = None
) -> tuple[int, str]:
    """Run the CLI with stdin, stdout and stderr on a pty; type ``answer`` at the prompt."""
    main, child_end = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "dihya_logging", *args],
        stdin=child_end, stdout=child_end, stderr=child_end, env=env, start_new_session=True,
    )  # fmt: skip
    os.close(child_end)
    output = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                if answer is not None and b"Type 'yes'" in output:
                    os.write(main, answer)
                    answer = None
            elif child.poll() is not None:
                break
        return child.wait(30), output.decode("utf-8", "replace")
    finally:
        os.close(main)
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.fixture
def log(log_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A rotated log set and its records."""
    records = sample_records(3000)
    write_rotated_log(log_path, records)
    return log_path, records


def test_export_shows_progress_on_a_terminal(
    log: tuple[Path, Any], tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """On a terminal the export draws a progress line, then erases it before the summary."""
    log_path, records = log
    destination = tmp_path / "all.csv"
    status, screen = run_on_terminal(
        ["export", str(destination), "--file", str(log_path)], subprocess_env
    )
    assert status == 0, screen
    assert "exporting… " in screen
    assert "100% of " in screen
    assert f"{len(records):,} records" in screen
    assert "\r\x1b[K" in screen
    assert screen.rstrip().endswith(f"exported {len(records)} records to {destination}")


def test_purge_asks_on_a_terminal_and_proceeds_on_yes(
    log: tuple[Path, list[dict[str, Any]]], subprocess_env: dict[str, str]
) -> None:
    """Without --yes on a terminal, purge asks stating the count; yes purges (with progress)."""
    log_path, records = log
    status, screen = run_on_terminal(
        ["purge", "--user", "user_1", "--file", str(log_path)], subprocess_env, answer=b"yes\n"
    )
    assert status == 0, screen
    expected = sum(1 for r in records if r["user_id"] == "user_1")
    assert f"permanently remove {expected:,} records of user 'user_1'" in screen
    assert "purging… " in screen
    assert f"removed {expected} records" in screen
    left = run_cli("query", "--json", "--user", "user_1", "--file", str(log_path),
                   env=subprocess_env)  # fmt: skip
    assert left.stdout == ""


def test_purge_cancelled_unless_yes_is_typed(
    log: tuple[Path, Any], subprocess_env: dict[str, str]
) -> None:
    """Any answer but 'yes' cancels: exit 1, one error line, the log untouched."""
    log_path, records = log

    def contents() -> dict[str, bytes]:  # counting may create the lock file, nothing else
        return {p.name: p.read_bytes() for p in log_path.parent.iterdir() if p.suffix != ".lock"}

    before = contents()
    status, screen = run_on_terminal(
        ["purge", "--before", "2026-03-10", "--file", str(log_path)], subprocess_env, answer=b"y\n"
    )
    assert status == 1
    older = sum(1 for r in records if r["timestamp"] < "2026-03-10")
    assert 0 < older < len(records)
    assert f"remove {older:,} records dated before 2026-03-10T00:00:00Z in " in screen
    assert screen.rstrip().endswith("dihya-logs: error: purge cancelled")
    assert "Traceback" not in screen
    assert contents() == before


def test_no_progress_when_stderr_is_not_a_terminal(
    log: tuple[Path, Any], tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """Piped stderr gets no progress line: scripts see only the summary."""
    log_path, records = log
    result = run_cli("export", str(tmp_path / "x.jsonl"), "--file", str(log_path),
                     env=subprocess_env)  # fmt: skip
    assert result.returncode == 0
    assert result.stderr == ""
    assert len(read_jsonl(tmp_path / "x.jsonl")) == len(records)


def test_query_on_a_terminal_shows_the_newest_hundred_and_says_so(
    log: tuple[Path, list[dict[str, Any]]], subprocess_env: dict[str, str]
) -> None:
    """No --limit on a terminal: the newest 100 rows and a note; --limit 0 shows them all."""
    log_path, records = log
    status, screen = run_on_terminal(["query", "--file", str(log_path)], subprocess_env)
    assert status == 0, screen
    rows = [text for text in screen.splitlines() if text.startswith("2026-")]
    assert len(rows) == 100
    assert rows[-1].startswith(records[-1]["timestamp"])
    assert "showing the newest 100 records (--limit N for more, 0 for all)" in screen
    status, screen = run_on_terminal(["query", "--limit", "0", "--file", str(log_path)],
                                     subprocess_env)  # fmt: skip
    assert sum(text.startswith("2026-") for text in screen.splitlines()) == len(records)
    assert "showing the newest" not in screen


def test_tail_prints_a_table_on_a_terminal_and_json_when_asked(
    log: tuple[Path, list[dict[str, Any]]], subprocess_env: dict[str, str]
) -> None:
    """tail on a terminal: a header and aligned rows; --json: JSON lines even there."""
    log_path, records = log
    status, screen = run_on_terminal(["tail", "-n", "3", "--file", str(log_path)], subprocess_env)
    assert status == 0, screen
    lines = screen.splitlines()
    assert lines[0].split() == ["time", "event", "user", "project", "stack", "status", "files",
                                "error"]  # fmt: skip
    assert [text[:24] for text in lines[1:4]] == [r["timestamp"] for r in records[-3:]]
    status, screen = run_on_terminal(
        ["tail", "-n", "3", "--json", "--file", str(log_path)], subprocess_env
    )
    assert [json.loads(text)["timestamp"] for text in screen.splitlines()] == [
        r["timestamp"] for r in records[-3:]
    ]
