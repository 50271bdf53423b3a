"""Where the time of one dihya event goes: direct stage timings and a categorised cProfile.

``python -m benchmarks.profiling [--events N]`` (or ``python -m benchmarks --profile``) times
each stage of the synchronous path on the realistic event in isolation (no profiler overhead),
then runs the path under cProfile and ranks the categories (built-ins are charged to their
callers' category). Prints Markdown.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from .event import Renewer, generation_input

__all__ = ["main", "profile_categories", "stage_timings"]

Func = tuple[str, int, str]

CATEGORIES = (
    ("LogRecord creation", ("logging/__init__.py:__init__", "logging/__init__.py:makeRecord")),
    ("events validation and glue", ("dihya_logging/events/",)),
    ("redaction", ("dihya_logging/redaction/",)),
    ("timestamp (_schema.format_timestamp)", ("dihya_logging/_schema.py",)),
    ("formatter (dihya + python-json-logger)", ("dihya_logging/formatter/", "pythonjsonlogger")),
    ("serialisation (orjson.dumps, decode/encode)", ("orjson.dumps", "'decode'", "'encode'")),
    (
        "handler (lock, flock, pread, lseek, write)",
        ("dihya_logging/sink/", "dihya_logging/_logset"),
    ),
    ("logging dispatch (handle, filter, callHandlers)", ("logging/__init__.py",)),
)
_SYSCALLS = ("posix.write", "posix.lseek", "posix.pread", "fcntl.flock", "acquire", "release")


def _category(func: Func) -> str | None:
    text = f"{func[0]}:{func[2]}"
    for name, needles in CATEGORIES:
        if any(needle in text for needle in needles):
            return name
    if any(needle in text for needle in _SYSCALLS):
        return "handler (lock, flock, pread, lseek, write)"
    return None


def _time(fn: Callable[[], Any], calls: int, repeats: int = 5) -> float:
    """Median ns per call of ``fn`` over ``repeats`` loops of ``calls`` calls."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(samples)


class _Capture(logging.Handler):
    """Keeps the last record it was handed (to time the later stages on a real record)."""

    record: logging.LogRecord | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.record = record


