"""Code between `log_event` and the sink may edit the record: whatever it edits is redacted.

Filters, earlier handlers, wrapped dispatch, Logger and handler subclasses: each test puts code
in between that writes secrets into an event record, then scans the disk.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from helpers_leaks import GHP, SECRET, open_sink
from helpers_leaks import assert_clean as _clean

from dihya_logging import GenerationLogHandler, log_generation_event


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[logging.Logger, Path]]:
    """A fresh logger writing through a GenerationLogHandler into tmp_path."""
    with open_sink(tmp_path) as pair:
        yield pair


def _edit(record: logging.LogRecord) -> None:
    """What a careless filter or handler might do to an event record after it was redacted."""
    record.files.append(f"x/{GHP}")  # type: ignore[attr-defined]
    record.error = f"password={SECRET}"


class _Editing(logging.Filter):
    """A filter that edits the record (and lets it through)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _edit(record)
        return True


class _EditingHandler(logging.Handler):
    """A handler that edits every record it sees (and writes nothing)."""

    def emit(self, record: logging.LogRecord) -> None:
        _edit(record)


class _EditingSink(GenerationLogHandler):
    """A sink subclass that edits the record before writing it."""

    def emit(self, record: logging.LogRecord) -> None:
        _edit(record)
        super().emit(record)


def _log(logger: logging.Logger) -> dict[str, Any]:
    return log_generation_event("u1", {"project_name": "p"}, ["a.py"], logger=logger)


def test_an_untouched_event_is_written_as_redacted(sink: tuple[logging.Logger, Path]) -> None:
    """Straight from log_event to the sink: the line holds the event's fields."""
    logger, root = sink
    returned = _log(logger)
    line = json.loads((root / "generation.log").read_text())
    assert line["files"] == ["a.py"] and line["project_name"] == "p"
    assert {k: v for k, v in line.items() if k != "timestamp"} == {
        k: v for k, v in returned.items() if k != "timestamp"
    }


def _wrap_dispatch(logger: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrap ``Logger.callHandlers`` after import, as an APM agent does, editing the record."""
    real = logging.Logger.callHandlers

    def wrapped(self: logging.Logger, record: logging.LogRecord) -> None:
        _edit(record)
        real(self, record)

    monkeypatch.setattr(logging.Logger, "callHandlers", wrapped)


IN_BETWEEN: dict[str, Callable[[logging.Logger, pytest.MonkeyPatch], None]] = {
    "logger filter": lambda logger, _: logger.addFilter(_Editing()),
    "sink filter": lambda logger, _: logger.handlers[0].addFilter(_Editing()),
    "earlier handler": lambda logger, _: logger.handlers.insert(0, _EditingHandler()),
    "wrapped dispatch": _wrap_dispatch,
}
"""Code that can run between log_event and the sink, and edits the record there."""


@pytest.mark.parametrize("where", list(IN_BETWEEN))
def test_code_in_between_gets_its_edit_redacted(
    sink: tuple[logging.Logger, Path],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """A logger filter, a filter on the sink, a handler before it or a wrapped dispatch
    edits the record: the edit is written, redacted."""
    logger, root = sink
    IN_BETWEEN[where](logger, monkeypatch)
    _log(logger)
    _clean(root, SECRET, GHP[4:])
    (line,) = (root / "generation.log").read_text().splitlines()
    assert json.loads(line)["files"][-1].startswith("x/")


def _log_through(logger: logging.Logger, handler: logging.Handler) -> None:
    """One event through ``logger`` with ``handler`` as its only handler, closed after."""
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        _log(logger)
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_a_sink_subclass_editing_in_its_emit_gets_redacted(tmp_path: Path) -> None:
    """A subclass's code runs before the formatter: its edit is redacted."""
    _log_through(logging.getLogger("dihya.test.edit_sink"), _EditingSink(tmp_path / "g.log"))
    _clean(tmp_path, SECRET, GHP[4:])


def test_a_logger_subclass_editing_in_handle_gets_redacted(tmp_path: Path) -> None:
    """A Logger subclass overriding handle() edits the record: the edit is redacted."""

    class Editing(logging.Logger):
        def handle(self, record: logging.LogRecord) -> None:
            _edit(record)
            super().handle(record)

    _log_through(Editing("dihya.test.edit_logger"), GenerationLogHandler(tmp_path / "g.log"))
    _clean(tmp_path, SECRET, GHP[4:])


def test_a_factory_set_later_still_gets_its_attributes_written(
    sink: tuple[logging.Logger, Path],
) -> None:
    """After stock events warmed the formatter's layout cache, a record factory's own attribute
    is still written (and redacted)."""
    logger, root = sink
    _log(logger)
    _log(logger)
    stock = logging.getLogRecordFactory()

    def tagging(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = stock(*args, **kwargs)
        record.host = f"web-1 password={SECRET}"
        return record

    logging.setLogRecordFactory(tagging)
    try:
        _log(logger)
    finally:
        logging.setLogRecordFactory(stock)
    lines = (root / "generation.log").read_text().splitlines()
    assert [("host" in json.loads(line)) for line in lines] == [False, False, True]
    assert json.loads(lines[-1])["host"].startswith("web-1 password=")
    _clean(root, SECRET)
