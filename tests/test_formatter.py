"""Tests for formatter._formatter: shape, redaction of every field, backends, robustness."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from helpers_records import run_without_orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from dihya_logging.formatter import RedactingJsonFormatter, orjson_available

SECRET = "hunter2-Sup3r-Secret"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"

BACKENDS = ["json", "orjson"] if orjson_available() else ["json"]


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    """A private logger writing through a RedactingJsonFormatter into a string buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingJsonFormatter())
    logger = logging.getLogger(f"test.formatter.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream, handler
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_head_fields_come_first_in_a_stable_order(capture: Any) -> None:
    """Every record starts with timestamp, level, logger, message; a plain record has no event."""
    logger, stream, _ = capture
    logger.info("hello %s", "world", extra={"zeta": 1})
    (record,) = lines(stream)
    assert list(record)[:4] == ["timestamp", "level", "logger", "message"]
    assert record["message"] == "hello world" and record["level"] == "INFO"
    assert record["timestamp"].endswith("Z") and len(record["timestamp"]) == 24
    assert record["zeta"] == 1 and "event" not in record


def test_message_arguments_are_redacted_after_formatting(capture: Any) -> None:
    """Secrets brought in by %-arguments are masked in the final message."""
    logger, stream, _ = capture
    logger.info("login failed, password=%s token %s", SECRET, GITHUB)
    text = stream.getvalue()
    assert SECRET not in text and GITHUB not in text
    assert "login failed" in text


def test_mapping_arguments_are_redacted_by_key(capture: Any) -> None:
    """A %(password)s argument is masked even though its text looks harmless."""
    logger, stream, _ = capture
    logger.info("user %(user)s with %(password)s", {"user": "amina", "password": "plain"})
    (record,) = lines(stream)
    assert "plain" not in record["message"] and "amina" in record["message"]


def test_exception_and_stack_text_are_redacted(capture: Any) -> None:
    """Tracebacks and stack info never carry a secret from the exception message."""
    logger, stream, _ = capture
    try:
        raise RuntimeError(f"Authorization: Bearer {SECRET}")
    except RuntimeError:
        logger.exception("boom", stack_info=True)
    (record,) = lines(stream)
    assert "RuntimeError" in record["exc_info"] and "stack_info" in record
    assert SECRET not in stream.getvalue()


def test_extra_fields_are_redacted_by_key_at_any_depth(capture: Any) -> None:
    """Sensitive keys nested in extra are masked, their neighbours kept."""
    logger, stream, _ = capture
    logger.info("x", extra={"meta": {"deep": [{"API-Key": SECRET, "region": "eu"}]}})
    (record,) = lines(stream)
    assert SECRET not in stream.getvalue()
    assert record["meta"]["deep"][0]["region"] == "eu"


def test_head_field_clash_is_kept_under_extra_name(capture: Any) -> None:
    """An extra field named like a head field never overrides it and is not lost."""
    logger, stream, _ = capture
    logger.info("real", extra={"timestamp": "forged", "level": "FAKE", "logger": "x"})
    (record,) = lines(stream)
    assert record["level"] == "INFO" and record["timestamp"] != "forged"
    assert record["extra_timestamp"] == "forged" and record["extra_level"] == "FAKE"


class Leaky:
    """An object whose text representation contains a secret."""

    def __str__(self) -> str:
        return f"Leaky(password={SECRET})"


class Broken:
    """An object whose text representation raises."""

    def __str__(self) -> str:
        raise RuntimeError("no text for you")

    __repr__ = __str__


def test_unencodable_values_become_redacted_text(capture: Any) -> None:
    """Objects JSON cannot encode become strings, redacted after conversion."""
    logger, stream, _ = capture
    logger.info("x", extra={"obj": Leaky(), "raw": b"bytes " + SECRET.encode()})
    (record,) = lines(stream)
    assert isinstance(record["obj"], str) and "Leaky" in record["obj"]
    assert SECRET not in stream.getvalue()


def test_format_never_raises_and_emits_a_valid_minimal_record(capture: Any) -> None:
    """A broken message or value yields a valid JSON record saying so, not an exception."""
    logger, stream, handler = capture
    # handled directly: pytest's own capture handlers would choke on the broken message
    handler.handle(logger.makeRecord(logger.name, logging.INFO, "f", 1, "%d apples", ("x",), None))
    handler.handle(logger.makeRecord(logger.name, logging.INFO, "f", 1, "obj", (), None))
    handler.handle(
        logger.makeRecord(
            logger.name, logging.INFO, "f", 1, "o", (), None, extra={"broken": Broken()}
        )
    )
    records = lines(stream)
    assert len(records) == 3
    assert records[0]["format_error"] == "TypeError" and records[0]["level"] == "INFO"
    assert "format_error" not in records[1] and "broken" in records[2]


def test_lone_surrogates_still_give_valid_utf8(capture: Any) -> None:
    """Text that is not encodable as UTF-8 is repaired, never a broken line."""
    logger, stream, _ = capture
    logger.info("bad \udc80 text", extra={"k": "\ud800"})
    out = stream.getvalue()
    out.encode("utf-8")
    assert json.loads(out)["message"].startswith("bad ")


def test_keyword_options_extend_defaults_and_change_mask() -> None:
    """redact_keys adds keys without dropping the defaults; mask changes the mask text."""
    formatter = RedactingJsonFormatter(redact_keys=["favourite_colour"], mask="***")
    record = logging.makeLogRecord(
        {"msg": "m", "favourite_colour": "blue", "password": SECRET, "city": "Tizi"}
    )
    out = json.loads(formatter.format(record))
    assert out["favourite_colour"] == "***" and out["password"] == "***"
    assert out["city"] == "Tizi"


def test_python_json_logger_options_still_work() -> None:
    """static_fields and rename_fields from python-json-logger pass through."""
    formatter = RedactingJsonFormatter(static_fields={"service": "gen"}, rename_fields={"a": "b"})
    out = json.loads(formatter.format(logging.makeLogRecord({"msg": "m", "a": 1})))
    assert out["service"] == "gen" and out["b"] == 1 and "a" not in out


def json_values(floats: bool) -> st.SearchStrategy[Any]:
    """Random JSON-like values, with or without floats."""
    scalars = st.none() | st.booleans() | st.integers() | st.text()
    if floats:
        scalars = scalars | st.floats()
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    )