class _Silent(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        """Do nothing: isolates logging's dispatch cost."""


class _Fixed(logging.Formatter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def format(self, record: logging.LogRecord) -> str:
        return self.text


def _full_pipeline_class() -> type:
    from dihya_logging import RedactingJsonFormatter

    class FullPipeline(RedactingJsonFormatter):
        """Overrides a hook (doing the same): every record takes the whole pipeline."""

        def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
            return super().process_log_record(log_data)

    return FullPipeline


def _FullPipeline() -> Any:
    return _full_pipeline_class()()


def _setup(directory: str) -> tuple[logging.Logger, Any, Callable[[], Any]]:
    import dihya_logging
    from dihya_logging.events._events import log_generation_event

    logger = logging.getLogger(dihya_logging.LOGGER_NAME)
    logger.propagate = False
    handler = dihya_logging.configure(os.path.join(directory, "generation.log"))
    src = generation_input()
    args = (src.user_id, src.needs, src.code, src.status, src.error, src.extra)
    renew = Renewer(src.extra["request"])

    def call() -> Any:
        renew()
        return log_generation_event(*args)

    return logger, handler, call


def _detach(logger: logging.Logger) -> None:
    for attached in list(logger.handlers):
        logger.removeHandler(attached)
        attached.close()


def stage_timings(calls: int) -> list[tuple[str, float]]:
    """ns per call of each stage of the synchronous path, timed on its own, plus the whole.

    Every event gets a new request id (as in the suite), so the redactor meets one new string
    per event; "warm" repeats the very same payload.
    """
    import fcntl

    from dihya_logging._schema import format_timestamp
    from dihya_logging.events import _events as events
    from dihya_logging.formatter._cleanmark import CLEAN_FIELDS_ATTR, clean_mark
    from dihya_logging.redaction._redactor import default_redactor

    out: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="dihya-profile-") as directory:
        logger, handler, call = _setup(directory)
        for _ in range(2000):
            call()
        out.append(("whole call: log_generation_event end to end", _time(call, calls)))
        real_emit = events._emit
        seen: dict[str, Any] = {}

        def fake(target: Any, level: int, event: str, clean: dict[str, Any]) -> dict[str, Any]:
            seen.update(event=event, clean=clean)
            return clean

        events._emit = fake
        try:
            out.append(
                (
                    "validation + redaction (log_generation_event before the record)",
                    _time(call, calls),
                )
            )
        finally:
            events._emit = real_emit
        clean = seen["clean"]
        extra = {k: v for k, v in clean.items() if k in ("request", "generator")}
        payload = dict(clean)
        redact, renew = default_redactor().redact, Renewer(extra["request"])

        def redact_new() -> Any:
            renew()
            return redact(payload)

        out.append(("  for scale: a full redaction walk, new request id", _time(redact_new, calls)))
        out.append(("  same payload again (warm memo)", _time(lambda: redact(payload), calls)))
        capture = _Capture()
        logger.handlers[:], saved = [capture], logger.handlers[:]
        call()
        record = capture.record
        assert record is not None

        def make() -> logging.LogRecord:
            made, fields = events._make_record(logger, logging.INFO, "generation", dict(clean))
            made.__dict__[CLEAN_FIELDS_ATTR] = clean_mark(fields)
            return made

        out.append(("LogRecord creation (Logger.makeRecord) + clean mark", _time(make, calls)))
        logger.handlers[:] = [_Silent()]
        out.append(
            (
                "logging dispatch (Logger.handle, no-op handler)",
                _time(lambda: logger.handle(record), calls),
            )
        )
        logger.handlers[:] = saved
        formatter = handler.formatter
        out.append(
            (
                "formatter.format_line(record) (proves the mark, splices its bytes)",
                _time(lambda: formatter.format_line(record, "strict"), calls),
            )
        )
        mark = record.__dict__[CLEAN_FIELDS_ATTR]
        out.append(
            (
                "  of which the proof (mark.intact)",
                _time(lambda: mark.intact(record.__dict__), calls),
            )
        )
        full = _FullPipeline()
        out.append(
            (
                "  full pjl pipeline instead (add_fields + redaction + orjson)",
                _time(lambda: full.format(record), calls),
            )
        )
        line = json.loads(formatter.format(record))
        out.append(
            (
                "  of which orjson serialisation",
                _time(lambda: formatter.jsonify_log_record(line), calls),
            )
        )
        created = record.created
        out.append(("  of which format_timestamp", _time(lambda: format_timestamp(created), calls)))
        text = formatter.format(record)
        out.append(
            ("encode line (str.encode)", _time(lambda: (text + "\n").encode("utf-8"), calls))
        )
        handler.setFormatter(_Fixed(text))
        out.append(
            (
                "handler.handle with a fixed line (filter, locks, pread, lseek, write)",
                _time(lambda: handler.handle(record), calls),
            )
        )
        handler.setFormatter(formatter)
        fd = os.open(os.path.join(directory, "raw.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        fd2 = os.open(os.path.join(directory, "raw.lock"), os.O_RDWR | os.O_CREAT)
        os.write(fd2, bytes(8))
        data = (text + "\n").encode()
        out.append(("  of which os.write alone", _time(lambda: os.write(fd, data), calls)))

        def lock_pair() -> None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            fcntl.flock(fd, fcntl.LOCK_UN)

        out.append(("  of which flock LOCK_EX + LOCK_UN", _time(lock_pair, calls)))
        out.append(("  of which pread (generation)", _time(lambda: os.pread(fd2, 8, 0), calls)))
        out.append(("  of which lseek (size)", _time(lambda: os.lseek(fd, 0, os.SEEK_END), calls)))
        os.close(fd2)
        os.close(fd)
        _detach(logger)
    return out


def profile_categories(
    events_count: int,
) -> tuple[list[tuple[str, float]], list[tuple[str, int, float, float]]]:
    """cProfile the path: (category, us per event) ranked, and the top functions by own time."""
    with tempfile.TemporaryDirectory(prefix="dihya-profile-") as directory:
        logger, _handler, call = _setup(directory)
        for _ in range(1000):
            call()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(events_count):
            call()
        profiler.disable()
        _detach(logger)
    stats: dict[Func, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    totals: dict[str, float] = defaultdict(float)
    for func, (_cc, _nc, tottime, _ct, callers) in stats.items():
        category = _category(func)
        if category is None and callers:  # a built-in: charge its callers' categories
            for caller, caller_stats in callers.items():
                totals[_category(caller) or "other"] += caller_stats[2]
        else:
            totals[category or "other"] += tottime
    ranked = sorted(
        ((name, secs * 1e6 / events_count) for name, secs in totals.items()),
        key=lambda item: -item[1],
    )
    top = sorted(stats.items(), key=lambda item: -item[1][2])[:18]
    functions = [
        (
            f"{os.path.basename(func[0])}:{func[1]}({func[2]})",
            int(nc),
            tt * 1e6 / max(1, nc),
            tt * 1e6 / events_count,
        )
        for func, (_cc, nc, tt, _ct, _callers) in top
    ]
    return ranked, functions


def main(argv: list[str] | None = None) -> int:
    """Print the stage timings and the cProfile ranking as Markdown."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling")
    parser.add_argument("--events", type=int, default=20_000, help="events under cProfile")
    parser.add_argument("--calls", type=int, default=10_000, help="calls per stage timing")
    args = parser.parse_args(argv)
    stages = stage_timings(args.calls)
    whole = stages[0][1]
    print(
        f"### Stage timings (each stage alone, no profiler; median of 5 x {args.calls:,} calls)\n"
    )
    print("| stage | us/call | share of whole call |\n| --- | ---: | ---: |")
    for name, ns in stages:
        print(f"| {name} | {ns / 1000:.2f} | {100 * ns / whole:.0f}% |")
    ranked, functions = profile_categories(args.events)
    total = sum(us for _, us in ranked)
    print(f"\n### cProfile, {args.events:,} events (profiler overhead inflates small calls)\n")
    print("| rank | where | us/event (profiled) | share |\n| ---: | --- | ---: | ---: |")
    for rank, (name, us) in enumerate(ranked, 1):
        print(f"| {rank} | {name} | {us:.2f} | {100 * us / total:.0f}% |")
    print("\n| function (own time) | calls | us/call | us/event |\n| --- | ---: | ---: | ---: |")
    for name, calls, per_call, per_event in functions:
        print(f"| `{name}` | {calls:,} | {per_call:.2f} | {per_event:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
