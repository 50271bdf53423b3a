"""The `dihya-logs` command as a real subprocess: query, tail, export, stats and bad input."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers_export import (
    assert_one_line_error,
    read_jsonl,
    run_cli,
    sample_records,
    write_rotated_log,
)


@pytest.fixture
def log(log_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A rotated, partly gzipped log set and its records."""
    records = sample_records(24)
    write_rotated_log(log_path, records)
    return log_path, records


def _json_lines(text: str) -> list[dict[str, Any]]:
    """Parse JSON lines printed on stdout."""
    return [json.loads(line) for line in text.splitlines()]


def test_query_table_is_aligned(log: tuple[Path, Any], subprocess_env: dict[str, str]) -> None:
    """The default output is a header and one aligned row per record, columns at fixed offsets."""
    log_path, records = log
    result = run_cli("query", "--file", str(log_path), env=subprocess_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "time",
        "event",
        "user",
        "project",
        "stack",
        "status",
        "files",
        "error",
    ]
    assert len(lines) == len(records) + 1
    start = lines[0].index("event")
    user = lines[0].index("user")
    for line, record in zip(lines[1:], records):
        assert line[:start].strip() == record["timestamp"]
        assert line[start:].startswith("generation")
        assert line[user:].startswith(record["user_id"])


