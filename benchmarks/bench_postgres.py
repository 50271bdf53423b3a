"""The PostgreSQL benchmark of issue 7: events/s into PostgreSQL versus the file sink, and a
one-user purge on a large table.

``python -m benchmarks.bench_postgres [--events N] [--rows N] [--dsn DSN]``

Both sinks (and PostgreSQL with ``chain=True``, keyed: per-writer tamper evidence) log the same
generation event (`benchmarks.event.flat_event`, tagged with writer and
sequence number) through the same `RedactingJsonFormatter`, from 1 and from 4 processes. A
run's time goes from a common start to the moment the last process has everything durable in
its sink (file: written; PostgreSQL: committed, i.e. ``close()`` returned); every record is
then counted back (lost / duplicated). The purge fills the table with ``--rows`` synthetic rows
(1,000 users, one a second from 2026-01-01, monthly partitions) by SQL, then times a one-user
query, `PostgresStore.purge` of one user (delete, scrub of the other rows that name them, audit
record, one transaction), an anonymization of another, and the retention purge of January
(its partition dropped).
Without ``--dsn`` a private cluster is started with PostgreSQL's durable defaults (fsync on,
synchronous commit), as the tests do it (`tests/pg_server.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, logging, sys, time
sink, target, writer, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
from benchmarks.event import flat_event
from dihya_logging.formatter._formatter import RedactingJsonFormatter
if sink.startswith("postgres"):
    from dihya_logging.postgres import PostgresLogHandler
    chained = sink == "postgres+chain"
    handler = PostgresLogHandler(target, spill_path=sys.argv[5], chain=chained,
                                 chain_key="benchmark chain key" if chained else None)
else:
    from dihya_logging.sink._handler import GenerationLogHandler
    handler = GenerationLogHandler(target)
handler.setFormatter(RedactingJsonFormatter())
logger = logging.getLogger("bench")
logger.propagate = False
logger.setLevel(logging.INFO)
logger.addHandler(handler)
event = flat_event()
print("ready", flush=True)
sys.stdin.readline()
start = time.time()
for seq in range(count):
    event["writer"], event["seq"] = writer, seq
    logger.info("generation", extra=event)
emitted = time.time()
handler.close()
print(json.dumps({"start": start, "emitted": emitted, "end": time.time()}), flush=True)
"""


def _run(sink: str, target: str, procs: int, events: int, spill: str) -> dict[str, float]:
    """Run ``procs`` writer processes of ``events`` each; timings of the whole run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, sink, target, f"w{k}", str(events), spill],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for k in range(procs)
    ]
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"{sink} writer failed to start: {line!r}")
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = []
    for child in children:
        out, _ = child.communicate(timeout=3600)
        if child.returncode != 0:
            raise RuntimeError(f"{sink} writer exited with {child.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    start = min(r["start"] for r in results)
    total = procs * events
    return {
        "events": total,
        "seconds": max(r["end"] for r in results) - start,
        "emit_seconds": max(r["emitted"] for r in results) - start,
    }


def _count_file(path: Path) -> tuple[int, int]:
    from dihya_logging._logset import LogSet

    seen: dict[tuple[str, int], int] = {}
    for file in LogSet(path).files():
        for raw in file.read_bytes().splitlines():
            record = json.loads(raw)
            key = (record["writer"], record["seq"])
            seen[key] = seen.get(key, 0) + 1
    return len(seen), sum(n - 1 for n in seen.values())


def _count_db(dsn: str) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT (record->>'writer', record->>'seq')), count(*) "
            "FROM dihya_generation_log"
        ).fetchone()
        conn.execute("TRUNCATE dihya_generation_log")
    assert row is not None
    return int(row[0]), int(row[1]) - int(row[0])


def throughput(dsn: str, events: int, workdir: Path) -> list[dict[str, Any]]:
    """Events/s of both sinks from 1 and 4 processes, with loss and duplicate counts."""
    table: list[dict[str, Any]] = []
    for procs in (1, 4):
        for sink in ("file", "postgres", "postgres+chain"):
            log = workdir / f"{sink}-{procs}" / "generation.log"
            target = dsn if sink.startswith("postgres") else str(log)
            spill = str(workdir / f"spill-{procs}" / "spill.log")
            timing: dict[str, Any] = dict(_run(sink, target, procs, events, spill))
            unique, dupes = _count_db(dsn) if sink.startswith("postgres") else _count_file(log)
            timing.update(
                sink=sink,
                procs=procs,
                rate=timing["events"] / timing["seconds"],
                lost=timing["events"] - unique,
                duplicated=dupes,
            )
            table.append(timing)
            print(
                f"{sink:>14} x{procs}: {timing['rate']:>9,.0f} events/s "
                f"({timing['events']:,} in {timing['seconds']:.2f} s, emit done at "
                f"{timing['emit_seconds']:.2f} s; lost {timing['lost']}, "
                f"duplicated {timing['duplicated']})",
                flush=True,
            )
    return table


FILL = """
INSERT INTO dihya_generation_log (record_id, ts, event, user_id, status, record)
SELECT gen_random_uuid(), t, 'generation', u, s, jsonb_build_object(
    'timestamp', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'level', 'INFO', 'logger', 'dihya.generation', 'message', 'generation',
    'event', 'generation', 'user_id', u, 'project_name', 'Blog Amazigh ' || i,
    'stack', 'fullstack', 'files', jsonb_build_array('README.md', 'backend/app.py',
    'frontend/App.js', 'frontend/index.html'), 'files_count', 4,
    'plugins', jsonb_build_array('analytics'), 'template', 'e-commerce', 'status', s,
    'error', NULL)
