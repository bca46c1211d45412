"""PostgreSQL / Aurora PostgreSQL through psycopg 3 (a DMS target or source)."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import threading
import time
from decimal import Decimal
from typing import Any, Iterator, Sequence

import psycopg

from .base import Engine, Failure, QueryResult, timed_out
from .catalog import ColumnInfo, TableInfo, ValueKind
from .mysql import float_canonical, image_piece

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
            failed = False
            try:
                with self._client_deadline(conn):
                    self._execute(cur, sql, params)
                columns = tuple(_column_name(d[0]) for d in cur.description or ())
                rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
            except self.driver_errors:
                # no ROLLBACK: Engine.query closes the session, which ends the transaction; on a timed-out or
                # terminated connection a ROLLBACK would only replace the real error with "connection is closed"
                failed = True
                raise
            finally:
                if not failed:
                    cur.execute("ROLLBACK")
        finally:
            cur.close()
        return QueryResult(columns, rows)

    def _execute(self, cur: Any, sql: str, params: Sequence[Any] | None) -> None:
        cur.execute(sql, params) if params else cur.execute(sql)

    @contextlib.contextmanager
    def _client_deadline(self, conn: Any) -> Iterator[None]:
        """Bound the client's wait for one statement (drivers without a socket timeout); none by default."""
        yield

    def stream(self, sql: str, params: Sequence[Any] | None = None, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        # A cursor declared inside the READ ONLY transaction hands the rows over FETCH by FETCH, so a large result
        # never sits whole in the client (PostgreSQL and Redshift both have DECLARE / FETCH FORWARD; plain SQL
        # serves both drivers). Each statement keeps the server's statement_timeout and the client deadline of
        # _run. The lock is held until the consumer is done; a consumer stopping early (or a failure) closes the
        # session, which ends the transaction and its cursor, and the next query reconnects.
        with self._lock:
            self.connect()
            finished = False
            started = time.monotonic()
            try:
                cur = self._conn.cursor()
                try:
                    cur.execute("BEGIN READ ONLY")
                    started = time.monotonic()
                    with self._client_deadline(self._conn):
                        # plain DECLARE ... CURSOR FOR: Redshift knows no NO SCROLL / WITH HOLD options
                        self._execute(cur, f"DECLARE dmsval_stream CURSOR FOR\n{sql}\n", params)
                    while True:
                        started = time.monotonic()  # each FETCH is one statement, timed on its own
                        with self._client_deadline(self._conn):
                            self._execute(cur, f"FETCH FORWARD {self._fetch_rows(batch)} FROM dmsval_stream", None)
                            rows = cur.fetchall()
                        if not rows:
                            break
                        for row in rows:
                            yield tuple(row)
                    cur.execute("ROLLBACK")
                    finished = True
                finally:
                    if finished:
                        cur.close()
            except self.driver_errors as e:
                raise self._failure(e, sql, time.monotonic() - started) from e
            finally:
                if not finished:
                    self.close()  # closing the connection ends the transaction and the cursor on the server

    def _fetch_rows(self, batch: int) -> int:
        """Rows asked for by one FETCH of :meth:`stream`."""
        return max(1, int(batch))

    def _timeout_ms(self) -> int:
        return max(1, math.ceil(self.query_timeout_s * 1000))  # the settings take whole milliseconds

    def _session_id(self, conn: Any) -> int:
        cur = conn.cursor()
        try:
            cur.execute("SELECT pg_backend_pid()")
            return int(cur.fetchone()[0])
        finally:
            cur.close()

    @staticmethod
    def _error_state(error: BaseException) -> tuple[str | None, str]:
        """(SQLSTATE, primary message) of a driver error; (None, "") when the server sent none."""
        return None, ""

    def _connection_broken(self, error: BaseException) -> bool:
        """Whether a driver error without an SQLSTATE means the connection is gone."""
        return False

    def _classify(self, error: BaseException) -> Failure:
        if timed_out(error):
            return Failure.GAVE_UP  # the socket timeout: the statement may still run on the server
        code, message = self._error_state(error)
        if code == "57014":  # query_canceled
            return Failure.TIMED_OUT if "statement timeout" in message else Failure.INTERRUPTED
        if code == "55P03":  # lock_not_available: lock_timeout (dmsval never asks for NOWAIT locks)
            return Failure.TIMED_OUT
        if code and code.startswith(("57P", "08")):  # admin/crash shutdown, connection exceptions
            return Failure.LOST
        if self._connection_broken(error):
            return Failure.LOST
        return Failure.SQL

    def _cancel_backend(self, backend_id: int) -> None:
        # pg_cancel_backend from a second session of the same user (allowed for one's own sessions on
        # PostgreSQL and Redshift); it only signals, and a backend that has already ended is fine too
        conn = self._connect_driver(self.cancel_timeout_s)
        try:
            cur = conn.cursor()
            cur.execute("SELECT pg_cancel_backend(%s)", (int(backend_id),))
            cur.fetchall()
            cur.close()
        finally:
            conn.close()

    def _connect_driver(self, connect_timeout: float) -> Any:
        """A driver connection with the engine's credentials, autocommit, without the session settings."""
        raise NotImplementedError

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def _list_tables_sql(self) -> str:
        excluded = ", ".join(f"'{s}'" for s in _SYSTEM_SCHEMAS)
        return ("SELECT table_schema, table_name FROM information_schema.tables "
                f"WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ({excluded}) "
                "AND table_schema NOT LIKE 'pg_temp%'")


    def _read_schema_info(self, schema: str) -> list[TableInfo]:
        # information_schema.columns exists on Redshift too; one query for the whole schema (per table it costs
        # most of a second on a catalog of 1,000 tables)
        rows = self.query(
            "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale, datetime_precision, "
            "character_maximum_length FROM information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, ordinal_position", (schema,)).rows
        by_table: dict[str, list[ColumnInfo]] = {}
        for table, name, data_type, precision, scale, dt_precision, char_length in rows:
            dt = str(data_type).lower()
            declared = dt
            if dt == "numeric" and precision is not None:
                declared = f"numeric({precision},{scale})"
            elif char_length is not None:
                declared = f"{dt}({char_length})"
            by_table.setdefault(str(table), []).append(
                ColumnInfo(str(name), dt, declared, _opt_int(precision), _opt_int(scale), _opt_int(dt_precision),
                           _opt_int(char_length)))
        keys = self._read_schema_keys(schema)
        return [TableInfo(schema, table, tuple(columns), *keys.get(table, ((), (), 0)))
                for table, columns in by_table.items()]

    def _read_schema_keys(self, schema: str) -> dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...], int]]:
        """(primary key, NOT NULL unique keys, row estimate) by table; none here (see the subclasses)."""
        return {}

    # -- canonical values ---------------------------------------------------------------------------------
    def canonical(self, column_sql: str, kind: ValueKind, column: ColumnInfo) -> str:
        x = column_sql
        is_bool = column.data_type == "boolean"
        if is_bool and kind.name in ("int", "bit"):
            return f"CASE WHEN {x} IS NULL THEN NULL WHEN {x} THEN '1' ELSE '0' END"
        if kind.name in ("int", "decimal"):
            return f"CAST({x} AS VARCHAR)"
        if kind.name == "float":
            return float_canonical(f"CAST({x} AS DOUBLE PRECISION)", kind.digits, log10="LOG", power="POWER",
                                   to_text=lambda e: f"CAST(CAST({e} AS BIGINT) AS VARCHAR)",
                                   concat=_concat)
        # The session's DateStyle is ISO (set at connect), so a date or timestamp cast to text is
        # 'YYYY-MM-DD[ HH:MM:SS]' -- about a third of TO_CHAR's cost. Fractions are printed without trailing
        # zeros, unlike MySQL's fixed digits: where fractional digits are compared, TO_CHAR pads them.
        if kind.name == "date":
            return f"CAST({x} AS VARCHAR)"
        if kind.name == "datetime":
            if not kind.precision:
                # an explicit cast to VARCHAR(19) cuts (PostgreSQL and Redshift alike), like LEFT(.., 19) at
                # 60% of its cost (0.32 s vs 0.51 s a 2M-row column)
                return f"CAST({x} AS VARCHAR(19))"
            return f"LEFT(TO_CHAR({x}, 'YYYY-MM-DD HH24:MI:SS.US'), {20 + kind.precision})"
        if kind.name == "bit":
            return x  # BIT(n > 1) arrives as its binary digits (VARCHAR)
        if kind.name == "char":
            return f"RTRIM({x})"
        if kind.name == "text":
            return x
        if kind.name == "lob_text":
            return f"MD5({x})"  # the target holds what DMS kept
        if kind.name == "lob_binary":
            if column.data_type == "bytea":
                return f"MD5(ENCODE({x}, 'hex'))"  # the bytes themselves (PostgreSQL target): the hex of them
            # binary arrives as hex text whose letter case DMS versions differ in: compared in lower case
            return f"MD5(LOWER({x}))"
        raise AssertionError(kind)

    def octet_length(self, column_sql: str, kind: ValueKind, column: ColumnInfo) -> str:
        if column.data_type == "bytea":
            return f"(2 * OCTET_LENGTH({column_sql}))"  # binary measured as the hex text it is compared as
        return super().octet_length(column_sql, kind, column)

    def row_image(self, canonical_sqls: list[str], kinds: list[ValueKind]) -> str:
        # the same pieces as MySQL's, so equal values give equal images (why it is injective: image_piece)
        pieces = [image_piece(c, kind, length=lambda text: f"CAST({self.text_bytes(text)} AS VARCHAR)", concat=_concat)
                  for c, kind in zip(canonical_sqls, kinds)]
        return "(" + " || '|' || ".join(pieces) + ")"

    def hash_int(self, md5_sql: str) -> str:
        return f"CAST(CAST('x' || SUBSTRING({md5_sql}, 1, 15) AS BIT(60)) AS BIGINT)"

    def literal(self, value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, (int, float, Decimal)):
            return str(value)
        if isinstance(value, (dt.datetime, dt.date, dt.time)):
            return "'" + value.isoformat(sep=" ") + "'" if isinstance(value, dt.datetime) else f"'{value.isoformat()}'"
        # standard_conforming_strings is on in PostgreSQL and Redshift: only quotes need doubling
        return "'" + str(value).replace("'", "''") + "'"

    def int_div(self, numerator_sql: str, denominator: int, column: ColumnInfo | None = None) -> str:
        if column is not None and column.data_type in _INTEGER_TYPES:
            # integer division truncates, which is the floor of a non-negative numerator; a third of the
            # NUMERIC division's cost (0.13 s vs 0.45 s over 2M keys)
            return f"(({numerator_sql}) / {int(denominator)})"
        # other keys (a NUMERIC(20,0) key, for one): NUMERIC division, then its floor
        return f"FLOOR(({numerator_sql}) / {int(denominator)}.0)"


