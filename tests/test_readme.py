"""README.md's code blocks are the truth: every one runs, or is compared with what it shows.

A fence's info string says what a block is: ```python and ```sh blocks run as subprocesses in a
fresh directory (```python postgres ones against a real server), a ```json block is the record a
generation writes, ```ini file=PATH is the shipped file PATH byte for byte, and ```LANG no-run
marks the few blocks that cannot run here (installing, ``make``). ``# -> TEXT`` in a block, at
the end of a line or alone on one, is a line the block must print.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import dihya_logging as dl
from tests.pg_server import pg_dsn_fixture, pg_server_fixture

__all__ = ["pg_dsn_fixture", "pg_server_fixture"]  # fixtures used by the PostgreSQL block

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
EXPECTED = re.compile(r"#\s*->\s*(?P<text>.*?)\s*$")
SECRETS_LOGGED = ("hunter2", "sk_live_51Habcdefghijklmnopqrstuv", "t0p-secret")
"""Secrets the README's examples log on purpose: they must never be printed or written."""
MAX_NO_RUN = 2
"""The blocks that cannot run here: the two `make` commands and the `pip install` lines."""


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README."""

    language: str
    flags: frozenset[str]
    options: dict[str, str]
    code: str
    line: int
    section: str

    @property
    def runs(self) -> bool:
        """Whether the test suite executes this block."""
        return self.language in ("python", "sh") and "no-run" not in self.flags

    def expected_lines(self) -> list[str]:
        """The ``# -> TEXT`` lines the block must print."""
        return [m.group("text") for m in map(EXPECTED.search, self.code.splitlines()) if m]


def readme_blocks() -> list[Block]:
    """Every fenced block of README.md, with the section heading it sits under."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        language, *words = match.group("info").split()
        options = dict(word.split("=", 1) for word in words if "=" in word)
        before = text[: match.start()]
        headings = re.findall(r"^#+ (.+)$", FENCE.sub("", before), re.MULTILINE)  # not `# ->`
        blocks.append(
            Block(
                language=language,
                flags=frozenset(word for word in words if "=" not in word),
                options=options,
                code=match.group("code"),
                line=before.count("\n") + 1,
                section=headings[-1] if headings else "",
            )
        )
    return blocks


BLOCKS = readme_blocks()
PYTHON = [b for b in BLOCKS if b.runs and b.language == "python" and "postgres" not in b.flags]
SHELL = [b for b in BLOCKS if b.runs and b.language == "sh"]
(QUICK_START,) = [b for b in PYTHON if b.section == "Quick start"]


def run_block(
    block: Block, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a python or sh block in ``cwd`` and return what it did."""
    if block.language == "python":
        command = [sys.executable, "-c", block.code]
    else:
        command = ["bash", "-euo", "pipefail", "-c", block.code]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_ran(block: Block, result: subprocess.CompletedProcess[str], cwd: Path) -> None:
    """The block exited 0, printed each line it promises and no traceback, and neither its
    output nor any file it wrote holds a secret the README logs."""
    where = f"README.md line {block.line} ({block.section})"
    assert result.returncode == 0, f"{where} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, f"{where}:\n{result.stderr}"
    printed = result.stdout.splitlines()
    for expected in block.expected_lines():
        assert expected in printed, f"{where} should print {expected!r}, printed {printed}"
    for secret in SECRETS_LOGGED:
        assert secret not in result.stdout + result.stderr, f"{where} printed {secret}"
        for path in (p for p in cwd.rglob("*") if p.is_file()):
            data = path.read_bytes()
            data = gzip.decompress(data) if path.suffix == ".gz" else data
            assert secret.encode() not in data, f"{where} wrote {secret} to {path.name}"


@pytest.fixture
def readme_env(subprocess_env: dict[str, str]) -> dict[str, str]:
    """The environment for README blocks: this checkout's package and its ``dihya-logs``."""
    env = dict(subprocess_env)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def test_every_block_is_run_or_checked() -> None:
    """Each block runs, or is the record or a shipped file; only a few are marked no-run."""
    for block in BLOCKS:
        assert (
            block.runs
            or block.language == "json"
            or "file" in block.options
            or ("no-run" in block.flags)
        ), f"README.md line {block.line}: ```{block.language} is neither run nor checked"
    assert len([b for b in BLOCKS if "no-run" in b.flags]) <= MAX_NO_RUN


