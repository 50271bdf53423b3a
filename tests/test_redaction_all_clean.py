"""Tests for `Redactor.all_clean`: True only when `redact_text` would change none of the texts."""

from __future__ import annotations

from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dihya_logging.redaction import Redactor, default_redactor
from tests.helpers_redaction import A36, NEGATIVES, POSITIVES, Mimic, Sub

GHP = "ghp_" + A36
CLEAN = ["README.md", "backend/app.py", "frontend/App.js", "user_123", "Blog Amazigh"]
REDACTORS: dict[str, Callable[[], Redactor]] = {"fresh": Redactor, "default": default_redactor}
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(params=list(REDACTORS))
def redactor(request: pytest.FixtureRequest) -> Redactor:
    """A fresh `Redactor()` (empty memo) and the shared `default_redactor()`."""
    return REDACTORS[request.param]()


def test_clean_texts_are_all_clean(redactor: Redactor) -> None:
    """Paths and ids with no trigger at all: clean, and indeed left unchanged one by one."""
    assert redactor.all_clean(CLEAN) is True
    assert all(redactor.redact_text(text) is text for text in CLEAN)


def test_texts_judged_clean_before_are_clean(redactor: Redactor) -> None:
    """False-positive traps ('Bearer of bad news'...) once redact_text kept them: memo says True."""
    for text in NEGATIVES:  # one by one: the shared memo may be cleared when full
        assert redactor.redact_text(text) is text
        assert redactor.all_clean([text, "README.md"]) is True


def test_no_texts_and_empty_texts_are_clean(redactor: Redactor) -> None:
    """An empty batch and empty strings have nothing to mask."""
    assert redactor.all_clean([]) is True
    assert redactor.all_clean(["", ""]) is True


@pytest.mark.parametrize("secret", [GHP, "password=hunter2", "x " + GHP + " y", "token: abc123"])
@pytest.mark.parametrize("at", [0, 2, 5])
def test_one_secret_anywhere_makes_the_batch_dirty(
    redactor: Redactor, secret: str, at: int
) -> None:
    """A GitHub token or a key=value secret first, inside or last in a batch: False."""
    texts = [*CLEAN[:at], secret, *CLEAN[at:]]
    assert redactor.all_clean(texts) is False
    assert redactor.redact_text(secret) != secret


@pytest.mark.parametrize("detector", sorted(POSITIVES))
def test_every_detector_secret_makes_the_batch_dirty(redactor: Redactor, detector: str) -> None:
    """Each known secret shape (every default detector, key=value forms) is caught in a batch."""
    for text, _ in POSITIVES[detector]:
        assert redactor.all_clean([*CLEAN, text]) is False
        assert redactor.all_clean([text]) is False


def test_a_lone_surrogate_is_not_clean(redactor: Redactor) -> None:
    """redact_text replaces a lone surrogate, so a batch holding one is not clean."""
    assert redactor.all_clean([*CLEAN, "file\ud800.py"]) is False
    assert redactor.redact_text("file\ud800.py") != "file\ud800.py"


@pytest.mark.parametrize("kind", [Sub, Mimic])
def test_str_subclasses_are_never_clean(redactor: Redactor, kind: type[str]) -> None:
    """A str subclass (clean content or a memo look-alike holding a token) makes it say False."""
    assert redactor.all_clean(["README.md"]) is True  # now memoised as clean
    assert redactor.all_clean(["README.md", kind("README.md")]) is False
    assert redactor.all_clean([kind(GHP)]) is False
    assert GHP not in redactor.redact_text(kind(GHP))


def test_clean_batches_are_memoised_and_dirty_ones_never_are() -> None:
    """A clean batch is remembered (each string); no string of a dirty batch is remembered."""
    redactor = Redactor()
    texts = ["alpha/one.py", "beta/two.py"]
    assert redactor.all_clean(texts) is True
    assert set(texts) <= redactor._text.memo
    dirty = ["gamma/three.py", "password=hunter2"]
    assert redactor.all_clean(dirty) is False
    assert "password=hunter2" not in redactor._text.memo
    assert redactor.all_clean(texts) is True  # answered from the memo
    assert redactor.redact_text("password=hunter2") == "password=[REDACTED]"


def test_custom_keys_and_patterns_are_honoured() -> None:
    """A Redactor's own sensitive keys and plain patterns make matching texts dirty."""
    assert default_redactor().all_clean(["codename=falcon", "build-42"]) is True
    keyed = Redactor(keys=["codename"])
    assert keyed.all_clean(["codename=falcon"]) is False
    assert keyed.redact_text("codename=falcon") != "codename=falcon"
    patterned = Redactor(patterns=[r"build-\d+"])
    assert patterned.all_clean(["a.py", "build-42"]) is False
    assert patterned.redact_text("build-42") != "build-42"


PIECES = [
    "ghp_", A36, A36[:20], "password", "passwd", "Token", "api_key", "secret", "cookie", "auth",
    "=", ":", ": ", "=>", ":=", "%3D", "%3A", " ", "\n", "\t", "'", '"', "\\", "&", "?", "/",
    "Bearer ", "basic ", "Cookie: ", "hunter2", "AKIA", "IOSFODNN7ABCDEFG", "://", "@", "-", "_",
    ".", "sk_live_", "eyJ", "PRIVATE KEY", "-----BEGIN ", "\ud800", "é", "x", "README.md",
]  # fmt: skip
SECRETISH = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)
TEXTS = st.lists(st.one_of(st.text(max_size=24), SECRETISH), max_size=6)


@SETTINGS
@given(texts=TEXTS, seen=st.lists(st.one_of(st.text(max_size=12), SECRETISH), max_size=3))
def test_all_clean_implies_nothing_would_change(texts: list[str], seen: list[str]) -> None:
    """For any texts, fresh or memoised, all_clean(texts) implies redact_text(t) == t for each."""
    for redactor in (Redactor(), default_redactor()):
        for text in seen:  # some strings already judged (memoised when clean)
            redactor.redact_text(text)
        for _ in range(2):  # the second answer comes from the memo
            if redactor.all_clean(texts):
                assert all(redactor.redact_text(text) == text for text in texts)


@SETTINGS
@given(texts=TEXTS)
def test_a_changed_text_always_makes_it_false(texts: list[str]) -> None:
    """Contrapositive, per string: any text redact_text changes makes its batch dirty."""
    redactor = Redactor()
    changed = [text for text in texts if redactor.redact_text(text) != text]
    if changed:
        assert redactor.all_clean(texts) is False
        assert Redactor().all_clean(texts) is False
