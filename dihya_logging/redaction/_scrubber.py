"""Finding and masking secrets inside text, cheaply enough to check every string of every record.

Floor 1 (standard library only, no I/O). Clean text costs one anchored `re` scan of the text
REVERSED: each vendor literal is anchored on its rarest character (so `re` jumps between
candidates instead of trying every rule at every position), and reading backwards puts the
separator of a ``key=value``/``"key": "value"`` pair before its key, so one pass also finds every
identifier followed by a separator; the identifier is then judged by the (cached) key classifier.
Only text that trips this scan is scrubbed rule by rule. Strings found clean are memoised.
Where `hyperscan` is installed, `_prefilter` finds the candidate positions of the long texts'
scans in C and `re` decides there only: the same output, several times cheaper on new text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from dihya_logging.redaction._detectors import Detector
from dihya_logging.redaction._prefilter import Scanner, scanner
from dihya_logging.redaction._prefilter import wanted as prefilter_wanted

__all__ = ["TextScrubber", "build_trigger", "replacer"]

Replacer = Callable[["re.Match[str]"], str]

# Characters from rarest to commonest, measured on representative log text (generation events,
# file paths, timestamps, ids, a traceback, messages): each literal is anchored on its rarest.
_RARITY = (
    "KQY!#$%&+<>@[\\]^`{|}~WZ?DUXP\"'*HBLFOMSJV;w7R()GITC9,=AN:"
    "z56E8_qxj4hyk0-3bfvgm2l1u.pd ica/otnsre"
)
_ASSIGN, _CALL, _PAIR, _XML, _DASH = range(5)
_SEPARATORS = (
    (":::=", _ASSIGN), ("::=", _ASSIGN), ("===", _ASSIGN), ("!==", _ASSIGN), ("=>", _ASSIGN),
    (":=", _ASSIGN), ("?=", _ASSIGN), ("+=", _ASSIGN), (".=", _ASSIGN), ("==", _ASSIGN),
    ("!=", _ASSIGN), ("->", _ASSIGN), (":", _ASSIGN), ("=", _ASSIGN), ("%3D", _ASSIGN),
    ("%3d", _ASSIGN), ("%3A", _ASSIGN), ("%3a", _ASSIGN), ('("', _CALL), ("('", _CALL),
    ('",', _PAIR), ("',", _PAIR), (">", _XML), (" - ", _DASH),
)  # fmt: skip
"""Separators between a key and its value, longest first, each with the syntax it starts:
assignments in every language (``=``, ``:``, ``=>``, ``:=``, Makefile ``?=``/``::=``/``:::=``,
PHP ``.=``, comparisons, URL-encoded ``%3D``/``%3A`` of query strings nested in an encoded URL),
a call ``secret("value")``, an argument pair ``setProperty("KEY", "value")``, an XML element
``<password>value</password>``, and ``name - 'value'``."""
_IDENT = r"((?=[0-9.-]*[A-Za-z_])[A-Za-z0-9_.-]+)"  # reversed; may start with a digit (2fa_secret)
_BOUNDARY = (
    r"(?:(?![A-Za-z0-9_.])|(?=[0-9A-Fa-f]{2}%))"  # a boundary or a %XX escape (`%26token%3D`)
)
_TAILS = {
    _ASSIGN: r"[ \t]{0,40}(?:(?:gnirts|gnirtS|rts)[ \t]+)?(?:[\"'`]\\?)?" + _IDENT + _BOUNDARY,
    _CALL: r"[ \t]{0,3}" + _IDENT + _BOUNDARY,
    _PAIR: r"\\?" + _IDENT + r"[\"']",
    _XML: r"(?:[^<>\r\n]{0,200}[ \t])?([A-Za-z0-9_.:-]*[A-Za-z_])<",
    _DASH: r"[\"']?" + _IDENT + _BOUNDARY,
}
"""What comes before each kind of separator, READ BACKWARDS: the identifier (its group), for
assignments maybe quoted or followed by a Go type (``var token string = …``)."""
_LETTER_SOON = r"[0-9.-]*[A-Za-z_]"  # what _IDENT's lookahead asks, as plain regex
_LOOSE_TAILS = {
    _ASSIGN: r"[ \t]{0,40}(?:(?:gnirts|gnirtS|rts)[ \t]+)?(?:[\"'`]\\?)?" + _LETTER_SOON,
    _CALL: r"[ \t]{0,3}" + _LETTER_SOON,
    _PAIR: r"\\?" + _LETTER_SOON,
    _XML: r"[^<>\r\n]*<",
    _DASH: r"[\"']?" + _LETTER_SOON,
}
"""Each of `_TAILS` without its lookarounds and its end, for the compiled prefilter: it matches
wherever the tail does (and more), which is all a prefilter needs."""
_QUOTED = (  # up to 16 spaces/newlines before the value: YAML-style `password:\n    value`
    r"\s{0,16}(?:\\\"((?:[^\"\\\r\n]|\\[^\"\r\n])*)(?:\\\"|(?=[\r\n]|\Z))"  # \"escaped\" in JSON
    r"|\"((?:[^\"\\\r\n]|\\.)*)(?:\"|(?=[\r\n]|\Z))|'((?:[^'\\\r\n]|\\.)*)(?:'|(?=[\r\n]|\Z))"
    r"|`([^`\r\n]*)`"
)
_SCHEME = (
    r"(?:(?i:bearer|basic|token|bot|digest|negotiate|ntlm|hoba|mutual|apikey|api-key|sso-key"
    r"|ssws|splunk|key|aws4-hmac-sha256|flyv1)[ \t]+)?"
)
_VALUE = re.compile(_QUOTED + r"|" + _SCHEME + r"[\"'(<{]?([^\s\"'`\\&,;<>(){}\]]+))", re.ASCII)
"""The value after a separator: escaped-quoted, quoted, or one unquoted word (maybe opened by a
bracket) after an optional HTTP auth scheme (``Authorization: Bearer x`` keeps ``Bearer``)."""
_HEADER_VALUE = re.compile(_QUOTED + r"|" + _SCHEME + r"[\"']?([^\r\n\"'\\&,;]+))", re.ASCII)
"""For ``auth*``/``cookie`` keys: the rest of the header value, whatever scheme it uses."""
_QUOTED_VALUE = re.compile(
    r"[ \t]{0,3}(?:\\?\"((?:[^\"\\\r\n]|\\[^\"\r\n])*)\\?\"|'((?:[^'\\\r\n]|\\.)*)')", re.ASCII
)
"""The value of a call, an argument pair or ``name - 'value'``: quoted, else not a value."""
_XML_VALUE = re.compile(
    r"\s*(?:<!\[CDATA\[((?:(?!\]\]>).)*)\]\]>|([^<\s](?:[^<]*[^<\s])?))\s*<", re.ASCII | re.DOTALL
)
"""An XML element's text, or its ``<![CDATA[…]]>`` content."""
_NAMED = re.compile(r"(?:key|name|id)\s*[=:]\s*[\"']?([A-Za-z0-9_.-]+)[\"']?[\s,;-]*\Z")
"""``<add key="Password" value="…"/>``, ``- name: API_TOKEN\n  value: …``: the key is a name."""
_CRED_SHAPE = re.compile(r"(?=[^0-9]*[0-9])(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9+/=_.|~-]{16,}\Z")
"""A value that looks like a credential: 16+ token characters with letters and digits."""
_FLAG = re.compile(r"(?:^|(?<=[\s\"'(]))--?([A-Za-z][A-Za-z0-9_-]*)[ \t]+", re.ASCII)
_FLAG_VALUE = re.compile(r"(?:\"[^\"\r\n]*\"|'[^'\r\n]*'|[^\s\"'])+")
_LOGIN_COMMAND = re.compile(r"\b(?:login|mysql|mysqldump|mysqladmin)\b")
_NETRC = re.compile(
    r"\b(?:machine[ \t]+\S+|default)(?:[ \t]+(?:login|account|port|protocol)[ \t]+\S+)+"
    r"[ \t]+(?:password|passwd)[ \t]+([^\s\"']\S*)",
    re.ASCII,
)
"""A ``.netrc`` entry's secret (``machine h login u password p``): words, no separator."""
_KUBE_SECRET = re.compile(r"(?i:\bkind:[ \t]*[\"']?secret\b)")
_KUBE_DATA = re.compile(
    r"(?m)^([ \t]*)(?:data|stringData):[ \t]*\r?\n((?:(?:\1[ \t]+[^\r\n]*|[ \t]*)(?:\r?\n|\Z))+)"
)
_KUBE_LINE = re.compile(r"([ \t]*[^\s:#][^:\r\n]*:[ \t]*)(.*)")
_SURROGATE = re.compile("[\ud800-\udfff]")
_COMPILED_FROM = 256
"""Texts this long or longer are scanned by the compiled prefilter when there is one (a call
costs 0.6-1 µs plus ~0.3 µs per candidate, what `re` spends on ~100 characters; the literal
finder of a dirty string always uses it)."""
_MEMO_CHARS = 1 << 20


