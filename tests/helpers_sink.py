"""Helpers for the sink tests: child-process writers (run as a script) and log-set readers.

Run as ``python tests/helpers_sink.py MODE '<json args>'``; every mode prints one JSON line
(its report) on stdout. The readers return every line of a log set, gzipped backups included.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

HELPER = Path(__file__).resolve()
ROOT = HELPER.parent.parent


def make_logger(path: str, options: dict[str, Any], name: str = "sinktest") -> logging.Logger:
    """A logger writing JSON through a `GenerationLogHandler` (python-json-logger formatter)."""
    from pythonjsonlogger.json import JsonFormatter

    from dihya_logging import GenerationLogHandler

    handler = GenerationLogHandler(path, **options)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def run_child(mode: str, args: dict[str, Any], **popen: Any) -> subprocess.Popen[str]:
    """Start this script as a child process in ``mode``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIHYA_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, str(HELPER), mode, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **popen,
    )


def finish(child: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    """Wait for a child; its JSON report (raises with its stderr if it failed)."""
    out, err = child.communicate(timeout=timeout)
    if child.returncode != 0:
        raise AssertionError(f"child failed ({child.returncode}): {err[-2000:]}")
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    report["stderr"] = err
    return report


def read_lines(live: Path) -> list[bytes]:
    """Every line of the log set of ``live``, oldest file first (``.gz`` read transparently)."""
    from dihya_logging._logset import LogSet

    lines: list[bytes] = []
    for path in LogSet(live).files():
        raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        lines.extend(raw.splitlines(keepends=True))
    return lines


def parse_all(lines: list[bytes]) -> list[dict[str, Any]]:
    """Parse every line as a complete JSON object (fails on a fragment or a glued line)."""
    records = []
    for line in lines:
        assert line.endswith(b"\n"), f"unterminated line {line[:80]!r}"
        record = json.loads(line)
        assert isinstance(record, dict)
        records.append(record)
    return records


# -- child modes -----------------------------------------------------------------------------------
def _write(args: dict[str, Any]) -> dict[str, Any]:
    """Log ``count`` events tagged ``writer``/``seq`` (``count`` < 0: forever), or for
    ``seconds`` with ``pause`` between events."""
    import time

    logger = make_logger(args["path"], args.get("options", {}))
    pad = "x" * int(args.get("pad", 0))
    count, writer = int(args.get("count", -1)), args.get("writer", "w")
    until = time.monotonic() + float(args.get("seconds", "inf"))
    pause = float(args.get("pause", 0))
    seq = 0
    while (count < 0 or seq < count) and time.monotonic() < until:
        logger.info("event", extra={"writer": writer, "seq": seq, "pad": pad})
        seq += 1
        if pause:
            time.sleep(pause)
    logging.shutdown()
    return {"written": seq}


def _efbig(args: dict[str, Any]) -> dict[str, Any]:
    """Hit RLIMIT_FSIZE (SIGXFSZ ignored): the error must reach handleError; then recover."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    logger = make_logger(args["path"], args.get("options", {}))
    handler = logger.handlers[0]
    failures: list[str] = []

    def handle_error(record: logging.LogRecord) -> None:
        failures.append(str(sys.exc_info()[1]))

    handler.handleError = handle_error  # type: ignore[method-assign]
    for seq in range(10):
        logger.info("before", extra={"seq": seq})
    size = os.path.getsize(args["path"])
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, hard))  # room for a fragment only
    for seq in range(5):
        logger.info("blocked", extra={"seq": seq, "pad": "y" * 200})
    size_blocked = os.path.getsize(args["path"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    for seq in range(5):
        logger.info("after", extra={"seq": seq})
    logging.shutdown()
    return {"failures": failures, "size_before": size, "size_blocked": size_blocked}


def _queue_exit(args: dict[str, Any]) -> dict[str, Any]:
    """Queue mode: log ``count`` records and exit without closing anything ourselves."""
    from pythonjsonlogger.json import JsonFormatter

    from dihya_logging import GenerationLogHandler
    from dihya_logging.sink._queueing import make_queue_handler

    target = GenerationLogHandler(args["path"])
    target.setFormatter(JsonFormatter())
    logger = logging.getLogger("sinkqueue")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(make_queue_handler(target, maxsize=int(args.get("maxsize", 1000))))
    for seq in range(int(args["count"])):
        logger.info("queued %d", seq, extra={"seq": seq})
    return {"written": int(args["count"])}  # logging.shutdown() at exit must drain the queue


def _queue_burst(args: dict[str, Any]) -> dict[str, Any]:
    """Queue mode under a burst of ``count`` records: report the deepest queue and RSS growth."""
    import resource

    from pythonjsonlogger.json import JsonFormatter

    from dihya_logging import GenerationLogHandler
    from dihya_logging.sink._queueing import make_queue_handler

    target = GenerationLogHandler(args["path"], fsync="never")
    target.setFormatter(JsonFormatter())
    front = make_queue_handler(target, maxsize=int(args["maxsize"]))
    logger = logging.getLogger("sinkburst")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(front)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    deepest = 0
    for seq in range(int(args["count"])):
        logger.info("burst", extra={"seq": seq, "payload": "p" * 200})
        if not seq % 500:
            deepest = max(deepest, front.bounded.qsize())
    front.close()
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return {"deepest": deepest, "growth_kib": growth_kib, "dropped": front.dropped}


MODES = {"write": _write, "efbig": _efbig, "queue_exit": _queue_exit, "queue_burst": _queue_burst}

if __name__ == "__main__":
    report = MODES[sys.argv[1]](json.loads(sys.argv[2]))
    print(json.dumps(report), flush=True)
