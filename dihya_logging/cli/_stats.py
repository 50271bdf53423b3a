"""What ``dihya-logs stats`` and ``report`` show, as one result type, whoever computed it.

Floor 2 (schema only, no I/O). `Stats` holds the figures and renders them (text, JSON, CSV; the
HTML report reads `Stats.as_dict`). A file log fills it with `Stats.from_records`, which counts
every record here; a PostgreSQL store fills it from aggregates the database computed (see
``dihya_logging/postgres/_stats.py``). Both follow the definitions below, so the same records
give the same output byte for byte:

* only ``generation`` events feed the dimensions; every record counts in ``events``;
* a group's key is the field's text; a missing, null or empty field is ``(none)``; any other
  JSON value is its JSON text (`group_key`);
* a duration is a JSON number (not a boolean) of magnitude below 1e308 (`duration_of`);
  p50/p95 are nearest-rank percentiles (`percentile`), shown as an integer when whole;
* a record's day is the UTC date of its ``timestamp`` (``(none)`` when it has no readable
  one); weeks are ISO weeks (``2026-W10``), months ``2026-03``;
* rankings are by count, most first, ties by key in code-point order (`ranked`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timezone
from typing import Any, Final, Generic, Optional, TypeVar

from dihya_logging._schema import EVENT_GENERATION, parse_timestamp
from dihya_logging.cli._console import clean, fit

__all__ = [
    "NONE_KEY",
    "PERIODS",
    "Figures",
    "Ranking",
    "Stats",
    "duration_of",
    "granularity_of",
    "group_key",
    "percentile",
    "period_key",
    "ranked",
]

NONE_KEY: Final = "(none)"
"""The key of records whose field is missing, null or empty."""
PERIODS: Final = ("day", "week", "month")
COUNTED: Final = {"status": "status", "user": "user_id"}
"""The dimensions only counted (``by_<name>`` in JSON) and the record field each one reads;
stacks, templates and periods get `Figures`."""
DURATION_LIMIT: Final = 1e308
"""A duration's magnitude must stay below this (what both Python and SQL floats hold)."""
MORE_HINT: Final = "(--top N, or --json for all)"

T = TypeVar("T")


def group_key(value: object) -> str:
    """A field's group: a string as is, ``(none)`` for missing/null/empty, else its JSON text."""
    if isinstance(value, str):
        return value or NONE_KEY
    if value is None:
        return NONE_KEY
    return json.dumps(value, ensure_ascii=False)


def duration_of(value: object) -> Optional[float]:
    """``duration_ms`` as a float, or None when it is no usable number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value) if abs(value) < DURATION_LIMIT else math.inf
    return number if math.isfinite(number) else None


def whole(value: float) -> float:
    """``value``, as an int when it is whole (``120`` rather than ``120.0``)."""
    return int(value) if float(value).is_integer() else value


def percentile(values: list[float], rank: float) -> float:
    """The ``rank``-th percentile: nearest rank, the first value whose position in the sorted
    list reaches ``rank``% (what monitoring tools report and SQL's ``percentile_disc`` gives)."""
    ordered = sorted(values)
    index = max(math.ceil(rank / 100 * len(ordered)) - 1, 0)
    return whole(ordered[index])


def day_of(stamp: object) -> str:
    """The UTC date (``2026-03-05``) of a record's ``timestamp``, ``(none)`` if unreadable."""
    parsed = parse_timestamp(stamp)  # type: ignore[arg-type]
    if parsed is None:
        return NONE_KEY
    assert isinstance(stamp, str)
    if stamp[-1] == "Z" and stamp[4] == "-":  # the formatter's UTC stamps: the date is there
        return stamp[:10]
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc)
    return parsed.date().isoformat()


def period_key(day: date, by: str) -> str:
    """The period a UTC day falls in: ``2026-03-05``, ``2026-W10`` or ``2026-03``."""
    if by == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if by == "week":
        year, week, _ = day.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return day.isoformat()


def granularity_of(first: Optional[date], last: Optional[date]) -> str:
    """The finest of day/week/month giving at most 62 periods from ``first`` to ``last``."""
    if first is None or last is None:
        return "day"
    span = (last - first).days
    return "day" if span <= 62 else "week" if span <= 62 * 7 else "month"


