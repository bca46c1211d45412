"""custom_sql: user-written query pairs, ``<sql_dir>/<name>/source.sql`` and ``target.sql``.

Each file holds one read-only query (SELECT / WITH / set operation, checked with sqlglot in the side's dialect).
A query that could act on a database is refused before it runs: calls of the functions in
:data:`DENIED_FUNCTIONS`, ``SELECT ... INTO``, locking reads and statements nested in the query (see
:func:`refuse_actions`); the read-only session stops writes to tables, not these.
The two results are compared as multisets of rows (order ignored, duplicates counted, column names ignored);
numbers compare within ``numeric_tolerance``. A pair may start with a header line
``-- dmsval: requires schema.table[, schema.table...]``: the case is skipped when the task does not migrate
those source tables, so one ``sql/`` folder can serve several tasks.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import sqlglot
import sqlglot.errors
from sqlglot import exp

from ..config import Settings
from ..errors import ConfigError
from ..mappings import TablePair
from .base import Case, Check, TableStats, CheckContext, Outcome, SkipCase, on_both_sides

SAMPLE_ROWS = 50  # rows of each side's difference kept in the report
TOLERANCE_MATCH_LIMIT = 5000  # unmatched rows beyond this are not paired within tolerance (quadratic)
_REQUIRES = re.compile(r"^\s*--\s*dmsval:\s*requires\s+(.+)$", re.IGNORECASE | re.MULTILINE)
_READ_ONLY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)

# Functions a custom query must not call: case-insensitive glob patterns over the function's own name (a schema
# qualifier does not matter: pg_catalog.pg_sleep is pg_sleep). A read-only transaction stops writes to tables,
# not these: they act on other sessions, take locks that outlive the transaction, wait, touch the server's files
# or run SQL given as text. One list serves both sides: a name that is not built into one database can only be
# a user function there, and refusing a user function with a dangerous name costs nothing. Functions that
# merely read (IS_FREE_LOCK, NAME_CONST, txid_current_if_assigned, xpath) are allowed.
DENIED_FUNCTIONS: tuple[str, ...] = (
    # PostgreSQL / Redshift: signal or kill other sessions
    "pg_terminate_backend", "pg_cancel_backend",
    # PostgreSQL: advisory locks (session locks stay held after the read-only transaction ends)
    "pg_advisory*", "pg_try_advisory*",
    # PostgreSQL: server administration -- configuration, log files, WAL, backups, recovery, replication slots
    # and origins, statistics resets
    "pg_reload_conf", "pg_rotate_logfile", "pg_switch_wal", "pg_switch_xlog", "pg_create_*",
    "pg_drop_replication_slot", "pg_replication_slot_advance", "pg_replication_origin_*", "pg_logical_*",
    "pg_promote", "pg_wal_replay_*", "pg_backup_*", "pg_start_backup", "pg_stop_backup", "pg_stat_reset*",
    "pg_log_backend_memory_contexts",
    # PostgreSQL / Redshift: waits (hold the session and its snapshot)
    "pg_sleep*",
    # PostgreSQL: the server's files (adminpack's pg_file_* writes them)
    "pg_read_file", "pg_read_binary_file", "pg_ls_*", "pg_stat_file", "pg_file_*",
    # PostgreSQL: large objects (create, write, delete, and import/export server files)
    "lo_*", "loread", "lowrite",
    # PostgreSQL: other databases through dblink, session settings, transaction ids (txid_current assigns one),
    # notifications to listeners
    "dblink*", "set_config", "txid_current", "pg_current_xact_id", "pg_notify",
    # PostgreSQL: run the SQL text passed as an argument, which this check never sees parsed
    "query_to_xml*",
    # PostgreSQL / MariaDB sequences: advance or set a sequence
    "nextval", "setval", "next_value_for",
    # MySQL / MariaDB: named locks (held until released or the session ends)
    "get_lock", "release_lock", "release_all_locks",
    # MySQL / MariaDB: waits and CPU burners
    "sleep", "benchmark", "master_pos_wait", "source_pos_wait", "master_gtid_wait", "wait_for_executed_gtid_set",
    "wait_until_sql_thread_after_gtids",
    # MySQL / MariaDB: the server's files
    "load_file",
    # MySQL / MariaDB: lib_mysqludf_sys, which runs shell commands and sets environment on the server
    "sys_exec", "sys_eval", "sys_get", "sys_set", "lib_mysqludf_*",
)
# Statements that can only act, refused wherever sqlglot finds them nested in the query (a data-modifying CTE
# such as WITH x AS (DELETE ... RETURNING *) SELECT ... has a SELECT at its root)
_ACTING_NODES = (exp.DML, exp.DDL, exp.Command, exp.Copy, exp.Set, exp.Use, exp.Grant, exp.Kill, exp.Transaction,
                 exp.Commit, exp.Rollback, exp.LoadData, exp.Execute, exp.Pragma)
_ONLY_READ = "custom queries may only read (see sql/README.md)"


def _function_names(node: exp.Func) -> list[str]:
    """The names a function call is known by: as written for a function sqlglot does not know (Anonymous),
    else every SQL name of its sqlglot class (a typed node's ``.name`` is its first argument, not its name)."""
    if isinstance(node, exp.Anonymous):
        return [node.name]
    try:
        return list(type(node).sql_names())
    except NotImplementedError:  # abstract sqlglot classes have no SQL name
        return []


def denied_function(name: str) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in DENIED_FUNCTIONS)


