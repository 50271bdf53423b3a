"""The verification pass: one streaming walk over every line of the log set, oldest first.

Floor 2 (chain, chainio, verify_report). `ChainChecker` checks each sealed line's commitment
and link, the continuity of ``seq`` across lines and files, tombstones and anonymized records
against the purge records that authorise them, and the end of the chain against the state
file's head and the anchor; `verify` feeds it the files.
"""

from __future__ import annotations

import hashlib
import json
from binascii import hexlify, unhexlify
from typing import Callable, Final, Optional

from dihya_logging.chain._format import GENESIS_LINK, SEALED, Linker, SeqRanges, key_id, parse_entry
from dihya_logging.chain._report import INTACT, Findings, VerifyReport
from dihya_logging.chain._state import ChainState

__all__ = ["Anchor", "ChainChecker"]

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
        sha, full, anchors = hashlib.sha256, SEALED.fullmatch, self.anchors
        link_of, watch = self._link, bool(self._pending)
        prev_seq, prev_link = self._prev_seq, self._prev_link
        records = 0
        for line in lines:
            lineno += 1
            n = len(line)
            start = line.rfind(b',"seq":', n - 220 if n > 220 else 0, n - 193)  # = suffix_start
            match = full(line, start) if start > 0 else None
            if match is None:
                self.report.records += records
                records = 0
                self._prev_seq, self._prev_link = prev_seq, prev_link
                self._other(name, lineno, line)
                prev_seq, prev_link = self._prev_seq, self._prev_link
                link_of, watch = self._link, bool(self._pending)
                continue
            seq_text, salt, commit_hex, link_hex = match.groups()
            seq = int(seq_text)
            records += 1
            commit = sha(unhexlify(salt) + line[:start] + b"}").digest()
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
            if watch and (b'"purge"' in line or b'"redact"' in line):
                self._purge(seq, line[:start] + b"}")
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
