"""Helpers for the export, exporter and CLI tests: sample records, log files, CSV decoding.

Also holds small exporter objects that hand-made entry points point at (``helpers_export:…``),
to test how broken or odd plug-ins are handled; the real plug-in is the installed
``tests/plugins/dihya_test_exporter`` package.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LIST_COLUMNS = ("files", "plugins")


def sample_records(count: int = 6, *, start_day: int = 1) -> list[dict[str, Any]]:
    """Varied generation records (unicode, lists, nested extras, formula-like text, errors)."""
    records = []
    stacks = ("fullstack", "backend", "frontend")
    for index in range(count):
        day = start_day + index % 20
        record: dict[str, Any] = {
            "timestamp": f"2026-03-{day:02d}T12:00:{index % 60:02d}.{index % 1000:03d}Z",
            "level": "INFO",
            "logger": "dihya.generation",
            "message": "generation",
            "event": "generation",
            "user_id": f"user_{index % 3}",
            "project_name": [
                "Blog Amazigh ⵜⴰⵎⴰⵣⵉⵖⵜ",
                '=HYPERLINK("x")',
                'Café, "quoted"\nline',
                "[draft] {shop}",
            ][index % 4],
            "stack": stacks[index % 3],
            "files": ["README.md", "backend/app.py", "frontend/App.js"][: 1 + index % 3],
            "files_count": 1 + index % 3,
            "plugins": [["analytics"], [], ["{x}", "'q"], ["a|b"]][index % 4],
            "template": "e-commerce" if index % 2 else None,
            "status": "error" if index % 4 == 3 else "success",
            "error": "-boom: disk full" if index % 4 == 3 else None,
        }
        if index % 3 == 1:
            record["request"] = {"ip_country": "DZ", "depth": [1, {"x": None}]}
            record["retries"] = -2
            record["dry_run"] = True
        records.append(record)
    return records


def write_log(path: Path, records: Iterable[dict[str, Any]], *, gz: bool = False) -> None:
    """Write records as a log file (compact JSON lines, like the formatter), mode 0o600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(
        json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for r in records
    )
    if gz:
        data = gzip.compress(data)
    path.write_bytes(data)
    os.chmod(path, 0o600)


def write_rotated_log(log: Path, records: list[dict[str, Any]]) -> None:
    """Spread records, oldest first, over ``log.3.gz``, ``log.2``, ``log.1.gz`` and ``log``."""
    quarter = max(len(records) // 4, 1)
    parts = [records[:quarter], records[quarter : 2 * quarter], records[2 * quarter : 3 * quarter]]
    write_log(log.with_name(log.name + ".3.gz"), parts[0], gz=True)
    write_log(log.with_name(log.name + ".2"), parts[1])
    write_log(log.with_name(log.name + ".1.gz"), parts[2], gz=True)
    write_log(log, records[3 * quarter :])


def read_bytes_any(path: Path) -> bytes:
    """File content, gunzipped when it is gzip."""
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file (gz or not)."""
    return [json.loads(line) for line in read_bytes_any(path).decode().splitlines() if line]


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV export (gz or not)."""
    text = read_bytes_any(path).decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = list(reader)
    header = rows[0]
    return header, [dict(zip(header, row)) for row in rows[1:]]


def decode_cell(column: str, cell: str) -> Any:
    """Read a CSV cell back under the documented rules: ' = text, [ or { = JSON, else text."""
    if cell.startswith("'"):
        text = cell[1:]
    elif cell.startswith(("[", "{")):
        return json.loads(cell)
    else:
        text = cell
    if column in LIST_COLUMNS:
        return text.split("|") if text else []
    return text


def expected_cell(column: str, value: Any) -> Any:
    """What `decode_cell` should give back for an original value."""
    if column in LIST_COLUMNS:
        return value or []
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return value


class NotAnExporter:
    """Loaded by a hand-made entry point: it has no export() method."""

    scheme = "broken"


class WrongScheme:
    """Loaded by a hand-made entry point named differently from its scheme."""

    scheme = "other"

    def export(self, records: Iterable[dict[str, Any]], destination: str, *, context: Any) -> int:
        """Count the records."""
        return sum(1 for _ in records)


class MutatingHook:
    """An exporter whose purge hook mutates the event it gets (it must get a copy)."""

    scheme = "mutating"

    def export(self, records: Iterable[dict[str, Any]], destination: str, *, context: Any) -> int:
        """Count the records."""
        return sum(1 for _ in records)

    def on_purge(self, event: dict[str, Any]) -> None:
        """Vandalise the event."""
        event["filters"]["user_id"] = "changed"
        event.clear()


class NoHook:
    """An exporter without a purge hook (it must be skipped by notify_purge)."""

    scheme = "nohook"

    def export(self, records: Iterable[dict[str, Any]], destination: str, *, context: Any) -> int:
        """Count the records."""
        return sum(1 for _ in records)


class LeakyHook:
    """An exporter whose purge hook fails with a long, multi-line, secret-bearing message."""

    scheme = "leaky"

    def export(self, records: Iterable[dict[str, Any]], destination: str, *, context: Any) -> int:
        """Count the records."""
        return sum(1 for _ in records)

    def on_purge(self, event: dict[str, Any]) -> None:
        """Fail loudly."""
        raise RuntimeError("connect failed\npassword=hunter2 " + "x" * 1000)


def failing_hook_point() -> Any:
    """A hand-made entry point to `LeakyHook`."""
    from importlib.metadata import EntryPoint

    return EntryPoint(
        name="leaky", value="helpers_export:LeakyHook", group="dihya_logging.exporters"
    )


def run_cli(
    *args: str, env: dict[str, str], input: str | None = None, cwd: Path | None = None
) -> Any:
    """Run ``python -m dihya_logging ARGS`` as a real subprocess; capture text output."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "dihya_logging", *args],
        capture_output=True,
        text=True,
        env=env,
        input=input,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def assert_one_line_error(result: Any, status: int | None = None, *, match: str = "") -> None:
    """A failed run: non-zero (or ``status``), one ``dihya-logs: error:`` line, no traceback."""
    assert result.returncode != 0
    if status is not None:
        assert result.returncode == status
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("dihya-logs: error: "), result.stderr
    assert match in result.stderr, result.stderr


def writing_logger(path: Path, name: str, **options: Any) -> tuple[logging.Logger, Any]:
    """A private logger writing through a real GenerationLogHandler (and that handler)."""
    from dihya_logging import GenerationLogHandler, RedactingJsonFormatter

    handler = GenerationLogHandler(path, **options)
    handler.setFormatter(RedactingJsonFormatter())
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger, handler
