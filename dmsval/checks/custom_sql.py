"""custom_sql: user-written query pairs, ``<sql_dir>/<name>/source.sql`` and ``target.sql``.

Each file holds one read-only query (SELECT / WITH / set operation, checked with sqlglot in the side's dialect).
A query that could act on a database is refused before it runs: calls of the functions in
:data:`DENIED_FUNCTIONS`, ``SELECT ... INTO``, locking reads and statements nested in the query (see
:func:`refuse_actions`); the read-only session stops writes to tables, not these.
The two results are compared as multisets of rows (order ignored, duplicates counted, column names ignored);
numbers compare within ``numeric_tolerance``. Memory stays flat in the number of rows: both results stream
from the databases (server-side cursors) into scratch files in the temporary directory (about the size of the
two results, pickled; deleted as they are compared), spread over partitions by the hash of each normalized row,
and the partitions are compared one pair at a time (see :func:`compare_spills`). A pair may start with a header
line ``-- dmsval: requires schema.table[, schema.table...]``: the case is skipped when the task does not migrate
those source tables, so one ``sql/`` folder can serve several tasks.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import heapq
import math
import pickle
import re
import sys
import tempfile
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import sqlglot
import sqlglot.errors
from sqlglot import exp

from ..config import Settings
from ..engines import Engine
from ..errors import ConfigError, EngineError
from ..mappings import TablePair
from .base import Case, Check, TableStats, CheckContext, Outcome, SkipCase, on_both_sides
from .recheck import settle

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


# types whose values need no normalizing (exact types: a datetime is a date, and may carry a time zone)
_AS_IS = frozenset({str, type(None), dt.date, bytes})


def _decimal_of_float(value: float) -> Decimal:
    return Decimal(repr(value))


def _normal_decimal(value: Decimal) -> Decimal:
    return value.normalize() if value.is_finite() else value


def _utc_naive(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is None else value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _decimal_of_bool(value: bool) -> Decimal:
    return Decimal(int(value))  # MySQL answers 1/0 where Redshift answers true/false


# the conversion of each exact driver type (one dictionary lookup per value: this runs for every value of every
# row); other types (subclasses, unknown ones) go through comparable's isinstance tests
_CONVERT: dict[type, Callable[[Any], Any]] = {
    int: Decimal, float: _decimal_of_float, Decimal: _normal_decimal, dt.datetime: _utc_naive,
    bool: _decimal_of_bool, memoryview: bytes, bytearray: bytes,
    **{t: (lambda v: v) for t in _AS_IS},
}


def comparable(value: Any) -> Any:
    """Normalize a driver value so equal data from MySQL and Redshift compare equal."""
    convert = _CONVERT.get(type(value))
    if convert is not None:
        return convert(value)
    if isinstance(value, bool):
        return _decimal_of_bool(value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return _decimal_of_float(value)
    if isinstance(value, Decimal):
        return _normal_decimal(value)
    if isinstance(value, dt.datetime):
        return _utc_naive(value)
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


_Row = tuple[Any, ...]
# A row as spilled: (arrival number on its side, the driver's row). Only the driver's row is written (its
# normalized form is computed again when read: cheaper than pickling both); the arrival number keeps the order
# of the reported rows (first appearance, as the result gave them), whatever partition a row went through.
_Spilled = tuple[int, _Row]
# A row left over after a partition's comparison: (arrival number, normalized form, driver's row, copies)
_Entry = tuple[int, _Row, _Row, int]

SPILL_PARTITIONS = 128  # files per side a result is spread over on disk
SPILL_CHUNK_ROWS = 100  # rows pickled together (fewer pickle calls; the buffered rows are what the spill holds)
#: a partition pair larger than this on disk is spread over SPILL_PARTITIONS files again before it is loaded,
#: so the rows held in memory stay bounded whatever the size of the results
PARTITION_LOAD_BYTES = 8 * 1024 * 1024
MAX_SPLIT_DEPTH = 4  # levels of SPILL_PARTITIONS-way splits (7 bits each of the 64-bit row hash)
STREAM_BATCH_ROWS = 5000  # rows per fetch from the database


def _normalized(row: _Row) -> _Row:
    return tuple(map(comparable, row))


# Python hashes numbers that compare equal alike, whatever their type (int, bool, Decimal in any exponent): such
# values spread rows over partitions as their normalized forms would, unconverted. Floats (hashed as binary
# fractions, unlike the Decimal of their shortest text), datetimes (time zones) and binary views are converted.
_HASHED_AS_NORMALIZED = frozenset({int, bool, Decimal, str, type(None), dt.date, bytes})


def _partition_key(row: _Row) -> _Row:
    """What a row is spread over partitions by: hashes as its normalized form does (rows that compare equal
    land in the same partition on both sides), at a fraction of the cost of normalizing it."""
    return tuple([v if type(v) in _HASHED_AS_NORMALIZED else comparable(v) for v in row])


def _dump(chunk: list[_Spilled], file: Any) -> None:
    try:
        data = pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)
    except TypeError:
        # a memoryview (a driver's binary) cannot be pickled, its bytes can (and are what it reports); rare, so
        # converted only when pickling fails rather than checked on every row
        data = pickle.dumps([(seq, tuple(bytes(v) if isinstance(v, (memoryview, bytearray)) else v for v in row))
                             for seq, row in chunk], protocol=pickle.HIGHEST_PROTOCOL)
    file.write(data)


class _Spill:
    """One result on disk, spread over partition files by the hash of each row's normalized form (as
    :func:`_partition_key` computes it): rows that compare equal land in the same partition on both sides, so
    the partitions compare one pair at a time in bounded memory. A partition pair split again (``depth`` 1, 2,
    ...) is spread by the next bits of the same hash: its rows share the bits of every level above (a salted
    hash of the tuple would not spread them, its bits follow the unsalted ones)."""

    def __init__(self, directory: Path, name: str, depth: int = 0) -> None:
        self.paths = [directory / f"{name}-{i}.pickle" for i in range(SPILL_PARTITIONS)]
        self._shift = depth * (SPILL_PARTITIONS - 1).bit_length()
        self.rows = 0
        self.widths: set[int] = set()
        self._buffers: list[list[_Spilled]] = [[] for _ in self.paths]
        self._files = [open(p, "wb") for p in self.paths]

    def add(self, spilled: _Spilled, key: _Row) -> None:
        index = (hash(key) >> self._shift) % SPILL_PARTITIONS
        buffer = self._buffers[index]
        buffer.append(spilled)
        if len(buffer) >= SPILL_CHUNK_ROWS:
            _dump(buffer, self._files[index])
            buffer.clear()

    def add_row(self, row: _Row) -> None:
        self.widths.add(len(row))
        self.add((self.rows, row), _partition_key(row))
        self.rows += 1

    def close(self) -> None:
        try:
            for buffer, file in zip(self._buffers, self._files):
                if buffer:
                    _dump(buffer, file)
                    buffer.clear()
        finally:
            for file in self._files:
                file.close()


def _read(path: Path) -> Iterator[Any]:
    with open(path, "rb") as file:
        while True:
            try:
                chunk = pickle.load(file)
            except EOFError:
                return
            yield from chunk


def _partition_pairs(source: _Spill, target: _Spill, depth: int = 0) -> Iterator[tuple[Path, Path]]:
    """The partition pairs of two spills, each small enough to load (larger pairs are split again, files
    deleted once passed on)."""
    for source_path, target_path in zip(source.paths, target.paths):
        size = source_path.stat().st_size + target_path.stat().st_size
        if size <= PARTITION_LOAD_BYTES or depth >= MAX_SPLIT_DEPTH:
            yield source_path, target_path
            continue
        parts = []
        for side, path in (("s", source_path), ("t", target_path)):
            spill = _Spill(path.parent, f"{path.stem}-{side}", depth + 1)
            for seq, row in _read(path):
                spill.add((seq, row), _partition_key(row))
            spill.close()
            path.unlink()
            parts.append(spill)
        largest = max(s.stat().st_size + t.stat().st_size for s, t in zip(parts[0].paths, parts[1].paths))
        if largest * 10 >= size * 9:
            # one set of equal rows (or hash-equal ones) fills the pair: splitting again would not help, and
            # copies of one row cost one counter in memory
            yield from zip(parts[0].paths, parts[1].paths)
        else:
            yield from _partition_pairs(parts[0], parts[1], depth + 1)


def _copies(path: Path) -> dict[_Row, list[Any]]:
    """normalized row -> [copies, first arrival, driver row of the first arrival] of one side's partition."""
    found: dict[_Row, list[Any]] = {}
    for seq, row in _read(path):
        key = _normalized(row)
        seen = found.get(key)
        if seen is None:
            found[key] = [1, seq, row]
        else:
            seen[0] += 1
            if seq < seen[1]:
                seen[1], seen[2] = seq, row
    return found


