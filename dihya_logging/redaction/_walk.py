"""The structure walk of a `Redactor`, compiled once per instance as closures.

Floor 1 (standard library only). `redaction` owns the rules and the public API; this module is
its hot loop: exact-type dispatch with leaves and lists of strings handled inline, key decisions
from the instance's caches, strings not yet known clean handed to ``add`` for one batched check.
The first walk keeps no cycle bookkeeping and raises `Retry` at ``max_depth``; the careful walk
(with a `Track`) then replaces cycles and over-deep containers with placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from dihya_logging.redaction._redactor import Redactor

__all__ = ["I64_MAX", "I64_MIN", "Add", "Retry", "Track", "build_walkers", "unique_key"]

Add = Callable[[str], None]
"""Appends a string to the batch still to be checked."""
I64_MIN, I64_MAX = -(2**63), 2**63 - 1  # orjson's range: bigger ints become text
_KEYLIKE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}\Z").match  # a field/header name, not a path


class Retry(Exception):
    """Raised by the untracked walk when it reaches max_depth (cycle or absurd depth)."""


class Track:
    """Cycle and depth bookkeeping of the careful (second) walk."""

    __slots__ = ("active", "limit")

    def __init__(self, limit: int) -> None:
        self.active: set[int] = set()
        self.limit = limit


def unique_key(key: str, out: dict[str, Any]) -> str:
    n, candidate = 2, key
    while candidate in out:
        candidate, n = f"{key}#{n}", n + 1
    return candidate


_Walk = Callable[[Any, int, Add, Optional[Track]], Any]
_Pairs = Callable[[Any, object, int, Add, Optional[Track]], Any]


def build_walkers(r: Redactor) -> tuple[_Walk, _Pairs, _Pairs]:
    """The structure walk of `r` as closures: its caches and memo bound once, not per container.

    The cache objects are only ever cleared in place, so the bound lookups stay valid.
    """
    kget, sget, memo, mask = r._kcache.get, r._scache.get, r._text.memo, r._mask
    limit, key_miss, enter, sensitive_key = r._max_depth, r._key_miss, r._enter, r.is_sensitive_key

    def pair(out: list[Any]) -> list[Any]:
        """A ``(name, value)`` tuple (headers as a list of pairs) is masked like a dict entry."""
        if type(out[0]) is str and _KEYLIKE(out[0]) is not None and sensitive_key(out[0]):
            out[1] = mask
        return out

    def walk(x: Any, depth: int, add: Add, track: Track | None) -> Any:
        t = type(x)
        if t is str:
            if x not in memo:
                add(x)
            return x
        if t is dict:
            return pairs(x.items(), x, depth, add, track)
        if t is list or t is tuple:
            return seq(x, x, depth, add, track)
        if t is int:
            return x if I64_MIN <= x <= I64_MAX else str(x)
        if x is None or t is bool:
            return x
        if t is float:
            return x if x - x == 0.0 else "NaN" if x != x else "Infinity" if x > 0 else "-Infinity"
        return r._other(x, depth, add, track)

    def pairs(items: Any, owner: object, depth: int, add: Add, track: Track | None) -> Any:
        if track is None:
            if depth >= limit:
                raise Retry
        else:
            stop = enter(owner, depth, track)
            if stop is not None:
                return stop
        out: dict[str, Any] = {}
        late: list[tuple[str, Any]] | None = None
        depth += 1
        for k, v in items:
            nk = kget(k)
            if nk is None:
                sk = sget(k)
                if sk is not None:
                    out[sk] = mask
                    continue
                nk, sensitive, moved = key_miss(k)
                if moved:
                    late = late if late is not None else []
                    late.append((nk, mask if sensitive else walk(v, depth, add, track)))
                    continue
                if sensitive:
                    out[nk] = mask
                    continue
            t = type(v)
            if t is str:
                if v not in memo:
                    add(v)
                out[nk] = v
            elif t is dict:
                out[nk] = pairs(v.items(), v, depth, add, track)
            elif t is list:
                if track is None and depth < limit:  # inline `seq` for a list of strings
                    copy = list(v)
                    for e in copy:
                        if type(e) is not str:
                            break
                        if e not in memo:
                            add(e)
                    else:
                        out[nk] = copy
                        continue
                out[nk] = seq(v, v, depth, add, track)
            elif (
                v is None
                or t is bool
                or (t is int and I64_MIN <= v <= I64_MAX)
                or (t is float and v - v == 0.0)  # finite
            ):
                out[nk] = v
            else:
                out[nk] = walk(v, depth, add, track)
        if late:
            for nk, val in late:
                out[unique_key(nk, out)] = val
        if track is not None:
            track.active.discard(id(owner))
        return out

    def seq(values: Any, owner: object, depth: int, add: Add, track: Track | None) -> Any:
        if track is None:
            if depth >= limit:
                raise Retry
        else:
            stop = enter(owner, depth, track)
            if stop is not None:
                return stop
        out = list(values)  # a snapshot: what is checked is what is returned
        for v in out:  # the usual case, only strings: the copy is the result
            if type(v) is not str:
                break
            if v not in memo:
                add(v)
        else:
            if track is not None:
                track.active.discard(id(owner))
            return pair(out) if len(out) == 2 and isinstance(owner, tuple) else out
        snapshot, out = out, []
        keep = out.append
        depth += 1
        for v in snapshot:
            if type(v) is str:
                if v not in memo:
                    add(v)  # maybe again (harmless): the first loop stopped part way
                keep(v)
            else:
                keep(walk(v, depth, add, track))
        if track is not None:
            track.active.discard(id(owner))
        return pair(out) if len(out) == 2 and isinstance(owner, tuple) else out

    return walk, pairs, seq
