"""`stats` and `report` on a DSN: computed by the database, output identical to the file log's."""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers_export import run_cli, write_rotated_log
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg_server import PgServer, pg_dsn_fixture, pg_server_fixture  # noqa: F401
from test_postgres_partitions import PLAIN_TABLE

from dihya_logging.cli._stats import Stats, percentile
from dihya_logging.postgres import PostgresStore, import_log_set
from dihya_logging.store import RecordFilter
from dihya_logging.store._filestore import FileStore

pytestmark = pytest.mark.postgres

LAYOUTS = ("partitioned", "plain")
OPTIONS = (
    [],
    ["--by", "day"],
    ["--by", "week", "--top", "2"],
    ["--by", "month", "--user", "Émile"],
    ["--since", "2026-12-01", "--until", "2027-01-10", "--top", "1"],
)
SHAPES = (["--json"], ["--csv"], [])


def _stamp(moment: datetime, index: int) -> str:
    """The formatter's UTC stamp, or (one record in 7) the same instant at +02:00."""
    if index % 7:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.astimezone(timezone(timedelta(hours=2))).isoformat(timespec="milliseconds")


def varied_records() -> list[dict[str, Any]]:
    """Generations over 75 days across a year end (ISO week 2026-W53), in stacks of 1 to 25
    records (every percentile rank), with odd durations, keys and users, plus audit events."""
    rng = random.Random(16)
    start = datetime(2026, 11, 20, tzinfo=timezone.utc)
    durations: list[Any] = [True, "12", None, [5], 1e300, -3, 0.5, 7.0]
    records: list[tuple[datetime, dict[str, Any]]] = []
    for size in range(1, 26):
        for _ in range(size):
            moment = start + timedelta(seconds=rng.randrange(75 * 86400))
            record: dict[str, Any] = {
                "level": "INFO",
                "event": "generation",
                "user_id": rng.choice(["u1", "u2", "u3", "Émile", "zoe", "Zoe", "ödön", 42]),
                "stack": f"s{size:02d}",
                "template": rng.choice(["e-commerce", "blog", "Blog", None, "", "€shop"]),
                "status": rng.choice(["success", "success", "error", None]),
            }
            choice = rng.random()
            if choice < 0.7:
                record["duration_ms"] = rng.choice([rng.randrange(5000), rng.random() * 900])
            elif choice < 0.9:
                record["duration_ms"] = rng.choice(durations)
            if rng.random() < 0.05:
                del record["template"]
            records.append((moment, record))
    for index, (event, extra) in enumerate(
        [
            ("export", {"format": "csv", "destination": "/x.csv", "count": 3}),
            ("purge", {"mode": "delete", "filter": {"user_id": "tok"}, "count": 2}),
            ("export", {"format": "jsonl", "destination": "s3://b/k", "count": 9}),
            ("purge", {"mode": "anonymize", "filter": {"before": "2026-12-01"}, "count": 1}),
            ("redact", {"count": 4}),
            ("custom", {}),
            (None, {}),
        ]
    ):
        record = {"level": "INFO", "actor": f"ops{index}", **extra}
        if event is not None:
            record["event"] = event
        records.append((start + timedelta(days=10 * index, hours=5), record))
    records.sort(key=lambda item: item[0])
    out = []
    for index, (moment, record) in enumerate(records):
        out.append({"timestamp": _stamp(moment, index), "message": "m", **record})
    return out


