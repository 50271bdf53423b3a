"""Purging a chained log: removed records become tombstones, changed ones are resealed."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from dihya_logging import (
    GenerationLogHandler,
    RedactingJsonFormatter,
    get_generation_logs,
    log_generation_event,
    purge_generation_logs,
    verify_generation_logs,
)
from dihya_logging.store import RecordFilter, pseudonymize_user_id
from dihya_logging.store._filestore import FileStore
from tests.helpers_store import all_bytes, record, write_file


def _chained(n: int, user: str, **more: object) -> dict:
    """A record carrying chain fields (values shaped like the sealer's, not a valid chain)."""
    digest = hashlib.sha256(str(n).encode()).hexdigest()
    return {
        **record(n, user, **more),
        "seq": n,
        "salt": digest[:32],
        "commit": digest,
        "link": digest[::-1],
    }


def test_a_removed_chained_record_becomes_a_tombstone(log_path: Path) -> None:
    """seq, commit and link stay; payload and salt go; the seqs are reported."""
    written = [_chained(n, "u1" if n % 2 else "u2") for n in range(1, 7)]
    write_file(log_path, written)
    store = FileStore(log_path)
    outcome = store.purge(user_id="u1")
    assert outcome.count == 3
    assert outcome.details["tombstoned"] == [1, 3, 5]
    lines = [json.loads(x) for x in log_path.read_bytes().splitlines()]
    for original, now in zip(written, lines):
        if original["user_id"] == "u1":
            assert now == {
                "tombstone": True,
                "seq": original["seq"],
                "commit": original["commit"],
                "link": original["link"],
            }
        else:
            assert now == original
    assert [r["seq"] for r in store.iter_records(RecordFilter())] == [2, 4, 6]
    assert b"u1" not in log_path.read_bytes()


def test_an_anonymized_chained_record_is_resealed(log_path: Path) -> None:
    """Anonymized records keep seq/commit/link, lose the salt, and are marked anonymized."""
    written = [_chained(n, "u7" if n < 3 else "u8") for n in range(1, 5)]
    write_file(log_path, written)
    outcome = FileStore(log_path).purge(user_id="u7", anonymize=True)
    assert outcome.count == 2
    assert outcome.details["resealed"] == [1, 2]
    assert "tombstoned" not in outcome.details
    token = pseudonymize_user_id("u7", path=log_path)
    lines = [json.loads(x) for x in log_path.read_bytes().splitlines()]
    for original, now in zip(written[:2], lines[:2]):
        assert now["anonymized"] is True
        assert now["user_id"] == token
        assert "salt" not in now
        assert (now["seq"], now["commit"], now["link"]) == (
            original["seq"],
            original["commit"],
            original["link"],
        )
    assert lines[2:] == written[2:]


def test_a_full_purge_of_a_chained_log_keeps_the_tombstones(log_path: Path) -> None:
    """Everything is tombstoned (never dropped), and existing tombstones stay."""
    old_tombstone = {"tombstone": True, "seq": 1, "commit": "a" * 64, "link": "b" * 64}
    write_file(log_path, [old_tombstone, _chained(2, "x"), _chained(3, "y")])
    outcome = FileStore(log_path).purge()
    assert outcome.count == 2
    assert outcome.details["tombstoned"] == [2, 3]
    lines = [json.loads(x) for x in log_path.read_bytes().splitlines()]
    assert lines[0] == old_tombstone
    assert all(line["tombstone"] is True for line in lines)


def test_lawful_purges_of_a_real_chain_still_verify(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """User, anonymize and retention purges of a sealed, rotated log leave it verifiable."""
    key = "k" * 32
    monkeypatch.setenv("DIHYA_CHAIN_KEY", key)
    handler = GenerationLogHandler(
        log_path, maxBytes=3000, backupCount=100, compress=True, chain=True
    )
    handler.setFormatter(RedactingJsonFormatter())
    for n in range(40):
        log_generation_event(
            f"user_{n % 3}", {"project_name": f"p{n}"}, [], logger=_logger(handler)
        )
    handler.close()  # the purge events go through the store's own (chained) handler
    assert verify_generation_logs(log_path, key=key).ok
    assert purge_generation_logs(user_id="user_1", path=log_path) == 13
    assert purge_generation_logs(user_id="user_2", anonymize=True, path=log_path) == 13
    events = get_generation_logs(event="purge", path=log_path)
    assert [bool(e.get("tombstoned")) for e in events] == [True, False]
    assert events[1]["resealed"]
    assert all("seq" in e for e in events)
    assert purge_generation_logs(before="2100-01-01", path=log_path) == 27
    report = verify_generation_logs(log_path, key=key)
    assert report.ok, report.problems
    assert all(b"user_1" not in data for data in all_bytes(log_path).values())


def _logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger("tests.purge_chain")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger
