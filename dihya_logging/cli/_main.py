"""`dihya-logs`: read, query, export, purge, verify and summarise a generation log from a shell.

Floor 4. Standard library only (argparse). Exit status 0 on success, 1 on failure (``verify``: 1
tampered), 2 on bad usage, a refused purge, or a log ``verify`` cannot check; 3 when a read
(``tail``, ``query``, ``export``, ``stats``) completed but skipped unreadable data (one warning
line per damaged file names it); 130 on Ctrl-C.
Every failure is ONE line on stderr, ``dihya-logs: error: …``, never a traceback; a closed pipe
(``| head``) ends the command quietly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Final, NoReturn, Optional

from dihya_logging._schema import STATUSES, parse_datetime
from dihya_logging._version import __version__
from dihya_logging.cli._commands import COMMANDS, EVENTS, TERMINAL_LIMIT, CliError, UsageError
from dihya_logging.store._backend import is_database_location

__all__ = ["build_parser", "main"]

PROG = "dihya-logs"
_EPILOG = """\
examples:
  dihya-logs query --user user_123 --since 2026-01-01
  dihya-logs tail -n 20 --follow --file /var/log/dihya/generation.log
  dihya-logs export audit-2026.csv.gz --since 2026-01-01 --actor dpo@example.org
  dihya-logs purge --user user_123 --yes                 # erasure (GDPR art. 17)
  dihya-logs purge --user user_123 --anonymize --yes     # keep statistics, drop identity
  dihya-logs purge --before 2025-06-01 --yes             # retention
  dihya-logs verify --key-env DIHYA_CHAIN_KEY
  dihya-logs migrate --file logs/generation.log --to postgresql://audit@db/audit

shell completion: pip install 'dihya-logging[completion]', then
  eval "$(register-python-argcomplete dihya-logs)"

