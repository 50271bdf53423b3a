"""Line-level reading: blocks, reverse reading, damaged lines, gzip sniffing, bytes read."""

from __future__ import annotations

import gzip
import io
import warnings
from pathlib import Path

import pytest

from dihya_logging.store._backend import RecordFilter
from dihya_logging.store._reading import (
    DamagedLineWarning,
    ReadStats,
    iter_blocks,
    iter_file_records,
    open_log_file,
    tail_file_records,
)
from tests.helpers_store import line, record, write_file


def _read(path: Path, flt: RecordFilter | None = None) -> list[dict]:
    stats = ReadStats()
    stream, _ = open_log_file(path, stats)
    with stream:
        return list(iter_file_records(stream, path, flt or RecordFilter(), stats))


def _tail(path: Path, limit: int, flt: RecordFilter | None = None) -> tuple[list[dict], ReadStats]:
    stats = ReadStats()
    stream, compressed = open_log_file(path, stats)
    with stream:
        found = tail_file_records(stream, compressed, path, limit, flt or RecordFilter(), stats)
    return found, stats


def test_blocks_split_on_line_boundaries_and_flag_a_partial_end() -> None:
    """Blocks hold whole lines; a final piece without newline comes alone, flagged partial."""
    data = b"".join(b"line %d\n" % i for i in range(1000)) + b"cut"
    blocks = list(iter_blocks(io.BytesIO(data), size=100))
    assert b"".join(b for b, _, _ in blocks) == data
    assert all(b.endswith(b"\n") for b, _, partial in blocks if not partial)
    assert [p for _, _, p in blocks].count(True) == 1
    assert blocks[-1] == (
        b"cut",
        len(data) - 3,
        True,
    )
    assert all(data[off : off + len(b)] == b for b, off, _ in blocks)


def test_damaged_and_partial_lines_are_skipped_with_a_warning_naming_file_and_line(
    tmp_path: Path,
) -> None:
    """A non-JSON line and a crash-cut last line are skipped; each warning names file and line."""
    path = tmp_path / "generation.log"
    write_file(
        path,
        [record(1, "a")],
        tail=b"not json\n[1, 2]\n" + line(record(2, "b")) + b'{"timestamp": "20',
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = _read(path)
    assert [r["n"] for r in records] == [1, 2]
    damaged = [w.message for w in caught if isinstance(w.message, DamagedLineWarning)]
    assert [(d.line, d.reason) for d in damaged] == [
        (2, "not a JSON object"),
        (3, "not a JSON object"),
        (5, "incomplete last line (crash or write in progress)"),
    ]
    assert all(d.file == str(path) for d in damaged)


def test_tombstones_are_skipped_silently(tmp_path: Path) -> None:
    """A tombstone line is no record and no damage."""
    path = tmp_path / "generation.log"
    write_file(
        path,
        [record(1, "a"), {"tombstone": True, "seq": 2, "commit": "c", "link": "l"}, record(3, "a")],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r["n"] for r in _read(path)] == [1, 3]
        assert [r["n"] for r in _tail(path, 5)[0]] == [3, 1]


def test_gzip_is_sniffed_from_the_content_not_the_name(tmp_path: Path) -> None:
    """A gzipped file without .gz and a plain file named .gz both read correctly."""
    zipped, plain = tmp_path / "a.log.1", tmp_path / "a.log.2.gz"
    zipped.write_bytes(gzip.compress(line(record(1, "a"))))
    plain.write_bytes(line(record(2, "b")))
    assert [r["n"] for r in _read(zipped)] == [1]
    assert [r["n"] for r in _read(plain)] == [2]


def test_tail_reads_backwards_only_what_it_needs(tmp_path: Path) -> None:
    """limit=N on a plain file costs about one 64 KiB block, not the whole file."""
    path = tmp_path / "generation.log"
    write_file(path, (record(n, f"user_{n % 50}") for n in range(20000)))
    size = path.stat().st_size
    found, stats = _tail(path, 10)
    assert [r["n"] for r in found] == list(range(19999, 19989, -1))
    assert size > 4_000_000
    assert stats.bytes_read <= 65536


def test_tail_handles_lines_longer_than_a_block_and_no_final_newline(tmp_path: Path) -> None:
    """Reverse reading joins lines across blocks and flags a missing final newline."""
    path = tmp_path / "generation.log"
    big = record(1, "a", files=["x" * 200_000])
    write_file(path, [record(0, "a"), big, record(2, "a")], tail=b'{"cut')
    with pytest.warns(DamagedLineWarning, match="incomplete last line"):
        found, _ = _tail(path, 3)
    assert [r["n"] for r in found] == [2, 1, 0]
    assert found[1]["files"] == big["files"]


def test_tail_applies_filters_and_reports_damage_by_offset(tmp_path: Path) -> None:
    """Filtered tail returns the newest matches; a damaged line is named by its byte offset."""
    path = tmp_path / "generation.log"
    head = b"".join(line(record(n, f"user_{n % 3}")) for n in range(30))
    damaged = b'{"user_id":"user_0","status":"success","cut\n'  # could match: parsed, reported
    path.write_bytes(head + damaged + b"garbage\n" + line(record(30, "user_0")))
    with pytest.warns(DamagedLineWarning, match=f"byte {len(head)}"):
        found, _ = _tail(path, 4, RecordFilter(user_id="user_0", status="success"))
    assert [r["n"] for r in found] == [30, 27, 24, 21]


def test_gzipped_tail_keeps_the_last_matches(tmp_path: Path) -> None:
    """A .gz file is read forward once, keeping the newest N matches."""
    path = tmp_path / "generation.log.1.gz"
    write_file(path, (record(n, "a") for n in range(100)), gz=True)
    found, stats = _tail(path, 3)
    assert [r["n"] for r in found] == [99, 98, 97]
    assert stats.bytes_read == path.stat().st_size


def test_read_refuses_a_symlink(tmp_path: Path) -> None:
    """Opening a log file never follows a symlink planted in its place."""
    target = tmp_path / "elsewhere"
    write_file(target, [record(1, "a")])
    (tmp_path / "generation.log").symlink_to(target)
    with pytest.raises(OSError, match=r"symbolic links|Too many levels"):
        open_log_file(tmp_path / "generation.log", ReadStats())
