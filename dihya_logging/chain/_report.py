"""What `verify_generation_logs` returns — intact, tampered or cannot check, and why — and
`Findings`, which collects the problems while the log is read.

Floor 1 (standard library only): the report is a plain dataclass, so ``dataclasses.asdict``
and `to_dict` give the ``--json`` report.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Final, Optional

__all__ = [
    "CANNOT_CHECK",
    "INTACT",
    "MAX_PROBLEMS",
    "TAMPERED",
    "BadRecord",
    "Findings",
    "VerifyReport",
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
