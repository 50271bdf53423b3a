"""Property-based tests (hypothesis) of the redactor: secrets planted anywhere vanish."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dihya_logging import Redactor
from tests.helpers_redaction import container_ids, json_native

R = Redactor()
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# Text from this alphabet can spell no trigger literal and no `key=value` pair: always clean.
CLEAN = st.text(alphabet="acdefhilmnorstuwz0123456789 ./", max_size=16)
CLEAN_KEY = st.text(alphabet="acdefhilmnorstuwz", min_size=1, max_size=8).filter(
    lambda k: not R.is_sensitive_key(k)
)
ANY_TEXT = st.text(max_size=16)
SECRET = st.text(alphabet=ALNUM, min_size=14, max_size=20).map(lambda s: "Zq9" + s)
PHRASES = [("password",), ("passwd",), ("api", "key"), ("client", "secret"), ("set", "cookie"),
           ("access", "token"), ("private", "key"), ("session", "id"), ("raw", "spec"),
           ("file", "content"), ("credentials",), ("x", "api", "key"), ("authorization",),
           ("refresh", "token"), ("secret",), ("credit", "card")]  # fmt: skip


@st.composite
def sensitive_key(draw: st.DrawFn) -> str:
    """A sensitive phrase in random case with random separators (or camelCase)."""
    words = draw(st.sampled_from(PHRASES))
    sep = draw(st.sampled_from(["_", "-", ".", " ", "", "camel"]))
    styles = [str.lower, str.upper, str.title]
    cased = [draw(st.sampled_from(styles))(w) for w in words]
    if sep == "camel":
        return words[0] + "".join(w.title() for w in words[1:])
    return sep.join(cased)


def _tokens(s: str) -> list[tuple[str, str]]:
    """Recognisable credentials built around the random secret `s`: (token, bytes to vanish)."""
    digits = "".join(str(ord(c) % 10) for c in s)[:16].upper()
    s20, s35, s36 = ((s * 3)[:n] for n in (20, 35, 36))
    return [
        ("ghp_" + s36, s36), ("github_pat_" + s + "_" + s, s), ("AKIA" + digits, digits),
        ("sk_live_" + s, s), ("xoxb-1234567890-" + s, s), ("AIza" + s35, s35),
        ("glpat-" + s20, s20), (f"eyJhbGciOiJIUzI1NiJ9.eyJ{s}.{s}", s), (f"Bearer {s}", s),
        (f"Basic {s}==", s), (f"password={s}", s), (f'"api_key": "{s}"', s), (f"token: {s}", s),
        (f"https://bob:{s}@example.com/x", s), (f"SECRET_KEY={s}", s),
        (f"-----BEGIN PRIVATE KEY-----\n{s}\n-----END PRIVATE KEY-----", s),
        (f"?access_token={s}&x=1", s), (f"Authorization: Token {s}", s), (f"cookie: sid={s}", s),
    ]  # fmt: skip


@st.composite
def embedded_token(draw: st.DrawFn) -> tuple[str, str]:
    """(text holding a recognisable token between random text, the bytes that must vanish)."""
    token, secret = draw(st.sampled_from(_tokens(draw(SECRET))))
    left, right = draw(st.sampled_from(" \n\t([{,;")), draw(st.sampled_from(" \n\t)]},;"))
    return draw(ANY_TEXT) + left + token + right + draw(ANY_TEXT), secret


class Holder:
    """An unknown object whose str() carries the text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


LEAF = st.one_of(
    ANY_TEXT, st.integers(), st.floats(), st.booleans(), st.none(), st.binary(max_size=8)
)
HASHABLE = st.one_of(CLEAN, st.integers(-(2**63), 2**63 - 1), st.booleans())


def _not_a_secret_pair(pair: tuple[Any, Any]) -> bool:
    """A ``(name, value)`` pair named like a secret is masked on purpose (header pairs)."""
    return not (isinstance(pair[0], str) and R.is_sensitive_key(pair[0]))


