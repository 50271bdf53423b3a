"""Exporters beyond files: the protocol a plug-in implements and the entry-point discovery.

See `dihya_logging.exporters._registry` for how to write one; exporters are chosen by the URI
scheme of an export's destination (``notion://…``) and found under the entry-point group
``dihya_logging.exporters``.
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
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ExportContext",
    "Exporter",
    "ExporterError",
    "PurgeAwareExporter",
    "available_schemes",
    "load_exporter",
]
