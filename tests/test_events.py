"""Tests for events._events: what a generation event keeps, refuses and returns."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

import pytest
from helpers_records import Capture, json_stream, private_logger

from dihya_logging.events._events import (
    MAX_ERROR_LENGTH,
    MAX_FILES,
    log_event,
    log_generation_event,
)

SECRET = "hunter2-Sup3r-Secret"
CONTENT = "def main():\n    print('generated content')\n"
NEEDS = {
    "project_name": "Blog Amazigh",
    "stack": "fullstack",
    "plugins": ["analytics"],
    "template": "e-commerce",
    "raw_spec": f"a shop, admin password {SECRET}",
    "password": SECRET,
}
CODE = {"README.md": "# hi", "backend/app.py": CONTENT, "frontend/App.js": "x"}


@pytest.fixture
def sink() -> Iterator[tuple[logging.Logger, io.StringIO, Capture]]:
    """A private logger with a JSON stream handler and a raw record capture."""
    (json_handler, stream), capture = json_stream(), Capture()
    with private_logger(f"test.events.{id(stream)}", json_handler, capture) as logger:
        yield logger, stream, capture


def written(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_event_keeps_whitelisted_metadata_and_file_names_only(sink: Any) -> None:
    """Only project_name/stack/plugins/template and the paths are logged: no spec, no content."""
    logger, stream, _ = sink
    returned = log_generation_event("user_123", NEEDS, CODE, logger=logger)
    (record,) = written(stream)
    assert record == returned
    assert record["event"] == "generation" and record["message"] == "generation"
    assert record["user_id"] == "user_123" and record["status"] == "success"
    assert record["files"] == ["README.md", "backend/app.py", "frontend/App.js"]
    assert record["files_count"] == 3 and record["error"] is None
    assert (record["project_name"], record["stack"], record["template"]) == (
        "Blog Amazigh",
        "fullstack",
        "e-commerce",
    )
    text = stream.getvalue()
    assert SECRET not in text and "generated content" not in text and "raw_spec" not in text


def test_other_handlers_never_see_secrets(sink: Any) -> None:
    """Fields are redacted before the record exists: a raw handler sees no secret either."""
    logger, _, capture = sink
    log_generation_event(
        "u1", NEEDS, CODE, extra={"token": SECRET, "note": f"pwd={SECRET}"}, logger=logger
    )
    (record,) = capture.records
    assert SECRET not in repr(vars(record))


def test_code_as_an_iterable_of_paths_is_accepted(sink: Any) -> None:
    """A list of str or PathLike paths is logged as names."""
    logger, stream, _ = sink
    log_generation_event("u1", {}, ["a.py", PurePosixPath("b/c.py")], logger=logger)
    assert written(stream)[0]["files"] == ["a.py", "b/c.py"]


def test_huge_file_lists_are_capped_with_the_true_count(sink: Any) -> None:
    """More than MAX_FILES paths: the list is cut and the record says so."""
    logger, stream, _ = sink
    log_generation_event("u1", {}, [f"f{i}.py" for i in range(MAX_FILES + 5)], logger=logger)
    (record,) = written(stream)
    assert len(record["files"]) == MAX_FILES
    assert record["files_count"] == MAX_FILES + 5 and record["files_truncated"] is True


def test_errors_are_redacted_and_capped(sink: Any) -> None:
    """An exception becomes 'Type: message', secrets masked, length capped."""
    logger, stream, _ = sink
    log_generation_event(
        "u1", {}, [], status="error", error=RuntimeError(f"token={SECRET}"), logger=logger
    )
    log_generation_event("u1", {}, [], status="error", error="x" * 10_000, logger=logger)
    first, second = written(stream)
    assert first["error"].startswith("RuntimeError: ") and SECRET not in first["error"]
    assert len(second["error"]) == MAX_ERROR_LENGTH


def test_extra_metadata_never_overrides_core_fields_and_is_not_lost(sink: Any) -> None:
    """Clashing extra keys (LogRecord attributes, core fields) move to extra_<key>."""
    logger, stream, _ = sink
    extra = {"message": "m", "name": "n", "args": [1], "user_id": "evil", "duration_ms": 12}
    log_generation_event("user_1", {}, [], extra=extra, logger=logger)
    (record,) = written(stream)
    assert record["user_id"] == "user_1" and record["message"] == "generation"
    assert record["extra_message"] == "m" and record["extra_name"] == "n"
    assert record["extra_args"] == [1] and record["extra_user_id"] == "evil"
    assert record["duration_ms"] == 12


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"user_id": 1.5}, TypeError),
        ({"user_id": True}, TypeError),
        ({"user_id": b"u1"}, TypeError),
        ({"user_id": "  "}, ValueError),
        ({"user_id": None}, TypeError),
        ({"needs": "spec text"}, TypeError),
        ({"needs": None}, TypeError),
        ({"code": "main.py"}, TypeError),
        ({"code": 42}, TypeError),
        ({"code": [1, 2]}, TypeError),
        ({"status": "done"}, ValueError),
        ({"error": 404}, TypeError),
        ({"extra": ["not", "a", "mapping"]}, TypeError),
        ({"needs": {"plugins": "analytics"}}, TypeError),
        ({"needs": {"stack": ["a"]}}, TypeError),
        ({"logger": 3.5}, TypeError),
    ],
)
def test_bad_input_raises_clearly_and_writes_nothing(
    sink: Any, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    """Wrong types or values raise TypeError/ValueError at the call; no line is written."""
    logger, stream, capture = sink
    call: dict[str, Any] = {"user_id": "u1", "needs": {}, "code": [], "logger": logger, **kwargs}
    with pytest.raises(error):
        log_generation_event(**call)
    assert stream.getvalue() == "" and capture.records == []


def test_disabled_logger_writes_nothing_but_returns_the_record(sink: Any) -> None:
    """Below the logger's level nothing is written; the caller still gets the record."""
    logger, stream, _ = sink
    logger.setLevel(logging.WARNING)
    record = log_generation_event("u1", {}, ["a"], logger=logger)
    assert stream.getvalue() == "" and record["files"] == ["a"]


def test_log_event_writes_custom_events_with_the_same_rules(sink: Any) -> None:
    """log_event emits any event name with redacted fields and protected keys."""
    logger, stream, _ = sink
    log_event("export", {"count": 3, "api_key": SECRET}, {"event": "spoof"}, logger=logger)
    (record,) = written(stream)
    assert record["event"] == "export" and record["count"] == 3
    assert record["extra_event"] == "spoof" and SECRET not in stream.getvalue()


def test_default_logger_is_dihya_generation() -> None:
    """Without logger=, events go to the dihya.generation logger."""
    capture = Capture()
    target = logging.getLogger("dihya.generation")
    target.addHandler(capture)
    target.setLevel(logging.INFO)
    log_generation_event("u1", {}, [])
    assert [r.name for r in capture.records] == ["dihya.generation"]


def test_extra_clashing_with_a_custom_record_factory_attribute_is_kept_not_raised(
    sink: Any,
) -> None:
    """A key a custom LogRecord factory already set moves to extra_<key>; nothing raises."""
    logger, stream, _ = sink
    original = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = original(*args, **kwargs)
        record.request_id = "from-factory"
        return record

    logging.setLogRecordFactory(factory)
    try:
        returned = log_generation_event("u1", {}, [], extra={"request_id": "mine"}, logger=logger)
    finally:
        logging.setLogRecordFactory(original)
    (record,) = written(stream)
    assert record["request_id"] == "from-factory"
    assert record["extra_request_id"] == "mine" == returned["extra_request_id"]
