"""Terminal output of the `dihya-logs` command: record tables, progress lines.

Floor 2 (schema only, no I/O beyond the stream it is given). Everything printed from a log goes
through `clean`, so a record holding terminal escape sequences or bidirectional overrides can
neither repaint nor disguise the operator's screen.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, Final, Optional

from dihya_logging._schema import EVENT_GENERATION

__all__ = ["Progress", "RecordTable", "clean", "fit"]

_UNSAFE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ELLIPSIS: Final = "…"


def clean(value: object) -> str:
    """Printable one-line text of a field: control and bidi characters become ``?``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub("?", text)


def fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, marking the cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + _ELLIPSIS


def _files_count(record: Mapping[str, Any]) -> str:
    """How many files a generation produced (``files_count`` or the length of ``files``)."""
    count = record.get("files_count")
    if isinstance(count, int) and not isinstance(count, bool):
        return str(count)
    files = record.get("files")
    return str(len(files)) if isinstance(files, list) else ""


def _detail(record: Mapping[str, Any]) -> str:
    """The last column: the error of a generation, a summary of an audit event."""
    if record.get("error"):
        return clean(record["error"])
    event = record.get("event")
    if event in (None, EVENT_GENERATION):
        return "" if event else clean(record.get("message"))
    parts = [f"{key}={clean(record[key])}" for key in ("actor", "mode", "count") if key in record]
    if record.get("destination"):
        parts.append(f"-> {clean(record['destination'])}")
    scope = record.get("filter")
    if isinstance(scope, dict) and scope:
        parts.append(",".join(f"{k}={clean(v)}" for k, v in sorted(scope.items())))
    return " ".join(parts) or clean(record.get("message"))


class RecordTable:
    """An aligned table of records, streamed: widths come from the first rows, then stay fixed."""

    COLUMNS: Final = ("time", "event", "user", "project", "stack", "status", "files", "error")
    CAPS: Final = (24, 10, 24, 28, 12, 7, 5, 80)
    FIXED: Final = (24, 10, 16, 20, 10, 7, 5, 80)
    """Widths of a table printed as records arrive (``tail --follow``): nothing to sample."""
    SAMPLE: Final = 200

    @staticmethod
    def row(record: Mapping[str, Any]) -> list[str]:
        """The cells of one record, cleaned."""
        return [
            clean(record.get("timestamp")),
            clean(record.get("event") or "-"),
            clean(record.get("user_id")),
            clean(record.get("project_name")),
            clean(record.get("stack")),
            clean(record.get("status")),
            _files_count(record),
            _detail(record),
        ]

    def lines(self, records: Iterable[Mapping[str, Any]]) -> Iterator[str]:
        """Header then one line per record (``\\n`` excluded)."""
        iterator = iter(records)
        sample = []
        for record in iterator:
            sample.append(self.row(record))
            if len(sample) >= self.SAMPLE:
                break
        widths = [len(name) for name in self.COLUMNS]
        for cells in sample:
            for index, cell in enumerate(cells):
                widths[index] = max(widths[index], min(len(cell), self.CAPS[index]))
        yield self.join(list(self.COLUMNS), widths)
        for cells in sample:
            yield self.join(cells, widths)
        for record in iterator:
            yield self.join(self.row(record), widths)

    def join(self, cells: list[str], widths: list[int]) -> str:
        """Pad every column but the last; right-align the file count."""
        out = []
        last = len(cells) - 1
        for index, cell in enumerate(cells):
            text = fit(cell, self.CAPS[index] if index == last else widths[index])
            if index == last:
                out.append(text)
            elif self.COLUMNS[index] == "files":
                out.append(text.rjust(widths[index]))
            else:
                out.append(text.ljust(widths[index]))
        return "  ".join(out).rstrip()


class Progress:
    """A progress line redrawn on a terminal every ``interval`` seconds; silent elsewhere.

    It draws at the start, every ``interval``, and a last time at the end (so even a short
    operation shows its final state), then erases itself. `update` (records) and
    `update_bytes` (bytes read, of `total_bytes`) only store numbers; a daemon thread draws.
    """

    def __init__(
        self, label: str, stream: IO[str], *, enabled: Optional[bool] = None, interval: float = 0.2
    ) -> None:
        self.label = label
        self.stream = stream
        self.enabled = _isatty(stream) if enabled is None else enabled
        self.interval = interval
        self.count: Optional[int] = None
        self.bytes_done: Optional[int] = None
        self.total_bytes: Optional[int] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._started = 0.0

    def update(self, count: int) -> None:
        """Record how many records are done (called from the working thread)."""
        self.count = count

    def update_bytes(self, done: int) -> None:
        """Record how many bytes of the log are read (called from the working thread)."""
        self.bytes_done = done

    def text(self) -> str:
        """The current state, e.g. ``exporting… 41% of 120.3 MB, 52,000 records (3.1 s)``."""
        parts = []
        done, total = self.bytes_done, self.total_bytes
        if done is not None and total:
            parts.append(f"{min(done * 100 // total, 100)}% of {total / 1e6:.1f} MB")
        elif done is not None:
            parts.append(f"{done / 1e6:.1f} MB read")
        if self.count is not None:
            parts.append(f"{self.count:,} records")
        elapsed = time.monotonic() - self._started
        return f"{self.label}… {', '.join(parts)} ({elapsed:.1f} s)".replace("…  ", "… ")

    def _draw(self) -> None:
        """Write the current state over the previous one."""
        self.stream.write(f"\r{self.text()}\x1b[K")
        self.stream.flush()

    def _run(self) -> None:
        """Redraw until stopped."""
        while not self._stop.wait(self.interval):
            self._draw()

    def __enter__(self) -> Progress:
        if self.enabled:
            self._started = time.monotonic()
            self._draw()
            self._thread = threading.Thread(target=self._run, name="dihya-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._draw()  # the final state, however short the run
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal (False for anything that cannot tell)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