@pytest.fixture(scope="module")
def file_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The varied records as a rotated file log set."""
    log = tmp_path_factory.mktemp("stats") / "generation.log"
    write_rotated_log(log, varied_records())
    return log


@pytest.fixture(scope="module", params=LAYOUTS)
def database(request: pytest.FixtureRequest, pg_server: PgServer, file_log: Path) -> str:
    """The same records in PostgreSQL, in a partitioned table and in a plain (schema 1) one."""
    dsn = pg_server.create_database()
    if request.param == "plain":
        pg_server.psql(PLAIN_TABLE, dbname=dsn.rsplit("/", 1)[1])
    outcome = import_log_set(file_log, dsn)
    assert outcome.inserted == outcome.read > 0
    with psycopg.connect(dsn) as conn:
        kind = conn.execute(
            "SELECT relkind FROM pg_class WHERE relname = 'dihya_generation_log'"
        ).fetchone()
    assert kind == (("p",) if request.param == "partitioned" else ("r",))
    return dsn


_FILE_OUTPUT: dict[tuple[str, ...], Any] = {}


def _on_file(log: Path, env: dict[str, str], *args: str) -> Any:
    """``dihya-logs ARGS --file LOG``, run once per argument list in this module."""
    if args not in _FILE_OUTPUT:
        _FILE_OUTPUT[args] = run_cli(*args, "--file", str(log), env=env)
    return _FILE_OUTPUT[args]


def test_stats_on_a_database_print_what_the_file_log_prints(
    file_log: Path, database: str, subprocess_env: dict[str, str]
) -> None:
    """stats --json, --csv and text, by day/week/month, --top, --user, --since/--until: the
    output on PostgreSQL (both layouts) equals the output on the same records as files."""
    for options in OPTIONS:
        for shape in SHAPES:
            args = ("stats", *shape, *options)
            on_file = _on_file(file_log, subprocess_env, *args)
            on_db = run_cli(*args, "--file", database, env=subprocess_env)
            assert on_file.returncode == 0, on_file.stderr
            assert (on_db.returncode, on_db.stderr) == (0, ""), args
            assert on_db.stdout == on_file.stdout, args
    figures = json.loads(_on_file(file_log, subprocess_env, "stats", "--json").stdout)
    assert figures["period"] == "week" and "2026-W53" in figures["by_week"]
    assert figures["events"]["(none)"] == 1 and figures["by_user"]["42"] > 0
    assert {"(none)", "", "Blog"} & set(figures["by_template"]) == {"(none)", "Blog"}
    assert len(figures["stacks"]) == 25 and "p95_ms" in figures["stacks"]["s25"]
    text = _on_file(file_log, subprocess_env, "stats", "--by", "week", "--top", "2").stdout
    assert "… and 23 more (--top N, or --json for all)" in text


def test_a_stamp_with_an_offset_counts_on_its_utc_day(
    pg_server: PgServer, log_path: Path, subprocess_env: dict[str, str]
) -> None:
    """00:30+02:00 on 2 March is 1 March in UTC: its day, on files and in SQL alike."""
    records = [
        {"timestamp": "2027-03-02T00:30:00.000+02:00", "event": "generation", "user_id": "u"},
        {"timestamp": "2027-03-02T12:00:00.000Z", "event": "generation", "user_id": "u"},
    ]
    write_rotated_log(log_path, records)
    dsn = pg_server.create_database()
    import_log_set(log_path, dsn)
    for location in (str(log_path), dsn):
        done = run_cli("stats", "--json", "--file", location, env=subprocess_env)
        assert json.loads(done.stdout)["by_day"] == {"2027-03-01": 1, "2027-03-02": 1}


def test_the_database_percentile_is_the_nearest_rank_one(pg_dsn: str) -> None:
    """`percentile` (files) and SQL's ``percentile_disc`` pick the same value for every size
    from 1 to 150, with ties, negative and fractional durations."""
    rng = random.Random(95)
    with psycopg.connect(pg_dsn) as conn:
        for size in range(1, 151):
            values = [
                rng.choice([rng.randrange(-5, 50), rng.random() * 100]) * 1.0 for _ in range(size)
            ]
            for rank in (50, 95):
                row = conn.execute(
                    "SELECT percentile_disc(%s::float8) WITHIN GROUP (ORDER BY v) "
                    "FROM unnest(%s::float8[]) AS v",
                    [rank / 100, values],
                ).fetchone()
                assert row is not None
                assert row[0] == percentile(values, rank), (size, rank)


class RowCountingProxy:
    """A TCP relay to the server counting the rows (``DataRow`` messages) sent to clients."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.rows = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        pending = b""
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                for end in (source, sink):
                    with contextlib.suppress(OSError):
                        end.shutdown(socket.SHUT_RDWR)
                return
            sink.sendall(data)
            if count:
                pending = self._count(pending + data)

    def _count(self, data: bytes) -> bytes:
        """Count the whole messages in ``data`` (type byte, 4-byte length); return the rest."""
        offset = 0
        while len(data) - offset >= 5:
            size = int.from_bytes(data[offset + 1 : offset + 5], "big")
            if len(data) - offset < 1 + size:
                break
            if data[offset] == ord("D"):
                with self._lock:
                    self.rows += 1
            offset += 1 + size
        return data[offset:]

    def dsn(self, dsn: str, server_port: int) -> str:
        """``dsn`` through this relay, in clear (the counter reads the protocol)."""
        relayed = dsn.replace(f":{server_port}/", f":{self.port}/")
        return relayed + "?sslmode=disable&gssencmode=disable"

    def take(self) -> int:
        """Rows counted since the last call."""
        with self._lock:
            rows, self.rows = self.rows, 0
        return rows

    def close(self) -> None:
        self._listener.close()


def _uniform_log(path: Path, count: int) -> Path:
    """``count`` generations: 50 users, 3 stacks, 2 templates, 20 days, 2 statuses."""
    start = datetime(2026, 5, 1, tzinfo=timezone.utc)
    records = []
    for n in range(count):
        moment = start + timedelta(days=n % 20, seconds=n)
        records.append(
            {
                "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "event": "generation",
                "user_id": f"user_{n % 50}",
                "stack": ("a", "b", "c")[n % 3],
                "template": ("t", "u")[n % 2],
                "status": "error" if n % 9 == 0 else "success",
                "duration_ms": n % 997,
            }
        )
    write_rotated_log(path, records)
    return path


