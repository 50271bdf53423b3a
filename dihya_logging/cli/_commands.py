"""The subcommands of `dihya-logs`, one function each, taking parsed arguments, returning a status.

Floor 4 (store, export, verify, console, follow). `cli` parses and reports errors; this module
does the work. The store and verify modules are imported when a command needs them, so
``dihya-logs --help`` stays fast.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Callable, Final, Optional

from dihya_logging._logset import LogSet, open_private
from dihya_logging._schema import EVENT_EXPORT, EVENT_GENERATION, EVENT_PURGE, EVENT_REDACT
from dihya_logging.cli._console import Progress, RecordTable, clean
from dihya_logging.cli._stats import Stats
from dihya_logging.store._backend import (
    LogStore,
    RecordFilter,
    is_database_location,
    read_damage,
)
from dihya_logging.store._formats import dump_record

__all__ = ["COMMANDS", "EVENTS", "EXIT_DAMAGED", "TERMINAL_LIMIT", "CliError", "UsageError"]

EVENTS: Final = (EVENT_GENERATION, EVENT_EXPORT, EVENT_PURGE, EVENT_REDACT)
"""The event kinds ``--event`` accepts (anything else is a usage error)."""
TERMINAL_LIMIT: Final = 100
"""``query`` on a terminal without ``--limit`` shows the newest this many (a pipe gets all)."""

_FLUSH_EVERY: Final = 256
EXIT_DAMAGED: Final = 3
"""Exit status of a read (tail, query, export, stats) that completed but skipped unreadable
data: a damaged line or a damaged ``.gz``; a warning line on stderr names each file."""


class CliError(Exception):
    """A failure to report as one line (exit status 1)."""


class UsageError(CliError):
    """Bad usage or a refusal (exit status 2)."""


def _store(args: argparse.Namespace, progress: Optional[Progress] = None) -> LogStore:
    """Open the log the command works on; a missing log file is an error, not an empty log.

    With ``progress``, a file store reports the bytes it reads, out of the log's size.
    """
    from dihya_logging.store._api import open_store
    from dihya_logging.store._filestore import FileStore

    location: str = args.location
    if is_database_location(location):
        return open_store(location)
    if not LogSet(location).files():
        raise CliError(f"no log at {location} (use --file or set DIHYA_LOG_FILE)")
    key = _read_key(args) if hasattr(args, "key_env") else None
    if progress is None:
        return FileStore(location, chain_key=key)
    store = FileStore(location, progress=progress.update_bytes, chain_key=key)
    progress.total_bytes = store.size()
    return store


def _read_status(store: LogStore) -> int:
    """0, or `EXIT_DAMAGED` when the store's reads skipped unreadable data."""
    return EXIT_DAMAGED if read_damage(store) else 0


def _write_records(records: Iterable[dict[str, Any]]) -> int:
    """Records as JSON lines on stdout, flushed now and then so pipes see them promptly."""
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
    count = 0
    for record in records:
        line = dump_record(record) + b"\n"
        if out is not None:
            out.write(line)
        else:
            sys.stdout.write(line.decode("utf-8"))
        count += 1
        if count % _FLUSH_EVERY == 0:
            sys.stdout.flush()
    if out is not None:
        out.flush()
    return count


class _RecordPrinter:
    """Prints records as JSON lines (``--json``, or stdout not a terminal) or as table rows."""

    def __init__(self, as_json: bool, *, streaming: bool) -> None:
        self.as_json = as_json or not sys.stdout.isatty()
        self.table = RecordTable()
        self.streaming = streaming
        self.header_done = False

    def print(self, records: Iterable[dict[str, Any]]) -> None:
        """Print a batch (a streaming table has fixed widths and one header)."""
        if self.as_json:
            _write_records(records)
            return
        if not self.streaming:
            for line in self.table.lines(records):
                sys.stdout.write(line + "\n")
            return
        widths = list(RecordTable.FIXED)
        for record in records:
            if not self.header_done:
                sys.stdout.write(self.table.join(list(RecordTable.COLUMNS), widths) + "\n")
                self.header_done = True
            sys.stdout.write(self.table.join(RecordTable.row(record), widths) + "\n")
        sys.stdout.flush()


