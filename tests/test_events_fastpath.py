"""Tests for the event hot path: the record is built as ``Logger.makeRecord`` would build it."""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Any

from helpers_records import Capture

from dihya_logging.events._events import MAX_TEXT_LENGTH, log_event, log_generation_event


class TaggingLogger(logging.Logger):
    """A Logger subclass whose makeRecord adds an attribute (as some frameworks do)."""

    def makeRecord(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = super().makeRecord(*args, **kwargs)
        record.tagged = True
        return record


def test_a_logger_subclass_makerecord_is_still_used() -> None:
    """An overridden makeRecord receives the event fields as ``extra``."""
    logger = TaggingLogger("test.events.tagging")
    capture = Capture()
    logger.addHandler(capture)
    log_generation_event("user_1", {"stack": "api"}, ["a.py"], logger=logger)
    (record,) = capture.records
    assert record.tagged is True
    assert record.files == ["a.py"]
    assert record.stack == "api"


def test_a_field_clashing_with_a_record_attribute_is_kept_under_another_name() -> None:
    """A field named like a LogRecord attribute becomes extra_<name> instead of raising."""
    logger = logging.getLogger("test.events.clash")
    returned = log_event("custom", {"msg": "x"}, logger=logger)
    assert returned["extra_msg"] == "x"
    assert "msg" not in returned


def test_paths_of_every_accepted_kind_become_plain_capped_strings() -> None:
    """Mapping keys, path objects and str subclasses all become plain, capped strings."""

    class Name(str):
        """A str subclass."""

    long_name = "d/" + "x" * (MAX_TEXT_LENGTH + 50)
    for code in (
        {long_name: "content", "b.py": ""},
        [PurePosixPath(long_name), "b.py"],
        (Name(long_name), Name("b.py")),
    ):
        record = log_generation_event("user_1", {}, code, logger=logging.getLogger("t.paths"))
        assert record["files"] == [long_name[:MAX_TEXT_LENGTH], "b.py"]
        assert all(type(path) is str for path in record["files"])
