"""Tests for `format_line`: the formatter's is ``format(record)`` as UTF-8 (no line end), the
handler's adds the newline."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_records import Capture, private_logger

from dihya_logging import (
    GenerationLogHandler,
    RedactingJsonFormatter,
    log_event,
    log_generation_event,
)

SECRET = "hunter2-Sup3r-Secret"
BACKENDS = ["json", "orjson"]


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, Capture]]:
    """A private logger whose only handler keeps the raw records."""
    keeper = Capture()
    with private_logger(f"test.formatter_line.{id(keeper)}", keeper, level=logging.DEBUG) as log:
        yield log, keeper


def event_records(logger: logging.Logger, keeper: Capture) -> list[logging.LogRecord]:
    """Records of generation and custom events: unicode, secrets, nesting, odd numbers."""
    log_generation_event(
        "user_1",
        {"project_name": "Blog Amazigh ⵣ", "stack": "fullstack", "plugins": ["a", "b"]},
        {"README.md": "# x", "app/é.py": "print()"},
        extra={"request": {"Authorization": f"Bearer {SECRET}", "id": 7}, "ratio": 0.5},
        logger=logger,
    )
    log_generation_event(
        "user_2 password=" + SECRET, {"template": "shop"}, ["a.py"], "error", ValueError("x"),
        logger=logger,
    )  # fmt: skip
    log_generation_event("user_3", {}, [], logger=logger)
    log_event(
        "custom", {"big": 2**70, "f": 1e16, "nan": float("nan"), "emoji": "😀"}, logger=logger
    )
    log_event("bare", {}, logger=logger, level=logging.WARNING)
    return list(keeper.records)


def plain_records(logger: logging.Logger, keeper: Capture) -> list[logging.LogRecord]:
    """Ordinary application records: arguments, extras, an exception, stack info."""
    logger.info("hello %s", "wörld", extra={"token": SECRET, "n": [1, {"k": "v"}]})
    logger.info("%(password)s and %(user)s", {"password": SECRET, "user": "u"})
    try:
        raise RuntimeError(f"failed with password={SECRET}")
    except RuntimeError:
        logger.exception("boom")
    logger.warning("with stack", stack_info=True)
    return list(keeper.records)


def assert_line(formatter: RedactingJsonFormatter, record: logging.LogRecord) -> bytes:
    """format_line equals format as UTF-8, and is one valid JSON line without a line end."""
    line = formatter.format_line(record, "strict")
    assert line == formatter.format(record).encode()
    assert b"\n" not in line
    json.loads(line.decode("utf-8"))
    return line


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make", [event_records, plain_records], ids=["events", "plain"])
def test_records_give_format_plus_newline(
    capture: tuple[logging.Logger, Capture], backend: str, make: Any
) -> None:
    """Event records (bytes fast path with orjson) and plain ones: format() + newline, masked."""
    formatter = RedactingJsonFormatter(json_backend=backend)  # type: ignore[arg-type]
    records = make(*capture)
    lines = [assert_line(formatter, record) for record in records]
    assert SECRET.encode() not in b"".join(lines)
    assert len(lines) == len(records) >= 4


def test_both_backends_write_the_same_records(capture: tuple[logging.Logger, Capture]) -> None:
    """The json and orjson backends write the same record, events and plain records alike."""
    logger, keeper = capture
    records = event_records(logger, keeper) + plain_records(logger, keeper)
    by_json = RedactingJsonFormatter(json_backend="json")
    by_orjson = RedactingJsonFormatter(json_backend="orjson")
    for record in records:
        assert json.loads(by_json.format_line(record, "strict")) == json.loads(
            by_orjson.format_line(record, "strict")
        )


class Shouting(RedactingJsonFormatter):
    """A subclass whose own format() changes the line."""

    def format(self, record: logging.LogRecord) -> str:
        return "SHOUT " + super().format(record).upper()


class Tagging(RedactingJsonFormatter):
    """A subclass overriding a pipeline hook."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {**super().process_log_record(log_data), "tagged": True}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", [Shouting, Tagging])
def test_a_subclass_output_is_what_format_line_writes(
    capture: tuple[logging.Logger, Capture], backend: str, kind: type[RedactingJsonFormatter]
) -> None:
    """A subclass overriding format() or a hook: format_line writes that output, event or not."""
    logger, keeper = capture
    formatter = kind(json_backend=backend)  # type: ignore[arg-type]
    for record in event_records(logger, keeper) + plain_records(logger, keeper):
        line = formatter.format_line(record, "strict")
        assert line == formatter.format(record).encode()
        if kind is Shouting:
            assert line.startswith(b"SHOUT {")
        else:
            assert json.loads(line)["tagged"] is True


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_prefix_is_written(capture: tuple[logging.Logger, Capture], backend: str) -> None:
    """With python-json-logger's prefix, every line starts with it and equals format()."""
    logger, keeper = capture
    formatter = RedactingJsonFormatter(prefix="@cee: ", json_backend=backend)  # type: ignore[arg-type]
    for record in event_records(logger, keeper) + plain_records(logger, keeper):
        line = formatter.format_line(record, "strict")
        assert line == formatter.format(record).encode()
        assert line.startswith(b'@cee: {"timestamp":')


