"""Property tests: secrets of every catalogue format, planted anywhere, never reach the output."""

from __future__ import annotations

import json
import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from dihya_logging import RedactingJsonFormatter, Redactor
from dihya_logging.redaction._detectors import CATALOGUE, Detector, expand_example

REDACTOR = Redactor()
FORMATTER = RedactingJsonFormatter()
SEPARATORS = st.sampled_from([" ", "\n", ": ", " (", "'", '"', "\t", "=", " -> ", ", "])
PROSE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.", max_size=30)


@st.composite
def planted(draw: st.DrawFn) -> tuple[str, str]:
    """(text, secret): a random secret of a random catalogue format inside random prose."""
    detector: Detector = draw(st.sampled_from(CATALOGUE))

    def pick(alphabet: str, n: int) -> str:
        return draw(st.text(alphabet=alphabet, min_size=n, max_size=n))

    text, secret = expand_example(detector.example, pick)
    before = draw(PROSE) + draw(SEPARATORS)
    after = draw(SEPARATORS) + draw(PROSE)
    return before + text + after, secret


@settings(max_examples=300, deadline=None)
@given(planted())
def test_planted_secret_never_survives_in_free_text(case: tuple[str, str]) -> None:
    """A secret of any catalogue format inside free text is masked, whatever surrounds it."""
    text, secret = case
    assert secret not in REDACTOR.redact_text(text)


@settings(max_examples=150, deadline=None)
@given(planted(), st.sampled_from(["detail", "error", "note", "x"]))
def test_planted_secret_never_survives_when_nested(case: tuple[str, str], key: str) -> None:
    """The same secret nested in dicts and lists (under a neutral key) is masked too."""
    text, secret = case
    obj = {"request": {"steps": [{"name": "push", key: [text, {"k": (text,)}]}]}}
    assert secret not in json.dumps(REDACTOR.redact(obj))


@settings(max_examples=150, deadline=None)
@given(planted())
def test_planted_secret_never_survives_as_a_message_argument(case: tuple[str, str]) -> None:
    """A ``%s`` argument holding the secret is masked in the formatted JSON line."""
    text, secret = case
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "config line: %s", (text,), None)
    assert secret not in FORMATTER.format(record)


WORDS = st.sampled_from(
    ["backend", "frontend", "src", "components", "TokenInput", "password_reset", "api_keys",
     "auth", "secrets", "README", "app", "routes", "session", "models", "v2", "utils"]
)  # fmt: skip
BENIGN = st.one_of(
    st.builds(lambda ws, ext: "/".join(ws) + ext, st.lists(WORDS, min_size=1, max_size=5),
              st.sampled_from([".py", ".tsx", ".md", ".json", ""])),
    st.uuids().map(str),
    st.binary(min_size=20, max_size=20).map(bytes.hex),  # a commit SHA
    st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex()),
    st.tuples(*[st.integers(0, 40)] * 3).map(lambda t: "{}.{}.{}".format(*t)),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(BENIGN)
def test_benign_values_come_back_untouched(text: str) -> None:
    """Paths with sensitive-sounding names, UUIDs, SHAs, digests, versions, dates survive."""
    assert REDACTOR.redact_text(text) == text
