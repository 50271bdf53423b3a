"""Adversarial tests of the CLI contract: non-zero status, one-line reason, never a traceback."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers_store import line, record, write_file


def _cli(
    *args: str, env: dict[str, str], stdin: int = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dihya_logging", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=stdin,
        timeout=60,
        check=False,
    )


def _refused(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("dihya-logs: error: ")


@pytest.mark.parametrize(
    "args",
    [
        ("query",),
        ("stats",),
        ("tail", "-n", "3"),
        ("export", "{tmp}/out.jsonl"),
        ("purge", "--all", "--yes"),
        ("purge", "--user", "u", "--yes"),
    ],
)
def test_a_directory_given_as_the_log_is_refused_in_one_line(
    tmp_path: Path, subprocess_env: dict[str, str], args: tuple[str, ...]
) -> None:
    """--file naming a directory: every command fails with one line, no traceback."""
    target = tmp_path / "adir"
    target.mkdir()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    _refused(_cli(*argv, "--file", str(target), env=subprocess_env))


@pytest.mark.parametrize(
    "args",
    [
        ("query", "--limit", "-1"),
        ("query", "--since", "garbage"),
        ("query", "--until", "2026-13-45"),
        ("purge", "--before", "yesterday-ish", "--yes"),
        ("export", "{tmp}/missing/dir/out.jsonl"),
        ("export", "{log}", "--format", "jsonl", "--overwrite"),
        ("export", "{tmp}/out.txt"),
        ("purge", "--user", "  ", "--yes"),
    ],
)
def test_bad_arguments_are_refused_in_one_line_and_change_nothing(
    log_path: Path, subprocess_env: dict[str, str], args: tuple[str, ...]
) -> None:
    """Bad limits, dates, destinations (the log itself) or ids: one line, the log untouched."""
    write_file(log_path, [record(1, "u")])
    before = log_path.read_bytes()
    tmp = str(log_path.parent)
    argv = [a.replace("{tmp}", tmp).replace("{log}", str(log_path)) for a in args]
    _refused(_cli(*argv, "--file", str(log_path), env=subprocess_env))
    assert log_path.read_bytes() == before


def test_purge_without_yes_and_without_a_terminal_refuses(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """No TTY, no --yes: refused in one line, nothing purged, no audit event written."""
    write_file(log_path, [record(1, "u")])
    before = log_path.read_bytes()
    _refused(_cli("purge", "--user", "u", "--file", str(log_path), env=subprocess_env))
    assert log_path.read_bytes() == before


def test_a_cli_purge_erases_and_reports_success(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """purge --user --yes: status 0, the id gone from the file, nothing on stderr."""
    write_file(log_path, [record(1, 'q"uote'), record(2, "other")])
    done = _cli("purge", "--user", 'q"uote', "--yes", "--file", str(log_path), env=subprocess_env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert b'q\\"uote' not in log_path.read_bytes()


def test_query_into_a_closed_pipe_exits_without_a_traceback(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """query | head -1 on a big log: the broken pipe ends it quietly (no traceback)."""
    log_path.parent.mkdir(parents=True)
    log_path.write_bytes(b"".join(line(record(n, f"u{n % 7}")) for n in range(30000)))
    reader = subprocess.Popen(
        [sys.executable, "-m", "dihya_logging", "query", "--json", "--file", str(log_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env,
    )
    assert reader.stdout is not None and reader.stderr is not None
    first = reader.stdout.readline()
    reader.stdout.close()
    err = reader.stderr.read().decode()
    reader.wait(timeout=60)
    assert first.startswith(b"{")
    assert "Traceback" not in err and "Exception" not in err
    assert reader.returncode != 0 or err == ""


def _with_damaged_gz(log_path: Path) -> None:
    write_file(log_path, [record(1, "victim"), record(2, "other")])
    backup = log_path.with_name(log_path.name + ".1.gz")
    backup.write_bytes(gzip.compress(line(record(0, "victim")) * 50)[:40])


def test_query_over_a_damaged_gz_backup_warns_and_shows_the_rest(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """A cut .gz backup: query prints the live records, one warning line naming it, exit 3."""
    _with_damaged_gz(log_path)
    done = _cli("query", "--json", "--file", str(log_path), env=subprocess_env)
    assert done.returncode == 3, done.stderr
    users = [json.loads(text)["user_id"] for text in done.stdout.splitlines()]
    assert users[-2:] == ["victim", "other"]
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert f"{log_path}.1.gz: 0 lines read" in done.stderr
    assert "compressed data cut short" in done.stderr


def test_purge_over_a_damaged_gz_backup_refuses_and_audits_the_failure(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """A cut .gz: purge fails in one line, changes no record, and leaves a failed purge event."""
    _with_damaged_gz(log_path)
    before = log_path.read_bytes()
    done = _cli("purge", "--user", "victim", "--yes", "--file", str(log_path), env=subprocess_env)
    _refused(done)
    after = log_path.read_bytes()
    assert after.startswith(before)
    event = json.loads(after[len(before) :])
    assert event["event"] == "purge" and event["count"] is None and event["error"]
    assert b"victim" not in after[len(before) :]


def test_an_ascii_only_stdout_gets_escapes_not_an_error(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """PYTHONIOENCODING=ascii: the table still prints (non-ASCII escaped), status 0."""
    write_file(log_path, [record(1, "名前", project_name="Blog ⵣ")])
    env = {**subprocess_env, "PYTHONIOENCODING": "ascii"}
    done = _cli("query", "--file", str(log_path), env=env)
    assert done.returncode == 0, done.stderr
    assert "\\u2d63" in done.stdout


def test_export_over_a_half_cut_gz_keeps_its_first_half_exits_3_and_audits_it(
    log_path: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """A .gz cut in half: its first half is exported, exit 3, the audit event names the file."""
    write_file(log_path, [record(9000, "live")])
    backup = log_path.with_name(log_path.name + ".1.gz")
    old = [record(n, "old", files=[f"f{n}-{'x' * (n % 97)}.py"]) for n in range(2000)]
    whole = gzip.compress(b"".join(line(r) for r in old))
    backup.write_bytes(whole[: len(whole) // 2])
    destination = tmp_path / "out.jsonl"
    done = _cli("export", str(destination), "--file", str(log_path), env=subprocess_env)
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") == 1 and f"{backup}: " in done.stderr
    assert "incomplete" in done.stdout
    exported = [json.loads(text) for text in destination.read_text().splitlines()]
    numbers = [r["n"] for r in exported if r.get("user_id") == "old"]
    assert numbers == list(range(len(numbers))) and 800 < len(numbers) < 1000
    audit = json.loads(log_path.read_text().splitlines()[-1])
    assert audit["event"] == "export" and audit["count"] == len(exported)
    (damaged,) = audit["damaged"]
    assert damaged["file"] == backup.name and damaged["lines_read"] == len(numbers)