def cmd_tail(args: argparse.Namespace) -> int:
    """Print the newest records; with ``--follow``, keep printing new ones, across rotations.

    ``--user/--status/--event/--since/--until`` filter both; a table on a terminal, JSON lines
    with ``--json`` or when piped.
    """
    flt = _filter(args, status=args.status, event=args.event)
    store = _store(args)
    follower = None
    if args.follow:
        if is_database_location(args.location):
            raise UsageError("--follow needs a log file, not a database")
        from dihya_logging.store._follow import Follower

        follower = Follower(LogSet(args.location).path)  # opened first: no gap before following
    printer = _RecordPrinter(args.json, streaming=follower is not None)
    newest = store.tail(args.lines, flt) if args.lines else []
    printer.print(newest)
    sys.stdout.flush()
    if follower is None:
        return _read_status(store)
    from dihya_logging.store._follow import follow

    seen = {"damaged": 0, "lost": 0}

    def emit(line: bytes) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            sys.stderr.write("dihya-logs: warning: a damaged line of the live file was skipped\n")
        elif not record.get("tombstone") and flt.matches(record):
            printer.print([record])
        assert follower is not None
        if follower.damaged > seen["damaged"]:
            seen["damaged"] = follower.damaged
            sys.stderr.write(
                "dihya-logs: warning: a rotated file ended with a cut line (skipped)\n"
            )
        if follower.lost > seen["lost"]:
            seen["lost"] = follower.lost
            sys.stderr.write(
                "dihya-logs: warning: rotated files were removed before they could be read "
                "(some records were not printed)\n"
            )

    first = follower.poll()  # what was appended while the newest records were read
    for line in first[_already_printed(newest, first, flt) :]:
        emit(line)
    follow(follower.path, emit, interval=args.interval, follower=follower)
    return 0  # pragma: no cover - follow only ends by a signal