def refuse_actions(statement: exp.Expression, path: Path) -> None:
    """Raise ConfigError when the parsed query could act on the database; the walk covers every nested part
    (subqueries, CTEs, CASE, ORDER BY, set operations)."""
    for node in statement.walk():
        if isinstance(node, exp.Func):
            for name in _function_names(node):
                if denied_function(name):
                    raise ConfigError(f"custom SQL file {path} calls {name}(), which can act on the database; "
                                      f"{_ONLY_READ}")
        elif isinstance(node, exp.Into):
            raise ConfigError(f"custom SQL file {path} uses SELECT ... INTO, which writes; {_ONLY_READ}")
        elif isinstance(node, exp.Lock):
            raise ConfigError(f"custom SQL file {path} uses a locking read (FOR UPDATE / FOR SHARE / LOCK IN SHARE "
                              f"MODE), which locks rows; {_ONLY_READ}")
        elif node is not statement and isinstance(node, _ACTING_NODES):
            raise ConfigError(f"custom SQL file {path} holds a {node.key.upper()} statement inside the query, which "
                              f"can act on the database; {_ONLY_READ}")


def read_query(path: Path, dialect: str) -> str:
    """Read one query file and make sure it is a single read-only statement."""
    if not path.is_file():
        raise ConfigError(f"custom SQL pair {path.parent.name}: {path} is missing (each pair needs "
                          f"source.sql and target.sql)")
    text = path.read_text(encoding="utf-8").strip().rstrip(";").strip()
    if not text:
        raise ConfigError(f"custom SQL file {path} is empty")
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except sqlglot.errors.ParseError as e:
        raise ConfigError(f"custom SQL file {path} does not parse as {dialect} SQL: {str(e).splitlines()[0]}") from e
    if len(statements) != 1:
        raise ConfigError(f"custom SQL file {path} must hold exactly one statement, found {len(statements)}")
    if not isinstance(statements[0], _READ_ONLY_ROOTS):
        raise ConfigError(f"custom SQL file {path} must be a SELECT query (found {statements[0].key.upper()})")
    refuse_actions(statements[0], path)
    return text


def required_tables(*texts: str) -> set[str]:
    found: set[str] = set()
    for text in texts:
        for match in _REQUIRES.finditer(text):
            found.update(t.strip().lower() for t in match.group(1).split(",") if t.strip())
    return found


def comparable(value: Any) -> Any:
    """Normalize a driver value so equal data from MySQL and Redshift compare equal."""
    if isinstance(value, bool):
        return Decimal(int(value))  # MySQL answers 1/0 where Redshift answers true/false
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value.normalize() if value.is_finite() else value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, (memoryview, bytearray)):
        return bytes(value)
    return value


