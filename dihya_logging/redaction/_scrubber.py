"""Finding and masking secrets inside text, cheaply enough to check every string of every record.

Floor 1 (standard library only, no I/O). Clean text costs one anchored `re` scan of the text
REVERSED: each vendor literal is anchored on its rarest character (so `re` jumps between
candidates instead of trying every rule at every position), and reading backwards puts the
separator of a ``key=value``/``"key": "value"`` pair before its key, so one pass also finds every
identifier followed by a separator; the identifier is then judged by the (cached) key classifier.
Only text that trips this scan is scrubbed rule by rule. Strings found clean are memoised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from dihya_logging.redaction._detectors import Detector

__all__ = ["TextScrubber", "build_trigger", "replacer"]

Replacer = Callable[["re.Match[str]"], str]

# Characters from rarest to commonest, measured on representative log text (generation events,
# file paths, timestamps, ids, a traceback, messages): each literal is anchored on its rarest.
_RARITY = (
    "KQY!#$%&+<>@[\\]^`{|}~WZ?DUXP\"'*HBLFOMSJV;w7R()GITC9,=AN:"
    "z56E8_qxj4hyk0-3bfvgm2l1u.pd ica/otnsre"
)
_SEPARATORS = (">=", "=:", ":", "=", "D3%", "d3%", "A3%", "a3%")
"""Reversed forms of ``=>``, ``:=``, ``:``, ``=`` and URL-encoded ``%3D``/``%3A`` (query strings
nested in an encoded URL: ``next=https%3A%2F%2Fx%3Fpassword%3Dhunter2``)."""
_KV_TAIL = (  # the identifier (reversed), its start a boundary or a %XX escape (`%26token%3D`)
    r"\s{0,3}(?:[\"']\\?)?([A-Za-z0-9_.-]*[A-Za-z_])(?:(?![A-Za-z0-9_.])|(?=[0-9A-Fa-f]{2}%))"
)
_KV_REV = re.compile("|".join(re.escape(sep) + _KV_TAIL for sep in _SEPARATORS), re.ASCII)
_QUOTED = (  # up to 16 spaces/newlines before the value: YAML-style `password:\n    value`
    r"\s{0,16}(?:\\\"((?:[^\"\\\r\n]|\\[^\"\r\n])*)\\\""  # \"escaped\" inside a JSON string
    r"|\"((?:[^\"\\\r\n]|\\.)*)\"|'((?:[^'\\\r\n]|\\.)*)'"
)
_SCHEME = (
    r"(?:(?i:bearer|basic|token|bot|digest|negotiate|ntlm|hoba|mutual|apikey|api-key|sso-key"
    r"|ssws|splunk|key|aws4-hmac-sha256)[ \t]+)?"
)
_VALUE = re.compile(_QUOTED + r"|" + _SCHEME + r"[\"'(<{]?([^\s\"'\\&,;<>(){}\]]+))", re.ASCII)
"""The value after a separator: escaped-quoted, quoted, or one unquoted word (maybe opened by a
bracket) after an optional HTTP auth scheme (``Authorization: Bearer x`` keeps ``Bearer``)."""
_HEADER_VALUE = re.compile(_QUOTED + r"|" + _SCHEME + r"[\"']?([^\r\n\"'\\&,;]+))", re.ASCII)
"""For ``auth*``/``cookie`` keys: the rest of the header value, whatever scheme it uses."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_MEMO_CHARS = 1 << 20


def _anchor(text: str, ci: bool) -> int:
    worst = len(_RARITY)
    ranks = [(_RARITY.find(c.lower() if ci else c) % (worst + 1), i) for i, c in enumerate(text)]
    return min(ranks)[1]


def build_trigger(literals: Iterable[tuple[str, bool]]) -> re.Pattern[str]:
    """One regex over REVERSED text: any literal, or a separator preceded by an identifier.

    Every alternative starts with one literal character (the literal's rarest, the rest checked
    by a fixed-width lookbehind), so `re` can skip to candidate characters; the commonest anchors
    come first. Identifiers before a separator end in a capturing group (`lastindex`).
    """
    by_anchor: dict[str, list[str]] = {}
    for lit, ci in literals:
        rev = lit[::-1]
        i = _anchor(rev, ci)
        body = (f"(?<={re.escape(rev[: i + 1])})" if i else "") + re.escape(rev[i + 1 :])
        body = f"(?i:{body})" if ci else body
        for a in {rev[i].lower(), rev[i].upper()} if ci else {rev[i]}:
            by_anchor.setdefault(a, []).append(body)
    for sep in _SEPARATORS:  # anchored on their rarest character too (`%`, not `a` of `a3%`)
        i = _anchor(sep, False)
        body = (f"(?<={re.escape(sep[: i + 1])})" if i else "") + re.escape(sep[i + 1 :])
        by_anchor.setdefault(sep[i], []).append(body + _KV_TAIL)
    order = sorted(by_anchor, key=lambda a: -_RARITY.find(a))
    alternatives = (re.escape(a) + "(?:" + "|".join(by_anchor[a]) + ")" for a in order)
    return re.compile("|".join(alternatives), re.ASCII)


