"""export_generation_logs refusals and atomicity: bad input, clobbering, modes, leftovers."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import pytest
from helpers_export import read_jsonl, sample_records, write_rotated_log

from dihya_logging import get_generation_logs
from dihya_logging.store import PurgeOutcome, RecordFilter
from dihya_logging.store._export import (
    EXPORT_TEMP,
    export_generation_logs,
    export_store,
    remove_stale_exports,
)


class ScriptedStore:
    """A LogStore whose records come from a generator function (to fail or block mid-stream)."""

    def __init__(self, location: str, produce: Any) -> None:
        self.location = location
        self.produce = produce
        self.audits: list[dict[str, Any]] = []

    def iter_records(self, flt: RecordFilter) -> Iterator[dict[str, Any]]:
        """Whatever the script yields."""
        return iter(self.produce())

    def tail(self, limit: int, flt: RecordFilter) -> list[dict[str, Any]]:
        """No newest records to seed CSV columns with (a script may fail or block)."""
        return []

    def purge(
        self, *, user_id: Optional[str], before: Optional[datetime], anonymize: bool
    ) -> PurgeOutcome:
        """Not used by exports."""
        raise NotImplementedError

    def append_audit(self, fields: dict[str, Any]) -> None:
        """Keep audit events in memory."""
        self.audits.append(fields)

    def check_audit(self) -> None:
        """Auditing in memory always works."""


@pytest.fixture
def log(log_path: Path) -> Path:
    """A small rotated log set."""
    write_rotated_log(log_path, sample_records(8))
    return log_path


def _leftovers(directory: Path) -> list[str]:
    """Temporary export files in a directory."""
    return [name for name in os.listdir(directory) if EXPORT_TEMP in name]


@pytest.mark.parametrize("name", ["out.txt", "out", "out.xml.gz"])
def test_unknown_suffix_is_refused_before_anything(log: Path, tmp_path: Path, name: str) -> None:
    """An unknown suffix is a ValueError; no file and no audit event are made."""
    with pytest.raises(ValueError, match="cannot tell the export format"):
        export_generation_logs(tmp_path / name, path=log)
    assert not (tmp_path / name).exists()
    assert get_generation_logs(event="export", path=log) == []


def test_unknown_format_argument(log: Path, tmp_path: Path) -> None:
    """An unknown format= is a ValueError naming the known ones."""
    with pytest.raises(ValueError, match=r"unknown export format 'parquet' \(known: jsonl"):
        export_generation_logs(tmp_path / "x.jsonl", format="parquet", path=log)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("yesterday", None, "not a date"),
        (None, "2026-13-45", "not a date"),
        ("2026-03-05", "2026-03-01", "must be before"),
    ],
)
def test_bad_dates_are_refused(
    log: Path, tmp_path: Path, since: Optional[str], until: Optional[str], message: str
) -> None:
    """Unparseable or inverted dates are a clear ValueError and nothing is written."""
    with pytest.raises(ValueError, match=message):
        export_generation_logs(tmp_path / "x.jsonl", since=since, until=until, path=log)
    assert os.listdir(tmp_path) == ["logs"]


def test_existing_destination_is_kept_unless_overwrite(log: Path, tmp_path: Path) -> None:
    """An existing file raises FileExistsError untouched; overwrite=True replaces it."""
    destination = tmp_path / "out.jsonl"
    destination.write_text("precious\n")
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        export_generation_logs(destination, path=log)
    assert destination.read_text() == "precious\n"
    count = export_generation_logs(destination, overwrite=True, path=log)
    assert len(read_jsonl(destination)) == count


def test_export_file_is_private_whatever_the_umask(log: Path, tmp_path: Path) -> None:
    """The export is created 0o600 under umask 0, and an overwritten 0o644 file becomes 0o600."""
    old = os.umask(0)
    try:
        export_generation_logs(tmp_path / "fresh.csv", path=log)
        replaced = tmp_path / "old.json"
        replaced.write_text("[]")
        replaced.chmod(0o644)
        export_generation_logs(replaced, overwrite=True, path=log)
    finally:
        os.umask(old)
    assert (tmp_path / "fresh.csv").stat().st_mode & 0o777 == 0o600
    assert replaced.stat().st_mode & 0o777 == 0o600


def test_refuses_directory_missing_parent_and_the_log_itself(log: Path, tmp_path: Path) -> None:
    """A directory, a missing directory and the log's own files are refused clearly."""
    (tmp_path / "d.jsonl").mkdir()
    with pytest.raises(IsADirectoryError):
        export_generation_logs(tmp_path / "d.jsonl", path=log)
    with pytest.raises(FileNotFoundError, match="directory does not exist"):
        export_generation_logs(tmp_path / "missing" / "x.jsonl", path=log)
    before = log.read_bytes()
    with pytest.raises(ValueError, match="log's own files"):
        export_generation_logs(log, format="jsonl", overwrite=True, path=log)
    with pytest.raises(ValueError, match="log's own files"):
        export_generation_logs(log.with_name(log.name + ".7.gz"), format="jsonl", path=log)
    assert log.read_bytes() == before


