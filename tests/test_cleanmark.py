"""Tests for formatter._cleanmark: the clean-field mark sees every one-level edit of a field."""

from __future__ import annotations

import io
import json
import logging
import pickle
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from helpers_records import json_stream, private_logger

from dihya_logging.events._events import log_generation_event
from dihya_logging.formatter import _cleanmark as cleanmark
from dihya_logging.formatter._cleanmark import CLEAN_FIELDS_ATTR, CleanFields

SECRET = "hunter2-Sup3r-Secret"
SCALARS = ("event", "user_id", "error", "files_count")


@pytest.fixture(autouse=True, params=["installed", "without-orjson"])
def proof(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the mark as installed and with its no-orjson proof (copies)."""
    if request.param == "without-orjson":
        monkeypatch.setattr(cleanmark, "_orjson", None, raising=False)
    return str(request.param)


def assert_trusts(
    mark: CleanFields, attributes: dict[str, Any], untouched: tuple[str, ...]
) -> None:
    """`trusted` keeps mark order, names only marked fields, and keeps the untouched scalars."""
    trusted = mark.trusted(attributes)
    assert list(trusted) == [name for name in mark.names if name in trusted]
    assert set(untouched) <= set(trusted)


def built() -> dict[str, Any]:
    """Fields as `log_event` puts them on a record: scalars, a list, a dict, a None."""
    return {
        "event": "generation",
        "user_id": "user_1",
        "files": ["README.md", "app.py"],
        "request": {"id": 7, "path": "/generate"},
        "error": None,
        "files_count": 2,
    }


def marked() -> tuple[CleanFields, dict[str, Any]]:
    """A mark and the record attributes it was made for (plus unrelated record attributes)."""
    fields = built()
    mark = CleanFields(fields)
    return mark, {"name": "dihya.generation", "msg": "generation", **fields}


EDITS: dict[str, tuple[str, Callable[[dict[str, Any]], object]]] = {  # name: (field, edit)
    "scalar replaced": ("user_id", lambda a: a.__setitem__("user_id", "password=" + SECRET)),
    "field removed": ("user_id", lambda a: a.pop("user_id")),
    "None replaced": ("error", lambda a: a.__setitem__("error", SECRET)),
    "list replaced": ("files", lambda a: a.__setitem__("files", [SECRET])),
    "list appended": ("files", lambda a: a["files"].append(SECRET)),
    "list item replaced": ("files", lambda a: a["files"].__setitem__(0, SECRET)),
    "list item removed": ("files", lambda a: a["files"].pop()),
    "list reordered": ("files", lambda a: a["files"].reverse()),
    "dict value changed": ("request", lambda a: a["request"].__setitem__("path", SECRET)),
    "dict key added": ("request", lambda a: a["request"].__setitem__("token", SECRET)),
    "dict key removed": ("request", lambda a: a["request"].pop("id")),
    "dict key renamed": (
        "request",
        lambda a: a["request"].__setitem__("password", a["request"].pop("path")),
    ),
    "dict replaced": ("request", lambda a: a.__setitem__("request", {"id": 7, "path": SECRET})),
}


def test_an_untouched_record_is_intact_and_fully_trusted() -> None:
    """No edit: intact, and every field name is trusted, in output order."""
    mark, attributes = marked()
    assert mark.intact(attributes) is True
    assert mark.names == tuple(built())
    assert_trusts(mark, attributes, SCALARS)


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_an_edited_field_breaks_the_mark(edit: str) -> None:
    """Replaced, removed or edited one level deep: not intact, and that field alone untrusted."""
    mark, attributes = marked()
    field, change = EDITS[edit]
    change(attributes)
    assert mark.intact(attributes) is False
    assert field not in mark.trusted(attributes)
    assert_trusts(mark, attributes, tuple(k for k in SCALARS if k != field))


def test_an_equal_replacement_is_clean_only_under_the_json_proof() -> None:
    """New objects of equal content: clean by the JSON proof (same bytes), not by identity."""
    mark, attributes = marked()
    attributes["files"] = list(attributes["files"])
    attributes["request"] = dict(attributes["request"])
    attributes["user_id"] = "".join(["user", "_1"])
    assert attributes["user_id"] is not built()["user_id"]
    assert mark.intact(attributes) is (mark.body is not None)
    assert "user_id" not in mark.trusted(attributes)  # the rare path trusts identity only


def test_a_deep_edit_is_seen_by_the_json_proof_only(proof: str) -> None:
    """With orjson an edit at any depth is seen; without it only one level is (documented)."""
    fields = {**built(), "request": {"ids": [1, 2], "meta": {"k": "v"}}}
    mark, attributes = CleanFields(fields), dict(fields)
    assert (mark.body is not None) is (proof == "installed")
    assert mark.intact(attributes) is True
    fields["request"]["ids"].append(SECRET)
    assert mark.intact(attributes) is (proof == "without-orjson")
    fields["request"]["ids"].pop()
    fields["request"]["meta"]["k"] = SECRET
    assert mark.intact(attributes) is (proof == "without-orjson")
    fields["request"]["meta"]["k"] = "v"
    fields["request"]["ids"] = [1, 2, SECRET]  # a value of a field replaced: seen in both modes
    assert mark.intact(attributes) is False


def test_an_edit_undone_is_clean_again() -> None:
    """A list appended to then restored holds what was redacted: intact again."""
    mark, attributes = marked()
    attributes["files"].append(SECRET)
    assert mark.intact(attributes) is False
    attributes["files"].pop()
    assert mark.intact(attributes) is True


def test_an_unrelated_attribute_does_not_matter() -> None:
    """Attributes the mark does not name (set by a filter) leave the mark intact."""
    mark, attributes = marked()
    attributes["added_by_filter"] = SECRET
    assert mark.intact(attributes) is True
    assert "added_by_filter" not in mark.trusted(attributes)


class RaisingEq:
    """A value whose comparison raises (as a numpy array's truth value does)."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("the truth value is ambiguous")

    __hash__ = object.__hash__


class ClaimsEqual:
    """A value that claims to equal anything while its text holds a secret."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __str__(self) -> str:
        return f"password={SECRET}"


@pytest.mark.parametrize("where", ["field", "list item", "dict value"])
@pytest.mark.parametrize("kind", [RaisingEq, ClaimsEqual])
def test_a_value_with_its_own_equality_is_never_trusted(kind: type, where: str) -> None:
    """A replacement whose __eq__ raises or lies breaks the mark; checking it never raises."""
    mark, attributes = marked()
    if where == "field":
        attributes["user_id"], field = kind(), "user_id"
    elif where == "list item":
        attributes["files"][0], field = kind(), "files"
    else:
        attributes["request"]["path"], field = kind(), "request"
    assert mark.intact(attributes) is False
    assert field not in mark.trusted(attributes)
    assert_trusts(mark, attributes, tuple(k for k in SCALARS if k != field))


def test_a_pickled_mark_trusts_nothing() -> None:
    """Through pickle (a multiprocessing queue) the proof is gone: the copy names no field."""
    mark, attributes = marked()
    copy = pickle.loads(pickle.dumps(mark))  # noqa: S301 - our own bytes
    assert type(copy) is CleanFields
    assert copy.names == ()
    assert copy.trusted(attributes) == ()
    assert_trusts(mark, attributes, SCALARS)  # the original is not affected


@pytest.fixture
def filtered() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger writing JSON lines to a stream (filters added by each test)."""
    handler, stream = json_stream()
    with private_logger(f"test.cleanmark.{id(stream)}", handler) as logger:
        yield logger, stream


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r.files.append(f"token={SECRET}"),
        lambda r: r.plugins.__setitem__(0, f"password={SECRET}"),
        lambda r: setattr(r, "project_name", f"api_key={SECRET}"),
        lambda r: setattr(r, "stack", ClaimsEqual()),
    ],
    ids=["list append", "list item", "replaced", "claims equal"],
)
def test_a_filter_edit_is_redacted_in_the_written_line(
    filtered: tuple[logging.Logger, io.StringIO], edit: Callable[[Any], None]
) -> None:
    """A logger filter that writes a secret into a marked field: the line still masks it."""
    logger, stream = filtered

    def secret_filter(record: logging.LogRecord) -> bool:
        assert type(getattr(record, CLEAN_FIELDS_ATTR)) is CleanFields
        edit(record)
        return True

    logger.addFilter(secret_filter)
    log_generation_event("user_1", {"plugins": ["a"], "stack": "api"}, ["a.py"], logger=logger)
    line = stream.getvalue()
    assert json.loads(line)["event"] == "generation"
    assert SECRET not in line


def test_a_field_whose_equality_raises_still_gets_its_event_written(
    filtered: tuple[logging.Logger, io.StringIO],
) -> None:
    """A filter puts an uncomparable value in a field: the event is written in full, not lost."""
    logger, stream = filtered

    def uncomparable(record: logging.LogRecord) -> bool:
        record.stack = RaisingEq()
        return True

    logger.addFilter(uncomparable)
    log_generation_event("user_1", {"stack": "api"}, ["a.py"], logger=logger)
    written = json.loads(stream.getvalue())
    assert written["message"] == "generation"
    assert (written["user_id"], written["files"]) == ("user_1", ["a.py"])
    assert "format_error" not in written
