"""The PostgreSQL benchmark of issue 16, side by side with the file sink in one run.

``python -m benchmarks.bench_postgres [--rows N] [--users N] [--events N] [--rounds N] [--dsn DSN]``

Targets (issue 16): on a 10,000,000-row table, a one-user query ≤ 50 ms and the retention
purge of a month ≤ 1 s; four writer processes ≥ 25,000 events/s with ``synchronous_commit`` on.

* **Writers.** The file sink, PostgreSQL and PostgreSQL with ``chain=True`` (keyed) log the same
  generation event (`benchmarks.event.flat_event`, tagged with writer and sequence number)
  through the same `RedactingJsonFormatter` from ``--procs`` processes; the sinks take turns,
  ``--rounds`` times (the median is reported, with the machine's load average before each run).
  Each process logs and flushes one warm-up record before the common start (connection made,
  file open); a run ends when the last process has everything durable (file: written;
  PostgreSQL: committed, ``close()`` returned). Every record is then counted back: lost and
  duplicated must be 0.
* **The table.** ``--rows`` rows are made by SQL (``generate_series``): evenly spread over
  ``--months`` months from 2026-01-01, ``--users`` users in turn, one in ten an error, in the
  real schema (monthly partitions, every index; the secondary indexes are built after the fill,
  then ``VACUUM ANALYZE``, as an old table would be). Then, warm: the one-user query as
  ``dihya-logs query --user U`` runs it on a terminal (`PostgresStore.tail`, the newest 100)
  and a user's whole history (`PostgresStore.iter_records`), median of several users; and the
  retention purge of the oldest month through `purge_generation_logs` (its partition dropped,
  the exact count in the purge record).

Without ``--dsn`` a private cluster is started with PostgreSQL's durable defaults (fsync on,
synchronous commit on), as the tests do it (`tests/pg_server.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
TABLE = "dihya_generation_log"
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
event["writer"], event["seq"] = writer, -1
logger.info("generation", extra=event)  # warm-up: connected, file open
handler.flush()
print("ready", flush=True)
sys.stdin.readline()
start = time.time()
for seq in range(count):
    event["writer"], event["seq"] = writer, seq
    logger.info("generation", extra=event)
emitted = time.time()
handler.close()
spilled = getattr(getattr(handler, "writer", None), "spilled", 0)
print(json.dumps({"start": start, "emitted": emitted, "end": time.time(), "spilled": spilled}),
      flush=True)
"""


def _load() -> float:
    """The 1-minute load average (2 shared cores: above 2, other work competes)."""
    return os.getloadavg()[0]


def _run(sink: str, target: str, procs: int, events: int, spill: str) -> dict[str, Any]:
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
    load = _load()
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
    seconds = max(r["end"] for r in results) - start
    return {
        "events": procs * events,
        "seconds": seconds,
        "rate": procs * events / seconds,
        "emit_seconds": max(r["emitted"] for r in results) - start,
        "spilled": sum(r["spilled"] for r in results),
        "load": load,
    }


def _count_file(path: Path) -> tuple[int, int]:
    """Distinct (writer, seq) pairs in the log set, and how many lines repeated one."""
    from dihya_logging._logset import LogSet

    seen: dict[tuple[str, int], int] = {}
    for file in LogSet(path).files():
        for raw in file.read_bytes().splitlines():
            record = json.loads(raw)
            key = (record["writer"], record["seq"])
            seen[key] = seen.get(key, 0) + 1
    return len(seen), sum(n - 1 for n in seen.values())


