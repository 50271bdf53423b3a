"""Export file formats: JSON lines, a JSON array and CSV, each optionally gzipped, all streamed.

Floor 2 (schema only). The writers take any iterable of records (dicts) and a binary stream;
`export` owns files, temporary names and the audit event. CSV rules, chosen for auditors who
open the file in a spreadsheet and for programs that read it back without ambiguity:

* columns: the core fields always, in `CSV_CORE_COLUMNS` order, then every other key seen in
  the exported records sorted by name, then the chain fields (``seq``, ``salt``, ``commit``,
  ``link``) when present; UTF-8 without BOM, RFC 4180 quoting, ``\\r\\n`` line ends;
* ``null`` and a missing key are an empty cell; ``true``/``false`` and numbers as in JSON;
* a list of non-empty strings none of which holds ``|`` is joined with ``|``
  (`CSV_LIST_SEPARATOR`); any other list, and every object, is written as JSON text;
* CSV/formula injection (OWASP): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return gets a leading ``'``, so a spreadsheet shows text and never runs a formula.
  Text starting with ``'``, ``[`` or ``{`` gets one too, which makes every cell readable back
  without ambiguity: a cell starting with ``'`` is text (drop that one quote), a cell
  starting with ``[`` or ``{`` is JSON, anything else is text as is (in the ``files`` and
  ``plugins`` columns and any other list, split on ``|``). Numbers are written bare (``-3`` is
  a number, not a formula).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import operator
import tempfile
from collections.abc import Iterable, Mapping
from typing import IO, Any, Callable, Final, Optional

from dihya_logging._schema import CHAIN_FIELDS, HEAD_FIELDS

_orjson_dumps: Optional[Callable[..., bytes]]
try:  # optional fast path
    from orjson import dumps as _orjson_dumps
except ImportError:  # pragma: no cover - the standard library path is tested directly
    _orjson_dumps = None

__all__ = [
    "CSV_CORE_COLUMNS",
    "CSV_LIST_SEPARATOR",
    "FORMATS",
    "WRITERS",
    "Writer",
    "csv_cell",
    "csv_columns",
    "detect_format",
    "dump_record",
    "write_csv",
    "write_json_array",
    "write_jsonl",
]

FORMATS: Final = ("jsonl", "json", "csv")
"""Base export formats; each may be followed by ``.gz``."""

CSV_LIST_SEPARATOR: Final = "|"
CSV_CORE_COLUMNS: Final = (
    *HEAD_FIELDS,
    "event",
    "user_id",
    "project_name",
    "stack",
    "template",
    "plugins",
    "status",
    "error",
    "files_count",
    "files_truncated",
    "files",
)
"""The columns every CSV export starts with, whether or not the records have them."""

_GUARD_CHARS: Final = frozenset("=+-@\t\r'[{")
"""A text cell starting with one of these gets a leading ``'`` (formula guard, JSON marker)."""
_CSV_BATCH: Final = 4096
_DOUBLE_SEPARATOR: Final = CSV_LIST_SEPARATOR * 2
_first_char: Final = operator.itemgetter(0)
_SUFFIXES: Final = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}

Writer = Callable[[Iterable[Mapping[str, Any]], IO[bytes]], int]


def detect_format(name: str, format: str | None = None) -> tuple[str, bool]:
    """Return ``(base_format, gzipped)`` for a destination name, or raise a clear ValueError.

    ``format`` (``"jsonl"``, ``"json"``, ``"csv"``, optionally ``".gz"``) overrides the suffix;
    a destination ending in ``.gz`` is always compressed.
    """
    lowered = name.lower()
    gz_name = lowered.endswith(".gz")
    if format is not None:
        if not isinstance(format, str):
            raise TypeError(f"format must be a string, got {type(format).__name__}")
        wanted = format.lower().lstrip(".")
        gz = wanted.endswith(".gz")
        base = wanted[:-3] if gz else wanted
        base = "jsonl" if base == "ndjson" else base
        if base not in FORMATS:
            known = ", ".join(f"{f}, {f}.gz" for f in FORMATS)
            raise ValueError(f"unknown export format {format!r} (known: {known})")
        return base, gz or gz_name
    stem = lowered[:-3] if gz_name else lowered
    for suffix, base in _SUFFIXES.items():
        if stem.endswith(suffix):
            return base, gz_name
    raise ValueError(
        f"cannot tell the export format of {name!r}: use a .jsonl, .json or .csv name "
        "(optionally .gz) or pass format="
    )


