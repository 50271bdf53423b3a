"""Terminal output of the `dihya-logs` command: record tables, statistics, progress lines.

Floor 2 (schema only, no I/O beyond the stream it is given). Everything printed from a log goes
through `clean`, so a record holding terminal escape sequences or bidirectional overrides can
neither repaint nor disguise the operator's screen.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import IO, Any, Final, Optional

from dihya_logging._schema import EVENT_GENERATION

__all__ = ["Progress", "RecordTable", "Stats", "clean"]

_UNSAFE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ELLIPSIS: Final = "…"


def clean(value: object) -> str:
    """Printable one-line text of a field: control and bidi characters become ``?``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub("?", text)


def _fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, marking the cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + _ELLIPSIS


def _files_count(record: Mapping[str, Any]) -> str:
    """How many files a generation produced (``files_count`` or the length of ``files``)."""
    count = record.get("files_count")
    if isinstance(count, int) and not isinstance(count, bool):
        return str(count)
    files = record.get("files")
    return str(len(files)) if isinstance(files, list) else ""


def _detail(record: Mapping[str, Any]) -> str:
    """The last column: the error of a generation, a summary of an audit event."""
    if record.get("error"):
        return clean(record["error"])
    event = record.get("event")
    if event in (None, EVENT_GENERATION):
        return "" if event else clean(record.get("message"))
    parts = [f"{key}={clean(record[key])}" for key in ("actor", "mode", "count") if key in record]
    if record.get("destination"):
        parts.append(f"-> {clean(record['destination'])}")
    scope = record.get("filter")
    if isinstance(scope, dict) and scope:
        parts.append(",".join(f"{k}={clean(v)}" for k, v in sorted(scope.items())))
    return " ".join(parts) or clean(record.get("message"))


class RecordTable:
    """An aligned table of records, streamed: widths come from the first rows, then stay fixed."""

    COLUMNS: Final = ("time", "event", "user", "project", "stack", "status", "files", "error")
    CAPS: Final = (24, 10, 24, 28, 12, 7, 5, 80)
    FIXED: Final = (24, 10, 16, 20, 10, 7, 5, 80)
    """Widths of a table printed as records arrive (``tail --follow``): nothing to sample."""
    SAMPLE: Final = 200

    @staticmethod
    def row(record: Mapping[str, Any]) -> list[str]:
        """The cells of one record, cleaned."""
        return [
            clean(record.get("timestamp")),
            clean(record.get("event") or "-"),
            clean(record.get("user_id")),
            clean(record.get("project_name")),
            clean(record.get("stack")),
            clean(record.get("status")),
            _files_count(record),
            _detail(record),
        ]

    def lines(self, records: Iterable[Mapping[str, Any]]) -> Iterator[str]:
        """Header then one line per record (``\\n`` excluded)."""
        iterator = iter(records)
        sample = []
        for record in iterator:
            sample.append(self.row(record))
            if len(sample) >= self.SAMPLE:
                break
        widths = [len(name) for name in self.COLUMNS]
        for cells in sample:
            for index, cell in enumerate(cells):
                widths[index] = max(widths[index], min(len(cell), self.CAPS[index]))
        yield self.join(list(self.COLUMNS), widths)
        for cells in sample:
            yield self.join(cells, widths)
        for record in iterator:
            yield self.join(self.row(record), widths)

    def join(self, cells: list[str], widths: list[int]) -> str:
        """Pad every column but the last; right-align the file count."""
        out = []
        last = len(cells) - 1
        for index, cell in enumerate(cells):
            text = _fit(cell, self.CAPS[index] if index == last else widths[index])
            if index == last:
                out.append(text)
            elif self.COLUMNS[index] == "files":
                out.append(text.rjust(widths[index]))
            else:
                out.append(text.ljust(widths[index]))
        return "  ".join(out).rstrip()


class _Tally:
    """Generations, errors and durations of one group (a stack, a template, a period)."""

    __slots__ = ("durations", "errors", "generations")

    def __init__(self) -> None:
        self.generations = 0
        self.errors = 0
        self.durations: list[float] = []

    def add(self, failed: bool, duration: Optional[float]) -> None:
        self.generations += 1
        self.errors += failed
        if duration is not None:
            self.durations.append(duration)

    def as_dict(self) -> dict[str, Any]:
        """Counts, error rate, and p50/p95 of ``duration_ms`` when records had it."""
        out: dict[str, Any] = {
            "generations": self.generations,
            "errors": self.errors,
            "error_rate": round(self.errors / self.generations, 4) if self.generations else None,
        }
        if self.durations:
            out["p50_ms"] = percentile(self.durations, 50)
            out["p95_ms"] = percentile(self.durations, 95)
        return out


def percentile(values: list[float], rank: float) -> float:
    """The ``rank``-th percentile (nearest rank, as monitoring tools report it)."""
    ordered = sorted(values)
    index = max(math.ceil(rank / 100 * len(ordered)) - 1, 0)
    return ordered[index]