def _differences(source_path: Path, target_path: Path) -> tuple[list[_Entry], list[_Entry]]:
    """Entries only in source and only in target of one partition pair (copies beyond the other side's)."""
    source, target = _copies(source_path), _copies(target_path)
    only_source: list[_Entry] = []
    for key, (copies, seq, original) in source.items():
        other = target.get(key)
        extra = copies - (other[0] if other else 0)
        if extra > 0:
            only_source.append((seq, key, original, extra))
    only_target: list[_Entry] = []
    for key, (copies, seq, original) in target.items():
        other = source.get(key)
        extra = copies - (other[0] if other else 0)
        if extra > 0:
            # a row on both sides is reported as the source gave it (as when one table held both sides' rows)
            only_target.append((seq, key, other[2] if other else original, extra))
    return only_source, only_target


def _shape(key: _Row) -> _Row:
    """What rows paired within tolerance share: every value but the finite numbers, which become None."""
    return tuple(None if isinstance(v, Decimal) and v.is_finite() else v for v in key)


class _Earliest:
    """The ``size`` rows of one side with the smallest arrival numbers, copies counted one by one."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._heap: list[tuple[int, int, _Row]] = []  # (-arrival, -copy, row): the latest on top (a min-heap)

    def add(self, entry: _Entry) -> None:
        seq, _, row, copies = entry
        for copy in range(min(copies, self.size)):
            item = (-seq, -copy, row)
            if len(self._heap) < self.size:
                heapq.heappush(self._heap, item)
            elif item[:2] > self._heap[0][:2]:
                heapq.heapreplace(self._heap, item)
            else:
                break

    def entries(self) -> list[tuple[int, int, _Row]]:
        """(arrival, copy, row), earliest first."""
        return sorted(((-seq, -copy, row) for seq, copy, row in self._heap), key=lambda item: item[:2])

    def rows(self) -> list[_Row]:
        return [row for _, _, row in self.entries()]


@dataclass
class RowDifference:
    """Rows only in source / only in target: how many, and the first ``SAMPLE_ROWS`` of each (driver values)."""

    only_in_source: int
    only_in_target: int
    source_sample: list[_Row]
    target_sample: list[_Row]


def _grid_cell(key: _Row, tolerance: float) -> int | None:
    """The cell of a row's first finite number on a grid of ``tolerance`` steps: numbers within tolerance of each
    other lie at most one cell apart (two allowing for float rounding), so pairing looks at five cells. None
    where no finite number is below 2**40 steps (such rows are compared with every row of their shape)."""
    for v in key:
        if isinstance(v, Decimal) and v.is_finite():
            scaled = float(v) / tolerance
            return math.floor(scaled) if abs(scaled) < 2.0 ** 40 else None
    return None


class _Grid:
    """Rows by shape and grid cell: the rows that can lie within tolerance of a given row."""

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self.cells: dict[_Row, dict[int | None, list[Any]]] = {}

    def add(self, key: _Row, item: Any) -> None:
        self.cells.setdefault(_shape(key), {}).setdefault(_grid_cell(key, self.tolerance), []).append(item)

    def near(self, key: _Row) -> list[list[Any]]:
        cells = self.cells.get(_shape(key))
        if not cells:
            return []
        cell = _grid_cell(key, self.tolerance)
        if cell is None:
            return list(cells.values())
        return [cells[c] for c in (None, cell - 2, cell - 1, cell, cell + 1, cell + 2) if c in cells]


def _pair_within_tolerance(sources: list[_Entry], targets: Iterable[_Entry], target_count: int,
                           tolerance: float, sample_rows: int) -> RowDifference:
    """Pair leftover rows within ``tolerance``: each source row (in arrival order) takes the first remaining
    target row (in arrival order) within tolerance. The source leftovers are few (TOLERANCE_MATCH_LIMIT) and
    held; the target leftovers stream past once, and only those within tolerance of some source row are kept
    (ordered by arrival they are the only rows the pairing can take)."""
    source_rows = [(seq, copy, key, original) for seq, key, original, copies in sorted(sources, key=lambda e: e[0])
                   for copy in range(copies)]
    source_grid = _Grid(tolerance)
    for _, _, key, _ in source_rows:
        source_grid.add(key, key)
    candidates = _Grid(tolerance)  # target rows within tolerance of some source row: (arrival, copy, key)
    earliest_targets = _Earliest(sample_rows + len(source_rows))  # the sample, whatever the pairing takes
    for entry in targets:
        earliest_targets.add(entry)
        seq, key, _, copies = entry
        if any(_within(key, other, tolerance) for cell in source_grid.near(key) for other in cell):
            for copy in range(copies):
                candidates.add(key, (seq, copy, key))
    for cells in candidates.cells.values():
        for rows in cells.values():
            rows.sort(key=lambda c: (c[0], c[1]))
    taken: set[tuple[int, int]] = set()
    unmatched_sources: list[_Row] = []
    for _, _, key, original in source_rows:
        firsts = (next(((seq, copy) for seq, copy, other in rows
                        if (seq, copy) not in taken and _within(key, other, tolerance)), None)
                  for rows in candidates.near(key))
        match = min((f for f in firsts if f is not None), default=None)
        if match is None:
            unmatched_sources.append(original)
        else:
            taken.add(match)
    target_sample = [row for (seq, copy, row) in earliest_targets.entries() if (seq, copy) not in taken]
    return RowDifference(len(unmatched_sources), target_count - len(taken), unmatched_sources[:sample_rows],
                         target_sample[:sample_rows])


def compare_spills(source: _Spill, target: _Spill, tolerance: float, scratch: Path,
                   sample_rows: int = SAMPLE_ROWS) -> RowDifference:
    """Rows only in source and only in target of two closed spills (multiset difference, numbers within
    ``tolerance``): one partition pair in memory at a time, files deleted as they are compared.

    Rows are matched on their normalized form (:func:`comparable`) and reported as the driver gave them. Rows
    left over in several partitions may pair within tolerance (their numbers differ, so they may hash apart):
    the source leftovers are held while they are few enough to pair (TOLERANCE_MATCH_LIMIT), the target
    leftovers go to one more file and are read back once.
    """
    only_source = only_target = 0
    source_sample, target_sample = _Earliest(sample_rows), _Earliest(sample_rows)
    held_sources: list[_Entry] = []
    pairing = tolerance > 0
    leftovers_path = scratch / "target-leftovers.pickle"
    with open(leftovers_path, "wb") as leftovers:
        for source_path, target_path in _partition_pairs(source, target):
            partition_source, partition_target = _differences(source_path, target_path)
            source_path.unlink()
            target_path.unlink()
            for entry in partition_source:
                only_source += entry[3]
                source_sample.add(entry)
            for entry in partition_target:
                only_target += entry[3]
                target_sample.add(entry)
            if pairing and only_source > TOLERANCE_MATCH_LIMIT:
                pairing, held_sources = False, []  # too many to pair (quadratic): reported as they are
            if pairing:
                held_sources.extend(partition_source)
                for start in range(0, len(partition_target), SPILL_CHUNK_ROWS):
                    pickle.dump(partition_target[start:start + SPILL_CHUNK_ROWS], leftovers,
                                protocol=pickle.HIGHEST_PROTOCOL)
    try:
        if pairing and only_source and only_target:
            return _pair_within_tolerance(held_sources, _read(leftovers_path), only_target, tolerance, sample_rows)
        return RowDifference(only_source, only_target, source_sample.rows(), target_sample.rows())
    finally:
        leftovers_path.unlink()


def spill_rows(rows: Iterable[_Row], directory: Path, name: str) -> _Spill:
    """Normalize rows and spread them over a new spill's partition files (closed when this returns)."""
    spill = _Spill(directory, name)
    try:
        for row in rows:
            spill.add_row(row)
    finally:
        spill.close()
    return spill


