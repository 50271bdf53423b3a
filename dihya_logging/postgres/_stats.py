"""``dihya-logs stats`` and ``report`` on a table: the figures computed by the database.

One query with ``GROUPING SETS`` counts records per event and generations per status, stack,
template, user and period, with errors and ``percentile_disc`` p50/p95 of ``duration_ms`` per
group; the stack, template and user rankings are cut to ``--top`` in SQL (a window ranks them).
Only those aggregated rows reach the client. The SQL spells the definitions of
``dihya_logging/cli/_stats.py`` (which counts a file log in Python), so both give the same
`Stats`: keys are the field's text or JSON text (``(none)`` when missing, null or empty),
durations are JSON numbers below 1e308, periods are UTC days, ISO weeks or months, ties rank by
key in code-point order (``COLLATE "C"``).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Final, Optional

import psycopg
from psycopg import sql

from dihya_logging._schema import EVENT_GENERATION
from dihya_logging.cli._stats import (
    DURATION_LIMIT,
    NONE_KEY,
    Figures,
    Ranking,
    Stats,
    granularity_of,
    period_key,
    ranked,
    whole,
)
from dihya_logging.postgres._schema import table_sql

__all__ = ["database_stats", "generation_span"]

_CUT: Final = ("stack", "template", "user")
"""The rankings ``--top`` cuts."""


def _key(field: str) -> sql.Composable:
    """The group of a record field (`group_key`): ``->>`` gives a string's text and any other
    JSON value's JSON text; missing, null or empty is ``(none)``."""
    return sql.SQL("coalesce(nullif(record ->> {}, ''), {})").format(
        sql.Literal(field), sql.Literal(NONE_KEY)
    )


_QUERY: Final = """
WITH r AS NOT MATERIALIZED (
    SELECT coalesce(event, {none}) AS ev, g, g AND status = 'error' AS failed,
           CASE WHEN g THEN {status} END AS st, CASE WHEN g THEN {user} END AS us,
           {stack} AS sk, {template} AS tp, date_trunc({by}, ts AT TIME ZONE 'UTC') AS pd,
           CASE WHEN jsonb_typeof(record -> 'duration_ms') = 'number'
                AND abs((record -> 'duration_ms')::numeric) < {limit}
                THEN (record -> 'duration_ms')::numeric::float8 END AS dur
    FROM (SELECT *, event IS NOT DISTINCT FROM {generation} AS g FROM {table}{where}) AS src
), grouped AS (
    SELECT CASE GROUPING(ev, st, us) WHEN 3 THEN 'event' WHEN 5 THEN 'status' ELSE 'user' END
               AS grp,
           coalesce(ev, st, us) AS key, NULL::timestamp AS pd, count(*) AS records,
           count(*) FILTER (WHERE g) AS generations, count(*) FILTER (WHERE failed) AS errors,
           NULL::float8 AS p50, NULL::float8 AS p95
    FROM r GROUP BY GROUPING SETS ((ev), (st), (us))
    UNION ALL
    SELECT CASE GROUPING(sk, tp, pd) WHEN 3 THEN 'stack' WHEN 5 THEN 'template'
                WHEN 6 THEN 'period' ELSE 'all' END,
           coalesce(sk, tp), pd, count(*), count(*), count(*) FILTER (WHERE failed),
           percentile_disc(%s::float8) WITHIN GROUP (ORDER BY dur),
           percentile_disc(%s::float8) WITHIN GROUP (ORDER BY dur)
    FROM r WHERE g GROUP BY GROUPING SETS ((sk), (tp), (pd), ())
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY grp
                                 ORDER BY generations DESC, key COLLATE "C") AS place,
           count(*) OVER (PARTITION BY grp) AS total
    FROM grouped WHERE grp IN ('all', 'event') OR generations > 0
)
SELECT grp, key, pd, records, generations, errors, p50, p95, total FROM ranked
WHERE %s = 0 OR place <= %s OR grp NOT IN ({cut})
"""
"""Counts per event, status and user (hashable: no percentile) and figures per stack,
template and period (sorted for ``percentile_disc``) are two branches over the same rows,
which PostgreSQL runs in parallel; the `_CUT` rankings keep their first ``top`` rows."""


def generation_span(
    conn: psycopg.Connection[Any], table: str, where: sql.Composable, params: list[Any]
) -> str:
    """The granularity `Stats` picks for the matching generations' span (two index probes)."""
    row = conn.execute(
        sql.SQL(
            "SELECT min(ts), max(ts) FROM (SELECT ts, event FROM {}{}) AS src WHERE event = %s"
        ).format(table_sql(table), where),
        [*params, EVENT_GENERATION],
    ).fetchone()
    first, last = (None, None) if row is None else row
    return granularity_of(_utc_date(first), _utc_date(last))


def _utc_date(stamp: Optional[datetime]) -> Optional[date]:
    return None if stamp is None else stamp.astimezone(timezone.utc).date()


def database_stats(
    conn: psycopg.Connection[Any],
    table: str,
    where: sql.Composable,
    params: list[Any],
    *,
    by: Optional[str],
    top: int,
) -> Stats:
    """The `Stats` of the rows ``where`` selects (``by`` None: chosen from their span; the
    rankings cut to ``top``, 0 for all), in one aggregate query."""
    if by is None:
        by = generation_span(conn, table, where, params)
    query = sql.SQL(_QUERY).format(
        none=sql.Literal(NONE_KEY),
        generation=sql.Literal(EVENT_GENERATION),
        status=_key("status"),
        stack=_key("stack"),
        template=_key("template"),
        user=_key("user_id"),
        by=sql.Literal(by),
        limit=sql.Literal(DURATION_LIMIT),
        table=table_sql(table),
        where=where,
        cut=sql.SQL(", ").join(sql.Literal(name) for name in _CUT),
    )
    with conn.transaction():
        conn.execute("SET LOCAL jit = off")  # compiling this query costs more than it saves
        rows = conn.execute(query, [*params, 50 / 100, 95 / 100, top, top]).fetchall()
    by_set: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_set.setdefault(row[0], []).append(row[1:])
    overall = by_set.get("all", [(None, None, 0, 0, 0, None, None, 1)])[0]

    def counts(name: str, column: int) -> list[tuple[str, int]]:
        return ranked({row[0]: row[column] for row in by_set.get(name, [])})

    def ranking(name: str) -> Ranking[Figures]:
        found = by_set.get(name, [])
        figures = {row[0]: _figures(row) for row in found}
        order = ranked({key: item.generations for key, item in figures.items()})
        return Ranking([(key, figures[key]) for key, _ in order], found[0][-1] if found else 0)

    users = by_set.get("user", [])
    periods = sorted(by_set.get("period", []), key=lambda row: row[1])
    return Stats(
        by=by,
        top=top,
        events=counts("event", 2),
        statuses=counts("status", 3),
        users=Ranking(counts("user", 3), users[0][-1] if users else 0),
        overall=_figures(overall),
        stacks=ranking("stack"),
        templates=ranking("template"),
        periods=[(period_key(row[1].date(), by), _figures(row)) for row in periods],
    )


def _figures(row: tuple[Any, ...]) -> Figures:
    """`Figures` of a result row (key, period, records, generations, errors, p50, p95, …)."""
    p50, p95 = row[5], row[6]
    if p50 is None:
        return Figures(row[3], row[4])
    return Figures(row[3], row[4], whole(p50), whole(p95))
