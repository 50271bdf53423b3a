"""Runs ONE contender (or the redaction-scaling check) in this fresh process; prints JSON.

``python -m benchmarks.runner CONTENDER --events N --repeats R --dir DIR`` logs R x N events,
each repeat into a new file that is then checked (exactly N valid JSON lines, secrets present
or not) and deleted. Throughput is timed in a tight loop including the final flush/drain; queue
mode also times every call (caller-side latency) and samples the queue depth.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import time
import traceback
from array import array
from typing import Any

from .contenders import Contender, Sink, by_key
from .event import SECRETS, count_nodes, scaled_event, unique_variant

__all__ = ["check_file", "main", "percentile", "run_contender", "run_scaling"]

WARMUP_EVENTS = 2000
SCALES = (1, 2, 4, 8, 16)
VARIANTS = 256


def percentile(sorted_values: Any, fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of an already sorted sequence."""
    if not len(sorted_values):
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return float(sorted_values[index])


def _loads() -> Any:
    try:
        import orjson

        return orjson.loads
    except ImportError:  # pragma: no cover
        return json.loads


def check_file(path: str) -> dict[str, Any]:
    """Count lines, valid JSON objects and lines holding a secret in a contender's output."""
    with open(path, "rb") as stream:
        data = stream.read()
    lines = data.split(b"\n")
    partial = lines.pop() != b""
    loads, valid = _loads(), 0
    for line in lines:
        try:
            if isinstance(loads(line), dict):
                valid += 1
        except ValueError:
            pass
    leaked = sum(data.count(secret.encode()) for secret in SECRETS)
    return {
        "lines": len(lines),
        "valid": valid,
        "partial_tail": partial,
        "secret_hits": leaked,
        "bytes_per_line": round(len(data) / max(1, len(lines))),
    }


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _Rss:
    """Current resident set size from ``/proc/self/statm`` (cheap enough to sample in a loop)."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        try:
            self.fd: int | None = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:  # pragma: no cover - not Linux
            self.fd = None

    def mib(self) -> float:
        if self.fd is None:  # pragma: no cover
            return _maxrss_mib()
        return int(os.pread(self.fd, 128, 0).split()[1]) * self.page / 1048576.0


def _tight(sink: Sink, events: int) -> int:
    emit = sink.emit
    start = time.perf_counter_ns()
    for _ in range(events):
        emit()
    sink.close()
    return time.perf_counter_ns() - start


def _timed(sink: Sink, events: int, latencies: array[int], rss: _Rss) -> dict[str, float]:
    """Per-call timing, sampling queue depth and RSS every 256 calls (outside the timed call)."""
    emit, clock, probe, resident = sink.emit, time.perf_counter_ns, sink.queue_size, rss.mib
    depth, base, full_at = 0, resident(), events
    peak = base
    nearly_full = (sink.queue_bound or 0) - 256
    start = clock()
    for i in range(events):
        before = clock()
        emit()
        latencies[i] = clock() - before
        if not i & 255:
            peak = max(peak, resident())
            if probe is not None:
                size = probe()
                depth = max(depth, size)
                if size >= nearly_full > 0 and full_at == events:
                    full_at = i  # from here on the caller waits for the writer (back-pressure)
    loop = clock() - start
    peak = max(peak, resident())
    sink.close()
    total = clock() - start
    return {
        "total": total,
        "loop": loop,
        "depth": depth,
        "rss_growth": peak - base,
        "full_at": full_at,
    }


def run_contender(
    contender: Contender, events: int, repeats: int, directory: str, latency_pass: bool = False
) -> dict[str, Any]:
    """Warm up, then R timed repeats of N events, each into a fresh file that is verified."""
    result: dict[str, Any] = {"key": contender.key, "events": events, "repeats": repeats}
    warm = os.path.join(directory, f"{contender.key}-warmup.log")
    try:
        sink = contender.setup(warm)
    except ImportError as exc:
        return {**result, "status": "unavailable", "reason": f"{type(exc).__name__}: {exc}"}
    for _ in range(min(WARMUP_EVENTS, events)):
        sink.emit()
    sink.close()
    os.unlink(warm)
    result["info"] = sink.info
    per_event, checks, caller_ns, p50s, p99s, depths, growth = [], [], [], [], [], [], []
    rss = _Rss()
    fills: list[int] = []
    p50s_before_full: list[float] = []
    p50s_after_full: list[float] = []
    latencies = array("q", bytes(8 * events))
    timed = contender.queue
    extra_pass = latency_pass and not contender.queue
    for repeat in range(repeats + (1 if extra_pass else 0)):
        if repeat == repeats:
            timed = True  # one extra repeat measuring per-call latency of the sync path
        path = os.path.join(directory, f"{contender.key}-{repeat}.log")
        gc.collect()
        sink = contender.setup(path)
        if timed:
            timing = _timed(sink, events, latencies, rss)
            total = int(timing["total"])
            ordered = sorted(latencies)
            p50s.append(percentile(ordered, 0.50))
            p99s.append(percentile(ordered, 0.99))
            caller_ns.append(timing["loop"] / events)
            depths.append(int(timing["depth"]))
            growth.append(timing["rss_growth"])
            result["queue_bound"] = sink.queue_bound
            full_at = int(timing["full_at"])
            if 0 < full_at < events:
                fills.append(full_at)
                p50s_before_full.append(percentile(sorted(latencies[:full_at]), 0.50))
                p50s_after_full.append(percentile(sorted(latencies[full_at:]), 0.50))
        else:
            total = _tight(sink, events)
        if repeat < repeats:
            per_event.append(total / events)
        checks.append(check_file(path))
        os.unlink(path)
    result.update(
        status="ok",
        ns_per_event=statistics.median(per_event),
        ns_per_event_all=[round(v, 1) for v in per_event],
        checks=checks,
        lines_ok=all(c["lines"] == events and c["valid"] == events for c in checks),
        secrets_written=sum(c["secret_hits"] for c in checks),
        bytes_per_line=checks[0]["bytes_per_line"],
        peak_rss_mib=round(_maxrss_mib(), 1),
    )
    if p50s:
        result.update(
            p50_ns=statistics.median(p50s),
            p99_ns=statistics.median(p99s),
            caller_ns_per_event=statistics.median(caller_ns),
            max_queue_depth=max(depths),
            rss_growth_mib=round(max(growth), 1),
        )
    if fills:
        result.update(
            queue_full_at=statistics.median(fills),
            p50_before_full_ns=statistics.median(p50s_before_full),
            p50_after_full_ns=statistics.median(p50s_after_full),
        )
    return result


def _batch_ns(redact: Any, events: list[Any], calls: int) -> float:
    """ns per ``redact`` call over one batch of ``calls`` calls, cycling through ``events``."""
    count = len(events)
    start = time.perf_counter_ns()
    for i in range(calls):
        redact(events[i % count])
    return (time.perf_counter_ns() - start) / calls


def run_scaling(repeats: int, budget_s: float) -> dict[str, Any]:
    """Time ``default_redactor().redact`` on the event grown x1..x16; report ns per JSON node.

    "warm": the same event again and again (its strings are memoised as clean after the first
    call); "cold": a cycle of 256 variants whose strings are all new, so every string is scanned.
    Sizes and regimes are interleaved in each of the repeats (a load change hits all sizes).
    """
    try:
        from dihya_logging.redaction._redactor import default_redactor
    except ImportError as exc:
        return {"key": "redaction-scaling", "status": "unavailable", "reason": str(exc)}
    redact = default_redactor().redact
    cases = []
    for scale in SCALES:
        event = scaled_event(scale)
        variants = [unique_variant(event, f"#{i}") for i in range(VARIANTS)]
        nodes = count_nodes(event)
        calls = max(VARIANTS, int(budget_s / repeats / len(SCALES) / 2 * 1e9 / (400 * nodes)))
        clean = json.dumps(redact(variants[0]))
        cases.append((scale, nodes, event, variants, calls, clean))
    samples: dict[tuple[int, str], list[float]] = {}
    for _ in range(repeats):
        for scale, _nodes, event, variants, calls, _clean in cases:
            gc.collect()
            samples.setdefault((scale, "warm"), []).append(_batch_ns(redact, [event], calls))
            samples.setdefault((scale, "cold"), []).append(_batch_ns(redact, variants, calls))
    rows = []
    for scale, nodes, event, _variants, calls, clean in cases:
        warm = statistics.median(samples[scale, "warm"])
        cold = statistics.median(samples[scale, "cold"])
        rows.append(
            {
                "scale": scale,
                "nodes": nodes,
                "json_bytes": len(json.dumps(event)),
                "calls": calls,
                "ns_per_call": warm,
                "ns_per_node": warm / nodes,
                "cold_ns_per_call": cold,
                "cold_ns_per_node": cold / nodes,
                "cold_min_ns_per_node": min(samples[scale, "cold"]) / nodes,
                "secrets_left": sum(clean.count(secret) for secret in SECRETS),
            }
        )
    return {
        "key": "redaction-scaling",
        "status": "ok",
        "rows": rows,
        "cold_growth": rows[-1]["cold_ns_per_node"] / rows[0]["cold_ns_per_node"],
        "warm_growth": rows[-1]["ns_per_node"] / rows[0]["ns_per_node"],
    }


def main(argv: list[str] | None = None) -> int:
    """Command line of the per-process runner (used by `benchmarks.suite`)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.runner")
    parser.add_argument("contender", help="contender key, or 'redaction-scaling'")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", default=".")
    parser.add_argument(
        "--latency-pass", action="store_true", help="add one repeat timing every call"
    )
    parser.add_argument("--budget", type=float, default=10.0, help="seconds for the scaling check")
    args = parser.parse_args(argv)
    try:
        if args.contender == "redaction-scaling":
            result = run_scaling(args.repeats, args.budget)
        else:
            result = run_contender(
                by_key(args.contender), args.events, args.repeats, args.dir, args.latency_pass
            )
    except Exception as exc:
        result = {
            "key": args.contender,
            "status": "error",
            "reason": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=6),
        }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