def _count_db(dsn: str) -> tuple[int, int]:
    """Distinct (writer, seq) pairs in the table, and how many rows repeated one; empties it."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT (record->>'writer', record->>'seq')), count(*) "
            "FROM dihya_generation_log"
        ).fetchone()
        conn.execute("TRUNCATE dihya_generation_log")
    assert row is not None
    return int(row[0]), int(row[1]) - int(row[0])


def throughput(
    dsn: str, events: int, procs_list: Sequence[int], rounds: int, sinks: Sequence[str], tmp: Path
) -> list[dict[str, Any]]:
    """Events/s of each sink, the sinks taking turns ``rounds`` times; medians, loss counts."""
    table: list[dict[str, Any]] = []
    for procs in procs_list:
        runs: dict[str, list[dict[str, Any]]] = {sink: [] for sink in sinks}
        for round_no in range(rounds):
            for sink in sinks:
                log = tmp / f"{sink}-{procs}-{round_no}" / "generation.log"
                target = dsn if sink.startswith("postgres") else str(log)
                spill = str(tmp / f"spill-{sink}-{procs}-{round_no}" / "spill.log")
                timing = _run(sink, target, procs, events, spill)
                unique, dupes = _count_db(dsn) if sink.startswith("postgres") else _count_file(log)
                timing.update(lost=procs * (events + 1) - unique, duplicated=dupes)
                runs[sink].append(timing)
                print(
                    f"  {sink:>14} x{procs} round {round_no + 1}: {timing['rate']:>8,.0f} "
                    f"events/s ({timing['seconds']:.2f} s, emit done at "
                    f"{timing['emit_seconds']:.2f} s; spilled {timing['spilled']}, lost "
                    f"{timing['lost']}, duplicated {dupes}; load {timing['load']:.2f})",
                    flush=True,
                )
        for sink, done in runs.items():
            rates = [r["rate"] for r in done]
            row = {
                "sink": sink,
                "procs": procs,
                "median_rate": statistics.median(rates),
                "rates": rates,
                "loads": [r["load"] for r in done],
                "lost": sum(r["lost"] for r in done),
                "duplicated": sum(r["duplicated"] for r in done),
            }
            table.append(row)
            print(
                f"{sink:>14} x{procs}: median {row['median_rate']:,.0f} events/s "
                f"(runs {', '.join(f'{r:,.0f}' for r in rates)}; loads "
                f"{', '.join(f'{x:.1f}' for x in row['loads'])}); lost {row['lost']}, "
                f"duplicated {row['duplicated']}",
                flush=True,
            )
    return table


FILL = """
-- generations i = low..high, one every %(step)s from 2026-01-01, spread over %(users)s users
INSERT INTO dihya_generation_log (record_id, ts, event, user_id, status, record)
SELECT gen_random_uuid(), t, 'generation', u, s, jsonb_build_object(
    'timestamp', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'level', 'INFO', 'logger', 'dihya.generation', 'message', 'generation',
    'event', 'generation', 'user_id', u, 'project_name', 'Blog Amazigh ' || i,
    'stack', (ARRAY['fullstack', 'backend', 'frontend', 'mobile', 'static'])[1 + i %% 5],
    'files', jsonb_build_array('README.md', 'backend/app.py',
    'frontend/App.js', 'frontend/index.html'), 'files_count', 4,
    'plugins', jsonb_build_array('analytics'),
    'template', (ARRAY['e-commerce', 'blog', 'portfolio'])[1 + i %% 3], 'status', s,
    'duration_ms', (i * 7919) %% 30000,
    'error', CASE WHEN s = 'error' THEN 'generator timed out' END)
FROM (SELECT i, timestamptz '2026-01-01 00:00:00+00' + i * %(step)s::interval AS t,
             'user_' || (i * 7919 %% %(users)s) AS u,
             CASE WHEN i %% 10 = 0 THEN 'error' ELSE 'success' END AS s
      FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS i) AS g