def compare_rows(source_rows: Iterable[_Row], target_rows: Iterable[_Row],
                 tolerance: float) -> tuple[list[_Row], list[_Row]]:
    """Every row only in source and only in target (see :func:`compare_spills`), through a scratch directory."""
    with tempfile.TemporaryDirectory(prefix="dmsval-custom-sql-") as scratch:
        directory = Path(scratch)
        source = spill_rows(source_rows, directory, "source")
        target = spill_rows(target_rows, directory, "target")
        difference = compare_spills(source, target, tolerance, directory, sample_rows=sys.maxsize)
    return difference.source_sample, difference.target_sample


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
        names = on_both_sides(lambda: column_names(ctx.source, source_sql),
                              lambda: column_names(ctx.target, target_sql))
        if None not in names and len(names[0]) != len(names[1]):
            return _width_mismatch(names[0], names[1], sql)

        def compare() -> Outcome:
            return _compare_results(ctx, source_sql, target_sql, names, sql)

        # CDC mode: results of live tables differ by changes in flight; read again until they agree
        settled = settle(compare(), compare, lambda outcome: outcome.passed, ctx.recheck,
                         same=lambda a, b: (a.figures, a.details) == (b.figures, b.details))
        if settled.state == "moving":
            raise SkipCase(f"CDC: the results kept changing and never agreed in {settled.rounds} rechecks; changes in "
                           "flight hide whether they differ -- row_diff compares the tables' rows with in-flight "
                           "recheck")
        outcome = settled.reading
        return replace(outcome, message=outcome.message + settled.note()) if settled.rounds else outcome


