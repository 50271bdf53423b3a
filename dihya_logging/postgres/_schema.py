"""The PostgreSQL table: its DDL (also shipped as ``schema.sql`` for a DBA), creation, inserts.

One row per record: the record itself as ``jsonb`` plus the columns every query filters on
(``ts``, ``event``, ``user_id``, ``status``), each indexed, and a client-generated ``record_id``
(uuid, unique) so that a batch retried after a lost connection, or replayed from the spill file,
is inserted at most once (``ON CONFLICT DO NOTHING``). ``id`` orders records logged in the
same millisecond.

Erasure that sticks: a purge of a user records the user's pseudonym and a cutoff in the erasure
table ``<table>_erased``; every insert (`insert_rows`: the handler's batches, spill replays,
imports) drops, in the same transaction as its ``COPY``, the rows of an erased user stamped at
or before the cutoff. A batch whose commit succeeded but whose acknowledgement was lost, retried
after the purge, thus cannot bring the user back. An advisory lock orders the two: inserts take
it shared, a purge exclusive, so an insert either commits before the purge deletes (and its rows
are deleted) or checks the table after the purge committed.
"""

from __future__ import annotations

import json
import os
import re
import uuid
import weakref
from collections.abc import Iterable, MutableMapping, Sequence
from datetime import date, datetime, timezone
from typing import Any, Final, Optional

import psycopg
from psycopg import postgres, sql
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types.json import Jsonb

from dihya_logging.postgres._dsn import DEFAULT_TABLE, validate_table
from dihya_logging.store._pseudonym import ENV_ANON_KEY
from dihya_logging.store._pseudonym import pseudonymize_user_id as pseudonymize

__all__ = [
    "SCHEMA_VERSION",
    "Row",
    "anonymization_key",
    "chain_heads",
    "drop_partitions_before",
    "ensure_partitions",
    "ensure_schema",
    "is_partitioned",
    "partition_table",
    "erased_table",
    "erasure_lock",
    "heads_table",
    "insert_rows",
    "key_table",
    "pseudonym_key",
    "record_erasure",
    "quote_table",
    "schema_sql",
    "table_sql",
    "tombstone_table",
    "table_exists",
]

SCHEMA_VERSION: Final = 2
"""2: partitioned by month (1: one plain table, still read and written; `partition_table`)."""

Row = tuple[str, datetime, Optional[str], Optional[str], Optional[str], str]
"""``(record_id, ts, event, user_id, status, record_json)`` — one record ready to insert."""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def quote_table(table: str) -> str:
    """The table name quoted for SQL (``"schema"."name"`` or ``"name"``)."""
    return ".".join(_quote(part) for part in validate_table(table).split("."))


def table_sql(table: str) -> sql.Identifier:
    """The table name as a composable SQL identifier (for `psycopg.sql` queries)."""
    return sql.Identifier(*validate_table(table).split("."))


def _sibling(table: str, suffix: str, keep: int = 55) -> str:
    """A table beside ``table`` (same schema): its name cut to ``keep`` characters + suffix."""
    schema, _, base = validate_table(table).rpartition(".")
    name = f"{base[:keep]}{suffix}"
    return f"{schema}.{name}" if schema else name


def key_table(table: str) -> str:
    """The table holding the pseudonym key of ``table`` (``<table>_anonkey``, same schema)."""
    return _sibling(table, "_anonkey")


def tombstone_table(table: str) -> str:
    """The table keeping what purges took out of writer chains (``<table>_tombstones``)."""
    return _sibling(table, "_tombstones", 51)


def heads_table(table: str) -> str:
    """The table of each writer chain's newest entry (``<table>_heads``)."""
    return _sibling(table, "_heads")


def erased_table(table: str) -> str:
    """The erasure table of ``table`` (``<table>_erased``, same schema)."""
    return _sibling(table, "_erased")


def _index(table: str, suffix: str) -> str:
    base = validate_table(table).rsplit(".", 1)[-1]
    return _quote(f"{base[: 63 - len(suffix) - 1]}_{suffix}")