def _anchor(text: str, ci: bool) -> int:
    worst = len(_RARITY)
    ranks = [(_RARITY.find(c.lower() if ci else c) % (worst + 1), i) for i, c in enumerate(text)]
    return min(ranks)[1]


def _either_case(c: str) -> str:
    """`c` in either case as a character class (``[gG]``): unlike ``(?i:g)``, a class lets `re`
    skip an alternation branch that cannot start here without entering it."""
    return f"[{c.lower()}{c.upper()}]" if c.lower() != c.upper() else re.escape(c)


def _split_anchor(anchor: str) -> tuple[str, str]:
    """(first literal character, rest) of a detector's reversed anchor regex."""
    if anchor.startswith("\\"):
        return anchor[1], anchor[2:]
    return anchor[0], anchor[1:]


def _anchored(text: str, ci: bool) -> tuple[int, list[tuple[str, str]]]:
    """(anchor index, [(anchor character, regex of the rest)]) of reversed `text`: the rarest
    character first, then what follows it, then what precedes it as a fixed-width lookbehind
    over the whole of `text` (after the rest, so an alternative whose next character differs
    is skipped by `re` without evaluating an assertion)."""
    i = _anchor(text, ci)
    rest = "".join(_either_case(c) for c in text[i + 1 :]) if ci else re.escape(text[i + 1 :])
    behind = f"(?i:{re.escape(text)})" if ci else re.escape(text)
    body = rest + (f"(?<={behind})" if i else "")
    return i, [(a, body) for a in ({text[i].lower(), text[i].upper()} if ci else {text[i]})]


