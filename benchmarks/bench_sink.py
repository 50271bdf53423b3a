"""The sink benchmark of issue 3: GenerationLogHandler against the stdlib and its peers.

``python -m benchmarks.bench_sink [--events N] [--runs R] [--procs P] [--profile]``

Every sink logs the same generation event (`benchmarks.event.flat_event`, tagged with the
writer and a sequence number) through the same formatter, python-json-logger's
``OrjsonFormatter``, so only the sink differs; each record is formatted once. Single process:
ns per event, median of R runs, each run in a fresh process. P processes: wall time from a
common start to the last finish, then every file of the set is read back and each event counted
(lost / duplicated / malformed). The reference is a plain ``FileHandler`` (no rotation, no
lock). ``--profile`` prints a cProfile of GenerationLogHandler's emit path instead.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gzip
import json
import logging
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["SINKS", "main"]

ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 1_000_000
BACKUPS = 400  # enough to keep every backup (so every event can be counted) at the defaults
_SET_FILE = re.compile(r"^generation\.log(\.\d+)?(\.gz)?$")


def _formatter() -> logging.Formatter:
    from pythonjsonlogger.orjson import OrjsonFormatter

    return OrjsonFormatter()


def _reference(path: str) -> logging.Handler:
    return logging.FileHandler(path, encoding="utf-8")


def _stdlib(path: str) -> logging.Handler:
    from logging.handlers import RotatingFileHandler

    return RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")


def _clh(path: str) -> logging.Handler:
    from concurrent_log_handler import ConcurrentRotatingFileHandler

    return ConcurrentRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS)


def _dihya(path: str) -> logging.Handler:
    from dihya_logging.handler import GenerationLogHandler

    return GenerationLogHandler(path, maxBytes=MAX_BYTES)


def _dihya_queue(path: str) -> logging.Handler:
    from dihya_logging.queueing import make_queue_handler

    target = _dihya(path)
    target.setFormatter(_formatter())
    return make_queue_handler(target)


SINKS: dict[str, tuple[str, Callable[[str], logging.Handler]]] = {
    "reference": ("FileHandler + OrjsonFormatter (no rotation, no lock)", _reference),
    "stdlib": ("stdlib RotatingFileHandler", _stdlib),
    "clh": ("concurrent-log-handler ConcurrentRotatingFileHandler", _clh),
    "dihya": ("GenerationLogHandler", _dihya),
    "dihya-queue": ("GenerationLogHandler behind AuditQueueHandler", _dihya_queue),
}


# -- child side ------------------------------------------------------------------------------------
def _logger(sink: str, path: str) -> logging.Logger:
    handler = SINKS[sink][1](path)
    if sink != "dihya-queue":
        handler.setFormatter(_formatter())
    logger = logging.getLogger(f"bench.{sink}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def _child(sink: str, path: str, events: int, writer: str, wait: bool) -> None:
    """Log ``events`` events; print ``{"start", "end", "ns_per_event"}`` as JSON."""
    from benchmarks.event import flat_event

    event = flat_event()
    event["writer"] = writer
    logger = _logger(sink, path)
    for seq in range(200):  # warm-up, counted like the others
        event["seq"] = -1 - seq
        logger.info("generation", extra=event)
    if wait:
        print("ready", flush=True)
        sys.stdin.readline()
    start_wall, start = time.time(), time.perf_counter_ns()
    info = logger.info
    for seq in range(events):
        event["seq"] = seq
        info("generation", extra=event)
    for handler in list(logger.handlers):  # the drain of queue mode is part of the cost
        logger.removeHandler(handler)
        handler.close()
    elapsed = time.perf_counter_ns() - start
    print(json.dumps({"start": start_wall, "end": time.time(), "ns_per_event": elapsed / events}))


# -- parent side -----------------------------------------------------------------------------------
def _spawn(sink: str, path: Path, events: int, writer: str, wait: bool) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "benchmarks.bench_sink", "--child", sink, str(path)]
    command += [str(events), writer] + (["--wait"] if wait else [])
    return subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def count_events(directory: Path, writers: int, events: int) -> dict[str, int]:
    """Read every file of the set back: lost, duplicated and malformed lines."""
    seen: collections.Counter[tuple[str, int]] = collections.Counter()
    malformed = 0
    for path in directory.iterdir():
        if not _SET_FILE.match(path.name):
            continue
        raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        for line in raw.splitlines():
            try:
                record = json.loads(line)
                seen[(record["writer"], record["seq"])] += 1
            except (ValueError, KeyError, TypeError):
                malformed += 1
    expected = {(f"w{n}", seq) for n in range(writers) for seq in range(-200, events)}
    return {
        "lost": len(expected - set(seen)),
        "duplicated": sum(count - 1 for count in seen.values() if count > 1),
        "malformed": malformed,
    }


def single(sink: str, events: int, work: Path) -> float:
    """ns per event of one process (fresh directory and process)."""
    directory = Path(tempfile.mkdtemp(dir=work))
    child = _spawn(sink, directory / "generation.log", events, "w0", wait=False)
    out, _ = child.communicate()
    shutil.rmtree(directory)
    return float(json.loads(out.strip().splitlines()[-1])["ns_per_event"])


def concurrent(sink: str, events: int, procs: int, work: Path) -> dict[str, Any]:
    """Wall time of ``procs`` writers started together, and what was lost on the way."""
    directory = Path(tempfile.mkdtemp(dir=work))
    children = [
        _spawn(sink, directory / "generation.log", events, f"w{n}", wait=True) for n in range(procs)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    go = time.time()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    ends = [
        json.loads(child.communicate()[0].strip().splitlines()[-1])["end"] for child in children
    ]
    result: dict[str, Any] = {"wall": max(ends) - go, **count_events(directory, procs, events)}
    shutil.rmtree(directory)
    return result


def available(sink: str) -> bool:
    """Whether a sink's library is installed (concurrent-log-handler is optional)."""
    try:
        SINKS[sink][1]
        if sink == "clh":
            import concurrent_log_handler  # noqa: F401
    except ImportError:
        return False
    return True


