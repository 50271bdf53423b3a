"""Bar 6 side by side in one process: contenders take turns in short batches.

``python -m benchmarks.bench_sidebyside [--rounds N] [--batch N]`` (or ``python -m benchmarks
--only sidebyside -- ...``). On a shared, loaded machine the suite's fresh-process runs of several
seconds each see different loads; here every contender runs one batch in turn, round after
round, so a change of load weighs on all of them alike. Reported: the median µs per event of
each contender over the rounds and the ratios of bar 6 (dihya end to end <= 1.0x python-json-
logger's ``JsonFormatter`` and <= 1.5x its ``OrjsonFormatter``). Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from .contenders import by_key

__all__ = ["main"]

KEYS = ("pjl-json", "pjl-orjson", "dihya", "dihya-formatter")


def main(argv: list[str] | None = None) -> int:
    """Run the rounds, print the table and the two ratios of bar 6."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sidebyside")
    parser.add_argument("--rounds", type=int, default=60, help="turns per contender")
    parser.add_argument("--batch", type=int, default=1000, help="events per turn")
    args = parser.parse_args(argv)
    samples: dict[str, list[float]] = {key: [] for key in KEYS}
    with tempfile.TemporaryDirectory(prefix="dihya-sidebyside-") as directory:
        sinks = {key: by_key(key).setup(os.path.join(directory, f"{key}.log")) for key in KEYS}
        try:
            for key in KEYS:  # warm-up: imports, caches, files opened
                for _ in range(args.batch):
                    sinks[key].emit()
            for _ in range(args.rounds):
                for key in KEYS:
                    emit = sinks[key].emit
                    start = time.perf_counter_ns()
                    for _ in range(args.batch):
                        emit()
                    samples[key].append((time.perf_counter_ns() - start) / args.batch / 1000)
        finally:
            for sink in sinks.values():
                sink.close()
    median = {key: statistics.median(values) for key, values in samples.items()}
    print(f"Side by side, one process, {args.rounds} rounds x {args.batch:,} events per turn")
    print(f"(load {os.getloadavg()[0]:.2f}):\n")
    print("| contender | median µs/event | vs pjl-json | vs pjl-orjson |")
    print("| --- | ---: | ---: | ---: |")
    for key in KEYS:
        print(
            f"| {key} | {median[key]:.2f} | {median[key] / median['pjl-json']:.2f}x"
            f" | {median[key] / median['pjl-orjson']:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
