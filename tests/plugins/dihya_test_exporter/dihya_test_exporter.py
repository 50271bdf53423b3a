"""Test-only dihya-logging exporter: ``memtest:///abs/path.jsonl`` writes the records there.

Installed through a real entry point (group ``dihya_logging.exporters``, name ``memtest``) so
the tests exercise discovery as users' plug-ins get it. Knobs for the tests:

* ``memtest:///path.jsonl?fail_after=N`` raises after writing N records;
* ``$DIHYA_TEST_EXPORTER_PURGE_LOG``: ``on_purge`` appends each event there as one JSON line
  (without it the hook does nothing, so other suites' purges are unaffected);
* ``$DIHYA_TEST_EXPORTER_PURGE_FAIL`` set: ``on_purge`` raises.

Beside the output, ``<path>.context.json`` records what the exporter was told, and the
pseudonym of every user it exported (what a real exporter keeps to honour later purges).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["MemTestExporter"]


class MemTestExporter:
    """Writes exported records as JSON lines to the path of a ``memtest://`` URI."""

    scheme = "memtest"

    def export(self, records: Iterable[dict[str, Any]], destination: str, *, context: Any) -> int:
        """Write ``records`` to the URI's path; return the count."""
        parts = urlsplit(destination)
        fail_after = int(parse_qs(parts.query).get("fail_after", ["-1"])[0])
        count = 0
        users: set[str] = set()
        with open(parts.path, "w", encoding="utf-8") as out:
            for record in records:
                if count == fail_after:
                    raise RuntimeError(f"memtest failed after {count} records")
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                if isinstance(record.get("user_id"), str):
                    users.add(record["user_id"])
                count += 1
        told = {
            "pseudonyms": {user: context.pseudonym(user) for user in sorted(users)},
            "actor": context.actor,
            "filter": context.filter.describe(),
            "overwrite": context.overwrite,
            "format": context.format,
            "location": context.location,
        }
        with open(parts.path + ".context.json", "w", encoding="utf-8") as out:
            json.dump(told, out)
        return count

    def on_purge(self, event: dict[str, Any]) -> None:
        """Record the purge event (GDPR art. 19 notification) when the tests ask for it."""
        if os.environ.get("DIHYA_TEST_EXPORTER_PURGE_FAIL"):
            raise RuntimeError("memtest recipient unreachable")
        target = os.environ.get("DIHYA_TEST_EXPORTER_PURGE_LOG")
        if target:
            with open(target, "a", encoding="utf-8") as out:
                out.write(json.dumps(event, ensure_ascii=False) + "\n")
