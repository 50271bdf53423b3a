"""Erasure in SQL: which rows a purge deletes, anonymizes or scrubs, and its audit record.

Used by `PostgresStore.purge` inside its transaction. The rules are the file store's
(`dihya_logging.store._purge`): ``purge`` events are never removed; anonymizing replaces the id
everywhere in the user's records (substrings, keys included); a one-user erasure also replaces
it, as a whole value, in every other record. Rows are rewritten in Python with the file store's
own `scrub`, so both backends give byte-for-byte the same records.

Rows sealed into a writer chain (`_chain`) are not simply deleted by a user's erasure: their
chain entry (chain, seq, commit, link) moves to the tombstone table; a rewritten one is
resealed (`chain._format.reseal_anonymized`). Both are noted in ``auth`` for the purge record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Optional, cast

import psycopg
from psycopg import sql

from dihya_logging._schema import LOGGER_NAME, safe_extra
from dihya_logging.chain._format import reseal_anonymized, tombstone
from dihya_logging.postgres._chain import CHAIN_ID_FIELD, Authorisations
from dihya_logging.postgres._rows import prepare_row
from dihya_logging.postgres._schema import table_sql, tombstone_table
from dihya_logging.store._backend import PurgeOutcome
from dihya_logging.store._purge import scrub

__all__ = ["audit_line", "purge_rows"]

_NOT_PURGE = sql.SQL("event IS DISTINCT FROM 'purge'")


def audit_line(fields: dict[str, Any]) -> str:
    """One audit record, formatted exactly as the file store writes it."""
    from dihya_logging.formatter._formatter import RedactingJsonFormatter

    event = str(fields.get("event") or "audit")
    extra = safe_extra(fields)
    record = logging.getLogger(LOGGER_NAME).makeRecord(
        LOGGER_NAME, logging.INFO, "", 0, event, (), None, extra=extra
    )
    return RedactingJsonFormatter().format(record)


def _like_json_string(value: str) -> str:
    """A LIKE pattern matching ``value`` as a whole JSON string in ``jsonb::text``."""
    text = json.dumps(value, ensure_ascii=False)
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def purge_rows(
    conn: psycopg.Connection[Any],
    table: str,
    user_id: Optional[str],
    before: Optional[datetime],
    anonymize: bool,
    pseudonym: Optional[str],
    auth: Authorisations,
) -> PurgeOutcome:
    """Delete or anonymize the selected rows and scrub other mentions (caller's transaction).

    The file store's rules: ``purge`` events are never touched; a one-user purge without
    ``before`` replaces the id, as a whole value, by the pseudonym in every other record.
    """
    name = table_sql(table)
    clauses: list[sql.Composable] = [_NOT_PURGE]
    params: list[Any] = []
    if user_id is not None:
        clauses.append(sql.SQL("user_id = %s"))
        params.append(user_id)
    if before is not None:
        clauses.append(sql.SQL("ts < %s"))
        params.append(before)
    where = sql.SQL(" AND ").join(clauses)
    removed = anonymized = scrubbed = 0
    if anonymize:
        user, token = cast(str, user_id), cast(str, pseudonym)
        anonymized = _rewrite(
            conn,
            table,
            sql.SQL("SELECT record_id, ts, record FROM {} WHERE {} FOR UPDATE").format(name, where),
            params,
            lambda r: {**scrub(r, user, token, substrings=True), "user_id": token},
            auth,
        )
    elif user_id is not None:  # an erasure: chained rows leave their chain entry behind
        deleted = conn.execute(
            sql.SQL("DELETE FROM {} WHERE {} RETURNING record_id, record").format(name, where),
            params,
        ).fetchall()
        removed = len(deleted)
        kept = [(rid, record) for rid, record in deleted if CHAIN_ID_FIELD in record]
        for _, record in kept:
            auth.add("tombstoned", record)
        if kept:
            with conn.cursor() as cur:
                cur.executemany(
                    sql.SQL("INSERT INTO {} (record_id, record) VALUES (%s, %s::jsonb)").format(
                        table_sql(tombstone_table(table))
                    ),
                    [(rid, json.dumps(_tombstone(record))) for rid, record in kept],
                )
    else:  # retention: the oldest rows go outright (a chain may start later: see `_chain`)
        query = sql.SQL("DELETE FROM {} WHERE {}").format(name, where)
        removed = max(conn.execute(query, params).rowcount, 0)
    if user_id is not None and before is None:
        user, token = user_id, cast(str, pseudonym)
        # Other rows naming the user: found by a scan PostgreSQL can run in parallel (no
        # row locks), then locked and checked one by one. The user's own rows are never
        # "others" (those newer than the delete are kept, like records written after it).
        found = conn.execute(
            sql.SQL(
                "SELECT record_id, ts FROM {} WHERE {} AND user_id IS DISTINCT FROM %s "
                "AND record::text LIKE %s"
            ).format(name, _NOT_PURGE),
            [user, _like_json_string(user)],
        ).fetchall()
        if found:
            scrubbed = _rewrite(
                conn,
                table,
                sql.SQL(
                    "SELECT record_id, ts, record FROM {} WHERE (record_id, ts) IN "
                    "(SELECT * FROM unnest(%s::uuid[], %s::timestamptz[])) FOR UPDATE"
                ).format(name),
                [[row[0] for row in found], [row[1] for row in found]],
                lambda r: scrub(r, user, token, substrings=False),
                auth,
            )
    return PurgeOutcome(
        removed + anonymized,
        {"removed": removed, "anonymized": anonymized, "scrubbed": scrubbed},
    )


def _tombstone(record: dict[str, Any]) -> dict[str, Any]:
    """What stays of a deleted chained row: its chain entry and the chain's name."""
    return {**tombstone(record), CHAIN_ID_FIELD: record[CHAIN_ID_FIELD]}


def _rewrite(
    conn: psycopg.Connection[Any],
    table: str,
    select: sql.Composed,
    params: list[Any],
    change: Callable[[dict[str, Any]], dict[str, Any]],
    auth: Authorisations,
) -> int:
    """Apply ``change`` to the selected rows (locked), updating record and columns; a chained
    row is resealed (its chain entry kept, the change authorised by the purge record)."""
    updates: list[tuple[Any, datetime, str, Optional[str], Optional[str], Optional[str]]] = []
    for record_id, ts, record in conn.execute(select, params).fetchall():
        new = change(record)
        if new == record:
            continue
        if CHAIN_ID_FIELD in record and "seq" in record and "link" in record:
            new = reseal_anonymized(record, new)
            auth.add("resealed", new)
        _, _, event, user, status, text = prepare_row("", json.dumps(new, ensure_ascii=False))
        updates.append((record_id, ts, text, event, user, status))
    if updates:
        columns = [list(column) for column in zip(*updates)]
        query = sql.SQL(
            "UPDATE {} AS t SET record = u.record::jsonb, event = u.event, "
            "user_id = u.user_id, status = u.status FROM unnest(%s::uuid[], "
            "%s::timestamptz[], %s::text[], %s::text[], %s::text[], %s::text[]) "
            "AS u(record_id, ts, record, event, user_id, status) "
            "WHERE t.record_id = u.record_id AND t.ts = u.ts"
        ).format(table_sql(table))
        conn.execute(query, columns)
    return len(updates)
