"""Unit tests of the export format writers: shapes, streaming, CSV rules."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from helpers_export import decode_cell, expected_cell, read_csv, sample_records
from hypothesis import given, settings
from hypothesis import strategies as st

from dihya_logging.store._formats import (
    CSV_CORE_COLUMNS,
    csv_cell,
    csv_columns,
    detect_format,
    dump_record,
    write_csv,
    write_json_array,
    write_jsonl,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("out.jsonl", ("jsonl", False)),
        ("OUT.JSONL.GZ", ("jsonl", True)),
        ("a.b.json", ("json", False)),
        ("x.json.gz", ("json", True)),
        ("report.csv", ("csv", False)),
        ("report.csv.gz", ("csv", True)),
        ("stream.ndjson", ("jsonl", False)),
    ],
)
def test_detect_format_from_suffix(name: str, expected: tuple[str, bool]) -> None:
    """The format and compression come from the destination's suffixes, case-insensitively."""
    assert detect_format(name) == expected


@pytest.mark.parametrize("name", ["out.txt", "out", "out.gz", "out.csv.bz2", "out.jsonlx"])
def test_detect_format_refuses_unknown_suffix(name: str) -> None:
    """A name without a known suffix is a ValueError that says what is accepted."""
    with pytest.raises(ValueError, match=r"\.jsonl, \.json or \.csv"):
        detect_format(name)


def test_format_argument_overrides_suffix() -> None:
    """format= wins over the suffix; a .gz name or a '.gz' format compresses."""
    assert detect_format("dump.txt", "csv") == ("csv", False)
    assert detect_format("dump.txt", "json.gz") == ("json", True)
    assert detect_format("dump.gz", "jsonl") == ("jsonl", True)
    with pytest.raises(ValueError, match="unknown export format 'xml'"):
        detect_format("dump.jsonl", "xml")


def test_jsonl_round_trip() -> None:
    """JSON lines hold each record, unchanged, one per line."""
    records = sample_records(7)
    out = io.BytesIO()
    assert write_jsonl(records, out) == 7
    lines = out.getvalue().decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records


def test_json_array_round_trip_and_empty() -> None:
    """The JSON array parses back to the records; no records is an empty array."""
    records = sample_records(5)
    out = io.BytesIO()
    assert write_json_array(records, out) == 5
    assert json.loads(out.getvalue()) == records
    empty = io.BytesIO()
    assert write_json_array([], empty) == 0
    assert json.loads(empty.getvalue()) == []


def test_json_array_is_streamed() -> None:
    """Each record is written before the next is pulled: the array is never built in memory."""
    out = io.BytesIO()
    seen: list[int] = []

    def records() -> Iterator[dict[str, Any]]:
        for index in range(3):
            seen.append(out.getvalue().count(b'"n":'))
            yield {"n": index}

    write_json_array(records(), out)
    assert seen == [0, 1, 2]


def test_dump_record_keeps_lone_surrogates_as_escapes() -> None:
    """A record the UTF-8 codec refuses is still written, as valid JSON that reads back equal."""
    record = {"message": "bad \ud800 text"}
    assert json.loads(dump_record(record)) == record


def test_csv_columns_order() -> None:
    """Core fields first in a fixed order, other keys sorted, chain fields last."""
    columns = csv_columns(["zeta", "link", "seq", "alpha", "user_id", "timestamp"])
    assert columns[: len(CSV_CORE_COLUMNS)] == list(CSV_CORE_COLUMNS)
    assert columns[len(CSV_CORE_COLUMNS) :] == ["alpha", "zeta", "seq", "link"]
    assert columns[:5] == ["timestamp", "level", "logger", "message", "event"]


def test_csv_round_trip(tmp_path: Any) -> None:
    """Every cell reads back to its value under the documented rules (lists, JSON, guards)."""
    records = sample_records(9)
    path = tmp_path / "out.csv"
    with path.open("wb") as out:
        assert write_csv(records, out) == 9
    header, rows = read_csv(path)
    assert header == csv_columns({key for record in records for key in record})
    assert len(rows) == 9
    for record, row in zip(records, rows):
        for column in header:
            assert decode_cell(column, row[column]) == expected_cell(column, record.get(column))


def test_csv_gzip_round_trip(tmp_path: Any) -> None:
    """A CSV written through gzip reads back the same rows."""
    records = sample_records(4)
    path = tmp_path / "out.csv.gz"
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
        write_csv(records, out)
    _, rows = read_csv(path)
    assert [row["user_id"] for row in rows] == [r["user_id"] for r in records]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6 12", "'+33 6 12"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("'quoted", "''quoted"),
        ("[draft]", "'[draft]"),
        ("{x}", "'{x}"),
        ("plain", "plain"),
        (-3, "-3"),
        (2.5, "2.5"),
        (True, "true"),
        (None, ""),
        (["a", "b"], "a|b"),
        (["=x", "b"], "'=x|b"),
        (["a|b", "c"], '["a|b","c"]'),
        (["[x]"], "'[x]"),
        (["", "a"], '["","a"]'),
        ([1, "a"], '[1,"a"]'),
        ([], ""),
        ({"k": [1]}, '{"k":[1]}'),
    ],
)
def test_csv_cell_rules(value: Any, cell: str) -> None:
    """Formula guard, bare numbers, '|'-joined lists unless ambiguous, nested values as JSON."""
    assert csv_cell(value) == cell


def test_csv_header_is_guarded() -> None:
    """A metadata key that looks like a formula is neutralised in the header too."""
    out = io.BytesIO()
    write_csv([{"=cmd": 1}], out)
    header = out.getvalue().decode().splitlines()[0]
    assert header.endswith(",'=cmd")


