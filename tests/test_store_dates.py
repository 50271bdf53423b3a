"""Dates the store takes (since, until, before): ISO 8601 the same on every Python, and ages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dihya_logging import get_generation_logs, purge_generation_logs
from dihya_logging._schema import parse_datetime
from tests.helpers_store import record, write_file

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("20260131", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T12", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:34", datetime(2026, 1, 31, 12, 34, tzinfo=UTC)),
        ("2026-01-31 12:34:56", datetime(2026, 1, 31, 12, 34, 56, tzinfo=UTC)),
        ("20260131T123456Z", datetime(2026, 1, 31, 12, 34, 56, tzinfo=UTC)),
        ("2026-01-31T12:34:56.7Z", datetime(2026, 1, 31, 12, 34, 56, 700000, tzinfo=UTC)),
        ("2026-01-31T12:34:56.123456789Z", datetime(2026, 1, 31, 12, 34, 56, 123456, tzinfo=UTC)),
        ("2026-01-31T12:34:56,5+01:00", datetime(2026, 1, 31, 11, 34, 56, 500000, tzinfo=UTC)),
        ("2026-01-31T12:00-0530", datetime(2026, 1, 31, 17, 30, tzinfo=UTC)),
        ("2026-01-31T00:30+02", datetime(2026, 1, 30, 22, 30, tzinfo=UTC)),
    ],
)
def test_iso_8601_forms_parse_without_fromisoformat(text: str, expected: datetime) -> None:
    """Extended and basic ISO 8601, any fraction length, Z or offsets: one UTC moment."""
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    "text", ["2026-02-30", "2026-1-5", "202601-31", "2026-01-31T25:00", "31/01/2026", "7x", ""]
)
def test_non_dates_are_a_clear_value_error(text: str) -> None:
    """Impossible or foreign dates are refused, with the accepted forms in the message."""
    with pytest.raises(ValueError, match=r"not a date.*30d"):
        parse_datetime(text)


@pytest.mark.parametrize(
    ("age", "delta"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        ("1.5D", timedelta(days=1.5)),
    ],
)
def test_ages_count_back_from_now(age: str, delta: timedelta) -> None:
    """An age is that long before now."""
    now = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
    assert parse_datetime(age, now=now) == now - delta


def test_api_reads_and_purges_take_ages(log_path: Path) -> None:
    """since/until/before accept ages: old records are found and purged, recent ones kept."""
    recent = datetime.now(UTC) - timedelta(hours=1)
    fresh = dict(record(2, "u"), timestamp=recent.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    write_file(log_path, [record(1, "u"), fresh])
    assert [r["n"] for r in get_generation_logs(since="2h", path=log_path)] == [2]
    assert [r["n"] for r in get_generation_logs(until="1d", path=log_path)] == [1]
    assert purge_generation_logs(before="30d", path=log_path) == 1
    assert [r.get("n") for r in get_generation_logs(path=log_path)] == [2, None]
