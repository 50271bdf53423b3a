"""Tests for the batched clean check of `log_generation_event`: secrets masked wherever they sit."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from helpers_records import Capture, json_stream, private_logger
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dihya_logging.events._events import MAX_TEXT_LENGTH, log_generation_event
from dihya_logging.redaction import default_redactor
from tests.helpers_redaction import A36, Mimic, Sub

GHP = "ghp_" + A36
SECRETS = {"github-token": (GHP, A36), "key-value": ("password=hunter2", "hunter2")}
"""name: (text holding the secret, what must not survive)."""


@pytest.fixture
def sink() -> Iterator[tuple[logging.Logger, io.StringIO, Capture]]:
    """A private logger with a JSON stream handler and a raw record capture."""
    (json_handler, stream), keeper = json_stream(), Capture()
    with private_logger(f"test.gencheck.{id(stream)}", json_handler, keeper) as logger:
        yield logger, stream, keeper


def call(where: str, text: str) -> dict[str, Any]:
    """Arguments of a generation whose only secret is `text`, placed at `where`."""
    files = ["README.md", "backend/app.py", "frontend/App.js"]
    needs: dict[str, Any] = {"project_name": "Blog", "stack": "api", "plugins": ["auth", "seo"]}
    needs["template"] = "shop"
    user = "user_1"
    if where.startswith("files"):
        at = {"files first": 0, "files middle": 1, "files last": 3}[where]
        files.insert(at, f"config/{text}.env")
    elif where == "long path":  # the secret straddles the length cap
        files.append("d/" + "x" * (MAX_TEXT_LENGTH - 12) + " " + text + " tail")
    elif where == "plugins":
        needs["plugins"] = ["auth", f"plugin {text}"]
    elif where == "user_id":
        user = f"user {text}"
    else:
        needs[where] = f"{where} {text}"
    return {"user_id": user, "needs": needs, "code": {path: "content" for path in files}}


PLACES = ["files first", "files middle", "files last", "long path", "plugins", "project_name"]
PLACES += ["stack", "template", "user_id"]


@pytest.mark.parametrize("kind", list(SECRETS))
@pytest.mark.parametrize("where", PLACES)
def test_a_secret_in_any_generation_string_is_masked_everywhere(
    sink: tuple[logging.Logger, io.StringIO, Capture], where: str, kind: str
) -> None:
    """Line written, dict returned and raw record all mask it; the clean neighbours survive."""
    logger, stream, keeper = sink
    text, secret = SECRETS[kind]
    returned = log_generation_event(**call(where, text), logger=logger)
    line = stream.getvalue()
    (record,) = keeper.records
    assert json.loads(line) == returned
    assert secret not in line
    assert secret not in json.dumps(returned)
    assert secret not in json.dumps({k: getattr(record, k) for k in returned if k in vars(record)})
    if where == "long path":  # redacted before the cut: no fragment of it either
        assert max(map(len, returned["files"])) == MAX_TEXT_LENGTH
    else:
        assert "[REDACTED]" in line
    assert "README.md" in returned["files"] and "backend/app.py" in returned["files"]
    assert returned["user_id"].startswith("user")


def test_a_clean_generation_is_written_as_given(
    sink: tuple[logging.Logger, io.StringIO, Capture],
) -> None:
    """No secret anywhere: every field comes out exactly as passed (nothing masked or lost)."""
    logger, stream, _ = sink
    returned = log_generation_event(**call("stack", "fullstack"), logger=logger)
    assert json.loads(stream.getvalue()) == returned
    assert returned["files"] == ["README.md", "backend/app.py", "frontend/App.js"]
    assert (returned["user_id"], returned["stack"], returned["template"]) == (
        "user_1",
        "stack fullstack",
        "shop",
    )
    assert returned["plugins"] == ["auth", "seo"] and "[REDACTED]" not in stream.getvalue()


@pytest.mark.parametrize("container", [list, tuple, dict.fromkeys])
def test_str_subclass_paths_become_plain_str(
    sink: tuple[logging.Logger, io.StringIO, Capture], container: Any
) -> None:
    """Paths given as str subclasses are plain str in the record, the line and the dict."""
    logger, stream, keeper = sink
    log_generation_event("README.md", {}, ["README.md"], logger=logger)  # memoised clean
    code = container([Sub("README.md"), Sub("src/app.py")])
    returned = log_generation_event(
        Sub("user_1"),
        {"project_name": Sub("p"), "stack": Sub("s"), "template": Sub("t"), "plugins": [Sub("x")]},
        code,
        logger=logger,
    )
    record = keeper.records[-1]
    assert record.files == ["README.md", "src/app.py"]  # type: ignore[attr-defined]
    for value in (*record.files, *record.plugins, record.user_id, record.project_name):  # type: ignore[attr-defined]
        assert type(value) is str
    assert all(type(path) is str for path in returned["files"])
    assert json.loads(stream.getvalue().splitlines()[-1]) == returned


def test_a_path_mimicking_a_clean_string_is_still_masked(
    sink: tuple[logging.Logger, io.StringIO, Capture],
) -> None:
    """A str subclass hashing/comparing like a memoised clean path but holding a token: masked."""
    logger, stream, keeper = sink
    log_generation_event("user_1", {}, ["README.md"], logger=logger)  # README.md memoised clean
    returned = log_generation_event("user_1", {}, [Mimic(GHP), "README.md"], logger=logger)
    assert A36 not in stream.getvalue() and A36 not in json.dumps(returned)
    assert A36 not in json.dumps(keeper.records[-1].files)  # type: ignore[attr-defined]
    assert type(returned["files"][0]) is str


def test_extra_keys_clashing_with_generation_fields_are_kept_aside(
    sink: tuple[logging.Logger, io.StringIO, Capture],
) -> None:
    """extra user_id/files/event/status/error move to extra_<key>; the real fields stand."""
    logger, stream, keeper = sink
    extra = {"user_id": "x", "files": ["f.py"], "event": "e", "status": "z", "error": "boom"}
    returned = log_generation_event("user_1", {}, ["a.py"], extra=extra, logger=logger)
    assert (returned["user_id"], returned["files"], returned["event"]) == (
        "user_1",
        ["a.py"],
        "generation",
    )
    assert (returned["status"], returned["error"]) == ("success", None)
    for key, value in extra.items():
        assert returned[f"extra_{key}"] == value
        assert getattr(keeper.records[0], f"extra_{key}") == value
    assert json.loads(stream.getvalue()) == returned


def test_clashing_extra_keys_never_overwrite_each_other(
    sink: tuple[logging.Logger, io.StringIO, Capture],
) -> None:
    """extra has both user_id and extra_user_id: both values are kept, the user id too."""
    logger, _, _ = sink
    returned = log_generation_event(
        "user_1", {}, [], extra={"user_id": "x", "extra_user_id": "y"}, logger=logger
    )
    assert returned["user_id"] == "user_1"
    kept = {k: v for k, v in returned.items() if k.endswith("user_id") and k != "user_id"}
    assert sorted(kept.values()) == ["x", "y"]


@pytest.mark.parametrize("dirty_fields", [False, True])
def test_secrets_in_clashing_extras_are_masked(
    sink: tuple[logging.Logger, io.StringIO, Capture], dirty_fields: bool
) -> None:
    """Clashing extra keys holding secrets are masked, whether the generation strings are clean."""
    logger, stream, keeper = sink
    user = "user password=hunter2" if dirty_fields else "user_1"
    extra = {"user_id": f"token={A36}", "files": [GHP], "note": "password=hunter2"}
    returned = log_generation_event(user, {}, ["a.py"], extra=extra, logger=logger)
    for text in (
        stream.getvalue(),
        json.dumps(returned),
        json.dumps(vars(keeper.records[0]), default=str),
    ):
        assert A36 not in text and "hunter2" not in text
    assert returned["files"] == ["a.py"] and returned["extra_files"] == ["[REDACTED]"]


QUIET = logging.getLogger("test.gencheck.quiet")
PIECE = st.sampled_from(["ghp_", A36, "password", "token", "=", ": ", " ", "/", ".py", "a", "é"])
TEXT = st.one_of(st.text(max_size=30), st.lists(PIECE, max_size=6).map("".join))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    user=TEXT.filter(str.strip),
    files=st.lists(TEXT, max_size=5),
    plugins=st.lists(TEXT, max_size=3),
    texts=st.lists(st.one_of(st.none(), TEXT), min_size=3, max_size=3),
)
def test_the_batched_check_equals_a_full_redaction(
    user: str, files: list[str], plugins: list[str], texts: list[str | None]
) -> None:
    """Whatever the strings, the event holds exactly what redacting every field would give."""
    QUIET.setLevel(logging.CRITICAL)  # nothing written: only the returned record is compared
    project, stack, template = texts
    needs = {"project_name": project, "stack": stack, "template": template, "plugins": plugins}
    returned = log_generation_event(user, needs, files, logger=QUIET)
    built = {
        "event": "generation",
        "user_id": user,
        "project_name": project,
        "stack": stack,
        "files": files,
        "files_count": len(files),
        "plugins": plugins,
        "template": template,
        "status": "success",
        "error": None,
    }
    expected = default_redactor().redact(built)
    assert {key: returned[key] for key in expected} == expected


class _Key(str):
    """A str subclass posing as a plain key (its text is what the record must use)."""


@pytest.mark.parametrize(
    "second",
    [{"msg": "m", "note": "n"}, {"user_id": "u", "note": "n"}, {_Key("note"): "n", "x": 1}],
    ids=["stock attribute", "generation field", "str subclass key"],
)
def test_plain_extra_keys_before_never_let_a_clash_through(
    sink: tuple[logging.Logger, io.StringIO, Capture], second: dict[str, Any]
) -> None:
    """After events with plain extra keys, a clashing or odd key set is still renamed."""
    logger, stream, keeper = sink
    for _ in range(2):  # plain keys first: no state may carry over to the next event
        log_generation_event("user_1", {}, [], extra={"note": "a", "x": 1}, logger=logger)
    returned = log_generation_event("user_1", {}, [], extra=second, logger=logger)
    record = keeper.records[-1]
    assert record.msg == "generation" and returned["user_id"] == "user_1"
    for key, value in second.items():
        name = str.__str__(key)
        kept = name if name in ("note", "x") else f"extra_{name}"
        assert returned[kept] == value and type(next(k for k in returned if k == kept)) is str
    assert json.loads(stream.getvalue().splitlines()[-1]) == returned
