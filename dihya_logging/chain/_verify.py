"""Tamper evidence, the reading side: `verify_generation_logs` proves a chained log intact, or
says where it was tampered with.

Floor 3 (logset, chain format). Every file of the set is opened at once under the log set's lock
(when it can be taken), with the state file read at the same moment, so the snapshot is
consistent; the lines are then streamed without the lock (the live file only up to its size at
that moment: writers keep going meanwhile). `ChainChecker` walks every line, oldest first: each
sealed line's commitment and link, the continuity of ``seq`` across lines and files, tombstones
and anonymized records against the purge records that authorise them, and the end of the chain
against the state file's head and the anchor. `Findings` collects what it finds and
`VerifyReport` is the verdict (a plain dataclass: ``to_dict`` gives the ``--json`` report).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import os
from binascii import hexlify, unhexlify
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Final, Optional, cast

from dihya_logging._logset import LogSet, PathLike, open_private, resolve_log_path
from dihya_logging.chain._format import (
    ENV_CHAIN_ANCHOR,
    ENV_CHAIN_KEY,
    GENESIS_LINK,
    ChainState,
    KeyLike,
    Linker,
    SeqRanges,
    as_key,
    commitment,
    key_id,
    parse_anchor_line,
    parse_entry,
    read_state,
    split_sealed,
)

__all__ = [
    "CANNOT_CHECK",
    "INTACT",
    "TAMPERED",
    "BadRecord",
    "VerifyReport",
    "verify_generation_logs",
]

INTACT: Final = "intact"
TAMPERED: Final = "tampered"
CANNOT_CHECK: Final = "cannot check"
MAX_PROBLEMS: Final = 100
"""Problems kept in the report (all are counted in ``problem_count``)."""


@dataclass(frozen=True)
class BadRecord:
    """Where the first problem is: file name, 1-based line number, and seq when known."""

    file: str
    line: int
    seq: Optional[int] = None


@dataclass
class VerifyReport:
    """The verdict on one log set.

    ``status`` is ``"intact"`` (``ok``), ``"tampered"`` (evidence of changed, added or missing
    records: exit 1) or ``"cannot check"`` (no chain, no key, no state file: exit 2).
    ``problems`` are readable sentences naming file and line; ``notes`` are facts that are not
    tampering (a crash's partial line, pruned history). ``first_bad`` locates the first problem.
    """

    path: str
    status: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first_bad: Optional[BadRecord] = None
    files: list[str] = field(default_factory=list)
    records: int = 0
    """Sealed records checked (their commitment and link)."""
    tombstones: int = 0
    anonymized: int = 0
    head_seq: Optional[int] = None
    head_link: Optional[str] = None
    keyed: Optional[bool] = None
    """Whether links were checked with a key (None: links not checked)."""
    problem_count: int = 0
    """All problems found (``problems`` keeps the first ones only)."""
    ok: bool = False
    checkable: bool = False

    def __post_init__(self) -> None:
        self.ok = self.status == INTACT
        self.checkable = self.status != CANNOT_CHECK

    @property
    def exit_code(self) -> int:
        """The ``dihya-logs verify`` exit status: 0 intact, 1 tampered, 2 cannot check."""
        return 0 if self.ok else (1 if self.checkable else 2)

    def summary(self) -> str:
        """One line: the verdict and what was checked."""
        head = f", head seq {self.head_seq}" if self.head_seq is not None else ""
        counts = f"{self.records} records in {len(self.files)} files{head}"
        if self.tombstones or self.anonymized:
            counts += f", {self.tombstones} tombstones, {self.anonymized} anonymized"
        if self.status == INTACT:
            return f"{self.path}: intact ({counts})"
        if self.status == TAMPERED:
            return f"{self.path}: TAMPERED, {self.problem_count} problem(s) ({counts})"
        return f"{self.path}: cannot check ({counts})"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the ``--json`` report)."""
        return dataclasses.asdict(self)


class Findings:
    """Problems (tampering), reasons the log cannot be checked, and notes, as they are found.

    A gap in the sequence is worded at the end: when every missing seq turned up elsewhere it
    is a reordering, at a file boundary a missing rotated file, else deleted lines.
    """

    def __init__(self) -> None:
        self.problems: list[list[Any]] = []  # [file, line, seq, text, kind]
        self.count = 0
        self.notes: list[str] = []
        self.unknown: list[str] = []
        self._gaps: list[tuple[list[Any], int, int, str]] = []
        self._kinds: dict[str, int] = {}
        self.moved: set[int] = set()
        """Seqs met out of place: a gap they fill is a reordering."""

    def bad(self, file: str, line: int, seq: object, text: str, kind: str = "") -> None:
        """Record a problem at ``file`` line ``line`` (0: the end of the file)."""
        self._keep([file, line, seq if type(seq) is int else None, text, kind])

    def gap(self, file: str, line: int, seq: int, low: int, high: int, after: str) -> None:
        """Records ``low``-``high`` were expected before ``seq``; ``after``: previous file, if
        this is the first record of a file."""
        slot: list[Any] = [file, line, seq, "", "gap"]
        if self._keep(slot):
            self._gaps.append((slot, low, high, after))

    def _keep(self, slot: list[Any]) -> bool:
        self.count += 1
        self._kinds[slot[4]] = self._kinds.get(slot[4], 0) + 1
        if len(self.problems) >= MAX_PROBLEMS:
            return False
        self.problems.append(slot)
        return True

    def drop(self, kind: str) -> None:
        """Forget the problems of one kind (e.g. every link mismatch, when the key is wrong)."""
        self.problems = [p for p in self.problems if p[4] != kind]
        self.count -= self._kinds.pop(kind, 0)

    def _word_gaps(self) -> None:
        for slot, low, high, after in self._gaps:
            moved = high - low < 10_000 and all(s in self.moved for s in range(low, high + 1))
            span = f"record {low} is" if low == high else f"records {low}-{high} are"
            if moved:
                slot[3] = f"{span} elsewhere in the log: reordered lines"
            elif after:
                slot[3] = f"{span} missing between {after} and this file: a rotated file deleted?"
            else:
                slot[3] = f"{span} missing: deleted lines (or lost by a failed write)"

    def conclude(self, report: VerifyReport) -> VerifyReport:
        """Fill ``report``'s problems, notes, first bad record and status."""
        self._word_gaps()
        order = {name: i for i, name in enumerate(report.files)}
        problems = sorted(self.problems, key=lambda p: (order.get(p[0], 0), p[1] or 1 << 62))
        if problems:
            report.first_bad = BadRecord(problems[0][0], problems[0][1], problems[0][2])
        for file, line, seq, text, _ in problems:
            where = f"{file} line {line}" if line else file
            report.problems.append(f"{where}{f' (seq {seq})' if seq is not None else ''}: {text}")
        if self.count > len(problems):
            report.problems.append(f"... and {self.count - len(problems)} more problems")
        report.problems.extend(self.unknown)
        report.notes.extend(self.notes)
        report.problem_count = self.count
        report.status = TAMPERED if problems else (CANNOT_CHECK if self.unknown else INTACT)
        report.__post_init__()
        return report


# -- the walk over the lines ----------------------------------------------------------------------
_NOT_STARTED: Final = -(1 << 62)
_CHAIN_KEYS: Final = ("seq", "salt", "commit", "link", "tombstone")

Anchor = tuple[bytes, str]
"""An anchored head: (link, time it was written)."""
LinkFn = Callable[[bytes, int, bytes], bytes]


class ChainChecker:
    """Accumulates the verdict while `lines` is fed every line (without newline) in order."""

    def __init__(
        self,
        path: str,
        state: Optional[ChainState],
        key: Optional[bytes],
        anchors: dict[int, list[Anchor]],
    ) -> None:
        self.report = VerifyReport(path=path, status=INTACT)
        self.found = Findings()
        self.state = state
        self.key = key
        self.anchors = anchors
        self._plain: LinkFn = Linker(None).link
        self._link: Optional[LinkFn] = Linker(key).link
        self._guessing = key is None and state is None  # plain links, unless the first fails
        if key is None and state is not None and state.keyed:
            self._link = None
            self.found.unknown.append(
                "the log is sealed with a key: give it (DIHYA_CHAIN_KEY, --key-file) to check "
                "the links; commitments and sequence were checked"
            )
        self.report.keyed = None if self._link is None else key is not None
        self._pending: list[tuple[str, int, str, int]] = []  # kind, seq, file, line
        self._auths: list[tuple[int, SeqRanges, SeqRanges]] = []
        self._prev_seq = _NOT_STARTED
        self._prev_link: Optional[bytes] = None
        self._prev_file = ""
        self._file_start = 0
        self._checked = 0
        self._link_bad = 0
        self._unchained_early = 0
        self._last_partial = False

    # -- feeding -----------------------------------------------------------------------------------
    def begin_file(self, name: str) -> None:
        """A new file starts (files come oldest first)."""
        self._prev_file = self.report.files[-1] if self.report.files else ""
        self.report.files.append(name)
        self._file_start = self._entries()
        self._last_partial = False

    def lines(self, name: str, lines: list[bytes], lineno: int) -> None:
        """Check complete lines; ``lineno`` is the number of the line before the first one.

        The hot loop: per sealed line one regex match on the suffix, one SHA-256 over the
        payload, one link; hex is compared as bytes (converted only when something is wrong).
        Purge records are parsed only once there is a tombstone to authorise.
        """
        split, anchors = split_sealed, self.anchors
        link_of, watch = self._link, bool(self._pending)
        prev_seq, prev_link = self._prev_seq, self._prev_link
        records = 0
        for line in lines:
            lineno += 1
            sealed = split(line)
            if sealed is None:
                self.report.records += records
                records = 0
                self._prev_seq, self._prev_link = prev_seq, prev_link
                self._other(name, lineno, line)
                prev_seq, prev_link = self._prev_seq, self._prev_link
                link_of, watch = self._link, bool(self._pending)
                continue
            payload, seq, salt, commit_hex, link_hex = sealed
            records += 1
            commit = commitment(unhexlify(salt), payload)
            if hexlify(commit) != commit_hex:
                commit = unhexlify(commit_hex)
                self.found.bad(name, lineno, seq, "its content does not match its commitment")
            if seq == prev_seq + 1 and prev_link is not None and link_of is not None:
                self._checked += 1
                link = link_of(prev_link, seq, commit)
                if hexlify(link) != link_hex:
                    link = unhexlify(link_hex)
                    self._bad_link(name, lineno, seq, prev_link, commit, link)
                    link_of = self._link
            else:
                self.report.records += records
                records = 0
                self._prev_seq, self._prev_link = prev_seq, prev_link
                link = unhexlify(link_hex)
                self._step(name, lineno, seq, commit, link)
                link_of = self._link
            prev_seq, prev_link = seq, link
            if anchors and seq in anchors:
                self._anchor(name, lineno, seq, link)
            if watch and (b'"purge"' in payload or b'"redact"' in payload):  # may authorise
                self._purge(seq, payload)
        self._prev_seq, self._prev_link = prev_seq, prev_link
        self.report.records += records

    def partial(self, name: str, lineno: int, line: bytes) -> None:
        """The last line of a file has no newline: a complete record, or a crash's fragment."""
        if parse_entry(line) is not None:
            self.lines(name, [line], lineno - 1)
            self.found.notes.append(f"{name} line {lineno}: the last line has no final newline")
        else:
            self._last_partial = True
            self.found.notes.append(
                f"{name} line {lineno}: partial last line (a writer crashed while writing it)"
            )

    # -- lines off the fast path ---------------------------------------------------------------
    def _entries(self) -> int:
        return self.report.records + self.report.tombstones + self.report.anonymized

    def _other(self, name: str, lineno: int, line: bytes) -> None:
        """A line that is not a sealed record: tombstone, anonymized, fragment or intruder."""
        entry = parse_entry(line)
        if entry is not None:
            if entry.kind == "tombstone":
                self.report.tombstones += 1
            else:
                self.report.anonymized += 1
            self._pending.append((entry.kind, entry.seq, name, lineno))
            self._step(name, lineno, entry.seq, entry.commit, entry.link)
            self._prev_seq, self._prev_link = entry.seq, entry.link
            if entry.seq in self.anchors:
                self._anchor(name, lineno, entry.seq, entry.link)
            return
        if not line.strip():
            self.found.notes.append(f"{name} line {lineno}: empty line")
            return
        try:
            record = json.loads(line)
        except ValueError:
            if line.startswith(b"{"):
                self.found.notes.append(f"{name} line {lineno}: partial line left by a crash")
            else:
                self.found.bad(name, lineno, None, "not a JSON record: damaged or inserted text")
            return
        if isinstance(record, dict) and any(key in record for key in _CHAIN_KEYS):
            self.found.bad(name, lineno, record.get("seq"), "its chain fields were rewritten")
        elif self._prev_seq == _NOT_STARTED:
            self._unchained_early += 1
        else:
            self.found.bad(
                name,
                lineno,
                None,
                "a record without chain fields: inserted, or "
                "written by a handler without chain=True",
            )

    def _step(self, name: str, lineno: int, seq: int, commit: bytes, link: bytes) -> None:
        """Check an entry against the previous one, however irregular (gap, start, moved)."""
        prev = self._prev_seq
        if prev == _NOT_STARTED:
            self._start(name, lineno, seq, commit, link)
            return
        if seq != prev + 1:
            self.found.moved.add(seq)
        first_in_file = self._entries() - 1 <= self._file_start and len(self.report.files) > 1
        if seq == prev + 1:
            if self._prev_link is not None and self._link is not None:
                self._checked += 1
                if self._link(self._prev_link, seq, commit) != link:
                    self._bad_link(name, lineno, seq, self._prev_link, commit, link)
        elif seq > prev + 1:
            after = self._prev_file if first_in_file else ""
            self.found.gap(name, lineno, seq, prev + 1, seq - 1, after)
        elif first_in_file:
            self.found.bad(
                name,
                lineno,
                seq,
                f"this file starts at seq {seq} but the previous "
                f"one ({self._prev_file}) ends at seq {prev}: rotated files out of "
                "order or duplicated",
            )
        else:
            self.found.bad(
                name,
                lineno,
                seq,
                f"seq {seq} comes after seq {prev}: a duplicated or reordered line",
            )

    def _start(self, name: str, lineno: int, seq: int, commit: bytes, link: bytes) -> None:
        """The first chain entry of the log: check it against the pruned base, or the genesis."""
        state, found = self.state, self.found
        if self._unchained_early:
            found.notes.append(
                f"{self._unchained_early} records before the first chained one "
                "are not protected by the chain"
            )
        base_seq, base_link = (state.base_seq, state.base_link) if state else (0, GENESIS_LINK)
        if state is None and seq != 1:
            found.notes.append(f"without a state file the start (seq {seq}) is unconfirmed")
            return
        if seq > base_seq + 1:
            found.bad(
                name,
                lineno,
                seq,
                f"the log starts at seq {seq} but history was pruned "
                f"only up to seq {base_seq}: the oldest records are missing",
            )
            return
        if seq < base_seq + 1:
            found.notes.append(
                f"records up to seq {base_seq} were marked pruned but some are still present"
            )
            base_link = GENESIS_LINK if seq == 1 else None
        if base_link is None:
            found.notes.append(
                f"{name} line {lineno}: the first record (seq {seq}) cannot be "
                "checked against its pruned predecessor"
            )
        elif self._link is not None:
            self._checked += 1
            if self._link(base_link, seq, commit) != link:
                self._bad_link(name, lineno, seq, base_link, commit, link)

    def _bad_link(
        self, name: str, lineno: int, seq: int, prev: bytes, commit: bytes, link: bytes
    ) -> None:
        self._link_bad += 1
        if self._guessing and self._checked <= 1:  # no state, no key, first link: keyed log?
            self._link = None
            self.report.keyed = None
            self.found.unknown.append(
                "the links are not plain SHA-256 and there is no state "
                "file: the log is probably keyed; give the key"
            )
        elif self.key is not None and self._plain(prev, seq, commit) == link:
            self.found.bad(
                name,
                lineno,
                seq,
                "its link is a plain SHA-256, not keyed: forged by someone without the key",
                "link",
            )
        else:
            self.found.bad(
                name,
                lineno,
                seq,
                "its link does not follow from the previous record: altered, moved or inserted",
                "link",
            )

    def _anchor(self, name: str, lineno: int, seq: int, link: bytes) -> None:
        for anchored, when in self.anchors.pop(seq, ()):
            if anchored != link:
                self.found.bad(
                    name,
                    lineno,
                    seq,
                    f"its link differs from the one anchored at {when}: history was rewritten",
                )

    def _purge(self, seq: int, payload: bytes) -> None:
        try:
            record = json.loads(payload)
        except ValueError:
            return
        if isinstance(record, dict) and record.get("event") in ("purge", "redact"):
            tomb, resealed = SeqRanges(record.get("tombstoned")), SeqRanges(record.get("resealed"))
            if tomb or resealed:
                self._auths.append((seq, tomb, resealed))

    # -- the end -------------------------------------------------------------------------------
    def finish(self) -> VerifyReport:
        """Tail, authorisations, anchors, the key; then the verdict."""
        report, found = self.report, self.found
        if self._prev_seq == _NOT_STARTED:
            reason = (
                "the log is not chained: no record carries seq/commit/link (enable chain=True)"
                if report.files
                else f"no log files at {report.path}"
            )
            found.unknown.insert(0, reason)
            return found.conclude(report)
        report.head_seq = self._prev_seq
        report.head_link = self._prev_link.hex() if self._prev_link is not None else None
        self._check_tail()
        for kind, seq, name, lineno in self._pending:
            listed = [
                auth[1] if kind == "tombstone" else auth[2] for auth in self._auths if auth[0] > seq
            ]
            if not any(seq in ranges for ranges in listed):
                found.bad(name, lineno, seq, f"{kind} not authorised by any later purge record")
        base = self.state.base_seq if self.state is not None else 0
        for seq, anchored in sorted(self.anchors.items()):
            if seq > self._prev_seq:
                found.bad(
                    report.files[-1],
                    0,
                    seq,
                    f"the log ends at seq {self._prev_seq} but "
                    f"seq {seq} was anchored at {anchored[0][1]}: the tail was cut",
                )
            elif seq > base:
                found.notes.append(f"anchored seq {seq} is not in the log (see the gaps)")
        self._check_key()
        return found.conclude(report)

    def _check_tail(self) -> None:
        """The last record must be the state file's head (or the crashed one just before it)."""
        state, last, found = self.state, self._prev_seq, self.found
        name = self.report.files[-1]
        if state is None:
            found.unknown.append(
                "no state file: a cut tail or a deleted oldest file cannot be ruled out"
            )
        elif state.head_seq == last:
            if self._prev_link is not None and state.head_link != self._prev_link:
                found.bad(name, 0, last, "the last record differs from the state file's head")
        elif state.head_seq == last + 1 and self._last_partial:
            found.notes.append(f"record seq {last + 1} was being written when its writer crashed")
        elif state.head_seq > last:
            found.bad(
                name,
                0,
                last + 1,
                f"the log ends at seq {last} but the state file's head is seq "
                f"{state.head_seq}: records were cut from the tail"
                + (" (or the last one was lost in a crash)" if state.head_seq == last + 1 else ""),
            )
        else:
            found.notes.append(f"the state file's head (seq {state.head_seq}) is behind the log")

    def _check_key(self) -> None:
        """No link matched the key given: say it is the wrong key rather than a forgery."""
        state, key = self.state, self.key
        if key is None or not self._link_bad or self._checked > self._link_bad:
            return
        if state is not None and state.keyed and state.key_id == key_id(key):
            return  # the right key, and every link is wrong: a forgery
        if state is not None and not state.keyed:
            return  # a plain log verified with a key: the links' own messages say it
        self.found.drop("link")
        self.found.unknown.append("no link matches the key given: the wrong key (or a forgery)")


# -- the files ------------------------------------------------------------------------------------
_CHUNK: Final = 1 << 20

Snapshot = tuple[list[tuple[Path, int, int]], Optional[ChainState], Optional[str]]


def verify_generation_logs(
    path: Optional[PathLike] = None,
    *,
    key: KeyLike = None,
    anchor: Optional[PathLike] = None,
) -> VerifyReport:
    """Check the tamper-evidence chain of the log at ``path`` (default: see `resolve_log_path`).

    ``key`` checks HMAC links (a log sealed without a key then fails); when it is None,
    ``$DIHYA_CHAIN_KEY`` is used unless the state file says the log is unkeyed. ``anchor``
    (default ``$DIHYA_CHAIN_ANCHOR``) is the file the writers appended heads to. Never raises
    for a bad log: the report says ``intact``, ``tampered`` or ``cannot check``, and why.
    A ``postgresql://`` (or ``host=… dbname=…``) location checks the table's writer chains
    (`postgres._chain.verify_table`; ``files`` then lists the chains).
    """
    from dihya_logging.store._backend import is_database_location  # no import cycle

    if is_database_location(path):  # a PostgreSQL table: its writer chains
        from dihya_logging.postgres._chain import verify_table

        return verify_table(str(path), key)
    log_set = LogSet(resolve_log_path(path))
    secret = as_key(key)
    if anchor is None:
        anchor = os.environ.get(ENV_CHAIN_ANCHOR) or None
    notes: list[str] = []
    anchors = _load_anchors(Path(os.fspath(anchor)), log_set, notes) if anchor else {}
    try:
        with _snapshot(log_set) as (files, state, state_error):
            if secret is None and (state is None or state.keyed):
                secret = as_key(os.environ.get(ENV_CHAIN_KEY))
            checker = ChainChecker(str(log_set.path), state, secret, anchors)
            checker.report.notes.extend(notes)
            if state_error:
                checker.found.unknown.append(f"the state file is unreadable ({state_error})")
            for file_path, fd, size in files:
                _scan(checker, file_path, fd, size)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        return VerifyReport(
            path=str(log_set.path),
            status=CANNOT_CHECK,
            problems=[f"cannot read the log: {exc}"],
        )
    return checker.finish()


@contextlib.contextmanager
def _snapshot(log_set: LogSet) -> Iterator[Snapshot]:
    """Every file of the set opened at once, and the state file read, under the lock if possible."""
    opened: list[tuple[Path, int, int]] = []
    state: Optional[ChainState] = None
    error: Optional[str] = None
    try:
        with contextlib.ExitStack() as stack:
            with contextlib.suppress(OSError):  # read-only copy, or no directory: no lock
                stack.enter_context(log_set.lock(create_dir=False))
            for path in log_set.files():
                try:
                    fd = open_private(path, os.O_RDONLY)
                except FileNotFoundError:
                    continue
                opened.append((path, fd, os.fstat(fd).st_size))
            try:
                state = read_state(log_set.chain_state_path)
            except (OSError, ValueError) as exc:
                error = str(exc)
        yield opened, state, error
    finally:
        for _, fd, _ in opened:
            os.close(fd)


def _scan(checker: ChainChecker, path: Path, fd: int, size: int) -> None:
    """Feed one file's lines to the checker, in chunks; a final line without newline apart."""
    name = path.name
    checker.begin_file(name)
    raw = os.fdopen(os.dup(fd), "rb", buffering=0)
    stream: IO[bytes] = raw
    if name.endswith(".gz"):
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    left: Optional[int] = None if name.endswith(".gz") else size
    lineno = 0
    rest = b""
    with raw, stream:
        while left is None or left > 0:
            chunk = stream.read(_CHUNK if left is None else min(_CHUNK, left))
            if not chunk:
                break
            if left is not None:
                left -= len(chunk)
            lines = (rest + chunk).split(b"\n") if rest else chunk.split(b"\n")
            rest = lines.pop()
            checker.lines(name, lines, lineno)
            lineno += len(lines)
    if rest:
        checker.partial(name, lineno + 1, rest)


def _load_anchors(path: Path, log_set: LogSet, notes: list[str]) -> dict[int, list[Anchor]]:
    """The anchored heads of this log (by absolute path, else by file name): seq -> links."""
    try:
        with open(path, "rb") as stream:
            lines = stream.read().splitlines()
    except FileNotFoundError:
        notes.append(f"the anchor file {path} does not exist: nothing to compare with")
        return {}
    mine: dict[int, list[Anchor]] = {}
    same_name: dict[int, list[Anchor]] = {}
    for line in lines:
        parsed = parse_anchor_line(line)
        if parsed is None:
            notes.append(f"the anchor file {path} has a damaged line")
            continue
        log, seq, link, when = parsed
        anchored: Anchor = (link, when)
        if log == str(log_set.path):
            mine.setdefault(seq, []).append(anchored)
        elif Path(log).name == log_set.path.name:
            same_name.setdefault(seq, []).append(anchored)
    if not mine and same_name:
        notes.append("the anchor names this log elsewhere: its entries were matched by file name")
        return same_name
    return mine