def _join(by_anchor: dict[str, list[str]]) -> str:
    """One alternation per anchor character, the commonest first."""
    order = sorted(by_anchor, key=lambda a: -_RARITY.find(a))
    return "|".join(re.escape(a) + "(?:" + "|".join(by_anchor[a]) + ")" for a in order)


def build_trigger(
    literals: Iterable[tuple[str, bool]], anchors: Iterable[str] = ()
) -> re.Pattern[str]:
    """One regex over REVERSED text: any literal or anchor, or a separator after an identifier.

    Every alternative starts with one literal character (the literal's rarest, the rest checked
    by a fixed-width lookbehind), so `re` can skip to candidate characters; the commonest anchors
    come first. Identifiers before a separator end in a capturing group (`lastindex`).
    """
    by_anchor: dict[str, list[str]] = {}
    for lit, ci in literals:
        for a, body in _anchored(lit[::-1], ci)[1]:
            by_anchor.setdefault(a, []).append(body)
    for anchor in anchors:
        first, rest = _split_anchor(anchor)
        by_anchor.setdefault(first, []).append(rest)
    for sep, kind in _SEPARATORS:  # anchored on their rarest character
        for a, body in _anchored(sep[::-1], False)[1]:  # too (`%`, not `a` of `a3%`)
            by_anchor.setdefault(a, []).append(body + _TAILS[kind])
    return re.compile(_join(by_anchor), re.ASCII)