def profile(events: int) -> None:
    """cProfile of GenerationLogHandler's path in this process, top 20 by own time."""
    from benchmarks.event import flat_event

    with tempfile.TemporaryDirectory() as work:
        logger = _logger("dihya", os.path.join(work, "generation.log"))
        event = flat_event()
        event["writer"] = "w0"
        profiler = cProfile.Profile()
        profiler.enable()
        for seq in range(events):
            event["seq"] = seq
            logger.info("generation", extra=event)
        profiler.disable()
        for handler in list(logger.handlers):
            handler.close()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table, the ratios and the targets of issue 3."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per process")
    parser.add_argument("--runs", type=int, default=5, help="single-process runs (median)")
    parser.add_argument("--procs", type=int, default=4, help="concurrent writers")
    parser.add_argument("--profile", action="store_true", help="cProfile the dihya path")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--wait", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sink, path, events, writer = args.child
        _child(sink, path, int(events), writer, args.wait)
        return 0
    if args.profile:
        profile(args.events)
        return 0
    sinks = [s for s in SINKS if available(s)]
    per_event: dict[str, list[float]] = {s: [] for s in sinks}
    with tempfile.TemporaryDirectory(prefix="bench-sink-") as tmp:
        work = Path(tmp)
        for _ in range(args.runs):  # interleaved, so machine noise spreads over every sink
            for sink in sinks:
                per_event[sink].append(single(sink, args.events, work))
        multi = {sink: concurrent(sink, args.events, args.procs, work) for sink in sinks}
    median = {s: statistics.median(v) for s, v in per_event.items()}
    ref = median["reference"]
    print(f"{args.events} events/process, median of {args.runs} runs; {args.procs} writers\n")
    print(
        f"| sink | µs/event (1 proc) | x reference | {args.procs} procs wall s "
        "| lost | duplicated | malformed |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for sink in sinks:
        m = multi[sink]
        print(
            f"| {SINKS[sink][0]} | {median[sink] / 1000:.2f} | {median[sink] / ref:.2f} "
            f"| {m['wall']:.2f} | {m['lost']} | {m['duplicated']} | {m['malformed']} |"
        )
    checks = {
        "lossless (dihya, dihya-queue)": all(
            multi[s][k] == 0
            for s in ("dihya", "dihya-queue")
            for k in ("lost", "duplicated", "malformed")
        ),
        "1 proc: dihya <= 1.2 x reference": median["dihya"] <= 1.2 * ref,
        f"{args.procs} procs: dihya wall <= stdlib wall": multi["dihya"]["wall"]
        <= multi["stdlib"]["wall"],
    }
    if "clh" in median:
        checks["1 proc: dihya <= 0.6 x concurrent-log-handler"] = (
            median["dihya"] <= 0.6 * median["clh"]
        )
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
