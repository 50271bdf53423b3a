"""Chain benchmark (issue 5): the cost of sealing each event, and the speed of `verify`.

``python -m benchmarks.bench_chain [--events N] [--emit-events M]`` (or ``python -m benchmarks
--only chain -- ...``; ``$DIHYA_BENCH_EVENTS`` also sets N).

1. **Cost per event.** The realistic generation event (`benchmarks.event.flat_event`) logged
   through ``GenerationLogHandler`` + ``RedactingJsonFormatter`` with ``chain=False``, with
   ``chain=True`` and a key (HMAC-SHA-256 links) and with ``chain=True`` without a key, in this
   one process, the variants taking turns every 250 events; M events per variant per round
   (default 20,000), ``--repeats`` rounds; medians in microseconds per event and the overhead
   ratio. Target: under 15 %.
2. **Verify speed.** N sealed events (default 1,000,000; the same realistic record, each with
   its own user, request id and time) written to four uncompressed files of one log set; then
   ``verify_generation_logs`` beside ``sha256sum`` of the same files, in MB/s. Target: verify
   within 2x of ``sha256sum``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dihya_logging._logset import LogSet, open_private
from dihya_logging._schema import format_timestamp
from dihya_logging.chain._sealer import Sealer
from dihya_logging.chain._verify import verify_generation_logs
from dihya_logging.formatter._formatter import RedactingJsonFormatter
from dihya_logging.sink._handler import GenerationLogHandler

from .event import Renewer, flat_event

__all__ = ["emit_cost", "generate_chained_log", "main", "verify_speed"]

KEY = b"benchmark chain key: 32 bytes..."
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
VARIANTS = {"chain=False": None, "chain=True, key": KEY, "chain=True, no key": b""}


def _logger(work: Path, name: str, key: bytes | None) -> tuple[logging.Logger, logging.Handler]:
    """A logger writing through its own handler (one variant) into a fresh directory."""
    directory = Path(tempfile.mkdtemp(dir=work))
    options: dict[str, Any] = {} if key is None else {"chain": True, "chain_key": key or None}
    handler = GenerationLogHandler(directory / "generation.log", **options)
    handler.setFormatter(RedactingJsonFormatter())
    logger = logging.getLogger(f"bench.chain.{name}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, handler


def emit_cost(work: Path, events: int, repeats: int, batch: int = 250) -> dict[str, float]:
    """Median microseconds per event of each variant.

    The variants take turns every ``batch`` events (a shared machine's load then weighs on all
    of them alike); each of ``repeats`` rounds of ``events`` events per variant gives one
    sample per variant.
    """
    loggers = {name: _logger(work, name, key) for name, key in VARIANTS.items()}
    event = flat_event()
    renew = Renewer(event["request"])
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    try:
        for name in VARIANTS:  # warm-up
            for _ in range(500):
                renew()
                loggers[name][0].info("generation", extra=event)
        for _ in range(repeats):
            spent = dict.fromkeys(VARIANTS, 0.0)
            for _ in range(max(1, events // batch)):
                for name, (logger, _) in loggers.items():
                    began = time.perf_counter()
                    for _ in range(batch):
                        renew()
                        logger.info("generation", extra=event)
                    spent[name] += time.perf_counter() - began
            for name, seconds in spent.items():
                samples[name].append(seconds / (max(1, events // batch) * batch) * 1e6)
    finally:
        for _, handler in loggers.values():
            handler.close()
    return {name: statistics.median(values) for name, values in samples.items()}


def _template() -> str:
    """The realistic record as the formatter writes it, with markers for what varies."""
    event = flat_event()
    event["user_id"] = "user_@@@@@@"
    event["request"]["request_id"] = "req-########"
    record = logging.makeLogRecord({"name": "dihya.generation", "msg": "generation", **event})
    record.levelname, record.created = "INFO", START
    text = RedactingJsonFormatter().format(record)
    stamp = format_timestamp(START)
    assert stamp in text
    assert "@@@@@@" in text
    assert "########" in text
    return text.replace(stamp, "%TIME%")


def generate_chained_log(path: Path, events: int, files: int = 4) -> list[Path]:
    """``events`` sealed records in ``files`` uncompressed files of the log set at ``path``."""
    log_set = LogSet(path)
    sealer = Sealer(log_set, KEY)
    template = _template()
    per_file = -(-events // files)
    written = 0
    with log_set.lock():
        for index in range(files - 1, -1, -1):
            target = log_set.rotated_path(index) if index else log_set.path
            fd = open_private(target, os.O_RDWR | os.O_APPEND | os.O_CREAT)
            try:
                size, batch = 0, []
                for n in range(written, min(events, written + per_file)):
                    text = (
                        template.replace("%TIME%", format_timestamp(START + n * 0.05))
                        .replace("@@@@@@", f"{n % 50_000:06d}")
                        .replace("########", f"{n:08x}")
                    )
                    data = (sealer.seal(text, fd, size, True) + "\n").encode()
                    size += len(data)
                    batch.append(data)
                    if len(batch) >= 5000:
                        os.write(fd, b"".join(batch))
                        batch = []
                os.write(fd, b"".join(batch))
                written = min(events, written + per_file)
            finally:
                os.close(fd)
            if index:
                sealer.after_rotation()
    return log_set.files()


def verify_speed(work: Path, events: int) -> dict[str, Any]:
    """Seconds and MB/s of verify and of sha256sum over the same files."""
    path = work / "verify" / "generation.log"
    files = generate_chained_log(path, events)
    size = sum(f.stat().st_size for f in files)
    began = time.perf_counter()
    report = verify_generation_logs(path, key=KEY)
    verify_s = time.perf_counter() - began
    if not report.ok or report.records != events:
        raise RuntimeError(f"the generated log does not verify: {report.problems[:3]}")
    began = time.perf_counter()
    subprocess.run(["sha256sum", *map(str, files)], check=True, stdout=subprocess.DEVNULL)
    sha_s = time.perf_counter() - began
    return {"events": events, "bytes": size, "verify_s": verify_s, "sha256sum_s": sha_s}


def main(argv: Sequence[str] | None = None) -> int:
    """Run both parts and print the tables; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_chain", description=__doc__)
    default = int(os.environ.get("DIHYA_BENCH_EVENTS", "1000000"))
    parser.add_argument("--events", type=int, default=default, help="events of the verified log")
    parser.add_argument("--emit-events", type=int, default=20_000, help="events per emit run")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved emit runs")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dihya-bench-chain-", dir=args.dir))
    try:
        cost = emit_cost(work, args.emit_events, args.repeats)
        speed = verify_speed(work, args.events)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = cost["chain=False"]
    print(f"## Cost per event ({args.emit_events:,} events x {args.repeats}, medians)\n")
    print("| variant | us/event | vs chain=False |\n| --- | ---: | ---: |")
    for name, value in cost.items():
        print(f"| {name} | {value:.2f} | {value / base:.3f}x |")
    overhead = cost["chain=True, key"] / base - 1
    print(f"\nchain overhead (keyed): {overhead:+.1%} (target < +15%)")
    megabytes = speed["bytes"] / 1e6
    ratio = speed["verify_s"] / speed["sha256sum_s"]
    print(f"\n## Verify ({speed['events']:,} events, {megabytes:,.0f} MB in 4 files)\n")
    print("| tool | seconds | MB/s |\n| --- | ---: | ---: |")
    for tool, seconds in (("verify_generation_logs", "verify_s"), ("sha256sum", "sha256sum_s")):
        print(f"| {tool} | {speed[seconds]:.2f} | {megabytes / speed[seconds]:.0f} |")
    print(f"\nverify / sha256sum: {ratio:.2f}x (target <= 2x)")
    return 0 if overhead < 0.15 and ratio <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
