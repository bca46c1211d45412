"""MySQL / MariaDB / Aurora MySQL through pymysql (a DMS source)."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any, Callable, Sequence

import pymysql
import pymysql.converters
import pymysql.cursors

from ..errors import EngineError
from .base import Engine, Failure, QueryResult, timed_out
from .catalog import ColumnInfo, TableInfo, ValueKind

_SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")

# Server error codes (MySQL and MariaDB share the numbering below 1900 and the client's 2xxx)
_TIMEOUT_CODES = frozenset({
    1969,  # MariaDB ER_STATEMENT_TIMEOUT: max_statement_time exceeded
    3024,  # MySQL ER_QUERY_TIMEOUT: max_execution_time exceeded
    1205,  # ER_LOCK_WAIT_TIMEOUT: lock_wait_timeout (metadata locks) / innodb_lock_wait_timeout, set to the limit
})
_LOST_CODES = frozenset({
    2006,  # CR_SERVER_GONE_ERROR
    2013,  # CR_SERVER_LOST (without a socket timeout behind it: the server closed the connection)
    2055,  # CR_SERVER_LOST_EXTENDED
    1927,  # MariaDB ER_CONNECTION_KILLED
    4031,  # MySQL 8 ER_CLIENT_INTERACTION_TIMEOUT: disconnected by the server
})
_INTERRUPTED_CODE = 1317  # ER_QUERY_INTERRUPTED: KILL QUERY from another session
_UNKNOWN_THREAD = 1094  # ER_NO_SUCH_THREAD: KILL QUERY of a session that has already ended
_UNKNOWN_VARIABLE = 1193  # ER_UNKNOWN_SYSTEM_VARIABLE: a server without that limit (MySQL < 5.7.8)


class MySQLEngine(Engine):
    name = "mysql"
    dms_engine_names = ("mysql", "mariadb", "aurora")
    sqlglot_dialect = "mysql"
    driver_errors = (pymysql.MySQLError,)

    #: "mariadb" or "mysql", read with SELECT VERSION() when a session opens (the statement limits differ)
    flavour: str = ""

    def _connect_driver(self, connect_timeout: float, read_timeout: float) -> Any:
        c = self.credentials
        return pymysql.connect(
            host=c.host, port=c.port, user=c.user, password=c.password, database=c.database or None,
            # utf8mb4: with 3-byte utf8 the server turns 4-byte characters (emoji) into '?', a false alarm
            charset="utf8mb4",
            connect_timeout=connect_timeout,
            # the client's deadline (pymysql takes fractional seconds): past it the socket read fails and the
            # statement is stopped with KILL QUERY from a second connection (Engine._failure)
            read_timeout=read_timeout,
            write_timeout=read_timeout,
            autocommit=True,
            ssl={"ssl": {}} if c.ssl_mode not in ("none", "") else None,
            # TIMESTAMP values are stored in UTC and DMS writes them to Redshift in UTC: read them in UTC
            init_command="SET time_zone = '+00:00'",
        )

    def _open(self) -> Any:
        conn = self._connect_driver(30, self.client_deadline_s())
        try:
            self._prepare_session(conn)
        except self.driver_errors:
            conn.close()
            raise
        return conn

    def _prepare_session(self, conn: Any) -> None:
        with conn.cursor() as cur:
            # every transaction of this session, autocommit ones included, refuses writes
            cur.execute("SET SESSION TRANSACTION READ ONLY")
            cur.execute("SELECT VERSION()")
            row = cur.fetchone()
            self.flavour = "mariadb" if row and "mariadb" in str(row[0]).lower() else "mysql"
            for statement in self._limit_statements():
                try:
                    cur.execute(statement)
                except pymysql.err.OperationalError as e:
                    if e.args[0] != _UNKNOWN_VARIABLE:
                        raise
                    # an older server without this limit: the client deadline (read_timeout + KILL QUERY)
                    # still stops the statement, only later

    def _limit_statements(self) -> list[str]:
        """Session settings that make the server itself stop a statement at --query-timeout."""
        limit = self.query_timeout_s
        lock_s = max(1, math.ceil(limit))  # whole seconds only
        statements = [
            # a metadata lock wait (a pending ALTER, LOCK TABLES ... WRITE) and a row lock wait end at the limit
            # too, with their own error instead of waiting the servers' default of a year / 50 s
            f"SET SESSION lock_wait_timeout = {lock_s}",
            f"SET SESSION innodb_lock_wait_timeout = {lock_s}",
        ]
        if self.flavour == "mariadb":
            # seconds, fractional; every statement (MariaDB 10.1+)
            statements.append(f"SET SESSION max_statement_time = {limit:.3f}")
        else:
            # milliseconds; SELECT statements only, which is all a validation runs (MySQL 5.7.8+, Aurora MySQL)
            statements.append(f"SET SESSION max_execution_time = {math.ceil(limit * 1000)}")
        return statements

    def _session_id(self, conn: Any) -> int:
        with conn.cursor() as cur:
            cur.execute("SELECT CONNECTION_ID()")
            return int(cur.fetchone()[0])

    def _run(self, conn: Any, sql: str, params: Sequence[Any] | None) -> QueryResult:
        with conn.cursor() as cur:
            # a read-only transaction around every statement: the session default alone could be switched
            # back by a statement (SET SESSION TRANSACTION READ WRITE)
            cur.execute("START TRANSACTION READ ONLY")
            failed = False
            try:
                cur.execute(sql, params)
                columns = tuple(d[0] for d in cur.description or ())
                return QueryResult(columns, list(cur.fetchall()))
            except self.driver_errors:
                # no ROLLBACK: Engine.query closes the session, which ends the transaction; on a timed-out or
                # killed connection a ROLLBACK would only replace the real error with pymysql's "(0, '')"
                failed = True
                raise
            finally:
                if not failed:
                    cur.execute("ROLLBACK")

    def _classify(self, error: BaseException) -> Failure:
        code = error.args[0] if error.args and isinstance(error.args[0], int) else None
        if code in _TIMEOUT_CODES:
            return Failure.TIMED_OUT
        if code == 2013 and timed_out(error):
            return Failure.GAVE_UP  # pymysql's read_timeout: the server may still be running the statement
        if code in _LOST_CODES or (isinstance(error, pymysql.err.InterfaceError) and code == 0):
            return Failure.LOST  # code 0: pymysql's "(0, '')", a statement on a connection already closed
        if code == _INTERRUPTED_CODE:
            return Failure.INTERRUPTED
        return Failure.SQL

    def _cancel_backend(self, backend_id: int) -> None:
        conn = self._connect_driver(self.cancel_timeout_s, self.cancel_timeout_s)
        try:
            with conn.cursor() as cur:
                try:
                    cur.execute(f"KILL QUERY {int(backend_id)}")
                except pymysql.err.OperationalError as e:
                    if e.args[0] != _UNKNOWN_THREAD:
                        raise
                    return  # the session has ended already, and its statement with it
                # KILL QUERY only flags the statement; it ends at the server's next check. Confirm it did (a
                # user sees its own sessions in the process list without the PROCESS privilege).
                deadline = time.monotonic() + self.cancel_timeout_s
                while True:
                    cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s AND "
                                "COMMAND NOT IN ('Sleep', 'Killed')", (int(backend_id),))
                    if not cur.fetchone()[0]:
                        return
                    if time.monotonic() > deadline:
                        raise EngineError(f"session {backend_id} still ran its statement "
                                          f"{self.cancel_timeout_s:g} s after KILL QUERY")
                    time.sleep(0.1)
        finally:
            conn.close()

    def quote(self, identifier: str) -> str:
        # '%' doubled: SQL built from identifiers always runs with a parameter tuple, which pymysql %-formats
        return "`" + identifier.replace("`", "``").replace("%", "%%") + "`"

    def _list_tables_sql(self) -> str:
        excluded = ", ".join(f"'{s}'" for s in _SYSTEM_SCHEMAS)
        return ("SELECT table_schema, table_name FROM information_schema.tables "
                f"WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ({excluded})")

    def _read_schema_info(self, schema: str) -> list[TableInfo]:
        columns = self.query(
            "SELECT table_name, column_name, data_type, column_type, numeric_precision, numeric_scale, "
            "datetime_precision, character_maximum_length, character_octet_length, character_set_name "
            "FROM information_schema.columns WHERE table_schema = %s ORDER BY table_name, ordinal_position",
            (schema,)).rows
        indexes = self.query(
            "SELECT table_name, index_name, non_unique, column_name, nullable FROM information_schema.statistics "
            "WHERE table_schema = %s ORDER BY table_name, index_name, seq_in_index", (schema,)).rows
        estimates = dict(self.query("SELECT table_name, table_rows FROM information_schema.tables "
                                    "WHERE table_schema = %s", (schema,)).rows)
        by_table: dict[str, list[ColumnInfo]] = {}
        for table, n, dt, ct, p, sc, dp, cl, ol, cs in columns:
            by_table.setdefault(str(table), []).append(
                ColumnInfo(str(n), str(dt).lower(), str(ct).lower(), _int(p), _int(sc), _int(dp), _int(cl), _int(ol),
                           str(cs).lower() if cs else None))
        index_columns: dict[str, dict[str, list[tuple[int, str, str]]]] = {}
        for table, index_name, non_unique, column_name, nullable in indexes:
            index_columns.setdefault(str(table), {}).setdefault(str(index_name), []).append(
                (int(non_unique), str(column_name), str(nullable)))
        infos = []
        for table, table_columns in by_table.items():
            by_index = index_columns.get(table, {})
            primary = tuple(c for _, c, _ in by_index.pop("PRIMARY", []))
            unique = tuple(tuple(c for _, c, _ in cols) for _, cols in sorted(by_index.items())
                           if all(nu == 0 and nullable != "YES" for nu, _, nullable in cols))
            infos.append(TableInfo(schema, table, tuple(table_columns), primary, unique,
                                   int(estimates.get(table) or 0)))
        return infos

    # -- canonical values ---------------------------------------------------------------------------------
    def canonical(self, column_sql: str, kind: ValueKind, column: ColumnInfo) -> str:
        x = column_sql
        # Zero dates (DMS writes NULL): '0000-00-00', a year 0 and partial zero dates ('2020-00-15'). TO_DAYS is
        # NULL for a NULL or any date with a zero month or day and at most 365 in year 0 ('0001-01-01' is 366):
        # one function call where YEAR/MONTH/DAY made three.
        valid = f"TO_DAYS({x}) > 365"
        if kind.name in ("int", "decimal"):
            if kind.number_text:
                # YEAR 0000 reads as '0000' but DMS writes the integer 0 (INT2): '+ 0' renders it as a number
                return f"CAST({x} + 0 AS CHAR)"
            return f"CAST({x} AS CHAR)"
        if kind.name == "float":
            return float_canonical(f"CAST({x} AS DOUBLE)", kind.digits, log10="LOG10", power="POW",
                                   to_text=lambda e: f"CAST({e} AS SIGNED)", concat=_concat)
        if kind.name == "date":
            return f"CASE WHEN {valid} THEN {_temporal_text(x, column, 0, date_only=True)} END"
        if kind.name == "datetime":
            return f"CASE WHEN {valid} THEN {_temporal_text(x, column, kind.precision)} END"
        if kind.name == "bit":
            if kind.precision == 1:
                return f"CAST({x} + 0 AS CHAR)"
            return f"LPAD(BIN({x} + 0), {kind.precision}, '0')"
        if kind.name == "char":
            return f"RTRIM({_text(x, kind, column)})"
        if kind.name == "text":
            return _text(x, kind, column)
        if kind.name == "lob_text":
            return f"MD5({_text(x, kind, column)})"
        if kind.name == "lob_binary":
            kept = f"LEFT({x}, {kind.cut_bytes})" if kind.cut_bytes else x
            # DMS writes binary as hex text; its letter case varies, both sides compare it in lower case
            return f"MD5(LOWER(HEX({kept})))"
        raise AssertionError(kind)

    def shown(self, sql: str) -> str:
        return sql.replace("%%", "%")  # SQL run with a parameter tuple has its '%' doubled for pymysql

    def char_length(self, text_sql: str) -> str:
        return f"CHAR_LENGTH({text_sql})"  # MySQL's LENGTH counts bytes

    def text_bytes(self, text_sql: str) -> str:
        # canonical texts are utf8mb4 (see _utf8mb4), so LENGTH counts the UTF-8 bytes the target's OCTET_LENGTH does
        return f"LENGTH({text_sql})"

    def octet_length(self, column_sql: str, kind: ValueKind, column: ColumnInfo) -> str:
        if kind.hex_held:
            return f"LENGTH({column_sql})"  # the bytes themselves
        # UTF-8 bytes, whatever the column's character set (what DMS writes to the target)
        return f"LENGTH({_text(column_sql, replace(kind, cut_bytes=0), column)})"

    def row_image(self, canonical_sqls: list[str], kinds: list[ValueKind]) -> str:
        # every canonical value is utf8mb4 text (see _utf8mb4), so MD5 hashes the same UTF-8 bytes as the
        # target and CONCAT never mixes collations; the pieces and why the image is injective: image_piece
        pieces = [image_piece(c, kind, length=self.text_bytes, concat=_concat)
                  for c, kind in zip(canonical_sqls, kinds)]
        return f"CONCAT_WS('|', {', '.join(pieces)})"

    def hash_int(self, md5_sql: str) -> str:
        return f"CAST(CONV(SUBSTRING({md5_sql}, 1, 15), 16, 10) AS UNSIGNED)"

    def literal(self, value: Any) -> str:
        # pymysql's own escaping (backslashes, quotes, dates, Decimal, bytes) for the utf8mb4 connection;
        # '%' doubled because row-level SQL always runs with a (possibly empty) parameter tuple
        return str(pymysql.converters.escape_item(value, "utf8mb4")).replace("%", "%%")

    def int_div(self, numerator_sql: str, denominator: int, column: ColumnInfo | None = None) -> str:
        return f"(({numerator_sql}) DIV {int(denominator)})"

    def stream(self, sql: str, params: Sequence[Any] | None = None, batch: int = 5000) -> Any:
        # an unbuffered cursor streams rows instead of loading the whole result; the lock and the read-only
        # transaction are released however the consumer stops (finally), so the engine stays usable
        with self._lock:
            self.connect()
            finished = False
            started = time.monotonic()
            try:
                cur = self._conn.cursor(pymysql.cursors.SSCursor)
                cur.execute("START TRANSACTION READ ONLY")
                cur.execute(sql, params)
                while True:
                    rows = cur.fetchmany(batch)
                    if not rows:
                        break
                    yield from rows
                cur.execute("ROLLBACK")
                cur.close()
                finished = True
            except self.driver_errors as e:
                raise self._failure(e, sql, time.monotonic() - started) from e
            finally:
                if not finished:
                    # stopped early or failed: an unread unbuffered result blocks the session, drop it instead
                    self.close()

def _text(x: str, kind: ValueKind, column: ColumnInfo) -> str:
    """The UTF-8 text of a value as the target holds it: its own text (or the text form of a non-string value),
    cut at ``kind.cut_bytes`` bytes at the last whole character (DMS's byte cut drops a character it splits).

    LEFT(x, n) counts characters, a false alarm for multibyte text longer than n bytes: the UTF-8 bytes are cut
    instead. At most n / 4 characters always fit (the cheap common case). Otherwise n + 1 characters cover byte
    n + 1; when that byte is a continuation byte (0x80-0xBF), the cut goes back to before the lead byte of its
    character (at n, n - 1 or n - 2). Past the end, ASCII('') = 0 keeps everything.
    """
    text = f"CAST({x} AS CHAR)" if kind.cast_text else _utf8mb4(x, column)
    n = kind.cut_bytes
    if not n:
        return text
    b = f"CAST(CONVERT(LEFT({text}, {n + 1}) USING utf8mb4) AS BINARY)"

    def lead(pos: int) -> str:
        return f"ASCII(SUBSTRING({b}, {pos}, 1)) NOT BETWEEN 128 AND 191"

    keep = (f"CASE WHEN {lead(n + 1)} THEN {n} WHEN {lead(n)} THEN {n - 1} WHEN {lead(n - 1)} THEN {max(n - 2, 0)} "
            f"ELSE {max(n - 3, 0)} END")
    return (f"CASE WHEN CHAR_LENGTH({text}) * 4 <= {n} THEN CONVERT({text} USING utf8mb4) "
            f"ELSE CONVERT(LEFT({b}, {keep}) USING utf8mb4) END")


def _utf8mb4(text_sql: str, column: ColumnInfo) -> str:
    """A column's own text in utf8mb4. Other canonical forms (CAST .. AS CHAR, DATE_FORMAT, MD5) are already in
    the connection's utf8mb4; a latin1 column would make MD5 hash latin1 bytes (a false alarm against the UTF-8
    target) and CONCAT fail with "Illegal mix of collations". Converting only where needed: CONVERT on every
    value costs about 13% of a full scan."""
    if column.charset in (None, "utf8mb4"):
        return text_sql
    return f"CONVERT({text_sql} USING utf8mb4)"


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _concat(*parts: str) -> str:
    return f"CONCAT({', '.join(parts)})"


def float_canonical(x: str, digits: int, *, log10: str, power: str, to_text: Any, concat: Any) -> str:
    """``digits`` significant digits as '<mantissa>e<exponent>' (same IEEE arithmetic on both engines;
    FLOOR(v + 0.5) rather than ROUND because engines round halves differently). NULL gives NULL: it passes
    neither test, and every step of the ELSE branch passes it through.

    The value is scaled by 10^s, s = digits - 1 - exponent, in one power where 10^s is a finite DOUBLE (|x| at
    least 1e-280, so s is at most digits + 279 <= 296, digits being at most 17). Below that -- subnormal
    DOUBLEs, about 1e-320 needs 10^325, which PostgreSQL reports as an error -- in two halves,
    10^FLOOR(s/2) * 10^CEIL(s/2). One power and one logarithm fewer for the common case: 1.04 s -> 0.85 s a
    2M-row DOUBLE column on MariaDB.
    """
    exponent = f"FLOOR({log10}(ABS({x})))"
    scale = f"({digits - 1} - {exponent})"
    one = f"FLOOR({x} * {power}(10, {scale}) + 0.5)"
    halves = f"FLOOR({x} * {power}(10, FLOOR({scale} / 2)) * {power}(10, CEIL({scale} / 2)) + 0.5)"
    e = chr(39) + "e" + chr(39)
    return (f"CASE WHEN {x} = 0 THEN '0' "
            f"WHEN ABS({x}) >= 1e-280 THEN {concat(to_text(one), e, to_text(exponent))} "
            f"ELSE {concat(to_text(halves), e, to_text(exponent))} END")


#: Kinds whose canonical text is free text on some engine (a column's own text; on the target also BIT digits,
#: held as text): it may hold the row image's separator '|', so their image piece says where it ends.
FREE_TEXT_KINDS = ("text", "char", "bit")
NULL_PIECE = "'~'"
QUOTE_MARK = "'\"'"  # starts an escaped piece
LENGTH_END = "':'"  # ends a length prefix


def image_piece(canonical_sql: str, kind: ValueKind, *, length: Callable[[str], str], concat: Any) -> str:
    """One column's piece of the row image: pieces are joined by '|', and the image is injective — equal images
    mean equal canonical values, column by column, NULL included — whatever the engine:

    * NULL is the piece '~' whatever the kind.
    * Fixed-grammar kinds (int, decimal, float '<m>e<e>' or '0', date, datetime, MD5 hex of the LOB kinds) are
      their canonical text as it is, evaluated once: it is never empty, never '~' and never holds a '|'.
    * Free-text kinds (FREE_TEXT_KINDS) without a cut: '<length in UTF-8 bytes>:<text>' (a column reference or
      an RTRIM of one, cheap to read twice; bytes are cheaper to count than characters). It starts with a
      digit, so it is never '~'.
    * Free-text kinds with a cut (the source's cut is a CASE expression, too costly to evaluate twice): '"'
      and the text with every '|' doubled, evaluated once. It starts with '"', so it is never '~'.

    Reading an image left to right with the (shared) list of kinds gives back every value: a fixed piece ends
    at the next '|' (or the end); '~' is NULL; a length-prefixed piece is its digits up to ':' and then exactly
    that many bytes; an escaped piece runs to the first single '|': inside it '|' come in pairs, and no
    piece starts with '|' (none is empty), so after an escaped piece's last '||' pair the next '|' is the
    separator. Both sides render a column with the same kind, so they use the same piece form.
    """
    if kind.name not in FREE_TEXT_KINDS:
        return f"COALESCE({canonical_sql}, {NULL_PIECE})"
    if kind.cut_bytes:
        escaped = f"REPLACE({canonical_sql}, '|', '||')"
        return f"COALESCE({concat(QUOTE_MARK, escaped)}, {NULL_PIECE})"
    return f"COALESCE({concat(length(canonical_sql), LENGTH_END, canonical_sql)}, {NULL_PIECE})"


def _temporal_text(x: str, column: ColumnInfo, precision: int, *, date_only: bool = False) -> str:
    """A (non-zero) date's text 'YYYY-MM-DD', or a date and time 'YYYY-MM-DD HH:MM:SS' with ``precision``
    fractional digits. CAST .. AS CHAR gives exactly that for a DATE, and for a DATETIME / TIMESTAMP with as
    many fractional digits as compared (more are cut), at a fraction of DATE_FORMAT's cost (a format string
    read per value); DATE_FORMAT stays for anything else."""
    if date_only:
        return f"CAST({x} AS CHAR)" if column.data_type == "date" else f"DATE_FORMAT({x}, '%%Y-%%m-%%d')"
    width = 19 + (precision + 1 if precision else 0)
    held = column.datetime_precision or 0
    if column.data_type in ("datetime", "timestamp") and held >= precision:
        return f"CAST({x} AS CHAR)" if held == precision else f"LEFT(CAST({x} AS CHAR), {width})"
    return f"LEFT(DATE_FORMAT({x}, '%%Y-%%m-%%d %%H:%%i:%%s.%%f'), {width})"