FIELD_NAMES = st.from_regex(r"[a-z]{1,8}", fullmatch=True)


def both_backends(message: str, extra: dict[str, Any]) -> tuple[str, str]:
    record = logging.makeLogRecord({"msg": message, **extra})
    record.created = 1_700_000_000.5
    fast = RedactingJsonFormatter(json_backend="orjson").format(record)
    slow = RedactingJsonFormatter(json_backend="json").format(record)
    return fast, slow


@pytest.mark.skipif(not orjson_available(), reason="orjson not installed")
@settings(max_examples=200, deadline=None)
@given(st.text(), st.dictionaries(FIELD_NAMES, json_values(floats=False), max_size=5))
def test_backends_write_the_same_record_in_their_peers_spelling(
    message: str, extra: dict[str, Any]
) -> None:
    """Both backends write the same record: orjson compact (as OrjsonFormatter), json with
    json.dumps' defaults (as JsonFormatter: ASCII escapes, ', ' and ': ')."""
    fast, slow = both_backends(message, extra)
    record = json.loads(fast)
    assert json.loads(slow) == record
    assert slow == json.dumps(record)
    assert fast == json.dumps(record, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.skipif(not orjson_available(), reason="orjson not installed")
@settings(max_examples=200, deadline=None)
@given(st.text(), st.dictionaries(FIELD_NAMES, json_values(floats=True), max_size=5))
def test_backends_write_identical_values_with_floats(message: str, extra: dict[str, Any]) -> None:
    """With floats the values are identical; only exponent spelling may differ (1e-05/1e-5)."""
    fast, slow = both_backends(message, extra)
    assert json.loads(fast) == json.loads(slow)


def test_stdlib_fallback_when_orjson_cannot_be_imported(subprocess_env: dict[str, str]) -> None:
    """Without orjson the formatter picks the standard library and still works."""
    code = (
        "import logging\n"
        "from dihya_logging.formatter._formatter import RedactingJsonFormatter\n"
        "f = RedactingJsonFormatter()\n"
        "print(f.json_backend)\n"
        "print(f.format(logging.makeLogRecord({'msg': 'hi', 'token': 'abc'})))\n"
    )
    out = run_without_orjson(code, subprocess_env)
    assert out[0] == "json"
    assert json.loads(out[1])["token"] != "abc"


@pytest.mark.parametrize("backend", BACKENDS)
def test_forcing_a_backend_is_honoured(backend: str) -> None:
    """json_backend selects the serializer; an unknown name is a ValueError."""
    assert RedactingJsonFormatter(json_backend=backend).json_backend == backend  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="json_backend"):
        RedactingJsonFormatter(json_backend="yaml")  # type: ignore[arg-type]