def _already_printed(newest: list[dict[str, Any]], lines: list[bytes], flt: RecordFilter) -> int:
    """How many of the follower's first ``lines`` the initial tail already printed.

    The follower opens first (so nothing falls in a gap), then the tail is read: records
    appended in between are in both, as the tail's last matches and the lines' first ones.
    """
    matched: list[tuple[int, dict[str, Any]]] = []  # (lines consumed, record) per match
    for index, line in enumerate(lines if newest else ()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and not record.get("tombstone") and flt.matches(record):
            matched.append((index + 1, record))
            if len(matched) >= len(newest):
                break
    for overlap in range(min(len(matched), len(newest)), 0, -1):
        if [record for _, record in matched[:overlap]] == newest[-overlap:]:
            return matched[overlap - 1][0]
    return 0


def _filter(args: argparse.Namespace, **extra: Any) -> RecordFilter:
    """The record filter of ``--user/--since/--until`` (plus ``extra`` criteria); a
    contradiction (since after until) is a usage error."""
    try:
        return RecordFilter.build(user_id=args.user, since=args.since, until=args.until, **extra)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_query(args: argparse.Namespace) -> int:
    """Print the matching records as an aligned table, or JSON lines with ``--json``.

    On a terminal without ``--limit``, only the newest `TERMINAL_LIMIT` (said on stderr).
    """
    flt = _filter(args, status=args.status, event=args.event)
    store = _store(args)
    limit = args.limit
    if limit is None and sys.stdout.isatty():
        limit = TERMINAL_LIMIT
    found = store.tail(limit, flt) if limit else store.iter_records(flt)
    iterator = iter(found)
    first = next(iterator, None)
    if first is None:
        sys.stderr.write("dihya-logs: no matching records\n")
        return _read_status(store)
    if args.limit is None and limit and isinstance(found, list) and len(found) == limit:
        sys.stderr.write(
            f"dihya-logs: showing the newest {limit} records (--limit N for more, 0 for all)\n"
        )
    records = itertools.chain([first], iterator)
    if args.json:
        _write_records(records)
    else:
        write = sys.stdout.write
        for line in RecordTable().lines(records):
            write(line + "\n")
    return _read_status(store)


def cmd_export(args: argparse.Namespace) -> int:
    """Export the selected records to a file (or an installed exporter), with progress."""
    from dihya_logging.store._export import export_store

    flt = _filter(args)
    receipt: dict[str, Any] = {}  # what an exporter reports: a root CID, an object key
    try:
        with Progress("exporting", sys.stderr) as progress:
            store = _store(args, progress if progress.enabled else None)
            count = export_store(
                store,
                args.destination,
                flt=flt,
                format=args.format,
                overwrite=args.overwrite,
                actor=args.actor,
                progress=progress.update if progress.enabled else None,
                receipt=receipt,
            )
    except FileExistsError:
        raise CliError(f"{args.destination} exists (use --overwrite to replace it)") from None
    status = _read_status(store)
    incomplete = " (incomplete: unreadable data skipped, see the warnings)" if status else ""
    summary = sys.stderr if args.destination == "-" else sys.stdout  # stdout carries the data
    where = "standard output" if args.destination == "-" else args.destination
    summary.write(f"exported {count} records to {where}{incomplete}\n")
    for name, value in receipt.items():
        summary.write(f"{name}: {value}\n")
    return status


def _confirm(question: str) -> bool:
    """Ask on the terminal; True only for a typed ``yes``."""
    sys.stderr.write(f"{question}\nType 'yes' to continue: ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip() == "yes"


def cmd_purge(args: argparse.Namespace) -> int:
    """Erase (or anonymize) records, after ``--yes`` or a typed confirmation on a terminal.

    The scope is explicit (``--user``, ``--before`` or ``--all``); ``--dry-run`` prints how
    many records would go and changes nothing; the question on a terminal states that count.
    """
    from dihya_logging.store._api import count_purge, purge_store
    from dihya_logging.store._receipt import (
        build_receipt,
        check_receipt_destination,
        write_receipt,
    )

    if args.anonymize and args.user is None:
        raise UsageError("--anonymize needs --user")
    if args.receipt is not None and not args.dry_run:
        try:
            check_receipt_destination(args.receipt)
        except OSError as exc:
            raise UsageError(f"--receipt {args.receipt}: {exc.strerror}") from None
    before = args.before
    _store(args)  # a missing log is an error before any question, a bad DSN too
    verb = "anonymize" if args.anonymize else "permanently remove"
    if args.user is not None:
        scope = f"of user {args.user!r}"
    elif before is not None:
        scope = f"dated before {before.isoformat().replace('+00:00', 'Z')}"
    else:
        scope = "(EVERY record of the log)"
    if args.dry_run or not args.yes:
        if not (args.dry_run or (sys.stdin.isatty() and sys.stderr.isatty())):
            raise UsageError("refusing to purge without --yes (no terminal to ask on)")
        with Progress("counting", sys.stderr) as progress:
            counted = _store(args, progress if progress.enabled else None)
            count = count_purge(counted, user_id=args.user, before=before)
        if args.dry_run:
            would = "anonymize" if args.anonymize else "remove"
            sys.stdout.write(f"would {would} {count} records {scope} (dry run: nothing changed)\n")
            return 0
        question = (
            f"This will {verb} {count:,} records {scope} in {args.location} "
            "(every file, rotated and compressed ones included)."
        )
        if not _confirm(question):
            raise CliError("purge cancelled")
    with Progress("purging", sys.stderr) as progress:
        store = _store(args, progress if progress.enabled else None)
        outcome = purge_store(
            store,
            user_id=args.user,
            before=before,
            all=args.all,
            anonymize=args.anonymize,
            actor=args.actor,
        )
    done = "anonymized" if args.anonymize else "removed"
    sys.stdout.write(f"{done} {outcome.count} records\n")
    if args.receipt is not None:
        written = write_receipt(args.receipt, build_receipt(store, outcome))
        sys.stdout.write(f"receipt written to {written}\n")
    return 0


def _read_key(args: argparse.Namespace) -> bytes | None:
    """The chain key from ``--key-env`` or ``--key-file`` (None: ``$DIHYA_CHAIN_KEY``)."""
    if args.key_env:
        value = os.environ.get(args.key_env)
        if not value:
            raise UsageError(f"the environment variable {args.key_env} is not set")
        return value.encode("utf-8")
    if args.key_file:
        data = Path(args.key_file).read_bytes().rstrip(b"\r\n")
        if not data:
            raise UsageError(f"the key file {args.key_file} is empty")
        return data
    return None


def cmd_verify(args: argparse.Namespace) -> int:
    """Check the chain: exit 0 intact, 1 tampered, 2 cannot check; the report on stdout."""
    from dihya_logging.chain._verify import verify_generation_logs

    key = _read_key(args)
    report = verify_generation_logs(args.location, key=key, anchor=args.anchor)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return report.exit_code
    sys.stdout.write(clean(report.summary()) + "\n")
    for problem in report.problems:
        sys.stdout.write(f"  problem: {clean(problem)}\n")
    if report.problem_count > len(report.problems):
        sys.stdout.write(f"  … {report.problem_count - len(report.problems)} more problem(s)\n")
    for note in report.notes:
        sys.stdout.write(f"  note: {clean(note)}\n")
    return report.exit_code


def _stats(store: LogStore, flt: RecordFilter, *, by: Optional[str], top: int) -> Stats:
    """The store's figures: a database computes them (only aggregates travel), a file log's
    records are counted here."""
    compute = getattr(store, "compute_stats", None)
    if compute is not None:
        return compute(flt, by=by, top=top)  # type: ignore[no-any-return]
    return Stats.from_records(store.iter_records(flt), by=by, top=top)


def _keeping(
    records: Iterable[dict[str, Any]], kinds: tuple[str, ...], into: deque[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """``records``, passed through, the ones of event ``kinds`` also appended to ``into``."""
    for record in records:
        if record.get("event") in kinds:
            into.append(record)
        yield record


def cmd_stats(args: argparse.Namespace) -> int:
    """Generations by status, stack, template, user and period; error rates; durations (on a
    database, computed there: only the aggregates travel)."""
    flt = _filter(args)
    store = _store(args)
    stats = _stats(store, flt, by=args.by, top=0 if args.json else args.top)
    if args.json:
        sys.stdout.write(json.dumps(stats.as_dict(), ensure_ascii=False, indent=2) + "\n")
    elif args.csv:
        import csv

        csv.writer(sys.stdout, lineterminator="\n").writerows(stats.rows())
    else:
        for line in stats.lines():
            sys.stdout.write(line + "\n")
    return _read_status(store)


def cmd_report(args: argparse.Namespace) -> int:
    """Write a self-contained HTML audit report: figures, timeline, rates, audits, chain."""
    from datetime import datetime, timezone

    from dihya_logging.cli._report import render_report
    from dihya_logging.store._backend import AUDIT_EVENTS
    from dihya_logging.store._export import refuse_special_destination

    target = Path(os.path.abspath(args.html))
    refuse_special_destination(target)
    if target.exists() and not args.overwrite:
        raise CliError(f"{args.html} exists (use --overwrite to replace it)")
    flt = _filter(args)
    audits: deque[dict[str, Any]] = deque(maxlen=args.audits)
    with Progress("reading", sys.stderr) as progress:
        store = _store(args, progress if progress.enabled else None)
        latest = getattr(store, "latest_events", None)
        if latest is not None:  # a database: figures and audits in SQL
            stats = _stats(store, flt, by=args.by, top=0)
            audits.extend(latest(args.audits, flt, AUDIT_EVENTS))
        else:
            records = _keeping(store.iter_records(flt), AUDIT_EVENTS, audits)
            stats = Stats.from_records(records, by=args.by, top=0)
    chain = None
    if not is_database_location(args.location):
        from dihya_logging.chain._verify import verify_generation_logs

        report = verify_generation_logs(args.location, key=_read_key(args))
        unchained = report.records == 0 and getattr(store, "chain_head", lambda: None)() is None
        if not unchained:
            chain = (report.ok, report.summary())
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    page = render_report(stats, audits, location=store.location, generated_at=stamp, chain=chain)
    fd = open_private(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(page)
    sys.stdout.write(f"report written to {args.html}\n")
    return _read_status(store)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Copy a file log set into a PostgreSQL table; running it again adds only new records."""
    from dihya_logging.postgres._importer import import_log_set, partition_in_place

    if args.partition:
        if not is_database_location(args.to):
            raise UsageError(f"--to must be a postgresql:// DSN, got {args.to!r}")
        moved = partition_in_place(args.to, args.table)
        sys.stdout.write(
            (f"partitioned by month: {moved} records moved" if moved else "already partitioned")
            + "; partitions ready for this month and next\n"
        )
        return 0
    if is_database_location(args.location):
        raise UsageError("--file must name a log file to migrate from, not a database")
    if not is_database_location(args.to):
        raise UsageError(f"--to must be a postgresql:// DSN, got {args.to!r}")
    with Progress("migrating", sys.stderr) as progress:
        outcome = import_log_set(args.location, args.to, args.table, progress=progress.update)
    sys.stdout.write(
        f"migrated {outcome.read} records from {outcome.files} file(s): "
        f"{outcome.inserted} inserted, {outcome.duplicates} already present, "
        f"{outcome.damaged} damaged line(s) skipped\n"
    )
    return 0


def cmd_redact(args: argparse.Namespace) -> int:
    """Rewrite every file of the log with the current redaction rules (``--dry-run``: count)."""
    from dihya_logging.store._filestore import FileStore
    from dihya_logging.store._redact import redact_store

    if is_database_location(args.location):
        raise UsageError("redact works on a log file set, not on a database")
    with Progress("redacting", sys.stderr) as progress:
        store = _store(args, progress if progress.enabled else None)
        assert isinstance(store, FileStore)
        count = redact_store(store, dry_run=args.dry_run, actor=args.actor)
    verb = "would mask" if args.dry_run else "masked"
    sys.stdout.write(f"{verb} {count} values\n")
    return 0


COMMANDS: Final[dict[str, Callable[[argparse.Namespace], int]]] = {
    "tail": cmd_tail,
    "query": cmd_query,
    "export": cmd_export,
    "purge": cmd_purge,
    "verify": cmd_verify,
    "stats": cmd_stats,
    "report": cmd_report,
    "migrate": cmd_migrate,
    "redact": cmd_redact,
}
