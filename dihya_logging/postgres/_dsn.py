"""Connection strings: where a DSN comes from, how it is shown without its password, connecting.

libpq parses DSNs (``postgresql://`` URLs and ``host=… dbname=…`` key/value strings alike),
through ``psycopg.conninfo``; this module only keeps the password out of sight. A DSN is a
secret, so it is never logged, never put in a ``repr`` and never echoed in an error: `display_dsn`
is the only form that leaves this module, and every database error is re-raised as
`PostgresError` with the password scrubbed from its text. A ``postgresql://`` URL may carry
``?table=NAME`` to name the log table (removed before libpq sees it), so the CLI and the public
API, which take one location string, can reach any table.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Final, Optional
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "DEFAULT_TABLE",
    "ENV_DSN",
    "Location",
    "PostgresError",
    "display_dsn",
    "require_psycopg",
    "resolve_location",
    "validate_table",
]

DEFAULT_TABLE: Final = "dihya_generation_log"
ENV_DSN: Final = "DIHYA_PG_DSN"
"""Environment variable holding the DSN when none is passed (keeps it out of config files)."""

_TABLE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}$")
_URL = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://", re.IGNORECASE)
_INSTALL_HINT: Final = "PostgreSQL support needs psycopg 3: pip install 'dihya-logging[postgres]'"


class PostgresError(OSError):
    """A database operation failed; the message is one line and never contains the password."""


def require_psycopg() -> Any:
    """Import psycopg, or raise an ImportError that says which extra to install."""
    try:
        import psycopg
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    return psycopg


def validate_table(table: object) -> str:
    """Check a table name (``name`` or ``schema.name``, plain identifiers); return it."""
    if not isinstance(table, str) or not _TABLE.match(table):
        raise ValueError(
            f"table must be an identifier such as {DEFAULT_TABLE!r} or 'schema.name', got {table!r}"
        )
    return table


def _parse(dsn: str) -> dict[str, Any]:
    """libpq's reading of ``dsn``; ValueError (never showing the DSN) if it is malformed."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        return conninfo_to_dict(dsn)
    except require_psycopg().Error as exc:
        detail = "" if "password" in dsn or "@" in dsn else f": {' '.join(str(exc).split())}"
        raise ValueError(f"not a valid PostgreSQL connection string{detail}") from None


def _secrets(dsn: str, params: dict[str, Any]) -> list[str]:
    """Every spelling of the password that may appear in ``dsn`` or in an error about it."""
    password = str(params.get("password") or "")
    if not password:
        return []
    found = {password, quote(password, safe=""), quote(password)}
    return sorted((s for s in found if s), key=len, reverse=True)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return " ".join(text.split())[:500]


def _display(dsn: str, params: dict[str, Any]) -> str:
    """A URL without its password (in the user part or the query); key/value text rebuilt by
    libpq from the parsed parameters, the password left out."""
    if not _URL.match(dsn):
        from psycopg.conninfo import make_conninfo

        return make_conninfo(**{k: v for k, v in params.items() if k != "password"})
    parts = urlsplit(dsn)
    netloc = parts.netloc.rpartition("@")[2]
    if parts.username is not None:
        netloc = f"{parts.username}@{netloc}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))


def display_dsn(dsn: str) -> str:
    """The DSN with its password removed, fit for reprs, messages and ``LogStore.location``."""
    return resolve_location(dsn).display


class Location:
    """A resolved database location: the libpq connection string, the table, the safe name."""

    def __init__(self, dsn: str, table: str) -> None:
        params = _parse(dsn)
        self._dsn = dsn
        self._secrets = _secrets(dsn, params)
        self.table = validate_table(table)
        self.display = _display(dsn, params)
        if table != DEFAULT_TABLE and _URL.match(self.display):
            self.display += ("&" if "?" in self.display else "?") + urlencode({"table": table})

    def __repr__(self) -> str:
        return f"Location({self.display!r}, table={self.table!r})"

    def error(self, action: str, exc: BaseException) -> PostgresError:
        """A one-line `PostgresError` for a failed ``action``, password scrubbed."""
        detail = self.scrub(str(exc) or type(exc).__name__)
        return PostgresError(f"PostgreSQL {action} failed ({self.display}): {detail}")

    def connect(
        self, *, timeout: float = 10.0, autocommit: bool = False
    ) -> psycopg.Connection[Any]:
        """Open a connection (raises `PostgresError`, never with the password in it)."""
        module = require_psycopg()
        try:
            conn: psycopg.Connection[Any] = module.connect(
                self._dsn,
                connect_timeout=max(1, round(timeout)),
                application_name="dihya-logging",
                autocommit=autocommit,
            )
        except Exception as exc:  # psycopg.Error, or a malformed DSN
            raise self.error("connection", exc) from None
        return conn

    def scrub(self, text: str) -> str:
        """Any text (e.g. an error from another layer) with this location's password removed,
        cut to one line."""
        return _scrub(text, self._secrets)


def resolve_location(dsn: Optional[str] = None, table: Optional[str] = None) -> Location:
    """Build a `Location` from an explicit DSN or ``$DIHYA_PG_DSN``, and the table to use.

    A ``table`` query parameter in a URL DSN names the table unless ``table`` is given.
    """
    if dsn is None:
        dsn = os.environ.get(ENV_DSN) or None
    if dsn is None:
        raise ValueError(f"no PostgreSQL DSN: pass dsn= or set ${ENV_DSN}")
    if not isinstance(dsn, str):
        raise TypeError(f"dsn must be a string, got {type(dsn).__name__}")
    url_table: Optional[str] = None
    if _URL.match(dsn):
        parts = urlsplit(dsn)
        query = parse_qsl(parts.query, keep_blank_values=True)
        kept = [(k, v) for k, v in query if k != "table"]
        if len(kept) != len(query):
            url_table = next(v for k, v in query if k == "table")
            dsn = urlunsplit(parts._replace(query=urlencode(kept)))
        if parts.scheme.lower() not in ("postgres", "postgresql"):  # postgresql+psycopg://
            dsn = "postgresql" + dsn[dsn.index(":") :]
    return Location(dsn, table or url_table or DEFAULT_TABLE)
