"""Line-level reading: blocks, reverse reading, damaged lines, gzip sniffing, bytes read."""

from __future__ import annotations

import gzip
import io
import os
import warnings
import zlib
from pathlib import Path

import pytest

from dihya_logging.store import RecordFilter
from dihya_logging.store._reading import (
    DamagedFileWarning,
    ReadStats,
    iter_blocks,
    iter_file_records,
    open_log_file,
    tail_file_records,
)
from tests.helpers_store import line, record, write_file


def _read(
    path: Path, flt: RecordFilter | None = None, stats: ReadStats | None = None
) -> list[dict]:
    stats = stats if stats is not None else ReadStats()
    stream, _ = open_log_file(path, stats, salvage=True)
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


def test_damaged_and_partial_lines_are_one_summary_naming_file_and_first_line(
    tmp_path: Path,
) -> None:
    """A non-JSON line and a crash-cut last line are skipped; ONE warning sums up the file."""
    path = tmp_path / "generation.log"
    tail = b"not json\n[1, 2]\n" + line(record(2, "b")) + b'{"timestamp": "20'
    write_file(path, [record(1, "a")], tail=tail)
    stats = ReadStats()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = _read(path, stats=stats)
    assert [r["n"] for r in records] == [1, 2]
    damaged = [w.message for w in caught if isinstance(w.message, DamagedFileWarning)]
    assert len(damaged) == 1
    assert damaged[0].damage is stats.damage[0]
    summary = stats.damage[0]
    assert (summary.file, summary.lines_read, summary.damaged_lines) == (str(path), 5, 3)
    assert summary.bytes_unreadable == len(b"not json\n[1, 2]\n") + len(b'{"timestamp": "20')
    assert str(damaged[0]).startswith(f"{path}: 2 lines read, 3 damaged line(s) (33 bytes) skipped")
    assert "(first damaged line: line 2: not a JSON object)" in str(damaged[0])


def test_a_thousand_bad_lines_are_still_one_warning(tmp_path: Path) -> None:
    """Damage is summed up per file, not printed per line."""
    path = tmp_path / "generation.log"
    write_file(path, [record(1, "a")], tail=b"garbage\n" * 1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [r["n"] for r in _read(path)] == [1]
    assert [str(w.message).split(":")[0] for w in caught] == [str(path)]
    assert "1,000 damaged line(s) (8,000 bytes) skipped" in str(caught[0].message)


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.2])
def test_a_cut_gz_yields_every_record_before_the_cut(tmp_path: Path, cut: float) -> None:
    """A .gz cut anywhere gives back every whole line before the cut, like zcat, and says so."""
    path = tmp_path / "generation.log.1.gz"
    data = b"".join(line(record(n, "u", files=[os.urandom(40).hex()])) for n in range(3000))
    whole = gzip.compress(data)
    path.write_bytes(whole[: int(len(whole) * cut)])
    recovered = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(whole[: int(len(whole) * cut)])
    expected = recovered.count(b"\n")
    stats = ReadStats()
    with pytest.warns(DamagedFileWarning, match="compressed data cut short"):
        records = _read(path, stats=stats)
    assert [r["n"] for r in records] == list(range(expected))
    assert expected > 3000 * cut * 0.8
    assert stats.damage[0].damaged_lines == 1  # the line the cut went through


def test_a_corrupt_gz_yields_the_records_before_the_damage(tmp_path: Path) -> None:
    """Garbage in the middle of a .gz: the records before it come back, the loss is counted."""
    path = tmp_path / "generation.log.1.gz"
    data = b"".join(line(record(n, "u", files=[os.urandom(40).hex()])) for n in range(3000))
    whole = bytearray(gzip.compress(data))
    middle = len(whole) // 2
    whole[middle : middle + 64] = b"\xff" * 64
    path.write_bytes(bytes(whole))
    intact = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(bytes(whole[:middle]))
    stats = ReadStats()
    with pytest.warns(DamagedFileWarning, match=str(path)):
        records = _read(path, stats=stats)
    numbers = [r.get("n") for r in records]  # after the damage, garbage may even parse
    assert numbers[: intact.count(b"\n")] == list(range(intact.count(b"\n")))
    assert len(numbers) < 3000
    (damage,) = stats.damage
    assert damage.damaged_lines > 0 or damage.compressed_bytes_unreadable > 0
    assert damage.compressed  # gzip's check (CRC, length or the stream) failed and is named


def test_a_multi_member_gz_reads_every_member(tmp_path: Path) -> None:
    """Concatenated gzip members (as `cat a.gz b.gz`) read as one file, no damage."""
    path = tmp_path / "generation.log.1.gz"
    path.write_bytes(gzip.compress(line(record(1, "a"))) + gzip.compress(line(record(2, "b"))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r["n"] for r in _read(path)] == [1, 2]


def test_lines_written_after_opening_are_left_for_the_next_read(tmp_path: Path) -> None:
    """A read stops at the size the file had when opened: a line being appended is not damage."""
    path = tmp_path / "generation.log"
    write_file(path, [record(1, "a")])
    stats = ReadStats()
    stream, _ = open_log_file(path, stats)
    with path.open("ab") as out:
        out.write(line(record(2, "a"))[:10])
    with stream, warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r["n"] for r in iter_file_records(stream, path, RecordFilter(), stats)] == [1]


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
    with pytest.warns(DamagedFileWarning, match="incomplete last line"):
        found, _ = _tail(path, 3)
    assert [r["n"] for r in found] == [2, 1, 0]
    assert found[1]["files"] == big["files"]


def test_tail_applies_filters_and_reports_damage_by_offset(tmp_path: Path) -> None:
    """Filtered tail returns the newest matches; a damaged line is named by its byte offset."""
    path = tmp_path / "generation.log"
    head = b"".join(line(record(n, f"user_{n % 3}")) for n in range(30))
    damaged = b'{"user_id":"user_0","status":"success","cut\n'  # could match: parsed, reported
    path.write_bytes(head + damaged + b"garbage\n" + line(record(30, "user_0")))
    with pytest.warns(DamagedFileWarning, match=f"byte {len(head)}"):
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
