"""Tests for the clean mark: an event edited after it was built, at any depth, is redacted again.

`log_event` redacts an event's fields before the record exists and marks the record with their
JSON; the formatter writes the mark's bytes only while the record's fields still serialise to
them. The unit tests pin the proof (`CleanFields.intact`); the others scan what is written.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from helpers_records import json_stream, private_logger, run_without_orjson

from dihya_logging import log_generation_event
from dihya_logging.formatter import orjson_available
from dihya_logging.formatter._cleanmark import CLEAN_FIELDS_ATTR, CleanFields, clean_mark

pytestmark = pytest.mark.skipif(not orjson_available(), reason="the mark needs orjson")

SECRET = "hunter2-Sup3r-Secret"


def built() -> dict[str, Any]:
    """Fields as `log_event` puts them on a record: scalars, a list, nested dicts, a None."""
    return {
        "event": "generation",
        "user_id": "user_1",
        "files": ["README.md", "app.py"],
        "request": {"id": 7, "meta": {"tags": ["a", "b"], "path": "/generate"}},
        "error": None,
        "files_count": 2,
    }


def marked() -> tuple[CleanFields, dict[str, Any]]:
    """A mark and the record attributes it was made for (plus unrelated record attributes)."""
    fields = built()
    mark = clean_mark(fields)
    assert mark is not None
    return mark, {"name": "dihya.generation", "msg": "generation", **fields}


EDITS: dict[str, Callable[[dict[str, Any]], object]] = {
    "scalar replaced": lambda a: a.__setitem__("user_id", "password=" + SECRET),
    "field removed": lambda a: a.pop("user_id"),
    "None replaced": lambda a: a.__setitem__("error", SECRET),
    "list appended": lambda a: a["files"].append(SECRET),
    "list item replaced": lambda a: a["files"].__setitem__(0, SECRET),
    "list reordered": lambda a: a["files"].reverse(),
    "dict value changed": lambda a: a["request"].__setitem__("id", SECRET),
    "dict key added": lambda a: a["request"].__setitem__("token", SECRET),
    "two levels down": lambda a: a["request"]["meta"].__setitem__("path", SECRET),
    "three levels down": lambda a: a["request"]["meta"]["tags"].append(SECRET),
    "deep key renamed": lambda a: a["request"]["meta"].__setitem__(
        "password", a["request"]["meta"].pop("path")
    ),
}


def test_an_untouched_record_is_intact() -> None:
    """No edit: intact, and the mark names the fields in output order."""
    mark, attributes = marked()
    assert mark.intact(attributes) is True
    assert mark.names == tuple(built())


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_at_any_depth_breaks_the_mark(edit: str) -> None:
    """Replaced, removed, or edited one, two or three levels deep: not intact."""
    mark, attributes = marked()
    EDITS[edit](attributes)
    assert mark.intact(attributes) is False


def test_an_edit_undone_is_clean_again() -> None:
    """A list appended to then restored holds what was redacted: intact again."""
    mark, attributes = marked()
    attributes["files"].append(SECRET)
    assert mark.intact(attributes) is False
    attributes["files"].pop()
    assert mark.intact(attributes) is True


class ClaimsEqual:
    """A value that claims to equal anything while its text holds a secret."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __str__(self) -> str:
        return f"password={SECRET}"


def test_a_value_that_is_not_plain_json_is_never_trusted() -> None:
    """An object (whatever its __eq__ says) in a field or deep inside one breaks the mark."""
    for where in ("user_id", "files", "request"):
        mark, attributes = marked()
        if where == "user_id":
            attributes[where] = ClaimsEqual()
        elif where == "files":
            attributes[where][0] = ClaimsEqual()
        else:
            attributes[where]["meta"]["path"] = ClaimsEqual()
        assert mark.intact(attributes) is False


def test_a_pickled_mark_trusts_nothing() -> None:
    """Through pickle (a multiprocessing queue) the proof is gone: the copy is never intact."""
    mark, attributes = marked()
    copy = pickle.loads(pickle.dumps(mark))  # noqa: S301 - our own bytes
    assert type(copy) is CleanFields
    assert copy.intact(attributes) is False
    assert mark.intact(attributes) is True


@pytest.fixture
def filtered() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger writing JSON lines to a stream (filters added by each test)."""
    handler, stream = json_stream()
    with private_logger(f"test.cleanmark.{id(stream)}", handler) as logger:
        yield logger, stream


RECORD_EDITS: dict[str, Callable[[Any], None]] = {
    "list append": lambda r: r.files.append(f"token={SECRET}"),
    "list item": lambda r: r.plugins.__setitem__(0, f"password={SECRET}"),
    "replaced": lambda r: setattr(r, "project_name", f"api_key={SECRET}"),
    "claims equal": lambda r: setattr(r, "stack", ClaimsEqual()),
    "nested dict, two levels": lambda r: r.request["meta"].__setitem__("password", SECRET),
    "nested list, three levels": lambda r: r.request["meta"]["tags"].append({"token": SECRET}),
}


@pytest.mark.parametrize("edit", list(RECORD_EDITS))
def test_a_filter_edit_is_redacted_in_the_written_line(
    filtered: tuple[logging.Logger, io.StringIO], edit: str
) -> None:
    """A logger filter that writes a secret into a marked field, at any depth: masked."""
    logger, stream = filtered

    def secret_filter(record: logging.LogRecord) -> bool:
        assert type(getattr(record, CLEAN_FIELDS_ATTR)) is CleanFields
        RECORD_EDITS[edit](record)
        return True

    logger.addFilter(secret_filter)
    log_generation_event(
        "user_1",
        {"plugins": ["a"], "stack": "api"},
        ["a.py"],
        extra={"request": {"meta": {"tags": ["x"]}}},
        logger=logger,
    )
    line = stream.getvalue()
    assert json.loads(line)["event"] == "generation"
    assert SECRET not in line


def test_without_orjson_every_event_takes_the_full_pipeline(
    subprocess_env: dict[str, str],
) -> None:
    """No orjson: no mark is made, and a deep edit by a filter is still redacted."""
    code = (
        "import io, json, logging\n"
        "import dihya_logging as dl\n"
        "stream = io.StringIO(); h = logging.StreamHandler(stream)\n"
        "h.setFormatter(dl.RedactingJsonFormatter())\n"
        "log = logging.getLogger('t'); log.addHandler(h); log.setLevel(logging.INFO)\n"
        "seen = []\n"
        "def edit(record):\n"
        "    seen.append(hasattr(record, '_dihya_clean_fields'))\n"
        "    record.request['meta']['password'] = 'zq8Hunter2Wvx'\n"
        "    return True\n"
        "log.addFilter(edit)\n"
        "dl.log_generation_event('u1', {}, ['a.py'], extra={'request': {'meta': {}}}, logger=log)\n"
        "print(seen[0]); print(stream.getvalue().strip())\n"
    )
    out = run_without_orjson(code, subprocess_env)
    assert out[0] == "False"
    assert json.loads(out[1])["request"]["meta"]["password"] == "[REDACTED]"
