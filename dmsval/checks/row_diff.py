"""row_diff: every mapped column of every row, compared inside the databases.

How (data moved is proportional to the differences, not to the table):

1. Each side computes, in one scan, per *segment* a row count and the sum of a 60-bit hash of each row's
   canonical image (``Engine.canonical`` per column: what DMS did to the type is undone on both sides).
   A single integer key is segmented by key range (index range scans later); any other key, and tables
   without a key, by a hash of the key (or of the row) modulo the segment count, so segmenting never depends
   on both engines sorting strings the same way (MySQL ``_ci`` collations vs byte order).
2. Only segments whose (count, checksum) differ are looked at again: a small one is fetched as
   (key, row hash) from both sides; a large range segment is split further first.
3. For changed keys (a sample of them), the canonical column values are fetched to name the differing columns.

Tables without a primary or NOT NULL unique key are compared as multisets of row images, with counts.
Large tables with a single integer key are split into several cases by key range (``#3/8``). Within a case, a
large first scan runs as concurrent ranges of whole segments (key ranges; ranges of hash buckets for other keys)
on ``--scan-parallelism`` sibling connections per side, source and target at once; the segments are the single
scan's, so what is found does not depend on it. Finished ranges are reported to ``CheckContext.progress``.

Values DMS cut to what the target keeps (``ValueKind.cut_bytes``: LobMaxSize in limited LOB mode, the target
column's byte width) are compared as the source's prefix at that length, and counted in the first scan: the case
passes with a note naming the column, the count and why (fails with ``--fail-on-truncation``). Where a target
column holds values longer than LobMaxSize, DMS did not apply LobMaxSize to it: the column is compared again
at the target column's capacity (a second pass, said in the note).

With ``--since`` a keyed table with a watermark column compares in full only the rows changed in the window, and
every key by key-set segments (``dmsval/checks/window.py``, ``_compare_since``).
"""

from __future__ import annotations

import math
import os
import threading
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterable, Iterator, NamedTuple

from ..config import Settings
from ..diagnosis import Diagnosis, diagnose
from ..engines import Engine
from ..engines.catalog import ColumnInfo, TableInfo, ValueKind
from ..errors import EngineError
from ..mappings import TablePair
from .base import Case, CheckContext, Outcome, TableCheck, TableStats, in_parallel, on_both_sides
from .recheck import Recheck, key_condition, keyed_round, run_rounds
from .window import compare_window, since_moment, window_words, windowed_column

SUBDIVIDE = 16  # a too-large differing range segment is split into this many
RANGES_PER_QUERY = 200  # key ranges OR-ed into one fetch query
KEYS_PER_QUERY = 500  # keys per value-fetch query
# The first scan of a large case runs as concurrent ranges of its segments, on --scan-parallelism connections
# per side (the engines' siblings). A range covers at least MIN_SEGMENTS_PER_RANGE segments (50,000 rows at the
# default --segment-rows): below that, one more statement and connection cost more than the split saves, so
# smaller cases keep one scan per side.
MIN_SEGMENTS_PER_RANGE = 25
# key ranges per connection: a connection whose range ends early takes the next one (keys are rarely spread
# evenly), and progress moves in steps. Hash buckets get one range per connection: every range of buckets
# reads the whole table (the bucket is computed from each row's key), only the row hashing is divided.
RANGES_PER_CONNECTION = 4
# --scan-parallelism auto: connections per side on one machine, shared by its xdist workers. Neither MySQL nor
# Redshift tells a SELECT-only user its cores (MariaDB's @@thread_pool_size is absent on MySQL and RDS's
# parameter groups set it freely), so the figure is fixed: MySQL runs each statement on one core, so 4 scans use
# 4 source cores (an RDS db.*.xlarge); Redshift runs every statement on all its slices, and 4 leave a slot of
# its default WLM queue (5 concurrent queries) to others.
AUTO_SCAN_CONNECTIONS = 4


@dataclass(frozen=True)
class Column:
    source: ColumnInfo
    target: ColumnInfo
    kind: ValueKind
    #: the kind if DMS did not apply LobMaxSize to this column (cut at the target's capacity only); None when
    #: LobMaxSize does not cut it shorter than that
    without_lob_cut: ValueKind | None = None
    lob_cut_not_applied: bool = False  # the target holds values longer than LobMaxSize: compared without it


@dataclass(frozen=True)
class Side:
    """The SQL of one side of the comparison (all fragments from that side's engine)."""

    engine: Engine
    table: str
    key_canonical: tuple[str, ...]
    key_raw: tuple[str, ...]
    canonical: tuple[str, ...]  # per compared column, in column order
    row_hash: str  # MD5 of the row image
    part_filter: str  # "" or "<key> >= low AND <key> < high" for split cases
    extras: tuple[str, ...] = ()  # aggregates added to the first scan (source: cut counts; target: longest values)
    #: the per-segment checksum aggregate; "" = the exact sum of the row hashes (--since's key-set check of an
    #: integer key sums the keys instead: no MD5 per row)
    checksum: str = ""
    key_columns: tuple[ColumnInfo, ...] = ()  # this side's catalog entries of the key columns

    def segment_of_key(self, low: int, width: int) -> str:
        """The segment of a row: (key - low) DIV width (keys below ``low`` are never asked)."""
        return self.engine.int_div(f"{self.key_raw[0]} - {low}", width, self.key_columns[0])

    def where(self, *conditions: str) -> str:
        parts = [c for c in (self.part_filter, *conditions) if c]
        return (" WHERE " + " AND ".join(parts)) if parts else ""

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        return self.engine.query(sql, ()).rows

    def stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        return self.engine.stream(sql, ())