def test_only_aggregated_rows_travel(
    pg_server: PgServer, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """The rows the server sends for `stats` depend on the groups, not on the records: the
    same for 3,000 and 6,000 records; ``--top 3`` cuts the user ranking in SQL; a `query` of
    the same table (the counter's control) receives every record."""
    proxy = RowCountingProxy(pg_server.port)
    try:
        sent = {}
        for count in (3000, 6000):
            dsn = pg_server.create_database()
            import_log_set(_uniform_log(tmp_path / str(count) / "generation.log", count), dsn)
            relayed = proxy.dsn(dsn, pg_server.port)
            proxy.take()
            done = run_cli("stats", "--json", "--by", "day", "--file", relayed, env=subprocess_env)
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["generations"] == count
            sent[count] = proxy.take()
            top = run_cli(
                "stats", "--top", "3", "--by", "day", "--file", relayed, env=subprocess_env
            )
            assert top.returncode == 0, top.stderr
            assert "… and 47 more" in top.stdout
            sent[-count] = proxy.take()
            query = run_cli("query", "--json", "--file", relayed, env=subprocess_env)
            assert query.returncode == 0, query.stderr
            assert proxy.take() >= count
    finally:
        proxy.close()
    groups = (
        1 + 1 + 2 + 3 + 2 + 50 + 20
    )  # overall, events, statuses, stacks, templates, users, days
    assert sent[3000] == sent[6000] <= groups + 5
    assert sent[-3000] == sent[-6000] == sent[3000] - 47


def test_report_on_a_database_matches_the_file_log(
    file_log: Path, database: str, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """report --html on PostgreSQL shows the figures, timeline, tables and the latest audit
    events (``--audits 2``: ORDER BY … LIMIT in SQL) that it shows on the file log."""
    pages = []
    for location in (str(file_log), database):
        page = tmp_path / f"{len(pages)}.html"
        done = run_cli("report", "--html", str(page), "--audits", "2", "--by", "month",
                       "--file", location, env=subprocess_env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        text = page.read_text()
        text = re.sub(r"<title>.*?</title>", "", text)
        pages.append(re.sub(r"<p>[^<]* · generated [^<]*</p>", "", text))
    assert pages[0] == pages[1]
    audit_rows = re.findall(r"<tr><td>20\d\d-[^<]*</td><td>(\w+)</td><td>(ops\d)", pages[0])
    assert audit_rows == [("purge", "ops3"), ("export", "ops2")]


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6
)
_KEYS = st.one_of(st.sampled_from(["a", "b", "B", "é", "", "(none)"]), _TEXT, st.integers(-9, 99),
                  st.booleans(), st.none())  # fmt: skip
_DURATIONS = st.one_of(st.integers(-(10**6), 10**9), st.booleans(), st.none(), _TEXT,
                       st.floats(-1e12, 1e12, allow_nan=False))  # fmt: skip
_OFFSETS = st.sampled_from([None, timedelta(hours=2), timedelta(hours=-5, minutes=-30)])


@st.composite
def _record(draw: st.DrawFn) -> dict[str, Any]:
    """One record: any event, odd keys, odd durations, a UTC or offset timestamp."""
    moment = draw(st.datetimes(datetime(2025, 12, 1), datetime(2026, 6, 1)))
    offset = draw(_OFFSETS)
    if offset is None:
        stamp = moment.isoformat(timespec="milliseconds") + "Z"
    else:
        zone = timezone(offset)
        stamp = moment.replace(tzinfo=timezone.utc).astimezone(zone).isoformat()
    record: dict[str, Any] = {"timestamp": stamp}
    event = draw(st.sampled_from(["generation", "generation", "export", "purge", "", None]))
    if event is not None:
        record["event"] = event
    for field in ("status", "stack", "template", "user_id", "duration_ms"):
        if draw(st.booleans()):
            record[field] = draw(_DURATIONS if field == "duration_ms" else _KEYS)
    if draw(st.booleans()):
        record["status"] = "error"
    return record


@given(records=st.lists(_record(), min_size=1, max_size=40),
       by=st.sampled_from([None, "day", "week", "month"]), top=st.integers(0, 3))  # fmt: skip
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_records_give_the_same_stats_in_sql(
    records: list[dict[str, Any]], by: Any, top: int, pg_dsn: str, tmp_path: Path
) -> None:
    """Whatever the records (odd keys, types, durations, offsets), the database's `Stats`
    equal the ones counted from the same records read back from files, and, cut to ``top``
    in SQL, print the same text and CSV."""
    log = tmp_path / uuid.uuid4().hex / "generation.log"
    write_rotated_log(log, records)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS dihya_generation_log")
    import_log_set(log, pg_dsn)
    read = list(FileStore(log).iter_records(RecordFilter()))
    assert len(read) == len(records)
    store = PostgresStore(pg_dsn)
    assert store.compute_stats(RecordFilter(), by=by, top=0) == Stats.from_records(
        read, by=by, top=0
    )
    on_file = Stats.from_records(read, by=by, top=top)
    in_sql = store.compute_stats(RecordFilter(), by=by, top=top)  # rankings cut by the database
    assert (list(in_sql.lines()), list(in_sql.rows())) == (
        list(on_file.lines()),
        list(on_file.rows()),
    )