def test_csv_late_keys_and_uniform_keys_give_the_same_table(tmp_path: Any) -> None:
    """Keys first seen late (rows reordered) and keys all known at once (rows copied) agree."""
    early = {"timestamp": "t1", "zeta": 1, "alpha": "a", "seq": 1, "link": "l1"}
    late = {"timestamp": "t2", "beta": "b", "seq": 2}
    uniform_first = {**early, "beta": None}
    for records in ([early, late], [uniform_first, late]):
        out = io.BytesIO()
        write_csv(records, out)
        path = tmp_path / "t.csv"
        path.write_bytes(out.getvalue())
        header, rows = read_csv(path)
        assert header[len(CSV_CORE_COLUMNS) :] == ["alpha", "beta", "zeta", "seq", "link"]
        assert [row["beta"] for row in rows] == ["", "b"]
        assert [row["link"] for row in rows] == ["l1", ""]
        assert [row["alpha"] for row in rows] == ["a", ""]


def test_csv_many_batches_with_a_late_key(tmp_path: Any) -> None:
    """Rows spooled over several batches are all written, padded and reordered for a late key."""
    records: list[dict[str, Any]] = [{"timestamp": str(i), "n": i} for i in range(9000)]
    records.append({"timestamp": "late", "alpha": "x"})
    path = tmp_path / "big.csv"
    with path.open("wb") as out:
        assert write_csv(iter(records), out) == 9001
    header, rows = read_csv(path)
    assert header[len(CSV_CORE_COLUMNS) :] == ["alpha", "n"]
    assert len(rows) == 9001
    assert [rows[0]["n"], rows[0]["alpha"], rows[8999]["n"]] == ["0", "", "8999"]
    assert [rows[-1]["timestamp"], rows[-1]["alpha"], rows[-1]["n"]] == ["late", "x", ""]


def test_csv_rows_relaid_for_a_late_key_keep_quotes_commas_and_line_ends(tmp_path: Any) -> None:
    """Rows re-laid under a late key read back exactly as rows written under the final columns."""
    tricky = ["a,b", 'say "hi"', "two\r\nlines", "lone\nnewline", "cr\ronly", "", "'x", "=1+1"]
    records: list[dict[str, Any]] = [
        {"timestamp": str(i), "project_name": text, "files": [text or "x", "y"], "n": i}
        for i, text in enumerate(tricky * 3)
    ]
    late = [*records, {"timestamp": "late", "alpha": 'q"uote,d'}]
    known = [{**records[0], "alpha": None}, *records[1:], late[-1]]
    tables = []
    for batch in (late, known):
        path = tmp_path / "t.csv"
        with path.open("wb") as out:
            write_csv(batch, out)
        tables.append(read_csv(path))
    assert tables[0] == tables[1]
    rows = tables[0][1]
    assert [row["project_name"] for row in rows[:-1]] == [
        "'" + t if t[:1] in "=+-@\t\r'[{" and t else t for t in tricky * 3
    ]
    assert rows[-1]["alpha"] == 'q"uote,d'


def _reference_csv(records: list[dict[str, Any]]) -> bytes:
    """The CSV rules written the plain way: every cell through `csv_cell`, every row through
    the csv module, columns from every key at once."""
    columns = csv_columns({key for record in records for key in record})
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([csv_cell(name) for name in columns])
    for record in records:
        writer.writerow([csv_cell(record.get(name)) for name in columns])
    return text.getvalue().encode("utf-8", "replace")


_TEXT = st.text(alphabet=st.sampled_from([*"ab|,\"'=+-@[{ \t\r\n\x00é", "\ud800"]), max_size=6)
_VALUE = st.one_of(
    _TEXT,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(_TEXT, max_size=3),
    st.lists(st.one_of(_TEXT, st.integers(), st.none()), max_size=3),
    st.dictionaries(_TEXT, _TEXT, max_size=2),
)
_KEYS = st.sampled_from(["timestamp", "user_id", "files", "plugins", "a", "=b", "seq", "link"])


@given(
    records=st.lists(st.dictionaries(_KEYS, _VALUE, max_size=6), max_size=12),
    expected=st.sets(_KEYS, max_size=4),
    uniform=st.booleans(),
    copies=st.sampled_from([1, 700]),
)
@settings(max_examples=150, deadline=None)
def test_csv_writer_matches_a_plain_reference(
    records: list[dict[str, Any]], expected: set[str], uniform: bool, copies: int
) -> None:
    """Whatever the values, keys (late, expected, never met) and batches, the streamed writer
    writes the bytes the plain cell-by-cell reference writes."""
    if uniform:  # the same shape on every row (the fast path), repeated over several batches
        records = [records[0] if records else {}] * len(records)
    records = records * copies
    out = io.BytesIO()
    assert write_csv(iter(records), out, expected_keys=expected) == len(records)
    assert out.getvalue() == _reference_csv(records)


@pytest.mark.parametrize("copies", [1, 700], ids=["one-row", "many-rows"])
def test_a_nul_character_is_written_as_a_replacement_character(copies: int) -> None:
    """A NUL (CSV readers refuse it, Python's own before 3.11) is exported as U+FFFD, in a
    first row and in rows that take the writer's fast path, and the export reads back."""
    records = [{"timestamp": "\x00", "files": ["a\x00b.py"], "late": "x\x00"}] * copies
    out = io.BytesIO()
    assert write_csv(iter(records), out) == copies
    text = out.getvalue().decode("utf-8")
    assert "\x00" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == copies + 1
    header = rows[0]
    assert rows[-1][header.index("timestamp")] == "\ufffd"
    assert rows[-1][header.index("late")] == "x\ufffd"
