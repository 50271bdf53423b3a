"""Celery (examples/celery_app.py): two real workers of two processes each, one log set."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers_examples import EXAMPLES, SECRETS, assert_no_secret, read_log

TASKS = 300
WORKERS = ("w1", "w2")
SEND = f"""
from celery_app import generate
for number in range({TASKS}):
    spec = {{"stack": "cobol" if number % 5 == 0 else "backend", "api_key": {SECRETS[0]!r}}}
    generate.delay(f"user_{{number % 3}}", spec, f"req-{{number}}")
"""


def records_when_done(log_file: Path, count: int, timeout: float = 120) -> list[dict[str, object]]:
    """The log's records once it holds ``count`` of them (or whatever it holds at the timeout)."""
    deadline = time.monotonic() + timeout
    records: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        records = read_log(log_file) if log_file.exists() else []
        if len(records) >= count:
            break
        time.sleep(0.2)
    return records


@pytest.mark.slow
def test_workers_log_every_task_exactly_once_into_one_log_set(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """Tasks spread over several forked pool processes of two workers each leave one event."""
    log_file = tmp_path / "logs" / "generation.log"
    env = {
        **subprocess_env,
        "PYTHONPATH": f"{EXAMPLES}:{subprocess_env['PYTHONPATH']}",
        "DIHYA_LOG_FILE": str(log_file),
        "CELERY_BROKER_DIR": str(tmp_path / "broker"),
    }
    worker = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--concurrency", "2"]
    workers = [
        subprocess.Popen(
            [*worker, "-n", f"{name}@%h"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in WORKERS
    ]
    try:
        subprocess.run([sys.executable, "-c", SEND], cwd=tmp_path, env=env, check=True)
        records = records_when_done(log_file, TASKS)
        time.sleep(0.5)  # a duplicate would show up now
        records = read_log(log_file)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        errors = [process.communicate(timeout=60)[1] for process in workers]
    assert all(process.returncode == 0 for process in workers), errors
    assert Counter(r["request_id"] for r in records) == {f"req-{n}": 1 for n in range(TASKS)}
    assert Counter(r["status"] for r in records) == {"success": TASKS * 4 // 5, "error": TASKS // 5}
    assert len({r["worker"] for r in records}) > 1, "several pool processes wrote the log"
    assert_no_secret(tmp_path)
