"""Purges beside real processes: writers that keep writing, and a purge killed with SIGKILL."""

from __future__ import annotations

import errno
import logging
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

from dihya_logging import (
    LOGGER_NAME,
    GenerationLogHandler,
    RedactingJsonFormatter,
    get_generation_logs,
    log_generation_event,
    purge_generation_logs,
)
from dihya_logging._logset import LogSet
from tests.helpers_store import all_bytes, build_log

WRITER = r"""
import logging, os, sys, time
from dihya_logging.events._events import log_generation_event
from dihya_logging.formatter._formatter import RedactingJsonFormatter
from dihya_logging.sink._handler import GenerationLogHandler
from dihya_logging._logset import LogSet
path, name, stop = sys.argv[1], sys.argv[2], sys.argv[3]
handler = GenerationLogHandler(path, maxBytes=16000, backupCount=100000, compress=True)
handler.setFormatter(RedactingJsonFormatter())
logger = logging.getLogger("dihya.generation")
logger.addHandler(handler)
logger.setLevel(logging.INFO)
logger.propagate = False
count = 0
print("ready", flush=True)
while count < 4000 and (count < 50 or not os.path.exists(stop)):
    log_generation_event(name, {"project_name": f"{name}-{count}"}, ["app.py"])
    count += 1
    if count % 20 == 0:
        time.sleep(0.002)
handler.close()
print(count, flush=True)
"""


def test_purge_while_three_processes_write(log_path: Path, subprocess_env: dict[str, str]) -> None:
    """Every writer's event survives exactly once; the victim's bytes are gone from every file."""
    handler = GenerationLogHandler(log_path, maxBytes=16000, backupCount=100000, compress=True)
    handler.setFormatter(RedactingJsonFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    for n in range(300):
        user = "victim" if n % 3 == 0 else "early"
        log_generation_event(user, {"project_name": f"{user}-{n}"}, ["app.py"])
    stop = log_path.parent / "stop"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(log_path), f"writer{i}", str(stop)],
            stdout=subprocess.PIPE,
            text=True,
            env=subprocess_env,
        )
        for i in range(3)
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "ready"
        purged = [
            purge_generation_logs(user_id="victim", actor="test", path=log_path) for _ in range(3)
        ]
        running = [writer.poll() is None for writer in writers]
    finally:
        stop.touch()
        counts = [int(writer.communicate(timeout=120)[0].strip()) for writer in writers]
    assert purged[0] == 100
    assert purged[1:] == [0, 0]
    assert any(running)  # the purges overlapped with live writers
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every line is valid JSON
        records = get_generation_logs(path=log_path)
    seen = Counter(r["project_name"] for r in records if r["event"] == "generation")
    expected = {f"writer{i}-{k}" for i, c in enumerate(counts) for k in range(c)}
    expected |= {f"early-{n}" for n in range(300) if n % 3}
    assert set(seen) == expected
    assert set(seen.values()) == {1}
    assert sum(r["event"] == "purge" for r in records) == 3
    files = all_bytes(log_path)
    assert any(name.endswith(".gz") for name in files)  # rotated and compressed meanwhile
    for name, data in files.items():
        assert b"victim" not in data, name


KILLED_PURGE = r"""
import os, signal, sys
from dihya_logging.store import _purge as purge
from dihya_logging.store._filestore import FileStore
def die(self, destination):  # the process is killed with its rewrite written, not renamed
    os.kill(os.getpid(), signal.SIGKILL)
purge.PurgeTemp.commit = die
FileStore(sys.argv[1]).purge(user_id="victim")
"""


def test_a_purge_killed_mid_way_leaves_the_log_intact_and_the_next_one_cleans_up(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """kill -9 before the rename: originals unchanged; the next purge removes the temp file."""
    build_log(log_path, users=("victim", "other"))
    before = all_bytes(log_path)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_PURGE, str(log_path)], env=subprocess_env, check=False
    )
    assert killed.returncode == -9
    leftovers = LogSet(log_path).stale_temp_files()
    assert len(leftovers) == 4  # every changed file rewritten before the first rename
    assert {k: v for k, v in all_bytes(log_path).items() if k in before} == before
    assert purge_generation_logs(user_id="victim", path=log_path) == 60
    assert LogSet(log_path).stale_temp_files() == []
    assert all(b"victim" not in data for data in all_bytes(log_path).values())


FULL_DISK_PURGE = r"""
import resource, signal, sys
from dihya_logging.store._filestore import FileStore
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
try:
    FileStore(sys.argv[1]).purge(user_id="victim")
except OSError as exc:
    print(exc.errno)
"""


def test_a_purge_that_runs_out_of_space_fails_cleanly(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """EFBIG mid-purge: it raises, leaves no temp file, no torn file; a rerun completes it."""
    build_log(log_path, users=("victim", "other"))
    before = all_bytes(log_path)
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_PURGE, str(log_path)],
        env=subprocess_env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == str(errno.EFBIG)
    assert LogSet(log_path).stale_temp_files() == []
    after = all_bytes(log_path)
    purged = {
        name: b"".join(x for x in data.splitlines(keepends=True) if b'"victim"' not in x)
        for name, data in before.items()
    }
    states = [
        "old" if after[name] == before[name] else "new" if after[name] == purged[name] else "?"
        for name in before
    ]
    assert "?" not in states
    assert "old" in states
    assert purge_generation_logs(user_id="victim", path=log_path) > 0  # a rerun completes it
    assert all(b"victim" not in data for data in all_bytes(log_path).values())
