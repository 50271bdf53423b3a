"""Turns suite results into the Markdown table, the issue-6 verdicts and a JSON file.

Ratios are always against contenders (1) and (2) measured in the same run, so the verdicts
do not depend on how fast (or how busy) the machine was.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

__all__ = ["RESULTS_DIR", "markdown", "scaling_table", "targets", "write_json"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BOUNDED_RSS_MIB = 64.0
"""A queue burst may grow the resident memory by at most this much to count as bounded."""
LINEAR_GROWTH = 1.5
"""Redaction is linear when its cost per JSON node at x16 is at most this factor of x1's."""


def _ns(entry: Optional[dict[str, Any]], field: str = "ns_per_event") -> Optional[float]:
    if not entry or entry.get("status") != "ok":
        return None
    value = entry.get(field)
    return float(value) if value is not None else None


def _us(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value / 1000:.2f}"


def _ratio(value: Optional[float], base: Optional[float]) -> str:
    return "n/a" if value is None or not base else f"{value / base:.2f}x"


def _notes(entry: dict[str, Any]) -> str:
    if entry.get("status") != "ok":
        return f"**{entry.get('status', 'error')}**: {entry.get('reason', '?')}"
    notes = []
    if not entry.get("lines_ok"):
        bad = [c for c in entry.get("checks", []) if c["lines"] != entry["events"]]
        counts = ", ".join(f"{c['lines']}/{c['valid']}" for c in bad[:3])
        notes.append(f"**LOST OR BROKEN LINES** (lines/valid: {counts})")
    secrets = entry.get("secrets_written", 0)
    if entry.get("redacts"):
        notes.append("redacts" if not secrets else f"**LEAKED {secrets} secrets**")
    else:
        notes.append("no redaction (secrets written)" if secrets else "no redaction")
    if "p50_ns" in entry:
        notes.append(f"caller p50 {_us(entry['p50_ns'])} us, p99 {_us(entry['p99_ns'])} us")
    if entry.get("max_queue_depth") is not None and entry.get("queue_bound") is not None:
        notes.append(f"queue depth <= {entry['max_queue_depth']} (bound {entry['queue_bound']})")
    if "queue_full_at" in entry:
        notes.append(
            f"queue full after ~{entry['queue_full_at']:,.0f} events: caller p50 "
            f"{_us(entry['p50_before_full_ns'])} us before, {_us(entry['p50_after_full_ns'])} us "
            "after (back-pressure)"
        )
    if entry.get("rss_growth_mib") is not None and "p50_ns" in entry:
        notes.append(f"RSS +{entry['rss_growth_mib']} MiB")
    notes.append(f"{entry.get('bytes_per_line', '?')} B/line")
    return "; ".join(notes)


