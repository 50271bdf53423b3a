"""Tests for _schema: timestamps and date parsing."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dihya_logging._schema import format_timestamp, parse_datetime, parse_timestamp, safe_extra


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_format_timestamp_is_utc_millisecond_iso_with_z(created: float) -> None:
    """Any Unix time formats as UTC ISO 8601 with exactly 3 fraction digits and a Z."""
    text = format_timestamp(created)
    assert len(text) == 24 and text.endswith("Z") and text[19] == "."
    parsed = datetime.fromisoformat(text[:-1] + "+00:00")
    expected = datetime.fromtimestamp(created, tz=timezone.utc)
    assert timedelta(0) <= expected - parsed < timedelta(milliseconds=1)


def test_format_timestamp_cache_does_not_stick_to_previous_second() -> None:
    """Consecutive calls in different seconds give different second texts."""
    assert format_timestamp(0.5) == "1970-01-01T00:00:00.500Z"
    assert format_timestamp(1.25) == "1970-01-01T00:00:01.250Z"
    assert format_timestamp(0.9999) == "1970-01-01T00:00:00.999Z"
    assert format_timestamp(1.9) == "1970-01-01T00:00:01.900Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-23", datetime(2026, 11, 23, tzinfo=timezone.utc)),
        ("2026-11-23T12:30:00Z", datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)),
        ("2026-11-23T13:30:00+01:00", datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)),
        (date(2026, 1, 2), datetime(2026, 1, 2, tzinfo=timezone.utc)),
        (datetime(2026, 1, 2, 3), datetime(2026, 1, 2, 3, tzinfo=timezone.utc)),
        (0, datetime(1970, 1, 1, tzinfo=timezone.utc)),
    ],
)
def test_parse_datetime_accepts_iso_dates_and_numbers(value: object, expected: datetime) -> None:
    """ISO text, dates, naive/aware datetimes and Unix times all become aware UTC datetimes."""
    assert parse_datetime(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "", "23/11/2026"])
def test_parse_datetime_rejects_bad_text_with_clear_value_error(value: str) -> None:
    """Unparseable text raises ValueError naming the value and the expected format."""
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_datetime(value)


@pytest.mark.parametrize("value", [None, True, [2026], object()])
def test_parse_datetime_rejects_wrong_types(value: object) -> None:
    """Non-date types raise TypeError."""
    with pytest.raises(TypeError):
        parse_datetime(value)  # type: ignore[arg-type]


def test_parse_timestamp_round_trips_and_tolerates_garbage() -> None:
    """A record timestamp parses back; malformed or missing ones give None."""
    stamp = format_timestamp(1_700_000_000.123)
    assert parse_timestamp(stamp) == datetime.fromtimestamp(
        1_700_000_000.123, timezone.utc
    ).replace(microsecond=123000)
    assert parse_timestamp("not a timestamp at all") is None
    assert parse_timestamp(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2026-01-02T00:00:01.0015Z", 1500),
        ("2026-01-02T00:00:01.5Z", 500_000),
        ("2026-01-02T00:00:01.1234567Z", 123_456),
    ],
)
def test_parse_datetime_accepts_any_number_of_fraction_digits(text: str, micros: int) -> None:
    """1 to 7+ fraction digits parse on every supported Python (3.9 accepts only 3 or 6)."""
    assert parse_datetime(text).microsecond == micros


def test_safe_extra_renames_record_attributes_and_keeps_every_value() -> None:
    """Keys a LogRecord already has become extra_<key>; others pass through; none is lost."""
    fields = {"name": "n", "args": [1], "extra_name": "mine", "actor": "dpo"}
    safe = safe_extra(fields)
    assert safe == {
        "extra_name": "n",
        "extra_args": [1],
        "extra_extra_name": "mine",
        "actor": "dpo",
    }
    record = logging.getLogger("t").makeRecord("t", logging.INFO, "f", 1, "m", (), None, extra=safe)
    assert record.name == "t"
    assert record.extra_extra_name == "mine"
