"""Lawful purges keep a chained log verifiable; a purge cannot be faked or used to hide more."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from pathlib import Path

import pytest

from dihya_logging import (
    GenerationLogHandler,
    RedactingJsonFormatter,
    export_generation_logs,
    purge_generation_logs,
    verify_generation_logs,
)
from tests.helpers_chain import INTACT, KEY, TAMPERED, lines_of, records_of, write_lines


def _log(path: Path, count: int, start: int = 0) -> None:
    """``count`` events through the real formatter and a chained, rotating, gzipping handler."""
    handler = GenerationLogHandler(path, maxBytes=3000, compress=True, chain=True)
    handler.setFormatter(RedactingJsonFormatter())
    logger = logging.getLogger(f"tests.verify_purge.{start}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for n in range(start, start + count):
            fields = {"event": "generation", "user_id": f"user_{n % 4}", "n": n}
            logger.info("generation", extra=fields)
    finally:
        handler.close()


@pytest.fixture
def chained(log_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """40 chained events over several rotated, gzipped files; the key in the environment."""
    monkeypatch.setenv("DIHYA_CHAIN_KEY", KEY.decode())
    _log(log_path, 40)
    assert verify_generation_logs(log_path).status == INTACT
    return log_path


def test_user_purge_verifies(chained: Path) -> None:
    """A GDPR erasure tombstones the user's records; the purge record authorises them."""
    assert purge_generation_logs(user_id="user_1", path=chained) == 10
    report = verify_generation_logs(chained)
    assert report.status == INTACT, report.problems
    assert (report.tombstones, report.records) == (10, 31)


def test_anonymize_verifies(chained: Path) -> None:
    """Anonymized records keep their place in the chain, authorised by the purge record."""
    assert purge_generation_logs(user_id="user_2", anonymize=True, path=chained) == 10
    report = verify_generation_logs(chained)
    assert report.status == INTACT, report.problems
    assert report.anonymized == 10


def test_retention_and_full_purges_verify(chained: Path) -> None:
    """A retention purge, then a purge of everything, both leave an intact chain."""
    assert purge_generation_logs(before="2100-01-01", path=chained) == 40
    assert verify_generation_logs(chained).status == INTACT
    assert purge_generation_logs(all=True, path=chained) == 0
    report = verify_generation_logs(chained)
    assert report.status == INTACT, report.problems
    assert report.tombstones == 40
    assert report.records == 2


def test_deleting_the_purge_record_exposes_the_tombstones(chained: Path) -> None:
    """Without its purge record, every tombstone is unauthorised (and the record is missing)."""
    purge_generation_logs(user_id="user_3", path=chained)
    lines = lines_of(chained)
    purge_line = next(i for i, line in enumerate(lines) if b'"event":"purge"' in line)
    del lines[purge_line]
    write_lines(chained, lines)
    report = verify_generation_logs(chained)
    assert report.status == TAMPERED
    assert sum("tombstone not authorised" in p for p in report.problems) == 10


def test_a_purge_cannot_cover_an_extra_tombstone(chained: Path) -> None:
    """A record tombstoned by hand after a lawful purge is not covered by that purge."""
    purge_generation_logs(user_id="user_3", path=chained)
    _log(chained, 4, start=40)
    lines = lines_of(chained)
    record = json.loads(lines[-1])
    assert record["user_id"] == "user_3"
    stone = {k: record[k] for k in ("seq", "commit", "link")}
    lines[-1] = json.dumps({"tombstone": True, **stone}, separators=(",", ":")).encode() + b"\n"
    write_lines(chained, lines)
    report = verify_generation_logs(chained)
    assert report.status == TAMPERED
    assert report.problems == [
        f"generation.log line {len(lines)} (seq {record['seq']}): tombstone not authorised "
        "by any later purge record"
    ]


def _writer(path: str, key: str) -> None:
    os.environ["DIHYA_CHAIN_KEY"] = key
    _log(Path(path), 150, start=1000)


def test_purge_while_another_process_writes_verifies(chained: Path) -> None:
    """A purge under the lock while a writer process keeps appending: intact, nothing lost."""
    writer = multiprocessing.get_context("fork").Process(
        target=_writer, args=(str(chained), KEY.decode())
    )
    writer.start()
    purged = purge_generation_logs(user_id="user_0", path=chained)
    writer.join(60)
    assert writer.exitcode == 0
    assert purged >= 10
    report = verify_generation_logs(chained)
    assert report.status == INTACT, report.problems
    kept = [r["n"] for r in records_of(chained) if "n" in r]
    others = sorted(n for n in kept if n % 4)
    assert others == [n for n in range(40) if n % 4] + [n for n in range(1000, 1150) if n % 4]
    user_0 = [n for n in kept if n % 4 == 0]
    assert all(n >= 1000 for n in user_0)
    assert len(user_0) + purged == 10 + 38


def test_purge_and_export_without_the_key_are_refused_up_front(
    chained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A keyed log refuses a purge or export it could not audit in-chain; nothing changes."""
    before = lines_of(chained)
    monkeypatch.delenv("DIHYA_CHAIN_KEY")
    with pytest.raises(ValueError, match="DIHYA_CHAIN_KEY"):
        purge_generation_logs(user_id="user_1", path=chained)
    with pytest.raises(ValueError, match="DIHYA_CHAIN_KEY"):
        export_generation_logs(tmp_path / "out.jsonl", path=chained)
    assert lines_of(chained) == before
    assert not (tmp_path / "out.jsonl").exists()
    monkeypatch.setenv("DIHYA_CHAIN_KEY", KEY.decode())
    assert verify_generation_logs(chained).status == INTACT