def markdown(results: dict[str, Any]) -> str:
    """The contender table, the scaling table and the targets, as Markdown."""
    contenders = results["contenders"]
    base1 = _ns(contenders.get("pjl-json"))
    base2 = _ns(contenders.get("pjl-orjson"))
    rows = [
        "| # | contender | us/event | vs (1) | vs (2) | notes |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for entry in contenders.values():
        value = _ns(entry)
        rows.append(
            f"| {entry['number']} | {entry['label']} | {_us(value)} | {_ratio(value, base1)} "
            f"| {_ratio(value, base2)} | {_notes(entry)} |"
        )
    env = results["environment"]
    head = (
        f"Median of {results['repeats']} repeats x {results['events']:,} events, each contender "
        f"in a fresh process, end to end into a file (Python {env['python']}, {env['cpus']} CPUs, "
        f"load {env['loadavg_start'][0]:.2f} -> {env.get('loadavg_end', [0.0])[0]:.2f})."
    )
    parts = [head, "", *rows]
    if results.get("scaling"):
        parts += ["", scaling_table(results["scaling"])]
    parts += ["", "| target (issue 6) | measured | verdict |", "| --- | --- | --- |"]
    parts += [
        f"| {name} | {measured} | {verdict} |" for name, measured, verdict in targets(results)
    ]
    return "\n".join(parts)


def scaling_table(scaling: dict[str, Any]) -> str:
    """Cost of ``default_redactor().redact`` on the event grown x1..x16."""
    if scaling.get("status") != "ok":
        return f"Redaction scaling: **{scaling.get('status')}**: {scaling.get('reason')}"
    rows = [
        "| event size | JSON nodes | JSON bytes | warm us/redact | warm ns/node "
        "| cold us/redact | cold ns/node | secrets left |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in scaling["rows"]:
        rows.append(
            f"| x{row['scale']} | {row['nodes']} | {row['json_bytes']} | "
            f"{row['ns_per_call'] / 1000:.2f} | {row['ns_per_node']:.1f} | "
            f"{row['cold_ns_per_call'] / 1000:.2f} | {row['cold_ns_per_node']:.1f} | "
            f"{row['secrets_left']} |"
        )
    rows.append("\nwarm: the same event again (strings memoised as clean); cold: every string new.")
    return "\n".join(rows)


def _verdict(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "**FAIL**")


def targets(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, PASS/FAIL/n/a) for each target of issue 6, from this run's numbers."""
    c = results["contenders"]
    dihya, base1, base2 = _ns(c.get("dihya")), _ns(c.get("pjl-json")), _ns(c.get("pjl-orjson"))
    structlog, loguru = _ns(c.get("structlog")), _ns(c.get("loguru"))
    out: list[tuple[str, str, str]] = []

    def compare(name: str, value: Optional[float], bound: Optional[float], factor: float) -> None:
        if value is None or bound is None:
            out.append((name, "n/a", "n/a"))
            return
        out.append((name, f"{value / bound:.2f}x", _verdict(value <= factor * bound)))

    compare("dihya end to end <= (1) pjl JsonFormatter", dihya, base1, 1.0)
    compare("dihya end to end <= 1.5x (2) pjl OrjsonFormatter", dihya, base2, 1.5)
    compare("dihya faster than (3) structlog+redaction", dihya, structlog, 1.0)
    compare("dihya faster than (4) loguru", dihya, loguru, 1.0)
    queue = c.get("dihya-queue") or {}
    compare("queue mode caller p50 <= 0.6x sync end to end", _ns(queue, "p50_ns"), dihya, 0.6)
    if queue.get("status") == "ok":
        growth, depth, bound = (
            queue["rss_growth_mib"],
            queue["max_queue_depth"],
            queue["queue_bound"],
        )
        bounded = growth <= BOUNDED_RSS_MIB and (bound is None or depth <= bound)
        out.append(
            (
                f"queue mode memory bounded under a {queue['events']:,}-event burst",
                f"RSS +{growth} MiB, depth <= {depth} (bound {bound})",
                _verdict(bounded),
            )
        )
        lines = [check["lines"] for check in queue["checks"]]
        out.append(
            (
                "queue mode drops nothing",
                f"lines per repeat {min(lines):,}..{max(lines):,} of {queue['events']:,}",
                _verdict(bool(queue["lines_ok"])),
            )
        )
    else:
        out.append(("queue mode bounded memory, no drop", "n/a", "n/a"))
    for key in ("dihya", "dihya-queue", "dihya-formatter"):
        entry = c.get(key)
        if entry and entry.get("status") == "ok":
            secrets = entry["secrets_written"]
            out.append((f"{key}: no secret written", f"{secrets} hits", _verdict(secrets == 0)))
    scaling = results.get("scaling") or {}
    if scaling.get("status") == "ok":
        rows = scaling["rows"]
        out.append(
            (
                "redaction cost linear in event size: cold ns/node at x16 <= "
                f"{LINEAR_GROWTH}x that at x1 (every string new)",
                f"{rows[0]['cold_ns_per_node']:.0f} -> {rows[-1]['cold_ns_per_node']:.0f} ns/node "
                f"({scaling['cold_growth']:.2f}x)",
                _verdict(scaling["cold_growth"] <= LINEAR_GROWTH),
            )
        )
        out.append(
            (
                "  same, warm (the same event again: strings memoised)",
                f"{rows[0]['ns_per_node']:.0f} -> {rows[-1]['ns_per_node']:.0f} ns/node "
                f"({scaling['warm_growth']:.2f}x)",
                _verdict(scaling["warm_growth"] <= LINEAR_GROWTH),
            )
        )
    else:
        out.append(("redaction cost linear in event size", "n/a", "n/a"))
    return out


def write_json(results: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Write the results to ``benchmarks/results/bench-<UTC time>.json`` and ``latest.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    text = json.dumps(results, indent=2, default=str)
    path = directory / f"bench-{stamp}.json"
    path.write_text(text + "\n", encoding="utf-8")
    (directory / "latest.json").write_text(text + "\n", encoding="utf-8")
    return path
