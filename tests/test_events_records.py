"""Event records come from the logger's own ``makeRecord``: whatever reaches any record (record
factories, ``makeRecord`` wrappers installed before or after import, ``LogRecord`` patches,
OpenTelemetry's trace-context injection) reaches generation events, and is written to the file.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_leaks import SECRET, open_sink
from helpers_leaks import assert_clean as _clean

from dihya_logging import log_generation_event


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[logging.Logger, Path]]:
    """A fresh logger writing through a GenerationLogHandler into tmp_path."""
    with open_sink(tmp_path) as pair:
        yield pair


def _log(logger: logging.Logger, user: Any = "u1", **kwargs: Any) -> dict[str, Any]:
    return log_generation_event(user, {"project_name": "p"}, ["a.py"], logger=logger, **kwargs)


def _written(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (root / "generation.log").read_text().splitlines()]


def test_a_makerecord_wrapper_installed_after_import_tags_events(
    sink: tuple[logging.Logger, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Logger.makeRecord`` wrapped after import (as an APM agent does): events carry its tag,
    and what it adds is written (and redacted)."""
    logger, root = sink
    _log(logger)  # a first event before the wrapper: nothing cached may bypass it later
    real = logging.Logger.makeRecord

    def wrapped(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = real(self, *args, **kwargs)
        record.apm = {"host": "web-1", "password": SECRET}
        return record

    monkeypatch.setattr(logging.Logger, "makeRecord", wrapped)
    _log(logger)
    first, second = _written(root)
    assert "apm" not in first
    assert second["apm"] == {"host": "web-1", "password": "[REDACTED]"}
    _clean(root, SECRET)


def test_a_makerecord_wrapper_installed_before_import_tags_events(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """A wrapper installed before dihya_logging is imported is used too (fresh interpreter)."""
    code = (
        "import logging\n"
        "real = logging.Logger.makeRecord\n"
        "def wrapped(self, *args, **kwargs):\n"
        "    record = real(self, *args, **kwargs); record.agent = 'apm-1'; return record\n"
        "logging.Logger.makeRecord = wrapped\n"
        "import dihya_logging as dl\n"
        f"dl.configure({str(tmp_path / 'generation.log')!r})\n"
        "dl.log_generation_event('u1', {}, ['a.py'])\n"
        "logging.shutdown()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=subprocess_env, check=True, timeout=60)
    (line,) = _written(tmp_path)
    assert line["agent"] == "apm-1" and line["event"] == "generation"


def test_a_logrecord_init_patched_after_the_first_event_reaches_events(
    sink: tuple[logging.Logger, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``LogRecord.__init__`` patched after events were logged: the next event runs it."""
    logger, root = sink
    _log(logger)
    real = logging.LogRecord.__init__

    def patched(self: logging.LogRecord, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self.region = "eu-west"

    monkeypatch.setattr(logging.LogRecord, "__init__", patched)
    _log(logger)
    assert [line.get("region") for line in _written(root)] == [None, "eu-west"]


@pytest.mark.parametrize(
    ("user", "text"),
    [(42, "42"), (uuid.UUID(int=7), "00000000-0000-0000-0000-000000000007")],
    ids=["int", "uuid"],
)
def test_int_and_uuid_user_ids_are_logged_as_their_text(
    sink: tuple[logging.Logger, Path], user: Any, text: str
) -> None:
    """An int or a UUID user id is written (and returned) as its text."""
    logger, root = sink
    assert _log(logger, user)["user_id"] == text
    assert _written(root)[0]["user_id"] == text


def test_opentelemetry_trace_ids_reach_generation_events(
    sink: tuple[logging.Logger, Path],
) -> None:
    """OpenTelemetry's logging instrumentation, inside an active span: the event written to the
    file carries the span's ``otelTraceID`` and ``otelSpanID``."""
    pytest.importorskip("opentelemetry.instrumentation.logging")
    from opentelemetry.instrumentation.logging import LoggingInstrumentor
    from opentelemetry.sdk.trace import TracerProvider

    logger, root = sink
    provider = TracerProvider()
    instrumentor = LoggingInstrumentor()
    root_handlers = list(logging.getLogger().handlers)
    # `inject_trace_context` in current releases; `set_logging_format` in those for Python 3.9
    instrumentor.instrument(
        tracer_provider=provider, inject_trace_context=True, set_logging_format=True
    )
    logging.getLogger().handlers[:] = root_handlers  # the latter may add a basicConfig handler
    try:
        with provider.get_tracer("test").start_as_current_span("generate") as span:
            _log(logger)
            context = span.get_span_context()
    finally:
        instrumentor.uninstrument()
    (line,) = _written(root)
    assert line["otelTraceID"] == format(context.trace_id, "032x")
    assert line["otelSpanID"] == format(context.span_id, "016x")
    assert line["event"] == "generation" and line["files"] == ["a.py"]


def test_opentelemetry_plain_instrument_call_with_log_correlation_on(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """``LoggingInstrumentor().instrument()`` as documented (``OTEL_PYTHON_LOG_CORRELATION=true``),
    in a fresh interpreter, inside an active span: the event on disk carries the span's ids."""
    pytest.importorskip("opentelemetry.instrumentation.logging")
    code = (
        "import logging\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.instrumentation.logging import LoggingInstrumentor\n"
        "import dihya_logging as dl\n"
        "trace.set_tracer_provider(TracerProvider())\n"
        "LoggingInstrumentor().instrument()\n"
        f"dl.configure({str(tmp_path / 'generation.log')!r})\n"
        "with trace.get_tracer('t').start_as_current_span('generate') as span:\n"
        "    dl.log_generation_event('u1', {}, ['a.py'])\n"
        "    ctx = span.get_span_context()\n"
        "print(format(ctx.trace_id, '032x'), format(ctx.span_id, '016x'))\n"
        "logging.shutdown()\n"
    )
    env = {**subprocess_env, "OTEL_PYTHON_LOG_CORRELATION": "true"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    trace_id, span_id = done.stdout.split()
    (line,) = _written(tmp_path)
    assert (line["otelTraceID"], line["otelSpanID"]) == (trace_id, span_id)
