"""Events: one validated, minimal, redacted record per project generation (or other action)."""

from __future__ import annotations

from dihya_logging.events._events import log_event, log_generation_event

__all__ = ["log_event", "log_generation_event"]
