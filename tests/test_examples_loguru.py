"""loguru users: the shipped sink and examples/loguru_app.py, with real loguru."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from loguru import logger

from dihya_logging.integrations.loguru import LoguruSink
from tests.helpers_examples import SECRETS, assert_no_secret, read_log, run_example
from tests.helpers_records import Capture, json_stream, private_logger


@pytest.fixture
def sink_to() -> Iterator[Callable[[str], None]]:
    """Add a `LoguruSink` for a stdlib logger name (every level) and remove it afterwards."""
    added: list[int] = []

    def add(name: str) -> None:
        added.append(logger.add(LoguruSink(name), level=0, catch=False))

    yield add
    for sink_id in added:
        logger.remove(sink_id)


def test_example_app_writes_masked_records_with_bound_fields(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """The example's records carry bound fields at the top level, loguru's level names, masked."""
    run_example("loguru_app.py", tmp_path, subprocess_env, "logs")
    accepted, stored, failed = read_log(tmp_path / "logs" / "app.log")  # debug is not written
    assert accepted["message"] == "payment accepted"
    assert (accepted["user_id"], accepted["request_id"], accepted["amount"]) == (
        42,
        "req-7f3a",
        12.5,
    )
    assert stored["level"] == "SUCCESS" and stored["api_key"] == "[REDACTED]"
    assert failed["level"] == "ERROR" and failed["db"] == {"password": "[REDACTED]"}
    assert "ConnectionError" in failed["exc_info"] and "[REDACTED]" in failed["exc_info"]
    (event,) = read_log(tmp_path / "logs" / "generation.log")
    assert event["event"] == "generation" and event["user_id"] == "42"
    assert_no_secret(tmp_path)


def test_record_keeps_loguru_time_place_and_clashing_fields(sink_to: Callable[[str], None]) -> None:
    """The timestamp is loguru's; fields named like LogRecord attributes become extra_<name>."""
    moment = datetime(2026, 3, 1, 12, 30, 45, 678_901, tzinfo=timezone.utc)
    handler, stream = json_stream()
    capture = Capture()
    with private_logger("loguru_clash", handler, capture, level=logging.DEBUG):
        sink_to("loguru_clash")
        logger.patch(lambda record: record.update(time=moment)).bind(
            name="n", args=[1], message="m"
        ).warning("clash")
    (line,) = stream.getvalue().splitlines()
    written = json.loads(line)
    assert written["timestamp"] == "2026-03-01T12:30:45.678Z"
    assert (written["extra_name"], written["extra_args"], written["extra_message"]) == (
        "n",
        [1],
        "m",
    )
    (record,) = capture.records
    assert record.funcName == "test_record_keeps_loguru_time_place_and_clashing_fields"
    assert record.pathname == __file__


def test_no_handler_sees_a_secret(sink_to: Callable[[str], None]) -> None:
    """Message and bound fields are masked before the LogRecord exists."""
    capture = Capture()
    with private_logger("loguru_plain", capture):
        sink_to("loguru_plain")
        logger.bind(cookie=SECRETS[0], nested={"x": {"PASSWORD": SECRETS[1]}}).info(
            "auth=Bearer {}", SECRETS[0]
        )
    (record,) = capture.records
    seen = repr(record.__dict__)
    assert all(secret not in seen for secret in SECRETS)
    assert record.cookie == "[REDACTED]"  # type: ignore[attr-defined]


def test_stdlib_level_decides_and_each_message_is_one_record(
    sink_to: Callable[[str], None],
) -> None:
    """Below the stdlib logger's level nothing is handled; above it, one record per message."""
    capture = Capture()
    with private_logger("loguru_levels", capture, level=logging.WARNING):
        sink_to("loguru_levels")
        for number in range(5):
            logger.info("dropped {}", number)
            logger.error("kept {}", number)
    assert [r.getMessage() for r in capture.records] == [f"kept {n}" for n in range(5)]
    assert {r.levelname for r in capture.records} == {"ERROR"}
