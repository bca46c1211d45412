"""The engine contract: one class per database owns its driver, session setup and every SQL fragment that
differs between databases. Nothing outside ``dmsval.engines`` asks which database it talks to.
"""

from __future__ import annotations

import abc
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Sequence

from ..aws.secrets import Credentials
from ..errors import EngineError
from .catalog import ColumnInfo, TableInfo, ValueKind


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class Engine(abc.ABC):
    """A read-only session on one database.

    Contract for implementations:
    * ``connect`` opens a session in which writes fail (read-only transaction/session), with UTF-8 (4-byte)
      client encoding and UTC session time zone, and raises :class:`EngineError` (message without password)
      when the database cannot be reached;
    * ``query`` runs one statement and returns every row as a tuple of Python values (int, Decimal, float,
      str, bytes, date/datetime, bool, None) with column names as the database reports them;
    * ``list_tables`` returns the base tables (not views) of the database as (schema, table) as stored;
    * ``table_exists`` answers for a table name already passed through ``fold_identifier``.
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
        self._catalog: list[tuple[str, str]] | None = None
        self._table_info: dict[tuple[str, str], TableInfo] = {}
        self._lock = threading.Lock()  # one DB-API connection is not safe for concurrent use

    # -- connection ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def _open(self) -> Any:
        """Open the driver connection and make the session read-only, UTF-8 (utf8mb4), UTC."""

    @abc.abstractmethod
    def _run(self, conn: Any, sql: str, params: Sequence[Any] | None) -> QueryResult:
        """Run one read-only statement on ``conn``."""

    #: driver exception classes translated into EngineError
    driver_errors: ClassVar[tuple[type[BaseException], ...]] = ()

    def describe(self) -> str:
        c = self.credentials
        return f"{self.role} {self.name} {c.user}@{c.host}:{c.port}/{c.database or ''}"

    def connect(self) -> None:
        if self._conn is None:
            try:
                self._conn = self._open()
            except self.driver_errors as e:
                raise EngineError(f"cannot connect to {self.describe()}: {_first_line(e)}") from e

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except self.driver_errors:
                pass  # closing a broken connection: nothing left to release

    def query(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult:
        with self._lock:
            self.connect()
            try:
                return self._run(self._conn, sql, params)
            except self.driver_errors as e:
                self.close()  # the session may be unusable; the next query reconnects
                raise EngineError(f"query failed on {self.describe()}: {_first_line(e)}\nSQL: {sql.strip()}") from e

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
        return list(self._catalog)

    def table_exists(self, schema: str, table: str) -> bool:
        return (self.fold_identifier(schema), self.fold_identifier(table)) in set(self.list_tables())

    def table_info(self, schema: str, table: str) -> TableInfo:
        """Columns (in ordinal order), keys and a row estimate; read once per table and session."""
        key = (self.fold_identifier(schema), self.fold_identifier(table))
        if key not in self._table_info:
            self._table_info[key] = self._read_table_info(*key)
        return self._table_info[key]

    @abc.abstractmethod
    def _read_table_info(self, schema: str, table: str) -> TableInfo:
        """Catalog facts for one table (names as stored)."""

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
    def row_image(self, canonical_sqls: list[str]) -> str:
        """SQL expression: an unambiguous, never-NULL text of several canonical values (length-prefixed)."""

    def shown(self, sql: str) -> str:
        """SQL as a person would paste it into this database's client (for reports)."""
        return sql

    def char_length(self, text_sql: str) -> str:
        """SQL expression: length of a text in characters (not bytes)."""
        return f"LENGTH({text_sql})"

    def md5(self, text_sql: str) -> str:
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
    def int_div(self, numerator_sql: str, denominator: int) -> str:
        """SQL expression: floor division of a non-negative integer expression by a positive integer."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:500]
