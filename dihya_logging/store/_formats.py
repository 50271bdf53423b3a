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
import marshal
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
    """Neutralise spreadsheet formulas and mark text that could be misread as JSON."""
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
    records: Iterable[Mapping[str, Any]], out: IO[bytes], *, spool: IO[bytes] | None = None
) -> int:
    """Write records as CSV, streamed, columns per `csv_columns` over every key seen.

    The header needs every key, so the rendered rows wait in ``spool`` (default: an anonymous
    private temporary file) in batches, each cell rendered once, in the column order known so
    far; then they are written under the final columns (reordered and padded as needed) by the
    C csv writer. Memory stays bounded by one batch whatever the number of records.
    """
    with contextlib.ExitStack() as stack:
        buffer = spool if spool is not None else stack.enter_context(tempfile.TemporaryFile())
        order: list[str] = list(CSV_CORE_COLUMNS)
        position = {name: index for index, name in enumerate(order)}
        cell, guarded = csv_cell, _GUARD_CHARS
        batch: list[list[str]] = []
        count = 0
        for record in records:
            if not record.keys() <= position.keys():
                for key in csv_columns(record)[len(CSV_CORE_COLUMNS) :]:
                    if key not in position:
                        position[key] = len(order)
                        order.append(key)
            row = [""] * len(order)
            for key, value in record.items():  # strings and nulls (most cells) inline
                if type(value) is str:
                    row[position[key]] = "'" + value if value[:1] in guarded else value
                elif value is not None:
                    row[position[key]] = cell(value)
            batch.append(row)
            count += 1
            if len(batch) == _CSV_BATCH:
                _spool_batch(buffer, batch)
                batch = []
        _spool_batch(buffer, batch)
        buffer.seek(0)
        final = csv_columns(order)
        _write_rows(buffer, out, final, [position[name] for name in final])
    return count


def _spool_batch(spool: IO[bytes], batch: list[list[str]]) -> None:
    """Append one batch of rendered rows to the spool (length-prefixed marshal data)."""
    if batch:
        data = marshal.dumps(batch)
        spool.write(len(data).to_bytes(8, "little"))
        spool.write(data)


def _write_rows(spool: IO[bytes], out: IO[bytes], columns: list[str], indexes: list[int]) -> None:
    """The header, then every spooled batch of rows in ``indexes`` order, padded to width."""
    width = len(indexes)
    identity = indexes == list(range(width))
    pick = operator.itemgetter(*indexes)
    text = io.TextIOWrapper(out, encoding="utf-8", errors="replace", newline="")
    try:
        writer = csv.writer(text)
        writer.writerow([_guard(name) for name in columns])
        while True:
            size = int.from_bytes(spool.read(8) or b"\0", "little")
            if not size:
                break
            # our own anonymous temporary file, written just above: not untrusted input
            batch = marshal.loads(spool.read(size))  # noqa: S302
            for row in batch:
                if len(row) < width:
                    row.extend([""] * (width - len(row)))
            writer.writerows(batch if identity else map(pick, batch))
        text.flush()
    finally:
        text.detach()  # the caller owns ``out``


WRITERS: Final[dict[str, Writer]] = {
    "jsonl": write_jsonl,
    "json": write_json_array,
    "csv": write_csv,
}
