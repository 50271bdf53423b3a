"""Tests for python-json-logger's keywords and hooks on `RedactingJsonFormatter`: each one works
as in ``JsonFormatter``/``OrjsonFormatter``, and none of them lets a secret through."""

from __future__ import annotations

import enum
import io
import json
import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dihya_logging import GenerationLogHandler, RedactingJsonFormatter
from dihya_logging.formatter import orjson_available

SECRET = "hunter2-Sup3r-Secret"
BACKENDS = ["json", "orjson"] if orjson_available() else ["json"]


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A private logger with no handler (each test adds its own)."""
    log = logging.getLogger(f"test.keywords.{id(object())}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    log.handlers.clear()


def emit(logger: logging.Logger, formatter: logging.Formatter, *args: Any, **kwargs: Any) -> str:
    """What ``logger.info(*args, **kwargs)`` writes through ``formatter`` (one record)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger.handlers[:] = [handler]
    logger.info(*args, **kwargs)
    return stream.getvalue().rstrip("\n")


class Colour(enum.Enum):
    """An enum whose values python-json-logger writes by value."""

    RED = "red"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_non_string_extra_key_is_written_with_the_record(
    logger: logging.Logger, backend: str
) -> None:
    """``extra={5: "9"}`` (python-json-logger allows numeric keys): the record is written whole."""
    out = json.loads(
        emit(logger, RedactingJsonFormatter(json_backend=backend), "hello", extra={5: "9"})
    )  # type: ignore[arg-type]
    assert out["message"] == "hello" and out["5"] == "9"


@pytest.mark.parametrize("backend", BACKENDS)
def test_objects_take_python_json_loggers_encodings_then_redaction(
    logger: logging.Logger, backend: str
) -> None:
    """Exceptions, classes and enums are written as python-json-logger writes them, and the
    resulting text is redacted."""
    formatter = RedactingJsonFormatter(json_backend=backend)  # type: ignore[arg-type]
    extra = {"err": ValueError(f"password={SECRET}"), "kind": dict, "colour": Colour.RED}
    out = json.loads(emit(logger, formatter, "m", extra=extra))
    assert out["err"] == "ValueError: password=[REDACTED]"
    assert (out["kind"], out["colour"]) == ("dict", "red")


@pytest.mark.parametrize("backend", BACKENDS)
def test_json_default_converts_objects_before_redaction(
    logger: logging.Logger, backend: str
) -> None:
    """``json_default`` turns an unknown object into JSON; a secret in what it returns is masked."""

    def default(value: Any) -> Any:
        if isinstance(value, complex):
            return {"re": value.real, "token": SECRET}
        raise TypeError(type(value).__name__)

    formatter = RedactingJsonFormatter(json_backend=backend, json_default=default)  # type: ignore[arg-type]
    out = json.loads(emit(logger, formatter, "m", extra={"z": 1 + 2j, "o": object()}))
    assert out["z"] == {"re": 1.0, "token": "[REDACTED]"}
    assert out["o"].startswith("<object object")  # the default refused it: its text


def test_json_encoder_serializer_indent_and_ensure_ascii_choose_the_json_backend(
    logger: logging.Logger,
) -> None:
    """JsonFormatter's own keywords work (and pick the json backend when none is forced)."""

    class Encoder(json.JSONEncoder):
        def default(self, o: Any) -> Any:
            return [o.real, o.imag] if isinstance(o, complex) else super().default(o)

    calls: list[int] = []

    def serializer(obj: Any, **kwargs: Any) -> str:
        calls.append(1)
        return json.dumps(obj, **kwargs)

    formatter = RedactingJsonFormatter(json_encoder=Encoder, json_serializer=serializer)
    assert formatter.json_backend == "json"
    assert json.loads(emit(logger, formatter, "m", extra={"z": 1 + 2j}))["z"] == [1.0, 2.0]
    assert calls
    assert "\n" in emit(logger, RedactingJsonFormatter(json_indent=2), "m")
    assert '"message": "ⵣ"' in emit(logger, RedactingJsonFormatter(json_ensure_ascii=False), "ⵣ")
    assert '"message": "\\u2d63"' in emit(logger, RedactingJsonFormatter(json_backend="json"), "ⵣ")
    with pytest.raises(ValueError, match="json_backend='json'"):
        RedactingJsonFormatter(json_backend="orjson", json_encoder=Encoder)


