"""Shared pieces of the leak tests: fake secrets, a real rotating gzip sink, a disk scan."""

from __future__ import annotations

import contextlib
import gzip
import logging
from collections.abc import Iterator
from pathlib import Path

from dihya_logging import GenerationLogHandler, RedactingJsonFormatter

SECRET = "zq8Hunter2Wvx"  # matches no value pattern: only key-based masking can hide it
GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def disk_text(root: Path) -> str:
    """Every byte of every file under root (gz decompressed too), as text."""
    out = []
    for f in sorted(root.rglob("*")):
        if f.is_file():
            data = f.read_bytes()
            out.append(data.decode("utf-8", "replace"))
            if f.suffix == ".gz":
                out.append(gzip.decompress(data).decode("utf-8", "replace"))
    return "\n".join(out)


def assert_clean(root: Path, *secrets: str) -> None:
    """Something was written under root, and none of `secrets` is in any byte of it."""
    text = disk_text(root)
    assert text.strip(), "nothing was written"
    for s in secrets:
        assert s not in text, f"{s!r} reached the disk"


@contextlib.contextmanager
def open_sink(tmp_path: Path) -> Iterator[tuple[logging.Logger, Path]]:
    """A fresh logger writing through GenerationLogHandler (rotating, gzip) into tmp_path."""
    root = tmp_path / "logs"
    handler = GenerationLogHandler(
        root / "generation.log", maxBytes=4096, backupCount=5, compress=True
    )
    handler.setFormatter(RedactingJsonFormatter())
    logger = logging.getLogger(f"leaktest.{tmp_path.name}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield logger, root
    finally:
        logger.removeHandler(handler)
        handler.close()