def _within(a: tuple[Any, ...], b: tuple[Any, ...], tolerance: float) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, Decimal) and isinstance(y, Decimal) and x.is_finite() and y.is_finite():
            if abs(x - y) > Decimal(repr(tolerance)):
                return False
        elif x != y:
            return False
    return True


def compare_rows(source_rows: Iterable[tuple[Any, ...]], target_rows: Iterable[tuple[Any, ...]],
                 tolerance: float) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows only in source and only in target (multiset difference, numbers within ``tolerance``).

    Rows are matched on their normalized form (:func:`comparable`) and returned as the driver gave them.
    """
    originals: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def counted(rows: Iterable[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
        counter: Counter[tuple[Any, ...]] = Counter()
        for row in rows:
            key = tuple(comparable(v) for v in row)
            originals.setdefault(key, tuple(row))
            counter[key] += 1
        return counter

    source, target = counted(source_rows), counted(target_rows)
    only_source = list((source - target).elements())
    only_target = list((target - source).elements())
    if tolerance > 0 and only_source and only_target and len(only_source) <= TOLERANCE_MATCH_LIMIT:
        remaining = list(only_target)
        unmatched_source = []
        for row in only_source:
            index = next((i for i, other in enumerate(remaining) if _within(row, other, tolerance)), None)
            if index is None:
                unmatched_source.append(row)
            else:
                remaining.pop(index)
        only_source, only_target = unmatched_source, remaining
    return [originals[k] for k in only_source], [originals[k] for k in only_target]


def _jsonable(row: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for v in row:
        if v is None or isinstance(v, (str, int, float, bool)):
            out.append(v)
        elif isinstance(v, bytes):
            out.append("0x" + v.hex())
        else:
            out.append(str(v))
    return out


class CustomSql(Check):
    name = "custom_sql"
    description = "user query pairs from sql/<name>/source.sql and target.sql, results compared as row sets"

    def plan(self, settings: Settings, pairs: tuple[TablePair, ...], stats: dict[str, TableStats]) -> list[Case]:
        root = settings.sql_path
        if not root.is_dir():
            return []
        cases = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            if (folder / "source.sql").exists() or (folder / "target.sql").exists():
                cases.append(Case(self.name, folder.name, None, (("folder", str(folder)),)))
        return cases

    def run(self, case: Case, ctx: CheckContext) -> Outcome:
        folder = Path(case.param("folder"))
        source_sql = read_query(folder / "source.sql", ctx.source.sqlglot_dialect)
        target_sql = read_query(folder / "target.sql", ctx.target.sqlglot_dialect)
        sql = {"source": source_sql, "target": target_sql}
        migrated = {p.source_name.lower() for p in ctx.pairs}
        missing = sorted(required_tables(source_sql, target_sql) - migrated)
        if missing:
            raise SkipCase(f"{case.subject} requires {', '.join(missing)}, which this task does not migrate")
        source_result, target_result = on_both_sides(lambda: ctx.source.query(source_sql),
                                                     lambda: ctx.target.query(target_sql))
        if len(source_result.columns) != len(target_result.columns):
            return Outcome(False, f"source returns {len(source_result.columns)} columns, target "
                                  f"{len(target_result.columns)}", {}, sql,
                           {"source_columns": list(source_result.columns),
                            "target_columns": list(target_result.columns)})
        only_source, only_target = compare_rows(source_result.rows, target_result.rows,
                                                ctx.settings.numeric_tolerance)
        figures = {"source_rows": len(source_result.rows), "target_rows": len(target_result.rows),
                   "only_in_source": len(only_source), "only_in_target": len(only_target),
                   "numeric_tolerance": ctx.settings.numeric_tolerance}
        details = {"columns": list(source_result.columns),
                   "only_in_source": [_jsonable(r) for r in only_source[:SAMPLE_ROWS]],
                   "only_in_target": [_jsonable(r) for r in only_target[:SAMPLE_ROWS]]}
        if not only_source and not only_target:
            return Outcome(True, f"{len(source_result.rows)} rows match", figures, sql)
        return Outcome(False, f"results differ: {len(only_source)} rows only in source, {len(only_target)} only "
                              f"in target", figures, sql, details)
