"""`PostgresStore`: the `LogStore` protocol in SQL, for any ``postgresql://`` location.

Reads push every filter into ``WHERE`` on indexed columns and stream with a server-side
cursor; ``tail`` is ``ORDER BY ts DESC, id DESC LIMIT n``, returned oldest first (records
are ordered by their timestamp, then by arrival). A purge is one transaction: the rows are
deleted (or anonymized) by the file store's rules (`erasure`) and its ``purge`` audit record is
inserted before the commit, so either all of it happened, on the record, or none. The public
API's ``append_audit`` call that follows completes that record in place (actor, notified
recipients) instead of adding a second one. Pseudonyms use ``$DIHYA_ANON_KEY`` or a key kept
in the database, so every host derives the same tokens.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

import psycopg
from psycopg import sql

from dihya_logging._schema import EVENT_PURGE
from dihya_logging.chain._format import ENV_CHAIN_KEY
from dihya_logging.postgres._chain import CHAIN_ID_FIELD, Authorisations, RowSealer
from dihya_logging.postgres._dsn import PostgresError, resolve_location
from dihya_logging.postgres._erasure import audit_line, purge_rows
from dihya_logging.postgres._rows import prepare_row, record_order, use_fast_json
from dihya_logging.postgres._schema import (
    drop_partitions_before,
    ensure_schema,
    erasure_lock,
    heads_table,
    insert_rows,
    pseudonym_key,
    quote_table,
    record_erasure,
    table_exists,
    table_sql,
)
from dihya_logging.store._backend import PurgeOutcome, RecordFilter
from dihya_logging.store._pseudonym import pseudonymize_user_id

if TYPE_CHECKING:
    from dihya_logging.cli._stats import Stats

__all__ = ["PostgresStore"]


def _where(flt: RecordFilter) -> tuple[sql.Composable, list[Any]]:
    """The filter as a ``WHERE`` clause on the indexed columns (empty if it selects all)."""
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for column in ("user_id", "status", "event"):
        value = getattr(flt, column)
        if value is not None:
            clauses.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    if flt.since is not None:
        clauses.append(sql.SQL("ts >= %s"))
        params.append(flt.since)
    if flt.until is not None:
        clauses.append(sql.SQL("ts < %s"))
        params.append(flt.until)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params


class PostgresStore:
    """The log table behind a DSN; ``location`` shows it without the password."""

    def __init__(
        self, location: str, table: Optional[str] = None, *, connect_timeout: float = 10.0
    ) -> None:
        self._location = resolve_location(location, table)
        self.table = self._location.table
        self.location = self._location.display
        self.connect_timeout = connect_timeout
        self._pending_audit: Optional[str] = None
        self._pending_fields: dict[str, Any] = {}
        self._key: Optional[bytes] = None

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r}, table={self.table!r})"

    def _connect(self) -> psycopg.Connection[Any]:
        conn = self._location.connect(timeout=self.connect_timeout)
        use_fast_json(conn)
        return conn

    def _fail(self, action: str, exc: Exception) -> Exception:
        if isinstance(exc, PostgresError):
            return exc
        if isinstance(exc, psycopg.Error):
            return self._location.error(action, exc)
        return exc

    # -- reading -----------------------------------------------------------------------------------
    def iter_records(self, flt: RecordFilter) -> Iterator[dict[str, Any]]:
        """Matching records, oldest first, streamed through a server-side cursor."""
        where, params = _where(flt)
        query = sql.SQL("SELECT record FROM {}{} ORDER BY ts, id").format(
            table_sql(self.table), where
        )
        try:
            with self._connect() as conn:
                if not table_exists(conn, self.table):
                    return
                with conn.cursor(name=f"dihya_{uuid.uuid4().hex[:8]}") as cur:
                    cur.itersize = 2000
                    cur.execute(query, params)
                    for (record,) in cur:
                        yield record_order(record)
        except Exception as exc:
            raise self._fail("read", exc) from None

    def tail(self, limit: int, flt: RecordFilter) -> list[dict[str, Any]]:
        """The newest ``limit`` matching records, oldest first (one indexed query)."""
        return self._newest(limit, flt, None)

    def latest_events(
        self, limit: int, flt: RecordFilter, events: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` matching records of the ``events`` kinds, oldest first (the
        report's latest audit events, through the ``(event, ts)`` index)."""
        return self._newest(limit, flt, events)

    def _newest(
        self, limit: int, flt: RecordFilter, events: Optional[Sequence[str]]
    ) -> list[dict[str, Any]]:
        """``ORDER BY ts DESC, id DESC LIMIT limit`` over the matches (of ``events`` kinds
        only, unless None), returned oldest first."""
        if limit <= 0:
            return []
        where, params = _where(flt)
        if events is not None:
            where = sql.SQL("{} {} event = ANY(%s)").format(
                where, sql.SQL("AND" if params else "WHERE")
            )
            params = [*params, list(events)]
        query = sql.SQL(
            "SELECT record FROM (SELECT record, ts, id FROM {}{} "
            "ORDER BY ts DESC, id DESC LIMIT %s) AS newest ORDER BY ts, id"
        ).format(table_sql(self.table), where)
        try:
            with self._connect() as conn:
                if not table_exists(conn, self.table):
                    return []
                rows = conn.execute(query, [*params, limit]).fetchall()
        except Exception as exc:
            raise self._fail("read", exc) from None
        return [record_order(row[0]) for row in rows]

    def summary(self) -> dict[str, Any]:
        """Counts per event and status, distinct users, first and last timestamps, size (with
        every monthly partition)."""
        name = table_sql(self.table)
        try:
            with self._connect() as conn:
                if not table_exists(conn, self.table):
                    return {"records": 0, "events": {}, "statuses": {}, "users": 0}
                row = conn.execute(
                    sql.SQL(
                        "SELECT count(*), count(DISTINCT user_id), min(ts), max(ts), "
                        "pg_total_relation_size(%s::regclass) + coalesce((SELECT "
                        "sum(pg_total_relation_size(inhrelid))::bigint FROM pg_inherits "
                        "WHERE inhparent = %s::regclass), 0) FROM {}"
                    ).format(name),
                    [quote_table(self.table), quote_table(self.table)],
                ).fetchone()
                events = conn.execute(
                    sql.SQL("SELECT coalesce(event, ''), count(*) FROM {} GROUP BY 1").format(name)
                ).fetchall()
                statuses = conn.execute(
                    sql.SQL(
                        "SELECT status, count(*) FROM {} WHERE status IS NOT NULL GROUP BY 1"
                    ).format(name)
                ).fetchall()
        except Exception as exc:
            raise self._fail("stats", exc) from None
        assert row is not None
        return {
            "records": row[0],
            "users": row[1],
            "first": row[2].isoformat() if row[2] else None,
            "last": row[3].isoformat() if row[3] else None,
            "bytes": row[4],
            "events": dict(events),
            "statuses": dict(statuses),
        }

    def compute_stats(self, flt: RecordFilter, *, by: Optional[str] = None, top: int = 20) -> Stats:
        """What ``dihya-logs stats`` shows, computed by the database: only the aggregated rows
        travel (see `database_stats`); ``by`` None picks the period from the span."""
        from dihya_logging.cli._stats import Stats  # the CLI's, not every handler's, import
        from dihya_logging.postgres._stats import database_stats

        where, params = _where(flt)
        try:
            with self._connect() as conn:
                if not table_exists(conn, self.table):
                    return Stats.from_records((), by=by, top=top)
                return database_stats(conn, self.table, where, params, by=by, top=top)
        except Exception as exc:
            raise self._fail("stats", exc) from None

    # -- writing -----------------------------------------------------------------------------------
    def pseudonymize(self, user_id: str) -> str:
        """The token standing for ``user_id``: keyed by ``$DIHYA_ANON_KEY`` if set, else by the
        key kept in the database beside the table (the same on every host)."""
        if self._key is None:
            try:
                with self._connect() as conn:
                    ensure_schema(conn, self.table)
                    self._key = pseudonym_key(conn, self.table)
            except Exception as exc:
                raise self._fail("key lookup", exc) from None
        return pseudonymize_user_id(user_id, key=self._key)

    def check_audit(self) -> None:
        """Audit events go into the same table: nothing to check beyond the connection."""

    def append_audit(self, fields: dict[str, Any]) -> None:
        """Insert one audit event (export, purge, …), formatted like every other record.

        The ``purge`` event that follows this store's `purge` completes (updates in place) the
        provisional event that the purge committed with its changes, instead of adding one.
        """
        pending, self._pending_audit = self._pending_audit, None
        authorised, self._pending_fields = self._pending_fields, {}
        try:
            with self._connect() as conn:
                ensure_schema(conn, self.table)
                if pending is not None and fields.get("event") == EVENT_PURGE:
                    line = self._audit_line(conn, {**fields, **authorised})
                    _, ts, event, user, status, text = prepare_row(pending, line)
                    query = sql.SQL(
                        "UPDATE {} AS t SET ts = %s, event = %s, user_id = %s, status = %s, "
                        "record = %s::jsonb FROM {} AS old WHERE t.record_id = %s "
                        "AND old.record_id = t.record_id RETURNING old.record->>'chain'"
                    ).format(table_sql(self.table), table_sql(self.table))
                    done = conn.execute(query, [ts, event, user, status, text, pending])
                    if done.rowcount:
                        self._move_head(conn, done.fetchone(), text)
                        return
                line = self._audit_line(conn, fields)
                insert_rows(conn, self.table, [prepare_row(str(uuid.uuid4()), line)])
        except Exception as exc:
            raise self._fail("audit", exc) from None

    def _move_head(self, conn: psycopg.Connection[Any], old: Any, text: str) -> None:
        """A completed purge record replaced the provisional one (each a one-row chain): the
        recorded head moves to the new chain."""
        heads = sql.Identifier(*heads_table(self.table).split("."))
        if old is not None and old[0] is not None:
            conn.execute(sql.SQL("DELETE FROM {} WHERE chain = %s").format(heads), [old[0]])
        record = json.loads(text)
        if isinstance(record.get(CHAIN_ID_FIELD), str):
            conn.execute(
                sql.SQL("INSERT INTO {} (chain, seq, link) VALUES (%s, %s, %s)").format(heads),
                [record[CHAIN_ID_FIELD], record["seq"], record["link"]],
            )

    def _audit_line(self, conn: psycopg.Connection[Any], fields: dict[str, Any]) -> str:
        """An audit record as a line; sealed (a chain of its own) when the table is chained —
        its newest row carries a chain — or ``$DIHYA_CHAIN_KEY`` is set, so that `verify`
        can trust the purge records that authorise tombstones."""
        line = audit_line(fields)
        newest = conn.execute(
            sql.SQL("SELECT record ? %s FROM {} ORDER BY ts DESC, id DESC LIMIT 1").format(
                table_sql(self.table)
            ),
            [CHAIN_ID_FIELD],
        ).fetchone()
        if os.environ.get(ENV_CHAIN_KEY) or (newest is not None and newest[0]):
            line = RowSealer().seal(line)
        return line

    def purge(
        self, *, user_id: Optional[str], before: Optional[datetime], anonymize: bool
    ) -> PurgeOutcome:
        """Remove (or anonymize) the selected records and record it, in one transaction.

        The ``purge`` event committed with the changes names the mode, the filter (user as a
        token) and the count; the public API's `append_audit` then completes it (actor,
        notified recipients). ``details`` has ``removed``, ``anonymized``, ``scrubbed``.
        """
        if anonymize and user_id is None:
            raise ValueError("anonymize=True needs a user_id")
        pseudonym = self.pseudonymize(user_id) if user_id is not None else None
        scope: dict[str, Any] = {}
        if pseudonym is not None:
            scope["user_id"] = pseudonym
        if before is not None:
            scope["before"] = before.isoformat().replace("+00:00", "Z")
        record_id = str(uuid.uuid4())
        auth = Authorisations()
        try:
            with self._connect() as conn:
                ensure_schema(conn, self.table)
                with conn.transaction():
                    erasure_lock(conn, self.table, exclusive=True)
                    dropped = 0
                    if user_id is None and before is not None:  # retention: whole months first
                        dropped = drop_partitions_before(conn, self.table, before)
                    outcome = purge_rows(
                        conn, self.table, user_id, before, anonymize, pseudonym, auth
                    )
                    if dropped:
                        outcome = PurgeOutcome(
                            outcome.count + dropped,
                            {**outcome.details, "removed": outcome.details["removed"] + dropped},
                        )
                    if pseudonym is not None:  # no retried batch may bring the user back
                        record_erasure(conn, self.table, pseudonym, before)
                    audit = {
                        "event": EVENT_PURGE,
                        "actor": None,
                        "mode": "anonymize" if anonymize else "delete",
                        "filter": scope,
                        "count": outcome.count,
                        **auth.fields(),
                    }
                    line = self._audit_line(conn, audit)
                    insert_rows(conn, self.table, [prepare_row(record_id, line)])
        except Exception as exc:
            raise self._fail("purge", exc) from None
        self._pending_audit = record_id
        self._pending_fields = auth.fields()
        outcome.details["audit_record_id"] = record_id
        return outcome