def period_of(stamp: str, by: str) -> str:
    """The period a record's timestamp falls in: ``2026-03-05``, ``2026-W10``, ``2026-03``."""
    if by == "month":
        return stamp[:7]
    if by == "week":
        try:
            year, week, _ = date.fromisoformat(stamp[:10]).isocalendar()
        except ValueError:
            return "(none)"
        return f"{year}-W{week:02d}"
    return stamp[:10]


class Stats:
    """What a log says about generations: counts by status, stack, template, user and period,
    error rates per stack, template and period, and p50/p95 of ``duration_ms`` when present."""

    PERIODS: Final = ("day", "week", "month")
    _FIELDS: Final = {
        "status": "status",
        "stack": "stack",
        "template": "template",
        "user": "user_id",
    }

    def __init__(self, by: Optional[str] = None, top: int = 20) -> None:
        self.by = by
        """Granularity of the periods; None: chosen from the span (day, week, then month)."""
        self.top = top
        """Rows shown per ranking in text and CSV (0: all)."""
        self.events: Counter[str] = Counter()
        self.counts: dict[str, Counter[str]] = {name: Counter() for name in self._FIELDS}
        self.groups: dict[str, dict[str, _Tally]] = {"stack": {}, "template": {}, "day": {}}
        self.overall = _Tally()

    def add(self, record: Mapping[str, Any]) -> None:
        """Count one record (only generation events feed the dimensions)."""
        event = record.get("event")
        self.events[event if isinstance(event, str) else "(none)"] += 1
        if event != EVENT_GENERATION:
            return
        for name, field in self._FIELDS.items():
            value = record.get(field)
            self.counts[name]["(none)" if value in (None, "") else str(value)] += 1
        failed = record.get("status") == "error"
        duration = record.get("duration_ms")
        if isinstance(duration, bool) or not isinstance(duration, (int, float)):
            duration = None
        self.overall.add(failed, duration)
        stamp = record.get("timestamp")
        keys = {
            "stack": record.get("stack"),
            "template": record.get("template"),
            "day": stamp[:10] if isinstance(stamp, str) else None,
        }
        for name, value in keys.items():
            key = "(none)" if value in (None, "") else str(value)
            tally = self.groups[name].get(key)
            if tally is None:
                tally = self.groups[name][key] = _Tally()
            tally.add(failed, duration)

    def granularity(self) -> str:
        """``by``, or the finest of day/week/month giving at most 62 rows over the span."""
        if self.by is not None:
            return self.by
        days = [day for day in self.groups["day"] if day != "(none)"]
        if not days:
            return "day"
        span = (date.fromisoformat(max(days)) - date.fromisoformat(min(days))).days
        return "day" if span <= 62 else "week" if span <= 62 * 7 else "month"

    def periods(self) -> dict[str, _Tally]:
        """Generations per period of the chosen granularity, in date order."""
        by = self.granularity()
        merged: dict[str, _Tally] = {}
        for day, tally in sorted(self.groups["day"].items()):
            key = period_of(day, by) if day != "(none)" else day
            into = merged.setdefault(key, _Tally())
            into.generations += tally.generations
            into.errors += tally.errors
            into.durations.extend(tally.durations)
        return merged

    def _ranked(self, name: str) -> list[tuple[str, _Tally]]:
        return sorted(self.groups[name].items(), key=lambda item: (-item[1].generations, item[0]))

    def as_dict(self) -> dict[str, Any]:
        """Everything, for ``--json``: periods in date order, the rest by count, never cut."""
        by = self.granularity()
        out: dict[str, Any] = {
            "records": sum(self.events.values()),
            "generations": self.events.get(EVENT_GENERATION, 0),
            "events": dict(self.events.most_common()),
            **{f"by_{name}": dict(counter.most_common()) for name, counter in self.counts.items()},
            "period": by,
            f"by_{by}": {key: tally.generations for key, tally in self.periods().items()},
            "overall": self.overall.as_dict(),
            "stacks": {key: tally.as_dict() for key, tally in self._ranked("stack")},
            "templates": {key: tally.as_dict() for key, tally in self._ranked("template")},
            "periods": {key: tally.as_dict() for key, tally in self.periods().items()},
        }
        return out

    def rows(self) -> Iterator[list[Any]]:
        """CSV rows: a header, then one row per group (section, key, counts, rate, p50, p95)."""
        yield ["section", "key", "generations", "errors", "error_rate", "p50_ms", "p95_ms"]
        sections: list[tuple[str, list[tuple[str, _Tally]]]] = [
            ("overall", [("all", self.overall)]),
            ("stack", self._cut(self._ranked("stack"))),
            ("template", self._cut(self._ranked("template"))),
            (self.granularity(), list(self.periods().items())),
        ]
        for section, items in sections:
            for key, tally in items:
                row = tally.as_dict()
                yield [
                    section,
                    clean(key),
                    row["generations"],
                    row["errors"],
                    row["error_rate"],
                    row.get("p50_ms", ""),
                    row.get("p95_ms", ""),
                ]
        for key, count in self._cut(self.counts["user"].most_common()):
            yield ["user", clean(key), count, "", "", "", ""]

    def _cut(self, items: list[Any]) -> list[Any]:
        return items[: self.top] if self.top else items

    def lines(self) -> Iterator[str]:
        """A readable report: counts, error rates, durations; rankings cut to ``top``."""
        total = sum(self.events.values())
        kinds = ", ".join(f"{clean(k)} {v:,}" for k, v in self.events.most_common())
        yield f"records: {total:,}" + (f" ({kinds})" if kinds else "")
        if not self.overall.generations:
            return
        summary = self.overall.as_dict()
        text = f"generations: {self.overall.generations:,}, error rate {summary['error_rate']:.1%}"
        if "p50_ms" in summary:
            text += f", duration p50 {summary['p50_ms']:,.0f} ms, p95 {summary['p95_ms']:,.0f} ms"
        yield text
        yield ""
        yield "by status:"
        statuses = self.counts["status"].most_common()
        width = min(max(len(clean(key)) for key, _ in statuses), 40)
        for key, value in statuses:
            yield f"  {_fit(clean(key), 40).ljust(width)}  {value:>10,}"
        for name, items in (
            ("stack", self._ranked("stack")),
            ("template", self._ranked("template")),
            (self.granularity(), list(self.periods().items())),
        ):
            yield from self._tally_lines(name, items)
        users = self.counts["user"].most_common()
        yield ""
        yield "by user:"
        shown = self._cut(users)
        width = min(max((len(clean(key)) for key, _ in shown), default=4), 40)
        for key, value in shown:
            yield f"  {_fit(clean(key), 40).ljust(width)}  {value:>10,}"
        if len(users) > len(shown):
            yield f"  … and {len(users) - len(shown):,} more (--top N, or --json for all)"

    def _tally_lines(self, name: str, items: list[tuple[str, _Tally]]) -> Iterator[str]:
        """One ranking: generations, errors, error rate and durations per key."""
        periodic = name in self.PERIODS
        shown = items if periodic else self._cut(items)
        timed = any(tally.durations for _, tally in shown)
        width = min(max((len(clean(key)) for key, _ in shown), default=4), 40)
        yield ""
        head = f"  {'':{width}}  {'generations':>11}  {'errors':>8}  {'rate':>6}"
        yield f"by {name}:"
        yield (head + f"  {'p50 ms':>9}  {'p95 ms':>9}" if timed else head).rstrip()
        for key, tally in shown:
            row = tally.as_dict()
            line = (
                f"  {_fit(clean(key), 40).ljust(width)}  {tally.generations:>11,}  "
                f"{tally.errors:>8,}  {row['error_rate']:>6.1%}"
            )
            if timed:
                p50, p95 = row.get("p50_ms"), row.get("p95_ms")
                line += f"  {p50:>9,.0f}  {p95:>9,.0f}" if p50 is not None else ""
            yield line
        if len(items) > len(shown):
            yield f"  … and {len(items) - len(shown):,} more (--top N, or --json for all)"


