"""The privacy engine: a redacted, JSON-native copy of anything, fast enough for every log call.

Floor 1 (standard library only, no I/O). Rules live in `detectors`, text scrubbing in `scrubber`,
the hot structure walk in `walk`; this module is the public API and the rare cases (unknown
objects, cycles, absurd depth). Speed: a walk built once per instance as closures, cached key
decisions, a memo of strings already known clean, and one batched check of all the new strings
of a call at the end; only when that check trips is each string scrubbed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from enum import Enum
from itertools import filterfalse
from types import FrameType
from typing import Any, Optional, Union

from dihya_logging.redaction._detectors import (
    DEFAULT_PATTERNS,
    DEFAULT_SENSITIVE_KEYS,
    SENSITIVE,
    VENDOR_KEYS,
    Detector,
    KeyClassifier,
)
from dihya_logging.redaction._scrubber import TextScrubber
from dihya_logging.redaction._walk import Add as _Add
from dihya_logging.redaction._walk import Retry as _Retry
from dihya_logging.redaction._walk import Track as _Track
from dihya_logging.redaction._walk import build_walkers as _walkers

__all__ = ["DEFAULT_PATTERNS", "DEFAULT_SENSITIVE_KEYS", "Detector", "Redactor", "default_redactor"]

_JUST_STR = frozenset({str})
PatternLike = Union[str, "re.Pattern[str]", Detector]


def _tname(x: object) -> str:
    return type(x).__name__


def _text_of(x: object) -> str:
    """str(x) as an exact str; a placeholder naming the type when __str__ misbehaves."""
    try:
        s = str.__str__(x) if isinstance(x, str) else str(x)
        return s if type(s) is str else str.__str__(s)
    except Exception:
        return f"<unprintable {_tname(x)}>"


def _digest(x: bytes | bytearray | memoryview) -> str:
    data = x.tobytes() if isinstance(x, memoryview) else bytes(x)
    return f"<{_tname(x)} len={len(data)} sha256={hashlib.sha256(data).hexdigest()}>"


def _stack_headroom() -> int:
    """How many more Python frames this thread may push before RecursionError."""
    depth = 0
    frame: Optional[FrameType] = sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return sys.getrecursionlimit() - depth


class Redactor:
    """Masks sensitive keys and secret-looking text; extends (never replaces) the defaults.

    `keys` add key phrases (matched like the defaults: case/separator-insensitive whole words);
    `patterns` add regexes (str or compiled: the named group ``secret`` is masked if present,
    else the whole match) or `Detector` objects; `mask` replaces every secret. Containers nested
    deeper than `max_depth` and reference cycles become placeholders. `prefilter`: scan new text
    with the compiled prefilter (Hyperscan, the ``fast`` extra) when it is installed and
    ``DIHYA_REDACTION_PREFILTER`` is not ``off`` (None), always (True: ImportError without it)
    or never (False); the output is the same. Thread-safe.
    """

    __slots__ = (
        "_cache_size", "_classifier", "_kcache", "_mask", "_max_depth", "_names", "_pairs",
        "_scache", "_seq", "_text", "_walk",
    )  # fmt: skip

    def __init__(
        self,
        keys: Iterable[str] = (),
        patterns: Iterable[PatternLike] = (),
        mask: str = "[REDACTED]",
        *,
        max_depth: int = 32,
        cache_size: int = 4096,
        prefilter: bool | None = None,
    ) -> None:
        keys = (keys,) if isinstance(keys, str) else tuple(keys)
        if isinstance(patterns, (str, re.Pattern, Detector)):
            patterns = (patterns,)
        if not all(isinstance(k, str) for k in keys):
            raise TypeError("keys must be strings")
        if type(mask) is not str or not mask:
            raise TypeError("mask must be a non-empty str")
        if type(max_depth) is not int or max_depth < 1:
            raise ValueError("max_depth must be an int >= 1")
        if prefilter is not None and type(prefilter) is not bool:
            raise TypeError("prefilter must be None, True or False")
        detectors, plain = list(DEFAULT_PATTERNS), []
        for p in patterns:
            if isinstance(p, Detector):
                detectors.append(p)
            elif isinstance(p, str) or (isinstance(p, re.Pattern) and isinstance(p.pattern, str)):
                plain.append(re.compile(p))
            else:
                raise TypeError(f"a pattern must be a str, a str re.Pattern or a Detector: {p!r}")
        self._mask, self._max_depth, self._cache_size = mask, max_depth, cache_size
        self._classifier = KeyClassifier(keys, VENDOR_KEYS)
        self._kcache: dict[Any, str] = {}  # clean key -> output key
        self._scache: dict[Any, str] = {}  # sensitive key -> output key
        self._names: dict[str, int] = {}  # key text -> strength (see KeyClassifier.strength)
        self._text = TextScrubber(
            detectors, plain, mask, self.key_strength, cache_size, prefilter=prefilter
        )
        self._walk, self._pairs, self._seq = _walkers(self)

    @property
    def mask(self) -> str:
        """The text that replaces every secret."""
        return self._mask

    def is_sensitive_key(self, key: object) -> bool:
        """True when values under `key` are masked (decisions are cached, bounded)."""
        return self.key_strength(key) == SENSITIVE

    def key_strength(self, key: object) -> int:
        """0 readable, 1 weak (in text, masked when the value looks like a credential: a
        vendor's name, ``*_login``), 2 sensitive; decisions are cached, bounded."""
        name = key if isinstance(key, str) and type(key) is str else _text_of(key)
        hit = self._names.get(name)
        if hit is None:
            hit = self._classifier.strength(name)
            if len(name) <= 256:
                if len(self._names) >= self._cache_size:
                    self._names.clear()
                self._names[name] = hit
        return hit

    def redact_text(self, text: str) -> str:
        """Mask secrets inside one string; returns the same object when nothing changes."""
        try:
            return self._text.scrub(text if type(text) is str else _text_of(text))
        except Exception as exc:  # only when the call stack is exhausted: fail closed
            return f"<unredactable: {type(exc).__name__}>"

    def all_clean(self, texts: list[str]) -> bool:
        """Whether `redact_text` would return every one of `texts` unchanged (one batched check).

        For a caller holding many strings it already validated (a generation's file names): a
        C-speed look-up of the strings known clean, then one check of the others. Strings that
        are not exact ``str`` (a subclass could hash or compare as it likes) make it say False.
        """
        if not _JUST_STR.issuperset(map(type, texts)):
            return False
        memo = self._text.memo
        if memo.issuperset(texts):  # the usual case: all seen before, one C-level pass
            return True
        fresh = list(filterfalse(memo.__contains__, texts))
        try:
            return self._text.vet(fresh)
        except Exception:  # only when the call stack is exhausted: the caller walks carefully
            return False

    def _key_miss(self, k: object) -> tuple[str, bool, bool]:
        """(output key, sensitive, must go after the clean keys) for a key not in the caches."""
        raw = None  # a bytes key is written as a digest but judged by its decoded text too
        if isinstance(k, str) and type(k) is str:
            name, exact = k, True
        elif isinstance(k, (bytes, memoryview)):
            name, exact, raw = _digest(k), False, bytes(k).decode("utf-8", "replace")
        else:
            name, exact = _text_of(k), False
        sensitive = self.is_sensitive_key(name) or (raw is not None and self.is_sensitive_key(raw))
        text = self._text.scrub(name)
        if exact and text is k and len(text) <= 256:
            cache = self._scache if sensitive else self._kcache
            if len(cache) >= self._cache_size:
                cache.clear()
            cache[k] = text
            return text, sensitive, False
        return text, sensitive, True

    # -- structures ------------------------------------------------------------------------
    def redact(self, obj: Any) -> Any:
        """Return a new, JSON-native, redacted copy of `obj` (never mutates it, never raises)."""
        try:
            fresh: list[str] = []  # strings not yet known clean, checked together at the end
            try:
                if type(obj) is dict:  # the usual case first, without the generic dispatch
                    out = self._pairs(obj.items(), obj, 0, fresh.append, None)
                elif type(obj) is str:
                    return self.redact_text(obj)
                else:
                    out = self._walk(obj, 0, fresh.append, None)
            except (_Retry, RecursionError):
                fresh = []
                limit = min(self._max_depth, (_stack_headroom() - 60) // 3)
                if limit < 1:
                    return "<unredactable: call stack exhausted>"
                try:
                    out = self._walk(obj, 0, fresh.append, _Track(limit))
                except RecursionError:
                    return "<unredactable: call stack exhausted>"
            dirty = self._text.sift(fresh) if fresh else fresh
            if dirty:
                scrub, left = self._text.scrub_dirty, 0
                changed: dict[str, str] = {}
                for text in dirty:  # only strings not known clean can change; every place
                    new = changed.get(text) or scrub(text)  # one is used was added to `fresh`
                    if new is not text:
                        changed[text] = new
                        left += 1
                return self._fixup(out, changed, left) if changed else out
            return out
        except Exception as exc:  # hostile object (a key whose __eq__ raises), stack exhausted
            return f"<unredactable: {type(exc).__name__}>"

    def _fixup(self, out: Any, changed: dict[str, str], left: int) -> Any:
        """Replace, in place, the `changed` strings of a copy built by `_walk` (dicts/lists);
        `left` places hold one, so the walk stops at the last (breadth first: a changed error
        text at the top is found without visiting the nested metadata)."""
        if type(out) is str:
            return changed.get(out, out)
        get, mask = changed.get, self._mask
        queue = deque([out])
        while queue:
            node = queue.popleft()
            pairs = node.items() if type(node) is dict else enumerate(node)
            for k, v in list(pairs):
                t = type(v)
                if t is str:
                    if v is not mask:
                        new = get(v)
                        if new is not None:
                            node[k] = new
                            left -= 1
                            if not left:
                                return out
                elif t is dict or t is list:
                    queue.append(v)
        return out

    def _enter(self, owner: object, depth: int, track: _Track) -> str | None:
        """None to go on; else the placeholder for a cycle or for too deep a container."""
        if id(owner) in track.active:
            return f"<cycle: {_tname(owner)}>"
        if depth >= track.limit:
            return f"<max depth {track.limit}: {_tname(owner)}>"
        track.active.add(id(owner))
        return None

    def _other(self, x: Any, depth: int, add: _Add, track: _Track | None) -> Any:
        """Everything that is not an exact JSON type: convert, walk, or stringify then scrub."""
        try:
            if isinstance(x, Enum):
                return self._walk(x.value, depth, add, track)
            if isinstance(x, str):
                return self._walk(str.__str__(x), depth, add, track)
            if isinstance(x, int):
                return self._walk(int(x), depth, add, track)
            if isinstance(x, float):
                return self._walk(float(x), depth, add, track)
            if isinstance(x, (bytes, bytearray, memoryview)):
                return _digest(x)
            if isinstance(x, (datetime, date, time)):
                return x.isoformat()
            if isinstance(x, Mapping):
                return self._pairs(list(x.items()), x, depth, add, track)
            names = getattr(type(x), "_fields", None)  # a namedtuple: its field names are keys
            if isinstance(x, tuple) and isinstance(names, tuple):
                return self._pairs(list(zip(names, x)), x, depth, add, track)
            if isinstance(x, (list, tuple)):
                return self._seq(list(x), x, depth, add, track)
            if isinstance(x, (set, frozenset)):
                out = self._seq(list(x), x, depth, add, track)
                return sorted(out, key=lambda v: (_tname(v), repr(v))) if type(out) is list else out
            if dataclasses.is_dataclass(x) and not isinstance(x, type):
                fields = [(f.name, getattr(x, f.name)) for f in dataclasses.fields(x)]
                return self._pairs(fields, x, depth, add, track)
        except _Retry:
            raise
        except RecursionError:
            if track is None:  # maybe our own recursion: let redact() retry carefully
                raise
            return f"<unprintable {_tname(x)}>"
        except Exception:
            return f"<unprintable {_tname(x)}>"
        text = _text_of(x)
        add(text)
        return text


@functools.cache
def default_redactor() -> Redactor:
    """The shared redactor with the default rules, built on first use."""
    return Redactor()