def schema_sql(table: str = DEFAULT_TABLE) -> str:
    """The idempotent DDL creating the log table and its indexes (safe to run again)."""
    return f"""\
-- dihya-logging generation log, schema version {SCHEMA_VERSION}.
-- PostgresLogHandler creates this table when it is missing; a DBA may run this file by hand
-- instead (psql -v ON_ERROR_STOP=1 -f schema.sql) and grant the application INSERT and SELECT
-- (plus DELETE and UPDATE for the account that purges). Running it again changes nothing.
-- The table is partitioned by month (UTC): writers create the month's partition
-- (<table>_pYYYYMM) on first need, a retention purge drops the months wholly before its cutoff.
{_log_table_sql(table, quote_table(table))}
{_key_table_sql(table)}{_erased_table_sql(table)}{_chain_tables_sql(table)}"""


def _log_table_sql(table: str, name: str) -> str:
    """The partitioned log table ``table`` created as ``name`` (quoted), with its indexes."""
    base = validate_table(table).rsplit(".", 1)[-1]
    return f"""\
CREATE TABLE IF NOT EXISTS {name} (
    id        bigint GENERATED ALWAYS AS IDENTITY,
    record_id uuid        NOT NULL,
    ts        timestamptz NOT NULL,
    event     text,
    user_id   text,
    status    text,
    record    jsonb       NOT NULL,
    CONSTRAINT {_quote(base[:56] + "_pkey2")} PRIMARY KEY (record_id, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX IF NOT EXISTS {_index(table, "ts_idx")} ON {name} (ts);
CREATE INDEX IF NOT EXISTS {_index(table, "user_ts_idx")} ON {name} (user_id, ts);
CREATE INDEX IF NOT EXISTS {_index(table, "event_ts_idx")} ON {name} (event, ts)
    WHERE event <> 'generation';
CREATE INDEX IF NOT EXISTS {_index(table, "status_ts_idx")} ON {name} (status, ts)
    WHERE status <> 'success';
COMMENT ON TABLE {name} IS 'dihya-logging generation log (schema {SCHEMA_VERSION})';"""


def _key_table_sql(table: str) -> str:
    return f"""\
-- The key of the user-id pseudonyms (anonymizing purges, audit events, the erasure check of
-- every insert), made on first need unless $DIHYA_ANON_KEY is set: every account reads it.
CREATE TABLE IF NOT EXISTS {quote_table(key_table(table))} (
    id  integer PRIMARY KEY CHECK (id = 1),
    key bytea   NOT NULL
);
"""


def _erased_table_sql(table: str) -> str:
    return f"""\
-- Erased users (pseudonyms, never the ids): every insert drops their rows stamped at or before
-- erased_at, so a retried or replayed batch cannot bring an erased user back. Writers need
-- SELECT here and on the key table above (to compute pseudonyms); purgers need INSERT, UPDATE.
CREATE TABLE IF NOT EXISTS {quote_table(erased_table(table))} (
    pseudonym text        PRIMARY KEY,
    erased_at timestamptz NOT NULL
);
"""


def _chain_tables_sql(table: str) -> str:
    return f"""\
-- What purges took out of writer chains (chain, seq, commit, link: nothing of the record), so
-- that `dihya-logs verify` can tell an authorised erasure from a deleted row.
CREATE TABLE IF NOT EXISTS {quote_table(tombstone_table(table))} (
    record_id uuid  PRIMARY KEY,
    record    jsonb NOT NULL
);
-- The newest entry of each writer chain, advanced by every insert: verify compares the end of
-- each chain with it, so rows cut from the end of a chain show.
CREATE TABLE IF NOT EXISTS {quote_table(heads_table(table))} (
    chain text    PRIMARY KEY,
    seq   numeric NOT NULL,
    link  text    NOT NULL
);
"""


