"""Tamper evidence: the hash chain sealed into each line, and its verification."""

from __future__ import annotations

from dihya_logging.chain._verify import BadRecord, VerifyReport, verify_generation_logs

__all__ = ["BadRecord", "VerifyReport", "verify_generation_logs"]
