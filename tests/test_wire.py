"""Tests for sink._wire: the fsync policy parser and the JSON-escaping codec handler."""

from __future__ import annotations

import json

import pytest

from dihya_logging.sink._wire import FSYNC_POLICIES, JSON_ESCAPE, fsync_settings


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("never", (0, False)), ("rotate", (0, True)), ("always", (1, True)), (5, (5, True)),
     (" 7 ", (7, True))],
)  # fmt: skip
def test_each_policy_means_what_the_handler_documents(policy: object, expected: object) -> None:
    """Named policies and N-records policies give (sync every N or 0, sync at rotation)."""
    assert fsync_settings(policy) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", ["sometimes", "", 0, -3, True, 1.5, None])
def test_a_bad_policy_is_refused_with_the_choices(policy: object) -> None:
    """Unknown names, N < 1, booleans and other types raise a ValueError naming the choices."""
    with pytest.raises(ValueError, match="fsync"):
        fsync_settings(policy)  # type: ignore[arg-type]


def test_the_named_policies_are_listed() -> None:
    """FSYNC_POLICIES lists exactly the names fsync_settings accepts."""
    for name in FSYNC_POLICIES:
        fsync_settings(name)
    assert FSYNC_POLICIES == ("never", "rotate", "always")


@pytest.mark.parametrize("text", ["café", "Tifinagh ⵜⵉⴼⵉⵏⴰⵖ", "emoji 😀 beyond the BMP", "plain"])
def test_escaped_text_is_ascii_json_of_the_same_string(text: str) -> None:
    """Encoding to ASCII with the handler gives JSON that reads back as the original text."""
    line = json.dumps({"t": text}, ensure_ascii=False)
    data = line.encode("ascii", JSON_ESCAPE)
    assert data.isascii()
    assert json.loads(data) == {"t": text}


def test_decoding_errors_are_not_swallowed() -> None:
    """The handler is for encoding only: a decoding error still raises."""
    with pytest.raises(UnicodeDecodeError):
        b"\xff".decode("ascii", JSON_ESCAPE)