exit status: 0 success; 1 failure (verify: tampered); 2 bad usage, a refused purge, or
verify cannot check; 3 done, but unreadable data was skipped (a warning names each damaged
file); 130 interrupted. Errors are one line on stderr."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``prog: error: … (see --help)``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    common = _Parser(add_help=False)
    common.add_argument(
        "--file",
        metavar="PATH",
        help="the log (default: $DIHYA_LOG_FILE, else logs/generation.log); "
        "a postgresql:// DSN selects the database store",
    )
    filters = _Parser(add_help=False)
    filters.add_argument("--user", metavar="U", help="only this user's records")
    filters.add_argument(
        "--since",
        type=_date,
        metavar="DATE",
        help="from this date/time (ISO 8601, UTC) or age (30d)",
    )
    filters.add_argument(
        "--until", type=_date, metavar="DATE", help="before this date/time or age (exclusive)"
    )
    keys = _Parser(add_help=False)
    key = keys.add_mutually_exclusive_group()
    key.add_argument(
        "--key-env",
        metavar="VAR",
        help="read the chain key from this variable (default: $DIHYA_CHAIN_KEY)",
    )
    key.add_argument("--key-file", metavar="F", help="read the chain key from this file")
    actor = _Parser(add_help=False)
    actor.add_argument(
        "--actor",
        help="who is acting, for the audit record (default: the OS user name)",
    )

    parser = _Parser(
        prog=PROG,
        description="Read, export, purge and verify dihya generation logs.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    tail = sub.add_parser(
        "tail", parents=[common, filters], help="print the newest records, and follow new ones"
    )
    tail.add_argument("-n", "--lines", type=_count, default=10, metavar="N", help="default 10")
    tail.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new records (across rotations)"
    )
    tail.add_argument("--status", choices=STATUSES, help="generation status")
    tail.add_argument("--event", choices=EVENTS, help="event kind")
    tail.add_argument("--json", action="store_true", help="JSON lines even on a terminal")
    tail.add_argument("--interval", type=_seconds, default=0.5, help=argparse.SUPPRESS)

    query = sub.add_parser(
        "query", parents=[common, filters], help="select records: a table, or JSON lines"
    )
    query.add_argument("--status", choices=STATUSES, help="generation status")
    query.add_argument("--event", choices=EVENTS, help="event kind")
    query.add_argument(
        "--limit",
        type=_count,
        metavar="N",
        help=f"only the newest N matches (0: all; on a terminal the default is {TERMINAL_LIMIT})",
    )
    query.add_argument("--json", action="store_true", help="JSON lines instead of a table")

    export = sub.add_parser(
        "export", parents=[common, filters, actor, keys], help="write records to a file or exporter"
    )
    export.add_argument(
        "destination",
        metavar="DEST",
        help="x.jsonl, x.json, x.csv (+.gz), - for standard output, or scheme://… for an "
        "installed exporter; never a symlink, FIFO or device",
    )
    export.add_argument("--format", metavar="F", help="jsonl, json or csv (+.gz): overrides DEST")
    export.add_argument("--overwrite", action="store_true", help="replace an existing DEST")

    purge = sub.add_parser(
        "purge", parents=[common, actor, keys], help="erase records (all, one user's, or old ones)"
    )
    which = purge.add_mutually_exclusive_group(required=True)
    which.add_argument("--user", metavar="U", help="erase (or anonymize) this user's records")
    which.add_argument(
        "--before", type=_date, metavar="DATE", help="erase records older than DATE (or age: 365d)"
    )
    which.add_argument("--all", action="store_true", help="erase every record (explicitly)")
    purge.add_argument("--anonymize", action="store_true", help="keep records, replace the user")
    purge.add_argument(
        "--dry-run", action="store_true", help="only say how many records would go; change nothing"
    )
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.add_argument(
        "--receipt",
        metavar="FILE",
        help="write a JSON erasure receipt to this new file (HMAC-signed when the chain is keyed)",
    )

    verify = sub.add_parser(
        "verify", parents=[common, keys], help="check the tamper-evidence chain"
    )
    verify.add_argument(
        "--anchor", metavar="F", help="anchor file of chain heads (default $DIHYA_CHAIN_ANCHOR)"
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")

    stats = sub.add_parser(
        "stats",
        parents=[common, filters],
        help="generations by status, stack, template, user and period; error rates; durations",
    )
    stats.add_argument(
        "--by", choices=("day", "week", "month"), help="period (default: by the log's span)"
    )
    stats.add_argument(
        "--top", type=_count, default=20, metavar="N", help="rows per ranking (default 20; 0: all)"
    )
    shape = stats.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print everything as JSON")
    shape.add_argument("--csv", action="store_true", help="print the tables as CSV")

    report = sub.add_parser(
        "report", parents=[common, filters, keys], help="write a self-contained HTML audit report"
    )
    report.add_argument("--html", required=True, metavar="FILE", help="the report to write")
    report.add_argument("--by", choices=("day", "week", "month"), help="period of the timeline")
    report.add_argument(
        "--audits", type=_count, default=20, metavar="N", help="latest purges/exports (20)"
    )
    report.add_argument("--overwrite", action="store_true", help="replace an existing FILE")

    redact = sub.add_parser(
        "redact", parents=[common, actor], help="re-redact every file with the current rules"
    )
    redact.add_argument("--dry-run", action="store_true", help="only count what would be masked")

    migrate = sub.add_parser(
        "migrate", parents=[common], help="copy a file log set into PostgreSQL (idempotent)"
    )
    migrate.add_argument("--to", required=True, metavar="DSN", help="postgresql://… target")
    migrate.add_argument("--table", metavar="T", help="table name (default dihya_generation_log)")
    migrate.add_argument(
        "--partition",
        action="store_true",
        help="instead: turn the --to table into the monthly-partitioned one, in place",
    )
    for name, command in sub.choices.items():  # per-command help ends with examples
        if name in _EXAMPLES:
            command.epilog = "examples:\n" + _EXAMPLES[name]
            command.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


_EXAMPLES: Final = {
    "tail": """\
  dihya-logs tail -n 20                                # the newest 20 (a table on a terminal)
  dihya-logs tail -f --status error                    # follow the errors, across rotations
  dihya-logs tail -f --user user_123 --json | jq .     # JSON lines (also whenever piped)""",
    "query": """\
  dihya-logs query --user user_123 --since 30d         # an age: 30d, 12h, 2w, 90m
  dihya-logs query --status error --since 2026-01-01 --until 20260201
  dihya-logs query --user user_123 --event purge       # the purges about this user (by token)
  dihya-logs query --limit 0 --json > all.jsonl        # everything (a terminal shows 100)""",
    "export": """\
  dihya-logs export audit-2026.csv.gz --since 2026-01-01 --actor dpo@example.org
  dihya-logs export - --user user_123 | jq .           # standard output (JSON lines)
  dihya-logs export user_123.json --user user_123 --key-file /etc/dihya/chain.key""",
    "purge": """\
  dihya-logs purge --user user_123 --dry-run           # how many records would go
  dihya-logs purge --user user_123 --yes --receipt erasure.json    # GDPR art. 17 + proof
  dihya-logs purge --user user_123 --anonymize --yes   # keep statistics, drop identity
  dihya-logs purge --before 365d --yes                 # retention (a daily timer)
  dihya-logs purge --all --yes                         # everything, explicitly""",
    "verify": """\
  dihya-logs verify --key-file /etc/dihya/chain.key
  dihya-logs verify --key-env DIHYA_CHAIN_KEY --json""",
    "stats": """\
  dihya-logs stats --since 90d --by week               # error rates per stack and template
  dihya-logs stats --top 5 --csv > stats.csv
  dihya-logs stats --json | jq .stacks""",
    "report": """\
  dihya-logs report --html audit-2026.html --since 2026-01-01 --by month
  dihya-logs report --html audit.html --key-file /etc/dihya/chain.key --overwrite""",
    "migrate": """\
  dihya-logs migrate --file logs/generation.log --to postgresql://audit@db/audit""",
}
"""Examples printed at the end of each command's ``--help``."""


def _complete(parser: argparse.ArgumentParser) -> None:
    """Shell completion through argcomplete (the ``completion`` extra), when the shell asks."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)


def _count(text: str) -> int:
    """A non-negative integer argument."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _date(text: str) -> datetime:
    """A date argument: ISO 8601 or an age (``30d``, ``12h``, ``2w``), as aware UTC."""
    try:
        return parse_datetime(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    """A positive duration in seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"out of range: {text}")
    return value


def _location(args: argparse.Namespace) -> str:
    """The log the command works on: ``--file``, else resolved as the API does."""
    from dihya_logging._logset import ENV_LOG_FILE, resolve_log_path

    chosen = args.file or os.environ.get(ENV_LOG_FILE) or None
    if is_database_location(chosen):
        return str(chosen)
    return str(resolve_log_path(chosen))


def _one_line(exc: BaseException) -> str:
    """A readable one-line reason for an exception."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror + (f": {exc.filename}" if exc.filename else "")
    else:
        text = str(exc) or type(exc).__name__
        if not isinstance(exc, (CliError, ValueError, TypeError, LookupError, RuntimeError)):
            text = f"{type(exc).__name__}: {text}"
    return " ".join(text.split())


def _warn_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Optional[IO[str]] = None,
    line: Optional[str] = None,
) -> None:
    """Show a warning (e.g. a damaged line skipped) as one line on stderr."""
    sys.stderr.write(f"{PROG}: warning: {' '.join(str(message).split())}\n")


def _quiet_stdout() -> None:
    """After a broken pipe, send what is left of stdout to /dev/null (no flush error at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _tolerant_stdout() -> None:
    """On a non-UTF-8 stdout (``PYTHONIOENCODING=ascii``), escape what it cannot encode
    (``\\u2d63``) instead of failing the command on the first non-ASCII project name."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if encoding != "utf8" and callable(reconfigure):
        with contextlib.suppress(ValueError, OSError):  # a detached or closed stream: leave it
            reconfigure(errors="backslashreplace")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit status (the console script exits with it)."""
    try:
        parser = build_parser()
        _complete(parser)
        args = parser.parse_args(argv)
        args.location = _location(args)
        warnings.showwarning = _warn_line
        _tolerant_stdout()
        status = COMMANDS[args.command](args)
        sys.stdout.flush()
        return status
    except UsageError as exc:
        sys.stderr.write(f"{PROG}: error: {_one_line(exc)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 128 + signal.SIGINT
    except BrokenPipeError:
        _quiet_stdout()
        return 128 + signal.SIGPIPE
    except Exception as exc:
        sys.stderr.write(f"{PROG}: error: {_one_line(exc)}\n")
        return 1