def _compare_results(ctx: CheckContext, source_sql: str, target_sql: str,
                     names: tuple[tuple[str, ...] | None, tuple[str, ...] | None], sql: dict[str, str]) -> Outcome:
    """Both results compared as multisets, streamed through scratch files."""
    # the results stream to scratch files (see compare_spills): memory stays flat in the number of rows
    with tempfile.TemporaryDirectory(prefix="dmsval-custom-sql-") as scratch:
        directory = Path(scratch)
        source, target = on_both_sides(
            lambda: spill_rows(ctx.source.stream(source_sql, None, STREAM_BATCH_ROWS), directory, "source"),
            lambda: spill_rows(ctx.target.stream(target_sql, None, STREAM_BATCH_ROWS), directory, "target"))
        source_widths = source.widths | ({len(names[0])} if names[0] is not None else set())
        target_widths = target.widths | ({len(names[1])} if names[1] is not None else set())
        if len(source_widths | target_widths) > 1:
            return _width_mismatch(names[0] or _positions(source_widths), names[1] or _positions(target_widths),
                                   sql)
        difference = compare_spills(source, target, ctx.settings.numeric_tolerance, directory)
    figures = {"source_rows": source.rows, "target_rows": target.rows,
               "only_in_source": difference.only_in_source, "only_in_target": difference.only_in_target,
               "numeric_tolerance": ctx.settings.numeric_tolerance}
    columns = names[0] or _positions(source.widths | target.widths)
    details = {"columns": list(columns),
               "only_in_source": [_jsonable(r) for r in difference.source_sample],
               "only_in_target": [_jsonable(r) for r in difference.target_sample]}
    if not difference.only_in_source and not difference.only_in_target:
        return Outcome(True, f"{source.rows} rows match", figures, sql)
    return Outcome(False, f"results differ: {difference.only_in_source} rows only in source, "
                          f"{difference.only_in_target} only in target", figures, sql, details)


def column_names(engine: Engine, sql: str) -> tuple[str, ...] | None:
    """The column names of a query's result, read without running it (a filter that is never true); None when
    the database refuses the wrapping (MySQL refuses a derived table with two columns of one name): the rows
    still give the column count."""
    try:
        return engine.query(f"SELECT * FROM (\n{sql}\n) AS dmsval_columns WHERE 1 = 0").columns
    except EngineError:
        return None  # a query that really fails fails again, with its own error, when its rows are read


def _positions(widths: set[int]) -> tuple[str, ...]:
    return tuple(f"c{i + 1}" for i in range(max(widths, default=0)))


def _width_mismatch(source_columns: tuple[str, ...], target_columns: tuple[str, ...],
                    sql: dict[str, str]) -> Outcome:
    return Outcome(False, f"source returns {len(source_columns)} columns, target {len(target_columns)}", {}, sql,
                   {"source_columns": list(source_columns), "target_columns": list(target_columns)})
