"""Redaction: the rules for what is sensitive, and `Redactor`, which masks it in any value.

Every record passes through a `Redactor` before it is serialised: sensitive keys are masked
whatever their nesting or case, and secrets inside free text are found by their format.
"""

from __future__ import annotations

from dihya_logging.redaction._redactor import (
    DEFAULT_PATTERNS,
    DEFAULT_SENSITIVE_KEYS,
    Detector,
    Redactor,
    default_redactor,
)

__all__ = ["DEFAULT_PATTERNS", "DEFAULT_SENSITIVE_KEYS", "Detector", "Redactor", "default_redactor"]