def test_quick_start_runs_twice_in_a_row(tmp_path: Path, readme_env: dict[str, str]) -> None:
    """The quick start works as pasted, and again in the same directory (nothing left behind
    makes the second run fail)."""
    for _ in range(2):
        assert_ran(QUICK_START, run_block(QUICK_START, tmp_path, readme_env), tmp_path)
    assert (tmp_path / "audit.csv").is_file()
    events = [json.loads(line)["event"] for line in (tmp_path / "logs/generation.log").open()]
    assert events == ["export", "purge"] * 2  # the generations were erased by the purges


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: f"line{b.line}")
def test_python_block_runs(block: Block, tmp_path: Path, readme_env: dict[str, str]) -> None:
    """Each python block of the README runs as pasted into a fresh directory."""
    assert_ran(block, run_block(block, tmp_path, readme_env), tmp_path)


@pytest.mark.postgres
def test_postgres_block_runs(pg_dsn: str, tmp_path: Path, readme_env: dict[str, str]) -> None:
    """The PostgreSQL example writes to and reads from a real server."""
    (block,) = [b for b in BLOCKS if "postgres" in b.flags]
    env = {**readme_env, "DIHYA_PG_DSN": pg_dsn}
    assert_ran(block, run_block(block, tmp_path, env), tmp_path)


@pytest.mark.parametrize("block", SHELL, ids=lambda b: f"line{b.line}")
def test_shell_block_runs_on_a_log(
    block: Block, tmp_path: Path, readme_env: dict[str, str]
) -> None:
    """Each dihya-logs command of the README succeeds on a (chained) log of generations."""
    assert shutil.which("dihya-logs", path=readme_env["PATH"]), "dihya-logs is not installed"
    seed = (
        "import dihya_logging as d\n"
        "d.configure(chain=True)\n"
        "for user in ('user_123', 'user_9', 'user_123'):\n"
        "    d.log_generation_event(user, {'stack': 'api'}, ['app.py'])\n"
    )
    subprocess.run([sys.executable, "-c", seed], cwd=tmp_path, env=readme_env, check=True)
    assert_ran(block, run_block(block, tmp_path, readme_env), tmp_path)


def test_record_block_is_what_a_generation_writes(tmp_path: Path) -> None:
    """Logging the generation the README shows writes exactly that record (time aside)."""
    (block,) = [b for b in BLOCKS if b.language == "json"]
    shown = json.loads(block.code)
    dl.configure(tmp_path / "generation.log")
    needs = {key: shown[key] for key in ("project_name", "stack", "plugins", "template")}
    dl.log_generation_event(shown["user_id"], needs, shown["files"])
    logging.getLogger(dl.LOGGER_NAME).handlers[-1].flush()
    (line,) = (tmp_path / "generation.log").read_text(encoding="utf-8").splitlines()
    written = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", written["timestamp"])
    assert list(written) == list(shown)
    assert {**written, "timestamp": shown["timestamp"]} == shown


def test_file_blocks_are_the_shipped_files() -> None:
    """A block that shows a file (``file=PATH``) is that file, byte for byte."""
    shown = [b for b in BLOCKS if "file" in b.options]
    assert shown, "the README shows the shipped logging.ini"
    for block in shown:
        assert block.code == (ROOT / block.options["file"]).read_text(encoding="utf-8")


def test_relative_links_point_to_files() -> None:
    """Every relative link of the README names a file or folder of this repository."""
    text = README.read_text(encoding="utf-8")
    targets = {t for t in re.findall(r"\]\(([^)#]+)\)", text) if "://" not in t}
    assert targets, "the README links to its docs and examples"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"broken links: {missing}"


@pytest.mark.slow
def test_wheel_ships_what_the_readme_uses(tmp_path: Path) -> None:
    """The built wheel holds the logging.ini the README copies from the package, and py.typed."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        check=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("dihya_logging-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        shipped = archive.read("dihya_logging/logging.ini").decode("utf-8")
    assert shipped == (ROOT / "dihya_logging" / "logging.ini").read_text(encoding="utf-8")
    assert {"dihya_logging/py.typed", "dihya_logging/postgres/schema.sql"} <= names
