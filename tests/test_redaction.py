"""Tests for redaction._redactor: the redacted JSON-native copy of any structure."""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime as dt
import enum
import hashlib
import json
import re
import sys
import threading
from typing import Any

import orjson
import pytest

from dihya_logging.redaction import Detector, Redactor, default_redactor
from tests.helpers_redaction import A36, JWT, container_ids, json_native

M = "[REDACTED]"
GHP = "ghp_" + A36


def dumps_both(obj: Any) -> tuple[str, str]:
    """The stdlib and orjson serialisations, re-read so float spelling does not matter."""
    a = json.dumps(obj, allow_nan=False)
    b = orjson.dumps(obj).decode()
    assert json.loads(a) == json.loads(b)
    return a, b


def test_record_with_nested_secrets() -> None:
    """Sensitive keys at any depth are masked, clean fields are kept as they were."""
    rec = {"user_id": "u1", "files": ["a.py", "b.py"], "meta": {"db": {"Password": "pw1"}},
           "headers": [{"X-Api-Key": "k"}], "error": f"auth failed token={JWT}"}  # fmt: skip
    out = Redactor().redact(rec)
    assert out == {"user_id": "u1", "files": ["a.py", "b.py"], "meta": {"db": {"Password": M}},
                   "headers": [{"X-Api-Key": M}], "error": f"auth failed token={M}"}  # fmt: skip


def test_input_is_never_mutated_and_output_is_new() -> None:
    """The input equals a deep copy taken before; no output container is an input one."""
    files = [f"src/file{i}.py" for i in range(12)]
    rec = {"a": [1, {"token": "t"}], "b": ("x",), "c": {"password": ["p"]}, "files": files,
           "t": tuple(files), "n": [files, tuple(files)]}  # fmt: skip
    before = copy.deepcopy(rec)
    out = Redactor().redact(rec)
    assert rec == before
    assert not container_ids(out) & container_ids(rec)
    assert json_native(out) and out["t"] == files


def test_clean_strings_are_the_same_objects() -> None:
    """Strings that need no change are not copied."""
    s = "".join(["backend/", "app.py"])
    assert Redactor().redact({"f": [s]})["f"][0] is s


@pytest.mark.parametrize("value", [{"user": "x"}, ["a"], None, 42, 1.5, True, b"xy", {1, 2}])
def test_sensitive_key_masks_any_value_type(value: object) -> None:
    """Whatever sits under a sensitive key (even a container or None) becomes the mask."""
    assert Redactor().redact({"credentials": value}) == {"credentials": M}


def test_json_native_conversions() -> None:
    """Tuples, sets, bytes, dates, enums, big ints and non-finite floats become JSON types."""

    class Colour(enum.Enum):
        RED = f"paint with {GHP}"

    data = b"super secret bytes"
    out = Redactor().redact({
        "t": (1, 2), "s": {3, 1, 2}, "fs": frozenset({"b", "a"}), "b": data,
        "ba": bytearray(b"xy"), "mv": memoryview(b"xyz"), "d": dt.date(2026, 1, 2),
        "dt": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), "tm": dt.time(1, 2),
        "e": Colour.RED, "ie": enum.IntEnum("N", "ONE").ONE, "big": 2**64, "neg": -(2**63),
        "nan": float("nan"), "inf": float("inf"), "ninf": -float("inf"),
        "od": collections.OrderedDict(k="v"), "dd": collections.defaultdict(list, k=[1]),
    })  # fmt: skip
    assert out["t"] == [1, 2] and out["s"] == [1, 2, 3] and out["fs"] == ["a", "b"]
    assert out["b"] == f"<bytes len={len(data)} sha256={hashlib.sha256(data).hexdigest()}>"
    assert out["ba"].startswith("<bytearray len=2 ") and out["mv"].startswith("<memoryview len=3")
    assert (out["d"], out["tm"]) == ("2026-01-02", "01:02:00")
    assert out["dt"] == "2026-01-02T03:04:05+00:00"
    assert out["e"] == f"paint with {M}" and out["ie"] == 1 and type(out["ie"]) is int
    assert (out["big"], out["neg"]) == ("18446744073709551616", -(2**63))
    assert (out["nan"], out["inf"], out["ninf"]) == ("NaN", "Infinity", "-Infinity")
    assert out["od"] == {"k": "v"} and out["dd"] == {"k": [1]}
    a, b = dumps_both(out)
    assert "super secret" not in a + b


