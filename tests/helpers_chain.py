"""Shared helpers of the chain tests: write real chained logs, and the forger's tools."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Optional

from dihya_logging import GenerationLogHandler
from dihya_logging._logset import LogSet
from dihya_logging.chain._format import (
    HEAD_OFFSET,
    Linker,
    parse_entry,
    parse_sealed,
    render_head,
    seal_text,
)

KEY = b"test chain key, never on disk"
INTACT, TAMPERED, CANNOT_CHECK = "intact", "tampered", "cannot check"
"""The public values of `VerifyReport.status` (the contract: pinned here, not imported)."""


class JsonLines(logging.Formatter):
    """A minimal compact JSON formatter (the chain does not depend on which one is used)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "timestamp": "2026-11-23T12:34:56.789Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}))
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def make_handler(path: Path, key: Optional[bytes] = KEY, **options: Any) -> GenerationLogHandler:
    """A chained `GenerationLogHandler` with the minimal formatter."""
    handler = GenerationLogHandler(path, chain=True, chain_key=key, **options)
    handler.setFormatter(JsonLines())
    return handler


def log_events(
    path: Path, count: int, *, start: int = 0, key: Optional[bytes] = KEY, **options: Any
) -> None:
    """Log ``count`` generation events through a fresh chained handler, then close it."""
    handler = make_handler(path, key, **options)
    try:
        for i in range(start, start + count):
            fields = {"event": "generation", "user_id": f"user_{i % 5}", "n": i, "pad": "x" * 40}
            handler.handle(logging.makeLogRecord({"msg": "generation", "fields": fields}))
    finally:
        handler.close()


def lines_of(path: Path) -> list[bytes]:
    """The file's lines, newline kept."""
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, lines: list[bytes]) -> None:
    """Rewrite a log file in place (the tamperer does not care about locks)."""
    path.write_bytes(b"".join(lines))


def records_of(log: Path) -> list[dict[str, Any]]:
    """Every chain entry of the log set, oldest first, parsed."""
    out: list[dict[str, Any]] = []
    for path in LogSet(log).files():
        data = (
            gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        )
        out.extend(json.loads(line) for line in data.splitlines() if line.strip())
    return out


def forge_from(path: Path, index: int, edit: bytes, key: Optional[bytes]) -> None:
    """The forger: replace line ``index``'s payload by ``edit`` (a JSON object), then recompute
    its commitment and every later link with ``key`` (None: plain SHA-256), and the state head."""
    lines = lines_of(path)
    link_of = Linker(key).link
    previous = parse_entry(lines[index - 1].rstrip(b"\n")) if index else None
    prev_link = previous.link if previous is not None else bytes(32)
    for i in range(index, len(lines)):
        sealed = parse_sealed(lines[i].rstrip(b"\n"))
        assert sealed is not None
        payload, seq, salt, _, _ = sealed
        if i == index:
            payload = edit
        commit = hashlib.sha256(salt + payload).digest()
        link = link_of(prev_link, seq, commit)
        lines[i] = seal_text(payload.decode(), seq, salt, commit, link).encode() + b"\n"
        prev_link = link
    write_lines(path, lines)
    set_state_head(path, seq, prev_link)


def set_state_head(path: Path, seq: int, link: bytes) -> None:
    """Rewrite the state file's head, as a careful tamperer would."""
    fd = os.open(LogSet(path).chain_state_path, os.O_RDWR)
    try:
        os.pwrite(fd, render_head(seq, link.hex().encode("ascii")), HEAD_OFFSET)
    finally:
        os.close(fd)