def table_exists(conn: psycopg.Connection[Any], table: str) -> bool:
    """Whether the log table exists (and is visible to this role)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [quote_table(table)]).fetchone()
    return bool(row and row[0])


def ensure_schema(conn: psycopg.Connection[Any], table: str = DEFAULT_TABLE) -> None:
    """Create the table and indexes if missing, serialised across processes; commits.

    An advisory lock keeps concurrent first writers from racing in ``CREATE TABLE`` (which can
    fail with a duplicate-type error); an existing table needs no CREATE privilege.
    """
    _create_if_missing(conn, table, schema_sql(table))
    _create_if_missing(conn, erased_table(table), _erased_table_sql(table))  # older schemas
    _create_if_missing(conn, heads_table(table), _chain_tables_sql(table))


def _create_if_missing(conn: psycopg.Connection[Any], table: str, ddl: str) -> None:
    with conn.transaction():
        if table_exists(conn, table):
            return
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"dihya_logging:{quote_table(table)}"]
        )
        if not table_exists(conn, table):
            conn.execute(ddl.encode())


def anonymization_key(conn: psycopg.Connection[Any], table: str) -> bytes:
    """The pseudonym key stored beside ``table``, created (32 random bytes) on first need.

    Every host that purges or exports this database then derives the same tokens, as every
    process does from the key file beside a log file.
    """
    _create_if_missing(conn, key_table(table), _key_table_sql(table))
    keys = sql.Identifier(*key_table(table).split("."))
    row = conn.execute(sql.SQL("SELECT key FROM {} WHERE id = 1").format(keys)).fetchone()
    if row is not None:  # the common case needs no INSERT privilege
        return bytes(row[0])
    with conn.transaction():
        conn.execute(
            sql.SQL("INSERT INTO {} (id, key) VALUES (1, %s) ON CONFLICT (id) DO NOTHING").format(
                keys
            ),
            [os.urandom(32)],
        )
        row = conn.execute(sql.SQL("SELECT key FROM {} WHERE id = 1").format(keys)).fetchone()
    assert row is not None
    return bytes(row[0])


def pseudonym_key(conn: psycopg.Connection[Any], table: str) -> bytes:
    """The key of user-id pseudonyms for ``table``: ``$DIHYA_ANON_KEY`` if set, else the key
    kept beside the table (the same on every host)."""
    env = os.environ.get(ENV_ANON_KEY)
    return env.encode("utf-8") if env else anonymization_key(conn, table)


def erasure_lock(conn: psycopg.Connection[Any], table: str, *, exclusive: bool) -> None:
    """Take the table's erasure lock until the end of the transaction: shared for inserts,
    exclusive for a purge (see the module's docstring)."""
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.execute(
        f"SELECT {function}(hashtext(%s))", [f"dihya_logging:erasure:{quote_table(table)}"]
    )


def record_erasure(
    conn: psycopg.Connection[Any], table: str, pseudonym: str, cutoff: Optional[datetime]
) -> None:
    """Remember (caller's transaction, erasure lock held) that ``pseudonym``'s rows up to
    ``cutoff`` (default: now) are erased; a later cutoff for the same user replaces an earlier."""
    conn.execute(
        sql.SQL(
            "INSERT INTO {} AS e (pseudonym, erased_at) VALUES (%s, least(now(), %s)) "
            "ON CONFLICT (pseudonym) DO UPDATE "
            "SET erased_at = greatest(e.erased_at, excluded.erased_at)"
        ).format(sql.Identifier(*erased_table(table).split("."))),
        [pseudonym, cutoff],
    )


_MONTH_NAME: Final = re.compile(r"_p(\d{4})(\d{2})$")


def _month(stamp: datetime) -> date:
    return stamp.astimezone(timezone.utc).date().replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _partition(table: str, month: date) -> str:
    """The partition of ``table`` holding ``month`` (``<table>_pYYYYMM``, same schema)."""
    return _sibling(table, f"_p{month:%Y%m}", 54)


def is_partitioned(conn: psycopg.Connection[Any], table: str) -> bool:
    """Whether ``table`` is the partitioned (schema 2) log table."""
    row = conn.execute(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)", [quote_table(table)]
    ).fetchone()
    return bool(row and row[0])


def ensure_partitions(
    conn: psycopg.Connection[Any], table: str, stamps: Iterable[datetime]
) -> None:
    """Create the monthly partitions that rows stamped ``stamps`` need (if ``table`` is
    partitioned); one query when they all exist, which is the common case."""
    months = sorted({_month(stamp) for stamp in stamps})
    names = [quote_table(_partition(table, month)) for month in months]
    missing = conn.execute(
        "SELECT i FROM unnest(%s::text[]) WITH ORDINALITY AS x(name, i) "
        "WHERE (SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)) = 'p' "
        "AND to_regclass(x.name) IS NULL",
        [names, quote_table(table)],
    ).fetchall()
    for (index,) in missing:
        month = months[index - 1]
        with conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                [f"dihya_logging:{quote_table(table)}:partitions"],
            )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
                ).format(
                    sql.Identifier(*_partition(table, month).split(".")),
                    table_sql(table),
                    sql.Literal(f"{month.isoformat()} 00:00:00+00"),
                    sql.Literal(f"{_next_month(month).isoformat()} 00:00:00+00"),
                )
            )


