"""The privacy engine: a redacted, JSON-native copy of anything, fast enough for every log call.

Floor 1 (standard library only, no I/O). The rules live in `detectors`; this module walks
structures and scrubs text. Speed comes from: exact-type dispatch with leaves handled inline,
cached key decisions, a memo of strings already known clean, and one batched check of all new
strings of a call: a single anchored scan of the joined text, reversed so that vendor literals
and ``key=value`` separators are found in the same pass. Only strings that trip it are scrubbed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import sys
from collections.abc import Mapping
from datetime import date, datetime, time
from enum import Enum
from typing import Any, Iterable, Union

from .detectors import DEFAULT_PATTERNS, DEFAULT_SENSITIVE_KEYS, Detector, KeyClassifier

__all__ = ["DEFAULT_PATTERNS", "DEFAULT_SENSITIVE_KEYS", "Detector", "Redactor", "default_redactor"]

PatternLike = Union[str, "re.Pattern[str]", Detector]

# Characters from rarest to commonest in log text: each trigger literal is anchored on its rarest.
_RARITY = "=@+$#!%^&*~|\\<>;`{}[]?QXZJqxzj:KVYWUFHGBPMOLDCRNSIATE_-kvywfgbpm0123456789./uchldrsnioate "
_SEPARATORS = (">=", "=:", ":", "=")  # reversed forms of "=>", ":=", ":", "="
_KV_TAIL = r"\s{0,3}(?:[\"']\\?)?([A-Za-z0-9_.-]{0,127}[A-Za-z_])(?![A-Za-z0-9_.])"
_VALUE = re.compile(
    r"\s{0,3}(?:\\\"((?:[^\"\\\r\n]|\\[^\"\r\n])*)\\\"|\"((?:[^\"\\\r\n]|\\.)*)\""
    r"|'((?:[^'\\\r\n]|\\.)*)'"
    r"|(?:(?i:bearer|basic|digest|negotiate|ntlm|bot|aws4-hmac-sha256)[ \t]+)?[\"']?"
    r"([^\s\"'\\&,;<>(){}\]]+))",
    re.ASCII,
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_STR_ONLY = frozenset({str})
_TEXT_MEMO_CHARS = 1 << 20


class _Retry(Exception):
    """Raised by the untracked walk when it reaches max_depth (cycle or absurd depth)."""


class _Track:
    """Cycle and depth bookkeeping of the careful (second) walk."""

    __slots__ = ("active", "limit")

    def __init__(self, limit: int) -> None:
        self.active: set[int] = set()
        self.limit = limit


def _anchor(text: str, ci: bool) -> int:
    ranks = [(_RARITY.find(c.lower() if ci else c) % (len(_RARITY) + 1), i) for i, c in enumerate(text)]
    return min(ranks)[1]


def _build_trigger(literals: Iterable[tuple[str, bool]]) -> re.Pattern[str]:
    """One regex over REVERSED text: any literal, or a separator preceded by an identifier.

    Every alternative starts with one literal character (the literal's rarest, the rest checked
    by a fixed-width lookbehind), so `re` jumps between candidate characters instead of trying
    each branch at each position; the commonest anchors come first. Identifiers found before a
    separator end in a capturing group (`lastindex`); literal hits have no group.
    """
    by_anchor: dict[str, list[str]] = {}
    for lit, ci in literals:
        rev = lit[::-1]
        i = _anchor(rev, ci)
        body = (f"(?<={re.escape(rev[: i + 1])})" if i else "") + re.escape(rev[i + 1 :])
        body = f"(?i:{body})" if ci else body
        for a in {rev[i].lower(), rev[i].upper()} if ci else {rev[i]}:
            by_anchor.setdefault(a, []).append(body)
    for sep in _SEPARATORS:
        by_anchor.setdefault(sep[0], []).append(re.escape(sep[1:]) + _KV_TAIL)
    order = sorted(by_anchor, key=lambda a: -_RARITY.find(a))
    return re.compile("|".join(re.escape(a) + "(?:" + "|".join(by_anchor[a]) + ")" for a in order), re.ASCII)


def _kv_only() -> re.Pattern[str]:
    return re.compile("|".join(re.escape(sep) + _KV_TAIL for sep in _SEPARATORS), re.ASCII)


_KV_REV = _kv_only()


def _type_name(x: object) -> str:
    return type(x).__name__


def _text_of(x: object) -> str:
    """str(x) as an exact str; a placeholder naming the type when __str__ misbehaves."""
    try:
        s = str.__str__(x) if isinstance(x, str) else str(x)
        return s if type(s) is str else str.__str__(s)
    except Exception:
        return f"<unprintable {_type_name(x)}>"


def _nonfinite(x: float) -> str:
    return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")


def _digest(x: bytes | bytearray | memoryview) -> str:
    data = x.tobytes() if isinstance(x, memoryview) else bytes(x)
    return f"<{_type_name(x)} len={len(data)} sha256={hashlib.sha256(data).hexdigest()}>"


def _order(v: object) -> tuple[str, str]:
    return (_type_name(v), repr(v))


def _unique(key: str, out: dict[str, Any]) -> str:
    n, candidate = 2, key
    while candidate in out:
        candidate, n = f"{key}#{n}", n + 1
    return candidate


def _stack_headroom() -> int:
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back  # type: ignore[assignment]
    return sys.getrecursionlimit() - depth


class Redactor:
    """Masks sensitive keys and secret-looking text; extends (never replaces) the defaults.

    `keys` add key phrases (matched like the defaults: case/separator-insensitive whole words);
    `patterns` add regexes (str or compiled: the named group ``secret`` is masked if present,
    else the whole match) or `Detector` objects; `mask` replaces every secret. Containers nested
    deeper than `max_depth` and reference cycles become placeholders. Thread-safe.
    """

    __slots__ = (
        "_classifier", "_detectors", "_kcache", "_mask", "_max_depth", "_memo", "_memo_chars",
        "_names", "_plain", "_scache", "_trigger", "cache_size",
    )  # fmt: skip

    def __init__(
        self,
        keys: Iterable[str] = (),
        patterns: Iterable[PatternLike] = (),
        mask: str = "[REDACTED]",
        *,
        max_depth: int = 32,
        cache_size: int = 4096,
    ) -> None:
        if isinstance(keys, str):
            keys = (keys,)
        if isinstance(patterns, (str, re.Pattern, Detector)):
            patterns = (patterns,)
        if type(mask) is not str or not mask:
            raise TypeError("mask must be a non-empty str")
        if type(max_depth) is not int or max_depth < 1:
            raise ValueError("max_depth must be an int >= 1")
        keys = tuple(keys)
        if not all(isinstance(k, str) for k in keys):
            raise TypeError("keys must be strings")
        self._mask, self._max_depth, self.cache_size = mask, max_depth, cache_size
        self._classifier = KeyClassifier(keys)
        detectors = list(DEFAULT_PATTERNS)
        self._plain: list[tuple[re.Pattern[str], Any]] = []
        for p in patterns:
            if isinstance(p, Detector):
                detectors.append(p)
            elif isinstance(p, (str, re.Pattern)):
                rx = re.compile(p)
                if not isinstance(rx.pattern, str):
                    raise TypeError("patterns must be text patterns, not bytes")
                group = "secret" if "secret" in rx.groupindex else 0
                self._plain.append((rx, self._replacer(group)))
            else:
                raise TypeError(f"unsupported pattern: {p!r}")
        self._detectors = [
            (d.compile(), tuple(x.lower() for x in d.literals) if d.ignore_case else d.literals,
             d.ignore_case, self._replacer(d.group))
            for d in detectors
        ]  # fmt: skip
        self._trigger = _build_trigger((x, d.ignore_case) for d in detectors for x in d.literals)
        if any(not d.literals for d in detectors):
            self._plain.append((re.compile(r"(?!)"), None))  # forces per-string checks
        self._kcache: dict[Any, str] = {}
        self._scache: dict[Any, str] = {}
        self._names: dict[str, bool] = {}
        self._memo: set[str] = set()
        self._memo_chars = 0

    @property
    def mask(self) -> str:
        """The text that replaces every secret."""
        return self._mask

    def _replacer(self, group: int | str) -> Any:
        mask = self._mask

        def replace(m: re.Match[str]) -> str:
            whole = m.group(0)
            a, b = m.span(group)
            if a < 0 or m.string.startswith(mask, a):
                return whole
            start = m.start()
            return whole[: a - start] + mask + whole[b - start :]

        return replace

    # -- keys ------------------------------------------------------------------------------
    def is_sensitive_key(self, key: object) -> bool:
        """True when values under `key` are masked (decisions are cached, bounded)."""
        name = key if type(key) is str else _text_of(key)
        hit = self._names.get(name)  # type: ignore[arg-type]
        if hit is None:
            hit = self._classifier.is_sensitive(name)  # type: ignore[arg-type]
            if len(name) <= 256:  # type: ignore[arg-type]
                if len(self._names) >= self.cache_size:
                    self._names.clear()
                self._names[name] = hit  # type: ignore[index]
        return hit

    def _key_miss(self, k: object) -> tuple[str, bool, bool]:
        """(output key, sensitive, must be placed after the clean keys) for an uncached key."""
        exact = type(k) is str
        name = k if exact else _digest(k) if isinstance(k, (bytes, memoryview)) else _text_of(k)
        sensitive = self.is_sensitive_key(name)
        text = self.redact_text(name)  # type: ignore[arg-type]
        if exact and text is k and len(text) <= 256:
            cache = self._scache if sensitive else self._kcache
            if len(cache) >= self.cache_size:
                cache.clear()
            cache[k] = text
            return text, sensitive, False
        return text, sensitive, True

    # -- text ------------------------------------------------------------------------------
    def redact_text(self, text: str) -> str:
        """Mask secrets inside one string; returns the same object when nothing changes."""
        if type(text) is not str:
            text = _text_of(text)
        if text in self._memo:
            return text
        if self._dirty(text):
            new = self._scrub(text)
            if new != text:
                return new
        self._remember((text,), len(text))
        return text

    def _remember(self, texts: Iterable[str], chars: int) -> None:
        if self._memo_chars + chars > _TEXT_MEMO_CHARS or len(self._memo) > self.cache_size:
            self._memo.clear()
            self._memo_chars = 0
        if chars <= 8192:
            self._memo.update(texts)
            self._memo_chars += chars

    def _dirty(self, text: str) -> bool:
        """Necessary condition for any change: a literal, a sensitive ``key=``, a surrogate."""
        if self._plain:
            return True
        rev = text[::-1]
        search = self._trigger.search
        m = search(rev)
        while m is not None:
            g = m.lastindex
            if g is None or self.is_sensitive_key(m.group(g)[::-1]):
                return True
            m = search(rev, m.start() + 1)
        return not text.isascii() and _SURROGATE.search(text) is not None

    def _scrub(self, text: str) -> str:
        if not text.isascii():
            text = _SURROGATE.sub("\ufffd", text)
        low = ""
        for rx, lits, ci, replace in self._detectors:
            if lits:
                if ci and not low:
                    low = text.lower()
                hay = low if ci else text
                for lit in lits:
                    if lit in hay:
                        break
                else:
                    continue
            new = rx.sub(replace, text)
            if new != text:
                text, low = new, ""
        text = self._scrub_pairs(text)
        for rx, replace in self._plain:
            if replace is not None:
                text = rx.sub(replace, text)
        return text

    def _scrub_pairs(self, text: str) -> str:
        """Mask the value after every ``sensitive_key=`` / ``"key": "value"`` pair."""
        if ":" not in text and "=" not in text:
            return text
        rev, n, mask = text[::-1], len(text), self._mask
        spans: list[tuple[int, int]] = []
        m = _KV_REV.search(rev)
        while m is not None:
            if self.is_sensitive_key(m.group(m.lastindex or 0)[::-1]):
                v = _VALUE.match(text, n - m.start())
                if v is not None:
                    a, b = v.span(v.lastindex or 0)
                    if not text.startswith(mask, a):
                        spans.append((a, b))
            m = _KV_REV.search(rev, m.start() + 1)
        if not spans:
            return text
        parts, last = [], 0
        for a, b in sorted(spans):
            if a < last:  # nested in the previous value: already masked
                last = max(last, b)
                continue
            parts += (text[last:a], mask)
            last = b
        parts.append(text[last:])
        return "".join(parts)

    # -- structures ------------------------------------------------------------------------
    def redact(self, obj: Any) -> Any:
        """Return a new, JSON-native, redacted copy of `obj` (never mutates it, never raises)."""
        if type(obj) is str:
            return self.redact_text(obj)
        texts: list[str] = []
        try:
            out = self._walk(obj, 0, texts, None)
        except (_Retry, RecursionError):
            texts = []
            limit = min(self._max_depth, (_stack_headroom() - 60) // 3)
            if limit < 1:
                return "<unredactable: call stack exhausted>"
            try:
                out = self._walk(obj, 0, texts, _Track(limit))
            except RecursionError:
                return "<unredactable: call stack exhausted>"
        if texts and not self._memo.issuperset(texts):
            fresh = set(texts)
            fresh -= self._memo
            joined = "\n".join(fresh)
            if self._dirty(joined):
                return self._fixup(out)
            self._remember(fresh, len(joined))
        return out

    def _fixup(self, out: Any) -> Any:
        """Scrub, in place, the strings of a copy built by `_walk` (a tree of dicts/lists)."""
        if type(out) is str:
            return self.redact_text(out)
        scrub, mask = self.redact_text, self._mask
        stack = [out]
        while stack:
            node = stack.pop()
            pairs = node.items() if type(node) is dict else enumerate(node)
            for k, v in list(pairs):
                t = type(v)
                if t is str:
                    if v is not mask:
                        node[k] = scrub(v)
                elif t is dict or t is list:
                    stack.append(v)
        return out

    def _walk(self, x: Any, depth: int, texts: list[str], track: _Track | None) -> Any:
        t = type(x)
        if t is dict:
            return self._pairs(x.items(), x, depth, texts, track)
        if t is list or t is tuple:
            return self._items(x, x, depth, texts, track)
        if t is str:
            texts.append(x)
            return x
        if t is int:
            return x if -9223372036854775808 <= x <= 9223372036854775807 else str(x)
        if x is None or t is bool:
            return x
        if t is float:
            return x if x - x == 0.0 else _nonfinite(x)
        return self._other(x, depth, texts, track)

    def _enter(self, owner: object, depth: int, track: _Track | None) -> str | None:
        """None to go on; else the placeholder for a cycle or for too deep a container."""
        if track is None:
            if depth >= self._max_depth:
                raise _Retry
            return None
        if id(owner) in track.active:
            return f"<cycle: {_type_name(owner)}>"
        if depth >= track.limit:
            return f"<max depth {track.limit}: {_type_name(owner)}>"
        track.active.add(id(owner))
        return None

    def _pairs(self, items: Any, owner: object, depth: int, texts: list[str], track: _Track | None) -> Any:  # fmt: skip
        stop = self._enter(owner, depth, track)
        if stop is not None:
            return stop
        out: dict[str, Any] = {}
        late: list[tuple[str, Any]] | None = None
        kget, sget, mask, walk = self._kcache.get, self._scache.get, self._mask, self._walk
        append, depth = texts.append, depth + 1
        for k, v in items:
            nk = kget(k)
            if nk is None:
                sk = sget(k)
                if sk is not None:
                    out[sk] = mask
                    continue
                nk, sensitive, moved = self._key_miss(k)
                if moved:
                    late = late if late is not None else []
                    late.append((nk, mask if sensitive else walk(v, depth, texts, track)))
                    continue
                if sensitive:
                    out[nk] = mask
                    continue
            t = type(v)
            if t is str:
                append(v)
                out[nk] = v
            elif t is int and -9223372036854775808 <= v <= 9223372036854775807:
                out[nk] = v
            elif v is None or t is bool:
                out[nk] = v
            else:
                out[nk] = walk(v, depth, texts, track)
        if late:
            for nk, val in late:
                out[_unique(nk, out)] = val
        if track is not None:
            track.active.discard(id(owner))
        return out

    def _items(self, seq: Any, owner: object, depth: int, texts: list[str], track: _Track | None) -> Any:  # fmt: skip
        stop = self._enter(owner, depth, track)
        if stop is not None:
            return stop
        if len(seq) > 6 and set(map(type, seq)) == _STR_ONLY:
            texts.extend(seq)
            out = list(seq)
        else:
            out = []
            add, append, walk, depth = out.append, texts.append, self._walk, depth + 1
            for v in seq:
                if type(v) is str:
                    append(v)
                    add(v)
                else:
                    add(walk(v, depth, texts, track))
        if track is not None:
            track.active.discard(id(owner))
        return out

    def _other(self, x: Any, depth: int, texts: list[str], track: _Track | None) -> Any:
        """Everything that is not an exact JSON type: convert, walk, or stringify then scrub."""
        try:
            if isinstance(x, Enum):
                return self._walk(x.value, depth, texts, track)
            if isinstance(x, str):
                return self._walk(str.__str__(x), depth, texts, track)
            if isinstance(x, int):
                return self._walk(int(x), depth, texts, track)
            if isinstance(x, float):
                return self._walk(float(x), depth, texts, track)
            if isinstance(x, (bytes, bytearray, memoryview)):
                return _digest(x)
            if isinstance(x, (datetime, date, time)):
                return x.isoformat()
            if isinstance(x, Mapping):
                return self._pairs(list(x.items()), x, depth, texts, track)
            if isinstance(x, (list, tuple)):
                return self._items(list(x), x, depth, texts, track)
            if isinstance(x, (set, frozenset)):
                out = self._items(list(x), x, depth, texts, track)
                return sorted(out, key=_order) if type(out) is list else out
            if dataclasses.is_dataclass(x) and not isinstance(x, type):
                fields = [(f.name, getattr(x, f.name)) for f in dataclasses.fields(x)]
                return self._pairs(fields, x, depth, texts, track)
        except _Retry:
            raise
        except RecursionError:
            if track is None:  # maybe our own recursion: let redact() retry carefully
                raise
            return f"<unprintable {_type_name(x)}>"
        except Exception:
            return f"<unprintable {_type_name(x)}>"
        text = _text_of(x)
        texts.append(text)
        return text


@functools.lru_cache(maxsize=None)
def default_redactor() -> Redactor:
    """The shared redactor with the default rules, built on first use."""
    return Redactor()