def prefilter_patterns(
    literals: Iterable[tuple[str, bool]], anchors: Iterable[str] = ()
) -> list[tuple[str, bool, int]]:
    """For every alternative of `build_trigger`, a regex over reversed text without lookarounds
    that matches wherever the alternative does: (regex, ignore case, offset of the alternative's
    first character from the regex's start), for `_prefilter.scanner`."""
    out = [(re.escape(lit[::-1]), ci, _anchor(lit[::-1], ci)) for lit, ci in literals]
    return out + [(anchor, False, 0) for anchor in anchors] + _loose_separators()


def _loose_separators() -> list[tuple[str, bool, int]]:
    """`prefilter_patterns` of the separators alone (the alternatives of `build_pairs`)."""
    return [
        (re.escape(sep[::-1]) + _LOOSE_TAILS[kind], False, _anchor(sep[::-1], False))
        for sep, kind in _SEPARATORS
    ]


def _finder_patterns(detectors: Sequence[Detector]) -> list[tuple[str, bool, int]]:
    """For the compiled literal finder: each detector literal (or the anchor of a detector
    without literals) as a regex over reversed text, tagged with its detector's index."""
    literals = [
        (re.escape(x[::-1]), d.ignore_case, i) for i, d in enumerate(detectors) for x in d.literals
    ]
    return literals + [
        (d.anchor, False, i) for i, d in enumerate(detectors) if d.anchor and not d.literals
    ]


def build_pairs() -> tuple[re.Pattern[str], tuple[tuple[int, int], ...]]:
    """The separators of `build_trigger` alone, and for each identifier group (by index) the
    separator's kind and how far into the reversed separator the match starts (its anchor)."""
    by_anchor: dict[str, list[str]] = {}
    tagged: dict[str, list[tuple[int, int]]] = {}
    for sep, kind in _SEPARATORS:
        offset, anchored = _anchored(sep[::-1], False)
        for a, body in anchored:
            by_anchor.setdefault(a, []).append(body + _TAILS[kind])
            tagged.setdefault(a, []).append((kind, offset))
    order = sorted(by_anchor, key=lambda a: -_RARITY.find(a))
    groups = ((0, 0), *(tag for a in order for tag in tagged[a]))
    return re.compile(_join(by_anchor), re.ASCII), groups


_KV_REV, _KV_GROUPS = build_pairs()


_GLUED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+")
_ESCAPES = frozenset(("\\n", "\\r", "\\t"))  # a literal backslash escape before a token


def replacer(group: int | str, mask: str, *, bounded: bool = False) -> Replacer:
    """A `re.sub` callback masking `group` (0: the whole match), leaving masked text alone.

    `bounded`: a match glued to a letter, digit or ``+`` before it (inside a word, a path
    segment, a base64 blob) is left alone, unless that letter ends a literal ``\\n``.
    """

    def replace(m: re.Match[str]) -> str:
        whole = m.group(0)
        a, b = m.span(group)
        if a < 0 or m.string.startswith(mask, a):
            return whole
        start = m.start()
        before = m.string[max(0, start - 2) : start]
        if bounded and before[-1:] in _GLUED and before not in _ESCAPES:
            return whole
        return whole[: a - start] + mask + whole[b - start :]

    return replace


def _may_meet(a: str, i: int, b: str, j: int, ci: bool) -> bool:
    """Whether reversed literals `a` and `b`, anchored at `i` and `j` on the same character,
    agree wherever they overlap (so both may match at one place)."""
    shift = j - i
    for p, ch in enumerate(a):
        q = p + shift
        if 0 <= q < len(b) and (ch.lower() != b[q].lower() if ci else ch != b[q]):
            return False
    return True


Here = Callable[[str, int], bool]
"""Whether an alternative of the literal finder matches reversed text at an anchor position."""


def _literal_here(rev: str, k: int, ci: bool) -> Here:
    """Whether reversed literal `rev`, anchored at its index `k`, is at a position of the text."""
    if ci:
        low = rev.lower()
        return lambda text, p: p >= k and text[p - k : p - k + len(low)].lower() == low
    return lambda text, p: p >= k and text.startswith(rev, p - k)


