"""``dihya-logs stats`` on a PostgreSQL table: the database's aggregates versus streaming every
record to the client (how ``stats`` worked before issue 16).

``python -m benchmarks.bench_pgstats [--rows N] [--dsn DSN] [--partition]``

The table is filled by SQL (``generate_series``): ``--rows`` generations, one every 7 seconds
from 2026-01-01 (about 81 days per million: periods are weeks), 1,000 users, 5 stacks, 3
templates, 10 % errors and a ``duration_ms`` on each. Then, each timed as a real subprocess
where it is the CLI: ``stats --json`` and ``stats`` (text, ``--top 20``) on the DSN, ``report
--html``, and the old way in this process, `Stats.from_records` over `PostgresStore.iter_records`
(every record parsed and counted in Python). Without ``--dsn`` a private cluster is started
with PostgreSQL's durable defaults, as the tests do it (`tests/pg_server.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

from benchmarks.bench_postgres import FILL

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent


def fill(dsn: str, rows: int, partition: bool) -> dict[str, Any]:
    """Fill the table with ``rows`` generations (monthly partitions unless ``partition`` is
    False: then a plain, schema-1 table)."""
    from datetime import datetime, timedelta, timezone

    import psycopg

    from dihya_logging.postgres._schema import ensure_partitions, ensure_schema

    start = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        if partition:
            ensure_schema(conn)
            first = datetime(2026, 1, 1, tzinfo=timezone.utc)
            days = rows * 7 // 86_400 + 32
            months = [first + timedelta(days=d) for d in range(0, days, 28)]
            ensure_partitions(conn, "dihya_generation_log", months)
        else:
            from test_postgres_partitions import PLAIN_TABLE  # type: ignore[import-not-found]

            conn.execute(PLAIN_TABLE.encode())
            ensure_schema(conn)
        conn.execute("TRUNCATE dihya_generation_log")
        for low in range(0, rows, 200_000):
            high = min(rows, low + 200_000) - 1
            conn.execute(FILL, {"step": "7 seconds", "users": 1000, "low": low, "high": high})
        conn.execute("VACUUM ANALYZE dihya_generation_log")
    return {"rows": rows, "fill_seconds": time.perf_counter() - start}


def _cli(*args: str) -> float:
    """Seconds one ``python -m dihya_logging ARGS`` takes (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dihya_logging", *args], cwd=ROOT, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return seconds


def measure(dsn: str) -> dict[str, float]:
    """The timings (seconds): SQL aggregates through the CLI, and the old streaming way."""
    from dihya_logging.cli._stats import Stats
    from dihya_logging.postgres import PostgresStore
    from dihya_logging.store._backend import RecordFilter

    out = {
        "cli_stats_json": _cli("stats", "--json", "--file", dsn),
        "cli_stats_text_top20": _cli("stats", "--file", dsn),
        "cli_stats_user": _cli("stats", "--user", "user_7", "--file", dsn),
    }
    with tempfile.TemporaryDirectory() as tmp:
        out["cli_report_html"] = _cli("report", "--html", f"{tmp}/r.html", "--file", dsn)
    store = PostgresStore(dsn)
    start = time.perf_counter()
    streamed = Stats.from_records(store.iter_records(RecordFilter()), top=0)
    out["streamed_in_python"] = time.perf_counter() - start
    start = time.perf_counter()
    computed = store.compute_stats(RecordFilter(), top=0)
    out["computed_in_sql"] = time.perf_counter() - start
    if computed != streamed:
        raise AssertionError("the database's figures differ from the streamed ones")
    return out


@contextlib.contextmanager
def _database(dsn: Optional[str]) -> Iterator[str]:
    """``dsn``, or a fresh database on a private durable cluster, destroyed afterwards."""
    if dsn is not None:
        yield dsn
        return
    from pg_server import start_server  # type: ignore[import-not-found]

    server = start_server(durable=True)
    try:
        yield server.create_database("bench")
    finally:
        server.destroy()


def main(argv: Sequence[str] | None = None) -> int:
    """Fill the table, print the timings."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_pgstats")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the table")
    parser.add_argument("--dsn", help="an existing database (default: a private cluster)")
    parser.add_argument("--plain", action="store_true", help="a plain (unpartitioned) table")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    with _database(args.dsn) as dsn:
        filled = fill(dsn, args.rows, partition=not args.plain)
        print(f"filled {filled['rows']:,} rows in {filled['fill_seconds']:.1f} s", flush=True)
        for name, seconds in measure(dsn).items():
            print(f"{name:>22}: {seconds:7.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
