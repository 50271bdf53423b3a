"""Exporters beyond files: the protocol a plug-in implements and the entry-point discovery.

Exporters are chosen by the URI scheme of an export's destination and found under the
entry-point group ``dihya_logging.exporters`` or set in code with `register_exporter`. The
package ships ``https://`` (signed webhook), ``s3://``, ``ipfs://`` and ``notion://`` (each
behind its extra); ``docs/exporters.md`` shows how to write one.
"""

from __future__ import annotations

from dihya_logging.exporters._registry import (
    ENTRY_POINT_GROUP,
    ExportContext,
    Exporter,
    ExporterError,
    PurgeAwareExporter,
    available_schemes,
    load_exporter,
    register_exporter,
    unregister_exporter,
)
from dihya_logging.exporters._webhook import verify_signature

__all__ = [
    "ENTRY_POINT_GROUP",
    "ExportContext",
    "Exporter",
    "ExporterError",
    "PurgeAwareExporter",
    "available_schemes",
    "load_exporter",
    "register_exporter",
    "unregister_exporter",
    "verify_signature",
]