def drop_partitions_before(conn: psycopg.Connection[Any], table: str, cutoff: datetime) -> int:
    """Drop the monthly partitions wholly before ``cutoff`` (caller's transaction, erasure lock
    held), keeping their ``purge`` records (put back into a fresh partition); returns how many
    other records went. The boundary month is left to the caller's ``DELETE``."""
    schema = table.rpartition(".")[0] or "public"
    base = validate_table(table).rsplit(".", 1)[-1]
    children = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%s)",
        [quote_table(table)],
    ).fetchall()
    removed = 0
    for (name,) in children:
        match = _MONTH_NAME.search(name)
        if not name.startswith(base[:54] + "_p") or match is None:
            continue
        month = date(int(match.group(1)), int(match.group(2)), 1)
        end = datetime(*_next_month(month).timetuple()[:3], tzinfo=timezone.utc)
        if end > cutoff:
            continue
        part = sql.Identifier(schema, name) if "." in table else sql.Identifier(name)
        # count(*) alone reads the smallest index only (an index-only scan of a vacuumed
        # partition); the purge records, found by their partial index, are not counted
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(part)).fetchone()
        kept = conn.execute(
            sql.SQL(
                "SELECT id, record_id, ts, event, user_id, status, record FROM {} "
                "WHERE event = 'purge'"
            ).format(part)
        ).fetchall()
        removed += (int(row[0]) if row else 0) - len(kept)
        conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(table_sql(table), part))
        conn.execute(sql.SQL("DROP TABLE {}").format(part))
        if kept:  # purge records are never removed: back into a fresh, small partition
            ensure_partitions(conn, table, [row[2] for row in kept])
            with conn.cursor() as cur:
                cur.executemany(
                    sql.SQL(
                        "INSERT INTO {} (id, record_id, ts, event, user_id, status, record) "
                        "OVERRIDING SYSTEM VALUE VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    ).format(table_sql(table)),
                    [(*row[:6], Jsonb(row[6])) for row in kept],
                )
    return removed


def partition_table(conn: psycopg.Connection[Any], table: str) -> int:
    """Turn a schema-1 (plain) log table into the partitioned one, in place and in one
    transaction (the table is locked meanwhile); returns the rows moved, 0 if nothing to do."""
    with conn.transaction():
        if not table_exists(conn, table) or is_partitioned(conn, table):
            return 0
        schema = table.rpartition(".")[0]
        old = _sibling(table, "_unpartitioned", 49)
        old_name = old.rpartition(".")[2]
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table_sql(table)))
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                table_sql(table), sql.Identifier(old_name)
            )
        )
        for suffix in ("ts_idx", "user_ts_idx", "event_ts_idx", "status_ts_idx"):
            index = _index(table, suffix)
            conn.execute(f"DROP INDEX IF EXISTS {schema + '.' if schema else ''}{index}".encode())
        conn.execute(_log_table_sql(table, quote_table(table)).encode())
        months = conn.execute(
            sql.SQL("SELECT DISTINCT date_trunc('month', ts AT TIME ZONE 'UTC') FROM {}").format(
                table_sql(old)
            )
        ).fetchall()
        ensure_partitions(conn, table, [m[0].replace(tzinfo=timezone.utc) for m in months])
        moved = conn.execute(
            sql.SQL(
                "INSERT INTO {} (id, record_id, ts, event, user_id, status, record) "
                "OVERRIDING SYSTEM VALUE SELECT id, record_id, ts, event, user_id, status, "
                "record FROM {}"
            ).format(table_sql(table), table_sql(old))
        ).rowcount
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                "greatest((SELECT max(id) FROM {}), 1))"
            ).format(table_sql(table)),
            [quote_table(table)],
        )
        conn.execute(sql.SQL("DROP TABLE {}").format(table_sql(old)))
    return max(moved, 0)


