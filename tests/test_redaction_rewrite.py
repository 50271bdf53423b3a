"""Re-redaction of existing logs: `redact_generation_logs` and ``dihya-logs redact``."""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dihya_logging
from dihya_logging import redact_generation_logs, verify_generation_logs
from tests.helpers_chain import KEY, make_handler, records_of
from tests.helpers_leaks import disk_text

# written "under older rules": formats the current catalogue catches, built at run time
ROUTABLE = "glpat-" + "A1b2C3d4E5f6G7h8I9j0K1l" + ".01." + "abcdefghi"
SONAR = "12345678ABCDEFH1234567890ABCDEFH" + "12345678"
SECRETS = (ROUTABLE, SONAR)


def raw(user: str, **fields: object) -> bytes:
    """One record line as an older version could have written it (nothing masked)."""
    record = {"timestamp": "2026-11-23T12:00:00.000Z", "level": "INFO", "event": "generation"}
    return json.dumps({**record, "user_id": user, **fields}).encode() + b"\n"


@pytest.fixture
def log_set(tmp_path: Path) -> Path:
    """A live file, a rotated file and a gzipped one, each holding a secret in free text."""
    log = tmp_path / "logs" / "generation.log"
    log.parent.mkdir()
    log.write_bytes(raw("u1", error=f"push failed: https://x:{ROUTABLE}@gitlab.com/x.git"))
    (log.parent / "generation.log.1").write_bytes(
        raw("u2", note=f'SONAR_LOGIN ?= "{SONAR}"') + raw("u3", note="clean")
    )
    (log.parent / "generation.log.2.gz").write_bytes(
        gzip.compress(raw("u4", detail={"log": [f"token {ROUTABLE}"]}))
    )
    return log


def audit_events(log: Path) -> list[dict[str, object]]:
    """The ``redact`` records of the log set."""
    return [r for r in dihya_logging.get_generation_logs(path=log) if r.get("event") == "redact"]


def test_dry_run_counts_and_changes_nothing(log_set: Path) -> None:
    """``dry_run=True`` says how many values would be masked and leaves every byte alone."""
    before = {p: p.read_bytes() for p in log_set.parent.iterdir()}
    assert redact_generation_logs(log_set, dry_run=True) == 3
    assert {p: p.read_bytes() for p in before} == before  # (the lock file may appear)


def test_redact_masks_every_file_and_audits_counts_only(log_set: Path) -> None:
    """Live, rotated and .gz files lose their secrets; the audit event counts per file."""
    assert redact_generation_logs(log_set, actor="dpo") == 3
    text = disk_text(log_set.parent)
    assert not any(s in text for s in SECRETS) and "u3" in text and "clean" in text
    (event,) = audit_events(log_set)
    assert event["actor"] == "dpo" and event["count"] == 3
    assert event["masked"] == {"generation.log": 1, "generation.log.1": 1, "generation.log.2.gz": 1}
    assert redact_generation_logs(log_set) == 0  # idempotent: nothing left to mask


def test_chained_log_stays_verifiable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chained log re-redacted verifies: changed records are resealed and authorised."""
    monkeypatch.setenv("DIHYA_CHAIN_KEY", KEY.decode())
    log = tmp_path / "chained" / "generation.log"
    handler = make_handler(log)
    try:
        for i, note in enumerate(["ok", f"remote said {ROUTABLE}", "ok again"]):
            fields = {"event": "generation", "user_id": f"u{i}", "note": note}
            handler.handle(logging.makeLogRecord({"msg": "generation", "fields": fields}))
    finally:
        handler.close()
    assert verify_generation_logs(log, key=KEY).ok
    assert redact_generation_logs(log) == 1
    assert ROUTABLE not in disk_text(log.parent)
    report = verify_generation_logs(log, key=KEY)
    assert report.ok, report.problems
    assert [r["event"] for r in records_of(log)][-1] == "redact"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m dihya_logging`` as a real subprocess."""
    env = {**os.environ, "DIHYA_LOG_FILE": ""}
    return subprocess.run(
        [sys.executable, "-m", "dihya_logging", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_cli_redact_dry_run_then_redact(log_set: Path) -> None:
    """``dihya-logs redact --dry-run`` reports, ``redact`` masks; both exit 0."""
    dry = run_cli("redact", "--dry-run", "--file", str(log_set))
    assert dry.returncode == 0 and dry.stdout == "would mask 3 values\n", dry.stderr
    assert ROUTABLE in disk_text(log_set.parent)
    done = run_cli("redact", "--file", str(log_set), "--actor", "ops")
    assert done.returncode == 0 and done.stdout == "masked 3 values\n", done.stderr
    assert not any(s in disk_text(log_set.parent) for s in SECRETS)


def test_cli_redact_missing_log_is_one_line(tmp_path: Path) -> None:
    """No log at the path: a non-zero exit and one line on stderr, no traceback."""
    out = run_cli("redact", "--file", str(tmp_path / "none" / "generation.log"))
    assert out.returncode != 0 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
