"""The Sealer: the exact on-disk chain format, its state file, and how it finds the head."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import stat
from pathlib import Path

import pytest

from dihya_logging import verify_generation_logs
from dihya_logging._logset import LogSet, open_private
from dihya_logging.chain import _sealer
from dihya_logging.chain._format import (
    SeqRanges,
    encode_seqs,
    parse_sealed,
    read_state,
    reseal_anonymized,
    tombstone,
)
from dihya_logging.chain._sealer import Sealer
from tests.helpers_chain import (
    INTACT,
    KEY,
    TAMPERED,
    lines_of,
    log_events,
    make_handler,
    records_of,
)

TEXT = '{"timestamp":"2026-11-23T12:34:56.789Z","message":"généré","user_id":"u1"}'


def _append(log_set: LogSet, sealer: Sealer, text: str, *, write: bool = True) -> str:
    """Seal and append one line under the lock, as the handler does."""
    with log_set.lock():
        fd = open_private(log_set.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            size = os.fstat(fd).st_size
            line = sealer.seal(text, fd, size)
            glued = size and os.pread(fd, 1, size - 1) != b"\n"  # never glue onto a fragment
            if write:
                os.write(fd, (glued * "\n" + line + "\n").encode())
        finally:
            os.close(fd)
    return line


def test_sealed_line_format_is_exact(log_path: Path) -> None:
    """commit = SHA-256(salt ‖ payload), link = HMAC(key, prev ‖ seq ‖ commit), payload intact."""
    log_set = LogSet(log_path)
    sealer = Sealer(log_set, KEY)
    first, second = _append(log_set, sealer, TEXT), _append(log_set, sealer, TEXT)
    links = [bytes(32)]
    for seq, line in enumerate((first, second), 1):
        record = json.loads(line)
        assert list(record)[-4:] == ["seq", "salt", "commit", "link"]
        assert record["seq"] == seq
        assert line.startswith(TEXT[:-1] + ',"seq":')
        salt = bytes.fromhex(record["salt"])
        assert record["commit"] == hashlib.sha256(salt + TEXT.encode()).hexdigest()
        message = links[-1] + seq.to_bytes(8, "big") + bytes.fromhex(record["commit"])
        assert record["link"] == hmac.new(KEY, message, "sha256").hexdigest()
        links.append(bytes.fromhex(record["link"]))
    assert json.loads(first)["salt"] != json.loads(second)["salt"]


def test_plain_chain_without_key(log_path: Path) -> None:
    """Without a key links are plain SHA-256: verifiable without a key, refused with one."""
    log_events(log_path, 10, key=None)
    assert verify_generation_logs(log_path).status == INTACT
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == TAMPERED
    assert "plain SHA-256" in report.problems[0]


def test_state_file_is_private_and_never_holds_the_key(log_path: Path) -> None:
    """The state file is 0o600, records the head, and no file anywhere contains the key."""
    log_events(log_path, 40, maxBytes=2000, compress=True)
    path = LogSet(log_path).chain_state_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    state = read_state(path)
    assert state is not None
    assert state.keyed
    assert state.head_seq == 40
    assert state.head_link.hex() == records_of(log_path)[-1]["link"]
    for file in log_path.parent.iterdir():
        assert KEY not in file.read_bytes()
        assert KEY.hex().encode() not in file.read_bytes()


def test_non_json_text_is_wrapped(log_path: Path) -> None:
    """A formatter that does not produce a JSON object still yields a valid sealed line."""
    log_set = LogSet(log_path)
    line = _append(log_set, Sealer(log_set, KEY), "plain text\nwith a newline")
    assert json.loads(line)["text"] == "plain text\nwith a newline"
    assert verify_generation_logs(log_path, key=KEY).status == INTACT


def test_lost_write_stays_visible(log_path: Path) -> None:
    """A sealed line that never reached the disk is a gap, never silently re-used."""
    log_set = LogSet(log_path)
    sealer = Sealer(log_set, KEY)
    _append(log_set, sealer, TEXT)
    _append(log_set, sealer, TEXT, write=False)  # the write failed (disk full)
    _append(log_set, Sealer(log_set, KEY), TEXT)  # another process goes on
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == TAMPERED
    assert report.problems == [
        "generation.log line 2 (seq 3): record 2 is missing: deleted lines (or lost by a "
        "failed write)"
    ]


def test_lost_state_file_is_rebuilt(log_path: Path) -> None:
    """A deleted state file is rebuilt from the files by the next writer: intact again."""
    log_events(log_path, 20, maxBytes=1500)
    LogSet(log_path).chain_state_path.unlink()
    log_events(log_path, 5, start=20, maxBytes=1500)
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == INTACT, report.problems
    assert report.head_seq == 25


def test_head_found_in_rotated_file_when_state_is_gone(log_path: Path) -> None:
    """With an empty live file and no state file, the head is read from the newest backup."""
    log_events(log_path, 8)
    log_set = LogSet(log_path)
    log_path.rename(log_set.rotated_path(1))
    log_set.chain_state_path.unlink()
    line = _append(log_set, Sealer(log_set, KEY), TEXT)
    assert json.loads(line)["seq"] == 9
    assert verify_generation_logs(log_path, key=KEY).status == INTACT


def test_forked_child_uses_fresh_salts(log_path: Path) -> None:
    """A forked writer never reuses its parent's pool of salts (or its cached head)."""
    log_set = LogSet(log_path)
    sealer = Sealer(log_set, KEY)
    _append(log_set, sealer, TEXT)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            _append(log_set, sealer, TEXT)
        except BaseException:
            code = 1
        os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0
    _append(log_set, sealer, TEXT)
    records = records_of(log_path)
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert len({r["salt"] for r in records}) == 3
    assert verify_generation_logs(log_path, key=KEY).status == INTACT