_STAGE: Final = "dihya_stage"
_COLUMNS: Final = "record_id, ts, event, user_id, status, record"
_COPY_TYPES: Final = ("uuid", "timestamptz", "text", "text", "text", "jsonb")
_SEALED_TAIL: Final = '"link":"'
"""What a sealed line has just before its 64-hex link and the closing brace (`_chain`)."""
_CHAIN_KEY: Final = '"chain":'
"""Where a sealer's fields start (never inside a JSON string, whose quotes are escaped)."""
_PSEUDONYMS_KEPT: Final = 65_536
"""User pseudonyms remembered per connection (one HMAC per user, not per row)."""


class _Prepared:
    """What one connection has set up for inserts: its pseudonym key and cache, its stage."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        conn.adapters.register_dumper(None, _UuidTextDumper)
        conn.adapters.register_dumper(None, _JsonbTextDumper)
        self.key: Optional[bytes] = None
        self.pseudonyms: dict[str, str] = {}
        self.staged = False
        self.months: set[tuple[str, date]] = set()  # (table, month) partitions seen to exist

    def pseudonym(self, user: str) -> str:
        """``user``'s pseudonym under this connection's key (remembered)."""
        token = self.pseudonyms.get(user)
        if token is None:
            if len(self.pseudonyms) >= _PSEUDONYMS_KEPT:
                self.pseudonyms.clear()
            token = self.pseudonyms[user] = pseudonymize(user, key=self.key)
        return token


class _UuidTextDumper(Dumper):
    """A record id (text) in ``COPY``'s binary format: its 16 bytes."""

    oid = postgres.types["uuid"].oid
    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return uuid.UUID(obj).bytes


class _JsonbTextDumper(Dumper):
    """A record's JSON text in ``COPY``'s binary format (version 1, then the text as is)."""

    oid = postgres.types["jsonb"].oid
    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        text: str = obj
        return b"\x01" + text.encode()


_prepared: MutableMapping[psycopg.Connection[Any], _Prepared] = weakref.WeakKeyDictionary()


def _setup(conn: psycopg.Connection[Any]) -> _Prepared:
    prepared = _prepared.get(conn)
    if prepared is None:
        prepared = _prepared[conn] = _Prepared(conn)
    return prepared


def chain_heads(rows: Sequence[Row]) -> dict[str, tuple[int, str]]:
    """The newest entry (seq, link) of each writer chain among ``rows``: the rows a `RowSealer`
    sealed (its fields close the record; a caller's look-alike fields elsewhere do not count)."""
    heads: dict[str, tuple[int, str]] = {}
    for row in rows:
        text = row[5]
        start = text.rfind(_CHAIN_KEY)  # the last key but the seal's own: only those parsed
        if text[-74:-66] != _SEALED_TAIL or start < 0:
            continue
        try:
            record = json.loads("{" + text[start:])
        except ValueError:
            continue
        chain, seq, link = record.get("chain"), record.get("seq"), record.get("link")
        sealed = isinstance(chain, str) and type(seq) is int and isinstance(link, str)
        if sealed and (chain not in heads or heads[chain][0] < seq):
            heads[chain] = (seq, link)
    return heads


def insert_rows(conn: psycopg.Connection[Any], table: str, rows: Sequence[Row]) -> int:
    """Insert rows, skipping record ids already present and erased users; returns how many
    were added.

    One transaction (a savepoint inside the caller's), under the shared erasure lock: the
    erasure table is asked once for the batch's users (rows of an erased user stamped at or
    before the erasure are left out), the others go in by one binary ``COPY`` straight into
    the log table, and the chain heads advance. A batch some of whose record ids are in already
    (retried after a lost acknowledgement, replayed from the spill, imported again) fails that
    ``COPY`` on the primary key and goes again through a private staging table and ``INSERT …
    ON CONFLICT DO NOTHING`` (slower, idempotent).
    """
    if not rows:
        return 0
    prepared = _setup(conn)
    if prepared.key is None and any(row[3] is not None for row in rows):
        prepared.key = pseudonym_key(conn, table)
    heads = chain_heads(rows)
    _partitions_for(conn, table, rows, prepared)
    try:
        return _insert(conn, table, rows, heads, prepared)
    except psycopg.errors.CheckViolation:  # no partition for a row: a purge dropped its month
        prepared.months.clear()
        _partitions_for(conn, table, rows, prepared)
        return _insert(conn, table, rows, heads, prepared)


