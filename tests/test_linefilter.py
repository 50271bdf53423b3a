"""The byte-level pre-filter: needles from filter values, timestamp text, candidate lines."""

from __future__ import annotations

import json

from dihya_logging.store import RecordFilter
from dihya_logging.store._linefilter import Gate, candidate_spans, timestamp_text
from tests.helpers_store import line, record


def test_gate_needles_are_the_json_encoding_of_the_value() -> None:
    """The user id gate matches the quoted JSON value, not a longer id or another field."""
    gate = Gate(RecordFilter(user_id="user_1"))
    assert gate.primary == b'"user_1"'
    assert gate.admits(line(record(1, "user_1")))
    assert not gate.admits(line(record(1, "user_12")))
    accented = Gate(RecordFilter(user_id="amazigh_ⵣ"))
    assert accented.primary is None  # two spellings on disk: raw UTF-8 and \\u escapes
    assert accented.admits(json.dumps({"user_id": "amazigh_ⵣ"}).encode())
    assert accented.admits(json.dumps({"user_id": "amazigh_ⵣ"}, ensure_ascii=False).encode())


def test_gate_rejects_by_timestamp_text_without_parsing() -> None:
    """since/until reject on the timestamp text; a line of another shape is left to the parser."""
    flt = RecordFilter.build(since="2026-01-02", until="2026-01-03")
    gate = Gate(flt)
    assert not gate.admits(line(record(5, "u", day=1)))
    assert gate.admits(line(record(5, "u", day=2)))
    assert not gate.admits(line(record(5, "u", day=3)))
    assert gate.admits(b'{"level": "INFO", "timestamp": "2020-01-01T00:00:00.000Z"}')
    assert (
        timestamp_text(b'{"timestamp": "2026-01-02T00:00:00.123Z", "x": 1}')
        == b"2026-01-02T00:00:00.123Z"
    )
    assert timestamp_text(b'{"timestamp":"yesterday"}') is None


def test_candidate_spans_find_only_lines_holding_the_needle() -> None:
    """Spans cover exactly the lines with the primary needle; no gate gives every line."""
    block = b"".join(line(record(n, f"user_{n % 4}")) for n in range(40))
    lines = block.split(b"\n")[:-1]
    gate = Gate(RecordFilter(user_id="user_3"))
    spans = list(candidate_spans(block, gate))
    assert [block[a:b] for a, b in spans] == [x for x in lines if b'"user_3"' in x]
    assert [block[a:b] for a, b in candidate_spans(block, None)] == lines
    assert list(candidate_spans(block, Gate(RecordFilter(user_id="nobody")))) == []
