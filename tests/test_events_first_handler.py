"""The first-handler shortcut: the proof is skipped only when no code could edit the record.

`log_event` names the handler that will see the record before any other code (no logger filter,
stock dispatch); that `GenerationLogHandler` formats without re-proving the fields. Every other
topology must still catch an edit: each test below puts code in between and scans the disk.
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
from dihya_logging.formatter._cleanmark import CLEAN_FIELDS_ATTR, CleanFields


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[logging.Logger, Path]]:
    """A fresh logger writing through a GenerationLogHandler into tmp_path."""
    with open_sink(tmp_path) as pair:
        yield pair


@pytest.fixture
def proofs(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records the mark's proofs (`CleanFields.intact` calls) and their answers."""
    seen: list[bool] = []
    real = CleanFields.intact

    def counting(self: CleanFields, attributes: Any) -> bool:
        seen.append(real(self, attributes))
        return seen[-1]

    monkeypatch.setattr(CleanFields, "intact", counting)
    return seen


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
def test_code_in_between_brings_the_proof_back(
    sink: tuple[logging.Logger, Path],
    proofs: list[bool],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """A logger filter, a filter on the sink, a handler before it or a wrapped dispatch may
    edit the record: the sink proves the mark, finds it edited, and the edit is redacted."""
    logger, root = sink
    IN_BETWEEN[where](logger, monkeypatch)
    _log(logger)
    assert proofs and not any(proofs)  # proven (and found edited)
    _clean(root, SECRET, GHP[4:])


def test_a_sink_subclass_with_its_own_emit_is_not_trusted(
    tmp_path: Path, proofs: list[bool]
) -> None:
    """A subclass's code runs before the formatter: the shortcut is off for it."""
    logger = logging.getLogger("dihya.test.first_subclass")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = _EditingSink(tmp_path / "generation.log")
    logger.addHandler(handler)
    try:
        _log(logger)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert proofs and not any(proofs)  # proven (and found edited)
    _clean(tmp_path, SECRET, GHP[4:])


def test_a_logger_subclass_is_not_trusted(tmp_path: Path, proofs: list[bool]) -> None:
    """A Logger subclass overriding handle() may edit the record: no handler is named first."""

    class Editing(logging.Logger):
        def handle(self, record: logging.LogRecord) -> None:
            _edit(record)
            super().handle(record)

    logger = Editing("dihya.test.first_logger")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = GenerationLogHandler(tmp_path / "generation.log")
    logger.addHandler(handler)
    try:
        _log(logger)
    finally:
        handler.close()
    assert proofs and not any(proofs)  # proven (and found edited)
    _clean(tmp_path, SECRET, GHP[4:])


def test_a_sink_above_the_level_is_not_named(sink: tuple[logging.Logger, Path]) -> None:
    """When the first handler's level skips the record, nobody is named first."""
    logger, _root = sink
    marks: list[CleanFields] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            marks.append(getattr(record, CLEAN_FIELDS_ATTR))

    logger.handlers[0].setLevel(logging.ERROR)
    logger.addHandler(Keep())
    _log(logger)
    assert len(marks) == 1 and marks[0].first is None


def test_a_factory_set_later_still_gets_its_attributes_written(
    sink: tuple[logging.Logger, Path],
) -> None:
    """After stock events warmed the sink's layout cache, a record factory's own attribute is
    still written (and redacted): only stock records are judged by their field names alone."""
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
