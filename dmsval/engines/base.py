"""The engine contract: one class per database owns its driver, session setup and every SQL fragment that
differs between databases. Nothing outside ``dmsval.engines`` asks which database it talks to.
"""

from __future__ import annotations

import abc
import enum
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Sequence

from ..credentials import Credentials
from ..errors import ConnectionLost, EngineError, QueryTimeout
from .catalog import ColumnInfo, TableInfo, ValueKind


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class Failure(enum.Enum):
    """What a driver error of a running statement means (each engine reads it from its driver's codes)."""

    SQL = "sql"  # the statement failed (syntax, types, permissions): an ordinary EngineError
    TIMED_OUT = "timed out"  # the server's own limit (or our cancel) stopped the statement: it no longer runs
    GAVE_UP = "gave up"  # the client stopped waiting (socket timeout): the statement may still run on the server
    INTERRUPTED = "interrupted"  # someone else stopped the statement (KILL QUERY, pg_cancel_backend)
    LOST = "lost"  # the server closed the connection (killed session, restart, network)


class Engine(abc.ABC):
    """A read-only session on one database.

    Contract for implementations:
    * ``connect`` opens a session in which writes fail (read-only transaction/session), with UTF-8 (4-byte)
      client encoding and UTC session time zone, and raises :class:`EngineError` (message without password)
      when the database cannot be reached;
    * ``query`` runs one statement and returns every row as a tuple of Python values (int, Decimal, float,
      str, bytes, date/datetime, bool, None) with column names as the database reports them;
    * ``list_tables`` returns the base tables (not views) of the database as (schema, table) as stored;
    * ``table_exists`` answers for a table name already passed through ``fold_identifier``;
    * every statement is limited to ``query_timeout_s`` on the server (so it stops there, not only in the
      client); the client stops waiting at ``client_deadline_s()`` (a socket read timeout, or a timer where
      the driver has none) and then stops the statement on the server itself (``_cancel_backend`` from a
      second short-lived connection, or the protocol's cancel): a timeout never leaves work running on the
      server. Timeouts raise :class:`QueryTimeout`, a connection the server closed
      :class:`ConnectionLost`, both with the ``\nSQL: ...`` suffix of every query error.
    """

    #: short name shown in reports ("mysql", "redshift", "postgres")
    name: ClassVar[str]
    #: DMS EngineName values this class serves
    dms_engine_names: ClassVar[tuple[str, ...]]
    #: sqlglot dialect used to parse this engine's SQL
    sqlglot_dialect: ClassVar[str]

    def __init__(self, credentials: Credentials, *, query_timeout_s: float = 1800.0, role: str = "") -> None:
        self.credentials = credentials
        self.query_timeout_s = query_timeout_s
        self.role = role or self.name
        self._conn: Any = None
        self._backend_id: int | None = None  # the server's id of the session, read at connect time
        self._catalog: list[tuple[str, str]] | None = None
        self._catalog_set: frozenset[tuple[str, str]] = frozenset()
        # catalog facts by (schema, table), filled one whole schema at a time (see table_info)
        self._table_info: dict[tuple[str, str], TableInfo] = {}
        self._schemas_read: set[str] = set()
        self._lock = threading.Lock()  # one DB-API connection is not safe for concurrent use
        self._siblings: list[Engine] = []  # connections of parallel scans, see siblings()

    # -- connection ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def _open(self) -> Any:
        """Open the driver connection and make the session read-only, UTF-8 (utf8mb4), UTC."""

    @abc.abstractmethod
    def _session_id(self, conn: Any) -> int:
        """The server's id of the session on ``conn`` (MySQL CONNECTION_ID(), PostgreSQL pg_backend_pid())."""

    @abc.abstractmethod
    def _run(self, conn: Any, sql: str, params: Sequence[Any] | None) -> QueryResult:
        """Run one read-only statement on ``conn``."""

    @abc.abstractmethod
    def _classify(self, error: BaseException) -> Failure:
        """What a driver error raised by a statement on the current session means."""

    @abc.abstractmethod
    def _cancel_backend(self, backend_id: int) -> None:
        """Stop the statement running in session ``backend_id``, from a second short-lived connection with the
        same credentials (every user may stop its own sessions); raise a driver error or EngineError when the
        statement could not be stopped."""

    #: driver exception classes translated into EngineError
    driver_errors: ClassVar[tuple[type[BaseException], ...]] = ()

    #: bound for the work of stopping a statement from outside (connect, cancel, confirm)
    cancel_timeout_s: ClassVar[float] = 10.0

    def client_deadline_s(self) -> float:
        """Seconds the client waits for one statement before it gives up and stops it on the server itself.

        A little past the server's own limit: the server's timeout error should arrive first (it says why and
        leaves nothing running); the client deadline is the backstop for waits the server limit does not cover
        and for a server or network that stopped answering.
        """
        grace = min(max(1.0, self.query_timeout_s * 0.05), 60.0)
        return self.query_timeout_s + grace

    @property
    def backend_id(self) -> int | None:
        """The server's id of the open session (MySQL CONNECTION_ID(), PostgreSQL pg_backend_pid()), else None."""
        return self._backend_id

    def address(self) -> str:
        """The database as "<engine> <user>@<host>:<port>/<database>" (never a password)."""
        c = self.credentials
        return f"{self.name} {c.user}@{c.host}:{c.port}/{c.database or ''}"

    def describe(self) -> str:
        return f"{self.role} {self.address()}"

    def connect(self) -> None:
        if self._conn is None:
            try:
                conn = self._open()
            except self.driver_errors as e:
                # the driver's frames are dropped from the cause: a traceback shows each frame's arguments, and
                # the driver's connect() takes the password as one (pytest prints them in long tracebacks)
                raise EngineError(f"cannot connect to {self.describe()}: {_first_line(e)}") from _without_frames(e)
            try:
                self._backend_id = int(self._session_id(conn))
            except self.driver_errors as e:
                _close_quietly(conn, self.driver_errors)
                raise EngineError(f"cannot read the session id on {self.describe()}: {_first_line(e)}") \
                    from _without_frames(e)
            self._conn = conn

    def sibling(self) -> "Engine":
        """A new engine of this class on the same database with the same credentials, query timeout and role,
        not connected until it is used: a connection runs one statement at a time, so a scan split into
        concurrent ranges needs one engine per range in flight."""
        return type(self)(self.credentials, query_timeout_s=self.query_timeout_s, role=self.role)

    def siblings(self, count: int) -> list["Engine"]:
        """``count`` siblings, opened once per engine and reused by later calls (every case of a worker), so a
        run does not log in again per table; ``close`` closes them and ``cancel_running`` stops their statements.
        Called from the thread that runs the case (not concurrently)."""
        while len(self._siblings) < count:
            self._siblings.append(self.sibling())
        return self._siblings[:count]

    def close(self) -> None:
        # siblings run only while this engine waits for them (a parallel scan), never beside its own statement
        for sibling in self._siblings:
            sibling.close()
        self._backend_id = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            _close_quietly(conn, self.driver_errors)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult:
        with self._lock:
            self.connect()
            started = time.monotonic()
            try:
                return self._run(self._conn, sql, params)
            except self.driver_errors as e:
                raise self._failure(e, sql, time.monotonic() - started) from e

    def _failure(self, error: BaseException, sql: str, elapsed_s: float) -> EngineError:
        """The EngineError to raise for a driver error of a statement. Closes the session (it may be unusable;
        the next query reconnects), after stopping on the server a statement the client gave up on."""
        kind = self._classify(error)
        if kind is Failure.INTERRUPTED and elapsed_s >= self.query_timeout_s:
            # Redshift reports its statement_timeout as a cancel "on user's request", like a cancel from outside
            kind = Failure.TIMED_OUT
        outcome = "the query was stopped on the server"
        if kind is Failure.GAVE_UP:
            outcome = self._stop_on_server()  # before close: the id belongs to this session
        self.close()
        suffix = f"\nSQL: {sql.strip()}"
        if kind in (Failure.TIMED_OUT, Failure.GAVE_UP):
            return QueryTimeout(f"timed out after {_seconds(self.query_timeout_s)} s on the {self.role} "
                                f"({self.address()}); {outcome}{suffix}")
        if kind is Failure.LOST:
            # the driver's own text misleads here: pymysql says "(0, '')", redshift_connector blames its timeout
            return ConnectionLost(f"the {self.role} connection was closed by the server (killed?) while a query ran "
                                  f"on {self.address()}{suffix}")
        if kind is Failure.INTERRUPTED:
            return ConnectionLost(f"the {self.role} query was interrupted by the server (killed?) while it ran on "
                                  f"{self.address()}{suffix}")
        return EngineError(f"query failed on {self.describe()}: {_first_line(error)}{suffix}")

    def cancel_running(self) -> None:
        """Stop, from outside, a statement another thread is running on this engine (an interrupted run must not
        leave its queries running on the server, nor wait for them to end). Best effort: nothing to report to.
        The statements of its siblings (parallel scans) are stopped too."""
        for sibling in self._siblings:
            sibling.cancel_running()
        backend_id = self._backend_id
        if backend_id is None or not self._lock.locked():
            return
        try:
            self._cancel_backend(backend_id)
        except (*self.driver_errors, EngineError):
            pass  # the session may already be gone; closing the connection ends it anyway

    def _stop_on_server(self) -> str:
        """Stop the current session's statement from outside; says how that went, for the timeout message."""
        backend_id = self._backend_id
        if backend_id is None:
            return "the query could not be stopped on the server (its session id is unknown)"
        try:
            self._cancel_backend(backend_id)
        except (*self.driver_errors, EngineError) as e:
            return (f"stopping the query on the server failed ({_first_line(e)}); it may still run in session "
                    f"{backend_id}")
        return "the query was stopped on the server"

    # -- SQL fragments ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def quote(self, identifier: str) -> str:
        """Quote one identifier for this engine."""

    def fold_identifier(self, identifier: str) -> str:
        """The name this engine stores for an identifier DMS created (Redshift folds to lowercase)."""
        return identifier

    def table_ref(self, schema: str, table: str) -> str:
        return f"{self.quote(self.fold_identifier(schema))}.{self.quote(self.fold_identifier(table))}"

    @abc.abstractmethod
    def _list_tables_sql(self) -> str:
        """SQL returning (schema, table) of every base table, system schemas excluded."""

    def list_tables(self) -> list[tuple[str, str]]:
        """Base tables as (schema, table), read once per session: the catalog does not change during a run."""
        if self._catalog is None:
            rows = self.query(self._list_tables_sql()).rows
            self._catalog = sorted((str(s), str(t)) for s, t in rows)
            self._catalog_set = frozenset(self._catalog)
        return list(self._catalog)

    def table_exists(self, schema: str, table: str) -> bool:
        self.list_tables()
        return (self.fold_identifier(schema), self.fold_identifier(table)) in self._catalog_set

    def table_info(self, schema: str, table: str) -> TableInfo:
        """Columns (in ordinal order), keys and a row estimate; a table the catalog does not hold has no columns.

        The whole schema is read at the first table asked for, once per engine (one engine per side and worker
        process): a task of 1,000 tables costs a few catalog queries per side, not a few per table and check
        (PostgreSQL's information_schema.columns takes most of a second per call on a large catalog).
        """
        schema, table = self.fold_identifier(schema), self.fold_identifier(table)
        if schema not in self._schemas_read:
            for info in self._read_schema_info(schema):
                self._table_info[(info.schema, info.table)] = info
            self._schemas_read.add(schema)
        return self._table_info.get((schema, table)) or TableInfo(schema, table, ())

    @abc.abstractmethod
    def _read_schema_info(self, schema: str) -> list[TableInfo]:
        """Catalog facts of every table of one schema (names as stored), in a few queries for the whole schema."""

    def stream(self, sql: str, params: Sequence[Any] | None = None, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Rows of a query, fetched in batches so memory stays bounded (row-level fetches)."""
        result = self.query(sql, params)  # engines with server-side cursors override this
        yield from result.rows

    # -- canonical values (row-level comparison) ----------------------------------------------------------
    # Contract: for equal data DMS migrated, ``canonical`` renders identical text on both engines, and NULL
    # exactly when the value is NULL (or a MySQL zero date, which DMS writes as NULL).

    @abc.abstractmethod
    def canonical(self, column_sql: str, kind: ValueKind, column: ColumnInfo) -> str:
        """SQL expression: the canonical text of one column (see ValueKind); LOB kinds give an MD5 hex."""

    @abc.abstractmethod
    def row_image(self, canonical_sqls: list[str], kinds: list[ValueKind]) -> str:
        """SQL expression: a never-NULL text of several canonical values (``kinds``: theirs, in order) that is
        injective — equal images mean equal values, NULL included — and identical on both engines for equal
        values, each canonical expression evaluated once where it is costly (see ``mysql.image_piece``)."""

    def shown(self, sql: str) -> str:
        """SQL as a person would paste it into this database's client (for reports)."""
        return sql

    def octet_length(self, column_sql: str, kind: ValueKind, column: ColumnInfo) -> str:
        """SQL expression: the bytes of a value as DMS measures it for a cut: UTF-8 bytes of a text, bytes of
        binary data (on a target holding hex text: the hex digits)."""
        return f"OCTET_LENGTH({column_sql})"

    def char_length(self, text_sql: str) -> str:
        """SQL expression: length of a text in characters (not bytes)."""
        return f"LENGTH({text_sql})"

    def text_bytes(self, text_sql: str) -> str:
        """SQL expression: the UTF-8 bytes of a (canonical, UTF-8) text -- the row image's length prefix, cheaper
        than counting characters (PostgreSQL: 0.19 s vs 0.05 s a 2M-row column)."""
        return f"OCTET_LENGTH({text_sql})"

    def md5(self, text_sql: str) -> str:
        """SQL expression: the MD5 hex of a text (the row image's hash).

        MD5 stays (bench/hash_cost.py): it is the one hash all three engines compute alike (plain PostgreSQL has
        no CRC32), and it reads the image once for 128 bits, where 60 bits of CRC32 need two CRC32s of the image
        (CRC is affine: a CRC of the same image behind a constant adds no bits), so MySQL evaluates the image
        twice: about 1.5x the MD5 scan. MD5 and its conversion to an integer cost about a quarter of the scan."""
        return f"MD5({text_sql})"

    @abc.abstractmethod
    def hash_int(self, md5_sql: str) -> str:
        """SQL expression: the first 15 hex digits of an MD5 as a non-negative integer (60 bits)."""

    def sum_ints(self, int_sql: str) -> str:
        """SQL aggregate: exact sum of ``hash_int`` values (no overflow for any table size)."""
        return f"SUM({int_sql})"

    @abc.abstractmethod
    def literal(self, value: Any) -> str:
        """A value as an SQL literal of this engine; SQL holding literals runs with a parameter tuple ``()``."""

    @abc.abstractmethod
    def int_div(self, numerator_sql: str, denominator: int, column: ColumnInfo | None = None) -> str:
        """SQL expression: floor division of a non-negative integer expression by a positive integer;
        ``column`` is the catalog entry of the integer the expression is computed from, when there is one (its
        type may allow a cheaper form)."""


def _close_quietly(conn: Any, errors: tuple[type[BaseException], ...]) -> None:
    try:
        conn.close()
    except errors:
        pass  # closing a broken connection: nothing left to release


def _seconds(value: float) -> str:
    return f"{value:g}"  # 2 -> "2", 2.5 -> "2.5"


def timed_out(error: BaseException) -> bool:
    """Whether a driver error comes from a socket timeout (the client stopped waiting), however the driver
    wrapped it: raised from it (pymysql), or carried as an argument (redshift_connector)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        e = pending.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, TimeoutError):  # socket.timeout is TimeoutError
            return True
        pending += [e.__cause__, e.__context__, *(a for a in e.args if isinstance(a, BaseException))]
    return False


def _without_frames(error: BaseException) -> BaseException:
    """``error`` and every exception chained to it, stripped of their tracebacks (kept: types and messages)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending += [current.__cause__, current.__context__]
    return error


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:500]
