"""Adversarial leak tests (structures, records, pipeline): every byte on disk is scanned."""

from __future__ import annotations

import collections
import dataclasses
import enum
import logging
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_leaks import GHP, SECRET, open_sink
from helpers_leaks import assert_clean as _clean

from dihya_logging import (
    LOGGER_NAME,
    GenerationLogHandler,
    RedactingJsonFormatter,
    configure,
    export_generation_logs,
    log_generation_event,
)
from dihya_logging.redaction import default_redactor


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[logging.Logger, Path]]:
    """A fresh logger writing through a rotating, gzipping GenerationLogHandler."""
    with open_sink(tmp_path) as pair:
        yield pair


@dataclasses.dataclass
class Creds:
    """A dataclass holding a password."""

    user: str
    password: str


class Kind(enum.Enum):
    """An enum member used as a sensitive dict key."""

    PASSWORD = "password"


class Shown:
    """An object whose str() holds a key=value secret."""

    def __str__(self) -> str:
        return f"Shown(password={SECRET})"


def test_nested_containers(sink: tuple[logging.Logger, Path]) -> None:
    """Sensitive keys deep in tuples, sets, frozensets, dataclasses and MappingProxy are masked."""
    logger, root = sink
    deep = {"a": ({"b": [frozenset({("x", 1)}), types.MappingProxyType({"Api-Key": SECRET})]},)}
    logger.info("m", extra={"deep": deep, "dc": [Creds("u", SECRET)], "s": {"token=" + SECRET}})
    _clean(root, SECRET)


def test_non_str_keys(sink: tuple[logging.Logger, Path]) -> None:
    """bytes and Enum keys naming a secret are masked; a secret used as a key is scrubbed."""
    logger, root = sink
    logger.info("m", extra={"k": {b"password": SECRET, Kind.PASSWORD: SECRET, GHP: 1}})
    _clean(root, SECRET, GHP[4:])


def test_message_args_and_dict_message(sink: tuple[logging.Logger, Path]) -> None:
    """str(obj) args, %(password)s mapping args and dict messages are scrubbed."""
    logger, root = sink
    logger.info("%s", Shown())
    logger.info("%(password)s", {"password": SECRET})
    logger.info({"password": SECRET, "nested": {"TOKEN": SECRET}})
    logger.info("login password=%s", SECRET)
    _clean(root, SECRET)


def test_exceptions_and_stack(sink: tuple[logging.Logger, Path]) -> None:
    """Exception args, chained causes, preset exc_text and stack_info are scrubbed."""
    logger, root = sink
    try:
        try:
            raise KeyError(f"password={SECRET}")
        except KeyError as inner:
            raise RuntimeError(f"Authorization: Bearer {SECRET}") from inner
    except RuntimeError:
        logger.exception("failed")
    rec = logger.makeRecord(logger.name, logging.ERROR, "f", 1, "x", (), None)
    rec.exc_text = f"Traceback...\nValueError: api_key={SECRET}"
    logger.handle(rec)
    password = SECRET  # noqa: F841 - a local in the frame
    logger.info("stack %s", "x", stack_info=True)
    _clean(root, SECRET)


def test_logger_name(sink: tuple[logging.Logger, Path]) -> None:
    """A token in the logger name is scrubbed."""
    logger, root = sink
    child = logging.getLogger(f"{logger.name}.{GHP}")
    child.info("hello")
    _clean(root, GHP[4:])


def test_formatter_options(tmp_path: Path) -> None:
    """static_fields and defaults holding secrets are masked on disk."""
    root = tmp_path / "logs"
    handler = GenerationLogHandler(root / "generation.log")
    handler.setFormatter(
        RedactingJsonFormatter(static_fields={"token": SECRET}, defaults={"password": SECRET})
    )
    logger = logging.getLogger("leaktest.opts")
    logger.propagate = False
    logger.addHandler(handler)
    logger.warning("x")
    logger.removeHandler(handler)
    handler.close()
    _clean(root, SECRET)


def test_generation_event_fields(sink: tuple[logging.Logger, Path]) -> None:
    """Tokens in file paths, project names, errors and extra are masked by log_generation_event."""
    logger, root = sink
    log_generation_event(
        "u1",
        {"project_name": f"p token={SECRET}", "spec": SECRET, "stack": GHP},
        {f"config/{GHP}.txt": SECRET},
        status="error",
        error=f"Authorization: Bearer {SECRET}",
        extra={"Cookie": SECRET, "meta": {"secret": SECRET}},
        logger=logger,
    )
    _clean(root, SECRET, GHP[4:])