def structures(leaf: st.SearchStrategy[Any], key: st.SearchStrategy[Any]) -> Any:
    """Nested dicts/lists/tuples/sets of `leaf` under `key` keys."""
    return st.recursive(
        leaf,
        lambda kids: st.one_of(
            st.lists(kids, max_size=4),
            st.dictionaries(key, kids, max_size=4),
            st.tuples(kids, kids).filter(_not_a_secret_pair),
            st.sets(HASHABLE, max_size=3),
            st.frozensets(HASHABLE, max_size=3),
        ),
        max_leaves=16,
    )


@st.composite
def planted(draw: st.DrawFn) -> tuple[Any, list[str]]:
    """A value holding secrets at random depths, and the list of secret bytes planted."""
    secrets: list[str] = []
    kind = draw(st.sampled_from(["key", "text", "object", "dict-key"]))
    if kind == "key":
        s = draw(SECRET)
        secrets.append(s)
        inner = draw(st.sampled_from([s, [s], {"nested": s}, (s, 1), {"x": [s]}]))
        value: Any = {draw(sensitive_key()): inner}
    else:
        text, s = draw(embedded_token())
        secrets.append(s)
        value = {"dict-key": {text: 1}, "object": Holder(text), "text": text}[kind]
    for _ in range(draw(st.integers(0, 6))):
        value = draw(st.sampled_from([[value], {draw(CLEAN_KEY): value}, (value,)]))
    return value, secrets


def canon(x: Any) -> Any:
    """A comparable rendering of a structure (sets sorted, NaN named, objects by identity)."""
    if isinstance(x, dict):
        return ("d", [(canon(k), canon(v)) for k, v in x.items()])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [canon(v) for v in x])
    if isinstance(x, (set, frozenset)):
        return ("s", sorted(map(repr, x)))
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    if isinstance(x, Holder):
        return ("h", x.text)
    return x


@SETTINGS
@given(structures(LEAF, ANY_TEXT), st.lists(planted(), min_size=1, max_size=3), st.data())
def test_planted_secrets_never_reach_the_output(
    noise: Any, plants: list[tuple[Any, list[str]]], data: st.DataObject
) -> None:
    """Secrets under sensitive keys or inside text, at any depth, vanish; input is untouched."""
    record = {"noise": noise, "plants": [p for p, _ in plants]}
    before = copy.deepcopy(record)
    out = R.redact(record)
    text = json.dumps(out, allow_nan=False)
    fast = orjson.dumps(out).decode()
    for _, secrets in plants:
        for s in secrets:
            assert s not in text and s not in fast
    assert canon(record) == canon(before)
    assert json_native(out) and json.loads(text) == json.loads(fast)
    assert not container_ids(out) & container_ids(record)


@SETTINGS
@given(structures(st.one_of(CLEAN, st.integers(-(2**63), 2**63 - 1), st.booleans(), st.none()),
                  CLEAN_KEY),
       planted())  # fmt: skip
def test_clean_values_under_clean_keys_are_untouched(
    clean: Any, plant: tuple[Any, list[str]]
) -> None:
    """Beside planted secrets, clean fields come back equal (tuples/sets as lists)."""
    out = R.redact({"clean": clean, "payload": plant[0]})
    assert json.loads(json.dumps(out["clean"])) == json.loads(json.dumps(R.redact(clean)))
    assert out["clean"] == json.loads(json.dumps(clean, default=sorted_list))


def sorted_list(x: Any) -> Any:
    """json.dumps fallback mirroring the redactor: sets become sorted lists."""
    return sorted(x, key=lambda v: (type(v).__name__, repr(v)))


@SETTINGS
@given(structures(LEAF, ANY_TEXT), planted())
def test_redaction_is_idempotent(noise: Any, plant: tuple[Any, list[str]]) -> None:
    """Redacting the output again changes nothing."""
    once = R.redact({"a": noise, "b": plant[0]})
    assert R.redact(once) == once


@SETTINGS
@given(structures(LEAF, ANY_TEXT), planted())
def test_careful_walk_equals_fast_walk(noise: Any, plant: tuple[Any, list[str]]) -> None:
    """A cycle elsewhere (forcing the tracked walk) does not change how the rest is redacted."""
    loop: list[Any] = []
    loop.append(loop)
    value = {"a": noise, "b": plant[0]}
    assert R.redact({"x": value, "loop": loop})["x"] == R.redact({"x": value})["x"]
