"""The sink benchmark of issue 3: GenerationLogHandler against the stdlib and its peers.

``python -m benchmarks.bench_sink [--events N] [--runs R] [--procs P] [--profile]``

Every sink logs the same generation event (`benchmarks.event.flat_event`, tagged with the
writer and a sequence number) through the same formatter, python-json-logger's
``OrjsonFormatter``, so only the sink differs; each record is formatted once. Single process
(rotating every ``--max-bytes``, 10 MB): µs per event, wall clock and CPU time (CPU time does
not count the time other jobs of a shared machine take), median of R runs, each in a fresh
process, sinks interleaved in a new order each run; a ratio is the median of the per-run ratios
(the two runs of a pair saw the same machine load). P processes (rotating every
``--multi-max-bytes``, 1 MB): wall time from a common start to the last finish, then every
file of the set is read back and each event counted (lost / duplicated / malformed).
The reference is a plain ``FileHandler`` (no rotation, no lock). The timed part ends with a
``flush()`` (queue mode: ``close()``, which drains the queue); the one fsync GenerationLogHandler
makes at ``close()`` is not a per-event cost and is left out. ``--profile`` prints a cProfile
of GenerationLogHandler's path instead.
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
import random
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
BACKUPS = 2_000  # keep every backup at the default sizes, so that every event can be counted
_SET_FILE = re.compile(r"^generation\.log(\.\d+)?(\.gz)?$")


def _formatter() -> logging.Formatter:
    from pythonjsonlogger.orjson import OrjsonFormatter

    return OrjsonFormatter()


def _reference(path: str, max_bytes: int) -> logging.Handler:
    return logging.FileHandler(path, encoding="utf-8")


def _stdlib(path: str, max_bytes: int) -> logging.Handler:
    from logging.handlers import RotatingFileHandler

    return RotatingFileHandler(path, maxBytes=max_bytes, backupCount=BACKUPS, encoding="utf-8")


def _clh(path: str, max_bytes: int) -> logging.Handler:
    from concurrent_log_handler import ConcurrentRotatingFileHandler

    return ConcurrentRotatingFileHandler(path, maxBytes=max_bytes, backupCount=BACKUPS)


def _dihya(path: str, max_bytes: int) -> logging.Handler:
    from dihya_logging.sink._handler import GenerationLogHandler

    return GenerationLogHandler(path, maxBytes=max_bytes)  # backupCount=0: keeps every backup


def _dihya_queue(path: str, max_bytes: int) -> logging.Handler:
    from dihya_logging.sink._queueing import make_queue_handler

    target = _dihya(path, max_bytes)
    target.setFormatter(_formatter())
    return make_queue_handler(target)


SINKS: dict[str, tuple[str, Callable[[str, int], logging.Handler]]] = {
    "reference": ("FileHandler + OrjsonFormatter (no rotation, no lock)", _reference),
    "stdlib": ("stdlib RotatingFileHandler", _stdlib),
    "clh": ("concurrent-log-handler ConcurrentRotatingFileHandler", _clh),
    "dihya": ("GenerationLogHandler", _dihya),
    "dihya-queue": ("GenerationLogHandler behind AuditQueueHandler", _dihya_queue),
}


# -- child side ------------------------------------------------------------------------------------
def _logger(sink: str, path: str, max_bytes: int) -> logging.Logger:
    handler = SINKS[sink][1](path, max_bytes)
    if sink != "dihya-queue":
        handler.setFormatter(_formatter())
    logger = logging.getLogger(f"bench.{sink}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def _child(sink: str, path: str, events: int, writer: str, max_bytes: int, wait: bool) -> None:
    """Log ``events`` events; print start/end times and wall and CPU ns per event as JSON."""
    from benchmarks.event import flat_event

    event = flat_event()
    event["writer"] = writer
    logger = _logger(sink, path, max_bytes)
    for seq in range(200):  # warm-up, counted like the others
        event["seq"] = -1 - seq
        logger.info("generation", extra=event)
    if wait:
        print("ready", flush=True)
        sys.stdin.readline()
    start_wall, start, cpu = time.time(), time.perf_counter_ns(), time.process_time_ns()
    info = logger.info
    for seq in range(events):
        event["seq"] = seq
        info("generation", extra=event)
    queued = sink.endswith("queue")
    for handler in list(logger.handlers):
        if queued:  # the drain of queue mode is part of the cost
            handler.close()
        else:
            handler.flush()
    elapsed, cpu = time.perf_counter_ns() - start, time.process_time_ns() - cpu
    for handler in list(logger.handlers):  # (dihya's one fsync at close is not per event)
        logger.removeHandler(handler)
        handler.close()
    report = {
        "start": start_wall,
        "end": time.time(),
        "wall": elapsed / events,
        "cpu": cpu / events,
    }
    print(json.dumps(report))


# -- parent side -----------------------------------------------------------------------------------
def _spawn(
    sink: str, path: Path, events: int, writer: str, max_bytes: int, wait: bool
) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "benchmarks.bench_sink", "--child", sink, str(path)]
    command += [str(events), writer, str(max_bytes)] + (["--wait"] if wait else [])
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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


def single(sink: str, events: int, max_bytes: int, work: Path) -> dict[str, float]:
    """Wall and CPU ns per event of one process (fresh directory and process)."""
    directory = Path(tempfile.mkdtemp(dir=work))
    child = _spawn(sink, directory / "generation.log", events, "w0", max_bytes, wait=False)
    out, _ = child.communicate()
    shutil.rmtree(directory)
    report: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return report


def concurrent(sink: str, events: int, procs: int, max_bytes: int, work: Path) -> dict[str, Any]:
    """Wall time of ``procs`` writers started together, and what was lost on the way."""
    directory = Path(tempfile.mkdtemp(dir=work))
    path = directory / "generation.log"
    children = [_spawn(sink, path, events, f"w{n}", max_bytes, wait=True) for n in range(procs)]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    go = time.time()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    ends, errors = [], 0
    for child in children:
        out, err = child.communicate()
        ends.append(json.loads(out.strip().splitlines()[-1])["end"])
        errors += err.count("--- Logging error ---")  # what handleError reported
    result: dict[str, Any] = {"wall": max(ends) - go, "errors": errors}
    result.update(count_events(directory, procs, events))
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
        logger = _logger("dihya", os.path.join(work, "generation.log"), 10_000_000)
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
    parser.add_argument("--runs", type=int, default=7, help="single-process runs (median)")
    parser.add_argument("--procs", type=int, default=4, help="concurrent writers")
    parser.add_argument("--max-bytes", type=int, default=10_000_000, help="rotation, 1 process")
    parser.add_argument("--multi-max-bytes", type=int, default=1_000_000, help="rotation, P procs")
    parser.add_argument("--profile", action="store_true", help="cProfile the dihya path")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--wait", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sink, path, events, writer, max_bytes = args.child
        _child(sink, path, int(events), writer, int(max_bytes), args.wait)
        return 0
    if args.profile:
        profile(args.events)
        return 0
    sinks = [s for s in SINKS if available(s)]
    runs: dict[str, list[dict[str, float]]] = {s: [] for s in sinks}
    with tempfile.TemporaryDirectory(prefix="bench-sink-") as tmp:
        work = Path(tmp)
        for run in range(args.runs):  # interleaved in a new order each run: noise is shared
            for sink in random.Random(run).sample(sinks, len(sinks)):
                runs[sink].append(single(sink, args.events, args.max_bytes, work))
        multi = {
            sink: concurrent(sink, args.events, args.procs, args.multi_max_bytes, work)
            for sink in sinks
        }

    def median(sink: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[sink])

    def ratio(sink: str, base: str, key: str) -> float:
        """Median over runs of the per-run ratio: each run's pair saw the same machine load."""
        return statistics.median(a[key] / b[key] for a, b in zip(runs[sink], runs[base]))

    print(
        f"{args.events} events/process; 1 process: median of {args.runs} runs, rotating every "
        f"{args.max_bytes} B; {args.procs} processes rotating every {args.multi_max_bytes} B\n"
    )
    print(
        "| sink | µs/event wall | µs/event CPU | vs reference (CPU / wall) "
        f"| {args.procs} procs wall s | lost | duplicated | malformed | logging errors |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for sink in sinks:
        m = multi[sink]
        print(
            f"| {SINKS[sink][0]} | {median(sink, 'wall') / 1000:.2f} "
            f"| {median(sink, 'cpu') / 1000:.2f} | {ratio(sink, 'reference', 'cpu'):.2f}x / "
            f"{ratio(sink, 'reference', 'wall'):.2f}x | {m['wall']:.2f} | {m['lost']} "
            f"| {m['duplicated']} | {m['malformed']} | {m['errors']} |"
        )
    lossless = all(
        multi[s][k] == 0
        for s in ("dihya", "dihya-queue")
        for k in ("lost", "duplicated", "malformed", "errors")
    )
    checks = {"lossless (dihya, dihya-queue)": lossless}
    for key in ("cpu", "wall"):
        checks[f"1 proc: dihya <= 1.2 x reference ({key})"] = (
            ratio("dihya", "reference", key) <= 1.2
        )
        if "clh" in runs:
            checks[f"1 proc: dihya <= 0.6 x concurrent-log-handler ({key})"] = (
                ratio("dihya", "clh", key) <= 0.6
            )
    checks[f"{args.procs} procs: dihya wall <= stdlib wall"] = (
        multi["dihya"]["wall"] <= multi["stdlib"]["wall"]
    )
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