def scan_connections(settings: Settings) -> int:
    """Connections per side for the first scan of a large case: --scan-parallelism, or for auto
    AUTO_SCAN_CONNECTIONS shared by this machine's xdist workers (each scans its own tables at the same time)."""
    if settings.scan_parallelism != "auto":
        return int(settings.scan_parallelism)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    return max(1, AUTO_SCAN_CONNECTIONS // max(1, workers))


def lob_max_kb(task_settings: dict[str, Any]) -> int | None:
    """LobMaxSize (KB) in limited LOB mode, None in full LOB mode (DMS keeps the whole value)."""
    meta = task_settings.get("TargetMetadata", {}) or {}
    if meta.get("FullLobMode") and not meta.get("LimitedSizeLobMode"):
        return None
    return int(meta.get("LobMaxSize") or 32)


class RowDiff(TableCheck):
    name = "row_diff"
    description = "every column of every row, missing / extra / changed keys, pushed down into the databases"

    def plan(self, settings: Settings, pairs: tuple[TablePair, ...], stats: dict[str, TableStats]) -> list[Case]:
        cases: list[Case] = []
        for pair in pairs:
            stat = stats.get(pair.source_name)
            if stat is None or stat.key_range is None or stat.rows <= settings.split_rows:
                cases.append(Case(self.name, pair.source_name, pair))
                continue
            parts = math.ceil(stat.rows / settings.split_rows)
            low, high = stat.key_range
            bounds = [low + (high - low + 1) * i // parts for i in range(parts + 1)]
            for i in range(parts):
                # first and last parts are open-ended: the target may hold keys outside the source's range
                start = "" if i == 0 else str(bounds[i])
                stop = "" if i == parts - 1 else str(bounds[i + 1])
                cases.append(Case(self.name, pair.source_name, pair,
                                  (("low", start), ("high", stop), ("part", str(i + 1)), ("parts", str(parts)))))
        return cases

    def run_table(self, case: Case, pair: TablePair, ctx: CheckContext) -> Outcome:
        return TableDiff(case, ctx, pair, *self.table_infos(pair, ctx)).run()


class TableDiff:
    def __init__(self, case: Case, ctx: CheckContext, pair: TablePair, source_info: TableInfo,
                 target_info: TableInfo) -> None:
        self.ctx, self.settings, self.pair = ctx, ctx.settings, pair
        lob_kb = lob_max_kb(ctx.task_settings)
        route = ctx.the_route()
        self.lob_kb = lob_kb
        self.columns: list[Column] = []
        self.missing_columns: list[str] = []
        self.removed_columns: list[str] = []  # dropped by a remove-column rule of the task: not compared
        mapped: set[str] = set()
        for column in source_info.columns:
            target_name = pair.target_column(column.name)
            if target_name is None:
                self.removed_columns.append(column.name)
                continue
            target = target_info.column(ctx.target.fold_identifier(target_name))
            if target is None:
                self.missing_columns.append(column.name)
                continue
            mapped.add(target.name.lower())
            kind = route.kind_of(column, target, float_digits=self.settings.float_digits,
                                 double_digits=self.settings.double_digits, lob_max_kb=lob_kb)
            whole = route.kind_of(column, target, float_digits=self.settings.float_digits,
                                  double_digits=self.settings.double_digits, lob_max_kb=None) if lob_kb else kind
            self.columns.append(Column(column, target, kind, whole if whole.cut_bytes != kind.cut_bytes else None))
        added = {ctx.target.fold_identifier(name).lower() for name in pair.added_columns}
        self.added_columns = [c.name for c in target_info.columns if c.name.lower() in added]
        self.extra_columns = [c.name for c in target_info.columns
                              if c.name.lower() not in mapped and c.name.lower() not in added]
        self.key_names = source_info.key
        self.source_columns = source_info.columns  # every source column (the watermark of --since among them)
        self.estimate = max(source_info.row_estimate, 1)
        self.params = dict(case.params)
        self.case_id = case.case_id
        self._build()

    def _build(self) -> None:
        """Key, SQL of both sides and counters, from ``self.columns``."""
        self.key = [c for name in self.key_names for c in self.columns if c.source.name == name]
        if len(self.key) != len(self.key_names):
            self.key = []  # a key column missing on the target: compare as a multiset
        self.int_key = len(self.key) == 1 and self.key[0].kind.name == "int"
        pair, ctx = self.pair, self.ctx
        self.sides = (self._side(ctx.source, pair.source_schema, pair.source_table, True),
                      self._side(ctx.target, pair.target_schema, pair.target_table, False))
        self.fetched_rows = 0
        self.segments = 0
        self.differing_segments = 0
        self.sql: dict[str, str] = {}
        self.cut_counts: dict[str, int] = {}  # source column -> values longer than what the target keeps

    @property
    def _cut_columns(self) -> list[Column]:
        return [c for c in self.columns if c.kind.cut_bytes]

    @property
    def _probed_columns(self) -> list[Column]:
        return [c for c in self.columns if c.without_lob_cut is not None]

    # -- SQL ----------------------------------------------------------------------------------------------
    def _side(self, engine: Engine, schema: str, table: str, is_source: bool) -> Side:
        def ref(column: Column) -> str:
            return engine.quote(column.source.name if is_source else column.target.name)

        def canon(column: Column) -> str:
            return engine.canonical(ref(column), column.kind, column.source if is_source else column.target)

        canonical = tuple(canon(c) for c in self.columns)
        if is_source:  # values longer than the target keeps: counted, and cut in the row image
            extras = tuple(f"SUM(CASE WHEN {engine.octet_length(ref(c), c.kind, c.source)} > {c.kind.cut_bytes} "
                           "THEN 1 ELSE 0 END)" for c in self._cut_columns)
        else:  # the longest value of a column LobMaxSize should have cut: did DMS apply it?
            extras = tuple(f"MAX({engine.octet_length(ref(c), c.kind, c.target)})" for c in self._probed_columns)
        conditions = []
        if self.int_key:
            key = ref(self.key[0])
            low, high = self.params.get("low", ""), self.params.get("high", "")
            conditions += ([f"{key} >= {int(low)}"] if low else []) + ([f"{key} < {int(high)}"] if high else [])
        if is_source and self.pair.filters:  # the task migrates only the rows its source filters select
            conditions.append(self.pair.source_filter_sql(engine.quote, engine.literal))
        part = " AND ".join(conditions)
        image = engine.row_image(list(canonical), [c.kind for c in self.columns])
        return Side(engine, engine.table_ref(schema, table), tuple(canon(c) for c in self.key),
                    tuple(ref(c) for c in self.key), canonical, engine.md5(image), part,
                    extras, key_columns=tuple(c.source if is_source else c.target for c in self.key))

    def _segments_sql(self, side: Side, bucket: str, *conditions: str, first: bool = False) -> str:
        """Count and checksum per segment; the first scan of the table also computes the side's extras."""
        e = side.engine
        extras = "".join(f", {x} AS x{i}" for i, x in enumerate(side.extras)) if first else ""
        checksum = side.checksum or e.sum_ints(e.hash_int(side.row_hash))
        return (f"SELECT {bucket} AS segment, COUNT(*) AS row_count, {checksum} "
                f"AS checksum{extras} FROM {side.table}{side.where(*conditions)} GROUP BY 1")

    def _read_first_scan(self, source_rows: list[tuple[Any, ...]], target_rows: list[tuple[Any, ...]]) -> None:
        """Cut counts (source) and, where LobMaxSize should have cut, the target's longest values: a longer one
        means DMS kept more of that column (LobMaxSize not applied to it), and the table is compared again."""
        for i, column in enumerate(self._cut_columns):
            count = sum(int(row[3 + i] or 0) for row in source_rows)
            if count:
                self.cut_counts[column.source.name] = count
        longer = []
        for i, column in enumerate(self._probed_columns):
            longest = max((int(row[3 + i] or 0) for row in target_rows), default=0)
            if longest > column.kind.cut_bytes * (2 if column.kind.hex_held else 1):
                longer.append(column.source.name)
        if longer:
            raise _LobCutNotApplied(longer)

    def _both(self, source_sql: str, target_sql: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        self.sql.setdefault("source", self.sides[0].engine.shown(source_sql))
        self.sql.setdefault("target", self.sides[1].engine.shown(target_sql))
        return on_both_sides(lambda: self.sides[0].run(source_sql), lambda: self.sides[1].run(target_sql))

    @staticmethod
    def _segment_map(rows: Iterable[tuple[Any, ...]]) -> dict[int, tuple[int, int]]:
        return {int(row[0]): (int(row[1]), int(row[2] or 0)) for row in rows}

    def _first_segments(self, buckets: list[str], split_count: int = 0
                        ) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]]:
        """The first scan by hash bucket; with ``split_count`` (the bucket count) a large case is scanned as
        concurrent ranges of buckets."""
        connections, ranges = self._scan_ranges(split_count, 1) if split_count else (1, [(0, 1)])
        ranged = tuple([self._segments_sql(side, bucket, f"{bucket} >= {a}", f"{bucket} < {z}", first=True)
                        for a, z in ranges] for side, bucket in zip(self.sides, buckets))
        serial = tuple(self._segments_sql(side, bucket, first=True) for side, bucket in zip(self.sides, buckets))
        source_rows, target_rows = self._first_scan(serial, ranged, connections)
        self._read_first_scan(source_rows, target_rows)
        return self._segment_map(source_rows), self._segment_map(target_rows)

    def _first_range_segments(self, low: int, high: int, width: int
                              ) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]]:
        """The first scan by key range segment (``(key - low) DIV width``); a large case is scanned as
        concurrent key ranges, each a run of whole segments: the same segments as one scan gives."""
        count = (high - low) // width + 1
        connections, ranges = self._scan_ranges(count, RANGES_PER_CONNECTION)
        serial, ranged = [], []
        for side in self.sides:
            key = side.key_raw[0]
            bucket = side.segment_of_key(low, width)
            serial.append(self._segments_sql(side, bucket, f"{key} >= {low}", f"{key} <= {high}", first=True))
            # segments a..z-1; the last range ends at high like the single scan (its last segment may be short)
            ranged.append([self._segments_sql(side, bucket, f"{key} >= {low + a * width}",
                                              f"{key} <= {high}" if z == count else f"{key} < {low + z * width}",
                                              first=True) for a, z in ranges])
        source_rows, target_rows = self._first_scan((serial[0], serial[1]), (ranged[0], ranged[1]), connections)
        self._read_first_scan(source_rows, target_rows)
        return self._segment_map(source_rows), self._segment_map(target_rows)

    def _scan_ranges(self, segments: int, per_connection: int) -> tuple[int, list[tuple[int, int]]]:
        """(connections per side, ranges [a, z) of segment numbers) for the first scan of ``segments``."""
        most = segments // MIN_SEGMENTS_PER_RANGE
        connections = min(scan_connections(self.settings), most)
        if connections <= 1:
            return 1, [(0, segments)]
        n = min(connections * per_connection, most)
        return connections, [(segments * i // n, segments * (i + 1) // n) for i in range(n)]

    def _first_scan(self, serial: tuple[str, str], ranged: tuple[list[str], list[str]], connections: int
                    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The rows of the first scan of both sides: one statement per side on the engines themselves, or the
        ranges on ``connections`` siblings per side, both sides at once (the target is never waited for after
        the source). The rows are the single scan's: every segment lies in exactly one range."""
        rows_total = self._case_rows()
        if connections == 1:
            self._report(0, 1, "scans", 0, rows_total)
            source_rows, target_rows = self._both(*serial)
            self._report(1, 1, "scans", sum(int(r[1]) for r in source_rows), rows_total)
            return source_rows, target_rows
        n = len(ranged[0])
        for name, side, sql in (("source", self.sides[0], ranged[0][0]), ("target", self.sides[1], ranged[1][0])):
            self.sql.setdefault(name, f"{side.engine.shown(sql)}\n-- the first of {n} ranges scanned on "
                                      f"{connections} connections per side")
        results: list[list[list[tuple[Any, ...]]]] = [[[] for _ in range(n)] for _ in self.sides]
        pending = [list(range(n - 1, -1, -1)) for _ in self.sides]  # popped from the end: range 0 first
        done, rows_done = [0, 0], [0, 0]
        lock, stop = threading.Lock(), threading.Event()
        self._report(0, n, "ranges", 0, rows_total)

        def lane(index: int, engine: Engine) -> None:
            while not stop.is_set():
                with lock:
                    if not pending[index]:
                        return
                    i = pending[index].pop()
                rows = engine.query(ranged[index][i], ()).rows
                with lock:
                    results[index][i] = rows
                    done[index] += 1
                    rows_done[index] += sum(int(row[1]) for row in rows)
                    slower = 0 if done[0] <= done[1] else 1  # the case ends when its slower side does
                    self._report(done[slower], n, "ranges", rows_done[slower], rows_total)

        in_parallel([lambda i=i, e=e: lane(i, e) for i, side in enumerate(self.sides)
                     for e in side.engine.siblings(connections)], stop)
        return ([row for part in results[0] for row in part], [row for part in results[1] for row in part])

    def _case_rows(self) -> int:
        """Rows this case compares per side, from the catalog's estimate (a split case: its share)."""
        parts = int(self.params["parts"]) if "parts" in self.params else 1
        return max(1, self.estimate // parts)

    def _report(self, done: int, total: int, unit: str, rows: int, rows_total: int) -> None:
        if self.ctx.progress is not None:
            self.ctx.progress.report(self.case_id, done, total, unit, rows=rows, rows_total=rows_total)

    # -- algorithm ----------------------------------------------------------------------------------------
    def run(self) -> Outcome:
        if not self.columns:
            return Outcome(False, f"no column of {self.pair.source_name} exists on the target",
                           {"missing_columns": len(self.missing_columns)})
        try:
            return self._run()
        finally:
            if self.ctx.progress is not None:
                self.ctx.progress.finish(self.case_id)

    def _run(self) -> Outcome:
        try:
            outcome = self._compare()
        except _LobCutNotApplied as e:
            # DMS kept more of these columns than LobMaxSize: compare them at the target's capacity instead
            self.columns = [replace(c, kind=c.without_lob_cut, without_lob_cut=None, lob_cut_not_applied=True)
                            if c.source.name in e.columns and c.without_lob_cut is not None
                            else replace(c, without_lob_cut=None) for c in self.columns]
            self._build()
            outcome = self._compare()
        return self._with_cuts(outcome)

    def _compare(self) -> Outcome:
        since = since_moment(self.settings)
        if since is not None:
            return self._compare_since(since)
        if not self.key:
            return self._multiset()
        return self._compare_full()

    # -- --since: rows changed in the window in full, every key by key-set segments (dmsval/checks/window.py) --
    def _compare_since(self, since: datetime) -> Outcome:
        window: dict[str, Any] = {"since": self.settings.since, "column": None}
        column, why_full = windowed_column(self)
        if column is None:  # compared in full, said so
            outcome = self._multiset() if not self.key else self._compare_full()
            window["note"] = why_full
            return replace(outcome, message=f"{outcome.message}; --since {self.settings.since}: {why_full}",
                           details={**outcome.details, "window": window})
        window["column"] = column.source.name
        source_rows, target_rows, keyed, window_rows = compare_window(self, since, column)
        recheck = self._recheck_keyed(keyed) if self.ctx.recheck is not None and keyed.listed() else None
        return self._keyed_outcome(source_rows, target_rows, keyed, recheck, window={**window, "rows": window_rows})

    def _compare_full(self) -> Outcome:
        """A keyed table compared in full: every column of every row."""
        if self.int_key:
            source_rows, target_rows, keyed = self._by_key_range()
        else:
            source_rows, target_rows, keyed = self._by_key_hash()
        recheck = self._recheck_keyed(keyed) if self.ctx.recheck is not None and keyed.listed() else None
        return self._keyed_outcome(source_rows, target_rows, keyed, recheck)

    def _recheck_keyed(self, keyed: "KeyedDiff") -> Recheck:
        """CDC mode: the differing keys read again until they converge (in flight) or the rounds are spent."""
        policy = self.ctx.recheck
        assert policy is not None
        read_round = keyed_round(self.sides, self.int_key, self.settings.diff_sample, self._values_by_key)
        result = run_rounds(keyed.listed(), policy, read_round, self.settings.diff_sample)
        keyed.drop(set(result.converged))
        return result

    def _values_by_key(self, side: Side, keys: list[tuple[str, ...]]) -> dict[tuple[str, ...], tuple[Any, ...]]:
        """Canonical column values of the rows with these canonical keys."""
        n = len(side.key_canonical)
        found: dict[tuple[str, ...], tuple[Any, ...]] = {}
        for i in range(0, len(keys), KEYS_PER_QUERY):
            condition = key_condition(side, keys[i:i + KEYS_PER_QUERY], self.int_key)
            sql = f"SELECT {', '.join(side.key_canonical)}, {', '.join(side.canonical)} FROM {side.table}{side.where(condition)}"
            for row in side.run(sql):
                found[tuple(row[:n])] = tuple(row[n:])
        return found

    def _with_cuts(self, outcome: Outcome) -> Outcome:
        """The outcome with the values DMS cut named (never a silent pass): per column the count, where and why;
        a failure with --fail-on-truncation."""
        notes: list[str] = []
        cuts: list[dict[str, Any]] = []
        for column in self.columns:
            count = self.cut_counts.get(column.source.name, 0)
            not_applied = (f" (LobMaxSize {self.lob_kb:,} KB not applied by DMS to this column: the target holds "
                           "longer values)") if column.lob_cut_not_applied else ""
            if count:
                s = "" if count == 1 else "s"
                notes.append(f"{column.source.name}: {count:,} value{s} cut at {column.kind.cut_bytes:,} bytes "
                             f"\u2014 {column.kind.cut_reason}{not_applied}")
                cuts.append({"column": column.source.name, "values": count, "cut_bytes": column.kind.cut_bytes,
                             "reason": column.kind.cut_reason + not_applied})
            elif not_applied:
                notes.append(f"{column.source.name}:{not_applied}")
        if not notes:
            return outcome
        total = sum(c["values"] for c in cuts)
        figures = {**outcome.figures, "truncated_values": total}
        details = {**outcome.details, "truncated": cuts, "notes": notes,
                   "lob_max_size_not_applied": [c.source.name for c in self.columns if c.lob_cut_not_applied]}
        if total and self.settings.fail_on_truncation and outcome.passed:
            return Outcome(False, f"{total:,} value{'' if total == 1 else 's'} cut by DMS (--fail-on-truncation): "
                                  f"{'; '.join(notes)}; {outcome.message}", figures, outcome.sql, details)
        return Outcome(outcome.passed, f"{outcome.message}; {'; '.join(notes)}", figures, outcome.sql, details)

    def _segment_count(self) -> int:
        parts = 1
        if "parts" in self.params:  # a planned split case says how many parts its table has
            parts = int(self.params["parts"])
        elif self.params.get("low") or self.params.get("high"):  # a key range given directly (diff_tables)
            parts = max(1, math.ceil(self.estimate / self.settings.split_rows))
        return max(1, min(1_000_000, math.ceil(self.estimate / parts / self.settings.segment_rows)))

    def _by_key_range(self) -> tuple[int, int, "KeyedDiff"]:
        s, t = self.sides
        bounds_sql = [f"SELECT MIN({side.key_raw[0]}), MAX({side.key_raw[0]}) FROM {side.table}{side.where()}"
                      for side in self.sides]
        (s_min, s_max), (t_min, t_max) = (rows[0] for rows in on_both_sides(
            lambda: s.run(bounds_sql[0]), lambda: t.run(bounds_sql[1])))
        values = [int(v) for v in (s_min, s_max, t_min, t_max) if v is not None]
        keyed = KeyedDiff()
        if not values:
            return 0, 0, keyed
        low, high = min(values), max(values)
        width = max(1, math.ceil((high - low + 1) / self._segment_count()))
        source_segments, target_segments = self._first_range_segments(low, high, width)
        source_rows = sum(n for n, _ in source_segments.values())
        target_rows = sum(n for n, _ in target_segments.values())
        pending = [(low, high, width, source_segments, target_segments)]
        to_fetch: list[tuple[int, int]] = []
        one_sided: dict[str, list[tuple[int, int]]] = {"missing": [], "extra": []}
        self.segments = len(set(source_segments) | set(target_segments))
        self.differing_segments = 0
        while pending:
            start, stop, w, src, tgt = pending.pop()
            for b in sorted(set(src) | set(tgt)):
                if src.get(b) == tgt.get(b):
                    continue
                self.differing_segments += 1
                a, z = start + b * w, min(start + (b + 1) * w - 1, stop)
                source_n, target_n = src.get(b, (0, 0))[0], tgt.get(b, (0, 0))[0]
                if not source_n or not target_n:
                    # rows on one side only (e.g. an empty target): counted from the checksums, keys sampled
                    kind = "extra" if not source_n else "missing"
                    one_sided[kind].append((a, z))
                    keyed.add_counts(kind, source_n or target_n)
                elif max(source_n, target_n) <= self.settings.fetch_rows or a == z:
                    to_fetch.append((a, z))
                else:
                    sub_width = max(1, math.ceil((z - a + 1) / SUBDIVIDE))
                    sub_src, sub_tgt = self._range_segments(a, z, sub_width)
                    pending.append((a, z, sub_width, sub_src, sub_tgt))
        for i in range(0, len(to_fetch), RANGES_PER_QUERY):
            chunk = to_fetch[i:i + RANGES_PER_QUERY]
            keyed.compare(*self._fetch_hashes([self._ranges_condition(side, chunk) for side in self.sides]))
        for kind, side in (("missing", self.sides[0]), ("extra", self.sides[1])):
            if one_sided[kind]:
                ranges = one_sided[kind][:RANGES_PER_QUERY]
                keyed.add_sample(kind, self._sample_keys(side, self._ranges_condition(side, ranges)))
        return source_rows, target_rows, keyed

    def _sample_keys(self, side: Side, condition: str) -> list[tuple[str, ...]]:
        """Up to --diff-sample canonical keys of the rows matching ``condition`` (never the whole set)."""
        # CDC mode: every key up to --cdc-recheck-keys, since only listed keys can be read again
        limit = self.ctx.recheck.max_keys if self.ctx.recheck is not None else self.settings.diff_sample
        sql = (f"SELECT {', '.join(side.key_canonical)} FROM {side.table}{side.where(condition)} "
               f"LIMIT {int(limit)}")
        rows = side.run(sql)
        self.fetched_rows += len(rows)
        return [tuple(row) for row in rows]

    def _range_segments(self, low: int, high: int, width: int,
                        first: bool = False) -> tuple[dict[int, tuple[int, int]], ...]:
        sqls = []
        for side in self.sides:
            key = side.key_raw[0]
            bucket = side.segment_of_key(low, width)
            sqls.append(self._segments_sql(side, bucket, f"{key} >= {low}", f"{key} <= {high}", first=first))
        source_rows, target_rows = self._both(*sqls)
        if first:
            self._read_first_scan(source_rows, target_rows)
        return self._segment_map(source_rows), self._segment_map(target_rows)

    @staticmethod
    def _ranges_condition(side: Side, ranges: list[tuple[int, int]]) -> str:
        key = side.key_raw[0]
        return "(" + " OR ".join(f"({key} >= {a} AND {key} <= {z})" for a, z in ranges) + ")"

    def _hash_bucket(self, side: Side, count: int) -> str:
        e = side.engine
        image = e.row_image(list(side.key_canonical), [c.kind for c in self.key]) if self.key else side.row_hash
        return f"MOD({e.hash_int(e.md5(image) if self.key else image)}, {count})"

    def _by_key_hash(self) -> tuple[int, int, "KeyedDiff"]:
        count = self._segment_count()
        buckets = [self._hash_bucket(side, count) for side in self.sides]
        source_segments, target_segments = self._first_segments(buckets, split_count=count)
        differing = sorted(b for b in set(source_segments) | set(target_segments)
                           if source_segments.get(b) != target_segments.get(b))
        self.segments = len(set(source_segments) | set(target_segments))
        self.differing_segments = len(differing)
        keyed = KeyedDiff()
        both = [b for b in differing if b in source_segments and b in target_segments]
        if both:
            in_list = ", ".join(str(b) for b in both)
            keyed.compare(*self._fetch_hashes([f"{bucket} IN ({in_list})" for bucket in buckets]))
        for kind, side, bucket, segments, other in (("missing", self.sides[0], buckets[0], source_segments,
                                                     target_segments),
                                                    ("extra", self.sides[1], buckets[1], target_segments,
                                                     source_segments)):
            alone = [b for b in differing if b in segments and b not in other]  # rows on this side only
            if alone:
                keyed.add_counts(kind, sum(segments[b][0] for b in alone))
                in_list = ", ".join(str(b) for b in alone)
                keyed.add_sample(kind, self._sample_keys(side, f"{bucket} IN ({in_list})"))
        return (sum(n for n, _ in source_segments.values()), sum(n for n, _ in target_segments.values()), keyed)

    def _fetch_hashes(self, conditions: list[str]) -> tuple[dict[tuple[str, ...], "Fetched"], ...]:
        """(canonical key) -> (row hash, raw key, rows with that key) for the rows matching each side's condition."""
        source, target = on_both_sides(lambda: self._fetch_side(self.sides[0], conditions[0]),
                                       lambda: self._fetch_side(self.sides[1], conditions[1]))
        self.fetched_rows += len(source) + len(target)
        return source, target

    @staticmethod
    def _fetch_side(side: Side, condition: str) -> dict[tuple[str, ...], "Fetched"]:
        n = len(side.key_canonical)
        sql = (f"SELECT {', '.join(side.key_canonical)}, {side.row_hash}, {', '.join(side.key_raw)} "
               f"FROM {side.table}{side.where(condition)}")
        rows: dict[tuple[str, ...], Fetched] = {}
        for row in side.stream(sql):
            key = tuple(row[:n])
            seen = rows.get(key)
            # Redshift does not enforce primary keys: a key loaded twice must be counted, not overwritten
            rows[key] = Fetched(row[n], tuple(row[n + 1:]), 1) if seen is None else seen._replace(count=seen.count + 1)
        return rows

    def _fetch_values(self, side: Side, raw_keys: list[tuple[Any, ...]]) -> dict[tuple[str, ...], tuple[Any, ...]]:
        """Canonical column values of the rows with these (raw) keys, by canonical key."""
        n = len(side.key_canonical)
        found: dict[tuple[str, ...], tuple[Any, ...]] = {}
        for i in range(0, len(raw_keys), KEYS_PER_QUERY):
            chunk = raw_keys[i:i + KEYS_PER_QUERY]
            if n == 1:
                condition = f"{side.key_raw[0]} IN ({', '.join(side.engine.literal(k[0]) for k in chunk)})"
            else:
                condition = "(" + " OR ".join(
                    "(" + " AND ".join(f"{col} = {side.engine.literal(v)}" for col, v in zip(side.key_raw, k)) + ")"
                    for k in chunk) + ")"
            sql = f"SELECT {', '.join(side.key_canonical)}, {', '.join(side.canonical)} FROM {side.table}{side.where(condition)}"
            for row in side.run(sql):
                found[tuple(row[:n])] = tuple(row[n:])
        return found

    def _keyed_outcome(self, source_rows: int, target_rows: int, keyed: "KeyedDiff",
                       recheck: Recheck | None = None, window: dict[str, Any] | None = None) -> Outcome:
        """The outcome of a keyed table; ``window`` (--since: since, column, rows compared in full) adds figure
        ``window_rows``, details ``window`` and says in the message what was compared in full."""
        sample = self.settings.diff_sample
        changed_sample = keyed.changed[:sample]
        changes: list[dict[str, Any]] = []
        column_counts: Counter[str] = Counter()
        if changed_sample:
            src_values, tgt_values = on_both_sides(
                lambda: self._fetch_values(self.sides[0], [keyed.source_raw[k] for k in changed_sample]),
                lambda: self._fetch_values(self.sides[1], [keyed.target_raw[k] for k in changed_sample]))
            for key in changed_sample:
                s_row, t_row = src_values.get(key), tgt_values.get(key)
                if (s_row is None or t_row is None) and recheck is not None:
                    changes.append({"key": list(key), "columns": {}})  # CDC: deleted since; the history shows it
                    continue
                if s_row is None or t_row is None:
                    raise EngineError(f"a changed row of {self.pair.source_name} changed again while being compared")
                differing = {c.source.name: [sv, tv] for c, sv, tv in zip(self.columns, s_row, t_row) if sv != tv}
                column_counts.update(differing.keys())
                changes.append({"key": list(key), "columns": differing})
        key_names = [c.source.name for c in self.key]
        figures = {"source_rows": source_rows, "target_rows": target_rows, "missing": keyed.missing_count,
                   "extra": keyed.extra_count, "changed": len(keyed.changed),
                   "duplicated_keys": len(keyed.duplicated), "segments": self.segments,
                   "differing_segments": self.differing_segments, "rows_fetched": self.fetched_rows,
                   "columns_compared": len(self.columns)}
        if self.missing_columns:
            figures["columns_missing_on_target"] = len(self.missing_columns)
        details = {"key": key_names, "missing_keys": [list(k) for k in keyed.missing[:sample]],
                   "duplicated_keys": [{"key": list(k), "source_rows": s, "target_rows": t}
                                       for k, s, t in keyed.duplicated[:sample]],
                   "extra_keys": [list(k) for k in keyed.extra[:sample]], "changed": changes,
                   "changed_columns": dict(column_counts), "missing_columns": self.missing_columns,
                   "extra_columns": self.extra_columns, "removed_by_mapping": self.removed_columns,
                   "added_by_mapping": self.added_columns}
        diagnoses = self._diagnoses(changes, column_counts, complete=len(changed_sample) == len(keyed.changed),
                                    compared=source_rows)
        if diagnoses:
            details["diagnoses"] = [d.to_dict() for d in diagnoses]
        differences = keyed.missing_count + keyed.extra_count + len(keyed.changed) + len(keyed.duplicated)
        note = f" ({len(self.missing_columns)} source columns missing on the target: " \
               f"{', '.join(self.missing_columns)})" if self.missing_columns else ""
        if recheck is not None:
            note += self._recheck_note(recheck, keyed, figures, details)
        identical = f"{source_rows} rows identical in {len(self.columns)} columns"
        if window is not None:
            figures["window_rows"] = window["rows"]
            details["window"] = {"since": window["since"], "column": window["column"]}
            scope = window_words(window["since"], window["column"], window["rows"])
            identical = f"{scope} of {source_rows} rows: no difference in {len(self.columns)} columns"
            if differences:
                note = f"; {scope}{note}"
        if differences == 0 and recheck is None and self.ctx.recheck is not None and self.differing_segments:
            # CDC: segments that differed in the first scan agreed when read again in the drill-down -- the rows
            # in flight were applied meanwhile (a drift keeps its segment differing and is isolated)
            figures["in_flight_segments"] = self.differing_segments
            note += (f"; {self.differing_segments} segments differed in the first scan and agreed when read again "
                     "(changes in flight)")
        elif differences == 0 and recheck is None and (source_rows != target_rows or self.differing_segments):
            # never a silent pass: checksums that differ must be explained by rows (e.g. NULL keys on the target)
            return Outcome(False, f"checksums differ in {self.differing_segments} segments ({source_rows} source rows, "
                                  f"{target_rows} target rows) but no differing key was isolated{note}", figures,
                           self.sql, details)
        if differences == 0:
            return Outcome(True, f"{identical}{note}", figures, self.sql, details)
        changed_cols = ", ".join(f"{c} ({n})" for c, n in column_counts.most_common(5))
        duplicated = f", {len(keyed.duplicated)} keys duplicated" if keyed.duplicated else ""
        message = (f"{keyed.missing_count} missing, {keyed.extra_count} extra, {len(keyed.changed)} changed rows"
                   + duplicated
                   + (f"; changed columns: {changed_cols}" if changed_cols else "") + note
                   + "".join(f"; {d.column}: {d.summary} (likely cause: {d.likely_cause})" for d in diagnoses))
        return Outcome(False, message, figures, self.sql, details)

    def _recheck_note(self, recheck: Recheck, keyed: "KeyedDiff", figures: dict[str, Any],
                      details: dict[str, Any]) -> str:
        """Figures, details and the message's words for a CDC recheck (in-flight rows are shown, not failed)."""
        policy = self.ctx.recheck
        assert policy is not None
        figures.update(in_flight=len(recheck.converged), recheck_rounds=recheck.rounds)
        details["in_flight_keys"] = [list(k) for k in recheck.converged[:self.settings.diff_sample]]
        details["recheck"] = {**policy.describe(), "rounds": recheck.rounds, "waited_s": round(recheck.waited_s, 1),
                              "columns": [c.source.name for c in self.columns],
                              "history": [{"key": list(k), "rounds": rounds} for k, rounds in recheck.history.items()]}
        words = ""
        if recheck.converged:
            words += (f"; {len(recheck.converged)} rows in flight (differed, then converged on recheck within "
                      f"{recheck.waited_s:.0f} s)")
        if recheck.persisting:
            words += f"; {len(recheck.persisting)} still differ after {recheck.rounds} rechecks"
        unlisted = keyed.unlisted()
        if unlisted:
            figures["not_rechecked"] = unlisted
            words += (f"; {unlisted} differing rows not rechecked (more than --cdc-recheck-keys "
                      f"{policy.max_keys} isolated)")
        return words

    @staticmethod
    def _diagnoses(changes: list[dict[str, Any]], column_counts: Counter[str], *, complete: bool,
                   compared: int) -> list[Diagnosis]:
        """A systematic pattern per changed column (time shift, cut, rounding, ...) from the sampled value pairs:
        given only when one pattern explains every sampled pair, so random defects get none."""
        found = []
        for column, count in column_counts.most_common():
            pairs = [tuple(change["columns"][column]) for change in changes if column in change["columns"]]
            diagnosis = diagnose(column, pairs, differing=count if complete else None, compared=compared)
            if diagnosis is not None:
                found.append(diagnosis)
        return found

    # -- tables without a key ---------------------------------------------------------------------------
    def _multiset(self) -> Outcome:
        count = self._segment_count()
        buckets = [self._hash_bucket(side, count) for side in self.sides]
        # one scan per side: the bucket is the hash of the row image, so a range of buckets would hash every row
        source_segments, target_segments = self._first_segments(buckets)
        differing = sorted(b for b in set(source_segments) | set(target_segments)
                           if source_segments.get(b) != target_segments.get(b))
        source_counts: Counter[str] = Counter()
        target_counts: Counter[str] = Counter()
        if differing:
            in_list = ", ".join(str(b) for b in differing)
            sqls = [f"SELECT {side.row_hash}, COUNT(*) FROM {side.table}{side.where(f'{b} IN ({in_list})')} GROUP BY 1"
                    for side, b in zip(self.sides, buckets)]
            s_rows, t_rows = on_both_sides(lambda: self.sides[0].run(sqls[0]), lambda: self.sides[1].run(sqls[1]))
            source_counts.update({h: int(n) for h, n in s_rows})
            target_counts.update({h: int(n) for h, n in t_rows})
        differing_images = sorted(h for h in set(source_counts) | set(target_counts)
                                  if source_counts[h] != target_counts[h])
        recheck = None
        if self.ctx.recheck is not None and differing_images:
            recheck = self._recheck_images(differing_images, buckets, differing)
            for h in recheck.source_counts:  # the counts read last replace the first pass's
                source_counts[h], target_counts[h] = recheck.source_counts[h], recheck.target_counts[h]
            differing_images = [h for h in differing_images if h in set(recheck.result.persisting)]
        rows: list[dict[str, Any]] = []
        sample = differing_images[:self.settings.diff_sample]
        if sample:
            images = self._images(sample, buckets, differing)
            for h in sample:
                rows.append({"row": images.get(h), "source_count": source_counts[h], "target_count": target_counts[h]})
        only_source = sum(max(0, source_counts[h] - target_counts[h]) for h in differing_images)
        only_target = sum(max(0, target_counts[h] - source_counts[h]) for h in differing_images)
        figures = {"source_rows": sum(n for n, _ in source_segments.values()),
                   "target_rows": sum(n for n, _ in target_segments.values()),
                   "rows_only_in_source": only_source, "rows_only_in_target": only_target,
                   "differing_row_images": len(differing_images), "segments": len(set(source_segments) | set(target_segments)),
                   "differing_segments": len(differing), "columns_compared": len(self.columns)}
        details = {"key": [], "multiset": True, "columns": [c.source.name for c in self.columns],
                   "row_images": rows, "missing_columns": self.missing_columns, "extra_columns": self.extra_columns,
                   "removed_by_mapping": self.removed_columns, "added_by_mapping": self.added_columns}
        note = ""
        if recheck is not None:
            result = recheck.result
            figures.update(in_flight=len(result.converged), recheck_rounds=result.rounds)
            details["recheck"] = {**self.ctx.recheck.describe(), "rounds": result.rounds,  # type: ignore[union-attr]
                                  "waited_s": round(result.waited_s, 1), "in_flight_row_images": len(result.converged)}
            if result.converged:
                note = (f"; {len(result.converged)} row images in flight (differed, then converged on recheck within "
                        f"{result.waited_s:.0f} s)")
        if not differing_images:
            return Outcome(True, f"{figures['source_rows']} rows identical as a multiset (table has no key){note}",
                           figures, self.sql, details)
        return Outcome(False, f"table without key: {only_source} rows only in source, {only_target} only in target "
                              f"({len(differing_images)} distinct row images){note}", figures, self.sql, details)

    def _recheck_images(self, hashes: list[str], buckets: list[str], differing: list[int]) -> "_ImageRecheck":
        """CDC mode, table without key: the counts of the differing row images read again until they agree."""
        policy = self.ctx.recheck
        assert policy is not None
        in_list = ", ".join(str(b) for b in differing)
        sqls = [f"SELECT {side.row_hash}, COUNT(*) FROM {side.table}{side.where(f'{b} IN ({in_list})')} GROUP BY 1"
                for side, b in zip(self.sides, buckets)]
        latest: _ImageRecheck = _ImageRecheck(Recheck(), Counter(), Counter())

        def read_round(pending: list[Any]) -> dict[Any, tuple[Any, Any, Any]]:
            s_rows, t_rows = on_both_sides(lambda: self.sides[0].run(sqls[0]), lambda: self.sides[1].run(sqls[1]))
            source = {h: int(n) for h, n in s_rows}
            target = {h: int(n) for h, n in t_rows}
            for h in pending:  # the counts the report shows are the last ones read
                latest.source_counts[h], latest.target_counts[h] = source.get(h, 0), target.get(h, 0)
            return {h: (source.get(h, 0) == target.get(h, 0), source.get(h, 0), target.get(h, 0)) for h in pending}

        latest.result = run_rounds(list(hashes), policy, read_round, self.settings.diff_sample)
        return latest

    def _images(self, hashes: list[str], buckets: list[str], differing: list[int]) -> dict[str, dict[str, Any]]:
        """Canonical values of one row per wanted row hash (either side)."""
        wanted = set(hashes)
        images: dict[str, dict[str, Any]] = {}
        in_list = ", ".join(str(b) for b in differing)
        for side, bucket in zip(self.sides, buckets):
            sql = f"SELECT {side.row_hash}, {', '.join(side.canonical)} FROM {side.table}{side.where(f'{bucket} IN ({in_list})')}"
            for row in side.stream(sql):
                if row[0] in wanted and row[0] not in images:
                    images[row[0]] = {c.source.name: v for c, v in zip(self.columns, row[1:])}
        return images


@dataclass
class _ImageRecheck:
    result: Recheck
    source_counts: Counter[str]  # the last counts read of each rechecked row image
    target_counts: Counter[str]


class _LobCutNotApplied(Exception):
    """The target holds values of these columns longer than LobMaxSize cuts them (raised by the first scan)."""

    def __init__(self, columns: list[str]) -> None:
        super().__init__(", ".join(columns))
        self.columns = columns


class Fetched(NamedTuple):
    row_hash: str
    raw_key: tuple[Any, ...]
    count: int  # rows with this key on this side: more than 1 is a duplicated key


class KeyedDiff:
    """Missing / extra / changed / duplicated keys accumulated over fetched segments (canonical keys)."""

    def __init__(self) -> None:
        self.missing: list[tuple[str, ...]] = []
        self.extra: list[tuple[str, ...]] = []
        self.changed: list[tuple[str, ...]] = []
        self.duplicated: list[tuple[tuple[str, ...], int, int]] = []  # (key, source rows, target rows)
        # complete counts; the lists above can be samples where a segment exists on one side only
        self.missing_count = 0
        self.extra_count = 0
        self.source_raw: dict[tuple[str, ...], tuple[Any, ...]] = {}
        self.target_raw: dict[tuple[str, ...], tuple[Any, ...]] = {}

    def compare(self, source: dict[tuple[str, ...], Fetched], target: dict[tuple[str, ...], Fetched]) -> None:
        for key, mine in source.items():
            other = target.get(key)
            if other is None:
                self.missing.append(key)
                continue
            if mine.count != other.count:
                self.duplicated.append((key, mine.count, other.count))
            if other.row_hash != mine.row_hash:
                self.changed.append(key)
                self.source_raw[key], self.target_raw[key] = mine.raw_key, other.raw_key
        extra = [k for k in target if k not in source]
        self.extra.extend(extra)
        self.missing_count += sum(1 for k in source if k not in target)
        self.extra_count += len(extra)
        self.duplicated.extend((k, 0, f.count) for k, f in target.items() if k not in source and f.count > 1)
        for bucket in (self.missing, self.extra, self.changed):
            bucket.sort(key=_natural)
        self.duplicated.sort(key=lambda d: _natural(d[0]))

    def add_counts(self, kind: str, rows: int) -> None:
        """Rows known to be missing / extra from one-sided segment checksums."""
        if kind == "missing":
            self.missing_count += rows
        else:
            self.extra_count += rows

    def add_sample(self, kind: str, keys: list[tuple[str, ...]]) -> None:
        bucket = self.missing if kind == "missing" else self.extra
        bucket.extend(keys)
        bucket.sort(key=_natural)

    def listed(self) -> list[tuple[str, ...]]:
        """Every differing key known by name (each once)."""
        return list(dict.fromkeys([*self.missing, *self.extra, *self.changed, *(d[0] for d in self.duplicated)]))

    def unlisted(self) -> int:
        """Differing rows counted from one-sided checksums whose keys were not isolated."""
        return max(0, self.missing_count - len(self.missing)) + max(0, self.extra_count - len(self.extra))

    def drop(self, converged: set[tuple[str, ...]]) -> None:
        """Forget keys that converged on recheck (in flight, not differences)."""
        missing = [k for k in self.missing if k not in converged]
        extra = [k for k in self.extra if k not in converged]
        self.missing_count -= len(self.missing) - len(missing)
        self.extra_count -= len(self.extra) - len(extra)
        self.missing, self.extra = missing, extra
        self.changed = [k for k in self.changed if k not in converged]
        self.duplicated = [d for d in self.duplicated if d[0] not in converged]


def _natural(key: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple((0, int(k), "") if k is not None and k.lstrip("-").isdigit() else (1, 0, str(k)) for k in key)


def diff_tables(source: Engine, target: Engine, pair: TablePair, settings: Settings | None = None,
                task_settings: dict[str, Any] | None = None, part: tuple[str, str] = ("", "")) -> Outcome:
    """Run row_diff on one table pair outside pytest (benchmarks, notebooks, tests of the library)."""
    settings = settings or Settings()
    ctx = CheckContext(settings, (pair,), source, target, task_settings=task_settings or {})
    params = (("low", part[0]), ("high", part[1])) if any(part) else ()
    return RowDiff().run(Case(RowDiff.name, pair.source_name, pair, params), ctx)