def ranked(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """``counts`` most first, ties by key (code points: SQL's ``COLLATE "C"`` on UTF-8)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class Figures:
    """Generations, errors and duration percentiles of one group (a stack, a period, …)."""

    generations: int
    errors: int
    p50_ms: Optional[float] = None
    p95_ms: Optional[float] = None
    """None when no record of the group had a duration."""

    def as_dict(self) -> dict[str, Any]:
        """Counts, error rate, and p50/p95 of ``duration_ms`` when records had it."""
        out: dict[str, Any] = {
            "generations": self.generations,
            "errors": self.errors,
            "error_rate": round(self.errors / self.generations, 4) if self.generations else None,
        }
        if self.p50_ms is not None:
            out["p50_ms"] = self.p50_ms
            out["p95_ms"] = self.p95_ms
        return out


@dataclass(frozen=True)
class Ranking(Generic[T]):
    """The first keys of a ranking (all of them unless cut to ``--top``) and how many exist."""

    items: list[tuple[str, T]]
    total: int

    @property
    def hidden(self) -> int:
        """How many keys the cut left out."""
        return self.total - len(self.items)


@dataclass(frozen=True)
class Stats:
    """What a log says about generations: counts by event, status, stack, template, user and
    period, error rates per stack, template and period, and p50/p95 of ``duration_ms``.

    Rankings (stacks, templates, users) may be cut to ``top``: `lines` and `rows` show what
    they hold and say how many more exist; `as_dict` (``--json``, the report) is meant for
    uncut ones (``top=0``).
    """

    by: str
    """Granularity of `periods`: day, week or month."""
    top: int
    """Rows shown per ranking in text and CSV (0: all)."""
    events: list[tuple[str, int]]
    statuses: list[tuple[str, int]]
    users: Ranking[int]
    overall: Figures
    stacks: Ranking[Figures]
    templates: Ranking[Figures]
    periods: list[tuple[str, Figures]] = field(default_factory=list)
    """In date order; a ``(none)`` period (records without a readable timestamp) first."""

    @classmethod
    def from_records(
        cls, records: Iterable[Mapping[str, Any]], *, by: Optional[str] = None, top: int = 20
    ) -> Stats:
        """Count ``records`` (a file log's); ``by`` None: chosen from the span."""
        tally = _RecordTally()
        for record in records:
            tally.add(record)
        return tally.stats(by, top)

    # -- output ------------------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        """Everything, for ``--json``: periods in date order, the rest by count."""
        return {
            "records": sum(count for _, count in self.events),
            "generations": dict(self.events).get(EVENT_GENERATION, 0),
            "events": dict(self.events),
            "by_status": dict(self.statuses),
            "by_stack": {key: figures.generations for key, figures in self.stacks.items},
            "by_template": {key: figures.generations for key, figures in self.templates.items},
            "by_user": dict(self.users.items),
            "period": self.by,
            f"by_{self.by}": {key: figures.generations for key, figures in self.periods},
            "overall": self.overall.as_dict(),
            "stacks": {key: figures.as_dict() for key, figures in self.stacks.items},
            "templates": {key: figures.as_dict() for key, figures in self.templates.items},
            "periods": {key: figures.as_dict() for key, figures in self.periods},
        }

    def rows(self) -> Iterator[list[Any]]:
        """CSV rows: a header, then one row per group (section, key, counts, rate, p50, p95)."""
        yield ["section", "key", "generations", "errors", "error_rate", "p50_ms", "p95_ms"]
        sections: list[tuple[str, list[tuple[str, Figures]]]] = [
            ("overall", [("all", self.overall)]),
            ("stack", self.stacks.items[: self._shown(self.stacks)]),
            ("template", self.templates.items[: self._shown(self.templates)]),
            (self.by, self.periods),
        ]
        for section, items in sections:
            for key, figures in items:
                row = figures.as_dict()
                yield [
                    section,
                    clean(key),
                    row["generations"],
                    row["errors"],
                    row["error_rate"],
                    row.get("p50_ms", ""),
                    row.get("p95_ms", ""),
                ]
        for key, count in self.users.items[: self._shown(self.users)]:
            yield ["user", clean(key), count, "", "", "", ""]

    def _shown(self, ranking: Ranking[Any]) -> int:
        return min(self.top, len(ranking.items)) if self.top else len(ranking.items)

    def lines(self) -> Iterator[str]:
        """A readable report: counts, error rates, durations; rankings cut to ``top``."""
        total = sum(count for _, count in self.events)
        kinds = ", ".join(f"{clean(k)} {v:,}" for k, v in self.events)
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
        width = min(max(len(clean(key)) for key, _ in self.statuses), 40)
        for key, value in self.statuses:
            yield f"  {fit(clean(key), 40).ljust(width)}  {value:>10,}"
        yield from self._figure_lines("stack", self.stacks)
        yield from self._figure_lines("template", self.templates)
        yield from self._figure_lines(self.by, Ranking(self.periods, len(self.periods)))
        shown = self.users.items[: self._shown(self.users)]
        yield ""
        yield "by user:"
        width = min(max((len(clean(key)) for key, _ in shown), default=4), 40)
        for key, value in shown:
            yield f"  {fit(clean(key), 40).ljust(width)}  {value:>10,}"
        if self.users.total > len(shown):
            yield f"  … and {self.users.total - len(shown):,} more {MORE_HINT}"

    def _figure_lines(self, name: str, ranking: Ranking[Figures]) -> Iterator[str]:
        """One ranking: generations, errors, error rate and durations per key."""
        shown = ranking.items if name in PERIODS else ranking.items[: self._shown(ranking)]
        timed = any(figures.p50_ms is not None for _, figures in shown)
        width = min(max((len(clean(key)) for key, _ in shown), default=4), 40)
        yield ""
        head = f"  {'':{width}}  {'generations':>11}  {'errors':>8}  {'rate':>6}"
        yield f"by {name}:"
        yield (head + f"  {'p50 ms':>9}  {'p95 ms':>9}" if timed else head).rstrip()
        for key, figures in shown:
            line = (
                f"  {fit(clean(key), 40).ljust(width)}  {figures.generations:>11,}  "
                f"{figures.errors:>8,}  {figures.as_dict()['error_rate']:>6.1%}"
            )
            if timed and figures.p50_ms is not None:
                line += f"  {figures.p50_ms:>9,.0f}  {figures.p95_ms:>9,.0f}"
            yield line
        if ranking.total > len(shown):
            yield f"  … and {ranking.total - len(shown):,} more {MORE_HINT}"


class _Group:
    """Generations, errors and durations of one group, while records are counted."""

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

    def merge(self, other: _Group) -> None:
        self.generations += other.generations
        self.errors += other.errors
        self.durations.extend(other.durations)

    def figures(self) -> Figures:
        if not self.durations:
            return Figures(self.generations, self.errors)
        return Figures(
            self.generations,
            self.errors,
            percentile(self.durations, 50),
            percentile(self.durations, 95),
        )


class _RecordTally:
    """Counts records one by one (a file log) into what `Stats` holds."""

    def __init__(self) -> None:
        self.events: dict[str, int] = {}
        self.counts: dict[str, dict[str, int]] = {name: {} for name in COUNTED}
        self.groups: dict[str, dict[str, _Group]] = {"stack": {}, "template": {}, "day": {}}
        self.overall = _Group()

    def add(self, record: Mapping[str, Any]) -> None:
        """Count one record (only generation events feed the dimensions)."""
        event = record.get("event")
        kind = event if isinstance(event, str) else NONE_KEY
        self.events[kind] = self.events.get(kind, 0) + 1
        if event != EVENT_GENERATION:
            return
        for name, field_name in COUNTED.items():
            counter = self.counts[name]
            key = group_key(record.get(field_name))
            counter[key] = counter.get(key, 0) + 1
        failed = record.get("status") == "error"
        duration = duration_of(record.get("duration_ms"))
        self.overall.add(failed, duration)
        for name, key in (
            ("stack", group_key(record.get("stack"))),
            ("template", group_key(record.get("template"))),
            ("day", day_of(record.get("timestamp"))),
        ):
            group = self.groups[name].get(key)
            if group is None:
                group = self.groups[name][key] = _Group()
            group.add(failed, duration)

    def stats(self, by: Optional[str], top: int) -> Stats:
        """The figures, periods of ``by`` (None: from the span), rankings whole."""
        days = sorted(self.groups["day"])
        dated = [date.fromisoformat(day) for day in days if day != NONE_KEY]
        if by is None:
            by = granularity_of(dated[0] if dated else None, dated[-1] if dated else None)
        periods: dict[str, _Group] = {}
        for day in days:  # "(none)" sorts first, then chronological
            key = day if day == NONE_KEY else period_key(date.fromisoformat(day), by)
            periods.setdefault(key, _Group()).merge(self.groups["day"][day])
        return Stats(
            by=by,
            top=top,
            events=ranked(self.events),
            statuses=ranked(self.counts["status"]),
            users=Ranking(ranked(self.counts["user"]), len(self.counts["user"])),
            overall=self.overall.figures(),
            stacks=self._ranking("stack"),
            templates=self._ranking("template"),
            periods=[(key, group.figures()) for key, group in periods.items()],
        )

    def _ranking(self, name: str) -> Ranking[Figures]:
        groups = self.groups[name]
        order = ranked({key: group.generations for key, group in groups.items()})
        return Ranking([(key, groups[key].figures()) for key, _ in order], len(groups))