def test_failure_mid_stream_leaves_nothing(tmp_path: Path) -> None:
    """An exception while records stream: no destination, no temporary file, no audit event."""

    def produce() -> Iterator[dict[str, Any]]:
        yield from sample_records(3)
        raise OSError("disk went away")

    store = ScriptedStore(str(tmp_path / "logs" / "generation.log"), produce)
    for name in ("out.jsonl", "out.csv.gz", "out.json"):
        with pytest.raises(OSError, match="disk went away"):
            export_store(store, tmp_path / name, flt=RecordFilter())
        assert not (tmp_path / name).exists()
    assert _leftovers(tmp_path) == []
    assert store.audits == []


def test_destination_directory_removed_mid_stream(tmp_path: Path) -> None:
    """If the destination's directory vanishes during the export, it fails and leaves nothing."""
    target_dir = tmp_path / "handover"
    target_dir.mkdir()

    def produce() -> Iterator[dict[str, Any]]:
        yield from sample_records(2)
        shutil.rmtree(target_dir)
        yield from sample_records(2)

    store = ScriptedStore(str(tmp_path / "logs" / "generation.log"), produce)
    with pytest.raises(FileNotFoundError):
        export_store(store, target_dir / "out.jsonl", flt=RecordFilter())
    assert not target_dir.exists()
    assert _leftovers(tmp_path) == []


def test_live_export_temp_file_is_not_taken_for_stale(tmp_path: Path) -> None:
    """While an export runs its temporary file is locked; cleanup leaves it alone."""
    started, release = threading.Event(), threading.Event()

    def produce() -> Iterator[dict[str, Any]]:
        yield sample_records(1)[0]
        started.set()
        release.wait(30)

    store = ScriptedStore(str(tmp_path / "logs" / "generation.log"), produce)
    worker = threading.Thread(
        target=export_store, args=(store, tmp_path / "slow.jsonl"), kwargs={"flt": RecordFilter()}
    )
    worker.start()
    try:
        assert started.wait(30)
        assert len(_leftovers(tmp_path)) == 1
        assert remove_stale_exports(tmp_path) == []
        assert len(_leftovers(tmp_path)) == 1
    finally:
        release.set()
        worker.join(30)
    assert _leftovers(tmp_path) == []
    assert len(read_jsonl(tmp_path / "slow.jsonl")) == 1
    assert store.audits[0]["count"] == 1


_KILLED_EXPORT = """
import sys, time
sys.path.insert(0, sys.argv[2])
from test_export_refusals import ScriptedStore
from helpers_export import sample_records
from dihya_logging.store._backend import RecordFilter
from dihya_logging.store._export import export_store
def produce():
    yield from sample_records(5)
    print("streaming", flush=True)
    time.sleep(600)
export_store(ScriptedStore("/nonexistent/generation.log", produce), sys.argv[1],
             flt=RecordFilter())
"""