def _dumps_std(record: Mapping[str, Any]) -> bytes:
    """Serialise with the standard library (compact, UTF-8, non-JSON values as text)."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: keep it as a JSON escape, exactly
        return json.dumps(record, separators=(",", ":"), default=str).encode("ascii")


def dump_record(record: Mapping[str, Any]) -> bytes:
    """One record as compact UTF-8 JSON bytes (orjson when installed)."""
    if _orjson_dumps is not None:
        try:
            return _orjson_dumps(record, default=str)
        except TypeError:  # integers beyond 64 bits, lone surrogates: the stdlib copes
            pass
    return _dumps_std(record)


def write_jsonl(records: Iterable[Mapping[str, Any]], out: IO[bytes]) -> int:
    """Write one JSON object per line; return the count."""
    count = 0
    write = out.write
    for record in records:
        write(dump_record(record) + b"\n")
        count += 1
    return count


def write_json_array(records: Iterable[Mapping[str, Any]], out: IO[bytes]) -> int:
    """Write a JSON array, one record per line, streamed (never built in memory)."""
    count = 0
    write = out.write
    write(b"[")
    for record in records:
        write(b"\n" if count == 0 else b",\n")
        write(dump_record(record))
        count += 1
    write(b"\n]\n" if count else b"]\n")
    return count


def _json_text(value: Any) -> str:
    """Nested value as compact JSON text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _guard(text: str) -> str:
    """Neutralise spreadsheet formulas and mark text that could be misread as JSON; a NUL
    (which CSV readers refuse: Python's before 3.11, spreadsheets) becomes U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return "'" + text if text[:1] in _GUARD_CHARS else text


def _list_text(items: list[Any]) -> str:
    """A list as ``a|b|c`` (guarded text) when that reads back unambiguously, else JSON."""
    if not items:
        return ""
    try:
        joined = CSV_LIST_SEPARATOR.join(items)
    except TypeError:  # an item that is not a string
        return _json_text(items)
    if (
        joined.count(CSV_LIST_SEPARATOR) != len(items) - 1  # an item holds the separator
        or not joined
        or joined[0] == CSV_LIST_SEPARATOR  # an empty item …
        or joined[-1] == CSV_LIST_SEPARATOR
        or _DOUBLE_SEPARATOR in joined
    ):
        return _json_text(items)
    return _guard(joined)


def _float_text(value: float) -> str:
    """A float as JSON writes it (``repr``; JSON's words for the non-finite ones)."""
    return repr(value) if value - value == 0 else _json_text(value)


_CELL: Final[dict[type, Callable[[Any], str]]] = {
    str: _guard,
    int: str,
    float: _float_text,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "",
    list: _list_text,
    dict: _json_text,
}


def csv_cell(value: Any) -> str:
    """The CSV text of one field value, following the module's documented rules."""
    render = _CELL.get(type(value))
    if render is not None:
        return render(value)
    if isinstance(value, (list, tuple)):
        return _list_text(list(value))
    if isinstance(value, (dict, int, float)):
        return _json_text(value)
    return _guard(str(value))


def csv_columns(keys: Iterable[str]) -> list[str]:
    """Column order: core fields, then the other keys sorted, then chain fields present."""
    seen = set(keys)
    core = set(CSV_CORE_COLUMNS)
    chain = [name for name in CHAIN_FIELDS if name in seen]
    others = sorted(seen - core - set(CHAIN_FIELDS))
    return [*CSV_CORE_COLUMNS, *others, *chain]


def write_csv(
    records: Iterable[Mapping[str, Any]],
    out: IO[bytes],
    *,
    spool: IO[bytes] | None = None,
    expected_keys: Iterable[str] = (),
) -> int:
    """Write records as CSV, streamed, columns per `csv_columns` over every key seen.

    The header needs every key, so rows are written as CSV text to ``spool`` (default: an
    anonymous private temporary file) under the columns known so far: a row's values are
    picked in one C call (`_RowLayout`, per key set), its cells rendered by type (`_RowPlan`,
    per type shape) and joined, quoted by the csv module only when a cell needs it; then the
    header and the spool are copied to ``out``. When a record
    brings a new key, the columns grow and a new segment starts; at the end only segments
    written under older columns are read back and re-laid (padded), the rest is copied as
    bytes. Memory stays bounded by one batch whatever the number of records.

    ``expected_keys`` (the keys of the newest records, say) start among the columns, so rows
    written before their first record need no re-laying; a key that no record holds in the
    end is dropped (those segments are re-laid), so the table is the same either way.
    """
    with contextlib.ExitStack() as stack:
        buffer = spool if spool is not None else stack.enter_context(tempfile.TemporaryFile())
        start = buffer.tell()
        columns = csv_columns(expected_keys)
        known = frozenset(columns)
        unseen = set(known - set(CSV_CORE_COLUMNS))
        segments: list[tuple[int, list[str]]] = [(start, columns)]
        parts: list[str] = []
        writerow = csv.writer(_Appender(parts)).writerow
        guarded = _GUARD_CHARS
        plans: dict[tuple[type, ...], _RowPlan] = {}
        layouts: dict[tuple[str, ...], _RowLayout] = {}  # by the record's keys, in their order
        count = 0
        for record in records:
            layout = layouts.get(tuple(record))
            if layout is None:  # keys not met in this order under these columns
                if len(layouts) >= _CSV_BATCH:  # keys in ever new orders: stay bounded
                    layouts.clear()
                if not record.keys() <= known:
                    _spill(parts, buffer)
                    columns = csv_columns(known | record.keys())
                    known = frozenset(columns)
                    segments.append((buffer.tell(), columns))
                    layouts.clear()
                unseen.difference_update(record.keys())
                layout = layouts[tuple(record)] = _RowLayout(record.keys(), columns)
            values = layout.values(record)  # missing: ""
            shape = tuple(map(type, values))
            plan = plans.get(shape)
            if plan is None:
                plan = plans[shape] = _RowPlan(shape)
            if plan.texts is not None and not guarded.isdisjoint(
                map(_first_char, filter(None, plan.texts(values)))
            ):
                for index in plan.text_indexes:
                    if values[index][:1] in guarded:
                        values[index] = "'" + values[index]
            for index, render in plan.others:  # null, numbers, lists, objects: a few a row
                values[index] = render(values[index])
            _write_row(values, parts, writerow)
            count += 1
            if not count % _CSV_BATCH:
                _spill(parts, buffer)
        _spill(parts, buffer)
        end = buffer.tell()
        if unseen:  # expected, never met: not a column after all
            columns = [name for name in columns if name not in unseen]
        header = io.StringIO()
        csv.writer(header).writerow([_guard(name) for name in columns])
        out.write(header.getvalue().encode("utf-8", "replace"))
        bounds = [offset for offset, _ in segments[1:]] + [end]
        for (offset, written), stop in zip(segments, bounds):
            buffer.seek(offset)
            if written == columns:
                _copy(buffer, out, stop - offset)
            else:
                _relay(buffer.read(stop - offset), written, columns, out)
    return count


class _RowLayout:
    """For records with these keys: a row's values in column order, one C call, missing ones
    as ``""``."""

    def __init__(self, keys: Iterable[str], columns: list[str]) -> None:
        present = set(keys)
        names = [name for name in columns if name in present]
        self.missing = [index for index, name in enumerate(columns) if name not in present]
        self.pick: Callable[[Mapping[str, Any]], Any] = (
            operator.itemgetter(*names)
            if len(names) > 1
            else lambda record: tuple(map(record.__getitem__, names))
        )

    def values(self, record: Mapping[str, Any]) -> list[Any]:
        """The record's cells, in column order."""
        values = list(self.pick(record))
        for index in self.missing:
            values.insert(index, "")
        return values


class _RowPlan:
    """For rows whose cells have these types: which are text (guarded), which need rendering."""

    def __init__(self, shape: tuple[type, ...]) -> None:
        self.text_indexes = [index for index, kind in enumerate(shape) if kind is str]
        self.others = [
            (index, _CELL.get(kind, csv_cell))
            for index, kind in enumerate(shape)
            if kind is not str
        ]
        self.texts: Optional[Callable[[list[Any]], Any]] = None
        if len(self.text_indexes) == 1:
            only = self.text_indexes[0]
            self.texts = lambda values: (values[only],)
        elif self.text_indexes:
            self.texts = operator.itemgetter(*self.text_indexes)


class _Appender:
    """A file-like ``write`` that appends to a list (the csv writer's output, joined later)."""

    def __init__(self, parts: list[str]) -> None:
        self.write = parts.append


def _write_row(cells: list[str], parts: list[str], writerow: Callable[[list[str]], Any]) -> None:
    """Append one CSV row: joined directly when no cell needs quotes (one check over the
    joined line), else through the csv module (RFC 4180 quoting)."""
    line = ",".join(cells)
    if "\x00" in line:  # text that took the shape plan's path, not `_guard`: as `_guard` does
        cells = [cell.replace("\x00", "\ufffd") for cell in cells]
        line = ",".join(cells)
    if '"' in line or "\n" in line or "\r" in line or line.count(",") != len(cells) - 1:
        writerow(cells)
    else:
        parts.append(line)
        parts.append("\r\n")


def _spill(parts: list[str], spool: IO[bytes]) -> None:
    """Move the rows rendered so far to the spool (UTF-8; a lone surrogate becomes ``?``)."""
    if parts:
        spool.write("".join(parts).encode("utf-8", "replace"))
        parts.clear()


def _copy(source: IO[bytes], out: IO[bytes], size: int) -> None:
    """Copy ``size`` bytes from ``source`` (at its position) to ``out``."""
    while size > 0:
        chunk = source.read(min(size, 1 << 20))
        if not chunk:
            break
        out.write(chunk)
        size -= len(chunk)


def _relay(data: bytes, layout: list[str], columns: list[str], out: IO[bytes]) -> None:
    """Rows written under ``layout`` rewritten under the final ``columns`` (new ones empty).

    A row without ``"`` has no quoted cell, so splitting it on ``,`` is exact; a row with
    quotes (possibly over several lines) is parsed by the csv module.
    """
    where = {name: index for index, name in enumerate(layout)}
    picks = [where.get(name) for name in columns]
    parts: list[str] = []
    writerow = csv.writer(_Appender(parts)).writerow
    lines = iter(data.decode("utf-8").split("\r\n"))
    for line in lines:
        if '"' not in line:
            if not line:
                continue  # the end of the data
            cells = line.split(",")
        else:
            while line.count('"') % 2:  # a quoted cell holds a line end: take the next line
                line += "\r\n" + next(lines)
            cells = next(csv.reader([line]))
        _write_row(["" if i is None else cells[i] for i in picks], parts, writerow)
        if len(parts) > _CSV_BATCH:
            out.write("".join(parts).encode("utf-8"))
            parts.clear()
    out.write("".join(parts).encode("utf-8"))


WRITERS: Final[dict[str, Writer]] = {
    "jsonl": write_jsonl,
    "json": write_json_array,
    "csv": write_csv,
}