_INTEGER_TYPES = ("smallint", "integer", "bigint", "int2", "int4", "int8")  # the catalog may give either name


def _concat(*parts: str) -> str:
    return "(" + " || ".join(parts) + ")"


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _column_name(name: Any) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)


class PostgresEngine(PostgresFamilyEngine):
    name = "postgres"
    dms_engine_names = ("postgres", "aurora-postgresql")
    sqlglot_dialect = "postgres"
    driver_errors = (psycopg.Error,)
    _gave_up = False  # set when the client deadline of the running statement passed (see _client_deadline)

    def _read_schema_keys(self, schema: str) -> dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...], int]]:
        # pg_catalog rather than information_schema: one cheap query for every table of the schema. Unique
        # indexes over plain columns without a predicate identify rows; an expression or partial index does not.
        indexes = self.query(
            "SELECT c.relname, ic.relname, i.indisprimary, a.attname, a.attnotnull FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_class ic ON ic.oid = i.indexrelid "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
            "WHERE n.nspname = %s AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL "
            "ORDER BY c.relname, ic.relname, k.position", (schema,)).rows
        # reltuples is -1 for a table never analyzed or vacuumed: no estimate, like an empty one
        estimates = self.query(
            "SELECT c.relname, GREATEST(c.reltuples, 0)::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
            (schema,)).rows
        found: dict[str, dict[str, list[tuple[bool, str, bool]]]] = {}
        for table, index, primary, column, not_null in indexes:
            found.setdefault(str(table), {}).setdefault(str(index), []).append((bool(primary), str(column),
                                                                               bool(not_null)))
        keys: dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...], int]] = {}
        for table, estimate in estimates:
            by_index = found.get(str(table), {})
            primary_key = next((tuple(c for _, c, _ in cols) for cols in by_index.values() if cols[0][0]), ())
            unique = tuple(tuple(c for _, c, _ in cols) for _, cols in sorted(by_index.items())
                           if not cols[0][0] and all(nn for _, _, nn in cols))
            keys[str(table)] = (primary_key, unique, int(estimate or 0))
        return keys

    def _execute(self, cur: Any, sql: str, params: Sequence[Any] | None) -> None:
        # prepare=True: the extended protocol, which refuses several ';'-separated statements (the simple
        # protocol would run "ROLLBACK; INSERT ..." and escape BEGIN READ ONLY); '%' stays literal without params
        cur.execute(sql, params or None, prepare=True)

    def _connect_driver(self, connect_timeout: float, options: str = "") -> Any:
        c = self.credentials
        return psycopg.connect(
            host=c.host, port=c.port, user=c.user, password=c.password, dbname=c.database or "postgres",
            sslmode="prefer" if c.ssl_mode in ("none", "") else c.ssl_mode,
            connect_timeout=max(2, math.ceil(connect_timeout)),  # libpq: whole seconds, at least 2
            client_encoding="UTF8", autocommit=True, options=options or None,
        )

    def _open(self) -> Any:
        ms = self._timeout_ms()
        # statement_timeout stops a statement on the server; lock_timeout ends a lock wait (e.g. behind an
        # ACCESS EXCLUSIVE lock) with its own error rather than as part of the statement's time
        # max_parallel_workers_per_gather=0: dmsval's load on a database is the connections it opens
        # (--scan-parallelism), one core each. PostgreSQL's parallel workers would add cores per statement on
        # top of dmsval's own key-range scans; on a host shared with the source (measured on the 2-core
        # benchmark machine) they took the source's core and made row_diff 1.3x slower.
        return self._connect_driver(30, f"-c statement_timeout={ms} -c lock_timeout={ms} -c TimeZone=UTC "
                                         "-c DateStyle=ISO,MDY "  # ISO text of dates: see canonical
                                         "-c max_parallel_workers_per_gather=0")

    @contextlib.contextmanager
    def _client_deadline(self, conn: Any) -> Iterator[None]:
        # psycopg has no read timeout: a timer sends the protocol's cancel request (no second login) when the
        # client deadline passes, should the server's own limits not have ended the statement by then
        self._gave_up = False

        def give_up() -> None:
            self._gave_up = True
            try:
                conn.cancel_safe(timeout=self.cancel_timeout_s)
            except psycopg.Error:
                pass  # the server cannot be reached to cancel: the wait ends when its connection breaks

        timer = threading.Timer(self.client_deadline_s(), give_up)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            # a cancel being sent must be delivered before the session runs anything else (it would stop that)
            timer.join()

    @staticmethod
    def _error_state(error: BaseException) -> tuple[str | None, str]:
        if isinstance(error, psycopg.Error) and error.diag is not None:
            return error.sqlstate, error.diag.message_primary or ""
        return None, ""

    def _connection_broken(self, error: BaseException) -> bool:
        # libpq's own errors ("server closed the connection unexpectedly") carry no SQLSTATE; psycopg marks
        # the connection closed then
        return self._conn is not None and bool(self._conn.closed)

    def _classify(self, error: BaseException) -> Failure:
        kind = super()._classify(error)
        if kind is Failure.INTERRUPTED and self._gave_up:
            return Failure.TIMED_OUT  # our own deadline's cancel stopped it
        return kind
