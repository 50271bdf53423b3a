"""Fixture logs for the store tests: JSON lines written by hand in the log set's naming."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dihya_logging._logset import LogSet


def record(
    n: int, user: str, *, day: int = 1, status: str = "success", **more: Any
) -> dict[str, Any]:
    """One generation record numbered ``n``, on day ``day`` of January 2026."""
    clock = f"{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1000:03d}"
    return {
        "timestamp": f"2026-01-{day:02d}T{clock}Z",
        "level": "INFO",
        "logger": "dihya.generation",
        "message": "generation",
        "event": "generation",
        "user_id": user,
        "project_name": f"project {n}",
        "stack": "fullstack",
        "files": ["README.md", "backend/app.py"],
        "plugins": ["analytics"],
        "template": "blog",
        "status": status,
        "error": None,
        "n": n,
        **more,
    }


def line(rec: dict[str, Any]) -> bytes:
    """A record as the formatter writes it (compact JSON, UTF-8, newline)."""
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def write_file(
    path: Path, records: Iterable[dict[str, Any]], *, gz: bool = False, tail: bytes = b""
) -> None:
    """Write records (then ``tail`` raw bytes) to ``path``, gzipped if asked."""
    data = b"".join(line(r) for r in records) + tail
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wb") as out:
            out.write(data)
    else:
        path.write_bytes(data)


def build_log(
    path: Path,
    users: Sequence[str] = ("user_1", "user_2", "user_3"),
    *,
    per_file: int = 30,
    layout: Sequence[tuple[int, bool]] = ((3, True), (2, False), (1, True)),
) -> list[dict[str, Any]]:
    """A log set: rotated files per ``layout`` ((index, gzipped), oldest first) and the live
    file, ``per_file`` records each, users round-robin, one day per file; returns all records
    in chronological order."""
    logset = LogSet(path)
    records: list[dict[str, Any]] = []
    files = [(logset.rotated_path(i, gz), gz) for i, gz in layout] + [(logset.path, False)]
    n = 0
    for day, (target, gz) in enumerate(files, start=1):
        chunk = [
            record(
                n + k,
                users[(n + k) % len(users)],
                day=day,
                status="error" if (n + k) % 5 == 0 else "success",
            )
            for k in range(per_file)
        ]
        n += per_file
        write_file(target, chunk, gz=gz)
        records.extend(chunk)
    return records


def all_bytes(path: Path) -> dict[str, bytes]:
    """Every file beside the log (decompressed when gzipped), by name."""
    out: dict[str, bytes] = {}
    for file in sorted(path.parent.iterdir()):
        if file.is_file():
            data = file.read_bytes()
            out[file.name] = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return out
