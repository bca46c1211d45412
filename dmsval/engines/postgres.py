"""PostgreSQL / Aurora PostgreSQL through psycopg 3 (a DMS target or source)."""

from __future__ import annotations

from typing import Any, Sequence

import psycopg

from .base import Engine, QueryResult

_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", "pg_internal", "pg_automv")


class PostgresFamilyEngine(Engine):
    """Shared by PostgreSQL and Redshift: both speak the PostgreSQL dialect for what dmsval asks.

    Every statement runs inside ``BEGIN READ ONLY`` ... ``ROLLBACK`` (both databases accept that form), so a
    check can never write, whichever driver is underneath.
    """

    def _run(self, conn: Any, sql: str, params: Sequence[Any] | None) -> QueryResult:
        cur = conn.cursor()
        try:
            cur.execute("BEGIN READ ONLY")
            try:
                cur.execute(sql, params) if params else cur.execute(sql)
                columns = tuple(_column_name(d[0]) for d in cur.description or ())
                rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
            finally:
                cur.execute("ROLLBACK")
        finally:
            cur.close()
        return QueryResult(columns, rows)

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def _list_tables_sql(self) -> str:
        excluded = ", ".join(f"'{s}'" for s in _SYSTEM_SCHEMAS)
        return ("SELECT table_schema, table_name FROM information_schema.tables "
                f"WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ({excluded}) "
                "AND table_schema NOT LIKE 'pg_temp%'")


def _column_name(name: Any) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)


class PostgresEngine(PostgresFamilyEngine):
    name = "postgres"
    dms_engine_names = ("postgres", "aurora-postgresql")
    sqlglot_dialect = "postgres"
    driver_errors = (psycopg.Error,)

    def _open(self) -> Any:
        c = self.credentials
        conn = psycopg.connect(
            host=c.host, port=c.port, user=c.user, password=c.password, dbname=c.database or "postgres",
            sslmode="prefer" if c.ssl_mode in ("none", "") else c.ssl_mode, connect_timeout=30,
            client_encoding="UTF8", autocommit=True,
            options=f"-c statement_timeout={int(self.query_timeout_s * 1000)} -c TimeZone=UTC",
        )
        return conn
