"""Tests for store._backend: the record filter every store applies."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dihya_logging.store._backend import RecordFilter, is_database_location

RECORD = {
    "timestamp": "2026-11-23T12:00:00.000Z",
    "event": "generation",
    "user_id": "user_1",
    "status": "success",
}


def test_empty_filter_matches_everything() -> None:
    """A filter built with no criteria is empty and matches any record, even a bare one."""
    flt = RecordFilter.build()
    assert flt.is_empty
    assert flt.matches(RECORD) and flt.matches({})


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"user_id": "user_1"}, True),
        ({"user_id": "user_2"}, False),
        ({"status": "error"}, False),
        ({"event": "generation", "status": "success"}, True),
        ({"since": "2026-11-23T12:00:00Z"}, True),
        ({"since": "2026-11-23T12:00:00.001Z"}, False),
        ({"until": "2026-11-23T12:00:00Z"}, False),
        ({"until": "2026-11-24"}, True),
    ],
)
def test_filter_criteria_all_must_hold(criteria: dict[str, str], expected: bool) -> None:
    """Each criterion narrows the match; since is inclusive and until exclusive."""
    assert RecordFilter.build(**criteria).matches(RECORD) is expected  # type: ignore[arg-type]


def test_time_filter_rejects_records_without_a_valid_timestamp() -> None:
    """With a time bound, a record whose timestamp is missing or broken does not match."""
    flt = RecordFilter.build(since="2020-01-01")
    assert not flt.matches({"user_id": "u"})
    assert not flt.matches({"timestamp": "garbage"})


def test_filter_build_validates_input() -> None:
    """Bad types, unknown statuses and inverted ranges raise clear errors."""
    with pytest.raises(TypeError, match="user_id"):
        RecordFilter.build(user_id=1.5)
    with pytest.raises(ValueError, match="status"):
        RecordFilter.build(status="maybe")
    with pytest.raises(ValueError, match="before until"):
        RecordFilter.build(since="2026-02-01", until="2026-01-01")


def test_describe_names_the_criteria_as_text() -> None:
    """describe() gives printable criteria for audit events."""
    flt = RecordFilter.build(status="error", since=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert flt.describe() == {"status": "error", "since": "2026-01-01T00:00:00+00:00"}


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("postgresql://u@localhost/db", True),
        ("postgres://localhost/db", True),
        ("POSTGRESQL+psycopg://h/db", True),
        ("host=db dbname=logs", True),
        (" dbname = logs user=app", True),
        ("hostname=x.log", False),
        ("logs/generation.log", False),
        ("postgresql.log", False),
        (None, False),
    ],
)
def test_database_locations_are_recognised(location: object, expected: bool) -> None:
    """postgres(ql):// URLs and libpq key/value DSNs are database locations; paths are not."""
    assert is_database_location(location) is expected
