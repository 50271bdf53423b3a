"""Importing JSON-lines logs, the DBA's schema file, and the CLI on a postgresql:// location."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers_postgres import count_rows, rows, start_writers, wait_writers
from pg_server import PgServer, pg_dsn_fixture, pg_server_fixture  # noqa: F401

from dihya_logging import get_generation_logs, purge_generation_logs
from dihya_logging._logset import LogSet
from dihya_logging.postgres import import_log_set, schema_sql
from dihya_logging.postgres._spill import Spill
from tests.helpers_store import build_log, line, record, write_file

pytestmark = pytest.mark.postgres


def test_import_is_idempotent_and_picks_up_growth(pg_dsn: str, log_path: Path) -> None:
    """Rotated, gzipped and live files go in once; a second run after the log grew adds only
    the new lines; identical lines are not collapsed."""
    written = build_log(log_path)
    twin = record(999, "twin", day=5)
    with log_path.open("ab") as out:
        out.write(line(twin) + line(twin))
    first = import_log_set(log_path, pg_dsn)
    assert (first.files, first.read, first.inserted) == (4, len(written) + 2, len(written) + 2)
    with log_path.open("ab") as out:
        out.write(line(record(1000, "new", day=5)))
    second = import_log_set(log_path, pg_dsn)
    assert (second.inserted, second.duplicates) == (1, len(written) + 2)
    got = get_generation_logs(path=pg_dsn)
    assert got == [*written, twin, twin, record(1000, "new", day=5)]


def test_import_skips_tombstones_damage_and_reads_spill_ids(pg_dsn: str, log_path: Path) -> None:
    """Tombstones and damaged lines are counted, not stored; a spill file keeps its record ids,
    so importing it after its records were sent adds nothing."""
    tomb = {"tombstone": True, "seq": 3, "commit": "c", "link": "l"}
    write_file(log_path, [record(1, "a"), tomb, record(2, "b")], tail=b'{not json\n{"cut')
    outcome = import_log_set(log_path, pg_dsn)
    assert (outcome.read, outcome.tombstones, outcome.damaged) == (2, 1, 2)
    spill_path = log_path.with_name("spill.log")
    sent = rows(pg_dsn)
    spill = Spill(spill_path)
    spill.write([(r["record_id"], json.dumps(r["record"])) for r in sent])
    spill.close()
    assert import_log_set(spill_path, pg_dsn).inserted == 0
    assert count_rows(pg_dsn) == 2


def test_schema_file_is_what_the_handler_creates(pg_server: PgServer, pg_dsn: str) -> None:
    """The shipped schema.sql is schema_sql(); a DBA can run it by hand, twice, and the store
    then works on that table."""
    shipped = Path(__file__).parent.parent / "dihya_logging" / "postgres" / "schema.sql"
    assert shipped.read_text() == schema_sql()
    dbname = pg_dsn.rsplit("/", 1)[1]
    for _ in range(2):
        pg_server.psql(shipped.read_text(), dbname=dbname)
    columns = pg_server.psql(
        "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) "
        "FROM information_schema.columns WHERE table_name = 'dihya_generation_log'",
        dbname=dbname,
    )
    assert columns == (
        "id:bigint,record_id:uuid,ts:timestamp with time zone,event:text,user_id:text,"
        "status:text,record:jsonb"
    )
    indexes = pg_server.psql(
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'dihya_generation_log'", dbname=dbname
    )
    assert indexes == "5"  # primary key (record_id, ts), ts, user+ts, rare events, rare statuses


def test_cli_reads_and_purges_a_database(
    pg_dsn: str, log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """dihya-logs query/stats/purge accept --file postgresql://… like a path."""
    written = build_log(log_path)
    import_log_set(log_path, pg_dsn)
    env = {**subprocess_env, "DIHYA_ANON_KEY": "cli-key"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dihya_logging", *args, "--file", pg_dsn],
            env=env,
            capture_output=True,
            text=True,
        )

    query = cli("query", "--user", "user_2", "--limit", "3", "--json")
    assert query.returncode == 0, query.stderr
    mine = [r for r in written if r["user_id"] == "user_2"]
    assert [json.loads(x) for x in query.stdout.splitlines()] == mine[-3:]
    stats = cli("stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert str(len(written)) in stats.stdout
    purge = cli("purge", "--user", "user_2", "--yes")
    assert purge.returncode == 0, purge.stderr
    assert get_generation_logs(user_id="user_2", path=pg_dsn) == []
    assert "s3cret" not in purge.stdout + purge.stderr + query.stderr


def test_purge_while_writers_are_active(
    pg_dsn: str, tmp_path: Path, subprocess_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user erasure committed while two processes write loses none of the others' records;
    every one of the user's records is either erased or written after the purge, once."""
    monkeypatch.setenv("DIHYA_ANON_KEY", "k")
    procs = start_writers(
        pg_dsn, tmp_path / "spill.log", subprocess_env, writers=2, count=200, pause=0.005
    )
    try:
        deadline = time.monotonic() + 30
        while count_rows(pg_dsn) < 100:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        erased = purge_generation_logs(user_id="u2", actor="dpo", path=pg_dsn)
    finally:
        wait_writers(procs)
    got = rows(pg_dsn, where="WHERE event = 'generation'")
    keys = Counter((r["record"]["writer"], r["record"]["seq"]) for r in got)
    assert max(keys.values()) == 1
    others = {(w, s) for w in ("w0", "w1") for s in range(200) if s % 3 != 1}
    assert others <= set(keys)
    u2_left = sum(1 for r in got if r["user_id"] == "u2")
    assert erased > 0
    assert erased + u2_left == 2 * len(range(1, 200, 3))
    audit = rows(pg_dsn, where="WHERE event = 'purge'")
    assert [(a["record"]["count"], a["record"]["actor"]) for a in audit] == [(erased, "dpo")]
    assert all(p.stat().st_size == 0 for p in LogSet(tmp_path / "spill.log").files())