FROM (SELECT i, timestamptz '2026-01-01' + i * interval '1 second' AS t,
             'user_' || (i %% 1000) AS u,
             CASE WHEN i %% 10 = 0 THEN 'error' ELSE 'success' END AS s
      FROM generate_series(%s::bigint, %s::bigint) AS i) AS g
"""


def purge(dsn: str, rows: int) -> dict[str, Any]:
    """Fill ``rows`` rows (one a second from 2026-01-01, in monthly partitions), then time a
    one-user query, a one-user erasure, a one-user anonymization and the retention purge of the
    oldest month (which drops its partition)."""
    from datetime import datetime, timedelta, timezone

    import psycopg

    from dihya_logging.postgres import PostgresStore
    from dihya_logging.postgres._schema import ensure_partitions, ensure_schema
    from dihya_logging.store._backend import RecordFilter

    first = datetime(2026, 1, 1, tzinfo=timezone.utc)
    start = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        ensure_schema(conn)
        conn.execute("TRUNCATE dihya_generation_log")
        months = [first + timedelta(days=d) for d in range(0, rows // 86_400 + 32, 28)]
        ensure_partitions(conn, "dihya_generation_log", months)
        for low in range(0, rows, 200_000):
            conn.execute(FILL, [low, min(rows, low + 200_000) - 1])
        conn.execute("VACUUM ANALYZE dihya_generation_log")
        size = conn.execute(
            "SELECT pg_total_relation_size('dihya_generation_log') + coalesce((SELECT "
            "sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = "
            "'dihya_generation_log'::regclass), 0)"
        ).fetchone()
    fill = time.perf_counter() - start
    store = PostgresStore(dsn)
    store.pseudonymize("warm-up")  # the key lookup is not part of the purge
    start = time.perf_counter()
    found = sum(1 for _ in store.iter_records(RecordFilter(user_id="user_9")))
    query_s = time.perf_counter() - start
    start = time.perf_counter()
    erased = store.purge(user_id="user_7", before=None, anonymize=False)
    erase_s = time.perf_counter() - start
    start = time.perf_counter()
    anonymized = store.purge(user_id="user_8", before=None, anonymize=True)
    anon_s = time.perf_counter() - start
    start = time.perf_counter()
    retention = store.purge(
        user_id=None, before=datetime(2026, 2, 1, tzinfo=timezone.utc), anonymize=False
    )
    retention_s = time.perf_counter() - start
    result = {
        "user_query_records": found,
        "user_query_seconds": query_s,
        "retention_month_rows": retention.count,
        "retention_month_seconds": retention_s,
        "rows": rows,
        "table_mb": float(size[0] if size else 0) / 1e6,
        "fill_seconds": fill,
        "erased": erased.count,
        "erase_seconds": erase_s,
        "anonymized": anonymized.count,
        "anonymize_seconds": anon_s,
    }
    print(
        f"purge: {rows:,} rows ({result['table_mb']:.0f} MB with indexes, filled in {fill:.1f} s)"
        f"\n  one-user erasure:      {erased.count:,} rows in {erase_s * 1000:,.0f} ms"
        f"\n  one-user anonymization: {anonymized.count:,} rows in {anon_s * 1000:,.0f} ms"
        f"\n  one-user query:        {found:,} rows in {query_s * 1000:,.0f} ms"
        f"\n  retention of a month:  {retention.count:,} rows in {retention_s * 1000:,.0f} ms",
        flush=True,
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the figures (and, with ``--json``, write them)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_postgres")
    parser.add_argument("--events", type=int, default=20_000, help="events per process")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the purge")
    parser.add_argument("--dsn", help="an existing database (default: a private cluster)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    server = None
    dsn = args.dsn
    if dsn is None:
        from pg_server import start_server  # type: ignore[import-not-found]

        server = start_server(durable=True)
        dsn = server.create_database("bench")
    try:
        with tempfile.TemporaryDirectory(prefix="dihya-bench-pg-") as tmp:
            figures = {
                "throughput": throughput(dsn, args.events, Path(tmp)),
                "purge": purge(dsn, args.rows),
            }
    finally:
        if server is not None:
            server.destroy()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