def test_export_killed_with_sigkill_is_cleaned_by_the_next(
    log: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """After kill -9 mid-export the private temp file remains; the next export removes it."""
    destination = tmp_path / "out.jsonl"
    tests_dir = str(Path(__file__).parent)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_EXPORT, str(destination), tests_dir],
        stdout=subprocess.PIPE,
        env=subprocess_env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"streaming\n"
        leftovers = _leftovers(tmp_path)
        assert len(leftovers) == 1
        assert (tmp_path / leftovers[0]).stat().st_mode & 0o777 == 0o600
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        if child.stdout is not None:
            child.stdout.close()
    assert len(_leftovers(tmp_path)) == 1
    assert not destination.exists()
    export_generation_logs(tmp_path / "next.json", path=log)
    assert _leftovers(tmp_path) == []
    assert json.loads((tmp_path / "next.json").read_bytes())


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"overwrite": "yes"}, TypeError),
        ({"actor": 42}, TypeError),
        ({"user_id": 7.5}, TypeError),
        ({"format": 3}, TypeError),
    ],
)
def test_bad_argument_types(log: Path, tmp_path: Path, kwargs: Any, error: type) -> None:
    """Arguments of the wrong type are a TypeError at the call."""
    with pytest.raises(error):
        export_generation_logs(tmp_path / "x.jsonl", path=log, **kwargs)
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize("overwrite", [False, True])
def test_symlinks_fifos_and_devices_are_never_replaced_nor_written_through(
    log: Path, tmp_path: Path, overwrite: bool
) -> None:
    """A symlink (to a file or dangling), a FIFO, a device: refused, left exactly as found."""
    victim = tmp_path / "victim.jsonl"
    victim.write_text("precious\n")
    link, dangling, fifo = (
        tmp_path / "link.jsonl",
        tmp_path / "dangling.jsonl",
        tmp_path / "f.jsonl",
    )
    link.symlink_to(victim)
    dangling.symlink_to(tmp_path / "nowhere.jsonl")
    os.mkfifo(fifo)
    special = "not a regular file"
    for target, kind in ((link, "symbolic link"), (dangling, "symbolic link"),
                         (fifo, special), (Path("/dev/null"), special)):  # fmt: skip
        with pytest.raises(ValueError, match=f"refusing to export onto .*{kind}"):
            export_generation_logs(target, format="jsonl", overwrite=overwrite, path=log)
    assert link.is_symlink() and os.readlink(link) == str(victim)
    assert dangling.is_symlink() and not (tmp_path / "nowhere.jsonl").exists()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert victim.read_text() == "precious\n"
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_dash_is_standard_output_and_audited(
    log: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """`export -` writes JSON lines (or --format csv) to stdout; the summary goes to stderr."""
    records = get_generation_logs(path=log)
    done = subprocess.run(
        [sys.executable, "-m", "dihya_logging", "export", "-", "--file", str(log)],
        capture_output=True, text=True, env=subprocess_env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [json.loads(text) for text in done.stdout.splitlines()] == records
    assert done.stderr == f"exported {len(records)} records to standard output\n"
    assert not (Path.cwd() / "-").exists()
    audit = get_generation_logs(event="export", path=log)[-1]
    assert (audit["destination"], audit["count"], audit["format"]) == ("-", len(records), "jsonl")
    as_csv = subprocess.run(
        [sys.executable, "-m", "dihya_logging", "export", "-", "--format", "csv", "--file",
         str(log)], capture_output=True, text=True, env=subprocess_env, timeout=60, check=False,
    )  # fmt: skip
    assert as_csv.stdout.startswith("timestamp,level,logger,message,event,user_id")
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert len(rows) == len(records) + 2  # the header, and the first export's audit event
