"""`export_generation_logs`: hand selected records to an auditor as a file, or to a plug-in.

Floor 4 (store, formats, exporters). A file export is all or nothing: it is written to a
private (``0o600``) temporary file beside the destination, then renamed over it, so nobody ever
sees a half-written export and a failure leaves nothing behind — the temporary file is
removed, or, after a ``kill -9``, found and removed by the next export into that directory (a
temporary file is stale when no process holds its ``flock``). Every export is audited with an
``export`` event naming who, how many, which filters (user id pseudonymised), the format and
the destination's base name — never the data — and, when files of the log had unreadable
parts, which ones and how much (``damaged``). The event is written once the temporary file
is complete and before it is renamed, so no crash can leave an export that is not audited.
Audit events are exported like any record: when no user filter is given an export carries the
audit trail too. A ``scheme://`` destination is handed to an installed exporter (`exporters`);
its export is audited whether it succeeds or fails (data may have left either way).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import os
import stat
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Final, Optional, cast
from urllib.parse import unquote, urlsplit

from dihya_logging._logset import TEMP_MARK, LogSet, PathLike, fsync_directory, open_private
from dihya_logging._schema import EVENT_EXPORT, DateLike
from dihya_logging.exporters._registry import (
    ExportContext,
    audited_destination,
    load_exporter,
    uri_scheme,
)
from dihya_logging.store._api import audit_actor, open_store, pseudonym_for
from dihya_logging.store._backend import (
    LogStore,
    RecordFilter,
    is_database_location,
    read_damage,
)
from dihya_logging.store._formats import WRITERS, detect_format, write_csv
from dihya_logging.store._pseudonym import replace_user_id

__all__ = [
    "EXPORT_TEMP",
    "export_generation_logs",
    "export_store",
    "refuse_special_destination",
    "remove_stale_exports",
]

EXPORT_TEMP: Final = f"{TEMP_MARK}dihya-export-"
"""Infix of an export's temporary files: ``.<destination name>.tmp-dihya-export-<random>`` (the
log set's temporary-file mark, and a purpose tag that no other program's files carry)."""
STDOUT: Final = "-"
"""The destination that means standard output."""

Progress = Callable[[int], None]
_PROGRESS_EVERY: Final = 4096
_SEED_RECORDS: Final = 256


def export_generation_logs(
    destination_path: PathLike,
    *,
    format: str | None = None,
    user_id: str | None = None,
    since: DateLike | None = None,
    until: DateLike | None = None,
    overwrite: bool = False,
    actor: str | None = None,
    path: PathLike | None = None,
) -> int:
    """Write the selected records to ``destination_path``; return the count; audit it.

    The format comes from the suffix (``.jsonl``, ``.json``, ``.csv``, each optionally
    ``.gz``) or ``format``; ``"-"`` is standard output (JSON lines unless ``format``); a
    ``scheme://`` destination goes to the installed exporter for that scheme (``file://`` is
    a local file). A destination that is a symlink, a FIFO or a device is refused (ValueError),
    with or without ``overwrite``. Unknown suffix or scheme → ValueError; an existing
    destination → FileExistsError unless ``overwrite``.
    """
    flt = RecordFilter.build(user_id=user_id, since=since, until=until)
    store = open_store(path)
    return export_store(
        store, destination_path, flt=flt, format=format, overwrite=overwrite, actor=actor
    )


def export_store(
    store: LogStore,
    destination: PathLike,
    *,
    flt: RecordFilter,
    format: str | None = None,
    overwrite: bool = False,
    actor: str | None = None,
    progress: Optional[Progress] = None,
    receipt: Optional[dict[str, Any]] = None,
) -> int:
    """`export_generation_logs` on an open store, with an optional progress callback.

    ``progress(count)`` is called every few thousand records (the CLI shows it on a terminal);
    ``receipt`` receives what an exporter reports (a root CID, an object key).
    """
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}")
    if actor is not None and not isinstance(actor, str):
        raise TypeError(f"actor must be a string, got {type(actor).__name__}")
    if isinstance(destination, str) and not destination:
        raise ValueError("the export destination is empty")
    store.check_audit()
    scheme = uri_scheme(destination)
    if scheme is not None and scheme != "file":
        return _export_to_plugin(
            store, str(destination), scheme, flt, format, overwrite, actor, progress, receipt
        )
    if isinstance(destination, str) and destination == STDOUT:
        return _export_to_stdout(store, flt, format, actor, progress)
    if scheme == "file":
        destination = unquote(urlsplit(str(destination)).path)
    target = Path(os.path.abspath(os.fspath(destination)))
    base, gz = detect_format(target.name, format)
    _check_destination(store, target, overwrite)
    records: Iterable[dict[str, Any]] = store.iter_records(flt)
    if progress is not None:
        records = _reporting(records, progress)
    label = base + (".gz" if gz else "")

    def audit(count: int) -> None:
        _audit(store, actor, count, flt, label, target.name, None)

    return _write_file(target, base, gz, records, overwrite, audit, _newest(store, flt))


def _export_to_stdout(
    store: LogStore,
    flt: RecordFilter,
    format: str | None,
    actor: str | None,
    progress: Optional[Progress],
) -> int:
    """Stream the records to standard output (``jsonl`` unless ``format`` says otherwise).

    Data leaves as it is written, so the export is audited after success and failure alike.
    """
    base, gz = detect_format("stdout.jsonl", format)
    newest = _newest(store, flt)
    records: Iterable[dict[str, Any]] = store.iter_records(flt)
    if progress is not None:
        records = _reporting(records, progress)
    counted = [0]

    def tally() -> Iterator[dict[str, Any]]:
        for record in records:
            yield record
            counted[0] += 1

    label = base + (".gz" if gz else "")
    out = sys.stdout.buffer
    sys.stdout.flush()
    try:
        if gz:
            with gzip.GzipFile(filename="", mode="wb", fileobj=out) as zipped:
                _write_stream(None, base, tally(), cast(IO[bytes], zipped), newest)
        else:
            _write_stream(None, base, tally(), out, newest)
        out.flush()
    except BaseException as exc:
        _audit(store, actor, counted[0], flt, label, STDOUT, None, error=type(exc).__name__)
        raise
    _audit(store, actor, counted[0], flt, label, STDOUT, None)
    return counted[0]


def _newest(store: LogStore, flt: RecordFilter) -> Callable[[], list[dict[str, Any]]]:
    """The newest selected records, read from the end (their keys seed the CSV columns);
    damage met here is met again, and reported, by the export's own read."""

    def read() -> list[dict[str, Any]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return store.tail(_SEED_RECORDS, flt)

    return read


def _check_destination(store: LogStore, target: Path, overwrite: bool) -> None:
    """Refuse early what would fail or destroy something: a directory, a log file, a clash."""
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "the export destination is a directory", str(target))
    if not target.parent.is_dir():
        raise FileNotFoundError(
            errno.ENOENT, "the export destination's directory does not exist", str(target.parent)
        )
    if not is_database_location(store.location):
        logset = LogSet(store.location)
        own = {logset.path, logset.lock_path, *logset.files()}
        if target in own or (
            target.parent == logset.directory and target.name.startswith(logset.path.name + ".")
        ):
            raise ValueError(f"refusing to export onto the log's own files: {target}")
    refuse_special_destination(target)
    if not overwrite and (target.exists() or target.is_symlink()):
        raise FileExistsError(
            errno.EEXIST, "the export destination exists (pass overwrite=True)", str(target)
        )