def replacer(group: int | str, mask: str) -> Replacer:
    """A `re.sub` callback masking `group` (0: the whole match), leaving masked text alone."""

    def replace(m: re.Match[str]) -> str:
        whole = m.group(0)
        a, b = m.span(group)
        if a < 0 or m.string.startswith(mask, a):
            return whole
        start = m.start()
        return whole[: a - start] + mask + whole[b - start :]

    return replace


class TextScrubber:
    """Masks secrets inside strings: `Detector` patterns, plain regexes, sensitive ``key=value``.

    `is_sensitive_key` judges the identifier before a separator (the same rule as dict keys).
    `memo` holds strings known clean (bounded); the structure walker reads it directly.
    """

    __slots__ = (
        "_detectors", "_is_sensitive", "_mask", "_memo_chars", "_plain", "_search", "_size",
        "_trigger", "memo",
    )  # fmt: skip

    def __init__(
        self,
        detectors: Sequence[Detector],
        plain: Sequence[re.Pattern[str]],
        mask: str,
        is_sensitive_key: Callable[[str], bool],
        cache_size: int,
    ) -> None:
        self._mask, self._is_sensitive, self._size = mask, is_sensitive_key, cache_size
        self._detectors = [
            (d.compile(), tuple(x.lower() for x in d.literals) if d.ignore_case else d.literals,
             d.ignore_case, replacer(d.group, mask))
            for d in detectors
        ]  # fmt: skip
        self._plain = [
            (rx, replacer("secret" if "secret" in rx.groupindex else 0, mask)) for rx in plain
        ]
        if any(not d.literals for d in detectors):
            self._plain.append((re.compile("(?!)"), replacer(0, mask)))  # forces per-string scrub
        self._trigger = build_trigger((x, d.ignore_case) for d in detectors for x in d.literals)
        self._search = self._trigger.search
        self.memo: set[str] = set()
        self._memo_chars = 0

    def scrub(self, text: str) -> str:
        """Mask secrets inside `text`; the same object comes back when nothing changes."""
        if text in self.memo:
            return text
        if self.dirty(text):
            new = self._scrub(text)
            if new != text:
                return new
        self.remember((text,), len(text))
        return text

    def remember(self, texts: Iterable[str], chars: int) -> None:
        """Record clean strings (`chars`: their total length); bounded in count and size."""
        if self._memo_chars + chars > _MEMO_CHARS or len(self.memo) > self._size:
            self.memo.clear()
            self._memo_chars = 0
        if chars > 8192:  # a big batch: keep its short strings (long ones rarely come back)
            texts = [t for t in texts if len(t) <= 256]
            chars = sum(map(len, texts))
        self.memo.update(texts)
        self._memo_chars += chars

    def dirty(self, text: str) -> bool:
        """Necessary condition for any change: a literal, a sensitive ``key=``, a surrogate."""
        if self._plain:
            return True
        m = self._search(text[::-1])
        if m is not None and self._trips(m):
            return True
        return not text.isascii() and _SURROGATE.search(text) is not None

    def vet(self, texts: list[str]) -> bool:
        """True when no string of the batch can change (they are then memoised as clean).

        `dirty` on the batch joined by newlines, then `remember`, in one call (the hot path).
        """
        text = texts[0] if len(texts) == 1 else "\n".join(texts)
        if self._plain:
            return False
        m = self._search(text[::-1])
        if m is not None and self._trips(m):
            return False
        if not text.isascii() and _SURROGATE.search(text) is not None:
            return False
        memo, chars = self.memo, len(text)
        if chars <= 8192 and self._memo_chars + chars <= _MEMO_CHARS and len(memo) <= self._size:
            memo.update(texts)
            self._memo_chars += chars
        else:
            self.remember(texts, chars)
        return True

    def _trips(self, m: re.Match[str] | None) -> bool:
        """Whether a trigger match `m` (or a later one) over reversed text is a real candidate."""
        search, rev = self._search, m.string if m is not None else ""
        while m is not None:
            g = m.lastindex
            if g is None or self._is_sensitive(m.group(g)[::-1]):
                return True
            m = search(rev, m.start() + 1)  # +1: a literal may hide inside a clean identifier
        return False

    def _scrub(self, text: str) -> str:
        if not text.isascii():
            text = _SURROGATE.sub("\ufffd", text)  # orjson refuses lone surrogates
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
            text = rx.sub(replace, text)
        return text

    def _scrub_pairs(self, text: str) -> str:
        """Mask the value after every ``sensitive_key=`` / ``"key": "value"`` pair."""
        if ":" not in text and "=" not in text and "%3" not in text:
            return text
        rev, n, mask = text[::-1], len(text), self._mask
        spans: list[tuple[int, int]] = []
        m = _KV_REV.search(rev)
        while m is not None:
            ident = m.group(m.lastindex or 0)[::-1]
            if self._is_sensitive(ident):
                lower = ident.lower()
                rx = _HEADER_VALUE if "auth" in lower or "cookie" in lower else _VALUE
                v = rx.match(text, n - m.start())
                if v is not None:
                    a, b = v.span(v.lastindex or 0)
                    if not text.startswith(mask, a):
                        spans.append((a, b))
            m = _KV_REV.search(rev, m.start() + 1)
        if not spans:
            return text
        parts: list[str] = []
        last = 0
        for a, b in sorted(spans):
            if a < last:  # inside the previous value, already masked
                last = max(last, b)
                continue
            parts += (text[last:a], mask)
            last = b
        parts.append(text[last:])
        return "".join(parts)
