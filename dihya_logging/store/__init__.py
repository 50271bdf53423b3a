"""The store: read, export and purge the records of a log set (files, or PostgreSQL)."""

from __future__ import annotations

from dihya_logging.store._api import (
    get_generation_logs,
    iter_generation_logs,
    open_store,
    pseudonymize_user_id,
    purge_generation_logs,
)
from dihya_logging.store._backend import LogStore, PurgeOutcome, RecordFilter
from dihya_logging.store._export import export_generation_logs
from dihya_logging.store._receipt import check_receipt

__all__ = [
    "LogStore",
    "PurgeOutcome",
    "RecordFilter",
    "check_receipt",
    "export_generation_logs",
    "get_generation_logs",
    "iter_generation_logs",
    "open_store",
    "pseudonymize_user_id",
    "purge_generation_logs",
]
