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
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable, Final, Optional

from dihya_logging._logset import LogSet
from dihya_logging._schema import parse_datetime
from dihya_logging.cli._console import Progress, RecordTable, Stats, clean
from dihya_logging.store._backend import LogStore, RecordFilter, is_database_location
from dihya_logging.store._formats import dump_record

__all__ = ["COMMANDS", "CliError", "UsageError"]

_FLUSH_EVERY: Final = 256


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
    if progress is None:
        return FileStore(location)
    store = FileStore(location, progress=progress.update_bytes)
    progress.total_bytes = store.size()
    return store


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


def cmd_tail(args: argparse.Namespace) -> int:
    """Print the newest records; with ``--follow``, keep printing new ones."""
    store = _store(args)
    follower = None
    if args.follow:
        if is_database_location(args.location):
            raise UsageError("--follow needs a log file, not a database")
        from dihya_logging.store._follow import Follower

        follower = Follower(LogSet(args.location).path)  # opened first: no gap before following
    _write_records(store.tail(args.lines, RecordFilter()) if args.lines else [])
    sys.stdout.flush()
    if follower is None:
        return 0
    from dihya_logging.store._follow import follow

    def emit(line: bytes) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            sys.stderr.write("dihya-logs: warning: a damaged line of the live file was skipped\n")
        elif not record.get("tombstone"):
            _write_records([record])

    follow(follower.path, emit, interval=args.interval, follower=follower)
    return 0  # pragma: no cover - follow only ends by a signal


def _filter(args: argparse.Namespace, **extra: Any) -> RecordFilter:
    """The record filter of ``--user/--since/--until`` (plus ``extra`` criteria)."""
    return RecordFilter.build(user_id=args.user, since=args.since, until=args.until, **extra)


def cmd_query(args: argparse.Namespace) -> int:
    """Print the matching records as an aligned table, or JSON lines with ``--json``."""
    flt = _filter(args, status=args.status, event=args.event)
    store = _store(args)
    found = store.tail(args.limit, flt) if args.limit is not None else store.iter_records(flt)
    iterator = iter(found)
    first = next(iterator, None)
    if first is None:
        sys.stderr.write("dihya-logs: no matching records\n")
        return 0
    records = itertools.chain([first], iterator)
    if args.json:
        _write_records(records)
    else:
        write = sys.stdout.write
        for line in RecordTable().lines(records):
            write(line + "\n")
    return 0


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
    sys.stdout.write(f"exported {count} records to {args.destination}\n")
    for name, value in receipt.items():
        sys.stdout.write(f"{name}: {value}\n")
    return 0


def _confirm(question: str) -> bool:
    """Ask on the terminal; True only for a typed ``yes``."""
    sys.stderr.write(f"{question}\nType 'yes' to continue: ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip() == "yes"


def cmd_purge(args: argparse.Namespace) -> int:
    """Erase (or anonymize) records, after ``--yes`` or a typed confirmation on a terminal."""
    from dihya_logging.store._api import purge_store

    if args.anonymize and args.user is None:
        raise UsageError("--anonymize needs --user")
    before = parse_datetime(args.before) if args.before is not None else None
    _store(args)  # a missing log is an error before any question, a bad DSN too
    if args.user is not None:
        verb = "anonymize" if args.anonymize else "permanently remove"
        scope = f"{verb} every record of user {args.user!r}"
    elif before is not None:
        stamp = before.isoformat().replace("+00:00", "Z")
        scope = f"permanently remove every record dated before {stamp}"
    else:
        scope = "permanently remove EVERY record"
    if not args.yes:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise UsageError("refusing to purge without --yes (no terminal to ask on)")
        question = (
            f"This will {scope} in {args.location} "
            "(every file, rotated and compressed ones included)."
        )
        if not _confirm(question):
            raise CliError("purge cancelled")
    with Progress("purging", sys.stderr) as progress:
        store = _store(args, progress if progress.enabled else None)
        count = purge_store(
            store, user_id=args.user, before=before, anonymize=args.anonymize, actor=args.actor
        ).count
    done = "anonymized" if args.anonymize else "removed"
    sys.stdout.write(f"{done} {count} records\n")
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

    if is_database_location(args.location):
        raise UsageError("verify works on log files (the database store has its own checks)")
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


def cmd_stats(args: argparse.Namespace) -> int:
    """Counts of generations by status, stack, template, user and day."""
    flt = _filter(args)
    stats = Stats()
    for record in _store(args).iter_records(flt):
        stats.add(record)
    if args.json:
        sys.stdout.write(json.dumps(stats.as_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        for line in stats.lines():
            sys.stdout.write(line + "\n")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Copy a file log set into a PostgreSQL table; running it again adds only new records."""
    from dihya_logging.postgres._importer import import_log_set

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


COMMANDS: Final[dict[str, Callable[[argparse.Namespace], int]]] = {
    "tail": cmd_tail,
    "query": cmd_query,
    "export": cmd_export,
    "purge": cmd_purge,
    "verify": cmd_verify,
    "stats": cmd_stats,
    "migrate": cmd_migrate,
}