class Progress:
    """A progress line redrawn on a terminal every ``interval`` seconds; silent elsewhere.

    It draws at the start, every ``interval``, and a last time at the end (so even a short
    operation shows its final state), then erases itself. `update` (records) and
    `update_bytes` (bytes read, of `total_bytes`) only store numbers; a daemon thread draws.
    """

    def __init__(
        self, label: str, stream: IO[str], *, enabled: Optional[bool] = None, interval: float = 0.2
    ) -> None:
        self.label = label
        self.stream = stream
        self.enabled = _isatty(stream) if enabled is None else enabled
        self.interval = interval
        self.count: Optional[int] = None
        self.bytes_done: Optional[int] = None
        self.total_bytes: Optional[int] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._started = 0.0

    def update(self, count: int) -> None:
        """Record how many records are done (called from the working thread)."""
        self.count = count

    def update_bytes(self, done: int) -> None:
        """Record how many bytes of the log are read (called from the working thread)."""
        self.bytes_done = done

    def text(self) -> str:
        """The current state, e.g. ``exporting… 41% of 120.3 MB, 52,000 records (3.1 s)``."""
        parts = []
        done, total = self.bytes_done, self.total_bytes
        if done is not None and total:
            parts.append(f"{min(done * 100 // total, 100)}% of {total / 1e6:.1f} MB")
        elif done is not None:
            parts.append(f"{done / 1e6:.1f} MB read")
        if self.count is not None:
            parts.append(f"{self.count:,} records")
        elapsed = time.monotonic() - self._started
        return f"{self.label}… {', '.join(parts)} ({elapsed:.1f} s)".replace("…  ", "… ")

    def _draw(self) -> None:
        """Write the current state over the previous one."""
        self.stream.write(f"\r{self.text()}\x1b[K")
        self.stream.flush()

    def _run(self) -> None:
        """Redraw until stopped."""
        while not self._stop.wait(self.interval):
            self._draw()

    def __enter__(self) -> Progress:
        if self.enabled:
            self._started = time.monotonic()
            self._draw()
            self._thread = threading.Thread(target=self._run, name="dihya-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._draw()  # the final state, however short the run
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal (False for anything that cannot tell)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