def surrogate_records(logger: logging.Logger, keeper: Capture) -> list[logging.LogRecord]:
    """Records with lone surrogates: message, extra field, event field, a field a filter set."""
    logger.info("bad \ud800 text", extra={"note": "x\udc80y", "nested": {"k\udfff": ["\ud83d"]}})
    log_event("ev\ud800", {"field": "a\udc80"}, logger=logger)

    def inject(record: logging.LogRecord) -> bool:
        if hasattr(record, "files"):
            record.files = ["ok.py", "\udcff.py"]
        return True

    logger.addFilter(inject)
    log_generation_event("user_1", {}, ["a.py"], logger=logger)
    return list(keeper.records)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("errors", ["strict", "backslashreplace"])
def test_lone_surrogates_never_raise_and_give_valid_utf8(
    capture: tuple[logging.Logger, Capture], backend: str, errors: str
) -> None:
    """A lone surrogate anywhere: no exception, strict UTF-8 out (U+FFFD in its place),
    format()'s bytes."""
    formatter = RedactingJsonFormatter(json_backend=backend)  # type: ignore[arg-type]
    for record in surrogate_records(*capture):
        line = formatter.format_line(record, errors)
        text = line.decode("utf-8")  # strict: raises on anything not valid UTF-8
        assert line == formatter.format(record).encode()
        assert "could not be formatted" not in text
        assert "\ufffd" in repr(json.loads(text))


@pytest.fixture
def handler(tmp_path: Path) -> Iterator[GenerationLogHandler]:
    """A real rotating sink in a temporary directory."""
    sink = GenerationLogHandler(tmp_path / "logs" / "generation.log")
    yield sink
    sink.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_handler_line_is_its_formatter_line(
    capture: tuple[logging.Logger, Capture], handler: GenerationLogHandler, backend: str
) -> None:
    """GenerationLogHandler.format_line: format() + newline for events, plain and odd records."""
    logger, keeper = capture
    handler.setFormatter(RedactingJsonFormatter(json_backend=backend))  # type: ignore[arg-type]
    records = event_records(logger, keeper) + plain_records(logger, keeper)
    records += surrogate_records(logger, keeper)
    for record in records:
        assert handler.format_line(record) == (handler.format(record) + "\n").encode()


def test_the_handler_follows_a_formatter_swap(
    capture: tuple[logging.Logger, Capture], handler: GenerationLogHandler
) -> None:
    """The default formatter first, then each formatter set later: its own line is used."""
    (record,) = event_records(*capture)[:1]
    assert handler.format_line(record) == (RedactingJsonFormatter().format(record) + "\n").encode()
    for formatter in (
        Shouting(),
        logging.Formatter("%(levelname)s %(message)s"),
        RedactingJsonFormatter(prefix="P "),
    ):
        handler.setFormatter(formatter)
        assert handler.format_line(record) == (formatter.format(record) + "\n").encode()
    assert handler.format_line(record).startswith(b'P {"timestamp":')


def test_the_handler_writes_valid_utf8_lines(
    capture: tuple[logging.Logger, Capture], handler: GenerationLogHandler
) -> None:
    """Emitted through the real sink, surrogate and unicode records are valid UTF-8 JSON lines."""
    logger, keeper = capture
    records = event_records(logger, keeper) + surrogate_records(logger, keeper)
    for record in records:
        handler.handle(record)
    data = Path(handler.baseFilename).read_bytes()
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == len(records)
    assert [json.loads(line)["message"] for line in lines][:3] == ["generation"] * 3
    assert SECRET not in data.decode()


def test_a_non_utf8_handler_writes_escaped_ascii(
    capture: tuple[logging.Logger, Capture], tmp_path: Path
) -> None:
    """encoding='latin-1': lines are ASCII with JSON escapes, decoding to format()'s object."""
    logger, keeper = capture
    path = tmp_path / "l" / "generation.log"
    with contextlib.closing(GenerationLogHandler(path, encoding="latin-1")) as sink:
        for record in event_records(logger, keeper):
            line = sink.format_line(record)
            assert line.isascii() and line.endswith(b"\n")
            assert json.loads(line) == json.loads(sink.format(record))


def test_format_line_never_raises_on_a_broken_record() -> None:
    """A record whose arguments cannot be rendered gives the fallback line, not an exception."""

    class Unprintable:
        """str() and repr() both raise."""

        def __repr__(self) -> str:
            raise RuntimeError("no")

    record = logging.LogRecord("t", logging.INFO, __file__, 1, "m %r", (Unprintable(),), None)
    for backend in BACKENDS:
        formatter = RedactingJsonFormatter(json_backend=backend)  # type: ignore[arg-type]
        line = formatter.format_line(record, "strict")
        assert line == formatter.format(record).encode()
        assert json.loads(line)["level"] == "INFO"