def test_tombstone_keeps_only_the_chain(log_path: Path) -> None:
    """tombstone() keeps seq/commit/link and nothing of the record; bad input is refused."""
    log_events(log_path, 1)
    record = records_of(log_path)[0]
    assert tombstone(record) == {
        "tombstone": True,
        "seq": 1,
        "commit": record["commit"],
        "link": record["link"],
    }
    with pytest.raises(ValueError, match="not a chained record"):
        tombstone({"seq": 1, "link": "00"})


def test_reseal_anonymized_marks_and_keeps_the_chain(log_path: Path) -> None:
    """reseal_anonymized() takes the new fields, drops the salt, keeps seq/commit/link."""
    log_events(log_path, 1)
    record = records_of(log_path)[0]
    new = {**record, "user_id": "anon-1234"}
    resealed = reseal_anonymized(record, new)
    assert resealed["user_id"] == "anon-1234"
    assert resealed["anonymized"] is True
    assert "salt" not in resealed
    assert [resealed[k] for k in ("seq", "commit", "link")] == [1, record["commit"], record["link"]]


def test_sequence_ranges_round_trip() -> None:
    """encode_seqs gives compact ranges that SeqRanges reads back (lists of ints too)."""
    text = encode_seqs([9, 1, 2, 3, 12, 13, 2])
    assert text == "1-3,9,12-13"
    ranges = SeqRanges(text)
    assert [s for s in range(15) if s in ranges] == [1, 2, 3, 9, 12, 13]
    assert 5 in SeqRanges([4, 5, [7, 8]])
    assert 8 in SeqRanges([4, 5, [7, 8]])
    assert 1 not in SeqRanges("nonsense")
    assert not SeqRanges(None)


def test_parse_sealed_rejects_other_spellings(log_path: Path) -> None:
    """Only the exact suffix is a sealed line: upper-case hex or spaces are not."""
    log_set = LogSet(log_path)
    line = _append(log_set, Sealer(log_set, KEY), TEXT).encode()
    assert parse_sealed(line) is not None
    commit = line[-140:-76]  # 64 hex digits: some are letters (all digits: p = 1e-13)
    assert parse_sealed(line[:-140] + commit.upper() + line[-76:]) is None
    assert parse_sealed(line.replace(b'"seq":', b'"seq": ')) is None
    assert lines_of(log_path) == [line + b"\n"]