def refuse_special_destination(target: Path) -> None:
    """Refuse a destination that exists and is not a regular file: a symlink, a FIFO, a device,
    a socket is never written through nor replaced, with or without ``overwrite``."""
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise ValueError(
            f"refusing to export onto {target}: it is {kind} (never replaced nor written "
            "through; choose another destination or remove it first)"
        )


def _reporting(records: Iterable[dict[str, Any]], progress: Progress) -> Iterator[dict[str, Any]]:
    """Pass records through, calling ``progress`` every few thousand."""
    count = 0
    for record in records:
        yield record
        count += 1
        if count % _PROGRESS_EVERY == 0:
            progress(count)
    progress(count)


def remove_stale_exports(directory: Path) -> list[Path]:
    """Delete temporary export files in ``directory`` whose writer is gone; return them.

    A live export holds an exclusive ``flock`` on its temporary file, so a file that can be
    locked without waiting belongs to an export that crashed.
    """
    removed: list[Path] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(".") and EXPORT_TEMP in name):
            continue
        candidate = directory / name
        try:
            fd = open_private(candidate, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live export
        try:
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def _private_temp(target: Path) -> Iterator[tuple[Path, int]]:
    """A locked ``0o600`` temporary file beside ``target``; removed on exit unless renamed."""
    temp = target.with_name(f".{target.name[:80]}{EXPORT_TEMP}{os.urandom(6).hex()}")
    fd = open_private(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield temp, fd
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        with contextlib.suppress(OSError):
            os.close(fd)


def _write_file(
    target: Path,
    base: str,
    gz: bool,
    records: Iterable[dict[str, Any]],
    overwrite: bool,
    audit: Callable[[int], None],
    newest: Callable[[], list[dict[str, Any]]],
) -> int:
    """Write, fsync, audit, then publish atomically; nothing is left behind on failure."""
    remove_stale_exports(target.parent)
    with _private_temp(target) as (temp, fd):
        with os.fdopen(os.dup(fd), "wb", buffering=1 << 20) as raw:
            if gz:
                inner = target.name[:-3] if target.name.lower().endswith(".gz") else target.name
                with gzip.GzipFile(
                    filename=inner, mode="wb", compresslevel=6, fileobj=raw
                ) as zipped:
                    count = _write_stream(
                        target.parent, base, records, cast(IO[bytes], zipped), newest
                    )
            else:
                count = _write_stream(target.parent, base, records, raw, newest)
            raw.flush()
            os.fsync(raw.fileno())
        audit(count)
        _publish(temp, target, overwrite)
    fsync_directory(target.parent)
    return count


def _write_stream(
    spool_dir: Optional[Path],
    base: str,
    records: Iterable[dict[str, Any]],
    out: IO[bytes],
    newest: Callable[[], list[dict[str, Any]]],
) -> int:
    """Run the format's writer (CSV through a spool in ``spool_dir``, default the temp dir;
    ``newest()``: the newest selected records, whose keys the CSV columns start with)."""
    if base == "csv":  # rows wait in an anonymous private file (beside the destination)
        expected = {key for record in newest() for key in record}
        with tempfile.TemporaryFile(dir=spool_dir) as spool:
            return write_csv(records, out, spool=spool, expected_keys=expected)
    return WRITERS[base](records, out)


def _publish(temp: Path, target: Path, overwrite: bool) -> None:
    """Rename ``temp`` to ``target``; without ``overwrite`` never clobber (link is atomic)."""
    if overwrite:
        refuse_special_destination(target)  # again: it may have been planted while the export ran
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)
    except FileExistsError:
        raise FileExistsError(
            errno.EEXIST, "the export destination appeared meanwhile", str(target)
        ) from None
    except OSError:  # no hard links on this filesystem: check, then rename
        if target.exists() or target.is_symlink():
            raise FileExistsError(
                errno.EEXIST, "the export destination exists", str(target)
            ) from None
        os.replace(temp, target)
        return
    temp.unlink()


def _export_to_plugin(
    store: LogStore,
    destination: str,
    scheme: str,
    flt: RecordFilter,
    format: str | None,
    overwrite: bool,
    actor: str | None,
    progress: Optional[Progress] = None,
    receipt: Optional[dict[str, Any]] = None,
) -> int:
    """Stream to an installed exporter; audit success and failure alike (data may have left)."""
    exporter = load_exporter(scheme)
    context = ExportContext(
        filter=flt,
        actor=actor,
        overwrite=overwrite,
        format=format,
        location=store.location,
        pseudonym=lambda user_id: pseudonym_for(store, user_id),
        progress=progress,
    )
    sent = [0]

    def counted() -> Iterator[dict[str, Any]]:
        for record in store.iter_records(flt):
            sent[0] += 1
            yield record

    name = audited_destination(exporter, destination)
    try:
        result = exporter.export(counted(), destination, context=context)
    except Exception as exc:
        error = f"{type(exc).__name__}"
        _audit(store, actor, sent[0], flt, format, name, scheme, error, context.receipt)
        raise
    count = result if isinstance(result, int) and not isinstance(result, bool) else sent[0]
    _audit(store, actor, count, flt, format, name, scheme, receipt=context.receipt)
    if receipt is not None:
        receipt.update(context.receipt)
    return count


def _audit(
    store: LogStore,
    actor: str | None,
    count: int,
    flt: RecordFilter,
    format: str | None,
    destination: str,
    exporter: str | None,
    error: str | None = None,
    receipt: dict[str, Any] | None = None,
) -> None:
    """Append the ``export`` audit event: who, how many, which filters, where — no data."""
    scope: dict[str, Any] = flt.describe()
    who = audit_actor(actor)
    if flt.user_id is not None:
        scope["user_id"] = pseudonym_for(store, flt.user_id)
        # a destination named after the user (alice.jsonl) must not name them in clear either
        destination = replace_user_id(destination, flt.user_id, scope["user_id"])
        who = replace_user_id(who, flt.user_id, scope["user_id"])  # a user exporting their own
    for bound in ("since", "until"):
        if bound in scope:
            scope[bound] = scope[bound].replace("+00:00", "Z")
    fields: dict[str, Any] = {
        "event": EVENT_EXPORT,
        "actor": who,
        "count": count,
        "filter": scope,
        "format": format,
        "destination": destination,
    }
    if exporter is not None:
        fields["exporter"] = exporter
    if error is not None:
        fields["error"] = error
    damage: dict[str, dict[str, Any]] = {}
    for entry in read_damage(store):  # one per file: the full read's, not the seed's
        found = entry.as_dict()
        if found["lines_read"] >= damage.get(found["file"], {}).get("lines_read", -1):
            damage[found["file"]] = found
    if damage:  # the export is incomplete: say which files and how much
        fields["damaged"] = list(damage.values())
    if receipt:
        fields["receipt"] = dict(receipt)
    store.append_audit(fields)
