"""`dihya-logs verify` as a subprocess: exit 0 intact, 1 tampered, 2 cannot check; key sources."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from helpers_export import assert_one_line_error, run_cli, sample_records, write_rotated_log

from dihya_logging import GenerationLogHandler, RedactingJsonFormatter

KEY = "correct horse battery staple"


@pytest.fixture
def chained(log_path: Path) -> Path:
    """A chained, keyed log of a few generation events written by the real handler."""
    handler = GenerationLogHandler(log_path, chain=True, chain_key=KEY)
    handler.setFormatter(RedactingJsonFormatter())
    logger = logging.getLogger("test.cli.verify")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for n in range(5):
            logger.info("generation", extra={"event": "generation", "user_id": f"u{n}"})
    finally:
        logger.removeHandler(handler)
        handler.close()
    return log_path


def test_intact_log_exits_0(chained: Path, subprocess_env: dict[str, str]) -> None:
    """An untouched chained log verifies: exit 0 and an 'intact' verdict."""
    env = subprocess_env | {"MY_KEY": KEY}
    result = run_cli("verify", "--key-env", "MY_KEY", "--file", str(chained), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"{chained}: intact (5 records")


def test_edited_line_exits_1(chained: Path, tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    """A changed record is reported: exit 1, verdict and problem lines; --json agrees."""
    lines = chained.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"u2"', b'"u9"')
    chained.write_bytes(b"".join(lines))
    key_file = tmp_path / "chain.key"
    key_file.write_text(KEY + "\n")
    result = run_cli("verify", "--key-file", str(key_file), "--file", str(chained),
                     env=subprocess_env)  # fmt: skip
    assert result.returncode == 1
    assert result.stdout.startswith(f"{chained}: TAMPERED")
    assert "  problem: " in result.stdout
    as_json = run_cli("verify", "--json", "--key-file", str(key_file), "--file", str(chained),
                      env=subprocess_env)  # fmt: skip
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["status"] == "tampered"
    assert report["problems"]


def test_unchained_log_cannot_be_checked(log_path: Path, subprocess_env: dict[str, str]) -> None:
    """A log without the chain: exit 2, 'cannot check'."""
    write_rotated_log(log_path, sample_records(4))
    result = run_cli("verify", "--file", str(log_path), env=subprocess_env)
    assert result.returncode == 2
    assert result.stdout.startswith(f"{log_path}: cannot check (")


def test_missing_key_source_is_a_usage_error(chained: Path, subprocess_env: dict[str, str]) -> None:
    """--key-env naming an unset variable fails in one line (exit 2)."""
    result = run_cli("verify", "--key-env", "NOT_SET_ANYWHERE", "--file", str(chained),
                     env=subprocess_env)  # fmt: skip
    assert_one_line_error(result, 2, match="NOT_SET_ANYWHERE is not set")
    both = run_cli("verify", "--key-env", "A", "--key-file", "B", "--file", str(chained),
                   env=subprocess_env)  # fmt: skip
    assert_one_line_error(both, 2, match="not allowed with")