"""
_SECONDARY = ("ts_idx", "user_ts_idx", "event_ts_idx", "status_ts_idx")


def fill(dsn: str, rows: int, users: int, months: int) -> dict[str, Any]:
    """Make the table: ``rows`` rows over ``months`` months, indexes built after the fill."""
    import psycopg

    from dihya_logging.postgres import schema_sql
    from dihya_logging.postgres._schema import ensure_partitions, ensure_schema

    first = datetime(2026, 1, 1, tzinfo=timezone.utc)
    span = datetime(2026 + months // 12, months % 12 + 1, 1, tzinfo=timezone.utc) - first
    step = span / rows
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        ensure_schema(conn)
        conn.execute("TRUNCATE dihya_generation_log")
        ensure_partitions(conn, TABLE, [first + timedelta(days=d) for d in range(0, span.days, 27)])
        for suffix in _SECONDARY:  # built once after the fill, as CREATE INDEX does it best
            conn.execute(f'DROP INDEX IF EXISTS "{TABLE}_{suffix}"'.encode())
        conn.execute("SET synchronous_commit = off")  # the fill only; every run is durable
        conn.execute("SET maintenance_work_mem = '1GB'")
        chunk = 500_000
        for low in range(0, rows, chunk):
            params = {"step": step, "users": users, "low": low, "high": min(rows, low + chunk) - 1}
            conn.execute(FILL, params)
            print(f"  filled {min(rows, low + chunk):,} rows", end="\r", file=sys.stderr)
        print(file=sys.stderr)
        conn.execute(schema_sql().encode())  # the secondary indexes, on every partition
        conn.execute("VACUUM ANALYZE dihya_generation_log")
        size = conn.execute(
            "SELECT sum(pg_total_relation_size(inhrelid))::bigint FROM pg_inherits "
            "WHERE inhparent = 'dihya_generation_log'::regclass"
        ).fetchone()
    seconds = time.perf_counter() - started
    print(
        f"table: {rows:,} rows, {users:,} users, {months} months, "
        f"{(size[0] if size else 0) / 1e9:.2f} GB with indexes (made in {seconds:.0f} s)",
        flush=True,
    )
    return {"rows": rows, "users": users, "months": months, "bytes": size[0] if size else 0}


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def user_query(dsn: str, users: int, repeats: int) -> dict[str, Any]:
    """The one-user query through `PostgresStore`, warm: the newest 100 (``dihya-logs query
    --user U`` on a terminal) and the whole history, median over ``repeats`` users."""
    import psycopg
    from psycopg import sql

    from dihya_logging.postgres import PostgresStore
    from dihya_logging.postgres._schema import table_sql
    from dihya_logging.store._backend import RecordFilter

    store = PostgresStore(dsn)
    chosen = [f"user_{(k * 9973) % users}" for k in range(repeats)]
    tail_s: list[float] = []
    full_s: list[float] = []
    found = 0
    for user in chosen:
        flt = RecordFilter(user_id=user)
        store.tail(100, flt)  # warm: this user's pages in the cache, as for a repeated query
        sum(1 for _ in store.iter_records(flt))
        start = time.perf_counter()
        newest = store.tail(100, flt)
        tail_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        found = sum(1 for _ in store.iter_records(flt))
        full_s.append(time.perf_counter() - start)
        assert len(newest) == min(100, found)
    with psycopg.connect(dsn) as conn:
        plan = conn.execute(
            sql.SQL(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT record FROM (SELECT record, ts, "
                "id FROM {} WHERE user_id = %s ORDER BY ts DESC, id DESC LIMIT 100) AS n "
                "ORDER BY ts, id"
            ).format(table_sql(TABLE)),
            [chosen[0]],
        ).fetchone()
    server_ms = float(plan[0][0]["Execution Time"]) if plan else float("nan")
    result = {
        "tail_100_ms": _median_ms(tail_s),
        "tail_100_server_ms": server_ms,
        "history_ms": _median_ms(full_s),
        "history_rows": found,
        "load": _load(),
    }
    print(
        f"one-user query, newest 100 (dihya-logs query --user U): "
        f"{result['tail_100_ms']:.1f} ms median of {repeats} users (server {server_ms:.1f} ms)"
        f"\none-user query, whole history ({found:,} rows): {result['history_ms']:.0f} ms "
        f"median (load {result['load']:.2f})",
        flush=True,
    )
    return result


def retention(dsn: str) -> dict[str, Any]:
    """The retention purge of the oldest month through the public API (partition dropped)."""
    from dihya_logging import purge_generation_logs

    load = _load()
    start = time.perf_counter()
    count = purge_generation_logs(
        before=datetime(2026, 2, 1, tzinfo=timezone.utc), actor="bench", path=dsn
    )
    seconds = time.perf_counter() - start
    print(
        f"retention purge of January: {count:,} rows in {seconds * 1000:,.0f} ms (load {load:.2f})",
        flush=True,
    )
    return {"rows": count, "seconds": seconds, "load": load}


def _settings(dsn: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        names = ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        return {n: str(conn.execute(f"SHOW {n}").fetchone()[0]) for n in names}  # type: ignore[index]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the figures (and, with ``--json``, write them)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_postgres")
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the big table")
    parser.add_argument("--users", type=int, default=10_000, help="users in the big table")
    parser.add_argument("--months", type=int, default=12, help="months the rows spread over")
    parser.add_argument("--events", type=int, default=20_000, help="events per writer process")
    parser.add_argument("--procs", type=int, nargs="+", default=[4], help="writer processes")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every sink")
    parser.add_argument("--queries", type=int, default=7, help="users queried (median)")
    parser.add_argument("--no-chain", action="store_true", help="skip PostgreSQL chain=True")
    parser.add_argument("--only", choices=("writers", "table"), help="one half of the run")
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
    figures: dict[str, Any] = {}
    try:
        import psycopg

        from dihya_logging.postgres._schema import ensure_schema

        with psycopg.connect(dsn, autocommit=True) as conn:
            ensure_schema(conn)
        figures["settings"] = _settings(dsn)
        print(f"server: {figures['settings']}, load {_load():.2f}", flush=True)
        if args.only != "table":
            sinks = ["file", "postgres"] + ([] if args.no_chain else ["postgres+chain"])
            with tempfile.TemporaryDirectory(prefix="dihya-bench-pg-") as tmp:
                figures["writers"] = throughput(
                    dsn, args.events, args.procs, args.rounds, sinks, Path(tmp)
                )
        if args.only != "writers":
            figures["table"] = fill(dsn, args.rows, args.users, args.months)
            figures["user_query"] = user_query(dsn, args.users, args.queries)
            figures["retention"] = retention(dsn)
    finally:
        if server is not None:
            server.destroy()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
