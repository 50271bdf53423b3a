"""Tests pinning the redactor's speed paths: bound caches, inline lists, the batched final check."""

from __future__ import annotations

from typing import Any

from dihya_logging.redaction import Redactor, default_redactor

MASK = "[REDACTED]"
TOKEN = "ghp_" + "a1B2c3D4" * 5


def test_overflowing_key_caches_never_serve_a_wrong_decision() -> None:
    """With tiny caches cleared again and again, sensitive keys stay masked, clean keys kept."""
    r = Redactor(cache_size=4)
    for i in range(50):
        out = r.redact({f"k{i}": "v", "password": "pw", f"x{i}": {"token": "t", "n": i}})
        assert out == {f"k{i}": "v", "password": MASK, f"x{i}": {"token": MASK, "n": i}}


def test_overflowing_memo_never_lets_a_secret_through() -> None:
    """After the clean-string memo is cleared many times, new secret text is still masked."""
    r = Redactor(cache_size=8)
    for i in range(40):
        out = r.redact({"a": [f"clean-{i}", f"id {i}"], "b": f"note {TOKEN} {i}"})
        assert out["a"] == [f"clean-{i}", f"id {i}"] and TOKEN not in repr(out)


def test_key_decisions_are_per_instance_in_either_order() -> None:
    """A key added with `keys=` is masked by its redactor only, whichever cached it first."""
    custom = Redactor(keys=("tenant",))
    assert default_redactor().redact({"tenant": "acme"}) == {"tenant": "acme"}
    assert custom.redact({"tenant": "acme"}) == {"tenant": MASK}
    other = Redactor(keys=("tenant",))
    assert other.redact({"tenant": "acme"}) == {"tenant": MASK}
    assert default_redactor().redact({"tenant": "acme"}) == {"tenant": "acme"}


def test_lists_of_strings_are_checked_and_copied() -> None:
    """A list of strings (top level or nested) comes back as a new list with secrets masked."""
    r = Redactor()
    files = ["a.py", "b.py", f"leak {TOKEN}"]
    for event in ({"files": files}, {"d": {"files": files}}, [files]):
        out = r.redact(event)
        assert TOKEN not in repr(out) and "a.py" in repr(out)
    clean = ["a.py", "b.py"]
    out = r.redact({"files": clean})
    assert out["files"] == clean and out["files"] is not clean
    clean.append(TOKEN)  # the caller mutates its list afterwards: the copy is unaffected
    assert out["files"] == ["a.py", "b.py"]


def test_mixed_lists_after_leading_strings_are_walked() -> None:
    """A list whose strings come before a container is still fully walked and redacted."""
    r = Redactor()
    value: list[Any] = ["x", "y", {"password": "pw"}, 2**70, float("nan"), f"t {TOKEN}", ["z"]]
    out = r.redact({"items": value})
    assert out["items"] == ["x", "y", {"password": MASK}, str(2**70), "NaN", out["items"][5], ["z"]]
    assert TOKEN not in out["items"][5] and MASK in out["items"][5]


def test_str_subclass_items_and_float_edge_values_come_out_json_native() -> None:
    """Inline fast paths leave nothing that is not an exact JSON type."""

    class S(str):
        """A str subclass (e.g. a StrEnum member)."""

    r = Redactor()
    out = r.redact({"l": ["a", S("b")], "f": 1.5, "i": float("inf"), "m": -float("inf")})
    assert [type(x) for x in out["l"]] == [str, str] and out["l"] == ["a", "b"]
    assert out["f"] == 1.5 and out["i"] == "Infinity" and out["m"] == "-Infinity"


def test_deep_lists_inside_dicts_still_hit_the_depth_guard() -> None:
    """The inline list path keeps the depth limit: nesting past max_depth becomes a placeholder."""
    r = Redactor(max_depth=3)
    assert "max depth" in repr(r.redact({"a": {"b": ["s", {"c": ["deep"]}]}}))
    assert "max depth" in repr(r.redact({"a": {"b": {"c": ["only", "strings"]}}}))
    assert r.redact({"a": {"b": ["only", "strings"]}}) == {"a": {"b": ["only", "strings"]}}
