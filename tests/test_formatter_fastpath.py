"""Tests for the formatter's event fast path: same bytes as the full pipeline, never less safe."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from helpers_records import Capture, private_logger
from hypothesis import given, settings
from hypothesis import strategies as st

from dihya_logging import RedactingJsonFormatter, log_event, log_generation_event

SECRET = "hunter2-Sup3r-Secret"
ROUNDS = 10_000


@pytest.fixture
def records() -> Iterator[tuple[logging.Logger, Capture]]:
    """A private logger whose only handler captures the raw records."""
    capture = Capture()
    with private_logger(f"test.fastpath.{id(capture)}", capture) as logger:
        yield logger, capture


class FullPipeline(RedactingJsonFormatter):
    """Overrides a hook (doing the same): every record takes python-json-logger's pipeline."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return super().process_log_record(log_data)


def full_pipeline(**kwargs: Any) -> RedactingJsonFormatter:
    """A formatter that runs python-json-logger's whole pipeline for every record."""
    return FullPipeline(**kwargs)


def emit_events(logger: logging.Logger) -> None:
    log_generation_event(
        "user_1",
        {"project_name": "Blog", "stack": "fullstack", "plugins": ["a", "b"], "template": "t"},
        {"README.md": "# x", "app.py": "print()"},
        extra={"request": {"Authorization": f"Bearer {SECRET}", "id": 7}, "ratio": 0.5},
        logger=logger,
    )
    log_generation_event(
        "user_2 password=" + SECRET,
        {"project_name": f"token={SECRET}"},
        ["a/b.py", f"api_key={SECRET}"],
        status="error",
        error=ValueError(f"db password={SECRET}"),
        extra={"message": "m", "name": "n", "_private": 1, "files": 3, "password": SECRET},
        logger=logger,
    )
    log_event("export", {"count": 3, "timestamp": "clash"}, logger=logger)


@pytest.mark.parametrize("kwargs", [{}, {"prefix": "audit: "}, {"json_backend": "json"}])
def test_fast_path_writes_the_same_line_as_the_full_pipeline(
    records: Any, kwargs: dict[str, Any]
) -> None:
    """For event records the fast path and python-json-logger's pipeline agree byte for byte."""
    logger, capture = records
    emit_events(logger)
    fast, full = RedactingJsonFormatter(**kwargs), full_pipeline(**kwargs)
    assert len(capture.records) == 3
    for record in capture.records:
        line = fast.format(record)
        assert line == full.format(record)
        assert SECRET not in line
        body = line.removeprefix(kwargs.get("prefix", ""))
        assert list(json.loads(body))[:4] == ["timestamp", "level", "logger", "message"]


def test_event_fields_keep_their_order_after_the_head(records: Any) -> None:
    """The event's fields follow the head in the order the event built them."""
    logger, capture = records
    emit_events(logger)
    keys = list(json.loads(RedactingJsonFormatter().format(capture.records[0])))
    assert keys[4:13] == [
        "event",
        "user_id",
        "project_name",
        "stack",
        "files",
        "files_count",
        "plugins",
        "template",
        "status",
    ]


def test_a_field_added_after_the_event_is_still_redacted(records: Any) -> None:
    """A filter adding an attribute to an event record sends it through full redaction."""
    logger, capture = records
    emit_events(logger)
    record = capture.records[0]
    record.note = f"password={SECRET}"
    line = json.loads(RedactingJsonFormatter().format(record))
    assert line["note"] == "password=[REDACTED]"


def test_concurrent_formatting_never_spares_another_records_fields(records: Any) -> None:
    """One formatter shared by threads: a plain record's secret is redacted whatever runs."""
    logger, capture = records
    emit_events(logger)
    event_record = capture.records[0]
    plain = logging.makeLogRecord({"msg": "plain", "files": f"password={SECRET}", "user_id": 1})
    formatter = full_pipeline()  # the shared-state bug lived in the full pipeline
    leaks: list[str] = []

    def format_events() -> None:
        for _ in range(ROUNDS):
            formatter.format(event_record)

    def format_plain() -> None:
        for _ in range(ROUNDS):
            line = formatter.format(plain)
            if SECRET in line:
                leaks.append(line)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=format_events), threading.Thread(target=format_plain)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert leaks == []


def test_a_pickled_event_record_is_redacted_again_not_trusted() -> None:
    """Through pickle (a multiprocessing queue) the clean marker trusts nothing: full redaction."""
    import pickle

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("test.fastpath.pickle")
    logger.handlers[:] = [Keep()]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    log_generation_event("u1", {"stack": "api"}, ["a.py"], logger=logger)
    copy = pickle.loads(pickle.dumps(records[0]))  # noqa: S301 - our own bytes
    copy.error = "password=hunter2-Sup3r"  # edited after the trip: must be masked
    line = json.loads(RedactingJsonFormatter().format(copy))
    assert line["user_id"] == "u1"
    assert "hunter2-Sup3r" not in line["error"]


_EXTRA_KEYS = st.sampled_from(
    (
        *("note", "level", "logger", "message", "timestamp", "_private", "request"),
        *("extra_level", "password", "files", "a b", "", "ümlaut", "msg", "name"),
    )
)
_EXTRA_VALUES = st.one_of(
    st.none(), st.text(max_size=8), st.integers(), st.sampled_from(["generation", "INFO", "bench"])
)  # the last ones equal the head fields' values: a clash that is not one


@settings(max_examples=300, deadline=None)
@given(extra=st.dictionaries(_EXTRA_KEYS, _EXTRA_VALUES, max_size=6))
def test_event_lines_equal_the_full_pipeline_for_any_extra(extra: dict[str, Any]) -> None:
    """Whatever the caller's extra keys (clashing, private, odd), an event's line from its
    mark is the line python-json-logger's pipeline writes for the same record."""
    capture = Capture()
    with private_logger(f"test.fastpath.extra.{id(capture)}", capture) as logger:
        log_event("custom", {"count": 1}, extra=extra, logger=logger)
    (record,) = capture.records
    fast, full = RedactingJsonFormatter(), full_pipeline()
    assert fast.format(record) == full.format(record)
    assert list(json.loads(fast.format(record)))[:5] == [*HEAD, "event"]


HEAD = ["timestamp", "level", "logger", "message"]


ODD_NAMES = ['dihya "quoted"\\path', "ⵜⵉⴼⵉⵏⴰⵖ.logger", "token=ghp_" + "x" * 36]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_the_spliced_head_is_what_the_full_pipeline_writes(name: str) -> None:
    """The fast path's pre-serialised head (escaped, redacted logger name) + the mark's bytes
    equal the full pipeline's line, for names that need JSON escapes or redaction."""
    capture = Capture()
    logger = logging.getLogger(name)
    logger.propagate, logger.handlers = False, [capture]
    logger.setLevel(logging.INFO)
    log_generation_event("u1", {"project_name": "p"}, ["a.py"], extra={"k": 1}, logger=logger)
    logger.handlers = []
    record = capture.records[0]
    fast = RedactingJsonFormatter(json_backend="orjson")
    full = full_pipeline(json_backend="orjson")
    line = fast.format_line(record, "strict")
    assert line == full.format(record).encode()
    assert b"ghp_" not in line and json.loads(line)["k"] == 1