def literal_finder(
    detectors: Sequence[Detector],
) -> tuple[re.Pattern[str], list[tuple[frozenset[int], tuple[tuple[int, Here], ...]]]]:
    """One regex over REVERSED text finding every detector literal (and the anchor of each
    detector without literals), anchored like `build_trigger`, each its own group; for each
    group, the detector it names, and the others whose alternative may match at the same place
    (only one alternative is reported there), each with the check that it does: the literals
    that agree with it, and every anchor of its bucket (anchors come last in a bucket)."""
    literals: dict[str, list[tuple[str, int, str, int, bool]]] = {}
    anchors: dict[str, list[tuple[str, int]]] = {}
    for i, d in enumerate(detectors):
        for lit in d.literals:
            rev = lit[::-1]
            k, anchored = _anchored(rev, d.ignore_case)
            for a, body in anchored:
                literals.setdefault(a, []).append((body, i, rev, k, d.ignore_case))
        if d.anchor and not d.literals:
            first, rest = _split_anchor(d.anchor)
            anchors.setdefault(first, []).append((f"(?:{rest})", i))
    order = sorted({*literals, *anchors}, key=lambda a: -_RARITY.find(a))
    pattern = "|".join(  # the group last: a branch starting with a character is skipped fast
        re.escape(a)
        + "(?:"
        + "|".join(f"{body}()" for body, *_ in [*literals.get(a, ()), *anchors.get(a, ())])
        + ")"
        for a in order
    )
    related: list[tuple[frozenset[int], tuple[tuple[int, Here], ...]]] = [(frozenset(), ())]
    for a in order:
        bucket = literals.get(a, [])
        anchored_here = tuple(
            (j, cast(Here, re.compile(re.escape(a) + body, re.ASCII).match))
            for body, j in anchors.get(a, ())
        )
        for _, own, rev, k, ci in bucket:
            meet = tuple(
                (j, _literal_here(rev2, k2, ci2))
                for _, j, rev2, k2, ci2 in bucket
                if j != own and _may_meet(rev, k, rev2, k2, ci or ci2)
            )
            related.append((frozenset((own,)), meet + anchored_here))
        related.extend((frozenset((j,)), anchored_here) for _, j in anchors.get(a, ()))
    return re.compile(pattern or "(?!)", re.ASCII), related


def _named_key(before: str) -> str | None:
    """The name a ``value``/``val`` attribute belongs to (``key="Password" value=…``), if any."""
    m = _NAMED.search(before[-160:])
    return m.group(1) if m is not None else None


_FLAG_DASH = re.compile(r"-(?<=[\s\"'(]-)")
"""A dash where `_FLAG` may start a flag (after a space, a newline, a quote, a parenthesis):
``re`` looks only at the dashes."""


def _may_hold_flags(text: str) -> bool:
    """Cheap necessary condition for a command-line flag (``--password x``, ``-u user:pw``) or
    a ``.netrc`` entry (``machine h login u password p``), also at the start of any line (the
    strings of a batch are checked joined by newlines)."""
    return text[:1] == "-" or _FLAG_DASH.search(text) is not None or "machine " in text


def _may_be_kube_secret(text: str) -> bool:
    """Cheap check for a Kubernetes Secret manifest (its ``data:`` values are credentials)."""
    return "data:" in text and _KUBE_SECRET.search(text) is not None