def test_a_writer_with_another_key_is_refused(log_path: Path) -> None:
    """A handler whose key differs from the log's (or is missing) fails at construction."""
    log_events(log_path, 3)
    with pytest.raises(ValueError, match="sealed with another key"):
        make_handler(log_path, b"another key")
    with pytest.raises(ValueError, match="sealed with a key"):
        make_handler(log_path, None)
    make_handler(log_path, KEY).close()


def test_alternating_writers_take_the_head_from_the_state(
    log_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sealers taking turns (as two processes do) chain correctly without rereading the log."""
    log_set = LogSet(log_path)
    first, second = Sealer(log_set, KEY), Sealer(log_set, KEY)
    _append(log_set, first, TEXT)
    _append(log_set, second, TEXT)  # a new sealer reads the head back once
    scans: list[int] = []
    real = _sealer.last_entry_of_fd
    monkeypatch.setattr(_sealer, "last_entry_of_fd", lambda *a: scans.append(1) or real(*a))
    for _ in range(5):
        _append(log_set, first, TEXT)
        _append(log_set, second, TEXT)
    assert scans == []
    assert [r["seq"] for r in records_of(log_path)] == list(range(1, 13))
    assert verify_generation_logs(log_path, key=KEY).status == INTACT


def test_head_read_back_behind_long_lines_and_a_fragment(log_path: Path) -> None:
    """Reading the head back copes with lines longer than its read blocks and a crash fragment."""
    log_set = LogSet(log_path)
    big = '{"message":"' + "x" * 150_000 + '"}'
    _append(log_set, Sealer(log_set, KEY), TEXT)
    _append(log_set, Sealer(log_set, KEY), big)
    with open(log_path, "ab") as stream:
        stream.write(b'{"timestamp":"2026-11-23T12:3')  # a writer died here
    line = _append(log_set, Sealer(log_set, KEY), TEXT)
    assert json.loads(line)["seq"] == 3
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == INTACT, report.problems
    assert any("partial line" in note for note in report.notes)


def test_unusable_state_file_does_not_stop_logging(log_path: Path, tmp_path: Path) -> None:
    """A symlink planted at the state path is refused, yet records are still sealed and written."""
    log_set = LogSet(log_path)
    log_path.parent.mkdir()
    (tmp_path / "elsewhere").write_text("x")
    log_set.chain_state_path.symlink_to(tmp_path / "elsewhere")
    sealer = Sealer(log_set, KEY)
    for _ in range(3):
        _append(log_set, sealer, TEXT)
    assert [r["seq"] for r in records_of(log_path)] == [1, 2, 3]
    assert (tmp_path / "elsewhere").read_text() == "x"
    report = verify_generation_logs(log_path, key=KEY)
    assert any("state file is unreadable" in p for p in report.problems)


def test_handler_with_a_non_utf8_encoding_verifies(log_path: Path) -> None:
    """The commitment covers the bytes written, so a latin-1 handler's log verifies too."""
    handler = make_handler(log_path, KEY, encoding="latin-1")
    handler.handle(logging.makeLogRecord({"msg": "café généré", "fields": {"user_id": "zoé"}}))
    handler.close()
    assert b"caf\\u00e9" in log_path.read_bytes()  # latin-1 and UTF-8 alike (JSON escape)
    assert verify_generation_logs(log_path, key=KEY).status == INTACT


def test_seal_bytes_wraps_what_is_not_one_json_line(log_path: Path) -> None:
    """seal_bytes keeps a JSON object line as is and wraps anything else into one."""
    log_set = LogSet(log_path)
    sealer = Sealer(log_set, KEY)
    with log_set.lock():
        fd = open_private(log_path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            for data in (TEXT.encode() + b"\n", b"two\nlines\n", b"{}\n"):
                line = sealer.seal_bytes(data, fd, os.fstat(fd).st_size)
                assert line.endswith(b'"}\n') and line.count(b"\n") == 1
                os.write(fd, line)
        finally:
            os.close(fd)
    records = records_of(log_path)
    assert records[0]["user_id"] == "u1"
    assert records[1]["text"] == "two\nlines"
    assert records[2]["text"] == "{}"
    report = verify_generation_logs(log_path, key=KEY)
    assert report.status == INTACT, report.problems
