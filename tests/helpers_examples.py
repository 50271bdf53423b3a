"""Shared pieces of the example tests: run an example as a script, read and scan its logs."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SECRETS = ("sk_live_51Habcdefghijklmnopqrstuv", "hunter2-db-pass")
"""What the example apps log on purpose and must never reach a file."""


def run_example(
    script: str, cwd: Path, env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<script>`` with ``args`` in ``cwd``; fail with its output if it fails."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result


def read_log(path: Path) -> list[dict[str, Any]]:
    """Every record of a log set's files (rotated and gzipped ones first), as dicts."""
    rotated = sorted(path.parent.glob(path.name + ".*[0-9]*"), key=_age, reverse=True)
    files = [*rotated, path]
    records = []
    for file in files:
        data = file.read_bytes()
        text = (gzip.decompress(data) if file.suffix == ".gz" else data).decode("utf-8")
        records += [json.loads(line) for line in text.splitlines()]
    return records


def _age(path: Path) -> int:
    """The rotation number of ``generation.log.N[.gz]`` (bigger is older)."""
    return int(path.name.split(".log.", 1)[1].split(".", 1)[0])


def assert_no_secret(directory: Path) -> None:
    """No file under ``directory`` holds any of the examples' secrets, compressed or not."""
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            data = gzip.decompress(data) if path.suffix == ".gz" else data
            for secret in SECRETS:
                assert secret.encode() not in data, f"{secret} written to {path}"