def test_query_table_neutralises_terminal_escapes(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """Escape sequences and bidi overrides in a record never reach the terminal raw."""
    record = sample_records(1)[0] | {"project_name": "evil\x1b[2J\u202ename", "error": "x\ny"}
    write_rotated_log(log_path, [record])
    result = run_cli("query", "--file", str(log_path), env=subprocess_env)
    assert "\x1b" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "evil?[2J?name" in result.stdout
    assert len(result.stdout.splitlines()) == 2


def test_query_json_with_filters(log: tuple[Path, Any], subprocess_env: dict[str, str]) -> None:
    """--json prints the matching records, all filters applied, as JSON lines."""
    log_path, records = log
    result = run_cli(
        "query", "--file", str(log_path), "--user", "user_1", "--status", "success",
        "--since", "2026-03-02", "--until", "2026-03-20", "--json", env=subprocess_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    wanted = [
        r
        for r in records
        if r["user_id"] == "user_1"
        and r["status"] == "success"
        and "2026-03-02" <= r["timestamp"] < "2026-03-20"
    ]
    assert wanted
    assert _json_lines(result.stdout) == wanted


def test_query_limit_keeps_the_newest(
    log: tuple[Path, Any], subprocess_env: dict[str, str]
) -> None:
    """--limit N keeps the newest N matches, in chronological order."""
    log_path, records = log
    result = run_cli("query", "--file", str(log_path), "--limit", "3", "--json", env=subprocess_env)
    assert _json_lines(result.stdout) == records[-3:]


def test_query_without_match(log: tuple[Path, Any], subprocess_env: dict[str, str]) -> None:
    """No match: exit 0, nothing on stdout, a note on stderr."""
    result = run_cli("query", "--file", str(log[0]), "--user", "nobody", env=subprocess_env)
    assert result.returncode == 0
    assert result.stdout == ""
    assert "no matching records" in result.stderr


def test_tail_prints_newest_records(log: tuple[Path, Any], subprocess_env: dict[str, str]) -> None:
    """tail -n 4 prints the last four records as JSON lines."""
    log_path, records = log
    result = run_cli("tail", "-n", "4", "--file", str(log_path), env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert _json_lines(result.stdout) == records[-4:]


def test_log_file_from_environment(log: tuple[Path, Any], subprocess_env: dict[str, str]) -> None:
    """Without --file the log is $DIHYA_LOG_FILE, as for the API."""
    log_path, records = log
    env = subprocess_env | {"DIHYA_LOG_FILE": str(log_path)}
    result = run_cli("tail", "-n", "1", env=env)
    assert _json_lines(result.stdout) == records[-1:]


def test_export_writes_and_audits(
    log: tuple[Path, Any], tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """export writes the file, says how many, and audits the OS user as default actor."""
    log_path, records = log
    destination = tmp_path / "mine.jsonl.gz"
    result = run_cli("export", str(destination), "--file", str(log_path), "--user", "user_0",
                     env=subprocess_env)  # fmt: skip
    wanted = [r for r in records if r["user_id"] == "user_0"]
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"exported {len(wanted)} records to {destination}\n"
    assert result.stderr == ""
    assert read_jsonl(destination) == wanted
    audit = run_cli("query", "--file", str(log_path), "--event", "export", "--json",
                    env=subprocess_env)  # fmt: skip
    (event,) = _json_lines(audit.stdout)
    assert event["actor"] == getpass.getuser()
    assert event["count"] == len(wanted)


def test_export_refusals(
    log: tuple[Path, Any], tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """Existing file, unknown suffix, unknown --format: non-zero and one readable line."""
    log_path, _ = log
    existing = tmp_path / "taken.csv"
    existing.write_text("keep")
    taken = run_cli("export", str(existing), "--file", str(log_path), env=subprocess_env)
    assert_one_line_error(taken, 1, match="use --overwrite")
    assert existing.read_text() == "keep"
    again = run_cli("export", str(existing), "--overwrite", "--actor", "dpo", "--file",
                    str(log_path), env=subprocess_env)  # fmt: skip
    assert again.returncode == 0
    assert existing.read_text().startswith("timestamp,")
    suffix = run_cli("export", str(tmp_path / "x.txt"), "--file", str(log_path), env=subprocess_env)
    assert_one_line_error(suffix, 1, match="cannot tell the export format")
    fmt = run_cli("export", str(tmp_path / "x.jsonl"), "--format", "xml", "--file", str(log_path),
                  env=subprocess_env)  # fmt: skip
    assert_one_line_error(fmt, 1, match="unknown export format 'xml'")
    scheme = run_cli("export", "gopher://bucket/key", "--file", str(log_path), env=subprocess_env)
    assert_one_line_error(scheme, 1, match="memtest://")


@pytest.mark.parametrize(
    ("args", "status", "match"),
    [
        (["query", "--since", "last tuesday"], 2, "not a date"),
        (["query", "--until", "2026-02-30"], 2, "not a date"),
        (["query", "--since", "2026-03-09", "--until", "2026-03-01"], 2, "must be before"),
        (["stats", "--since", "soon"], 2, "not a date"),
        (["purge", "--before", "someday", "--yes"], 2, "not a date"),
        (["export", "x.jsonl", "--since", "7x"], 2, "not a date"),
        (["query", "--event", "bogus"], 2, "invalid choice: 'bogus'"),
        (["query", "--status", "maybe"], 2, "invalid choice"),
        (["query", "--limit", "-4"], 2, "must not be negative"),
        (["tail", "-n", "ten"], 2, "not a whole number"),
        (["frobnicate"], 2, "invalid choice"),
        ([], 2, "required"),
        (["purge", "--user", "u", "--before", "2026-01-01", "--yes"], 2, "not allowed with"),
        (["purge", "--anonymize", "--before", "2026-01-01", "--yes"], 2, "needs --user"),
        (["purge", "--yes"], 2, "--user --before --all is required"),
        (["purge", "--all", "--user", "u", "--yes"], 2, "not allowed with"),
    ],
)
def test_bad_input_is_one_line(
    log: tuple[Path, Any], subprocess_env: dict[str, str], args: list[str], status: int, match: str
) -> None:
    """Bad dates, options or commands: the given status, one line on stderr, no traceback."""
    result = (
        run_cli(*args, "--file", str(log[0]), env=subprocess_env)
        if args
        else run_cli(env=subprocess_env)
    )
    assert_one_line_error(result, status, match=match)


def test_missing_log_file_is_an_error(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    """Reading, exporting or purging a log that does not exist fails in one line."""
    missing = str(tmp_path / "nope" / "generation.log")
    for args in (["query"], ["tail"], ["stats"], ["export", str(tmp_path / "x.jsonl")],
                 ["purge", "--all", "--yes"]):  # fmt: skip
        assert_one_line_error(
            run_cli(*args, "--file", missing, env=subprocess_env), 1, match="no log at"
        )
    assert not (tmp_path / "nope").exists()


def test_purge_refuses_without_yes_off_terminal(
    log: tuple[Path, Any], subprocess_env: dict[str, str]
) -> None:
    """Without --yes and without a terminal to ask on, purge refuses and changes nothing."""
    log_path, _ = log
    before = {p.name: p.read_bytes() for p in log_path.parent.iterdir()}
    result = run_cli("purge", "--user", "user_1", "--file", str(log_path), input="yes\n",
                     env=subprocess_env)  # fmt: skip
    assert_one_line_error(result, 2, match="without --yes")
    assert {p.name: p.read_bytes() for p in log_path.parent.iterdir()} == before


def test_purge_with_yes_erases_the_user(
    log: tuple[Path, Any], subprocess_env: dict[str, str]
) -> None:
    """purge --user U --yes removes U's records from every file and reports the count."""
    log_path, records = log
    result = run_cli("purge", "--user", "user_1", "--yes", "--actor", "dpo", "--file",
                     str(log_path), env=subprocess_env)  # fmt: skip
    expected = sum(1 for r in records if r["user_id"] == "user_1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"removed {expected} records\n"
    left = run_cli("query", "--file", str(log_path), "--json", env=subprocess_env)
    remaining = _json_lines(left.stdout)
    assert [r for r in remaining if r.get("user_id") == "user_1"] == []
    assert remaining[-1]["event"] == "purge"
    assert remaining[-1]["actor"] == "dpo"


def test_stats_counts(log: tuple[Path, Any], subprocess_env: dict[str, str]) -> None:
    """stats counts generations by status, stack, template, user and day; --json has them all."""
    log_path, records = log
    result = run_cli("stats", "--json", "--file", str(log_path), env=subprocess_env)
    data = json.loads(result.stdout)
    assert data["records"] == data["generations"] == len(records)
    for name, field in (("status", "status"), ("stack", "stack"), ("user", "user_id")):
        expected: dict[str, int] = {}
        for record in records:
            expected[record[field]] = expected.get(record[field], 0) + 1
        assert data[f"by_{name}"] == expected
    assert data["by_template"] == {
        "e-commerce": sum(1 for r in records if r["template"]),
        "(none)": sum(1 for r in records if not r["template"]),
    }
    days = sorted({r["timestamp"][:10] for r in records})
    assert list(data["by_day"]) == days
    text = run_cli("stats", "--file", str(log_path), env=subprocess_env).stdout
    assert f"records: {len(records)} (generation {len(records)})" in text
    success = data["by_status"]["success"]
    assert any(line.split() == ["success", str(success)] for line in text.splitlines())


def test_closed_pipe_ends_quietly(log_path: Path, subprocess_env: dict[str, str]) -> None:
    """`| head -1` on a long output: no error text, the SIGPIPE status."""
    write_rotated_log(log_path, sample_records(20000))
    child = subprocess.Popen(
        [sys.executable, "-m", "dihya_logging", "query", "--json", "--file", str(log_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    assert json.loads(child.stdout.readline())["user_id"] == "user_0"
    child.stdout.close()
    child.wait(120)
    assert child.stderr.read() == b""
    child.stderr.close()
    assert child.returncode == 141


def test_console_script_and_version(subprocess_env: dict[str, str]) -> None:
    """The installed dihya-logs script runs the same main (here: --version)."""
    script = Path(sys.executable).with_name("dihya-logs")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                            env=subprocess_env, check=False)  # fmt: skip
    assert result.returncode == 0
    assert result.stdout.startswith("dihya-logs ")


def test_damaged_line_is_one_warning_line(log_path: Path, subprocess_env: dict[str, str]) -> None:
    """A damaged line is skipped with one warning line on stderr, the rest printed; exit 3."""
    records = sample_records(3)
    write_rotated_log(log_path, records)
    with log_path.open("ab") as out:
        out.write(b'{"timestamp": "2026-03-09T00:00:00.000Z", "level": broken\n')
    result = run_cli("query", "--json", "--file", str(log_path), env=subprocess_env)
    assert result.returncode == 3
    assert _json_lines(result.stdout) == records
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("dihya-logs: warning: ")
    assert "generation.log" in result.stderr


def test_purge_all_is_explicit_and_dry_run_counts(
    log: tuple[Path, Any], subprocess_env: dict[str, str]
) -> None:
    """--dry-run states the count and changes nothing; --all --yes then erases that many."""
    log_path, records = log
    before = {p.name: p.read_bytes() for p in log_path.parent.iterdir() if p.suffix != ".lock"}
    dry = run_cli("purge", "--all", "--dry-run", "--file", str(log_path), env=subprocess_env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"would remove {len(records)} records")
    after = {p.name: p.read_bytes() for p in log_path.parent.iterdir() if p.suffix != ".lock"}
    assert after == before
    done = run_cli("purge", "--all", "--yes", "--file", str(log_path), env=subprocess_env)
    assert done.stdout == f"removed {len(records)} records\n"
    query = run_cli("query", "--json", "--file", str(log_path), env=subprocess_env)
    left = _json_lines(query.stdout)
    assert [r["event"] for r in left] == ["purge"]
    assert left[0]["filter"] == {"all": True}


def test_dates_take_ages_and_basic_iso(
    log: tuple[Path, Any], subprocess_env: dict[str, str]
) -> None:
    """--since 20260305 equals --since 2026-03-05; an age (400000d) reaches back that far."""
    log_path, records = log
    basic = run_cli("query", "--json", "--since", "20260305", "--file", str(log_path),
                    env=subprocess_env)  # fmt: skip
    extended = run_cli("query", "--json", "--since", "2026-03-05T00:00Z", "--file",
                       str(log_path), env=subprocess_env)  # fmt: skip
    assert basic.returncode == 0, basic.stderr
    assert basic.stdout == extended.stdout
    assert len(_json_lines(basic.stdout)) == sum(r["timestamp"] >= "2026-03-05" for r in records)
    ages = run_cli("query", "--json", "--since", "400000d", "--until", "1s", "--file",
                   str(log_path), env=subprocess_env)  # fmt: skip
    assert _json_lines(ages.stdout) == records
    future = run_cli("query", "--json", "--until", "400000d", "--file", str(log_path),
                     env=subprocess_env)  # fmt: skip
    assert future.stdout == ""


def test_stats_answer_questions_by_period_with_error_rates_and_durations(
    log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """--by week|month groups periods; error rates per stack/template; p50/p95; --top; --csv."""
    records = []
    for n in range(200):
        record = dict(sample_records(1)[0], user_id=f"user_{n % 30}", stack=("a", "b")[n % 2],
                      template="t", status="error" if n % 10 == 0 else "success")  # fmt: skip
        record["timestamp"] = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T00:00:00.000Z"
        record["duration_ms"] = n + 1 if record["stack"] == "a" else 1000
        records.append(record)
    records.sort(key=lambda r: r["timestamp"])
    write_rotated_log(log_path, records)
    auto = run_cli("stats", "--json", "--file", str(log_path), env=subprocess_env)
    assert json.loads(auto.stdout)["period"] == "week"  # 11 months: weeks, not 330 days
    monthly = run_cli("stats", "--json", "--by", "month", "--file", str(log_path),
                      env=subprocess_env)  # fmt: skip
    data = json.loads(monthly.stdout)
    assert data["period"] == "month" and len(data["by_month"]) == 12
    assert data["stacks"]["a"]["error_rate"] == 0.2 and data["stacks"]["b"]["error_rate"] == 0.0
    durations = sorted(r["duration_ms"] for r in records if r["stack"] == "a")
    assert (data["stacks"]["a"]["p50_ms"], data["stacks"]["a"]["p95_ms"]) == (99, 189)
    assert (durations[49], durations[94]) == (99, 189)  # nearest rank: the 50th and 95th of 100
    assert data["stacks"]["b"]["p95_ms"] == 1000
    weekly = json.loads(run_cli("stats", "--json", "--by", "week", "--file", str(log_path),
                                env=subprocess_env).stdout)  # fmt: skip
    assert sum(weekly["by_week"].values()) == 200 and all("-W" in k for k in weekly["by_week"])
    text = run_cli("stats", "--top", "5", "--file", str(log_path), env=subprocess_env).stdout
    assert "… and 25 more (--top N, or --json for all)" in text
    assert any(line.split()[:5] == ["a", "100", "20", "20.0%", "99"] for line in text.splitlines())
    rows = run_cli("stats", "--csv", "--by", "month", "--file", str(log_path),
                   env=subprocess_env).stdout.splitlines()  # fmt: skip
    assert rows[0] == "section,key,generations,errors,error_rate,p50_ms,p95_ms"
    assert "stack,a,100,20,0.2,99,189" in rows
    assert sum(row.startswith("month,") for row in rows) == 12


@pytest.mark.parametrize("command", ["tail", "query", "export", "purge", "verify", "stats"])
def test_every_command_help_ends_with_runnable_examples(
    command: str, subprocess_env: dict[str, str]
) -> None:
    """`dihya-logs CMD --help` ends with examples of that very command."""
    result = run_cli(command, "--help", env=subprocess_env)
    assert result.returncode == 0, result.stderr
    examples = result.stdout.split("\nexamples:\n", 1)[1].splitlines()
    assert examples and all(line.startswith(f"  dihya-logs {command} ") for line in examples)


def test_shell_completion_offers_commands_and_options(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """With argcomplete (the completion extra, in the test extra too), the shell's completion
    request gets subcommands and options."""
    answers = []
    for line in ("dihya-logs pu", "dihya-logs purge --dr"):
        out = tmp_path / "completions"
        env = {**subprocess_env, "_ARGCOMPLETE": "1", "COMP_LINE": line,
               "COMP_POINT": str(len(line)), "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
               "_ARGCOMPLETE_IFS": "\n"}  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "dihya_logging"], env=env,
                              capture_output=True, timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        answers.append(out.read_text().split())
    assert answers == [["purge"], ["--dry-run"]]
