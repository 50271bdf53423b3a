"""structlog users: the shipped processors and examples/structlog_app.py, with real structlog."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from dihya_logging.integrations.structlog import redact, render_to_log_kwargs
from tests.helpers_examples import SECRETS, assert_no_secret, read_log, run_example
from tests.helpers_records import Capture, json_stream, private_logger


@pytest.fixture
def stdlib_structlog() -> Iterator[None]:
    """structlog configured to hand its events to `logging` through the dihya processor."""
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def test_example_app_writes_masked_records_with_bound_fields(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """The example's records carry bound and context fields at the top level, secrets masked."""
    run_example("structlog_app.py", tmp_path, subprocess_env, "logs")
    accepted, failed = read_log(tmp_path / "logs" / "app.log")  # the debug call is not written
    assert accepted["message"] == "payment accepted" and accepted["logger"] == "shop.checkout"
    assert (accepted["user_id"], accepted["request_id"], accepted["amount"]) == (
        42,
        "req-7f3a",
        12.5,
    )
    assert accepted["api_key"] == "[REDACTED]"
    assert failed["level"] == "ERROR" and failed["db"] == {"password": "[REDACTED]"}
    assert "ConnectionError" in failed["exc_info"] and "[REDACTED]" in failed["exc_info"]
    (event,) = read_log(tmp_path / "logs" / "generation.log")
    assert event["event"] == "generation" and event["user_id"] == "42"
    assert_no_secret(tmp_path)


def test_every_call_is_one_record_whatever_its_field_names(stdlib_structlog: None) -> None:
    """Fields named like LogRecord attributes are kept as extra_<name>, and nothing raises."""
    handler, stream = json_stream()
    with private_logger("structlog_clash", handler):
        log = structlog.get_logger("structlog_clash")
        log.info("first", name="n", args=[1, 2], message="m", levelname="x")
        log.warning("second", stack_info=True)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "first"
    assert (first["extra_name"], first["extra_args"], first["extra_message"]) == ("n", [1, 2], "m")
    assert first["extra_levelname"] == "x" and first["level"] == "INFO"
    assert second["level"] == "WARNING" and "stack_info" in second


def test_no_handler_sees_a_secret(stdlib_structlog: None) -> None:
    """Secrets are masked before the LogRecord exists: a plain handler gets them masked too."""
    capture = Capture()
    with private_logger("structlog_plain", capture):
        structlog.contextvars.bind_contextvars(session=SECRETS[0])
        structlog.get_logger("structlog_plain").info(
            f"token={SECRETS[0]}", nested={"deeper": {"Password": SECRETS[1]}}
        )
    (record,) = capture.records
    seen = repr(record.__dict__)
    assert all(secret not in seen for secret in SECRETS)
    assert record.nested == {"deeper": {"Password": "[REDACTED]"}}  # type: ignore[attr-defined]


def test_redact_processor_returns_a_masked_copy() -> None:
    """`redact` masks keys and text at any depth and leaves the caller's event dict alone."""
    event = {"event": "login", "user": {"api-key": SECRETS[0]}, "note": f"pwd={SECRETS[1]}"}
    before = repr(event)
    masked = redact(None, "info", event)
    assert masked == {"event": "login", "user": {"api-key": "[REDACTED]"}, "note": "pwd=[REDACTED]"}
    assert repr(event) == before


def test_level_filtering_stays_with_logging(stdlib_structlog: None) -> None:
    """Below the stdlib logger's level nothing is written; at it, exactly one record per call."""
    capture = Capture()
    with private_logger("structlog_levels", capture, level=logging.WARNING):
        log = structlog.get_logger("structlog_levels")
        for number in range(5):
            log.info("dropped", number=number)
            log.error("kept", number=number)
    assert [r.number for r in capture.records] == list(range(5))  # type: ignore[attr-defined]