def _partitions_for(
    conn: psycopg.Connection[Any], table: str, rows: Sequence[Row], prepared: _Prepared
) -> None:
    """Make sure the rows' monthly partitions exist; a month this connection already saw (the
    batch's only month, the common case) needs no query."""
    stamps = [row[1] for row in rows]
    first, last = _month(min(stamps)), _month(max(stamps))
    if first != last or (table, first) not in prepared.months:
        ensure_partitions(conn, table, stamps)
        if first == last:
            prepared.months.add((table, first))


def _insert(
    conn: psycopg.Connection[Any],
    table: str,
    rows: Sequence[Row],
    heads: dict[str, tuple[int, str]],
    prepared: _Prepared,
) -> int:
    """`insert_rows`' transaction(s), the partitions being there."""
    try:
        with conn.transaction():
            erasure_lock(conn, table, exclusive=False)
            kept = _not_erased(conn, table, rows, prepared)
            with conn.cursor() as cur:
                _copy(cur, table_sql(table), kept)
                _advance_heads(cur, table, heads)
        return len(kept)
    except psycopg.errors.UniqueViolation:
        pass  # some of the rows are in already: add the others only
    with conn.transaction():
        erasure_lock(conn, table, exclusive=False)
        kept = _not_erased(conn, table, rows, prepared)
        if not prepared.staged:
            conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (record_id uuid, ts timestamptz, "
                "event text, user_id text, status text, record jsonb) ON COMMIT DELETE ROWS"
            )
            prepared.staged = True
        with conn.cursor() as cur:
            _copy(cur, sql.Identifier(_STAGE), kept)
            cur.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
                    table_sql(table),
                    sql.SQL(_COLUMNS),
                    sql.SQL(_COLUMNS),
                    sql.Identifier(_STAGE),
                )
            )
            added = max(cur.rowcount, 0)
            _advance_heads(cur, table, heads)
            cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(_STAGE)))
    return added


def _not_erased(
    conn: psycopg.Connection[Any], table: str, rows: Sequence[Row], prepared: _Prepared
) -> Sequence[Row]:
    """``rows`` less those of erased users stamped at or before their erasure (one query on
    the erasure table's key for the batch's users; erasure lock held)."""
    users = {row[3] for row in rows if row[3] is not None}
    if not users or prepared.key is None:
        return rows
    tokens = {prepared.pseudonym(user): user for user in users}
    erased = conn.execute(
        sql.SQL("SELECT pseudonym, erased_at FROM {} WHERE pseudonym = ANY(%s)").format(
            sql.Identifier(*erased_table(table).split("."))
        ),
        [list(tokens)],
    ).fetchall()
    if not erased:
        return rows
    cutoffs = {tokens[token]: erased_at for token, erased_at in erased}
    return [row for row in rows if row[3] not in cutoffs or row[1] > cutoffs[row[3]]]


def _copy(cur: psycopg.Cursor[Any], target: sql.Composable, rows: Sequence[Row]) -> None:
    """``rows`` into ``target`` by one binary ``COPY`` (no text escaping on either side)."""
    if not rows:
        return
    query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target, sql.SQL(_COLUMNS))
    with cur.copy(query) as copy:
        copy.set_types(_COPY_TYPES)
        for row in rows:
            copy.write_row(row)


def _advance_heads(cur: psycopg.Cursor[Any], table: str, heads: dict[str, tuple[int, str]]) -> None:
    """Move each chain's recorded head forward to the newest entry of this batch."""
    if not heads:
        return
    chains = sorted(heads)
    cur.execute(
        sql.SQL(
            "INSERT INTO {} AS h (chain, seq, link) "
            "SELECT * FROM unnest(%s::text[], %s::numeric[], %s::text[]) "
            "ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, link = excluded.link "
            "WHERE h.seq < excluded.seq"
        ).format(sql.Identifier(*heads_table(table).split("."))),
        [chains, [heads[c][0] for c in chains], [heads[c][1] for c in chains]],
    )
