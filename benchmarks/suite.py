"""Runs every contender in fresh processes, interleaved, then the redaction-scaling check.

Each run is ``python -m benchmarks.runner KEY`` (one repeat) in a temporary directory; the
answers of a contender's rounds are merged into one entry (medians, every file check kept),
together with a note of the machine's state.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from .contenders import CONTENDERS

__all__ = ["ROOT", "environment", "merge_rounds", "run_process", "run_suite"]

ROOT = Path(__file__).resolve().parent.parent
SCALING = "redaction-scaling"
PACKAGES = (
    "python-json-logger",
    "orjson",
    "structlog",
    "loguru",
    "concurrent-log-handler",
    "dihya-logging",
)


def environment() -> dict[str, Any]:
    """Interpreter, library versions, CPU count and load: the context a number needs."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "versions": versions,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run_process(args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``python -m benchmarks.runner ARGS`` in a fresh interpreter; parse its JSON answer."""
    command = [sys.executable, "-m", "benchmarks.runner", *args]
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"key": args[0], "status": "error", "reason": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    try:
        answer: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = done.stderr.strip().splitlines()[-3:]
        return {
            "key": args[0],
            "status": "error",
            "reason": f"runner exited {done.returncode}: {' | '.join(tail)}",
        }
    if done.returncode != 0:
        answer.setdefault("reason", f"runner exited {done.returncode}")
    return answer


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def merge_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One contender's entry from its per-round answers (medians, all checks kept)."""
    first = rounds[0]
    failed = [r for r in rounds if r.get("status") != "ok"]
    if failed:
        return {**failed[0], "rounds_ok": len(rounds) - len(failed)}
    merged = {key: value for key, value in first.items() if key != "checks"}
    merged["repeats"] = len(rounds)
    merged["ns_per_event_all"] = [round(r["ns_per_event"], 1) for r in rounds]
    merged["ns_per_event"] = statistics.median(r["ns_per_event"] for r in rounds)
    merged["checks"] = [check for r in rounds for check in r["checks"]]
    merged["lines_ok"] = all(r["lines_ok"] for r in rounds)
    merged["secrets_written"] = sum(r["secrets_written"] for r in rounds)
    merged["peak_rss_mib"] = max(r["peak_rss_mib"] for r in rounds)
    timed = [r for r in rounds if "p50_ns" in r]
    if timed:
        for key in ("p50_ns", "p99_ns", "caller_ns_per_event"):
            merged[key] = statistics.median(r[key] for r in timed)
        merged["max_queue_depth"] = max(r["max_queue_depth"] for r in timed)
        merged["rss_growth_mib"] = max(r["rss_growth_mib"] for r in timed)
    filled = [r for r in rounds if "queue_full_at" in r]
    if filled:
        for key in ("queue_full_at", "p50_before_full_ns", "p50_after_full_ns"):
            merged[key] = statistics.median(r[key] for r in filled)
        merged["rounds_queue_filled"] = len(filled)
    return merged


def run_suite(
    keys: Iterable[str] | None,
    events: int,
    repeats: int,
    *,
    scaling: bool = True,
    scaling_budget: float = 10.0,
) -> dict[str, Any]:
    """Run the selected contenders (all by default) and the scaling check; return the results.

    Repeats are interleaved: round r runs every contender once, each in a fresh process, so a
    change in the machine's load during the run weighs on all contenders alike.
    """
    wanted = set(keys) if keys is not None else {c.key for c in CONTENDERS}
    chosen = [c for c in CONTENDERS if c.key in wanted]
    results: dict[str, Any] = {
        "environment": environment(),
        "events": events,
        "repeats": repeats,
        "contenders": {},
    }
    answers: dict[str, list[dict[str, Any]]] = {c.key: [] for c in chosen}
    with tempfile.TemporaryDirectory(prefix="dihya-bench-") as directory:
        for round_no in range(repeats):
            _say(f"[bench] round {round_no + 1}/{repeats}: {events:,} events per contender")
            for contender in chosen:
                done = answers[contender.key]
                if done and done[-1].get("status") != "ok":
                    continue  # unavailable or broken: do not retry every round
                args = [contender.key, "--events", str(events), "--repeats", "1"]
                args += ["--dir", directory]
                if round_no == 0 and contender.latency_pass:
                    args.append("--latency-pass")
                answer = run_process(args, timeout=max(120.0, events * 3 * 400e-6))
                done.append(answer)
                if answer.get("status") == "ok":
                    value = f"{answer['ns_per_event'] / 1000:.2f} us/event"
                    if not answer.get("lines_ok"):
                        value += " (LINES LOST OR BROKEN)"
                else:
                    value = f"{answer.get('status')}: {answer.get('reason')}"
                _say(f"[bench]   ({contender.number}) {contender.key}: {value}")
    for contender in chosen:
        entry = merge_rounds(answers[contender.key])
        entry.update(number=contender.number, label=contender.label, redacts=contender.redacts)
        results["contenders"][contender.key] = entry
    if scaling:
        _say("[bench] redaction engine alone, event x1..x16")
        results["scaling"] = run_process(
            [SCALING, "--repeats", str(repeats), "--budget", str(scaling_budget)], timeout=600.0
        )
    results["environment"]["loadavg_end"] = os.getloadavg()
    return results