class _Mutate(logging.Filter):
    """A filter that replaces event fields after log_generation_event built them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.error = f"password={SECRET}"
        record.project_name = GHP
        record.files.append(f"x/{GHP}")  # type: ignore[attr-defined]
        return True


def test_fast_path_after_filter_mutation(sink: tuple[logging.Logger, Path]) -> None:
    """Values a filter puts into pre-redacted fields are redacted again."""
    logger, root = sink
    logger.addFilter(_Mutate())
    log_generation_event("u1", {"project_name": "p"}, ["a.py"], logger=logger)
    _clean(root, SECRET, GHP[4:])


def test_forged_clean_marker(sink: tuple[logging.Logger, Path]) -> None:
    """extra cannot claim its own fields are pre-redacted."""
    logger, root = sink
    logger.info("event", extra={"_dihya_clean_fields": ("password",), "password": SECRET})
    logger.info("event", extra={"_dihya_clean_fields": frozenset({"note"}), "note": GHP})
    _clean(root, SECRET, GHP[4:])


def _detach_all(name: str) -> None:
    """Close (flushing queues) and detach every handler of logger `name`."""
    logger = logging.getLogger(name)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def test_queue_mode(tmp_path: Path) -> None:
    """Records through configure(queue=True) are as redacted as direct ones."""
    root = tmp_path / "logs"
    configure(root / "generation.log", queue=True)
    logger = logging.getLogger(LOGGER_NAME)
    logger.info("%(password)s", {"password": SECRET})
    logger.info("%s", Shown())
    logger.info({"token": SECRET})
    try:
        raise ValueError(f"api_key={SECRET}")
    except ValueError:
        logger.exception("boom", extra={"Cookie": SECRET})
    log_generation_event("u1", {"project_name": f"token={SECRET}"}, [f"a/{GHP}"])
    _detach_all(LOGGER_NAME)
    _clean(root, SECRET, GHP[4:])


def test_export_file_and_audit_event(tmp_path: Path) -> None:
    """Export files, and the export audit event naming actor and destination, hold no secret."""
    root = tmp_path / "logs"
    log = root / "generation.log"
    configure(log)
    log_generation_event(
        "u1", {"project_name": "p", "spec": SECRET}, {"a.py": SECRET}, extra={"password": SECRET}
    )
    _detach_all(LOGGER_NAME)
    for name in (f"out-{GHP}.jsonl", "out.csv.gz"):
        export_generation_logs(root / name, path=log, actor=f"bob password={SECRET}")
    _clean(root, SECRET, GHP[4:])


def test_rename_fields_keep_the_mask(tmp_path: Path) -> None:
    """A sensitive field renamed by rename_fields to a harmless name is still masked."""
    root = tmp_path / "logs"
    handler = GenerationLogHandler(root / "generation.log")
    handler.setFormatter(RedactingJsonFormatter(rename_fields={"password": "pw", "x": "y"}))
    logger = logging.getLogger("leaktest.rename")
    logger.propagate = False
    logger.addHandler(handler)
    logger.warning("x", extra={"password": SECRET, "x": 1})
    logger.removeHandler(handler)
    handler.close()
    _clean(root, SECRET)


Pair = collections.namedtuple("Pair", "user password")


def test_namedtuples_and_header_pairs(sink: tuple[logging.Logger, Path]) -> None:
    """Namedtuple fields and (name, value) header pairs are masked by their key."""
    logger, root = sink
    logger.info("m", extra={"nt": Pair("u", SECRET), "headers": [("Cookie", SECRET)]})
    logger.info("m", extra={"h": frozenset({("X-Api-Key", SECRET)}), "t": ("password", SECRET)})
    _clean(root, SECRET)


def test_pair_masking_spares_lists_and_paths() -> None:
    """Only (name, value) tuples are pairs: plugin lists and file paths stay readable."""
    out = default_redactor().redact({"plugins": ["auth", "analytics"], "f": ("token.py", "a.py")})
    assert out == {"plugins": ["auth", "analytics"], "f": ["token.py", "a.py"]}
