"""The compiled prefilter (Hyperscan, the `fast` extra) changes the speed of redaction, never its
output: the same texts and structures through `Redactor(prefilter=True)` and `prefilter=False`."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dihya_logging import Redactor
from dihya_logging.redaction._detectors import CATALOGUE, Detector
from tests.helpers_redaction import example_of

pytest.importorskip("hyperscan")

COMPILED = Redactor(prefilter=True)
PURE = Redactor(prefilter=False)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EXAMPLES = [example_of(d, seed)[0] for d in CATALOGUE for seed in (0, 1)]
SEPARATORS = ["=", ": ", ":=", "?=", " => ", '": "', "('", '", "', ">", " - '", "%3D", " = \"",
              "\\\": \\\"", "\n  ", " string = "]  # fmt: skip
KEYS = ["password", "api_key", "token", "HEROKU_KEY", "cache_key", "status", "x", "2fa_secret",
        "value", 'key="Password" value', "cloudflare", "SONAR_LOGIN", "<password", "q",
        "pw"]  # fmt: skip
WORDS = ["backend/routes/auth.py", "docker-compose.yml", "Mozilla/5.0 (X11)", "ber,fr;q=0.8",
         "git push failed", "https://", "user:pw@host", "--password", "-p", "docker login",
         "machine h login u password", "kind: Secret", "data:", "Bearer", "é", "ⵣ", "\ud800",
         "\n", " ", "[REDACTED]", "a.b.c", "ghp_", "sk-", "xoxb-", "dp.", "|", "Q~"]  # fmt: skip
FRAGMENT = st.one_of(
    st.sampled_from(EXAMPLES),
    st.sampled_from(SEPARATORS),
    st.sampled_from(KEYS),
    st.sampled_from(WORDS),
    st.text(max_size=12),
    st.text(alphabet="abcXYZ0123456789_-.=:'\"<>/ ~|%", max_size=30),
)
# Long enough, often, for the compiled trigger and key/value scans (short texts use `re` alone).
TEXT = st.lists(FRAGMENT, max_size=40).map("".join)


@SETTINGS
@given(TEXT)
def test_a_text_comes_out_the_same_on_both_paths(text: str) -> None:
    """Any text, clean or holding secrets, short or long, ASCII or not: the same output."""
    assert COMPILED.redact_text(text) == PURE.redact_text(text)


@SETTINGS
@given(st.lists(TEXT, max_size=12), st.sampled_from(["detail", "error", "password", "files"]))
def test_a_structure_comes_out_the_same_on_both_paths(texts: list[str], key: str) -> None:
    """A record of new strings (checked as one batch, then string by string): the same output."""
    record: dict[str, Any] = {key: texts, "nested": {"message": " | ".join(texts)}, "n": 1}
    assert Redactor(prefilter=True).redact(record) == Redactor(prefilter=False).redact(record)


def test_every_catalogue_example_is_masked_alike_inside_a_long_text() -> None:
    """Each vendor example inside a long error (the compiled scans' regime): the same output,
    and the example's secret gone."""
    padding = "generator step backend/routes/orders.py ok; " * 8
    for detector in CATALOGUE:
        text, secret = example_of(detector, 3)
        line = f"{padding}failed: {text} (retry 2)\n{padding}"
        out = COMPILED.redact_text(line)
        assert out == PURE.redact_text(line), detector.name
        assert secret not in out, detector.name


def test_threads_scanning_at_once_get_the_pure_answers() -> None:
    """Eight threads redacting long new texts with one compiled redactor: every answer is the
    pure path's (each thread scans with its own scratch space)."""
    shared = Redactor(prefilter=True)
    padding = "backend/app.py frontend/src/App.js ber,fr;q=0.8 " * 8
    texts = [f"{padding}{i} {EXAMPLES[i % len(EXAMPLES)]} token={i}abcdef{i}" for i in range(400)]
    expected = [PURE.redact_text(t) for t in texts]
    wrong: list[int] = []

    def work(offset: int) -> None:
        for i in range(offset, len(texts), 8):
            if shared.redact_text(texts[i]) != expected[i]:
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_prefilter_must_be_none_or_a_bool() -> None:
    """A prefilter setting that is not None, True or False is refused."""
    with pytest.raises(TypeError, match="prefilter"):
        Redactor(prefilter="yes")  # type: ignore[arg-type]


def test_without_hyperscan_the_default_is_pure_and_true_fails() -> None:
    """Where `hyperscan` cannot be imported, the default redactor still masks (pure path) and
    `prefilter=True` raises ImportError."""
    code = (
        "import sys; sys.modules['hyperscan'] = None\n"
        "from dihya_logging.redaction._redactor import Redactor\n"
        "assert Redactor().redact_text('password=hunter2hunter2') == 'password=[REDACTED]'\n"
        "try:\n    Redactor(prefilter=True)\nexcept ImportError:\n    print('refused')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "refused"


def test_the_switch_turns_the_default_off() -> None:
    """``DIHYA_REDACTION_PREFILTER=off`` makes the default redactor take the pure path (the
    same output), and leaves ``prefilter=True`` compiled."""
    code = (
        "from dihya_logging.redaction._prefilter import wanted\n"
        "from dihya_logging.redaction._redactor import Redactor\n"
        "print(wanted(), Redactor().redact_text('x api_key: abcdefghij0123456789 y'))\n"
    )
    env = {"DIHYA_REDACTION_PREFILTER": "off", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.split() == ["False", "x", "api_key:", "[REDACTED]", "y"]


def test_a_rule_hyperscan_refuses_leaves_the_default_on_the_pure_path() -> None:
    """A user detector whose anchor has a lookaround (Hyperscan has none): the default redactor
    still masks with it (pure path, same output); ``prefilter=True`` refuses to build."""
    rule = Detector("zq-id", r"zq-[0-9]{4}", ("zq-",), anchor=r"-(?!x)qz")
    text = "id zq-1234 end " * 30
    assert Redactor(patterns=[rule]).redact_text(text) == "id [REDACTED] end " * 30
    assert Redactor(patterns=[rule], prefilter=False).redact_text(text) == "id [REDACTED] end " * 30
    with pytest.raises(Exception, match="not supported"):
        Redactor(patterns=[rule], prefilter=True)
