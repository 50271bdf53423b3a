"""The optional compiled prefilter of the text scrubber: Hyperscan (the ``fast`` extra).

Floor 1 (no I/O; `hyperscan` is imported only when a scrubber asks for it). The pure-`re`
scans of `_scrubber` stop at every character that may start one of their alternatives (``.``,
``-``, ``_``, ``b``, digits...) and cost about 15 ns per character of new text. Here one
Hyperscan database per scan holds a *superset* of each alternative (the same regex without its
lookarounds), scans the reversed text in C and reports where an alternative may start (or which
patterns occur); the scrubber then runs its own `re` pattern at those positions only, so its
answer is exactly the pure path's: a candidate the `re` pattern rejects costs one `match`, and
a match is never missed.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["SWITCH", "Scanner", "available", "scanner", "wanted"]


SWITCH = "DIHYA_REDACTION_PREFILTER"
"""Set to ``off`` (or ``0``, ``false``, ``no``), redactors built with ``prefilter=None`` use the
pure-`re` path even where `hyperscan` is installed (CI runs the oldest Python's suite so)."""


def available() -> bool:
    """Whether the compiled prefilter can be built here (the `hyperscan` package imports)."""
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


def wanted() -> bool:
    """Whether a redactor built with ``prefilter=None`` uses the compiled prefilter."""
    return os.environ.get(SWITCH, "").strip().lower() not in _OFF and available()


_OFF = frozenset(("0", "off", "false", "no"))


@functools.lru_cache(maxsize=32)
def scanner(patterns: tuple[tuple[str, bool, int], ...], starts: bool) -> Scanner:
    """The `Scanner` of `patterns`, compiled once per process (~20-60 ms a database): every
    redactor with the default rules shares the same three."""
    return Scanner(patterns, starts=starts)


class Scanner:
    """One Hyperscan database over reversed text; thread-safe (a scratch space per thread).

    Each pattern is (regex over reversed text, ignore case, tag). With `starts`, a match
    reports its start plus the tag (the offset of the `re` alternative's first character);
    without, only the tag of each pattern that occurs. Non-ASCII characters are scanned as
    ``?`` (one byte each, so offsets stay character offsets): no pattern matches a non-ASCII
    character, and an extra candidate costs only one `match`. Raises ImportError without
    `hyperscan`.
    """

    __slots__ = ("_at", "_db", "_hs", "_local", "_tag", "_tags")

    def __init__(self, patterns: Sequence[tuple[str, bool, int]], *, starts: bool) -> None:
        import hyperscan

        self._hs = hyperscan
        mode = hyperscan.HS_FLAG_SOM_LEFTMOST if starts else hyperscan.HS_FLAG_SINGLEMATCH
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=[regex.encode("ascii") for regex, _, _ in patterns],
            ids=list(range(len(patterns))),
            flags=[mode | (hyperscan.HS_FLAG_CASELESS if ci else 0) for _, ci, _ in patterns],
        )
        tags = self._tags = [tag for _, _, tag in patterns]
        self._local = threading.local()

        def at(i: int, start: int, end: int, flags: int, hits: list[int]) -> None:
            hits.append(start + tags[i])

        def tag(i: int, start: int, end: int, flags: int, found: set[int]) -> None:
            found.add(tags[i])

        self._at, self._tag = at, tag  # callbacks made once: the found go to the context

    def _scan(self, rev: str, on_match: Callable[..., Any], context: object = None) -> bool:
        """Scan `rev`; False when `on_match` stopped the scan by returning True."""
        try:
            scratch = self._local.scratch
        except AttributeError:
            scratch = self._local.scratch = self._hs.Scratch(self._db)
        data = rev.encode("ascii", "replace")
        try:
            self._db.scan(data, on_match, context=context, scratch=scratch)
        except self._hs.ScanTerminated:
            return False
        return True

    def positions(self, rev: str) -> list[int]:
        """Sorted positions of `rev` where an alternative may start."""
        hits: list[int] = []
        self._scan(rev, self._at, hits)
        return sorted(set(hits)) if len(hits) > 1 else hits

    def first(self, rev: str, accept: Callable[[int], bool]) -> bool:
        """Whether `accept` says True of a candidate position (each asked once, in no order)."""
        seen: set[int] = set()
        tags = self._tags

        def on_match(i: int, start: int, end: int, flags: int, context: object) -> bool:
            at = start + tags[i]
            if at in seen:
                return False
            seen.add(at)
            return accept(at)

        return not self._scan(rev, on_match)

    def tags(self, rev: str) -> set[int]:
        """The tags of the patterns that occur in `rev`."""
        found: set[int] = set()
        self._scan(rev, self._tag, found)
        return found