@pytest.mark.parametrize("backend", BACKENDS)
def test_python_json_logger_layout_keywords(logger: logging.Logger, backend: str) -> None:
    """fmt, rename_fields (message too), static_fields, defaults, timestamp="ts",
    exc_info_as_array: as python-json-logger, the UTC timestamp first."""
    formatter = RedactingJsonFormatter(
        "%(levelname)s %(message)s",
        rename_fields={"message": "msg", "password": "pw"},
        static_fields={"service": "gen"},
        defaults={"region": "eu"},
        timestamp="ts",
        exc_info_as_array=True,
        json_backend=backend,  # type: ignore[arg-type]
    )
    try:
        raise RuntimeError(f"token={SECRET}")
    except RuntimeError:
        out = json.loads(emit(logger, formatter, "m", exc_info=True, extra={"password": SECRET}))
    assert list(out)[:3] == ["timestamp", "region", "levelname"]
    assert out["msg"] == "m" and "message" not in out
    assert (out["service"], out["pw"]) == ("gen", "[REDACTED]")
    assert out["ts"].endswith("+00:00") and out["timestamp"].endswith("Z")
    assert isinstance(out["exc_info"], list) and SECRET not in json.dumps(out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_field_overrides_the_timestamp_or_a_head_field(
    logger: logging.Logger, backend: str
) -> None:
    """Extras named timestamp, level or logger are kept as extra_<name>, never lost."""
    formatter = RedactingJsonFormatter(json_backend=backend)  # type: ignore[arg-type]
    extra = {"timestamp": "then", "level": "L", "logger": "other"}
    out = json.loads(emit(logger, formatter, "m", extra=extra))
    assert list(out)[:4] == ["timestamp", "level", "logger", "message"]
    assert out["level"] == "INFO" and out["logger"] == logger.name
    assert (out["extra_timestamp"], out["extra_level"], out["extra_logger"]) == (
        "then",
        "L",
        "other",
    )


def test_a_dictconfig_with_an_external_json_default() -> None:
    """dictConfig resolves ``ext://`` for json_default, as for python-json-logger's classes."""
    name = "test.keywords.dictconfig"
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "f": {
                    "()": "dihya_logging.RedactingJsonFormatter",
                    "json_default": "ext://builtins.repr",
                }
            },
            "handlers": {"s": {"class": "logging.StreamHandler", "formatter": "f"}},
            "loggers": {name: {"handlers": ["s"], "propagate": False}},
        }
    )
    configured = logging.getLogger(name)
    (handler,) = configured.handlers
    configured.handlers.clear()
    formatter = handler.formatter
    assert isinstance(formatter, RedactingJsonFormatter) and formatter.json_default is repr
    record = logging.makeLogRecord({"msg": "m", "z": 1 + 2j})
    assert json.loads(formatter.format(record))["z"] == "(1+2j)"


def test_an_indenting_formatter_still_writes_one_line_per_record(tmp_path: Path) -> None:
    """json_indent through GenerationLogHandler: each record is one JSON line on disk."""
    handler = GenerationLogHandler(tmp_path / "generation.log")
    handler.setFormatter(RedactingJsonFormatter(json_indent=2, json_backend="json"))
    log = logging.getLogger("test.keywords.indent")
    log.propagate, log.handlers = False, [handler]
    log.warning("one", extra={"nested": {"a": [1, 2]}})
    log.warning("two")
    handler.close()
    lines = (tmp_path / "generation.log").read_text().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["one", "two"]
    assert json.loads(lines[0])["nested"] == {"a": [1, 2]}
