"""Proof of erasure: receipts (API and CLI), keys on the command line, audit lookup by user."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dihya_logging import get_generation_logs, purge_generation_logs
from dihya_logging._logset import LogSet
from dihya_logging.chain._format import read_state
from dihya_logging.chain._verify import INTACT, verify_generation_logs
from dihya_logging.store import check_receipt, pseudonymize_user_id
from tests.helpers_chain import KEY, log_events
from tests.helpers_store import build_log


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dihya_logging", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_the_api_writes_a_receipt_naming_the_token_and_counts_per_file(
    log_path: Path, tmp_path: Path
) -> None:
    """purge_generation_logs(receipt=) writes who, when, scope as token, counts per file."""
    build_log(log_path)
    before = {p.name for p in LogSet(log_path).files()}
    receipt_path = tmp_path / "receipt.json"
    count = purge_generation_logs(user_id="user_2", actor="dpo", path=log_path,
                                  receipt=receipt_path)  # fmt: skip
    receipt = json.loads(receipt_path.read_text())
    assert receipt_path.stat().st_mode & 0o777 == 0o600
    assert receipt["receipt"] == "dihya-logging erasure receipt"
    assert receipt["performed_by"] == "dpo" and receipt["performed_at"].endswith("Z")
    assert receipt["scope"] == {"user_id": pseudonymize_user_id("user_2", path=log_path)}
    assert receipt["records_erased"] == count > 0
    assert sum(receipt["records_erased_per_file"].values()) == count
    assert set(receipt["records_erased_per_file"]) <= before
    assert "user_2" not in receipt_path.read_text()
    assert receipt["chain_head_after"] is None and "hmac" not in receipt


def test_an_existing_receipt_path_is_refused_before_anything_is_purged(
    log_path: Path, tmp_path: Path
) -> None:
    """The receipt never replaces a file, and its refusal comes before the erasure."""
    build_log(log_path)
    taken = tmp_path / "receipt.json"
    taken.write_text("keep me\n")
    with pytest.raises(FileExistsError, match="receipt"):
        purge_generation_logs(user_id="user_2", path=log_path, receipt=taken)
    assert taken.read_text() == "keep me\n"
    assert any(r.get("user_id") == "user_2" for r in get_generation_logs(path=log_path))


def test_cli_purge_of_a_keyed_chain_takes_the_key_file_and_signs_the_receipt(
    log_path: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """--key-file (no env): the purge continues the chain, the receipt's HMAC checks out."""
    log_events(log_path, 30, maxBytes=2000, compress=True)
    key_file = tmp_path / "chain.key"
    key_file.write_bytes(KEY + b"\n")
    refused = _cli("purge", "--user", "user_1", "--yes", "--file", str(log_path),
                   env=subprocess_env)  # fmt: skip
    assert refused.returncode == 1 and "--key-file" in refused.stderr
    receipt_path = tmp_path / "r.json"
    done = _cli("purge", "--user", "user_1", "--yes", "--key-file", str(key_file), "--receipt",
                str(receipt_path), "--actor", "dpo", "--file", str(log_path),
                env=subprocess_env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"removed 6 records\nreceipt written to {receipt_path}\n"
    receipt = json.loads(receipt_path.read_text())
    state = read_state(LogSet(log_path).chain_state_path)
    assert state is not None
    assert receipt["chain_head_after"] == {
        "seq": state.head_seq,
        "link": state.head_link.hex(),
        "keyed": True,
    }
    assert receipt["tombstoned"] and receipt["hmac"]["algorithm"] == "hmac-sha256"
    assert check_receipt(receipt, KEY)
    forged: dict[str, Any] = dict(receipt, records_erased=5)
    assert not check_receipt(forged, KEY) and not check_receipt(receipt, b"another key")
    assert verify_generation_logs(log_path, key=KEY).status == INTACT
    exported = tmp_path / "out.jsonl"
    export = _cli("export", str(exported), "--user", "user_2", "--key-env", "MY_KEY", "--file",
                  str(log_path), env={**subprocess_env, "MY_KEY": KEY.decode()})  # fmt: skip
    assert export.returncode == 0, export.stderr
    assert verify_generation_logs(log_path, key=KEY).status == INTACT


def test_query_by_user_finds_the_purge_and_export_events_about_them(
    log_path: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """--user U --event purge|export finds the audit events that name U's token, only those."""
    build_log(log_path)
    env = {**subprocess_env}
    for user in ("user_1", "user_2"):
        ran = _cli("export", str(tmp_path / f"{user}.jsonl"), "--user", user, "--file",
                   str(log_path), env=env)  # fmt: skip
        assert ran.returncode == 0, ran.stderr
    assert purge_generation_logs(user_id="user_1", path=log_path) > 0
    assert purge_generation_logs(before="2000-01-01", path=log_path) == 0
    token = pseudonymize_user_id("user_1", path=log_path)
    for event in ("purge", "export"):
        found = _cli("query", "--user", "user_1", "--event", event, "--json", "--file",
                     str(log_path), env=env)  # fmt: skip
        assert found.returncode == 0, found.stderr
        records = [json.loads(text) for text in found.stdout.splitlines()]
        assert [r["event"] for r in records] == [event]
        assert records[0]["filter"]["user_id"] == token
    other = get_generation_logs(user_id="user_2", event="export", path=log_path)
    assert [r["filter"]["user_id"] for r in other] == [
        pseudonymize_user_id("user_2", path=log_path)
    ]
