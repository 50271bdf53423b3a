"""PostgreSQL backend: one audit table shared by every host (needs the ``postgres`` extra).

`PostgresLogHandler` writes records (batched, off the caller's thread, spilled to a local file
while the database is down; with ``chain=True`` sealed into a per-writer hash chain);
`PostgresStore` reads, purges and anonymizes them in SQL for the public API and the CLI (any
``postgresql://`` or ``host=… dbname=…`` location; ``verify`` checks the chains);
`import_log_set` loads existing JSON-lines logs, idempotently; `partition_in_place` turns a
schema-1 table into the monthly-partitioned one; `schema_sql` is the DDL a DBA can run by hand.
"""

from __future__ import annotations

from dihya_logging.postgres._dsn import (
    DEFAULT_TABLE,
    ENV_DSN,
    PostgresError,
    display_dsn,
    require_psycopg,
)

require_psycopg()  # a clear "install the postgres extra" ImportError, before any submodule

from dihya_logging.postgres._handler import PostgresLogHandler  # noqa: E402
from dihya_logging.postgres._importer import (  # noqa: E402
    ImportOutcome,
    import_log_set,
    partition_in_place,
)
from dihya_logging.postgres._schema import ensure_schema, schema_sql  # noqa: E402
from dihya_logging.postgres._store import PostgresStore  # noqa: E402

__all__ = [
    "DEFAULT_TABLE",
    "ENV_DSN",
    "ImportOutcome",
    "PostgresError",
    "PostgresLogHandler",
    "PostgresStore",
    "display_dsn",
    "ensure_schema",
    "import_log_set",
    "partition_in_place",
    "schema_sql",
]
