"""`dihya-logs tail --follow` as a real subprocess: new lines, rotation, purge rewrite, Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_export import sample_records, write_log, writing_logger

from dihya_logging._logset import LogSet

_WAIT = 30.0


def _line(record: dict[str, Any]) -> bytes:
    """A record as the formatter writes it."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class Follow:
    """A running ``tail --follow`` whose stdout lines arrive on a queue."""

    def __init__(
        self, log: Path, env: dict[str, str], lines: int = 2, extra: tuple[str, ...] = ()
    ) -> None:
        self.child = subprocess.Popen(
            [sys.executable, "-m", "dihya_logging", "tail", "-f", "-n", str(lines),
             "--interval", "0.05", *extra, "--file", str(log)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.result: tuple[int, str] | None = None

    def _read(self) -> None:
        assert self.child.stdout is not None
        for line in self.child.stdout:
            self.lines.put(line)

    def take(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` records printed (fails after a generous wait)."""
        return [json.loads(self.lines.get(timeout=_WAIT)) for _ in range(count)]

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Signal the child; its exit status and stderr (once; later calls return the same)."""
        if self.result is not None:
            return self.result
        if self.child.poll() is None:
            self.child.send_signal(sig)
        status = self.child.wait(_WAIT)
        self.reader.join(_WAIT)
        assert self.child.stderr is not None
        err = self.child.stderr.read().decode()
        for stream in (self.child.stdout, self.child.stderr):
            if stream is not None:
                stream.close()
        self.result = (status, err)
        return self.result


@pytest.fixture
def follow(log_path: Path, subprocess_env: dict[str, str]) -> Iterator[Follow]:
    """``tail -f`` on a live log that starts with four records."""
    write_log(log_path, sample_records(4))
    follower = Follow(log_path, subprocess_env)
    yield follower
    follower.stop(signal.SIGKILL)


def _append(path: Path, records: list[dict[str, Any]]) -> None:
    """Append records to a log file, as a handler would."""
    with path.open("ab") as out:
        out.write(b"".join(_line(r) for r in records))


def _marker(n: int) -> dict[str, Any]:
    """A distinguishable record."""
    return {"timestamp": f"2026-04-01T00:00:{n:02d}.000Z", "level": "INFO", "logger": "t",
            "message": f"m{n}", "event": "generation", "user_id": f"late_{n}"}  # fmt: skip


def test_follow_prints_tail_then_new_records(follow: Follow, log_path: Path) -> None:
    """It prints the last N records, then every record appended afterwards."""
    assert follow.take(2) == sample_records(4)[-2:]
    _append(log_path, [_marker(1), _marker(2)])
    assert [r["message"] for r in follow.take(2)] == ["m1", "m2"]


def test_follow_survives_rotation(follow: Follow, log_path: Path) -> None:
    """After the live file is renamed away and recreated, the new file's records follow."""
    follow.take(2)
    _append(log_path, [_marker(1)])
    assert follow.take(1)[0]["message"] == "m1"
    _append(log_path, [_marker(2)])
    os.rename(log_path, log_path.with_name("generation.log.1"))  # rotation
    write_log(log_path, [_marker(3), _marker(4)])
    assert [r["message"] for r in follow.take(3)] == ["m2", "m3", "m4"]


def test_follow_after_purge_rewrite_prints_only_new_records(follow: Follow, log_path: Path) -> None:
    """A purge rewrites the live file (new inode): old lines are not printed again."""
    follow.take(2)
    _append(log_path, [_marker(1)])
    assert follow.take(1)[0]["message"] == "m1"
    kept = [r for r in sample_records(4) if r["user_id"] != "user_1"] + [_marker(1)]
    rewritten = log_path.with_name(".generation.log.tmp-test")
    write_log(rewritten, kept)
    os.replace(rewritten, log_path)
    _append(log_path, [_marker(2), _marker(3)])
    assert [r["message"] for r in follow.take(2)] == ["m2", "m3"]
    _append(log_path, [_marker(9)])
    assert follow.take(1)[0]["message"] == "m9"  # nothing else came before the sentinel


def test_follow_skips_tombstones_and_partial_lines(follow: Follow, log_path: Path) -> None:
    """Tombstones are skipped, a damaged line warned once, a half-written line printed whole."""
    follow.take(2)
    with log_path.open("ab") as out:
        out.write(b'{"tombstone":true,"seq":9}\nnot json\n' + _line(_marker(1))[:20])
        out.flush()
        out.write(_line(_marker(1))[20:])
    _append(log_path, [_marker(2)])
    assert [r["message"] for r in follow.take(2)] == ["m1", "m2"]
    _, err = follow.stop()
    assert err == "dihya-logs: warning: a damaged line of the live file was skipped\n"


def test_interrupt_exits_130_quietly(follow: Follow) -> None:
    """Ctrl-C (SIGINT) ends the follow with status 130 and no traceback."""
    follow.take(2)
    status, err = follow.stop(signal.SIGINT)
    assert status == 130
    assert "Traceback" not in err


def test_follow_through_a_real_handler_rotation(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """Records written by GenerationLogHandler across a compressed rotation each print once."""
    logger, handler = writing_logger(
        log_path, "test.follow.rotation", maxBytes=1500, backupCount=5, compress=True
    )
    follower = None
    try:
        logger.info("m0", extra={"event": "generation", "n": 0})
        follower = Follow(log_path, subprocess_env, lines=1)
        assert follower.take(1)[0]["n"] == 0
        first = list(range(1, 6))
        for n in first:
            logger.info(f"m{n}", extra={"event": "generation", "n": n})
        assert [r["n"] for r in follower.take(5)] == first
        assert not log_path.with_name("generation.log.1.gz").exists()
        second = list(range(6, 14))  # crosses maxBytes once
        for n in second:
            logger.info(f"m{n}", extra={"event": "generation", "n": n})
        assert log_path.with_name("generation.log.1.gz").exists()
        assert [r["n"] for r in follower.take(len(second))] == second
        logger.info("m99", extra={"event": "generation", "n": 99})
        assert follower.take(1)[0]["n"] == 99
    finally:
        logger.removeHandler(handler)
        handler.close()
        if follower is not None:
            follower.stop(signal.SIGKILL)


ROTATING_WRITER = r"""
import sys, time
from tests.helpers_export import writing_logger
path, count, compress = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
logger, handler = writing_logger(path, "writer", maxBytes=4000, backupCount=0, compress=compress)
for n in range(count):
    logger.info("generation", extra={"event": "generation", "n": n, "user_id": f"user_{n % 3}",
                                     "status": "error" if n % 5 == 0 else "success"})
    if n % 200 == 0:
        time.sleep(0.01)
handler.close()
"""


@pytest.mark.parametrize("compress", [False, True])
def test_follow_prints_every_record_once_while_a_writer_rotates_every_few_kb(
    log_path: Path, subprocess_env: dict[str, str], compress: bool
) -> None:
    """3,000 records from a writer process rotating every 4 kB: each printed exactly once."""
    count = 3000
    write_log(log_path, [_marker(0)])
    everything = Follow(log_path, subprocess_env, lines=1)
    filtered = Follow(log_path, subprocess_env, lines=1,
                      extra=("--json", "--user", "user_1", "--status", "success"))  # fmt: skip
    chosen = [n for n in range(count) if n % 3 == 1 and n % 5 != 0]
    try:
        assert everything.take(1)[0]["message"] == "m0"
        writer = subprocess.run(
            [sys.executable, "-c", ROTATING_WRITER, str(log_path), str(count), str(int(compress))],
            env=subprocess_env, timeout=120, check=True,
        )  # fmt: skip
        assert writer.returncode == 0
        assert len(LogSet(log_path).rotated()) > 50
        printed = [r["n"] for r in everything.take(count)]
        assert sorted(printed) == list(range(count))
        assert printed == list(range(count))  # in order, too
        assert [r["n"] for r in filtered.take(len(chosen))] == chosen
        for follower in (everything, filtered):
            with pytest.raises(queue.Empty):
                follower.lines.get(timeout=1.0)  # and nothing more: no duplicate
    finally:
        results = [everything.stop(), filtered.stop()]
    assert [err for _, err in results] == ["", ""]


def test_follow_started_during_writes_prints_no_record_twice_and_misses_none(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """tail -f -n 50 started while a writer runs: from its first record on, each exactly once."""
    count = 4000
    write_log(log_path, [_marker(0)])
    writer = subprocess.Popen(
        [sys.executable, "-c", ROTATING_WRITER, str(log_path), str(count), "0"],
        env=subprocess_env,
    )  # fmt: skip
    try:
        while len(LogSet(log_path).rotated()) < 3 and writer.poll() is None:
            time.sleep(0.005)  # let the writer get going (and rotate)
        follower = Follow(log_path, subprocess_env, lines=50)
        assert writer.wait(120) == 0
        printed: list[int] = []
        try:
            while not printed or printed[-1] != count - 1:
                printed.append(follower.take(1)[0]["n"])
            with pytest.raises(queue.Empty):
                follower.lines.get(timeout=1.0)
        finally:
            follower.stop()
    finally:
        if writer.poll() is None:
            writer.kill()
    assert printed == list(range(printed[0], count))
    assert len(printed) >= 50
