"""The demo (`make demo`): it runs twice in a row, keeps its log, and shows `dihya-logs` on it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers_examples import ROOT, run_example

CLI_COMMANDS = ("tail", "query", "stats", "verify")


def run_demo(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the demo script as ``make demo`` does, into ``cwd/demo-logs``; it must succeed."""
    return run_example("generator_demo.py", cwd, env, "demo-logs", timeout=300)


def test_demo_runs_twice_and_keeps_its_log(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    """Two runs in a row succeed, each starting the log afresh, and the log stays for the reader."""
    outputs = []
    for _ in range(2):
        outputs.append(run_demo(tmp_path, subprocess_env).stdout)
    logs = tmp_path / "demo-logs"
    records = [json.loads(line) for line in (logs / "generation.log").open(encoding="utf-8")]
    assert records, "the live file keeps the newest records"
    assert len(list(logs.glob("generation.log.*.gz"))) >= 2, "the demo shows rotation"
    assert (logs / "audit.csv").is_file()
    # each run starts afresh: the second prints what the first printed, times and hashes aside
    assert outputs[0].count("\n") == outputs[1].count("\n")
    assert "Secrets found in any file on disk or any line printed: none" in outputs[1]


def test_demo_shows_the_command_line_on_its_log(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """The demo runs each `dihya-logs` subcommand it shows, on the log it wrote, successfully."""
    result = run_demo(tmp_path, subprocess_env)
    for command in CLI_COMMANDS:
        assert f"$ dihya-logs {command} " in result.stdout
    assert "(exit status" not in result.stdout
    assert "generation.log: intact" in result.stdout
    assert "user_amina" in result.stdout.split("$ dihya-logs query", 1)[1]


@pytest.mark.slow
def test_make_demo_installs_only_the_package(tmp_path: Path) -> None:
    """`make demo` sets up its own environment with the package and orjson, no dev tools."""
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIHYA_", "VIRTUAL_ENV"))}
    result = subprocess.run(
        ["make", "-C", str(ROOT), "demo", f"DEMO_VENV={venv}", f"DEMO_DIR={tmp_path / 'logs'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "$ dihya-logs verify" in result.stdout
    assert (tmp_path / "logs" / "generation.log").is_file()
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    assert "orjson==" in installed and "python-json-logger==" in installed
    for tool in ("ruff", "mypy", "pytest", "hypothesis", "psycopg"):
        assert f"{tool}==" not in installed, f"the demo installed {tool}"
