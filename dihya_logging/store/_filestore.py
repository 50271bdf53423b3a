"""`FileStore`: the JSON-lines log set at one path, read, purged and audited as a `LogStore`.

Floor 3 (logset, backend, reading, purge, pseudonym; the handler and formatter are imported
lazily, only to write an audit event). Reads open every file of the set at once, under the
log set's lock when it can be taken (so a rotation cannot slip between listing and opening),
then stream without it: a consistent snapshot that never blocks writers for long. A purge holds
the lock for its whole run — writers in other processes wait, then reopen the rewritten live
file (its inode changed) and lose nothing; use the handler's queue mode if the application must
never wait. Audit events are written after the lock is released (``flock`` would otherwise wait
for itself).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import logging
import os
import stat
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Optional

from dihya_logging._logset import (
    LogSet,
    PathLike,
    fsync_directory,
    handler_writing,
    open_private,
)
from dihya_logging._schema import LOGGER_NAME, safe_extra
from dihya_logging.chain._format import ENV_CHAIN_KEY, read_state
from dihya_logging.store._backend import AUDIT_EVENTS, PurgeOutcome, RecordFilter
from dihya_logging.store._pseudonym import anonymization_key, pseudonymize_user_id
from dihya_logging.store._purge import PurgePolicy, PurgeTemp, rewrite_file
from dihya_logging.store._reading import (
    FileDamage,
    ReadStats,
    iter_file_records,
    open_log_file,
    tail_file_records,
)

__all__ = ["FileStore"]


class FileStore:
    """The log set at ``path`` (live file, rotated and ``.gz`` backups) as a `LogStore`.

    ``progress(bytes_read)`` is called as files are read (the CLI shows it); `stats` counts
    the bytes read from disk over the store's life. ``chain_key`` seals the audit events this
    store writes into a keyed chain (default: the attached handler's, or ``$DIHYA_CHAIN_KEY``).
    """

    def __init__(
        self,
        path: PathLike,
        *,
        progress: Optional[Callable[[int], None]] = None,
        chain_key: Optional[bytes] = None,
    ) -> None:
        self.logset = LogSet(path)
        self.path: Path = self.logset.path
        self.location: str = str(self.path)
        self.stats = ReadStats(progress=progress)
        self.chain_key = chain_key

    def __repr__(self) -> str:
        return f"FileStore({self.location!r})"

    def size(self) -> int:
        """Bytes on disk of every file of the set (compressed sizes), for progress totals."""
        total = 0
        for path in self.logset.files():
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    @property
    def damage(self) -> list[FileDamage]:
        """Files whose unreadable parts this store's reads skipped so far (one entry per read)."""
        return self.stats.damage

    def pseudonymize(self, user_id: str) -> str:
        """The token standing for ``user_id`` in this log (its key file or ``$DIHYA_ANON_KEY``)."""
        return pseudonymize_user_id(user_id, path=self.path)

    # -- reading ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[list[tuple[Path, BinaryIO, bool]]]:
        """Every file of the set, opened together (under the lock when it can be taken)."""
        opened: list[tuple[Path, BinaryIO, bool]] = []
        try:
            with contextlib.ExitStack() as locked:
                with contextlib.suppress(OSError):  # no directory yet, or read-only: no lock
                    locked.enter_context(self.logset.lock(create_dir=False, changes=False))
                for path in self.logset.files():
                    try:
                        stream, compressed = open_log_file(path, self.stats, salvage=True)
                    except FileNotFoundError:
                        continue
                    opened.append((path, stream, compressed))
                for path in self.logset.foreign()[1]:  # never silently left out
                    reason = f"compressed as {path.suffix} by an external rotator: not read"
                    lost = FileDamage(str(path), compressed=reason)
                    with contextlib.suppress(OSError):
                        lost.compressed_bytes_unreadable = path.stat().st_size
                    self.stats.report(lost)
            yield opened
        finally:
            for _, stream, _ in opened:
                stream.close()

    def about_user(self, flt: RecordFilter) -> RecordFilter:
        """``flt`` that also finds the audit events about its user, when it asks for ``purge``
        or ``export`` events: their scope holds the user's token, computed with this log's key
        (none made if the log has no key yet: then no event can name the user)."""
        if flt.user_id is None or flt.event not in AUDIT_EVENTS or flt.audit_pseudonym:
            return flt
        try:
            key = anonymization_key(self.path, create=False)
        except FileNotFoundError:
            return flt
        token = pseudonymize_user_id(flt.user_id, key=key)
        return dataclasses.replace(flt, audit_pseudonym=token)

    def iter_records(self, flt: RecordFilter) -> Iterator[dict[str, Any]]:
        """Matching records, oldest first, streamed; damage skipped, reported once per file
        (a `DamagedFileWarning`, and in ``stats.damage``)."""
        flt = self.about_user(flt)
        with self._snapshot() as files:
            for path, stream, _ in files:
                yield from iter_file_records(stream, path, flt, self.stats)

    def tail(self, limit: int, flt: RecordFilter) -> list[dict[str, Any]]:
        """The newest ``limit`` matching records in chronological order, read from the end."""
        found: list[dict[str, Any]] = []
        if limit <= 0:
            return found
        flt = self.about_user(flt)
        with self._snapshot() as files:
            for path, stream, compressed in reversed(files):
                wanted = limit - len(found)
                found.extend(tail_file_records(stream, compressed, path, wanted, flt, self.stats))
                if len(found) >= limit:
                    break
        found.reverse()
        return found

    # -- purging ------------------------------------------------------------------------------
    def purge(
        self,
        *,
        user_id: Optional[str] = None,
        before: Optional[datetime] = None,
        anonymize: bool = False,
    ) -> PurgeOutcome:
        """Remove (or anonymize) the selected records in every file; everything if no filter.

        Each changed file is rewritten to a private temporary file — all of them before any
        is renamed over its original, under the log set's lock; a backup left empty is
        deleted, an empty live file is replaced by an empty one. Leftover temporary files are
        removed first.
        """
        if user_id is not None and (not isinstance(user_id, str) or not user_id):
            raise ValueError("user_id must be a non-empty string")
        if before is not None and (not isinstance(before, datetime) or before.tzinfo is None):
            raise TypeError("before must be an aware datetime")
        if anonymize and user_id is None:
            raise ValueError("anonymize=True needs a user_id")
        if not self.logset.directory.is_dir():
            raise FileNotFoundError(errno.ENOENT, "no log to purge here", str(self.path))
        pseudonym = self.pseudonymize(user_id) if user_id is not None else None
        policy = PurgePolicy(
            user_id=user_id, before=before, pseudonym=pseudonym, anonymize=anonymize
        )
        rewritten, deleted, stale, per_file = self.rewrite(policy)
        details: dict[str, Any] = {
            "removed": policy.removed,
            "anonymized": policy.anonymized,
            "scrubbed": policy.scrubbed,
            "damaged_removed": policy.damaged,
            "files_rewritten": rewritten,
            "files_deleted": deleted,
            "per_file": per_file,
            "stale_temp_files_removed": len(stale),
        }
        if policy.tombstoned:
            details["tombstoned"] = policy.tombstoned
        if policy.resealed:
            details["resealed"] = policy.resealed
        return PurgeOutcome(policy.count, details)

    def rewrite(
        self,
        policy: PurgePolicy,
        *,
        dry_run: bool = False,
        on_file: Optional[Callable[[Path], None]] = None,
    ) -> tuple[list[str], list[str], list[Path], dict[str, int]]:
        """Stream every file through `policy` under the log set's lock; (rewritten, deleted,
        stale temporary files removed, records changed per file name). The machinery of `purge`
        and of re-redaction.

        Each changed file is rewritten to a private temporary file — all of them before any
        is renamed over its original (a file that cannot be read, a damaged ``.gz``, fails the
        whole run with nothing changed); a backup left empty is deleted. `dry_run` discards
        every temporary file instead. `on_file(path)` is called before each file is read.
        """
        rewritten: list[str] = []
        deleted: list[str] = []
        with self.logset.lock(changes=not dry_run):  # bumps the generation: writers re-check
            stale = [] if dry_run else self._remove_stale_temp_files()
            unreadable = self.logset.foreign()[1]
            if unreadable:
                names = ", ".join(path.name for path in unreadable)
                raise ValueError(
                    f"refusing to rewrite: {names} (renamed and compressed by an external "
                    "rotator) cannot be rewritten (only plain and .gz files can): decompress "
                    "them, then try again"
                )
            files = self.logset.files()
            for path in files:  # refuse before changing anything
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    raise OSError(
                        errno.EINVAL, "not a regular file (refusing to rewrite)", str(path)
                    )
            temps: list[tuple[Path, PurgeTemp]] = []
            per_file: dict[str, int] = {}
            try:
                for path in files:
                    if on_file is not None:
                        on_file(path)
                    done = policy.count
                    temp = rewrite_file(path, self.logset, policy, self.stats)
                    if policy.count > done:
                        per_file[path.name] = policy.count - done
                    if temp is not None:
                        temps.append((path, temp))
                for path, temp in [] if dry_run else temps:
                    if temp.size == 0 and path != self.path:
                        temp.discard()
                        path.unlink()
                        deleted.append(path.name)
                    else:
                        temp.commit(path)
                        rewritten.append(path.name)
            finally:  # what was not committed is removed (a no-op for committed files)
                for _, temp in temps:
                    temp.discard()
            if rewritten or deleted or stale:
                fsync_directory(self.logset.directory, best_effort=False)
        return rewritten, deleted, stale, per_file

    def cleanup(self) -> list[Path]:
        """Remove temporary files left by an interrupted purge or rewrite; return them."""
        if not self.logset.directory.is_dir():
            return []
        with self.logset.lock(create_dir=False, changes=False):
            return self._remove_stale_temp_files()

    def _remove_stale_temp_files(self) -> list[Path]:
        """Under the lock: delete temporary files no live process holds (``flock`` test)."""
        removed: list[Path] = []
        for path in self.logset.stale_temp_files():
            try:
                fd = open_private(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            except OSError:  # a symlink or a non-file with a temporary name: just unlink it
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # held: a live rewrite or export in another process
            finally:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
        return removed

    # -- auditing -----------------------------------------------------------------------------
    def append_audit(self, fields: dict[str, Any]) -> None:
        """Write one audit event (``fields["event"]`` + fields) into this log.

        Through the ``dihya.generation`` logger when one of its handlers writes this file (so
        the event follows the application's chain, queue and other handlers), else through a
        temporary `GenerationLogHandler`. Never call it while holding the log set's lock.
        """
        event = str(fields.get("event") or "audit")
        extra = safe_extra(fields)
        logger = logging.getLogger(LOGGER_NAME)
        handler = handler_writing(self.path)
        if handler is not None:
            if logger.isEnabledFor(logging.INFO) and handler.level <= logging.INFO:
                logger.info(event, extra=extra)
            else:  # the audit event must not be dropped by a level
                handler.handle(
                    logger.makeRecord(
                        logger.name, logging.INFO, "", 0, event, (), None, extra=extra
                    )
                )
            return
        self._append_with_own_handler(event, extra)

    def check_audit(self) -> None:
        """Refuse up front when this log is sealed with a key this process does not have.

        The audit event of a purge or export must continue the chain; written unsealed it
        would make `verify` report tampering, so the action is refused before it starts.
        """
        state = read_state(self.logset.chain_state_path)
        if state is None or not state.keyed or self.key() is not None:
            return
        if handler_writing(self.path) is not None:
            return  # the attached handler holds the key
        raise ValueError(
            f"{self.location} is sealed with a chain key: give it (--key-file/--key-env, "
            f"${ENV_CHAIN_KEY}, or attach the keyed handler) so the audit record of this action "
            "continues the chain"
        )

    def key(self) -> Optional[bytes]:
        """The chain key this store seals with: its own, else ``$DIHYA_CHAIN_KEY``, else None."""
        if self.chain_key:
            return self.chain_key
        env = os.environ.get(ENV_CHAIN_KEY)
        return env.encode("utf-8") if env else None

    def chain_head(self) -> Optional[dict[str, Any]]:
        """The chain's head as its state file records it (seq, link, keyed), None if unchained."""
        state = read_state(self.logset.chain_state_path)
        if state is None:
            return None
        return {"seq": state.head_seq, "link": state.head_link.hex(), "keyed": state.keyed}

    def _append_with_own_handler(self, event: str, extra: dict[str, Any]) -> None:
        from dihya_logging.formatter._formatter import RedactingJsonFormatter
        from dihya_logging.sink._handler import GenerationLogHandler

        handler: logging.Handler
        if self._is_chained():
            try:
                handler = GenerationLogHandler(self.path, chain=True, chain_key=self.chain_key)
            except ValueError as exc:  # no chain key available here
                warnings.warn(
                    f"audit event written without the chain: {exc}", RuntimeWarning, stacklevel=3
                )
                handler = GenerationLogHandler(self.path)
        else:
            handler = GenerationLogHandler(self.path)
        handler.setFormatter(RedactingJsonFormatter())
        try:
            record = logging.getLogger(LOGGER_NAME).makeRecord(
                LOGGER_NAME, logging.INFO, "", 0, event, (), None, extra=extra
            )
            handler.handle(record)
        finally:
            handler.close()

    def _is_chained(self) -> bool:
        """Whether the log is chained: its chain state file exists (even when every record is
        a tombstone), or the newest record carries the chain."""
        if self.logset.chain_state_path.exists():
            return True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            newest = FileStore(self.path).tail(1, RecordFilter())  # own stats: no damage counted
        return bool(newest) and all(name in newest[0] for name in ("seq", "link"))
