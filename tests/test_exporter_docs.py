"""The worked example of docs/exporters.md runs as written: export, audit, erasure."""

from __future__ import annotations

import re
import sqlite3
import types
from pathlib import Path
from typing import Any

import pytest
from helpers_export import sample_records, write_log

from dihya_logging import get_generation_logs
from dihya_logging.exporters import unregister_exporter
from dihya_logging.store import pseudonymize_user_id

DOC = Path(__file__).resolve().parent.parent / "docs" / "exporters.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_worked_example_exports_and_erases(
    log_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SQLite exporter of the how-to, registered as shown, archives and then erases."""
    records = sample_records(9)
    write_log(log_path, records)
    monkeypatch.setenv("DIHYA_LOG_FILE", str(log_path))
    (plugin,) = [b for b in _python_blocks() if b.startswith('"""dihya_sqlite.py')]
    (usage,) = [b for b in _python_blocks() if "register_exporter(SQLiteExporter())" in b]
    module = types.ModuleType("dihya_sqlite")
    exec(compile(plugin, "dihya_sqlite.py", "exec"), module.__dict__)  # noqa: S102
    archive = tmp_path / "audit.db"
    usage = usage.replace("/srv/archive/audit.db", str(archive)).replace("user_123", "user_1")
    namespace: dict[str, Any] = {"SQLiteExporter": module.SQLiteExporter}
    try:
        exec(compile(usage, "usage.py", "exec"), namespace)  # noqa: S102
    finally:
        unregister_exporter("sqlite")
    with sqlite3.connect(archive) as db:
        tokens = [row[0] for row in db.execute("SELECT user_token FROM records")]
    wanted = [r for r in records if r["timestamp"] >= "2026-01-01"]
    assert len(tokens) == len(wanted) - sum(r["user_id"] == "user_1" for r in wanted)
    assert pseudonymize_user_id("user_1", path=log_path) not in tokens
    (export,) = get_generation_logs(event="export", path=log_path)
    assert export["destination"] == "sqlite://audit.db"
    assert export["receipt"] == {"rows": len(wanted)}
    (purge,) = get_generation_logs(event="purge", path=log_path)
    assert {"exporter": "sqlite", "ok": True, "error": None} in purge["recipients"]
