"""The PostgreSQL table: its DDL (also shipped as ``schema.sql`` for a DBA), creation, inserts.

One row per record: the record itself as ``jsonb`` plus the columns every query filters on
(``ts``, ``event``, ``user_id``, ``status``), each indexed, and a client-generated ``record_id``
(uuid, unique) so that a batch retried after a lost connection, or replayed from the spill file,
is inserted at most once (``ON CONFLICT DO NOTHING``). ``id`` orders records logged in the
same millisecond.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Optional

import psycopg
from psycopg import sql

from dihya_logging.postgres._dsn import DEFAULT_TABLE, validate_table

__all__ = [
    "SCHEMA_VERSION",
    "anonymization_key",
    "key_table",
    "Row",
    "ensure_schema",
    "insert_rows",
    "quote_table",
    "schema_sql",
    "table_sql",
    "table_exists",
]

SCHEMA_VERSION: Final = 1

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


def key_table(table: str) -> str:
    """The table holding the pseudonym key of ``table`` (``<table>_anonkey``, same schema)."""
    schema, _, base = validate_table(table).rpartition(".")
    return f"{schema}.{base[:55]}_anonkey" if schema else f"{base[:55]}_anonkey"


def _index(table: str, suffix: str) -> str:
    base = validate_table(table).rsplit(".", 1)[-1]
    return _quote(f"{base[: 63 - len(suffix) - 1]}_{suffix}")


def schema_sql(table: str = DEFAULT_TABLE) -> str:
    """The idempotent DDL creating the log table and its indexes (safe to run again)."""
    name = quote_table(table)
    return f"""\
-- dihya-logging generation log, schema version {SCHEMA_VERSION}.
-- PostgresLogHandler creates this table when it is missing; a DBA may run this file by hand
-- instead (psql -v ON_ERROR_STOP=1 -f schema.sql) and grant the application INSERT and SELECT
-- (plus DELETE and UPDATE for the account that purges). Running it again changes nothing.
CREATE TABLE IF NOT EXISTS {name} (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id uuid        NOT NULL UNIQUE,
    ts        timestamptz NOT NULL,
    event     text,
    user_id   text,
    status    text,
    record    jsonb       NOT NULL
);
CREATE INDEX IF NOT EXISTS {_index(table, "ts_idx")} ON {name} (ts);
CREATE INDEX IF NOT EXISTS {_index(table, "user_ts_idx")} ON {name} (user_id, ts);
CREATE INDEX IF NOT EXISTS {_index(table, "event_ts_idx")} ON {name} (event, ts);
CREATE INDEX IF NOT EXISTS {_index(table, "status_ts_idx")} ON {name} (status, ts);
COMMENT ON TABLE {name} IS 'dihya-logging generation log (schema {SCHEMA_VERSION})';
{_key_table_sql(table)}"""


def _key_table_sql(table: str) -> str:
    return f"""\
-- The key of the user-id pseudonyms (anonymizing purges, audit events), made on first need
-- unless $DIHYA_ANON_KEY is set: only the accounts that purge or export need to read it.
CREATE TABLE IF NOT EXISTS {quote_table(key_table(table))} (
    id  integer PRIMARY KEY CHECK (id = 1),
    key bytea   NOT NULL
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


_STAGE: Final = "dihya_stage"
_staged: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()
"""Connections that have created their private staging table."""


def _stage(conn: psycopg.Connection[Any]) -> None:
    if conn in _staged:
        return
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (record_id uuid, ts timestamptz, event text, "
        "user_id text, status text, record jsonb) ON COMMIT DELETE ROWS"
    )
    _staged.add(conn)


def insert_rows(conn: psycopg.Connection[Any], table: str, rows: Sequence[Row]) -> int:
    """Insert rows, skipping record ids already present; returns how many were added.

    ``COPY`` into a private temporary table, then ``INSERT … SELECT … ON CONFLICT (record_id)
    DO NOTHING`` into the log table, in one transaction (a savepoint inside the caller's): a
    retried or replayed batch is harmless, and the cost stays that of ``COPY`` (the
    ``unnest``-of-arrays alternative measured several times slower on large records).
    """
    if not rows:
        return 0
    with conn.transaction():
        _stage(conn)
        with conn.cursor() as cur:
            with cur.copy(f"COPY {_STAGE} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                sql.SQL(
                    "INSERT INTO {} (record_id, ts, event, user_id, status, record) "
                    "SELECT * FROM {} ON CONFLICT (record_id) DO NOTHING"
                ).format(table_sql(table), sql.Identifier(_STAGE))
            )
            added = max(cur.rowcount, 0)
            cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(_STAGE)))
    return added
