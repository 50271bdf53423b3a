"""`verify_generation_logs`: prove a chained log intact, or say where it was tampered with.

Floor 3 (logset, chain, chainio, verify_scan). Every file of the set is opened at once under
the log set's lock (when it can be taken), with the state file read at the same moment, so the
snapshot is consistent; the lines are then streamed without the lock. The live file is read only
up to its size at that moment: writers keep going meanwhile.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final, Optional, cast

from dihya_logging._logset import LogSet, PathLike, open_private, resolve_log_path
from dihya_logging.chain._format import ENV_CHAIN_ANCHOR, ENV_CHAIN_KEY, KeyLike, as_key
from dihya_logging.chain._report import CANNOT_CHECK, BadRecord, VerifyReport
from dihya_logging.chain._scan import Anchor, ChainChecker
from dihya_logging.chain._state import ChainState, read_state, state_path

__all__ = ["BadRecord", "VerifyReport", "verify_generation_logs"]

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
    """
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
                state = read_state(state_path(log_set))
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
        try:
            entry = json.loads(line)
            seq, link, log = entry["seq"], bytes.fromhex(entry["link"]), str(entry["log"])
        except (ValueError, KeyError, TypeError):
            notes.append(f"the anchor file {path} has a damaged line")
            continue
        if type(seq) is not int:
            continue
        anchored: Anchor = (link, str(entry.get("time", "?")))
        if log == str(log_set.path):
            mine.setdefault(seq, []).append(anchored)
        elif Path(log).name == log_set.path.name:
            same_name.setdefault(seq, []).append(anchored)
    if not mine and same_name:
        notes.append("the anchor names this log elsewhere: its entries were matched by file name")
        return same_name
    return mine