def test_sets_become_lists_in_a_deterministic_order() -> None:
    """Mixed-type sets come out in the same order whatever the insertion order."""
    items = ["b", 2, "a", (1, "x"), 1.5, None, True]
    first = Redactor().redact(set(items))
    assert Redactor().redact(set(reversed(items))) == first
    assert len(first) == len(items) and ["x", 1] not in first and [1, "x"] in first


def test_dataclasses_are_walked_like_dicts() -> None:
    """Dataclass fields become keys: sensitive ones are masked, nested ones walked."""

    @dataclasses.dataclass
    class Db:
        host: str
        password: str

    @dataclasses.dataclass
    class Conf:
        name: str
        db: Db

    out = Redactor().redact({"conf": Conf("blog", Db("h", "pw"))})
    assert out == {"conf": {"name": "blog", "db": {"host": "h", "password": M}}}


def test_unknown_objects_are_stringified_then_scrubbed() -> None:
    """str(obj) is redacted like any text; a raising __str__ gives a placeholder."""

    class Leaky:
        def __str__(self) -> str:
            return f"Leaky(password={A36}, api={GHP})"

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    class NotText:
        def __str__(self) -> Any:
            return 42

    out = Redactor().redact([Leaky(), Broken(), NotText(), ValueError(f"bad key {GHP}")])
    assert out == [f"Leaky(password={M}, api={M})", "<unprintable Broken>",
                   "<unprintable NotText>", f"bad key {M}"]  # fmt: skip


def test_hostile_containers_give_placeholders() -> None:
    """A mapping whose items() raises yields a placeholder, not an exception."""

    class BadMap(collections.abc.Mapping):  # type: ignore[type-arg]
        def __getitem__(self, k: object) -> object:
            raise KeyError(k)

        def __iter__(self) -> Any:
            raise RuntimeError("no iteration")

        def __len__(self) -> int:
            return 1

    assert Redactor().redact({"m": BadMap(), "ok": 1}) == {"m": "<unprintable BadMap>", "ok": 1}


def test_non_string_keys_become_text_without_losing_values() -> None:
    """Int, None, tuple and bytes keys become strings; a clash keeps both values."""
    out = Redactor().redact({1: "int", "1": "str", None: 0, (1, 2): 3, b"raw": 4, GHP: 5})
    assert out["1"] == "str" and out["1#2"] == "int" and out["None"] == 0 and out["(1, 2)"] == 3
    assert f"<bytes len=3 sha256={hashlib.sha256(b'raw').hexdigest()}>" in out
    assert out[M] == 5 and "raw" not in json.dumps(list(out)) and A36 not in json.dumps(out)


def test_str_subclasses_come_out_as_plain_str() -> None:
    """Keys and values of str subclasses are exact str, so orjson accepts them."""

    class S(str):
        pass

    out = Redactor().redact({S("k"): S("v"), "password": S("p")})
    assert [type(x) for x in (*out, *out.values())] == [str] * 4
    dumps_both(out)


def test_cycles_become_placeholders() -> None:
    """Self-referencing dicts, lists and dataclasses do not loop; shared refs are copied."""
    a: list[Any] = ["x"]
    a.append(a)
    d: dict[str, Any] = {"k": "v"}
    d["self"] = d
    shared = ["s"]
    out = Redactor().redact({"a": a, "d": d, "p": shared, "q": shared})
    assert out["a"] == ["x", "<cycle: list>"]
    assert out["d"] == {"k": "v", "self": "<cycle: dict>"}
    assert out["p"] == out["q"] == ["s"]
    dumps_both(out)


