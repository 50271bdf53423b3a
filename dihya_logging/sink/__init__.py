"""The sink: a rotating JSON-lines file handler that loses no line across processes.

`GenerationLogHandler` appends each formatted record under the log set's cross-process lock;
`AuditQueueHandler` puts a bounded queue and one writer thread in front of it.
"""

from __future__ import annotations

from dihya_logging.sink._handler import GenerationLogHandler
from dihya_logging.sink._queueing import AuditQueueHandler, queued_handler

__all__ = ["AuditQueueHandler", "GenerationLogHandler", "queued_handler"]
