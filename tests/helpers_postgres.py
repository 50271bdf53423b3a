"""Helpers of the PostgreSQL tests: reading the table directly, and writer processes.

`WRITER` is the program each writer process runs: it logs ``count`` numbered records through a
`PostgresLogHandler` (one per process, sharing one spill file), pacing them so the stream
spans whatever the test does meanwhile, and prints the writer's counters as JSON at exit.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

from pg_server import require_postgres

require_postgres()  # before anything imports psycopg: one skip line for every PostgreSQL module

import psycopg  # noqa: E402

from dihya_logging.postgres import DEFAULT_TABLE  # noqa: E402

__all__ = ["WRITER", "json_formatter", "rows", "start_writers", "wait_writers"]

TESTS = Path(__file__).resolve().parent


def json_formatter() -> logging.Formatter:
    """The package's redacting formatter (the handler's default)."""
    from dihya_logging import RedactingJsonFormatter

    return RedactingJsonFormatter()


def rows(dsn: str, table: str = DEFAULT_TABLE, where: str = "") -> list[dict[str, Any]]:
    """Every row of the table (columns + record), in insertion order."""
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(
            f"SELECT record_id::text, ts, event, user_id, status, record FROM {table} "  # noqa: S608
            f"{where} ORDER BY id"
        )
        names = [c.name for c in cur.description or ()]
        return [dict(zip(names, row)) for row in cur.fetchall()]


WRITER = r"""
import json, logging, sys, time
from dihya_logging.postgres import PostgresLogHandler
dsn, spill, writer = sys.argv[1:4]
count, pause, users = int(sys.argv[4]), float(sys.argv[5]), sys.argv[6].split(",")
handler = PostgresLogHandler(dsn, None, spill, flush_interval=0.05, max_backoff=0.3,
                             batch_size=20, connect_timeout=2)
logger = logging.getLogger("dihya.generation")
logger.setLevel(logging.INFO)
logger.addHandler(handler)
print("ready", flush=True)
for seq in range(count):
    logger.info("generation", extra={"event": "generation", "user_id": users[seq % len(users)],
                                      "status": "success", "writer": writer, "seq": seq})
    if pause:
        time.sleep(pause)
logging.shutdown()
w = handler.writer
print(json.dumps({"inserted": w.inserted, "spilled": w.spilled, "replayed": w.replayed}))
"""


def start_writers(
    dsn: str,
    spill: Path,
    env: dict[str, str],
    *,
    writers: int,
    count: int,
    pause: float = 0.0,
    users: tuple[str, ...] = ("u1", "u2", "u3"),
    extra_env: Optional[dict[str, str]] = None,
) -> list[subprocess.Popen[str]]:
    """Start ``writers`` processes logging ``count`` records each; wait until all are ready."""
    child_env = {**env, **(extra_env or {})}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                dsn,
                str(spill),
                f"w{k}",
                str(count),
                str(pause),
                ",".join(users),
            ],
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(writers)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr
    return procs


def wait_writers(procs: list[subprocess.Popen[str]], timeout: float = 60) -> list[dict[str, Any]]:
    """Wait for the writers; each must exit 0. Returns their counters."""
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        results.append({**json.loads(out.strip().splitlines()[-1]), "stderr": err})
    return results


def count_rows(dsn: str, table: str = DEFAULT_TABLE) -> int:
    """How many rows the table holds (0 if it does not exist yet)."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass(%s)", [table]).fetchone() == (None,):
            return 0
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        return int(row[0]) if row else 0


def env_with_tests(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the tests directory importable too."""
    return {**env, "PYTHONPATH": str(TESTS) + os.pathsep + env.get("PYTHONPATH", "")}