def test_absurd_depth_is_cut_without_recursion_error() -> None:
    """10,000 nested levels produce a placeholder at max_depth, and valid JSON."""
    deep: Any = "leaf"
    for i in range(10_000):
        deep = {"k": deep} if i % 2 else [deep]
    out = Redactor(max_depth=20).redact(deep)
    text, _ = dumps_both(out)
    assert text.count("[") + text.count("{") == 20 and "<max depth 20:" in text


def test_deep_caller_stack_never_raises() -> None:
    """Called at any depth up to the recursion limit, redact returns JSON and leaks nothing."""
    nested: Any = {"password": "SECRETVALUE", "note": "login password=SECRETVALUE"}
    for _ in range(30):
        nested = {"n": nested}
    r = Redactor()
    outcomes: list[Any] = []

    def dive(n: int) -> None:
        if n > 0:
            dive(n - 1)
        else:
            outcomes.append(r.redact(nested))
            outcomes.append(r.redact_text("password=SECRETVALUE"))

    base = len(__import__("inspect").stack())
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(base + 200)
    try:
        for spare in range(200, 0, -3):
            try:
                dive(200 - spare)
            except RecursionError:
                outcomes.append("<dive itself ran out>")
    finally:
        sys.setrecursionlimit(limit)
    assert outcomes[0]["n"]["n"]["n"]  # full depth when there is room
    assert any(o == "<unredactable: RecursionError>" or "call stack" in str(o) for o in outcomes)
    for out in outcomes:
        assert "SECRETVALUE" not in json.dumps(out, allow_nan=False)


def test_custom_keys_patterns_and_mask_extend_the_defaults() -> None:
    """Added keys/patterns work beside the defaults; the mask text is configurable."""
    patterns = [r"EMP-\d{4}", re.compile("(?i)wolf-\\w+"), Detector("x", "X9[a-z]{4}", ("X9",))]
    r = Redactor(keys=["tenant_secretless", "internal note"], patterns=patterns, mask="<hidden>")
    out = r.redact({"internalNote": "n", "tenantSecretless": 1, "password": "p",
                    "msg": f"EMP-1234 WOLF-abc X9abcd {GHP} ok"})  # fmt: skip
    hidden = "<hidden>"
    assert out == {"internalNote": hidden, "tenantSecretless": hidden, "password": hidden,
                   "msg": f"{hidden} {hidden} {hidden} {hidden} ok"}  # fmt: skip


@pytest.mark.parametrize(
    "kwargs", [{"keys": [1]}, {"mask": ""}, {"mask": 3}, {"patterns": [b"x"]}, {"patterns": [3]}]
)
def test_bad_configuration_is_refused(kwargs: dict[str, Any]) -> None:
    """Wrong argument types are a TypeError at construction."""
    with pytest.raises(TypeError):
        Redactor(**kwargs)


@pytest.mark.parametrize("literals", [("",), ["x"], (1,)])
def test_bad_detector_is_refused(literals: Any) -> None:
    """A Detector with empty or non-string literals is refused when it is built."""
    with pytest.raises(ValueError, match="literals"):
        Detector("bad", "x", literals)


def test_bad_max_depth_is_refused() -> None:
    """max_depth must be a positive int."""
    with pytest.raises(ValueError, match="max_depth"):
        Redactor(max_depth=0)


def test_default_redactor_is_one_shared_instance() -> None:
    """default_redactor() builds once and returns the same object afterwards."""
    assert default_redactor() is default_redactor()
    assert default_redactor().is_sensitive_key("Set-Cookie")


def test_redaction_is_idempotent_on_records() -> None:
    """Redacting an already redacted record changes nothing."""
    r = Redactor()
    once = r.redact({"a": f"Bearer {A36}", "b": {"token": "x"}, "c": f"pwd={A36}"})
    assert r.redact(once) == once


def test_concurrent_use_from_threads() -> None:
    """One redactor shared by threads masks every record correctly."""
    r = Redactor(cache_size=64)
    failures: list[Any] = []

    def work(n: int) -> None:
        for i in range(300):
            out = r.redact({f"k{n}_{i}": f"v{i} password={n}x{i}", "token": i})
            if f"{n}x{i}" in json.dumps(out) or out["token"] != M:
                failures.append(out)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
