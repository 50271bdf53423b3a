"""LogSet: file naming and order, private files, the cross-process lock and its change count."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dihya_logging import LOGGER_NAME
from dihya_logging._logset import (
    LogSet,
    bump_change_count,
    ensure_private_dir,
    open_private,
    read_change_count,
    resolve_log_path,
)

TRY_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    print("busy")
else:
    print("free")
"""


def try_lock_elsewhere(lock_path: Path) -> str:
    """Whether another process can take the lock right now ("busy" or "free")."""
    out = subprocess.run(
        [sys.executable, "-c", TRY_LOCK, str(lock_path)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_names_and_order(tmp_path: Path) -> None:
    """Backups are .N[.gz], newest .1; files() lists oldest first, live file last."""
    log_set = LogSet(tmp_path / "generation.log")
    for name in ("generation.log", "generation.log.1.gz", "generation.log.2", "generation.log.10"):
        (tmp_path / name).write_text("")
    for name in (
        "generation.log.lock",
        "generation.log.rotation",
        "other.log.1",
        "generation.logx.1",
    ):
        (tmp_path / name).write_text("")
    assert log_set.rotated_path(3) == tmp_path / "generation.log.3"
    assert log_set.rotated_path(3, compressed=True) == tmp_path / "generation.log.3.gz"
    assert [i for i, _ in log_set.rotated()] == [1, 2, 10]
    assert [p.name for p in log_set.files()] == [
        "generation.log.10",
        "generation.log.2",
        "generation.log.1.gz",
        "generation.log",
    ]


def test_temp_files_are_hidden_and_found_as_stale(tmp_path: Path) -> None:
    """Temporary names are hidden siblings, never mistaken for backups, and listed as stale."""
    log_set = LogSet(tmp_path / "generation.log")
    temp = log_set.temp_path("purge-")
    assert temp.parent == tmp_path
    assert temp.name.startswith(".generation.log")
    temp.write_text("x")
    assert log_set.stale_temp_files() == [temp]
    assert log_set.rotated() == []


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_open_private_creates_exact_mode(tmp_path: Path, umask: int) -> None:
    """A created file gets exactly the requested mode, whatever the umask; old files keep theirs."""
    old = os.umask(umask)
    try:
        os.close(open_private(tmp_path / "a", os.O_WRONLY | os.O_CREAT, 0o640))
        (tmp_path / "b").write_text("")
        os.chmod(tmp_path / "b", 0o644)
        os.close(open_private(tmp_path / "b", os.O_WRONLY | os.O_CREAT, 0o600))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o644


def test_open_private_refuses_symlinks_and_non_files(tmp_path: Path) -> None:
    """A symlink (even to a real file) or a directory at the path is refused."""
    target = tmp_path / "target"
    target.write_text("keep")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(OSError, match=r"loop|symbolic"):
        open_private(tmp_path / "link", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    (tmp_path / "dir").mkdir()
    with pytest.raises(OSError, match=r"directory|regular"):
        open_private(tmp_path / "dir", os.O_RDONLY)
    assert target.read_text() == "keep"


def test_ensure_private_dir_creates_missing_parents_0o700(tmp_path: Path) -> None:
    """Missing directories are created 0o700 whatever the umask; existing ones are untouched."""
    tmp_path.chmod(0o755)
    old = os.umask(0)
    try:
        ensure_private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


def test_lock_excludes_other_processes(tmp_path: Path) -> None:
    """While `lock()` is held another process cannot take it; afterwards it can."""
    log_set = LogSet(tmp_path / "logs" / "generation.log")
    with log_set.lock():
        assert stat.S_IMODE(log_set.lock_path.stat().st_mode) == 0o600
        assert try_lock_elsewhere(log_set.lock_path) == "busy"
    assert try_lock_elsewhere(log_set.lock_path) == "free"


def test_lock_release_bumps_the_change_count_unless_read_only(tmp_path: Path) -> None:
    """Writers learn of a change made under the lock through the change count."""
    log_set = LogSet(tmp_path / "generation.log")
    with log_set.lock():
        pass
    fd = os.open(log_set.lock_path, os.O_RDWR)
    try:
        first = read_change_count(fd)
        with log_set.lock(changes=False):
            pass
        assert read_change_count(fd) == first
        with log_set.lock():
            pass
        second = read_change_count(fd)
        assert second != first
        assert bump_change_count(fd) == read_change_count(fd) != second
    finally:
        os.close(fd)


def test_resolve_log_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit path, then an attached handler's log_path, then $DIHYA_LOG_FILE, then default."""
    monkeypatch.chdir(tmp_path)
    assert resolve_log_path() == tmp_path / "logs" / "generation.log"
    monkeypatch.setenv("DIHYA_LOG_FILE", "env/x.log")
    assert resolve_log_path() == tmp_path / "env" / "x.log"

    class Attached(logging.Handler):
        log_path = tmp_path / "attached.log"

        def emit(self, record: logging.LogRecord) -> None:
            pass

    handler = Attached()
    logging.getLogger(LOGGER_NAME).addHandler(handler)
    assert resolve_log_path() == tmp_path / "attached.log"
    assert resolve_log_path("rel.log") == tmp_path / "rel.log"


def test_every_private_file_has_its_own_name_and_is_no_backup(tmp_path: Path) -> None:
    """Lock, rotation state, chain state and anonymization key are distinct siblings, not logs."""
    log_set = LogSet(tmp_path / "generation.log")
    private = {
        log_set.lock_path: "generation.log.lock",
        log_set.rotation_state_path: "generation.log.rotation",
        log_set.chain_state_path: "generation.log.chain",
        log_set.anonymization_key_path: "generation.log.anonkey",
    }
    assert {path.name for path in private} == set(private.values())
    assert all(path.parent == tmp_path for path in private)
    for path in private:
        path.write_text("")
    (tmp_path / "generation.log").write_text("")
    assert log_set.files() == [tmp_path / "generation.log"]


def test_files_renamed_by_logrotate_are_part_of_the_set_in_time_order(tmp_path: Path) -> None:
    """generation.log-DATE[.gz], .YYYY-MM-DD: found, ordered by mtime among numbered backups."""
    log = LogSet(tmp_path / "generation.log")
    names = ["generation.log.2", "generation.log-20261101.gz", "generation.log.1",
             "generation.log.2026-12-04", "generation.log"]  # fmt: skip
    for moment, name in enumerate(names):
        (tmp_path / name).write_bytes(b"")
        os.utime(tmp_path / name, (1_000_000 + moment, 1_000_000 + moment))
    for name in ("generation.log-old", "generation.log.lock", "generation.log.20261204.bz2"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in log.files()] == names
    readable, unreadable = log.foreign()
    assert [p.name for p in readable] == ["generation.log-20261101.gz", "generation.log.2026-12-04"]
    assert [p.name for p in unreadable] == ["generation.log.20261204.bz2"]
