"""Adversarial sink tests with real processes: forks, lock loss, rotation faults and crashes."""

from __future__ import annotations

import json
import logging
import multiprocessing
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers_faults import handler_at, rec, seqs
from helpers_sink import finish, parse_all, read_lines, run_child

from dihya_logging import AuditQueueHandler


def _fork_child(path: str) -> None:
    """Child of a fork taken while a parent thread logs: log 50 records through the same logger."""
    logger = logging.getLogger("faults.fork")
    for seq in range(50):
        logger.info("child", extra={"seq": 10_000 + seq})
    logging.shutdown()


@pytest.mark.parametrize("queued", [False, True])
def test_fork_while_a_thread_logs(log_path: Path, queued: bool) -> None:
    """A child forked while a parent thread logs can log (no deadlock); no line lost or torn."""
    target = handler_at(log_path, maxBytes=3000)
    front: logging.Handler = AuditQueueHandler(target, maxsize=32) if queued else target
    logger = logging.getLogger("faults.fork")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(front)
    stop = threading.Event()

    def parent_writer() -> None:
        seq = 0
        while not stop.is_set() and seq < 3000:
            logger.info("parent", extra={"seq": seq})
            seq += 1
        done.append(seq)

    done: list[int] = []
    thread = threading.Thread(target=parent_writer)
    thread.start()
    try:
        context = multiprocessing.get_context("fork")
        children = [context.Process(target=_fork_child, args=(str(log_path),)) for _ in range(3)]
        for child in children:
            child.start()
        for child in children:
            child.join(30)
            assert child.exitcode == 0
    finally:
        stop.set()
        thread.join()
        logger.removeHandler(front)
        front.close()
        target.close()
    found = seqs(log_path)
    assert sorted(s for s in found if s < 10_000) == list(range(done[0]))
    assert sorted(s for s in found if s >= 10_000) == sorted(list(range(10_000, 10_050)) * 3)


def test_lock_file_deleted_while_processes_rotate(log_path: Path) -> None:
    """Deleting the lock file while two processes write and rotate loses and duplicates nothing."""

    options = {"maxBytes": 4000, "compress": False}
    children = [
        run_child(
            "write",
            {"path": str(log_path), "options": options, "writer": f"w{i}", "count": 600, "pad": 40},
        )
        for i in range(2)
    ]
    lock = log_path.with_name(log_path.name + ".lock")
    while any(child.poll() is None for child in children):
        if lock.exists():
            lock.unlink(missing_ok=True)
        time.sleep(0.02)
    for child in children:
        finish(child)
    got = sorted((r["writer"], r["seq"]) for r in parse_all(read_lines(log_path)))
    assert got == sorted((f"w{i}", s) for i in range(2) for s in range(600))


def test_three_processes_time_and_size_rotation(log_path: Path) -> None:
    """Three processes with when='S' and maxBytes: every line exactly once, none torn."""
    options = {"when": "S", "maxBytes": 3000, "compress": True}
    children = [
        run_child(
            "write",
            {
                "path": str(log_path),
                "options": options,
                "writer": f"w{i}",
                "count": 150,
                "pause": 0.005,
            },
        )
        for i in range(3)
    ]
    for child in children:
        finish(child)
    records = parse_all(read_lines(log_path))
    got = sorted((r["writer"], r["seq"]) for r in records)
    assert got == sorted((f"w{i}", s) for i in range(3) for s in range(150))


GZIP_FAILS = """
import json, logging, os, resource, signal, sys
sys.path.insert(0, sys.argv[2])
from helpers_sink import make_logger
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
path = sys.argv[1]
logger = make_logger(path, {"maxBytes": 60000, "compress": True})
errors = []
logger.handlers[0].handleError = lambda r: errors.append(str(sys.exc_info()[1]))
noise = os.urandom(20000).hex()
for seq in range(2):
    logger.info("big", extra={"seq": seq, "pad": noise[seq * 100:]})
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
for seq in range(2, 5):
    logger.info("blocked", extra={"seq": seq, "pad": noise[:25000]})
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
for seq in range(5, 8):
    logger.info("after", extra={"seq": seq})
logging.shutdown()
print(json.dumps({"errors": errors}))
"""


def test_gzip_failure_during_rotation_keeps_the_data(log_path: Path) -> None:
    """EFBIG while gzipping a rotation: reported, no data deleted, no temp left, recovery."""
    log_path.parent.mkdir()
    out = subprocess.run(
        [sys.executable, "-c", GZIP_FAILS, str(log_path), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["errors"]
    found = seqs(log_path)
    assert sorted(set(found)) == sorted(found)  # nothing duplicated
    assert {0, 1, 5, 6, 7} <= set(found)
    assert not [p for p in log_path.parent.iterdir() if ".tmp-" in p.name]


CRASH_IN_ROTATION = """
import logging, os, sys
sys.path.insert(0, sys.argv[2])
from helpers_sink import make_logger
path = sys.argv[1]
real_unlink = os.unlink
def unlink(target, *args, **kwargs):
    if os.fspath(target) in (path, path + ".1"):
        os._exit(9)  # killed between the .gz rename and the removal of what it packs
    real_unlink(target, *args, **kwargs)
os.unlink = unlink
logger = make_logger(path, {"maxBytes": 2000, "compress": True})
for seq in range(100):
    logger.info("event", extra={"seq": seq, "pad": "x" * 100})
"""


def test_crash_between_gzip_rename_and_unlink_duplicates_nothing(log_path: Path) -> None:
    """A writer killed mid compressing rotation: once the next writer starts, no line is twice."""
    log_path.parent.mkdir()
    child = subprocess.run(
        [sys.executable, "-c", CRASH_IN_ROTATION, str(log_path), str(Path(__file__).parent)],
        capture_output=True,
        timeout=60,
    )
    assert child.returncode == 9
    handler = handler_at(log_path, maxBytes=2000, compress=True)
    handler.handle(rec(1000))
    handler.close()
    found = seqs(log_path)
    assert len(found) == len(set(found))


NO_DESCRIPTORS = """
import json, logging, os, sys
sys.path.insert(0, sys.argv[2])
from helpers_sink import make_logger
logger = make_logger(sys.argv[1], {"maxBytes": 1500, "compress": True})
errors = []
logger.handlers[0].handleError = lambda r: errors.append(str(sys.exc_info()[1]))
for seq in range(10):
    logger.info("a", extra={"seq": seq, "pad": "x" * 100})
hog = []
try:
    while True:
        hog.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
for seq in range(10, 30):
    logger.info("b", extra={"seq": seq, "pad": "x" * 100})
for fd in hog:
    os.close(fd)
for seq in range(30, 40):
    logger.info("c", extra={"seq": seq, "pad": "x" * 100})
logging.shutdown()
print(json.dumps({"errors": errors}))
"""


def test_no_file_descriptors_left_during_rotation(log_path: Path) -> None:
    """EMFILE while rotating with compress: every failure reported, no record lost or doubled."""
    log_path.parent.mkdir()
    out = subprocess.run(
        [sys.executable, "-c", NO_DESCRIPTORS, str(log_path), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    errors = json.loads(out.stdout.strip().splitlines()[-1])["errors"]
    found = seqs(log_path)
    assert sorted(found) == list(range(40))  # the failed rotations lost no record
    assert errors and all("Too many open files" in error for error in errors)