class TextScrubber:
    """Masks secrets inside strings: `Detector` patterns, plain regexes, sensitive ``key=value``.

    `key_strength` judges the identifier before a separator (the same rule as dict keys:
    0 readable, 1 weak, i.e. masked only when the value looks like a credential, 2 sensitive).
    `memo` holds strings known clean (bounded); the structure walker reads it directly.
    """

    __slots__ = (
        "_always", "_detectors", "_find", "_finder_scan", "_key_strength", "_mask", "_match",
        "_memo_chars", "_pairs_scan", "_plain", "_related", "_search", "_size", "_strengths",
        "_trigger", "_trigger_scan", "memo",
    )  # fmt: skip

    def __init__(
        self,
        detectors: Sequence[Detector],
        plain: Sequence[re.Pattern[str]],
        mask: str,
        key_strength: Callable[[str], int],
        cache_size: int,
        prefilter: bool | None = None,
    ) -> None:
        self._mask, self._key_strength, self._size = mask, key_strength, cache_size
        self._strengths: dict[str, int] = {}  # an identifier READ BACKWARDS -> its strength
        self._detectors = [
            (d.compile(), tuple(x.lower() for x in d.literals) if d.ignore_case else d.literals,
             d.ignore_case, replacer(d.group, mask, bounded=d.bounded))
            for d in detectors
        ]  # fmt: skip
        finder, self._related = literal_finder(detectors)
        self._find = finder.search
        self._always = frozenset(
            i for i, d in enumerate(detectors) if not d.literals and not d.anchor
        )
        self._plain = [
            (rx, replacer("secret" if "secret" in rx.groupindex else 0, mask)) for rx in plain
        ]
        if any(not d.literals and not d.anchor for d in detectors):
            self._plain.append((re.compile("(?!)"), replacer(0, mask)))  # forces per-string scrub
        literals = [(x, d.ignore_case) for d in detectors if not d.anchor for x in d.literals]
        anchors = [d.anchor for d in detectors if d.anchor]  # stands in for its literals
        self._trigger = build_trigger(literals, anchors)
        self._search, self._match = self._trigger.search, self._trigger.match
        self._trigger_scan = self._finder_scan = self._pairs_scan = None
        if prefilter or (prefilter is None and prefilter_wanted()):
            try:
                self._trigger_scan, self._finder_scan, self._pairs_scan = (
                    scanner(tuple(prefilter_patterns(literals, anchors)), True),
                    scanner(tuple(_finder_patterns(detectors)), False),
                    scanner(tuple(_loose_separators()), True),
                )
            except Exception:  # Hyperscan refuses a pattern (an anchor with a lookaround)
                if prefilter:
                    raise
        self.memo: set[str] = set()
        self._memo_chars = 0

    def scrub(self, text: str) -> str:
        """Mask secrets inside `text`; the same object comes back when nothing changes."""
        if text in self.memo:
            return text
        return self.scrub_dirty(text) if self.dirty(text) else self._clean(text)

    def scrub_dirty(self, text: str) -> str:
        """`scrub` of a string `dirty` already said may change (it is not scanned again)."""
        new = self._scrub(text)
        return new if new != text else self._clean(text)

    def _clean(self, text: str) -> str:
        self.remember((text,), len(text))
        return text

    def sift(self, texts: list[str]) -> list[str]:
        """The strings of `texts` that may change, in order (the others are memoised as clean).

        One `vet` of the whole batch, string by string only when it trips; a batch of one or
        two strings string by string at once, so that a dirty string is not scanned twice.
        """
        if len(texts) > 2 and self.vet(texts):
            return []
        memo, out = self.memo, []
        for text in texts:
            if text not in memo:
                if self.dirty(text):
                    out.append(text)
                else:
                    self.remember((text,), len(text))
        return out

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
        """Necessary condition for any change: a literal, a sensitive ``key=``, a flag, a
        Kubernetes Secret, a surrogate."""
        if self._plain:
            return True
        if self._trigger_scan is not None and len(text) >= _COMPILED_FROM:
            if self._trips_at(text[::-1], self._trigger_scan):
                return True
        else:
            m = self._search(text[::-1])
            if m is not None and self._trips(m):
                return True
        if _may_hold_flags(text) and self._flag_spans(text, first=True):
            return True
        if _may_be_kube_secret(text):
            return True
        return not text.isascii() and _SURROGATE.search(text) is not None

    def vet(self, texts: list[str]) -> bool:
        """True when no string of the batch can change (they are then memoised as clean).

        `dirty` on the batch joined by newlines, then `remember`, in one call (the hot path).
        """
        text = texts[0] if len(texts) == 1 else "\n".join(texts)
        if self.dirty(text):
            return False
        memo, chars = self.memo, len(text)
        if chars <= 8192 and self._memo_chars + chars <= _MEMO_CHARS and len(memo) <= self._size:
            memo.update(texts)
            self._memo_chars += chars
        else:
            self.remember(texts, chars)
        return True

    def _ident_strength(self, rev: str, m: re.Match[str], g: int) -> int:
        """How sensitive the identifier of group `g` of a reversed-text match is."""
        backwards = m.group(g)
        strength = self._strengths.get(backwards)
        if strength is None:
            strength = self._key_strength(backwards[::-1])
            if len(backwards) <= 256:
                if len(self._strengths) >= self._size:
                    self._strengths.clear()
                self._strengths[backwards] = strength
        if not strength and len(backwards) <= 5 and backwards.lower() in ("eulav", "lav"):
            name = _named_key(rev[m.end(g) : m.end(g) + 160][::-1])
            if name is not None:
                strength = self._key_strength(name)
        return strength

    def _trips(self, m: re.Match[str] | None) -> bool:
        """Whether a trigger match `m` (or a later one) over reversed text is a real candidate."""
        search, rev = self._search, m.string if m is not None else ""
        while m is not None:
            g = m.lastindex
            if g is None or self._ident_strength(rev, m, g):
                return True
            m = search(rev, m.start() + 1)  # +1: a literal may hide inside a clean identifier
        return False

    def _trips_at(self, rev: str, scan: Scanner) -> bool:
        """`_trips` with the trigger run only where the compiled prefilter saw a candidate
        (whether any match is a real candidate does not depend on their order)."""
        match, strength = self._match, self._ident_strength

        def real(at: int) -> bool:
            m = match(rev, at)
            return m is not None and (m.lastindex is None or bool(strength(rev, m, m.lastindex)))

        return scan.first(rev, real)

    def _scrub(self, text: str) -> str:
        if not text.isascii():
            text = _SURROGATE.sub("\ufffd", text)  # orjson refuses lone surrogates
        run = set(self._always)
        rev = text[::-1]
        if self._finder_scan is not None:
            run |= self._finder_scan.tags(rev)
        else:
            related, find = self._related, self._find
            m = find(rev)
            while m is not None:  # every place a literal is: the detectors whose literal is there
                own, maybe = related[m.lastindex or 0]
                run |= own
                at = m.start()
                for j, here in maybe:
                    if j not in run and here(rev, at):
                        run.add(j)
                m = find(rev, at + 1)
        detectors = self._detectors
        for i in sorted(run):  # the catalogue's order
            rx, _, _, replace = detectors[i]
            text = rx.sub(replace, text)
        if _may_be_kube_secret(text):
            text = self._scrub_kube(text)
        text = self._scrub_pairs(text)
        if _may_hold_flags(text):
            text = self._masked(text, self._flag_spans(text))
        for rx, replace in self._plain:
            text = rx.sub(replace, text)
        return text

    def _masked(self, text: str, spans: list[tuple[int, int]]) -> str:
        """`text` with each span replaced by the mask (overlapping spans merged)."""
        if not spans:
            return text
        parts: list[str] = []
        last = 0
        for a, b in sorted(spans):
            if a < last:  # inside the previous value, already masked
                last = max(last, b)
                continue
            parts += (text[last:a], self._mask)
            last = b
        parts.append(text[last:])
        return "".join(parts)

    def _value_span(
        self, text: str, kind: int, ident: str, start: int, strength: int
    ) -> tuple[int, int] | None:
        """The span of the value that starts at `start` after a key of `kind`, or None."""
        if kind == _ASSIGN:
            if strength < 2 and text.startswith("//", start) and text[start - 1 : start] == ":":
                return None  # `notion://…`: a URI's scheme, not a weak key's value
            lower = ident.lower()
            rx = _HEADER_VALUE if "auth" in lower or "cookie" in lower else _VALUE
            v = rx.match(text, start)
        elif kind == _XML:
            v = _XML_VALUE.match(text, start)
        else:
            v = _QUOTED_VALUE.match(text, start)
        if v is None:
            return None
        a, b = v.span(v.lastindex or 0)
        if a == b or text.startswith(self._mask, a):
            return None
        if strength < 2 and _CRED_SHAPE.match(text[a:b]) is None:
            return None
        return a, b

    def _scrub_pairs(self, text: str) -> str:
        """Mask the value after every sensitive key: ``key=value``, ``"key": "value"``, calls,
        argument pairs, XML elements and attributes."""
        rev, n = text[::-1], len(text)
        spans: list[tuple[int, int]] = []
        find = self._pair_finder(rev)
        m = find(0)
        while m is not None:
            g = m.lastindex or 0
            strength = self._ident_strength(rev, m, g)
            if strength:  # one value per key: its other separators (`:` of `:=`) are not keys
                kind, offset = _KV_GROUPS[g]
                start = n - m.start() + offset - (kind == _CALL)  # a call's: at its quote
                span = self._value_span(text, kind, m.group(g)[::-1], start, strength)
                if span is not None:
                    spans.append(span)
                m = find(m.end(g))
                continue
            m = find(m.start() + 1)
        return self._masked(text, spans)

    def _pair_finder(self, rev: str) -> Callable[[int], re.Match[str] | None]:
        """The next separator match of reversed text at or after a position (positions asked
        only grow): `_KV_REV.search`, or its `match` at the compiled prefilter's candidates."""
        if self._pairs_scan is None or len(rev) < _COMPILED_FROM:
            return functools.partial(_KV_REV.search, rev)
        candidates, match = self._pairs_scan.positions(rev), _KV_REV.match
        k = 0

        def find(pos: int) -> re.Match[str] | None:
            nonlocal k
            while k < len(candidates):
                at = candidates[k]
                if at >= pos:
                    m = match(rev, at)
                    if m is not None:
                        return m
                k += 1
            return None

        return find

    def _flag_spans(self, text: str, *, first: bool = False) -> list[tuple[int, int]]:
        """Spans of the values of sensitive command-line flags (with `first`, stop at one).

        ``--password x``, ``-ClientSecret 'x'``, ``--softlayer-api-key x``, ``-u user:pw`` /
        ``--user 'user:pw'`` (curl), ``-p x`` after ``login``/``mysql``; and the ``password``/
        ``account`` of a ``.netrc`` entry.
        """
        spans: list[tuple[int, int]] = []
        for m in _FLAG.finditer(text):
            name = m.group(1)
            v = _FLAG_VALUE.match(text, m.end())
            if v is None or text.startswith(self._mask, v.start()):
                continue
            if name in ("u", "user"):
                hit = ":" in v.group(0)
            elif name == "p":
                line_start = text.rfind("\n", 0, m.start()) + 1
                hit = _LOGIN_COMMAND.search(text, line_start, m.start()) is not None
            else:
                strength = self._key_strength(name)
                hit = strength == 2 or (strength == 1 and _CRED_SHAPE.match(v.group(0)) is not None)
            if hit:
                spans.append(v.span())
                if first:
                    return spans
        if "machine " in text:
            for m in _NETRC.finditer(text):
                if not text.startswith(self._mask, m.start(1)):
                    spans.append(m.span(1))
        return spans

    def _scrub_kube(self, text: str) -> str:
        """Mask every value under ``data:``/``stringData:`` of a Kubernetes Secret manifest."""
        mask = self._mask

        def block(m: re.Match[str]) -> str:
            lines = m.group(2).split("\n")
            for i, line in enumerate(lines):
                stripped = line.strip()
                if not stripped or stripped.startswith("#") or stripped.startswith(mask):
                    continue
                kv = _KUBE_LINE.fullmatch(line.rstrip("\r"))
                if kv is None:  # a continuation line of a block scalar: all of it is the value
                    lines[i] = line[: len(line) - len(line.lstrip())] + mask
                elif kv.group(2).strip() not in ("", "|", ">", "|-", ">-", "|+", ">+", mask):
                    lines[i] = kv.group(1) + mask
            return m.group(0)[: m.start(2) - m.start()] + "\n".join(lines)

        return _KUBE_DATA.sub(block, text)
