"""MySQL / MariaDB / Aurora MySQL through pymysql (a DMS source)."""

from __future__ import annotations

from typing import Any, Sequence

import pymysql
import pymysql.cursors

from .base import Engine, QueryResult

_SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")


class MySQLEngine(Engine):
    name = "mysql"
    dms_engine_names = ("mysql", "mariadb", "aurora")
    sqlglot_dialect = "mysql"
    driver_errors = (pymysql.MySQLError,)

    def _open(self) -> Any:
        c = self.credentials
        conn = pymysql.connect(
            host=c.host, port=c.port, user=c.user, password=c.password, database=c.database or None,
            # utf8mb4: with 3-byte utf8 the server turns 4-byte characters (emoji) into '?', a false alarm
            charset="utf8mb4",
            connect_timeout=30,
            read_timeout=int(self.query_timeout_s),
            autocommit=True,
            ssl={"ssl": {}} if c.ssl_mode not in ("none", "") else None,
            # TIMESTAMP values are stored in UTC and DMS writes them to Redshift in UTC: read them in UTC
            init_command="SET time_zone = '+00:00'",
        )
        with conn.cursor() as cur:
            # every transaction of this session, autocommit ones included, refuses writes
            cur.execute("SET SESSION TRANSACTION READ ONLY")
        return conn

    def _run(self, conn: Any, sql: str, params: Sequence[Any] | None) -> QueryResult:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            columns = tuple(d[0] for d in cur.description or ())
            return QueryResult(columns, list(cur.fetchall()))

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def _list_tables_sql(self) -> str:
        excluded = ", ".join(f"'{s}'" for s in _SYSTEM_SCHEMAS)
        return ("SELECT table_schema, table_name FROM information_schema.tables "
                f"WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ({excluded})")
